/*
 * cliutil.h - helpers of the CLI tests (tests/cli/ only): the daemon they
 * run against, kmemctl runs, and readers of kmemctl's output.  Failures
 * are cmocka assertions in the calling test.
 */
#ifndef KMEM_CLIUTIL_H
#define KMEM_CLIUTIL_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RUN_TIMEOUT_MS 20000	/* any one kmemctl run */

/* The group state: a kmemd with one pool p (16 MiB of 4 KiB pages). */
struct cli_fixture {
	char dir[64];		/* temporary; socket and log live here */
	char sock[128];
	char kmemd[PATH_MAX];
	char kmemctl[PATH_MAX];
	pid_t daemon;
};

/* One kmemctl run: exit code (-1: killed at the timeout) and output. */
struct cli_result {
	int rc;
	pid_t pid;
	char *out, *err;	/* NUL-terminated, malloc'd */
};

/* cmocka group fixtures: start kmemd ($KMEMD_SOCKET points at it), and
 * stop it, failing unless it exits 0. */
int cli_group_setup(void **state);
int cli_group_teardown(void **state);

double cli_now_ms(void);
/* Append n bytes to the NUL-terminated *buf of *len bytes. */
void cli_append(char **buf, size_t *len, const char *data, size_t n);

/* Start bin (or kmemctl) with argv[1..] (argv[0] is set here), env a
 * "NAME=value" or NULL; stdout and (unless efd is NULL) stderr piped. */
pid_t cli_start_bin(const char *bin, const char *env, char **argv,
		    int *ofd, int *efd);
pid_t cli_start(const struct cli_fixture *f, const char *env, char **argv,
		int *ofd, int *efd);
/* Read ofd and efd to their end, reap r->pid, set r->rc. */
void cli_collect(struct cli_result *r, int ofd, int efd);

/* cli_run(f, &r, "alloc", "1M", NULL): run kmemctl and wait for it. */
void cli_run(const struct cli_fixture *f, struct cli_result *r, ...);
void cli_run_env(const struct cli_fixture *f, struct cli_result *r,
		 const char *env, ...);
void cli_run_free(struct cli_result *r);

/* Assertions that show the output when they fail. */
void cli_expect_rc(const struct cli_result *r, int rc);
void cli_expect_has(const char *text, const char *needle);
/* Some line's cells joined by '|' equal cells / begin with prefix. */
void cli_expect_row(const char *text, const char *cells);
void cli_expect_row_begins(const char *text, const char *prefix);
/* Some line's words joined by one space equal words. */
void cli_expect_words(const char *text, const char *words);

/* Line i (from 0) of text into buf, or NULL. */
const char *cli_line_at(const char *text, int i, char *buf, size_t len);
/* The value after "key" and spaces on the line starting with key. */
const char *cli_field(const char *text, const char *key, char *buf,
		      size_t len);
/* A line of n bytes as cells joined by '|' (cells) or as words. */
void cli_canon(const char *line, size_t n, bool cells, char *out, size_t len);
bool cli_has_line(const char *text, const char *want, bool cells);
bool cli_row_begins(const char *text, const char *prefix);

/* JSON: parse (asserting), and typed members that must be there. */
json_t *cli_parse(const char *text);
json_int_t cli_jint(const json_t *o, const char *key);
const char *cli_jstr(const json_t *o, const char *key);

/* The daemon's stats document now, its first pool, a daemon.* field. */
json_t *cli_stats(const struct cli_fixture *f);
json_t *cli_pool0(json_t *doc);
json_int_t cli_daemon_field(const struct cli_fixture *f, const char *key);
/* The session of process pid in doc, or NULL. */
json_t *cli_session_of(json_t *doc, pid_t pid);
/* Wait (up to 5 s) until the daemon holds no lease. */
void cli_wait_no_leases(const struct cli_fixture *f);

#endif
