/*
 * unixsock.c - binding a Unix socket the way a daemon should: never steal
 * a live daemon's socket, replace a dead one's, and create the file with
 * its final mode.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "unixsock.h"

/* Is a daemon answering on path?  Then it is not ours to replace. */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return live;
}

int unix_socket_bind(const char *what, const char *path, mode_t mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%ssocket path too long: %s", what, path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s%s exists and is not a socket; not touching it",
				what, path);
			return -1;
		}
		if (socket_is_live(path)) {
			log_err("%sanother daemon is answering on %s", what, path);
			return -1;
		}
		log_info("%sremoving stale socket %s", what, path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_err("%ssocket: %s", what, strerror(errno));
		return -1;
	}
	old = umask(0777 & ~mode);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0) {
		log_err("%sbind %s: %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
