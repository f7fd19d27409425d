/*
 * fuzz_engine.c - engine operation scripts against a model.
 *
 * The input is a script.  Its first byte picks the heap: bit 0 the policy
 * (buddy or resource map), bits 1-2 one of four arena layouts over a
 * 4 MiB region of 4 KiB pages (one arena without physical addresses; four
 * arenas with made-up physical bases on both sides of 4 GiB, on two nodes,
 * with a gap; two arenas with an odd physical base; one arena with a small
 * largest order / a 2-page quantum).  The rest is operations, each an
 * opcode byte and its argument bytes (a script that runs out reads zeros):
 * kmalloc, xalloc under constraints, free, named caches (create, alloc,
 * destroy, shrink), claim, frees of offsets that are not allocations,
 * size queries, and a metadata allocation failure armed for the next
 * operation (lib/ is built with KMEM_FAULT_INJECT).
 *
 * A model holds every live allocation.  Each allocation is filled with a
 * pattern of its own when made and checked when freed; a zeroed one must
 * read as zeros first.  After every operation: kmem_heap_check passes, no
 * two live allocations overlap, and the heap's used bytes are exactly the
 * model's page allocations (at the length kmem_heap_size_of gives) plus
 * the bytes in slabs - at least that with the 2-page granule, where a
 * one-page slab occupies a whole granule that slab_bytes does not count
 * (reported; tighten the check if the engine starts counting it).  Each
 * result is held to its contract: constraints met on success, only
 * documented errors on failure (KMEM_ENOMETA only when a failure was
 * injected), a free of anything but a live allocation refused, and an
 * xalloc's length the one kmem_heap_size_of reports.  At the end
 * everything is freed and every cache destroyed; after a shrink the heap
 * must be pristine and every byte of metadata given back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/fault.h"
#include "kmem/heap.h"

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz: %s:%d: check failed: %s: ",	\
			__FILE__, __LINE__, #cond);			\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

#define KiB 1024ull
#define MiB (1024 * KiB)
#define PS (4 * KiB)
#define REGION (4 * MiB)
#define NPAGES (REGION / PS)
#define MAX_LIVE 512
#define NCACHES 8
#define NFREED 16

enum kind { K_KMALLOC, K_PAGES, K_CLAIM, K_OBJ };

struct alloc {
	uint64_t off, len;
	enum kind kind;
	int cache;		/* K_OBJ: the cache slot */
	uint8_t pat;
};

struct slot {
	struct kmem_cache *c;
	uint64_t objsize, align;
	unsigned live;
};

/* Everything one script works on. */
struct run {
	const uint8_t *p;
	size_t n;
	struct kmem_heap *h;
	const struct kmem_arena_desc *arenas;
	size_t narenas;
	struct alloc live[MAX_LIVE];
	size_t nlive;
	struct slot caches[NCACHES];
	struct { uint64_t off, len; } freed[NFREED];	/* recent frees */
	unsigned nfreed;
	bool armed;		/* a metadata failure is armed for this op */
	bool coarse;		/* resource map granule above the page size */
	uint8_t next_pat;
};

static uint8_t *mem;			/* the region */
static uint64_t dirty[NPAGES / 64];	/* pages written since zeroed */

/* ------------------------------------------------------------ layouts */

static const struct kmem_arena_desc layout_phys[] = {
	{ 0, 1 * MiB, 0x80000000ull, 0x1 | 0x2, 0 },
	{ 1 * MiB, 1 * MiB, 0xFFF80000ull, 0x1, 1 },
	{ 2 * MiB + 256 * KiB, 768 * KiB, 0x100003000ull, 0x1, 0 },
	{ 3 * MiB, 1 * MiB, 0, 0, -1 },
};

static const struct kmem_arena_desc layout_odd[] = {
	{ 0, 2 * MiB, 0x1000ull, 0x1 | 0x2, 0 },
	{ 2 * MiB, 2 * MiB, 0x100000000ull, 0x1, 1 },
};

static const struct kmem_arena_desc *arena_of(const struct run *r, uint64_t off)
{
	for (size_t i = 0; i < r->narenas; i++)
		if (off >= r->arenas[i].base &&
		    off - r->arenas[i].base < r->arenas[i].size)
			return &r->arenas[i];
	return NULL;
}

static struct kmem_heap *make_heap(struct run *r, uint8_t sel)
{
	struct kmem_heap_params p = {
		.size = REGION, .page_size = PS,
		.policy = (sel & 1) ? KMEM_POLICY_VMEM : KMEM_POLICY_BUDDY,
		.mem = mem, .mem_zeroed = true,
	};
	struct kmem_heap *h = NULL;
	char msg[KMEM_MSG_MAX] = "";
	int rc;

	switch ((sel >> 1) & 3) {
	case 1:
		p.arenas = layout_phys;
		p.narenas = sizeof(layout_phys) / sizeof(layout_phys[0]);
		break;
	case 2:
		p.arenas = layout_odd;
		p.narenas = sizeof(layout_odd) / sizeof(layout_odd[0]);
		break;
	case 3:
		p.max_order = 3;
		p.quantum = 2 * PS;
		r->coarse = p.policy == KMEM_POLICY_VMEM;
		break;
	}
	r->arenas = p.arenas;
	r->narenas = p.narenas;
	rc = kmem_heap_create(&p, &h, msg, sizeof(msg));
	FUZZ_CHECK(rc == 0, "heap create: %s: %s", kmem_strerror(rc), msg);
	return h;
}

/* ------------------------------------------------------------ input */

static uint64_t get(struct run *r, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8 | (r->n ? *r->p : 0);
		if (r->n) {
			r->p++;
			r->n--;
		}
	}
	return v;
}

/* Sizes from a byte or two: mostly small, sometimes pages, rarely huge. */
static uint64_t get_size(struct run *r)
{
	uint8_t sel = (uint8_t)get(r, 1);
	uint64_t v = get(r, 2);

	if (sel < 128)
		return 1 + v % 8192;
	if (sel < 240)
		return 1 + v * 16;
	return (v + 1) * PS * 16;	/* up to 4 GiB: too big */
}

static uint64_t get_pow2(struct run *r, unsigned max_shift)
{
	uint8_t v = (uint8_t)get(r, 1);

	return v < 64 ? 0 : 1ull << (v % (max_shift + 1));
}

/* ------------------------------------------------------------ memory */

static void mark_dirty(uint64_t off, uint64_t len)
{
	for (uint64_t p = off / PS; p <= (off + len - 1) / PS && p < NPAGES; p++)
		dirty[p / 64] |= 1ull << (p % 64);
}

/* The bytes checked of an allocation: all of a small one, samples of a
 * large one (the first and last 256 bytes and one byte a page). */
static bool reads_as(uint64_t off, uint64_t len, uint8_t v)
{
	const uint8_t *m = mem + off;

	if (len <= 16 * KiB) {
		for (uint64_t i = 0; i < len; i++)
			if (m[i] != v)
				return false;
		return true;
	}
	for (uint64_t i = 0; i < 256; i++)
		if (m[i] != v || m[len - 1 - i] != v)
			return false;
	for (uint64_t i = 0; i < len; i += PS)
		if (m[i] != v)
			return false;
	return true;
}

/* ------------------------------------------------------------ model */

static struct alloc *add(struct run *r, uint64_t off, uint64_t len,
			 enum kind kind, int cache)
{
	struct alloc *a;

	FUZZ_CHECK(len > 0 && off < REGION && len <= REGION - off,
		   "allocation [%llu, +%llu) outside the region",
		   (unsigned long long)off, (unsigned long long)len);
	FUZZ_CHECK(r->nlive < MAX_LIVE, "model full");
	a = &r->live[r->nlive++];
	a->off = off;
	a->len = len;
	a->kind = kind;
	a->cache = cache;
	a->pat = (uint8_t)(++r->next_pat | 1);	/* never 0 */
	memset(mem + off, a->pat, len);
	mark_dirty(off, len);
	return a;
}

static void forget(struct run *r, size_t i)
{
	struct alloc *a = &r->live[i];

	r->freed[r->nfreed % NFREED].off = a->off;
	r->freed[r->nfreed % NFREED].len = a->len;
	r->nfreed++;
	if (a->kind == K_OBJ)
		r->caches[a->cache].live--;
	r->live[i] = r->live[--r->nlive];
}

static int find_live(const struct run *r, uint64_t off)
{
	for (size_t i = 0; i < r->nlive; i++)
		if (r->live[i].off == off)
			return (int)i;
	return -1;
}

static int cmp_alloc(const void *x, const void *y)
{
	const struct alloc *a = x, *b = y;

	return a->off < b->off ? -1 : a->off > b->off;
}

static void check_state(struct run *r, const char *op)
{
	static struct alloc v[MAX_LIVE];
	struct kmem_heap_stats st;
	uint64_t pages = 0;
	int rc = kmem_heap_check(r->h);

	FUZZ_CHECK(rc == 0, "after %s: kmem_heap_check: %s", op, kmem_strerror(rc));
	memcpy(v, r->live, r->nlive * sizeof(v[0]));
	qsort(v, r->nlive, sizeof(v[0]), cmp_alloc);
	for (size_t i = 1; i < r->nlive; i++)
		FUZZ_CHECK(v[i - 1].off + v[i - 1].len <= v[i].off, "after %s: "
			   "[%llu, +%llu) overlaps [%llu, +%llu)", op,
			   (unsigned long long)v[i - 1].off,
			   (unsigned long long)v[i - 1].len,
			   (unsigned long long)v[i].off, (unsigned long long)v[i].len);
	for (size_t i = 0; i < r->nlive; i++)
		if (r->live[i].kind != K_OBJ && !(r->live[i].kind == K_KMALLOC &&
						  r->live[i].len <= KMEM_KMALLOC_MAX))
			pages += r->live[i].len;
	kmem_heap_stats(r->h, &st);
	/* A slab is a run of pages; a granule larger than a page may hold
	 * more of the region than the slab counts (see the layouts). */
	FUZZ_CHECK(r->coarse ? st.used_bytes >= pages + st.slab_bytes :
		   st.used_bytes == pages + st.slab_bytes, "after %s: %llu bytes "
		   "used, the model has %llu in pages and the heap %llu in slabs",
		   op, (unsigned long long)st.used_bytes, (unsigned long long)pages,
		   (unsigned long long)st.slab_bytes);
}

/* An error is allowed if it is one of the listed codes, or a metadata
 * failure that was injected. */
static void allowed(const struct run *r, int rc, const char *op,
		    const int *codes, size_t n)
{
	if (rc == 0 || (rc == KMEM_ENOMETA && r->armed))
		return;
	for (size_t i = 0; i < n; i++)
		if (rc == codes[i])
			return;
	FUZZ_CHECK(0, "%s returned %s", op, kmem_errname(rc));
}

#define ALLOWED(r, rc, op, ...) do {					\
	static const int codes_[] = { __VA_ARGS__ };			\
	allowed(r, rc, op, codes_, sizeof(codes_) / sizeof(codes_[0]));	\
} while (0)

/* ------------------------------------------------------------ operations */

static void op_kmalloc(struct run *r)
{
	uint64_t size = get_size(r), off, len;
	int rc = kmem_heap_alloc(r->h, size, &off);

	ALLOWED(r, rc, "kmem_heap_alloc", KMEM_ENOMEM, KMEM_ETOOBIG);
	FUZZ_CHECK(rc != KMEM_ETOOBIG || size > REGION, "%llu bytes too big",
		   (unsigned long long)size);
	if (rc)
		return;
	rc = kmem_heap_size_of(r->h, off, &len);
	FUZZ_CHECK(rc == 0 && len >= size, "size_of %llu: %s, %llu for %llu",
		   (unsigned long long)off, kmem_strerror(rc),
		   (unsigned long long)len, (unsigned long long)size);
	add(r, off, len, K_KMALLOC, -1);
}

static void check_placement(const struct run *r, const struct kmem_alloc_req *q,
			    const struct kmem_alloc_res *res)
{
	const struct kmem_arena_desc *a = arena_of(r, res->off);
	uint64_t align = q->align > PS ? q->align : PS, lo, hi;

	FUZZ_CHECK(res->len >= q->size && res->off % align == 0, "xalloc of "
		   "%llu aligned %llu gave [%llu, +%llu)",
		   (unsigned long long)q->size, (unsigned long long)q->align,
		   (unsigned long long)res->off, (unsigned long long)res->len);
	if (!r->arenas)
		return;
	FUZZ_CHECK(a && res->off + res->len <= a->base + a->size,
		   "[%llu, +%llu) is not inside one arena",
		   (unsigned long long)res->off, (unsigned long long)res->len);
	FUZZ_CHECK(q->node < 0 || a->node == q->node, "node %d asked, %d given",
		   q->node, a->node);
	if (!q->dma_mask && !q->boundary && !(q->flags & KMEM_ALLOC_DMA32))
		return;
	FUZZ_CHECK(a->flags & KMEM_ARENA_PHYS, "physical constraint met by an "
		   "arena without physical addresses");
	lo = a->phys + (res->off - a->base);
	hi = lo + res->len - 1;
	FUZZ_CHECK(!q->dma_mask || hi <= q->dma_mask, "phys %llx beyond mask %llx",
		   (unsigned long long)hi, (unsigned long long)q->dma_mask);
	FUZZ_CHECK(!(q->flags & KMEM_ALLOC_DMA32) || hi <= 0xffffffffull,
		   "DMA32 allocation ends at phys %llx", (unsigned long long)hi);
	FUZZ_CHECK(!q->boundary ||
		   lo / q->boundary == (lo + q->size - 1) / q->boundary,
		   "[%llx, +%llu) crosses a %llu boundary", (unsigned long long)lo,
		   (unsigned long long)q->size, (unsigned long long)q->boundary);
}

static void op_xalloc(struct run *r)
{
	static const int nodes[] = { -1, 0, 1, 7 };
	static const uint64_t masks[] = {
		0, 0xffffffffull, 0x1ffffffffull, 0x800fffffull,
	};
	struct kmem_alloc_req q = { .size = get_size(r) };
	struct kmem_alloc_res res;
	char msg[KMEM_MSG_MAX];
	uint64_t len;
	uint8_t f = (uint8_t)get(r, 1);
	int rc;

	q.align = get_pow2(r, 23);
	q.flags = f & (KMEM_ALLOC_ZERO | KMEM_ALLOC_DMA32 | KMEM_ALLOC_POW2);
	q.node = nodes[(f >> 3) & 3];
	q.dma_mask = masks[(f >> 5) & 3];
	q.boundary = (f & 0x80) ? get_pow2(r, 22) : 0;
	rc = kmem_heap_xalloc(r->h, &q, &res, msg, sizeof(msg));
	ALLOWED(r, rc, "kmem_heap_xalloc", KMEM_ENOMEM, KMEM_ETOOBIG,
		KMEM_ECONSTRAINT);
	if (rc) {
		FUZZ_CHECK(msg[0], "xalloc failed without a message");
		return;
	}
	check_placement(r, &q, &res);
	rc = kmem_heap_size_of(r->h, res.off, &len);
	FUZZ_CHECK(rc == 0 && len == res.len, "xalloc of %llu gave [%llu, +%llu), "
		   "size_of says %s, %llu bytes", (unsigned long long)q.size,
		   (unsigned long long)res.off, (unsigned long long)res.len,
		   kmem_errname(rc), (unsigned long long)len);
	FUZZ_CHECK(!(q.flags & KMEM_ALLOC_ZERO) || reads_as(res.off, res.len, 0),
		   "zeroed allocation [%llu, +%llu) is not zero",
		   (unsigned long long)res.off, (unsigned long long)res.len);
	add(r, res.off, res.len, K_PAGES, -1);
}

static void free_at(struct run *r, size_t i)
{
	struct alloc *a = &r->live[i];
	int rc;

	FUZZ_CHECK(reads_as(a->off, a->len, a->pat), "[%llu, +%llu) was "
		   "overwritten while live", (unsigned long long)a->off,
		   (unsigned long long)a->len);
	if (a->kind == K_OBJ) {
		rc = kmem_heap_free(r->h, a->off);
		FUZZ_CHECK(rc == KMEM_EWRONGCACHE, "kfree of a cache object: %s",
			   kmem_errname(rc));
		rc = kmem_cache_free(r->caches[a->cache].c, a->off);
	} else {
		rc = kmem_heap_free(r->h, a->off);
	}
	FUZZ_CHECK(rc == 0, "free of live [%llu, +%llu): %s",
		   (unsigned long long)a->off, (unsigned long long)a->len,
		   kmem_errname(rc));
	forget(r, i);
}

static void op_free(struct run *r)
{
	uint8_t i = (uint8_t)get(r, 1);

	if (r->nlive)
		free_at(r, i % r->nlive);
}

/* A free of an offset that is not (or no longer) an allocation. */
static void op_bad_free(struct run *r)
{
	uint8_t mode = (uint8_t)get(r, 1);
	uint64_t off;
	int i, rc;

	if (mode < 96 && r->nfreed)
		off = r->freed[mode % (r->nfreed < NFREED ? r->nfreed : NFREED)].off;
	else if (mode < 160 && r->nlive)
		off = r->live[mode % r->nlive].off + 1 + get(r, 2) %
		      r->live[mode % r->nlive].len;
	else
		off = get(r, 4) % (REGION + 64 * KiB);
	i = find_live(r, off);
	if (i >= 0 && r->live[i].kind != K_OBJ) {
		free_at(r, (size_t)i);
		return;
	}
	rc = kmem_heap_free(r->h, off);
	FUZZ_CHECK(rc != 0, "kfree(%llu) of %s succeeded", (unsigned long long)off,
		   i >= 0 ? "a cache object" : "no allocation");
}

static void op_cache_create(struct run *r)
{
	uint8_t s = (uint8_t)get(r, 1) % NCACHES, f = (uint8_t)get(r, 1);
	struct slot *sl = &r->caches[s];
	char name[16];
	struct kmem_cache_params p = {
		.name = name, .size = 1 + get(r, 2) % 40000,
		.align = get_pow2(r, 13), .flags = f & KMEM_CACHE_COLOUR,
		.slab_pages = (f >> 1) % 5, .reserve = (f >> 4) % 3,
	};
	struct kmem_cache *c;
	int rc;

	snprintf(name, sizeof(name), "cache%u", s);
	rc = kmem_cache_create(r->h, &p, &c);
	if (sl->c) {
		FUZZ_CHECK(rc == KMEM_EEXIST || (rc == KMEM_ENOMETA && r->armed) ||
			   rc == KMEM_EINVAL, "a second cache %s: %s", name,
			   kmem_errname(rc));
		return;
	}
	ALLOWED(r, rc, "kmem_cache_create", KMEM_EINVAL, KMEM_EALIGN);
	if (rc)
		return;
	sl->c = c;
	sl->objsize = kmem_cache_objsize(c);
	sl->align = p.align ? p.align : 8;
	sl->live = 0;
	FUZZ_CHECK(sl->objsize >= p.size && sl->objsize % sl->align == 0,
		   "cache of %llu aligned %llu has %llu-byte objects",
		   (unsigned long long)p.size, (unsigned long long)sl->align,
		   (unsigned long long)sl->objsize);
}

static void op_cache_alloc(struct run *r)
{
	struct slot *sl = &r->caches[get(r, 1) % NCACHES];
	uint64_t off, len;
	int rc;

	if (!sl->c)
		return;
	rc = kmem_cache_alloc(sl->c, &off);
	ALLOWED(r, rc, "kmem_cache_alloc", KMEM_ENOMEM);
	if (rc)
		return;
	FUZZ_CHECK(off % sl->align == 0, "object %llu not aligned to %llu",
		   (unsigned long long)off, (unsigned long long)sl->align);
	rc = kmem_heap_size_of(r->h, off, &len);
	FUZZ_CHECK(rc == 0 && len == sl->objsize, "size_of object: %s, %llu",
		   kmem_errname(rc), (unsigned long long)len);
	add(r, off, sl->objsize, K_OBJ, (int)(sl - r->caches));
	sl->live++;
}

static void op_cache_destroy(struct run *r)
{
	struct slot *sl = &r->caches[get(r, 1) % NCACHES];
	int rc;

	if (!sl->c)
		return;
	rc = kmem_cache_destroy(sl->c);
	if (sl->live) {
		FUZZ_CHECK(rc == KMEM_EBUSY, "destroy of a cache with %u live "
			   "objects: %s", sl->live, kmem_errname(rc));
		return;
	}
	FUZZ_CHECK(rc == 0, "destroy of an empty cache: %s", kmem_errname(rc));
	sl->c = NULL;
}

static void op_shrink(struct run *r)
{
	uint8_t s = (uint8_t)get(r, 1);
	struct slot *sl = &r->caches[s % NCACHES];

	if (sl->c && (s & 8))
		kmem_cache_shrink(sl->c);
	else
		kmem_heap_shrink(r->h);
}

static void op_claim(struct run *r)
{
	uint8_t mode = (uint8_t)get(r, 1);
	uint64_t off, len, got;
	int rc;

	if (mode < 128 && r->nfreed) {
		unsigned k = mode % (r->nfreed < NFREED ? r->nfreed : NFREED);

		off = r->freed[k].off;
		len = r->freed[k].len;
	} else if (mode < 160 && r->nlive) {
		off = r->live[mode % r->nlive].off & ~(PS - 1);
		len = PS;
	} else {
		off = get(r, 2) % (NPAGES + 16) * PS;
		len = (1 + get(r, 1)) * PS;
	}
	rc = kmem_heap_claim(r->h, off, len);
	if (rc) {
		FUZZ_CHECK(rc != KMEM_ENOMETA || r->armed, "claim: ENOMETA");
		return;
	}
	rc = kmem_heap_size_of(r->h, off, &got);
	FUZZ_CHECK(rc == 0 && got >= len, "claimed [%llu, +%llu): size_of %s, %llu",
		   (unsigned long long)off, (unsigned long long)len,
		   kmem_errname(rc), (unsigned long long)got);
	add(r, off, got, K_CLAIM, -1);
}

static void op_size_of(struct run *r)
{
	uint8_t i = (uint8_t)get(r, 1);
	uint64_t len;
	int rc;

	if (!r->nlive)
		return;
	struct alloc *a = &r->live[i % r->nlive];

	rc = kmem_heap_size_of(r->h, a->off, &len);
	FUZZ_CHECK(rc == 0 && len == a->len, "size_of live [%llu, +%llu): %s, %llu",
		   (unsigned long long)a->off, (unsigned long long)a->len,
		   kmem_errname(rc), (unsigned long long)len);
	if (a->len > 1) {
		uint64_t in = a->off + 1 + (get(r, 2) % (a->len - 1));

		/* Inside an allocation is never the start of another. */
		FUZZ_CHECK(kmem_heap_size_of(r->h, in, &len) != 0, "size_of(%llu), "
			   "inside [%llu, +%llu), succeeded", (unsigned long long)in,
			   (unsigned long long)a->off, (unsigned long long)a->len);
	}
}

/* ------------------------------------------------------------ the script */

static void step(struct run *r, uint8_t op)
{
	static void (*const ops[])(struct run *) = {
		op_kmalloc, op_kmalloc, op_free, op_free, op_xalloc, op_xalloc,
		op_cache_create, op_cache_alloc, op_cache_alloc, op_cache_destroy,
		op_claim, op_bad_free, op_size_of, op_shrink,
	};
	static const char *const names[] = {
		"kmalloc", "kmalloc", "free", "free", "xalloc", "xalloc",
		"cache_create", "cache_alloc", "cache_alloc", "cache_destroy",
		"claim", "bad_free", "size_of", "shrink",
	};
	const size_t nops = sizeof(ops) / sizeof(ops[0]);

	if (op % (nops + 1) == nops) {
		/* Fail the Nth metadata allocation of the next operation. */
		kmem_fault_fail_nth(1 + get(r, 1) % 8);
		r->armed = true;
		return;
	}
	ops[op % (nops + 1)](r);
	kmem_fault_fail_nth(0);
	r->armed = false;
	check_state(r, names[op % (nops + 1)]);
}

static void finish(struct run *r)
{
	while (r->nlive)
		free_at(r, r->nlive - 1);
	for (size_t i = 0; i < NCACHES; i++)
		if (r->caches[i].c)
			FUZZ_CHECK(kmem_cache_destroy(r->caches[i].c) == 0,
				   "destroy of empty cache %zu", i);
	kmem_heap_shrink(r->h);
	check_state(r, "the end");
	FUZZ_CHECK(kmem_heap_is_pristine(r->h), "everything freed, yet the heap "
		   "is not pristine");
	kmem_heap_destroy(r->h);
	FUZZ_CHECK(kmem_fault_live() == 0, "%ld metadata allocations leaked",
		   kmem_fault_live());
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mem = aligned_alloc(PS, REGION);
	FUZZ_CHECK(mem, "out of memory");
	memset(mem, 0, REGION);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;

	/* The region starts zeroed, as the heap is told. */
	for (uint64_t p = 0; p < NPAGES; p++)
		if (dirty[p / 64] >> (p % 64) & 1)
			memset(mem + p * PS, 0, PS);
	memset(dirty, 0, sizeof(dirty));
	memset(&r, 0, sizeof(r));
	r.p = data;
	r.n = size;
	r.h = make_heap(&r, (uint8_t)get(&r, 1));
	check_state(&r, "create");
	while (r.n)
		step(&r, (uint8_t)get(&r, 1));
	kmem_fault_fail_nth(0);
	r.armed = false;
	finish(&r);
	return 0;
}
