/*
 * buddy.c - binary buddy allocator (Knuth, TAOCP vol. 1, 2.5; Linux
 * mm/page_alloc.c; SQLite mem5.c).
 *
 * Theory.  The range holds npages pages.  A block of order k is 2^k pages
 * and always starts at a page index that is a multiple of 2^k (natural
 * alignment); its buddy is the block of the same order at index ^ 2^k.
 * At create time the range is carved into maximal naturally aligned blocks
 * (so a range need not be a power of two long).  Allocation of order k takes
 * the first block from the lowest non-empty free list of order >= k and
 * splits it, pushing the upper halves onto the lists below.  Freeing pushes
 * the block back after merging it with its buddy for as long as the buddy is
 * a free block of the same order.  An exact allocation (alloc_pages_exact)
 * takes a 2^c block and frees its tail at once as maximal aligned blocks.
 *
 * Metadata is one 16-byte record per page, out of band (see slot()):
 *   tag     (state, order).  state is NONE for a page that does not
 *           start a block; FREE, ALLOC or EXACT for the first page of a
 *           free block, an allocated block, or an exact allocation; order
 *           is the block's order (for EXACT: the order of the rounded
 *           block).  A NONE tag is 0;
 *   next/prev  free-list links (slots) of a FREE head; for an EXACT head,
 *           next holds the allocation's page count.
 *
 * Invariants (checked by kmem_buddy_check):
 *   - the blocks named by non-NONE heads tile the range exactly;
 *   - a FREE head of order k is on free list k, and nothing else is;
 *   - no free block has a free buddy of its own order (merging is eager);
 *   - nonempty bit k is set iff free list k is not empty, and the counters
 *     equal the sums over the lists.
 * Because every page belongs to exactly one block and every block head is
 * aligned to its size, the block containing page p is found by testing
 * p rounded down to 2^0, 2^1, ... for a head: the first hit is it.
 *
 * Cost: alloc O(max_order) (the lowest non-empty list is found with one
 * ctz), free O(max_order), exact alloc/free O(max_order * log n).
 */
#include <stdlib.h>
#include <string.h>

#include "kmem/buddy.h"
#include "kmem/error.h"
#include "internal.h"

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

/*
 * Record layout.  A split or a merge touches the records of p ^ 2^j for
 * j = k .. o: a power-of-two stride.  Stored in page order, records 2^8 or
 * more pages apart (4 KiB of records) all land in one L1 set, and a
 * 20-level split and merge thrashes that 8-way set (cachegrind, order-0
 * alloc+free from a pristine 2^20-page range: 8 L1 misses per pair with
 * 12-byte records, 32 with a 10-byte split layout, none with slot()).
 * So the record of page p sits at slot(p): p with bits 2..7
 * (the record's line within its 4 KiB) XORed with bits 8..13, 14..19, ...
 * folded down.  slot() changes only bits below the ones it reads, so it is
 * its own inverse, and it is linear: slot(p ^ 2^j) = slot(p) ^ slot(2^j).
 * The split and merge loops therefore walk slots with one XOR per level
 * (lv[j].sbyte) and free lists link slots, so no loop converts.
 * slot() permutes each aligned block of 256 records, so the array is
 * rounded up to whole blocks; that costs up to 4 KiB, which is why ranges
 * under 4,096 pages (records in 64 KiB: L2-resident, few aliases) keep
 * the identity layout (fold = 0).
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

static uint64_t nr_free(const struct kmem_buddy *b, unsigned k)
{
	int64_t n = 0;

	for (unsigned j = k + 1; j <= KMEM_BUDDY_MAX_ORDER + 1; j++)
		n += b->nr_diff[j];
	return (uint64_t)n;
}

/*
 * Put slot s on free list k: the record and the list only.  The split and
 * merge loops settle the counts and nonempty once, not per level.
 */
static inline void link_free(struct page *restrict pg,
			     struct level *restrict lv, uint32_t s, unsigned k)
{
	uint32_t h = lv[k].head;

	/* Field stores: a compound literal would also clear spare. */
	pg[s].next = h;
	pg[s].prev = NIL;
	pg[s].tag = TAG(PG_FREE, k);
	if (h != NIL)
		pg[h].prev = s;
	lv[k].head = s;
}

/* Take slot s, a free block of order k, off its list: the record and the
 * list only.  Returns the bit of k if the list is empty now, else 0. */
static inline uint32_t unlink_free(struct page *restrict pg,
				   struct level *restrict lv, uint32_t s,
				   unsigned k)
{
	uint32_t next = pg[s].next, prev = pg[s].prev, gone = 0;

	if (prev != NIL) {
		pg[prev].next = next;
	} else {
		lv[k].head = next;
		if (next == NIL)
			gone = 1u << k;
	}
	if (next != NIL)
		pg[next].prev = prev;
	pg[s].tag = TAG(PG_NONE, 0);
	return gone;
}

static void list_push(struct kmem_buddy *b, uint32_t p, unsigned k)
{
	link_free(b->pg, b->lv, slot(b, p), k);
	nr_range(b, k, k, 1);
	b->nonempty |= 1u << k;
	b->free_pages += (uint64_t)1 << k;
}

static void list_del(struct kmem_buddy *b, uint32_t p)
{
	unsigned k = pg_order(b, p);

	b->nonempty &= ~unlink_free(b->pg, b->lv, slot(b, p), k);
	nr_range(b, k, k, -1);
	b->free_pages -= (uint64_t)1 << k;
}

/* The largest order a block starting at page p may have and still end
 * at or before page end. */
static unsigned fit_order(const struct kmem_buddy *b, uint64_t p, uint64_t end)
{
	unsigned k = p ? (unsigned)__builtin_ctzll(p) : 63;

	if (k > b->max_order)
		k = b->max_order;
	while (p + ((uint64_t)1 << k) > end)
		k--;
	return k;
}

/* Push [p, end) as maximal aligned free blocks, without merging: callers
 * use it where the blocks' buddies are known not to be free. */
static void push_range(struct kmem_buddy *b, uint64_t p, uint64_t end)
{
	while (p < end) {
		unsigned k = fit_order(b, p, end);

		list_push(b, (uint32_t)p, k);
		p += (uint64_t)1 << k;
	}
}

int kmem_buddy_create(const struct kmem_buddy_params *params,
		      struct kmem_buddy **out)
{
	struct kmem_buddy *b;
	unsigned max;

	if (!params || !out || !kmem_is_pow2(params->page_size) ||
	    params->page_size < 8 || params->npages == 0 ||
	    params->npages >= NIL ||
	    params->max_order > KMEM_BUDDY_MAX_ORDER ||
	    params->base % params->page_size)
		return KMEM_EINVAL;
	if (params->base + params->npages * params->page_size < params->base)
		return KMEM_EINVAL;

	b = kmem__calloc(1, sizeof(*b));
	if (!b)
		return KMEM_ENOMETA;
	/* One record past the range: page npages, the merge loop's
	 * sentinel (see free_block). */
	b->nrec = params->npages + 1;
	if (params->npages >= FOLD_MIN_PAGES) {
		b->fold = FOLD_MASK;
		b->nrec = (b->nrec + FOLD_BLOCK - 1) &
			  ~(uint64_t)(FOLD_BLOCK - 1);
	}
	b->pg = kmem__calloc(b->nrec, sizeof(*b->pg));
	if (!b->pg) {
		kmem__free(b);
		return KMEM_ENOMETA;
	}
	max = kmem_log2_floor(params->npages);
	if (params->max_order && params->max_order < max)
		max = params->max_order;
	b->base = params->base;
	b->page_size = params->page_size;
	b->page_shift = kmem_log2_floor(params->page_size);
	b->npages = (uint32_t)params->npages;
	b->max_order = max;
	for (unsigned k = 0; k <= KMEM_BUDDY_MAX_ORDER; k++) {
		b->lv[k].head = NIL;
		b->lv[k].sbyte = (uint64_t)slot(b, (uint64_t)1 << k) *
				 sizeof(struct page);
		b->lv[k].want = k < max ? TAG(PG_FREE, k) : UINT32_MAX;
	}
	push_range(b, 0, b->npages);
	*out = b;
	return 0;
}

void kmem_buddy_destroy(struct kmem_buddy *b)
{
	if (!b)
		return;
	kmem__free(b->pg);
	kmem__free(b);
}

/* Take the free block at slot s, of order o, off its list and split it
 * down to order k, returning the lower halves' upper buddies to the
 * lists. */
static void take(struct kmem_buddy *b, uint32_t s, unsigned o, unsigned k)
{
	/* Locals, restrict: the loop's stores cannot alias b's fields. */
	struct page *restrict pg = b->pg;
	struct level *restrict lv = b->lv;

	/* The halves put back are orders k .. o-1: 2^o - 2^k pages, and
	 * each of those lists is non-empty now. */
	b->nonempty &= ~unlink_free(pg, lv, s, o);
	nr_range(b, o, o, -1);
	b->free_pages -= (uint64_t)1 << k;
	if (o > k) {
		b->nonempty |= ((1u << o) - 1) & ~((1u << k) - 1);
		nr_range(b, k, o - 1, 1);
	}
	/* The upper half of a 2^(o+1) block at p is p + 2^o = p ^ 2^o. */
	for (uint64_t sb = (uint64_t)s * sizeof(*pg); o > k;) {
		struct level *l = &lv[--o];
		uint64_t qb = sb ^ l->sbyte;
		struct page *r = (struct page *)((char *)pg + qb);
		uint32_t h = l->head;

		r->next = h;
		r->prev = NIL;
		r->tag = l->want;
		if (h != NIL)
			pg[h].prev = (uint32_t)(qb / sizeof(*pg));
		l->head = (uint32_t)(qb / sizeof(*pg));
	}
	pg[s].tag = TAG(PG_ALLOC, k);
}

static int alloc_order(struct kmem_buddy *b, unsigned k, uint32_t *pp)
{
	uint32_t mask = k > 31 ? 0 : b->nonempty >> k;
	unsigned o;
	uint32_t s;

	if (!mask)
		return KMEM_ENOMEM;
	o = k + (unsigned)__builtin_ctz(mask);
	s = b->lv[o].head;
	take(b, s, o, k);
	*pp = slot(b, s);
	return 0;
}

int kmem_buddy_alloc_order(struct kmem_buddy *b, unsigned order, uint64_t *off)
{
	uint32_t p;
	int rc;

	if (order > b->max_order)
		return KMEM_EINVAL;
	rc = alloc_order(b, order, &p);
	if (rc)
		return rc;
	b->allocs++;
	*off = b->base + ((uint64_t)p << b->page_shift);
	return 0;
}

/* Pages needed for size bytes, or 0 when size is 0 or absurdly large. */
static uint64_t size_to_pages(const struct kmem_buddy *b, uint64_t size)
{
	if (size == 0 || size > UINT64_MAX - b->page_size)
		return 0;
	return (size + b->page_size - 1) >> b->page_shift;
}

static int size_check(const struct kmem_buddy *b, uint64_t size, uint64_t *np)
{
	uint64_t n;

	if (size == 0)
		return KMEM_EZEROSIZE;
	n = size_to_pages(b, size);
	if (n == 0 || n > ((uint64_t)1 << b->max_order))
		return KMEM_ETOOBIG;
	*np = n;
	return 0;
}

int kmem_buddy_alloc_size(struct kmem_buddy *b, uint64_t size, uint64_t *off)
{
	uint64_t n;
	int rc = size_check(b, size, &n);

	if (rc)
		return rc;
	return kmem_buddy_alloc_order(b, kmem_log2_ceil(n), off);
}

/* Mark the allocated head p as holding n pages of a rounded 2^c block. */
static void set_alloc(struct kmem_buddy *b, uint32_t p, unsigned c, uint64_t n)
{
	struct page *r = rec(b, p);

	if (n == ((uint64_t)1 << c)) {
		r->tag = TAG(PG_ALLOC, c);
	} else {
		r->tag = TAG(PG_EXACT, c);
		r->next = (uint32_t)n;
	}
}

/* Keep the first n pages of the allocated block at p, free the rest. */
static void trim(struct kmem_buddy *b, uint32_t p, uint64_t n)
{
	uint64_t end = (uint64_t)p + ((uint64_t)1 << pg_order(b, p));

	if (p + n == end)
		return;
	/* The tail blocks' buddies all lie inside the kept part, so none
	 * of them can merge: push without coalescing.  The head keeps the
	 * order of the rounded size (a block placed for a larger alignment
	 * shrinks to it), so an exact region of n pages in a 2^c block
	 * always has n in (2^(c-1), 2^c). */
	push_range(b, p + n, end);
	set_alloc(b, p, kmem_log2_ceil(n), n);
}

int kmem_buddy_alloc_exact(struct kmem_buddy *b, uint64_t size, uint64_t *off)
{
	uint64_t n;
	uint32_t p;
	int rc = size_check(b, size, &n);

	if (rc)
		return rc;
	rc = alloc_order(b, kmem_log2_ceil(n), &p);
	if (rc)
		return rc;
	trim(b, p, n);
	b->allocs++;
	*off = b->base + ((uint64_t)p << b->page_shift);
	return 0;
}

/*
 * Free block p (at slot s) of order k, its tag already NONE, merging with
 * free buddies.  Every record a merge absorbs is set NONE as it leaves its
 * list, so only the final head is written.
 */
static void free_block(struct kmem_buddy *b, uint32_t p, uint32_t s,
		       unsigned k)
{
	/* Locals, restrict: the loop's stores cannot alias b's fields. */
	struct page *restrict pg = b->pg;
	struct level *restrict lv = b->lv;
	const unsigned k0 = k;
	struct level *l = &lv[k];
	uint64_t sb = (uint64_t)s * sizeof(*pg);
	uint32_t gone = 0;

	/* Merging moves pages between lists; the block adds 2^k free. */
	b->free_pages += (uint64_t)1 << k;
	/*
	 * At order j the block is [p', p' + 2^j), p' = p with its bits below
	 * j cleared, and its buddy q = p' ^ 2^j.  The loop needs neither:
	 * q's slot is s ^ slot(2^j), q < p' iff p has bit j, and q is never
	 * past page npages (the block ends by npages, so q <= npages), whose
	 * record exists and stays NONE.  Nor does it test the order: the
	 * buddy's tag must equal lv[j].want, which at max_order matches none.
	 */
	for (uint32_t bit = 1u << k;; l++, bit <<= 1) {
		uint64_t qb = sb ^ l->sbyte;
		struct page *r = (struct page *)((char *)pg + qb);
		uint32_t next, prev;

		if (r->tag != l->want)
			break;
		next = r->next;
		prev = r->prev;
		if (prev != NIL)
			pg[prev].next = next;
		else if ((l->head = next) == NIL)
			gone |= bit;
		if (next != NIL)
			pg[next].prev = prev;
		r->tag = TAG(PG_NONE, 0);
		if (p & bit)
			sb = qb;
	}
	k = (unsigned)(l - lv);
	/* Orders k0 .. k-1 lost a block each, order k gained one. */
	if (k > k0)
		nr_range(b, k0, k - 1, -1);
	nr_range(b, k, k, 1);
	link_free(pg, lv, (uint32_t)(sb / sizeof(*pg)), k);
	b->nonempty = (b->nonempty & ~gone) | 1u << k;
}

static uint64_t block_pages(const struct kmem_buddy *b, uint64_t p)
{
	const struct page *r = rec(b, p);

	return (r->tag >> 8) == PG_EXACT ? r->next :
	       (uint64_t)1 << (r->tag & 0xff);
}

/*
 * Find the block that contains page index p (see the theory block) and
 * classify off.  Returns 0 with *head when off starts an allocated block,
 * or the error kmem_buddy_free documents.
 */
static int classify(const struct kmem_buddy *b, uint64_t off, uint32_t *head)
{
	uint64_t rel, p;

	if (off < b->base)
		return KMEM_ERANGE;
	rel = off - b->base;
	p = rel >> b->page_shift;
	if (p >= b->npages)
		return KMEM_ERANGE;
	for (unsigned k = 0; k <= b->max_order; k++) {
		uint64_t h = p & ~(((uint64_t)1 << k) - 1);
		const struct page *r = rec(b, h);
		unsigned st = r->tag >> 8;

		if (st == PG_NONE)
			continue;
		if (p >= h + (st == PG_EXACT ? r->next :
			      (uint64_t)1 << (r->tag & 0xff)))
			return KMEM_ECORRUPT;
		if (st == PG_FREE)
			return (h == p && !(rel & (b->page_size - 1))) ?
			       KMEM_EDOUBLEFREE : KMEM_ENOTALLOC;
		if (h != p || (rel & (b->page_size - 1)))
			return KMEM_EMISALIGNED;
		*head = (uint32_t)h;
		return 0;
	}
	return KMEM_ECORRUPT;
}

static void free_head(struct kmem_buddy *b, uint32_t p)
{
	uint32_t s = slot(b, p);
	struct page *r = &b->pg[s];
	unsigned k = r->tag & 0xff;

	if ((r->tag >> 8) == PG_EXACT) {
		uint64_t end = (uint64_t)p + r->next, q = p;

		r->tag = TAG(PG_NONE, 0);
		while (q < end) {
			unsigned j = fit_order(b, q, end);

			free_block(b, (uint32_t)q, slot(b, q), j);
			q += (uint64_t)1 << j;
		}
	} else {
		r->tag = TAG(PG_NONE, 0);
		free_block(b, p, s, k);
	}
	b->frees++;
}

int kmem_buddy_trim(struct kmem_buddy *b, uint64_t off, uint64_t size)
{
	uint32_t p;
	uint64_t n = size_to_pages(b, size);
	int rc = classify(b, off, &p);

	if (rc)
		return rc;
	if (pg_state(b, p) != PG_ALLOC)
		return KMEM_EINVAL;
	if (n == 0 || n > ((uint64_t)1 << pg_order(b, p)))
		return KMEM_ESIZE;
	trim(b, p, n);
	return 0;
}

int kmem_buddy_free(struct kmem_buddy *b, uint64_t off)
{
	uint32_t p;
	int rc = classify(b, off, &p);

	if (rc)
		return rc;
	free_head(b, p);
	return 0;
}

int kmem_buddy_free_exact(struct kmem_buddy *b, uint64_t off, uint64_t size)
{
	uint32_t p;
	int rc = classify(b, off, &p);

	if (rc)
		return rc;
	if (size_to_pages(b, size) != block_pages(b, p))
		return KMEM_ESIZE;
	free_head(b, p);
	return 0;
}

int kmem_buddy_alloc_size_of(const struct kmem_buddy *b, uint64_t off,
			     uint64_t *size)
{
	uint32_t p;
	int rc = classify(b, off, &p);

	if (rc)
		return rc;
	*size = block_pages(b, p) << b->page_shift;
	return 0;
}

/* The free block containing page p, or NIL (see classify). */
static uint32_t free_block_of(const struct kmem_buddy *b, uint64_t p)
{
	for (unsigned k = 0; k <= b->max_order; k++) {
		uint64_t h = p & ~(((uint64_t)1 << k) - 1);
		unsigned st = pg_state(b, h);

		if (st == PG_NONE)
			continue;
		return st == PG_FREE && p < h + block_pages(b, h) ?
		       (uint32_t)h : NIL;
	}
	return NIL;
}

/* Is the aligned block [q, q + 2^k) wholly inside one free block? */
static bool block_is_free(const struct kmem_buddy *b, uint64_t q, unsigned k)
{
	uint32_t h = free_block_of(b, q);

	return h != NIL && pg_order(b, h) >= k;
}

/* Split the free block holding [q, q + 2^k) down to exactly that block and
 * mark it allocated. */
static void carve(struct kmem_buddy *b, uint64_t q, unsigned k)
{
	uint32_t h = free_block_of(b, q);
	unsigned o = pg_order(b, h);

	list_del(b, h);
	while (o > k) {
		uint32_t half = (uint32_t)1 << --o;

		if (q >= h + half) {
			list_push(b, h, o);
			h += half;
		} else {
			list_push(b, h + half, o);
		}
	}
	set_tag(b, h, TAG(PG_ALLOC, k));
}

int kmem_buddy_claim(struct kmem_buddy *b, uint64_t off, uint64_t size)
{
	uint64_t rel, p, n, end, q;
	unsigned c;

	if (size == 0)
		return KMEM_EZEROSIZE;
	if (off < b->base || (off - b->base) >> b->page_shift >= b->npages)
		return KMEM_ERANGE;
	rel = off - b->base;
	p = rel >> b->page_shift;
	n = size_to_pages(b, size);
	if (n == 0 || n > ((uint64_t)1 << b->max_order) || p + n > b->npages)
		return KMEM_ETOOBIG;
	c = kmem_log2_ceil(n);
	/* Only what an allocation could have been: aligned to its rounded
	 * size, as every block and exact allocation is. */
	if ((rel & (b->page_size - 1)) || (p & (((uint64_t)1 << c) - 1)))
		return KMEM_EMISALIGNED;
	end = p + n;
	for (q = p; q < end; q += (uint64_t)1 << fit_order(b, q, end))
		if (!block_is_free(b, q, fit_order(b, q, end)))
			return KMEM_EBUSY;
	for (q = p; q < end; q += (uint64_t)1 << fit_order(b, q, end)) {
		carve(b, q, fit_order(b, q, end));
		if (q != p)
			set_tag(b, q, TAG(PG_NONE, 0));
	}
	set_alloc(b, (uint32_t)p, c, n);
	b->allocs++;
	return 0;
}

int kmem_buddy_alloc_within(struct kmem_buddy *b, unsigned order, uint64_t lo,
			    uint64_t hi, uint64_t *off)
{
	uint64_t n = (uint64_t)1 << order;
	uint64_t plo, phi;

	if (order > b->max_order || lo >= hi)
		return order > b->max_order ? KMEM_EINVAL : KMEM_ENOMEM;
	/* Window in page indices: pages wholly inside [lo, hi). */
	plo = lo <= b->base ? 0 :
	      ((lo - b->base) + b->page_size - 1) >> b->page_shift;
	if (hi <= b->base)
		return KMEM_ENOMEM;
	phi = (hi - b->base) >> b->page_shift;
	if (phi > b->npages)
		phi = b->npages;
	for (unsigned o = order; o <= b->max_order; o++) {
		for (uint32_t sp = b->lv[o].head; sp != NIL; sp = b->pg[sp].next) {
			uint32_t p = slot(b, sp);
			/* Lowest 2^order-aligned sub-block of [p, p+2^o)
			 * at or above plo that ends by phi. */
			uint64_t s = plo > p ? plo : p;

			s = (s + n - 1) & ~(n - 1);
			if (s + n > p + ((uint64_t)1 << o) || s + n > phi)
				continue;
			list_del(b, p);
			/* Split toward s, returning the other halves. */
			while (o > order) {
				uint32_t half = (uint32_t)1 << --o;

				if (s >= p + half) {
					list_push(b, p, o);
					p += half;
				} else {
					list_push(b, p + half, o);
				}
			}
			set_tag(b, p, TAG(PG_ALLOC, order));
			b->allocs++;
			*off = b->base + ((uint64_t)p << b->page_shift);
			return 0;
		}
	}
	return KMEM_ENOMEM;
}

uint64_t kmem_buddy_base(const struct kmem_buddy *b) { return b->base; }
uint64_t kmem_buddy_npages(const struct kmem_buddy *b) { return b->npages; }
uint64_t kmem_buddy_page_size(const struct kmem_buddy *b) { return b->page_size; }
unsigned kmem_buddy_max_order(const struct kmem_buddy *b) { return b->max_order; }

uint64_t kmem_buddy_free_bytes(const struct kmem_buddy *b)
{
	return b->free_pages << b->page_shift;
}

uint64_t kmem_buddy_largest_free(const struct kmem_buddy *b)
{
	if (!b->nonempty)
		return 0;
	return (uint64_t)1 << (kmem_log2_floor(b->nonempty) + b->page_shift);
}

uint64_t kmem_buddy_meta_bytes(const struct kmem_buddy *b)
{
	return sizeof(*b) + b->nrec * sizeof(*b->pg);
}

void kmem_buddy_stats(const struct kmem_buddy *b, struct kmem_buddy_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->page_size = b->page_size;
	st->total_bytes = (uint64_t)b->npages << b->page_shift;
	st->free_bytes = b->free_pages << b->page_shift;
	st->used_bytes = st->total_bytes - st->free_bytes;
	st->largest_free = kmem_buddy_largest_free(b);
	st->max_order = b->max_order;
	st->allocs = b->allocs;
	st->frees = b->frees;
	for (unsigned k = 0; k <= b->max_order; k++)
		st->nr_free[k] = nr_free(b, k);
	/* unusable_free_index(): free pages in blocks too small for order k,
	 * as a share of all free pages (mm/vmstat.c). */
	for (unsigned k = 0; k <= b->max_order; k++) {
		uint64_t suitable = 0;

		if (!b->free_pages)
			continue;
		for (unsigned o = k; o <= b->max_order; o++)
			suitable += st->nr_free[o] << o;
		st->unusable_index[k] = (unsigned)
			(((b->free_pages - suitable) * 1000) / b->free_pages);
	}
}

int kmem_buddy_check(const struct kmem_buddy *b)
{
	uint64_t nr[KMEM_BUDDY_MAX_ORDER + 1] = { 0 };
	uint64_t free_pages = 0, p = 0;

	/* Heads tile the range; free heads have no free equal buddy. */
	while (p < b->npages) {
		unsigned st = pg_state(b, p), k = pg_order(b, p);
		uint64_t n;

		if (st == PG_NONE || st > PG_EXACT || k > b->max_order ||
		    (rec(b, p)->tag & ~0xffffu))
			return KMEM_ECORRUPT;
		n = block_pages(b, p);
		if (n == 0 || p + n > b->npages ||
		    (p & (((uint64_t)1 << k) - 1)))
			return KMEM_ECORRUPT;
		if (st == PG_EXACT &&
		    (n >= ((uint64_t)1 << k) || n <= ((uint64_t)1 << k) / 2))
			return KMEM_ECORRUPT;
		for (uint64_t q = p + 1; q < p + n; q++)
			if (rec(b, q)->tag != TAG(PG_NONE, 0))
				return KMEM_ECORRUPT;
		if (st == PG_FREE) {
			uint64_t q = p ^ ((uint64_t)1 << k);

			if (k < b->max_order && q < b->npages &&
			    rec(b, q)->tag == TAG(PG_FREE, k))
				return KMEM_ECORRUPT;
			nr[k]++;
			free_pages += n;
		}
		p += n;
	}
	if (free_pages != b->free_pages)
		return KMEM_ECORRUPT;
	/* The records past the range (the merge sentinel at npages and the
	 * fold's padding) stay NONE. */
	for (p = b->npages; p < b->nrec; p++)
		if (rec(b, p)->tag != TAG(PG_NONE, 0))
			return KMEM_ECORRUPT;
	/* Lists hold exactly the free heads, doubly linked. */
	for (unsigned k = 0; k <= KMEM_BUDDY_MAX_ORDER; k++) {
		uint64_t count = 0;
		uint32_t prev = NIL;

		if (k > b->max_order) {
			if (b->lv[k].head != NIL || nr_free(b, k))
				return KMEM_ECORRUPT;
			continue;
		}
		for (uint32_t s = b->lv[k].head; s != NIL; s = b->pg[s].next) {
			if (s >= b->nrec || slot(b, s) >= b->npages ||
			    b->pg[s].tag != TAG(PG_FREE, k) ||
			    b->pg[s].prev != prev ||
			    ++count > nr[k])
				return KMEM_ECORRUPT;
			prev = s;
		}
		if (count != nr[k] || count != nr_free(b, k) ||
		    !!(b->nonempty & (1u << k)) != (count != 0))
			return KMEM_ECORRUPT;
	}
	return 0;
}

bool kmem_buddy_is_pristine(const struct kmem_buddy *b)
{
	uint64_t p = 0;

	if (b->free_pages != b->npages)
		return false;
	while (p < b->npages) {
		unsigned k = fit_order(b, p, b->npages);

		if (rec(b, p)->tag != TAG(PG_FREE, k))
			return false;
		p += (uint64_t)1 << k;
	}
	return true;
}
