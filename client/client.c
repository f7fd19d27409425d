/*
 * client.c - libkmem: a synchronous client of kmemd over plain sockets.
 *
 * One request at a time per connection (a mutex serialises threads): pack
 * the request into a frame, write it whole, read frames until its response
 * arrives.  The Hello response brings the pools' fds as SCM_RIGHTS on its
 * first byte, so the very first read is a recvmsg() with room for them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "kmem/client.h"
#include "internal.h"

int kmem__client_fail(struct kmem_client *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return code;
}

static int fail(struct kmem_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct kmem_client *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return code;
}

const char *kmem_client_error(const struct kmem_client *c)
{
	return c ? c->err : "no client";
}

/* ------------------------------------------------------------ transport */

static int write_all(struct kmem_client *c)
{
	size_t off = 0;

	while (off < c->out.len) {
		ssize_t n = send(c->sock, c->out.data + off, c->out.len - off,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(c, KMEM_ECONN, "connection to kmemd lost: %s",
				    n < 0 ? strerror(errno) : "closed");
		off += (size_t)n;
	}
	kmem_frame_buf_consume(&c->out, off);
	return 0;
}

/* Read more bytes; with fds non-NULL, accept SCM_RIGHTS too. */
static int read_more(struct kmem_client *c, int *fds, size_t *nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * MAX_POOLS)];
	struct iovec iov = { c->rbuf, sizeof(c->rbuf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fds) {
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
	}
	do
		n = recvmsg(c->sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return fail(c, KMEM_ECONN, "connection to kmemd lost: %s",
			    n < 0 ? strerror(errno) : "closed by the daemon");
	if (fds) {
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				memcpy(fds + *nfds, CMSG_DATA(cm), k * sizeof(int));
				*nfds += k;
			}
		}
	}
	c->rlen = (size_t)n;
	kmem_frame_decoder_feed(&c->dec, c->rbuf, c->rlen);
	return 0;
}

/* Read until one response frame is complete and unpack it. */
static int read_response(struct kmem_client *c, Kmem__Response **r,
			 int *fds, size_t *nfds)
{
	const uint8_t *p;
	size_t len;
	int rc;

	for (;;) {
		rc = kmem_frame_decoder_next(&c->dec, &p, &len);
		if (rc < 0)
			return fail(c, KMEM_EPROTO, "bad frame from kmemd: %s",
				    kmem_strerror(rc));
		if (rc == 1)
			break;
		rc = read_more(c, fds, nfds);
		if (rc)
			return rc;
	}
	if (kmem_frame_unpack_response(p, len, NULL, r))
		return fail(c, KMEM_EPROTO, "kmemd sent a response that does not parse");
	return 0;
}

static int status_code(int st)
{
	switch (st) {
	case KMEM__STATUS__STATUS_OK: return 0;
	case KMEM__STATUS__STATUS_NO_MEMORY: return KMEM_ENOMEM;
	case KMEM__STATUS__STATUS_TIMEOUT: return KMEM_ETIMEDOUT;
	case KMEM__STATUS__STATUS_INVALID_ARGUMENT: return KMEM_EINVAL;
	case KMEM__STATUS__STATUS_NOT_FOUND: return KMEM_ENOENT;
	case KMEM__STATUS__STATUS_PERMISSION_DENIED: return KMEM_EPERM;
	case KMEM__STATUS__STATUS_QUOTA_EXCEEDED: return KMEM_EQUOTA;
	case KMEM__STATUS__STATUS_BUSY: return KMEM_EBUSY;
	case KMEM__STATUS__STATUS_PROTOCOL_ERROR: return KMEM_EPROTO;
	case KMEM__STATUS__STATUS_CONSTRAINT: return KMEM_ECONSTRAINT;
	case KMEM__STATUS__STATUS_EXISTS: return KMEM_EEXIST;
	default: return KMEM_EINTERNAL;
	}
}

/*
 * One round trip.  On 0, *r is the response (status OK); the caller frees
 * it with kmem_frame_free_response().  Errors carry the daemon's sentence.
 */
static int call_fds(struct kmem_client *c, Kmem__Request *q, Kmem__Response **r,
		    int *fds, size_t *nfds)
{
	Kmem__Response *resp = NULL;
	int rc;

	if (c->sock < 0)
		return fail(c, KMEM_ECONN, "not connected");
	q->seq = ++c->seq;
	rc = kmem_frame_pack_request(&c->out, q);
	if (rc)
		return fail(c, rc, "request too large: %s", kmem_strerror(rc));
	rc = write_all(c);
	if (!rc)
		rc = read_response(c, &resp, fds, nfds);
	if (rc)
		return rc;
	if (resp->seq != q->seq) {
		kmem_frame_free_response(resp, NULL);
		return fail(c, KMEM_EPROTO, "response out of order");
	}
	rc = status_code(resp->status);
	if (rc) {
		fail(c, rc, "%s", resp->message && *resp->message ? resp->message :
		     kmem_strerror(rc));
		kmem_frame_free_response(resp, NULL);
		return rc;
	}
	c->err[0] = 0;
	*r = resp;
	return 0;
}

int kmem__client_call(struct kmem_client *c, Kmem__Request *q,
		      Kmem__Response **r)
{
	return call_fds(c, q, r, NULL, NULL);
}

/* ------------------------------------------------------------ connect */

static int map_pools(struct kmem_client *c, const Kmem__HelloReply *h,
		     const int *fds, size_t nfds)
{
	for (size_t i = 0; i < h->n_pools && i < MAX_POOLS; i++) {
		const Kmem__PoolInfo *pi = h->pools[i];
		struct cpool *p = &c->pools[i];

		if (pi->fd_index >= nfds)
			return fail(c, KMEM_EPROTO, "pool %s came without its fd",
				    pi->name);
		snprintf(p->name, sizeof(p->name), "%s", pi->name);
		snprintf(p->iova, sizeof(p->iova), "%s", pi->iova_mode);
		snprintf(p->policy, sizeof(p->policy), "%s", pi->policy);
		p->size = pi->size;
		p->page_size = pi->page_size;
		p->map_offset = pi->map_offset;
		p->fd = fds[pi->fd_index];
		p->base = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       p->fd, (off_t)p->map_offset);
		c->npools = i + 1;
		if (p->base == MAP_FAILED) {
			p->base = NULL;
			return fail(c, KMEM_ESYS, "cannot map pool %s (%llu bytes): %s",
				    p->name, (unsigned long long)p->size,
				    strerror(errno));
		}
	}
	return 0;
}

static int hello(struct kmem_client *c, const char *name)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;
	Kmem__Response *r;
	int fds[MAX_POOLS];
	size_t nfds = 0;
	int rc;

	h.protocol_version = KMEM_PROTOCOL_VERSION;
	h.client_name = (char *)(name ? name : "");
	q.body_case = KMEM__REQUEST__BODY_HELLO;
	q.hello = &h;
	rc = call_fds(c, &q, &r, fds, &nfds);
	if (rc == 0 && r->body_case != KMEM__RESPONSE__BODY_HELLO)
		rc = fail(c, KMEM_EPROTO, "kmemd answered Hello with something else");
	if (rc == 0)
		rc = map_pools(c, r->hello, fds, nfds);
	if (rc == 0)
		kmem_frame_free_response(r, NULL);
	else if (r && rc != KMEM_ECONN && rc != KMEM_EPROTO)
		kmem_frame_free_response(r, NULL);
	/* fds that belong to no pool are closed now. */
	for (size_t i = 0; i < nfds; i++) {
		bool used = false;

		for (size_t k = 0; k < c->npools; k++)
			used |= c->pools[k].fd == fds[i];
		if (!used)
			close(fds[i]);
	}
	return rc;
}

/* Magazines are on unless opts or $KMEM_NO_MAGAZINES (non-empty, not
 * "0") say otherwise. */
static bool want_magazines(const struct kmem_connect_opts *opts)
{
	const char *env = getenv("KMEM_NO_MAGAZINES");

	if (opts && (opts->flags & KMEM_CONNECT_NO_MAGAZINES))
		return false;
	return !env || !*env || !strcmp(env, "0");
}

int kmem_client_connect(const char *path, const char *name,
			struct kmem_client **out, char *msg, size_t msglen)
{
	return kmem_client_connect_opts(path, name, NULL, out, msg, msglen);
}

int kmem_client_connect_opts(const char *path, const char *name,
			     const struct kmem_connect_opts *opts,
			     struct kmem_client **out, char *msg, size_t msglen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct kmem_client *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return KMEM_ENOMETA;
	if (!path)
		path = getenv("KMEMD_SOCKET");
	if (!path || !*path)
		path = KMEM_DEFAULT_SOCKET;
	/* The daemon is trusted with large replies (a big pool's stats
	 * document); requests stay within its 1 MiB. */
	kmem_frame_decoder_init(&c->dec, 64u << 20);
	kmem_frame_buf_init(&c->out, 0);
	for (size_t i = 0; i < MAX_POOLS; i++)
		c->pools[i].fd = -1;
	c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		rc = fail(c, KMEM_ECONN, "socket path too long: %s", path);
		goto fail;
	}
	strcpy(sa.sun_path, path);
	if (c->sock < 0 || connect(c->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = fail(c, KMEM_ECONN, "cannot connect to kmemd at %s: %s (is "
			  "kmemd running? is $KMEMD_SOCKET right? may this user "
			  "open the socket?)", path, strerror(errno));
		goto fail;
	}
	rc = hello(c, name);
	if (rc == 0 && want_magazines(opts) && kmem__mag_create(c))
		rc = fail(c, KMEM_ENOMETA, "out of memory for the magazines");
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	/* The caller has no client to ask: hand the sentence over. */
	if (msg && msglen)
		snprintf(msg, msglen, "%s", c->err);
	kmem_client_disconnect(c);
	return rc;
}

void kmem_client_disconnect(struct kmem_client *c)
{
	if (!c)
		return;
	/* The daemon takes back what the magazines held with the session. */
	kmem__mag_destroy(c);
	for (size_t i = 0; i < c->npools; i++) {
		if (c->pools[i].base)
			munmap(c->pools[i].base, c->pools[i].size);
		if (c->pools[i].fd >= 0)
			close(c->pools[i].fd);
	}
	if (c->sock >= 0)
		close(c->sock);
	kmem_frame_decoder_fini(&c->dec);
	kmem_frame_buf_fini(&c->out);
	free(c);
}

size_t kmem_client_npools(const struct kmem_client *c)
{
	return c->npools;
}

int kmem_client_pool_info(const struct kmem_client *c, size_t i,
			  struct kmem_pool_info *info)
{
	if (i >= c->npools)
		return KMEM_ENOENT;
	info->name = c->pools[i].name;
	info->size = c->pools[i].size;
	info->page_size = c->pools[i].page_size;
	info->iova_mode = c->pools[i].iova;
	info->policy = c->pools[i].policy;
	info->base = c->pools[i].base;
	return 0;
}
