/*
 * magazine_impl.h - libkmem's magazines, shared by magazine.c (the
 * magazines themselves; the theory is there) and magazine_hash.c (the
 * open-addressing hash of the ids granted to magazines).  client/ only.
 */
#ifndef KMEM_CLIENT_MAGAZINE_IMPL_H
#define KMEM_CLIENT_MAGAZINE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAG_NCLASS 13
#define MAG_MAX_SIZE 8192u
#define MAG_DEPTH_MIN 8u
#define MAG_DEPTH_MAX 512u
#define MAG_BYTES_MAX (1u << 20)
#define MAG_GROW_NS 5000000ull	/* exchanges closer than this: grow */
#define MAG_NAME_MAX 32		/* the daemon's cache names, NUL included */
#define MAG_DRAIN_MAX 4096u	/* ids per FreeBatch (the daemon takes 16384) */
#define MAG_BATCH_STACK 64	/* batch frees up to this need no malloc */

enum { ST_IDLE = 1, ST_OUT, ST_PENDING };

struct slot {
	uint64_t id;		/* 0: empty (lease ids start at 1) */
	uint64_t offset, phys;
	uint16_t mag;		/* index in m->v */
	uint16_t state;
	uint32_t pos;		/* IDLE: its index in the magazine's rounds */
};

struct mag {
	uint32_t *r;		/* idle objects' slots, the top is r[n - 1] */
	uint32_t n, cap;
	uint32_t depth, depth_max;
	uint64_t taken, given;	/* objects refills brought, drains gave back */
	char *base;		/* the pool's mapping (once len != 0) */
	uint32_t pending;	/* batch free in progress */
	uint32_t pool;		/* Hello pool index (once len != 0) */
	uint64_t len;		/* object length; 0 before the first refill */
	uint64_t size;		/* a refill asks for this (size classes) */
	uint64_t last_ns;	/* last exchange needed */
	uint64_t refills, drains;
	bool cache;		/* a named cache (name) or a size class */
	bool off;		/* the daemon refuses refills: its memory is
				   being debugged (depth 0 from then on) */
	char name[MAG_NAME_MAX];
};

struct kmem_mags {
	struct mag *v;		/* the size classes, then the caches */
	size_t nmags, capmags;
	struct slot *tab;
	size_t mask, used;	/* buckets - 1, ids in the table */
	uint8_t cls[MAG_MAX_SIZE / 8 + 1];	/* (size + 7) / 8 -> class */
};

/* ------------------------------------------------------------ id hash */

/*
 * Lease ids are consecutive within a refill and increase over time, so the
 * low bits alone spread them perfectly: each id of a batch lands in its
 * own home bucket and a hit costs one probe.  (A miss, an id that is no
 * magazine's, may walk a run of them; it costs a round trip anyway.)
 */
static inline size_t kmem__slot_bucket(const struct kmem_mags *m, uint64_t id)
{
	return (size_t)(id & m->mask);
}

static inline struct slot *kmem__slot_find(const struct kmem_mags *m, uint64_t id)
{
	for (size_t i = kmem__slot_bucket(m, id);; i = (i + 1) & m->mask) {
		struct slot *e = &m->tab[i];

		if (e->id == id)
			return id ? e : NULL;
		if (!e->id)
			return NULL;
	}
}

/* A new IDLE slot (room reserved beforehand by kmem__slot_reserve); its
 * index. */
uint32_t kmem__slot_put(struct kmem_mags *m, uint64_t id, uint64_t offset,
			uint64_t phys, uint16_t mag);

/* Remove slot e (backward-shift deletion: no tombstones). */
void kmem__slot_del(struct kmem_mags *m, struct slot *e);

/* Make room for extra more ids at load <= 1/2.  0 or KMEM_ENOMETA. */
int kmem__slot_reserve(struct kmem_mags *m, size_t extra);

#endif
