/*
 * debug.h - the slab debugging aids in the daemon (debug.c): each pool's
 * poison and red-zone flags, the report of what the engine finds, with
 * the lease that held the object, and the Debug request.
 */
#ifndef KMEMD_DEBUG_H
#define KMEMD_DEBUG_H

#include <stdint.h>

#include "kmemd.h"

/* After kmem_pool_create (pools.c): the pool's flags from its
 * configuration and the engine's reporter.  0, or -1 when out of memory
 * for the ring of freed leases (logged). */
int debug_pool_start(struct kmemd_pool *p);

/* The flags a named cache created in p now gets. */
unsigned debug_cache_flags(const struct kmemd_pool *p);

/* Lease l's memory is about to be freed (leases.c): remember who held a
 * poisoned object, so its next allocation can name them. */
void debug_note_free(struct kmemd *d, const struct lease *l);

/* The Debug request: switch poisoning of one pool (admin only). */
void debug_request(struct session *s, uint64_t seq, const Kmem__Debug *m);

/* Free what debug_* allocated (pools_destroy). */
void debug_fini(struct kmemd *d);

#endif
