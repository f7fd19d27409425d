/*
 * buddy_impl.h - the buddy allocator's private structures and record
 * accessors, shared by buddy.c (lists, split, merge, claim) and
 * buddy_stats.c (figures and the invariant check).  lib/ only.
 */
#ifndef KMEM_BUDDY_IMPL_H
#define KMEM_BUDDY_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kmem/buddy.h"

#define NIL UINT32_MAX

enum { PG_NONE = 0, PG_FREE, PG_ALLOC, PG_EXACT };

/* A page's tag: state above the order; a NONE tag is 0. */
#define TAG(state, order)	((uint32_t)(state) << 8 | (order))

/*
 * One 16-byte record per page.  next/prev are the free-list links of a
 * FREE head, as slots (below); for an EXACT head, next holds the
 * allocation's page count.
 */
struct page {
	uint32_t next;
	uint32_t prev;
	uint32_t tag;
	uint32_t spare;
};

/* unlink_free() reads both links as one 8-byte word. */
_Static_assert(offsetof(struct page, prev) == sizeof(uint32_t) &&
	       sizeof(struct page) == 16, "links first, 16-byte records");

/*
 * Record layout.  A split or a merge touches the records of p ^ 2^j for
 * j = k .. o: a power-of-two stride.  In page order, records a multiple of
 * 4 KiB apart (2^8 pages of 16-byte records; 2^10 of the 12-byte ones
 * this replaced) all land in one L1 set, and a 20-level split and merge
 * thrashes that 8-way set (cachegrind, order-0 alloc+free from a pristine
 * 2^20-page range: 8 L1 misses per pair with 12-byte records, 32 with a
 * 10-byte layout in two arrays, none with slot()).  So the record of page
 * p sits at slot(p): p with bits 2..7 (the record's line within its 4 KiB)
 * XORed with bits 8..13, 14..19, ... folded down, which spreads the
 * strides over 6 sets (the 21 levels of a 2^20-page range: at most 4 lines
 * in one set, half its ways).  slot() changes only bits below the ones it
 * reads, so it is its own inverse, and it is linear: slot(p ^ 2^j) =
 * slot(p) ^ slot(2^j).  The split and merge loops therefore walk slots
 * with one XOR per level (lv[j].sbyte) and free lists link slots, so no
 * loop converts.  slot() permutes each aligned block of 256 records, so
 * the array is rounded up to whole blocks; that costs up to 4 KiB, which
 * is why ranges under 4,096 pages (records in 64 KiB: L2-resident, few
 * aliases) keep the identity layout (fold = 0).
 */
#define FOLD_MASK	0xfcu
#define FOLD_BLOCK	256u
#define FOLD_MIN_PAGES	4096u

/* Per order, together because the split and merge loops read them per
 * level: the free list's first slot, the tag a buddy must have to merge
 * at this order, and slot(2^k) scaled to bytes (the loops keep slots as
 * byte offsets, which address a record without a shift). */
struct level {
	uint32_t head;
	uint32_t want;			/* TAG(FREE, k); below max_order only */
	uint64_t sbyte;			/* slot(2^k), in bytes of records */
};

struct kmem_buddy {
	uint64_t base;
	uint64_t page_size;
	uint32_t npages;
	unsigned page_shift;
	unsigned max_order;
	uint32_t nonempty;		/* bit k: free list k is not empty */
	uint32_t fold;			/* FOLD_MASK or 0 */
	struct level lv[KMEM_BUDDY_MAX_ORDER + 1];
	/*
	 * Free blocks per order as differences: nr_free(k) is the sum of
	 * nr_diff[k + 1 ..].  A split or a merge changes the count of every
	 * order between two bounds by one, which costs two stores here
	 * instead of one per level (nr_range).
	 */
	int64_t nr_diff[KMEM_BUDDY_MAX_ORDER + 2];
	uint64_t free_pages;
	uint64_t allocs, frees;
	uint64_t nrec;			/* records allocated */
	struct page *pg;		/* indexed by slot */
};

static inline uint32_t slot(const struct kmem_buddy *b, uint64_t p)
{
	uint32_t x = (uint32_t)p;

	return x ^ ((x >> 6 ^ x >> 12 ^ x >> 18 ^ x >> 24) & b->fold);
}

static inline struct page *rec(const struct kmem_buddy *b, uint64_t p)
{
	return &b->pg[slot(b, p)];
}

static inline unsigned pg_state(const struct kmem_buddy *b, uint64_t p)
{
	return rec(b, p)->tag >> 8;
}

static inline unsigned pg_order(const struct kmem_buddy *b, uint64_t p)
{
	return rec(b, p)->tag & 0xff;
}

static inline void set_tag(struct kmem_buddy *b, uint64_t p, uint32_t tag)
{
	rec(b, p)->tag = tag;
}

/* Add v to the free-block count of every order in [lo, hi]. */
static inline void nr_range(struct kmem_buddy *b, unsigned lo, unsigned hi,
			    int64_t v)
{
	b->nr_diff[hi + 1] += v;
	b->nr_diff[lo] -= v;
}

/* The largest order a block starting at page p may have and still end
 * at or before page end. */
static inline unsigned fit_order(const struct kmem_buddy *b, uint64_t p,
				 uint64_t end)
{
	unsigned k = p ? (unsigned)__builtin_ctzll(p) : 63;

	if (k > b->max_order)
		k = b->max_order;
	while (p + ((uint64_t)1 << k) > end)
		k--;
	return k;
}

/* Pages held by the block headed at p (an exact allocation's own count). */
static inline uint64_t block_pages(const struct kmem_buddy *b, uint64_t p)
{
	const struct page *r = rec(b, p);

	return (r->tag >> 8) == PG_EXACT ? r->next :
	       (uint64_t)1 << (r->tag & 0xff);
}

#endif
