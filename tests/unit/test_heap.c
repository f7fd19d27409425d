/*
 * test_heap.c - arenas, constrained allocation (lib/xalloc.c), zeroing and
 * both heap policies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "kmem/error.h"
#include "kmem/fault.h"
#include "kmem/heap.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define PS (4 * KiB)

/*
 * Four 16 MiB arenas with made-up physical bases:
 *   0: [ 0, 16M)  phys 0xF0000000            below 4 GiB, node 0
 *   1: [16, 32M)  phys 0x100000000           above 4 GiB, node 0
 *   2: [32, 48M)  phys 0xFFC00000            straddles 4 GiB, node 1
 *   3: [48, 64M)  phys 0x200000000           above 4 GiB, node 1
 */
static const struct kmem_arena_desc arenas[4] = {
	{ 0 * MiB, 16 * MiB, 0xF0000000ull, KMEM_ARENA_PHYS | KMEM_ARENA_DMA32, 0 },
	{ 16 * MiB, 16 * MiB, 0x100000000ull, KMEM_ARENA_PHYS, 0 },
	{ 32 * MiB, 16 * MiB, 0xFFC00000ull, KMEM_ARENA_PHYS, 1 },
	{ 48 * MiB, 16 * MiB, 0x200000000ull, KMEM_ARENA_PHYS, 1 },
};

static uint64_t phys_of(uint64_t off)
{
	const struct kmem_arena_desc *a = &arenas[off / (16 * MiB)];

	return a->phys + (off - a->base);
}

static struct kmem_heap *mkheap(enum kmem_policy policy)
{
	struct kmem_heap_params p = {
		.size = 64 * MiB, .page_size = PS, .policy = policy,
		.arenas = arenas, .narenas = 4,
	};
	struct kmem_heap *h = NULL;
	char msg[KMEM_MSG_MAX] = "";

	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), 0);
	return h;
}

static int xalloc(struct kmem_heap *h, uint64_t size, unsigned flags,
		  uint64_t mask, uint64_t boundary, int node,
		  struct kmem_alloc_res *res, char *msg)
{
	struct kmem_alloc_req r = {
		.size = size, .flags = flags, .dma_mask = mask,
		.boundary = boundary, .node = node,
	};

	msg[0] = 0;
	return kmem_heap_xalloc(h, &r, res, msg, KMEM_MSG_MAX);
}

static void test_heap_dma32_lands_below_4g(void **state)
{
	struct kmem_heap *h = mkheap(KMEM_POLICY_BUDDY);
	struct kmem_alloc_res r1, r2, r3;
	char msg[KMEM_MSG_MAX];

	(void)state;
	assert_int_equal(xalloc(h, 8 * MiB, KMEM_ALLOC_DMA32, 0, 0, -1, &r1, msg), 0);
	assert_true(phys_of(r1.off) + r1.len - 1 <= 0xFFFFFFFFull);
	assert_int_equal(r1.arena, 0);
	assert_int_equal(r1.len, 8 * MiB);
	assert_int_equal(xalloc(h, 8 * MiB, KMEM_ALLOC_DMA32, 0, 0, -1, &r2, msg), 0);
	assert_int_equal(r2.arena, 0);
	/* Heap-wide buddyinfo: arenas 1-3 each one free 16 MiB block
	 * (order 12); nothing is unusable below order 13. */
	struct kmem_heap_stats hs;
	kmem_heap_stats(h, &hs);
	assert_int_equal(hs.nr_free[12], 3);
	assert_int_equal(hs.free_bytes, 48 * MiB);
	assert_int_equal(hs.unusable_index[12], 0);
	assert_int_equal(hs.unusable_index[13], 1000);
	/* Arena 0 is full; the low 4 MiB of arena 2 are all that is left
	 * below 4 GiB. */
	assert_int_equal(xalloc(h, 4 * MiB, KMEM_ALLOC_DMA32, 0, 0, -1, &r3, msg), 0);
	assert_int_equal(r3.arena, 2);
	assert_int_equal(r3.off, 32 * MiB);
	assert_int_equal(phys_of(r3.off) + r3.len, 0x100000000ull);
	assert_int_equal(xalloc(h, 4 * KiB, KMEM_ALLOC_DMA32, 0, 0, -1, &r3, msg),
			 KMEM_ENOMEM);
	assert_string_equal(msg, "no contiguous block of 4 KiB below 4 GiB; largest is 8 MiB");
	assert_int_equal(kmem_heap_free(h, r1.off), 0);
	assert_int_equal(kmem_heap_free(h, r2.off), 0);
	assert_int_equal(kmem_heap_free(h, 32 * MiB), 0);
	assert_int_equal(kmem_heap_check(h), 0);
	assert_true(kmem_heap_is_pristine(h));
	kmem_heap_destroy(h);
}

static void test_heap_dma_mask_and_node(void **state)
{
	struct kmem_heap *h = mkheap(KMEM_POLICY_BUDDY);
	struct kmem_alloc_res r;
	char msg[KMEM_MSG_MAX];

	(void)state;
	/* A 28-bit device reaches nothing here. */
	assert_int_equal(xalloc(h, 4 * KiB, 0, 0x0FFFFFFF, 0, -1, &r, msg),
			 KMEM_ECONSTRAINT);
	assert_string_equal(msg, "no contiguous block of 4 KiB within DMA mask 0xfffffff can exist in this pool");
	/* Node 1 below 4 GiB: only the bottom of arena 2. */
	assert_int_equal(xalloc(h, 2 * MiB, KMEM_ALLOC_DMA32, 0, 0, 1, &r, msg), 0);
	assert_int_equal(r.arena, 2);
	assert_true(phys_of(r.off) + r.len <= 0x100000000ull);
	assert_int_equal(kmem_heap_free(h, r.off), 0);
	assert_int_equal(xalloc(h, 2 * MiB, 0, 0, 0, 1, &r, msg), 0);
	assert_true(r.arena == 2 || r.arena == 3);
	assert_int_equal(kmem_heap_free(h, r.off), 0);
	assert_int_equal(xalloc(h, 2 * MiB, 0, 0, 0, 7, &r, msg), KMEM_ECONSTRAINT);
	assert_string_equal(msg, "no contiguous block of 2 MiB on node 7 can exist in this pool");
	/* Too big for any arena: can never be served. */
	assert_int_equal(xalloc(h, 32 * MiB, 0, 0, 0, -1, &r, msg), KMEM_ECONSTRAINT);
	assert_string_equal(msg, "no contiguous block of 32 MiB can exist in this pool");
	/* Fits an arena, but not now: names the largest free block. */
	struct kmem_alloc_res f[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(xalloc(h, 12 * MiB, 0, 0, 0, -1, &f[i], msg), 0);
	assert_int_equal(xalloc(h, 8 * MiB, 0, 0, 0, -1, &r, msg), KMEM_ENOMEM);
	assert_string_equal(msg, "no contiguous block of 8 MiB; largest is 4 MiB");
	for (int i = 0; i < 4; i++)
		assert_int_equal(kmem_heap_free(h, f[i].off), 0);
	assert_true(kmem_heap_is_pristine(h));
	kmem_heap_destroy(h);
}

static void test_heap_boundary_not_crossed(void **state)
{
	struct kmem_heap *h = mkheap(KMEM_POLICY_BUDDY);
	struct kmem_alloc_res r, fill[3];
	char msg[KMEM_MSG_MAX];

	(void)state;
	/* Use up arenas 0 and 1 so the request must go to arena 2, whose
	 * physical base is not 8 MiB aligned: the naturally aligned block
	 * at its start would cross 4 GiB. */
	assert_int_equal(xalloc(h, 16 * MiB, 0, 0, 0, -1, &fill[0], msg), 0);
	assert_int_equal(xalloc(h, 16 * MiB, 0, 0, 0, -1, &fill[1], msg), 0);
	assert_int_equal(xalloc(h, 8 * MiB, 0, 0, 4 * GiB, -1, &r, msg), 0);
	assert_int_equal(r.arena, 2);
	assert_int_equal(phys_of(r.off) / (4 * GiB),
			 (phys_of(r.off) + r.len - 1) / (4 * GiB));
	assert_int_equal(r.off, 40 * MiB);
	/* 64 KiB boundary, a 64 KiB buffer: natural alignment suffices. */
	assert_int_equal(xalloc(h, 64 * KiB, 0, 0, 64 * KiB, -1, &fill[2], msg), 0);
	assert_int_equal(phys_of(fill[2].off) % (64 * KiB), 0);
	assert_int_equal(xalloc(h, 128 * KiB, 0, 0, 64 * KiB, -1, &r, msg),
			 KMEM_ECONSTRAINT);
	assert_string_equal(msg, "a 128 KiB buffer cannot avoid crossing a 64 KiB boundary");
	assert_int_equal(kmem_heap_free(h, 40 * MiB), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kmem_heap_free(h, fill[i].off), 0);
	assert_true(kmem_heap_is_pristine(h));
	kmem_heap_destroy(h);
}

static void test_heap_align_exact_and_errors(void **state)
{
	struct kmem_heap *h = mkheap(KMEM_POLICY_BUDDY);
	struct kmem_heap_stats a, b;
	struct kmem_alloc_req req = { .size = 4 * KiB, .align = 1 * MiB, .node = -1 };
	struct kmem_alloc_res r, r2;
	char msg[KMEM_MSG_MAX];

	(void)state;
	kmem_heap_stats(h, &a);
	assert_int_equal(kmem_heap_xalloc(h, &req, &r, msg, sizeof(msg)), 0);
	assert_int_equal(r.off % MiB, 0);
	assert_int_equal(r.len, 4 * KiB);
	req.align = 0;
	req.size = 33 * PS;
	assert_int_equal(kmem_heap_xalloc(h, &req, &r2, msg, sizeof(msg)), 0);
	assert_int_equal(r2.len, 33 * PS);
	kmem_heap_stats(h, &b);
	assert_int_equal(a.free_bytes - b.free_bytes, 34 * PS);

	req.size = 0;
	assert_int_equal(kmem_heap_xalloc(h, &req, &r, msg, sizeof(msg)), KMEM_EZEROSIZE);
	assert_string_equal(msg, "size 0 is not allowed");
	req.size = 4096;
	req.align = 3000;
	assert_int_equal(kmem_heap_xalloc(h, &req, &r, msg, sizeof(msg)), KMEM_EALIGN);
	req.align = 0;
	req.size = 65 * MiB;
	assert_int_equal(kmem_heap_xalloc(h, &req, &r, msg, sizeof(msg)), KMEM_ETOOBIG);
	assert_string_equal(msg, "65 MiB is larger than the whole pool (64 MiB)");
	req.size = 4096;
	req.flags = KMEM_ALLOC_ZERO;	/* no mapping given */
	assert_int_equal(kmem_heap_xalloc(h, &req, &r, msg, sizeof(msg)), KMEM_EINVAL);
	kmem_heap_stats(h, &a);
	assert_memory_equal(&a, &b, sizeof(a));

	assert_int_equal(kmem_heap_free(h, r2.off), 0);
	assert_int_equal(kmem_heap_free(h, 0), 0);
	assert_int_equal(kmem_heap_free(h, 0), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_heap_free(h, 64 * MiB), KMEM_ERANGE);
	assert_true(kmem_heap_is_pristine(h));
	kmem_heap_destroy(h);
}

static void test_heap_va_mode_refuses_phys_constraints(void **state)
{
	struct kmem_heap_params p = { .size = 4 * MiB };
	struct kmem_heap *h;
	struct kmem_alloc_res r;
	char msg[KMEM_MSG_MAX];

	(void)state;
	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), 0);
	assert_int_equal(xalloc(h, 4096, KMEM_ALLOC_DMA32, 0, 0, -1, &r, msg),
			 KMEM_ECONSTRAINT);
	assert_non_null(strstr(msg, "iova mode va"));
	assert_int_equal(xalloc(h, 4096, 0, 0, 0, -1, &r, msg), 0);
	assert_int_equal(kmem_heap_free(h, r.off), 0);
	kmem_heap_destroy(h);
}

static void test_heap_zero_is_cheap_and_correct(void **state)
{
	const uint64_t size = 1 * MiB;
	unsigned char *mem = aligned_alloc(PS, size);
	struct kmem_heap_params p = {
		.size = size, .mem = mem, .mem_zeroed = true,
	};
	struct kmem_alloc_req req = { .size = 8 * KiB, .flags = KMEM_ALLOC_ZERO, .node = -1 };
	struct kmem_alloc_res r, r2;
	struct kmem_heap *h;
	char msg[KMEM_MSG_MAX];

	(void)state;
	assert_non_null(mem);
	/* The heap believes the fresh region is zero: fill it with a
	 * pattern to see that it does not clear known-zero pages. */
	memset(mem, 0xAA, size);
	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), 0);
	assert_int_equal(kmem_heap_xalloc(h, &req, &r, msg, sizeof(msg)), 0);
	assert_int_equal(mem[r.off], 0xAA);
	assert_int_equal(mem[r.off + r.len - 1], 0xAA);
	/* Once handed out the pages are dirty: the next zero allocation
	 * of the same block clears them. */
	assert_int_equal(kmem_heap_free(h, r.off), 0);
	assert_int_equal(kmem_heap_xalloc(h, &req, &r2, msg, sizeof(msg)), 0);
	assert_int_equal(r2.off, r.off);
	for (uint64_t i = 0; i < r2.len; i++)
		assert_int_equal(mem[r2.off + i], 0);
	assert_int_equal(kmem_heap_free(h, r2.off), 0);
	kmem_heap_destroy(h);
	free(mem);
}

static void test_heap_create_errors_and_faults(void **state)
{
	struct kmem_arena_desc bad[2] = {
		{ 0, 8 * MiB, 0, 0, -1 }, { 4 * MiB, 8 * MiB, 0, 0, -1 },
	};
	struct kmem_heap_params p = { .size = 16 * MiB, .arenas = bad, .narenas = 2 };
	struct kmem_heap *h = NULL;
	char msg[KMEM_MSG_MAX];
	long live = kmem_fault_live();

	(void)state;
	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), KMEM_EINVAL);
	assert_non_null(strstr(msg, "overlapping"));
	p.arenas = NULL;
	p.size = 12345;
	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), KMEM_EINVAL);
	p.size = 16 * MiB;
	p.policy = 9;
	assert_int_equal(kmem_heap_create(&p, &h, msg, sizeof(msg)), KMEM_EINVAL);
	assert_null(h);
	assert_int_equal(kmem_fault_live(), live);
	p.policy = KMEM_POLICY_BUDDY;
	for (unsigned long n = 1;; n++) {
		int rc;

		kmem_fault_fail_nth(n);
		rc = kmem_heap_create(&p, &h, msg, sizeof(msg));
		if (!kmem_fault_fired()) {
			kmem_fault_fail_nth(0);
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, KMEM_ENOMETA);
		assert_int_equal(kmem_fault_live(), live);
	}
	kmem_heap_destroy(h);
	assert_int_equal(kmem_fault_live(), live);
}

/* The resource-map policy: exact lengths, no power-of-two rounding. */
static void test_heap_vmem_policy(void **state)
{
	struct kmem_heap *h = mkheap(KMEM_POLICY_VMEM);
	struct kmem_heap_stats a, b;
	struct kmem_alloc_res r, q;
	uint64_t off, len;
	char msg[KMEM_MSG_MAX];

	(void)state;
	kmem_heap_stats(h, &a);
	assert_int_equal(xalloc(h, 33 * PS, 0, 0, 0, -1, &r, msg), 0);
	assert_int_equal(r.len, 33 * PS);
	/* A length that is no multiple of the quantum: the result says what
	 * the map holds, as kmem_heap_size_of does. */
	assert_int_equal(xalloc(h, 3 * PS + 57, 0, 0, 0, -1, &q, msg), 0);
	assert_int_equal(q.len, 4 * PS);
	assert_int_equal(kmem_heap_size_of(h, q.off, &len), 0);
	assert_int_equal(len, q.len);
	assert_int_equal(kmem_heap_free(h, q.off), 0);
	assert_int_equal(kmem_heap_alloc(h, 100, &off), 0);	/* slab object */
	assert_int_equal(kmem_heap_size_of(h, off, &len), 0);
	assert_int_equal(len, 128);
	kmem_heap_stats(h, &b);
	/* 33 pages plus one slab page for kmalloc-128. */
	assert_int_equal(a.free_bytes - b.free_bytes, 34 * PS);
	assert_int_equal(kmem_heap_free(h, off), 0);
	assert_int_equal(kmem_heap_free(h, r.off), 0);
	assert_int_equal(xalloc(h, 8 * MiB, 0, 0, 4 * GiB, 1, &r, msg), 0);
	assert_int_equal(phys_of(r.off) / (4 * GiB),
			 (phys_of(r.off) + r.len - 1) / (4 * GiB));
	assert_int_equal(xalloc(h, 1 * MiB, KMEM_ALLOC_DMA32, 0, 0, -1, &r, msg), 0);
	assert_true(phys_of(r.off) + r.len <= 4 * GiB);
	assert_int_equal(kmem_heap_check(h), 0);
	kmem_heap_destroy(h);
}

/* kmem_heap_alloc_len says what kmem_heap_size_of would, for size
 * classes and page allocations, under both policies. */
static void test_heap_alloc_len_matches_size_of(void **state)
{
	static const uint64_t sizes[] = { 1, 8, 9, 100, 192, 193, 4096, 8192,
					  8193, 100000, 1 * MiB + 1 };
	static const uint64_t want[] = { 8, 8, 16, 128, 192, 256, 4096, 8192,
					 12 * KiB, 100 * KiB, 1 * MiB + 4 * KiB };

	(void)state;
	for (int pol = 0; pol < 2; pol++) {
		struct kmem_heap *h = mkheap(pol ? KMEM_POLICY_VMEM :
					     KMEM_POLICY_BUDDY);

		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint64_t off, len, len2;

			assert_int_equal(kmem_heap_alloc_len(h, sizes[i], &off,
							     &len), 0);
			assert_int_equal(kmem_heap_size_of(h, off, &len2), 0);
			assert_int_equal(len, len2);
			assert_int_equal(len, want[i]);
			assert_int_equal(kmem_heap_free(h, off), 0);
		}
		assert_int_equal(kmem_heap_alloc_len(h, 0, &(uint64_t){ 0 },
						     &(uint64_t){ 0 }),
				 KMEM_EZEROSIZE);
		assert_int_equal(kmem_heap_check(h), 0);
		kmem_heap_destroy(h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_dma32_lands_below_4g),
		cmocka_unit_test(test_heap_dma_mask_and_node),
		cmocka_unit_test(test_heap_boundary_not_crossed),
		cmocka_unit_test(test_heap_align_exact_and_errors),
		cmocka_unit_test(test_heap_va_mode_refuses_phys_constraints),
		cmocka_unit_test(test_heap_zero_is_cheap_and_correct),
		cmocka_unit_test(test_heap_create_errors_and_faults),
		cmocka_unit_test(test_heap_vmem_policy),
		cmocka_unit_test(test_heap_alloc_len_matches_size_of),
	};

	return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}
