/*
 * test_arena.c - the request arena (daemon/arena.c): alignment, nested
 * marks, resets that keep one chunk and grow it to the high-water mark,
 * huge cycles that leave nothing behind, and protobuf-c unpacking into it.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "kmem/error.h"
#include "arena.h"
#include "frame.h"

#define KEEP (1u << 20)

static void test_arena_alloc_aligned_and_distinct(void **state)
{
	struct arena a;
	unsigned char *p[100];

	(void)state;
	arena_init(&a, 4096, KEEP);
	for (size_t i = 0; i < 100; i++) {
		p[i] = arena_alloc(&a, i * 7 + 1);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % alignof(max_align_t), 0);
		memset(p[i], (int)i, i * 7 + 1);
	}
	/* Nothing overlapped: every byte still holds its writer's value. */
	for (size_t i = 0; i < 100; i++)
		for (size_t j = 0; j < i * 7 + 1; j++)
			assert_int_equal(p[i][j], (unsigned char)i);
	assert_non_null(arena_alloc(&a, 0));
	assert_null(arena_alloc_array(&a, SIZE_MAX / 2, 4));
	assert_null(arena_alloc(&a, SIZE_MAX));
	arena_fini(&a);
}

static void test_arena_mark_release_nests(void **state)
{
	struct arena a;
	struct arena_mark m1, m2;
	void *x, *y, *z;

	(void)state;
	arena_init(&a, 1024, KEEP);
	x = arena_alloc(&a, 100);
	m1 = arena_mark(&a);
	y = arena_alloc(&a, 100);
	m2 = arena_mark(&a);
	/* Past the first chunk: a temporary one is pushed. */
	z = arena_alloc(&a, 5000);
	assert_non_null(z);
	assert_int_equal(a.in_use, 112 + 112 + 5008);
	arena_release(&a, m2);
	assert_int_equal(a.in_use, 224);
	/* The space after the mark is handed out again. */
	assert_ptr_equal(arena_alloc(&a, 16), (char *)y + 112);
	arena_release(&a, m1);
	assert_ptr_equal(arena_alloc(&a, 1), y);
	assert_ptr_equal((char *)x + 112, y);
	arena_fini(&a);
}

static void test_arena_reset_keeps_and_grows(void **state)
{
	struct arena a;
	void *first;

	(void)state;
	arena_init(&a, 1024, KEEP);
	assert_int_equal(arena_kept(&a), 1024);
	first = arena_alloc(&a, 10);
	arena_reset(&a);
	/* The steady state: the same chunk, from its start. */
	assert_ptr_equal(arena_alloc(&a, 10), first);
	arena_reset(&a);
	/* A cycle of 3 x 1000 bytes outgrows it; the reset makes the kept
	 * chunk hold the whole cycle. */
	for (int i = 0; i < 3; i++)
		assert_non_null(arena_alloc(&a, 1000));
	assert_int_equal(a.high, 3 * 1008);
	arena_reset(&a);
	assert_int_equal(arena_kept(&a), 3 * 1008);
	assert_int_equal(a.in_use, 0);
	assert_int_equal(a.high, 0);
	for (int i = 0; i < 3; i++)
		assert_non_null(arena_alloc(&a, 1000));
	/* All of it in the one chunk: nothing above the bottom. */
	assert_int_equal(arena_kept(&a), 3 * 1008);
	arena_reset(&a);
	/* Smaller cycles never shrink it. */
	assert_non_null(arena_alloc(&a, 8));
	arena_reset(&a);
	assert_int_equal(arena_kept(&a), 3 * 1008);
	arena_fini(&a);
	assert_int_equal(arena_kept(&a), 0);
}

static void test_arena_huge_cycle_left_behind(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a, 1024, 64 << 10);
	assert_non_null(arena_alloc(&a, 1 << 20));
	assert_non_null(arena_alloc(&a, 100));
	arena_reset(&a);
	/* More than keep_max at once: the temporary chunks went and the
	 * kept one is as it was. */
	assert_int_equal(arena_kept(&a), 1024);
	arena_fini(&a);
}

static void test_arena_starts_empty(void **state)
{
	struct arena a;
	void *p;

	(void)state;
	/* No first chunk (as when its malloc fails): the first allocation
	 * makes one, and the reset keeps the cycle's size. */
	arena_init(&a, 0, KEEP);
	assert_int_equal(arena_kept(&a), 0);
	assert_non_null(arena_alloc(&a, 0));
	p = arena_alloc(&a, 300);
	assert_non_null(p);
	arena_reset(&a);
	assert_true(arena_kept(&a) >= 304);
	assert_ptr_equal(arena_alloc(&a, 300), p);
	arena_fini(&a);
}

/* A request unpacked into the arena reads back exactly, and the arena
 * keeps enough after the reset to unpack it again in place. */
static void test_arena_unpacks_requests(void **state)
{
	static uint64_t ids[2000];
	Kmem__Request q = KMEM__REQUEST__INIT, *u;
	Kmem__FreeBatch fb = KMEM__FREE_BATCH__INIT;
	struct kmem_frame_buf b;
	struct arena a;
	void *where = NULL;

	(void)state;
	for (size_t i = 0; i < 2000; i++)
		ids[i] = i * 1000003u;
	fb.ids = ids;
	fb.n_ids = 2000;
	q.seq = 77;
	q.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
	q.free_batch = &fb;
	kmem_frame_buf_init(&b, 0);
	assert_int_equal(kmem_frame_pack_request(&b, &q), 0);
	arena_init(&a, 1024, KEEP);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(kmem_frame_unpack_request(b.data + KMEM_FRAME_HDR,
				 b.len - KMEM_FRAME_HDR, arena_protobuf(&a), &u), 0);
		assert_int_equal(u->seq, 77);
		assert_int_equal(u->body_case, KMEM__REQUEST__BODY_FREE_BATCH);
		assert_int_equal(u->free_batch->n_ids, 2000);
		assert_memory_equal(u->free_batch->ids, ids, sizeof(ids));
		if (round == 1)
			where = u;
		if (round == 2)
			assert_ptr_equal(u, where);	/* the same kept chunk */
		arena_reset(&a);
	}
	/* Garbage fails cleanly: protobuf-c frees through the no-op free. */
	assert_int_equal(kmem_frame_unpack_request((const uint8_t *)"\x0a\xff", 2,
		arena_protobuf(&a), &u), KMEM_EINVAL);
	arena_reset(&a);
	arena_fini(&a);
	kmem_frame_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_alloc_aligned_and_distinct),
		cmocka_unit_test(test_arena_mark_release_nests),
		cmocka_unit_test(test_arena_reset_keeps_and_grows),
		cmocka_unit_test(test_arena_huge_cycle_left_behind),
		cmocka_unit_test(test_arena_starts_empty),
		cmocka_unit_test(test_arena_unpacks_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
