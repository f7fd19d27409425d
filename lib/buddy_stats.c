/*
 * buddy_stats.c - the buddy allocator's figures (the buddyinfo row, the
 * unusable-free index) and its invariant check (kmem_buddy_check walks
 * every block and free list against the invariants stated in buddy.c's
 * theory block).
 */
#include <stdbool.h>
#include <string.h>

#include "kmem/buddy.h"
#include "kmem/error.h"
#include "internal.h"
#include "buddy_impl.h"

static uint64_t nr_free(const struct kmem_buddy *b, unsigned k)
{
	int64_t n = 0;

	for (unsigned j = k + 1; j <= KMEM_BUDDY_MAX_ORDER + 1; j++)
		n += b->nr_diff[j];
	return (uint64_t)n;
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
