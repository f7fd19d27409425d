/*
 * test_buddy.c - unit and model tests of lib/buddy.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "kmem/buddy.h"
#include "kmem/error.h"
#include "kmem/fault.h"

#define KiB 1024ull
#define PS (4 * KiB)

static struct kmem_buddy *mk(uint64_t base, uint64_t npages, unsigned max_order)
{
	struct kmem_buddy_params p = {
		.base = base, .npages = npages, .page_size = PS,
		.max_order = max_order,
	};
	struct kmem_buddy *b = NULL;

	assert_int_equal(kmem_buddy_create(&p, &b), 0);
	assert_non_null(b);
	assert_int_equal(kmem_buddy_check(b), 0);
	return b;
}

static void test_buddy_create_carves_maximal_blocks(void **state)
{
	struct kmem_buddy_stats st;
	struct kmem_buddy *b = mk(0, 13, 0);	/* 8 + 4 + 1 */

	(void)state;
	kmem_buddy_stats(b, &st);
	assert_int_equal(st.max_order, 3);
	assert_int_equal(st.nr_free[0], 1);
	assert_int_equal(st.nr_free[1], 0);
	assert_int_equal(st.nr_free[2], 1);
	assert_int_equal(st.nr_free[3], 1);
	assert_int_equal(st.total_bytes, 13 * PS);
	assert_int_equal(st.free_bytes, 13 * PS);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.largest_free, 8 * PS);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_destroy(b);

	/* max_order caps the carving: 16 pages at max order 2 = 4 blocks. */
	b = mk(0, 16, 2);
	kmem_buddy_stats(b, &st);
	assert_int_equal(st.max_order, 2);
	assert_int_equal(st.nr_free[2], 4);
	kmem_buddy_destroy(b);
}

static void test_buddy_create_rejects_bad_params(void **state)
{
	struct kmem_buddy *b = NULL;
	struct kmem_buddy_params p = { .base = 0, .npages = 8, .page_size = 3000 };

	(void)state;
	assert_int_equal(kmem_buddy_create(&p, &b), KMEM_EINVAL);
	p.page_size = PS;
	p.npages = 0;
	assert_int_equal(kmem_buddy_create(&p, &b), KMEM_EINVAL);
	p.npages = 8;
	p.base = 100;	/* not page aligned */
	assert_int_equal(kmem_buddy_create(&p, &b), KMEM_EINVAL);
	p.base = 0;
	p.max_order = 40;
	assert_int_equal(kmem_buddy_create(&p, &b), KMEM_EINVAL);
	assert_null(b);
}

/*
 * Knuth's worked example: a 256 KiB segment; a 21 KiB request splits it
 * into 128, 64 and 32 KiB buddies and takes a 32 KiB block; freeing it
 * coalesces all the way back to 256 KiB.
 */
static void test_buddy_textbook_256k_21k(void **state)
{
	struct kmem_buddy_stats st;
	struct kmem_buddy *b = mk(0, 256 * KiB / PS, 0);
	uint64_t off;

	(void)state;
	assert_int_equal(kmem_buddy_alloc_size(b, 21 * KiB, &off), 0);
	assert_int_equal(off, 0);
	kmem_buddy_stats(b, &st);
	assert_int_equal(st.nr_free[3], 1);	/* 32 KiB at 32 KiB */
	assert_int_equal(st.nr_free[4], 1);	/* 64 KiB at 64 KiB */
	assert_int_equal(st.nr_free[5], 1);	/* 128 KiB at 128 KiB */
	assert_int_equal(st.nr_free[6], 0);
	assert_int_equal(st.free_bytes, 224 * KiB);
	assert_int_equal(kmem_buddy_check(b), 0);

	/* The next 32 KiB request takes the 32 KiB buddy without a split. */
	uint64_t off2;
	assert_int_equal(kmem_buddy_alloc_size(b, 32 * KiB, &off2), 0);
	assert_int_equal(off2, 32 * KiB);
	assert_int_equal(kmem_buddy_free(b, off2), 0);

	assert_int_equal(kmem_buddy_free(b, off), 0);
	kmem_buddy_stats(b, &st);
	assert_int_equal(st.nr_free[6], 1);
	assert_int_equal(st.free_bytes, 256 * KiB);
	assert_true(kmem_buddy_is_pristine(b));
	assert_int_equal(kmem_buddy_check(b), 0);
	kmem_buddy_destroy(b);
}

static void test_buddy_blocks_naturally_aligned(void **state)
{
	struct kmem_buddy *b = mk(64 * PS, 1000, 0);
	uint64_t off;

	(void)state;
	for (unsigned k = 0; k <= 7; k++) {
		for (int i = 0; i < 3; i++) {
			assert_int_equal(kmem_buddy_alloc_order(b, k, &off), 0);
			assert_int_equal(((off - 64 * PS) / PS) % (1u << k), 0);
		}
	}
	assert_int_equal(kmem_buddy_check(b), 0);
	kmem_buddy_destroy(b);
}

static void test_buddy_exact_costs_exact_pages(void **state)
{
	struct kmem_buddy_stats st;
	struct kmem_buddy *b = mk(0, 128, 0);
	uint64_t off, size;

	(void)state;
	assert_int_equal(kmem_buddy_alloc_exact(b, 33 * PS, &off), 0);
	assert_int_equal(off, 0);
	kmem_buddy_stats(b, &st);
	assert_int_equal(st.free_bytes, (128 - 33) * PS);
	/* Tail of the 64-page block: 1 + 2 + 4 + 8 + 16 pages, plus the
	 * other 64-page half. */
	assert_int_equal(st.nr_free[0], 1);
	assert_int_equal(st.nr_free[1], 1);
	assert_int_equal(st.nr_free[2], 1);
	assert_int_equal(st.nr_free[3], 1);
	assert_int_equal(st.nr_free[4], 1);
	assert_int_equal(st.nr_free[5], 0);
	assert_int_equal(st.nr_free[6], 1);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_int_equal(kmem_buddy_alloc_size_of(b, off, &size), 0);
	assert_int_equal(size, 33 * PS);

	/* The tail is usable at once. */
	uint64_t t;
	assert_int_equal(kmem_buddy_alloc_order(b, 4, &t), 0);
	assert_int_equal(t, 48 * PS);
	assert_int_equal(kmem_buddy_free(b, t), 0);

	/* Wrong size at free: an error, and nothing changes. */
	assert_int_equal(kmem_buddy_free_exact(b, off, 32 * PS), KMEM_ESIZE);
	assert_int_equal(kmem_buddy_free_exact(b, off, 34 * PS), KMEM_ESIZE);
	assert_int_equal(kmem_buddy_free_bytes(b), (128 - 33) * PS);
	/* An interior page of the exact region. */
	assert_int_equal(kmem_buddy_free(b, 32 * PS), KMEM_EMISALIGNED);
	assert_int_equal(kmem_buddy_free_exact(b, off, 33 * PS - 100), 0);
	assert_true(kmem_buddy_is_pristine(b));
	assert_int_equal(kmem_buddy_check(b), 0);

	/* A power of two needs no tail. */
	assert_int_equal(kmem_buddy_alloc_exact(b, 16 * PS, &off), 0);
	assert_int_equal(kmem_buddy_free_bytes(b), 112 * PS);
	assert_int_equal(kmem_buddy_free(b, off), 0);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_destroy(b);
}

static void test_buddy_free_errors_change_nothing(void **state)
{
	struct kmem_buddy_stats before, after;
	struct kmem_buddy *b = mk(16 * PS, 64, 0);
	uint64_t a, c;

	(void)state;
	assert_int_equal(kmem_buddy_alloc_order(b, 2, &a), 0);	/* 16..20 */
	assert_int_equal(kmem_buddy_alloc_order(b, 2, &c), 0);	/* 20..24 */
	assert_int_equal(kmem_buddy_free(b, c), 0);
	kmem_buddy_stats(b, &before);

	assert_int_equal(kmem_buddy_free(b, 0), KMEM_ERANGE);
	assert_int_equal(kmem_buddy_free(b, 16 * PS + 64 * PS), KMEM_ERANGE);
	assert_int_equal(kmem_buddy_free(b, UINT64_MAX), KMEM_ERANGE);
	assert_int_equal(kmem_buddy_free(b, a + 8), KMEM_EMISALIGNED);
	assert_int_equal(kmem_buddy_free(b, a + PS), KMEM_EMISALIGNED);
	assert_int_equal(kmem_buddy_free(b, c), KMEM_EDOUBLEFREE);
	assert_int_equal(kmem_buddy_free(b, c + PS), KMEM_ENOTALLOC);
	assert_int_equal(kmem_buddy_free(b, 16 * PS + 40 * PS), KMEM_ENOTALLOC);
	assert_int_equal(kmem_buddy_free_exact(b, c, 4 * PS), KMEM_EDOUBLEFREE);

	kmem_buddy_stats(b, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(kmem_buddy_check(b), 0);

	uint64_t off = 123;
	assert_int_equal(kmem_buddy_alloc_size(b, 0, &off), KMEM_EZEROSIZE);
	assert_int_equal(kmem_buddy_alloc_size(b, 65 * PS, &off), KMEM_ETOOBIG);
	assert_int_equal(kmem_buddy_alloc_exact(b, UINT64_MAX, &off), KMEM_ETOOBIG);
	assert_int_equal(kmem_buddy_alloc_order(b, 7, &off), KMEM_EINVAL);
	assert_int_equal(off, 123);	/* untouched on failure */
	kmem_buddy_stats(b, &after);
	assert_memory_equal(&before, &after, sizeof(before));

	assert_int_equal(kmem_buddy_free(b, a), 0);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_destroy(b);
}

static void test_buddy_enomem_and_largest(void **state)
{
	struct kmem_buddy *b = mk(0, 8, 0);
	uint64_t offs[8], off;

	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(kmem_buddy_alloc_order(b, 0, &offs[i]), 0);
	assert_int_equal(kmem_buddy_alloc_order(b, 0, &off), KMEM_ENOMEM);
	assert_int_equal(kmem_buddy_largest_free(b), 0);
	/* Free every other page: 4 free pages, none of them buddies. */
	for (int i = 0; i < 8; i += 2)
		assert_int_equal(kmem_buddy_free(b, offs[i]), 0);
	assert_int_equal(kmem_buddy_free_bytes(b), 4 * PS);
	assert_int_equal(kmem_buddy_largest_free(b), PS);
	assert_int_equal(kmem_buddy_alloc_order(b, 1, &off), KMEM_ENOMEM);

	struct kmem_buddy_stats st;
	kmem_buddy_stats(b, &st);
	assert_int_equal(st.unusable_index[0], 0);
	assert_int_equal(st.unusable_index[1], 1000);
	assert_int_equal(st.unusable_index[3], 1000);
	for (int i = 1; i < 8; i += 2)
		assert_int_equal(kmem_buddy_free(b, offs[i]), 0);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_stats(b, &st);
	assert_int_equal(st.unusable_index[3], 0);
	kmem_buddy_destroy(b);
}

static void test_buddy_unusable_index_mixed(void **state)
{
	struct kmem_buddy_stats st;
	struct kmem_buddy *b = mk(0, 16, 0);
	uint64_t a, c;

	(void)state;
	/* Take pages 0 and 8: free = 1 + 2 + 4 (from 0..8) + 1 + 2 + 4. */
	assert_int_equal(kmem_buddy_alloc_order(b, 0, &a), 0);
	assert_int_equal(kmem_buddy_alloc_within(b, 0, 8 * PS, 9 * PS, &c), 0);
	assert_int_equal(c, 8 * PS);
	kmem_buddy_stats(b, &st);
	assert_int_equal(st.free_bytes, 14 * PS);
	assert_int_equal(st.nr_free[0], 2);
	assert_int_equal(st.nr_free[1], 2);
	assert_int_equal(st.nr_free[2], 2);
	/* order 1: 2 of 14 pages unusable; order 2: 6 of 14; order 3: all. */
	assert_int_equal(st.unusable_index[1], 2 * 1000 / 14);
	assert_int_equal(st.unusable_index[2], 6 * 1000 / 14);
	assert_int_equal(st.unusable_index[3], 1000);
	assert_int_equal(kmem_buddy_free(b, a), 0);
	assert_int_equal(kmem_buddy_free(b, c), 0);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_destroy(b);
}

static void test_buddy_alloc_within_window(void **state)
{
	struct kmem_buddy *b = mk(0, 64, 0);
	uint64_t off;

	(void)state;
	/* An order-2 block inside [10, 30) pages: lowest aligned is 12. */
	assert_int_equal(kmem_buddy_alloc_within(b, 2, 10 * PS, 30 * PS, &off), 0);
	assert_int_equal(off, 12 * PS);
	assert_int_equal(kmem_buddy_check(b), 0);
	/* Window too small for an order-3 block: [13, 20) has no aligned 8. */
	assert_int_equal(kmem_buddy_alloc_within(b, 3, 13 * PS, 20 * PS, &off),
			 KMEM_ENOMEM);
	assert_int_equal(kmem_buddy_alloc_within(b, 3, 40 * PS, 48 * PS, &off), 0);
	assert_int_equal(off, 40 * PS);
	assert_int_equal(kmem_buddy_free(b, 12 * PS), 0);
	assert_int_equal(kmem_buddy_free(b, 40 * PS), 0);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_destroy(b);
}

static void test_buddy_meta_under_half_percent(void **state)
{
	/* 1 GiB of 4 KiB pages; the smallest folded range with the most
	 * padding (4,097 pages); 1 MiB, where the fixed part starts to
	 * count. */
	static const uint64_t sizes[] = { 262144, 4097, 256 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		struct kmem_buddy *b = mk(0, sizes[i], 0);
		uint64_t meta = kmem_buddy_meta_bytes(b);

		assert_true(meta * 200 <= sizes[i] * PS);	/* <= 0.5% */
		kmem_buddy_destroy(b);
	}
}

static void test_buddy_create_fault_injection(void **state)
{
	struct kmem_buddy_params p = { .npages = 100, .page_size = PS };
	long live = kmem_fault_live();

	(void)state;
	for (unsigned long n = 1;; n++) {
		struct kmem_buddy *b = NULL;
		int rc;

		kmem_fault_fail_nth(n);
		rc = kmem_buddy_create(&p, &b);
		if (!kmem_fault_fired()) {
			kmem_fault_fail_nth(0);
			assert_int_equal(rc, 0);
			kmem_buddy_destroy(b);
			break;
		}
		assert_int_equal(rc, KMEM_ENOMETA);
		assert_null(b);
		assert_int_equal(kmem_fault_live(), live);
	}
	assert_int_equal(kmem_fault_live(), live);
}

/* Claiming rebuilds exactly what allocations left, in any order. */
static void claim_run(uint64_t npages, uint64_t maxpages)
{
	uint64_t seed = tu_seed("buddy claim"), rng = seed;
	struct kmem_buddy *a = mk(0, npages, 0), *b = mk(0, npages, 0);
	struct kmem_buddy_stats sa, sb;
	uint64_t off[64], len[64];
	int n = 0;

	/* A history of exact and block allocations with frees in between. */
	for (int i = 0; i < 200 && n < 64; i++) {
		uint64_t pages = 1 + tu_below(&rng, maxpages), o;

		if (n && tu_below(&rng, 3) == 0) {
			int j = (int)tu_below(&rng, (uint64_t)n);

			assert_int_equal(kmem_buddy_free(a, off[j]), 0);
			off[j] = off[--n];
			len[j] = len[n];
			continue;
		}
		if (kmem_buddy_alloc_exact(a, pages * PS, &o) == 0) {
			off[n] = o;
			len[n++] = pages * PS;
		}
	}
	/* Claim them into a fresh allocator, in reverse order. */
	for (int j = n - 1; j >= 0; j--)
		assert_int_equal(kmem_buddy_claim(b, off[j], len[j]), 0);
	assert_int_equal(kmem_buddy_check(b), 0);
	kmem_buddy_stats(a, &sa);
	kmem_buddy_stats(b, &sb);
	assert_int_equal(sa.free_bytes, sb.free_bytes);
	for (int j = 0; j < n; j++) {
		uint64_t sz;

		assert_int_equal(kmem_buddy_alloc_size_of(b, off[j], &sz), 0);
		assert_int_equal(sz, len[j]);
	}
	/* Claiming something in use, or misplaced, changes nothing. */
	if (n) {
		assert_int_equal(kmem_buddy_claim(b, off[0], len[0]), KMEM_EBUSY);
		kmem_buddy_stats(b, &sa);
		assert_int_equal(kmem_buddy_claim(b, 1 * PS, 2 * PS), KMEM_EMISALIGNED);
		assert_int_equal(kmem_buddy_claim(b, (npages + 88) * PS, PS),
				 KMEM_ERANGE);
		assert_int_equal(kmem_buddy_claim(b, 0, 0), KMEM_EZEROSIZE);
		kmem_buddy_stats(b, &sb);
		assert_memory_equal(&sa, &sb, sizeof(sa));
	}
	for (int j = 0; j < n; j++)
		assert_int_equal(kmem_buddy_free_exact(b, off[j], len[j]), 0);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_destroy(a);
	kmem_buddy_destroy(b);
}

static void test_buddy_claim_rebuilds_state(void **state)
{
	(void)state;
	claim_run(512, 24);
	/* Large enough for the folded record layout, and not a multiple of
	 * its 256-record blocks. */
	claim_run(70001, 1500);
}

/* The worked case: an exact allocation whose tail pages were reused. */
static void test_buddy_claim_exact_with_reused_tail(void **state)
{
	struct kmem_buddy *b = mk(0, 128, 0);
	uint64_t off;

	(void)state;
	/* B (16 pages at 48) claimed first, then A (33 pages at 0). */
	assert_int_equal(kmem_buddy_claim(b, 48 * PS, 16 * PS), 0);
	assert_int_equal(kmem_buddy_claim(b, 0, 33 * PS), 0);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_int_equal(kmem_buddy_free_bytes(b), (128 - 49) * PS);
	assert_int_equal(kmem_buddy_alloc_order(b, 3, &off), 0);
	assert_int_equal(off, 40 * PS);
	assert_int_equal(kmem_buddy_free(b, off), 0);
	assert_int_equal(kmem_buddy_free(b, 0), 0);
	assert_int_equal(kmem_buddy_free(b, 48 * PS), 0);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_destroy(b);
}

/* A block placed for a larger alignment, trimmed to a few pages, is a
 * consistent exact (or plain) allocation of its own rounded order. */
static void test_buddy_trim_of_an_oversized_block(void **state)
{
	struct kmem_buddy *b = mk(0, 128, 0);
	uint64_t off, sz;

	(void)state;
	assert_int_equal(kmem_buddy_alloc_order(b, 6, &off), 0);
	assert_int_equal(kmem_buddy_trim(b, off, 3 * PS), 0);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_int_equal(kmem_buddy_alloc_size_of(b, off, &sz), 0);
	assert_int_equal(sz, 3 * PS);
	assert_int_equal(kmem_buddy_free_bytes(b), 125 * PS);
	assert_int_equal(kmem_buddy_free(b, off), 0);
	assert_true(kmem_buddy_is_pristine(b));
	/* Trimmed to a power of two: a plain block of that order. */
	assert_int_equal(kmem_buddy_alloc_order(b, 6, &off), 0);
	assert_int_equal(kmem_buddy_trim(b, off, 4 * PS), 0);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_int_equal(kmem_buddy_free_exact(b, off, 4 * PS), 0);
	assert_true(kmem_buddy_is_pristine(b));
	kmem_buddy_destroy(b);
}

/* ------------------------------------------------------------ model test */

struct live {
	uint64_t off, pages;
	int exact;
};

static void model_run(uint64_t npages, uint64_t base, uint64_t ops,
		      unsigned max_order)
{
	uint64_t seed = tu_seed("buddy model"), rng = seed;
	struct kmem_buddy *b = mk(base, npages, max_order);
	unsigned maxo = kmem_buddy_max_order(b);
	struct live *lv = calloc(npages, sizeof(*lv));
	uint8_t *owned = calloc(npages, 1);
	uint64_t nlive = 0, used = 0;

	assert_non_null(lv);
	assert_non_null(owned);
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t r = tu_below(&rng, 100);

		if (nlive && (r < 45 || nlive == npages)) {
			uint64_t j = tu_below(&rng, nlive);
			struct live l = lv[j];

			if (l.exact)
				assert_int_equal(kmem_buddy_free_exact(b, l.off,
					l.pages * PS), 0);
			else
				assert_int_equal(kmem_buddy_free(b, l.off), 0);
			/* A second free is always an error. */
			assert_true(kmem_buddy_free(b, l.off) < 0);
			memset(owned + (l.off - base) / PS, 0, l.pages);
			used -= l.pages;
			lv[j] = lv[--nlive];
		} else {
			unsigned k = (unsigned)tu_below(&rng, maxo / 2 + 2);
			uint64_t pages, off;
			int exact = r >= 80, rc;

			if (exact) {
				pages = 1 + tu_below(&rng, (1ull << k) + 3);
				rc = kmem_buddy_alloc_exact(b, pages * PS - tu_below(&rng, PS), &off);
			} else {
				pages = 1ull << k;
				rc = kmem_buddy_alloc_order(b, k, &off);
			}
			if (rc == KMEM_ENOMEM) {
				assert_true(kmem_buddy_largest_free(b) <
					    (1ull << kmem_log2_ceil(pages)) * PS);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_true(off >= base);
			assert_true(off + pages * PS <= base + npages * PS);
			/* Aligned to the rounded-up block. */
			assert_int_equal(((off - base) / PS) %
					 (1ull << kmem_log2_ceil(pages)), 0);
			for (uint64_t p = 0; p < pages; p++) {
				assert_int_equal(owned[(off - base) / PS + p], 0);
				owned[(off - base) / PS + p] = 1;
			}
			lv[nlive++] = (struct live){ off, pages, exact };
			used += pages;
		}
		assert_int_equal(kmem_buddy_free_bytes(b), (npages - used) * PS);
		if (i % 512 == 0)
			assert_int_equal(kmem_buddy_check(b), 0);
	}
	assert_int_equal(kmem_buddy_check(b), 0);
	while (nlive) {
		struct live l = lv[--nlive];

		assert_int_equal(kmem_buddy_free(b, l.off), 0);
	}
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_true(kmem_buddy_is_pristine(b));
	free(lv);
	free(owned);
	kmem_buddy_destroy(b);
}

static void test_buddy_model_random(void **state)
{
	(void)state;
	model_run(1000, 32 * PS, tu_ops(1000000), 0);
}

static void test_buddy_model_small_range(void **state)
{
	(void)state;
	model_run(37, 0, tu_ops(1000000) / 10, 0);
}

/* Ranges of 4,096 pages and more keep their records in the folded layout
 * (slot() in buddy.c); these are not powers of two, end inside a 256-record
 * block, and one caps the order below the range's. */
static void test_buddy_model_folded_layout(void **state)
{
	(void)state;
	model_run(12365, 8 * PS, tu_ops(1000000) / 2, 0);
	model_run(4133, 0, tu_ops(1000000) / 4, 5);
}

/*
 * Every page of a folded range taken one by one, then given back: the last
 * page (4096) is a lone block whose buddy would be page npages, the merge
 * loop's sentinel record; all merges back to the carved maximal blocks.
 */
static void test_buddy_folded_every_page(void **state)
{
	const uint64_t n = 4097;
	struct kmem_buddy *b = mk(0, n, 0);
	uint8_t *seen = calloc(n, 1);
	uint64_t off;

	(void)state;
	assert_non_null(seen);
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(kmem_buddy_alloc_order(b, 0, &off), 0);
		assert_true(off / PS < n);
		assert_int_equal(seen[off / PS], 0);
		seen[off / PS] = 1;
	}
	assert_int_equal(kmem_buddy_alloc_order(b, 0, &off), KMEM_ENOMEM);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_int_equal(kmem_buddy_free(b, 4096 * PS), 0);
	assert_int_equal(kmem_buddy_check(b), 0);
	/* Odd pages first, so every even page's free merges up the tree. */
	for (uint64_t i = 1; i < 4096; i += 2)
		assert_int_equal(kmem_buddy_free(b, i * PS), 0);
	for (uint64_t i = 0; i < 4096; i += 2)
		assert_int_equal(kmem_buddy_free(b, i * PS), 0);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_true(kmem_buddy_is_pristine(b));
	assert_int_equal(kmem_buddy_largest_free(b), 4096 * PS);
	/* Order 0 takes the lone page first; the next one splits the
	 * 4096-page block 12 levels, and its free merges them all back. */
	assert_int_equal(kmem_buddy_alloc_order(b, 0, &off), 0);
	assert_int_equal(off, 4096 * PS);
	assert_int_equal(kmem_buddy_alloc_order(b, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_int_equal(kmem_buddy_free(b, 0), 0);
	assert_int_equal(kmem_buddy_free(b, 4096 * PS), 0);
	assert_true(kmem_buddy_is_pristine(b));
	/* A window deep inside the range. */
	assert_int_equal(kmem_buddy_alloc_within(b, 3, 3001 * PS, 3100 * PS,
						 &off), 0);
	assert_int_equal(off, 3008 * PS);
	assert_int_equal(kmem_buddy_check(b), 0);
	assert_int_equal(kmem_buddy_free(b, off), 0);
	assert_true(kmem_buddy_is_pristine(b));
	free(seen);
	kmem_buddy_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buddy_create_carves_maximal_blocks),
		cmocka_unit_test(test_buddy_create_rejects_bad_params),
		cmocka_unit_test(test_buddy_textbook_256k_21k),
		cmocka_unit_test(test_buddy_blocks_naturally_aligned),
		cmocka_unit_test(test_buddy_exact_costs_exact_pages),
		cmocka_unit_test(test_buddy_free_errors_change_nothing),
		cmocka_unit_test(test_buddy_enomem_and_largest),
		cmocka_unit_test(test_buddy_unusable_index_mixed),
		cmocka_unit_test(test_buddy_alloc_within_window),
		cmocka_unit_test(test_buddy_meta_under_half_percent),
		cmocka_unit_test(test_buddy_create_fault_injection),
		cmocka_unit_test(test_buddy_claim_rebuilds_state),
		cmocka_unit_test(test_buddy_claim_exact_with_reused_tail),
		cmocka_unit_test(test_buddy_trim_of_an_oversized_block),
		cmocka_unit_test(test_buddy_model_random),
		cmocka_unit_test(test_buddy_model_small_range),
		cmocka_unit_test(test_buddy_model_folded_layout),
		cmocka_unit_test(test_buddy_folded_every_page),
	};

	return cmocka_run_group_tests_name("buddy", tests, NULL, NULL);
}
