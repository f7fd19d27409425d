/*
 * kmem-demo - run a short workload on the engine and print what the kernel
 * would show for it: /proc/buddyinfo rows per arena and /proc/slabinfo 2.1
 * columns per cache.  `make run` starts it until the daemon exists.
 *
 * Usage: kmem-demo [SEED]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/heap.h"

#define MiB (1024ull * 1024)

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void buddyinfo(const struct kmem_heap *h)
{
	struct kmem_heap_stats hs;

	kmem_heap_stats(h, &hs);
	printf("buddyinfo (free blocks per order; order 0 = 4 KiB)\n");
	for (size_t i = 0; i < hs.narenas; i++) {
		struct kmem_arena_stats as;

		kmem_heap_arena_stats(h, i, &as);
		printf("arena %zu ", i);
		for (unsigned k = 0; k <= as.buddy.max_order; k++)
			printf("%6llu", (unsigned long long)as.buddy.nr_free[k]);
		printf("\n");
		printf("unusable ");
		for (unsigned k = 0; k <= as.buddy.max_order; k++)
			printf(" %.3f", as.buddy.unusable_index[k] / 1000.0);
		printf("\n");
	}
	printf("total %llu MiB, free %.2f MiB, largest free block %llu KiB\n\n",
	       (unsigned long long)(hs.total_bytes / MiB),
	       (double)hs.free_bytes / MiB,
	       (unsigned long long)(hs.largest_free / 1024));
}

static void slabinfo(const struct kmem_heap *h)
{
	struct kmem_cache *c;

	printf("slabinfo - version: 2.1\n");
	printf("# name            <active_objs> <num_objs> <objsize> <objperslab> "
	       "<pagesperslab> : slabdata <active_slabs> <num_slabs> "
	       "(full partial empty)\n");
	for (size_t i = 0; (c = kmem_heap_cache_at(h, i)); i++) {
		struct kmem_cache_stats st;

		kmem_cache_stats(c, &st);
		printf("%-17s %13llu %10llu %9llu %12llu %14llu : slabdata %14llu "
		       "%11llu (%llu %llu %llu)\n", st.name,
		       (unsigned long long)st.active_objs,
		       (unsigned long long)st.num_objs,
		       (unsigned long long)st.objsize,
		       (unsigned long long)st.objperslab,
		       (unsigned long long)st.pagesperslab,
		       (unsigned long long)st.active_slabs,
		       (unsigned long long)st.num_slabs,
		       (unsigned long long)st.full_slabs,
		       (unsigned long long)st.partial_slabs,
		       (unsigned long long)st.empty_slabs);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	struct kmem_heap_params p = { .size = 64 * MiB };
	struct kmem_cache_params cp = { .name = "pktbuf-2k", .size = 2048 };
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 42;
	static uint64_t live[20000];
	struct kmem_cache *pkt;
	struct kmem_heap *h;
	char msg[KMEM_MSG_MAX];
	size_t n = 0;
	int rc;

	rc = kmem_heap_create(&p, &h, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "kmem-demo: %s\n", msg);
		return 1;
	}
	rc = kmem_cache_create(h, &cp, &pkt);
	if (rc) {
		fprintf(stderr, "kmem-demo: cache: %s\n", kmem_strerror(rc));
		return 1;
	}
	printf("kmem-demo: a 64 MiB heap, 20000 random allocations "
	       "(kmalloc 8 B..8 KiB, pages up to 1 MiB, 2 KiB packet buffers), "
	       "half of them freed (seed %llu)\n\n", (unsigned long long)seed);
	for (int i = 0; i < 20000; i++) {
		uint64_t r = rnd(&seed), off;

		if (r % 10 < 6)
			rc = kmem_heap_alloc(h, 1 + (r >> 8) % 8192, &off);
		else if (r % 10 < 9)
			rc = kmem_cache_alloc(pkt, &off);
		else
			rc = kmem_heap_alloc(h, 1 + (r >> 8) % MiB, &off);
		if (rc == 0)
			live[n++] = off | (r % 10 >= 6 && r % 10 < 9);
	}
	for (size_t i = 0; i < n; i += 2) {
		uint64_t off = live[i] & ~1ull;

		rc = (live[i] & 1) ? kmem_cache_free(pkt, off) : kmem_heap_free(h, off);
		if (rc) {
			fprintf(stderr, "kmem-demo: free: %s\n", kmem_strerror(rc));
			return 1;
		}
	}
	buddyinfo(h);
	slabinfo(h);
	rc = kmem_heap_check(h);
	printf("invariant check: %s\n", rc ? kmem_strerror(rc) : "ok");
	kmem_heap_destroy(h);
	return rc ? 1 : 0;
}
