/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's attach lock (classifier/lock.c): a second classifier
 * is refused while the first holds the lock, and told its pid; the lock
 * is free again when the holder exits, however it exits; --takeover
 * waits for a holder whose heartbeat is fresh (and gives up after its
 * time), and kills one whose heartbeat is stale before taking the lock.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cls.h"


static char path[64];

/* A child process that takes the lock, says so on `ready`, and holds it
 * until `go` is closed (or it is killed). */
static pid_t
holder_start(int *go_w)
{
	int ready[2], go[2];
	pid_t pid;
	char ch;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = cls_lock_open(path);

		close(ready[0]);
		close(go[1]);
		if (fd < 0 || cls_lock_try(fd, NULL) != 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		(void)!read(go[0], &ch, 1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &ch, 1), 1);
	close(ready[0]);
	*go_w = go[1];
	return pid;
}

static int
reap(pid_t pid)
{
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static bool
fresh(void *ctx, pid_t holder)
{
	(void)ctx;
	(void)holder;
	return true;
}

static bool
stale(void *ctx, pid_t holder)
{
	*(pid_t *)ctx = holder;
	return false;
}

static void
test_second_refused(void **state)
{
	pid_t pid, holder = -1;
	int go, fd;

	(void)state;
	pid = holder_start(&go);
	fd = cls_lock_open(path);
	assert_true(fd >= 0);
	assert_int_equal(cls_lock_try(fd, &holder), -EBUSY);
	assert_int_equal(holder, pid);
	/* Still refused a moment later: nothing goes stale by itself. */
	assert_int_equal(cls_lock_try(fd, &holder), -EBUSY);
	close(go); /* the first one stops */
	reap(pid);
	assert_int_equal(cls_lock_try(fd, &holder), 0);
	close(fd);
}

static void
test_sigkill_frees(void **state)
{
	pid_t pid;
	int go, fd;

	(void)state;
	pid = holder_start(&go);
	fd = cls_lock_open(path);
	assert_int_equal(cls_lock_try(fd, NULL), -EBUSY);
	kill(pid, SIGKILL);
	reap(pid);
	close(go);
	assert_int_equal(cls_lock_try(fd, NULL), 0);
	close(fd);
}

static void
test_takeover_waits_for_fresh(void **state)
{
	pid_t pid, killed = -1;
	int go, fd;

	(void)state;
	pid = holder_start(&go);
	fd = cls_lock_open(path);
	assert_int_equal(cls_lock_takeover(fd, 200, fresh, NULL, &killed),
			 -ETIMEDOUT);
	assert_int_equal(killed, 0);
	assert_int_equal(kill(pid, 0), 0); /* alive, not killed */
	close(go);
	reap(pid);
	assert_int_equal(cls_lock_takeover(fd, 200, fresh, NULL, &killed), 0);
	close(fd);
}

static void
test_takeover_kills_stale(void **state)
{
	pid_t pid, seen = 0, killed = 0;
	int go, fd, st;

	(void)state;
	pid = holder_start(&go);
	fd = cls_lock_open(path);
	assert_int_equal(cls_lock_takeover(fd, 5000, stale, &seen, &killed), 0);
	assert_int_equal(seen, pid);
	assert_int_equal(killed, pid);
	st = reap(pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	close(go);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_refused),
		cmocka_unit_test(test_sigkill_frees),
		cmocka_unit_test(test_takeover_waits_for_fresh),
		cmocka_unit_test(test_takeover_kills_stale),
	};
	int rc;

	snprintf(path, sizeof(path), "/tmp/halb-test-lock-%d", (int)getpid());
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return rc;
}
