/*
 * httpc.h - what the HTTP endpoint tests need around the real kmemd: a
 * daemon started on a temporary directory, a small HTTP/1.1 client whose
 * responses are read back with http-parser (so every response the daemon
 * sends is also checked to be well-formed HTTP), and a checker of the
 * Prometheus text exposition format 0.0.4.
 */
#ifndef KMEM_TEST_HTTPC_H
#define KMEM_TEST_HTTPC_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------ daemon */

struct tdaemon {
	pid_t pid;		/* 0 once reaped */
	char log[128];		/* its stderr */
};

/*
 * td_start - run $KMEMD_BIN with args (NULL-terminated, argv[0] not
 * included) in directory dir, stderr to dir/name.log, and wait (at most
 * 10 s) until wait_path accepts connections (NULL: do not wait).  0, or
 * -1 if it exited or never listened (it is then killed and reaped).
 */
int td_start(struct tdaemon *t, const char *dir, const char *name,
	     const char *wait_path, const char *const *args);

/* td_stop - SIGTERM and wait at most 10 s; the wait status, or -1. */
int td_stop(struct tdaemon *t);

/* td_wait - wait at most ms for it to exit by itself; status or -1. */
int td_wait(struct tdaemon *t, int ms);

/* Print the log (for a failing test). */
void td_dump_log(const struct tdaemon *t);

/* ------------------------------------------------------------ sockets */

int unix_connect(const char *path);		/* fd or -1 */
int tcp_connect(const char *addr, int port);	/* fd or -1 (errno) */
int free_tcp_port(void);			/* a port free just now, or -1 */
int send_all(int fd, const void *buf, size_t len);	/* 0 or -1 */
int send_str(int fd, const char *s);

/* Read until EOF or a reset: true, or false after ms without one. */
bool wait_closed(int fd, int ms);

uint64_t mono_ms(void);

/* ------------------------------------------------------------ client */

struct hresp {
	int status;
	char type[96];
	char connection[32];
	char allow[64];
	long content_length;	/* -1 if absent */
	bool keep_alive;	/* http_should_keep_alive() on the response */
	char *body;		/* malloc'd, NUL-terminated */
	size_t len;
};

struct hconn {
	int fd;
	http_parser p;
	struct hresp *r;
	bool done, head, last_was_value;
	char field[64];
	size_t field_len;
	char *pending;		/* bytes read past the last response */
	size_t npending;
};

void hconn_init(struct hconn *h, int fd);
void hconn_fini(struct hconn *h);	/* closes fd */

/*
 * hconn_read - read one response (to a HEAD request if head) within ms.
 * 0, -1 on EOF or timeout before it was complete, -2 if it was not valid
 * HTTP.  r is filled in; free it with hresp_free.
 */
int hconn_read(struct hconn *h, struct hresp *r, bool head, int ms);
void hresp_free(struct hresp *r);

/* One request on a new Unix-socket connection, its response, closed. */
int http_get(const char *sock, const char *method, const char *path,
	     struct hresp *r);

/* ------------------------------------------------------------ prometheus */

/*
 * prom_check - check text against the exposition format 0.0.4: every
 * sample line `name{label="value",...} value [timestamp]` with legal
 * names, escapes and a float value; HELP and TYPE at most once per
 * family, before its samples; every sample's family has a TYPE;
 * histograms have cumulative buckets with increasing le, ending in +Inf,
 * equal to _count.  Returns 0, -1 with a sentence in err, or -2 with a
 * sentence when the only fault is that a family's lines are not one
 * group (the format requires it; Prometheus' own parsers accept it).
 */
int prom_check(const char *text, char *err, size_t errlen);

#endif
