/*
 * http.c - the HTTP/1.1 stats endpoint.
 *
 * GET /stats is stats_json() (application/json), GET /metrics is
 * stats_prometheus() (the Prometheus text format 0.0.4), GET /healthz is
 * "ok".  HEAD works on each; other methods on them get 405 with Allow,
 * other paths 404.  The endpoint listens on its own Unix socket and, only
 * when configured, on a TCP port of the loopback address.
 *
 * It shares the allocation socket's one loop thread, so the rule is that
 * nothing here may wait and nothing here may grow without bound:
 *
 *  - Parsing is Debian's http-parser (http_parser_execute with callbacks),
 *    which streams: nothing of a request is kept but its target (at most
 *    KMEMD_HTTP_MAX_URL bytes, else 414).  The request line and headers
 *    together are bounded by KMEMD_HTTP_MAX_HEADER (the library counts
 *    them; http_parser_set_max_header_size() is process-wide, and this is
 *    the daemon's only parser), else 431.  A request with a body is
 *    refused (405/404, or 413 on a known path) and the connection closed
 *    without reading the body.  Other malformed input is 400; every error
 *    response closes the connection.
 *  - Input: one KMEMD_HTTP_IN_BUF buffer per connection, read into only
 *    while the parser can consume it.  Pipelined requests are answered in
 *    order, each response one uv_write.  Once KMEMD_HTTP_OUT_LIMIT bytes
 *    of responses are unsent the parser is paused and the socket not read
 *    (the unparsed rest of the last read stays in the buffer) until half
 *    of them have gone: a client that never reads costs at most
 *    OUT_LIMIT plus one response plus IN_BUF.
 *  - Time, with T = stats_timeout_ms (10 s by default): a request must be
 *    complete T after its first byte (else 408 and close), responses must
 *    make progress every T (else the connection is dropped), and an idle
 *    keep-alive connection is closed after 3 T.
 *  - At most KMEMD_HTTP_MAX_CONNS connections; one more is sent a 503
 *    (best effort, never blocking) and closed.
 *
 * A connection that is done (Connection: close, HTTP/1.0, an error, a
 * timeout) closes politely: once its last response is out, the write side
 * is shut down and input is discarded until the peer closes, for at most
 * a second, so that a TCP reset cannot destroy a response the client has
 * not read yet.
 */
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "unixsock.h"
#include "stats.h"

#define LINGER_MS 1000

struct kmemd_http {
	struct kmemd *d;
	uv_pipe_t unix_listener;
	uv_tcp_t tcp_listener;
	bool have_unix, have_tcp;
	unsigned open_listeners;	/* not yet through their close callback */
	char path[sizeof(((struct kmemd_config *)0)->stats_socket_path)];
	struct http_conn *conns;
	size_t nconns;
};

enum conn_state {
	C_OPEN,			/* reading and answering requests */
	C_PAUSED,		/* too much unsent: parser paused, not reading */
	C_DRAINING,		/* last response queued: close once it is out */
	C_SHUTDOWN,		/* write side being shut down */
	C_LINGER,		/* discarding input until EOF or LINGER_MS */
};

struct http_conn {
	union {
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} h;
	uv_timer_t timer;
	uv_shutdown_t shut;
	struct kmemd_http *srv;
	http_parser parser;
	enum conn_state state;
	bool reading, closing, in_request;
	unsigned handles;		/* h and timer, until both are closed */
	int refuse;			/* status chosen by a callback that failed */
	size_t inflight;		/* response bytes in uv_write()s */
	uint64_t req_start, last_active, write_progress, linger_start; /* ms */
	size_t url_len;
	char url[KMEMD_HTTP_MAX_URL];
	size_t in_len;			/* unparsed bytes (only while paused) */
	char in[KMEMD_HTTP_IN_BUF];
	struct http_conn *next, *prev;
};

struct http_wreq {
	uv_write_t req;
	struct http_conn *c;
	size_t len;
	char data[];			/* status line, headers, body */
};

/* One response, before it is formatted. */
struct reply {
	int status;
	const char *type;
	const char *body;
	size_t len;
	bool newline;			/* append "\n" to the body */
	bool allow;			/* 405: name the methods allowed */
};

enum route { R_STATS, R_METRICS, R_HEALTHZ };

static void settle(struct http_conn *c);
static void feed(struct http_conn *c);

static uint64_t now_ms(const struct http_conn *c)
{
	return uv_now(c->srv->d->loop);
}

/* ------------------------------------------------------------ closing */

static void on_handle_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;

	if (--c->handles == 0)
		free(c);
}

static void conn_close(struct http_conn *c, const char *why)
{
	struct kmemd_http *srv = c->srv;

	if (c->closing)
		return;
	c->closing = true;
	log_debug("http: connection closed: %s", why);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->h.stream, on_handle_closed);
}

/* ------------------------------------------------------------ output */

static void on_write(uv_write_t *req, int status)
{
	struct http_wreq *w = (struct http_wreq *)req;
	struct http_conn *c = w->c;

	c->inflight -= w->len;
	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c, uv_strerror(status));
		return;
	}
	c->write_progress = now_ms(c);
	if (!c->inflight)
		c->last_active = c->write_progress;
	/* Half of the backlog has gone: answer what is waiting, read again. */
	if (c->state == C_PAUSED && c->inflight <= KMEMD_HTTP_OUT_LIMIT / 2) {
		c->state = C_OPEN;
		http_parser_pause(&c->parser, 0);
		feed(c);
	}
	settle(c);
}

/*
 * Queue one response.  keep says whether the connection stays open after
 * it; head leaves the body out (Content-Length still describes it).
 */
static void respond(struct http_conn *c, const struct reply *r, bool head,
		    bool keep)
{
	size_t blen = r->len + (r->newline ? 1 : 0), total;
	struct http_wreq *w;
	char hdr[320];
	uv_buf_t buf;
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Cache-Control: no-store\r\n%s%s\r\n",
		     r->status, http_status_str((enum http_status)r->status),
		     r->type, blen, r->allow ? "Allow: GET, HEAD\r\n" : "",
		     !keep ? "Connection: close\r\n" :
		     c->parser.http_minor == 0 ? "Connection: keep-alive\r\n" : "");
	total = (size_t)n + (head ? 0 : blen);
	w = malloc(sizeof(*w) + total);
	if (!w) {
		conn_close(c, "out of memory");
		return;
	}
	memcpy(w->data, hdr, (size_t)n);
	if (!head) {
		memcpy(w->data + n, r->body, r->len);
		if (r->newline)
			w->data[total - 1] = '\n';
	}
	w->c = c;
	w->len = total;
	if (!c->inflight)
		c->write_progress = now_ms(c);
	c->inflight += total;
	buf = uv_buf_init(w->data, (unsigned)total);
	if (uv_write(&w->req, &c->h.stream, &buf, 1, on_write) < 0) {
		c->inflight -= total;
		free(w);
		conn_close(c, "write failed");
		return;
	}
	if (!keep)
		c->state = C_DRAINING;
}

/* An error response; it always ends the connection. */
static void respond_error(struct http_conn *c, int status, bool head)
{
	char body[64];
	struct reply r = { .status = status, .type = "text/plain; charset=utf-8",
			   .body = body, .allow = status == 405 };

	r.len = (size_t)snprintf(body, sizeof(body), "%d %s\n", status,
				 http_status_str((enum http_status)status));
	respond(c, &r, head, false);
}

/* ------------------------------------------------------------ routing */

/* The status a request to this target gets (200: *out says which). */
static int route(const struct http_conn *c, enum route *out)
{
	static const struct { const char *path; enum route r; } routes[] = {
		{ "/stats", R_STATS }, { "/metrics", R_METRICS },
		{ "/healthz", R_HEALTHZ },
	};
	struct http_parser_url u;
	const char *path;
	size_t len;

	http_parser_url_init(&u);
	if (http_parser_parse_url(c->url, c->url_len, 0, &u) ||
	    !(u.field_set & (1u << UF_PATH)))
		return 400;
	path = c->url + u.field_data[UF_PATH].off;
	len = u.field_data[UF_PATH].len;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strlen(routes[i].path) != len || memcmp(routes[i].path, path, len))
			continue;
		if (c->parser.method != HTTP_GET && c->parser.method != HTTP_HEAD)
			return 405;
		*out = routes[i].r;
		return 200;
	}
	return 404;
}

static void answer(struct http_conn *c, bool keep)
{
	const struct kmemd *d = c->srv->d;
	bool head = c->parser.method == HTTP_HEAD;
	struct reply r = { .status = 200 };
	char *text = NULL;
	enum route which = R_HEALTHZ;
	int status = route(c, &which);

	if (status != 200) {
		respond_error(c, status, head);
		return;
	}
	switch (which) {
	case R_STATS:
		text = stats_json(d);
		r.type = "application/json";
		r.newline = true;
		break;
	case R_METRICS:
		text = stats_prometheus(d);
		r.type = "text/plain; version=0.0.4; charset=utf-8";
		break;
	case R_HEALTHZ:
		r.type = "text/plain; charset=utf-8";
		r.body = "ok\n";
		r.len = 3;
		break;
	}
	if (which != R_HEALTHZ) {
		if (!text) {
			respond_error(c, 500, head);
			return;
		}
		r.body = text;
		r.len = strlen(text);
	}
	respond(c, &r, head, keep);
	free(text);
}

/* ------------------------------------------------------------ parsing */

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	c->url_len = 0;
	c->in_request = true;
	c->req_start = now_ms(c);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (len > sizeof(c->url) - c->url_len) {
		c->refuse = 414;
		return -1;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

/* Bodies are refused before a byte of them is read. */
static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	enum route which;

	if (!(p->flags & F_CHUNKED) &&
	    !((p->flags & F_CONTENTLENGTH) && p->content_length > 0))
		return 0;
	c->refuse = route(c, &which);
	if (c->refuse == 200)
		c->refuse = 413;
	return -1;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	bool keep = http_should_keep_alive(p) && !p->upgrade;

	c->in_request = false;
	c->last_active = now_ms(c);
	answer(c, keep);
	if (c->closing)
		return -1;
	if (c->state == C_OPEN && c->inflight > KMEMD_HTTP_OUT_LIMIT)
		c->state = C_PAUSED;
	/* Either way the parser stops here; the rest waits in c->in. */
	if (c->state != C_OPEN)
		http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

/* Parse what is in c->in while the connection answers requests. */
static void feed(struct http_conn *c)
{
	size_t off = 0;

	while (off < c->in_len && c->state == C_OPEN && !c->closing) {
		size_t n = http_parser_execute(&c->parser, &settings, c->in + off,
					       c->in_len - off);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

		off += n;
		if (c->closing || e == HPE_PAUSED)
			continue;
		if (e != HPE_OK) {
			int status = c->refuse ? c->refuse :
				     e == HPE_HEADER_OVERFLOW ? 431 : 400;

			log_debug("http: %d: %s", status, http_errno_description(e));
			c->in_request = false;
			respond_error(c, status, false);
			break;
		}
		if (n == 0)
			break;
	}
	/* Keep what a pause left unparsed; anything else is done with. */
	if (c->state == C_PAUSED && off < c->in_len) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	} else {
		c->in_len = 0;
	}
}

/* ------------------------------------------------------------ input */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct http_conn *c = h->data;

	(void)hint;
	if (c->state == C_LINGER)
		*buf = uv_buf_init(c->in, sizeof(c->in));
	else
		*buf = uv_buf_init(c->in + c->in_len,
				   (unsigned)(sizeof(c->in) - c->in_len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = st->data;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		/* A client that sent its requests and shut its side still
		 * gets the answers. */
		if (nread == UV_EOF && c->state == C_OPEN && c->inflight) {
			c->state = C_DRAINING;
			settle(c);
			return;
		}
		conn_close(c, nread == UV_EOF ? "closed by peer" :
			   uv_strerror((int)nread));
		return;
	}
	if (c->state == C_LINGER)
		return;
	c->in_len += (size_t)nread;
	feed(c);
	settle(c);
}

/* ------------------------------------------------------------ state */

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct http_conn *c = req->data;

	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c, uv_strerror(status));
		return;
	}
	c->state = C_LINGER;
	c->linger_start = now_ms(c);
	settle(c);
}

static void on_timeout(uv_timer_t *t)
{
	struct http_conn *c = t->data;

	if (c->inflight) {
		conn_close(c, "responses not read in time");
	} else if (c->state == C_LINGER || c->state == C_SHUTDOWN) {
		conn_close(c, "done");
	} else if (c->in_request && c->state == C_OPEN) {
		c->in_request = false;
		respond_error(c, 408, false);
		settle(c);
	} else {
		conn_close(c, "idle");
	}
}

/* Which deadline applies now: see the theory block. */
static void rearm(struct http_conn *c)
{
	uint64_t t = c->srv->d->cfg.stats_timeout_ms, now = now_ms(c), due;

	if (c->inflight)
		due = c->write_progress + t;
	else if (c->state == C_LINGER)
		due = c->linger_start + LINGER_MS;
	else if (c->in_request)
		due = c->req_start + t;
	else
		due = c->last_active + 3 * t;
	uv_timer_start(&c->timer, on_timeout, due > now ? due - now : 0, 0);
}

/*
 * After every event: read only in the states that want input, start the
 * shutdown once a finished connection's last response is out, and arm
 * the deadline that now applies.
 */
static void settle(struct http_conn *c)
{
	bool want;

	if (c->closing)
		return;
	if (c->state == C_DRAINING && !c->inflight) {
		c->state = C_SHUTDOWN;
		c->shut.data = c;
		if (uv_shutdown(&c->shut, &c->h.stream, on_shutdown) < 0) {
			conn_close(c, "shutdown failed");
			return;
		}
	}
	want = c->state == C_OPEN || c->state == C_LINGER;
	if (want && !c->reading)
		c->reading = uv_read_start(&c->h.stream, on_alloc, on_read) == 0;
	else if (!want && c->reading) {
		uv_read_stop(&c->h.stream);
		c->reading = false;
	}
	rearm(c);
}

/* ------------------------------------------------------------ accepting */

static void reject(struct http_conn *c)
{
	static const char busy[] =
		"HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 22\r\n"
		"Retry-After: 1\r\nConnection: close\r\n\r\n"
		"too many HTTP clients\n";
	uv_buf_t buf = uv_buf_init((char *)busy, sizeof(busy) - 1);

	/* Best effort: a new socket's buffer takes it; if not, no matter. */
	uv_try_write(&c->h.stream, &buf, 1);
	conn_close(c, "too many connections");
}

static void on_connection(uv_stream_t *server, int status)
{
	struct kmemd_http *srv = server->data;
	struct http_conn *c;

	if (status < 0) {
		log_warn("http: accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		log_err("http: accept: out of memory");
		return;
	}
	c->srv = srv;
	if (server->type == UV_TCP)
		uv_tcp_init(srv->d->loop, &c->h.tcp);
	else
		uv_pipe_init(srv->d->loop, &c->h.pipe, 0);
	uv_timer_init(srv->d->loop, &c->timer);
	c->h.stream.data = c->timer.data = c;
	c->handles = 2;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	if (uv_accept(server, &c->h.stream) < 0) {
		conn_close(c, "accept failed");
		return;
	}
	if (srv->nconns > KMEMD_HTTP_MAX_CONNS) {
		reject(c);
		return;
	}
	if (server->type == UV_TCP)
		uv_tcp_nodelay(&c->h.tcp, 1);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->state = C_OPEN;
	c->last_active = now_ms(c);
	settle(c);
}

/* ------------------------------------------------------------ listeners */

static int listen_unix(struct kmemd_http *srv)
{
	const struct kmemd_config *cfg = &srv->d->cfg;
	int fd = unix_socket_bind("http: ", cfg->stats_socket_path,
				  cfg->stats_socket_mode), rc;

	if (fd < 0)
		return -1;
	/* From here the file is ours: http_stop removes it. */
	uv_pipe_init(srv->d->loop, &srv->unix_listener, 0);
	srv->unix_listener.data = srv;
	srv->have_unix = true;
	srv->open_listeners++;
	snprintf(srv->path, sizeof(srv->path), "%s", cfg->stats_socket_path);
	rc = uv_pipe_open(&srv->unix_listener, fd);
	if (rc < 0)
		close(fd);
	else
		rc = uv_listen((uv_stream_t *)&srv->unix_listener, 64, on_connection);
	if (rc < 0) {
		log_err("http: listen %s: %s", srv->path, uv_strerror(rc));
		return -1;
	}
	log_info("http: stats on %s (mode %04o)", srv->path,
		 (unsigned)cfg->stats_socket_mode);
	return 0;
}

static int listen_tcp(struct kmemd_http *srv)
{
	const struct kmemd_config *cfg = &srv->d->cfg;
	const char *addr = cfg->stats_address;
	struct sockaddr_storage ss;
	int rc;

	rc = strchr(addr, ':') ?
	     uv_ip6_addr(addr, cfg->stats_port, (struct sockaddr_in6 *)&ss) :
	     uv_ip4_addr(addr, cfg->stats_port, (struct sockaddr_in *)&ss);
	if (rc < 0) {
		log_err("http: bad stats address '%s'", addr);
		return -1;
	}
	uv_tcp_init(srv->d->loop, &srv->tcp_listener);
	srv->tcp_listener.data = srv;
	srv->have_tcp = true;
	srv->open_listeners++;
	/* libuv may report a bind error only at listen time. */
	rc = uv_tcp_bind(&srv->tcp_listener, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&srv->tcp_listener, 64, on_connection);
	if (rc < 0) {
		log_err("http: listen %s port %d: %s", addr, cfg->stats_port,
			uv_strerror(rc));
		return -1;
	}
	log_info("http: stats on %s port %d", addr, cfg->stats_port);
	return 0;
}

int http_start(struct kmemd *d)
{
	const struct kmemd_config *cfg = &d->cfg;
	struct kmemd_http *srv;

	if (!cfg->stats_socket_path[0] && !cfg->stats_port)
		return 0;
	http_parser_set_max_header_size(KMEMD_HTTP_MAX_HEADER);
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		log_err("http: out of memory");
		return -1;
	}
	srv->d = d;
	d->http = srv;
	if ((cfg->stats_socket_path[0] && listen_unix(srv)) ||
	    (cfg->stats_port && listen_tcp(srv))) {
		http_stop(d);
		return -1;
	}
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct kmemd_http *srv = h->data;

	if (--srv->open_listeners == 0)
		free(srv);
}

void http_stop(struct kmemd *d)
{
	struct kmemd_http *srv = d->http;

	if (!srv)
		return;
	d->http = NULL;
	/* Connections never reach srv once closing: it may go first. */
	while (srv->conns)
		conn_close(srv->conns, "daemon shutting down");
	if (srv->have_unix) {
		uv_close((uv_handle_t *)&srv->unix_listener, on_listener_closed);
		unlink(srv->path);
	}
	if (srv->have_tcp)
		uv_close((uv_handle_t *)&srv->tcp_listener, on_listener_closed);
	if (!srv->open_listeners)
		free(srv);
}
