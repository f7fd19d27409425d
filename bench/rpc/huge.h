/*
 * rpc/huge.h - reserving hugepages of either size (2 MiB, 1 GiB) for a
 * benchmark's pools, and giving them back.
 *
 * Like rpc_hugepages_reserve() (proc.h), which only knows 2 MiB pages, this
 * adds to nr_hugepages and later takes off what it added - the delta, not
 * the old value, so that another run's reservation made meanwhile
 * survives.  The process that made the first reservation also gives
 * everything back at exit.
 */
#ifndef KMEM_BENCH_RPC_HUGE_H
#define KMEM_BENCH_RPC_HUGE_H

#include <stdbool.h>
#include <stdint.h>

#define RPC_HUGE_2M (UINT64_C(2) << 20)
#define RPC_HUGE_1G (UINT64_C(1) << 30)

/*
 * rpc_huge_reserve - as root, raise the number of free hugepages of
 * page_size (RPC_HUGE_2M or RPC_HUGE_1G) by pages beyond what this
 * module already holds.  True when the kernel found them; false (and
 * nothing added) when not root, short of memory, or the size is unknown.
 */
bool rpc_huge_reserve(uint64_t page_size, unsigned long pages);

/* rpc_huge_release - give back every page of page_size this module
 * added; idempotent. */
void rpc_huge_release(uint64_t page_size);

/* rpc_huge_free_pages - free hugepages of page_size now, -1 if unknown. */
long rpc_huge_free_pages(uint64_t page_size);

#endif
