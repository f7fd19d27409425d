/*
 * rpc/huge.c - hugepage reservations of both sizes (see huge.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "huge.h"

#define KNOB "/sys/kernel/mm/hugepages/hugepages-%s/%s"

static struct {
	pid_t owner;
	unsigned long added[2];		/* 2 MiB, 1 GiB */
} H;

static int index_of(uint64_t page_size)
{
	return page_size == RPC_HUGE_2M ? 0 : page_size == RPC_HUGE_1G ? 1 : -1;
}

static long knob_read(int i, const char *what)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), KNOB, i ? "1048576kB" : "2048kB", what);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int knob_write(int i, long v)
{
	char path[128];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), KNOB, i ? "1048576kB" : "2048kB",
		 "nr_hugepages");
	f = fopen(path, "w");
	if (!f)
		return -1;
	rc = fprintf(f, "%ld\n", v) < 0;
	rc |= fclose(f) != 0;
	return rc ? -1 : 0;
}

static void release_all(void)
{
	if (getpid() != H.owner)
		return;
	rpc_huge_release(RPC_HUGE_2M);
	rpc_huge_release(RPC_HUGE_1G);
}

long rpc_huge_free_pages(uint64_t page_size)
{
	int i = index_of(page_size);

	return i < 0 ? -1 : knob_read(i, "free_hugepages");
}

void rpc_huge_release(uint64_t page_size)
{
	int i = index_of(page_size);
	long cur;

	if (i < 0 || !H.added[i])
		return;
	cur = knob_read(i, "nr_hugepages");
	if (cur >= 0)
		knob_write(i, cur >= (long)H.added[i] ? cur - (long)H.added[i] : 0);
	H.added[i] = 0;
}

bool rpc_huge_reserve(uint64_t page_size, unsigned long pages)
{
	int i = index_of(page_size);
	long before, after, free_before;

	if (i < 0 || geteuid() != 0)
		return false;
	if (!H.owner) {
		H.owner = getpid();
		atexit(release_all);
	}
	before = knob_read(i, "nr_hugepages");
	free_before = knob_read(i, "free_hugepages");
	if (before < 0 || free_before < 0 ||
	    knob_write(i, before + (long)pages))
		return false;
	after = knob_read(i, "nr_hugepages");
	if (after > before)
		H.added[i] += (unsigned long)(after - before);
	if (after < before + (long)pages ||
	    knob_read(i, "free_hugepages") < free_before + (long)pages) {
		/* Give back only this call's share. */
		if (after > before) {
			knob_write(i, knob_read(i, "nr_hugepages") - (after - before));
			H.added[i] -= (unsigned long)(after - before);
		}
		return false;
	}
	return true;
}
