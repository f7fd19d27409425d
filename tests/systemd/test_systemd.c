/*
 * test_systemd.c - the units and the daemon's systemd integration:
 * `systemd-analyze verify` of the shipped units, sd_notify readiness,
 * status, watchdog and stopping messages, and socket activation.
 *
 * The daemon binary comes from $KMEMD_BIN.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "kmem/client.h"

static char dir[] = "/tmp/kmem-sd-XXXXXX";
static const char *kmemd;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Substitute @SBINDIR@/@SYSCONFDIR@ as make install does. */
static void make_unit(const char *in, const char *out, const char *sbindir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "sed -e 's|@SBINDIR@|%s|' -e 's|@SYSCONFDIR@|/etc|' "
		 "%s > %s", sbindir, in, out);
	assert_int_equal(system(cmd), 0);
}

static void test_systemd_units_verify(void **state)
{
	char svc[256], sock[256], cmd[1024], sbindir[512], *slash;

	(void)state;
	if (system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
		printf("SKIPPED: systemd-analyze is not installed\n");
		skip();
	}
	/* ExecStart must name an executable: point it at the build. */
	snprintf(sbindir, sizeof(sbindir), "%s", kmemd);
	slash = strrchr(sbindir, '/');
	assert_non_null(slash);
	*slash = 0;
	path_in(svc, sizeof(svc), "kmemd.service");
	path_in(sock, sizeof(sock), "kmemd.socket");
	make_unit("systemd/kmemd.service.in", svc, sbindir);
	make_unit("systemd/kmemd.socket.in", sock, sbindir);
	/* --man=no: the man pages are not installed in a build tree. */
	snprintf(cmd, sizeof(cmd), "cd %s && systemd-analyze verify --man=no "
		 "./kmemd.service ./kmemd.socket", dir);
	assert_int_equal(system(cmd), 0);
	/* The fd store holds one memfd per pool (kmemd.8, SYSTEMD): room
	 * for the 16 pools the daemon may have, from the main process. */
	snprintf(cmd, sizeof(cmd), "grep -qx 'FileDescriptorStoreMax=16' %s && "
		 "grep -qx 'NotifyAccess=main' %s", svc, svc);
	assert_int_equal(system(cmd), 0);
}

/* man -l renders every page without a warning from groff. */
static void test_systemd_man_pages_render(void **state)
{
	static const char *const pages[] = {
		"daemon/kmemd.8", "daemon/kmemd.conf.5", "client/kmemctl.8",
	};
	char cmd[512], err[256], buf[256];

	(void)state;
	if (system("command -v man >/dev/null 2>&1 && command -v groff "
		   ">/dev/null 2>&1") != 0) {
		printf("SKIPPED: man or groff is not installed\n");
		skip();
	}
	path_in(err, sizeof(err), "man.err");
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		FILE *f;

		snprintf(cmd, sizeof(cmd), "MANWIDTH=80 man --warnings -E UTF-8 -l "
			 "-Tutf8 %s >/dev/null 2>%s", pages[i], err);
		assert_int_equal(system(cmd), 0);
		f = fopen(err, "r");
		assert_non_null(f);
		if (fgets(buf, sizeof(buf), f))
			fail_msg("%s: %s", pages[i], buf);
		fclose(f);
	}
}

static pid_t spawn(char *const argv[], char *const env[], int listen_fd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (listen_fd >= 0) {
			char pidbuf[32];

			if (listen_fd != 3) {
				dup2(listen_fd, 3);
				close(listen_fd);
			}
			snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
			setenv("LISTEN_PID", pidbuf, 1);
			setenv("LISTEN_FDS", "1", 1);
		}
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_systemd_notify_ready_watchdog_stopping(void **state)
{
	char nsock[100], ksock[100], env_notify[300], buf[512];
	char *env[] = { env_notify, (char *)"WATCHDOG_USEC=200000", NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ready = 0, status = 0, watchdog = 0, stopping = 0;
	uint64_t t0;
	pid_t pid;

	(void)state;
	path_in(nsock, sizeof(nsock), "notify.sock");
	path_in(ksock, sizeof(ksock), "n.sock");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", nsock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", nsock);
	char *argv[] = { (char *)kmemd, (char *)"--config", (char *)"none",
			 (char *)"--socket", ksock, (char *)"--log-level",
			 (char *)"warn", (char *)"--pool",
			 (char *)"name=p,size=4M,page=4K,nohuge", NULL };
	pid = spawn(argv, env, -1);
	t0 = now_ms();
	/* READY=1 and STATUS= at once, WATCHDOG=1 every 100 ms. */
	while (now_ms() - t0 < 2000 && watchdog < 3) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		assert_true(n > 0);
		buf[n] = 0;
		ready += strcmp(buf, "READY=1") == 0;
		status += strncmp(buf, "STATUS=1 pool(s), 0 session(s)", 30) == 0;
		watchdog += strcmp(buf, "WATCHDOG=1") == 0;
	}
	assert_int_equal(ready, 1);
	assert_true(status >= 1);
	assert_int_equal(watchdog, 3);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid), 0);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n <= 0)
			break;
		buf[n] = 0;
		stopping += strcmp(buf, "STOPPING=1") == 0;
	}
	assert_int_equal(stopping, 1);
	close(fd);
}

static void test_systemd_socket_activation(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char ksock[100], msg[KMEM_MSG_MAX];
	struct kmem_client *c = NULL;
	struct kmem_buf b;
	struct stat st;
	uint64_t t0;
	pid_t pid;
	int lfd;

	(void)state;
	path_in(ksock, sizeof(ksock), "act.sock");
	/* What systemd does for kmemd.socket: bind, listen, pass fd 3. */
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ksock);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	char *argv[] = { (char *)kmemd, (char *)"--config", (char *)"none",
			 (char *)"--socket", ksock, (char *)"--log-level",
			 (char *)"warn", (char *)"--pool",
			 (char *)"name=p,size=4M,page=4K,nohuge", NULL };
	pid = spawn(argv, NULL, lfd);
	close(lfd);
	/* The socket accepts at once (systemd's backlog); Hello waits until
	 * the daemon is up. */
	t0 = now_ms();
	while (kmem_client_connect(ksock, "sd", &c, msg, sizeof(msg)) != 0) {
		assert_true(now_ms() - t0 < 5000);
		usleep(20000);
	}
	assert_int_equal(kmem_client_alloc(c, 4096, NULL, &b), 0);
	assert_int_equal(b.len, 4096);
	assert_int_equal(kmem_client_free(c, &b), 0);
	kmem_client_disconnect(c);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid), 0);
	/* systemd owns the socket file: the daemon leaves it alone. */
	assert_int_equal(stat(ksock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

/* A status line of /proc/PID/status, e.g. "CapEff:\t0000000000000000". */
static void proc_status(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	out[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			snprintf(out, len, "%s", line + strlen(key));
	fclose(f);
	out[strcspn(out, "\n")] = 0;
}

/* After set-up the daemon holds no capability; --user also changes uid
 * and gives that user the sockets. */
static void test_systemd_privileges_dropped(void **state)
{
	char ksock[100], msg[KMEM_MSG_MAX], v[128];
	struct kmem_client *c = NULL;
	struct stat st;
	uint64_t t0;
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		printf("SKIPPED: needs root to start the daemon privileged\n");
		skip();
	}
	path_in(ksock, sizeof(ksock), "priv.sock");
	char *argv[] = { (char *)kmemd, (char *)"--config", (char *)"none",
			 (char *)"--socket", ksock, (char *)"--socket-mode",
			 (char *)"0666", (char *)"--user", (char *)"nobody",
			 (char *)"--log-level", (char *)"warn", (char *)"--pool",
			 (char *)"name=p,size=4M,page=4K,nohuge", NULL };
	chmod(dir, 0755);
	pid = spawn(argv, NULL, -1);
	t0 = now_ms();
	while (kmem_client_connect(ksock, "priv", &c, msg, sizeof(msg)) != 0) {
		assert_true(now_ms() - t0 < 5000);
		usleep(20000);
	}
	proc_status(pid, "CapEff:", v, sizeof(v));
	assert_string_equal(v, "\t0000000000000000");
	proc_status(pid, "CapPrm:", v, sizeof(v));
	assert_string_equal(v, "\t0000000000000000");
	proc_status(pid, "Uid:", v, sizeof(v));
	assert_string_equal(v, "\t65534\t65534\t65534\t65534");
	assert_int_equal(stat(ksock, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_mode & 0777, 0666);
	/* And it still serves. */
	struct kmem_buf b;
	assert_int_equal(kmem_client_alloc(c, 8192, NULL, &b), 0);
	assert_int_equal(kmem_client_free(c, &b), 0);
	kmem_client_disconnect(c);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid), 0);
}

/*
 * make install into a temporary prefix, then the README's client example
 * builds against the installed kmem.pc and runs against a daemon.
 */
static void test_systemd_install_and_readme_example(void **state)
{
	char prefix[256], bdir[512], cmd[2048], src[300], exe[300], ksock[100];
	char msg[KMEM_MSG_MAX], *slash;
	FILE *in, *out;
	char line[512];
	int copying = 0;
	struct stat st;
	pid_t pid;
	uint64_t t0;
	struct kmem_client *c = NULL;

	(void)state;
	if (system("command -v pkg-config >/dev/null 2>&1") != 0) {
		printf("SKIPPED: pkg-config is not installed\n");
		skip();
	}
	snprintf(bdir, sizeof(bdir), "%s", kmemd);
	slash = strrchr(bdir, '/');
	assert_non_null(slash);
	*slash = 0;
	path_in(prefix, sizeof(prefix), "prefix");
	snprintf(cmd, sizeof(cmd), "make --no-print-directory -s install BUILD=%s "
		 "PREFIX=%s DESTDIR= UNITDIR=%s/units SYSCONFDIR=%s/etc >/dev/null",
		 bdir, prefix, prefix, prefix);
	assert_int_equal(system(cmd), 0);
	snprintf(src, sizeof(src), "%s/lib/pkgconfig/kmem.pc", prefix);
	assert_int_equal(stat(src, &st), 0);
	snprintf(src, sizeof(src), "%s/share/man/man8/kmemctl.8", prefix);
	assert_int_equal(stat(src, &st), 0);
	snprintf(src, sizeof(src), "%s/units/kmemd.service", prefix);
	assert_int_equal(stat(src, &st), 0);
	/* The example is the README's first C block that includes client.h. */
	path_in(src, sizeof(src), "example.c");
	in = fopen("README.md", "r");
	out = fopen(src, "w");
	assert_non_null(in);
	assert_non_null(out);
	while (fgets(line, sizeof(line), in)) {
		if (!copying && !strcmp(line, "#include <kmem/client.h>\n"))
			copying = 1;
		else if (copying && !strncmp(line, "```", 3))
			break;
		if (copying)
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
	assert_int_equal(copying, 1);
	path_in(exe, sizeof(exe), "example");
#ifdef __SANITIZE_ADDRESS__
	/* make check installs a sanitized libkmem: the program needs the
	 * sanitizers' runtime too. */
	const char *san = "-fsanitize=address,undefined";
#else
	const char *san = "";
#endif
	snprintf(cmd, sizeof(cmd), "cc -Wall -Wextra -Werror %s -o %s %s $(PKG_CONFIG_PATH="
		 "%s/lib/pkgconfig pkg-config --cflags --libs kmem) "
		 "-Wl,-rpath,%s/lib", san, exe, src, prefix, prefix);
	assert_int_equal(system(cmd), 0);
	/* Run it against a daemon: it connects, allocates (or is told
	 * why not) and exits 0. */
	path_in(ksock, sizeof(ksock), "ex.sock");
	char *argv[] = { (char *)kmemd, (char *)"--config", (char *)"none",
			 (char *)"--socket", ksock, (char *)"--log-level",
			 (char *)"error", (char *)"--pool",
			 (char *)"name=p,size=16M,page=4K,nohuge", NULL };
	pid = spawn(argv, NULL, -1);
	t0 = now_ms();
	while (kmem_client_connect(ksock, "probe", &c, msg, sizeof(msg)) != 0) {
		assert_true(now_ms() - t0 < 5000);
		usleep(20000);
	}
	kmem_client_disconnect(c);
	snprintf(cmd, sizeof(cmd), "KMEMD_SOCKET=%s %s >/dev/null 2>&1", ksock, exe);
	assert_int_equal(system(cmd), 0);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid), 0);
}

static int setup(void **state)
{
	(void)state;
	kmemd = getenv("KMEMD_BIN");
	if (!kmemd || access(kmemd, X_OK)) {
		fprintf(stderr, "test_systemd: set KMEMD_BIN to the kmemd binary\n");
		return -1;
	}
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd_units_verify),
		cmocka_unit_test(test_systemd_man_pages_render),
		cmocka_unit_test(test_systemd_notify_ready_watchdog_stopping),
		cmocka_unit_test(test_systemd_socket_activation),
		cmocka_unit_test(test_systemd_privileges_dropped),
		cmocka_unit_test(test_systemd_install_and_readme_example),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("systemd", tests, setup, teardown);
}
