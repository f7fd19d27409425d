/*
 * test_slab.c - unit and model tests of lib/slab.c and the kmalloc size
 * classes of lib/heap.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "kmem/error.h"
#include "kmem/fault.h"
#include "kmem/heap.h"
#include "kmem/slab.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define PS (4 * KiB)

static struct kmem_heap *mkheap(uint64_t size)
{
	struct kmem_heap_params p = { .size = size, .page_size = PS };
	struct kmem_heap *h = NULL;
	char msg[KMEM_MSG_MAX];

	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), 0);
	return h;
}

static struct kmem_cache *mkcache(struct kmem_heap *h, const char *name,
				  uint64_t size, uint64_t align, uint64_t pages)
{
	struct kmem_cache_params p = {
		.name = name, .size = size, .align = align, .slab_pages = pages,
	};
	struct kmem_cache *c = NULL;

	assert_int_equal(kmem_cache_create(h, &p, &c), 0);
	return c;
}

static void stats(struct kmem_cache *c, struct kmem_cache_stats *st)
{
	kmem_cache_stats(c, st);
	assert_int_equal(kmem_cache_check(c), 0);
}

/* Bonwick's example: a 12 KiB slab holds six 2 KiB objects. */
static void test_slab_textbook_12k_six_2k(void **state)
{
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache *c = mkcache(h, "obj2k", 2048, 0, 3);
	struct kmem_cache_stats st;
	uint64_t off[7];

	(void)state;
	stats(c, &st);
	assert_int_equal(st.objperslab, 6);
	assert_int_equal(st.pagesperslab, 3);
	assert_int_equal(st.objsize, 2048);
	for (int i = 0; i < 6; i++)
		assert_int_equal(kmem_cache_alloc(c, &off[i]), 0);
	/* All six in one 12 KiB slab, back to back. */
	for (int i = 1; i < 6; i++)
		assert_int_equal(off[i], off[0] + (uint64_t)i * 2048);
	stats(c, &st);
	assert_int_equal(st.num_slabs, 1);
	assert_int_equal(st.full_slabs, 1);
	assert_int_equal(st.active_objs, 6);
	assert_int_equal(st.num_objs, 6);
	/* The heap charged exactly 3 pages. */
	struct kmem_heap_stats hs;
	kmem_heap_stats(h, &hs);
	assert_int_equal(hs.used_bytes, 3 * PS);

	assert_int_equal(kmem_cache_alloc(c, &off[6]), 0);
	stats(c, &st);
	assert_int_equal(st.num_slabs, 2);
	assert_int_equal(st.full_slabs, 1);
	assert_int_equal(st.partial_slabs, 1);
	assert_int_equal(st.active_objs, 7);
	assert_int_equal(st.num_objs, 12);

	for (int i = 0; i < 7; i++)
		assert_int_equal(kmem_cache_free(c, off[i]), 0);
	stats(c, &st);
	/* One empty slab is kept in reserve, the other went back. */
	assert_int_equal(st.num_slabs, 1);
	assert_int_equal(st.empty_slabs, 1);
	assert_int_equal(st.active_objs, 0);
	assert_int_equal(kmem_cache_shrink(c), 1);
	stats(c, &st);
	assert_int_equal(st.num_slabs, 0);
	assert_int_equal(kmem_cache_destroy(c), 0);
	kmem_heap_shrink(h);
	assert_true(kmem_heap_is_pristine(h));
	assert_int_equal(kmem_heap_check(h), 0);
	kmem_heap_destroy(h);
}

static void test_slab_sizing_rule(void **state)
{
	struct kmem_heap *h = mkheap(4 * MiB);
	struct kmem_cache_stats st;

	(void)state;
	/* 32 B: one page, 128 objects, no waste. */
	stats(mkcache(h, "a32", 32, 0, 0), &st);
	assert_int_equal(st.pagesperslab, 1);
	assert_int_equal(st.objperslab, 128);
	/* 2 KiB: one page holds only 2, so 4 pages hold 8. */
	stats(mkcache(h, "a2k", 2048, 0, 0), &st);
	assert_int_equal(st.pagesperslab, 4);
	assert_int_equal(st.objperslab, 8);
	/* 3000 B: 8 pages hold 10 with 2768 B (< 1/8) left over. */
	stats(mkcache(h, "a3000", 3000, 0, 0), &st);
	assert_int_equal(st.objsize, 3000);
	assert_int_equal(st.pagesperslab, 8);
	assert_int_equal(st.objperslab, 10);
	/* Alignment rounds the object size up. */
	stats(mkcache(h, "a100", 100, 64, 0), &st);
	assert_int_equal(st.objsize, 128);
	/* 200 KiB objects: beyond the auto limit, the smallest slab that
	 * wastes under 1/8: 50 pages hold exactly one. */
	stats(mkcache(h, "huge", 200 * KiB, 0, 0), &st);
	assert_int_equal(st.pagesperslab, 50);
	assert_int_equal(st.objperslab, 1);
	kmem_heap_destroy(h);
}

static void test_slab_partial_first(void **state)
{
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache *c = mkcache(h, "p", 1024, 0, 1);	/* 4 a slab */
	struct kmem_cache_stats st;
	uint64_t off[8], x;

	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(kmem_cache_alloc(c, &off[i]), 0);
	stats(c, &st);
	assert_int_equal(st.full_slabs, 2);
	/* Free one object of the first slab: it becomes partial and the
	 * next allocation reuses exactly that object. */
	assert_int_equal(kmem_cache_free(c, off[1]), 0);
	stats(c, &st);
	assert_int_equal(st.full_slabs, 1);
	assert_int_equal(st.partial_slabs, 1);
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, off[1]);
	stats(c, &st);
	assert_int_equal(st.full_slabs, 2);
	assert_int_equal(st.num_slabs, 2);
	for (int i = 0; i < 8; i++)
		assert_int_equal(kmem_cache_free(c, off[i]), 0);
	kmem_heap_destroy(h);
}

static void test_slab_free_errors_change_nothing(void **state)
{
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache *c = mkcache(h, "e", 96, 0, 0);
	struct kmem_cache *d = mkcache(h, "f", 64, 0, 0);
	struct kmem_cache_stats before, after;
	uint64_t a, b, other;

	(void)state;
	assert_int_equal(kmem_cache_alloc(c, &a), 0);
	assert_int_equal(kmem_cache_alloc(c, &b), 0);
	assert_int_equal(kmem_cache_alloc(d, &other), 0);
	assert_int_equal(kmem_cache_free(c, b), 0);
	stats(c, &before);

	assert_int_equal(kmem_cache_free(c, b), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_cache_free(c, a + 1), KMEM_EMISALIGNED);
	assert_int_equal(kmem_cache_free(c, a + 95), KMEM_EMISALIGNED);
	assert_int_equal(kmem_cache_free(c, other), KMEM_EWRONGCACHE);
	assert_int_equal(kmem_cache_free(c, 1 * MiB), KMEM_ERANGE);
	assert_int_equal(kmem_cache_free(c, UINT64_MAX), KMEM_ERANGE);
	assert_int_equal(kmem_cache_free(c, 512 * KiB), KMEM_ENOTALLOC);
	/* Past the last whole object of the slab (4096 = 42 * 96 + 64). */
	assert_int_equal(kmem_cache_free(c, (a & ~(PS - 1)) + 42 * 96),
			 KMEM_EMISALIGNED);
	assert_int_equal(kmem_cache_destroy(c), KMEM_EBUSY);

	stats(c, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(kmem_heap_check(h), 0);

	assert_int_equal(kmem_cache_free(c, a), 0);
	assert_int_equal(kmem_cache_free(d, other), 0);
	assert_int_equal(kmem_cache_destroy(c), 0);
	assert_int_equal(kmem_cache_destroy(d), 0);
	kmem_heap_shrink(h);
	assert_true(kmem_heap_is_pristine(h));
	kmem_heap_destroy(h);
}

/*
 * Frees go to a slab's pending bitmap and come back when its ready bitmap
 * runs dry: a pending object is still free (a second free of it is a
 * double free, the counts say so), and it is reused before the cache
 * grows another slab.
 */
static void test_slab_pending_frees(void **state)
{
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache *c = mkcache(h, "pend", 64, 0, 1);
	struct kmem_cache_stats st;
	uint64_t a, b, x, first, n;

	(void)state;
	stats(c, &st);
	n = st.objperslab;
	assert_int_equal(n, 64);
	assert_int_equal(kmem_cache_alloc(c, &a), 0);
	assert_int_equal(kmem_cache_alloc(c, &b), 0);
	assert_int_equal(b, a + 64);
	first = a;
	assert_int_equal(kmem_cache_free(c, a), 0);
	assert_int_equal(kmem_cache_free(c, a), KMEM_EDOUBLEFREE);
	stats(c, &st);
	assert_int_equal(st.active_objs, 1);
	/* The rest of the ready objects come first, in address order ... */
	for (uint64_t i = 2; i < n; i++) {
		assert_int_equal(kmem_cache_alloc(c, &x), 0);
		assert_int_equal(x, first + i * 64);
	}
	stats(c, &st);
	assert_int_equal(st.active_objs, n - 1);
	assert_int_equal(st.partial_slabs, 1);
	/* ... then the pending one, from the same slab. */
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, a);
	stats(c, &st);
	assert_int_equal(st.num_slabs, 1);
	assert_int_equal(st.full_slabs, 1);
	/* A full slab's first free is ready at once. */
	assert_int_equal(kmem_cache_free(c, first + 5 * 64), 0);
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, first + 5 * 64);
	/* Free everything in a scattered order: the slab empties exactly. */
	for (uint64_t i = 0; i < n; i += 2)
		assert_int_equal(kmem_cache_free(c, first + i * 64), 0);
	for (uint64_t i = 1; i < n; i += 2)
		assert_int_equal(kmem_cache_free(c, first + i * 64), 0);
	stats(c, &st);
	assert_int_equal(st.active_objs, 0);
	assert_int_equal(st.empty_slabs, 1);
	assert_int_equal(kmem_cache_free(c, first + 7 * 64), KMEM_EDOUBLEFREE);
	/* Reused from the emptied slab, lowest first once merged. */
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, first);
	assert_int_equal(kmem_cache_free(c, x), 0);
	assert_int_equal(kmem_cache_shrink(c), 1);
	assert_int_equal(kmem_cache_destroy(c), 0);
	kmem_heap_destroy(h);
}

/*
 * A cache that grows and shrinks with every batch reuses the descriptors
 * of the slabs it gave back: the second round allocates no metadata.
 * Shrinking frees them.
 */
static void test_slab_spare_descriptors(void **state)
{
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache *c = mkcache(h, "breathe", 256, 0, 1);
	struct kmem_cache_stats st, st2;
	uint64_t o[64];
	long live;

	(void)state;
	for (int round = 0; round < 3; round++) {
		if (round == 2)
			live = kmem_fault_live();
		for (int i = 0; i < 64; i++)
			assert_int_equal(kmem_cache_alloc(c, &o[i]), 0);
		stats(c, &st);
		assert_int_equal(st.num_slabs, 4);
		if (round == 2)
			assert_int_equal(kmem_fault_live(), live);
		for (int i = 0; i < 64; i++)
			assert_int_equal(kmem_cache_free(c, o[i]), 0);
		stats(c, &st2);
		/* One empty slab kept, three given back to the heap. */
		assert_int_equal(st2.num_slabs, 1);
		assert_int_equal(st2.active_objs, 0);
		assert_int_equal(st2.meta_bytes, st.meta_bytes);
	}
	live = kmem_fault_live();
	assert_int_equal(kmem_cache_shrink(c), 1);
	assert_int_equal(kmem_fault_live(), live - 4);
	stats(c, &st);
	assert_int_equal(st.num_slabs, 0);
	assert_int_equal(kmem_cache_destroy(c), 0);
	kmem_heap_destroy(h);
}

/*
 * The one slab of a cache whose objects are freed as they come stays at
 * the head of the partial list when it empties (parked) instead of going
 * to the empty list and back on every allocation; the stats and the
 * reserve count it as empty, and it leaves the partial list as soon as
 * another slab heads it.
 */
static void test_slab_parked_head(void **state)
{
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache *c = mkcache(h, "parked", 256, 0, 1);
	struct kmem_cache_stats st;
	uint64_t o[17], x;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(kmem_cache_alloc(c, &x), 0);
		assert_int_equal(kmem_cache_free(c, x), 0);
	}
	stats(c, &st);
	assert_int_equal(st.num_slabs, 1);
	assert_int_equal(st.empty_slabs, 1);
	assert_int_equal(st.partial_slabs, 0);
	assert_int_equal(st.active_slabs, 0);
	assert_int_equal(st.active_objs, 0);
	assert_int_equal(kmem_cache_free(c, x), KMEM_EDOUBLEFREE);
	/* A full slab and a second one; freeing into the full one makes it
	 * the partial head; emptying it parks it; then the other's free
	 * takes the head and the parked one goes to the empty list. */
	for (int i = 0; i < 17; i++)
		assert_int_equal(kmem_cache_alloc(c, &o[i]), 0);
	stats(c, &st);
	assert_int_equal(st.num_slabs, 2);
	assert_int_equal(st.full_slabs, 1);
	assert_int_equal(st.partial_slabs, 1);
	for (int i = 0; i < 16; i++)
		assert_int_equal(kmem_cache_free(c, o[i]), 0);
	stats(c, &st);
	assert_int_equal(st.empty_slabs, 1);
	assert_int_equal(st.partial_slabs, 1);
	assert_int_equal(st.active_objs, 1);
	assert_int_equal(kmem_cache_free(c, o[16]), 0);
	stats(c, &st);
	/* The reserve (one empty slab) is full: the second empty slab went
	 * back to the heap. */
	assert_int_equal(st.num_slabs, 1);
	assert_int_equal(st.empty_slabs, 1);
	assert_int_equal(kmem_cache_shrink(c), 1);
	stats(c, &st);
	assert_int_equal(st.num_slabs, 0);
	assert_int_equal(kmem_cache_destroy(c), 0);
	kmem_heap_destroy(h);
}

static void test_slab_create_errors(void **state)
{
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache *c = NULL;
	struct kmem_cache_params p = { .name = "x", .size = 64 };

	(void)state;
	assert_int_equal(kmem_cache_create(h, &p, &c), 0);
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EEXIST);
	p.name = "kmalloc-64";
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EEXIST);
	p.name = "y";
	p.size = 0;
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EZEROSIZE);
	p.size = 64;
	p.align = 48;
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EALIGN);
	p.align = 0;
	p.name = "";
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EINVAL);
	p.name = "has space";
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EINVAL);
	p.name = "a-name-that-is-far-too-long-for-a-cache";
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EINVAL);
	p.name = NULL;
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EINVAL);
	p.name = "y";
	p.size = 8 * KiB;
	p.slab_pages = 1;	/* holds no object */
	assert_int_equal(kmem_cache_create(h, &p, &c), KMEM_EINVAL);
	assert_non_null(kmem_heap_find_cache(h, "x"));
	assert_null(kmem_heap_find_cache(h, "y"));
	kmem_heap_destroy(h);
}

static void test_slab_colour_staggers_slabs(void **state)
{
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache_params p = {
		.name = "col", .size = 1000, .flags = KMEM_CACHE_COLOUR,
		.slab_pages = 1, .reserve = 4,
	};
	struct kmem_cache *c;
	uint64_t off[4];

	(void)state;
	/* 4 objects of 1000 B leave 96 B: colours 0 and 64. */
	assert_int_equal(kmem_cache_create(h, &p, &c), 0);
	for (int i = 0; i < 4; i++) {
		uint64_t o;

		assert_int_equal(kmem_cache_alloc(c, &off[i]), 0);
		for (int j = 0; j < 3; j++)
			assert_int_equal(kmem_cache_alloc(c, &o), 0);
	}
	assert_int_equal(off[0] % PS, 0);
	assert_int_equal(off[1] % PS, 64);
	assert_int_equal(off[2] % PS, 0);
	assert_int_equal(off[3] % PS, 64);
	assert_int_equal(kmem_cache_check(c), 0);
	kmem_heap_destroy(h);
}

static void test_slab_enomem_when_heap_full(void **state)
{
	struct kmem_heap *h = mkheap(16 * PS);
	struct kmem_cache *c = mkcache(h, "big", 4096, 0, 4);
	struct kmem_cache_stats before, after;
	uint64_t off;
	int n = 0;

	(void)state;
	while (kmem_cache_alloc(c, &off) == 0)
		n++;
	assert_int_equal(n, 16);
	stats(c, &before);
	assert_int_equal(kmem_cache_alloc(c, &off), KMEM_ENOMEM);
	stats(c, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	kmem_heap_destroy(h);
}

static void test_slab_fault_injection(void **state)
{
	long base = kmem_fault_live();
	struct kmem_heap *h = mkheap(1 * MiB);
	struct kmem_cache_params p = { .name = "fi", .size = 128 };
	struct kmem_cache *c = NULL;
	long live = kmem_fault_live();
	uint64_t off;

	(void)state;
	for (unsigned long n = 1;; n++) {
		int rc;

		kmem_fault_fail_nth(n);
		rc = kmem_cache_create(h, &p, &c);
		if (!kmem_fault_fired())
			break;
		assert_int_equal(rc, KMEM_ENOMETA);
		assert_null(kmem_heap_find_cache(h, "fi"));
		assert_int_equal(kmem_fault_live(), live);
	}
	kmem_fault_fail_nth(0);
	assert_non_null(c);
	/* The first alloc needs a slab descriptor. */
	live = kmem_fault_live();
	kmem_fault_fail_nth(1);
	assert_int_equal(kmem_cache_alloc(c, &off), KMEM_ENOMETA);
	assert_true(kmem_fault_fired());
	assert_int_equal(kmem_fault_live(), live);
	struct kmem_cache_stats st;
	stats(c, &st);
	assert_int_equal(st.num_slabs, 0);
	assert_true(kmem_heap_is_pristine(h));
	kmem_fault_fail_nth(0);
	assert_int_equal(kmem_cache_alloc(c, &off), 0);
	assert_int_equal(kmem_cache_free(c, off), 0);
	kmem_heap_destroy(h);
	assert_int_equal(kmem_fault_live(), base);
}

/* kmalloc: each size lands in the right class; large sizes in pages. */
static void test_slab_kmalloc_classes(void **state)
{
	struct kmem_heap *h = mkheap(4 * MiB);
	static const struct { uint64_t size, cls; } cases[] = {
		{ 1, 8 }, { 8, 8 }, { 9, 16 }, { 33, 64 }, { 65, 96 },
		{ 96, 96 }, { 97, 128 }, { 129, 192 }, { 192, 192 },
		{ 193, 256 }, { 257, 512 }, { 1000, 1024 }, { 2049, 4096 },
		{ 8192, 8192 },
	};
	uint64_t off, len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(kmem_heap_alloc(h, cases[i].size, &off), 0);
		assert_int_equal(kmem_heap_size_of(h, off, &len), 0);
		assert_int_equal(len, cases[i].cls);
		assert_int_equal(off % (cases[i].cls >= 8 && (cases[i].cls &
			(cases[i].cls - 1)) == 0 ? cases[i].cls : 32), 0);
		assert_int_equal(kmem_heap_free(h, off), 0);
		assert_int_equal(kmem_heap_free(h, off), KMEM_EDOUBLEFREE);
	}
	/* 8193 B goes to the buddy: 3 pages, exactly. */
	struct kmem_heap_stats a, b;
	kmem_heap_shrink(h);
	kmem_heap_stats(h, &a);
	assert_int_equal(kmem_heap_alloc(h, 8193, &off), 0);
	assert_int_equal(kmem_heap_size_of(h, off, &len), 0);
	assert_int_equal(len, 3 * PS);
	kmem_heap_stats(h, &b);
	assert_int_equal(a.free_bytes - b.free_bytes, 3 * PS);
	assert_int_equal(kmem_heap_free(h, off), 0);
	assert_int_equal(kmem_heap_alloc(h, 0, &off), KMEM_EZEROSIZE);
	assert_int_equal(kmem_heap_alloc(h, 5 * MiB, &off), KMEM_ETOOBIG);
	/* A named cache's object is not kfree'd. */
	struct kmem_cache *c = mkcache(h, "named", 64, 0, 0);
	assert_int_equal(kmem_cache_alloc(c, &off), 0);
	assert_int_equal(kmem_heap_free(h, off), KMEM_EWRONGCACHE);
	assert_int_equal(kmem_cache_free(c, off), 0);
	kmem_heap_shrink(h);
	assert_true(kmem_heap_is_pristine(h));
	assert_int_equal(kmem_heap_check(h), 0);
	kmem_heap_destroy(h);
}

/* ------------------------------------------------------------ model test */

struct obj {
	uint64_t off, len;
	int cache;		/* -1 kmalloc */
};

static void count_report(void *ctx, const struct kmem_debug_report *r)
{
	(void)r;
	++*(uint64_t *)ctx;
}

/* The byte a live object is filled with, by its offset. */
static uint8_t fill_of(uint64_t off)
{
	return (uint8_t)((off >> 3) ^ 0x3c);
}

/*
 * The model run, with debugging flags on every cache (and the size
 * classes) when debug is set: the heap then has real memory, every live
 * object is filled with its own byte and checked when it is freed, so
 * guards and poison never land on a live object, and no report may come.
 */
static void model_run(const char *name, unsigned debug, uint64_t dflt_ops)
{
	const uint64_t region = 8 * MiB;
	uint64_t seed = tu_seed(name), rng = seed;
	uint64_t ops = tu_ops(dflt_ops), nlive = 0, cap = 1 << 16;
	struct kmem_heap_params hp = {
		.size = region, .page_size = PS, .kmalloc_flags = debug,
	};
	struct kmem_heap *h = NULL;
	struct kmem_cache *caches[4];
	static const uint64_t csize[4] = { 24, 200, 1500, 5000 };
	uint64_t live_per_cache[4] = { 0 }, page_bytes = 0, reports = 0;
	struct obj *lv = calloc(cap, sizeof(*lv));
	uint8_t *owner = calloc(region / 8, 1);	/* 8-byte granules */
	uint8_t *mem = debug ? aligned_alloc(PS, region) : NULL;
	char msg[KMEM_MSG_MAX];

	assert_non_null(lv);
	assert_non_null(owner);
	hp.mem = mem;
	assert_int_equal(kmem_heap_create(&hp, &h, msg, sizeof(msg)), 0);
	kmem_heap_set_reporter(h, count_report, &reports);
	for (int i = 0; i < 4; i++) {
		char cname[16];
		struct kmem_cache_params cp = {
			.name = cname, .size = csize[i], .align = 8,
			.flags = debug,
		};

		snprintf(cname, sizeof(cname), "m%d", i);
		assert_int_equal(kmem_cache_create(h, &cp, &caches[i]), 0);
	}
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t r = tu_below(&rng, 100);

		if (nlive && (r < 48 || nlive == cap)) {
			uint64_t j = tu_below(&rng, nlive);
			struct obj o = lv[j];

			for (uint64_t b = 0; mem && b < o.len; b++)
				if (mem[o.off + b] != fill_of(o.off))
					fail_msg("seed %llu: byte %llu of live object "
						 "%llu changed", (unsigned long long)seed,
						 (unsigned long long)b,
						 (unsigned long long)o.off);
			if (o.cache >= 0) {
				int rc;

				assert_int_equal(kmem_cache_free(caches[o.cache], o.off), 0);
				/* Still in a slab: double free; slab released
				 * to the heap: not allocated. */
				rc = kmem_cache_free(caches[o.cache], o.off);
				assert_true(rc == KMEM_EDOUBLEFREE ||
					    rc == KMEM_ENOTALLOC);
				live_per_cache[o.cache]--;
			} else {
				assert_int_equal(kmem_heap_free(h, o.off), 0);
				if (o.len > KMEM_KMALLOC_MAX)
					page_bytes -= o.len;
			}
			memset(owner + o.off / 8, 0, (o.len + 7) / 8);
			lv[j] = lv[--nlive];
		} else {
			struct obj o;
			int rc;

			if (r < 80) {
				o.cache = (int)tu_below(&rng, 4);
				rc = kmem_cache_alloc(caches[o.cache], &o.off);
				o.len = csize[o.cache];
			} else {
				uint64_t sz = 1 + tu_below(&rng, r < 97 ? 4096 : 40000);

				o.cache = -1;
				rc = kmem_heap_alloc(h, sz, &o.off);
				if (rc == 0)
					assert_int_equal(kmem_heap_size_of(h, o.off, &o.len), 0);
				if (rc == 0)
					assert_true(o.len >= sz);
			}
			if (rc == KMEM_ENOMEM)
				continue;
			assert_int_equal(rc, 0);
			assert_true(o.off + o.len <= region);
			assert_int_equal(o.off % 8, 0);
			for (uint64_t g = 0; g < (o.len + 7) / 8; g++) {
				assert_int_equal(owner[o.off / 8 + g], 0);
				owner[o.off / 8 + g] = 1;
			}
			if (mem)
				memset(mem + o.off, fill_of(o.off), o.len);
			if (o.cache >= 0)
				live_per_cache[o.cache]++;
			else if (o.len > KMEM_KMALLOC_MAX)
				page_bytes += o.len;
			lv[nlive++] = o;
		}
		/* Every step: the caches' counts and the heap's bytes in use
		 * equal the model's sums (slabs + page allocations). */
		for (int c = 0; c < 4; c++) {
			struct kmem_cache_stats st;

			kmem_cache_stats(caches[c], &st);
			assert_int_equal(st.active_objs, live_per_cache[c]);
		}
		struct kmem_heap_stats hs;
		kmem_heap_stats(h, &hs);
		assert_int_equal(hs.used_bytes, hs.slab_bytes + page_bytes);
		if (i % 4096 == 0)
			assert_int_equal(kmem_heap_check(h), 0);
	}
	assert_int_equal(kmem_heap_check(h), 0);
	while (nlive) {
		struct obj o = lv[--nlive];

		if (o.cache >= 0)
			assert_int_equal(kmem_cache_free(caches[o.cache], o.off), 0);
		else
			assert_int_equal(kmem_heap_free(h, o.off), 0);
	}
	for (int c = 0; c < 4; c++) {
		struct kmem_cache_stats st;

		kmem_cache_shrink(caches[c]);
		kmem_cache_stats(caches[c], &st);
		assert_int_equal(st.num_slabs, 0);
		assert_int_equal(kmem_cache_destroy(caches[c]), 0);
	}
	kmem_heap_shrink(h);
	assert_int_equal(kmem_heap_check(h), 0);
	assert_true(kmem_heap_is_pristine(h));
	assert_int_equal(reports, 0);
	free(lv);
	free(owner);
	free(mem);
	kmem_heap_destroy(h);
}

static void test_slab_model_random(void **state)
{
	(void)state;
	model_run("slab model", 0, 1000000);
}

/* The same with poison and red zones on every cache. */
static void test_slab_model_random_debug(void **state)
{
	(void)state;
	model_run("slab model debug", KMEM_CACHE_POISON | KMEM_CACHE_REDZONE,
		  300000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slab_textbook_12k_six_2k),
		cmocka_unit_test(test_slab_sizing_rule),
		cmocka_unit_test(test_slab_partial_first),
		cmocka_unit_test(test_slab_free_errors_change_nothing),
		cmocka_unit_test(test_slab_pending_frees),
		cmocka_unit_test(test_slab_spare_descriptors),
		cmocka_unit_test(test_slab_parked_head),
		cmocka_unit_test(test_slab_create_errors),
		cmocka_unit_test(test_slab_colour_staggers_slabs),
		cmocka_unit_test(test_slab_enomem_when_heap_full),
		cmocka_unit_test(test_slab_fault_injection),
		cmocka_unit_test(test_slab_kmalloc_classes),
		cmocka_unit_test(test_slab_model_random),
		cmocka_unit_test(test_slab_model_random_debug),
	};

	return cmocka_run_group_tests_name("slab", tests, NULL, NULL);
}
