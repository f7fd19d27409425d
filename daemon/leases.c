/*
 * leases.c - granting and taking back leases.
 *
 * A session lease sits on its session's ledger, an intrusive doubly linked
 * list, so a session's end frees everything it held in O(its leases)
 * without searching; the lease table (lease.c) finds any lease by id in
 * O(1).  A persistent lease has no owner session: it sits on the daemon's
 * list of persistent leases and is freed by an explicit Free, at once if
 * no session is attached, else when the last attached session detaches or
 * ends (it loses its name at the Free, so nobody new can attach).
 *
 * Reclaim.  A session that ends with more than REAP_INLINE leases does not
 * free them in the callback that saw it end: that would hold every other
 * client up for as long (20 ms per 100,000 leases).  Its holder (the part
 * of a session that its leases point to, lease.h) is marked ended, which
 * hides the leases from lookups at once without touching them, and joins
 * a FIFO queue with the ledger.  An idle handle, alive only while the
 * queue is not empty, frees a slice per loop turn: at most REAP_SLICE
 * leases or REAP_SLICE_NS (1 ms), whichever comes first.  Between slices the
 * loop polls, so others' requests wait for one slice at most.  Each slice
 * returns its memory to the pools and then retries the blocked
 * allocations of every pool it gave memory to.  Invariant: a lease being
 * reclaimed is in the table, charged to its pool and uid, counted in
 * t->reaping_leases, reachable only from its holder's list, and never
 * dereferences its owner (the session is gone).
 */
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "debug.h"
#include "leases.h"
#include "journal.h"
#include "log.h"
#include "magazine.h"
#include "pools.h"
#include "waitq.h"

enum { REAPER_OFF, REAPER_ON, REAPER_CLOSING };

_Static_assert(KMEMD_MAX_POOLS <= 32, "a slice's pools fit in a bit mask");

/* ------------------------------------------------------------ lists */

static void list_add(struct lease **head, struct lease *l)
{
	l->lprev = NULL;
	l->lnext = *head;
	if (*head)
		(*head)->lprev = l;
	*head = l;
}

static void list_del(struct lease **head, struct lease *l)
{
	if (l->lprev)
		l->lprev->lnext = l->lnext;
	else
		*head = l->lnext;
	if (l->lnext)
		l->lnext->lprev = l->lprev;
}

static void ledger_add(struct session *s, struct lease *l)
{
	list_add(&s->ledger, l);
	s->nleases++;
	s->bytes += l->buf.len;
}

static void ledger_del(struct session *s, struct lease *l)
{
	list_del(&s->ledger, l);
	s->nleases--;
	s->bytes -= l->buf.len;
}

static struct lease_holder *holder_new(const struct session *s)
{
	struct lease_holder *h = calloc(1, sizeof(*h));

	if (h) {
		h->session = s->id;
		h->pid = s->pid;
		memcpy(h->comm, s->comm, sizeof(h->comm));
	}
	return h;
}

/* ------------------------------------------------------------ grant */

struct lease *leases_grant(struct session *s, struct kmemd_pool *p,
			   enum lease_kind kind, struct kmem_pool_buf *buf,
			   struct dcache *dc, uint64_t requested,
			   const char *name, const char *tag, bool persist)
{
	struct kmemd *d = s->d;
	struct lease *l;

	if (!persist && !s->holder && !(s->holder = holder_new(s)))
		return NULL;
	l = lease_new(&d->leases);
	if (!l)
		return NULL;
	/* The record is zeroed, its name and tag "": the hot path has
	 * neither and allocates nothing more. */
	if (lease_set_text(&d->leases, l, name, tag))
		goto fail;
	l->kind = kind;
	l->pool = p;
	l->dcache = dc;
	l->buf = *buf;
	l->requested = requested;
	l->uid = s->uid;
	/* The loop's time (this turn's start, to the millisecond): ages are
	 * shown in seconds, and a clock read per lease showed in batches. */
	l->created_ns = uv_now(d->loop) * 1000000u;
	if (lease_insert(&d->leases, l))
		goto fail;
	if (persist) {
		list_add(&d->persistent, l);
	} else {
		l->owner = s;
		l->holder = s->holder;
		ledger_add(s, l);
	}
	if (dc)
		dc->live++;
	pool_charge(p, l->uid, l->buf.len);
	d->gen++;
	/* Only page leases can be claimed back after a restart. */
	if (s->durable && !persist && kind == LEASE_BUF)
		journal_session_alloc(d, s->token, l);
	return l;
fail:
	lease_discard(&d->leases, l);
	return NULL;
}

int leases_adopt(struct session *s, struct lease *l)
{
	struct kmemd *d = s->d;

	if (!s->holder && !(s->holder = holder_new(s)))
		return -1;
	if (lease_insert(&d->leases, l))
		return -1;
	l->owner = s;
	l->holder = s->holder;
	ledger_add(s, l);
	pool_charge(l->pool, l->uid, l->buf.len);
	d->gen++;
	return 0;
}

struct lease *leases_restore(struct kmemd *d, struct kmemd_pool *p,
			     struct kmem_pool_buf *buf, uint64_t id, uid_t uid,
			     uint64_t requested, const char *name, const char *tag)
{
	struct lease *l = lease_new_id(&d->leases, id);

	if (!l)
		return NULL;
	if (lease_set_text(&d->leases, l, name, tag))
		goto fail;
	l->kind = LEASE_BUF;
	l->pool = p;
	l->buf = *buf;
	l->requested = requested;
	l->uid = uid;
	l->created_ns = kmemd_now_ns();
	if (lease_insert(&d->leases, l))
		goto fail;
	list_add(&d->persistent, l);
	pool_charge(p, uid, l->buf.len);
	d->gen++;
	return l;
fail:
	lease_discard(&d->leases, l);
	return NULL;
}

/* ------------------------------------------------------------ release */

/*
 * Return l's memory to its pool and drop its record: what every release
 * does, whoever held l.  The caller has taken l off its list, and kicks
 * the pool's blocked allocations afterwards.
 */
static void give_back(struct kmemd *d, struct lease *l)
{
	struct kmemd_pool *p = l->pool;
	int rc;

	pool_uncharge(p, l->uid, l->buf.len);
	/* A debugging pool reports damage found as the memory goes back:
	 * let the report name this lease, and remember it for later ones. */
	if (p->debug) {
		debug_note_free(d, l);
		d->releasing = l;
	}
	if (l->kind == LEASE_OBJ) {
		rc = kmem_cache_free(l->dcache->cache, l->buf.off);
		l->dcache->live--;
	} else {
		rc = kmem_pool_free(p->pool, &l->buf);
	}
	d->releasing = NULL;
	/* The lease table and the engine disagree: a daemon bug. */
	if (rc)
		log_err("lease %llu: engine refused its free: %s",
			(unsigned long long)l->id, kmem_strerror(rc));
	lease_remove(&d->leases, l);
}

void leases_release(struct kmemd *d, struct lease *l)
{
	struct kmemd_pool *p = l->pool;

	if (l->owner) {
		if (l->owner->durable && l->kind == LEASE_BUF)
			journal_session_free(d, l->id);
		ledger_del(l->owner, l);
		if (l->magazine)
			magazine_release(l);
	} else {
		list_del(&d->persistent, l);
		/* A doomed lease's FREE was journaled when it was freed. */
		if (!l->doomed)
			journal_free(d, l->id);
	}
	give_back(d, l);
	d->gen++;
	waitq_kick(p);
}

void leases_free_persistent(struct kmemd *d, struct lease *l)
{
	if (l->refs == 0) {
		leases_release(d, l);
		return;
	}
	/* Freed now, for the journal too: a crash before the last detach
	 * must not bring it back. */
	journal_free(d, l->id);
	lease_unname(&d->leases, l);
	l->doomed = true;
}

static void drop_ref(struct kmemd *d, struct lease *l)
{
	if (--l->refs == 0 && l->doomed)
		leases_release(d, l);
}

#define ATTACH_SPARE_MAX 4096

static void attach_put(struct kmemd *d, struct attach *a)
{
	if (d->nspare_attach == ATTACH_SPARE_MAX) {
		free(a);
		return;
	}
	a->next = d->spare_attach;
	d->spare_attach = a;
	d->nspare_attach++;
}

void leases_fini(struct kmemd *d)
{
	while (d->spare_attach) {
		struct attach *a = d->spare_attach;

		d->spare_attach = a->next;
		free(a);
	}
	d->nspare_attach = 0;
}

int leases_attach(struct session *s, struct lease *l)
{
	struct kmemd *d = s->d;
	struct attach *a = d->spare_attach;

	if (a) {
		d->spare_attach = a->next;
		d->nspare_attach--;
	} else if (!(a = malloc(sizeof(*a)))) {
		return -1;
	}
	a->lease = l;
	a->next = s->attached;
	s->attached = a;
	l->refs++;
	return 0;
}

int leases_detach(struct session *s, uint64_t id)
{
	for (struct attach **pp = &s->attached; *pp; pp = &(*pp)->next) {
		struct attach *a = *pp;

		if (a->lease->id == id) {
			*pp = a->next;
			drop_ref(s->d, a->lease);
			attach_put(s->d, a);
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------ reclaim */

static void reaper_start(struct kmemd *d);

/*
 * Free up to max leases from the head of the reclaim queue, stopping
 * early once max_ns have passed (the clock is read every 64 leases); then
 * retry the blocked allocations of the pools that got memory back.
 */
static void reap_slice(struct kmemd *d, uint64_t max, uint64_t max_ns)
{
	struct lease_table *t = &d->leases;
	uint64_t start = uv_hrtime(), n = 0;
	uint32_t pools = 0;

	while (t->reaping && n < max) {
		struct lease_holder *h = t->reaping;
		struct lease *l = h->left;

		if (!l) {
			t->reaping = h->next;
			if (!t->reaping)
				t->reaping_tail = NULL;
			free(h);
			continue;
		}
		/* The next record is this one's neighbour in memory (they
		 * were granted in order); its index slot may be anywhere:
		 * start loading it now. */
		h->left = l->lnext;
		if (h->left)
			lease_prefetch(t, h->left);
		h->nleft--;
		t->reaping_leases--;
		pools |= 1u << l->pool->index;
		give_back(d, l);
		if (++n % 64 == 0 && uv_hrtime() - start >= max_ns)
			break;
	}
	/* A holder whose last lease went in this slice goes now, so that an
	 * empty queue means nothing left. */
	while (t->reaping && !t->reaping->left) {
		struct lease_holder *h = t->reaping;

		t->reaping = h->next;
		if (!t->reaping)
			t->reaping_tail = NULL;
		free(h);
	}
	d->reaper.slices++;
	start = uv_hrtime() - start;
	d->reaper.ns += start;
	if (start > d->reaper.max_ns)
		d->reaper.max_ns = start;
	d->ctr.leases_reclaimed += n;
	if (n)
		d->gen++;
	for (size_t i = 0; i < d->npools; i++)
		if (pools & (1u << i))
			waitq_kick(&d->pools[i]);
}

static void on_reaper_closed(uv_handle_t *h)
{
	struct kmemd *d = h->data;

	d->reaper.state = REAPER_OFF;
	if (d->leases.reaping)
		reaper_start(d);
}

static void on_reap(uv_idle_t *idle)
{
	struct kmemd *d = idle->data;

	/* Empty when a Verify finished the reclaim since the last turn. */
	if (d->leases.reaping)
		reap_slice(d, REAP_SLICE, REAP_SLICE_NS);
	/* Nothing left: the handle goes, so an idle daemon has no handle
	 * of this file and its loop ends when the rest is done. */
	if (!d->leases.reaping && d->reaper.state == REAPER_ON) {
		uv_idle_stop(idle);
		uv_close((uv_handle_t *)idle, on_reaper_closed);
		d->reaper.state = REAPER_CLOSING;
	}
}

/* Run on_reap every loop turn (a closing handle restarts when closed). */
static void reaper_start(struct kmemd *d)
{
	if (d->reaper.state != REAPER_OFF)
		return;
	uv_idle_init(d->loop, &d->reaper.idle);
	d->reaper.idle.data = d;
	uv_idle_start(&d->reaper.idle, on_reap);
	d->reaper.state = REAPER_ON;
}

/* One slice without limits: counted as a slice, and as the longest if it
 * is (it held everyone up as long). */
void leases_reap_all(struct kmemd *d)
{
	while (d->leases.reaping)
		reap_slice(d, UINT64_MAX, UINT64_MAX);
}

/* Queue the ledger of s for reclaim; s holds nothing afterwards. */
static void hand_over(struct kmemd *d, struct session *s)
{
	struct lease_table *t = &d->leases;
	struct lease_holder *h = s->holder;

	h->ended = true;
	h->left = s->ledger;
	h->nleft = s->nleases;
	h->next = NULL;
	if (t->reaping_tail)
		t->reaping_tail->next = h;
	else
		t->reaping = h;
	t->reaping_tail = h;
	t->reaping_leases += s->nleases;
	s->ledger = NULL;
	s->nleases = 0;
	s->bytes = 0;
	/* Its magazine leases are plain leases being reclaimed now. */
	memset(s->mag, 0, sizeof(s->mag));
	d->ctr.sessions_reclaimed++;
	d->gen++;
	reaper_start(d);
}

void leases_session_end(struct session *s)
{
	struct kmemd *d = s->d;
	uint64_t n = s->nleases;

	waitq_drop_session(s);
	/* One record for all of a durable session's leases, unless the
	 * daemon is stopping: then they stay in the journal for a resume
	 * after the restart, as after a crash. */
	if (s->durable && !d->stopping)
		journal_session_end(d, s->token);
	s->durable = false;
	while (s->attached) {
		struct attach *a = s->attached;

		s->attached = a->next;
		drop_ref(d, a->lease);
		attach_put(d, a);
	}
	if (n > REAP_INLINE) {
		hand_over(d, s);
	} else {
		while (s->ledger)
			leases_release(d, s->ledger);
		d->ctr.leases_reclaimed += n;
		free(s->holder);
	}
	s->holder = NULL;
	if (n)
		log_info("session %llu (pid %d, %s): %llu lease(s) %s",
			 (unsigned long long)s->id, (int)s->pid, s->comm,
			 (unsigned long long)n, n > REAP_INLINE ?
			 "to reclaim, a slice per loop turn" : "reclaimed");
}
