/*
 * test_size.c - human sizes in and out (lib/fmt.c).
 */
#include <string.h>

#include "testutil.h"
#include "kmem/error.h"
#include "kmem/size.h"

static void test_size_parse_good(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "4K", 4096 }, { "4k", 4096 },
		{ "4KiB", 4096 }, { "4KB", 4096 }, { "2M", 2u << 20 },
		{ "1.5G", 3ull << 29 }, { "1G", 1ull << 30 }, { "3T", 3ull << 40 },
		{ "100B", 100 }, { "0.5K", 512 }, { "16777216", 16u << 20 },
		{ "18446744073709551615", UINT64_MAX },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;

		assert_int_equal(kmem_parse_size(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
}

static void test_size_parse_bad(void **state)
{
	static const char *bad[] = {
		"", "K", "-1", "1.", ".5", "1.5", "4X", "4 K", "1.0000001K",
		"0x10", "12MM", "1.5B",
	};
	uint64_t v = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kmem_parse_size(bad[i], &v), KMEM_EINVAL);
	assert_int_equal(kmem_parse_size(NULL, &v), KMEM_EINVAL);
	assert_int_equal(kmem_parse_size("18446744073709551616", &v), KMEM_ETOOBIG);
	assert_int_equal(kmem_parse_size("17179869184G", &v), KMEM_ETOOBIG);
	assert_int_equal(v, 7);
}

static void test_size_format(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(kmem_format_size(0, b, sizeof(b)), "0 B");
	assert_string_equal(kmem_format_size(100, b, sizeof(b)), "100 B");
	assert_string_equal(kmem_format_size(4096, b, sizeof(b)), "4 KiB");
	assert_string_equal(kmem_format_size(3ull << 29, b, sizeof(b)), "1.5 GiB");
	assert_string_equal(kmem_format_size(64ull << 20, b, sizeof(b)), "64 MiB");
	assert_string_equal(kmem_format_size(1500, b, sizeof(b)), "1.5 KiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_parse_good),
		cmocka_unit_test(test_size_parse_bad),
		cmocka_unit_test(test_size_format),
	};

	return cmocka_run_group_tests_name("size", tests, NULL, NULL);
}
