/*
 * kmemctl.c - the command-line tool of kmemd: the command table and main().
 *
 *	kmemctl [--socket PATH] COMMAND [options] [arguments]
 *
 * Each command lives in a kmemctl_*.c file by concern: the read commands
 * that render the stats document (kmemctl_show.c), the ones that change
 * something (kmemctl_alloc.c), the debugging aids - leases, verify, debug
 * (kmemctl_debug.c) - the refreshing view (kmemctl_top.c) and the
 * hugepage reservations that need no daemon (kmemctl_huge.c).
 */
#include <stdio.h>
#include <string.h>

#include "kmemctl.h"

#define KMEMCTL_VERSION "0.1.0"

static const struct ctl_cmd commands[] = {
	{ "status", "[--json]",
	  "The daemon on one screen: version, uptime, pools, sessions.\n",
	  true, 0, 0, cmd_status },
	{ "stats", "[--json]",
	  "The daemon's stats document: verbatim JSON with --json (the same\n"
	  "document as GET /stats), else a readable summary.\n",
	  true, 0, 0, cmd_stats },
	{ "pools", "[--json]",
	  "Each pool: backing, page size, IOVA mode, bytes total/used/free,\n"
	  "largest free block, leases, physical runs, quota.\n",
	  true, 0, 0, cmd_pools },
	{ "buddyinfo", "[--json]",
	  "Free blocks per order, one row per arena, as /proc/buddyinfo does\n"
	  "(order 0 is one page of the pool).\n",
	  true, 0, 0, cmd_buddyinfo },
	{ "slabinfo", "[--json]",
	  "Slab caches (kmalloc classes and named caches) in the columns of\n"
	  "/proc/slabinfo version 2.1.\n",
	  true, 0, 0, cmd_slabinfo },
	{ "sessions", "[--json]",
	  "Connected clients: pid, uid, command, leases and bytes held.\n",
	  true, 0, 0, cmd_sessions },
	{ "leases", "[--session PID] [--json]",
	  "Named (persistent) buffers and every session lease: id, session,\n"
	  "pid, command, pool, kind, offset, length, requested size, tag and\n"
	  "age, oldest first (the daemon lists at most 1000): a leak report.\n"
	  "  --session PID   only the leases of process PID's sessions\n",
	  true, 0, 0, cmd_leases },
	{ "alloc", "SIZE [--pool P] [--contig|--scatter] [--dma32] [--zero]\n"
	  "        [--node N] [--align A] [--dma-mask M] [--boundary B]\n"
	  "        [--name N] [--tag T] [--timeout MS] [--hold] [--json]",
	  "Allocate a buffer and print its id, offset, length, physical\n"
	  "address and segments.  A buffer without --name belongs to this\n"
	  "kmemctl's session and is freed when kmemctl exits.\n"
	  "  --pool P        from pool P (default: the first pool)\n"
	  "  --contig        physically contiguous (the default)\n"
	  "  --scatter       physically discontiguous pieces are fine\n"
	  "  --dma32         below 4 GiB physical\n"
	  "  --zero          zeroed memory\n"
	  "  --node N        on NUMA node N\n"
	  "  --align A       alignment, a power of two (e.g. 2M)\n"
	  "  --dma-mask M    every byte below a device's DMA mask: 0xfffffffff,\n"
	  "                  or its address bits: 36 (--dma32 is 32)\n"
	  "  --boundary B    not crossing a multiple of B physical (e.g. 64K)\n"
	  "  --name N        a persistent buffer named N: it outlives kmemctl\n"
	  "                  until 'kmemctl free N'\n"
	  "  --tag T         a label shown in stats\n"
	  "  --timeout MS    wait up to MS milliseconds for memory\n"
	  "  --hold          keep the session (and the buffer) until Ctrl-C or\n"
	  "                  SIGTERM\n",
	  true, 1, 1, cmd_alloc },
	{ "free", "ID|NAME [--name]",
	  "Free lease ID, or the persistent buffer NAME (--name: NAME even\n"
	  "if it is all digits).  A session's leases may be freed only by that\n"
	  "session, root or the admin group; they go when the session ends.\n",
	  false, 1, 1, cmd_free },
	{ "cache create", "NAME SIZE [--align A] [--pool P]",
	  "Create a named slab cache of SIZE-byte objects in the daemon.\n"
	  "  --align A       object alignment, a power of two\n"
	  "  --pool P        in pool P (default: the first pool)\n",
	  false, 2, 2, cmd_cache_create },
	{ "cache destroy", "NAME",
	  "Destroy the named slab cache NAME (it must have no live objects).\n",
	  false, 1, 1, cmd_cache_destroy },
	{ "cache list", "[--all] [--json]",
	  "Named slab caches; --all adds the kmalloc size classes.\n"
	  "  --all           every cache\n",
	  true, 0, 0, cmd_cache_list },
	{ "top", "[--interval S]",
	  "A refreshing view like slabtop: pools, caches, sessions and the\n"
	  "request rate.  q quits.  With stdout not a terminal, one frame.\n"
	  "  --interval S    seconds between refreshes (default 1)\n",
	  false, 0, 0, cmd_top },
	{ "hugepages", "[--reserve N [--size 2M|1G] [--node N]] [--json]",
	  "Hugepages per size and NUMA node (from sysfs; no daemon needed),\n"
	  "and the hugetlbfs mounts.  --reserve sets the number of hugepages\n"
	  "of one size, on all nodes or one (needs root).\n"
	  "  --reserve N     make N hugepages of --size the kernel's pool\n"
	  "  --size S        hugepage size (default: the kernel's default)\n"
	  "  --node N        on NUMA node N only\n",
	  true, 0, 0, cmd_hugepages },
	{ "verify", "[--json]",
	  "Have the daemon check itself: every pool's page allocators, slab\n"
	  "lists and free bitmaps (and the poison and red zones of debugging\n"
	  "caches), and every lease against the engine, the sessions and the\n"
	  "accounting.  Prints each inconsistency; exit status 1 if there is\n"
	  "any, 0 if all is well.\n",
	  true, 0, 0, cmd_verify },
	{ "debug", "[POOL [poison on|off]] [--json]",
	  "Slab debugging of each pool (or POOL): its flags (poison, redzone)\n"
	  "and what they found, per pool and per debugging cache.  With\n"
	  "'poison on|off', switch poisoning of freed objects in POOL (root or\n"
	  "the admin group only); red zones are set in the configuration.\n",
	  true, 0, 3, cmd_debug },
	{ "ping", "[--count N] [--size S] [--json]",
	  "Round trips to the daemon; prints the median time.\n"
	  "  --count N       round trips (default 5)\n"
	  "  --size S        payload bytes each way (default 0)\n",
	  true, 0, 0, cmd_ping },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fputs("usage: kmemctl [--socket PATH] COMMAND [options] [arguments]\n"
	      "\ncommands:\n", f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s %.*s\n", commands[i].name,
			(int)strcspn(commands[i].synopsis, "\n"),
			commands[i].synopsis);
	fputs("\noptions:\n"
	      "  --socket PATH   kmemd's socket (default: $KMEMD_SOCKET,\n"
	      "                  else " KMEM_DEFAULT_SOCKET ")\n"
	      "  --json          on read commands: JSON for scripts\n"
	      "  --help          'kmemctl COMMAND --help' or 'kmemctl help COMMAND'\n"
	      "  --version\n"
	      "\nexit status: 0 ok, 1 the request failed, 2 usage error,\n"
	      "3 the daemon cannot be reached\n", f);
}

/*
 * Find the command named by argv[0] (and argv[1] for "cache").  *used is
 * how many words the name took.  NULL if there is none.
 */
static const struct ctl_cmd *find_cmd(int argc, char **argv, int *used)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *n = commands[i].name, *sp = strchr(n, ' ');
		size_t len = sp ? (size_t)(sp - n) : strlen(n);

		if (strncmp(argv[0], n, len) || argv[0][len])
			continue;
		if (!sp) {
			*used = 1;
			return &commands[i];
		}
		if (argc > 1 && !strcmp(argv[1], sp + 1)) {
			*used = 2;
			return &commands[i];
		}
	}
	return NULL;
}

/* "kmemctl cache" without (or with a wrong) second word. */
static int group_usage(const char *group, int argc, char **argv)
{
	bool help = argc > 1 && (!strcmp(argv[1], "--help") ||
				 !strcmp(argv[1], "-h"));
	FILE *f = help ? stdout : stderr;

	if (!help)
		fprintf(stderr, argc > 1 ? "kmemctl: %s: unknown subcommand '%s'\n" :
			"kmemctl: %s: which one?\n", group, argc > 1 ? argv[1] : "");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strncmp(commands[i].name, group, strlen(group)) &&
		    commands[i].name[strlen(group)] == ' ')
			fprintf(f, "usage: kmemctl %s %.*s\n", commands[i].name,
				(int)strcspn(commands[i].synopsis, "\n"),
				commands[i].synopsis);
	return help ? KMEMCTL_OK : KMEMCTL_USAGE;
}

static bool is_group(const char *word)
{
	size_t len = strlen(word);

	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strncmp(commands[i].name, word, len) &&
		    commands[i].name[len] == ' ')
			return true;
	return false;
}

/* kmemctl help [COMMAND [SUBCOMMAND]] */
static int help_cmd(int argc, char **argv)
{
	const struct ctl_cmd *c;
	int used;

	if (argc == 0) {
		usage(stdout);
		return KMEMCTL_OK;
	}
	c = find_cmd(argc, argv, &used);
	if (c) {
		ctl_help(c, stdout);
		return KMEMCTL_OK;
	}
	if (is_group(argv[0]))
		return group_usage(argv[0], 1, argv);
	fprintf(stderr, "kmemctl: help: unknown command '%s'\n", argv[0]);
	return KMEMCTL_USAGE;
}

/* Global options before the command: --socket, --help, --version. */
static int global_opts(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	opterr = 0;
	while ((o = getopt_long(argc, argv, "+s:hV", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			x->socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return KMEMCTL_OK;
		case 'V':
			printf("kmemctl %s\n", KMEMCTL_VERSION);
			return KMEMCTL_OK;
		default:
			if (optopt && optopt != 's')
				fprintf(stderr, "kmemctl: unknown option '-%c'", optopt);
			else if (optopt)
				fprintf(stderr, "kmemctl: option '%s' needs a value",
					argv[optind - 1]);
			else
				fprintf(stderr, "kmemctl: unknown option '%s'",
					argv[optind - 1]);
			fputs(" (see 'kmemctl --help')\n", stderr);
			return KMEMCTL_USAGE;
		}
	}
	if (optind >= argc) {
		fputs("kmemctl: no command given\n", stderr);
		usage(stderr);
		return KMEMCTL_USAGE;
	}
	return KMEMCTL_GO;
}

int main(int argc, char **argv)
{
	struct ctl x = { 0 };
	const struct ctl_cmd *c;
	int rc, used;
	char **rest;

	rc = global_opts(&x, argc, argv);
	if (rc != KMEMCTL_GO)
		return rc;
	rest = argv + optind;
	argc -= optind;
	if (!strcmp(rest[0], "help"))
		return help_cmd(argc - 1, rest + 1);
	c = find_cmd(argc, rest, &used);
	if (!c) {
		if (is_group(rest[0]))
			return group_usage(rest[0], argc, rest);
		fprintf(stderr, "kmemctl: unknown command '%s' (try 'kmemctl "
			"--help')\n", rest[0]);
		return KMEMCTL_USAGE;
	}
	x.cmd = c;
	/* The command sees itself as argv[0], as getopt expects. */
	rc = c->run(&x, argc - used + 1, rest + used - 1);
	ctl_disconnect(&x);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "kmemctl: %s: cannot write the output\n", c->name);
		return rc ? rc : KMEMCTL_FAIL;
	}
	return rc;
}
