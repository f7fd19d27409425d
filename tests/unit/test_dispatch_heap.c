/*
 * test_dispatch_heap.c - the daemon's steady state costs no heap
 * allocation per request.
 *
 * A kmemd is built inside this process as main() builds it (one 16 MiB
 * 4 KiB-page pool, a socket in a temporary directory) and a client socket
 * of this process talks to it; the daemon's loop is run by hand.  Every
 * heap allocation made while the daemon's loop runs is counted: without
 * AddressSanitizer by defining malloc, calloc, realloc and the aligned
 * allocators here (the executable's definitions win over libc's for every
 * library, protobuf-c and libuv included) and forwarding them to glibc's
 * __libc_* entry points; under AddressSanitizer, whose runtime owns
 * malloc, through its allocation hook
 * (__sanitizer_install_malloc_and_free_hooks).  The client packs its
 * requests and parses the replies with counting off.
 *
 * For each common request type, after a warm-up (the session's buffers,
 * the arena, the slabs and hash tables reach their working sizes), N
 * more rounds must make no allocation, Lookup's attachment records
 * included (leases.c reuses them; they are recognised by their size and
 * counted apart, to say so if they ever come back).  The engine's
 * metadata allocations
 * (lib/meta.c, wrapped at link time: -Wl,--wrap=kmem__malloc ...) are
 * counted apart and must be none too: a batch round empties slabs beyond
 * the cache's reserve, which go back to the heap, but the next round's
 * new slabs reuse their descriptors (lib/slab.c keeps up to
 * KMEM_SLAB_SPARE_DESC of them per cache).
 * Stats builds a JSON document and may allocate; its count is printed,
 * not checked.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"
#include "dispatch.h"
#include "leases.h"
#include "frame.h"
#include "kmemd.h"
#include "log.h"
#include "pools.h"
#include "server.h"

#define WARM 200		/* rounds before counting */
#define ROUNDS 500		/* counted rounds */
#define BATCH 64
#define DEPTH_MAX 256		/* requests in one write */
#define BALLAST 96		/* leases held through the batch tests */

/* ------------------------------------------------------------ counting */

static struct {
	bool on;
	bool engine;		/* inside a kmem__malloc of the engine */
	size_t allocs, attaches, engine_allocs, frees;
} heap;

static void count_alloc(size_t size)
{
	if (!heap.on)
		return;
	heap.allocs++;
	if (heap.engine)
		heap.engine_allocs++;
	else if (size == sizeof(struct attach))
		heap.attaches++;
}

/* The engine's metadata allocations, told apart (see the Makefile). */
void *__real_kmem__malloc(size_t size);
void *__real_kmem__calloc(size_t n, size_t size);
void *__real_kmem__realloc(void *p, size_t size);
void *__wrap_kmem__malloc(size_t size);
void *__wrap_kmem__calloc(size_t n, size_t size);
void *__wrap_kmem__realloc(void *p, size_t size);

void *__wrap_kmem__malloc(size_t size)
{
	void *p;

	heap.engine = true;
	p = __real_kmem__malloc(size);
	heap.engine = false;
	return p;
}

void *__wrap_kmem__calloc(size_t n, size_t size)
{
	void *p;

	heap.engine = true;
	p = __real_kmem__calloc(n, size);
	heap.engine = false;
	return p;
}

void *__wrap_kmem__realloc(void *q, size_t size)
{
	void *p;

	heap.engine = true;
	p = __real_kmem__realloc(q, size);
	heap.engine = false;
	return p;
}

#if defined(__SANITIZE_ADDRESS__)
/* Not in gcc's installed headers (sanitizer/allocator_interface.h), but
 * exported by its libasan. */
int __sanitizer_install_malloc_and_free_hooks(
	void (*malloc_hook)(const volatile void *p, size_t size),
	void (*free_hook)(const volatile void *p));

static void asan_malloc_hook(const volatile void *p, size_t size)
{
	(void)p;
	count_alloc(size);
}

static void asan_free_hook(const volatile void *p)
{
	if (p && heap.on)
		heap.frees++;
}

static void counting_install(void)
{
	__sanitizer_install_malloc_and_free_hooks(asan_malloc_hook, asan_free_hook);
}
#else
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

void *malloc(size_t n)
{
	count_alloc(n);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	count_alloc(size && n <= SIZE_MAX / size ? n * size : 0);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	count_alloc(n);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p && heap.on)
		heap.frees++;
	__libc_free(p);
}

void *memalign(size_t align, size_t n);
void *memalign(size_t align, size_t n)
{
	count_alloc(n);
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void counting_install(void)
{
}
#endif

/* ------------------------------------------------------------ daemon */

static struct kmemd d;
static uv_loop_t loop;
static char dir[] = "/tmp/kmemd-heap-XXXXXX";
static int sock = -1;
static uint64_t next_seq = 1;
static uint64_t cache_id;

uint64_t kmemd_now_ns(void)
{
	return uv_hrtime();
}

static void run_daemon(void)
{
	heap.on = true;
	uv_run(&loop, UV_RUN_NOWAIT);
	heap.on = false;
}

/* The client's side: frames out, frames in. */
static struct kmem_frame_buf out;
static struct kmem_frame_decoder dec;
static uint8_t rbuf[65536];

static void queue(Kmem__Request *q)
{
	q->seq = next_seq++;
	assert_int_equal(kmem_frame_pack_request(&out, q), 0);
}

/* Send what is queued and run the daemon until n replies are back. */
static void exchange(Kmem__Response **r, size_t n)
{
	size_t off = 0, got = 0;

	while (off < out.len) {
		ssize_t k = send(sock, out.data + off, out.len - off, MSG_NOSIGNAL);

		assert_true(k > 0);
		off += (size_t)k;
	}
	out.len = 0;
	while (got < n) {
		const uint8_t *p;
		size_t len;
		int rc = kmem_frame_decoder_next(&dec, &p, &len);
		ssize_t k;

		assert_true(rc >= 0);
		if (rc == 1) {
			assert_int_equal(kmem_frame_unpack_response(p, len, NULL, &r[got]), 0);
			got++;
			continue;
		}
		run_daemon();
		k = recv(sock, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pf[2] = {
				{ .fd = sock, .events = POLLIN },
				{ .fd = uv_backend_fd(&loop), .events = POLLIN },
			};

			poll(pf, 2, 100);
			continue;
		}
		assert_true(k > 0);
		kmem_frame_decoder_feed(&dec, rbuf, (size_t)k);
	}
}

static Kmem__Response *rpc(Kmem__Request *q)
{
	Kmem__Response *r;

	queue(q);
	exchange(&r, 1);
	if (r->status)
		fail_msg("request %d: status %d: %s", (int)q->body_case,
			 (int)r->status, r->message);
	return r;
}

static int group_setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;
	Kmem__CacheCreate cc = KMEM__CACHE_CREATE__INIT;
	Kmem__Alloc a = KMEM__ALLOC__INIT;
	char err[256];

	(void)state;
	counting_install();
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERR);
	if (!mkdtemp(dir))
		return -1;
	config_defaults(&d.cfg);
	snprintf(d.cfg.socket_path, sizeof(d.cfg.socket_path), "%s/kmemd.sock", dir);
	d.cfg.stats_socket_path[0] = 0;
	d.cfg.stats_socket_set = true;
	if (config_add_pool(&d.cfg, "name=p,size=16M,page=4K,nohuge", err, sizeof(err))) {
		fprintf(stderr, "pool: %s\n", err);
		return -1;
	}
	config_finish(&d.cfg);
	if (config_check(&d.cfg, err, sizeof(err)) || uv_loop_init(&loop))
		return -1;
	d.loop = &loop;
	d.start_ns = kmemd_now_ns();
	d.journal_fd = -1;
	if (lease_table_init(&d.leases) || pools_create(&d))
		return -1;
	server_init(&d);
	if (server_listen(&d))
		return -1;

	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.cfg.socket_path);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	kmem_frame_buf_init(&out, 0);
	kmem_frame_decoder_init(&dec, KMEMD_REPLY_MAX);

	h.protocol_version = KMEM_PROTOCOL_VERSION;
	h.client_name = (char *)"test_dispatch_heap";
	q.body_case = KMEM__REQUEST__BODY_HELLO;
	q.hello = &h;
	kmem_frame_free_response(rpc(&q), NULL);

	cc.pool = (char *)"p";
	cc.name = (char *)"objs";
	cc.object_size = 192;
	q.body_case = KMEM__REQUEST__BODY_CACHE_CREATE;
	q.cache_create = &cc;
	{
		Kmem__Response *r = rpc(&q);

		cache_id = r->cache->cache_id;
		kmem_frame_free_response(r, NULL);
	}

	a.pool = (char *)"p";
	a.size = 8192;
	a.name = (char *)"shared";
	a.persist = true;
	q.body_case = KMEM__REQUEST__BODY_ALLOC;
	q.alloc = &a;
	kmem_frame_free_response(rpc(&q), NULL);
	return 0;
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int group_teardown(void **state)
{
	(void)state;
	close(sock);
	/* The session sees the end of its stream and closes. */
	for (int i = 0; i < 100 && d.nsessions; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (d.nsessions)
			poll(NULL, 0, 10);
	}
	server_stop(&d);
	uv_walk(&loop, close_handle, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	for (struct dcache *dc = d.caches, *next; dc; dc = next) {
		next = dc->next;
		kmem_cache_destroy(dc->cache);
		free(dc);
	}
	free(d.stats_cache[0].text);
	free(d.stats_cache[1].text);
	leases_fini(&d);
	lease_table_fini(&d.leases);
	pools_destroy(&d);
	dispatch_fini(&d);
	kmem_frame_buf_fini(&out);
	kmem_frame_decoder_fini(&dec);
	rmdir(dir);
	return 0;
}

/* ------------------------------------------------------------ rounds */

/*
 * One round of a kind of traffic: a first wave of depth requests
 * pipelined in one write, then (for the kinds that take something) the
 * wave that gives it back.  Returns the requests sent.
 */
enum kind { PING, ALLOC_SMALL, ALLOC_LARGE, BATCH_ALLOC, CACHE, LOOKUP, STATS };

static const char *kind_name[] = {
	"Ping", "Alloc/Free 64 B", "Alloc/Free 256 KiB",
	"AllocBatch/FreeBatch of 64", "CacheAlloc/CacheFree of 64",
	"Lookup/Detach", "Stats",
};

static size_t ping_len = 32;	/* bytes of a Ping's payload */

static size_t round_of(enum kind k, size_t depth)
{
	Kmem__Request q[DEPTH_MAX];
	Kmem__Response *r[DEPTH_MAX];
	union {
		Kmem__Ping ping;
		Kmem__Alloc alloc;
		Kmem__AllocBatch batch;
		Kmem__CacheAlloc cache;
		Kmem__Lookup lookup;
		Kmem__Stats stats;
		Kmem__Free free;
		Kmem__FreeBatch free_batch;
		Kmem__CacheFree cache_free;
		Kmem__Detach detach;
	} b[DEPTH_MAX];
	static uint8_t payload[4096];

	assert_true(depth <= DEPTH_MAX && ping_len <= sizeof(payload));
	for (size_t i = 0; i < depth; i++) {
		kmem__request__init(&q[i]);
		switch (k) {
		case PING:
			kmem__ping__init(&b[i].ping);
			b[i].ping.payload.data = payload;
			b[i].ping.payload.len = ping_len;
			q[i].body_case = KMEM__REQUEST__BODY_PING;
			q[i].ping = &b[i].ping;
			break;
		case ALLOC_SMALL:
		case ALLOC_LARGE:
			kmem__alloc__init(&b[i].alloc);
			b[i].alloc.pool = (char *)"p";
			b[i].alloc.size = k == ALLOC_SMALL ? 64 : 256 << 10;
			q[i].body_case = KMEM__REQUEST__BODY_ALLOC;
			q[i].alloc = &b[i].alloc;
			break;
		case BATCH_ALLOC:
			kmem__alloc_batch__init(&b[i].batch);
			b[i].batch.pool = (char *)"p";
			b[i].batch.size = 256;
			b[i].batch.count = BATCH;
			q[i].body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
			q[i].alloc_batch = &b[i].batch;
			break;
		case CACHE:
			kmem__cache_alloc__init(&b[i].cache);
			b[i].cache.cache_case = KMEM__CACHE_ALLOC__CACHE_CACHE_ID;
			b[i].cache.cache_id = cache_id;
			b[i].cache.count = BATCH;
			q[i].body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
			q[i].cache_alloc = &b[i].cache;
			break;
		case LOOKUP:
			kmem__lookup__init(&b[i].lookup);
			b[i].lookup.name = (char *)"shared";
			q[i].body_case = KMEM__REQUEST__BODY_LOOKUP;
			q[i].lookup = &b[i].lookup;
			break;
		case STATS:
			kmem__stats__init(&b[i].stats);
			q[i].body_case = KMEM__REQUEST__BODY_STATS;
			q[i].stats = &b[i].stats;
			break;
		}
		queue(&q[i]);
	}
	exchange(r, depth);
	for (size_t i = 0; i < depth; i++)
		if (r[i]->status)
			fail_msg("%s: status %d: %s", kind_name[k], (int)r[i]->status,
				 r[i]->message);
	if (k == PING || k == STATS) {
		for (size_t i = 0; i < depth; i++)
			kmem_frame_free_response(r[i], NULL);
		return depth;
	}
	for (size_t i = 0; i < depth; i++) {
		kmem__request__init(&q[i]);
		switch (k) {
		case ALLOC_SMALL:
		case ALLOC_LARGE:
			kmem__free__init(&b[i].free);
			b[i].free.id = r[i]->lease->id;
			q[i].body_case = KMEM__REQUEST__BODY_FREE;
			q[i].free = &b[i].free;
			break;
		case BATCH_ALLOC:
			assert_int_equal(r[i]->lease_batch->n_ids, BATCH);
			kmem__free_batch__init(&b[i].free_batch);
			b[i].free_batch.ids = r[i]->lease_batch->ids;
			b[i].free_batch.n_ids = r[i]->lease_batch->n_ids;
			q[i].body_case = KMEM__REQUEST__BODY_FREE_BATCH;
			q[i].free_batch = &b[i].free_batch;
			break;
		case CACHE:
			assert_int_equal(r[i]->lease_batch->n_ids, BATCH);
			kmem__cache_free__init(&b[i].cache_free);
			b[i].cache_free.ids = r[i]->lease_batch->ids;
			b[i].cache_free.n_ids = r[i]->lease_batch->n_ids;
			q[i].body_case = KMEM__REQUEST__BODY_CACHE_FREE;
			q[i].cache_free = &b[i].cache_free;
			break;
		default:
			kmem__detach__init(&b[i].detach);
			b[i].detach.id = r[i]->lease->id;
			q[i].body_case = KMEM__REQUEST__BODY_DETACH;
			q[i].detach = &b[i].detach;
			break;
		}
		queue(&q[i]);
	}
	{
		Kmem__Response *r2[DEPTH_MAX];

		exchange(r2, depth);
		for (size_t i = 0; i < depth; i++) {
			if (r2[i]->status)
				fail_msg("%s: release: status %d: %s", kind_name[k],
					 (int)r2[i]->status, r2[i]->message);
			kmem_frame_free_response(r2[i], NULL);
			kmem_frame_free_response(r[i], NULL);
		}
	}
	return 2 * depth;
}

/*
 * Warm up, then count ROUNDS rounds of kind k at the given pipelining
 * depth.  No allocation but attachment records, all or none of those
 * made; none in the engine either.
 */
static void steady(enum kind k, size_t depth)
{
	uint64_t ids0, leases, attaches = 0;
	size_t requests = 0;

	for (int i = 0; i < WARM; i++)
		round_of(k, depth);
	memset(&heap, 0, sizeof(heap));
	ids0 = d.leases.next_id;
	for (int i = 0; i < ROUNDS; i++)
		requests += round_of(k, depth);
	leases = d.leases.next_id - ids0;
	if (k == LOOKUP)
		attaches = (uint64_t)ROUNDS * depth;
	printf("%s, %zu deep: %zu requests, %llu leases made, %zu allocations "
	       "(%zu attachments of %llu, %zu in the engine), %zu frees; arena "
	       "keeps %zu bytes\n", kind_name[k], depth, requests,
	       (unsigned long long)leases, heap.allocs, heap.attaches,
	       (unsigned long long)attaches, heap.engine_allocs, heap.frees,
	       dispatch_arena_kept(&d));
	assert_int_equal(heap.attaches, 0);
	assert_int_equal(heap.allocs - heap.attaches - heap.engine_allocs, 0);
	assert_int_equal(heap.engine_allocs, 0);
}

static void test_dispatch_heap_ping(void **state)
{
	(void)state;
	steady(PING, 1);
	steady(PING, BATCH);
}

static void test_dispatch_heap_alloc_small(void **state)
{
	(void)state;
	steady(ALLOC_SMALL, 1);
	steady(ALLOC_SMALL, 16);
}

static void test_dispatch_heap_alloc_large(void **state)
{
	(void)state;
	steady(ALLOC_LARGE, 1);
	steady(ALLOC_LARGE, 16);
}

/*
 * BALLAST leases of 64 bytes held while the batches come and go, as a
 * client holds buffers: the lease table's id index grows at 3/4 load and
 * shrinks at 1/8 (lease.c), so a count swinging from 0 to 256 and back
 * would reallocate it twice a round.  Returns the batch to free.
 */
static Kmem__Response *ballast(void)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__AllocBatch ab = KMEM__ALLOC_BATCH__INIT;

	ab.pool = (char *)"p";
	ab.size = 64;
	ab.count = BALLAST;
	q.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	q.alloc_batch = &ab;
	return rpc(&q);
}

static void ballast_free(Kmem__Response *r)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__FreeBatch fb = KMEM__FREE_BATCH__INIT;

	fb.ids = r->lease_batch->ids;
	fb.n_ids = r->lease_batch->n_ids;
	q.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
	q.free_batch = &fb;
	kmem_frame_free_response(rpc(&q), NULL);
	kmem_frame_free_response(r, NULL);
}

static void test_dispatch_heap_batch(void **state)
{
	Kmem__Response *held = ballast();

	(void)state;
	steady(BATCH_ALLOC, 1);
	steady(BATCH_ALLOC, 4);
	ballast_free(held);
}

static void test_dispatch_heap_cache(void **state)
{
	Kmem__Response *held = ballast();

	(void)state;
	steady(CACHE, 1);
	steady(CACHE, 4);
	ballast_free(held);
}

static void test_dispatch_heap_lookup(void **state)
{
	(void)state;
	steady(LOOKUP, 1);
	steady(LOOKUP, 16);
}

/* Stats builds its JSON document with jansson: allowed to allocate. */
static void test_dispatch_heap_stats_allocates(void **state)
{
	size_t requests = 0;

	(void)state;
	for (int i = 0; i < 10; i++)
		round_of(STATS, 1);
	memset(&heap, 0, sizeof(heap));
	for (int i = 0; i < 100; i++)
		requests += round_of(STATS, 1);
	printf("Stats: %zu requests, %zu allocations (allowed: the JSON "
	       "document)\n", requests, heap.allocs);
	assert_int_equal(requests, 100);
}

/*
 * A request far larger than the steady ones (a FreeBatch of 16384 ids
 * that do not exist) is refused as usual; the arena keeps at most the
 * largest frame, and the next small requests allocate nothing again.
 */
static void test_dispatch_heap_big_request(void **state)
{
	static uint64_t ids[16384];
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__FreeBatch fb = KMEM__FREE_BATCH__INIT;
	Kmem__Response *r;

	(void)state;
	for (size_t i = 0; i < 16384; i++)
		ids[i] = (1ull << 40) + i;
	fb.ids = ids;
	fb.n_ids = 16384;
	q.body_case = KMEM__REQUEST__BODY_FREE_BATCH;
	q.free_batch = &fb;
	queue(&q);
	exchange(&r, 1);
	assert_int_equal(r->status, KMEM__STATUS__STATUS_NOT_FOUND);
	kmem_frame_free_response(r, NULL);
	assert_true(dispatch_arena_kept(&d) <= d.cfg.max_frame);
	steady(PING, BATCH);
	steady(ALLOC_SMALL, 16);
}

/*
 * More requests in one write than a session handles in a loop turn
 * (server.c's TURN_FRAMES, 64): the rest is held back in a backlog
 * buffer and handled on the next turns; the buffer is recycled.
 */
static void test_dispatch_heap_held_back(void **state)
{
	(void)state;
	steady(PING, 200);
	ping_len = 512;		/* 64 KiB at once: a full read buffer */
	steady(PING, DEPTH_MAX);
	ping_len = 32;
}

/*
 * A reader slower than the replies: with the daemon's socket send buffer
 * at its minimum, 64 replies of 1 KiB do not fit, so the rest goes out
 * through a libuv write that owns the output buffer; the write request
 * and the buffer are recycled.
 */
static void test_dispatch_heap_slow_reader(void **state)
{
	int small = 4096, saved;
	socklen_t len = sizeof(saved);
	uv_os_fd_t fd;

	(void)state;
	assert_non_null(d.sessions);
	assert_int_equal(uv_fileno((uv_handle_t *)&d.sessions->pipe, &fd), 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &saved, &len), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small,
				    sizeof(small)), 0);
	ping_len = 1024;
	steady(PING, BATCH);
	/* That was the slow path: a round leaves replies in flight. */
	{
		Kmem__Request q[BATCH];
		Kmem__Ping pg[BATCH];
		Kmem__Response *r[BATCH];
		static uint8_t payload[1024];

		for (size_t i = 0; i < BATCH; i++) {
			kmem__request__init(&q[i]);
			kmem__ping__init(&pg[i]);
			pg[i].payload.data = payload;
			pg[i].payload.len = sizeof(payload);
			q[i].body_case = KMEM__REQUEST__BODY_PING;
			q[i].ping = &pg[i];
			queue(&q[i]);
		}
		assert_int_equal(send(sock, out.data, out.len, 0), (ssize_t)out.len);
		out.len = 0;
		run_daemon();
		assert_true(d.unsent > 0);
		exchange(r, BATCH);
		for (size_t i = 0; i < BATCH; i++)
			kmem_frame_free_response(r[i], NULL);
	}
	ping_len = 32;
	/* The kernel reports twice what was set. */
	saved /= 2;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &saved,
				    sizeof(saved)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_heap_ping),
		cmocka_unit_test(test_dispatch_heap_alloc_small),
		cmocka_unit_test(test_dispatch_heap_alloc_large),
		cmocka_unit_test(test_dispatch_heap_batch),
		cmocka_unit_test(test_dispatch_heap_cache),
		cmocka_unit_test(test_dispatch_heap_lookup),
		cmocka_unit_test(test_dispatch_heap_stats_allocates),
		cmocka_unit_test(test_dispatch_heap_big_request),
		cmocka_unit_test(test_dispatch_heap_held_back),
		cmocka_unit_test(test_dispatch_heap_slow_reader),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
