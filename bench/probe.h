/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the generator reads about the device under test and about CPU
 * time, outside the data path:
 *  - the DUT's DPDK telemetry socket (/var/run/dpdk/PREFIX/
 *    dpdk_telemetry.v2): a command, its JSON reply, numbers by key;
 *  - schedstat: how long a thread was on a CPU, and how long it waited
 *    runnable, which tells a window in which another process took the
 *    CPU from one in which halb ran.
 */
#ifndef HALB_BENCH_PROBE_H
#define HALB_BENCH_PROBE_H

#include <stdint.h>
#include <sys/types.h>

/* A unix socket of `type` connected to path.  Returns it or -errno
 * (reported on stderr). */
int probe_unix_connect(const char *path, int type);

/* The number after "key": in a flat JSON reply, or 0. */
uint64_t probe_json_u64(const char *reply, const char *key);

/* CPU time a thread got and time it waited runnable, in ns. */
struct probe_sched {
	uint64_t run, wait;
};

/* Reads /proc/PID/task/TID/schedstat.  Returns 0 or -errno. */
int probe_sched_read(pid_t pid, pid_t tid, struct probe_sched *s);

/* The thread of pid named (comm) `name`, pid itself for NULL, or 0. */
pid_t probe_find_thread(pid_t pid, const char *name);

#endif
