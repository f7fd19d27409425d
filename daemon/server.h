/*
 * server.h - the allocation socket: listener, sessions, framing, replies.
 */
#ifndef KMEMD_SERVER_H
#define KMEMD_SERVER_H

#include "kmemd.h"

/* Largest reply frame (the stats document of a very large pool). */
#define KMEMD_REPLY_MAX (64u << 20)

/* server_init - the server's loop handles (before server_listen). */
void server_init(struct kmemd *d);

/*
 * server_listen - bind the socket path with the configured mode (created
 * under a umask, so there is no window with a looser mode), replacing a
 * stale socket of a dead daemon but never a live one, and start listening.
 * Returns 0 or -1 (logged).
 */
int server_listen(struct kmemd *d);

/* server_stop - stop accepting and remove the socket file. */
void server_stop(struct kmemd *d);

/* session_close - end a session: its leases are freed at once. */
void session_end_after_write(struct session *s);
/* (session_end_after_write: stop reading, send what is queued, then
 * close - for protocol errors, so the client sees why.) */
void session_close(struct session *s, const char *why);

/*
 * session_reply - queue a packed response for s (sent at the next flush).
 * Returns 0, or -1 when it could not be queued (the session is closed).
 */
int session_reply(struct session *s, const Kmem__Response *r);

/*
 * session_send_fds - send what is queued now, with fds attached
 * (SCM_RIGHTS), by a direct sendmsg; only while nothing is in flight.
 * Returns 0 or -1.
 */
int session_send_fds(struct session *s, const int *fds, size_t nfds);

/* session_flush - write what is queued (one write for many replies). */
void session_flush(struct session *s);

#endif
