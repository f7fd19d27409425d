/*
 * raw.h - a kmemd client made of a plain socket and the frame codec
 * (proto/frame.h): no libuv, no libkmem.  It sends whatever bytes a test
 * wants (whole requests, pipelines, half frames, garbage) and reads
 * responses and the SCM_RIGHTS fds that come with them.
 */
#ifndef KMEM_INTEG_RAW_H
#define KMEM_INTEG_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define INTEG_RAW_MAXFDS 16

/*
 * A client made of a plain socket and the frame codec: no libuv, no
 * libkmem.  recvmsg() collects SCM_RIGHTS fds into fds[] (all of them,
 * from any read).
 */
struct integ_raw {
	int sock;
	struct kmem_frame_decoder dec;
	bool fed;			/* dec holds an unconsumed chunk */
	uint8_t buf[65536];
	int fds[INTEG_RAW_MAXFDS];
	size_t nfds;
	size_t nctrunc;			/* reads with MSG_CTRUNC set */
};

int integ_raw_connect(struct integ_raw *r, const char *path);
void integ_raw_close(struct integ_raw *r);	/* closes the fds too */

/* Write all of data.  0 or -1. */
int integ_raw_write(struct integ_raw *r, const void *data, size_t len);

/* Pack and write one Request.  0 or -1. */
int integ_raw_send(struct integ_raw *r, const Kmem__Request *q);

/*
 * integ_raw_recv - the next Response (free with kmem_frame_free_response
 * (r, NULL)), or NULL on end of stream, a bad frame, or nothing within
 * timeout_ms.
 */
Kmem__Response *integ_raw_recv(struct integ_raw *r, int timeout_ms);

/*
 * integ_raw_eof - does the daemon close the connection within timeout_ms
 * without sending anything more?  1 yes, 0 it sent bytes, -1 timeout.
 */
int integ_raw_eof(struct integ_raw *r, int timeout_ms);

/* Hello with protocol version KMEM_PROTOCOL_VERSION; the reply (status
 * checked by the caller) or NULL. */
Kmem__Response *integ_raw_hello(struct integ_raw *r, uint64_t seq);

/* Request builders: fill *q (and the body struct the caller provides). */
void integ_req_alloc(Kmem__Request *q, Kmem__Alloc *a, uint64_t seq,
		     const char *pool, uint64_t size, uint64_t align,
		     uint32_t timeout_ms);
void integ_req_free(Kmem__Request *q, Kmem__Free *f, uint64_t seq, uint64_t id);
void integ_req_ping(Kmem__Request *q, Kmem__Ping *p, uint64_t seq,
		    const void *payload, size_t len);

#endif
