/*
 * heap.c - the engine: arenas, the page map, kmalloc size classes and
 * constrained page allocation.
 *
 * Theory.  A heap manages the offsets [0, size) of one region.  Arenas tile
 * (part of) the region, sorted by base; each is run by a page allocator of
 * the heap's policy (buddy or resource map) and carries what is known of its
 * memory: physical base, zone and NUMA node.  Because an allocation never
 * spans two arenas, and an arena is a physically contiguous run, every
 * allocation is physically contiguous.
 *
 * The page map has one pointer per page of the region: the slab that owns
 * the page, or NULL.  It is how kmem_heap_free tells an object from a page
 * allocation, and how a cache finds an object's slab, in O(1).  Together
 * with the buddy's 12 bytes a page this is 20 bytes per 4 KiB page (0.49%).
 *
 * Zeroing: a bitmap remembers which pages are known to hold zeros (all of
 * them in a fresh pool; none once handed out).  A KMEM_ALLOC_ZERO request
 * clears only the pages not known to be zero, so a fresh 32 GiB pool is not
 * memset again.
 *
 * Size classes follow kmalloc: 8 .. 192 in a table indexed by (size-1)/8,
 * then powers of two up to 8 KiB.  They are made with the heap's
 * kmalloc_flags, so a pool can poison and red-zone its small buffers
 * (slab_debug.c); findings go to the reporter the heap's owner set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/heap.h"
#include "kmem/vmem.h"
#include "internal.h"
#include "heap_impl.h"
#include "fmt.h"

const uint32_t kmem_size_classes[KMEM_NR_SIZE_CLASSES] = {
	8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
};

/* ------------------------------------------------------------ arenas */

static int arena_init(struct kmem_heap *h, struct arena *a,
		      const struct kmem_heap_params *p)
{
	if (h->policy == KMEM_POLICY_BUDDY) {
		struct kmem_buddy_params bp = {
			.base = a->d.base, .npages = a->d.size >> h->page_shift,
			.page_size = h->page_size, .max_order = p->max_order,
		};

		return kmem_buddy_create(&bp, &a->buddy);
	} else {
		struct kmem_vmem_params vp = {
			.quantum = p->quantum ? p->quantum : h->page_size,
			.policy = KMEM_VMEM_INSTANTFIT,
		};
		int rc = kmem_vmem_create(&vp, &a->vmem);

		if (rc)
			return rc;
		rc = kmem_vmem_add(a->vmem, a->d.base, a->d.size);
		if (rc) {
			kmem_vmem_destroy(a->vmem);
			a->vmem = NULL;
		}
		return rc;
	}
}

static void arena_fini(struct arena *a)
{
	kmem_buddy_destroy(a->buddy);
	if (a->vmem)
		kmem_vmem_destroy(a->vmem);
}

static uint64_t arena_free(const struct arena *a)
{
	return a->buddy ? kmem_buddy_free_bytes(a->buddy) :
			  kmem_vmem_free_bytes(a->vmem);
}

uint64_t kmem__arena_largest(const struct arena *a)
{
	return a->buddy ? kmem_buddy_largest_free(a->buddy) :
			  kmem_vmem_largest_free(a->vmem);
}

/* The arena holding offset off, by binary search, or NULL. */
struct arena *kmem__heap_arena_of(const struct kmem_heap *h, uint64_t off)
{
	size_t lo = 0, hi = h->narenas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct arena *a = &h->arenas[mid];

		if (off < a->d.base)
			hi = mid;
		else if (off >= a->d.base + a->d.size)
			lo = mid + 1;
		else
			return (struct arena *)a;
	}
	return NULL;
}

static int cmp_desc(const void *x, const void *y)
{
	const struct kmem_arena_desc *a = x, *b = y;

	return a->base < b->base ? -1 : a->base > b->base;
}

static int check_params(const struct kmem_heap_params *p, uint64_t ps,
			struct kmem_arena_desc *d, size_t n, char *msg,
			size_t msglen)
{
	if (!kmem_is_pow2(ps) || ps < 64) {
		kmem__msg(msg, msglen, "page size %llu is not a power of two >= 64",
			  (unsigned long long)ps);
		return KMEM_EINVAL;
	}
	if (p->size == 0 || p->size % ps || p->size / ps >= UINT32_MAX) {
		kmem__msg(msg, msglen, "heap size %llu is not a non-zero multiple "
			  "of the page size %llu (and under 2^32 pages)",
			  (unsigned long long)p->size, (unsigned long long)ps);
		return KMEM_EINVAL;
	}
	if (p->policy != KMEM_POLICY_BUDDY && p->policy != KMEM_POLICY_VMEM) {
		kmem__msg(msg, msglen, "unknown policy %d", (int)p->policy);
		return KMEM_EINVAL;
	}
	qsort(d, n, sizeof(*d), cmp_desc);
	for (size_t i = 0; i < n; i++) {
		if (d[i].size == 0 || d[i].base % ps || d[i].size % ps ||
		    d[i].base > p->size || d[i].size > p->size - d[i].base ||
		    (i && d[i].base < d[i - 1].base + d[i - 1].size)) {
			kmem__msg(msg, msglen, "arena %zu [%llu, +%llu) is empty, "
				  "unaligned, outside the heap or overlapping", i,
				  (unsigned long long)d[i].base,
				  (unsigned long long)d[i].size);
			return KMEM_EINVAL;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ create */

static int make_kmalloc_caches(struct kmem_heap *h)
{
	for (unsigned i = 0; i < KMEM_NR_SIZE_CLASSES; i++) {
		char name[KMEM_CACHE_NAME_MAX];
		struct kmem_cache_params cp = {
			.name = name, .size = kmem_size_classes[i],
			.flags = h->kmalloc_flags,
		};
		int rc;

		snprintf(name, sizeof(name), "kmalloc-%u", kmem_size_classes[i]);
		if (kmem_size_classes[i] >= 1024)
			snprintf(name, sizeof(name), "kmalloc-%uk",
				 kmem_size_classes[i] / 1024);
		if (kmem_size_classes[i] > h->page_size * 8)
			continue;
		rc = kmem__cache_create(h, &cp, true, &h->kmalloc[i]);
		if (rc)
			return rc;
	}
	for (unsigned s = 0; s < 24; s++) {
		unsigned i = 0;

		while (kmem_size_classes[i] < (s + 1) * 8)
			i++;
		h->small_index[s] = (uint8_t)i;
	}
	return 0;
}

int kmem_heap_create(const struct kmem_heap_params *p, struct kmem_heap **out,
		     char *msg, size_t msglen)
{
	uint64_t ps = p && p->page_size ? p->page_size : 4096;
	struct kmem_arena_desc whole = { .size = p ? p->size : 0, .node = -1 };
	size_t n = p && p->arenas ? p->narenas : 1;
	struct kmem_arena_desc *d;
	struct kmem_heap *h;
	int rc = KMEM_ENOMETA;

	if (!p || !out || (p->arenas && !p->narenas))
		return KMEM_EINVAL;
	d = kmem__malloc(n * sizeof(*d));
	if (!d)
		return KMEM_ENOMETA;
	memcpy(d, p->arenas ? p->arenas : &whole, n * sizeof(*d));
	rc = check_params(p, ps, d, n, msg, msglen);
	if (rc)
		goto fail_desc;
	if ((p->kmalloc_flags & ~(unsigned)KMEM_CACHE_DEBUG) ||
	    (p->kmalloc_flags && !p->mem)) {
		kmem__msg(msg, msglen, "kmalloc flags 0x%x: only poison and red "
			  "zones, and only with the region's mapping",
			  p->kmalloc_flags);
		rc = KMEM_EINVAL;
		goto fail_desc;
	}
	rc = KMEM_ENOMETA;
	h = kmem__calloc(1, sizeof(*h));
	if (!h)
		goto fail_desc;
	h->size = p->size;
	h->page_size = ps;
	h->page_shift = kmem_log2_floor(ps);
	h->policy = p->policy;
	h->npages = p->size >> h->page_shift;
	h->mem = p->mem;
	h->kmalloc_flags = p->kmalloc_flags;
	h->map = kmem__calloc(h->npages, sizeof(*h->map));
	h->zeromap = kmem__calloc((h->npages + 63) / 64, sizeof(uint64_t));
	h->arenas = kmem__calloc(n, sizeof(*h->arenas));
	if (!h->map || !h->zeromap || !h->arenas)
		goto fail_heap;
	if (p->mem_zeroed)
		memset(h->zeromap, 0xff, (h->npages + 63) / 64 * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++, h->narenas++) {
		h->arenas[i].d = d[i];
		rc = arena_init(h, &h->arenas[i], p);
		if (rc) {
			kmem__msg(msg, msglen, "arena %zu: %s", i, kmem_strerror(rc));
			goto fail_heap;
		}
	}
	rc = make_kmalloc_caches(h);
	if (rc)
		goto fail_heap;
	kmem__free(d);
	*out = h;
	return 0;

fail_heap:
	kmem_heap_destroy(h);
fail_desc:
	kmem__free(d);
	if (rc == KMEM_ENOMETA)
		kmem__msg(msg, msglen, "out of memory for heap metadata");
	return rc;
}

void kmem_heap_destroy(struct kmem_heap *h)
{
	if (!h)
		return;
	while (h->caches)
		kmem__cache_destroy_all(h->caches);
	for (size_t i = 0; i < h->narenas; i++)
		arena_fini(&h->arenas[i]);
	kmem__free(h->arenas);
	kmem__free(h->zeromap);
	kmem__free(h->map);
	kmem__free(h);
}

/* ------------------------------------------------------------ zeroing */

void kmem__heap_zero_forget(struct kmem_heap *h, uint64_t off, uint64_t len)
{
	uint64_t p = off >> h->page_shift;
	uint64_t end = (off + len + h->page_size - 1) >> h->page_shift;

	for (; p < end && (p & 63); p++)
		h->zeromap[p / 64] &= ~(1ull << (p % 64));
	for (; p + 64 <= end; p += 64)
		h->zeromap[p / 64] = 0;
	for (; p < end; p++)
		h->zeromap[p / 64] &= ~(1ull << (p % 64));
}

/* Zero the pages of [off, off+len) not known to be zero already. */
void kmem__heap_zero_fill(struct kmem_heap *h, uint64_t off, uint64_t len)
{
	uint64_t p = off >> h->page_shift;
	uint64_t end = (off + len + h->page_size - 1) >> h->page_shift;

	for (; p < end; p++)
		if (!(h->zeromap[p / 64] & (1ull << (p % 64))))
			memset(h->mem + (p << h->page_shift), 0, h->page_size);
}

/* ------------------------------------------------------------ slab glue */

struct kmem_slab **kmem__heap_slabmap(const struct kmem_heap *h,
				      uint64_t *npages, unsigned *page_shift)
{
	*npages = h->npages;
	*page_shift = h->page_shift;
	return h->map;
}

static int arena_pages_alloc(struct kmem_heap *h, struct arena *a,
			     uint64_t bytes, uint64_t *off)
{
	if (a->buddy)
		return kmem_buddy_alloc_exact(a->buddy, bytes, off);
	return kmem_vmem_xalloc(a->vmem, &(struct kmem_vmem_req){
		.size = bytes, .align = h->page_size }, off);
}

int kmem__heap_pages_alloc(struct kmem_heap *h, uint64_t npages, uint64_t *off)
{
	uint64_t bytes = npages << h->page_shift;

	for (size_t i = 0; i < h->narenas; i++) {
		if (arena_pages_alloc(h, &h->arenas[i], bytes, off) == 0) {
			kmem__heap_zero_forget(h, *off, bytes);
			return 0;
		}
	}
	return KMEM_ENOMEM;
}

static int arena_release(struct arena *a, uint64_t off)
{
	return a->buddy ? kmem_buddy_free(a->buddy, off) :
			  kmem_vmem_free(a->vmem, off);
}

void kmem__heap_pages_free(struct kmem_heap *h, uint64_t off, uint64_t npages)
{
	struct arena *a = kmem__heap_arena_of(h, off);

	(void)npages;
	if (a)
		arena_release(a, off);
}

int kmem__heap_cache_link(struct kmem_heap *h, struct kmem_cache *c)
{
	*kmem__cache_next(c) = h->caches;
	h->caches = c;
	h->ncaches++;
	return 0;
}

void kmem__heap_cache_unlink(struct kmem_heap *h, struct kmem_cache *c)
{
	for (struct kmem_cache **pp = &h->caches; *pp; pp = kmem__cache_next(*pp)) {
		if (*pp == c) {
			*pp = *kmem__cache_next(c);
			h->ncaches--;
			break;
		}
	}
	for (unsigned i = 0; i < KMEM_NR_SIZE_CLASSES; i++)
		if (h->kmalloc[i] == c)
			h->kmalloc[i] = NULL;
}

unsigned char *kmem__heap_mem(const struct kmem_heap *h)
{
	return h->mem;
}

void kmem_heap_set_reporter(struct kmem_heap *h, kmem_debug_fn fn, void *ctx)
{
	h->report = fn;
	h->report_ctx = ctx;
}

void kmem__heap_report(const struct kmem_heap *h,
		       const struct kmem_debug_report *r)
{
	if (h->report)
		h->report(h->report_ctx, r);
}

struct kmem_cache *kmem_heap_cache_of(const struct kmem_heap *h, uint64_t off)
{
	uint64_t page = off >> h->page_shift;

	if (page >= h->npages || !h->map[page])
		return NULL;
	return kmem__slab_cache(h->map[page]);
}

struct kmem_cache *kmem_heap_find_cache(const struct kmem_heap *h,
					const char *name)
{
	for (struct kmem_cache *c = h->caches; c; c = *kmem__cache_next(c))
		if (strcmp(kmem_cache_name(c), name) == 0)
			return c;
	return NULL;
}

struct kmem_cache *kmem_heap_cache_at(const struct kmem_heap *h, size_t i)
{
	/* The registry is newest first; index from the oldest so the size
	 * classes come first and indices are stable as caches are added. */
	size_t n = h->ncaches;
	struct kmem_cache *c = h->caches;

	if (i >= n)
		return NULL;
	for (size_t k = n - 1; k > i; k--)
		c = *kmem__cache_next(c);
	return c;
}

/* ------------------------------------------------------------ kmalloc */

static struct kmem_cache *size_class(const struct kmem_heap *h, uint64_t size)
{
	unsigned i;

	if (size <= 192)
		return h->kmalloc[h->small_index[(size - 1) >> 3]];
	i = kmem_log2_ceil(size);	/* 256 -> 8 ... 8192 -> 13 */
	return h->kmalloc[i - 1];
}

int kmem_heap_alloc_len(struct kmem_heap *h, uint64_t size, uint64_t *off,
			uint64_t *len)
{
	struct kmem_cache *c;
	uint64_t n;
	int rc;

	if (size == 0)
		return KMEM_EZEROSIZE;
	if (size <= KMEM_KMALLOC_MAX && (c = size_class(h, size))) {
		rc = kmem_cache_alloc(c, off);
		if (rc == 0)
			*len = kmem_cache_objsize(c);
		return rc;
	}
	if (size > h->size)
		return KMEM_ETOOBIG;
	n = (size + h->page_size - 1) >> h->page_shift;
	rc = kmem__heap_pages_alloc(h, n, off);
	if (rc == 0)
		*len = n << h->page_shift;
	return rc;
}

int kmem_heap_alloc(struct kmem_heap *h, uint64_t size, uint64_t *off)
{
	uint64_t len;

	return kmem_heap_alloc_len(h, size, off, &len);
}

int kmem_heap_free(struct kmem_heap *h, uint64_t off)
{
	uint64_t page = off >> h->page_shift;
	struct kmem_slab *s;
	struct arena *a;

	if (page >= h->npages)
		return KMEM_ERANGE;
	s = h->map[page];
	if (s) {
		struct kmem_cache *c = kmem__slab_cache(s);

		if (!kmem__cache_is_kmalloc(c))
			return KMEM_EWRONGCACHE;
		return kmem_cache_free(c, off);
	}
	a = kmem__heap_arena_of(h, off);
	if (!a)
		return KMEM_ERANGE;
	return arena_release(a, off);
}

int kmem_heap_size_of(const struct kmem_heap *h, uint64_t off, uint64_t *len)
{
	uint64_t page = off >> h->page_shift;
	struct arena *a;

	if (page >= h->npages)
		return KMEM_ERANGE;
	if (h->map[page]) {
		struct kmem_cache *c = kmem__slab_cache(h->map[page]);
		int rc = kmem__cache_obj_check(c, off);

		if (rc)
			return rc;
		*len = kmem_cache_objsize(c);
		return 0;
	}
	a = kmem__heap_arena_of(h, off);
	if (!a)
		return KMEM_ERANGE;
	return a->buddy ? kmem_buddy_alloc_size_of(a->buddy, off, len) :
			  kmem_vmem_size_of(a->vmem, off, len);
}

/* ------------------------------------------------------------ stats */

/* Sum the arenas' buddyinfo rows and derive the heap-wide unusable free
 * space index (mm/vmstat.c), as kmem_buddy_stats does for one arena. */
static void fragmentation(const struct kmem_heap *h, struct kmem_heap_stats *st)
{
	uint64_t free_pages = 0;

	for (size_t i = 0; i < h->narenas; i++) {
		struct kmem_buddy_stats bs;

		if (!h->arenas[i].buddy)
			return;
		kmem_buddy_stats(h->arenas[i].buddy, &bs);
		for (unsigned k = 0; k <= bs.max_order; k++) {
			st->nr_free[k] += bs.nr_free[k];
			free_pages += bs.nr_free[k] << k;
		}
	}
	for (unsigned k = 0; k <= KMEM_BUDDY_MAX_ORDER && free_pages; k++) {
		uint64_t suitable = 0;

		for (unsigned o = k; o <= KMEM_BUDDY_MAX_ORDER; o++)
			suitable += st->nr_free[o] << o;
		st->unusable_index[k] = (unsigned)
			(((free_pages - suitable) * 1000) / free_pages);
	}
}

void kmem_heap_stats(const struct kmem_heap *h, struct kmem_heap_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < h->narenas; i++) {
		const struct arena *a = &h->arenas[i];
		uint64_t l = kmem__arena_largest(a);

		st->total_bytes += a->d.size;
		st->free_bytes += arena_free(a);
		if (l > st->largest_free)
			st->largest_free = l;
		st->meta_bytes += a->buddy ? kmem_buddy_meta_bytes(a->buddy) :
					     kmem_vmem_meta_bytes(a->vmem);
	}
	st->used_bytes = st->total_bytes - st->free_bytes;
	fragmentation(h, st);
	for (struct kmem_cache *c = h->caches; c; c = *kmem__cache_next(c)) {
		struct kmem_cache_stats cs;

		kmem_cache_stats(c, &cs);
		st->slab_bytes += kmem__cache_slab_bytes(c);
		st->meta_bytes += cs.meta_bytes;
	}
	st->meta_bytes += sizeof(*h) + h->npages * sizeof(*h->map) +
			  (h->npages + 63) / 64 * 8 +
			  h->narenas * sizeof(*h->arenas);
	st->narenas = h->narenas;
	st->ncaches = h->ncaches;
}

int kmem_heap_arena_stats(const struct kmem_heap *h, size_t i,
			  struct kmem_arena_stats *st)
{
	const struct arena *a;

	if (i >= h->narenas)
		return KMEM_EINVAL;
	a = &h->arenas[i];
	memset(st, 0, sizeof(*st));
	st->desc = a->d;
	st->free_bytes = arena_free(a);
	st->largest_free = kmem__arena_largest(a);
	if (a->buddy)
		kmem_buddy_stats(a->buddy, &st->buddy);
	return 0;
}

uint64_t kmem_heap_page_size(const struct kmem_heap *h)
{
	return h->page_size;
}

enum kmem_policy kmem_heap_policy(const struct kmem_heap *h)
{
	return h->policy;
}

uint64_t kmem_heap_shrink(struct kmem_heap *h)
{
	uint64_t n = 0;

	for (struct kmem_cache *c = h->caches; c; c = *kmem__cache_next(c))
		n += kmem_cache_shrink(c);
	return n;
}

int kmem_heap_check(const struct kmem_heap *h)
{
	uint64_t slab_pages = 0, mapped = 0;

	for (size_t i = 0; i < h->narenas; i++) {
		const struct arena *a = &h->arenas[i];

		if ((a->buddy ? kmem_buddy_check(a->buddy) :
				kmem_vmem_check(a->vmem)) != 0)
			return KMEM_ECORRUPT;
	}
	for (struct kmem_cache *c = h->caches; c; c = *kmem__cache_next(c)) {
		if (kmem_cache_check(c))
			return KMEM_ECORRUPT;
		slab_pages += kmem__cache_slab_bytes(c) >> h->page_shift;
	}
	/* Every mapped page belongs to a slab of a registered cache. */
	for (uint64_t p = 0; p < h->npages; p++)
		mapped += h->map[p] != NULL;
	return mapped == slab_pages ? 0 : KMEM_ECORRUPT;
}

bool kmem_heap_is_pristine(const struct kmem_heap *h)
{
	for (size_t i = 0; i < h->narenas; i++) {
		const struct arena *a = &h->arenas[i];

		if (a->buddy ? !kmem_buddy_is_pristine(a->buddy) :
			       kmem_vmem_free_bytes(a->vmem) != a->d.size)
			return false;
	}
	return true;
}
