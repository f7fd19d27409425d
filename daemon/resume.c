/*
 * resume.c - durable sessions survive a daemon restart.
 *
 * A client that asks for it (Hello.durable) gets a session token, 16
 * bytes from getrandom(2), and the daemon journals the session's buffer
 * leases under that token (journal.c: SALLOC, FREE and SEND records).  A
 * session that ends frees its leases as any session does, with one SEND
 * record.  A session that does not end because the daemon died (a crash,
 * SIGKILL, or a stop: a stopping daemon writes no SEND) leaves its leases
 * in the journal, and the next daemon claims them back in their pools, at
 * their old offsets with their old ids, as orphans: one orphan_set per
 * token, outside the lease table, uncharged.  They wait resume_grace_ms
 * from the start.  A new connection whose Hello carries the token adopts
 * them (they become its session's leases and it keeps the token) if its
 * uid is the one that created the session; when the grace period ends,
 * whatever nobody adopted is freed and a SEND record says so.
 *
 * Invariants: an orphan's memory is allocated in its pool and in no
 * lease, so Verify, which compares the two, reports orphans as a
 * difference while they wait; d->orphan_leases and d->orphan_bytes are
 * the sums over the sets; every set is non-empty.  Tokens are compared in
 * constant time, against every set, so a wrong token teaches nothing by
 * its timing.  A refused resume changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "kmem/error.h"
#include "journal.h"
#include "leases.h"
#include "log.h"
#include "resume.h"
#include "waitq.h"

static struct orphan_set *set_of(struct kmemd *d, const uint8_t *token,
				 uid_t uid)
{
	struct orphan_set *o;

	for (o = d->orphans; o; o = o->next)
		if (!memcmp(o->token, token, RESUME_TOKEN_LEN))
			return o;
	o = calloc(1, sizeof(*o));
	if (o) {
		memcpy(o->token, token, RESUME_TOKEN_LEN);
		o->uid = uid;
		o->next = d->orphans;
		d->orphans = o;
	}
	return o;
}

struct lease *resume_orphan_add(struct kmemd *d, struct kmemd_pool *p,
				struct kmem_pool_buf *buf, uint64_t id,
				uid_t uid, uint64_t requested, const char *tag,
				const uint8_t *token)
{
	struct orphan_set *o = set_of(d, token, uid);
	struct lease *l;

	if (!o)
		return NULL;
	l = lease_new_id(&d->leases, id);
	if (!l || lease_set_text(&d->leases, l, NULL, tag)) {
		if (l)
			lease_discard(&d->leases, l);
		if (!o->leases) {
			d->orphans = o->next;	/* just made: at the head */
			free(o);
		}
		return NULL;
	}
	l->kind = LEASE_BUF;
	l->pool = p;
	l->buf = *buf;
	l->requested = requested;
	l->uid = uid;
	l->created_ns = kmemd_now_ns();
	l->lnext = o->leases;
	o->leases = l;
	o->n++;
	o->bytes += l->buf.len;
	d->orphan_leases++;
	d->orphan_bytes += l->buf.len;
	return l;
}

static void unlink_set(struct kmemd *d, struct orphan_set *o)
{
	for (struct orphan_set **pp = &d->orphans; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	d->orphan_leases -= o->n;
	d->orphan_bytes -= o->bytes;
	d->gen++;
}

/* The grace period is over: free what nobody adopted. */
static void on_grace_end(uv_timer_t *t)
{
	struct kmemd *d = t->data;

	while (d->orphans) {
		struct orphan_set *o = d->orphans;

		log_warn("durable session: %llu lease(s) of %llu bytes (uid %d) "
			 "freed: nobody resumed the session within %u ms",
			 (unsigned long long)o->n, (unsigned long long)o->bytes,
			 (int)o->uid, d->cfg.resume_grace_ms);
		unlink_set(d, o);
		while (o->leases) {
			struct lease *l = o->leases;
			int rc = kmem_pool_free(l->pool->pool, &l->buf);

			if (rc)
				log_err("lease %llu: engine refused its free: %s",
					(unsigned long long)l->id, kmem_strerror(rc));
			o->leases = l->lnext;
			waitq_kick(l->pool);
			free(l->buf.segs);
			lease_discard(&d->leases, l);
		}
		journal_session_end(d, o->token);
		free(o);
	}
	uv_timer_stop(t);
}

void resume_start(struct kmemd *d)
{
	if (!d->orphans || d->orphan_timer_on)
		return;
	uv_timer_init(d->loop, &d->orphan_timer);
	d->orphan_timer.data = d;
	uv_timer_start(&d->orphan_timer, on_grace_end, d->cfg.resume_grace_ms, 0);
	uv_unref((uv_handle_t *)&d->orphan_timer);
	d->orphan_timer_on = true;
}

void resume_fini(struct kmemd *d)
{
	if (d->orphan_timer_on)
		uv_timer_stop(&d->orphan_timer);
	while (d->orphans) {
		struct orphan_set *o = d->orphans;

		unlink_set(d, o);
		while (o->leases) {
			struct lease *l = o->leases;

			o->leases = l->lnext;
			free(l->buf.segs);
			lease_discard(&d->leases, l);
		}
		free(o);
	}
}

/* memcmp in time independent of where the bytes differ. */
static bool same_token(const uint8_t *a, const uint8_t *b)
{
	uint8_t x = 0;

	for (size_t i = 0; i < RESUME_TOKEN_LEN; i++)
		x |= a[i] ^ b[i];
	return x == 0;
}

/* Every set is compared, found or not. */
static struct orphan_set *find_set(struct kmemd *d, const uint8_t *token)
{
	struct orphan_set *found = NULL;

	for (struct orphan_set *o = d->orphans; o; o = o->next)
		if (same_token(o->token, token))
			found = o;
	return found;
}

static int adopt(struct session *s, struct orphan_set *o, char *msg,
		 size_t msglen)
{
	struct kmemd *d = s->d;

	for (struct lease *l = o->leases; l; l = l->lnext) {
		if (s->pool_index[l->pool->index] == 0xff) {
			snprintf(msg, msglen, "the session's pool '%s' is not "
				 "open to uid %d", l->pool->cfg.name, (int)s->uid);
			return KMEM__STATUS__STATUS_PERMISSION_DENIED;
		}
	}
	memcpy(s->token, o->token, RESUME_TOKEN_LEN);
	s->durable = true;
	while (o->leases) {
		struct lease *l = o->leases, *next = l->lnext;

		/* leases_adopt puts l on s's ledger: its links change. */
		if (leases_adopt(s, l)) {
			snprintf(msg, msglen, "out of memory while adopting the "
				 "session's leases (%llu adopted, %llu left for "
				 "another try)", (unsigned long long)s->nleases,
				 (unsigned long long)o->n);
			return KMEM__STATUS__STATUS_INTERNAL;
		}
		o->leases = next;
		o->n--;
		o->bytes -= l->buf.len;
		d->orphan_leases--;
		d->orphan_bytes -= l->buf.len;
	}
	unlink_set(d, o);
	free(o);
	log_info("session %llu (pid %d, %s): resumed a durable session, %llu "
		 "lease(s)", (unsigned long long)s->id, (int)s->pid, s->comm,
		 (unsigned long long)s->nleases);
	return KMEM__STATUS__STATUS_OK;
}

static int resume(struct session *s, const uint8_t *token, size_t tlen,
		  char *msg, size_t msglen)
{
	struct orphan_set *o;

	if (tlen != RESUME_TOKEN_LEN) {
		snprintf(msg, msglen, "a session token is %d bytes, not %zu",
			 RESUME_TOKEN_LEN, tlen);
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	o = find_set(s->d, token);
	if (!o) {
		snprintf(msg, msglen, "no session to resume with this token: "
			 "unknown, resumed already, or its grace period (%u ms "
			 "from kmemd's start) is over", s->d->cfg.resume_grace_ms);
		return KMEM__STATUS__STATUS_NOT_FOUND;
	}
	if (o->uid != s->uid) {
		snprintf(msg, msglen, "the session was created by another uid");
		return KMEM__STATUS__STATUS_PERMISSION_DENIED;
	}
	return adopt(s, o, msg, msglen);
}

int resume_hello(struct session *s, bool durable, const uint8_t *token,
		 size_t tlen, const char **note, char *msg, size_t msglen)
{
	struct kmemd *d = s->d;

	*note = NULL;
	if (!durable && tlen) {
		snprintf(msg, msglen, "resume_token requires durable");
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	if (!durable)
		return KMEM__STATUS__STATUS_OK;
	if (d->journal_fd < 0)
		*note = "kmemd keeps no journal (--state-dir)";
	else if (!d->cfg.resume_grace_ms)
		*note = "resume is off (--resume-grace 0)";
	if (*note && tlen) {
		snprintf(msg, msglen, "no session to resume: %s", *note);
		return KMEM__STATUS__STATUS_NOT_FOUND;
	}
	if (*note)
		return KMEM__STATUS__STATUS_OK;
	if (tlen)
		return resume(s, token, tlen, msg, msglen);
	if (getrandom(s->token, RESUME_TOKEN_LEN, 0) != RESUME_TOKEN_LEN) {
		log_err("getrandom: %s", strerror(errno));
		*note = "kmemd could not make a token (getrandom failed)";
		return KMEM__STATUS__STATUS_OK;
	}
	s->durable = true;
	return KMEM__STATUS__STATUS_OK;
}
