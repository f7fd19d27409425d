/*
 * stats.h - the daemon's one stats document and its Prometheus rendering.
 */
#ifndef KMEMD_STATS_H
#define KMEMD_STATS_H

#include <jansson.h>

#include "kmemd.h"

/* The versioned document (a new reference), or NULL on ENOMEM. */
json_t *stats_build(const struct kmemd *d);

/* The document as JSON text / Prometheus text (malloc'd), or NULL. */
char *stats_json(const struct kmemd *d);
char *stats_prometheus(const struct kmemd *d);

#endif
