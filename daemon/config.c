/*
 * config.c - defaults and the --pool spec parser.
 */
#include <errno.h>
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

static int pool_key(struct pool_config *p, const char *k, const char *v)
{
	if (!strcmp(k, "name")) {
		size_t n = strlen(v);

		if (n == 0 || n >= sizeof(p->name) || strspn(v,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n)
			return -1;
		memcpy(p->name, v, n + 1);
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
		if (!*v || strlen(v) >= sizeof(p->path))
			return -1;
		strcpy(p->path, v);
		return 0;
	}
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
		rc = pool_key(&p, kv, eq + 1);
		if (rc == -2) {
			snprintf(err, errlen, "pool spec '%s': unknown key '%s' (keys: "
				 "name size page policy uids gids quota path)", spec, kv);
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

void config_default_pool(struct kmemd_config *c, bool allow_nohuge)
{
	struct pool_config *p = &c->pools[c->npools++];

	memset(p, 0, sizeof(*p));
	strcpy(p->name, "default");
	p->size = 64u << 20;
	p->allow_nohuge = allow_nohuge;
}
