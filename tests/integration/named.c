/*
 * named.c - named (persistent) buffers written with a pattern before a
 * daemon restart and checked after it: what test_daemon_restart (hugetlbfs
 * files and the journal) and test_daemon_fdstore (memfds kept in systemd's
 * fd store) share.  See named.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "harness.h"
#include "named.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define MAX_FILL 1200

/*
 * Allocate n and write its pattern.  n->b keeps the lease's figures and
 * n->segs its pieces; the mapping is let go (a scatter buffer's own
 * mapping would pin the pool file's pages past the test).
 */
void integ_nb_create(struct kmem_client *c, struct integ_nb *n)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct kmem_buf b;
	int rc;

	o.name = n->name;
	o.persist = true;
	o.flags = n->flags;
	rc = kmem_client_alloc(c, n->size, &o, &b);
	if (rc)
		fail_msg("alloc %s (%llu bytes): %s: %s", n->name,
			 (unsigned long long)n->size, kmem_errname(rc),
			 kmem_client_error(c));
	assert_true(b.len >= n->size);
	assert_true(b.nsegs <= 8);
	if (b.nsegs == 1)
		n->segs[0] = (struct kmem_seg){ b.offset, b.len, b.phys };
	else
		memcpy(n->segs, b.segs, b.nsegs * sizeof(*n->segs));
	integ_pattern_fill(b.ptr, b.len, integ_salt_of(n->name));
	n->b = b;
	n->b.ptr = NULL;
	n->b.segs = NULL;
	kmem_client_buf_release(c, &b);
}

/*
 * Look n up in the restarted daemon: the same id, length and segments, and
 * every byte of its pattern.  The attachment is left for the caller (out).
 */
void integ_nb_lookup_intact(struct kmem_client *c, const struct integ_nb *n,
			    struct kmem_buf *out)
{
	uint64_t bad;
	int rc = kmem_client_lookup(c, n->name, out);

	if (rc)
		fail_msg("lookup %s: %s: %s", n->name, kmem_errname(rc),
			 kmem_client_error(c));
	assert_int_equal(out->id, n->b.id);
	assert_int_equal(out->len, n->b.len);
	assert_int_equal(out->offset, n->b.offset);
	assert_int_equal(out->nsegs, n->b.nsegs);
	for (size_t i = 0; i < n->b.nsegs && n->b.nsegs > 1; i++) {
		assert_int_equal(out->segs[i].offset, n->segs[i].offset);
		assert_int_equal(out->segs[i].len, n->segs[i].len);
	}
	bad = integ_pattern_check(out->ptr, out->len, integ_salt_of(n->name));
	if (bad != out->len)
		fail_msg("%s: byte %llu of %llu is not what its owner wrote",
			 n->name, (unsigned long long)bad,
			 (unsigned long long)out->len);
}

void integ_nb_assert_gone(struct kmem_client *c, const char *name)
{
	struct kmem_buf b;
	char want[128];

	assert_int_equal(kmem_client_lookup(c, name, &b), KMEM_ENOENT);
	snprintf(want, sizeof(want), "no buffer named '%s'", name);
	assert_string_equal(kmem_client_error(c), want);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Allocate everything the pool has left (2 MiB, then 64 KiB, then 16 KiB
 * pieces: all page allocations), write a pattern into each, and check that
 * none of it overlaps a restored buffer and that the restored buffers'
 * patterns survived the writes.  Then give it all back.
 */
void integ_nb_fill_rest_and_check(struct kmem_client *c, struct kmem_client *obs,
				  const struct integ_nb *kept, size_t nkept)
{
	static const uint64_t sizes[] = { 2 * MIB, 64 * KIB, 16 * KIB };
	static struct kmem_buf fill[MAX_FILL];
	struct kmem_buf views[8];
	uint64_t left = 0;
	size_t n = 0;
	json_t *doc;

	for (size_t k = 0; k < nkept; k++)
		integ_nb_lookup_intact(c, &kept[k], &views[k]);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		int rc;

		while (n < MAX_FILL &&
		       (rc = kmem_client_alloc(c, sizes[s], NULL, &fill[n])) == 0) {
			integ_pattern_fill(fill[n].ptr, fill[n].len, 0xf111 + n);
			n++;
		}
		assert_true(n < MAX_FILL);
		assert_int_equal(rc, KMEM_ENOMEM);
	}
	/* What is left is smaller than the smallest piece asked for. */
	doc = integ_stats(obs);
	assert_non_null(doc);
	assert_int_equal(integ_json_u64(doc, "pools/0/bytes_free", &left), 0);
	json_decref(doc);
	assert_true(left < 16 * KIB);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(fill[i].nsegs, 1);
		for (size_t k = 0; k < nkept; k++)
			for (size_t g = 0; g < kept[k].b.nsegs; g++)
				if (overlaps(fill[i].offset, fill[i].len,
					     kept[k].segs[g].offset, kept[k].segs[g].len))
					fail_msg("new buffer [%llu, +%llu) overlaps "
						 "restored '%s' [%llu, +%llu)",
						 (unsigned long long)fill[i].offset,
						 (unsigned long long)fill[i].len,
						 kept[k].name,
						 (unsigned long long)kept[k].segs[g].offset,
						 (unsigned long long)kept[k].segs[g].len);
	}
	for (size_t k = 0; k < nkept; k++) {
		assert_int_equal(integ_pattern_check(views[k].ptr, views[k].len,
					       integ_salt_of(kept[k].name)), views[k].len);
		assert_int_equal(kmem_client_detach(c, &views[k]), 0);
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(integ_pattern_check(fill[i].ptr, fill[i].len, 0xf111 + i),
				 fill[i].len);
		assert_int_equal(kmem_client_free(c, &fill[i]), 0);
	}
}
