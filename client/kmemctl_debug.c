/*
 * kmemctl_debug.c - the debugging commands: leases (the leak report),
 * verify and debug.
 *
 * leases asks the daemon for its stats document with every lease listed
 * (Stats.include_leases): for one process (--session PID) or all of them,
 * each with its id, pool, kind, place, length, tag and age, so a leak can
 * be pinned on the code that made it.  verify asks the daemon to check
 * itself (the Verify request) and exits 1 on any inconsistency, so it can
 * gate a test run.  debug shows and switches the slab debugging aids of a
 * pool (poison, red zones).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kmemctl.h"

/* ------------------------------------------------------------ leases */

static void named_table(const json_t *named)
{
	static const struct table_col cols[] = {
		{ "ID", true }, { "NAME", false }, { "POOL", false },
		{ "OFFSET", true }, { "LENGTH", true }, { "UID", true },
		{ "REFS", true }, { "STATE", false },
	};
	char b[KMEMCTL_SIZE_MAX];
	struct table t;
	size_t i;
	json_t *n;

	table_init(&t, cols, 8);
	json_array_foreach(named, i, n) {
		table_add(&t, "%" PRIu64, jget_u64(n, "id"));
		table_add(&t, "%s", jget_str(n, "name"));
		table_add(&t, "%s", jget_str(n, "pool"));
		table_add(&t, "0x%" PRIx64, jget_u64(n, "offset"));
		table_add(&t, "%s", hsize(jget_u64(n, "length"), b));
		table_add(&t, "%" PRIu64, jget_u64(n, "uid"));
		table_add(&t, "%" PRIu64, jget_u64(n, "refs"));
		table_add(&t, "%s", json_is_true(json_object_get(n, "doomed")) ?
			  "freed, waits for detach" : "live");
	}
	table_print(&t, stdout);
	table_fini(&t);
}

/* The session leases (named ones have their own table), one per row;
 * returns the bytes they hold. */
static uint64_t lease_table(const json_t *leases, uint64_t *count)
{
	static const struct table_col cols[] = {
		{ "ID", true }, { "SESSION", true }, { "PID", true },
		{ "COMM", false }, { "POOL", false }, { "KIND", false },
		{ "OFFSET", true }, { "LENGTH", true }, { "REQUESTED", true },
		{ "TAG", false }, { "AGE", true },
	};
	char b[KMEMCTL_SIZE_MAX];
	uint64_t bytes = 0;
	struct table t;
	size_t i;
	json_t *l;

	*count = 0;
	table_init(&t, cols, 11);
	json_array_foreach(leases, i, l) {
		if (json_is_null(json_object_get(l, "session")))
			continue;
		table_add(&t, "%" PRIu64, jget_u64(l, "id"));
		table_add(&t, "%" PRIu64, jget_u64(l, "session"));
		table_add(&t, "%" PRIu64, jget_u64(l, "pid"));
		table_add(&t, "%s", jget_str(l, "comm"));
		table_add(&t, "%s", jget_str(l, "pool"));
		/* "/mag": granted to a client magazine (maybe idle there). */
		table_add(&t, "%s%s", jget_str(l, "kind"),
			  json_is_true(json_object_get(l, "magazine")) ? "/mag" : "");
		table_add(&t, "0x%" PRIx64, jget_u64(l, "offset"));
		table_add(&t, "%s", hsize(jget_u64(l, "length"), b));
		table_add(&t, "%" PRIu64, jget_u64(l, "requested"));
		table_add(&t, "%s", *jget_str(l, "tag") ? jget_str(l, "tag") : "-");
		table_add(&t, "%.1fs", json_real_value(json_object_get(l, "age_s")));
		bytes += jget_u64(l, "length");
		++*count;
	}
	table_print(&t, stdout);
	table_fini(&t);
	return bytes;
}

static int leases_json(struct ctl *x, json_t *doc, json_t *sel, int64_t pid)
{
	json_t *named = jget_arr(doc, "named"), *leases = jget_arr(doc, "leases");
	json_t *o = json_pack("{s:o,s:O,s:o,s:I,s:b}",
		"named", pid < 0 && named ? json_incref(named) : json_array(),
		"sessions", sel, "leases", leases ? json_incref(leases) :
		json_array(), "leases_matched",
		(json_int_t)jget_u64(doc, "leases_matched"),
		"session_leases_listed", 1);
	int rc = o ? ctl_print_json(x, o) : ctl_err(x, "out of memory");

	json_decref(o);
	return rc;
}

static int leases_show(struct ctl *x, json_t *doc, int64_t pid)
{
	json_t *sel = json_array(), *s, *leases = jget_arr(doc, "leases");
	uint64_t listed = json_array_size(leases), matched, n, bytes;
	char b[KMEMCTL_SIZE_MAX];
	size_t i;
	int rc = KMEMCTL_OK;

	json_array_foreach(jget_arr(doc, "sessions"), i, s)
		if (pid < 0 || (int64_t)jget_u64(s, "pid") == pid)
			json_array_append(sel, s);
	if (pid >= 0 && json_array_size(sel) == 0) {
		json_decref(sel);
		return ctl_err(x, "no session of pid %lld is connected to kmemd",
			       (long long)pid);
	}
	if (x->json) {
		rc = leases_json(x, doc, sel, pid);
		json_decref(sel);
		return rc;
	}
	if (pid < 0) {
		puts("named buffers (persistent; 'kmemctl free NAME'):");
		named_table(jget_arr(doc, "named"));
		putchar('\n');
		puts("session leases:");
	} else {
		printf("leases of pid %lld:\n", (long long)pid);
	}
	bytes = lease_table(leases, &n);
	matched = jget_u64(doc, "leases_matched");
	printf("%" PRIu64 " session lease(s) listed, %s", n, hsize(bytes, b));
	if (matched > listed)
		printf("; %" PRIu64 " more not listed (the oldest come first)",
		       matched - listed);
	putchar('\n');
	json_decref(sel);
	return rc;
}

static int leases_opt(struct ctl *x, int o, const char *arg, void *st)
{
	uint64_t v;
	int rc;

	(void)o;
	rc = ctl_uint(x, "--session", arg, 1, INT32_MAX, &v);
	if (rc == KMEMCTL_GO)
		*(int64_t *)st = (int64_t)v;
	return rc;
}

int cmd_leases(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "session", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t pid = -1;
	json_t *doc;
	int rc = ctl_parse(x, argc, argv, "", opts, leases_opt, &pid);

	if (rc != KMEMCTL_GO)
		return rc;
	rc = ctl_stats_leases(x, pid < 0 ? 0 : (pid_t)pid, &doc);
	if (rc)
		return rc;
	rc = leases_show(x, doc, pid);
	json_decref(doc);
	return rc;
}

/* ------------------------------------------------------------ verify */

static int verify_json(struct ctl *x, const struct kmem_verify *v)
{
	json_t *problems = json_array(), *o;
	int rc;

	for (size_t i = 0; i < v->nproblems; i++)
		json_array_append_new(problems, json_string(v->problems[i]));
	o = json_pack("{s:b,s:I,s:I,s:I,s:o}", "ok", v->nproblems == 0,
		      "pools", (json_int_t)v->pools, "caches",
		      (json_int_t)v->caches, "leases", (json_int_t)v->leases,
		      "problems", problems);
	rc = o ? ctl_print_json(x, o) : ctl_err(x, "out of memory");
	json_decref(o);
	return rc;
}

int cmd_verify(struct ctl *x, int argc, char **argv)
{
	struct kmem_verify v;
	int rc = ctl_parse(x, argc, argv, NULL, NULL, NULL, NULL);

	if (rc != KMEMCTL_GO)
		return rc;
	rc = ctl_connect(x);
	if (rc)
		return rc;
	rc = kmem_client_verify(x->client, &v);
	if (rc)
		return ctl_failed(x, rc);
	if (x->json) {
		rc = verify_json(x, &v);
	} else {
		for (size_t i = 0; i < v.nproblems; i++)
			printf("problem: %s\n", v.problems[i]);
		printf("%s: %u pool(s), %u cache(s), %" PRIu64 " lease(s) checked",
		       v.nproblems ? "FAILED" : "ok", v.pools, v.caches, v.leases);
		if (v.nproblems)
			printf("; %zu problem(s)", v.nproblems);
		putchar('\n');
	}
	if (rc == KMEMCTL_OK && v.nproblems)
		rc = KMEMCTL_FAIL;
	kmem_client_verify_release(&v);
	return rc;
}

/* ------------------------------------------------------------ debug */

/* "poison,redzone" or "none" from a ["poison", "redzone"] array. */
static const char *flags_str(const json_t *a, char *buf, size_t len)
{
	size_t i, n = 0;
	json_t *f;

	buf[0] = 0;
	json_array_foreach(a, i, f)
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s",
				      n ? "," : "", json_string_value(f) ?
				      json_string_value(f) : "?");
	return n ? buf : "none";
}

/* {name, debug, poison_errors, redzone_errors} of a pool or cache. */
static json_t *debug_entry(const json_t *o)
{
	json_t *flags = json_object_get(o, "debug");

	return json_pack("{s:s,s:O,s:I,s:I}", "name", jget_str(o, "name"),
			 "debug", json_is_array(flags) ? flags : json_null(),
			 "poison_errors", (json_int_t)jget_u64(o, "poison_errors"),
			 "redzone_errors", (json_int_t)jget_u64(o, "redzone_errors"));
}

/*
 * The debugging state of the pools (one, when name is not NULL): each
 * pool's flags and findings, then its caches that debug (the size classes
 * and named caches take the pool's flags).
 */
static json_t *debug_state(const json_t *doc, const char *name)
{
	json_t *pools = json_array(), *p, *c;
	size_t i, k;

	json_array_foreach(jget_arr(doc, "pools"), i, p) {
		json_t *e, *caches;

		if (name && strcmp(jget_str(p, "name"), name))
			continue;
		caches = json_array();
		json_array_foreach(jget_arr(doc, "caches"), k, c)
			if (!strcmp(jget_str(c, "pool"), jget_str(p, "name")) &&
			    json_array_size(json_object_get(c, "debug")))
				json_array_append_new(caches, debug_entry(c));
		e = debug_entry(p);
		json_object_set_new(e, "caches", caches);
		json_array_append_new(pools, e);
	}
	return pools;
}

static void debug_row(struct table *t, const char *pool, const char *cache,
		      const json_t *e)
{
	char f[32];

	table_add(t, "%s", pool);
	table_add(t, "%s", cache);
	table_add(t, "%s", flags_str(json_object_get(e, "debug"), f, sizeof(f)));
	table_add(t, "%" PRIu64, jget_u64(e, "poison_errors"));
	table_add(t, "%" PRIu64, jget_u64(e, "redzone_errors"));
}

static int debug_show(struct ctl *x, const json_t *doc, const char *name)
{
	static const struct table_col cols[] = {
		{ "POOL", false }, { "CACHE", false }, { "DEBUG", false },
		{ "POISON-ERRORS", true }, { "REDZONE-ERRORS", true },
	};
	json_t *pools = debug_state(doc, name), *p, *c, *o;
	struct table t;
	size_t i, k;
	int rc;

	if (name && json_array_size(pools) == 0) {
		json_decref(pools);
		return ctl_err(x, "no pool named '%s'", name);
	}
	if (x->json) {
		o = json_pack("{s:o}", "pools", pools);
		rc = o ? ctl_print_json(x, o) : ctl_err(x, "out of memory");
		json_decref(o);
		return rc;
	}
	table_init(&t, cols, 5);
	json_array_foreach(pools, i, p) {
		debug_row(&t, jget_str(p, "name"), "*", p);
		json_array_foreach(jget_arr(p, "caches"), k, c)
			debug_row(&t, jget_str(p, "name"), jget_str(c, "name"), c);
	}
	json_decref(pools);
	rc = table_print(&t, stdout) ? ctl_err(x, "out of memory") : KMEMCTL_OK;
	table_fini(&t);
	return rc;
}

/* kmemctl debug POOL poison on|off */
static int debug_switch(struct ctl *x, const char *pool, const char *what,
			const char *onoff)
{
	bool on = !strcmp(onoff, "on");
	json_t *doc;
	int rc;

	if (strcmp(what, "poison"))
		return ctl_usage(x, "'%s' cannot be switched (only poison: red "
				 "zones are set in the configuration)", what);
	if (!on && strcmp(onoff, "off"))
		return ctl_usage(x, "'%s': say on or off", onoff);
	rc = ctl_connect(x);
	if (rc)
		return rc;
	rc = kmem_client_debug(x->client, pool, on);
	if (rc)
		return ctl_failed(x, rc);
	if (x->json) {
		rc = ctl_stats(x, &doc);
		if (rc)
			return rc;
		rc = debug_show(x, doc, pool);
		json_decref(doc);
		return rc;
	}
	printf("pool %s: poison %s\n", pool, on ? "on" : "off");
	return KMEMCTL_OK;
}

int cmd_debug(struct ctl *x, int argc, char **argv)
{
	json_t *doc;
	int rc = ctl_parse(x, argc, argv, NULL, NULL, NULL, NULL);

	if (rc != KMEMCTL_GO)
		return rc;
	if (x->nargs == 2)
		return ctl_usage(x, "say 'poison on' or 'poison off' after the pool");
	if (x->nargs == 3)
		return debug_switch(x, x->args[0], x->args[1], x->args[2]);
	rc = ctl_stats(x, &doc);
	if (rc)
		return rc;
	rc = debug_show(x, doc, x->nargs ? x->args[0] : NULL);
	json_decref(doc);
	return rc;
}
