/*
 * notify.c - systemd integration with libsystemd (sd_notify, sd_listen_fds,
 * sd_watchdog_enabled): the reason to link it is that these protocols have
 * details (abstract sockets, fd names, watchdog PIDs) better left to the
 * reference implementation.
 *
 * The watchdog is pinged from the event loop itself, so a loop stuck in a
 * long operation stops the pings and systemd restarts the daemon.  Each
 * ping also refreshes STATUS= with a one-line summary.
 *
 * The file descriptor store: systemd passes back the fds a service stored
 * (FDSTORE=1) with the ones of its sockets, all as LISTEN_FDS, told apart
 * only by their names (LISTEN_FDNAMES): a socket's is its
 * FileDescriptorName= (default: the socket unit's name), a stored fd's is
 * the FDNAME= it was stored with.  Ours are "pool-<pool name>".  The
 * environment is never unset, so the socket can be looked up after the
 * pools have taken their fds; their numbers then point at /dev/null (see
 * notify_fdstore_close), and the socket lookup skips them by name.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

static uv_timer_t watchdog;
static bool watchdog_on;

static bool is_stored(char **names, int i)
{
	return names && names[i] && !strncmp(names[i], NOTIFY_FDSTORE_PREFIX,
					     strlen(NOTIFY_FDSTORE_PREFIX));
}

static void free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

int notify_listen_fd(const char *path)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names), found = -1;

	for (int i = 0; i < n && found < 0; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (!is_stored(names, i) &&
		    sd_is_socket_unix(fd, SOCK_STREAM, 1, path, 0) > 0)
			found = fd;
	}
	free_names(names);
	return found;
}

/* ------------------------------------------------------------ fd store */

static void remove_name(const char *fdname)
{
	sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", fdname);
}

void notify_fdstore_collect(struct notify_fdstore *s, bool journal)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names);

	memset(s, 0, sizeof(*s));
	s->adopt = journal;
	s->store = journal && getenv("NOTIFY_SOCKET");
	if (n < 0)
		log_warn("systemd: the passed file descriptors cannot be "
			 "read: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		if (!is_stored(names, i))
			continue;
		if (s->n == NOTIFY_STORED_MAX) {
			log_warn("systemd: more than %d stored pool fds; %s "
				 "is let go (FDSTOREREMOVE)", NOTIFY_STORED_MAX,
				 names[i]);
			remove_name(names[i]);
			notify_fdstore_close(SD_LISTEN_FDS_START + i);
			continue;
		}
		s->e[s->n].fd = SD_LISTEN_FDS_START + i;
		snprintf(s->e[s->n].fdname, sizeof(s->e[s->n].fdname), "%s",
			 names[i]);
		s->n++;
	}
	free_names(names);
}

int notify_fdstore_take(struct notify_fdstore *s, const char *pool)
{
	size_t plen = strlen(NOTIFY_FDSTORE_PREFIX);

	for (size_t i = 0; s->adopt && i < s->n; i++) {
		if (s->e[i].fd >= 0 && !strcmp(s->e[i].fdname + plen, pool)) {
			int fd = s->e[i].fd;

			s->e[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

void notify_fdstore_close(int fd)
{
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* dup3 drops the memfd (and the pages it pins) and keeps the
	 * number open; without /dev/null, closing is all there is left. */
	if (nul < 0 || dup3(nul, fd, O_CLOEXEC) < 0)
		close(fd);
	if (nul >= 0)
		close(nul);
}

void notify_fdstore_put(const struct notify_fdstore *s, const char *pool,
			int fd)
{
	char state[64 + KMEMD_POOL_NAME_MAX];
	int rc;

	if (!s->store)
		return;
	snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=" NOTIFY_FDSTORE_PREFIX
		 "%s", pool);
	rc = sd_pid_notify_with_fds(0, 0, state, &fd, 1);
	if (rc > 0)
		log_info("pool %s: its memfd is kept in systemd's fd store "
			 "(FDNAME=" NOTIFY_FDSTORE_PREFIX "%s)", pool, pool);
	else
		log_warn("pool %s: its memfd cannot be handed to systemd's fd "
			 "store: %s", pool, rc < 0 ? strerror(-rc) :
			 "no notify socket");
}

void notify_fdstore_remove(const char *pool)
{
	char fdname[sizeof(NOTIFY_FDSTORE_PREFIX) + KMEMD_POOL_NAME_MAX];

	snprintf(fdname, sizeof(fdname), NOTIFY_FDSTORE_PREFIX "%s", pool);
	remove_name(fdname);
}

void notify_fdstore_release(struct notify_fdstore *s, bool let_go)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *pool = s->e[i].fdname + strlen(NOTIFY_FDSTORE_PREFIX);

		if (s->e[i].fd < 0)
			continue;
		notify_fdstore_close(s->e[i].fd);
		s->e[i].fd = -1;
		if (!let_go)
			continue;
		if (!s->adopt)
			log_warn("systemd kept memory for pool '%s', but there is "
				 "no journal (--state-dir) to restore its named "
				 "buffers from; it is let go (FDSTOREREMOVE)", pool);
		else
			log_warn("systemd kept memory for pool '%s', which is "
				 "not configured any more; it is let go "
				 "(FDSTOREREMOVE)", pool);
		remove_name(s->e[i].fdname);
	}
}

/* ------------------------------------------------------------ readiness */

static void status(struct kmemd *d)
{
	uint64_t free_bytes = 0;

	for (size_t i = 0; i < d->npools; i++) {
		struct kmem_heap_stats hs;

		kmem_heap_stats(kmem_pool_heap(d->pools[i].pool), &hs);
		free_bytes += hs.free_bytes;
	}
	sd_notifyf(0, "STATUS=%zu pool(s), %zu session(s), %zu lease(s), "
		   "%llu MiB free", d->npools, d->nsessions, d->leases.count,
		   (unsigned long long)(free_bytes >> 20));
}

static void on_watchdog(uv_timer_t *t)
{
	struct kmemd *d = t->data;

	sd_notify(0, "WATCHDOG=1");
	status(d);
}

void notify_ready(struct kmemd *d)
{
	uint64_t usec = 0;

	sd_notify(0, "READY=1");
	status(d);
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		uv_timer_init(d->loop, &watchdog);
		watchdog.data = d;
		uv_timer_start(&watchdog, on_watchdog, usec / 2000, usec / 2000);
		watchdog_on = true;
		log_info("systemd watchdog: pinging every %llu ms",
			 (unsigned long long)(usec / 2000));
	}
}

void notify_stopping(struct kmemd *d)
{
	(void)d;
	sd_notify(0, "STOPPING=1");
	if (watchdog_on) {
		uv_timer_stop(&watchdog);
		uv_close((uv_handle_t *)&watchdog, NULL);
		watchdog_on = false;
	}
}
