/*
 * fuzzd.c - a kmemd inside the fuzzer's process; see fuzzd.h.
 *
 * main.c is not linked (libFuzzer brings its own main), so the one
 * function the daemon takes from it, kmemd_now_ns(), is defined here.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzzd.h"
#include "http.h"
#include "log.h"
#include "pools.h"
#include "server.h"

/* A connection that takes longer than this is a hung daemon. */
#define EXCHANGE_LIMIT_NS (5ull * 1000 * 1000 * 1000)

static size_t baseline;		/* handles open between exchanges */
static char dir[] = "/tmp/kmemd-fuzz-XXXXXX";
static const struct kmemd *daemon_of_exit;

/* The temporary directory goes with the process (unless it crashes). */
static void remove_dir(void)
{
	unlink(daemon_of_exit->cfg.socket_path);
	if (daemon_of_exit->cfg.stats_socket_path[0])
		unlink(daemon_of_exit->cfg.stats_socket_path);
	rmdir(dir);
}

uint64_t kmemd_now_ns(void)
{
	return uv_hrtime();
}

static void count_handle(uv_handle_t *h, void *arg)
{
	(void)h;
	++*(size_t *)arg;
}

size_t fuzzd_handles(const struct kmemd *d)
{
	size_t n = 0;

	uv_walk(d->loop, count_handle, &n);
	return n;
}

void fuzzd_start(struct kmemd *d, const char *const *pools, bool stats)
{
	static uv_loop_t loop;
	const char *level = getenv("FUZZ_LOG");
	char err[512];

	signal(SIGPIPE, SIG_IGN);
	log_set_level(level && log_parse_level(level) >= 0 ?
		      (enum log_level)log_parse_level(level) : LOG_ERR);
	FUZZ_CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	config_defaults(&d->cfg);
	snprintf(d->cfg.socket_path, sizeof(d->cfg.socket_path), "%s/kmemd.sock", dir);
	snprintf(d->cfg.stats_socket_path, sizeof(d->cfg.stats_socket_path),
		 "%s/stats.sock", dir);
	if (!stats)
		d->cfg.stats_socket_path[0] = 0;
	d->cfg.stats_socket_set = true;
	daemon_of_exit = d;
	atexit(remove_dir);
	d->cfg.log_level = log_get_level();
	/* Small limits, so that back-pressure and refusals are reachable by
	 * small inputs. */
	d->cfg.max_frame = 64u << 10;
	d->cfg.out_limit = 16u << 10;
	for (; *pools; pools++)
		FUZZ_CHECK(config_add_pool(&d->cfg, *pools, err, sizeof(err)) == 0,
			   "%s", err);
	config_finish(&d->cfg);
	FUZZ_CHECK(config_check(&d->cfg, err, sizeof(err)) == 0, "%s", err);

	FUZZ_CHECK(uv_loop_init(&loop) == 0, "uv_loop_init");
	d->loop = &loop;
	d->start_ns = kmemd_now_ns();
	d->journal_fd = -1;
	FUZZ_CHECK(lease_table_init(&d->leases) == 0, "lease table");
	FUZZ_CHECK(pools_create(d) == 0, "pools (see the log above)");
	server_init(d);
	FUZZ_CHECK(server_listen(d) == 0, "listen on %s", d->cfg.socket_path);
	if (stats)
		FUZZ_CHECK(http_start(d) == 0, "listen on %s",
			   d->cfg.stats_socket_path);
	baseline = fuzzd_handles(d);
}

/* Take everything the daemon has sent so far.  Returns true at its end. */
static bool drain(int fd, size_t *got,
		  void (*on_bytes)(const uint8_t *p, size_t n, void *arg),
		  void *arg)
{
	static uint8_t buf[65536];
	char ctl[CMSG_SPACE(sizeof(int) * KMEMD_MAX_POOLS)];

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl, .msg_controllen = sizeof(ctl),
		};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n <= 0)
			return true;	/* EOF, or reset after unread input */
		/* The Hello reply carries the pools' fds: do not keep them. */
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[KMEMD_MAX_POOLS];

			memcpy(fds, CMSG_DATA(cm), nfd * sizeof(int));
			for (size_t i = 0; i < nfd; i++)
				close(fds[i]);
		}
		FUZZ_CHECK(!(mh.msg_flags & MSG_CTRUNC), "more fds than pools");
		*got += (size_t)n;
		if (on_bytes)
			on_bytes(buf, (size_t)n, arg);
	}
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	FUZZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		   "connect %s: %s", path, strerror(errno));
	return fd;
}

/* Sleep until the client socket or the loop has something to do. */
static void wait_events(const struct kmemd *d, int fd, bool writing)
{
	struct pollfd pf[2] = {
		{ .fd = fd, .events = POLLIN | (writing ? POLLOUT : 0) },
		{ .fd = uv_backend_fd(d->loop), .events = POLLIN },
	};
	int t = uv_backend_timeout(d->loop);

	if (t < 0 || t > 100)
		t = 100;
	poll(pf, 2, t);
}

/* What the daemon's sessions are doing: printed when one hangs. */
static void describe_sessions(const struct kmemd *d)
{
	for (const struct session *s = d->sessions; s; s = s->next)
		fprintf(stderr, "fuzz: session %llu: hello %d reading %d closing %d "
			"draining %d backlog %zu out %zu inflight %zu pending %zu "
			"waiting %u leases %llu\n", (unsigned long long)s->id,
			s->hello, s->reading, s->closing, s->draining, s->backlog_len,
			s->out.len, s->inflight, kmem_frame_decoder_pending(&s->dec),
			s->waiting, (unsigned long long)s->nleases);
}

void fuzzd_exchange(struct kmemd *d, const char *path, const uint8_t *data,
		    size_t len, void (*on_bytes)(const uint8_t *p, size_t n,
						 void *arg), void *arg)
{
	uint64_t deadline = uv_hrtime() + EXCHANGE_LIMIT_NS;
	int fd = connect_to(path);
	bool shut = false, eof = false, late;
	size_t off = 0, total = 0;

	while (!eof) {
		size_t got = 0, sent = 0;

		if (off < len) {
			ssize_t n = send(fd, data + off, len - off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n > 0)
				sent = (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				sent = len - off;	/* the daemon closed */
			off += sent;
		}
		if (off == len && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		uv_run(d->loop, UV_RUN_NOWAIT);
		eof = drain(fd, &got, on_bytes, arg);
		total += got;
		late = uv_hrtime() >= deadline;
		if (late)
			describe_sessions(d);
		FUZZ_CHECK(!late, "the daemon neither answered nor "
			   "closed the connection in 5 s (%zu of %zu bytes sent, %zu "
			   "received)", off, len, total);
		if (!eof && !got && !sent)
			wait_events(d, fd, off < len);
	}
	close(fd);
	/* Until the session's handles are closed, its memory is not freed. */
	while (fuzzd_handles(d) != baseline) {
		uv_run(d->loop, UV_RUN_NOWAIT);
		FUZZ_CHECK(uv_hrtime() < deadline, "%zu handles left open (%zu "
			   "before the connection)", fuzzd_handles(d), baseline);
		if (fuzzd_handles(d) != baseline)
			wait_events(d, -1, false);
	}
}
