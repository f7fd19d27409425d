/*
 * bench_scaling.c - does the cost of kmemd's work stay flat as the work
 * grows?  The real daemon through libkmem (connections without client
 * magazines: every call is a request), plus pool creation in-process.
 *
 * Parts (each figure a median of --reps repetitions with min and max; each
 * comparison a ratio to the part's first configuration, its "peer"):
 *
 *   leases     One kmemd with a 1 GiB pool of 2 MiB pages (4 KiB nohuge
 *              when they cannot be reserved).  A holder connection builds
 *              up 1, 1k, 10k, 100k and 1M live leases of 64-byte objects
 *              (kmalloc-64: 1M of them are 64 MiB) with AllocBatch of up
 *              to 16,384; at each level a second connection times
 *              alloc+free round trips of 64 B (the held objects' own
 *              cache) and of 64 KiB (a page allocation, exact), and the
 *              daemon-side time of the same pairs from the daemon's latency
 *              histogram (rpc/kstats.h), and the daemon-side time of a JSON
 *              Stats request.  Target: flat, here within FLAT (1.25x) of
 *              the 1-lease figure.
 *   poolsize   One kmemd per pool: 64M, 256M, 1G, 4G, 8G of 2 MiB pages,
 *              1G and 2G of 1 GiB pages, where the pages can be reserved
 *              (else 4 KiB nohuge for the 2 MiB series, skipped for the
 *              1 GiB series; the figure's name says which).  Same
 *              alloc+free items.  Target: within FLAT of 64M/2M.
 *   close      The leases daemon: a connection takes 100,000 leases
 *              (64 B), then closes.  to-gone = from just before
 *              kmem_client_disconnect() to the Stats reply (Prometheus
 *              text, polled by another connection) that shows the session
 *              and its leases gone; to-session-gone, the session alone
 *              (kmemd reclaims a big session's leases a slice per loop
 *              turn after the session has gone; rpc/reclaim.h, which also
 *              counts the slices).  Meanwhile a thread pings on its own
 *              connection without pause; ping-max during = the longest
 *              ping that overlapped [close, gone], against the longest
 *              ping of the 50 ms before the close (quiet).  kmemd has the
 *              other CPU to itself here.  Targets: to-gone < 50 ms,
 *              ping-max during < 5 ms.
 *   stats      The leases daemon: 100 named caches of 1,000 objects each
 *              (100,000 leases): a JSON Stats request's daemon-side time
 *              (the latency sum's delta between consecutive Stats
 *              requests) and round trip, against a Ping round trip.
 *              Target: daemon-side < 10 ms.
 *   start      In-process kmem_pool_create + destroy of 1, 2 and 4 GiB of
 *              2 MiB pages and 1 and 2 GiB of 1 GiB pages, against a bare
 *              mmap(MAP_HUGETLB | MAP_POPULATE) + munmap of the same size,
 *              interleaved (bench_pool does 256 MiB and 1 GiB); at most
 *              START_REPS repetitions.  Target: ratio <= 1.2; GiB/s.
 *
 * Placement: the latency parts pin the bench and kmemd to one CPU (the
 * "same" placement of bench_daemon: no cross-CPU wake-ups, the least
 * noise).  Hugepages: as root the bench adds what it needs to nr_hugepages
 * (2 MiB, then 1 GiB) and takes the same number off afterwards (the delta:
 * a concurrent run's reservation survives; rpc/huge.h), touching them
 * once first (reserve_warm).  --filter STR runs the parts whose name
 * contains STR.
 *
 * JSON (build/bench/scaling.json): benchutil's records; case names the
 * figure, impl the configuration, ns_per_op the median in ns:
 *   leases-af64, leases-af64k (round trip), -p99, -daemon (daemon-side
 *   ns per alloc+free pair); impl 1, 1k, 10k, 100k, 1M;
 *   leases-stats-daemon: a JSON Stats request, daemon-side, same impls;
 *   poolsize-af64, poolsize-af64k (+ -p99, -daemon); impl <size>/<page>;
 *   close-100k: impl to-gone, to-session-gone, disconnect (the call),
 *   reclaim-daemon (the daemon's own time in reclaim slices);
 *   close-100k-ping-max: impl quiet, during;
 *   stats-100k-100c: impl ping-rt, stats-rt, stats-daemon;
 *   start-<N>G-<page>: impl mmap-hugetlb, kmem-pool (ns per creation).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmem/client.h"
#include "kmem/error.h"
#include "kmem/pool.h"
#include "benchutil.h"
#include "rpc/conn.h"
#include "rpc/huge.h"
#include "rpc/kstats.h"
#include "rpc/lat.h"
#include "rpc/pinger.h"
#include "rpc/proc.h"
#include "rpc/reclaim.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define FLAT 1.25		/* "does not grow": within this of the smallest */
#define LAT_OPS 1000		/* timed round trips per item and repetition */
#define LAT_CHUNK 100
#define DAEMON_OPS 1000		/* pairs per daemon-side sample */
#define WARM_OPS 200
#define HOLD_SIZE 64
#define CLOSE_LEASES 100000
#define NCACHES 100
#define CACHE_OBJS 1000
#define QUIET_NS 50000000u
#define MAX_1G (2 * GiB)		/* 1 GiB pages: at most (cold memory) */
#define START_REPS 5		/* pool start: at most (seconds of zeroing) */

static const char usage[] =
"bench_scaling - kmemd latency against live leases and pool size, session\n"
"close, stats and pool start; writes scaling.json\n"
"  --kmemd PATH  the daemon binary (default $KMEMD_BIN, else ../kmemd)\n"
"  --filter STR  parts whose name contains STR: leases, poolsize, close,\n"
"                stats, start\n";

/* ------------------------------------------------------------ common */

struct conn {
	struct kmem_client *c;
	uint64_t size;		/* alloc+free: bytes */
};

/* Every connection of this bench times requests: no magazines. */
static struct kmem_client *connect_as(const char *name)
{
	return rpc_connect(name, false);
}

static void op_allocfree(void *arg)
{
	struct conn *x = arg;
	struct kmem_buf b;
	int rc = kmem_client_alloc(x->c, x->size, NULL, &b);

	if (!rc)
		rc = kmem_client_free(x->c, &b);
	if (rc)
		rpc_die("alloc+free %llu: %s: %s", (unsigned long long)x->size,
			kmem_strerror(rc), kmem_client_error(x->c));
}

static void add(struct bench_results *r, const char *c, const char *impl,
		bool peer, double *v, int n)
{
	if (bench_results_add(r, c, impl, peer, v, (size_t)n))
		rpc_die("out of memory");
}

/*
 * Daemon-side ns per alloc+free pair of x: three Prometheus stats reads
 * in a row (each delta is one read's own cost; the smaller is taken, as a
 * preempted daemon inflates one), DAEMON_OPS pairs, one more read; the
 * pairs' time is the last delta less one read's cost.
 */
static double daemon_side(struct kmem_client *meas, struct conn *x)
{
	struct rpc_kstats a, b, c, d;
	double cost;

	rpc_kstats_prom(meas, &a);
	rpc_kstats_prom(meas, &b);
	rpc_kstats_prom(meas, &c);
	for (int i = 0; i < DAEMON_OPS; i++)
		op_allocfree(x);
	rpc_kstats_prom(meas, &d);
	cost = b.sum_ns - a.sum_ns < c.sum_ns - b.sum_ns ?
	       b.sum_ns - a.sum_ns : c.sum_ns - b.sum_ns;
	return (d.sum_ns - c.sum_ns - cost) / DAEMON_OPS;
}

/*
 * The alloc+free items (64 B, 64 KiB) on connection c: round-trip median
 * and p99 and the daemon-side time, as case <prefix>-af64[k][-p99|-daemon]
 * with impl label.
 */
static void measure_af(struct kmem_client *c, const struct bench_opts *o,
		       const char *prefix, const char *label, bool peer,
		       struct bench_results *r)
{
	static const char *const names[2] = { "af64", "af64k" };
	struct conn x[2] = { { c, 64 }, { c, 64 * 1024 } };
	struct rpc_lat_item it[2] = { { op_allocfree, &x[0] },
				      { op_allocfree, &x[1] } };
	double med[2][BENCH_MAX_REPS], p99[2][BENCH_MAX_REPS];
	double dn[2][BENCH_MAX_REPS], m[2], p[2];
	char name[48];

	for (int i = 0; i < 2; i++)
		for (int k = 0; k < WARM_OPS; k++)
			op_allocfree(&x[i]);
	for (int rep = 0; rep < o->reps; rep++) {
		rpc_lat_rep(it, 2, LAT_OPS, LAT_CHUNK, rep, m, p);
		for (int i = 0; i < 2; i++) {
			med[i][rep] = m[i];
			p99[i][rep] = p[i];
			dn[i][rep] = daemon_side(c, &x[i]);
		}
	}
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "%s-%s", prefix, names[i]);
		add(r, name, label, peer, med[i], o->reps);
		snprintf(name, sizeof(name), "%s-%s-p99", prefix, names[i]);
		add(r, name, label, peer, p99[i], o->reps);
		snprintf(name, sizeof(name), "%s-%s-daemon", prefix, names[i]);
		add(r, name, label, peer, dn[i], o->reps);
	}
}

/* Start kmemd on spec, or return 0 after printing its log. */
static pid_t start_daemon(const char *bin, const char *spec)
{
	pid_t pid = rpc_kmemd_start(bin, spec);

	if (!pid) {
		fprintf(stderr, "bench_scaling: kmemd --pool %s did not start:\n", spec);
		rpc_kmemd_dump_log();
	}
	return pid;
}

static void stop_daemon(void)
{
	int st = rpc_kmemd_stop();

	if (st != 0) {
		rpc_kmemd_dump_log();
		rpc_die("kmemd did not exit cleanly on SIGTERM (status %d)", st);
	}
}

/* ------------------------------------------------------------ leases */

static const struct {
	uint64_t n;
	const char *label;
} levels[] = {
	{ 1, "1" }, { 1000, "1k" }, { 10000, "10k" }, { 100000, "100k" },
	{ 1000000, "1M" },
};
#define NLEVELS (sizeof(levels) / sizeof(levels[0]))

/* Daemon-side ns of a JSON Stats request: reps + 1 in a row. */
static void stats_daemon(struct kmem_client *c, int reps, double *v, size_t *bytes)
{
	uint64_t prev = rpc_kstats_json(c, bytes, NULL);

	for (int i = 0; i < reps; i++) {
		uint64_t s = rpc_kstats_json(c, NULL, NULL);

		v[i] = (double)(s - prev);
		prev = s;
	}
}

static void part_leases(struct kmem_client *meas, const struct bench_opts *o,
			struct bench_results *r)
{
	struct kmem_client *holder = connect_as("bench-holder");
	double v[BENCH_MAX_REPS];
	uint64_t held = 0;
	size_t bytes;

	for (size_t l = 0; l < NLEVELS; l++) {
		uint64_t t0 = bench_now_ns();

		rpc_hold(holder, HOLD_SIZE, levels[l].n - held);
		held = levels[l].n;
		printf("  %7s leases held (built in %.0f ms)\n", levels[l].label,
		       (double)(bench_now_ns() - t0) / 1e6);
		fflush(stdout);
		measure_af(meas, o, "leases", levels[l].label, l == 0, r);
		stats_daemon(meas, o->reps, v, &bytes);
		add(r, "leases-stats-daemon", levels[l].label, l == 0, v, o->reps);
	}
	/* One sample, for the record: closing the 1M-lease session. */
	{
		struct rpc_reclaim x;

		rpc_reclaim_measure(meas, NULL, holder, held, 0, &x);
		printf("  closing the 1M-lease session: %.1f ms to gone, the "
		       "session gone after %.1f ms, %llu reclaim slices (one "
		       "sample)\n", x.gone_ns / 1e6, x.session_ns / 1e6,
		       (unsigned long long)x.slices);
	}
}

/* ------------------------------------------------------------ close */

static void part_close(struct kmem_client *meas, const struct bench_opts *o,
		       pid_t kmemd, const int cpu[2], struct bench_results *r)
{
	double gone[BENCH_MAX_REPS], disc[BENCH_MAX_REPS], sess[BENCH_MAX_REPS];
	double quiet[BENCH_MAX_REPS], during[BENCH_MAX_REPS], rec[BENCH_MAX_REPS];
	double slices = 0, slice_max = 0;
	struct rpc_pinger *p;

	/* The daemon gets a CPU of its own, the clients share the other. */
	if (cpu[1] >= 0)
		rpc_pin(kmemd, cpu[1]);
	p = rpc_pinger_start();
	for (int rep = 0; rep < o->reps; rep++) {
		struct kmem_client *c = connect_as("bench-close");
		struct rpc_reclaim x;

		rpc_hold(c, HOLD_SIZE, CLOSE_LEASES);
		rpc_reclaim_measure(meas, p, c, CLOSE_LEASES, QUIET_NS, &x);
		gone[rep] = x.gone_ns;
		disc[rep] = x.disconnect_ns;
		sess[rep] = x.session_ns;
		quiet[rep] = x.quiet_ns;
		during[rep] = x.during_ns;
		rec[rep] = x.reclaim_ns;
		slices += (double)x.slices / o->reps;
		slice_max = x.slice_max_ns;
	}
	rpc_pinger_stop(p);
	rpc_pin(kmemd, cpu[0]);
	printf("  close: %.1f reclaim slices per close of %d leases (mean); "
	       "longest slice %.2f ms\n", slices, CLOSE_LEASES, slice_max / 1e6);
	add(r, "close-100k", "reclaim-daemon", false, rec, o->reps);
	add(r, "close-100k", "to-gone", false, gone, o->reps);
	add(r, "close-100k", "to-session-gone", false, sess, o->reps);
	add(r, "close-100k", "disconnect", false, disc, o->reps);
	add(r, "close-100k-ping-max", "quiet", true, quiet, o->reps);
	add(r, "close-100k-ping-max", "during", false, during, o->reps);
}

/* ------------------------------------------------------------ stats */

static void op_ping(void *arg)
{
	struct conn *x = arg;
	int rc = kmem_client_ping(x->c, 0);

	if (rc)
		rpc_die("ping: %s", kmem_strerror(rc));
}

static void op_stats(void *arg)
{
	struct conn *x = arg;
	char *text;
	int rc = kmem_client_stats(x->c, false, &text);

	if (rc)
		rpc_die("stats: %s", kmem_strerror(rc));
	free(text);
}

static void part_stats(struct kmem_client *meas, const struct bench_opts *o,
		       struct bench_results *r)
{
	static struct kmem_buf b[CACHE_OBJS];
	struct kmem_client *c = connect_as("bench-stats");
	struct conn x = { meas, 0 };
	struct rpc_lat_item it[2] = { { op_ping, &x }, { op_stats, &x } };
	double ping[BENCH_MAX_REPS], st[BENCH_MAX_REPS], dn[BENCH_MAX_REPS];
	double m[2], p[2];
	size_t bytes;
	char name[KMEM_CACHE_NAME_MAX];
	int rc;

	for (int i = 0; i < NCACHES; i++) {
		uint64_t id;

		snprintf(name, sizeof(name), "bench-c%03d", i);
		rc = kmem_client_cache_create(c, NULL, name, 32 + 8 * (uint64_t)i, 0, &id);
		if (!rc)
			rc = kmem_client_cache_alloc(c, name, CACHE_OBJS, b);
		if (rc)
			rpc_die("cache %s: %s: %s", name, kmem_strerror(rc),
				kmem_client_error(c));
	}
	stats_daemon(meas, o->reps, dn, &bytes);
	for (int rep = 0; rep < o->reps; rep++) {
		rpc_lat_rep(it, 2, 20, 5, rep, m, p);
		ping[rep] = m[0];
		st[rep] = m[1];
	}
	add(r, "stats-100k-100c", "ping-rt", true, ping, o->reps);
	add(r, "stats-100k-100c", "stats-rt", false, st, o->reps);
	add(r, "stats-100k-100c", "stats-daemon", false, dn, o->reps);
	printf("  stats document: %zu bytes, 100 caches + the size classes, "
	       "%d leases\n", bytes, NCACHES * CACHE_OBJS);
	kmem_client_disconnect(c);
}

/* ------------------------------------------------------------ start */

static double time_mmap(uint64_t size, uint64_t page)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE |
		    (page == RPC_HUGE_1G ? (30 << MAP_HUGE_SHIFT) : (21 << MAP_HUGE_SHIFT));
	uint64_t t0 = bench_now_ns(), t1;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED)
		rpc_die("mmap(MAP_HUGETLB|MAP_POPULATE) of %llu MiB: %s",
			(unsigned long long)(size / MiB), strerror(errno));
	t1 = bench_now_ns();
	munmap(p, size);
	return (double)(t1 - t0);
}

static double time_pool(uint64_t size, uint64_t page)
{
	struct kmem_pool_params pp = { .size = size, .page_size = page };
	struct kmem_pool *pool;
	char msg[KMEM_MSG_MAX];
	uint64_t t0 = bench_now_ns(), t1;

	if (kmem_pool_create(&pp, &pool, msg, sizeof(msg)))
		rpc_die("kmem_pool_create: %s", msg);
	t1 = bench_now_ns();
	kmem_pool_destroy(pool);
	return (double)(t1 - t0);
}

/*
 * Creation of 1, 2 and 4 GiB (as far as avail bytes of pages are reserved)
 * against the bare mmap, interleaved; at most START_REPS repetitions:
 * each is seconds of the kernel zeroing pages.
 */
static void part_start(const struct bench_opts *o, uint64_t page,
		       uint64_t avail, struct bench_results *r)
{
	static const unsigned gib[3] = { 1, 2, 4 };	/* GiB */
	const char *pn = page == RPC_HUGE_1G ? "1G" : "2M";
	int reps = o->reps < START_REPS ? o->reps : START_REPS;

	for (int g = 0; g < 3; g++) {
		uint64_t size = gib[g] * GiB;
		double a[BENCH_MAX_REPS], b[BENCH_MAX_REPS];
		char name[48];

		if (size > avail)
			continue;
		time_mmap(size, page);	/* warm the free lists */
		for (int i = 0; i < reps; i++) {
			if (i % 2) {
				a[i] = time_mmap(size, page);
				b[i] = time_pool(size, page);
			} else {
				b[i] = time_pool(size, page);
				a[i] = time_mmap(size, page);
			}
		}
		snprintf(name, sizeof(name), "start-%uG-%s", gib[g], pn);
		add(r, name, "mmap-hugetlb", true, a, reps);
		add(r, name, "kmem-pool", false, b, reps);
	}
}

/* ------------------------------------------------------------ poolsize */

static const struct {
	const char *size;
	uint64_t bytes, page;
} configs[] = {
	{ "64M", 64 * MiB, RPC_HUGE_2M }, { "256M", 256 * MiB, RPC_HUGE_2M },
	{ "1G", GiB, RPC_HUGE_2M }, { "4G", 4 * GiB, RPC_HUGE_2M },
	{ "8G", 8 * GiB, RPC_HUGE_2M },
	{ "1G", GiB, RPC_HUGE_1G }, { "2G", 2 * GiB, RPC_HUGE_1G },
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

/*
 * One kmemd per configuration of this page size.  avail: bytes of such
 * pages reserved (and touched once); larger pools are 4 KiB nohuge ones
 * (2 MiB series) or skipped (1 GiB series).
 */
static void part_poolsize(const char *bin, const struct bench_opts *o, int cpu,
			  uint64_t page, uint64_t avail, bool *first,
			  struct bench_results *r)
{
	const char *pn = page == RPC_HUGE_1G ? "1G" : "2M";

	for (size_t i = 0; i < NCONFIGS; i++) {
		char spec[128], label[32];
		struct kmem_client *c;
		size_t arenas, bytes;
		uint64_t sum;
		pid_t pid;

		bool huge = configs[i].bytes <= avail;

		if (configs[i].page != page)
			continue;
		if (!huge && page == RPC_HUGE_1G) {
			printf("  %s of 1 GiB pages: skipped (cannot reserve "
			       "them)\n", configs[i].size);
			continue;
		}
		snprintf(label, sizeof(label), "%s/%s", configs[i].size,
			 huge ? pn : "4K");
		snprintf(spec, sizeof(spec), "name=b,size=%s,page=%s",
			 configs[i].size, huge ? pn : "4K,nohuge");
		pid = start_daemon(bin, spec);
		if (!pid)
			continue;
		rpc_pin(pid, cpu);
		c = connect_as("bench-poolsize-probe");
		if (rpc_kstats_json_try(c, &sum, &bytes, &arenas) == 0)
			printf("  pool %-8s %4zu arena(s); stats document %zu "
			       "bytes\n", label, arenas, bytes);
		else
			printf("  pool %-8s the JSON Stats request fails: %s "
			       "(the daemon closed the connection)\n", label,
			       kmem_client_error(c));
		kmem_client_disconnect(c);
		c = connect_as("bench-poolsize");
		fflush(stdout);
		measure_af(c, o, "poolsize", label, *first, r);
		*first = false;
		kmem_client_disconnect(c);
		stop_daemon();
	}
}

/* ------------------------------------------------------------ report */

static void print_us(const struct bench_figure *f, double scale)
{
	if (f)
		printf(" %8.2f [%7.2f-%8.2f]", f->median / scale, f->min / scale,
		       f->max / scale);
	else
		printf(" %27s", "-");
}

/* One row per configuration of a part: round trip, p99, daemon-side. */
static void print_af(const struct bench_results *r, const char *prefix)
{
	static const char *const items[2] = { "af64", "af64k" };
	const struct bench_figure *base = NULL;
	char c[48];

	for (int i = 0; i < 2; i++) {
		snprintf(c, sizeof(c), "%s-%s", prefix, items[i]);
		printf("\n%s: alloc+free of %s, us: median [min-max] of the "
		       "repetitions; ratio to the first row\n", prefix,
		       i ? "64 KiB" : "64 B");
		printf("%-9s %27s %6s %27s %27s %6s\n", "config", "round trip",
		       "ratio", "p99", "daemon-side", "ratio");
		for (size_t k = 0; k < r->n; k++) {
			const struct bench_figure *f = &r->v[k], *p, *d, *bd;
			char cc[56];

			if (strcmp(f->case_name, c))
				continue;
			if (!base || strcmp(base->case_name, c))
				base = f;
			snprintf(cc, sizeof(cc), "%s-p99", c);
			p = bench_results_find(r, cc, f->impl);
			snprintf(cc, sizeof(cc), "%s-daemon", c);
			d = bench_results_find(r, cc, f->impl);
			bd = bench_results_find(r, cc, base->impl);
			printf("%-9s", f->impl);
			print_us(f, 1e3);
			printf(" %6.2f", f->median / base->median);
			print_us(p, 1e3);
			print_us(d, 1e3);
			printf(" %6.2f\n", d && bd ? d->median / bd->median : 0);
		}
	}
}

/*
 * Flatness of one item: the largest configuration's median over the
 * first's, for the round trip and for the daemon-side time (which the
 * round trip's ~20 us of context switches hides).
 */
static void target_flat(const struct bench_results *r, const char *c)
{
	char cd[48];

	snprintf(cd, sizeof(cd), "%s-daemon", c);
	for (int k = 0; k < 2; k++) {
		const char *name = k ? cd : c;
		const struct bench_figure *base = NULL, *worst = NULL;

		for (size_t i = 0; i < r->n; i++)
			if (!strcmp(r->v[i].case_name, name)) {
				if (!base)
					base = &r->v[i];
				if (!worst || r->v[i].median > worst->median)
					worst = &r->v[i];
			}
		if (base)
			printf("  %-21s worst %-7s / %-6s %5.2f (<= %.2f): %s\n",
			       name, worst->impl, base->impl,
			       worst->median / base->median, FLAT,
			       worst->median <= FLAT * base->median ? "met" :
			       "MISSED");
	}
}

static void print_targets(const struct bench_results *r)
{
	const struct bench_figure *f;

	printf("\ntargets:\n");
	target_flat(r, "leases-af64");
	target_flat(r, "leases-af64k");
	target_flat(r, "poolsize-af64");
	target_flat(r, "poolsize-af64k");
	if ((f = bench_results_find(r, "close-100k", "to-gone")))
		printf("  close 100k leases, to gone %7.2f ms (< 50): %s\n",
		       f->median / 1e6, f->max < 50e6 ? "met (max too)" :
		       f->median < 50e6 ? "met (median; max over)" : "MISSED");
	if ((f = bench_results_find(r, "close-100k-ping-max", "during")))
		printf("  close 100k leases, others' ping max %7.2f ms (< 5): %s\n",
		       f->median / 1e6, f->median < 5e6 ? "met" : "MISSED");
	if ((f = bench_results_find(r, "stats-100k-100c", "stats-daemon")))
		printf("  stats, 100k leases + 100 caches, daemon-side %7.2f ms "
		       "(< 10): %s\n", f->median / 1e6,
		       f->median < 10e6 ? "met" : "MISSED");
	for (size_t k = 0; k < r->n; k++) {
		const struct bench_figure *g = &r->v[k], *m;
		unsigned n;

		if (strncmp(g->case_name, "start-", 6) || strcmp(g->impl, "kmem-pool"))
			continue;
		m = bench_results_find(r, g->case_name, "mmap-hugetlb");
		n = (unsigned)atoi(g->case_name + 6);
		printf("  %-14s kmem-pool %5.2f GiB/s, mmap %5.2f GiB/s, ratio "
		       "%4.2f (<= 1.2): %s\n", g->case_name, n / (g->median / 1e9),
		       n / (m->median / 1e9), g->median / m->median,
		       g->median <= 1.2 * m->median ? "met" : "MISSED");
	}
}

/* ------------------------------------------------------------ main */

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

static bool want(const struct bench_opts *o, const char *part)
{
	return !o->filter || strstr(part, o->filter);
}

/*
 * The leases, close and stats parts share one daemon: a 1 GiB pool of
 * 2 MiB pages when huge (the caller holds them), else 4 KiB nohuge.
 */
static void lease_daemon(const char *bin, const struct bench_opts *o,
			 const int cpu[2], bool huge, struct bench_results *r)
{
	const char *spec = huge ? "name=b,size=1G,page=2M" :
			   "name=b,size=1G,page=4K,nohuge";
	pid_t pid = start_daemon(bin, spec);
	struct kmem_client *meas;

	if (!pid)
		rpc_die("no daemon for the lease parts");
	rpc_pin(pid, cpu[0]);
	meas = connect_as("bench-meas");
	printf("\nleases/close/stats: kmemd --pool %s\n", spec);
	fflush(stdout);
	if (want(o, "leases"))
		part_leases(meas, o, r);
	if (want(o, "stats"))
		part_stats(meas, o, r);
	if (want(o, "close"))
		part_close(meas, o, pid, cpu, r);
	kmem_client_disconnect(meas);
	stop_daemon();
}

/*
 * Reserve up to max bytes of hugepages of page size pg (halving down to
 * one page when short: 1 GiB pages need free 1 GiB-aligned blocks) and
 * touch them once with a bare mmap.  On this VM memory the guest has not
 * touched lately is backed by the host only on first touch (free page
 * reporting hands freed memory back), which makes a first zeroing 10-40x
 * slower (0.2-0.7 GiB/s against 6-10); touching first makes every figure
 * the steady state.  Returns the bytes reserved, 0 for none.
 */
static uint64_t reserve_warm(uint64_t pg, uint64_t max)
{
	uint64_t size = max;
	bool huge;

	while (!(huge = rpc_huge_reserve(pg, (unsigned long)(size / pg))) &&
	       size / 2 >= pg && pg == RPC_HUGE_1G)
		size /= 2;
	printf("\n%s pages: ", pg == RPC_HUGE_1G ? "1 GiB" : "2 MiB");
	if (!huge) {
		printf("cannot reserve %llu MiB of them\n",
		       (unsigned long long)(size / MiB));
		return 0;
	}
	printf("%llu GiB reserved; first touch %.2f GiB/s\n",
	       (unsigned long long)(size / GiB),
	       (double)size / GiB / (time_mmap(size, pg) / 1e9));
	fflush(stdout);
	return size;
}

/*
 * Every part, one page size at a time so that each hugepage is touched
 * cold only once: 2 MiB pages for start, poolsize up to 8 GiB and the
 * lease daemon; then 1 GiB pages (up to MAX_1G) for start and poolsize.
 */
static void run_parts(const char *bin, const struct bench_opts *o,
		      const int cpu[2], struct bench_results *r)
{
	bool first = true, leases = want(o, "leases") || want(o, "close") ||
				    want(o, "stats");
	uint64_t have;

	have = want(o, "start") || want(o, "poolsize") ?
	       reserve_warm(RPC_HUGE_2M, 8 * GiB) :
	       leases ? reserve_warm(RPC_HUGE_2M, GiB) : 0;
	if (want(o, "start")) {
		if (have)
			part_start(o, RPC_HUGE_2M, have, r);
		else
			printf("  start: skipped\n");
	}
	if (want(o, "poolsize"))
		part_poolsize(bin, o, cpu[0], RPC_HUGE_2M, have, &first, r);
	if (leases)
		lease_daemon(bin, o, cpu, have >= GiB, r);
	rpc_huge_release(RPC_HUGE_2M);
	if (!want(o, "start") && !want(o, "poolsize"))
		return;
	have = reserve_warm(RPC_HUGE_1G, MAX_1G);
	if (want(o, "start") && have)
		part_start(o, RPC_HUGE_1G, have, r);
	if (want(o, "poolsize"))
		part_poolsize(bin, o, cpu[0], RPC_HUGE_1G, have, &first, r);
	rpc_huge_release(RPC_HUGE_1G);
}

int main(int argc, char **argv)
{
	struct bench_results r = { 0 };
	uint64_t t_start = bench_now_ns();
	const char *bin = kmemd_arg(&argc, argv);
	char binbuf[4096];
	struct bench_opts o;
	int cpu[2], rc;

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
	rpc_setup();
	rpc_pick_cpus(o.cpu, cpu);
	rpc_pin(0, cpu[0]);
	printf("bench_scaling: %s; %d repetitions; bench and kmemd on CPU %d "
	       "(close part: kmemd on CPU %d); load average %s\n", bin, o.reps,
	       cpu[0], cpu[1], loadavg());
	fflush(stdout);
	run_parts(bin, &o, cpu, &r);
	printf("\nall figures, ns (ratio = median / the peer's median: the "
	       "part's first configuration)\n");
	bench_results_print(&r, stdout);
	print_af(&r, "leases");
	print_af(&r, "poolsize");
	print_targets(&r);
	printf("\n(whole run %.1f s)\n", (double)(bench_now_ns() - t_start) / 1e9);
	rc = bench_results_write_json(&r, o.json_dir, "scaling.json");
	bench_results_fini(&r);
	return rc ? 1 : 0;
}
