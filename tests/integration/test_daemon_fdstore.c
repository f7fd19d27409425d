/*
 * test_daemon_fdstore.c - memfd pools survive a daemon crash through
 * systemd's file descriptor store, with systemd emulated.
 *
 * What systemd does, this test does: it binds a datagram socket and gives
 * its path as $NOTIFY_SOCKET, receives the daemon's FDSTORE=1 message with
 * the pool's memfd (SCM_RIGHTS), SIGKILLs the daemon, and starts a new one
 * with that memfd passed back as fd 3 onwards (LISTEN_FDS, LISTEN_FDNAMES
 * "pool-<name>", LISTEN_PID), after the listening socket it bound itself
 * (socket activation, named "kmemd.socket").  The new daemon must adopt
 * the memory, and the journal (--state-dir) must give back every named
 * buffer with its id, offsets and every byte its owner wrote, accounting
 * for exactly what the old daemon did.  Memory that does not fit the pool
 * (another size, another page size) must be refused with a clear log line
 * and let go (FDSTOREREMOVE=1 before the new FDSTORE=1), the pool made
 * afresh, and the named buffers that lay in it dropped.
 *
 * The pool is on 2 MiB hugepages when they can be reserved (root), else
 * on the 4 KiB fallback, which is a memfd too: the tests run either way,
 * and skip only when no pool fits RLIMIT_MEMLOCK.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "harness.h"
#include "named.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define NOTES_MAX 32

/* What the daemon told "systemd", in order. */
struct notes {
	size_t n;
	char text[NOTES_MAX][160];
	int fd[NOTES_MAX];	/* the fd that came with text[i], or -1 */
};

static struct {
	char why[160];		/* why the tests skip, "" if they run */
	char dir[64];		/* /tmp/kmemd-fdstore-XXXXXX */
	char notify[100];	/* dir/notify.sock: $NOTIFY_SOCKET */
	char env_notify[128];	/* "NOTIFY_SOCKET=..." */
	char state[100];	/* dir/state: --state-dir */
	char spec[256];		/* the memfd pool 'm' */
	uint64_t bytes;		/* its size */
	bool huge;		/* on 2 MiB hugepages */
	int nfd;		/* the notify socket */
	struct integ_daemon d;
	struct kmem_client *obs;
	struct kmem_client *clients[4];
	struct notes ns;	/* of the daemon started last */
	int held[4];		/* fds a test holds; closed when it ends */
} F = { .nfd = -1, .held = { -1, -1, -1, -1 } };

/* A named buffer a test creates and expects back. */
/* ------------------------------------------------------------ systemd */

static void notes_close(struct notes *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		if (ns->fd[i] >= 0)
			close(ns->fd[i]);
	ns->n = 0;
}

/* Everything the daemon says until READY=1 (pools are made before it). */
static void read_until_ready(struct notes *ns)
{
	uint64_t end = integ_now_ms() + 20000;

	notes_close(ns);
	while (integ_now_ms() < end) {
		char text[sizeof(ns->text[0])];
		int fd;

		if (integ_notify_recv(F.nfd, text, sizeof(text), &fd, 100))
			continue;
		assert_true(ns->n < NOTES_MAX);
		snprintf(ns->text[ns->n], sizeof(ns->text[0]), "%s", text);
		ns->fd[ns->n++] = fd;
		if (!strcmp(text, "READY=1"))
			return;
	}
	integ_daemon_dump_log(&F.d);
	fail_msg("no READY=1 from the daemon within 20 s");
}

static int note_index(const struct notes *ns, const char *text)
{
	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->text[i], text))
			return (int)i;
	return -1;
}

/* Take the fd that came with text (the caller closes it). */
static int note_fd(struct notes *ns, const char *text)
{
	int i = note_index(ns, text), fd;

	if (i < 0)
		fail_msg("the daemon never said \"%s\"", text);
	fd = ns->fd[i];
	ns->fd[i] = -1;
	return fd;
}

/* ------------------------------------------------------------ fixture */

static int group_setup(void **state)
{
	unsigned mib;

	(void)state;
	strcpy(F.dir, "/tmp/kmemd-fdstore-XXXXXX");
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
	mib = integ_pool_mib(16);
	if (mib < 16) {
		snprintf(F.why, sizeof(F.why), "a 16 MiB pool does not fit "
			 "RLIMIT_MEMLOCK (%u MiB would)", mib);
		return 0;
	}
	F.huge = integ_pool_spec(F.spec, sizeof(F.spec), "m", 16, NULL);
	F.bytes = 16 * MIB;
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
}

/* Hold fd until the test ends (a failed test must not leave memory
 * pinned for the next one). */
static int hold(int fd)
{
	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(F.held) / sizeof(F.held[0]); i++)
		if (F.held[i] < 0) {
			F.held[i] = fd;
			return fd;
		}
	fail_msg("too many fds held");
	return -1;
}

static void unhold(int fd)
{
	for (size_t i = 0; i < sizeof(F.held) / sizeof(F.held[0]); i++)
		if (F.held[i] == fd)
			F.held[i] = -1;
	close(fd);
}

static void stop_all(void)
{
	for (size_t i = 0; i < sizeof(F.held) / sizeof(F.held[0]); i++)
		if (F.held[i] >= 0)
			unhold(F.held[i]);
	notes_close(&F.ns);
	put_clients();
	if (F.obs)
		kmem_client_disconnect(F.obs);
	F.obs = NULL;
	integ_daemon_cleanup(&F.d);
}

/* Each test starts with no daemon, an empty notify queue, no journal. */
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

/*
 * Start kmemd as systemd would: $NOTIFY_SOCKET, the journal, and fds
 * (named names) passed back after the socket when activate is set.  Then
 * read what it says until READY=1, and connect the observer.
 */
static void start(const int *fds, const char *const *names, size_t nfds,
		  bool activate)
{
	const char *args[] = { "--pool", F.spec, "--state-dir", F.state, NULL };
	const char *env[] = { F.env_notify, NULL };
	struct integ_daemon_env e = {
		.env = env, .listen_name = activate ? "kmemd.socket" : NULL,
		.fds = fds, .names = names, .nfds = nfds,
	};
	char msg[KMEM_MSG_MAX];

	assert_int_equal(integ_daemon_start_ex(&F.d, args, &e), 0);
	read_until_ready(&F.ns);
	if (kmem_client_connect(F.d.sock, "integ-observer", &F.obs, msg,
				sizeof(msg)))
		fail_msg("observer: %s", msg);
	assert_int_equal(integ_wait_sessions(F.obs, 1, 5000), 0);
}

/* The crash: SIGKILL, no shutdown path at all. */
static void crash(void)
{
	int st = integ_daemon_kill(&F.d);

	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	put_clients();
	kmem_client_disconnect(F.obs);
	F.obs = NULL;
	integ_daemon_cleanup(&F.d);
}

static struct kmem_client *connect_as(const char *name)
{
	struct kmem_client *c = NULL;
	char msg[KMEM_MSG_MAX];

	if (kmem_client_connect(F.d.sock, name, &c, msg, sizeof(msg)))
		fail_msg("connect %s: %s", name, msg);
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
		if (F.clients[i] == c) {
			kmem_client_disconnect(c);
			F.clients[i] = NULL;
		}
}

static void take_acct(struct integ_acct *a)
{
	assert_int_equal(integ_acct(F.obs, 0, a), 0);
}

static bool log_has(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool log_has(const char *fmt, ...)
{
	char needle[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(needle, sizeof(needle), fmt, ap);
	va_end(ap);
	return integ_daemon_log_has(&F.d, needle);
}

/* ------------------------------------------------------------ buffers */






/* Read the kept memfd directly: n's bytes are there (it is the pool).  A
 * scatter buffer's pattern runs on from one segment to the next. */
static void kept_holds(int fd, const struct integ_nb *n)
{
	uint8_t *p = mmap(NULL, F.bytes, PROT_READ, MAP_SHARED, fd, 0);
	uint64_t word = 0, salt = integ_salt_of(n->name);

	assert_true(p != MAP_FAILED);
	for (size_t g = 0; g < n->b.nsegs; g++) {
		const struct kmem_seg *sg = &n->segs[g];

		for (uint64_t j = 0; j < sg->len / 8; j += 509) {
			uint64_t w;

			memcpy(&w, p + sg->offset + j * 8, 8);
			assert_int_equal(w, integ_pattern_word(salt, word + j));
		}
		word += sg->len / 8;
	}
	munmap(p, F.bytes);
}

static void assert_memfd_of_pool(int fd)
{
	struct statfs sfs;
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(fstatfs(fd, &sfs), 0);
	assert_int_equal(st.st_size, (off_t)F.bytes);
	if (F.huge) {
		assert_int_equal(sfs.f_type, HUGETLBFS_MAGIC);
		assert_int_equal(sfs.f_bsize, 2 * MIB);
	} else {
		assert_int_equal(sfs.f_type, TMPFS_MAGIC);
	}
}

static bool same_file(int a, int b)
{
	struct stat x, y;

	assert_int_equal(fstat(a, &x), 0);
	assert_int_equal(fstat(b, &y), 0);
	return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* ------------------------------------------------------------ tests */

static void test_daemon_fdstore_memfd_pool_survives_sigkill(void **state)
{
	struct integ_nb nb[4] = {
		{ "fs-4k", 4 * KIB, 0, { 0 }, { { 0 } } },
		{ "fs-1m", 1 * MIB, 0, { 0 }, { { 0 } } },
		{ "fs-2m", 2 * MIB, 0, { 0 }, { { 0 } } },
		{ "fs-6m", 6 * MIB, KMEM_SCATTER, { 0 }, { { 0 } } },
	};
	struct integ_nb kept[3];
	struct integ_acct before, after;
	struct kmem_client *c;
	struct kmem_buf sess, v;
	const char *names[2] = { "pool-m", "pool-old" };
	int fds[2], stored, again;

	(void)state;
	need_pool();
	start(NULL, NULL, 0, false);
	/* The pool's memfd went to the store before READY=1. */
	stored = hold(note_fd(&F.ns, "FDSTORE=1\nFDNAME=pool-m"));
	assert_memfd_of_pool(stored);
	assert_true(note_index(&F.ns, "FDSTORE=1\nFDNAME=pool-m") <
		    note_index(&F.ns, "READY=1"));
	assert_true(log_has("pool m: its memfd is kept in systemd's fd store "
			    "(FDNAME=pool-m)"));
	notes_close(&F.ns);

	c = connect_as("integ-maker");
	for (int i = 0; i < 4; i++)
		integ_nb_create(c, &nb[i]);
	assert_int_equal(kmem_client_free_id(c, nb[1].b.id), 0);
	kept[0] = nb[0];
	kept[1] = nb[2];
	kept[2] = nb[3];
	/* What the store holds is the pool itself. */
	for (int k = 0; k < 3; k++)
		kept_holds(stored, &kept[k]);
	take_acct(&before);
	assert_int_equal(before.named, 3);
	assert_int_equal(before.pool_leases, 3);
	/* A session lease dies with the daemon: its memory comes back. */
	assert_int_equal(kmem_client_alloc(c, 1 * MIB, NULL, &sess), 0);
	integ_pattern_fill(sess.ptr, sess.len, 7);

	crash();
	/* systemd passes back the socket, the pool's memfd and one of a
	 * pool that is no longer configured. */
	fds[0] = stored;
	fds[1] = hold(memfd_create("kmem-test-old", MFD_CLOEXEC));
	assert_int_equal(ftruncate(fds[1], 4 * MIB), 0);
	start(fds, names, 2, true);
	unhold(fds[1]);
	assert_true(log_has("listening on %s (from systemd)", F.d.sock));
	assert_true(log_has("pool m: adopted the memory systemd kept for it "
			    "(16 MiB, contents kept)"));
	assert_true(log_has("systemd kept memory for pool 'old', which is not "
			    "configured any more; it is let go (FDSTOREREMOVE)"));
	assert_true(log_has("3 named buffer(s) restored, 0 dropped"));
	assert_true(note_index(&F.ns, "FDSTOREREMOVE=1\nFDNAME=pool-old") >= 0);
	assert_true(note_index(&F.ns, "FDSTOREREMOVE=1\nFDNAME=pool-m") < 0);
	/* Stored again: the same file (systemd keeps one copy of it). */
	again = hold(note_fd(&F.ns, "FDSTORE=1\nFDNAME=pool-m"));
	assert_true(same_file(again, stored));
	unhold(again);
	notes_close(&F.ns);

	take_acct(&after);
	assert_int_equal(after.bytes_free, before.bytes_free);
	assert_int_equal(after.bytes_leased, before.bytes_leased);
	assert_int_equal(after.pool_leases, before.pool_leases);
	assert_int_equal(after.leases, before.leases);
	assert_int_equal(after.named, 3);
	assert_int_equal(after.sessions, 1);
	c = connect_as("integ-heir");
	for (int k = 0; k < 3; k++) {
		integ_nb_lookup_intact(c, &kept[k], &v);
		assert_int_equal(kmem_client_detach(c, &v), 0);
	}
	integ_nb_assert_gone(c, "fs-1m");
	integ_nb_fill_rest_and_check(c, F.obs, kept, 3);
	take_acct(&after);
	assert_int_equal(after.bytes_free, before.bytes_free);
	assert_int_equal(after.named, 3);
	/* Freed for good: the pool is whole again. */
	for (int k = 0; k < 3; k++)
		assert_int_equal(kmem_client_free_id(c, kept[k].b.id), 0);
	put_client(c);
	assert_int_equal(integ_wait_sessions(F.obs, 1, 5000), 0);
	take_acct(&after);
	assert_int_equal(after.bytes_free, F.bytes);
	assert_int_equal(after.bytes_leased, 0);
	assert_int_equal(after.pool_leases, 0);
	assert_int_equal(after.leases, 0);
	assert_int_equal(after.named, 0);
	unhold(stored);
}

/*
 * A named buffer is made and the daemon crashes; the memfd handed back is
 * not the pool's (made by make_wrong).  The daemon must say why it is not
 * used, let it go before storing the new pool's, drop the named buffer
 * (its memory is not there) and start with the whole pool free.
 */
static void refused(int wrong, const char *why_fmt)
{
	struct integ_nb n = { "wr-a", 64 * KIB, 0, { 0 }, { { 0 } } };
	const char *names[1] = { "pool-m" };
	struct integ_acct a;
	struct kmem_client *c;
	char why[160];
	int stored;

	start(NULL, NULL, 0, false);
	notes_close(&F.ns);	/* the store's copy is let go: pages back */
	c = connect_as("integ-maker");
	integ_nb_create(c, &n);
	crash();

	start(&wrong, names, 1, false);
	/* The daemon's copy of the wrong fd was fd 3. */
	snprintf(why, sizeof(why), why_fmt, 3);
	assert_true(log_has("pool m: the memory systemd kept for it is not "
			    "used: %s; it is let go (FDSTOREREMOVE) and a new, "
			    "empty pool is made", why));
	assert_true(note_index(&F.ns, "FDSTOREREMOVE=1\nFDNAME=pool-m") >= 0);
	assert_true(note_index(&F.ns, "FDSTOREREMOVE=1\nFDNAME=pool-m") <
		    note_index(&F.ns, "FDSTORE=1\nFDNAME=pool-m"));
	stored = hold(note_fd(&F.ns, "FDSTORE=1\nFDNAME=pool-m"));
	assert_memfd_of_pool(stored);
	assert_false(same_file(stored, wrong));
	unhold(stored);
	notes_close(&F.ns);
	assert_true(log_has("journal: named buffer 'wr-a' (lease %llu) dropped: "
			    "pool 'm' did not keep its memory across the restart "
			    "(use path=, or systemd's fd store: see kmemd(8))",
			    (unsigned long long)n.b.id));
	assert_true(log_has("0 named buffer(s) restored, 1 dropped"));
	take_acct(&a);
	assert_int_equal(a.bytes_free, F.bytes);
	assert_int_equal(a.bytes_leased, 0);
	assert_int_equal(a.leases, 0);
	assert_int_equal(a.named, 0);
	c = connect_as("integ-heir");
	integ_nb_assert_gone(c, "wr-a");
	put_client(c);
}

static void test_daemon_fdstore_wrong_size_is_refused(void **state)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	char why[96];
	int fd;

	(void)state;
	need_pool();
	/* The same kind of memory, half the size (ftruncate alone: no page
	 * is taken from the hugepages reserved for the pool). */
	if (F.huge)
		flags |= MFD_HUGETLB;
	fd = hold(memfd_create("kmem-test-half", flags));
	assert_int_equal(ftruncate(fd, (off_t)(F.bytes / 2)), 0);
	snprintf(why, sizeof(why), "fd %%d is %llu bytes, not %llu",
		 (unsigned long long)(F.bytes / 2), (unsigned long long)F.bytes);
	refused(fd, why);
	unhold(fd);
}

static void test_daemon_fdstore_wrong_page_size_is_refused(void **state)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	int fd;

	(void)state;
	need_pool();
	/* The other kind of page, the right size. */
	if (!F.huge)
		flags |= MFD_HUGETLB;
	fd = memfd_create("kmem-test-page", flags);
	if (fd < 0) {
		printf("skipped: memfd_create(MFD_HUGETLB): %s\n", strerror(errno));
		skip();
	}
	hold(fd);
	assert_int_equal(ftruncate(fd, (off_t)F.bytes), 0);
	refused(fd, F.huge ? "fd %d holds 4 KiB pages, not 2 MiB" :
		"fd %d holds 2 MiB pages, not 4 KiB");
	unhold(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_daemon_fdstore_memfd_pool_survives_sigkill, fresh, done),
		cmocka_unit_test_setup_teardown(test_daemon_fdstore_wrong_size_is_refused, fresh, done),
		cmocka_unit_test_setup_teardown(test_daemon_fdstore_wrong_page_size_is_refused, fresh, done),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("INTEG_FILTER"))
		cmocka_set_test_filter(getenv("INTEG_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
