/*
 * test_fuzz.c - keep the fuzz targets alive in `make test`.
 *
 * For each libFuzzer target: first its regression inputs
 * (tests/fuzz/regress/<target>/, every input that ever crashed it), each
 * run once on its own so that every one still failing is named; then, if
 * they all pass, a short fuzzing run ($FUZZ_TEST_SECONDS, 10 by default)
 * from the committed seed corpus with the target's dictionary.  New corpus
 * entries go to a scratch directory that is removed afterwards; the seeds
 * are never written.  Each run must exit 0.  The last run's output is kept
 * in $FUZZ_BIN_DIR/<target>.log, and a crash leaves its input as
 * $FUZZ_BIN_DIR/<target>-crash-* (or -leak-, -timeout-, -oom-): add it to
 * regress/<target>/ to keep it.
 *
 * The targets' directory is $FUZZ_BIN_DIR and the sources' $FUZZ_SRC_DIR
 * (the Makefile exports both).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define MAX_ARGS 1024

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

/* Show the end of a log: where libFuzzer reports what went wrong. */
static void show_tail(const char *log)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "tail -n 60 '%s' >&2", log);
	if (system(cmd) != 0)
		fprintf(stderr, "(cannot show %s)\n", log);
}

/* The lines of a log that say what failed (the last run's). */
static void show_reason(const char *log)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "grep -a -e '^fuzz: ' -e 'ERROR: ' "
		 "-e 'SUMMARY: ' -e 'runtime error' '%s' | tail -n 3 >&2", log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no reason found in %s)\n", log);
}

/* Run argv with stdout and stderr appended to log; its exit status, or
 * 128 + signal. */
static int run(char *const *argv, const char *log, unsigned limit_s)
{
	time_t deadline = time(NULL) + limit_s;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	/* libFuzzer bounds its own run; this is only a guard against a hang
	 * that its watchdog would miss. */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (time(NULL) > deadline) {
			fprintf(stderr, "%s: still running after %u s; killed\n",
				argv[0], limit_s);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 128 + SIGKILL;
		}
		usleep(50000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, sorted, appended to argv from *n. */
static void add_files(const char *dir, char **argv, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t first = *n;

	if (!d)
		return;
	while ((e = readdir(d)) && *n < MAX_ARGS - 1) {
		char path[1024];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			argv[(*n)++] = strdup(path);
	}
	closedir(d);
	qsort(argv + first, *n - first, sizeof(*argv), cmp_str);
}

/* The stat lines of -print_final_stats, in one line of the test output. */
static void summary(const char *target, const char *log, unsigned seconds)
{
	FILE *f = fopen(log, "r");
	char line[512];
	unsigned long long execs = 0, per_s = 0, units = 0;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "stat::number_of_executed_units: %llu", &execs);
		sscanf(line, "stat::average_exec_per_sec: %llu", &per_s);
		sscanf(line, "stat::new_units_added: %llu", &units);
	}
	fclose(f);
	printf("[ INFO     ] %s: %llu executions in %u s (%llu/s), %llu new "
	       "corpus entries\n", target, execs, seconds, per_s, units);
}

static void fuzz_target(const char *target)
{
	const char *bindir = env_or("FUZZ_BIN_DIR", "build/fuzz");
	const char *srcdir = env_or("FUZZ_SRC_DIR", "tests/fuzz");
	unsigned seconds = (unsigned)atoi(env_or("FUZZ_TEST_SECONDS", "10"));
	char bin[512], log[600], regress[600], seeds[600], dict[600],
	     scratch[600], t_arg[64], artifacts[600];
	char *argv[MAX_ARGS];
	size_t n = 0;
	int rc, failed = 0;

	snprintf(bin, sizeof(bin), "%s/%s", bindir, target);
	snprintf(log, sizeof(log), "%s/%s.log", bindir, target);
	snprintf(regress, sizeof(regress), "%s/regress/%s", srcdir, target);
	snprintf(seeds, sizeof(seeds), "%s/corpus/%s", srcdir, target);
	snprintf(dict, sizeof(dict), "-dict=%s/%s.dict", srcdir, target);
	snprintf(artifacts, sizeof(artifacts), "-artifact_prefix=%s/%s-", bindir,
		 target);
	snprintf(scratch, sizeof(scratch), "%s/%s-scratch-XXXXXX", bindir, target);
	snprintf(t_arg, sizeof(t_arg), "-max_total_time=%u", seconds ? seconds : 1);
	if (access(bin, X_OK)) {
		fprintf(stderr, "%s: not built (make fuzz builds it)\n", bin);
		fail();
	}

	/* Every input that ever crashed the target, each on its own so that
	 * every one still failing is named. */
	argv[n++] = bin;
	argv[n++] = (char *)"-timeout=10";
	argv[n++] = (char *)"-rss_limit_mb=2048";
	add_files(regress, argv, &n);
	for (size_t i = 3; i < n; i++) {
		char *one[] = { argv[0], argv[1], argv[2], argv[i], NULL };

		unlink(log);
		rc = run(one, log, 600);
		if (rc) {
			fprintf(stderr, "%s: regression input %s fails (exit %d):\n",
				target, argv[i], rc);
			show_reason(log);
			failed++;
		}
		free(argv[i]);
	}
	if (failed) {
		fprintf(stderr, "%s: %d regression input(s) fail; not fuzzing "
			"further until they pass (log %s)\n", target, failed, log);
		fail();
	}

	/* A short run from the seeds. */
	assert_non_null(mkdtemp(scratch));
	unlink(log);
	n = 3;
	argv[n++] = t_arg;
	argv[n++] = dict;
	argv[n++] = artifacts;
	argv[n++] = (char *)"-print_final_stats=1";
	argv[n++] = scratch;
	argv[n++] = seeds;
	argv[n] = NULL;
	rc = run(argv, log, seconds + 300);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", scratch);
	}
	if (rc) {
		fprintf(stderr, "%s: the fuzzer found a failure (exit %d); the "
			"input is %s/%s-crash-* (or -leak-, -timeout-, -oom-); "
			"log %s:\n", target, rc, bindir, target, log);
		show_tail(log);
		fail();
	}
	summary(target, log, seconds);
}

static void test_fuzz_dispatch(void **state)
{
	(void)state;
	fuzz_target("fuzz_dispatch");
}

static void test_fuzz_http(void **state)
{
	(void)state;
	fuzz_target("fuzz_http");
}

static void test_fuzz_config(void **state)
{
	(void)state;
	fuzz_target("fuzz_config");
}

static void test_fuzz_engine(void **state)
{
	(void)state;
	fuzz_target("fuzz_engine");
}

static void test_fuzz_fastpb(void **state)
{
	(void)state;
	fuzz_target("fuzz_fastpb");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuzz_dispatch),
		cmocka_unit_test(test_fuzz_http),
		cmocka_unit_test(test_fuzz_config),
		cmocka_unit_test(test_fuzz_engine),
		cmocka_unit_test(test_fuzz_fastpb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
