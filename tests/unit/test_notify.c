/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * systemd's notify protocol as src/core/notify.c speaks it: READY=1, and
 * the watchdog halb-had answers (halb_notify_watchdog_ms reads
 * $WATCHDOG_USEC/$WATCHDOG_PID and takes them out of the environment;
 * halb_notify_watchdog sends WATCHDOG=1).  A unix datagram socket stands
 * in for systemd's.  Without libsystemd the functions do nothing, and so
 * do these tests (skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/notify.h"

static char path[108];

static int
setup(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int *fd = malloc(sizeof(*fd));

	assert_non_null(fd);
	snprintf(path, sizeof(path), "/tmp/halb-test-notify-%d.sock", (int)getpid());
	unlink(path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	*fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	*state = fd;
	return 0;
}

static int
teardown(void **state)
{
	int *fd = *state;

	close(*fd);
	unlink(path);
	free(fd);
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

/* What arrived on the socket: one datagram, or "" when none did. */
static void
got(int fd, char *buf, size_t len)
{
	ssize_t n;
	int i;

	for (i = 0; i < 100; i++) {
		n = recv(fd, buf, len - 1, 0);
		if (n >= 0) {
			buf[n] = '\0';
			return;
		}
		usleep(1000);
	}
	buf[0] = '\0';
}

static void
test_watchdog(void **state)
{
	int fd = *(int *)state[0];
	char buf[64], pid[32];

#ifndef HALB_HAVE_SYSTEMD
	skip();
#endif
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_USEC", "5000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(halb_notify_watchdog_ms(), 5000);
	/* Gone: a part had starts does not believe it is asked. */
	assert_null(getenv("WATCHDOG_USEC"));
	assert_null(getenv("WATCHDOG_PID"));
	assert_int_equal(halb_notify_watchdog_ms(), 0);
	halb_notify_watchdog();
	got(fd, buf, sizeof(buf));
	assert_string_equal(buf, "WATCHDOG=1");
}

/* Another process's watchdog (WATCHDOG_PID not ours), or none. */
static void
test_watchdog_not_ours(void **state)
{
	(void)state;
#ifndef HALB_HAVE_SYSTEMD
	skip();
#endif
	setenv("WATCHDOG_USEC", "5000000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(halb_notify_watchdog_ms(), 0);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(halb_notify_watchdog_ms(), 0);
}

static void
test_ready(void **state)
{
	int fd = *(int *)state[0];
	char buf[64];

#ifndef HALB_HAVE_SYSTEMD
	skip();
#endif
	halb_notify_ready();
	got(fd, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_not_ours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
