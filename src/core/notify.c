/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Readiness for systemd (halb/notify.h).  libsystemd is optional at build
 * time (HALB_HAVE_SYSTEMD, set by src/core/meson.build when found): a
 * build for a host without it still links, and its programs simply do not
 * notify.
 */
#include <stdio.h>
#include <string.h>

#ifdef HALB_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "halb/notify.h"

void
halb_notify_ready(void)
{
#ifdef HALB_HAVE_SYSTEMD
	/* < 0: $NOTIFY_SOCKET names a socket we cannot send to; 0: not
	 * started by a notify unit, nothing to do. */
	int rc = sd_notify(0, "READY=1");

	if (rc < 0)
		fprintf(stderr, "halb_notify_ready: sd_notify: %s\n",
			strerror(-rc));
#endif
}

uint64_t
halb_notify_watchdog_ms(void)
{
#ifdef HALB_HAVE_SYSTEMD
	uint64_t usec = 0;
	int rc = sd_watchdog_enabled(1, &usec);

	if (rc < 0)
		fprintf(stderr, "halb_notify_watchdog_ms: sd_watchdog_enabled: %s\n",
			strerror(-rc));
	if (rc <= 0)
		return 0;
	return usec / 1000 > 0 ? usec / 1000 : 1;
#else
	return 0;
#endif
}

void
halb_notify_watchdog(void)
{
#ifdef HALB_HAVE_SYSTEMD
	int rc = sd_notify(0, "WATCHDOG=1");

	if (rc < 0)
		fprintf(stderr, "halb_notify_watchdog: sd_notify: %s\n",
			strerror(-rc));
#endif
}
