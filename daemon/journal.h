/*
 * journal.h - the journal of persistent leases (journal.c).
 */
#ifndef KMEMD_JOURNAL_H
#define KMEMD_JOURNAL_H

#include "kmemd.h"

/*
 * journal_open - read state_dir/journal, restore the persistent leases it
 * holds into the pools (which must exist), compact it, and open it for
 * appending.  No state_dir: no journal.  0, or -1 (logged).
 */
int journal_open(struct kmemd *d);
void journal_close(struct kmemd *d);

/* Record a new persistent lease, durably (fdatasync).  0 or -1. */
int journal_alloc(struct kmemd *d, const struct lease *l);

/* Record that a persistent lease was freed. */
void journal_free(struct kmemd *d, uint64_t id);

#endif
