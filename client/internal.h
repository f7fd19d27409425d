/*
 * internal.h - libkmem's private structures (client/ only).
 */
#ifndef KMEM_CLIENT_INTERNAL_H
#define KMEM_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "frame.h"
#include "kmem/client.h"

#define MAX_POOLS 16

struct cpool {
	char name[32];
	char iova[8];
	char policy[12];
	uint64_t size, page_size, map_offset;
	int fd;
	void *base;
};

struct kmem_client {
	pthread_mutex_t lock;
	int sock;
	uint64_t seq;
	struct kmem_frame_decoder dec;
	struct kmem_frame_buf out;
	struct cpool pools[MAX_POOLS];
	size_t npools;
	uint8_t rbuf[65536];
	size_t rlen, rpos;	/* unread bytes of rbuf not yet fed */
	char err[256];
};

/* Record the error sentence; returns code. */
int kmem__client_fail(struct kmem_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One round trip (caller holds c->lock).  On 0 *r is an OK response to
 * release with kmem_frame_free_response(). */
int kmem__client_call(struct kmem_client *c, Kmem__Request *q,
		      Kmem__Response **r);

#endif
