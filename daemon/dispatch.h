/*
 * dispatch.h - turning requests into engine calls and responses.
 */
#ifndef KMEMD_DISPATCH_H
#define KMEMD_DISPATCH_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "kmemd.h"

/* An Alloc request, checked and copied out of the wire message (so a
 * blocked request can outlive it). */
struct alloc_args {
	uint64_t size, align, dma_mask, boundary;
	unsigned flags;		/* KMEM_ALLOC_* | KMEM_POOL_SCATTER */
	int node;
	uint32_t timeout_ms;
	bool persist;
	char name[LEASE_NAME_MAX];
	char tag[LEASE_TAG_MAX];
};

/*
 * dispatch_frame - handle one received frame: unpack, dispatch, queue the
 * reply.  The request is unpacked into the daemon's request arena, which
 * is reset before this returns: nothing may keep a pointer into it.
 */
void dispatch_frame(struct session *s, const uint8_t *payload, size_t len);

/*
 * dispatch_frame_at - dispatch_frame without the clock: for a run of
 * frames handled back to back (server.c reads the clock once per loop
 * turn and gives the turn's time to dispatch_latency).  True when the
 * frame was a request that was handled (and so counts in the latency
 * histogram), false for a protocol error.
 */
bool dispatch_frame_at(struct session *s, const uint8_t *payload, size_t len);

/*
 * dispatch_latency - n requests handled back to back took ns together:
 * each is counted in the bucket of their average, and the sum is exact.
 * One request per turn (the usual case without pipelining) is timed
 * exactly; a pipelined run saves a clock read per request.
 */
void dispatch_latency(struct kmemd *d, unsigned n, uint64_t ns);

/* dispatch_fini - free the request arena (at shutdown; dispatching again
 * afterwards makes a new one). */
void dispatch_fini(struct kmemd *d);

/* dispatch_arena_kept - bytes the request arena keeps between requests
 * (0 before the first request). */
size_t dispatch_arena_kept(const struct kmemd *d);

/* Answer PROTOCOL_ERROR with msg and close the session after the reply. */
void dispatch_protocol_error(struct session *s, uint64_t seq, const char *msg);

/*
 * dispatch_try_alloc - one attempt at an allocation for s in p.  Returns
 * the wire status; on OK queues the Lease reply for seq.  NO_MEMORY is
 * returned without a reply (the caller decides: reply, or wait); every
 * other status has been replied to already.
 */
int dispatch_try_alloc(struct session *s, struct kmemd_pool *p,
		       const struct alloc_args *a, uint64_t seq,
		       char *msg, size_t msglen);

/* Queue a bodiless reply with status and message. */
void dispatch_reply_status(struct session *s, uint64_t seq, int status,
			   const char *msg);

#endif
