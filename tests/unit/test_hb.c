/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Heartbeat files (src/core/hb.c): what a reader concludes of a part
 * that starts, is ready, stops beating, stops cleanly, or dies.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/hb.h"

static char instance[64];

static void
sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static const char *
verdict(const char *part)
{
	struct halb_hb_view v;

	halb_hb_read(instance, part, 0, &v);
	return v.verdict;
}

static void
test_lifecycle(void **state)
{
	struct halb_hb_view v;
	struct halb_hb *hb;

	(void)state;
	assert_int_equal(halb_hb_read(instance, "p", 0, &v), -ENOENT);
	assert_string_equal(v.verdict, "absent");
	hb = halb_hb_open(instance, "p", 20);
	assert_non_null(hb);
	assert_string_equal(verdict("p"), "starting");
	halb_hb_set_state(hb, HALB_HB_READY);
	halb_hb_beat(hb, halb_hb_now_ns());
	assert_int_equal(halb_hb_read(instance, "p", 0, &v), 0);
	assert_string_equal(v.verdict, "up");
	assert_int_equal(v.hb.pid, getpid());
	assert_true(v.alive);
	assert_true(v.age_ms < 20);
	/* Three intervals without a beat while the process lives: hung. */
	sleep_ms(80);
	assert_string_equal(verdict("p"), "hung");
	halb_hb_beat(hb, halb_hb_now_ns());
	assert_string_equal(verdict("p"), "up");
	halb_hb_note(hb, "worker 1 stalled");
	assert_int_equal(halb_hb_read(instance, "p", 0, &v), 0);
	assert_string_equal(v.hb.note, "worker 1 stalled");
	halb_hb_close(hb);
	assert_string_equal(verdict("p"), "stopped");
}

/* A part that dies without a word is dead, not hung or stopped; its
 * successor takes the file over. */
static void
test_dead_then_restarted(void **state)
{
	struct halb_hb *hb;
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hb = halb_hb_open(instance, "q", 10);
		if (hb == NULL)
			_exit(1);
		halb_hb_set_state(hb, HALB_HB_READY);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(st, 0);
	assert_string_equal(verdict("q"), "dead");
	hb = halb_hb_open(instance, "q", 10);
	assert_non_null(hb);
	assert_string_equal(verdict("q"), "starting");
	halb_hb_close(hb);
}

static int
cleanup(void **state)
{
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/%s/p.hb", HALB_RUN_DIR, instance);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s/q.hb", HALB_RUN_DIR, instance);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", HALB_RUN_DIR, instance);
	rmdir(path);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_dead_then_restarted),
	};

	snprintf(instance, sizeof(instance), "unit-hb-%d", (int)getpid());
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
