/*
 * log.h - the daemon's log: one line per event on stderr, with a level.
 * (journald adds the time when run under systemd; run by hand, the time is
 * printed too.)
 */
#ifndef KMEMD_LOG_H
#define KMEMD_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int log_parse_level(const char *name);
void kmemd_log(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)   kmemd_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  kmemd_log(LOG_WARN, __VA_ARGS__)
#define log_info(...)  kmemd_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) kmemd_log(LOG_DEBUG, __VA_ARGS__)

#endif
