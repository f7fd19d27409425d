/*
 * notify.c - systemd integration with libsystemd (sd_notify, sd_listen_fds,
 * sd_watchdog_enabled): the reason to link it is that these protocols have
 * details (abstract sockets, fd names, watchdog PIDs) better left to the
 * reference implementation.
 *
 * The watchdog is pinged from the event loop itself, so a loop stuck in a
 * long operation stops the pings and systemd restarts the daemon.  Each
 * ping also refreshes STATUS= with a one-line summary.
 */
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

static uv_timer_t watchdog;
static bool watchdog_on;

int notify_listen_fd(const char *path)
{
	int n = sd_listen_fds(0);

	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, path, 0) > 0)
			return fd;
	}
	return -1;
}

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
