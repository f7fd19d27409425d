/*
 * leases.c - granting and taking back leases.
 *
 * A session lease sits on its session's ledger, an intrusive doubly linked
 * list, so a session's end frees everything it held in O(its leases)
 * without searching; the lease table (lease.c) finds any lease by id in
 * O(1).  A persistent lease has no owner session: it is freed by an
 * explicit Free, at once if no session is attached, else when the last
 * attached session detaches or ends (it loses its name at the Free, so
 * nobody new can attach).
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

static void ledger_add(struct session *s, struct lease *l)
{
	l->lprev = NULL;
	l->lnext = s->ledger;
	if (s->ledger)
		s->ledger->lprev = l;
	s->ledger = l;
	s->nleases++;
	s->bytes += l->buf.len;
}

static void ledger_del(struct session *s, struct lease *l)
{
	if (l->lprev)
		l->lprev->lnext = l->lnext;
	else
		s->ledger = l->lnext;
	if (l->lnext)
		l->lnext->lprev = l->lprev;
	s->nleases--;
	s->bytes -= l->buf.len;
}

struct lease *leases_grant(struct session *s, struct kmemd_pool *p,
			   enum lease_kind kind, struct kmem_pool_buf *buf,
			   struct dcache *dc, uint64_t requested,
			   const char *name, const char *tag, bool persist)
{
	struct kmemd *d = s->d;
	struct lease *l = lease_new(&d->leases);

	if (!l)
		return NULL;
	l->kind = kind;
	l->pool = p;
	l->cache = dc ? dc->cache : NULL;
	l->buf = *buf;
	l->requested = requested;
	l->uid = s->uid;
	l->created_ns = kmemd_now_ns();
	/* The record is zeroed: copy only what is there (the hot path
	 * has neither). */
	if (name && *name)
		snprintf(l->name, sizeof(l->name), "%s", name);
	if (tag && *tag)
		snprintf(l->tag, sizeof(l->tag), "%s", tag);
	lease_insert(&d->leases, l);
	if (!persist) {
		l->owner = s;
		ledger_add(s, l);
	}
	if (dc)
		dc->live++;
	pool_charge(p, l->uid, l->buf.len);
	d->gen++;
	return l;
}

struct lease *leases_restore(struct kmemd *d, struct kmemd_pool *p,
			     struct kmem_pool_buf *buf, uint64_t id, uid_t uid,
			     uint64_t requested, const char *name, const char *tag)
{
	struct lease *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->id = id;
	l->kind = LEASE_BUF;
	l->pool = p;
	l->buf = *buf;
	l->requested = requested;
	l->uid = uid;
	l->created_ns = kmemd_now_ns();
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->tag, sizeof(l->tag), "%s", tag);
	lease_insert(&d->leases, l);
	pool_charge(p, uid, l->buf.len);
	d->gen++;
	return l;
}

static struct dcache *dcache_of(struct kmemd *d, const struct kmem_cache *c)
{
	for (struct dcache *dc = d->caches; dc; dc = dc->next)
		if (dc->cache == c)
			return dc;
	return NULL;
}

void leases_release(struct kmemd *d, struct lease *l)
{
	struct kmemd_pool *p = l->pool;
	int rc;

	if (l->owner)
		ledger_del(l->owner, l);
	if (l->magazine)
		magazine_release(l);
	pool_uncharge(p, l->uid, l->buf.len);
	/* A debugging pool reports damage found as the memory goes back:
	 * let the report name this lease, and remember it for later ones. */
	if (p->debug) {
		debug_note_free(d, l);
		d->releasing = l;
	}
	if (l->kind == LEASE_OBJ) {
		struct dcache *dc = dcache_of(d, l->cache);

		rc = kmem_cache_free(l->cache, l->buf.off);
		if (dc)
			dc->live--;
	} else {
		rc = kmem_pool_free(p->pool, &l->buf);
	}
	d->releasing = NULL;
	/* The lease table and the engine disagree: a daemon bug. */
	if (rc)
		log_err("lease %llu: engine refused its free: %s",
			(unsigned long long)l->id, kmem_strerror(rc));
	/* A doomed lease's FREE was journaled when it was freed. */
	if (!l->owner && !l->doomed)
		journal_free(d, l->id);
	lease_remove(&d->leases, l);
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

int leases_attach(struct session *s, struct lease *l)
{
	struct attach *a = malloc(sizeof(*a));

	if (!a)
		return -1;
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
			free(a);
			return 0;
		}
	}
	return -1;
}

void leases_session_end(struct session *s)
{
	struct kmemd *d = s->d;
	uint64_t n = s->nleases;

	waitq_drop_session(s);
	while (s->attached) {
		struct attach *a = s->attached;

		s->attached = a->next;
		drop_ref(d, a->lease);
		free(a);
	}
	while (s->ledger)
		leases_release(d, s->ledger);
	d->ctr.leases_reclaimed += n;
	if (n)
		log_info("session %llu (pid %d, %s): %llu lease(s) reclaimed",
			 (unsigned long long)s->id, (int)s->pid, s->comm,
			 (unsigned long long)n);
}
