/*
 * slab.c - object caches (Bonwick, "The Slab Allocator", USENIX 1994;
 * Linux mm/slab.c and mm/slub.c).
 *
 * Theory.  A cache serves objects of one size.  Its memory comes in slabs:
 * runs of slab_pages pages taken from the heap's page allocator, each cut
 * into objperslab objects (after an optional colour offset that staggers
 * the first object across slabs).  A slab is on exactly one of three lists
 * by its fill: full, partial or empty (a debugging cache's partial list is
 * another, see below).  Allocation takes from the first
 * partial slab, then the first empty one, and only then asks the heap for a
 * new slab; so memory is packed into few slabs and empty ones can be
 * returned.  A free finds the object's slab in O(1) through the heap's page
 * map (page index -> slab), turns the offset into an object index with a
 * reciprocal multiplication, and moves the slab between lists when its
 * fill class changes.  Fully free slabs beyond the cache's reserve go back
 * to the heap at once; kmem_cache_shrink returns the rest.
 *
 * Everything is out of band: a slab's descriptor holds two bitmaps with
 * one bit per object - ready (allocation takes the lowest set bit from a
 * hint to the first word that may have one) and pending (a free sets its
 * bit there) - so neither allocation nor free touches the managed memory
 * (unless the cache is asked to: slab_debug.c), and a double free is
 * always detected (the bit is already set in one of them).  Allocation
 * merges pending into ready when ready runs dry, so a free and the next
 * allocation never read-modify-write the same word; the count in use is
 * likewise two counters, allocs - frees, each written by one side only.
 *
 * A slab that empties while it heads the partial list stays there
 * ("parked") while the reserve has room, so a cache whose objects are
 * freed as soon as they are allocated does not move its one slab between
 * two lists on every pair; the stats count it as empty, and it moves to
 * the empty list as soon as another slab comes to head the partial list.
 *
 * Invariants (kmem_cache_check): a slab with inuse == 0 is on the empty
 * list or is the partial list's (parked) head, 0 < inuse < objperslab on
 * partial, inuse == objperslab on full;
 * no object is in both bitmaps; inuse + popcount(ready) +
 * popcount(pending) == objperslab; no ready bit below the hint; the
 * page map names the slab for each of its pages; counters equal the sums;
 * only free objects are marked poisoned.
 *
 * Cost: alloc O(1) amortised (the hint only moves forward, and a merge of
 * nwords words comes after at least as many allocations as it makes
 * ready), free O(1).
 *
 * Debugging (slab_debug.c) changes the layout only for red zones: a slot
 * is then guard + object + guard, and base points at object 0 itself, so
 * the offset arithmetic above is the same.  Debugging costs the fast
 * paths nothing: a debugging cache keeps its partial slabs on another
 * list (L_DPARTIAL), so the allocation fast path finds no partial slab and
 * falls to its slow path, as for an empty cache; and its slabs carry a
 * tagged owner pointer, so the free fast path's owner check fails over to
 * its error path, which sends a debugging cache's objects to free_debug.
 */
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/heap.h"
#include "kmem/slab.h"
#include "internal.h"
#include "slab_impl.h"

/* ------------------------------------------------------------ lists */

static void list_add(struct kmem_cache *c, struct kmem_slab *s, unsigned l)
{
	struct kmem_slab *h = c->heads[l];

	if (!h) {
		s->link.next = s->link.prev = s;
	} else {
		s->link.next = h;
		s->link.prev = h->link.prev;
		h->link.prev->link.next = s;
		h->link.prev = s;
	}
	c->heads[l] = s;
	s->list = (uint8_t)l;
	c->counts[l]++;
}

static void list_del(struct kmem_cache *c, struct kmem_slab *s)
{
	unsigned l = s->list;

	if (s->link.next == s) {
		c->heads[l] = NULL;
	} else {
		s->link.prev->link.next = s->link.next;
		s->link.next->link.prev = s->link.prev;
		if (c->heads[l] == s)
			c->heads[l] = s->link.next;
	}
	c->counts[l]--;
}

static void list_move(struct kmem_cache *c, struct kmem_slab *s, unsigned l)
{
	list_del(c, s);
	list_add(c, s, l);
}

/* ------------------------------------------------------------ sizing */

static uint64_t objs_in(uint64_t bytes, uint64_t size)
{
	return bytes / size;
}

/* The slab size rule of kmem/slab.h. */
static uint64_t pick_slab_pages(uint64_t size, uint64_t page_size)
{
	uint64_t best = 0;

	for (uint64_t n = 1; n <= KMEM_SLAB_MAX_PAGES_AUTO; n <<= 1) {
		uint64_t bytes = n * page_size, objs = objs_in(bytes, size);

		if (objs == 0)
			continue;
		if ((bytes - objs * size) * 8 < bytes) {
			if (objs >= 8)
				return n;
			if (!best)
				best = n;
		}
	}
	if (best)
		return best;
	/* Huge objects: the smallest slab that wastes under 1/8. */
	for (uint64_t n = (size + page_size - 1) / page_size;; n++)
		if ((n * page_size - size * objs_in(n * page_size, size)) * 8 <
		    n * page_size)
			return n;
}

static bool name_ok(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n >= KMEM_CACHE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	return true;
}

/* The slot of a red-zoned object: a guard of rz_left bytes (a multiple of
 * align) before it, at least KMEM_REDZONE_MIN after, a multiple of align. */
static uint64_t slot_size(uint64_t objsize, uint64_t align, unsigned flags,
			  uint64_t *rz_left)
{
	if (!(flags & KMEM_CACHE_REDZONE)) {
		*rz_left = 0;
		return objsize;
	}
	*rz_left = align > KMEM_REDZONE_MIN ? align : KMEM_REDZONE_MIN;
	return (*rz_left + objsize + KMEM_REDZONE_MIN + align - 1) & ~(align - 1);
}

int kmem__cache_create(struct kmem_heap *h, const struct kmem_cache_params *p,
		       bool kmalloc, struct kmem_cache **out)
{
	uint64_t align, size, objsize, rz_left, ps, npages;
	unsigned shift;
	struct kmem_cache *c;
	int rc;

	if (!p || !out)
		return KMEM_EINVAL;
	if (p->size == 0)
		return KMEM_EZEROSIZE;
	align = p->align ? p->align : 8;
	if (!kmem_is_pow2(align))
		return KMEM_EALIGN;
	if (!name_ok(p->name))
		return KMEM_EINVAL;
	ps = kmem_heap_page_size(h);
	if (p->size > (1ull << 30) || align > ps)
		return KMEM_EINVAL;
	if ((p->flags & ~(KMEM_CACHE_COLOUR | KMEM_CACHE_DEBUG)) ||
	    ((p->flags & KMEM_CACHE_DEBUG) && !kmem__heap_mem(h)))
		return KMEM_EINVAL;
	objsize = (p->size + align - 1) & ~(align - 1);
	size = slot_size(objsize, align, p->flags, &rz_left);
	npages = p->slab_pages ? p->slab_pages : pick_slab_pages(size, ps);
	if (npages > (64ull << 20) / ps || npages * ps / size == 0 ||
	    npages * ps / size > UINT32_MAX / 2)
		return KMEM_EINVAL;
	if (kmem_heap_find_cache(h, p->name))
		return KMEM_EEXIST;

	c = kmem__calloc(1, sizeof(*c));
	if (!c)
		return KMEM_ENOMETA;
	strcpy(c->name, p->name);
	c->heap = h;
	c->size = size;
	c->recip = ((1ull << 32) + size - 1) / size;
	c->size_shift = kmem_is_pow2(size) ? (int)kmem_log2_floor(size) : -1;
	c->slab_pages = npages;
	c->slab_bytes = npages * ps;
	c->objs = (uint32_t)(c->slab_bytes / size);
	c->nwords = (c->objs + 63) / 64;
	c->reserve = p->reserve ? p->reserve : 1;
	c->kmalloc = kmalloc;
	c->flags = p->flags;
	c->debug = p->flags & KMEM_CACHE_DEBUG;
	c->plist = c->debug ? L_DPARTIAL : L_PARTIAL;
	c->objsize = objsize;
	c->rz_left = rz_left;
	c->mem = kmem__heap_mem(h);
	c->map = kmem__heap_slabmap(h, &c->map_pages, &shift);
	c->page_shift = shift;
	if (p->flags & KMEM_CACHE_COLOUR) {
		c->colour_step = align < 64 ? 64 : align;
		c->colour_max = (c->slab_bytes - c->objs * size) / c->colour_step;
	}
	rc = kmem__heap_cache_link(h, c);
	if (rc) {
		kmem__free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int kmem_cache_create(struct kmem_heap *h, const struct kmem_cache_params *p,
		      struct kmem_cache **out)
{
	return kmem__cache_create(h, p, false, out);
}

/* ------------------------------------------------------------ slabs */

static void map_set(struct kmem_cache *c, struct kmem_slab *s,
		    struct kmem_slab *v)
{
	uint64_t first = s->start >> c->page_shift;

	for (uint64_t i = 0; i < c->slab_pages; i++)
		c->map[first + i] = v;
}

/* Every object of s ready to allocate (a new or emptied slab). */
static void all_free(const struct kmem_cache *c, struct kmem_slab *s)
{
	uint64_t *pend = kmem__slab_pending(c, s);

	memset(s->freemap, 0xff, c->nwords * sizeof(uint64_t));
	if (c->objs % 64)
		s->freemap[c->nwords - 1] = (1ull << (c->objs % 64)) - 1;
	memset(pend, 0, c->nwords * sizeof(uint64_t));
	s->hint = 0;
}

/* A slab descriptor: a spare one if there is, else a new one. */
static struct kmem_slab *desc_get(struct kmem_cache *c)
{
	struct kmem_slab *s = c->spare;

	if (!s)
		return kmem__malloc(kmem__slab_desc_bytes(c));
	c->spare = s->link.next;
	c->nspare--;
	return s;
}

static void desc_put(struct kmem_cache *c, struct kmem_slab *s)
{
	if (c->nspare == KMEM_SLAB_SPARE_DESC) {
		kmem__free(s);
		return;
	}
	s->link.next = c->spare;
	c->spare = s;
	c->nspare++;
}

static int grow(struct kmem_cache *c, struct kmem_slab **out)
{
	struct kmem_slab *s = desc_get(c);
	uint64_t off;
	int rc;

	if (!s)
		return KMEM_ENOMETA;
	/* A failed grow frees its descriptor, spare or not: failures leave
	 * no metadata behind (the fault-injection tests count it). */
	rc = kmem__heap_pages_alloc(c->heap, c->slab_pages, &off);
	if (rc) {
		kmem__free(s);
		return rc;
	}
	s->cache = kmem__slab_tag(c);
	s->start = off;
	s->base = off + c->colour_next * c->colour_step + c->rz_left;
	if (c->colour_max)
		c->colour_next = c->colour_next == c->colour_max ?
				 0 : c->colour_next + 1;
	s->allocs = s->frees = 0;
	all_free(c, s);
	*kmem__slab_poison(c, s) = NULL;
	if (c->debug && (rc = kmem__slab_debug_grow(c, s)) != 0) {
		kmem__heap_pages_free(c->heap, off, c->slab_pages);
		kmem__free(s);
		return rc;
	}
	map_set(c, s, s);
	list_add(c, s, L_EMPTY);
	*out = s;
	return 0;
}

static void release(struct kmem_cache *c, struct kmem_slab *s)
{
	list_del(c, s);
	map_set(c, s, NULL);
	if (*kmem__slab_poison(c, s))
		kmem__slab_poison_drop(c, s);
	kmem__heap_pages_free(c->heap, s->start, c->slab_pages);
	desc_put(c, s);
}

/*
 * The slow half of an allocation: no partial slab, so take an empty one or
 * grow.  Out of line so the fast path stays small (no spills).
 */
static __attribute__((noinline, cold)) int refill(struct kmem_cache *c)
{
	struct kmem_slab *s = c->heads[L_EMPTY];

	if (!s) {
		int rc = grow(c, &s);

		if (rc)
			return rc;
	}
	list_move(c, s, c->plist);
	return 0;
}

static __attribute__((noinline, cold)) int mark_full(struct kmem_cache *c,
						     struct kmem_slab *s)
{
	list_move(c, s, L_FULL);
	return 0;
}

/*
 * Find the slab and object index for off, or the error kmem_cache_free
 * documents.  c is the cache the caller names; an object of another cache
 * is KMEM_EWRONGCACHE (checked before the index arithmetic, which uses c's
 * geometry).  owner is what the slab's owner pointer must be: c on the
 * fast path (so a debugging cache's slabs, tagged, fail there), or
 * kmem__slab_tag(c) to find anything of c's.
 */
static inline int locate_as(const struct kmem_cache *c, uint64_t off,
			    const struct kmem_cache *owner,
			    struct kmem_slab **sp, uint64_t *idxp)
{
	uint64_t page = off >> c->page_shift, delta, idx;
	struct kmem_slab *s;

	if (__builtin_expect(page >= c->map_pages, 0))
		return KMEM_ERANGE;
	s = c->map[page];
	if (__builtin_expect(!s, 0))
		return KMEM_ENOTALLOC;
	if (__builtin_expect(s->cache != owner, 0))
		return KMEM_EWRONGCACHE;
	delta = off - s->base;
	if (c->size_shift >= 0)
		idx = delta >> c->size_shift;
	else
		idx = (delta * c->recip) >> 32;
	/* off < base wraps delta to a huge value: caught by idx >= objs. */
	if (__builtin_expect(kmem__obj_offset(c, idx) != delta ||
			     idx >= c->objs, 0))
		return KMEM_EMISALIGNED;
	*sp = s;
	*idxp = idx;
	return 0;
}

static inline int locate(const struct kmem_cache *c, uint64_t off,
			 struct kmem_slab **sp, uint64_t *idxp)
{
	return locate_as(c, off, kmem__slab_tag(c), sp, idxp);
}

/* Make s's pending frees ready again; the hint goes to the lowest. */
static void merge(const struct kmem_cache *c, struct kmem_slab *s)
{
	uint64_t *pend = kmem__slab_pending(c, s);
	uint32_t first = c->nwords;

	for (uint32_t w = 0; w < c->nwords; w++) {
		s->freemap[w] |= pend[w];
		pend[w] = 0;
		if (first == c->nwords && s->freemap[w])
			first = w;
	}
	if (first < c->nwords)
		s->hint = first;
}

/*
 * freemap has no bit set from the hint on: look further, and if the
 * words above are empty too, merge the pending frees back in.  s is
 * partial, so one of the two has a free object.  Returns the word now at
 * s->hint, which is not 0.
 */
static __attribute__((noinline, cold)) uint64_t rescan(struct kmem_cache *c,
						       struct kmem_slab *s)
{
	uint32_t w = s->hint;

	while (w < c->nwords && !s->freemap[w])
		w++;
	if (w < c->nwords)
		s->hint = w;
	else
		merge(c, s);
	return s->freemap[s->hint];
}

/* Take the lowest ready object of partial slab s. */
static inline __attribute__((always_inline)) int take(struct kmem_cache *c,
						      struct kmem_slab *s,
						      uint64_t *off)
{
	uint32_t w = s->hint;
	uint64_t word = s->freemap[w];

	if (__builtin_expect(!word, 0)) {
		word = rescan(c, s);
		w = s->hint;
	}
	s->freemap[w] = word & (word - 1);
	*off = s->base + kmem__obj_offset(c, (uint64_t)w * 64 +
					  (uint64_t)__builtin_ctzll(word));
	if (__builtin_expect(++s->allocs - s->frees == c->objs, 0))
		return mark_full(c, s);
	return 0;
}

/* No partial slab, or a debugging cache: everything but the fast path. */
static __attribute__((noinline, cold)) int alloc_slow(struct kmem_cache *c,
						      uint64_t *off)
{
	struct kmem_slab *s;
	uint64_t idx;
	int rc;

	if (!c->heads[c->plist] && (rc = refill(c)) != 0)
		return rc;
	/* A debugging cache hands out the lowest free object, as it did
	 * before pending frees existed: reports and tests can say which. */
	if (c->debug)
		merge(c, c->heads[c->plist]);
	take(c, c->heads[c->plist], off);
	if (c->debug && locate(c, *off, &s, &idx) == 0)
		kmem__slab_debug_alloc(c, s, idx);
	return 0;
}

int kmem_cache_alloc(struct kmem_cache *c, uint64_t *off)
{
	/* Always empty in a debugging cache: one test covers both.  The
	 * slow path is a tail call, so the fast path needs no frame. */
	struct kmem_slab *s = c->heads[L_PARTIAL];

	if (__builtin_expect(!s, 0))
		return alloc_slow(c, off);
	return take(c, s, off);
}

/*
 * A slab's fill class changed on free of object idx: move it, maybe give
 * it back.  A slab that was full has only idx free, in pending; make it
 * ready at once, so the allocation that will come to this slab (it heads
 * the partial list now) takes it without a rescan.  An emptied slab keeps
 * its bits where they are: rescan merges them when it is used again.
 */
/*
 * Is the head of the partial list empty ("parked")?  The one slab of a
 * cache whose objects are all freed as they come keeps its place at the
 * head of the partial list instead of moving to the empty list and back
 * on every allocation: only the head may be empty there, and the stats
 * count it as empty.
 */
bool kmem__cache_head_parked(const struct kmem_cache *c)
{
	const struct kmem_slab *h = c->heads[c->plist];

	return h && kmem__slab_inuse(h) == 0;
}

/* Empty slabs, the parked one included. */
uint64_t kmem__cache_nempty(const struct kmem_cache *c)
{
	return c->counts[L_EMPTY] + kmem__cache_head_parked(c);
}

/* The parked head moves to the empty list (another slab is about to head
 * the partial list), and goes back to the heap beyond the reserve. */
static void unpark(struct kmem_cache *c)
{
	struct kmem_slab *h = c->heads[c->plist];

	if (!kmem__cache_head_parked(c))
		return;
	list_move(c, h, L_EMPTY);
	if (c->counts[L_EMPTY] > c->reserve)
		release(c, h);
}

static __attribute__((noinline, cold)) void refile(struct kmem_cache *c,
						   struct kmem_slab *s,
						   uint64_t idx)
{
	if (kmem__slab_inuse(s) == 0) {
		list_move(c, s, L_EMPTY);
		if (kmem__cache_nempty(c) > c->reserve)
			release(c, s);
	} else {
		uint32_t w = (uint32_t)(idx / 64);

		unpark(c);
		kmem__slab_pending(c, s)[w] = 0;
		s->freemap[w] = 1ull << (idx % 64);
		s->hint = w;
		list_move(c, s, c->plist);
	}
}

static inline void free_obj(struct kmem_cache *c, struct kmem_slab *s,
			    uint64_t idx)
{
	uint32_t inuse;

	kmem__slab_pending(c, s)[idx / 64] |= 1ull << (idx % 64);
	inuse = s->allocs - ++s->frees;
	/* Emptied but heading the partial list, with room in the reserve:
	 * it stays (parked).  A debugging cache's partial list is another,
	 * so it never parks. */
	if (__builtin_expect(inuse == 0 || inuse == c->objs - 1, 0) &&
	    !(inuse == 0 && s == c->heads[L_PARTIAL] &&
	      c->counts[L_EMPTY] < c->reserve))
		refile(c, s, idx);
}

/*
 * A free that failed the fast path's owner check: an object of a
 * debugging cache (its slabs are tagged), or a real KMEM_EWRONGCACHE.
 * Check and poison before the object goes back: the slab may go with it.
 */
static __attribute__((noinline, cold)) int free_debug(struct kmem_cache *c,
						      uint64_t off)
{
	struct kmem_slab *s;
	uint64_t idx;
	int rc = c->debug ? locate(c, off, &s, &idx) : KMEM_EWRONGCACHE;

	if (rc)
		return rc;
	if (kmem__obj_is_free(c, s, idx))
		return KMEM_EDOUBLEFREE;
	kmem__slab_debug_free(c, s, idx);
	free_obj(c, s, idx);
	return 0;
}

int kmem_cache_free(struct kmem_cache *c, uint64_t off)
{
	struct kmem_slab *s;
	uint64_t idx;
	int rc = locate_as(c, off, c, &s, &idx);

	if (rc)
		return rc == KMEM_EWRONGCACHE ? free_debug(c, off) : rc;
	if (__builtin_expect(kmem__obj_is_free(c, s, idx), 0))
		return KMEM_EDOUBLEFREE;
	free_obj(c, s, idx);
	return 0;
}

/* Free the spare descriptors. */
static void desc_drop(struct kmem_cache *c)
{
	while (c->spare) {
		struct kmem_slab *s = c->spare;

		c->spare = s->link.next;
		kmem__free(s);
	}
	c->nspare = 0;
}

uint64_t kmem_cache_shrink(struct kmem_cache *c)
{
	uint64_t n = 0;

	if (kmem__cache_head_parked(c))
		list_move(c, c->heads[c->plist], L_EMPTY);
	while (c->heads[L_EMPTY]) {
		release(c, c->heads[L_EMPTY]);
		n++;
	}
	desc_drop(c);
	return n;
}

void kmem__cache_destroy_all(struct kmem_cache *c)
{
	for (unsigned l = 0; l < L_COUNT; l++)
		while (c->heads[l])
			release(c, c->heads[l]);
	desc_drop(c);
	kmem__heap_cache_unlink(c->heap, c);
	kmem__free(c);
}

/* Objects in use: full slabs are full; partial ones say.  Kept out of the
 * hot path (no counter to bump per allocation). */
uint64_t kmem__cache_active_objs(const struct kmem_cache *c)
{
	const struct kmem_slab *s = c->heads[c->plist];
	uint64_t n = c->counts[L_FULL] * c->objs;

	if (s) {
		do {
			n += kmem__slab_inuse(s);
			s = s->link.next;
		} while (s != c->heads[c->plist]);
	}
	return n;
}

void kmem__cache_set_debug(struct kmem_cache *c, unsigned debug)
{
	unsigned want = debug ? L_DPARTIAL : L_PARTIAL;

	if (kmem__cache_head_parked(c))
		list_move(c, c->heads[c->plist], L_EMPTY);
	while (c->heads[c->plist] && c->plist != want)
		list_move(c, c->heads[c->plist], want);
	c->plist = (uint8_t)want;
	c->debug = debug;
	for (unsigned l = 0; l < L_COUNT; l++) {
		struct kmem_slab *s = c->heads[l];

		if (!s)
			continue;
		do {
			s->cache = kmem__slab_tag(c);
			merge(c, s);	/* lowest free object first again */
			s = s->link.next;
		} while (s != c->heads[l]);
	}
}

/* Slabs on every list. */
uint64_t kmem__cache_nslabs(const struct kmem_cache *c)
{
	uint64_t n = 0;

	for (unsigned l = 0; l < L_COUNT; l++)
		n += c->counts[l];
	return n;
}

int kmem_cache_destroy(struct kmem_cache *c)
{
	if (kmem__cache_active_objs(c))
		return KMEM_EBUSY;
	kmem__cache_destroy_all(c);
	return 0;
}

/* ------------------------------------------------------------ heap glue */

bool kmem__cache_is_kmalloc(const struct kmem_cache *c)
{
	return c->kmalloc;
}

struct kmem_cache *kmem__slab_cache(const struct kmem_slab *s)
{
	return kmem__slab_owner(s);
}

struct kmem_cache **kmem__cache_next(struct kmem_cache *c)
{
	return &c->next;
}

int kmem__cache_obj_check(const struct kmem_cache *c, uint64_t off)
{
	struct kmem_slab *s;
	uint64_t idx;
	int rc = locate(c, off, &s, &idx);

	if (rc)
		return rc;
	return kmem__obj_is_free(c, s, idx) ? KMEM_ENOTALLOC : 0;
}

uint64_t kmem__cache_slab_bytes(const struct kmem_cache *c)
{
	return kmem__cache_nslabs(c) * c->slab_bytes;
}

const char *kmem_cache_name(const struct kmem_cache *c)
{
	return c->name;
}

uint64_t kmem_cache_objsize(const struct kmem_cache *c)
{
	return c->objsize;
}

unsigned kmem_cache_flags(const struct kmem_cache *c)
{
	return c->flags;
}
