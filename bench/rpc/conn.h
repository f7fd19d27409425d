/*
 * rpc/conn.h - libkmem connections for the benchmarks, with or without
 * the library's client-side magazines.
 *
 * libkmem serves small allocations from per-connection magazines when it
 * has them (KMEM_CONNECT_NO_MAGAZINES in kmem/client.h says it does):
 * then kmem_client_alloc of 8 KiB or less and kmem_client_cache_alloc
 * cost no round trip.  A benchmark that times round trips asks for a
 * connection without them; one that compares against in-process
 * allocators asks for both kinds and labels them.
 */
#ifndef KMEM_BENCH_RPC_CONN_H
#define KMEM_BENCH_RPC_CONN_H

#include <stdbool.h>

#include "kmem/client.h"

/* Whether this libkmem has magazines at all. */
bool rpc_have_magazines(void);

/*
 * rpc_connect - connect to rpc_socket() as name; magazines false asks
 * for none (every call a request of its own).  Dies on failure.
 */
struct kmem_client *rpc_connect(const char *name, bool magazines);

#endif
