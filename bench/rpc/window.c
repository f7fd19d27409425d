/*
 * rpc/window.c - pipelining clients with a fixed window (see window.h).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../benchutil.h"
#include "proc.h"
#include "window.h"

#define MAX_DEPTH 256
#define ECHO_REQ 64		/* rpc_echo_request() builds at most this */

/* ------------------------------------------------------------ kmemd */

static void kmemd_first(struct rpc_raw *r, enum rpc_win_op op, uint64_t size)
{
	if (op == RPC_WIN_PING)
		rpc_raw_ping(r);
	else if (op == RPC_WIN_ALLOCFREE)
		rpc_raw_alloc(r, size);
	else
		rpc_raw_alloc_batch(r, size, RPC_WIN_BATCH_N);
}

/* Pack the request that follows q's answer; the units that answer ends. */
static uint64_t kmemd_next(struct rpc_raw *r, enum rpc_win_op op,
			   uint64_t size, const Kmem__Response *q)
{
	bool lease = q->body_case == KMEM__RESPONSE__BODY_LEASE;
	bool batch = q->body_case == KMEM__RESPONSE__BODY_LEASE_BATCH;

	switch (op) {
	case RPC_WIN_PING:
		rpc_raw_ping(r);
		return 1;
	case RPC_WIN_ALLOCFREE:
		if (lease)
			rpc_raw_free(r, q->lease->id);
		else
			rpc_raw_alloc(r, size);
		return 1;
	case RPC_WIN_BATCH:
		if (!batch) {
			rpc_raw_alloc_batch(r, size, RPC_WIN_BATCH_N);
			return RPC_WIN_BATCH_N;
		}
		if (q->lease_batch->n_ids != RPC_WIN_BATCH_N)
			rpc_die("raw client: a LeaseBatch of %zu leases",
				q->lease_batch->n_ids);
		rpc_raw_free_batch(r, q->lease_batch->ids, q->lease_batch->n_ids);
		return 0;
	}
	return 0;
}

uint64_t rpc_win_kmemd(struct rpc_raw *r, enum rpc_win_op op, unsigned depth,
		       uint64_t obj_size, uint64_t t_end)
{
	Kmem__Response *q;
	uint64_t n = 0;

	for (unsigned i = 0; i < depth; i++)
		kmemd_first(r, op, obj_size);
	rpc_raw_flush(r);
	while (bench_now_ns() < t_end) {
		rpc_raw_fill(r);
		while ((q = rpc_raw_take(r))) {
			n += kmemd_next(r, op, obj_size, q);
			kmem_frame_free_response(q, NULL);
		}
		rpc_raw_flush(r);
	}
	return n;
}

/* ------------------------------------------------------------ libkmem */

/* A ticket in flight and what it was for. */
struct kwin {
	uint64_t t;
	bool alloc;
};

static void kmem_send(struct kmem_client *c, struct kwin *w, bool alloc,
		      uint64_t size, const uint64_t *ids)
{
	int rc = alloc ?
		kmem_client_alloc_batch_send(c, NULL, size, 0, RPC_WIN_BATCH_N, &w->t) :
		kmem_client_free_batch_send(c, ids, RPC_WIN_BATCH_N, &w->t);

	if (rc)
		rpc_die("libkmem window: send: %s: %s", kmem_strerror(rc),
			kmem_client_error(c));
	w->alloc = alloc;
}

uint64_t rpc_win_kmem(struct kmem_client *c, unsigned depth, uint64_t obj_size,
		      uint64_t t_end)
{
	struct kwin ring[KMEM_PIPE_MAX];
	struct kmem_buf b[RPC_WIN_BATCH_N];
	uint64_t ids[RPC_WIN_BATCH_N], n = 0;
	unsigned head = 0;
	int rc;

	if (depth == 0 || depth > KMEM_PIPE_MAX)
		rpc_die("libkmem window: depth %u", depth);
	for (unsigned i = 0; i < depth; i++)
		kmem_send(c, &ring[i], true, obj_size, NULL);
	/* The ring stays full: the slot just received takes the request
	 * its answer calls for, which is the newest in flight. */
	while (bench_now_ns() < t_end) {
		struct kwin *w = &ring[head];

		head = (head + 1) % depth;
		rc = kmem_client_batch_recv(c, w->t, w->alloc ? b : NULL, NULL);
		if (rc)
			rpc_die("libkmem window: recv: %s: %s", kmem_strerror(rc),
				kmem_client_error(c));
		if (!w->alloc)
			n += RPC_WIN_BATCH_N;
		for (int i = 0; w->alloc && i < RPC_WIN_BATCH_N; i++)
			ids[i] = b[i].id;
		kmem_send(c, w, !w->alloc, obj_size, ids);
	}
	return n;
}

/* ------------------------------------------------------------ echo */

/*
 * The echo client's state.  Answers come back in request order, so which
 * request an answer belongs to is the oldest kind in the ring.
 */
struct echo_win {
	uint8_t req[2][ECHO_REQ];	/* kind 0 (ping or alloc), 1 (free) */
	struct rpc_wire w[2];
	uint8_t kind[MAX_DEPTH];
	unsigned head, tail;		/* ring of kinds in flight */
	uint8_t out[MAX_DEPTH * ECHO_REQ];
	size_t olen;
	uint8_t rbuf[65536];
};

static void echo_push(struct echo_win *e, int k)
{
	e->kind[e->tail++ % MAX_DEPTH] = (uint8_t)k;
	memcpy(e->out + e->olen, e->req[k], e->w[k].req);
	e->olen += e->w[k].req;
}

static size_t echo_read(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		rpc_die("echo client: %s", n < 0 ? strerror(errno) : "server gone");
	return (size_t)n;
}

uint64_t rpc_win_echo(int fd, enum rpc_win_op op, unsigned depth,
		      const struct rpc_sizes *z, uint64_t t_end)
{
	static struct echo_win e;
	struct kmem_frame_decoder dec;
	const uint8_t *p;
	uint64_t n = 0;
	size_t len;
	int rc;

	if (depth > MAX_DEPTH || op == RPC_WIN_BATCH)
		rpc_die("echo client: depth %u, op %d", depth, (int)op);
	e.w[0] = op == RPC_WIN_PING ? z->ping : z->alloc;
	e.w[1] = z->free;
	rpc_echo_request(e.req[0], e.w[0]);
	rpc_echo_request(e.req[1], e.w[1]);
	e.head = e.tail = 0;
	e.olen = 0;
	kmem_frame_decoder_init(&dec, 0);
	for (unsigned i = 0; i < depth; i++)
		echo_push(&e, 0);
	rpc_write_all(fd, e.out, e.olen);
	while (bench_now_ns() < t_end) {
		e.olen = 0;
		kmem_frame_decoder_feed(&dec, e.rbuf, echo_read(fd, e.rbuf,
							     sizeof(e.rbuf)));
		while ((rc = kmem_frame_decoder_next(&dec, &p, &len)) == 1) {
			int k = e.kind[e.head++ % MAX_DEPTH];

			if (KMEM_FRAME_HDR + len != e.w[k].resp)
				rpc_die("echo client: an answer of %zu bytes, "
					"not %zu", KMEM_FRAME_HDR + len, e.w[k].resp);
			echo_push(&e, op == RPC_WIN_ALLOCFREE ? !k : k);
			n++;
		}
		if (rc < 0)
			rpc_die("echo client: a bad frame");
		rpc_write_all(fd, e.out, e.olen);
	}
	kmem_frame_decoder_fini(&dec);
	return n;
}
