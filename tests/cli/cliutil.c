/*
 * cliutil.c - what the CLI tests need around the binaries: a kmemd of
 * their own on a temporary socket, kmemctl runs with their exit code and
 * output, and readers for that output.
 *
 * The binaries come from $KMEMD_BIN and $KMEMCTL_BIN (the Makefile sets
 * them), else from the build directory the test was built into.  Table
 * output is read cell by cell: kmemctl separates columns by two or more
 * spaces and never puts two spaces inside a cell, so a line splits back
 * into its cells.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cliutil.h"

#define POOL_SPEC "name=p,size=16M,page=4K,nohuge"

/* ------------------------------------------------------------ processes */

/* $name, else dir-of-this-test/../../base (build/x/tests/cli/test -> build/x). */
static void find_bin(const char *env, const char *base, char *out)
{
	char self[PATH_MAX];
	const char *e = getenv(env);
	ssize_t n;

	if (e && *e) {
		snprintf(out, PATH_MAX, "%s", e);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = 0;
	for (int up = 0; up < 3; up++)
		*strrchr(self, '/') = 0;
	snprintf(out, PATH_MAX, "%.*s/%s", PATH_MAX - 64, self, base);
}

double cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void cli_append(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	assert_non_null(*buf);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = 0;
}

/* Read both pipes to their end (or the timeout), then reap the child. */
void cli_collect(struct cli_result *r, int ofd, int efd)
{
	struct pollfd p[2] = { { .fd = ofd, .events = POLLIN },
			       { .fd = efd, .events = POLLIN } };
	size_t olen = 0, elen = 0;
	double end = cli_now_ms() + RUN_TIMEOUT_MS;
	char buf[4096];
	int status;

	cli_append(&r->out, &olen, "", 0);
	cli_append(&r->err, &elen, "", 0);
	while ((p[0].fd >= 0 || p[1].fd >= 0) && cli_now_ms() < end) {
		if (poll(p, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n > 0)
				cli_append(i ? &r->err : &r->out, i ? &elen : &olen, buf,
				       (size_t)n);
			else {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	/* The pipes close a moment before the process can be reaped. */
	while (waitpid(r->pid, &status, WNOHANG) == 0) {
		if (cli_now_ms() > end) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &status, 0);
			r->rc = -1;
			return;
		}
		usleep(1000);
	}
	r->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Start bin with argv[] (env: "NAME=value" or NULL); out/err piped. */
pid_t cli_start_bin(const char *bin, const char *env, char **argv,
		       int *ofd, int *efd)
{
	int o[2], e[2];
	pid_t pid;

	assert_int_equal(pipe2(o, O_CLOEXEC), 0);
	assert_int_equal(pipe2(e, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		if (env)
			putenv((char *)env);
		argv[0] = (char *)bin;
		execv(bin, argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	*ofd = o[0];
	if (efd)
		*efd = e[0];
	else
		close(e[0]);
	return pid;
}

pid_t cli_start(const struct cli_fixture *f, const char *env, char **argv,
		   int *ofd, int *efd)
{
	return cli_start_bin(f->kmemctl, env, argv, ofd, efd);
}

static void vrun(const struct cli_fixture *f, struct cli_result *r, const char *env,
		 va_list ap)
{
	char *argv[32];
	int n = 1, ofd, efd;
	const char *a;

	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	memset(r, 0, sizeof(*r));
	r->pid = cli_start(f, env, argv, &ofd, &efd);
	cli_collect(r, ofd, efd);
}

/* cli_run(f, &r, "status", "--json", NULL) */
void cli_run(const struct cli_fixture *f, struct cli_result *r, ...)
{
	va_list ap;

	va_start(ap, r);
	vrun(f, r, NULL, ap);
	va_end(ap);
}

void cli_run_env(const struct cli_fixture *f, struct cli_result *r, const char *env, ...)
{
	va_list ap;

	va_start(ap, env);
	vrun(f, r, env, ap);
	va_end(ap);
}

void cli_run_free(struct cli_result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* Expect exit code rc; show the output when it differs. */
void cli_expect_rc(const struct cli_result *r, int rc)
{
	if (r->rc != rc)
		print_error("exit %d, wanted %d\nstdout:\n%s\nstderr:\n%s\n",
			    r->rc, rc, r->out, r->err);
	assert_int_equal(r->rc, rc);
}

void cli_expect_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		print_error("'%s' not found in:\n%s\n", needle, text);
	assert_non_null(strstr(text, needle));
}

/* ------------------------------------------------------------ output */

/* Line i (from 0) of text, copied into buf. */
const char *cli_line_at(const char *text, int i, char *buf, size_t len)
{
	for (; i > 0 && text; i--) {
		text = strchr(text, '\n');
		text = text ? text + 1 : NULL;
	}
	if (!text)
		return NULL;
	snprintf(buf, len, "%.*s", (int)strcspn(text, "\n"), text);
	return buf;
}

/*
 * A line in canonical form: cells (split at runs of two or more spaces)
 * joined by '|' when cells is true, else words joined by one space.
 */
void cli_canon(const char *line, size_t n, bool cells, char *out, size_t len)
{
	size_t w = 0;

	while (n && *line == ' ')
		line++, n--;
	for (size_t i = 0; i < n && w + 1 < len; i++) {
		if (line[i] == ' ') {
			size_t run = strspn(line + i, " ");

			if (run > n - i)
				run = n - i;
			if (i + run >= n)
				break;
			out[w++] = cells && run >= 2 ? '|' : ' ';
			i += run - 1;
			continue;
		}
		out[w++] = line[i];
	}
	out[w] = 0;
}

/* Does some line of text read exactly want (canonical form)? */
bool cli_has_line(const char *text, const char *want, bool cells)
{
	char c[1024];

	while (text && *text) {
		size_t n = strcspn(text, "\n");

		cli_canon(text, n, cells, c, sizeof(c));
		if (!strcmp(c, want))
			return true;
		text += n + (text[n] == '\n');
	}
	return false;
}

/* Does some line of text, as cells, begin with prefix? */
bool cli_row_begins(const char *text, const char *prefix)
{
	char c[1024];

	while (text && *text) {
		size_t n = strcspn(text, "\n");

		cli_canon(text, n, true, c, sizeof(c));
		if (!strncmp(c, prefix, strlen(prefix)))
			return true;
		text += n + (text[n] == '\n');
	}
	return false;
}

void cli_expect_row_begins(const char *text, const char *prefix)
{
	if (!cli_row_begins(text, prefix))
		print_error("no row beginning '%s' in:\n%s\n", prefix, text);
	assert_true(cli_row_begins(text, prefix));
}

void cli_expect_row(const char *text, const char *cells)
{
	if (!cli_has_line(text, cells, true))
		print_error("no row '%s' in:\n%s\n", cells, text);
	assert_true(cli_has_line(text, cells, true));
}

void cli_expect_words(const char *text, const char *words)
{
	if (!cli_has_line(text, words, false))
		print_error("no line '%s' in:\n%s\n", words, text);
	assert_true(cli_has_line(text, words, false));
}

json_t *cli_parse(const char *text)
{
	json_error_t e;
	json_t *doc = json_loads(text, 0, &e);

	if (!doc)
		print_error("JSON does not parse: %s (line %d):\n%s\n", e.text,
			    e.line, text);
	assert_non_null(doc);
	return doc;
}

json_int_t cli_jint(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		print_error("no integer '%s'\n", key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

const char *cli_jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		print_error("no string '%s'\n", key);
	assert_non_null(s);
	return s;
}

/* The stats document now. */
json_t *cli_stats(const struct cli_fixture *f)
{
	struct cli_result r;
	json_t *doc;

	cli_run(f, &r, "stats", "--json", NULL);
	cli_expect_rc(&r, 0);
	doc = cli_parse(r.out);
	cli_run_free(&r);
	return doc;
}

json_t *cli_pool0(json_t *doc)
{
	return json_array_get(json_object_get(doc, "pools"), 0);
}

json_int_t cli_daemon_field(const struct cli_fixture *f, const char *key)
{
	json_t *doc = cli_stats(f);
	json_int_t v = cli_jint(json_object_get(doc, "daemon"), key);

	json_decref(doc);
	return v;
}

/* The session of process pid in doc, or NULL. */
json_t *cli_session_of(json_t *doc, pid_t pid)
{
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(doc, "sessions"), i, s)
		if (cli_jint(s, "pid") == pid)
			return s;
	return NULL;
}

/* Wait (up to 5 s) until the daemon holds no lease. */
void cli_wait_no_leases(const struct cli_fixture *f)
{
	json_int_t n = -1;

	for (int i = 0; i < 100 && n != 0; i++) {
		n = cli_daemon_field(f, "leases");
		if (n)
			usleep(50000);
	}
	assert_int_equal(n, 0);
}

/* ------------------------------------------------------------ daemon */

static void show_log(const char *path)
{
	char line[512];
	FILE *fp = fopen(path, "r");

	while (fp && fgets(line, sizeof(line), fp))
		fputs(line, stderr);
	if (fp)
		fclose(fp);
}

/*
 * The daemon's flags: the socket and pool, and where this kmemd has them
 * (its --help says), no configuration file and no HTTP stats socket:
 * the system's /etc/kmemd/kmemd.conf and /run/kmemd/stats.sock are not
 * this test's.
 */
static void daemon_argv(const struct cli_fixture *f, char **argv)
{
	char *help_argv[] = { NULL, "--help", NULL };
	struct cli_result r = { 0 };
	int ofd, efd, n = 0;

	r.pid = cli_start_bin(f->kmemd, NULL, help_argv, &ofd, &efd);
	cli_collect(&r, ofd, efd);
	argv[n++] = "kmemd";
	argv[n++] = "--socket";
	argv[n++] = (char *)f->sock;
	argv[n++] = "--pool";
	argv[n++] = POOL_SPEC;
	if (strstr(r.out, "--config FILE")) {
		argv[n++] = "--config";
		argv[n++] = "none";
	}
	if (strstr(r.out, "--stats-socket PATH")) {
		argv[n++] = "--stats-socket";
		argv[n++] = "none";
	}
	argv[n] = NULL;
	cli_run_free(&r);
}

static int start_daemon(struct cli_fixture *f)
{
	char log[160], *argv[16];
	int fd, status;

	snprintf(log, sizeof(log), "%s/kmemd.log", f->dir);
	daemon_argv(f, argv);
	f->daemon = fork();
	if (f->daemon < 0)
		return -1;
	if (f->daemon == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(f->kmemd, argv);
		_exit(127);
	}
	/* Ready when a ping gets through. */
	for (int i = 0; i < 100; i++) {
		struct cli_result r;
		int rc;

		cli_run(f, &r, "ping", "--count", "1", NULL);
		rc = r.rc;
		cli_run_free(&r);
		if (rc == 0)
			return 0;
		if (waitpid(f->daemon, &status, WNOHANG) == f->daemon) {
			f->daemon = 0;
			fprintf(stderr, "kmemd exited early (status 0x%x):\n", status);
			show_log(log);
			return -1;
		}
		usleep(50000);
	}
	return -1;
}

int cli_group_setup(void **state)
{
	struct cli_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kmemctl-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->sock, sizeof(f->sock), "%s/kmemd.sock", f->dir);
	find_bin("KMEMD_BIN", "kmemd", f->kmemd);
	find_bin("KMEMCTL_BIN", "kmemctl", f->kmemctl);
	if (access(f->kmemd, X_OK) || access(f->kmemctl, X_OK)) {
		fprintf(stderr, "need %s and %s (set KMEMD_BIN, KMEMCTL_BIN)\n",
			f->kmemd, f->kmemctl);
		return -1;
	}
	setenv("KMEMD_SOCKET", f->sock, 1);
	*state = f;
	if (start_daemon(f))
		return -1;
	printf("kmemd %s on %s; kmemctl %s\n", f->kmemd, f->sock, f->kmemctl);
	return 0;
}

int cli_group_teardown(void **state)
{
	struct cli_fixture *f = *state;
	char path[160];
	int status = 0;

	if (!f)
		return 0;
	if (f->daemon > 0) {
		kill(f->daemon, SIGTERM);
		for (int i = 0; i < 100 && waitpid(f->daemon, &status,
						   WNOHANG) == 0; i++)
			usleep(50000);
		if (kill(f->daemon, 0) == 0) {
			kill(f->daemon, SIGKILL);
			waitpid(f->daemon, &status, 0);
		}
	}
	snprintf(path, sizeof(path), "%s/kmemd.log", f->dir);
	unlink(path);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	/* A clean shutdown is part of the contract. */
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The value after "key" and its spaces on the line that starts with it. */
const char *cli_field(const char *text, const char *key, char *buf,
			 size_t len)
{
	size_t k = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ?
	     strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, k) || l[k] != ' ')
			continue;
		l += k + strspn(l + k, " ");
		snprintf(buf, len, "%.*s", (int)strcspn(l, "\n"), l);
		return buf;
	}
	print_error("no line '%s ...' in:\n%s\n", key, text);
	fail();
	return NULL;
}

