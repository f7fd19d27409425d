/*
 * fuzz_fastpb.c - the hand-written codec of the hot messages
 * (proto/fastpb.c, fastpb_pack.c) against protobuf-c, differentially.
 *
 * Every input is one payload, decoded as a Request and as a Response, by
 * the fast decoder and by protobuf-c.  Whenever the fast decoder takes it,
 * protobuf-c must take it too, into the same tree (kmem__fastpb_same():
 * values, oneof cases, counts, and NULL, shared-default or allocated
 * pointers) made of blocks of the same sizes, and the fast tree must
 * encode - by the fast encoder and by protobuf-c - to the bytes of
 * protobuf-c's tree.  Whatever the fast decoder did, frame.c's unpack
 * must answer as protobuf-c does, and protobuf-c's tree, when the fast
 * encoder takes it (this reaches trees the fast decoder declines: negative
 * enums, strings with a NUL inside, merged fields), must encode to
 * protobuf-c's bytes.  Every tree is freed through frame.c (whose fast
 * free takes the hot Response shapes, whoever built them), every block
 * through a recording allocator, and all must be freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpb.h"
#include "frame.h"

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz: %s:%d: check failed: %s: ",	\
			__FILE__, __LINE__, #cond);			\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

#define MAX_BLOCKS 4096

/* The live blocks of one allocator, with their sizes. */
struct rec {
	void *p[MAX_BLOCKS];
	size_t size[MAX_BLOCKS];
	size_t live;
};

static void *rec_alloc(void *data, size_t size)
{
	struct rec *r = data;
	void *p;

	if (r->live == MAX_BLOCKS)
		return NULL;
	p = malloc(size ? size : 1);
	if (p) {
		r->p[r->live] = p;
		r->size[r->live++] = size;
	}
	return p;
}

static void rec_free(void *data, void *p)
{
	struct rec *r = data;

	for (size_t i = 0; i < r->live; i++) {
		if (r->p[i] == p) {
			r->live--;
			r->p[i] = r->p[r->live];
			r->size[i] = r->size[r->live];
			free(p);
			return;
		}
	}
	FUZZ_CHECK(0, "free of a block never allocated");
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Both allocators hold blocks of the same sizes. */
static int same_blocks(struct rec *a, struct rec *b)
{
	if (a->live != b->live)
		return 0;
	qsort(a->size, a->live, sizeof(a->size[0]), cmp_size);
	qsort(b->size, b->live, sizeof(b->size[0]), cmp_size);
	return memcmp(a->size, b->size, a->live * sizeof(a->size[0])) == 0;
}

static struct rec ra, rb;
static ProtobufCAllocator fa = { rec_alloc, rec_free, &ra };
static ProtobufCAllocator sa = { rec_alloc, rec_free, &rb };

/* The packing of m by protobuf-c, in a malloc'd buffer. */
static uint8_t *pb_pack(const ProtobufCMessage *m, size_t *n)
{
	uint8_t *p;

	*n = protobuf_c_message_get_packed_size(m);
	p = malloc(*n + 1);
	FUZZ_CHECK(p, "malloc");
	FUZZ_CHECK(protobuf_c_message_pack(m, p) == *n, "pack size");
	return p;
}

/* The fast encoder, when it takes m, must write want[0..n). */
static void check_fast_pack(const ProtobufCMessage *m, int response,
			    const uint8_t *want, size_t n)
{
	struct kmem__fastpb_plan plan;
	size_t k = response ?
		kmem__fastpb_response_size((const Kmem__Response *)m, &plan) :
		kmem__fastpb_request_size((const Kmem__Request *)m, &plan);
	uint8_t *got;

	if (k == KMEM_FASTPB_DECLINE)
		return;
	FUZZ_CHECK(k == n, "fast size %zu, protobuf-c %zu", k, n);
	got = malloc(n + 1);
	FUZZ_CHECK(got, "malloc");
	k = response ?
		kmem__fastpb_pack_response((const Kmem__Response *)m, &plan, got) :
		kmem__fastpb_pack_request((const Kmem__Request *)m, &plan, got);
	FUZZ_CHECK(k == n && memcmp(got, want, n) == 0,
		   "fast bytes differ from protobuf-c's");
	free(got);
}

static void one(const uint8_t *data, size_t size, int response)
{
	const ProtobufCMessageDescriptor *d = response ?
		&kmem__response__descriptor : &kmem__request__descriptor;
	ProtobufCMessage *f = NULL, *s, *g = NULL;
	Kmem__Request *fq = NULL, *gq = NULL;
	Kmem__Response *fr = NULL, *gr = NULL;
	char why[200];
	int took, rc;
	uint8_t *want;
	size_t n;

	s = protobuf_c_message_unpack(d, &sa, size, data);
	took = response ? kmem__fastpb_unpack_response(data, size, &fa, &fr) :
			  kmem__fastpb_unpack_request(data, size, &fa, &fq);
	if (took)
		f = response ? &fr->base : &fq->base;
	if (took) {
		FUZZ_CHECK(s, "fast decoder took what protobuf-c refuses");
		FUZZ_CHECK(kmem__fastpb_same(f, s, why, sizeof(why)),
			   "trees differ at %s", why);
		FUZZ_CHECK(same_blocks(&ra, &rb), "allocations differ (%zu, %zu)",
			   ra.live, rb.live);
	} else {
		FUZZ_CHECK(ra.live == 0, "a declined decode left %zu blocks",
			   ra.live);
	}
	if (s) {
		want = pb_pack(s, &n);
		check_fast_pack(s, response, want, n);
		if (f) {
			uint8_t *again = pb_pack(f, &n);

			FUZZ_CHECK(memcmp(again, want, n) == 0,
				   "the fast tree packs differently");
			free(again);
			check_fast_pack(f, response, want, n);
		}
		free(want);
	}
	rc = response ? kmem_frame_unpack_response(data, size, &fa, &gr) :
			kmem_frame_unpack_request(data, size, &fa, &gq);
	FUZZ_CHECK((rc == 0) == (s != NULL), "frame.c answers %d", rc);
	if (rc == 0)
		g = response ? &gr->base : &gq->base;
	if (g)
		FUZZ_CHECK(kmem__fastpb_same(g, s, why, sizeof(why)),
			   "frame.c's tree differs at %s", why);
	/* What the fast decoder builds the fast free takes; the others
	 * through frame.c, fast or not. */
	if (response) {
		FUZZ_CHECK(!fr || kmem__fastpb_free_response(fr, &fa),
			   "the fast free declines a fast-decoded tree");
		kmem_frame_free_response(gr, &fa);
		kmem_frame_free_response((Kmem__Response *)s, &sa);
	} else {
		kmem_frame_free_request(fq, &fa);
		kmem_frame_free_request(gq, &fa);
		kmem_frame_free_request((Kmem__Request *)s, &sa);
	}
	FUZZ_CHECK(ra.live == 0 && rb.live == 0, "leaked %zu and %zu blocks",
		   ra.live, rb.live);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CHECK(kmem__fastpb_ready(), "descriptors: %s",
		   kmem__fastpb_check());
	one(data, size, 0);
	one(data, size, 1);
	return 0;
}
