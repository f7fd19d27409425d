/*
 * heap_impl.h - the heap's private structures, shared by heap.c (arenas,
 * kmalloc, stats) and xalloc.c (constrained allocation).  lib/ only.
 */
#ifndef KMEM_HEAP_IMPL_H
#define KMEM_HEAP_IMPL_H

#include "kmem/heap.h"
#include "kmem/vmem.h"

struct arena {
	struct kmem_arena_desc d;
	struct kmem_buddy *buddy;	/* KMEM_POLICY_BUDDY */
	struct kmem_vmem *vmem;		/* KMEM_POLICY_VMEM */
};

struct kmem_heap {
	uint64_t size, page_size;
	unsigned page_shift;
	enum kmem_policy policy;
	struct arena *arenas;
	size_t narenas;
	struct kmem_slab **map;		/* page -> slab */
	uint64_t npages;
	uint64_t *zeromap;		/* bit set: page known zero */
	unsigned char *mem;
	struct kmem_cache *caches;	/* registry, newest first */
	size_t ncaches;
	struct kmem_cache *kmalloc[KMEM_NR_SIZE_CLASSES];
	uint8_t small_index[24];	/* (size-1)/8 -> class, size <= 192 */
	unsigned kmalloc_flags;		/* debugging flags of the size classes */
	kmem_debug_fn report;		/* kmem_heap_set_reporter */
	void *report_ctx;
};

/* Shared between heap.c and xalloc.c. */
struct arena *kmem__heap_arena_of(const struct kmem_heap *h, uint64_t off);
uint64_t kmem__arena_largest(const struct arena *a);
void kmem__heap_zero_forget(struct kmem_heap *h, uint64_t off, uint64_t len);
void kmem__heap_zero_fill(struct kmem_heap *h, uint64_t off, uint64_t len);

#endif
