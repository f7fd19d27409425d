/*
 * notify.h - systemd integration (libsystemd): readiness, status, the
 * watchdog and socket activation.  Harmless without systemd: every call
 * is a no-op when $NOTIFY_SOCKET / $LISTEN_FDS are not set.
 */
#ifndef KMEMD_NOTIFY_H
#define KMEMD_NOTIFY_H

#include "kmemd.h"

/* An inherited listening socket bound to path (socket activation), or -1. */
int notify_listen_fd(const char *path);

/* READY=1 with a status line, and start the watchdog pings if asked. */
void notify_ready(struct kmemd *d);

/* STOPPING=1; stops the watchdog timer. */
void notify_stopping(struct kmemd *d);

#endif
