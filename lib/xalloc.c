/*
 * xalloc.c - constrained page allocation: alignment, zone, NUMA node,
 * device DMA mask and no-cross boundary (the heap's answer to vmem_xalloc
 * and to the GFP_DMA32 / dma_mask / segment-boundary rules of the Linux DMA
 * API).
 *
 * Theory.  Each constraint either rules an arena out (wrong node; physical
 * base above the mask) or narrows the offsets an allocation may occupy in it
 * to a window [lo, hi): the mask cuts the top of the arena; a boundary B
 * splits the arena into the pieces between physical multiples of B.  When
 * the arena's physical base is aligned to the block being placed and the
 * block is no larger than B, natural alignment alone keeps it from crossing
 * (the common case), and the window is the whole arena.  Within a window the
 * buddy places the lowest aligned block that fits (kmem_buddy_alloc_within)
 * and an exact request gives its tail back (kmem_buddy_trim); the resource
 * map takes the window as its min/max address.
 *
 * Arenas are tried in address order, so low memory is used first only when
 * nothing else is asked; a request with no constraint takes the fast path.
 */
#include <stdio.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/heap.h"
#include "kmem/vmem.h"
#include "internal.h"
#include "heap_impl.h"
#include "fmt.h"

#define DMA32_MASK 0xffffffffull

struct want {
	uint64_t size;		/* bytes asked */
	uint64_t npages;	/* pages kept */
	uint64_t align;		/* bytes, >= page size */
	unsigned order;		/* buddy block order to place */
	uint64_t mask;		/* effective DMA mask, UINT64_MAX = none */
	uint64_t boundary;
	bool phys;		/* physical constraints present */
};

/* Place a block of w->order pages inside [lo, hi) of a buddy arena. */
static int buddy_place(struct arena *a, const struct want *w, uint64_t lo,
		       uint64_t hi, bool whole, uint64_t *off)
{
	int rc;

	if (whole)
		rc = kmem_buddy_alloc_order(a->buddy, w->order, off);
	else
		rc = kmem_buddy_alloc_within(a->buddy, w->order, lo, hi, off);
	if (rc)
		return rc;
	if (w->npages < (1ull << w->order))
		rc = kmem_buddy_trim(a->buddy, *off,
				     w->npages * kmem_buddy_page_size(a->buddy));
	return rc;
}

static int vmem_place(struct arena *a, const struct want *w, uint64_t lo,
		      uint64_t hi, uint64_t nocross, uint64_t *off)
{
	struct kmem_vmem_req r = {
		.size = w->size, .align = w->align, .nocross = nocross,
		.minaddr = lo, .maxaddr = hi,
	};

	return kmem_vmem_xalloc(a->vmem, &r, off);
}

/* Try every boundary window of arena a inside [lo, hi). */
static int place(struct arena *a, const struct want *w, uint64_t lo,
		 uint64_t hi, uint64_t ps, uint64_t *off)
{
	uint64_t block = a->buddy ? (ps << w->order) : w->size;
	uint64_t B = w->boundary;
	bool whole = lo == a->d.base && hi == a->d.base + a->d.size;

	/* Natural alignment keeps a buddy block inside one B window when
	 * the arena's physical base is aligned to the block; the resource
	 * map honours B itself when offsets and addresses agree modulo B. */
	if (a->buddy && (!B || (block <= B && a->d.phys % block == 0)))
		return buddy_place(a, w, lo, hi, whole, off);
	if (!a->buddy && (!B || (a->d.phys - a->d.base) % B == 0))
		return vmem_place(a, w, lo, hi, B, off);
	/* Windows between physical multiples of B, in offset terms. */
	for (uint64_t p = (a->d.phys + (lo - a->d.base)) & ~(B - 1);
	     p < a->d.phys + (hi - a->d.base); p += B) {
		uint64_t wlo = p <= a->d.phys ? a->d.base : a->d.base + (p - a->d.phys);
		uint64_t whi = a->d.base + (p + B - a->d.phys);

		if (wlo < lo)
			wlo = lo;
		if (whi > hi)
			whi = hi;
		if (whi - wlo < w->size)
			continue;
		if ((a->buddy ? buddy_place(a, w, wlo, whi, false, off) :
				vmem_place(a, w, wlo, whi, 0, off)) == 0)
			return 0;
	}
	return KMEM_ENOMEM;
}

/* The offset window of arena a under w's mask, or false if none. */
static bool window(const struct arena *a, const struct want *w,
		   const struct kmem_alloc_req *req, uint64_t *lo, uint64_t *hi)
{
	*lo = a->d.base;
	*hi = a->d.base + a->d.size;
	if (req->node >= 0 && a->d.node != req->node)
		return false;
	if (w->phys) {
		if (!(a->d.flags & KMEM_ARENA_PHYS) || a->d.phys > w->mask)
			return false;
		if (a->d.phys + a->d.size - 1 > w->mask)
			*hi = a->d.base + (w->mask - a->d.phys + 1);
	}
	/* Offsets aligned beyond the arena base cannot come from blocks
	 * aligned relative to it. */
	if (a->buddy && (a->d.base % w->align || a->d.phys % w->align))
		return false;
	return *hi - *lo >= w->size;
}

static void describe(const struct kmem_alloc_req *req, const struct want *w,
		     char *buf, size_t len)
{
	char s[KMEM_SIZE_STR_MAX];
	size_t n = 0;

	buf[0] = 0;
	if (w->mask == DMA32_MASK)
		n += (size_t)snprintf(buf + n, len - n, " below 4 GiB");
	else if (w->mask != UINT64_MAX)
		n += (size_t)snprintf(buf + n, len - n, " within DMA mask 0x%llx",
				      (unsigned long long)w->mask);
	if (n < len && req->node >= 0)
		n += (size_t)snprintf(buf + n, len - n, " on node %d", req->node);
	if (n < len && w->boundary)
		n += (size_t)snprintf(buf + n, len - n, " not crossing a %s boundary",
				      kmem__size_str(w->boundary, s));
	if (n < len && req->align > 4096)
		snprintf(buf + n, len - n, " aligned to %s",
			 kmem__size_str(req->align, s));
}

static int prepare(const struct kmem_heap *h, const struct kmem_alloc_req *req,
		   struct want *w, char *msg, size_t msglen)
{
	char s1[KMEM_SIZE_STR_MAX], s2[KMEM_SIZE_STR_MAX];
	bool any_phys = false;

	if (req->size == 0) {
		kmem__msg(msg, msglen, "size 0 is not allowed");
		return KMEM_EZEROSIZE;
	}
	if ((req->align && !kmem_is_pow2(req->align)) ||
	    (req->boundary && !kmem_is_pow2(req->boundary))) {
		kmem__msg(msg, msglen, "alignment %llu or boundary %llu is not a power of two",
			  (unsigned long long)req->align,
			  (unsigned long long)req->boundary);
		return KMEM_EALIGN;
	}
	if (req->size > h->size) {
		kmem__msg(msg, msglen, "%s is larger than the whole pool (%s)",
			  kmem__size_str(req->size, s1), kmem__size_str(h->size, s2));
		return KMEM_ETOOBIG;
	}
	if ((req->flags & KMEM_ALLOC_ZERO) && !h->mem) {
		kmem__msg(msg, msglen, "zeroing needs the pool mapping");
		return KMEM_EINVAL;
	}
	memset(w, 0, sizeof(*w));
	w->size = req->size;
	w->npages = (req->size + h->page_size - 1) >> h->page_shift;
	w->align = req->align > h->page_size ? req->align : h->page_size;
	w->order = kmem_log2_ceil(w->npages);
	if (w->align >> h->page_shift > (1ull << w->order))
		w->order = kmem_log2_floor(w->align >> h->page_shift);
	if (req->flags & KMEM_ALLOC_POW2)
		w->npages = 1ull << w->order;
	if (h->policy == KMEM_POLICY_BUDDY)
		w->size = w->npages << h->page_shift;
	w->mask = req->dma_mask ? req->dma_mask : UINT64_MAX;
	if ((req->flags & KMEM_ALLOC_DMA32) && w->mask > DMA32_MASK)
		w->mask = DMA32_MASK;
	w->boundary = req->boundary;
	w->phys = w->mask != UINT64_MAX || w->boundary;
	if (w->boundary && req->size > w->boundary) {
		kmem__msg(msg, msglen, "a %s buffer cannot avoid crossing a %s boundary",
			  kmem__size_str(req->size, s1),
			  kmem__size_str(w->boundary, s2));
		return KMEM_ECONSTRAINT;
	}
	/* Only physical constraints need to know (the loop is O(arenas)). */
	for (size_t i = 0; w->phys && !any_phys && i < h->narenas; i++)
		any_phys |= (h->arenas[i].d.flags & KMEM_ARENA_PHYS) != 0;
	if (w->phys && !any_phys) {
		kmem__msg(msg, msglen, "physical addresses are unknown in this pool "
			  "(iova mode va), so dma32, DMA mask and boundary "
			  "requests cannot be honoured");
		return KMEM_ECONSTRAINT;
	}
	return 0;
}

int kmem_heap_xalloc(struct kmem_heap *h, const struct kmem_alloc_req *req,
		     struct kmem_alloc_res *res, char *msg, size_t msglen)
{
	char s1[KMEM_SIZE_STR_MAX], s2[KMEM_SIZE_STR_MAX], what[160];
	uint64_t largest = 0, off;
	bool eligible = false;
	struct want w;
	int rc = prepare(h, req, &w, msg, msglen);

	if (rc)
		return rc;
	for (size_t i = 0; i < h->narenas; i++) {
		struct arena *a = &h->arenas[i];
		uint64_t lo, hi, l;

		if (!window(a, &w, req, &lo, &hi))
			continue;
		eligible = true;
		l = kmem__arena_largest(a);
		if (l > largest)
			largest = l;
		if (place(a, &w, lo, hi, h->page_size, &off) == 0) {
			/* What the allocation occupies: the resource map
			 * rounds to its quantum (kmem_heap_size_of says so
			 * too, and callers charge this length). */
			uint64_t q = a->vmem ? kmem_vmem_quantum(a->vmem) : 1;
			uint64_t len = a->buddy ? w.npages << h->page_shift :
					       (w.size + q - 1) & ~(q - 1);

			if (req->flags & KMEM_ALLOC_ZERO)
				kmem__heap_zero_fill(h, off, len);
			kmem__heap_zero_forget(h, off, len);
			res->off = off;
			res->len = len;
			res->arena = (unsigned)i;
			return 0;
		}
	}
	describe(req, &w, what, sizeof(what));
	if (!eligible) {
		kmem__msg(msg, msglen, "no contiguous block of %s%s can exist "
			  "in this pool", kmem__size_str(req->size, s1), what);
		return KMEM_ECONSTRAINT;
	}
	kmem__msg(msg, msglen, "no contiguous block of %s%s; largest is %s",
		  kmem__size_str(req->size, s1), what,
		  kmem__size_str(largest, s2));
	return KMEM_ENOMEM;
}

int kmem_heap_claim(struct kmem_heap *h, uint64_t off, uint64_t len)
{
	struct arena *a = kmem__heap_arena_of(h, off);
	int rc;

	if (!a || len == 0 || len > a->d.base + a->d.size - off)
		return len == 0 ? KMEM_EZEROSIZE : KMEM_ERANGE;
	if (a->buddy) {
		rc = kmem_buddy_claim(a->buddy, off, len);
	} else {
		struct kmem_vmem_req r = {
			.size = len, .minaddr = off, .maxaddr = off + len,
		};
		uint64_t got;

		rc = kmem_vmem_xalloc(a->vmem, &r, &got);
		if (rc == KMEM_ENOMEM || rc == KMEM_ECONSTRAINT)
			rc = KMEM_EBUSY;
		else if (rc == 0 && got != off) {
			kmem_vmem_free(a->vmem, got);
			rc = KMEM_EMISALIGNED;
		}
	}
	if (rc == 0)
		kmem__heap_zero_forget(h, off, len);
	return rc;
}
