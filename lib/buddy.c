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
#include "buddy_impl.h"

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

/* Take free record r off the list whose first slot is *head: the record
 * and the list only.  Returns true if the list is empty now. */
static inline bool unlink_free(struct page *restrict pg,
			       uint32_t *restrict head, struct page *r)
{
	uint32_t next, prev;
	uint64_t links;

	r->tag = TAG(PG_NONE, 0);
	/* Both links NIL: its list's only block (the common case in a split
	 * or in a merge climbing through orders with few free blocks). */
	memcpy(&links, r, sizeof(links));
	if (links == UINT64_MAX) {
		*head = NIL;
		return true;
	}
	next = r->next;
	prev = r->prev;
	if (prev != NIL)
		pg[prev].next = next;
	else
		*head = next;
	if (next != NIL)
		pg[next].prev = prev;
	return false;
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

	if (unlink_free(b->pg, &b->lv[k].head, rec(b, p)))
		b->nonempty &= ~(1u << k);
	nr_range(b, k, k, -1);
	b->free_pages -= (uint64_t)1 << k;
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

/* Take the free block at slot s, of order o - the lowest order >= k with
 * a free block - off its list and split it down to order k, returning the
 * lower halves' upper buddies to the lists. */
static void take(struct kmem_buddy *b, uint32_t s, unsigned o, unsigned k)
{
	/* Locals, restrict: the loop's stores cannot alias b's fields. */
	struct page *restrict pg = b->pg;
	struct level *restrict lv = b->lv;

	/* The halves put back are orders k .. o-1: 2^o - 2^k pages, and
	 * each of those lists is non-empty now. */
	if (unlink_free(pg, &lv[o].head, &pg[s]))
		b->nonempty &= ~(1u << o);
	nr_range(b, o, o, -1);
	b->free_pages -= (uint64_t)1 << k;
	if (o > k) {
		b->nonempty |= ((1u << o) - 1) & ~((1u << k) - 1);
		nr_range(b, k, o - 1, 1);
	}
	/* The upper half of a 2^(o+1) block at p is p + 2^o = p ^ 2^o.
	 * Lists k .. o-1 are empty (o is the lowest non-empty order >= k;
	 * alloc_order), so each half becomes its list's only block. */
	for (uint64_t sb = (uint64_t)s * sizeof(*pg); o > k;) {
		struct level *l = &lv[--o];
		uint64_t qb = sb ^ l->sbyte;
		struct page *r = (struct page *)((char *)pg + qb);

		r->next = NIL;
		r->prev = NIL;
		r->tag = l->want;
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

		if (r->tag != l->want)
			break;
		if (unlink_free(pg, &l->head, r))
			gone |= bit;
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

static void free_head(struct kmem_buddy *b, uint32_t p, uint32_t s)
{
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
	uint64_t rel = off - b->base;
	uint32_t p;
	int rc;

	/* What classify() finds first: off starts a block allocated by
	 * order or size, whose own record says so (tags are set only on
	 * block heads). */
	if (off >= b->base && !(rel & (b->page_size - 1)) &&
	    (rel >> b->page_shift) < b->npages) {
		uint32_t s;

		p = (uint32_t)(rel >> b->page_shift);
		s = slot(b, p);
		if ((b->pg[s].tag >> 8) == PG_ALLOC) {
			free_head(b, p, s);
			return 0;
		}
	}
	rc = classify(b, off, &p);
	if (rc)
		return rc;
	free_head(b, p, slot(b, p));
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
	free_head(b, p, slot(b, p));
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
