/*
 * backing_impl.h - the backing's private structure, shared by backing.c
 * (reserving, mapping, reading frames) and backing_map.c (runs, segments,
 * queries).  lib/ only.
 */
#ifndef KMEM_BACKING_IMPL_H
#define KMEM_BACKING_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "kmem/backing.h"

struct kmem_backing {
	enum kmem_backing_kind kind;
	enum kmem_iova_mode iova;
	int fd;
	bool created;		/* this open created path */
	bool was_empty;		/* path existed with size 0 */
	bool sealed, locked;
	bool adopted;		/* params.adopt: an earlier process's memfd */
	char *path;
	uint8_t *addr;		/* maps file [map_offset, map_offset + size) */
	uint64_t size;
	uint64_t page_size;
	unsigned shift;
	uint64_t npages;	/* pages mapped */
	uint64_t map_offset;
	uint64_t reserved;	/* pages reserved at open */
	uint64_t *pa;		/* per page; NULL in mode "va" */
	int16_t *node;		/* per page; -1 unknown */
	uint32_t *seg;		/* per page: its segment; NULL in mode "va" */
	uint32_t *seg_end;	/* per segment: one past its last page */
	struct kmem_backing_run *runs;
	size_t nruns;
	uint64_t largest;
};

static inline bool kmem__backing_is_huge(const struct kmem_backing *b)
{
	return b->kind != KMEM_BACKING_NOHUGE;
}

/*
 * kmem__backing_build - make the run and segment tables from the frame and
 * node tables of b's npages pages.  0 or KMEM_ENOMETA (the tables made so
 * far stay in b for the caller to free).
 */
int kmem__backing_build(struct kmem_backing *b);

/*
 * kmem__backing_find_run - the first page of the first run of at least n
 * pages (*first), or KMEM_ENOMEM with the longest run's page count in
 * *largest.
 */
int kmem__backing_find_run(const struct kmem_backing *b, uint64_t n,
			   uint64_t *first, uint64_t *largest);

/* ------------------------------------------ backing.c <-> backing_adopt.c */

/* The seals an memfd of ours carries (F_SEAL_*, <fcntl.h>). */
#define KMEM_BACKING_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Write a message to msg (if any) and return code. */
int kmem__backing_say(char *msg, size_t len, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A failed system call (what, errno err) as an error code and message. */
int kmem__backing_sys_fail(const char *what, int err, char *msg, size_t len);

/* 0 when need more hugepages of size ps can be had (*avail: how many),
 * else KMEM_ENOHUGE with the numbers in msg. */
int kmem__backing_pool_check(uint64_t ps, uint64_t need, uint64_t *avail,
			     char *msg, size_t len);

void kmem__backing_set_page_size(struct kmem_backing *b, uint64_t ps);

/* The error for a fallocate of n pages that failed with errno err. */
int kmem__backing_fallocate_fail(const struct kmem_backing *b, uint64_t n,
				 int err, char *msg, size_t len);

/* Reserve by adopting params.adopt_fd (backing_adopt.c): b->fd is a
 * duplicate of it on success; nothing is left open on failure. */
int kmem__backing_reserve_adopted(struct kmem_backing *b,
				  const struct kmem_backing_params *p,
				  char *msg, size_t len);

#endif
