/*
 * backing.c - the hugepage memory behind a pool: reserving it, mapping it,
 * and reading its physical frames (DPDK's eal_memory.c and SPDK's vtophys
 * do the same job in every process; here the daemon does it once).
 *
 * Theory.  A backing is one file (an memfd, or a file on a hugetlbfs
 * mount) and one shared mapping of it.  Open makes the memory certain
 * before anyone touches it: it checks the hugetlb pool's counters first
 * (so a shortfall is an error that names the numbers, not a SIGBUS later),
 * fallocate()s every page into the file (hugetlbfs allocates at fallocate
 * time and fails there with ENOMEM/ENOSPC rather than at fault time), maps
 * it with MAP_POPULATE, mlock()s it and seals the memfd against resizing.
 * Every failure path undoes all of that: no fd, mapping, page or created
 * file outlives a failed open.
 *
 * It then reads, once, each page's frame from /proc/self/pagemap (bits
 * 0-54 PFN, bit 63 present; the PFN reads 0 without CAP_SYS_ADMIN) and its
 * NUMA node from move_pages(2) with a NULL node list, into per-page tables
 * that backing_map.c turns into runs and segments.  If any frame is unknown
 * the backing is in iova mode "va" and keeps no frames at all: half a
 * physical map would be worse than none.
 *
 * require_contiguous over-reserves (up to twice the pages, as many as are
 * available), takes the first run of the wanted length (first fit; which
 * pages the kernel hands out is beyond our control, so there is nothing
 * smarter to do), unmaps the rest, punches the pages before the window out
 * of the file (FALLOC_FL_PUNCH_HOLE, which returns hugepages to the pool at
 * once) and truncates the ones after it.  The window's file offset is
 * map_offset.
 *
 * Adopting an memfd an earlier process made (params.adopt) replaces the
 * reservation: open works on a duplicate of the caller's fd, checks the
 * file (regular, on hugetlbfs of the page size or on shmem for 4 KiB pages,
 * exactly size bytes, sealed as we seal or not at all), allocates any page
 * a hole lost, and then maps, reads frames, locks and (if needed) seals as
 * for a new file.  It never truncates or empties the file: the contents
 * are why it was kept.
 *
 * Cost: open makes O(pages) system calls (one pagemap pread per page, one
 * move_pages per 256 pages); nothing after open makes any.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <asm-generic/hugetlb_encode.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "kmem/backing.h"
#include "kmem/error.h"
#include "internal.h"
#include "fmt.h"
#include "backing_impl.h"

#define PM_PFN_MASK	(((uint64_t)1 << 55) - 1)
#define PM_PRESENT	((uint64_t)1 << 63)
#define HP_DIR		"/sys/kernel/mm/hugepages/hugepages-"
#define NODE_BATCH	256

/* Short names for the helpers backing_adopt.c shares (backing_impl.h). */
#define say kmem__backing_say
#define sys_fail kmem__backing_sys_fail
#define pool_check kmem__backing_pool_check
#define set_page_size kmem__backing_set_page_size
#define fallocate_fail kmem__backing_fallocate_fail

/* ------------------------------------------------------------ messages */

int kmem__backing_say(char *msg, size_t len, int code, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* The error code for a failed system call's errno. */
static int errno_code(int err)
{
	if (err == EPERM || err == EACCES || err == EROFS)
		return KMEM_EPERM;
	if (err == ENOENT || err == ENOTDIR)
		return KMEM_ENOENT;
	if (err == EISDIR || err == ENAMETOOLONG)
		return KMEM_EINVAL;
	return KMEM_ESYS;
}

int kmem__backing_sys_fail(const char *what, int err, char *msg, size_t len)
{
	return kmem__backing_say(msg, len, errno_code(err), "%s failed: %s", what,
		   strerror(err));
}

/* ------------------------------------------------ hugetlb pool counters */

struct hpool {
	uint64_t nr, free, resv, surplus, overcommit;
};

static int read_num(const char *path, uint64_t *v)
{
	char buf[64], *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	*v = strtoull(buf, &end, 10);
	return end == buf ? -1 : 0;
}

static int hpool_read(uint64_t ps, struct hpool *h)
{
	static const char *const file[] = {
		"nr_hugepages", "free_hugepages", "resv_hugepages",
		"surplus_hugepages", "nr_overcommit_hugepages",
	};
	uint64_t *val[] = { &h->nr, &h->free, &h->resv, &h->surplus,
			    &h->overcommit };
	char path[128];

	for (size_t i = 0; i < sizeof(file) / sizeof(file[0]); i++) {
		snprintf(path, sizeof(path), HP_DIR "%llukB/%s",
			 (unsigned long long)(ps >> 10), file[i]);
		if (read_num(path, val[i]))
			return -1;
	}
	return 0;
}

/*
 * Pages a new reservation can get: free ones not promised to an existing
 * mapping, plus what overcommit still allows as surplus pages.
 */
static uint64_t hpool_avail(const struct hpool *h)
{
	uint64_t a = h->free > h->resv ? h->free - h->resv : 0;

	if (h->overcommit > h->surplus)
		a += h->overcommit - h->surplus;
	return a;
}

/* The default hugepage size (Hugepagesize in /proc/meminfo), or 0. */
static uint64_t default_hugepage_size(void)
{
	char buf[8192], *p;
	size_t used = 0;
	ssize_t n;
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (used < sizeof(buf) - 1 &&
	       (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
		used += (size_t)n;
	close(fd);
	buf[used] = '\0';
	p = strstr(buf, "Hugepagesize:");
	return p ? strtoull(p + 13, NULL, 10) << 10 : 0;
}

static int shortfall(uint64_t ps, uint64_t need, const struct hpool *h,
		     char *msg, size_t len)
{
	char knob[128], sz[32];
	uint64_t avail = hpool_avail(h);

	/* /proc/sys/vm/nr_hugepages only sizes the default pool. */
	if (ps == default_hugepage_size())
		snprintf(knob, sizeof(knob), "/proc/sys/vm/nr_hugepages");
	else
		snprintf(knob, sizeof(knob), HP_DIR "%llukB/nr_hugepages",
			 (unsigned long long)(ps >> 10));
	return say(msg, len, KMEM_ENOHUGE,
		   "need %llu free %s hugepages but only %llu are available "
		   "(free_hugepages %llu, reserved %llu); fix: echo %llu > %s",
		   (unsigned long long)need, kmem__size_str(ps, sz),
		   (unsigned long long)avail, (unsigned long long)h->free,
		   (unsigned long long)h->resv,
		   (unsigned long long)(h->nr + need - avail), knob);
}

/* Check that need more pages of size ps can be had; *avail on success. */
int kmem__backing_pool_check(uint64_t ps, uint64_t need, uint64_t *avail,
		      char *msg, size_t len)
{
	struct hpool h;
	char sz[KMEM_SIZE_STR_MAX];

	if (hpool_read(ps, &h))
		return say(msg, len, KMEM_ENOHUGE,
			   "%s hugepages are not supported here (no "
			   HP_DIR "%llukB)", kmem__size_str(ps, sz),
			   (unsigned long long)(ps >> 10));
	*avail = hpool_avail(&h);
	if (*avail < need)
		return shortfall(ps, need, &h, msg, len);
	return 0;
}

/* ------------------------------------------------------ the file itself */

void kmem__backing_set_page_size(struct kmem_backing *b, uint64_t ps)
{
	b->page_size = ps;
	b->shift = (unsigned)__builtin_ctzll(ps);
}

int kmem__backing_fallocate_fail(const struct kmem_backing *b, uint64_t n,
				  int err, char *msg, size_t len)
{
	struct hpool h;
	char sz[KMEM_SIZE_STR_MAX];

	if (err != ENOMEM && err != ENOSPC)
		return sys_fail("fallocate", err, msg, len);
	if (!kmem__backing_is_huge(b))
		return say(msg, len, KMEM_ENOMEM,
			   "fallocate of %llu pages of shmem failed: %s",
			   (unsigned long long)n, strerror(err));
	/* ENOSPC is a hugetlbfs mount's size= limit; ENOMEM an empty pool
	 * (someone took the pages between the check and now). */
	if (err == ENOSPC && b->path)
		return say(msg, len, KMEM_ENOHUGE,
			   "fallocate of %llu hugepages of %s failed: %s; the "
			   "hugetlbfs mount's size= limit is too small for "
			   "%s", (unsigned long long)n, kmem__size_str(b->page_size, sz),
			   strerror(err), b->path);
	if (hpool_read(b->page_size, &h))
		h.free = 0;
	return say(msg, len, KMEM_ENOHUGE,
		   "fallocate of %llu hugepages of %s failed: %s; "
		   "free_hugepages is now %llu", (unsigned long long)n,
		   kmem__size_str(b->page_size, sz), strerror(err),
		   (unsigned long long)h.free);
}

/*
 * Size the file to m pages and allocate them: the first n must succeed,
 * the rest (extra pages for require_contiguous) only improve the odds of a
 * contiguous run, so when they cannot be had the file is cut back to n.
 */
static int fill(struct kmem_backing *b, uint64_t n, uint64_t m,
		char *msg, size_t len)
{
	uint64_t ps = b->page_size;

	if (ftruncate(b->fd, (off_t)(m * ps)))
		return sys_fail("ftruncate", errno, msg, len);
	if (fallocate(b->fd, 0, 0, (off_t)(n * ps)))
		return fallocate_fail(b, n, errno, msg, len);
	if (m > n && fallocate(b->fd, 0, (off_t)(n * ps),
			       (off_t)((m - n) * ps))) {
		if (ftruncate(b->fd, (off_t)(n * ps)))
			return sys_fail("ftruncate", errno, msg, len);
		m = n;
	}
	b->reserved = m;
	return 0;
}

static uint64_t extra_pages(const struct kmem_backing_params *p, uint64_t n,
			    uint64_t spare)
{
	if (!p->require_contiguous)
		return 0;
	return spare < n ? spare : n;
}

static int reserve_memfd(struct kmem_backing *b,
			 const struct kmem_backing_params *p, char *msg,
			 size_t len)
{
	uint64_t n = p->size >> b->shift, spare = n;
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	int rc;

	if (kmem__backing_is_huge(b)) {
		rc = pool_check(b->page_size, n, &spare, msg, len);
		if (rc)
			return rc;
		spare -= n;
		flags |= MFD_HUGETLB | (b->page_size == KMEM_BACKING_1G ?
				       HUGETLB_FLAG_ENCODE_1GB :
				       HUGETLB_FLAG_ENCODE_2MB);
	}
	b->fd = memfd_create(p->name ? p->name : "kmem-backing", flags);
	if (b->fd < 0) {
		if (kmem__backing_is_huge(b) && errno == EINVAL)
			return say(msg, len, KMEM_ENOHUGE,
				   "memfd_create(MFD_HUGETLB) failed: %s",
				   strerror(errno));
		return sys_fail("memfd_create", errno, msg, len);
	}
	rc = fill(b, n, n + extra_pages(p, n, spare), msg, len);
	if (rc) {
		close(b->fd);
		b->fd = -1;
	}
	return rc;
}

/* Undo what open did to the file: a file it created goes, one it found
 * empty is emptied again, and the fd is closed. */
static void release_file(struct kmem_backing *b)
{
	if (b->created) {
		unlink(b->path);
	} else if (b->was_empty) {
		/* If this fails the file keeps its pages; there is no one
		 * left to tell but the caller, who has a better error. */
		int rc = ftruncate(b->fd, 0);

		(void)rc;
	}
	close(b->fd);
	b->fd = -1;
}

/* Open path and check it is a regular file on a hugetlbfs mount of the
 * right page size, empty or of the right size. */
static int open_path(struct kmem_backing *b, const struct kmem_backing_params *p,
		     struct stat *st, char *msg, size_t len)
{
	mode_t mode = p->file_mode ? (mode_t)p->file_mode : 0600;
	struct statfs sfs;
	char a[KMEM_SIZE_STR_MAX], c[KMEM_SIZE_STR_MAX];

	b->fd = open(p->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	b->created = b->fd >= 0;
	if (b->fd < 0 && errno == EEXIST)
		b->fd = open(p->path, O_RDWR | O_CLOEXEC);
	if (b->fd < 0)
		return say(msg, len, errno_code(errno), "cannot open %s: %s",
			   p->path, strerror(errno));
	if (fstatfs(b->fd, &sfs) || fstat(b->fd, st))
		return sys_fail("fstat", errno, msg, len);
	if (sfs.f_type != HUGETLBFS_MAGIC)
		return say(msg, len, KMEM_EINVAL,
			   "%s is not on a hugetlbfs mount", p->path);
	if ((uint64_t)sfs.f_bsize != b->page_size)
		return say(msg, len, KMEM_EINVAL,
			   "%s is on a hugetlbfs mount of %s pages, not %s",
			   p->path, kmem__size_str((uint64_t)sfs.f_bsize, a),
			   kmem__size_str(b->page_size, c));
	if (!S_ISREG(st->st_mode))
		return say(msg, len, KMEM_EINVAL, "%s is not a regular file",
			   p->path);
	if (st->st_size != 0 && (uint64_t)st->st_size != p->size)
		return say(msg, len, KMEM_EINVAL,
			   "%s exists with %llu bytes, not %llu", p->path,
			   (unsigned long long)st->st_size,
			   (unsigned long long)p->size);
	b->was_empty = st->st_size == 0;
	return 0;
}

static int reserve_path(struct kmem_backing *b,
			const struct kmem_backing_params *p, char *msg,
			size_t len)
{
	uint64_t n = p->size >> b->shift, present, need, avail;
	struct stat st;
	int rc;

	b->kind = KMEM_BACKING_HUGETLBFS;
	rc = open_path(b, p, &st, msg, len);
	if (rc)
		goto fail_file;
	/* hugetlbfs counts a file's pages in i_blocks: only missing pages
	 * need free ones. */
	present = ((uint64_t)st.st_blocks * 512) >> b->shift;
	need = present < n ? n - present : 0;
	rc = pool_check(b->page_size, need, &avail, msg, len);
	if (rc)
		goto fail_file;
	rc = fill(b, n, n + (b->was_empty ?
			     extra_pages(p, n, avail - need) : 0), msg, len);
	if (rc)
		goto fail_file;
	return 0;

fail_file:
	if (b->fd >= 0)
		release_file(b);
	return rc;
}

/* Reserve the file's pages, falling back to 4 KiB pages if allowed. */
static int reserve(struct kmem_backing *b, const struct kmem_backing_params *p,
		   char *msg, size_t len)
{
	int rc;

	if (p->adopt)
		return kmem__backing_reserve_adopted(b, p, msg, len);
	if (p->path)
		return reserve_path(b, p, msg, len);
	if (b->page_size != KMEM_BACKING_4K) {
		b->kind = KMEM_BACKING_MEMFD_HUGETLB;
		rc = reserve_memfd(b, p, msg, len);
		if (rc != KMEM_ENOHUGE || !p->allow_nohuge)
			return rc;
		if (msg && len)
			msg[0] = '\0';
		set_page_size(b, KMEM_BACKING_4K);
	}
	b->kind = KMEM_BACKING_NOHUGE;
	return reserve_memfd(b, p, msg, len);
}

/* Map the reserved pages; from file offset 0, or an adopted window's. */
static int map(struct kmem_backing *b, char *msg, size_t len)
{
	uint64_t bytes = b->reserved * b->page_size;
	void *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, b->fd, (off_t)b->map_offset);

	if (a == MAP_FAILED)
		return sys_fail("mmap", errno, msg, len);
	b->addr = a;
	b->size = bytes;
	b->npages = b->reserved;
	return 0;
}

/* ------------------------------------------------------ frames and nodes */

static void nodes_from_kernel(struct kmem_backing *b)
{
	void *pages[NODE_BATCH];
	int status[NODE_BATCH];

	for (uint64_t i = 0; i < b->npages; i += NODE_BATCH) {
		uint64_t k = b->npages - i < NODE_BATCH ? b->npages - i :
			     NODE_BATCH;

		for (uint64_t j = 0; j < k; j++)
			pages[j] = b->addr + ((i + j) << b->shift);
		/* With a NULL node list move_pages only reports each page's
		 * node (or a negative errno in its status). */
		if (syscall(SYS_move_pages, 0, (unsigned long)k, pages, NULL,
			    status, 0) != 0)
			for (uint64_t j = 0; j < k; j++)
				status[j] = -1;
		for (uint64_t j = 0; j < k; j++)
			b->node[i + j] = (int16_t)(status[j] >= 0 &&
				status[j] <= INT16_MAX ? status[j] : -1);
	}
}

/* Frames from pagemap; false if any page's frame is unknown. */
static bool frames_from_pagemap(struct kmem_backing *b)
{
	uint64_t base = (uint64_t)sysconf(_SC_PAGESIZE), e;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0;

	for (uint64_t i = 0; ok && i < b->npages; i++) {
		uintptr_t va = (uintptr_t)(b->addr + (i << b->shift));

		ok = pread(fd, &e, sizeof(e), (off_t)(va / base * 8)) ==
		     (ssize_t)sizeof(e) && (e & PM_PRESENT) &&
		     (e & PM_PFN_MASK);
		if (ok) {
			b->pa[i] = (e & PM_PFN_MASK) * base;
			ok = b->pa[i] % b->page_size == 0;
		}
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static int frames_from_source(struct kmem_backing *b,
			      const struct kmem_backing_params *p, bool *all,
			      char *msg, size_t len)
{
	uint64_t first = b->map_offset >> b->shift;	/* file page of page 0 */

	*all = true;
	for (uint64_t i = 0; i < b->npages; i++) {
		uint64_t pa = 0;
		int node = -1, rc = p->frame(p->frame_ctx, first + i, &pa, &node);

		if (rc)
			return say(msg, len, rc < 0 ? rc : KMEM_EINVAL,
				   "the frame source failed for page %llu",
				   (unsigned long long)i);
		if (pa % b->page_size || pa > UINT64_MAX - b->page_size ||
		    node < -1 || node > INT16_MAX)
			return say(msg, len, KMEM_EINVAL,
				   "the frame source gave page %llu address "
				   "%#llx node %d: not page aligned, or out "
				   "of range", (unsigned long long)i,
				   (unsigned long long)pa, node);
		b->pa[i] = pa;
		b->node[i] = (int16_t)node;
		*all = *all && pa != 0;
	}
	return 0;
}

static int read_frames(struct kmem_backing *b,
		       const struct kmem_backing_params *p, char *msg,
		       size_t len)
{
	bool all = false;
	int rc;

	b->node = kmem__malloc(b->npages * sizeof(*b->node));
	if (!b->node)
		return say(msg, len, KMEM_ENOMETA, "no memory for the node table");
	if (p->frame || kmem__backing_is_huge(b)) {
		b->pa = kmem__malloc(b->npages * sizeof(*b->pa));
		if (!b->pa)
			return say(msg, len, KMEM_ENOMETA,
				   "no memory for the frame table");
	}
	if (p->frame) {
		rc = frames_from_source(b, p, &all, msg, len);
		if (rc)
			return rc;
	} else {
		nodes_from_kernel(b);
		all = kmem__backing_is_huge(b) && frames_from_pagemap(b);
	}
	b->iova = all ? KMEM_IOVA_PA : KMEM_IOVA_VA;
	if (!all) {
		kmem__free(b->pa);
		b->pa = NULL;
	}
	return 0;
}

/* ------------------------------------------------------ require_contiguous */

/* The first run of n pages among the reserved ones, or why there is none. */
static int pick_window(const struct kmem_backing *b, uint64_t n,
		       uint64_t *first, char *msg, size_t len)
{
	uint64_t best = 0;
	char a[KMEM_SIZE_STR_MAX], c[KMEM_SIZE_STR_MAX], d[KMEM_SIZE_STR_MAX];

	if (!b->pa)
		return say(msg, len, KMEM_EPERM,
			   "require_contiguous cannot be verified without "
			   "physical addresses (iova mode va: %s)",
			   kmem__backing_is_huge(b) ? "pagemap frames read as 0; "
			   "open with CAP_SYS_ADMIN" : "a nohuge backing has none");
	if (kmem__backing_find_run(b, n, first, &best) == 0)
		return 0;
	return say(msg, len, KMEM_ENOMEM,
		   "no physically contiguous run of %s among %llu reserved "
		   "%s pages; the largest is %llu pages (%s)",
		   kmem__size_str(n << b->shift, a), (unsigned long long)b->npages,
		   kmem__size_str(b->page_size, c), (unsigned long long)best,
		   kmem__size_str(best << b->shift, d));
}

/* Keep pages [w, w + n) and give the others back to the kernel. */
static int trim(struct kmem_backing *b, uint64_t w, uint64_t n,
		char *msg, size_t len)
{
	uint64_t head = w << b->shift, keep = n << b->shift;
	uint64_t tail = b->size - head - keep;

	if (tail)
		munmap(b->addr + head + keep, tail);
	if (head)
		munmap(b->addr, head);
	b->addr += head;
	b->size = keep;
	b->npages = n;
	b->map_offset += head;	/* an adopted window is mapped at its own */
	memmove(b->pa, b->pa + w, n * sizeof(*b->pa));
	memmove(b->node, b->node + w, n * sizeof(*b->node));
	if (head && fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      0, (off_t)head))
		return sys_fail("fallocate(PUNCH_HOLE)", errno, msg, len);
	if (tail && ftruncate(b->fd, (off_t)(head + keep)))
		return sys_fail("ftruncate", errno, msg, len);
	return 0;
}

/* ------------------------------------------------------ lock and seal */

static int lock_and_seal(struct kmem_backing *b, char *msg, size_t len)
{
	struct rlimit rl;
	char a[KMEM_SIZE_STR_MAX];

	/* The system call, not the libc wrapper: sanitizer runtimes
	 * intercept mlock() and make it a no-op that returns 0, and the
	 * tested library must lock as the shipped one does. */
	b->locked = syscall(SYS_mlock, b->addr, (size_t)b->size) == 0;
	/* mlock does nothing to hugetlb VMAs (their pages are never
	 * reclaimed), so its failure there - RLIMIT_MEMLOCK counts the
	 * length anyway - costs nothing; for shmem pages it is the lock. */
	if (!b->locked && !kmem__backing_is_huge(b)) {
		int err = errno;

		if (err != EPERM && err != ENOMEM)
			return sys_fail("mlock", err, msg, len);
		if (getrlimit(RLIMIT_MEMLOCK, &rl))
			rl.rlim_cur = 0;
		return say(msg, len, KMEM_EPERM,
			   "mlock of %s failed: %s; RLIMIT_MEMLOCK is %llu "
			   "KiB: raise it (ulimit -l) or grant CAP_IPC_LOCK",
			   kmem__size_str(b->size, a), strerror(err),
			   rl.rlim_cur == RLIM_INFINITY ? ~0ull :
			   (unsigned long long)rl.rlim_cur >> 10);
	}
	/* An adopted memfd may carry its seals from the process that made
	 * it; F_SEAL_SEAL forbids adding them again. */
	if (b->kind == KMEM_BACKING_HUGETLBFS || b->sealed)
		return 0;
	if (fcntl(b->fd, F_ADD_SEALS, KMEM_BACKING_SEALS))
		return sys_fail("fcntl(F_ADD_SEALS)", errno, msg, len);
	b->sealed = true;
	return 0;
}

/* ------------------------------------------------------ open and close */

static int check_params(const struct kmem_backing_params *p, uint64_t *ps,
			char *msg, size_t len)
{
	char a[KMEM_SIZE_STR_MAX], c[KMEM_SIZE_STR_MAX], d[KMEM_SIZE_STR_MAX];

	if (!p)
		return say(msg, len, KMEM_EINVAL, "no parameters");
	*ps = p->page_size ? p->page_size : KMEM_BACKING_2M;
	if (*ps != KMEM_BACKING_4K && *ps != KMEM_BACKING_2M &&
	    *ps != KMEM_BACKING_1G)
		return say(msg, len, KMEM_EINVAL,
			   "page size %llu is not supported; use 2 MiB, 1 GiB, "
			   "or 4 KiB for no hugepages",
			   (unsigned long long)*ps);
	if (p->size == 0)
		return say(msg, len, KMEM_EZEROSIZE, "size is 0");
	if (p->size % *ps)
		return say(msg, len, KMEM_EINVAL,
			   "size %llu is not a multiple of the %s page size; "
			   "%s would be", (unsigned long long)p->size,
			   kmem__size_str(*ps, a), kmem__size_str((p->size / *ps + 1) * *ps, c));
	/* Page indices are 32-bit, with room for require_contiguous's
	 * doubling. */
	if (p->size / *ps > UINT32_MAX / 2)
		return say(msg, len, KMEM_EINVAL, "size %s is too large",
			   kmem__size_str(p->size, d));
	if (p->path && (!*p->path || *ps == KMEM_BACKING_4K))
		return say(msg, len, KMEM_EINVAL, "%s",
			   *p->path ? "a hugetlbfs path needs a hugepage size" :
			   "path is empty");
	if (p->name && strlen(p->name) > 249)
		return say(msg, len, KMEM_EINVAL,
			   "memfd name is longer than 249 bytes");
	if (p->file_mode & ~07777u)
		return say(msg, len, KMEM_EINVAL, "file mode %#o is not a mode",
			   p->file_mode);
	if (p->adopt && (p->path || p->adopt_fd < 0))
		return say(msg, len, KMEM_EINVAL, "%s", p->path ?
			   "adopt and path exclude each other" :
			   "adopt_fd is not a file descriptor");
	return 0;
}

static void free_tables(struct kmem_backing *b)
{
	kmem__free(b->runs);
	kmem__free(b->seg_end);
	kmem__free(b->seg);
	kmem__free(b->node);
	kmem__free(b->pa);
}

int kmem_backing_open(const struct kmem_backing_params *params,
		      struct kmem_backing **out, char *msg, size_t msglen)
{
	struct kmem_backing *b;
	uint64_t ps = 0, w = 0;
	int rc = check_params(params, &ps, msg, msglen);

	if (rc)
		return rc;
	if (!out)
		return say(msg, msglen, KMEM_EINVAL, "out is NULL");
	b = kmem__calloc(1, sizeof(*b));
	if (!b)
		return say(msg, msglen, KMEM_ENOMETA,
			   "no memory for the backing");
	b->fd = -1;
	set_page_size(b, ps);
	if (params->path) {
		b->path = kmem__malloc(strlen(params->path) + 1);
		if (!b->path) {
			rc = say(msg, msglen, KMEM_ENOMETA, "no memory for the path");
			goto fail_meta;
		}
		strcpy(b->path, params->path);
	}
	rc = reserve(b, params, msg, msglen);
	if (rc)
		goto fail_meta;
	rc = map(b, msg, msglen);
	if (rc)
		goto fail_file;
	rc = read_frames(b, params, msg, msglen);
	if (rc)
		goto fail_tables;
	if (params->require_contiguous) {
		uint64_t n = params->size >> b->shift;

		rc = pick_window(b, n, &w, msg, msglen);
		if (rc == 0)
			rc = trim(b, w, n, msg, msglen);
		if (rc)
			goto fail_tables;
	}
	rc = kmem__backing_build(b);
	if (rc) {
		say(msg, msglen, rc, "no memory for the run tables");
		goto fail_tables;
	}
	rc = lock_and_seal(b, msg, msglen);
	if (rc)
		goto fail_tables;
	*out = b;
	return 0;

fail_tables:
	free_tables(b);
	munmap(b->addr, b->size);
fail_file:
	release_file(b);
fail_meta:
	kmem__free(b->path);
	kmem__free(b);
	return rc;
}

void kmem_backing_close(struct kmem_backing *b)
{
	if (!b)
		return;
	munmap(b->addr, b->size);
	close(b->fd);
	free_tables(b);
	kmem__free(b->path);
	kmem__free(b);
}
