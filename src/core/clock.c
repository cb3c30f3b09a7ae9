/* SPDX-License-Identifier: BSD-3-Clause */
/* Clocks and sequence numbers (halb/clock.h).  No state. */
#include <time.h>

#include "halb/clock.h"

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
halb_mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

uint64_t
halb_unix_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}

uint64_t
halb_unix_us(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000;
}

uint64_t
halb_next_seq(uint64_t *last)
{
	uint64_t now = halb_unix_us();

	*last = now > *last ? now : *last + 1;
	return *last;
}
