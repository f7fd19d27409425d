/*
 * privs.c - privileged work first, then drop what is not needed.
 *
 * Everything that needs privilege happens before the loop starts: the
 * pools are reserved, faulted in and locked, their physical frames read
 * from /proc/self/pagemap (CAP_SYS_ADMIN), the sockets bound.  The daemon
 * never re-reads pagemap (the frame table is kept in memory) and creates
 * no pool at run time, so afterwards it needs no capability at all: it
 * drops every capability from its effective, permitted, inheritable and
 * bounding sets, and with --user it also becomes that user, after giving
 * it the sockets, the state directory and the pools' hugetlbfs files.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "privs.h"

static int chown_path(const char *path, uid_t uid, gid_t gid)
{
	if (!path || !path[0])
		return 0;
	if (chown(path, uid, gid) && errno != ENOENT) {
		log_err("chown %s to %u:%u: %s", path, (unsigned)uid, (unsigned)gid,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int become(struct kmemd *d, const char *user)
{
	struct passwd *pw = getpwnam(user);
	gid_t gid;

	if (!pw) {
		log_err("--user: no user '%s'", user);
		return -1;
	}
	/* The sockets keep their group (the admin group, when set). */
	gid = d->cfg.have_admin_gid ? d->cfg.admin_gid : pw->pw_gid;
	if (chown_path(d->cfg.socket_path, pw->pw_uid, gid) ||
	    chown_path(d->cfg.stats_socket_path, pw->pw_uid, gid) ||
	    chown_path(d->cfg.state_dir, pw->pw_uid, pw->pw_gid))
		return -1;
	if (d->cfg.state_dir[0]) {
		char journal[sizeof(d->cfg.state_dir) + 16];

		snprintf(journal, sizeof(journal), "%s/journal", d->cfg.state_dir);
		if (chown_path(journal, pw->pw_uid, pw->pw_gid))
			return -1;
	}
	for (size_t i = 0; i < d->cfg.npools; i++)
		if (chown_path(d->cfg.pools[i].path, pw->pw_uid, pw->pw_gid))
			return -1;
	if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) ||
	    setuid(pw->pw_uid)) {
		log_err("--user %s: cannot switch: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_err("--user %s: could regain root; refusing to run", user);
		return -1;
	}
	log_info("running as %s (uid %u, gid %u)", user, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid);
	return 0;
}

static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	/* The bounding set first (needs CAP_SETPCAP, which we still hold). */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL &&
		    errno != EPERM)
			return -1;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data)) {
		log_err("cannot drop capabilities: %s", strerror(errno));
		return -1;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}

int privs_drop(struct kmemd *d)
{
	if (d->cfg.user[0] && become(d, d->cfg.user))
		return -1;
	if (drop_caps())
		return -1;
	log_debug("capabilities dropped (none are needed once the pools exist)");
	return 0;
}
