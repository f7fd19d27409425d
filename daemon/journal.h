/*
 * journal.h - the journal of persistent leases (journal.c).
 */
#ifndef KMEMD_JOURNAL_H
#define KMEMD_JOURNAL_H

#include "kmemd.h"

/*
 * journal_open - read state_dir/journal, restore the persistent leases it
 * holds into the pools (which must exist), start lease ids above every id
 * it ever recorded or reserved, compact it, and open it for appending.
 * No state_dir: no journal.  0, or -1 (logged).
 */
int journal_open(struct kmemd *d);
void journal_close(struct kmemd *d);

/* Record a new persistent lease, durably (fdatasync).  0 or -1. */
int journal_alloc(struct kmemd *d, const struct lease *l);

/* Record that a persistent lease was freed. */
void journal_free(struct kmemd *d, uint64_t id);

/*
 * Durable sessions (resume.c).  journal_session_alloc records a buffer
 * lease l of the session with this token (16 bytes), journal_session_free
 * its free, journal_session_end the session's end (all its leases go).
 * Between journal_begin and journal_commit (dispatch.c brackets every
 * request) they collect and are written with one write and one fdatasync
 * at the commit, before the request's reply leaves; otherwise each is
 * written at once.  A failed write is logged: the leases stay valid, they
 * may just not be resumable after a crash.
 */
void journal_session_alloc(struct kmemd *d, const uint8_t *token,
			   const struct lease *l);
void journal_session_free(struct kmemd *d, uint64_t id);
void journal_session_end(struct kmemd *d, const uint8_t *token);
void journal_begin(void);
void journal_commit(struct kmemd *d);

/*
 * journal_ids - call after lease ids were issued (d->leases.next_id moved)
 * and before any of them is answered: when the last one passes the
 * journal's id mark, a new mark is written (fdatasync) so that no daemon
 * after a crash issues those ids again.  A comparison otherwise; once per
 * 65536 ids a write.  A failed write is logged (ids may then repeat after a
 * crash) and not retried before the next chunk.
 */
void journal_ids(struct kmemd *d);

#endif
