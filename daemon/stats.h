/*
 * stats.h - the daemon's one stats document and its Prometheus rendering.
 */
#ifndef KMEMD_STATS_H
#define KMEMD_STATS_H

#include <jansson.h>

#include "kmemd.h"

/* What a Stats request may add to the document. */
struct stats_opts {
	bool leases;	/* "leases": every live lease (the leak report) */
	pid_t pid;	/* with leases: only the sessions of this process;
			   0 = all leases, named ones included */
};

/* Leases listed at most ("leases_matched" counts them all): with the rest
 * of the document this keeps the reply well inside a 1 MiB frame. */
#define STATS_LEASES_MAX 1000

/* The versioned document (a new reference), or NULL on ENOMEM. */
json_t *stats_build(const struct kmemd *d);

/* The document as JSON text / Prometheus text (malloc'd), or NULL. */
char *stats_json(const struct kmemd *d);
char *stats_json_opts(const struct kmemd *d, const struct stats_opts *o);
char *stats_prometheus(const struct kmemd *d);

#endif
