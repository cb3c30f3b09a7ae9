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
