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
 * Metadata is one 12-byte record per page, out of band:
 *   state   NONE for a page that does not start a block; FREE, ALLOC or
 *           EXACT for the first page of a free block, an allocated block,
 *           or an exact allocation;
 *   order   the block's order (for EXACT: the order of the rounded block);
 *   next/prev  free-list links (page indices) of a FREE head; for an EXACT
 *           head, next holds the allocation's page count.
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

/*
 * order and state are bit-fields of a 32-bit unit, not uint8_t: stores
 * through a character type may alias anything, so uint8_t fields made
 * the compiler reload the free-list heads and counters after every store
 * into a page record.
 */
struct page {
	uint32_t next;
	uint32_t prev;
	uint32_t order : 8;
	uint32_t state : 8;
};

struct kmem_buddy {
	uint64_t base;
	uint64_t page_size;
	uint32_t npages;
	unsigned page_shift;
	unsigned max_order;
	uint32_t nonempty;		/* bit k: free list k is not empty */
	uint32_t head[KMEM_BUDDY_MAX_ORDER + 1];
	/*
	 * Free blocks per order as differences: nr_free(k) is the sum of
	 * nr_diff[k + 1 ..].  A split or a merge changes the count of every
	 * order between two bounds by one, which costs two stores here
	 * instead of one per level (nr_range).
	 */
	int64_t nr_diff[KMEM_BUDDY_MAX_ORDER + 2];
	uint64_t free_pages;
	uint64_t allocs, frees;
	struct page *pg;
};

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
 * Put p on free list k: the record and the list only.  The split and merge
 * loops call this per level and settle the counts and nonempty once.
 */
static inline void link_free(struct kmem_buddy *b, uint32_t p, unsigned k)
{
	uint32_t h = b->head[k];

	/* One store of the whole record, not a read-modify-write of the
	 * bit-fields. */
	b->pg[p] = (struct page){ .next = h, .prev = NIL, .order = k,
				  .state = PG_FREE };
	if (h != NIL)
		b->pg[h].prev = p;
	b->head[k] = p;
}

/* Take free block pg of order k off its list: the record and the list
 * only.  Returns the bit of k if the list is empty now, else 0. */
static inline uint32_t unlink_free(struct kmem_buddy *b, struct page *pg,
				   unsigned k)
{
	uint32_t gone = 0;

	if (pg->prev != NIL) {
		b->pg[pg->prev].next = pg->next;
	} else {
		b->head[k] = pg->next;
		if (pg->next == NIL)
			gone = 1u << k;
	}
	if (pg->next != NIL)
		b->pg[pg->next].prev = pg->prev;
	pg->state = PG_NONE;
	return gone;
}

static void list_push(struct kmem_buddy *b, uint32_t p, unsigned k)
{
	link_free(b, p, k);
	nr_range(b, k, k, 1);
	b->nonempty |= 1u << k;
	b->free_pages += (uint64_t)1 << k;
}

static void list_del(struct kmem_buddy *b, uint32_t p)
{
	struct page *pg = &b->pg[p];
	unsigned k = pg->order;

	b->nonempty &= ~unlink_free(b, pg, k);
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
	b->pg = kmem__calloc(params->npages, sizeof(*b->pg));
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
	for (unsigned k = 0; k <= KMEM_BUDDY_MAX_ORDER; k++)
		b->head[k] = NIL;
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

/* Take free block p of order o off its list and split it down to order k,
 * returning the lower halves' upper buddies to the lists. */
static void take(struct kmem_buddy *b, uint32_t p, unsigned o, unsigned k)
{
	/* The halves put back are orders k .. o-1: 2^o - 2^k pages, and
	 * each of those lists is non-empty now. */
	list_del(b, p);
	if (o > k) {
		b->free_pages += ((uint64_t)1 << o) - ((uint64_t)1 << k);
		b->nonempty |= ((1u << o) - 1) & ~((1u << k) - 1);
		nr_range(b, k, o - 1, 1);
	}
	while (o > k) {
		o--;
		link_free(b, p + ((uint32_t)1 << o), o);
	}
	b->pg[p].state = PG_ALLOC;
	b->pg[p].order = k;
}

static int alloc_order(struct kmem_buddy *b, unsigned k, uint32_t *pp)
{
	uint32_t mask = k > 31 ? 0 : b->nonempty >> k;
	unsigned o;
	uint32_t p;

	if (!mask)
		return KMEM_ENOMEM;
	o = k + (unsigned)__builtin_ctz(mask);
	p = b->head[o];
	take(b, p, o, k);
	*pp = p;
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

/* Keep the first n pages of the allocated block at p, free the rest. */
static void trim(struct kmem_buddy *b, uint32_t p, uint64_t n)
{
	uint64_t end = (uint64_t)p + ((uint64_t)1 << b->pg[p].order);

	if (p + n == end)
		return;
	unsigned c = kmem_log2_ceil(n);

	/* The tail blocks' buddies all lie inside the kept part, so none
	 * of them can merge: push without coalescing.  The head keeps the
	 * order of the rounded size (a block placed for a larger alignment
	 * shrinks to it), so an exact region always has n in
	 * (2^(c-1), 2^c). */
	push_range(b, p + n, end);
	b->pg[p].order = c;
	if (n == ((uint64_t)1 << c)) {
		b->pg[p].state = PG_ALLOC;
	} else {
		b->pg[p].state = PG_EXACT;
		b->pg[p].next = (uint32_t)n;
	}
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

/* Free block p of order k, merging with free buddies. */
static void free_block(struct kmem_buddy *b, uint32_t p, unsigned k)
{
	/* Locals: stores into page records could alias b's fields. */
	struct page *pg = b->pg;
	const unsigned max = b->max_order;
	const uint32_t n = b->npages;

	const unsigned k0 = k;
	uint32_t gone = 0;

	/* Merging moves pages between lists; the block adds 2^k free. */
	b->free_pages += (uint64_t)1 << k;
	while (k < max) {
		uint32_t q = p ^ ((uint32_t)1 << k);

		if (q >= n || pg[q].state != PG_FREE || pg[q].order != k)
			break;
		gone |= unlink_free(b, &pg[q], k);
		if (q < p) {
			pg[p].state = PG_NONE;
			p = q;
		}
		k++;
	}
	/* Orders k0 .. k-1 lost a block each, order k gained one. */
	if (k > k0)
		nr_range(b, k0, k - 1, -1);
	nr_range(b, k, k, 1);
	link_free(b, p, k);
	b->nonempty = (b->nonempty & ~gone) | 1u << k;
}

static uint64_t block_pages(const struct page *pg)
{
	return pg->state == PG_EXACT ? pg->next : (uint64_t)1 << pg->order;
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
		const struct page *pg = &b->pg[h];

		if (pg->state == PG_NONE)
			continue;
		if (p >= h + block_pages(pg))
			return KMEM_ECORRUPT;
		if (pg->state == PG_FREE)
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
	struct page *pg = &b->pg[p];

	if (pg->state == PG_EXACT) {
		uint64_t end = (uint64_t)p + pg->next, q = p;

		pg->state = PG_NONE;
		while (q < end) {
			unsigned k = fit_order(b, q, end);

			free_block(b, (uint32_t)q, k);
			q += (uint64_t)1 << k;
		}
	} else {
		pg->state = PG_NONE;
		free_block(b, p, pg->order);
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
	if (b->pg[p].state != PG_ALLOC)
		return KMEM_EINVAL;
	if (n == 0 || n > ((uint64_t)1 << b->pg[p].order))
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
	if (size_to_pages(b, size) != block_pages(&b->pg[p]))
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
	*size = block_pages(&b->pg[p]) << b->page_shift;
	return 0;
}

/* The free block containing page p, or NIL (see classify). */
static uint32_t free_block_of(const struct kmem_buddy *b, uint64_t p)
{
	for (unsigned k = 0; k <= b->max_order; k++) {
		uint64_t h = p & ~(((uint64_t)1 << k) - 1);
		const struct page *pg = &b->pg[h];

		if (pg->state == PG_NONE)
			continue;
		return pg->state == PG_FREE && p < h + block_pages(pg) ?
		       (uint32_t)h : NIL;
	}
	return NIL;
}

/* Is the aligned block [q, q + 2^k) wholly inside one free block? */
static bool block_is_free(const struct kmem_buddy *b, uint64_t q, unsigned k)
{
	uint32_t h = free_block_of(b, q);

	return h != NIL && b->pg[h].order >= k;
}

/* Split the free block holding [q, q + 2^k) down to exactly that block and
 * mark it allocated. */
static void carve(struct kmem_buddy *b, uint64_t q, unsigned k)
{
	uint32_t h = free_block_of(b, q);
	unsigned o = b->pg[h].order;

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
	b->pg[h].state = PG_ALLOC;
	b->pg[h].order = k;
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
			b->pg[q].state = PG_NONE;
	}
	if (n != ((uint64_t)1 << c)) {
		b->pg[p].state = PG_EXACT;
		b->pg[p].order = c;
		b->pg[p].next = (uint32_t)n;
	}
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
		for (uint32_t p = b->head[o]; p != NIL; p = b->pg[p].next) {
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
			b->pg[p].state = PG_ALLOC;
			b->pg[p].order = order;
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
	return sizeof(*b) + (uint64_t)b->npages * sizeof(*b->pg);
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
		const struct page *pg = &b->pg[p];
		uint64_t n;

		if (pg->state == PG_NONE || pg->order > b->max_order)
			return KMEM_ECORRUPT;
		n = block_pages(pg);
		if (n == 0 || p + n > b->npages ||
		    (p & (((uint64_t)1 << pg->order) - 1)))
			return KMEM_ECORRUPT;
		if (pg->state == PG_EXACT &&
		    (n >= ((uint64_t)1 << pg->order) ||
		     n <= ((uint64_t)1 << pg->order) / 2))
			return KMEM_ECORRUPT;
		for (uint64_t q = p + 1; q < p + n; q++)
			if (b->pg[q].state != PG_NONE)
				return KMEM_ECORRUPT;
		if (pg->state == PG_FREE) {
			uint64_t q = p ^ ((uint64_t)1 << pg->order);

			if (pg->order < b->max_order && q < b->npages &&
			    b->pg[q].state == PG_FREE &&
			    b->pg[q].order == pg->order)
				return KMEM_ECORRUPT;
			nr[pg->order]++;
			free_pages += n;
		}
		p += n;
	}
	if (free_pages != b->free_pages)
		return KMEM_ECORRUPT;
	/* Lists hold exactly the free heads, doubly linked. */
	for (unsigned k = 0; k <= KMEM_BUDDY_MAX_ORDER; k++) {
		uint64_t count = 0;
		uint32_t prev = NIL;

		if (k > b->max_order) {
			if (b->head[k] != NIL || nr_free(b, k))
				return KMEM_ECORRUPT;
			continue;
		}
		for (uint32_t q = b->head[k]; q != NIL; q = b->pg[q].next) {
			if (q >= b->npages || b->pg[q].state != PG_FREE ||
			    b->pg[q].order != k || b->pg[q].prev != prev ||
			    ++count > nr[k])
				return KMEM_ECORRUPT;
			prev = q;
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

		if (b->pg[p].state != PG_FREE || b->pg[p].order != k)
			return false;
		p += (uint64_t)1 << k;
	}
	return true;
}
