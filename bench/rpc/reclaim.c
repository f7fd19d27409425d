/*
 * rpc/reclaim.c - a session's end timed from outside (see reclaim.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../benchutil.h"
#include "kstats.h"
#include "proc.h"
#include "reclaim.h"

#define BATCH_MAX 16384

void rpc_hold(struct kmem_client *c, uint64_t size, uint64_t n)
{
	static struct kmem_buf b[BATCH_MAX];

	while (n) {
		uint32_t k = n > BATCH_MAX ? BATCH_MAX : (uint32_t)n;
		int rc = kmem_client_alloc_batch(c, NULL, size, 0, k, b);

		if (rc)
			rpc_die("AllocBatch of %u: %s: %s", k, kmem_strerror(rc),
				kmem_client_error(c));
		n -= k;
	}
}

/* The number after "key": in text, 0 when there is none. */
static double number(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p && (p = strchr(p, ':')) ? strtod(p + 1, NULL) : 0;
}

/* The daemon's reclaim figures from its JSON stats (0 for a kmemd that
 * has none): slices, their ms, the longest slice's ms. */
static void figures(struct kmem_client *c, double v[3])
{
	char *text = NULL;
	int rc = kmem_client_stats(c, false, &text);

	if (rc)
		rpc_die("Stats: %s: %s", kmem_strerror(rc), kmem_client_error(c));
	v[0] = number(text, "\"reclaim_slices\"");
	v[1] = number(text, "\"reclaim_ms\"");
	v[2] = number(text, "\"reclaim_slice_max_ms\"");
	free(text);
}

void rpc_reclaim_measure(struct kmem_client *meas, struct rpc_pinger *p,
			 struct kmem_client *c, uint64_t n, uint64_t quiet_ns,
			 struct rpc_reclaim *out)
{
	struct rpc_kstats before, k;
	uint64_t t0, t1, t_session = 0, t_gone;
	double f0[3], f1[3];

	figures(meas, f0);
	rpc_kstats_prom(meas, &before);
	if (p) {
		rpc_pinger_go(p);
		usleep((useconds_t)(quiet_ns / 1000));
	}
	t0 = bench_now_ns();
	kmem_client_disconnect(c);
	t1 = bench_now_ns();
	/* Polled every 100 us until the session is gone, then every 500 us:
	 * between reclaim slices kmemd serves whoever asks, and a Stats
	 * request on a pool of many arenas costs it a good part of a
	 * millisecond, which polling back to back would add to every gap. */
	for (;;) {
		rpc_kstats_prom(meas, &k);
		if (!t_session && k.sessions == before.sessions - 1)
			t_session = bench_now_ns();
		if (t_session && k.leases == before.leases - n)
			break;
		usleep(t_session ? 500 : 100);
	}
	t_gone = bench_now_ns();
	if (p) {
		usleep(20000);
		rpc_pinger_pause(p);
		out->quiet_ns = (double)rpc_pinger_max(p, t0 - quiet_ns, t0, true);
		out->during_ns = (double)rpc_pinger_max(p, t0, t_gone, false);
	} else {
		out->quiet_ns = out->during_ns = 0;
	}
	out->disconnect_ns = (double)(t1 - t0);
	out->session_ns = (double)(t_session - t0);
	out->gone_ns = (double)(t_gone - t0);
	figures(meas, f1);
	out->slices = (uint64_t)(f1[0] - f0[0]);
	out->reclaim_ns = (f1[1] - f0[1]) * 1e6;
	out->slice_max_ns = f1[2] * 1e6;
}
