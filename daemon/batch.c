/*
 * batch.c - the requests that move many leases at once: AllocBatch and
 * FreeBatch, and the named slab caches (CacheCreate, CacheAlloc,
 * CacheFree, CacheDestroy), whose allocations and frees are batches too.
 *
 * All or nothing: a batch is checked whole before anything changes (every
 * id found, touchable, freeable, named once), and an allocation batch that
 * cannot be served whole gives back what it took.  Client magazines
 * (magazine.c) refill and drain through these requests with their idle
 * figures; a pool or cache being debugged refuses refills.  Shared
 * helpers (request arena, statuses, checks) are dispatch.c's, declared in
 * dispatch_impl.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "arena.h"
#include "debug.h"
#include "dispatch.h"
#include "dispatch_impl.h"
#include "leases.h"
#include "magazine.h"
#include "pools.h"
#include "server.h"

/*
 * Check every id of a batch first: all or nothing.  The leases go to
 * ls[0..n) for the free that follows (no second lookup).  A repeated id
 * would be a double free inside the batch: each batch has a serial
 * number, and a lease named twice already carries this batch's.
 */
static bool batch_ok(struct session *s, uint64_t seq, const uint64_t *ids,
		     size_t n, bool objects, struct lease **ls)
{
	uint64_t serial = ++s->d->batch_serial;
	char msg[128];

	for (size_t i = 0; i < n; i++) {
		struct lease *l = find_lease(s, seq, ids[i]);

		if (!l || !may_touch(s, seq, l))
			return false;
		if ((objects && l->kind != LEASE_OBJ) || l->doomed || !l->owner) {
			snprintf(msg, sizeof(msg), "lease %llu cannot be freed in "
				 "this batch (%s)", (unsigned long long)ids[i],
				 objects && l->kind != LEASE_OBJ ? "not a cache object" :
				 "a named buffer: free it by itself");
			dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_INVALID_ARGUMENT, msg);
			return false;
		}
		if (l->batch == serial) {
			snprintf(msg, sizeof(msg), "lease %llu appears twice in "
				 "the batch", (unsigned long long)ids[i]);
			dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_INVALID_ARGUMENT, msg);
			return false;
		}
		l->batch = serial;
		ls[i] = l;
	}
	return true;
}

/* mr: the magazine fields of a drain (NULL: not one). */
static void free_batch(struct session *s, uint64_t seq, const uint64_t *ids,
		       size_t n, bool objects, const struct mag_req *mr)
{
	struct arena *a = arena_of(s->d);
	struct arena_mark mark = arena_mark(a);
	struct lease **ls;
	char msg[128];

	if (n == 0 || n > BATCH_MAX) {
		snprintf(msg, sizeof(msg), "a batch holds 1 to %d ids, not %zu",
			 BATCH_MAX, n);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_INVALID_ARGUMENT, msg);
		return;
	}
	ls = arena_alloc_array(a, n, sizeof(*ls));
	if (!ls) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory");
		return;
	}
	if (batch_ok(s, seq, ids, n, objects, ls)) {
		if (mr)
			magazine_report(s, NULL, mr, 0, 0);
		for (size_t i = 0; i < n; i++)
			leases_release(s->d, ls[i]);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_OK, NULL);
	}
	arena_release(a, mark);
}

/* ------------------------------------------------------------ batches */

/* The magazine fields of a request: r filled, or NULL when not set. */
static const struct mag_req *mag_fields(struct mag_req *r, bool on,
					size_t nobj, const uint64_t *objects,
					size_t nbytes, const uint64_t *bytes)
{
	r->n = nobj < nbytes ? nobj : nbytes;
	r->objects = objects;
	r->bytes = bytes;
	return on ? r : NULL;
}

void do_free_batch(struct session *s, uint64_t seq,
			  const Kmem__FreeBatch *m)
{
	struct mag_req mr;

	free_batch(s, seq, m->ids, m->n_ids, false,
		   mag_fields(&mr, m->magazine, m->n_magazine_objects,
			      m->magazine_objects, m->n_magazine_bytes,
			      m->magazine_bytes));
}

/* Reply with a LeaseBatch of the n leases in ls. */
static void reply_batch(struct session *s, uint64_t seq, struct lease **ls,
			size_t n, uint64_t length)
{
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__LeaseBatch b = KMEM__LEASE_BATCH__INIT;
	struct arena *a = arena_of(s->d);
	struct arena_mark mark = arena_mark(a);
	uint64_t *v = arena_alloc_array(a, 3 * n, sizeof(*v));

	if (!v) {
		/* Take the leases back rather than leave them unknown to the
		 * client. */
		for (size_t i = 0; i < n; i++)
			leases_release(s->d, ls[i]);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = ls[i]->id;
		v[n + i] = ls[i]->buf.off;
		v[2 * n + i] = ls[i]->buf.phys;
	}
	b.pool_index = n ? s->pool_index[ls[0]->pool->index] : 0;
	b.length = length;
	b.n_ids = b.n_offsets = b.n_phys = n;
	b.ids = v;
	b.offsets = v + n;
	b.phys = v + 2 * n;
	r.seq = seq;
	r.body_case = KMEM__RESPONSE__BODY_LEASE_BATCH;
	r.lease_batch = &b;
	session_reply(s, &r);
	arena_release(a, mark);
}

/*
 * Make n leases with make(i) -> rc; all or nothing.  On failure replies
 * with the status of the failing allocation.  mr: the magazine fields of
 * a refill (NULL: not one).
 */
static void batch_alloc(struct session *s, uint64_t seq, struct kmemd_pool *p,
			uint32_t count, uint64_t unit, struct dcache *dc,
			const struct alloc_args *a, const char *tag,
			const struct mag_req *mr)
{
	struct arena *ar = arena_of(s->d);
	struct arena_mark mark;
	struct lease **ls;
	char msg[KMEM_MSG_MAX] = "";
	size_t n = 0;
	int rc = 0;

	if (count == 0 || count > BATCH_MAX) {
		snprintf(msg, sizeof(msg), "count must be 1 to %d, not %u",
			 BATCH_MAX, count);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_INVALID_ARGUMENT, msg);
		return;
	}
	if (!pool_quota_allows(p, s->uid, (uint64_t)count * unit)) {
		snprintf(msg, sizeof(msg), "%u x %llu bytes exceeds uid %d's quota "
			 "in pool '%s'", count, (unsigned long long)unit,
			 (int)s->uid, p->cfg.name);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_QUOTA_EXCEEDED, msg);
		return;
	}
	mark = arena_mark(ar);
	ls = arena_alloc_array(ar, count, sizeof(*ls));
	if (!ls) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory");
		return;
	}
	for (; n < count; n++) {
		struct kmem_pool_buf buf;
		enum lease_kind kind = LEASE_OBJ;

		if (dc) {
			memset(&buf, 0, sizeof(buf));
			rc = kmem_cache_alloc(dc->cache, &buf.off);
			if (rc == 0) {
				buf.len = buf.seg0.len = unit;
				buf.seg0.off = buf.off;
				buf.nsegs = 1;
				if (kmem_pool_phys(p->pool, buf.off, &buf.phys))
					buf.phys = 0;
				buf.seg0.phys = buf.phys;
			}
		} else {
			rc = make_buf(s, p, a, &buf, &kind, msg, sizeof(msg));
		}
		if (rc)
			break;
		/* Charged at its real (rounded) length, as single allocations. */
		if (!pool_quota_allows(p, s->uid, buf.len)) {
			if (dc)
				kmem_cache_free(dc->cache, buf.off);
			else
				kmem_pool_free(p->pool, &buf);
			snprintf(msg, sizeof(msg), "%u x %llu bytes (%llu each once "
				 "rounded) exceeds uid %d's quota in pool '%s'", count,
				 (unsigned long long)unit, (unsigned long long)buf.len,
				 (int)s->uid, p->cfg.name);
			rc = KMEM_EQUOTA;
			break;
		}
		ls[n] = leases_grant(s, p, kind, &buf, dc, unit, NULL, tag, false);
		if (!ls[n]) {
			if (dc)
				kmem_cache_free(dc->cache, buf.off);
			else
				kmem_pool_free(p->pool, &buf);
			rc = KMEM_ENOMETA;
			break;
		}
		if (mr)
			magazine_grant(s, ls[n]);
	}
	if (rc) {
		while (n)
			leases_release(s->d, ls[--n]);
		dispatch_reply_status(s, seq, status_of(rc), msg[0] ? msg :
				      "not enough free memory for the whole batch");
	} else {
		if (mr)
			magazine_report(s, p, mr, n, n * ls[0]->buf.len);
		reply_batch(s, seq, ls, n, dc ? unit : ls[0]->buf.len);
	}
	arena_release(ar, mark);
}

/* A batch's tag: as Alloc.tag.  0 or INVALID_ARGUMENT with msg. */
static int check_tag(const char *tag, char *msg, size_t msglen)
{
	if (strlen(tag) >= LEASE_TAG_MAX || !printable(tag)) {
		snprintf(msg, msglen, "a tag is printable ASCII of at most %d "
			 "bytes", LEASE_TAG_MAX - 1);
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	return 0;
}

/*
 * A magazine refill from memory that is being debugged is refused: objects
 * idle in a client's magazine would escape the poison and red-zone checks
 * (a write after free into one is never seen), so a debugging pool or
 * cache is served one request at a time, as slub_debug takes a cache off
 * the per-CPU fast path.  libkmem turns its magazines for it off and asks
 * again without the flag.  True (and replied) when refused.
 */
static bool refuse_magazine(struct session *s, uint64_t seq,
			    const struct mag_req *mr, unsigned debug,
			    const char *what, const char *name)
{
	char msg[KMEM_MSG_MAX];

	if (!mr || !(debug & (KMEM_CACHE_POISON | KMEM_CACHE_REDZONE)))
		return false;
	/* The idle figures the request carries are still the client's. */
	magazine_report(s, NULL, mr, 0, 0);
	snprintf(msg, sizeof(msg), "%s '%s' is being debugged (poison or red "
		 "zones): no client magazines; allocate without the magazine "
		 "flag", what, name);
	dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_BUSY, msg);
	return true;
}

void do_alloc_batch(struct session *s, uint64_t seq,
			   const Kmem__AllocBatch *m)
{
	char msg[KMEM_MSG_MAX];
	struct alloc_args a = { .node = -1 };
	struct kmemd_pool *p;
	struct mag_req mr;
	const struct mag_req *mp;
	int st = check_common(m->size, m->align, m->flags, &a.flags, msg, sizeof(msg));

	if (!st && (a.flags & KMEM_POOL_SCATTER)) {
		snprintf(msg, sizeof(msg), "scatter allocations cannot be batched");
		st = KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	if (!st)
		st = check_tag(m->tag, msg, sizeof(msg));
	if (st) {
		dispatch_reply_status(s, seq, st, msg);
		return;
	}
	p = usable_pool(s, seq, m->pool);
	mp = mag_fields(&mr, m->magazine, m->n_magazine_objects,
			m->magazine_objects, m->n_magazine_bytes,
			m->magazine_bytes);
	if (!p || refuse_magazine(s, seq, mp, p->debug, "pool", p->cfg.name))
		return;
	a.size = m->size;
	a.align = m->align;
	batch_alloc(s, seq, p, m->count, m->size, NULL, &a, m->tag, mp);
}

/* ------------------------------------------------------------ caches */

static struct dcache *find_cache(struct kmemd *d, const char *name, uint64_t id)
{
	for (struct dcache *dc = d->caches; dc; dc = dc->next)
		if (name ? !strcmp(kmem_cache_name(dc->cache), name) : dc->id == id)
			return dc;
	return NULL;
}

void do_cache_create(struct session *s, uint64_t seq,
			    const Kmem__CacheCreate *m)
{
	struct kmem_cache_params cp = {
		.name = m->name, .size = m->object_size, .align = m->align,
	};
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__CacheInfo ci = KMEM__CACHE_INFO__INIT;
	struct kmemd_pool *p;
	struct dcache *dc;
	char msg[160];
	int rc;

	p = usable_pool(s, seq, m->pool);
	if (!p)
		return;
	cp.flags = debug_cache_flags(p);
	if (find_cache(s->d, m->name, 0) || !strncmp(m->name, "kmalloc-", 8)) {
		snprintf(msg, sizeof(msg), "a cache named '%s' exists", m->name);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_EXISTS, msg);
		return;
	}
	dc = calloc(1, sizeof(*dc));
	if (!dc) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory");
		return;
	}
	rc = kmem_cache_create(kmem_pool_heap(p->pool), &cp, &dc->cache);
	if (rc) {
		free(dc);
		snprintf(msg, sizeof(msg), "cannot create cache '%s' of %llu-byte "
			 "objects: %s", m->name, (unsigned long long)m->object_size,
			 kmem_strerror(rc));
		dispatch_reply_status(s, seq, status_of(rc), msg);
		return;
	}
	dc->id = ++s->d->next_cache_id;
	dc->pool = p;
	dc->uid = s->uid;
	dc->next = s->d->caches;
	s->d->caches = dc;
	s->d->gen++;		/* the stats document lists the caches */
	ci.cache_id = dc->id;
	ci.name = (char *)kmem_cache_name(dc->cache);
	ci.object_size = kmem_cache_objsize(dc->cache);
	ci.align = m->align ? m->align : 8;
	ci.pool_index = s->pool_index[p->index];
	r.seq = seq;
	r.body_case = KMEM__RESPONSE__BODY_CACHE;
	r.cache = &ci;
	session_reply(s, &r);
}

void do_cache_alloc(struct session *s, uint64_t seq,
			   const Kmem__CacheAlloc *m)
{
	struct dcache *dc = m->cache_case == KMEM__CACHE_ALLOC__CACHE_NAME ?
		find_cache(s->d, m->name, 0) :
		find_cache(s->d, NULL, m->cache_id);
	struct mag_req mr;
	const struct mag_req *mp;
	char msg[KMEM_MSG_MAX];

	if (!dc) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NOT_FOUND,
				      "no such cache");
		return;
	}
	if (!pool_allows(dc->pool, s->uid, s->gid, s->admin)) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_PERMISSION_DENIED,
				      "the cache's pool is not open to this uid");
		return;
	}
	if (check_tag(m->tag, msg, sizeof(msg))) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_INVALID_ARGUMENT,
				      msg);
		return;
	}
	mp = mag_fields(&mr, m->magazine, m->n_magazine_objects,
			m->magazine_objects, m->n_magazine_bytes,
			m->magazine_bytes);
	if (refuse_magazine(s, seq, mp, kmem_cache_flags(dc->cache), "cache",
			    kmem_cache_name(dc->cache)))
		return;
	batch_alloc(s, seq, dc->pool, m->count, kmem_cache_objsize(dc->cache),
		    dc, NULL, m->tag, mp);
}

void do_cache_destroy(struct session *s, uint64_t seq,
			     const Kmem__CacheDestroy *m)
{
	struct dcache *dc = find_cache(s->d, m->name, 0), **pp;
	char msg[128];

	if (!dc) {
		snprintf(msg, sizeof(msg), "no cache named '%s'", m->name);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NOT_FOUND, msg);
		return;
	}
	if (!s->admin && dc->uid != s->uid) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_PERMISSION_DENIED,
				      "only the cache's creator or an admin may destroy it");
		return;
	}
	if (dc->live || kmem_cache_destroy(dc->cache)) {
		snprintf(msg, sizeof(msg), "cache '%s' has %llu live object(s)",
			 m->name, (unsigned long long)dc->live);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_BUSY, msg);
		return;
	}
	for (pp = &s->d->caches; *pp != dc; pp = &(*pp)->next)
		;
	*pp = dc->next;
	free(dc);
	s->d->gen++;
	dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_OK, NULL);
}

void do_cache_free(struct session *s, uint64_t seq, const Kmem__CacheFree *m)
{
	free_batch(s, seq, m->ids, m->n_ids, true, NULL);
}
