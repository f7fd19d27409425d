#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "testutil.h"

uint64_t tu_seed(const char *test)
{
	const char *s = getenv("KMEM_SEED");
	uint64_t seed;

	if (s && *s) {
		seed = strtoull(s, NULL, 0);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007u + (uint64_t)ts.tv_nsec;
	}
	if (seed == 0)
		seed = 1;
	printf("%s: seed %llu (repeat with KMEM_SEED=%llu)\n", test,
	       (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

uint64_t tu_ops(uint64_t dflt)
{
	const char *s = getenv("KMEM_OPS");

	return (s && *s) ? strtoull(s, NULL, 0) : dflt;
}

uint64_t tu_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 2685821657736338717ull;
}

uint64_t tu_below(uint64_t *state, uint64_t n)
{
	return n ? tu_rand(state) % n : 0;
}
