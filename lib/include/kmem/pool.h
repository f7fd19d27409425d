/*
 * kmem/pool.h - a pool: hugepage-backed memory (kmem/backing.h) managed by
 * the engine (kmem/heap.h), one arena per physically contiguous run.
 *
 * Because every arena is one physical run, every contiguous allocation is
 * physically contiguous by construction, and the largest contiguous
 * allocation possible is the largest run.  A scatter allocation
 * (vmalloc-like) may take pieces from several arenas: it returns a segment
 * list, each segment a whole number of the pool's pages (hugepages) so a
 * client can map the pieces back to back into one virtual range.
 *
 * Single-threaded by contract.
 */
#ifndef KMEM_POOL_H
#define KMEM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmem/backing.h"
#include "kmem/heap.h"

struct kmem_pool;

struct kmem_pool_params {
	uint64_t size;			/* bytes; a multiple of page_size */
	uint64_t page_size;		/* hugepage size; see kmem/backing.h */
	const char *path;		/* hugetlbfs file, or NULL for memfd */
	const char *name;		/* memfd name */
	bool allow_nohuge;		/* 4 KiB fallback when hugepages lack */
	bool require_contiguous;	/* the pool must be one physical run */
	/* Adopt an earlier process's memfd and its contents instead of
	 * making a new one (kmem_backing_params.adopt: adopt_fd stays the
	 * caller's).  The engine starts with everything free; the caller
	 * claims back what is in use (kmem_heap_claim). */
	bool adopt;
	int adopt_fd;
	enum kmem_policy policy;	/* buddy (default) or resource map */
	uint64_t quantum;		/* resource map granule; 0 = 4 KiB */
	/* Debugging of the size-class caches: KMEM_CACHE_POISON |
	 * KMEM_CACHE_REDZONE (kmem/slab.h); kmem_heap_params.kmalloc_flags. */
	unsigned kmalloc_flags;
	/* Test hook passed to the backing (fake physical frames). */
	int (*frame)(void *ctx, uint64_t page, uint64_t *pa, int *node);
	void *frame_ctx;
};

/* Request flags beyond KMEM_ALLOC_* (kmem/heap.h). */
#define KMEM_POOL_SCATTER 0x100u	/* may be physically discontiguous */

struct kmem_pool_req {
	uint64_t size;
	uint64_t align;
	unsigned flags;		/* KMEM_ALLOC_*, KMEM_POOL_SCATTER */
	int node;		/* -1 any */
	uint64_t dma_mask;	/* 0 none */
	uint64_t boundary;	/* 0 none */
};

struct kmem_pool_seg {
	uint64_t off;		/* offset in the pool */
	uint64_t len;
	uint64_t phys;		/* 0 in iova mode va */
};

/*
 * An allocation.  A contiguous one has nsegs == 1, seg0 describes it and
 * segs is NULL; a scatter one of several segments has them in segs[]
 * (allocated by the pool, released by kmem_pool_free).  Use
 * kmem_pool_buf_seg() to read segment i either way.
 */
struct kmem_pool_buf {
	uint64_t off;		/* first segment's offset */
	uint64_t len;		/* total bytes */
	uint64_t phys;		/* first segment's physical address, or 0 */
	bool contiguous;	/* one segment, physically contiguous */
	size_t nsegs;
	struct kmem_pool_seg seg0;
	struct kmem_pool_seg *segs;	/* NULL, or an array of nsegs */
};

static inline const struct kmem_pool_seg *
kmem_pool_buf_seg(const struct kmem_pool_buf *b, size_t i)
{
	return b->segs ? &b->segs[i] : &b->seg0;
}

struct kmem_pool_stats {
	struct kmem_backing_info backing;
	struct kmem_heap_stats heap;
	uint64_t pages_total, pages_free;	/* whole pool pages free */
};

/*
 * kmem_pool_create - open the backing and build the engine over it.
 * Errors: those of kmem_backing_open and kmem_heap_create, with msg.
 */
int kmem_pool_create(const struct kmem_pool_params *p, struct kmem_pool **out,
		     char *msg, size_t msglen);
void kmem_pool_destroy(struct kmem_pool *p);

struct kmem_heap *kmem_pool_heap(const struct kmem_pool *p);
struct kmem_backing *kmem_pool_backing(const struct kmem_pool *p);

/*
 * kmem_pool_alloc - a contiguous (default) or scatter allocation.  Errors
 * as kmem_heap_xalloc, with msg; KMEM_ENOMETA.  On failure nothing is
 * allocated.
 */
int kmem_pool_alloc(struct kmem_pool *p, const struct kmem_pool_req *req,
		    struct kmem_pool_buf *buf, char *msg, size_t msglen);

/* kmem_pool_free - free every segment of buf and release its list. */
int kmem_pool_free(struct kmem_pool *p, struct kmem_pool_buf *buf);

/*
 * kmem_pool_phys - physical address of off; KMEM_EPERM in iova mode va.
 * kmem_pool_sg - as kmem_backing_sg.
 */
int kmem_pool_phys(const struct kmem_pool *p, uint64_t off, uint64_t *pa);
int kmem_pool_sg(const struct kmem_pool *p, uint64_t off, uint64_t len,
		 struct kmem_sg *segs, size_t cap, size_t *n);

void kmem_pool_stats(const struct kmem_pool *p, struct kmem_pool_stats *st);

/* kmem_pool_check - backing tables and engine invariants. */
int kmem_pool_check(const struct kmem_pool *p);

#endif
