/*
 * internal.h - libkmem's private structures (client/ only).
 */
#ifndef KMEM_CLIENT_INTERNAL_H
#define KMEM_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define KMEM_SINGLE_THREADED() (__libc_single_threaded != 0)
#endif
#endif
#ifndef KMEM_SINGLE_THREADED
#define KMEM_SINGLE_THREADED() false
#endif

#include "frame.h"
#include "kmem/client.h"

#define MAX_POOLS 16

struct kmem_mags;

struct cpool {
	char name[32];
	char iova[8];
	char policy[12];
	uint64_t size, page_size, map_offset;
	int fd;
	void *base;
};

struct kmem_client {
	int lock;		/* the connection mutex (mutex.c); 0 = free */
	int sock;
	uint64_t seq;
	struct kmem_frame_decoder dec;
	struct kmem_frame_buf out;
	struct cpool pools[MAX_POOLS];
	size_t npools;
	uint8_t rbuf[65536];
	size_t rlen, rpos;	/* unread bytes of rbuf not yet fed */
	char err[256];
	struct kmem_mags *mags;	/* magazine.c; NULL when opted out */
};

/* The connection mutex's slow paths (mutex.c): v is the word's value the
 * failed attempt saw. */
void kmem__mutex_wait(int *m, int v);
void kmem__mutex_wake(int *m);

/*
 * Take c's mutex, unless the process has a single thread: then nobody can
 * contend for it, and only this thread could start another, which it does
 * not do inside a libkmem call (glibc's malloc elides its arena lock the
 * same way).  Returns whether it was taken, for kmem__client_unlock.
 */
static inline bool kmem__client_lock(struct kmem_client *c)
{
	int v = 0;

	if (KMEM_SINGLE_THREADED())
		return false;
	if (!__atomic_compare_exchange_n(&c->lock, &v, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		kmem__mutex_wait(&c->lock, v);
	return true;
}

static inline void kmem__client_unlock(struct kmem_client *c, bool locked)
{
	if (locked && __atomic_exchange_n(&c->lock, 0, __ATOMIC_RELEASE) == 2)
		kmem__mutex_wake(&c->lock);
}

/* Record the error sentence; returns code. */
int kmem__client_fail(struct kmem_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One round trip (caller holds c->lock).  On 0 *r is an OK response to
 * release with kmem_frame_free_response(). */
int kmem__client_call(struct kmem_client *c, Kmem__Request *q,
		      Kmem__Response **r);

/*
 * Magazines (magazine.c).  create/destroy at connect and disconnect; the
 * others run with c->lock held and return KMEM__MAG_PASS when the request
 * is not for a magazine (opted out, too large, other options, an id no
 * magazine granted): the caller then makes its ordinary round trip.
 * Otherwise 0 or a negative error, as the request's own would be.
 */
#define KMEM__MAG_PASS 1

int kmem__mag_create(struct kmem_client *c);
void kmem__mag_destroy(struct kmem_client *c);
int kmem__mag_alloc(struct kmem_client *c, uint64_t size,
		    const struct kmem_alloc_opts *opts, struct kmem_buf *out);
int kmem__mag_free(struct kmem_client *c, uint64_t id);
/* A FreeBatch (cache false) or CacheFree (true) of ids, all or nothing:
 * magazine objects go back to their magazines, the rest in one request. */
int kmem__mag_free_ids(struct kmem_client *c, bool cache, const uint64_t *ids,
		       size_t n);
int kmem__mag_cache_alloc(struct kmem_client *c, const char *name,
			  uint32_t count, struct kmem_buf *out);
/* Give cache name's idle objects back (before destroying it): 0 or error. */
int kmem__mag_cache_drain(struct kmem_client *c, const char *name);

#endif
