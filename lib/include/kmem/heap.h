/*
 * kmem/heap.h - the engine: one region of memory managed the way a kernel
 * manages its memory.
 *
 * A heap manages the offsets [0, size) of one region (a pool's mapping).
 * The region is split into arenas - for a hugepage pool, one arena per
 * physically contiguous run - and each arena is run by a page allocator of
 * the heap's policy: a binary buddy (kmem/buddy.h) or a vmem-style resource
 * map (kmem/vmem.h).  On top sit slab caches (kmem/slab.h) and the
 * kmalloc-style size classes 8, 16, 32, 64, 96, 128, 192, 256, 512, 1k, 2k,
 * 4k and 8k; larger requests go to the page allocator.
 *
 * Every allocation is contiguous inside one arena, so when the arena is a
 * physically contiguous run the allocation is physically contiguous too.
 *
 * No sockets, no threads, no globals, no logging: single-threaded by
 * contract; the caller serialises.
 */
#ifndef KMEM_HEAP_H
#define KMEM_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "kmem/buddy.h"
#include "kmem/slab.h"

struct kmem_heap;

enum kmem_policy {
	KMEM_POLICY_BUDDY = 0,	/* buddy pages + slab + exact */
	KMEM_POLICY_VMEM = 1,	/* resource map: exact ranges, no rounding */
};

/* Arena flags. */
#define KMEM_ARENA_PHYS   0x1u	/* phys is the arena's physical base and the
				   arena is physically contiguous */
#define KMEM_ARENA_DMA32  0x2u	/* wholly below 4 GiB physical */

struct kmem_arena_desc {
	uint64_t base;		/* offset in the region, page aligned */
	uint64_t size;		/* bytes, a multiple of the page size */
	uint64_t phys;		/* physical base when KMEM_ARENA_PHYS */
	unsigned flags;		/* KMEM_ARENA_* */
	int node;		/* NUMA node, -1 unknown */
};

struct kmem_heap_params {
	uint64_t size;		/* region bytes, a multiple of page_size */
	uint64_t page_size;	/* power of two; 0 = 4096 */
	enum kmem_policy policy;
	unsigned max_order;	/* buddy: largest order; 0 = as fits */
	uint64_t quantum;	/* vmem: allocation granule; 0 = page_size */
	/* Arenas tiling part or all of [0, size); NULL = one arena over
	 * everything, physical layout unknown. */
	const struct kmem_arena_desc *arenas;
	size_t narenas;
	/*
	 * The region's mapping, or NULL.  Used only to zero memory for
	 * KMEM_ALLOC_ZERO requests and by debugging caches (poison, red
	 * zones); the heap never reads or writes the region otherwise (all
	 * metadata is out of band).
	 */
	void *mem;
	bool mem_zeroed;	/* the region starts out zeroed (fresh pool) */
	/* KMEM_CACHE_POISON | KMEM_CACHE_REDZONE for the size-class caches
	 * (kmem/slab.h); they need mem. */
	unsigned kmalloc_flags;
};

/* Allocation flags. */
#define KMEM_ALLOC_ZERO    0x1u	/* contents zeroed (cheaply: known-zero
				   pages are not cleared again) */
#define KMEM_ALLOC_DMA32   0x2u	/* wholly below 4 GiB physical */
#define KMEM_ALLOC_POW2    0x4u	/* buddy: round pages up to a power of two
				   instead of exact allocation */

/* A constrained page allocation (kmem_heap_xalloc). */
struct kmem_alloc_req {
	uint64_t size;		/* bytes, > 0 */
	uint64_t align;		/* power of two or 0 (page size) */
	unsigned flags;		/* KMEM_ALLOC_* */
	int node;		/* NUMA node, -1 = any */
	uint64_t dma_mask;	/* device mask: last byte's physical address
				   must be <= dma_mask; 0 = none */
	uint64_t boundary;	/* must not cross a multiple of this physical
				   address (power of two); 0 = none */
};

struct kmem_alloc_res {
	uint64_t off;		/* offset in the region */
	uint64_t len;		/* bytes the allocation occupies */
	unsigned arena;		/* arena index */
};

/* Heap-wide figures. */
struct kmem_heap_stats {
	uint64_t total_bytes;	/* bytes in arenas */
	uint64_t free_bytes;	/* bytes free in the page allocators */
	uint64_t used_bytes;	/* total - free (slabs count as used) */
	uint64_t largest_free;	/* largest contiguous free block */
	uint64_t slab_bytes;	/* bytes held in slabs */
	uint64_t meta_bytes;	/* out-of-band metadata */
	size_t narenas, ncaches;
	/* Buddy policy: free blocks per order summed over the arenas, and
	 * the unusable free space index per order (thousandths) of the
	 * whole heap - the fragmentation summary. */
	uint64_t nr_free[KMEM_BUDDY_MAX_ORDER + 1];
	unsigned unusable_index[KMEM_BUDDY_MAX_ORDER + 1];
};

struct kmem_arena_stats {
	struct kmem_arena_desc desc;
	uint64_t free_bytes;
	uint64_t largest_free;
	struct kmem_buddy_stats buddy;	/* buddy policy only */
};

/*
 * kmem_heap_create - make a heap.  Errors: KMEM_EINVAL with a message for
 * bad sizes or arenas (overlapping, unaligned, outside the region) or
 * debugging kmalloc_flags without mem, KMEM_ENOMETA.
 */
int kmem_heap_create(const struct kmem_heap_params *p, struct kmem_heap **out,
		     char *msg, size_t msglen);

/* kmem_heap_destroy - free all metadata (live allocations are forgotten). */
void kmem_heap_destroy(struct kmem_heap *h);

/*
 * kmem_heap_alloc - kmalloc: size <= 8 KiB comes from the size-class
 * caches, larger from the page allocator (exact page count).  Returns 0
 * and *off; KMEM_EZEROSIZE, KMEM_ETOOBIG, KMEM_ENOMEM, KMEM_ENOMETA.
 */
int kmem_heap_alloc(struct kmem_heap *h, uint64_t size, uint64_t *off);

/* kmem_heap_alloc_len - kmem_heap_alloc that also says, in *len, what the
 * allocation occupies (kmem_heap_size_of's answer, without its lookup). */
int kmem_heap_alloc_len(struct kmem_heap *h, uint64_t size, uint64_t *off,
			uint64_t *len);

/*
 * kmem_heap_free - kfree: free a size-class object or a page allocation
 * made by kmem_heap_alloc or kmem_heap_xalloc.  Objects of named caches go
 * back through kmem_cache_free (KMEM_EWRONGCACHE here).  Other errors as
 * kmem_cache_free / kmem_buddy_free; nothing changes on error.
 */
int kmem_heap_free(struct kmem_heap *h, uint64_t off);

/*
 * kmem_heap_xalloc - a page allocation under constraints: alignment,
 * zone (DMA32), NUMA node, device DMA mask, no-cross boundary, zeroing.
 * Physical constraints need arenas with KMEM_ARENA_PHYS.  On failure msg
 * says which constraint could not be met and the largest block that was
 * available.  Errors: KMEM_EZEROSIZE, KMEM_EALIGN, KMEM_ETOOBIG,
 * KMEM_ECONSTRAINT (can never be met here), KMEM_ENOMEM (not now).
 */
int kmem_heap_xalloc(struct kmem_heap *h, const struct kmem_alloc_req *req,
		     struct kmem_alloc_res *res, char *msg, size_t msglen);

/*
 * kmem_heap_claim - take exactly [off, off + len) as a page allocation (a
 * page allocation that existed before a restart, from a journal).  The
 * range must lie in one arena and be free; for buddy arenas it must be
 * aligned as the allocator would have placed it (kmem_buddy_claim).
 * Errors change nothing: KMEM_ERANGE, KMEM_EMISALIGNED, KMEM_EBUSY, ...
 */
int kmem_heap_claim(struct kmem_heap *h, uint64_t off, uint64_t len);

/*
 * kmem_heap_size_of - bytes occupied by the allocation at off (object size
 * for slab objects).  Errors as kmem_heap_free, nothing changes.
 */
int kmem_heap_size_of(const struct kmem_heap *h, uint64_t off, uint64_t *len);

/*
 * kmem_heap_set_reporter - fn(ctx, report) is called for every damaged
 * object a debugging cache of h finds (kmem/slab.h), from inside the call
 * that found it; fn must not call back into h.  NULL: count only.
 */
void kmem_heap_set_reporter(struct kmem_heap *h, kmem_debug_fn fn, void *ctx);

/* kmem_heap_cache_of - the cache whose slab holds offset off, or NULL
 * (outside the heap, or not in a slab). */
struct kmem_cache *kmem_heap_cache_of(const struct kmem_heap *h, uint64_t off);

/* kmem_heap_find_cache - a cache by name, or NULL. */
struct kmem_cache *kmem_heap_find_cache(const struct kmem_heap *h,
					const char *name);

/* kmem_heap_cache_at - the i-th cache (size classes first), or NULL. */
struct kmem_cache *kmem_heap_cache_at(const struct kmem_heap *h, size_t i);

/* kmem_heap_shrink - shrink every cache; returns slabs released. */
uint64_t kmem_heap_shrink(struct kmem_heap *h);

void kmem_heap_stats(const struct kmem_heap *h, struct kmem_heap_stats *st);
int kmem_heap_arena_stats(const struct kmem_heap *h, size_t i,
			  struct kmem_arena_stats *st);
uint64_t kmem_heap_page_size(const struct kmem_heap *h);
enum kmem_policy kmem_heap_policy(const struct kmem_heap *h);

/*
 * kmem_heap_check - check every arena and cache and the page map.
 * 0 or KMEM_ECORRUPT.
 */
int kmem_heap_check(const struct kmem_heap *h);

/*
 * kmem_heap_is_pristine - every arena fully free in its initial blocks
 * (caches must have been shrunk to zero slabs).
 */
bool kmem_heap_is_pristine(const struct kmem_heap *h);

/* The kmalloc size classes. */
#define KMEM_NR_SIZE_CLASSES 13
#define KMEM_KMALLOC_MAX 8192
extern const uint32_t kmem_size_classes[KMEM_NR_SIZE_CLASSES];

#endif
