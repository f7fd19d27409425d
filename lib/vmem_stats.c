/*
 * vmem_stats.c - the resource map's figures and its invariant check
 * (kmem_vmem_check walks every span, segment, free list and hash bucket
 * against the invariants stated in vmem.c's theory block).
 */
#include <stdbool.h>
#include <string.h>

#include "kmem/vmem.h"
#include "kmem/error.h"
#include "internal.h"
#include "vmem_impl.h"

uint64_t kmem_vmem_quantum(const struct kmem_vmem *vm) { return vm->quantum; }
uint64_t kmem_vmem_total_bytes(const struct kmem_vmem *vm) { return vm->total; }
uint64_t kmem_vmem_free_bytes(const struct kmem_vmem *vm) { return vm->free_bytes; }

uint64_t kmem_vmem_largest_free(const struct kmem_vmem *vm)
{
	uint64_t max = 0;

	if (!vm->nonempty)
		return 0;
	for (const struct seg *s = vm->flist[kmem__vmem_flog2(vm->nonempty)]; s;
	     s = s->lnext)
		if (s->size > max)
			max = s->size;
	return max;
}

uint64_t kmem_vmem_meta_bytes(const struct kmem_vmem *vm)
{
	return sizeof(*vm) + vm->nsegs * sizeof(struct seg) +
	       ((uint64_t)1 << vm->hash_bits) * sizeof(*vm->hash);
}

void kmem_vmem_stats(const struct kmem_vmem *vm, struct kmem_vmem_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->quantum = vm->quantum;
	st->total_bytes = vm->total;
	st->free_bytes = vm->free_bytes;
	st->used_bytes = vm->total - vm->free_bytes;
	st->nr_spans = vm->nspans;
	st->nr_alloc_segs = vm->nalloc;
	for (unsigned k = 0; k < KMEM_VMEM_NLISTS; k++) {
		st->nr_free[k] = vm->nr_free[k];
		st->nr_free_segs += vm->nr_free[k];
	}
	st->largest_free = kmem_vmem_largest_free(vm);
	st->allocs = vm->allocs;
	st->frees = vm->frees;
	st->nr_spare_segs = vm->nspare;
	st->hash_buckets = (uint64_t)1 << vm->hash_bits;
	st->meta_bytes = kmem_vmem_meta_bytes(vm);
}

struct tally {
	uint64_t nr_free[KMEM_VMEM_NLISTS];
	uint64_t segs, spans, nalloc, total, free_bytes, max_span;
};

static bool linked(const struct seg *s)
{
	return s->aprev->anext == s && s->anext->aprev == s;
}

/* One span marker and the segments that tile it; returns the record
 * after them, or NULL when the span is broken. */
static const struct seg *check_span(const struct kmem_vmem *vm,
				    const struct seg *sp, struct tally *t)
{
	const struct seg *s = sp->anext;
	uint64_t at = sp->start, end = sp->start + sp->size;

	if (sp->size == 0 || ((sp->start | sp->size) & vm->qmask) ||
	    end < sp->start)
		return NULL;
	for (; s->type == SEG_FREE || s->type == SEG_ALLOC; s = s->anext) {
		if (++t->segs > vm->nsegs || !linked(s) || s->start != at ||
		    s->size == 0 || s->size > end - at || (s->size & vm->qmask))
			return NULL;
		if (s->type == SEG_ALLOC) {
			t->nalloc++;
		} else {
			if (s->aprev->type == SEG_FREE)
				return NULL;
			t->nr_free[kmem__vmem_flog2(s->size)]++;
			t->free_bytes += s->size;
		}
		at += s->size;
	}
	return at == end ? s : NULL;
}

static int check_tiling(const struct kmem_vmem *vm, struct tally *t)
{
	const struct seg *s = vm->head.anext, *sl = vm->head.lnext;
	uint64_t prev_end = 0;

	while (s != &vm->head) {
		/* Markers come in span-list order, sorted and disjoint. */
		if (s->type != SEG_SPAN || s != sl || !linked(s) ||
		    sl->lnext->lprev != sl || ++t->segs > vm->nsegs ||
		    (t->spans && s->start < prev_end))
			return KMEM_ECORRUPT;
		t->spans++;
		t->total += s->size;
		if (s->size > t->max_span)
			t->max_span = s->size;
		prev_end = s->start + s->size;
		sl = sl->lnext;
		s = check_span(vm, s, t);
		if (!s)
			return KMEM_ECORRUPT;
	}
	return sl == &vm->head && linked(&vm->head) &&
	       vm->head.lnext->lprev == &vm->head ? 0 : KMEM_ECORRUPT;
}

static int check_lists(const struct kmem_vmem *vm, const struct tally *t)
{
	for (unsigned k = 0; k < KMEM_VMEM_NLISTS; k++) {
		const struct seg *s, *prev = NULL;
		uint64_t n = 0;

		for (s = vm->flist[k]; s; prev = s, s = s->lnext)
			if (s->type != SEG_FREE || kmem__vmem_flog2(s->size) != k ||
			    s->lprev != prev || !linked(s) ||
			    ++n > t->nr_free[k])
				return KMEM_ECORRUPT;
		if (n != t->nr_free[k] || n != vm->nr_free[k] ||
		    !!(vm->nonempty & (1ull << k)) != (n != 0))
			return KMEM_ECORRUPT;
	}
	return 0;
}

static int check_hash(const struct kmem_vmem *vm, const struct tally *t)
{
	uint64_t n = 0;

	for (size_t i = 0; i < (size_t)1 << vm->hash_bits; i++)
		for (const struct seg *s = vm->hash[i]; s; s = s->lnext)
			if (s->type != SEG_ALLOC ||
			    kmem__vmem_slot(vm->hash_bits, s->start) != i ||
			    !linked(s) || ++n > t->nalloc)
				return KMEM_ECORRUPT;
	return n == t->nalloc && n == vm->nalloc ? 0 : KMEM_ECORRUPT;
}

int kmem_vmem_check(const struct kmem_vmem *vm)
{
	struct tally t;
	uint64_t nspare = 0;

	memset(&t, 0, sizeof(t));
	if (check_tiling(vm, &t) || check_lists(vm, &t) || check_hash(vm, &t))
		return KMEM_ECORRUPT;
	for (const struct seg *s = vm->spare; s; s = s->lnext)
		if (s->type != SEG_SPARE || ++nspare > vm->nspare)
			return KMEM_ECORRUPT;
	if (nspare != vm->nspare || nspare > SPARE_MAX ||
	    t.segs + nspare != vm->nsegs || t.spans != vm->nspans ||
	    t.total != vm->total || t.free_bytes != vm->free_bytes ||
	    t.max_span != vm->max_span || vm->hash_bits < HASH_MIN_BITS ||
	    vm->hash_bits > HASH_MAX_BITS)
		return KMEM_ECORRUPT;
	return 0;
}
