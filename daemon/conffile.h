/*
 * conffile.h - reading kmemd.conf (conffile.c).
 */
#ifndef KMEMD_CONFFILE_H
#define KMEMD_CONFFILE_H

#include "config.h"

#define KMEMD_DEFAULT_CONFIG "/etc/kmemd/kmemd.conf"

/*
 * config_load_file - apply path's keys to c.  Returns 0, or -1 with
 * "FILE:LINE: [section] key = value: why" (or "FILE: cannot open") in err.
 */
int config_load_file(struct kmemd_config *c, const char *path, char *err,
		     size_t errlen);

#endif
