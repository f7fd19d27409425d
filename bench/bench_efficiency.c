/*
 * bench_efficiency.c - how much of a pool the engine's policies can hand
 * out before the first allocation fails, on traces of DMA-typical sizes.
 *
 * Traces.  A trace is a stream of allocation requests, each with a random
 * size from its classes and a random lifetime; it is replayed against a
 * 256 MiB region (4 KiB pages, one arena, offsets only: the engine never
 * touches the memory) until the first request fails.  Classes:
 *   packet   2 KiB exactly (a NIC packet buffer);
 *   storage  1 to 32 pages, uniform: 4 to 128 KiB block I/O buffers of any
 *            page count (not only powers of two);
 *   frame    1 MiB to 8 MiB at 4 KiB granularity, uniform: video or
 *            camera frames.
 * The traces are "packets", "storage", "frames" (one class each) and
 * "mixed", whose classes are drawn with probabilities inversely
 * proportional to their mean size, so that each class brings a third of
 * the bytes (about 2,304 packets and 70 storage blocks per frame).
 * Lifetimes are exponential, in allocation steps, with the mean chosen so
 * that the live set would settle at DEMAND (1.5) times the region: the
 * pool therefore fills while objects keep dying, and the first failure
 * comes after a share of the live set has been churned - as in a pool in
 * service, not one filled once.  Before each request every object whose
 * lifetime has ended is freed.  The generator (xorshift64*) is seeded with
 * SEED + repetition, and one repetition replays the same requests on every
 * policy, so the policies are compared on identical traces.
 *
 * Policies (how the daemon serves a request, kmem/heap.h):
 *   buddy-slab-exact  KMEM_POLICY_BUDDY: <= 8 KiB from the kmalloc size
 *                     classes (kmem_heap_alloc: slabs), larger with
 *                     kmem_heap_xalloc, exact page count (the buddy's
 *                     alloc_exact gives the tail of the power-of-two block
 *                     back).  The daemon's default; the target's policy.
 *   vmem              KMEM_POLICY_VMEM (resource map, instant fit, 4 KiB
 *                     quantum): small sizes from the same slab classes,
 *                     larger as exact ranges.
 *   buddy-slab-pow2   as buddy-slab-exact but larger sizes rounded up to a
 *                     power of two of pages (KMEM_ALLOC_POW2): what exact
 *                     allocation buys.
 *   buddy-pow2        the textbook binary buddy: every request, 2 KiB
 *                     packets included, rounded up to a power-of-two block
 *                     of pages (KMEM_ALLOC_POW2), no slabs.  The baseline.
 *
 * Figures, at the first failure (all bytes over the region's bytes, so
 * they add up to 1 with the metadata-free engine):
 *   utilisation   live requested bytes / region bytes;
 *   internal      (occupied - requested) / region: rounding inside the
 *                 allocations (class size or pages beyond the request);
 *   slab-slack    bytes in slabs not handed out / region;
 *   free          bytes free in the page allocator / region (external
 *                 fragmentation: free, but not where the request fits);
 *   largest-free  the largest contiguous free block, bytes;
 *   int-frag      internal fragmentation as usually defined,
 *                 (occupied - requested) / occupied;
 * plus the failing request's size and the allocations made before it.
 * Each is the median over o.reps repetitions (different seeds) with min
 * and max.  Target: utilisation >= 0.85 for buddy-slab-exact on mixed.
 *
 * JSON (build/bench/efficiency.json): described at write_json() and in
 * BENCHMARKS.md.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/heap.h"
#include "benchutil.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define REGION (256 * MiB)
#define PAGE 4096ull
#define DEMAND 1.5
#define SEED UINT64_C(0x2545f4914f6cdd1d)
#define MAX_LIVE (REGION / 2048 + 16)	/* more objects cannot fit */
#define MAX_STEPS 20000000u		/* a replay that never fails */

/* ------------------------------------------------------------ traces */

enum cls { C_PACKET, C_STORAGE, C_FRAME, NCLS };

/* Sizes: min + page * k for k uniform in [0, (max - min) / page]. */
static const struct {
	const char *name;
	uint64_t min, max, step;
} classes[NCLS] = {
	[C_PACKET] = { "packet", 2 * KiB, 2 * KiB, 1 },
	[C_STORAGE] = { "storage", 4 * KiB, 128 * KiB, PAGE },
	[C_FRAME] = { "frame", 1 * MiB, 8 * MiB, PAGE },
};

static const struct trace {
	const char *name;
	bool has[NCLS];
} traces[] = {
	{ "packets", { true, false, false } },
	{ "storage", { false, true, false } },
	{ "frames", { false, false, true } },
	{ "mixed", { true, true, true } },
};
#define NTRACES (sizeof(traces) / sizeof(traces[0]))

static double class_mean(enum cls c)
{
	return (double)(classes[c].min + classes[c].max) / 2;
}

/* Cumulative class probabilities of trace t (weights 1 / mean size) and
 * the mean request size, for the lifetime. */
static double trace_setup(const struct trace *t, double cum[NCLS])
{
	double w[NCLS], sum = 0, acc = 0, mean = 0;

	for (int c = 0; c < NCLS; c++) {
		w[c] = t->has[c] ? 1 / class_mean((enum cls)c) : 0;
		sum += w[c];
	}
	for (int c = 0; c < NCLS; c++) {
		acc += w[c] / sum;
		cum[c] = acc;
		mean += w[c] / sum * class_mean((enum cls)c);
	}
	cum[NCLS - 1] = 1.0;
	return mean;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* Uniform in [0, 1). */
static double unif(uint64_t *s)
{
	return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------ policies */

enum pol { P_EXACT, P_VMEM, P_SLAB_POW2, P_POW2, NPOL };

static const struct {
	const char *name;
	enum kmem_policy heap;
	bool slab;		/* <= 8 KiB through the size classes */
	unsigned flags;		/* for kmem_heap_xalloc */
} policies[NPOL] = {
	[P_EXACT] = { "buddy-slab-exact", KMEM_POLICY_BUDDY, true, 0 },
	[P_VMEM] = { "vmem", KMEM_POLICY_VMEM, true, 0 },
	[P_SLAB_POW2] = { "buddy-slab-pow2", KMEM_POLICY_BUDDY, true, KMEM_ALLOC_POW2 },
	[P_POW2] = { "buddy-pow2", KMEM_POLICY_BUDDY, false, KMEM_ALLOC_POW2 },
};

/* One live object. */
struct obj {
	uint64_t off, len, req;
	uint64_t expiry;	/* allocation step at which it is freed */
	bool slab;
};

/* A replay: the live set as a min-heap on expiry. */
struct replay {
	struct kmem_heap *h;
	enum pol pol;
	struct obj *heap;
	size_t n;
	uint64_t live_req, live_len, live_slab_len;
};

static _Noreturn void die(const char *what, int rc)
{
	fprintf(stderr, "bench_efficiency: %s: %s\n", what,
		rc ? kmem_strerror(rc) : "out of memory");
	exit(1);
}

static void sift_up(struct obj *v, size_t i)
{
	struct obj x = v[i];

	while (i > 0 && v[(i - 1) / 2].expiry > x.expiry) {
		v[i] = v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	v[i] = x;
}

static void sift_down(struct obj *v, size_t n, size_t i)
{
	struct obj x = v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && v[c + 1].expiry < v[c].expiry)
			c++;
		if (v[c].expiry >= x.expiry)
			break;
		v[i] = v[c];
		i = c;
	}
	v[i] = x;
}

/* Allocate req bytes under the replay's policy: 0 and *o, or an error. */
static int pol_alloc(struct replay *r, uint64_t req, struct obj *o)
{
	struct kmem_alloc_req q = { .size = req, .node = -1,
				    .flags = policies[r->pol].flags };
	struct kmem_alloc_res res;
	int rc;

	if (policies[r->pol].slab && req <= KMEM_KMALLOC_MAX) {
		rc = kmem_heap_alloc(r->h, req, &o->off);
		if (rc)
			return rc;
		if (kmem_heap_size_of(r->h, o->off, &o->len))
			die("kmem_heap_size_of", KMEM_ECORRUPT);
		o->slab = true;
	} else {
		rc = kmem_heap_xalloc(r->h, &q, &res, NULL, 0);
		if (rc)
			return rc;
		o->off = res.off;
		o->len = res.len;
		o->slab = false;
	}
	o->req = req;
	return 0;
}

static void pop_free(struct replay *r)
{
	struct obj *o = &r->heap[0];
	int rc = kmem_heap_free(r->h, o->off);

	if (rc)
		die("kmem_heap_free", rc);
	r->live_req -= o->req;
	r->live_len -= o->len;
	if (o->slab)
		r->live_slab_len -= o->len;
	r->heap[0] = r->heap[--r->n];
	if (r->n)
		sift_down(r->heap, r->n, 0);
}

/* What one replay measured at its first failure. */
enum metric {
	M_UTIL, M_INTERNAL, M_SLACK, M_FREE, M_LARGEST, M_INTFRAG, M_FAILSIZE,
	M_ALLOCS, M_LIVE, NMETRICS,
};

static const struct {
	const char *json;	/* JSON key */
	bool bytes;		/* a byte count, not a share */
} metrics[NMETRICS] = {
	[M_UTIL] = { "utilisation", false },
	[M_INTERNAL] = { "internal", false },
	[M_SLACK] = { "slab_slack", false },
	[M_FREE] = { "free", false },
	[M_LARGEST] = { "largest_free_bytes", true },
	[M_INTFRAG] = { "int_frag", false },
	[M_FAILSIZE] = { "failed_request_bytes", true },
	[M_ALLOCS] = { "allocs_before_failure", true },
	[M_LIVE] = { "live_objects", true },
};

/*
 * Replay trace t with seed on policy p until the first failure; fill
 * m[NMETRICS].  The trace is a function of the seed alone: sizes and
 * lifetimes are drawn whether or not the policy's allocations succeed.
 */
static void replay(const struct trace *t, enum pol p, uint64_t seed,
		   struct obj *heap, double m[NMETRICS])
{
	struct kmem_heap_params hp = { .size = REGION, .page_size = PAGE,
				       .policy = policies[p].heap };
	struct replay r = { .pol = p, .heap = heap };
	struct kmem_heap_stats st;
	double cum[NCLS], mean = trace_setup(t, cum);
	double life = DEMAND * (double)REGION / mean;
	char msg[KMEM_MSG_MAX];
	uint64_t s = seed, step, req = 0;
	int rc = kmem_heap_create(&hp, &r.h, msg, sizeof(msg));

	if (rc)
		die(msg, rc);
	for (step = 0; step < MAX_STEPS; step++) {
		double u = unif(&s);
		enum cls c = C_PACKET;
		struct obj o;

		while (c < C_FRAME && u >= cum[c])
			c++;
		req = classes[c].min + classes[c].step *
		      (rnd(&s) % ((classes[c].max - classes[c].min) /
				  classes[c].step + 1));
		o.expiry = step + 1 + (uint64_t)(-log(1 - unif(&s)) * life);
		while (r.n && r.heap[0].expiry <= step)
			pop_free(&r);
		if (pol_alloc(&r, req, &o))
			break;
		if (r.n >= MAX_LIVE)
			die("live set overflow", KMEM_ECORRUPT);
		r.heap[r.n] = o;
		sift_up(r.heap, r.n++);
		r.live_req += o.req;
		r.live_len += o.len;
		if (o.slab)
			r.live_slab_len += o.len;
	}
	if (step == MAX_STEPS)
		die("the trace never filled the region", KMEM_ECORRUPT);
	rc = kmem_heap_check(r.h);
	if (rc)
		die("kmem_heap_check", rc);
	kmem_heap_stats(r.h, &st);
	m[M_UTIL] = (double)r.live_req / (double)REGION;
	m[M_INTERNAL] = (double)(r.live_len - r.live_req) / (double)REGION;
	m[M_SLACK] = (double)(st.slab_bytes - r.live_slab_len) / (double)REGION;
	m[M_FREE] = (double)st.free_bytes / (double)REGION;
	m[M_LARGEST] = (double)st.largest_free;
	m[M_INTFRAG] = r.live_len ? (double)(r.live_len - r.live_req) /
				    (double)r.live_len : 0;
	m[M_FAILSIZE] = (double)req;
	m[M_ALLOCS] = (double)step;
	m[M_LIVE] = (double)r.n;
	kmem_heap_destroy(r.h);
}

/* ------------------------------------------------------------ report */

struct summary {
	double med[NMETRICS], min[NMETRICS], max[NMETRICS];
};

static void summarise(double (*v)[NMETRICS], int n, struct summary *s)
{
	double col[BENCH_MAX_REPS];

	for (int k = 0; k < NMETRICS; k++) {
		for (int i = 0; i < n; i++)
			col[i] = v[i][k];
		bench_summarise(col, (size_t)n, &s->med[k], &s->min[k], &s->max[k]);
	}
}

static void human(double bytes, char *buf, size_t len)
{
	if (bytes >= (double)MiB)
		snprintf(buf, len, "%.1fM", bytes / (double)MiB);
	else
		snprintf(buf, len, "%.0fK", bytes / (double)KiB);
}

static void print_table(const struct summary (*s)[NPOL], const bool *ran)
{
	char a[16], b[16], c[16];

	printf("%-8s %-17s %21s %6s %6s %6s %6s %8s %22s %8s\n", "trace",
	       "policy", "utilisation [min-max]", "ratio", "intern", "slack",
	       "free", "int-frag", "largest free [min-max]", "fails at");
	for (size_t t = 0; t < NTRACES; t++) {
		for (int p = 0; p < NPOL && ran[t]; p++) {
			const struct summary *x = &s[t][p];

			human(x->med[M_LARGEST], a, sizeof(a));
			human(x->min[M_LARGEST], b, sizeof(b));
			human(x->med[M_FAILSIZE], c, sizeof(c));
			printf("%-8s %-17s %6.1f%% [%5.1f-%5.1f] %6.2f %5.1f%% "
			       "%5.1f%% %5.1f%% %7.1f%% %8s [%5s-", traces[t].name,
			       policies[p].name, 100 * x->med[M_UTIL],
			       100 * x->min[M_UTIL], 100 * x->max[M_UTIL],
			       x->med[M_UTIL] / s[t][P_POW2].med[M_UTIL],
			       100 * x->med[M_INTERNAL], 100 * x->med[M_SLACK],
			       100 * x->med[M_FREE], 100 * x->med[M_INTFRAG], a, b);
			human(x->max[M_LARGEST], a, sizeof(a));
			printf("%5s] %8s\n", a, c);
		}
		if (ran[t])
			putchar('\n');
	}
}

/*
 * {"benchmark": "efficiency", "region_bytes", "page_size", "demand",
 *  "reps", "seeds": [...], "results": [{"trace", "policy",
 *  "<metric>": {"median", "min", "max"} for every metric above,
 *  "ratio_to_pow2": utilisation median / buddy-pow2's on the same trace},
 *  ...]}
 */
static int write_json(const struct summary (*s)[NPOL], const struct bench_opts *o)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "mkdir -p '%s'", o->json_dir);
	if (system(path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/efficiency.json", o->json_dir);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "{\"benchmark\": \"efficiency\", \"region_bytes\": %llu, "
		"\"page_size\": %llu, \"demand\": %.2f, \"reps\": %d, \"seeds\": [",
		(unsigned long long)REGION, (unsigned long long)PAGE, DEMAND, o->reps);
	for (int i = 0; i < o->reps; i++)
		fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)(SEED + (uint64_t)i));
	fputs("],\n \"results\": [\n", f);
	for (size_t t = 0; t < NTRACES; t++)
		for (int p = 0; p < NPOL; p++) {
			const struct summary *x = &s[t][p];

			fprintf(f, "  {\"trace\": \"%s\", \"policy\": \"%s\"",
				traces[t].name, policies[p].name);
			for (int k = 0; k < NMETRICS; k++)
				fprintf(f, metrics[k].bytes ?
					", \"%s\": {\"median\": %.0f, \"min\": %.0f, \"max\": %.0f}" :
					", \"%s\": {\"median\": %.4f, \"min\": %.4f, \"max\": %.4f}",
					metrics[k].json, x->med[k], x->min[k], x->max[k]);
			fprintf(f, ", \"ratio_to_pow2\": %.3f}%s\n",
				x->med[M_UTIL] / s[t][P_POW2].med[M_UTIL],
				t + 1 < NTRACES || p + 1 < NPOL ? "," : "");
		}
	fputs(" ]}\n", f);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "error writing %s\n", path);
		return -1;
	}
	printf("wrote %s\n", path);
	return 0;
}

static const char usage[] =
	"bench_efficiency - pool utilisation at the first failed allocation on\n"
	"traces of DMA-typical sizes, per engine policy; writes efficiency.json.\n"
	"--reps N replays N seeds; --filter STR keeps traces whose name holds STR.\n";

int main(int argc, char **argv)
{
	static double v[NTRACES][NPOL][BENCH_MAX_REPS][NMETRICS];
	static struct summary s[NTRACES][NPOL];
	bool ran[NTRACES] = { false };
	uint64_t t0 = bench_now_ns();
	struct bench_opts o;
	struct obj *heap;
	int rc = bench_parse_args(argc, argv, &o, usage);

	if (rc)
		return rc > 0 ? 0 : 2;
	bench_pin(&o);
	heap = malloc(MAX_LIVE * sizeof(*heap));
	if (!heap)
		die("live set", 0);
	printf("bench_efficiency: region %llu MiB of 4 KiB pages, one arena; "
	       "lifetimes for %.1fx demand; %d seeds from %#llx\n"
	       "all shares are of the region at the first failed allocation; "
	       "ratio = utilisation / buddy-pow2's\n\n",
	       (unsigned long long)(REGION / MiB), DEMAND, o.reps,
	       (unsigned long long)SEED);
	for (size_t t = 0; t < NTRACES; t++) {
		if (o.filter && !strstr(traces[t].name, o.filter))
			continue;
		for (int rep = 0; rep < o.reps; rep++)
			for (int p = 0; p < NPOL; p++)
				replay(&traces[t], (enum pol)p, SEED + (uint64_t)rep,
				       heap, v[t][p][rep]);
		for (int p = 0; p < NPOL; p++)
			summarise(v[t][p], o.reps, &s[t][p]);
		ran[t] = true;
	}
	free(heap);
	print_table(s, ran);
	if (o.filter) {
		printf("(--filter: no targets, no JSON)\n");
		return 0;
	}
	{
		const struct summary *m = &s[NTRACES - 1][P_EXACT];
		const struct summary *b = &s[NTRACES - 1][P_POW2];

		printf("targets:\n  mixed buddy-slab-exact utilisation %.1f%% "
		       "[%.1f-%.1f] (>= 85%%): %s\n", 100 * m->med[M_UTIL],
		       100 * m->min[M_UTIL], 100 * m->max[M_UTIL],
		       m->med[M_UTIL] >= 0.85 ? "met" : "MISSED");
		printf("  mixed buddy-pow2 baseline: int-frag %.1f%%, %.1f%% of "
		       "the region lost to rounding (textbook 25-50%%): %s\n",
		       100 * b->med[M_INTFRAG], 100 * b->med[M_INTERNAL],
		       b->med[M_INTFRAG] >= 0.2 && b->med[M_INTFRAG] <= 0.5 ?
		       "shown" : "NOT in that range");
	}
	rc = write_json(s, &o);
	printf("(whole run %.1f s)\n", (double)(bench_now_ns() - t0) / 1e9);
	return rc ? 1 : 0;
}
