/*
 * waitq.h - blocking allocations: a FIFO per pool of requests that wait
 * for memory, each with a timeout.
 */
#ifndef KMEMD_WAITQ_H
#define KMEMD_WAITQ_H

#include "dispatch.h"

/* Queue an allocation that found no memory.  0, or -1 (ENOMEM). */
int waitq_add(struct session *s, struct kmemd_pool *p, uint64_t seq,
	      const struct alloc_args *a);

/* Memory came back to p: serve waiters in order while they fit. */
void waitq_kick(struct kmemd_pool *p);

/* The session is ending: forget its waiters (no reply). */
void waitq_drop_session(struct session *s);

/* Daemon shutdown: every waiter gets a final reply. */
void waitq_drop_all(struct kmemd *d);

#endif
