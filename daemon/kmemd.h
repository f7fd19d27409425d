/*
 * kmemd.h - the daemon's one context and the structures hanging off it.
 *
 * One struct kmemd is built in main() and reached from every libuv handle
 * through ->data.  One event-loop thread owns it, the engine and every
 * pool: nothing here is locked.
 */
#ifndef KMEMD_H
#define KMEMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "kmem/pool.h"
#include "config.h"
#include "lease.h"
#include "frame.h"
#include "arena.h"

#define KMEMD_VERSION "0.1.0"

struct session;
struct orphan_set;
struct waiter;
struct kmemd_http;

/* Per-uid bytes in one pool (for quotas and stats). */
struct uid_usage {
	uid_t uid;
	uint64_t bytes;
};

struct kmemd_pool {
	struct pool_config cfg;
	struct kmem_pool *pool;
	struct kmemd *d;
	unsigned index;
	struct uid_usage *usage;
	size_t nusage, cap_usage;
	struct waiter *wait_head, *wait_tail;	/* blocking allocations, FIFO */
	uint64_t leases, bytes;			/* live session + named */
	unsigned debug;		/* KMEM_CACHE_POISON | _REDZONE now (debug.c) */
};

/* Request types, for the counters. */
enum req_type {
	REQ_HELLO, REQ_ALLOC, REQ_FREE, REQ_ALLOC_BATCH, REQ_FREE_BATCH,
	REQ_CACHE_CREATE, REQ_CACHE_ALLOC, REQ_CACHE_FREE, REQ_CACHE_DESTROY,
	REQ_LOOKUP, REQ_DETACH, REQ_STATS, REQ_PING, REQ_DEBUG, REQ_VERIFY,
	REQ_INVALID, REQ_NTYPES,
};

#define LAT_BUCKETS 16	/* 1 us .. 32 ms, powers of two, then +Inf */

struct kmemd_counters {
	uint64_t requests[REQ_NTYPES];
	uint64_t errors[16];		/* by wire status */
	uint64_t latency[LAT_BUCKETS + 1];
	uint64_t latency_sum_ns;
	uint64_t sessions_total;
	uint64_t leases_reclaimed;	/* freed because their session ended */
	uint64_t sessions_reclaimed;	/* ended with too many leases to free
					   at once: reclaimed in slices */
};

/*
 * A slab-object lease freed from a poisoning pool, remembered so that a
 * poison report at the object's next allocation can name who held it
 * (debug.c keeps the last FREED_RING of them).
 */
struct freed_lease {
	uint64_t id, session, off, len, freed_ns;
	const struct kmemd_pool *pool;
	pid_t pid;
	char comm[17];
	char tag[LEASE_TAG_MAX];
};

#define FREED_RING 1024

struct verify_run;

struct kmemd {
	uv_loop_t *loop;
	struct kmemd_config cfg;
	struct kmemd_pool pools[KMEMD_MAX_POOLS];
	size_t npools;
	struct lease_table leases;
	uv_pipe_t listener;
	bool listening;
	uv_idle_t resume;		/* resumes sessions held back for fairness */
	bool resuming;
	uint64_t unsent;		/* reply bytes in flight, all sessions */
	uint64_t gen;			/* bumped by every change the stats
					   show: leases, caches, debugging */
	struct {			/* one stats document per loop turn */
		char *text;
		uint64_t gen, now;
	} stats_cache[2];
	bool socket_activated;		/* the listener came from systemd */
	uv_signal_t sigterm, sigint;
	struct session *sessions;	/* list of live sessions */
	size_t nsessions;
	uint64_t next_session_id;
	struct kmemd_counters ctr;
	struct dcache *caches;		/* named slab caches */
	uint64_t next_cache_id;
	uint64_t start_ns;
	int journal_fd;			/* persistent leases' journal, or -1 */
	bool stopping;
	struct kmemd_http *http;	/* the HTTP stats endpoint (http.c) */
	/* Slab debugging (debug.c): recently freed objects, the lease whose
	 * memory is being freed right now, and the Verify collecting what
	 * the engine reports. */
	struct freed_lease *freed;	/* FREED_RING entries, or NULL */
	size_t freed_next;
	const struct lease *releasing;
	struct verify_run *verify;
	/* The request arena (dispatch.c's theory block), set up by the
	 * first request; and the serial of the last FreeBatch/CacheFree
	 * (batch.c: repeated ids). */
	struct arena req_arena;
	bool req_arena_ready;
	uint64_t batch_serial;
	struct attach *spare_attach;	/* freed attachment records, for
					   reuse (leases.c; at most
					   ATTACH_SPARE_MAX) */
	size_t nspare_attach;
	/* Leases without a session (named, or freed while attached), on
	 * their lnext/lprev links: what the stats list, without a walk over
	 * every lease. */
	struct lease *persistent;
	/* Leases of durable sessions that were open when the previous
	 * daemon died, waiting for a resume (resume.c). */
	struct orphan_set *orphans;
	uint64_t orphan_leases, orphan_bytes;
	uv_timer_t orphan_timer;	/* the grace period's end */
	bool orphan_timer_on;
	/* The reclaim of ended sessions' leases, a slice per loop turn
	 * (leases.c); the queue itself is in the lease table. */
	struct {
		uv_idle_t idle;		/* initialised only while running */
		int state;		/* REAPER_OFF, _ON, _CLOSING */
		uint64_t slices;	/* slices run in the daemon's life */
		uint64_t ns, max_ns;	/* their time, all and the longest */
	} reaper;
	uint8_t readbuf[65536];		/* every session reads into this */
};

/* A named slab cache created by a client. */
struct dcache {
	uint64_t id;
	struct kmem_cache *cache;
	struct kmemd_pool *pool;
	uid_t uid;			/* creator */
	uint64_t live;			/* objects leased */
	struct dcache *next;
};

/* Client magazines of one session in one pool (magazine.c). */
struct mag_acct {
	uint64_t leases, bytes;		/* granted by magazine refills, live */
	uint64_t idle, idle_bytes;	/* idle in the client, last reported */
};

/* A session: one client connection. */
struct session {
	uv_pipe_t pipe;			/* first: handle -> session */
	struct kmemd *d;
	uint64_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[17];
	char name[64];			/* Hello client_name */
	bool durable;			/* its buffer leases are journaled */
	uint8_t token[16];		/* durable: the session's token */
	bool hello;
	bool admin;			/* root or the admin group */
	bool closing;
	bool draining;			/* close once the replies are out */
	bool reading;
	uint8_t *backlog;		/* requests read but not yet handled */
	size_t backlog_len;
	struct kmem_frame_decoder dec;
	struct kmem_frame_buf out;	/* replies waiting for the next flush */
	size_t inflight;		/* bytes in uv_write()s not yet done */
	struct lease *ledger;		/* leases this session owns */
	uint64_t nleases, bytes;
	struct lease_holder *holder;	/* from its first lease on */
	struct attach *attached;	/* persistent leases it looked up */
	/* Daemon pool index -> the index in this client's Hello reply
	 * (0xff: not visible to it). */
	uint8_t pool_index[KMEMD_MAX_POOLS];
	uv_timer_t stall;		/* half-received frame timeout */
	bool stall_armed;
	unsigned waiting;		/* blocking requests queued */
	struct mag_acct mag[KMEMD_MAX_POOLS];	/* by daemon pool index */
	struct session *next, *prev;
};

struct attach {
	struct lease *lease;
	struct attach *next;
};

uint64_t kmemd_now_ns(void);

#endif
