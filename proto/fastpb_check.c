/*
 * proto/fastpb_check.c - what the hand-written codec (fastpb.c,
 * fastpb_pack.c) assumes of the generated code, checked; and the deep
 * comparison of two unpacked messages that its tests and fuzzer use.
 *
 * The codec writes the generated structures' fields by name and the wire
 * by field number, so it is right only for the kmem.proto it was written
 * for.  Below is, for each message it codes, every field as protoc-c
 * 1.4 describes it: number, label, type, offsets, sub-descriptor, default
 * and flags, plus the message's size.  kmem__fastpb_ready() compares them
 * with the real descriptors once; if anything differs (a field added to
 * a hot message, a type changed) the codec declines everything and
 * protobuf-c does all the work, so a stale codec is slow, never wrong;
 * and test_fastpb fails, naming the message, until it is brought up to
 * date.
 *
 * The one piece of process-wide state is the remembered answer: an
 * atomic int, written with the same value by whichever thread computes it
 * first, so it needs no lock and no initialisation call.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fastpb.h"

struct want {
	unsigned id;
	ProtobufCLabel label;
	ProtobufCType type;
	size_t quantifier_offset, offset;
	const void *descriptor, *default_value;
	uint32_t flags;
};

#define NONE PROTOBUF_C_LABEL_NONE
#define SCALAR(T, id, type, f) \
	{ id, NONE, PROTOBUF_C_TYPE_##type, 0, offsetof(T, f), NULL, NULL, 0 }
#define STRING(T, id, f) \
	{ id, NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(T, f), NULL, \
	  &protobuf_c_empty_string, 0 }
#define PACKED(T, id, f) \
	{ id, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_UINT64, \
	  offsetof(T, n_##f), offsetof(T, f), NULL, NULL, \
	  PROTOBUF_C_FIELD_FLAG_PACKED }
#define ONEOF(T, id, type, c, f, desc, def) \
	{ id, NONE, PROTOBUF_C_TYPE_##type, offsetof(T, c), offsetof(T, f), \
	  desc, def, PROTOBUF_C_FIELD_FLAG_ONEOF }
#define BODY(T, id, f, desc) ONEOF(T, id, MESSAGE, body_case, f, &desc, NULL)

static const struct want request_f[] = {
	SCALAR(Kmem__Request, 1, UINT64, seq),
	BODY(Kmem__Request, 2, hello, kmem__hello__descriptor),
	BODY(Kmem__Request, 3, alloc, kmem__alloc__descriptor),
	BODY(Kmem__Request, 4, free, kmem__free__descriptor),
	BODY(Kmem__Request, 5, alloc_batch, kmem__alloc_batch__descriptor),
	BODY(Kmem__Request, 6, free_batch, kmem__free_batch__descriptor),
	BODY(Kmem__Request, 7, cache_create, kmem__cache_create__descriptor),
	BODY(Kmem__Request, 8, cache_alloc, kmem__cache_alloc__descriptor),
	BODY(Kmem__Request, 9, cache_free, kmem__cache_free__descriptor),
	BODY(Kmem__Request, 10, cache_destroy, kmem__cache_destroy__descriptor),
	BODY(Kmem__Request, 11, lookup, kmem__lookup__descriptor),
	BODY(Kmem__Request, 12, detach, kmem__detach__descriptor),
	BODY(Kmem__Request, 13, stats, kmem__stats__descriptor),
	BODY(Kmem__Request, 14, ping, kmem__ping__descriptor),
	BODY(Kmem__Request, 16, debug, kmem__debug__descriptor),
	BODY(Kmem__Request, 17, verify, kmem__verify__descriptor),
};

static const struct want ping_f[] = {
	SCALAR(Kmem__Ping, 1, BYTES, payload),
};

static const struct want alloc_f[] = {
	STRING(Kmem__Alloc, 1, pool),
	SCALAR(Kmem__Alloc, 2, UINT64, size),
	SCALAR(Kmem__Alloc, 3, UINT64, align),
	SCALAR(Kmem__Alloc, 4, UINT32, flags),
	ONEOF(Kmem__Alloc, 5, SINT32, numa_case, node, NULL, NULL),
	SCALAR(Kmem__Alloc, 6, UINT64, dma_mask),
	SCALAR(Kmem__Alloc, 7, UINT64, boundary),
	STRING(Kmem__Alloc, 8, name),
	STRING(Kmem__Alloc, 9, tag),
	SCALAR(Kmem__Alloc, 10, BOOL, persist),
	SCALAR(Kmem__Alloc, 11, UINT32, timeout_ms),
};

static const struct want free_f[] = {
	SCALAR(Kmem__Free, 1, UINT64, id),
};

static const struct want alloc_batch_f[] = {
	STRING(Kmem__AllocBatch, 1, pool),
	SCALAR(Kmem__AllocBatch, 2, UINT64, size),
	SCALAR(Kmem__AllocBatch, 3, UINT32, count),
	SCALAR(Kmem__AllocBatch, 4, UINT32, flags),
	SCALAR(Kmem__AllocBatch, 5, UINT64, align),
	STRING(Kmem__AllocBatch, 6, tag),
	SCALAR(Kmem__AllocBatch, 20, BOOL, magazine),
	PACKED(Kmem__AllocBatch, 21, magazine_objects),
	PACKED(Kmem__AllocBatch, 22, magazine_bytes),
};

static const struct want free_batch_f[] = {
	PACKED(Kmem__FreeBatch, 1, ids),
	SCALAR(Kmem__FreeBatch, 20, BOOL, magazine),
	PACKED(Kmem__FreeBatch, 21, magazine_objects),
	PACKED(Kmem__FreeBatch, 22, magazine_bytes),
};

static const struct want cache_alloc_f[] = {
	ONEOF(Kmem__CacheAlloc, 1, STRING, cache_case, name, NULL,
	      &protobuf_c_empty_string),
	ONEOF(Kmem__CacheAlloc, 2, UINT64, cache_case, cache_id, NULL, NULL),
	SCALAR(Kmem__CacheAlloc, 3, UINT32, count),
	STRING(Kmem__CacheAlloc, 4, tag),
	SCALAR(Kmem__CacheAlloc, 20, BOOL, magazine),
	PACKED(Kmem__CacheAlloc, 21, magazine_objects),
	PACKED(Kmem__CacheAlloc, 22, magazine_bytes),
};

static const struct want cache_free_f[] = {
	PACKED(Kmem__CacheFree, 1, ids),
};

static const struct want response_f[] = {
	SCALAR(Kmem__Response, 1, UINT64, seq),
	{ 2, NONE, PROTOBUF_C_TYPE_ENUM, 0, offsetof(Kmem__Response, status),
	  &kmem__status__descriptor, NULL, 0 },
	STRING(Kmem__Response, 3, message),
	BODY(Kmem__Response, 4, hello, kmem__hello_reply__descriptor),
	BODY(Kmem__Response, 5, lease, kmem__lease__descriptor),
	BODY(Kmem__Response, 6, lease_batch, kmem__lease_batch__descriptor),
	BODY(Kmem__Response, 7, cache, kmem__cache_info__descriptor),
	BODY(Kmem__Response, 8, stats, kmem__stats_reply__descriptor),
	BODY(Kmem__Response, 9, pong, kmem__pong__descriptor),
	BODY(Kmem__Response, 16, verify, kmem__verify_reply__descriptor),
};

static const struct want pong_f[] = {
	SCALAR(Kmem__Pong, 1, BYTES, payload),
};

static const struct want lease_f[] = {
	SCALAR(Kmem__Lease, 1, UINT64, id),
	SCALAR(Kmem__Lease, 2, UINT32, pool_index),
	SCALAR(Kmem__Lease, 3, UINT64, offset),
	SCALAR(Kmem__Lease, 4, UINT64, length),
	SCALAR(Kmem__Lease, 5, UINT64, phys),
	{ 6, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_MESSAGE,
	  offsetof(Kmem__Lease, n_segments), offsetof(Kmem__Lease, segments),
	  &kmem__segment__descriptor, NULL, 0 },
	STRING(Kmem__Lease, 7, name),
	STRING(Kmem__Lease, 8, tag),
};

static const struct want lease_batch_f[] = {
	SCALAR(Kmem__LeaseBatch, 1, UINT32, pool_index),
	SCALAR(Kmem__LeaseBatch, 2, UINT64, length),
	PACKED(Kmem__LeaseBatch, 3, ids),
	PACKED(Kmem__LeaseBatch, 4, offsets),
	PACKED(Kmem__LeaseBatch, 5, phys),
};

#define MSG(desc, T, f) { &desc, sizeof(T), f, sizeof(f) / sizeof(f[0]) }

static const struct {
	const ProtobufCMessageDescriptor *desc;
	size_t size;
	const struct want *fields;
	unsigned n;
} hot[] = {
	MSG(kmem__request__descriptor, Kmem__Request, request_f),
	MSG(kmem__ping__descriptor, Kmem__Ping, ping_f),
	MSG(kmem__alloc__descriptor, Kmem__Alloc, alloc_f),
	MSG(kmem__free__descriptor, Kmem__Free, free_f),
	MSG(kmem__alloc_batch__descriptor, Kmem__AllocBatch, alloc_batch_f),
	MSG(kmem__free_batch__descriptor, Kmem__FreeBatch, free_batch_f),
	MSG(kmem__cache_alloc__descriptor, Kmem__CacheAlloc, cache_alloc_f),
	MSG(kmem__cache_free__descriptor, Kmem__CacheFree, cache_free_f),
	MSG(kmem__response__descriptor, Kmem__Response, response_f),
	MSG(kmem__pong__descriptor, Kmem__Pong, pong_f),
	MSG(kmem__lease__descriptor, Kmem__Lease, lease_f),
	MSG(kmem__lease_batch__descriptor, Kmem__LeaseBatch, lease_batch_f),
};

static int field_matches(const ProtobufCFieldDescriptor *f,
			 const struct want *w)
{
	return f->id == w->id && f->label == w->label && f->type == w->type &&
	       f->quantifier_offset == w->quantifier_offset &&
	       f->offset == w->offset && f->descriptor == w->descriptor &&
	       f->default_value == w->default_value && f->flags == w->flags;
}

const char *kmem__fastpb_check(void)
{
	for (size_t i = 0; i < sizeof(hot) / sizeof(hot[0]); i++) {
		const ProtobufCMessageDescriptor *d = hot[i].desc;

		if (d->sizeof_message != hot[i].size || d->n_fields != hot[i].n)
			return d->name;
		for (unsigned j = 0; j < d->n_fields; j++)
			if (!field_matches(&d->fields[j], &hot[i].fields[j]))
				return d->name;
	}
	return NULL;
}

int kmem__fastpb_ready(void)
{
	static atomic_int state;	/* 0 not checked, 1 ready, -1 not */
	int s = atomic_load_explicit(&state, memory_order_relaxed);

	if (s == 0) {
		s = kmem__fastpb_check() ? -1 : 1;
		atomic_store_explicit(&state, s, memory_order_relaxed);
	}
	return s > 0;
}

/* ------------------------------------------------------------ comparison */

static size_t elt_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* A string is NULL, the shared default, or a block of its own. */
static int string_kind(const char *s, const void *def)
{
	if (!s)
		return 0;
	return s == def || s == protobuf_c_empty_string ? 1 : 2;
}

static int differ(const ProtobufCMessageDescriptor *d, const char *what,
		  char *why, size_t whylen)
{
	if (why && whylen)
		snprintf(why, whylen, "%s.%s", d ? d->name : "(null)", what);
	return 0;
}

/* One value of field f at a and b (an element, for a repeated field). */
static int same_value(const ProtobufCFieldDescriptor *f, const void *a,
		      const void *b, char *why, size_t whylen)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *x = *(char *const *)a, *y = *(char *const *)b;

		return string_kind(x, f->default_value) ==
		       string_kind(y, f->default_value) &&
		       (!x || strcmp(x, y) == 0);
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *x = a, *y = b;

		return x->len == y->len && !x->data == !y->data &&
		       (!x->len || memcmp(x->data, y->data, x->len) == 0);
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return kmem__fastpb_same(*(ProtobufCMessage *const *)a,
					 *(ProtobufCMessage *const *)b, why,
					 whylen);
	default:
		return memcmp(a, b, elt_size(f->type)) == 0;
	}
}

static int same_repeated(const ProtobufCMessageDescriptor *d,
			 const ProtobufCFieldDescriptor *f, const char *a,
			 const char *b, char *why, size_t whylen)
{
	size_t n = *(const size_t *)(a + f->quantifier_offset);
	const char *x = *(char *const *)(a + f->offset);
	const char *y = *(char *const *)(b + f->offset);
	size_t sz = elt_size(f->type);

	if (n != *(const size_t *)(b + f->quantifier_offset) || !x != !y)
		return differ(d, f->name, why, whylen);
	for (size_t i = 0; i < n; i++)
		if (!same_value(f, x + i * sz, y + i * sz, why, whylen))
			/* A submessage's difference is already named. */
			return f->type == PROTOBUF_C_TYPE_MESSAGE ? 0 :
			       differ(d, f->name, why, whylen);
	return 1;
}

static int same_unknown(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	if (a->n_unknown_fields != b->n_unknown_fields)
		return 0;
	for (unsigned i = 0; i < a->n_unknown_fields; i++) {
		const ProtobufCMessageUnknownField *x = &a->unknown_fields[i];
		const ProtobufCMessageUnknownField *y = &b->unknown_fields[i];

		if (x->tag != y->tag || x->wire_type != y->wire_type ||
		    x->len != y->len || memcmp(x->data, y->data, x->len))
			return 0;
	}
	return 1;
}

int kmem__fastpb_same(const ProtobufCMessage *a, const ProtobufCMessage *b,
		      char *why, size_t whylen)
{
	const ProtobufCMessageDescriptor *d;

	if (!a || !b)
		return a == b ? 1 : differ(NULL, "(a message is NULL)", why,
					   whylen);
	d = a->descriptor;
	if (d != b->descriptor)
		return differ(d, "(descriptor)", why, whylen);
	if (!same_unknown(a, b))
		return differ(d, "(unknown fields)", why, whylen);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *x = (const char *)a, *y = (const char *)b;
		int ok;

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t c = *(const uint32_t *)(x + f->quantifier_offset);

			if (c != *(const uint32_t *)(y + f->quantifier_offset))
				return differ(d, f->name, why, whylen);
			if (c != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
			   f->quantifier_offset &&
			   memcmp(x + f->quantifier_offset,
				  y + f->quantifier_offset,
				  sizeof(protobuf_c_boolean))) {
			return differ(d, f->name, why, whylen);
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (!same_repeated(d, f, x, y, why, whylen))
				return 0;
			continue;
		}
		ok = same_value(f, x + f->offset, y + f->offset, why, whylen);
		/* A submessage's difference is already named, deeper. */
		if (!ok)
			return f->type == PROTOBUF_C_TYPE_MESSAGE ? 0 :
			       differ(d, f->name, why, whylen);
	}
	return 1;
}
