/*
 * dispatch.c - requests in, engine calls, responses out (the batch and
 * named-cache requests are batch.c's; what both use is dispatch_impl.h).
 *
 * Every handler checks its request completely before it changes anything,
 * so a request that fails changes nothing; batches are all or nothing.
 * Caller mistakes get a status and one sentence; only a frame that does not
 * parse, a request before Hello, or a request without a body is a protocol
 * error, which closes that connection (and only that one).
 *
 * Memory.  A request is unpacked into an arena (arena.c), and the
 * handlers' scratch arrays (segments of a reply, the ids of a batch) are
 * bumped out of the same arena, so the steady state of the daemon costs
 * no heap allocation per request; the replies are packed straight into
 * the session's reused output buffer (kmem_frame_append).  The lease
 * records themselves are lease.c's.
 *
 * One arena serves the whole daemon.  The loop thread handles one request
 * at a time, to the end: its reply is packed before the next request is
 * unpacked, and nothing keeps a pointer into a request after its handler
 * returns (a blocking allocation copies what it needs into struct
 * alloc_args for waitq.c; names and tags are copied into the leases and
 * caches), so dispatch_frame() resets the arena when the request is done.
 * Scratch memory is also needed outside a request (waitq.c serving a
 * waiter from a timer or a closing session), and inside another request's
 * handling (a free lets a waiter of the pool in): scratch users take a
 * mark and release to it, which nests.  The arena lives in struct kmemd
 * (req_arena).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/error.h"
#include "kmem/size.h"
#include "arena.h"
#include "dispatch_impl.h"
#include "debug.h"
#include "dispatch.h"
#include "journal.h"
#include "leases.h"
#include "log.h"
#include "magazine.h"
#include "pools.h"
#include "resume.h"
#include "server.h"
#include "stats.h"
#include "verify.h"
#include "waitq.h"

#define WIRE_FLAGS (KMEM__ALLOC_FLAG__ALLOC_FLAG_SCATTER | \
		    KMEM__ALLOC_FLAG__ALLOC_FLAG_EXACT | \
		    KMEM__ALLOC_FLAG__ALLOC_FLAG_ZERO | \
		    KMEM__ALLOC_FLAG__ALLOC_FLAG_DMA32)

/* ------------------------------------------------------------ arena */

/* The first chunk holds every common request and its scratch (a batch of
 * 64 leases needs about 2 KiB); the kept one may grow to the largest
 * request frame accepted. */
#define ARENA_FIRST (16u << 10)

struct arena *arena_of(struct kmemd *d)
{
	if (!d->req_arena_ready) {
		arena_init(&d->req_arena, ARENA_FIRST,
			   d->cfg.max_frame > ARENA_FIRST ? d->cfg.max_frame :
			   ARENA_FIRST);
		d->req_arena_ready = true;
	}
	return &d->req_arena;
}

void dispatch_fini(struct kmemd *d)
{
	if (d->req_arena_ready)
		arena_fini(&d->req_arena);
	d->req_arena_ready = false;
}

size_t dispatch_arena_kept(const struct kmemd *d)
{
	return d->req_arena_ready ? arena_kept(&d->req_arena) : 0;
}

/* ------------------------------------------------------------ replies */

static void count_status(struct kmemd *d, int status)
{
	if (status > 0 && status < 16)
		d->ctr.errors[status]++;
}

void dispatch_reply_status(struct session *s, uint64_t seq, int status,
			   const char *msg)
{
	Kmem__Response r = KMEM__RESPONSE__INIT;

	r.seq = seq;
	r.status = (Kmem__Status)status;
	r.message = (char *)(msg ? msg : "");
	count_status(s->d, status);
	session_reply(s, &r);
}

void dispatch_protocol_error(struct session *s, uint64_t seq, const char *msg)
{
	log_info("session %llu (pid %d, %s): protocol error: %s; closing",
		 (unsigned long long)s->id, (int)s->pid, s->comm, msg);
	s->d->ctr.requests[REQ_INVALID]++;
	dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_PROTOCOL_ERROR, msg);
	session_end_after_write(s);
}

int status_of(int rc)
{
	switch (rc) {
	case 0: return KMEM__STATUS__STATUS_OK;
	case KMEM_ENOMEM: return KMEM__STATUS__STATUS_NO_MEMORY;
	case KMEM_ENOMETA: return KMEM__STATUS__STATUS_NO_MEMORY;
	case KMEM_ECONSTRAINT: return KMEM__STATUS__STATUS_CONSTRAINT;
	case KMEM_EEXIST: return KMEM__STATUS__STATUS_EXISTS;
	case KMEM_ENOENT: return KMEM__STATUS__STATUS_NOT_FOUND;
	case KMEM_EBUSY: return KMEM__STATUS__STATUS_BUSY;
	case KMEM_EPERM: return KMEM__STATUS__STATUS_PERMISSION_DENIED;
	case KMEM_ECORRUPT: return KMEM__STATUS__STATUS_INTERNAL;
	case KMEM_EQUOTA: return KMEM__STATUS__STATUS_QUOTA_EXCEEDED;
	default: return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
}

static void fill_lease(const struct session *s, Kmem__Lease *m,
		       const struct lease *l, Kmem__Segment *segs,
		       Kmem__Segment **segp)
{
	m->id = l->id;
	m->pool_index = s->pool_index[l->pool->index];
	m->offset = l->buf.off;
	m->length = l->buf.len;
	m->phys = l->buf.phys;
	m->name = (char *)l->name;
	m->tag = (char *)l->tag;
	if (l->buf.nsegs > 1) {
		for (size_t i = 0; i < l->buf.nsegs; i++) {
			const struct kmem_pool_seg *g = kmem_pool_buf_seg(&l->buf, i);

			kmem__segment__init(&segs[i]);
			segs[i].offset = g->off;
			segs[i].length = g->len;
			segs[i].phys = g->phys;
			segp[i] = &segs[i];
		}
		m->n_segments = l->buf.nsegs;
		m->segments = segp;
	}
}

static void reply_lease(struct session *s, uint64_t seq, const struct lease *l)
{
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__Lease m = KMEM__LEASE__INIT;
	Kmem__Segment *segs = NULL;
	Kmem__Segment **segp = NULL;
	struct arena *a = arena_of(s->d);
	struct arena_mark mark = arena_mark(a);

	if (l->buf.nsegs > 1) {
		segs = arena_alloc_array(a, l->buf.nsegs, sizeof(*segs));
		segp = arena_alloc_array(a, l->buf.nsegs, sizeof(*segp));
		if (!segs || !segp) {
			arena_release(a, mark);
			session_close(s, "out of memory");
			return;
		}
	}
	fill_lease(s, &m, l, segs, segp);
	r.seq = seq;
	r.body_case = KMEM__RESPONSE__BODY_LEASE;
	r.lease = &m;
	session_reply(s, &r);
	arena_release(a, mark);
}

/* Printable ASCII only: names end up in logs and in the JSON stats, and
 * one client's odd bytes must not break either for everyone. */
bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			return false;
	return true;
}

static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			*s = '?';
}

/* ------------------------------------------------------------ hello */

/* HelloReply.resumed: the leases a resume adopted (s's whole ledger, as
 * s is new), in the arena.  0, or -1 (ENOMEM). */
static int fill_resumed(struct session *s, Kmem__HelloReply *hr)
{
	struct arena *a = arena_of(s->d);
	Kmem__Lease *m, **mp;
	size_t i = 0;

	if (!s->nleases)
		return 0;
	m = arena_alloc_array(a, s->nleases, sizeof(*m));
	mp = arena_alloc_array(a, s->nleases, sizeof(*mp));
	if (!m || !mp)
		return -1;
	for (struct lease *l = s->ledger; l; l = l->lnext, i++) {
		Kmem__Segment *segs = NULL, **segp = NULL;

		if (l->buf.nsegs > 1) {
			segs = arena_alloc_array(a, l->buf.nsegs, sizeof(*segs));
			segp = arena_alloc_array(a, l->buf.nsegs, sizeof(*segp));
			if (!segs || !segp)
				return -1;
		}
		kmem__lease__init(&m[i]);
		fill_lease(s, &m[i], l, segs, segp);
		mp[i] = &m[i];
	}
	hr->n_resumed = i;
	hr->resumed = mp;
	return 0;
}

static void do_hello(struct session *s, uint64_t seq, const Kmem__Hello *h)
{
	struct kmemd *d = s->d;
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__HelloReply hr = KMEM__HELLO_REPLY__INIT;
	Kmem__PoolInfo info[KMEMD_MAX_POOLS], *infop[KMEMD_MAX_POOLS];
	int fds[KMEMD_MAX_POOLS];
	size_t n = 0;
	const char *note;
	char msg[160];
	int st;

	if (h->protocol_version != KMEM_PROTOCOL_VERSION) {
		snprintf(msg, sizeof(msg), "protocol version %u is not spoken here "
			 "(kmemd speaks %u)", h->protocol_version, KMEM_PROTOCOL_VERSION);
		dispatch_protocol_error(s, seq, msg);
		return;
	}
	snprintf(s->name, sizeof(s->name), "%s", h->client_name ? h->client_name : "");
	sanitize(s->name);
	sanitize(s->comm);
	s->admin = session_is_admin(d, s->uid, s->gid, s->pid);
	memset(s->pool_index, 0xff, sizeof(s->pool_index));
	for (size_t i = 0; i < d->npools; i++) {
		struct kmemd_pool *p = &d->pools[i];
		struct kmem_backing *b = kmem_pool_backing(p->pool);

		if (!pool_allows(p, s->uid, s->gid, s->admin))
			continue;
		s->pool_index[i] = (uint8_t)n;
		kmem__pool_info__init(&info[n]);
		info[n].name = p->cfg.name;
		info[n].size = kmem_backing_size(b);
		info[n].page_size = kmem_backing_page_size(b);
		info[n].iova_mode = (char *)kmem_backing_iova_name(kmem_backing_iova(b));
		info[n].map_offset = kmem_backing_map_offset(b);
		info[n].policy = (char *)(p->cfg.policy == KMEM_POLICY_VMEM ?
					  "resource" : "buddy");
		info[n].fd_index = (uint32_t)n;
		fds[n] = kmem_backing_fd(b);
		infop[n] = &info[n];
		n++;
	}
	st = resume_hello(s, h->durable, h->resume_token.data,
			  h->resume_token.len, &note, msg, sizeof(msg));
	if (st != KMEM__STATUS__STATUS_OK) {
		dispatch_reply_status(s, seq, st, msg);
		return;
	}
	if (s->durable) {
		hr.session_token.data = s->token;
		hr.session_token.len = RESUME_TOKEN_LEN;
		hr.resume_grace_ms = d->cfg.resume_grace_ms;
	}
	hr.durable_note = (char *)(note ? note : "");
	if (fill_resumed(s, &hr)) {
		session_close(s, "out of memory");
		return;
	}
	hr.daemon_version = (char *)"kmemd " KMEMD_VERSION;
	hr.protocol_version = KMEM_PROTOCOL_VERSION;
	hr.n_pools = n;
	hr.pools = infop;
	r.seq = seq;
	r.body_case = KMEM__RESPONSE__BODY_HELLO;
	r.hello = &hr;
	if (session_reply(s, &r))
		return;
	if (session_send_fds(s, fds, n)) {
		session_close(s, "could not pass the pool fds");
		return;
	}
	s->hello = true;
	log_debug("session %llu: hello from %s (uid %d), %zu pool(s)",
		  (unsigned long long)s->id, s->name, (int)s->uid, n);
}

/* ------------------------------------------------------------ alloc */

struct kmemd_pool *usable_pool(struct session *s, uint64_t seq,
			       const char *name)
{
	struct kmemd_pool *p = pool_find(s->d, name);
	char msg[128];

	if (!p) {
		snprintf(msg, sizeof(msg), "no pool named '%s'", name ? name : "");
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NOT_FOUND, msg);
		return NULL;
	}
	if (!pool_allows(p, s->uid, s->gid, s->admin)) {
		snprintf(msg, sizeof(msg), "uid %d may not use pool '%s'",
			 (int)s->uid, p->cfg.name);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_PERMISSION_DENIED, msg);
		return NULL;
	}
	return p;
}

/* Check the wire flags and size; fill a->flags.  0 or a status. */
int check_common(uint64_t size, uint64_t align, uint32_t wflags,
		 unsigned *flags, char *msg, size_t msglen)
{
	if (size == 0) {
		snprintf(msg, msglen, "size 0 is not allowed");
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	if (align & (align - 1)) {
		snprintf(msg, msglen, "alignment %llu is not a power of two",
			 (unsigned long long)align);
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	if (wflags & ~(uint32_t)WIRE_FLAGS) {
		snprintf(msg, msglen, "unknown flag bits 0x%x", wflags & ~(uint32_t)WIRE_FLAGS);
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	*flags = 0;
	if (wflags & KMEM__ALLOC_FLAG__ALLOC_FLAG_SCATTER)
		*flags |= KMEM_POOL_SCATTER;
	if (wflags & KMEM__ALLOC_FLAG__ALLOC_FLAG_ZERO)
		*flags |= KMEM_ALLOC_ZERO;
	if (wflags & KMEM__ALLOC_FLAG__ALLOC_FLAG_DMA32)
		*flags |= KMEM_ALLOC_DMA32;
	return 0;
}

/* Small, unconstrained requests come from the kmalloc size classes. */
static bool use_kmalloc(const struct session *s, const struct alloc_args *a)
{
	/* Persistent buffers and durable sessions' are page allocations:
	 * the journal restores them by claiming their pages back. */
	return !a->persist && !s->durable && a->size <= KMEM_KMALLOC_MAX && a->align <= 8 && a->node < 0 &&
	       !a->dma_mask && !a->boundary &&
	       !(a->flags & (KMEM_POOL_SCATTER | KMEM_ALLOC_DMA32));
}

static int kmalloc_buf(struct kmemd_pool *p, const struct alloc_args *a,
		       struct kmem_pool_buf *buf)
{
	struct kmem_heap *h = kmem_pool_heap(p->pool);
	uint64_t off, len;
	int rc = kmem_heap_alloc_len(h, a->size, &off, &len);

	if (rc)
		return rc;
	memset(buf, 0, sizeof(*buf));
	buf->off = buf->seg0.off = off;
	buf->len = buf->seg0.len = len;
	buf->nsegs = 1;
	if (kmem_pool_phys(p->pool, off, &buf->phys))
		buf->phys = 0;
	buf->seg0.phys = buf->phys;
	buf->contiguous = kmem_backing_contiguous(kmem_pool_backing(p->pool),
						  off, len) == 1;
	if (a->flags & KMEM_ALLOC_ZERO)
		memset((char *)kmem_backing_addr(kmem_pool_backing(p->pool)) + off,
		       0, len);
	return 0;
}

int make_buf(const struct session *s, struct kmemd_pool *p,
	     const struct alloc_args *a,
	     struct kmem_pool_buf *buf, enum lease_kind *kind,
	     char *msg, size_t msglen)
{
	struct kmem_pool_req req = {
		.size = a->size, .align = a->align, .flags = a->flags,
		.node = a->node, .dma_mask = a->dma_mask, .boundary = a->boundary,
	};
	int rc;

	if (use_kmalloc(s, a)) {
		*kind = LEASE_KMALLOC;
		rc = kmalloc_buf(p, a, buf);
		if (rc == KMEM_ENOMEM) {
			char s1[32];

			snprintf(msg, msglen, "no room for a %s object in pool '%s'",
				 kmem_format_size(a->size, s1, sizeof(s1)), p->cfg.name);
		}
		return rc;
	}
	*kind = LEASE_BUF;
	return kmem_pool_alloc(p->pool, &req, buf, msg, msglen);
}

int dispatch_try_alloc(struct session *s, struct kmemd_pool *p,
		       const struct alloc_args *a, uint64_t seq,
		       char *msg, size_t msglen)
{
	struct kmem_pool_buf buf;
	enum lease_kind kind;
	struct lease *l;
	int rc, st;

	msg[0] = 0;
	rc = make_buf(s, p, a, &buf, &kind, msg, msglen);
	st = status_of(rc);
	if (st == KMEM__STATUS__STATUS_NO_MEMORY)
		return st;
	if (st != KMEM__STATUS__STATUS_OK) {
		dispatch_reply_status(s, seq, st, msg[0] ? msg : kmem_strerror(rc));
		return st;
	}
	if (!pool_quota_allows(p, s->uid, buf.len)) {
		snprintf(msg, msglen, "uid %d would hold %llu bytes in pool '%s'; "
			 "its quota is %llu", (int)s->uid,
			 (unsigned long long)(pool_usage(p, s->uid) + buf.len),
			 p->cfg.name, (unsigned long long)p->cfg.quota);
		kmem_pool_free(p->pool, &buf);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_QUOTA_EXCEEDED, msg);
		return KMEM__STATUS__STATUS_QUOTA_EXCEEDED;
	}
	if (a->persist && lease_find_name(&s->d->leases, a->name)) {
		kmem_pool_free(p->pool, &buf);
		snprintf(msg, msglen, "a buffer named '%s' exists", a->name);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_EXISTS, msg);
		return KMEM__STATUS__STATUS_EXISTS;
	}
	l = leases_grant(s, p, kind, &buf, NULL, a->size, a->name, a->tag, a->persist);
	if (!l) {
		kmem_pool_free(p->pool, &buf);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory for lease records");
		return KMEM__STATUS__STATUS_NO_MEMORY;
	}
	/* A named buffer is answered only once the journal holds it. */
	if (a->persist && journal_alloc(s->d, l)) {
		int saved = s->d->journal_fd;

		s->d->journal_fd = -1;	/* no FREE record for an unrecorded lease */
		leases_release(s->d, l);
		s->d->journal_fd = saved;
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_INTERNAL,
				      "cannot record the named buffer in the journal");
		return KMEM__STATUS__STATUS_INTERNAL;
	}
	reply_lease(s, seq, l);
	return KMEM__STATUS__STATUS_OK;
}

static int alloc_args(const Kmem__Alloc *m, struct alloc_args *a, char *msg,
		      size_t msglen)
{
	size_t nlen, tlen;
	int st;

	/* Field by field, not a memset of the name and tag arrays: this is
	 * every allocation's path. */
	a->flags = 0;
	st = check_common(m->size, m->align, m->flags, &a->flags, msg, msglen);
	if (st)
		return st;
	if ((m->dma_mask && m->dma_mask < 4095) ||
	    (m->boundary & (m->boundary - 1))) {
		snprintf(msg, msglen, "boundary must be a power of two and the DMA "
			 "mask cover at least one page");
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	nlen = strlen(m->name);
	tlen = strlen(m->tag);
	if (nlen >= LEASE_NAME_MAX || tlen >= LEASE_TAG_MAX) {
		snprintf(msg, msglen, "name or tag too long (at most %d and %d bytes)",
			 LEASE_NAME_MAX - 1, LEASE_TAG_MAX - 1);
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	if (!printable(m->name) || !printable(m->tag)) {
		snprintf(msg, msglen, "names and tags are printable ASCII");
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	if (m->persist != (m->name[0] != 0)) {
		snprintf(msg, msglen, "a named buffer must be persistent and a "
			 "persistent one named (name and persist go together)");
		return KMEM__STATUS__STATUS_INVALID_ARGUMENT;
	}
	a->size = m->size;
	a->align = m->align;
	a->node = m->numa_case == KMEM__ALLOC__NUMA_NODE ? m->node : -1;
	a->dma_mask = m->dma_mask;
	a->boundary = m->boundary;
	a->timeout_ms = m->timeout_ms;
	a->persist = m->persist;
	memcpy(a->name, m->name, nlen + 1);
	memcpy(a->tag, m->tag, tlen + 1);
	return 0;
}

static void do_alloc(struct session *s, uint64_t seq, const Kmem__Alloc *m)
{
	char msg[KMEM_MSG_MAX];
	struct alloc_args a;
	struct kmemd_pool *p;
	int st = alloc_args(m, &a, msg, sizeof(msg));

	if (st) {
		dispatch_reply_status(s, seq, st, msg);
		return;
	}
	p = usable_pool(s, seq, m->pool);
	if (!p)
		return;
	if (!pool_quota_allows(p, s->uid, a.size)) {
		snprintf(msg, sizeof(msg), "uid %d holds %llu bytes in pool '%s'; "
			 "%llu more exceeds its quota of %llu", (int)s->uid,
			 (unsigned long long)pool_usage(p, s->uid), p->cfg.name,
			 (unsigned long long)a.size, (unsigned long long)p->cfg.quota);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_QUOTA_EXCEEDED, msg);
		return;
	}
	if (a.persist && lease_find_name(&s->d->leases, a.name)) {
		snprintf(msg, sizeof(msg), "a buffer named '%s' exists", a.name);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_EXISTS, msg);
		return;
	}
	/* Waiters are served in order: a new request joins behind them. */
	st = p->wait_head && a.timeout_ms ? KMEM__STATUS__STATUS_NO_MEMORY :
		dispatch_try_alloc(s, p, &a, seq, msg, sizeof(msg));
	if (st != KMEM__STATUS__STATUS_NO_MEMORY)
		return;
	if (a.timeout_ms && waitq_add(s, p, seq, &a) == 0)
		return;
	dispatch_reply_status(s, seq, st, msg[0] ? msg : "no free memory now");
}

/* ------------------------------------------------------------ free */

/* May s free (or touch) lease l?  Replies and returns false if not. */
bool may_touch(struct session *s, uint64_t seq, const struct lease *l)
{
	char msg[128];

	if (s->admin || l->owner == s || (!l->owner && l->uid == s->uid))
		return true;
	snprintf(msg, sizeof(msg), "lease %llu belongs to %s",
		 (unsigned long long)l->id, l->owner ? "another session" :
		 "another user");
	dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_PERMISSION_DENIED, msg);
	return false;
}

struct lease *find_lease(struct session *s, uint64_t seq, uint64_t id)
{
	struct lease *l = lease_find(&s->d->leases, id);
	char msg[96];

	if (!l) {
		snprintf(msg, sizeof(msg), "no lease %llu (never allocated, or "
			 "freed already)", (unsigned long long)id);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NOT_FOUND, msg);
	}
	return l;
}

static void release_one(struct kmemd *d, struct lease *l)
{
	if (l->owner)
		leases_release(d, l);
	else
		leases_free_persistent(d, l);
}

static void do_free(struct session *s, uint64_t seq, const Kmem__Free *m)
{
	struct lease *l = find_lease(s, seq, m->id);

	if (!l || !may_touch(s, seq, l))
		return;
	if (l->doomed) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NOT_FOUND,
				      "that buffer was freed already and waits "
				      "for its last user to detach");
		return;
	}
	release_one(s->d, l);
	dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_OK, NULL);
}

/* ------------------------------------------------------------ names */

static void do_lookup(struct session *s, uint64_t seq, const Kmem__Lookup *m)
{
	struct lease *l = lease_find_name(&s->d->leases, m->name);
	char msg[128];

	if (!l) {
		snprintf(msg, sizeof(msg), "no buffer named '%s'", m->name);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NOT_FOUND, msg);
		return;
	}
	if (!pool_allows(l->pool, s->uid, s->gid, s->admin) ||
	    (!s->admin && l->uid != s->uid)) {
		snprintf(msg, sizeof(msg), "buffer '%s' belongs to uid %d",
			 m->name, (int)l->uid);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_PERMISSION_DENIED, msg);
		return;
	}
	if (leases_attach(s, l)) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory");
		return;
	}
	reply_lease(s, seq, l);
}

static void do_detach(struct session *s, uint64_t seq, const Kmem__Detach *m)
{
	char msg[96];

	if (leases_detach(s, m->id)) {
		snprintf(msg, sizeof(msg), "this session is not attached to lease %llu",
			 (unsigned long long)m->id);
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NOT_FOUND, msg);
		return;
	}
	dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_OK, NULL);
}

/* ------------------------------------------------------------ misc */

static void do_stats(struct session *s, uint64_t seq, const Kmem__Stats *m)
{
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__StatsReply sr = KMEM__STATS_REPLY__INIT;
	struct stats_opts o = {
		.leases = m->include_leases, .pid = (pid_t)m->pid,
	};
	bool prom = m->format == KMEM__STATS_FORMAT__STATS_FORMAT_PROMETHEUS;
	struct kmemd *d = s->d;
	bool cacheable = prom || (!o.leases && !o.pid);
	uint64_t now = uv_now(d->loop);
	char *text;

	/* Building the document costs time in proportion to the sessions
	 * and caches: a flood of Stats requests in one loop turn shares one
	 * build, as long as no lease changed meanwhile. */
	if (cacheable && d->stats_cache[prom].text &&
	    d->stats_cache[prom].gen == d->gen && d->stats_cache[prom].now == now) {
		text = d->stats_cache[prom].text;
	} else {
		text = prom ? stats_prometheus(d) : stats_json_opts(d, &o);
		if (text && cacheable) {
			free(d->stats_cache[prom].text);
			d->stats_cache[prom].text = text;
			d->stats_cache[prom].gen = d->gen;
			d->stats_cache[prom].now = now;
		}
	}
	if (!text) {
		dispatch_reply_status(s, seq, KMEM__STATUS__STATUS_NO_MEMORY,
				      "the daemon is out of memory");
		return;
	}
	sr.format = m->format;
	sr.text = text;
	r.seq = seq;
	r.body_case = KMEM__RESPONSE__BODY_STATS;
	r.stats = &sr;
	session_reply(s, &r);
	if (!cacheable)
		free(text);
}

static void do_ping(struct session *s, uint64_t seq, const Kmem__Ping *m)
{
	Kmem__Response r = KMEM__RESPONSE__INIT;
	Kmem__Pong pong = KMEM__PONG__INIT;

	pong.payload = m->payload;
	r.seq = seq;
	r.body_case = KMEM__RESPONSE__BODY_PONG;
	r.pong = &pong;
	session_reply(s, &r);
}

static enum req_type type_of(Kmem__Request__BodyCase c)
{
	switch (c) {
	case KMEM__REQUEST__BODY_HELLO: return REQ_HELLO;
	case KMEM__REQUEST__BODY_ALLOC: return REQ_ALLOC;
	case KMEM__REQUEST__BODY_FREE: return REQ_FREE;
	case KMEM__REQUEST__BODY_ALLOC_BATCH: return REQ_ALLOC_BATCH;
	case KMEM__REQUEST__BODY_FREE_BATCH: return REQ_FREE_BATCH;
	case KMEM__REQUEST__BODY_CACHE_CREATE: return REQ_CACHE_CREATE;
	case KMEM__REQUEST__BODY_CACHE_ALLOC: return REQ_CACHE_ALLOC;
	case KMEM__REQUEST__BODY_CACHE_FREE: return REQ_CACHE_FREE;
	case KMEM__REQUEST__BODY_CACHE_DESTROY: return REQ_CACHE_DESTROY;
	case KMEM__REQUEST__BODY_LOOKUP: return REQ_LOOKUP;
	case KMEM__REQUEST__BODY_DETACH: return REQ_DETACH;
	case KMEM__REQUEST__BODY_STATS: return REQ_STATS;
	case KMEM__REQUEST__BODY_PING: return REQ_PING;
	case KMEM__REQUEST__BODY_DEBUG: return REQ_DEBUG;
	case KMEM__REQUEST__BODY_VERIFY: return REQ_VERIFY;
	default: return REQ_INVALID;
	}
}

static void handle(struct session *s, const Kmem__Request *q)
{
	switch (q->body_case) {
	case KMEM__REQUEST__BODY_HELLO: do_hello(s, q->seq, q->hello); break;
	case KMEM__REQUEST__BODY_ALLOC: do_alloc(s, q->seq, q->alloc); break;
	case KMEM__REQUEST__BODY_FREE: do_free(s, q->seq, q->free); break;
	case KMEM__REQUEST__BODY_ALLOC_BATCH:
		do_alloc_batch(s, q->seq, q->alloc_batch);
		break;
	case KMEM__REQUEST__BODY_FREE_BATCH:
		do_free_batch(s, q->seq, q->free_batch);
		break;
	case KMEM__REQUEST__BODY_CACHE_CREATE:
		do_cache_create(s, q->seq, q->cache_create);
		break;
	case KMEM__REQUEST__BODY_CACHE_ALLOC:
		do_cache_alloc(s, q->seq, q->cache_alloc);
		break;
	case KMEM__REQUEST__BODY_CACHE_FREE:
		do_cache_free(s, q->seq, q->cache_free);
		break;
	case KMEM__REQUEST__BODY_CACHE_DESTROY:
		do_cache_destroy(s, q->seq, q->cache_destroy);
		break;
	case KMEM__REQUEST__BODY_LOOKUP: do_lookup(s, q->seq, q->lookup); break;
	case KMEM__REQUEST__BODY_DETACH: do_detach(s, q->seq, q->detach); break;
	case KMEM__REQUEST__BODY_STATS: do_stats(s, q->seq, q->stats); break;
	case KMEM__REQUEST__BODY_PING: do_ping(s, q->seq, q->ping); break;
	case KMEM__REQUEST__BODY_DEBUG: debug_request(s, q->seq, q->debug); break;
	case KMEM__REQUEST__BODY_VERIFY:
		verify_request(s, q->seq, q->verify);
		break;
	default: break;
	}
}

void dispatch_latency(struct kmemd *d, unsigned n, uint64_t ns)
{
	uint64_t each = n ? ns / n : 0;
	unsigned b = 0;

	/* Buckets: <= 1 us, 2 us, 4 us ... 32 ms, +Inf. */
	while (b < LAT_BUCKETS && each > (1000ull << b))
		b++;
	d->ctr.latency[b] += n;
	d->ctr.latency_sum_ns += ns;
}

void dispatch_frame(struct session *s, const uint8_t *payload, size_t len)
{
	struct kmemd *d = s->d;
	uint64_t t0 = uv_hrtime();

	if (dispatch_frame_at(s, payload, len))
		dispatch_latency(d, 1, uv_hrtime() - t0);
}

bool dispatch_frame_at(struct session *s, const uint8_t *payload, size_t len)
{
	struct arena *a = arena_of(s->d);
	Kmem__Request *q = NULL;
	bool handled = false;
	enum req_type t;

	if (kmem_frame_unpack_request(payload, len, arena_protobuf(a), &q)) {
		arena_reset(a);
		dispatch_protocol_error(s, 0, "the frame does not parse as a Request");
		return false;
	}
	t = type_of(q->body_case);
	if (t == REQ_INVALID)
		dispatch_protocol_error(s, q->seq, "a Request without a body");
	else if (!s->hello && t != REQ_HELLO)
		dispatch_protocol_error(s, q->seq, "the first request must be Hello");
	else if (s->hello && t == REQ_HELLO)
		dispatch_protocol_error(s, q->seq, "Hello was sent twice");
	else {
		s->d->ctr.requests[t]++;
		/* A durable session's journal records of this request go out
		 * together, before its reply does. */
		journal_begin();
		handle(s, q);
		journal_commit(s->d);
		handled = true;
	}
	/* Not kmem_frame_free_request(): the reset gives it all back. */
	arena_reset(a);
	return handled;
}
