/*
 * benchutil.c - timing, repetition and reporting for bench/ (see
 * benchutil.h for the method).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "benchutil.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ options */

static int parse_long(const char *opt, const char *s, long lo, long hi,
		      long *out)
{
	char *end;
	long v;

	errno = 0;
	v = s ? strtol(s, &end, 10) : 0;
	if (!s || errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "%s wants an integer in [%ld, %ld]\n", opt, lo,
			hi);
		return -1;
	}
	*out = v;
	return 0;
}

int bench_parse_args(int argc, char **argv, struct bench_opts *o,
		     const char *usage)
{
	long v;

	*o = (struct bench_opts){
		.reps = 7, .target_ns = 20000000, .json_dir = "build/bench",
		.cpu = -2,
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			if (usage)
				fputs(usage, stdout);
			printf("options: --json-dir DIR (build/bench)  --reps N (7)\n"
			       "         --target-ms N (20, per repetition)\n"
			       "         --cpu N (pin to CPU N; -1 no pinning; "
			       "default the current CPU)\n"
			       "         --filter STR (only figures whose "
			       "\"case/impl\" contains STR)\n");
			return 1;
		} else if (!strcmp(a, "--json-dir") && val) {
			o->json_dir = val;
		} else if (!strcmp(a, "--filter") && val) {
			o->filter = val;
		} else if (!strcmp(a, "--reps")) {
			if (parse_long(a, val, 1, BENCH_MAX_REPS, &v))
				return -1;
			o->reps = (int)v;
		} else if (!strcmp(a, "--target-ms")) {
			if (parse_long(a, val, 1, 10000, &v))
				return -1;
			o->target_ns = (uint64_t)v * 1000000u;
		} else if (!strcmp(a, "--cpu")) {
			if (parse_long(a, val, -1, CPU_SETSIZE - 1, &v))
				return -1;
			o->cpu = (int)v;
		} else {
			fprintf(stderr, "unknown or incomplete option '%s' "
				"(try --help)\n", a);
			return -1;
		}
		i++;
	}
	return 0;
}

int bench_pin(const struct bench_opts *o)
{
	int cpu = o->cpu == -2 ? sched_getcpu() : o->cpu;
	cpu_set_t set;

	if (o->cpu == -1)
		return -1;
	if (cpu < 0) {
		fprintf(stderr, "warning: sched_getcpu failed; not pinned\n");
		return -1;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "warning: cannot pin to CPU %d: %s\n", cpu,
			strerror(errno));
		return -1;
	}
	return cpu;
}

/* ------------------------------------------------------------ measuring */

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

void bench_summarise(double *v, size_t n, double *median, double *min,
		     double *max)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*min = v[0];
	*max = v[n - 1];
	*median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool bench_selected(const struct bench_opts *o, const char *case_name,
		    const char *impl)
{
	char key[128];

	if (!o->filter)
		return true;
	snprintf(key, sizeof(key), "%s/%s", case_name, impl);
	return strstr(key, o->filter) != NULL;
}

/*
 * Iterations that make one repetition last about target_ns: double until a
 * run takes a tenth of the target, then scale.  This also warms caches,
 * branch predictors and the allocator's own state before the first
 * repetition that counts.
 */
static uint64_t calibrate(const struct bench_item *it, uint64_t target_ns)
{
	uint64_t iters = 1, t;

	for (;;) {
		t = it->run(it->arg, iters);
		if (t >= target_ns / 10 || iters >= (UINT64_C(1) << 40))
			break;
		iters *= 2;
	}
	if (t == 0)
		return iters;
	iters = (uint64_t)((double)iters * (double)target_ns / (double)t);
	return iters ? iters : 1;
}

int bench_run_case(struct bench_results *r, const struct bench_opts *o,
		   const struct bench_item *items, size_t n)
{
	double (*samples)[BENCH_MAX_REPS] = calloc(n, sizeof(*samples));
	uint64_t *iters = calloc(n, sizeof(*iters));
	int rc = -1;

	if (!samples || !iters)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (bench_selected(o, items[i].case_name, items[i].impl))
			iters[i] = calibrate(&items[i], o->target_ns);
	for (int rep = 0; rep < o->reps; rep++) {
		for (size_t k = 0; k < n; k++) {
			size_t i = (k + (size_t)rep) % n;
			const struct bench_item *it = &items[i];
			uint64_t t;

			if (!iters[i])
				continue;
			t = it->run(it->arg, iters[i]);
			samples[i][rep] = (double)t /
					  ((double)iters[i] * (double)it->ops_per_iter);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (iters[i] && bench_results_add(r, items[i].case_name,
						  items[i].impl, items[i].peer,
						  samples[i], (size_t)o->reps))
			goto out;
	rc = 0;
out:
	free(iters);
	free(samples);
	return rc;
}

/* ------------------------------------------------------------ results */

int bench_results_add(struct bench_results *r, const char *case_name,
		      const char *impl, bool peer, double *samples, size_t n)
{
	struct bench_figure *f;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct bench_figure *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	f = &r->v[r->n++];
	snprintf(f->case_name, sizeof(f->case_name), "%s", case_name);
	snprintf(f->impl, sizeof(f->impl), "%s", impl);
	f->peer = peer;
	bench_summarise(samples, n, &f->median, &f->min, &f->max);
	return 0;
}

const struct bench_figure *bench_results_find(const struct bench_results *r,
					      const char *case_name,
					      const char *impl)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].case_name, case_name) &&
		    !strcmp(r->v[i].impl, impl))
			return &r->v[i];
	return NULL;
}

double bench_best_peer(const struct bench_results *r, const char *case_name)
{
	double best = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct bench_figure *f = &r->v[i];

		if (f->peer && !strcmp(f->case_name, case_name) &&
		    (best == 0 || f->median < best))
			best = f->median;
	}
	return best;
}

void bench_results_print(const struct bench_results *r, FILE *f)
{
	const char *prev = "";

	fprintf(f, "%-28s %-14s %10s %10s %10s %8s\n", "case", "impl",
		"ns/op", "min", "max", "ratio");
	for (size_t i = 0; i < r->n; i++) {
		const struct bench_figure *g = &r->v[i];
		double best = bench_best_peer(r, g->case_name);
		char ratio[16] = "-";

		if (strcmp(prev, g->case_name) && i)
			fputc('\n', f);
		prev = g->case_name;
		if (best > 0)
			snprintf(ratio, sizeof(ratio), "%.2f%s",
				 g->median / best,
				 g->peer && g->median == best ? "*" : "");
		fprintf(f, "%-28s %-14s %10.1f %10.1f %10.1f %8s\n",
			g->case_name, g->impl, g->median, g->min, g->max, ratio);
	}
}

/* mkdir -p for a relative or absolute path. */
static int make_dirs(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -1;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0777) && errno != EEXIST)
		return -1;
	return 0;
}

/* Names are the benchmarks' own identifiers; escape anyway. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int bench_results_write_json(const struct bench_results *r, const char *dir,
			     const char *name)
{
	char path[4096];
	FILE *f;

	if (make_dirs(dir)) {
		fprintf(stderr, "cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs("[\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct bench_figure *g = &r->v[i];

		fputs("  {\"case\": ", f);
		json_string(f, g->case_name);
		fputs(", \"impl\": ", f);
		json_string(f, g->impl);
		fprintf(f, ", \"ns_per_op\": %.2f, \"min\": %.2f, \"max\": %.2f}%s\n",
			g->median, g->min, g->max, i + 1 < r->n ? "," : "");
	}
	fputs("]\n", f);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "error writing %s\n", path);
		return -1;
	}
	return 0;
}

void bench_results_fini(struct bench_results *r)
{
	free(r->v);
	*r = (struct bench_results){ 0 };
}
