/*
 * ops.c - libkmem's requests: allocation, batches, caches, names, stats,
 * debugging.
 *
 * A contiguous lease is a pointer into the pool mapping made at connect.
 * A scatter lease (pieces of whole hugepages in several places of the pool)
 * is mapped back to back into a fresh virtual range, as vmalloc does, so
 * the caller still gets one pointer; its segment list gives the device the
 * physical pieces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/* Return expr's value, evaluated with c's mutex held (standard C: no
 * statement expression). */
#define LOCKED_RETURN(c, expr) do {					\
		bool l__ = kmem__client_lock(c);			\
		int rc__ = (expr);					\
									\
		kmem__client_unlock(c, l__);				\
		return rc__;						\
	} while (0)

static int map_scatter(struct kmem_client *c, struct cpool *p,
		       struct kmem_buf *b)
{
	uint64_t ps = p->page_size, span = b->len + ps;
	char *va = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *at;

	if (va == MAP_FAILED)
		return kmem__client_fail(c, KMEM_ESYS, "cannot reserve %llu bytes "
					 "of address space: %s",
					 (unsigned long long)span, strerror(errno));
	/* hugetlb mappings must start on a hugepage boundary. */
	at = (char *)(((uintptr_t)va + ps - 1) & ~(uintptr_t)(ps - 1));
	if (at > va)
		munmap(va, (size_t)(at - va));
	munmap(at + b->len, (size_t)(va + span - (at + b->len)));
	for (size_t i = 0, acc = 0; i < b->nsegs; acc += b->segs[i++].len) {
		if (mmap(at + acc, b->segs[i].len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, p->fd,
			 (off_t)(p->map_offset + b->segs[i].offset)) == MAP_FAILED) {
			int e = errno;

			munmap(at, b->len);
			return kmem__client_fail(c, KMEM_ESYS, "cannot map a scatter "
						 "piece: %s", strerror(e));
		}
	}
	b->ptr = at;
	return 0;
}

static int fill_buf(struct kmem_client *c, const Kmem__Lease *l,
		    struct kmem_buf *b)
{
	struct cpool *p;

	memset(b, 0, sizeof(*b));
	if (l->pool_index >= c->npools)
		return kmem__client_fail(c, KMEM_EPROTO, "lease in unknown pool %u",
					 l->pool_index);
	p = &c->pools[l->pool_index];
	b->id = l->id;
	b->len = l->length;
	b->phys = l->phys;
	b->offset = l->offset;
	b->pool = l->pool_index;
	b->nsegs = 1;
	if (l->n_segments > 1) {
		b->segs = malloc(l->n_segments * sizeof(*b->segs));
		if (!b->segs)
			return kmem__client_fail(c, KMEM_ENOMETA, "out of memory");
		b->nsegs = l->n_segments;
		for (size_t i = 0; i < l->n_segments; i++) {
			b->segs[i].offset = l->segments[i]->offset;
			b->segs[i].len = l->segments[i]->length;
			b->segs[i].phys = l->segments[i]->phys;
		}
		return map_scatter(c, p, b);
	}
	if (l->offset + l->length > p->size)
		return kmem__client_fail(c, KMEM_EPROTO, "lease outside its pool");
	b->ptr = (char *)p->base + l->offset;
	return 0;
}

void kmem_client_buf_release(struct kmem_client *c, struct kmem_buf *b)
{
	(void)c;
	if (b->segs) {
		if (b->ptr)
			munmap(b->ptr, b->len);
		free(b->segs);
	}
	memset(b, 0, sizeof(*b));
}

/* Answer a request whose reply is one Lease into *out. */
static int lease_call(struct kmem_client *c, Kmem__Request *q,
		      struct kmem_buf *out)
{
	Kmem__Response *r;
	int rc = kmem__client_call(c, q, &r);

	if (rc)
		return rc;
	if (r->body_case != KMEM__RESPONSE__BODY_LEASE)
		rc = kmem__client_fail(c, KMEM_EPROTO, "expected a Lease");
	else
		rc = fill_buf(c, r->lease, out);
	kmem_frame_free_response(r, NULL);
	return rc;
}

static int do_alloc(struct kmem_client *c, uint64_t size,
		    const struct kmem_alloc_opts *o, struct kmem_buf *out)
{
	static const struct kmem_alloc_opts dflt = KMEM_ALLOC_OPTS_INIT;
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Alloc a = KMEM__ALLOC__INIT;

	if (!o)
		o = &dflt;
	a.pool = (char *)(o->pool ? o->pool : "");
	a.size = size;
	a.align = o->align;
	a.flags = o->flags;
	if (o->node >= 0) {
		a.numa_case = KMEM__ALLOC__NUMA_NODE;
		a.node = o->node;
	}
	a.dma_mask = o->dma_mask;
	a.boundary = o->boundary;
	a.name = (char *)(o->name ? o->name : "");
	a.tag = (char *)(o->tag ? o->tag : "");
	a.persist = o->persist;
	a.timeout_ms = o->timeout_ms;
	q.body_case = KMEM__REQUEST__BODY_ALLOC;
	q.alloc = &a;
	return lease_call(c, &q, out);
}

/* Out of line, so that the magazine path needs no frame for a request. */
static __attribute__((noinline)) int
alloc_request(struct kmem_client *c, uint64_t size,
	      const struct kmem_alloc_opts *o, struct kmem_buf *out)
{
	return do_alloc(c, size, o, out);
}

/* A magazine's object when one can serve it, else a round trip. */
static int mag_or_alloc(struct kmem_client *c, uint64_t size,
			const struct kmem_alloc_opts *o, struct kmem_buf *out)
{
	int rc = kmem__mag_alloc(c, size, o, out);

	return rc == KMEM__MAG_PASS ? alloc_request(c, size, o, out) : rc;
}

int kmem_client_alloc(struct kmem_client *c, uint64_t size,
		      const struct kmem_alloc_opts *opts, struct kmem_buf *out)
{
	LOCKED_RETURN(c, mag_or_alloc(c, size, opts, out));
}

static int do_free_id(struct kmem_client *c, uint64_t id)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Free f = KMEM__FREE__INIT;

	f.id = id;
	q.body_case = KMEM__REQUEST__BODY_FREE;
	q.free = &f;
	return kmem__client_call(c, &q, NULL);
}

static int mag_or_free(struct kmem_client *c, uint64_t id)
{
	int rc = kmem__mag_free(c, id);

	return rc == KMEM__MAG_PASS ? do_free_id(c, id) : rc;
}

int kmem_client_free_id(struct kmem_client *c, uint64_t id)
{
	LOCKED_RETURN(c, mag_or_free(c, id));
}

int kmem_client_free(struct kmem_client *c, struct kmem_buf *b)
{
	bool l = kmem__client_lock(c);
	int rc = mag_or_free(c, b->id);

	kmem__client_unlock(c, l);

	/* kmem_client_buf_release, without a call on the magazine path. */
	if (rc == 0 && b->segs)
		kmem_client_buf_release(c, b);
	else if (rc == 0)
		memset(b, 0, sizeof(*b));
	return rc;
}

/* Fill out[0..n) from a LeaseBatch. */
static int batch_bufs(struct kmem_client *c, const Kmem__LeaseBatch *lb,
		      uint32_t count, struct kmem_buf *out)
{
	struct cpool *p;

	if (lb->pool_index >= c->npools || lb->n_ids != count ||
	    lb->n_offsets != count || lb->n_phys != count)
		return kmem__client_fail(c, KMEM_EPROTO, "malformed LeaseBatch");
	p = &c->pools[lb->pool_index];
	for (uint32_t i = 0; i < count; i++) {
		if (lb->offsets[i] + lb->length > p->size)
			return kmem__client_fail(c, KMEM_EPROTO, "lease outside its pool");
		out[i] = (struct kmem_buf){
			.ptr = (char *)p->base + lb->offsets[i], .len = lb->length,
			.phys = lb->phys[i], .id = lb->ids[i],
			.offset = lb->offsets[i], .pool = lb->pool_index, .nsegs = 1,
		};
	}
	return 0;
}

int kmem__lease_batch(struct kmem_client *c, Kmem__Response *r, uint32_t count,
		      struct kmem_buf *out)
{
	int rc;

	if (r->body_case != KMEM__RESPONSE__BODY_LEASE_BATCH)
		rc = kmem__client_fail(c, KMEM_EPROTO, "expected a LeaseBatch");
	else
		rc = batch_bufs(c, r->lease_batch, count, out);
	kmem_frame_free_response(r, NULL);
	return rc;
}

static int batch_call(struct kmem_client *c, Kmem__Request *q, uint32_t count,
		      struct kmem_buf *out)
{
	Kmem__Response *r;
	int rc = kmem__client_call(c, q, &r);

	return rc ? rc : kmem__lease_batch(c, r, count, out);
}

void kmem__req_alloc_batch(Kmem__Request *q, Kmem__AllocBatch *a,
			   const char *pool, uint64_t size, unsigned flags,
			   uint32_t count)
{
	a->pool = (char *)(pool ? pool : "");
	a->size = size;
	a->count = count;
	a->flags = flags;
	q->body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	q->alloc_batch = a;
}

static int do_alloc_batch(struct kmem_client *c, const char *pool,
			  uint64_t size, unsigned flags, uint32_t count,
			  struct kmem_buf *out)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__AllocBatch a = KMEM__ALLOC_BATCH__INIT;

	kmem__req_alloc_batch(&q, &a, pool, size, flags, count);
	return batch_call(c, &q, count, out);
}

int kmem_client_alloc_batch(struct kmem_client *c, const char *pool,
			    uint64_t size, unsigned flags, uint32_t count,
			    struct kmem_buf *out)
{
	LOCKED_RETURN(c, do_alloc_batch(c, pool, size, flags, count, out));
}

static int do_alloc_batch_opts(struct kmem_client *c, uint64_t size,
			       uint32_t count, const struct kmem_alloc_opts *o,
			       struct kmem_buf *out)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__AllocBatch a = KMEM__ALLOC_BATCH__INIT;

	if (o->node >= 0 || o->dma_mask || o->boundary || o->name ||
	    o->persist || o->timeout_ms)
		return kmem__client_fail(c, KMEM_EINVAL, "a batch takes only "
					 "pool, align, flags and tag");
	kmem__req_alloc_batch(&q, &a, o->pool, size, o->flags, count);
	a.align = o->align;
	a.tag = (char *)(o->tag ? o->tag : "");
	return batch_call(c, &q, count, out);
}

int kmem_client_alloc_batch_opts(struct kmem_client *c, uint64_t size,
				 uint32_t count,
				 const struct kmem_alloc_opts *opts,
				 struct kmem_buf *out)
{
	static const struct kmem_alloc_opts def = KMEM_ALLOC_OPTS_INIT;

	LOCKED_RETURN(c, do_alloc_batch_opts(c, size, count,
					     opts ? opts : &def, out));
}

void kmem__req_ids(Kmem__Request *q, Kmem__FreeBatch *fb, Kmem__CacheFree *cf,
		   bool cache, const uint64_t *ids, size_t n)
{
	if (cache) {
		cf->n_ids = n;
		cf->ids = (uint64_t *)ids;
		q->body_case = KMEM__REQUEST__BODY_CACHE_FREE;
		q->cache_free = cf;
	} else {
		fb->n_ids = n;
		fb->ids = (uint64_t *)ids;
		q->body_case = KMEM__REQUEST__BODY_FREE_BATCH;
		q->free_batch = fb;
	}
}

static int do_ids(struct kmem_client *c, bool cache, const uint64_t *ids,
		  size_t n)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__FreeBatch fb = KMEM__FREE_BATCH__INIT;
	Kmem__CacheFree cf = KMEM__CACHE_FREE__INIT;

	kmem__req_ids(&q, &fb, &cf, cache, ids, n);
	return kmem__client_call(c, &q, NULL);
}

static int mag_or_ids(struct kmem_client *c, bool cache, const uint64_t *ids,
		      size_t n)
{
	int rc = kmem__mag_free_ids(c, cache, ids, n);

	return rc == KMEM__MAG_PASS ? do_ids(c, cache, ids, n) : rc;
}

int kmem_client_free_batch(struct kmem_client *c, const uint64_t *ids, size_t n)
{
	LOCKED_RETURN(c, mag_or_ids(c, false, ids, n));
}

int kmem_client_cache_free(struct kmem_client *c, const uint64_t *ids, size_t n)
{
	LOCKED_RETURN(c, mag_or_ids(c, true, ids, n));
}

static int do_cache_create(struct kmem_client *c, const char *pool,
			   const char *name, uint64_t size, uint64_t align,
			   uint64_t *id)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__CacheCreate cc = KMEM__CACHE_CREATE__INIT;
	Kmem__Response *r;
	int rc;

	cc.pool = (char *)(pool ? pool : "");
	cc.name = (char *)name;
	cc.object_size = size;
	cc.align = align;
	q.body_case = KMEM__REQUEST__BODY_CACHE_CREATE;
	q.cache_create = &cc;
	rc = kmem__client_call(c, &q, &r);
	if (rc)
		return rc;
	if (r->body_case != KMEM__RESPONSE__BODY_CACHE)
		rc = kmem__client_fail(c, KMEM_EPROTO, "expected a CacheInfo");
	else if (id)
		*id = r->cache->cache_id;
	kmem_frame_free_response(r, NULL);
	return rc;
}

int kmem_client_cache_create(struct kmem_client *c, const char *pool,
			     const char *name, uint64_t object_size,
			     uint64_t align, uint64_t *cache_id)
{
	LOCKED_RETURN(c, do_cache_create(c, pool, name, object_size, align, cache_id));
}

static int do_cache_alloc(struct kmem_client *c, const char *name,
			  uint32_t count, struct kmem_buf *out)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__CacheAlloc ca = KMEM__CACHE_ALLOC__INIT;

	ca.cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
	ca.name = (char *)name;
	ca.count = count;
	q.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	q.cache_alloc = &ca;
	return batch_call(c, &q, count, out);
}

static int mag_or_cache_alloc(struct kmem_client *c, const char *name,
			      uint32_t count, struct kmem_buf *out)
{
	int rc = kmem__mag_cache_alloc(c, name, count, out);

	return rc == KMEM__MAG_PASS ? do_cache_alloc(c, name, count, out) : rc;
}

int kmem_client_cache_alloc(struct kmem_client *c, const char *name,
			    uint32_t count, struct kmem_buf *out)
{
	LOCKED_RETURN(c, mag_or_cache_alloc(c, name, count, out));
}

static int do_named(struct kmem_client *c, int kind, const char *name,
		    uint64_t id, struct kmem_buf *out)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__CacheDestroy cd = KMEM__CACHE_DESTROY__INIT;
	Kmem__Lookup lk = KMEM__LOOKUP__INIT;
	Kmem__Detach dt = KMEM__DETACH__INIT;

	switch (kind) {
	case 0:
		lk.name = (char *)name;
		q.body_case = KMEM__REQUEST__BODY_LOOKUP;
		q.lookup = &lk;
		return lease_call(c, &q, out);
	case 1:
		dt.id = id;
		q.body_case = KMEM__REQUEST__BODY_DETACH;
		q.detach = &dt;
		break;
	default:
		cd.name = (char *)name;
		q.body_case = KMEM__REQUEST__BODY_CACHE_DESTROY;
		q.cache_destroy = &cd;
		break;
	}
	return kmem__client_call(c, &q, NULL);
}

int kmem_client_lookup(struct kmem_client *c, const char *name,
		       struct kmem_buf *out)
{
	LOCKED_RETURN(c, do_named(c, 0, name, 0, out));
}

int kmem_client_detach(struct kmem_client *c, struct kmem_buf *b)
{
	bool l = kmem__client_lock(c);
	int rc = do_named(c, 1, NULL, b->id, NULL);

	kmem__client_unlock(c, l);

	if (rc == 0)
		kmem_client_buf_release(c, b);
	return rc;
}

/* Idle magazine objects are live objects to the daemon: they go back
 * before the cache can be destroyed. */
static int drain_and_destroy(struct kmem_client *c, const char *name)
{
	int rc = kmem__mag_cache_drain(c, name);

	return rc ? rc : do_named(c, 2, name, 0, NULL);
}

int kmem_client_cache_destroy(struct kmem_client *c, const char *name)
{
	LOCKED_RETURN(c, drain_and_destroy(c, name));
}

static int do_stats(struct kmem_client *c, bool prom, bool leases, pid_t pid,
		    char **text)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Stats st = KMEM__STATS__INIT;
	Kmem__Response *r;
	int rc;

	st.format = prom ? KMEM__STATS_FORMAT__STATS_FORMAT_PROMETHEUS :
			   KMEM__STATS_FORMAT__STATS_FORMAT_JSON;
	st.include_leases = leases;
	st.pid = pid > 0 ? (uint32_t)pid : 0;
	q.body_case = KMEM__REQUEST__BODY_STATS;
	q.stats = &st;
	rc = kmem__client_call(c, &q, &r);
	if (rc)
		return rc;
	if (r->body_case != KMEM__RESPONSE__BODY_STATS)
		rc = kmem__client_fail(c, KMEM_EPROTO, "expected a StatsReply");
	else if (!(*text = strdup(r->stats->text)))
		rc = kmem__client_fail(c, KMEM_ENOMETA, "out of memory");
	kmem_frame_free_response(r, NULL);
	return rc;
}

int kmem_client_stats(struct kmem_client *c, bool prometheus, char **text)
{
	LOCKED_RETURN(c, do_stats(c, prometheus, false, 0, text));
}

int kmem_client_leases(struct kmem_client *c, pid_t pid, char **text)
{
	LOCKED_RETURN(c, do_stats(c, false, true, pid, text));
}

static int do_debug(struct kmem_client *c, const char *pool, bool poison)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Debug m = KMEM__DEBUG__INIT;

	m.pool = (char *)(pool ? pool : "");
	m.poison = poison;
	q.body_case = KMEM__REQUEST__BODY_DEBUG;
	q.debug = &m;
	return kmem__client_call(c, &q, NULL);
}

int kmem_client_debug(struct kmem_client *c, const char *pool, bool poison)
{
	LOCKED_RETURN(c, do_debug(c, pool, poison));
}

/* Copy the reply's problems into out (all or nothing). */
static int copy_verify(struct kmem_client *c, const Kmem__VerifyReply *vr,
		       struct kmem_verify *out)
{
	struct kmem_verify v = {
		.pools = vr->pools, .caches = vr->caches, .leases = vr->leases,
	};

	if (vr->n_problems) {
		v.problems = calloc(vr->n_problems, sizeof(*v.problems));
		if (!v.problems)
			return kmem__client_fail(c, KMEM_ENOMETA, "out of memory");
		for (; v.nproblems < vr->n_problems; v.nproblems++) {
			v.problems[v.nproblems] = strdup(vr->problems[v.nproblems]);
			if (!v.problems[v.nproblems]) {
				kmem_client_verify_release(&v);
				return kmem__client_fail(c, KMEM_ENOMETA,
							 "out of memory");
			}
		}
	}
	*out = v;
	return 0;
}

static int do_verify(struct kmem_client *c, struct kmem_verify *out)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Verify m = KMEM__VERIFY__INIT;
	Kmem__Response *r;
	int rc;

	q.body_case = KMEM__REQUEST__BODY_VERIFY;
	q.verify = &m;
	rc = kmem__client_call(c, &q, &r);
	if (rc)
		return rc;
	if (r->body_case != KMEM__RESPONSE__BODY_VERIFY)
		rc = kmem__client_fail(c, KMEM_EPROTO, "expected a VerifyReply");
	else
		rc = copy_verify(c, r->verify, out);
	kmem_frame_free_response(r, NULL);
	return rc;
}

int kmem_client_verify(struct kmem_client *c, struct kmem_verify *out)
{
	LOCKED_RETURN(c, do_verify(c, out));
}

void kmem_client_verify_release(struct kmem_verify *v)
{
	for (size_t i = 0; i < v->nproblems; i++)
		free(v->problems[i]);
	free(v->problems);
	memset(v, 0, sizeof(*v));
}

static int do_ping(struct kmem_client *c, size_t n)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Ping p = KMEM__PING__INIT;
	Kmem__Response *r;
	uint8_t small[256], *data = n <= sizeof(small) ? small : malloc(n);
	int rc;

	if (!data)
		return kmem__client_fail(c, KMEM_ENOMETA, "out of memory");
	memset(data, 0xA5, n);
	p.payload.data = data;
	p.payload.len = n;
	q.body_case = KMEM__REQUEST__BODY_PING;
	q.ping = &p;
	rc = kmem__client_call(c, &q, &r);
	if (!rc) {
		if (r->body_case != KMEM__RESPONSE__BODY_PONG || r->pong->payload.len != n ||
		    (n && memcmp(r->pong->payload.data, data, n)))
			rc = kmem__client_fail(c, KMEM_EPROTO, "bad Pong");
		kmem_frame_free_response(r, NULL);
	}
	if (data != small)
		free(data);
	return rc;
}

int kmem_client_ping(struct kmem_client *c, size_t payload_len)
{
	LOCKED_RETURN(c, do_ping(c, payload_len));
}
