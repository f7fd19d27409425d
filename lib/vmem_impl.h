/*
 * vmem_impl.h - the resource map's private structures, shared by vmem.c
 * (segments, lists, hash, allocation and free) and vmem_stats.c (stats
 * and the invariant check).  lib/ only.
 */
#ifndef KMEM_VMEM_IMPL_H
#define KMEM_VMEM_IMPL_H

#include <stdint.h>
#include <stddef.h>

#include "kmem/vmem.h"

#define HASH_MIN_BITS 4
#define HASH_MAX_BITS 40
#define SPARE_MAX 256
#define GOLDEN 0x9e3779b97f4a7c15ull	/* 2^64 / phi, for Fibonacci hashing */

enum { SEG_HEAD, SEG_SPAN, SEG_FREE, SEG_ALLOC, SEG_SPARE };

/*
 * One record per span marker, free segment or allocated segment.  The list
 * fields link a free segment into its free list, a span marker into the
 * span list, an allocated segment into its hash chain (lnext only) and a
 * spare into the spare list (lnext only).
 */
struct seg {
	uint64_t start;
	uint64_t size;
	struct seg *anext, *aprev;
	struct seg *lnext, *lprev;
	int type;
};

struct kmem_vmem {
	uint64_t quantum;
	uint64_t qmask;
	int policy;
	struct seg head;		/* sentinel of the address and span lists */
	uint64_t nonempty;		/* bit k: free list k is not empty */
	struct seg *flist[KMEM_VMEM_NLISTS];
	uint64_t nr_free[KMEM_VMEM_NLISTS];
	uint64_t total, free_bytes, max_span;
	uint64_t nspans, nalloc;
	uint64_t allocs, frees;
	struct seg **hash;
	unsigned hash_bits;
	struct seg *spare;
	uint64_t nspare;
	uint64_t nsegs;			/* records held, spares included */
};

static inline unsigned kmem__vmem_flog2(uint64_t x)
{
	return 63 - (unsigned)__builtin_clzll(x);
}

/* The hash bucket of the allocated segment at off (Fibonacci hashing). */
static inline size_t kmem__vmem_slot(unsigned bits, uint64_t off)
{
	return (size_t)((off * GOLDEN) >> (64 - bits));
}

#endif
