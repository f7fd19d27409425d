/*
 * test_daemon_magazine.c - libkmem's client-side magazines against the
 * real kmemd: small allocations without round trips (counted in the
 * daemon's request counters), depth growing to its cap, objects that never
 * overlap, a killed client's magazines reclaimed, the opt-outs, the stats
 * figures, named-cache magazines, and the errors a magazine answers itself.
 *
 * One daemon serves the group: one 32 MiB pool "p" (hugepages when they
 * can be reserved, else the 4 KiB fallback).  The observer connection
 * opts out of magazines, so its own requests are only Stats; every test
 * leaves the pool's accounting as it found it, and checks so.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "harness.h"
#include "kmem/slab.h"

#define POOL_MIB 32
#define PAIRS 10000
#define OBJ 64

static struct {
	struct integ_daemon d;
	struct kmem_client *obs;
	unsigned pool_mib;
} F;

static struct kmem_client *connect_opts(const char *name, unsigned flags)
{
	struct kmem_connect_opts o = { .flags = flags };
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];
	int rc = kmem_client_connect_opts(F.d.sock, name, &o, &c, msg, sizeof(msg));

	if (rc)
		printf("connect %s: %s: %s\n", name, kmem_errname(rc), msg);
	assert_int_equal(rc, 0);
	return c;
}

static int group_setup(void **state)
{
	char spec[256];
	const char *args[] = { "--pool", spec, NULL };
	bool huge;

	(void)state;
	F.pool_mib = integ_pool_mib(POOL_MIB);
	if (!F.pool_mib)
		return -1;
	huge = integ_pool_spec(spec, sizeof(spec), "p", F.pool_mib, NULL);
	if (integ_daemon_start(&F.d, args)) {
		if (!huge)
			return -1;
		integ_hugepages_release();
		integ_pool_spec_4k(spec, sizeof(spec), "p", F.pool_mib, NULL);
		if (integ_daemon_start(&F.d, args))
			return -1;
	}
	if (kmem_client_connect_opts(F.d.sock, "integ-observer",
				     &(struct kmem_connect_opts){
					     KMEM_CONNECT_NO_MAGAZINES },
				     &F.obs, NULL, 0))
		return -1;
	return integ_wait_sessions(F.obs, 1, 5000);
}

static int group_teardown(void **state)
{
	(void)state;
	kmem_client_disconnect(F.obs);
	integ_daemon_cleanup(&F.d);
	integ_hugepages_release();
	return 0;
}

/* ------------------------------------------------------------ helpers */

/* The request counters of the daemon, by type name. */
struct reqs {
	uint64_t alloc, free, alloc_batch, free_batch, cache_alloc, cache_free;
};

static void take_reqs(struct reqs *r)
{
	json_t *doc = integ_stats(F.obs);

	assert_non_null(doc);
	assert_int_equal(integ_json_u64(doc, "requests/alloc", &r->alloc), 0);
	assert_int_equal(integ_json_u64(doc, "requests/free", &r->free), 0);
	assert_int_equal(integ_json_u64(doc, "requests/alloc_batch", &r->alloc_batch), 0);
	assert_int_equal(integ_json_u64(doc, "requests/free_batch", &r->free_batch), 0);
	assert_int_equal(integ_json_u64(doc, "requests/cache_alloc", &r->cache_alloc), 0);
	assert_int_equal(integ_json_u64(doc, "requests/cache_free", &r->cache_free), 0);
	json_decref(doc);
}

static void take_acct(struct integ_acct *a)
{
	assert_int_equal(integ_acct(F.obs, 0, a), 0);
}

static void assert_acct_equal(const struct integ_acct *a,
			      const struct integ_acct *b)
{
	assert_int_equal(a->bytes_free, b->bytes_free);
	assert_int_equal(a->bytes_leased, b->bytes_leased);
	assert_int_equal(a->pool_leases, b->pool_leases);
	assert_int_equal(a->leases, b->leases);
	assert_int_equal(a->sessions, b->sessions);
}

/* A session's (or with name NULL, pool 0's) figure called key. */
static uint64_t figure(const char *name, const char *key)
{
	json_t *doc = integ_stats(F.obs), *o;
	uint64_t v = UINT64_MAX;

	assert_non_null(doc);
	o = name ? integ_json_session(doc, name) :
		   json_array_get(json_object_get(doc, "pools"), 0);
	assert_non_null(o);
	assert_true(json_is_integer(json_object_get(o, key)));
	v = (uint64_t)json_integer_value(json_object_get(o, key));
	json_decref(doc);
	return v;
}

/* The magazine of c called name. */
static struct kmem_magazine_info mag_info(struct kmem_client *c, const char *name)
{
	struct kmem_magazine_info in;

	for (size_t i = 0; kmem_client_magazine_info(c, i, &in) == 0; i++)
		if (!strcmp(in.name, name))
			return in;
	fail_msg("no magazine %s", name);
	return in;
}

static uint8_t pattern(uint64_t id, size_t i)
{
	return (uint8_t)(id * 131u + i * 7u + 1);
}

static void fill(const struct kmem_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		((uint8_t *)b->ptr)[i] = pattern(b->id, i);
}

static bool intact(const struct kmem_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (((const uint8_t *)b->ptr)[i] != pattern(b->id, i))
			return false;
	return true;
}

static int by_offset(const void *x, const void *y)
{
	const struct kmem_buf *a = x, *b = y;

	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* No two of the n buffers share a byte of the pool (reorders them). */
static void assert_disjoint(struct kmem_buf *v, size_t n)
{
	qsort(v, n, sizeof(*v), by_offset);
	for (size_t i = 1; i < n; i++)
		if (v[i - 1].offset + v[i - 1].len > v[i].offset)
			fail_msg("leases %llu [%llu+%llu) and %llu [%llu) overlap",
				 (unsigned long long)v[i - 1].id,
				 (unsigned long long)v[i - 1].offset,
				 (unsigned long long)v[i - 1].len,
				 (unsigned long long)v[i].id,
				 (unsigned long long)v[i].offset);
}

/*
 * Slab caches keep one empty slab when their last object goes, so the free
 * bytes before and after a test compare to the byte only once each class
 * the test uses has had an object.  Warm them through the observer.
 */
static void warm(const uint64_t *sizes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct kmem_buf b;

		assert_int_equal(kmem_client_alloc(F.obs, sizes[i], NULL, &b), 0);
		assert_int_equal(kmem_client_free(F.obs, &b), 0);
	}
}

/* ------------------------------------------------------------ round trips */

static void test_daemon_magazine_pairs_make_no_round_trips(void **state)
{
	static const uint64_t sz[] = { OBJ };
	struct integ_acct a0, a1;
	struct reqs r0, r1;
	struct kmem_client *c;
	struct kmem_magazine_info in;

	(void)state;
	warm(sz, 1);
	take_acct(&a0);
	c = connect_opts("integ-pairs", 0);
	take_reqs(&r0);
	for (int i = 0; i < PAIRS; i++) {
		struct kmem_buf b;

		assert_int_equal(kmem_client_alloc(c, OBJ, NULL, &b), 0);
		assert_int_equal(b.len, OBJ);
		assert_int_equal(b.nsegs, 1);
		assert_null(b.segs);
		fill(&b);
		assert_true(intact(&b));
		assert_int_equal(kmem_client_free(c, &b), 0);
		/* free releases the buffer description, as without magazines. */
		assert_null(b.ptr);
	}
	take_reqs(&r1);
	/* One refill of depth / 2 = 4 objects, and never a drain: the
	 * magazine oscillates between 4 and 3 idle objects. */
	assert_int_equal(r1.alloc - r0.alloc, 0);
	assert_int_equal(r1.free - r0.free, 0);
	assert_int_equal(r1.alloc_batch - r0.alloc_batch, 1);
	assert_int_equal(r1.free_batch - r0.free_batch, 0);
	in = mag_info(c, "kmalloc-64");
	assert_int_equal(in.refills, 1);
	assert_int_equal(in.drains, 0);
	assert_int_equal(in.held, 4);
	assert_int_equal(in.out, 0);
	assert_int_equal(in.depth, 8);
	assert_int_equal(in.object_size, OBJ);
	assert_int_equal(figure("integ-pairs", "leases"), 4);
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

/* ------------------------------------------------------------ depth */

static void test_daemon_magazine_depth_grows_to_its_cap(void **state)
{
	static const uint64_t sz[] = { OBJ, 8192, 4096 };
	struct kmem_buf *v = calloc(PAIRS, sizeof(*v));
	struct kmem_magazine_info in;
	struct integ_acct a0, a1;
	struct reqs r0, r1;
	struct kmem_client *c;
	uint32_t depth = 8;
	uint64_t refills = 0, drains;

	(void)state;
	assert_non_null(v);
	warm(sz, 3);
	take_acct(&a0);
	c = connect_opts("integ-depth", 0);
	take_reqs(&r0);
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(kmem_client_alloc(c, OBJ, NULL, &v[i]), 0);
		in = mag_info(c, "kmalloc-64");
		/* Depth only ever doubles, up to 512 (1 MiB / 64 B is more). */
		assert_true(in.depth == depth || in.depth == 2 * depth);
		assert_true(in.depth <= 512);
		assert_int_equal(in.depth_max, 512);
		assert_true(in.held <= in.depth);
		assert_int_equal(in.out, (uint32_t)i + 1);
		if (in.refills != refills) {
			/* A refill brings depth / 2 objects (one handed out). */
			assert_int_equal(in.held, in.depth / 2 - 1);
			refills = in.refills;
		}
		depth = in.depth;
	}
	/* Refills came back to back, so depth reached the cap ... */
	assert_int_equal(depth, 512);
	take_reqs(&r1);
	assert_int_equal(r1.alloc_batch - r0.alloc_batch, refills);
	assert_int_equal(r1.alloc - r0.alloc, 0);
	/* ... after 4 + 8 + ... + 128 = 252 objects in 6 refills: the rest
	 * came 256 at a time, so some 45 round trips for 10,000 objects (a
	 * few more if the scheduler stalled this process between refills
	 * for longer than the growth window). */
	assert_true(refills >= 6 + (PAIRS - 252 + 255) / 256);
	assert_true(refills <= 60);
	/* The daemon holds every object as a lease of the session. */
	assert_int_equal(figure("integ-depth", "leases"),
			 (uint64_t)PAIRS + mag_info(c, "kmalloc-64").held);
	assert_disjoint(v, PAIRS);

	/* Free them all: the magazine never holds more than its depth, and
	 * gives back half of it at a time. */
	take_reqs(&r0);
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(kmem_client_free(c, &v[i]), 0);
		in = mag_info(c, "kmalloc-64");
		assert_true(in.held <= in.depth);
	}
	take_reqs(&r1);
	drains = in.drains;
	assert_int_equal(r1.free_batch - r0.free_batch, drains);
	assert_int_equal(r1.free - r0.free, 0);
	assert_true(drains >= 30 && drains <= 45);
	assert_int_equal(in.out, 0);
	assert_int_equal(figure("integ-depth", "leases"), in.held);

	/* The byte cap: 1 MiB of 8 KiB objects is 128, of 4 KiB 256. */
	{
		struct kmem_buf b;

		assert_int_equal(kmem_client_alloc(c, 8192, NULL, &b), 0);
		assert_int_equal(kmem_client_free(c, &b), 0);
		assert_int_equal(mag_info(c, "kmalloc-8k").depth_max, 128);
		assert_int_equal(kmem_client_alloc(c, 3000, NULL, &b), 0);
		assert_int_equal(b.len, 4096);
		assert_int_equal(kmem_client_free(c, &b), 0);
		assert_int_equal(mag_info(c, "kmalloc-4k").depth_max, 256);
	}
	kmem_client_disconnect(c);
	free(v);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

/* ------------------------------------------------------------ overlap */

#define MIXED 3000

static void test_daemon_magazine_objects_never_overlap(void **state)
{
	static const uint64_t sizes[] = { 1, 8, 9, 33, 64, 65, 100, 192, 200,
					  511, 1000, 2048, 4000, 8192 };
	const size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
	struct kmem_buf *v = calloc(MIXED, sizeof(*v));
	uint64_t seed = tu_seed("magazine_overlap"), st = seed;
	struct integ_acct a0, a1;
	struct kmem_client *c;

	(void)state;
	assert_non_null(v);
	warm(sizes, nsizes);
	take_acct(&a0);
	c = connect_opts("integ-overlap", 0);
	for (size_t i = 0; i < MIXED; i++) {
		uint64_t size = sizes[tu_below(&st, nsizes)];

		assert_int_equal(kmem_client_alloc(c, size, NULL, &v[i]), 0);
		assert_true(v[i].len >= size);
		fill(&v[i]);
	}
	/* Free a random half and take as many again, several times over. */
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < MIXED; i++)
			if (tu_below(&st, 2)) {
				assert_true(intact(&v[i]));
				assert_int_equal(kmem_client_free(c, &v[i]), 0);
			}
		for (size_t i = 0; i < MIXED; i++)
			if (!v[i].ptr) {
				uint64_t size = sizes[tu_below(&st, nsizes)];

				assert_int_equal(kmem_client_alloc(c, size, NULL, &v[i]), 0);
				fill(&v[i]);
			}
	}
	for (size_t i = 0; i < MIXED; i++)
		assert_true(intact(&v[i]));
	assert_disjoint(v, MIXED);
	for (size_t i = 0; i < MIXED; i++)
		assert_int_equal(kmem_client_free(c, &v[i]), 0);
	kmem_client_disconnect(c);
	free(v);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

/* Threads sharing one connection: the connection mutex guards the
 * magazines, so no object is handed to two threads at once. */
#define THREADS 4
#define THREAD_OPS 20000

static void *hammer(void *p)
{
	struct kmem_client *c = p;
	struct kmem_buf b[8];
	uintptr_t bad = 0;

	for (int i = 0; i < THREAD_OPS / 8; i++) {
		for (int k = 0; k < 8; k++) {
			if (kmem_client_alloc(c, 8u << (k % 4), NULL, &b[k]))
				return (void *)1;
			fill(&b[k]);
		}
		for (int k = 0; k < 8; k++) {
			bad |= !intact(&b[k]);
			if (kmem_client_free(c, &b[k]))
				return (void *)1;
		}
	}
	return (void *)bad;
}

static void test_daemon_magazine_shared_by_threads(void **state)
{
	static const uint64_t sz[] = { 8, 16, 32, 64 };
	pthread_t t[THREADS];
	struct integ_acct a0, a1;
	struct kmem_client *c;

	(void)state;
	warm(sz, 4);
	take_acct(&a0);
	c = connect_opts("integ-threads", 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, c), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r;

		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
	for (int k = 0; k < 4; k++)
		assert_int_equal(mag_info(c, k == 0 ? "kmalloc-8" : k == 1 ?
					  "kmalloc-16" : k == 2 ? "kmalloc-32" :
					  "kmalloc-64").out, 0);
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

/* ------------------------------------------------------------ SIGKILL */

#define VICTIM_CACHE "integ-mag-objs"

/* Fill magazines (objects held and idle), say how many leases the session
 * has, and wait to be killed. */
static void victim(void *p)
{
	struct kmem_buf b[100], o[20];
	struct kmem_magazine_info in;
	struct kmem_client *c;
	uint32_t leases = 0;
	char never;

	CHILD_EQ(kmem_client_connect(p, "integ-mag-victim", &c, NULL, 0), 0);
	for (int i = 0; i < 100; i++) {
		CHILD_EQ(kmem_client_alloc(c, i % 2 ? 64 : 1000, NULL, &b[i]), 0);
		memset(b[i].ptr, 0x5a, b[i].len);
	}
	for (int i = 0; i < 100; i += 3)
		CHILD_EQ(kmem_client_free(c, &b[i]), 0);
	CHILD_EQ(kmem_client_cache_alloc(c, VICTIM_CACHE, 20, o), 0);
	for (size_t i = 0; kmem_client_magazine_info(c, i, &in) == 0; i++)
		leases += in.held + in.out;
	CHILD_CHECK(leases >= 100 + 20);
	integ_in_child_send(&leases, sizeof(leases));
	integ_in_child_recv(&never, 1);
}

static void test_daemon_magazine_killed_client_reclaimed(void **state)
{
	static const uint64_t sz[] = { 64, 1000 };
	struct integ_acct a0, a1;
	struct integ_child ch;
	uint32_t leases;
	struct kmem_buf o;
	char msg[512];
	int st;

	(void)state;
	assert_int_equal(kmem_client_cache_create(F.obs, NULL, VICTIM_CACHE, 200,
						  0, NULL), 0);
	warm(sz, 2);
	assert_int_equal(kmem_client_cache_alloc(F.obs, VICTIM_CACHE, 1, &o), 0);
	assert_int_equal(kmem_client_cache_free(F.obs, &o.id, 1), 0);
	take_acct(&a0);

	assert_int_equal(integ_child_start(&ch, (uid_t)-1, 0, victim, F.d.sock), 0);
	if (integ_child_read(&ch, &leases, sizeof(leases), 10000)) {
		integ_child_finish(&ch, msg, sizeof(msg), 1000);
		fail_msg("the victim did not fill its magazines: %s", msg);
	}
	/* Every magazine object is a lease of the session, held or idle. */
	assert_int_equal(figure("integ-mag-victim", "leases"), leases);
	assert_int_equal(figure("integ-mag-victim", "magazine_leases"), leases);
	take_acct(&a1);
	assert_int_equal(a1.pool_leases, a0.pool_leases + leases);

	assert_int_equal(kill(ch.pid, SIGKILL), 0);
	st = integ_child_finish(&ch, msg, sizeof(msg), 10000);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	assert_int_equal(figure(NULL, "magazine_leases"), 0);
	assert_int_equal(figure(NULL, "magazine_bytes"), 0);
	/* No live object is left, so the cache can go. */
	assert_int_equal(kmem_client_cache_destroy(F.obs, VICTIM_CACHE), 0);
}

/* ------------------------------------------------------------ opt-out */

static void pairs_are_round_trips(struct kmem_client *c)
{
	struct kmem_magazine_info in;
	struct reqs r0, r1;

	take_reqs(&r0);
	for (int i = 0; i < 100; i++) {
		struct kmem_buf b;

		assert_int_equal(kmem_client_alloc(c, OBJ, NULL, &b), 0);
		assert_int_equal(kmem_client_free(c, &b), 0);
	}
	take_reqs(&r1);
	assert_int_equal(r1.alloc - r0.alloc, 100);
	assert_int_equal(r1.free - r0.free, 100);
	assert_int_equal(r1.alloc_batch - r0.alloc_batch, 0);
	assert_int_equal(kmem_client_magazine_info(c, 0, &in), KMEM_ENOENT);
	assert_int_equal(kmem_client_magazine_drain(c), 0);
}

static void test_daemon_magazine_opt_out(void **state)
{
	struct integ_acct a0, a1;
	struct kmem_client *c;
	char *saved = getenv("KMEM_NO_MAGAZINES");

	static const uint64_t sz[] = { OBJ };

	(void)state;
	saved = saved ? strdup(saved) : NULL;
	/* Like the other accounting tests: each slab cache keeps one empty
	 * slab, so use the size class once before the baseline. */
	warm(sz, 1);
	take_acct(&a0);
	c = connect_opts("integ-optout", KMEM_CONNECT_NO_MAGAZINES);
	pairs_are_round_trips(c);
	kmem_client_disconnect(c);

	assert_int_equal(setenv("KMEM_NO_MAGAZINES", "1", 1), 0);
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-optout-env", &c,
					     NULL, 0), 0);
	pairs_are_round_trips(c);
	kmem_client_disconnect(c);
	/* "0" (or empty) means magazines are on. */
	assert_int_equal(setenv("KMEM_NO_MAGAZINES", "0", 1), 0);
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-optout-0", &c,
					     NULL, 0), 0);
	assert_int_equal(mag_info(c, "kmalloc-64").depth, 8);
	kmem_client_disconnect(c);
	if (saved)
		setenv("KMEM_NO_MAGAZINES", saved, 1);
	else
		unsetenv("KMEM_NO_MAGAZINES");
	free(saved);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

/* ------------------------------------------------------------ stats */

static void test_daemon_magazine_stats_figures(void **state)
{
	static const uint64_t sz[] = { 64, 256 };
	struct kmem_buf b[5], x;
	struct integ_acct a0, a1;
	struct kmem_client *c;
	const char *s = "integ-figures";

	(void)state;
	warm(sz, 2);
	take_acct(&a0);
	c = connect_opts(s, 0);
	/* One refill of 4: all four are reported idle as of that exchange,
	 * though one was handed out right after it. */
	assert_int_equal(kmem_client_alloc(c, 64, NULL, &b[0]), 0);
	assert_int_equal(figure(s, "magazine_leases"), 4);
	assert_int_equal(figure(s, "magazine_lease_bytes"), 256);
	assert_int_equal(figure(s, "magazine_objects"), 4);
	assert_int_equal(figure(s, "magazine_bytes"), 256);
	assert_int_equal(figure(s, "leases"), 4);
	assert_int_equal(figure(s, "bytes"), 256);
	/* A second class: its refill reports the 3 idle 64 B objects. */
	assert_int_equal(kmem_client_alloc(c, 200, NULL, &b[1]), 0);
	assert_int_equal(b[1].len, 256);
	assert_int_equal(figure(s, "magazine_leases"), 8);
	assert_int_equal(figure(s, "magazine_lease_bytes"), 4 * 64 + 4 * 256);
	assert_int_equal(figure(s, "magazine_objects"), 3 + 4);
	assert_int_equal(figure(s, "magazine_bytes"), 3 * 64 + 4 * 256);
	/* The pool shows the same sums. */
	assert_int_equal(figure(NULL, "magazine_leases"), 8);
	assert_int_equal(figure(NULL, "magazine_lease_bytes"), 4 * 64 + 4 * 256);
	assert_int_equal(figure(NULL, "magazine_objects"), 7);
	assert_int_equal(figure(NULL, "magazine_bytes"), 3 * 64 + 4 * 256);
	/* An allocation a magazine does not serve is an ordinary lease. */
	assert_int_equal(kmem_client_alloc(c, 65536, NULL, &x), 0);
	assert_int_equal(figure(s, "magazine_leases"), 8);
	assert_int_equal(figure(s, "leases"), 9);
	assert_int_equal(kmem_client_free(c, &x), 0);
	/* Draining gives every idle object back: 3 + 3 remain idle before,
	 * none after; the two handed out stay magazine leases. */
	assert_int_equal(kmem_client_magazine_drain(c), 0);
	assert_int_equal(figure(s, "magazine_objects"), 0);
	assert_int_equal(figure(s, "magazine_bytes"), 0);
	assert_int_equal(figure(s, "magazine_leases"), 2);
	assert_int_equal(figure(s, "magazine_lease_bytes"), 64 + 256);
	assert_int_equal(figure(s, "leases"), 2);
	assert_int_equal(mag_info(c, "kmalloc-64").out, 1);
	assert_int_equal(mag_info(c, "kmalloc-64").held, 0);
	/* Freed, they go to their magazines (no round trip, so the report
	 * is unchanged) ... */
	assert_int_equal(kmem_client_free(c, &b[0]), 0);
	assert_int_equal(kmem_client_free(c, &b[1]), 0);
	assert_int_equal(figure(s, "magazine_objects"), 0);
	assert_int_equal(figure(s, "leases"), 2);
	assert_int_equal(mag_info(c, "kmalloc-256").held, 1);
	/* ... and the next exchange says so. */
	assert_int_equal(kmem_client_magazine_drain(c), 0);
	assert_int_equal(figure(s, "leases"), 0);
	assert_int_equal(figure(s, "magazine_leases"), 0);
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

/* ------------------------------------------------------------ debugging */

/*
 * Switching poison on in the pool turns the client's magazine off at its
 * next refill (the daemon answers BUSY): its idle objects go back, every
 * allocation and free after that is a plain request, and an object the
 * application frees is poisoned at once instead of sitting unchecked in
 * the magazine.
 */
static void test_daemon_magazine_off_while_debugging(void **state)
{
	static const uint64_t sz[] = { OBJ };
	struct kmem_buf b[64];
	struct integ_acct a0, a1;
	struct kmem_client *c;
	struct reqs r0, r1;
	const char *s = "integ-mag-debug";
	uint32_t held;
	size_t n = 0;

	(void)state;
	warm(sz, 1);
	take_acct(&a0);
	c = connect_opts(s, 0);
	assert_int_equal(kmem_client_alloc(c, OBJ, NULL, &b[n++]), 0);
	held = mag_info(c, "kmalloc-64").held;
	assert_true(held > 0);
	assert_int_equal(kmem_client_debug(F.obs, "p", true), 0);
	/* Use up what the magazine holds: no round trip yet. */
	for (uint32_t i = 0; i < held; i++)
		assert_int_equal(kmem_client_alloc(c, OBJ, NULL, &b[n++]), 0);
	assert_int_equal(mag_info(c, "kmalloc-64").held, 0);
	/* The refill is refused; the allocation is served as a plain one. */
	take_reqs(&r0);
	assert_int_equal(kmem_client_alloc(c, OBJ, NULL, &b[n++]), 0);
	take_reqs(&r1);
	assert_int_equal(r1.alloc_batch - r0.alloc_batch, 1);
	assert_int_equal(r1.alloc - r0.alloc, 1);
	assert_int_equal(mag_info(c, "kmalloc-64").depth, 0);
	assert_int_equal(mag_info(c, "kmalloc-64").held, 0);
	assert_int_equal(figure(s, "leases"), n);
	assert_int_equal(figure(s, "magazine_objects"), 0);
	/* From now on a free goes to the daemon, which poisons the object. */
	for (size_t i = 0; i < n; i++) {
		take_reqs(&r0);
		assert_int_equal(kmem_client_free(c, &b[i]), 0);
		take_reqs(&r1);
		assert_int_equal((r1.free - r0.free) + (r1.free_batch - r0.free_batch), 1);
		assert_int_equal(figure(s, "leases"), n - i - 1);
	}
	/* Allocations stay plain requests, and hand out poisoned memory
	 * that nobody wrote into (no report). */
	take_reqs(&r0);
	assert_int_equal(kmem_client_alloc(c, OBJ, NULL, &b[0]), 0);
	take_reqs(&r1);
	assert_int_equal(r1.alloc - r0.alloc, 1);
	assert_int_equal(r1.alloc_batch - r0.alloc_batch, 0);
	for (size_t i = 0; i < OBJ; i++)
		assert_int_equal(((uint8_t *)b[0].ptr)[i], KMEM_POISON_BYTE);
	assert_int_equal(figure(NULL, "poison_errors"), 0);
	assert_int_equal(kmem_client_free(c, &b[0]), 0);
	assert_int_equal(kmem_client_debug(F.obs, "p", false), 0);
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

/* ------------------------------------------------------------ caches */

#define MAG_CACHE "integ-mag-cache"

static void test_daemon_magazine_named_cache(void **state)
{
	struct kmem_buf o[16];
	uint64_t ids[16], id15;
	struct kmem_magazine_info in;
	struct integ_acct a0, a1;
	struct reqs r0, r1;
	struct kmem_client *c;

	(void)state;
	assert_int_equal(kmem_client_cache_create(F.obs, NULL, MAG_CACHE, 200, 0,
						  NULL), 0);
	assert_int_equal(kmem_client_cache_alloc(F.obs, MAG_CACHE, 1, o), 0);
	assert_int_equal(kmem_client_cache_free(F.obs, &o[0].id, 1), 0);
	take_acct(&a0);
	c = connect_opts("integ-cache", 0);
	take_reqs(&r0);
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(kmem_client_cache_alloc(c, MAG_CACHE, 1, o), 0);
		assert_int_equal(o[0].len, 200);
		fill(&o[0]);
		assert_true(intact(&o[0]));
		assert_int_equal(kmem_client_cache_free(c, &o[0].id, 1), 0);
	}
	take_reqs(&r1);
	assert_int_equal(r1.cache_alloc - r0.cache_alloc, 1);
	assert_int_equal(r1.cache_free - r0.cache_free, 0);
	assert_int_equal(r1.free_batch - r0.free_batch, 0);
	in = mag_info(c, MAG_CACHE);
	assert_true(in.cache);
	assert_int_equal(in.object_size, 200);
	assert_int_equal(in.refills, 1);
	assert_int_equal(in.held, 4);

	/* A batch of 16 is one refill up to 16; freed together they go
	 * back to the magazine, which keeps at most its depth. */
	assert_int_equal(kmem_client_cache_alloc(c, MAG_CACHE, 16, o), 0);
	for (int i = 0; i < 16; i++) {
		fill(&o[i]);
		ids[i] = o[i].id;
	}
	assert_disjoint(o, 16);
	for (int i = 0; i < 16; i++)
		assert_true(intact(&o[i]));
	in = mag_info(c, MAG_CACHE);
	assert_int_equal(in.out, 16);
	/* A repeated id is refused and changes nothing. */
	id15 = ids[15];
	ids[15] = ids[0];
	assert_int_equal(kmem_client_cache_free(c, ids, 16), KMEM_EINVAL);
	assert_int_equal(mag_info(c, MAG_CACHE).out, 16);
	ids[15] = id15;
	assert_int_equal(kmem_client_cache_free(c, ids, 16), 0);
	in = mag_info(c, MAG_CACHE);
	assert_int_equal(in.out, 0);
	assert_true(in.held <= in.depth);
	/* Freed twice: the magazine knows, and the daemon is not asked. */
	assert_int_equal(kmem_client_cache_free(c, ids, 1), KMEM_ENOENT);
	assert_int_equal(kmem_client_free_id(c, ids[1]), KMEM_ENOENT);
	/* Destroying it drains this session's magazine first. */
	assert_int_equal(kmem_client_cache_destroy(c, MAG_CACHE), 0);
	assert_int_equal(mag_info(c, MAG_CACHE).held, 0);
	assert_int_equal(figure("integ-cache", "leases"), 0);
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_int_equal(a1.pool_leases, a0.pool_leases);
	assert_int_equal(a1.bytes_leased, a0.bytes_leased);
}

/* ------------------------------------------------------------ errors */

static void test_daemon_magazine_answers_its_own_errors(void **state)
{
	static const uint64_t sz[] = { 64, 128 };
	struct kmem_alloc_opts zero = KMEM_ALLOC_OPTS_INIT;
	struct kmem_buf b, d, big;
	struct integ_acct a0, a1;
	struct kmem_client *c;
	uint64_t id, ids[2];
	struct reqs r0, r1;

	(void)state;
	warm(sz, 2);
	take_acct(&a0);
	c = connect_opts("integ-errors", 0);
	/* A double free is refused by the magazine, not sent to the daemon
	 * (which would free an object the magazine still holds). */
	assert_int_equal(kmem_client_alloc(c, 64, NULL, &b), 0);
	id = b.id;
	assert_int_equal(kmem_client_free(c, &b), 0);
	take_reqs(&r0);
	assert_int_equal(kmem_client_free_id(c, id), KMEM_ENOENT);
	assert_non_null(strstr(kmem_client_error(c), "free already"));
	ids[0] = id;
	assert_int_equal(kmem_client_free_batch(c, ids, 1), KMEM_ENOENT);
	take_reqs(&r1);
	assert_int_equal(r1.free - r0.free, 0);
	assert_int_equal(r1.free_batch - r0.free_batch, 0);
	assert_int_equal(figure("integ-errors", "leases"), 4);

	/* KMEM_ZERO is done here: a recycled object comes back zeroed. */
	assert_int_equal(kmem_client_alloc(c, 128, NULL, &b), 0);
	memset(b.ptr, 0xee, b.len);
	id = b.id;
	assert_int_equal(kmem_client_free(c, &b), 0);
	zero.flags = KMEM_ZERO;
	assert_int_equal(kmem_client_alloc(c, 128, &zero, &b), 0);
	assert_int_equal(b.id, id);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(((uint8_t *)b.ptr)[i], 0);

	/* A batch free may mix magazine objects and ordinary leases. */
	assert_int_equal(kmem_client_alloc(c, 65536, NULL, &big), 0);
	ids[0] = b.id;
	ids[1] = big.id;
	take_reqs(&r0);
	assert_int_equal(kmem_client_free_batch(c, ids, 2), 0);
	take_reqs(&r1);
	assert_int_equal(r1.free_batch - r0.free_batch, 1);
	assert_int_equal(mag_info(c, "kmalloc-128").out, 0);
	/* ... all or nothing: an unknown id refuses the whole batch. */
	assert_int_equal(kmem_client_alloc(c, 128, NULL, &d), 0);
	ids[0] = d.id;
	ids[1] = big.id;	/* freed above */
	assert_int_equal(kmem_client_free_batch(c, ids, 2), KMEM_ENOENT);
	assert_int_equal(mag_info(c, "kmalloc-128").out, 1);
	/* A size-class object is no cache's, alone or in a batch. */
	assert_int_equal(kmem_client_cache_free(c, &d.id, 1), KMEM_EINVAL);
	assert_int_equal(kmem_client_cache_free(c, ids, 2), KMEM_EINVAL);
	assert_int_equal(mag_info(c, "kmalloc-128").out, 1);
	assert_int_equal(kmem_client_free(c, &d), 0);

	/* Other options are not a magazine's: those are round trips. */
	take_reqs(&r0);
	zero = (struct kmem_alloc_opts)KMEM_ALLOC_OPTS_INIT;
	zero.tag = "tagged";
	assert_int_equal(kmem_client_alloc(c, 64, &zero, &b), 0);
	assert_int_equal(kmem_client_free(c, &b), 0);
	assert_int_equal(kmem_client_alloc(c, 0, NULL, &b), KMEM_EINVAL);
	take_reqs(&r1);
	assert_int_equal(r1.alloc - r0.alloc, 2);
	assert_int_equal(r1.free - r0.free, 1);
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_magazine_pairs_make_no_round_trips),
		cmocka_unit_test(test_daemon_magazine_depth_grows_to_its_cap),
		cmocka_unit_test(test_daemon_magazine_objects_never_overlap),
		cmocka_unit_test(test_daemon_magazine_shared_by_threads),
		cmocka_unit_test(test_daemon_magazine_killed_client_reclaimed),
		cmocka_unit_test(test_daemon_magazine_opt_out),
		cmocka_unit_test(test_daemon_magazine_stats_figures),
		cmocka_unit_test(test_daemon_magazine_off_while_debugging),
		cmocka_unit_test(test_daemon_magazine_named_cache),
		cmocka_unit_test(test_daemon_magazine_answers_its_own_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
