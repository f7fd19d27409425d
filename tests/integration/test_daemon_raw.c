/*
 * test_daemon_raw.c - the real kmemd spoken to over plain sockets with the
 * frame codec (no libuv, no libkmem): the Hello reply's fds, pipelining,
 * and the bad-input suite, after which the daemon must still serve and its
 * accounting must be exactly what it was.
 *
 * One daemon: one 16 MiB pool "p" (hugepages when they can be reserved),
 * and --stall-timeout 300 when this kmemd has that flag.  Every buffer
 * here is larger than the kmalloc classes, so it comes from the page
 * allocator and its bytes come back exactly when it is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "harness.h"
#include "raw.h"

#define POOL_MIB 16
#define BUF 65536		/* a page-allocator buffer */
#define STALL_MS 300

static struct {
	struct integ_daemon d;
	struct kmem_client *obs;
	struct integ_acct base;		/* before any test */
	bool huge;
	unsigned pool_mib;		/* POOL_MIB, or less without root */
	bool stall_flag;		/* this kmemd has --stall-timeout */
} F;

static int group_setup(void **state)
{
	char spec[256], msg[KMEM_MSG_MAX];
	const char *args[8] = { "--pool", spec, NULL };

	(void)state;
	F.pool_mib = integ_pool_mib(POOL_MIB);
	if (!F.pool_mib)
		return -1;
	F.huge = integ_pool_spec(spec, sizeof(spec), "p", F.pool_mib, NULL);
	F.stall_flag = integ_kmemd_has_flag("--stall-timeout");
	if (F.stall_flag) {
		args[2] = "--stall-timeout";
		args[3] = "300";
		args[4] = NULL;
	}
	if (integ_daemon_start(&F.d, args)) {
		/* Someone else may have taken the pages meanwhile. */
		if (!F.huge)
			return -1;
		integ_hugepages_release();
		F.huge = false;
		integ_pool_spec_4k(spec, sizeof(spec), "p", F.pool_mib, NULL);
		printf("integration: retrying on the 4 KiB fallback\n");
		if (integ_daemon_start(&F.d, args))
			return -1;
	}
	if (kmem_client_connect(F.d.sock, "integ-observer", &F.obs, msg,
				sizeof(msg))) {
		printf("observer: %s\n", msg);
		return -1;
	}
	if (integ_wait_sessions(F.obs, 1, 5000))
		return -1;
	return integ_acct(F.obs, 0, &F.base);
}

static int group_teardown(void **state)
{
	(void)state;
	kmem_client_disconnect(F.obs);
	F.obs = NULL;
	integ_daemon_cleanup(&F.d);
	integ_hugepages_release();
	return 0;
}

static void take_acct(struct integ_acct *a)
{
	assert_int_equal(integ_acct(F.obs, 0, a), 0);
}

static void assert_acct_equal(const struct integ_acct *a,
			      const struct integ_acct *b)
{
	assert_int_equal(a->bytes_free, b->bytes_free);
	assert_int_equal(a->bytes_leased, b->bytes_leased);
	assert_int_equal(a->pool_leases, b->pool_leases);
	assert_int_equal(a->leases, b->leases);
	assert_int_equal(a->sessions, b->sessions);
	assert_int_equal(a->named, b->named);
}

/* Once every extra connection is gone, the accounting is exactly a0. */
static void assert_back_to(const struct integ_acct *a0)
{
	struct integ_acct a1;

	assert_int_equal(integ_wait_sessions(F.obs, a0->sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, a0);
}

static uint64_t counter(const char *path)
{
	json_t *doc = integ_stats(F.obs);
	uint64_t v = UINT64_MAX;

	assert_non_null(doc);
	assert_int_equal(integ_json_u64(doc, path, &v), 0);
	json_decref(doc);
	return v;
}

static void raw_open(struct integ_raw *r)
{
	assert_int_equal(integ_raw_connect(r, F.d.sock), 0);
}

static void raw_hello(struct integ_raw *r)
{
	Kmem__Response *resp;

	raw_open(r);
	resp = integ_raw_hello(r, 1);
	assert_non_null(resp);
	assert_int_equal(resp->seq, 1);
	assert_int_equal(resp->status, KMEM__STATUS__STATUS_OK);
	kmem_frame_free_response(resp, NULL);
}

/* The next response must be seq/status (and msg, unless NULL). */
static Kmem__Response *expect(struct integ_raw *r, uint64_t seq, int status,
			      const char *msg)
{
	Kmem__Response *resp = integ_raw_recv(r, 5000);

	assert_non_null(resp);
	assert_int_equal(resp->seq, seq);
	if ((int)resp->status != status)
		printf("seq %llu: status %d (%s), wanted %d\n",
		       (unsigned long long)seq, resp->status, resp->message, status);
	assert_int_equal(resp->status, status);
	if (msg)
		assert_string_equal(resp->message, msg);
	return resp;
}

static void expect_free(struct integ_raw *r, uint64_t seq, int status,
			const char *msg)
{
	kmem_frame_free_response(expect(r, seq, status, msg), NULL);
}

/* A protocol error closes the connection right after its one reply. */
static void expect_protocol_error(struct integ_raw *r, uint64_t seq,
				  const char *msg)
{
	expect_free(r, seq, KMEM__STATUS__STATUS_PROTOCOL_ERROR, msg);
	assert_int_equal(integ_raw_eof(r, 5000), 1);
	integ_raw_close(r);
}

static void send_header(struct integ_raw *r, uint32_t len)
{
	uint8_t h[4] = { len >> 24, len >> 16, len >> 8, len };

	assert_int_equal(integ_raw_write(r, h, 4), 0);
}

/* ------------------------------------------------------------ hello, fds */

static void test_daemon_hello_passes_one_mappable_fd_per_pool(void **state)
{
	struct kmem_pool_info info;
	struct kmem_client *c;
	struct kmem_buf kb;
	struct integ_raw r;
	Kmem__Request q;
	Kmem__Alloc a;
	Kmem__Response *resp;
	const Kmem__PoolInfo *pi;
	uint8_t *base;
	uint64_t raw_off, size;

	(void)state;
	raw_open(&r);
	resp = integ_raw_hello(&r, 5);
	assert_non_null(resp);
	assert_int_equal(resp->seq, 5);
	assert_int_equal(resp->status, KMEM__STATUS__STATUS_OK);
	assert_int_equal(resp->body_case, KMEM__RESPONSE__BODY_HELLO);
	assert_string_equal(resp->hello->daemon_version, "kmemd 0.1.0");
	assert_int_equal(resp->hello->protocol_version, KMEM_PROTOCOL_VERSION);
	assert_int_equal(resp->hello->n_pools, 1);
	pi = resp->hello->pools[0];
	assert_string_equal(pi->name, "p");
	assert_int_equal(pi->size, (uint64_t)F.pool_mib << 20);
	assert_int_equal(pi->page_size, F.huge ? 2u << 20 : 4096u);
	assert_string_equal(pi->policy, "buddy");
	assert_int_equal(pi->fd_index, 0);
	/* Exactly one fd, whole (no truncated control data). */
	assert_int_equal(r.nfds, 1);
	assert_int_equal(r.nctrunc, 0);
	size = pi->size;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    r.fds[pi->fd_index], (off_t)pi->map_offset);
	assert_true(base != MAP_FAILED);
	kmem_frame_free_response(resp, NULL);
	pi = NULL;

	/* libkmem writes, the raw mapping reads... */
	c = NULL;
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-lib", &c, NULL, 0), 0);
	assert_int_equal(kmem_client_alloc(c, BUF, NULL, &kb), 0);
	for (size_t i = 0; i < BUF; i++)
		((uint8_t *)kb.ptr)[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < BUF; i++)
		if (base[kb.offset + i] != (uint8_t)(i * 7 + 1))
			fail_msg("raw mapping differs at byte %zu", i);

	/* ...and the raw client's own lease is seen by libkmem. */
	integ_req_alloc(&q, &a, 6, "p", BUF, 0, 0);
	assert_int_equal(integ_raw_send(&r, &q), 0);
	resp = expect(&r, 6, KMEM__STATUS__STATUS_OK, NULL);
	assert_int_equal(resp->body_case, KMEM__RESPONSE__BODY_LEASE);
	assert_int_equal(resp->lease->length, BUF);
	assert_int_equal(resp->lease->pool_index, 0);
	raw_off = resp->lease->offset;
	kmem_frame_free_response(resp, NULL);
	for (size_t i = 0; i < BUF; i++)
		base[raw_off + i] = (uint8_t)(i * 13 + 3);
	assert_int_equal(kmem_client_pool_info(c, 0, &info), 0);
	for (size_t i = 0; i < BUF; i++)
		if (((uint8_t *)info.base)[raw_off + i] != (uint8_t)(i * 13 + 3))
			fail_msg("libkmem mapping differs at byte %zu", i);

	assert_int_equal(kmem_client_free(c, &kb), 0);
	kmem_client_disconnect(c);
	munmap(base, size);
	integ_raw_close(&r);	/* its lease goes with the session */
	assert_back_to(&F.base);
}

/* ------------------------------------------------------------ pipelining */

#define NPIPE 100

static void test_daemon_pipelined_requests_answered_in_order(void **state)
{
	struct kmem_frame_buf out;
	struct integ_raw r;
	uint64_t ids[NPIPE / 4], bad = 1ull << 62;
	uint32_t payload[NPIPE];
	size_t nids = 0;

	(void)state;
	raw_hello(&r);
	kmem_frame_buf_init(&out, 0);
	/* Round 1: allocations, pings, frees of ids never given, size 0. */
	for (uint32_t i = 0; i < NPIPE; i++) {
		Kmem__Request q;
		Kmem__Alloc a;
		Kmem__Free f;
		Kmem__Ping p;

		payload[i] = 0xC0DE0000u + i;
		switch (i % 4) {
		case 0: integ_req_alloc(&q, &a, 1000 + i, "p", BUF, 0, 0); break;
		case 1: integ_req_ping(&q, &p, 1000 + i, &payload[i], 4); break;
		case 2: integ_req_free(&q, &f, 1000 + i, bad + i); break;
		default: integ_req_alloc(&q, &a, 1000 + i, "p", 0, 0, 0); break;
		}
		assert_int_equal(kmem_frame_pack_request(&out, &q), 0);
	}
	assert_int_equal(integ_raw_write(&r, out.data, out.len), 0);
	kmem_frame_buf_consume(&out, out.len);
	for (uint32_t i = 0; i < NPIPE; i++) {
		static const int st[4] = {
			KMEM__STATUS__STATUS_OK, KMEM__STATUS__STATUS_OK,
			KMEM__STATUS__STATUS_NOT_FOUND,
			KMEM__STATUS__STATUS_INVALID_ARGUMENT,
		};
		Kmem__Response *resp = expect(&r, 1000 + i, st[i % 4],
					      i % 4 == 3 ? "size 0 is not allowed" : NULL);

		if (i % 4 == 0) {
			assert_int_equal(resp->body_case, KMEM__RESPONSE__BODY_LEASE);
			assert_int_equal(resp->lease->length, BUF);
			ids[nids++] = resp->lease->id;
		} else if (i % 4 == 1) {
			assert_int_equal(resp->body_case, KMEM__RESPONSE__BODY_PONG);
			assert_int_equal(resp->pong->payload.len, 4);
			assert_memory_equal(resp->pong->payload.data, &payload[i], 4);
		}
		kmem_frame_free_response(resp, NULL);
	}
	assert_int_equal(nids, NPIPE / 4);

	/* Round 2: each lease freed, freed again, a ping, a bad alignment. */
	for (uint32_t i = 0; i < NPIPE; i++) {
		Kmem__Request q;
		Kmem__Alloc a;
		Kmem__Free f;
		Kmem__Ping p;

		switch (i % 4) {
		case 0:
		case 1: integ_req_free(&q, &f, 2000 + i, ids[i / 4]); break;
		case 2: integ_req_ping(&q, &p, 2000 + i, &payload[i], 4); break;
		default: integ_req_alloc(&q, &a, 2000 + i, "p", BUF, 3, 0); break;
		}
		assert_int_equal(kmem_frame_pack_request(&out, &q), 0);
	}
	assert_int_equal(integ_raw_write(&r, out.data, out.len), 0);
	kmem_frame_buf_fini(&out);
	for (uint32_t i = 0; i < NPIPE; i++) {
		static const int st[4] = {
			KMEM__STATUS__STATUS_OK, KMEM__STATUS__STATUS_NOT_FOUND,
			KMEM__STATUS__STATUS_OK, KMEM__STATUS__STATUS_INVALID_ARGUMENT,
		};
		expect_free(&r, 2000 + i, st[i % 4], i % 4 == 3 ?
			    "alignment 3 is not a power of two" : NULL);
	}
	/* Nothing more was sent than was asked for. */
	assert_null(integ_raw_recv(&r, 50));
	integ_raw_close(&r);
	assert_back_to(&F.base);
}

/*
 * A blocking Alloc that finds no memory waits without holding up what the
 * same connection sends after it: those answers come first, and the
 * waiting one when memory is freed (kmem.proto, Sequencing).
 */
static void test_daemon_blocked_alloc_does_not_hold_up_later_requests(void **state)
{
	struct kmem_frame_buf out;
	struct kmem_buf bufs[64];
	struct kmem_client *filler;
	struct integ_raw r;
	Kmem__Request q;
	Kmem__Alloc a;
	Kmem__Ping p;
	Kmem__Response *resp;
	size_t n = 0;
	int rc;

	(void)state;
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-filler", &filler,
					     NULL, 0), 0);
	memset(bufs, 0, sizeof(bufs));
	while (n < 64 && (rc = kmem_client_alloc(filler, 2u << 20, NULL, &bufs[n])) == 0)
		n++;
	assert_int_equal(rc, KMEM_ENOMEM);
	assert_true(n >= 1);

	raw_hello(&r);
	kmem_frame_buf_init(&out, 0);
	integ_req_alloc(&q, &a, 10, "p", 2u << 20, 0, 5000);
	assert_int_equal(kmem_frame_pack_request(&out, &q), 0);
	integ_req_ping(&q, &p, 11, "a", 1);
	assert_int_equal(kmem_frame_pack_request(&out, &q), 0);
	integ_req_ping(&q, &p, 12, "b", 1);
	assert_int_equal(kmem_frame_pack_request(&out, &q), 0);
	assert_int_equal(integ_raw_write(&r, out.data, out.len), 0);
	kmem_frame_buf_fini(&out);
	expect_free(&r, 11, KMEM__STATUS__STATUS_OK, NULL);
	expect_free(&r, 12, KMEM__STATUS__STATUS_OK, NULL);
	assert_null(integ_raw_recv(&r, 50));

	assert_int_equal(kmem_client_free(filler, &bufs[0]), 0);
	resp = expect(&r, 10, KMEM__STATUS__STATUS_OK, NULL);
	assert_int_equal(resp->body_case, KMEM__RESPONSE__BODY_LEASE);
	assert_int_equal(resp->lease->length, 2u << 20);
	kmem_frame_free_response(resp, NULL);
	integ_raw_close(&r);
	for (size_t i = 1; i < n; i++)
		assert_int_equal(kmem_client_free(filler, &bufs[i]), 0);
	kmem_client_disconnect(filler);
	assert_back_to(&F.base);
}

/* ------------------------------------------------------------ bad input */

static void test_daemon_truncated_frame_then_close(void **state)
{
	struct integ_raw r;
	uint8_t part[10] = { 0x08, 0x01 };

	(void)state;
	/* Before Hello and after it: 100 bytes announced, 10 sent, gone. */
	raw_open(&r);
	send_header(&r, 100);
	assert_int_equal(integ_raw_write(&r, part, sizeof(part)), 0);
	integ_raw_close(&r);
	raw_hello(&r);
	send_header(&r, 100);
	assert_int_equal(integ_raw_write(&r, part, sizeof(part)), 0);
	integ_raw_close(&r);
	/* A header cut in two. */
	raw_hello(&r);
	assert_int_equal(integ_raw_write(&r, "\0\0", 2), 0);
	integ_raw_close(&r);
	assert_back_to(&F.base);
}

static void test_daemon_oversized_length_is_protocol_error(void **state)
{
	uint64_t pe = counter("errors/protocol_error");
	struct integ_raw r;

	(void)state;
	raw_hello(&r);
	send_header(&r, KMEM_FRAME_MAX_DEFAULT + 1);
	expect_protocol_error(&r, 0, "frame longer than the maximum");
	/* Someone speaking HTTP: "GET " is a length of 1.2 GB. */
	raw_open(&r);
	assert_int_equal(integ_raw_write(&r, "GET / HTTP/1.0\r\n\r\n", 18), 0);
	expect_protocol_error(&r, 0, "frame longer than the maximum");
	assert_int_equal(counter("errors/protocol_error"), pe + 2);
	assert_back_to(&F.base);
}

static void test_daemon_garbage_bytes_are_protocol_error(void **state)
{
	static const uint8_t junk[8] = { 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff };
	uint64_t pe = counter("errors/protocol_error");
	struct integ_raw r;

	(void)state;
	raw_hello(&r);
	send_header(&r, sizeof(junk));
	assert_int_equal(integ_raw_write(&r, junk, sizeof(junk)), 0);
	expect_protocol_error(&r, 0, "the frame does not parse as a Request");
	assert_int_equal(counter("errors/protocol_error"), pe + 1);
	assert_back_to(&F.base);
}

static void test_daemon_request_before_hello_is_protocol_error(void **state)
{
	uint64_t pe = counter("errors/protocol_error");
	struct integ_raw r;
	Kmem__Request q;
	Kmem__Alloc a;
	Kmem__Ping p;

	(void)state;
	raw_open(&r);
	integ_req_ping(&q, &p, 7, "x", 1);
	assert_int_equal(integ_raw_send(&r, &q), 0);
	expect_protocol_error(&r, 7, "the first request must be Hello");
	/* An allocation before Hello allocates nothing. */
	raw_open(&r);
	integ_req_alloc(&q, &a, 8, "p", BUF, 0, 0);
	assert_int_equal(integ_raw_send(&r, &q), 0);
	expect_protocol_error(&r, 8, "the first request must be Hello");
	assert_int_equal(counter("errors/protocol_error"), pe + 2);
	assert_back_to(&F.base);
}

static void test_daemon_request_without_body_is_protocol_error(void **state)
{
	/* Field 15 is kept for a future request: unknown today, so skipped,
	 * which leaves a Request with no body. */
	static const uint8_t future[] = { 0x08, 0x0b, 0x7a, 0x00 };
	uint64_t pe = counter("errors/protocol_error");
	Kmem__Request q = KMEM__REQUEST__INIT;
	struct integ_raw r;

	(void)state;
	raw_hello(&r);
	q.seq = 9;
	assert_int_equal(integ_raw_send(&r, &q), 0);
	expect_protocol_error(&r, 9, "a Request without a body");
	/* An empty frame is a Request with seq 0 and no body. */
	raw_hello(&r);
	send_header(&r, 0);
	expect_protocol_error(&r, 0, "a Request without a body");
	raw_hello(&r);
	send_header(&r, sizeof(future));
	assert_int_equal(integ_raw_write(&r, future, sizeof(future)), 0);
	expect_protocol_error(&r, 11, "a Request without a body");
	assert_int_equal(counter("errors/protocol_error"), pe + 3);
	assert_back_to(&F.base);
}

static void test_daemon_second_hello_or_wrong_version_is_protocol_error(void **state)
{
	uint64_t pe = counter("errors/protocol_error");
	Kmem__Request q = KMEM__REQUEST__INIT;
	Kmem__Hello h = KMEM__HELLO__INIT;
	struct integ_raw r;

	(void)state;
	raw_hello(&r);
	Kmem__Response *resp = integ_raw_hello(&r, 2);
	assert_non_null(resp);
	assert_int_equal(resp->seq, 2);
	assert_int_equal(resp->status, KMEM__STATUS__STATUS_PROTOCOL_ERROR);
	assert_string_equal(resp->message, "Hello was sent twice");
	kmem_frame_free_response(resp, NULL);
	assert_int_equal(integ_raw_eof(&r, 5000), 1);
	integ_raw_close(&r);

	raw_open(&r);
	h.protocol_version = KMEM_PROTOCOL_VERSION + 1;
	q.seq = 3;
	q.body_case = KMEM__REQUEST__BODY_HELLO;
	q.hello = &h;
	assert_int_equal(integ_raw_send(&r, &q), 0);
	expect_protocol_error(&r, 3, "protocol version 2 is not spoken here "
			      "(kmemd speaks 1)");
	/* No pool fd travels with a refused Hello. */
	assert_int_equal(r.nfds, 0);
	assert_int_equal(counter("errors/protocol_error"), pe + 2);
	assert_back_to(&F.base);
}

static void test_daemon_double_free_is_not_found(void **state)
{
	struct integ_acct a0, a1;
	struct kmem_client *c;
	struct kmem_buf b, keep;
	char want[128];
	uint64_t id;

	(void)state;
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-df", &c, NULL, 0), 0);
	assert_int_equal(kmem_client_alloc(c, BUF, NULL, &keep), 0);
	take_acct(&a0);
	assert_int_equal(kmem_client_alloc(c, BUF, NULL, &b), 0);
	id = b.id;
	assert_int_equal(kmem_client_free(c, &b), 0);
	assert_int_equal(kmem_client_free_id(c, id), KMEM_ENOENT);
	snprintf(want, sizeof(want), "no lease %llu (never allocated, or freed "
		 "already)", (unsigned long long)id);
	assert_string_equal(kmem_client_error(c), want);
	/* Twice in one batch with a live lease: refused whole. */
	uint64_t ids[2] = { keep.id, keep.id };
	assert_int_equal(kmem_client_free_batch(c, ids, 2), KMEM_EINVAL);
	snprintf(want, sizeof(want), "lease %llu appears twice in the batch",
		 (unsigned long long)keep.id);
	assert_string_equal(kmem_client_error(c), want);
	ids[1] = id;
	assert_int_equal(kmem_client_free_batch(c, ids, 2), KMEM_ENOENT);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	assert_int_equal(kmem_client_free(c, &keep), 0);
	kmem_client_disconnect(c);
	assert_back_to(&F.base);
}

static void test_daemon_invalid_arguments_change_nothing(void **state)
{
	struct kmem_alloc_opts o = KMEM_ALLOC_OPTS_INIT;
	struct integ_acct a0, a1;
	struct kmem_client *c;
	struct kmem_buf b, bb[2];

	(void)state;
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-inval", &c, NULL, 0), 0);
	take_acct(&a0);
	assert_int_equal(kmem_client_alloc(c, 0, NULL, &b), KMEM_EINVAL);
	assert_string_equal(kmem_client_error(c), "size 0 is not allowed");
	o.align = 3;
	assert_int_equal(kmem_client_alloc(c, BUF, &o, &b), KMEM_EINVAL);
	assert_string_equal(kmem_client_error(c), "alignment 3 is not a power of two");
	o.align = 0;
	o.flags = 0x100;
	assert_int_equal(kmem_client_alloc(c, BUF, &o, &b), KMEM_EINVAL);
	assert_string_equal(kmem_client_error(c), "unknown flag bits 0x100");
	o.flags = 0;
	o.pool = "nope";
	assert_int_equal(kmem_client_alloc(c, BUF, &o, &b), KMEM_ENOENT);
	assert_string_equal(kmem_client_error(c), "no pool named 'nope'");
	o.pool = NULL;
	o.persist = true;	/* without a name */
	assert_int_equal(kmem_client_alloc(c, BUF, &o, &b), KMEM_EINVAL);
	assert_int_equal(kmem_client_alloc_batch(c, NULL, BUF, 0, 0, bb), KMEM_EINVAL);
	assert_string_equal(kmem_client_error(c), "count must be 1 to 16384, not 0");
	assert_int_equal(kmem_client_alloc_batch(c, NULL, 0, 0, 2, bb), KMEM_EINVAL);
	assert_int_equal(kmem_client_alloc_batch(c, NULL, BUF, KMEM_SCATTER, 2, bb),
			 KMEM_EINVAL);
	assert_int_equal(kmem_client_free_batch(c, NULL, 0), KMEM_EINVAL);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	kmem_client_disconnect(c);
	assert_back_to(&F.base);
}

/* ------------------------------------------------------------ foreign ids */

struct foreign_arg {
	const char *sock;
	uint64_t root_lease;
};

/* As uid 65534: two sessions, neither may free the other's lease nor
 * root's; each may free its own. */
static void foreign_child(void *p)
{
	const struct foreign_arg *a = p;
	struct kmem_client *c1, *c2;
	struct kmem_buf b1;
	char want[96];

	CHILD_EQ(kmem_client_connect(a->sock, "integ-nobody-1", &c1, NULL, 0), 0);
	CHILD_EQ(kmem_client_connect(a->sock, "integ-nobody-2", &c2, NULL, 0), 0);
	CHILD_EQ(kmem_client_alloc(c1, BUF, NULL, &b1), 0);
	CHILD_EQ(kmem_client_free_id(c2, b1.id), KMEM_EPERM);
	snprintf(want, sizeof(want), "lease %llu belongs to another session",
		 (unsigned long long)b1.id);
	CHILD_STREQ(kmem_client_error(c2), want);
	CHILD_EQ(kmem_client_free_batch(c2, &b1.id, 1), KMEM_EPERM);
	CHILD_EQ(kmem_client_free_id(c2, a->root_lease), KMEM_EPERM);
	snprintf(want, sizeof(want), "lease %llu belongs to another session",
		 (unsigned long long)a->root_lease);
	CHILD_STREQ(kmem_client_error(c2), want);
	CHILD_EQ(kmem_client_free_id(c1, a->root_lease), KMEM_EPERM);
	CHILD_EQ(kmem_client_free(c1, &b1), 0);
	kmem_client_disconnect(c2);
	kmem_client_disconnect(c1);
}

static void test_daemon_foreign_lease_free_is_denied(void **state)
{
	struct integ_acct a0, a1;
	struct integ_child ch;
	struct foreign_arg arg;
	struct kmem_client *c;
	struct kmem_buf b;
	char msg[512];

	(void)state;
	if (geteuid() != 0) {
		printf("skipped: needs root to run a child as uid 65534 "
		       "(root's own sessions may free anything)\n");
		skip();
	}
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-root", &c, NULL, 0), 0);
	assert_int_equal(kmem_client_alloc(c, BUF, NULL, &b), 0);
	take_acct(&a0);
	arg = (struct foreign_arg){ F.d.sock, b.id };
	assert_int_equal(integ_child_start(&ch, 65534, 65534, foreign_child, &arg), 0);
	assert_int_equal(integ_child_finish(&ch, msg, sizeof(msg), 10000), 0);
	assert_string_equal(msg, "ok");
	assert_int_equal(integ_wait_sessions(F.obs, a0.sessions, 5000), 0);
	take_acct(&a1);
	assert_acct_equal(&a1, &a0);
	assert_int_equal(kmem_client_free(c, &b), 0);
	kmem_client_disconnect(c);
	assert_back_to(&F.base);
}

/* ------------------------------------------------------------ slow peers */

static void test_daemon_stalled_half_frame_is_closed(void **state)
{
	struct integ_raw r;
	struct kmem_client *c;
	uint8_t part[5] = { 0x08, 0x01, 0x72, 0x00, 0x00 };
	uint64_t t0, t1;

	(void)state;
	if (!F.stall_flag) {
		printf("skipped: this kmemd has no --stall-timeout flag; its "
		       "10 s default stall timeout is too long for the suite\n");
		skip();
	}
	raw_hello(&r);
	t0 = integ_now_ms();
	send_header(&r, 50);
	assert_int_equal(integ_raw_write(&r, part, sizeof(part)), 0);
	/* Meanwhile everyone else is served. */
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-other", &c, NULL, 0), 0);
	assert_int_equal(kmem_client_ping(c, 64), 0);
	assert_true(integ_now_ms() - t0 < STALL_MS);
	kmem_client_disconnect(c);
	assert_int_equal(integ_raw_eof(&r, 5000), 1);
	t1 = integ_now_ms();
	assert_true(t1 - t0 >= STALL_MS);
	assert_true(t1 - t0 < 3000);
	integ_raw_close(&r);
	assert_back_to(&F.base);
}

static void test_daemon_unread_replies_stop_reading_not_the_daemon(void **state)
{
	static uint8_t payload[60000];
	struct kmem_frame_buf out;
	struct kmem_client *c;
	struct integ_raw r;
	size_t sent = 0;
	bool blocked = false;
	uint64_t t0;

	(void)state;
	raw_hello(&r);
	assert_int_equal(fcntl(r.sock, F_SETFL, O_NONBLOCK), 0);
	kmem_frame_buf_init(&out, 0);
	/* Pings whose echoes are never read, until the daemon stops taking
	 * them (its output limit is 4 MiB) and the socket fills up. */
	while (sent < (64u << 20) && !blocked) {
		Kmem__Request q;
		Kmem__Ping p;

		integ_req_ping(&q, &p, 100, payload, sizeof(payload));
		assert_int_equal(kmem_frame_pack_request(&out, &q), 0);
		while (out.len) {
			struct pollfd pfd = { .fd = r.sock, .events = POLLOUT };
			ssize_t n = send(r.sock, out.data, out.len, MSG_NOSIGNAL);

			/* Full: has the daemon stopped reading for good? */
			if (n < 0 && errno == EAGAIN) {
				if (poll(&pfd, 1, 200) == 0) {
					blocked = true;
					break;
				}
				continue;
			}
			assert_true(n > 0);
			kmem_frame_buf_consume(&out, (size_t)n);
			sent += (size_t)n;
		}
	}
	kmem_frame_buf_fini(&out);
	assert_true(blocked);
	/* Bounded: the output limit plus what the kernel buffers hold. */
	assert_true(sent < (16u << 20));
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-other2", &c, NULL, 0), 0);
	t0 = integ_now_ms();
	assert_int_equal(kmem_client_ping(c, 64), 0);
	assert_true(integ_now_ms() - t0 < 1000);
	kmem_client_disconnect(c);
	integ_raw_close(&r);
	assert_back_to(&F.base);
}

/* ------------------------------------------------------------ after all */

static void test_daemon_bad_input_leaves_daemon_serving(void **state)
{
	struct kmem_client *c;
	struct kmem_buf b;

	(void)state;
	assert_back_to(&F.base);
	assert_int_equal(kmem_client_connect(F.d.sock, "integ-good", &c, NULL, 0), 0);
	assert_int_equal(kmem_client_alloc(c, BUF, NULL, &b), 0);
	memset(b.ptr, 0xee, BUF);
	assert_int_equal(((uint8_t *)b.ptr)[BUF - 1], 0xee);
	assert_int_equal(kmem_client_ping(c, 1000), 0);
	assert_int_equal(kmem_client_free(c, &b), 0);
	kmem_client_disconnect(c);
	assert_back_to(&F.base);
}

static void test_daemon_sigterm_exits_cleanly(void **state)
{
	struct stat sb;
	int st;

	(void)state;
	st = integ_daemon_stop(&F.d);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("kmemd wait status 0x%x\n", st);
		integ_daemon_dump_log(&F.d);
	}
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(stat(F.d.sock, &sb), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_hello_passes_one_mappable_fd_per_pool),
		cmocka_unit_test(test_daemon_pipelined_requests_answered_in_order),
		cmocka_unit_test(test_daemon_blocked_alloc_does_not_hold_up_later_requests),
		cmocka_unit_test(test_daemon_truncated_frame_then_close),
		cmocka_unit_test(test_daemon_oversized_length_is_protocol_error),
		cmocka_unit_test(test_daemon_garbage_bytes_are_protocol_error),
		cmocka_unit_test(test_daemon_request_before_hello_is_protocol_error),
		cmocka_unit_test(test_daemon_request_without_body_is_protocol_error),
		cmocka_unit_test(test_daemon_second_hello_or_wrong_version_is_protocol_error),
		cmocka_unit_test(test_daemon_double_free_is_not_found),
		cmocka_unit_test(test_daemon_invalid_arguments_change_nothing),
		cmocka_unit_test(test_daemon_foreign_lease_free_is_denied),
		cmocka_unit_test(test_daemon_stalled_half_frame_is_closed),
		cmocka_unit_test(test_daemon_unread_replies_stop_reading_not_the_daemon),
		cmocka_unit_test(test_daemon_bad_input_leaves_daemon_serving),
		/* Last: it stops the daemon. */
		cmocka_unit_test(test_daemon_sigterm_exits_cleanly),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
