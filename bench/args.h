/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The command line that the single-core harnesses (halb-bench-decide,
 * halb-bench-fastpath) share after EAL's options:
 *   --config FILE  --vip A  --flows N  --COUNT N
 * where COUNT is each harness's own repetition count (rounds, bursts).
 */
#ifndef HALB_BENCH_ARGS_H
#define HALB_BENCH_ARGS_H

#include <stdint.h>

struct bench_args {
	const char *path;   /* required */
	uint32_t vip;       /* network order; 198.18.2.100 unless given */
	uint32_t flows;     /* 1..BENCH_MAX_FLOWS */
	uint32_t count;     /* 1..max_count */
};

/*
 * Parses argv (what rte_eal_init left) into a, whose flows and count hold
 * the defaults on entry.  Returns 0, or 2 (the usage exit code) after
 * printing what is wrong.
 */
int bench_args_parse(int argc, char **argv, const char *count_name,
		     uint32_t max_count, struct bench_args *a);

#endif
