/*
 * rpc/window.h - pipelining clients: each keeps a fixed number of
 * requests in flight (its window) and, for every answer that arrives,
 * sends the request that follows it, so the server never waits on the
 * client's round trip.  A read takes whatever has arrived; the requests
 * that answers call for are packed and go out in one write before the
 * next read.
 *
 * The same loop runs against kmemd (the raw protocol client of wire.h:
 * protobuf-c packing and unpacking, as libkmem does it) and against the
 * pipelined echo server (pecho.h: fixed frames of the probed sizes, no
 * encoding at all), so the two differ only in the server and in the
 * client's encoding work.  The batch loop also runs through libkmem's
 * pipelined batches (kmem_client_alloc_batch_send and friends): what a
 * real client gets, one request per write.
 */
#ifndef KMEM_BENCH_RPC_WINDOW_H
#define KMEM_BENCH_RPC_WINDOW_H

#include <stdint.h>

#include "kmem/client.h"
#include "wire.h"

enum rpc_win_op {
	RPC_WIN_PING,		/* Ping; each answer a Ping again */
	RPC_WIN_ALLOCFREE,	/* Alloc; its Lease a Free of it; that answer
				   an Alloc again */
	RPC_WIN_BATCH,		/* AllocBatch of RPC_WIN_BATCH_N; its
				   LeaseBatch a FreeBatch of the ids; that
				   answer an AllocBatch again (kmemd only) */
};

#define RPC_WIN_BATCH_N 64

/*
 * rpc_win_kmemd - run op with depth requests in flight on r until the
 * clock passes t_end (objects of obj_size bytes).  Returns the answers
 * received (PING, ALLOCFREE), or the objects allocated and freed again
 * (BATCH: RPC_WIN_BATCH_N per FreeBatch answered).  Requests still in
 * flight at the end are not counted; closing r frees their leases.
 */
uint64_t rpc_win_kmemd(struct rpc_raw *r, enum rpc_win_op op, unsigned depth,
		       uint64_t obj_size, uint64_t t_end);

/*
 * rpc_win_kmem - RPC_WIN_BATCH through libkmem on c: depth (1 to
 * KMEM_PIPE_MAX) tickets in flight, each received in the order sent and
 * answered by the request that follows it.  Returns the objects allocated
 * and freed again; tickets outstanding at the end are not counted, and
 * disconnecting c frees their leases.  Dies on any error.
 */
uint64_t rpc_win_kmem(struct kmem_client *c, unsigned depth, uint64_t obj_size,
		      uint64_t t_end);

/*
 * rpc_win_echo - the same traffic against the echo server on fd (PING
 * and ALLOCFREE): request and answer frames of exactly the sizes in z
 * (ping, or alloc then free).  Returns the answers received.
 */
uint64_t rpc_win_echo(int fd, enum rpc_win_op op, unsigned depth,
		      const struct rpc_sizes *z, uint64_t t_end);

#endif
