/*
 * config.h - the daemon's configuration: sockets, limits and pools.
 *
 * Every key is settable by a command-line flag; pools are given as
 *   --pool name=dma,size=64M[,page=2M][,policy=buddy|vmem][,uids=0:1000]
 *          [,gids=27][,quota=16M][,nohuge][,contig][,path=/dev/hugepages/f]
 *          [,debug=poison+redzone]
 * uids/gids list who may use the pool (':' between ids); with neither, any
 * client that can reach the socket may (the socket's mode is the gate).
 * debug lists the slab debugging aids of the pool's caches ('+', ',' or
 * ':' between them; "none"): poison (switchable at run time) and redzone.
 */
#ifndef KMEMD_CONFIG_H
#define KMEMD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kmem/heap.h"

#define KMEMD_MAX_POOLS 16
#define KMEMD_MAX_IDS 32
#define KMEMD_POOL_NAME_MAX 32
#define KMEMD_DEFAULT_SOCKET "/run/kmemd/kmemd.sock"
#define KMEMD_DEFAULT_MAX_FRAME (1u << 20)
#define KMEMD_DEFAULT_STATS_SOCKET "/run/kmemd/stats.sock"

struct pool_config {
	char name[KMEMD_POOL_NAME_MAX];
	uint64_t size;
	uint64_t page_size;		/* 0 = 2 MiB */
	char path[256];			/* hugetlbfs file, "" = memfd */
	enum kmem_policy policy;
	bool allow_nohuge;
	bool require_contiguous;
	uid_t uids[KMEMD_MAX_IDS];
	size_t nuids;
	gid_t gids[KMEMD_MAX_IDS];
	size_t ngids;
	uint64_t quota;			/* bytes per uid, 0 = none */
	unsigned debug;			/* KMEM_CACHE_POISON | _REDZONE */
};

struct kmemd_config {
	char socket_path[108];
	mode_t socket_mode;
	uint32_t max_frame;
	gid_t admin_gid;
	bool have_admin_gid;
	int log_level;
	uint64_t out_limit;		/* queued reply bytes per session */
	uint32_t stall_timeout_ms;	/* a half-received frame this old closes */
	/* The HTTP stats endpoint (http.c). */
	char stats_socket_path[108];	/* "" = none */
	bool stats_socket_set;		/* given, not derived from socket */
	mode_t stats_socket_mode;
	uint16_t stats_port;		/* TCP port, 0 = none */
	char stats_address[64];		/* what the port binds: IPv4/IPv6 literal */
	uint32_t stats_timeout_ms;	/* request and write deadline; idle 3x */
	char state_dir[192];		/* journal of named leases; "" = none */
	uint32_t resume_grace_ms;	/* durable sessions' orphans; 0 = off */
	char user[33];			/* become this user after set-up */
	struct pool_config pools[KMEMD_MAX_POOLS];
	size_t npools;
};

/* Defaults: socket, mode 0660, 1 MiB frames, 4 MiB output, 10 s stall;
 * stats socket KMEMD_DEFAULT_STATS_SOCKET mode 0660, no TCP port (127.0.0.1
 * when one is set), 10 s HTTP timeout. */
void config_defaults(struct kmemd_config *c);

/*
 * config_daemon_key - set one [kmemd] key (the flag --KEY with '-' for
 * '_').  Returns 0, -1 for a bad value, -2 for an unknown key.  Keys:
 * socket, socket_mode, admin_group, max_frame, log_level, out_limit,
 * stall_timeout_ms; stats_socket ("none" = no stats socket),
 * stats_socket_mode, stats_port (0 = none), stats_address,
 * stats_timeout_ms; state_dir; resume_grace_ms (0 = durable sessions
 * off).
 */
int config_daemon_key(struct kmemd_config *c, const char *key,
		      const char *value);

/* config_pool_key - set one pool key (name size page policy uids gids
 * quota path debug); 0, -1 bad value, -2 unknown key. */
int config_pool_key(struct pool_config *p, const char *key, const char *value);

/* config_new_pool - append an empty pool named name (checked: legal,
 * unique, room left), or NULL with a sentence in err. */
struct pool_config *config_new_pool(struct kmemd_config *c, const char *name,
				    char *err, size_t errlen);

/* config_finish - derive what follows from other keys (the stats socket
 * beside the allocation socket, unless given).  Before config_check. */
void config_finish(struct kmemd_config *c);

/* config_check - whole-configuration checks (every pool has a size that
 * is a multiple of its page size, ...).  0, or -1 with err. */
int config_check(const struct kmemd_config *c, char *err, size_t errlen);

/* config_print - the effective configuration, in kmemd.conf syntax. */
void config_print(const struct kmemd_config *c, FILE *f);

/*
 * config_add_pool - parse one --pool spec into c.  Returns 0, or -1 with
 * a sentence in err naming the key and what was wrong.
 */
int config_add_pool(struct kmemd_config *c, const char *spec, char *err,
		    size_t errlen);

/*
 * config_debug_flags - "poison", "redzone", "poison+redzone" (or with ','
 * ':' or ' '), "none" -> KMEM_CACHE_* flags.  0 or -1.
 * config_debug_name - the flags in that syntax ("poison,redzone", "none")
 * into buf (at least 16 bytes).
 */
int config_debug_flags(const char *v, unsigned *flags);
const char *config_debug_name(unsigned flags, char *buf, size_t len);

/* The developer default of `make run`: one 64 MiB pool "default". */
void config_default_pool(struct kmemd_config *c, bool allow_nohuge);

#endif
