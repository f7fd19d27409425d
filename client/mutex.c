/*
 * mutex.c - the slow paths of the connection mutex (internal.h).
 *
 * The mutex is one futex word: 0 free, 1 held, 2 held and maybe waited
 * for (Drepper, "Futexes Are Tricky", 2011, mutex 2, unlocked with an
 * exchange).  Taking and releasing it uncontended is one atomic
 * instruction each, inline in internal.h.  That is what it is for:
 * pthread_mutex_lock and _unlock are calls that dispatch on the mutex type
 * and keep owner and user counts, which in a multi-threaded process cost
 * as much again as a magazine allocation and free themselves.  Waiters
 * sleep in the kernel, so a thread blocked behind a round trip (tens of
 * microseconds) does not spin.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

void kmem__mutex_wait(int *m, int v)
{
	/* Mark the word contended, then sleep until an unlock finds it so
	 * and wakes one of us; whoever takes it leaves it marked, which at
	 * worst costs one needless wake-up. */
	if (v != 2)
		v = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	while (v != 0) {
		syscall(SYS_futex, m, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		v = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	}
}

void kmem__mutex_wake(int *m)
{
	syscall(SYS_futex, m, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
