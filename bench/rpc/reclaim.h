/*
 * rpc/reclaim.h - what a session's end costs everyone else.  A connection
 * holding many leases disconnects while the pinger (rpc/pinger.h) pings
 * on its own connection; another connection polls the daemon's Stats
 * (Prometheus text, rpc/kstats.h) until the session is gone and then
 * until its leases are gone too - with kmemd's sliced reclaim (daemon/
 * leases.c) the second comes later than the first, and only then is the
 * memory back.  The daemon's own reclaim figures (slices, their time, the
 * longest) are read from its JSON stats (0 from a kmemd that has none).
 */
#ifndef KMEM_BENCH_RPC_RECLAIM_H
#define KMEM_BENCH_RPC_RECLAIM_H

#include <stdint.h>

#include "kmem/client.h"
#include "pinger.h"

/* Take n leases of size bytes on c with AllocBatch of up to 16,384 (the
 * daemon's limit); dies on failure. */
void rpc_hold(struct kmem_client *c, uint64_t size, uint64_t n);

struct rpc_reclaim {
	double disconnect_ns;	/* kmem_client_disconnect() itself */
	double session_ns;	/* to the Stats without the session */
	double gone_ns;		/* to the Stats without its leases either */
	double quiet_ns;	/* the pinger's longest ping in quiet_ns before */
	double during_ns;	/* ... that overlapped [disconnect, gone] */
	uint64_t slices;	/* the daemon's reclaim slices meanwhile */
	double reclaim_ns;	/* their time, daemon-side */
	double slice_max_ns;	/* the longest slice the daemon ever ran */
};

/*
 * rpc_reclaim_measure - disconnect c, which holds n leases, and measure
 * as above through meas.  With p (may be NULL) the pinger runs from
 * quiet_ns before the disconnect until 20 ms after the leases are gone,
 * and is paused again on return.
 */
void rpc_reclaim_measure(struct kmem_client *meas, struct rpc_pinger *p,
			 struct kmem_client *c, uint64_t n, uint64_t quiet_ns,
			 struct rpc_reclaim *out);

#endif
