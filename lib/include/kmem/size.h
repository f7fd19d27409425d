/*
 * kmem/size.h - human sizes in and out ("4K", "2M", "1.5G").
 */
#ifndef KMEM_SIZE_H
#define KMEM_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * kmem_parse_size - parse a size: digits with an optional fraction and an
 * optional binary suffix K, M, G, T (also KiB, MiB, KB, k, ...; B or none
 * for bytes).  "1.5G" is 1610612736.  The result must be a whole number of
 * bytes.  Returns 0 and *out, or KMEM_EINVAL (malformed, fractional bytes)
 * or KMEM_ETOOBIG (over 2^64 - 1).
 */
int kmem_parse_size(const char *s, uint64_t *out);

/*
 * kmem_format_size - bytes as "4 KiB", "1.5 GiB", "100 B" into buf (at
 * least 32 bytes).  Returns buf.
 */
char *kmem_format_size(uint64_t bytes, char *buf, size_t len);

#endif
