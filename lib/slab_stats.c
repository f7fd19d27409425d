/*
 * slab_stats.c - a slab cache's figures in the columns of /proc/slabinfo
 * and its invariant check (the invariants are stated in slab.c's theory
 * block).
 */
#include <string.h>

#include "kmem/error.h"
#include "kmem/slab.h"
#include "internal.h"
#include "slab_impl.h"

void kmem_cache_stats(const struct kmem_cache *c, struct kmem_cache_stats *st)
{
	uint64_t slabs = kmem__cache_nslabs(c);

	memset(st, 0, sizeof(*st));
	strcpy(st->name, c->name);
	st->active_objs = kmem__cache_active_objs(c);
	st->num_objs = slabs * c->objs;
	st->objsize = c->objsize;
	st->objperslab = c->objs;
	st->pagesperslab = c->slab_pages;
	st->active_slabs = c->counts[L_FULL] + c->counts[c->plist] -
			   kmem__cache_head_parked(c);
	st->num_slabs = slabs;
	st->full_slabs = c->counts[L_FULL];
	st->partial_slabs = c->counts[c->plist] - kmem__cache_head_parked(c);
	st->empty_slabs = kmem__cache_nempty(c);
	st->meta_bytes = sizeof(*c) +
			 (slabs + c->nspare) * kmem__slab_desc_bytes(c) +
			 c->poison_maps * c->nwords * sizeof(uint64_t);
	st->flags = c->flags;
	st->poison_errors = c->poison_errors;
	st->redzone_errors = c->redzone_errors;
	st->last_bad = c->last_bad;
}

static int check_slab(const struct kmem_cache *c, const struct kmem_slab *s,
		      unsigned l)
{
	const uint64_t *poison = *kmem__slab_poison(c, s);
	const uint64_t *pend = kmem__slab_pending(c, s);
	uint32_t inuse = kmem__slab_inuse(s);
	uint64_t nfree = 0;

	if (s->cache != kmem__slab_tag(c) || s->list != l || inuse > c->objs ||
	    s->hint >= c->nwords)
		return KMEM_ECORRUPT;
	for (uint32_t w = 0; w < c->nwords; w++) {
		if ((w < s->hint && s->freemap[w]) || (s->freemap[w] & pend[w]))
			return KMEM_ECORRUPT;
		nfree += (uint64_t)__builtin_popcountll(s->freemap[w]) +
			 (uint64_t)__builtin_popcountll(pend[w]);
	}
	if (c->objs % 64 &&
	    (kmem__slab_free_word(c, s, c->nwords - 1) >> (c->objs % 64)))
		return KMEM_ECORRUPT;
	if (nfree + inuse != c->objs)
		return KMEM_ECORRUPT;
	/* Only free objects carry the poison mark. */
	if (poison) {
		if (!(c->debug & KMEM_CACHE_POISON))
			return KMEM_ECORRUPT;
		for (uint32_t w = 0; w < c->nwords; w++)
			if (poison[w] & ~kmem__slab_free_word(c, s, w))
				return KMEM_ECORRUPT;
	}
	/* Only the head of the partial list may be empty there (parked). */
	if ((l == L_EMPTY || (inuse == 0 && s == c->heads[c->plist])) !=
	    (inuse == 0) || (l == L_FULL) != (inuse == c->objs))
		return KMEM_ECORRUPT;
	for (uint64_t i = 0; i < c->slab_pages; i++)
		if (c->map[(s->start >> c->page_shift) + i] != s)
			return KMEM_ECORRUPT;
	if (s->base < s->start + c->rz_left ||
	    s->base - c->rz_left + (uint64_t)c->objs * c->size >
	    s->start + c->slab_bytes)
		return KMEM_ECORRUPT;
	return 0;
}

int kmem_cache_check(const struct kmem_cache *c)
{
	uint64_t maps = 0;

	/* Partial slabs only on the list that goes with c->debug. */
	if (c->plist != (c->debug ? L_DPARTIAL : L_PARTIAL) ||
	    c->counts[c->plist == L_PARTIAL ? L_DPARTIAL : L_PARTIAL])
		return KMEM_ECORRUPT;

	for (unsigned l = 0; l < L_COUNT; l++) {
		const struct kmem_slab *s = c->heads[l];
		uint64_t n = 0;

		if (!s) {
			if (c->counts[l])
				return KMEM_ECORRUPT;
			continue;
		}
		do {
			if (check_slab(c, s, l) || s->link.next->link.prev != s ||
			    ++n > c->counts[l])
				return KMEM_ECORRUPT;
			maps += *kmem__slab_poison(c, s) != NULL;
			s = s->link.next;
		} while (s != c->heads[l]);
		if (n != c->counts[l])
			return KMEM_ECORRUPT;
	}
	for (const struct kmem_slab *s = c->spare; s; s = s->link.next)
		if (++maps > c->poison_maps + c->nspare)
			return KMEM_ECORRUPT;
	return maps == c->poison_maps + c->nspare &&
	       c->nspare <= KMEM_SLAB_SPARE_DESC ? 0 : KMEM_ECORRUPT;
}
