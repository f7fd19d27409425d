/*
 * lease.h - the daemon's record of who holds what.
 *
 * A lease is one allocation handed to a client: a 64-bit id (never reused
 * in a daemon's life), the pool, where it lies, and its owner.  Session
 * leases sit on their session's ledger (an intrusive list) and die with
 * it; persistent (named) leases belong to the daemon, are found by name,
 * and count the sessions attached to them.
 *
 * The table (lease.c) finds a lease by id in O(1) whatever the number of
 * live leases: an open-addressing index of (id, record) pairs that grows
 * and shrinks a few slots per operation, so no single request pays for a
 * rehash.  Names have a chained hash of their own.  Records come from
 * chunks of the table's own (a free list per chunk, a chunk freed when it
 * empties), not from malloc one by one: a record is three cache lines and
 * what a lookup's caller reads first is in the first.
 */
#ifndef KMEMD_LEASE_H
#define KMEMD_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kmem/pool.h"

struct session;
struct kmemd_pool;
struct dcache;

#define LEASE_NAME_MAX 64
#define LEASE_TAG_MAX 32

enum lease_kind {
	LEASE_BUF,	/* a pool buffer (kmem_pool_alloc) */
	LEASE_OBJ,	/* an object of a named slab cache */
	LEASE_KMALLOC,	/* a small buffer from the size classes */
};

/*
 * Who holds a session's leases: what outlives the session for them.  A
 * session gets one with its first lease.  When the session ends with more
 * leases than are freed at once, its holder is marked ended and queued
 * with what is left of the ledger; the leases are then "being reclaimed":
 * still in the table and charged to their pool, but invisible to
 * lease_find and lease_foreach, and freed a slice per loop turn
 * (leases.c).  The holder goes with the last of them.
 */
struct lease_holder {
	uint64_t session;		/* the session's id */
	pid_t pid;
	char comm[17];
	bool ended;
	struct lease *left;		/* ended: the leases still to free */
	uint64_t nleft;
	struct lease_holder *next;	/* ended: the reclaim queue */
};

struct lease {
	/* First cache line: the lookup's caller and the free path. */
	uint64_t id;
	struct kmemd_pool *pool;
	struct session *owner;		/* NULL: persistent */
	struct lease_holder *holder;	/* the owner's; NULL: persistent */
	struct lease *lnext, *lprev;	/* the owner's ledger, or the
					   daemon's list of persistent ones */
	struct dcache *dcache;		/* LEASE_OBJ: its named cache */
	uid_t uid;			/* who allocated it */
	uint8_t kind;			/* enum lease_kind */
	bool doomed;			/* freed while attached */
	bool magazine;			/* granted to a client magazine */
	bool text;			/* name and tag are out of line */
	/* Second: where it lies. */
	struct kmem_pool_buf buf;	/* off/len/phys (+ segments) */
	/* Third: the rest. */
	uint64_t requested;		/* bytes the client asked for */
	uint64_t created_ns;
	const char *name;		/* persistent name, or "" */
	const char *tag;		/* or "" */
	uint32_t refs;			/* sessions attached (persistent) */
	uint64_t batch;			/* the last FreeBatch/CacheFree that
					   named it (dispatch.c: repeats) */
} __attribute__((aligned(64)));

/* One slot of the id index: empty (id 0), live, or a tombstone (id set,
 * l NULL: removed, still part of a probe run). */
struct lease_slot {
	uint64_t id;
	struct lease *l;
};

struct lease_index {
	struct lease_slot *slot;
	size_t size;			/* a power of two, or 0 */
	unsigned shift;			/* 64 - log2(size) */
	size_t used;			/* live entries */
	size_t tombs;			/* tombstones (current index) */
};

struct lease_chunk;

/* Fixed-size records carved from aligned chunks (lease.c). */
struct lease_recs {
	size_t size;			/* bytes per record */
	unsigned per_chunk;
	struct lease_chunk *partial;	/* some records free, some not */
	struct lease_chunk *full;
	struct lease_chunk *spare;	/* one empty chunk kept */
	size_t chunks, used;
};

struct lease_table {
	struct lease_index cur;		/* where inserts go */
	struct lease_index old;		/* being moved into cur, or empty */
	size_t moved;			/* old's slots moved so far */
	struct lease **names;		/* name hash, chained */
	size_t nnames;			/* buckets, a power of two */
	struct lease_recs recs, texts;
	size_t count, named;
	uint64_t next_id;
	struct lease_holder *reaping, *reaping_tail;	/* ended holders */
	uint64_t reaping_leases;	/* their leases, all together */
};

/* 0, or -1 on ENOMEM. */
int lease_table_init(struct lease_table *t);

/* Free every record, its segments, the holders still queued, and the
 * table's own memory.  The pools' memory is the caller's. */
void lease_table_fini(struct lease_table *t);

/*
 * lease_new - a zeroed record with a fresh id (not yet in the table), or
 * NULL on ENOMEM.  lease_new_id is the same with a given id (a lease
 * restored from the journal; it must not be in the table, and ids from
 * then on are above it).
 */
struct lease *lease_new(struct lease_table *t);
struct lease *lease_new_id(struct lease_table *t, uint64_t id);

/*
 * lease_set_text - give l (not yet inserted) its name and tag (either may
 * be NULL or "", and is cut to LEASE_NAME_MAX - 1 / LEASE_TAG_MAX - 1
 * bytes).  0, or -1 on ENOMEM (l then has neither).
 */
int lease_set_text(struct lease_table *t, struct lease *l, const char *name,
		   const char *tag);

/*
 * lease_insert - put l in the table (and its name, if any, in the name
 * hash).  0, or -1 when the index is full and cannot grow (ENOMEM); l is
 * then still the caller's, to free with lease_discard.
 */
int lease_insert(struct lease_table *t, struct lease *l);

/* Free a record that was never inserted. */
void lease_discard(struct lease_table *t, struct lease *l);

/* Remove l from the table (not from any ledger) and free the record, its
 * text and its segments array. */
void lease_remove(struct lease_table *t, struct lease *l);

/* The lease with this id or name; NULL if none, or if it is being
 * reclaimed (its holder ended). */
struct lease *lease_find(const struct lease_table *t, uint64_t id);
struct lease *lease_find_name(const struct lease_table *t, const char *name);

/* Start loading the index slot lease_remove(t, l) will look at first (a
 * loop freeing many leases calls it one lease ahead). */
void lease_prefetch(const struct lease_table *t, const struct lease *l);

/* Drop l's name from the name index (it stays in the id table). */
void lease_unname(struct lease_table *t, struct lease *l);

/* Is l being reclaimed? */
static inline bool lease_reaping(const struct lease *l)
{
	return l->holder && l->holder->ended;
}

/*
 * lease_foreach - call fn on every lease but those being reclaimed, in no
 * particular order, until it returns non-zero.  fn must not insert or
 * remove leases.  O(index size).
 */
void lease_foreach(const struct lease_table *t,
		   int (*fn)(struct lease *l, void *arg), void *arg);

/*
 * lease_table_check - the table's invariants: every entry reachable from
 * its home slot, the counts, each record under its own id, the names, the
 * reclaim queue's count, the record chunks' counts.  out_recs and
 * out_texts are records (and their out-of-line texts) the caller holds
 * outside the table (a durable session's orphans, resume.c).  0, or -1
 * with what broke first in msg.  O(index size + chunks); for tests and
 * Verify.
 */
int lease_table_check(const struct lease_table *t, size_t out_recs,
		      size_t out_texts, char *msg, size_t len);

#endif
