/*
 * rpc/tput.c - the throughput section of bench_daemon (see tput.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "tput.h"

#define BATCH_WINDOW 4		/* AllocBatch/FreeBatch in flight (raw) */
#define PIPE_WINDOW 64		/* single requests in flight (raw, echo) */
#define TARGET_OBJS 1000000.0	/* objects per second, batched */
#define TARGET_RATIO 0.60	/* kmemd / echo messages per second */

static const int counts[] = { 1, 2, 8 };
#define NCOUNTS (sizeof(counts) / sizeof(counts[0]))

struct tjob {
	const char *impl;
	enum rpc_crowd_mode mode;
	unsigned depth;
};

static const struct tjob batch_jobs[] = {
	{ "kmem-batch64", RPC_CM_KMEM_BATCH, 1 },
	{ "raw-batch64-w4", RPC_CM_RAW_BATCH, BATCH_WINDOW },
};
#define NBATCH (sizeof(batch_jobs) / sizeof(batch_jobs[0]))

static const struct tjob single_job = { "kmem-single", RPC_CM_KMEM_SINGLE, 1 };

/* Pairs measured back to back: the echo floor, then kmemd. */
static const struct {
	const char *op;
	struct tjob echo, kmemd;
} pipe_ops[] = {
	{ "ping", { "echo", RPC_CM_ECHO_PING, PIPE_WINDOW },
		  { "kmemd", RPC_CM_RAW_PING, PIPE_WINDOW } },
	{ "allocfree", { "echo", RPC_CM_ECHO_ALLOCFREE, PIPE_WINDOW },
		       { "kmemd", RPC_CM_RAW_ALLOCFREE, PIPE_WINDOW } },
};
#define NPIPE (sizeof(pipe_ops) / sizeof(pipe_ops[0]))

static const enum rpc_place batch_places[] = {
	RPC_PLACE_ANY, RPC_PLACE_SAME, RPC_PLACE_SPLIT,
};
static const enum rpc_place pipe_places[] = { RPC_PLACE_ANY, RPC_PLACE_SPLIT };

/*
 * What one round of a repetition runs: one figure, or a pair (echo,
 * kmemd) whose ratio is taken per repetition.
 */
struct slot {
	char case_name[48];
	const char *impl[2];
	struct rpc_crowd_job job[2];
	int n;
	double s[2][BENCH_MAX_REPS];
};

#define MAX_SLOTS 64

static void add_slot(struct slot *v, size_t *n, const struct bench_opts *o,
		     const char *case_name, const struct tjob *a,
		     const struct tjob *b, int nclients, enum rpc_place p)
{
	struct slot *s = &v[*n];

	if (*n == MAX_SLOTS)
		rpc_die("too many throughput slots");
	if (!bench_selected(o, case_name, a->impl) &&
	    !(b && bench_selected(o, case_name, b->impl)) &&
	    !(b && bench_selected(o, case_name, "ratio")))
		return;
	memset(s, 0, sizeof(*s));
	snprintf(s->case_name, sizeof(s->case_name), "%s", case_name);
	for (int i = 0; i < (b ? 2 : 1); i++) {
		const struct tjob *t = i ? b : a;

		s->impl[i] = t->impl;
		s->job[i] = (struct rpc_crowd_job){ t->mode, nclients, p, t->depth };
	}
	s->n = b ? 2 : 1;
	(*n)++;
}

/* Every selected slot, in a fixed order. */
static size_t make_slots(const struct rpc_crowd_env *env,
			 const struct bench_opts *o, struct slot *v)
{
	size_t n = 0;
	char c[48];

	for (size_t k = 0; k < NCOUNTS; k++) {
		for (size_t p = 0; p < sizeof(batch_places) / sizeof(batch_places[0]); p++) {
			if (batch_places[p] == RPC_PLACE_SPLIT && env->cpu[1] < 0)
				continue;
			snprintf(c, sizeof(c), "tput-%s-c%d",
				 rpc_place_name[batch_places[p]], counts[k]);
			for (size_t j = 0; j < NBATCH; j++)
				add_slot(v, &n, o, c, &batch_jobs[j], NULL, counts[k],
					 batch_places[p]);
			if (batch_places[p] == RPC_PLACE_ANY)
				add_slot(v, &n, o, c, &single_job, NULL, counts[k],
					 RPC_PLACE_ANY);
		}
		for (size_t p = 0; p < sizeof(pipe_places) / sizeof(pipe_places[0]); p++) {
			if (pipe_places[p] == RPC_PLACE_SPLIT && env->cpu[1] < 0)
				continue;
			for (size_t j = 0; j < NPIPE; j++) {
				snprintf(c, sizeof(c), "pipe-%s-c%d-%s",
					 rpc_place_name[pipe_places[p]], counts[k],
					 pipe_ops[j].op);
				add_slot(v, &n, o, c, &pipe_ops[j].echo,
					 &pipe_ops[j].kmemd, counts[k], pipe_places[p]);
			}
		}
	}
	return n;
}

void rpc_tput_run(const struct rpc_crowd_env *env, const struct bench_opts *o,
		  struct bench_results *r)
{
	static struct slot v[MAX_SLOTS];
	size_t n = make_slots(env, o, v);
	double ratio[BENCH_MAX_REPS];

	for (int rep = 0; rep < o->reps; rep++)
		for (size_t k = 0; k < n; k++) {
			struct slot *s = &v[(k + (size_t)rep) % n];

			/* A pair's order alternates, so neither always runs
			 * right after the other kind of slot. */
			for (int i = 0; i < s->n; i++) {
				int j = rep % 2 ? s->n - 1 - i : i;

				s->s[j][rep] = rpc_crowd_rep(env, &s->job[j]);
			}
		}
	for (size_t k = 0; k < n; k++) {
		struct slot *s = &v[k];

		for (int i = 0; i < s->n; i++)
			if (bench_results_add(r, s->case_name, s->impl[i], false,
					      s->s[i], (size_t)o->reps))
				rpc_die("out of memory");
		if (s->n < 2)
			continue;
		/* Messages per second, kmemd over echo, = echo ns / kmemd ns. */
		for (int rep = 0; rep < o->reps; rep++)
			ratio[rep] = s->s[0][rep] / s->s[1][rep];
		if (bench_results_add(r, s->case_name, "ratio", false, ratio,
				      (size_t)o->reps))
			rpc_die("out of memory");
	}
}

/* ------------------------------------------------------------ report */

/* "1234567 [1000000-1400000]" per second from a figure in ns per unit. */
static void print_rate(const struct bench_figure *f, int width)
{
	char b[64];

	if (f)
		snprintf(b, sizeof(b), "%.0f [%.0f-%.0f]", 1e9 / f->median,
			 1e9 / f->max, 1e9 / f->min);
	else
		snprintf(b, sizeof(b), "-");
	printf(" %*s", width, b);
}

static void print_batch(const struct bench_results *r)
{
	char c[48];

	printf("\nthroughput, objects (allocated and freed again, %s) per second, "
	       "all clients together: median [min-max]\n"
	       "  kmem-batch64: libkmem, one AllocBatch/FreeBatch of 64 in flight; "
	       "raw-batch64-w4: the same requests, %d in flight,\n"
	       "  from a client speaking the wire protocol itself (libkmem has "
	       "no call that keeps batches in flight)\n",
	       "64 B", BATCH_WINDOW);
	printf("%-6s %-7s", "place", "clients");
	for (size_t j = 0; j < NBATCH; j++)
		printf(" %28s", batch_jobs[j].impl);
	printf(" %28s\n", single_job.impl);
	for (int p = 0; p < RPC_NPLACES; p++)
		for (size_t k = 0; k < NCOUNTS; k++) {
			const struct bench_figure *f[NBATCH + 1];
			bool any = false;

			snprintf(c, sizeof(c), "tput-%s-c%d", rpc_place_name[p],
				 counts[k]);
			for (size_t j = 0; j <= NBATCH; j++) {
				f[j] = bench_results_find(r, c, j < NBATCH ?
					batch_jobs[j].impl : single_job.impl);
				any |= f[j] != NULL;
			}
			if (!any)
				continue;
			printf("%-6s %-7d", rpc_place_name[p], counts[k]);
			for (size_t j = 0; j <= NBATCH; j++)
				print_rate(f[j], 28);
			putchar('\n');
		}
}

static void print_pipe(const struct bench_results *r)
{
	bool head = false;
	char c[48];

	for (int p = 0; p < RPC_NPLACES; p++)
		for (size_t k = 0; k < NCOUNTS; k++)
			for (size_t j = 0; j < NPIPE; j++) {
				const struct bench_figure *e, *m, *q;

				snprintf(c, sizeof(c), "pipe-%s-c%d-%s",
					 rpc_place_name[p], counts[k], pipe_ops[j].op);
				e = bench_results_find(r, c, "echo");
				m = bench_results_find(r, c, "kmemd");
				q = bench_results_find(r, c, "ratio");
				if (!e && !m)
					continue;
				if (!head)
					printf("\npipelined single requests, %d in flight per "
					       "client, answers (messages) per second, all "
					       "clients together:\nmedian [min-max]; ratio = "
					       "kmemd / echo of the same repetition, median "
					       "[min-max]\n%-6s %-7s %-9s %28s %28s %18s\n",
					       PIPE_WINDOW, "place", "clients", "op",
					       "echo", "kmemd", "ratio");
				head = true;
				printf("%-6s %-7d %-9s", rpc_place_name[p], counts[k],
				       pipe_ops[j].op);
				print_rate(e, 28);
				print_rate(m, 28);
				if (q)
					printf("  %4.2f [%4.2f-%4.2f]\n", q->median,
					       q->min, q->max);
				else
					printf(" %18s\n", "-");
			}
}

void rpc_tput_print(const struct bench_results *r)
{
	bool any = false;

	for (size_t i = 0; i < r->n; i++)
		any |= !strncmp(r->v[i].case_name, "tput-", 5);
	if (any)
		print_batch(r);
	print_pipe(r);
}

void rpc_tput_targets(const struct bench_results *r)
{
	char c[48];

	for (size_t k = 0; k < NCOUNTS; k++)
		for (size_t j = 0; j < NBATCH; j++) {
			bool head = false;

			for (int p = 0; p < RPC_NPLACES; p++) {
				const struct bench_figure *f;

				snprintf(c, sizeof(c), "tput-%s-c%d",
					 rpc_place_name[p], counts[k]);
				f = bench_results_find(r, c, batch_jobs[j].impl);
				if (!f)
					continue;
				if (!head)
					printf("  c%d %-16s >= %.0f objects/s:", counts[k],
					       batch_jobs[j].impl, TARGET_OBJS);
				head = true;
				printf("  %s %.2f M %s", rpc_place_name[p],
				       1e9 / f->median / 1e6,
				       1e9 / f->median >= TARGET_OBJS ? "met" : "MISSED");
			}
			if (head)
				putchar('\n');
		}
	for (int p = 0; p < RPC_NPLACES; p++)
		for (size_t k = 0; k < NCOUNTS; k++)
			for (size_t j = 0; j < NPIPE; j++) {
				const struct bench_figure *q;

				snprintf(c, sizeof(c), "pipe-%s-c%d-%s",
					 rpc_place_name[p], counts[k], pipe_ops[j].op);
				q = bench_results_find(r, c, "ratio");
				if (q)
					printf("  %-26s kmemd/echo %4.2f [%4.2f-%4.2f] "
					       "(>= %.2f): %s\n", c, q->median, q->min,
					       q->max, TARGET_RATIO,
					       q->median >= TARGET_RATIO ? "met" : "MISSED");
			}
}
