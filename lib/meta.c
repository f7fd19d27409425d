/*
 * meta.c - the allocator's own metadata allocations, with an optional
 * failure-injection hook for tests (KMEM_FAULT_INJECT builds only).
 */
#include <stdlib.h>

#include "internal.h"

#ifdef KMEM_FAULT_INJECT
#include "kmem/fault.h"

static unsigned long fault_countdown;
static int fault_fired;
static long fault_live;

void kmem_fault_fail_nth(unsigned long nth)
{
	fault_countdown = nth;
	fault_fired = 0;
}

int kmem_fault_fired(void)
{
	return fault_fired;
}

long kmem_fault_live(void)
{
	return fault_live;
}

static int should_fail(void)
{
	if (fault_countdown && --fault_countdown == 0) {
		fault_fired = 1;
		return 1;
	}
	return 0;
}

void *kmem__malloc(size_t size)
{
	void *p = should_fail() ? NULL : malloc(size);

	fault_live += p != NULL;
	return p;
}

void *kmem__calloc(size_t n, size_t size)
{
	void *p = should_fail() ? NULL : calloc(n, size);

	fault_live += p != NULL;
	return p;
}

void *kmem__realloc(void *p, size_t size)
{
	void *q;

	if (should_fail())
		return NULL;
	q = realloc(p, size);
	fault_live += (p == NULL && q != NULL);
	return q;
}

void kmem__free(void *p)
{
	fault_live -= p != NULL;
	free(p);
}
#else
void *kmem__malloc(size_t size) { return malloc(size); }
void *kmem__calloc(size_t n, size_t size) { return calloc(n, size); }
void *kmem__realloc(void *p, size_t size) { return realloc(p, size); }
void kmem__free(void *p) { free(p); }
#endif
