/*
 * config.c - defaults and the --pool spec parser.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/size.h"
#include "config.h"
#include "log.h"

void config_defaults(struct kmemd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", KMEMD_DEFAULT_SOCKET);
	c->socket_mode = 0660;
	c->max_frame = KMEMD_DEFAULT_MAX_FRAME;
	c->log_level = LOG_INFO;
	c->out_limit = 4u << 20;
	c->stall_timeout_ms = 10000;
	c->resume_grace_ms = 30000;
	snprintf(c->stats_socket_path, sizeof(c->stats_socket_path), "%s",
		 KMEMD_DEFAULT_STATS_SOCKET);
	/* Stats name client pids, uids and commands, and each request costs
	 * the allocation loop time: the same group as the allocation
	 * socket, by default, rather than every local user. */
	c->stats_socket_mode = 0660;
	snprintf(c->stats_address, sizeof(c->stats_address), "127.0.0.1");
	c->stats_timeout_ms = 10000;
}

static int parse_ids(const char *v, uint32_t *ids, size_t *n)
{
	char *end;

	*n = 0;
	while (*v) {
		unsigned long x;

		if (*n == KMEMD_MAX_IDS || *v < '0' || *v > '9')
			return -1;
		errno = 0;
		x = strtoul(v, &end, 10);
		if (errno || x > UINT32_MAX - 1 || (*end && *end != ':'))
			return -1;
		ids[(*n)++] = (uint32_t)x;
		v = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}

/*
 * A string value that survives a round trip through kmemd.conf: not
 * empty, printable, no leading or trailing blank, no ';' (the INI reader
 * takes " ;" for the start of a comment), and short enough that
 * "key = value" fits the reader's 200-byte line.
 */
#define VALUE_MAX 160

static bool value_ok(const char *v, size_t cap)
{
	size_t n = strlen(v);

	if (n == 0 || n >= cap || n > VALUE_MAX || v[0] == ';' ||
	    v[0] == ' ' || v[n - 1] == ' ')
		return false;
	for (; *v; v++)
		if (*v < ' ' || *v > '~' || *v == ';')
			return false;
	return true;
}

static bool name_ok(const char *v)
{
	size_t n = strlen(v);

	return n > 0 && n < KMEMD_POOL_NAME_MAX && strspn(v,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

int config_debug_flags(const char *v, unsigned *flags)
{
	unsigned f = 0;

	if (!strcmp(v, "none")) {
		*flags = 0;
		return 0;
	}
	while (*v) {
		size_t n = strcspn(v, "+,: ");

		if (n == 6 && !strncmp(v, "poison", 6))
			f |= KMEM_CACHE_POISON;
		else if (n == 7 && !strncmp(v, "redzone", 7))
			f |= KMEM_CACHE_REDZONE;
		else
			return -1;
		v += n;
		v += strspn(v, "+,: ");
	}
	if (!f)
		return -1;
	*flags = f;
	return 0;
}

const char *config_debug_name(unsigned flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s",
		 flags & KMEM_CACHE_POISON ? "poison" : "",
		 (flags & KMEM_CACHE_DEBUG) == KMEM_CACHE_DEBUG ? "," : "",
		 flags & KMEM_CACHE_REDZONE ? "redzone" :
		 flags & KMEM_CACHE_POISON ? "" : "none");
	return buf;
}

int config_pool_key(struct pool_config *p, const char *k, const char *v)
{
	if (!strcmp(k, "name")) {
		if (!name_ok(v))
			return -1;
		strcpy(p->name, v);
		return 0;
	}
	if (!strcmp(k, "size"))
		return kmem_parse_size(v, &p->size) || p->size == 0 ? -1 : 0;
	if (!strcmp(k, "page"))
		return kmem_parse_size(v, &p->page_size) ? -1 : 0;
	if (!strcmp(k, "quota"))
		return kmem_parse_size(v, &p->quota) ? -1 : 0;
	if (!strcmp(k, "policy")) {
		if (!strcmp(v, "buddy"))
			p->policy = KMEM_POLICY_BUDDY;
		else if (!strcmp(v, "vmem") || !strcmp(v, "resource-map"))
			p->policy = KMEM_POLICY_VMEM;
		else
			return -1;
		return 0;
	}
	if (!strcmp(k, "uids"))
		return parse_ids(v, p->uids, &p->nuids);
	if (!strcmp(k, "gids"))
		return parse_ids(v, p->gids, &p->ngids);
	if (!strcmp(k, "path")) {
		if (!value_ok(v, sizeof(p->path)))
			return -1;
		strcpy(p->path, v);
		return 0;
	}
	if (!strcmp(k, "debug"))
		return config_debug_flags(v, &p->debug);
	return -2;
}

int config_add_pool(struct kmemd_config *c, const char *spec, char *err,
		    size_t errlen)
{
	struct pool_config p;
	char buf[1024], *save = NULL;

	if (c->npools == KMEMD_MAX_POOLS) {
		snprintf(err, errlen, "too many pools (at most %d)", KMEMD_MAX_POOLS);
		return -1;
	}
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "pool spec too long");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	strcpy(buf, spec);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		int rc;

		if (!eq) {
			if (!strcmp(kv, "nohuge"))
				p.allow_nohuge = true;
			else if (!strcmp(kv, "contig"))
				p.require_contiguous = true;
			else {
				snprintf(err, errlen, "pool spec '%s': unknown flag '%s' "
					 "(flags: nohuge, contig)", spec, kv);
				return -1;
			}
			continue;
		}
		*eq = 0;
		rc = config_pool_key(&p, kv, eq + 1);
		if (rc == -2) {
			snprintf(err, errlen, "pool spec '%s': unknown key '%s' (keys: "
				 "name size page policy uids gids quota path debug)",
				 spec, kv);
			return -1;
		}
		if (rc) {
			snprintf(err, errlen, "pool spec '%s': bad value '%s' for key '%s'",
				 spec, eq + 1, kv);
			return -1;
		}
	}
	if (!p.name[0] || !p.size) {
		snprintf(err, errlen, "pool spec '%s': name= and size= are required", spec);
		return -1;
	}
	for (size_t i = 0; i < c->npools; i++) {
		if (!strcmp(c->pools[i].name, p.name)) {
			snprintf(err, errlen, "pool '%s' is defined twice", p.name);
			return -1;
		}
	}
	c->pools[c->npools++] = p;
	return 0;
}

static int parse_mode(const char *v, mode_t *m)
{
	char *end;
	unsigned long x = strtoul(v, &end, 8);

	if (*end || end == v || x > 0777)
		return -1;
	*m = (mode_t)x;
	return 0;
}

static int parse_ms(const char *v, uint32_t *ms)
{
	char *end;
	unsigned long x = strtoul(v, &end, 10);

	if (*end || end == v || x == 0 || x > 3600000)
		return -1;
	*ms = (uint32_t)x;
	return 0;
}

static int parse_gid(const char *v, gid_t *gid)
{
	struct group *g = getgrnam(v);
	char *end;
	unsigned long x;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	x = strtoul(v, &end, 10);
	if (*end || end == v || x >= UINT32_MAX)
		return -1;
	*gid = (gid_t)x;
	return 0;
}

/* The HTTP stats endpoint's keys, without their "stats_" prefix. */
static int stats_key(struct kmemd_config *c, const char *k, const char *v)
{
	unsigned char addr[16];
	char *end;
	unsigned long x;

	if (!strcmp(k, "socket")) {
		if (!value_ok(v, sizeof(c->stats_socket_path)))
			return -1;
		memset(c->stats_socket_path, 0, sizeof(c->stats_socket_path));
		if (strcmp(v, "none"))
			strcpy(c->stats_socket_path, v);
		c->stats_socket_set = true;
		return 0;
	}
	if (!strcmp(k, "socket_mode"))
		return parse_mode(v, &c->stats_socket_mode);
	if (!strcmp(k, "port")) {
		x = strtoul(v, &end, 10);
		if (*end || end == v || *v == '-' || x > 65535)
			return -1;
		c->stats_port = (uint16_t)x;
		return 0;
	}
	if (!strcmp(k, "address")) {
		if (!value_ok(v, sizeof(c->stats_address)) ||
		    (inet_pton(AF_INET, v, addr) != 1 &&
		     inet_pton(AF_INET6, v, addr) != 1))
			return -1;
		strcpy(c->stats_address, v);
		return 0;
	}
	if (!strcmp(k, "timeout_ms"))
		return parse_ms(v, &c->stats_timeout_ms);
	return -2;
}

int config_daemon_key(struct kmemd_config *c, const char *k, const char *v)
{
	uint64_t x;

	if (!strcmp(k, "socket")) {
		if (!value_ok(v, sizeof(c->socket_path)))
			return -1;
		strcpy(c->socket_path, v);
		return 0;
	}
	if (!strcmp(k, "socket_mode"))
		return parse_mode(v, &c->socket_mode);
	if (!strcmp(k, "admin_group")) {
		if (parse_gid(v, &c->admin_gid))
			return -1;
		c->have_admin_gid = true;
		return 0;
	}
	if (!strcmp(k, "max_frame")) {
		if (kmem_parse_size(v, &x) || x < 64 || x > (64u << 20))
			return -1;
		c->max_frame = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "log_level"))
		return (c->log_level = log_parse_level(v)) < 0 ? -1 : 0;
	if (!strcmp(k, "out_limit"))
		return kmem_parse_size(v, &c->out_limit) || c->out_limit < 4096 ? -1 : 0;
	if (!strcmp(k, "stall_timeout_ms"))
		return parse_ms(v, &c->stall_timeout_ms);
	/* 0 is meaningful here: durable sessions off. */
	if (!strcmp(k, "resume_grace_ms")) {
		if (!strcmp(v, "0")) {
			c->resume_grace_ms = 0;
			return 0;
		}
		return parse_ms(v, &c->resume_grace_ms);
	}
	if (!strcmp(k, "user")) {
		if (!value_ok(v, sizeof(c->user)))
			return -1;
		strcpy(c->user, v);
		return 0;
	}
	if (!strcmp(k, "state_dir")) {
		if (!value_ok(v, sizeof(c->state_dir)))
			return -1;
		/* "none": keep no journal (named buffers die with the daemon). */
		snprintf(c->state_dir, sizeof(c->state_dir), "%s",
			 strcmp(v, "none") ? v : "");
		return 0;
	}
	if (!strncmp(k, "stats_", 6))
		return stats_key(c, k + 6, v);
	return -2;
}

struct pool_config *config_new_pool(struct kmemd_config *c, const char *name,
				    char *err, size_t errlen)
{
	struct pool_config *p;

	if (!name_ok(name)) {
		snprintf(err, errlen, "pool name '%s' is not 1-31 letters, digits, "
			 "'_', '-' or '.'", name);
		return NULL;
	}
	for (size_t i = 0; i < c->npools; i++) {
		if (!strcmp(c->pools[i].name, name)) {
			snprintf(err, errlen, "pool '%s' is defined twice", name);
			return NULL;
		}
	}
	if (c->npools == KMEMD_MAX_POOLS) {
		snprintf(err, errlen, "too many pools (at most %d)", KMEMD_MAX_POOLS);
		return NULL;
	}
	p = &c->pools[c->npools++];
	memset(p, 0, sizeof(*p));
	strcpy(p->name, name);
	return p;
}

void config_finish(struct kmemd_config *c)
{
	const char *slash = strrchr(c->socket_path, '/');

	/* Unless given, the stats socket sits beside the allocation socket,
	 * so two daemons on two sockets do not fight over one stats path. */
	if (!c->stats_socket_set && slash &&
	    (size_t)(slash - c->socket_path) + sizeof("/stats.sock") <=
	    sizeof(c->stats_socket_path))
		snprintf(c->stats_socket_path, sizeof(c->stats_socket_path),
			 "%.*s/stats.sock", (int)(slash - c->socket_path),
			 c->socket_path);
}

int config_check(const struct kmemd_config *c, char *err, size_t errlen)
{
	if (!strcmp(c->stats_socket_path, c->socket_path)) {
		snprintf(err, errlen, "the stats socket and the allocation socket "
			 "are both %s", c->socket_path);
		return -1;
	}
	for (size_t i = 0; i < c->npools; i++) {
		const struct pool_config *p = &c->pools[i];
		uint64_t ps = p->page_size ? p->page_size : 2u << 20;

		if (!p->size) {
			snprintf(err, errlen, "pool '%s' has no size", p->name);
			return -1;
		}
		if (ps != 4096 && ps != (2u << 20) && ps != (1u << 30)) {
			snprintf(err, errlen, "pool '%s': page size %llu is not 4K, "
				 "2M or 1G", p->name, (unsigned long long)ps);
			return -1;
		}
		if (p->size % ps) {
			snprintf(err, errlen, "pool '%s': size %llu is not a multiple "
				 "of its page size %llu", p->name,
				 (unsigned long long)p->size, (unsigned long long)ps);
			return -1;
		}
	}
	return 0;
}

static void print_ids(FILE *f, const char *key, const uint32_t *ids, size_t n)
{
	if (!n)
		return;
	fprintf(f, "%s =", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, " %u", ids[i]);
	fprintf(f, "\n");
}

void config_print(const struct kmemd_config *c, FILE *f)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };

	fprintf(f, "[kmemd]\nsocket = %s\nsocket_mode = %04o\n", c->socket_path,
		(unsigned)c->socket_mode);
	if (c->have_admin_gid)
		fprintf(f, "admin_group = %u\n", (unsigned)c->admin_gid);
	fprintf(f, "max_frame = %u\n", c->max_frame);
	fprintf(f, "out_limit = %llu\n", (unsigned long long)c->out_limit);
	fprintf(f, "stall_timeout_ms = %u\nlog_level = %s\n", c->stall_timeout_ms,
		levels[c->log_level]);
	fprintf(f, "state_dir = %s\n", c->state_dir[0] ? c->state_dir : "none");
	fprintf(f, "resume_grace_ms = %u\n", c->resume_grace_ms);
	if (c->user[0])
		fprintf(f, "user = %s\n", c->user);
	/* A derived stats socket is shown, as a comment, so reading this
	 * back derives it again. */
	fprintf(f, "%sstats_socket = %s%s\nstats_socket_mode = %04o\n",
		c->stats_socket_set ? "" : "# ",
		c->stats_socket_path[0] ? c->stats_socket_path : "none",
		c->stats_socket_set ? "" : "  (beside the socket)",
		(unsigned)c->stats_socket_mode);
	fprintf(f, "stats_port = %u\nstats_address = %s\nstats_timeout_ms = %u\n",
		(unsigned)c->stats_port, c->stats_address, c->stats_timeout_ms);
	for (size_t i = 0; i < c->npools; i++) {
		const struct pool_config *p = &c->pools[i];
		char dbg[24];

		fprintf(f, "\n[pool %s]\nsize = %llu\npage_size = %llu\n", p->name,
			(unsigned long long)p->size,
			(unsigned long long)(p->page_size ? p->page_size : 2u << 20));
		fprintf(f, "policy = %s\n", p->policy == KMEM_POLICY_VMEM ? "vmem" : "buddy");
		print_ids(f, "uids", p->uids, p->nuids);
		print_ids(f, "gids", p->gids, p->ngids);
		if (p->quota)
			fprintf(f, "quota = %llu\n", (unsigned long long)p->quota);
		if (p->path[0])
			fprintf(f, "path = %s\n", p->path);
		fprintf(f, "allow_nohuge = %s\nrequire_contiguous = %s\n",
			p->allow_nohuge ? "true" : "false",
			p->require_contiguous ? "true" : "false");
		fprintf(f, "debug = %s\n", config_debug_name(p->debug, dbg,
							     sizeof(dbg)));
	}
}

void config_default_pool(struct kmemd_config *c, bool allow_nohuge)
{
	struct pool_config *p = &c->pools[c->npools++];

	memset(p, 0, sizeof(*p));
	strcpy(p->name, "default");
	p->size = 64u << 20;
	p->allow_nohuge = allow_nohuge;
}
