/*
 * proto/fastpb_pack.c - hand-written encoding of the hot messages: Requests
 * with body Ping, Alloc, Free, AllocBatch, FreeBatch, CacheAlloc,
 * CacheFree or none (the client's), Responses with body Pong, Lease,
 * LeaseBatch or none (the daemon's).  fastpb.c states the theory: the
 * bytes are protobuf-c's, and anything unusual is declined to it.
 *
 * Two passes, as in protobuf-c, since a length prefix precedes what it
 * measures: a size function measures the message and keeps in the plan
 * what the pack function needs again (the body's length, its strings'
 * lengths, its packed arrays' payload lengths), so no strlen() or varint
 * size is computed twice; the pack function then writes the fields in
 * number order, deciding presence from the message exactly as the size
 * function did.
 */
#include <string.h>

#include "fastpb.h"

#define VARINT KMEM__PB_VARINT
#define LEN KMEM__PB_LEN
#define KEY(num, wt) KMEM__PB_KEY(num, wt)
#define DECLINE KMEM_FASTPB_DECLINE

/* ------------------------------------------------------------ sizes */

/* A message this code may write: of the expected type, no unknown
 * fields. */
static inline int plain(const ProtobufCMessage *m,
			const ProtobufCMessageDescriptor *d)
{
	return m->descriptor == d && m->n_unknown_fields == 0;
}

/* An array protobuf-c could pack: a count has data behind it. */
static inline int array_ok(size_t n, const void *v)
{
	return n == 0 || v != NULL;
}

static inline size_t sz_key(uint32_t key)
{
	return kmem__pb_varint_size(key);
}

/* A proto3 varint field: absent when zero. */
static inline size_t sz_varint(uint32_t key, uint64_t v)
{
	return v ? sz_key(key) + kmem__pb_varint_size(v) : 0;
}

static inline size_t sz_bool(uint32_t key, protobuf_c_boolean v)
{
	return v ? sz_key(key) + 1 : 0;
}

/* A length-delimited field holding n bytes. */
static inline size_t sz_len(uint32_t key, size_t n)
{
	return sz_key(key) + kmem__pb_varint_size(n) + n;
}

/* A proto3 string: absent when NULL or empty; its length to *len. */
static inline size_t sz_string(uint32_t key, const char *s, size_t *len)
{
	size_t n = s && *s ? strlen(s) : 0;

	*len = n;
	return n ? sz_len(key, n) : 0;
}

/* A packed uint64 array (array_ok() checked): absent when empty; its
 * payload's length to *bytes. */
static inline size_t sz_packed(uint32_t key, const uint64_t *v, size_t n,
			       size_t *bytes)
{
	size_t b = 0;

	for (size_t i = 0; i < n; i++)
		b += kmem__pb_varint_size(v[i]);
	*bytes = b;
	return n ? sz_len(key, b) : 0;
}

/* ------------------------------------------------------------ writing */

static inline uint8_t *put_varint_field(uint8_t *p, uint32_t key, uint64_t v)
{
	if (!v)
		return p;
	p = kmem__pb_put_varint(p, key);
	return kmem__pb_put_varint(p, v);
}

static inline uint8_t *put_bool(uint8_t *p, uint32_t key, protobuf_c_boolean v)
{
	if (!v)
		return p;
	p = kmem__pb_put_varint(p, key);
	*p++ = 1;
	return p;
}

/* A length-delimited field of n bytes at s (present: written even when
 * empty). */
static inline uint8_t *put_len(uint8_t *p, uint32_t key, const void *s,
			       size_t n)
{
	p = kmem__pb_put_varint(p, key);
	p = kmem__pb_put_varint(p, n);
	if (n)
		memcpy(p, s, n);
	return p + n;
}

static inline uint8_t *put_string(uint8_t *p, uint32_t key, const char *s,
				  size_t n)
{
	return n ? put_len(p, key, s, n) : p;
}

static inline uint8_t *put_packed(uint8_t *p, uint32_t key, const uint64_t *v,
				  size_t n, size_t bytes)
{
	if (!n)
		return p;
	p = kmem__pb_put_varint(p, key);
	p = kmem__pb_put_varint(p, bytes);
	for (size_t i = 0; i < n; i++)
		p = kmem__pb_put_varint(p, v[i]);
	return p;
}

/* sint32 as protobuf-c zigzags it (no shift of a negative number). */
static inline uint32_t zigzag32(int32_t v)
{
	return v < 0 ? ~((uint32_t)v << 1) : (uint32_t)v << 1;
}

/* ------------------------------------------------------------ requests */

/*
 * For each body: sz_* returns its size or DECLINE, noting its variable
 * parts in part[]; pk_* writes it from the same part[].
 */

static size_t sz_ping(const Kmem__Ping *m, size_t *part)
{
	(void)part;
	if (!plain(&m->base, &kmem__ping__descriptor) ||
	    !array_ok(m->payload.len, m->payload.data))
		return DECLINE;
	return m->payload.len ? sz_len(KEY(1, LEN), m->payload.len) : 0;
}

static uint8_t *pk_ping(const Kmem__Ping *m, const size_t *part, uint8_t *p)
{
	(void)part;
	if (m->payload.len)
		p = put_len(p, KEY(1, LEN), m->payload.data, m->payload.len);
	return p;
}

static size_t sz_alloc(const Kmem__Alloc *m, size_t *part)
{
	size_t n;

	if (!plain(&m->base, &kmem__alloc__descriptor) ||
	    (m->numa_case != KMEM__ALLOC__NUMA__NOT_SET &&
	     m->numa_case != KMEM__ALLOC__NUMA_NODE))
		return DECLINE;
	n = sz_string(KEY(1, LEN), m->pool, &part[0]) +
	    sz_varint(KEY(2, VARINT), m->size) +
	    sz_varint(KEY(3, VARINT), m->align) +
	    sz_varint(KEY(4, VARINT), m->flags) +
	    sz_varint(KEY(6, VARINT), m->dma_mask) +
	    sz_varint(KEY(7, VARINT), m->boundary) +
	    sz_string(KEY(8, LEN), m->name, &part[1]) +
	    sz_string(KEY(9, LEN), m->tag, &part[2]) +
	    sz_bool(KEY(10, VARINT), m->persist) +
	    sz_varint(KEY(11, VARINT), m->timeout_ms);
	/* A oneof member is written whenever its case is set, 0 too. */
	if (m->numa_case == KMEM__ALLOC__NUMA_NODE)
		n += 1 + kmem__pb_varint_size(zigzag32(m->node));
	return n;
}

static uint8_t *pk_alloc(const Kmem__Alloc *m, const size_t *part, uint8_t *p)
{
	p = put_string(p, KEY(1, LEN), m->pool, part[0]);
	p = put_varint_field(p, KEY(2, VARINT), m->size);
	p = put_varint_field(p, KEY(3, VARINT), m->align);
	p = put_varint_field(p, KEY(4, VARINT), m->flags);
	if (m->numa_case == KMEM__ALLOC__NUMA_NODE) {
		*p++ = KEY(5, VARINT);
		p = kmem__pb_put_varint(p, zigzag32(m->node));
	}
	p = put_varint_field(p, KEY(6, VARINT), m->dma_mask);
	p = put_varint_field(p, KEY(7, VARINT), m->boundary);
	p = put_string(p, KEY(8, LEN), m->name, part[1]);
	p = put_string(p, KEY(9, LEN), m->tag, part[2]);
	p = put_bool(p, KEY(10, VARINT), m->persist);
	return put_varint_field(p, KEY(11, VARINT), m->timeout_ms);
}

static size_t sz_free(const Kmem__Free *m, size_t *part)
{
	(void)part;
	if (!plain(&m->base, &kmem__free__descriptor))
		return DECLINE;
	return sz_varint(KEY(1, VARINT), m->id);
}

static uint8_t *pk_free(const Kmem__Free *m, const size_t *part, uint8_t *p)
{
	(void)part;
	return put_varint_field(p, KEY(1, VARINT), m->id);
}

/* The magazine fields (20-22) that AllocBatch, FreeBatch and CacheAlloc
 * share, their arrays' payloads in part[0..1]. */
static size_t sz_magazine(protobuf_c_boolean magazine, size_t n_objects,
			  const uint64_t *objects, size_t n_bytes,
			  const uint64_t *bytes, size_t *part)
{
	if (!array_ok(n_objects, objects) || !array_ok(n_bytes, bytes))
		return DECLINE;
	return sz_bool(KEY(20, VARINT), magazine) +
	       sz_packed(KEY(21, LEN), objects, n_objects, &part[0]) +
	       sz_packed(KEY(22, LEN), bytes, n_bytes, &part[1]);
}

static uint8_t *pk_magazine(protobuf_c_boolean magazine, size_t n_objects,
			    const uint64_t *objects, size_t n_bytes,
			    const uint64_t *bytes, const size_t *part,
			    uint8_t *p)
{
	p = put_bool(p, KEY(20, VARINT), magazine);
	p = put_packed(p, KEY(21, LEN), objects, n_objects, part[0]);
	return put_packed(p, KEY(22, LEN), bytes, n_bytes, part[1]);
}

static size_t sz_alloc_batch(const Kmem__AllocBatch *m, size_t *part)
{
	size_t mag;

	if (!plain(&m->base, &kmem__alloc_batch__descriptor))
		return DECLINE;
	mag = sz_magazine(m->magazine, m->n_magazine_objects,
			  m->magazine_objects, m->n_magazine_bytes,
			  m->magazine_bytes, &part[2]);
	if (mag == DECLINE)
		return DECLINE;
	return sz_string(KEY(1, LEN), m->pool, &part[0]) +
	       sz_varint(KEY(2, VARINT), m->size) +
	       sz_varint(KEY(3, VARINT), m->count) +
	       sz_varint(KEY(4, VARINT), m->flags) +
	       sz_varint(KEY(5, VARINT), m->align) +
	       sz_string(KEY(6, LEN), m->tag, &part[1]) + mag;
}

static uint8_t *pk_alloc_batch(const Kmem__AllocBatch *m, const size_t *part,
			       uint8_t *p)
{
	p = put_string(p, KEY(1, LEN), m->pool, part[0]);
	p = put_varint_field(p, KEY(2, VARINT), m->size);
	p = put_varint_field(p, KEY(3, VARINT), m->count);
	p = put_varint_field(p, KEY(4, VARINT), m->flags);
	p = put_varint_field(p, KEY(5, VARINT), m->align);
	p = put_string(p, KEY(6, LEN), m->tag, part[1]);
	return pk_magazine(m->magazine, m->n_magazine_objects,
			   m->magazine_objects, m->n_magazine_bytes,
			   m->magazine_bytes, &part[2], p);
}

static size_t sz_free_batch(const Kmem__FreeBatch *m, size_t *part)
{
	size_t mag;

	if (!plain(&m->base, &kmem__free_batch__descriptor) ||
	    !array_ok(m->n_ids, m->ids))
		return DECLINE;
	mag = sz_magazine(m->magazine, m->n_magazine_objects,
			  m->magazine_objects, m->n_magazine_bytes,
			  m->magazine_bytes, &part[1]);
	if (mag == DECLINE)
		return DECLINE;
	return sz_packed(KEY(1, LEN), m->ids, m->n_ids, &part[0]) + mag;
}

static uint8_t *pk_free_batch(const Kmem__FreeBatch *m, const size_t *part,
			      uint8_t *p)
{
	p = put_packed(p, KEY(1, LEN), m->ids, m->n_ids, part[0]);
	return pk_magazine(m->magazine, m->n_magazine_objects,
			   m->magazine_objects, m->n_magazine_bytes,
			   m->magazine_bytes, &part[1], p);
}

/* CacheAlloc.name is written when its case is set and it is neither NULL
 * nor the descriptor's default (the shared empty string); another empty
 * string is written, empty. */
static int cache_name_present(const Kmem__CacheAlloc *m)
{
	return m->cache_case == KMEM__CACHE_ALLOC__CACHE_NAME && m->name &&
	       m->name != protobuf_c_empty_string;
}

static size_t sz_cache_alloc(const Kmem__CacheAlloc *m, size_t *part)
{
	size_t n, mag;

	if (!plain(&m->base, &kmem__cache_alloc__descriptor))
		return DECLINE;
	mag = sz_magazine(m->magazine, m->n_magazine_objects,
			  m->magazine_objects, m->n_magazine_bytes,
			  m->magazine_bytes, &part[2]);
	if (mag == DECLINE)
		return DECLINE;
	switch (m->cache_case) {
	case KMEM__CACHE_ALLOC__CACHE__NOT_SET: n = 0; break;
	case KMEM__CACHE_ALLOC__CACHE_NAME:
		part[0] = cache_name_present(m) ? strlen(m->name) : 0;
		n = cache_name_present(m) ? sz_len(KEY(1, LEN), part[0]) : 0;
		break;
	case KMEM__CACHE_ALLOC__CACHE_CACHE_ID:
		n = 1 + kmem__pb_varint_size(m->cache_id);
		break;
	default: return DECLINE;
	}
	return n + sz_varint(KEY(3, VARINT), m->count) +
	       sz_string(KEY(4, LEN), m->tag, &part[1]) + mag;
}

static uint8_t *pk_cache_alloc(const Kmem__CacheAlloc *m, const size_t *part,
			       uint8_t *p)
{
	if (cache_name_present(m))
		p = put_len(p, KEY(1, LEN), m->name, part[0]);
	if (m->cache_case == KMEM__CACHE_ALLOC__CACHE_CACHE_ID) {
		*p++ = KEY(2, VARINT);
		p = kmem__pb_put_varint(p, m->cache_id);
	}
	p = put_varint_field(p, KEY(3, VARINT), m->count);
	p = put_string(p, KEY(4, LEN), m->tag, part[1]);
	return pk_magazine(m->magazine, m->n_magazine_objects,
			   m->magazine_objects, m->n_magazine_bytes,
			   m->magazine_bytes, &part[2], p);
}

static size_t sz_cache_free(const Kmem__CacheFree *m, size_t *part)
{
	if (!plain(&m->base, &kmem__cache_free__descriptor) ||
	    !array_ok(m->n_ids, m->ids))
		return DECLINE;
	return sz_packed(KEY(1, LEN), m->ids, m->n_ids, &part[0]);
}

static uint8_t *pk_cache_free(const Kmem__CacheFree *m, const size_t *part,
			      uint8_t *p)
{
	return put_packed(p, KEY(1, LEN), m->ids, m->n_ids, part[0]);
}

/*
 * The Request's body into pl->body: -1 to decline, 0 when nothing is
 * written (no case, or a case with a NULL member, which protobuf-c skips
 * too), 1 when it is.
 */
static int request_body_size(const Kmem__Request *r,
			     struct kmem__fastpb_plan *pl)
{
	size_t n;

	if (r->body_case == KMEM__REQUEST__BODY__NOT_SET)
		return 0;
	/* Every member of the union is a pointer: test any. */
	if (!r->ping) {
		switch (r->body_case) {
		case KMEM__REQUEST__BODY_PING: case KMEM__REQUEST__BODY_ALLOC:
		case KMEM__REQUEST__BODY_FREE:
		case KMEM__REQUEST__BODY_ALLOC_BATCH:
		case KMEM__REQUEST__BODY_FREE_BATCH:
		case KMEM__REQUEST__BODY_CACHE_ALLOC:
		case KMEM__REQUEST__BODY_CACHE_FREE:
			return 0;
		default: return -1;
		}
	}
	switch (r->body_case) {
	case KMEM__REQUEST__BODY_PING: n = sz_ping(r->ping, pl->part); break;
	case KMEM__REQUEST__BODY_ALLOC: n = sz_alloc(r->alloc, pl->part); break;
	case KMEM__REQUEST__BODY_FREE: n = sz_free(r->free, pl->part); break;
	case KMEM__REQUEST__BODY_ALLOC_BATCH:
		n = sz_alloc_batch(r->alloc_batch, pl->part);
		break;
	case KMEM__REQUEST__BODY_FREE_BATCH:
		n = sz_free_batch(r->free_batch, pl->part);
		break;
	case KMEM__REQUEST__BODY_CACHE_ALLOC:
		n = sz_cache_alloc(r->cache_alloc, pl->part);
		break;
	case KMEM__REQUEST__BODY_CACHE_FREE:
		n = sz_cache_free(r->cache_free, pl->part);
		break;
	default: return -1;
	}
	if (n == DECLINE)
		return -1;
	pl->body = n;
	return 1;
}

size_t kmem__fastpb_request_size(const Kmem__Request *r,
				 struct kmem__fastpb_plan *pl)
{
	int body;
	size_t n;

	if (!kmem__fastpb_ready() || !plain(&r->base, &kmem__request__descriptor))
		return DECLINE;
	body = request_body_size(r, pl);
	if (body < 0)
		return DECLINE;
	n = sz_varint(KEY(1, VARINT), r->seq);
	if (body)
		n += sz_len(KEY(r->body_case, LEN), pl->body);
	else
		pl->body = DECLINE;
	return n;
}

size_t kmem__fastpb_pack_request(const Kmem__Request *r,
				 const struct kmem__fastpb_plan *pl,
				 uint8_t *out)
{
	uint8_t *p = put_varint_field(out, KEY(1, VARINT), r->seq);

	if (pl->body != DECLINE) {
		p = kmem__pb_put_varint(p, KEY(r->body_case, LEN));
		p = kmem__pb_put_varint(p, pl->body);
		switch (r->body_case) {
		case KMEM__REQUEST__BODY_PING:
			p = pk_ping(r->ping, pl->part, p);
			break;
		case KMEM__REQUEST__BODY_ALLOC:
			p = pk_alloc(r->alloc, pl->part, p);
			break;
		case KMEM__REQUEST__BODY_FREE:
			p = pk_free(r->free, pl->part, p);
			break;
		case KMEM__REQUEST__BODY_ALLOC_BATCH:
			p = pk_alloc_batch(r->alloc_batch, pl->part, p);
			break;
		case KMEM__REQUEST__BODY_FREE_BATCH:
			p = pk_free_batch(r->free_batch, pl->part, p);
			break;
		case KMEM__REQUEST__BODY_CACHE_ALLOC:
			p = pk_cache_alloc(r->cache_alloc, pl->part, p);
			break;
		case KMEM__REQUEST__BODY_CACHE_FREE:
			p = pk_cache_free(r->cache_free, pl->part, p);
			break;
		default: break;
		}
	}
	return (size_t)(p - out);
}

/* ------------------------------------------------------------ responses */

static size_t sz_pong(const Kmem__Pong *m, size_t *part)
{
	(void)part;
	if (!plain(&m->base, &kmem__pong__descriptor) ||
	    !array_ok(m->payload.len, m->payload.data))
		return DECLINE;
	return m->payload.len ? sz_len(KEY(1, LEN), m->payload.len) : 0;
}

static uint8_t *pk_pong(const Kmem__Pong *m, const size_t *part, uint8_t *p)
{
	(void)part;
	if (m->payload.len)
		p = put_len(p, KEY(1, LEN), m->payload.data, m->payload.len);
	return p;
}

/* A Lease without segments (a scatter lease is left to protobuf-c). */
static size_t sz_lease(const Kmem__Lease *m, size_t *part)
{
	if (!plain(&m->base, &kmem__lease__descriptor) || m->n_segments)
		return DECLINE;
	return sz_varint(KEY(1, VARINT), m->id) +
	       sz_varint(KEY(2, VARINT), m->pool_index) +
	       sz_varint(KEY(3, VARINT), m->offset) +
	       sz_varint(KEY(4, VARINT), m->length) +
	       sz_varint(KEY(5, VARINT), m->phys) +
	       sz_string(KEY(7, LEN), m->name, &part[0]) +
	       sz_string(KEY(8, LEN), m->tag, &part[1]);
}

static uint8_t *pk_lease(const Kmem__Lease *m, const size_t *part, uint8_t *p)
{
	p = put_varint_field(p, KEY(1, VARINT), m->id);
	p = put_varint_field(p, KEY(2, VARINT), m->pool_index);
	p = put_varint_field(p, KEY(3, VARINT), m->offset);
	p = put_varint_field(p, KEY(4, VARINT), m->length);
	p = put_varint_field(p, KEY(5, VARINT), m->phys);
	p = put_string(p, KEY(7, LEN), m->name, part[0]);
	return put_string(p, KEY(8, LEN), m->tag, part[1]);
}

static size_t sz_lease_batch(const Kmem__LeaseBatch *m, size_t *part)
{
	if (!plain(&m->base, &kmem__lease_batch__descriptor) ||
	    !array_ok(m->n_ids, m->ids) || !array_ok(m->n_offsets, m->offsets) ||
	    !array_ok(m->n_phys, m->phys))
		return DECLINE;
	return sz_varint(KEY(1, VARINT), m->pool_index) +
	       sz_varint(KEY(2, VARINT), m->length) +
	       sz_packed(KEY(3, LEN), m->ids, m->n_ids, &part[0]) +
	       sz_packed(KEY(4, LEN), m->offsets, m->n_offsets, &part[1]) +
	       sz_packed(KEY(5, LEN), m->phys, m->n_phys, &part[2]);
}

static uint8_t *pk_lease_batch(const Kmem__LeaseBatch *m, const size_t *part,
			       uint8_t *p)
{
	p = put_varint_field(p, KEY(1, VARINT), m->pool_index);
	p = put_varint_field(p, KEY(2, VARINT), m->length);
	p = put_packed(p, KEY(3, LEN), m->ids, m->n_ids, part[0]);
	p = put_packed(p, KEY(4, LEN), m->offsets, m->n_offsets, part[1]);
	return put_packed(p, KEY(5, LEN), m->phys, m->n_phys, part[2]);
}

/* As request_body_size(), for a Response. */
static int response_body_size(const Kmem__Response *r,
			      struct kmem__fastpb_plan *pl)
{
	size_t n;

	if (r->body_case == KMEM__RESPONSE__BODY__NOT_SET)
		return 0;
	if (!r->pong) {
		switch (r->body_case) {
		case KMEM__RESPONSE__BODY_PONG: case KMEM__RESPONSE__BODY_LEASE:
		case KMEM__RESPONSE__BODY_LEASE_BATCH:
			return 0;
		default: return -1;
		}
	}
	switch (r->body_case) {
	case KMEM__RESPONSE__BODY_PONG: n = sz_pong(r->pong, pl->part); break;
	case KMEM__RESPONSE__BODY_LEASE: n = sz_lease(r->lease, pl->part); break;
	case KMEM__RESPONSE__BODY_LEASE_BATCH:
		n = sz_lease_batch(r->lease_batch, pl->part);
		break;
	default: return -1;
	}
	if (n == DECLINE)
		return -1;
	pl->body = n;
	return 1;
}

/* Response.status, an enum: int32 on the wire, so a negative one takes
 * ten bytes. */
static inline uint64_t enum_wire(int v)
{
	return (uint64_t)(int64_t)v;
}

size_t kmem__fastpb_response_size(const Kmem__Response *r,
				  struct kmem__fastpb_plan *pl)
{
	int body;
	size_t n;

	if (!kmem__fastpb_ready() ||
	    !plain(&r->base, &kmem__response__descriptor))
		return DECLINE;
	body = response_body_size(r, pl);
	if (body < 0)
		return DECLINE;
	n = sz_varint(KEY(1, VARINT), r->seq) +
	    sz_varint(KEY(2, VARINT), enum_wire(r->status)) +
	    sz_string(KEY(3, LEN), r->message, &pl->text);
	if (body)
		n += sz_len(KEY(r->body_case, LEN), pl->body);
	else
		pl->body = DECLINE;
	return n;
}

size_t kmem__fastpb_pack_response(const Kmem__Response *r,
				  const struct kmem__fastpb_plan *pl,
				  uint8_t *out)
{
	uint8_t *p = put_varint_field(out, KEY(1, VARINT), r->seq);

	p = put_varint_field(p, KEY(2, VARINT), enum_wire(r->status));
	p = put_string(p, KEY(3, LEN), r->message, pl->text);
	if (pl->body != DECLINE) {
		p = kmem__pb_put_varint(p, KEY(r->body_case, LEN));
		p = kmem__pb_put_varint(p, pl->body);
		switch (r->body_case) {
		case KMEM__RESPONSE__BODY_PONG:
			p = pk_pong(r->pong, pl->part, p);
			break;
		case KMEM__RESPONSE__BODY_LEASE:
			p = pk_lease(r->lease, pl->part, p);
			break;
		case KMEM__RESPONSE__BODY_LEASE_BATCH:
			p = pk_lease_batch(r->lease_batch, pl->part, p);
			break;
		default: break;
		}
	}
	return (size_t)(p - out);
}
