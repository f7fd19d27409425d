/*
 * test_http.c - the HTTP stats endpoint of the real kmemd ($KMEMD_BIN).
 *
 * One daemon for the group: a 16 MiB pool of 4 KiB pages, the stats
 * socket in a temporary directory (over a stale socket left there, which
 * it must replace), a loopback TCP port picked free just before, and a
 * 1 s HTTP timeout (idle: 3 s) so the timeout tests stay short.  Every
 * response is read back with http-parser, so each is also checked to be
 * well-formed HTTP/1.1.  Without $KMEMD_BIN every test is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "kmem/client.h"
#include "httpc.h"

#define TIMEOUT_MS 1000		/* --stats-timeout of the group's daemon */

static struct {
	char dir[64];
	char sock[100], stats[100];
	int port;
	struct tdaemon d;
	bool up;
} g;

#define REQUIRE_DAEMON() do { if (!g.up) skip(); } while (0)

/* ------------------------------------------------------------ helpers */

/* A socket file nobody answers on: what a killed daemon leaves. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Send raw bytes on a new connection and read one response. */
static int raw_request(const char *bytes, size_t len, struct hresp *r,
		       bool *closed)
{
	struct hconn h;
	int fd = unix_connect(g.stats), rc;

	if (fd < 0)
		return -1;
	hconn_init(&h, fd);
	send_all(fd, bytes, len);	/* the daemon may stop reading early */
	rc = hconn_read(&h, r, false, 5000);
	*closed = rc == 0 && wait_closed(fd, 3000);
	hconn_fini(&h);
	return rc;
}

static void expect_error(const char *req, int status)
{
	struct hresp r;
	bool closed;

	assert_int_equal(raw_request(req, strlen(req), &r, &closed), 0);
	assert_int_equal(r.status, status);
	assert_string_equal(r.connection, "close");
	assert_true(closed);
	hresp_free(&r);
}

/* Allocate and free n buffers through libkmem; the elapsed ms. */
static uint64_t alloc_round(int n)
{
	struct kmem_client *c;
	struct kmem_buf b;
	char msg[KMEM_MSG_MAX];
	uint64_t t0 = mono_ms();

	assert_int_equal(kmem_client_connect(g.sock, "test_http", &c, msg,
					     sizeof(msg)), 0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(kmem_client_alloc(c, 4096, NULL, &b), 0);
		assert_int_equal(b.len, 4096);
		((volatile char *)b.ptr)[0] = 1;
		assert_int_equal(kmem_client_free(c, &b), 0);
	}
	kmem_client_disconnect(c);
	return mono_ms() - t0;
}

static bool have_command(const char *cmd)
{
	char line[128];

	snprintf(line, sizeof(line), "command -v %s >/dev/null 2>&1", cmd);
	return system(line) == 0;
}

/* Run a shell command; its stdout (malloc'd) and exit status. */
static char *run_cmd(const char *cmd, int *status)
{
	FILE *f = popen(cmd, "r");
	char *out = NULL;
	size_t len = 0, cap = 0, n;
	char buf[4096];

	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + len, buf, n);
		len += n;
	}
	if (!out)
		out = calloc(1, 1);
	out[len] = 0;
	*status = pclose(f);
	return out;
}

/* The Stats document's shape, as the daemon issue defines it. */
static void check_stats_doc(const char *text)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr), *pool;

	if (!doc)
		fail_msg("not JSON: %s (line %d)", jerr.text, jerr.line);
	assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
	assert_true(json_is_object(json_object_get(doc, "daemon")));
	assert_true(json_is_array(json_object_get(doc, "pools")));
	assert_int_equal(json_array_size(json_object_get(doc, "pools")), 1);
	pool = json_array_get(json_object_get(doc, "pools"), 0);
	assert_string_equal(json_string_value(json_object_get(pool, "name")), "p");
	assert_int_equal(json_integer_value(json_object_get(pool, "bytes_total")),
			 16777216);
	assert_int_equal(json_integer_value(json_object_get(pool, "page_size")), 4096);
	assert_true(json_is_array(json_object_get(doc, "caches")));
	assert_true(json_is_array(json_object_get(doc, "sessions")));
	assert_true(json_is_object(json_object_get(doc, "requests")));
	assert_true(json_is_object(json_object_get(doc, "latency")));
	json_decref(doc);
}

/* ------------------------------------------------------------ fixture */

static int group_setup(void **state)
{
	char port[16], timeout[16];
	const char *args[] = {
		"--config", "none", "--socket", g.sock, "--stats-socket", g.stats,
		"--pool", "name=p,size=16M,page=4K,nohuge", "--stats-port", port,
		"--stats-timeout", timeout, "--log-level", "debug", NULL,
	};

	(void)state;
	if (!getenv("KMEMD_BIN")) {
		printf("test_http: KMEMD_BIN is not set; skipping (make test-run "
		       "sets it)\n");
		return 0;
	}
	snprintf(g.dir, sizeof(g.dir), "/tmp/kmemd-http-XXXXXX");
	if (!mkdtemp(g.dir))
		return -1;
	snprintf(g.sock, sizeof(g.sock), "%s/kmemd.sock", g.dir);
	snprintf(g.stats, sizeof(g.stats), "%s/stats.sock", g.dir);
	make_stale_socket(g.stats);
	g.port = free_tcp_port();
	snprintf(port, sizeof(port), "%d", g.port);
	snprintf(timeout, sizeof(timeout), "%d", TIMEOUT_MS);
	if (g.port <= 0 || td_start(&g.d, g.dir, "kmemd", g.stats, args)) {
		td_dump_log(&g.d);
		return -1;
	}
	g.up = true;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (g.d.pid)
		td_stop(&g.d);
	if (g.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
		if (system(cmd))
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ documents */

static void test_http_stats_is_the_stats_document(void **state)
{
	struct hresp r;

	(void)state;
	REQUIRE_DAEMON();
	assert_int_equal(http_get(g.stats, "GET", "/stats", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "application/json");
	assert_int_equal(r.content_length, (long)r.len);
	assert_true(r.keep_alive);
	check_stats_doc(r.body);
	hresp_free(&r);
	/* A query string does not change the route. */
	assert_int_equal(http_get(g.stats, "GET", "/stats?pretty=1", &r), 0);
	assert_int_equal(r.status, 200);
	hresp_free(&r);
}

static void test_http_prometheus_checker(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(prom_check("# HELP a_total A.\n# TYPE a_total counter\n"
				    "a_total{x=\"1\",y=\"q\\\"\"} 3\n", err, 256), 0);
	assert_int_equal(prom_check("a 1\n", err, 256), -1);	/* no TYPE */
	assert_int_equal(prom_check("# TYPE a gauge\na{x=1} 1\n", err, 256), -1);
	assert_int_equal(prom_check("# TYPE a gauge\na one\n", err, 256), -1);
	assert_int_equal(prom_check("# TYPE a gauge\na 1\n# HELP a A.\n", err, 256), -1);
	assert_int_equal(prom_check("# TYPE a gauge\n# TYPE a gauge\n", err, 256), -1);
	assert_int_equal(prom_check("# TYPE a gauge\na 1", err, 256), -1);
	assert_int_equal(prom_check("# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
				    "h_bucket{le=\"+Inf\"} 1\n", err, 256), -1);
	assert_int_equal(prom_check("# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
				    "h_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n",
				    err, 256), 0);
	assert_int_equal(prom_check("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\n"
				    "h_count 3\n", err, 256), -1);
	assert_int_equal(prom_check("# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\n",
				    err, 256), -2);
	assert_string_equal(err, "line 3: a is not one group (its lines are "
			    "interleaved with another family's)");
}

static void test_http_metrics_parse_as_prometheus(void **state)
{
	struct hresp r;
	char err[256], cmd[512], *out;
	int rc, status;

	(void)state;
	REQUIRE_DAEMON();
	assert_int_equal(http_get(g.stats, "GET", "/metrics", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "\nkmemd_pool_size_bytes{pool=\"p\"} 16777216\n"));
	assert_non_null(strstr(r.body, "# TYPE kmemd_request_duration_seconds histogram\n"));
	rc = prom_check(r.body, err, sizeof(err));
	if (rc == -1)
		fail_msg("/metrics is not Prometheus text: %s", err);
	if (rc == -2)
		fail_msg("/metrics groups a family's lines badly: %s", err);
	if (have_command("promtool")) {
		snprintf(cmd, sizeof(cmd), "curl -sS --unix-socket %s "
			 "http://localhost/metrics | promtool check metrics 2>&1",
			 g.stats);
		out = run_cmd(cmd, &status);
		if (status)
			fail_msg("promtool check metrics: %s", out);
		free(out);
	} else {
		printf("test_http: promtool not installed (Debian's prometheus "
		       "package); promtool check metrics skipped\n");
	}
	hresp_free(&r);
}

static void test_http_healthz_and_head(void **state)
{
	struct hresp r;
	struct hconn h;

	(void)state;
	REQUIRE_DAEMON();
	assert_int_equal(http_get(g.stats, "GET", "/healthz", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	assert_string_equal(r.type, "text/plain; charset=utf-8");
	hresp_free(&r);
	/* HEAD: the GET's headers, no body; the next response on the same
	 * connection starts right after them. */
	hconn_init(&h, unix_connect(g.stats));
	assert_int_equal(send_str(h.fd, "HEAD /stats HTTP/1.1\r\nHost: x\r\n\r\n"
				  "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	assert_int_equal(hconn_read(&h, &r, true, 5000), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "application/json");
	assert_true(r.content_length > 100);
	assert_int_equal(r.len, 0);
	hresp_free(&r);
	assert_int_equal(hconn_read(&h, &r, false, 5000), 0);
	assert_string_equal(r.body, "ok\n");
	hresp_free(&r);
	hconn_fini(&h);
}

/* ------------------------------------------------------------ errors */

static void test_http_errors(void **state)
{
	static char big[24 << 10], url[2200];
	struct hresp r;
	bool closed;

	(void)state;
	REQUIRE_DAEMON();
	expect_error("\x01\x02 garbage\r\n\r\n", 400);
	expect_error("GET /stats HTTP/1.1\r\nBad Header\r\n\r\n", 400);
	expect_error("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404);
	expect_error("DELETE /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404);
	expect_error("POST /stats HTTP/1.1\r\nHost: x\r\n\r\n", 405);
	expect_error("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405);
	assert_int_equal(raw_request("PUT /healthz HTTP/1.1\r\n\r\n", 25, &r,
				     &closed), 0);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	hresp_free(&r);
	/* Bodies are refused, not read. */
	expect_error("POST /stats HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 405);
	expect_error("GET /stats HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 413);
	expect_error("POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n0\r\n\r\n", 405);
	/* 20 KiB of one header: 431.  6 KiB is within the 8 KiB bound. */
	snprintf(big, sizeof(big), "GET /stats HTTP/1.1\r\nX-Big: %0*d\r\n\r\n",
		 20 << 10, 0);
	expect_error(big, 431);
	snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nConnection: close\r\n"
		 "X-Big: %0*d\r\n\r\n", 6 << 10, 0);
	assert_int_equal(raw_request(big, strlen(big), &r, &closed), 0);
	assert_int_equal(r.status, 200);
	hresp_free(&r);
	snprintf(url, sizeof(url), "GET /stats?%0*d HTTP/1.1\r\n\r\n", 2000, 0);
	expect_error(url, 414);
}

/* ------------------------------------------------------------ keep-alive */

static void test_http_keepalive_and_pipelining(void **state)
{
	static const char *const types[] = {
		"text/plain; charset=utf-8", "text/plain; version=0.0.4; charset=utf-8",
		"application/json", "application/json",
	};
	struct hresp r;
	struct hconn h;

	(void)state;
	REQUIRE_DAEMON();
	/* Two requests, one after the other, on one connection. */
	hconn_init(&h, unix_connect(g.stats));
	assert_int_equal(send_str(h.fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	assert_int_equal(hconn_read(&h, &r, false, 5000), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.connection, "");
	hresp_free(&r);
	assert_int_equal(send_str(h.fd, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	assert_int_equal(hconn_read(&h, &r, false, 5000), 0);
	check_stats_doc(r.body);
	hresp_free(&r);
	/* Four in one write, answered in order; the last asks to close. */
	assert_int_equal(send_str(h.fd,
		"GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n"
		"HEAD /stats HTTP/1.1\r\n\r\n"
		"GET /stats HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(hconn_read(&h, &r, i == 2, 5000), 0);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.type, types[i]);
		assert_string_equal(r.connection, i == 3 ? "close" : "");
		if (i == 3)
			check_stats_doc(r.body);
		hresp_free(&r);
	}
	assert_true(wait_closed(h.fd, 3000));
	hconn_fini(&h);

	/* HTTP/1.0: closed unless it asks for keep-alive. */
	hconn_init(&h, unix_connect(g.stats));
	assert_int_equal(send_str(h.fd, "GET /healthz HTTP/1.0\r\n"
				  "Connection: keep-alive\r\n\r\n"), 0);
	assert_int_equal(hconn_read(&h, &r, false, 5000), 0);
	assert_string_equal(r.connection, "keep-alive");
	hresp_free(&r);
	assert_int_equal(send_str(h.fd, "GET /healthz HTTP/1.0\r\n\r\n"), 0);
	assert_int_equal(hconn_read(&h, &r, false, 5000), 0);
	assert_string_equal(r.connection, "close");
	hresp_free(&r);
	assert_true(wait_closed(h.fd, 3000));
	hconn_fini(&h);
}

/* ------------------------------------------------------------ slow clients */

static void test_http_stalled_client_does_not_block_allocations(void **state)
{
	struct hresp r;
	struct hconn h;
	uint64_t ms, t0;

	(void)state;
	REQUIRE_DAEMON();
	hconn_init(&h, unix_connect(g.stats));
	t0 = mono_ms();
	assert_int_equal(send_str(h.fd, "GET /stats HTTP/1.1\r\nHost: x\r\n"), 0);
	/* While it stalls: allocations, and other scrapers, go on. */
	ms = alloc_round(200);
	printf("test_http: 200 alloc/free pairs beside a stalled scraper: %llu ms\n",
	       (unsigned long long)ms);
	assert_true(ms < 2000);
	assert_int_equal(http_get(g.stats, "GET", "/healthz", &r), 0);
	assert_int_equal(r.status, 200);
	hresp_free(&r);
	/* Then the header timeout answers it 408 and closes. */
	assert_int_equal(hconn_read(&h, &r, false, TIMEOUT_MS + 3000), 0);
	assert_int_equal(r.status, 408);
	assert_true(mono_ms() - t0 >= TIMEOUT_MS - 50);
	hresp_free(&r);
	assert_true(wait_closed(h.fd, 3000));
	hconn_fini(&h);
}

static void test_http_unread_responses_are_bounded(void **state)
{
	static const char req[] = "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n";
	static char batch[128 * (sizeof(req) - 1)];
	size_t sent = 0, got = 0, bytes = 0;
	uint64_t ms, end;
	char buf[65536];
	struct hresp r;
	ssize_t n;
	int fd;

	(void)state;
	REQUIRE_DAEMON();
	for (size_t i = 0; i < 128; i++)
		memcpy(batch + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	fd = unix_connect(g.stats);
	assert_true(fd >= 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* Ask for far more than any buffer holds (each response is some
	 * 7 KiB), and read nothing. */
	while (bytes < 100 * sizeof(batch) &&
	       (n = send(fd, batch, sizeof(batch), MSG_NOSIGNAL)) > 0)
		bytes += (size_t)n;
	sent = bytes / (sizeof(req) - 1);
	usleep(100000);
	ms = alloc_round(200);
	assert_true(ms < 2000);
	assert_int_equal(http_get(g.stats, "GET", "/healthz", &r), 0);
	assert_int_equal(r.status, 200);
	hresp_free(&r);
	/* After the write timeout the daemon has dropped it: what is in the
	 * socket can still be read, then it ends - long before all sent
	 * requests are answered. */
	usleep((TIMEOUT_MS + 500) * 1000);
	end = mono_ms() + 5000;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0 && errno == EAGAIN) {
			assert_true(mono_ms() < end);
			usleep(10000);
			continue;
		}
		assert_true(n > 0);
		for (ssize_t i = 0; i + 8 < n; i++)
			got += !memcmp(buf + i, "HTTP/1.1", 8);
	}
	printf("test_http: %zu requests sent unread, %zu responses before the "
	       "daemon gave up\n", sent, got);
	assert_true(sent > 1000);
	assert_true(got < sent);
	close(fd);
}

static void test_http_idle_connection_closes(void **state)
{
	struct hresp r;
	struct hconn h;
	uint64_t t0;

	(void)state;
	REQUIRE_DAEMON();
	hconn_init(&h, unix_connect(g.stats));
	assert_int_equal(send_str(h.fd, "GET /healthz HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(hconn_read(&h, &r, false, 5000), 0);
	hresp_free(&r);
	t0 = mono_ms();
	assert_true(wait_closed(h.fd, 3 * TIMEOUT_MS + 3000));
	assert_true(mono_ms() - t0 >= 3 * TIMEOUT_MS - 100);
	hconn_fini(&h);
}

/* ------------------------------------------------------------ limits */

/* A request on a new connection: its status (503 when over the cap). */
static int status_on_new_conn(int *fd_out)
{
	struct hresp r;
	struct hconn h;
	int fd = unix_connect(g.stats), st = -1;

	if (fd < 0)
		return -1;
	hconn_init(&h, fd);
	if (send_str(fd, "GET /healthz HTTP/1.1\r\n\r\n") == 0 &&
	    hconn_read(&h, &r, false, 5000) == 0)
		st = r.status;
	hresp_free(&r);
	free(h.pending);
	*fd_out = fd;
	return st;
}

static void test_http_connection_cap(void **state)
{
	int fds[64], extra, st;

	(void)state;
	REQUIRE_DAEMON();
	/* Connections of earlier tests may take a moment to be reaped. */
	for (int i = 0; i < 64; i++) {
		for (int tries = 0; (st = status_on_new_conn(&fds[i])) == 503 &&
		     tries < 100; tries++) {
			close(fds[i]);
			usleep(20000);
		}
		assert_int_equal(st, 200);
	}
	assert_int_equal(status_on_new_conn(&extra), 503);
	assert_true(wait_closed(extra, 3000));
	close(extra);
	close(fds[0]);
	for (int tries = 0; (st = status_on_new_conn(&fds[0])) == 503 &&
	     tries < 100; tries++) {
		close(fds[0]);
		usleep(20000);
	}
	assert_int_equal(st, 200);
	for (int i = 0; i < 64; i++)
		close(fds[i]);
}

/* ------------------------------------------------------------ tcp, curl */

static void test_http_tcp_on_loopback_only(void **state)
{
	struct ifaddrs *ifa, *i;
	struct hresp r;
	struct hconn h;
	char addr[INET_ADDRSTRLEN] = "";
	int fd;

	(void)state;
	REQUIRE_DAEMON();
	fd = tcp_connect("127.0.0.1", g.port);
	assert_true(fd >= 0);
	hconn_init(&h, fd);
	assert_int_equal(send_str(fd, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	assert_int_equal(hconn_read(&h, &r, false, 5000), 0);
	check_stats_doc(r.body);
	hresp_free(&r);
	hconn_fini(&h);
	/* Not reachable on any other address of this machine. */
	assert_int_equal(getifaddrs(&ifa), 0);
	for (i = ifa; i && !addr[0]; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr) >> 24 != 127)
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				  addr, sizeof(addr));
	freeifaddrs(ifa);
	if (!addr[0]) {
		printf("test_http: no non-loopback IPv4 address; that check skipped\n");
		return;
	}
	fd = tcp_connect(addr, g.port);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, ECONNREFUSED);
}

static void test_http_curl(void **state)
{
	char cmd[512], *out;
	int status;

	(void)state;
	REQUIRE_DAEMON();
	if (!have_command("curl")) {
		printf("test_http: curl not installed; skipped\n");
		skip();
	}
	snprintf(cmd, sizeof(cmd), "curl -sS --max-time 5 --unix-socket %s "
		 "http://localhost/stats", g.stats);
	out = run_cmd(cmd, &status);
	assert_int_equal(status, 0);
	check_stats_doc(out);
	free(out);
	snprintf(cmd, sizeof(cmd), "curl -sS --max-time 5 -o /dev/null -w "
		 "'%%{http_code}' --unix-socket %s http://localhost/nope", g.stats);
	out = run_cmd(cmd, &status);
	assert_string_equal(out, "404");
	free(out);
	snprintf(cmd, sizeof(cmd), "curl -sS --max-time 5 http://127.0.0.1:%d/healthz",
		 g.port);
	out = run_cmd(cmd, &status);
	assert_int_equal(status, 0);
	assert_string_equal(out, "ok\n");
	free(out);
	if (have_command("jq")) {
		snprintf(cmd, sizeof(cmd), "curl -sS --max-time 5 --unix-socket %s "
			 "http://localhost/stats | jq -r '.pools[0].name'", g.stats);
		out = run_cmd(cmd, &status);
		assert_int_equal(status, 0);
		assert_string_equal(out, "p\n");
		free(out);
	}
}

/* ------------------------------------------------------------ sockets */

static void test_http_live_socket_is_not_stolen(void **state)
{
	char sock2[100], none[100];
	struct tdaemon d2 = { 0 };
	const char *args[] = {
		"--config", "none", "--socket", sock2, "--stats-socket", g.stats,
		"--pool", "name=q,size=4M,page=4K,nohuge", NULL,
	};
	const char *args_none[] = {
		"--config", "none", "--socket", sock2, "--stats-socket", "none",
		"--pool", "name=q,size=4M,page=4K,nohuge", NULL,
	};
	struct hresp r;
	int status;

	(void)state;
	REQUIRE_DAEMON();
	snprintf(sock2, sizeof(sock2), "%s/second.sock", g.dir);
	snprintf(none, sizeof(none), "%s/none", g.dir);
	/* The allocation socket comes up first, then the stats socket is
	 * found live: it exits 1 and leaves the first daemon alone. */
	assert_int_equal(td_start(&d2, g.dir, "second", NULL, args), 0);
	status = td_wait(&d2, 10000);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		td_dump_log(&d2);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_false(exists(sock2));
	assert_int_equal(http_get(g.stats, "GET", "/healthz", &r), 0);
	assert_int_equal(r.status, 200);
	hresp_free(&r);
	/* --stats-socket none: no stats socket (and no file named "none"). */
	assert_int_equal(td_start(&d2, g.dir, "third", sock2, args_none), 0);
	assert_false(exists(none));
	status = td_stop(&d2);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_http_shutdown_closes_and_removes(void **state)
{
	struct hconn h;
	int status;

	(void)state;
	REQUIRE_DAEMON();
	hconn_init(&h, unix_connect(g.stats));
	assert_int_equal(send_str(h.fd, "GET /stats HTTP/1.1\r\nHost: x\r\n"), 0);
	status = td_stop(&g.d);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		td_dump_log(&g.d);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(wait_closed(h.fd, 1000));
	hconn_fini(&h);
	assert_false(exists(g.stats));
	assert_false(exists(g.sock));
	g.up = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_prometheus_checker),
		cmocka_unit_test(test_http_stats_is_the_stats_document),
		cmocka_unit_test(test_http_metrics_parse_as_prometheus),
		cmocka_unit_test(test_http_healthz_and_head),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_http_keepalive_and_pipelining),
		cmocka_unit_test(test_http_stalled_client_does_not_block_allocations),
		cmocka_unit_test(test_http_unread_responses_are_bounded),
		cmocka_unit_test(test_http_idle_connection_closes),
		cmocka_unit_test(test_http_connection_cap),
		cmocka_unit_test(test_http_tcp_on_loopback_only),
		cmocka_unit_test(test_http_curl),
		cmocka_unit_test(test_http_live_socket_is_not_stolen),
		cmocka_unit_test(test_http_shutdown_closes_and_removes),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
