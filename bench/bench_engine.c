/*
 * bench_engine.c - ns per operation of the allocator engine (lib/) against
 * glibc malloc, jemalloc and mimalloc, all in one process run.
 *
 * Workloads.  One operation is one allocation plus one free, in every
 * pattern, so figures compare across patterns:
 *   allocfree       allocate and free at once, over and over, with nothing
 *                   else of that size (or order) live: each free empties
 *                   the slab (mimalloc: the page; buddy: the whole range)
 *                   and each allocation starts it again;
 *   allocfree-held  the same with one object of the size held for the
 *                   whole run, so the slab or page stays partly used: the
 *                   steady state of a cache in use, and the slab hot path
 *                   the targets speak of.  It also makes the peers'
 *                   figures independent of which allocator happens to be
 *                   the process's malloc (and so has other live objects
 *                   of the size class): without it mimalloc runs 50%
 *                   slower when linked after jemalloc than before it;
 *   batch1000       1,000 allocations, then the 1,000 frees in the same
 *                   (first-in first-out) order;
 *   mix10k          10,000 live objects; each operation frees a random one
 *                   and allocates its replacement (xorshift64*, fixed seed,
 *                   so every implementation sees the same sequence).
 *                   Filling and emptying the live set are not timed.
 * Slab cases run for 32, 256 and 1024-byte objects, with these impls:
 *   kmem-slab     kmem_cache_alloc/free on a named cache of that size;
 *   kmem-kmalloc  kmem_heap_alloc/free (size-class lookup, then the same);
 *   glibc         libc.so.6's __libc_malloc/__libc_free (ptmalloc2 and
 *                 its tcache);
 *   jemalloc      mallocx/sdallocx (jemalloc's own API, sized free);
 *   mimalloc      mi_malloc/mi_free.
 * The last three are the peers.  Buddy cases (kmem-buddy) time
 * kmem_buddy_alloc_order/free of orders 0, 4 and 9 over 2^20 pages of
 * 4 KiB with the first three patterns; they have no peer.  In allocfree
 * the buddy is pristine - one free block of order 20 - so every allocation
 * splits it down to the order asked and every free merges it back up; in
 * allocfree-held the block cycled is the free buddy of the held one, taken
 * without a split and freed without a merge.
 *
 * Peers in one process.  Linking jemalloc and mimalloc both makes the
 * first of them on the link line (jemalloc) the process's malloc, and
 * mimalloc also defines __libc_malloc; every allocator is therefore called
 * through an entry point that belongs to it alone (glibc's looked up in
 * libc.so.6 with dlsym), and check_peers() verifies at start-up that the
 * glibc figure's pointers are ptmalloc chunks from the brk heap while the
 * other two allocators' are not.
 *
 * Fairness.  The kmem engine manages offsets and never touches the memory
 * it manages, so the benchmark touches no allocated memory for any
 * implementation: each figure is the allocator's bookkeeping alone (the
 * peers still write their own in-block free-list links, which is part of
 * their design).  Results are consumed with an empty asm (BENCH_SINK), so
 * no call can be optimised away.  The peers are thread-safe and use
 * thread-local caches; the engine is single-threaded by contract.
 */
#include <dlfcn.h>
#include <gnu/lib-names.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>
#include <mimalloc.h>

#include "kmem/buddy.h"
#include "kmem/error.h"
#include "kmem/heap.h"
#include "kmem/slab.h"
#include "benchutil.h"

/*
 * glibc's own malloc and free, looked up in libc.so.6 itself (bind_glibc):
 * Debian's libmimalloc.so overrides __libc_malloc and __libc_free as well
 * as malloc, so the plain symbols would lead to mimalloc.
 */
static void *(*glibc_malloc)(size_t size);
static void (*glibc_free)(void *p);

#define BATCH 1000
#define LIVE 10000
#define SEED UINT64_C(0x9e3779b97f4a7c15)

#define HEAP_BYTES (UINT64_C(256) << 20)
#define PAGE_BYTES 4096
#define BUDDY_PAGES (UINT64_C(1) << 20)	/* 1000 order-9 blocks need 2^19 */

static const unsigned slab_sizes[] = { 32, 256, 1024 };
static const unsigned buddy_orders[] = { 0, 4, 9 };

/* What one figure's run function works on. */
struct ctx {
	struct kmem_heap *heap;
	struct kmem_cache *cache;
	struct kmem_buddy *buddy;
	unsigned order;
	size_t size;
	uint64_t *slots;	/* LIVE entries: batch and mix live sets */
};

static _Noreturn void die(const char *what, int rc)
{
	fprintf(stderr, "bench_engine: %s: %s\n", what,
		rc ? kmem_strerror(rc) : "out of memory");
	exit(1);
}

/* A random index below LIVE (xorshift64*, then a multiply-shift). */
static inline uint32_t pick(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (uint32_t)(((x * UINT64_C(0x2545f4914f6cdd1d)) >> 32) * LIVE >> 32);
}

/*
 * The patterns for one implementation, given statement macros
 * ALLOC(x, lvalue) and FREE(x, value): DEFINE_PAIR_BATCH makes allocfree,
 * held (allocfree-held) and batch; DEFINE_PATTERNS adds mix.  Generated per implementation so
 * that each loop calls the allocator directly, with no indirect call per
 * operation to blur the differences being measured.
 */
#define DEFINE_PAIR_BATCH(name, ALLOC, FREE)				\
static uint64_t name##_allocfree(void *arg, uint64_t iters)		\
{									\
	struct ctx *x = arg;						\
	uint64_t t0 = bench_now_ns();					\
									\
	for (uint64_t i = 0; i < iters; i++) {				\
		uint64_t h;						\
									\
		ALLOC(x, h);						\
		BENCH_SINK(h);						\
		FREE(x, h);						\
	}								\
	return bench_now_ns() - t0;					\
}									\
									\
static uint64_t name##_held(void *arg, uint64_t iters)		\
{									\
	struct ctx *x = arg;						\
	uint64_t held, t;						\
									\
	ALLOC(x, held);							\
	t = name##_allocfree(arg, iters);				\
	FREE(x, held);							\
	return t;							\
}									\
									\
static uint64_t name##_batch(void *arg, uint64_t iters)		\
{									\
	struct ctx *x = arg;						\
	uint64_t *s = x->slots, t0 = bench_now_ns();			\
									\
	for (uint64_t i = 0; i < iters; i++) {				\
		for (unsigned k = 0; k < BATCH; k++)			\
			ALLOC(x, s[k]);					\
		for (unsigned k = 0; k < BATCH; k++)			\
			FREE(x, s[k]);					\
	}								\
	return bench_now_ns() - t0;					\
}

#define DEFINE_PATTERNS(name, ALLOC, FREE)				\
DEFINE_PAIR_BATCH(name, ALLOC, FREE)					\
									\
static uint64_t name##_mix(void *arg, uint64_t iters)			\
{									\
	struct ctx *x = arg;						\
	uint64_t *s = x->slots, rng = SEED, t0, t;			\
									\
	for (unsigned k = 0; k < LIVE; k++)				\
		ALLOC(x, s[k]);						\
	t0 = bench_now_ns();						\
	for (uint64_t i = 0; i < iters; i++) {				\
		uint32_t j = pick(&rng);				\
									\
		FREE(x, s[j]);						\
		ALLOC(x, s[j]);						\
	}								\
	t = bench_now_ns() - t0;					\
	for (unsigned k = 0; k < LIVE; k++)				\
		FREE(x, s[k]);						\
	return t;							\
}

#define KCHECK(call, what)						\
	do {								\
		int rc_ = (call);					\
		if (rc_)						\
			die(what, rc_);					\
	} while (0)

#define PCHECK(lv, call, what)						\
	do {								\
		void *p_ = (call);					\
		if (!p_)						\
			die(what, 0);					\
		(lv) = (uint64_t)(uintptr_t)p_;				\
	} while (0)

#define PTR(h) ((void *)(uintptr_t)(h))

#define SLAB_ALLOC(x, h) KCHECK(kmem_cache_alloc((x)->cache, &(h)), "kmem_cache_alloc")
#define SLAB_FREE(x, h) KCHECK(kmem_cache_free((x)->cache, (h)), "kmem_cache_free")
DEFINE_PATTERNS(slab, SLAB_ALLOC, SLAB_FREE)

#define KMALLOC_ALLOC(x, h) KCHECK(kmem_heap_alloc((x)->heap, (x)->size, &(h)), "kmem_heap_alloc")
#define KMALLOC_FREE(x, h) KCHECK(kmem_heap_free((x)->heap, (h)), "kmem_heap_free")
DEFINE_PATTERNS(kmalloc, KMALLOC_ALLOC, KMALLOC_FREE)

#define GLIBC_ALLOC(x, h) PCHECK(h, glibc_malloc((x)->size), "__libc_malloc")
#define GLIBC_FREE(x, h) glibc_free(PTR(h))
DEFINE_PATTERNS(glibc, GLIBC_ALLOC, GLIBC_FREE)

#define JE_ALLOC(x, h) PCHECK(h, mallocx((x)->size, 0), "mallocx")
#define JE_FREE(x, h) sdallocx(PTR(h), (x)->size, 0)
DEFINE_PATTERNS(je, JE_ALLOC, JE_FREE)

#define MI_ALLOC(x, h) PCHECK(h, mi_malloc((x)->size), "mi_malloc")
#define MI_FREE(x, h) mi_free(PTR(h))
DEFINE_PATTERNS(mi, MI_ALLOC, MI_FREE)

#define BUDDY_ALLOC(x, h) KCHECK(kmem_buddy_alloc_order((x)->buddy, (x)->order, &(h)), "kmem_buddy_alloc_order")
#define BUDDY_FREE(x, h) KCHECK(kmem_buddy_free((x)->buddy, (h)), "kmem_buddy_free")
DEFINE_PAIR_BATCH(buddy, BUDDY_ALLOC, BUDDY_FREE)

/* ------------------------------------------------------------ peers */

/*
 * Find glibc's __libc_malloc and __libc_free in libc.so.6 itself.  The
 * calls then go through a function pointer, one indirect branch, as a call
 * through the PLT to jemalloc or mimalloc is.
 */
static int bind_glibc(void)
{
	void *libc = dlopen(LIBC_SO, RTLD_NOW | RTLD_NOLOAD);

	if (!libc) {
		fprintf(stderr, "bench_engine: %s not loaded: %s\n", LIBC_SO,
			dlerror());
		return -1;
	}
	glibc_malloc = (void *(*)(size_t))dlsym(libc, "__libc_malloc");
	glibc_free = (void (*)(void *))dlsym(libc, "__libc_free");
	dlclose(libc);
	if (!glibc_malloc || !glibc_free) {
		fprintf(stderr, "bench_engine: no __libc_malloc/__libc_free in "
			"%s\n", LIBC_SO);
		return -1;
	}
	return 0;
}

/* The file name of the object that defines fn, for the record. */
static const char *owner(void *fn)
{
	Dl_info info;
	const char *slash;

	if (!dladdr(fn, &info) || !info.dli_fname)
		return "?";
	slash = strrchr(info.dli_fname, '/');
	return slash ? slash + 1 : info.dli_fname;
}

/* glibc's chunk size for a request of n bytes (malloc/malloc.c). */
static size_t ptmalloc_chunk(size_t n)
{
	size_t c = (n + sizeof(size_t) + 15) & ~(size_t)15;

	return c < 32 ? 32 : c;
}

/*
 * Check that each peer figure is the allocator it is labelled with.  The
 * brk heap [&end, sbrk(0)) is ptmalloc's main arena; jemalloc and mimalloc
 * take their memory with mmap (jemalloc's dss default is "secondary").
 * A ptmalloc chunk also carries its size in the word before the pointer.
 * Returns 0, or -1 after saying what is wrong.
 */
static int check_peers(void)
{
	extern char end;
	void *g = glibc_malloc(32), *j = mallocx(32, 0), *m = mi_malloc(32);
	char *lo = &end, *hi = sbrk(0);
	size_t hdr = g ? ((size_t *)g)[-1] & ~(size_t)7 : 0;
	bool g_brk = (char *)g >= lo && (char *)g < hi;
	bool j_brk = (char *)j >= lo && (char *)j < hi;
	bool m_brk = (char *)m >= lo && (char *)m < hi;
	int rc = 0;

	printf("peers: glibc    %s's __libc_malloc(32) = %p: %s brk heap, "
	       "chunk header %zu (ptmalloc: %zu)\n",
	       owner((void *)(uintptr_t)glibc_malloc), g,
	       g_brk ? "in the" : "NOT in the", hdr, ptmalloc_chunk(32));
	printf("       jemalloc %s's mallocx(32) = %p; mimalloc %s's "
	       "mi_malloc(32) = %p\n       (malloc itself is %s's)\n",
	       owner((void *)(uintptr_t)mallocx), j,
	       owner((void *)(uintptr_t)mi_malloc), m,
	       owner((void *)(uintptr_t)malloc));
	if (!g || !j || !m || !g_brk || hdr != ptmalloc_chunk(32) || j_brk ||
	    m_brk) {
		fprintf(stderr, "bench_engine: peer check failed (brk heap "
			"[%p, %p))\n", (void *)lo, (void *)hi);
		rc = -1;
	}
	glibc_free(g);
	if (j)
		dallocx(j, 0);
	mi_free(m);
	return rc;
}

/* ------------------------------------------------------------ cases */

enum { P_ALLOCFREE, P_HELD, P_BATCH, P_MIX, P_COUNT };

static const struct {
	const char *name;
	uint64_t ops_per_iter;
} patterns[P_COUNT] = {
	[P_ALLOCFREE] = { "allocfree", 1 },
	[P_HELD] = { "allocfree-held", 1 },
	[P_BATCH] = { "batch1000", BATCH },
	[P_MIX] = { "mix10k", 1 },
};

typedef uint64_t (*run_fn)(void *, uint64_t);

#define RUNS(n) { n##_allocfree, n##_held, n##_batch, n##_mix }

static const struct {
	const char *impl;
	bool peer;
	run_fn run[P_COUNT];
} slab_impls[] = {
	{ "kmem-slab", false, RUNS(slab) },
	{ "kmem-kmalloc", false, RUNS(kmalloc) },
	{ "glibc", true, RUNS(glibc) },
	{ "jemalloc", true, RUNS(je) },
	{ "mimalloc", true, RUNS(mi) },
};

#define NIMPLS (sizeof(slab_impls) / sizeof(slab_impls[0]))

static int run_slab_cases(struct bench_results *r, const struct bench_opts *o,
			  struct kmem_heap *h, uint64_t *slots)
{
	for (size_t si = 0; si < sizeof(slab_sizes) / sizeof(*slab_sizes); si++) {
		struct ctx x = { .heap = h, .size = slab_sizes[si],
				 .slots = slots };
		struct kmem_cache_params cp = { .size = slab_sizes[si] };
		char name[KMEM_CACHE_NAME_MAX];

		snprintf(name, sizeof(name), "bench-%u", slab_sizes[si]);
		cp.name = name;
		KCHECK(kmem_cache_create(h, &cp, &x.cache), "kmem_cache_create");
		for (size_t p = 0; p < P_COUNT; p++) {
			struct bench_item items[NIMPLS];
			char cname[48];

			snprintf(cname, sizeof(cname), "slab-%u-%s",
				 slab_sizes[si], patterns[p].name);
			for (size_t i = 0; i < NIMPLS; i++)
				items[i] = (struct bench_item){
					.case_name = cname,
					.impl = slab_impls[i].impl,
					.peer = slab_impls[i].peer,
					.ops_per_iter = patterns[p].ops_per_iter,
					.run = slab_impls[i].run[p], .arg = &x,
				};
			if (bench_run_case(r, o, items, NIMPLS))
				return -1;
		}
		KCHECK(kmem_cache_destroy(x.cache), "kmem_cache_destroy");
	}
	return 0;
}

static int run_buddy_cases(struct bench_results *r, const struct bench_opts *o,
			   uint64_t *slots)
{
	static const run_fn runs[P_COUNT] = {
		buddy_allocfree, buddy_held, buddy_batch, NULL,
	};
	struct kmem_buddy_params bp = { .npages = BUDDY_PAGES,
					.page_size = PAGE_BYTES };
	struct ctx x = { .slots = slots };
	int rc = 0;

	KCHECK(kmem_buddy_create(&bp, &x.buddy), "kmem_buddy_create");
	for (size_t oi = 0; oi < sizeof(buddy_orders) / sizeof(*buddy_orders) &&
			    !rc; oi++) {
		for (size_t p = 0; p < P_MIX && !rc; p++) {
			char cname[48];
			struct bench_item it = {
				.case_name = cname, .impl = "kmem-buddy",
				.ops_per_iter = patterns[p].ops_per_iter,
				.run = runs[p], .arg = &x,
			};

			x.order = buddy_orders[oi];
			snprintf(cname, sizeof(cname), "buddy-o%u-%s", x.order,
				 patterns[p].name);
			rc = bench_run_case(r, o, &it, 1);
		}
	}
	if (!kmem_buddy_is_pristine(x.buddy))
		die("buddy not pristine after the run", KMEM_ECORRUPT);
	kmem_buddy_destroy(x.buddy);
	return rc;
}

/* ------------------------------------------------------------ report */

static void print_machine(int cpu)
{
	char line[256], model[256] = "?";
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(model, sizeof(model), "%s", c + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	printf("machine: %s, %ld online CPUs; ", model,
	       sysconf(_SC_NPROCESSORS_ONLN));
	if (cpu >= 0)
		printf("pinned to CPU %d\n", cpu);
	else
		printf("not pinned\n");
}

static const struct bench_figure *find(const struct bench_results *r,
				       const char *case_name, const char *impl)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].case_name, case_name) &&
		    !strcmp(r->v[i].impl, impl))
			return &r->v[i];
	return NULL;
}

/* The targets, met or missed, from the figures measured. */
static void print_targets(const struct bench_results *r)
{
	static const char *const pats[] = { "allocfree-held", "allocfree" };
	const struct bench_figure *f;
	char cname[48];

	printf("\ntargets:\n");
	for (size_t p = 0; p < 2; p++) {
		for (size_t si = 0; si < sizeof(slab_sizes) / sizeof(*slab_sizes);
		     si++) {
			double best;

			snprintf(cname, sizeof(cname), "slab-%u-%s",
				 slab_sizes[si], pats[p]);
			f = find(r, cname, "kmem-slab");
			best = bench_best_peer(r, cname);
			if (f && best > 0)
				printf("  slab %-24s kmem-slab/best peer %.2f "
				       "(<= 1.00): %s\n", cname,
				       f->median / best,
				       f->median <= best ? "met" : "MISSED");
		}
	}
	for (size_t p = 0; p < 2; p++) {
		snprintf(cname, sizeof(cname), "buddy-o0-%s", pats[p]);
		f = find(r, cname, "kmem-buddy");
		if (f)
			printf("  %-29s %.1f ns (< 60): %s\n", cname, f->median,
			       f->median < 60 ? "met" : "MISSED");
	}
}

static const char usage[] =
	"bench_engine - ns per alloc+free of the kmem engine (buddy, slab, "
	"kmalloc)\nagainst glibc, jemalloc and mimalloc; writes engine.json.\n";

int main(int argc, char **argv)
{
	struct bench_results r = { 0 };
	struct bench_opts o;
	struct kmem_heap_params hp = { .size = HEAP_BYTES,
				       .page_size = PAGE_BYTES };
	struct kmem_heap *h;
	char msg[KMEM_MSG_MAX] = "";
	uint64_t *slots;
	int rc = bench_parse_args(argc, argv, &o, usage);

	if (rc)
		return rc > 0 ? 0 : 2;
	print_machine(bench_pin(&o));
	if (bind_glibc() || check_peers())
		return 1;
	printf("median of %d repetitions of ~%llu ms; one op = one alloc + "
	       "one free; ratio = median / best peer median\n\n", o.reps,
	       (unsigned long long)(o.target_ns / 1000000));
	fflush(stdout);
	slots = calloc(LIVE, sizeof(*slots));
	if (!slots)
		die("slots", 0);
	rc = kmem_heap_create(&hp, &h, msg, sizeof(msg));
	if (rc)
		die(msg, rc);
	if (run_slab_cases(&r, &o, h, slots) || run_buddy_cases(&r, &o, slots))
		die("results", 0);
	KCHECK(kmem_heap_check(h), "kmem_heap_check");
	kmem_heap_destroy(h);
	free(slots);
	bench_results_print(&r, stdout);
	print_targets(&r);
	rc = bench_results_write_json(&r, o.json_dir, "engine.json");
	if (!rc)
		printf("\nwrote %s/engine.json\n", o.json_dir);
	bench_results_fini(&r);
	return rc ? 1 : 0;
}
