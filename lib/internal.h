/*
 * internal.h - declarations shared between the files of lib/ only.
 * Nothing outside lib/ includes this header.
 */
#ifndef KMEM_LIB_INTERNAL_H
#define KMEM_LIB_INTERNAL_H

#include <stddef.h>
#include <stdbool.h>

#include "kmem/slab.h"

/*
 * Every metadata allocation in lib/ goes through these, so tests can make
 * the Nth one fail (see kmem/fault.h; only in builds with
 * KMEM_FAULT_INJECT defined, never in the installed library).
 */
void *kmem__malloc(size_t size);
void *kmem__calloc(size_t n, size_t size);
void *kmem__realloc(void *p, size_t size);
void kmem__free(void *p);

/* ------------------------------------------------- heap <-> slab glue */
#include <stdint.h>

struct kmem_heap;
struct kmem_cache;
struct kmem_slab;

/* Take npages contiguous pages (page aligned) from any arena. */
int kmem__heap_pages_alloc(struct kmem_heap *h, uint64_t npages, uint64_t *off);
/* Give back pages taken with kmem__heap_pages_alloc. */
void kmem__heap_pages_free(struct kmem_heap *h, uint64_t off, uint64_t npages);

/*
 * The page map: for every page of the region, the slab that owns it or
 * NULL.  Fixed for the heap's life, so caches keep the pointer.
 */
struct kmem_slab **kmem__heap_slabmap(const struct kmem_heap *h,
				      uint64_t *npages, unsigned *page_shift);

/* Cache registry (name lookup, stats walk). */
int kmem__heap_cache_link(struct kmem_heap *h, struct kmem_cache *c);
void kmem__heap_cache_unlink(struct kmem_heap *h, struct kmem_cache *c);

/* Creation of the size-class caches, which kmem_heap_free may free into. */
int kmem__cache_create(struct kmem_heap *h, const struct kmem_cache_params *p,
		       bool kmalloc, struct kmem_cache **out);
bool kmem__cache_is_kmalloc(const struct kmem_cache *c);
struct kmem_cache *kmem__slab_cache(const struct kmem_slab *s);
/* Destroy regardless of live objects (heap teardown). */
void kmem__cache_destroy_all(struct kmem_cache *c);
uint64_t kmem__cache_slab_bytes(const struct kmem_cache *c);
/* The registry link of a cache. */
struct kmem_cache **kmem__cache_next(struct kmem_cache *c);
/* 0 when off is an allocated object of c's slabs, else an error. */
int kmem__cache_obj_check(const struct kmem_cache *c, uint64_t off);

/* The heap's mapping (NULL if none), and its debugging reporter. */
unsigned char *kmem__heap_mem(const struct kmem_heap *h);
void kmem__heap_report(const struct kmem_heap *h,
		       const struct kmem_debug_report *r);

#endif
