/*
 * conffile.c - /etc/kmemd/kmemd.conf, read with libinih.
 *
 * libinih (Debian's libinih-dev) is a small, well-kept INI parser; it saves
 * us a hand-written lexer and gives the line number of the first bad line.
 * The format:
 *
 *	[kmemd]
 *	socket = /run/kmemd/kmemd.sock
 *	log_level = info
 *
 *	[pool dma]
 *	size = 1G
 *	page_size = 2M
 *	uids = 0 1000
 *
 * Every key is also a command-line flag (which wins).  Unknown sections and
 * keys and bad values are errors naming the file, the line and the key.
 */
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/size.h"
#include "conffile.h"
#include "log.h"

struct loader {
	struct kmemd_config *c;
	const char *path;
	char err[256];
	struct pool_config *pool;	/* the [pool NAME] being read */
};

static int bad(struct loader *l, const char *section, const char *key,
	       const char *value, const char *why)
{
	if (!l->err[0])
		snprintf(l->err, sizeof(l->err), "[%.40s] %.40s = %.60s: %.100s", section, key,
			 value, why);
	return 0;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return false;
	return true;
}

/* "0 1000" or "0:1000" or "0,1000" -> the pool spec form "0:1000". */
static void id_list(const char *v, char *out, size_t len)
{
	size_t n = 0;

	for (; *v && n + 1 < len; v++)
		out[n++] = (*v == ' ' || *v == ',' || *v == '\t') ? ':' : *v;
	out[n] = 0;
	/* Collapse repeated separators. */
	for (char *p = out; *p; p++)
		while (p[0] == ':' && p[1] == ':')
			memmove(p, p + 1, strlen(p));
}

static int daemon_key(struct loader *l, const char *k, const char *v)
{
	struct kmemd_config *c = l->c;
	int rc = config_daemon_key(c, k, v);

	if (rc == -2)
		return bad(l, "kmemd", k, v, "unknown key (see kmemd.conf(5))");
	if (rc)
		return bad(l, "kmemd", k, v, "bad value");
	return 1;
}

static int pool_key(struct loader *l, const char *section, const char *k,
		    const char *v)
{
	struct pool_config *p = l->pool;
	char ids[256];
	const char *key = k;
	int rc;

	if (!strcmp(k, "page_size"))
		key = "page";
	if (!strcmp(k, "allow_nohuge") || !strcmp(k, "require_contiguous")) {
		bool b;

		if (!parse_bool(v, &b))
			return bad(l, section, k, v, "expected true or false");
		if (k[0] == 'a')
			p->allow_nohuge = b;
		else
			p->require_contiguous = b;
		return 1;
	}
	if (!strcmp(k, "uids") || !strcmp(k, "gids")) {
		id_list(v, ids, sizeof(ids));
		v = ids;
	}
	if (!strcmp(k, "name"))
		return bad(l, section, k, v, "the name is in the section header");
	rc = config_pool_key(p, key, v);
	if (rc == -2)
		return bad(l, section, k, v, "unknown key (see kmemd.conf(5))");
	if (rc)
		return bad(l, section, k, v, "bad value");
	return 1;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct loader *l = user;

	if (!strcmp(section, "kmemd"))
		return daemon_key(l, name, value);
	if (!strncmp(section, "pool ", 5)) {
		const char *pname = section + 5;

		if (!l->pool || strcmp(l->pool->name, pname)) {
			char err[256];

			l->pool = config_new_pool(l->c, pname, err, sizeof(err));
			if (!l->pool)
				return bad(l, section, name, value, err);
		}
		return pool_key(l, section, name, value);
	}
	return bad(l, section, name, value,
		   "unknown section (sections: [kmemd], [pool NAME])");
}

int config_load_file(struct kmemd_config *c, const char *path, char *err,
		     size_t errlen)
{
	struct loader l = { .c = c, .path = path };
	int line;

	ini_stop_on_first_error = true;
	/* An indented line would otherwise continue (and replace) the key
	 * above it: every line stands alone. */
	ini_allow_multiline = false;
	line = ini_parse(path, handler, &l);
	if (line == -1) {
		snprintf(err, errlen, "%s: cannot open", path);
		return -1;
	}
	if (line == -2) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (line > 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
			 l.err[0] ? l.err : "not a 'key = value' line or "
			 "'[section]' header (or longer than 200 bytes)");
		return -1;
	}
	config_finish(c);
	return config_check(c, err, errlen);
}
