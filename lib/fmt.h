/*
 * fmt.h - message helpers for lib/ (human sizes, error sentences).
 */
#ifndef KMEM_FMT_H
#define KMEM_FMT_H

#include <stddef.h>
#include <stdint.h>

#define KMEM_SIZE_STR_MAX 32

/*
 * kmem__size_str - bytes as a short human size: "4 KiB", "1.5 GiB",
 * "100 B".  Exact multiples print without decimals.  Returns buf.
 */
char *kmem__size_str(uint64_t bytes, char buf[KMEM_SIZE_STR_MAX]);

/* kmem__msg - snprintf into msg when msg is not NULL. */
void kmem__msg(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
