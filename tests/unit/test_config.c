/*
 * test_config.c - kmemd.conf (daemon/conffile.c) and pool specs
 * (daemon/config.c): good files, every kind of bad line, flags' syntax.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "conffile.h"
#include "config.h"

static char dir[] = "/tmp/kmem-conf-XXXXXX";

static const char *write_conf(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int load(const char *text, char *err, struct kmemd_config *c)
{
	config_defaults(c);
	return config_load_file(c, write_conf("k.conf", text), err, 512);
}

static void test_config_good_file(void **state)
{
	struct kmemd_config c;
	char err[512] = "";

	(void)state;
	assert_int_equal(load("# comment\n[kmemd]\nsocket = /tmp/s.sock\n"
			      "socket_mode = 0600\nmax_frame = 64K\nlog_level = debug\n"
			      "stall_timeout_ms = 500\n\n[pool dma]\nsize = 1G\n"
			      "page_size = 2M\npolicy = vmem\nuids = 0 1000,1001\n"
			      "gids = 27\nquota = 256M\nallow_nohuge = yes\n"
			      "require_contiguous = false\ndebug = poison, redzone\n"
			      "[pool b]\nsize=4M\n", err, &c), 0);
	assert_string_equal(c.socket_path, "/tmp/s.sock");
	assert_int_equal(c.socket_mode, 0600);
	assert_int_equal(c.max_frame, 65536);
	assert_int_equal(c.log_level, 3);
	assert_int_equal(c.stall_timeout_ms, 500);
	assert_int_equal(c.npools, 2);
	assert_string_equal(c.pools[0].name, "dma");
	assert_int_equal(c.pools[0].size, 1ull << 30);
	assert_int_equal(c.pools[0].page_size, 2u << 20);
	assert_int_equal(c.pools[0].policy, KMEM_POLICY_VMEM);
	assert_int_equal(c.pools[0].nuids, 3);
	assert_int_equal(c.pools[0].uids[2], 1001);
	assert_int_equal(c.pools[0].ngids, 1);
	assert_int_equal(c.pools[0].quota, 256u << 20);
	assert_true(c.pools[0].allow_nohuge);
	assert_false(c.pools[0].require_contiguous);
	assert_int_equal(c.pools[0].debug, KMEM_CACHE_POISON | KMEM_CACHE_REDZONE);
	assert_string_equal(c.pools[1].name, "b");
	assert_int_equal(c.pools[1].debug, 0);
}

static void expect_error(const char *text, const char *want)
{
	struct kmemd_config c;
	char err[512] = "", full[600];

	assert_int_equal(load(text, err, &c), -1);
	snprintf(full, sizeof(full), "%s/k.conf:%s", dir, want);
	if (strcmp(err, full))
		fprintf(stderr, "got:  %s\nwant: %s\n", err, full);
	assert_string_equal(err, full);
}

static void test_config_errors_name_file_line_key(void **state)
{
	(void)state;
	expect_error("[kmemd]\nsocket = /x\nbogus = 1\n",
		     "3: [kmemd] bogus = 1: unknown key (see kmemd.conf(5))");
	expect_error("[kmemd]\nlog_level = loud\n",
		     "2: [kmemd] log_level = loud: bad value");
	expect_error("[kmemd]\nsocket_mode = 0999\n",
		     "2: [kmemd] socket_mode = 0999: bad value");
	expect_error("[pool a]\nsize = 12Q\n", "2: [pool a] size = 12Q: bad value");
	expect_error("[pool a]\nsize = 4M\nallow_nohuge = maybe\n",
		     "3: [pool a] allow_nohuge = maybe: expected true or false");
	expect_error("[pool a]\nsize = 4M\ndebug = sparkle\n",
		     "3: [pool a] debug = sparkle: bad value");
	expect_error("[pool a]\ncolour = red\n",
		     "2: [pool a] colour = red: unknown key (see kmemd.conf(5))");
	expect_error("[pool bad/name]\nsize = 4M\n",
		     "2: [pool bad/name] size = 4M: pool name 'bad/name' is not "
		     "1-31 letters, digits, '_', '-' or '.'");
	expect_error("[weird]\nx = 1\n",
		     "2: [weird] x = 1: unknown section (sections: [kmemd], [pool NAME])");
	expect_error("[kmemd]\nthis is not a key value line\n",
		     "2: not a 'key = value' line or '[section]' header (or longer "
		     "than 200 bytes)");
}

static void test_config_whole_file_checks(void **state)
{
	struct kmemd_config c;
	char err[512];

	(void)state;
	assert_int_equal(load("[pool a]\npage_size = 2M\n", err, &c), -1);
	assert_string_equal(err, "pool 'a' has no size");
	assert_int_equal(load("[pool a]\nsize = 3M\n", err, &c), -1);
	assert_string_equal(err, "pool 'a': size 3145728 is not a multiple of "
			    "its page size 2097152");
	assert_int_equal(load("[pool a]\nsize = 4M\npage_size = 64K\n", err, &c), -1);
	assert_string_equal(err, "pool 'a': page size 65536 is not 4K, 2M or 1G");
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, "/nonexistent/k.conf", err, 512), -1);
	assert_string_equal(err, "/nonexistent/k.conf: cannot open");
}

static void test_config_print_round_trips(void **state)
{
	struct kmemd_config a, b;
	char err[512], *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(load("[kmemd]\nsocket = /tmp/r.sock\n[pool p]\nsize = 8M\n"
			      "page_size = 4K\nuids = 5 6\nquota = 1M\n"
			      "debug = redzone\n[pool q]\nsize = 4M\npage_size = 2M\n",
			      err, &a), 0);
	f = open_memstream(&text, &len);
	config_print(&a, f);
	fclose(f);
	assert_non_null(strstr(text, "\ndebug = redzone\n"));
	assert_non_null(strstr(text, "\ndebug = none\n"));
	config_defaults(&b);
	assert_int_equal(config_load_file(&b, write_conf("r.conf", text), err, 512), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(text);
}

static void test_config_pool_specs(void **state)
{
	struct kmemd_config c;
	char err[512];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_add_pool(&c, "name=x,size=64M,page=4K,nohuge,uids=0:7", err, sizeof(err)), 0);
	assert_int_equal(c.pools[0].nuids, 2);
	assert_true(c.pools[0].allow_nohuge);
	assert_int_equal(config_add_pool(&c, "name=x,size=4M", err, sizeof(err)), -1);
	assert_string_equal(err, "pool 'x' is defined twice");
	assert_int_equal(config_add_pool(&c, "name=y,size=4M,sparkly", err, sizeof(err)), -1);
	assert_string_equal(err, "pool spec 'name=y,size=4M,sparkly': unknown flag "
			    "'sparkly' (flags: nohuge, contig)");
	assert_int_equal(config_add_pool(&c, "name=y,size=4M,page=huge", err, sizeof(err)), -1);
	assert_string_equal(err, "pool spec 'name=y,size=4M,page=huge': bad value "
			    "'huge' for key 'page'");
	assert_int_equal(config_add_pool(&c, "name=d,size=4M,debug=poison+redzone",
					 err, sizeof(err)), 0);
	assert_int_equal(c.pools[1].debug, KMEM_CACHE_DEBUG);
	assert_int_equal(config_add_pool(&c, "name=e,size=4M,debug=poison,redzone",
					 err, sizeof(err)), -1);
	assert_string_equal(err, "pool spec 'name=e,size=4M,debug=poison,redzone': "
			    "unknown flag 'redzone' (flags: nohuge, contig)");
	assert_int_equal(config_add_pool(&c, "name=e,size=4M,debug=", err,
					 sizeof(err)), -1);
	assert_int_equal(config_add_pool(&c, "size=4M", err, sizeof(err)), -1);
	assert_string_equal(err, "pool spec 'size=4M': name= and size= are required");
	assert_int_equal(c.npools, 2);
	assert_int_equal(config_daemon_key(&c, "no_such_key", "1"), -2);
	assert_int_equal(config_daemon_key(&c, "max_frame", "1"), -1);
	assert_int_equal(config_daemon_key(&c, "max_frame", "2M"), 0);
	assert_int_equal(c.max_frame, 2u << 20);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_good_file),
		cmocka_unit_test(test_config_errors_name_file_line_key),
		cmocka_unit_test(test_config_whole_file_checks),
		cmocka_unit_test(test_config_print_round_trips),
		cmocka_unit_test(test_config_pool_specs),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
