/*
 * rpc/wire.h - the daemon benchmark's own ends of a socket: a client that
 * speaks the kmemd wire protocol itself (proto/frame.h, no libkmem), used
 * to pipeline requests and to measure the frames' sizes; and the echo
 * server that gives the physical floor, a blocking ping-pong of exactly
 * those byte counts.  Every failure is fatal (rpc_die).
 */
#ifndef KMEM_BENCH_RPC_WIRE_H
#define KMEM_BENCH_RPC_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

/* A raw connection; out collects packed requests until rpc_raw_flush. */
struct rpc_raw {
	int fd;
	uint64_t seq;			/* of the last request packed */
	struct kmem_frame_decoder dec;
	struct kmem_frame_buf out;
	uint8_t rbuf[65536];
};

/* Connect to path and say Hello (the pool fds that come back are closed). */
struct rpc_raw *rpc_raw_connect(const char *path);
void rpc_raw_close(struct rpc_raw *r);

/* Pack one request into r->out with the next seq: an Alloc built as
 * libkmem builds it for default options, a Free, a Ping without payload. */
void rpc_raw_alloc(struct rpc_raw *r, uint64_t size);
void rpc_raw_free(struct rpc_raw *r, uint64_t id);
void rpc_raw_ping(struct rpc_raw *r);

/* An AllocBatch of count objects of size bytes (default pool and flags),
 * and a FreeBatch of n ids: as libkmem builds them without magazines. */
void rpc_raw_alloc_batch(struct rpc_raw *r, uint64_t size, uint32_t count);
void rpc_raw_free_batch(struct rpc_raw *r, const uint64_t *ids, size_t n);

/* Write everything packed, in one write when the socket takes it. */
void rpc_raw_flush(struct rpc_raw *r);

/*
 * rpc_raw_next - the next response, which must have status OK; release it
 * with kmem_frame_free_response(.., NULL).  *flen (may be NULL) gets its
 * bytes on the wire, header included.
 */
Kmem__Response *rpc_raw_next(struct rpc_raw *r, size_t *flen);

/*
 * For a client with many requests in flight: rpc_raw_fill blocks in one
 * read of whatever kmemd has sent, and rpc_raw_take returns the next
 * response already read (status OK, as rpc_raw_next), or NULL when none
 * is complete: the caller then flushes what it packed and fills again.
 */
void rpc_raw_fill(struct rpc_raw *r);
Kmem__Response *rpc_raw_take(struct rpc_raw *r);

/* Bytes of one request frame and of its response frame, headers included. */
struct rpc_wire {
	size_t req, resp;
};

struct rpc_sizes {
	struct rpc_wire ping, alloc, free;
};

/*
 * rpc_probe_sizes - one Ping, one Alloc of alloc_size bytes and the Free of
 * it through a raw connection to path, with seq numbers from seq on (pick
 * one as long on the wire as the measured client's), and their sizes.
 */
struct rpc_sizes rpc_probe_sizes(const char *path, uint64_t alloc_size,
				 uint64_t seq);

/*
 * rpc_echo_start - fork the echo server on a socketpair and return its pid;
 * *fd is this end.  It reads one frame at a time (4-byte big-endian length,
 * then the payload) with blocking read() and answers with as many bytes as
 * the payload's first two bytes say (little-endian), in one write().  It
 * exits when *fd is closed.
 */
pid_t rpc_echo_start(int *fd);

/* Build in buf (w.req <= 64 bytes) a request asking for a w.resp reply. */
void rpc_echo_request(uint8_t *buf, struct rpc_wire w);

/* One exchange: write req (w.req bytes), read w.resp bytes into scratch. */
void rpc_echo_pingpong(int fd, const uint8_t *req, struct rpc_wire w,
		       uint8_t *scratch, size_t scratch_len);

#endif
