/*
 * pools.c - the daemon's pools: creation from configuration (adopting the
 * memfds systemd's fd store kept, and storing new ones: notify.c), who may
 * use them, per-uid quotas.
 *
 * Trust boundary: every client of a pool maps all of it (the fd is the
 * pool), so a pool is the isolation unit.  Clients that must not see each
 * other's memory get different pools.  Within a pool, access control only
 * decides who may allocate, free and look up leases.
 */
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmem/error.h"
#include "debug.h"
#include "journal.h"
#include "kmemd.h"
#include "log.h"
#include "notify.h"
#include "pools.h"

/*
 * Make pool p from its configuration.  A memfd pool whose memfd systemd
 * kept (fs) adopts it, contents and all, so the journal can give its named
 * buffers back; memory that does not fit the configuration any more is
 * let go and a new pool made.  A memfd pool is then handed to systemd's
 * store for the next start.
 */
static int create_one(struct kmemd_pool *p, struct notify_fdstore *fs)
{
	const struct pool_config *c = &p->cfg;
	struct kmem_pool_params pp = {
		.size = c->size, .page_size = c->page_size,
		.path = c->path[0] ? c->path : NULL, .name = c->name,
		.allow_nohuge = c->allow_nohuge,
		.require_contiguous = c->require_contiguous,
		.policy = c->policy, .kmalloc_flags = c->debug,
		.adopt_fd = notify_fdstore_take(fs, c->name),
	};
	char msg[KMEM_MSG_MAX];
	int rc;

	if (pp.adopt_fd >= 0 && pp.path) {
		log_warn("pool %s: a file pool (path=) has no use for the memfd "
			 "systemd kept for it; it is let go", c->name);
		notify_fdstore_remove(c->name);
		notify_fdstore_close(pp.adopt_fd);
		pp.adopt_fd = -1;
	}
	pp.adopt = pp.adopt_fd >= 0;
	rc = kmem_pool_create(&pp, &p->pool, msg, sizeof(msg));
	if (pp.adopt) {
		/* The backing has its own duplicate; ours goes either way,
		 * and before a new pool is made, so that refused memory is
		 * not still pinned while the new one is reserved. */
		notify_fdstore_close(pp.adopt_fd);
		if (rc) {
			log_warn("pool %s: the memory systemd kept for it is not "
				 "used: %s; it is let go (FDSTOREREMOVE) and a "
				 "new, empty pool is made", c->name, msg);
			notify_fdstore_remove(c->name);
			pp.adopt = false;
			rc = kmem_pool_create(&pp, &p->pool, msg, sizeof(msg));
		} else {
			log_info("pool %s: adopted the memory systemd kept for it "
				 "(%llu MiB, contents kept)", c->name,
				 (unsigned long long)(c->size >> 20));
		}
	}
	if (rc) {
		log_err("pool %s: %s", c->name, msg);
		return -1;
	}
	if (kmem_backing_kind(kmem_pool_backing(p->pool)) != KMEM_BACKING_HUGETLBFS)
		notify_fdstore_put(fs, c->name,
				   kmem_backing_fd(kmem_pool_backing(p->pool)));
	return 0;
}

static void log_pool(const struct kmemd_pool *p)
{
	const struct pool_config *c = &p->cfg;
	struct kmem_pool_stats st;

	kmem_pool_stats(p->pool, &st);
	if (st.backing.kind == KMEM_BACKING_NOHUGE)
		log_warn("pool %s: NO HUGEPAGES - %llu MiB of 4 KiB pages: "
			 "not physically contiguous beyond one page, no "
			 "physical addresses; for development only",
			 c->name, (unsigned long long)(c->size >> 20));
	log_info("pool %s: %llu MiB, %s, %llu KiB pages, iova %s, %zu run(s), "
		 "largest %llu MiB", c->name,
		 (unsigned long long)(c->size >> 20),
		 kmem_backing_kind_name(st.backing.kind),
		 (unsigned long long)(st.backing.page_size >> 10),
		 kmem_backing_iova_name(st.backing.iova), st.backing.nruns,
		 (unsigned long long)(st.backing.largest_run >> 20));
}

int pools_create(struct kmemd *d)
{
	struct notify_fdstore fs;
	int rc = 0;

	notify_fdstore_collect(&fs, d->cfg.state_dir[0] != 0);
	for (size_t i = 0; i < d->cfg.npools && rc == 0; i++) {
		struct kmemd_pool *p = &d->pools[i];

		memset(p, 0, sizeof(*p));
		p->cfg = d->cfg.pools[i];
		p->d = d;
		p->index = (unsigned)i;
		rc = create_one(p, &fs);
		if (rc)
			break;
		d->npools++;
		rc = debug_pool_start(p);
		if (rc == 0)
			log_pool(p);
	}
	/* Memory kept for pools that are gone (or with no journal to make
	 * it worth keeping) is let go.  A daemon that fails to start only
	 * closes its copies: systemd keeps the memory for the next try. */
	notify_fdstore_release(&fs, rc == 0);
	return rc ? -1 : 0;
}

void pools_destroy(struct kmemd *d)
{
	for (size_t i = 0; i < d->npools; i++) {
		kmem_pool_destroy(d->pools[i].pool);
		free(d->pools[i].usage);
	}
	d->npools = 0;
	debug_fini(d);
}

struct kmemd_pool *pool_find(struct kmemd *d, const char *name)
{
	if (!name || !*name)
		return d->npools ? &d->pools[0] : NULL;
	for (size_t i = 0; i < d->npools; i++)
		if (strcmp(d->pools[i].cfg.name, name) == 0)
			return &d->pools[i];
	return NULL;
}

bool session_is_admin(const struct kmemd *d, uid_t uid, gid_t gid, pid_t pid)
{
	(void)pid;
	if (uid == 0)
		return true;
	if (!d->cfg.have_admin_gid)
		return false;
	if (gid == d->cfg.admin_gid)
		return true;
	/* Supplementary groups of the peer's user. */
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[64];
	int n = 64;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) || !res)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == d->cfg.admin_gid)
			return true;
	return false;
}

bool pool_allows(const struct kmemd_pool *p, uid_t uid, gid_t gid, bool admin)
{
	const struct pool_config *c = &p->cfg;

	if (admin || (c->nuids == 0 && c->ngids == 0))
		return true;
	for (size_t i = 0; i < c->nuids; i++)
		if (c->uids[i] == uid)
			return true;
	for (size_t i = 0; i < c->ngids; i++)
		if (c->gids[i] == gid)
			return true;
	return false;
}

static struct uid_usage *usage_of(struct kmemd_pool *p, uid_t uid, bool add)
{
	for (size_t i = 0; i < p->nusage; i++)
		if (p->usage[i].uid == uid)
			return &p->usage[i];
	if (!add)
		return NULL;
	if (p->nusage == p->cap_usage) {
		size_t cap = p->cap_usage ? 2 * p->cap_usage : 8;
		struct uid_usage *u = realloc(p->usage, cap * sizeof(*u));

		if (!u)
			return NULL;
		p->usage = u;
		p->cap_usage = cap;
	}
	p->usage[p->nusage] = (struct uid_usage){ .uid = uid };
	return &p->usage[p->nusage++];
}

uint64_t pool_usage(struct kmemd_pool *p, uid_t uid)
{
	struct uid_usage *u = usage_of(p, uid, false);

	return u ? u->bytes : 0;
}

bool pool_quota_allows(struct kmemd_pool *p, uid_t uid, uint64_t bytes)
{
	if (!p->cfg.quota || uid == 0)
		return true;
	return pool_usage(p, uid) + bytes <= p->cfg.quota;
}

void pool_charge(struct kmemd_pool *p, uid_t uid, uint64_t bytes)
{
	struct uid_usage *u = usage_of(p, uid, true);

	/* Every lease granted is charged here, after its id was issued and
	 * before it is answered: the one place that sees every id in time
	 * to keep the journal's id mark ahead of them. */
	journal_ids(p->d);

	/* Failing to grow the small usage table only loses accounting
	 * detail for a new uid; the quota check then sees 0 used. */
	if (u)
		u->bytes += bytes;
	p->leases++;
	p->bytes += bytes;
}

void pool_uncharge(struct kmemd_pool *p, uid_t uid, uint64_t bytes)
{
	struct uid_usage *u = usage_of(p, uid, false);

	if (u)
		u->bytes -= bytes < u->bytes ? bytes : u->bytes;
	p->leases--;
	p->bytes -= bytes;
}
