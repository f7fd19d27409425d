/*
 * kmem/backing.h - the memory behind a pool: one file descriptor, one
 * mapping of it, and what is known about the physical pages underneath.
 *
 * A backing is hugetlb memory (an memfd by default, or a file on a
 * hugetlbfs mount so the memory can outlive the process), reserved and
 * faulted in completely when it is opened, so no later access can fault
 * for want of a page.  At open the backing reads each page's physical
 * frame (/proc/self/pagemap) and NUMA node (move_pages) once into tables;
 * every question afterwards - the physical address of an offset, whether a
 * range is physically contiguous, its scatter list - is answered from
 * those tables without a system call.
 *
 * The backing groups its pages into runs: maximal stretches that are
 * consecutive in the file, consecutive in physical memory, on one NUMA
 * node, and wholly below 4 GiB (zone DMA32) or wholly above it (NORMAL).
 * The pool layer builds one allocator arena per run.
 *
 * Offsets.  Every offset in and out of this API (run offsets, phys, sg,
 * node) is an offset into the mapping, 0 .. size.  The file offset is that
 * plus kmem_backing_map_offset(), which is 0 except when require_contiguous
 * kept a window in the middle of a larger reservation; clients that map the
 * fd themselves must mmap(size, map_offset).
 *
 * Modes.  iova mode "pa": every page's physical frame is known (the opener
 * has CAP_SYS_ADMIN, or a frame source was given).  iova mode "va": frames
 * are unknown (pagemap reads 0 without CAP_SYS_ADMIN, or the backing is
 * "nohuge"); physical addresses are unavailable and a device must address
 * the memory through an IOMMU by virtual address.
 *
 * Sealing.  An memfd backing is sealed with F_SEAL_SHRINK, F_SEAL_GROW and
 * F_SEAL_SEAL, so no holder of the fd can truncate it under the others or
 * add seals (F_SEAL_FUTURE_WRITE) that would lock them out.  Seals cannot
 * stop a holder from punching a hole (fallocate PUNCH_HOLE), which unmaps
 * and frees those pages everywhere; only trusted processes may hold the fd.
 * A hugetlbfs file cannot be sealed at all (the kernel gives such files
 * F_SEAL_SEAL at creation); anyone who can open it can truncate it.
 *
 * Locking.  The mapping is mlock()ed.  For hugetlb memory this is a no-op
 * in the kernel (mm/mlock.c skips hugetlb VMAs and VmLck does not grow):
 * hugetlb pages are never reclaimed or swapped, and fallocate() at open
 * already made them resident, so that is what guarantees residency.  For a
 * "nohuge" backing mlock is what keeps the pages in memory, and its failure
 * (RLIMIT_MEMLOCK) fails the open.
 *
 * Adopting.  Instead of making a new memfd, open can adopt one that an
 * earlier process made and someone kept (systemd's file descriptor store
 * keeps it while the daemon restarts): the memory and its contents are the
 * same, so are the physical pages; open checks that the file is what the
 * parameters describe (size, page size), maps it and reads its frames
 * afresh as for a new one.  Nothing is zeroed or truncated, ever.
 *
 * Single-threaded by contract, like the rest of lib/.  Open and close make
 * system calls; the queries do not.
 */
#ifndef KMEM_BACKING_H
#define KMEM_BACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KMEM_BACKING_4K ((uint64_t)4096)		/* no hugepages */
#define KMEM_BACKING_2M ((uint64_t)2 << 20)
#define KMEM_BACKING_1G ((uint64_t)1 << 30)

struct kmem_backing;

enum kmem_backing_kind {
	KMEM_BACKING_MEMFD_HUGETLB,	/* "memfd-hugetlb" */
	KMEM_BACKING_HUGETLBFS,		/* "hugetlbfs": a file by path */
	KMEM_BACKING_NOHUGE,		/* "nohuge": memfd of 4 KiB pages */
};

enum kmem_iova_mode {
	KMEM_IOVA_PA,	/* "pa": physical addresses known */
	KMEM_IOVA_VA,	/* "va": physical addresses unavailable */
};

struct kmem_backing_params {
	/* Bytes; a multiple of page_size. */
	uint64_t size;
	/*
	 * KMEM_BACKING_2M (also 0), KMEM_BACKING_1G, or KMEM_BACKING_4K to
	 * ask for a "nohuge" backing outright.
	 */
	uint64_t page_size;
	/*
	 * NULL for an memfd; else a file on a hugetlbfs mount of page_size
	 * pages, created (mode file_mode, 0 = 0600) if missing.  An existing
	 * file must be empty or exactly size bytes long; its contents are
	 * kept.  close does not remove the file: unlink it to free the pages.
	 */
	const char *path;
	unsigned file_mode;
	/* memfd name (shows in /proc/pid/fd); NULL = "kmem-backing". */
	const char *name;
	/*
	 * For an memfd: when hugepages of page_size cannot be had (too few
	 * free, or unsupported), make a "nohuge" backing instead of failing.
	 */
	bool allow_nohuge;
	/*
	 * The whole backing must be one physically contiguous run.  Open
	 * reserves up to twice the pages (as many as are free), keeps a
	 * window of size bytes that is one run, and gives the rest back
	 * (map_offset then says where the window starts in the file).  Needs
	 * iova mode "pa".  With an existing hugetlbfs file nothing extra is
	 * reserved: the whole file must already be one run.  A new hugetlbfs
	 * file trimmed this way is map_offset + size bytes long with a hole
	 * in front, and cannot be reopened by size (not supported yet).
	 */
	bool require_contiguous;
	/*
	 * Adopt an existing memfd instead of creating one: when adopt is
	 * true, adopt_fd is an memfd (MFD_HUGETLB of page_size, or of 4 KiB
	 * pages when page_size is 4 KiB or allow_nohuge is set) of exactly
	 * size bytes, sealed as this library seals its own or not sealed at
	 * all; path must be NULL.  Its contents are kept.  The backing works
	 * on its own duplicate of the fd: adopt_fd stays the caller's, open
	 * or closed as the caller likes, whether open succeeds or not.  Pages
	 * missing from the file (a hole someone punched) are allocated
	 * again, zeroed.  With require_contiguous the pool must be one run;
	 * the file may then be longer than size when it is a window cut
	 * from a larger reservation (a hole, then size bytes that end the
	 * file): map_offset says where the window starts, as at first.
	 */
	bool adopt;
	int adopt_fd;
	/*
	 * Test hook: when not NULL, called once for each page of the file
	 * (page = file offset / page_size) instead of reading pagemap and
	 * move_pages, whatever the kind, so even a 4 KiB backing gets these
	 * frames.  It sets *pa to the page's physical address (page aligned;
	 * 0 = unknown, which makes the backing "va") and *node (preset to
	 * -1).  It returns 0, or a negative KMEM_E* code that fails the open
	 * with that code.
	 */
	int (*frame)(void *ctx, uint64_t page, uint64_t *pa, int *node);
	void *frame_ctx;
};

/* Run flags. */
#define KMEM_RUN_PHYS	0x1u	/* phys is the run's physical address */
#define KMEM_RUN_CONTIG	0x2u	/* the run is physically contiguous */
#define KMEM_RUN_DMA32	0x4u	/* wholly below 4 GiB */
#define KMEM_RUN_NORMAL	0x8u	/* wholly at or above 4 GiB */

/*
 * A run.  In iova mode "pa" every run has PHYS and CONTIG and exactly one
 * of DMA32 and NORMAL.  In mode "va" phys is 0, the zone is unknown (no
 * zone flag), and a hugetlb backing's runs are its maximal stretches of
 * pages on one node (an IOMMU makes them contiguous in IOVA space; one
 * arena per hugepage would cap every allocation at one page); CONTIG is set
 * only for a one-page run.  A "nohuge" backing in mode "va" is one run
 * whose node is the pages' common node or -1.
 */
struct kmem_backing_run {
	uint64_t offset;	/* from the start of the mapping */
	uint64_t length;	/* bytes, a multiple of the page size */
	uint64_t phys;		/* physical address of offset, or 0 */
	int node;		/* NUMA node, -1 if unknown or mixed */
	unsigned flags;		/* KMEM_RUN_* */
};

/* One segment of a scatter list. */
struct kmem_sg {
	uint64_t phys;
	uint64_t len;
};

struct kmem_backing_info {
	enum kmem_backing_kind kind;
	enum kmem_iova_mode iova;
	const char *path;	/* the hugetlbfs file, NULL for an memfd */
	int fd;
	void *addr;		/* the mapping */
	uint64_t size;		/* bytes mapped */
	uint64_t page_size;
	uint64_t npages;	/* pages mapped */
	uint64_t map_offset;	/* file offset of the mapping */
	uint64_t reserved_pages; /* pages reserved at open (incl. returned) */
	size_t nruns;
	uint64_t largest_run;	/* bytes */
	bool sealed;		/* F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL */
	bool locked;		/* mlock() succeeded */
	bool adopted;		/* an existing memfd (params.adopt) */
};

/*
 * kmem_backing_open - reserve, map and describe the memory params ask for.
 * Returns 0 and *out, or (with a sentence in msg, see kmem/error.h):
 *   KMEM_EZEROSIZE  size is 0;
 *   KMEM_EINVAL     size not a multiple of page_size, unsupported
 *                   page_size, a path that is not on a hugetlbfs mount of
 *                   that page size, an existing file of another size, a
 *                   frame source giving unaligned addresses; an adopted
 *                   fd that is not open, not an memfd, of another size or
 *                   page size, or sealed against the seals open adds (the
 *                   message says which);
 *   KMEM_ENOENT     the path's directory does not exist;
 *   KMEM_ENOHUGE    fewer free hugepages than needed (the message names
 *                   both counts and the sysctl that fixes it), or the
 *                   kernel could not supply them (fallocate ENOMEM/ENOSPC);
 *   KMEM_ENOMEM     require_contiguous found no run of size bytes (the
 *                   message says the largest), or shmem is out of memory;
 *   KMEM_EPERM      require_contiguous without physical addresses; mlock
 *                   of a nohuge backing refused (RLIMIT_MEMLOCK); a path
 *                   that may not be opened;
 *   KMEM_ENOMETA    metadata allocation failed;
 *   KMEM_ESYS       another system call failed (message says which);
 *   or what the frame source returned.
 * On failure nothing is left behind: no fd, no mapping, no metadata, no
 * reserved page, and no file if this call created it (an adopted fd is
 * left as it was given, except for pages a hole had lost).
 * Cost: O(pages) system-call work (one pagemap read per page).
 */
int kmem_backing_open(const struct kmem_backing_params *params,
		      struct kmem_backing **out, char *msg, size_t msglen);

/*
 * kmem_backing_close - unmap, close the fd, free the metadata.  An memfd's
 * pages go back to the kernel when the last fd and mapping are gone
 * (clients may still hold them); a hugetlbfs file stays.  NULL is a no-op.
 */
void kmem_backing_close(struct kmem_backing *b);

/* Getters. */
int kmem_backing_fd(const struct kmem_backing *b);
void *kmem_backing_addr(const struct kmem_backing *b);
uint64_t kmem_backing_size(const struct kmem_backing *b);
uint64_t kmem_backing_page_size(const struct kmem_backing *b);
uint64_t kmem_backing_npages(const struct kmem_backing *b);
uint64_t kmem_backing_map_offset(const struct kmem_backing *b);
enum kmem_backing_kind kmem_backing_kind(const struct kmem_backing *b);
enum kmem_iova_mode kmem_backing_iova(const struct kmem_backing *b);
const char *kmem_backing_path(const struct kmem_backing *b);
/* Whether open adopted an existing memfd (params.adopt). */
bool kmem_backing_adopted(const struct kmem_backing *b);

/* "memfd-hugetlb", "hugetlbfs", "nohuge"; "pa", "va"; "?" if unknown. */
const char *kmem_backing_kind_name(enum kmem_backing_kind kind);
const char *kmem_backing_iova_name(enum kmem_iova_mode mode);

/* kmem_backing_info - fill *info (path and addr stay owned by b). */
void kmem_backing_info(const struct kmem_backing *b,
		       struct kmem_backing_info *info);

/* Runs, ordered by offset; they tile [0, size).  O(1). */
size_t kmem_backing_nruns(const struct kmem_backing *b);

/* kmem_backing_run - copy run i into *run; KMEM_ERANGE if i >= nruns. */
int kmem_backing_run(const struct kmem_backing *b, size_t i,
		     struct kmem_backing_run *run);

/* Bytes in the longest run. */
uint64_t kmem_backing_largest_run(const struct kmem_backing *b);

/*
 * kmem_backing_node - the NUMA node of the page holding off (-1 when
 * unknown).  KMEM_ERANGE if off >= size.  O(1).
 */
int kmem_backing_node(const struct kmem_backing *b, uint64_t off, int *node);

/*
 * kmem_backing_phys - the physical address of off.  KMEM_ERANGE if
 * off >= size, KMEM_EPERM in iova mode "va".  O(1): a shift, a load and an
 * add; never a system call.
 */
int kmem_backing_phys(const struct kmem_backing *b, uint64_t off,
		      uint64_t *pa);

/*
 * kmem_backing_contiguous - 1 if [off, off + len) is physically
 * contiguous, 0 if not, KMEM_EZEROSIZE for len 0, KMEM_ERANGE if the range
 * leaves [0, size).  In mode "va" a range within one page is contiguous
 * (a page always is, even at an unknown address) and any other is not.
 * Contiguity ignores runs' node and zone splits.  O(1).
 */
int kmem_backing_contiguous(const struct kmem_backing *b, uint64_t off,
			    uint64_t len);

/*
 * kmem_backing_sg - the scatter list of [off, off + len): maximal
 * physically contiguous segments, in offset order.  Writes the first
 * min(cap, needed) segments to segs (segs may be NULL when cap is 0) and
 * sets *n to the number needed; returns 0 when all fit and KMEM_ETOOBIG
 * when cap was too small (call again with cap = *n).  Other errors as
 * contiguous, KMEM_EPERM in mode "va" (and then *n is untouched).
 * O(segments).
 */
int kmem_backing_sg(const struct kmem_backing *b, uint64_t off, uint64_t len,
		    struct kmem_sg *segs, size_t cap, size_t *n);

/*
 * kmem_backing_check - verify the tables: runs tile the mapping, each run
 * is maximal and its pages agree on node, zone and contiguity, segment
 * tables agree with the frames.  0 or KMEM_ECORRUPT.  O(pages).
 */
int kmem_backing_check(const struct kmem_backing *b);

#endif
