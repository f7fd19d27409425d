/*
 * proto/fastpb.h - hand-written coding of the hot protocol messages
 * (fastpb.c decodes, fastpb_pack.c encodes, fastpb_check.c holds what the
 * code assumes of the generated descriptors); private to proto/ and its
 * tests.  frame.c tries these first and falls back to protobuf-c whenever
 * they decline, so a caller never sees the difference: same structures,
 * same allocations, same bytes.
 */
#ifndef KMEM_PROTO_FASTPB_H
#define KMEM_PROTO_FASTPB_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "kmem.pb-c.h"

/* What the size functions return for a message they do not handle. */
#define KMEM_FASTPB_DECLINE SIZE_MAX

/*
 * Sizes computed by a size function and used again by the pack function
 * that follows it, so that nothing is measured twice: the body's length,
 * the Response message's, and those of the body's variable parts
 * (strings, packed arrays' payloads) in the order the body's fields come.
 */
struct kmem__fastpb_plan {
	size_t body;		/* KMEM_FASTPB_DECLINE: no body written */
	size_t text;		/* Response.message */
	size_t part[4];
};

/*
 * kmem__fastpb_unpack_request / _response - decode payload (len bytes) as
 * protobuf-c's kmem__request__unpack() / kmem__response__unpack() would,
 * allocating through alloc (NULL = malloc) exactly the blocks protobuf-c
 * allocates, so that kmem_frame_free_request() / _response() (that is,
 * protobuf_c_message_free_unpacked()) frees the result.  Returns 1 and
 * sets *out when the payload is a hot message in canonical encoding;
 * returns 0 otherwise (another body, an unknown or repeated field, an
 * unusual encoding, an allocation failure...), having freed whatever it
 * allocated: the caller then unpacks with protobuf-c, which decides.
 * payload may be NULL when len is 0.
 */
int kmem__fastpb_unpack_request(const uint8_t *payload, size_t len,
				ProtobufCAllocator *alloc, Kmem__Request **out);
int kmem__fastpb_unpack_response(const uint8_t *payload, size_t len,
				 ProtobufCAllocator *alloc,
				 Kmem__Response **out);

/*
 * kmem__fastpb_free_response - free r, allocated through alloc (NULL =
 * malloc), exactly as protobuf_c_message_free_unpacked() would, when it
 * is a Response of a shape the decoder makes (whoever decoded it): no
 * unknown fields, body none, Pong, Lease without segments or LeaseBatch.
 * Returns 1 when r is freed, 0 (r untouched) otherwise.  The client frees
 * every reply: protobuf-c's generic free walks every field descriptor.
 */
int kmem__fastpb_free_response(Kmem__Response *r, ProtobufCAllocator *alloc);

/*
 * kmem__fastpb_request_size / _response_size - the number of bytes
 * protobuf_c_message_pack() would produce for r, with *plan filled for the
 * pack function; KMEM_FASTPB_DECLINE when r is not a hot message in a
 * state this code handles (then use protobuf-c).
 */
size_t kmem__fastpb_request_size(const Kmem__Request *r,
				 struct kmem__fastpb_plan *plan);
size_t kmem__fastpb_response_size(const Kmem__Response *r,
				  struct kmem__fastpb_plan *plan);

/*
 * kmem__fastpb_pack_request / _response - write r, exactly the bytes of
 * protobuf_c_message_pack(), to out, which holds the size the size
 * function returned for r and plan (r unchanged since); returns that size.
 */
size_t kmem__fastpb_pack_request(const Kmem__Request *r,
				 const struct kmem__fastpb_plan *plan,
				 uint8_t *out);
size_t kmem__fastpb_pack_response(const Kmem__Response *r,
				  const struct kmem__fastpb_plan *plan,
				  uint8_t *out);

/*
 * kmem__fastpb_ready - whether the generated descriptors are the ones this
 * code was written for (every field of every message it codes, with its
 * number, type, label, offsets, flags and default).  Checked once and
 * remembered; while it is false every function above declines.
 */
int kmem__fastpb_ready(void);

/*
 * kmem__fastpb_check - the check itself, for the tests: NULL when every
 * descriptor matches, else a sentence naming the first mismatch (static
 * storage).  A failure means kmem.proto changed a hot message: update the
 * codec and the tables in fastpb_check.c.
 */
const char *kmem__fastpb_check(void);

/*
 * kmem__fastpb_same - for the tests and the fuzzer: whether two unpacked
 * messages are the same tree, field by field: values, oneof cases, counts,
 * and which pointers are NULL, shared defaults or allocated blocks (an
 * empty string protobuf-c allocated is not the shared empty string).  On
 * a difference, writes the path of the first one to why (may be NULL).
 */
int kmem__fastpb_same(const ProtobufCMessage *a, const ProtobufCMessage *b,
		      char *why, size_t whylen);

/* ------------------------------------------------------------ wire */

/* Wire types and the key of a field: its tag, number << 3 | wire type. */
#define KMEM__PB_VARINT 0
#define KMEM__PB_LEN 2
#define KMEM__PB_KEY(num, wt) ((uint32_t)(num) << 3 | (uint32_t)(wt))

/* Bytes of v as a varint: 1 + (bits - 1) / 7 for 1 to 64 significant bits. */
static inline size_t kmem__pb_varint_size(uint64_t v)
{
	unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);

	return (bits * 9u + 64u) / 64u;
}

static inline uint8_t *kmem__pb_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

#endif
