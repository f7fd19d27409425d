/*
 * dispatch.h - turning requests into engine calls and responses.
 */
#ifndef KMEMD_DISPATCH_H
#define KMEMD_DISPATCH_H

#include <stddef.h>
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

/* Handle one received frame: unpack, dispatch, queue the reply. */
void dispatch_frame(struct session *s, const uint8_t *payload, size_t len);

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
