/*
 * fuzz_dispatch.c - the frame decoder and request dispatch, against a real
 * engine.
 *
 * One in-process kmemd (fuzzd.c) with two small "nohuge" pools - "fuzz",
 * buddy, 2 MiB with a quota, and "vm", the resource map, 1 MiB - listens on
 * a temporary socket.  Each input is a byte stream sent by one client
 * connection exactly as a client would send it (frames, pipelined, split
 * wherever the kernel splits them), after which the client shuts its side:
 * the session ends and must give back everything it held.
 *
 * Checks, each an abort():
 *  - every byte the daemon sends parses as length-prefixed Responses, with
 *    no half frame at the end, and every lease it grants lies inside its
 *    pool;
 *  - after the session, no session lease is left, the named (persistent)
 *    buffers and caches the input created can be released, and then each
 *    pool is exactly as it started: kmem_pool_check passes, free bytes
 *    equal the initial free bytes, the heap is pristine, and the daemon's
 *    accounting (leases, bytes, per-uid usage) is back to zero.
 *
 * Named buffers and caches outlive a session by design, so the harness
 * releases them between inputs; lease and cache ids restart at 1, so a
 * saved input means the same thing every time it is run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "fuzzd.h"
#include "leases.h"

static struct kmemd d;
static uint64_t initial_free[KMEMD_MAX_POOLS];

static const char *const pools[] = {
	"name=fuzz,size=2M,page=4K,quota=1M,nohuge",
	"name=vm,size=1M,page=4K,policy=vmem,nohuge",
	NULL,
};

/* ------------------------------------------------------------ replies */

struct replies {
	struct kmem_frame_decoder dec;
	size_t frames;
};

static void check_extent(uint32_t pool_index, uint64_t off, uint64_t len)
{
	uint64_t size;

	FUZZ_CHECK(pool_index < d.npools, "lease in pool index %u", pool_index);
	size = d.pools[pool_index].cfg.size;
	FUZZ_CHECK(len > 0 && off < size && len <= size - off,
		   "lease [%llu, +%llu) outside pool %u of %llu bytes",
		   (unsigned long long)off, (unsigned long long)len, pool_index,
		   (unsigned long long)size);
}

static void check_response(const Kmem__Response *r)
{
	if (r->body_case == KMEM__RESPONSE__BODY_LEASE) {
		const Kmem__Lease *l = r->lease;
		uint64_t total = 0;

		check_extent(l->pool_index, l->offset, l->length);
		for (size_t i = 0; i < l->n_segments; i++) {
			check_extent(l->pool_index, l->segments[i]->offset,
				     l->segments[i]->length);
			total += l->segments[i]->length;
		}
		FUZZ_CHECK(!l->n_segments || total == l->length,
			   "segments sum to %llu, lease is %llu bytes",
			   (unsigned long long)total, (unsigned long long)l->length);
	} else if (r->body_case == KMEM__RESPONSE__BODY_LEASE_BATCH) {
		const Kmem__LeaseBatch *b = r->lease_batch;

		FUZZ_CHECK(b->n_ids == b->n_offsets && b->n_ids == b->n_phys,
			   "batch of %zu ids, %zu offsets, %zu phys", b->n_ids,
			   b->n_offsets, b->n_phys);
		for (size_t i = 0; i < b->n_offsets; i++)
			check_extent(b->pool_index, b->offsets[i], b->length);
	}
}

static void on_bytes(const uint8_t *p, size_t n, void *arg)
{
	struct replies *rp = arg;
	const uint8_t *payload;
	size_t len;
	int rc;

	kmem_frame_decoder_feed(&rp->dec, p, n);
	while ((rc = kmem_frame_decoder_next(&rp->dec, &payload, &len)) == 1) {
		Kmem__Response *r = NULL;

		FUZZ_CHECK(kmem_frame_unpack_response(payload, len, NULL, &r) == 0,
			   "reply %zu (%zu bytes) does not parse", rp->frames, len);
		check_response(r);
		kmem_frame_free_response(r, NULL);
		rp->frames++;
	}
	FUZZ_CHECK(rc == 0, "reply stream: %s", kmem_strerror(rc));
}

/* ------------------------------------------------------------ state */

static int collect(struct lease *l, void *arg)
{
	struct lease **v = arg;

	FUZZ_CHECK(!l->owner, "lease %llu still on a closed session's ledger",
		   (unsigned long long)l->id);
	FUZZ_CHECK(l->refs == 0, "named lease %llu has %u attachments after "
		   "its sessions ended", (unsigned long long)l->id, l->refs);
	FUZZ_CHECK(!l->doomed, "lease %llu was freed and has no users but lives",
		   (unsigned long long)l->id);
	for (size_t i = 0; i < 64; i++)
		if (!v[i]) {
			v[i] = l;
			return 0;
		}
	return 1;	/* the rest on the next pass */
}

/* What outlives a session by design: named buffers and caches. */
static void release_daemon_state(void)
{
	struct lease *v[64];

	do {
		memset(v, 0, sizeof(v));
		lease_foreach(&d.leases, collect, v);
		for (size_t i = 0; i < 64 && v[i]; i++)
			leases_free_persistent(&d, v[i]);
	} while (v[0]);
	FUZZ_CHECK(d.leases.count == 0 && d.leases.named == 0,
		   "%zu leases (%zu named) left in the table", d.leases.count,
		   d.leases.named);
	while (d.caches) {
		struct dcache *dc = d.caches;
		int rc;

		FUZZ_CHECK(dc->live == 0, "cache %s: %llu objects leased after "
			   "every lease was released", kmem_cache_name(dc->cache),
			   (unsigned long long)dc->live);
		rc = kmem_cache_destroy(dc->cache);
		FUZZ_CHECK(rc == 0, "cache destroy: %s", kmem_strerror(rc));
		d.caches = dc->next;
		free(dc);
	}
	d.leases.next_id = 1;
	d.next_cache_id = 0;
}

static void check_pools(void)
{
	for (size_t i = 0; i < d.npools; i++) {
		struct kmemd_pool *p = &d.pools[i];
		struct kmem_heap *h = kmem_pool_heap(p->pool);
		struct kmem_heap_stats st;
		int rc = kmem_pool_check(p->pool);

		FUZZ_CHECK(rc == 0, "pool %s: %s", p->cfg.name, kmem_strerror(rc));
		kmem_heap_shrink(h);
		kmem_heap_stats(h, &st);
		FUZZ_CHECK(st.free_bytes == initial_free[i], "pool %s: %llu bytes "
			   "free, %llu at the start", p->cfg.name,
			   (unsigned long long)st.free_bytes,
			   (unsigned long long)initial_free[i]);
		FUZZ_CHECK(kmem_heap_is_pristine(h), "pool %s: free but fragmented",
			   p->cfg.name);
		FUZZ_CHECK(p->leases == 0 && p->bytes == 0, "pool %s counts %llu "
			   "leases, %llu bytes", p->cfg.name,
			   (unsigned long long)p->leases, (unsigned long long)p->bytes);
		FUZZ_CHECK(!p->wait_head, "pool %s: a waiter outlived its session",
			   p->cfg.name);
		for (size_t u = 0; u < p->nusage; u++)
			FUZZ_CHECK(p->usage[u].bytes == 0, "pool %s: uid %d charged "
				   "%llu bytes", p->cfg.name, (int)p->usage[u].uid,
				   (unsigned long long)p->usage[u].bytes);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzzd_start(&d, pools, false);
	for (size_t i = 0; i < d.npools; i++) {
		struct kmem_heap *h = kmem_pool_heap(d.pools[i].pool);
		struct kmem_heap_stats st;

		kmem_heap_shrink(h);
		kmem_heap_stats(h, &st);
		initial_free[i] = st.free_bytes;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replies rp = { .frames = 0 };

	kmem_frame_decoder_init(&rp.dec, 0);
	fuzzd_exchange(&d, d.cfg.socket_path, data, size, on_bytes, &rp);
	FUZZ_CHECK(kmem_frame_decoder_pending(&rp.dec) == 0,
		   "the reply stream ends in half a frame (%zu bytes)",
		   kmem_frame_decoder_pending(&rp.dec));
	kmem_frame_decoder_fini(&rp.dec);
	FUZZ_CHECK(d.nsessions == 0 && !d.sessions, "%zu sessions left",
		   d.nsessions);
	release_daemon_state();
	check_pools();
	return 0;
}
