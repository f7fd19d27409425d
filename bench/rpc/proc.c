/*
 * rpc/proc.c - kmemd under test, hugepages, placement (see proc.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../benchutil.h"
#include "proc.h"

#define HP_KNOB "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define HP_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define MAX_TRACKED 4

/* The run's state: one kmemd, one scratch directory (see proc.h). */
static struct {
	pid_t owner, kmemd, tracked[MAX_TRACKED];
	cpu_set_t cpus;
	unsigned long hp_added;
	char dir[64], sock[96], log[96];
} R;

_Noreturn void rpc_die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_daemon: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (getpid() != R.owner)
		_exit(1);
	exit(1);
}

void rpc_write_all(int fd, const void *p, size_t len)
{
	const char *s = p;

	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rpc_die("write: %s", n < 0 ? strerror(errno) : "closed");
		s += n;
		len -= (size_t)n;
	}
}

static void kill_wait(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static void cleanup(void)
{
	if (getpid() != R.owner)
		return;
	for (int i = 0; i < MAX_TRACKED; i++)
		kill_wait(R.tracked[i]);
	kill_wait(R.kmemd);
	rpc_hugepages_release();
	if (R.dir[0]) {
		unlink(R.sock);
		unlink(R.log);
		rmdir(R.dir);
	}
}

void rpc_setup(void)
{
	R.owner = getpid();
	if (sched_getaffinity(0, sizeof(R.cpus), &R.cpus))
		rpc_die("sched_getaffinity: %s", strerror(errno));
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	snprintf(R.dir, sizeof(R.dir), "/tmp/kmemd-bench.XXXXXX");
	if (!mkdtemp(R.dir)) {
		R.dir[0] = 0;
		rpc_die("mkdtemp: %s", strerror(errno));
	}
	snprintf(R.sock, sizeof(R.sock), "%s/kmemd.sock", R.dir);
	snprintf(R.log, sizeof(R.log), "%s/kmemd.log", R.dir);
}

const char *rpc_socket(void)
{
	return R.sock;
}

void rpc_track_child(pid_t pid)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (pid ? R.tracked[i] == 0 : R.tracked[i] != 0) {
			R.tracked[i] = pid;
			return;
		}
}

/* ------------------------------------------------------------ hugepages */

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fprintf(f, "%ld\n", v) < 0;
	rc |= fclose(f) != 0;
	return rc ? -1 : 0;
}

void rpc_hugepages_release(void)
{
	long cur;

	if (!R.hp_added)
		return;
	cur = read_long(HP_KNOB);
	if (cur >= 0)
		write_long(HP_KNOB, cur >= (long)R.hp_added ?
			   cur - (long)R.hp_added : 0);
	R.hp_added = 0;
}

bool rpc_hugepages_reserve(unsigned long pages)
{
	long before = read_long(HP_KNOB), after;

	if (geteuid() != 0 || before < 0 ||
	    write_long(HP_KNOB, before + (long)pages))
		return false;
	after = read_long(HP_KNOB);
	if (after > before)
		R.hp_added = (unsigned long)(after - before);
	if (after < before + (long)pages || read_long(HP_FREE) < (long)pages) {
		rpc_hugepages_release();
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ kmemd */

/* Does `bin --help` mention opt?  (Options some builds do not have.) */
static bool kmemd_knows(const char *bin, const char *opt)
{
	char cmd[4200], line[256];
	bool found = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --help 2>&1", bin);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, opt) != NULL;
	if (f)
		pclose(f);
	return found;
}

static _Noreturn void kmemd_exec(const char *bin, const char *spec)
{
	const char *av[16];
	int n = 0, fd = open(R.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	av[n++] = bin;
	av[n++] = "--socket";
	av[n++] = R.sock;
	av[n++] = "--pool";
	av[n++] = spec;
	av[n++] = "--log-level";
	av[n++] = "warn";
	if (kmemd_knows(bin, "--config")) {
		av[n++] = "--config";
		av[n++] = "none";
	}
	if (kmemd_knows(bin, "--stats-socket")) {
		av[n++] = "--stats-socket";
		av[n++] = "none";
	}
	av[n] = NULL;
	/* Whatever happens to the benchmark, the daemon goes too. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (fd >= 0)
		dup2(fd, 2);
	execv(bin, (char *const *)av);
	fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

pid_t rpc_kmemd_start(const char *bin, const char *spec)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t t0 = bench_now_ns();
	int st;

	fflush(NULL);
	R.kmemd = fork();
	if (R.kmemd < 0)
		rpc_die("fork: %s", strerror(errno));
	if (R.kmemd == 0)
		kmemd_exec(bin, spec);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", R.sock);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool up = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));

		if (fd >= 0)
			close(fd);
		if (up)
			return R.kmemd;
		if (waitpid(R.kmemd, &st, WNOHANG) == R.kmemd)
			return R.kmemd = 0;
		if (bench_now_ns() - t0 > UINT64_C(10000000000))
			rpc_die("%s did not listen on %s within 10 s", bin, R.sock);
		usleep(2000);
	}
}

int rpc_kmemd_stop(void)
{
	uint64_t t0 = bench_now_ns();
	int st;

	if (!R.kmemd)
		return -1;
	kill(R.kmemd, SIGTERM);
	while (waitpid(R.kmemd, &st, WNOHANG) != R.kmemd) {
		if (bench_now_ns() - t0 > UINT64_C(5000000000)) {
			kill_wait(R.kmemd);
			R.kmemd = 0;
			return -1;
		}
		usleep(1000);
	}
	R.kmemd = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void rpc_kmemd_dump_log(void)
{
	FILE *f = fopen(R.log, "r");
	char line[512];

	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  kmemd: %s", line);
	if (f)
		fclose(f);
}

/* ------------------------------------------------------------ placement */

void rpc_pin(pid_t pid, int cpu)
{
	cpu_set_t set = R.cpus;
	struct dirent *e;
	char path[64];
	DIR *d;

	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
	}
	snprintf(path, sizeof(path), "/proc/%d/task", pid ? (int)pid : (int)getpid());
	d = opendir(path);
	if (!d)
		rpc_die("cannot list %s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    sched_setaffinity(atoi(e->d_name), sizeof(set), &set))
			rpc_die("cannot set the CPUs of thread %s: %s", e->d_name,
				strerror(errno));
	closedir(d);
}

void rpc_pick_cpus(int want, int cpu[2])
{
	cpu[0] = cpu[1] = -1;
	if (want >= 0 && want < CPU_SETSIZE && CPU_ISSET(want, &R.cpus))
		cpu[0] = want;
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &R.cpus) || i == cpu[0])
			continue;
		if (cpu[0] < 0)
			cpu[0] = i;
		else if (cpu[1] < 0)
			cpu[1] = i;
	}
}
