/*
 * bench_daemon.c - kmemd through libkmem, next to the physical floor of a
 * raw Unix-socket ping-pong of the same byte counts, in one run.
 *
 * Set-up.  The real daemon binary (env KMEMD_BIN, or --kmemd PATH, else
 * ../kmemd next to this binary) is started on a socket in a fresh
 * temporary directory with one 256 MiB pool: on 2 MiB hugepages when this
 * process is root and the kernel can reserve them (the pages are added to
 * nr_hugepages and taken off again at exit), else on the explicit 4 KiB
 * fallback; KMEMD_BENCH_POOL replaces the pool spec.  It is stopped with
 * SIGTERM at the end and must exit 0.
 *
 * Latency.  One libkmem connection in this process.  Per operation:
 *   ping            kmem_client_ping(c, 0): one round trip, no engine work;
 *   alloc+free-4k   kmem_client_alloc(4 KiB) then kmem_client_free: two
 *                   round trips; the alloc and free halves are also kept.
 * The floor ("raw-socket") is a tiny forked echo server doing blocking
 * read()/write() on a socketpair: the client writes a request of exactly
 * the byte count of the real request frame and reads a reply of exactly
 * the byte count of the real response frame (both probed from the daemon
 * at start and printed).  Waking a blocked process costs far more across
 * vCPUs than on one (on the 2-vCPU development VM some 40-70 us against
 * 9 us per ping-pong), so both are measured under two placements, each
 * with its own floor: "same"
 * (client, daemon and echo server pinned to one CPU) and "cross" (client
 * on one CPU, daemon and echo server on the other).  Every operation is
 * timed on its own; a repetition is LAT_OPS operations of every item,
 * interleaved in chunks of LAT_CHUNK (the first item rotated each round,
 * as benchutil rotates), giving that repetition's median and 99th
 * percentile; figures are the median over the repetitions of those, with
 * min and max.
 *
 * Throughput (bench/rpc/tput.h says exactly what; crowd.h how).  1, 2
 * and 8 client processes, each with its own connection, start together
 * and loop for the window (--target-ms, at least 150 ms), at three
 * placements (any: nothing pinned; same: everything on one CPU; split:
 * clients on one CPU, the server on the other):
 *   kmem-batch64    libkmem AllocBatch(64 x 64 B) + FreeBatch, one in
 *                   flight (the blocking calls);
 *   kmem-batch64-w8 the same through libkmem's pipelined batches
 *                   (kmem_client_alloc_batch_send ...), eight in flight;
 *   raw-batch64-w8  the same eight in flight from a client speaking the
 *                   wire protocol itself (proto/frame.h, no libkmem),
 *                   which writes together the requests a read calls for;
 *   kmem-single     libkmem Alloc + Free of one 64 B object (any only);
 * and, same and split only, 64 single requests in flight per client
 * (Ping; Alloc then Free of 64 B) against a pipelined echo server of the
 * same frame sizes measured in the same repetition, with the
 * messages-per-second ratio.  Each figure comes with the CPU time per
 * unit of the server and of the clients.
 *
 * The connections above opt out of libkmem's magazines
 * (KMEM_CONNECT_NO_MAGAZINES), so every operation there is a request.
 *
 * Magazines.  kmem_client_alloc(64) + kmem_client_free through a
 * connection with magazines (the default), against glibc's malloc(64) +
 * free (__libc_malloc/__libc_free found in libc.so.6 with dlsym, as
 * bench_engine does, so the figure is glibc's whatever else is loaded),
 * both in this process pinned to the client's CPU, through benchutil
 * (calibrated repetitions of --target-ms, interleaved).  Two cases:
 *   mag-64      the process has one thread, so libkmem elides the
 *               connection mutex (as glibc's malloc elides its arena lock);
 *   mag-64-mt   a second thread is alive (parked on a pipe), so every
 *               alloc and free takes the connection mutex.
 * The magazine's refills and drains over the whole run are printed, to
 * show that the pairs made no round trips.
 *
 * JSON (build/bench/daemon.json, benchutil's format).  Latency records:
 * case "<placement>-<op>" or "<placement>-<op>-p99", impl "raw-socket"
 * or "libkmem", ns_per_op = median over repetitions of the repetition's
 * median (or p99) in ns.  Throughput records: case "tput-<place>-c<N>"
 * (ns per object of all clients together: objects/s = 1e9 / ns_per_op,
 * min and max likewise inverted) and "pipe-<place>-c<N>-<op>" (ns per
 * answer; impl "ratio" holds the kmemd/echo ratio itself), each impl
 * with <impl>-srv-cpu and <impl>-cli-cpu (CPU ns per unit).
 *
 * The helpers in bench/rpc/ run the processes (proc.c: kmemd, hugepages,
 * pinning), the raw ends of the sockets (wire.c: the protocol client,
 * the frame-size probe, the echo server; window.c and pecho.c: their
 * pipelined forms) and the throughput section (crowd.c, tput.c).
 */
#include <dlfcn.h>
#include <errno.h>
#include <gnu/lib-names.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmem/client.h"
#include "benchutil.h"
#include "rpc/lat.h"
#include "rpc/proc.h"
#include "rpc/tput.h"
#include "rpc/wire.h"

#define POOL_MIB 256
#define HP_PAGES (POOL_MIB / 2)

#define LAT_OPS 2000		/* timed operations per item and repetition */
#define LAT_CHUNK 100		/* operations of one item before the next */
#define WARM_OPS 300		/* untimed, per item, at each placement */
#define ALLOC_SIZE 4096
#define OBJ_SIZE 64
#define MIN_WINDOW_NS 150000000u
#define PROBE_SEQ 20000		/* a seq as long on the wire as libkmem's */

static const char usage[] =
"bench_daemon - kmemd round trips vs a raw socket ping-pong, and throughput\n"
"  --kmemd PATH  the daemon binary (default $KMEMD_BIN, else ../kmemd)\n"
"  --cpu N       the client's CPU in the latency placements (default: the\n"
"                first allowed); the other placement uses the next one\n"
"  --target-ms   throughput window per repetition (at least 150 ms)\n"
"  --filter STR  only the figures whose case/impl holds STR: tput-, pipe-,\n"
"                -c8, mag, ... (the cases of daemon.json)\n";

/* Every connection but the magazine case's: one request per operation. */
static const struct kmem_connect_opts no_mags = {
	.flags = KMEM_CONNECT_NO_MAGAZINES,
};

/* ------------------------------------------------------------ latency */

enum lat_kind { LAT_PING, LAT_ALLOCFREE };

struct lat_ctx {
	struct kmem_client *c;
	int echo;
	struct rpc_sizes z;
	uint8_t ping_req[64], alloc_req[64], free_req[64];
	uint8_t buf[65536];
};

struct lat_item {
	const char *name;	/* case, without the placement */
	const char *impl;
	bool raw;
	enum lat_kind kind;
};

static const struct lat_item lat_items[] = {
	{ "ping", "raw-socket", true, LAT_PING },
	{ "ping", "libkmem", false, LAT_PING },
	{ "alloc+free-4k", "raw-socket", true, LAT_ALLOCFREE },
	{ "alloc+free-4k", "libkmem", false, LAT_ALLOCFREE },
};
#define NLAT (sizeof(lat_items) / sizeof(lat_items[0]))

/* The figures an alloc+free item yields: the whole, then its halves. */
static const char *const af_parts[3] = { "alloc+free-4k", "alloc-4k", "free" };

static void pingpong(struct lat_ctx *x, const uint8_t *req, struct rpc_wire w)
{
	rpc_echo_pingpong(x->echo, req, w, x->buf, sizeof(x->buf));
}

/* One operation; t[0] start, t[1] between the halves, t[2] end. */
static void lat_op(struct lat_ctx *x, const struct lat_item *it, uint64_t t[3])
{
	struct kmem_buf b;
	int rc = 0;

	t[0] = bench_now_ns();
	if (it->kind == LAT_PING) {
		if (it->raw)
			pingpong(x, x->ping_req, x->z.ping);
		else
			rc = kmem_client_ping(x->c, 0);
		t[1] = t[2] = bench_now_ns();
	} else if (it->raw) {
		pingpong(x, x->alloc_req, x->z.alloc);
		t[1] = bench_now_ns();
		pingpong(x, x->free_req, x->z.free);
		t[2] = bench_now_ns();
	} else {
		rc = kmem_client_alloc(x->c, ALLOC_SIZE, NULL, &b);
		t[1] = bench_now_ns();
		if (!rc)
			rc = kmem_client_free(x->c, &b);
		t[2] = bench_now_ns();
	}
	if (rc)
		rpc_die("libkmem: %s: %s", kmem_strerror(rc), kmem_client_error(x->c));
}

/*
 * One repetition of every selected item, interleaved in chunks of
 * LAT_CHUNK operations (the first item rotated each round), so that a
 * burst of noise from a neighbour lands on all items alike; then each
 * item's median and p99 per part into s[item][part][0 or 1][rep].
 */
static void lat_rep(struct lat_ctx *x, const bool *on, int rep,
		    double (*s)[3][2][BENCH_MAX_REPS])
{
	static double d[NLAT][3][LAT_OPS];
	uint64_t t[3];

	for (size_t round = 0; round < LAT_OPS / LAT_CHUNK; round++)
		for (size_t k = 0; k < NLAT; k++) {
			size_t i = (k + round + (size_t)rep) % NLAT;

			for (size_t j = round * LAT_CHUNK; on[i] &&
			     j < (round + 1) * LAT_CHUNK; j++) {
				lat_op(x, &lat_items[i], t);
				d[i][0][j] = (double)(t[2] - t[0]);
				d[i][1][j] = (double)(t[1] - t[0]);
				d[i][2][j] = (double)(t[2] - t[1]);
			}
		}
	for (size_t i = 0; i < NLAT; i++)
		for (int p = 0; on[i] &&
		     p < (lat_items[i].kind == LAT_ALLOCFREE ? 3 : 1); p++)
			rpc_med_p99(d[i][p], LAT_OPS, &s[i][p][0][rep], &s[i][p][1][rep]);
}

/* Measure every latency item at one placement; add the figures to r. */
static void lat_run(struct lat_ctx *x, const struct bench_opts *o,
		    const char *place, struct bench_results *r)
{
	static double s[NLAT][3][2][BENCH_MAX_REPS];
	bool on[NLAT];
	uint64_t t[3];
	char c[48];

	for (size_t i = 0; i < NLAT; i++) {
		snprintf(c, sizeof(c), "%s-%s", place, lat_items[i].name);
		on[i] = bench_selected(o, c, lat_items[i].impl);
		for (int k = 0; on[i] && k < WARM_OPS; k++)
			lat_op(x, &lat_items[i], t);
	}
	for (int rep = 0; rep < o->reps; rep++)
		lat_rep(x, on, rep, s);
	for (int p = 0; p < 3; p++)
		for (int q = 0; q < 2; q++)
			for (size_t i = 0; i < NLAT; i++) {
				const struct lat_item *it = &lat_items[i];
				const char *name = it->kind == LAT_ALLOCFREE ?
					af_parts[p] : "ping";

				if (!on[i] || (it->kind == LAT_PING && p))
					continue;
				snprintf(c, sizeof(c), "%s-%s%s", place, name,
					 q ? "-p99" : "");
				if (bench_results_add(r, c, it->impl, it->raw,
						      s[i][p][q], (size_t)o->reps))
					rpc_die("out of memory");
			}
}

/* ------------------------------------------------------------ magazines */

struct mag_ctx {
	struct kmem_client *c;
	void *(*malloc)(size_t);
	void (*free)(void *);
};

static uint64_t run_magazine(void *arg, uint64_t iters)
{
	struct mag_ctx *x = arg;
	struct kmem_buf b;
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		if (kmem_client_alloc(x->c, OBJ_SIZE, NULL, &b))
			rpc_die("magazine alloc: %s", kmem_client_error(x->c));
		BENCH_SINK(b.ptr);
		if (kmem_client_free(x->c, &b))
			rpc_die("magazine free: %s", kmem_client_error(x->c));
	}
	return bench_now_ns() - t0;
}

static uint64_t run_glibc(void *arg, uint64_t iters)
{
	struct mag_ctx *x = arg;
	uint64_t t0 = bench_now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		void *p = x->malloc(OBJ_SIZE);

		BENCH_SINK(p);
		x->free(p);
	}
	return bench_now_ns() - t0;
}

/* glibc's own malloc and free, whatever else the process links. */
static void bind_glibc(struct mag_ctx *x)
{
	void *libc = dlopen(LIBC_SO, RTLD_NOW | RTLD_NOLOAD);
	Dl_info info;

	if (!libc)
		rpc_die("%s is not loaded: %s", LIBC_SO, dlerror());
	x->malloc = (void *(*)(size_t))dlsym(libc, "__libc_malloc");
	x->free = (void (*)(void *))dlsym(libc, "__libc_free");
	dlclose(libc);
	if (!x->malloc || !x->free)
		rpc_die("no __libc_malloc/__libc_free in %s", LIBC_SO);
	printf("magazines: glibc = %s's __libc_malloc; plain malloc here is %s's\n",
	       LIBC_SO, dladdr((void *)(uintptr_t)malloc, &info) && info.dli_fname ?
	       info.dli_fname : "?");
}

static void *parked(void *arg)
{
	char ch;

	return (void *)(intptr_t)read(*(int *)arg, &ch, 1);
}

/*
 * The case name ("mag-64" or "mag-64-mt": then with a second thread
 * parked for the duration) measured on cpu into r.
 */
static void mag_run(const struct bench_opts *o, const char *name, int cpu,
		    struct bench_results *r)
{
	static struct mag_ctx x;
	struct bench_item items[2] = {
		{ name, "kmem-magazine", false, 1, run_magazine, &x },
		{ name, "glibc", true, 1, run_glibc, &x },
	};
	struct kmem_magazine_info in = { .name = "" };
	bool mt = strstr(name, "-mt") != NULL;
	char msg[KMEM_MSG_MAX];
	pthread_t th;
	int fds[2];

	if (!bench_selected(o, name, "kmem-magazine") && !bench_selected(o, name, "glibc"))
		return;
	if (!x.malloc)
		bind_glibc(&x);
	if (mt && (pipe(fds) || pthread_create(&th, NULL, parked, &fds[0])))
		rpc_die("cannot start the second thread");
	if (kmem_client_connect(rpc_socket(), "bench-mag", &x.c, msg, sizeof(msg)))
		rpc_die("connect: %s", msg);
	rpc_pin(0, cpu);
	if (bench_run_case(r, o, items, 2))
		rpc_die("out of memory");
	rpc_pin(0, -1);
	for (size_t i = 0; kmem_client_magazine_info(x.c, i, &in) == 0 &&
	     strcmp(in.name, "kmalloc-64"); i++)
		;
	printf("magazines: %s: kmalloc-64 magazine after the run: %llu "
	       "refill(s), %llu drain(s), depth %u, %u held\n", name,
	       (unsigned long long)in.refills, (unsigned long long)in.drains,
	       in.depth, in.held);
	kmem_client_disconnect(x.c);
	if (mt) {
		close(fds[1]);
		pthread_join(th, NULL);
		close(fds[0]);
	}
}

/* ------------------------------------------------------------ report */

static void print_us(const struct bench_figure *f)
{
	if (f)
		printf(" %7.2f [%6.2f-%7.2f]", f->median / 1e3, f->min / 1e3,
		       f->max / 1e3);
	else
		printf(" %24s", "-");
}

static void print_ratio(const struct bench_figure *raw,
			const struct bench_figure *k)
{
	if (raw && k)
		printf(" %6.2f", k->median / raw->median);
	else
		printf(" %6s", "-");
}

static void print_latency(const struct bench_results *r, const char *const *places,
			  size_t nplaces)
{
	static const char *const ops[] = { "ping", "alloc+free-4k", "alloc-4k", "free" };
	char c[48];

	printf("\nlatency, us per operation (median over repetitions of each "
	       "repetition's median / p99 [min-max]); ratio = libkmem / raw\n");
	printf("%-6s %-14s %24s %24s %6s | %24s %24s %6s\n", "place", "op",
	       "raw-socket median", "libkmem median", "ratio", "raw-socket p99",
	       "libkmem p99", "ratio");
	for (size_t p = 0; p < nplaces; p++)
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			const struct bench_figure *f[4];

			for (int q = 0; q < 2; q++) {
				snprintf(c, sizeof(c), "%s-%s%s", places[p], ops[i],
					 q ? "-p99" : "");
				f[2 * q] = bench_results_find(r, c, "raw-socket");
				f[2 * q + 1] = bench_results_find(r, c, "libkmem");
			}
			if (!f[0] && !f[1])
				continue;
			printf("%-6s %-14s", places[p], ops[i]);
			print_us(f[0]);
			print_us(f[1]);
			print_ratio(f[0], f[1]);
			printf(" |");
			print_us(f[2]);
			print_us(f[3]);
			print_ratio(f[2], f[3]);
			putchar('\n');
		}
}

static void print_mag(const struct bench_results *r)
{
	static const char *const cases[] = { "mag-64", "mag-64-mt" };

	for (size_t i = 0; i < 2; i++) {
		const struct bench_figure *k = bench_results_find(r, cases[i], "kmem-magazine");
		const struct bench_figure *g = bench_results_find(r, cases[i], "glibc");

		if (!k && !g)
			continue;
		if (i == 0 || !bench_results_find(r, cases[0], "glibc"))
			printf("\nmagazines, ns per alloc+free of %d B: median [min-max]; "
			       "ratio = kmem-magazine / glibc\n%-10s %24s %24s %6s\n",
			       OBJ_SIZE, "case", "kmem-magazine", "glibc", "ratio");
		printf("%-10s", cases[i]);
		if (k)
			printf(" %8.2f [%6.2f-%7.2f]", k->median, k->min, k->max);
		else
			printf(" %24s", "-");
		if (g)
			printf(" %8.2f [%6.2f-%7.2f]", g->median, g->min, g->max);
		else
			printf(" %24s", "-");
		if (k && g)
			printf(" %6.2f\n", k->median / g->median);
		else
			printf(" %6s\n", "-");
	}
}

/* The targets: alloc+free within 1.5x its floor at each
 * placement (median and p99), the throughput ones of tput.h, and a
 * magazine alloc+free of 64 B within 2x of glibc's malloc+free. */
static void print_targets(const struct bench_results *r, const char *const *places,
			  size_t nplaces)
{
	char c[48];

	printf("\ntargets:\n");
	for (size_t p = 0; p < nplaces; p++)
		for (int q = 0; q < 2; q++) {
			const struct bench_figure *raw, *k;

			snprintf(c, sizeof(c), "%s-alloc+free-4k%s", places[p],
				 q ? "-p99" : "");
			raw = bench_results_find(r, c, "raw-socket");
			k = bench_results_find(r, c, "libkmem");
			if (raw && k)
				printf("  %-24s libkmem/raw-socket %5.2f (<= 1.5): %s\n",
				       c, k->median / raw->median,
				       k->median <= 1.5 * raw->median ? "met" : "MISSED");
		}
	rpc_tput_targets(r);
	for (int i = 0; i < 2; i++) {
		const char *mc = i ? "mag-64-mt" : "mag-64";
		const struct bench_figure *k = bench_results_find(r, mc, "kmem-magazine");
		const struct bench_figure *g = bench_results_find(r, mc, "glibc");

		if (k && g)
			printf("  %-24s kmem-magazine/glibc %5.2f (<= 2.0): %s\n", mc,
			       k->median / g->median,
			       k->median <= 2.0 * g->median ? "met" : "MISSED");
	}
}

/* ------------------------------------------------------------ main */

/* Take --kmemd PATH out of argv (benchutil knows the rest). */
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

/* The binary next door: <dir of argv[0]>/../kmemd. */
static const char *default_kmemd(const char *argv0, char *buf, size_t len)
{
	const char *slash = strrchr(argv0, '/');

	if (!slash)
		return "kmemd";
	snprintf(buf, len, "%.*s/../kmemd", (int)(slash - argv0), argv0);
	return buf;
}

/* Start kmemd on hugepages when they can be had, else on 4 KiB pages;
 * spec gets the pool spec used.  Returns kmemd's pid. */
static pid_t start_kmemd(const char *bin, char *spec, size_t len)
{
	const char *env_spec = getenv("KMEMD_BENCH_POOL");
	bool huge = !env_spec && rpc_hugepages_reserve(HP_PAGES);
	pid_t pid;

	snprintf(spec, len, "%s", env_spec ? env_spec : huge ?
		 "name=b,size=256M,page=2M" : "name=b,size=256M,page=4K,nohuge");
	pid = rpc_kmemd_start(bin, spec);
	if (pid)
		return pid;
	rpc_kmemd_dump_log();
	if (!huge)
		rpc_die("%s exited at start-up", bin);
	fprintf(stderr, "bench_daemon: kmemd failed on hugepages; falling back "
		"to 4 KiB pages\n");
	rpc_hugepages_release();
	snprintf(spec, len, "name=b,size=256M,page=4K,nohuge");
	pid = rpc_kmemd_start(bin, spec);
	if (!pid) {
		rpc_kmemd_dump_log();
		rpc_die("%s exited at start-up", bin);
	}
	return pid;
}

/* The latency figures at each placement, with the echo floor running. */
static size_t latency(struct lat_ctx *x, const struct bench_opts *o,
		      pid_t kmemd, const int cpu[2], struct bench_results *r)
{
	static const char *const places[] = { "same", "cross" };
	size_t nplaces = cpu[1] >= 0 ? 2 : 1;
	pid_t echo = rpc_echo_start(&x->echo);

	rpc_track_child(echo);
	rpc_echo_request(x->ping_req, x->z.ping);
	rpc_echo_request(x->alloc_req, x->z.alloc);
	rpc_echo_request(x->free_req, x->z.free);
	for (size_t p = 0; p < nplaces; p++) {
		int srv = cpu[p];

		rpc_pin(0, cpu[0]);
		rpc_pin(kmemd, srv);
		rpc_pin(echo, srv);
		lat_run(x, o, places[p], r);
	}
	close(x->echo);
	waitpid(echo, NULL, 0);
	rpc_track_child(0);
	rpc_pin(0, -1);
	rpc_pin(kmemd, -1);
	return nplaces;
}

/* The throughput section, on 64 B objects (frame sizes probed anew). */
static void throughput(const struct bench_opts *o, pid_t kmemd, const int cpu[2],
		       struct bench_results *r)
{
	struct rpc_crowd_env env = {
		.kmemd = kmemd, .cpu = { cpu[0], cpu[1] }, .obj_size = OBJ_SIZE,
		.window_ns = o->target_ns > MIN_WINDOW_NS ? o->target_ns : MIN_WINDOW_NS,
	};

	env.z = rpc_probe_sizes(rpc_socket(), OBJ_SIZE, PROBE_SEQ);
	printf("throughput: frame bytes ping %zu/%zu, alloc %u B %zu/%zu, free "
	       "%zu/%zu; same = all on CPU %d, split = clients on CPU %d, "
	       "server on CPU %d\n", env.z.ping.req, env.z.ping.resp, OBJ_SIZE,
	       env.z.alloc.req, env.z.alloc.resp, env.z.free.req, env.z.free.resp,
	       cpu[0], cpu[0], cpu[1]);
	fflush(stdout);
	rpc_tput_run(&env, o, r);
}

int main(int argc, char **argv)
{
	static const char *const places[] = { "same", "cross" };
	static struct lat_ctx x;
	struct bench_results res = { 0 };
	uint64_t t_start = bench_now_ns();
	const char *bin = kmemd_arg(&argc, argv);
	char binbuf[4096], spec[128], msg[KMEM_MSG_MAX];
	struct bench_opts o;
	int cpu[2], rc, st;
	size_t nplaces;
	pid_t kmemd;

	rc = bench_parse_args(argc, argv, &o, usage);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (!bin)
		bin = default_kmemd(argv[0], binbuf, sizeof(binbuf));
	if (access(bin, X_OK))
		rpc_die("no kmemd binary at %s (set KMEMD_BIN or --kmemd)", bin);
	rpc_setup();
	kmemd = start_kmemd(bin, spec, sizeof(spec));
	rc = kmem_client_connect_opts(rpc_socket(), "bench-lat", &no_mags, &x.c,
				      msg, sizeof(msg));
	if (rc)
		rpc_die("connect: %s: %s", kmem_strerror(rc), msg);
	x.z = rpc_probe_sizes(rpc_socket(), ALLOC_SIZE, PROBE_SEQ);
	rpc_pick_cpus(o.cpu, cpu);
	printf("bench_daemon: %s, pool %s\n", bin, spec);
	printf("frame bytes (request/response, header included): ping %zu/%zu, "
	       "alloc %u B %zu/%zu, free %zu/%zu\n", x.z.ping.req, x.z.ping.resp,
	       ALLOC_SIZE, x.z.alloc.req, x.z.alloc.resp, x.z.free.req,
	       x.z.free.resp);
	printf("placements: same = client, kmemd and echo server on CPU %d; "
	       "cross = client on CPU %d, kmemd and echo server on CPU %d\n",
	       cpu[0], cpu[0], cpu[1]);
	printf("%d repetitions of %d operations per item; throughput windows "
	       "of %.0f ms\n", o.reps, LAT_OPS,
	       (double)(o.target_ns > MIN_WINDOW_NS ? o.target_ns : MIN_WINDOW_NS) / 1e6);
	fflush(stdout);

	nplaces = latency(&x, &o, kmemd, cpu, &res);
	kmem_client_disconnect(x.c);
	mag_run(&o, "mag-64", cpu[0], &res);
	throughput(&o, kmemd, cpu, &res);
	/* Last: a thread, once started, leaves glibc multi-threaded. */
	mag_run(&o, "mag-64-mt", cpu[0], &res);
	st = rpc_kmemd_stop();
	if (st != 0) {
		rpc_kmemd_dump_log();
		rpc_die("kmemd did not exit cleanly on SIGTERM (status %d)", st);
	}
	rpc_hugepages_release();

	print_latency(&res, places, nplaces);
	rpc_tput_print(&res);
	print_mag(&res);
	print_targets(&res, places, nplaces);
	printf("\n(whole run %.1f s)\n", (double)(bench_now_ns() - t_start) / 1e9);
	rc = bench_results_write_json(&res, o.json_dir, "daemon.json");
	bench_results_fini(&res);
	return rc ? 1 : 0;
}
