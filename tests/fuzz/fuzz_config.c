/*
 * fuzz_config.c - the configuration parser (daemon/conffile.c, config.c).
 *
 * An input starting with "--pool " is one --pool spec (config_add_pool);
 * any other input is a kmemd.conf, written to an memfd and read with
 * config_load_file() through /proc/self/fd/N - the real function, no
 * string variant needed.  Whatever the parser returns, nothing may crash
 * or leak.  When it accepts the file, the configuration must survive a
 * round trip: config_print() of it, read back into fresh defaults, must be
 * accepted and give the same configuration, and print the same text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conffile.h"
#include "config.h"
#include "log.h"

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz: %s:%d: check failed: %s: ",	\
			__FILE__, __LINE__, #cond);			\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

static int memfd = -1;
static char memfd_path[64];

/* Make the memfd hold exactly len bytes of p. */
static void put(const void *p, size_t len)
{
	FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
	FUZZ_CHECK(len == 0 || pwrite(memfd, p, len, 0) == (ssize_t)len, "pwrite");
}

/* Load the memfd into fresh defaults. */
static int load(struct kmemd_config *c, char *err, size_t errlen)
{
	config_defaults(c);
	return config_load_file(c, memfd_path, err, errlen);
}

static char *print(const struct kmemd_config *c, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	FUZZ_CHECK(f, "open_memstream");
	config_print(c, f);
	fclose(f);
	return text;
}

static uint64_t page_of(const struct pool_config *p)
{
	return p->page_size ? p->page_size : 2u << 20;
}

#define SAME(field) FUZZ_CHECK(a->field == b->field, "%s differs", #field)
#define SAME_STR(field) FUZZ_CHECK(!strcmp(a->field, b->field), \
	"%s: '%s' became '%s'", #field, a->field, b->field)

static void same_pool(const struct pool_config *a, const struct pool_config *b)
{
	SAME_STR(name);
	SAME(size);
	FUZZ_CHECK(page_of(a) == page_of(b), "pool %s: page size differs", a->name);
	SAME_STR(path);
	SAME(policy);
	SAME(allow_nohuge);
	SAME(require_contiguous);
	SAME(nuids);
	SAME(ngids);
	SAME(quota);
	FUZZ_CHECK(!memcmp(a->uids, b->uids, a->nuids * sizeof(a->uids[0])), "uids");
	FUZZ_CHECK(!memcmp(a->gids, b->gids, a->ngids * sizeof(a->gids[0])), "gids");
}

static void same_config(const struct kmemd_config *a,
			const struct kmemd_config *b)
{
	SAME_STR(socket_path);
	SAME(socket_mode);
	SAME(max_frame);
	SAME(have_admin_gid);
	FUZZ_CHECK(!a->have_admin_gid || a->admin_gid == b->admin_gid, "admin_gid");
	SAME(log_level);
	SAME(out_limit);
	SAME(stall_timeout_ms);
	SAME_STR(stats_socket_path);
	SAME(stats_socket_set);
	SAME(stats_socket_mode);
	SAME(stats_port);
	SAME_STR(stats_address);
	SAME(stats_timeout_ms);
	SAME_STR(state_dir);
	SAME(npools);
	for (size_t i = 0; i < a->npools; i++)
		same_pool(&a->pools[i], &b->pools[i]);
}

static void round_trip(const struct kmemd_config *c)
{
	static struct kmemd_config back;
	char err[512] = "";
	size_t len1, len2;
	char *t1 = print(c, &len1), *t2;

	put(t1, len1);
	FUZZ_CHECK(load(&back, err, sizeof(err)) == 0, "the printed configuration "
		   "is refused: %s\n--- printed:\n%s", err, t1);
	same_config(c, &back);
	t2 = print(&back, &len2);
	FUZZ_CHECK(len1 == len2 && !memcmp(t1, t2, len1), "printed twice, "
		   "differently:\n--- first:\n%s--- second:\n%s", t1, t2);
	free(t1);
	free(t2);
}

static void pool_spec(const uint8_t *data, size_t size)
{
	static struct kmemd_config c;
	char *spec = malloc(size + 1), err[512];

	FUZZ_CHECK(spec, "out of memory");
	memcpy(spec, data, size);
	spec[size] = 0;
	config_defaults(&c);
	if (config_add_pool(&c, spec, err, sizeof(err)) == 0) {
		FUZZ_CHECK(c.npools == 1 && c.pools[0].name[0] && c.pools[0].size,
			   "accepted a pool without a name or size");
		config_finish(&c);
		if (config_check(&c, err, sizeof(err)) == 0)
			round_trip(&c);
	}
	free(spec);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERR);
	memfd = memfd_create("kmemd.conf", MFD_CLOEXEC);
	FUZZ_CHECK(memfd >= 0, "memfd_create");
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kmemd_config c;
	char err[512] = "";

	if (size >= 7 && !memcmp(data, "--pool ", 7)) {
		pool_spec(data + 7, size - 7);
		return 0;
	}
	put(data, size);
	if (load(&c, err, sizeof(err)) == 0)
		round_trip(&c);
	else
		FUZZ_CHECK(err[0], "refused without a reason");
	return 0;
}
