/*
 * kmemctl_alloc.c - the commands that change something or time the
 * daemon: alloc, free, cache create, cache destroy, ping.
 *
 * kmemctl is an ordinary client, so what it allocates follows the
 * ordinary rules: a lease belongs to kmemctl's session and is freed when
 * kmemctl exits, unless it is a named (persistent) buffer, or unless
 * --hold keeps the session open until a signal.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kmemctl.h"

/* ------------------------------------------------------------ alloc */

struct alloc_cmd {
	struct kmem_alloc_opts o;
	bool contig, scatter, hold;
	uint64_t size;
};

/*
 * A device's DMA mask, as a driver writes it: 0xffffffff for 32-bit
 * devices (--dma32 is that one), or a number of address bits ("36").
 */
static int dma_mask(const struct ctl *x, const char *arg, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || *arg == '-' || v == 0)
		return ctl_usage(x, "--dma-mask: '%s' is not a mask (like "
				 "0xffffffff) or a number of address bits "
				 "(like 36)", arg);
	if (v <= 64 && strncmp(arg, "0x", 2) && strncmp(arg, "0X", 2))
		v = v == 64 ? UINT64_MAX : (1ull << v) - 1;
	if (v & (v + 1))
		return ctl_usage(x, "--dma-mask: '%s' is not of the form "
				 "2^n - 1", arg);
	*out = v;
	return KMEMCTL_GO;
}

static int alloc_opt(struct ctl *x, int opt, const char *arg, void *st)
{
	struct alloc_cmd *a = st;
	uint64_t v;
	int rc = KMEMCTL_GO;

	switch (opt) {
	case 'P': a->o.pool = arg; break;
	case 'C': a->contig = true; break;
	case 'S': a->scatter = true; a->o.flags |= KMEM_SCATTER; break;
	case 'D': a->o.flags |= KMEM_DMA32; break;
	case 'Z': a->o.flags |= KMEM_ZERO; break;
	case 'n': a->o.name = arg; a->o.persist = true; break;
	case 't': a->o.tag = arg; break;
	case 'H': a->hold = true; break;
	case 'A':
		rc = ctl_size(x, "--align", arg, &a->o.align);
		break;
	case 'N':
		rc = ctl_uint(x, "--node", arg, 0, 1023, &v);
		a->o.node = (int)v;
		break;
	case 'M':
		rc = dma_mask(x, arg, &a->o.dma_mask);
		break;
	case 'B':
		rc = ctl_size(x, "--boundary", arg, &a->o.boundary);
		if (rc == KMEMCTL_GO && (a->o.boundary & (a->o.boundary - 1)))
			rc = ctl_usage(x, "--boundary: '%s' is not a power of two",
				       arg);
		break;
	case 'T':
		rc = ctl_uint(x, "--timeout", arg, 0, UINT32_MAX, &v);
		a->o.timeout_ms = (uint32_t)v;
		break;
	default:
		return KMEMCTL_USAGE;
	}
	return rc;
}

static int alloc_args(struct ctl *x, int argc, char **argv, struct alloc_cmd *a)
{
	static const struct option opts[] = {
		{ "pool", required_argument, NULL, 'P' },
		{ "contig", no_argument, NULL, 'C' },
		{ "scatter", no_argument, NULL, 'S' },
		{ "dma32", no_argument, NULL, 'D' },
		{ "zero", no_argument, NULL, 'Z' },
		{ "node", required_argument, NULL, 'N' },
		{ "align", required_argument, NULL, 'A' },
		{ "dma-mask", required_argument, NULL, 'M' },
		{ "boundary", required_argument, NULL, 'B' },
		{ "name", required_argument, NULL, 'n' },
		{ "tag", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "hold", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int rc = ctl_parse(x, argc, argv, "", opts, alloc_opt, a);

	if (rc != KMEMCTL_GO)
		return rc;
	if (a->contig && a->scatter)
		return ctl_usage(x, "--contig and --scatter exclude each other");
	if (a->o.name && !*a->o.name)
		return ctl_usage(x, "--name needs a non-empty name");
	return ctl_size(x, "SIZE", x->args[0], &a->size);
}

static json_t *buf_json(const struct kmem_buf *b, const char *pool,
			const struct alloc_cmd *a)
{
	json_t *segs = json_array();

	if (b->nsegs > 1 && b->segs)
		for (size_t i = 0; i < b->nsegs; i++)
			json_array_append_new(segs, json_pack("{s:I,s:I,s:I}",
				"offset", (json_int_t)b->segs[i].offset,
				"length", (json_int_t)b->segs[i].len,
				"phys", (json_int_t)b->segs[i].phys));
	else
		json_array_append_new(segs, json_pack("{s:I,s:I,s:I}",
			"offset", (json_int_t)b->offset, "length", (json_int_t)b->len,
			"phys", (json_int_t)b->phys));
	return json_pack("{s:I,s:s,s:I,s:I,s:I,s:o,s:s?,s:s?,s:b,s:b}",
			 "id", (json_int_t)b->id, "pool", pool,
			 "offset", (json_int_t)b->offset,
			 "length", (json_int_t)b->len, "phys", (json_int_t)b->phys,
			 "segments", segs, "name", a->o.name, "tag", a->o.tag,
			 "persistent", a->o.persist, "held", a->hold);
}

static void buf_text(const struct kmem_buf *b, const struct kmem_pool_info *pi,
		     const struct alloc_cmd *a)
{
	char s[KMEMCTL_SIZE_MAX];

	printf("id        %" PRIu64 "\npool      %s\noffset    0x%" PRIx64 "\n"
	       "length    %" PRIu64 " (%s)\n", b->id, pi->name, b->offset,
	       b->len, hsize(b->len, s));
	if (b->phys)
		printf("phys      0x%" PRIx64 "\n", b->phys);
	else
		printf("phys      none (pool %s has IOVA mode %s: no physical "
		       "addresses)\n", pi->name, pi->iova_mode);
	printf("segments  %zu\n", b->nsegs);
	for (size_t i = 0; b->segs && i < b->nsegs; i++)
		printf("  %zu: offset 0x%" PRIx64 ", %s, phys 0x%" PRIx64 "\n", i,
		       b->segs[i].offset, hsize(b->segs[i].len, s),
		       b->segs[i].phys);
	if (a->o.tag)
		printf("tag       %s\n", a->o.tag);
	if (a->o.name)
		printf("name      %s (persistent: it outlives kmemctl; "
		       "'kmemctl free %s' frees it)\n", a->o.name, a->o.name);
	else if (a->hold)
		printf("holding lease %" PRIu64 " until Ctrl-C or SIGTERM\n", b->id);
	else
		printf("note: lease %" PRIu64 " belongs to this kmemctl's session "
		       "and is freed as kmemctl exits (--name N keeps a buffer, "
		       "--hold holds it until Ctrl-C)\n", b->id);
}

/*
 * Wait for SIGINT, SIGTERM or SIGHUP (blocked since before the
 * allocation, so one sent the moment the output appears is not lost),
 * pinging the daemon now and then so a daemon that went away is noticed.
 */
static int hold(struct ctl *x, const sigset_t *set)
{
	struct timespec every = { .tv_sec = 2 };
	int sig, rc;

	for (;;) {
		sig = sigtimedwait(set, NULL, &every);
		if (sig > 0)
			return KMEMCTL_OK;
		if (errno != EAGAIN)
			continue;
		rc = kmem_client_ping(x->client, 0);
		if (rc)
			return ctl_failed(x, rc);
	}
}

/* After --hold: free the lease (a named buffer stays) and say so. */
static int unhold(struct ctl *x, struct kmem_buf *b, const struct alloc_cmd *a)
{
	int rc;

	if (a->o.name) {
		if (!x->json)
			printf("buffer '%s' stays (persistent)\n", a->o.name);
		return KMEMCTL_OK;
	}
	rc = kmem_client_free_id(x->client, b->id);
	if (rc == KMEM_ENOENT) {
		if (!x->json)
			printf("lease %" PRIu64 " was freed already\n", b->id);
		return KMEMCTL_OK;
	}
	if (rc)
		return ctl_failed(x, rc);
	if (!x->json)
		printf("freed lease %" PRIu64 "\n", b->id);
	return KMEMCTL_OK;
}

static int alloc_report(struct ctl *x, struct kmem_buf *b,
			const struct alloc_cmd *a)
{
	struct kmem_pool_info pi = { .name = "?", .iova_mode = "?" };
	json_t *o;
	int rc = KMEMCTL_OK;

	kmem_client_pool_info(x->client, b->pool, &pi);
	if (x->json) {
		o = buf_json(b, pi.name, a);
		rc = o ? ctl_print_json(x, o) : ctl_err(x, "out of memory");
		json_decref(o);
	} else {
		buf_text(b, &pi, a);
	}
	fflush(stdout);
	return rc;
}

int cmd_alloc(struct ctl *x, int argc, char **argv)
{
	struct alloc_cmd a = { .o = KMEM_ALLOC_OPTS_INIT };
	struct kmem_buf b;
	sigset_t set;
	int rc = alloc_args(x, argc, argv, &a);

	if (rc != KMEMCTL_GO)
		return rc;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (a.hold)
		sigprocmask(SIG_BLOCK, &set, NULL);
	rc = ctl_connect(x);
	if (rc)
		return rc;
	rc = kmem_client_alloc(x->client, a.size, &a.o, &b);
	if (rc)
		return ctl_failed(x, rc);
	rc = alloc_report(x, &b, &a);
	if (rc == KMEMCTL_OK && a.hold)
		rc = hold(x, &set);
	if (rc == KMEMCTL_OK && a.hold)
		rc = unhold(x, &b, &a);
	kmem_client_buf_release(x->client, &b);
	return rc;
}

/* ------------------------------------------------------------ free */

/* The named buffer's entry in the stats document, or NULL. */
static const json_t *find_named(const json_t *doc, const char *name)
{
	size_t i;
	json_t *n;

	json_array_foreach(jget_arr(doc, "named"), i, n)
		if (!strcmp(jget_str(n, "name"), name))
			return n;
	return NULL;
}

static int free_id(struct ctl *x, uint64_t id)
{
	int rc = kmem_client_free_id(x->client, id);

	if (rc == 0) {
		printf("freed lease %" PRIu64 "\n", id);
		return KMEMCTL_OK;
	}
	rc = ctl_failed(x, rc);
	if (strstr(kmem_client_error(x->client), "another session"))
		fprintf(stderr, "kmemctl: free: a session's leases are freed by "
			"that session (or root and the admin group), and all at "
			"once when it ends\n");
	return rc;
}

/*
 * By name: the stats document maps names to lease ids (a Lookup would
 * attach this session to the buffer and so delay its end).
 */
static int free_name(struct ctl *x, const char *name)
{
	char s[KMEMCTL_SIZE_MAX];
	const json_t *n;
	uint64_t id, refs;
	json_t *doc;
	int rc = ctl_stats(x, &doc);

	if (rc)
		return rc;
	n = find_named(doc, name);
	if (!n) {
		json_decref(doc);
		return ctl_err(x, "no buffer named '%s' ('kmemctl leases' lists "
			       "them)", name);
	}
	id = jget_u64(n, "id");
	refs = jget_u64(n, "refs");
	hsize(jget_u64(n, "length"), s);
	json_decref(doc);
	rc = kmem_client_free_id(x->client, id);
	if (rc)
		return ctl_failed(x, rc);
	if (refs)
		printf("freed buffer '%s' (lease %" PRIu64 ", %s): it lost its name "
		       "and goes when its %" PRIu64 " attached session(s) "
		       "detach\n", name, id, s, refs);
	else
		printf("freed buffer '%s' (lease %" PRIu64 ", %s)\n", name, id, s);
	return KMEMCTL_OK;
}

static int free_opt(struct ctl *x, int o, const char *arg, void *st)
{
	(void)x;
	(void)o;
	(void)arg;
	*(bool *)st = true;
	return KMEMCTL_GO;
}

int cmd_free(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	bool by_name = false;
	const char *what;
	uint64_t id;
	int rc = ctl_parse(x, argc, argv, "", opts, free_opt, &by_name);

	if (rc != KMEMCTL_GO)
		return rc;
	what = x->args[0];
	if (!*what)
		return ctl_usage(x, "an empty name");
	by_name |= what[strspn(what, "0123456789")] != 0;
	if (!by_name) {
		rc = ctl_uint(x, "ID", what, 1, UINT64_MAX, &id);
		if (rc != KMEMCTL_GO)
			return rc;
	}
	rc = ctl_connect(x);
	if (rc)
		return rc;
	return by_name ? free_name(x, what) : free_id(x, id);
}

/* ------------------------------------------------------------ caches */

struct cache_cmd {
	const char *pool;
	uint64_t align;
};

static int cache_opt(struct ctl *x, int o, const char *arg, void *st)
{
	struct cache_cmd *cc = st;

	if (o == 'P') {
		cc->pool = arg;
		return KMEMCTL_GO;
	}
	return ctl_size(x, "--align", arg, &cc->align);
}

int cmd_cache_create(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pool", required_argument, NULL, 'P' },
		{ "align", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	struct cache_cmd cc = { 0 };
	struct kmem_pool_info pi;
	char s[KMEMCTL_SIZE_MAX];
	uint64_t size, id;
	int rc = ctl_parse(x, argc, argv, "", opts, cache_opt, &cc);

	if (rc != KMEMCTL_GO)
		return rc;
	rc = ctl_size(x, "SIZE", x->args[1], &size);
	if (rc != KMEMCTL_GO)
		return rc;
	rc = ctl_connect(x);
	if (rc)
		return rc;
	rc = kmem_client_cache_create(x->client, cc.pool, x->args[0], size,
				      cc.align, &id);
	if (rc)
		return ctl_failed(x, rc);
	/* Without --pool the daemon takes its first pool, which (as we may
	 * use it) is the first one Hello gave us too. */
	if (!cc.pool && kmem_client_pool_info(x->client, 0, &pi) == 0)
		cc.pool = pi.name;
	printf("created cache '%s' (id %" PRIu64 ") of %s objects in pool %s\n",
	       x->args[0], id, hsize(size, s), cc.pool ? cc.pool : "?");
	return KMEMCTL_OK;
}

int cmd_cache_destroy(struct ctl *x, int argc, char **argv)
{
	int rc = ctl_parse(x, argc, argv, NULL, NULL, NULL, NULL);

	if (rc != KMEMCTL_GO)
		return rc;
	rc = ctl_connect(x);
	if (rc)
		return rc;
	rc = kmem_client_cache_destroy(x->client, x->args[0]);
	if (rc)
		return ctl_failed(x, rc);
	printf("destroyed cache '%s'\n", x->args[0]);
	return KMEMCTL_OK;
}

/* ------------------------------------------------------------ ping */

struct ping_cmd {
	uint64_t count, size;
};

static int ping_opt(struct ctl *x, int o, const char *arg, void *st)
{
	struct ping_cmd *p = st;
	int rc;

	if (o == 'c')
		return ctl_uint(x, "--count", arg, 1, 10000, &p->count);
	rc = ctl_size(x, "--size", arg, &p->size);
	if (rc == KMEMCTL_GO && p->size > (512u << 10))
		return ctl_usage(x, "--size: at most 512K (the daemon's frames "
				 "are 1 MiB by default)");
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static json_int_t ns(double us)
{
	return (json_int_t)(us * 1000.0 + 0.5);
}

static int ping_report(struct ctl *x, const struct ping_cmd *p, double *us)
{
	size_t n = (size_t)p->count;
	double med = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
	json_t *o, *samples;
	char s[KMEMCTL_SIZE_MAX];
	int rc;

	if (!x->json) {
		printf("pong from kmemd at %s: median %.1f us over %zu round "
		       "trip(s) of %s each way (min %.1f us, max %.1f us)\n",
		       ctl_socket_path(x), med, n, hsize(p->size, s), us[0],
		       us[n - 1]);
		return KMEMCTL_OK;
	}
	/* Whole nanoseconds: JSON readers need no float formatting. */
	samples = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(samples, json_integer(ns(us[i])));
	o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o}", "socket",
		      ctl_socket_path(x), "count", (json_int_t)n,
		      "payload", (json_int_t)p->size, "median_ns", ns(med),
		      "min_ns", ns(us[0]), "max_ns", ns(us[n - 1]),
		      "samples_ns", samples);
	rc = o ? ctl_print_json(x, o) : ctl_err(x, "out of memory");
	json_decref(o);
	return rc;
}

int cmd_ping(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct ping_cmd p = { .count = 5 };
	double *us;
	int rc = ctl_parse(x, argc, argv, "c:", opts, ping_opt, &p);

	if (rc != KMEMCTL_GO)
		return rc;
	rc = ctl_connect(x);
	if (rc)
		return rc;
	us = malloc((size_t)p.count * sizeof(*us));
	if (!us)
		return ctl_err(x, "out of memory");
	for (size_t i = 0; i < p.count && rc == 0; i++) {
		double t0 = now_us();

		rc = kmem_client_ping(x->client, (size_t)p.size);
		us[i] = now_us() - t0;
	}
	if (rc)
		rc = ctl_failed(x, rc);
	else
		qsort(us, (size_t)p.count, sizeof(*us), cmp_double);
	if (rc == 0)
		rc = ping_report(x, &p, us);
	free(us);
	return rc;
}
