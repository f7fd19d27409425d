/*
 * gen_seeds.c - write the fuzzers' seed corpora (tests/fuzz/corpus/).
 *
 *	make fuzz-seeds		(runs: gen_seeds tests/fuzz/corpus)
 *
 * The seeds are committed; this program is how they were made, so that a
 * protocol change can regenerate them.  fuzz_dispatch seeds are real
 * request streams packed with the protobuf-c code: Hello then each request
 * type, pipelined sequences, and the protocol errors the daemon must
 * survive.  fuzz_engine seeds are operation scripts in fuzz_engine.c's
 * encoding.  fuzz_http and fuzz_config seeds are plain text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frame.h"

static const char *outdir;

static void put_file(const char *target, const char *name, const void *p,
		     size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* ------------------------------------------------------------ requests */

static struct kmem_frame_buf fb;
static uint64_t seq;

static void req(Kmem__Request *r)
{
	r->seq = ++seq;
	if (kmem_frame_pack_request(&fb, r)) {
		fprintf(stderr, "gen_seeds: cannot pack a request\n");
		exit(1);
	}
}

static void hello_v(uint32_t version)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;

	h.protocol_version = version;
	h.client_name = (char *)"seed";
	r.body_case = KMEM__REQUEST__BODY_HELLO;
	r.hello = &h;
	req(&r);
}

static void hello(void)
{
	hello_v(KMEM_PROTOCOL_VERSION);
}

struct a {
	const char *pool, *name, *tag;
	uint64_t size, align, dma_mask, boundary;
	uint32_t flags, timeout_ms;
	int node1;		/* NUMA node + 1; 0: not set */
	bool persist;
};

static void alloc(struct a x)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Alloc m = KMEM__ALLOC__INIT;

	m.pool = (char *)(x.pool ? x.pool : "");
	m.name = (char *)(x.name ? x.name : "");
	m.tag = (char *)(x.tag ? x.tag : "");
	m.size = x.size;
	m.align = x.align;
	m.dma_mask = x.dma_mask;
	m.boundary = x.boundary;
	m.flags = x.flags;
	m.timeout_ms = x.timeout_ms;
	m.persist = x.persist;
	if (x.node1) {
		m.numa_case = KMEM__ALLOC__NUMA_NODE;
		m.node = x.node1 - 1;
	}
	r.body_case = KMEM__REQUEST__BODY_ALLOC;
	r.alloc = &m;
	req(&r);
}

#define ALLOC(...) alloc((struct a){ __VA_ARGS__ })

static void free_id(uint64_t id)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Free m = KMEM__FREE__INIT;

	m.id = id;
	r.body_case = KMEM__REQUEST__BODY_FREE;
	r.free = &m;
	req(&r);
}

static void alloc_batch(const char *pool, uint64_t size, uint32_t count,
			uint32_t flags)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__AllocBatch m = KMEM__ALLOC_BATCH__INIT;

	m.pool = (char *)pool;
	m.size = size;
	m.count = count;
	m.flags = flags;
	r.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	r.alloc_batch = &m;
	req(&r);
}

static void free_batch(bool objects, uint64_t *ids, size_t n)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__FreeBatch fbm = KMEM__FREE_BATCH__INIT;
	Kmem__CacheFree cf = KMEM__CACHE_FREE__INIT;

	if (objects) {
		cf.ids = ids;
		cf.n_ids = n;
		r.body_case = KMEM__REQUEST__BODY_CACHE_FREE;
		r.cache_free = &cf;
	} else {
		fbm.ids = ids;
		fbm.n_ids = n;
		r.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
		r.free_batch = &fbm;
	}
	req(&r);
}

static void cache_create(const char *pool, const char *name, uint64_t size,
			 uint64_t align)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__CacheCreate m = KMEM__CACHE_CREATE__INIT;

	m.pool = (char *)pool;
	m.name = (char *)name;
	m.object_size = size;
	m.align = align;
	r.body_case = KMEM__REQUEST__BODY_CACHE_CREATE;
	r.cache_create = &m;
	req(&r);
}

static void cache_alloc(const char *name, uint64_t id, uint32_t count)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__CacheAlloc m = KMEM__CACHE_ALLOC__INIT;

	if (name) {
		m.cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
		m.name = (char *)name;
	} else {
		m.cache_case = KMEM__CACHE_ALLOC__CACHE_CACHE_ID;
		m.cache_id = id;
	}
	m.count = count;
	r.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	r.cache_alloc = &m;
	req(&r);
}

static void cache_destroy(const char *name)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__CacheDestroy m = KMEM__CACHE_DESTROY__INIT;

	m.name = (char *)name;
	r.body_case = KMEM__REQUEST__BODY_CACHE_DESTROY;
	r.cache_destroy = &m;
	req(&r);
}

static void lookup(const char *name)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Lookup m = KMEM__LOOKUP__INIT;

	m.name = (char *)name;
	r.body_case = KMEM__REQUEST__BODY_LOOKUP;
	r.lookup = &m;
	req(&r);
}

static void detach(uint64_t id)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Detach m = KMEM__DETACH__INIT;

	m.id = id;
	r.body_case = KMEM__REQUEST__BODY_DETACH;
	r.detach = &m;
	req(&r);
}

static void stats(Kmem__StatsFormat format)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Stats m = KMEM__STATS__INIT;

	m.format = format;
	r.body_case = KMEM__REQUEST__BODY_STATS;
	r.stats = &m;
	req(&r);
}

static void ping(const char *payload)
{
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Ping m = KMEM__PING__INIT;

	m.payload.data = (uint8_t *)payload;
	m.payload.len = strlen(payload);
	r.body_case = KMEM__REQUEST__BODY_PING;
	r.ping = &m;
	req(&r);
}

static void bodiless(void)
{
	Kmem__Request r = KMEM__REQUEST__INIT;

	req(&r);
}

static void raw(const void *p, size_t len)
{
	uint8_t *d = realloc(fb.data, fb.len + len);

	if (!d)
		exit(1);
	memcpy(d + fb.len, p, len);
	fb.data = d;
	fb.len += len;
	fb.cap = fb.len;
}

static void begin(void)
{
	kmem_frame_buf_init(&fb, 0);
	seq = 0;
}

static void end(const char *name)
{
	put_file("fuzz_dispatch", name, fb.data, fb.len);
	kmem_frame_buf_fini(&fb);
}

static void dispatch_seeds(void)
{
	uint64_t ids[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	begin(); hello(); end("hello");
	begin(); hello(); ALLOC(.size = 100); free_id(1); end("alloc-kmalloc");
	begin(); hello(); ALLOC(.size = 65536, .tag = "rx"); free_id(1); free_id(1);
	end("alloc-pages-double-free");
	begin(); hello(); ALLOC(.pool = "vm", .size = 12345, .flags = 2);
	ALLOC(.pool = "vm", .size = 4096, .align = 65536); end("alloc-vmem");
	begin(); hello(); ALLOC(.size = 300000, .flags = 1 | 4);
	ALLOC(.size = 8192, .flags = 8); end("alloc-scatter-zero-dma32");
	begin(); hello(); ALLOC(.size = 4096, .node1 = 1, .dma_mask = 0xffffffff,
				.boundary = 65536); end("alloc-constraints");
	begin(); hello(); ALLOC(.size = 8192, .name = "buf0", .persist = true);
	lookup("buf0"); detach(1); free_id(1); lookup("buf0");
	end("named-lookup-detach-free");
	begin(); hello(); ALLOC(.size = 4096, .name = "keep", .persist = true);
	lookup("keep"); free_id(1); end("named-freed-while-attached");
	begin(); hello(); ALLOC(.size = 4096, .name = "dup", .persist = true);
	ALLOC(.size = 4096, .name = "dup", .persist = true);
	ALLOC(.size = 4096, .name = "noflag"); end("named-errors");
	begin(); hello(); alloc_batch("", 4096, 8, 0); free_batch(false, ids, 8);
	end("batch");
	begin(); hello(); alloc_batch("vm", 100, 4, 0);
	free_batch(false, (uint64_t[]){ 1, 1 }, 2); end("batch-duplicate");
	begin(); hello(); cache_create("", "objs", 200, 64);
	cache_alloc("objs", 0, 4); free_batch(true, ids, 4); cache_destroy("objs");
	end("cache");
	begin(); hello(); cache_create("vm", "c2", 5000, 0); cache_alloc(NULL, 1, 3);
	cache_destroy("c2"); free_batch(true, ids, 2); free_id(3);
	cache_destroy("c2"); end("cache-by-id-busy");
	begin(); hello(); cache_create("", "kmalloc-64", 64, 0);
	cache_alloc("nope", 0, 1); free_batch(true, ids, 1); end("cache-errors");
	begin(); hello(); stats(KMEM__STATS_FORMAT__STATS_FORMAT_JSON);
	stats(KMEM__STATS_FORMAT__STATS_FORMAT_PROMETHEUS); end("stats");
	begin(); hello(); ping("hello, daemon"); end("ping");
	begin(); hello(); ALLOC(.size = 2u << 20); ALLOC(.size = 4096, .timeout_ms = 50);
	free_id(1); end("blocking-alloc");
	begin(); hello(); ALLOC(.size = 1u << 20); ALLOC(.size = 1u << 20);
	ALLOC(.size = 4096); end("quota");
	begin(); hello();
	for (int i = 0; i < 12; i++)
		ALLOC(.size = 512u << (i % 6), .pool = i % 2 ? "vm" : "");
	for (int i = 12; i > 0; i -= 2)
		free_id((uint64_t)i);
	end("pipelined");
	begin(); hello();
	for (int i = 0; i < 12; i++)
		stats(KMEM__STATS_FORMAT__STATS_FORMAT_JSON);
	end("backpressure");
	begin(); ALLOC(.size = 64); end("before-hello");
	begin(); hello(); hello(); end("hello-twice");
	begin(); hello_v(99); end("hello-bad-version");
	begin(); hello(); bodiless(); end("no-body");
	begin(); hello(); raw("\xff\xff\xff\xff", 4); end("too-long");
	begin(); hello(); raw("\x00\x00\x00\x10\x08\x01", 6); end("truncated");
	begin(); hello(); raw("\x00\x00\x00\x03\xff\xff\xff", 7); end("garbage");
	begin(); hello(); raw("\x00\x00\x00\x00", 4); end("empty-frame");
	begin(); hello(); ALLOC(.size = 0); ALLOC(.size = 64, .align = 3);
	ALLOC(.size = 64, .flags = 0x80); ALLOC(.size = 64, .pool = "nope");
	ALLOC(.size = 64, .dma_mask = 100); free_id(77); detach(5);
	end("invalid-arguments");
}

/* ------------------------------------------------------------ engine */

/* Opcodes of fuzz_engine.c's step() table. */
enum { KMALLOC = 0, FREE = 2, XALLOC = 4, CCREATE = 6, CALLOC = 7,
       CDESTROY = 9, CLAIM = 10, BADFREE = 11, SIZEOF = 12, SHRINK = 13,
       FAULT = 14 };

static void engine_seeds(void)
{
	static const uint8_t mixed[] = {
		KMALLOC, 0, 0, 100,		/* 101 bytes */
		KMALLOC, 0, 0x1f, 0xff,		/* 8192 */
		KMALLOC, 200, 0x10, 0,		/* pages: 65537 */
		XALLOC, 128, 0x04, 0, 0x81, 100, 0x42,	/* zero, 1M boundary */
		XALLOC, 0, 0, 50, 0x02, 0,		/* dma32 */
		XALLOC, 128, 0x01, 0, 0x09, 80,		/* node 0, aligned */
		CCREATE, 1, 0x05, 0, 200, 70,
		CALLOC, 1, CALLOC, 1, CALLOC, 1,
		FREE, 0, FREE, 3,
		CLAIM, 0, CLAIM, 200, 0, 3, 2,
		BADFREE, 0, BADFREE, 100, 0, 5, BADFREE, 200, 0, 0, 0x10, 0,
		SIZEOF, 1, 0, 7,
		CDESTROY, 1, FREE, 0, FREE, 0, FREE, 0, CDESTROY, 1,
		SHRINK, 0,
	};
	static const uint8_t fill[] = {
		KMALLOC, 200, 0xff, 0xff, KMALLOC, 200, 0xff, 0xff, KMALLOC, 200, 0xff, 0xff,
		KMALLOC, 200, 0xff, 0xff, KMALLOC, 200, 0xff, 0xff, KMALLOC, 0, 0, 8,
		FREE, 1, FREE, 2, KMALLOC, 200, 0xff, 0xff, FREE, 0, FREE, 0,
	};
	static const uint8_t faults[] = {
		FAULT, 0, CCREATE, 2, 0, 0, 64, 0,
		FAULT, 1, CCREATE, 2, 0, 0, 64, 0,
		FAULT, 0, CALLOC, 2, FAULT, 0, KMALLOC, 0, 0, 30,
		FAULT, 0, XALLOC, 150, 0, 9, 0, 0,
		FAULT, 2, KMALLOC, 150, 0, 9,
		FAULT, 0, CLAIM, 255, 0, 10, 1,
	};
	char name[32];

	for (unsigned sel = 0; sel < 8; sel++) {
		uint8_t buf[sizeof(mixed) + 1];

		buf[0] = (uint8_t)sel;
		memcpy(buf + 1, mixed, sizeof(mixed));
		snprintf(name, sizeof(name), "mixed-%s-layout%u",
			 sel & 1 ? "vmem" : "buddy", sel >> 1);
		put_file("fuzz_engine", name, buf, sizeof(buf));
	}
	for (unsigned sel = 0; sel < 2; sel++) {
		uint8_t buf[sizeof(faults) + 1];

		buf[0] = (uint8_t)(sel | 2);
		memcpy(buf + 1, faults, sizeof(faults));
		snprintf(name, sizeof(name), "faults-%s", sel ? "vmem" : "buddy");
		put_file("fuzz_engine", name, buf, sizeof(buf));
		buf[0] = (uint8_t)sel;
		memcpy(buf + 1, fill, sizeof(fill));
		snprintf(name, sizeof(name), "fill-%s", sel ? "vmem" : "buddy");
		put_file("fuzz_engine", name, buf, sizeof(fill) + 1);
	}
}

/* ------------------------------------------------------------ fastpb */

/*
 * fuzz_fastpb seeds are single payloads, no frame header: every hot
 * Request and Response (proto/fastpb.c) with its fields set, and a few
 * messages it leaves to protobuf-c.
 */
static void put_msg(const char *name, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(n + 1);

	if (!p)
		exit(1);
	protobuf_c_message_pack(m, p);
	put_file("fuzz_fastpb", name, p, n);
	free(p);
}

static void fastpb_request_seeds(void)
{
	static uint64_t ids[64], objs[] = { 3, 0, 7 }, bytes[] = { 4096, 0,
								    1 << 20 };
	Kmem__Request r = KMEM__REQUEST__INIT;
	Kmem__Ping pg = KMEM__PING__INIT;
	Kmem__Alloc a = KMEM__ALLOC__INIT;
	Kmem__Free f = KMEM__FREE__INIT;
	Kmem__AllocBatch ab = KMEM__ALLOC_BATCH__INIT;
	Kmem__FreeBatch fb2 = KMEM__FREE_BATCH__INIT;
	Kmem__CacheAlloc ca = KMEM__CACHE_ALLOC__INIT;
	Kmem__CacheFree cf = KMEM__CACHE_FREE__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;

	for (size_t i = 0; i < 64; i++)
		ids[i] = 0x100000001ull + i * 977;
	put_msg("req-empty", &r.base);
	r.seq = 300;
	put_msg("req-no-body", &r.base);
	r.body_case = KMEM__REQUEST__BODY_PING;
	r.ping = &pg;
	put_msg("req-ping-empty", &r.base);
	pg.payload.data = (uint8_t *)"latency probe";
	pg.payload.len = 13;
	put_msg("req-ping", &r.base);
	r.body_case = KMEM__REQUEST__BODY_ALLOC;
	r.alloc = &a;
	a.size = 64;
	put_msg("req-alloc-64", &r.base);
	a.pool = (char *)"dma";
	a.size = 1ull << 30;
	a.align = 1 << 21;
	a.flags = 15;
	a.numa_case = KMEM__ALLOC__NUMA_NODE;
	a.node = -1;
	a.dma_mask = 0xffffffff;
	a.boundary = 1ull << 32;
	a.name = (char *)"ring0";
	a.tag = (char *)"nic";
	a.persist = 1;
	a.timeout_ms = 250;
	put_msg("req-alloc-all", &r.base);
	r.body_case = KMEM__REQUEST__BODY_FREE;
	r.free = &f;
	f.id = UINT64_MAX;
	put_msg("req-free", &r.base);
	r.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	r.alloc_batch = &ab;
	ab.pool = (char *)"dma";
	ab.size = 4096;
	ab.count = 64;
	ab.flags = 4;
	ab.align = 64;
	ab.tag = (char *)"mag";
	ab.magazine = 1;
	ab.n_magazine_objects = ab.n_magazine_bytes = 3;
	ab.magazine_objects = objs;
	ab.magazine_bytes = bytes;
	put_msg("req-alloc-batch", &r.base);
	r.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
	r.free_batch = &fb2;
	fb2.n_ids = 64;
	fb2.ids = ids;
	put_msg("req-free-batch", &r.base);
	fb2.magazine = 1;
	fb2.n_magazine_objects = fb2.n_magazine_bytes = 3;
	fb2.magazine_objects = objs;
	fb2.magazine_bytes = bytes;
	put_msg("req-free-batch-magazine", &r.base);
	r.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	r.cache_alloc = &ca;
	ca.cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
	ca.name = (char *)"objs";
	ca.count = 8;
	ca.tag = (char *)"t";
	put_msg("req-cache-alloc-name", &r.base);
	ca.cache_case = KMEM__CACHE_ALLOC__CACHE_CACHE_ID;
	ca.cache_id = 2;
	ca.magazine = 1;
	ca.n_magazine_objects = 3;
	ca.magazine_objects = objs;
	put_msg("req-cache-alloc-id", &r.base);
	r.body_case = KMEM__REQUEST__BODY_CACHE_FREE;
	r.cache_free = &cf;
	cf.n_ids = 8;
	cf.ids = ids;
	put_msg("req-cache-free", &r.base);
	r.body_case = KMEM__REQUEST__BODY_HELLO;
	r.hello = &h;
	h.protocol_version = KMEM_PROTOCOL_VERSION;
	h.client_name = (char *)"seed";
	put_msg("req-hello", &r.base);
}

static void fastpb_response_seeds(void)
{
	static uint64_t ids[64], offs[64], phys[64];
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__Pong pg = KMEM__PONG__INIT;
	Kmem__Lease l = KMEM__LEASE__INIT;
	Kmem__LeaseBatch lb = KMEM__LEASE_BATCH__INIT;
	Kmem__Segment sg = KMEM__SEGMENT__INIT, *sgs[1] = { &sg };

	for (size_t i = 0; i < 64; i++) {
		ids[i] = 1000 + i;
		offs[i] = i << 12;
		phys[i] = 0x1c0000000ull + (i << 12);
	}
	r.seq = 300;
	put_msg("resp-ok", &r.base);
	r.status = KMEM__STATUS__STATUS_NO_MEMORY;
	r.message = (char *)"no contiguous block of 64 MiB below 4 GiB";
	put_msg("resp-error", &r.base);
	r.status = KMEM__STATUS__STATUS_OK;
	r.message = (char *)protobuf_c_empty_string;
	r.body_case = KMEM__RESPONSE__BODY_PONG;
	r.pong = &pg;
	pg.payload.data = (uint8_t *)"latency probe";
	pg.payload.len = 13;
	put_msg("resp-pong", &r.base);
	r.body_case = KMEM__RESPONSE__BODY_LEASE;
	r.lease = &l;
	l.id = 77;
	l.pool_index = 1;
	l.offset = 1 << 21;
	l.length = 4096;
	l.phys = 0x1c0200000ull;
	put_msg("resp-lease", &r.base);
	l.name = (char *)"ring0";
	l.tag = (char *)"nic";
	put_msg("resp-lease-named", &r.base);
	l.n_segments = 1;
	l.segments = sgs;
	sg.offset = 1 << 21;
	sg.length = 4096;
	sg.phys = 0x1c0200000ull;
	put_msg("resp-lease-scatter", &r.base);
	r.body_case = KMEM__RESPONSE__BODY_LEASE_BATCH;
	r.lease_batch = &lb;
	lb.pool_index = 0;
	lb.length = 64;
	lb.n_ids = lb.n_offsets = lb.n_phys = 64;
	lb.ids = ids;
	lb.offsets = offs;
	lb.phys = phys;
	put_msg("resp-lease-batch", &r.base);
}

/* ------------------------------------------------------------ text */

static void text(const char *target, const char *name, const char *s)
{
	put_file(target, name, s, strlen(s));
}

static void http_seeds(void)
{
	static const char *const seeds[][2] = {
		{ "get-healthz", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" },
		{ "get-stats", "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n" },
		{ "get-metrics", "GET /metrics HTTP/1.1\r\n\r\n" },
		{ "head-stats", "HEAD /stats HTTP/1.1\r\n\r\n" },
		{ "http10", "GET /healthz HTTP/1.0\r\n\r\n" },
		{ "http10-keepalive", "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		  "GET /stats HTTP/1.0\r\n\r\n" },
		{ "close", "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n" },
		{ "pipelined", "GET /healthz HTTP/1.1\r\n\r\nHEAD /metrics HTTP/1.1\r\n\r\n"
		  "GET /stats?x=1 HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n" },
		{ "not-found", "GET /nope HTTP/1.1\r\n\r\n" },
		{ "post", "POST /stats HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" },
		{ "put-chunked", "PUT /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhello\r\n0\r\n\r\n" },
		{ "delete", "DELETE /healthz HTTP/1.1\r\n\r\n" },
		{ "absolute-uri", "GET http://localhost:80/stats#frag HTTP/1.1\r\n\r\n" },
		{ "bad-request", "GARBAGE\r\n\r\n" },
		{ "bad-version", "GET /stats HTTP/9.9\r\n\r\n" },
		{ "upgrade", "GET /stats HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" },
		{ "connect", "CONNECT localhost:80 HTTP/1.1\r\n\r\n" },
		{ "half-request", "GET /stats HTTP/1.1\r\nHost:" },
		{ "lf-only", "GET /healthz HTTP/1.1\nHost: x\n\n" },
		{ "options-star", "OPTIONS * HTTP/1.1\r\n\r\n" },
		{ "many-headers", "GET /healthz HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n"
		  "Accept: */*\r\nUser-Agent: seed\r\n\r\n" },
	};
	char url[1200];

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		text("fuzz_http", seeds[i][0], seeds[i][1]);
	snprintf(url, sizeof(url), "GET /%01100d HTTP/1.1\r\n\r\n", 0);
	text("fuzz_http", "long-url", url);
}

static void config_seeds(void)
{
	static const char *const seeds[][2] = {
		{ "example",
		  "[kmemd]\nsocket = /run/kmemd/kmemd.sock\nsocket_mode = 0660\n"
		  "log_level = info\nmax_frame = 1M\nout_limit = 4M\n"
		  "stall_timeout_ms = 10000\n\n[pool dma]\nsize = 1G\npage_size = 2M\n"
		  "uids = 0 1000\ngids = 27\nquota = 16M\n" },
		{ "stats",
		  "[kmemd]\nstats_socket = /run/kmemd/stats.sock\nstats_socket_mode = 0600\n"
		  "stats_port = 9464\nstats_address = ::1\nstats_timeout_ms = 5000\n" },
		{ "stats-none", "[kmemd]\nstats_socket = none\nstate_dir = /var/lib/kmemd\n" },
		{ "pools",
		  "[pool a]\nsize = 64M\npolicy = vmem\nallow_nohuge = true\n"
		  "[pool b]\nsize = 2G\npage_size = 1G\nrequire_contiguous = yes\n"
		  "path = /dev/hugepages/kmemd-b\n[pool c.d-e_f]\nsize = 4096\npage_size = 4K\n"
		  "policy = resource-map\nuids = 1,2,,3\n" },
		{ "admin", "; comment\n# comment\n[kmemd]\nadmin_group = root\n"
		  "log_level = debug ; inline\n" },
		{ "admin-gid", "[kmemd]\nadmin_group = 1234\nsocket = /tmp/x/kmemd.sock\n" },
		{ "bad-key", "[kmemd]\nnope = 1\n" },
		{ "bad-section", "[pools x]\nsize = 1M\n" },
		{ "bad-size", "[pool x]\nsize = 12Q\n" },
		{ "bad-page", "[pool x]\nsize = 3M\n" },
		{ "dup-pool", "[pool x]\nsize = 2M\n[pool y]\nsize = 2M\n[pool x]\nsize = 2M\n" },
		{ "name-key", "[pool x]\nname = y\n" },
		{ "continuation", "[kmemd]\nsocket = /a\n  /b\n" },
		{ "no-equals", "[kmemd]\nsocket\n" },
		{ "same-sockets", "[kmemd]\nsocket = /x.sock\nstats_socket = /x.sock\n" },
		{ "bom", "\xef\xbb\xbf[kmemd]\nlog_level = warn\n" },
		{ "pool-spec", "--pool name=dma,size=64M,page=2M,policy=buddy,uids=0:1000,"
		  "gids=27,quota=16M,nohuge,contig,path=/dev/hugepages/f" },
		{ "pool-spec-vmem", "--pool name=v,size=4M,page=4K,policy=vmem" },
		{ "pool-spec-bad", "--pool name=,size=0,flag" },
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		text("fuzz_config", seeds[i][0], seeds[i][1]);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds CORPUS_DIR\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) && errno != EEXIST) {
		perror(outdir);
		return 1;
	}
	dispatch_seeds();
	engine_seeds();
	http_seeds();
	config_seeds();
	fastpb_request_seeds();
	fastpb_response_seeds();
	return 0;
}
