/*
 * kmemctl_show.c - the read commands: status, stats, pools, buddyinfo,
 * slabinfo, sessions, cache list (leases: kmemctl_debug.c).
 *
 * Each fetches the daemon's one stats document (daemon/stats.c) and
 * renders part of it: a table for people, or with --json the same part as
 * JSON, keyed as in the document, for scripts.  The readers are lenient
 * (a missing field reads as 0 or ""), so a newer daemon that adds fields
 * does not break an older kmemctl.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kmemctl.h"

/* Fetch the stats document and render it. */
static int with_doc(struct ctl *x, int (*render)(struct ctl *x, json_t *doc))
{
	json_t *doc;
	int rc = ctl_stats(x, &doc);

	if (rc)
		return rc;
	rc = render(x, doc);
	json_decref(doc);
	return rc;
}

/* A command without options of its own: parse, fetch, render. */
static int read_cmd(struct ctl *x, int argc, char **argv,
		    int (*render)(struct ctl *x, json_t *doc))
{
	int rc = ctl_parse(x, argc, argv, NULL, NULL, NULL, NULL);

	return rc == KMEMCTL_GO ? with_doc(x, render) : rc;
}

/* Print a table, or say we ran out of memory doing so. */
static int emit(const struct ctl *x, struct table *t)
{
	int rc = table_print(t, stdout) ? ctl_err(x, "out of memory") : KMEMCTL_OK;

	table_fini(t);
	return rc;
}

/* A borrowed value, or JSON null where the document has none. */
static json_t *or_null(json_t *v)
{
	return v ? v : json_null();
}

/* {key: value} as a new document, value borrowed. */
static int print_wrapped(const struct ctl *x, const char *key, json_t *value)
{
	json_t *o = json_pack("{s:O}", key, or_null(value));
	int rc = o ? ctl_print_json(x, o) : ctl_err(x, "out of memory");

	json_decref(o);
	return rc;
}

void format_uptime(uint64_t s, char *buf, size_t len)
{
	unsigned h = (unsigned)(s / 3600 % 24), m = (unsigned)(s / 60 % 60);

	if (s >= 86400)
		snprintf(buf, len, "%" PRIu64 "d %02u:%02u:%02u", s / 86400, h, m,
			 (unsigned)(s % 60));
	else
		snprintf(buf, len, "%u:%02u:%02u", h, m, (unsigned)(s % 60));
}

static uint64_t sum_values(const json_t *o)
{
	const char *k;
	json_t *v;
	uint64_t n = 0;

	json_object_foreach((json_t *)o, k, v)
		n += json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	return n;
}

uint64_t requests_total(const json_t *doc)
{
	return sum_values(json_object_get(doc, "requests"));
}

uint64_t errors_total(const json_t *doc)
{
	return sum_values(json_object_get(doc, "errors"));
}

/* ------------------------------------------------------------ shared tables */

void show_pools_brief(const json_t *doc, FILE *f)
{
	static const struct table_col cols[] = {
		{ "POOL", false }, { "BACKING", false }, { "PAGE", true },
		{ "TOTAL", true }, { "USED", true }, { "FREE", true },
		{ "LARGEST", true }, { "LEASES", true },
	};
	char a[KMEMCTL_SIZE_MAX], b[KMEMCTL_SIZE_MAX], c[KMEMCTL_SIZE_MAX],
	     d[KMEMCTL_SIZE_MAX], e[KMEMCTL_SIZE_MAX];
	struct table t;
	size_t i;
	json_t *p;

	table_init(&t, cols, 8);
	json_array_foreach(jget_arr(doc, "pools"), i, p) {
		json_t *frag = json_object_get(p, "fragmentation");

		table_add(&t, "%s", jget_str(p, "name"));
		table_add(&t, "%s", jget_str(p, "backing"));
		table_add(&t, "%s", hsize(jget_u64(p, "page_size"), a));
		table_add(&t, "%s", hsize(jget_u64(p, "bytes_total"), b));
		table_add(&t, "%s", hsize(jget_u64(p, "bytes_used"), c));
		table_add(&t, "%s", hsize(jget_u64(p, "bytes_free"), d));
		table_add(&t, "%s", hsize(jget_u64(frag, "largest_free"), e));
		table_add(&t, "%" PRIu64, jget_u64(p, "leases"));
	}
	table_print(&t, f);
	table_fini(&t);
}

void show_sessions(const json_t *sessions, FILE *f)
{
	static const struct table_col cols[] = {
		{ "SESSION", true }, { "PID", true }, { "UID", true },
		{ "COMM", false }, { "NAME", false }, { "LEASES", true },
		{ "BYTES", true }, { "WAITING", true },
	};
	char b[KMEMCTL_SIZE_MAX];
	struct table t;
	size_t i;
	json_t *s;

	table_init(&t, cols, 8);
	json_array_foreach(sessions, i, s) {
		table_add(&t, "%" PRIu64, jget_u64(s, "id"));
		table_add(&t, "%" PRIu64, jget_u64(s, "pid"));
		table_add(&t, "%" PRIu64, jget_u64(s, "uid"));
		table_add(&t, "%s", jget_str(s, "comm"));
		table_add(&t, "%s", jget_str(s, "name"));
		table_add(&t, "%" PRIu64, jget_u64(s, "leases"));
		table_add(&t, "%s", hsize(jget_u64(s, "bytes"), b));
		table_add(&t, "%" PRIu64, jget_u64(s, "waiting"));
	}
	table_print(&t, f);
	table_fini(&t);
}

/* ------------------------------------------------------------ status */

static int status_json(struct ctl *x, json_t *doc)
{
	json_t *pools = json_array(), *o, *p;
	size_t i;
	int rc;

	json_array_foreach(jget_arr(doc, "pools"), i, p)
		json_array_append_new(pools, json_pack(
			"{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}",
			"name", jget_str(p, "name"), "backing", jget_str(p, "backing"),
			"page_size", (json_int_t)jget_u64(p, "page_size"),
			"bytes_total", (json_int_t)jget_u64(p, "bytes_total"),
			"bytes_used", (json_int_t)jget_u64(p, "bytes_used"),
			"bytes_free", (json_int_t)jget_u64(p, "bytes_free"),
			"largest_free", (json_int_t)jget_u64(
				json_object_get(p, "fragmentation"), "largest_free"),
			"leases", (json_int_t)jget_u64(p, "leases")));
	o = json_pack("{s:s,s:O,s:o,s:O,s:I,s:I}", "socket", ctl_socket_path(x),
		      "daemon", or_null(json_object_get(doc, "daemon")),
		      "pools", pools,
		      "sessions", or_null(json_object_get(doc, "sessions")),
		      "requests", (json_int_t)requests_total(doc),
		      "errors", (json_int_t)errors_total(doc));
	rc = o ? ctl_print_json(x, o) : ctl_err(x, "out of memory");
	json_decref(o);
	return rc;
}

static void daemon_line(const struct ctl *x, const json_t *doc)
{
	const json_t *d = json_object_get(doc, "daemon");
	char up[48];

	format_uptime(jget_u64(d, "uptime_s"), up, sizeof(up));
	printf("kmemd %s (pid %" PRIu64 "), up %s, at %s\n", jget_str(d, "version"),
	       jget_u64(d, "pid"), up, ctl_socket_path(x));
}

static int status_text(struct ctl *x, json_t *doc)
{
	const json_t *d = json_object_get(doc, "daemon");

	daemon_line(x, doc);
	printf("sessions  %" PRIu64 " connected (this kmemctl included), %" PRIu64
	       " since start\n", jget_u64(d, "sessions"),
	       jget_u64(d, "sessions_total"));
	printf("leases    %" PRIu64 " live, %" PRIu64 " reclaimed from ended "
	       "sessions\n", jget_u64(d, "leases"), jget_u64(d, "leases_reclaimed"));
	printf("requests  %" PRIu64 " served, %" PRIu64 " failed\n\n",
	       requests_total(doc), errors_total(doc));
	show_pools_brief(doc, stdout);
	putchar('\n');
	show_sessions(jget_arr(doc, "sessions"), stdout);
	return KMEMCTL_OK;
}

static int status_render(struct ctl *x, json_t *doc)
{
	return x->json ? status_json(x, doc) : status_text(x, doc);
}

int cmd_status(struct ctl *x, int argc, char **argv)
{
	return read_cmd(x, argc, argv, status_render);
}

/* ------------------------------------------------------------ stats */

/* "hello 1, alloc 3" for the non-zero counters of o, or "none". */
static void nonzero_list(const json_t *o, char *buf, size_t len)
{
	size_t at = 0;
	const char *k;
	json_t *v;

	buf[0] = 0;
	json_object_foreach((json_t *)o, k, v) {
		if (!json_is_integer(v) || json_integer_value(v) == 0 || at >= len)
			continue;
		at += (size_t)snprintf(buf + at, len - at, "%s%s %lld",
				       at ? ", " : "", k,
				       (long long)json_integer_value(v));
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* The latency line: mean and the buckets holding the median and p99. */
static void latency_line(const json_t *doc)
{
	const json_t *lat = json_object_get(doc, "latency");
	json_t *buckets = jget_arr(lat, "buckets"), *b;
	uint64_t total = 0, acc = 0;
	const char *q[2] = { NULL, NULL };
	char le[2][32];
	size_t i;

	json_array_foreach(buckets, i, b)
		total += jget_u64(b, "count");
	if (!total) {
		puts("latency   no requests timed yet");
		return;
	}
	json_array_foreach(buckets, i, b) {
		json_t *v = json_object_get(b, "le_us");

		acc += jget_u64(b, "count");
		for (int k = 0; k < 2; k++) {
			if (q[k] || acc * 100 < total * (k ? 99 : 50))
				continue;
			if (json_is_number(v))
				snprintf(le[k], sizeof(le[k]), "%g us",
					 json_number_value(v));
			else
				snprintf(le[k], sizeof(le[k]), "more than 32 ms");
			q[k] = le[k];
		}
	}
	printf("latency   %" PRIu64 " requests, mean %.1f us; 50%% within %s, "
	       "99%% within %s\n", total,
	       (double)jget_u64(lat, "sum_ns") / (double)total / 1000.0,
	       q[0] ? q[0] : "?", q[1] ? q[1] : "?");
}

static void stats_sections(const json_t *doc)
{
	uint64_t nc = 0, active = 0, slabs = 0, nn = 0, nbytes = 0;
	char b[KMEMCTL_SIZE_MAX], list[1024];
	size_t i;
	json_t *e;

	json_array_foreach(jget_arr(doc, "pools"), i, e)
		printf("pool %s: %" PRIu64 " physical run(s), largest %s; "
		       "policy %s, iova %s\n", jget_str(e, "name"),
		       (uint64_t)json_array_size(jget_arr(e, "runs")),
		       hsize(jget_u64(e, "largest_run"), b),
		       jget_str(e, "policy"), jget_str(e, "iova_mode"));
	json_array_foreach(jget_arr(doc, "caches"), i, e) {
		nc++;
		active += jget_u64(e, "active_objs");
		slabs += jget_u64(e, "num_slabs");
	}
	json_array_foreach(jget_arr(doc, "named"), i, e) {
		nn++;
		nbytes += jget_u64(e, "length");
	}
	printf("\ncaches    %" PRIu64 ", %" PRIu64 " objects active in %" PRIu64
	       " slabs (kmemctl slabinfo)\n", nc, active, slabs);
	printf("named     %" PRIu64 " buffer(s) holding %s (kmemctl leases)\n",
	       nn, hsize(nbytes, b));
	nonzero_list(json_object_get(doc, "requests"), list, sizeof(list));
	printf("requests  %" PRIu64 ": %s\n", requests_total(doc), list);
	nonzero_list(json_object_get(doc, "errors"), list, sizeof(list));
	printf("errors    %" PRIu64 ": %s\n", errors_total(doc), list);
	latency_line(doc);
}

static int stats_render(struct ctl *x, json_t *doc)
{
	const json_t *d = json_object_get(doc, "daemon");

	daemon_line(x, doc);
	printf("stats document version %" PRIu64 "; sessions %" PRIu64
	       " (%" PRIu64 " since start); leases %" PRIu64 " (%" PRIu64
	       " reclaimed)\n\n", jget_u64(doc, "version"),
	       jget_u64(d, "sessions"), jget_u64(d, "sessions_total"),
	       jget_u64(d, "leases"), jget_u64(d, "leases_reclaimed"));
	show_pools_brief(doc, stdout);
	putchar('\n');
	stats_sections(doc);
	return KMEMCTL_OK;
}

/*
 * stats --json is the daemon's text itself, not a re-encoding, so it is
 * byte for byte what GET /stats serves.
 */
int cmd_stats(struct ctl *x, int argc, char **argv)
{
	char *text;
	size_t len;
	int rc = ctl_parse(x, argc, argv, NULL, NULL, NULL, NULL);

	if (rc != KMEMCTL_GO)
		return rc;
	if (!x->json)
		return with_doc(x, stats_render);
	rc = ctl_connect(x);
	if (rc)
		return rc;
	rc = kmem_client_stats(x->client, false, &text);
	if (rc)
		return ctl_failed(x, rc);
	len = strlen(text);
	fputs(text, stdout);
	if (!len || text[len - 1] != '\n')
		putchar('\n');
	free(text);
	return KMEMCTL_OK;
}

/* ------------------------------------------------------------ pools */

static void pool_row(struct table *t, const json_t *p)
{
	char b[6][KMEMCTL_SIZE_MAX];
	uint64_t quota = jget_u64(p, "quota");

	table_add(t, "%s", jget_str(p, "name"));
	table_add(t, "%s", jget_str(p, "backing"));
	table_add(t, "%s", hsize(jget_u64(p, "page_size"), b[0]));
	table_add(t, "%s", jget_str(p, "iova_mode"));
	table_add(t, "%s", jget_str(p, "policy"));
	table_add(t, "%s", hsize(jget_u64(p, "bytes_total"), b[1]));
	table_add(t, "%s", hsize(jget_u64(p, "bytes_used"), b[2]));
	table_add(t, "%s", hsize(jget_u64(p, "bytes_free"), b[3]));
	table_add(t, "%s", hsize(jget_u64(json_object_get(p, "fragmentation"),
					  "largest_free"), b[4]));
	table_add(t, "%" PRIu64, jget_u64(p, "leases"));
	table_add(t, "%zu", json_array_size(jget_arr(p, "runs")));
	table_add(t, "%s", quota ? hsize(quota, b[5]) : "none");
}

static int pools_render(struct ctl *x, json_t *doc)
{
	static const struct table_col cols[] = {
		{ "POOL", false }, { "BACKING", false }, { "PAGE", true },
		{ "IOVA", false }, { "POLICY", false }, { "TOTAL", true },
		{ "USED", true }, { "FREE", true }, { "LARGEST", true },
		{ "LEASES", true }, { "RUNS", true }, { "QUOTA", true },
	};
	struct table t;
	size_t i;
	json_t *p;
	int rc;

	if (x->json)
		return print_wrapped(x, "pools", jget_arr(doc, "pools"));
	table_init(&t, cols, 12);
	json_array_foreach(jget_arr(doc, "pools"), i, p)
		pool_row(&t, p);
	rc = emit(x, &t);
	json_array_foreach(jget_arr(doc, "pools"), i, p)
		if (*jget_str(p, "path"))
			printf("pool %s is the file %s\n", jget_str(p, "name"),
			       jget_str(p, "path"));
	return rc;
}

int cmd_pools(struct ctl *x, int argc, char **argv)
{
	return read_cmd(x, argc, argv, pools_render);
}

/* ------------------------------------------------------------ buddyinfo */

/* The rows as JSON: one object per arena of a buddy pool. */
static json_t *buddy_rows(const json_t *doc)
{
	json_t *rows = json_array(), *p, *a;
	size_t i, k;

	json_array_foreach(jget_arr(doc, "pools"), i, p)
		json_array_foreach(jget_arr(p, "arenas"), k, a) {
			if (!jget_arr(a, "buddyinfo"))
				continue;	/* resource-map pools have no orders */
			json_array_append_new(rows, json_pack(
				"{s:s,s:I,s:O,s:s,s:I,s:O}",
				"pool", jget_str(p, "name"), "arena", (json_int_t)k,
				"node", or_null(json_object_get(a, "node")),
				"zone", jget_str(a, "zone"),
				"page_size", (json_int_t)jget_u64(p, "page_size"),
				"free", jget_arr(a, "buddyinfo")));
		}
	return rows;
}

/*
 * As /proc/buddyinfo: "Node 0, zone DMA32  n0 n1 ..." becomes "pool P
 * arena A node N zone Z" then the free blocks of each order, the prefix
 * padded so the counts line up.
 */
static int buddyinfo_render(struct ctl *x, json_t *doc)
{
	json_t *rows = buddy_rows(doc), *r, *v;
	char prefix[160];
	int width = 0, rc = KMEMCTL_OK;
	size_t i, k;

	if (!rows)
		return ctl_err(x, "out of memory");
	if (x->json) {
		rc = print_wrapped(x, "buddyinfo", rows);
		json_decref(rows);
		return rc;
	}
	for (int pass = 0; pass < 2; pass++)
		json_array_foreach(rows, i, r) {
			int n = snprintf(prefix, sizeof(prefix),
					 "pool %s arena %" PRIu64 " node %lld zone %s",
					 jget_str(r, "pool"), jget_u64(r, "arena"),
					 (long long)json_integer_value(
						 json_object_get(r, "node")),
					 jget_str(r, "zone"));

			if (pass == 0) {
				width = n > width ? n : width;
				continue;
			}
			printf("%-*s", width, prefix);
			json_array_foreach(json_object_get(r, "free"), k, v)
				printf(" %6lld", (long long)json_integer_value(v));
			putchar('\n');
		}
	json_decref(rows);
	return rc;
}

int cmd_buddyinfo(struct ctl *x, int argc, char **argv)
{
	return read_cmd(x, argc, argv, buddyinfo_render);
}

/* ------------------------------------------------------------ slabinfo */

/* The kernel's format, from mm/slab_common.c (slabinfo_show). */
static void slab_row(const json_t *c)
{
	printf("%-17s %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %4" PRIu64 " %4"
	       PRIu64 " : tunables %4u %4u %4u : slabdata %6" PRIu64 " %6"
	       PRIu64 " %6u\n", jget_str(c, "name"), jget_u64(c, "active_objs"),
	       jget_u64(c, "num_objs"), jget_u64(c, "objsize"),
	       jget_u64(c, "objperslab"), jget_u64(c, "pagesperslab"), 0u, 0u,
	       0u, jget_u64(c, "active_slabs"), jget_u64(c, "num_slabs"), 0u);
}

/*
 * Cache names repeat in every pool (kmalloc-64 ...), which /proc/slabinfo
 * has no column for: with more than one pool, a "# pool NAME" comment line
 * (which slabinfo readers skip) heads each pool's rows.
 */
static int slabinfo_render(struct ctl *x, json_t *doc)
{
	json_t *pools = jget_arr(doc, "pools"), *p, *c;
	bool many = json_array_size(pools) > 1;
	size_t i, k;

	if (x->json)
		return print_wrapped(x, "caches", jget_arr(doc, "caches"));
	puts("slabinfo - version: 2.1");
	puts("# name            <active_objs> <num_objs> <objsize> <objperslab> "
	     "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : "
	     "slabdata <active_slabs> <num_slabs> <sharedavail>");
	json_array_foreach(pools, i, p) {
		if (many)
			printf("# pool %s\n", jget_str(p, "name"));
		json_array_foreach(jget_arr(doc, "caches"), k, c)
			if (!strcmp(jget_str(c, "pool"), jget_str(p, "name")))
				slab_row(c);
	}
	return KMEMCTL_OK;
}

int cmd_slabinfo(struct ctl *x, int argc, char **argv)
{
	return read_cmd(x, argc, argv, slabinfo_render);
}

/* ------------------------------------------------------------ sessions */

static int sessions_render(struct ctl *x, json_t *doc)
{
	if (x->json)
		return print_wrapped(x, "sessions", jget_arr(doc, "sessions"));
	show_sessions(jget_arr(doc, "sessions"), stdout);
	return KMEMCTL_OK;
}

int cmd_sessions(struct ctl *x, int argc, char **argv)
{
	return read_cmd(x, argc, argv, sessions_render);
}

/* ------------------------------------------------------------ cache list */

static bool is_kmalloc(const json_t *c)
{
	return !strncmp(jget_str(c, "name"), "kmalloc-", 8);
}

static int cache_list_show(struct ctl *x, json_t *doc, bool all)
{
	static const struct table_col cols[] = {
		{ "CACHE", false }, { "POOL", false }, { "OBJSIZE", true },
		{ "ACTIVE", true }, { "OBJS", true }, { "OBJ/SLAB", true },
		{ "PAGES/SLAB", true }, { "SLABS", true },
	};
	json_t *sel = json_array(), *c;
	struct table t;
	size_t i;
	int rc;

	json_array_foreach(jget_arr(doc, "caches"), i, c)
		if (all || !is_kmalloc(c))
			json_array_append(sel, c);
	if (x->json) {
		rc = print_wrapped(x, "caches", sel);
		json_decref(sel);
		return rc;
	}
	table_init(&t, cols, 8);
	json_array_foreach(sel, i, c) {
		table_add(&t, "%s", jget_str(c, "name"));
		table_add(&t, "%s", jget_str(c, "pool"));
		table_add(&t, "%" PRIu64, jget_u64(c, "objsize"));
		table_add(&t, "%" PRIu64, jget_u64(c, "active_objs"));
		table_add(&t, "%" PRIu64, jget_u64(c, "num_objs"));
		table_add(&t, "%" PRIu64, jget_u64(c, "objperslab"));
		table_add(&t, "%" PRIu64, jget_u64(c, "pagesperslab"));
		table_add(&t, "%" PRIu64, jget_u64(c, "num_slabs"));
	}
	json_decref(sel);
	return emit(x, &t);
}

static int cache_list_opt(struct ctl *x, int o, const char *arg, void *st)
{
	(void)x;
	(void)o;
	(void)arg;
	*(bool *)st = true;
	return KMEMCTL_GO;
}

int cmd_cache_list(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	bool all = false;
	json_t *doc;
	int rc = ctl_parse(x, argc, argv, "a", opts, cache_list_opt, &all);

	if (rc != KMEMCTL_GO)
		return rc;
	rc = ctl_stats(x, &doc);
	if (rc)
		return rc;
	rc = cache_list_show(x, doc, all);
	json_decref(doc);
	return rc;
}
