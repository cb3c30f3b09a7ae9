/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The idle back-off of the polling loops (forwarder workers, classifier):
 * spin a while after the last packet, then sleep a little longer each
 * empty turn, up to idle_sleep_us (0: busy polling), so that processes
 * sharing few cores leave each other time.
 */
#ifndef HALB_IDLE_H
#define HALB_IDLE_H

#include <stdint.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <rte_pause.h>

#define HALB_IDLE_SPIN_LOOPS 64u
#define HALB_IDLE_STEP_US 4u
/* The back-off's sleeps are a few µs; Linux's default timer slack (50 µs)
 * would add up to that to each, and so to every frame that arrives
 * meanwhile. */
#define HALB_IDLE_TIMER_SLACK_NS 1000ul

/* For the polling thread, before its loop. */
static inline void
halb_idle_init(void)
{
	prctl(PR_SET_TIMERSLACK, HALB_IDLE_TIMER_SLACK_NS);
}

/*
 * One empty turn of the loop; *idle counts them (0 after a busy one).
 * Returns how long to sleep in µs, or 0 to spin (rte_pause) instead.
 * For loops that must do something around a sleep: a forwarder worker
 * goes offline for QSBR, so that a grace period does not wait for it.
 */
static inline uint32_t
halb_idle_sleep_us(uint32_t *idle, uint32_t max_us)
{
	uint32_t us;

	if (max_us == 0 || ++*idle < HALB_IDLE_SPIN_LOOPS)
		return 0;
	us = (*idle - HALB_IDLE_SPIN_LOOPS + 1) * HALB_IDLE_STEP_US;
	if (us >= max_us) {
		us = max_us;
		--*idle; /* stays at the longest sleep, never wraps */
	}
	return us;
}

/* One empty turn of the loop: spin, or sleep (halb_idle_sleep_us). */
static inline void
halb_idle_backoff(uint32_t *idle, uint32_t max_us)
{
	uint32_t us = halb_idle_sleep_us(idle, max_us);

	if (us == 0)
		rte_pause();
	else
		usleep(us);
}

#endif
