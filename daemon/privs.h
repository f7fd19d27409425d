/*
 * privs.h - dropping privileges once the pools and sockets exist.
 */
#ifndef KMEMD_PRIVS_H
#define KMEMD_PRIVS_H

#include "kmemd.h"

/*
 * privs_drop - with cfg.user set, give that user the sockets, the state
 * directory and the hugetlbfs pool files and become it; then drop every
 * capability (bounding set included) and set no_new_privs.  0 or -1
 * (logged).  Call after everything privileged is done.
 */
int privs_drop(struct kmemd *d);

#endif
