/*
 * lease.h - the daemon's record of who holds what.
 *
 * A lease is one allocation handed to a client: a 64-bit id (never reused
 * in a daemon's life), the pool, where it lies, and its owner.  Session
 * leases sit on their session's ledger (an intrusive list) and die with
 * it; persistent (named) leases belong to the daemon, are found by name,
 * and count the sessions attached to them.
 *
 * The table is a hash of ids (chained, power-of-two buckets, grown at load
 * 1) plus a hash of names, so lookup, insert and remove cost O(1) whatever
 * the number of live leases.
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

#define LEASE_NAME_MAX 64
#define LEASE_TAG_MAX 32

enum lease_kind {
	LEASE_BUF,	/* a pool buffer (kmem_pool_alloc) */
	LEASE_OBJ,	/* an object of a named slab cache */
	LEASE_KMALLOC,	/* a small buffer from the size classes */
};

struct lease {
	uint64_t id;
	enum lease_kind kind;
	struct kmemd_pool *pool;
	struct kmem_cache *cache;	/* LEASE_OBJ */
	struct kmem_pool_buf buf;	/* off/len/phys (+ segments) */
	uint64_t requested;		/* bytes the client asked for */
	struct session *owner;		/* NULL: persistent */
	uid_t uid;			/* who allocated it */
	uint32_t refs;			/* sessions attached (persistent) */
	bool doomed;			/* freed while attached */
	bool magazine;			/* granted to a client magazine */
	char name[LEASE_NAME_MAX];	/* persistent name, or "" */
	char tag[LEASE_TAG_MAX];
	uint64_t created_ns;
	struct lease *hnext;		/* id hash chain */
	struct lease *nnext;		/* name hash chain */
	struct lease *lnext, *lprev;	/* owner's ledger */
};

struct lease_table {
	struct lease **ids;
	struct lease **names;
	size_t nbuckets;		/* both tables, a power of two */
	size_t count, named;
	uint64_t next_id;
};

int lease_table_init(struct lease_table *t);
void lease_table_fini(struct lease_table *t);	/* frees the records only */

/* A new record with a fresh id (not yet in the table); NULL on ENOMEM. */
struct lease *lease_new(struct lease_table *t);

/* Insert l (and its name, if any).  -1 on ENOMEM when growing fails is
 * not possible: growth is best effort; always 0. */
int lease_insert(struct lease_table *t, struct lease *l);

/* Remove l from the table (not from any ledger) and free the record. */
void lease_remove(struct lease_table *t, struct lease *l);

struct lease *lease_find(const struct lease_table *t, uint64_t id);
struct lease *lease_find_name(const struct lease_table *t, const char *name);

/* Drop l's name from the name index (it stays in the id table). */
void lease_unname(struct lease_table *t, struct lease *l);

/* Walk every lease; fn returns non-zero to stop. */
void lease_foreach(const struct lease_table *t,
		   int (*fn)(struct lease *l, void *arg), void *arg);

#endif
