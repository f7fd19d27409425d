/*
 * rpc/pinger.h - a thread that pings kmemd on its own connection without
 * pause while asked to, recording when each ping started and how long it
 * took: how long another client waited while the daemon was busy.
 */
#ifndef KMEM_BENCH_RPC_PINGER_H
#define KMEM_BENCH_RPC_PINGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rpc_pinger;

/* Connect (rpc_connect, no magazines) and start the thread, idle. */
struct rpc_pinger *rpc_pinger_start(void);

/* Forget the pings recorded so far and start pinging. */
void rpc_pinger_go(struct rpc_pinger *p);

/* Stop pinging; returns once the thread is idle. */
void rpc_pinger_pause(struct rpc_pinger *p);

/*
 * rpc_pinger_max - while paused: the longest ping that started at or
 * after from and ended before to (inside), or that overlapped [from, to]
 * (inside false); 0 when none.  ns.
 */
uint64_t rpc_pinger_max(const struct rpc_pinger *p, uint64_t from, uint64_t to,
			bool inside);

/* Stop the thread, disconnect, free. */
void rpc_pinger_stop(struct rpc_pinger *p);

#endif
