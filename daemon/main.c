/*
 * main.c - kmemd: configuration, privileged set-up, the loop, shutdown.
 *
 * Privileged work first (hugepage pools, physical addresses, binding the
 * socket), then the loop.  SIGTERM/SIGINT stop accepting, answer what is
 * queued (blocked requests get BUSY), close every session (their leases
 * come back), release the pools and remove the socket.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmem/size.h"
#include "conffile.h"
#include "dispatch.h"
#include "http.h"
#include "journal.h"
#include "kmemd.h"
#include "leases.h"
#include "privs.h"
#include "log.h"
#include "notify.h"
#include "pools.h"
#include "server.h"
#include "waitq.h"

static const char usage[] =
"usage: kmemd [options]\n"
"  -s, --socket PATH       allocation socket (default " KMEMD_DEFAULT_SOCKET ")\n"
"  -m, --socket-mode MODE  its mode, octal (default 0660)\n"
"  -p, --pool SPEC         a pool: name=N,size=S[,page=2M|1G|4K]\n"
"                          [,policy=buddy|vmem][,uids=U:U][,gids=G:G]\n"
"                          [,quota=S][,nohuge][,contig][,path=HUGETLBFS_FILE]\n"
"                          [,debug=poison+redzone]\n"
"                          (repeatable; default: one 64 MiB pool 'default')\n"
"      --dev               developer default: let the default pool fall back\n"
"                          to 4 KiB pages when hugepages are short\n"
"  -g, --admin-group GRP   group whose members may act on any lease\n"
"      --max-frame SIZE    largest request frame (default 1M)\n"
"      --out-limit SIZE    unsent replies per session before it is no\n"
"                          longer read (default 4M)\n"
"      --stall-timeout MS  a frame half received this long closes the\n"
"                          session (default 10000)\n"
"      --user USER         after set-up, give USER the sockets and pool\n"
"                          files and run as USER (all capabilities are\n"
"                          dropped after set-up in any case)\n"
"      --state-dir DIR     keep a journal of named buffers in DIR and\n"
"                          restore them at start (default: none); under\n"
"                          systemd, memfd pools go to its fd store so\n"
"                          theirs survive too (kmemd(8), SYSTEMD)\n"
"      --resume-grace MS   with --state-dir: how long the leases of durable\n"
"                          sessions open when the last daemon died wait\n"
"                          for their client to resume (default 30000;\n"
"                          0: durable sessions off)\n"
"  -l, --log-level LEVEL   error, warn, info (default) or debug\n"
"      --stats-socket PATH HTTP stats socket (default: stats.sock beside\n"
"                          the allocation socket, " KMEMD_DEFAULT_STATS_SOCKET ";\n"
"                          'none' for none): GET /stats /metrics /healthz\n"
"      --stats-socket-mode MODE  its mode, octal (default 0660)\n"
"      --stats-port N      also serve HTTP on TCP port N (default 0: no)\n"
"      --stats-address A   the port's address (default 127.0.0.1)\n"
"      --stats-timeout MS  HTTP requests must arrive and responses drain\n"
"                          within MS; idle ones close after 3 MS (10000)\n"
"  -c, --config FILE       configuration file (default " KMEMD_DEFAULT_CONFIG "\n"
"                          when it exists; 'none' for no file); flags win\n"
"      --check-config FILE validate FILE (with the flags), print the\n"
"                          effective configuration, exit 0 or 1\n"
"  -h, --help, -V, --version\n";

uint64_t kmemd_now_ns(void)
{
	return uv_hrtime();
}

/*
 * The config file comes first (defaults < file < flags): find --config or
 * --check-config before the other flags are applied.
 */
static const char *config_path(int argc, char **argv, bool *check)
{
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if (!strncmp(a, "--config=", 9))
			v = a + 9;
		else if (!strncmp(a, "--check-config=", 15))
			v = a + 15, *check = true;
		else if ((!strcmp(a, "--config") || !strcmp(a, "--check-config")) &&
			 i + 1 < argc) {
			*check |= a[2] == 'c' && a[3] == 'h';
			v = argv[++i];
		}
		if (v)
			path = v;
	}
	return path;
}

static int parse_args(int argc, char **argv, struct kmemd_config *c, bool *dev)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "pool", required_argument, NULL, 'p' },
		{ "admin-group", required_argument, NULL, 'g' },
		{ "max-frame", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "out-limit", required_argument, NULL, 'O' },
		{ "stall-timeout", required_argument, NULL, 'T' },
		{ "state-dir", required_argument, NULL, 'J' },
		{ "resume-grace", required_argument, NULL, 'R' },
		{ "user", required_argument, NULL, 'U' },
		{ "config", required_argument, NULL, 'C' },
		{ "check-config", required_argument, NULL, 'K' },
		{ "dev", no_argument, NULL, 'D' },
		{ "stats-socket", required_argument, NULL, 'S' },
		{ "stats-socket-mode", required_argument, NULL, 'M' },
		{ "stats-port", required_argument, NULL, 'P' },
		{ "stats-address", required_argument, NULL, 'A' },
		{ "stats-timeout", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { int opt; const char *key; } keys[] = {
		{ 's', "socket" }, { 'm', "socket_mode" }, { 'g', "admin_group" },
		{ 'F', "max_frame" }, { 'l', "log_level" }, { 'O', "out_limit" },
		{ 'T', "stall_timeout_ms" }, { 'J', "state_dir" }, { 'U', "user" },
		{ 'R', "resume_grace_ms" },
		{ 'S', "stats_socket" }, { 'M', "stats_socket_mode" },
		{ 'P', "stats_port" }, { 'A', "stats_address" },
		{ 'W', "stats_timeout_ms" },
	};
	char err[512];
	int o;

	while ((o = getopt_long(argc, argv, "s:m:p:g:l:hV", opts, NULL)) != -1) {
		bool done = false;

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (keys[i].opt != o)
				continue;
			if (config_daemon_key(c, keys[i].key, optarg)) {
				fprintf(stderr, "kmemd: bad value '%s' for --%s\n",
					optarg, keys[i].key);
				return 2;
			}
			done = true;
		}
		if (done)
			continue;
		switch (o) {
		case 'p':
			if (config_add_pool(c, optarg, err, sizeof(err))) {
				fprintf(stderr, "kmemd: --pool: %s\n", err);
				return 2;
			}
			break;
		case 'C':
		case 'K':
			break;		/* read before the flags */
		case 'D':
			*dev = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			printf("kmemd %s (protocol %d)\n", KMEMD_VERSION,
			       KMEM_PROTOCOL_VERSION);
			return 1;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kmemd: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	config_finish(c);
	if (config_check(c, err, sizeof(err))) {
		fprintf(stderr, "kmemd: %s\n", err);
		return 2;
	}
	return 0;
}

/* Defaults, then the config file (given, or the default one if present),
 * then the flags.  Returns 0 to run, 1 to exit 0, 2/3 to exit with it. */
static int configure(int argc, char **argv, struct kmemd_config *c, bool *dev)
{
	bool check = false;
	const char *path = config_path(argc, argv, &check);
	char err[512];
	int rc;

	config_defaults(c);
	if (!path && access(KMEMD_DEFAULT_CONFIG, F_OK) == 0)
		path = KMEMD_DEFAULT_CONFIG;
	if (path && strcmp(path, "none") &&
	    config_load_file(c, path, err, sizeof(err))) {
		fprintf(stderr, "kmemd: %s\n", err);
		return check ? 3 : 2;
	}
	rc = parse_args(argc, argv, c, dev);
	if (rc)
		return check && rc == 2 ? 3 : rc;
	if (check) {
		if (c->npools == 0)
			config_default_pool(c, *dev);
		config_print(c, stdout);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ shutdown */

static uv_timer_t drain_timer;
static uint64_t drain_deadline;

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_drain(uv_timer_t *t)
{
	struct kmemd *d = t->data;
	size_t inflight = 0;

	for (struct session *s = d->sessions; s; s = s->next)
		inflight += s->inflight;
	if (inflight && kmemd_now_ns() < drain_deadline)
		return;
	while (d->sessions)
		session_close(d->sessions, "daemon shutting down");
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, NULL);
	/* Keep catching SIGTERM/SIGINT (a second one must not kill us
	 * mid-teardown) without keeping the loop alive. */
	uv_unref((uv_handle_t *)&d->sigterm);
	uv_unref((uv_handle_t *)&d->sigint);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct kmemd *d = sig->data;

	if (d->stopping)
		return;
	d->stopping = true;
	log_info("%s: shutting down", strsignal(signum));
	notify_stopping(d);
	server_stop(d);
	http_stop(d);
	waitq_drop_all(d);
	for (struct session *s = d->sessions; s; s = s->next) {
		uv_read_stop((uv_stream_t *)&s->pipe);
		s->reading = false;
	}
	/* Let queued replies go out (at most a second), then close. */
	drain_deadline = kmemd_now_ns() + 1000000000ull;
	uv_timer_init(d->loop, &drain_timer);
	drain_timer.data = d;
	uv_timer_start(&drain_timer, on_drain, 0, 10);
}

static int make_socket_dir(const char *path)
{
	char dir[sizeof(((struct kmemd_config *)0)->socket_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		log_err("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The HTTP stats endpoint: its socket's directory, then the listeners. */
static int stats_listen(struct kmemd *d)
{
	if (d->cfg.stats_socket_path[0] && make_socket_dir(d->cfg.stats_socket_path))
		return -1;
	return http_start(d);
}

int main(int argc, char **argv)
{
	static struct kmemd d;
	bool dev = false;
	int rc;

	rc = configure(argc, argv, &d.cfg, &dev);
	if (rc)
		return rc == 1 ? 0 : rc == 3 ? 1 : 2;
	log_set_level(d.cfg.log_level);
	if (d.cfg.npools == 0)
		config_default_pool(&d.cfg, dev);
	signal(SIGPIPE, SIG_IGN);
	d.loop = uv_default_loop();
	d.start_ns = kmemd_now_ns();
	if (lease_table_init(&d.leases)) {
		log_err("out of memory");
		return 1;
	}
	d.journal_fd = -1;
	server_init(&d);
	if (pools_create(&d) || journal_open(&d) ||
	    make_socket_dir(d.cfg.socket_path) || server_listen(&d) ||
	    stats_listen(&d) || privs_drop(&d)) {
		http_stop(&d);
		server_stop(&d);
		uv_run(d.loop, UV_RUN_DEFAULT);	/* the listeners' closes */
		journal_close(&d);
		pools_destroy(&d);
		lease_table_fini(&d.leases);
		return 1;
	}
	uv_signal_init(d.loop, &d.sigterm);
	uv_signal_init(d.loop, &d.sigint);
	d.sigterm.data = d.sigint.data = &d;
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	log_info("kmemd %s ready: %zu pool(s)", KMEMD_VERSION, d.npools);
	notify_ready(&d);

	uv_run(d.loop, UV_RUN_DEFAULT);

	/* Anything left open (nothing, normally) is closed before teardown. */
	uv_walk(d.loop, close_handle, NULL);
	uv_run(d.loop, UV_RUN_DEFAULT);
	uv_loop_close(d.loop);
	for (struct dcache *dc = d.caches, *next; dc; dc = next) {
		next = dc->next;
		free(dc);
	}
	journal_close(&d);
	free(d.stats_cache[0].text);
	free(d.stats_cache[1].text);
	dispatch_fini(&d);
	leases_fini(&d);
	lease_table_fini(&d.leases);
	pools_destroy(&d);
	log_info("stopped");
	return 0;
}
