/*
 * client.c - libkmem: a client of kmemd over plain sockets.
 *
 * One caller at a time per connection (a mutex serialises threads): pack
 * the request into a frame, write it whole, read frames until its response
 * arrives.  The Hello response brings the pools' fds as SCM_RIGHTS on its
 * first byte, so the very first read is a recvmsg() with room for them.
 *
 * Pipelined batches (pipeline.c) leave requests in flight between calls.
 * The daemon answers in order, so their replies come before that of any
 * later request: whoever reads one that is not its own hands it to its
 * ticket.  While tickets are outstanding, writes do not block blindly:
 * the daemon stops reading a session whose replies pile up unread, so a
 * write that would block reads those replies until the socket has room
 * (a client and a daemon each waiting for the other to read would never
 * move).  A stream that breaks or gets out of step is shut down at once:
 * every later call, and every outstanding ticket, fails with KMEM_ECONN
 * rather than read another request's reply.
 */
#include <errno.h>
#include <poll.h>
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

#define fail kmem__client_fail

const char *kmem_client_error(const struct kmem_client *c)
{
	return c ? c->err : "no client";
}

/* ------------------------------------------------------------ transport */

/*
 * The stream cannot be trusted any more (lost, or out of step with the
 * requests): shut it down, so that every later call fails at once rather
 * than read another request's reply, and fail the outstanding tickets.
 * Returns code, with the sentence recorded.
 */
static int broken(struct kmem_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int broken(struct kmem_client *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	if (c->sock >= 0)
		shutdown(c->sock, SHUT_RDWR);
	kmem__pipe_lost(c, c->err);
	return code;
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
		return broken(c, KMEM_ECONN, "connection to kmemd lost: %s",
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

/* The next response already read, if a whole one is: 1 and *r, 0 when
 * more bytes are needed, or an error (the connection is then broken). */
static int next_response(struct kmem_client *c, Kmem__Response **r)
{
	const uint8_t *p;
	size_t len;
	int rc = kmem_frame_decoder_next(&c->dec, &p, &len);

	if (rc < 0)
		return broken(c, KMEM_EPROTO, "bad frame from kmemd: %s",
			      kmem_strerror(rc));
	if (rc == 1 && kmem_frame_unpack_response(p, len, NULL, r))
		return broken(c, KMEM_EPROTO, "kmemd sent a response that does "
			      "not parse");
	return rc;
}

/* Keep r, which is not the awaited reply, for its ticket; a reply that
 * answers nothing outstanding means the stream is out of step. */
static int keep(struct kmem_client *c, Kmem__Response *r)
{
	uint64_t seq = r->seq;

	if (kmem__pipe_keep(c, r) == 0)
		return 0;
	kmem_frame_free_response(r, NULL);
	return broken(c, KMEM_EPROTO, "kmemd answered request %llu, which is "
		      "not outstanding (response out of order)",
		      (unsigned long long)seq);
}

/*
 * A write would block: the daemon may be waiting for us to read replies
 * (it stops reading a session whose replies pile up), so take in what it
 * sent, keeping each reply for its ticket, until the socket has room.
 */
static int wait_writable(struct kmem_client *c)
{
	struct pollfd pf = { .fd = c->sock, .events = POLLIN | POLLOUT };
	Kmem__Response *r;
	int rc;

	while ((rc = next_response(c, &r)) == 1)
		if ((rc = keep(c, r)))
			return rc;
	if (rc)
		return rc;
	while (poll(&pf, 1, -1) < 0)
		if (errno != EINTR)
			return broken(c, KMEM_ECONN, "poll: %s", strerror(errno));
	/* Replies are read only when the daemon cannot take our bytes. */
	if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) && !(pf.revents & POLLOUT))
		return read_more(c, NULL, NULL);
	return 0;
}

static int write_all(struct kmem_client *c)
{
	size_t off = 0;

	while (off < c->out.len) {
		/* Only replies to tickets can be pending while we write, and
		 * only then can the daemon wait for us to read. */
		int flags = MSG_NOSIGNAL | (c->ntickets ? MSG_DONTWAIT : 0);
		ssize_t n = send(c->sock, c->out.data + off, c->out.len - off, flags);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_writable(c)))
				return rc;
			continue;
		}
		if (n <= 0)
			return broken(c, KMEM_ECONN, "connection to kmemd lost: %s",
				      n < 0 ? strerror(errno) : "closed");
		off += (size_t)n;
	}
	kmem_frame_buf_consume(&c->out, off);
	return 0;
}

int kmem__client_send(struct kmem_client *c, Kmem__Request *q)
{
	int rc;

	if (c->sock < 0)
		return fail(c, KMEM_ECONN, "not connected");
	q->seq = ++c->seq;
	rc = kmem_frame_pack_request(&c->out, q);
	if (rc)
		return fail(c, rc, "request too large: %s", kmem_strerror(rc));
	rc = write_all(c);
	if (rc)		/* the stream is shut down: nothing more goes out */
		kmem_frame_buf_consume(&c->out, c->out.len);
	return rc;
}

/* Read until the reply to seq arrives (fds: as read_more). */
static int wait_fds(struct kmem_client *c, uint64_t seq, Kmem__Response **r,
		    int *fds, size_t *nfds)
{
	Kmem__Response *resp;
	int rc;

	for (;;) {
		rc = next_response(c, &resp);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if ((rc = read_more(c, fds, nfds)))
				return rc;
			continue;
		}
		if (resp->seq == seq)
			break;
		if ((rc = keep(c, resp)))
			return rc;
	}
	*r = resp;
	return 0;
}

int kmem__client_wait(struct kmem_client *c, uint64_t seq, Kmem__Response **r)
{
	return wait_fds(c, seq, r, NULL, NULL);
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

int kmem__client_status(struct kmem_client *c, Kmem__Response *r)
{
	int rc = status_code(r->status);

	if (rc == 0) {
		c->err[0] = 0;
		return 0;
	}
	fail(c, rc, "%s", r->message && *r->message ? r->message :
	     kmem_strerror(rc));
	kmem_frame_free_response(r, NULL);
	return rc;
}

/*
 * One round trip.  On 0, *r is the response (status OK); the caller frees
 * it with kmem_frame_free_response().  Errors carry the daemon's sentence.
 */
static int call_fds(struct kmem_client *c, Kmem__Request *q, Kmem__Response **r,
		    int *fds, size_t *nfds)
{
	Kmem__Response *resp;
	int rc = kmem__client_send(c, q);

	if (!rc)
		rc = wait_fds(c, q->seq, &resp, fds, nfds);
	if (!rc)
		rc = kmem__client_status(c, resp);
	if (rc)
		return rc;
	if (r)
		*r = resp;
	else
		kmem_frame_free_response(resp, NULL);
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

/* Keep what a durable Hello's reply says. */
static int keep_durable(struct kmem_client *c, const Kmem__HelloReply *h)
{
	snprintf(c->durable_note, sizeof(c->durable_note), "%s",
		 h->durable_note ? h->durable_note : "");
	if (h->session_token.len == sizeof(c->token)) {
		memcpy(c->token, h->session_token.data, sizeof(c->token));
		c->durable = true;
		c->grace_ms = h->resume_grace_ms;
	}
	if (!h->n_resumed)
		return 0;
	c->resumed = calloc(h->n_resumed, sizeof(*c->resumed));
	if (!c->resumed)
		return fail(c, KMEM_ENOMETA, "out of memory");
	for (size_t i = 0; i < h->n_resumed; i++) {
		const Kmem__Lease *l = h->resumed[i];
		struct kmem__resumed *x = &c->resumed[i];

		if (l->pool_index >= c->npools ||
		    l->offset + l->length > c->pools[l->pool_index].size)
			return fail(c, KMEM_EPROTO, "resumed lease %llu lies "
				    "outside its pool", (unsigned long long)l->id);
		x->id = l->id;
		x->offset = l->offset;
		x->len = l->length;
		x->phys = l->phys;
		x->pool = l->pool_index;
		x->nsegs = l->n_segments > 1 ? l->n_segments : 1;
	}
	c->nresumed = h->n_resumed;
	return 0;
}

static int hello(struct kmem_client *c, const char *name, bool durable,
		 const uint8_t *token)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;
	Kmem__Response *r = NULL;
	int fds[MAX_POOLS];
	size_t nfds = 0;
	int rc;

	h.protocol_version = KMEM_PROTOCOL_VERSION;
	h.client_name = (char *)(name ? name : "");
	h.durable = durable || token;
	if (token) {
		h.resume_token.data = (uint8_t *)token;
		h.resume_token.len = KMEM_SESSION_TOKEN_LEN;
	}
	q.body_case = KMEM__REQUEST__BODY_HELLO;
	q.hello = &h;
	rc = call_fds(c, &q, &r, fds, &nfds);
	if (rc == 0 && r->body_case != KMEM__RESPONSE__BODY_HELLO)
		rc = fail(c, KMEM_EPROTO, "kmemd answered Hello with something else");
	if (rc == 0)
		rc = map_pools(c, r->hello, fds, nfds);
	if (rc == 0)
		rc = keep_durable(c, r->hello);
	/* r is set only when the round trip succeeded. */
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

	/* A magazine's idle objects would come back from a resume as leases
	 * nobody knows of: durable sessions have none. */
	if (opts && (opts->flags & (KMEM_CONNECT_NO_MAGAZINES |
				    KMEM_CONNECT_DURABLE)))
		return false;
	return !env || !*env || !strcmp(env, "0");
}

int kmem_client_connect(const char *path, const char *name,
			struct kmem_client **out, char *msg, size_t msglen)
{
	return kmem_client_connect_opts(path, name, NULL, out, msg, msglen);
}

static int connect_common(const char *path, const char *name,
			  const struct kmem_connect_opts *opts,
			  const uint8_t *token, struct kmem_client **out,
			  char *msg, size_t msglen);

int kmem_client_connect_opts(const char *path, const char *name,
			     const struct kmem_connect_opts *opts,
			     struct kmem_client **out, char *msg, size_t msglen)
{
	return connect_common(path, name, opts, NULL, out, msg, msglen);
}

int kmem_client_resume(const char *path, const char *name,
		       const struct kmem_connect_opts *opts,
		       const uint8_t *token, struct kmem_client **out,
		       char *msg, size_t msglen)
{
	struct kmem_connect_opts o = { opts ? opts->flags : 0 };

	if (!token) {
		if (msg && msglen)
			snprintf(msg, msglen, "no session token");
		return KMEM_EINVAL;
	}
	o.flags |= KMEM_CONNECT_DURABLE;
	return connect_common(path, name, &o, token, out, msg, msglen);
}

static int connect_common(const char *path, const char *name,
			  const struct kmem_connect_opts *opts,
			  const uint8_t *token, struct kmem_client **out,
			  char *msg, size_t msglen)
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
	rc = hello(c, name, opts && (opts->flags & KMEM_CONNECT_DURABLE), token);
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
	/* The daemon takes back what the magazines held with the session,
	 * and the leases of tickets not received. */
	kmem__mag_destroy(c);
	kmem__pipe_fini(c);
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
	free(c->resumed);
	free(c);
}

int kmem_client_session_token(const struct kmem_client *c, uint8_t *out)
{
	if (!c->durable)
		return KMEM_ENOENT;
	memcpy(out, c->token, sizeof(c->token));
	return 0;
}

const char *kmem_client_durable_note(const struct kmem_client *c)
{
	return c->durable_note;
}

uint32_t kmem_client_resume_grace_ms(const struct kmem_client *c)
{
	return c->grace_ms;
}

size_t kmem_client_nresumed(const struct kmem_client *c)
{
	return c->nresumed;
}

int kmem_client_lease_buf(struct kmem_client *c, uint64_t id,
			  struct kmem_buf *out)
{
	bool locked = kmem__client_lock(c);
	int rc = fail(c, KMEM_ENOENT, "lease %llu was not adopted by a resume",
		      (unsigned long long)id);

	for (size_t i = 0; i < c->nresumed; i++) {
		const struct kmem__resumed *x = &c->resumed[i];

		if (x->id != id)
			continue;
		if (x->nsegs > 1) {
			rc = fail(c, KMEM_EINVAL, "lease %llu is a scatter lease",
				  (unsigned long long)id);
			break;
		}
		memset(out, 0, sizeof(*out));
		out->ptr = (char *)c->pools[x->pool].base + x->offset;
		out->len = x->len;
		out->phys = x->phys;
		out->id = x->id;
		out->offset = x->offset;
		out->pool = x->pool;
		out->nsegs = 1;
		c->err[0] = 0;
		rc = 0;
		break;
	}
	kmem__client_unlock(c, locked);
	return rc;
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
