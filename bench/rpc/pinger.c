/*
 * rpc/pinger.c - the pinging thread (see pinger.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../benchutil.h"
#include "conn.h"
#include "pinger.h"
#include "proc.h"

#define MAX_PINGS 200000

struct rpc_pinger {
	pthread_t th;
	struct kmem_client *c;
	atomic_int run;		/* 1 ping, 0 idle, -1 exit */
	atomic_int idle;	/* the thread saw run == 0 */
	size_t n;		/* the thread's while running, else ours */
	uint64_t start[MAX_PINGS], dur[MAX_PINGS];
};

static void *pinger_main(void *arg)
{
	struct rpc_pinger *p = arg;
	int run;

	while ((run = atomic_load(&p->run)) >= 0) {
		uint64_t t0;
		int rc;

		if (!run) {
			atomic_store(&p->idle, 1);
			usleep(1000);
			continue;
		}
		atomic_store(&p->idle, 0);
		t0 = bench_now_ns();
		rc = kmem_client_ping(p->c, 0);
		if (rc)
			rpc_die("ping: %s", kmem_strerror(rc));
		if (p->n < MAX_PINGS) {
			p->start[p->n] = t0;
			p->dur[p->n++] = bench_now_ns() - t0;
		}
	}
	return NULL;
}

struct rpc_pinger *rpc_pinger_start(void)
{
	struct rpc_pinger *p = calloc(1, sizeof(*p));

	if (!p)
		rpc_die("out of memory");
	p->c = rpc_connect("bench-pinger", false);
	if (pthread_create(&p->th, NULL, pinger_main, p))
		rpc_die("pthread_create: %s", strerror(errno));
	rpc_pinger_pause(p);
	return p;
}

void rpc_pinger_go(struct rpc_pinger *p)
{
	p->n = 0;
	atomic_store(&p->idle, 0);
	atomic_store(&p->run, 1);
}

void rpc_pinger_pause(struct rpc_pinger *p)
{
	atomic_store(&p->run, 0);
	while (!atomic_load(&p->idle))
		usleep(200);
}

uint64_t rpc_pinger_max(const struct rpc_pinger *p, uint64_t from, uint64_t to,
			bool inside)
{
	uint64_t max = 0;

	for (size_t i = 0; i < p->n; i++) {
		uint64_t s = p->start[i], e = s + p->dur[i];
		bool in = inside ? s >= from && e < to : s <= to && e >= from;

		if (in && p->dur[i] > max)
			max = p->dur[i];
	}
	return max;
}

void rpc_pinger_stop(struct rpc_pinger *p)
{
	atomic_store(&p->run, -1);
	pthread_join(p->th, NULL);
	kmem_client_disconnect(p->c);
	free(p);
}
