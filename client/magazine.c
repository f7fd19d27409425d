/*
 * magazine.c - libkmem's magazines: small objects without a round trip.
 *
 * Bonwick & Adams (2001) put a magazine of objects in front of each CPU so
 * that most allocations never reach the slab layer's lock.  Here the
 * "depot" is kmemd, one system call away, and the magazine lives in the
 * client: per connection, one magazine per kmalloc size class (8 B to
 * 8 KiB, the classes of lib/heap.c) and one per named cache this client
 * allocates from.  An object in a magazine is already a lease of the
 * session in the daemon, so a crash gives it back and every daemon figure
 * stays exact; the daemon is merely told, at each exchange, how much sits
 * idle here (proto/kmem.proto, "Client magazines").
 *
 * The mechanism:
 *   - alloc pops the top object of its class's magazine; free pushes it
 *     back.  Both hold the connection mutex (internal.h: one inline atomic
 *     each way, none while the process has a single thread) and make no
 *     system call; the fast paths save no registers and leave anything
 *     unusual to out-of-line slow paths.
 *   - An empty magazine is refilled with one AllocBatch (CacheAlloc for a
 *     named cache) of depth/2 objects; one holding more than depth is
 *     drained with one FreeBatch down to depth/2, giving back the coldest
 *     (bottom) objects.  After any exchange a magazine holds depth/2, so
 *     the next exchange is at least depth/2 operations away: the
 *     hysteresis of Bonwick's loaded and previous magazines in one array.
 *   - depth starts at MAG_DEPTH_MIN and doubles when an exchange is needed
 *     within MAG_GROW_NS of the previous one: the daemon is being visited
 *     too often for this rate (Bonwick grows the magazine size when the
 *     depot lock is contended; the round trip is our contention).  It
 *     never grows beyond MAG_DEPTH_MAX objects or MAG_BYTES_MAX bytes, so
 *     one client cannot hoard the pool; a refill the daemon refuses for
 *     want of memory or quota gives every idle object back, resets every
 *     depth to the minimum and retries for just what is needed.
 *   - Every id granted to a magazine has a slot in an open-addressing hash
 *     (linear probing on the id's low bits, backward-shift deletion, load
 *     <= 1/2) with its offset, physical address, magazine and state: IDLE
 *     in the magazine or OUT with the application.  So a free by id finds
 *     its magazine, a double free is refused (KMEM_ENOENT) instead of
 *     reaching the daemon while the object still sits in a magazine, and a
 *     batch free can sort magazine objects from the rest.  A magazine's
 *     rounds are slot indices, and an IDLE slot knows its round (pos), so
 *     alloc needs no lookup and a slot that moves takes its round along.
 *     An id leaves the hash when it goes back to the daemon.
 *
 * Invariants: an IDLE slot is round pos of its magazine and that round is
 * it; an OUT or PENDING slot is in no round; g->n <= g->cap; the hash
 * holds exactly the ids granted to magazines and not yet given back, and
 * g->taken - g->given - g->n of them are OUT.  Costs: alloc and free O(1)
 * expected; an exchange O(objects moved + magazines + rounds held).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#include "magazine_impl.h"

/* lib/heap.c's kmem_size_classes.  If the daemon's classes ever differed,
 * nothing breaks: a refill asks for the class size and the LeaseBatch's
 * length says what each object really is. */
static const uint32_t mag_classes[MAG_NCLASS] = {
	8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* ------------------------------------------------------------ magazines */

static void mag_init(struct mag *g, uint64_t size, const char *name, bool cache)
{
	memset(g, 0, sizeof(*g));
	g->depth = MAG_DEPTH_MIN;
	g->depth_max = MAG_DEPTH_MAX;
	g->size = size;
	g->cache = cache;
	snprintf(g->name, sizeof(g->name), "%s", name);
}

int kmem__mag_create(struct kmem_client *c)
{
	struct kmem_mags *m = calloc(1, sizeof(*m));
	unsigned k = 0;

	if (!m)
		return KMEM_ENOMETA;
	m->capmags = MAG_NCLASS + 4;
	m->v = calloc(m->capmags, sizeof(*m->v));
	m->tab = calloc(256, sizeof(*m->tab));
	if (!m->v || !m->tab) {
		free(m->v);
		free(m->tab);
		free(m);
		return KMEM_ENOMETA;
	}
	m->mask = 255;
	for (unsigned i = 0; i < MAG_NCLASS; i++) {
		char name[MAG_NAME_MAX];

		if (mag_classes[i] >= 1024)
			snprintf(name, sizeof(name), "kmalloc-%uk", mag_classes[i] / 1024);
		else
			snprintf(name, sizeof(name), "kmalloc-%u", mag_classes[i]);
		mag_init(&m->v[i], mag_classes[i], name, false);
	}
	m->nmags = MAG_NCLASS;
	for (unsigned s = 0; s <= MAG_MAX_SIZE / 8; s++) {
		while (mag_classes[k] < s * 8)
			k++;
		m->cls[s] = (uint8_t)k;
	}
	c->mags = m;
	return 0;
}

void kmem__mag_destroy(struct kmem_client *c)
{
	struct kmem_mags *m = c->mags;

	if (!m)
		return;
	for (size_t i = 0; i < m->nmags; i++)
		free(m->v[i].r);
	free(m->v);
	free(m->tab);
	free(m);
	c->mags = NULL;
}

/* Room for n rounds in g.  0 or KMEM_ENOMETA. */
static int mag_room(struct mag *g, uint32_t n)
{
	uint32_t cap = g->cap ? g->cap : MAG_DEPTH_MIN;
	uint32_t *r;

	if (n <= g->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	r = realloc(g->r, cap * sizeof(*r));
	if (!r)
		return KMEM_ENOMETA;
	g->r = r;
	g->cap = cap;
	return 0;
}

/* An exchange is needed now: grow depth if the last one was recent. */
static void mag_adapt(struct mag *g)
{
	uint64_t t = now_ns();

	if (g->last_ns && t - g->last_ns < MAG_GROW_NS && g->depth < g->depth_max)
		g->depth = g->depth * 2 < g->depth_max ? g->depth * 2 : g->depth_max;
	g->last_ns = t;
}

/*
 * The idle figures by pool for a magazine request, leaving out the
 * `moving` objects of magazine skip that the request takes away.
 */
static void mag_report(const struct kmem_client *c, size_t skip,
		       uint32_t moving, uint64_t *objs, uint64_t *bytes)
{
	const struct kmem_mags *m = c->mags;

	memset(objs, 0, c->npools * sizeof(*objs));
	memset(bytes, 0, c->npools * sizeof(*bytes));
	for (size_t i = 0; i < m->nmags; i++) {
		const struct mag *g = &m->v[i];
		uint64_t n = g->n - (i == skip ? moving : 0);

		if (n && g->pool < c->npools) {
			objs[g->pool] += n;
			bytes[g->pool] += n * g->len;
		}
	}
}

/* Give the k bottom (coldest) objects of magazine gi back in one
 * FreeBatch.  0 or an error (then nothing changed). */
static int drain_once(struct kmem_client *c, size_t gi, uint32_t k)
{
	struct kmem_mags *m = c->mags;
	struct mag *g = &m->v[gi];
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__FreeBatch fb = KMEM__FREE_BATCH__INIT;
	uint64_t objs[MAX_POOLS], bytes[MAX_POOLS], *ids = malloc(k * sizeof(*ids));
	int rc;

	if (!ids)
		return kmem__client_fail(c, KMEM_ENOMETA, "out of memory");
	for (uint32_t i = 0; i < k; i++)
		ids[i] = m->tab[g->r[i]].id;
	mag_report(c, gi, k, objs, bytes);
	kmem__req_ids(&q, &fb, NULL, false, ids, k);
	fb.magazine = true;
	fb.n_magazine_objects = fb.n_magazine_bytes = c->npools;
	fb.magazine_objects = objs;
	fb.magazine_bytes = bytes;
	rc = kmem__client_call(c, &q, NULL);
	if (rc) {
		free(ids);
		return rc;
	}
	for (uint32_t i = 0; i < k; i++)
		kmem__slot_del(m, kmem__slot_find(m, ids[i]));
	free(ids);
	memmove(g->r, g->r + k, (g->n - k) * sizeof(*g->r));
	g->n -= k;
	for (uint32_t i = 0; i < g->n; i++)
		m->tab[g->r[i]].pos = i;
	g->given += k;
	g->drains++;
	return 0;
}

/* Give the k coldest objects of magazine gi back, in FreeBatches of at
 * most MAG_DRAIN_MAX ids (a batch free can leave more than a magazine's
 * depth here).  0 or the first error. */
static int mag_drain(struct kmem_client *c, size_t gi, uint32_t k)
{
	int rc = 0;

	while (k && !rc) {
		uint32_t n = k < MAG_DRAIN_MAX ? k : MAG_DRAIN_MAX;

		rc = drain_once(c, gi, n);
		k -= n;
	}
	return rc;
}

/* Take the objects of a LeaseBatch into magazine gi (room reserved). */
static int mag_take(struct kmem_client *c, size_t gi, const Kmem__LeaseBatch *lb,
		    uint32_t k)
{
	struct kmem_mags *m = c->mags;
	struct mag *g = &m->v[gi];
	/* A magazine with no object here or out learns its objects anew: a
	 * cache can only be destroyed and made again with another size when
	 * none of its objects is live. */
	bool fresh = g->n == 0 && g->taken == g->given;

	if (lb->pool_index >= c->npools || lb->n_ids != k || lb->n_offsets != k ||
	    lb->n_phys != k || lb->length < (g->cache ? 1 : g->size) ||
	    (!fresh && (lb->length != g->len || lb->pool_index != g->pool)))
		return kmem__client_fail(c, KMEM_EPROTO, "malformed LeaseBatch");
	for (uint32_t i = 0; i < k; i++)
		if (!lb->ids[i] || lb->offsets[i] + lb->length > c->pools[lb->pool_index].size ||
		    kmem__slot_find(m, lb->ids[i]))
			return kmem__client_fail(c, KMEM_EPROTO, "bad lease in a LeaseBatch");
	if (fresh) {
		uint64_t cap = MAG_BYTES_MAX / lb->length;

		g->len = lb->length;
		g->pool = lb->pool_index;
		g->base = c->pools[g->pool].base;
		g->depth_max = cap > MAG_DEPTH_MAX ? MAG_DEPTH_MAX : cap ? (uint32_t)cap : 1;
		if (g->depth > g->depth_max)
			g->depth = g->depth_max;
	}
	for (uint32_t i = 0; i < k; i++) {
		uint32_t at = kmem__slot_put(m, lb->ids[i], lb->offsets[i], lb->phys[i],
				       (uint16_t)gi);

		m->tab[at].pos = g->n;
		g->r[g->n++] = at;
	}
	g->taken += k;
	g->refills++;
	return 0;
}

/* One refill round trip of k objects into magazine gi. */
static int mag_fetch(struct kmem_client *c, size_t gi, uint32_t k)
{
	struct kmem_mags *m = c->mags;
	struct mag *g = &m->v[gi];
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__AllocBatch ab = KMEM__ALLOC_BATCH__INIT;
	Kmem__CacheAlloc ca = KMEM__CACHE_ALLOC__INIT;
	uint64_t objs[MAX_POOLS], bytes[MAX_POOLS];
	Kmem__Response *r;
	int rc = mag_room(g, g->n + k);

	if (!rc)
		rc = kmem__slot_reserve(m, k);
	if (rc)
		return kmem__client_fail(c, rc, "out of memory");
	mag_report(c, SIZE_MAX, 0, objs, bytes);
	if (g->cache) {
		ca.cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
		ca.name = g->name;
		ca.count = k;
		ca.magazine = true;
		ca.n_magazine_objects = ca.n_magazine_bytes = c->npools;
		ca.magazine_objects = objs;
		ca.magazine_bytes = bytes;
		q.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
		q.cache_alloc = &ca;
	} else {
		ab.pool = (char *)"";
		ab.size = g->size;
		ab.count = k;
		ab.magazine = true;
		ab.n_magazine_objects = ab.n_magazine_bytes = c->npools;
		ab.magazine_objects = objs;
		ab.magazine_bytes = bytes;
		q.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
		q.alloc_batch = &ab;
	}
	rc = kmem__client_call(c, &q, &r);
	if (rc)
		return rc;
	if (r->body_case != KMEM__RESPONSE__BODY_LEASE_BATCH)
		rc = kmem__client_fail(c, KMEM_EPROTO, "expected a LeaseBatch");
	else
		rc = mag_take(c, gi, r->lease_batch, k);
	kmem_frame_free_response(r, NULL);
	return rc;
}

/* Under pressure: every idle object goes back, every depth to the
 * minimum.  Best effort (a failed drain keeps its objects). */
static void mag_reap(struct kmem_client *c)
{
	struct kmem_mags *m = c->mags;

	for (size_t i = 0; i < m->nmags; i++) {
		m->v[i].depth = m->v[i].depth < MAG_DEPTH_MIN ? m->v[i].depth :
				MAG_DEPTH_MIN;
		mag_drain(c, i, m->v[i].n);
	}
}

/*
 * The daemon refused a refill of magazine gi with BUSY: the pool or cache
 * is being debugged (poison, red zones), and objects idle here would
 * escape its checks.  The magazine goes off for the rest of the
 * connection: its idle objects go back now, depth 0 sends each object the
 * application frees straight back, and allocations pass to plain
 * requests.
 */
static void mag_off(struct kmem_client *c, size_t gi)
{
	struct mag *g = &c->mags->v[gi];

	g->off = true;
	g->depth = g->depth_max = 0;
	mag_drain(c, gi, g->n);
}

/* Refill magazine gi so that it holds at least want objects. */
static int mag_refill(struct kmem_client *c, size_t gi, uint32_t want)
{
	struct mag *g = &c->mags->v[gi];
	uint32_t target;
	int rc;

	mag_adapt(g);
	target = g->depth / 2 > want ? g->depth / 2 : want;
	rc = mag_fetch(c, gi, target - g->n);
	if (rc == KMEM_EBUSY) {
		mag_off(c, gi);
		return KMEM__MAG_PASS;
	}
	if (rc != KMEM_ENOMEM && rc != KMEM_EQUOTA)
		return rc;
	/* The pool is short: stop hoarding, then ask for just enough. */
	mag_reap(c);
	g = &c->mags->v[gi];
	return g->n >= want ? 0 : mag_fetch(c, gi, want - g->n);
}

/* Object e of magazine g into a kmem_buf. */
static void mag_buf(const struct mag *g, const struct slot *e,
		    struct kmem_buf *b)
{
	*b = (struct kmem_buf){
		.ptr = g->base + e->offset, .len = g->len,
		.phys = e->phys, .id = e->id, .offset = e->offset,
		.pool = g->pool, .nsegs = 1,
	};
}

/* Pop the top object of magazine g (non-empty) into b. */
static inline void mag_pop(struct kmem_client *c, struct mag *g,
			   struct kmem_buf *b)
{
	struct slot *e = &c->mags->tab[g->r[--g->n]];

	e->state = ST_OUT;
	mag_buf(g, e, b);
}

/* Push the object of slot e (OUT) onto its magazine g (room made). */
static inline void mag_push(struct kmem_mags *m, struct mag *g, struct slot *e)
{
	e->pos = g->n;
	e->state = ST_IDLE;
	g->r[g->n++] = (uint32_t)(e - m->tab);
}

/* ------------------------------------------------------------ alloc/free */

/* Default options, with at most KMEM_ZERO: what a magazine can serve. */
static bool plain(const struct kmem_alloc_opts *o)
{
	return !o || ((!o->pool || !*o->pool) && !o->align &&
		      !(o->flags & ~KMEM_ZERO) && o->node < 0 && !o->dma_mask &&
		      !o->boundary && !o->name && !o->tag && !o->persist &&
		      !o->timeout_ms);
}

/* kmem__mag_alloc with options or an empty magazine. */
static __attribute__((noinline)) int
alloc_slow(struct kmem_client *c, size_t gi, const struct kmem_alloc_opts *opts,
	   struct kmem_buf *out)
{
	struct mag *g = &c->mags->v[gi];
	int rc;

	if (!plain(opts) || g->off)
		return KMEM__MAG_PASS;
	if (g->n == 0) {
		rc = mag_refill(c, gi, 1);
		if (rc)
			return rc;
		g = &c->mags->v[gi];
	}
	mag_pop(c, g, out);
	if (opts && (opts->flags & KMEM_ZERO))
		memset(out->ptr, 0, out->len);
	return 0;
}

/* The fast path saves no registers: anything unusual is a tail call. */
int kmem__mag_alloc(struct kmem_client *c, uint64_t size,
		    const struct kmem_alloc_opts *opts, struct kmem_buf *out)
{
	struct kmem_mags *m = c->mags;
	size_t gi;
	struct mag *g;

	if (!m || size - 1 >= MAG_MAX_SIZE)
		return KMEM__MAG_PASS;
	gi = m->cls[(size + 7) >> 3];
	g = &m->v[gi];
	if (__builtin_expect(opts != NULL || g->n == 0, 0))
		return alloc_slow(c, gi, opts, out);
	mag_pop(c, g, out);
	return 0;
}

/* After objects came back to magazine gi: drain it if it is over its
 * depth.  Best effort: if the drain fails the objects stay idle here,
 * still leases of the session, and the next exchange tries again. */
static void mag_settle(struct kmem_client *c, size_t gi)
{
	struct mag *g = &c->mags->v[gi];

	if (g->n <= g->depth)
		return;
	mag_adapt(g);
	if (g->n > g->depth)
		mag_drain(c, gi, g->n - g->depth / 2);
}

/* kmem__mag_free of an object that is not OUT, or whose magazine is
 * full. */
static __attribute__((noinline)) int free_slow(struct kmem_client *c,
					       struct slot *e)
{
	struct kmem_mags *m = c->mags;
	struct mag *g = &m->v[e->mag];

	if (e->state != ST_OUT)
		return kmem__client_fail(c, KMEM_ENOENT, "lease %llu is free already "
					 "(it sits in libkmem's magazine)",
					 (unsigned long long)e->id);
	if (mag_room(g, g->n + 1))
		return kmem__client_fail(c, KMEM_ENOMETA, "out of memory");
	mag_push(m, g, e);
	mag_settle(c, e->mag);
	return 0;
}

/* The object of slot e back to its magazine. */
static inline int free_slot(struct kmem_client *c, struct slot *e)
{
	struct kmem_mags *m = c->mags;
	struct mag *g = &m->v[e->mag];

	if (__builtin_expect(e->state != ST_OUT || g->n >= g->depth ||
			     g->n >= g->cap, 0))
		return free_slow(c, e);
	mag_push(m, g, e);
	return 0;
}

int kmem__mag_free(struct kmem_client *c, uint64_t id)
{
	struct kmem_mags *m = c->mags;
	struct slot *e;

	if (!m || !(e = kmem__slot_find(m, id)))
		return KMEM__MAG_PASS;
	return free_slot(c, e);
}

/* Undo the PENDING marks of ids[0..n). */
static void unmark(struct kmem_mags *m, const uint64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct slot *e = kmem__slot_find(m, ids[i]);

		if (e && e->state == ST_PENDING) {
			e->state = ST_OUT;
			m->v[e->mag].pending = 0;
		}
	}
}

/*
 * Phase 1 of a batch free: mark every magazine id PENDING and reserve its
 * magazine's room; the others go to rest[*nrest].  0, or an error with
 * nothing changed.
 */
static int mark(struct kmem_client *c, bool cache, const uint64_t *ids,
		size_t n, uint64_t *rest, size_t *nrest)
{
	struct kmem_mags *m = c->mags;
	size_t i;
	int rc = 0;

	*nrest = 0;
	for (i = 0; i < n && !rc; i++) {
		struct slot *e = kmem__slot_find(m, ids[i]);

		if (!e)
			rest[(*nrest)++] = ids[i];
		else if (e->state == ST_IDLE)
			rc = kmem__client_fail(c, KMEM_ENOENT, "lease %llu is free "
					       "already (it sits in libkmem's "
					       "magazine)", (unsigned long long)ids[i]);
		else if (e->state == ST_PENDING)
			rc = kmem__client_fail(c, KMEM_EINVAL, "lease %llu appears "
					       "twice in the batch",
					       (unsigned long long)ids[i]);
		else if (cache && !m->v[e->mag].cache)
			rc = kmem__client_fail(c, KMEM_EINVAL, "lease %llu is not a "
					       "cache object", (unsigned long long)ids[i]);
		else {
			e->state = ST_PENDING;
			m->v[e->mag].pending++;
		}
	}
	for (size_t k = 0; k < m->nmags && !rc; k++)
		if (m->v[k].pending &&
		    mag_room(&m->v[k], m->v[k].n + m->v[k].pending))
			rc = kmem__client_fail(c, KMEM_ENOMETA, "out of memory");
	if (rc)
		unmark(m, ids, i);
	return rc;
}

/* The ids that belong to no magazine, in one FreeBatch or CacheFree. */
static int free_rest(struct kmem_client *c, bool cache, uint64_t *ids, size_t n)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__FreeBatch fb = KMEM__FREE_BATCH__INIT;
	Kmem__CacheFree cf = KMEM__CACHE_FREE__INIT;

	kmem__req_ids(&q, &fb, &cf, cache, ids, n);
	return kmem__client_call(c, &q, NULL);
}

/* A CacheFree or FreeBatch of one id: kmem__mag_free's path. */
static int free_one(struct kmem_client *c, bool cache, uint64_t id)
{
	struct kmem_mags *m = c->mags;
	struct slot *e = kmem__slot_find(m, id);

	if (!e)
		return KMEM__MAG_PASS;
	if (cache && !m->v[e->mag].cache)
		return kmem__client_fail(c, KMEM_EINVAL, "lease %llu is not a cache "
					 "object", (unsigned long long)id);
	return free_slot(c, e);
}

int kmem__mag_free_ids(struct kmem_client *c, bool cache, const uint64_t *ids,
		       size_t n)
{
	struct kmem_mags *m = c->mags;
	uint64_t small[MAG_BATCH_STACK], *rest = small;
	size_t nrest;
	int rc;

	if (!m || n == 0 || !m->used)
		return KMEM__MAG_PASS;
	if (n == 1)
		return free_one(c, cache, ids[0]);
	if (n > MAG_BATCH_STACK && !(rest = malloc(n * sizeof(*rest))))
		return kmem__client_fail(c, KMEM_ENOMETA, "out of memory");
	rc = mark(c, cache, ids, n, rest, &nrest);
	/* All or nothing: the daemon's part first, the magazines' after. */
	if (!rc && nrest && nrest < n)
		rc = free_rest(c, cache, rest, nrest);
	if (rest != small)
		free(rest);
	if (!rc && nrest == n)
		return KMEM__MAG_PASS;
	if (rc) {
		unmark(m, ids, n);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct slot *e = kmem__slot_find(m, ids[i]);

		if (e && e->state == ST_PENDING) {
			e->state = ST_OUT;
			mag_push(m, &m->v[e->mag], e);
		}
	}
	/* Only the magazines this batch touched can be over their depth. */
	for (size_t k = 0; k < m->nmags; k++)
		if (m->v[k].pending) {
			m->v[k].pending = 0;
			mag_settle(c, k);
		}
	return 0;
}

/* ------------------------------------------------------------ caches */

/* The magazine of cache name, made if absent; SIZE_MAX when none can be
 * made (out of memory, or as many as a slot can name). */
static size_t cache_mag(struct kmem_client *c, const char *name)
{
	struct kmem_mags *m = c->mags;

	for (size_t i = MAG_NCLASS; i < m->nmags; i++)
		if (!strcmp(m->v[i].name, name))
			return i;
	if (m->nmags == UINT16_MAX)
		return SIZE_MAX;
	if (m->nmags == m->capmags) {
		struct mag *v = realloc(m->v, 2 * m->capmags * sizeof(*v));

		if (!v)
			return SIZE_MAX;
		m->v = v;
		m->capmags *= 2;
	}
	mag_init(&m->v[m->nmags], 0, name, true);
	return m->nmags++;
}

int kmem__mag_cache_alloc(struct kmem_client *c, const char *name,
			  uint32_t count, struct kmem_buf *out)
{
	struct kmem_mags *m = c->mags;
	size_t gi;
	struct mag *g;
	int rc = 0;

	if (!m || !name || !*name || strlen(name) >= MAG_NAME_MAX ||
	    count == 0 || count > MAG_DEPTH_MAX)
		return KMEM__MAG_PASS;
	gi = cache_mag(c, name);
	if (gi == SIZE_MAX)
		return KMEM__MAG_PASS;
	g = &m->v[gi];
	if (g->off || count > g->depth_max)
		return KMEM__MAG_PASS;
	if (g->n < count)
		rc = mag_refill(c, gi, count);
	g = &m->v[gi];
	/* A magazine just made for a name the daemon refused goes again
	 * (it is the last one, so no index moves); one turned off stays,
	 * to remember. */
	if (rc && !g->off && !g->len && gi == m->nmags - 1) {
		free(g->r);
		m->nmags--;
	}
	for (uint32_t i = 0; !rc && i < count; i++)
		mag_pop(c, g, &out[i]);
	return rc;
}

int kmem__mag_cache_drain(struct kmem_client *c, const char *name)
{
	struct kmem_mags *m = c->mags;

	for (size_t i = MAG_NCLASS; m && name && i < m->nmags; i++)
		if (!strcmp(m->v[i].name, name))
			return mag_drain(c, i, m->v[i].n);
	return 0;
}

/* ------------------------------------------------------------ public */

int kmem_client_magazine_info(struct kmem_client *c, size_t i,
			      struct kmem_magazine_info *info)
{
	const struct mag *g;

	bool locked = kmem__client_lock(c);

	if (!c->mags || i >= c->mags->nmags) {
		kmem__client_unlock(c, locked);
		return KMEM_ENOENT;
	}
	g = &c->mags->v[i];
	*info = (struct kmem_magazine_info){
		.cache = g->cache, .object_size = g->len,
		.pool = g->pool, .depth = g->depth, .depth_max = g->depth_max,
		.held = g->n, .out = (uint32_t)(g->taken - g->given - g->n),
		.refills = g->refills,
		.drains = g->drains,
	};
	snprintf(info->name, sizeof(info->name), "%s", g->name);
	kmem__client_unlock(c, locked);
	return 0;
}

int kmem_client_magazine_drain(struct kmem_client *c)
{
	bool locked = kmem__client_lock(c);
	int rc = 0;

	for (size_t i = 0; c->mags && i < c->mags->nmags && !rc; i++)
		rc = mag_drain(c, i, c->mags->v[i].n);
	kmem__client_unlock(c, locked);
	return rc;
}
