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

/*
 * One pipelined batch (pipeline.c): a request sent whose reply the caller
 * has not received yet.  Its ticket is the request's seq.
 */
enum kmem__ticket_state {
	KMEM__T_FREE,		/* slot unused */
	KMEM__T_SENT,		/* request written, reply not read */
	KMEM__T_READ,		/* reply read and kept in r */
	KMEM__T_DONE,		/* outcome known without a reply: rc, msg */
};

struct kmem__ticket {
	uint64_t seq;
	uint32_t count;		/* buffers of an AllocBatch; 0 for a FreeBatch */
	uint8_t state;		/* enum kmem__ticket_state */
	int rc;			/* KMEM__T_DONE: the outcome */
	char *msg;		/* KMEM__T_DONE with an error: its sentence
				   (malloc'd; NULL: kmem_strerror's) */
	Kmem__Response *r;	/* KMEM__T_READ: the reply, status unchecked */
};

struct cpool {
	char name[32];
	char iova[8];
	char policy[12];
	uint64_t size, page_size, map_offset;
	int fd;
	void *base;
};

/* A lease adopted by a resume, as the Hello reply described it. */
struct kmem__resumed {
	uint64_t id, offset, len, phys;
	unsigned pool;
	size_t nsegs;
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
	bool durable;		/* the daemon gave a session token */
	uint8_t token[16];
	uint32_t grace_ms;
	char durable_note[96];	/* why durable was refused */
	struct kmem__resumed *resumed;	/* leases adopted at connect */
	size_t nresumed;
	unsigned ntickets;	/* slots of tickets[] in use */
	struct kmem__ticket tickets[KMEM_PIPE_MAX];
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

/*
 * One round trip (caller holds c->lock).  On 0 *r is an OK response to
 * release with kmem_frame_free_response(); r NULL releases it here, for
 * the requests whose reply carries nothing but its status.  Replies to
 * outstanding tickets that arrive first are kept for their receiver.
 */
int kmem__client_call(struct kmem_client *c, Kmem__Request *q,
		      Kmem__Response **r);

/*
 * The two halves of kmem__client_call, for pipelining (caller holds
 * c->lock).  kmem__client_send numbers q (q->seq) and writes it whole,
 * reading and keeping tickets' replies meanwhile if the daemon waits for
 * them to be read.  kmem__client_wait reads until the reply to seq arrives
 * and gives it unchecked in *r, keeping tickets' replies that come before
 * it.  kmem__client_status turns a reply's status into 0 (the sentence
 * cleared) or an error (the daemon's sentence recorded, r released).  A
 * transport or framing failure shuts the connection down and fails every
 * outstanding ticket (kmem__pipe_lost).
 */
int kmem__client_send(struct kmem_client *c, Kmem__Request *q);
int kmem__client_wait(struct kmem_client *c, uint64_t seq, Kmem__Response **r);
int kmem__client_status(struct kmem_client *c, Kmem__Response *r);

/* Requests built once for their every user (ops.c): an AllocBatch into
 * q and a, and a FreeBatch (cache false, into fb) or CacheFree (true,
 * into cf) of ids.  Pointers are stored, not copied. */
void kmem__req_alloc_batch(Kmem__Request *q, Kmem__AllocBatch *a,
			   const char *pool, uint64_t size, unsigned flags,
			   uint32_t count);
void kmem__req_ids(Kmem__Request *q, Kmem__FreeBatch *fb, Kmem__CacheFree *cf,
		   bool cache, const uint64_t *ids, size_t n);

/* An OK reply that must be a LeaseBatch of count leases into out[0..count)
 * (ops.c).  Releases r.  0, or KMEM_EPROTO with nothing usable in out. */
int kmem__lease_batch(struct kmem_client *c, Kmem__Response *r, uint32_t count,
		      struct kmem_buf *out);

/*
 * The ticket table (pipeline.c), called by the transport with c->lock
 * held.  kmem__pipe_keep takes a reply that is not the one being waited
 * for: 0 if it answers an outstanding ticket (kept in it), -1 otherwise
 * (the caller still owns r).  kmem__pipe_lost fails every ticket whose
 * outcome the connection can no longer bring, with KMEM_ECONN and the
 * sentence why.  kmem__pipe_fini releases what the table holds.
 */
int kmem__pipe_keep(struct kmem_client *c, Kmem__Response *r);
void kmem__pipe_lost(struct kmem_client *c, const char *why);
void kmem__pipe_fini(struct kmem_client *c);

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
