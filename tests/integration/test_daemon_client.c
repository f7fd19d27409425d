/*
 * test_daemon_client.c - the real kmemd driven through libkmem: named
 * buffers shared between processes, blocking allocation, a client killed
 * with SIGKILL, and a clean SIGTERM shutdown.
 *
 * One daemon serves the whole group: one 32 MiB pool "p", on 2 MiB
 * hugepages when they can be reserved, else the 4 KiB fallback.  Every
 * test leaves the pool's accounting exactly as it found it, and checks so.
 * An observer connection reads the stats document throughout; every other
 * connection has its own Hello name, so its session can be found there.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "harness.h"
#include "raw.h"

#define POOL_MIB 32
#define UNIT (2u << 20)		/* the filling unit: one hugepage */

static struct {
	struct integ_daemon d;
	struct kmem_client *obs;	/* the observer */
	bool huge;
	unsigned pool_mib;		/* POOL_MIB, or less without root */
} F;

static int group_setup(void **state)
{
	char spec[256];
	char msg[KMEM_MSG_MAX];
	const char *args[] = { "--pool", spec, NULL };

	(void)state;
	F.pool_mib = integ_pool_mib(POOL_MIB);
	if (!F.pool_mib)
		return -1;
	F.huge = integ_pool_spec(spec, sizeof(spec), "p", F.pool_mib, NULL);
	if (integ_daemon_start(&F.d, args)) {
		/* Someone else may have taken the pages meanwhile. */
		if (!F.huge)
			return -1;
		integ_hugepages_release();
		F.huge = false;
		integ_pool_spec_4k(spec, sizeof(spec), "p", F.pool_mib, NULL);
		printf("integration: retrying on the 4 KiB fallback\n");
		if (integ_daemon_start(&F.d, args))
			return -1;
	}
	if (kmem_client_connect(F.d.sock, "integ-observer", &F.obs, msg,
				sizeof(msg))) {
		printf("observer: %s\n", msg);
		return -1;
	}
	/* The start-up probe's connection may still be open in the daemon. */
	return integ_wait_sessions(F.obs, 1, 5000);
}

static int group_teardown(void **state)
{
	(void)state;
	kmem_client_disconnect(F.obs);
	F.obs = NULL;
	integ_daemon_cleanup(&F.d);
	integ_hugepages_release();
	return 0;
}

static struct kmem_client *connect_as(const char *name)
{
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];
	int rc = kmem_client_connect(F.d.sock, name, &c, msg, sizeof(msg));

	if (rc)
		printf("connect %s: %s: %s\n", name, kmem_errname(rc), msg);
	assert_int_equal(rc, 0);
	return c;
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
	assert_int_equal(a->named, b->named);
}

static uint8_t pattern(size_t i, unsigned salt)
{
	return (uint8_t)(i * 131u + salt + (i >> 12));
}

static void fill_pattern(void *p, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)p)[i] = pattern(i, salt);
}

/* Index of the first byte of p that is not the pattern, or n. */
static size_t check_pattern(const void *p, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] != pattern(i, salt))
			return i;
	return n;
}

static json_t *named_by_id(json_t *doc, uint64_t id)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(doc, "named"), i, n)
		if ((uint64_t)json_integer_value(json_object_get(n, "id")) == id)
			return n;
	return NULL;
}

static uint64_t named_refs(const char *name)
{
	json_t *doc = integ_stats(F.obs), *n;
	uint64_t refs = UINT64_MAX;

	assert_non_null(doc);
	n = integ_json_named(doc, name);
	if (n)
		refs = (uint64_t)json_integer_value(json_object_get(n, "refs"));
	json_decref(doc);
	return refs;
}

/* ------------------------------------------------------------ named */

#define SHARED_NAME "integ-shared"
#define SHARED_SIZE (1u << 20)

struct shared_arg {
	const char *sock;
	uint64_t id, offset, len;
};

/* The second process: look the buffer up, read the owner's pattern, write
 * its own into the second half, detach when told. */
static void shared_reader(void *p)
{
	const struct shared_arg *a = p;
	struct kmem_client *c;
	struct kmem_buf b;
	char go;

	CHILD_EQ(kmem_client_connect(a->sock, "integ-reader", &c, NULL, 0), 0);
	CHILD_EQ(kmem_client_lookup(c, SHARED_NAME, &b), 0);
	CHILD_EQ(b.id, a->id);
	CHILD_EQ(b.offset, a->offset);
	CHILD_EQ(b.len, a->len);
	CHILD_EQ(check_pattern(b.ptr, SHARED_SIZE / 2, 1), SHARED_SIZE / 2);
	fill_pattern((uint8_t *)b.ptr + SHARED_SIZE / 2, SHARED_SIZE / 2, 2);
	integ_in_child_send("a", 1);
	integ_in_child_recv(&go, 1);
	CHILD_EQ(kmem_client_detach(c, &b), 0);
	/* Detaching twice is refused: the attachment is gone. */
	b.id = a->id;
	CHILD_EQ(kmem_client_detach(c, &b), KMEM_ENOENT);
	kmem_client_disconnect(c);
}

static void test_daemon_named_buffer_shared_between_processes(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct integ_acct a0, a1;
	struct integ_child ch;
	struct shared_arg arg;
	struct kmem_client *owner;
	struct kmem_buf b, none;
	char msg[512], x;

	(void)state;
	owner = connect_as("integ-owner");
	take_acct(&a0);
	o.name = SHARED_NAME;
	o.persist = true;
	assert_int_equal(kmem_client_alloc(owner, SHARED_SIZE, &o, &b), 0);
	assert_true(b.len >= SHARED_SIZE);
	fill_pattern(b.ptr, SHARED_SIZE / 2, 1);
	memset((uint8_t *)b.ptr + SHARED_SIZE / 2, 0, SHARED_SIZE / 2);
	take_acct(&a1);
	assert_int_equal(a1.bytes_free, a0.bytes_free - b.len);
	assert_int_equal(a1.pool_leases, a0.pool_leases + 1);
	assert_int_equal(a1.named, a0.named + 1);
	assert_int_equal(named_refs(SHARED_NAME), 0);

	arg = (struct shared_arg){ F.d.sock, b.id, b.offset, b.len };
	assert_int_equal(integ_child_start(&ch, (uid_t)-1, 0, shared_reader, &arg), 0);
	assert_int_equal(integ_child_read(&ch, &x, 1, 10000), 0);
	assert_int_equal(named_refs(SHARED_NAME), 1);
	assert_int_equal(integ_child_write(&ch, "g", 1), 0);
	assert_int_equal(integ_child_finish(&ch, msg, sizeof(msg), 10000), 0);
	assert_string_equal(msg, "ok");

	/* Both halves, seen through the owner's own mapping. */
	assert_int_equal(check_pattern(b.ptr, SHARED_SIZE / 2, 1), SHARED_SIZE / 2);
	assert_int_equal(check_pattern((uint8_t *)b.ptr + SHARED_SIZE / 2,
				       SHARED_SIZE / 2, 2), SHARED_SIZE / 2);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	assert_int_equal(named_refs(SHARED_NAME), 0);

	assert_int_equal(kmem_client_free(owner, &b), 0);
	assert_int_equal(kmem_client_lookup(owner, SHARED_NAME, &none), KMEM_ENOENT);
	assert_string_equal(kmem_client_error(owner),
			    "no buffer named '" SHARED_NAME "'");
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(owner);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions - 1, 5000), 0);
}

static void test_daemon_named_buffer_outlives_its_creator(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct integ_acct a0, a1;
	struct kmem_client *c;
	struct kmem_buf b, l;
	uint64_t id, len;

	(void)state;
	take_acct(&a0);
	c = connect_as("integ-creator");
	o.name = "integ-keep";
	o.persist = true;
	assert_int_equal(kmem_client_alloc(c, 65536, &o, &b), 0);
	fill_pattern(b.ptr, 65536, 3);
	id = b.id;
	len = b.len;
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);

	/* The session is gone, the buffer is not. */
	take_acct(&a1);
	assert_int_equal(a1.pool_leases, a0.pool_leases + 1);
	assert_int_equal(a1.bytes_free, a0.bytes_free - len);
	assert_int_equal(a1.named, a0.named + 1);

	c = connect_as("integ-heir");
	assert_int_equal(kmem_client_lookup(c, "integ-keep", &l), 0);
	assert_int_equal(l.id, id);
	assert_int_equal(check_pattern(l.ptr, 65536, 3), 65536);
	assert_int_equal(kmem_client_detach(c, &l), 0);
	/* Same uid as its creator: this session may free it. */
	assert_int_equal(kmem_client_free_id(c, id), 0);
	assert_int_equal(kmem_client_free_id(c, id), KMEM_ENOENT);
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

static void test_daemon_named_buffer_freed_while_attached_lives_until_detach(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct integ_acct a0, a1;
	struct kmem_client *owner, *user;
	struct kmem_buf b, l, none;
	json_t *doc, *n;

	(void)state;
	take_acct(&a0);
	owner = connect_as("integ-owner2");
	user = connect_as("integ-user2");
	o.name = "integ-doomed";
	o.persist = true;
	assert_int_equal(kmem_client_alloc(owner, 65536, &o, &b), 0);
	fill_pattern(b.ptr, 65536, 4);
	assert_int_equal(kmem_client_lookup(user, "integ-doomed", &l), 0);
	assert_int_equal(kmem_client_free_id(owner, b.id), 0);

	/* Freed: its name is gone at once, its memory stays for the user. */
	assert_int_equal(kmem_client_lookup(owner, "integ-doomed", &none), KMEM_ENOENT);
	assert_int_equal(kmem_client_free_id(owner, b.id), KMEM_ENOENT);
	doc = integ_stats(F.obs);
	assert_non_null(doc);
	assert_int_equal(json_array_size(json_object_get(doc, "named")), a0.named + 1);
	n = named_by_id(doc, b.id);
	assert_non_null(n);
	assert_string_equal(json_string_value(json_object_get(n, "name")), "");
	assert_true(json_is_true(json_object_get(n, "doomed")));
	assert_int_equal(json_integer_value(json_object_get(n, "refs")), 1);
	json_decref(doc);
	assert_int_equal(check_pattern(l.ptr, 65536, 4), 65536);

	assert_int_equal(kmem_client_detach(user, &l), 0);
	kmem_client_disconnect(user);
	kmem_client_disconnect(owner);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
}

/* ------------------------------------------------------------ blocking */

/* Allocate UNIT buffers until the pool has none left; returns how many. */
static size_t fill_pool(struct kmem_client *c, struct kmem_buf *bufs, size_t max)
{
	size_t n = 0;
	int rc;

	while (n < max && (rc = kmem_client_alloc(c, UNIT, NULL, &bufs[n])) == 0)
		n++;
	assert_true(n < max);
	assert_int_equal(rc, KMEM_ENOMEM);
	assert_true(n >= 2);
	return n;
}

static void drain_pool(struct kmem_client *c, struct kmem_buf *bufs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bufs[i].id)
			assert_int_equal(kmem_client_free(c, &bufs[i]), 0);
}

struct blocked {
	struct kmem_client *c;
	uint32_t timeout_ms;
	int rc;
	struct kmem_buf b;
	uint64_t t0, t1;
};

static void *blocked_alloc(void *p)
{
	struct blocked *w = p;
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;

	o.timeout_ms = w->timeout_ms;
	w->t0 = integ_now_ms();
	w->rc = kmem_client_alloc(w->c, UNIT, &o, &w->b);
	w->t1 = integ_now_ms();
	return NULL;
}

static void test_daemon_blocking_alloc_woken_by_free(void **state)
{
	struct kmem_buf bufs[64];
	struct integ_acct a0, a1;
	struct kmem_client *filler, *waiter;
	struct blocked w = { .timeout_ms = 5000 };
	pthread_t t;
	uint64_t freed_at, freed_off;
	size_t n;

	(void)state;
	filler = connect_as("integ-filler");
	waiter = connect_as("integ-waiter");
	take_acct(&a0);
	memset(bufs, 0, sizeof(bufs));
	n = fill_pool(filler, bufs, 64);

	w.c = waiter;
	assert_int_equal(pthread_create(&t, NULL, blocked_alloc, &w), 0);
	/* The daemon says when the request is queued: no sleeping on luck. */
	assert_int_equal(integ_wait_waiting(F.obs, "integ-waiter", 1, 5000), 0);
	freed_off = bufs[n / 2].offset;
	freed_at = integ_now_ms();
	assert_int_equal(kmem_client_free(filler, &bufs[n / 2]), 0);
	assert_int_equal(pthread_join(t, NULL), 0);

	assert_int_equal(w.rc, 0);
	assert_int_equal(w.b.len, UNIT);
	/* The only room in the pool is the block just freed. */
	assert_int_equal(w.b.offset, freed_off);
	/* Served at the free, well before the 5 s timeout. */
	assert_true(w.t1 >= freed_at);
	assert_true(w.t1 - freed_at < 1000);
	assert_true(w.t1 - w.t0 < 4000);
	fill_pattern(w.b.ptr, 4096, 5);
	assert_int_equal(check_pattern(w.b.ptr, 4096, 5), 4096);

	assert_int_equal(kmem_client_free(waiter, &w.b), 0);
	drain_pool(filler, bufs, n);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(waiter);
	kmem_client_disconnect(filler);
}

static void test_daemon_blocking_alloc_times_out(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_buf bufs[64], b;
	struct integ_acct full, a1;
	struct kmem_client *c;
	char want[160];
	uint64_t t0, t1;
	size_t n;

	(void)state;
	c = connect_as("integ-timeout");
	memset(bufs, 0, sizeof(bufs));
	n = fill_pool(c, bufs, 64);
	take_acct(&full);

	o.timeout_ms = 200;
	t0 = integ_now_ms();
	assert_int_equal(kmem_client_alloc(c, UNIT, &o, &b), KMEM_ETIMEDOUT);
	t1 = integ_now_ms();
	assert_true(t1 - t0 >= 200);
	assert_true(t1 - t0 < 3000);
	snprintf(want, sizeof(want), "no memory was freed for %u bytes within "
		 "200 ms", UNIT);
	assert_string_equal(kmem_client_error(c), want);
	/* timeout 0 fails at once. */
	o.timeout_ms = 0;
	assert_int_equal(kmem_client_alloc(c, UNIT, &o, &b), KMEM_ENOMEM);
	take_acct(&a1);
	assert_acct_equal(&a1, &full);

	drain_pool(c, bufs, n);
	kmem_client_disconnect(c);
}

static void test_daemon_blocking_waiters_served_in_order(void **state)
{
	struct kmem_buf bufs[64];
	struct integ_acct a0, a1;
	struct kmem_client *filler;
	struct blocked w1 = { .timeout_ms = 5000 }, w2 = { .timeout_ms = 5000 };
	pthread_t t1, t2;
	json_t *doc, *s;
	size_t n;

	(void)state;
	filler = connect_as("integ-filler2");
	w1.c = connect_as("integ-w1");
	w2.c = connect_as("integ-w2");
	take_acct(&a0);
	memset(bufs, 0, sizeof(bufs));
	n = fill_pool(filler, bufs, 64);
	assert_int_equal(pthread_create(&t1, NULL, blocked_alloc, &w1), 0);
	assert_int_equal(integ_wait_waiting(F.obs, "integ-w1", 1, 5000), 0);
	assert_int_equal(pthread_create(&t2, NULL, blocked_alloc, &w2), 0);
	assert_int_equal(integ_wait_waiting(F.obs, "integ-w2", 1, 5000), 0);

	/* First come, first served: one free, the first waiter only. */
	assert_int_equal(kmem_client_free(filler, &bufs[0]), 0);
	assert_int_equal(pthread_join(t1, NULL), 0);
	assert_int_equal(w1.rc, 0);
	doc = integ_stats(F.obs);
	assert_non_null(doc);
	s = integ_json_session(doc, "integ-w2");
	assert_non_null(s);
	assert_int_equal(json_integer_value(json_object_get(s, "waiting")), 1);
	assert_int_equal(json_integer_value(json_object_get(s, "leases")), 0);
	json_decref(doc);
	assert_int_equal(kmem_client_free(filler, &bufs[1]), 0);
	assert_int_equal(pthread_join(t2, NULL), 0);
	assert_int_equal(w2.rc, 0);
	assert_true(w2.t1 >= w1.t1);

	assert_int_equal(kmem_client_free(w1.c, &w1.b), 0);
	assert_int_equal(kmem_client_free(w2.c, &w2.b), 0);
	drain_pool(filler, bufs, n);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(w2.c);
	kmem_client_disconnect(w1.c);
	kmem_client_disconnect(filler);
}

static void test_daemon_blocked_client_that_leaves_is_forgotten(void **state)
{
	struct kmem_buf bufs[64], again;
	struct integ_acct a0, a1;
	struct kmem_client *filler;
	struct integ_raw r;
	Kmem__Request q;
	Kmem__Alloc a;
	Kmem__Response *resp;
	uint64_t off;
	size_t n;

	(void)state;
	filler = connect_as("integ-filler3");
	take_acct(&a0);
	memset(bufs, 0, sizeof(bufs));
	n = fill_pool(filler, bufs, 64);
	assert_int_equal(integ_raw_connect(&r, F.d.sock), 0);
	resp = integ_raw_hello(&r, 1);
	assert_non_null(resp);
	kmem_frame_free_response(resp, NULL);
	integ_req_alloc(&q, &a, 2, "p", UNIT, 0, 5000);
	assert_int_equal(integ_raw_send(&r, &q), 0);
	assert_int_equal(integ_wait_waiting(F.obs, "integ-raw", 1, 5000), 0);
	integ_raw_close(&r);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);

	/* The room freed now is not handed to the departed waiter. */
	off = bufs[0].offset;
	assert_int_equal(kmem_client_free(filler, &bufs[0]), 0);
	assert_int_equal(kmem_client_alloc(filler, UNIT, NULL, &again), 0);
	assert_int_equal(again.offset, off);
	assert_int_equal(kmem_client_free(filler, &again), 0);
	drain_pool(filler, bufs, n);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(filler);
}

/* ------------------------------------------------------------ SIGKILL */

#define VICTIM_CACHE "integ-objs"
#define VICTIM_LEASES (3 + 4 + 8)

/* Take buffers, a batch and cache objects, touch them all, say how many,
 * and wait to be killed. */
static void victim(void *p)
{
	const char *sock = p;
	static const uint64_t sizes[3] = { 65536, 1u << 20, 8193 };
	struct kmem_buf b[3], batch[4], objs[8];
	struct kmem_client *c;
	uint32_t count = VICTIM_LEASES;
	char never;

	CHILD_EQ(kmem_client_connect(sock, "integ-victim", &c, NULL, 0), 0);
	for (int i = 0; i < 3; i++) {
		CHILD_EQ(kmem_client_alloc(c, sizes[i], NULL, &b[i]), 0);
		memset(b[i].ptr, 0x5a, sizes[i]);
	}
	CHILD_EQ(kmem_client_alloc_batch(c, NULL, 4096, 0, 4, batch), 0);
	for (int i = 0; i < 4; i++)
		memset(batch[i].ptr, 0x6b, 4096);
	CHILD_EQ(kmem_client_cache_alloc(c, VICTIM_CACHE, 8, objs), 0);
	for (int i = 0; i < 8; i++)
		memset(objs[i].ptr, 0x7c, 256);
	integ_in_child_send(&count, sizeof(count));
	integ_in_child_recv(&never, 1);
}

/*
 * Slab caches keep one empty slab when their last object goes (so a
 * cache does not thrash at the empty/one-object boundary).  Taking and
 * giving back one batch and one object first puts the kmalloc-4096 and
 * VICTIM_CACHE caches in that steady state, so the free bytes measured
 * before and after the victim are comparable to the byte.
 */
static void warm_caches(void)
{
	struct kmem_buf bb[4], ob[8];
	uint64_t ids[8];

	assert_int_equal(kmem_client_cache_create(F.obs, NULL, VICTIM_CACHE, 256,
						  0, NULL), 0);
	assert_int_equal(kmem_client_alloc_batch(F.obs, NULL, 4096, 0, 4, bb), 0);
	for (int i = 0; i < 4; i++)
		ids[i] = bb[i].id;
	assert_int_equal(kmem_client_free_batch(F.obs, ids, 4), 0);
	assert_int_equal(kmem_client_cache_alloc(F.obs, VICTIM_CACHE, 8, ob), 0);
	for (int i = 0; i < 8; i++)
		ids[i] = ob[i].id;
	assert_int_equal(kmem_client_cache_free(F.obs, ids, 8), 0);
}

static void test_daemon_killed_client_leases_reclaimed(void **state)
{
	struct integ_acct a0, a1;
	struct integ_child ch;
	uint64_t reclaimed0, reclaimed1;
	uint32_t count;
	json_t *doc, *s;
	char msg[512];
	int st;

	(void)state;
	warm_caches();
	take_acct(&a0);
	doc = integ_stats(F.obs);
	assert_non_null(doc);
	assert_int_equal(integ_json_u64(doc, "daemon/leases_reclaimed", &reclaimed0), 0);
	json_decref(doc);

	assert_int_equal(integ_child_start(&ch, (uid_t)-1, 0, victim, F.d.sock), 0);
	if (integ_child_read(&ch, &count, sizeof(count), 10000)) {
		integ_child_finish(&ch, msg, sizeof(msg), 1000);
		fail_msg("the victim did not get its leases: %s", msg);
	}
	assert_int_equal(count, VICTIM_LEASES);
	doc = integ_stats(F.obs);
	assert_non_null(doc);
	s = integ_json_session(doc, "integ-victim");
	assert_non_null(s);
	assert_int_equal(json_integer_value(json_object_get(s, "leases")), VICTIM_LEASES);
	json_decref(doc);
	take_acct(&a1);
	assert_int_equal(a1.pool_leases, a0.pool_leases + VICTIM_LEASES);
	assert_int_equal(a1.sessions, a0.sessions + 1);
	assert_true(a1.bytes_free < a0.bytes_free);

	assert_int_equal(kill(ch.pid, SIGKILL), 0);
	st = integ_child_finish(&ch, msg, sizeof(msg), 10000);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);

	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	doc = integ_stats(F.obs);
	assert_non_null(doc);
	assert_null(integ_json_session(doc, "integ-victim"));
	assert_int_equal(integ_json_u64(doc, "daemon/leases_reclaimed", &reclaimed1), 0);
	assert_int_equal(reclaimed1, reclaimed0 + VICTIM_LEASES);
	json_decref(doc);
	/* The cache has no live object left, so it can go. */
	assert_int_equal(kmem_client_cache_destroy(F.obs, VICTIM_CACHE), 0);
}

/* ------------------------------------------------------------ shutdown */

static void test_daemon_sigterm_answers_waiters_and_exits_cleanly(void **state)
{
	struct kmem_buf bufs[64];
	struct kmem_client *c;
	struct integ_raw r;
	Kmem__Request q;
	Kmem__Alloc a;
	Kmem__Response *resp;
	struct stat sb;
	size_t n;
	int st;

	(void)state;
	c = connect_as("integ-last");
	memset(bufs, 0, sizeof(bufs));
	n = fill_pool(c, bufs, 64);
	(void)n;
	assert_int_equal(integ_raw_connect(&r, F.d.sock), 0);
	resp = integ_raw_hello(&r, 1);
	assert_non_null(resp);
	assert_int_equal(resp->status, KMEM__STATUS__STATUS_OK);
	kmem_frame_free_response(resp, NULL);
	integ_req_alloc(&q, &a, 42, "p", UNIT, 0, 5000);
	assert_int_equal(integ_raw_send(&r, &q), 0);
	assert_int_equal(integ_wait_waiting(F.obs, "integ-raw", 1, 5000), 0);

	assert_int_equal(kill(F.d.pid, SIGTERM), 0);
	/* The queued request is answered, then the connection closes. */
	resp = integ_raw_recv(&r, 5000);
	assert_non_null(resp);
	assert_int_equal(resp->seq, 42);
	assert_int_equal(resp->status, KMEM__STATUS__STATUS_BUSY);
	assert_string_equal(resp->message, "the daemon is shutting down");
	kmem_frame_free_response(resp, NULL);
	assert_int_equal(integ_raw_eof(&r, 5000), 1);
	integ_raw_close(&r);

	st = integ_daemon_wait(&F.d);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("kmemd wait status 0x%x\n", st);
		integ_daemon_dump_log(&F.d);
	}
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(stat(F.d.sock, &sb), -1);
	/* Clients of a stopped daemon fail cleanly. */
	assert_int_equal(kmem_client_ping(c, 8), KMEM_ECONN);
	kmem_client_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_named_buffer_shared_between_processes),
		cmocka_unit_test(test_daemon_named_buffer_outlives_its_creator),
		cmocka_unit_test(test_daemon_named_buffer_freed_while_attached_lives_until_detach),
		cmocka_unit_test(test_daemon_blocking_alloc_woken_by_free),
		cmocka_unit_test(test_daemon_blocking_alloc_times_out),
		cmocka_unit_test(test_daemon_blocking_waiters_served_in_order),
		cmocka_unit_test(test_daemon_blocked_client_that_leaves_is_forgotten),
		cmocka_unit_test(test_daemon_killed_client_leases_reclaimed),
		/* Last: it stops the daemon. */
		cmocka_unit_test(test_daemon_sigterm_answers_waiters_and_exits_cleanly),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
