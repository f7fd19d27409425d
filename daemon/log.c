/*
 * log.c - leveled logging to stderr.  The level is process-wide state of
 * the daemon (as in OpenBSD's log.c); lib/ and client/ never log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level current = LOG_INFO;
static const char *const names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	current = level;
}

enum log_level log_get_level(void)
{
	return current;
}

int log_parse_level(const char *name)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

void kmemd_log(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = 0;

	if (level > current)
		return;
	/* Under systemd the journal stamps lines; by hand, we do. */
	if (isatty(STDERR_FILENO)) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = (int)strftime(line, sizeof(line), "%H:%M:%S ", &tm);
	}
	n += snprintf(line + n, sizeof(line) - (size_t)n, "kmemd: %s: ", names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}
