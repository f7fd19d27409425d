/*
 * http.h - the HTTP/1.1 stats endpoint: GET /stats, /metrics, /healthz.
 *
 * Served on a second Unix socket (cfg.stats_socket_path, "" = none) and,
 * when cfg.stats_port is set, on cfg.stats_address:stats_port (127.0.0.1
 * unless configured otherwise), from the daemon's one loop.
 */
#ifndef KMEMD_HTTP_H
#define KMEMD_HTTP_H

#include "kmemd.h"

/* At most this many HTTP connections at once; more are answered 503. */
#define KMEMD_HTTP_MAX_CONNS 64
/* Request line plus headers of one request; more is answered 431. */
#define KMEMD_HTTP_MAX_HEADER 8192
/* Longest request target kept for routing; longer is answered 414. */
#define KMEMD_HTTP_MAX_URL 1024
/* Bytes read from one connection but not yet parsed (one read's worth). */
#define KMEMD_HTTP_IN_BUF 8192
/* Unsent response bytes before a connection stops being read. */
#define KMEMD_HTTP_OUT_LIMIT (256u << 10)

/*
 * http_start - bind the stats socket (mode cfg.stats_socket_mode, set at
 * creation under a umask; a stale socket of a dead daemon is replaced, a
 * live one never) and the TCP port if configured, and start accepting.
 * Neither configured: does nothing.  Returns 0, or -1 (logged) with
 * nothing left bound or listening; the handles it opened are closed
 * (their close callbacks run on the next uv_run).
 */
int http_start(struct kmemd *d);

/*
 * http_stop - close the listeners and every HTTP connection (responses
 * not yet sent are dropped) and remove the stats socket file.  Memory is
 * released by the close callbacks, on the loop's next turn.  Safe to call
 * twice, or when http_start did nothing.
 */
void http_stop(struct kmemd *d);

#endif
