/*
 * arena.h - a bump allocator for the memory of one request (arena.c).
 *
 * Everything a request needs while it is handled - its unpacked protobuf
 * message and the handlers' scratch arrays - is bumped out of an arena and
 * given back all at once when the request is done, so the steady state
 * costs no malloc or free at all.  The caller owns the struct (init/fini).
 */
#ifndef KMEMD_ARENA_H
#define KMEMD_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;	/* chunk being bumped; the kept one last */
	size_t in_use;			/* bytes handed out, alignment included */
	size_t high;			/* most in use at once since the reset */
	size_t keep_max;		/* largest chunk kept across resets */
	ProtobufCAllocator pb;		/* protobuf-c's view of the arena */
};

/* A position to come back to (arena_release). */
struct arena_mark {
	struct arena_chunk *chunk;
	size_t used, in_use;
};

/*
 * arena_init - an arena whose first chunk holds first bytes and which
 * keeps chunks of at most keep_max bytes between resets (first <=
 * keep_max).  Allocates the first chunk now; when that fails the arena
 * still works, starting empty.
 */
void arena_init(struct arena *a, size_t first, size_t keep_max);

/* arena_fini - free every chunk.  a may be inited again. */
void arena_fini(struct arena *a);

/*
 * arena_alloc - n bytes aligned for any type (max_align_t), valid until
 * the arena is reset or released to a mark taken before this call.  n 0
 * gives a valid, non-NULL pointer that must not be written.  NULL when a
 * new chunk is needed and malloc fails.
 */
void *arena_alloc(struct arena *a, size_t n);

/* arena_alloc_array - n objects of size bytes each; NULL on overflow too. */
void *arena_alloc_array(struct arena *a, size_t n, size_t size);

/*
 * arena_mark / arena_release - scoped scratch: everything allocated after
 * the mark is given back by the release (chunks added since are freed).
 * Marks nest; releases must come in reverse order of the marks.
 */
struct arena_mark arena_mark(const struct arena *a);
void arena_release(struct arena *a, struct arena_mark m);

/*
 * arena_reset - give back everything.  Temporary chunks are freed; when
 * they were needed and the most in use at once fits keep_max, the kept
 * chunk is replaced by one that large, so the next request of that size
 * fits without a malloc.  The kept chunk never shrinks.
 */
void arena_reset(struct arena *a);

/* arena_protobuf - a ProtobufCAllocator that allocates from a; its free
 * is a no-op (the memory goes back at the reset). */
ProtobufCAllocator *arena_protobuf(struct arena *a);

/* arena_kept - bytes of the kept chunk (for tests and stats). */
size_t arena_kept(const struct arena *a);

#endif
