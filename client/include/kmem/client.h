/*
 * kmem/client.h - libkmem, the client library of kmemd.
 *
 * Connect once: the library says Hello, receives each pool's file
 * descriptor (SCM_RIGHTS) and maps the pool, so every allocation afterwards
 * is an id, an offset into a mapping you already have, a length and a
 * physical (IO) address.  Calls are synchronous, but for the pipelined
 * batches below (a send, then a receive); one connection may be shared by
 * threads (a mutex serialises its requests).  Nothing here
 * prints or exits: every failure is a negative KMEM_E* code (kmem/error.h,
 * kmem_strerror()) and kmem_client_error() holds the daemon's sentence.
 *
 * Leases die with the connection: kmem_client_disconnect() (or the process
 * dying) gives every buffer of the session back.  Persistent buffers
 * (opts.persist with a name) outlive it.
 *
 *	struct kmem_client *c;
 *	struct kmem_buf b;
 *
 *	if (kmem_client_connect(NULL, "myapp", &c, NULL, 0) == 0 &&
 *	    kmem_client_alloc(c, 1 << 20, NULL, &b) == 0) {
 *		memset(b.ptr, 0, b.len);       // device DMA address: b.phys
 *		kmem_client_free(c, &b);
 *	}
 */
#ifndef KMEM_CLIENT_H
#define KMEM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kmem/error.h"

#define KMEM_DEFAULT_SOCKET "/run/kmemd/kmemd.sock"

struct kmem_client;

/* Allocation flags (the wire's AllocFlag bits). */
#define KMEM_SCATTER 0x1u	/* physically discontiguous is fine */
#define KMEM_EXACT   0x2u	/* no rounding beyond pages */
#define KMEM_ZERO    0x4u	/* zeroed memory */
#define KMEM_DMA32   0x8u	/* below 4 GiB physical */

struct kmem_alloc_opts {
	const char *pool;	/* NULL = the first pool */
	uint64_t align;		/* power of two, 0 = natural */
	unsigned flags;		/* KMEM_SCATTER | KMEM_ZERO | ... */
	int node;		/* NUMA node, -1 = any (0 means node 0) */
	uint64_t dma_mask;	/* 0 = none */
	uint64_t boundary;	/* no-cross boundary, 0 = none */
	const char *name;	/* persistent buffers: their name */
	const char *tag;	/* free-form label shown in stats */
	bool persist;		/* owned by the daemon, outlives the session */
	uint32_t timeout_ms;	/* wait this long for memory; 0 = fail now */
};

/* Defaults: any pool, natural alignment, contiguous, any node. */
#define KMEM_ALLOC_OPTS_INIT { .node = -1 }

struct kmem_seg {
	uint64_t offset;	/* in the pool */
	uint64_t len;
	uint64_t phys;
};

struct kmem_buf {
	void *ptr;		/* your mapping of the buffer */
	uint64_t len;		/* bytes (>= what was asked) */
	uint64_t phys;		/* physical/IO address of ptr[0] (0 if none) */
	uint64_t id;		/* the lease id */
	uint64_t offset;	/* in the pool */
	unsigned pool;		/* pool index (kmem_client_pool_info) */
	size_t nsegs;		/* 1, or the pieces of a scatter buffer */
	struct kmem_seg *segs;	/* NULL when nsegs is 1 */
};

struct kmem_pool_info {
	const char *name;
	uint64_t size;
	uint64_t page_size;
	const char *iova_mode;	/* "pa" or "va" */
	const char *policy;	/* "buddy" or "resource" */
	void *base;		/* where this process mapped it */
};

/*
 * kmem_client_connect - connect to path (NULL: $KMEMD_SOCKET, else
 * KMEM_DEFAULT_SOCKET), say Hello as name and map the pools.  Returns 0
 * and *out; KMEM_ECONN when the daemon cannot be reached (msg says which
 * path was tried and what to check), KMEM_EPROTO for a daemon that speaks
 * otherwise, KMEM_ESYS when a pool cannot be mapped, KMEM_ENOMETA.  msg
 * (KMEM_MSG_MAX bytes, may be NULL) gets the sentence on failure.
 */
int kmem_client_connect(const char *path, const char *name,
			struct kmem_client **out, char *msg, size_t msglen);

/*
 * Magazines.  By default a connection keeps, per kmalloc size class (8 B
 * to 8 KiB) and per named cache it allocates from, a magazine of objects
 * leased in advance: kmem_client_alloc of at most 8 KiB with default
 * options (KMEM_ZERO allowed, done here), kmem_client_cache_alloc of up to
 * 512 objects, and the frees of what they returned, are then served with
 * no round trip; an empty magazine is refilled and a full one drained
 * with one batch request, and magazines grow with the allocation rate up
 * to 512 objects or 1 MiB each.  Objects in a magazine are leases of the
 * session all the same: the daemon reclaims them with the session and
 * counts them as any lease (its stats show them as magazine_* figures).
 * A freed object is not given back to the daemon at once, and an
 * allocation may take more from the pool than it asked for: opt out with
 * KMEM_CONNECT_NO_MAGAZINES or the environment KMEM_NO_MAGAZINES=1 when
 * every allocation and free must be a request of its own.
 */
#define KMEM_CONNECT_NO_MAGAZINES 0x1u

/*
 * KMEM_CONNECT_DURABLE - ask for a durable session: if kmemd dies (crash,
 * kill, restart) while this connection is open, the next kmemd keeps the
 * session's buffers for its grace period (--resume-grace, 30 s by
 * default), and a new connection made with kmem_client_resume and this
 * session's token (kmem_client_session_token) gets them back: same ids,
 * offsets, lengths and contents (kmem_client_lease_buf).  Granted only when kmemd
 * keeps a journal (--state-dir); otherwise the connection is an ordinary
 * one and kmem_client_session_token says KMEM_ENOENT, with the reason in
 * kmem_client_durable_note.  A durable connection has no magazines, and
 * its small allocations are pages (a resume restores page allocations
 * only); objects of named caches are not kept.  A disconnect, or the
 * client's death, frees the buffers as always.
 */
#define KMEM_CONNECT_DURABLE 0x2u

#define KMEM_SESSION_TOKEN_LEN 16

struct kmem_connect_opts {
	unsigned flags;		/* KMEM_CONNECT_* */
};

#define KMEM_CONNECT_OPTS_INIT { 0 }

/* kmem_client_connect with options (opts NULL = defaults); the same
 * results. */
int kmem_client_connect_opts(const char *path, const char *name,
			     const struct kmem_connect_opts *opts,
			     struct kmem_client **out, char *msg, size_t msglen);

/*
 * kmem_client_session_token - copy the token of a durable session into
 * out (KMEM_SESSION_TOKEN_LEN bytes).  0, or KMEM_ENOENT when the session
 * is not durable (kmem_client_durable_note says why, if it was asked for).
 */
int kmem_client_session_token(const struct kmem_client *c, uint8_t *out);

/* Why KMEM_CONNECT_DURABLE was not granted; "" when it was, or was not
 * asked for. */
const char *kmem_client_durable_note(const struct kmem_client *c);

/* The grace period kmemd gives this durable session after a restart, in
 * milliseconds (0 when not durable). */
uint32_t kmem_client_resume_grace_ms(const struct kmem_client *c);

/*
 * kmem_client_lease_buf - describe a lease this connection adopted by
 * resuming (the ids it held before the restart) in *out, mapped in this
 * process.  Release it with kmem_client_buf_release or free it with
 * kmem_client_free.  0; KMEM_ENOENT when id was not adopted (freed before
 * the crash, or never journaled); KMEM_EINVAL for a scatter lease (not
 * supported here: free it by id).  kmem_client_nresumed counts them.
 */
int kmem_client_lease_buf(struct kmem_client *c, uint64_t id,
			  struct kmem_buf *out);
size_t kmem_client_nresumed(const struct kmem_client *c);

/*
 * kmem_client_resume - kmem_client_connect_opts (KMEM_CONNECT_DURABLE is
 * implied) that adopts the buffers of the durable session whose token is
 * token (KMEM_SESSION_TOKEN_LEN bytes), after a kmemd restart.  The new
 * connection is that session: the same token, its buffers (see
 * kmem_client_lease_buf), the pools mapped afresh.  Errors: KMEM_ENOENT
 * (unknown token, resumed already, its grace period is over, or kmemd
 * keeps no journal), KMEM_EPERM (the session was another uid's),
 * KMEM_EINVAL, and those of a connect; the daemon changes nothing then.
 */
int kmem_client_resume(const char *path, const char *name,
		       const struct kmem_connect_opts *opts,
		       const uint8_t *token, struct kmem_client **out,
		       char *msg, size_t msglen);

/* kmem_client_disconnect - unmap, close; the session's leases are freed. */
void kmem_client_disconnect(struct kmem_client *c);

/* The last error sentence (from the daemon or the library), "" if none.
 * Valid until the next call on c from any thread. */
const char *kmem_client_error(const struct kmem_client *c);

size_t kmem_client_npools(const struct kmem_client *c);
int kmem_client_pool_info(const struct kmem_client *c, size_t i,
			  struct kmem_pool_info *info);

/*
 * kmem_client_alloc - one buffer of size bytes (opts NULL = defaults).
 * Errors: KMEM_ENOMEM (no memory now), KMEM_ETIMEDOUT, KMEM_EINVAL,
 * KMEM_ENOENT (pool), KMEM_EPERM, KMEM_EQUOTA, KMEM_ECONSTRAINT,
 * KMEM_EEXIST (name), KMEM_ECONN/KMEM_EPROTO.  At most 8 KiB with
 * default options (or only KMEM_ZERO) comes from a magazine when the
 * connection has them: the same buffer description, no round trip unless
 * the magazine is empty.
 */
int kmem_client_alloc(struct kmem_client *c, uint64_t size,
		      const struct kmem_alloc_opts *opts, struct kmem_buf *out);

/* kmem_client_free - free a buffer (by its id); releases b's resources.
 * A magazine's object goes back to its magazine; freeing one that is
 * there already is KMEM_ENOENT, as the daemon answers a double free. */
int kmem_client_free(struct kmem_client *c, struct kmem_buf *b);
int kmem_client_free_id(struct kmem_client *c, uint64_t id);

/*
 * kmem_client_alloc_batch - count buffers of size bytes in one round trip,
 * all or nothing, into out[0..count).  flags as opts (not SCATTER).
 */
int kmem_client_alloc_batch(struct kmem_client *c, const char *pool,
			    uint64_t size, unsigned flags, uint32_t count,
			    struct kmem_buf *out);

/*
 * kmem_client_alloc_batch_opts - kmem_client_alloc_batch with options:
 * opts' pool, align, flags (not KMEM_SCATTER) and tag apply to every
 * buffer (opts NULL: the defaults).  What a batch cannot carry - node,
 * dma_mask, boundary, name, persist, timeout_ms - is KMEM_EINVAL with
 * nothing sent.
 */
int kmem_client_alloc_batch_opts(struct kmem_client *c, uint64_t size,
				 uint32_t count,
				 const struct kmem_alloc_opts *opts,
				 struct kmem_buf *out);

/* kmem_client_free_batch - free n leases by id in one round trip, all or
 * nothing (magazine objects among them go back to their magazines, and
 * take no round trip if all are such). */
int kmem_client_free_batch(struct kmem_client *c, const uint64_t *ids,
			   size_t n);

/*
 * Pipelined batches.  Every call above is one round trip, so a client
 * waits a whole wake-up of the daemon and of itself per batch.  These
 * split kmem_client_alloc_batch and kmem_client_free_batch into a send,
 * which writes the request and returns a ticket at once, and a receive,
 * which waits for that request's outcome: with several batches in flight
 * the daemon works on one while the client uses another.
 *
 *	uint64_t t[8];
 *	struct kmem_buf b[8][64];
 *
 *	for (int i = 0; i < 8; i++)
 *		kmem_client_alloc_batch_send(c, NULL, 64, 0, 64, &t[i]);
 *	for (int i = 0; i < 8; i++)
 *		kmem_client_batch_recv(c, t[i], b[i], NULL);
 *
 * Tickets.  A ticket is a non-zero number, unique on its connection and
 * never reused; it stays outstanding from its send until its receive, in
 * any order, and is received exactly once.  At most KMEM_PIPE_MAX are
 * outstanding on a connection: one more send is KMEM_EBUSY and sends
 * nothing.  kmem_client_disconnect with tickets outstanding forgets them
 * (the session's leases go back to the daemon with it, as always).
 *
 * Order and other calls.  The daemon answers a connection's requests in
 * order; receiving a ticket reads the replies of the tickets sent before
 * it and keeps them for their own receives.  Every other call stays
 * usable with tickets outstanding: its round trip keeps the replies of
 * tickets that arrive before its own, so ordinary calls, magazine refills
 * and drains among them, may be mixed freely with pipelined batches.
 *
 * Threads.  Sends, receives and every other call take the connection's
 * mutex, so any thread may send, and any thread may receive any ticket
 * (the first to do so gets the outcome; a second receive is KMEM_EINVAL).
 * A receive whose reply has not arrived waits for it holding the mutex, as
 * every call does for its round trip: other threads' calls on the
 * connection wait meanwhile.
 *
 * Errors.  A send fails only when nothing was sent (KMEM_EBUSY,
 * KMEM_ECONN, KMEM_EINVAL, KMEM_ETOOBIG for more ids than a request
 * carries, KMEM_ENOMETA); then there is no ticket.  A batch the daemon
 * refuses (KMEM_ENOMEM, KMEM_EQUOTA, KMEM_ENOENT, ...) fails at the
 * receive of its own ticket only, all or nothing as the blocking calls
 * are, and kmem_client_error() then holds its sentence.  Once a call finds
 * the connection lost (or the stream out of step with the requests, which
 * shuts it down), every outstanding ticket fails with KMEM_ECONN, those
 * whose reply had been read and kept included: the daemon takes back the
 * session's leases when the connection ends.  Nothing is left to release
 * after any failed receive.
 */
#define KMEM_PIPE_MAX 64

/*
 * kmem_client_alloc_batch_send - send kmem_client_alloc_batch's request
 * (the same pool, size, flags and count) and return its ticket in
 * *ticket.  The buffers come from kmem_client_batch_recv into count
 * kmem_buf.
 */
int kmem_client_alloc_batch_send(struct kmem_client *c, const char *pool,
				 uint64_t size, unsigned flags, uint32_t count,
				 uint64_t *ticket);

/*
 * kmem_client_free_batch_send - send kmem_client_free_batch's request for
 * the n leases ids (copied: the array may be reused at once) and return
 * its ticket in *ticket.  Magazine objects among ids go back to their
 * magazines now, as kmem_client_free_batch does (when they are mixed with
 * other leases, the others' request is a round trip of its own); the
 * ticket then carries that outcome.
 */
int kmem_client_free_batch_send(struct kmem_client *c, const uint64_t *ids,
				size_t n, uint64_t *ticket);

/*
 * kmem_client_batch_recv - the outcome of ticket, waiting for its reply if
 * it has not arrived.  For an AllocBatch's ticket out must have room for
 * its count buffers, written as kmem_client_alloc_batch writes them; for a
 * FreeBatch's out is ignored (NULL is fine).  *n (n may be NULL) gets the
 * number of buffers written: the count, or 0 for a FreeBatch.  The ticket
 * is done with whatever the result, except for KMEM_EINVAL: a ticket not
 * outstanding (never sent, or received already), or an AllocBatch's with
 * out NULL, which changes nothing.
 */
int kmem_client_batch_recv(struct kmem_client *c, uint64_t ticket,
			   struct kmem_buf *out, size_t *n);

/* Named slab caches in the daemon.  kmem_client_cache_alloc of up to 512
 * objects and kmem_client_cache_free of them use the cache's magazine
 * when the connection has magazines; kmem_client_cache_destroy gives that
 * magazine's idle objects back first (another session's still count as
 * live objects: KMEM_EBUSY). */
int kmem_client_cache_create(struct kmem_client *c, const char *pool,
			     const char *name, uint64_t object_size,
			     uint64_t align, uint64_t *cache_id);
int kmem_client_cache_alloc(struct kmem_client *c, const char *name,
			    uint32_t count, struct kmem_buf *out);
int kmem_client_cache_free(struct kmem_client *c, const uint64_t *ids,
			   size_t n);
int kmem_client_cache_destroy(struct kmem_client *c, const char *name);

/*
 * kmem_client_lookup - attach to the persistent buffer name (refcounted)
 * and describe it in *out.  kmem_client_detach drops the attachment.
 */
int kmem_client_lookup(struct kmem_client *c, const char *name,
		       struct kmem_buf *out);
int kmem_client_detach(struct kmem_client *c, struct kmem_buf *b);

/*
 * kmem_client_stats - the daemon's stats document: JSON (prometheus false)
 * or Prometheus text.  *text is malloc'd; free() it.
 */
int kmem_client_stats(struct kmem_client *c, bool prometheus, char **text);

/*
 * kmem_client_leases - the stats document (JSON) with a "leases" array:
 * every live lease of the sessions of process pid, or with pid 0 every
 * lease (named ones included), oldest first, at most 1000 of them
 * ("leases_matched" counts them all).  Each entry has id, session, pid,
 * comm, uid, pool, kind, offset, length, requested, tag, name, age_s and
 * magazine (granted to a client magazine, so maybe idle there rather than
 * leaked).  *text is malloc'd; free() it.
 */
int kmem_client_leases(struct kmem_client *c, pid_t pid, char **text);

/*
 * kmem_client_debug - switch poisoning of freed objects on or off in pool
 * (NULL = the first pool): its size classes and named caches.  Red zones
 * are fixed by the daemon's configuration.  KMEM_EPERM unless the caller
 * is root or in the daemon's admin group; KMEM_ENOENT for no such pool.
 */
int kmem_client_debug(struct kmem_client *c, const char *pool, bool poison);

/* What kmem_client_verify found. */
struct kmem_verify {
	uint32_t pools, caches;	/* checked */
	uint64_t leases;
	size_t nproblems;	/* 0: consistent */
	char **problems;	/* nproblems sentences */
};

/*
 * kmem_client_verify - ask the daemon to check its engine (every pool's
 * page allocators and caches, and the poison and red zones of debugging
 * caches) and its lease table against the engine and the accounting.
 * Returns 0 when the check ran, whatever it found: see out->nproblems.
 * Release out with kmem_client_verify_release().
 */
int kmem_client_verify(struct kmem_client *c, struct kmem_verify *out);
void kmem_client_verify_release(struct kmem_verify *v);

/* kmem_client_ping - one round trip with payload_len bytes each way. */
int kmem_client_ping(struct kmem_client *c, size_t payload_len);

/* Release what kmem_client_* put into b (scatter mapping, segment list)
 * without freeing the lease. */
void kmem_client_buf_release(struct kmem_client *c, struct kmem_buf *b);

/* One magazine of a connection (kmem_client_magazine_info). */
struct kmem_magazine_info {
	char name[32];		/* "kmalloc-64" ... "kmalloc-8k", or a cache's */
	bool cache;		/* a named cache's magazine */
	uint64_t object_size;	/* bytes per object; 0 before the first refill */
	unsigned pool;		/* pool index of its objects */
	uint32_t depth;		/* idle objects kept before a drain */
	uint32_t depth_max;	/* what depth may grow to */
	uint32_t held;		/* idle objects in the magazine now */
	uint32_t out;		/* objects it handed out, not yet freed */
	uint64_t refills, drains;	/* round trips so far */
};

/*
 * kmem_client_magazine_info - magazine i of c: the 13 size classes
 * first, then the named caches in the order of their first use.  0, or
 * KMEM_ENOENT past the last one (at once when magazines are off).
 */
int kmem_client_magazine_info(struct kmem_client *c, size_t i,
			      struct kmem_magazine_info *info);

/*
 * kmem_client_magazine_drain - give every idle magazine object back to
 * the daemon now (one FreeBatch per magazine that holds any).  Objects
 * the application holds are untouched.  0 or the first error.
 */
int kmem_client_magazine_drain(struct kmem_client *c);

#endif
