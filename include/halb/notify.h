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

/* Once the program serves what it is for: the forwarder's workers run,
 * the classifier is attached, healthd's and the agent's sockets are open
 * and their loop is about to run. */
void halb_notify_ready(void);

#endif /* HALB_NOTIFY_H */
