/*
 * dispatch_impl.h - what dispatch.c (the request loop, Hello, single
 * allocations and frees, names, stats) and batch.c (batches and named
 * caches) share.  daemon/ only; the interface to the rest of the daemon
 * is dispatch.h.
 */
#ifndef KMEMD_DISPATCH_IMPL_H
#define KMEMD_DISPATCH_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "kmemd.h"
#include "dispatch.h"

#define BATCH_MAX 16384		/* leases in one batch reply (fits 1 MiB) */

struct arena;

/* The daemon's request arena (dispatch.c's theory block). */
struct arena *arena_of(struct kmemd *d);

/* The wire status for an engine error code. */
int status_of(int rc);

/* Printable ASCII only (names and tags end up in logs and JSON). */
bool printable(const char *s);

/* Pool name (empty: the first) that s may use, or NULL, replied. */
struct kmemd_pool *usable_pool(struct session *s, uint64_t seq,
			       const char *name);

/* Check the wire flags, size and alignment; fill *flags.  0 or a status,
 * with msg. */
int check_common(uint64_t size, uint64_t align, uint32_t wflags,
		 unsigned *flags, char *msg, size_t msglen);

/* One buffer for a of s in p: *kind says how it was made.  0 or an
 * engine error with msg. */
int make_buf(const struct session *s, struct kmemd_pool *p,
	     const struct alloc_args *a, struct kmem_pool_buf *buf,
	     enum lease_kind *kind, char *msg, size_t msglen);

/* May s free (or touch) lease l?  Replies and returns false if not. */
bool may_touch(struct session *s, uint64_t seq, const struct lease *l);

/* Lease id, or NULL, replied NOT_FOUND. */
struct lease *find_lease(struct session *s, uint64_t seq, uint64_t id);

/* The batch and cache requests (batch.c). */
void do_alloc_batch(struct session *s, uint64_t seq, const Kmem__AllocBatch *m);
void do_free_batch(struct session *s, uint64_t seq, const Kmem__FreeBatch *m);
void do_cache_create(struct session *s, uint64_t seq,
		     const Kmem__CacheCreate *m);
void do_cache_alloc(struct session *s, uint64_t seq, const Kmem__CacheAlloc *m);
void do_cache_free(struct session *s, uint64_t seq, const Kmem__CacheFree *m);
void do_cache_destroy(struct session *s, uint64_t seq,
		      const Kmem__CacheDestroy *m);

#endif
