/*
 * httpc.c - the daemon, the HTTP client and the Prometheus checker of the
 * HTTP endpoint tests (see httpc.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"

uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ daemon */

static void child(const char *dir, const char *log, const char *const *args)
{
	const char *bin = getenv("KMEMD_BIN");
	const char *argv[64] = { bin };
	size_t n = 1;
	int fd;

	for (; args[n - 1] && n < 63; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	if (chdir(dir))
		_exit(126);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		dup2(fd, 2);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
	}
	execv(bin, (char *const *)argv);
	_exit(127);
}

int td_wait(struct tdaemon *t, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;
	int status;

	if (!t->pid)
		return -1;
	do {
		pid_t r = waitpid(t->pid, &status, WNOHANG);

		if (r == t->pid) {
			t->pid = 0;
			return status;
		}
		sleep_ms(10);
	} while (mono_ms() < end);
	return -1;
}

int td_start(struct tdaemon *t, const char *dir, const char *name,
	     const char *wait_path, const char *const *args)
{
	uint64_t end = mono_ms() + 10000;
	int status;

	if (!getenv("KMEMD_BIN"))
		return -1;
	snprintf(t->log, sizeof(t->log), "%s/%s.log", dir, name);
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (t->pid == 0)
		child(dir, t->log, args);
	if (!wait_path)
		return 0;
	while (mono_ms() < end) {
		int fd = unix_connect(wait_path);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	kill(t->pid, SIGKILL);
	waitpid(t->pid, &status, 0);
	t->pid = 0;
	return -1;
}

int td_stop(struct tdaemon *t)
{
	int status;

	if (!t->pid)
		return -1;
	kill(t->pid, SIGTERM);
	status = td_wait(t, 10000);
	if (status == -1 && t->pid) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		t->pid = 0;
		return -1;
	}
	return status;
}

void td_dump_log(const struct tdaemon *t)
{
	char line[512];
	FILE *f = fopen(t->log, "r");

	if (!f)
		return;
	printf("---- %s\n", t->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
}

/* ------------------------------------------------------------ sockets */

int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

int tcp_connect(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd, err;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int free_tcp_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

bool wait_closed(int fd, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;
	char buf[16384];

	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = (int64_t)(end - mono_ms());
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return false;
	}
}

/* ------------------------------------------------------------ client */

static void append(char *dst, size_t cap, const char *at, size_t len)
{
	size_t have = strlen(dst);

	if (len > cap - 1 - have)
		len = cap - 1 - have;
	memcpy(dst + have, at, len);
	dst[have + len] = 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct hconn *h = p->data;

	if (h->last_was_value)
		h->field_len = 0;
	h->last_was_value = false;
	if (len > sizeof(h->field) - 1 - h->field_len)
		len = sizeof(h->field) - 1 - h->field_len;
	memcpy(h->field + h->field_len, at, len);
	h->field_len += len;
	h->field[h->field_len] = 0;
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct hconn *h = p->data;

	h->last_was_value = true;
	if (!strcasecmp(h->field, "content-type"))
		append(h->r->type, sizeof(h->r->type), at, len);
	else if (!strcasecmp(h->field, "connection"))
		append(h->r->connection, sizeof(h->r->connection), at, len);
	else if (!strcasecmp(h->field, "allow"))
		append(h->r->allow, sizeof(h->r->allow), at, len);
	return 0;
}

static int on_headers(http_parser *p)
{
	struct hconn *h = p->data;

	h->r->content_length = (p->flags & F_CONTENTLENGTH) ?
			       (long)p->content_length : -1;
	return h->head ? 1 : 0;		/* a HEAD response has no body */
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct hconn *h = p->data;
	char *b = realloc(h->r->body, h->r->len + len + 1);

	if (!b)
		return -1;
	memcpy(b + h->r->len, at, len);
	h->r->len += len;
	b[h->r->len] = 0;
	h->r->body = b;
	return 0;
}

static int on_complete(http_parser *p)
{
	struct hconn *h = p->data;

	h->r->status = (int)p->status_code;
	h->r->keep_alive = http_should_keep_alive(p) != 0;
	h->done = true;
	http_parser_pause(p, 1);	/* the next response waits its turn */
	return 0;
}

static const http_parser_settings client_settings = {
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers,
	.on_body = on_body,
	.on_message_complete = on_complete,
};

void hconn_init(struct hconn *h, int fd)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	http_parser_init(&h->p, HTTP_RESPONSE);
	h->p.data = h;
}

void hconn_fini(struct hconn *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	free(h->pending);
	h->pending = NULL;
}

/* Feed bytes; keep what follows a complete response.  0 or -2. */
static int run(struct hconn *h, const char *buf, size_t len)
{
	size_t n = http_parser_execute(&h->p, &client_settings, buf, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
	char *rest = NULL;

	if (e == HPE_PAUSED) {
		http_parser_pause(&h->p, 0);
		if (n < len) {
			rest = malloc(len - n);
			if (!rest)
				return -2;
			memcpy(rest, buf + n, len - n);
		}
		free(h->pending);
		h->pending = rest;
		h->npending = len - n;
		return 0;
	}
	return e == HPE_OK ? 0 : -2;
}

int hconn_read(struct hconn *h, struct hresp *r, bool head, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;
	char buf[65536];

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->body = calloc(1, 1);
	h->r = r;
	h->done = h->last_was_value = false;
	h->head = head;
	h->field_len = 0;
	if (h->npending) {
		char *p = h->pending;
		size_t n = h->npending;

		h->pending = NULL;
		h->npending = 0;
		if (run(h, p, n)) {
			free(p);
			return -2;
		}
		free(p);
	}
	while (!h->done) {
		struct pollfd pfd = { h->fd, POLLIN, 0 };
		int64_t left = (int64_t)(end - mono_ms());
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = read(h->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (run(h, buf, (size_t)n))
			return -2;
	}
	return 0;
}

void hresp_free(struct hresp *r)
{
	free(r->body);
	r->body = NULL;
}

int http_get(const char *sock, const char *method, const char *path,
	     struct hresp *r)
{
	struct hconn h;
	char req[512];
	int fd = unix_connect(sock), rc;

	if (fd < 0)
		return -1;
	hconn_init(&h, fd);
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
		 method, path);
	rc = send_str(fd, req);
	if (rc == 0)
		rc = hconn_read(&h, r, !strcmp(method, "HEAD"), 5000);
	hconn_fini(&h);
	return rc;
}

/* ------------------------------------------------------------ prometheus */

#define PROM_MAX_FAMILIES 256

struct family {
	char name[128];
	char type[16];
	bool help, typed, sampled, closed;
	/* histogram series being checked */
	char series[256];
	double last_le, last_count, inf_count;
	bool have_bucket, have_inf;
};

struct prom {
	struct family fam[PROM_MAX_FAMILIES];
	size_t nfam;
	int cur;			/* family of the previous line, -1 none */
	char *err;
	size_t errlen;
	int line;
	bool ungrouped;
	char ungrouped_msg[256];
};

static int fail(struct prom *p, const char *why, const char *what)
{
	snprintf(p->err, p->errlen, "line %d: %s: %.100s", p->line, why, what);
	return -1;
}

static bool name_char(int c, bool first, bool colon)
{
	return isalpha(c) || c == '_' || (colon && c == ':') ||
	       (!first && isdigit(c));
}

/* A metric (colon true) or label name at *s; its length, 0 if none. */
static size_t scan_name(const char *s, bool colon)
{
	size_t n = 0;

	while (s[n] && name_char((unsigned char)s[n], n == 0, colon))
		n++;
	return n;
}

static int find_family(struct prom *p, const char *name, size_t len, bool make)
{
	for (size_t i = 0; i < p->nfam; i++)
		if (strlen(p->fam[i].name) == len && !memcmp(p->fam[i].name, name, len))
			return (int)i;
	if (!make || p->nfam == PROM_MAX_FAMILIES || len >= sizeof(p->fam[0].name))
		return -1;
	memset(&p->fam[p->nfam], 0, sizeof(p->fam[0]));
	memcpy(p->fam[p->nfam].name, name, len);
	return (int)p->nfam++;
}

/* Every line of a family is one group: note the first that is not. */
static void group(struct prom *p, int f)
{
	if (f == p->cur)
		return;
	if (p->fam[f].closed && !p->ungrouped) {
		p->ungrouped = true;
		snprintf(p->ungrouped_msg, sizeof(p->ungrouped_msg),
			 "line %d: %s is not one group (its lines are interleaved "
			 "with another family's)", p->line, p->fam[f].name);
	}
	if (p->cur >= 0)
		p->fam[p->cur].closed = true;
	p->cur = f;
}

static int comment(struct prom *p, const char *s)
{
	bool help = !strncmp(s, "# HELP ", 7), type = !strncmp(s, "# TYPE ", 7);
	const char *name = s + 7, *rest;
	size_t n;
	int f;

	if (!help && !type)
		return 0;		/* an ordinary comment */
	n = scan_name(name, true);
	if (!n || (name[n] != ' ' && name[n] != 0))
		return fail(p, "bad metric name in HELP/TYPE", s);
	f = find_family(p, name, n, true);
	if (f < 0)
		return fail(p, "too many families", s);
	group(p, f);
	if (p->fam[f].sampled)
		return fail(p, "HELP/TYPE after the family's samples", s);
	rest = name[n] ? name + n + 1 : name + n;
	if (help) {
		if (p->fam[f].help)
			return fail(p, "second HELP", s);
		p->fam[f].help = true;
		return 0;
	}
	if (p->fam[f].typed)
		return fail(p, "second TYPE", s);
	if (strcmp(rest, "counter") && strcmp(rest, "gauge") &&
	    strcmp(rest, "histogram") && strcmp(rest, "summary") &&
	    strcmp(rest, "untyped"))
		return fail(p, "unknown type", s);
	p->fam[f].typed = true;
	snprintf(p->fam[f].type, sizeof(p->fam[f].type), "%s", rest);
	return 0;
}

/* {a="x",b="y"} at *s: advance past it; the labels other than le go to
 * series, le's value to le (NULL if none). */
static const char *labels(struct prom *p, const char *s, char *series,
			  size_t cap, char *le, size_t lecap)
{
	series[0] = le[0] = 0;
	if (*s != '{')
		return s;
	s++;
	while (*s != '}') {
		size_t n = scan_name(s, false), v = 0;
		char val[256];
		bool is_le = n == 2 && !strncmp(s, "le", 2);

		if (!n || s[n] != '=' || s[n + 1] != '"')
			return fail(p, "bad label", s), NULL;
		if (!is_le)
			append(series, cap, s, n + 1);
		s += n + 2;
		while (*s != '"') {
			if (!*s || *s == '\n')
				return fail(p, "unterminated label value", s), NULL;
			if (*s == '\\') {
				if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
					return fail(p, "bad escape in label value", s), NULL;
				s++;
			}
			if (v < sizeof(val) - 1)
				val[v++] = *s;
			s++;
		}
		val[v] = 0;
		s++;
		if (is_le) {
			le[0] = 0;
			append(le, lecap, val, v);
		} else {
			append(series, cap, val, v);
			append(series, cap, ",", 1);
		}
		if (*s == ',')
			s++;
		else if (*s != '}')
			return fail(p, "expected ',' or '}'", s), NULL;
	}
	return s + 1;
}

static bool parse_float(const char *s, double *v)
{
	char *end;

	if (!strcmp(s, "+Inf")) {
		*v = INFINITY;
		return true;
	}
	if (!strcmp(s, "-Inf")) {
		*v = -INFINITY;
		return true;
	}
	if (!strcmp(s, "NaN")) {
		*v = NAN;
		return true;
	}
	*v = strtod(s, &end);
	return *s && !*end && !isspace((unsigned char)*s);
}

/* Family of a sample: itself, or histogram/summary base of a suffix. */
static int sample_family(struct prom *p, const char *name, size_t n,
			 const char **suffix)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	int f;

	*suffix = "";
	for (size_t i = 0; i < 3; i++) {
		size_t k = strlen(sfx[i]);

		if (n <= k || memcmp(name + n - k, sfx[i], k))
			continue;
		f = find_family(p, name, n - k, false);
		if (f >= 0 && (!strcmp(p->fam[f].type, "histogram") ||
			       (i > 0 && !strcmp(p->fam[f].type, "summary")))) {
			*suffix = sfx[i];
			return f;
		}
	}
	return find_family(p, name, n, false);
}

static int histogram(struct prom *p, struct family *fm, const char *suffix,
		     const char *series, const char *le, double v)
{
	double bound;

	if (strcmp(fm->series, series)) {
		snprintf(fm->series, sizeof(fm->series), "%s", series);
		fm->have_bucket = fm->have_inf = false;
	}
	if (!strcmp(suffix, "_bucket")) {
		if (!le[0] || !parse_float(le, &bound))
			return fail(p, "bucket without a numeric le", fm->name);
		if (fm->have_bucket && (bound <= fm->last_le || v < fm->last_count))
			return fail(p, "buckets not increasing or not cumulative",
				    fm->name);
		fm->have_bucket = true;
		fm->last_le = bound;
		fm->last_count = v;
		if (isinf(bound)) {
			fm->have_inf = true;
			fm->inf_count = v;
		}
	} else if (!strcmp(suffix, "_count")) {
		if (!fm->have_inf)
			return fail(p, "histogram without a +Inf bucket", fm->name);
		if (v != fm->inf_count)
			return fail(p, "_count differs from the +Inf bucket", fm->name);
	}
	return 0;
}

static int sample(struct prom *p, const char *s)
{
	size_t n = scan_name(s, true);
	char series[256], le[64], val[64], *sp;
	const char *rest, *suffix;
	double v;
	int f;

	if (!n)
		return fail(p, "bad metric name", s);
	f = sample_family(p, s, n, &suffix);
	if (f < 0 || !p->fam[f].typed)
		return fail(p, "sample without a TYPE before it", s);
	group(p, f);
	p->fam[f].sampled = true;
	rest = labels(p, s + n, series, sizeof(series), le, sizeof(le));
	if (!rest)
		return -1;
	if (*rest != ' ' && *rest != '\t')
		return fail(p, "no space before the value", s);
	while (*rest == ' ' || *rest == '\t')
		rest++;
	snprintf(val, sizeof(val), "%s", rest);
	sp = strpbrk(val, " \t");
	if (sp) {
		char *end;

		*sp = 0;
		strtoll(sp + 1, &end, 10);
		if (*end || end == sp + 1)
			return fail(p, "bad timestamp", s);
	}
	if (!parse_float(val, &v))
		return fail(p, "bad value", s);
	if (!strcmp(p->fam[f].type, "histogram"))
		return histogram(p, &p->fam[f], suffix, series, le, v);
	return 0;
}

int prom_check(const char *text, char *err, size_t errlen)
{
	struct prom *p = calloc(1, sizeof(*p));
	const char *s = text;
	char line[4096];
	int rc = 0;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->err = err;
	p->errlen = errlen;
	p->cur = -1;
	while (*s && rc == 0) {
		size_t n = strcspn(s, "\n");

		p->line++;
		if (!s[n]) {
			rc = fail(p, "the last line has no newline", s);
			break;
		}
		if (n >= sizeof(line)) {
			rc = fail(p, "line too long", s);
			break;
		}
		memcpy(line, s, n);
		line[n] = 0;
		s += n + 1;
		if (!n)
			continue;
		rc = line[0] == '#' ? comment(p, line) : sample(p, line);
	}
	if (rc == 0 && p->ungrouped) {
		snprintf(err, errlen, "%s", p->ungrouped_msg);
		rc = -2;
	}
	free(p);
	return rc;
}
