/*
 * server.c - the allocation socket.
 *
 * One libuv loop thread.  A session reads whatever bytes arrive, feeds the
 * frame decoder, and dispatches every complete request in that read before
 * writing the replies back in one uv_write: many pipelined requests cost
 * one read and one write.  Output is bounded: a session whose unsent
 * replies exceed out_limit stops being read until they drain, so a client
 * that never reads cannot grow the daemon.  A frame that stays half
 * received for stall_timeout_ms closes the session (a client that sends
 * one byte a second cannot pin a buffer forever), and any protocol error
 * closes only that connection.
 *
 * The Hello reply carries the pools' fds with SCM_RIGHTS.  libuv's
 * uv_write2 passes only stream handles, so the reply is sent with a direct
 * sendmsg() on the socket while nothing else is queued on it (Hello is the
 * first request of a session, so that always holds); a short send queues
 * the rest through libuv as usual.
 *
 * Buffers.  The steady state allocates nothing: every session reads into
 * the daemon's one read buffer, requests are unpacked into dispatch.c's
 * arena, and replies are packed into the session's output buffer, which
 * is kept.  The two slower paths recycle what they use: requests held
 * back for fairness or back-pressure are copied into a backlog buffer of
 * the read buffer's size (the unhandled rest of a read never exceeds it),
 * which is memmoved in place on the next hold and kept as a spare once
 * drained; a write that the socket cannot take at once hands the output
 * buffer to libuv with a write request, and both come back as spares when
 * it completes.  Spares are file-static (one loop thread, one daemon per
 * process) and bounded: SPARES of each, output buffers up to
 * SPARE_OUT_MAX bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kmem/error.h"
#include "dispatch.h"
#include "leases.h"
#include "log.h"
#include "unixsock.h"
#include "notify.h"
#include "server.h"

struct wreq {
	uv_write_t req;
	struct session *s;
	uint8_t *data;
	size_t len, cap;
	struct wreq *next;		/* on the spare list */
};

#define SPARES 8
#define SPARE_OUT_MAX ((size_t)1 << 20)

static struct {
	struct wreq *wreqs;		/* write requests, linked by next */
	size_t nwreqs;
	uint8_t *backlogs[SPARES];	/* BACKLOG_CAP bytes each */
	size_t nbacklogs;
	struct {
		uint8_t *data;
		size_t cap;
	} outs[SPARES];			/* output buffers */
	size_t nouts;
} spare;

/* Every backlog buffer holds what one read can leave unhandled. */
#define BACKLOG_CAP sizeof(((struct kmemd *)0)->readbuf)

static void on_close(uv_handle_t *h);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void process(struct session *s);
static void settle(struct session *s);

/* ------------------------------------------------------------ spares */

static struct wreq *wreq_get(void)
{
	struct wreq *w = spare.wreqs;

	if (!w)
		return malloc(sizeof(*w));
	spare.wreqs = w->next;
	spare.nwreqs--;
	return w;
}

static void wreq_put(struct wreq *w)
{
	if (spare.nwreqs == SPARES) {
		free(w);
		return;
	}
	w->next = spare.wreqs;
	spare.wreqs = w;
	spare.nwreqs++;
}

/* A fresh output buffer for s (whose data was handed to a write). */
static void out_get(struct session *s)
{
	s->out.data = NULL;
	s->out.len = s->out.cap = 0;
	if (spare.nouts) {
		spare.nouts--;
		s->out.data = spare.outs[spare.nouts].data;
		s->out.cap = spare.outs[spare.nouts].cap;
	}
}

static void out_put(uint8_t *data, size_t cap)
{
	if (!data || cap > SPARE_OUT_MAX || spare.nouts == SPARES) {
		free(data);
		return;
	}
	spare.outs[spare.nouts].data = data;
	spare.outs[spare.nouts].cap = cap;
	spare.nouts++;
}

static uint8_t *backlog_get(void)
{
	if (spare.nbacklogs)
		return spare.backlogs[--spare.nbacklogs];
	return malloc(BACKLOG_CAP);
}

static void backlog_put(uint8_t *b)
{
	if (b && spare.nbacklogs < SPARES)
		spare.backlogs[spare.nbacklogs++] = b;
	else
		free(b);
}

/* ------------------------------------------------------------ output */

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct session *s = w->s;

	s->inflight -= w->len;
	s->d->unsent -= w->len;
	out_put(w->data, w->cap);
	wreq_put(w);
	if (s->closing)
		return;
	if (status < 0) {
		session_close(s, uv_strerror(status));
		return;
	}
	if (s->draining) {
		if (s->inflight == 0)
			session_close(s, "protocol error");
		return;
	}
	/* Drained enough: handle what was held back, then read again. */
	if (s->inflight < s->d->cfg.out_limit / 2) {
		if (s->backlog)
			process(s);
		else
			settle(s);
	}
}

void session_end_after_write(struct session *s)
{
	if (s->closing || s->draining)
		return;
	s->draining = true;
	if (s->reading) {
		uv_read_stop((uv_stream_t *)&s->pipe);
		s->reading = false;
	}
	session_flush(s);
	if (!s->closing && s->inflight == 0)
		session_close(s, "protocol error");
}

void session_flush(struct session *s)
{
	struct wreq *w;
	uv_buf_t buf;

	if (s->out.len == 0 || s->closing)
		return;
	/* Nothing queued in libuv: write at once and keep the buffer (no
	 * write request, no buffer handover, no completion round trip). */
	if (s->inflight == 0) {
		uv_buf_t b = uv_buf_init((char *)s->out.data, (unsigned)s->out.len);
		int n = uv_try_write((uv_stream_t *)&s->pipe, &b, 1);

		if (n > 0)
			kmem_frame_buf_consume(&s->out, (size_t)n);
		else if (n != UV_EAGAIN && n != UV_ENOSYS) {
			session_close(s, uv_strerror(n));
			return;
		}
		if (s->out.len == 0)
			return;
	}
	w = wreq_get();
	if (!w) {
		session_close(s, "out of memory");
		return;
	}
	/* Hand the buffer to the write; the session takes a spare one. */
	w->s = s;
	w->data = s->out.data;
	w->len = s->out.len;
	w->cap = s->out.cap;
	out_get(s);
	buf = uv_buf_init((char *)w->data, (unsigned)w->len);
	s->inflight += w->len;
	s->d->unsent += w->len;
	if (uv_write(&w->req, (uv_stream_t *)&s->pipe, &buf, 1, on_write) < 0) {
		s->inflight -= w->len;
		s->d->unsent -= w->len;
		out_put(w->data, w->cap);
		wreq_put(w);
		session_close(s, "write failed");
	}
}

int session_reply(struct session *s, const Kmem__Response *r)
{
	int rc = kmem_frame_pack_response(&s->out, r);

	if (rc) {
		log_err("session %llu: cannot queue a reply: %s",
			(unsigned long long)s->id, kmem_strerror(rc));
		session_close(s, "reply too large or out of memory");
		return -1;
	}
	return 0;
}

int session_send_fds(struct session *s, const int *fds, size_t nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * KMEMD_MAX_POOLS)];
	struct iovec iov = { s->out.data, s->out.len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	uv_os_fd_t fd;
	ssize_t n;

	if (s->inflight || uv_fileno((uv_handle_t *)&s->pipe, &fd) < 0)
		return -1;
	if (nfds) {
		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	/* The fds went with the first byte; the rest (if any) is queued. */
	kmem_frame_buf_consume(&s->out, (size_t)n);
	return 0;
}

/* ------------------------------------------------------------ input */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct session *s = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)s->d->readbuf, sizeof(s->d->readbuf));
}

static void on_stall(uv_timer_t *t)
{
	struct session *s = t->data;

	log_warn("session %llu (pid %d): half a frame for %u ms; closing",
		 (unsigned long long)s->id, (int)s->pid, s->d->cfg.stall_timeout_ms);
	session_close(s, "stalled mid-frame");
}

static void arm_stall(struct session *s)
{
	bool pending = kmem_frame_decoder_pending(&s->dec) != 0;

	if (pending && !s->stall_armed) {
		uv_timer_start(&s->stall, on_stall, s->d->cfg.stall_timeout_ms, 0);
		s->stall_armed = true;
	} else if (!pending && s->stall_armed) {
		uv_timer_stop(&s->stall);
		s->stall_armed = false;
	}
}

/*
 * Back-pressure.  A session may have out_limit bytes of replies unsent;
 * all sessions together 4 x out_limit, beyond which every session with
 * replies of its own unsent is not read (nor its held-back requests
 * handled) until they drain.
 */
static bool over_limit(const struct session *s)
{
	uint64_t lim = s->d->cfg.out_limit, mine = s->out.len + s->inflight;

	return mine > lim || (mine && s->d->unsent + s->out.len > 4 * lim);
}

/*
 * Keep the unhandled rest of the current chunk for later: in place when
 * the chunk is the backlog itself, else in a backlog buffer.
 */
static void hold_back(struct session *s)
{
	const uint8_t *p;
	size_t n = kmem_frame_decoder_unread(&s->dec, &p);
	uint8_t *b = s->backlog;

	if (n == 0) {
		backlog_put(b);
		s->backlog = NULL;
		s->backlog_len = 0;
		return;
	}
	if (!b || p < b || p >= b + s->backlog_len) {
		/* From the read buffer: the backlog, if any, was used up. */
		backlog_put(b);
		s->backlog = NULL;
		s->backlog_len = 0;
		b = backlog_get();
		if (!b) {
			session_close(s, "out of memory");
			return;
		}
	}
	memmove(b, p, n);
	s->backlog = b;
	s->backlog_len = n;
}

static void on_resume(uv_idle_t *idle);

/*
 * Read the session, or not: not while requests are held back or replies
 * pile up.  Requests held back only for fairness are resumed on the next
 * loop turn (an idle handle); those held for back-pressure when the
 * replies drain (on_write).
 */
static void settle(struct session *s)
{
	struct kmemd *d = s->d;

	if (s->closing || s->draining)
		return;
	if (s->backlog || over_limit(s)) {
		if (s->reading) {
			uv_read_stop((uv_stream_t *)&s->pipe);
			s->reading = false;
		}
		if (s->backlog && !over_limit(s) && !d->resuming) {
			uv_idle_start(&d->resume, on_resume);
			d->resuming = true;
		}
	} else if (!s->reading) {
		s->reading = true;
		uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
	}
}

/*
 * Handle the complete frames fed to the decoder: at most TURN_FRAMES per
 * loop turn (so one flooding client cannot hold the loop from the others)
 * and only while the replies stay under the limits; the rest is held back.
 */
#define TURN_FRAMES 64

static void process(struct session *s)
{
	const uint8_t *payload;
	bool held = false;
	unsigned n = 0;
	uint64_t t0 = uv_hrtime();	/* the turn's requests, timed together */
	unsigned handled = 0;
	size_t len;
	int rc;

	if (s->backlog) {
		uint8_t *b = s->backlog;

		s->backlog = NULL;
		kmem_frame_decoder_feed(&s->dec, b, s->backlog_len);
		s->backlog = b;		/* freed once consumed or replaced */
	}
	while (!s->closing && !s->draining) {
		if (over_limit(s) || n == TURN_FRAMES) {
			hold_back(s);
			held = true;
			break;
		}
		rc = kmem_frame_decoder_next(&s->dec, &payload, &len);
		if (rc == 0)
			break;
		if (rc < 0) {
			dispatch_protocol_error(s, 0, rc == KMEM_ETOOBIG ?
				"frame longer than the maximum" : "out of memory");
			break;
		}
		handled += dispatch_frame_at(s, payload, len);
		n++;
	}
	if (handled)
		dispatch_latency(s->d, handled, uv_hrtime() - t0);
	if (!held && s->backlog && !s->closing) {
		/* Consumed to the end (a partial frame was copied). */
		backlog_put(s->backlog);
		s->backlog = NULL;
		s->backlog_len = 0;
	}
	if (s->closing || s->draining)
		return;
	arm_stall(s);
	session_flush(s);
	settle(s);
}

static void on_resume(uv_idle_t *idle)
{
	struct kmemd *d = idle->data;
	bool more = false;

	for (struct session *s = d->sessions, *next; s; s = next) {
		next = s->next;
		if (s->backlog && !over_limit(s) && !s->closing && !s->draining) {
			process(s);
			more |= s->backlog != NULL;
		}
	}
	if (!more) {
		uv_idle_stop(idle);
		d->resuming = false;
	}
}

void server_init(struct kmemd *d)
{
	uv_idle_init(d->loop, &d->resume);
	d->resume.data = d;
	uv_unref((uv_handle_t *)&d->resume);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct session *s = st->data;

	if (nread < 0) {
		session_close(s, nread == UV_EOF ? "closed by peer" : uv_strerror((int)nread));
		return;
	}
	kmem_frame_decoder_feed(&s->dec, buf->base, (size_t)nread);
	process(s);
}

/* ------------------------------------------------------------ sessions */

static void peer_identity(struct session *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;
	char path[64];
	FILE *f;

	s->pid = -1;
	s->uid = (uid_t)-1;
	s->gid = (gid_t)-1;
	if (uv_fileno((uv_handle_t *)&s->pipe, &fd) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		s->pid = cred.pid;
		s->uid = cred.uid;
		s->gid = cred.gid;
	}
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)s->pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(s->comm, sizeof(s->comm), f))
			s->comm[strcspn(s->comm, "\n")] = 0;
		fclose(f);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct kmemd *d = server->data;
	struct session *s;

	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_err("accept: out of memory");
		return;
	}
	s->d = d;
	uv_pipe_init(d->loop, &s->pipe, 0);
	s->pipe.data = s;
	if (uv_accept(server, (uv_stream_t *)&s->pipe) < 0) {
		uv_close((uv_handle_t *)&s->pipe, on_close);
		return;
	}
	uv_timer_init(d->loop, &s->stall);
	s->stall.data = s;
	s->id = ++d->next_session_id;
	kmem_frame_decoder_init(&s->dec, d->cfg.max_frame);
	/* Replies are the daemon's own: a big pool's stats document may pass
	 * the 1 MiB that bounds what clients send. */
	kmem_frame_buf_init(&s->out, KMEMD_REPLY_MAX);
	peer_identity(s);
	s->next = d->sessions;
	if (d->sessions)
		d->sessions->prev = s;
	d->sessions = s;
	d->nsessions++;
	d->ctr.sessions_total++;
	d->gen++;
	s->reading = true;
	uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
	log_debug("session %llu: pid %d uid %d comm %s", (unsigned long long)s->id,
		  (int)s->pid, (int)s->uid, s->comm);
}

static void on_timer_close(uv_handle_t *h)
{
	struct session *s = h->data;

	backlog_put(s->backlog);
	kmem_frame_decoder_fini(&s->dec);
	out_put(s->out.data, s->out.cap);
	s->out.data = NULL;
	kmem_frame_buf_fini(&s->out);
	free(s);
}

static void on_close(uv_handle_t *h)
{
	struct session *s = h->data;

	if (s->d && s->id) {
		uv_close((uv_handle_t *)&s->stall, on_timer_close);
		return;
	}
	free(s);
}

void session_close(struct session *s, const char *why)
{
	struct kmemd *d = s->d;

	if (s->closing)
		return;
	s->closing = true;
	log_debug("session %llu (pid %d): %s", (unsigned long long)s->id,
		  (int)s->pid, why);
	/* Everything the session held comes back now. */
	leases_session_end(s);
	if (s->prev)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	d->nsessions--;
	d->gen++;
	uv_close((uv_handle_t *)&s->pipe, on_close);
}

/* ------------------------------------------------------------ listener */

int server_listen(struct kmemd *d)
{
	int fd = notify_listen_fd(d->cfg.socket_path), rc;

	/* Socket activation: systemd bound it (and owns the file). */
	d->socket_activated = fd >= 0;
	if (fd < 0)
		fd = unix_socket_bind("", d->cfg.socket_path, d->cfg.socket_mode);

	if (fd < 0)
		return -1;
	uv_pipe_init(d->loop, &d->listener, 0);
	d->listener.data = d;
	rc = uv_pipe_open(&d->listener, fd);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&d->listener, 128, on_connection);
	if (rc < 0) {
		log_err("listen %s: %s", d->cfg.socket_path, uv_strerror(rc));
		uv_close((uv_handle_t *)&d->listener, NULL);
		if (!d->socket_activated)
			unlink(d->cfg.socket_path);
		return -1;
	}
	d->listening = true;
	if (d->socket_activated)
		log_info("listening on %s (from systemd)", d->cfg.socket_path);
	else
		log_info("listening on %s (mode %04o)", d->cfg.socket_path,
			 (unsigned)d->cfg.socket_mode);
	return 0;
}

void server_stop(struct kmemd *d)
{
	if (!d->listening)
		return;
	d->listening = false;
	uv_close((uv_handle_t *)&d->listener, NULL);
	if (!d->socket_activated)
		unlink(d->cfg.socket_path);
}
