/*
 * named.h - named buffers across a daemon restart (named.c), for the
 * restart tests.  Every function asserts (cmocka) rather than returning
 * an error.
 */
#ifndef KMEM_INTEG_NAMED_H
#define KMEM_INTEG_NAMED_H

#include <stddef.h>
#include <stdint.h>

#include "kmem/client.h"

struct integ_nb {
	const char *name;
	uint64_t size;
	unsigned flags;
	struct kmem_buf b;	/* as allocated (segments copied out) */
	struct kmem_seg segs[8];
};

/* Allocate n as a persistent buffer of c, fill it with the pattern of
 * its name, and remember where it lies; c's mapping is released. */
void integ_nb_create(struct kmem_client *c, struct integ_nb *n);

/* Look n up: the same id, length and segments, and every byte of its
 * pattern.  The attachment is left in out for the caller. */
void integ_nb_lookup_intact(struct kmem_client *c, const struct integ_nb *n,
			    struct kmem_buf *out);

/* No buffer named name, and the daemon says so. */
void integ_nb_assert_gone(struct kmem_client *c, const char *name);

/*
 * Allocate everything pool 0 has left (2 MiB, 64 KiB, 16 KiB pieces) with
 * patterns, check that none overlaps a kept buffer, that less than 16 KiB
 * stays free (obs reads the stats) and that every pattern survived; then
 * give it all back.
 */
void integ_nb_fill_rest_and_check(struct kmem_client *c, struct kmem_client *obs,
				  const struct integ_nb *kept, size_t nkept);

#endif
