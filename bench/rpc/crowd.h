/*
 * rpc/crowd.h - throughput of many client processes at once: N processes,
 * each with its own connection, start together, run one loop until a
 * common deadline, and count what they did; the figure is the total over
 * the clients divided by the time from the common start to the last
 * client's end.
 *
 * Placement.  Each repetition places the clients and the server (kmemd,
 * or the echo server it starts for the echo modes) anew:
 *   any    nothing pinned, the scheduler's choice (as a deployment gets);
 *   same   clients and server all on one CPU: no cross-CPU wake-ups, no
 *          parallelism;
 *   split  clients on one CPU, the server on the other.
 * kmemd is given back every CPU after each repetition (rpc_pin -1).
 */
#ifndef KMEM_BENCH_RPC_CROWD_H
#define KMEM_BENCH_RPC_CROWD_H

#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

enum rpc_place { RPC_PLACE_ANY, RPC_PLACE_SAME, RPC_PLACE_SPLIT, RPC_NPLACES };

extern const char *const rpc_place_name[RPC_NPLACES];

/* What each client runs; the unit it counts in brackets. */
enum rpc_crowd_mode {
	RPC_CM_KMEM_BATCH,	/* libkmem alloc_batch(64) + free_batch of
				   them, one request in flight [object] */
	RPC_CM_KMEM_SINGLE,	/* libkmem alloc + free of one object
				   [object] */
	RPC_CM_KMEM_PIPE,	/* window.h rpc_win_kmem: libkmem's
				   pipelined batches [object] */
	RPC_CM_RAW_BATCH,	/* window.h RPC_WIN_BATCH on kmemd [object] */
	RPC_CM_RAW_PING,	/* window.h RPC_WIN_PING on kmemd [answer] */
	RPC_CM_RAW_ALLOCFREE,	/* window.h RPC_WIN_ALLOCFREE on kmemd
				   [answer] */
	RPC_CM_ECHO_PING,	/* the same two on the pipelined echo */
	RPC_CM_ECHO_ALLOCFREE,	/*   server (pecho.h) [answer] */
};

/* The run's constants. */
struct rpc_crowd_env {
	pid_t kmemd;
	int cpu[2];		/* the clients' CPU; the server's when split
				   (-1: no second CPU, split not possible) */
	struct rpc_sizes z;	/* frame sizes the echo modes copy */
	uint64_t obj_size;	/* bytes per object */
	uint64_t window_ns;	/* how long the clients loop */
};

/* One repetition's set-up. */
struct rpc_crowd_job {
	enum rpc_crowd_mode mode;
	int nclients;		/* 1..RPC_CROWD_MAX */
	enum rpc_place place;
	unsigned depth;		/* window of the PIPE, RAW and ECHO modes */
};

#define RPC_CROWD_MAX 16

/*
 * What a repetition measured, per unit of all clients together: the
 * wall-clock ns (units per second = 1e9 / ns) and the CPU time, user and
 * kernel, of the server (kmemd's, or the echo server's) and of the
 * clients together.  The CPU times say where the time went whatever the
 * placement: with everything on one CPU, ns = srv_cpu + cli_cpu + idle.
 */
struct rpc_crowd_result {
	double ns, srv_cpu, cli_cpu;
};

/*
 * rpc_crowd_rep - one repetition of j into *out.  Connections made
 * through libkmem opt out of its magazines, so every operation is a
 * request.  Dies when a client fails.
 */
void rpc_crowd_rep(const struct rpc_crowd_env *env,
		   const struct rpc_crowd_job *j, struct rpc_crowd_result *out);

#endif
