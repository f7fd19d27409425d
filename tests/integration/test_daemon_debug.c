/*
 * test_daemon_debug.c - the slab debugging aids of the real kmemd, from a
 * client's side: a write into a freed object of a poisoned pool (the
 * client still has the whole pool mapped) reported at the object's next
 * allocation; a one-byte overrun of a red-zoned kmalloc object reported at
 * its free; both logged with the lease, session and tag that held it;
 * Verify finding a live overrun; poisoning switched at run time, by root
 * only; and the per-lease listing of the Stats request.
 *
 * Pools (4 KiB pages: nothing here needs hugepages):
 *   0 dbg    8 MiB, debug=poison+redzone
 *   1 plain  8 MiB, no debugging until a test switches poison on
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "harness.h"
#include "raw.h"

#define NOBODY 65534

static struct {
	struct integ_daemon d;
	struct kmem_client *obs;
} F;

static int group_setup(void **state)
{
	char dbg[160], plain[160], msg[KMEM_MSG_MAX];
	const char *args[] = { "--pool", dbg, "--pool", plain, NULL };

	(void)state;
	integ_pool_spec_4k(dbg, sizeof(dbg), "dbg", 8, "debug=poison+redzone");
	integ_pool_spec_4k(plain, sizeof(plain), "plain", 8, NULL);
	if (integ_daemon_start(&F.d, args))
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

static struct kmem_client *connect_as(const char *name)
{
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];

	if (kmem_client_connect(F.d.sock, name, &c, msg, sizeof(msg)))
		fail_msg("connect %s: %s", name, msg);
	return c;
}

/* A number at path in a fresh stats document. */
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

/* The cache called name in pool, from a fresh stats document. */
static uint64_t cache_u64(const char *pool, const char *name, const char *key)
{
	json_t *doc = integ_stats(F.obs), *c;
	uint64_t v = UINT64_MAX;
	size_t i;

	assert_non_null(doc);
	json_array_foreach(json_object_get(doc, "caches"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "pool")), pool) &&
		    !strcmp(json_string_value(json_object_get(c, "name")), name))
			v = (uint64_t)json_integer_value(json_object_get(c, key));
	json_decref(doc);
	if (v == UINT64_MAX)
		fail_msg("no cache %s in pool %s", name, pool);
	return v;
}

/* Does the daemon's log hold needle?  Printed when it does not. */
static bool log_has(const char *needle)
{
	FILE *f = fopen(F.d.log, "r");
	char *text = NULL;
	size_t len = 0;
	bool found;

	assert_non_null(f);
	if (getdelim(&text, &len, 0, f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	found = text && strstr(text, needle);
	if (!found)
		printf("log lacks \"%s\":\n%s\n", needle, text ? text : "");
	free(text);
	return found;
}

static void expect_verify_ok(void)
{
	struct kmem_verify v;

	assert_int_equal(kmem_client_verify(F.obs, &v), 0);
	for (size_t i = 0; i < v.nproblems; i++)
		printf("problem: %s\n", v.problems[i]);
	assert_int_equal(v.nproblems, 0);
	assert_int_equal(v.pools, 2);
	kmem_client_verify_release(&v);
}

/* ------------------------------------------------------------ poison */

static void test_debug_write_after_free(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_client *c = connect_as("integ-uaf");
	struct kmem_buf b, b2;
	uint64_t off, id;
	unsigned char *p;
	char want[160];

	(void)state;
	o.pool = "dbg";
	o.tag = "uaf-writer";
	assert_int_equal(kmem_client_alloc(c, 40, &o, &b), 0);
	assert_int_equal(b.len, 64);
	off = b.offset;
	id = b.id;
	p = b.ptr;	/* the pool's mapping stays after the free */
	assert_int_equal(kmem_client_free(c, &b), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(p[i], 0x6b);
	p[21] = 0x42;
	assert_int_equal(cache_u64("dbg", "kmalloc-64", "poison_errors"), 0);

	/* The lowest free object of the class comes back: the same one. */
	o.tag = "next";
	assert_int_equal(kmem_client_alloc(c, 64, &o, &b2), 0);
	assert_int_equal(b2.offset, off);
	assert_int_equal(cache_u64("dbg", "kmalloc-64", "poison_errors"), 1);
	assert_int_equal(stat_u64("pools/0/poison_errors"), 1);
	assert_int_equal(stat_u64("pools/1/poison_errors"), 0);
	assert_true(log_has("was written after it was freed: 1 byte(s), the "
			    "first at +21 (0x42, not 0x6b), found at its next "
			    "allocation"));
	snprintf(want, sizeof(want), "last held by lease %llu of session ",
		 (unsigned long long)id);
	assert_true(log_has(want));
	snprintf(want, sizeof(want), "(pid %d, ", (int)getpid());
	assert_true(log_has(want));
	assert_true(log_has("tag 'uaf-writer')"));
	assert_int_equal(kmem_client_free(c, &b2), 0);
	kmem_client_disconnect(c);
	expect_verify_ok();
}

/* ------------------------------------------------------------ red zones */

static void test_debug_overrun_reported_at_free(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_client *c = connect_as("integ-overrun");
	uint64_t before = cache_u64("dbg", "kmalloc-128", "redzone_errors"), id;
	struct kmem_buf b;
	char want[256];

	(void)state;
	o.pool = "dbg";
	o.tag = "overrunner";
	assert_int_equal(kmem_client_alloc(c, 100, &o, &b), 0);
	assert_int_equal(b.len, 128);
	memset(b.ptr, 0x11, b.len);		/* all of it is the client's */
	((unsigned char *)b.ptr)[b.len] = 0;	/* and one byte more */
	snprintf(want, sizeof(want), "object 0x%llx of cache kmalloc-128 was "
		 "overrun: its red zone after it holds 1 damaged byte(s), the "
		 "nearest at +128 (0x00, not 0xbb), found at its free; held by ",
		 (unsigned long long)b.offset);
	id = b.id;
	assert_int_equal(kmem_client_free(c, &b), 0);
	assert_int_equal(cache_u64("dbg", "kmalloc-128", "redzone_errors"),
			 before + 1);
	assert_int_equal(stat_u64("pools/0/redzone_errors"), before + 1);
	assert_true(log_has(want));
	snprintf(want, sizeof(want), "held by lease %llu of session ",
		 (unsigned long long)id);
	assert_true(log_has(want));
	assert_true(log_has("tag 'overrunner')"));
	kmem_client_disconnect(c);
	expect_verify_ok();
}

/* Verify scans the live objects' red zones and the free objects' poison:
 * damage shows before the free or the next allocation, as a problem, and
 * only once. */
static void test_debug_verify_finds_live_overrun(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_client *c = connect_as("integ-verify");
	uint64_t before = stat_u64("pools/0/redzone_errors");
	struct kmem_verify v;
	struct kmem_buf b;
	unsigned char *p;

	(void)state;
	expect_verify_ok();
	o.pool = "dbg";
	assert_int_equal(kmem_client_alloc(c, 200, &o, &b), 0);
	assert_int_equal(b.len, 256);
	((unsigned char *)b.ptr)[-1] = 7;	/* underrun */
	assert_int_equal(kmem_client_verify(F.obs, &v), 0);
	assert_int_equal(v.nproblems, 1);
	assert_non_null(strstr(v.problems[0], "pool dbg: object "));
	assert_non_null(strstr(v.problems[0], "of cache kmalloc-256 was underrun: "
			       "its red zone before it holds 1 damaged byte(s), "
			       "the nearest at -1 (0x07, not 0xbb), found by "
			       "verify; held by lease "));
	assert_int_equal(v.leases, 1);
	kmem_client_verify_release(&v);
	assert_int_equal(stat_u64("pools/0/redzone_errors"), before + 1);
	/* Written back by the scan: the free finds nothing more. */
	p = b.ptr;
	assert_int_equal(kmem_client_free(c, &b), 0);
	assert_int_equal(stat_u64("pools/0/redzone_errors"), before + 1);
	/* A write into the freed object: verify finds it before any
	 * allocation does, and names who held it. */
	p[100] = 0;
	assert_int_equal(kmem_client_verify(F.obs, &v), 0);
	assert_int_equal(v.nproblems, 1);
	assert_non_null(strstr(v.problems[0], "of cache kmalloc-256 was written "
			       "after it was freed: 1 byte(s), the first at +100 "
			       "(0x00, not 0x6b), found by verify; last held by "
			       "lease "));
	kmem_client_verify_release(&v);
	kmem_client_disconnect(c);
	expect_verify_ok();
}

/* ------------------------------------------------------------ switch */

static void nobody_switch(void *arg)
{
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];

	(void)arg;
	CHILD_EQ(kmem_client_connect(F.d.sock, "integ-nobody", &c, msg,
				     sizeof(msg)), 0);
	CHILD_EQ(kmem_client_debug(c, "plain", true), KMEM_EPERM);
	CHILD_CHECK(strstr(kmem_client_error(c), "only root or the admin group"));
	kmem_client_disconnect(c);
}

static void test_debug_switch_poison(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_buf b, b2;
	unsigned char *p;
	json_t *doc;

	(void)state;
	if (geteuid() == 0) {
		struct integ_child ch;
		char msg[512];

		assert_int_equal(integ_child_start(&ch, NOBODY, NOBODY,
						   nobody_switch, NULL), 0);
		assert_int_equal(integ_child_finish(&ch, msg, sizeof(msg), 10000), 0);
		assert_string_equal(msg, "ok");
	} else {
		printf("not root: the refusal to nobody is not tried\n");
	}
	assert_int_equal(kmem_client_debug(F.obs, "nosuch", true), KMEM_ENOENT);
	o.pool = "plain";
	/* Freed while off: never reported. */
	assert_int_equal(kmem_client_alloc(F.obs, 32, &o, &b), 0);
	p = b.ptr;
	assert_int_equal(kmem_client_free(F.obs, &b), 0);
	p[0] = 1;
	assert_int_equal(kmem_client_debug(F.obs, "plain", true), 0);
	doc = integ_stats(F.obs);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
		json_array_get(json_object_get(doc, "pools"), 1), "debug"), 0)),
		"poison");
	json_decref(doc);
	assert_int_equal(kmem_client_alloc(F.obs, 32, &o, &b), 0);
	assert_ptr_equal(b.ptr, p);
	assert_int_equal(stat_u64("pools/1/poison_errors"), 0);
	/* Freed while on: caught. */
	assert_int_equal(kmem_client_free(F.obs, &b), 0);
	p[31] = 2;
	assert_int_equal(kmem_client_alloc(F.obs, 32, &o, &b2), 0);
	assert_ptr_equal(b2.ptr, p);
	assert_int_equal(stat_u64("pools/1/poison_errors"), 1);
	assert_int_equal(cache_u64("plain", "kmalloc-32", "poison_errors"), 1);
	assert_true(log_has("pool plain: debugging now poison (pid "));
	/* Off again. */
	assert_int_equal(kmem_client_debug(F.obs, "plain", false), 0);
	assert_int_equal(kmem_client_free(F.obs, &b2), 0);
	p[0] = 3;
	assert_int_equal(kmem_client_alloc(F.obs, 32, &o, &b), 0);
	assert_int_equal(stat_u64("pools/1/poison_errors"), 1);
	assert_int_equal(kmem_client_free(F.obs, &b), 0);
	expect_verify_ok();
}

/* ------------------------------------------------------------ leases */

static void test_debug_lease_listing(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_client *c = connect_as("integ-lister");
	struct kmem_buf b[3];
	json_t *doc, *ls, *l;
	json_error_t jerr;
	char *text, comm[32] = "";
	FILE *f = fopen("/proc/self/comm", "r");

	(void)state;
	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	o.pool = "plain";
	o.tag = "first";
	assert_int_equal(kmem_client_alloc(c, 1000, &o, &b[0]), 0);
	o.tag = "second";
	assert_int_equal(kmem_client_alloc(c, 20000, &o, &b[1]), 0);
	o.tag = NULL;
	o.pool = "dbg";
	assert_int_equal(kmem_client_alloc(c, 8, &o, &b[2]), 0);
	assert_int_equal(kmem_client_leases(F.obs, getpid(), &text), 0);
	doc = json_loads(text, 0, &jerr);
	free(text);
	assert_non_null(doc);
	ls = json_object_get(doc, "leases");
	assert_int_equal(json_array_size(ls), 3);
	assert_int_equal(json_integer_value(json_object_get(doc, "leases_matched")), 3);
	for (size_t i = 0; i < 3; i++) {
		l = json_array_get(ls, i);
		assert_int_equal(json_integer_value(json_object_get(l, "id")), b[i].id);
		assert_int_equal(json_integer_value(json_object_get(l, "offset")),
				 b[i].offset);
		assert_int_equal(json_integer_value(json_object_get(l, "length")),
				 b[i].len);
		assert_int_equal(json_integer_value(json_object_get(l, "pid")), getpid());
		assert_string_equal(json_string_value(json_object_get(l, "comm")),
				    comm);
	}
	l = json_array_get(ls, 0);
	assert_string_equal(json_string_value(json_object_get(l, "tag")), "first");
	assert_string_equal(json_string_value(json_object_get(l, "kind")), "kmalloc");
	assert_int_equal(json_integer_value(json_object_get(l, "requested")), 1000);
	l = json_array_get(ls, 1);
	assert_string_equal(json_string_value(json_object_get(l, "tag")), "second");
	assert_string_equal(json_string_value(json_object_get(l, "kind")), "buffer");
	assert_string_equal(json_string_value(json_object_get(l, "pool")), "plain");
	l = json_array_get(ls, 2);
	assert_string_equal(json_string_value(json_object_get(l, "tag")), "");
	assert_string_equal(json_string_value(json_object_get(l, "pool")), "dbg");
	json_decref(doc);
	/* Another pid has none; the plain document has no list. */
	assert_int_equal(kmem_client_leases(F.obs, 1, &text), 0);
	doc = json_loads(text, 0, &jerr);
	free(text);
	assert_int_equal(json_array_size(json_object_get(doc, "leases")), 0);
	json_decref(doc);
	doc = integ_stats(F.obs);
	assert_null(json_object_get(doc, "leases"));
	json_decref(doc);
	expect_verify_ok();
	kmem_client_disconnect(c);
}

/* One raw request that answers with a LeaseBatch (NULL otherwise: the
 * status is then in *st). */
static Kmem__Response *raw_call(struct integ_raw *r, Kmem__Request *q,
				Kmem__Status *st)
{
	Kmem__Response *a;

	assert_int_equal(integ_raw_send(r, q), 0);
	a = integ_raw_recv(r, 5000);
	assert_non_null(a);
	assert_int_equal(a->seq, q->seq);
	*st = a->status;
	if (a->body_case == KMEM__RESPONSE__BODY_LEASE_BATCH)
		return a;
	kmem_frame_free_response(a, NULL);
	return NULL;
}

/*
 * AllocBatch and CacheAlloc carry a tag for every lease they grant, as
 * Alloc does; a tag that is too long or not printable is refused and
 * costs nothing.
 */
static void test_debug_batch_leases_tagged(void **state)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__AllocBatch ab = KMEM__ALLOC_BATCH__INIT;
	Kmem__CacheAlloc ca = KMEM__CACHE_ALLOC__INIT;
	struct kmem_client *c = connect_as("integ-batch-tags");
	struct integ_raw r;
	Kmem__Response *a;
	Kmem__Status st;
	json_t *doc, *ls;
	json_error_t jerr;
	char *text;
	size_t tags[3] = { 0, 0, 0 };
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_buf bb[4];

	(void)state;
	assert_int_equal(kmem_client_cache_create(c, "plain", "integ-tagged", 48,
						  0, NULL), 0);
	assert_int_equal(integ_raw_connect(&r, F.d.sock), 0);
	a = integ_raw_hello(&r, 1);
	assert_non_null(a);
	kmem_frame_free_response(a, NULL);
	ab.pool = (char *)"plain";
	ab.size = 100;
	ab.count = 3;
	ab.tag = (char *)"rx-ring";
	q.seq = 2;
	q.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	q.alloc_batch = &ab;
	a = raw_call(&r, &q, &st);
	assert_non_null(a);
	kmem_frame_free_response(a, NULL);
	ca.cache_case = KMEM__CACHE_ALLOC__CACHE_NAME;
	ca.name = (char *)"integ-tagged";
	ca.count = 2;
	ca.tag = (char *)"descs";
	q.seq = 3;
	q.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	q.cache_alloc = &ca;
	a = raw_call(&r, &q, &st);
	assert_non_null(a);
	kmem_frame_free_response(a, NULL);
	/* Refused: 32 bytes, then a newline. */
	ab.tag = (char *)"0123456789abcdef0123456789abcdef";
	q.seq = 4;
	q.body_case = KMEM__REQUEST__BODY_ALLOC_BATCH;
	q.alloc_batch = &ab;	/* the body is a union */
	assert_null(raw_call(&r, &q, &st));
	assert_int_equal(st, KMEM__STATUS__STATUS_INVALID_ARGUMENT);
	ca.tag = (char *)"two\nlines";
	q.seq = 5;
	q.body_case = KMEM__REQUEST__BODY_CACHE_ALLOC;
	q.cache_alloc = &ca;
	assert_null(raw_call(&r, &q, &st));
	assert_int_equal(st, KMEM__STATUS__STATUS_INVALID_ARGUMENT);
	/* libkmem's batch with options: pool, alignment and tag. */
	o.pool = "plain";
	o.align = 512;
	o.tag = "tx";
	assert_int_equal(kmem_client_alloc_batch_opts(c, 200, 2, &o, bb), 0);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(bb[i].offset % 512, 0);
		assert_true(bb[i].len >= 200);
	}
	o.node = 0;		/* not something a batch can carry */
	assert_int_equal(kmem_client_alloc_batch_opts(c, 200, 2, &o, bb + 2),
			 KMEM_EINVAL);
	/* This process holds exactly the seven leases, tagged. */
	assert_int_equal(kmem_client_leases(F.obs, getpid(), &text), 0);
	doc = json_loads(text, 0, &jerr);
	free(text);
	assert_non_null(doc);
	ls = json_object_get(doc, "leases");
	assert_int_equal(json_array_size(ls), 7);
	for (size_t i = 0; i < 7; i++) {
		const char *t = json_string_value(json_object_get(
			json_array_get(ls, i), "tag"));

		assert_non_null(t);
		if (!strcmp(t, "rx-ring"))
			tags[0]++;
		else if (!strcmp(t, "descs"))
			tags[1]++;
		else if (!strcmp(t, "tx"))
			tags[2]++;
	}
	assert_int_equal(tags[0], 3);
	assert_int_equal(tags[1], 2);
	assert_int_equal(tags[2], 2);
	json_decref(doc);
	uint64_t ids[2] = { bb[0].id, bb[1].id };
	assert_int_equal(kmem_client_free_batch(c, ids, 2), 0);
	integ_raw_close(&r);
	assert_int_equal(integ_wait_sessions(F.obs, 2, 5000), 0);
	assert_int_equal(kmem_client_cache_destroy(c, "integ-tagged"), 0);
	expect_verify_ok();
	kmem_client_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debug_write_after_free),
		cmocka_unit_test(test_debug_overrun_reported_at_free),
		cmocka_unit_test(test_debug_verify_finds_live_overrun),
		cmocka_unit_test(test_debug_switch_poison),
		cmocka_unit_test(test_debug_lease_listing),
		cmocka_unit_test(test_debug_batch_leases_tagged),
	};

	return cmocka_run_group_tests_name("daemon_debug", tests, group_setup,
					   group_teardown);
}
