/*
 * verify.h - the Verify request (verify.c): the engine's invariant checks
 * on every pool, and the lease table checked against the engine and the
 * accounting.
 */
#ifndef KMEMD_VERIFY_H
#define KMEMD_VERIFY_H

#include <stdint.h>

#include "kmemd.h"

/* Answer Verify with a VerifyReply listing every inconsistency. */
void verify_request(struct session *s, uint64_t seq, const Kmem__Verify *m);

/* One more problem for the Verify that is running (the engine's debugging
 * reports arrive through debug.c while it scans). */
void verify_problem(struct verify_run *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
