/*
 * test_daemon_resume.c - durable sessions: a client's buffers survive a
 * daemon crash and come back to it when it resumes with its token.
 *
 * The pool is a memfd kept across the crash by systemd's fd store, with
 * systemd emulated as test_daemon_fdstore.c does ($NOTIFY_SOCKET, the
 * FDSTORE=1 message with the memfd, which is passed back to the next
 * daemon after the socket it binds itself).  The pool is on 2 MiB
 * hugepages when they can be reserved, else on the 4 KiB fallback: the
 * tests run either way.  Only the check that another uid cannot use a
 * token needs root (setuid); it skips without.
 *
 * A durable client allocates buffers and writes patterns; the daemon is
 * SIGKILLed and restarted; a new connection with the token adopts the
 * buffers (same ids, offsets, lengths, bytes), and the accounting is
 * exact.  Nobody resuming: the grace period's end frees them.  A wrong
 * token, another uid's resume, a durable request to a daemon without a
 * journal: refused, changing nothing.  A non-durable session's buffers
 * are gone after a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "harness.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define NOBODY 65534
#define NBUF 4

static struct {
	char why[160];		/* why the tests skip, "" if they run */
	char dir[64];		/* /tmp/kmemd-resume-XXXXXX */
	char notify[100];	/* dir/notify.sock: $NOTIFY_SOCKET */
	char env_notify[128];
	char state[100];	/* dir/state: --state-dir */
	char spec[256];		/* the memfd pool 'm' */
	int nfd;		/* the notify socket */
	int stored;		/* the pool's memfd, as "systemd" keeps it */
	struct integ_daemon d;
	struct kmem_client *obs;
	struct kmem_client *clients[8];
} F = { .nfd = -1, .stored = -1 };

/* ------------------------------------------------------------ systemd */

/* Read until READY=1, keeping the pool's memfd (FDSTORE=1) the first
 * time: the later ones are the same file. */
static void read_until_ready(void)
{
	uint64_t end = integ_now_ms() + 20000;

	while (integ_now_ms() < end) {
		char text[160];
		int fd;

		if (integ_notify_recv(F.nfd, text, sizeof(text), &fd, 100))
			continue;
		if (fd >= 0 && F.stored < 0 &&
		    !strcmp(text, "FDSTORE=1\nFDNAME=pool-m"))
			F.stored = fd;
		else if (fd >= 0)
			close(fd);
		if (!strcmp(text, "READY=1"))
			return;
	}
	integ_daemon_dump_log(&F.d);
	fail_msg("no READY=1 from the daemon within 20 s");
}

/* ------------------------------------------------------------ fixture */

static int group_setup(void **state)
{

	(void)state;
	strcpy(F.dir, "/tmp/kmemd-resume-XXXXXX");
	if (!mkdtemp(F.dir)) {
		printf("mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	chmod(F.dir, 0755);
	snprintf(F.notify, sizeof(F.notify), "%s/notify.sock", F.dir);
	snprintf(F.env_notify, sizeof(F.env_notify), "NOTIFY_SOCKET=%s", F.notify);
	snprintf(F.state, sizeof(F.state), "%s/state", F.dir);
	F.nfd = integ_notify_open(F.notify);
	if (F.nfd < 0)
		return -1;
	if (integ_pool_mib(8) < 8) {
		snprintf(F.why, sizeof(F.why), "an 8 MiB pool does not fit "
			 "RLIMIT_MEMLOCK");
		return 0;
	}
	integ_pool_spec(F.spec, sizeof(F.spec), "m", 8, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	char path[160];

	(void)state;
	integ_hugepages_release();
	if (F.nfd >= 0)
		close(F.nfd);
	unlink(F.notify);
	snprintf(path, sizeof(path), "%s/journal", F.state);
	unlink(path);
	rmdir(F.state);
	rmdir(F.dir);
	return 0;
}

static void put_clients(void)
{
	for (size_t i = 0; i < sizeof(F.clients) / sizeof(F.clients[0]); i++) {
		if (F.clients[i])
			kmem_client_disconnect(F.clients[i]);
		F.clients[i] = NULL;
	}
	if (F.obs)
		kmem_client_disconnect(F.obs);
	F.obs = NULL;
}

static void stop_all(void)
{
	put_clients();
	integ_daemon_cleanup(&F.d);
	if (F.stored >= 0)
		close(F.stored);
	F.stored = -1;
}

static int fresh(void **state)
{
	char text[160], path[160];
	int fd;

	(void)state;
	stop_all();
	while (integ_notify_recv(F.nfd, text, sizeof(text), &fd, 0) == 0)
		if (fd >= 0)
			close(fd);
	snprintf(path, sizeof(path), "%s/journal", F.state);
	unlink(path);
	return 0;
}

static int done(void **state)
{
	(void)state;
	stop_all();
	return 0;
}

static void need_pool(void)
{
	if (F.why[0]) {
		printf("skipped: %s\n", F.why);
		skip();
	}
}

/* Start kmemd as systemd would (the stored memfd passed back after a
 * crash), with the journal and a grace period; connect the observer. */
static void start(const char *grace, bool with_journal)
{
	const char *args[] = { "--pool", F.spec, "--resume-grace", grace,
			       with_journal ? "--state-dir" : NULL, F.state, NULL };
	const char *env[] = { F.env_notify, NULL };
	const char *names[] = { "pool-m" };
	struct integ_daemon_env e = {
		.env = env, .listen_name = F.stored >= 0 ? "kmemd.socket" : NULL,
		.fds = &F.stored, .names = names, .nfds = F.stored >= 0,
	};
	char msg[KMEM_MSG_MAX];

	assert_int_equal(integ_daemon_start_ex(&F.d, args, &e), 0);
	read_until_ready();
	if (kmem_client_connect(F.d.sock, "integ-observer", &F.obs, msg,
				sizeof(msg)))
		fail_msg("observer: %s", msg);
	assert_int_equal(integ_wait_sessions(F.obs, 1, 5000), 0);
}

/* SIGKILL: no shutdown path runs; the clients' connections die too. */
static void crash(void)
{
	int st = integ_daemon_kill(&F.d);

	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	put_clients();
	integ_daemon_cleanup(&F.d);
}

static struct kmem_client *keep(struct kmem_client *c)
{
	for (size_t i = 0; i < sizeof(F.clients) / sizeof(F.clients[0]); i++)
		if (!F.clients[i]) {
			F.clients[i] = c;
			return c;
		}
	fail_msg("too many connections in one test");
	return NULL;
}

static void put_client(struct kmem_client *c)
{
	for (size_t i = 0; i < sizeof(F.clients) / sizeof(F.clients[0]); i++)
		if (F.clients[i] == c)
			F.clients[i] = NULL;
	kmem_client_disconnect(c);
}

static struct kmem_client *connect_durable(const char *name)
{
	struct kmem_connect_opts o = { KMEM_CONNECT_DURABLE };
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];

	if (kmem_client_connect_opts(F.d.sock, name, &o, &c, msg, sizeof(msg)))
		fail_msg("connect %s: %s", name, msg);
	return keep(c);
}

static uint64_t daemon_u64(const char *path)
{
	json_t *doc = integ_stats(F.obs);
	uint64_t v = UINT64_MAX;

	assert_non_null(doc);
	assert_int_equal(integ_json_u64(doc, path, &v), 0);
	json_decref(doc);
	return v;
}

/* What a durable client holds when the daemon dies. */
struct held {
	struct kmem_buf b[NBUF];
	uint8_t token[KMEM_SESSION_TOKEN_LEN];
	uint64_t bytes;		/* of the buffers kept (all but b[1]) */
};

/* Allocate NBUF buffers, write patterns, free b[1] (a FREE record). */
static void make_durable(struct held *h)
{
	static const uint64_t size[NBUF] = { 4 * KIB, 64 * KIB, 100, 1 * MIB };
	struct kmem_client *c = connect_durable("integ-durable");

	assert_int_equal(kmem_client_session_token(c, h->token), 0);
	assert_string_equal(kmem_client_durable_note(c), "");
	assert_int_equal(kmem_client_resume_grace_ms(c) > 0, 1);
	h->bytes = 0;
	for (int i = 0; i < NBUF; i++) {
		assert_int_equal(kmem_client_alloc(c, size[i], NULL, &h->b[i]), 0);
		integ_pattern_fill(h->b[i].ptr, h->b[i].len, (uint64_t)i + 1);
		if (i != 1)
			h->bytes += h->b[i].len;
	}
	/* A durable session's small buffer is a page, not a slab object. */
	assert_true(h->b[2].len >= 4 * KIB);
	assert_int_equal(kmem_client_free(c, &h->b[1]), 0);
}

/* ------------------------------------------------------------ tests */

/* Verify finds nothing wrong, orphans waiting or not. */
static void expect_consistent(void)
{
	struct kmem_verify v;

	assert_int_equal(kmem_client_verify(F.obs, &v), 0);
	for (size_t i = 0; i < v.nproblems; i++)
		printf("verify: %s\n", v.problems[i]);
	assert_int_equal(v.nproblems, 0);
	kmem_client_verify_release(&v);
}

static void test_daemon_resume_adopts_leases_after_sigkill(void **state)
{
	struct integ_acct initial, before, after;
	struct kmem_client *c, *plain;
	struct kmem_buf gone, b;
	struct held h;
	uint8_t tok[KMEM_SESSION_TOKEN_LEN];
	char msg[KMEM_MSG_MAX];

	(void)state;
	need_pool();
	start("30000", true);
	assert_int_equal(integ_acct(F.obs, 0, &initial), 0);
	make_durable(&h);
	/* A plain session's buffer, which must not come back. */
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-plain", &plain,
					     msg, sizeof(msg)), 0);
	keep(plain);
	assert_int_equal(kmem_client_alloc(plain, 1 * MIB, NULL, &gone), 0);
	assert_int_equal(integ_acct(F.obs, 0, &before), 0);
	assert_int_equal(before.pool_leases, 4);

	crash();
	start("30000", true);
	assert_true(integ_daemon_log_has(&F.d, "3 lease(s) of durable sessions "
					 "kept for 30000 ms"));
	assert_int_equal(daemon_u64("daemon/orphaned_leases"), 3);
	assert_int_equal(daemon_u64("daemon/orphaned_bytes"), h.bytes);
	/* Orphans are held in the pool, charged to nobody. */
	assert_int_equal(integ_acct(F.obs, 0, &after), 0);
	assert_int_equal(after.bytes_free, initial.bytes_free - h.bytes);
	assert_int_equal(after.pool_leases, 0);
	expect_consistent();

	assert_int_equal(kmem_client_resume(F.d.sock, "integ-resumed", NULL,
					    h.token, &c, msg, sizeof(msg)), 0);
	keep(c);
	assert_int_equal(kmem_client_nresumed(c), 3);
	assert_int_equal(kmem_client_session_token(c, tok), 0);
	assert_memory_equal(tok, h.token, sizeof(tok));
	for (int i = 0; i < NBUF; i++) {
		if (i == 1) {
			assert_int_equal(kmem_client_lease_buf(c, h.b[1].id, &b),
					 KMEM_ENOENT);
			continue;
		}
		assert_int_equal(kmem_client_lease_buf(c, h.b[i].id, &b), 0);
		assert_int_equal(b.id, h.b[i].id);
		assert_int_equal(b.offset, h.b[i].offset);
		assert_int_equal(b.len, h.b[i].len);
		assert_int_equal(integ_pattern_check(b.ptr, b.len, (uint64_t)i + 1),
				 b.len);
	}
	assert_int_equal(daemon_u64("daemon/orphaned_leases"), 0);
	assert_int_equal(integ_acct(F.obs, 0, &after), 0);
	assert_int_equal(after.bytes_free, initial.bytes_free - h.bytes);
	assert_int_equal(after.bytes_leased, h.bytes);
	expect_consistent();
	assert_int_equal(after.pool_leases, 3);
	assert_int_equal(after.leases, 3);
	/* They are the session's now: freed by it, and by its end. */
	assert_int_equal(kmem_client_lease_buf(c, h.b[0].id, &b), 0);
	assert_int_equal(kmem_client_free(c, &b), 0);
	assert_int_equal(integ_acct(F.obs, 0, &after), 0);
	assert_int_equal(after.pool_leases, 2);
	/* The token was used: a second resume finds nothing. */
	assert_int_equal(kmem_client_resume(F.d.sock, "integ-again", NULL,
					    h.token, &plain, msg, sizeof(msg)),
			 KMEM_ENOENT);
	put_client(c);
	assert_int_equal(integ_wait_sessions(F.obs, 1, 5000), 0);
	assert_int_equal(integ_acct(F.obs, 0, &after), 0);
	assert_int_equal(after.bytes_free, initial.bytes_free);
	assert_int_equal(after.pool_leases, 0);

	/* The clean end was journaled: nothing comes back after a crash. */
	crash();
	start("30000", true);
	assert_int_equal(daemon_u64("daemon/orphaned_leases"), 0);
	assert_int_equal(integ_acct(F.obs, 0, &after), 0);
	assert_int_equal(after.bytes_free, initial.bytes_free);
}

static void test_daemon_resume_grace_period_ends(void **state)
{
	struct integ_acct initial, after;
	struct kmem_client *c = NULL;
	struct held h;
	char msg[KMEM_MSG_MAX];
	uint64_t t0;

	(void)state;
	need_pool();
	start("1000", true);
	assert_int_equal(integ_acct(F.obs, 0, &initial), 0);
	make_durable(&h);
	crash();
	t0 = integ_now_ms();
	start("1000", true);
	/* Within the grace period (unless the start took it all). */
	if (integ_now_ms() - t0 < 800)
		assert_int_equal(daemon_u64("daemon/orphaned_leases"), 3);
	integ_sleep_ms(1500);
	assert_int_equal(daemon_u64("daemon/orphaned_leases"), 0);
	assert_int_equal(integ_acct(F.obs, 0, &after), 0);
	assert_int_equal(after.bytes_free, initial.bytes_free);
	assert_int_equal(after.pool_leases, 0);
	assert_true(integ_daemon_log_has(&F.d, "nobody resumed the session "
					 "within 1000 ms"));
	assert_int_equal(kmem_client_resume(F.d.sock, "integ-late", NULL,
					    h.token, &c, msg, sizeof(msg)),
			 KMEM_ENOENT);
	assert_non_null(strstr(msg, "grace period"));
	/* Freed for the journal too. */
	crash();
	start("1000", true);
	assert_int_equal(daemon_u64("daemon/orphaned_leases"), 0);
	assert_int_equal(integ_acct(F.obs, 0, &after), 0);
	assert_int_equal(after.bytes_free, initial.bytes_free);
}

/* A clean stop (SIGTERM, as systemctl restart sends) keeps them too. */
static void test_daemon_resume_after_clean_stop(void **state)
{
	struct kmem_client *c = NULL;
	struct held h;
	char msg[KMEM_MSG_MAX];

	(void)state;
	need_pool();
	start("30000", true);
	make_durable(&h);
	assert_int_equal(integ_daemon_stop(&F.d), 0);
	put_clients();
	integ_daemon_cleanup(&F.d);
	start("30000", true);
	assert_int_equal(daemon_u64("daemon/orphaned_leases"), 3);
	assert_int_equal(kmem_client_resume(F.d.sock, "integ-back", NULL,
					    h.token, &c, msg, sizeof(msg)), 0);
	keep(c);
	assert_int_equal(kmem_client_nresumed(c), 3);
	for (int i = 0; i < NBUF; i++) {
		struct kmem_buf b;

		if (i == 1)
			continue;
		assert_int_equal(kmem_client_lease_buf(c, h.b[i].id, &b), 0);
		assert_int_equal(b.offset, h.b[i].offset);
		assert_int_equal(integ_pattern_check(b.ptr, b.len, (uint64_t)i + 1),
				 b.len);
	}
}

struct child_arg {
	const char *sock;
	const uint8_t *token;
};

static void nobody_resumes(void *p)
{
	const struct child_arg *a = p;
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];

	CHILD_EQ(kmem_client_resume(a->sock, "integ-thief", NULL, a->token, &c,
				    msg, sizeof(msg)), KMEM_EPERM);
	CHILD_CHECK(c == NULL);
}

static void test_daemon_resume_refuses_wrong_token_and_uid(void **state)
{
	struct integ_acct orphaned, after;
	struct kmem_client *c = NULL;
	struct held h;
	uint8_t wrong[KMEM_SESSION_TOKEN_LEN];
	char msg[KMEM_MSG_MAX];

	(void)state;
	need_pool();
	start("30000", true);
	make_durable(&h);
	crash();
	start("30000", true);
	assert_int_equal(integ_acct(F.obs, 0, &orphaned), 0);

	memcpy(wrong, h.token, sizeof(wrong));
	wrong[7] ^= 0x40;
	assert_int_equal(kmem_client_resume(F.d.sock, "integ-wrong", NULL,
					    wrong, &c, msg, sizeof(msg)),
			 KMEM_ENOENT);
	assert_null(c);
	if (geteuid() == 0) {
		struct child_arg a = { F.d.sock, h.token };
		struct integ_child ch;
		char verdict[512];
		int st;

		assert_int_equal(integ_child_start(&ch, NOBODY, NOBODY,
						   nobody_resumes, &a), 0);
		st = integ_child_finish(&ch, verdict, sizeof(verdict), 10000);
		assert_string_equal(verdict, "ok");
		assert_int_equal(st, 0);
	} else {
		printf("another uid's resume not tried: needs root (setuid)\n");
	}
	/* Neither changed anything: the owner still resumes. */
	assert_int_equal(daemon_u64("daemon/orphaned_leases"), 3);
	assert_int_equal(integ_acct(F.obs, 0, &after), 0);
	assert_int_equal(after.bytes_free, orphaned.bytes_free);
	assert_int_equal(kmem_client_resume(F.d.sock, "integ-owner", NULL,
					    h.token, &c, msg, sizeof(msg)), 0);
	keep(c);
	assert_int_equal(kmem_client_nresumed(c), 3);
	assert_int_equal(daemon_u64("daemon/orphaned_leases"), 0);
}

static void test_daemon_resume_needs_a_journal(void **state)
{
	struct kmem_client *c = NULL;
	uint8_t tok[KMEM_SESSION_TOKEN_LEN] = { 1 };
	char msg[KMEM_MSG_MAX];

	(void)state;
	need_pool();
	start("30000", false);
	c = connect_durable("integ-nojournal");
	assert_int_equal(kmem_client_session_token(c, tok), KMEM_ENOENT);
	assert_string_equal(kmem_client_durable_note(c),
			    "kmemd keeps no journal (--state-dir)");
	assert_int_equal(kmem_client_resume_grace_ms(c), 0);
	c = NULL;
	assert_int_equal(kmem_client_resume(F.d.sock, "integ-r", NULL, tok, &c,
					    msg, sizeof(msg)), KMEM_ENOENT);
	assert_null(c);
	stop_all();
	/* --resume-grace 0: durable sessions are off. */
	start("0", true);
	c = connect_durable("integ-off");
	assert_int_equal(kmem_client_session_token(c, tok), KMEM_ENOENT);
	assert_string_equal(kmem_client_durable_note(c),
			    "resume is off (--resume-grace 0)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_daemon_resume_adopts_leases_after_sigkill, fresh, done),
		cmocka_unit_test_setup_teardown(test_daemon_resume_grace_period_ends, fresh, done),
		cmocka_unit_test_setup_teardown(test_daemon_resume_after_clean_stop, fresh, done),
		cmocka_unit_test_setup_teardown(test_daemon_resume_refuses_wrong_token_and_uid, fresh, done),
		cmocka_unit_test_setup_teardown(test_daemon_resume_needs_a_journal, fresh, done),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
