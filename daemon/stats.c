/*
 * stats.c - the one stats document.
 *
 * stats_build() makes one versioned JSON document of the whole daemon:
 * pools (backing, runs, arenas with their buddyinfo, fragmentation),
 * caches (the /proc/slabinfo 2.1 columns), sessions, named buffers,
 * request and error counters, and the request latency histogram.  The
 * Stats request, GET /stats and `kmemctl stats --json` serve this document;
 * stats_prometheus() renders the same numbers as Prometheus text.  A Stats
 * request may also ask for every lease one by one (stats_json_opts), which
 * is how `kmemctl leases` lists what a session holds.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kmemd.h"
#include "magazine.h"
#include "pools.h"
#include "stats.h"

#define STATS_VERSION 1

static const char *const req_names[REQ_NTYPES] = {
	"hello", "alloc", "free", "alloc_batch", "free_batch", "cache_create",
	"cache_alloc", "cache_free", "cache_destroy", "lookup", "detach",
	"stats", "ping", "debug", "verify", "invalid",
};

static const char *const status_names[12] = {
	"ok", "no_memory", "timeout", "invalid_argument", "not_found",
	"permission_denied", "quota_exceeded", "busy", "protocol_error",
	"constraint", "exists", "internal",
};

static json_t *u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *order_array(const uint64_t *v, unsigned n)
{
	json_t *a = json_array();

	for (unsigned k = 0; k <= n; k++)
		json_array_append_new(a, u64(v[k]));
	return a;
}

static json_t *index_array(const unsigned *v, unsigned n)
{
	json_t *a = json_array();

	for (unsigned k = 0; k <= n; k++)
		json_array_append_new(a, json_real(v[k] / 1000.0));
	return a;
}

static json_t *pool_runs(const struct kmem_backing *b)
{
	json_t *a = json_array();

	for (size_t i = 0; i < kmem_backing_nruns(b); i++) {
		struct kmem_backing_run r;

		kmem_backing_run(b, i, &r);
		json_array_append_new(a, json_pack("{s:o,s:o,s:o,s:i,s:s}",
			"offset", u64(r.offset), "length", u64(r.length),
			"phys", u64(r.phys), "node", r.node, "zone",
			(r.flags & KMEM_RUN_DMA32) ? "DMA32" :
			(r.flags & KMEM_RUN_NORMAL) ? "NORMAL" : "unknown"));
	}
	return a;
}

static json_t *pool_arenas(const struct kmem_heap *h)
{
	struct kmem_heap_stats hs;
	json_t *a = json_array();

	kmem_heap_stats(h, &hs);
	for (size_t i = 0; i < hs.narenas; i++) {
		struct kmem_arena_stats as;
		json_t *o;

		kmem_heap_arena_stats(h, i, &as);
		o = json_pack("{s:o,s:o,s:o,s:i,s:s,s:o,s:o}",
			      "base", u64(as.desc.base), "size", u64(as.desc.size),
			      "phys", u64(as.desc.phys), "node", as.desc.node,
			      "zone", (as.desc.flags & KMEM_ARENA_PHYS) ?
			      ((as.desc.flags & KMEM_ARENA_DMA32) ? "DMA32" : "NORMAL") :
			      "unknown",
			      "free_bytes", u64(as.free_bytes),
			      "largest_free", u64(as.largest_free));
		if (kmem_heap_policy(h) == KMEM_POLICY_BUDDY) {
			json_object_set_new(o, "buddyinfo",
				order_array(as.buddy.nr_free, as.buddy.max_order));
			json_object_set_new(o, "unusable_index",
				index_array(as.buddy.unusable_index, as.buddy.max_order));
		}
		json_array_append_new(a, o);
	}
	return a;
}

/* ["poison", "redzone"], or [] - the KMEM_CACHE_* debugging flags. */
static json_t *debug_array(unsigned flags)
{
	json_t *a = json_array();

	if (flags & KMEM_CACHE_POISON)
		json_array_append_new(a, json_string("poison"));
	if (flags & KMEM_CACHE_REDZONE)
		json_array_append_new(a, json_string("redzone"));
	return a;
}

/* The pool's debugging flags and what its caches found. */
static void pool_debug(json_t *o, const struct kmemd_pool *p)
{
	const struct kmem_heap *h = kmem_pool_heap(p->pool);
	uint64_t poison = 0, redzone = 0;
	struct kmem_cache *c;

	for (size_t k = 0; (c = kmem_heap_cache_at(h, k)); k++) {
		struct kmem_cache_stats cs;

		kmem_cache_stats(c, &cs);
		poison += cs.poison_errors;
		redzone += cs.redzone_errors;
	}
	json_object_set_new(o, "debug", debug_array(p->debug));
	json_object_set_new(o, "poison_errors", u64(poison));
	json_object_set_new(o, "redzone_errors", u64(redzone));
}

/* The client-magazine figures (magazine.c) into object o. */
static void magazine_json(json_t *o, const struct kmemd *d,
			  const struct session *s, const struct kmemd_pool *p)
{
	struct mag_acct m;

	magazine_totals(d, s, p, &m);
	json_object_set_new(o, "magazine_leases", u64(m.leases));
	json_object_set_new(o, "magazine_lease_bytes", u64(m.bytes));
	json_object_set_new(o, "magazine_objects", u64(m.idle));
	json_object_set_new(o, "magazine_bytes", u64(m.idle_bytes));
}

static json_t *pool_json(const struct kmemd_pool *p)
{
	struct kmem_pool_stats st;
	const struct kmem_backing_info *bi = &st.backing;
	json_t *o, *frag;
	unsigned maxo = 0;

	kmem_pool_stats(p->pool, &st);
	for (unsigned k = 0; k <= KMEM_BUDDY_MAX_ORDER; k++)
		if (st.heap.nr_free[k] || st.heap.unusable_index[k])
			maxo = k;
	frag = json_pack("{s:o}", "largest_free", u64(st.heap.largest_free));
	if (p->cfg.policy == KMEM_POLICY_BUDDY)
		json_object_set_new(frag, "unusable_index",
				    index_array(st.heap.unusable_index, maxo));
	o = json_pack("{s:s,s:s,s:s?,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
		"name", p->cfg.name,
		"backing", kmem_backing_kind_name(bi->kind),
		"path", bi->path,
		"page_size", u64(bi->page_size),
		"iova_mode", kmem_backing_iova_name(bi->iova),
		"policy", p->cfg.policy == KMEM_POLICY_VMEM ? "resource" : "buddy",
		"pages_total", u64(st.pages_total),
		"bytes_total", u64(st.heap.total_bytes),
		"bytes_free", u64(st.heap.free_bytes),
		"bytes_used", u64(st.heap.used_bytes),
		"bytes_leased", u64(p->bytes),
		"leases", u64(p->leases),
		"slab_bytes", u64(st.heap.slab_bytes),
		"meta_bytes", u64(st.heap.meta_bytes),
		"fragmentation", frag);
	json_object_set_new(o, "runs", pool_runs(kmem_pool_backing(p->pool)));
	json_object_set_new(o, "largest_run", u64(bi->largest_run));
	json_object_set_new(o, "arenas", pool_arenas(kmem_pool_heap(p->pool)));
	json_object_set_new(o, "quota", u64(p->cfg.quota));
	magazine_json(o, p->d, NULL, p);
	pool_debug(o, p);
	return o;
}

static json_t *caches_json(const struct kmemd *d)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->npools; i++) {
		const struct kmem_heap *h = kmem_pool_heap(d->pools[i].pool);
		struct kmem_cache *c;

		for (size_t k = 0; (c = kmem_heap_cache_at(h, k)); k++) {
			struct kmem_cache_stats cs;

			kmem_cache_stats(c, &cs);
			json_array_append_new(a, json_pack(
				"{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
				"s:o,s:o,s:o}",
				"name", cs.name, "pool", d->pools[i].cfg.name,
				"active_objs", u64(cs.active_objs),
				"num_objs", u64(cs.num_objs),
				"objsize", u64(cs.objsize),
				"objperslab", u64(cs.objperslab),
				"pagesperslab", u64(cs.pagesperslab),
				"active_slabs", u64(cs.active_slabs),
				"num_slabs", u64(cs.num_slabs),
				"full", u64(cs.full_slabs),
				"partial", u64(cs.partial_slabs),
				"empty", u64(cs.empty_slabs),
				"debug", debug_array(cs.flags),
				"poison_errors", u64(cs.poison_errors),
				"redzone_errors", u64(cs.redzone_errors)));
		}
	}
	return a;
}

static json_t *sessions_json(const struct kmemd *d)
{
	json_t *a = json_array();

	for (const struct session *s = d->sessions; s; s = s->next) {
		json_t *o = json_pack(
			"{s:o,s:i,s:i,s:i,s:s,s:s,s:o,s:o,s:i}",
			"id", u64(s->id), "pid", (int)s->pid, "uid", (int)s->uid,
			"gid", (int)s->gid, "comm", s->comm, "name", s->name,
			"leases", u64(s->nleases), "bytes", u64(s->bytes),
			"waiting", (int)s->waiting);

		if (o)
			magazine_json(o, d, s, NULL);
		json_array_append_new(a, o);
	}
	return a;
}

/* The daemon's own leases, oldest first: O(named), not O(leases). */
static json_t *named_json(const struct kmemd *d)
{
	const struct lease *l = d->persistent;
	json_t *a = json_array();

	while (l && l->lnext)
		l = l->lnext;
	for (; l; l = l->lprev)
		json_array_append_new(a, json_pack(
			"{s:s,s:o,s:s,s:o,s:o,s:i,s:i,s:b}",
			"name", l->name, "id", u64(l->id), "pool", l->pool->cfg.name,
			"offset", u64(l->buf.off), "length", u64(l->buf.len),
			"uid", (int)l->uid, "refs", (int)l->refs, "doomed", l->doomed));
	return a;
}

static json_t *counters_json(const struct kmemd *d)
{
	json_t *req = json_object(), *err = json_object(), *lat = json_array();

	for (int i = 0; i < REQ_NTYPES; i++)
		json_object_set_new(req, req_names[i], u64(d->ctr.requests[i]));
	for (int i = 1; i < 12; i++)
		json_object_set_new(err, status_names[i], u64(d->ctr.errors[i]));
	for (int b = 0; b <= LAT_BUCKETS; b++) {
		json_t *le = b < LAT_BUCKETS ? json_real((double)(1ull << b)) :
					       json_string("+Inf");

		json_array_append_new(lat, json_pack("{s:o,s:o}", "le_us", le,
						     "count", u64(d->ctr.latency[b])));
	}
	return json_pack("{s:o,s:o,s:{s:o,s:o}}", "requests", req, "errors", err,
			 "latency", "buckets", lat, "sum_ns",
			 u64(d->ctr.latency_sum_ns));
}

/*
 * The daemon's figures.  "leases" counts every lease in the table, those
 * of ended sessions still being reclaimed included (their memory is not
 * back yet: the pools' figures count them too); "leases_reclaiming" is how
 * many of them there are, "reclaim_slices" how many loop turns have freed
 * some (leases.c), "reclaim_ms" their time and "reclaim_slice_max_ms" the
 * longest (what the reclaim held other clients up for, at most).
 * "orphaned_leases" and "orphaned_bytes" are the leases of durable
 * sessions that were open when the last daemon died, kept for a resume
 * and not counted anywhere else (resume.c).
 */
static json_t *daemon_json(const struct kmemd *d)
{
	return json_pack("{s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
		"version", KMEMD_VERSION, "pid", (int)getpid(),
		"uptime_s", u64((kmemd_now_ns() - d->start_ns) / 1000000000ull),
		"sessions", u64(d->nsessions),
		"sessions_total", u64(d->ctr.sessions_total),
		"leases", u64(d->leases.count),
		"leases_reclaimed", u64(d->ctr.leases_reclaimed),
		"leases_reclaiming", u64(d->leases.reaping_leases),
		"sessions_reclaimed", u64(d->ctr.sessions_reclaimed),
		"reclaim_slices", u64(d->reaper.slices),
		"reclaim_ms", json_real((double)d->reaper.ns / 1e6),
		"reclaim_slice_max_ms", json_real((double)d->reaper.max_ns / 1e6),
		"orphaned_leases", u64(d->orphan_leases),
		"orphaned_bytes", u64(d->orphan_bytes));
}

json_t *stats_build(const struct kmemd *d)
{
	json_t *pools = json_array(), *doc;

	for (size_t i = 0; i < d->npools; i++)
		json_array_append_new(pools, pool_json(&d->pools[i]));
	doc = json_pack("{s:i,s:o,s:o,s:o,s:o,s:o}",
		"version", STATS_VERSION, "daemon", daemon_json(d),
		"pools", pools, "caches", caches_json(d),
		"sessions", sessions_json(d), "named", named_json(d));
	if (doc)
		json_object_update_new(doc, counters_json(d));
	return doc;
}

/* ------------------------------------------------------------ leases */

struct lease_list {
	const struct lease **v;
	size_t n, cap;
	bool failed;
};

static int list_one(struct lease *l, void *arg)
{
	struct lease_list *ll = arg;

	if (ll->n == ll->cap) {
		size_t cap = ll->cap ? 2 * ll->cap : 256;
		const struct lease **g = realloc(ll->v, cap * sizeof(*g));

		if (!g) {
			ll->failed = true;
			return 1;
		}
		ll->v = g;
		ll->cap = cap;
	}
	ll->v[ll->n++] = l;
	return 0;
}

static int by_id(const void *x, const void *y)
{
	uint64_t a = (*(const struct lease *const *)x)->id;
	uint64_t b = (*(const struct lease *const *)y)->id;

	return a < b ? -1 : a > b;
}

static json_t *lease_json(const struct lease *l, uint64_t now)
{
	static const char *const kinds[] = { "buffer", "object", "kmalloc" };
	const struct lease_holder *h = l->holder;
	json_t *o = json_pack("{s:o,s:o,s:i,s:s,s:i,s:s,s:s,s:o,s:o,s:o,s:s,s:s,"
			      "s:o}",
		"id", u64(l->id), "session", h ? u64(h->session) : json_null(),
		"pid", h ? (int)h->pid : 0, "comm", h ? h->comm : "",
		"uid", (int)l->uid, "pool", l->pool->cfg.name,
		"kind", kinds[l->kind], "offset", u64(l->buf.off),
		"length", u64(l->buf.len), "requested", u64(l->requested),
		"tag", l->tag, "name", l->name,
		"age_s", json_real((double)(now - l->created_ns) / 1e9));

	if (o && l->kind == LEASE_OBJ)
		json_object_set_new(o, "cache",
				    json_string(kmem_cache_name(l->dcache->cache)));
	/* Granted to a client magazine: it may sit idle there, not leaked. */
	if (o)
		json_object_set_new(o, "magazine", json_boolean(l->magazine));
	return o;
}

/* "leases": the selected leases, oldest first, at most STATS_LEASES_MAX;
 * "leases_matched": how many there were (not counting those of ended
 * sessions being reclaimed).  -1 on ENOMEM. */
static int add_leases(json_t *doc, const struct kmemd *d, pid_t pid)
{
	struct lease_list ll = { 0 };
	uint64_t now = kmemd_now_ns();
	json_t *a = json_array();

	if (!pid)
		lease_foreach(&d->leases, list_one, &ll);
	for (const struct session *s = d->sessions; pid && s; s = s->next) {
		if (s->pid != pid)
			continue;
		for (struct lease *l = s->ledger; l && !ll.failed; l = l->lnext)
			list_one(l, &ll);
	}
	if (ll.failed || !a) {
		free(ll.v);
		json_decref(a);
		return -1;
	}
	if (ll.n > 1)
		qsort(ll.v, ll.n, sizeof(*ll.v), by_id);
	for (size_t i = 0; i < ll.n && i < STATS_LEASES_MAX; i++)
		json_array_append_new(a, lease_json(ll.v[i], now));
	json_object_set_new(doc, "leases", a);
	json_object_set_new(doc, "leases_matched", u64(ll.n));
	free(ll.v);
	return 0;
}

char *stats_json_opts(const struct kmemd *d, const struct stats_opts *o)
{
	json_t *doc = stats_build(d);
	char *text = NULL;

	if (doc && (!o || !o->leases || add_leases(doc, d, o->pid) == 0))
		text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return text;
}

char *stats_json(const struct kmemd *d)
{
	return stats_json_opts(d, NULL);
}

/* ------------------------------------------------------------ prometheus */

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		char *q = realloc(b->p, b->cap * 2 + (size_t)n);

		if (!q) {
			b->failed = true;
			return;
		}
		b->p = q;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

static void metric(struct buf *b, const char *name, const char *type,
		   const char *help)
{
	put(b, "# HELP kmemd_%s %s\n# TYPE kmemd_%s %s\n", name, help, name, type);
}

static void prom_pools(struct buf *b, const struct kmemd *d)
{
	static const struct { const char *name, *help; } g[] = {
		{ "pool_size_bytes", "Bytes in the pool." },
		{ "pool_free_bytes", "Bytes free in the pool's allocators." },
		{ "pool_used_bytes", "Bytes allocated (leases, slabs)." },
		{ "pool_largest_free_bytes", "Largest free contiguous block." },
		{ "pool_leases", "Live leases in the pool." },
		{ "pool_magazine_lease_bytes", "Bytes of live leases granted "
		  "to client magazines (idle there or handed out since)." },
		{ "pool_magazine_bytes", "Bytes idle in client magazines, as "
		  "the clients reported at their last refill or drain." },
	};

	for (size_t m = 0; m < 7; m++) {
		metric(b, g[m].name, "gauge", g[m].help);
		for (size_t i = 0; i < d->npools; i++) {
			struct kmem_heap_stats hs;
			struct mag_acct mg;
			uint64_t v[7];

			kmem_heap_stats(kmem_pool_heap(d->pools[i].pool), &hs);
			magazine_totals(d, NULL, &d->pools[i], &mg);
			v[5] = mg.bytes;
			v[6] = mg.idle_bytes;
			v[0] = hs.total_bytes;
			v[1] = hs.free_bytes;
			v[2] = hs.used_bytes;
			v[3] = hs.largest_free;
			v[4] = d->pools[i].leases;
			put(b, "kmemd_%s{pool=\"%s\"} %llu\n", g[m].name,
			    d->pools[i].cfg.name, (unsigned long long)v[m]);
		}
	}
	metric(b, "pool_free_blocks", "gauge",
	       "Free buddy blocks per order (the buddyinfo row).");
	for (size_t i = 0; i < d->npools; i++) {
		struct kmem_heap_stats hs;

		if (d->pools[i].cfg.policy != KMEM_POLICY_BUDDY)
			continue;
		kmem_heap_stats(kmem_pool_heap(d->pools[i].pool), &hs);
		for (unsigned k = 0; k <= KMEM_BUDDY_MAX_ORDER; k++)
			if (hs.nr_free[k])
				put(b, "kmemd_pool_free_blocks{pool=\"%s\",order=\"%u\"} %llu\n",
				    d->pools[i].cfg.name, k,
				    (unsigned long long)hs.nr_free[k]);
	}
}

static void prom_caches(struct buf *b, const struct kmemd *d)
{
	static const struct { const char *name, *type, *help; } fam[] = {
		{ "cache_active_objects", "gauge",
		  "Objects allocated from the cache." },
		{ "cache_objects", "gauge", "Objects in the cache's slabs." },
		{ "cache_slabs", "gauge", "Slabs of the cache." },
		{ "cache_poison_errors_total", "counter",
		  "Freed objects found written (poisoning caches)." },
		{ "cache_redzone_errors_total", "counter",
		  "Objects found with a damaged red zone." },
	};

	/* One family at a time: the text format wants each family's
	 * samples together, after its HELP and TYPE. */
	for (size_t f = 0; f < 5; f++) {
		metric(b, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < d->npools; i++) {
			const struct kmem_heap *h = kmem_pool_heap(d->pools[i].pool);
			struct kmem_cache *c;

			for (size_t k = 0; (c = kmem_heap_cache_at(h, k)); k++) {
				struct kmem_cache_stats cs;
				uint64_t v[5];

				kmem_cache_stats(c, &cs);
				v[0] = cs.active_objs;
				v[1] = cs.num_objs;
				v[2] = cs.num_slabs;
				v[3] = cs.poison_errors;
				v[4] = cs.redzone_errors;
				put(b, "kmemd_%s{pool=\"%s\",cache=\"%s\"} %llu\n",
				    fam[f].name, d->pools[i].cfg.name, cs.name,
				    (unsigned long long)v[f]);
			}
		}
	}
}

static void prom_counters(struct buf *b, const struct kmemd *d)
{
	uint64_t total = 0;

	metric(b, "sessions", "gauge", "Connected client sessions.");
	put(b, "kmemd_sessions %zu\n", d->nsessions);
	metric(b, "leases", "gauge", "Live leases (those being reclaimed "
	       "included).");
	put(b, "kmemd_leases %zu\n", d->leases.count);
	metric(b, "leases_reclaiming", "gauge", "Leases of ended sessions not "
	       "freed yet (freed a slice per loop turn).");
	put(b, "kmemd_leases_reclaiming %llu\n",
	    (unsigned long long)d->leases.reaping_leases);
	metric(b, "orphaned_leases", "gauge", "Leases of durable sessions "
	       "waiting for their client to resume after a restart.");
	put(b, "kmemd_orphaned_leases %llu\n",
	    (unsigned long long)d->orphan_leases);
	metric(b, "requests_total", "counter", "Requests by type.");
	for (int i = 0; i < REQ_NTYPES; i++)
		put(b, "kmemd_requests_total{type=\"%s\"} %llu\n", req_names[i],
		    (unsigned long long)d->ctr.requests[i]);
	metric(b, "errors_total", "counter", "Error responses by status.");
	for (int i = 1; i < 12; i++)
		put(b, "kmemd_errors_total{status=\"%s\"} %llu\n", status_names[i],
		    (unsigned long long)d->ctr.errors[i]);
	metric(b, "request_duration_seconds", "histogram",
	       "Time to handle a request in the daemon.");
	for (int k = 0; k <= LAT_BUCKETS; k++) {
		total += d->ctr.latency[k];
		if (k < LAT_BUCKETS)
			put(b, "kmemd_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    (double)(1ull << k) * 1e-6, (unsigned long long)total);
		else
			put(b, "kmemd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)total);
	}
	put(b, "kmemd_request_duration_seconds_sum %g\n",
	    (double)d->ctr.latency_sum_ns * 1e-9);
	put(b, "kmemd_request_duration_seconds_count %llu\n", (unsigned long long)total);
}

char *stats_prometheus(const struct kmemd *d)
{
	struct buf b = { .p = malloc(4096), .cap = 4096 };

	if (!b.p)
		return NULL;
	prom_pools(&b, d);
	prom_caches(&b, d);
	prom_counters(&b, d);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
