/*
 * rpc/tput.h - bench_daemon's throughput section: how many objects per
 * second kmemd serves through batches, and how close pipelined single
 * requests come to an echo server's messages per second, each at the
 * placements of crowd.h, with 1, 2 and 8 client processes.
 *
 * Figures (benchutil records; repetitions interleaved, the slot that
 * starts a round rotated each repetition):
 *   case tput-<place>-c<N> (every placement), ns_per_op = wall-clock ns
 *     per object (allocated and freed again) of all clients together:
 *       kmem-batch64    libkmem, AllocBatch(64) then FreeBatch, one
 *                       request in flight (the blocking calls);
 *       kmem-batch64-w8 the same requests through libkmem's pipelined
 *                       batches, 8 in flight (window.h rpc_win_kmem):
 *                       what a real client gets;
 *       raw-batch64-w8  the same 8 in flight from a client speaking the
 *                       wire protocol itself (window.h rpc_win_kmemd),
 *                       which writes the requests a read calls for
 *                       together: the floor under libkmem's cost;
 *       kmem-single     libkmem Alloc + Free of one object (any only).
 *   case pipe-<place>-c<N>-<op> (same and split), op ping or allocfree,
 *     ns_per_op = ns per answer: impl echo (the pipelined echo server,
 *     pecho.h) and kmemd (the raw client), the same window (64 in
 *     flight), the same frame sizes, run back to back in each
 *     repetition; impl ratio holds no ns but the repetition's kmemd /
 *     echo messages-per-second ratio (median, min, max of those).
 *   For every impl but ratio also <impl>-srv-cpu and <impl>-cli-cpu:
 *     the CPU ns (user + kernel) per unit of the server and of all
 *     clients together (crowd.h), which say where the time went.
 */
#ifndef KMEM_BENCH_RPC_TPUT_H
#define KMEM_BENCH_RPC_TPUT_H

#include "../benchutil.h"
#include "crowd.h"

/* Measure every selected figure into r. */
void rpc_tput_run(const struct rpc_crowd_env *env, const struct bench_opts *o,
		  struct bench_results *r);

/* The tables of what r holds of this section. */
void rpc_tput_print(const struct bench_results *r);

/* The two throughput targets, one line each figure:
 * >= 1,000,000 objects/s batched, and pipelined single requests at
 * >= 60% of the echo's messages per second. */
void rpc_tput_targets(const struct bench_results *r);

#endif
