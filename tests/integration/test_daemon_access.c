/*
 * test_daemon_access.c - the real kmemd's access control and quotas, seen
 * by a forked child that dropped to uid/gid 65534 (nobody).
 *
 * Pools, in the daemon's order (all on the explicit 4 KiB fallback: a
 * quota of 1 MiB is finer than a 2 MiB hugepage, and nothing here needs
 * physical contiguity):
 *   0 open   8 MiB, anyone
 *   1 quota  8 MiB, anyone, 1 MiB per uid (root is exempt)
 *   2 priv   8 MiB, uid 0 only
 *   3 late   8 MiB, anyone - after priv, so nobody sees it at index 2
 * Every test needs root (setuid in the child) and skips without it.
 */
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

#define NOBODY 65534
#define KIB 1024u
#define MIB (1024u * 1024u)
#define BUF (64 * KIB)

enum { P_OPEN, P_QUOTA, P_PRIV, P_LATE, NPOOLS };
static const char *const pool_names[NPOOLS] = { "open", "quota", "priv", "late" };

static struct {
	struct integ_daemon d;
	struct kmem_client *obs;
	struct integ_acct base[NPOOLS];
} F;

/*
 * A slab cache keeps one empty slab when its last object goes.  Taking and
 * giving back one object of each kmalloc class the tests use puts those
 * caches in that steady state before the baseline is read, so the pool's
 * free bytes after a test compare with it to the byte.
 */
static int warm_quota_pool(void)
{
	static const uint64_t sizes[] = { 100, 4096, 5000 };
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_buf b;

	o.pool = "quota";
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (kmem_client_alloc(F.obs, sizes[i], &o, &b) ||
		    kmem_client_free(F.obs, &b))
			return -1;
	return 0;
}

static int group_setup(void **state)
{
	char specs[NPOOLS][160], msg[KMEM_MSG_MAX];
	const char *args[2 * NPOOLS + 1];

	(void)state;
	/* Every test runs a child as nobody: without root, all skip. */
	if (geteuid() != 0)
		return 0;
	integ_pool_spec_4k(specs[P_OPEN], sizeof(specs[0]), "open", 8, NULL);
	integ_pool_spec_4k(specs[P_QUOTA], sizeof(specs[0]), "quota", 8, "quota=1M");
	integ_pool_spec_4k(specs[P_PRIV], sizeof(specs[0]), "priv", 8, "uids=0");
	integ_pool_spec_4k(specs[P_LATE], sizeof(specs[0]), "late", 8, NULL);
	for (int i = 0; i < NPOOLS; i++) {
		args[2 * i] = "--pool";
		args[2 * i + 1] = specs[i];
	}
	args[2 * NPOOLS] = NULL;
	if (integ_daemon_start(&F.d, args))
		return -1;
	if (kmem_client_connect(F.d.sock, "integ-observer", &F.obs, msg,
				sizeof(msg))) {
		printf("observer: %s\n", msg);
		return -1;
	}
	if (integ_wait_sessions(F.obs, 1, 5000) || warm_quota_pool())
		return -1;
	for (int i = 0; i < NPOOLS; i++)
		if (integ_acct(F.obs, (size_t)i, &F.base[i]))
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	kmem_client_disconnect(F.obs);
	F.obs = NULL;
	integ_daemon_cleanup(&F.d);
	return 0;
}

static void need_root(void)
{
	if (geteuid() != 0) {
		printf("skipped: needs root (a child running as uid %d; root's "
		       "quota exemption)\n", NOBODY);
		skip();
	}
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

/* Every pool exactly as in a0 (all pools when a0 is F.base). */
static void assert_all_back_to(const struct integ_acct *a0)
{
	assert_int_equal(integ_wait_sessions(F.obs, a0[0].sessions, 5000), 0);
	for (int i = 0; i < NPOOLS; i++) {
		struct integ_acct a1;

		assert_int_equal(integ_acct(F.obs, (size_t)i, &a1), 0);
		assert_acct_equal(&a1, &a0[i]);
	}
}

static void take_all(struct integ_acct *a)
{
	for (int i = 0; i < NPOOLS; i++)
		assert_int_equal(integ_acct(F.obs, (size_t)i, &a[i]), 0);
}

/* Run fn as nobody and require its "ok". */
static void run_as_nobody(void (*fn)(void *), void *arg)
{
	struct integ_child ch;
	char msg[512];
	int st;

	assert_int_equal(integ_child_start(&ch, NOBODY, NOBODY, fn, arg), 0);
	st = integ_child_finish(&ch, msg, sizeof(msg), 10000);
	assert_string_equal(msg, "ok");
	assert_int_equal(st, 0);
}

static struct kmem_client *child_connect(const char *name)
{
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];
	int rc = kmem_client_connect(F.d.sock, name, &c, msg, sizeof(msg));

	if (rc)
		integ_child_fail(__FILE__, __LINE__, "connect: %s", msg);
	return c;
}

/* In a child: a pool's accounting, read through c. */
static void child_acct(struct kmem_client *c, size_t pool, struct integ_acct *a)
{
	CHILD_EQ(integ_acct(c, pool, a), 0);
}

#define CHILD_ACCT_EQ(a, b) do { \
	CHILD_EQ((a).bytes_free, (b).bytes_free); \
	CHILD_EQ((a).pool_leases, (b).pool_leases); \
	CHILD_EQ((a).bytes_leased, (b).bytes_leased); } while (0)

/* ------------------------------------------------------------ hello */

static void nobody_hello(void *p)
{
	static const char *const want[3] = { "open", "quota", "late" };
	struct kmem_pool_info info;
	struct kmem_client *c;
	struct integ_raw r;
	Kmem__Response *resp;

	(void)p;
	CHILD_EQ(integ_raw_connect(&r, F.d.sock), 0);
	resp = integ_raw_hello(&r, 1);
	CHILD_CHECK(resp != NULL);
	CHILD_EQ(resp->status, KMEM__STATUS__STATUS_OK);
	CHILD_EQ(resp->hello->n_pools, 3);
	CHILD_EQ(r.nfds, 3);
	for (size_t i = 0; i < 3; i++) {
		CHILD_STREQ(resp->hello->pools[i]->name, want[i]);
		CHILD_EQ(resp->hello->pools[i]->fd_index, i);
	}
	kmem_frame_free_response(resp, NULL);
	integ_raw_close(&r);

	c = child_connect("integ-nobody-hello");
	CHILD_EQ(kmem_client_npools(c), 3);
	for (size_t i = 0; i < 3; i++) {
		CHILD_EQ(kmem_client_pool_info(c, i, &info), 0);
		CHILD_STREQ(info.name, want[i]);
	}
	kmem_client_disconnect(c);
}

static void test_daemon_hello_lists_only_allowed_pools(void **state)
{
	struct integ_raw r;
	Kmem__Response *resp;

	(void)state;
	need_root();
	/* Root sees every pool, with one fd each. */
	assert_int_equal(integ_raw_connect(&r, F.d.sock), 0);
	resp = integ_raw_hello(&r, 1);
	assert_non_null(resp);
	assert_int_equal(resp->status, KMEM__STATUS__STATUS_OK);
	assert_int_equal(resp->hello->n_pools, NPOOLS);
	assert_int_equal(r.nfds, NPOOLS);
	for (size_t i = 0; i < NPOOLS; i++) {
		assert_string_equal(resp->hello->pools[i]->name, pool_names[i]);
		assert_int_equal(resp->hello->pools[i]->fd_index, i);
		assert_int_equal(resp->hello->pools[i]->size, 8 * MIB);
	}
	kmem_frame_free_response(resp, NULL);
	integ_raw_close(&r);
	run_as_nobody(nobody_hello, NULL);
	assert_all_back_to(F.base);
}

/* ------------------------------------------------------------ denied */

struct denied_arg {
	uint64_t root_lease;		/* root's session lease in priv */
	uint64_t root_named;		/* root's named buffer in open */
};

static void nobody_denied(void *p)
{
	const struct denied_arg *a = p;
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct integ_acct before[NPOOLS], after;
	struct kmem_client *c;
	struct kmem_buf b, bb[2];
	char want[128];

	c = child_connect("integ-nobody-denied");
	for (size_t i = 0; i < NPOOLS; i++)
		child_acct(c, i, &before[i]);

	o.pool = "priv";
	CHILD_EQ(kmem_client_alloc(c, BUF, &o, &b), KMEM_EPERM);
	CHILD_STREQ(kmem_client_error(c), "uid 65534 may not use pool 'priv'");
	CHILD_EQ(kmem_client_alloc_batch(c, "priv", BUF, 0, 2, bb), KMEM_EPERM);
	CHILD_EQ(kmem_client_cache_create(c, "priv", "integ-nobody-cache", 64, 0,
					  NULL), KMEM_EPERM);
	CHILD_EQ(kmem_client_cache_alloc(c, "integ-priv-cache", 1, bb), KMEM_EPERM);
	CHILD_STREQ(kmem_client_error(c), "the cache's pool is not open to this uid");
	CHILD_EQ(kmem_client_cache_destroy(c, "integ-priv-cache"), KMEM_EPERM);

	CHILD_EQ(kmem_client_free_id(c, a->root_lease), KMEM_EPERM);
	snprintf(want, sizeof(want), "lease %llu belongs to another session",
		 (unsigned long long)a->root_lease);
	CHILD_STREQ(kmem_client_error(c), want);
	CHILD_EQ(kmem_client_free_id(c, a->root_named), KMEM_EPERM);
	snprintf(want, sizeof(want), "lease %llu belongs to another user",
		 (unsigned long long)a->root_named);
	CHILD_STREQ(kmem_client_error(c), want);
	CHILD_EQ(kmem_client_lookup(c, "integ-root-named", &b), KMEM_EPERM);
	CHILD_STREQ(kmem_client_error(c), "buffer 'integ-root-named' belongs to uid 0");
	CHILD_EQ(kmem_client_lookup(c, "integ-root-priv", &b), KMEM_EPERM);
	b.id = a->root_named;
	CHILD_EQ(kmem_client_detach(c, &b), KMEM_ENOENT);

	for (size_t i = 0; i < NPOOLS; i++) {
		child_acct(c, i, &after);
		CHILD_ACCT_EQ(after, before[i]);
	}
	kmem_client_disconnect(c);
}

static void test_daemon_pool_denied_for_uid_not_allowed(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct integ_acct a0[NPOOLS];
	struct denied_arg arg;
	struct kmem_client *c;
	struct kmem_buf l, n1, n2;

	(void)state;
	need_root();
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-root", &c, NULL, 0), 0);
	o.pool = "priv";
	assert_int_equal(kmem_client_alloc(c, BUF, &o, &l), 0);
	o.pool = "open";
	o.name = "integ-root-named";
	o.persist = true;
	assert_int_equal(kmem_client_alloc(c, BUF, &o, &n1), 0);
	o.pool = "priv";
	o.name = "integ-root-priv";
	assert_int_equal(kmem_client_alloc(c, BUF, &o, &n2), 0);
	assert_int_equal(kmem_client_cache_create(c, "priv", "integ-priv-cache", 64,
						  0, NULL), 0);
	take_all(a0);

	arg = (struct denied_arg){ l.id, n1.id };
	run_as_nobody(nobody_denied, &arg);
	assert_all_back_to(a0);

	assert_int_equal(kmem_client_free(c, &l), 0);
	assert_int_equal(kmem_client_free(c, &n1), 0);
	assert_int_equal(kmem_client_free(c, &n2), 0);
	assert_int_equal(kmem_client_cache_destroy(c, "integ-priv-cache"), 0);
	kmem_client_disconnect(c);
	assert_all_back_to(F.base);
}

/* ------------------------------------------------------------ pool index */

/*
 * A Lease names its pool by index in the client's own HelloReply.pools
 * (kmem.proto, Lease.pool_index).  Nobody's list is open, quota, late, so
 * a lease in "late" must say 2 - not 3, the daemon's own index.
 */
static void nobody_late(void *p)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_pool_info info;
	struct kmem_client *c;
	struct integ_raw r;
	struct kmem_buf b;
	Kmem__Request q;
	Kmem__Alloc a;
	Kmem__Response *resp;
	uint64_t off;
	char go;
	int rc;

	(void)p;
	/* What a libkmem user sees... */
	c = child_connect("integ-nobody-late");
	o.pool = "late";
	rc = kmem_client_alloc(c, BUF, &o, &b);
	if (rc)
		integ_child_fail(__FILE__, __LINE__, "libkmem alloc in 'late': %s: %s",
				 kmem_errname(rc), kmem_client_error(c));
	CHILD_EQ(b.pool, 2);
	CHILD_EQ(kmem_client_pool_info(c, 2, &info), 0);
	CHILD_STREQ(info.name, "late");
	CHILD_CHECK((uint8_t *)b.ptr == (uint8_t *)info.base + b.offset);
	memset(b.ptr, 0x3c, BUF);
	off = b.offset;
	integ_in_child_send(&off, sizeof(off));
	integ_in_child_recv(&go, 1);
	CHILD_EQ(kmem_client_free(c, &b), 0);
	kmem_client_disconnect(c);

	/* ...and on the wire. */
	CHILD_EQ(integ_raw_connect(&r, F.d.sock), 0);
	resp = integ_raw_hello(&r, 1);
	CHILD_CHECK(resp && resp->status == KMEM__STATUS__STATUS_OK);
	kmem_frame_free_response(resp, NULL);
	integ_req_alloc(&q, &a, 2, "late", BUF, 0, 0);
	CHILD_EQ(integ_raw_send(&r, &q), 0);
	resp = integ_raw_recv(&r, 5000);
	CHILD_CHECK(resp && resp->status == KMEM__STATUS__STATUS_OK);
	CHILD_EQ(resp->lease->pool_index, 2);
	kmem_frame_free_response(resp, NULL);
	integ_raw_close(&r);
}

/* pool_index in replies is the index in the client's own Hello reply
 * (which lists only the pools it may use), not the daemon's. */
static void test_daemon_lease_pool_index_is_the_hello_index(void **state)
{
	struct kmem_pool_info info;
	struct integ_child ch;
	uint64_t off = UINT64_MAX;
	char msg[512];
	int st;

	(void)state;
	need_root();
	assert_int_equal(integ_child_start(&ch, NOBODY, NOBODY, nobody_late, NULL), 0);
	if (integ_child_read(&ch, &off, sizeof(off), 10000) == 0) {
		/* Root's mapping of "late" (its index 3) holds nobody's bytes. */
		assert_int_equal(kmem_client_pool_info(F.obs, P_LATE, &info), 0);
		assert_string_equal(info.name, "late");
		for (size_t i = 0; i < BUF; i++)
			assert_int_equal(((uint8_t *)info.base)[off + i], 0x3c);
		assert_int_equal(integ_child_write(&ch, "g", 1), 0);
	}
	st = integ_child_finish(&ch, msg, sizeof(msg), 10000);
	assert_string_equal(msg, "ok");
	assert_int_equal(st, 0);
	assert_all_back_to(F.base);
}

/* ------------------------------------------------------------ quotas */

static void nobody_quota(void *p)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct integ_acct full, now;
	struct kmem_client *c, *c2;
	struct kmem_buf half[2], b, bb[8];
	uint64_t ids[8];

	(void)p;
	c = child_connect("integ-nobody-quota");
	o.pool = "quota";
	CHILD_EQ(kmem_client_alloc(c, 512 * KIB, &o, &half[0]), 0);
	CHILD_EQ(kmem_client_alloc(c, 512 * KIB, &o, &half[1]), 0);
	CHILD_EQ(half[0].len + half[1].len, MIB);
	child_acct(c, P_QUOTA, &full);

	/* At the quota exactly: any more is refused, and nothing moves. */
	CHILD_EQ(kmem_client_alloc(c, BUF, &o, &b), KMEM_EQUOTA);
	CHILD_STREQ(kmem_client_error(c), "uid 65534 holds 1048576 bytes in pool "
		    "'quota'; 65536 more exceeds its quota of 1048576");
	CHILD_EQ(kmem_client_alloc(c, 1, &o, &b), KMEM_EQUOTA);
	CHILD_EQ(kmem_client_alloc_batch(c, "quota", BUF, 0, 2, bb), KMEM_EQUOTA);
	CHILD_STREQ(kmem_client_error(c), "2 x 65536 bytes exceeds uid 65534's "
		    "quota in pool 'quota'");
	o.timeout_ms = 100;	/* waiting does not help against a quota */
	CHILD_EQ(kmem_client_alloc(c, BUF, &o, &b), KMEM_EQUOTA);
	o.timeout_ms = 0;
	child_acct(c, P_QUOTA, &now);
	CHILD_ACCT_EQ(now, full);

	/* The quota is per uid, not per session. */
	c2 = child_connect("integ-nobody-quota-2");
	CHILD_EQ(kmem_client_alloc(c2, BUF, &o, &b), KMEM_EQUOTA);
	CHILD_EQ(kmem_client_free(c, &half[1]), 0);
	CHILD_EQ(kmem_client_alloc_batch(c2, "quota", BUF, 0, 8, bb), 0);
	CHILD_EQ(kmem_client_alloc(c, BUF, &o, &b), KMEM_EQUOTA);
	/* Freed bytes count again at once. */
	for (int i = 0; i < 8; i++)
		ids[i] = bb[i].id;
	CHILD_EQ(kmem_client_free_batch(c2, ids, 8), 0);
	CHILD_EQ(kmem_client_alloc(c2, 512 * KIB, &o, &b), 0);
	CHILD_EQ(kmem_client_free(c2, &b), 0);
	CHILD_EQ(kmem_client_free(c, &half[0]), 0);
	kmem_client_disconnect(c2);
	kmem_client_disconnect(c);
}

static void test_daemon_quota_exceeded_allocates_nothing(void **state)
{
	(void)state;
	need_root();
	run_as_nobody(nobody_quota, NULL);
	assert_all_back_to(F.base);
}

/*
 * A quota bounds the bytes a uid holds, and a lease holds its rounded
 * length (a 5000-byte request is a kmalloc-8192 object; a buffer is whole
 * pages), which is what the daemon charges.  Checks and messages must use
 * that same figure.
 */
static void nobody_quota_batch_rounding(void *p)
{
	struct integ_acct before, after;
	struct kmem_client *c;
	struct kmem_buf *bb = calloc(200, sizeof(*bb));
	int rc;

	(void)p;
	CHILD_CHECK(bb != NULL);
	c = child_connect("integ-nobody-round");
	/* 200 x 5000 = 1,000,000 asked, 200 x 8192 = 1,638,400 held. */
	child_acct(c, P_QUOTA, &before);
	rc = kmem_client_alloc_batch(c, "quota", 5000, 0, 200, bb);
	if (rc == 0)
		integ_child_fail(__FILE__, __LINE__, "AllocBatch 200 x 5000 in a "
				 "1 MiB quota succeeded: uid 65534 now holds 200 x "
				 "%llu bytes", (unsigned long long)bb[0].len);
	CHILD_EQ(rc, KMEM_EQUOTA);
	child_acct(c, P_QUOTA, &after);
	CHILD_ACCT_EQ(after, before);
	free(bb);
	kmem_client_disconnect(c);
}

/* A batch is charged (and checked) at its leases' rounded lengths. */
static void test_daemon_quota_batch_counts_rounded_lengths(void **state)
{
	(void)state;
	need_root();
	run_as_nobody(nobody_quota_batch_rounding, NULL);
	assert_all_back_to(F.base);
}

static void nobody_quota_single_rounding(void *p)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct integ_acct before, after;
	struct kmem_client *c;
	struct kmem_buf small, b;
	char msg[KMEM_MSG_MAX];

	(void)p;
	c = child_connect("integ-nobody-round1");
	o.pool = "quota";
	/* 100 bytes hold a 128-byte object; 1,048,348 more pass the first
	 * check (1,048,476 <= 1 MiB) but are 256 whole pages: 1,048,704. */
	CHILD_EQ(kmem_client_alloc(c, 100, &o, &small), 0);
	CHILD_EQ(small.len, 128);
	child_acct(c, P_QUOTA, &before);
	CHILD_EQ(kmem_client_alloc(c, MIB - 128 - 100, &o, &b), KMEM_EQUOTA);
	snprintf(msg, sizeof(msg), "%s", kmem_client_error(c));
	child_acct(c, P_QUOTA, &after);
	CHILD_ACCT_EQ(after, before);
	/* The sentence names the rounded figure that broke the quota. */
	CHILD_STREQ(msg, "uid 65534 would hold 1048704 bytes in pool 'quota'; "
		    "its quota is 1048576");
	CHILD_EQ(kmem_client_free(c, &small), 0);
	kmem_client_disconnect(c);
}

/* The refusal names what the uid would really have held. */
static void test_daemon_quota_refusal_names_rounded_bytes(void **state)
{
	(void)state;
	need_root();
	run_as_nobody(nobody_quota_single_rounding, NULL);
	assert_all_back_to(F.base);
}

static void test_daemon_quota_root_exempt(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_client *c;
	struct kmem_buf b[3];

	(void)state;
	need_root();
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-root-quota", &c,
					     NULL, 0), 0);
	o.pool = "quota";
	/* 5 MiB in a pool with a 1 MiB quota: pools.c exempts uid 0. */
	assert_int_equal(kmem_client_alloc(c, 2 * MIB, &o, &b[0]), 0);
	assert_int_equal(kmem_client_alloc(c, 2 * MIB, &o, &b[1]), 0);
	assert_int_equal(kmem_client_alloc(c, MIB, &o, &b[2]), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kmem_client_free(c, &b[i]), 0);
	kmem_client_disconnect(c);
	assert_all_back_to(F.base);
}

static void test_daemon_sigterm_exits_cleanly(void **state)
{
	struct stat sb;
	int st;

	(void)state;
	need_root();
	st = integ_daemon_stop(&F.d);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("kmemd wait status 0x%x\n", st);
		integ_daemon_dump_log(&F.d);
	}
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(stat(F.d.sock, &sb), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_hello_lists_only_allowed_pools),
		cmocka_unit_test(test_daemon_pool_denied_for_uid_not_allowed),
		cmocka_unit_test(test_daemon_lease_pool_index_is_the_hello_index),
		cmocka_unit_test(test_daemon_quota_exceeded_allocates_nothing),
		cmocka_unit_test(test_daemon_quota_batch_counts_rounded_lengths),
		cmocka_unit_test(test_daemon_quota_refusal_names_rounded_bytes),
		cmocka_unit_test(test_daemon_quota_root_exempt),
		/* Last: it stops the daemon. */
		cmocka_unit_test(test_daemon_sigterm_exits_cleanly),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
