/*
 * unixsock.h - binding the daemon's Unix sockets (allocation and stats).
 */
#ifndef KMEMD_UNIXSOCK_H
#define KMEMD_UNIXSOCK_H

#include <sys/types.h>

/*
 * unix_socket_bind - a non-blocking listening-to-be socket bound at path
 * with mode set at creation (under a umask: no window with a looser mode).
 * A stale socket of a dead daemon is replaced; a live one, or anything
 * that is not a socket, is never touched.  what prefixes the log lines
 * ("" or "http: ").  Returns the fd, or -1 (logged).
 */
int unix_socket_bind(const char *what, const char *path, mode_t mode);

#endif
