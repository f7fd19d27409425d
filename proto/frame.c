/*
 * proto/frame.c - length-prefixed framing of protobuf messages.
 *
 * Decoder.  A frame is read in two states: collecting the 4-byte header,
 * then collecting the payload it announces.  The fast path serves a frame
 * lying whole in the current chunk straight out of the chunk, with no copy;
 * this is the common case when a reader pulls 64 KiB at a time.  Only a
 * frame that straddles two chunks is gathered: its header into the 4-byte
 * hdr array, its payload into buf, which is grown once, when the header is
 * complete, to the announced length.  The length is checked against max
 * before anything is allocated, so a hostile header costs nothing, and buf
 * never exceeds max bytes.
 *
 * Invariants: hdr_len <= KMEM_FRAME_HDR; len > 0 only when hdr_len ==
 * KMEM_FRAME_HDR; len <= the announced length <= max; cap <= max.
 *
 * Encoder.  Frames are appended back to back into one growable buffer
 * (doubling, so appending k frames costs O(total bytes)), so a batch of
 * replies leaves in one write.  Each message is packed in place after its
 * header, with no intermediate copy.
 *
 * Messages.  Requests and Responses go through the hand-written codec of
 * fastpb.c first (the hot messages, several times cheaper than
 * protobuf-c's generic code); whatever it declines goes to protobuf-c.
 * Both give the same bytes and the same unpacked trees.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "fastpb.h"
#include "frame.h"

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------- decoder */

void kmem_frame_decoder_init(struct kmem_frame_decoder *d, uint32_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max ? max : KMEM_FRAME_MAX_DEFAULT;
}

void kmem_frame_decoder_fini(struct kmem_frame_decoder *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

void kmem_frame_decoder_feed(struct kmem_frame_decoder *d, const void *data,
			     size_t len)
{
	assert(d->in_len == 0);
	d->in = data;
	d->in_len = len;
}

size_t kmem_frame_decoder_unread(struct kmem_frame_decoder *d,
				 const uint8_t **p)
{
	size_t n = d->in_len;

	*p = d->in;
	d->in = NULL;
	d->in_len = 0;
	return n;
}

size_t kmem_frame_decoder_pending(const struct kmem_frame_decoder *d)
{
	return d->consumed ? 0 : d->hdr_len + d->len;
}

static int fail(struct kmem_frame_decoder *d, int err)
{
	d->err = err;
	d->in = NULL;
	d->in_len = 0;
	return err;
}

/* Make room in buf for a payload of n bytes (n <= max). */
static int reserve(struct kmem_frame_decoder *d, size_t n)
{
	uint8_t *p;

	if (n <= d->cap)
		return 0;
	p = realloc(d->buf, n);
	if (!p)
		return KMEM_ENOMETA;
	d->buf = p;
	d->cap = n;
	return 0;
}

/*
 * Gather a frame that straddles chunks.  Returns 1 when the frame in hdr/buf
 * is complete, 0 when the chunk ran out first, or an error.
 */
static int gather(struct kmem_frame_decoder *d)
{
	uint32_t n;
	size_t k;
	int rc;

	while (d->hdr_len < KMEM_FRAME_HDR) {
		if (d->in_len == 0)
			return 0;
		d->hdr[d->hdr_len++] = *d->in++;
		d->in_len--;
	}
	n = get_be32(d->hdr);
	if (n > d->max)
		return KMEM_ETOOBIG;
	rc = reserve(d, n);
	if (rc)
		return rc;
	k = n - d->len;
	if (k > d->in_len)
		k = d->in_len;
	/* k may be 0 with buf NULL (empty frame); memcpy forbids NULL. */
	if (k) {
		memcpy(d->buf + d->len, d->in, k);
		d->in += k;
		d->in_len -= k;
		d->len += k;
	}
	return d->len == n;
}

int kmem_frame_decoder_next(struct kmem_frame_decoder *d,
			    const uint8_t **payload, size_t *len)
{
	uint32_t n;
	int rc;

	if (d->err)
		return d->err;
	if (d->consumed) {
		d->hdr_len = 0;
		d->len = 0;
		d->consumed = 0;
	}
	/* Fast path: nothing gathered and a whole header in the chunk. */
	if (d->hdr_len == 0 && d->in_len >= KMEM_FRAME_HDR) {
		n = get_be32(d->in);
		if (n > d->max)
			return fail(d, KMEM_ETOOBIG);
		if (d->in_len - KMEM_FRAME_HDR >= n) {
			*payload = d->in + KMEM_FRAME_HDR;
			*len = n;
			d->in += KMEM_FRAME_HDR + (size_t)n;
			d->in_len -= KMEM_FRAME_HDR + (size_t)n;
			return 1;
		}
	}
	rc = gather(d);
	if (rc < 0)
		return fail(d, rc);
	if (rc == 0) {
		d->in = NULL;
		return 0;
	}
	/* An empty frame has no buf; hdr is a valid non-NULL address. */
	*payload = d->len ? d->buf : d->hdr;
	*len = d->len;
	d->consumed = 1;
	return 1;
}

/* ---------------------------------------------------------------- encoder */

void kmem_frame_buf_init(struct kmem_frame_buf *b, uint32_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : KMEM_FRAME_MAX_DEFAULT;
}

void kmem_frame_buf_fini(struct kmem_frame_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void kmem_frame_buf_consume(struct kmem_frame_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static int buf_reserve(struct kmem_frame_buf *b, size_t extra)
{
	size_t want, cap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len)
		return KMEM_ENOMETA;
	want = b->len + extra;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return KMEM_ENOMETA;
	b->data = p;
	b->cap = cap;
	return 0;
}

/*
 * The packed size of msg, by fastpb.c when it codes it (a Request or a
 * Response it takes, plan filled for its pack function), else by
 * protobuf-c (*fast cleared).
 */
static size_t packed_size(const ProtobufCMessage *msg,
			  struct kmem__fastpb_plan *plan, int *fast)
{
	size_t n = KMEM_FASTPB_DECLINE;

	if (msg->descriptor == &kmem__request__descriptor)
		n = kmem__fastpb_request_size((const Kmem__Request *)msg, plan);
	else if (msg->descriptor == &kmem__response__descriptor)
		n = kmem__fastpb_response_size((const Kmem__Response *)msg,
					       plan);
	*fast = n != KMEM_FASTPB_DECLINE;
	return *fast ? n : protobuf_c_message_get_packed_size(msg);
}

int kmem_frame_append(struct kmem_frame_buf *b, const ProtobufCMessage *msg)
{
	struct kmem__fastpb_plan plan;
	size_t n, packed;
	uint8_t *p;
	int rc, fast;

	if (!msg)
		return KMEM_EINVAL;
	n = packed_size(msg, &plan, &fast);
	if (n > b->max)
		return KMEM_ETOOBIG;
	rc = buf_reserve(b, KMEM_FRAME_HDR + n);
	if (rc)
		return rc;
	p = b->data + b->len;
	put_be32(p, (uint32_t)n);
	p += KMEM_FRAME_HDR;
	if (!fast)
		packed = protobuf_c_message_pack(msg, p);
	else if (msg->descriptor == &kmem__request__descriptor)
		packed = kmem__fastpb_pack_request((const Kmem__Request *)msg,
						   &plan, p);
	else
		packed = kmem__fastpb_pack_response((const Kmem__Response *)msg,
						    &plan, p);
	assert(packed == n);
	(void)packed;
	b->len += KMEM_FRAME_HDR + n;
	return 0;
}

int kmem_frame_pack_request(struct kmem_frame_buf *b, const Kmem__Request *r)
{
	return kmem_frame_append(b, r ? &r->base : NULL);
}

int kmem_frame_pack_response(struct kmem_frame_buf *b,
			     const Kmem__Response *r)
{
	return kmem_frame_append(b, r ? &r->base : NULL);
}

/* ---------------------------------------------------------------- unpack */

int kmem_frame_unpack_request(const uint8_t *payload, size_t len,
			      ProtobufCAllocator *alloc, Kmem__Request **out)
{
	Kmem__Request *r;

	if (!payload && len)
		return KMEM_EINVAL;
	if (kmem__fastpb_unpack_request(payload, len, alloc, out))
		return 0;
	r = kmem__request__unpack(alloc, len, payload);
	if (!r)
		return KMEM_EINVAL;
	*out = r;
	return 0;
}

int kmem_frame_unpack_response(const uint8_t *payload, size_t len,
			       ProtobufCAllocator *alloc,
			       Kmem__Response **out)
{
	Kmem__Response *r;

	if (!payload && len)
		return KMEM_EINVAL;
	if (kmem__fastpb_unpack_response(payload, len, alloc, out))
		return 0;
	r = kmem__response__unpack(alloc, len, payload);
	if (!r)
		return KMEM_EINVAL;
	*out = r;
	return 0;
}

void kmem_frame_free_request(Kmem__Request *r, ProtobufCAllocator *alloc)
{
	if (r)
		kmem__request__free_unpacked(r, alloc);
}

void kmem_frame_free_response(Kmem__Response *r, ProtobufCAllocator *alloc)
{
	if (r && !kmem__fastpb_free_response(r, alloc))
		kmem__response__free_unpacked(r, alloc);
}
