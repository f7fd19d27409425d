/*
 * rpc/pecho.c - pipelined echo server (see pecho.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "pecho.h"
#include "proc.h"

#define RBUF 65536

/* One connection: its fd and the start of a frame the last read cut. */
struct pconn {
	int fd;
	size_t held;
	uint8_t in[RBUF];
};

static uint8_t out[RBUF * 8];

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Answer the complete frames in c->in[0..have) into out, keep the cut
 * rest at the front of c->in; the number of answer bytes.
 */
static size_t answer(struct pconn *c, size_t have)
{
	size_t at = 0, o = 0;

	while (have - at >= KMEM_FRAME_HDR + 2) {
		size_t len = be32(c->in + at);
		size_t resp = (size_t)c->in[at + 4] | (size_t)c->in[at + 5] << 8;

		if (have - at < KMEM_FRAME_HDR + len)
			break;
		if (resp < KMEM_FRAME_HDR || o + resp > sizeof(out))
			rpc_die("echo server: a request for %zu bytes", resp);
		memset(out + o, 0, resp);
		out[o] = (uint8_t)((resp - KMEM_FRAME_HDR) >> 24);
		out[o + 1] = (uint8_t)((resp - KMEM_FRAME_HDR) >> 16);
		out[o + 2] = (uint8_t)((resp - KMEM_FRAME_HDR) >> 8);
		out[o + 3] = (uint8_t)(resp - KMEM_FRAME_HDR);
		o += resp;
		at += KMEM_FRAME_HDR + len;
	}
	memmove(c->in, c->in + at, have - at);
	c->held = have - at;
	return o;
}

/* Like rpc_write_all, but a client gone (it stops at its deadline with
 * requests in flight) only ends its connection. */
static bool write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read what c has sent and answer it; false once c is closed. */
static bool serve_one(struct pconn *c)
{
	ssize_t n;

	do
		n = read(c->fd, c->in + c->held, sizeof(c->in) - c->held);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	n = (ssize_t)answer(c, c->held + (size_t)n);
	return write_all(c->fd, out, (size_t)n);
}

static _Noreturn void serve(struct pconn *c, int n)
{
	struct epoll_event ev[RPC_PECHO_MAX];
	int ep = epoll_create1(EPOLL_CLOEXEC), open = n;

	if (ep < 0)
		rpc_die("epoll_create1: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &c[i] };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &e))
			rpc_die("epoll_ctl: %s", strerror(errno));
	}
	while (open > 0) {
		int k = epoll_wait(ep, ev, RPC_PECHO_MAX, -1);

		if (k < 0 && errno != EINTR)
			rpc_die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < k; i++) {
			struct pconn *p = ev[i].data.ptr;

			if (!serve_one(p)) {
				close(p->fd);	/* and out of the epoll set */
				open--;
			}
		}
	}
	_exit(0);
}

pid_t rpc_pecho_start(int n, int *fds)
{
	static struct pconn conns[RPC_PECHO_MAX];
	pid_t pid;

	if (n < 1 || n > RPC_PECHO_MAX)
		rpc_die("echo server: %d connections", n);
	for (int i = 0; i < n; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			rpc_die("socketpair: %s", strerror(errno));
		fds[i] = sv[0];
		conns[i].fd = sv[1];
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		rpc_die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int i = 0; i < n; i++)
			close(fds[i]);
		serve(conns, n);
	}
	for (int i = 0; i < n; i++)
		close(conns[i].fd);
	return pid;
}
