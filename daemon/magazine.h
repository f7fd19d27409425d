/*
 * magazine.h - the daemon's side of client magazines (magazine.c): which
 * leases were granted to a client's magazines, and what the client last
 * said sits idle in them (proto/kmem.proto, "Client magazines").
 */
#ifndef KMEMD_MAGAZINE_H
#define KMEMD_MAGAZINE_H

#include <stdbool.h>
#include <stdint.h>

#include "kmemd.h"

/* The magazine fields of a refill or drain request: idle objects and
 * bytes by the client's pool index, not counting what the request moves. */
struct mag_req {
	size_t n;
	const uint64_t *objects, *bytes;
};

/* l (a lease of s just granted by a magazine refill) is a magazine
 * lease: mark and count it. */
void magazine_grant(struct session *s, struct lease *l);

/* A magazine lease is being released (leases_release): uncount it. */
void magazine_release(struct lease *l);

/*
 * magazine_report - record what the client of s says is idle in its
 * magazines after a successful exchange: r's figures, plus in pool p
 * what a refill granted (p NULL for a drain).
 */
void magazine_report(struct session *s, const struct kmemd_pool *p,
		     const struct mag_req *r, uint64_t objects, uint64_t bytes);

/*
 * magazine_totals - the magazine figures of session s (all pools) or,
 * with s NULL, of pool p over every session of d.  The idle figures are
 * bounded by the magazine leases of the same session and pool: a client
 * cannot claim more idle objects than it was granted.
 */
void magazine_totals(const struct kmemd *d, const struct session *s,
		     const struct kmemd_pool *p, struct mag_acct *out);

#endif
