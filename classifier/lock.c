/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One classifier per forwarder.  The classifier is the only writer of
 * the flow tables and the only producer of the return rings (single
 * producer), so a second one attached beside a live one would corrupt
 * both.  The right to attach is an fcntl write lock on a file in the
 * forwarder's DPDK runtime directory (CLS_LOCK_FILE): the kernel drops it
 * when its holder exits, however it exits (SIGKILL included), so it never
 * goes stale and needs no pid file.
 *
 * Taking over from a live classifier is explicit (--takeover): wait for
 * the holder to let go, and when its heartbeat has gone stale (a hung or
 * stopped process: it could resume and write again) kill it, so that two
 * writers never overlap.  A holder whose heartbeat is fresh is waited for,
 * never killed: it is stopped by whoever asked for the switch.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "halb/clock.h"
#include "cls.h"

int
cls_lock_open(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

int
cls_lock_try(int fd, pid_t *holder)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
	};

	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	if (errno != EACCES && errno != EAGAIN)
		return -errno;
	if (holder != NULL) {
		struct flock q = {
			.l_type = F_WRLCK,
			.l_whence = SEEK_SET,
		};

		/* The holder may be gone between the two calls: 0 then. */
		*holder = fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK ?
				  q.l_pid : 0;
	}
	return -EBUSY;
}

int
cls_lock_takeover(int fd, uint32_t timeout_ms,
		  bool (*holder_fresh)(void *ctx, pid_t holder), void *ctx,
		  pid_t *killed)
{
	uint64_t end = halb_mono_ms() + timeout_ms;
	pid_t holder = 0;
	int rc;

	if (killed != NULL)
		*killed = 0;
	for (;;) {
		rc = cls_lock_try(fd, &holder);
		if (rc != -EBUSY)
			return rc;
		if (holder > 0 && holder != getpid() && !holder_fresh(ctx, holder)) {
			/* Hung or stopped: fence it before we write. */
			if (kill(holder, SIGKILL) == 0 && killed != NULL)
				*killed = holder;
		}
		if (halb_mono_ms() >= end)
			return -ETIMEDOUT;
		usleep(10000);
	}
}
