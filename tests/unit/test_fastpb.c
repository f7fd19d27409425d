/*
 * test_fastpb.c - the hand-written codec of the hot messages
 * (proto/fastpb.c, fastpb_pack.c, fastpb_check.c) against protobuf-c.
 *
 * For every hot message at its edge values: the fast encoder's bytes are
 * protobuf-c's; decoding those bytes fast gives protobuf-c's tree (field
 * by field, kmem__fastpb_same()) made of the same allocations (the live
 * blocks' sizes, compared as multisets), and both trees free completely.
 * What the codec declines (other bodies, odd encodings, odd structures)
 * must be declined, and frame.c must then give protobuf-c's answer.
 * Allocation failures are injected at every allocation of the fast
 * decoder.  A randomised test (KMEM_SEED, KMEM_OPS) covers random hot
 * messages and random corruptions of their encodings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "kmem/error.h"
#include "fastpb.h"
#include "frame.h"

/* ---------------------------------------------------------------- helpers */

/* An allocator that records its live blocks, and can fail the Nth
 * allocation (fail_at, counted from 1; 0 never). */
struct rec {
	struct blk {
		void *p;
		size_t size;
	} b[4096];
	size_t live, allocs, fail_at;
};

static void *rec_alloc(void *data, size_t size)
{
	struct rec *r = data;
	void *p;

	if (++r->allocs == r->fail_at)
		return NULL;
	assert_true(r->live < sizeof(r->b) / sizeof(r->b[0]));
	p = malloc(size ? size : 1);
	assert_non_null(p);
	r->b[r->live].p = p;
	r->b[r->live++].size = size;
	return p;
}

static void rec_free(void *data, void *p)
{
	struct rec *r = data;

	for (size_t i = 0; i < r->live; i++) {
		if (r->b[i].p == p) {
			r->b[i] = r->b[--r->live];
			free(p);
			return;
		}
	}
	fail_msg("free of a block this allocator did not give");
}

static ProtobufCAllocator rec_init(struct rec *r, size_t fail_at)
{
	ProtobufCAllocator a = { rec_alloc, rec_free, r };

	r->live = r->allocs = 0;
	r->fail_at = fail_at;
	return a;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The two allocators hold blocks of the same sizes. */
static void assert_same_blocks(const struct rec *a, const struct rec *b)
{
	static size_t x[4096], y[4096];

	assert_int_equal(a->live, b->live);
	for (size_t i = 0; i < a->live; i++) {
		x[i] = a->b[i].size;
		y[i] = b->b[i].size;
	}
	qsort(x, a->live, sizeof(x[0]), cmp_size);
	qsort(y, b->live, sizeof(y[0]), cmp_size);
	assert_memory_equal(x, y, a->live * sizeof(x[0]));
}

static void assert_same(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	char why[200] = "";

	if (!kmem__fastpb_same(a, b, why, sizeof(why)))
		fail_msg("the trees differ at %s", why);
}

static size_t fast_accepted, fast_declined;

/*
 * Decode n bytes at p both ways.  expect: 1 the fast decoder must take
 * them, 0 it must decline, -1 either.  Whatever it takes, protobuf-c must
 * take into the same tree of the same blocks, and both must re-encode to
 * protobuf-c's bytes; whatever it declines, frame.c must answer as
 * protobuf-c does.  Returns whether the fast decoder took them.
 */
static int check_request_bytes(const uint8_t *p, size_t n, int expect)
{
	static struct rec ra, rb;
	ProtobufCAllocator a = rec_init(&ra, 0), b = rec_init(&rb, 0);
	Kmem__Request *f = NULL, *s = kmem__request__unpack(&b, n, p);
	int took = kmem__fastpb_unpack_request(p, n, &a, &f);

	if (expect >= 0)
		assert_int_equal(took, expect);
	if (took) {
		struct kmem__fastpb_plan plan;
		size_t m;
		uint8_t *x, *y;

		fast_accepted++;
		assert_non_null(s);
		assert_same(&f->base, &s->base);
		assert_same_blocks(&ra, &rb);
		m = kmem__request__get_packed_size(s);
		x = malloc(m + 1);
		y = malloc(m + 1);
		assert_int_equal(kmem__request__pack(s, x), m);
		assert_int_equal(kmem__request__pack(f, y), m);
		assert_memory_equal(x, y, m);
		if (kmem__fastpb_request_size(f, &plan) != KMEM_FASTPB_DECLINE) {
			assert_int_equal(kmem__fastpb_request_size(f, &plan), m);
			assert_int_equal(kmem__fastpb_pack_request(f, &plan, y), m);
			assert_memory_equal(x, y, m);
		}
		free(x);
		free(y);
		kmem__request__free_unpacked(f, &a);
	} else {
		Kmem__Request *g = NULL;
		int rc = kmem_frame_unpack_request(p, n, NULL, &g);

		fast_declined++;
		assert_int_equal(ra.live, 0);
		assert_int_equal(rc, s ? 0 : KMEM_EINVAL);
		if (s)
			assert_same(&g->base, &s->base);
		kmem_frame_free_request(s ? g : NULL, NULL);
	}
	if (s)
		kmem__request__free_unpacked(s, &b);
	assert_int_equal(ra.live, 0);
	assert_int_equal(rb.live, 0);
	return took;
}

static int check_response_bytes(const uint8_t *p, size_t n, int expect)
{
	static struct rec ra, rb;
	ProtobufCAllocator a = rec_init(&ra, 0), b = rec_init(&rb, 0);
	Kmem__Response *f = NULL, *s = kmem__response__unpack(&b, n, p);
	int took = kmem__fastpb_unpack_response(p, n, &a, &f);

	if (expect >= 0)
		assert_int_equal(took, expect);
	if (took) {
		struct kmem__fastpb_plan plan;
		size_t m;
		uint8_t *x, *y;

		fast_accepted++;
		assert_non_null(s);
		assert_same(&f->base, &s->base);
		assert_same_blocks(&ra, &rb);
		m = kmem__response__get_packed_size(s);
		x = malloc(m + 1);
		y = malloc(m + 1);
		assert_int_equal(kmem__response__pack(s, x), m);
		assert_int_equal(kmem__response__pack(f, y), m);
		assert_memory_equal(x, y, m);
		if (kmem__fastpb_response_size(f, &plan) != KMEM_FASTPB_DECLINE) {
			assert_int_equal(kmem__fastpb_response_size(f, &plan), m);
			assert_int_equal(kmem__fastpb_pack_response(f, &plan, y), m);
			assert_memory_equal(x, y, m);
		}
		free(x);
		free(y);
		/* What the fast decoder builds, the fast free frees. */
		assert_int_equal(kmem__fastpb_free_response(f, &a), 1);
	} else {
		Kmem__Response *g = NULL;
		int rc = kmem_frame_unpack_response(p, n, NULL, &g);

		fast_declined++;
		assert_int_equal(ra.live, 0);
		assert_int_equal(rc, s ? 0 : KMEM_EINVAL);
		if (s)
			assert_same(&g->base, &s->base);
		kmem_frame_free_response(s ? g : NULL, NULL);
	}
	/* protobuf-c's tree, freed fast when it has a hot shape. */
	kmem_frame_free_response(s, &b);
	assert_int_equal(ra.live, 0);
	assert_int_equal(rb.live, 0);
	return took;
}

/*
 * A hot Request: the fast encoder must take it and write protobuf-c's
 * bytes, the fast decoder must take those bytes back (check_*_bytes), and
 * kmem_frame_pack_request() must frame the same bytes.
 */
static void check_request(const Kmem__Request *r)
{
	struct kmem__fastpb_plan plan;
	struct kmem_frame_buf fb;
	size_t n = kmem__request__get_packed_size(r);
	uint8_t *want = malloc(n + 1), *got = malloc(n + 1);

	assert_int_equal(kmem__request__pack(r, want), n);
	assert_int_equal(kmem__fastpb_request_size(r, &plan), n);
	assert_int_equal(kmem__fastpb_pack_request(r, &plan, got), n);
	assert_memory_equal(got, want, n);
	kmem_frame_buf_init(&fb, UINT32_MAX);
	assert_int_equal(kmem_frame_pack_request(&fb, r), 0);
	assert_int_equal(fb.len, KMEM_FRAME_HDR + n);
	assert_memory_equal(fb.data + KMEM_FRAME_HDR, want, n);
	kmem_frame_buf_fini(&fb);
	check_request_bytes(want, n, 1);
	free(want);
	free(got);
}

static void check_response(const Kmem__Response *r)
{
	struct kmem__fastpb_plan plan;
	struct kmem_frame_buf fb;
	size_t n = kmem__response__get_packed_size(r);
	uint8_t *want = malloc(n + 1), *got = malloc(n + 1);

	assert_int_equal(kmem__response__pack(r, want), n);
	assert_int_equal(kmem__fastpb_response_size(r, &plan), n);
	assert_int_equal(kmem__fastpb_pack_response(r, &plan, got), n);
	assert_memory_equal(got, want, n);
	kmem_frame_buf_init(&fb, UINT32_MAX);
	assert_int_equal(kmem_frame_pack_response(&fb, r), 0);
	assert_int_equal(fb.len, KMEM_FRAME_HDR + n);
	assert_memory_equal(fb.data + KMEM_FRAME_HDR, want, n);
	kmem_frame_buf_fini(&fb);
	/* A negative status takes ten bytes that the decoder leaves to
	 * protobuf-c.  (The enum type may be unsigned: protobuf-c reads
	 * it as an int32.) */
	check_response_bytes(want, n, (int32_t)r->status < 0 ? 0 : 1);
	free(want);
	free(got);
}

/* A message the encoder declines: frame.c still writes protobuf-c's
 * bytes. */
static void check_request_declined(const Kmem__Request *r)
{
	struct kmem__fastpb_plan plan;
	struct kmem_frame_buf fb;
	size_t n = kmem__request__get_packed_size(r);
	uint8_t *want = malloc(n + 1);

	assert_int_equal(kmem__fastpb_request_size(r, &plan),
			 KMEM_FASTPB_DECLINE);
	assert_int_equal(kmem__request__pack(r, want), n);
	kmem_frame_buf_init(&fb, UINT32_MAX);
	assert_int_equal(kmem_frame_pack_request(&fb, r), 0);
	assert_int_equal(fb.len, KMEM_FRAME_HDR + n);
	assert_memory_equal(fb.data + KMEM_FRAME_HDR, want, n);
	kmem_frame_buf_fini(&fb);
	free(want);
}

static void check_response_declined(const Kmem__Response *r)
{
	struct kmem__fastpb_plan plan;
	struct kmem_frame_buf fb;
	size_t n = kmem__response__get_packed_size(r);
	uint8_t *want = malloc(n + 1);

	assert_int_equal(kmem__fastpb_response_size(r, &plan),
			 KMEM_FASTPB_DECLINE);
	assert_int_equal(kmem__response__pack(r, want), n);
	kmem_frame_buf_init(&fb, UINT32_MAX);
	assert_int_equal(kmem_frame_pack_response(&fb, r), 0);
	assert_int_equal(fb.len, KMEM_FRAME_HDR + n);
	assert_memory_equal(fb.data + KMEM_FRAME_HDR, want, n);
	kmem_frame_buf_fini(&fb);
	free(want);
}

/* ---------------------------------------------------------------- values */

static const uint64_t u64s[] = {
	0, 1, 127, 128, 16383, 16384, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
	(1ull << 56) - 1, 1ull << 63, UINT64_MAX,
};
static const uint32_t u32s[] = { 0, 1, 127, 128, 1u << 28, UINT32_MAX };
static const int32_t s32s[] = { 0, -1, 1, -64, 64, INT32_MIN, INT32_MAX };
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Strings of these lengths (SIZE_MAX: NULL); the length prefix takes 1,
 * 2, 3 bytes. */
static const size_t lens[] = { SIZE_MAX, 0, 1, 127, 128, 16383, 16384 };
static char big[70000];

/* A string of len bytes (never NUL), or NULL; "" is a block of its own,
 * not the shared empty string. */
static char *str_of(size_t len)
{
	static char empty[1];

	if (len == SIZE_MAX)
		return NULL;
	if (len == 0)
		return empty;
	assert_true(len < sizeof(big));
	big[len] = '\0';
	return big;
}

/* Restore big[] after str_of(). */
static void big_reset(void)
{
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(1 + i % 255);
}

static uint64_t arr[20000];

static void arr_fill(size_t n, uint64_t salt)
{
	for (size_t i = 0; i < n; i++)
		arr[i] = u64s[(i + salt) % N(u64s)] ^ (i * salt);
}

static const size_t counts[] = { 0, 1, 2, 64, 16384 };

/* ---------------------------------------------------------------- tests */

static void test_fastpb_descriptors_match(void **state)
{
	const char *bad = kmem__fastpb_check();

	(void)state;
	if (bad)
		fail_msg("%s is not the message proto/fastpb*.c was written "
			 "for: update the codec and fastpb_check.c", bad);
	assert_int_equal(kmem__fastpb_ready(), 1);
}

/* Each field of each hot Request body at each edge value, the others at
 * zero, and the seq at each edge. */
static void test_fastpb_request_edges(void **state)
{
	Kmem__Request r = KMEM__REQUEST__INIT;

	(void)state;
	big_reset();
	for (size_t i = 0; i < N(u64s); i++) {
		Kmem__Free f = KMEM__FREE__INIT;

		r.seq = u64s[i];
		r.body_case = KMEM__REQUEST__BODY_FREE;
		r.free = &f;
		f.id = u64s[N(u64s) - 1 - i];
		check_request(&r);
	}
	r.seq = 7;
	for (size_t i = 0; i < N(u64s); i++) {
		Kmem__Alloc a = KMEM__ALLOC__INIT;
		Kmem__AllocBatch b = KMEM__ALLOC_BATCH__INIT;

		r.body_case = KMEM__REQUEST__BODY_ALLOC;
		r.alloc = &a;
		a.size = u64s[i];
		check_request(&r);
		a.align = a.dma_mask = a.boundary = u64s[i];
		check_request(&r);
		r.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
		r.alloc_batch = &b;
		b.size = b.align = u64s[i];
		check_request(&r);
	}
	for (size_t i = 0; i < N(u32s); i++) {
		Kmem__Alloc a = KMEM__ALLOC__INIT;
		Kmem__AllocBatch b = KMEM__ALLOC_BATCH__INIT;
		Kmem__CacheAlloc c = KMEM__CACHE_ALLOC__INIT;

		r.body_case = KMEM__REQUEST__BODY_ALLOC;
		r.alloc = &a;
		a.flags = a.timeout_ms = u32s[i];
		a.persist = i & 1;
		check_request(&r);
		r.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
		r.alloc_batch = &b;
		b.count = b.flags = u32s[i];
		b.magazine = !(i & 1);
		check_request(&r);
		r.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
		r.cache_alloc = &c;
		c.count = u32s[i];
		c.magazine = i & 1;
		check_request(&r);
	}
	for (size_t i = 0; i < N(lens); i++) {
		Kmem__Alloc a = KMEM__ALLOC__INIT;
		Kmem__AllocBatch b = KMEM__ALLOC_BATCH__INIT;
		Kmem__CacheAlloc c = KMEM__CACHE_ALLOC__INIT;

		r.body_case = KMEM__REQUEST__BODY_ALLOC;
		r.alloc = &a;
		a.pool = str_of(lens[i]);
		check_request(&r);
		a.name = a.tag = a.pool;
		check_request(&r);
		r.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
		r.alloc_batch = &b;
		b.pool = b.tag = str_of(lens[i]);
		check_request(&r);
		r.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
		r.cache_alloc = &c;
		c.tag = str_of(lens[i]);
		check_request(&r);
		big_reset();
	}
}

/* The packed arrays, empty to 16,384 entries, and the magazine fields. */
static void test_fastpb_request_arrays(void **state)
{
	Kmem__Request r = KMEM__REQUEST__INIT;

	(void)state;
	r.seq = UINT64_MAX;
	for (size_t i = 0; i < N(counts); i++) {
		Kmem__FreeBatch f = KMEM__FREE_BATCH__INIT;
		Kmem__CacheFree c = KMEM__CACHE_FREE__INIT;
		Kmem__AllocBatch b = KMEM__ALLOC_BATCH__INIT;
		Kmem__CacheAlloc ca = KMEM__CACHE_ALLOC__INIT;
		size_t n = counts[i], m = counts[N(counts) - 1 - i];

		arr_fill(n, i + 3);
		r.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
		r.free_batch = &f;
		f.n_ids = n;
		f.ids = n ? arr : NULL;
		check_request(&r);
		/* The magazine figures: other lengths, the same values. */
		f.magazine = 1;
		f.n_magazine_objects = m < 3 ? m : 3;
		f.magazine_objects = arr;
		f.n_magazine_bytes = m;
		f.magazine_bytes = m ? arr : NULL;
		check_request(&r);
		r.body_case = KMEM__REQUEST__BODY_CACHE_FREE;
		r.cache_free = &c;
		c.n_ids = n;
		c.ids = arr;
		check_request(&r);
		r.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
		r.alloc_batch = &b;
		b.count = (uint32_t)n;
		b.size = 64;
		b.n_magazine_objects = n;
		b.magazine_objects = arr;
		b.n_magazine_bytes = 1;
		b.magazine_bytes = &arr[0];
		check_request(&r);
		r.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
		r.cache_alloc = &ca;
		ca.cache_case = KMEM__CACHE_ALLOC__CACHE_CACHE_ID;
		ca.cache_id = n;
		ca.n_magazine_bytes = n;
		ca.magazine_bytes = arr;
		check_request(&r);
	}
}

/* Oneofs are written whenever their case is set, zero included; Ping's
 * bytes; missing and empty bodies. */
static void test_fastpb_request_oneofs_and_bodies(void **state)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Alloc a = KMEM__ALLOC__INIT;
	Kmem__CacheAlloc c = KMEM__CACHE_ALLOC__INIT;
	Kmem__Ping p = KMEM__PING__INIT;
	static char own_empty[1];

	(void)state;
	big_reset();
	check_request(&r);		/* nothing at all: 0 bytes */
	r.seq = 1;
	check_request(&r);		/* a seq and no body */
	r.body_case = KMEM__REQUEST__BODY_ALLOC;
	r.alloc = NULL;			/* a case with no member: skipped */
	check_request(&r);
	r.alloc = &a;			/* an empty body: tag and length 0 */
	check_request(&r);
	a.numa_case = KMEM__ALLOC__NUMA_NODE;
	for (size_t i = 0; i < N(s32s); i++) {
		a.node = s32s[i];
		check_request(&r);
	}
	r.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	r.cache_alloc = &c;
	check_request(&r);
	c.cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
	c.name = NULL;			/* not written */
	check_request(&r);
	c.name = (char *)protobuf_c_empty_string;	/* the default: not written */
	check_request(&r);
	c.name = own_empty;		/* another "": written, empty */
	check_request(&r);
	c.name = str_of(300);
	check_request(&r);
	c.cache_case = KMEM__CACHE_ALLOC__CACHE_CACHE_ID;
	c.cache_id = 0;
	check_request(&r);
	c.cache_id = UINT64_MAX;
	check_request(&r);
	big_reset();
	r.body_case = KMEM__REQUEST__BODY_PING;
	r.ping = &p;
	check_request(&r);
	p.payload.data = (uint8_t *)big;
	p.payload.len = 0;		/* empty bytes: not written */
	check_request(&r);
	for (size_t i = 1; i < N(lens); i++) {
		p.payload.len = lens[i];
		check_request(&r);
	}
}

static void test_fastpb_response_edges(void **state)
{
	Kmem__Response r = KMEM__RESPONSE__INIT;
	static const int statuses[] = { 0, 1, 11, 99, 127, 128, INT32_MAX,
					-1, INT32_MIN };

	(void)state;
	big_reset();
	check_response(&r);
	for (size_t i = 0; i < N(statuses); i++) {
		r.seq = u64s[i % N(u64s)];
		r.status = statuses[i];
		check_response(&r);
	}
	r.status = KMEM__STATUS__STATUS_NO_MEMORY;
	for (size_t i = 0; i < N(lens); i++) {
		r.message = str_of(lens[i]);
		check_response(&r);
	}
	big_reset();
	r.message = (char *)protobuf_c_empty_string;
	r.status = 0;
	for (size_t i = 0; i < N(u64s); i++) {
		Kmem__Lease l = KMEM__LEASE__INIT;

		r.body_case = KMEM__RESPONSE__BODY_LEASE;
		r.lease = &l;
		l.id = l.offset = l.length = l.phys = u64s[i];
		l.pool_index = u32s[i % N(u32s)];
		check_response(&r);
		l.name = str_of(lens[i % N(lens)]);
		l.tag = str_of(lens[(i + 3) % N(lens)]);
		check_response(&r);
		big_reset();
	}
	r.lease = NULL;
	check_response(&r);
	r.body_case = KMEM__RESPONSE__BODY_PONG;
	check_response(&r);
	for (size_t i = 0; i < N(lens); i++) {
		Kmem__Pong p = KMEM__PONG__INIT;

		r.pong = &p;
		p.payload.data = (uint8_t *)big;
		p.payload.len = lens[i] == SIZE_MAX ? 0 : lens[i];
		check_response(&r);
	}
}

static void test_fastpb_response_batches(void **state)
{
	Kmem__Response r = KMEM__RESPONSE__INIT;
	static uint64_t offs[20000];

	(void)state;
	r.body_case = KMEM__RESPONSE__BODY_LEASE_BATCH;
	r.lease_batch = NULL;
	check_response(&r);
	for (size_t i = 0; i < N(counts); i++) {
		Kmem__LeaseBatch b = KMEM__LEASE_BATCH__INIT;
		size_t n = counts[i];

		arr_fill(n, i + 11);
		for (size_t k = 0; k < n; k++)
			offs[k] = k << 21;
		r.seq = n;
		r.lease_batch = &b;
		check_response(&r);
		b.pool_index = u32s[i];
		b.length = u64s[i + 4];
		b.n_ids = b.n_offsets = b.n_phys = n;
		b.ids = arr;
		b.offsets = offs;
		b.phys = n ? arr + 1 : NULL;
		check_response(&r);
		b.n_offsets = 0;	/* unequal lengths are the caller's */
		check_response(&r);
	}
}

/* What the encoder leaves to protobuf-c. */
static void test_fastpb_encode_declines(void **state)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;
	Kmem__Stats st = KMEM__STATS__INIT;
	Kmem__Alloc a = KMEM__ALLOC__INIT;
	Kmem__FreeBatch fb = KMEM__FREE_BATCH__INIT;
	Kmem__CacheAlloc ca = KMEM__CACHE_ALLOC__INIT;
	Kmem__Lease l = KMEM__LEASE__INIT;
	Kmem__Segment sg = KMEM__SEGMENT__INIT, *sgs[1] = { &sg };
	Kmem__StatsReply sr = KMEM__STATS_REPLY__INIT;
	ProtobufCMessageUnknownField u = { 99, PROTOBUF_C_WIRE_TYPE_VARINT, 1,
					   (uint8_t *)"\x01" };

	(void)state;
	q.seq = 3;
	q.body_case = KMEM__REQUEST__BODY_HELLO;
	q.hello = &h;
	check_request_declined(&q);
	q.body_case = KMEM__REQUEST__BODY_STATS;
	q.stats = &st;
	check_request_declined(&q);
	q.body_case = KMEM__REQUEST__BODY_ALLOC;
	q.alloc = &a;
	a.numa_case = 6;		/* no such member: protobuf-c skips it */
	check_request_declined(&q);
	a.numa_case = KMEM__ALLOC__NUMA__NOT_SET;
	a.base.n_unknown_fields = 1;
	a.base.unknown_fields = &u;
	check_request_declined(&q);
	a.base.n_unknown_fields = 0;
	q.base.n_unknown_fields = 1;
	q.base.unknown_fields = &u;
	check_request_declined(&q);
	q.base.n_unknown_fields = 0;
	q.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	q.cache_alloc = &ca;
	ca.cache_case = 9;
	check_request_declined(&q);
	q.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
	q.free_batch = &fb;
	fb.base.descriptor = &kmem__cache_free__descriptor; /* not a FreeBatch */
	assert_int_equal(kmem__fastpb_request_size(&q, &(struct kmem__fastpb_plan){0}),
			 KMEM_FASTPB_DECLINE);
	fb.base.descriptor = &kmem__free_batch__descriptor;

	r.seq = 5;
	r.body_case = KMEM__RESPONSE__BODY_STATS;
	r.stats = &sr;
	sr.text = (char *)"{}";
	check_response_declined(&r);
	r.body_case = KMEM__RESPONSE__BODY_LEASE;
	r.lease = &l;
	l.n_segments = 1;		/* a scatter lease */
	l.segments = sgs;
	sg.length = 4096;
	check_response_declined(&r);
	l.n_segments = 0;
	check_response(&r);
}

/*
 * Encodings that protobuf-c may take but the fast decoder leaves to it
 * (or that nobody takes): frame.c must answer exactly as protobuf-c.
 */
static void test_fastpb_decode_declines(void **state)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
		int response;
	} cases[] = {
#define C(w, b, resp) { w, b, sizeof(b) - 1, resp }
		C("overlong seq", "\x08\x80\x00", 0),
		C("seq twice", "\x08\x01\x08\x02", 0),
		C("seq of 11 bytes", "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 0),
		C("seq past 64 bits", "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 0),
		C("seq as a string", "\x0a\x00", 0),
		C("overlong tag", "\x88\x00\x01", 0),
		C("field 0", "\x02\x00", 0),
		C("unknown field 30", "\xf0\x01\x01", 0),
		C("unknown field 15", "\x7a\x00", 0),
		C("two bodies", "\x22\x00\x1a\x00", 0),
		C("the same body twice", "\x22\x02\x08\x01\x22\x02\x08\x02", 0),
		C("hello body", "\x12\x02\x08\x01", 0),
		C("verify body (2-byte tag)", "\x8a\x01\x00", 0),
		C("body overlong length", "\x22\x80\x00", 0),
		C("body past the end", "\x22\x05\x08\x01", 0),
		C("truncated varint", "\x08\x80", 0),
		C("group wire type", "\x0b\x0c", 0),
		C("free id twice", "\x22\x04\x08\x01\x08\x02", 0),
		C("free id fixed64", "\x22\x09\x09\x01\x02\x03\x04\x05\x06\x07\x08", 0),
		C("free unknown field", "\x22\x02\x10\x01", 0),
		C("alloc flags past uint32", "\x1a\x06\x20\x80\x80\x80\x80\x10", 0),
		C("alloc flags 5 bytes, max", "\x1a\x06\x20\xff\xff\xff\xff\x0f", -1),
		C("alloc persist 2", "\x1a\x02\x50\x02", 0),
		C("alloc persist overlong", "\x1a\x03\x50\x81\x00", 0),
		C("alloc node past uint32", "\x1a\x06\x28\x80\x80\x80\x80\x10", 0),
		C("alloc pool as varint", "\x1a\x02\x08\x01", 0),
		C("free_batch unpacked id", "\x32\x02\x08\x05", 0),
		C("free_batch ids twice", "\x32\x06\x0a\x01\x05\x0a\x01\x06", 0),
		C("free_batch unterminated", "\x32\x03\x0a\x01\x85", 0),
		C("free_batch overlong id", "\x32\x04\x0a\x02\x85\x00", 0),
		C("free_batch 0x80", "\x32\x03\x0a\x01\x80", 0),
		C("cache_alloc name and id", "\x42\x05\x0a\x01x\x10\x01", 0),
		C("cache_alloc id and name", "\x42\x05\x10\x01\x0a\x01x", 0),
		C("magazine field overlong tag", "\x32\x04\xa0\x81\x00\x01", 0),
		C("status negative", "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 1),
		C("status past int32", "\x10\x80\x80\x80\x80\x08", 1),
		C("status twice", "\x10\x01\x10\x02", 1),
		C("message as varint", "\x18\x01", 1),
		C("hello reply body", "\x22\x00", 1),
		C("stats reply body", "\x42\x00", 1),
		C("lease with a segment", "\x2a\x04\x32\x02\x08\x01", 1),
		C("lease pool_index past uint32", "\x2a\x06\x10\x80\x80\x80\x80\x10", 1),
		C("lease_batch unpacked ids", "\x32\x02\x18\x01", 1),
		C("pong payload twice", "\x4a\x06\x0a\x01x\x0a\x01y", 1),
		C("pong unknown field", "\x4a\x02\x10\x01", 1),
		C("verify reply body", "\x82\x01\x00", 1),
#undef C
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		const uint8_t *p = (const uint8_t *)cases[i].bytes;
		int expect = cases[i].response < 0 ? 1 : 0;

		printf("  %s\n", cases[i].what);
		if (cases[i].response == 1)
			check_response_bytes(p, cases[i].len, expect);
		else
			check_request_bytes(p, cases[i].len, expect);
	}
}

/* Fields in any order, and explicit zeros, are plain protobuf the fast
 * decoder takes. */
static void test_fastpb_decode_order_and_zeros(void **state)
{
	static const uint8_t out_of_order[] = {
		0x1a, 0x08, 0x58, 0x05, 0x10, 0x80, 0x01, 0x0a, 0x01, 'p',
		0x08, 0x09,
	};
	static const uint8_t zeros[] = {
		0x08, 0x00, 0x22, 0x02, 0x08, 0x00,
	};
	static const uint8_t empty_strings[] = {
		0x1a, 0x06, 0x0a, 0x00, 0x42, 0x00, 0x4a, 0x00,
	};
	static const uint8_t empty_packed[] = {
		0x32, 0x05, 0x0a, 0x00, 0xa0, 0x01, 0x00,
	};
	static const uint8_t resp_zero_status[] = {
		0x10, 0x00, 0x1a, 0x00, 0x4a, 0x02, 0x0a, 0x00,
	};

	(void)state;
	check_request_bytes(out_of_order, sizeof(out_of_order), 1);
	check_request_bytes(zeros, sizeof(zeros), 1);
	check_request_bytes(empty_strings, sizeof(empty_strings), 1);
	check_request_bytes(empty_packed, sizeof(empty_packed), 1);
	check_response_bytes(resp_zero_status, sizeof(resp_zero_status), 1);
	check_request_bytes(NULL, 0, 1);
	check_response_bytes(NULL, 0, 1);
}

/* The fast free takes the hot shapes whoever built them, and leaves the
 * others to protobuf-c untouched. */
static void test_fastpb_free_shapes(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		int fast;
	} cases[] = {
#define C(b, fast) { b, sizeof(b) - 1, fast }
		C("", 1),
		C("\x08\x01\x1a\x03" "err", 1),
		C("\x4a\x03\x0a\x01x", 1),
		C("\x2a\x05\x08\x01\x3a\x01n", 1),
		C("\x32\x06\x1a\x01\x01\x22\x01\x02", 1),
		C("\x2a\x04\x32\x02\x08\x01", 0),	/* a segment */
		C("\x78\x01", 0),			/* unknown field 15 */
		C("\x4a\x02\x10\x01", 0),		/* unknown in the Pong */
		C("\x22\x00", 0),			/* a HelloReply */
		C("\x1a\x01x\x1a\x01y", 1),		/* merged by protobuf-c */
#undef C
	};
	static struct rec r;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		ProtobufCAllocator a = rec_init(&r, 0);
		Kmem__Response *m = kmem__response__unpack(
			&a, cases[i].len, (const uint8_t *)cases[i].bytes);

		assert_non_null(m);
		assert_true(r.live > 0);
		assert_int_equal(kmem__fastpb_free_response(m, &a),
				 cases[i].fast);
		if (!cases[i].fast)
			kmem__response__free_unpacked(m, &a);
		assert_int_equal(r.live, 0);
	}
}

/* Fail each allocation of the fast decoder in turn: it declines and
 * leaves nothing allocated; past the last one it succeeds. */
static void fail_each(const uint8_t *p, size_t n, int response)
{
	static struct rec r;
	size_t k;

	for (k = 1;; k++) {
		ProtobufCAllocator a = rec_init(&r, k);
		Kmem__Request *q = NULL;
		Kmem__Response *s = NULL;
		int took = response ? kmem__fastpb_unpack_response(p, n, &a, &s) :
				      kmem__fastpb_unpack_request(p, n, &a, &q);

		if (took) {
			assert_true(r.allocs < k);
			if (response)
				kmem__response__free_unpacked(s, &a);
			else
				kmem__request__free_unpacked(q, &a);
			assert_int_equal(r.live, 0);
			break;
		}
		assert_int_equal(r.live, 0);
		assert_true(k < 100);
	}
	printf("  %zu allocations failed in turn\n", k - 1);
	assert_true(k > 3);
}

static void test_fastpb_alloc_failures(void **state)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__AllocBatch b = KMEM__ALLOC_BATCH__INIT;
	Kmem__CacheAlloc c = KMEM__CACHE_ALLOC__INIT;
	Kmem__LeaseBatch lb = KMEM__LEASE_BATCH__INIT;
	Kmem__Lease l = KMEM__LEASE__INIT;
	uint8_t buf[512];
	size_t n;

	(void)state;
	arr_fill(8, 5);
	q.seq = 1;
	q.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	q.alloc_batch = &b;
	b.pool = (char *)"pool";
	b.tag = (char *)"tag";
	b.n_magazine_objects = b.n_magazine_bytes = 8;
	b.magazine_objects = b.magazine_bytes = arr;
	n = kmem__request__pack(&q, buf);
	fail_each(buf, n, 0);
	q.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	q.cache_alloc = &c;
	c.cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
	c.name = (char *)"objs";
	c.tag = (char *)"t";
	c.n_magazine_objects = 3;
	c.magazine_objects = arr;
	n = kmem__request__pack(&q, buf);
	fail_each(buf, n, 0);
	r.message = (char *)"a sentence";
	r.body_case = KMEM__RESPONSE__BODY_LEASE_BATCH;
	r.lease_batch = &lb;
	lb.n_ids = lb.n_offsets = lb.n_phys = 8;
	lb.ids = lb.offsets = lb.phys = arr;
	n = kmem__response__pack(&r, buf);
	fail_each(buf, n, 1);
	r.body_case = KMEM__RESPONSE__BODY_LEASE;
	r.lease = &l;
	l.name = (char *)"n";
	l.tag = (char *)"t";
	n = kmem__response__pack(&r, buf);
	fail_each(buf, n, 1);
}

/*
 * Strings and bytes as long as a frame allows: a payload of exactly
 * KMEM_FRAME_MAX_DEFAULT bytes is framed, one byte more is KMEM_ETOOBIG
 * with the buffer unchanged, as with protobuf-c's sizes.
 */
static void test_fastpb_frame_max(void **state)
{
	size_t max = KMEM_FRAME_MAX_DEFAULT, hdr;
	char *s = malloc(max + 1);
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Alloc a = KMEM__ALLOC__INIT;
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__Pong p = KMEM__PONG__INIT;
	struct kmem_frame_buf fb;

	(void)state;
	assert_non_null(s);
	memset(s, 'p', max);
	/* Request: seq 1 (2 bytes), body tag and 3-byte length, pool tag
	 * and 3-byte length. */
	q.seq = 1;
	q.body_case = KMEM__REQUEST__BODY_ALLOC;
	q.alloc = &a;
	hdr = 2 + 1 + 3 + 1 + 3;
	s[max - hdr] = '\0';
	a.pool = s;
	assert_int_equal(kmem__request__get_packed_size(&q), max);
	check_request(&q);
	kmem_frame_buf_init(&fb, 0);
	assert_int_equal(kmem_frame_pack_request(&fb, &q), 0);
	assert_int_equal(fb.len, KMEM_FRAME_HDR + max);
	s[max - hdr] = 'p';
	s[max - hdr + 1] = '\0';
	assert_int_equal(kmem_frame_pack_request(&fb, &q), KMEM_ETOOBIG);
	assert_int_equal(fb.len, KMEM_FRAME_HDR + max);
	kmem_frame_buf_fini(&fb);

	/* Response: seq, a Pong of bytes. */
	r.seq = 1;
	r.body_case = KMEM__RESPONSE__BODY_PONG;
	r.pong = &p;
	p.payload.data = (uint8_t *)s;
	p.payload.len = max - hdr;
	assert_int_equal(kmem__response__get_packed_size(&r), max);
	check_response(&r);
	kmem_frame_buf_init(&fb, 0);
	assert_int_equal(kmem_frame_pack_response(&fb, &r), 0);
	p.payload.len++;
	assert_int_equal(kmem_frame_pack_response(&fb, &r), KMEM_ETOOBIG);
	assert_int_equal(fb.len, KMEM_FRAME_HDR + max);
	kmem_frame_buf_fini(&fb);
	free(s);
}

/* The daemon's case: a bump allocator whose free does nothing. */
struct bump {
	uint8_t mem[1 << 16];
	size_t used;
};

static void *bump_alloc(void *data, size_t size)
{
	struct bump *b = data;
	void *p;

	size = (size + 15) & ~(size_t)15;
	if (size > sizeof(b->mem) - b->used)
		return NULL;
	p = b->mem + b->used;
	b->used += size;
	return p;
}

static void bump_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

static void test_fastpb_frame_with_arena(void **state)
{
	static struct bump bm;
	ProtobufCAllocator a = { bump_alloc, bump_free, &bm };
	Kmem__Request q = KMEM__REQUEST__INIT, *got = NULL;
	Kmem__FreeBatch f = KMEM__FREE_BATCH__INIT;
	struct kmem_frame_buf fb;
	size_t used;

	(void)state;
	arr_fill(64, 9);
	q.seq = 42;
	q.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
	q.free_batch = &f;
	f.n_ids = 64;
	f.ids = arr;
	kmem_frame_buf_init(&fb, 0);
	assert_int_equal(kmem_frame_pack_request(&fb, &q), 0);
	assert_int_equal(kmem_frame_unpack_request(fb.data + KMEM_FRAME_HDR,
						   fb.len - KMEM_FRAME_HDR, &a,
						   &got), 0);
	assert_same(&got->base, &q.base);
	/* The Request, the FreeBatch and the 64 ids, as protobuf-c. */
	used = bm.used;
	assert_int_equal(used, ((sizeof(Kmem__Request) + 15) & ~15ul) +
			       ((sizeof(Kmem__FreeBatch) + 15) & ~15ul) +
			       64 * 8);
	kmem_frame_free_request(got, &a);
	bm.used = 0;
	got = kmem__request__unpack(&a, fb.len - KMEM_FRAME_HDR,
				    fb.data + KMEM_FRAME_HDR);
	assert_non_null(got);
	assert_int_equal(bm.used, used);
	kmem_frame_buf_fini(&fb);
}

/* ---------------------------------------------------------------- random */

static uint64_t r_u64(uint64_t *rng)
{
	switch (tu_below(rng, 4)) {
	case 0: return 0;
	case 1: return u64s[tu_below(rng, N(u64s))];
	case 2: return tu_rand(rng) >> tu_below(rng, 64);
	default: return tu_below(rng, 300);
	}
}

static char strs[8][400];

/* NULL, the shared "", an own "", or up to 300 random non-NUL bytes. */
static char *r_str(uint64_t *rng, unsigned slot)
{
	size_t n;

	switch (tu_below(rng, 5)) {
	case 0: return NULL;
	case 1: return (char *)protobuf_c_empty_string;
	case 2: n = 0; break;
	default: n = tu_below(rng, tu_below(rng, 2) ? 10 : 300); break;
	}
	for (size_t i = 0; i < n; i++)
		strs[slot][i] = (char)(1 + tu_below(rng, 255));
	strs[slot][n] = '\0';
	return strs[slot];
}

static uint64_t rarr[4][200];

static uint64_t *r_arr(uint64_t *rng, unsigned slot, size_t *n)
{
	*n = tu_below(rng, 3) ? tu_below(rng, 4) : tu_below(rng, 200);
	for (size_t i = 0; i < *n; i++)
		rarr[slot][i] = r_u64(rng);
	return *n || tu_below(rng, 2) ? rarr[slot] : NULL;
}

/* A random hot Request in the caller's storage. */
struct rreq {
	Kmem__Request q;
	Kmem__Ping ping;
	Kmem__Alloc alloc;
	Kmem__Free free;
	Kmem__AllocBatch ab;
	Kmem__FreeBatch fb;
	Kmem__CacheAlloc ca;
	Kmem__CacheFree cf;
};

static void r_request(uint64_t *rng, struct rreq *x)
{
	static const Kmem__Request__BodyCase cases[] = {
		KMEM__REQUEST__BODY__NOT_SET, KMEM__REQUEST__BODY_PING,
		KMEM__REQUEST__BODY_ALLOC, KMEM__REQUEST__BODY_FREE,
		KMEM__REQUEST__BODY_ALLOC_BATCH, KMEM__REQUEST__BODY_FREE_BATCH,
		KMEM__REQUEST__BODY_CACHE_ALLOC, KMEM__REQUEST__BODY_CACHE_FREE,
	};
	Kmem__Request *q = &x->q;

	*q = (Kmem__Request)KMEM__REQUEST__INIT;
	q->seq = r_u64(rng);
	q->body_case = cases[tu_below(rng, N(cases))];
	switch (q->body_case) {
	case KMEM__REQUEST__BODY_PING:
		x->ping = (Kmem__Ping)KMEM__PING__INIT;
		x->ping.payload.len = tu_below(rng, 3) ? tu_below(rng, 300) : 0;
		x->ping.payload.data = (uint8_t *)r_str(rng, 0);
		if (!x->ping.payload.data || x->ping.payload.data ==
		    (const uint8_t *)protobuf_c_empty_string)
			x->ping.payload.len = 0;
		else
			x->ping.payload.len = strlen(strs[0]);
		q->ping = &x->ping;
		break;
	case KMEM__REQUEST__BODY_ALLOC:
		x->alloc = (Kmem__Alloc)KMEM__ALLOC__INIT;
		x->alloc.pool = r_str(rng, 0);
		x->alloc.size = r_u64(rng);
		x->alloc.align = r_u64(rng);
		x->alloc.flags = (uint32_t)r_u64(rng);
		if (tu_below(rng, 2)) {
			x->alloc.numa_case = KMEM__ALLOC__NUMA_NODE;
			x->alloc.node = (int32_t)r_u64(rng);
		}
		x->alloc.dma_mask = r_u64(rng);
		x->alloc.boundary = r_u64(rng);
		x->alloc.name = r_str(rng, 1);
		x->alloc.tag = r_str(rng, 2);
		x->alloc.persist = (protobuf_c_boolean)tu_below(rng, 3);
		x->alloc.timeout_ms = (uint32_t)r_u64(rng);
		q->alloc = &x->alloc;
		break;
	case KMEM__REQUEST__BODY_FREE:
		x->free = (Kmem__Free)KMEM__FREE__INIT;
		x->free.id = r_u64(rng);
		q->free = &x->free;
		break;
	case KMEM__REQUEST__BODY_ALLOC_BATCH:
		x->ab = (Kmem__AllocBatch)KMEM__ALLOC_BATCH__INIT;
		x->ab.pool = r_str(rng, 0);
		x->ab.size = r_u64(rng);
		x->ab.count = (uint32_t)r_u64(rng);
		x->ab.flags = (uint32_t)r_u64(rng);
		x->ab.align = r_u64(rng);
		x->ab.tag = r_str(rng, 1);
		x->ab.magazine = (protobuf_c_boolean)tu_below(rng, 2);
		x->ab.magazine_objects = r_arr(rng, 0, &x->ab.n_magazine_objects);
		x->ab.magazine_bytes = r_arr(rng, 1, &x->ab.n_magazine_bytes);
		q->alloc_batch = &x->ab;
		break;
	case KMEM__REQUEST__BODY_FREE_BATCH:
		x->fb = (Kmem__FreeBatch)KMEM__FREE_BATCH__INIT;
		x->fb.ids = r_arr(rng, 0, &x->fb.n_ids);
		x->fb.magazine = (protobuf_c_boolean)tu_below(rng, 2);
		x->fb.magazine_objects = r_arr(rng, 1, &x->fb.n_magazine_objects);
		x->fb.magazine_bytes = r_arr(rng, 2, &x->fb.n_magazine_bytes);
		q->free_batch = &x->fb;
		break;
	case KMEM__REQUEST__BODY_CACHE_ALLOC:
		x->ca = (Kmem__CacheAlloc)KMEM__CACHE_ALLOC__INIT;
		switch (tu_below(rng, 3)) {
		case 0: break;
		case 1:
			x->ca.cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
			x->ca.name = r_str(rng, 0);
			break;
		default:
			x->ca.cache_case = KMEM__CACHE_ALLOC__CACHE_CACHE_ID;
			x->ca.cache_id = r_u64(rng);
			break;
		}
		x->ca.count = (uint32_t)r_u64(rng);
		x->ca.tag = r_str(rng, 1);
		x->ca.magazine = (protobuf_c_boolean)tu_below(rng, 2);
		x->ca.magazine_objects = r_arr(rng, 1, &x->ca.n_magazine_objects);
		x->ca.magazine_bytes = r_arr(rng, 2, &x->ca.n_magazine_bytes);
		q->cache_alloc = &x->ca;
		break;
	case KMEM__REQUEST__BODY_CACHE_FREE:
		x->cf = (Kmem__CacheFree)KMEM__CACHE_FREE__INIT;
		x->cf.ids = r_arr(rng, 0, &x->cf.n_ids);
		q->cache_free = &x->cf;
		break;
	default:
		break;
	}
	/* Now and then a case with no member. */
	if (q->body_case && !tu_below(rng, 20))
		q->ping = NULL;
}

struct rresp {
	Kmem__Response r;
	Kmem__Pong pong;
	Kmem__Lease lease;
	Kmem__LeaseBatch lb;
};

static void r_response(uint64_t *rng, struct rresp *x)
{
	Kmem__Response *r = &x->r;

	*r = (Kmem__Response)KMEM__RESPONSE__INIT;
	r->seq = r_u64(rng);
	r->status = tu_below(rng, 2) ? 0 : (int)(r_u64(rng) % 13) - 1;
	r->message = r_str(rng, 3);
	switch (tu_below(rng, 4)) {
	case 0: break;
	case 1:
		x->pong = (Kmem__Pong)KMEM__PONG__INIT;
		x->pong.payload.data = (uint8_t *)r_str(rng, 0);
		x->pong.payload.len = x->pong.payload.data ?
				      strlen((char *)x->pong.payload.data) : 0;
		r->body_case = KMEM__RESPONSE__BODY_PONG;
		r->pong = &x->pong;
		break;
	case 2:
		x->lease = (Kmem__Lease)KMEM__LEASE__INIT;
		x->lease.id = r_u64(rng);
		x->lease.pool_index = (uint32_t)r_u64(rng);
		x->lease.offset = r_u64(rng);
		x->lease.length = r_u64(rng);
		x->lease.phys = r_u64(rng);
		x->lease.name = r_str(rng, 0);
		x->lease.tag = r_str(rng, 1);
		r->body_case = KMEM__RESPONSE__BODY_LEASE;
		r->lease = &x->lease;
		break;
	default:
		x->lb = (Kmem__LeaseBatch)KMEM__LEASE_BATCH__INIT;
		x->lb.pool_index = (uint32_t)r_u64(rng);
		x->lb.length = r_u64(rng);
		x->lb.ids = r_arr(rng, 0, &x->lb.n_ids);
		x->lb.offsets = r_arr(rng, 1, &x->lb.n_offsets);
		x->lb.phys = r_arr(rng, 2, &x->lb.n_phys);
		r->body_case = KMEM__RESPONSE__BODY_LEASE_BATCH;
		r->lease_batch = &x->lb;
		break;
	}
	if (r->body_case && !tu_below(rng, 20))
		r->pong = NULL;
}

/* Flip, insert or drop a few bytes. */
static size_t mutate(uint64_t *rng, uint8_t *p, size_t n, size_t cap)
{
	for (uint64_t k = 1 + tu_below(rng, 3); k > 0; k--) {
		size_t at = n ? tu_below(rng, n) : 0;

		switch (tu_below(rng, 3)) {
		case 0:
			if (n)
				p[at] ^= (uint8_t)(1u << tu_below(rng, 8));
			break;
		case 1:
			if (n < cap) {
				memmove(p + at + 1, p + at, n - at);
				p[at] = (uint8_t)tu_rand(rng);
				n++;
			}
			break;
		default:
			if (n) {
				memmove(p + at, p + at + 1, n - at - 1);
				n--;
			}
			break;
		}
	}
	return n;
}

static void test_fastpb_random(void **state)
{
	uint64_t rng = tu_seed(__func__);
	uint64_t iters = tu_ops(20000);
	static uint8_t buf[8192];
	static struct rreq x;
	static struct rresp y;

	(void)state;
	fast_accepted = fast_declined = 0;
	for (uint64_t it = 0; it < iters; it++) {
		size_t n;

		r_request(&rng, &x);
		check_request(&x.q);
		n = kmem__request__pack(&x.q, buf);
		n = mutate(&rng, buf, n, sizeof(buf));
		check_request_bytes(buf, n, -1);
		r_response(&rng, &y);
		check_response(&y.r);
		n = kmem__response__pack(&y.r, buf);
		n = mutate(&rng, buf, n, sizeof(buf));
		check_response_bytes(buf, n, -1);
	}
	printf("%s: %llu messages each way; corrupted ones: %zu taken fast, "
	       "%zu declined\n", __func__, (unsigned long long)iters,
	       fast_accepted - 2 * (size_t)iters, fast_declined);
	assert_true(fast_declined > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fastpb_descriptors_match),
		cmocka_unit_test(test_fastpb_request_edges),
		cmocka_unit_test(test_fastpb_request_arrays),
		cmocka_unit_test(test_fastpb_request_oneofs_and_bodies),
		cmocka_unit_test(test_fastpb_response_edges),
		cmocka_unit_test(test_fastpb_response_batches),
		cmocka_unit_test(test_fastpb_encode_declines),
		cmocka_unit_test(test_fastpb_decode_declines),
		cmocka_unit_test(test_fastpb_decode_order_and_zeros),
		cmocka_unit_test(test_fastpb_frame_max),
		cmocka_unit_test(test_fastpb_free_shapes),
		cmocka_unit_test(test_fastpb_alloc_failures),
		cmocka_unit_test(test_fastpb_frame_with_arena),
		cmocka_unit_test(test_fastpb_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
