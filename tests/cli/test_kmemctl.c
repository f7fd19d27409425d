/*
 * test_kmemctl.c - kmemctl end to end: the real kmemd on a temporary
 * socket with one 16 MiB pool of 4 KiB pages, and the real kmemctl run
 * for every subcommand, checking exit codes and output.
 *
 * cliutil.c starts the daemon and runs the binaries; table output is
 * checked cell by cell and --json output parsed with jansson.
 *
 * The tests share one daemon and run in order: the early ones check the
 * empty pool's exact figures, later ones allocate and give back.
 */
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cliutil.h"

/* ------------------------------------------------------------ help, usage */

static void test_kmemctl_help(void **state)
{
	static const char *const cmds[][2] = {
		{ "status", NULL }, { "stats", NULL }, { "pools", NULL },
		{ "buddyinfo", NULL }, { "slabinfo", NULL }, { "sessions", NULL },
		{ "leases", NULL }, { "alloc", NULL }, { "free", NULL },
		{ "cache", "create" }, { "cache", "destroy" }, { "cache", "list" },
		{ "top", NULL }, { "hugepages", NULL }, { "ping", NULL },
		{ "verify", NULL }, { "debug", NULL },
	};
	const struct cli_fixture *f = *state;
	char want[64];
	struct cli_result r;

	cli_run(f, &r, "--help", NULL);
	cli_expect_rc(&r, 0);
	assert_int_equal(strncmp(r.out, "usage: kmemctl [--socket PATH] COMMAND", 38), 0);
	cli_expect_has(r.out, "  cache create NAME SIZE");
	cli_run_free(&r);
	cli_run(f, &r, "help", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_has(r.out, "exit status: 0 ok, 1 the request failed, 2 usage error");
	cli_run_free(&r);
	cli_run(f, &r, "--version", NULL);
	cli_expect_rc(&r, 0);
	assert_string_equal(r.out, "kmemctl 0.1.0\n");
	cli_run_free(&r);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(want, sizeof(want), "usage: kmemctl %s%s%s ", cmds[i][0],
			 cmds[i][1] ? " " : "", cmds[i][1] ? cmds[i][1] : "");
		if (cmds[i][1])
			cli_run(f, &r, cmds[i][0], cmds[i][1], "--help", NULL);
		else
			cli_run(f, &r, cmds[i][0], "--help", NULL);
		cli_expect_rc(&r, 0);
		assert_int_equal(strncmp(r.out, want, strlen(want)), 0);
		cli_expect_has(r.out, "  --socket PATH");
		cli_run_free(&r);
		if (cmds[i][1])
			cli_run(f, &r, "help", cmds[i][0], cmds[i][1], NULL);
		else
			cli_run(f, &r, "help", cmds[i][0], NULL);
		cli_expect_rc(&r, 0);
		assert_int_equal(strncmp(r.out, want, strlen(want)), 0);
		cli_run_free(&r);
	}
	cli_run(f, &r, "cache", "--help", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_has(r.out, "usage: kmemctl cache destroy NAME\n");
	cli_run_free(&r);
	cli_run(f, &r, "help", "bogus", NULL);
	cli_expect_rc(&r, 2);
	cli_expect_has(r.err, "kmemctl: help: unknown command 'bogus'");
	cli_run_free(&r);
}

static void test_kmemctl_usage_errors(void **state)
{
	static const char *const cases[][7] = {
		/* stderr must hold [0]; the arguments follow */
		{ "kmemctl: no command given", NULL },
		{ "kmemctl: unknown command 'bogus'", "bogus", NULL },
		{ "kmemctl: unknown option '--bogus'", "--bogus", "status", NULL },
		{ "kmemctl: alloc: missing argument", "alloc", NULL },
		{ "kmemctl: alloc: SIZE: '1Q' is not a size", "alloc", "1Q", NULL },
		{ "kmemctl: alloc: --contig and --scatter exclude each other",
		  "alloc", "1M", "--contig", "--scatter" },
		{ "kmemctl: alloc: option '--name' needs a value", "alloc", "1M",
		  "--name", NULL },
		{ "kmemctl: alloc: --align: 'x' is not a size", "alloc", "1M",
		  "--align", "x" },
		{ "kmemctl: alloc: unexpected argument '2M'", "alloc", "1M", "2M", NULL },
		{ "kmemctl: alloc: --dma-mask: '0xff00' is not of the form 2^n - 1",
		  "alloc", "1M", "--dma-mask", "0xff00" },
		{ "kmemctl: alloc: --dma-mask: 'x' is not a mask (like 0xffffffff) "
		  "or a number of address bits (like 36)", "alloc", "1M",
		  "--dma-mask", "x" },
		{ "kmemctl: alloc: --boundary: '48K' is not a power of two", "alloc",
		  "1M", "--boundary", "48K" },
		{ "kmemctl: pools: unknown option '--bogus'", "pools", "--bogus", NULL },
		{ "kmemctl: stats: unexpected argument 'extra'", "stats", "extra", NULL },
		{ "kmemctl: free: unknown option '--json'", "free", "1", "--json", NULL },
		{ "kmemctl: free: ID: '0' is not a number", "free", "0", NULL },
		{ "kmemctl: leases: --session: 'x' is not a number", "leases",
		  "--session", "x", NULL },
		{ "kmemctl: top: --interval: '0' is not a number of seconds",
		  "top", "--interval", "0", NULL },
		{ "kmemctl: hugepages: --size and --node go with --reserve",
		  "hugepages", "--size", "2M", NULL },
		{ "kmemctl: hugepages: --size: '3' is not a hugepage size",
		  "hugepages", "--reserve", "1", "--size", "3" },
		{ "kmemctl: ping: --count: '0' is not a number from 1 to 10000",
		  "ping", "--count", "0", NULL },
		{ "kmemctl: verify: unexpected argument 'x'", "verify", "x", NULL },
		{ "kmemctl: debug: say 'poison on' or 'poison off' after the pool",
		  "debug", "p", "poison", NULL },
		{ "kmemctl: debug: 'redzone' cannot be switched (only poison: red "
		  "zones are set in the configuration)", "debug", "p", "redzone",
		  "on" },
		{ "kmemctl: debug: 'maybe': say on or off", "debug", "p", "poison",
		  "maybe" },
		{ "kmemctl: cache: which one?", "cache", NULL },
		{ "kmemctl: cache: unknown subcommand 'frob'", "cache", "frob", NULL },
		{ "kmemctl: cache create: missing argument", "cache", "create", "c",
		  NULL },
		{ "kmemctl: cache create: SIZE: 'big' is not a size", "cache",
		  "create", "c", "big" },
	};
	const struct cli_fixture *f = *state;
	struct cli_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_run(f, &r, cases[i][1], cases[i][2], cases[i][3], cases[i][4],
		    cases[i][5], NULL);
		cli_expect_rc(&r, 2);
		cli_expect_has(r.err, cases[i][0]);
		assert_string_equal(r.out, "");
		cli_run_free(&r);
	}
}

static void test_kmemctl_unreachable(void **state)
{
	const struct cli_fixture *f = *state;
	char path[160], env[200];
	struct cli_result r;

	snprintf(path, sizeof(path), "%s/nobody.sock", f->dir);
	cli_run(f, &r, "--socket", path, "status", NULL);
	cli_expect_rc(&r, 3);
	cli_expect_has(r.err, "kmemctl: status: cannot connect to kmemd at ");
	cli_expect_has(r.err, path);
	cli_expect_has(r.err, "is kmemd running?");
	assert_string_equal(r.out, "");
	cli_run_free(&r);
	/* --socket after the command, and every daemon command alike. */
	cli_run(f, &r, "stats", "--json", "--socket", path, NULL);
	cli_expect_rc(&r, 3);
	cli_expect_has(r.err, path);
	assert_string_equal(r.out, "");
	cli_run_free(&r);
	snprintf(env, sizeof(env), "KMEMD_SOCKET=%s/other.sock", f->dir);
	cli_run_env(f, &r, env, "alloc", "1M", NULL);
	cli_expect_rc(&r, 3);
	cli_expect_has(r.err, env + strlen("KMEMD_SOCKET="));
	cli_run_free(&r);
	/* hugepages needs no daemon. */
	cli_run_env(f, &r, env, "hugepages", NULL);
	cli_expect_rc(&r, 0);
	cli_run_free(&r);
}

/* ------------------------------------------------------------ read commands */

static void test_kmemctl_status(void **state)
{
	const struct cli_fixture *f = *state;
	char line[256];
	json_t *doc, *s;
	struct cli_result r;

	cli_run(f, &r, "status", NULL);
	cli_expect_rc(&r, 0);
	assert_int_equal(strncmp(r.out, "kmemd 0.1.0 (pid ", 17), 0);
	assert_non_null(strstr(cli_line_at(r.out, 0, line, sizeof(line)), f->sock));
	cli_expect_words(r.out, "leases 0 live, 0 reclaimed from ended sessions");
	cli_expect_row(r.out, "POOL|BACKING|PAGE|TOTAL|USED|FREE|LARGEST|LEASES");
	cli_expect_row(r.out, "p|nohuge|4 KiB|16 MiB|0 B|16 MiB|16 MiB|0");
	cli_expect_row(r.out, "SESSION|PID|UID|COMM|NAME|LEASES|BYTES|WAITING");
	cli_run_free(&r);

	cli_run(f, &r, "status", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	assert_string_equal(cli_jstr(doc, "socket"), f->sock);
	assert_string_equal(cli_jstr(json_object_get(doc, "daemon"), "version"), "0.1.0");
	assert_int_equal(cli_jint(json_object_get(doc, "daemon"), "pid"), f->daemon);
	assert_string_equal(cli_jstr(cli_pool0(doc), "name"), "p");
	assert_int_equal(cli_jint(cli_pool0(doc), "bytes_total"), 16 << 20);
	assert_int_equal(cli_jint(cli_pool0(doc), "bytes_free"), 16 << 20);
	assert_int_equal(cli_jint(cli_pool0(doc), "largest_free"), 16 << 20);
	/* Its own session, and nobody else. */
	assert_int_equal(json_array_size(json_object_get(doc, "sessions")), 1);
	s = cli_session_of(doc, r.pid);
	assert_non_null(s);
	assert_string_equal(cli_jstr(s, "comm"), "kmemctl");
	assert_true(cli_jint(doc, "requests") >= 2);
	json_decref(doc);
	cli_run_free(&r);
}

static void test_kmemctl_pools(void **state)
{
	const struct cli_fixture *f = *state;
	struct cli_result r;
	json_t *doc;

	cli_run(f, &r, "pools", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "POOL|BACKING|PAGE|IOVA|POLICY|TOTAL|USED|FREE|LARGEST|"
		   "LEASES|RUNS|QUOTA");
	cli_expect_row(r.out, "p|nohuge|4 KiB|va|buddy|16 MiB|0 B|16 MiB|16 MiB|0|1|none");
	cli_run_free(&r);
	cli_run(f, &r, "pools", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	assert_int_equal(json_array_size(json_object_get(doc, "pools")), 1);
	assert_string_equal(cli_jstr(cli_pool0(doc), "name"), "p");
	assert_int_equal(cli_jint(cli_pool0(doc), "page_size"), 4096);
	assert_int_equal(cli_jint(cli_pool0(doc), "bytes_total"), 16 << 20);
	assert_string_equal(cli_jstr(cli_pool0(doc), "iova_mode"), "va");
	json_decref(doc);
	cli_run_free(&r);
}

static void test_kmemctl_buddyinfo(void **state)
{
	const struct cli_fixture *f = *state;
	struct cli_result r;
	json_t *doc, *row, *free_;

	/* An empty 16 MiB pool of 4 KiB pages: one free block of order 12. */
	cli_run(f, &r, "buddyinfo", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_words(r.out, "pool p arena 0 node 0 zone unknown "
		     "0 0 0 0 0 0 0 0 0 0 0 0 1");
	cli_run_free(&r);
	cli_run(f, &r, "buddyinfo", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	row = json_array_get(json_object_get(doc, "buddyinfo"), 0);
	assert_string_equal(cli_jstr(row, "pool"), "p");
	assert_int_equal(cli_jint(row, "arena"), 0);
	assert_int_equal(cli_jint(row, "page_size"), 4096);
	free_ = json_object_get(row, "free");
	assert_int_equal(json_array_size(free_), 13);
	assert_int_equal(json_integer_value(json_array_get(free_, 12)), 1);
	assert_int_equal(json_integer_value(json_array_get(free_, 0)), 0);
	json_decref(doc);
	cli_run_free(&r);
}

static void test_kmemctl_slabinfo(void **state)
{
	const struct cli_fixture *f = *state;
	char line[512];
	struct cli_result r;
	json_t *doc, *c;
	size_t i;
	bool seen = false;

	cli_run(f, &r, "slabinfo", NULL);
	cli_expect_rc(&r, 0);
	assert_string_equal(cli_line_at(r.out, 0, line, sizeof(line)),
			    "slabinfo - version: 2.1");
	assert_string_equal(cli_line_at(r.out, 1, line, sizeof(line)),
			    "# name            <active_objs> <num_objs> <objsize> "
			    "<objperslab> <pagesperslab> : tunables <limit> "
			    "<batchcount> <sharedfactor> : slabdata <active_slabs> "
			    "<num_slabs> <sharedavail>");
	assert_string_equal(cli_line_at(r.out, 2, line, sizeof(line)),
			    "kmalloc-8              0      0      8  512    1 : "
			    "tunables    0    0    0 : slabdata      0      0      0");
	cli_expect_words(r.out, "kmalloc-1k 0 0 1024 8 2 : tunables 0 0 0 : "
		     "slabdata 0 0 0");
	cli_run_free(&r);
	cli_run(f, &r, "slabinfo", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	json_array_foreach(json_object_get(doc, "caches"), i, c)
		if (!strcmp(cli_jstr(c, "name"), "kmalloc-8")) {
			assert_int_equal(cli_jint(c, "objsize"), 8);
			assert_int_equal(cli_jint(c, "objperslab"), 512);
			assert_string_equal(cli_jstr(c, "pool"), "p");
			seen = true;
		}
	assert_true(seen);
	json_decref(doc);
	cli_run_free(&r);
}

static void test_kmemctl_sessions(void **state)
{
	const struct cli_fixture *f = *state;
	json_int_t session_id = cli_daemon_field(f, "sessions_total") + 1;
	char row[128];
	struct cli_result r;
	json_t *doc, *s;

	/* Session ids count up from 1: this kmemctl gets the next one. */
	cli_run(f, &r, "sessions", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "SESSION|PID|UID|COMM|NAME|LEASES|BYTES|WAITING");
	/* Its own row, the only one: SESSION PID UID COMM NAME 0 0 B 0. */
	snprintf(row, sizeof(row), "%lld|%d|%d|kmemctl|kmemctl|0|0 B|0",
		 (long long)session_id, (int)r.pid, (int)getuid());
	cli_expect_row(r.out, row);
	cli_run_free(&r);
	cli_run(f, &r, "sessions", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	s = cli_session_of(doc, r.pid);
	assert_non_null(s);
	assert_string_equal(cli_jstr(s, "name"), "kmemctl");
	assert_int_equal(cli_jint(s, "leases"), 0);
	assert_int_equal(cli_jint(s, "bytes"), 0);
	json_decref(doc);
	cli_run_free(&r);
}

static void test_kmemctl_stats(void **state)
{
	const struct cli_fixture *f = *state;
	struct cli_result r;
	json_t *doc;
	size_t len;

	cli_run(f, &r, "stats", NULL);
	cli_expect_rc(&r, 0);
	assert_int_equal(strncmp(r.out, "kmemd 0.1.0 (pid ", 17), 0);
	cli_expect_has(r.out, "\nstats document version 1; sessions 1 (");
	cli_expect_row(r.out, "p|nohuge|4 KiB|16 MiB|0 B|16 MiB|16 MiB|0");
	cli_expect_has(r.out, "\npool p: 1 physical run(s), largest 16 MiB; policy "
		   "buddy, iova va\n");
	cli_expect_has(r.out, "\ncaches    13, 0 objects active in 0 slabs");
	cli_expect_has(r.out, "\nnamed     0 buffer(s) holding 0 B");
	cli_expect_has(r.out, "\nrequests  ");
	cli_expect_has(r.out, "\nerrors    ");
	cli_expect_has(r.out, "\nlatency   ");
	cli_run_free(&r);
	/* Verbatim: the daemon's document, pretty-printed by the daemon. */
	cli_run(f, &r, "stats", "--json", NULL);
	cli_expect_rc(&r, 0);
	len = strlen(r.out);
	assert_true(len > 2 && r.out[len - 1] == '\n' && r.out[len - 2] == '}');
	assert_int_equal(strncmp(r.out, "{\n  \"version\": 1,", 17), 0);
	doc = cli_parse(r.out);
	assert_int_equal(cli_jint(doc, "version"), 1);
	assert_non_null(json_object_get(doc, "caches"));
	assert_non_null(json_object_get(doc, "latency"));
	json_decref(doc);
	cli_run_free(&r);
}

/* ------------------------------------------------------------ alloc, free */

static void test_kmemctl_alloc_named(void **state)
{
	const struct cli_fixture *f = *state;
	json_int_t free0, id;
	char v[256], want[128], off[32];
	json_t *doc, *n;
	struct cli_result r;

	doc = cli_stats(f);
	free0 = cli_jint(cli_pool0(doc), "bytes_free");
	json_decref(doc);

	cli_run(f, &r, "alloc", "1M", "--name", "x", "--tag", "t1", NULL);
	cli_expect_rc(&r, 0);
	id = strtoll(cli_field(r.out, "id", v, sizeof(v)), NULL, 10);
	assert_true(id > 0);
	cli_field(r.out, "offset", off, sizeof(off));
	assert_string_equal(cli_field(r.out, "pool", v, sizeof(v)), "p");
	assert_string_equal(cli_field(r.out, "length", v, sizeof(v)), "1048576 (1 MiB)");
	assert_int_equal(strncmp(cli_field(r.out, "offset", v, sizeof(v)), "0x", 2), 0);
	assert_string_equal(cli_field(r.out, "phys", v, sizeof(v)),
			    "none (pool p has IOVA mode va: no physical addresses)");
	assert_string_equal(cli_field(r.out, "segments", v, sizeof(v)), "1");
	assert_string_equal(cli_field(r.out, "tag", v, sizeof(v)), "t1");
	assert_string_equal(cli_field(r.out, "name", v, sizeof(v)),
			    "x (persistent: it outlives kmemctl; 'kmemctl free x' "
			    "frees it)");
	cli_run_free(&r);

	/* The buffer outlived kmemctl: the stats show it, the pool lost 1 MiB. */
	doc = cli_stats(f);
	n = json_array_get(json_object_get(doc, "named"), 0);
	assert_non_null(n);
	assert_string_equal(cli_jstr(n, "name"), "x");
	assert_int_equal(cli_jint(n, "id"), id);
	assert_int_equal(cli_jint(n, "length"), 1048576);
	assert_string_equal(cli_jstr(n, "pool"), "p");
	assert_int_equal(cli_jint(cli_pool0(doc), "bytes_free"), free0 - 1048576);
	assert_int_equal(cli_jint(cli_pool0(doc), "leases"), 1);
	assert_int_equal(cli_jint(json_object_get(doc, "daemon"), "leases"), 1);
	json_decref(doc);

	cli_run(f, &r, "leases", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "ID|NAME|POOL|OFFSET|LENGTH|UID|REFS|STATE");
	snprintf(want, sizeof(want), "%lld|x|p|%s|1 MiB|%d|0|live", (long long)id,
		 off, (int)getuid());
	cli_expect_row(r.out, want);
	cli_expect_has(r.out, "named buffers (persistent; 'kmemctl free NAME'):\n");
	cli_run_free(&r);
	cli_run(f, &r, "leases", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	n = json_array_get(json_object_get(doc, "named"), 0);
	assert_string_equal(cli_jstr(n, "name"), "x");
	assert_int_equal(cli_jint(n, "length"), 1048576);
	assert_true(json_is_true(json_object_get(doc, "session_leases_listed")));
	/* The named buffer is a lease too, with no session. */
	assert_int_equal(cli_jint(doc, "leases_matched"), 1);
	assert_true(json_is_null(json_object_get(json_array_get(
		json_object_get(doc, "leases"), 0), "session")));
	json_decref(doc);
	cli_run_free(&r);

	cli_run(f, &r, "alloc", "1M", "--name", "x", NULL);
	cli_expect_rc(&r, 1);
	cli_expect_has(r.err, "kmemctl: alloc: a buffer named 'x' exists");
	cli_run_free(&r);

	cli_run(f, &r, "free", "x", NULL);
	cli_expect_rc(&r, 0);
	snprintf(want, sizeof(want), "freed buffer 'x' (lease %lld, 1 MiB)\n",
		 (long long)id);
	assert_string_equal(r.out, want);
	cli_run_free(&r);
	doc = cli_stats(f);
	assert_int_equal(json_array_size(json_object_get(doc, "named")), 0);
	assert_int_equal(cli_jint(cli_pool0(doc), "bytes_free"), free0);
	json_decref(doc);

	cli_run(f, &r, "free", "x", NULL);
	cli_expect_rc(&r, 1);
	cli_expect_has(r.err, "kmemctl: free: no buffer named 'x'");
	cli_run_free(&r);
	cli_run(f, &r, "free", "--name", "123", NULL);
	cli_expect_rc(&r, 1);
	cli_expect_has(r.err, "kmemctl: free: no buffer named '123'");
	cli_run_free(&r);
}

static void test_kmemctl_alloc_session_lease(void **state)
{
	const struct cli_fixture *f = *state;
	json_int_t reclaimed = cli_daemon_field(f, "leases_reclaimed"), id;
	char want[200], v[64];
	json_t *doc, *segs;
	struct cli_result r;

	cli_run(f, &r, "alloc", "1M", "--zero", NULL);
	cli_expect_rc(&r, 0);
	id = strtoll(cli_field(r.out, "id", v, sizeof(v)), NULL, 10);
	snprintf(want, sizeof(want), "\nnote: lease %lld belongs to this kmemctl's "
		 "session and is freed as kmemctl exits (--name N keeps a "
		 "buffer, --hold holds it until Ctrl-C)\n", (long long)id);
	cli_expect_has(r.out, want);
	cli_run_free(&r);
	cli_wait_no_leases(f);
	assert_int_equal(cli_daemon_field(f, "leases_reclaimed"), reclaimed + 1);

	cli_run(f, &r, "alloc", "2M", "--json", "--align", "2M", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	assert_true(cli_jint(doc, "id") > id);
	assert_string_equal(cli_jstr(doc, "pool"), "p");
	assert_int_equal(cli_jint(doc, "length"), 2 << 20);
	assert_int_equal(cli_jint(doc, "offset") % (2 << 20), 0);
	assert_true(json_is_false(json_object_get(doc, "persistent")));
	assert_true(json_is_null(json_object_get(doc, "name")));
	segs = json_object_get(doc, "segments");
	assert_int_equal(json_array_size(segs), 1);
	assert_int_equal(cli_jint(json_array_get(segs, 0), "length"), 2 << 20);
	json_decref(doc);
	cli_run_free(&r);
	cli_wait_no_leases(f);
}

static void test_kmemctl_alloc_failures(void **state)
{
	static const char *const cases[][4] = {
		{ "kmemctl: alloc: size 0 is not allowed\n", "0", NULL },
		{ "kmemctl: alloc: no pool named 'nope'\n", "1M", "--pool", "nope" },
		{ "kmemctl: alloc: 32 MiB is larger than the whole pool (16 MiB)\n",
		  "32M", NULL },
		{ "kmemctl: alloc: alignment 3 is not a power of two\n", "1M",
		  "--align", "3" },
		{ "kmemctl: alloc: physical addresses are unknown in this pool",
		  "1M", "--dma32", NULL },
		{ "kmemctl: alloc: physical addresses are unknown in this pool",
		  "1M", "--dma-mask", "36" },
		{ "kmemctl: alloc: physical addresses are unknown in this pool",
		  "16K", "--boundary", "64K" },
	};
	const struct cli_fixture *f = *state;
	struct cli_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cli_run(f, &r, "alloc", cases[i][1], cases[i][2], cases[i][3], NULL);
		cli_expect_rc(&r, 1);
		cli_expect_has(r.err, cases[i][0]);
		assert_string_equal(r.out, "");
		cli_run_free(&r);
	}
	cli_run(f, &r, "free", "999999", NULL);
	cli_expect_rc(&r, 1);
	assert_string_equal(r.err, "kmemctl: free: no lease 999999 (never "
			    "allocated, or freed already)\n");
	cli_run_free(&r);
}

/* Start `kmemctl alloc SIZE --hold [--tag TAG]`; read its output until it
 * holds. */
static pid_t start_hold(const struct cli_fixture *f, const char *size,
			const char *tag, int *ofd, json_int_t *id)
{
	char *argv[] = { NULL, "alloc", (char *)size, "--hold",
			 tag ? "--tag" : NULL, (char *)tag, NULL }, v[32];
	char *out = NULL;
	size_t len = 0;
	double end = cli_now_ms() + RUN_TIMEOUT_MS;
	pid_t pid = cli_start(f, NULL, argv, ofd, NULL);

	cli_append(&out, &len, "", 0);
	while (!strstr(out, " until Ctrl-C or SIGTERM\n") && cli_now_ms() < end) {
		struct pollfd p = { .fd = *ofd, .events = POLLIN };
		char buf[512];
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(*ofd, buf, sizeof(buf));
		if (n <= 0)
			break;
		cli_append(&out, &len, buf, (size_t)n);
	}
	cli_expect_has(out, "\nholding lease ");
	*id = strtoll(cli_field(out, "id", v, sizeof(v)), NULL, 10);
	free(out);
	return pid;
}

/* SIGTERM the holder; its exit code and last words (all it says after
 * "holding lease"). */
static void stop_hold(pid_t pid, int ofd, const char *last_words)
{
	struct cli_result r = { .pid = pid };
	int efd[2];

	assert_int_equal(pipe(efd), 0);
	close(efd[1]);
	kill(pid, SIGTERM);
	cli_collect(&r, ofd, efd[0]);
	cli_expect_rc(&r, 0);
	assert_string_equal(r.out, last_words);
	cli_run_free(&r);
}

static void test_kmemctl_hold(void **state)
{
	const struct cli_fixture *f = *state;
	char pid_s[16], want[160], hdr[48];
	json_int_t id, session;
	json_t *doc, *s;
	struct cli_result r;
	int ofd;
	pid_t h = start_hold(f, "1M", "held", &ofd, &id);

	snprintf(pid_s, sizeof(pid_s), "%d", (int)h);
	doc = cli_stats(f);
	s = cli_session_of(doc, h);
	assert_non_null(s);
	session = cli_jint(s, "id");
	assert_int_equal(cli_jint(s, "leases"), 1);
	assert_int_equal(cli_jint(s, "bytes"), 1048576);
	json_decref(doc);

	cli_run(f, &r, "sessions", NULL);
	cli_expect_rc(&r, 0);
	snprintf(want, sizeof(want), "%lld|%d|%d|kmemctl|kmemctl|1|1 MiB|0",
		 (long long)session, (int)h, (int)getuid());
	cli_expect_row(r.out, want);
	cli_run_free(&r);

	/* Every lease of the session, one by one. */
	cli_run(f, &r, "leases", "--session", pid_s, "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	assert_int_equal(json_array_size(json_object_get(doc, "sessions")), 1);
	s = json_array_get(json_object_get(doc, "sessions"), 0);
	assert_int_equal(cli_jint(s, "pid"), h);
	assert_int_equal(cli_jint(s, "leases"), 1);
	assert_int_equal(json_array_size(json_object_get(doc, "named")), 0);
	assert_int_equal(cli_jint(doc, "leases_matched"), 1);
	assert_int_equal(json_array_size(json_object_get(doc, "leases")), 1);
	s = json_array_get(json_object_get(doc, "leases"), 0);
	assert_int_equal(cli_jint(s, "id"), id);
	assert_int_equal(cli_jint(s, "session"), session);
	assert_int_equal(cli_jint(s, "pid"), h);
	assert_int_equal(cli_jint(s, "length"), 1048576);
	assert_int_equal(cli_jint(s, "requested"), 1048576);
	assert_string_equal(cli_jstr(s, "tag"), "held");
	assert_string_equal(cli_jstr(s, "kind"), "buffer");
	assert_string_equal(cli_jstr(s, "pool"), "p");
	snprintf(want, sizeof(want), "%lld|%lld|%d|kmemctl|p|buffer|0x%llx|1 MiB|"
		 "1048576|held|", (long long)id, (long long)session, (int)h,
		 (unsigned long long)cli_jint(s, "offset"));
	json_decref(doc);
	cli_run_free(&r);
	cli_run(f, &r, "leases", "--session", pid_s, NULL);
	cli_expect_rc(&r, 0);
	assert_null(strstr(r.out, "named buffers"));
	snprintf(hdr, sizeof(hdr), "leases of pid %d:\n", (int)h);
	assert_int_equal(strncmp(r.out, hdr, strlen(hdr)), 0);
	cli_expect_row(r.out, "ID|SESSION|PID|COMM|POOL|KIND|OFFSET|LENGTH|"
		       "REQUESTED|TAG|AGE");
	cli_expect_row_begins(r.out, want);	/* then the age */
	cli_expect_has(r.out, "\n1 session lease(s) listed, 1 MiB\n");
	cli_run_free(&r);
	/* Without --session: the same lease among all of them. */
	cli_run(f, &r, "leases", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_has(r.out, "named buffers (persistent; 'kmemctl free NAME'):\n");
	cli_expect_has(r.out, "\nsession leases:\n");
	cli_expect_row_begins(r.out, want);
	cli_run_free(&r);
	/* The lease is where the engine has it. */
	cli_run(f, &r, "verify", NULL);
	cli_expect_rc(&r, 0);
	assert_string_equal(r.out, "ok: 1 pool(s), 13 cache(s), 1 lease(s) checked\n");
	cli_run_free(&r);
	cli_run(f, &r, "leases", "--session", "1", NULL);
	cli_expect_rc(&r, 1);
	cli_expect_has(r.err, "kmemctl: leases: no session of pid 1 is connected");
	cli_run_free(&r);

	snprintf(want, sizeof(want), "freed lease %lld\n", (long long)id);
	stop_hold(h, ofd, want);
	cli_wait_no_leases(f);
}

/* Another kmemctl frees a held lease: only root or the admin group may. */
static void test_kmemctl_free_other_session(void **state)
{
	const struct cli_fixture *f = *state;
	char id_s[32], want[160];
	json_int_t id;
	struct cli_result r;
	int ofd;
	pid_t h = start_hold(f, "64K", NULL, &ofd, &id);

	snprintf(id_s, sizeof(id_s), "%lld", (long long)id);
	cli_run(f, &r, "free", id_s, NULL);
	if (geteuid() == 0) {
		cli_expect_rc(&r, 0);
		snprintf(want, sizeof(want), "freed lease %s\n", id_s);
		assert_string_equal(r.out, want);
		snprintf(want, sizeof(want), "lease %s was freed already\n", id_s);
	} else {
		cli_expect_rc(&r, 1);
		cli_expect_has(r.err, "belongs to another session");
		cli_expect_has(r.err, "a session's leases are freed by that session");
		snprintf(want, sizeof(want), "freed lease %s\n", id_s);
	}
	cli_run_free(&r);
	stop_hold(h, ofd, want);
	cli_wait_no_leases(f);
}

/* ------------------------------------------------------------ caches */

static void test_kmemctl_cache(void **state)
{
	const struct cli_fixture *f = *state;
	struct cli_result r;
	json_t *doc, *c;

	cli_run(f, &r, "cache", "create", "c1", "256", "--align", "64", NULL);
	cli_expect_rc(&r, 0);
	assert_int_equal(strncmp(r.out, "created cache 'c1' (id ", 23), 0);
	cli_expect_has(r.out, ") of 256 B objects in pool p\n");
	cli_run_free(&r);
	cli_run(f, &r, "cache", "create", "c1", "256", NULL);
	cli_expect_rc(&r, 1);
	cli_expect_has(r.err, "kmemctl: cache create: a cache named 'c1' exists");
	cli_run_free(&r);

	cli_run(f, &r, "cache", "list", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "CACHE|POOL|OBJSIZE|ACTIVE|OBJS|OBJ/SLAB|PAGES/SLAB|SLABS");
	cli_expect_row(r.out, "c1|p|256|0|0|16|1|0");
	assert_null(strstr(r.out, "kmalloc-"));
	cli_run_free(&r);
	cli_run(f, &r, "cache", "list", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	assert_int_equal(json_array_size(json_object_get(doc, "caches")), 1);
	c = json_array_get(json_object_get(doc, "caches"), 0);
	assert_string_equal(cli_jstr(c, "name"), "c1");
	assert_int_equal(cli_jint(c, "objsize"), 256);
	json_decref(doc);
	cli_run_free(&r);
	cli_run(f, &r, "cache", "list", "--all", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "kmalloc-8|p|8|0|0|512|1|0");
	cli_expect_row(r.out, "c1|p|256|0|0|16|1|0");
	cli_run_free(&r);

	cli_run(f, &r, "cache", "destroy", "c1", NULL);
	cli_expect_rc(&r, 0);
	assert_string_equal(r.out, "destroyed cache 'c1'\n");
	cli_run_free(&r);
	cli_run(f, &r, "cache", "destroy", "c1", NULL);
	cli_expect_rc(&r, 1);
	assert_string_equal(r.err, "kmemctl: cache destroy: no cache named 'c1'\n");
	cli_run_free(&r);
}

/* ------------------------------------------------------------ verify, debug */

static void test_kmemctl_verify(void **state)
{
	const struct cli_fixture *f = *state;
	struct cli_result r;
	json_t *doc;

	cli_run(f, &r, "verify", NULL);
	cli_expect_rc(&r, 0);
	assert_string_equal(r.out, "ok: 1 pool(s), 13 cache(s), 0 lease(s) checked\n");
	assert_string_equal(r.err, "");
	cli_run_free(&r);
	cli_run(f, &r, "verify", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	assert_true(json_is_true(json_object_get(doc, "ok")));
	assert_int_equal(cli_jint(doc, "pools"), 1);
	assert_int_equal(cli_jint(doc, "caches"), 13);
	assert_int_equal(cli_jint(doc, "leases"), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "problems")), 0);
	json_decref(doc);
	cli_run_free(&r);
}

/* kmemctl run as uid/gid 65534 (nobody); the daemon's socket and its
 * directory are opened to it for the run. */
static void run_as_nobody(const struct cli_fixture *f, struct cli_result *r,
			  char **argv)
{
	int o[2], e[2];

	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chmod(f->sock, 0666), 0);
	assert_int_equal(pipe(o), 0);
	assert_int_equal(pipe(e), 0);
	memset(r, 0, sizeof(*r));
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(126);
		argv[0] = (char *)f->kmemctl;
		execv(f->kmemctl, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	cli_collect(r, o[0], e[0]);
	chmod(f->sock, 0660);
	chmod(f->dir, 0700);
}

static void test_kmemctl_debug(void **state)
{
	const struct cli_fixture *f = *state;
	char *argv[] = { NULL, "debug", "p", "poison", "on", NULL };
	struct cli_result r;
	json_t *doc, *p;

	cli_run(f, &r, "debug", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "POOL|CACHE|DEBUG|POISON-ERRORS|REDZONE-ERRORS");
	cli_expect_row(r.out, "p|*|none|0|0");
	assert_null(strstr(r.out, "kmalloc-"));
	cli_run_free(&r);
	cli_run(f, &r, "debug", "nope", NULL);
	cli_expect_rc(&r, 1);
	assert_string_equal(r.err, "kmemctl: debug: no pool named 'nope'\n");
	cli_run_free(&r);
	cli_run(f, &r, "debug", "nope", "poison", "on", NULL);
	cli_expect_rc(&r, 1);
	assert_string_equal(r.err, "kmemctl: debug: no pool named 'nope'\n");
	cli_run_free(&r);

	if (geteuid() == 0) {
		run_as_nobody(f, &r, argv);
		cli_expect_rc(&r, 1);
		assert_string_equal(r.err, "kmemctl: debug: only root or the admin "
				    "group may switch debugging\n");
		cli_run_free(&r);
	}
	cli_run(f, &r, "debug", "p", "poison", "on", NULL);
	if (geteuid() != 0) {
		cli_expect_rc(&r, 1);
		cli_expect_has(r.err, "only root or the admin group");
		cli_run_free(&r);
		return;
	}
	cli_expect_rc(&r, 0);
	assert_string_equal(r.out, "pool p: poison on\n");
	cli_run_free(&r);
	cli_run(f, &r, "debug", "p", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "p|*|poison|0|0");
	cli_expect_row(r.out, "p|kmalloc-8|poison|0|0");
	cli_expect_row(r.out, "p|kmalloc-8k|poison|0|0");
	cli_run_free(&r);
	cli_run(f, &r, "debug", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	p = cli_pool0(doc);
	assert_string_equal(cli_jstr(p, "name"), "p");
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(p, "debug"), 0)), "poison");
	assert_int_equal(json_array_size(json_object_get(p, "debug")), 1);
	assert_int_equal(json_array_size(json_object_get(p, "caches")), 13);
	assert_int_equal(cli_jint(p, "poison_errors"), 0);
	json_decref(doc);
	cli_run_free(&r);
	/* A poisoning pool allocates, frees and verifies as before. */
	cli_run(f, &r, "alloc", "100", NULL);
	cli_expect_rc(&r, 0);
	cli_run_free(&r);
	cli_run(f, &r, "verify", NULL);
	cli_expect_rc(&r, 0);
	cli_run_free(&r);
	cli_run(f, &r, "debug", "p", "poison", "off", NULL);
	cli_expect_rc(&r, 0);
	assert_string_equal(r.out, "pool p: poison off\n");
	cli_run_free(&r);
	cli_run(f, &r, "debug", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "p|*|none|0|0");
	assert_null(strstr(r.out, "kmalloc-"));
	cli_run_free(&r);
}

/* ------------------------------------------------------------ top, ping */

static void test_kmemctl_top(void **state)
{
	const struct cli_fixture *f = *state;
	struct cli_result r;

	/* stdout is a pipe: one frame, no terminal control, exit 0. */
	cli_run(f, &r, "top", "--interval", "5", NULL);
	cli_expect_rc(&r, 0);
	assert_int_equal(strncmp(r.out, "kmemd 0.1.0  pid ", 17), 0);
	cli_expect_has(r.out, "\nrequests ");
	cli_expect_row(r.out, "POOL|BACKING|PAGE|TOTAL|USED|FREE|LARGEST|LEASES");
	cli_expect_row(r.out, "OBJS|ACTIVE|USE|OBJ SIZE|SLABS|OBJ/SLAB|CACHE SIZE|"
		   "NAME|POOL");
	cli_expect_row(r.out, "SESSION|PID|UID|COMM|NAME|LEASES|BYTES|WAITING");
	assert_null(strchr(r.out, '\033'));
	assert_string_equal(r.err, "");
	cli_run_free(&r);
}

/* On a terminal: frames every interval until q, then the cursor back. */
static void test_kmemctl_top_tty(void **state)
{
	const struct cli_fixture *f = *state;
	char *out = NULL, buf[4096];
	size_t len = 0;
	double end = cli_now_ms() + RUN_TIMEOUT_MS;
	int fd, status = -1;
	pid_t pid = forkpty(&fd, NULL, NULL, NULL);

	assert_true(pid >= 0);
	if (pid == 0) {
		execl(f->kmemctl, "kmemctl", "top", "--interval", "0.1",
		      (char *)NULL);
		_exit(127);
	}
	cli_append(&out, &len, "", 0);
	/* Two frames, then q. */
	while (cli_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const char *second = strstr(out, "\033[H\033[2J");
		ssize_t n;

		if (second && strstr(second + 1, "\033[H\033[2J") &&
		    strstr(strstr(second + 1, "\033[H\033[2J"), "WAITING"))
			break;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		cli_append(&out, &len, buf, (size_t)n);
	}
	assert_int_equal(write(fd, "q", 1), 1);
	while (cli_now_ms() < end && waitpid(pid, &status, WNOHANG) == 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0)
			cli_append(&out, &len, buf, (size_t)n);
		else
			usleep(10000);
	}
	/* It may have exited before its last bytes (the cursor coming
	 * back) were read: they are still in the pty until EIO. */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0 || (n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		cli_append(&out, &len, buf, (size_t)n);
	}
	close(fd);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	cli_expect_has(out, "(every 0.1s; q quits)");
	/* From the second frame on, a rate; top's own Stats are left out. */
	cli_expect_has(strstr(out, "\033[H\033[2J") + 1,
		   "requests 0.0/s  alloc 0.0/s  free 0.0/s  errors 0.0/s");
	cli_expect_has(out, "\033[?25h");	/* the cursor is back */
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(out);
}

static void test_kmemctl_ping(void **state)
{
	const struct cli_fixture *f = *state;
	char want[200];
	struct cli_result r;
	json_t *doc;

	cli_run(f, &r, "ping", NULL);
	cli_expect_rc(&r, 0);
	snprintf(want, sizeof(want), "pong from kmemd at %s: median ", f->sock);
	assert_int_equal(strncmp(r.out, want, strlen(want)), 0);
	cli_expect_has(r.out, " us over 5 round trip(s) of 0 B each way (min ");
	cli_run_free(&r);
	cli_run(f, &r, "ping", "--count", "3", "--size", "4K", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	assert_string_equal(cli_jstr(doc, "socket"), f->sock);
	assert_int_equal(cli_jint(doc, "count"), 3);
	assert_int_equal(cli_jint(doc, "payload"), 4096);
	assert_int_equal(json_array_size(json_object_get(doc, "samples_ns")), 3);
	assert_true(cli_jint(doc, "min_ns") > 0);
	assert_true(cli_jint(doc, "min_ns") <= cli_jint(doc, "median_ns"));
	assert_true(cli_jint(doc, "median_ns") <= cli_jint(doc, "max_ns"));
	json_decref(doc);
	cli_run_free(&r);
}

/* ------------------------------------------------------------ hugepages */

static long sysfs_long(const char *path)
{
	FILE *fp = fopen(path, "r");
	long v = -1;

	if (fp) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

static void test_kmemctl_hugepages(void **state)
{
	const struct cli_fixture *f = *state;
	const char *gig = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages";
	char want[160], n_s[32];
	bool seen = false;
	json_t *doc, *h;
	struct cli_result r;
	size_t i;
	long n;

	if (access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK)) {
		skip();
		return;
	}
	cli_run(f, &r, "hugepages", NULL);
	cli_expect_rc(&r, 0);
	cli_expect_row(r.out, "SIZE|NODE|TOTAL|FREE|RESERVED|SURPLUS|MEMORY");
	cli_expect_row_begins(r.out, "2048kB|all|");
	cli_expect_has(r.out, "\nhugetlbfs: ");
	cli_run_free(&r);
	cli_run(f, &r, "hugepages", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	assert_true(cli_jint(doc, "default_size_kb") >= 2048);
	json_array_foreach(json_object_get(doc, "hugepages"), i, h)
		if (cli_jint(h, "size_kb") == 2048 &&
		    json_is_null(json_object_get(h, "node"))) {
			assert_true(cli_jint(h, "free") <= cli_jint(h, "total"));
			seen = true;
		}
	assert_true(seen);
	assert_true(json_is_array(json_object_get(doc, "mounts")));
	json_decref(doc);
	cli_run_free(&r);

	cli_run(f, &r, "hugepages", "--reserve", "1", "--size", "3M", NULL);
	cli_expect_rc(&r, 1);
	cli_expect_has(r.err, "kmemctl: hugepages: no 3072kB hugepages on all nodes");
	cli_run_free(&r);

	/*
	 * Reserving: ask for the 1 GiB count there is now (nobody else's
	 * reservation changes), so the test leaves the system as it was.
	 */
	n = sysfs_long(gig);
	if (n < 0)
		return;
	snprintf(n_s, sizeof(n_s), "%ld", n);
	cli_run(f, &r, "hugepages", "--reserve", n_s, "--size", "1G", NULL);
	if (geteuid() == 0) {
		cli_expect_rc(&r, 0);
		snprintf(want, sizeof(want), "1048576kB hugepages on all nodes: %ld "
			 "(asked for %ld)\n", n, n);
		assert_string_equal(r.out, want);
	} else {
		cli_expect_rc(&r, 1);
		cli_expect_has(r.err, "(reserving hugepages needs root");
	}
	cli_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kmemctl_help),
		cmocka_unit_test(test_kmemctl_usage_errors),
		cmocka_unit_test(test_kmemctl_unreachable),
		/* These read the empty pool's exact figures: keep them first. */
		cmocka_unit_test(test_kmemctl_status),
		cmocka_unit_test(test_kmemctl_pools),
		cmocka_unit_test(test_kmemctl_buddyinfo),
		cmocka_unit_test(test_kmemctl_slabinfo),
		cmocka_unit_test(test_kmemctl_sessions),
		cmocka_unit_test(test_kmemctl_stats),
		cmocka_unit_test(test_kmemctl_alloc_named),
		cmocka_unit_test(test_kmemctl_alloc_session_lease),
		cmocka_unit_test(test_kmemctl_alloc_failures),
		cmocka_unit_test(test_kmemctl_hold),
		cmocka_unit_test(test_kmemctl_free_other_session),
		cmocka_unit_test(test_kmemctl_cache),
		cmocka_unit_test(test_kmemctl_verify),
		cmocka_unit_test(test_kmemctl_debug),
		cmocka_unit_test(test_kmemctl_top),
		cmocka_unit_test(test_kmemctl_top_tty),
		cmocka_unit_test(test_kmemctl_ping),
		cmocka_unit_test(test_kmemctl_hugepages),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("kmemctl", tests, cli_group_setup,
					   cli_group_teardown);
}
