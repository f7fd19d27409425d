/*
 * harness.c - the integration tests' daemon, hugepages, stats, raw client
 * and children (see harness.h).
 *
 * Test code: it prints what went wrong on stdout and leaves the asserting
 * to the tests; the only state it keeps in globals is what must be undone
 * at exit (the hugepage reservation) and, in a forked child, its pipes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Hugepages this process added to nr_hugepages (0 in forked children:
 * they are the parent's to give back). */
static unsigned long hp_reserved;

/* The daemon started last and not yet cleaned up, for a dying process to
 * remove its directory. */
static struct integ_daemon *live_daemon;

static void exit_hooks(void);

/* ------------------------------------------------------------ misc */

uint64_t integ_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void integ_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Wait for pid at most timeout_ms; its status, or -1 if still running. */
static int wait_pid(pid_t pid, int timeout_ms)
{
	uint64_t end = integ_now_ms() + (uint64_t)timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		if (integ_now_ms() >= end)
			return -1;
		integ_sleep_ms(5);
	}
}

/* ------------------------------------------------------------ daemon */

const char *integ_kmemd_bin(void)
{
	static char path[4096];
	const char *env = getenv("KMEMD_BIN");
	char *slash;
	ssize_t n;

	if (env && *env)
		return env;
	if (path[0])
		return path;
	/* build/tests/integration/test_x -> build/kmemd */
	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n <= 0) {
		strcpy(path, "build/kmemd");
		return path;
	}
	path[n] = 0;
	for (int i = 0; i < 3 && (slash = strrchr(path, '/')); i++)
		*slash = 0;
	strcat(path, "/kmemd");
	return path;
}

bool integ_kmemd_has_flag(const char *flag)
{
	char out[8192];
	size_t len = 0;
	int p[2];
	pid_t pid;
	ssize_t n;

	if (pipe(p))
		return false;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		hp_reserved = 0;	/* the parent's to give back */
		live_daemon = NULL;
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(integ_kmemd_bin(), "kmemd", "--help", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len < sizeof(out) - 1 &&
	       (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(p[0]);
	wait_pid(pid, 5000);
	return strstr(out, flag) != NULL;
}

void integ_daemon_dump_log(const struct integ_daemon *d)
{
	char line[1024];
	FILE *f = fopen(d->log, "r");

	if (!f) {
		printf("(no daemon log at %s)\n", d->log);
		return;
	}
	printf("---- %s ----\n", d->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	printf("---- end of log ----\n");
	fclose(f);
}

static bool socket_accepts(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

#define PASS_MAX 16

/*
 * In the child: put the listening socket (lfd >= 0) and e's fds at 3, 4,
 * ... and describe them as systemd does.  Every fd is first moved above
 * the targets, so that none is overwritten before it is moved.
 */
static void pass_fds(const struct integ_daemon_env *e, int lfd)
{
	int tmp[PASS_MAX + 1];
	char names[1024] = "", num[32];
	size_t n = 0;

	if (lfd >= 0) {
		tmp[n++] = fcntl(lfd, F_DUPFD, 3 + PASS_MAX + 1);
		snprintf(names, sizeof(names), "%s", e->listen_name);
	}
	for (size_t i = 0; i < e->nfds && n <= PASS_MAX; i++) {
		tmp[n++] = fcntl(e->fds[i], F_DUPFD, 3 + PASS_MAX + 1);
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
			 "%s%s", names[0] ? ":" : "", e->names[i]);
	}
	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		dup2(tmp[i], 3 + (int)i);	/* the copy at 3 + i inherits */
		close(tmp[i]);
	}
	snprintf(num, sizeof(num), "%zu", n);
	setenv("LISTEN_FDS", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
}

static void exec_daemon(const struct integ_daemon *d, const char *const *args,
			const struct integ_daemon_env *e, int lfd)
{
	const char *argv[64];
	size_t n = 0;
	int fd;

	/* The daemon must not outlive a test process that crashed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (e) {
		pass_fds(e, lfd);
		for (size_t i = 0; e->env && e->env[i]; i++)
			putenv((char *)e->env[i]);
	}
	fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, 0);
	argv[n++] = "kmemd";
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--socket-mode";
	argv[n++] = "0666";
	/* The HTTP stats socket's default is one path for every daemon on
	 * the machine: give each test daemon its own. */
	if (d->stats[0]) {
		argv[n++] = "--stats-socket";
		argv[n++] = d->stats;
	}
	for (size_t i = 0; args && args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	execv(integ_kmemd_bin(), (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", integ_kmemd_bin(), strerror(errno));
	_exit(127);
}

/* Bind and listen on path as systemd's socket unit would; -1 on failure. */
static int listen_for(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
		printf("listen %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	chmod(path, 0666);
	return fd;
}

int integ_daemon_start(struct integ_daemon *d, const char *const *args)
{
	return integ_daemon_start_ex(d, args, NULL);
}

int integ_daemon_start_ex(struct integ_daemon *d, const char *const *args,
			  const struct integ_daemon_env *e)
{
	uint64_t end;
	int lfd = -1;

	exit_hooks();
	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/kmemd-integ-XXXXXX");
	if (!mkdtemp(d->dir)) {
		printf("mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	/* A child that dropped to another uid must reach the socket. */
	chmod(d->dir, 0755);
	snprintf(d->sock, sizeof(d->sock), "%s/kmemd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/kmemd.log", d->dir);
	if (integ_kmemd_has_flag("--stats-socket"))
		snprintf(d->stats, sizeof(d->stats), "%s/stats.sock", d->dir);
	if (e && e->listen_name && (lfd = listen_for(d->sock)) < 0) {
		integ_daemon_cleanup(d);
		return -1;
	}
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		printf("fork: %s\n", strerror(errno));
		d->pid = 0;
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	if (d->pid == 0) {
		hp_reserved = 0;	/* the parent's to give back */
		exec_daemon(d, args, e, lfd);
	}
	if (lfd >= 0)
		close(lfd);	/* the daemon has it now */
	live_daemon = d;
	/* Generous: under ASan the daemon starts slower. */
	end = integ_now_ms() + 10000;
	while (integ_now_ms() < end) {
		int st;

		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			printf("kmemd exited before listening (status 0x%x)\n", st);
			d->pid = 0;
			integ_daemon_dump_log(d);
			integ_daemon_cleanup(d);
			return -1;
		}
		if (socket_accepts(d->sock))
			return 0;
		integ_sleep_ms(10);
	}
	printf("kmemd did not listen on %s within 10 s\n", d->sock);
	integ_daemon_dump_log(d);
	integ_daemon_cleanup(d);
	return -1;
}

int integ_daemon_stop(struct integ_daemon *d)
{
	if (!d->pid)
		return -1;
	kill(d->pid, SIGTERM);
	return integ_daemon_wait(d);
}

int integ_daemon_wait(struct integ_daemon *d)
{
	int st;

	if (!d->pid)
		return -1;
	st = wait_pid(d->pid, 10000);
	if (st == -1) {
		printf("kmemd did not exit within 10 s; killing it\n");
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	d->pid = 0;
	return st;
}

void integ_daemon_cleanup(struct integ_daemon *d)
{
	if (live_daemon == d)
		live_daemon = NULL;
	if (d->pid) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	if (d->dir[0]) {
		unlink(d->sock);
		unlink(d->log);
		if (d->stats[0])
			unlink(d->stats);
		rmdir(d->dir);
		d->dir[0] = 0;
	}
}

/* ------------------------------------------------------------ hugepages */

#define HP_KNOB "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define HP_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

/*
 * The knob, read and lowered by hp_reserved with nothing but open, read
 * and write, so that a dying process (a fatal signal, a sanitizer report)
 * can still give its pages back.
 */
static void hp_give_back(void)
{
	char buf[32];
	unsigned long cur = 0, v;
	ssize_t n;
	int fd, i;

	if (!hp_reserved)
		return;
	fd = open(HP_KNOB, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		cur = cur * 10 + (unsigned long)(buf[i] - '0');
	/* Take off what was added rather than write an old value back:
	 * someone else may have raised the knob meanwhile. */
	v = cur >= hp_reserved ? cur - hp_reserved : 0;
	i = (int)sizeof(buf);
	buf[--i] = '\n';
	do
		buf[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	if (n > 0 && pwrite(fd, buf + i, sizeof(buf) - (size_t)i, 0) > 0)
		hp_reserved = 0;
	close(fd);
}

static void on_fatal(int sig)
{
	/* unlink, rmdir and kill are async-signal-safe. */
	if (live_daemon) {
		if (live_daemon->pid)
			kill(live_daemon->pid, SIGKILL);
		unlink(live_daemon->sock);
		unlink(live_daemon->log);
		if (live_daemon->stats[0])
			unlink(live_daemon->stats);
		rmdir(live_daemon->dir);
	}
	hp_give_back();
	signal(sig, SIG_DFL);
	raise(sig);
}

#if defined(__SANITIZE_ADDRESS__)
void __sanitizer_set_death_callback(void (*callback)(void));
#endif

/* Give the pages back and remove the daemon's directory however this
 * process ends (the daemon itself dies with it: PR_SET_PDEATHSIG). */
static void exit_hooks(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL,
				    SIGTERM, SIGINT };
	static bool done;

	if (done)
		return;
	done = true;
	atexit(integ_hugepages_release);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal);
#if defined(__SANITIZE_ADDRESS__)
	/* A sanitizer report ends the process without atexit handlers. */
	__sanitizer_set_death_callback(hp_give_back);
#endif
}

static long read_ulong(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long v;
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%lu", &v) == 1;
	fclose(f);
	return ok ? (long)v : -1;
}

static int write_ulong(const char *path, unsigned long v)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fprintf(f, "%lu\n", v) < 0;
	rc |= fclose(f) != 0;
	return rc ? -1 : 0;
}

void integ_hugepages_release(void)
{
	hp_give_back();
	hp_reserved = 0;
}

static bool hp_reserve(unsigned long pages)
{
	long before = read_ulong(HP_KNOB), after, nfree;

	if (before < 0 || geteuid() != 0)
		return false;
	exit_hooks();
	if (write_ulong(HP_KNOB, (unsigned long)before + pages))
		return false;
	after = read_ulong(HP_KNOB);
	nfree = read_ulong(HP_FREE);
	if (after < before + (long)pages || nfree < (long)pages) {
		/* The kernel found fewer pages: undo whatever it did add. */
		if (after > before)
			write_ulong(HP_KNOB, (unsigned long)before);
		return false;
	}
	hp_reserved += pages;
	return true;
}

unsigned integ_pool_mib(unsigned want)
{
	struct rlimit rl;
	uint64_t cap;

	if (geteuid() == 0 || getrlimit(RLIMIT_MEMLOCK, &rl))
		return want;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
		getrlimit(RLIMIT_MEMLOCK, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return want;
	/* A MiB of headroom for whatever else the daemon locks. */
	cap = ((uint64_t)rl.rlim_cur >> 20) > 0 ? ((uint64_t)rl.rlim_cur >> 20) - 1 : 0;
	cap &= ~(uint64_t)1;
	if (cap < 4) {
		printf("integration: RLIMIT_MEMLOCK is %llu KiB; a pool of at least "
		       "4 MiB needs more (ulimit -l, or run as root)\n",
		       (unsigned long long)(rl.rlim_cur >> 10));
		return 0;
	}
	if (cap < want)
		printf("integration: not root: pool of %llu MiB, not %u, to fit "
		       "RLIMIT_MEMLOCK\n", (unsigned long long)cap, want);
	return cap < want ? (unsigned)cap : want;
}

void integ_pool_spec_4k(char *buf, size_t len, const char *name,
			unsigned mib, const char *extra)
{
	snprintf(buf, len, "name=%s,size=%uM,page=4K,nohuge%s%s", name, mib,
		 extra ? "," : "", extra ? extra : "");
}

bool integ_pool_spec(char *buf, size_t len, const char *name, unsigned mib,
		     const char *extra)
{
	const char *no = getenv("KMEM_INTEG_NOHUGE");

	if ((!no || !*no || !strcmp(no, "0")) && mib % 2 == 0 &&
	    hp_reserve(mib / 2)) {
		snprintf(buf, len, "name=%s,size=%uM,page=2M%s%s", name, mib,
			 extra ? "," : "", extra ? extra : "");
		printf("integration: pool '%s' on 2 MiB hugepages (%u reserved)\n",
		       name, mib / 2);
		return true;
	}
	integ_pool_spec_4k(buf, len, name, mib, extra);
	printf("integration: pool '%s' on the 4 KiB fallback (no hugepages "
	       "reserved)\n", name);
	return false;
}

/* ------------------------------------------------------------ stats */

json_t *integ_stats(struct kmem_client *c)
{
	json_error_t err;
	char *text = NULL;
	json_t *doc;
	int rc = kmem_client_stats(c, false, &text);

	if (rc) {
		printf("stats: %s: %s\n", kmem_errname(rc), kmem_client_error(c));
		return NULL;
	}
	doc = json_loads(text, 0, &err);
	if (!doc)
		printf("stats: JSON does not parse: %s (line %d)\n", err.text,
		       err.line);
	free(text);
	return doc;
}

int integ_json_u64(json_t *doc, const char *path, uint64_t *out)
{
	char buf[256], *save = NULL;
	json_t *v = doc;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, "/", &save); k && v;
	     k = strtok_r(NULL, "/", &save))
		v = json_is_array(v) ? json_array_get(v, strtoul(k, NULL, 10)) :
				       json_object_get(v, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		printf("stats: no unsigned integer at %s\n", path);
		return -1;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

json_t *integ_json_session(json_t *doc, const char *name)
{
	json_t *a = json_object_get(doc, "sessions"), *s;
	size_t i;

	json_array_foreach(a, i, s) {
		const char *n = json_string_value(json_object_get(s, "name"));

		if (n && !strcmp(n, name))
			return s;
	}
	return NULL;
}

json_t *integ_json_named(json_t *doc, const char *name)
{
	json_t *a = json_object_get(doc, "named"), *s;
	size_t i;

	json_array_foreach(a, i, s) {
		const char *n = json_string_value(json_object_get(s, "name"));

		if (n && !strcmp(n, name))
			return s;
	}
	return NULL;
}

int integ_acct(struct kmem_client *c, size_t pool, struct integ_acct *a)
{
	json_t *doc = integ_stats(c);
	char p[64];
	int rc = 0;

	if (!doc)
		return -1;
	snprintf(p, sizeof(p), "pools/%zu/bytes_free", pool);
	rc |= integ_json_u64(doc, p, &a->bytes_free);
	snprintf(p, sizeof(p), "pools/%zu/bytes_leased", pool);
	rc |= integ_json_u64(doc, p, &a->bytes_leased);
	snprintf(p, sizeof(p), "pools/%zu/leases", pool);
	rc |= integ_json_u64(doc, p, &a->pool_leases);
	rc |= integ_json_u64(doc, "daemon/leases", &a->leases);
	rc |= integ_json_u64(doc, "daemon/sessions", &a->sessions);
	a->named = json_array_size(json_object_get(doc, "named"));
	json_decref(doc);
	return rc ? -1 : 0;
}

int integ_wait_sessions(struct kmem_client *c, uint64_t n, int timeout_ms)
{
	uint64_t end = integ_now_ms() + (uint64_t)timeout_ms, v = 0, r = 0;

	for (;;) {
		json_t *doc = integ_stats(c);
		int rc = doc ? integ_json_u64(doc, "daemon/sessions", &v) : -1;

		if (!rc)
			rc = integ_json_u64(doc, "daemon/leases_reclaiming", &r);
		json_decref(doc);
		if (rc)
			return -1;
		if (v == n && r == 0)
			return 0;
		if (integ_now_ms() >= end) {
			printf("daemon.sessions is %llu, not %llu, with %llu "
			       "lease(s) still being reclaimed, after %d ms\n",
			       (unsigned long long)v, (unsigned long long)n,
			       (unsigned long long)r, timeout_ms);
			return -1;
		}
		integ_sleep_ms(5);
	}
}

int integ_wait_waiting(struct kmem_client *c, const char *name, uint64_t n,
		       int timeout_ms)
{
	uint64_t end = integ_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		json_t *doc = integ_stats(c), *s = doc ? integ_json_session(doc, name) : NULL;
		json_int_t w = s ? json_integer_value(json_object_get(s, "waiting")) : -1;

		json_decref(doc);
		if (!doc)
			return -1;
		if (w >= (json_int_t)n)
			return 0;
		if (integ_now_ms() >= end) {
			printf("session '%s' is not waiting after %d ms\n",
			       name, timeout_ms);
			return -1;
		}
		integ_sleep_ms(2);
	}
}

/* ------------------------------------------------------------ children */

/* In a forked child: where the verdict and the steps go. */
static int child_report = -1, child_up = -1, child_down = -1;

void integ_child_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg), "%s:%d: ", file, line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (write(child_report, msg, strlen(msg)) < 0)
		_exit(2);
	_exit(1);
}

void integ_in_child_send(const void *buf, size_t len)
{
	if (write(child_up, buf, len) != (ssize_t)len)
		integ_child_fail(__FILE__, __LINE__, "cannot write to the parent");
}

void integ_in_child_recv(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(child_down, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			integ_child_fail(__FILE__, __LINE__, "the parent went away");
		got += (size_t)n;
	}
}

int integ_child_start(struct integ_child *c, uid_t uid, gid_t gid,
		      void (*fn)(void *), void *arg)
{
	int rep[2], up[2], down[2];

	if (pipe(rep))
		return -1;
	if (pipe(up)) {
		close(rep[0]);
		close(rep[1]);
		return -1;
	}
	if (pipe(down)) {
		close(rep[0]);
		close(rep[1]);
		close(up[0]);
		close(up[1]);
		return -1;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid == 0) {
		hp_reserved = 0;	/* the parent's to give back */
		live_daemon = NULL;
		close(rep[0]);
		close(up[0]);
		close(down[1]);
		child_report = rep[1];
		child_up = up[1];
		child_down = down[0];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (uid != (uid_t)-1 &&
		    (setgroups(0, NULL) || setgid(gid) || setuid(uid)))
			integ_child_fail(__FILE__, __LINE__, "cannot become uid %d: %s",
					 (int)uid, strerror(errno));
		fn(arg);
		if (write(child_report, "ok", 2) != 2)
			_exit(2);
		_exit(0);
	}
	close(rep[1]);
	close(up[1]);
	close(down[0]);
	if (c->pid < 0) {
		close(rep[0]);
		close(up[0]);
		close(down[1]);
		return -1;
	}
	c->report = rep[0];
	c->up = up[0];
	c->down = down[1];
	return 0;
}

int integ_child_finish(struct integ_child *c, char *msg, size_t len,
		       int timeout_ms)
{
	uint64_t end = integ_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;
	int st;

	msg[0] = 0;
	for (;;) {
		struct pollfd pfd = { .fd = c->report, .events = POLLIN };
		uint64_t now = integ_now_ms();
		ssize_t n;

		if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0)
			break;
		n = read(c->report, msg + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		msg[got] = 0;
		if (got == len - 1)
			break;
	}
	close(c->report);
	close(c->up);
	close(c->down);
	st = wait_pid(c->pid, (int)(end > integ_now_ms() ? end - integ_now_ms() : 1));
	if (st == -1) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &st, 0);
		snprintf(msg, len, "the child did not finish within %d ms", timeout_ms);
		return -1;
	}
	if (!got)
		snprintf(msg, len, "the child reported nothing (wait status 0x%x)", st);
	return st;
}

int integ_child_read(struct integ_child *c, void *buf, size_t len,
		     int timeout_ms)
{
	uint64_t end = integ_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = c->up, .events = POLLIN };
		uint64_t now = integ_now_ms();
		ssize_t n;

		if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0)
			return -1;
		n = read(c->up, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

int integ_child_write(struct integ_child *c, const void *buf, size_t len)
{
	return write(c->down, buf, len) == (ssize_t)len ? 0 : -1;
}

/* ------------------------------------------------------------ faults */

int integ_daemon_kill(struct integ_daemon *d)
{
	int st;

	if (!d->pid)
		return -1;
	kill(d->pid, SIGKILL);
	while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
		;
	d->pid = 0;
	return st;
}

bool integ_daemon_log_has(const struct integ_daemon *d, const char *needle)
{
	char line[2048];
	bool found = false;
	FILE *f = fopen(d->log, "r");

	if (f) {
		while (!found && fgets(line, sizeof(line), f))
			found = strstr(line, needle) != NULL;
		fclose(f);
	}
	if (!found) {
		printf("the daemon's log does not say \"%s\"\n", needle);
		integ_daemon_dump_log(d);
	}
	return found;
}

long integ_proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

long integ_proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

unsigned long integ_raise_nofile(unsigned long want)
{
	struct rlimit rl, nl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur >= want)
		return (unsigned long)rl.rlim_cur;
	nl.rlim_cur = want;
	nl.rlim_max = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
		      want : rl.rlim_max;
	/* Beyond the hard limit needs CAP_SYS_RESOURCE: else the hard one. */
	if (setrlimit(RLIMIT_NOFILE, &nl)) {
		nl.rlim_cur = nl.rlim_max = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	return (unsigned long)rl.rlim_cur;
}

unsigned long integ_env_ulong(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);
	char *end;
	unsigned long x;

	if (!v || !*v)
		return dflt;
	x = strtoul(v, &end, 10);
	return *end ? dflt : x;
}

/* ------------------------------------------------------------ patterns */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

uint64_t integ_pattern_word(uint64_t salt, uint64_t index)
{
	return mix(salt * 0x9e3779b97f4a7c15ull + index);
}

void integ_pattern_fill(void *p, uint64_t len, uint64_t salt)
{
	uint64_t *w = p;

	for (uint64_t j = 0; j < len / 8; j++)
		w[j] = integ_pattern_word(salt, j);
}

uint64_t integ_pattern_check(const void *p, uint64_t len, uint64_t salt)
{
	const uint64_t *w = p;

	for (uint64_t j = 0; j < len / 8; j++)
		if (w[j] != integ_pattern_word(salt, j))
			return j * 8;
	return len;
}

uint64_t integ_salt_of(const char *name)
{
	uint64_t h = 1469598103934665603ull;

	while (*name)
		h = (h ^ (uint8_t)*name++) * 1099511628211ull;
	return h;
}

/* ------------------------------------------------------------ sd_notify */

int integ_notify_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		printf("notify socket %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int integ_notify_recv(int nfd, char *text, size_t len, int *fd, int timeout_ms)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct iovec iov = { .iov_base = text, .iov_len = len - 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
	};
	struct pollfd p = { .fd = nfd, .events = POLLIN };
	ssize_t n;

	*fd = -1;
	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recvmsg(nfd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	text[n] = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = got;
			else
				close(got);	/* the daemon sends one per message */
		}
	}
	return 0;
}
