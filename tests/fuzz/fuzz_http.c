/*
 * fuzz_http.c - the HTTP stats endpoint's request path.
 *
 * One in-process kmemd (fuzzd.c) with a small pool and its stats socket;
 * each input is sent raw on one connection to that socket, after which
 * the client shuts its side.  The daemon must answer and close (or just
 * close) without crashing or leaking, and whatever it sends must be HTTP:
 * the first bytes are "HTTP/1.1 ", and every response it sends is a whole
 * one (a status line, headers ending in a blank line, then exactly
 * Content-Length bytes of body, or none for a HEAD request).  AddressSanitizer
 * and libFuzzer's leak check catch the rest: all the connection's memory
 * is freed once its handles are closed, and fuzzd_exchange waits for that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzd.h"

static struct kmemd d;

static const char *const pools[] = {
	"name=fuzz,size=1M,page=4K,nohuge",
	NULL,
};

struct received {
	char *p;
	size_t len, cap;
};

static void on_bytes(const uint8_t *p, size_t n, void *arg)
{
	struct received *r = arg;

	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2;
		r->p = realloc(r->p, r->cap);
		FUZZ_CHECK(r->p, "out of memory");
	}
	memcpy(r->p + r->len, p, n);
	r->len += n;
}

/* Length of the header block at p (through the blank line), or 0. */
static size_t header_len(const char *p, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (!memcmp(p + i, "\r\n\r\n", 4))
			return i + 4;
	return 0;
}

/*
 * Walk the responses: each a status line and headers, then its body.  A
 * HEAD answer carries Content-Length but no body, so a body that is not
 * followed by another response (or the end) is taken to be absent.
 */
static void check_responses(const char *p, size_t n)
{
	size_t count = 0;

	while (n) {
		size_t h, body = 0;
		const char *cl;
		char hdr[1024];

		FUZZ_CHECK(n >= 9 && !memcmp(p, "HTTP/1.1 ", 9), "response %zu "
			   "starts with \"%.*s\"", count, (int)(n < 16 ? n : 16), p);
		h = header_len(p, n);
		FUZZ_CHECK(h && h < sizeof(hdr), "response %zu: no complete header "
			   "block in %zu bytes", count, n);
		memcpy(hdr, p, h);
		hdr[h] = 0;
		cl = strstr(hdr, "\r\nContent-Length: ");
		FUZZ_CHECK(cl, "response %zu has no Content-Length", count);
		body = strtoul(cl + 18, NULL, 10);
		if (h + body <= n && (h + body == n ||
		    (n - h - body >= 9 && !memcmp(p + h + body, "HTTP/1.1 ", 9)))) {
			p += h + body;
			n -= h + body;
		} else {
			/* HEAD: no body; the next response follows at once. */
			FUZZ_CHECK(h == n || (n - h >= 9 && !memcmp(p + h, "HTTP/1.1 ", 9)),
				   "response %zu: %zu body bytes announced, %zu follow",
				   count, body, n - h);
			p += h;
			n -= h;
		}
		count++;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzzd_start(&d, pools, true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct received r = { 0 };

	fuzzd_exchange(&d, d.cfg.stats_socket_path, data, size, on_bytes, &r);
	check_responses(r.p, r.len);
	free(r.p);
	return 0;
}
