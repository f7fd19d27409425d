/*
 * raw.c - a kmemd client made of a plain socket and the frame codec (see
 * raw.h): no libuv, no libkmem.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "raw.h"

int integ_raw_connect(struct integ_raw *r, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(r, 0, sizeof(*r));
	kmem_frame_decoder_init(&r->dec, 0);
	r->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->sock < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(r->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		printf("raw connect %s: %s\n", path, strerror(errno));
		close(r->sock);
		r->sock = -1;
		return -1;
	}
	return 0;
}

void integ_raw_close(struct integ_raw *r)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
	for (size_t i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	r->nfds = 0;
	kmem_frame_decoder_fini(&r->dec);
}

int integ_raw_write(struct integ_raw *r, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = send(r->sock, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int integ_raw_send(struct integ_raw *r, const Kmem__Request *q)
{
	struct kmem_frame_buf b;
	int rc;

	kmem_frame_buf_init(&b, 0);
	rc = kmem_frame_pack_request(&b, q) ? -1 : integ_raw_write(r, b.data, b.len);
	kmem_frame_buf_fini(&b);
	return rc;
}

/* One recvmsg into buf (fds collected), fed to the decoder.  >0 bytes,
 * 0 end of stream, -1 error or timeout. */
static ssize_t raw_read(struct integ_raw *r, int timeout_ms)
{
	char ctl[CMSG_SPACE(sizeof(int) * INTEG_RAW_MAXFDS)];
	struct iovec iov = { r->buf, sizeof(r->buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct pollfd pfd = { .fd = r->sock, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	do
		n = recvmsg(r->sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -1;
	if (mh.msg_flags & MSG_CTRUNC)
		r->nctrunc++;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (r->nfds < INTEG_RAW_MAXFDS)
				r->fds[r->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (n > 0) {
		kmem_frame_decoder_feed(&r->dec, r->buf, (size_t)n);
		r->fed = true;
	}
	return n;
}

Kmem__Response *integ_raw_recv(struct integ_raw *r, int timeout_ms)
{
	uint64_t end = integ_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		if (r->fed) {
			const uint8_t *p;
			Kmem__Response *resp;
			size_t len;
			int rc = kmem_frame_decoder_next(&r->dec, &p, &len);

			if (rc < 0)
				return NULL;
			if (rc == 1)
				return kmem_frame_unpack_response(p, len, NULL, &resp) ?
				       NULL : resp;
			r->fed = false;
		}
		uint64_t now = integ_now_ms();

		if (now >= end || raw_read(r, (int)(end - now)) <= 0)
			return NULL;
	}
}

int integ_raw_eof(struct integ_raw *r, int timeout_ms)
{
	ssize_t n;

	if (r->fed) {
		const uint8_t *p;
		size_t len;

		/* A whole frame still unread means the daemon said more. */
		if (kmem_frame_decoder_next(&r->dec, &p, &len) != 0)
			return 0;
		r->fed = false;
	}
	n = raw_read(r, timeout_ms);
	if (n < 0)
		return -1;
	return n == 0 ? 1 : 0;
}

void integ_req_alloc(Kmem__Request *q, Kmem__Alloc *a, uint64_t seq,
		     const char *pool, uint64_t size, uint64_t align,
		     uint32_t timeout_ms)
{
	kmem__request__init(q);
	kmem__alloc__init(a);
	a->pool = (char *)(pool ? pool : "");
	a->size = size;
	a->align = align;
	a->timeout_ms = timeout_ms;
	q->seq = seq;
	q->body_case = KMEM__REQUEST__BODY_ALLOC;
	q->alloc = a;
}

void integ_req_free(Kmem__Request *q, Kmem__Free *f, uint64_t seq, uint64_t id)
{
	kmem__request__init(q);
	kmem__free__init(f);
	f->id = id;
	q->seq = seq;
	q->body_case = KMEM__REQUEST__BODY_FREE;
	q->free = f;
}

void integ_req_ping(Kmem__Request *q, Kmem__Ping *p, uint64_t seq,
		    const void *payload, size_t len)
{
	kmem__request__init(q);
	kmem__ping__init(p);
	p->payload.data = (uint8_t *)payload;
	p->payload.len = len;
	q->seq = seq;
	q->body_case = KMEM__REQUEST__BODY_PING;
	q->ping = p;
}

Kmem__Response *integ_raw_hello(struct integ_raw *r, uint64_t seq)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;

	h.protocol_version = KMEM_PROTOCOL_VERSION;
	h.client_name = (char *)"integ-raw";
	q.seq = seq;
	q.body_case = KMEM__REQUEST__BODY_HELLO;
	q.hello = &h;
	if (integ_raw_send(r, &q))
		return NULL;
	return integ_raw_recv(r, 5000);
}
