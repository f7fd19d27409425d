/*
 * rpc/lat.h - per-operation latency of round trips, in repetitions.
 *
 * A repetition times every operation on its own: ops calls of each item,
 * interleaved in chunks of chunk calls with the first item rotated by the
 * repetition number (as benchutil rotates), so that noise from a
 * neighbour lands on all items alike.  It yields each item's median and
 * 99th percentile (nearest rank) in ns; a figure is then the median over
 * repetitions of those, with min and max (bench_results_add).
 */
#ifndef KMEM_BENCH_RPC_LAT_H
#define KMEM_BENCH_RPC_LAT_H

#include <stddef.h>

struct rpc_lat_item {
	void (*op)(void *arg);	/* one operation; dies on failure */
	void *arg;
};

/* One repetition; med[i] and p99[i] get item i's figures in ns. */
void rpc_lat_rep(const struct rpc_lat_item *it, size_t n, size_t ops,
		 size_t chunk, int rep, double *med, double *p99);

/* Median and 99th percentile (nearest rank) of n samples; sorts v. */
void rpc_med_p99(double *v, size_t n, double *med, double *p99);

#endif
