/*
 * rpc/tput.c - the throughput section of bench_daemon (see tput.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "tput.h"

#define BATCH_WINDOW 8		/* AllocBatch/FreeBatch in flight */
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

/* The batch table's columns: the batched modes, then kmem-single. */
static const struct tjob batch_jobs[] = {
	{ "kmem-batch64", RPC_CM_KMEM_BATCH, 1 },
	{ "kmem-batch64-w8", RPC_CM_KMEM_PIPE, BATCH_WINDOW },
	{ "raw-batch64-w8", RPC_CM_RAW_BATCH, BATCH_WINDOW },
	{ "kmem-single", RPC_CM_KMEM_SINGLE, 1 },
};
#define NBATCH 3		/* of them batched */
#define NCOLS (sizeof(batch_jobs) / sizeof(batch_jobs[0]))

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

/* Where each kind runs (kmem-single only unpinned: it is slow anyway). */
static const bool batch_at[RPC_NPLACES] = { true, true, true };
static const bool pipe_at[RPC_NPLACES] = { false, true, true };

/*
 * What one round of a repetition runs: one figure, or a pair (echo,
 * kmemd) whose ratio is taken per repetition.
 */
struct slot {
	char case_name[48];
	const char *impl[2];
	struct rpc_crowd_job job[2];
	int n;
	double s[2][3][BENCH_MAX_REPS];	/* [job][ns, srv, cli][rep] */
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

	for (size_t k = 0; k < NCOUNTS; k++)
		for (int p = 0; p < RPC_NPLACES; p++) {
			if (p == RPC_PLACE_SPLIT && env->cpu[1] < 0)
				continue;
			snprintf(c, sizeof(c), "tput-%s-c%d", rpc_place_name[p],
				 counts[k]);
			for (size_t j = 0; batch_at[p] && j < NCOLS; j++)
				if (j < NBATCH || p == RPC_PLACE_ANY)
					add_slot(v, &n, o, c, &batch_jobs[j], NULL,
						 counts[k], (enum rpc_place)p);
			for (size_t j = 0; pipe_at[p] && j < NPIPE; j++) {
				snprintf(c, sizeof(c), "pipe-%s-c%d-%s",
					 rpc_place_name[p], counts[k], pipe_ops[j].op);
				add_slot(v, &n, o, c, &pipe_ops[j].echo,
					 &pipe_ops[j].kmemd, counts[k],
					 (enum rpc_place)p);
			}
		}
	return n;
}

static void add(struct bench_results *r, const char *c, const char *impl,
		const char *suffix, double *v, int reps)
{
	char name[32];

	snprintf(name, sizeof(name), "%s%s", impl, suffix);
	if (bench_results_add(r, c, name, false, v, (size_t)reps))
		rpc_die("out of memory");
}

/* A slot's figures: per job ns, -srv-cpu, -cli-cpu; a pair's ratio. */
static void record(struct slot *s, int reps, struct bench_results *r)
{
	static const char *const part[3] = { "", "-srv-cpu", "-cli-cpu" };
	double ratio[BENCH_MAX_REPS];

	for (int i = 0; i < s->n; i++)
		for (int q = 0; q < 3; q++)
			add(r, s->case_name, s->impl[i], part[q], s->s[i][q], reps);
	if (s->n < 2)
		return;
	/* Messages per second, kmemd over echo, = echo ns / kmemd ns. */
	for (int rep = 0; rep < reps; rep++)
		ratio[rep] = s->s[0][0][rep] / s->s[1][0][rep];
	add(r, s->case_name, "ratio", "", ratio, reps);
}

void rpc_tput_run(const struct rpc_crowd_env *env, const struct bench_opts *o,
		  struct bench_results *r)
{
	static struct slot v[MAX_SLOTS];
	size_t n = make_slots(env, o, v);
	struct rpc_crowd_result x;

	for (int rep = 0; rep < o->reps; rep++)
		for (size_t k = 0; k < n; k++) {
			struct slot *s = &v[(k + (size_t)rep) % n];

			/* A pair's order alternates, so neither always runs
			 * right after the other kind of slot. */
			for (int i = 0; i < s->n; i++) {
				int j = rep % 2 ? s->n - 1 - i : i;

				rpc_crowd_rep(env, &s->job[j], &x);
				s->s[j][0][rep] = x.ns;
				s->s[j][1][rep] = x.srv_cpu;
				s->s[j][2][rep] = x.cli_cpu;
			}
		}
	for (size_t k = 0; k < n; k++)
		record(&v[k], o->reps, r);
}

/* ------------------------------------------------------------ report */

static const struct bench_figure *fig(const struct bench_results *r,
				      const char *c, const char *impl,
				      const char *suffix)
{
	char name[32];

	snprintf(name, sizeof(name), "%s%s", impl, suffix);
	return bench_results_find(r, c, name);
}

/* "1234567 [1000000-1400000]" per second from a figure in ns per unit. */
static void print_rate(const struct bench_figure *f, int width)
{
	char b[64] = "-";

	if (f)
		snprintf(b, sizeof(b), "%.0f [%.0f-%.0f]", 1e9 / f->median,
			 1e9 / f->max, 1e9 / f->min);
	printf(" %*s", width, b);
}

/* "srv + cli" CPU ns per unit (medians). */
static void print_cpu(const struct bench_results *r, const char *c,
		      const char *impl, int width)
{
	const struct bench_figure *s = fig(r, c, impl, "-srv-cpu");
	const struct bench_figure *k = fig(r, c, impl, "-cli-cpu");
	char b[64] = "-";

	if (s && k)
		snprintf(b, sizeof(b), "%.0f + %.0f", s->median, k->median);
	printf(" %*s", width, b);
}

static void print_batch(const struct bench_results *r)
{
	bool head = false;
	char c[48];

	for (int p = 0; p < RPC_NPLACES; p++)
		for (size_t k = 0; k < NCOUNTS; k++) {
			bool any = false;

			snprintf(c, sizeof(c), "tput-%s-c%d", rpc_place_name[p],
				 counts[k]);
			for (size_t j = 0; j < NCOLS; j++)
				any |= fig(r, c, batch_jobs[j].impl, "") != NULL;
			if (!any)
				continue;
			if (!head) {
				printf("\nthroughput, objects (64 B, allocated and freed "
				       "again) per second, all clients together: median "
				       "[min-max];\nkmem-batch64: libkmem, one AllocBatch/"
				       "FreeBatch of 64 in flight (kmem_client_alloc_batch "
				       "and _free_batch);\nkmem-batch64-w%d: libkmem's "
				       "pipelined batches, %d in flight (kmem_client_"
				       "alloc_batch_send and friends);\nraw-batch64-w%d: "
				       "the same %d in flight from a client speaking the "
				       "wire protocol itself, whose\nrequests go out "
				       "together, one write per read (libkmem writes each "
				       "request as it is sent);\ncpu: CPU ns per object, "
				       "kmemd + clients (medians)\n", BATCH_WINDOW,
				       BATCH_WINDOW, BATCH_WINDOW, BATCH_WINDOW);
				printf("%-5s %-3s", "place", "cl");
				for (size_t j = 0; j < NCOLS; j++)
					printf(" %25s", batch_jobs[j].impl);
				for (size_t j = 0; j < NBATCH; j++)
					printf(" %11s", "cpu");
				putchar('\n');
			}
			head = true;
			printf("%-5s %-3d", rpc_place_name[p], counts[k]);
			for (size_t j = 0; j < NCOLS; j++)
				print_rate(fig(r, c, batch_jobs[j].impl, ""), 25);
			for (size_t j = 0; j < NBATCH; j++)
				print_cpu(r, c, batch_jobs[j].impl, 11);
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
				const struct bench_figure *q;

				snprintf(c, sizeof(c), "pipe-%s-c%d-%s",
					 rpc_place_name[p], counts[k], pipe_ops[j].op);
				q = fig(r, c, "ratio", "");
				if (!q)
					continue;
				if (!head)
					printf("\npipelined single requests, %d in flight per "
					       "client: answers (messages) per second, all "
					       "clients together,\nmedian [min-max]; ratio = "
					       "kmemd / echo of the same repetition, median "
					       "[min-max];\ncpu: CPU ns per message, server + "
					       "clients (medians)\n%-5s %-3s %-9s %25s %25s "
					       "%16s %11s %11s\n", PIPE_WINDOW, "place", "cl",
					       "op", "echo", "kmemd", "ratio", "echo cpu",
					       "kmemd cpu");
				head = true;
				printf("%-5s %-3d %-9s", rpc_place_name[p], counts[k],
				       pipe_ops[j].op);
				print_rate(fig(r, c, "echo", ""), 25);
				print_rate(fig(r, c, "kmemd", ""), 25);
				printf("  %4.2f [%4.2f-%4.2f]", q->median, q->min, q->max);
				print_cpu(r, c, "echo", 11);
				print_cpu(r, c, "kmemd", 11);
				putchar('\n');
			}
}

void rpc_tput_print(const struct bench_results *r)
{
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
				f = fig(r, c, batch_jobs[j].impl, "");
				if (!f)
					continue;
				if (!head)
					printf("  c%d %-15s >= 1 M objects/s:", counts[k],
					       batch_jobs[j].impl);
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
				q = fig(r, c, "ratio", "");
				if (q)
					printf("  %-26s kmemd/echo %4.2f [%4.2f-%4.2f] "
					       "(>= %.2f): %s\n", c, q->median, q->min,
					       q->max, TARGET_RATIO,
					       q->median >= TARGET_RATIO ? "met" : "MISSED");
			}
}
