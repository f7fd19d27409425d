/*
 * internal.h - declarations shared between the files of lib/ only.
 * Nothing outside lib/ includes this header.
 */
#ifndef KMEM_LIB_INTERNAL_H
#define KMEM_LIB_INTERNAL_H

#include <stddef.h>

/*
 * Every metadata allocation in lib/ goes through these, so tests can make
 * the Nth one fail (see kmem/fault.h; only in builds with
 * KMEM_FAULT_INJECT defined, never in the installed library).
 */
void *kmem__malloc(size_t size);
void *kmem__calloc(size_t n, size_t size);
void *kmem__realloc(void *p, size_t size);
void kmem__free(void *p);

#endif
