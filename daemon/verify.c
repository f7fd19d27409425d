/*
 * verify.c - the Verify request: is everything the daemon believes true?
 *
 * Two layers are checked, each against the other.
 *
 * The engine, pool by pool: the backing's tables (kmem_backing_check),
 * each cache's slab lists, free bitmaps and counters (kmem_cache_check),
 * then - only if those hold, since a scan trusts them - the poison of every
 * marked free object and the red zones of every live one
 * (kmem_cache_scan; what it finds arrives through debug.c's reporter as
 * problems), and finally the page allocators and the page map
 * (kmem_heap_check).
 *
 * The lease table, against the engine and the accounting: every segment
 * of every lease is allocated in its pool with the lease's length
 * (kmem_heap_size_of) and in the right kind of place (its named cache, a
 * size class, or pages); no two leases overlap; each session's ledger
 * holds exactly its leases with the count and bytes it claims (and its
 * magazine leases as its magazine counters say), and the daemon's list of
 * persistent leases exactly the leases without a session; the table's own
 * structure holds (lease_table_check); each pool's
 * charged leases and bytes, and each uid's usage, are the sums of its
 * leases; each cache's live objects are its leases' objects (so an object
 * allocated without a lease shows as a leak); and the page allocators
 * hold exactly the slabs plus the page leases.
 *
 * Leases of ended sessions still being reclaimed (leases.c) are freed
 * before anything is checked.
 *
 * Cost: O(leases log leases) plus every debugging byte of every slab; it
 * runs on the event loop, like the stats.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "kmem/error.h"
#include "leases.h"
#include "resume.h"
#include "server.h"
#include "verify.h"

#define MAX_PROBLEMS 500	/* listed in one reply; the rest counted */

struct verify_run {
	char *problems[MAX_PROBLEMS + 1];
	size_t n, dropped;
	bool nomem;
	uint32_t pools, caches;
	uint64_t leases;
};

void verify_problem(struct verify_run *v, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (v->n == MAX_PROBLEMS) {
		v->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (!text)
		v->nomem = true;
	else
		v->problems[v->n++] = text;
}

/* ------------------------------------------------------------ engine */

static void check_engine(struct verify_run *v, struct kmemd_pool *p)
{
	struct kmem_heap *h = kmem_pool_heap(p->pool);
	const char *name = p->cfg.name;
	struct kmem_cache *c;
	bool caches_ok = true;

	v->pools++;
	if (kmem_backing_check(kmem_pool_backing(p->pool)))
		verify_problem(v, "pool %s: the backing's tables are inconsistent "
			       "(kmem_backing_check)", name);
	for (size_t i = 0; (c = kmem_heap_cache_at(h, i)); i++) {
		v->caches++;
		if (kmem_cache_check(c)) {
			caches_ok = false;
			verify_problem(v, "pool %s: cache %s: its slab lists, free "
				       "bitmaps or counters are inconsistent "
				       "(kmem_cache_check)", name, kmem_cache_name(c));
		} else {
			kmem_cache_scan(c);
		}
	}
	if (caches_ok && kmem_heap_check(h))
		verify_problem(v, "pool %s: the page allocators or the page map "
			       "are inconsistent (kmem_heap_check)", name);
}

/* ------------------------------------------------------------ leases */

/* One allocated range a lease claims. */
struct rec {
	uint64_t off, len, id;
	const struct kmem_cache *cache;	/* where the engine has it; NULL:
					   pages */
	unsigned pool;
};

struct tally {
	uint64_t leases, bytes, page_bytes;
	uint64_t *uid_bytes;		/* parallel to the pool's usage[] */
};

struct walk {
	struct kmemd *d;
	struct verify_run *v;
	struct rec *recs;
	size_t n, cap;
	struct tally t[KMEMD_MAX_POOLS];
	uint64_t owned;			/* leases with an owner session */
};

static const char *const kind_names[] = { "buffer", "object", "kmalloc" };

static bool is_kmalloc(const struct kmem_cache *c)
{
	return !strncmp(kmem_cache_name(c), "kmalloc-", 8);
}

static void add_rec(struct walk *w, const struct rec *r)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 1024;
		struct rec *g = realloc(w->recs, cap * sizeof(*g));

		if (!g) {
			w->v->nomem = true;
			return;
		}
		w->recs = g;
		w->cap = cap;
	}
	w->recs[w->n++] = *r;
}

/* One piece of lease l: allocated, of its length, in the right place. */
static void check_seg(struct walk *w, const struct lease *l,
		      const struct kmem_pool_seg *g)
{
	const struct kmem_heap *h = kmem_pool_heap(l->pool->pool);
	const struct kmem_cache *c = kmem_heap_cache_of(h, g->off);
	const char *pool = l->pool->cfg.name, *kind = kind_names[l->kind];
	unsigned long long id = l->id;
	uint64_t len;
	int rc = kmem_heap_size_of(h, g->off, &len);

	if (rc)
		verify_problem(w->v, "lease %llu (%s, pool %s): offset 0x%llx is "
			       "not allocated in the engine (%s)", id, kind, pool,
			       (unsigned long long)g->off, kmem_strerror(rc));
	else if (len != g->len)
		verify_problem(w->v, "lease %llu (%s, pool %s): the engine holds "
			       "%llu bytes at 0x%llx, the lease says %llu", id,
			       kind, pool, (unsigned long long)len,
			       (unsigned long long)g->off,
			       (unsigned long long)g->len);
	if (l->kind == LEASE_OBJ && c != l->dcache->cache)
		verify_problem(w->v, "lease %llu (object, pool %s): 0x%llx is not "
			       "in a slab of its cache %s", id, pool,
			       (unsigned long long)g->off,
			       kmem_cache_name(l->dcache->cache));
	else if (l->kind == LEASE_KMALLOC && (!c || !is_kmalloc(c)))
		verify_problem(w->v, "lease %llu (kmalloc, pool %s): 0x%llx is not "
			       "in a size-class slab", id, pool,
			       (unsigned long long)g->off);
	else if (l->kind == LEASE_BUF && c)
		verify_problem(w->v, "lease %llu (buffer, pool %s): 0x%llx lies in "
			       "a slab of cache %s", id, pool,
			       (unsigned long long)g->off, kmem_cache_name(c));
	if (!c)
		w->t[l->pool->index].page_bytes += g->len;
	add_rec(w, &(struct rec){ .off = g->off, .len = g->len, .id = l->id,
				  .cache = c, .pool = l->pool->index });
}

static void charge_uid(struct walk *w, const struct lease *l)
{
	const struct kmemd_pool *p = l->pool;
	struct tally *t = &w->t[p->index];

	for (size_t j = 0; j < p->nusage; j++) {
		if (p->usage[j].uid == l->uid) {
			if (t->uid_bytes)
				t->uid_bytes[j] += l->buf.len;
			return;
		}
	}
	verify_problem(w->v, "lease %llu (pool %s): uid %d holds it but has no "
		       "usage entry", (unsigned long long)l->id, p->cfg.name,
		       (int)l->uid);
}

static int lease_one(struct lease *l, void *arg)
{
	struct walk *w = arg;
	struct tally *t = &w->t[l->pool->index];
	uint64_t sum = 0;

	w->v->leases++;
	t->leases++;
	t->bytes += l->buf.len;
	w->owned += l->owner != NULL;
	charge_uid(w, l);
	if (lease_find(&w->d->leases, l->id) != l)
		verify_problem(w->v, "lease %llu is not found under its id",
			       (unsigned long long)l->id);
	if (!l->owner && l->name[0] && !l->doomed &&
	    lease_find_name(&w->d->leases, l->name) != l)
		verify_problem(w->v, "lease %llu is not found under its name '%s'",
			       (unsigned long long)l->id, l->name);
	for (size_t i = 0; i < l->buf.nsegs; i++) {
		const struct kmem_pool_seg *g = kmem_pool_buf_seg(&l->buf, i);

		sum += g->len;
		check_seg(w, l, g);
	}
	if (sum != l->buf.len)
		verify_problem(w->v, "lease %llu: its segments hold %llu bytes, "
			       "its length is %llu", (unsigned long long)l->id,
			       (unsigned long long)sum,
			       (unsigned long long)l->buf.len);
	return 0;
}

/*
 * The orphaned leases of durable sessions waiting for a resume
 * (resume.c): not in the lease table and charged to nobody, but they hold
 * their pages, so each must be allocated in the engine as it says, and
 * none may overlap another lease.  Their count and bytes are the daemon's.
 */
static void check_orphans(struct walk *w)
{
	uint64_t n = 0, bytes = 0;

	for (const struct orphan_set *o = w->d->orphans; o; o = o->next) {
		uint64_t on = 0, ob = 0;

		for (const struct lease *l = o->leases; l; l = l->lnext) {
			uint64_t sum = 0;

			for (size_t i = 0; i < l->buf.nsegs; i++) {
				const struct kmem_pool_seg *g =
					kmem_pool_buf_seg(&l->buf, i);

				sum += g->len;
				check_seg(w, l, g);
			}
			if (sum != l->buf.len)
				verify_problem(w->v, "orphaned lease %llu: its "
					       "segments hold %llu bytes, its "
					       "length is %llu",
					       (unsigned long long)l->id,
					       (unsigned long long)sum,
					       (unsigned long long)l->buf.len);
			on++;
			ob += l->buf.len;
		}
		if (on != o->n || ob != o->bytes)
			verify_problem(w->v, "an orphaned session counts %llu "
				       "lease(s) of %llu bytes, it holds %llu of "
				       "%llu", (unsigned long long)o->n,
				       (unsigned long long)o->bytes,
				       (unsigned long long)on,
				       (unsigned long long)ob);
		n += on;
		bytes += ob;
	}
	if (n != w->d->orphan_leases || bytes != w->d->orphan_bytes)
		verify_problem(w->v, "the daemon counts %llu orphaned lease(s) of "
			       "%llu bytes, the orphaned sessions hold %llu of %llu",
			       (unsigned long long)w->d->orphan_leases,
			       (unsigned long long)w->d->orphan_bytes,
			       (unsigned long long)n, (unsigned long long)bytes);
}

static int by_place(const void *x, const void *y)
{
	const struct rec *a = x, *b = y;

	if (a->pool != b->pool)
		return a->pool < b->pool ? -1 : 1;
	return a->off < b->off ? -1 : a->off > b->off;
}

static int by_cache(const void *x, const void *y)
{
	uintptr_t a = (uintptr_t)((const struct rec *)x)->cache;
	uintptr_t b = (uintptr_t)((const struct rec *)y)->cache;

	return a < b ? -1 : a > b;
}

static void check_overlaps(struct walk *w)
{
	if (w->n > 1)
		qsort(w->recs, w->n, sizeof(*w->recs), by_place);
	for (size_t i = 1; i < w->n; i++) {
		const struct rec *a = &w->recs[i - 1], *b = &w->recs[i];

		if (a->pool == b->pool && b->off < a->off + a->len)
			verify_problem(w->v, "leases %llu and %llu overlap in pool "
				       "%s: [0x%llx, +%llu) and [0x%llx, +%llu)",
				       (unsigned long long)a->id,
				       (unsigned long long)b->id,
				       w->d->pools[a->pool].cfg.name,
				       (unsigned long long)a->off,
				       (unsigned long long)a->len,
				       (unsigned long long)b->off,
				       (unsigned long long)b->len);
	}
}

/* Leases whose range the engine has in cache c (recs sorted by cache). */
static uint64_t objects_in(const struct walk *w, const struct kmem_cache *c)
{
	size_t lo = 0, hi = w->n, first;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if ((uintptr_t)w->recs[mid].cache < (uintptr_t)c)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < w->n && w->recs[lo].cache == c)
		lo++;
	return lo - first;
}

static void check_pool_sums(struct walk *w, struct kmemd_pool *p)
{
	const struct tally *t = &w->t[p->index];
	const struct kmem_heap *h = kmem_pool_heap(p->pool);
	const char *name = p->cfg.name;
	struct kmem_heap_stats hs;
	struct kmem_cache *c;

	if (t->leases != p->leases || t->bytes != p->bytes)
		verify_problem(w->v, "pool %s: charged %llu lease(s) of %llu bytes, "
			       "the leases are %llu of %llu bytes", name,
			       (unsigned long long)p->leases,
			       (unsigned long long)p->bytes,
			       (unsigned long long)t->leases,
			       (unsigned long long)t->bytes);
	for (size_t j = 0; t->uid_bytes && j < p->nusage; j++)
		if (t->uid_bytes[j] != p->usage[j].bytes)
			verify_problem(w->v, "pool %s: uid %d is charged %llu bytes, "
				       "its leases hold %llu", name,
				       (int)p->usage[j].uid,
				       (unsigned long long)p->usage[j].bytes,
				       (unsigned long long)t->uid_bytes[j]);
	for (size_t i = 0; (c = kmem_heap_cache_at(h, i)); i++) {
		struct kmem_cache_stats cs;
		uint64_t n = objects_in(w, c);

		kmem_cache_stats(c, &cs);
		if (cs.active_objs != n)
			verify_problem(w->v, "pool %s: cache %s has %llu object(s) "
				       "allocated, leases hold %llu", name, cs.name,
				       (unsigned long long)cs.active_objs,
				       (unsigned long long)n);
	}
	kmem_heap_stats(h, &hs);
	if (hs.used_bytes != hs.slab_bytes + t->page_bytes)
		verify_problem(w->v, "pool %s: the page allocators hold %llu bytes; "
			       "slabs %llu and page leases %llu", name,
			       (unsigned long long)hs.used_bytes,
			       (unsigned long long)hs.slab_bytes,
			       (unsigned long long)t->page_bytes);
}

static void check_sessions(struct walk *w)
{
	uint64_t total = 0;

	for (const struct session *s = w->d->sessions; s; s = s->next) {
		struct mag_acct mag[KMEMD_MAX_POOLS] = { { 0 } };
		uint64_t n = 0, bytes = 0;

		for (const struct lease *l = s->ledger; l; l = l->lnext) {
			n++;
			bytes += l->buf.len;
			if (l->magazine) {
				mag[l->pool->index].leases++;
				mag[l->pool->index].bytes += l->buf.len;
			}
			if (l->owner != s || l->holder != s->holder)
				verify_problem(w->v, "session %llu: lease %llu on its "
					       "ledger belongs to another owner",
					       (unsigned long long)s->id,
					       (unsigned long long)l->id);
			if (lease_find(&w->d->leases, l->id) != l)
				verify_problem(w->v, "session %llu: lease %llu on its "
					       "ledger is not in the lease table",
					       (unsigned long long)s->id,
					       (unsigned long long)l->id);
		}
		if (n != s->nleases || bytes != s->bytes)
			verify_problem(w->v, "session %llu (pid %d, %s): counts %llu "
				       "lease(s) of %llu bytes, its ledger holds %llu "
				       "of %llu", (unsigned long long)s->id,
				       (int)s->pid, s->comm,
				       (unsigned long long)s->nleases,
				       (unsigned long long)s->bytes,
				       (unsigned long long)n,
				       (unsigned long long)bytes);
		for (size_t i = 0; i < w->d->npools; i++)
			if (mag[i].leases != s->mag[i].leases ||
			    mag[i].bytes != s->mag[i].bytes)
				verify_problem(w->v, "session %llu (pid %d, %s): "
					       "counts %llu magazine lease(s) of %llu "
					       "bytes in pool %s, its ledger holds %llu "
					       "of %llu", (unsigned long long)s->id,
					       (int)s->pid, s->comm,
					       (unsigned long long)s->mag[i].leases,
					       (unsigned long long)s->mag[i].bytes,
					       w->d->pools[i].cfg.name,
					       (unsigned long long)mag[i].leases,
					       (unsigned long long)mag[i].bytes);
		total += n;
	}
	if (total != w->owned)
		verify_problem(w->v, "%llu session lease(s) in the table, %llu on "
			       "the sessions' ledgers", (unsigned long long)w->owned,
			       (unsigned long long)total);
}

/* The daemon's list of persistent leases holds exactly the leases without
 * an owner. */
static void check_persistent(struct walk *w)
{
	uint64_t n = 0;

	for (const struct lease *l = w->d->persistent; l; l = l->lnext) {
		n++;
		if (l->owner || l->holder)
			verify_problem(w->v, "lease %llu: on the list of persistent "
				       "leases, but session %llu's",
				       (unsigned long long)l->id, (unsigned long long)
				       (l->holder ? l->holder->session : 0));
		if (lease_find(&w->d->leases, l->id) != l)
			verify_problem(w->v, "persistent lease %llu is not in the "
				       "lease table", (unsigned long long)l->id);
	}
	if (n != w->v->leases - w->owned)
		verify_problem(w->v, "%llu persistent lease(s) in the table, %llu "
			       "on the daemon's list",
			       (unsigned long long)(w->v->leases - w->owned),
			       (unsigned long long)n);
}

static void check_dcaches(struct walk *w)
{
	for (const struct dcache *dc = w->d->caches; dc; dc = dc->next) {
		uint64_t n = objects_in(w, dc->cache);

		if (n != dc->live)
			verify_problem(w->v, "cache %s: counts %llu live object(s), "
				       "leases hold %llu", kmem_cache_name(dc->cache),
				       (unsigned long long)dc->live,
				       (unsigned long long)n);
	}
}

static void check_leases(struct verify_run *v, struct kmemd *d)
{
	struct walk w = { .d = d, .v = v };
	size_t out_recs = 0, out_texts = 0;
	char msg[256];

	for (size_t i = 0; i < d->npools; i++) {
		w.t[i].uid_bytes = calloc(d->pools[i].nusage + 1, sizeof(uint64_t));
		if (!w.t[i].uid_bytes)
			v->nomem = true;
	}
	for (const struct orphan_set *o = d->orphans; o; o = o->next)
		for (const struct lease *l = o->leases; l; l = l->lnext) {
			out_recs++;
			out_texts += l->text;
		}
	if (lease_table_check(&d->leases, out_recs, out_texts, msg,
			      sizeof(msg)))
		verify_problem(v, "the lease table: %s", msg);
	lease_foreach(&d->leases, lease_one, &w);
	if (d->leases.count != v->leases)
		verify_problem(v, "the lease table counts %zu lease(s), it holds "
			       "%llu", d->leases.count,
			       (unsigned long long)v->leases);
	check_orphans(&w);
	check_overlaps(&w);
	if (w.n > 1)
		qsort(w.recs, w.n, sizeof(*w.recs), by_cache);
	for (size_t i = 0; i < d->npools; i++)
		check_pool_sums(&w, &d->pools[i]);
	check_dcaches(&w);
	check_sessions(&w);
	check_persistent(&w);
	for (size_t i = 0; i < d->npools; i++)
		free(w.t[i].uid_bytes);
	free(w.recs);
}

/* ------------------------------------------------------------ request */

static void reply(struct session *s, uint64_t seq, struct verify_run *v)
{
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__VerifyReply vr = KMEM__VERIFY_REPLY__INIT;
	char *last = NULL;

	/* The one slot kept past MAX_PROBLEMS says what is missing. */
	if (v->dropped && asprintf(&last, "... and %zu more problem(s) not "
				   "listed%s", v->dropped, v->nomem ? "; the "
				   "check is incomplete (out of memory)" : "") < 0)
		last = NULL;
	else if (!v->dropped && v->nomem)
		last = strdup("the daemon ran out of memory: the check is "
			      "incomplete");
	if (last)
		v->problems[v->n++] = last;
	vr.n_problems = v->n;
	vr.problems = v->problems;
	vr.pools = v->pools;
	vr.caches = v->caches;
	vr.leases = v->leases;
	r.seq = seq;
	r.body_case = KMEM__RESPONSE__BODY_VERIFY;
	r.verify = &vr;
	session_reply(s, &r);
}

void verify_request(struct session *s, uint64_t seq, const Kmem__Verify *m)
{
	struct kmemd *d = s->d;
	struct verify_run *v = calloc(1, sizeof(*v));

	(void)m;
	if (!v) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory");
		return;
	}
	/* Leases of ended sessions are in between: in the table and charged,
	 * on no session's ledger.  Finishing their reclaim first (it is
	 * O(them); Verify is O(all leases) anyway) checks the state every
	 * invariant below is written for, exactly. */
	leases_reap_all(d);
	d->verify = v;
	for (size_t i = 0; i < d->npools; i++)
		check_engine(v, &d->pools[i]);
	d->verify = NULL;
	d->gen++;		/* a scan may have counted damage */
	check_leases(v, d);
	reply(s, seq, v);
	for (size_t i = 0; i < v->n; i++)
		free(v->problems[i]);
	free(v);
}
