/*
 * arena.c - a bump allocator for the memory of one request.
 *
 * The arena is a stack of chunks.  An allocation is rounded up to the
 * alignment of max_align_t and bumped out of the top chunk; when it does
 * not fit, a new chunk at least twice as large as the top one (and at
 * least as large as the allocation) is pushed.  Nothing is freed one by
 * one: a mark remembers the top chunk and its fill, and releasing to it
 * pops and frees the chunks pushed since; a reset releases everything.
 *
 * The bottom chunk is kept across resets, so a daemon serving requests of
 * a steady size mallocs nothing once it is warm.  It grows, never shrinks:
 * when a cycle needed more chunks than the bottom one, the reset replaces
 * it by one holding the cycle's high-water mark, as long as that is at most
 * keep_max; a larger cycle (a huge request) had its memory in temporary
 * chunks, freed by the reset, so one odd request does not leave the daemon
 * inflated.
 *
 * Invariants: head is NULL or the top of a stack of chunks whose bottom is
 * the kept chunk; in each chunk used <= cap and used is a multiple of
 * ALIGN; in_use is the bytes handed out and not yet released (alignment
 * included), at most the sum of the chunks' used bytes (the tail a chunk
 * had left when the next one was pushed is not counted); high >= in_use.
 *
 * Costs: an allocation O(1) (a compare and an add in the common case); a
 * release or reset O(chunks pushed since the mark), zero mallocs and frees
 * when nothing overflowed the kept chunk.
 *
 * Under AddressSanitizer the memory not handed out is poisoned, so that a
 * pointer kept into a request after its reset, or a write past the end of
 * an allocation, is reported as it would be with malloc.
 */
#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"

#define ALIGN alignof(max_align_t)

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct arena_chunk {
	struct arena_chunk *prev;	/* the chunk below, NULL at the bottom */
	size_t cap, used;
	max_align_t data[];		/* cap bytes */
};

static unsigned char *base(struct arena_chunk *c)
{
	return (unsigned char *)c->data;
}

/* n rounded up to ALIGN, or 0 when that overflows (n itself non-zero). */
static size_t round_align(size_t n)
{
	if (n > SIZE_MAX - (ALIGN - 1))
		return 0;
	return (n + ALIGN - 1) & ~(ALIGN - 1);
}

static struct arena_chunk *chunk_new(size_t cap, struct arena_chunk *prev)
{
	struct arena_chunk *c;

	if (cap > SIZE_MAX - sizeof(*c))
		return NULL;
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->prev = prev;
	c->cap = cap;
	c->used = 0;
	POISON(base(c), cap);
	return c;
}

static void chunk_free(struct arena_chunk *c)
{
	UNPOISON(base(c), c->cap);
	free(c);
}

/* Give back the top of c from used on. */
static void chunk_cut(struct arena_chunk *c, size_t used)
{
	POISON(base(c) + used, c->used - used);
	c->used = used;
}

static void *pb_alloc(void *data, size_t n)
{
	return arena_alloc(data, n);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

void arena_init(struct arena *a, size_t first, size_t keep_max)
{
	a->in_use = a->high = 0;
	a->keep_max = keep_max;
	a->head = first ? chunk_new(round_align(first), NULL) : NULL;
	a->pb.alloc = pb_alloc;
	a->pb.free = pb_free;
	a->pb.allocator_data = a;
}

void arena_fini(struct arena *a)
{
	while (a->head) {
		struct arena_chunk *c = a->head;

		a->head = c->prev;
		chunk_free(c);
	}
	a->in_use = a->high = 0;
}

/* Push a chunk that holds sz bytes; the top one's tail is left unused. */
static struct arena_chunk *grow(struct arena *a, size_t sz)
{
	size_t cap = a->head ? a->head->cap : ALIGN;
	struct arena_chunk *c;

	cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap < sz)
		cap = sz;
	c = chunk_new(cap, a->head);
	if (c)
		a->head = c;
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	static max_align_t empty;	/* what a 0-byte allocation points at */
	struct arena_chunk *c = a->head;
	size_t sz = round_align(n);
	void *p;

	if (n == 0)
		return c ? (void *)(base(c) + c->used) : (void *)&empty;
	if (sz == 0)
		return NULL;
	if (!c || c->cap - c->used < sz) {
		c = grow(a, sz);
		if (!c)
			return NULL;
	}
	p = base(c) + c->used;
	UNPOISON(p, n);
	c->used += sz;
	a->in_use += sz;
	if (a->in_use > a->high)
		a->high = a->in_use;
	return p;
}

void *arena_alloc_array(struct arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return arena_alloc(a, n * size);
}

struct arena_mark arena_mark(const struct arena *a)
{
	struct arena_mark m = {
		.chunk = a->head, .used = a->head ? a->head->used : 0,
		.in_use = a->in_use,
	};

	return m;
}

void arena_release(struct arena *a, struct arena_mark m)
{
	while (a->head != m.chunk) {
		struct arena_chunk *c = a->head;

		/* A release out of order would walk off the bottom. */
		assert(c);
		a->head = c->prev;
		chunk_free(c);
	}
	if (a->head)
		chunk_cut(a->head, m.used);
	a->in_use = m.in_use;
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->head;
	size_t want;

	if (c && !c->prev) {
		/* The steady state: everything fitted in the kept chunk. */
		chunk_cut(c, 0);
		a->in_use = a->high = 0;
		return;
	}
	while (a->head && a->head->prev) {
		c = a->head;
		a->head = c->prev;
		chunk_free(c);
	}
	/* A bottom chunk pushed for a huge request is not kept either. */
	if (a->head && a->head->cap > a->keep_max) {
		chunk_free(a->head);
		a->head = NULL;
	}
	want = round_align(a->high);
	if (want && want <= a->keep_max &&
	    (!a->head || a->head->cap < want)) {
		c = chunk_new(want, NULL);
		if (c) {
			if (a->head)
				chunk_free(a->head);
			a->head = c;
		}
	}
	if (a->head)
		chunk_cut(a->head, 0);
	a->in_use = a->high = 0;
}

ProtobufCAllocator *arena_protobuf(struct arena *a)
{
	return &a->pb;
}

size_t arena_kept(const struct arena *a)
{
	const struct arena_chunk *c = a->head;

	while (c && c->prev)
		c = c->prev;
	return c ? c->cap : 0;
}
