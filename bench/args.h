/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How the single-core harnesses (halb-bench-decide, halb-bench-fastpath)
 * start: EAL on its options, then their own
 *   --config FILE  --vip A  --flows N  --COUNT N
 * where COUNT is each harness's own repetition count (rounds, bursts),
 * then the configuration loaded.
 */
#ifndef HALB_BENCH_ARGS_H
#define HALB_BENCH_ARGS_H

#include <stdint.h>

struct halb_cfg;

struct bench_args {
	const char *path;   /* required */
	struct halb_cfg *cfg; /* loaded from path (cfg_free it) */
	uint32_t vip;       /* network order; 198.18.2.100 unless given */
	uint32_t flows;     /* 1..BENCH_MAX_FLOWS */
	uint32_t count;     /* 1..max_count */
};

/*
 * Starts EAL on argv, parses what it leaves into a (whose flows and count
 * hold the defaults on entry) and loads the configuration.  Returns 0, or
 * the exit code after printing what is wrong (2: usage, 1: EAL or the
 * file).
 */
int bench_start(int argc, char **argv, const char *count_name,
		uint32_t max_count, struct bench_args *a);

#endif
