/*
 * rpc/kstats.c - daemon figures from its Stats document (see kstats.h).
 */
#include <stdlib.h>
#include <string.h>

#include "kstats.h"
#include "proc.h"

static char *fetch(struct kmem_client *c, bool prometheus)
{
	char *text = NULL;
	int rc = kmem_client_stats(c, prometheus, &text);

	if (rc) {
		rpc_kmemd_dump_log();
		rpc_die("Stats: %s: %s", kmem_strerror(rc), kmem_client_error(c));
	}
	return text;
}

/* The number after "\n<name> " in a Prometheus text. */
static double prom_value(const char *text, const char *name)
{
	size_t len = strlen(name);
	const char *p = text;

	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == '\n') && p[len] == ' ')
			return strtod(p + len + 1, NULL);
		p += len;
	}
	rpc_die("no '%s' in the daemon's Prometheus stats", name);
}

void rpc_kstats_prom(struct kmem_client *c, struct rpc_kstats *k)
{
	char *text = fetch(c, true);

	k->sessions = (uint64_t)prom_value(text, "kmemd_sessions");
	k->leases = (uint64_t)prom_value(text, "kmemd_leases");
	k->requests = (uint64_t)prom_value(text, "kmemd_request_duration_seconds_count");
	k->sum_ns = prom_value(text, "kmemd_request_duration_seconds_sum") * 1e9;
	free(text);
}

int rpc_kstats_json_try(struct kmem_client *c, uint64_t *sum, size_t *bytes,
			size_t *arenas)
{
	char *text = NULL;
	const char *p;
	int rc = kmem_client_stats(c, false, &text);

	if (rc)
		return rc;
	p = strstr(text, "\"sum_ns\"");
	if (!p || !(p = strchr(p, ':')))
		rpc_die("no latency sum_ns in the daemon's JSON stats");
	*sum = strtoull(p + 1, NULL, 10);
	if (bytes)
		*bytes = strlen(text);
	if (arenas) {
		*arenas = 0;
		for (p = text; (p = strstr(p, "\"buddyinfo\"")); p++)
			(*arenas)++;
	}
	free(text);
	return 0;
}

uint64_t rpc_kstats_json(struct kmem_client *c, size_t *bytes, size_t *arenas)
{
	uint64_t sum;
	int rc = rpc_kstats_json_try(c, &sum, bytes, arenas);

	if (rc) {
		rpc_kmemd_dump_log();
		rpc_die("Stats: %s: %s", kmem_strerror(rc), kmem_client_error(c));
	}
	return sum;
}
