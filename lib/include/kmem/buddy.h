/*
 * kmem/buddy.h - binary buddy allocator over a range of pages.
 *
 * The allocator manages offsets, never memory: the range is
 * [base, base + npages * page_size) and every address in and out of this
 * API is an offset in that space.  Metadata lives out of band (12 bytes a
 * page), so nothing written into the managed memory can corrupt it.
 *
 * Single-threaded by contract: callers serialise access.
 */
#ifndef KMEM_BUDDY_H
#define KMEM_BUDDY_H

#include <stdint.h>
#include <stdbool.h>

#define KMEM_BUDDY_MAX_ORDER 31	/* blocks of up to 2^31 pages */

struct kmem_buddy;

struct kmem_buddy_params {
	uint64_t base;		/* offset of the first page */
	uint64_t npages;	/* pages in the range, 1 .. 2^32 - 2 */
	uint64_t page_size;	/* power of two, >= 8 */
	unsigned max_order;	/* largest block order; 0 = as large as fits */
};

struct kmem_buddy_stats {
	uint64_t page_size;
	uint64_t total_bytes;
	uint64_t free_bytes;
	uint64_t used_bytes;
	uint64_t largest_free;		/* bytes in the largest free block */
	unsigned max_order;
	uint64_t nr_free[KMEM_BUDDY_MAX_ORDER + 1];	/* the buddyinfo row */
	/*
	 * Linux's unusable free space index per order, in thousandths:
	 * the share of free memory that cannot serve a request of that
	 * order (0 = all usable, 1000 = none).  0 when nothing is free.
	 */
	unsigned unusable_index[KMEM_BUDDY_MAX_ORDER + 1];
	uint64_t allocs, frees;		/* successful calls since create */
};

/*
 * kmem_buddy_create - make an allocator over params' range.  The range is
 * carved into maximal naturally aligned blocks (a block of 2^k pages starts
 * at a multiple of 2^k pages from base), all free.
 * Returns 0 and *out, KMEM_EINVAL for a bad parameter, KMEM_ENOMETA when
 * metadata cannot be allocated.
 */
int kmem_buddy_create(const struct kmem_buddy_params *params,
		      struct kmem_buddy **out);

/* kmem_buddy_destroy - release the allocator (not the managed memory). */
void kmem_buddy_destroy(struct kmem_buddy *b);

/*
 * kmem_buddy_alloc_order - allocate a block of 2^order pages.
 * Returns 0 and *off, KMEM_EINVAL if order > max_order, KMEM_ENOMEM when no
 * free block of that order or larger exists.  O(max_order).
 */
int kmem_buddy_alloc_order(struct kmem_buddy *b, unsigned order, uint64_t *off);

/*
 * kmem_buddy_alloc_size - allocate size bytes rounded up to a power-of-two
 * number of pages.  KMEM_EZEROSIZE for 0, KMEM_ETOOBIG beyond the largest
 * possible block, KMEM_ENOMEM when no block is free.
 */
int kmem_buddy_alloc_size(struct kmem_buddy *b, uint64_t size, uint64_t *off);

/*
 * kmem_buddy_alloc_exact - like alloc_pages_exact(): allocate
 * ceil(size / page_size) pages, rounding up to a power-of-two block and
 * giving the unused tail pages back at once, so n pages cost n pages.
 * The block is aligned to its rounded-up size.  Errors as alloc_size.
 */
int kmem_buddy_alloc_exact(struct kmem_buddy *b, uint64_t size, uint64_t *off);

/*
 * kmem_buddy_alloc_within - allocate a block of 2^order pages lying wholly
 * inside [lo, hi) (offsets).  Walks the free lists, so it costs O(free
 * blocks) rather than O(max_order): meant for constrained requests (DMA
 * windows, boundaries).  KMEM_ENOMEM when no such block exists.
 */
int kmem_buddy_alloc_within(struct kmem_buddy *b, unsigned order, uint64_t lo,
			    uint64_t hi, uint64_t *off);

/*
 * kmem_buddy_claim - allocate exactly [off, off + size) (size rounded up
 * to pages), as an allocation of that size made earlier would have lain:
 * off must be aligned to the size rounded up to a power of two of pages.
 * For rebuilding the allocator's state after a restart.  Errors, changing
 * nothing: KMEM_EZEROSIZE, KMEM_ERANGE, KMEM_ETOOBIG, KMEM_EMISALIGNED,
 * KMEM_EBUSY when any page of the range is not free.
 */
int kmem_buddy_claim(struct kmem_buddy *b, uint64_t off, uint64_t size);

/*
 * kmem_buddy_trim - turn the allocated block at off into an exact
 * allocation of ceil(size / page_size) pages, giving the tail back (as
 * alloc_exact does).  For callers that need a block placed by
 * alloc_within or aligned beyond its size, and only part of it.
 * Errors as kmem_buddy_free; KMEM_ESIZE if size is 0 or larger than the
 * block; KMEM_EINVAL if the allocation at off is already exact.
 */
int kmem_buddy_trim(struct kmem_buddy *b, uint64_t off, uint64_t size);

/*
 * kmem_buddy_free - free the allocation that starts at off, whatever call
 * made it; coalesces with free buddies all the way up.  O(max_order) for a
 * block, O(max_order * log n) for an exact allocation.
 * Errors (and nothing changes): KMEM_ERANGE outside the range,
 * KMEM_EMISALIGNED for an offset that is not the start of an allocation
 * (not page aligned, or inside an allocated block), KMEM_EDOUBLEFREE when
 * off is the start of a free block, KMEM_ENOTALLOC when it lies inside
 * free memory (never allocated, or freed and since merged).
 */
int kmem_buddy_free(struct kmem_buddy *b, uint64_t off);

/*
 * kmem_buddy_free_exact - free an allocation and check its size: the
 * counterpart of free_pages_exact().  size must round up to the same page
 * count as the allocation (KMEM_ESIZE otherwise).  Other errors as free.
 */
int kmem_buddy_free_exact(struct kmem_buddy *b, uint64_t off, uint64_t size);

/*
 * kmem_buddy_alloc_size_of - the length in bytes of the allocation that
 * starts at off.  Errors as kmem_buddy_free, without changing anything.
 */
int kmem_buddy_alloc_size_of(const struct kmem_buddy *b, uint64_t off,
			     uint64_t *size);

/* kmem_buddy_stats - fill *st. */
void kmem_buddy_stats(const struct kmem_buddy *b, struct kmem_buddy_stats *st);

/* Range and geometry. */
uint64_t kmem_buddy_base(const struct kmem_buddy *b);
uint64_t kmem_buddy_npages(const struct kmem_buddy *b);
uint64_t kmem_buddy_page_size(const struct kmem_buddy *b);
unsigned kmem_buddy_max_order(const struct kmem_buddy *b);
uint64_t kmem_buddy_free_bytes(const struct kmem_buddy *b);
uint64_t kmem_buddy_largest_free(const struct kmem_buddy *b);

/* Bytes of out-of-band metadata this allocator holds. */
uint64_t kmem_buddy_meta_bytes(const struct kmem_buddy *b);

/*
 * kmem_buddy_check - walk every page and free list and verify the
 * invariants: blocks tile the range, free lists hold exactly the free
 * heads, no two free buddies of equal order (coalescing is complete),
 * counters agree.  Returns 0 or KMEM_ECORRUPT.  O(npages).
 */
int kmem_buddy_check(const struct kmem_buddy *b);

/*
 * kmem_buddy_is_pristine - true when everything is free and the free
 * blocks are exactly the maximal blocks made at create time.
 */
bool kmem_buddy_is_pristine(const struct kmem_buddy *b);

/* Helpers shared with the layers above. */
static inline bool kmem_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static inline unsigned kmem_log2_ceil(uint64_t x)
{
	return x <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(x - 1);
}

static inline unsigned kmem_log2_floor(uint64_t x)
{
	return 63 - (unsigned)__builtin_clzll(x);
}

#endif
