/*
 * benchutil.h - timing, repetition and reporting shared by the benchmarks
 * in bench/ (linked into every bench binary by the Makefile).
 *
 * A benchmark describes its figures as items: one implementation ("impl")
 * running one workload ("case").  bench_run_case() calibrates every item
 * of a case so that a repetition lasts about opts->target_ns, then runs
 * opts->reps repetitions of all the case's items interleaved (rep 0 of
 * each item, then rep 1 of each, ... with the starting item rotated), so
 * that a burst of noise from a neighbour on a shared machine lands on all
 * implementations alike rather than on whichever ran during it.  Each
 * figure is the median over the repetitions of nanoseconds per operation,
 * with the minimum and maximum kept to show the spread.
 *
 * Items marked peer are the reference implementations of the case; the
 * table gives every figure's ratio to the best (lowest) peer median.
 */
#ifndef KMEM_BENCHUTIL_H
#define KMEM_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_REPS 64

/* Command-line options every benchmark accepts (bench_parse_args). */
struct bench_opts {
	int reps;		/* repetitions per figure; default 7 */
	uint64_t target_ns;	/* length of one repetition; default 20 ms */
	const char *json_dir;	/* where to write the JSON; default build/bench */
	int cpu;		/* CPU to pin to; -1 = none, -2 = current */
	const char *filter;	/* run only items whose "case/impl" contains
				   this; NULL = all */
};

/*
 * One figure to measure.  run() performs iters iterations of the workload
 * and returns the nanoseconds the timed part took (it may set up and tear
 * down state outside its own clock readings); one iteration is
 * ops_per_iter operations.  It must not fail: on an unexpected error from
 * the code under test it reports and exits.
 */
struct bench_item {
	const char *case_name;
	const char *impl;
	bool peer;
	uint64_t ops_per_iter;
	uint64_t (*run)(void *arg, uint64_t iters);
	void *arg;
};

struct bench_figure {
	char case_name[48];
	char impl[32];
	bool peer;
	double median, min, max;	/* ns per operation */
};

/* The figures of a run, in the order they were measured. */
struct bench_results {
	struct bench_figure *v;
	size_t n, cap;
};

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/*
 * bench_parse_args - fill *o from argv: --json-dir DIR, --reps N (1..64),
 * --target-ms N, --cpu N (-1: do not pin), --filter STR, --help.
 * Returns 0, 1 after printing help (the caller exits 0), or -1 after
 * printing an error (the caller exits 2).  usage is printed first by
 * --help; it may be NULL.
 */
int bench_parse_args(int argc, char **argv, struct bench_opts *o,
		     const char *usage);

/*
 * bench_pin - pin the calling thread to o->cpu (the CPU it is running on
 * when -2).  Returns the CPU pinned to, or -1 when not pinned (asked not
 * to, or the call failed: a warning is printed and the run goes on).
 */
int bench_pin(const struct bench_opts *o);

/*
 * bench_summarise - median, minimum and maximum of n samples (n >= 1);
 * the median of an even count is the mean of the middle two.  Reorders v.
 */
void bench_summarise(double *v, size_t n, double *median, double *min,
		     double *max);

/*
 * bench_run_case - measure the items (all of one case) as described at the
 * top of this file and append their figures to r.  Items not selected by
 * o->filter are skipped.  Returns 0, or -1 when out of memory.
 */
int bench_run_case(struct bench_results *r, const struct bench_opts *o,
		   const struct bench_item *items, size_t n);

/* bench_results_add - append a figure from its samples.  0 or -1 (ENOMEM). */
int bench_results_add(struct bench_results *r, const char *case_name,
		      const char *impl, bool peer, double *samples, size_t n);

/*
 * bench_results_find - the figure of case_name and impl, or NULL when it
 * was not measured (filtered out).
 */
const struct bench_figure *bench_results_find(const struct bench_results *r,
					      const char *case_name,
					      const char *impl);

/*
 * bench_selected - whether o->filter selects the figure of case_name and
 * impl (its "case/impl" key contains the filter); true without a filter.
 * For benchmarks that measure figures outside bench_run_case.
 */
bool bench_selected(const struct bench_opts *o, const char *case_name,
		    const char *impl);

/*
 * bench_best_peer - the lowest peer median of case_name, or 0 when the
 * case has no peer figure.
 */
double bench_best_peer(const struct bench_results *r, const char *case_name);

/*
 * bench_results_print - the table: case, impl, median, min, max (ns per
 * op) and the ratio median / best peer median ('-' for a case without
 * peers); the best peer is marked '*'.
 */
void bench_results_print(const struct bench_results *r, FILE *f);

/*
 * bench_results_write_json - write dir/name as a JSON list of
 * {"case", "impl", "ns_per_op", "min", "max"} (ns_per_op is the median).
 * Creates dir if needed.  Returns 0, or -1 after printing why.
 */
int bench_results_write_json(const struct bench_results *r, const char *dir,
			     const char *name);

void bench_results_fini(struct bench_results *r);

/*
 * Keep the compiler from proving a value unused (and so deleting the call
 * that made it) without adding a memory access: the value is claimed to be
 * read by an empty asm statement that may also read memory.
 */
#define BENCH_SINK(x) __asm__ volatile("" : : "r"(x) : "memory")

#endif
