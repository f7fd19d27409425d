/*
 * rpc/proc.h - the processes of the daemon benchmark (bench_daemon.c):
 * the kmemd under test in a scratch directory, its hugepages, CPU
 * placement, and fatal errors.
 *
 * One run has one kmemd and one scratch directory, so this module keeps
 * them in its own static state; an atexit handler kills whatever child is
 * still registered, gives back the hugepages it added and removes the
 * directory.  Only the process that called rpc_setup() does that clean-up;
 * forked children that fail call rpc_die(), which leaves them with
 * _exit(1).
 */
#ifndef KMEM_BENCH_RPC_PROC_H
#define KMEM_BENCH_RPC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Print "bench_daemon: ..." and exit 1 (_exit(1) in a forked child). */
_Noreturn void rpc_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * rpc_setup - remember this process as the owner of the run and the CPUs
 * it may use, register the clean-up, ignore SIGPIPE and make the scratch
 * directory.  Dies on failure.
 */
void rpc_setup(void);

/* The kmemd socket path inside the scratch directory. */
const char *rpc_socket(void);

/* Write all len bytes or die. */
void rpc_write_all(int fd, const void *p, size_t len);

/*
 * rpc_hugepages_reserve - as root, add pages 2 MiB pages to nr_hugepages
 * and check the kernel found them free; false (and nothing added) when
 * not root or short.  rpc_hugepages_release takes off what was added (not
 * the old value: someone else may have changed the knob meanwhile); it is
 * idempotent and also runs at exit.
 */
bool rpc_hugepages_reserve(unsigned long pages);
void rpc_hugepages_release(void);

/*
 * rpc_kmemd_start - run bin on rpc_socket() with one --pool spec, no
 * configuration file and no HTTP stats socket (when bin knows those
 * options: the defaults may belong to another daemon), log level warn and
 * stderr to a log file, and wait until the socket accepts.  Returns the
 * pid, or 0 when kmemd exited at start-up (see rpc_kmemd_dump_log).
 * Dies if it neither listens nor exits within 10 s.
 */
pid_t rpc_kmemd_start(const char *bin, const char *spec);

/* rpc_kmemd_stop - SIGTERM and wait (5 s, then SIGKILL).  Returns the
 * exit status, -1 when killed or not running. */
int rpc_kmemd_stop(void);

/* Copy kmemd's log to stderr. */
void rpc_kmemd_dump_log(void);

/* A forked helper the clean-up kills if it still runs (0 forgets it). */
void rpc_track_child(pid_t pid);

/*
 * rpc_pin - pin every thread of pid (0: this process) to cpu, or give it
 * back every CPU the run started with (cpu -1).  Dies when pinning fails.
 */
void rpc_pin(pid_t pid, int cpu);

/*
 * rpc_pick_cpus - cpu[0] for the client (want if the run may use it, else
 * the first usable CPU) and cpu[1] another usable one, -1 if none.
 */
void rpc_pick_cpus(int want, int cpu[2]);

#endif
