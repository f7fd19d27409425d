/*
 * pools.h - the daemon's pools, access rules and quotas (pools.c).
 */
#ifndef KMEMD_POOLS_H
#define KMEMD_POOLS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct kmemd;
struct kmemd_pool;

/*
 * Create every configured pool; logs and returns -1 on the first failure
 * (the caller then destroys what was made).  With a journal, a memfd pool
 * adopts the memfd systemd's fd store passed back for it (LISTEN_FDS,
 * "pool-<name>") when it fits, and every memfd pool is handed to the store
 * (FDSTORE=1) when $NOTIFY_SOCKET is set; see notify.h.
 */
int pools_create(struct kmemd *d);
void pools_destroy(struct kmemd *d);

/* A pool by name; "" or NULL = the first pool.  NULL if unknown. */
struct kmemd_pool *pool_find(struct kmemd *d, const char *name);

/* root, or the configured admin group (primary or supplementary). */
bool session_is_admin(const struct kmemd *d, uid_t uid, gid_t gid, pid_t pid);

/* May a peer with uid/gid use the pool? */
bool pool_allows(const struct kmemd_pool *p, uid_t uid, gid_t gid, bool admin);

/* Quota: would bytes more stay within uid's quota in this pool? */
bool pool_quota_allows(struct kmemd_pool *p, uid_t uid, uint64_t bytes);
uint64_t pool_usage(struct kmemd_pool *p, uid_t uid);
void pool_charge(struct kmemd_pool *p, uid_t uid, uint64_t bytes);
void pool_uncharge(struct kmemd_pool *p, uid_t uid, uint64_t bytes);

#endif
