/*
 * kmemctl.h - kmemctl's private declarations (client/kmemctl*.c only).
 *
 * kmemctl is a plain client of kmemd: everything it knows comes through
 * libkmem (kmem/client.h), mostly as the daemon's JSON stats document,
 * which the read commands render as tables.  One struct ctl is built in
 * main() and passed to every command; nothing else is global.
 *
 * Exit codes: 0 ok, 1 the request failed (the daemon's sentence on
 * stderr), 2 usage error, 3 the daemon cannot be reached.
 */
#ifndef KMEMCTL_H
#define KMEMCTL_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kmem/client.h"

enum {
	KMEMCTL_OK = 0,
	KMEMCTL_FAIL = 1,
	KMEMCTL_USAGE = 2,
	KMEMCTL_UNREACHABLE = 3,
	KMEMCTL_GO = -1,	/* ctl_parse: carry on with the command */
};

struct ctl;

/* One (sub)command: "alloc", or "cache create". */
struct ctl_cmd {
	const char *name;
	const char *synopsis;	/* after "kmemctl NAME " */
	const char *help;	/* what it does and its options */
	bool json;		/* takes --json */
	int min_args, max_args;	/* positional arguments */
	int (*run)(struct ctl *x, int argc, char **argv);
};

struct ctl {
	const struct ctl_cmd *cmd;
	const char *socket;	/* --socket; NULL: $KMEMD_SOCKET, else default */
	bool json;
	struct kmem_client *client;
	char **args;		/* positional arguments after ctl_parse() */
	int nargs;
};

/* ------------------------------------------------------------ kmemctl_util.c */

/*
 * ctl_parse - parse the command's options: --socket, --help and (when the
 * command takes it) --json are common; extra/shortopts are the command's
 * own and go to fn (with st).  fn returns KMEMCTL_GO or an exit code.
 * Checks the number of positional arguments, which land in x->args.
 * Returns KMEMCTL_GO to carry on, else the exit code (0 after --help).
 */
typedef int (*ctl_opt_fn)(struct ctl *x, int opt, const char *arg, void *st);
int ctl_parse(struct ctl *x, int argc, char **argv, const char *shortopts,
	      const struct option *extra, ctl_opt_fn fn, void *st);

/* Print the command's help to f. */
void ctl_help(const struct ctl_cmd *c, FILE *f);

/* "kmemctl: CMD: message" + usage line on stderr; returns KMEMCTL_USAGE. */
int ctl_usage(const struct ctl *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "kmemctl: CMD: message" on stderr; returns KMEMCTL_FAIL. */
int ctl_err(const struct ctl *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The socket path kmemctl uses (for messages). */
const char *ctl_socket_path(const struct ctl *x);

/* Connect once (name "kmemctl").  KMEMCTL_OK or KMEMCTL_UNREACHABLE. */
int ctl_connect(struct ctl *x);
void ctl_disconnect(struct ctl *x);

/* Report libkmem's failure rc with the daemon's sentence; returns the exit
 * code (KMEMCTL_UNREACHABLE when the connection is gone). */
int ctl_failed(const struct ctl *x, int rc);

/* Connect if needed and fetch the stats document into *doc (a new
 * reference).  Returns KMEMCTL_OK or an exit code (reported). */
int ctl_stats(struct ctl *x, json_t **doc);
/* The same with "leases": those of process pid's sessions, or all (0). */
int ctl_stats_leases(struct ctl *x, pid_t pid, json_t **doc);

/* Parse a size ("4K", "1.5G") for option what; KMEMCTL_GO or usage error. */
int ctl_size(const struct ctl *x, const char *what, const char *s,
	     uint64_t *out);
/* Parse an unsigned decimal in [min, max]; KMEMCTL_GO or usage error. */
int ctl_uint(const struct ctl *x, const char *what, const char *s,
	     uint64_t min, uint64_t max, uint64_t *out);

/* Print doc as indented JSON and a newline.  KMEMCTL_OK or FAIL. */
int ctl_print_json(const struct ctl *x, const json_t *doc);

/* Lenient readers of the stats document: 0 / "" when absent. */
uint64_t jget_u64(const json_t *o, const char *key);
const char *jget_str(const json_t *o, const char *key);
json_t *jget_arr(const json_t *o, const char *key);	/* an array or NULL */

/* Human size into buf (KMEMCTL_SIZE_MAX bytes). */
#define KMEMCTL_SIZE_MAX 32
const char *hsize(uint64_t bytes, char *buf);

/* ------------------------------------------------------------ kmemctl_table.c */

/*
 * A text table: columns with a heading each, cells added left to right,
 * rows wrapping after the last column.  Printed with two spaces between
 * columns, numbers right-aligned, nothing trailing.
 */
#define TABLE_MAX_COLS 32

struct table_col {
	const char *head;
	bool right;
};

struct table {
	const struct table_col *cols;
	size_t ncols;
	char **cells;
	size_t ncells, cap;
	bool failed;		/* out of memory: print says so */
};

void table_init(struct table *t, const struct table_col *cols, size_t ncols);
void table_add(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print to f; -1 if a cell could not be stored. */
int table_print(const struct table *t, FILE *f);
void table_fini(struct table *t);

/* ------------------------------------------------------------ renderers */

/* kmemctl_show.c: tables shared by status, pools, sessions and top. */
void show_pools_brief(const json_t *doc, FILE *f);
void show_sessions(const json_t *sessions, FILE *f);
uint64_t requests_total(const json_t *doc);
uint64_t errors_total(const json_t *doc);
void format_uptime(uint64_t s, char *buf, size_t len);

/* ------------------------------------------------------------ commands */

int cmd_status(struct ctl *x, int argc, char **argv);
int cmd_stats(struct ctl *x, int argc, char **argv);
int cmd_pools(struct ctl *x, int argc, char **argv);
int cmd_buddyinfo(struct ctl *x, int argc, char **argv);
int cmd_slabinfo(struct ctl *x, int argc, char **argv);
int cmd_sessions(struct ctl *x, int argc, char **argv);
int cmd_leases(struct ctl *x, int argc, char **argv);
int cmd_cache_list(struct ctl *x, int argc, char **argv);
int cmd_alloc(struct ctl *x, int argc, char **argv);
int cmd_free(struct ctl *x, int argc, char **argv);
int cmd_cache_create(struct ctl *x, int argc, char **argv);
int cmd_cache_destroy(struct ctl *x, int argc, char **argv);
int cmd_ping(struct ctl *x, int argc, char **argv);
int cmd_top(struct ctl *x, int argc, char **argv);
int cmd_hugepages(struct ctl *x, int argc, char **argv);
int cmd_verify(struct ctl *x, int argc, char **argv);
int cmd_debug(struct ctl *x, int argc, char **argv);

#endif
