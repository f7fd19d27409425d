/*
 * rpc/kstats.h - figures read back from kmemd's own Stats document through
 * a libkmem connection: the session and lease counts and the request
 * latency sum, which gives the daemon-side time of requests.
 *
 * The daemon adds each request's handling time (unpack to reply packed,
 * not the socket write) to a histogram after handling it, so a Stats
 * reply never includes its own time: the sum read by Stats k+1 minus the
 * sum read by Stats k is the time of Stats k plus whatever other requests
 * were handled in between.
 */
#ifndef KMEM_BENCH_RPC_KSTATS_H
#define KMEM_BENCH_RPC_KSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "kmem/client.h"

/* From the Prometheus text (cheap: no walk over sessions or leases). */
struct rpc_kstats {
	uint64_t sessions;	/* kmemd_sessions */
	uint64_t leases;	/* kmemd_leases */
	uint64_t requests;	/* kmemd_request_duration_seconds_count */
	double sum_ns;		/* ..._sum: printed with %g, so 6 significant
				   digits (10 us once the sum passes 1 s) */
};

/* Read them; dies when the request fails or a line is missing. */
void rpc_kstats_prom(struct kmem_client *c, struct rpc_kstats *k);

/*
 * rpc_kstats_json - one JSON Stats request (the full document, as kmemctl
 * stats and GET /stats get it).  Returns the exact latency sum_ns; *bytes
 * (may be NULL) gets the document's length and *arenas (may be NULL) the
 * number of buddy arenas it lists.
 */
uint64_t rpc_kstats_json(struct kmem_client *c, size_t *bytes, size_t *arenas);

/* The same without dying: 0, or the client's error (the connection is
 * then unusable: the daemon closes it when the document does not fit in
 * one frame). */
int rpc_kstats_json_try(struct kmem_client *c, uint64_t *sum, size_t *bytes,
			size_t *arenas);

#endif
