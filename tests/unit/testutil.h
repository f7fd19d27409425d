/*
 * testutil.h - small helpers shared by the cmocka unit tests.
 */
#ifndef KMEM_TESTUTIL_H
#define KMEM_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/*
 * Seed for randomised tests: $KMEM_SEED if set, else the time.  Printed so
 * a failing run can be repeated with KMEM_SEED=<seed>.
 */
uint64_t tu_seed(const char *test);

/* Operation count for randomised tests: $KMEM_OPS if set, else dflt. */
uint64_t tu_ops(uint64_t dflt);

/* xorshift64* PRNG. */
uint64_t tu_rand(uint64_t *state);

/* Uniform in [0, n). */
uint64_t tu_below(uint64_t *state, uint64_t n);

#endif
