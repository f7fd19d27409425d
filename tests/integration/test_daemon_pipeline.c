/*
 * test_daemon_pipeline.c - libkmem's pipelined batches against the real
 * kmemd: eight AllocBatch and eight FreeBatch in flight with the pool's
 * accounting checked after each phase, tickets received out of order, the
 * misuses of tickets, one batch refused for want of memory among others
 * that succeed, ordinary and blocking calls and magazines mixed with
 * outstanding tickets, threads sharing a connection, a write that would
 * block on replies nobody reads, the daemon killed with tickets
 * outstanding, and a randomised run against a model.
 *
 * One daemon serves the group: pool "p" (32 MiB) for everything, and pool
 * "q" (8 MiB) for the tests that exhaust memory; hugepages when they can
 * be reserved, else the 4 KiB fallback.  The observer opts out of
 * magazines, so its only requests are Stats; every test leaves the
 * accounting as it found it, and checks so.  The tests that kill a daemon
 * or starve its output start their own.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "harness.h"

#define POOL_MIB 32
#define Q_MIB 8
#define MIB (1u << 20)
#define BATCH 64
#define INFLIGHT 8
#define OBJ 256

static struct {
	struct integ_daemon d;
	struct kmem_client *obs;
} F;

static int start(struct integ_daemon *d, unsigned p_mib, const char *extra)
{
	char p[256], q[256];
	const char *args[] = { "--pool", p, "--pool", q, extra ? "--out-limit" : NULL,
			       extra, NULL };
	bool huge = integ_pool_spec(p, sizeof(p), "p", p_mib, NULL);

	huge &= integ_pool_spec(q, sizeof(q), "q", Q_MIB, NULL);
	if (integ_daemon_start(d, args) == 0)
		return 0;
	/* Someone else may have taken the pages meanwhile. */
	if (!huge)
		return -1;
	integ_hugepages_release();
	integ_pool_spec_4k(p, sizeof(p), "p", p_mib, NULL);
	integ_pool_spec_4k(q, sizeof(q), "q", Q_MIB, NULL);
	return integ_daemon_start(d, args);
}

static struct kmem_client *connect_opts(const char *sock, const char *name,
					unsigned flags)
{
	struct kmem_connect_opts o = { .flags = flags };
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];
	int rc = kmem_client_connect_opts(sock, name, &o, &c, msg, sizeof(msg));

	if (rc)
		printf("connect %s: %s: %s\n", name, kmem_errname(rc), msg);
	assert_int_equal(rc, 0);
	return c;
}

static struct kmem_client *connect_as(const char *name, unsigned flags)
{
	return connect_opts(F.d.sock, name, flags);
}

static int group_setup(void **state)
{
	(void)state;
	if (integ_pool_mib(POOL_MIB) != POOL_MIB) {
		printf("pipeline tests need a %u MiB pool\n", POOL_MIB);
		return -1;
	}
	if (start(&F.d, POOL_MIB, NULL))
		return -1;
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

static void take_acct(size_t pool, struct integ_acct *a)
{
	assert_int_equal(integ_acct(F.obs, pool, a), 0);
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

/* a is b plus n leases of len bytes each. */
static void assert_acct_plus(const struct integ_acct *a,
			     const struct integ_acct *b, uint64_t n, uint64_t len)
{
	assert_int_equal(a->bytes_leased, b->bytes_leased + n * len);
	assert_int_equal(a->pool_leases, b->pool_leases + n);
	assert_int_equal(a->leases, b->leases + n);
}

/* The daemon's count of requests of one type. */
static uint64_t requests(const char *type)
{
	json_t *doc = integ_stats(F.obs);
	char path[64];
	uint64_t v = 0;

	assert_non_null(doc);
	snprintf(path, sizeof(path), "requests/%s", type);
	assert_int_equal(integ_json_u64(doc, path, &v), 0);
	json_decref(doc);
	return v;
}

/* Slab caches keep one empty slab when their last object goes: warm the
 * class first, so that the free bytes compare to the byte. */
static void warm(uint64_t size)
{
	struct kmem_buf b;

	assert_int_equal(kmem_client_alloc(F.obs, size, NULL, &b), 0);
	assert_int_equal(kmem_client_free(F.obs, &b), 0);
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

static int by_id(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The n ids are distinct and non-zero (reorders them). */
static void assert_distinct(uint64_t *ids, size_t n)
{
	qsort(ids, n, sizeof(*ids), by_id);
	for (size_t i = 0; i < n; i++)
		if (ids[i] == 0 || (i && ids[i] == ids[i - 1]))
			fail_msg("lease id %llu zero or repeated",
				 (unsigned long long)ids[i]);
}

static uint64_t send_alloc(struct kmem_client *c, const char *pool,
			   uint64_t size, uint32_t count)
{
	uint64_t t = 0;

	assert_int_equal(kmem_client_alloc_batch_send(c, pool, size, 0, count, &t), 0);
	assert_true(t != 0);
	return t;
}

static uint64_t send_free(struct kmem_client *c, const struct kmem_buf *b,
			  size_t n)
{
	uint64_t ids[BATCH], t = 0;

	assert_true(n <= BATCH);
	for (size_t i = 0; i < n; i++)
		ids[i] = b[i].id;
	assert_int_equal(kmem_client_free_batch_send(c, ids, n, &t), 0);
	/* The ids are copied at the send: scribbling on them is harmless. */
	memset(ids, 0xff, sizeof(ids));
	assert_true(t != 0);
	return t;
}

static void recv_alloc(struct kmem_client *c, uint64_t t, struct kmem_buf *b,
		       size_t count)
{
	size_t n = 0;
	int rc = kmem_client_batch_recv(c, t, b, &n);

	if (rc)
		printf("recv %llu: %s: %s\n", (unsigned long long)t,
		       kmem_errname(rc), kmem_client_error(c));
	assert_int_equal(rc, 0);
	assert_int_equal(n, count);
}

static void recv_free(struct kmem_client *c, uint64_t t)
{
	size_t n = 99;

	assert_int_equal(kmem_client_batch_recv(c, t, NULL, &n), 0);
	assert_int_equal(n, 0);
}

/* ------------------------------------------------------------ in flight */

/*
 * Eight AllocBatch of 64 in flight, received last first (the first
 * receive reads and keeps the seven replies before its own); then their
 * eight FreeBatch in flight, received in order.  Every buffer written and
 * read back after all are written, the ids distinct, and the pool's
 * leases and bytes exact after each phase.
 */
static void test_pipeline_eight_batches_in_flight(void **state)
{
	static struct kmem_buf b[INFLIGHT][BATCH];
	uint64_t t[INFLIGHT], ids[INFLIGHT * BATCH];
	struct integ_acct a0, a1, a2;
	struct kmem_client *c;
	uint64_t ab0, fb0;

	(void)state;
	warm(OBJ);
	take_acct(0, &a0);
	c = connect_as("integ-eight", KMEM_CONNECT_NO_MAGAZINES);
	a0.sessions++;
	ab0 = requests("alloc_batch");
	fb0 = requests("free_batch");
	for (int i = 0; i < INFLIGHT; i++)
		t[i] = send_alloc(c, NULL, OBJ, BATCH);
	for (int i = 1; i < INFLIGHT; i++)
		assert_true(t[i] > t[i - 1]);
	for (int i = INFLIGHT - 1; i >= 0; i--)
		recv_alloc(c, t[i], b[i], BATCH);
	take_acct(0, &a1);
	assert_acct_plus(&a1, &a0, INFLIGHT * BATCH, OBJ);
	for (int i = 0; i < INFLIGHT; i++)
		for (int j = 0; j < BATCH; j++) {
			assert_int_equal(b[i][j].len, OBJ);
			assert_int_equal(b[i][j].nsegs, 1);
			assert_null(b[i][j].segs);
			assert_int_equal(b[i][j].pool, 0);
			ids[i * BATCH + j] = b[i][j].id;
			fill(&b[i][j]);
		}
	for (int i = 0; i < INFLIGHT; i++)
		for (int j = 0; j < BATCH; j++)
			assert_true(intact(&b[i][j]));
	assert_distinct(ids, INFLIGHT * BATCH);

	for (int i = 0; i < INFLIGHT; i++)
		t[i] = send_free(c, b[i], BATCH);
	for (int i = 0; i < INFLIGHT; i++)
		recv_free(c, t[i]);
	take_acct(0, &a2);
	assert_acct_equal(&a2, &a0);
	/* Sixteen requests, none more: nothing was split or retried. */
	assert_int_equal(requests("alloc_batch") - ab0, INFLIGHT);
	assert_int_equal(requests("free_batch") - fb0, INFLIGHT);
	kmem_client_disconnect(c);
	a0.sessions--;
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
}

/* ------------------------------------------------------------ misuse */

static void test_pipeline_ticket_misuse(void **state)
{
	struct kmem_buf b[KMEM_PIPE_MAX][1], one[2];
	uint64_t t[KMEM_PIPE_MAX], extra = 0, bogus = UINT64_MAX / 3, ab0;
	struct integ_acct a0, a1;
	struct kmem_client *c;
	size_t n = 7;

	(void)state;
	warm(OBJ);
	take_acct(0, &a0);
	c = connect_as("integ-misuse", KMEM_CONNECT_NO_MAGAZINES);
	a0.sessions++;

	/* Tickets never sent. */
	assert_int_equal(kmem_client_batch_recv(c, 0, one, &n), KMEM_EINVAL);
	assert_int_equal(kmem_client_batch_recv(c, 12345, one, &n), KMEM_EINVAL);
	assert_non_null(strstr(kmem_client_error(c), "outstanding"));
	assert_int_equal(n, 7);
	assert_int_equal(kmem_client_alloc_batch_send(c, NULL, OBJ, 0, 1, NULL),
			 KMEM_EINVAL);
	assert_int_equal(kmem_client_free_batch_send(c, NULL, 2, &extra), KMEM_EINVAL);
	assert_int_equal(extra, 0);

	/* An AllocBatch's ticket with nowhere to put its buffers changes
	 * nothing; received properly, it is gone. */
	t[0] = send_alloc(c, NULL, OBJ, 2);
	assert_int_equal(kmem_client_batch_recv(c, t[0], NULL, &n), KMEM_EINVAL);
	assert_int_equal(n, 7);
	recv_alloc(c, t[0], one, 2);
	assert_int_equal(kmem_client_batch_recv(c, t[0], one, &n), KMEM_EINVAL);
	/* A FreeBatch's ticket ignores out; n may be NULL. */
	t[0] = send_free(c, one, 2);
	assert_int_equal(kmem_client_batch_recv(c, t[0], one, NULL), 0);
	assert_int_equal(kmem_client_batch_recv(c, t[0], NULL, NULL), KMEM_EINVAL);

	/* The daemon's refusals come back at the receive. */
	assert_int_equal(kmem_client_free_batch_send(c, &bogus, 1, &t[0]), 0);
	assert_int_equal(kmem_client_free_batch_send(c, &bogus, 0, &t[1]), 0);
	t[2] = send_alloc(c, NULL, 0, 1);
	assert_int_equal(kmem_client_alloc_batch_send(c, "nosuch", OBJ, 0, 1, &t[3]), 0);
	assert_int_equal(kmem_client_batch_recv(c, t[0], NULL, &n), KMEM_ENOENT);
	assert_non_null(strstr(kmem_client_error(c), "no lease"));
	assert_int_equal(kmem_client_batch_recv(c, t[1], NULL, &n), KMEM_EINVAL);
	assert_int_equal(kmem_client_batch_recv(c, t[2], one, &n), KMEM_EINVAL);
	assert_int_equal(kmem_client_batch_recv(c, t[3], one, &n), KMEM_ENOENT);
	assert_int_equal(n, 7);

	/* KMEM_PIPE_MAX outstanding, then one more is refused and sends
	 * nothing; receiving one makes room again. */
	ab0 = requests("alloc_batch");
	for (int i = 0; i < KMEM_PIPE_MAX; i++)
		t[i] = send_alloc(c, NULL, OBJ, 1);
	assert_int_equal(kmem_client_alloc_batch_send(c, NULL, OBJ, 0, 1, &extra),
			 KMEM_EBUSY);
	assert_int_equal(kmem_client_free_batch_send(c, &bogus, 1, &extra),
			 KMEM_EBUSY);
	assert_int_equal(extra, 0);
	/* A round trip with the table full: once it is answered the daemon
	 * has seen every request sent before it, and no other. */
	assert_int_equal(kmem_client_ping(c, 0), 0);
	assert_int_equal(requests("alloc_batch") - ab0, KMEM_PIPE_MAX);
	recv_alloc(c, t[KMEM_PIPE_MAX / 2], b[KMEM_PIPE_MAX / 2], 1);
	extra = send_alloc(c, NULL, OBJ, 1);
	recv_alloc(c, extra, one, 1);
	for (int i = 0; i < KMEM_PIPE_MAX; i++)
		if (i != KMEM_PIPE_MAX / 2)
			recv_alloc(c, t[i], b[i], 1);
	take_acct(0, &a1);
	assert_acct_plus(&a1, &a0, KMEM_PIPE_MAX + 1, OBJ);
	for (int i = 0; i < KMEM_PIPE_MAX; i++)
		t[i] = send_free(c, b[i], 1);
	for (int i = KMEM_PIPE_MAX - 1; i >= 0; i--)
		recv_free(c, t[i]);
	assert_int_equal(kmem_client_free_id(c, one[0].id), 0);
	take_acct(0, &a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(c);
	a0.sessions--;
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
}

/* ------------------------------------------------------------ memory */

/*
 * Pool q (8 MiB): two 2 MiB buffers, then three that do not fit in the
 * four left, then one that does.  The second batch fails alone, all or
 * nothing, and the others are what they would have been without it.
 */
static void test_pipeline_one_batch_fails_for_want_of_memory(void **state)
{
	struct kmem_buf x[2], y[3], z[1];
	struct integ_acct a0, a1;
	struct kmem_client *c;
	uint64_t t[3];
	size_t n = 5;

	(void)state;
	take_acct(1, &a0);
	c = connect_as("integ-nomem", KMEM_CONNECT_NO_MAGAZINES);
	a0.sessions++;
	t[0] = send_alloc(c, "q", 2 * MIB, 2);
	t[1] = send_alloc(c, "q", 2 * MIB, 3);
	t[2] = send_alloc(c, "q", 2 * MIB, 1);
	recv_alloc(c, t[0], x, 2);
	assert_int_equal(kmem_client_batch_recv(c, t[1], y, &n), KMEM_ENOMEM);
	assert_true(kmem_client_error(c)[0] != 0);
	assert_int_equal(n, 5);
	recv_alloc(c, t[2], z, 1);
	take_acct(1, &a1);
	assert_acct_plus(&a1, &a0, 3, 2 * MIB);
	assert_int_equal(a1.bytes_free, a0.bytes_free - 6 * MIB);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(x[i].pool, 1);
		fill(&x[i]);
	}
	fill(&z[0]);
	assert_true(intact(&x[0]) && intact(&x[1]) && intact(&z[0]));
	t[0] = send_free(c, x, 2);
	t[1] = send_free(c, z, 1);
	recv_free(c, t[1]);
	recv_free(c, t[0]);
	take_acct(1, &a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(c);
	a0.sessions--;
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
}

/* ------------------------------------------------------------ other calls */

/*
 * Ordinary calls between send and receive: an allocation, a refused free,
 * stats, a ping, and a blocking allocation that times out in pool q,
 * filled meanwhile by a ticket's buffers.  Each keeps the tickets'
 * replies that arrive before its own, and the tickets come out intact.
 */
static void test_pipeline_blocking_calls_between_send_and_receive(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_buf a[BATCH], full[4], big, none;
	struct integ_acct a0, a1;
	struct kmem_client *c;
	uint64_t t[3], t0;
	char *text = NULL;

	(void)state;
	warm(OBJ);
	take_acct(0, &a0);
	c = connect_as("integ-between", KMEM_CONNECT_NO_MAGAZINES);
	a0.sessions++;
	t[0] = send_alloc(c, NULL, OBJ, BATCH);
	assert_int_equal(kmem_client_alloc(c, MIB, NULL, &big), 0);
	t[1] = send_alloc(c, "q", 2 * MIB, 4);
	assert_int_equal(kmem_client_free_id(c, UINT64_MAX / 5), KMEM_ENOENT);
	assert_int_equal(kmem_client_stats(c, false, &text), 0);
	assert_non_null(strstr(text, "integ-between"));
	free(text);
	assert_int_equal(kmem_client_ping(c, 100), 0);
	/* The daemon has answered t[1] (the pool is full) before it takes
	 * this request, which waits in the pool's queue and times out. */
	o.pool = "q";
	o.timeout_ms = 200;
	t0 = integ_now_ms();
	assert_int_equal(kmem_client_alloc(c, 2 * MIB, &o, &none), KMEM_ETIMEDOUT);
	assert_true(integ_now_ms() - t0 >= 150);
	t[2] = send_free(c, &big, 1);
	recv_alloc(c, t[1], full, 4);
	recv_alloc(c, t[0], a, BATCH);
	recv_free(c, t[2]);
	take_acct(0, &a1);
	assert_int_equal(a1.pool_leases, a0.pool_leases + BATCH);
	assert_int_equal(a1.bytes_leased, a0.bytes_leased + BATCH * OBJ);
	assert_int_equal(a1.leases, a0.leases + BATCH + 4);
	for (int i = 0; i < BATCH; i++)
		fill(&a[i]);
	for (int i = 0; i < BATCH; i++)
		assert_true(intact(&a[i]));
	/* Blocking batches take their turn with pipelined ones. */
	t[0] = send_free(c, full, 4);
	assert_int_equal(kmem_client_free_batch(c, (uint64_t[]){ a[0].id, a[1].id }, 2),
			 0);
	t[1] = send_free(c, a + 2, BATCH - 2);
	recv_free(c, t[1]);
	recv_free(c, t[0]);
	take_acct(0, &a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(c);
	a0.sessions--;
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
}

/* ------------------------------------------------------------ magazines */

static struct kmem_magazine_info mag_info(struct kmem_client *c, const char *name)
{
	struct kmem_magazine_info in;

	for (size_t i = 0; kmem_client_magazine_info(c, i, &in) == 0; i++)
		if (!strcmp(in.name, name))
			return in;
	fail_msg("no magazine %s", name);
	return in;
}

/*
 * With magazines: a magazine refill's round trip while a ticket is
 * outstanding; a pipelined free of magazine objects only (back to the
 * magazine, no request), of a mix (the daemon's part in a request of its
 * own), and a double free of magazine objects, refused at the receive.
 */
static void test_pipeline_with_magazines(void **state)
{
	struct kmem_buf m[6], a[BATCH];
	struct kmem_magazine_info in;
	struct integ_acct a0, a1;
	struct kmem_client *c;
	uint64_t t[3], fb0, mixed[2];

	(void)state;
	warm(64);
	warm(OBJ);
	take_acct(0, &a0);
	c = connect_as("integ-mags", 0);
	a0.sessions++;
	t[0] = send_alloc(c, NULL, OBJ, BATCH);
	for (int i = 0; i < 6; i++)
		assert_int_equal(kmem_client_alloc(c, 64, NULL, &m[i]), 0);
	in = mag_info(c, "kmalloc-64");
	assert_int_equal(in.out, 6);
	assert_true(in.refills >= 1);
	recv_alloc(c, t[0], a, BATCH);

	fb0 = requests("free_batch");
	t[0] = send_free(c, m, 3);
	recv_free(c, t[0]);
	in = mag_info(c, "kmalloc-64");
	assert_int_equal(in.out, 3);
	assert_int_equal(requests("free_batch") - fb0, 0);
	t[1] = send_free(c, m, 2);
	assert_int_equal(kmem_client_batch_recv(c, t[1], NULL, NULL), KMEM_ENOENT);
	assert_non_null(strstr(kmem_client_error(c), "free already"));
	assert_int_equal(mag_info(c, "kmalloc-64").out, 3);

	mixed[0] = m[3].id;
	mixed[1] = a[0].id;
	assert_int_equal(kmem_client_free_batch_send(c, mixed, 2, &t[2]), 0);
	recv_free(c, t[2]);
	assert_int_equal(mag_info(c, "kmalloc-64").out, 2);
	t[0] = send_free(c, m + 4, 2);
	t[1] = send_free(c, a + 1, BATCH - 1);
	recv_free(c, t[1]);
	recv_free(c, t[0]);
	assert_int_equal(mag_info(c, "kmalloc-64").out, 0);
	assert_int_equal(kmem_client_magazine_drain(c), 0);
	take_acct(0, &a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(c);
	a0.sessions--;
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
}

/* ------------------------------------------------------------ threads */

#define THREADS 4
#define ROUNDS 200

struct worker {
	struct kmem_client *c;
	int failed;		/* first failing step, 0 if none */
};

/* Each round: two AllocBatch in flight, then their frees in flight, each
 * checked; the connection is shared with the other workers. */
static void *work(void *arg)
{
	struct worker *w = arg;
	struct kmem_buf b[2][16];
	uint64_t t[2], ids[16];
	size_t n;

	for (int r = 0; r < ROUNDS && !w->failed; r++) {
		for (int i = 0; i < 2; i++)
			if (kmem_client_alloc_batch_send(w->c, NULL, OBJ, 0, 16, &t[i]))
				w->failed = 1;
		for (int i = 1; i >= 0 && !w->failed; i--)
			if (kmem_client_batch_recv(w->c, t[i], b[i], &n) || n != 16)
				w->failed = 2;
		for (int i = 0; i < 2 && !w->failed; i++)
			for (int j = 0; j < 16; j++)
				fill(&b[i][j]);
		/* Checked while both batches are held: no other thread's
		 * buffer overlaps them. */
		for (int i = 0; i < 2 && !w->failed; i++) {
			for (int j = 0; j < 16; j++) {
				if (!intact(&b[i][j]))
					w->failed = 4;
				ids[j] = b[i][j].id;
			}
			if (!w->failed &&
			    kmem_client_free_batch_send(w->c, ids, 16, &t[i]))
				w->failed = 3;
		}
		for (int i = 0; i < 2 && !w->failed; i++)
			if (kmem_client_batch_recv(w->c, t[i], NULL, NULL))
				w->failed = 5;
	}
	return NULL;
}

static void test_pipeline_threads_share_a_connection(void **state)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct integ_acct a0, a1;
	struct kmem_client *c;

	(void)state;
	warm(OBJ);
	take_acct(0, &a0);
	c = connect_as("integ-threads", 0);
	a0.sessions++;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .c = c };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failed, 0);
	}
	take_acct(0, &a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(c);
	a0.sessions--;
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
}

/* ------------------------------------------------------------ back-pressure */

/*
 * A daemon that stops reading a session at 4 KiB of unsent replies: eight
 * AllocBatch whose replies are far more than that, then 56 FreeBatch of
 * 16384 ids each (about 150 KB a request) without receiving anything.
 * The sends fill the socket; a client that only wrote would wait for a
 * daemon waiting for it to read.  The alarm turns such a hang into a
 * failure.
 */
static void test_pipeline_sends_read_replies_nobody_reads(void **state)
{
	enum { ALLOCS = 8, FREES = KMEM_PIPE_MAX - ALLOCS, IDS = 16384, N = 1024 };
	static struct kmem_buf b[ALLOCS][N];
	uint64_t *ids = calloc(IDS, sizeof(*ids)), t[KMEM_PIPE_MAX];
	struct integ_daemon d = { 0 };
	struct kmem_client *c;

	(void)state;
	assert_non_null(ids);
	assert_int_equal(start(&d, 16, "4096"), 0);
	c = connect_opts(d.sock, "integ-backpressure", KMEM_CONNECT_NO_MAGAZINES);
	for (int i = 0; i < IDS; i++)
		ids[i] = (UINT64_C(1) << 62) + (uint64_t)i;
	alarm(60);
	for (int i = 0; i < ALLOCS; i++)
		t[i] = send_alloc(c, NULL, 64, N);
	for (int i = 0; i < FREES; i++)
		assert_int_equal(kmem_client_free_batch_send(c, ids, IDS,
							     &t[ALLOCS + i]), 0);
	for (int i = 0; i < ALLOCS; i++)
		recv_alloc(c, t[i], b[i], N);
	for (int i = 0; i < FREES; i++)
		assert_int_equal(kmem_client_batch_recv(c, t[ALLOCS + i], NULL, NULL),
				 KMEM_ENOENT);
	alarm(0);
	for (int i = 0; i < ALLOCS; i++) {
		for (int j = 0; j < N; j++)
			ids[j] = b[i][j].id;
		assert_int_equal(kmem_client_free_batch(c, ids, N), 0);
	}
	kmem_client_disconnect(c);
	integ_daemon_cleanup(&d);
	free(ids);
}

/* ------------------------------------------------------------ lost */

/*
 * The daemon dies with six tickets outstanding: four whose replies were
 * read and kept (by a Stats round trip) and two it never read (it was
 * stopped first).  The receive that notices fails every one of them with
 * KMEM_ECONN, each once; later sends and calls fail at once.
 */
static void test_pipeline_daemon_killed_fails_every_ticket(void **state)
{
	struct integ_daemon d = { 0 };
	struct kmem_client *c;
	struct kmem_buf b[BATCH];
	uint64_t t[6], u = 0, bogus = UINT64_MAX / 7;
	char *text = NULL;
	size_t n = 3;

	(void)state;
	assert_int_equal(start(&d, 16, NULL), 0);
	c = connect_opts(d.sock, "integ-killed", 0);
	for (int i = 0; i < 4; i++)
		t[i] = send_alloc(c, NULL, OBJ, BATCH);
	assert_int_equal(kmem_client_stats(c, false, &text), 0);
	free(text);
	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	t[4] = send_alloc(c, NULL, OBJ, BATCH);
	assert_int_equal(kmem_client_free_batch_send(c, &bogus, 1, &t[5]), 0);
	assert_true(integ_daemon_kill(&d) >= 0);
	assert_int_equal(kmem_client_batch_recv(c, t[5], NULL, &n), KMEM_ECONN);
	assert_non_null(strstr(kmem_client_error(c), "lost"));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(kmem_client_batch_recv(c, t[i], b, &n), KMEM_ECONN);
		assert_int_equal(kmem_client_batch_recv(c, t[i], b, &n), KMEM_EINVAL);
	}
	assert_int_equal(n, 3);
	assert_int_equal(kmem_client_alloc_batch_send(c, NULL, OBJ, 0, 1, &u),
			 KMEM_ECONN);
	assert_int_equal(u, 0);
	assert_int_equal(kmem_client_ping(c, 0), KMEM_ECONN);
	kmem_client_disconnect(c);
	integ_daemon_cleanup(&d);
}

/*
 * Disconnecting with tickets outstanding, replies kept or not, forgets
 * them: nothing leaks (the sanitizer run says so) and the daemon takes the
 * leases back with the session.
 */
static void test_pipeline_disconnect_with_tickets_outstanding(void **state)
{
	struct integ_acct a0, a1;
	struct kmem_client *c;
	char *text = NULL;

	(void)state;
	warm(OBJ);
	take_acct(0, &a0);
	c = connect_as("integ-forget", KMEM_CONNECT_NO_MAGAZINES);
	for (int i = 0; i < 3; i++)
		send_alloc(c, NULL, OBJ, BATCH);
	assert_int_equal(kmem_client_stats(c, false, &text), 0);
	free(text);
	for (int i = 0; i < 3; i++)
		send_alloc(c, NULL, OBJ, BATCH);
	kmem_client_disconnect(c);
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(0, &a1);
	assert_acct_equal(&a1, &a0);
}

/* ------------------------------------------------------------ model */

#define MODEL_TICKETS KMEM_PIPE_MAX
#define MODEL_MAXN 8

/* A ticket in flight, as the model sees it. */
struct mticket {
	uint64_t t;
	uint32_t count;		/* 0: a free */
	size_t freed;		/* a free: the leases it gives back */
};

/*
 * Random sends of both kinds (frees of leases already received), receives
 * of random outstanding tickets, and blocking calls in between, against a
 * model of the leases held and the tickets outstanding; the daemon's
 * lease count checked against the model throughout.
 */
static void test_pipeline_random_against_model(void **state)
{
	static struct kmem_buf held[MODEL_TICKETS * MODEL_MAXN * 4];
	struct mticket out[MODEL_TICKETS];
	uint64_t seed = tu_seed(__func__), rs = seed, ops = tu_ops(3000);
	size_t nheld = 0, nout = 0, pending = 0;
	struct integ_acct a0, a1;
	struct kmem_client *c;

	(void)state;
	warm(OBJ);
	take_acct(0, &a0);
	c = connect_as("integ-model", KMEM_CONNECT_NO_MAGAZINES);
	a0.sessions++;
	for (uint64_t op = 0; op < ops; op++) {
		uint64_t k = tu_below(&rs, 100);

		if (k < 35 && nout < MODEL_TICKETS &&
		    nheld + pending + MODEL_MAXN <= sizeof(held) / sizeof(held[0])) {
			uint32_t n = 1 + (uint32_t)tu_below(&rs, MODEL_MAXN);

			out[nout++] = (struct mticket){ send_alloc(c, NULL, OBJ, n), n, 0 };
			pending += n;
		} else if (k < 60 && nout < MODEL_TICKETS && nheld) {
			size_t n = 1 + tu_below(&rs, nheld < MODEL_MAXN ? nheld : MODEL_MAXN);

			/* The last n held go; they are not held any more. */
			nheld -= n;
			out[nout++] = (struct mticket){ send_free(c, held + nheld, n), 0, n };
		} else if (k < 95 && nout) {
			size_t i = tu_below(&rs, nout);

			if (out[i].count) {
				recv_alloc(c, out[i].t, held + nheld, out[i].count);
				for (uint32_t j = 0; j < out[i].count; j++)
					fill(&held[nheld + j]);
				nheld += out[i].count;
				pending -= out[i].count;
			} else {
				recv_free(c, out[i].t);
			}
			out[i] = out[--nout];
		} else {
			/* Once this round trip is answered the daemon has done
			 * every request sent before it: it holds the leases
			 * received and those of the AllocBatch in flight. */
			assert_int_equal(kmem_client_ping(c, 8), 0);
			take_acct(0, &a1);
			assert_acct_plus(&a1, &a0, nheld + pending, OBJ);
		}
	}
	while (nout) {
		if (out[nout - 1].count) {
			recv_alloc(c, out[nout - 1].t, held + nheld, out[nout - 1].count);
			for (uint32_t j = 0; j < out[nout - 1].count; j++)
				fill(&held[nheld + j]);
			nheld += out[nout - 1].count;
		} else {
			recv_free(c, out[nout - 1].t);
		}
		nout--;
	}
	take_acct(0, &a1);
	assert_acct_plus(&a1, &a0, nheld, OBJ);
	for (size_t i = 0; i < nheld; i++)
		if (!intact(&held[i]))
			fail_msg("seed %llu: lease %llu overwritten",
				 (unsigned long long)seed,
				 (unsigned long long)held[i].id);
	while (nheld) {
		size_t n = nheld < BATCH ? nheld : BATCH;

		nheld -= n;
		recv_free(c, send_free(c, held + nheld, n));
	}
	take_acct(0, &a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(c);
	a0.sessions--;
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipeline_eight_batches_in_flight),
		cmocka_unit_test(test_pipeline_ticket_misuse),
		cmocka_unit_test(test_pipeline_one_batch_fails_for_want_of_memory),
		cmocka_unit_test(test_pipeline_blocking_calls_between_send_and_receive),
		cmocka_unit_test(test_pipeline_with_magazines),
		cmocka_unit_test(test_pipeline_threads_share_a_connection),
		cmocka_unit_test(test_pipeline_disconnect_with_tickets_outstanding),
		cmocka_unit_test(test_pipeline_random_against_model),
		cmocka_unit_test(test_pipeline_sends_read_replies_nobody_reads),
		cmocka_unit_test(test_pipeline_daemon_killed_fails_every_ticket),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
