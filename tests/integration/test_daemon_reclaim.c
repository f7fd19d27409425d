/*
 * test_daemon_reclaim.c - a session that ends holding many leases is
 * reclaimed a slice per loop turn (daemon/leases.c), and nothing of it is
 * lost: every lease comes back (pool bytes and lease counts exact), other
 * clients are answered between slices, an allocation blocked on memory
 * the ended session held is served as the slices free it, a Verify in the
 * middle finds a consistent daemon, and a daemon told to stop during a
 * reclaim finishes it and exits cleanly.  A session with few leases is
 * still freed at once.
 *
 * Timing is the benchmarks' business (bench_scaling's close part): here
 * the assertions are structural - the daemon's own counters
 * (daemon.reclaim_slices, .leases_reclaiming, .sessions_reclaimed) and
 * what a client saw while the reclaim ran.
 *
 * Pools (4 KiB pages: nothing here needs hugepages):
 *   0 big    48 MiB: HOLD leases of 64 bytes
 *   1 small   8 MiB: filled with 1 KiB objects, then a blocked 256 KiB
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "harness.h"

#define HOLD 100000		/* leases of the ended session */
#define SLICE 2048		/* REAP_INLINE: freed at once, up to this many */
#define REAP_SLICE 16384	/* freed per loop turn, at most */
#define BATCH 16384		/* the daemon's AllocBatch limit */

static struct {
	struct integ_daemon d;
	struct kmem_client *obs;
	char big[160], small[160];
} F;

static struct kmem_buf bufs[BATCH];

static int start(struct integ_daemon *d)
{
	const char *args[] = { "--pool", F.big, "--pool", F.small, NULL };

	return integ_daemon_start(d, args);
}

static int group_setup(void **state)
{
	char msg[KMEM_MSG_MAX];

	(void)state;
	integ_pool_spec_4k(F.big, sizeof(F.big), "big", 48, NULL);
	integ_pool_spec_4k(F.small, sizeof(F.small), "small", 8, NULL);
	if (start(&F.d))
		return -1;
	if (kmem_client_connect(F.d.sock, "integ-observer", &F.obs, msg,
				sizeof(msg))) {
		printf("observer: %s\n", msg);
		return -1;
	}
	return integ_wait_sessions(F.obs, 1, 5000);
}

static int group_teardown(void **state)
{
	(void)state;
	kmem_client_disconnect(F.obs);
	F.obs = NULL;
	integ_daemon_cleanup(&F.d);
	return 0;
}

/* Every call a request: the counts below are the daemon's leases. */
static struct kmem_client *connect_to(const char *sock, const char *name)
{
	struct kmem_connect_opts o = { .flags = KMEM_CONNECT_NO_MAGAZINES };
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];

	if (kmem_client_connect_opts(sock, name, &o, &c, msg, sizeof(msg)))
		fail_msg("connect %s: %s", name, msg);
	return c;
}

/* n leases of size bytes in pool, in batches. */
static void hold(struct kmem_client *c, const char *pool, uint64_t size,
		 uint64_t n)
{
	while (n) {
		uint32_t k = n > BATCH ? BATCH : (uint32_t)n;
		int rc = kmem_client_alloc_batch(c, pool, size, 0, k, bufs);

		if (rc)
			fail_msg("AllocBatch of %u x %llu: %s: %s", k,
				 (unsigned long long)size, kmem_strerror(rc),
				 kmem_client_error(c));
		n -= k;
	}
}

static uint64_t stat_u64(const char *path)
{
	json_t *doc = integ_stats(F.obs);
	uint64_t v = 0;

	assert_non_null(doc);
	if (integ_json_u64(doc, path, &v))
		fail_msg("no number at %s", path);
	json_decref(doc);
	return v;
}

/* The number after "\n<name> " in a Prometheus text, or -1. */
static double prom_value(const char *text, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = text; (p = strstr(p, name)); p += len)
		if ((p == text || p[-1] == '\n') && p[len] == ' ')
			return strtod(p + len + 1, NULL);
	return -1;
}

/* Until the sessions are n and nothing is left to reclaim. */
static void wait_reclaimed(uint64_t sessions)
{
	uint64_t end = integ_now_ms() + 20000;

	assert_int_equal(integ_wait_sessions(F.obs, sessions, 10000), 0);
	while (stat_u64("daemon/leases_reclaiming")) {
		if (integ_now_ms() > end)
			fail_msg("leases still being reclaimed after 20 s");
		integ_sleep_ms(2);
	}
}

static void assert_acct_equal(const struct integ_acct *a, const struct integ_acct *b)
{
	assert_int_equal(a->bytes_free, b->bytes_free);
	assert_int_equal(a->bytes_leased, b->bytes_leased);
	assert_int_equal(a->pool_leases, b->pool_leases);
	assert_int_equal(a->leases, b->leases);
	assert_int_equal(a->sessions, b->sessions);
	assert_int_equal(a->named, b->named);
}

/* Fill pool small with 1 KiB objects, halving the batch when it no
 * longer fits.  Returns how many. */
static uint64_t fill_small(struct kmem_client *c)
{
	uint64_t n = 0;

	for (uint32_t k = 1024; k; ) {
		if (kmem_client_alloc_batch(c, "small", 1024, 0, k, bufs) == 0)
			n += k;
		else
			k /= 2;
	}
	return n;
}

/* Take and give back what the test will (n leases of size bytes, or with
 * n 0 all of pool small), so that the size class's slabs exist in the
 * baseline as they will afterwards. */
static void warm(const char *pool, uint64_t size, uint64_t n)
{
	struct kmem_client *c = connect_to(F.d.sock, "integ-warm");

	if (n)
		hold(c, pool, size, n);
	else
		fill_small(c);
	kmem_client_disconnect(c);
	wait_reclaimed(1);
}

/* ------------------------------------------------------------ pinger */

/* Another client asking for the (Prometheus) stats without pause. */
struct pinger {
	struct kmem_client *c;
	volatile bool stop;
	uint64_t replies, during;	/* replies; of them, mid-reclaim */
	double seen[2];			/* the first two mid-reclaim values */
	uint64_t worst_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *pinger_run(void *arg)
{
	struct pinger *p = arg;

	while (!p->stop) {
		uint64_t t0 = now_ns(), ns;
		char *text = NULL;
		double v;

		if (kmem_client_stats(p->c, true, &text))
			break;
		ns = now_ns() - t0;
		v = prom_value(text, "kmemd_leases_reclaiming");
		free(text);
		p->replies++;
		if (v > 0) {
			if (p->during < 2)
				p->seen[p->during] = v;
			p->during++;
		}
		if (ns > p->worst_ns)
			p->worst_ns = ns;
	}
	return NULL;
}

/* ------------------------------------------------------------ tests */

/*
 * HOLD leases go with their session while another client asks for the
 * stats in a loop: more than one slice ran, the other client was answered
 * while leases were still being reclaimed, and everything came back.  The
 * other client may not get the CPU during a reclaim on a busy machine, so
 * the scene is played up to three times for that one observation.
 */
static void test_reclaim_in_slices_serves_others(void **state)
{
	struct integ_acct a0, a1;
	bool seen = false;

	(void)state;
	warm("big", 64, HOLD);
	for (int attempt = 0; attempt < 3 && !seen; attempt++) {
		uint64_t slices0, sessions0, reclaimed0, slices, took;
		struct pinger p = { .c = connect_to(F.d.sock, "integ-pinger") };
		struct kmem_client *h;
		pthread_t t;

		assert_int_equal(integ_wait_sessions(F.obs, 2, 5000), 0);
		assert_int_equal(integ_acct(F.obs, 0, &a0), 0);
		slices0 = stat_u64("daemon/reclaim_slices");
		sessions0 = stat_u64("daemon/sessions_reclaimed");
		reclaimed0 = stat_u64("daemon/leases_reclaimed");
		h = connect_to(F.d.sock, "integ-holder");
		hold(h, "big", 64, HOLD);
		assert_int_equal(integ_acct(F.obs, 0, &a1), 0);
		assert_int_equal(a1.pool_leases, a0.pool_leases + HOLD);
		assert_int_equal(a1.leases, a0.leases + HOLD);
		assert_true(a1.bytes_free < a0.bytes_free);

		assert_int_equal(pthread_create(&t, NULL, pinger_run, &p), 0);
		integ_sleep_ms(20);
		took = integ_now_ms();
		kmem_client_disconnect(h);
		wait_reclaimed(2);
		took = integ_now_ms() - took;
		p.stop = true;
		assert_int_equal(pthread_join(t, NULL), 0);

		/* Everything came back, counted as reclaimed, in slices. */
		assert_int_equal(integ_acct(F.obs, 0, &a1), 0);
		assert_acct_equal(&a1, &a0);
		assert_int_equal(stat_u64("daemon/leases_reclaimed"), reclaimed0 + HOLD);
		assert_int_equal(stat_u64("daemon/sessions_reclaimed"), sessions0 + 1);
		slices = stat_u64("daemon/reclaim_slices") - slices0;
		assert_true(slices >= (HOLD + REAP_SLICE - 1) / REAP_SLICE);
		printf("attempt %d: %llu slices in %llu ms; the other client got %llu "
		       "replies, %llu of them mid-reclaim (%.0f, %.0f leases left), "
		       "its longest took %.2f ms\n", attempt,
		       (unsigned long long)slices, (unsigned long long)took,
		       (unsigned long long)p.replies, (unsigned long long)p.during,
		       p.seen[0], p.seen[1], (double)p.worst_ns / 1e6);
		/* A reply mid-reclaim came between two slices: the daemon
		 * answered someone else before it had finished. */
		if (p.during) {
			assert_true(p.seen[0] > 0 && p.seen[0] < HOLD);
			seen = true;
		}
		kmem_client_disconnect(p.c);
		assert_int_equal(integ_wait_sessions(F.obs, 1, 5000), 0);
	}
	assert_true(seen);
}

/* Up to a slice's worth: freed when the session ends, no reclaim. */
static void test_reclaim_small_session_freed_at_once(void **state)
{
	struct integ_acct a0, a1;
	struct kmem_client *h;
	uint64_t slices0, sessions0;

	(void)state;
	warm("big", 64, SLICE);
	assert_int_equal(integ_acct(F.obs, 0, &a0), 0);
	slices0 = stat_u64("daemon/reclaim_slices");
	sessions0 = stat_u64("daemon/sessions_reclaimed");
	h = connect_to(F.d.sock, "integ-small");
	hold(h, "big", 64, SLICE);
	kmem_client_disconnect(h);
	/* Gone from the sessions means its leases are gone too. */
	assert_int_equal(integ_wait_sessions(F.obs, 1, 5000), 0);
	assert_int_equal(integ_acct(F.obs, 0, &a1), 0);
	assert_acct_equal(&a1, &a0);
	assert_int_equal(stat_u64("daemon/reclaim_slices"), slices0);
	assert_int_equal(stat_u64("daemon/sessions_reclaimed"), sessions0);
}

struct blocked {
	struct kmem_client *c;
	struct kmem_buf b;
	int rc;
};

static void *blocked_alloc(void *arg)
{
	struct blocked *w = arg;
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;

	o.pool = "small";
	o.timeout_ms = 20000;
	w->rc = kmem_client_alloc(w->c, 256 << 10, &o, &w->b);
	return NULL;
}

/* A session holding all of pool small ends; an allocation waiting for
 * memory there is served while its leases are reclaimed. */
static void test_reclaim_wakes_blocked_allocation(void **state)
{
	struct kmem_client *h, *waiter;
	struct blocked w = { 0 };
	struct integ_acct a0, a1;
	uint64_t n;
	pthread_t t;

	(void)state;
	warm("small", 1024, 0);
	assert_int_equal(integ_acct(F.obs, 1, &a0), 0);
	h = connect_to(F.d.sock, "integ-filler");
	n = fill_small(h);
	assert_true(n > SLICE);
	waiter = connect_to(F.d.sock, "integ-waiter");
	w.c = waiter;
	assert_int_equal(pthread_create(&t, NULL, blocked_alloc, &w), 0);
	assert_int_equal(integ_wait_waiting(F.obs, "integ-waiter", 1, 5000), 0);
	kmem_client_disconnect(h);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(w.rc, 0);
	assert_true(w.b.len >= 256 << 10);
	assert_int_equal(kmem_client_free(waiter, &w.b), 0);
	kmem_client_disconnect(waiter);
	wait_reclaimed(1);
	assert_int_equal(integ_acct(F.obs, 1, &a1), 0);
	assert_acct_equal(&a1, &a0);
	printf("%llu leases of 1 KiB reclaimed; the blocked 256 KiB was served\n",
	       (unsigned long long)n);
}

/* Verify right after a big session ended: the reclaim is finished first,
 * and the daemon is consistent. */
static void test_reclaim_then_verify(void **state)
{
	struct integ_acct a0, a1;
	struct kmem_client *h;
	struct kmem_verify v;

	(void)state;
	warm("big", 64, HOLD);
	assert_int_equal(integ_acct(F.obs, 0, &a0), 0);
	h = connect_to(F.d.sock, "integ-holder");
	hold(h, "big", 64, HOLD);
	kmem_client_disconnect(h);
	assert_int_equal(integ_wait_sessions(F.obs, 1, 5000), 0);
	assert_int_equal(kmem_client_verify(F.obs, &v), 0);
	for (size_t i = 0; i < v.nproblems; i++)
		printf("verify: %s\n", v.problems[i]);
	assert_int_equal(v.nproblems, 0);
	assert_int_equal(v.leases, a0.leases);
	kmem_client_verify_release(&v);
	assert_int_equal(stat_u64("daemon/leases_reclaiming"), 0);
	assert_int_equal(integ_acct(F.obs, 0, &a1), 0);
	assert_acct_equal(&a1, &a0);
}

/* SIGTERM while a big session is being reclaimed: the daemon finishes
 * and exits cleanly (under `make valgrind`, without a leak). */
static void test_reclaim_then_shutdown(void **state)
{
	struct integ_daemon d = { .pid = 0 };
	struct kmem_client *h, *o;
	int st;

	(void)state;
	assert_int_equal(start(&d), 0);
	h = connect_to(d.sock, "integ-holder");
	o = connect_to(d.sock, "integ-observer");
	hold(h, "big", 64, HOLD);
	kmem_client_disconnect(h);
	assert_int_equal(integ_wait_sessions(o, 1, 5000), 0);
	kmem_client_disconnect(o);
	st = integ_daemon_stop(&d);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(integ_daemon_log_has(&d, "to reclaim, a slice per loop turn"));
	assert_true(integ_daemon_log_has(&d, "stopped"));
	integ_daemon_cleanup(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reclaim_in_slices_serves_others),
		cmocka_unit_test(test_reclaim_small_session_freed_at_once),
		cmocka_unit_test(test_reclaim_wakes_blocked_allocation),
		cmocka_unit_test(test_reclaim_then_verify),
		cmocka_unit_test(test_reclaim_then_shutdown),
	};

	return cmocka_run_group_tests_name("daemon_reclaim", tests, group_setup,
					   group_teardown);
}
