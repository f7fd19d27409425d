/*
 * bench_dpdk.c - kmem next to what a user would reach for instead: DPDK's
 * rte_mempool, rte_malloc and rte_memzone, and glibc, jemalloc and
 * mimalloc for small objects, all in one process run.
 *
 * Cases (ns per object: one allocation plus its free):
 *   obj-<64|2048>-pair     one get + one put, with one object of the pool
 *                          held for the whole run (bench_engine's
 *                          allocfree-held: the steady state);
 *   obj-<64|2048>-burst32  32 gets, then the 32 puts (DPDK's usual burst);
 *                          the bulk calls where the API has them.
 *     dpdk-mempool-cache    rte_mempool_get/put (_bulk) on a pool with a
 *                           per-lcore cache of 256;
 *     dpdk-mempool-nocache  the same pool type without the cache (every
 *                           get and put goes to the ring);
 *     kmem-slab             kmem_cache_alloc/free on a named cache of the
 *                           in-process engine (offsets only, as
 *                           bench_engine);
 *     libkmem-magazine      kmem_client_cache_alloc(count 1 or 32) and
 *                           kmem_client_cache_free on a named cache in a
 *                           real kmemd (pinned to this CPU), on a
 *                           connection with libkmem's client-side
 *                           magazines: no round trip unless a magazine is
 *                           empty or full.  Only when this libkmem has
 *                           magazines (rpc/conn.h);
 *     libkmem-mag-kmalloc   kmem_client_alloc/free of the size on that
 *                           connection: the size-class magazines (the
 *                           issue's target: 64 B within 2x of glibc);
 *     libkmem-rpc           the cache calls on a connection without magazines:
 *                           every get and every put is a round trip
 *                           (batched for burst32: two round trips per 32);
 *     glibc, jemalloc, mimalloc  malloc/free of the size (each through an
 *                           entry point of its own, as bench_engine does).
 *   malloc-<4k|64k>-pair   rte_malloc/rte_free against kmem_heap_alloc/free
 *                          (engine: 4 KiB from the kmalloc-4k slabs, 64 KiB
 *                          exact pages), kmem_pool_alloc/free (a real pool
 *                          of 2 MiB pages: physical address included),
 *                          the same with KMEM_ALLOC_ZERO (kmem-pool-zero:
 *                          rte_free zeroes what it frees, so rte_malloc's
 *                          memory comes back zeroed), and libkmem
 *                          kmem_client_alloc/free (libkmem-rpc: round
 *                          trips; libkmem-magazine for 4 KiB when the
 *                          library has magazines); one object of the size
 *                          held throughout.
 *   contig-<2m|8m>-pair    rte_memzone_reserve(RTE_MEMZONE_IOVA_CONTIG) +
 *                          rte_memzone_free (which zeroes the zone on free)
 *                          against a contiguous kmem_pool_alloc/free, the
 *                          same zeroed, and kmem_client_alloc/free.
 * The DPDK figures are the peers: ratio = median / the best DPDK median of
 * the case (without DPDK: the mallocs for small objects, kmem-heap and
 * kmem-pool for the page cases).  print_targets() adds the ratios the
 * issue names and the magazine target (64 B through libkmem's magazine
 * within 2x of glibc, measured in the same run).
 *
 * JSON (build/bench/dpdk.json): benchutil's records, case and impl as
 * above, ns_per_op the median ns per object, min and max.
 *
 * DPDK set-up.  EAL runs in-memory (no hugetlbfs mount, no shared files),
 * on this CPU only, without PCI or telemetry.  As root with one free 1 GiB
 * hugepage it runs in IOVA-as-PA mode on that page, so an IOVA_CONTIG
 * memzone is physically contiguous like a kmem pool allocation; with 2 MiB
 * pages only, DPDK's dynamic memory cannot promise 8 MiB of physically
 * contiguous pages, so it runs in IOVA-as-VA mode (IOVA_CONTIG then means
 * virtually contiguous); without hugepages --no-huge (VA).  The mode used
 * is printed.  Built without libdpdk-dev (scripts/deps.sh bench), or when
 * EAL does not start, the DPDK figures are skipped and the run says so.
 */
#include <dlfcn.h>
#include <gnu/lib-names.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>
#include <mimalloc.h>

#ifdef KMEM_HAVE_DPDK
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_version.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_memzone.h>
#endif

#include "kmem/client.h"
#include "kmem/error.h"
#include "kmem/heap.h"
#include "kmem/pool.h"
#include "benchutil.h"
#include "rpc/conn.h"
#include "rpc/huge.h"
#include "rpc/proc.h"

#define MiB (UINT64_C(1) << 20)
#define BURST 32
#define POOL_OBJS 8191		/* per rte_mempool (2^n - 1, as DPDK likes) */
#define MP_CACHE 256
#define POOL_BYTES (256 * MiB)

static const char usage[] =
"bench_dpdk - kmem against DPDK rte_mempool/rte_malloc/rte_memzone and\n"
"glibc/jemalloc/mimalloc; writes dpdk.json\n"
"  --kmemd PATH  the daemon binary (default $KMEMD_BIN, else ../kmemd)\n";

static void *(*glibc_malloc)(size_t);
static void (*glibc_free)(void *);

/* Everything one figure's run function may need. */
struct ctx {
	size_t size;
	struct kmem_cache *kc;		/* engine cache of size */
	struct kmem_heap *heap;		/* the engine, offsets only */
	struct kmem_pool *pool;		/* a real pool */
	struct kmem_client *cl;		/* libkmem, no magazines */
	struct kmem_client *mag;	/* libkmem with magazines, or NULL */
	char dcache[32];		/* kmemd cache of size */
#ifdef KMEM_HAVE_DPDK
	struct rte_mempool *mp_cache, *mp_nocache;
#endif
	void *p[BURST];
	uint64_t off[BURST], ids[BURST];
	struct kmem_buf b[BURST];
	struct kmem_pool_buf pb[2];
};

static _Noreturn void kdie(const char *what, int rc)
{
	rpc_die("%s: %s", what, kmem_strerror(rc));
}

#define KCHECK(call, what)						\
	do {								\
		int rc_ = (call);					\
		if (rc_)						\
			kdie(what, rc_);				\
	} while (0)

/*
 * Run functions: PAIR(name, ALLOC, FREE) times alloc+free with one object
 * held; BURSTN(name, ALLOC, FREE) times BURST allocations then their
 * frees.  ALLOC(x, i) fills slot i, FREE(x, i) frees it.
 */
#define PAIR(name, ALLOC, FREE)						\
static uint64_t name##_pair(void *arg, uint64_t iters)			\
{									\
	struct ctx *x = arg;						\
	uint64_t t0;							\
									\
	ALLOC(x, 1);							\
	t0 = bench_now_ns();						\
	for (uint64_t i = 0; i < iters; i++) {				\
		ALLOC(x, 0);						\
		FREE(x, 0);						\
	}								\
	t0 = bench_now_ns() - t0;					\
	FREE(x, 1);							\
	return t0;							\
}

#define BURSTN(name, ALLOC, FREE)					\
static uint64_t name##_burst(void *arg, uint64_t iters)		\
{									\
	struct ctx *x = arg;						\
	uint64_t t0 = bench_now_ns();					\
									\
	for (uint64_t i = 0; i < iters; i++) {				\
		for (int k = 0; k < BURST; k++)				\
			ALLOC(x, k);					\
		for (int k = 0; k < BURST; k++)				\
			FREE(x, k);					\
	}								\
	return bench_now_ns() - t0;					\
}

#define NULLCHK(e, what) do { if (!(e)) rpc_die("%s failed", what); } while (0)

#define SLAB_A(x, i) KCHECK(kmem_cache_alloc((x)->kc, &(x)->off[i]), "kmem_cache_alloc")
#define SLAB_F(x, i) KCHECK(kmem_cache_free((x)->kc, (x)->off[i]), "kmem_cache_free")
PAIR(slab, SLAB_A, SLAB_F)
BURSTN(slab, SLAB_A, SLAB_F)

#define GL_A(x, i) NULLCHK((x)->p[i] = glibc_malloc((x)->size), "__libc_malloc")
#define GL_F(x, i) glibc_free((x)->p[i])
PAIR(glibc, GL_A, GL_F)
BURSTN(glibc, GL_A, GL_F)

#define JE_A(x, i) NULLCHK((x)->p[i] = mallocx((x)->size, 0), "mallocx")
#define JE_F(x, i) sdallocx((x)->p[i], (x)->size, 0)
PAIR(je, JE_A, JE_F)
BURSTN(je, JE_A, JE_F)

#define MI_A(x, i) NULLCHK((x)->p[i] = mi_malloc((x)->size), "mi_malloc")
#define MI_F(x, i) mi_free((x)->p[i])
PAIR(mi, MI_A, MI_F)
BURSTN(mi, MI_A, MI_F)

/* libkmem on a kmemd named cache: one object per round trip. */
#define RPC_A(x, i) KCHECK(kmem_client_cache_alloc((x)->cl, (x)->dcache, 1, &(x)->b[i]), "kmem_client_cache_alloc")
#define RPC_F(x, i) KCHECK(kmem_client_cache_free((x)->cl, &(x)->b[i].id, 1), "kmem_client_cache_free")
PAIR(rpc, RPC_A, RPC_F)
#define MAG_A(x, i) KCHECK(kmem_client_cache_alloc((x)->mag, (x)->dcache, 1, &(x)->b[i]), "kmem_client_cache_alloc")
#define MAG_F(x, i) KCHECK(kmem_client_cache_free((x)->mag, &(x)->b[i].id, 1), "kmem_client_cache_free")
PAIR(mag, MAG_A, MAG_F)

static uint64_t cl_burst(struct ctx *x, struct kmem_client *c, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		KCHECK(kmem_client_cache_alloc(c, x->dcache, BURST, x->b),
		       "kmem_client_cache_alloc");
		for (int k = 0; k < BURST; k++)
			x->ids[k] = x->b[k].id;
		KCHECK(kmem_client_cache_free(c, x->ids, BURST),
		       "kmem_client_cache_free");
	}
	return bench_now_ns() - t0;
}

static uint64_t rpc_burst(void *arg, uint64_t iters)
{
	struct ctx *x = arg;

	return cl_burst(x, x->cl, iters);
}

static uint64_t mag_burst(void *arg, uint64_t iters)
{
	struct ctx *x = arg;

	return cl_burst(x, x->mag, iters);
}

#define HEAP_A(x, i) KCHECK(kmem_heap_alloc((x)->heap, (x)->size, &(x)->off[i]), "kmem_heap_alloc")
#define HEAP_F(x, i) KCHECK(kmem_heap_free((x)->heap, (x)->off[i]), "kmem_heap_free")
PAIR(heap, HEAP_A, HEAP_F)

static void pool_alloc(struct ctx *x, int i, unsigned flags)
{
	struct kmem_pool_req q = { .size = x->size, .node = -1, .flags = flags };
	char msg[KMEM_MSG_MAX];

	if (kmem_pool_alloc(x->pool, &q, &x->pb[i], msg, sizeof(msg)))
		rpc_die("kmem_pool_alloc: %s", msg);
}

#define POOL_A(x, i) pool_alloc(x, i, 0)
#define POOL_F(x, i) KCHECK(kmem_pool_free((x)->pool, &(x)->pb[i]), "kmem_pool_free")
PAIR(pool, POOL_A, POOL_F)
#define POOLZ_A(x, i) pool_alloc(x, i, KMEM_ALLOC_ZERO)
PAIR(poolz, POOLZ_A, POOL_F)

#define CL_A(x, i) KCHECK(kmem_client_alloc((x)->cl, (x)->size, NULL, &(x)->b[i]), "kmem_client_alloc")
#define CL_F(x, i) KCHECK(kmem_client_free((x)->cl, &(x)->b[i]), "kmem_client_free")
PAIR(client, CL_A, CL_F)
#define CM_A(x, i) KCHECK(kmem_client_alloc((x)->mag, (x)->size, NULL, &(x)->b[i]), "kmem_client_alloc")
#define CM_F(x, i) KCHECK(kmem_client_free((x)->mag, &(x)->b[i]), "kmem_client_free")
PAIR(clmag, CM_A, CM_F)
BURSTN(clmag, CM_A, CM_F)

#ifdef KMEM_HAVE_DPDK
#define MPC_A(x, i) NULLCHK(!rte_mempool_get((x)->mp_cache, &(x)->p[i]), "rte_mempool_get")
#define MPC_F(x, i) rte_mempool_put((x)->mp_cache, (x)->p[i])
PAIR(mpc, MPC_A, MPC_F)
#define MPN_A(x, i) NULLCHK(!rte_mempool_get((x)->mp_nocache, &(x)->p[i]), "rte_mempool_get")
#define MPN_F(x, i) rte_mempool_put((x)->mp_nocache, (x)->p[i])
PAIR(mpn, MPN_A, MPN_F)

static uint64_t mp_burst(struct rte_mempool *mp, void **p, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		if (rte_mempool_get_bulk(mp, p, BURST))
			rpc_die("rte_mempool_get_bulk failed");
		rte_mempool_put_bulk(mp, p, BURST);
	}
	return bench_now_ns() - t0;
}

static uint64_t mpc_burst(void *arg, uint64_t iters)
{
	struct ctx *x = arg;

	return mp_burst(x->mp_cache, x->p, iters);
}

static uint64_t mpn_burst(void *arg, uint64_t iters)
{
	struct ctx *x = arg;

	return mp_burst(x->mp_nocache, x->p, iters);
}

#define RTE_A(x, i) NULLCHK((x)->p[i] = rte_malloc(NULL, (x)->size, 0), "rte_malloc")
#define RTE_F(x, i) rte_free((x)->p[i])
PAIR(rte, RTE_A, RTE_F)

static void mz_reserve(struct ctx *x, int i)
{
	char name[32];
	const struct rte_memzone *mz;

	snprintf(name, sizeof(name), "bench-mz%d", i);
	mz = rte_memzone_reserve(name, x->size, SOCKET_ID_ANY,
				 RTE_MEMZONE_IOVA_CONTIG);
	if (!mz)
		rpc_die("rte_memzone_reserve(%zu, IOVA_CONTIG): %s", x->size,
			rte_strerror(rte_errno));
	x->p[i] = (void *)(uintptr_t)mz;
}

#define MZ_A(x, i) mz_reserve(x, i)
#define MZ_F(x, i) rte_memzone_free((const struct rte_memzone *)(x)->p[i])
PAIR(mz, MZ_A, MZ_F)
#endif

/* Can both kmem sides (and DPDK, when built in) serve x->size
 * contiguously once right now? */
static bool contig_available(struct ctx *x, bool have_dpdk)
{
	struct kmem_pool_req q = { .size = x->size, .node = -1 };
	struct kmem_pool_buf pb;
	struct kmem_buf b;
	char msg[KMEM_MSG_MAX];

	if (kmem_pool_alloc(x->pool, &q, &pb, msg, sizeof(msg)))
		return false;
	kmem_pool_free(x->pool, &pb);
	if (kmem_client_alloc(x->cl, x->size, NULL, &b))
		return false;
	kmem_client_free(x->cl, &b);
#ifdef KMEM_HAVE_DPDK
	if (have_dpdk) {
		const struct rte_memzone *mz = rte_memzone_reserve("bench-probe",
			x->size, SOCKET_ID_ANY, RTE_MEMZONE_IOVA_CONTIG);

		if (!mz)
			return false;
		rte_memzone_free(mz);
	}
#else
	(void)have_dpdk;
#endif
	return true;
}

/* ------------------------------------------------------------ set-up */

static int bind_glibc(void)
{
	void *libc = dlopen(LIBC_SO, RTLD_NOW | RTLD_NOLOAD);

	if (!libc)
		return -1;
	glibc_malloc = (void *(*)(size_t))dlsym(libc, "__libc_malloc");
	glibc_free = (void (*)(void *))dlsym(libc, "__libc_free");
	dlclose(libc);
	return glibc_malloc && glibc_free ? 0 : -1;
}

#ifdef KMEM_HAVE_DPDK
/*
 * Start EAL as described at the top; returns true when it runs.  mode
 * gets a description for the report.
 */
static bool start_dpdk(int cpu, char *mode, size_t len)
{
	char lcore[16], *av[16];
	int ac = 0;
	bool g1 = rpc_huge_reserve(RPC_HUGE_1G, 1);
	bool m2 = !g1 && rpc_huge_reserve(RPC_HUGE_2M, 64);

	snprintf(lcore, sizeof(lcore), "%d", cpu < 0 ? 0 : cpu);
	av[ac++] = (char *)"bench_dpdk";
	av[ac++] = (char *)"-l";
	av[ac++] = lcore;
	av[ac++] = (char *)"--no-pci";
	av[ac++] = (char *)"--no-telemetry";
	av[ac++] = (char *)"--log-level=*:error";
	if (g1 || m2) {
		av[ac++] = (char *)"--in-memory";
		av[ac++] = (char *)(g1 ? "--iova-mode=pa" : "--iova-mode=va");
	} else {
		av[ac++] = (char *)"--no-huge";
		av[ac++] = (char *)"--no-shconf";
		av[ac++] = (char *)"-m";
		av[ac++] = (char *)"512";
	}
	av[ac] = NULL;
	fflush(NULL);
	if (rte_eal_init(ac, av) < 0) {
		snprintf(mode, len, "EAL did not start (%s): DPDK figures skipped",
			 rte_strerror(rte_errno));
		return false;
	}
	snprintf(mode, len, "%s, EAL in-memory on %s, IOVA as %s",
		 rte_version(), g1 ? "one 1 GiB hugepage" : m2 ?
		 "2 MiB hugepages" : "4 KiB pages (--no-huge)",
		 rte_eal_iova_mode() == RTE_IOVA_PA ? "PA" : "VA");
	return true;
}
#endif

static pid_t start_kmemd(const char *bin, char *spec, size_t len)
{
	bool huge = rpc_huge_reserve(RPC_HUGE_2M, POOL_BYTES / (2 * MiB));
	pid_t pid;

	snprintf(spec, len, "name=b,size=256M,page=%s", huge ? "2M" : "4K,nohuge");
	pid = rpc_kmemd_start(bin, spec);
	if (!pid) {
		rpc_kmemd_dump_log();
		rpc_die("%s exited at start-up", bin);
	}
	return pid;
}

/* ------------------------------------------------------------ cases */

typedef uint64_t (*run_fn)(void *, uint64_t);

struct impl {
	const char *name;
	bool dpdk;		/* a peer, present only with DPDK */
	bool malloc_peer;	/* a peer when DPDK is absent */
	run_fn run;		/* NULL: not in this build */
};

/* The magazine figures exist only when libkmem has magazines. */
#define MAG_RUN(f) (rpc_have_magazines() ? (f) : NULL)

static int run(struct bench_results *r, const struct bench_opts *o,
	       const char *cname, const struct impl *im, size_t n,
	       bool have_dpdk, uint64_t per_iter, struct ctx *x)
{
	struct bench_item it[12];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (!im[i].run || (im[i].dpdk && !have_dpdk))
			continue;
		it[k++] = (struct bench_item){
			.case_name = cname, .impl = im[i].name,
			.peer = have_dpdk ? im[i].dpdk : im[i].malloc_peer,
			.ops_per_iter = per_iter, .run = im[i].run, .arg = x,
		};
	}
	return bench_run_case(r, o, it, k);
}

#ifdef KMEM_HAVE_DPDK
#define DPDK_RUN(f) f
#else
#define DPDK_RUN(f) NULL
#endif

static void small_cases(struct bench_results *r, const struct bench_opts *o,
			struct ctx *x, bool have_dpdk)
{
	static const size_t sizes[2] = { 64, 2048 };
	const struct impl pair[] = {
		{ "dpdk-mempool-cache", true, false, DPDK_RUN(mpc_pair) },
		{ "dpdk-mempool-nocache", true, false, DPDK_RUN(mpn_pair) },
		{ "kmem-slab", false, false, slab_pair },
		{ "libkmem-magazine", false, false, MAG_RUN(mag_pair) },
		{ "libkmem-mag-kmalloc", false, false, MAG_RUN(clmag_pair) },
		{ "libkmem-rpc", false, false, rpc_pair },
		{ "glibc", false, true, glibc_pair },
		{ "jemalloc", false, true, je_pair },
		{ "mimalloc", false, true, mi_pair },
	};
	const struct impl burst[] = {
		{ "dpdk-mempool-cache", true, false, DPDK_RUN(mpc_burst) },
		{ "dpdk-mempool-nocache", true, false, DPDK_RUN(mpn_burst) },
		{ "kmem-slab", false, false, slab_burst },
		{ "libkmem-magazine", false, false, MAG_RUN(mag_burst) },
		{ "libkmem-mag-kmalloc", false, false, MAG_RUN(clmag_burst) },
		{ "libkmem-rpc", false, false, rpc_burst },
		{ "glibc", false, true, glibc_burst },
		{ "jemalloc", false, true, je_burst },
		{ "mimalloc", false, true, mi_burst },
	};
	const size_t n = sizeof(pair) / sizeof(pair[0]);

	for (int s = 0; s < 2; s++) {
		struct kmem_cache_params cp = { .name = "bench", .size = sizes[s] };
		char cname[48];
		uint64_t id;

		x->size = sizes[s];
		KCHECK(kmem_cache_create(x->heap, &cp, &x->kc), "kmem_cache_create");
		snprintf(x->dcache, sizeof(x->dcache), "bench-%zu", sizes[s]);
		KCHECK(kmem_client_cache_create(x->cl, NULL, x->dcache, sizes[s], 0, &id),
		       "kmem_client_cache_create");
#ifdef KMEM_HAVE_DPDK
		if (have_dpdk) {
			char name[32];

			snprintf(name, sizeof(name), "mpc%zu", sizes[s]);
			x->mp_cache = rte_mempool_create(name, POOL_OBJS, (unsigned)sizes[s],
							 MP_CACHE, 0, NULL, NULL, NULL,
							 NULL, SOCKET_ID_ANY, 0);
			snprintf(name, sizeof(name), "mpn%zu", sizes[s]);
			x->mp_nocache = rte_mempool_create(name, POOL_OBJS, (unsigned)sizes[s],
							   0, 0, NULL, NULL, NULL,
							   NULL, SOCKET_ID_ANY, 0);
			if (!x->mp_cache || !x->mp_nocache)
				rpc_die("rte_mempool_create: %s", rte_strerror(rte_errno));
		}
#endif
		snprintf(cname, sizeof(cname), "obj-%zu-pair", sizes[s]);
		if (run(r, o, cname, pair, n, have_dpdk, 1, x))
			rpc_die("out of memory");
		snprintf(cname, sizeof(cname), "obj-%zu-burst32", sizes[s]);
		if (run(r, o, cname, burst, n, have_dpdk, BURST, x))
			rpc_die("out of memory");
#ifdef KMEM_HAVE_DPDK
		if (have_dpdk) {
			rte_mempool_free(x->mp_cache);
			rte_mempool_free(x->mp_nocache);
		}
#endif
		KCHECK(kmem_cache_destroy(x->kc), "kmem_cache_destroy");
		/* The magazine connection drains its idle objects first. */
		KCHECK(kmem_client_cache_destroy(x->mag ? x->mag : x->cl, x->dcache),
		       "kmem_client_cache_destroy");
	}
}

static void page_cases(struct bench_results *r, const struct bench_opts *o,
		       struct ctx *x, bool have_dpdk)
{
	const struct impl malloc_impls[] = {
		{ "dpdk-rte_malloc", true, false, DPDK_RUN(rte_pair) },
		{ "kmem-heap", false, true, heap_pair },
		{ "kmem-pool", false, false, pool_pair },
		{ "kmem-pool-zero", false, false, poolz_pair },
		{ "libkmem-magazine", false, false, MAG_RUN(clmag_pair) },
		{ "libkmem-rpc", false, false, client_pair },
	};
	const struct impl contig_impls[] = {
		{ "dpdk-memzone", true, false, DPDK_RUN(mz_pair) },
		{ "kmem-pool", false, true, pool_pair },
		{ "kmem-pool-zero", false, false, poolz_pair },
		{ "libkmem-rpc", false, false, client_pair },
	};
	static const struct { const char *name; size_t size; bool contig; } cases[] = {
		{ "malloc-4k-pair", 4096, false },	/* magazines: <= 8 KiB */
		{ "malloc-64k-pair", 65536, false },
		{ "contig-2m-pair", 2 * MiB, true },
		{ "contig-8m-pair", 8 * MiB, true },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct impl im[6];
		size_t n = cases[c].contig ? 4 : 6;

		x->size = cases[c].size;
		/* Physically contiguous blocks depend on how fragmented the
		 * machine's hugepages are: a case no implementation can
		 * serve here is skipped and said to be, not failed. */
		if (cases[c].contig && !contig_available(x, have_dpdk)) {
			printf("%s: skipped: no %zu MiB physically contiguous block "
			       "in this run's pools (hugepages too fragmented)\n",
			       cases[c].name, cases[c].size / MiB);
			continue;
		}
		memcpy(im, cases[c].contig ? contig_impls : malloc_impls,
		       n * sizeof(*im));
		/* Magazines serve 8 KiB and less only. */
		if (!cases[c].contig && cases[c].size > KMEM_KMALLOC_MAX)
			im[4].run = NULL;
		x->size = cases[c].size;
		if (run(r, o, cases[c].name, im, n, have_dpdk, 1, x))
			rpc_die("out of memory");
	}
}

/* ------------------------------------------------------------ report */

static const struct bench_figure *find(const struct bench_results *r,
				       const char *c, const char *impl)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].case_name, c) && !strcmp(r->v[i].impl, impl))
			return &r->v[i];
	return NULL;
}

/* The ratios the issue asks about, from the figures measured. */
static void print_targets(const struct bench_results *r)
{
	static const char *const cases[] = {
		"obj-64-pair", "obj-64-burst32", "obj-2048-pair", "obj-2048-burst32",
	};
	static const char *const ours[] = {
		"kmem-slab", "libkmem-magazine", "libkmem-mag-kmalloc",
	};
	const struct bench_figure *f, *g;

	printf("\nratios:\n");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		g = find(r, cases[c], "dpdk-mempool-cache");
		for (size_t i = 0; g && i < sizeof(ours) / sizeof(ours[0]); i++)
			if ((f = find(r, cases[c], ours[i])))
				printf("  %-17s %-20s / dpdk-mempool-cache %6.2f\n",
				       cases[c], ours[i], f->median / g->median);
	}
	f = find(r, "obj-64-pair", "libkmem-mag-kmalloc");
	g = find(r, "obj-64-pair", "glibc");
	if (f && g)
		printf("targets:\n  64 B alloc+free through libkmem (magazine) / "
		       "glibc %.2f (<= 2.0): %s\n", f->median / g->median,
		       f->median <= 2 * g->median ? "met" : "MISSED");
}

/* ------------------------------------------------------------ main */

/* /proc/loadavg's first three fields: how busy the neighbours are. */
static const char *loadavg(void)
{
	static char buf[64] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		float a, b, c;

		if (fscanf(f, "%f %f %f", &a, &b, &c) == 3)
			snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", a, b, c);
		fclose(f);
	}
	return buf;
}

static const char *kmemd_arg(int *argc, char **argv)
{
	const char *bin = getenv("KMEMD_BIN");

	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--kmemd") || i + 1 >= *argc)
			continue;
		bin = argv[i + 1];
		memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 1) * sizeof(*argv));
		*argc -= 2;
		break;
	}
	return bin;
}

int main(int argc, char **argv)
{
	static struct ctx x;
	struct bench_results r = { 0 };
	uint64_t t_start = bench_now_ns();
	const char *bin = kmemd_arg(&argc, argv);
	struct kmem_heap_params hp = { .size = POOL_BYTES, .page_size = 4096 };
	struct kmem_pool_params pp = { .size = POOL_BYTES, .page_size = 2 * MiB,
				       .allow_nohuge = true };
	char binbuf[4096], spec[96], mode[256], msg[KMEM_MSG_MAX];
	bool have_dpdk = false;
	struct bench_opts o;
	int cpu, rc;
	pid_t kmemd;

	rc = bench_parse_args(argc, argv, &o, usage);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (!bin) {
		const char *slash = strrchr(argv[0], '/');

		snprintf(binbuf, sizeof(binbuf), "%.*s/../kmemd",
			 slash ? (int)(slash - argv[0]) : 1, slash ? argv[0] : ".");
		bin = binbuf;
	}
	if (access(bin, X_OK))
		rpc_die("no kmemd binary at %s (set KMEMD_BIN or --kmemd)", bin);
	if (bind_glibc())
		rpc_die("no __libc_malloc/__libc_free in %s", LIBC_SO);
	rpc_setup();
	cpu = bench_pin(&o);
#ifdef KMEM_HAVE_DPDK
	have_dpdk = start_dpdk(cpu, mode, sizeof(mode));
#else
	snprintf(mode, sizeof(mode), "DPDK: not built in (no libdpdk-dev: "
		 "`sh scripts/deps.sh bench` installs it); DPDK figures skipped");
#endif
	printf("bench_dpdk: %s; load average %s\n", mode, loadavg());
	kmemd = start_kmemd(bin, spec, sizeof(spec));
	if (cpu >= 0)
		rpc_pin(kmemd, cpu);
	x.cl = rpc_connect("bench-dpdk-rpc", false);
	x.mag = rpc_have_magazines() ? rpc_connect("bench-dpdk-mag", true) : NULL;
	KCHECK(kmem_heap_create(&hp, &x.heap, msg, sizeof(msg)), msg);
	if (rpc_huge_reserve(RPC_HUGE_2M, POOL_BYTES / (2 * MiB)) == false)
		printf("(kmem-pool on 4 KiB pages: no 2 MiB hugepages)\n");
	if (kmem_pool_create(&pp, &x.pool, msg, sizeof(msg)))
		rpc_die("kmem_pool_create: %s", msg);
	printf("kmemd --pool %s on CPU %d with this process; kmem-pool: %s of %s "
	       "pages in-process\nmedian of %d repetitions of ~%llu ms; ns per "
	       "object (alloc + free); ratio = median / best %s median\n\n",
	       spec, cpu, "256 MiB",
	       kmem_backing_page_size(kmem_pool_backing(x.pool)) > 4096 ?
	       "2 MiB" : "4 KiB", o.reps,
	       (unsigned long long)(o.target_ns / 1000000),
	       have_dpdk ? "DPDK" : "malloc");
	fflush(stdout);
	small_cases(&r, &o, &x, have_dpdk);
	page_cases(&r, &o, &x, have_dpdk);
	kmem_client_disconnect(x.cl);
	kmem_client_disconnect(x.mag);
	kmem_pool_destroy(x.pool);
	kmem_heap_destroy(x.heap);
	rc = rpc_kmemd_stop();
	if (rc != 0)
		rpc_die("kmemd did not exit cleanly (status %d)", rc);
	bench_results_print(&r, stdout);
	print_targets(&r);
	printf("\n(whole run %.1f s)\n", (double)(bench_now_ns() - t_start) / 1e9);
	rc = bench_results_write_json(&r, o.json_dir, "dpdk.json");
	bench_results_fini(&r);
#ifdef KMEM_HAVE_DPDK
	if (have_dpdk)
		rte_eal_cleanup();
#endif
	return rc ? 1 : 0;
}
