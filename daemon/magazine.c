/*
 * magazine.c - the daemon's ledger of client magazines.
 *
 * libkmem keeps per size class and per named cache a magazine of objects
 * leased in advance and serves small allocations from it without a round
 * trip (client/magazine.c).  To the daemon every such object is an
 * ordinary lease of the session; this file only keeps two figures beside
 * the usual ones, per session and pool:
 *
 *   leases, bytes       the live leases granted by magazine refills
 *                       (AllocBatch or CacheAlloc with `magazine` set):
 *                       exact, counted at grant and at release, whether
 *                       the object sits in the magazine or was handed to
 *                       the application since;
 *   idle, idle_bytes    what the client said, at its last refill or
 *                       drain, sits idle in its magazines of that pool
 *                       (plus what that refill granted): exact as of
 *                       that exchange (the client serves and takes back
 *                       objects between exchanges without telling
 *                       anyone).
 *
 * The idle figures are the client's word, so they are shown bounded by
 * the exact ones.  Pool totals are summed over the sessions when stats
 * are built (a handful of sessions, KMEMD_MAX_POOLS pools).
 */
#include "magazine.h"

void magazine_grant(struct session *s, struct lease *l)
{
	struct mag_acct *m = &s->mag[l->pool->index];

	l->magazine = true;
	m->leases++;
	m->bytes += l->buf.len;
}

void magazine_release(struct lease *l)
{
	/* Only session leases are granted to magazines, and a lease keeps
	 * its owner until its record is freed. */
	struct mag_acct *m = &l->owner->mag[l->pool->index];

	m->leases--;
	m->bytes -= l->buf.len;
}

void magazine_report(struct session *s, const struct kmemd_pool *p,
		     const struct mag_req *r, uint64_t objects, uint64_t bytes)
{
	for (size_t i = 0; i < s->d->npools; i++) {
		unsigned ci = s->pool_index[i];	/* 0xff: not visible */

		s->mag[i].idle = ci < r->n ? r->objects[ci] : 0;
		s->mag[i].idle_bytes = ci < r->n ? r->bytes[ci] : 0;
	}
	if (p) {
		s->mag[p->index].idle += objects;
		s->mag[p->index].idle_bytes += bytes;
	}
}

static void add(struct mag_acct *sum, const struct mag_acct *m)
{
	sum->leases += m->leases;
	sum->bytes += m->bytes;
	sum->idle += m->idle < m->leases ? m->idle : m->leases;
	sum->idle_bytes += m->idle_bytes < m->bytes ? m->idle_bytes : m->bytes;
}

void magazine_totals(const struct kmemd *d, const struct session *s,
		     const struct kmemd_pool *p, struct mag_acct *out)
{
	*out = (struct mag_acct){ 0 };
	if (s) {
		for (size_t i = 0; i < d->npools; i++)
			add(out, &s->mag[i]);
		return;
	}
	for (const struct session *t = d->sessions; t; t = t->next)
		add(out, &t->mag[p->index]);
}
