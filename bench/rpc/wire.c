/*
 * rpc/wire.c - raw protocol client and echo floor (see wire.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"
#include "wire.h"

/* ------------------------------------------------------------ raw client */

/* recvmsg into rbuf; pool fds (the Hello reply's) are closed at once. */
static size_t raw_read(struct rpc_raw *r)
{
	char ctl[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = { r->rbuf, sizeof(r->rbuf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n;

	do
		n = recvmsg(r->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		rpc_die("raw client: %s", n < 0 ? strerror(errno) : "kmemd closed");
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[16];

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(fds, CMSG_DATA(cm), k * sizeof(int));
		for (size_t i = 0; i < k; i++)
			close(fds[i]);
	}
	return (size_t)n;
}

void rpc_raw_flush(struct rpc_raw *r)
{
	rpc_write_all(r->fd, r->out.data, r->out.len);
	kmem_frame_buf_consume(&r->out, r->out.len);
}

/* The next response already fed to the decoder, or NULL. */
static Kmem__Response *raw_decode(struct rpc_raw *r, size_t *flen)
{
	Kmem__Response *resp;
	const uint8_t *p;
	size_t len;
	int rc = kmem_frame_decoder_next(&r->dec, &p, &len);

	if (rc == 0)
		return NULL;
	if (rc < 0 || kmem_frame_unpack_response(p, len, NULL, &resp))
		rpc_die("raw client: a bad frame from kmemd");
	if (resp->status != KMEM__STATUS__STATUS_OK)
		rpc_die("raw client: kmemd says status %d: %s", resp->status,
			resp->message);
	if (flen)
		*flen = KMEM_FRAME_HDR + len;
	return resp;
}

Kmem__Response *rpc_raw_next(struct rpc_raw *r, size_t *flen)
{
	Kmem__Response *resp;

	while (!(resp = raw_decode(r, flen)))
		rpc_raw_fill(r);
	return resp;
}

void rpc_raw_fill(struct rpc_raw *r)
{
	kmem_frame_decoder_feed(&r->dec, r->rbuf, raw_read(r));
}

Kmem__Response *rpc_raw_take(struct rpc_raw *r)
{
	return raw_decode(r, NULL);
}

static void raw_pack(struct rpc_raw *r, Kmem__Request *q)
{
	q->seq = ++r->seq;
	if (kmem_frame_pack_request(&r->out, q))
		rpc_die("raw client: cannot pack a request");
}

void rpc_raw_alloc(struct rpc_raw *r, uint64_t size)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Alloc a = KMEM__ALLOC__INIT;

	a.size = size;
	q.body_case = KMEM__REQUEST__BODY_ALLOC;
	q.alloc = &a;
	raw_pack(r, &q);
}

void rpc_raw_free(struct rpc_raw *r, uint64_t id)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Free f = KMEM__FREE__INIT;

	f.id = id;
	q.body_case = KMEM__REQUEST__BODY_FREE;
	q.free = &f;
	raw_pack(r, &q);
}

void rpc_raw_ping(struct rpc_raw *r)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Ping p = KMEM__PING__INIT;

	q.body_case = KMEM__REQUEST__BODY_PING;
	q.ping = &p;
	raw_pack(r, &q);
}

void rpc_raw_alloc_batch(struct rpc_raw *r, uint64_t size, uint32_t count)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__AllocBatch a = KMEM__ALLOC_BATCH__INIT;

	a.size = size;
	a.count = count;
	q.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	q.alloc_batch = &a;
	raw_pack(r, &q);
}

void rpc_raw_free_batch(struct rpc_raw *r, const uint64_t *ids, size_t n)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__FreeBatch f = KMEM__FREE_BATCH__INIT;

	f.n_ids = n;
	f.ids = (uint64_t *)ids;
	q.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
	q.free_batch = &f;
	raw_pack(r, &q);
}

struct rpc_raw *rpc_raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;
	struct rpc_raw *r = calloc(1, sizeof(*r));

	if (!r)
		rpc_die("out of memory");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)))
		rpc_die("raw client: connect %s: %s", path, strerror(errno));
	kmem_frame_decoder_init(&r->dec, 0);
	kmem_frame_buf_init(&r->out, 0);
	h.protocol_version = KMEM_PROTOCOL_VERSION;
	h.client_name = (char *)"bench-raw";
	q.body_case = KMEM__REQUEST__BODY_HELLO;
	q.hello = &h;
	raw_pack(r, &q);
	rpc_raw_flush(r);
	kmem_frame_free_response(rpc_raw_next(r, NULL), NULL);
	return r;
}

void rpc_raw_close(struct rpc_raw *r)
{
	close(r->fd);
	kmem_frame_decoder_fini(&r->dec);
	kmem_frame_buf_fini(&r->out);
	free(r);
}

struct rpc_sizes rpc_probe_sizes(const char *path, uint64_t alloc_size,
				 uint64_t seq)
{
	struct rpc_raw *r = rpc_raw_connect(path);
	Kmem__Response *resp;
	struct rpc_sizes z;
	uint64_t id;

	r->seq = seq - 1;
	rpc_raw_ping(r);
	z.ping.req = r->out.len;
	rpc_raw_flush(r);
	kmem_frame_free_response(rpc_raw_next(r, &z.ping.resp), NULL);
	rpc_raw_alloc(r, alloc_size);
	z.alloc.req = r->out.len;
	rpc_raw_flush(r);
	resp = rpc_raw_next(r, &z.alloc.resp);
	if (resp->body_case != KMEM__RESPONSE__BODY_LEASE)
		rpc_die("raw client: Alloc answered without a Lease");
	id = resp->lease->id;
	kmem_frame_free_response(resp, NULL);
	rpc_raw_free(r, id);
	z.free.req = r->out.len;
	rpc_raw_flush(r);
	kmem_frame_free_response(rpc_raw_next(r, &z.free.resp), NULL);
	rpc_raw_close(r);
	return z;
}

/* ------------------------------------------------------------ echo floor */

/* Blocking calls only: the least a request/response exchange can cost. */
static _Noreturn void echo_serve(int fd)
{
	static uint8_t buf[65536], zeros[65536];

	for (;;) {
		size_t got = 0, need = KMEM_FRAME_HDR;

		while (got < need) {
			ssize_t n = read(fd, buf + got, sizeof(buf) - got);

			if (n <= 0)
				_exit(0);
			got += (size_t)n;
			if (need == KMEM_FRAME_HDR && got >= KMEM_FRAME_HDR)
				need += (size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
					(size_t)buf[2] << 8 | buf[3];
		}
		rpc_write_all(fd, zeros, (size_t)buf[4] | (size_t)buf[5] << 8);
	}
}

pid_t rpc_echo_start(int *fd)
{
	pid_t pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		rpc_die("socketpair: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		rpc_die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		echo_serve(sv[1]);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

void rpc_echo_request(uint8_t *buf, struct rpc_wire w)
{
	size_t payload = w.req - KMEM_FRAME_HDR;

	if (w.req > 64 || payload < 2 || w.resp > 0xffff)
		rpc_die("unexpected frame sizes %zu/%zu", w.req, w.resp);
	memset(buf, 0, w.req);
	buf[0] = (uint8_t)(payload >> 24);
	buf[1] = (uint8_t)(payload >> 16);
	buf[2] = (uint8_t)(payload >> 8);
	buf[3] = (uint8_t)payload;
	buf[4] = (uint8_t)w.resp;
	buf[5] = (uint8_t)(w.resp >> 8);
}

void rpc_echo_pingpong(int fd, const uint8_t *req, struct rpc_wire w,
		       uint8_t *scratch, size_t scratch_len)
{
	rpc_write_all(fd, req, w.req);
	for (size_t got = 0; got < w.resp;) {
		ssize_t n = read(fd, scratch, scratch_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rpc_die("echo server: %s", n < 0 ? strerror(errno) : "gone");
		got += (size_t)n;
	}
}
