/*
 * kmem/slab.h - object caches (Bonwick 1994; Linux SLAB/SLUB).
 *
 * A cache hands out fixed-size objects carved from slabs; a slab is a run
 * of pages taken from a heap (kmem/heap.h).  Objects are offsets into the
 * heap's region, like everything else in the engine.  All bookkeeping is out
 * of band: a slab's descriptor and free bitmap live in malloc'd memory, so a
 * stray write into an object cannot corrupt the cache.
 *
 * Single-threaded by contract, like the heap that owns the cache.
 */
#ifndef KMEM_SLAB_H
#define KMEM_SLAB_H

#include <stdint.h>
#include <stdbool.h>

struct kmem_heap;
struct kmem_cache;

#define KMEM_CACHE_NAME_MAX 32		/* bytes, including the NUL */
#define KMEM_SLAB_MAX_PAGES_AUTO 32	/* largest slab the sizing rule picks */

/* Cache flags. */
#define KMEM_CACHE_COLOUR  0x1u	/* stagger object start across slabs */

struct kmem_cache_params {
	const char *name;	/* 1..31 printable bytes, unique in the heap */
	uint64_t size;		/* object size in bytes, > 0 */
	uint64_t align;		/* power of two, or 0 for 8 */
	unsigned flags;		/* KMEM_CACHE_* */
	/*
	 * Pages per slab; 0 picks the SLUB-like rule: the smallest power of
	 * two that leaves under 1/8 of the slab unused and holds >= 8
	 * objects (up to KMEM_SLAB_MAX_PAGES_AUTO pages, then the smallest
	 * that wastes under 1/8).  Any count is accepted when given.
	 */
	uint64_t slab_pages;
	unsigned reserve;	/* empty slabs kept on free; default 1 */
};

/* One cache's figures, in the columns of /proc/slabinfo 2.1 and more. */
struct kmem_cache_stats {
	char name[KMEM_CACHE_NAME_MAX];
	uint64_t active_objs;	/* objects allocated */
	uint64_t num_objs;	/* objects in all slabs */
	uint64_t objsize;	/* object size after alignment */
	uint64_t objperslab;
	uint64_t pagesperslab;
	uint64_t active_slabs;	/* slabs with at least one object in use */
	uint64_t num_slabs;
	uint64_t full_slabs, partial_slabs, empty_slabs;
	uint64_t meta_bytes;	/* out-of-band descriptor bytes */
};

/*
 * kmem_cache_create - make a named cache in heap h.
 * Errors: KMEM_EZEROSIZE (size 0), KMEM_EALIGN (align not a power of two),
 * KMEM_EINVAL (bad name, size or slab_pages too large for the heap,
 * slab_pages that hold no object), KMEM_EEXIST (name taken), KMEM_ENOMETA.
 */
int kmem_cache_create(struct kmem_heap *h, const struct kmem_cache_params *p,
		      struct kmem_cache **out);

/*
 * kmem_cache_destroy - destroy an empty cache and return its slabs.
 * KMEM_EBUSY (and nothing changes) while objects are allocated.
 */
int kmem_cache_destroy(struct kmem_cache *c);

/*
 * kmem_cache_alloc - take an object: from a partial slab first, then an
 * empty one, then a new slab from the heap.  KMEM_ENOMEM when the heap has
 * no room for a slab, KMEM_ENOMETA when its descriptor cannot be had.
 */
int kmem_cache_alloc(struct kmem_cache *c, uint64_t *off);

/*
 * kmem_cache_free - return the object at off.  The slab is found in O(1)
 * from the offset.  Errors, changing nothing: KMEM_ERANGE (outside the
 * heap), KMEM_ENOTALLOC (not in any slab), KMEM_EWRONGCACHE (in another
 * cache's slab), KMEM_EMISALIGNED (not the start of an object),
 * KMEM_EDOUBLEFREE (object already free).
 */
int kmem_cache_free(struct kmem_cache *c, uint64_t off);

/* kmem_cache_shrink - give every empty slab back; returns how many. */
uint64_t kmem_cache_shrink(struct kmem_cache *c);

void kmem_cache_stats(const struct kmem_cache *c, struct kmem_cache_stats *st);
const char *kmem_cache_name(const struct kmem_cache *c);
uint64_t kmem_cache_objsize(const struct kmem_cache *c);

/*
 * kmem_cache_check - verify the cache: every slab on the list its fill
 * says, bitmaps agree with in-use counts, counters agree, the heap's page
 * map points at each slab.  0 or KMEM_ECORRUPT.
 */
int kmem_cache_check(const struct kmem_cache *c);

#endif
