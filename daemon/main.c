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
#include "kmemd.h"
#include "log.h"
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
"                          (repeatable; default: one 64 MiB pool 'default')\n"
"      --dev               developer default: let the default pool fall back\n"
"                          to 4 KiB pages when hugepages are short\n"
"  -g, --admin-group GRP   group whose members may act on any lease\n"
"      --max-frame SIZE    largest request frame (default 1M)\n"
"      --out-limit SIZE    unsent replies per session before it is no\n"
"                          longer read (default 4M)\n"
"      --stall-timeout MS  a frame half received this long closes the\n"
"                          session (default 10000)\n"
"  -l, --log-level LEVEL   error, warn, info (default) or debug\n"
"  -h, --help, -V, --version\n";

uint64_t kmemd_now_ns(void)
{
	return uv_hrtime();
}

static int parse_group(const char *s, gid_t *gid)
{
	struct group *g = getgrnam(s);
	char *end;
	unsigned long v;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s)
		return -1;
	*gid = (gid_t)v;
	return 0;
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
		{ "dev", no_argument, NULL, 'D' },
		{ "out-limit", required_argument, NULL, 'O' },
		{ "stall-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char err[512];
	uint64_t v;
	int o;

	while ((o = getopt_long(argc, argv, "s:m:p:g:l:hV", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (strlen(optarg) >= sizeof(c->socket_path)) {
				fprintf(stderr, "kmemd: socket path too long\n");
				return 2;
			}
			strcpy(c->socket_path, optarg);
			break;
		case 'm': {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);

			if (*end || end == optarg || m > 0777) {
				fprintf(stderr, "kmemd: --socket-mode: '%s' is not an "
					"octal mode like 0660\n", optarg);
				return 2;
			}
			c->socket_mode = (mode_t)m;
			break;
		}
		case 'p':
			if (config_add_pool(c, optarg, err, sizeof(err))) {
				fprintf(stderr, "kmemd: --pool: %s\n", err);
				return 2;
			}
			break;
		case 'g':
			if (parse_group(optarg, &c->admin_gid)) {
				fprintf(stderr, "kmemd: no group '%s'\n", optarg);
				return 2;
			}
			c->have_admin_gid = true;
			break;
		case 'F':
			if (kmem_parse_size(optarg, &v) || v < 64 || v > (64u << 20)) {
				fprintf(stderr, "kmemd: --max-frame: '%s' is not a size "
					"from 64 to 64M\n", optarg);
				return 2;
			}
			c->max_frame = (uint32_t)v;
			break;
		case 'O':
			if (kmem_parse_size(optarg, &c->out_limit) ||
			    c->out_limit < 4096) {
				fprintf(stderr, "kmemd: --out-limit: '%s' is not a "
					"size of at least 4K\n", optarg);
				return 2;
			}
			break;
		case 'T': {
			char *end;
			unsigned long ms = strtoul(optarg, &end, 10);

			if (*end || end == optarg || ms == 0 || ms > 3600000) {
				fprintf(stderr, "kmemd: --stall-timeout: '%s' is not "
					"1..3600000 ms\n", optarg);
				return 2;
			}
			c->stall_timeout_ms = (uint32_t)ms;
			break;
		}
		case 'l':
			if ((c->log_level = log_parse_level(optarg)) < 0) {
				fprintf(stderr, "kmemd: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
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
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct kmemd *d = sig->data;

	if (d->stopping)
		return;
	d->stopping = true;
	log_info("%s: shutting down", strsignal(signum));
	server_stop(d);
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

int main(int argc, char **argv)
{
	static struct kmemd d;
	bool dev = false;
	int rc;

	config_defaults(&d.cfg);
	rc = parse_args(argc, argv, &d.cfg, &dev);
	if (rc)
		return rc == 1 ? 0 : 2;
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
	if (pools_create(&d) || make_socket_dir(d.cfg.socket_path) ||
	    server_listen(&d)) {
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

	uv_run(d.loop, UV_RUN_DEFAULT);

	/* Anything left open (nothing, normally) is closed before teardown. */
	uv_walk(d.loop, close_handle, NULL);
	uv_run(d.loop, UV_RUN_DEFAULT);
	uv_loop_close(d.loop);
	for (struct dcache *dc = d.caches, *next; dc; dc = next) {
		next = dc->next;
		free(dc);
	}
	lease_table_fini(&d.leases);
	pools_destroy(&d);
	log_info("stopped");
	return 0;
}
