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

/*
 * The lists a slab is on, by its fill.  A debugging cache keeps its
 * partial slabs on L_DPARTIAL instead of L_PARTIAL (c->plist says which),
 * so the allocation fast path, which takes from heads[L_PARTIAL], finds
 * none and goes to the slow path, where the checks are: debugging costs
 * that path nothing.
 */
enum { L_FULL, L_PARTIAL, L_EMPTY, L_DPARTIAL, L_COUNT };

#define KMEM_SLAB_SPARE_DESC 64

struct slab_link {
	struct kmem_slab *next, *prev;
};

struct kmem_slab {
	struct slab_link link;
	/* The owner, tagged (kmem__slab_tag) while it debugs: the free fast
	 * path's owner check then fails over to the slow path, where the
	 * checks are, at no cost to caches that do not debug. */
	struct kmem_cache *cache;
	uint64_t start;		/* offset of the slab's first page */
	uint64_t base;		/* offset of object 0 (start + colour + red
				   zone) */
	/*
	 * Objects taken and given back, both wrapping: in use = allocs -
	 * frees.  Two counters, not one, so allocation and free never
	 * read-modify-write the same word (see "pending" below).
	 */
	uint32_t allocs, frees;
	uint32_t hint;		/* no bit set in freemap words below this */
	uint8_t list;
	/*
	 * freemap[nwords]: bit set = object free and ready to allocate.
	 * After it, pending[nwords] (kmem__slab_pending): bit set = object
	 * freed since freemap last ran dry.  A free sets its bit in pending
	 * and allocation takes from freemap, so a free and the allocation
	 * after it touch different words and do not wait on each other's
	 * stores (the store-to-load chain that dominated alloc+free).
	 * When freemap has no bit left from the hint on, allocation merges
	 * pending into it (mimalloc's local_free list, as bitmaps).  An
	 * object is free when its bit is set in either map, never both.
	 * After pending, one pointer: the poison bitmap (kmem__slab_poison),
	 * kept out of the header so the hot fields sit where they did
	 * before debugging existed.
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
	/* Descriptors of slabs given back, kept for the next grow (at most
	 * KMEM_SLAB_SPARE_DESC), so a cache that breathes in and out with
	 * each batch does not malloc a descriptor per slab each time. */
	struct kmem_slab *spare;
	unsigned nspare;
	bool kmalloc;
	uint8_t plist;			/* partial slabs: L_PARTIAL, or
					   L_DPARTIAL while debugging */
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

/* s's pending-free bitmap (see struct kmem_slab). */
static inline uint64_t *kmem__slab_pending(const struct kmem_cache *c,
					   const struct kmem_slab *s)
{
	return (uint64_t *)(s->freemap + c->nwords);
}

/* Where s keeps its poison bitmap: bit set = free object filled with the
 * poison pattern; NULL = none is. */
static inline uint64_t **kmem__slab_poison(const struct kmem_cache *c,
					   const struct kmem_slab *s)
{
	return (uint64_t **)(void *)(s->freemap + 2 * c->nwords);
}

/* Bytes of a slab descriptor. */
static inline size_t kmem__slab_desc_bytes(const struct kmem_cache *c)
{
	return sizeof(struct kmem_slab) + 2 * c->nwords * sizeof(uint64_t) +
	       sizeof(uint64_t *);
}

static inline uint32_t kmem__slab_inuse(const struct kmem_slab *s)
{
	return s->allocs - s->frees;
}

/* Word w of s's free objects, ready or pending. */
static inline uint64_t kmem__slab_free_word(const struct kmem_cache *c,
					    const struct kmem_slab *s,
					    uint32_t w)
{
	return s->freemap[w] | kmem__slab_pending(c, s)[w];
}

static inline bool kmem__obj_is_free(const struct kmem_cache *c,
				     const struct kmem_slab *s, uint64_t idx)
{
	return kmem__slab_free_word(c, s, (uint32_t)(idx / 64)) &
	       (1ull << (idx % 64));
}

static inline uint64_t kmem__obj_offset(const struct kmem_cache *c,
					uint64_t idx)
{
	return c->size_shift >= 0 ? idx << c->size_shift : idx * c->size;
}

/* ------------------------------------------------ slab.c <-> slab_stats.c */

/* Is the partial list's head empty (parked, slab.c)? */
bool kmem__cache_head_parked(const struct kmem_cache *c);
/* Empty slabs, the parked one included. */
uint64_t kmem__cache_nempty(const struct kmem_cache *c);
/* Objects in use; slabs on every list. */
uint64_t kmem__cache_active_objs(const struct kmem_cache *c);
uint64_t kmem__cache_nslabs(const struct kmem_cache *c);

/* ------------------------------------------------ slab.c <-> slab_debug.c */

/* Debugging: slab_debug.c.  Only called while c->debug is not 0. */
int kmem__slab_debug_grow(struct kmem_cache *c, struct kmem_slab *s);
void kmem__slab_debug_alloc(struct kmem_cache *c, struct kmem_slab *s,
			    uint64_t idx);
void kmem__slab_debug_free(struct kmem_cache *c, struct kmem_slab *s,
			   uint64_t idx);
/* Free s's poison bitmap (slab release, poisoning switched off). */
void kmem__slab_poison_drop(struct kmem_cache *c, struct kmem_slab *s);

/* Set c->debug (KMEM_CACHE_POISON | _REDZONE), move the partial slabs to
 * the list that goes with it and retag every slab's owner pointer. */
void kmem__cache_set_debug(struct kmem_cache *c, unsigned debug);

/* What s->cache holds for a slab of c: c, or c with bit 0 set while c
 * debugs (caches are malloc'd, so bit 0 of their address is free). */
static inline struct kmem_cache *kmem__slab_tag(const struct kmem_cache *c)
{
	return (struct kmem_cache *)((uintptr_t)c | (c->debug != 0));
}

static inline struct kmem_cache *kmem__slab_owner(const struct kmem_slab *s)
{
	return (struct kmem_cache *)((uintptr_t)s->cache & ~(uintptr_t)1);
}

#endif
