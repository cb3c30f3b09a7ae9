/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The clocks of the DPDK-free programs (src/core/clock.c).
 *
 * Two clocks: the monotonic one (halb_mono_ms) for every interval,
 * timer and timeout, and Unix time (halb_unix_ms) for what goes on the
 * wire, where a receiver's replay window compares it with its own clock.
 * The DPDK programs keep their TSC clock in shared memory instead.
 */
#ifndef HALB_CLOCK_H
#define HALB_CLOCK_H

#include <stdint.h>

uint64_t halb_mono_ms(void);
uint64_t halb_unix_ms(void);
uint64_t halb_unix_us(void);

/*
 * The next sequence number of a sender: above *last, and at least the
 * current Unix time in microseconds, so that a restarted sender starts
 * above every number it used before (docs/HEALTH-PROTOCOL.md).
 */
uint64_t halb_next_seq(uint64_t *last);

#endif /* HALB_CLOCK_H */
