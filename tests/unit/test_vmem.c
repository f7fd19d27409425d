/*
 * test_vmem.c - unit and model tests of lib/vmem.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "kmem/vmem.h"
#include "kmem/error.h"
#include "kmem/fault.h"

static struct kmem_vmem *mk(uint64_t quantum, enum kmem_vmem_policy policy,
			    uint64_t base, uint64_t size)
{
	struct kmem_vmem_params p = {
		.quantum = quantum, .policy = policy, .base = base, .size = size,
	};
	struct kmem_vmem *vm = NULL;

	assert_int_equal(kmem_vmem_create(&p, &vm), 0);
	assert_non_null(vm);
	assert_int_equal(kmem_vmem_check(vm), 0);
	return vm;
}

static struct kmem_vmem_stats stats(const struct kmem_vmem *vm)
{
	struct kmem_vmem_stats st;

	kmem_vmem_stats(vm, &st);
	return st;
}

static void assert_stats_equal(const struct kmem_vmem_stats *a,
			       const struct kmem_vmem_stats *b)
{
	assert_memory_equal(a, b, sizeof(*a));
}

static uint64_t alloc_ok(struct kmem_vmem *vm, uint64_t size)
{
	uint64_t off = 0;

	assert_int_equal(kmem_vmem_alloc(vm, size, &off), 0);
	assert_int_equal(kmem_vmem_check(vm), 0);
	return off;
}

static uint64_t xalloc_ok(struct kmem_vmem *vm, struct kmem_vmem_req r)
{
	uint64_t off = 0;

	assert_int_equal(kmem_vmem_xalloc(vm, &r, &off), 0);
	assert_int_equal(kmem_vmem_check(vm), 0);
	return off;
}

static void free_ok(struct kmem_vmem *vm, uint64_t off)
{
	assert_int_equal(kmem_vmem_free(vm, off), 0);
	assert_int_equal(kmem_vmem_check(vm), 0);
}

/* A pristine arena: everything free, one free segment per span. */
static void assert_pristine(const struct kmem_vmem *vm)
{
	struct kmem_vmem_stats st = stats(vm);

	assert_int_equal(kmem_vmem_check(vm), 0);
	assert_int_equal(st.free_bytes, st.total_bytes);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.nr_alloc_segs, 0);
	assert_int_equal(st.nr_free_segs, st.nr_spans);
}

/* ------------------------------------------------------------ create/add */

static void test_vmem_create_with_first_span(void **state)
{
	struct kmem_vmem *vm = mk(0, KMEM_VMEM_DEFAULT, 4096, 65536);
	struct kmem_vmem_stats st = stats(vm);

	(void)state;
	assert_int_equal(st.quantum, 1);
	assert_int_equal(st.total_bytes, 65536);
	assert_int_equal(st.free_bytes, 65536);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.nr_spans, 1);
	assert_int_equal(st.nr_free_segs, 1);
	assert_int_equal(st.nr_free[16], 1);
	assert_int_equal(st.nr_alloc_segs, 0);
	assert_int_equal(st.largest_free, 65536);
	assert_int_equal(st.allocs, 0);
	assert_int_equal(st.frees, 0);
	assert_int_equal(st.nr_spare_segs, 0);
	assert_int_equal(st.hash_buckets, 16);
	assert_int_equal(kmem_vmem_quantum(vm), 1);
	assert_int_equal(kmem_vmem_total_bytes(vm), 65536);
	assert_int_equal(kmem_vmem_free_bytes(vm), 65536);
	assert_int_equal(kmem_vmem_largest_free(vm), 65536);
	assert_int_equal(kmem_vmem_meta_bytes(vm), st.meta_bytes);
	assert_int_equal(alloc_ok(vm, 100), 4096);
	kmem_vmem_destroy(vm);
}

static void test_vmem_empty_arena(void **state)
{
	struct kmem_vmem *vm = NULL;
	struct kmem_vmem_req r = { .size = 1 };
	struct kmem_vmem_stats st;
	uint64_t off = 7;

	(void)state;
	assert_int_equal(kmem_vmem_create(NULL, &vm), 0);
	st = stats(vm);
	assert_int_equal(st.quantum, 1);
	assert_int_equal(st.total_bytes, 0);
	assert_int_equal(st.nr_spans, 0);
	assert_int_equal(st.largest_free, 0);
	/* No span could ever hold anything until one is added. */
	assert_int_equal(kmem_vmem_alloc(vm, 1, &off), KMEM_ETOOBIG);
	assert_int_equal(kmem_vmem_xalloc(vm, &r, &off), KMEM_ETOOBIG);
	assert_int_equal(kmem_vmem_alloc(vm, 0, &off), KMEM_EZEROSIZE);
	assert_int_equal(kmem_vmem_free(vm, 0), KMEM_ERANGE);
	assert_int_equal(off, 7);
	assert_int_equal(kmem_vmem_check(vm), 0);
	assert_int_equal(kmem_vmem_add(vm, 0, 10), 0);
	assert_int_equal(alloc_ok(vm, 10), 0);
	kmem_vmem_destroy(vm);
	kmem_vmem_destroy(NULL);
}

static void test_vmem_create_rejects_bad_params(void **state)
{
	struct kmem_vmem *vm = NULL;
	struct kmem_vmem_params p = { .quantum = 3 };
	long live = kmem_fault_live();

	(void)state;
	assert_int_equal(kmem_vmem_create(&p, &vm), KMEM_EINVAL);
	p.quantum = 16;
	p.policy = (enum kmem_vmem_policy)4;
	assert_int_equal(kmem_vmem_create(&p, &vm), KMEM_EINVAL);
	p.policy = (enum kmem_vmem_policy)-1;
	assert_int_equal(kmem_vmem_create(&p, &vm), KMEM_EINVAL);
	p.policy = KMEM_VMEM_BESTFIT;
	assert_int_equal(kmem_vmem_create(&p, NULL), KMEM_EINVAL);
	/* The first span is checked as kmem_vmem_add checks it. */
	p.base = 8;
	p.size = 64;
	assert_int_equal(kmem_vmem_create(&p, &vm), KMEM_EALIGN);
	p.base = UINT64_MAX - 15;
	p.size = 32;
	assert_int_equal(kmem_vmem_create(&p, &vm), KMEM_ERANGE);
	assert_null(vm);
	assert_int_equal(kmem_fault_live(), live);
}

static void test_vmem_add_spans_and_overlaps(void **state)
{
	struct kmem_vmem *vm = mk(16, KMEM_VMEM_DEFAULT, 0, 0);
	struct kmem_vmem_stats before, st;

	(void)state;
	/* Out of order, and two that touch. */
	assert_int_equal(kmem_vmem_add(vm, 4096, 1024), 0);
	assert_int_equal(kmem_vmem_add(vm, 1024, 1024), 0);
	assert_int_equal(kmem_vmem_add(vm, 2048, 512), 0);
	assert_int_equal(kmem_vmem_check(vm), 0);
	before = stats(vm);
	assert_int_equal(before.nr_spans, 3);
	assert_int_equal(before.total_bytes, 2560);
	assert_int_equal(before.nr_free_segs, 3);
	assert_int_equal(before.nr_free[10], 2);
	assert_int_equal(before.nr_free[9], 1);

	assert_int_equal(kmem_vmem_add(vm, 1024, 1024), KMEM_EEXIST);
	assert_int_equal(kmem_vmem_add(vm, 1040, 16), KMEM_EEXIST);	/* inside */
	assert_int_equal(kmem_vmem_add(vm, 1008, 32), KMEM_EEXIST);	/* left edge */
	assert_int_equal(kmem_vmem_add(vm, 2544, 32), KMEM_EEXIST);	/* right edge */
	assert_int_equal(kmem_vmem_add(vm, 0, 8192), KMEM_EEXIST);	/* around all */
	assert_int_equal(kmem_vmem_add(vm, 3072, 2048), KMEM_EEXIST);
	assert_int_equal(kmem_vmem_add(vm, 64, 0), KMEM_EZEROSIZE);
	assert_int_equal(kmem_vmem_add(vm, 8, 64), KMEM_EALIGN);
	assert_int_equal(kmem_vmem_add(vm, 64, 24), KMEM_EALIGN);
	assert_int_equal(kmem_vmem_add(vm, UINT64_MAX - 15, 16), KMEM_ERANGE);
	st = stats(vm);
	assert_stats_equal(&before, &st);
	assert_int_equal(kmem_vmem_check(vm), 0);

	/* Gaps are fine: the one below the first, the one in the middle,
	 * and the very top of the space. */
	assert_int_equal(kmem_vmem_add(vm, 0, 1024), 0);
	assert_int_equal(kmem_vmem_add(vm, 2560, 1536), 0);
	assert_int_equal(kmem_vmem_add(vm, UINT64_MAX - 31, 16), 0);
	st = stats(vm);
	assert_int_equal(st.nr_spans, 6);
	assert_int_equal(st.total_bytes, 5136);
	assert_int_equal(st.nr_free_segs, 6);
	assert_int_equal(kmem_vmem_check(vm), 0);
	kmem_vmem_destroy(vm);
}

/* ------------------------------------------------------------ alloc/free */

static void test_vmem_alloc_exact_lengths(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 1000, 100);
	struct kmem_vmem_stats st;
	uint64_t size;

	(void)state;
	assert_int_equal(alloc_ok(vm, 3), 1000);
	assert_int_equal(alloc_ok(vm, 5), 1003);
	assert_int_equal(alloc_ok(vm, 7), 1008);
	st = stats(vm);
	assert_int_equal(st.free_bytes, 85);
	assert_int_equal(st.used_bytes, 15);
	assert_int_equal(st.nr_alloc_segs, 3);
	assert_int_equal(st.nr_free_segs, 1);
	assert_int_equal(st.nr_free[6], 1);	/* 85 in [64, 128) */
	assert_int_equal(st.allocs, 3);
	assert_int_equal(kmem_vmem_size_of(vm, 1003, &size), 0);
	assert_int_equal(size, 5);
	/* The whole rest, exactly. */
	assert_int_equal(alloc_ok(vm, 85), 1015);
	assert_int_equal(kmem_vmem_free_bytes(vm), 0);
	assert_int_equal(stats(vm).nr_free_segs, 0);
	kmem_vmem_destroy(vm);

	/* A quantum rounds sizes up to it and to nothing more. */
	vm = mk(16, KMEM_VMEM_DEFAULT, 4096, 4096);
	assert_int_equal(alloc_ok(vm, 1), 4096);
	assert_int_equal(alloc_ok(vm, 17), 4112);
	assert_int_equal(alloc_ok(vm, 48), 4144);
	assert_int_equal(kmem_vmem_size_of(vm, 4112, &size), 0);
	assert_int_equal(size, 32);
	assert_int_equal(kmem_vmem_free_bytes(vm), 4096 - 96);
	kmem_vmem_destroy(vm);
}

static void test_vmem_alloc_errors_change_nothing(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 100);
	struct kmem_vmem_stats before, after;
	uint64_t a, b, off = 123;

	(void)state;
	assert_int_equal(kmem_vmem_add(vm, 1000, 200), 0);
	a = alloc_ok(vm, 150);
	b = alloc_ok(vm, 60);
	assert_int_equal(a, 1000);
	assert_int_equal(b, 0);
	before = stats(vm);
	assert_int_equal(kmem_vmem_alloc(vm, 0, &off), KMEM_EZEROSIZE);
	/* Bigger than any span, though not than both together. */
	assert_int_equal(kmem_vmem_alloc(vm, 201, &off), KMEM_ETOOBIG);
	assert_int_equal(kmem_vmem_alloc(vm, UINT64_MAX, &off), KMEM_ETOOBIG);
	/* Free: 40 and 50, so 51 fits in no segment now. */
	assert_int_equal(kmem_vmem_alloc(vm, 51, &off), KMEM_ENOMEM);
	assert_int_equal(kmem_vmem_alloc(vm, 200, &off), KMEM_ENOMEM);
	assert_int_equal(off, 123);
	after = stats(vm);
	assert_stats_equal(&before, &after);
	assert_int_equal(kmem_vmem_check(vm), 0);
	assert_int_equal(alloc_ok(vm, 50), 1150);
	free_ok(vm, a);
	free_ok(vm, b);
	free_ok(vm, 1150);
	assert_pristine(vm);
	kmem_vmem_destroy(vm);
}

/* Four 100-byte allocations fill [100, 500); a, b, c, d in order. */
static struct kmem_vmem *four(uint64_t o[4])
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 100, 400);

	for (int i = 0; i < 4; i++)
		o[i] = alloc_ok(vm, 100);
	assert_int_equal(o[0], 100);
	assert_int_equal(o[3], 400);
	assert_int_equal(stats(vm).nr_free_segs, 0);
	return vm;
}

static void assert_free_shape(const struct kmem_vmem *vm, uint64_t nfree,
			      uint64_t largest, uint64_t free_bytes)
{
	struct kmem_vmem_stats st = stats(vm);

	assert_int_equal(st.nr_free_segs, nfree);
	assert_int_equal(st.largest_free, largest);
	assert_int_equal(st.free_bytes, free_bytes);
	assert_int_equal(st.nr_alloc_segs, 4 - free_bytes / 100);
}

static void test_vmem_free_coalesces_both_neighbours(void **state)
{
	uint64_t o[4];
	struct kmem_vmem *vm = four(o);

	(void)state;
	free_ok(vm, o[0]);	/* neighbours: span marker, allocated b */
	assert_free_shape(vm, 1, 100, 100);
	assert_int_equal(stats(vm).nr_free[6], 1);
	free_ok(vm, o[2]);	/* neighbours: allocated b and d */
	assert_free_shape(vm, 2, 100, 200);
	free_ok(vm, o[1]);	/* both free: one segment [100, 400) */
	assert_free_shape(vm, 1, 300, 300);
	assert_int_equal(stats(vm).nr_free[8], 1);
	assert_int_equal(stats(vm).nr_free[6], 0);
	/* The merged-away starts are now inside free space. */
	assert_int_equal(kmem_vmem_free(vm, o[0]), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_vmem_free(vm, o[1]), KMEM_ENOTALLOC);
	assert_int_equal(kmem_vmem_free(vm, o[2]), KMEM_ENOTALLOC);
	free_ok(vm, o[3]);	/* left neighbour free, right the span's end */
	assert_free_shape(vm, 1, 400, 400);
	assert_pristine(vm);
	kmem_vmem_destroy(vm);
}

static void test_vmem_free_coalesces_left(void **state)
{
	uint64_t o[4];
	struct kmem_vmem *vm = four(o);

	(void)state;
	free_ok(vm, o[1]);
	free_ok(vm, o[2]);	/* left b free, right d allocated */
	assert_free_shape(vm, 1, 200, 200);
	assert_int_equal(kmem_vmem_free(vm, o[1]), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_vmem_free(vm, o[2]), KMEM_ENOTALLOC);
	/* The merged hole is one segment: 200 bytes fit at b. */
	assert_int_equal(alloc_ok(vm, 200), o[1]);
	kmem_vmem_destroy(vm);
}

static void test_vmem_free_coalesces_right(void **state)
{
	uint64_t o[4];
	struct kmem_vmem *vm = four(o);

	(void)state;
	free_ok(vm, o[2]);
	free_ok(vm, o[1]);	/* right c free, left a allocated */
	assert_free_shape(vm, 1, 200, 200);
	assert_int_equal(kmem_vmem_free(vm, o[1]), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_vmem_free(vm, o[2]), KMEM_ENOTALLOC);
	free_ok(vm, o[3]);	/* left free: [200, 500) */
	assert_free_shape(vm, 1, 300, 300);
	free_ok(vm, o[0]);	/* right free */
	assert_pristine(vm);
	kmem_vmem_destroy(vm);
}

static void test_vmem_no_coalescing_across_spans(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 100);
	struct kmem_vmem_stats st;
	uint64_t a, b, off;

	(void)state;
	assert_int_equal(kmem_vmem_add(vm, 100, 100), 0);	/* touches */
	a = alloc_ok(vm, 100);
	b = alloc_ok(vm, 100);
	assert_int_equal(a + b, 100);	/* one is 0, the other 100 */
	free_ok(vm, a);
	free_ok(vm, b);
	st = stats(vm);
	assert_int_equal(st.nr_free_segs, 2);
	assert_int_equal(st.largest_free, 100);
	assert_int_equal(st.free_bytes, 200);
	assert_pristine(vm);
	/* No allocation may straddle the boundary at 100. */
	assert_int_equal(kmem_vmem_alloc(vm, 101, &off), KMEM_ETOOBIG);
	struct kmem_vmem_req r = { .size = 20, .minaddr = 90, .maxaddr = 110 };
	assert_int_equal(kmem_vmem_xalloc(vm, &r, &off), KMEM_ENOMEM);
	r.minaddr = 80;
	assert_int_equal(xalloc_ok(vm, r), 80);
	/* Freeing [80, 100) merges with [0, 80) but not with [100, 200). */
	free_ok(vm, 80);
	assert_int_equal(stats(vm).nr_free_segs, 2);
	kmem_vmem_destroy(vm);
}

static void test_vmem_free_errors_change_nothing(void **state)
{
	struct kmem_vmem *vm = mk(16, KMEM_VMEM_DEFAULT, 1024, 1024);
	struct kmem_vmem_stats before, after;
	uint64_t a, b, c, size = 99;

	(void)state;
	a = alloc_ok(vm, 64);	/* 1024 */
	b = alloc_ok(vm, 64);	/* 1088 */
	c = alloc_ok(vm, 64);	/* 1152 */
	free_ok(vm, b);		/* a hole [1088, 1152) */
	assert_int_equal(a, 1024);
	assert_int_equal(c, 1152);
	assert_int_equal(kmem_vmem_add(vm, 4096, 256), 0);
	before = stats(vm);

	assert_int_equal(kmem_vmem_free(vm, 0), KMEM_ERANGE);
	assert_int_equal(kmem_vmem_free(vm, 1023), KMEM_ERANGE);
	assert_int_equal(kmem_vmem_free(vm, 2048), KMEM_ERANGE);	/* gap */
	assert_int_equal(kmem_vmem_free(vm, 4096 + 256), KMEM_ERANGE);
	assert_int_equal(kmem_vmem_free(vm, UINT64_MAX), KMEM_ERANGE);
	assert_int_equal(kmem_vmem_free(vm, a + 1), KMEM_EMISALIGNED);
	assert_int_equal(kmem_vmem_free(vm, a + 16), KMEM_EMISALIGNED);
	assert_int_equal(kmem_vmem_free(vm, c + 63), KMEM_EMISALIGNED);
	assert_int_equal(kmem_vmem_free(vm, b), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_vmem_free(vm, b + 16), KMEM_ENOTALLOC);
	assert_int_equal(kmem_vmem_free(vm, 1300), KMEM_ENOTALLOC);
	assert_int_equal(kmem_vmem_free(vm, 4096), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_vmem_free(vm, 4100), KMEM_ENOTALLOC);
	assert_int_equal(kmem_vmem_free_sized(vm, b, 64), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_vmem_free_sized(vm, a + 16, 48), KMEM_EMISALIGNED);
	assert_int_equal(kmem_vmem_free_sized(vm, 5, 64), KMEM_ERANGE);
	assert_int_equal(kmem_vmem_free_sized(vm, a, 48), KMEM_ESIZE);
	assert_int_equal(kmem_vmem_free_sized(vm, a, 65), KMEM_ESIZE);
	assert_int_equal(kmem_vmem_free_sized(vm, a, 0), KMEM_ESIZE);
	assert_int_equal(kmem_vmem_free_sized(vm, a, UINT64_MAX), KMEM_ESIZE);
	assert_int_equal(kmem_vmem_size_of(vm, b, &size), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_vmem_size_of(vm, a + 16, &size), KMEM_EMISALIGNED);
	assert_int_equal(kmem_vmem_size_of(vm, 3000, &size), KMEM_ERANGE);
	assert_int_equal(size, 99);

	after = stats(vm);
	assert_stats_equal(&before, &after);
	assert_int_equal(kmem_vmem_check(vm), 0);
	/* Any size that rounds to the allocation's is right. */
	assert_int_equal(kmem_vmem_free_sized(vm, a, 49), 0);
	assert_int_equal(kmem_vmem_free_sized(vm, c, 64), 0);
	after = stats(vm);
	assert_int_equal(after.frees, 3);
	assert_pristine(vm);
	kmem_vmem_destroy(vm);
}

/* ------------------------------------------------------------ policies */

/*
 * Holes of 12 at 0, 7 at 13 and 9 at 21 (freed in that order, so 9 heads
 * list 3) and 969 bytes at 31, separated by 1-byte allocations.
 */
static struct kmem_vmem *holes(enum kmem_vmem_policy policy)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_INSTANTFIT, 0, 1000);
	static const uint64_t sizes[] = { 12, 1, 7, 1, 9, 1 };
	uint64_t o[6];
	struct kmem_vmem_stats st;

	for (int i = 0; i < 6; i++)
		o[i] = alloc_ok(vm, sizes[i]);
	assert_int_equal(o[4], 21);
	assert_int_equal(o[5], 30);
	free_ok(vm, o[0]);
	free_ok(vm, o[2]);
	free_ok(vm, o[4]);
	st = stats(vm);
	assert_int_equal(st.nr_free_segs, 4);
	assert_int_equal(st.nr_free[2], 1);
	assert_int_equal(st.nr_free[3], 2);
	assert_int_equal(st.nr_free[9], 1);
	assert_int_equal(st.free_bytes, 12 + 7 + 9 + 969);
	if (policy != KMEM_VMEM_INSTANTFIT) {
		/* Same layout in an arena whose default is policy. */
		struct kmem_vmem *v2 = mk(1, policy, 0, 1000);

		for (int i = 0; i < 6; i++)
			assert_int_equal(alloc_ok(v2, sizes[i]), o[i]);
		free_ok(v2, o[0]);
		free_ok(v2, o[2]);
		free_ok(v2, o[4]);
		kmem_vmem_destroy(vm);
		vm = v2;
	}
	return vm;
}

/* Allocate with r, expect off, free it, and find the arena as before. */
static void try_policy(struct kmem_vmem *vm, struct kmem_vmem_req r,
		       uint64_t expect)
{
	struct kmem_vmem_stats before = stats(vm), after;

	assert_int_equal(xalloc_ok(vm, r), expect);
	free_ok(vm, expect);
	after = stats(vm);
	before.allocs++;
	before.frees++;
	assert_int_equal(after.nr_spare_segs >= before.nr_spare_segs, 1);
	after.nr_spare_segs = before.nr_spare_segs;
	after.meta_bytes = before.meta_bytes;
	assert_stats_equal(&before, &after);
}

static void test_vmem_policy_choices(void **state)
{
	struct kmem_vmem *vm = holes(KMEM_VMEM_INSTANTFIT);
	struct kmem_vmem_req r = { .size = 6 };

	(void)state;
	/* The arena's default is instant fit: the head of list 3. */
	try_policy(vm, r, 21);
	r.policy = KMEM_VMEM_INSTANTFIT;
	try_policy(vm, r, 21);
	r.policy = KMEM_VMEM_BESTFIT;	/* the smallest hole: 7 */
	try_policy(vm, r, 13);
	r.policy = KMEM_VMEM_FIRSTFIT;	/* the lowest address */
	try_policy(vm, r, 0);
	/* 10 bytes: best is the 12-byte hole; instant fit takes list 4+,
	 * which holds only the big one. */
	r.size = 10;
	try_policy(vm, r, 0);
	r.policy = KMEM_VMEM_BESTFIT;
	try_policy(vm, r, 0);
	r.policy = KMEM_VMEM_INSTANTFIT;
	try_policy(vm, r, 31);
	/* Best fit takes an exact fit. */
	r.size = 9;
	r.policy = KMEM_VMEM_BESTFIT;
	try_policy(vm, r, 21);
	kmem_vmem_destroy(vm);
}

static void test_vmem_bestfit_ties_go_to_lower_address(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 100);
	struct kmem_vmem_req r = { .size = 10, .policy = KMEM_VMEM_BESTFIT };

	(void)state;
	/* Two 10-byte holes, at 0 and at 11 (which heads list 3). */
	assert_int_equal(alloc_ok(vm, 10), 0);
	assert_int_equal(alloc_ok(vm, 1), 10);
	assert_int_equal(alloc_ok(vm, 10), 11);
	assert_int_equal(alloc_ok(vm, 1), 21);
	free_ok(vm, 0);
	free_ok(vm, 11);
	assert_int_equal(stats(vm).nr_free[3], 2);
	/* Instant fit takes the head of list 3, the hole freed last. */
	r.policy = KMEM_VMEM_INSTANTFIT;
	r.size = 8;
	try_policy(vm, r, 11);
	/* Best fit: equal sizes, so the lower address. */
	r.policy = KMEM_VMEM_BESTFIT;
	try_policy(vm, r, 0);
	r.size = 10;
	try_policy(vm, r, 0);
	/* 9 bytes need list 4 and up under instant fit: the rest, at 22. */
	r.size = 9;
	r.policy = KMEM_VMEM_INSTANTFIT;
	try_policy(vm, r, 22);
	kmem_vmem_destroy(vm);
}

static void test_vmem_arena_default_policy(void **state)
{
	static const struct {
		enum kmem_vmem_policy policy;
		uint64_t expect;
	} cases[] = {
		{ KMEM_VMEM_INSTANTFIT, 21 },
		{ KMEM_VMEM_BESTFIT, 13 },
		{ KMEM_VMEM_FIRSTFIT, 0 },
	};

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		struct kmem_vmem *vm = holes(cases[i].policy);
		struct kmem_vmem_req r = { .size = 6 };

		assert_int_equal(alloc_ok(vm, 6), cases[i].expect);
		free_ok(vm, cases[i].expect);
		/* KMEM_VMEM_DEFAULT in a request means the arena's. */
		try_policy(vm, r, cases[i].expect);
		kmem_vmem_destroy(vm);
	}
}

static void test_vmem_instantfit_falls_back_to_floor_list(void **state)
{
	struct kmem_vmem *vm = holes(KMEM_VMEM_INSTANTFIT);
	uint64_t off;

	(void)state;
	/* 969 rounds up to list 10, which is empty: list 9 serves it. */
	assert_int_equal(alloc_ok(vm, 969), 31);
	/* 12: lists 4 and up are empty; list 3 holds 9 (too small, at its
	 * head) and 12. */
	assert_int_equal(alloc_ok(vm, 12), 0);
	/* 8 is a power of two: list 3 serves it from the 9-byte hole. */
	assert_int_equal(alloc_ok(vm, 8), 21);
	/* 6: list 3 is empty now; list 2 holds 7. */
	assert_int_equal(alloc_ok(vm, 6), 13);
	assert_int_equal(kmem_vmem_free_bytes(vm), 2);
	assert_int_equal(kmem_vmem_largest_free(vm), 1);
	assert_int_equal(stats(vm).nr_free[0], 2);
	assert_int_equal(kmem_vmem_alloc(vm, 2, &off), KMEM_ENOMEM);
	assert_int_equal(alloc_ok(vm, 1) + alloc_ok(vm, 1), 19 + 29);
	assert_int_equal(stats(vm).nr_free_segs, 0);
	kmem_vmem_destroy(vm);
}

/* ------------------------------------------------------------ constraints */

static void test_vmem_xalloc_align_phase(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_FIRSTFIT, 1000, 4096);
	struct kmem_vmem_stats st;

	(void)state;
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 10, .align = 64 }), 1024);
	/* [1000, 1024) holds no 8 mod 64 start with room for 10. */
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 10, .align = 64, .phase = 8 }), 1096);
	st = stats(vm);
	assert_int_equal(st.nr_free_segs, 3);	/* 1000, 1034, 1106 */
	assert_int_equal(st.free_bytes, 4096 - 20);
	/* The leading fragment is used when it fits. */
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 4, .align = 16, .phase = 4 }), 1012);
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 8, .align = 1 }), 1000);
	kmem_vmem_destroy(vm);

	/* With a quantum of 16, phases must be multiples of it, and an
	 * alignment below it is the quantum's. */
	vm = mk(16, KMEM_VMEM_FIRSTFIT, 16, 4096);
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 1, .align = 8 }), 16);
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 16, .align = 256, .phase = 48 }), 48);
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 16, .align = 256, .phase = 48 }), 304);
	assert_int_equal(kmem_vmem_free_bytes(vm), 4096 - 48);
	kmem_vmem_destroy(vm);
}

static void test_vmem_xalloc_nocross(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_FIRSTFIT, 0, 4096);

	(void)state;
	assert_int_equal(alloc_ok(vm, 100), 0);
	/* [100, 300) would cross 256: the next start is 256. */
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 200, .nocross = 256 }), 256);
	/* A range may end exactly on the boundary. */
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 156, .nocross = 256 }), 100);
	/* With align 64 and phase 32: 480 + 100 crosses 512; 544 does not. */
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 100, .align = 64, .phase = 32, .nocross = 256 }), 544);
	/* nocross equal to the size: only boundary-aligned starts. */
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 512, .nocross = 512 }), 1024);
	/* Alignment above nocross: the offset inside a block is fixed. */
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){
		.size = 50, .align = 1024, .phase = 600, .nocross = 256 }),
		1024 + 600);
	kmem_vmem_destroy(vm);
}

static void test_vmem_xalloc_window(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 1 << 20);
	struct kmem_vmem_req r = { .size = 100, .minaddr = 1000, .maxaddr = 2000 };
	uint64_t off;

	(void)state;
	assert_int_equal(xalloc_ok(vm, r), 1000);
	assert_int_equal(xalloc_ok(vm, r), 1100);
	r.minaddr = 1900;
	assert_int_equal(xalloc_ok(vm, r), 1900);	/* ends at maxaddr */
	r.size = 1;
	assert_int_equal(kmem_vmem_xalloc(vm, &r, &off), KMEM_ENOMEM);
	/* maxaddr 0 is no limit; a window beyond every span is ENOMEM. */
	r.maxaddr = 0;
	assert_int_equal(xalloc_ok(vm, r), 2000);
	r.minaddr = 1ull << 30;
	assert_int_equal(kmem_vmem_xalloc(vm, &r, &off), KMEM_ENOMEM);
	/* Split [0, 1000) at 600: best fit in [500, 1010) takes the smaller
	 * piece, first fit the lower address. */
	r = (struct kmem_vmem_req){ .size = 10, .minaddr = 600, .maxaddr = 610 };
	assert_int_equal(xalloc_ok(vm, r), 600);
	r = (struct kmem_vmem_req){ .size = 10, .minaddr = 500,
		.maxaddr = 1010, .policy = KMEM_VMEM_BESTFIT };
	assert_int_equal(xalloc_ok(vm, r), 610);
	r.policy = KMEM_VMEM_FIRSTFIT;
	assert_int_equal(xalloc_ok(vm, r), 500);
	assert_int_equal(kmem_vmem_free_bytes(vm), (1 << 20) - 331);
	kmem_vmem_destroy(vm);

	/* A quantum rounds minaddr up and maxaddr down. */
	vm = mk(16, KMEM_VMEM_DEFAULT, 0, 4096);
	r = (struct kmem_vmem_req){ .size = 16, .minaddr = 1001, .maxaddr = 1039 };
	assert_int_equal(xalloc_ok(vm, r), 1008);
	assert_int_equal(kmem_vmem_xalloc(vm, &r, &off), KMEM_ENOMEM);
	kmem_vmem_destroy(vm);
}

static void test_vmem_xalloc_errors_change_nothing(void **state)
{
	struct kmem_vmem *vm = mk(16, KMEM_VMEM_DEFAULT, 0, 1024);
	struct kmem_vmem_stats before, after;
	uint64_t off = 5;
	static const struct {
		struct kmem_vmem_req r;
		int rc;
	} cases[] = {
		{ { .size = 0 }, KMEM_EZEROSIZE },
		{ { .size = 16, .policy = (enum kmem_vmem_policy)9 }, KMEM_EINVAL },
		{ { .size = 16, .align = 48 }, KMEM_EALIGN },
		{ { .size = 16, .nocross = 100 }, KMEM_EALIGN },
		{ { .size = 1025 }, KMEM_ETOOBIG },
		{ { .size = 16, .align = 64, .phase = 64 }, KMEM_ECONSTRAINT },
		{ { .size = 16, .phase = 16 }, KMEM_ECONSTRAINT },
		{ { .size = 16, .align = 64, .phase = 8 }, KMEM_ECONSTRAINT },
		{ { .size = 16, .align = 4, .phase = 2 }, KMEM_ECONSTRAINT },
		{ { .size = 65, .nocross = 64 }, KMEM_ECONSTRAINT },
		{ { .size = 16, .nocross = 8 }, KMEM_ECONSTRAINT },
		{ { .size = 48, .align = 32, .phase = 32 - 16, .nocross = 32 },
		  KMEM_ECONSTRAINT },
		{ { .size = 48, .align = 64, .phase = 32, .nocross = 64 },
		  KMEM_ECONSTRAINT },
		{ { .size = 16, .minaddr = 100, .maxaddr = 100 }, KMEM_ECONSTRAINT },
		{ { .size = 16, .minaddr = 200, .maxaddr = 100 }, KMEM_ECONSTRAINT },
		{ { .size = 32, .minaddr = 100, .maxaddr = 140 }, KMEM_ECONSTRAINT },
		{ { .size = 16, .align = 64, .minaddr = 65, .maxaddr = 128 },
		  KMEM_ECONSTRAINT },
		{ { .size = 16, .minaddr = UINT64_MAX - 3 }, KMEM_ECONSTRAINT },
		{ { .size = 16, .maxaddr = 15 }, KMEM_ECONSTRAINT },
		{ { .size = 1024, .align = 2048, .phase = 16 }, KMEM_ENOMEM },
		{ { .size = 16, .minaddr = 1024 }, KMEM_ENOMEM },
	};

	(void)state;
	alloc_ok(vm, 512);
	before = stats(vm);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (kmem_vmem_xalloc(vm, &cases[i].r, &off) != cases[i].rc)
			fail_msg("case %u: want %s", i,
				 kmem_errname(cases[i].rc));
		after = stats(vm);
		assert_stats_equal(&before, &after);
		assert_int_equal(kmem_vmem_check(vm), 0);
	}
	assert_int_equal(off, 5);
	/* The same window, satisfiable: the control case. */
	assert_int_equal(xalloc_ok(vm, (struct kmem_vmem_req){ .size = 16,
		.align = 64, .minaddr = 520, .maxaddr = 592 }), 576);
	kmem_vmem_destroy(vm);
}

/* ------------------------------------------------------------ metadata */

static void test_vmem_hash_grows_and_all_free_is_pristine(void **state)
{
	struct kmem_vmem *vm = mk(8, KMEM_VMEM_DEFAULT, 0, 8 * 1000);
	uint64_t o[1000], size;

	(void)state;
	/* In a higher list than the first span's, so it is used last. */
	assert_int_equal(kmem_vmem_add(vm, 1 << 20, 16384), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(kmem_vmem_alloc(vm, 8, &o[i]), 0);
		assert_int_equal(o[i], 8 * (uint64_t)i);
	}
	assert_int_equal(kmem_vmem_check(vm), 0);
	assert_int_equal(stats(vm).hash_buckets, 1024);
	assert_int_equal(stats(vm).nr_alloc_segs, 1000);
	assert_int_equal(stats(vm).nr_free_segs, 1);	/* the second span */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(kmem_vmem_size_of(vm, o[i], &size), 0);
		assert_int_equal(size, 8);
	}
	for (int i = 0; i < 1000; i += 2)
		assert_int_equal(kmem_vmem_free(vm, o[i]), 0);
	assert_int_equal(stats(vm).nr_free_segs, 501);
	assert_int_equal(kmem_vmem_check(vm), 0);
	for (int i = 999; i > 0; i -= 2)
		assert_int_equal(kmem_vmem_free(vm, o[i]), 0);
	assert_pristine(vm);
	assert_int_equal(stats(vm).nr_free_segs, 2);
	assert_int_equal(stats(vm).frees, 1000);
	kmem_vmem_destroy(vm);
}

static void test_vmem_spare_records_recycled(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 1000);
	uint64_t a;

	(void)state;
	a = alloc_ok(vm, 10);
	assert_int_equal(stats(vm).nr_spare_segs, 0);
	free_ok(vm, a);	/* the free remainder's record is merged away */
	assert_int_equal(stats(vm).nr_spare_segs, 1);
	/* The next split takes the spare: no metadata allocation at all. */
	kmem_fault_fail_nth(1);
	assert_int_equal(kmem_vmem_alloc(vm, 10, &a), 0);
	assert_false(kmem_fault_fired());
	kmem_fault_fail_nth(0);
	assert_int_equal(stats(vm).nr_spare_segs, 0);
	assert_int_equal(kmem_vmem_check(vm), 0);
	kmem_vmem_destroy(vm);
}

static void test_vmem_destroy_with_live_allocations(void **state)
{
	long live = kmem_fault_live();
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 1 << 16);

	(void)state;
	assert_int_equal(kmem_vmem_add(vm, 1 << 20, 1 << 16), 0);
	uint64_t first = alloc_ok(vm, 1);

	for (int i = 1; i < 300; i++)
		alloc_ok(vm, 1 + (uint64_t)i);
	free_ok(vm, first);
	assert_true(kmem_fault_live() > live);
	kmem_vmem_destroy(vm);
	assert_int_equal(kmem_fault_live(), live);
}

/* ------------------------------------------------------------ faults */

static void test_vmem_create_fault_injection(void **state)
{
	struct kmem_vmem_params p = { .quantum = 4, .base = 64, .size = 4096 };
	long live = kmem_fault_live();
	unsigned long n;

	(void)state;
	for (n = 1;; n++) {
		struct kmem_vmem *vm = NULL;
		int rc;

		kmem_fault_fail_nth(n);
		rc = kmem_vmem_create(&p, &vm);
		if (!kmem_fault_fired()) {
			kmem_fault_fail_nth(0);
			assert_int_equal(rc, 0);
			assert_int_equal(kmem_vmem_check(vm), 0);
			kmem_vmem_destroy(vm);
			break;
		}
		assert_int_equal(rc, KMEM_ENOMETA);
		assert_null(vm);
		assert_int_equal(kmem_fault_live(), live);
	}
	/* Arena, hash table, span marker, free segment. */
	assert_int_equal(n, 5);
	assert_int_equal(kmem_fault_live(), live);
}

/*
 * Run op under kmem_fault_fail_nth(n) for n = 1, 2, ... until it succeeds
 * without the fault firing.  Each failure must be KMEM_ENOMETA and change
 * nothing.  op may also succeed with the fault fired (a hash table
 * doubling that could not happen); then undo frees what it made.  Returns
 * the number of injected faults that failed the call.
 */
static unsigned fault_loop(struct kmem_vmem *vm,
			   int (*op)(struct kmem_vmem *, uint64_t *),
			   void (*undo)(struct kmem_vmem *, uint64_t),
			   uint64_t *off, unsigned *skipped)
{
	unsigned failures = 0;

	*skipped = 0;
	for (unsigned long n = 1;; n++) {
		struct kmem_vmem_stats before = stats(vm), after;
		long live = kmem_fault_live();
		int rc, fired;

		kmem_fault_fail_nth(n);
		rc = op(vm, off);
		fired = kmem_fault_fired();
		kmem_fault_fail_nth(0);
		assert_int_equal(kmem_vmem_check(vm), 0);
		if (!fired) {
			assert_int_equal(rc, 0);
			return failures;
		}
		if (rc == 0) {
			after = stats(vm);
			assert_int_equal(after.hash_buckets, before.hash_buckets);
			assert_int_equal(after.allocs, before.allocs + 1);
			undo(vm, *off);
			(*skipped)++;
			continue;
		}
		assert_int_equal(rc, KMEM_ENOMETA);
		assert_int_equal(kmem_fault_live(), live);
		after = stats(vm);
		assert_stats_equal(&before, &after);
		failures++;
	}
}

static int op_add(struct kmem_vmem *vm, uint64_t *off)
{
	(void)off;
	return kmem_vmem_add(vm, 1 << 20, 4096);
}

static int op_alloc(struct kmem_vmem *vm, uint64_t *off)
{
	return kmem_vmem_alloc(vm, 24, off);
}

static int op_xalloc(struct kmem_vmem *vm, uint64_t *off)
{
	struct kmem_vmem_req r = { .size = 24, .align = 4096, .phase = 512 };

	return kmem_vmem_xalloc(vm, &r, off);
}

static int op_free(struct kmem_vmem *vm, uint64_t *off)
{
	return kmem_vmem_free(vm, *off);
}

static void undo_free(struct kmem_vmem *vm, uint64_t off)
{
	assert_int_equal(kmem_vmem_free(vm, off), 0);
}

static void test_vmem_add_fault_injection(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 4096);
	unsigned skipped;
	uint64_t off;

	(void)state;
	/* Two records: the span marker and its free segment. */
	assert_int_equal(fault_loop(vm, op_add, undo_free, &off, &skipped), 2);
	assert_int_equal(skipped, 0);
	assert_int_equal(stats(vm).nr_spans, 2);
	kmem_vmem_destroy(vm);
}

static void test_vmem_alloc_fault_injection(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 4096);
	long live;
	unsigned skipped;
	uint64_t off;

	(void)state;
	/* Fill the 16-bucket table, so the next allocation needs a new
	 * record for the split and a doubled table. */
	for (int i = 0; i < 16; i++)
		alloc_ok(vm, 24);
	assert_int_equal(stats(vm).nr_spare_segs, 0);
	assert_int_equal(fault_loop(vm, op_alloc, undo_free, &off, &skipped), 1);
	/* Once the doubling failed and the allocation went ahead. */
	assert_int_equal(skipped, 1);
	assert_int_equal(off, 16 * 24);
	assert_int_equal(stats(vm).hash_buckets, 32);
	assert_int_equal(stats(vm).nr_alloc_segs, 17);

	/* Freeing never needs metadata. */
	live = kmem_fault_live();
	assert_int_equal(fault_loop(vm, op_free, undo_free, &off, &skipped), 0);
	assert_int_equal(kmem_fault_live(), live);
	assert_int_equal(stats(vm).nr_alloc_segs, 16);
	kmem_vmem_destroy(vm);
}

static void test_vmem_xalloc_fault_injection(void **state)
{
	struct kmem_vmem *vm = mk(1, KMEM_VMEM_DEFAULT, 0, 8192);
	unsigned skipped;
	uint64_t off;

	(void)state;
	/* The range is carved from the middle of the only free segment:
	 * two new records, the second failing after the first succeeded. */
	assert_int_equal(fault_loop(vm, op_xalloc, undo_free, &off, &skipped), 2);
	assert_int_equal(skipped, 0);
	assert_int_equal(off, 512);
	assert_int_equal(stats(vm).nr_free_segs, 2);
	assert_int_equal(fault_loop(vm, op_free, undo_free, &off, &skipped), 0);
	assert_pristine(vm);
	kmem_vmem_destroy(vm);
}

/* ------------------------------------------------------------ model test */

struct mspan {
	uint64_t base, units, map;	/* map: first unit in owned[] */
};

struct mlive {
	uint64_t off, size, req;	/* size rounded; req as asked */
};

struct model {
	struct kmem_vmem *vm;
	uint64_t q;
	const struct mspan *sp;
	unsigned nsp;
	uint8_t *owned;			/* one byte per quantum unit */
	struct mlive *lv;
	uint64_t nlive, maxlive, used, total;
	uint64_t rng;
	uint64_t enomem, econstraint;
};

/* Span holding [off, off + size), or NULL. */
static const struct mspan *m_span(const struct model *m, uint64_t off,
				  uint64_t size)
{
	for (unsigned i = 0; i < m->nsp; i++) {
		uint64_t lo = m->sp[i].base, len = m->sp[i].units * m->q;

		if (off >= lo && off - lo < len && size <= len - (off - lo))
			return &m->sp[i];
	}
	return NULL;
}

static uint8_t *m_units(const struct model *m, uint64_t off)
{
	const struct mspan *s = m_span(m, off, 1);

	assert_non_null(s);
	return m->owned + s->map + (off - s->base) / m->q;
}

static bool crosses(uint64_t a, uint64_t size, uint64_t nocross)
{
	return nocross && a / nocross != (a + size - 1) / nocross;
}

/*
 * Independent of lib/vmem.c: does some start in [lo, hi) meet r (size
 * rounded to q)?  Steps through aligned starts for one whole nocross
 * period, which repeats after that.
 */
static bool m_feasible(uint64_t q, const struct kmem_vmem_req *r, uint64_t lo,
		       uint64_t hi)
{
	uint64_t size = (r->size + q - 1) / q * q;
	uint64_t align = r->align > q ? r->align : q, a, steps;

	if (r->phase >= (r->align > 1 ? r->align : 1) ||
	    r->phase % (r->align > 1 && r->align < q ? r->align : q))
		return false;
	if (r->minaddr > lo)
		lo = (r->minaddr + q - 1) / q * q;
	if (r->maxaddr && r->maxaddr / q * q < hi)
		hi = r->maxaddr / q * q;
	if (lo >= hi || hi - lo < size)
		return false;
	a = lo + ((r->phase % align) + align - lo % align) % align;
	steps = r->nocross > align ? r->nocross / align : 1;
	for (; steps-- && a <= hi - size && a >= lo; a += align)
		if (!crosses(a, size, r->nocross))
			return true;
	return false;
}

/* Scan the model's free runs for one that could serve r. */
static bool m_any_fit(const struct model *m, const struct kmem_vmem_req *r)
{
	for (unsigned i = 0; i < m->nsp; i++) {
		const struct mspan *s = &m->sp[i];

		for (uint64_t u = 0; u < s->units;) {
			uint64_t v = u;

			if (m->owned[s->map + u]) {
				u++;
				continue;
			}
			while (v < s->units && !m->owned[s->map + v])
				v++;
			if (m_feasible(m->q, r, s->base + u * m->q,
				       s->base + v * m->q))
				return true;
			u = v;
		}
	}
	return false;
}

static void m_random_req(struct model *m, struct kmem_vmem_req *r)
{
	uint64_t *g = &m->rng;
	const struct mspan *s = &m->sp[tu_below(g, m->nsp)];

	memset(r, 0, sizeof(*r));
	r->size = 1 + tu_below(g, tu_below(g, 8) ? 48 * m->q : 1024 * m->q);
	r->policy = (enum kmem_vmem_policy)tu_below(g, 4);
	if (tu_below(g, 2)) {
		r->align = 1ull << tu_below(g, 13);
		if (tu_below(g, 2))
			r->phase = tu_below(g, r->align) / m->q * m->q;
	}
	if (tu_below(g, 3) == 0)
		r->nocross = 1ull << (64 - __builtin_clzll(r->size) +
				      tu_below(g, 4));
	if (tu_below(g, 4) == 0) {
		r->minaddr = s->base + tu_below(g, s->units * m->q);
		if (tu_below(g, 4))
			r->maxaddr = r->minaddr + 1 +
				     tu_below(g, 4 * r->size + 4096);
	}
	/* Now and then a contradiction. */
	if (tu_below(g, 64) == 0)
		r->phase = r->align + m->q;
}

static void m_take(struct model *m, uint64_t off, uint64_t req,
		   const struct kmem_vmem_req *r)
{
	uint64_t size = (req + m->q - 1) / m->q * m->q;
	uint8_t *u;

	assert_non_null(m_span(m, off, size));
	assert_int_equal(off % m->q, 0);
	if (r) {
		if (r->align > 1)
			assert_int_equal(off % r->align, r->phase);
		assert_false(crosses(off, size, r->nocross));
		assert_true(off >= r->minaddr);
		if (r->maxaddr)
			assert_true(off + size <= r->maxaddr);
	}
	u = m_units(m, off);
	for (uint64_t i = 0; i < size / m->q; i++) {
		if (u[i])
			fail_msg("overlap at %llu", (unsigned long long)off);
		u[i] = 1;
	}
	m->lv[m->nlive++] = (struct mlive){ off, size, req };
	m->used += size;
}

static void m_alloc(struct model *m)
{
	struct kmem_vmem_req r;
	uint64_t off = 0;
	int rc;

	if (tu_below(&m->rng, 2)) {
		uint64_t req = 1 + tu_below(&m->rng, tu_below(&m->rng, 8) ?
					    48 * m->q : 1024 * m->q);

		rc = kmem_vmem_alloc(m->vm, req, &off);
		if (rc == KMEM_ENOMEM) {
			/* Every policy finds any segment that is big enough. */
			assert_true(kmem_vmem_largest_free(m->vm) < req);
			m->enomem++;
			return;
		}
		assert_int_equal(rc, 0);
		m_take(m, off, req, NULL);
		return;
	}
	m_random_req(m, &r);
	rc = kmem_vmem_xalloc(m->vm, &r, &off);
	if (rc == KMEM_ECONSTRAINT) {
		assert_false(m_feasible(m->q, &r, 0, UINT64_MAX));
		m->econstraint++;
	} else if (rc == KMEM_ENOMEM) {
		assert_true(m_feasible(m->q, &r, 0, UINT64_MAX));
		/* Proving no free run fits is O(arena): sample. */
		if (m->enomem++ % 16 == 0)
			assert_false(m_any_fit(m, &r));
	} else {
		assert_int_equal(rc, 0);
		m_take(m, off, r.size, &r);
	}
}

static void m_free(struct model *m, uint64_t i)
{
	uint64_t j = tu_below(&m->rng, m->nlive), r = tu_below(&m->rng, 64);
	struct mlive l = m->lv[j];
	const struct mspan *s = m_span(m, l.off, l.size);
	uint8_t *u = m_units(m, l.off);

	if (r == 0 && l.size > 1)	/* an interior offset: O(span) */
		assert_int_equal(kmem_vmem_free(m->vm, l.off + 1),
				 KMEM_EMISALIGNED);
	if (r < 16) {
		assert_int_equal(kmem_vmem_free_sized(m->vm, l.off,
						      l.size + m->q), KMEM_ESIZE);
		assert_int_equal(kmem_vmem_free_sized(m->vm, l.off, l.req), 0);
	} else {
		assert_int_equal(kmem_vmem_free(m->vm, l.off), 0);
	}
	memset(u, 0, l.size / m->q);
	m->used -= l.size;
	m->lv[j] = m->lv[--m->nlive];
	/* A second free: the start of a free segment unless it merged with
	 * a free left neighbour in its span. */
	if (i % 32 == 0)
		assert_int_equal(kmem_vmem_free(m->vm, l.off),
				 l.off != s->base && u[-1] == 0 ?
				 KMEM_ENOTALLOC : KMEM_EDOUBLEFREE);
}

static void model_run(const char *name, enum kmem_vmem_policy policy,
		      uint64_t q, const struct mspan *sp, unsigned nsp,
		      uint64_t ops)
{
	struct model m = { .q = q, .sp = sp, .nsp = nsp, .maxlive = 4096 };
	uint64_t units = 0;

	m.rng = tu_seed(name);
	m.vm = mk(q, policy, 0, 0);
	for (unsigned i = 0; i < nsp; i++) {
		assert_int_equal(kmem_vmem_add(m.vm, sp[i].base, sp[i].units * q), 0);
		units += sp[i].units;
	}
	m.total = units * q;
	m.owned = calloc(units, 1);
	m.lv = calloc(m.maxlive, sizeof(*m.lv));
	assert_non_null(m.owned);
	assert_non_null(m.lv);
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t r = tu_below(&m.rng, 100);

		if (m.nlive && (r < 45 || m.nlive == m.maxlive))
			m_free(&m, i);
		else
			m_alloc(&m);
		assert_int_equal(kmem_vmem_free_bytes(m.vm), m.total - m.used);
		if (i % 1024 == 0) {
			assert_int_equal(kmem_vmem_check(m.vm), 0);
			assert_int_equal(stats(m.vm).nr_alloc_segs, m.nlive);
		}
	}
	assert_int_equal(kmem_vmem_check(m.vm), 0);
	printf("%s: %llu live, %llu ENOMEM, %llu ECONSTRAINT\n", name,
	       (unsigned long long)m.nlive, (unsigned long long)m.enomem,
	       (unsigned long long)m.econstraint);
	while (m.nlive)
		assert_int_equal(kmem_vmem_free(m.vm, m.lv[--m.nlive].off), 0);
	assert_pristine(m.vm);
	assert_int_equal(stats(m.vm).nr_free_segs, nsp);
	free(m.owned);
	free(m.lv);
	kmem_vmem_destroy(m.vm);
}

static void test_vmem_model_random(void **state)
{
	/* Two spans that touch, and one far away. */
	static const struct mspan sp[] = {
		{ 1 << 20, 16000, 0 },
		{ (1 << 20) + 16000 * 16, 8000, 16000 },
		{ 1ull << 40, 24000, 24000 },
	};

	(void)state;
	model_run("vmem model", KMEM_VMEM_INSTANTFIT, 16, sp, 3,
		  tu_ops(1000000));
}

static void test_vmem_model_tight_bestfit(void **state)
{
	/* Byte quantum, a small arena: allocation often fails. */
	static const struct mspan sp[] = {
		{ 4096, 20000, 0 },
		{ 1 << 16, 3000, 20000 },
	};

	(void)state;
	model_run("vmem tight model", KMEM_VMEM_BESTFIT, 1, sp, 2,
		  tu_ops(1000000) / 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmem_create_with_first_span),
		cmocka_unit_test(test_vmem_empty_arena),
		cmocka_unit_test(test_vmem_create_rejects_bad_params),
		cmocka_unit_test(test_vmem_add_spans_and_overlaps),
		cmocka_unit_test(test_vmem_alloc_exact_lengths),
		cmocka_unit_test(test_vmem_alloc_errors_change_nothing),
		cmocka_unit_test(test_vmem_free_coalesces_both_neighbours),
		cmocka_unit_test(test_vmem_free_coalesces_left),
		cmocka_unit_test(test_vmem_free_coalesces_right),
		cmocka_unit_test(test_vmem_no_coalescing_across_spans),
		cmocka_unit_test(test_vmem_free_errors_change_nothing),
		cmocka_unit_test(test_vmem_policy_choices),
		cmocka_unit_test(test_vmem_bestfit_ties_go_to_lower_address),
		cmocka_unit_test(test_vmem_arena_default_policy),
		cmocka_unit_test(test_vmem_instantfit_falls_back_to_floor_list),
		cmocka_unit_test(test_vmem_xalloc_align_phase),
		cmocka_unit_test(test_vmem_xalloc_nocross),
		cmocka_unit_test(test_vmem_xalloc_window),
		cmocka_unit_test(test_vmem_xalloc_errors_change_nothing),
		cmocka_unit_test(test_vmem_hash_grows_and_all_free_is_pristine),
		cmocka_unit_test(test_vmem_spare_records_recycled),
		cmocka_unit_test(test_vmem_destroy_with_live_allocations),
		cmocka_unit_test(test_vmem_create_fault_injection),
		cmocka_unit_test(test_vmem_add_fault_injection),
		cmocka_unit_test(test_vmem_alloc_fault_injection),
		cmocka_unit_test(test_vmem_xalloc_fault_injection),
		cmocka_unit_test(test_vmem_model_random),
		cmocka_unit_test(test_vmem_model_tight_bestfit),
	};

	return cmocka_run_group_tests_name("vmem", tests, NULL, NULL);
}
