/*
 * kmem/slab.h - object caches (Bonwick 1994; Linux SLAB/SLUB).
 *
 * A cache hands out fixed-size objects carved from slabs; a slab is a run
 * of pages taken from a heap (kmem/heap.h).  Objects are offsets into the
 * heap's region, like everything else in the engine.  All bookkeeping is out
 * of band: a slab's descriptor and free bitmap live in malloc'd memory, so a
 * stray write into an object cannot corrupt the cache.
 *
 * Debugging (Bonwick's KMF_DEADBEEF and KMF_REDZONE; SLUB's slub_debug=PZ):
 * a cache may poison its free objects and check the poison when it hands
 * one out again, and may put guard bytes (red zones) around every object
 * and check them when the object comes back.  Both read and write the
 * heap's mapping (kmem_heap_params.mem), so they need one.  A damaged
 * object is counted (kmem_cache_stats), reported to the heap's reporter
 * (kmem_heap_set_reporter) and still handed out or freed: like SLUB, the
 * allocator reports and goes on, since the damage is done either way.
 * With neither flag a cache pays one predictable branch per call.
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
/*
 * Poison: a freed object is filled with KMEM_POISON_BYTE and marked; when
 * a marked object is handed out again every byte is checked.  Objects of a
 * new slab are poisoned too.  Switchable at any time (kmem_cache_set_flags);
 * objects freed while it was off are not marked, so never reported.
 */
#define KMEM_CACHE_POISON  0x2u
/*
 * Red zones: KMEM_REDZONE_MIN (or align, if larger) guard bytes before
 * each object and at least KMEM_REDZONE_MIN after it, filled with
 * KMEM_REDZONE_BYTE when the object is handed out and checked when it is
 * freed.  Offsets still name the object itself.  Fixed at creation: it
 * changes the slab's layout.
 */
#define KMEM_CACHE_REDZONE 0x4u
#define KMEM_CACHE_DEBUG   (KMEM_CACHE_POISON | KMEM_CACHE_REDZONE)

#define KMEM_POISON_BYTE   0x6b	/* free objects (Linux POISON_FREE) */
#define KMEM_REDZONE_BYTE  0xbb	/* guards (Linux SLUB_RED_ACTIVE) */
#define KMEM_REDZONE_MIN   16	/* guard bytes on each side, at least */

/* What a debugging check found (passed to the heap's reporter). */
enum kmem_debug_when {
	KMEM_DEBUG_AT_ALLOC,	/* poison checked as the object was handed out */
	KMEM_DEBUG_AT_FREE,	/* red zones checked as it came back */
	KMEM_DEBUG_AT_SCAN,	/* kmem_cache_scan */
};

struct kmem_debug_report {
	struct kmem_cache *cache;
	unsigned kind;		/* KMEM_CACHE_POISON: a free object was
				   written; KMEM_CACHE_REDZONE: a guard was */
	enum kmem_debug_when when;
	uint64_t object;	/* offset of the object */
	uint64_t bad;		/* offset of the first damaged byte (before
				   object for an underrun) */
	uint64_t nbad;		/* damaged bytes in the area checked */
	uint8_t found;		/* the first damaged byte's value */
	uint8_t expected;	/* the pattern it should hold */
};

/* Called for each report, from inside the allocator call that checked. */
typedef void (*kmem_debug_fn)(void *ctx, const struct kmem_debug_report *r);

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
	unsigned flags;		/* KMEM_CACHE_* now in force */
	uint64_t poison_errors;	/* poisoned objects found written */
	uint64_t redzone_errors;	/* objects found with a damaged guard */
	uint64_t last_bad;	/* offset of the first damaged byte of the
				   latest report (valid when either count is
				   not 0) */
};

/*
 * kmem_cache_create - make a named cache in heap h.
 * Errors: KMEM_EZEROSIZE (size 0), KMEM_EALIGN (align not a power of two),
 * KMEM_EINVAL (bad name, size or slab_pages too large for the heap,
 * slab_pages that hold no object, unknown flags, debugging flags on a heap
 * without a mapping), KMEM_EEXIST (name taken), KMEM_ENOMETA.
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

/*
 * kmem_cache_set_flags - switch poisoning on or off: flags is the cache's
 * whole flag set (kmem_cache_flags) with KMEM_CACHE_POISON set or clear.
 * Switching it off forgets every mark (nothing is checked any more).
 * KMEM_EINVAL, changing nothing, when another flag differs from the
 * cache's (they are fixed at creation) or the heap has no mapping.
 */
int kmem_cache_set_flags(struct kmem_cache *c, unsigned flags);
unsigned kmem_cache_flags(const struct kmem_cache *c);

/*
 * kmem_cache_scan - check now what the debugging flags would check later:
 * the poison of every marked free object and the red zones of every
 * allocated one.  Each damaged object is counted and reported as at
 * alloc/free (when KMEM_DEBUG_AT_SCAN), and its pattern written back, so
 * the same damage is not reported twice.  Returns the number of reports.
 * Cost: every byte of the cache's slabs that a check covers.
 */
uint64_t kmem_cache_scan(struct kmem_cache *c);

/* kmem_cache_shrink - give every empty slab back; returns how many. */
uint64_t kmem_cache_shrink(struct kmem_cache *c);

void kmem_cache_stats(const struct kmem_cache *c, struct kmem_cache_stats *st);
const char *kmem_cache_name(const struct kmem_cache *c);
/* The bytes of an object a caller may use (without red zones). */
uint64_t kmem_cache_objsize(const struct kmem_cache *c);

/*
 * kmem_cache_check - verify the cache: every slab on the list its fill
 * says, bitmaps agree with in-use counts, counters agree, the heap's page
 * map points at each slab, only free objects are marked poisoned.
 * 0 or KMEM_ECORRUPT.
 */
int kmem_cache_check(const struct kmem_cache *c);

#endif
