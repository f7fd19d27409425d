/*
 * proto/fastpb.c - hand-written decoding of the hot protocol messages.
 *
 * What.  Pipelined single requests spend a third of kmemd's time per
 * message in protobuf-c: its generic code walks every field descriptor of
 * Request and Response (whose oneof bodies have 15 and 7 members), scans a
 * message twice (once to count repeated fields, once to parse) and looks
 * every tag up by binary search, so unpacking a Request costs about 1,100
 * instructions and packing a Response about 1,200.  This file and
 * fastpb_pack.c code the few messages that carry almost all the traffic
 * directly, one switch per message:
 *   daemon decodes  Request with body Ping, Alloc, Free, AllocBatch,
 *                   FreeBatch, CacheAlloc, CacheFree, or none;
 *   daemon encodes  Response with body Pong, Lease, LeaseBatch, or none;
 * and the client library the mirror images (encodes those Requests,
 * decodes those Responses).  The wire format does not change.
 *
 * Exactness.  The result is what protobuf-c 1.4 gives, not something
 * close: the decoder fills the generated Kmem__* structures from their
 * *_INIT values (counts, oneof cases, strings and shared defaults as
 * protobuf-c leaves them) and allocates through the caller's allocator
 * the very blocks protobuf-c allocates - the message, each submessage, a
 * copy of each string present (length + 1, NUL-terminated, even when
 * empty), a copy of non-empty bytes (empty bytes stay NULL), one array per
 * packed field of exactly as many elements as it holds (none when it is
 * empty) - so protobuf_c_message_free_unpacked() frees a fast-decoded
 * message like any other, with malloc or with the daemon's arena.  The
 * encoder writes protobuf-c's bytes: fields in number order, proto3
 * zeros, empty strings and empty bytes left out, oneof members written
 * whenever their case is set (zero included; a NULL message or string
 * member, or the shared empty string, is left out), packed repeated
 * scalars, negative enums in ten bytes.
 *
 * The fallback rule.  Whenever the input is anything but the plain case,
 * the code declines and frame.c uses protobuf-c, which decides; so
 * correctness never depends on this code's coverage, only on its being
 * exact where it accepts.  Decoding declines on another body, an unknown
 * field, a field given twice (protobuf-c would merge or take the last), a
 * wrong wire type, an encoding that is valid but not the shortest (an
 * overlong varint, tag or length; a bool other than 0 or 1; a uint32 or
 * enum value past its range; a negative enum) and an allocation failure;
 * what it allocated is freed first.  Encoding declines on another body, a
 * oneof case it does not know, unknown fields, a message whose descriptor
 * is not the expected one, and arrays or bytes with a count but no data.
 * Finally, fastpb_check.c compares the generated descriptors with what
 * this code was written for, once; if kmem.proto changes a hot message
 * (a field added, say) every function declines until the codec is
 * updated, and test_fastpb says which message changed.
 *
 * Proof.  tests/unit/test_fastpb.c compares every hot message at its edge
 * values with protobuf-c, bytes and trees; tests/fuzz/fuzz_fastpb.c feeds
 * arbitrary bytes to both decoders and requires that whatever the fast one
 * accepts, protobuf-c accepts into the same tree and both re-encode to
 * protobuf-c's bytes.
 *
 * Freeing.  The client frees every reply it decodes, and protobuf-c's
 * free walks every field descriptor too, so a Response of the shapes
 * decoded here (whoever decoded it) is freed by fastpb_free.c, block by
 * block as protobuf_c_message_free_unpacked() frees it; any other goes to
 * protobuf-c.  (The daemon frees nothing: its arena is reset after each
 * request.)
 *
 * Cost: one pass over the input, a switch per field, no lookups; a packed
 * array is scanned twice (count, then parse), as protobuf-c must size it
 * before filling it.  In kmemd (callgrind, pipelined) decoding a Ping or
 * an Alloc/Free takes about 270-330 instructions where protobuf-c took
 * 990-1,250, allocations included; encoding their answers 225-280 where
 * it took 1,030-1,380.
 */
#include <stdlib.h>
#include <string.h>

#include "fastpb.h"

#define VARINT KMEM__PB_VARINT
#define LEN KMEM__PB_LEN
#define KEY(num, wt) KMEM__PB_KEY(num, wt)

/* The unread part of a message. */
struct rd {
	const uint8_t *p, *end;
};

/* ------------------------------------------------------------ allocation */

/* protobuf-c's own allocator for NULL is malloc/free. */
static void *pb_alloc(ProtobufCAllocator *a, size_t n)
{
	return a ? a->alloc(a->allocator_data, n) : malloc(n);
}

/* Undo a message built so far, as protobuf-c's error path does. */
static int discard(ProtobufCMessage *m, ProtobufCAllocator *a)
{
	protobuf_c_message_free_unpacked(m, a);
	return 0;
}

/* ------------------------------------------------------------ primitives */

/*
 * A canonical varint: the shortest encoding of a value below 2^64 (no
 * trailing zero byte, no bits past the 64th).  protobuf-c also takes
 * overlong ones; declining them keeps this parser trivially equal to it.
 */
static inline int get_varint(struct rd *r, uint64_t *v)
{
	const uint8_t *p = r->p;
	uint64_t x = 0;
	unsigned shift = 0;
	uint8_t b;

	if (p != r->end && *p < 0x80) {
		*v = *p;
		r->p = p + 1;
		return 1;
	}
	do {
		if (p == r->end || shift > 63)
			return 0;
		b = *p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (b == 0 || (shift == 70 && b > 1))
		return 0;
	*v = x;
	r->p = p;
	return 1;
}

static inline int get_u32(struct rd *r, uint32_t *v)
{
	uint64_t x;

	if (!get_varint(r, &x) || x > UINT32_MAX)
		return 0;
	*v = (uint32_t)x;
	return 1;
}

/* An enum: protobuf-c keeps any int32; only 0..INT32_MAX is taken here
 * (a negative one takes ten bytes on the wire). */
static inline int get_enum(struct rd *r, int *v)
{
	uint64_t x;

	if (!get_varint(r, &x) || x > INT32_MAX)
		return 0;
	*v = (int)x;
	return 1;
}

static inline int get_sint32(struct rd *r, int32_t *v)
{
	uint32_t z;

	if (!get_u32(r, &z))
		return 0;
	*v = (int32_t)((z >> 1) ^ (0u - (z & 1)));
	return 1;
}

static inline int get_bool(struct rd *r, protobuf_c_boolean *v)
{
	if (r->p == r->end || *r->p > 1)
		return 0;
	*v = *r->p++;
	return 1;
}

/* The key of the next field (number << 3 | wire type), from a tag of one
 * or two bytes in its shortest form; r is not empty. */
static inline int get_key(struct rd *r, uint32_t *key)
{
	const uint8_t *p = r->p;

	if (p[0] < 0x80) {
		*key = p[0];
		r->p = p + 1;
		return 1;
	}
	if (r->end - p < 2 || p[1] == 0 || p[1] >= 0x80)
		return 0;
	*key = (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
	r->p = p + 2;
	return 1;
}

/* Mark the key's field seen; 0 if it was, or if its number is 0 (to
 * protobuf-c an unknown field) or past 31 (no hot message has one). */
static inline int first(uint32_t *seen, uint32_t key)
{
	uint32_t num = key >> 3;

	if (num == 0 || num > 31 || (*seen >> num & 1))
		return 0;
	*seen |= 1u << num;
	return 1;
}

/* A length-delimited field's contents, taken off r. */
static inline int get_len(struct rd *r, struct rd *in)
{
	uint64_t n;

	if (!get_varint(r, &n) || n > (uint64_t)(r->end - r->p) ||
	    n > INT32_MAX)
		return 0;
	in->p = r->p;
	in->end = r->p + n;
	r->p += n;
	return 1;
}

static int get_string(struct rd *r, ProtobufCAllocator *a, char **out)
{
	struct rd in;
	size_t n;
	char *s;

	if (!get_len(r, &in))
		return 0;
	n = (size_t)(in.end - in.p);
	s = pb_alloc(a, n + 1);
	if (!s)
		return 0;
	if (n)
		memcpy(s, in.p, n);
	s[n] = '\0';
	*out = s;
	return 1;
}

static int get_bytes(struct rd *r, ProtobufCAllocator *a,
		     ProtobufCBinaryData *out)
{
	struct rd in;
	size_t n;

	if (!get_len(r, &in))
		return 0;
	n = (size_t)(in.end - in.p);
	if (n) {
		out->data = pb_alloc(a, n);
		if (!out->data)
			return 0;
		memcpy(out->data, in.p, n);
	}
	out->len = n;
	return 1;
}

/*
 * A packed repeated uint64, sized as protobuf-c sizes it (one element per
 * byte that ends a varint).  The array is stored before it is filled, so a
 * failure midway leaves it to the caller's discard().
 */
static int get_packed(struct rd *r, ProtobufCAllocator *a, size_t *n_out,
		      uint64_t **out)
{
	struct rd in;
	size_t n = 0;
	uint64_t *v;

	if (!get_len(r, &in))
		return 0;
	for (const uint8_t *p = in.p; p != in.end; p++)
		n += *p < 0x80;
	if (n == 0)
		return in.p == in.end;
	v = pb_alloc(a, n * sizeof(*v));
	if (!v)
		return 0;
	*out = v;
	for (size_t i = 0; i < n; i++)
		if (!get_varint(&in, &v[i]))
			return 0;
	if (in.p != in.end)
		return 0;
	*n_out = n;
	return 1;
}

/* ------------------------------------------------------------ requests */

/*
 * Each decoder below allocates its message, starts it from the generated
 * *_INIT value, and fills it field by field; the fields may come in any
 * order but each at most once.  On anything it does not take it frees
 * what it built and returns 0.
 */

static int dec_ping(struct rd *r, ProtobufCAllocator *a, Kmem__Ping **out)
{
	Kmem__Ping *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;

	if (!m)
		return 0;
	*m = (Kmem__Ping)KMEM__PING__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		if (key != KEY(1, LEN) || !get_bytes(r, a, &m->payload))
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

static int dec_alloc(struct rd *r, ProtobufCAllocator *a, Kmem__Alloc **out)
{
	Kmem__Alloc *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;
	int ok;

	if (!m)
		return 0;
	*m = (Kmem__Alloc)KMEM__ALLOC__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		switch (key) {
		case KEY(1, LEN): ok = get_string(r, a, &m->pool); break;
		case KEY(2, VARINT): ok = get_varint(r, &m->size); break;
		case KEY(3, VARINT): ok = get_varint(r, &m->align); break;
		case KEY(4, VARINT): ok = get_u32(r, &m->flags); break;
		case KEY(5, VARINT):
			ok = get_sint32(r, &m->node);
			m->numa_case = KMEM__ALLOC__NUMA_NODE;
			break;
		case KEY(6, VARINT): ok = get_varint(r, &m->dma_mask); break;
		case KEY(7, VARINT): ok = get_varint(r, &m->boundary); break;
		case KEY(8, LEN): ok = get_string(r, a, &m->name); break;
		case KEY(9, LEN): ok = get_string(r, a, &m->tag); break;
		case KEY(10, VARINT): ok = get_bool(r, &m->persist); break;
		case KEY(11, VARINT): ok = get_u32(r, &m->timeout_ms); break;
		default: ok = 0; break;
		}
		if (!ok)
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

static int dec_free(struct rd *r, ProtobufCAllocator *a, Kmem__Free **out)
{
	Kmem__Free *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;

	if (!m)
		return 0;
	*m = (Kmem__Free)KMEM__FREE__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		if (key != KEY(1, VARINT) || !get_varint(r, &m->id))
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

static int dec_alloc_batch(struct rd *r, ProtobufCAllocator *a,
			   Kmem__AllocBatch **out)
{
	Kmem__AllocBatch *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;
	int ok;

	if (!m)
		return 0;
	*m = (Kmem__AllocBatch)KMEM__ALLOC_BATCH__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		switch (key) {
		case KEY(1, LEN): ok = get_string(r, a, &m->pool); break;
		case KEY(2, VARINT): ok = get_varint(r, &m->size); break;
		case KEY(3, VARINT): ok = get_u32(r, &m->count); break;
		case KEY(4, VARINT): ok = get_u32(r, &m->flags); break;
		case KEY(5, VARINT): ok = get_varint(r, &m->align); break;
		case KEY(6, LEN): ok = get_string(r, a, &m->tag); break;
		case KEY(20, VARINT): ok = get_bool(r, &m->magazine); break;
		case KEY(21, LEN):
			ok = get_packed(r, a, &m->n_magazine_objects,
					&m->magazine_objects);
			break;
		case KEY(22, LEN):
			ok = get_packed(r, a, &m->n_magazine_bytes,
					&m->magazine_bytes);
			break;
		default: ok = 0; break;
		}
		if (!ok)
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

static int dec_free_batch(struct rd *r, ProtobufCAllocator *a,
			  Kmem__FreeBatch **out)
{
	Kmem__FreeBatch *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;
	int ok;

	if (!m)
		return 0;
	*m = (Kmem__FreeBatch)KMEM__FREE_BATCH__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		switch (key) {
		case KEY(1, LEN): ok = get_packed(r, a, &m->n_ids, &m->ids); break;
		case KEY(20, VARINT): ok = get_bool(r, &m->magazine); break;
		case KEY(21, LEN):
			ok = get_packed(r, a, &m->n_magazine_objects,
					&m->magazine_objects);
			break;
		case KEY(22, LEN):
			ok = get_packed(r, a, &m->n_magazine_bytes,
					&m->magazine_bytes);
			break;
		default: ok = 0; break;
		}
		if (!ok)
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

static int dec_cache_alloc(struct rd *r, ProtobufCAllocator *a,
			   Kmem__CacheAlloc **out)
{
	Kmem__CacheAlloc *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;
	int ok;

	if (!m)
		return 0;
	*m = (Kmem__CacheAlloc)KMEM__CACHE_ALLOC__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		switch (key) {
		case KEY(1, LEN):
			/* The oneof: the case is set only once the member
			 * holds a block, so that discard() sees a consistent
			 * message; name and cache_id both is declined. */
			ok = m->cache_case == KMEM__CACHE_ALLOC__CACHE__NOT_SET &&
			     get_string(r, a, &m->name);
			if (ok)
				m->cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
			break;
		case KEY(2, VARINT):
			ok = m->cache_case == KMEM__CACHE_ALLOC__CACHE__NOT_SET &&
			     get_varint(r, &m->cache_id);
			if (ok)
				m->cache_case = KMEM__CACHE_ALLOC__CACHE_CACHE_ID;
			break;
		case KEY(3, VARINT): ok = get_u32(r, &m->count); break;
		case KEY(4, LEN): ok = get_string(r, a, &m->tag); break;
		case KEY(20, VARINT): ok = get_bool(r, &m->magazine); break;
		case KEY(21, LEN):
			ok = get_packed(r, a, &m->n_magazine_objects,
					&m->magazine_objects);
			break;
		case KEY(22, LEN):
			ok = get_packed(r, a, &m->n_magazine_bytes,
					&m->magazine_bytes);
			break;
		default: ok = 0; break;
		}
		if (!ok)
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

static int dec_cache_free(struct rd *r, ProtobufCAllocator *a,
			  Kmem__CacheFree **out)
{
	Kmem__CacheFree *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;

	if (!m)
		return 0;
	*m = (Kmem__CacheFree)KMEM__CACHE_FREE__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		if (key != KEY(1, LEN) || !get_packed(r, a, &m->n_ids, &m->ids))
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

/* Whether a Request body of field number num is one decoded here. */
static int hot_request_body(uint32_t num)
{
	switch (num) {
	case KMEM__REQUEST__BODY_PING: case KMEM__REQUEST__BODY_ALLOC:
	case KMEM__REQUEST__BODY_FREE: case KMEM__REQUEST__BODY_ALLOC_BATCH:
	case KMEM__REQUEST__BODY_FREE_BATCH:
	case KMEM__REQUEST__BODY_CACHE_ALLOC:
	case KMEM__REQUEST__BODY_CACHE_FREE:
		return 1;
	default:
		return 0;
	}
}

/* The body of field number num into q (its case set only on success). */
static int dec_request_body(Kmem__Request *q, uint32_t num, struct rd *in,
			    ProtobufCAllocator *a)
{
	int ok;

	switch (num) {
	case KMEM__REQUEST__BODY_PING: ok = dec_ping(in, a, &q->ping); break;
	case KMEM__REQUEST__BODY_ALLOC: ok = dec_alloc(in, a, &q->alloc); break;
	case KMEM__REQUEST__BODY_FREE: ok = dec_free(in, a, &q->free); break;
	case KMEM__REQUEST__BODY_ALLOC_BATCH:
		ok = dec_alloc_batch(in, a, &q->alloc_batch);
		break;
	case KMEM__REQUEST__BODY_FREE_BATCH:
		ok = dec_free_batch(in, a, &q->free_batch);
		break;
	case KMEM__REQUEST__BODY_CACHE_ALLOC:
		ok = dec_cache_alloc(in, a, &q->cache_alloc);
		break;
	case KMEM__REQUEST__BODY_CACHE_FREE:
		ok = dec_cache_free(in, a, &q->cache_free);
		break;
	default: return 0;
	}
	if (ok)
		q->body_case = (Kmem__Request__BodyCase)num;
	return ok;
}

/*
 * The top level of a message with a seq (1), maybe more varints, and one
 * oneof body: seq and the body's key and contents, read in one pass before
 * anything is allocated.  Key 2 << 3 (Response.status) is taken when
 * status is not NULL.
 */
static int scan_top(const uint8_t *payload, size_t len, uint64_t *seq,
		    int *status, struct rd *text, uint32_t *body_key,
		    struct rd *body)
{
	struct rd r = { payload, payload ? payload + len : payload };
	uint32_t key, seen = 0;
	int ok;

	*body_key = 0;
	while (r.p != r.end) {
		if (!get_key(&r, &key) || !first(&seen, key))
			return 0;
		if (key == KEY(1, VARINT))
			ok = get_varint(&r, seq);
		else if (key == KEY(2, VARINT) && status)
			ok = get_enum(&r, status);
		else if (key == KEY(3, LEN) && text)
			ok = get_len(&r, text);
		else if ((key & 7) == LEN && !*body_key) {
			*body_key = key;
			ok = get_len(&r, body);
		} else
			ok = 0;
		if (!ok)
			return 0;
	}
	return 1;
}

/*
 * The top level as protobuf-c and this codec write it: seq, status and
 * message (a Response's; status and text are NULL for a Request) when
 * not empty, then the body if any, each tag in one byte.  This layout,
 * taken in straight-line code, costs half of scan_top(); any other goes
 * through scan_top(), which reads the same fields again from the start.
 */
static inline int scan_canonical(const uint8_t *payload, size_t len,
				 uint64_t *seq, int *status, struct rd *text,
				 uint32_t *body_key, struct rd *body)
{
	struct rd r = { payload, payload ? payload + len : payload };

	*body_key = 0;
	if (r.p != r.end && *r.p == KEY(1, VARINT)) {
		r.p++;
		if (!get_varint(&r, seq))
			return 0;
	}
	if (status && r.p != r.end && *r.p == KEY(2, VARINT)) {
		r.p++;
		if (!get_enum(&r, status))
			return 0;
	}
	if (text && r.p != r.end && *r.p == KEY(3, LEN)) {
		r.p++;
		if (!get_len(&r, text))
			return 0;
	}
	if (r.p != r.end) {
		*body_key = *r.p++;
		/* A one-byte tag, length-delimited, of a field other than 0. */
		if ((*body_key & 0x87) != LEN || *body_key < 8 ||
		    !get_len(&r, body))
			return 0;
	}
	return r.p == r.end;
}

int kmem__fastpb_unpack_request(const uint8_t *payload, size_t len,
				ProtobufCAllocator *a, Kmem__Request **out)
{
	Kmem__Request *q;
	struct rd body;
	uint64_t seq = 0;
	uint32_t body_key;

	if (!kmem__fastpb_ready())
		return 0;
	if (!scan_canonical(payload, len, &seq, NULL, NULL, &body_key, &body) &&
	    !scan_top(payload, len, &seq, NULL, NULL, &body_key, &body))
		return 0;
	/* Other bodies are declined before anything is allocated. */
	if (body_key && !hot_request_body(body_key >> 3))
		return 0;
	q = pb_alloc(a, sizeof(*q));
	if (!q)
		return 0;
	*q = (Kmem__Request)KMEM__REQUEST__INIT;
	q->seq = seq;
	if (body_key && !dec_request_body(q, body_key >> 3, &body, a))
		return discard(&q->base, a);
	*out = q;
	return 1;
}

/* ------------------------------------------------------------ responses */

static int dec_pong(struct rd *r, ProtobufCAllocator *a, Kmem__Pong **out)
{
	Kmem__Pong *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;

	if (!m)
		return 0;
	*m = (Kmem__Pong)KMEM__PONG__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		if (key != KEY(1, LEN) || !get_bytes(r, a, &m->payload))
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

/* A Lease without segments (a scatter lease is left to protobuf-c). */
static int dec_lease(struct rd *r, ProtobufCAllocator *a, Kmem__Lease **out)
{
	Kmem__Lease *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;
	int ok;

	if (!m)
		return 0;
	*m = (Kmem__Lease)KMEM__LEASE__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		switch (key) {
		case KEY(1, VARINT): ok = get_varint(r, &m->id); break;
		case KEY(2, VARINT): ok = get_u32(r, &m->pool_index); break;
		case KEY(3, VARINT): ok = get_varint(r, &m->offset); break;
		case KEY(4, VARINT): ok = get_varint(r, &m->length); break;
		case KEY(5, VARINT): ok = get_varint(r, &m->phys); break;
		case KEY(7, LEN): ok = get_string(r, a, &m->name); break;
		case KEY(8, LEN): ok = get_string(r, a, &m->tag); break;
		default: ok = 0; break;
		}
		if (!ok)
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

static int dec_lease_batch(struct rd *r, ProtobufCAllocator *a,
			   Kmem__LeaseBatch **out)
{
	Kmem__LeaseBatch *m = pb_alloc(a, sizeof(*m));
	uint32_t key, seen = 0;
	int ok;

	if (!m)
		return 0;
	*m = (Kmem__LeaseBatch)KMEM__LEASE_BATCH__INIT;
	while (r->p != r->end) {
		if (!get_key(r, &key) || !first(&seen, key))
			return discard(&m->base, a);
		switch (key) {
		case KEY(1, VARINT): ok = get_u32(r, &m->pool_index); break;
		case KEY(2, VARINT): ok = get_varint(r, &m->length); break;
		case KEY(3, LEN): ok = get_packed(r, a, &m->n_ids, &m->ids); break;
		case KEY(4, LEN):
			ok = get_packed(r, a, &m->n_offsets, &m->offsets);
			break;
		case KEY(5, LEN): ok = get_packed(r, a, &m->n_phys, &m->phys); break;
		default: ok = 0; break;
		}
		if (!ok)
			return discard(&m->base, a);
	}
	*out = m;
	return 1;
}

int kmem__fastpb_unpack_response(const uint8_t *payload, size_t len,
				 ProtobufCAllocator *a, Kmem__Response **out)
{
	Kmem__Response *q;
	struct rd text = { NULL, NULL }, body;
	uint64_t seq = 0;
	uint32_t body_key;
	int status = 0, ok;

	if (!kmem__fastpb_ready())
		return 0;
	if (!scan_canonical(payload, len, &seq, &status, &text, &body_key,
			    &body) &&
	    !scan_top(payload, len, &seq, &status, &text, &body_key, &body))
		return 0;
	switch (body_key >> 3) {
	case 0: case KMEM__RESPONSE__BODY_PONG: case KMEM__RESPONSE__BODY_LEASE:
	case KMEM__RESPONSE__BODY_LEASE_BATCH:
		break;
	default:
		return 0;
	}
	q = pb_alloc(a, sizeof(*q));
	if (!q)
		return 0;
	*q = (Kmem__Response)KMEM__RESPONSE__INIT;
	q->seq = seq;
	q->status = (Kmem__Status)status;
	/* A message present, even empty, is a block of its own. */
	if (text.p) {
		struct rd t = text;
		size_t n = (size_t)(t.end - t.p);
		char *s = pb_alloc(a, n + 1);

		if (!s)
			return discard(&q->base, a);
		memcpy(s, t.p, n);
		s[n] = '\0';
		q->message = s;
	}
	switch (body_key >> 3) {
	case 0: ok = 1; break;
	case KMEM__RESPONSE__BODY_PONG: ok = dec_pong(&body, a, &q->pong); break;
	case KMEM__RESPONSE__BODY_LEASE:
		ok = dec_lease(&body, a, &q->lease);
		break;
	case KMEM__RESPONSE__BODY_LEASE_BATCH:
		ok = dec_lease_batch(&body, a, &q->lease_batch);
		break;
	default: ok = 0; break;
	}
	if (!ok)
		return discard(&q->base, a);
	q->body_case = (Kmem__Response__BodyCase)(body_key >> 3);
	*out = q;
	return 1;
}

