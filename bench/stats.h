/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small helpers the benchmark programs share: a monotonic clock in
 * seconds and the median of a sample.
 */
#ifndef HALB_BENCH_STATS_H
#define HALB_BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v[0..n) in place; returns its median, 0 when n is 0. */
static inline double
median(double *v, uint32_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
