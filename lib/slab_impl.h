/*
 * slab_impl.h - the slab allocator's private structures, shared by slab.c
 * (caches, slabs, the hot paths) and slab_debug.c (poison and red zones).
 * lib/ only.
 */
#ifndef KMEM_SLAB_IMPL_H
#define KMEM_SLAB_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "kmem/slab.h"

enum { L_FULL, L_PARTIAL, L_EMPTY, L_COUNT };

struct slab_link {
	struct kmem_slab *next, *prev;
};

struct kmem_slab {
	struct slab_link link;
	struct kmem_cache *cache;
	uint64_t start;		/* offset of the slab's first page */
	uint64_t base;		/* offset of object 0 (start + colour + red
				   zone) */
	uint32_t inuse;
	uint32_t hint;		/* no free bit in words below this */
	uint8_t list;
	/*
	 * freemap[nwords]: bit set = object free.  After it, one pointer:
	 * the poison bitmap (kmem__slab_poison), kept out of the header so
	 * the hot fields sit where they did before debugging existed.
	 */
	uint64_t freemap[];
};

struct kmem_cache {
	struct kmem_slab *heads[L_COUNT];	/* circular lists, NULL = empty */
	uint64_t counts[L_COUNT];
	uint64_t size;			/* slot size: the object after
					   alignment, plus red zones */
	uint64_t recip;			/* ceil(2^32 / size) */
	int size_shift;			/* log2(size) if a power of two, else -1 */
	uint32_t objs;			/* objects per slab */
	uint32_t nwords;		/* bitmap words per slab */
	uint32_t debug;			/* KMEM_CACHE_POISON | _REDZONE now on;
					   0 keeps every hot path as it was */
	uint64_t slab_pages;
	uint64_t slab_bytes;
	struct kmem_slab **map;		/* the heap's page map */
	uint64_t map_pages;
	unsigned page_shift;
	uint64_t colour_step, colour_max, colour_next;
	unsigned reserve;
	bool kmalloc;
	unsigned flags;			/* KMEM_CACHE_* as created (POISON as
					   now) */
	uint64_t objsize;		/* what a caller may use of an object */
	uint64_t rz_left;		/* guard bytes before each object */
	unsigned char *mem;		/* the heap's mapping (debug caches) */
	uint64_t poison_maps;		/* slabs with a poison bitmap */
	uint64_t poison_errors, redzone_errors, last_bad;
	struct kmem_heap *heap;
	struct kmem_cache *next;	/* heap's registry */
	char name[KMEM_CACHE_NAME_MAX];
};

/* Where s keeps its poison bitmap: bit set = free object filled with the
 * poison pattern; NULL = none is. */
static inline uint64_t **kmem__slab_poison(const struct kmem_cache *c,
					   const struct kmem_slab *s)
{
	return (uint64_t **)(void *)(s->freemap + c->nwords);
}

/* Bytes of a slab descriptor. */
static inline size_t kmem__slab_desc_bytes(const struct kmem_cache *c)
{
	return sizeof(struct kmem_slab) + c->nwords * sizeof(uint64_t) +
	       sizeof(uint64_t *);
}

static inline bool kmem__obj_is_free(const struct kmem_slab *s, uint64_t idx)
{
	return s->freemap[idx / 64] & (1ull << (idx % 64));
}

static inline uint64_t kmem__obj_offset(const struct kmem_cache *c,
					uint64_t idx)
{
	return c->size_shift >= 0 ? idx << c->size_shift : idx * c->size;
}

/* ------------------------------------------------ slab.c <-> slab_debug.c */

/* Debugging: slab_debug.c.  Only called while c->debug is not 0. */
int kmem__slab_debug_grow(struct kmem_cache *c, struct kmem_slab *s);
void kmem__slab_debug_alloc(struct kmem_cache *c, struct kmem_slab *s,
			    uint64_t idx);
void kmem__slab_debug_free(struct kmem_cache *c, struct kmem_slab *s,
			   uint64_t idx);
/* Free s's poison bitmap (slab release, poisoning switched off). */
void kmem__slab_poison_drop(struct kmem_cache *c, struct kmem_slab *s);

#endif
