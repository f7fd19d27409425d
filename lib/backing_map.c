/*
 * backing_map.c - a backing's physical map: runs, segments, and the
 * queries answered from them without a system call.
 *
 * Theory.  backing.c leaves one frame (pa, or no table at all in iova mode
 * "va") and one node per page.  Two partitions of the pages follow:
 *   segments  maximal stretches with pa[p] == pa[p-1] + page_size: physical
 *             contiguity and nothing else (the scatter-list unit);
 *   runs      segments further split where the node changes and at the
 *             4 GiB line (the arena unit: one node, one zone).
 * Pages are naturally aligned and 4 GiB is a multiple of every page size,
 * so a contiguous pair crosses 4 GiB exactly when the upper page's address
 * is 4 GiB.  In mode "va" there are no segments and runs are the stretches
 * on one node - one run for a "nohuge" backing, whose 4 KiB pages would
 * otherwise make absurd arenas.
 *
 * Tables: seg[p] is page p's segment, seg_end[s] one past segment s's last
 * page, so contiguity of [off, off + len) is seg[first] == seg[last], and a
 * scatter list jumps from segment end to segment end.
 *
 * Invariants (kmem_backing_check): runs tile [0, size) in order and are
 * maximal; within a run every page joins its predecessor; each run's
 * description matches its pages; seg[p] == seg[p-1] exactly when p
 * continues p-1 physically; seg_end[s] is one past segment s.
 *
 * Cost: phys, contiguous, node and run O(1); sg O(segments); build and
 * check O(pages).
 */
#include <string.h>

#include "kmem/backing.h"
#include "kmem/error.h"
#include "internal.h"
#include "backing_impl.h"

#define FOUR_GIB	((uint64_t)1 << 32)

/* Does page p continue the run of page p - 1? */
static bool joins(const struct kmem_backing *b, uint64_t p)
{
	if (b->pa)
		return b->pa[p] == b->pa[p - 1] + b->page_size &&
		       b->node[p] == b->node[p - 1] && b->pa[p] != FOUR_GIB;
	if (!kmem__backing_is_huge(b))
		return true;
	return b->node[p] == b->node[p - 1];
}

/* Does page p continue page p - 1 physically? */
static bool continues(const struct kmem_backing *b, uint64_t p)
{
	return b->pa[p] == b->pa[p - 1] + b->page_size;
}

/* The run description of pages [s, e). */
static void describe(const struct kmem_backing *b, uint64_t s, uint64_t e,
		     struct kmem_backing_run *r)
{
	r->offset = s << b->shift;
	r->length = (e - s) << b->shift;
	r->node = b->node[s];
	for (uint64_t p = s + 1; p < e && r->node != -1; p++)
		if (b->node[p] != r->node)
			r->node = -1;
	if (b->pa) {
		r->phys = b->pa[s];
		r->flags = KMEM_RUN_PHYS | KMEM_RUN_CONTIG |
			   (r->phys < FOUR_GIB ? KMEM_RUN_DMA32 : KMEM_RUN_NORMAL);
	} else {
		r->phys = 0;
		r->flags = e - s == 1 ? KMEM_RUN_CONTIG : 0;
	}
}

/* One past the last page of the run that starts at page s. */
static uint64_t run_end(const struct kmem_backing *b, uint64_t s)
{
	uint64_t p = s + 1;

	while (p < b->npages && joins(b, p))
		p++;
	return p;
}

int kmem__backing_build(struct kmem_backing *b)
{
	size_t nruns = 0;

	for (uint64_t s = 0; s < b->npages; s = run_end(b, s))
		nruns++;
	b->runs = kmem__calloc(nruns, sizeof(*b->runs));
	if (!b->runs)
		return KMEM_ENOMETA;
	for (uint64_t s = 0, e; s < b->npages; s = e) {
		struct kmem_backing_run *r = &b->runs[b->nruns++];

		e = run_end(b, s);
		describe(b, s, e, r);
		if (r->length > b->largest)
			b->largest = r->length;
	}
	if (!b->pa)
		return 0;
	b->seg = kmem__malloc(b->npages * sizeof(*b->seg));
	if (!b->seg)
		return KMEM_ENOMETA;
	b->seg[0] = 0;
	for (uint64_t p = 1; p < b->npages; p++)
		b->seg[p] = b->seg[p - 1] + !continues(b, p);
	b->seg_end = kmem__malloc(((size_t)b->seg[b->npages - 1] + 1) *
				  sizeof(*b->seg_end));
	if (!b->seg_end)
		return KMEM_ENOMETA;
	for (uint64_t p = 0; p < b->npages; p++)
		b->seg_end[b->seg[p]] = (uint32_t)(p + 1);
	return 0;
}

int kmem__backing_find_run(const struct kmem_backing *b, uint64_t n,
			   uint64_t *first, uint64_t *largest)
{
	uint64_t best = 0;

	for (uint64_t s = 0, e; s < b->npages; s = e) {
		e = run_end(b, s);
		if (e - s >= n) {
			*first = s;
			return 0;
		}
		if (e - s > best)
			best = e - s;
	}
	*largest = best;
	return KMEM_ENOMEM;
}

/* ------------------------------------------------------ queries */

int kmem_backing_fd(const struct kmem_backing *b) { return b->fd; }
void *kmem_backing_addr(const struct kmem_backing *b) { return b->addr; }
uint64_t kmem_backing_size(const struct kmem_backing *b) { return b->size; }
uint64_t kmem_backing_page_size(const struct kmem_backing *b) { return b->page_size; }
uint64_t kmem_backing_npages(const struct kmem_backing *b) { return b->npages; }
uint64_t kmem_backing_map_offset(const struct kmem_backing *b) { return b->map_offset; }
enum kmem_backing_kind kmem_backing_kind(const struct kmem_backing *b) { return b->kind; }
enum kmem_iova_mode kmem_backing_iova(const struct kmem_backing *b) { return b->iova; }
const char *kmem_backing_path(const struct kmem_backing *b) { return b->path; }
bool kmem_backing_adopted(const struct kmem_backing *b) { return b->adopted; }
size_t kmem_backing_nruns(const struct kmem_backing *b) { return b->nruns; }
uint64_t kmem_backing_largest_run(const struct kmem_backing *b) { return b->largest; }

const char *kmem_backing_kind_name(enum kmem_backing_kind kind)
{
	switch (kind) {
	case KMEM_BACKING_MEMFD_HUGETLB: return "memfd-hugetlb";
	case KMEM_BACKING_HUGETLBFS: return "hugetlbfs";
	case KMEM_BACKING_NOHUGE: return "nohuge";
	}
	return "?";
}

const char *kmem_backing_iova_name(enum kmem_iova_mode mode)
{
	switch (mode) {
	case KMEM_IOVA_PA: return "pa";
	case KMEM_IOVA_VA: return "va";
	}
	return "?";
}

void kmem_backing_info(const struct kmem_backing *b,
		       struct kmem_backing_info *info)
{
	memset(info, 0, sizeof(*info));
	info->kind = b->kind;
	info->iova = b->iova;
	info->path = b->path;
	info->fd = b->fd;
	info->addr = b->addr;
	info->size = b->size;
	info->page_size = b->page_size;
	info->npages = b->npages;
	info->map_offset = b->map_offset;
	info->reserved_pages = b->reserved;
	info->nruns = b->nruns;
	info->largest_run = b->largest;
	info->sealed = b->sealed;
	info->locked = b->locked;
	info->adopted = b->adopted;
}

int kmem_backing_run(const struct kmem_backing *b, size_t i,
		     struct kmem_backing_run *run)
{
	if (i >= b->nruns)
		return KMEM_ERANGE;
	*run = b->runs[i];
	return 0;
}

int kmem_backing_node(const struct kmem_backing *b, uint64_t off, int *node)
{
	if (off >= b->size)
		return KMEM_ERANGE;
	*node = b->node[off >> b->shift];
	return 0;
}

int kmem_backing_phys(const struct kmem_backing *b, uint64_t off,
		      uint64_t *pa)
{
	if (off >= b->size)
		return KMEM_ERANGE;
	if (!b->pa)
		return KMEM_EPERM;
	*pa = b->pa[off >> b->shift] + (off & (b->page_size - 1));
	return 0;
}

static int range_check(const struct kmem_backing *b, uint64_t off,
		       uint64_t len)
{
	if (len == 0)
		return KMEM_EZEROSIZE;
	if (off >= b->size || len > b->size - off)
		return KMEM_ERANGE;
	return 0;
}

int kmem_backing_contiguous(const struct kmem_backing *b, uint64_t off,
			    uint64_t len)
{
	uint64_t first = off >> b->shift, last;
	int rc = range_check(b, off, len);

	if (rc)
		return rc;
	last = (off + len - 1) >> b->shift;
	if (first == last)
		return 1;
	return b->pa && b->seg[first] == b->seg[last];
}

int kmem_backing_sg(const struct kmem_backing *b, uint64_t off, uint64_t len,
		    struct kmem_sg *segs, size_t cap, size_t *n)
{
	uint64_t end = off + len, mask = b->page_size - 1;
	size_t count = 0;
	int rc = range_check(b, off, len);

	if (rc)
		return rc;
	if (!b->pa)
		return KMEM_EPERM;
	while (off < end) {
		uint64_t p = off >> b->shift;
		uint64_t stop = (uint64_t)b->seg_end[b->seg[p]] << b->shift;

		if (stop > end)
			stop = end;
		if (count < cap) {
			segs[count].phys = b->pa[p] + (off & mask);
			segs[count].len = stop - off;
		}
		count++;
		off = stop;
	}
	*n = count;
	return count <= cap ? 0 : KMEM_ETOOBIG;
}

int kmem_backing_check(const struct kmem_backing *b)
{
	struct kmem_backing_run r;
	uint64_t s = 0, largest = 0;

	if (b->npages == 0 || b->size != b->npages << b->shift ||
	    (b->iova == KMEM_IOVA_PA) != (b->pa != NULL))
		return KMEM_ECORRUPT;
	for (size_t i = 0; i < b->nruns; i++) {
		uint64_t e = s + (b->runs[i].length >> b->shift);

		if (b->runs[i].offset != s << b->shift || e <= s ||
		    e > b->npages || run_end(b, s) != e ||
		    (s > 0 && joins(b, s)))
			return KMEM_ECORRUPT;
		describe(b, s, e, &r);
		if (r.length != b->runs[i].length || r.phys != b->runs[i].phys ||
		    r.node != b->runs[i].node || r.flags != b->runs[i].flags)
			return KMEM_ECORRUPT;
		if (r.length > largest)
			largest = r.length;
		s = e;
	}
	if (s != b->npages || largest != b->largest)
		return KMEM_ECORRUPT;
	if (!b->pa)
		return 0;
	for (uint64_t p = 0; p < b->npages; p++) {
		bool last = p + 1 == b->npages || !continues(b, p + 1);

		if ((p == 0 ? b->seg[0] != 0 :
		     b->seg[p] != b->seg[p - 1] + !continues(b, p)) ||
		    (b->seg_end[b->seg[p]] == p + 1) != last)
			return KMEM_ECORRUPT;
	}
	return 0;
}
