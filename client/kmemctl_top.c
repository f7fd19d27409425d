/*
 * kmemctl_top.c - a refreshing view of the daemon, like slabtop.
 *
 * Each frame is one stats document: the pools, the slab caches by size
 * (the slabtop columns), the sessions, and the request rate from the
 * difference of the request counters between two frames.  On a terminal
 * the screen is redrawn every --interval seconds; stdin is in
 * non-canonical mode and polled with the signals (through a signalfd, so
 * a Ctrl-C restores the terminal like q does).  With stdout not a
 * terminal, one frame is printed and top exits, so it can be logged.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "kmemctl.h"

#define TOP_ROWS 12	/* caches and sessions shown on a terminal */

struct top {
	struct ctl *x;
	double interval;		/* seconds */
	bool tty_out, tty_in, raw;
	struct termios saved;
	int sigfd;
	bool have_prev;
	double prev_t;
	uint64_t prev[4];		/* requests, allocs, frees, errors */
};

/* ------------------------------------------------------------ counters */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void counters(const json_t *doc, uint64_t v[4])
{
	const json_t *r = json_object_get(doc, "requests");

	v[0] = requests_total(doc);
	v[1] = jget_u64(r, "alloc") + jget_u64(r, "alloc_batch") +
	       jget_u64(r, "cache_alloc");
	v[2] = jget_u64(r, "free") + jget_u64(r, "free_batch") +
	       jget_u64(r, "cache_free");
	v[3] = errors_total(doc);
}

/*
 * Rates since the previous frame; the first frame has none and shows the
 * average since the daemon started.  Our own Stats request (one a frame)
 * is left out of the total.
 */
static void rate_line(struct top *t, const json_t *doc)
{
	uint64_t v[4], up = jget_u64(json_object_get(doc, "daemon"), "uptime_s");
	double now = now_s(), dt, r[4];
	const char *how;

	counters(doc, v);
	if (t->have_prev && now > t->prev_t) {
		dt = now - t->prev_t;
		for (int i = 0; i < 4; i++)
			r[i] = (double)(v[i] - t->prev[i]) / dt;
		if (v[0] > t->prev[0])
			r[0] -= 1.0 / dt;
		how = "";
	} else {
		for (int i = 0; i < 4; i++)
			r[i] = up ? (double)v[i] / (double)up : NAN;
		how = "  (average since start)";
	}
	memcpy(t->prev, v, sizeof(t->prev));
	t->prev_t = now;
	t->have_prev = true;
	if (isnan(r[0]))
		printf("requests -/s  alloc -/s  free -/s  errors -/s%s\n", how);
	else
		printf("requests %.1f/s  alloc %.1f/s  free %.1f/s  errors %.1f/s%s\n",
		       r[0], r[1], r[2], r[3], how);
}

/* ------------------------------------------------------------ caches */

struct cache_row {
	const json_t *c;
	uint64_t bytes;		/* slabs * pages per slab * page size */
};

static int by_size(const void *a, const void *b)
{
	const struct cache_row *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(jget_str(x->c, "name"), jget_str(y->c, "name"));
}

static uint64_t page_size_of(const json_t *doc, const char *pool)
{
	size_t i;
	json_t *p;

	json_array_foreach(jget_arr(doc, "pools"), i, p)
		if (!strcmp(jget_str(p, "name"), pool))
			return jget_u64(p, "page_size");
	return 0;
}

static void cache_cells(struct table *t, const struct cache_row *r)
{
	uint64_t n = jget_u64(r->c, "num_objs"), a = jget_u64(r->c, "active_objs");
	char b[2][KMEMCTL_SIZE_MAX];

	table_add(t, "%" PRIu64, n);
	table_add(t, "%" PRIu64, a);
	table_add(t, "%" PRIu64 "%%", n ? a * 100 / n : 0);
	table_add(t, "%s", hsize(jget_u64(r->c, "objsize"), b[0]));
	table_add(t, "%" PRIu64, jget_u64(r->c, "num_slabs"));
	table_add(t, "%" PRIu64, jget_u64(r->c, "objperslab"));
	table_add(t, "%s", hsize(r->bytes, b[1]));
	table_add(t, "%s", jget_str(r->c, "name"));
	table_add(t, "%s", jget_str(r->c, "pool"));
}

/* The caches holding slabs, and every named cache, biggest first. */
static void show_caches(const struct top *t, const json_t *doc)
{
	static const struct table_col cols[] = {
		{ "OBJS", true }, { "ACTIVE", true }, { "USE", true },
		{ "OBJ SIZE", true }, { "SLABS", true }, { "OBJ/SLAB", true },
		{ "CACHE SIZE", true }, { "NAME", false }, { "POOL", false },
	};
	json_t *caches = jget_arr(doc, "caches"), *c;
	struct cache_row *rows = calloc(json_array_size(caches) + 1, sizeof(*rows));
	size_t i, n = 0, shown;
	struct table tab;

	if (!rows)
		return;
	json_array_foreach(caches, i, c) {
		if (!jget_u64(c, "num_objs") && !strncmp(jget_str(c, "name"), "kmalloc-", 8))
			continue;
		rows[n].c = c;
		rows[n++].bytes = jget_u64(c, "num_slabs") * jget_u64(c, "pagesperslab") *
				  page_size_of(doc, jget_str(c, "pool"));
	}
	qsort(rows, n, sizeof(*rows), by_size);
	shown = t->tty_out && n > TOP_ROWS ? TOP_ROWS : n;
	table_init(&tab, cols, 9);
	for (i = 0; i < shown; i++)
		cache_cells(&tab, &rows[i]);
	table_print(&tab, stdout);
	table_fini(&tab);
	if (n == 0)
		puts("(no slab holds objects yet)");
	else if (shown < n)
		printf("(%zu more)\n", n - shown);
	free(rows);
}

/* ------------------------------------------------------------ frame */

static void header(const struct top *t, const json_t *doc)
{
	const json_t *d = json_object_get(doc, "daemon");
	char up[48];

	format_uptime(jget_u64(d, "uptime_s"), up, sizeof(up));
	printf("kmemd %s  pid %" PRIu64 "  up %s  sessions %" PRIu64 "  leases %"
	       PRIu64 "  named %zu", jget_str(d, "version"), jget_u64(d, "pid"),
	       up, jget_u64(d, "sessions"), jget_u64(d, "leases"),
	       json_array_size(jget_arr(doc, "named")));
	if (t->tty_out)
		printf("  (every %gs; q quits)", t->interval);
	putchar('\n');
}

static void show_sessions_top(const struct top *t, json_t *sessions)
{
	size_t n = json_array_size(sessions);
	json_t *some;

	if (!t->tty_out || n <= TOP_ROWS) {
		show_sessions(sessions, stdout);
		return;
	}
	some = json_array();
	for (size_t i = 0; i < TOP_ROWS; i++)
		json_array_append(some, json_array_get(sessions, i));
	show_sessions(some, stdout);
	json_decref(some);
	printf("(%zu more)\n", n - TOP_ROWS);
}

static int frame(struct top *t)
{
	json_t *doc;
	int rc = ctl_stats(t->x, &doc);

	if (rc)
		return rc;
	if (t->tty_out)
		fputs("\033[H\033[2J", stdout);
	header(t, doc);
	rate_line(t, doc);
	putchar('\n');
	show_pools_brief(doc, stdout);
	putchar('\n');
	show_caches(t, doc);
	putchar('\n');
	show_sessions_top(t, jget_arr(doc, "sessions"));
	fflush(stdout);
	json_decref(doc);
	return KMEMCTL_OK;
}

/* ------------------------------------------------------------ terminal */

static int term_enter(struct top *t)
{
	sigset_t set;
	struct termios raw;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	t->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (t->sigfd < 0)
		return ctl_err(t->x, "signalfd: %s", strerror(errno));
	if (t->tty_in && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		raw = t->saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		t->raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	/* No alternate screen: the last frame, and any error after it, stay. */
	fputs("\033[?25l", stdout);
	return KMEMCTL_OK;
}

static void term_leave(struct top *t)
{
	fputs("\033[?25h", stdout);
	fflush(stdout);
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	if (t->sigfd >= 0)
		close(t->sigfd);
}

/* Wait out the interval: 1 to quit (q or a signal), 0 to refresh. */
static int wait_input(struct top *t)
{
	struct pollfd p[2] = {
		{ .fd = t->sigfd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	double end = now_s() + t->interval;
	nfds_t n = t->tty_in ? 2 : 1;
	char ch;

	for (;;) {
		int ms = (int)((end - now_s()) * 1000.0);

		if (ms <= 0)
			return 0;
		if (poll(p, n, ms) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents)
			return 1;
		if (n == 2 && (p[1].revents & POLLIN)) {
			if (read(STDIN_FILENO, &ch, 1) != 1)
				n = 1;
			else if (ch == 'q' || ch == 'Q')
				return 1;
			else if (ch == ' ')
				return 0;
		} else if (n == 2 && p[1].revents) {
			n = 1;	/* stdin hung up: only the signals now */
		}
	}
}

/* ------------------------------------------------------------ command */

static int top_opt(struct ctl *x, int o, const char *arg, void *st)
{
	double *iv = st;
	char *end;

	(void)o;
	errno = 0;
	*iv = strtod(arg, &end);
	if (errno || end == arg || *end || !(*iv >= 0.1 && *iv <= 3600))
		return ctl_usage(x, "--interval: '%s' is not a number of seconds "
				 "from 0.1 to 3600", arg);
	return KMEMCTL_GO;
}

int cmd_top(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct top t = { .x = x, .interval = 1.0, .sigfd = -1 };
	int rc = ctl_parse(x, argc, argv, "d:", opts, top_opt, &t.interval);

	if (rc != KMEMCTL_GO)
		return rc;
	rc = ctl_connect(x);
	if (rc)
		return rc;
	t.tty_out = isatty(STDOUT_FILENO);
	t.tty_in = isatty(STDIN_FILENO);
	if (!t.tty_out)
		return frame(&t);
	rc = term_enter(&t);
	while (rc == KMEMCTL_OK) {
		rc = frame(&t);
		if (rc == KMEMCTL_OK && wait_input(&t))
			break;
	}
	term_leave(&t);
	return rc;
}
