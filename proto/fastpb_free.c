/*
 * proto/fastpb_free.c - freeing the Responses of the shapes fastpb.c
 * decodes (no unknown fields; body none, Pong, Lease without segments or
 * LeaseBatch), whoever decoded them, block by block as
 * protobuf_c_message_free_unpacked() frees them: the client frees every
 * reply, and protobuf-c's free walks every field descriptor of Response
 * and of the body.  Any other message is left to protobuf-c.  The theory
 * of the codec is in fastpb.c.
 */
#include <stdlib.h>

#include "fastpb.h"

static void pb_free(ProtobufCAllocator *a, void *p)
{
	if (!p)
		return;
	if (a)
		a->free(a->allocator_data, p);
	else
		free(p);
}

/* A string, as protobuf-c frees it: unless NULL or the shared default. */
static void free_string(ProtobufCAllocator *a, char *s)
{
	if (s != protobuf_c_empty_string)
		pb_free(a, s);
}

/* A submessage of the expected type with no unknown fields (or none). */
static int plain_or_null(const ProtobufCMessage *m,
			 const ProtobufCMessageDescriptor *d)
{
	return !m || (m->descriptor == d && m->n_unknown_fields == 0);
}

int kmem__fastpb_free_response(Kmem__Response *r, ProtobufCAllocator *a)
{
	/* The whole shape is checked before anything is freed. */
	if (!kmem__fastpb_ready() ||
	    r->base.descriptor != &kmem__response__descriptor ||
	    r->base.n_unknown_fields)
		return 0;
	switch (r->body_case) {
	case KMEM__RESPONSE__BODY__NOT_SET: break;
	case KMEM__RESPONSE__BODY_PONG:
		if (!plain_or_null((const ProtobufCMessage *)r->pong,
				   &kmem__pong__descriptor))
			return 0;
		break;
	case KMEM__RESPONSE__BODY_LEASE:
		if (!plain_or_null((const ProtobufCMessage *)r->lease,
				   &kmem__lease__descriptor) ||
		    (r->lease && r->lease->segments))
			return 0;
		break;
	case KMEM__RESPONSE__BODY_LEASE_BATCH:
		if (!plain_or_null((const ProtobufCMessage *)r->lease_batch,
				   &kmem__lease_batch__descriptor))
			return 0;
		break;
	default:
		return 0;
	}
	switch (r->body_case) {
	case KMEM__RESPONSE__BODY_PONG:
		if (r->pong) {
			pb_free(a, r->pong->payload.data);
			pb_free(a, r->pong);
		}
		break;
	case KMEM__RESPONSE__BODY_LEASE:
		if (r->lease) {
			free_string(a, r->lease->name);
			free_string(a, r->lease->tag);
			pb_free(a, r->lease);
		}
		break;
	case KMEM__RESPONSE__BODY_LEASE_BATCH:
		if (r->lease_batch) {
			pb_free(a, r->lease_batch->ids);
			pb_free(a, r->lease_batch->offsets);
			pb_free(a, r->lease_batch->phys);
			pb_free(a, r->lease_batch);
		}
		break;
	default:
		break;
	}
	free_string(a, r->message);
	pb_free(a, r);
	return 1;
}
