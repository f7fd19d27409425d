/*
 * kmemctl_huge.c - hugepages per size and NUMA node, shown and reserved,
 * as dpdk-hugepages.py --show / --reserve do.  No daemon involved: this
 * is the kernel's hugetlb pool that kmemd's pools are carved from.
 *
 *   /sys/kernel/mm/hugepages/hugepages-<kB>kB/{nr,free,resv,surplus}_hugepages
 *   /sys/devices/system/node/node<N>/hugepages/hugepages-<kB>kB/{nr,free,surplus}_hugepages
 *
 * Reserving writes nr_hugepages (root only) and reads it back: the kernel
 * may make fewer pages than asked when memory is fragmented.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mntent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmemctl.h"

#define SYS_HUGE "/sys/kernel/mm/hugepages"
#define SYS_NODE "/sys/devices/system/node"

struct hp_row {
	uint64_t kb;
	int node;		/* -1: the whole system */
	uint64_t total, free, surplus;
	int64_t resv;		/* -1: the kernel keeps it system-wide only */
};

struct hp_list {
	struct hp_row *v;
	size_t n, cap;
};

/* ------------------------------------------------------------ sysfs */

static int read_u64(const char *path, uint64_t *out)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	*out = strtoull(buf, NULL, 10);
	return 0;
}

static uint64_t read_in(const char *dir, const char *file)
{
	char path[512];
	uint64_t v = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) < (int)sizeof(path))
		read_u64(path, &v);
	return v;
}

static int push(struct hp_list *l, const struct hp_row *r)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct hp_row *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

/* The rows of every "hugepages-<kB>kB" directory under dir. */
static int scan_sizes(struct hp_list *l, const char *dir, int node)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return 0;	/* no such node or no hugetlb: no rows */
	while (rc == 0 && (e = readdir(d))) {
		char sub[512];
		struct hp_row r = { .node = node, .resv = -1 };

		if (sscanf(e->d_name, "hugepages-%" SCNu64 "kB", &r.kb) != 1 ||
		    snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(sub))
			continue;
		r.total = read_in(sub, "nr_hugepages");
		r.free = read_in(sub, "free_hugepages");
		r.surplus = read_in(sub, "surplus_hugepages");
		if (node < 0)
			r.resv = (int64_t)read_in(sub, "resv_hugepages");
		rc = push(l, &r);
	}
	closedir(d);
	return rc;
}

static int row_order(const void *a, const void *b)
{
	const struct hp_row *x = a, *y = b;

	if (x->kb != y->kb)
		return x->kb < y->kb ? -1 : 1;
	return (x->node > y->node) - (x->node < y->node);
}

static int scan_all(struct hp_list *l)
{
	DIR *d;
	struct dirent *e;
	int node, rc = scan_sizes(l, SYS_HUGE, -1);

	d = opendir(SYS_NODE);
	while (rc == 0 && d && (e = readdir(d))) {
		char dir[512];

		if (sscanf(e->d_name, "node%d", &node) != 1 ||
		    snprintf(dir, sizeof(dir), SYS_NODE "/%s/hugepages",
			     e->d_name) >= (int)sizeof(dir))
			continue;
		rc = scan_sizes(l, dir, node);
	}
	if (d)
		closedir(d);
	qsort(l->v, l->n, sizeof(*l->v), row_order);
	return rc;
}

/* The kernel's default hugepage size in kB (Hugepagesize:), or 2048. */
static uint64_t default_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	uint64_t kb = 2048;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %" SCNu64 " kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* ------------------------------------------------------------ show */

static json_t *mounts_json(void)
{
	FILE *f = setmntent("/proc/mounts", "re");
	json_t *a = json_array();
	struct mntent *m;

	while (f && (m = getmntent(f)))
		if (!strcmp(m->mnt_type, "hugetlbfs"))
			json_array_append_new(a, json_pack("{s:s,s:s}", "path",
					      m->mnt_dir, "options", m->mnt_opts));
	if (f)
		endmntent(f);
	return a;
}

static json_t *rows_json(const struct hp_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++) {
		const struct hp_row *r = &l->v[i];

		json_array_append_new(a, json_pack("{s:I,s:o,s:I,s:I,s:o,s:I}",
			"size_kb", (json_int_t)r->kb,
			"node", r->node < 0 ? json_null() : json_integer(r->node),
			"total", (json_int_t)r->total, "free", (json_int_t)r->free,
			"reserved", r->resv < 0 ? json_null() : json_integer(r->resv),
			"surplus", (json_int_t)r->surplus));
	}
	return a;
}

static void show_rows(const struct hp_list *l)
{
	static const struct table_col cols[] = {
		{ "SIZE", false }, { "NODE", false }, { "TOTAL", true },
		{ "FREE", true }, { "RESERVED", true }, { "SURPLUS", true },
		{ "MEMORY", true },
	};
	char b[KMEMCTL_SIZE_MAX];
	struct table t;

	table_init(&t, cols, 7);
	for (size_t i = 0; i < l->n; i++) {
		const struct hp_row *r = &l->v[i];

		table_add(&t, "%" PRIu64 "kB", r->kb);
		if (r->node < 0)
			table_add(&t, "all");
		else
			table_add(&t, "%d", r->node);
		table_add(&t, "%" PRIu64, r->total);
		table_add(&t, "%" PRIu64, r->free);
		if (r->resv < 0)
			table_add(&t, "-");
		else
			table_add(&t, "%" PRId64, r->resv);
		table_add(&t, "%" PRIu64, r->surplus);
		table_add(&t, "%s", hsize(r->total * r->kb * 1024, b));
	}
	table_print(&t, stdout);
	table_fini(&t);
}

static void show_mounts(const json_t *mounts)
{
	size_t i;
	json_t *m;

	if (json_array_size(mounts) == 0)
		puts("\nhugetlbfs: none mounted (pools use memfd hugepages; a "
		     "pool with path= needs a mount)");
	json_array_foreach(mounts, i, m)
		printf("%shugetlbfs: %s (%s)\n", i ? "" : "\n",
		       jget_str(m, "path"), jget_str(m, "options"));
}

static int show(struct ctl *x)
{
	struct hp_list l = { 0 };
	json_t *mounts = NULL, *o;
	int rc = KMEMCTL_OK;

	if (scan_all(&l) || !(mounts = mounts_json())) {
		rc = ctl_err(x, "out of memory");
	} else if (x->json) {
		o = json_pack("{s:I,s:o,s:O}", "default_size_kb",
			      (json_int_t)default_kb(), "hugepages", rows_json(&l),
			      "mounts", mounts);
		rc = o ? ctl_print_json(x, o) : ctl_err(x, "out of memory");
		json_decref(o);
	} else if (l.n == 0) {
		rc = ctl_err(x, "no hugepage sizes in " SYS_HUGE " (a kernel "
			     "without CONFIG_HUGETLBFS?)");
	} else {
		show_rows(&l);
		show_mounts(mounts);
	}
	json_decref(mounts);
	free(l.v);
	return rc;
}

/* ------------------------------------------------------------ reserve */

struct hp_cmd {
	bool reserve, have_size, have_node;
	uint64_t count, size, node;
};

static int write_count(const struct ctl *x, const char *path, uint64_t n)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", n), e;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t w = fd < 0 ? -1 : write(fd, buf, (size_t)len);

	e = errno;
	if (fd >= 0)
		close(fd);
	if (w == len)
		return KMEMCTL_OK;
	if (e == EACCES || e == EPERM || e == EROFS)
		return ctl_err(x, "cannot write %s: %s (reserving hugepages needs "
			       "root and a writable /sys)", path, strerror(e));
	return ctl_err(x, "cannot write %s: %s", path, strerror(e));
}

static int reserve(struct ctl *x, const struct hp_cmd *h)
{
	uint64_t kb = h->have_size ? h->size / 1024 : default_kb(), got;
	char dir[256], path[300], where[32];

	if (h->have_node)
		snprintf(dir, sizeof(dir), SYS_NODE "/node%" PRIu64
			 "/hugepages/hugepages-%" PRIu64 "kB", h->node, kb);
	else
		snprintf(dir, sizeof(dir), SYS_HUGE "/hugepages-%" PRIu64 "kB", kb);
	if (h->have_node)
		snprintf(where, sizeof(where), "node %" PRIu64, h->node);
	else
		snprintf(where, sizeof(where), "all nodes");
	if (access(dir, F_OK))
		return ctl_err(x, "no %" PRIu64 "kB hugepages on %s (%s: %s; "
			       "'kmemctl hugepages' shows what there is)", kb,
			       where, dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	if (write_count(x, path, h->count))
		return KMEMCTL_FAIL;
	if (read_u64(path, &got))
		return ctl_err(x, "cannot read back %s", path);
	printf("%" PRIu64 "kB hugepages on %s: %" PRIu64 " (asked for %" PRIu64
	       ")\n", kb, where, got, h->count);
	if (got < h->count)
		return ctl_err(x, "the kernel made only %" PRIu64 " of %" PRIu64
			       " (memory too fragmented or too small? try again, "
			       "or reserve at boot with hugepages= on the kernel "
			       "command line)", got, h->count);
	return KMEMCTL_OK;
}

static int hp_opt(struct ctl *x, int o, const char *arg, void *st)
{
	struct hp_cmd *h = st;
	int rc;

	switch (o) {
	case 'r':
		h->reserve = true;
		return ctl_uint(x, "--reserve", arg, 0, UINT32_MAX, &h->count);
	case 'z':
		h->have_size = true;
		rc = ctl_size(x, "--size", arg, &h->size);
		if (rc == KMEMCTL_GO && (h->size < 4096 || h->size % 1024))
			return ctl_usage(x, "--size: '%s' is not a hugepage size "
					 "(like 2M or 1G)", arg);
		return rc;
	default:
		h->have_node = true;
		return ctl_uint(x, "--node", arg, 0, 1023, &h->node);
	}
}

int cmd_hugepages(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reserve", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 'z' },
		{ "node", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct hp_cmd h = { 0 };
	int rc = ctl_parse(x, argc, argv, "", opts, hp_opt, &h);

	if (rc != KMEMCTL_GO)
		return rc;
	if (!h.reserve && (h.have_size || h.have_node))
		return ctl_usage(x, "--size and --node go with --reserve");
	if (h.reserve && x->json)
		return ctl_usage(x, "--json shows; it does not go with --reserve");
	return h.reserve ? reserve(x, &h) : show(x);
}
