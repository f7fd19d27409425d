/*
 * backing_adopt.c - adopting an memfd an earlier process made
 * (kmem_backing_params.adopt), so a pool kept in systemd's fd store comes
 * back with its contents after a restart.  See backing.c's theory block:
 * adoption replaces the reservation, and everything after it (mapping,
 * frames, lock, seals) is the same as for a new file.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "kmem/backing.h"
#include "kmem/error.h"
#include "internal.h"
#include "fmt.h"
#include "backing_impl.h"

#define say kmem__backing_say
#define sys_fail kmem__backing_sys_fail
#define pool_check kmem__backing_pool_check
#define set_page_size kmem__backing_set_page_size
#define fallocate_fail kmem__backing_fallocate_fail


/*
 * The page size of an adopted file: a hugetlbfs file's (an MFD_HUGETLB
 * memfd lives on the kernel's internal hugetlbfs mount), 4 KiB for shmem
 * (a plain memfd), 0 for anything else.
 */
static uint64_t file_page_size(const struct statfs *sfs, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return 0;
	if (sfs->f_type == HUGETLBFS_MAGIC)
		return (uint64_t)sfs->f_bsize;
	return sfs->f_type == TMPFS_MAGIC ? KMEM_BACKING_4K : 0;
}

/* Check b->fd (the duplicate of params.adopt_fd) against p, and take its
 * page size and kind. */
static int check_adopted(struct kmem_backing *b,
			 const struct kmem_backing_params *p, struct stat *st,
			 char *msg, size_t len)
{
	char a[KMEM_SIZE_STR_MAX], c[KMEM_SIZE_STR_MAX];
	struct statfs sfs;
	uint64_t ps;
	int seals;

	if (fstatfs(b->fd, &sfs) || fstat(b->fd, st))
		return sys_fail("fstat", errno, msg, len);
	ps = file_page_size(&sfs, st);
	if (!ps)
		return say(msg, len, KMEM_EINVAL, "fd %d is not an memfd",
			   p->adopt_fd);
	if (ps != b->page_size && !(ps == KMEM_BACKING_4K && p->allow_nohuge))
		return say(msg, len, KMEM_EINVAL, "fd %d holds %s pages, not %s",
			   p->adopt_fd, kmem__size_str(ps, a),
			   kmem__size_str(b->page_size, c));
	/* A require_contiguous window cut from a larger reservation ends
	 * the file (the tail was truncated, the head is a hole): the pool is
	 * its last size bytes. */
	if ((uint64_t)st->st_size != p->size &&
	    !(p->require_contiguous && (uint64_t)st->st_size > p->size &&
	      ((uint64_t)st->st_size - p->size) % ps == 0))
		return say(msg, len, KMEM_EINVAL, "fd %d is %llu bytes, not %llu",
			   p->adopt_fd, (unsigned long long)st->st_size,
			   (unsigned long long)p->size);
	b->map_offset = (uint64_t)st->st_size - p->size;
	/* Ours carry all three seals; an unsealed one gets them below.  One
	 * sealed otherwise (F_SEAL_SEAL alone: a shmem or hugetlbfs file
	 * opened by path) could be resized under the mapping. */
	seals = fcntl(b->fd, F_GET_SEALS);
	if (seals < 0)
		return sys_fail("fcntl(F_GET_SEALS)", errno, msg, len);
	if ((seals & F_SEAL_SEAL) && (seals & KMEM_BACKING_SEALS) != KMEM_BACKING_SEALS)
		return say(msg, len, KMEM_EINVAL, "fd %d is sealed (%#x) but "
			   "not against shrinking and growing: not an memfd "
			   "kmem made", p->adopt_fd, (unsigned)seals);
	b->sealed = (seals & KMEM_BACKING_SEALS) == KMEM_BACKING_SEALS;
	set_page_size(b, ps);
	b->kind = ps == KMEM_BACKING_4K ? KMEM_BACKING_NOHUGE :
		  KMEM_BACKING_MEMFD_HUGETLB;
	return 0;
}

int kmem__backing_reserve_adopted(struct kmem_backing *b,
				  const struct kmem_backing_params *p,
				  char *msg, size_t len)
{
	uint64_t n, present, avail;
	struct stat st;
	int rc;

	b->fd = fcntl(p->adopt_fd, F_DUPFD_CLOEXEC, 0);
	if (b->fd < 0)
		return say(msg, len, errno == EBADF ? KMEM_EINVAL : KMEM_ESYS,
			   "fd %d cannot be adopted: %s", p->adopt_fd,
			   strerror(errno));
	b->adopted = true;
	rc = check_adopted(b, p, &st, msg, len);
	if (rc)
		goto fail_fd;
	n = p->size >> b->shift;
	/* Both file systems count a file's pages in i_blocks: a page
	 * missing is one that a hole punched out (a window's head is a hole
	 * the size of map_offset, and counts nothing).  It comes back zeroed
	 * rather than as a SIGBUS later. */
	present = ((uint64_t)st.st_blocks * 512) >> b->shift;
	if (present < n) {
		if (kmem__backing_is_huge(b)) {
			rc = pool_check(b->page_size, n - present, &avail,
					msg, len);
			if (rc)
				goto fail_fd;
		}
		if (fallocate(b->fd, 0, (off_t)b->map_offset, (off_t)p->size)) {
			rc = fallocate_fail(b, n - present, errno, msg, len);
			goto fail_fd;
		}
	}
	b->reserved = n;
	return 0;

fail_fd:
	close(b->fd);
	b->fd = -1;
	return rc;
}
