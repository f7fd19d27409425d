/*
 * rpc/crowd.c - many client processes at once (see crowd.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../benchutil.h"
#include "conn.h"
#include "crowd.h"
#include "pecho.h"
#include "proc.h"
#include "window.h"

#define BATCH RPC_WIN_BATCH_N

const char *const rpc_place_name[RPC_NPLACES] = { "any", "same", "split" };

/* Shared with the client processes (MAP_SHARED | MAP_ANONYMOUS). */
struct crowd_shm {
	uint64_t t_end;
	uint64_t count[RPC_CROWD_MAX];
	uint64_t end_ns[RPC_CROWD_MAX];
	uint64_t cpu_ns[RPC_CROWD_MAX];	/* the client's, over its loop */
};

/* CPU time of clock clk in ns (a process's or this thread's). */
static uint64_t cpu_now(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		rpc_die("clock_gettime(cpu clock): %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t loop_batch(struct kmem_client *c, uint64_t size, uint64_t t_end)
{
	struct kmem_buf b[BATCH];
	uint64_t ids[BATCH], n = 0;
	int rc;

	while (bench_now_ns() < t_end) {
		rc = kmem_client_alloc_batch(c, NULL, size, 0, BATCH, b);
		for (int i = 0; !rc && i < BATCH; i++)
			ids[i] = b[i].id;
		if (!rc)
			rc = kmem_client_free_batch(c, ids, BATCH);
		if (rc)
			rpc_die("batch: %s: %s", kmem_strerror(rc), kmem_client_error(c));
		n += BATCH;
	}
	return n;
}

static uint64_t loop_single(struct kmem_client *c, uint64_t size, uint64_t t_end)
{
	struct kmem_buf b;
	uint64_t n = 0;
	int rc;

	while (bench_now_ns() < t_end) {
		rc = kmem_client_alloc(c, size, NULL, &b);
		if (!rc)
			rc = kmem_client_free(c, &b);
		if (rc)
			rpc_die("single: %s: %s", kmem_strerror(rc), kmem_client_error(c));
		n++;
	}
	return n;
}

static bool is_echo(enum rpc_crowd_mode m)
{
	return m == RPC_CM_ECHO_PING || m == RPC_CM_ECHO_ALLOCFREE;
}

/* Run j's loop until t_end on a connection of its kind; the units done.
 * echo is the echo server connection (echo modes); *cpu0 gets the
 * thread's CPU time at the start. */
static uint64_t run_loop(const struct rpc_crowd_env *env,
			 const struct rpc_crowd_job *j, int echo,
			 int ready, int go, volatile uint64_t *t_end,
			 uint64_t *cpu0)
{
	struct kmem_client *c = NULL;
	struct rpc_raw *r = NULL;
	uint64_t n = 0;
	char ch;

	if (j->mode == RPC_CM_KMEM_BATCH || j->mode == RPC_CM_KMEM_SINGLE ||
	    j->mode == RPC_CM_KMEM_PIPE)
		c = rpc_connect("bench-tput", false);
	else if (!is_echo(j->mode))
		r = rpc_raw_connect(rpc_socket());
	rpc_write_all(ready, "r", 1);
	if (read(go, &ch, 1) != 0)
		rpc_die("bad go signal");
	*cpu0 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
	switch (j->mode) {
	case RPC_CM_KMEM_BATCH:
		n = loop_batch(c, env->obj_size, *t_end);
		break;
	case RPC_CM_KMEM_SINGLE:
		n = loop_single(c, env->obj_size, *t_end);
		break;
	case RPC_CM_KMEM_PIPE:
		n = rpc_win_kmem(c, j->depth, env->obj_size, *t_end);
		break;
	case RPC_CM_RAW_BATCH:
	case RPC_CM_RAW_PING:
	case RPC_CM_RAW_ALLOCFREE:
		n = rpc_win_kmemd(r, j->mode == RPC_CM_RAW_BATCH ? RPC_WIN_BATCH :
				  j->mode == RPC_CM_RAW_PING ? RPC_WIN_PING :
				  RPC_WIN_ALLOCFREE, j->depth, env->obj_size, *t_end);
		break;
	case RPC_CM_ECHO_PING:
	case RPC_CM_ECHO_ALLOCFREE:
		n = rpc_win_echo(echo, j->mode == RPC_CM_ECHO_PING ? RPC_WIN_PING :
				 RPC_WIN_ALLOCFREE, j->depth, &env->z, *t_end);
		break;
	}
	if (r)
		rpc_raw_close(r);
	kmem_client_disconnect(c);
	return n;
}

/* A client process: placed, then its loop; reports into sh. */
static _Noreturn void client_main(const struct rpc_crowd_env *env,
				  const struct rpc_crowd_job *j, int idx,
				  struct crowd_shm *sh, const int *echo,
				  int ready, int go)
{
	uint64_t n, cpu;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rpc_pin(0, j->place == RPC_PLACE_ANY ? -1 : env->cpu[0]);
	for (int i = 0; is_echo(j->mode) && i < j->nclients; i++)
		if (i != idx)
			close(echo[i]);
	n = run_loop(env, j, is_echo(j->mode) ? echo[idx] : -1, ready, go,
		     &sh->t_end, &cpu);
	sh->end_ns[idx] = bench_now_ns();
	sh->count[idx] = n;
	sh->cpu_ns[idx] = cpu_now(CLOCK_THREAD_CPUTIME_ID) - cpu;
	_exit(0);
}

/* The server's CPU for a placement (-1: any). */
static int server_cpu(const struct rpc_crowd_env *env, enum rpc_place p)
{
	if (p == RPC_PLACE_SPLIT && env->cpu[1] < 0)
		rpc_die("the split placement needs two CPUs");
	return p == RPC_PLACE_ANY ? -1 : p == RPC_PLACE_SAME ? env->cpu[0] :
	       env->cpu[1];
}

/* Fork the clients (and the echo server); they wait on go. */
static pid_t start(const struct rpc_crowd_env *env, const struct rpc_crowd_job *j,
		   struct crowd_shm *sh, pid_t *pids, int ready[2], int go[2])
{
	int echo[RPC_CROWD_MAX];
	pid_t server = 0;
	char ch;

	/* The server first: it must not hold the pipes' write ends open. */
	if (is_echo(j->mode)) {
		server = rpc_pecho_start(j->nclients, echo);
		rpc_track_child(server);
	}
	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		rpc_die("pipe: %s", strerror(errno));
	rpc_pin(server ? server : env->kmemd, server_cpu(env, j->place));
	fflush(NULL);
	for (int i = 0; i < j->nclients; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			rpc_die("fork: %s", strerror(errno));
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			client_main(env, j, i, sh, echo, ready[1], go[0]);
		}
	}
	for (int i = 0; server && i < j->nclients; i++)
		close(echo[i]);
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < j->nclients; i++)
		if (read(ready[0], &ch, 1) != 1)
			rpc_die("a client died while connecting");
	return server;
}

/* ns of CPU, user and kernel, of a child that has exited (wait4). */
static uint64_t reap_cpu(pid_t pid)
{
	struct rusage ru;
	int st;

	if (wait4(pid, &st, 0, &ru) != pid)
		rpc_die("wait4: %s", strerror(errno));
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
	       1000000000u + ((uint64_t)ru.ru_utime.tv_usec +
			      (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

void rpc_crowd_rep(const struct rpc_crowd_env *env,
		   const struct rpc_crowd_job *j, struct rpc_crowd_result *out)
{
	static struct crowd_shm *sh;
	pid_t pids[RPC_CROWD_MAX], server;
	uint64_t t0, total = 0, end = 0, srv = 0, cli = 0;
	clockid_t kclk;
	int ready[2], go[2], st;

	if (j->nclients < 1 || j->nclients > RPC_CROWD_MAX)
		rpc_die("%d clients", j->nclients);
	if (!sh) {
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED)
			rpc_die("mmap: %s", strerror(errno));
	}
	if (clock_getcpuclockid(env->kmemd, &kclk))
		rpc_die("no CPU clock for kmemd");
	memset(sh, 0, sizeof(*sh));
	sh->t_end = UINT64_MAX;
	server = start(env, j, sh, pids, ready, go);
	if (!server)
		srv = cpu_now(kclk);
	t0 = bench_now_ns();
	sh->t_end = t0 + env->window_ns;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	close(go[1]);		/* every client's read() returns 0: go */
	for (int i = 0; i < j->nclients; i++) {
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			rpc_die("a client failed");
		total += sh->count[i];
		cli += sh->cpu_ns[i];
		if (sh->end_ns[i] > end)
			end = sh->end_ns[i];
	}
	close(ready[0]);
	if (server) {
		/* Its whole life: set-up and the last answers are tiny. */
		srv = reap_cpu(server);
		rpc_track_child(0);
	} else {
		srv = cpu_now(kclk) - srv;
		rpc_pin(env->kmemd, -1);
	}
	if (!total)
		rpc_die("a repetition did nothing");
	out->ns = (double)(end - t0) / (double)total;
	out->srv_cpu = (double)srv / (double)total;
	out->cli_cpu = (double)cli / (double)total;
}
