/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Telling the service manager that a daemon is ready (src/core/notify.c):
 * sd_notify(3) "READY=1" for the systemd units of Type=notify that the
 * package installs (dist/systemd/).  Built without libsystemd (meson
 * option systemd=disabled, or libsystemd-dev missing) it does nothing;
 * started outside a notify unit ($NOTIFY_SOCKET unset) it does nothing
 * either.  A failure to notify is no reason to stop: it is logged on
 * stderr and the program goes on (systemd then times the start out and
 * says so itself).  No state.
 */
#ifndef HALB_NOTIFY_H
#define HALB_NOTIFY_H

#include <stdint.h>

/* Once the program serves what it is for: the forwarder's workers run,
 * the classifier is attached, healthd's and the agent's sockets are open
 * and their loop is about to run. */
void halb_notify_ready(void);

/*
 * systemd's watchdog (WatchdogSec= in the unit, sd_watchdog_enabled(3)):
 * halb_notify_watchdog_ms() says how often the service manager wants to
 * hear "WATCHDOG=1" (ms; 0: it does not, or no libsystemd) and removes
 * $WATCHDOG_USEC and $WATCHDOG_PID from the environment, so that the
 * programs this one starts do not believe it is asked of them.  Call it
 * once, at start-up.  halb_notify_watchdog() sends one "WATCHDOG=1":
 * from the loop whose hang is to be found, never from a thread of its
 * own, at half the period or more often.
 */
uint64_t halb_notify_watchdog_ms(void);
void halb_notify_watchdog(void);

#endif /* HALB_NOTIFY_H */
