/*
 * proto/frame.h - the framing of the kmemd wire protocol.
 *
 * A frame is a 4-byte big-endian unsigned length followed by that many bytes
 * of one protobuf message (proto/kmem.proto): a Request from client to
 * daemon, a Response back.  A length of 0 is a valid, empty message.  A
 * length above the receiver's maximum is refused before any of its payload
 * is buffered; since a byte stream cannot resynchronise after a bad length,
 * the connection is then closed.
 *
 * This is pure C shared by the daemon (libuv) and the client library (plain
 * sockets): no I/O, no globals, no printing.  Errors are the negative codes
 * of kmem/error.h:
 *   KMEM_ETOOBIG  a frame (received or to be sent) exceeds the maximum
 *   KMEM_EINVAL   a payload that does not unpack as the expected message,
 *                 or a malformed argument
 *   KMEM_ENOMETA  malloc/realloc failed
 */
#ifndef KMEM_PROTO_FRAME_H
#define KMEM_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "kmem.pb-c.h"

/* Protocol version carried in Hello and HelloReply. */
#define KMEM_PROTOCOL_VERSION 1

/* Bytes of the length header in front of every message. */
#define KMEM_FRAME_HDR 4

/* Default largest payload length accepted or produced: 1 MiB. */
#define KMEM_FRAME_MAX_DEFAULT (1u << 20)

/*
 * Incremental decoder: feed it byte chunks exactly as they arrive from a
 * stream (one byte at a time, many frames in one chunk, a frame split
 * anywhere) and take complete payloads out.  A payload that lies whole in
 * the chunk is returned in place, without copying; only a frame split
 * across chunks is copied into the decoder's buffer, which never exceeds
 * KMEM_FRAME_HDR + max bytes.  The caller owns the struct (init/fini); all
 * fields are private except as read by tests.
 */
struct kmem_frame_decoder {
	uint32_t max;		/* largest accepted payload length */
	int err;		/* sticky error, 0 while healthy */
	uint8_t hdr[KMEM_FRAME_HDR];	/* header of a frame being gathered */
	size_t hdr_len;		/* bytes of it held in hdr */
	uint8_t *buf;		/* payload of a frame being gathered */
	size_t cap;		/* bytes allocated at buf (<= max) */
	size_t len;		/* payload bytes held in buf */
	int consumed;		/* hdr/buf hold a frame just returned: drop it */
	const uint8_t *in;	/* unread rest of the chunk being fed */
	size_t in_len;
};

/*
 * kmem_frame_decoder_init - prepare d to accept payloads of at most max
 * bytes; max 0 means KMEM_FRAME_MAX_DEFAULT.  Allocates nothing.
 */
void kmem_frame_decoder_init(struct kmem_frame_decoder *d, uint32_t max);

/* kmem_frame_decoder_fini - release the decoder's buffer.  d may be reused
 * after another init. */
void kmem_frame_decoder_fini(struct kmem_frame_decoder *d);

/*
 * kmem_frame_decoder_feed - hand d the next chunk of the stream.  Call
 * kmem_frame_decoder_next() until it returns 0 or an error before feeding
 * again; until then the chunk must stay valid and unchanged, because
 * payloads are returned pointing into it.  Bytes of an unfinished frame are
 * copied into the decoder when next() returns 0, so the chunk may be reused
 * afterwards.  Feeding while the previous chunk is not used up is a caller
 * bug (asserted).
 */
void kmem_frame_decoder_feed(struct kmem_frame_decoder *d, const void *data,
			     size_t len);

/*
 * kmem_frame_decoder_next - take the next complete frame out of d.
 * Returns 1 and sets *payload and *len when a frame is complete: *payload
 * points into the fed chunk or into the decoder's buffer and is valid until
 * the next call of next(), feed() or fini() (for an empty frame *len is 0
 * and *payload is a valid, non-NULL pointer).  Returns 0 when every fed byte
 * has been consumed and more are needed.  Returns KMEM_ETOOBIG when a
 * header announces more than max bytes (nothing of it is buffered) or
 * KMEM_ENOMETA when the buffer cannot grow; errors are sticky: every later
 * call returns the same code, and the connection should be closed.
 */
int kmem_frame_decoder_next(struct kmem_frame_decoder *d,
			    const uint8_t **payload, size_t *len);

/*
 * kmem_frame_decoder_unread - hand back the part of the fed chunk that
 * next() has not consumed yet (*p points into the chunk; returns its
 * length), and forget it: a caller that stops taking frames midway (to
 * apply back-pressure) copies these bytes and feeds them again later.
 */
size_t kmem_frame_decoder_unread(struct kmem_frame_decoder *d,
				 const uint8_t **p);

/*
 * kmem_frame_decoder_pending - bytes of an incomplete frame held in d
 * (header included).  Non-zero at end of stream means a truncated frame; a
 * peer that keeps it non-zero for long is stalling.
 */
size_t kmem_frame_decoder_pending(const struct kmem_frame_decoder *d);

/*
 * Output buffer into which many frames are packed back to back, so that a
 * batch of responses goes out in one write.  Grows with realloc; the caller
 * owns the struct (init/fini) and may read data/len directly, and may take
 * bytes off the front with kmem_frame_buf_consume() after a partial write.
 */
struct kmem_frame_buf {
	uint8_t *data;
	size_t len;		/* bytes of whole frames at data */
	size_t cap;		/* bytes allocated at data */
	uint32_t max;		/* largest payload length this buffer produces */
};

/*
 * kmem_frame_buf_init - an empty buffer producing payloads of at most max
 * bytes (0 = KMEM_FRAME_MAX_DEFAULT; use the peer's maximum).  Allocates
 * nothing.
 */
void kmem_frame_buf_init(struct kmem_frame_buf *b, uint32_t max);

/* kmem_frame_buf_fini - release the buffer's storage. */
void kmem_frame_buf_fini(struct kmem_frame_buf *b);

/*
 * kmem_frame_buf_consume - drop the first n bytes (those written out); n
 * larger than len drops everything.  Keeps the storage.
 */
void kmem_frame_buf_consume(struct kmem_frame_buf *b, size_t n);

/*
 * kmem_frame_append - append one frame, header and packed msg, to b.
 * Returns 0, KMEM_ETOOBIG when msg packs to more than b->max bytes, or
 * KMEM_ENOMETA when b cannot grow; on failure b is unchanged.
 */
int kmem_frame_append(struct kmem_frame_buf *b, const ProtobufCMessage *msg);

/* Typed wrappers of kmem_frame_append() for the two frame kinds. */
int kmem_frame_pack_request(struct kmem_frame_buf *b, const Kmem__Request *r);
int kmem_frame_pack_response(struct kmem_frame_buf *b,
			     const Kmem__Response *r);

/*
 * Requests and Responses are coded by the hand-written codec of the hot
 * messages (fastpb.c: Ping, Alloc, Free, the batches, their answers) when
 * it takes them and by protobuf-c otherwise, to the same bytes and the
 * same unpacked trees, allocation for allocation.
 *
 * kmem_frame_unpack_request - parse one payload (from the decoder) as a
 * Request.  alloc is the protobuf-c allocator for the message's storage
 * (NULL = malloc), so a caller can unpack into an arena.  Returns 0 and
 * sets *out, to be released with kmem_frame_free_request() and the same
 * allocator, or KMEM_EINVAL when the payload is not a valid Request (out of
 * memory looks the same to protobuf-c).  A valid Request may still have no
 * body (body_case KMEM__REQUEST__BODY__NOT_SET): that is the caller's
 * protocol error to report.
 */
int kmem_frame_unpack_request(const uint8_t *payload, size_t len,
			      ProtobufCAllocator *alloc, Kmem__Request **out);

/* kmem_frame_unpack_response - as kmem_frame_unpack_request, for a
 * Response. */
int kmem_frame_unpack_response(const uint8_t *payload, size_t len,
			       ProtobufCAllocator *alloc,
			       Kmem__Response **out);

/* Release an unpacked message with the allocator it was unpacked with.
 * NULL msg is a no-op. */
void kmem_frame_free_request(Kmem__Request *r, ProtobufCAllocator *alloc);
void kmem_frame_free_response(Kmem__Response *r, ProtobufCAllocator *alloc);

#endif
