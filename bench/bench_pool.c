/*
 * bench_pool - pool creation against a bare hugepage mmap, and physical
 * address translation.
 *
 *   create-256M / create-1G   kmem_pool_create + destroy of 2 MiB pages
 *                             vs mmap(MAP_HUGETLB | MAP_POPULATE) + munmap
 *                             of the same size (the kernel's zeroing is the
 *                             floor).  Target: ratio <= 1.2.
 *   phys-translate            kmem_pool_phys of 1,000,000 random offsets.
 *                             Target: <= 20 ns each.
 *
 * Needs root and free 2 MiB hugepages: it raises nr_hugepages by what it
 * needs and puts it back; without them it says so and measures nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "benchutil.h"
#include "kmem/error.h"
#include "kmem/pool.h"

#define MiB (1024ull * 1024)
#define NR_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define FREE_2M "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

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

	if (!f)
		return -1;
	fprintf(f, "%ld\n", v);
	return fclose(f);
}

static double time_mmap(uint64_t size)
{
	uint64_t t0 = bench_now_ns();
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
		       -1, 0);
	uint64_t t1;

	if (p == MAP_FAILED) {
		perror("bench_pool: mmap(MAP_HUGETLB|MAP_POPULATE)");
		exit(1);
	}
	t1 = bench_now_ns();
	munmap(p, size);
	return (double)(t1 - t0);
}

static double time_pool(uint64_t size)
{
	struct kmem_pool_params pp = { .size = size, .page_size = 2 * MiB };
	struct kmem_pool *pool;
	char msg[KMEM_MSG_MAX];
	uint64_t t0 = bench_now_ns(), t1;

	if (kmem_pool_create(&pp, &pool, msg, sizeof(msg))) {
		fprintf(stderr, "bench_pool: %s\n", msg);
		exit(1);
	}
	t1 = bench_now_ns();
	kmem_pool_destroy(pool);
	return (double)(t1 - t0);
}

/* Creation: interleaved repetitions, one creation per sample. */
static int bench_create(struct bench_results *r, const struct bench_opts *o,
			uint64_t size, const char *name)
{
	double a[BENCH_MAX_REPS], b[BENCH_MAX_REPS];

	time_mmap(size);	/* warm the hugepage pool's free lists */
	for (int i = 0; i < o->reps; i++) {
		if (i % 2) {
			a[i] = time_mmap(size);
			b[i] = time_pool(size);
		} else {
			b[i] = time_pool(size);
			a[i] = time_mmap(size);
		}
	}
	if (bench_results_add(r, name, "mmap-hugetlb", true, a, (size_t)o->reps) ||
	    bench_results_add(r, name, "kmem-pool", false, b, (size_t)o->reps))
		return -1;
	return 0;
}

struct xlate {
	struct kmem_pool *pool;
	uint64_t *offs;
	size_t n;
};

static uint64_t run_xlate(void *arg, uint64_t iters)
{
	struct xlate *x = arg;
	uint64_t sum = 0, t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t pa;

		kmem_pool_phys(x->pool, x->offs[i % x->n], &pa);
		sum += pa;
	}
	BENCH_SINK(sum);
	return bench_now_ns() - t0;
}

static int bench_translate(struct bench_results *r, const struct bench_opts *o)
{
	struct kmem_pool_params pp = { .size = 256 * MiB, .page_size = 2 * MiB };
	struct xlate x = { .n = 1000000 };
	uint64_t s = 88172645463325252ull;
	char msg[KMEM_MSG_MAX];
	int rc;

	if (kmem_pool_create(&pp, &x.pool, msg, sizeof(msg))) {
		fprintf(stderr, "bench_pool: %s\n", msg);
		return -1;
	}
	x.offs = malloc(x.n * sizeof(*x.offs));
	if (!x.offs)
		return -1;
	for (size_t i = 0; i < x.n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		x.offs[i] = s % pp.size;
	}
	struct bench_item it = {
		.case_name = "phys-translate", .impl = "kmem-pool",
		.ops_per_iter = 1, .run = run_xlate, .arg = &x,
	};
	rc = bench_run_case(r, o, &it, 1);
	free(x.offs);
	kmem_pool_destroy(x.pool);
	return rc;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_results r = { 0 };
	long saved, need = 512 + 8;
	int rc;

	rc = bench_parse_args(argc, argv, &o, "bench_pool: pool creation and "
			      "physical address translation\n");
	if (rc)
		return rc > 0 ? 0 : 2;
	saved = read_long(NR_2M);
	if (geteuid() != 0 || saved < 0 ||
	    write_long(NR_2M, saved + need) != 0 || read_long(FREE_2M) < need) {
		printf("bench_pool: skipped: needs root and %ld free 2 MiB "
		       "hugepages (could not reserve them)\n", need);
		if (saved >= 0 && geteuid() == 0)
			write_long(NR_2M, saved);
		return 0;
	}
	bench_pin(&o);
	printf("bench_pool: %d repetitions; ns per creation / translation\n", o.reps);
	rc = bench_create(&r, &o, 256 * MiB, "create-256M");
	if (!rc)
		rc = bench_create(&r, &o, 1024 * MiB, "create-1G");
	if (!rc)
		rc = bench_translate(&r, &o);
	/* Give back what we added, not an absolute value: another user may
	 * have changed the reservation meanwhile. */
	write_long(NR_2M, read_long(NR_2M) - need > 0 ? read_long(NR_2M) - need : 0);
	if (rc)
		return 1;
	bench_results_print(&r, stdout);
	for (size_t i = 0; i < r.n; i++)
		if (strncmp(r.v[i].case_name, "create", 6) == 0)
			printf("%-12s %-14s %.2f GiB/s\n", r.v[i].case_name,
			       r.v[i].impl, (strcmp(r.v[i].case_name, "create-1G") ?
			       0.25 : 1.0) / (r.v[i].median / 1e9));
	rc = bench_results_write_json(&r, o.json_dir, "pool.json");
	bench_results_fini(&r);
	return rc ? 1 : 0;
}
