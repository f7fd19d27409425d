/*
 * vmem.c - vmem-style resource map (Bonwick & Adams, "Magazines and Vmem:
 * Extending the Slab Allocator to Many CPUs and Arbitrary Resources",
 * USENIX 2001; illumos uts/common/os/vmem.c; Vahalia 12.3).
 *
 * Theory.  An arena is a set of disjoint spans of a 64-bit offset space,
 * each tiled exactly by free and allocated segments.  Segments and span
 * markers sit on one address-ordered, circular, doubly linked list (the
 * boundary tags) with a sentinel in the arena, each span's marker before
 * its segments.  Freeing a segment merges it with whichever list neighbour
 * is free, in O(1); a marker or the sentinel is never free, so merging
 * stops at span boundaries even where two spans touch.  Every boundary,
 * and so every address handed out, is a multiple of the quantum.
 *
 * Free segments are also on one of 64 segregated lists (list k holds sizes
 * [2^k, 2^(k+1)); a bitmap says which are non-empty).  Instant fit serves
 * size s from the head of the lowest non-empty list k >= ceil(log2 s),
 * whose members all fit, with one ctz; only when there is none does it
 * search list floor(log2 s).  Best fit takes the smallest segment that
 * fits (the lowest class with a fit holds it; ties go to the lower
 * address), first fit the lowest address; both scan the classes that can
 * hold s.  A request is carved at the lowest address its constraints
 * allow, the part below staying in the free segment's record: so the
 * unconstrained case only shrinks that record (relisting it only when its
 * class changes) and links one new record for the allocation.
 *
 * Allocated segments are found by start in a hash table (Fibonacci
 * hashing, chained through the segment), doubled when it holds more
 * segments than buckets.  As in vmem, doubling is opportunistic: without
 * memory for a new table the old one works on with longer chains, so it
 * never fails a call.  Records are recycled on a spare list (at most
 * SPARE_MAX kept).  A call takes the records it needs (at most two) from
 * the spares, refilled by kmem__malloc, before it changes anything, so a
 * metadata failure leaves the arena as it was.
 *
 * Invariants (checked by kmem_vmem_check):
 *   - markers are sorted and disjoint, the span list (linked through the
 *     markers' list fields) is in the same order, and the segments between
 *     a marker and the next tile its span exactly;
 *   - no two free segments are neighbours on the address list;
 *   - free list k holds exactly the free segments of class k, and bit k of
 *     the bitmap is set iff it is non-empty;
 *   - the hash holds exactly the allocated segments, each in its bucket;
 *   - byte, segment and record counters equal what the walks find.
 *
 * Cost: alloc O(1) under instant fit, unless only the floor list can serve
 * (O(that list)); free O(1) expected; constrained, best-fit and first-fit
 * allocation O(free segments searched); add O(spans); telling a bad free
 * apart O(spans + segments of its span); check O(segments + buckets).
 */
#include <stdbool.h>
#include <string.h>

#include "kmem/vmem.h"
#include "kmem/error.h"
#include "internal.h"
#include "vmem_impl.h"

/* A validated request: size rounded to the quantum, alignment at least
 * the quantum, window [lo, hi) in quantum multiples. */
struct want {
	uint64_t size, align, phase, nocross, lo, hi;
};

static bool is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

static unsigned clog2(uint64_t x)
{
	return x <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(x - 1);
}

/* Bitmap of the free lists >= k. */
static uint64_t lists_from(const struct kmem_vmem *vm, unsigned k)
{
	return k >= 64 ? 0 : vm->nonempty & (~0ull << k);
}

static void link_before(struct seg *next, struct seg *s)
{
	s->anext = next;
	s->aprev = next->aprev;
	next->aprev->anext = s;
	next->aprev = s;
}

static void unlink_seg(struct seg *s)
{
	s->aprev->anext = s->anext;
	s->anext->aprev = s->aprev;
}

static void flist_add(struct kmem_vmem *vm, struct seg *s)
{
	unsigned k = kmem__vmem_flog2(s->size);

	s->type = SEG_FREE;
	s->lprev = NULL;
	s->lnext = vm->flist[k];
	if (s->lnext)
		s->lnext->lprev = s;
	vm->flist[k] = s;
	vm->nonempty |= 1ull << k;
	vm->nr_free[k]++;
}

static void flist_del(struct kmem_vmem *vm, struct seg *s)
{
	unsigned k = kmem__vmem_flog2(s->size);

	if (s->lprev)
		s->lprev->lnext = s->lnext;
	else
		vm->flist[k] = s->lnext;
	if (s->lnext)
		s->lnext->lprev = s->lprev;
	if (!vm->flist[k])
		vm->nonempty &= ~(1ull << k);
	vm->nr_free[k]--;
}

/* Give free segment s a new extent, changing lists only with its class. */
static void free_resize(struct kmem_vmem *vm, struct seg *s, uint64_t start,
			uint64_t size)
{
	bool move = kmem__vmem_flog2(size) != kmem__vmem_flog2(s->size);

	if (move)
		flist_del(vm, s);
	s->start = start;
	s->size = size;
	if (move)
		flist_add(vm, s);
}

static struct seg *spare_pop(struct kmem_vmem *vm)
{
	struct seg *s = vm->spare;

	vm->spare = s->lnext;
	vm->nspare--;
	return s;
}

/* Keep s as a spare, or free it when there are enough. */
static void seg_release(struct kmem_vmem *vm, struct seg *s)
{
	if (vm->nspare >= SPARE_MAX) {
		vm->nsegs--;
		kmem__free(s);
		return;
	}
	s->type = SEG_SPARE;
	s->lnext = vm->spare;
	vm->spare = s;
	vm->nspare++;
}

/*
 * Have n spare records at hand.  On failure, free the ones this call got,
 * so the arena's metadata is as it was.
 */
static int reserve(struct kmem_vmem *vm, uint64_t n)
{
	uint64_t got = 0;

	while (vm->nspare < n) {
		struct seg *s = kmem__malloc(sizeof(*s));

		if (!s) {
			for (; got; got--, vm->nsegs--)
				kmem__free(spare_pop(vm));
			return KMEM_ENOMETA;
		}
		vm->nsegs++;
		seg_release(vm, s);	/* n <= 2, so never over SPARE_MAX */
		got++;
	}
	return 0;
}

/* The link that points at the allocated segment starting at off, or at
 * the NULL ending its chain. */
static struct seg **hash_link(const struct kmem_vmem *vm, uint64_t off)
{
	struct seg **pp = &vm->hash[kmem__vmem_slot(vm->hash_bits, off)];

	while (*pp && (*pp)->start != off)
		pp = &(*pp)->lnext;
	return pp;
}

static void hash_grow(struct kmem_vmem *vm)
{
	unsigned bits = vm->hash_bits + 1;
	struct seg **t = kmem__calloc((size_t)1 << bits, sizeof(*t));

	if (!t)
		return;	/* keep the old table; see the theory block */
	for (size_t i = 0; i < (size_t)1 << vm->hash_bits; i++) {
		struct seg *s, *n;

		for (s = vm->hash[i]; s; s = n) {
			size_t j = kmem__vmem_slot(bits, s->start);

			n = s->lnext;
			s->lnext = t[j];
			t[j] = s;
		}
	}
	kmem__free(vm->hash);
	vm->hash = t;
	vm->hash_bits = bits;
}

static void hash_insert(struct kmem_vmem *vm, struct seg *s)
{
	struct seg **pp = &vm->hash[kmem__vmem_slot(vm->hash_bits, s->start)];

	s->type = SEG_ALLOC;
	s->lnext = *pp;
	*pp = s;
	if (++vm->nalloc > (uint64_t)1 << vm->hash_bits &&
	    vm->hash_bits < HASH_MAX_BITS)
		hash_grow(vm);
}

int kmem_vmem_create(const struct kmem_vmem_params *params,
		     struct kmem_vmem **out)
{
	struct kmem_vmem_params p = params ? *params :
					    (struct kmem_vmem_params){ 0 };
	struct kmem_vmem *vm;
	int rc = KMEM_ENOMETA;

	if (p.quantum == 0)
		p.quantum = 1;
	if (!out || !is_pow2(p.quantum) ||
	    (unsigned)p.policy > KMEM_VMEM_FIRSTFIT)
		return KMEM_EINVAL;
	vm = kmem__calloc(1, sizeof(*vm));
	if (!vm)
		return KMEM_ENOMETA;
	vm->hash = kmem__calloc((size_t)1 << HASH_MIN_BITS, sizeof(*vm->hash));
	if (!vm->hash)
		goto fail_hash;
	vm->hash_bits = HASH_MIN_BITS;
	vm->quantum = p.quantum;
	vm->qmask = p.quantum - 1;
	vm->policy = p.policy ? (int)p.policy : KMEM_VMEM_INSTANTFIT;
	vm->head.type = SEG_HEAD;
	vm->head.anext = vm->head.aprev = vm->head.lnext = vm->head.lprev =
		&vm->head;
	if (p.size) {
		rc = kmem_vmem_add(vm, p.base, p.size);
		if (rc)
			goto fail_span;
	}
	*out = vm;
	return 0;

fail_span:
	kmem__free(vm->hash);
fail_hash:
	kmem__free(vm);
	return rc;
}

void kmem_vmem_destroy(struct kmem_vmem *vm)
{
	struct seg *s, *n;

	if (!vm)
		return;
	for (s = vm->head.anext; s != &vm->head; s = n) {
		n = s->anext;
		kmem__free(s);
	}
	for (s = vm->spare; s; s = n) {
		n = s->lnext;
		kmem__free(s);
	}
	kmem__free(vm->hash);
	kmem__free(vm);
}

int kmem_vmem_add(struct kmem_vmem *vm, uint64_t base, uint64_t size)
{
	struct seg *next, *prev, *span, *s;
	int rc;

	if (size == 0)
		return KMEM_EZEROSIZE;
	if ((base | size) & vm->qmask)
		return KMEM_EALIGN;
	if (base > UINT64_MAX - size)
		return KMEM_ERANGE;
	/* The span list is sorted: find the first span at or above base. */
	for (next = vm->head.lnext; next != &vm->head && next->start < base;
	     next = next->lnext)
		;
	prev = next->lprev;
	if ((next != &vm->head && next->start < base + size) ||
	    (prev != &vm->head && prev->start + prev->size > base))
		return KMEM_EEXIST;
	rc = reserve(vm, 2);
	if (rc)
		return rc;
	span = spare_pop(vm);
	s = spare_pop(vm);
	span->type = SEG_SPAN;
	span->start = s->start = base;
	span->size = s->size = size;
	span->lnext = next;
	span->lprev = prev;
	prev->lnext = span;
	next->lprev = span;
	/* On the address list, next's marker (or the sentinel, at the end)
	 * directly follows the last segment of prev's span. */
	link_before(next, span);
	link_before(next, s);
	flist_add(vm, s);
	vm->nspans++;
	vm->total += size;
	vm->free_bytes += size;
	if (size > vm->max_span)
		vm->max_span = size;
	return 0;
}

/* The lowest a >= x with a % align == phase; false when it overflows. */
static bool align_up(uint64_t x, uint64_t align, uint64_t phase, uint64_t *a)
{
	uint64_t r = (x - phase) & (align - 1);

	if (r && x > UINT64_MAX - (align - r))
		return false;
	*a = r ? x + (align - r) : x;
	return true;
}

static bool crosses(const struct want *w, uint64_t a)
{
	return w->nocross && ((a ^ (a + w->size - 1)) & ~(w->nocross - 1));
}

/*
 * The lowest start in [s, e) that meets w, in *at.  When the first aligned
 * start crosses a nocross boundary, the next candidate is the first aligned
 * start past that boundary; if it crosses too, every candidate does.
 */
static bool fit(const struct want *w, uint64_t s, uint64_t e, uint64_t *at)
{
	uint64_t lo = s > w->lo ? s : w->lo, hi = e < w->hi ? e : w->hi, a;

	if (lo >= hi || hi - lo < w->size ||
	    !align_up(lo, w->align, w->phase, &a) || a > hi - w->size)
		return false;
	if (crosses(w, a)) {
		uint64_t b = a | (w->nocross - 1);

		if (b == UINT64_MAX || !align_up(b + 1, w->align, w->phase, &a) ||
		    a > hi - w->size || crosses(w, a))
			return false;
	}
	*at = a;
	return true;
}

static bool seg_fit(const struct want *w, const struct seg *s, uint64_t *at)
{
	return s->size >= w->size && fit(w, s->start, s->start + s->size, at);
}

/* Instant fit: the first segment that meets w in the lists whose members
 * are all large enough, in ascending order, else in the list below them. */
static struct seg *search_instant(const struct kmem_vmem *vm,
				  const struct want *w, uint64_t *at)
{
	unsigned fl = kmem__vmem_flog2(w->size), cl = clog2(w->size);
	struct seg *s;

	for (uint64_t mask = lists_from(vm, cl); mask; mask &= mask - 1)
		for (s = vm->flist[__builtin_ctzll(mask)]; s; s = s->lnext)
			if (seg_fit(w, s, at))
				return s;
	if (cl != fl)
		for (s = vm->flist[fl]; s; s = s->lnext)
			if (seg_fit(w, s, at))
				return s;
	return NULL;
}

/* Best fit (smallest, then lowest) or first fit (lowest) among the free
 * segments that meet w. */
static struct seg *search_scan(const struct kmem_vmem *vm, int policy,
			       const struct want *w, uint64_t *at)
{
	struct seg *best = NULL, *s;
	uint64_t best_at = 0, a;

	for (uint64_t mask = lists_from(vm, kmem__vmem_flog2(w->size)); mask;
	     mask &= mask - 1) {
		for (s = vm->flist[__builtin_ctzll(mask)]; s; s = s->lnext) {
			if (!seg_fit(w, s, &a))
				continue;
			if (best && (policy == KMEM_VMEM_BESTFIT ?
				     (s->size > best->size ||
				      (s->size == best->size && a > best_at)) :
				     a > best_at))
				continue;
			best = s;
			best_at = a;
		}
		/* The lowest class with a fit holds the smallest one. */
		if (best && policy == KMEM_VMEM_BESTFIT)
			break;
	}
	*at = best_at;
	return best;
}

static struct seg *search(const struct kmem_vmem *vm, int policy,
			  const struct want *w, uint64_t *at)
{
	if (policy == KMEM_VMEM_INSTANTFIT)
		return search_instant(vm, w, at);
	return search_scan(vm, policy, w, at);
}

/*
 * Carve [at, at + size) out of free segment fs, with the records it needs
 * already reserved.  The part below at stays in fs's record; the part
 * above, if any, gets a new one.
 */
static void carve(struct kmem_vmem *vm, struct seg *fs, uint64_t at,
		  uint64_t size)
{
	uint64_t end = fs->start + fs->size;
	struct seg *as;

	if (at == fs->start && size == fs->size) {
		flist_del(vm, fs);
		as = fs;
	} else if (at == fs->start) {
		as = spare_pop(vm);
		link_before(fs, as);
		free_resize(vm, fs, at + size, end - at - size);
	} else {
		as = spare_pop(vm);
		link_before(fs->anext, as);
		if (at + size < end) {
			struct seg *t = spare_pop(vm);

			t->start = at + size;
			t->size = end - at - size;
			link_before(as->anext, t);
			flist_add(vm, t);
		}
		free_resize(vm, fs, fs->start, at - fs->start);
	}
	as->start = at;
	as->size = size;
	hash_insert(vm, as);
	vm->free_bytes -= size;
	vm->allocs++;
}

/* Reserve what carving needs, then carve. */
static int take(struct kmem_vmem *vm, struct seg *fs, uint64_t at,
		uint64_t size, uint64_t *off)
{
	int rc = reserve(vm, (uint64_t)(at != fs->start) +
				 (at + size != fs->start + fs->size));

	if (rc)
		return rc;
	carve(vm, fs, at, size);
	*off = at;
	return 0;
}

int kmem_vmem_alloc(struct kmem_vmem *vm, uint64_t size, uint64_t *off)
{
	struct want w = { .align = 1, .hi = UINT64_MAX };
	struct seg *fs;
	uint64_t at = 0, mask;

	/* One comparison rejects both 0 and sizes no span can hold. */
	if (size - 1 >= vm->max_span)
		return size ? KMEM_ETOOBIG : KMEM_EZEROSIZE;
	w.size = (size + vm->qmask) & ~vm->qmask;
	mask = lists_from(vm, clog2(w.size));
	if (vm->policy == KMEM_VMEM_INSTANTFIT && mask) {
		fs = vm->flist[__builtin_ctzll(mask)];
		at = fs->start;
	} else {
		fs = search(vm, vm->policy, &w, &at);
	}
	if (!fs)
		return KMEM_ENOMEM;
	return take(vm, fs, at, w.size, off);
}

/* Validate req and normalise it into *w (see kmem_vmem_xalloc). */
static int prepare(const struct kmem_vmem *vm, const struct kmem_vmem_req *r,
		   struct want *w)
{
	uint64_t align = r->align > 1 ? r->align : 1, q = vm->quantum, at;

	if (r->size == 0)
		return KMEM_EZEROSIZE;
	if ((unsigned)r->policy > KMEM_VMEM_FIRSTFIT)
		return KMEM_EINVAL;
	if ((align > 1 && !is_pow2(align)) ||
	    (r->nocross && !is_pow2(r->nocross)))
		return KMEM_EALIGN;
	if (r->size > vm->max_span)
		return KMEM_ETOOBIG;
	/* Addresses are quantum multiples: the phase must agree with that,
	 * and some multiple must lie at or above minaddr. */
	if (r->phase >= align || (r->phase & ((align < q ? align : q) - 1)) ||
	    r->minaddr > UINT64_MAX - vm->qmask)
		return KMEM_ECONSTRAINT;
	w->size = (r->size + vm->qmask) & ~vm->qmask;
	w->align = align > q ? align : q;
	w->phase = r->phase;
	w->nocross = r->nocross;
	w->lo = (r->minaddr + vm->qmask) & ~vm->qmask;
	w->hi = r->maxaddr ? r->maxaddr & ~vm->qmask : UINT64_MAX;
	/* Constraints no address at all can meet are the caller's error. */
	if (!fit(w, 0, UINT64_MAX, &at))
		return KMEM_ECONSTRAINT;
	return 0;
}

int kmem_vmem_xalloc(struct kmem_vmem *vm, const struct kmem_vmem_req *req,
		     uint64_t *off)
{
	struct want w;
	struct seg *fs;
	uint64_t at = 0;
	int rc = prepare(vm, req, &w);

	if (rc)
		return rc;
	fs = search(vm, req->policy ? (int)req->policy : vm->policy, &w, &at);
	if (!fs)
		return KMEM_ENOMEM;
	return take(vm, fs, at, w.size, off);
}

/*
 * Why off is not the start of an allocated segment: find its span in the
 * sorted span list, then the segment that holds it.
 */
static int classify(const struct kmem_vmem *vm, uint64_t off)
{
	const struct seg *sp, *s;

	for (sp = vm->head.lnext; sp != &vm->head && sp->start <= off;
	     sp = sp->lnext)
		if (off - sp->start < sp->size)
			break;
	if (sp == &vm->head || sp->start > off)
		return KMEM_ERANGE;
	for (s = sp->anext; s->type == SEG_FREE || s->type == SEG_ALLOC;
	     s = s->anext) {
		if (off - s->start >= s->size)
			continue;
		if (s->type == SEG_FREE)
			return s->start == off ? KMEM_EDOUBLEFREE :
			       KMEM_ENOTALLOC;
		/* A start would have been found in the hash. */
		return s->start == off ? KMEM_ECORRUPT : KMEM_EMISALIGNED;
	}
	return KMEM_ECORRUPT;
}

/* Free the allocated segment *pp points at, merging with free neighbours. */
static void release(struct kmem_vmem *vm, struct seg **pp)
{
	struct seg *s = *pp, *l = s->aprev, *r = s->anext;
	uint64_t size = s->size;

	*pp = s->lnext;
	vm->nalloc--;
	vm->free_bytes += size;
	vm->frees++;
	if (r->type == SEG_FREE) {
		size += r->size;
		flist_del(vm, r);
		unlink_seg(r);
		seg_release(vm, r);
	}
	if (l->type == SEG_FREE) {
		unlink_seg(s);
		seg_release(vm, s);
		free_resize(vm, l, l->start, l->size + size);
	} else {
		s->size = size;
		flist_add(vm, s);
	}
}

/* Free off, checking *size first when size is not NULL. */
static int free_off(struct kmem_vmem *vm, uint64_t off, const uint64_t *size)
{
	struct seg **pp = hash_link(vm, off);

	if (!*pp)
		return classify(vm, off);
	if (size && (*size > UINT64_MAX - vm->qmask ||
		     ((*size + vm->qmask) & ~vm->qmask) != (*pp)->size))
		return KMEM_ESIZE;
	release(vm, pp);
	return 0;
}

int kmem_vmem_free(struct kmem_vmem *vm, uint64_t off)
{
	return free_off(vm, off, NULL);
}

int kmem_vmem_free_sized(struct kmem_vmem *vm, uint64_t off, uint64_t size)
{
	return free_off(vm, off, &size);
}

int kmem_vmem_size_of(const struct kmem_vmem *vm, uint64_t off,
		      uint64_t *size)
{
	struct seg **pp = hash_link(vm, off);

	if (!*pp)
		return classify(vm, off);
	*size = (*pp)->size;
	return 0;
}
