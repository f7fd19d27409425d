/*
 * waitq.c - blocking allocations (timeout_ms > 0).
 *
 * A request that finds no memory joins its pool's FIFO with a timer.  Each
 * time memory comes back to the pool the queue is tried from its head, and
 * the head is served first: a large request is not starved by small ones
 * overtaking it (as with the kernel's page allocator waiting in order).  A
 * waiter that times out gets TIMEOUT; one whose session ends is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/pool.h"
#include "log.h"
#include "server.h"
#include "waitq.h"

struct waiter {
	uv_timer_t timer;	/* first: handle -> waiter */
	struct session *s;
	struct kmemd_pool *p;
	uint64_t seq;
	struct alloc_args a;
	bool done;		/* finished; memory goes with the timer's close */
	struct waiter *next, *prev;
};

static void unlink_waiter(struct waiter *w)
{
	struct kmemd_pool *p = w->p;

	if (w->prev)
		w->prev->next = w->next;
	else
		p->wait_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		p->wait_tail = w->prev;
	w->s->waiting--;
}

static void on_timer_close(uv_handle_t *h)
{
	free(h->data);
}

static void finish(struct waiter *w)
{
	if (w->done)
		return;
	w->done = true;
	unlink_waiter(w);
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, on_timer_close);
}

static void on_timeout(uv_timer_t *t)
{
	struct waiter *w = t->data;
	struct session *s = w->s;
	char msg[160];

	snprintf(msg, sizeof(msg), "no memory was freed for %llu bytes within "
		 "%u ms", (unsigned long long)w->a.size, w->a.timeout_ms);
	dispatch_reply_status(s, w->seq, KMEM__STATUS__STATUS_TIMEOUT, msg);
	finish(w);
	session_flush(s);
}

int waitq_add(struct session *s, struct kmemd_pool *p, uint64_t seq,
	      const struct alloc_args *a)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->s = s;
	w->p = p;
	w->seq = seq;
	w->a = *a;
	uv_timer_init(s->d->loop, &w->timer);
	w->timer.data = w;
	uv_timer_start(&w->timer, on_timeout, a->timeout_ms, 0);
	w->prev = p->wait_tail;
	if (p->wait_tail)
		p->wait_tail->next = w;
	else
		p->wait_head = w;
	p->wait_tail = w;
	s->waiting++;
	return 0;
}

void waitq_kick(struct kmemd_pool *p)
{
	while (p->wait_head) {
		struct waiter *w = p->wait_head;
		struct session *s = w->s;
		char msg[KMEM_MSG_MAX];
		int st;

		st = dispatch_try_alloc(s, p, &w->a, w->seq, msg, sizeof(msg));
		if (st == KMEM__STATUS__STATUS_NO_MEMORY)
			return;
		finish(w);
		session_flush(s);
	}
}

void waitq_drop_session(struct session *s)
{
	struct kmemd *d = s->d;

	for (size_t i = 0; i < d->npools && s->waiting; i++) {
		struct waiter *w = d->pools[i].wait_head, *next;

		for (; w; w = next) {
			next = w->next;
			if (w->s == s)
				finish(w);
		}
	}
}

void waitq_drop_all(struct kmemd *d)
{
	for (size_t i = 0; i < d->npools; i++) {
		while (d->pools[i].wait_head) {
			struct waiter *w = d->pools[i].wait_head;

			dispatch_reply_status(w->s, w->seq, KMEM__STATUS__STATUS_BUSY,
					      "the daemon is shutting down");
			session_flush(w->s);
			finish(w);
		}
	}
}
