/*
 * test_slab_debug.c - poisoning and red zones (lib/slab_debug.c) on real
 * memory: a heap whose mapping is a malloc'd region, and a reporter that
 * records every finding so each test can assert exactly what was found.
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
#define REGION (1 * MiB)
#define MAX_REPORTS 16

struct fixture {
	unsigned char *mem;
	struct kmem_heap *h;
	struct kmem_debug_report r[MAX_REPORTS];
	size_t n;
};

static void record(void *ctx, const struct kmem_debug_report *r)
{
	struct fixture *f = ctx;

	if (f->n < MAX_REPORTS)
		f->r[f->n] = *r;
	f->n++;
}

/* A heap over REGION bytes of real memory, filled with 0x5a. */
static struct fixture *mkfix(unsigned kmalloc_flags)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kmem_heap_params p = {
		.size = REGION, .page_size = PS, .kmalloc_flags = kmalloc_flags,
	};
	char msg[KMEM_MSG_MAX];

	assert_non_null(f);
	f->mem = aligned_alloc(PS, REGION);
	assert_non_null(f->mem);
	memset(f->mem, 0x5a, REGION);
	p.mem = f->mem;
	assert_int_equal(kmem_heap_create(&p, &f->h, msg, sizeof(msg)), 0);
	kmem_heap_set_reporter(f->h, record, f);
	return f;
}

static void rmfix(struct fixture *f)
{
	assert_int_equal(kmem_heap_check(f->h), 0);
	kmem_heap_destroy(f->h);
	free(f->mem);
	free(f);
}

static struct kmem_cache *mkcache(struct fixture *f, const char *name,
				  uint64_t size, uint64_t align, unsigned flags)
{
	struct kmem_cache_params p = {
		.name = name, .size = size, .align = align, .flags = flags,
	};
	struct kmem_cache *c = NULL;

	assert_int_equal(kmem_cache_create(f->h, &p, &c), 0);
	return c;
}

static void expect_report(const struct fixture *f, size_t i, unsigned kind,
			  enum kmem_debug_when when, uint64_t obj, uint64_t bad,
			  uint64_t nbad, uint8_t found)
{
	assert_true(i < f->n);
	assert_int_equal(f->r[i].kind, kind);
	assert_int_equal(f->r[i].when, when);
	assert_int_equal(f->r[i].object, obj);
	assert_int_equal(f->r[i].bad, bad);
	assert_int_equal(f->r[i].nbad, nbad);
	assert_int_equal(f->r[i].found, found);
	assert_int_equal(f->r[i].expected, kind == KMEM_CACHE_POISON ?
			 KMEM_POISON_BYTE : KMEM_REDZONE_BYTE);
}

static void cstats(struct kmem_cache *c, struct kmem_cache_stats *st)
{
	kmem_cache_stats(c, st);
	assert_int_equal(kmem_cache_check(c), 0);
}

/* ------------------------------------------------------------ poison */

/* A write after free is reported once, at the next allocation of that
 * object, with the offset of the first byte written. */
static void test_slab_debug_poison_write_after_free(void **state)
{
	struct fixture *f = mkfix(0);
	struct kmem_cache *c = mkcache(f, "p", 64, 0, KMEM_CACHE_POISON);
	struct kmem_cache_stats st;
	uint64_t a, b, x;

	(void)state;
	assert_int_equal(kmem_cache_alloc(c, &a), 0);
	assert_int_equal(kmem_cache_alloc(c, &b), 0);
	assert_int_equal(f->n, 0);
	/* A new slab is poisoned whole; a freed object is poisoned again. */
	for (uint64_t i = 0; i < 64; i++)
		f->mem[a + i] = (unsigned char)i;
	assert_int_equal(kmem_cache_free(c, a), 0);
	for (uint64_t i = 0; i < 64; i++)
		assert_int_equal(f->mem[a + i], KMEM_POISON_BYTE);
	f->mem[a + 13] = 0;
	f->mem[a + 14] = 0;
	f->mem[a + 40] = 7;
	cstats(c, &st);
	assert_int_equal(st.poison_errors, 0);

	/* The lowest free object comes back first: a. */
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, a);
	assert_int_equal(f->n, 1);
	expect_report(f, 0, KMEM_CACHE_POISON, KMEM_DEBUG_AT_ALLOC, a, a + 13,
		      3, 0);
	assert_ptr_equal(f->r[0].cache, c);
	cstats(c, &st);
	assert_int_equal(st.poison_errors, 1);
	assert_int_equal(st.redzone_errors, 0);
	assert_int_equal(st.last_bad, a + 13);
	assert_int_equal(st.flags, KMEM_CACHE_POISON);

	/* Once: a clean free and allocation of the same object say nothing. */
	assert_int_equal(kmem_cache_free(c, a), 0);
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, a);
	assert_int_equal(f->n, 1);

	/* Memory never handed out is poisoned too: the object after b. */
	f->mem[b + 64 + 63] = 0x11;
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, b + 64);
	assert_int_equal(f->n, 2);
	expect_report(f, 1, KMEM_CACHE_POISON, KMEM_DEBUG_AT_ALLOC, x, x + 63,
		      1, 0x11);
	cstats(c, &st);
	assert_int_equal(st.poison_errors, 2);
	assert_int_equal(st.active_objs, 3);
	rmfix(f);
}

/* Switching poisoning on at run time marks only what is freed from then
 * on; switching it off forgets every mark. */
static void test_slab_debug_poison_runtime_toggle(void **state)
{
	struct fixture *f = mkfix(0);
	struct kmem_cache *c = mkcache(f, "t", 128, 0, 0);
	struct kmem_cache_stats st, before;
	uint64_t o[4], x;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(kmem_cache_alloc(c, &o[i]), 0);
	/* Freed while off, then scribbled on: never reported. */
	assert_int_equal(kmem_cache_free(c, o[0]), 0);
	assert_int_equal(kmem_cache_free(c, o[1]), 0);
	assert_int_equal(f->mem[o[0]], 0x5a);	/* untouched while off */
	memset(f->mem + o[0], 0, 128);
	memset(f->mem + o[1], 0, 128);
	cstats(c, &before);
	assert_int_equal(kmem_cache_set_flags(c, KMEM_CACHE_POISON), 0);
	assert_int_equal(kmem_cache_flags(c), KMEM_CACHE_POISON);
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, o[0]);
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, o[1]);
	assert_int_equal(f->n, 0);

	/* Freed while on: marked, and a write is caught. */
	assert_int_equal(kmem_cache_free(c, o[2]), 0);
	cstats(c, &st);
	assert_int_equal(st.meta_bytes, before.meta_bytes + 8);	/* one map */
	f->mem[o[2] + 127] = 0;
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, o[2]);
	assert_int_equal(f->n, 1);
	expect_report(f, 0, KMEM_CACHE_POISON, KMEM_DEBUG_AT_ALLOC, o[2],
		      o[2] + 127, 1, 0);

	/* Off again: the marks (and their bitmaps) go. */
	assert_int_equal(kmem_cache_free(c, o[3]), 0);
	assert_int_equal(kmem_cache_set_flags(c, 0), 0);
	cstats(c, &st);
	assert_int_equal(st.meta_bytes, before.meta_bytes);
	assert_int_equal(st.flags, 0);
	f->mem[o[3]] = 0;
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, o[3]);
	assert_int_equal(f->n, 1);
	cstats(c, &st);
	assert_int_equal(st.poison_errors, 1);

	/* Red zones and colour are fixed at creation. */
	assert_int_equal(kmem_cache_set_flags(c, KMEM_CACHE_REDZONE), KMEM_EINVAL);
	assert_int_equal(kmem_cache_set_flags(c, KMEM_CACHE_COLOUR), KMEM_EINVAL);
	assert_int_equal(kmem_cache_flags(c), 0);
	rmfix(f);
}

/* ------------------------------------------------------------ red zones */

/* One byte past the end and one before the start are each reported at
 * free, with their offsets; the free still happens and returns 0. */
static void test_slab_debug_redzone_overrun_underrun(void **state)
{
	struct fixture *f = mkfix(0);
	struct kmem_cache *c = mkcache(f, "rz", 96, 0, KMEM_CACHE_REDZONE);
	struct kmem_cache_stats st;
	uint64_t a, b, d, x;

	(void)state;
	cstats(c, &st);
	assert_int_equal(st.objsize, 96);
	assert_int_equal(st.objperslab, PS / (16 + 96 + 16));
	assert_int_equal(kmem_cache_objsize(c), 96);
	assert_int_equal(kmem_cache_alloc(c, &a), 0);
	assert_int_equal(kmem_cache_alloc(c, &b), 0);
	assert_int_equal(kmem_cache_alloc(c, &d), 0);
	assert_int_equal(a % PS, 16);		/* after its leading guard */
	assert_int_equal(b, a + 128);
	for (int i = 1; i <= 16; i++) {
		assert_int_equal(f->mem[a - i], KMEM_REDZONE_BYTE);
		assert_int_equal(f->mem[a + 95 + i], KMEM_REDZONE_BYTE);
	}
	/* The whole object is the caller's: no report. */
	memset(f->mem + d, 0, 96);
	assert_int_equal(kmem_cache_free(c, d), 0);
	assert_int_equal(f->n, 0);

	f->mem[a + 96] = 0;			/* overrun by one */
	assert_int_equal(kmem_cache_free(c, a), 0);
	assert_int_equal(f->n, 1);
	expect_report(f, 0, KMEM_CACHE_REDZONE, KMEM_DEBUG_AT_FREE, a, a + 96,
		      1, 0);
	f->mem[b - 1] = 0x22;			/* underrun by one */
	assert_int_equal(kmem_cache_free(c, b), 0);
	assert_int_equal(f->n, 2);
	expect_report(f, 1, KMEM_CACHE_REDZONE, KMEM_DEBUG_AT_FREE, b, b - 1,
		      1, 0x22);
	cstats(c, &st);
	assert_int_equal(st.redzone_errors, 2);
	assert_int_equal(st.poison_errors, 0);
	assert_int_equal(st.last_bad, b - 1);
	assert_int_equal(st.active_objs, 0);

	/* The guards are written again at the next allocation. */
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, a);
	assert_int_equal(f->mem[a + 96], KMEM_REDZONE_BYTE);
	assert_int_equal(kmem_cache_free(c, x), 0);
	assert_int_equal(f->n, 2);
	rmfix(f);
}

/* A large alignment gives a guard of that size, so objects stay aligned. */
static void test_slab_debug_redzone_keeps_alignment(void **state)
{
	struct fixture *f = mkfix(0);
	struct kmem_cache *c = mkcache(f, "al", 100, 64,
				       KMEM_CACHE_REDZONE | KMEM_CACHE_POISON);
	struct kmem_cache_stats st;
	uint64_t o[8];

	(void)state;
	cstats(c, &st);
	assert_int_equal(st.objsize, 128);
	/* 64 before, 128, 16 after rounded to 64: 256-byte slots. */
	assert_int_equal(st.objperslab, PS / 256);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(kmem_cache_alloc(c, &o[i]), 0);
		assert_int_equal(o[i] % 64, 0);
		memset(f->mem + o[i], i, 128);
	}
	f->mem[o[5] - 64] = 1;			/* the far end of the guard */
	for (int i = 0; i < 8; i++)
		assert_int_equal(kmem_cache_free(c, o[i]), 0);
	assert_int_equal(f->n, 1);
	expect_report(f, 0, KMEM_CACHE_REDZONE, KMEM_DEBUG_AT_FREE, o[5],
		      o[5] - 64, 1, 1);
	rmfix(f);
}

/* ------------------------------------------------------------ scan */

static void test_slab_debug_scan(void **state)
{
	struct fixture *f = mkfix(0);
	struct kmem_cache *c = mkcache(f, "sc", 64, 0,
				       KMEM_CACHE_POISON | KMEM_CACHE_REDZONE);
	struct kmem_cache_stats st;
	uint64_t a, b, x;

	(void)state;
	assert_int_equal(kmem_cache_alloc(c, &a), 0);
	assert_int_equal(kmem_cache_alloc(c, &b), 0);
	assert_int_equal(kmem_cache_scan(c), 0);
	assert_int_equal(kmem_cache_free(c, a), 0);
	f->mem[a + 1] = 0;			/* into a free object */
	f->mem[b + 64 + 3] = 0;			/* past a live one */
	assert_int_equal(kmem_cache_scan(c), 2);
	assert_int_equal(f->n, 2);
	expect_report(f, 0, KMEM_CACHE_POISON, KMEM_DEBUG_AT_SCAN, a, a + 1,
		      1, 0);
	expect_report(f, 1, KMEM_CACHE_REDZONE, KMEM_DEBUG_AT_SCAN, b, b + 67,
		      1, 0);
	/* Patterns written back: neither is reported again. */
	assert_int_equal(kmem_cache_scan(c), 0);
	assert_int_equal(kmem_cache_alloc(c, &x), 0);
	assert_int_equal(x, a);
	assert_int_equal(kmem_cache_free(c, b), 0);
	assert_int_equal(f->n, 2);
	cstats(c, &st);
	assert_int_equal(st.poison_errors, 1);
	assert_int_equal(st.redzone_errors, 1);
	/* A cache without debugging has nothing to scan. */
	assert_int_equal(kmem_cache_scan(mkcache(f, "plain", 64, 0, 0)), 0);
	rmfix(f);
}

/* A debugging cache's frees take the slow path (its slabs are tagged):
 * every error is still the right one, and changes nothing. */
static void test_slab_debug_free_errors_change_nothing(void **state)
{
	struct fixture *f = mkfix(0);
	struct kmem_cache *c = mkcache(f, "dbg", 96, 0, KMEM_CACHE_DEBUG);
	struct kmem_cache *d = mkcache(f, "plain", 96, 0, 0);
	struct kmem_cache_stats before, after;
	uint64_t a, b, o, len;

	(void)state;
	assert_int_equal(kmem_cache_alloc(c, &a), 0);
	assert_int_equal(kmem_cache_alloc(c, &b), 0);
	assert_int_equal(kmem_cache_alloc(d, &o), 0);
	assert_int_equal(kmem_cache_free(c, b), 0);
	cstats(c, &before);
	assert_int_equal(kmem_cache_free(c, b), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_cache_free(c, a + 1), KMEM_EMISALIGNED);
	assert_int_equal(kmem_cache_free(c, a - 16), KMEM_EMISALIGNED);
	assert_int_equal(kmem_cache_free(c, o), KMEM_EWRONGCACHE);
	assert_int_equal(kmem_cache_free(d, a), KMEM_EWRONGCACHE);
	assert_int_equal(kmem_cache_free(c, REGION), KMEM_ERANGE);
	assert_int_equal(kmem_cache_free(c, REGION / 2), KMEM_ENOTALLOC);
	assert_int_equal(kmem_heap_free(f->h, a), KMEM_EWRONGCACHE);
	cstats(c, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(kmem_heap_size_of(f->h, a, &len), 0);
	assert_int_equal(len, 96);
	assert_int_equal(kmem_heap_size_of(f->h, b, &len), KMEM_ENOTALLOC);
	assert_ptr_equal(kmem_heap_cache_of(f->h, a), c);
	/* Switching poisoning retags the slabs: frees go the right way. */
	assert_int_equal(kmem_cache_set_flags(d, KMEM_CACHE_POISON), 0);
	assert_int_equal(kmem_cache_free(d, o), 0);
	assert_int_equal(f->mem[o], KMEM_POISON_BYTE);
	assert_int_equal(kmem_cache_set_flags(d, 0), 0);
	assert_int_equal(kmem_cache_alloc(d, &o), 0);
	assert_int_equal(kmem_cache_free(d, o), 0);
	assert_int_equal(kmem_cache_free(d, o), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_cache_free(c, a), 0);
	assert_int_equal(f->n, 0);
	rmfix(f);
}

/* ------------------------------------------------------------ kmalloc */

static void test_slab_debug_kmalloc_flags(void **state)
{
	struct fixture *f = mkfix(KMEM_CACHE_POISON | KMEM_CACHE_REDZONE);
	struct kmem_cache *k64 = kmem_heap_find_cache(f->h, "kmalloc-64");
	uint64_t off, len, x;

	(void)state;
	assert_int_equal(kmem_cache_flags(k64), KMEM_CACHE_DEBUG);
	assert_int_equal(kmem_heap_alloc(f->h, 50, &off), 0);
	assert_int_equal(kmem_heap_size_of(f->h, off, &len), 0);
	assert_int_equal(len, 64);
	assert_ptr_equal(kmem_heap_cache_of(f->h, off), k64);
	assert_null(kmem_heap_cache_of(f->h, REGION));
	f->mem[off + 64] = 0;
	assert_int_equal(kmem_heap_free(f->h, off), 0);
	assert_int_equal(f->n, 1);
	expect_report(f, 0, KMEM_CACHE_REDZONE, KMEM_DEBUG_AT_FREE, off,
		      off + 64, 1, 0);
	assert_ptr_equal(f->r[0].cache, k64);
	f->mem[off] = 0;
	assert_int_equal(kmem_heap_alloc(f->h, 64, &x), 0);
	assert_int_equal(x, off);
	assert_int_equal(f->n, 2);
	expect_report(f, 1, KMEM_CACHE_POISON, KMEM_DEBUG_AT_ALLOC, off, off,
		      1, 0);
	assert_int_equal(kmem_heap_free(f->h, x), 0);
	rmfix(f);
}

/* ------------------------------------------------------------ refusals */

static void test_slab_debug_needs_mapping(void **state)
{
	struct kmem_heap_params p = { .size = REGION, .page_size = PS };
	struct kmem_cache_params cp = { .name = "x", .size = 64 };
	struct kmem_heap *h = NULL;
	struct kmem_cache *c = NULL;
	char msg[KMEM_MSG_MAX] = "";

	(void)state;
	p.kmalloc_flags = KMEM_CACHE_POISON;
	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), KMEM_EINVAL);
	assert_non_null(strstr(msg, "mapping"));
	p.kmalloc_flags = KMEM_CACHE_COLOUR;
	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), KMEM_EINVAL);
	p.kmalloc_flags = 0;
	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), 0);
	cp.flags = KMEM_CACHE_POISON;
	assert_int_equal(kmem_cache_create(h, &cp, &c), KMEM_EINVAL);
	cp.flags = KMEM_CACHE_REDZONE;
	assert_int_equal(kmem_cache_create(h, &cp, &c), KMEM_EINVAL);
	cp.flags = 0x80;
	assert_int_equal(kmem_cache_create(h, &cp, &c), KMEM_EINVAL);
	cp.flags = 0;
	assert_int_equal(kmem_cache_create(h, &cp, &c), 0);
	assert_int_equal(kmem_cache_set_flags(c, KMEM_CACHE_POISON), KMEM_EINVAL);
	assert_int_equal(kmem_cache_flags(c), 0);
	kmem_heap_destroy(h);
}

/* Without flags nothing reads or writes the objects' memory. */
static void test_slab_debug_off_touches_nothing(void **state)
{
	struct fixture *f = mkfix(0);
	struct kmem_cache *c = mkcache(f, "quiet", 96, 0, 0);
	struct kmem_cache_stats st;
	uint64_t o[100];

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++)
			assert_int_equal(kmem_cache_alloc(c, &o[i]), 0);
		for (int i = 0; i < 100; i++)
			assert_int_equal(kmem_cache_free(c, o[i]), 0);
	}
	for (uint64_t i = 0; i < REGION; i++)
		if (f->mem[i] != 0x5a)
			fail_msg("byte %llu was written", (unsigned long long)i);
	cstats(c, &st);
	assert_int_equal(st.flags, 0);
	assert_int_equal(st.objperslab, 42);	/* 4096 / 96, as ever */
	assert_int_equal(f->n, 0);
	rmfix(f);
}

/* A poisoned slab needs its bitmap: failing either allocation of a new
 * slab leaves nothing behind. */
static void test_slab_debug_fault_injection(void **state)
{
	struct fixture *f = mkfix(0);
	struct kmem_cache *c = mkcache(f, "fi", 256, 0, KMEM_CACHE_POISON);
	struct kmem_cache_stats st;
	long live = kmem_fault_live();
	uint64_t off;

	(void)state;
	for (unsigned long n = 1; n <= 2; n++) {
		kmem_fault_fail_nth(n);
		assert_int_equal(kmem_cache_alloc(c, &off), KMEM_ENOMETA);
		assert_true(kmem_fault_fired());
		assert_int_equal(kmem_fault_live(), live);
		cstats(c, &st);
		assert_int_equal(st.num_slabs, 0);
	}
	kmem_fault_fail_nth(0);
	assert_int_equal(kmem_cache_alloc(c, &off), 0);
	/* A poisoning free that cannot get a bitmap skips the poison. */
	assert_int_equal(kmem_cache_set_flags(c, 0), 0);
	assert_int_equal(kmem_cache_set_flags(c, KMEM_CACHE_POISON), 0);
	kmem_fault_fail_nth(1);
	assert_int_equal(kmem_cache_free(c, off), 0);
	assert_true(kmem_fault_fired());
	kmem_fault_fail_nth(0);
	assert_int_equal(f->mem[off], KMEM_POISON_BYTE);	/* from the new slab */
	f->mem[off] = 0;
	assert_int_equal(kmem_cache_alloc(c, &off), 0);
	assert_int_equal(f->n, 0);
	assert_int_equal(kmem_cache_free(c, off), 0);
	rmfix(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slab_debug_poison_write_after_free),
		cmocka_unit_test(test_slab_debug_poison_runtime_toggle),
		cmocka_unit_test(test_slab_debug_redzone_overrun_underrun),
		cmocka_unit_test(test_slab_debug_redzone_keeps_alignment),
		cmocka_unit_test(test_slab_debug_scan),
		cmocka_unit_test(test_slab_debug_free_errors_change_nothing),
		cmocka_unit_test(test_slab_debug_kmalloc_flags),
		cmocka_unit_test(test_slab_debug_needs_mapping),
		cmocka_unit_test(test_slab_debug_off_touches_nothing),
		cmocka_unit_test(test_slab_debug_fault_injection),
	};

	return cmocka_run_group_tests_name("slab_debug", tests, NULL, NULL);
}
