/*
 * resume.h - durable sessions: their tokens, their orphaned leases after a
 * restart, and the resume that adopts them (resume.c).
 */
#ifndef KMEMD_RESUME_H
#define KMEMD_RESUME_H

#include "kmemd.h"

#define RESUME_TOKEN_LEN 16

/*
 * The leases of one durable session that was open when the previous
 * daemon died.  They are claimed in their pools, but are not in the lease
 * table (no Free, Lookup or stats listing reaches them) and not charged to
 * any pool or uid until a session adopts them.
 */
struct orphan_set {
	uint8_t token[RESUME_TOKEN_LEN];
	uid_t uid;			/* who created the session */
	struct lease *leases;		/* on lnext; records never inserted */
	uint64_t n, bytes;
	struct orphan_set *next;
};

/*
 * resume_orphan_add - at start (journal.c), a lease of the durable session
 * with this token, already claimed in p, becomes an orphan with its old
 * id.  buf is moved into the record.  The record, or NULL (ENOMEM).
 */
struct lease *resume_orphan_add(struct kmemd *d, struct kmemd_pool *p,
				struct kmem_pool_buf *buf, uint64_t id,
				uid_t uid, uint64_t requested, const char *tag,
				const uint8_t *token);

/* After the journal's replay: start the grace period if there are
 * orphans (an unreferenced timer: it does not keep the loop running). */
void resume_start(struct kmemd *d);

/* At shutdown: drop the orphans' records without touching the pools or
 * the journal (the next daemon finds them there again). */
void resume_fini(struct kmemd *d);

/*
 * resume_hello - the durable part of s's Hello, after s->pool_index is
 * set: make s durable with a fresh token (durable, no token), or adopt the
 * orphans of token (tlen bytes) into s.  Returns the wire status: OK (then
 * *note is NULL, or says why s is not durable), or INVALID_ARGUMENT,
 * NOT_FOUND, PERMISSION_DENIED, INTERNAL with a sentence in msg, having
 * changed nothing (INTERNAL: ENOMEM while adopting; what was adopted
 * stays with s).
 */
int resume_hello(struct session *s, bool durable, const uint8_t *token,
		 size_t tlen, const char **note, char *msg, size_t msglen);

#endif
