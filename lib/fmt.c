/*
 * fmt.c - human sizes and error sentences.
 */
#include <stdarg.h>
#include <stdio.h>

#include "fmt.h"

char *kmem__size_str(uint64_t bytes, char buf[KMEM_SIZE_STR_MAX])
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;

	while (u < 6 && bytes >= (1ull << (10 * (u + 1))))
		u++;
	if (u == 0 || bytes % (1ull << (10 * u)) == 0)
		snprintf(buf, KMEM_SIZE_STR_MAX, "%llu %s",
			 (unsigned long long)(bytes >> (10 * u)), unit[u]);
	else
		snprintf(buf, KMEM_SIZE_STR_MAX, "%.1f %s",
			 (double)bytes / (double)(1ull << (10 * u)), unit[u]);
	return buf;
}

void kmem__msg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}
