/*
 * test_lease.c - unit and model tests of daemon/lease.c: the pooled lease
 * records, the incremental open-addressing id index, the name hash.
 *
 * calloc, posix_memalign and mmap are wrapped (-Wl,--wrap, see the
 * Makefile) so that the Nth allocation of the table can be made to fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "testutil.h"
#include "lease.h"

/* ------------------------------------------------------------ faults */

static long fail_in = -1;	/* allocations until one fails; -1 never */
static bool fail_all;		/* every allocation fails */
static unsigned long injected;

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
int __real_posix_memalign(void **p, size_t align, size_t size);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

static bool fail_now(void)
{
	if (fail_all || (fail_in >= 0 && fail_in-- == 0)) {
		injected++;
		return true;
	}
	return false;
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
	return fail_now() ? ENOMEM : __real_posix_memalign(p, align, size);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return fail_now() ? MAP_FAILED : __real_mmap(addr, len, prot, flags, fd, off);
}

/* ------------------------------------------------------------ helpers */

static void check(const struct lease_table *t)
{
	char msg[256] = "";

	if (lease_table_check(t, 0, 0, msg, sizeof(msg)))
		fail_msg("lease_table_check: %s", msg);
}

/* A fresh lease in the table; its requested field marks the record. */
static struct lease *add(struct lease_table *t)
{
	struct lease *l = lease_new(t);

	assert_non_null(l);
	l->requested = l->id * 3;
	assert_int_equal(lease_insert(t, l), 0);
	return l;
}

static int count_one(struct lease *l, void *arg)
{
	assert_int_equal(l->requested, l->id * 3);
	++*(size_t *)arg;
	return 0;
}

static size_t count_all(const struct lease_table *t)
{
	size_t n = 0;

	lease_foreach(t, count_one, &n);
	return n;
}

/* An invertible mix of 62-bit counters: unique ids that look random. */
static uint64_t perm(uint64_t k)
{
	const uint64_t m = (UINT64_C(1) << 62) - 1;

	k = (k * 0x2545F4914F6CDD1Dull) & m;
	k ^= k >> 31;
	k = (k * 0x9E3779B97F4A7C15ull) & m;
	k ^= k >> 29;
	return k + 1;		/* never 0 */
}

/* ------------------------------------------------------------ records */

static void test_lease_records_come_from_chunks(void **state)
{
	struct lease_table t;
	struct lease **v;
	size_t per, n;

	(void)state;
	assert_int_equal(lease_table_init(&t), 0);
	per = t.recs.per_chunk;
	assert_int_equal(t.recs.size, 192);
	assert_int_equal(per, (65536 - 64) / 192);
	n = 3 * per + 1;
	v = calloc(n, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i] = add(&t);
		/* Records are cache-line aligned, and each starts zeroed. */
		assert_int_equal((uintptr_t)v[i] % 64, 0);
		assert_null(v[i]->owner);
		assert_string_equal(v[i]->name, "");
		assert_string_equal(v[i]->tag, "");
	}
	assert_int_equal(t.recs.chunks, 4);
	assert_int_equal(t.recs.used, n);
	/* Consecutive records of one chunk are adjacent. */
	assert_int_equal((uintptr_t)v[1] - (uintptr_t)v[0], 192);
	check(&t);

	/* A freed record is the next one handed out; its id is new. */
	{
		struct lease *x = v[per + 5];
		uint64_t id = x->id;

		lease_remove(&t, x);
		v[per + 5] = add(&t);
		assert_ptr_equal(v[per + 5], x);
		assert_true(v[per + 5]->id > id);
		assert_null(lease_find(&t, id));
	}
	/* Every chunk emptied is freed but one, kept as a spare. */
	for (size_t i = 0; i < n; i++)
		lease_remove(&t, v[i]);
	assert_int_equal(t.count, 0);
	assert_int_equal(t.recs.used, 0);
	assert_int_equal(t.recs.chunks, 1);
	check(&t);
	v[0] = add(&t);
	assert_int_equal(t.recs.chunks, 1);
	lease_remove(&t, v[0]);
	free(v);
	lease_table_fini(&t);
}

static void test_lease_ids_never_reused(void **state)
{
	struct lease_table t;
	struct lease *a, *b;
	uint64_t first;

	(void)state;
	assert_int_equal(lease_table_init(&t), 0);
	a = add(&t);
	first = a->id;
	assert_int_equal(first, 1);
	lease_remove(&t, a);
	b = add(&t);
	assert_int_equal(b->id, 2);
	assert_null(lease_find(&t, first));
	/* A restored id lifts the next ones above it. */
	a = lease_new_id(&t, 1000);
	assert_non_null(a);
	a->requested = 3000;
	assert_int_equal(lease_insert(&t, a), 0);
	assert_ptr_equal(lease_find(&t, 1000), a);
	assert_int_equal(add(&t)->id, 1001);
	/* An older restored id leaves them alone. */
	a = lease_new_id(&t, 500);
	a->requested = 1500;
	assert_int_equal(lease_insert(&t, a), 0);
	assert_int_equal(add(&t)->id, 1002);
	assert_int_equal(t.count, 5);
	check(&t);
	lease_table_fini(&t);
}

/* ------------------------------------------------------------ names */

static void test_lease_names_and_tags(void **state)
{
	char name[LEASE_NAME_MAX + 10], want[LEASE_NAME_MAX];
	struct lease_table t;
	struct lease *l, *m;

	(void)state;
	assert_int_equal(lease_table_init(&t), 0);
	l = lease_new(&t);
	assert_int_equal(lease_set_text(&t, l, "rx-ring", "nic0"), 0);
	l->requested = l->id * 3;
	assert_int_equal(lease_insert(&t, l), 0);
	assert_true(l->text);
	assert_string_equal(l->name, "rx-ring");
	assert_string_equal(l->tag, "nic0");
	assert_ptr_equal(lease_find_name(&t, "rx-ring"), l);
	assert_null(lease_find_name(&t, "rx-rin"));
	assert_int_equal(t.named, 1);
	assert_int_equal(t.texts.used, 1);

	/* A tag alone takes a text block, but no name. */
	m = lease_new(&t);
	assert_int_equal(lease_set_text(&t, m, NULL, "scratch"), 0);
	m->requested = m->id * 3;
	assert_int_equal(lease_insert(&t, m), 0);
	assert_string_equal(m->name, "");
	assert_string_equal(m->tag, "scratch");
	assert_int_equal(t.named, 1);
	assert_int_equal(t.texts.used, 2);

	/* Neither: nothing out of line. */
	assert_false(add(&t)->text);
	assert_int_equal(t.texts.used, 2);

	/* Too long: cut to the limit. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	memset(want, 'n', sizeof(want) - 1);
	want[sizeof(want) - 1] = 0;
	m = lease_new(&t);
	assert_int_equal(lease_set_text(&t, m, name, NULL), 0);
	m->requested = m->id * 3;
	assert_int_equal(lease_insert(&t, m), 0);
	assert_string_equal(m->name, want);
	assert_ptr_equal(lease_find_name(&t, want), m);

	/* Unnamed: still found by id, no longer by name; the tag stays. */
	lease_unname(&t, l);
	assert_null(lease_find_name(&t, "rx-ring"));
	assert_ptr_equal(lease_find(&t, l->id), l);
	assert_string_equal(l->name, "");
	assert_string_equal(l->tag, "nic0");
	assert_int_equal(t.named, 1);
	check(&t);
	lease_remove(&t, l);
	assert_int_equal(t.texts.used, 2);
	check(&t);
	lease_table_fini(&t);
}

static void test_lease_name_hash_grows(void **state)
{
	struct lease_table t;
	char name[32];

	(void)state;
	assert_int_equal(lease_table_init(&t), 0);
	for (int i = 0; i < 1000; i++) {
		struct lease *l = lease_new(&t);

		snprintf(name, sizeof(name), "buf-%d", i);
		assert_int_equal(lease_set_text(&t, l, name, NULL), 0);
		l->requested = l->id * 3;
		assert_int_equal(lease_insert(&t, l), 0);
	}
	assert_int_equal(t.named, 1000);
	assert_true(t.nnames >= 1000);
	for (int i = 0; i < 1000; i++) {
		struct lease *l;

		snprintf(name, sizeof(name), "buf-%d", i);
		l = lease_find_name(&t, name);
		assert_non_null(l);
		assert_string_equal(l->name, name);
	}
	check(&t);
	lease_table_fini(&t);
}

/* ------------------------------------------------------------ index */

/* Growth moves the old index a few slots per insert: while it does,
 * every lease is still found, and the move ends. */
static void test_lease_index_grows_incrementally(void **state)
{
	struct lease_table t;
	size_t n = 0, size;
	bool seen_move = false;

	(void)state;
	assert_int_equal(lease_table_init(&t), 0);
	size = t.cur.size;
	while (n < 100000) {
		add(&t);
		n++;
		if (t.old.size) {
			seen_move = true;
			/* Both halves hold part of the leases. */
			assert_int_equal(t.cur.used + t.old.used, n);
			if (n % 997 == 0) {
				for (uint64_t id = 1; id <= n; id++)
					assert_non_null(lease_find(&t, id));
				check(&t);
			}
		}
		assert_true(n * 4 <= t.cur.size * 3);
	}
	assert_true(seen_move);
	assert_true(t.cur.size > size);
	for (uint64_t id = 1; id <= n; id++)
		assert_int_equal(lease_find(&t, id)->requested, id * 3);
	assert_int_equal(count_all(&t), n);
	check(&t);
	lease_table_fini(&t);
}

/* Removals shrink the index at load 1/8, straight to load 1/4 - except
 * while a reclaim is emptying the table, which shrinks it once after. */
static void test_lease_index_shrinks(void **state)
{
	struct lease_table t;
	size_t big;

	(void)state;
	assert_int_equal(lease_table_init(&t), 0);
	for (int i = 0; i < 50000; i++)
		add(&t);
	big = t.cur.size;
	for (uint64_t id = 1; id <= 49990; id++)
		lease_remove(&t, lease_find(&t, id));
	assert_int_equal(t.count, 10);
	assert_true(t.cur.size + t.old.size <= big / 8);
	for (uint64_t id = 49991; id <= 50000; id++)
		assert_int_equal(lease_find(&t, id)->id, id);
	check(&t);
	lease_table_fini(&t);

	assert_int_equal(lease_table_init(&t), 0);
	for (int i = 0; i < 50000; i++)
		add(&t);
	while (t.old.size)
		lease_remove(&t, add(&t));
	big = t.cur.size;
	t.reaping_leases = 1;		/* as if a reclaim were running */
	for (uint64_t id = 1; id <= 49990; id++)
		lease_remove(&t, lease_find(&t, id));
	assert_int_equal(t.cur.size, big);
	assert_int_equal(t.old.size, 0);
	t.reaping_leases = 0;
	lease_remove(&t, lease_find(&t, 49991));
	assert_int_equal(t.cur.size, 256);	/* 9 leases: the minimum */
	/* The old index goes once its slots are moved, 32 per operation. */
	for (size_t ops = 0; t.old.size; ops += 2) {
		assert_true(ops <= big / 32);
		lease_remove(&t, add(&t));
	}
	assert_int_equal(t.cur.size, 256);
	assert_int_equal(count_all(&t), 9);
	check(&t);
	lease_table_fini(&t);
}

/* Alloc+free pairs beside many live leases, as a client that keeps a
 * working set: tombstones come and go, the index rebuilds itself at the
 * same size now and then and never grows for them. */
static void test_lease_index_churn_does_not_grow(void **state)
{
	struct lease_table t;
	size_t size = 0, rebuilds = 0;
	bool moving = false;

	(void)state;
	assert_int_equal(lease_table_init(&t), 0);
	for (int i = 0; i < 20000; i++)
		add(&t);
	for (int i = 0; i < 2000000; i++) {
		struct lease *l = add(&t);

		assert_ptr_equal(lease_find(&t, l->id), l);
		lease_remove(&t, l);
		assert_true((t.count + t.cur.tombs) * 4 <= t.cur.size * 3);
		/* After the first 100,000 the size has settled: at most one
		 * doubling (20,000 live fill more than half of 32768). */
		if (i == 100000)
			size = t.cur.size;
		if (i > 100000) {
			assert_int_equal(t.cur.size, size);
			rebuilds += t.old.size && !moving;
		}
		moving = t.old.size != 0;
		if (i % 50000 == 0)
			check(&t);
	}
	assert_true(size <= 65536);
	printf("%zu same-size rebuilds, %zu slots, %zu tombstones\n", rebuilds, size, t.cur.tombs);
	assert_true(rebuilds >= 2);
	assert_int_equal(t.count, 20000);
	for (uint64_t id = 1; id <= 20000; id++)
		assert_int_equal(lease_find(&t, id)->requested, id * 3);
	check(&t);
	lease_table_fini(&t);
}

/* ------------------------------------------------------------ model */

struct model {
	uint64_t *ids;
	struct lease **recs;
	size_t n;
	uint64_t gone[256];	/* recently removed ids */
	size_t ngone;
	uint64_t issued;	/* random mode: ids perm(1..issued) */
};

static void model_add(struct model *m, struct lease_table *t, bool random)
{
	struct lease *l = random ? lease_new_id(t, perm(++m->issued)) :
				   lease_new(t);

	assert_non_null(l);
	l->requested = l->id * 3;
	assert_int_equal(lease_insert(t, l), 0);
	m->ids[m->n] = l->id;
	m->recs[m->n++] = l;
}

static void model_remove(struct model *m, struct lease_table *t, uint64_t *rng)
{
	size_t i = tu_below(rng, m->n);

	assert_ptr_equal(lease_find(t, m->ids[i]), m->recs[i]);
	lease_remove(t, m->recs[i]);
	m->gone[m->ngone++ % 256] = m->ids[i];
	m->n--;
	m->ids[i] = m->ids[m->n];
	m->recs[i] = m->recs[m->n];
}

static void model_probe(struct model *m, const struct lease_table *t,
			uint64_t *rng, bool random)
{
	if (m->n) {
		size_t i = tu_below(rng, m->n);
		struct lease *l = lease_find(t, m->ids[i]);

		assert_ptr_equal(l, m->recs[i]);
		assert_int_equal(l->requested, m->ids[i] * 3);
	}
	if (m->ngone)
		assert_null(lease_find(t, m->gone[tu_below(rng, m->ngone < 256 ?
							       m->ngone : 256)]));
	/* An id never handed out. */
	assert_null(lease_find(t, random ? perm(m->issued + 1 + tu_below(rng, 1000)) :
			       t->next_id + tu_below(rng, 1000)));
	assert_int_equal(t->count, m->n);
}

/*
 * Up to peak live leases and back to none, inserts and removes mixed
 * 3:1 on the way up and 1:3 on the way down, against an array of what
 * should be there; each step also looks up a live id, a removed one and
 * one never issued.
 */
static void run_model(bool random)
{
	uint64_t rng = tu_seed(random ? "test_lease_model_random_ids" :
			       "test_lease_model_sequential_ids");
	size_t peak = (size_t)tu_ops(1000000), steps = 0;
	struct model m = { 0 };
	struct lease_table t;

	m.ids = malloc(peak * sizeof(*m.ids));
	m.recs = malloc(peak * sizeof(*m.recs));
	assert_true(m.ids && m.recs);
	assert_int_equal(lease_table_init(&t), 0);
	for (int phase = 0; phase < 2; phase++) {
		for (;;) {
			bool up = phase == 0;

			if (up ? m.n == peak : m.n == 0)
				break;
			if (m.n == peak ||
			    (m.n && tu_below(&rng, 4) < (up ? 1u : 3u)))
				model_remove(&m, &t, &rng);
			else
				model_add(&m, &t, random);
			model_probe(&m, &t, &rng, random);
			if (++steps % (peak / 4 + 1) == 0)
				check(&t);
		}
		check(&t);
		assert_int_equal(count_all(&t), m.n);
	}
	assert_int_equal(t.count, 0);
	assert_int_equal(t.recs.used, 0);
	assert_true(t.recs.chunks <= 1);
	lease_table_fini(&t);
	free(m.ids);
	free(m.recs);
}

static void test_lease_model_sequential_ids(void **state)
{
	(void)state;
	run_model(false);
}

static void test_lease_model_random_ids(void **state)
{
	(void)state;
	run_model(true);
}

/* ------------------------------------------------------------ reclaim */

/* Leases whose holder ended are hidden from lookups and walks, but stay
 * in the table; fini frees the holders still queued. */
static void test_lease_ended_holder_hides_its_leases(void **state)
{
	struct lease_holder *h = calloc(1, sizeof(*h)), *live = calloc(1, sizeof(*live));
	struct lease_table t;
	struct lease *a, *b, *c;

	(void)state;
	assert_true(h && live);
	assert_int_equal(lease_table_init(&t), 0);
	a = add(&t);
	b = add(&t);
	c = add(&t);
	a->holder = h;
	b->holder = h;
	c->holder = live;
	a->lnext = b;
	assert_false(lease_reaping(a));
	h->ended = true;
	h->left = a;
	h->nleft = 2;
	t.reaping = t.reaping_tail = h;
	t.reaping_leases = 2;
	assert_true(lease_reaping(a));
	assert_null(lease_find(&t, a->id));
	assert_null(lease_find(&t, b->id));
	assert_ptr_equal(lease_find(&t, c->id), c);
	assert_int_equal(count_all(&t), 1);
	assert_int_equal(t.count, 3);
	check(&t);
	t.reaping_leases = 3;
	{
		char msg[128];

		assert_int_equal(lease_table_check(&t, 0, 0, msg, sizeof(msg)), -1);
		assert_non_null(strstr(msg, "reclaim queue"));
	}
	lease_table_fini(&t);
	free(live);
}

/* ------------------------------------------------------------ faults */

/* A workload that survives any allocation failing: what it could not
 * make it skips; the table must stay whole and match what was made. */
static size_t faulty_workload(struct lease_table *t)
{
	struct lease *held[600];
	size_t n = 0;

	for (int i = 0; i < 600; i++) {
		struct lease *l = lease_new(t);

		if (!l)
			continue;
		l->requested = l->id * 3;
		if ((i % 7 == 0 && lease_set_text(t, l, i % 14 ? NULL : "nm",
						  "tg")) ||
		    lease_insert(t, l)) {
			lease_discard(t, l);
			continue;
		}
		held[n++] = l;
	}
	/* Names collide ("nm"): lookups still work. */
	for (size_t i = 0; i < n; i += 2)
		lease_remove(t, held[i]);
	return n / 2;
}

static void test_lease_fault_injection(void **state)
{
	(void)state;
	for (long k = 0;; k++) {
		struct lease_table t;
		unsigned long before = injected;
		size_t left;

		fail_in = k;
		if (lease_table_init(&t)) {
			fail_in = -1;
			continue;
		}
		left = faulty_workload(&t);
		fail_in = -1;
		assert_int_equal(t.count, left);
		assert_int_equal(count_all(&t), left);
		check(&t);
		lease_table_fini(&t);
		if (injected == before)
			break;		/* the whole run without a failure */
	}
	assert_true(injected > 3);
}

/* With every allocation failing the index fills to 7/8 and then refuses;
 * nothing breaks, and it grows again once memory comes back. */
static void test_lease_insert_refuses_when_full(void **state)
{
	struct lease_table t;
	size_t size, n = 0;

	(void)state;
	assert_int_equal(lease_table_init(&t), 0);
	size = t.cur.size;
	/* Enough records in the chunks first, so that only the index is
	 * short of memory. */
	{
		struct lease *v[256];

		for (int i = 0; i < 256; i++)
			v[i] = lease_new(&t);
		for (int i = 0; i < 256; i++)
			lease_discard(&t, v[i]);
	}
	fail_all = true;
	for (;;) {
		struct lease *l = lease_new(&t);

		assert_non_null(l);
		l->requested = l->id * 3;
		if (lease_insert(&t, l)) {
			lease_discard(&t, l);
			break;
		}
		n++;
	}
	fail_all = false;
	assert_int_equal(t.cur.size, size);
	assert_int_equal(n, size * 7 / 8);
	assert_int_equal(count_all(&t), n);
	check(&t);
	add(&t);
	assert_true(t.cur.size > size);
	assert_int_equal(t.count, n + 1);
	check(&t);
	lease_table_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lease_records_come_from_chunks),
		cmocka_unit_test(test_lease_ids_never_reused),
		cmocka_unit_test(test_lease_names_and_tags),
		cmocka_unit_test(test_lease_name_hash_grows),
		cmocka_unit_test(test_lease_index_grows_incrementally),
		cmocka_unit_test(test_lease_index_shrinks),
		cmocka_unit_test(test_lease_index_churn_does_not_grow),
		cmocka_unit_test(test_lease_model_sequential_ids),
		cmocka_unit_test(test_lease_model_random_ids),
		cmocka_unit_test(test_lease_ended_holder_hides_its_leases),
		cmocka_unit_test(test_lease_fault_injection),
		cmocka_unit_test(test_lease_insert_refuses_when_full),
	};

	return cmocka_run_group_tests_name("lease", tests, NULL, NULL);
}
