/*
 * journal.c - persistent (named) leases survive a daemon restart.
 *
 * An append-only log of records, each checksummed and fdatasync'd before
 * the request that made it is answered:
 *
 *	u32 magic 'KMJ1' | u32 payload length | u32 crc32c(type, payload) |
 *	u8 type | 3 bytes zero | payload
 *
 *	ALLOC: u64 id, u32 uid, u64 requested, str pool, str name, str tag,
 *	       u32 nsegs, nsegs x (u64 offset, u64 length)     (str: u16 + bytes)
 *	FREE:  u64 id
 *	IDS:   u64 mark: no lease id above mark has been issued
 *	SALLOC: u8 token[16], then ALLOC's payload (name ""): a lease of the
 *	       durable session with that token
 *	SEND:  u8 token[16]: that session ended; all its leases are gone
 *
 * Durable sessions (resume.c).  A session that asked for it has its
 * buffer leases journaled too, as SALLOC and FREE records, and its end as
 * one SEND record.  These writes are grouped: inside a request
 * (journal_begin .. journal_commit, which dispatch.c puts around every
 * request) records collect in a buffer that is written with one write
 * and one fdatasync before the request's reply is queued, so an AllocBatch
 * of 1000 costs one sync, not 1000; outside a request (a blocked
 * allocation served later, a session's end) each is written at once.  At
 * start the SALLOC records still live become orphaned leases, kept for
 * the grace period (resume.c), and compaction writes them back.
 *
 * Lease ids are never reused, across restarts too: a client holding an id
 * from before a crash must not free someone else's buffer with it.  The
 * journal cannot record every id (most session leases are never
 * journaled, and compaction drops freed ones), so it records a high-water
 * mark instead: ids are reserved ID_CHUNK at a time, the IDS record of a chunk
 * is durable before any id in it is answered (journal_ids, called for
 * every id issued, writes one record per chunk), and the next daemon
 * starts above the largest mark or id it reads.  A restart skips what is
 * left of the chunk: ids are unique and increasing, not dense.
 *
 * At start the log is read front to back.  The first record that is short
 * (a write torn by a crash), has a bad magic, length or checksum ends the
 * reading: it and whatever follows are dropped and never trusted, the
 * intact records before it are kept, and the daemon says which.  The live
 * set is then written to a new file, fsync'd and renamed over the old one
 * (compaction), after a fresh IDS record, and each live lease is claimed
 * back in its pool at exactly its old offsets (kmem_heap_claim), with its
 * old id.  A lease whose pool is gone, changed, or did not keep its memory
 * across the restart (a memfd that systemd's fd store did not hand back)
 * is dropped with a warning: its contents did not survive either.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmem/error.h"
#include "journal.h"
#include "leases.h"
#include "log.h"
#include "pools.h"
#include "resume.h"

#define MAGIC 0x314a4d4bu	/* "KMJ1" little-endian */
#define HDR 16
#define REC_MAX (1u << 20)

enum { REC_ALLOC = 1, REC_FREE = 2, REC_IDS = 3, REC_SALLOC = 4, REC_SEND = 5 };

/* Ids reserved per IDS record: one write and fdatasync per this many
 * leases at most, and at most this many ids skipped per restart. */
#define ID_CHUNK 65536u

/*
 * The largest id the journal allows this daemon to issue (the last IDS
 * record's mark).  A file-level variable as notify.c's watchdog is: one
 * daemon, one journal; 0 while there is no journal.
 */
static uint64_t id_mark;

/* ------------------------------------------------------------ encoding */

static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

static void put(struct wbuf *b, const void *v, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t cap = (b->cap + n) * 2;
		uint8_t *q = realloc(b->p, cap);

		if (!q) {
			b->failed = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void put64(struct wbuf *b, uint64_t v) { put(b, &v, 8); }
static void put32(struct wbuf *b, uint32_t v) { put(b, &v, 4); }

static void putstr(struct wbuf *b, const char *s)
{
	uint16_t n = (uint16_t)strlen(s);

	put(b, &n, 2);
	put(b, s, n);
}

/* Frame the payload in b (after HDR reserved bytes) as one record. */
static void seal(struct wbuf *b, size_t start, uint8_t type)
{
	uint32_t len = (uint32_t)(b->len - start - HDR), crc;
	uint8_t *h = b->p + start;

	crc = crc32c(0, &type, 1);
	crc = crc32c(crc, h + HDR, len);
	memcpy(h, &(uint32_t){ MAGIC }, 4);
	memcpy(h + 4, &len, 4);
	memcpy(h + 8, &crc, 4);
	h[12] = type;
	h[13] = h[14] = h[15] = 0;
}

static void encode_alloc(struct wbuf *b, const struct lease *l,
			 const uint8_t *token)
{
	size_t start = b->len;
	uint8_t zero[HDR] = { 0 };

	put(b, zero, HDR);
	if (token)
		put(b, token, RESUME_TOKEN_LEN);
	put64(b, l->id);
	put32(b, (uint32_t)l->uid);
	put64(b, l->requested);
	putstr(b, l->pool->cfg.name);
	putstr(b, l->name);
	putstr(b, l->tag);
	put32(b, (uint32_t)l->buf.nsegs);
	for (size_t i = 0; i < l->buf.nsegs; i++) {
		const struct kmem_pool_seg *s = kmem_pool_buf_seg(&l->buf, i);

		put64(b, s->off);
		put64(b, s->len);
	}
	if (!b->failed)
		seal(b, start, token ? REC_SALLOC : REC_ALLOC);
}

static void encode_end(struct wbuf *b, const uint8_t *token)
{
	size_t start = b->len;
	uint8_t zero[HDR] = { 0 };

	put(b, zero, HDR);
	put(b, token, RESUME_TOKEN_LEN);
	if (!b->failed)
		seal(b, start, REC_SEND);
}

/* A record whose payload is one u64: FREE (an id) and IDS (a mark). */
static void encode_u64(struct wbuf *b, uint8_t type, uint64_t v)
{
	size_t start = b->len;
	uint8_t zero[HDR] = { 0 };

	put(b, zero, HDR);
	put64(b, v);
	if (!b->failed)
		seal(b, start, type);
}

/* ------------------------------------------------------------ decoding */

struct rec {
	uint64_t id, requested;
	uint32_t uid, nsegs;
	char pool[KMEMD_POOL_NAME_MAX], name[LEASE_NAME_MAX], tag[LEASE_TAG_MAX];
	bool session;			/* SALLOC: a durable session's */
	uint8_t token[RESUME_TOKEN_LEN];
	struct kmem_pool_seg *segs;
	struct rec *next;
};

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static void get(struct rbuf *r, void *v, size_t n)
{
	if (r->bad || r->len - r->pos < n) {
		r->bad = true;
		memset(v, 0, n);
		return;
	}
	memcpy(v, r->p + r->pos, n);
	r->pos += n;
}

static void getstr(struct rbuf *r, char *s, size_t cap)
{
	uint16_t n;

	get(r, &n, 2);
	if (r->bad || n >= cap || r->len - r->pos < n) {
		r->bad = true;
		s[0] = 0;
		return;
	}
	memcpy(s, r->p + r->pos, n);
	s[n] = 0;
	r->pos += n;
}

static struct rec *decode_alloc(const uint8_t *p, uint32_t len, bool session)
{
	struct rbuf r = { .p = p, .len = len };
	struct rec *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->session = session;
	if (session)
		get(&r, x->token, RESUME_TOKEN_LEN);
	get(&r, &x->id, 8);
	get(&r, &x->uid, 4);
	get(&r, &x->requested, 8);
	getstr(&r, x->pool, sizeof(x->pool));
	getstr(&r, x->name, sizeof(x->name));
	getstr(&r, x->tag, sizeof(x->tag));
	get(&r, &x->nsegs, 4);
	if (!r.bad && x->nsegs >= 1 && x->nsegs <= (len - r.pos) / 16)
		x->segs = calloc(x->nsegs, sizeof(*x->segs));
	for (uint32_t i = 0; x->segs && i < x->nsegs; i++) {
		get(&r, &x->segs[i].off, 8);
		get(&r, &x->segs[i].len, 8);
	}
	if (r.bad || !x->segs || r.pos != len || (session ? x->name[0] != 0 : !x->name[0])) {
		free(x->segs);
		free(x);
		return NULL;
	}
	return x;
}

static void drop_rec(struct rec **list, uint64_t id)
{
	for (struct rec **pp = list; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct rec *x = *pp;

			*pp = x->next;
			free(x->segs);
			free(x);
			return;
		}
	}
}

/* A SEND record: the session's leases go. */
static void drop_session(struct rec **list, const uint8_t *token)
{
	for (struct rec **pp = list; *pp;) {
		struct rec *x = *pp;

		if (x->session && !memcmp(x->token, token, RESUME_TOKEN_LEN)) {
			*pp = x->next;
			free(x->segs);
			free(x);
		} else {
			pp = &x->next;
		}
	}
}

static void free_recs(struct rec *x)
{
	while (x) {
		struct rec *next = x->next;

		free(x->segs);
		free(x);
		x = next;
	}
}

/*
 * Read every intact record of the file into the live list.  Returns the
 * number of records read, or -1 when the file cannot be read at all.
 */
static long replay(const char *path, struct rec **live, uint64_t *max_id)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *data;
	size_t pos = 0;
	long n = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) || !(data = malloc((size_t)st.st_size + 1)) ||
	    read(fd, data, (size_t)st.st_size) != st.st_size) {
		close(fd);
		return -1;
	}
	close(fd);
	while (pos < (size_t)st.st_size) {
		size_t left = (size_t)st.st_size - pos;
		uint32_t magic, len, crc;
		uint8_t type;
		struct rec *x;

		if (left < HDR) {
			log_warn("journal %s: torn record at byte %zu (%zu of %d "
				 "header bytes); dropped", path, pos, left, HDR);
			break;
		}
		memcpy(&magic, data + pos, 4);
		memcpy(&len, data + pos + 4, 4);
		memcpy(&crc, data + pos + 8, 4);
		type = data[pos + 12];
		if (magic != MAGIC || len > REC_MAX) {
			log_err("journal %s: corrupt record at byte %zu; it and the "
				"%zu bytes after it are ignored", path, pos, left);
			break;
		}
		if (left - HDR < len) {
			log_warn("journal %s: torn record at byte %zu (%zu of %u "
				 "payload bytes); dropped", path, pos, left - HDR, len);
			break;
		}
		if (crc32c(crc32c(0, &type, 1), data + pos + HDR, len) != crc) {
			log_err("journal %s: checksum mismatch at byte %zu; it and "
				"the %zu bytes after it are ignored", path, pos, left);
			break;
		}
		if ((type == REC_ALLOC || type == REC_SALLOC) &&
		    (x = decode_alloc(data + pos + HDR, len, type == REC_SALLOC))) {
			drop_rec(live, x->id);
			x->next = *live;
			*live = x;
			if (x->id > *max_id)
				*max_id = x->id;
		} else if (type == REC_FREE && len == 8) {
			uint64_t id;

			memcpy(&id, data + pos + HDR, 8);
			drop_rec(live, id);
		} else if (type == REC_SEND && len == RESUME_TOKEN_LEN) {
			drop_session(live, data + pos + HDR);
		} else if (type == REC_IDS && len == 8) {
			uint64_t mark;

			memcpy(&mark, data + pos + HDR, 8);
			if (mark > *max_id)
				*max_id = mark;
		} else {
			log_err("journal %s: malformed record at byte %zu; it and "
				"the bytes after it are ignored", path, pos);
			break;
		}
		pos += HDR + len;
		n++;
	}
	free(data);
	return n;
}

/* ------------------------------------------------------------ writing */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int append(struct kmemd *d, struct wbuf *b)
{
	int rc;

	if (b->failed)
		rc = -1;
	else
		rc = write_all(d->journal_fd, b->p, b->len) || fdatasync(d->journal_fd);
	free(b->p);
	if (rc)
		log_err("journal: write failed: %s", strerror(errno));
	return rc ? -1 : 0;
}

int journal_alloc(struct kmemd *d, const struct lease *l)
{
	struct wbuf b = { 0 };

	if (d->journal_fd < 0)
		return 0;
	encode_alloc(&b, l, NULL);
	return append(d, &b);
}

/*
 * The records of the request being handled (durable sessions'), written
 * by journal_commit; file-level for the same reason as id_mark.
 */
static struct wbuf pending;
static bool batching;

/* Durable sessions' records: into the request's batch, or out now. */
static void emit(struct kmemd *d, struct wbuf *b)
{
	if (!batching) {
		append(d, b);
		return;
	}
	if (b->failed)
		pending.failed = true;
	else
		put(&pending, b->p, b->len);
	free(b->p);
}

void journal_begin(void)
{
	batching = true;
}

void journal_commit(struct kmemd *d)
{
	struct wbuf b = pending;

	batching = false;
	if (b.len == 0 && !b.failed)
		return;
	memset(&pending, 0, sizeof(pending));
	if (d->journal_fd < 0) {
		free(b.p);
		return;
	}
	if (append(d, &b))
		log_err("journal: leases of durable sessions may not be resumed "
			"after a crash");
}

void journal_session_alloc(struct kmemd *d, const uint8_t *token,
			   const struct lease *l)
{
	struct wbuf b = { 0 };

	if (d->journal_fd < 0)
		return;
	encode_alloc(&b, l, token);
	emit(d, &b);
}

void journal_session_free(struct kmemd *d, uint64_t id)
{
	struct wbuf b = { 0 };

	if (d->journal_fd < 0)
		return;
	encode_u64(&b, REC_FREE, id);
	emit(d, &b);
}

void journal_session_end(struct kmemd *d, const uint8_t *token)
{
	struct wbuf b = { 0 };

	if (d->journal_fd < 0)
		return;
	encode_end(&b, token);
	emit(d, &b);
}

void journal_free(struct kmemd *d, uint64_t id)
{
	struct wbuf b = { 0 };

	if (d->journal_fd < 0)
		return;
	encode_u64(&b, REC_FREE, id);
	append(d, &b);
}

void journal_ids(struct kmemd *d)
{
	struct wbuf b = { 0 };
	uint64_t issued = d->leases.next_id - 1;

	if (issued <= id_mark || d->journal_fd < 0)
		return;
	encode_u64(&b, REC_IDS, issued - 1 + ID_CHUNK);
	if (append(d, &b))
		log_err("journal: lease ids up to %llu may be issued again "
			"after a crash", (unsigned long long)(issued - 1 + ID_CHUNK));
	/* Moved on even when the write failed: one complaint per chunk,
	 * not one per lease. */
	id_mark = issued - 1 + ID_CHUNK;
}

/* ------------------------------------------------------------ restore */

/* Did this pool keep its memory across the restart: a hugetlbfs file, or
 * a memfd systemd's fd store handed back (pools.c adopted it)? */
static bool pool_survives(const struct kmemd_pool *p)
{
	const struct kmem_backing *b = kmem_pool_backing(p->pool);

	return kmem_backing_kind(b) == KMEM_BACKING_HUGETLBFS ||
	       kmem_backing_adopted(b);
}

static int restore_one(struct kmemd *d, const struct rec *x)
{
	struct kmemd_pool *p = pool_find(d, x->pool);
	struct kmem_pool_buf buf = { 0 };
	struct lease *l;
	size_t i;

	if (x->session && !d->cfg.resume_grace_ms) {
		log_info("journal: lease %llu of a durable session dropped: "
			 "resume is off (--resume-grace 0)",
			 (unsigned long long)x->id);
		return -1;
	}
	if (!p || strcmp(p->cfg.name, x->pool) || !pool_survives(p)) {
		log_warn("journal: named buffer '%s' (lease %llu) dropped: pool "
			 "'%s' %s", x->name, (unsigned long long)x->id, x->pool,
			 !p || strcmp(p->cfg.name, x->pool) ? "no longer exists" :
			 "did not keep its memory across the restart (use "
			 "path=, or systemd's fd store: see kmemd(8))");
		return -1;
	}
	for (i = 0; i < x->nsegs; i++) {
		int rc = kmem_heap_claim(kmem_pool_heap(p->pool), x->segs[i].off,
					 x->segs[i].len);

		if (rc) {
			log_err("journal: named buffer '%s' (lease %llu) dropped: "
				"[%llu, +%llu) cannot be claimed: %s", x->name,
				(unsigned long long)x->id,
				(unsigned long long)x->segs[i].off,
				(unsigned long long)x->segs[i].len, kmem_strerror(rc));
			while (i--)
				kmem_heap_free(kmem_pool_heap(p->pool), x->segs[i].off);
			return -1;
		}
	}
	buf.nsegs = x->nsegs;
	if (x->nsegs > 1) {
		buf.segs = malloc(x->nsegs * sizeof(*buf.segs));
		if (!buf.segs)
			goto fail;
		memcpy(buf.segs, x->segs, x->nsegs * sizeof(*buf.segs));
	}
	for (i = 0; i < x->nsegs; i++) {
		struct kmem_pool_seg *s = buf.segs ? &buf.segs[i] : &buf.seg0;

		*s = x->segs[i];
		if (kmem_pool_phys(p->pool, s->off, &s->phys))
			s->phys = 0;
		buf.len += s->len;
	}
	if (buf.segs)
		buf.seg0 = buf.segs[0];
	buf.off = buf.seg0.off;
	buf.phys = buf.seg0.phys;
	buf.contiguous = x->nsegs == 1 && kmem_backing_contiguous(
		kmem_pool_backing(p->pool), buf.off, buf.len) == 1;
	if (x->session)
		l = resume_orphan_add(d, p, &buf, x->id, x->uid, x->requested,
				      x->tag, x->token);
	else
		l = leases_restore(d, p, &buf, x->id, x->uid, x->requested,
				   x->name, x->tag);
	if (l)
		return 0;
	free(buf.segs);
fail:
	for (i = 0; i < x->nsegs; i++)
		kmem_heap_free(kmem_pool_heap(p->pool), x->segs[i].off);
	return -1;
}

/* Write the id mark and the live set to a new file and rename it over the
 * journal. */
static int compact(struct kmemd *d, const char *path, uint64_t mark)
{
	char tmp[sizeof(d->cfg.state_dir) + 32];
	struct wbuf b = { 0 };
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	encode_u64(&b, REC_IDS, mark);
	for (struct lease *l = d->persistent; l; l = l->lnext)
		if (!l->doomed)		/* freed while attached: going */
			encode_alloc(&b, l, NULL);
	for (struct orphan_set *o = d->orphans; o; o = o->next)
		for (struct lease *l = o->leases; l; l = l->lnext)
			encode_alloc(&b, l, o->token);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = fd < 0 || b.failed || write_all(fd, b.p, b.len) || fsync(fd);
	if (fd >= 0)
		close(fd);
	free(b.p);
	if (rc || rename(tmp, path)) {
		log_err("journal %s: cannot compact: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	fd = open(d->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int journal_open(struct kmemd *d)
{
	char path[sizeof(d->cfg.state_dir) + 16];
	struct rec *live = NULL;
	uint64_t max_id = 0;
	size_t restored = 0, dropped = 0;
	long n;

	d->journal_fd = -1;
	if (!d->cfg.state_dir[0])
		return 0;
	if (mkdir(d->cfg.state_dir, 0700) && errno != EEXIST) {
		log_err("state directory %s: %s", d->cfg.state_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/journal", d->cfg.state_dir);
	n = replay(path, &live, &max_id);
	if (n < 0) {
		log_err("journal %s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (max_id >= d->leases.next_id)
		d->leases.next_id = max_id + 1;
	for (struct rec *x = live; x; x = x->next) {
		if (restore_one(d, x) == 0)
			restored += !x->session;
		else
			dropped++;
	}
	free_recs(live);
	if (compact(d, path, d->leases.next_id - 1 + ID_CHUNK))
		return -1;
	d->journal_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (d->journal_fd < 0) {
		log_err("journal %s: %s", path, strerror(errno));
		return -1;
	}
	id_mark = d->leases.next_id - 1 + ID_CHUNK;
	resume_start(d);
	if (restored || dropped)
		log_info("journal %s: %zu named buffer(s) restored, %zu dropped",
			 path, restored, dropped);
	if (d->orphans)
		log_info("journal %s: %llu lease(s) of durable sessions kept for "
			 "%u ms, waiting for their clients to resume", path,
			 (unsigned long long)d->orphan_leases,
			 d->cfg.resume_grace_ms);
	return 0;
}

void journal_close(struct kmemd *d)
{
	resume_fini(d);
	if (d->journal_fd >= 0)
		close(d->journal_fd);
	d->journal_fd = -1;
	id_mark = 0;
}
