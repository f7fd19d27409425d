/*
 * test_backing.c - unit tests of lib/backing.c.
 *
 * Three kinds of test:
 *   - fake frames: a frame source gives 4 KiB pages made-up physical
 *     addresses and nodes, so runs, phys, contiguity, scatter lists and
 *     require_contiguous are checked exactly, anywhere, without root;
 *   - real hugepages (root): the test reserves pages by raising
 *     nr_hugepages, checks what the backing reports against its own reads
 *     of /proc/self/pagemap and get_mempolicy(2), and the teardown takes the
 *     pages back out of the pool on every path (it lowers nr_hugepages by
 *     as much as it raised it, so concurrent users of the pool are left
 *     alone);
 *   - errors: bad parameters, the shortfall message, refused mlock, no
 *     CAP_SYS_ADMIN, metadata fault injection - each checks that no fd,
 *     mapping or metadata leaked.
 * Tests that need what the machine cannot give skip and say why.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "testutil.h"
#include "kmem/backing.h"
#include "kmem/error.h"
#include "kmem/fault.h"

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define PS4K (4 * KiB)
#define HP2M (2 * MiB)

/* ------------------------------------------------------------ helpers */

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Mappings of memfds and of files under /tmp/kmem-*: the backings'.
 * (Counting every line would count the sanitizers' allocator too.) */
static int count_backing_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/memfd:") || strstr(line, "/tmp/kmem-");
	fclose(f);
	return n;
}

/* What must not leak: fds, mappings, metadata. */
struct leaks {
	int fds, maps;
	long meta;
};

static void leaks_save(struct leaks *l)
{
	l->fds = count_dir("/proc/self/fd");
	l->maps = count_backing_maps();
	l->meta = kmem_fault_live();
}

static void leaks_check(const struct leaks *l)
{
	assert_int_equal(count_dir("/proc/self/fd"), l->fds);
	assert_int_equal(count_backing_maps(), l->maps);
	assert_int_equal(kmem_fault_live(), l->meta);
}

/* A "Key:   123 kB" line of /proc/self/status, in bytes. */
static uint64_t status_kb(const char *key)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtoull(line + strlen(key) + 1, NULL, 10) * KiB;
	fclose(f);
	return v;
}

/* Hugepagesize from /proc/meminfo, in bytes. */
static uint64_t default_hugepage_size(void)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Hugepagesize:", 13))
			v = strtoull(line + 13, NULL, 10) * KiB;
	fclose(f);
	return v;
}

static bool has_cap(int cap)
{
	char line[256];
	uint64_t eff = 0;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			eff = strtoull(line + 7, NULL, 16);
	fclose(f);
	return eff & ((uint64_t)1 << cap);
}

/* The physical address behind va, read here and not by the library. */
static uint64_t pagemap_pa(const void *va)
{
	uint64_t e = 0, base = (uint64_t)sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &e, 8, (off_t)((uintptr_t)va / base * 8)), 8);
	close(fd);
	assert_true(e >> 63);	/* present */
	return (e & ((1ull << 55) - 1)) * base;
}

static int mempolicy_node(const void *va)
{
	int node = -1;

	if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, va,
		    MPOL_F_NODE | MPOL_F_ADDR))
		return -1;
	return node;
}

/* ------------------------------------------------- hugetlb pool control */

static uint64_t hp_get(uint64_t ps, const char *file)
{
	char path[160];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
		 (unsigned long long)(ps / KiB), file);
	f = fopen(path, "r");
	if (!f)
		return UINT64_MAX;
	if (fscanf(f, "%llu", &v) != 1)
		v = UINT64_MAX;
	fclose(f);
	return v;
}

static bool hp_set(uint64_t ps, uint64_t nr)
{
	char path[160];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages",
		 (unsigned long long)(ps / KiB));
	f = fopen(path, "w");
	if (!f)
		return false;
	ok = fprintf(f, "%llu\n", (unsigned long long)nr) > 0;
	return (fclose(f) == 0) && ok;
}

/* What a new reservation can get, as the library computes it. */
static uint64_t hp_avail(uint64_t ps)
{
	uint64_t fr = hp_get(ps, "free_hugepages");
	uint64_t rs = hp_get(ps, "resv_hugepages");
	uint64_t oc = hp_get(ps, "nr_overcommit_hugepages");
	uint64_t sp = hp_get(ps, "surplus_hugepages");
	uint64_t a = fr > rs ? fr - rs : 0;

	return a + (oc > sp ? oc - sp : 0);
}

/* Pages this test added to each pool; the teardown removes them. */
static long hp_added[2];

static int hp_slot(uint64_t ps)
{
	return ps == GiB;
}

/*
 * Make at least k pages of size ps available, raising nr_hugepages if
 * needed (root only).  False, with the reason printed, when impossible.
 */
static bool hp_reserve(uint64_t ps, uint64_t k)
{
	uint64_t nr = hp_get(ps, "nr_hugepages"), avail, now;

	if (nr == UINT64_MAX) {
		print_message("no %llu kB hugepage pool in sysfs\n",
			      (unsigned long long)(ps / KiB));
		return false;
	}
	avail = hp_avail(ps);
	if (avail >= k)
		return true;
	if (geteuid() != 0) {
		print_message("need root to reserve hugepages (%llu available, "
			      "%llu needed)\n", (unsigned long long)avail,
			      (unsigned long long)k);
		return false;
	}
	hp_set(ps, nr + (k - avail));
	now = hp_get(ps, "nr_hugepages");
	hp_added[hp_slot(ps)] += (long)(now - nr);
	if (hp_avail(ps) < k) {
		print_message("the kernel gave only %llu of %llu more %llu kB "
			      "hugepages\n", (unsigned long long)(now - nr),
			      (unsigned long long)(k - avail),
			      (unsigned long long)(ps / KiB));
		return false;
	}
	return true;
}

/* The hugetlbfs mount a test made, unmounted by the teardown. */
static char mounted_dir[64];

static int hp_restore(void **state)
{
	static const uint64_t sizes[2] = { HP2M, GiB };

	(void)state;
	if (mounted_dir[0]) {
		/* Lazily: a failed test may still hold the file open. */
		umount2(mounted_dir, MNT_DETACH);
		rmdir(mounted_dir);
		mounted_dir[0] = '\0';
	}
	kmem_fault_fail_nth(0);
	for (int i = 0; i < 2; i++) {
		uint64_t nr;

		if (!hp_added[i])
			continue;
		nr = hp_get(sizes[i], "nr_hugepages");
		hp_set(sizes[i], nr > (uint64_t)hp_added[i] ?
		       nr - (uint64_t)hp_added[i] : 0);
		hp_added[i] = 0;
	}
	return 0;
}

/* ------------------------------------------------------ fake frames */

struct fake {
	uint64_t pa[64];
	int node[64];
	uint64_t npages;	/* pages asked for so far */
	int fail_at;		/* page whose lookup fails, -1 none */
};

static int fake_frame(void *ctx, uint64_t page, uint64_t *pa, int *node)
{
	struct fake *f = ctx;

	f->npages = page + 1;
	if ((int)page == f->fail_at || page >= 64)
		return KMEM_EINVAL;
	*pa = f->pa[page];
	*node = f->node[page];
	return 0;
}

static struct kmem_backing_params fake_params(struct fake *f, uint64_t npages)
{
	struct kmem_backing_params p = {
		.size = npages * PS4K, .page_size = KMEM_BACKING_4K,
		.frame = fake_frame, .frame_ctx = f,
	};

	return p;
}

static struct kmem_backing *open_ok(const struct kmem_backing_params *p)
{
	struct kmem_backing *b = NULL;
	char msg[KMEM_MSG_MAX] = "";
	int rc = kmem_backing_open(p, &b, msg, sizeof(msg));

	if (rc)
		print_message("open: %s: %s\n", kmem_errname(rc), msg);
	assert_int_equal(rc, 0);
	assert_non_null(b);
	assert_int_equal(kmem_backing_check(b), 0);
	return b;
}

static void assert_run(const struct kmem_backing *b, size_t i, uint64_t off,
		       uint64_t len, uint64_t phys, int node, unsigned flags)
{
	struct kmem_backing_run r;

	assert_int_equal(kmem_backing_run(b, i, &r), 0);
	assert_int_equal(r.offset, off);
	assert_int_equal(r.length, len);
	assert_int_equal(r.phys, phys);
	assert_int_equal(r.node, node);
	assert_int_equal(r.flags, flags);
}

#define PHYS_DMA32 (KMEM_RUN_PHYS | KMEM_RUN_CONTIG | KMEM_RUN_DMA32)
#define PHYS_NORMAL (KMEM_RUN_PHYS | KMEM_RUN_CONTIG | KMEM_RUN_NORMAL)

/* ------------------------------------------------------ fake-frame tests */

static void test_backing_runs_split_on_physical_gaps(void **state)
{
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 8);
	struct kmem_backing *b;
	struct kmem_sg sg[4];
	size_t n = 0;
	uint64_t pa;

	(void)state;
	for (int i = 0; i < 8; i++)
		f.pa[i] = (i < 5 ? 0x10000000ull : 0x20000000ull - 5 * PS4K) +
			  i * PS4K;
	b = open_ok(&p);
	assert_int_equal(kmem_backing_kind(b), KMEM_BACKING_NOHUGE);
	assert_int_equal(kmem_backing_iova(b), KMEM_IOVA_PA);
	assert_int_equal(kmem_backing_page_size(b), PS4K);
	assert_int_equal(kmem_backing_npages(b), 8);
	assert_int_equal(kmem_backing_size(b), 8 * PS4K);
	assert_int_equal(kmem_backing_map_offset(b), 0);
	assert_int_equal(kmem_backing_nruns(b), 2);
	assert_run(b, 0, 0, 5 * PS4K, 0x10000000, 0, PHYS_DMA32);
	assert_run(b, 1, 5 * PS4K, 3 * PS4K, 0x20000000, 0, PHYS_DMA32);
	assert_int_equal(kmem_backing_largest_run(b), 5 * PS4K);
	struct kmem_backing_run r;
	assert_int_equal(kmem_backing_run(b, 2, &r), KMEM_ERANGE);

	assert_int_equal(kmem_backing_phys(b, 3 * PS4K + 17, &pa), 0);
	assert_int_equal(pa, 0x10000000 + 3 * PS4K + 17);
	assert_int_equal(kmem_backing_phys(b, 8 * PS4K - 1, &pa), 0);
	assert_int_equal(pa, 0x20000000 + 3 * PS4K - 1);
	pa = 7;
	assert_int_equal(kmem_backing_phys(b, 8 * PS4K, &pa), KMEM_ERANGE);
	assert_int_equal(pa, 7);

	assert_int_equal(kmem_backing_contiguous(b, 0, 5 * PS4K), 1);
	assert_int_equal(kmem_backing_contiguous(b, 0, 5 * PS4K + 1), 0);
	assert_int_equal(kmem_backing_contiguous(b, 4 * PS4K + 9, 100), 1);
	assert_int_equal(kmem_backing_contiguous(b, 5 * PS4K, 3 * PS4K), 1);
	assert_int_equal(kmem_backing_contiguous(b, 5 * PS4K, 0), KMEM_EZEROSIZE);
	assert_int_equal(kmem_backing_contiguous(b, 5 * PS4K, 3 * PS4K + 1),
			 KMEM_ERANGE);
	assert_int_equal(kmem_backing_contiguous(b, UINT64_MAX, 2), KMEM_ERANGE);

	/* Across the gap: two segments, cut exactly at page 5. */
	assert_int_equal(kmem_backing_sg(b, 3 * PS4K + 100, 3 * PS4K, sg, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sg[0].phys, 0x10000000 + 3 * PS4K + 100);
	assert_int_equal(sg[0].len, 2 * PS4K - 100);
	assert_int_equal(sg[1].phys, 0x20000000);
	assert_int_equal(sg[1].len, PS4K + 100);
	assert_int_equal(kmem_backing_sg(b, 0, 8 * PS4K, sg, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sg[0].len, 5 * PS4K);
	assert_int_equal(sg[1].len, 3 * PS4K);
	kmem_backing_close(b);
}

static void test_backing_runs_split_at_4gib(void **state)
{
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 4);
	struct kmem_backing *b;
	struct kmem_sg sg[2];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 4; i++)
		f.pa[i] = 4 * GiB - 2 * PS4K + i * PS4K;
	b = open_ok(&p);
	assert_int_equal(kmem_backing_nruns(b), 2);
	assert_run(b, 0, 0, 2 * PS4K, 4 * GiB - 2 * PS4K, 0, PHYS_DMA32);
	assert_run(b, 1, 2 * PS4K, 2 * PS4K, 4 * GiB, 0, PHYS_NORMAL);
	/* The zone split is not a physical one. */
	assert_int_equal(kmem_backing_contiguous(b, 0, 4 * PS4K), 1);
	assert_int_equal(kmem_backing_sg(b, PS4K, 2 * PS4K, sg, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sg[0].phys, 4 * GiB - PS4K);
	assert_int_equal(sg[0].len, 2 * PS4K);
	kmem_backing_close(b);
}

static void test_backing_runs_split_by_node(void **state)
{
	struct fake f = { .fail_at = -1, .node = { 0, 0, 1, 1, 1, 0 } };
	struct kmem_backing_params p = fake_params(&f, 6);
	struct kmem_backing *b;
	int node = 9;

	(void)state;
	for (int i = 0; i < 6; i++)
		f.pa[i] = 0x40000000 + i * PS4K;
	b = open_ok(&p);
	assert_int_equal(kmem_backing_nruns(b), 3);
	assert_run(b, 0, 0, 2 * PS4K, 0x40000000, 0, PHYS_DMA32);
	assert_run(b, 1, 2 * PS4K, 3 * PS4K, 0x40000000 + 2 * PS4K, 1, PHYS_DMA32);
	assert_run(b, 2, 5 * PS4K, PS4K, 0x40000000 + 5 * PS4K, 0, PHYS_DMA32);
	assert_int_equal(kmem_backing_node(b, 2 * PS4K, &node), 0);
	assert_int_equal(node, 1);
	assert_int_equal(kmem_backing_node(b, 6 * PS4K - 1, &node), 0);
	assert_int_equal(node, 0);
	assert_int_equal(kmem_backing_node(b, 6 * PS4K, &node), KMEM_ERANGE);
	assert_int_equal(kmem_backing_contiguous(b, 0, 6 * PS4K), 1);
	kmem_backing_close(b);
}

static void test_backing_sg_reports_needed_count(void **state)
{
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 6);
	struct kmem_backing *b;
	struct kmem_sg sg[3];
	size_t n = 0;

	(void)state;
	/* Every page on its own: descending addresses. */
	for (int i = 0; i < 6; i++)
		f.pa[i] = 0x80000000 - i * PS4K;
	b = open_ok(&p);
	assert_int_equal(kmem_backing_nruns(b), 6);
	assert_int_equal(kmem_backing_sg(b, 0, 6 * PS4K, NULL, 0, &n),
			 KMEM_ETOOBIG);
	assert_int_equal(n, 6);
	assert_int_equal(kmem_backing_sg(b, 10, 6 * PS4K - 10, sg, 3, &n),
			 KMEM_ETOOBIG);
	assert_int_equal(n, 6);
	assert_int_equal(sg[0].phys, 0x80000000 + 10);
	assert_int_equal(sg[0].len, PS4K - 10);
	assert_int_equal(sg[2].phys, 0x80000000 - 2 * PS4K);
	assert_int_equal(sg[2].len, PS4K);
	assert_int_equal(kmem_backing_sg(b, PS4K, 3 * PS4K, sg, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(kmem_backing_sg(b, 0, 0, sg, 3, &n), KMEM_EZEROSIZE);
	assert_int_equal(kmem_backing_sg(b, 0, 7 * PS4K, sg, 3, &n), KMEM_ERANGE);
	kmem_backing_close(b);
}

/* Frames that read as 0 (no CAP_SYS_ADMIN): mode "va", and says so. */
static void test_backing_unknown_frames_mean_va(void **state)
{
	struct fake f = { .fail_at = -1, .node = { 0, 0, 1, 1 } };
	struct kmem_backing_params p = fake_params(&f, 4);
	struct kmem_backing *b;
	struct kmem_sg sg[4];
	struct leaks l;
	char msg[KMEM_MSG_MAX] = "";
	uint64_t pa = 5;
	size_t n = 9;

	(void)state;
	b = open_ok(&p);
	assert_int_equal(kmem_backing_iova(b), KMEM_IOVA_VA);
	assert_string_equal(kmem_backing_iova_name(kmem_backing_iova(b)), "va");
	assert_int_equal(kmem_backing_phys(b, 0, &pa), KMEM_EPERM);
	assert_int_equal(pa, 5);
	assert_int_equal(kmem_backing_sg(b, 0, PS4K, sg, 4, &n), KMEM_EPERM);
	assert_int_equal(n, 9);
	assert_int_equal(kmem_backing_contiguous(b, 100, PS4K - 100), 1);
	assert_int_equal(kmem_backing_contiguous(b, 100, PS4K), 0);
	/* A nohuge backing in mode "va" is one arena; its pages' nodes
	 * differ, so the run's node is -1. */
	assert_int_equal(kmem_backing_nruns(b), 1);
	assert_run(b, 0, 0, 4 * PS4K, 0, -1, 0);
	kmem_backing_close(b);

	leaks_save(&l);
	p.require_contiguous = true;
	b = NULL;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EPERM);
	assert_null(b);
	assert_non_null(strstr(msg, "without physical addresses"));
	leaks_check(&l);
}

static void test_backing_require_contiguous_keeps_window(void **state)
{
	/* 4 pages wanted, 8 reserved; pages 3..6 are the only run of 4. */
	static const uint64_t pa[8] = {
		0x5000000, 0x9000000, 0x3000000, 0x7000000, 0x7001000,
		0x7002000, 0x7003000, 0x1000000,
	};
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 4);
	struct kmem_backing_info info;
	struct kmem_backing *b;
	struct stat st;
	uint8_t buf[16];

	(void)state;
	memcpy(f.pa, pa, sizeof(pa));
	p.require_contiguous = true;
	b = open_ok(&p);
	assert_int_equal(f.npages, 8);
	kmem_backing_info(b, &info);
	assert_int_equal(info.reserved_pages, 8);
	assert_int_equal(info.npages, 4);
	assert_int_equal(info.size, 4 * PS4K);
	assert_int_equal(info.map_offset, 3 * PS4K);
	assert_int_equal(info.nruns, 1);
	assert_int_equal(info.largest_run, 4 * PS4K);
	assert_true(info.sealed);
	assert_run(b, 0, 0, 4 * PS4K, 0x7000000, 0, PHYS_DMA32);
	/* The file keeps only the window: the head is a hole, the tail is
	 * cut off. */
	assert_int_equal(fstat(kmem_backing_fd(b), &st), 0);
	assert_int_equal(st.st_size, 7 * PS4K);
	assert_int_equal(st.st_blocks * 512, 4 * PS4K);
	/* The mapping is the window: what is written at offset 0 is at
	 * file offset map_offset. */
	memcpy(kmem_backing_addr(b), "window start", 12);
	memcpy((uint8_t *)kmem_backing_addr(b) + 4 * PS4K - 4, "end!", 4);
	assert_int_equal(pread(kmem_backing_fd(b), buf, 12, 3 * PS4K), 12);
	assert_memory_equal(buf, "window start", 12);
	assert_int_equal(pread(kmem_backing_fd(b), buf, 4, 7 * PS4K - 4), 4);
	assert_memory_equal(buf, "end!", 4);
	kmem_backing_close(b);
}

static void test_backing_require_contiguous_names_largest(void **state)
{
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 4);
	struct kmem_backing *b = NULL;
	char msg[KMEM_MSG_MAX] = "";
	struct leaks l;

	(void)state;
	/* Runs of 3, 2, 3 pages among the 8 reserved. */
	for (int i = 0; i < 8; i++)
		f.pa[i] = 0x10000000ull * (1 + (i >= 3) + (i >= 5)) + i * PS4K;
	p.require_contiguous = true;
	leaks_save(&l);
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_ENOMEM);
	assert_null(b);
	assert_string_equal(msg, "no physically contiguous run of 16 KiB among "
			    "8 reserved 4 KiB pages; the largest is 3 pages "
			    "(12 KiB)");
	leaks_check(&l);
}

static void test_backing_frame_source_errors(void **state)
{
	struct fake f = { .fail_at = 3 };
	struct kmem_backing_params p = fake_params(&f, 8);
	struct kmem_backing *b = NULL;
	char msg[KMEM_MSG_MAX] = "";
	struct leaks l;

	(void)state;
	for (int i = 0; i < 8; i++)
		f.pa[i] = 0x1000000 + i * PS4K;
	leaks_save(&l);
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_string_equal(msg, "the frame source failed for page 3");
	leaks_check(&l);

	f.fail_at = -1;
	f.pa[5] += 12;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_non_null(strstr(msg, "page 5 address 0x100500c"));
	assert_null(b);
	leaks_check(&l);
}

static void test_backing_names(void **state)
{
	(void)state;
	assert_string_equal(kmem_backing_kind_name(KMEM_BACKING_MEMFD_HUGETLB),
			    "memfd-hugetlb");
	assert_string_equal(kmem_backing_kind_name(KMEM_BACKING_HUGETLBFS),
			    "hugetlbfs");
	assert_string_equal(kmem_backing_kind_name(KMEM_BACKING_NOHUGE), "nohuge");
	assert_string_equal(kmem_backing_kind_name((enum kmem_backing_kind)7), "?");
	assert_string_equal(kmem_backing_iova_name(KMEM_IOVA_PA), "pa");
	assert_string_equal(kmem_backing_iova_name(KMEM_IOVA_VA), "va");
}

/* kmem_backing_phys is a table lookup: time it on random offsets. */
static void test_backing_phys_is_a_table_lookup(void **state)
{
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 64);
	struct kmem_backing *b;
	struct timespec t0, t1;
	uint64_t seed = tu_seed(__func__), sum = 0, pa, calls = 2000000;
	uint64_t *offs = malloc(4096 * sizeof(*offs));
	double ns;

	(void)state;
	assert_non_null(offs);
	for (int i = 0; i < 64; i++)
		f.pa[i] = 0x100000000ull + (uint64_t)(i ^ 5) * PS4K;
	b = open_ok(&p);
	for (int i = 0; i < 4096; i++)
		offs[i] = tu_below(&seed, 64 * PS4K);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < calls; i++) {
		kmem_backing_phys(b, offs[i & 4095], &pa);
		sum += pa;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	      (double)(t1.tv_nsec - t0.tv_nsec)) / (double)calls;
	print_message("kmem_backing_phys: %.1f ns per call (sum %llx)\n", ns,
		      (unsigned long long)sum);
	/* Loose on purpose (sanitizer builds, a busy machine): a pagemap
	 * read per call would cost microseconds. */
	assert_true(ns < 250.0);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(kmem_backing_phys(b, i * PS4K + 5, &pa), 0);
		assert_int_equal(pa, f.pa[i] + 5);
	}
	free(offs);
	kmem_backing_close(b);
}

/*
 * Random frame layouts (runs of random length, random jumps, some near
 * 4 GiB, random nodes) against a model computed page by page here.
 */
static void model_sg(const struct fake *f, uint64_t off, uint64_t len,
		     struct kmem_sg *out, size_t *n)
{
	*n = 0;
	while (len) {
		uint64_t pa = f->pa[off / PS4K] + off % PS4K;
		uint64_t chunk = PS4K - off % PS4K;

		if (chunk > len)
			chunk = len;
		if (*n && out[*n - 1].phys + out[*n - 1].len == pa) {
			out[*n - 1].len += chunk;
		} else {
			out[*n].phys = pa;
			out[*n].len = chunk;
			++*n;
		}
		off += chunk;
		len -= chunk;
	}
}

static void test_backing_model_random(void **state)
{
	uint64_t seed = tu_seed(__func__), ops = tu_ops(20000);
	struct fake f = { .fail_at = -1 };
	struct kmem_sg got[64], want[64];

	(void)state;
	for (int round = 0; round < 20; round++) {
		uint64_t npages = 1 + tu_below(&seed, 64);
		struct kmem_backing_params p = fake_params(&f, npages);
		struct kmem_backing *b;
		size_t nruns = 0, n = 0, m = 0;

		for (uint64_t i = 0; i < npages; i++) {
			if (i && tu_below(&seed, 4))
				f.pa[i] = f.pa[i - 1] + PS4K;
			else
				f.pa[i] = 4 * GiB - 8 * PS4K +
					  (tu_below(&seed, 32) - 16) * PS4K *
					  (tu_below(&seed, 2) ? 1 : 4096);
			f.node[i] = i && tu_below(&seed, 8) ? f.node[i - 1] :
				    (int)tu_below(&seed, 3);
		}
		b = open_ok(&p);
		/* Runs: split where the frames jump, the node changes or
		 * the address is 4 GiB. */
		for (uint64_t i = 0; i < npages; i++) {
			struct kmem_backing_run r;

			if (i && f.pa[i] == f.pa[i - 1] + PS4K &&
			    f.node[i] == f.node[i - 1] && f.pa[i] != 4 * GiB)
				continue;
			assert_int_equal(kmem_backing_run(b, nruns++, &r), 0);
			assert_int_equal(r.offset, i * PS4K);
			assert_int_equal(r.phys, f.pa[i]);
			assert_int_equal(r.node, f.node[i]);
			assert_int_equal(r.flags, f.pa[i] < 4 * GiB ?
					 PHYS_DMA32 : PHYS_NORMAL);
		}
		assert_int_equal(kmem_backing_nruns(b), nruns);
		for (uint64_t k = 0; k < ops / 20; k++) {
			uint64_t off = tu_below(&seed, npages * PS4K);
			uint64_t len = 1 + tu_below(&seed, npages * PS4K - off);
			uint64_t pa;

			model_sg(&f, off, len, want, &m);
			assert_int_equal(kmem_backing_phys(b, off, &pa), 0);
			assert_int_equal(pa, want[0].phys);
			assert_int_equal(kmem_backing_contiguous(b, off, len),
					 m == 1);
			assert_int_equal(kmem_backing_sg(b, off, len, got, 64, &n), 0);
			assert_int_equal(n, m);
			assert_memory_equal(got, want, m * sizeof(*got));
		}
		kmem_backing_close(b);
	}
}

/* ------------------------------------------------------ errors */

static void test_backing_rejects_bad_params(void **state)
{
	struct kmem_backing_params p = { .size = 4 * MiB };
	struct kmem_backing *b = NULL;
	char msg[KMEM_MSG_MAX], path[] = "/tmp/kmem-backing-test-XXXXXX";
	char file[64], longname[300];
	struct leaks l;

	(void)state;
	leaks_save(&l);
	assert_int_equal(kmem_backing_open(NULL, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_int_equal(kmem_backing_open(&p, NULL, msg, sizeof(msg)), KMEM_EINVAL);
	p.size = 0;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)),
			 KMEM_EZEROSIZE);
	assert_string_equal(msg, "size is 0");
	p.size = 3 * MiB;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_string_equal(msg, "size 3145728 is not a multiple of the 2 MiB "
			    "page size; 4 MiB would be");
	p.size = 4 * MiB;
	p.page_size = 4 * MiB;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_non_null(strstr(msg, "page size 4194304 is not supported"));
	p.page_size = 1 * GiB;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	p.page_size = KMEM_BACKING_4K;
	p.path = "/dev/hugepages/x";
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_string_equal(msg, "a hugetlbfs path needs a hugepage size");
	p.page_size = 0;
	p.path = "";
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_string_equal(msg, "path is empty");
	p.path = "/nonexistent-kmem-dir/pool";
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_ENOENT);
	assert_non_null(strstr(msg, "cannot open /nonexistent-kmem-dir/pool"));
	/* A path on a filesystem that is not hugetlbfs: refused, and the
	 * file the attempt created is gone again. */
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/pool", path);
	p.path = file;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_non_null(strstr(msg, "is not on a hugetlbfs mount"));
	assert_int_equal(access(file, F_OK), -1);
	assert_int_equal(rmdir(path), 0);
	p.path = NULL;
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	p.name = longname;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	p.name = NULL;
	p.file_mode = 010000;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	/* msg may be NULL. */
	p.size = 0;
	assert_int_equal(kmem_backing_open(&p, &b, NULL, 0), KMEM_EZEROSIZE);
	assert_null(b);
	leaks_check(&l);
}

static void test_backing_shortfall_names_counts_and_fix(void **state)
{
	static const uint64_t sizes[2] = { HP2M, GiB };
	char msg[KMEM_MSG_MAX] = "", want[200], knob[120];
	struct kmem_backing *b = NULL;
	struct leaks l;
	int tested = 0;

	(void)state;
	leaks_save(&l);
	for (int i = 0; i < 2; i++) {
		uint64_t ps = sizes[i], avail = hp_avail(ps), need = avail + 4;
		uint64_t nr = hp_get(ps, "nr_hugepages");
		uint64_t fr = hp_get(ps, "free_hugepages");
		struct kmem_backing_params p = {
			.size = need * ps, .page_size = ps,
		};

		if (nr == UINT64_MAX)
			continue;
		tested++;
		assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)),
				 KMEM_ENOHUGE);
		assert_null(b);
		print_message("%s\n", msg);
		snprintf(want, sizeof(want), "need %llu free %s hugepages but only "
			 "%llu are available (free_hugepages %llu,",
			 (unsigned long long)need, ps == GiB ? "1 GiB" : "2 MiB",
			 (unsigned long long)avail, (unsigned long long)fr);
		assert_non_null(strstr(msg, want));
		if (ps == default_hugepage_size())
			snprintf(knob, sizeof(knob), "/proc/sys/vm/nr_hugepages");
		else
			snprintf(knob, sizeof(knob), "/sys/kernel/mm/hugepages/"
				 "hugepages-%llukB/nr_hugepages",
				 (unsigned long long)(ps / KiB));
		snprintf(want, sizeof(want), "fix: echo %llu > %s",
			 (unsigned long long)(nr + 4), knob);
		assert_non_null(strstr(msg, want));
		leaks_check(&l);
	}
	if (!tested) {
		print_message("no hugepage pools in sysfs\n");
		skip();
	}
}

/* Run fn in a child with cap dropped from the effective set; the child's
 * exit status is 0 or the line of the check that failed. */
static int in_child_without(int cap, int (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = {
			.version = _LINUX_CAPABILITY_VERSION_3,
		};
		struct __user_cap_data_struct d[2];

		if (syscall(SYS_capget, &h, d))
			_exit(1);
		d[cap / 32].effective &= ~(1u << (cap % 32));
		if (syscall(SYS_capset, &h, d))
			_exit(2);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#define CHILD_CHECK(cond) do { if (!(cond)) return __LINE__ % 250 + 3; } while (0)

static int child_mlock_refused(void)
{
	struct kmem_backing_params p = {
		.size = 1 * MiB, .page_size = KMEM_BACKING_4K,
	};
	struct rlimit rl = { 64 * KiB, 64 * KiB };
	struct kmem_backing *b = NULL;
	char msg[KMEM_MSG_MAX] = "";
	int fds = count_dir("/proc/self/fd");
	long live = kmem_fault_live();

	CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	CHILD_CHECK(kmem_backing_open(&p, &b, msg, sizeof(msg)) == KMEM_EPERM);
	CHILD_CHECK(b == NULL);
	CHILD_CHECK(strstr(msg, "mlock of 1 MiB failed") != NULL);
	CHILD_CHECK(strstr(msg, "RLIMIT_MEMLOCK is 64 KiB") != NULL);
	CHILD_CHECK(count_dir("/proc/self/fd") == fds);
	CHILD_CHECK(kmem_fault_live() == live);
	return 0;
}

static void test_backing_mlock_refused_fails_nohuge(void **state)
{
	(void)state;
	assert_int_equal(in_child_without(CAP_IPC_LOCK, child_mlock_refused), 0);
}

/* ------------------------------------------------------ nohuge fallback */

static void test_backing_nohuge_only_when_allowed(void **state)
{
	uint64_t avail = hp_avail(HP2M), lck0;
	struct kmem_backing_params p = { .size = (avail + 2) * HP2M };
	struct kmem_backing *b = NULL;
	struct kmem_backing_info info;
	char msg[KMEM_MSG_MAX] = "";
	struct leaks l;
	uint64_t pa = 3;
	int node;

	(void)state;
	if (p.size > 64 * MiB) {
		print_message("%llu free 2 MiB hugepages: too many to provoke a "
			      "shortfall cheaply\n", (unsigned long long)avail);
		skip();
	}
	leaks_save(&l);
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_ENOHUGE);
	assert_null(b);
	leaks_check(&l);

	p.allow_nohuge = true;
	lck0 = status_kb("VmLck:");
	b = open_ok(&p);
	kmem_backing_info(b, &info);
	assert_int_equal(info.kind, KMEM_BACKING_NOHUGE);
	assert_string_equal(kmem_backing_kind_name(info.kind), "nohuge");
	assert_int_equal(info.iova, KMEM_IOVA_VA);
	assert_int_equal(info.page_size, PS4K);
	assert_int_equal(info.npages, p.size / PS4K);
	assert_int_equal(info.size, p.size);
	assert_null(info.path);
	assert_true(info.sealed);
	assert_true(info.locked);
	assert_int_equal(status_kb("VmLck:") - lck0, p.size);
	assert_int_equal(kmem_backing_phys(b, 0, &pa), KMEM_EPERM);
	assert_int_equal(pa, 3);
	assert_int_equal(kmem_backing_contiguous(b, 0, 2 * PS4K), 0);
	assert_int_equal(kmem_backing_nruns(b), 1);
	node = mempolicy_node(kmem_backing_addr(b));
	assert_run(b, 0, 0, p.size, 0, node, 0);
	/* Bytes written through the mapping are the file's. */
	for (uint64_t off = 0; off < p.size; off += PS4K)
		((uint8_t *)kmem_backing_addr(b))[off] = (uint8_t)(off >> 12);
	for (uint64_t off = 0; off < p.size; off += 97 * PS4K) {
		uint8_t c;

		assert_int_equal(pread(kmem_backing_fd(b), &c, 1, (off_t)off), 1);
		assert_int_equal(c, (uint8_t)(off >> 12));
	}
	assert_int_equal(ftruncate(kmem_backing_fd(b), PS4K), -1);
	assert_int_equal(errno, EPERM);
	kmem_backing_close(b);
	assert_int_equal(status_kb("VmLck:"), lck0);
	leaks_check(&l);
}

/* ------------------------------------------------------ real hugepages */

/* Check every answer of b against this process's own pagemap reads. */
static void check_against_pagemap(const struct kmem_backing *b)
{
	uint64_t ps = kmem_backing_page_size(b), n = kmem_backing_npages(b);
	const uint8_t *base = kmem_backing_addr(b);
	uint64_t *pa = calloc(n, sizeof(*pa));
	struct kmem_sg *sg = calloc(n, sizeof(*sg));
	struct kmem_sg *exp = calloc(n, sizeof(*exp));
	size_t nsg = 0, want = 0;

	assert_non_null(pa);
	assert_non_null(sg);
	assert_non_null(exp);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t got;
		int node;

		pa[i] = pagemap_pa(base + i * ps);
		assert_int_equal(kmem_backing_phys(b, i * ps + 4095, &got), 0);
		assert_int_equal(got, pa[i] + 4095);
		assert_int_equal(kmem_backing_node(b, i * ps, &node), 0);
		assert_int_equal(node, mempolicy_node(base + i * ps));
	}
	/* Each window of half the backing: contiguous exactly when the
	 * pagemap frames are. */
	for (uint64_t s = 0; s + n / 2 <= n; s++) {
		bool contig = true;

		for (uint64_t i = s + 1; i < s + n / 2; i++)
			contig = contig && pa[i] == pa[i - 1] + ps;
		assert_int_equal(kmem_backing_contiguous(b, s * ps, n / 2 * ps),
				 contig);
	}
	/* The whole scatter list, segment by segment, against segments
	 * computed here from the frames. */
	for (uint64_t i = 0; i < n; i++) {
		if (i == 0 || pa[i] != pa[i - 1] + ps) {
			want++;
			exp[want - 1].phys = pa[i];
			exp[want - 1].len = 0;
		}
		exp[want - 1].len += ps;
	}
	assert_int_equal(kmem_backing_sg(b, 0, n * ps, sg, n, &nsg), 0);
	assert_int_equal(nsg, want);
	assert_memory_equal(sg, exp, want * sizeof(*sg));
	free(exp);
	free(sg);
	free(pa);
}

static void test_backing_hugetlb_memfd_matches_pagemap(void **state)
{
	struct kmem_backing_params p = { .size = 16 * MiB };
	struct kmem_backing_info info;
	struct kmem_backing *b;
	struct leaks l;
	uint64_t free0;

	(void)state;
	if (!hp_reserve(HP2M, 8))
		skip();
	if (!has_cap(CAP_SYS_ADMIN)) {
		print_message("needs CAP_SYS_ADMIN to read frames\n");
		skip();
	}
	leaks_save(&l);
	free0 = hp_get(HP2M, "free_hugepages");
	b = open_ok(&p);
	assert_int_equal(hp_get(HP2M, "free_hugepages"), free0 - 8);
	kmem_backing_info(b, &info);
	assert_int_equal(info.kind, KMEM_BACKING_MEMFD_HUGETLB);
	assert_string_equal(kmem_backing_kind_name(info.kind), "memfd-hugetlb");
	assert_int_equal(info.iova, KMEM_IOVA_PA);
	assert_int_equal(info.page_size, HP2M);
	assert_int_equal(info.npages, 8);
	assert_int_equal(info.reserved_pages, 8);
	assert_int_equal(info.map_offset, 0);
	assert_true(info.sealed);
	assert_true(info.locked);
	print_message("%zu runs, largest %llu MiB\n", info.nruns,
		      (unsigned long long)(info.largest_run / MiB));
	check_against_pagemap(b);

	/* Bytes written through the mapping read back through the fd. */
	for (uint64_t off = 0; off < p.size; off += 64 * KiB)
		memcpy((uint8_t *)info.addr + off, &off, sizeof(off));
	for (uint64_t off = 0; off < p.size; off += 192 * KiB) {
		uint64_t v = 0;

		assert_int_equal(pread(info.fd, &v, 8, (off_t)off), 8);
		assert_int_equal(v, off);
	}
	/* Sealed: nobody shrinks or grows it. */
	assert_int_equal(fcntl(info.fd, F_GET_SEALS),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_equal(ftruncate(info.fd, 2 * MiB), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(info.fd, 32 * MiB), -1);
	assert_int_equal(errno, EPERM);
	kmem_backing_close(b);
	assert_int_equal(hp_get(HP2M, "free_hugepages"), free0);
	leaks_check(&l);
}

static void test_backing_hugetlb_require_contiguous(void **state)
{
	struct kmem_backing_params p = {
		.size = 4 * MiB, .require_contiguous = true,
	};
	struct kmem_backing *b = NULL;
	char msg[KMEM_MSG_MAX] = "";
	struct leaks l;
	uint64_t free0;
	int rc;

	(void)state;
	if (!hp_reserve(HP2M, 8))
		skip();
	if (!has_cap(CAP_SYS_ADMIN)) {
		print_message("needs CAP_SYS_ADMIN to read frames\n");
		skip();
	}
	leaks_save(&l);
	free0 = hp_get(HP2M, "free_hugepages");
	rc = kmem_backing_open(&p, &b, msg, sizeof(msg));
	if (rc == 0) {
		struct kmem_backing_info info;
		struct stat st;
		const uint8_t *a = kmem_backing_addr(b);

		kmem_backing_info(b, &info);
		print_message("window at file offset %llu MiB of %llu pages\n",
			      (unsigned long long)(info.map_offset / MiB),
			      (unsigned long long)info.reserved_pages);
		assert_int_equal(kmem_backing_check(b), 0);
		assert_int_equal(info.reserved_pages, 4);
		assert_int_equal(info.npages, 2);
		assert_int_equal(info.nruns, 1);
		assert_int_equal(info.map_offset % HP2M, 0);
		assert_int_equal(pagemap_pa(a + HP2M), pagemap_pa(a) + HP2M);
		assert_int_equal(kmem_backing_contiguous(b, 0, 4 * MiB), 1);
		/* The other pages went back to the pool. */
		assert_int_equal(hp_get(HP2M, "free_hugepages"), free0 - 2);
		assert_int_equal(fstat(info.fd, &st), 0);
		assert_int_equal(st.st_size, info.map_offset + 4 * MiB);
		check_against_pagemap(b);
		kmem_backing_close(b);
	} else {
		/* The kernel gave no two adjacent pages in order. */
		print_message("%s\n", msg);
		assert_int_equal(rc, KMEM_ENOMEM);
		assert_null(b);
		assert_non_null(strstr(msg, "the largest is 1 pages (2 MiB)"));
	}
	assert_int_equal(hp_get(HP2M, "free_hugepages"), free0);
	leaks_check(&l);
}

static int child_no_sys_admin(void)
{
	struct kmem_backing_params p = { .size = 4 * MiB };
	struct kmem_backing *b = NULL;
	char msg[KMEM_MSG_MAX] = "";
	uint64_t pa;
	int fds = count_dir("/proc/self/fd");
	long live = kmem_fault_live();

	CHILD_CHECK(kmem_backing_open(&p, &b, msg, sizeof(msg)) == 0);
	CHILD_CHECK(kmem_backing_check(b) == 0);
	CHILD_CHECK(kmem_backing_iova(b) == KMEM_IOVA_VA);
	CHILD_CHECK(kmem_backing_phys(b, 0, &pa) == KMEM_EPERM);
	CHILD_CHECK(kmem_backing_contiguous(b, 0, HP2M) == 1);
	CHILD_CHECK(kmem_backing_contiguous(b, 0, HP2M + 1) == 0);
	/* One node: one run over both pages, not known contiguous. */
	CHILD_CHECK(kmem_backing_nruns(b) == 1);
	kmem_backing_close(b);
	b = NULL;
	p.require_contiguous = true;
	CHILD_CHECK(kmem_backing_open(&p, &b, msg, sizeof(msg)) == KMEM_EPERM);
	CHILD_CHECK(strstr(msg, "CAP_SYS_ADMIN") != NULL);
	CHILD_CHECK(b == NULL);
	CHILD_CHECK(count_dir("/proc/self/fd") == fds);
	CHILD_CHECK(kmem_fault_live() == live);
	return 0;
}

static void test_backing_without_cap_sys_admin_is_va(void **state)
{
	(void)state;
	if (!hp_reserve(HP2M, 2))
		skip();
	if (geteuid() != 0 ||
	    access("/sys/devices/system/node/node1", F_OK) == 0) {
		print_message("needs root and a single NUMA node\n");
		skip();
	}
	assert_int_equal(in_child_without(CAP_SYS_ADMIN, child_no_sys_admin), 0);
}

static void test_backing_1g_page(void **state)
{
	struct kmem_backing_params p = { .size = GiB, .page_size = GiB };
	struct kmem_backing *b;
	struct leaks l;
	uint64_t pa;

	(void)state;
	if (!hp_reserve(GiB, 1))
		skip();
	if (!has_cap(CAP_SYS_ADMIN)) {
		print_message("needs CAP_SYS_ADMIN to read frames\n");
		skip();
	}
	leaks_save(&l);
	b = open_ok(&p);
	assert_int_equal(kmem_backing_page_size(b), GiB);
	assert_int_equal(kmem_backing_npages(b), 1);
	assert_int_equal(kmem_backing_nruns(b), 1);
	assert_int_equal(kmem_backing_phys(b, GiB - 1, &pa), 0);
	assert_int_equal(pa, pagemap_pa(kmem_backing_addr(b)) + GiB - 1);
	assert_int_equal(pa % GiB, GiB - 1);
	assert_int_equal(kmem_backing_contiguous(b, 0, GiB), 1);
	kmem_backing_close(b);
	leaks_check(&l);
}

/* ------------------------------------------------------ hugetlbfs path */

/* Mount hugetlbfs on a new directory (mounted_dir); the teardown
 * unmounts it on every path. */
static bool mount_hugetlbfs(const char *opts)
{
	char dir[] = "/tmp/kmem-hugetlbfs-XXXXXX";

	if (!mkdtemp(dir))
		return false;
	if (mount("none", dir, "hugetlbfs", 0, opts)) {
		print_message("mount -t hugetlbfs: %s\n", strerror(errno));
		rmdir(dir);
		return false;
	}
	snprintf(mounted_dir, sizeof(mounted_dir), "%s", dir);
	return true;
}

static void test_backing_hugetlbfs_file(void **state)
{
	char file[96], msg[KMEM_MSG_MAX] = "";
	struct kmem_backing_params p = { .size = 4 * MiB, .path = file };
	struct kmem_backing *b = NULL;
	struct leaks l;
	struct stat st;
	uint64_t free0;

	(void)state;
	if (geteuid() != 0 || !hp_reserve(HP2M, 2) ||
	    !mount_hugetlbfs("pagesize=2M")) {
		print_message("needs root, 2 hugepages and a hugetlbfs mount\n");
		skip();
	}
	snprintf(file, sizeof(file), "%s/pool", mounted_dir);
	leaks_save(&l);
	free0 = hp_get(HP2M, "free_hugepages");
	b = open_ok(&p);
	assert_int_equal(kmem_backing_kind(b), KMEM_BACKING_HUGETLBFS);
	assert_string_equal(kmem_backing_path(b), file);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_size, 4 * MiB);
	assert_int_equal(st.st_blocks * 512, 4 * MiB);
	assert_int_equal(st.st_mode & 07777, 0600);
	memcpy(kmem_backing_addr(b), "persist", 7);
	kmem_backing_close(b);

	/* The memory outlives the backing, and reopening finds it. */
	assert_int_equal(hp_get(HP2M, "free_hugepages"), free0 - 2);
	b = open_ok(&p);
	assert_memory_equal(kmem_backing_addr(b), "persist", 7);
	kmem_backing_close(b);
	p.size = 6 * MiB;
	b = NULL;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_non_null(strstr(msg, "exists with 4194304 bytes, not 6291456"));
	p.page_size = GiB;
	p.size = GiB;
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_EINVAL);
	assert_non_null(strstr(msg, "mount of 2 MiB pages, not 1 GiB"));
	assert_null(b);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(hp_get(HP2M, "free_hugepages"), free0);
	leaks_check(&l);
}

/* A mount whose size= limit is below the request: fallocate fails with
 * ENOSPC although the pool has pages, and open cleans up after itself. */
static void test_backing_hugetlbfs_fallocate_failure(void **state)
{
	char file[96], msg[KMEM_MSG_MAX] = "";
	struct kmem_backing_params p = { .size = 4 * MiB, .path = file };
	struct kmem_backing *b = NULL;
	struct leaks l;
	uint64_t free0;

	(void)state;
	if (geteuid() != 0 || !hp_reserve(HP2M, 2) ||
	    !mount_hugetlbfs("pagesize=2M,size=2M")) {
		print_message("needs root, 2 hugepages and a hugetlbfs mount\n");
		skip();
	}
	snprintf(file, sizeof(file), "%s/pool", mounted_dir);
	leaks_save(&l);
	free0 = hp_get(HP2M, "free_hugepages");
	assert_int_equal(kmem_backing_open(&p, &b, msg, sizeof(msg)), KMEM_ENOHUGE);
	print_message("%s\n", msg);
	assert_non_null(strstr(msg, "fallocate of 2 hugepages of 2 MiB failed: "
				 "No space left on device; the hugetlbfs mount's "
				 "size= limit is too small for"));
	assert_null(b);
	assert_int_equal(access(file, F_OK), -1);
	assert_int_equal(hp_get(HP2M, "free_hugepages"), free0);
	leaks_check(&l);
}

/* ------------------------------------------------------ adopting an memfd */

/* Open p (fake frames or not), write a pattern into every page, and
 * return a duplicate of its fd after closing the backing. */
static int kept_memfd(const struct kmem_backing_params *p, uint64_t salt)
{
	struct kmem_backing *b = open_ok(p);
	uint64_t *w = kmem_backing_addr(b);
	int fd = dup(kmem_backing_fd(b));

	assert_true(fd >= 0);
	for (uint64_t i = 0; i < p->size / 8; i++)
		w[i] = salt ^ (i * 0x9e3779b97f4a7c15ull);
	kmem_backing_close(b);
	return fd;
}

/* Offset of the first 8-byte word of b that is not kept_memfd's pattern
 * (page zero_page must read 0 instead), or the size. */
static uint64_t pattern_intact(const struct kmem_backing *b, uint64_t salt,
			       uint64_t zero_page)
{
	const uint64_t *w = kmem_backing_addr(b);
	uint64_t ps = kmem_backing_page_size(b);

	for (uint64_t i = 0; i < kmem_backing_size(b) / 8; i++) {
		uint64_t want = i * 8 / ps == zero_page ? 0 :
				salt ^ (i * 0x9e3779b97f4a7c15ull);

		if (w[i] != want)
			return i * 8;
	}
	return kmem_backing_size(b);
}

static void test_backing_adopt_keeps_contents_and_frames(void **state)
{
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 8);
	struct kmem_backing_info info;
	struct kmem_backing *b;
	struct leaks l;
	int fd;

	(void)state;
	for (int i = 0; i < 8; i++)
		f.pa[i] = (i < 5 ? 0x10000000ull : 0x20000000ull - 5 * PS4K) +
			  i * PS4K;
	leaks_save(&l);
	fd = kept_memfd(&p, 0xabcdef);
	/* A hole punched into the kept file (as a holder of the fd may):
	 * that page comes back, zeroed. */
	assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   3 * PS4K, PS4K), 0);
	p.adopt = true;
	p.adopt_fd = fd;
	f.npages = 0;
	b = open_ok(&p);
	kmem_backing_info(b, &info);
	assert_true(info.adopted);
	assert_true(kmem_backing_adopted(b));
	assert_int_equal(info.kind, KMEM_BACKING_NOHUGE);
	assert_int_equal(info.size, 8 * PS4K);
	assert_int_equal(info.npages, 8);
	assert_int_equal(info.reserved_pages, 8);
	assert_true(info.sealed);
	assert_true(info.locked);
	assert_true(info.fd != fd);
	/* Frames read afresh, the same runs as at first. */
	assert_int_equal(f.npages, 8);
	assert_int_equal(kmem_backing_nruns(b), 2);
	assert_run(b, 0, 0, 5 * PS4K, 0x10000000, 0, PHYS_DMA32);
	assert_run(b, 1, 5 * PS4K, 3 * PS4K, 0x20000000, 0, PHYS_DMA32);
	assert_int_equal(pattern_intact(b, 0xabcdef, 3), 8 * PS4K);
	assert_int_equal(fcntl(fd, F_GET_SEALS),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	kmem_backing_close(b);
	/* The caller's fd is still the caller's, and so are the bytes. */
	uint64_t v = 0;
	assert_int_equal(pread(fd, &v, 8, (off_t)(5 * PS4K)), 8);
	assert_int_equal(v, 0xabcdef ^ (5 * PS4K / 8 * 0x9e3779b97f4a7c15ull));
	assert_int_equal(close(fd), 0);
	leaks_check(&l);
}

/* An memfd nobody sealed is sealed once adopted. */
static void test_backing_adopt_seals_an_unsealed_memfd(void **state)
{
	struct kmem_backing_params p = {
		.size = 16 * PS4K, .page_size = KMEM_BACKING_4K, .adopt = true,
	};
	struct kmem_backing *b;
	struct leaks l;
	int fd;

	(void)state;
	leaks_save(&l);
	fd = memfd_create("kmem-test-unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * PS4K), 0);
	assert_int_equal(pwrite(fd, "kept", 4, 9 * PS4K), 4);
	assert_int_equal(fcntl(fd, F_GET_SEALS), 0);
	p.adopt_fd = fd;
	b = open_ok(&p);
	assert_true(kmem_backing_adopted(b));
	assert_int_equal(memcmp((char *)kmem_backing_addr(b) + 9 * PS4K, "kept", 4), 0);
	assert_int_equal(fcntl(fd, F_GET_SEALS),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	kmem_backing_close(b);
	close(fd);
	leaks_check(&l);
}

/* Open fails with code and want; nothing leaks, and the caller's fd (if
 * fd_open) is still open. */
static void adopt_refused(const struct kmem_backing_params *p, int code,
			  const char *want, bool fd_open)
{
	struct kmem_backing *b = NULL;
	char msg[KMEM_MSG_MAX] = "";
	struct leaks l;

	leaks_save(&l);
	assert_int_equal(kmem_backing_open(p, &b, msg, sizeof(msg)), code);
	assert_null(b);
	assert_string_equal(msg, want);
	leaks_check(&l);
	if (fd_open)
		assert_true(fcntl(p->adopt_fd, F_GETFD) >= 0);
}

static void test_backing_adopt_refuses_what_does_not_match(void **state)
{
	struct kmem_backing_params p = {
		.size = 16 * PS4K, .page_size = KMEM_BACKING_4K, .adopt = true,
	};
	struct kmem_backing *b;
	char want[160];
	int fd, pfd[2];

	(void)state;
	fd = memfd_create("kmem-test-size", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 * PS4K), 0);
	p.adopt_fd = fd;
	snprintf(want, sizeof(want), "fd %d is 32768 bytes, not 65536", fd);
	adopt_refused(&p, KMEM_EINVAL, want, true);
	/* 4 KiB pages where 2 MiB ones are wanted: refused, unless the
	 * nohuge fallback is allowed (the earlier process fell back too). */
	assert_int_equal(ftruncate(fd, 2 * MiB), 0);
	p.size = 2 * MiB;
	p.page_size = HP2M;
	snprintf(want, sizeof(want), "fd %d holds 4 KiB pages, not 2 MiB", fd);
	adopt_refused(&p, KMEM_EINVAL, want, true);
	p.allow_nohuge = true;
	b = open_ok(&p);
	assert_int_equal(kmem_backing_kind(b), KMEM_BACKING_NOHUGE);
	assert_int_equal(kmem_backing_page_size(b), PS4K);
	kmem_backing_close(b);
	p.allow_nohuge = false;
	/* Sealed against new seals but resizable: not ours. */
	close(fd);
	fd = memfd_create("kmem-test-seal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * PS4K), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
	p.size = 16 * PS4K;
	p.page_size = KMEM_BACKING_4K;
	p.adopt_fd = fd;
	snprintf(want, sizeof(want), "fd %d is sealed (0x1) but not against "
		 "shrinking and growing: not an memfd kmem made", fd);
	adopt_refused(&p, KMEM_EINVAL, want, true);
	close(fd);
	/* Not a file at all. */
	assert_int_equal(pipe(pfd), 0);
	p.adopt_fd = pfd[0];
	snprintf(want, sizeof(want), "fd %d is not an memfd", pfd[0]);
	adopt_refused(&p, KMEM_EINVAL, want, true);
	close(pfd[0]);
	close(pfd[1]);
	/* Not open; not given; given with a path. */
	p.adopt_fd = pfd[0];
	snprintf(want, sizeof(want), "fd %d cannot be adopted: Bad file "
		 "descriptor", pfd[0]);
	adopt_refused(&p, KMEM_EINVAL, want, false);
	p.adopt_fd = -1;
	adopt_refused(&p, KMEM_EINVAL, "adopt_fd is not a file descriptor",
		      false);
	p.adopt_fd = 0;
	p.page_size = HP2M;
	p.size = 2 * MiB;
	p.path = "/dev/hugepages/x";
	adopt_refused(&p, KMEM_EINVAL, "adopt and path exclude each other",
		      true);
}

/* A require_contiguous window cut from a larger reservation comes back
 * at the same file offset, with its bytes and its frames. */
static void test_backing_adopt_contiguous_window(void **state)
{
	/* 4 pages wanted, 8 reserved; pages 3..6 are the only run of 4. */
	static const uint64_t pa[8] = {
		0x5000000, 0x9000000, 0x3000000, 0x7000000, 0x7001000,
		0x7002000, 0x7003000, 0x1000000,
	};
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 4);
	struct kmem_backing_info info;
	struct kmem_backing *b;
	struct leaks l;
	char want[96];
	int fd;

	(void)state;
	memcpy(f.pa, pa, sizeof(pa));
	p.require_contiguous = true;
	leaks_save(&l);
	fd = kept_memfd(&p, 0xc0ffee);
	p.adopt = true;
	p.adopt_fd = fd;
	f.npages = 0;
	b = open_ok(&p);
	kmem_backing_info(b, &info);
	assert_true(info.adopted);
	assert_int_equal(info.map_offset, 3 * PS4K);
	assert_int_equal(info.size, 4 * PS4K);
	assert_int_equal(info.reserved_pages, 4);
	/* The frame source was asked for file pages 3..6 only. */
	assert_int_equal(f.npages, 7);
	assert_int_equal(info.nruns, 1);
	assert_run(b, 0, 0, 4 * PS4K, 0x7000000, 0, PHYS_DMA32);
	assert_int_equal(pattern_intact(b, 0xc0ffee, UINT64_MAX), 4 * PS4K);
	kmem_backing_close(b);
	/* Without require_contiguous the longer file is refused. */
	p.require_contiguous = false;
	snprintf(want, sizeof(want), "fd %d is 28672 bytes, not 16384", fd);
	adopt_refused(&p, KMEM_EINVAL, want, true);
	close(fd);
	leaks_check(&l);
}

/* Real hugepages: the same physical pages come back, and none more. */
static void test_backing_adopt_hugetlb_same_pages(void **state)
{
	struct kmem_backing_params p = { .size = 8 * MiB };
	struct kmem_backing *b;
	uint64_t pa[4], free0, free1;
	struct leaks l;
	int fd;

	(void)state;
	if (!hp_reserve(HP2M, 4))
		skip();
	if (!has_cap(CAP_SYS_ADMIN)) {
		print_message("needs CAP_SYS_ADMIN to read frames\n");
		skip();
	}
	leaks_save(&l);
	free0 = hp_get(HP2M, "free_hugepages");
	b = open_ok(&p);
	for (int i = 0; i < 4; i++)
		pa[i] = pagemap_pa((uint8_t *)kmem_backing_addr(b) + i * HP2M);
	for (uint64_t i = 0; i < p.size / 8; i++)
		((uint64_t *)kmem_backing_addr(b))[i] =
			0x5eed ^ (i * 0x9e3779b97f4a7c15ull);
	fd = dup(kmem_backing_fd(b));
	assert_true(fd >= 0);
	kmem_backing_close(b);
	/* The kept fd holds the pages while no backing maps them. */
	free1 = hp_get(HP2M, "free_hugepages");
	assert_int_equal(free1, free0 - 4);
	p.adopt = true;
	p.adopt_fd = fd;
	b = open_ok(&p);
	assert_int_equal(kmem_backing_kind(b), KMEM_BACKING_MEMFD_HUGETLB);
	assert_int_equal(kmem_backing_iova(b), KMEM_IOVA_PA);
	assert_int_equal(hp_get(HP2M, "free_hugepages"), free1);
	for (int i = 0; i < 4; i++) {
		uint64_t got;

		assert_int_equal(kmem_backing_phys(b, (uint64_t)i * HP2M, &got), 0);
		assert_int_equal(got, pa[i]);
	}
	check_against_pagemap(b);
	assert_int_equal(pattern_intact(b, 0x5eed, UINT64_MAX), 8 * MiB);
	kmem_backing_close(b);
	close(fd);
	assert_int_equal(hp_get(HP2M, "free_hugepages"), free0);
	leaks_check(&l);
}

/* ------------------------------------------------------ fault injection */

static void fault_inject_open(const struct kmem_backing_params *p)
{
	struct leaks l;
	unsigned long n;

	leaks_save(&l);
	for (n = 1;; n++) {
		struct kmem_backing *b = NULL;
		char msg[KMEM_MSG_MAX] = "";
		int rc;

		kmem_fault_fail_nth(n);
		rc = kmem_backing_open(p, &b, msg, sizeof(msg));
		if (!kmem_fault_fired()) {
			kmem_fault_fail_nth(0);
			assert_int_equal(rc, 0);
			assert_int_equal(kmem_backing_check(b), 0);
			kmem_backing_close(b);
			break;
		}
		assert_int_equal(rc, KMEM_ENOMETA);
		assert_null(b);
		assert_true(strlen(msg) > 0);
		leaks_check(&l);
	}
	assert_true(n > 4);	/* it did reach the tables */
	leaks_check(&l);
}

static void test_backing_open_fault_injection(void **state)
{
	struct fake f = { .fail_at = -1 };
	struct kmem_backing_params p = fake_params(&f, 8);

	(void)state;
	for (int i = 0; i < 16; i++)
		f.pa[i] = 0x2000000 + (uint64_t)(i / 3) * 0x100000 + i * PS4K;
	fault_inject_open(&p);
	p.require_contiguous = true;
	p.size = 2 * PS4K;
	fault_inject_open(&p);
	/* Adopting: every failure leaves the caller's fd as it was. */
	p.require_contiguous = false;
	p.size = 8 * PS4K;
	p.adopt_fd = kept_memfd(&p, 1);
	p.adopt = true;
	fault_inject_open(&p);
	close(p.adopt_fd);
	if (hp_reserve(HP2M, 4)) {
		struct kmem_backing_params h = { .size = 8 * MiB };

		fault_inject_open(&h);
	} else {
		print_message("hugetlb variant not run\n");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backing_runs_split_on_physical_gaps),
		cmocka_unit_test(test_backing_runs_split_at_4gib),
		cmocka_unit_test(test_backing_runs_split_by_node),
		cmocka_unit_test(test_backing_sg_reports_needed_count),
		cmocka_unit_test(test_backing_unknown_frames_mean_va),
		cmocka_unit_test(test_backing_require_contiguous_keeps_window),
		cmocka_unit_test(test_backing_require_contiguous_names_largest),
		cmocka_unit_test(test_backing_frame_source_errors),
		cmocka_unit_test(test_backing_names),
		cmocka_unit_test(test_backing_phys_is_a_table_lookup),
		cmocka_unit_test(test_backing_model_random),
		cmocka_unit_test(test_backing_rejects_bad_params),
		cmocka_unit_test(test_backing_shortfall_names_counts_and_fix),
		cmocka_unit_test(test_backing_mlock_refused_fails_nohuge),
		cmocka_unit_test_teardown(test_backing_nohuge_only_when_allowed,
					  hp_restore),
		cmocka_unit_test_teardown(test_backing_hugetlb_memfd_matches_pagemap,
					  hp_restore),
		cmocka_unit_test_teardown(test_backing_hugetlb_require_contiguous,
					  hp_restore),
		cmocka_unit_test_teardown(test_backing_without_cap_sys_admin_is_va,
					  hp_restore),
		cmocka_unit_test_teardown(test_backing_1g_page, hp_restore),
		cmocka_unit_test_teardown(test_backing_hugetlbfs_file, hp_restore),
		cmocka_unit_test_teardown(test_backing_hugetlbfs_fallocate_failure,
					  hp_restore),
		cmocka_unit_test(test_backing_adopt_keeps_contents_and_frames),
		cmocka_unit_test(test_backing_adopt_contiguous_window),
		cmocka_unit_test(test_backing_adopt_seals_an_unsealed_memfd),
		cmocka_unit_test(test_backing_adopt_refuses_what_does_not_match),
		cmocka_unit_test_teardown(test_backing_adopt_hugetlb_same_pages,
					  hp_restore),
		cmocka_unit_test_teardown(test_backing_open_fault_injection,
					  hp_restore),
	};

	return cmocka_run_group_tests_name("backing", tests, NULL, hp_restore);
}
