/*
 * slab_debug.c - poisoning and red zones for slab caches (Bonwick 1994,
 * section 6: KMF_DEADBEEF, KMF_REDZONE; Linux mm/slub.c, slub_debug=PZ).
 *
 * Theory.  The slab allocator keeps every piece of its bookkeeping out of
 * band, so a client that writes where it should not cannot corrupt the
 * allocator; but it can corrupt other clients, silently.  These checks make
 * two kinds of such writes visible, at the cost of touching the objects'
 * memory (which the allocator otherwise never does):
 *
 *   Poison.  A freed object is filled with KMEM_POISON_BYTE and its bit set
 *   in the slab's poison bitmap (allocated on the first need, so a cache
 *   switched to poisoning at run time pays nothing for slabs it never
 *   frees into).  The next allocation of a marked object checks every byte:
 *   a difference is a write after free (or into memory never handed out:
 *   a new slab is poisoned whole).  The mark goes and the object is handed
 *   out anyway - the allocator cannot undo the write, only report it.
 *   Objects freed while poisoning was off carry no mark and are never
 *   checked, so switching it on never produces false reports; switching it
 *   off drops every bitmap, so c->debug == 0 implies no marks exist.
 *
 *   Red zones.  A slot is [guard][object][guard]: rz_left bytes before the
 *   object (KMEM_REDZONE_MIN, or the alignment if larger, so the object
 *   keeps its alignment) and at least KMEM_REDZONE_MIN after it, filled
 *   with KMEM_REDZONE_BYTE at allocation and checked at free, so an
 *   overrun or underrun of up to the guard's size is caught when the
 *   object comes back.  Fixed at creation, since it changes the layout.
 *
 * Every finding is counted in the cache, remembered (the first damaged
 * byte of the latest one) and passed to the heap's reporter with the
 * object's offset.  Nothing here fails an allocation or a free: a bitmap
 * that cannot be allocated only means that object goes unpoisoned.
 *
 * Cost: a poisoned allocation or free touches the object once (memset or
 * compare, word at a time); a red-zoned one the two guards.  With c->debug
 * == 0 none of this runs (slab.c: L_DPARTIAL, one test in free).
 */
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/heap.h"
#include "kmem/slab.h"
#include "internal.h"
#include "slab_impl.h"

/* ------------------------------------------------------------ patterns */

/* Index of the first byte of p[0, n) that is not v, or n. */
static uint64_t first_diff(const unsigned char *p, uint64_t n, unsigned char v)
{
	uint64_t pat = 0x0101010101010101ull * v, i = 0, x;

	for (; i + 8 <= n; i += 8) {
		memcpy(&x, p + i, 8);
		if (x != pat)
			break;
	}
	while (i < n && p[i] == v)
		i++;
	return i;
}

/* Bytes of p[from, n) that are not v. */
static uint64_t count_diff(const unsigned char *p, uint64_t from, uint64_t n,
			   unsigned char v)
{
	uint64_t k = 0;

	for (uint64_t i = from; i < n; i++)
		k += p[i] != v;
	return k;
}

static void report(struct kmem_cache *c, unsigned kind,
		   enum kmem_debug_when when, uint64_t obj, uint64_t bad,
		   uint64_t nbad, unsigned char expected)
{
	struct kmem_debug_report r = {
		.cache = c, .kind = kind, .when = when, .object = obj,
		.bad = bad, .nbad = nbad, .found = c->mem[bad],
		.expected = expected,
	};

	if (kind == KMEM_CACHE_POISON)
		c->poison_errors++;
	else
		c->redzone_errors++;
	c->last_bad = bad;
	kmem__heap_report(c->heap, &r);
}

static uint64_t obj_at(const struct kmem_cache *c, const struct kmem_slab *s,
		       uint64_t idx)
{
	return s->base + kmem__obj_offset(c, idx);
}

/* ------------------------------------------------------------ poison */

static void poison_fill(struct kmem_cache *c, uint64_t obj)
{
	memset(c->mem + obj, KMEM_POISON_BYTE, c->objsize);
}

/* 1 if the poisoned object at obj was written (reported), else 0. */
static int poison_check(struct kmem_cache *c, uint64_t obj,
			enum kmem_debug_when when)
{
	const unsigned char *p = c->mem + obj;
	uint64_t i = first_diff(p, c->objsize, KMEM_POISON_BYTE);

	if (i == c->objsize)
		return 0;
	report(c, KMEM_CACHE_POISON, when, obj, obj + i,
	       count_diff(p, i, c->objsize, KMEM_POISON_BYTE), KMEM_POISON_BYTE);
	return 1;
}

static bool marked(const struct kmem_cache *c, const struct kmem_slab *s,
		   uint64_t idx)
{
	const uint64_t *m = *kmem__slab_poison(c, s);

	return m && (m[idx / 64] & (1ull << (idx % 64)));
}

/* s's poison bitmap, allocated (all clear) on the first need; NULL if
 * it cannot be. */
static uint64_t *poison_map(struct kmem_cache *c, struct kmem_slab *s)
{
	uint64_t **m = kmem__slab_poison(c, s);

	if (!*m) {
		*m = kmem__calloc(c->nwords, sizeof(uint64_t));
		if (*m)
			c->poison_maps++;
	}
	return *m;
}

void kmem__slab_poison_drop(struct kmem_cache *c, struct kmem_slab *s)
{
	uint64_t **m = kmem__slab_poison(c, s);

	kmem__free(*m);
	*m = NULL;
	c->poison_maps--;
}

/* ------------------------------------------------------------ red zones */

/* Fill both guards of the object at obj. */
static void guards_fill(struct kmem_cache *c, uint64_t obj)
{
	uint64_t right = c->size - c->rz_left - c->objsize;

	memset(c->mem + obj - c->rz_left, KMEM_REDZONE_BYTE, c->rz_left);
	memset(c->mem + obj + c->objsize, KMEM_REDZONE_BYTE, right);
}

/*
 * 1 if a guard of the object at obj was damaged (reported once, for the
 * damage nearest the object: an underrun's last byte before it, else an
 * overrun's first byte after it), else 0.
 */
static int guards_check(struct kmem_cache *c, uint64_t obj,
			enum kmem_debug_when when)
{
	const unsigned char *l = c->mem + obj - c->rz_left;
	const unsigned char *r = c->mem + obj + c->objsize;
	uint64_t nl = c->rz_left, nr = c->size - c->rz_left - c->objsize;
	uint64_t dl = count_diff(l, 0, nl, KMEM_REDZONE_BYTE);
	uint64_t dr = count_diff(r, 0, nr, KMEM_REDZONE_BYTE);
	uint64_t bad;

	if (!dl && !dr)
		return 0;
	if (dl) {
		bad = nl;
		while (l[bad - 1] == KMEM_REDZONE_BYTE)
			bad--;
		bad = obj - c->rz_left + bad - 1;
	} else {
		bad = obj + c->objsize + first_diff(r, nr, KMEM_REDZONE_BYTE);
	}
	report(c, KMEM_CACHE_REDZONE, when, obj, bad, dl + dr, KMEM_REDZONE_BYTE);
	return 1;
}

/* ------------------------------------------------------------ hooks */

int kmem__slab_debug_grow(struct kmem_cache *c, struct kmem_slab *s)
{
	uint64_t *m;

	if (!(c->debug & KMEM_CACHE_POISON))
		return 0;
	/* A new slab is poisoned whole: a write into memory that was never
	 * handed out is as wrong as one into a freed object. */
	m = poison_map(c, s);
	if (!m)
		return KMEM_ENOMETA;
	memcpy(m, s->freemap, c->nwords * sizeof(uint64_t));
	for (uint64_t i = 0; i < c->objs; i++)
		poison_fill(c, obj_at(c, s, i));
	return 0;
}

void kmem__slab_debug_alloc(struct kmem_cache *c, struct kmem_slab *s,
			    uint64_t idx)
{
	uint64_t obj = obj_at(c, s, idx);

	if (marked(c, s, idx)) {
		(*kmem__slab_poison(c, s))[idx / 64] &= ~(1ull << (idx % 64));
		poison_check(c, obj, KMEM_DEBUG_AT_ALLOC);
	}
	if (c->debug & KMEM_CACHE_REDZONE)
		guards_fill(c, obj);
}

void kmem__slab_debug_free(struct kmem_cache *c, struct kmem_slab *s,
			   uint64_t idx)
{
	uint64_t obj = obj_at(c, s, idx);
	uint64_t *m;

	if (c->debug & KMEM_CACHE_REDZONE)
		guards_check(c, obj, KMEM_DEBUG_AT_FREE);
	if ((c->debug & KMEM_CACHE_POISON) && (m = poison_map(c, s))) {
		poison_fill(c, obj);
		m[idx / 64] |= 1ull << (idx % 64);
	}
}

/* ------------------------------------------------------------ control */

static void drop_all_marks(struct kmem_cache *c)
{
	for (unsigned l = 0; l < L_COUNT; l++) {
		struct kmem_slab *s = c->heads[l];

		if (!s)
			continue;
		do {
			if (*kmem__slab_poison(c, s))
				kmem__slab_poison_drop(c, s);
			s = s->link.next;
		} while (s != c->heads[l]);
	}
}

int kmem_cache_set_flags(struct kmem_cache *c, unsigned flags)
{
	if ((flags ^ c->flags) & ~(unsigned)KMEM_CACHE_POISON)
		return KMEM_EINVAL;
	if ((flags & KMEM_CACHE_POISON) && !c->mem)
		return KMEM_EINVAL;
	if (!(flags & KMEM_CACHE_POISON))
		drop_all_marks(c);
	c->flags = flags;
	kmem__cache_set_debug(c, flags & KMEM_CACHE_DEBUG);
	return 0;
}

static uint64_t scan_slab(struct kmem_cache *c, struct kmem_slab *s)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < c->objs; i++) {
		uint64_t obj = obj_at(c, s, i);

		if (marked(c, s, i) && poison_check(c, obj, KMEM_DEBUG_AT_SCAN)) {
			poison_fill(c, obj);
			n++;
		} else if (!kmem__obj_is_free(c, s, i) &&
			   (c->debug & KMEM_CACHE_REDZONE) &&
			   guards_check(c, obj, KMEM_DEBUG_AT_SCAN)) {
			guards_fill(c, obj);
			n++;
		}
	}
	return n;
}

uint64_t kmem_cache_scan(struct kmem_cache *c)
{
	uint64_t n = 0;

	if (!c->debug)
		return 0;
	for (unsigned l = 0; l < L_COUNT; l++) {
		struct kmem_slab *s = c->heads[l];

		if (!s)
			continue;
		do {
			n += scan_slab(c, s);
			s = s->link.next;
		} while (s != c->heads[l]);
	}
	return n;
}
