/*
 * lease.c - the lease table: records, ids and names, O(1) whatever the
 * number of live leases.
 *
 * Records.  Lease records (and the out-of-line name and tag of the few
 * leases that have them) are carved from CHUNK-byte chunks aligned to
 * their size, so the chunk of a record is its address rounded down.  Each
 * chunk has a free list and a bump index for records never used; chunks
 * with room are on a partial list, the others on a full list.  A chunk
 * whose last record is freed is freed, except one kept as a spare so that
 * a count that swings around a chunk boundary does not map and unmap at
 * every swing.  Allocation and free are O(1); memory is bounded by the
 * live records plus one partly used chunk per swing (the usual slab
 * bound: Bonwick 1994).
 *
 * Ids.  An open-addressing index of (id, record) slots with linear
 * probing and multiplicative (Fibonacci) hashing on the top bits of the
 * id's group of eight (home() says why groups), so a probe reads 16-byte
 * slots, four to a cache line, without touching a record.  Deletion
 * empties the slot at the end of a probe run and leaves a tombstone inside
 * one (index_delete); inserts reuse tombstones.  Load, tombstones
 * included, stays between 1/8 and 3/4 (lower while a reclaim empties the
 * table: the index shrinks once after).  Resizing, which also drops the
 * tombstones, is incremental: a new index becomes current, and every
 * insert and remove moves MOVE_STEP of the previous one's slots across;
 * lookups try the current index and then the previous.  The previous one
 * takes no inserts and turns moved or removed entries into tombstones, so
 * its probe runs stay whole.  Because the home slot is the hash's top
 * bits, slot i of the old index lands near slot i * new size / old size
 * of the new, give or take a group: the move is a sequential merge, not a
 * scatter.  No request ever pays for a whole rehash.  (Knuth, TAOCP
 * vol. 3, 6.4; Redis's dict for the incremental rehash.)
 *
 * Names.  A chained hash through the text blocks, grown at load 1; only
 * persistent leases have names, and there are few.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lease.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK ((size_t)64 << 10)
#define CHUNK_HDR 64		/* records start a cache line in */
#define MIN_SLOTS 256
#define MIN_NAMES 64
#define MOVE_STEP 32		/* old slots moved per insert or remove */
#define GROUP_BITS 3
#define GROUP (1u << GROUP_BITS)	/* ids that share a run of slots */
#define GOLDEN 0x9E3779B97F4A7C15ull

/* The out-of-line name and tag; name first, so l->name finds the block. */
struct lease_text {
	char name[LEASE_NAME_MAX];
	char tag[LEASE_TAG_MAX];
	struct lease *nnext;		/* name hash chain */
};

struct lease_chunk {
	struct lease_chunk *next, *prev;
	void *free;			/* free records, linked by their first word */
	unsigned used;			/* records handed out */
	unsigned fresh;			/* records from here on never used */
};

_Static_assert(sizeof(struct lease_chunk) <= CHUNK_HDR, "chunk header");
_Static_assert(sizeof(struct lease) == 192, "a lease is three cache lines");

static const char empty[1] = "";

/* ------------------------------------------------------------ records */

static void recs_init(struct lease_recs *r, size_t size)
{
	memset(r, 0, sizeof(*r));
	r->size = size;
	r->per_chunk = (unsigned)((CHUNK - CHUNK_HDR) / size);
}

static struct lease_chunk *chunk_of(const void *p)
{
	return (struct lease_chunk *)((uintptr_t)p & ~(uintptr_t)(CHUNK - 1));
}

static void list_push(struct lease_chunk **head, struct lease_chunk *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

static void list_del(struct lease_chunk **head, struct lease_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static struct lease_chunk *chunk_new(struct lease_recs *r)
{
	struct lease_chunk *c = r->spare;
	void *p;

	if (c) {
		r->spare = NULL;
		return c;
	}
	if (posix_memalign(&p, CHUNK, CHUNK))
		return NULL;
	c = p;
	memset(c, 0, sizeof(*c));
	POISON((char *)c + CHUNK_HDR, CHUNK - CHUNK_HDR);
	r->chunks++;
	return c;
}

static void chunk_free(struct lease_recs *r, struct lease_chunk *c)
{
	UNPOISON(c, CHUNK);
	free(c);
	r->chunks--;
}

/* A zeroed record, or NULL on ENOMEM. */
static void *recs_alloc(struct lease_recs *r)
{
	struct lease_chunk *c = r->partial;
	void *p;

	if (!c) {
		c = chunk_new(r);
		if (!c)
			return NULL;
		list_push(&r->partial, c);
	}
	if (c->free) {
		p = c->free;
		UNPOISON(p, sizeof(void *));
		c->free = *(void **)p;
	} else {
		p = (char *)c + CHUNK_HDR + (size_t)c->fresh++ * r->size;
	}
	if (++c->used == r->per_chunk) {
		list_del(&r->partial, c);
		list_push(&r->full, c);
	}
	r->used++;
	UNPOISON(p, r->size);
	memset(p, 0, r->size);
	return p;
}

static void recs_free(struct lease_recs *r, void *p)
{
	struct lease_chunk *c = chunk_of(p);

	if (c->used-- == r->per_chunk) {
		list_del(&r->full, c);
		list_push(&r->partial, c);
	}
	r->used--;
	if (c->used == 0) {
		list_del(&r->partial, c);
		if (r->spare) {
			chunk_free(r, c);
			return;
		}
		/* The spare starts over from its bump index. */
		c->free = NULL;
		c->fresh = 0;
		POISON((char *)c + CHUNK_HDR, CHUNK - CHUNK_HDR);
		r->spare = c;
		return;
	}
	*(void **)p = c->free;
	c->free = p;
	POISON(p, r->size);
}

static void recs_fini(struct lease_recs *r)
{
	struct lease_chunk *lists[2] = { r->partial, r->full };

	for (int i = 0; i < 2; i++)
		for (struct lease_chunk *c = lists[i], *next; c; c = next) {
			next = c->next;
			chunk_free(r, c);
		}
	if (r->spare)
		chunk_free(r, r->spare);
	r->partial = r->full = r->spare = NULL;
}

/* ------------------------------------------------------------ id index */

/*
 * The home slot of id: its group of GROUP consecutive ids hashed to an
 * aligned run of GROUP slots, the id's low bits within it.  Ids are
 * issued in order, so the leases a client takes together (a batch, a
 * ledger) sit in the same two cache lines and a new id is usually next to
 * the last one: an insert touches a line already loaded, and a reclaim
 * walks the index in order.  The groups themselves are spread by the hash.
 */
static size_t home(const struct lease_index *x, uint64_t id)
{
	uint64_t h = (id >> GROUP_BITS) * GOLDEN;

	return (size_t)(h >> (x->shift + GROUP_BITS)) << GROUP_BITS |
	       (size_t)(id & (GROUP - 1));
}

/* Index memory straight from mmap: zero pages on demand (no memset of
 * megabytes in the request that grows the index, whatever malloc's
 * thresholds are) and page-aligned, so groups are line-aligned. */
static int index_init(struct lease_index *x, size_t size)
{
	unsigned bits = 0;
	void *p;

	while (((size_t)1 << bits) < size)
		bits++;
	p = mmap(NULL, size * sizeof(*x->slot), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	x->slot = p;
	x->size = size;
	x->shift = 64 - bits;
	x->used = 0;
	x->tombs = 0;
	return 0;
}

static void index_fini(struct lease_index *x)
{
	if (x->size)
		munmap(x->slot, x->size * sizeof(*x->slot));
	memset(x, 0, sizeof(*x));
}

/* The slot holding id (live or tombstone), or NULL. */
static struct lease_slot *index_slot(const struct lease_index *x, uint64_t id)
{
	size_t mask = x->size - 1;

	if (!x->size)
		return NULL;
	for (size_t i = home(x, id);; i = (i + 1) & mask) {
		struct lease_slot *s = &x->slot[i];

		if (s->id == id)
			return s;
		if (!s->id)
			return NULL;
	}
}

/* Into the current index, which always has an empty slot: the first
 * empty slot or tombstone from id's home (ids are never reused, so id is
 * nowhere further on). */
static void index_put(struct lease_index *x, uint64_t id, struct lease *l)
{
	size_t mask = x->size - 1, i = home(x, id);

	while (x->slot[i].id && x->slot[i].l)
		i = (i + 1) & mask;
	if (x->slot[i].id)
		x->tombs--;
	x->slot[i].id = id;
	x->slot[i].l = l;
	x->used++;
}

/*
 * Remove the entry at slot i of the current index.  At the end of a probe
 * run the slot is emptied, and so are the tombstones just before it; inside
 * a run it becomes a tombstone.  (Shifting the rest of the run back, as
 * Knuth's algorithm R does, reads on to the run's end: with groups of ids
 * in runs of eight and more, lines that nothing else needs.)  Tombstones
 * count towards the load, and the next resize drops them.
 */
static void index_delete(struct lease_index *x, size_t i)
{
	size_t mask = x->size - 1;

	x->used--;
	if (x->slot[(i + 1) & mask].id) {
		x->slot[i].l = NULL;
		x->tombs++;
		return;
	}
	x->slot[i].id = 0;
	x->slot[i].l = NULL;
	for (i = (i - 1) & mask; x->slot[i].id && !x->slot[i].l;
	     i = (i - 1) & mask) {
		x->slot[i].id = 0;
		x->tombs--;
	}
}

/* Move up to n of the old index's slots into the current one. */
static void move_some(struct lease_table *t, size_t n)
{
	struct lease_index *o = &t->old;

	while (o->size && n--) {
		struct lease_slot *s = &o->slot[t->moved++];

		if (s->id && s->l) {
			index_put(&t->cur, s->id, s->l);
			s->l = NULL;
			o->used--;
		}
		if (t->moved == o->size || !o->used) {
			index_fini(o);
			t->moved = 0;
		}
	}
}

/* Start moving everything into a new index of size slots (the previous
 * move finished first).  -1 on ENOMEM: the current index stays. */
static int resize(struct lease_table *t, size_t size)
{
	struct lease_index x;

	move_some(t, SIZE_MAX);
	if (index_init(&x, size))
		return -1;
	t->old = t->cur;
	t->cur = x;
	t->moved = 0;
	if (!t->old.used)
		index_fini(&t->old);
	return 0;
}

/* ------------------------------------------------------------ names */

static size_t name_slot(size_t nnames, const char *name)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29)) & (nnames - 1);
}

static struct lease_text *text_of(const struct lease *l)
{
	return (struct lease_text *)(uintptr_t)l->name;
}

/* Double the name hash; on ENOMEM keep it (longer chains). */
static void names_grow(struct lease_table *t)
{
	size_t n = t->nnames * 2;
	struct lease **v = calloc(n, sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < t->nnames; i++)
		for (struct lease *l = t->names[i], *next; l; l = next) {
			size_t k = name_slot(n, l->name);

			next = text_of(l)->nnext;
			text_of(l)->nnext = v[k];
			v[k] = l;
		}
	free(t->names);
	t->names = v;
	t->nnames = n;
}

/* ------------------------------------------------------------ table */

int lease_table_init(struct lease_table *t)
{
	memset(t, 0, sizeof(*t));
	recs_init(&t->recs, sizeof(struct lease));
	recs_init(&t->texts, (sizeof(struct lease_text) + 15) & ~(size_t)15);
	t->next_id = 1;
	t->nnames = MIN_NAMES;
	t->names = calloc(t->nnames, sizeof(*t->names));
	if (!t->names || index_init(&t->cur, MIN_SLOTS)) {
		free(t->names);
		return -1;
	}
	return 0;
}

static void free_segs(const struct lease_index *x)
{
	for (size_t i = 0; i < x->size; i++)
		if (x->slot[i].l)
			free(x->slot[i].l->buf.segs);
}

void lease_table_fini(struct lease_table *t)
{
	free_segs(&t->cur);
	free_segs(&t->old);
	while (t->reaping) {
		struct lease_holder *h = t->reaping;

		t->reaping = h->next;
		free(h);
	}
	recs_fini(&t->recs);
	recs_fini(&t->texts);
	index_fini(&t->cur);
	index_fini(&t->old);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

struct lease *lease_new_id(struct lease_table *t, uint64_t id)
{
	struct lease *l = recs_alloc(&t->recs);

	if (!l)
		return NULL;
	l->id = id;
	l->name = l->tag = empty;
	if (id >= t->next_id)
		t->next_id = id + 1;
	return l;
}

struct lease *lease_new(struct lease_table *t)
{
	return lease_new_id(t, t->next_id);
}

int lease_set_text(struct lease_table *t, struct lease *l, const char *name,
		   const char *tag)
{
	struct lease_text *x;

	if ((!name || !*name) && (!tag || !*tag))
		return 0;
	x = recs_alloc(&t->texts);
	if (!x)
		return -1;
	snprintf(x->name, sizeof(x->name), "%s", name ? name : "");
	snprintf(x->tag, sizeof(x->tag), "%s", tag ? tag : "");
	l->name = x->name;
	l->tag = x->tag;
	l->text = true;
	return 0;
}

void lease_discard(struct lease_table *t, struct lease *l)
{
	if (l->text)
		recs_free(&t->texts, text_of(l));
	recs_free(&t->recs, l);
}

int lease_insert(struct lease_table *t, struct lease *l)
{
	/* At load 3/4, tombstones included: rebuild at twice the size if the
	 * live leases fill half, else at the same size (which leaves a
	 * quarter for tombstones: a rebuild per size/4 removals at most).  If
	 * that fails, go on while one slot in eight is still empty (probe
	 * runs stay finite). */
	if ((t->count + t->cur.tombs + 1) * 4 > t->cur.size * 3 &&
	    resize(t, (t->count + 1) * 2 > t->cur.size ? t->cur.size * 2 :
		   t->cur.size) &&
	    (t->count + t->cur.tombs + 1) * 8 > t->cur.size * 7)
		return -1;
	if (l->name[0]) {
		size_t k;

		if (t->named + 1 > t->nnames)
			names_grow(t);
		k = name_slot(t->nnames, l->name);
		text_of(l)->nnext = t->names[k];
		t->names[k] = l;
		t->named++;
	}
	index_put(&t->cur, l->id, l);
	t->count++;
	move_some(t, MOVE_STEP);
	return 0;
}

void lease_unname(struct lease_table *t, struct lease *l)
{
	struct lease **pp;

	if (!l->name[0])
		return;
	for (pp = &t->names[name_slot(t->nnames, l->name)]; *pp;
	     pp = &text_of(*pp)->nnext) {
		if (*pp == l) {
			*pp = text_of(l)->nnext;
			t->named--;
			break;
		}
	}
	text_of(l)->name[0] = 0;
}

void lease_remove(struct lease_table *t, struct lease *l)
{
	struct lease_slot *s = index_slot(&t->cur, l->id);

	lease_unname(t, l);
	if (s && s->l == l) {
		index_delete(&t->cur, (size_t)(s - t->cur.slot));
		t->count--;
	} else if ((s = index_slot(&t->old, l->id)) && s->l == l) {
		s->l = NULL;		/* a tombstone: old's runs stay whole */
		t->old.used--;
		t->count--;
	}
	/* Shrink at load 1/8 to load 1/4 or less, in one move - but not while
	 * a reclaim is emptying the table: it would move the same leases
	 * again and again as they go. */
	if (!t->old.size && t->cur.size > MIN_SLOTS && t->count * 8 < t->cur.size &&
	    !t->reaping_leases) {
		size_t size = MIN_SLOTS;

		while (size < t->count * 4)
			size *= 2;
		resize(t, size);
	}
	move_some(t, MOVE_STEP);
	free(l->buf.segs);
	lease_discard(t, l);
}

void lease_prefetch(const struct lease_table *t, const struct lease *l)
{
	__builtin_prefetch(&t->cur.slot[home(&t->cur, l->id)], 1);
}

struct lease *lease_find(const struct lease_table *t, uint64_t id)
{
	const struct lease_slot *s = index_slot(&t->cur, id);
	struct lease *l = s ? s->l : NULL;

	if (!l && t->old.used && (s = index_slot(&t->old, id)))
		l = s->l;
	return l && !lease_reaping(l) ? l : NULL;
}

struct lease *lease_find_name(const struct lease_table *t, const char *name)
{
	struct lease *l = t->names[name_slot(t->nnames, name)];

	while (l && strcmp(l->name, name) != 0)
		l = text_of(l)->nnext;
	return l;
}

void lease_foreach(const struct lease_table *t,
		   int (*fn)(struct lease *l, void *arg), void *arg)
{
	const struct lease_index *x[2] = { &t->cur, &t->old };

	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < x[k]->size; i++) {
			struct lease *l = x[k]->slot[i].l;

			if (l && !lease_reaping(l) && fn(l, arg))
				return;
		}
}

/* ------------------------------------------------------------ check */

#define BAD(...) do { snprintf(msg, len, __VA_ARGS__); return -1; } while (0)

/* Each live entry of x: its record's id, reachable from its home. */
static int check_index(const struct lease_index *x, bool old, size_t moved,
		       size_t *texts, char *msg, size_t len)
{
	size_t live = 0, tombs = 0, mask = x->size - 1;

	for (size_t i = 0; i < x->size; i++) {
		const struct lease_slot *s = &x->slot[i];

		if (!s->id) {
			if (s->l)
				BAD("slot %zu: a record without an id", i);
			continue;
		}
		if (!s->l) {
			tombs++;
			continue;
		}
		if (old && i < moved)
			BAD("old slot %zu: live behind the move (%zu)", i, moved);
		if (s->l->id != s->id)
			BAD("slot %zu: id %llu holds the record of %llu", i,
			    (unsigned long long)s->id,
			    (unsigned long long)s->l->id);
		for (size_t j = home(x, s->id); j != i; j = (j + 1) & mask)
			if (!x->slot[j].id)
				BAD("id %llu at slot %zu: unreachable (empty slot %zu "
				    "after its home)", (unsigned long long)s->id, i, j);
		live++;
		*texts += s->l->text;
	}
	if (live != x->used || (!old && tombs != x->tombs))
		BAD("%s index: %zu live entries and %zu tombstones, counts %zu and "
		    "%zu", old ? "old" : "current", live, tombs, x->used, x->tombs);
	return 0;
}

static int check_recs(const struct lease_recs *r, const char *what, char *msg,
		      size_t len)
{
	size_t used = 0, chunks = r->spare != NULL;

	for (const struct lease_chunk *c = r->partial; c; c = c->next, chunks++) {
		if (c->used == 0 || c->used >= r->per_chunk)
			BAD("%s: a partial chunk with %u of %u used", what, c->used,
			    r->per_chunk);
		used += c->used;
	}
	for (const struct lease_chunk *c = r->full; c; c = c->next, chunks++) {
		if (c->used != r->per_chunk)
			BAD("%s: a full chunk with %u of %u used", what, c->used,
			    r->per_chunk);
		used += c->used;
	}
	if (r->spare && r->spare->used)
		BAD("%s: the spare chunk has %u records used", what, r->spare->used);
	if (used != r->used || chunks != r->chunks)
		BAD("%s: chunks hold %zu records in %zu chunks, counts say %zu in %zu",
		    what, used, chunks, r->used, r->chunks);
	return 0;
}

int lease_table_check(const struct lease_table *t, size_t out_recs,
		      size_t out_texts, char *msg, size_t len)
{
	size_t texts = 0, named = 0;
	uint64_t reaping = 0;

	if (check_index(&t->cur, false, 0, &texts, msg, len) ||
	    check_index(&t->old, true, t->moved, &texts, msg, len) ||
	    check_recs(&t->recs, "lease records", msg, len) ||
	    check_recs(&t->texts, "lease texts", msg, len))
		return -1;
	if (t->cur.used + t->old.used != t->count)
		BAD("the indexes hold %zu leases, the table counts %zu",
		    t->cur.used + t->old.used, t->count);
	if (t->recs.used != t->count + out_recs ||
	    t->texts.used != texts + out_texts)
		BAD("%zu lease records and %zu texts in use for %zu leases with %zu "
		    "texts (and %zu and %zu held outside the table)",
		    t->recs.used, t->texts.used, t->count, texts, out_recs,
		    out_texts);
	for (size_t i = 0; i < t->nnames; i++)
		for (const struct lease *l = t->names[i]; l; l = text_of(l)->nnext) {
			if (!l->name[0] || name_slot(t->nnames, l->name) != i)
				BAD("lease %llu: in name bucket %zu under '%s'",
				    (unsigned long long)l->id, i, l->name);
			named++;
		}
	if (named != t->named)
		BAD("the name hash holds %zu leases, counts %zu", named, t->named);
	for (const struct lease_holder *h = t->reaping; h; h = h->next) {
		if (!h->ended)
			BAD("session %llu: queued for reclaim, not ended",
			    (unsigned long long)h->session);
		reaping += h->nleft;
	}
	if (reaping != t->reaping_leases)
		BAD("the reclaim queue holds %llu leases, counts %llu",
		    (unsigned long long)reaping,
		    (unsigned long long)t->reaping_leases);
	return 0;
}
