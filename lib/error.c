/*
 * error.c - names and descriptions of the kmem error codes.
 */
#include "kmem/error.h"

struct errdesc {
	const char *name;
	const char *text;
};

/* Indexed by -code. */
static const struct errdesc errors[] = {
	[0] = { "KMEM_OK", "success" },
	[-KMEM_ENOMEM] = { "KMEM_ENOMEM", "no free memory satisfies the request" },
	[-KMEM_EINVAL] = { "KMEM_EINVAL", "invalid argument" },
	[-KMEM_EZEROSIZE] = { "KMEM_EZEROSIZE", "size 0 is not allowed" },
	[-KMEM_ETOOBIG] = { "KMEM_ETOOBIG", "size exceeds the managed range" },
	[-KMEM_EALIGN] = { "KMEM_EALIGN", "alignment is not a power of two" },
	[-KMEM_ERANGE] = { "KMEM_ERANGE", "offset outside the managed range" },
	[-KMEM_EMISALIGNED] = { "KMEM_EMISALIGNED",
				"offset is not the start of an allocation" },
	[-KMEM_ENOTALLOC] = { "KMEM_ENOTALLOC", "offset was never allocated" },
	[-KMEM_EDOUBLEFREE] = { "KMEM_EDOUBLEFREE", "offset is already free (double free)" },
	[-KMEM_ESIZE] = { "KMEM_ESIZE", "size does not match the allocation" },
	[-KMEM_EBUSY] = { "KMEM_EBUSY", "still in use" },
	[-KMEM_EEXIST] = { "KMEM_EEXIST", "name already exists" },
	[-KMEM_ENOENT] = { "KMEM_ENOENT", "no such name" },
	[-KMEM_ENOMETA] = { "KMEM_ENOMETA", "out of memory for allocator metadata" },
	[-KMEM_EWRONGCACHE] = { "KMEM_EWRONGCACHE", "object belongs to another cache" },
	[-KMEM_ECONSTRAINT] = { "KMEM_ECONSTRAINT", "constraints cannot be satisfied" },
	[-KMEM_ESYS] = { "KMEM_ESYS", "system call failed" },
	[-KMEM_ENOHUGE] = { "KMEM_ENOHUGE", "not enough free hugepages" },
	[-KMEM_ECORRUPT] = { "KMEM_ECORRUPT", "allocator state is inconsistent" },
	[-KMEM_EPERM] = { "KMEM_EPERM", "operation not permitted" },
	[-KMEM_ETIMEDOUT] = { "KMEM_ETIMEDOUT", "timed out waiting for memory" },
	[-KMEM_EQUOTA] = { "KMEM_EQUOTA", "quota exceeded" },
	[-KMEM_EPROTO] = { "KMEM_EPROTO", "protocol error" },
	[-KMEM_ECONN] = { "KMEM_ECONN", "cannot reach the daemon" },
	[-KMEM_EINTERNAL] = { "KMEM_EINTERNAL", "internal error in the daemon" },
};

static const struct errdesc *lookup(int err)
{
	if (err > 0 || err < KMEM_ERROR_MIN)
		return 0;
	return &errors[-err];
}

const char *kmem_strerror(int err)
{
	const struct errdesc *d = lookup(err);

	return d ? d->text : "unknown error";
}

const char *kmem_errname(int err)
{
	const struct errdesc *d = lookup(err);

	return d ? d->name : "KMEM_E?";
}
