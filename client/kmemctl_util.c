/*
 * kmemctl_util.c - what every kmemctl command shares: option parsing with
 * the common options, the messages and exit codes, the connection, the
 * stats document, sizes.
 *
 * Messages go to stderr as "kmemctl: COMMAND: sentence", the daemon's own
 * sentence where there is one, so a script's log says what failed and why.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kmem/size.h"
#include "kmemctl.h"

#define OPT_SOCKET 0x1000
#define OPT_JSON   0x1001
#define MAX_OPTS   32

/* The synopsis, the description, then the options (the command's own
 * ones close its help text, each line starting "  -"). */
void ctl_help(const struct ctl_cmd *c, FILE *f)
{
	const char *opts = strstr(c->help, "\n  -");
	int dlen = opts ? (int)(opts - c->help) + 1 : (int)strlen(c->help);

	fprintf(f, "usage: kmemctl %s %s\n\n%.*s\noptions:\n%s", c->name,
		c->synopsis, dlen, c->help, opts ? opts + 1 : "");
	fprintf(f, "  --socket PATH   kmemd's socket (default: $KMEMD_SOCKET,\n"
		"                  else %s)\n", KMEM_DEFAULT_SOCKET);
	if (c->json)
		fputs("  --json          JSON output, for scripts\n", f);
	fputs("  --help          this text\n", f);
}

static void vmsg(const struct ctl *x, const char *fmt, va_list ap)
{
	fprintf(stderr, "kmemctl: %s: ", x->cmd->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int ctl_usage(const struct ctl *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(x, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: kmemctl %s %s\n(see 'kmemctl %s --help')\n",
		x->cmd->name, x->cmd->synopsis, x->cmd->name);
	return KMEMCTL_USAGE;
}

int ctl_err(const struct ctl *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(x, fmt, ap);
	va_end(ap);
	return KMEMCTL_FAIL;
}

/* The merged option table: the command's own, then the common ones. */
static size_t merge_opts(const struct ctl *x, const struct option *extra,
			 struct option *all)
{
	size_t n = 0;

	for (; extra && extra->name && n < MAX_OPTS - 4; extra++)
		all[n++] = *extra;
	all[n++] = (struct option){ "socket", required_argument, NULL, OPT_SOCKET };
	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	if (x->cmd->json)
		all[n++] = (struct option){ "json", no_argument, NULL, OPT_JSON };
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	return n;
}

static int bad_option(const struct ctl *x, int o, char **argv)
{
	const char *word = argv[optind - 1];

	if (o == ':')
		return ctl_usage(x, "option '%s' needs a value", word);
	if (optopt && optopt < 0x100 && strncmp(word, "--", 2))
		return ctl_usage(x, "unknown option '-%c'", optopt);
	return ctl_usage(x, "unknown option '%s'", word);
}

int ctl_parse(struct ctl *x, int argc, char **argv, const char *shortopts,
	      const struct option *extra, ctl_opt_fn fn, void *st)
{
	struct option all[MAX_OPTS];
	char sopts[64];
	int o, rc;

	merge_opts(x, extra, all);
	snprintf(sopts, sizeof(sopts), ":h%s", shortopts ? shortopts : "");
	optind = 0;	/* glibc: start afresh on this argv */
	opterr = 0;
	while ((o = getopt_long(argc, argv, sopts, all, NULL)) != -1) {
		switch (o) {
		case OPT_SOCKET:
			x->socket = optarg;
			break;
		case OPT_JSON:
			x->json = true;
			break;
		case 'h':
			ctl_help(x->cmd, stdout);
			return KMEMCTL_OK;
		case '?':
		case ':':
			return bad_option(x, o, argv);
		default:
			rc = fn ? fn(x, o, optarg, st) : KMEMCTL_USAGE;
			if (rc != KMEMCTL_GO)
				return rc;
		}
	}
	x->args = argv + optind;
	x->nargs = argc - optind;
	if (x->nargs < x->cmd->min_args)
		return ctl_usage(x, "missing argument");
	if (x->nargs > x->cmd->max_args)
		return ctl_usage(x, "unexpected argument '%s'",
				 x->args[x->cmd->max_args]);
	return KMEMCTL_GO;
}

const char *ctl_socket_path(const struct ctl *x)
{
	const char *p = x->socket;

	if (!p)
		p = getenv("KMEMD_SOCKET");
	return p && *p ? p : KMEM_DEFAULT_SOCKET;
}

int ctl_connect(struct ctl *x)
{
	char msg[KMEM_MSG_MAX];
	int rc;

	if (x->client)
		return KMEMCTL_OK;
	/* No magazines: what kmemctl allocates is exactly what it shows. */
	rc = kmem_client_connect_opts(ctl_socket_path(x), "kmemctl",
				      &(struct kmem_connect_opts){
					      KMEM_CONNECT_NO_MAGAZINES },
				      &x->client, msg, sizeof(msg));
	if (rc == 0)
		return KMEMCTL_OK;
	x->client = NULL;
	fprintf(stderr, "kmemctl: %s: %s\n", x->cmd->name,
		msg[0] ? msg : kmem_strerror(rc));
	return rc == KMEM_ECONN ? KMEMCTL_UNREACHABLE : KMEMCTL_FAIL;
}

void ctl_disconnect(struct ctl *x)
{
	kmem_client_disconnect(x->client);
	x->client = NULL;
}

int ctl_failed(const struct ctl *x, int rc)
{
	const char *msg = kmem_client_error(x->client);

	fprintf(stderr, "kmemctl: %s: %s\n", x->cmd->name,
		msg && *msg ? msg : kmem_strerror(rc));
	return rc == KMEM_ECONN ? KMEMCTL_UNREACHABLE : KMEMCTL_FAIL;
}

/* Fetch the document, with the leases of pid (0: all) when leases. */
static int fetch_doc(struct ctl *x, bool leases, pid_t pid, json_t **doc)
{
	json_error_t jerr;
	json_t *d;
	char *text;
	int rc = ctl_connect(x);

	if (rc)
		return rc;
	rc = leases ? kmem_client_leases(x->client, pid, &text) :
		      kmem_client_stats(x->client, false, &text);
	if (rc)
		return ctl_failed(x, rc);
	d = json_loads(text, 0, &jerr);
	free(text);
	if (!d)
		return ctl_err(x, "the daemon's stats document does not parse: "
			       "%s (line %d)", jerr.text, jerr.line);
	if (!json_is_object(d)) {
		json_decref(d);
		return ctl_err(x, "the daemon's stats document is not a JSON "
			       "object");
	}
	*doc = d;
	return KMEMCTL_OK;
}

int ctl_stats(struct ctl *x, json_t **doc)
{
	return fetch_doc(x, false, 0, doc);
}

int ctl_stats_leases(struct ctl *x, pid_t pid, json_t **doc)
{
	return fetch_doc(x, true, pid, doc);
}

int ctl_size(const struct ctl *x, const char *what, const char *s,
	     uint64_t *out)
{
	int rc = kmem_parse_size(s, out);

	if (rc == KMEM_ETOOBIG)
		return ctl_usage(x, "%s: '%s' is too large", what, s);
	if (rc)
		return ctl_usage(x, "%s: '%s' is not a size (like 4096, 4K, 2M, "
				 "1.5G)", what, s);
	return KMEMCTL_GO;
}

int ctl_uint(const struct ctl *x, const char *what, const char *s,
	     uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return ctl_usage(x, "%s: '%s' is not a number from %llu to %llu",
				 what, s, (unsigned long long)min,
				 (unsigned long long)max);
	*out = v;
	return KMEMCTL_GO;
}

int ctl_print_json(const struct ctl *x, const json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (!text)
		return ctl_err(x, "out of memory");
	puts(text);
	free(text);
	return KMEMCTL_OK;
}

uint64_t jget_u64(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) >= 0)
		return (uint64_t)json_real_value(v);
	return 0;
}

const char *jget_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

json_t *jget_arr(const json_t *o, const char *key)
{
	json_t *a = json_object_get(o, key);

	return json_is_array(a) ? a : NULL;
}

const char *hsize(uint64_t bytes, char *buf)
{
	return kmem_format_size(bytes, buf, KMEMCTL_SIZE_MAX);
}
