/*
 * kmem/vmem.h - vmem-style resource map: arbitrary-length ranges of an
 * integer address space (Bonwick & Adams 2001, "Magazines and Vmem";
 * Vahalia 12.3).
 *
 * An arena manages offsets, never memory.  Its address space is the union
 * of spans added with kmem_vmem_add(); a range handed out never crosses
 * from one span into another, even when two spans touch.  Sizes are
 * rounded up to the arena's quantum and to nothing else, so a 12 KiB
 * request costs exactly 12 KiB.  Metadata lives out of band (one segment
 * record per free or allocated range, plus a hash table of allocated
 * starts), so nothing written into the managed memory can corrupt it.
 *
 * Every call returns 0 or a negative KMEM_E* code; out-parameters are
 * written only on success, and a failed call leaves the arena exactly as
 * it was (its stats compare equal before and after).
 *
 * Single-threaded by contract: callers serialise access.
 */
#ifndef KMEM_VMEM_H
#define KMEM_VMEM_H

#include <stdint.h>

#define KMEM_VMEM_NLISTS 64	/* free list k holds segments of [2^k, 2^k+1) */

struct kmem_vmem;

/*
 * Allocation policies (vmem's VM_INSTANTFIT, VM_BESTFIT, VM_FIRSTFIT).
 *   INSTANTFIT  any segment from the smallest free list whose members are
 *               all large enough; O(1) for unconstrained requests.
 *   BESTFIT     the smallest free segment that fits (lowest address among
 *               equals); O(free segments of the candidate size classes).
 *   FIRSTFIT    the lowest address that fits; O(free segments of the
 *               candidate size classes).
 * KMEM_VMEM_DEFAULT means "instant fit" at create time and "the arena's
 * policy" in a request.
 */
enum kmem_vmem_policy {
	KMEM_VMEM_DEFAULT = 0,
	KMEM_VMEM_INSTANTFIT,
	KMEM_VMEM_BESTFIT,
	KMEM_VMEM_FIRSTFIT,
};

struct kmem_vmem_params {
	uint64_t quantum;		/* power of two; 0 = 1 byte */
	enum kmem_vmem_policy policy;	/* the arena's default policy */
	uint64_t base, size;		/* optional first span; size 0 = none */
};

/*
 * A constrained request (vmem_xalloc).  Zero in every field but size means
 * "no constraint".  The range [off, off + size) returned satisfies:
 *   off % align == phase           (align a power of two; 0 or 1 = none)
 *   off / nocross == (off + size - 1) / nocross
 *                                  (nocross a power of two; 0 = none)
 *   minaddr <= off and off + size <= maxaddr   (maxaddr 0 = no limit)
 */
struct kmem_vmem_req {
	uint64_t size;
	uint64_t align;
	uint64_t phase;
	uint64_t nocross;
	uint64_t minaddr;
	uint64_t maxaddr;
	enum kmem_vmem_policy policy;	/* KMEM_VMEM_DEFAULT = the arena's */
};

struct kmem_vmem_stats {
	uint64_t quantum;
	uint64_t total_bytes;		/* sum of the spans */
	uint64_t free_bytes;
	uint64_t used_bytes;
	uint64_t nr_spans;
	uint64_t nr_free_segs;
	uint64_t nr_alloc_segs;
	uint64_t largest_free;		/* bytes in the largest free segment */
	uint64_t nr_free[KMEM_VMEM_NLISTS];	/* segments per free list */
	uint64_t allocs, frees;		/* successful calls since create */
	uint64_t nr_spare_segs;		/* recycled segment records kept */
	uint64_t hash_buckets;		/* size of the allocated-start table */
	uint64_t meta_bytes;		/* all metadata the arena holds */
};

/*
 * kmem_vmem_create - make an arena.  params may be NULL (quantum 1, instant
 * fit, no span).  When params->size is not 0, the span [base, base + size)
 * is added as by kmem_vmem_add().
 * Returns 0 and *out; KMEM_EINVAL for a quantum that is not a power of two
 * or an unknown policy; the errors of kmem_vmem_add() for the first span;
 * KMEM_ENOMETA when metadata cannot be allocated.
 */
int kmem_vmem_create(const struct kmem_vmem_params *params,
		     struct kmem_vmem **out);

/*
 * kmem_vmem_destroy - release the arena and all its metadata, even with
 * allocations still live (the managed memory is the caller's).  NULL is
 * allowed.
 */
void kmem_vmem_destroy(struct kmem_vmem *vm);

/*
 * kmem_vmem_add - add the span [base, base + size), all free.  Spans never
 * coalesce with each other, even when they touch.
 * Errors: KMEM_EZEROSIZE for size 0; KMEM_EALIGN when base or size is not
 * a multiple of the quantum; KMEM_ERANGE when base + size exceeds
 * UINT64_MAX; KMEM_EEXIST when the range overlaps a span already added;
 * KMEM_ENOMETA.  O(spans).
 */
int kmem_vmem_add(struct kmem_vmem *vm, uint64_t base, uint64_t size);

/*
 * kmem_vmem_alloc - allocate size bytes (rounded up to the quantum), with
 * the arena's policy and no constraints: the fast path, O(1) under instant
 * fit unless only the list below the request's power of two can serve it.
 * Returns 0 and *off.  Errors: KMEM_EZEROSIZE; KMEM_ETOOBIG when size
 * exceeds the largest span (no span could ever hold it; every size does
 * while the arena has no span); KMEM_ENOMEM when no free segment is large
 * enough now; KMEM_ENOMETA.
 */
int kmem_vmem_alloc(struct kmem_vmem *vm, uint64_t size, uint64_t *off);

/*
 * kmem_vmem_xalloc - allocate req->size bytes (rounded up to the quantum)
 * under req's constraints and policy.  The arena's addresses are all
 * multiples of the quantum, so an alignment below the quantum is raised to
 * it, the phase must be a multiple of the quantum (or of the alignment,
 * when that is smaller), minaddr is rounded up and maxaddr down to it.
 * Returns 0 and *off.  Errors, checked in this order:
 *   KMEM_EZEROSIZE  size 0;
 *   KMEM_EINVAL     unknown policy;
 *   KMEM_EALIGN     align or nocross not 0 and not a power of two;
 *   KMEM_ETOOBIG    size exceeds the largest span;
 *   KMEM_ECONSTRAINT  the constraints contradict one another, whatever
 *                   the spans: phase >= align (or phase != 0 without
 *                   align), a phase off the quantum, nocross smaller than
 *                   the size (or than phase % nocross + size), or no
 *                   address in [minaddr, maxaddr) that satisfies them all;
 *   KMEM_ENOMEM     no free segment satisfies them now (this includes a
 *                   window that lies outside every span);
 *   KMEM_ENOMETA.
 * Cost: O(free segments in the size classes searched), since a segment
 * may be large enough and still fail the constraints.
 */
int kmem_vmem_xalloc(struct kmem_vmem *vm, const struct kmem_vmem_req *req,
		     uint64_t *off);

/*
 * kmem_vmem_free - free the allocation that starts at off, whatever call
 * made it, coalescing with free neighbours in the same span.  O(1)
 * expected; never allocates metadata.
 * Errors (and nothing changes): KMEM_ERANGE when off lies in no span;
 * KMEM_EMISALIGNED when off lies inside an allocation but not at its
 * start; KMEM_EDOUBLEFREE when off is the start of a free segment;
 * KMEM_ENOTALLOC when it lies inside one (never allocated, or freed and
 * since merged).  Telling these apart walks the spans and then the
 * segments of off's span: an erroneous call costs O(spans + segments in
 * that span), a correct one O(1).  Callers that face untrusted offsets in
 * bulk should check them against their own records first.
 */
int kmem_vmem_free(struct kmem_vmem *vm, uint64_t off);

/*
 * kmem_vmem_free_sized - free as kmem_vmem_free(), checking the size:
 * size rounded up to the quantum must equal the allocation's size
 * (KMEM_ESIZE otherwise; the offset is classified first).
 */
int kmem_vmem_free_sized(struct kmem_vmem *vm, uint64_t off, uint64_t size);

/*
 * kmem_vmem_size_of - the size in bytes of the allocation starting at off.
 * Errors as kmem_vmem_free, without changing anything.
 */
int kmem_vmem_size_of(const struct kmem_vmem *vm, uint64_t off,
		      uint64_t *size);

/*
 * kmem_vmem_stats - fill *st.  O(free segments in the largest size class),
 * for largest_free.
 */
void kmem_vmem_stats(const struct kmem_vmem *vm, struct kmem_vmem_stats *st);

/* Getters; largest_free costs as kmem_vmem_stats, the others O(1). */
uint64_t kmem_vmem_quantum(const struct kmem_vmem *vm);
uint64_t kmem_vmem_total_bytes(const struct kmem_vmem *vm);
uint64_t kmem_vmem_free_bytes(const struct kmem_vmem *vm);
uint64_t kmem_vmem_largest_free(const struct kmem_vmem *vm);
uint64_t kmem_vmem_meta_bytes(const struct kmem_vmem *vm);

/*
 * kmem_vmem_check - walk every segment, free list, hash chain and spare
 * record and verify the invariants: spans are sorted and disjoint, each
 * span is tiled exactly by its segments, no two free segments touch
 * within a span, the free lists hold exactly the free segments (each in
 * the list of its size class), the hash holds exactly the allocated
 * segments (each in the bucket of its start), and the counters agree.
 * Returns 0 or KMEM_ECORRUPT.  O(segments + buckets).
 */
int kmem_vmem_check(const struct kmem_vmem *vm);

#endif
