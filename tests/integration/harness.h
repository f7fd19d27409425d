/*
 * harness.h - what the integration tests share: a real kmemd started on a
 * temporary socket, hugepages reserved for it and given back, the stats
 * document read through libkmem, and forked children that run as another
 * uid and report a failed check back to the cmocka process.  raw.h is the
 * raw protocol client that uses neither libuv nor libkmem.
 *
 * The daemon binary is $KMEMD_BIN (the Makefile sets it); without it, the
 * kmemd two directories above the test binary (build/kmemd for
 * build/tests/integration/test_x).  KMEM_INTEG_NOHUGE=1 forces the 4 KiB
 * fallback even when hugepages could be reserved.
 */
#ifndef KMEM_INTEG_HARNESS_H
#define KMEM_INTEG_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "kmem/client.h"

/* ------------------------------------------------------------ daemon */

struct integ_daemon {
	char dir[64];		/* mkdtemp directory, mode 0755 */
	char sock[100];		/* dir/kmemd.sock (fits sun_path) */
	char log[128];		/* dir/kmemd.log: the daemon's stderr */
	char stats[100];	/* dir/stats.sock, if kmemd has --stats-socket */
	pid_t pid;		/* 0 once it has been reaped */
};

/* Path of the kmemd binary under test. */
const char *integ_kmemd_bin(void);

/* Does `kmemd --help` mention flag (e.g. "--stall-timeout")? */
bool integ_kmemd_has_flag(const char *flag);

/*
 * integ_daemon_start - make a 0755 temporary directory, start kmemd on
 * dir/kmemd.sock with --socket-mode 0666 (and --stats-socket
 * dir/stats.sock when it has that flag) and the extra arguments args
 * (NULL-terminated), and wait until the socket accepts.  0, or -1 with
 * the log printed and everything undone (the daemon exited or never
 * listened within 10 s).
 */
int integ_daemon_start(struct integ_daemon *d, const char *const *args);

/*
 * What systemd would give the daemon, for integ_daemon_start_ex: extra
 * environment ("NAME=value" strings, NULL-terminated, e.g. NOTIFY_SOCKET)
 * and file descriptors passed as systemd passes them (fd 3 onwards, with
 * LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID set in the child between fork
 * and exec).  With listen_name, the harness binds and listens on the
 * daemon's socket itself, as kmemd.socket would, and passes it first under
 * that name; fds[0..nfds) follow under names[].  A socket-activated start
 * returns once the socket accepts, which it does at once (systemd's
 * backlog): wait for READY=1 to know the daemon is serving.
 */
struct integ_daemon_env {
	const char *const *env;
	const char *listen_name;
	const int *fds;
	const char *const *names;
	size_t nfds;
};

/* integ_daemon_start with e (NULL: as integ_daemon_start). */
int integ_daemon_start_ex(struct integ_daemon *d, const char *const *args,
			  const struct integ_daemon_env *e);

/*
 * integ_daemon_stop - SIGTERM, then wait (at most 10 s) for the exit.
 * Returns the wait status, or -1 if it did not exit (it is then killed).
 * The directory stays for the caller to inspect; integ_daemon_cleanup
 * removes it.
 */
int integ_daemon_stop(struct integ_daemon *d);

/*
 * integ_daemon_wait - as integ_daemon_stop, for a daemon already sent its
 * signal (a second SIGTERM late in the shutdown finds the default action
 * back and kills it).
 */
int integ_daemon_wait(struct integ_daemon *d);

/* Kill (SIGKILL) a daemon still running, reap it, remove its directory. */
void integ_daemon_cleanup(struct integ_daemon *d);

/* Print the daemon's log to stdout (for a failing test). */
void integ_daemon_dump_log(const struct integ_daemon *d);

/* ------------------------------------------------------------ hugepages */

/*
 * integ_pool_spec - a --pool spec "name=NAME,size=MIB M[,EXTRA]" on 2 MiB
 * hugepages when they could be reserved (root, the knob writable, the
 * kernel found the pages), else with the explicit 4 KiB fallback
 * "page=4K,nohuge".  The reservation (MIB / 2 pages) is added to
 * nr_hugepages and taken off again by integ_hugepages_release(), which
 * also runs at exit.  Returns true when the spec uses hugepages.
 */
bool integ_pool_spec(char *buf, size_t len, const char *name, unsigned mib,
		     const char *extra);

/* The 4 KiB fallback spec, whatever hugepages there are. */
void integ_pool_spec_4k(char *buf, size_t len, const char *name,
			unsigned mib, const char *extra);

/*
 * integ_pool_mib - the pool size to use, want MiB or less: without root a
 * 4 KiB pool is mlock()ed within RLIMIT_MEMLOCK, so the soft limit is
 * raised to the hard one and the size capped below it (to an even count).
 * 0 when not even 4 MiB fit (the reason printed).
 */
unsigned integ_pool_mib(unsigned want);

/* Give back every hugepage reserved so far.  Idempotent. */
void integ_hugepages_release(void);

/* ------------------------------------------------------------ stats */

/* The daemon's JSON stats document, parsed; NULL on failure. */
json_t *integ_stats(struct kmem_client *c);

/*
 * integ_json_u64 - the unsigned integer at path in doc: keys and array
 * indexes separated by '/' ("pools/0/bytes_free", "daemon/sessions").
 * 0 and *out, or -1 when the path does not lead to a non-negative integer.
 */
int integ_json_u64(json_t *doc, const char *path, uint64_t *out);

/* The sessions[] entry whose Hello client name is name, or NULL. */
json_t *integ_json_session(json_t *doc, const char *name);

/* The named[] entry called name, or NULL. */
json_t *integ_json_named(json_t *doc, const char *name);

/* Accounting figures that must come back exactly after clean-up. */
struct integ_acct {
	uint64_t bytes_free;	/* pools[i].bytes_free */
	uint64_t bytes_leased;	/* pools[i].bytes_leased */
	uint64_t pool_leases;	/* pools[i].leases */
	uint64_t leases;	/* daemon.leases (all pools) */
	uint64_t sessions;	/* daemon.sessions */
	uint64_t named;		/* entries of named[] */
};

/* Read the figures of pool i.  0, or -1 on any failure. */
int integ_acct(struct kmem_client *c, size_t pool, struct integ_acct *a);

/*
 * integ_wait_sessions - poll the stats until daemon.sessions == n and no
 * lease of an ended session is still being reclaimed (the daemon closes
 * dead connections asynchronously, and gives a large session's leases
 * back in slices): the pools' figures are then settled.  0, or -1 after
 * timeout_ms.
 */
int integ_wait_sessions(struct kmem_client *c, uint64_t n, int timeout_ms);

/* Poll until the session called name has `waiting` >= n.  0 or -1. */
int integ_wait_waiting(struct kmem_client *c, const char *name, uint64_t n,
		       int timeout_ms);

/* ------------------------------------------------------------ children */

/*
 * A forked child running a check function, possibly as another uid.  The
 * child reports "ok" or the first failed check ("file:line: what") over a
 * pipe; a second pair of pipes lets parent and child step together.
 */
struct integ_child {
	pid_t pid;
	int report;		/* parent reads the verdict here */
	int up;			/* parent reads what the child sends */
	int down;		/* parent writes to the child */
};

/*
 * integ_child_start - fork; in the child drop to uid/gid (unless uid is
 * (uid_t)-1: stay as is), run fn(arg) and _exit(0) after reporting "ok"
 * (fn returns normally only on success).  0 or -1.
 */
int integ_child_start(struct integ_child *c, uid_t uid, gid_t gid,
		      void (*fn)(void *), void *arg);

/*
 * integ_child_finish - wait for the child (at most timeout_ms, then
 * SIGKILL) and put its verdict into msg.  Returns its wait status, or -1.
 */
int integ_child_finish(struct integ_child *c, char *msg, size_t len,
		       int timeout_ms);

/* Parent side of the step pipes.  0 or -1 (timeout, EOF). */
int integ_child_read(struct integ_child *c, void *buf, size_t len,
		     int timeout_ms);
int integ_child_write(struct integ_child *c, const void *buf, size_t len);

/* Child side of the step pipes; a failure ends the child. */
void integ_in_child_send(const void *buf, size_t len);
void integ_in_child_recv(void *buf, size_t len);

/* In a child: report a failed check and _exit(1). */
void integ_child_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define CHILD_CHECK(cond) do { if (!(cond)) \
	integ_child_fail(__FILE__, __LINE__, "%s", #cond); } while (0)
#define CHILD_EQ(a, b) do { long long a__ = (long long)(a), b__ = (long long)(b); \
	if (a__ != b__) integ_child_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
					 #a, #b, a__, b__); } while (0)
#define CHILD_STREQ(a, b) do { const char *a__ = (a), *b__ = (b); \
	if (!a__ || !b__ || strcmp(a__, b__)) integ_child_fail(__FILE__, __LINE__, \
		"%s == %s: \"%s\" != \"%s\"", #a, #b, a__ ? a__ : "(null)", \
		b__ ? b__ : "(null)"); } while (0)

/* ------------------------------------------------------------ faults */

/*
 * integ_daemon_kill - SIGKILL the daemon (a crash: no shutdown path runs)
 * and reap it.  The directory and its log stay, as after
 * integ_daemon_stop.  Returns the wait status, or -1 if it had exited.
 */
int integ_daemon_kill(struct integ_daemon *d);

/* Does the daemon's log contain needle?  (Printed with the log if not.) */
bool integ_daemon_log_has(const struct integ_daemon *d, const char *needle);

/* Open file descriptors of pid (entries of /proc/PID/fd), or -1. */
long integ_proc_fds(pid_t pid);

/* A "Key:   N kB" line of /proc/PID/status (VmRSS, RssAnon...) in KiB,
 * or -1. */
long integ_proc_status_kib(pid_t pid, const char *key);

/* Raise RLIMIT_NOFILE's soft limit to want (at most the hard limit, or
 * beyond it as root).  Returns the soft limit now in force. */
unsigned long integ_raise_nofile(unsigned long want);

/* An environment variable as an unsigned number, or dflt. */
unsigned long integ_env_ulong(const char *name, unsigned long dflt);

/* ------------------------------------------------------------ misc */

/* Monotonic milliseconds. */
uint64_t integ_now_ms(void);

/* Sleep ms milliseconds. */
void integ_sleep_ms(unsigned ms);

/* ------------------------------------------------------------ patterns */

/*
 * Buffer contents a test can check after a restart: every 8-byte word is a
 * function of a salt and its index.  integ_pattern_check returns the offset
 * of the first word that differs, or len when all are intact.
 * integ_salt_of turns a buffer's name into a salt (FNV-1a).
 */
uint64_t integ_pattern_word(uint64_t salt, uint64_t index);
void integ_pattern_fill(void *p, uint64_t len, uint64_t salt);
uint64_t integ_pattern_check(const void *p, uint64_t len, uint64_t salt);
uint64_t integ_salt_of(const char *name);

/* ------------------------------------------------------------ sd_notify */

/*
 * systemd emulated for the daemon's notifications: integ_notify_open binds
 * a datagram socket at path (to pass as NOTIFY_SOCKET): the fd, or -1 with
 * the reason printed.  integ_notify_recv takes one datagram into text
 * (NUL-terminated, at most len - 1 bytes) and the first fd it carried
 * into *fd (-1 if none; any others are closed): 0, or -1 when nothing came
 * within timeout_ms.
 */
int integ_notify_open(const char *path);
int integ_notify_recv(int nfd, char *text, size_t len, int *fd, int timeout_ms);

#endif
