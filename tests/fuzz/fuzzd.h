/*
 * fuzzd.h - a kmemd inside the fuzzer's process (fuzzd.c).
 *
 * The daemon fuzz targets drive the real daemon code - server.c's sessions,
 * dispatch.c, http.c - through real sockets, with no test seam: the
 * context is built as main() builds it (configuration, pools, lease
 * table, listeners on a private temporary directory), and each fuzz input
 * is sent by a client socket of this same process while the daemon's loop
 * is run by hand until the daemon has answered and closed the connection.
 *
 * Everything aborts on a broken expectation: that is how a fuzzer is told.
 */
#ifndef KMEM_FUZZD_H
#define KMEM_FUZZD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmemd.h"

/* Abort with a message: an invariant of the daemon does not hold. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz: %s:%d: check failed: %s: ",	\
			__FILE__, __LINE__, #cond);			\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/*
 * fuzzd_start - configure d (defaults, then the pool specs, each as for
 * --pool; NULL-terminated), create its pools and lease table, and listen
 * on a fresh temporary directory: the allocation socket always, the HTTP
 * stats socket when stats.  $FUZZ_LOG (error, warn, info, debug) sets the
 * log level; the default, error, keeps the fuzzer's output readable while
 * still showing the daemon's own reports of its bugs.  Aborts on failure.
 */
void fuzzd_start(struct kmemd *d, const char *const *pools, bool stats);

/*
 * fuzzd_exchange - connect to path (the allocation or stats socket), send
 * the len bytes at data, shut the write side, and run d's loop until the
 * daemon has closed the connection; then close the client socket and run
 * the loop until every handle the connection used is closed (so the
 * daemon has released everything it held for it).  Every chunk the daemon
 * sends is passed to on_bytes (may be NULL) as it arrives; file
 * descriptors passed with SCM_RIGHTS are closed.  Aborts if the daemon
 * has neither closed the connection nor released its handles within 5 s.
 */
void fuzzd_exchange(struct kmemd *d, const char *path, const uint8_t *data,
		    size_t len, void (*on_bytes)(const uint8_t *p, size_t n,
						 void *arg), void *arg);

/* fuzzd_handles - handles open in d's loop (listeners and connections). */
size_t fuzzd_handles(const struct kmemd *d);

#endif
