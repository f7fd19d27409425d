/*
 * notify.h - systemd integration (libsystemd): readiness, status, the
 * watchdog, socket activation and the file descriptor store.  Harmless
 * without systemd: every call is a no-op when $NOTIFY_SOCKET / $LISTEN_FDS
 * are not set.
 */
#ifndef KMEMD_NOTIFY_H
#define KMEMD_NOTIFY_H

#include <stdbool.h>

#include "kmemd.h"

/*
 * An inherited listening socket bound to path (socket activation), or -1.
 * Stored pool memfds (named "pool-...") are never taken for it.
 */
int notify_listen_fd(const char *path);

/* ------------------------------------------------------------ fd store */

/*
 * Pools' memfds kept in systemd's file descriptor store (FDSTORE=1 with
 * FDNAME=pool-<name>) come back at the next start among the LISTEN_FDS,
 * after the sockets, under those names.  struct notify_fdstore holds what
 * came back while the pools are made (pools_create), and whether this
 * daemon may adopt such memory (it keeps a journal) and store its own
 * (it also has $NOTIFY_SOCKET).
 */
#define NOTIFY_FDSTORE_PREFIX "pool-"
#define NOTIFY_STORED_MAX 64

struct notify_fdstore {
	bool adopt;		/* a journal: stored memory is worth adopting */
	bool store;		/* ... and a notify socket to store it with */
	size_t n;
	struct {
		int fd;		/* -1 once taken */
		char fdname[256];	/* "pool-<name>" (FDNAME= is < 256) */
	} e[NOTIFY_STORED_MAX];
};

/* Collect the stored pool fds passed to this process (names "pool-*"). */
void notify_fdstore_collect(struct notify_fdstore *s, bool journal);

/* The stored fd of pool, or -1; it is the caller's to close from now on.
 * Always -1 when s->adopt is false. */
int notify_fdstore_take(struct notify_fdstore *s, const char *pool);

/*
 * Let go of a stored fd taken with notify_fdstore_take: its number is
 * pointed at /dev/null rather than closed, because libsystemd's
 * sd_listen_fds(), which looks up the socket afterwards, fails on a
 * passed number that is closed (and a number reused by a pool's memfd
 * must never look passed).
 */
void notify_fdstore_close(int fd);

/* FDSTORE=1, FDNAME=pool-<pool> with fd (s->store only; logged). */
void notify_fdstore_put(const struct notify_fdstore *s, const char *pool,
			int fd);

/* FDSTOREREMOVE=1, FDNAME=pool-<pool>: systemd closes what it keeps. */
void notify_fdstore_remove(const char *pool);

/* Close every stored fd not taken; with let_go, those (of no configured
 * pool, or with no journal to adopt them) are also removed from the
 * store, with a log line each. */
void notify_fdstore_release(struct notify_fdstore *s, bool let_go);

/* READY=1 with a status line, and start the watchdog pings if asked. */
void notify_ready(struct kmemd *d);

/* STOPPING=1; stops the watchdog timer. */
void notify_stopping(struct kmemd *d);

#endif
