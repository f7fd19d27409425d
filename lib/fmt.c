/*
 * fmt.c - human sizes and error sentences.
 */
#include <stdarg.h>
#include <stdio.h>

#include "kmem/error.h"
#include "kmem/size.h"
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

int kmem_parse_size(const char *s, uint64_t *out)
{
	uint64_t whole = 0, frac = 0, fdiv = 1, mul = 1;
	const char *p = s;
	int shift = 0;

	if (!s || *p < '0' || *p > '9')
		return KMEM_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (whole > UINT64_MAX / 10 ||
		    (whole == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return KMEM_ETOOBIG;
		whole = whole * 10 + d;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return KMEM_EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (fdiv >= 1000000)
				return KMEM_EINVAL;
			frac = frac * 10 + (uint64_t)(*p - '0');
			fdiv *= 10;
		}
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default: break;
	}
	if (shift && *p == 'i')
		p++;
	if (*p == 'B' || (*p == 'b' && !shift))
		p++;
	if (*p)
		return KMEM_EINVAL;
	mul = 1ull << shift;
	if (whole > UINT64_MAX >> shift)
		return KMEM_ETOOBIG;
	/* The fraction must come out to whole bytes. */
	if ((frac * mul) % fdiv)
		return KMEM_EINVAL;
	if (whole * mul > UINT64_MAX - frac * mul / fdiv)
		return KMEM_ETOOBIG;
	*out = whole * mul + frac * mul / fdiv;
	return 0;
}

char *kmem_format_size(uint64_t bytes, char *buf, size_t len)
{
	char tmp[KMEM_SIZE_STR_MAX];

	snprintf(buf, len, "%s", kmem__size_str(bytes, tmp));
	return buf;
}
