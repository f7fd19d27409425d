/*
 * rpc/pecho.h - the floor of pipelined traffic: an echo server that, like
 * kmemd, is one process serving every client connection from one epoll
 * loop, reading whatever has arrived and answering every complete frame
 * in it with one write.
 *
 * The requests are those of rpc_echo_request() (wire.h): a frame whose
 * payload's first two bytes (little-endian) give the byte count of the
 * answer.  Unlike the blocking echo of wire.h, which sends bare bytes,
 * each answer here is itself a frame (4-byte big-endian length, then
 * zeros), so that a pipelining client finds the answers in its stream
 * with the same frame decoder it uses on kmemd's.
 */
#ifndef KMEM_BENCH_RPC_PECHO_H
#define KMEM_BENCH_RPC_PECHO_H

#include <sys/types.h>

#define RPC_PECHO_MAX 64	/* connections per server */

/*
 * rpc_pecho_start - fork the server with n (1..RPC_PECHO_MAX)
 * connections, each a socketpair: fds[i] gets the client end of
 * connection i (close-on-exec).  The server exits when every client end
 * is closed.  Returns its pid.  Dies on failure.
 */
pid_t rpc_pecho_start(int n, int *fds);

#endif
