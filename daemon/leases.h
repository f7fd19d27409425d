/*
 * leases.h - granting and taking back leases: the ledger of each session,
 * persistent (named) leases and their attachments, quota charges.
 */
#ifndef KMEMD_LEASES_H
#define KMEMD_LEASES_H

#include "kmemd.h"

/*
 * leases_grant - record buf (already allocated in pool p) as a lease of
 * session s, or of the daemon when persist; dc is the named cache of a
 * LEASE_OBJ.  Charges the uid.  Returns the lease, or NULL when out of
 * memory (buf is then the caller's to free).  No malloc on the way unless
 * the table's record chunks or its index must grow, or this is the
 * session's first lease (its holder, lease.h).
 */
struct lease *leases_grant(struct session *s, struct kmemd_pool *p,
			   enum lease_kind kind, struct kmem_pool_buf *buf,
			   struct dcache *dc, uint64_t requested,
			   const char *name, const char *tag, bool persist);

/*
 * leases_restore - a persistent lease back from the journal, with its old
 * id (buf already claimed in p).  NULL when out of memory.
 */
struct lease *leases_restore(struct kmemd *d, struct kmemd_pool *p,
			     struct kmem_pool_buf *buf, uint64_t id, uid_t uid,
			     uint64_t requested, const char *name,
			     const char *tag);

/*
 * leases_adopt - an orphaned lease of a durable session (resume.c: a
 * record not in the table, its memory claimed) becomes a lease of s,
 * charged to its pool and uid.  0, or -1 (ENOMEM: l is unchanged).
 */
int leases_adopt(struct session *s, struct lease *l);

/*
 * leases_release - free the memory and the record, uncharge, unlink from
 * its ledger (its session's, or the daemon's list of persistent leases),
 * and let blocked allocations of the pool retry.  l must not be being
 * reclaimed (lease_find never returns one that is).
 */
void leases_release(struct kmemd *d, struct lease *l);

/*
 * leases_free - an explicit free of a persistent lease: released at once,
 * or when its last attachment goes (it loses its name now).
 */
void leases_free_persistent(struct kmemd *d, struct lease *l);

/*
 * leases_session_end - the session ended: every attachment is dropped,
 * its blocked requests are forgotten, and every lease it owns comes back.
 * Up to REAP_INLINE leases are freed now; a longer ledger is handed to
 * the reclaimer, which frees it a slice (REAP_SLICE leases or
 * REAP_SLICE_NS, whichever comes first) per loop turn from an idle
 * handle, so that other clients are served in between.  Either way the
 * session itself holds nothing afterwards and may be freed (server.c
 * frees it right after, as before); its leases are invisible to
 * lease_find at once, stay charged to their pools until their slice runs
 * (the stats count them in "leases_reclaiming"), and blocked allocations
 * of a pool are retried after each slice that gave it memory back.  The
 * idle handle exists only while there is something to reclaim, and keeps
 * the loop running until then (so a daemon's shutdown frees everything).
 */
void leases_session_end(struct session *s);

#define REAP_INLINE 2048		/* ~0.3-0.6 ms of frees */
#define REAP_SLICE 16384
#define REAP_SLICE_NS 1000000ull

/* Finish every reclaim now (Verify checks a state without any). */
void leases_reap_all(struct kmemd *d);

/* Free the spare attachment records (at shutdown). */
void leases_fini(struct kmemd *d);

/* Attach s to persistent lease l (refcount).  0 or -1 (ENOMEM).  The
 * records are reused: a Lookup after a Detach allocates nothing. */
int leases_attach(struct session *s, struct lease *l);

/* Drop s's attachment to lease id.  0, or -1 if s is not attached. */
int leases_detach(struct session *s, uint64_t id);

#endif
