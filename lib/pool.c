/*
 * pool.c - a pool: the backing's runs become the heap's arenas.
 *
 * Theory.  The backing (backing.c) reserves, maps and describes the
 * memory; the heap (heap.c) manages offsets.  A pool joins them: each run
 * the backing reports - physically contiguous, one NUMA node, one zone -
 * becomes one arena, so the heap can never hand out a block that crosses
 * a physical discontinuity, and zone and node requests become arena
 * choices.  The engine's pages are 4 KiB whatever the hugepage size: a
 * 2 MiB hugepage is 512 buddy pages, so small buffers do not cost a
 * hugepage each, and blocks up to the run size stay naturally aligned.
 *
 * Scatter allocations (vmalloc-like) first try to be contiguous; failing
 * that they take the largest pieces the constraints allow, each a whole
 * number of hugepages (so a client can map the pieces back to back into
 * one virtual range), until the size is covered, and give everything back
 * if it cannot be.
 */
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/pool.h"
#include "internal.h"
#include "fmt.h"

#define ENGINE_PAGE 4096ull

struct kmem_pool {
	struct kmem_backing *backing;
	struct kmem_heap *heap;
	uint64_t page_size;	/* the backing's (huge)page size */
};

static int make_arenas(const struct kmem_backing *b,
		       struct kmem_arena_desc **out, size_t *n)
{
	size_t nruns = kmem_backing_nruns(b);
	struct kmem_arena_desc *d = kmem__calloc(nruns, sizeof(*d));

	if (!d)
		return KMEM_ENOMETA;
	for (size_t i = 0; i < nruns; i++) {
		struct kmem_backing_run r;

		kmem_backing_run(b, i, &r);
		d[i].base = r.offset;
		d[i].size = r.length;
		d[i].node = r.node;
		if ((r.flags & KMEM_RUN_PHYS) && (r.flags & KMEM_RUN_CONTIG)) {
			d[i].phys = r.phys;
			d[i].flags |= KMEM_ARENA_PHYS;
		}
		if (r.flags & KMEM_RUN_DMA32)
			d[i].flags |= KMEM_ARENA_DMA32;
	}
	*out = d;
	*n = nruns;
	return 0;
}

int kmem_pool_create(const struct kmem_pool_params *p, struct kmem_pool **out,
		     char *msg, size_t msglen)
{
	struct kmem_backing_params bp = {
		.size = p->size, .page_size = p->page_size, .path = p->path,
		.name = p->name, .allow_nohuge = p->allow_nohuge,
		.require_contiguous = p->require_contiguous,
		.adopt = p->adopt, .adopt_fd = p->adopt_fd,
		.frame = p->frame, .frame_ctx = p->frame_ctx,
	};
	struct kmem_heap_params hp = {
		.page_size = ENGINE_PAGE, .policy = p->policy,
		.quantum = p->quantum, .kmalloc_flags = p->kmalloc_flags,
	};
	struct kmem_arena_desc *d = NULL;
	struct kmem_pool *pool;
	int rc;

	pool = kmem__calloc(1, sizeof(*pool));
	if (!pool) {
		kmem__msg(msg, msglen, "out of memory for pool metadata");
		return KMEM_ENOMETA;
	}
	rc = kmem_backing_open(&bp, &pool->backing, msg, msglen);
	if (rc)
		goto fail_pool;
	rc = make_arenas(pool->backing, &d, &hp.narenas);
	if (rc) {
		kmem__msg(msg, msglen, "out of memory for pool metadata");
		goto fail_backing;
	}
	hp.arenas = d;
	hp.size = kmem_backing_size(pool->backing);
	hp.mem = kmem_backing_addr(pool->backing);
	/* A new memfd is zeroed by the kernel; a hugetlbfs file or an
	 * adopted memfd may hold what an earlier daemon left there. */
	hp.mem_zeroed = kmem_backing_kind(pool->backing) != KMEM_BACKING_HUGETLBFS &&
			!kmem_backing_adopted(pool->backing);
	rc = kmem_heap_create(&hp, &pool->heap, msg, msglen);
	kmem__free(d);
	if (rc)
		goto fail_backing;
	pool->page_size = kmem_backing_page_size(pool->backing);
	*out = pool;
	return 0;

fail_backing:
	kmem_backing_close(pool->backing);
fail_pool:
	kmem__free(pool);
	return rc;
}

void kmem_pool_destroy(struct kmem_pool *p)
{
	if (!p)
		return;
	kmem_heap_destroy(p->heap);
	kmem_backing_close(p->backing);
	kmem__free(p);
}

struct kmem_heap *kmem_pool_heap(const struct kmem_pool *p)
{
	return p->heap;
}

struct kmem_backing *kmem_pool_backing(const struct kmem_pool *p)
{
	return p->backing;
}

static void fill_seg(const struct kmem_pool *p, struct kmem_pool_seg *s,
		     uint64_t off, uint64_t len)
{
	s->off = off;
	s->len = len;
	if (kmem_backing_phys(p->backing, off, &s->phys))
		s->phys = 0;
}

/* Free the first n segments of a scatter list being built. */
static void unwind(struct kmem_pool *p, struct kmem_pool_seg *segs, size_t n)
{
	while (n--)
		kmem_heap_free(p->heap, segs[n].off);
}

static int scatter(struct kmem_pool *p, const struct kmem_pool_req *req,
		   struct kmem_pool_buf *buf, char *msg, size_t msglen)
{
	uint64_t left = (req->size + p->page_size - 1) / p->page_size * p->page_size;
	size_t n = 0, cap = 8;
	struct kmem_pool_seg *segs = kmem__malloc(cap * sizeof(*segs));
	struct kmem_heap_stats hs;
	uint64_t piece;
	char s1[KMEM_SIZE_STR_MAX], s2[KMEM_SIZE_STR_MAX], s3[KMEM_SIZE_STR_MAX];
	int rc;

	if (!segs)
		return KMEM_ENOMETA;
	kmem_heap_stats(p->heap, &hs);
	piece = hs.largest_free / p->page_size * p->page_size;
	while (left) {
		struct kmem_alloc_req r = {
			.size = piece < left ? piece : left, .flags = req->flags &
			~(unsigned)KMEM_POOL_SCATTER, .node = req->node,
			.dma_mask = req->dma_mask, .boundary = req->boundary,
			.align = p->page_size,
		};
		struct kmem_alloc_res res;

		rc = r.size ? kmem_heap_xalloc(p->heap, &r, &res, msg, msglen) :
			      KMEM_ENOMEM;

		if (rc == KMEM_ECONSTRAINT && r.size <= p->page_size)
			goto fail;	/* not even one page qualifies */
		if (rc && r.size <= p->page_size) {
			kmem__msg(msg, msglen, "cannot gather %s in pieces of %s "
				  "or more; %s still missing",
				  kmem__size_str(req->size, s1),
				  kmem__size_str(p->page_size, s2),
				  kmem__size_str(left, s3));
			rc = KMEM_ENOMEM;
			goto fail;
		}
		if (rc) {
			piece = r.size / 2 / p->page_size * p->page_size;
			if (piece < p->page_size)
				piece = p->page_size;
			continue;
		}
		if (n == cap) {
			struct kmem_pool_seg *g =
				kmem__realloc(segs, 2 * cap * sizeof(*segs));

			if (!g) {
				kmem_heap_free(p->heap, res.off);
				rc = KMEM_ENOMETA;
				goto fail;
			}
			segs = g;
			cap *= 2;
		}
		fill_seg(p, &segs[n++], res.off, r.size);
		left -= r.size;
	}
	buf->nsegs = n;
	buf->segs = segs;
	buf->seg0 = segs[0];
	return 0;

fail:
	unwind(p, segs, n);
	kmem__free(segs);
	return rc;
}

int kmem_pool_alloc(struct kmem_pool *p, const struct kmem_pool_req *req,
		    struct kmem_pool_buf *buf, char *msg, size_t msglen)
{
	struct kmem_alloc_req r = {
		.size = req->size, .align = req->align,
		.flags = req->flags & ~(unsigned)KMEM_POOL_SCATTER,
		.node = req->node, .dma_mask = req->dma_mask,
		.boundary = req->boundary,
	};
	struct kmem_alloc_res res;
	int rc;

	memset(buf, 0, sizeof(*buf));
	rc = kmem_heap_xalloc(p->heap, &r, &res, msg, msglen);
	if (rc == 0) {
		fill_seg(p, &buf->seg0, res.off, res.len);
		buf->nsegs = 1;
	} else if ((rc == KMEM_ENOMEM || rc == KMEM_ECONSTRAINT) &&
		   (req->flags & KMEM_POOL_SCATTER)) {
		/* No single block (now or ever): gather pieces. */
		rc = scatter(p, req, buf, msg, msglen);
	}
	if (rc)
		return rc;
	buf->off = buf->seg0.off;
	buf->phys = buf->seg0.phys;
	for (size_t i = 0; i < buf->nsegs; i++)
		buf->len += kmem_pool_buf_seg(buf, i)->len;
	buf->contiguous = buf->nsegs == 1 &&
		kmem_backing_contiguous(p->backing, buf->off, buf->len) == 1;
	return 0;
}

int kmem_pool_free(struct kmem_pool *p, struct kmem_pool_buf *buf)
{
	int rc = 0;

	for (size_t i = 0; i < buf->nsegs; i++) {
		int r = kmem_heap_free(p->heap, kmem_pool_buf_seg(buf, i)->off);

		if (r && !rc)
			rc = r;
	}
	kmem__free(buf->segs);
	memset(buf, 0, sizeof(*buf));
	return rc;
}

int kmem_pool_phys(const struct kmem_pool *p, uint64_t off, uint64_t *pa)
{
	return kmem_backing_phys(p->backing, off, pa);
}

int kmem_pool_sg(const struct kmem_pool *p, uint64_t off, uint64_t len,
		 struct kmem_sg *segs, size_t cap, size_t *n)
{
	return kmem_backing_sg(p->backing, off, len, segs, cap, n);
}

void kmem_pool_stats(const struct kmem_pool *p, struct kmem_pool_stats *st)
{
	memset(st, 0, sizeof(*st));
	kmem_backing_info(p->backing, &st->backing);
	kmem_heap_stats(p->heap, &st->heap);
	st->pages_total = st->backing.npages;
	/* Free bytes in units of the pool's pages (they may be scattered). */
	st->pages_free = st->heap.free_bytes / p->page_size;
}

int kmem_pool_check(const struct kmem_pool *p)
{
	if (kmem_backing_check(p->backing))
		return KMEM_ECORRUPT;
	return kmem_heap_check(p->heap);
}
