/*
 * rpc/lat.c - round-trip latency repetitions (see lat.h).
 */
#include <stdlib.h>

#include "../benchutil.h"
#include "lat.h"
#include "proc.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void rpc_med_p99(double *v, size_t n, double *med, double *p99)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*p99 = v[(n * 99 + 99) / 100 - 1];
}

void rpc_lat_rep(const struct rpc_lat_item *it, size_t n, size_t ops,
		 size_t chunk, int rep, double *med, double *p99)
{
	double *d = malloc(n * ops * sizeof(*d));

	if (!d)
		rpc_die("out of memory");
	for (size_t round = 0; round * chunk < ops; round++)
		for (size_t k = 0; k < n; k++) {
			size_t i = (k + round + (size_t)rep) % n;

			for (size_t j = round * chunk; j < ops &&
			     j < (round + 1) * chunk; j++) {
				uint64_t t0 = bench_now_ns();

				it[i].op(it[i].arg);
				d[i * ops + j] = (double)(bench_now_ns() - t0);
			}
		}
	for (size_t i = 0; i < n; i++)
		rpc_med_p99(d + i * ops, ops, &med[i], &p99[i]);
	free(d);
}
