/*
 * leases.h - granting and taking back leases: the ledger of each session,
 * persistent (named) leases and their attachments, quota charges.
 */
#ifndef KMEMD_LEASES_H
#define KMEMD_LEASES_H

#include "kmemd.h"

/*
 * leases_grant - record buf (already allocated in pool p) as a lease of
 * session s, or of the daemon when persist.  Charges the uid.  Returns
 * the lease, or NULL when out of memory (buf is then the caller's to
 * free).
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
 * leases_release - free the memory and the record, uncharge, unlink from
 * its ledger, and let blocked allocations of the pool retry.
 */
void leases_release(struct kmemd *d, struct lease *l);

/*
 * leases_free - an explicit free of a persistent lease: released at once,
 * or when its last attachment goes (it loses its name now).
 */
void leases_free_persistent(struct kmemd *d, struct lease *l);

/* The session ended: every lease it owns comes back, every attachment
 * is dropped, its blocked requests are forgotten. */
void leases_session_end(struct session *s);

/* Attach s to persistent lease l (refcount).  0 or -1 (ENOMEM). */
int leases_attach(struct session *s, struct lease *l);

/* Drop s's attachment to lease id.  0, or -1 if s is not attached. */
int leases_detach(struct session *s, uint64_t id);

#endif
