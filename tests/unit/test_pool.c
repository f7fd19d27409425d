/*
 * test_pool.c - pools: runs become arenas, contiguity by construction,
 * scatter allocations, zones; real hugepages checked against pagemap.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "kmem/error.h"
#include "kmem/fault.h"
#include "kmem/pool.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* Fake frames for 16 pages of 4 KiB: two physical runs of 8 pages, the
 * first below 4 GiB, the second above. */
static int two_runs(void *ctx, uint64_t page, uint64_t *pa, int *node)
{
	(void)ctx;
	*pa = page < 8 ? 0x10000000ull + page * 4096 :
			 0x200000000ull + (page - 8) * 4096;
	*node = 0;
	return 0;
}

static struct kmem_pool *fake_pool(enum kmem_policy policy)
{
	struct kmem_pool_params p = {
		.size = 16 * 4 * KiB, .page_size = KMEM_BACKING_4K,
		.allow_nohuge = true, .policy = policy, .frame = two_runs,
	};
	struct kmem_pool *pool = NULL;
	char msg[KMEM_MSG_MAX] = "";
	int rc = kmem_pool_create(&p, &pool, msg, sizeof(msg));

	if (rc)
		fprintf(stderr, "pool: %s\n", msg);
	assert_int_equal(rc, 0);
	return pool;
}

static uint64_t kmem_heap_free_bytes_for_test(struct kmem_pool *p)
{
	struct kmem_heap_stats st;

	kmem_heap_stats(kmem_pool_heap(p), &st);
	return st.free_bytes;
}

static void test_pool_runs_become_arenas(void **state)
{
	struct kmem_pool *p = fake_pool(KMEM_POLICY_BUDDY);
	struct kmem_pool_req req = { .size = 32 * KiB, .node = -1 };
	struct kmem_pool_buf a, b;
	struct kmem_pool_stats st;
	char msg[KMEM_MSG_MAX];

	(void)state;
	kmem_pool_stats(p, &st);
	assert_int_equal(st.heap.narenas, 2);
	assert_int_equal(st.backing.nruns, 2);
	assert_int_equal(st.backing.iova, KMEM_IOVA_PA);
	/* A whole run, physically contiguous, phys reported. */
	assert_int_equal(kmem_pool_alloc(p, &req, &a, msg, sizeof(msg)), 0);
	assert_int_equal(a.off, 0);
	assert_int_equal(a.len, 32 * KiB);
	assert_int_equal(a.phys, 0x10000000ull);
	assert_true(a.contiguous);
	assert_int_equal(a.nsegs, 1);
	assert_int_equal(kmem_pool_alloc(p, &req, &b, msg, sizeof(msg)), 0);
	assert_int_equal(b.off, 32 * KiB);
	assert_int_equal(b.phys, 0x200000000ull);
	assert_int_equal(kmem_pool_free(p, &a), 0);
	assert_int_equal(kmem_pool_free(p, &b), 0);
	/* 48 KiB can never be contiguous here: the largest run is 32. */
	req.size = 48 * KiB;
	assert_int_equal(kmem_pool_alloc(p, &req, &a, msg, sizeof(msg)),
			 KMEM_ECONSTRAINT);
	assert_string_equal(msg, "no contiguous block of 48 KiB can exist in this pool");
	assert_int_equal(kmem_pool_check(p), 0);
	assert_true(kmem_heap_is_pristine(kmem_pool_heap(p)));
	kmem_pool_destroy(p);
}

static void test_pool_scatter_gathers_pieces(void **state)
{
	struct kmem_pool *p = fake_pool(KMEM_POLICY_BUDDY);
	struct kmem_pool_req whole = { .size = 32 * KiB, .node = -1 };
	struct kmem_pool_req page = { .size = 4 * KiB, .node = -1 };
	struct kmem_pool_req req = {
		.size = 56 * KiB, .node = -1, .flags = KMEM_POOL_SCATTER,
	};
	struct kmem_heap_stats before, after;
	struct kmem_pool_buf x, y, a, b;
	char msg[KMEM_MSG_MAX];
	uint64_t total = 0;

	(void)state;
	/* Run 0 free (32 KiB), run 1 with one page taken (28 KiB). */
	assert_int_equal(kmem_pool_alloc(p, &whole, &x, msg, sizeof(msg)), 0);
	assert_int_equal(kmem_pool_alloc(p, &page, &y, msg, sizeof(msg)), 0);
	assert_int_equal(y.off, 32 * KiB);
	assert_int_equal(kmem_pool_free(p, &x), 0);

	/* 56 KiB can never be one block here, but can be gathered. */
	assert_int_equal(kmem_pool_alloc(p, &req, &a, msg, sizeof(msg)), 0);
	assert_true(a.nsegs >= 2);
	assert_false(a.contiguous);
	assert_int_equal(a.len, 56 * KiB);
	assert_int_equal(kmem_pool_buf_seg(&a, 0)->len, 32 * KiB);
	for (size_t i = 0; i < a.nsegs; i++) {
		const struct kmem_pool_seg *s = kmem_pool_buf_seg(&a, i);
		uint64_t pa;

		assert_int_equal(kmem_pool_phys(p, s->off, &pa), 0);
		assert_int_equal(s->phys, pa);
		assert_int_equal(kmem_backing_contiguous(kmem_pool_backing(p),
							 s->off, s->len), 1);
		total += s->len;
	}
	assert_int_equal(total, 56 * KiB);
	assert_int_equal(kmem_pool_check(p), 0);
	assert_int_equal(kmem_heap_free_bytes_for_test(p), 4 * KiB);

	/* Asking for more than is free fails and gives every piece back. */
	kmem_heap_stats(kmem_pool_heap(p), &before);
	req.size = 8 * KiB;
	assert_int_equal(kmem_pool_alloc(p, &req, &b, msg, sizeof(msg)), KMEM_ENOMEM);
	assert_non_null(strstr(msg, "cannot gather 8 KiB"));
	kmem_heap_stats(kmem_pool_heap(p), &after);
	assert_memory_equal(&before, &after, sizeof(before));

	assert_int_equal(kmem_pool_free(p, &a), 0);
	assert_int_equal(kmem_pool_free(p, &y), 0);
	assert_true(kmem_heap_is_pristine(kmem_pool_heap(p)));
	kmem_pool_destroy(p);
}

static void test_pool_dma32_from_fake_zones(void **state)
{
	struct kmem_pool *p = fake_pool(KMEM_POLICY_BUDDY);
	struct kmem_pool_req req = {
		.size = 8 * KiB, .node = -1, .flags = KMEM_ALLOC_DMA32,
	};
	struct kmem_pool_buf a[5];
	char msg[KMEM_MSG_MAX];

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(kmem_pool_alloc(p, &req, &a[i], msg, sizeof(msg)), 0);
		assert_true(a[i].phys + a[i].len <= 4 * GiB);
	}
	assert_int_equal(kmem_pool_alloc(p, &req, &a[4], msg, sizeof(msg)), KMEM_ENOMEM);
	assert_string_equal(msg, "no contiguous block of 8 KiB below 4 GiB; largest is 0 B");
	req.flags = 0;
	assert_int_equal(kmem_pool_alloc(p, &req, &a[4], msg, sizeof(msg)), 0);
	assert_true(a[4].phys >= 4 * GiB);
	for (int i = 0; i < 5; i++)
		assert_int_equal(kmem_pool_free(p, &a[i]), 0);
	kmem_pool_destroy(p);
}

static void test_pool_nohuge_fallback_is_va(void **state)
{
	struct kmem_pool_params pp = {
		.size = 4 * MiB, .page_size = KMEM_BACKING_4K, .allow_nohuge = true,
	};
	struct kmem_pool_req req = { .size = 1 * MiB, .node = -1, .flags = KMEM_ALLOC_ZERO };
	struct kmem_pool *p;
	struct kmem_pool_buf a;
	struct kmem_pool_stats st;
	char msg[KMEM_MSG_MAX];
	uint64_t pa;

	(void)state;
	assert_int_equal(kmem_pool_create(&pp, &p, msg, sizeof(msg)), 0);
	kmem_pool_stats(p, &st);
	assert_int_equal(st.backing.kind, KMEM_BACKING_NOHUGE);
	assert_int_equal(st.backing.iova, KMEM_IOVA_VA);
	assert_int_equal(st.heap.narenas, 1);
	assert_int_equal(kmem_pool_alloc(p, &req, &a, msg, sizeof(msg)), 0);
	assert_int_equal(a.phys, 0);
	assert_false(a.contiguous);
	assert_int_equal(kmem_pool_phys(p, a.off, &pa), KMEM_EPERM);
	/* The memory is real: a pattern reads back. */
	unsigned char *mem = kmem_backing_addr(kmem_pool_backing(p));
	memset(mem + a.off, 0x5A, a.len);
	assert_int_equal(mem[a.off + a.len - 1], 0x5A);
	assert_int_equal(kmem_pool_free(p, &a), 0);
	req.flags = KMEM_ALLOC_DMA32;
	assert_int_equal(kmem_pool_alloc(p, &req, &a, msg, sizeof(msg)), KMEM_ECONSTRAINT);
	assert_non_null(strstr(msg, "iova mode va"));
	kmem_pool_destroy(p);
}

/* ---------------------------------------------------- real hugepages */

static long saved_nr = -1;
static long added_nr;	/* what reserve_huge added, given back by restore */

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fprintf(f, "%ld\n", v) < 0;
	return (fclose(f) || rc) ? -1 : 0;
}

#define NR_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define FREE_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

static int reserve_huge(void **state)
{
	(void)state;
	saved_nr = read_long(NR_2M);
	if (saved_nr < 0 || geteuid() != 0)
		return 0;
	if (write_long(NR_2M, saved_nr + 16) == 0)
		added_nr = read_long(NR_2M) - saved_nr;
	return 0;
}

static int restore_huge(void **state)
{
	(void)state;
	/* Give back what was added, not an absolute count: others may
	 * reserve pages meanwhile. */
	if (added_nr > 0 && geteuid() == 0) {
		long now = read_long(NR_2M);

		write_long(NR_2M, now > added_nr ? now - added_nr : 0);
	}
	return 0;
}

/* Physical address of a virtual one, read from pagemap by the test. */
static uint64_t pagemap_pa(const void *va)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0, v = (uint64_t)(uintptr_t)va;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &e, 8, (off_t)(v / 4096 * 8)), 8);
	close(fd);
	assert_true(e >> 63);	/* present */
	return (e & ((1ull << 55) - 1)) * 4096 + v % 4096;
}

static void test_pool_hugepages_physically_contiguous(void **state)
{
	struct kmem_pool_params pp = { .size = 16 * MiB, .page_size = KMEM_BACKING_2M };
	struct kmem_pool_req req = { .size = 8 * MiB, .node = -1 };
	struct kmem_pool *p;
	struct kmem_pool_buf a;
	struct kmem_pool_stats st;
	char msg[KMEM_MSG_MAX];
	int rc;

	(void)state;
	if (geteuid() != 0 || read_long(FREE_2M) < 8) {
		printf("SKIPPED: needs root and 8 free 2 MiB hugepages "
		       "(euid %d, free %ld)\n", (int)geteuid(), read_long(FREE_2M));
		skip();
	}
	rc = kmem_pool_create(&pp, &p, msg, sizeof(msg));
	if (rc)
		fprintf(stderr, "pool: %s\n", msg);
	assert_int_equal(rc, 0);
	kmem_pool_stats(p, &st);
	assert_int_equal(st.backing.kind, KMEM_BACKING_MEMFD_HUGETLB);
	assert_int_equal(st.backing.iova, KMEM_IOVA_PA);
	unsigned char *mem = kmem_backing_addr(kmem_pool_backing(p));
	printf("pool: %zu runs, largest %llu MiB\n", st.backing.nruns,
	       (unsigned long long)(st.backing.largest_run / MiB));

	rc = kmem_pool_alloc(p, &req, &a, msg, sizeof(msg));
	if (st.backing.largest_run >= 8 * MiB) {
		assert_int_equal(rc, 0);
		assert_true(a.contiguous);
		/* Every 4 KiB page, from pagemap, follows the one before. */
		assert_int_equal(pagemap_pa(mem + a.off), a.phys);
		for (uint64_t o = 4096; o < a.len; o += 4096)
			assert_int_equal(pagemap_pa(mem + a.off + o), a.phys + o);
		memset(mem + a.off, 0xC3, a.len);
		assert_int_equal(mem[a.off + a.len / 2], 0xC3);
		assert_int_equal(kmem_pool_free(p, &a), 0);
	} else {
		/* The kernel gave no 8 MiB run: the pool says so. */
		assert_int_equal(rc, KMEM_ECONSTRAINT);
		printf("no 8 MiB physical run in this pool: %s\n", msg);
	}

	/* A scatter list's segments match pagemap too. */
	req.flags = KMEM_POOL_SCATTER;
	req.size = 16 * MiB;
	rc = kmem_pool_alloc(p, &req, &a, msg, sizeof(msg));
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < a.nsegs; i++) {
		const struct kmem_pool_seg *s = kmem_pool_buf_seg(&a, i);

		for (uint64_t o = 0; o < s->len; o += 2 * MiB)
			assert_int_equal(pagemap_pa(mem + s->off + o), s->phys + o);
	}
	assert_int_equal(kmem_pool_free(p, &a), 0);

	/* DMA32: below 4 GiB by pagemap, or a clear refusal. */
	req.flags = KMEM_ALLOC_DMA32;
	req.size = 2 * MiB;
	rc = kmem_pool_alloc(p, &req, &a, msg, sizeof(msg));
	if (rc == 0) {
		assert_true(pagemap_pa(mem + a.off) + a.len <= 4 * GiB);
		assert_int_equal(kmem_pool_free(p, &a), 0);
	} else {
		assert_int_equal(rc, KMEM_ECONSTRAINT);
		assert_non_null(strstr(msg, "below 4 GiB"));
		printf("no hugepage below 4 GiB here: %s\n", msg);
	}
	assert_int_equal(kmem_pool_check(p), 0);
	kmem_pool_destroy(p);
}

static void test_pool_shortfall_message(void **state)
{
	struct kmem_pool_params pp = { .size = 1 * GiB * 64, .page_size = KMEM_BACKING_2M };
	struct kmem_pool *p = NULL;
	char msg[KMEM_MSG_MAX] = "";
	long live = kmem_fault_live();

	(void)state;
	assert_int_equal(kmem_pool_create(&pp, &p, msg, sizeof(msg)), KMEM_ENOHUGE);
	assert_null(p);
	assert_non_null(strstr(msg, "32768"));
	assert_non_null(strstr(msg, "nr_hugepages"));
	assert_int_equal(kmem_fault_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_runs_become_arenas),
		cmocka_unit_test(test_pool_scatter_gathers_pieces),
		cmocka_unit_test(test_pool_dma32_from_fake_zones),
		cmocka_unit_test(test_pool_nohuge_fallback_is_va),
		cmocka_unit_test(test_pool_hugepages_physically_contiguous),
		cmocka_unit_test(test_pool_shortfall_message),
	};

	return cmocka_run_group_tests_name("pool", tests, reserve_huge,
					   restore_huge);
}
