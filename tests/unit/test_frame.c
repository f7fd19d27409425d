/*
 * test_frame.c - the wire framing (proto/frame.c) and the protocol messages
 * (proto/kmem.proto) round-tripped through it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "kmem/error.h"
#include "frame.h"

/* ---------------------------------------------------------------- helpers */

/* A protobuf-c allocator that counts, to prove unpack/free pair up. */
struct counting {
	size_t allocs, frees;
};

static void *count_alloc(void *data, size_t size)
{
	struct counting *c = data;

	c->allocs++;
	return malloc(size);
}

static void count_free(void *data, void *p)
{
	struct counting *c = data;

	if (p)
		c->frees++;
	free(p);
}

static ProtobufCAllocator counting_allocator(struct counting *c)
{
	ProtobufCAllocator a = { count_alloc, count_free, c };

	memset(c, 0, sizeof(*c));
	return a;
}

/* Decode every frame of stream, fed in chunks of the given sizes (cycled),
 * copying each payload out into frames[]; returns the frame count. */
struct got {
	uint8_t *data;
	size_t len;
};

static size_t decode_chunks(const uint8_t *stream, size_t n,
			    const size_t *sizes, size_t nsizes,
			    struct got *frames, size_t max_frames)
{
	struct kmem_frame_decoder d;
	size_t off = 0, nf = 0, i = 0;
	const uint8_t *p;
	size_t len;
	int rc;

	kmem_frame_decoder_init(&d, 0);
	while (off < n) {
		size_t k = sizes[i++ % nsizes];

		if (k > n - off)
			k = n - off;
		kmem_frame_decoder_feed(&d, stream + off, k);
		while ((rc = kmem_frame_decoder_next(&d, &p, &len)) == 1) {
			assert_true(nf < max_frames);
			frames[nf].data = malloc(len ? len : 1);
			assert_non_null(frames[nf].data);
			memcpy(frames[nf].data, p, len);
			frames[nf].len = len;
			nf++;
		}
		assert_int_equal(rc, 0);
		off += k;
	}
	assert_int_equal(kmem_frame_decoder_pending(&d), 0);
	kmem_frame_decoder_fini(&d);
	return nf;
}

static void free_got(struct got *frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(frames[i].data);
}

/* ---------------------------------------------------------------- messages */

static uint64_t batch_ids[] = { 1, 2, 300, 1ull << 40, UINT64_MAX };
static uint64_t batch_offs[] = { 0, 4096, 8192, 1ull << 30, 1ull << 33 };
static uint64_t batch_phys[] = { 0x1000, 0x2000, 0xFFFFF000, 1ull << 35, 7 };

#define NREQ 13

/*
 * Fill req[i] (and the bodies in *s) with one request of every kind, every
 * field set to a non-default value.
 */
struct reqs {
	Kmem__Request r[NREQ];
	Kmem__Hello hello;
	Kmem__Alloc alloc;
	Kmem__Free free;
	Kmem__AllocBatch alloc_batch;
	Kmem__FreeBatch free_batch;
	Kmem__CacheCreate cache_create;
	Kmem__CacheAlloc cache_alloc;
	Kmem__CacheFree cache_free;
	Kmem__CacheDestroy cache_destroy;
	Kmem__Lookup lookup;
	Kmem__Detach detach;
	Kmem__Stats stats;
	Kmem__Ping ping;
};

static uint8_t ping_bytes[] = { 0, 1, 2, 0xff, 0 };

static void make_requests(struct reqs *s)
{
	for (int i = 0; i < NREQ; i++) {
		kmem__request__init(&s->r[i]);
		s->r[i].seq = 1000 + (uint64_t)i;
	}
	kmem__hello__init(&s->hello);
	s->hello.protocol_version = KMEM_PROTOCOL_VERSION;
	s->hello.client_name = "unit-test";
	s->r[0].body_case = KMEM__REQUEST__BODY_HELLO;
	s->r[0].hello = &s->hello;

	kmem__alloc__init(&s->alloc);
	s->alloc.pool = "dma";
	s->alloc.size = 64ull << 20;
	s->alloc.align = 1ull << 21;
	s->alloc.flags = KMEM__ALLOC_FLAG__ALLOC_FLAG_ZERO |
			 KMEM__ALLOC_FLAG__ALLOC_FLAG_DMA32;
	s->alloc.numa_case = KMEM__ALLOC__NUMA_NODE;
	s->alloc.node = -1;
	s->alloc.dma_mask = 0xffffffffull;
	s->alloc.boundary = 1ull << 30;
	s->alloc.name = "ring0";
	s->alloc.tag = "nic";
	s->alloc.persist = 1;
	s->alloc.timeout_ms = 250;
	s->r[1].body_case = KMEM__REQUEST__BODY_ALLOC;
	s->r[1].alloc = &s->alloc;

	kmem__free__init(&s->free);
	s->free.id = 77;
	s->r[2].body_case = KMEM__REQUEST__BODY_FREE;
	s->r[2].free = &s->free;

	kmem__alloc_batch__init(&s->alloc_batch);
	s->alloc_batch.pool = "dma";
	s->alloc_batch.size = 2048;
	s->alloc_batch.count = 512;
	s->alloc_batch.flags = KMEM__ALLOC_FLAG__ALLOC_FLAG_EXACT;
	s->alloc_batch.align = 64;
	s->r[3].body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	s->r[3].alloc_batch = &s->alloc_batch;

	kmem__free_batch__init(&s->free_batch);
	s->free_batch.n_ids = 5;
	s->free_batch.ids = batch_ids;
	s->r[4].body_case = KMEM__REQUEST__BODY_FREE_BATCH;
	s->r[4].free_batch = &s->free_batch;

	kmem__cache_create__init(&s->cache_create);
	s->cache_create.pool = "dma";
	s->cache_create.name = "mbuf";
	s->cache_create.object_size = 2176;
	s->cache_create.align = 128;
	s->r[5].body_case = KMEM__REQUEST__BODY_CACHE_CREATE;
	s->r[5].cache_create = &s->cache_create;

	kmem__cache_alloc__init(&s->cache_alloc);
	s->cache_alloc.cache_case = KMEM__CACHE_ALLOC__CACHE_CACHE_ID;
	s->cache_alloc.cache_id = 9;
	s->cache_alloc.count = 32;
	s->r[6].body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	s->r[6].cache_alloc = &s->cache_alloc;

	kmem__cache_free__init(&s->cache_free);
	s->cache_free.n_ids = 3;
	s->cache_free.ids = batch_ids;
	s->r[7].body_case = KMEM__REQUEST__BODY_CACHE_FREE;
	s->r[7].cache_free = &s->cache_free;

	kmem__cache_destroy__init(&s->cache_destroy);
	s->cache_destroy.name = "mbuf";
	s->r[8].body_case = KMEM__REQUEST__BODY_CACHE_DESTROY;
	s->r[8].cache_destroy = &s->cache_destroy;

	kmem__lookup__init(&s->lookup);
	s->lookup.name = "ring0";
	s->r[9].body_case = KMEM__REQUEST__BODY_LOOKUP;
	s->r[9].lookup = &s->lookup;

	kmem__detach__init(&s->detach);
	s->detach.id = 78;
	s->r[10].body_case = KMEM__REQUEST__BODY_DETACH;
	s->r[10].detach = &s->detach;

	kmem__stats__init(&s->stats);
	s->stats.format = KMEM__STATS_FORMAT__STATS_FORMAT_PROMETHEUS;
	s->r[11].body_case = KMEM__REQUEST__BODY_STATS;
	s->r[11].stats = &s->stats;

	kmem__ping__init(&s->ping);
	s->ping.payload.len = sizeof(ping_bytes);
	s->ping.payload.data = ping_bytes;
	s->r[12].body_case = KMEM__REQUEST__BODY_PING;
	s->r[12].ping = &s->ping;
}

/* Field-by-field check of an unpacked request against the original. */
static void check_request(const Kmem__Request *got, const Kmem__Request *want)
{
	assert_int_equal(got->seq, want->seq);
	assert_int_equal(got->body_case, want->body_case);
	switch (want->body_case) {
	case KMEM__REQUEST__BODY_HELLO:
		assert_int_equal(got->hello->protocol_version, 1);
		assert_string_equal(got->hello->client_name, "unit-test");
		break;
	case KMEM__REQUEST__BODY_ALLOC:
		assert_string_equal(got->alloc->pool, "dma");
		assert_int_equal(got->alloc->size, 64ull << 20);
		assert_int_equal(got->alloc->align, 1ull << 21);
		assert_int_equal(got->alloc->flags, 4 | 8);
		assert_int_equal(got->alloc->numa_case, KMEM__ALLOC__NUMA_NODE);
		assert_int_equal(got->alloc->node, -1);
		assert_int_equal(got->alloc->dma_mask, 0xffffffffull);
		assert_int_equal(got->alloc->boundary, 1ull << 30);
		assert_string_equal(got->alloc->name, "ring0");
		assert_string_equal(got->alloc->tag, "nic");
		assert_int_equal(got->alloc->persist, 1);
		assert_int_equal(got->alloc->timeout_ms, 250);
		break;
	case KMEM__REQUEST__BODY_FREE:
		assert_int_equal(got->free->id, 77);
		break;
	case KMEM__REQUEST__BODY_ALLOC_BATCH:
		assert_string_equal(got->alloc_batch->pool, "dma");
		assert_int_equal(got->alloc_batch->size, 2048);
		assert_int_equal(got->alloc_batch->count, 512);
		assert_int_equal(got->alloc_batch->flags, 2);
		assert_int_equal(got->alloc_batch->align, 64);
		break;
	case KMEM__REQUEST__BODY_FREE_BATCH:
		assert_int_equal(got->free_batch->n_ids, 5);
		assert_memory_equal(got->free_batch->ids, batch_ids,
				    sizeof(batch_ids));
		break;
	case KMEM__REQUEST__BODY_CACHE_CREATE:
		assert_string_equal(got->cache_create->pool, "dma");
		assert_string_equal(got->cache_create->name, "mbuf");
		assert_int_equal(got->cache_create->object_size, 2176);
		assert_int_equal(got->cache_create->align, 128);
		break;
	case KMEM__REQUEST__BODY_CACHE_ALLOC:
		assert_int_equal(got->cache_alloc->cache_case,
				 KMEM__CACHE_ALLOC__CACHE_CACHE_ID);
		assert_int_equal(got->cache_alloc->cache_id, 9);
		assert_int_equal(got->cache_alloc->count, 32);
		break;
	case KMEM__REQUEST__BODY_CACHE_FREE:
		assert_int_equal(got->cache_free->n_ids, 3);
		assert_memory_equal(got->cache_free->ids, batch_ids,
				    3 * sizeof(uint64_t));
		break;
	case KMEM__REQUEST__BODY_CACHE_DESTROY:
		assert_string_equal(got->cache_destroy->name, "mbuf");
		break;
	case KMEM__REQUEST__BODY_LOOKUP:
		assert_string_equal(got->lookup->name, "ring0");
		break;
	case KMEM__REQUEST__BODY_DETACH:
		assert_int_equal(got->detach->id, 78);
		break;
	case KMEM__REQUEST__BODY_STATS:
		assert_int_equal(got->stats->format,
				 KMEM__STATS_FORMAT__STATS_FORMAT_PROMETHEUS);
		break;
	case KMEM__REQUEST__BODY_PING:
		assert_int_equal(got->ping->payload.len, sizeof(ping_bytes));
		assert_memory_equal(got->ping->payload.data, ping_bytes,
				    sizeof(ping_bytes));
		break;
	default:
		fail_msg("unexpected body_case %d", (int)want->body_case);
	}
}

#define NRESP 7

struct resps {
	Kmem__Response r[NRESP];
	Kmem__HelloReply hello;
	Kmem__PoolInfo pool[2];
	Kmem__PoolInfo *pools[2];
	Kmem__Lease lease;
	Kmem__Segment seg[2];
	Kmem__Segment *segs[2];
	Kmem__LeaseBatch batch;
	Kmem__CacheInfo cache;
	Kmem__StatsReply stats;
	Kmem__Pong pong;
};

static void make_responses(struct resps *s)
{
	for (int i = 0; i < NRESP; i++) {
		kmem__response__init(&s->r[i]);
		s->r[i].seq = 2000 + (uint64_t)i;
	}
	kmem__hello_reply__init(&s->hello);
	s->hello.daemon_version = "kmemd 0.1.0";
	s->hello.protocol_version = KMEM_PROTOCOL_VERSION;
	for (int i = 0; i < 2; i++) {
		kmem__pool_info__init(&s->pool[i]);
		s->pool[i].name = i ? "bulk" : "dma";
		s->pool[i].size = (uint64_t)(i + 1) << 30;
		s->pool[i].page_size = i ? 4096 : 2u << 20;
		s->pool[i].iova_mode = i ? "va" : "pa";
		s->pool[i].map_offset = (uint64_t)i * 4096;
		s->pool[i].policy = i ? "resource" : "buddy";
		s->pool[i].fd_index = (uint32_t)i;
		s->pools[i] = &s->pool[i];
	}
	s->hello.n_pools = 2;
	s->hello.pools = s->pools;
	s->r[0].body_case = KMEM__RESPONSE__BODY_HELLO;
	s->r[0].hello = &s->hello;

	kmem__lease__init(&s->lease);
	s->lease.id = 5;
	s->lease.pool_index = 1;
	s->lease.offset = 1ull << 21;
	s->lease.length = 3ull << 21;
	s->lease.phys = 0x80000000ull;
	for (int i = 0; i < 2; i++) {
		kmem__segment__init(&s->seg[i]);
		s->seg[i].offset = (uint64_t)(i + 1) << 21;
		s->seg[i].length = i ? 2ull << 21 : 1ull << 21;
		s->seg[i].phys = 0x80000000ull + ((uint64_t)i << 32);
		s->segs[i] = &s->seg[i];
	}
	s->lease.n_segments = 2;
	s->lease.segments = s->segs;
	s->lease.name = "ring0";
	s->lease.tag = "nic";
	s->r[1].body_case = KMEM__RESPONSE__BODY_LEASE;
	s->r[1].lease = &s->lease;

	kmem__lease_batch__init(&s->batch);
	s->batch.pool_index = 0;
	s->batch.length = 2048;
	s->batch.n_ids = s->batch.n_offsets = s->batch.n_phys = 5;
	s->batch.ids = batch_ids;
	s->batch.offsets = batch_offs;
	s->batch.phys = batch_phys;
	s->r[2].body_case = KMEM__RESPONSE__BODY_LEASE_BATCH;
	s->r[2].lease_batch = &s->batch;

	kmem__cache_info__init(&s->cache);
	s->cache.cache_id = 9;
	s->cache.name = "mbuf";
	s->cache.object_size = 2176;
	s->cache.align = 128;
	s->cache.pool_index = 1;
	s->r[3].body_case = KMEM__RESPONSE__BODY_CACHE;
	s->r[3].cache = &s->cache;

	kmem__stats_reply__init(&s->stats);
	s->stats.format = KMEM__STATS_FORMAT__STATS_FORMAT_JSON;
	s->stats.text = "{\"version\":1}";
	s->r[4].body_case = KMEM__RESPONSE__BODY_STATS;
	s->r[4].stats = &s->stats;

	kmem__pong__init(&s->pong);
	s->pong.payload.len = sizeof(ping_bytes);
	s->pong.payload.data = ping_bytes;
	s->r[5].body_case = KMEM__RESPONSE__BODY_PONG;
	s->r[5].pong = &s->pong;

	/* A failure: status and message, no body. */
	s->r[6].status = KMEM__STATUS__STATUS_CONSTRAINT;
	s->r[6].message = "no contiguous block of 64 MiB below 4 GiB; "
			  "largest is 16 MiB";
}

static void check_response(const Kmem__Response *got,
			   const Kmem__Response *want)
{
	assert_int_equal(got->seq, want->seq);
	assert_int_equal(got->status, want->status);
	assert_string_equal(got->message, want->message);
	assert_int_equal(got->body_case, want->body_case);
	switch (want->body_case) {
	case KMEM__RESPONSE__BODY_HELLO:
		assert_string_equal(got->hello->daemon_version, "kmemd 0.1.0");
		assert_int_equal(got->hello->protocol_version, 1);
		assert_int_equal(got->hello->n_pools, 2);
		for (size_t i = 0; i < 2; i++) {
			const Kmem__PoolInfo *p = got->hello->pools[i];

			assert_string_equal(p->name, i ? "bulk" : "dma");
			assert_int_equal(p->size, (uint64_t)(i + 1) << 30);
			assert_int_equal(p->page_size, i ? 4096 : 2u << 20);
			assert_string_equal(p->iova_mode, i ? "va" : "pa");
			assert_int_equal(p->map_offset, i * 4096);
			assert_string_equal(p->policy, i ? "resource" : "buddy");
			assert_int_equal(p->fd_index, i);
		}
		break;
	case KMEM__RESPONSE__BODY_LEASE:
		assert_int_equal(got->lease->id, 5);
		assert_int_equal(got->lease->pool_index, 1);
		assert_int_equal(got->lease->offset, 1ull << 21);
		assert_int_equal(got->lease->length, 3ull << 21);
		assert_int_equal(got->lease->phys, 0x80000000ull);
		assert_int_equal(got->lease->n_segments, 2);
		assert_int_equal(got->lease->segments[1]->offset, 2ull << 21);
		assert_int_equal(got->lease->segments[1]->length, 2ull << 21);
		assert_int_equal(got->lease->segments[1]->phys,
				 0x80000000ull + (1ull << 32));
		assert_string_equal(got->lease->name, "ring0");
		assert_string_equal(got->lease->tag, "nic");
		break;
	case KMEM__RESPONSE__BODY_LEASE_BATCH:
		assert_int_equal(got->lease_batch->pool_index, 0);
		assert_int_equal(got->lease_batch->length, 2048);
		assert_int_equal(got->lease_batch->n_ids, 5);
		assert_int_equal(got->lease_batch->n_offsets, 5);
		assert_int_equal(got->lease_batch->n_phys, 5);
		assert_memory_equal(got->lease_batch->ids, batch_ids,
				    sizeof(batch_ids));
		assert_memory_equal(got->lease_batch->offsets, batch_offs,
				    sizeof(batch_offs));
		assert_memory_equal(got->lease_batch->phys, batch_phys,
				    sizeof(batch_phys));
		break;
	case KMEM__RESPONSE__BODY_CACHE:
		assert_int_equal(got->cache->cache_id, 9);
		assert_string_equal(got->cache->name, "mbuf");
		assert_int_equal(got->cache->object_size, 2176);
		assert_int_equal(got->cache->align, 128);
		assert_int_equal(got->cache->pool_index, 1);
		break;
	case KMEM__RESPONSE__BODY_STATS:
		assert_int_equal(got->stats->format,
				 KMEM__STATS_FORMAT__STATS_FORMAT_JSON);
		assert_string_equal(got->stats->text, "{\"version\":1}");
		break;
	case KMEM__RESPONSE__BODY_PONG:
		assert_int_equal(got->pong->payload.len, sizeof(ping_bytes));
		assert_memory_equal(got->pong->payload.data, ping_bytes,
				    sizeof(ping_bytes));
		break;
	case KMEM__RESPONSE__BODY__NOT_SET:
		break;
	default:
		fail_msg("unexpected body_case %d", (int)want->body_case);
	}
}

/* Pack every request into one buffer, every response into another. */
static void pack_all(struct kmem_frame_buf *rq, struct reqs *q,
		     struct kmem_frame_buf *rs, struct resps *s)
{
	make_requests(q);
	make_responses(s);
	kmem_frame_buf_init(rq, 0);
	kmem_frame_buf_init(rs, 0);
	for (int i = 0; i < NREQ; i++)
		assert_int_equal(kmem_frame_pack_request(rq, &q->r[i]), 0);
	for (int i = 0; i < NRESP; i++)
		assert_int_equal(kmem_frame_pack_response(rs, &s->r[i]), 0);
}

/* Decode stream (chunked as given) and check it holds exactly the NREQ
 * requests of make_requests(). */
static void check_request_stream(const struct kmem_frame_buf *b,
				 const struct reqs *q, const size_t *sizes,
				 size_t nsizes)
{
	struct got frames[NREQ + 1];
	size_t n = decode_chunks(b->data, b->len, sizes, nsizes, frames,
				 NREQ + 1);

	assert_int_equal(n, NREQ);
	for (size_t i = 0; i < n; i++) {
		Kmem__Request *r = NULL;

		assert_int_equal(kmem_frame_unpack_request(frames[i].data,
							   frames[i].len, NULL,
							   &r), 0);
		check_request(r, &q->r[i]);
		kmem_frame_free_request(r, NULL);
	}
	free_got(frames, n);
}

/* ---------------------------------------------------------------- tests */

static void test_frame_roundtrip_every_request(void **state)
{
	struct kmem_frame_buf rq, rs;
	struct reqs q;
	struct resps s;
	size_t whole = SIZE_MAX;

	(void)state;
	pack_all(&rq, &q, &rs, &s);
	/* The first frame's header is its exact packed length. */
	size_t n0 = kmem__request__get_packed_size(&q.r[0]);
	assert_int_equal(rq.data[0], 0);
	assert_int_equal(rq.data[1], 0);
	assert_int_equal(rq.data[2], (n0 >> 8) & 0xff);
	assert_int_equal(rq.data[3], n0 & 0xff);
	check_request_stream(&rq, &q, &whole, 1);
	kmem_frame_buf_fini(&rq);
	kmem_frame_buf_fini(&rs);
}

static void test_frame_roundtrip_every_response(void **state)
{
	struct kmem_frame_buf rq, rs;
	struct reqs q;
	struct resps s;
	struct kmem_frame_decoder d;
	const uint8_t *p;
	size_t len, i = 0;

	(void)state;
	pack_all(&rq, &q, &rs, &s);
	kmem_frame_decoder_init(&d, 0);
	kmem_frame_decoder_feed(&d, rs.data, rs.len);
	while (kmem_frame_decoder_next(&d, &p, &len) == 1) {
		Kmem__Response *r = NULL;

		assert_true(i < NRESP);
		assert_int_equal(kmem_frame_unpack_response(p, len, NULL, &r),
				 0);
		check_response(r, &s.r[i]);
		kmem_frame_free_response(r, NULL);
		i++;
	}
	assert_int_equal(i, NRESP);
	assert_int_equal(kmem_frame_decoder_pending(&d), 0);
	kmem_frame_decoder_fini(&d);
	kmem_frame_buf_fini(&rq);
	kmem_frame_buf_fini(&rs);
}

static void test_frame_decoder_byte_by_byte(void **state)
{
	struct kmem_frame_buf rq, rs;
	struct reqs q;
	struct resps s;
	size_t one = 1;

	(void)state;
	pack_all(&rq, &q, &rs, &s);
	check_request_stream(&rq, &q, &one, 1);
	kmem_frame_buf_fini(&rq);
	kmem_frame_buf_fini(&rs);
}

static void test_frame_decoder_random_splits(void **state)
{
	struct kmem_frame_buf rq, rs;
	struct reqs q;
	struct resps s;
	uint64_t rng = tu_seed(__func__);
	size_t sizes[64];

	(void)state;
	pack_all(&rq, &q, &rs, &s);
	for (int round = 0; round < 500; round++) {
		/* Mostly small chunks, sometimes chunks spanning frames. */
		for (size_t i = 0; i < 64; i++)
			sizes[i] = 1 + tu_below(&rng, tu_below(&rng, 4) ?
						16 : rq.len);
		check_request_stream(&rq, &q, sizes, 64);
	}
	kmem_frame_buf_fini(&rq);
	kmem_frame_buf_fini(&rs);
}

/* Many whole frames in one chunk come out in place: no copy, no buffer. */
static void test_frame_decoder_zero_copy_many_per_chunk(void **state)
{
	struct kmem_frame_buf b;
	struct kmem_frame_decoder d;
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Free f = KMEM__FREE__INIT;
	const uint8_t *p;
	size_t len, off = 0;
	int i;

	(void)state;
	kmem_frame_buf_init(&b, 0);
	r.body_case = KMEM__REQUEST__BODY_FREE;
	r.free = &f;
	for (i = 0; i < 1000; i++) {
		r.seq = (uint64_t)i;
		f.id = (uint64_t)i * 3;
		assert_int_equal(kmem_frame_pack_request(&b, &r), 0);
	}
	kmem_frame_decoder_init(&d, 0);
	kmem_frame_decoder_feed(&d, b.data, b.len);
	for (i = 0; i < 1000; i++) {
		Kmem__Request *u = NULL;

		assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 1);
		assert_ptr_equal(p, b.data + off + KMEM_FRAME_HDR);
		off += KMEM_FRAME_HDR + len;
		assert_int_equal(kmem_frame_unpack_request(p, len, NULL, &u),
				 0);
		assert_int_equal(u->seq, i);
		assert_int_equal(u->body_case, KMEM__REQUEST__BODY_FREE);
		assert_int_equal(u->free->id, (uint64_t)i * 3);
		kmem_frame_free_request(u, NULL);
	}
	assert_int_equal(off, b.len);
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 0);
	assert_null(d.buf);
	assert_int_equal(d.cap, 0);
	kmem_frame_decoder_fini(&d);
	kmem_frame_buf_fini(&b);
}

static void test_frame_oversize_refused(void **state)
{
	/* max + 1 = 4097 = 0x00001001, then bytes that must never be read. */
	static const uint8_t bad[] = { 0, 0, 0x10, 0x01, 'x', 'y' };
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t ok[] = { 0, 0, 0x10, 0x00 };
	struct kmem_frame_decoder d;
	const uint8_t *p;
	size_t len;

	(void)state;
	/* Whole header in one chunk. */
	kmem_frame_decoder_init(&d, 4096);
	kmem_frame_decoder_feed(&d, bad, sizeof(bad));
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), KMEM_ETOOBIG);
	assert_int_equal(d.cap, 0);
	assert_null(d.buf);
	/* The error is sticky, whatever follows. */
	kmem_frame_decoder_feed(&d, ok, sizeof(ok));
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), KMEM_ETOOBIG);
	kmem_frame_decoder_fini(&d);

	/* Header split byte by byte: refused at the fourth byte. */
	kmem_frame_decoder_init(&d, 4096);
	for (int i = 0; i < 3; i++) {
		kmem_frame_decoder_feed(&d, &bad[i], 1);
		assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 0);
	}
	assert_int_equal(kmem_frame_decoder_pending(&d), 3);
	kmem_frame_decoder_feed(&d, &bad[3], 1);
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), KMEM_ETOOBIG);
	assert_int_equal(d.cap, 0);
	assert_null(d.buf);
	kmem_frame_decoder_fini(&d);

	/* 4 GiB - 1 against the default maximum. */
	kmem_frame_decoder_init(&d, 0);
	assert_int_equal(d.max, KMEM_FRAME_MAX_DEFAULT);
	kmem_frame_decoder_feed(&d, huge, sizeof(huge));
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), KMEM_ETOOBIG);
	assert_int_equal(d.cap, 0);
	kmem_frame_decoder_fini(&d);

	/* Exactly max is accepted (and buffered, since it is incomplete). */
	kmem_frame_decoder_init(&d, 4096);
	kmem_frame_decoder_feed(&d, ok, sizeof(ok));
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 0);
	assert_int_equal(kmem_frame_decoder_pending(&d), 4);
	assert_int_equal(d.cap, 4096);
	kmem_frame_decoder_fini(&d);
}

/* The encoder refuses what the peer's decoder would refuse. */
static void test_frame_append_oversize_refused(void **state)
{
	static uint8_t big[200];
	struct kmem_frame_buf b;
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__Pong pong = KMEM__PONG__INIT;

	(void)state;
	kmem_frame_buf_init(&b, 100);
	r.body_case = KMEM__RESPONSE__BODY_PONG;
	r.pong = &pong;
	pong.payload.data = big;
	pong.payload.len = 90;
	assert_int_equal(kmem_frame_pack_response(&b, &r), 0);
	size_t len = b.len;
	assert_int_equal(len, KMEM_FRAME_HDR + 2 + 2 + 90);
	pong.payload.len = sizeof(big);
	assert_int_equal(kmem_frame_pack_response(&b, &r), KMEM_ETOOBIG);
	assert_int_equal(b.len, len);
	assert_int_equal(kmem_frame_pack_response(&b, NULL), KMEM_EINVAL);
	assert_int_equal(b.len, len);
	kmem_frame_buf_fini(&b);
}

static void test_frame_buf_consume(void **state)
{
	struct kmem_frame_buf b;
	Kmem__Request r = KMEM__REQUEST__INIT;
	struct kmem_frame_decoder d;
	const uint8_t *p;
	size_t len, one;
	Kmem__Request *u = NULL;

	(void)state;
	kmem_frame_buf_init(&b, 0);
	r.seq = 1;
	assert_int_equal(kmem_frame_pack_request(&b, &r), 0);
	one = b.len;
	assert_int_equal(one, KMEM_FRAME_HDR + 2);
	r.seq = 2;
	assert_int_equal(kmem_frame_pack_request(&b, &r), 0);
	assert_int_equal(b.len, 2 * one);
	/* A partial write of 3 bytes, then the rest of the first frame. */
	kmem_frame_buf_consume(&b, 3);
	assert_int_equal(b.len, 2 * one - 3);
	kmem_frame_buf_consume(&b, one - 3);
	assert_int_equal(b.len, one);
	kmem_frame_decoder_init(&d, 0);
	kmem_frame_decoder_feed(&d, b.data, b.len);
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 1);
	assert_int_equal(kmem_frame_unpack_request(p, len, NULL, &u), 0);
	assert_int_equal(u->seq, 2);
	kmem_frame_free_request(u, NULL);
	kmem_frame_decoder_fini(&d);
	kmem_frame_buf_consume(&b, 1000);
	assert_int_equal(b.len, 0);
	kmem_frame_buf_fini(&b);
}

/* Length 0 is an empty message: valid protobuf, a Request without body. */
static void test_frame_empty_frame_allowed(void **state)
{
	static const uint8_t two_empty[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	struct kmem_frame_decoder d;
	const uint8_t *p = NULL;
	size_t len = 99;
	Kmem__Request *r = NULL;

	(void)state;
	kmem_frame_decoder_init(&d, 0);
	kmem_frame_decoder_feed(&d, two_empty, sizeof(two_empty));
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 1);
	assert_non_null(p);
	assert_int_equal(len, 0);
	assert_int_equal(kmem_frame_unpack_request(p, len, NULL, &r), 0);
	assert_int_equal(r->seq, 0);
	assert_int_equal(r->body_case, KMEM__REQUEST__BODY__NOT_SET);
	kmem_frame_free_request(r, NULL);
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 0);
	/* Split: the empty frame comes out of the gathering path too. */
	for (int i = 0; i < 4; i++) {
		kmem_frame_decoder_feed(&d, &two_empty[i], 1);
		assert_int_equal(kmem_frame_decoder_next(&d, &p, &len),
				 i == 3 ? 1 : 0);
	}
	assert_non_null(p);
	assert_int_equal(len, 0);
	assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 0);
	assert_int_equal(kmem_frame_decoder_pending(&d), 0);
	kmem_frame_decoder_fini(&d);
}

/* A frame missing its last byte never yields, however it is split. */
static void test_frame_truncated_never_yields(void **state)
{
	struct kmem_frame_buf b;
	struct kmem_frame_decoder d;
	Kmem__Response r = KMEM__RESPONSE__INIT;
	const uint8_t *p;
	size_t len;
	uint64_t rng = tu_seed(__func__);

	(void)state;
	kmem_frame_buf_init(&b, 0);
	r.seq = 42;
	r.status = KMEM__STATUS__STATUS_NOT_FOUND;
	r.message = "no lease with id 42 in this session";
	assert_int_equal(kmem_frame_pack_response(&b, &r), 0);
	for (size_t cut = 0; cut < b.len; cut++) {
		for (int round = 0; round < 20; round++) {
			size_t off = 0;

			kmem_frame_decoder_init(&d, 0);
			while (off < cut) {
				size_t k = 1 + tu_below(&rng, cut - off);

				kmem_frame_decoder_feed(&d, b.data + off, k);
				assert_int_equal(
					kmem_frame_decoder_next(&d, &p, &len), 0);
				off += k;
			}
			assert_int_equal(kmem_frame_decoder_pending(&d), cut);
			/* The last byte completes it. */
			kmem_frame_decoder_feed(&d, b.data + cut, b.len - cut);
			assert_int_equal(kmem_frame_decoder_next(&d, &p, &len),
					 1);
			/* Whole in one chunk: served in place, nothing kept;
			 * straddling: gathered into exactly its length. */
			assert_int_equal(d.cap,
					 cut ? b.len - KMEM_FRAME_HDR : 0);
			assert_int_equal(len, b.len - KMEM_FRAME_HDR);
			assert_memory_equal(p, b.data + KMEM_FRAME_HDR, len);
			assert_int_equal(kmem_frame_decoder_next(&d, &p, &len), 0);
			kmem_frame_decoder_fini(&d);
		}
	}
	kmem_frame_buf_fini(&b);
}

static void test_frame_garbage_fails_unpack(void **state)
{
	/* Field 1 as a varint that never ends. */
	static const uint8_t endless[] = { 0x08, 0xff, 0xff, 0xff };
	/* Field 4 (Free) as a submessage announcing 100 bytes, holding 1. */
	static const uint8_t short_sub[] = { 0x22, 100, 0x08 };
	/* Wire type 7 does not exist. */
	static const uint8_t bad_wire[] = { 0x0f, 0x00 };
	/* Field number 0 is invalid. */
	static const uint8_t field0[] = { 0x00, 0x01 };
	struct kmem_frame_buf b;
	struct reqs q;
	Kmem__Request *r = (Kmem__Request *)1;
	Kmem__Response *s = (Kmem__Response *)1;
	struct counting c;
	ProtobufCAllocator a = counting_allocator(&c);

	(void)state;
	assert_int_equal(kmem_frame_unpack_request(endless, sizeof(endless),
						   &a, &r), KMEM_EINVAL);
	assert_int_equal(kmem_frame_unpack_request(short_sub,
						   sizeof(short_sub), &a, &r),
			 KMEM_EINVAL);
	assert_int_equal(kmem_frame_unpack_request(bad_wire, sizeof(bad_wire),
						   &a, &r), KMEM_EINVAL);
	assert_int_equal(kmem_frame_unpack_response(field0, sizeof(field0),
						    &a, &s), KMEM_EINVAL);
	assert_int_equal(kmem_frame_unpack_request(NULL, 3, &a, &r),
			 KMEM_EINVAL);
	/* Out-parameters untouched on failure; nothing leaked. */
	assert_ptr_equal(r, (Kmem__Request *)1);
	assert_ptr_equal(s, (Kmem__Response *)1);
	assert_int_equal(c.allocs, c.frees);

	/* Every strict prefix of the Alloc request is rejected or parses to
	 * something, never crashes; the whole one parses. */
	make_requests(&q);
	kmem_frame_buf_init(&b, 0);
	assert_int_equal(kmem_frame_pack_request(&b, &q.r[1]), 0);
	for (size_t n = 0; n + KMEM_FRAME_HDR < b.len; n++) {
		if (kmem_frame_unpack_request(b.data + KMEM_FRAME_HDR, n, &a,
					      &r) == 0)
			kmem_frame_free_request(r, &a);
	}
	assert_int_equal(kmem_frame_unpack_request(b.data + KMEM_FRAME_HDR,
						   b.len - KMEM_FRAME_HDR, &a,
						   &r), 0);
	check_request(r, &q.r[1]);
	kmem_frame_free_request(r, &a);
	assert_true(c.allocs > 0);
	assert_int_equal(c.allocs, c.frees);
	kmem_frame_buf_fini(&b);
}

/* A caller-supplied allocator carries every allocation of unpack. */
static void test_frame_unpack_uses_allocator(void **state)
{
	struct kmem_frame_buf rq, rs;
	struct reqs q;
	struct resps s;
	struct counting c;
	ProtobufCAllocator a = counting_allocator(&c);
	Kmem__Response *r = NULL;

	(void)state;
	pack_all(&rq, &q, &rs, &s);
	/* The first response is the HelloReply: outer message, body, two
	 * PoolInfos and their pointer array, plus strings. */
	size_t n = kmem__response__get_packed_size(&s.r[0]);
	assert_int_equal(kmem_frame_unpack_response(rs.data + KMEM_FRAME_HDR,
						    n, &a, &r), 0);
	check_response(r, &s.r[0]);
	assert_true(c.allocs >= 5);
	assert_int_equal(c.frees, 0);
	kmem_frame_free_response(r, &a);
	assert_int_equal(c.allocs, c.frees);
	kmem_frame_free_response(NULL, &a);
	kmem_frame_buf_fini(&rq);
	kmem_frame_buf_fini(&rs);
}

/*
 * Random bytes, and valid frames with random bytes flipped, go through the
 * decoder in random chunks and every yielded payload through both unpacks.
 * Nothing may crash (run it under the sanitizer build) and every
 * allocation made by unpack must be freed.
 */
static void test_frame_fuzz_random_bytes(void **state)
{
	struct kmem_frame_buf rq, rs;
	struct reqs q;
	struct resps s;
	struct counting c;
	ProtobufCAllocator a = counting_allocator(&c);
	uint64_t rng = tu_seed(__func__);
	uint64_t iters = tu_ops(300000);
	uint8_t chunk[512];
	struct kmem_frame_decoder d;
	size_t frames = 0, parsed = 0, errors = 0;

	(void)state;
	pack_all(&rq, &q, &rs, &s);
	kmem_frame_decoder_init(&d, 256);
	for (uint64_t it = 0; it < iters; it++) {
		size_t n = 1 + tu_below(&rng, sizeof(chunk));
		const uint8_t *p;
		size_t len;
		int rc;

		if (tu_below(&rng, 2)) {
			/* A slice of the valid streams, a few bytes flipped. */
			const struct kmem_frame_buf *src =
				tu_below(&rng, 2) ? &rq : &rs;
			size_t off = tu_below(&rng, src->len);

			if (n > src->len - off)
				n = src->len - off;
			memcpy(chunk, src->data + off, n);
			for (uint64_t k = tu_below(&rng, 4); k > 0; k--)
				chunk[tu_below(&rng, n)] ^=
					(uint8_t)(1u << tu_below(&rng, 8));
		} else {
			/* Random bytes, with small length headers likely. */
			for (size_t i = 0; i < n; i++)
				chunk[i] = (uint8_t)tu_rand(&rng);
			if (n >= 4 && tu_below(&rng, 2)) {
				chunk[0] = chunk[1] = 0;
				chunk[2] &= 0x01;
			}
		}
		kmem_frame_decoder_feed(&d, chunk, n);
		while ((rc = kmem_frame_decoder_next(&d, &p, &len)) == 1) {
			Kmem__Request *r;
			Kmem__Response *x;

			frames++;
			assert_true(len <= 256);
			if (kmem_frame_unpack_request(p, len, &a, &r) == 0) {
				parsed++;
				kmem_frame_free_request(r, &a);
			}
			if (kmem_frame_unpack_response(p, len, &a, &x) == 0) {
				parsed++;
				kmem_frame_free_response(x, &a);
			}
		}
		if (rc < 0) {
			assert_int_equal(rc, KMEM_ETOOBIG);
			errors++;
			/* The connection would close; start a fresh one. */
			kmem_frame_decoder_fini(&d);
			kmem_frame_decoder_init(&d, 256);
		}
		assert_true(d.cap <= 256);
	}
	kmem_frame_decoder_fini(&d);
	printf("%s: %llu chunks, %zu frames, %zu parsed, %zu oversize\n",
	       __func__, (unsigned long long)iters, frames, parsed, errors);
	assert_int_equal(c.allocs, c.frees);
	assert_true(frames > 0);
	assert_true(parsed > 0);
	assert_true(errors > 0);
	kmem_frame_buf_fini(&rq);
	kmem_frame_buf_fini(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_roundtrip_every_request),
		cmocka_unit_test(test_frame_roundtrip_every_response),
		cmocka_unit_test(test_frame_decoder_byte_by_byte),
		cmocka_unit_test(test_frame_decoder_random_splits),
		cmocka_unit_test(test_frame_decoder_zero_copy_many_per_chunk),
		cmocka_unit_test(test_frame_oversize_refused),
		cmocka_unit_test(test_frame_append_oversize_refused),
		cmocka_unit_test(test_frame_buf_consume),
		cmocka_unit_test(test_frame_empty_frame_allowed),
		cmocka_unit_test(test_frame_truncated_never_yields),
		cmocka_unit_test(test_frame_garbage_fails_unpack),
		cmocka_unit_test(test_frame_unpack_uses_allocator),
		cmocka_unit_test(test_frame_fuzz_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
