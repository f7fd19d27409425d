/*
 * debug.c - the slab debugging aids in the daemon (kmem/slab.h: poison
 * and red zones; Solaris kmem_flags, Linux slub_debug).
 *
 * A pool's configuration (debug = poison,redzone) sets the flags of its
 * size-class caches and of every named cache made in it; poisoning can be
 * switched at run time by an admin (the Debug request, `kmemctl debug`),
 * red zones cannot (they fix the slab layout).
 *
 * The engine reports a damaged object by its offset; this file says whose
 * it was.  A red zone is checked as a lease's memory is freed, so the
 * culprit is that lease (d->releasing, set by leases_release around the
 * free).  Poison is checked when an object is handed out again, long
 * after the lease that wrote into it is gone, so the leases freed from
 * poisoning pools are remembered in a ring of the last FREED_RING: the
 * newest entry that covered the object is its last holder.  The ring is
 * best effort - an object reused after a thousand other frees is reported
 * without a name.  Every report is one warning in the log (and, while a
 * Verify runs, one of its problems).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "config.h"
#include "debug.h"
#include "dispatch.h"
#include "log.h"
#include "pools.h"
#include "verify.h"

/* ------------------------------------------------------------ who */

/* "lease 12 of session 3 (pid 77, fio, tag 'rx')". */
static void lease_who(char *buf, size_t len, uint64_t id, uint64_t session,
		      pid_t pid, const char *comm, const char *tag)
{
	if (session)
		snprintf(buf, len, "lease %llu of session %llu (pid %d, %s, tag "
			 "'%s')", (unsigned long long)id,
			 (unsigned long long)session, (int)pid, comm, tag);
	else
		snprintf(buf, len, "lease %llu (named, tag '%s')",
			 (unsigned long long)id, tag);
}

/* A live lease, or one being reclaimed (its session is gone, its holder
 * remembers who it was). */
static void live_who(char *buf, size_t len, const struct lease *l)
{
	const struct lease_holder *h = l->holder;

	lease_who(buf, len, l->id, h ? h->session : 0, h ? h->pid : 0,
		  h ? h->comm : "", l->tag);
}

/* The newest remembered lease of pool p that covered obj. */
static const struct freed_lease *last_holder(const struct kmemd *d,
					     const struct kmemd_pool *p,
					     uint64_t obj)
{
	if (!d->freed)
		return NULL;
	for (size_t k = 1; k <= FREED_RING; k++) {
		const struct freed_lease *f =
			&d->freed[(d->freed_next + FREED_RING - k) % FREED_RING];

		if (!f->pool)
			break;
		if (f->pool == p && obj >= f->off && obj < f->off + f->len)
			return f;
	}
	return NULL;
}

struct find_arg {
	const struct kmemd_pool *p;
	uint64_t off;
	const struct lease *found;
};

static int find_one(struct lease *l, void *arg)
{
	struct find_arg *a = arg;

	if (l->pool == a->p && l->buf.off == a->off) {
		a->found = l;
		return 1;
	}
	return 0;
}

/* Who held (holds, or last held) the object the report is about. */
static void holder(const struct kmemd_pool *p, const struct kmem_debug_report *r,
		   char *buf, size_t len)
{
	const struct kmemd *d = p->d;
	const struct lease *l = d->releasing;
	const struct freed_lease *f;
	char who[160];

	if (r->kind == KMEM_CACHE_REDZONE && l && l->pool == p &&
	    l->buf.off == r->object) {
		live_who(who, sizeof(who), l);
		snprintf(buf, len, "held by %s", who);
		return;
	}
	if (r->kind == KMEM_CACHE_REDZONE) {
		struct find_arg a = { .p = p, .off = r->object };

		/* A scan: the object is live.  The walk is O(leases), but it
		 * runs only for a finding. */
		lease_foreach(&d->leases, find_one, &a);
		if (a.found)
			live_who(who, sizeof(who), a.found);
		snprintf(buf, len, "held by %s", a.found ? who : "no lease");
		return;
	}
	f = last_holder(d, p, r->object);
	if (!f) {
		snprintf(buf, len, "its last holder is not remembered");
		return;
	}
	lease_who(who, sizeof(who), f->id, f->session, f->pid, f->comm, f->tag);
	snprintf(buf, len, "last held by %s, freed %.3f s before", who,
		 (double)(kmemd_now_ns() - f->freed_ns) / 1e9);
}

/* ------------------------------------------------------------ reports */

static void report(void *ctx, const struct kmem_debug_report *r)
{
	struct kmemd_pool *p = ctx;
	static const char *const when[] = {
		"at its next allocation", "at its free", "by verify",
	};
	const char *cache = kmem_cache_name(r->cache);
	char who[256], what[256];

	holder(p, r, who, sizeof(who));
	if (r->kind == KMEM_CACHE_POISON)
		snprintf(what, sizeof(what), "object 0x%llx of cache %s was "
			 "written after it was freed: %llu byte(s), the first at "
			 "+%llu (0x%02x, not 0x%02x), found %s",
			 (unsigned long long)r->object, cache,
			 (unsigned long long)r->nbad,
			 (unsigned long long)(r->bad - r->object), r->found,
			 r->expected, when[r->when]);
	else
		snprintf(what, sizeof(what), "object 0x%llx of cache %s was %s: "
			 "its red zone %s it holds %llu damaged byte(s), the "
			 "nearest at %s%llu (0x%02x, not 0x%02x), found %s",
			 (unsigned long long)r->object, cache,
			 r->bad < r->object ? "underrun" : "overrun",
			 r->bad < r->object ? "before" : "after",
			 (unsigned long long)r->nbad,
			 r->bad < r->object ? "-" : "+",
			 (unsigned long long)(r->bad < r->object ?
			 r->object - r->bad : r->bad - r->object), r->found,
			 r->expected, when[r->when]);
	log_warn("pool %s: %s; %s", p->cfg.name, what, who);
	if (p->d->verify)
		verify_problem(p->d->verify, "pool %s: %s; %s", p->cfg.name,
			       what, who);
}

/* ------------------------------------------------------------ state */

static int ring_alloc(struct kmemd *d)
{
	if (!d->freed) {
		d->freed = calloc(FREED_RING, sizeof(*d->freed));
		d->freed_next = 0;
	}
	return d->freed ? 0 : -1;
}

int debug_pool_start(struct kmemd_pool *p)
{
	char flags[24];

	p->debug = p->cfg.debug;
	kmem_heap_set_reporter(kmem_pool_heap(p->pool), report, p);
	if (p->debug)
		log_info("pool %s: slab debugging: %s", p->cfg.name,
			 config_debug_name(p->debug, flags, sizeof(flags)));
	if ((p->debug & KMEM_CACHE_POISON) && ring_alloc(p->d)) {
		log_err("pool %s: out of memory for the ring of freed leases",
			p->cfg.name);
		return -1;
	}
	return 0;
}

unsigned debug_cache_flags(const struct kmemd_pool *p)
{
	return p->debug;
}

void debug_note_free(struct kmemd *d, const struct lease *l)
{
	const struct lease_holder *h = l->holder;
	struct freed_lease *f;

	if (!(l->pool->debug & KMEM_CACHE_POISON) || l->kind == LEASE_BUF ||
	    !d->freed)
		return;
	f = &d->freed[d->freed_next];
	d->freed_next = (d->freed_next + 1) % FREED_RING;
	f->id = l->id;
	f->session = h ? h->session : 0;
	f->pid = h ? h->pid : 0;
	snprintf(f->comm, sizeof(f->comm), "%s", h ? h->comm : "");
	snprintf(f->tag, sizeof(f->tag), "%s", l->tag);
	f->off = l->buf.off;
	f->len = l->buf.len;
	f->pool = l->pool;
	f->freed_ns = kmemd_now_ns();
}

void debug_fini(struct kmemd *d)
{
	free(d->freed);
	d->freed = NULL;
}

/* ------------------------------------------------------------ request */

/* Poisoning on or off for every cache of p (size classes and named). */
static void set_poison(struct kmemd_pool *p, bool on)
{
	const struct kmem_heap *h = kmem_pool_heap(p->pool);
	struct kmem_cache *c;

	for (size_t i = 0; (c = kmem_heap_cache_at(h, i)); i++) {
		unsigned f = kmem_cache_flags(c);
		int rc = kmem_cache_set_flags(c, on ? f | KMEM_CACHE_POISON :
						  f & ~(unsigned)KMEM_CACHE_POISON);

		/* Pools always have their mapping: a refusal is a bug. */
		if (rc)
			log_err("pool %s: cache %s: cannot switch poisoning: %s",
				p->cfg.name, kmem_cache_name(c), kmem_strerror(rc));
	}
	if (on)
		p->debug |= KMEM_CACHE_POISON;
	else
		p->debug &= ~(unsigned)KMEM_CACHE_POISON;
}

void debug_request(struct session *s, uint64_t seq, const Kmem__Debug *m)
{
	struct kmemd_pool *p = pool_find(s->d, m->pool);
	char msg[128], flags[24];

	if (!s->admin) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_PERMISSION_DENIED,
				      "only root or the admin group may switch "
				      "debugging");
		return;
	}
	if (!p) {
		snprintf(msg, sizeof(msg), "no pool named '%s'", m->pool);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NOT_FOUND, msg);
		return;
	}
	if (m->poison && ring_alloc(s->d)) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory");
		return;
	}
	set_poison(p, m->poison);
	s->d->gen++;		/* the stats document changed */
	log_info("pool %s: debugging now %s (pid %d, %s, uid %d)", p->cfg.name,
		 config_debug_name(p->debug, flags, sizeof(flags)), (int)s->pid,
		 s->comm, (int)s->uid);
	dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_OK, NULL);
}
