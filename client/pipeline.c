/*
 * pipeline.c - pipelined batches: AllocBatch and FreeBatch requests left
 * in flight between calls, each named by a ticket, which is its request's
 * seq (kmem/client.h says what callers may rely on).
 *
 * The table.  A connection has KMEM_PIPE_MAX ticket slots, kept in the
 * client itself (no allocation per batch, nothing to fail).  A slot goes
 *	FREE -> SENT	when its request has been written whole;
 *	SENT -> READ	when some reader finds its reply: the receive of a
 *			later ticket, another call's round trip, or a write
 *			making room (client.c), all through kmem__pipe_keep;
 *	SENT, READ -> DONE  when the connection is lost (KMEM_ECONN);
 *	FREE -> DONE	for a FreeBatch that magazines settled at its send;
 *	any -> FREE	at its receive (or at disconnect).
 * A reply is kept as unpacked, status unchecked: the receive turns it into
 * an outcome, so an error's sentence is the daemon's, given to whoever
 * receives the ticket.  Invariants: ntickets counts the slots not FREE,
 * and their seqs are distinct (seqs only grow).  Lookups are linear over
 * 64 slots, made only at a receive and for a reply that is not the one
 * being waited for: never on the path of an ordinary call.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static struct kmem__ticket *find(struct kmem_client *c, uint64_t seq)
{
	for (size_t i = 0; seq && c->ntickets && i < KMEM_PIPE_MAX; i++)
		if (c->tickets[i].state != KMEM__T_FREE && c->tickets[i].seq == seq)
			return &c->tickets[i];
	return NULL;
}

/* A FREE slot, or NULL (with the sentence) when KMEM_PIPE_MAX are taken. */
static struct kmem__ticket *vacant(struct kmem_client *c)
{
	for (size_t i = 0; c->ntickets < KMEM_PIPE_MAX && i < KMEM_PIPE_MAX; i++)
		if (c->tickets[i].state == KMEM__T_FREE)
			return &c->tickets[i];
	kmem__client_fail(c, KMEM_EBUSY, "%d batches are outstanding already: "
			  "receive one first", KMEM_PIPE_MAX);
	return NULL;
}

static void take(struct kmem_client *c, struct kmem__ticket *t, uint64_t seq,
		 uint32_t count, int state)
{
	t->seq = seq;
	t->count = count;
	t->state = (uint8_t)state;
	c->ntickets++;
}

static void release(struct kmem_client *c, struct kmem__ticket *t)
{
	kmem_frame_free_response(t->r, NULL);
	free(t->msg);
	memset(t, 0, sizeof(*t));
	c->ntickets--;
}

/* t's outcome is known without a reply: rc, and its sentence if an error
 * (kept by copy; without memory for it, kmem_strerror's will do). */
static void settle(struct kmem__ticket *t, int rc, const char *msg)
{
	kmem_frame_free_response(t->r, NULL);
	t->r = NULL;
	t->state = KMEM__T_DONE;
	t->rc = rc;
	t->msg = rc && msg && *msg ? strdup(msg) : NULL;
}

int kmem__pipe_keep(struct kmem_client *c, Kmem__Response *r)
{
	struct kmem__ticket *t = find(c, r->seq);

	if (!t || t->state != KMEM__T_SENT)
		return -1;
	t->r = r;
	t->state = KMEM__T_READ;
	return 0;
}

void kmem__pipe_lost(struct kmem_client *c, const char *why)
{
	/* A reply read already is no better: the daemon took back the
	 * session's leases when the connection ended. */
	for (size_t i = 0; c->ntickets && i < KMEM_PIPE_MAX; i++) {
		struct kmem__ticket *t = &c->tickets[i];

		if (t->state == KMEM__T_SENT || t->state == KMEM__T_READ)
			settle(t, KMEM_ECONN, why);
	}
}

void kmem__pipe_fini(struct kmem_client *c)
{
	for (size_t i = 0; c->ntickets && i < KMEM_PIPE_MAX; i++)
		if (c->tickets[i].state != KMEM__T_FREE)
			release(c, &c->tickets[i]);
}

/* ------------------------------------------------------------ sending */

static int alloc_send(struct kmem_client *c, const char *pool, uint64_t size,
		      unsigned flags, uint32_t count, uint64_t *ticket)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__AllocBatch a = KMEM__ALLOC_BATCH__INIT;
	struct kmem__ticket *t = vacant(c);
	int rc;

	if (!t)
		return KMEM_EBUSY;
	kmem__req_alloc_batch(&q, &a, pool, size, flags, count);
	rc = kmem__client_send(c, &q);
	if (rc)
		return rc;
	take(c, t, q.seq, count, KMEM__T_SENT);
	c->err[0] = 0;
	*ticket = q.seq;
	return 0;
}

int kmem_client_alloc_batch_send(struct kmem_client *c, const char *pool,
				 uint64_t size, unsigned flags, uint32_t count,
				 uint64_t *ticket)
{
	bool locked;
	int rc;

	if (!ticket)
		return kmem__client_fail(c, KMEM_EINVAL, "no ticket to return");
	locked = kmem__client_lock(c);
	rc = alloc_send(c, pool, size, flags, count, ticket);
	kmem__client_unlock(c, locked);
	return rc;
}

static int free_send(struct kmem_client *c, const uint64_t *ids, size_t n,
		     uint64_t *ticket)
{
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__FreeBatch fb = KMEM__FREE_BATCH__INIT;
	Kmem__CacheFree cf = KMEM__CACHE_FREE__INIT;
	struct kmem__ticket *t = vacant(c);
	int rc;

	if (!t)
		return KMEM_EBUSY;
	/* Magazine objects go back to their magazines as a blocking
	 * FreeBatch gives them back; the ticket then carries the outcome
	 * (KMEM__MAG_PASS: none of ids is theirs, the daemon frees all). */
	rc = kmem__mag_free_ids(c, false, ids, n);
	if (rc != KMEM__MAG_PASS) {
		take(c, t, ++c->seq, 0, KMEM__T_DONE);
		settle(t, rc, c->err);
		*ticket = t->seq;
		return 0;
	}
	kmem__req_ids(&q, &fb, &cf, false, ids, n);
	rc = kmem__client_send(c, &q);
	if (rc)
		return rc;
	take(c, t, q.seq, 0, KMEM__T_SENT);
	c->err[0] = 0;
	*ticket = q.seq;
	return 0;
}

int kmem_client_free_batch_send(struct kmem_client *c, const uint64_t *ids,
				size_t n, uint64_t *ticket)
{
	bool locked;
	int rc;

	if (!ticket || (n && !ids))
		return kmem__client_fail(c, KMEM_EINVAL, "%s", !ticket ?
					 "no ticket to return" : "ids is NULL");
	locked = kmem__client_lock(c);
	rc = free_send(c, ids, n, ticket);
	kmem__client_unlock(c, locked);
	return rc;
}

/* ------------------------------------------------------------ receiving */

/* The outcome of t, which has its reply or is DONE; out as for recv. */
static int outcome(struct kmem_client *c, struct kmem__ticket *t,
		   struct kmem_buf *out)
{
	Kmem__Response *r = t->r;
	int rc;

	if (t->state == KMEM__T_DONE) {
		if (t->rc == 0)
			c->err[0] = 0;
		else
			kmem__client_fail(c, t->rc, "%s", t->msg ? t->msg :
					  kmem_strerror(t->rc));
		return t->rc;
	}
	/* The reply is the caller's to release from here on. */
	t->r = NULL;
	rc = kmem__client_status(c, r);
	if (rc)
		return rc;
	if (t->count)
		return kmem__lease_batch(c, r, t->count, out);
	kmem_frame_free_response(r, NULL);
	return 0;
}

static int recv_ticket(struct kmem_client *c, uint64_t ticket,
		       struct kmem_buf *out, size_t *n)
{
	struct kmem__ticket *t = find(c, ticket);
	uint32_t count;
	int rc;

	if (!t)
		return kmem__client_fail(c, KMEM_EINVAL, "no batch %llu is "
					 "outstanding (never sent, or received "
					 "already)", (unsigned long long)ticket);
	if (t->count && !out)
		return kmem__client_fail(c, KMEM_EINVAL, "batch %llu allocates %u "
					 "buffers: out must have room for them",
					 (unsigned long long)ticket, t->count);
	if (t->state == KMEM__T_SENT) {
		Kmem__Response *r;

		/* Replies to earlier tickets that come first are kept in
		 * theirs; a failure here has settled every ticket. */
		rc = kmem__client_wait(c, t->seq, &r);
		if (rc && t->state == KMEM__T_SENT)
			settle(t, rc, c->err);
		if (!rc) {
			t->r = r;
			t->state = KMEM__T_READ;
		}
	}
	rc = outcome(c, t, out);
	count = t->count;
	release(c, t);
	if (!rc && n)
		*n = count;
	return rc;
}

int kmem_client_batch_recv(struct kmem_client *c, uint64_t ticket,
			   struct kmem_buf *out, size_t *n)
{
	bool locked = kmem__client_lock(c);
	int rc = recv_ticket(c, ticket, out, n);

	kmem__client_unlock(c, locked);
	return rc;
}
