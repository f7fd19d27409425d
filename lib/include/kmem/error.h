/*
 * kmem/error.h - the one error-code space of the kmem libraries.
 *
 * Every function that can fail returns int: 0 on success or one of the
 * negative codes below.  Out-parameters are written only on success, and a
 * failed call leaves the allocator exactly as it was.
 */
#ifndef KMEM_ERROR_H
#define KMEM_ERROR_H

enum kmem_error {
	KMEM_OK = 0,
	KMEM_ENOMEM = -1,	/* no free block/range satisfies the request */
	KMEM_EINVAL = -2,	/* an argument is malformed (see the message) */
	KMEM_EZEROSIZE = -3,	/* size 0 is not allowed */
	KMEM_ETOOBIG = -4,	/* size exceeds what the range could ever hold */
	KMEM_EALIGN = -5,	/* alignment is not a power of two */
	KMEM_ERANGE = -6,	/* offset lies outside the managed range */
	KMEM_EMISALIGNED = -7,	/* offset is not the start of an allocation */
	KMEM_ENOTALLOC = -8,	/* offset was never allocated */
	KMEM_EDOUBLEFREE = -9,	/* offset is already free */
	KMEM_ESIZE = -10,	/* size given at free differs from allocation */
	KMEM_EBUSY = -11,	/* object still in use (e.g. cache has live objects) */
	KMEM_EEXIST = -12,	/* name already in use */
	KMEM_ENOENT = -13,	/* no such name */
	KMEM_ENOMETA = -14,	/* metadata allocation (malloc) failed */
	KMEM_EWRONGCACHE = -15,	/* object belongs to another cache */
	KMEM_ECONSTRAINT = -16,	/* constraints (range, boundary, phase) can never be met */
	KMEM_ESYS = -17,	/* a system call failed (errno kept by the caller) */
	KMEM_ENOHUGE = -18,	/* not enough free hugepages */
	KMEM_ECORRUPT = -19,	/* an invariant check found an inconsistency */
	KMEM_EPERM = -20,	/* operation not permitted */
	/* Client library (the daemon's statuses and the connection). */
	KMEM_ETIMEDOUT = -21,	/* a blocking request timed out */
	KMEM_EQUOTA = -22,	/* the uid's quota would be exceeded */
	KMEM_EPROTO = -23,	/* protocol error (the daemon hung up) */
	KMEM_ECONN = -24,	/* cannot reach the daemon / connection lost */
	KMEM_EINTERNAL = -25,	/* the daemon failed internally */
};

#define KMEM_ERROR_MIN KMEM_EINTERNAL

/*
 * Functions that can say more than a code take (char *msg, size_t msglen):
 * on failure, when msg is not NULL, they write one NUL-terminated sentence
 * saying what was wrong and what would have worked ("no contiguous block of
 * 64 MiB below 4 GiB; largest is 16 MiB").  KMEM_MSG_MAX is enough room.
 */
#define KMEM_MSG_MAX 256

/*
 * kmem_strerror - a static, human-readable description of an error code.
 * Unknown codes yield "unknown error".  Never returns NULL.
 */
const char *kmem_strerror(int err);

/*
 * kmem_errname - the symbolic name of an error code ("KMEM_ENOMEM"), for
 * logs and tests.  Never returns NULL.
 */
const char *kmem_errname(int err);

#endif
