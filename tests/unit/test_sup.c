/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-had's supervisor (ha/sup.c) on a simulated clock: the start order
 * and what each part waits for, hung and dead parts, back-off growth,
 * giving up after N failures in a window, a forwarder failure taking
 * the classifier with it, adopting running parts, and the stop order.
 * The "daemon" here is a few lines that carry out the actions into a
 * log the tests read.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "halb/cfg.h"
#include "halb/hb.h"
#include "sup.h"

enum { FWD = HA_PART_FORWARDER, CLS = HA_PART_CLASSIFIER,
       HLD = HA_PART_HEALTHD };

static struct cfg_ha cfg;
static struct ha_sup sup;
static uint64_t now;
static int next_pid;
/* What the daemon did, one action a line: "start classifier",
 * "kill 9 1001", "adopt 77", "ready". */
static char did[64][64];
static unsigned int n_did;
static int pid_of_start[HA_PARTS];

static void
conf_default(void)
{
	unsigned int i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.poll_ms = 20;
	for (i = 0; i < HA_PARTS; i++) {
		struct cfg_ha_part *p = &cfg.parts[i];

		p->enabled = true;
		p->timeout_ms = i == HLD ? 1000 : 250;
		p->start_timeout_ms = 5000;
		p->stop_timeout_ms = 2000;
		p->backoff_ms = 100;
		p->backoff_max_ms = 1000;
		p->max_failures = 5;
		p->window_ms = 60000;
	}
	cfg.parts[CLS].after = HA_BIT(FORWARDER);
	cfg.parts[CLS].bound = HA_BIT(FORWARDER);
}

static void
drain(void)
{
	struct ha_act a;

	while (ha_sup_next(&sup, &a)) {
		char *line = did[n_did % 64];

		switch (a.kind) {
		case HA_ACT_START:
			snprintf(line, 64, "start %s", cfg_ha_part_name(a.part));
			pid_of_start[a.part] = ++next_pid;
			ha_sup_spawned(&sup, a.part, next_pid, now);
			break;
		case HA_ACT_ADOPT:
			snprintf(line, 64, "adopt %d", a.pid);
			break;
		case HA_ACT_SIGNAL:
			snprintf(line, 64, "kill %d %d", a.sig, a.pid);
			break;
		case HA_ACT_READY:
			snprintf(line, 64, "ready");
			break;
		case HA_ACT_LOG:
			continue;
		}
		n_did++;
	}
}

static bool
done(const char *what)
{
	unsigned int i;

	for (i = 0; i < n_did; i++)
		if (strcmp(did[i], what) == 0)
			return true;
	return false;
}

/* The index of what in did, or -1. */
static int
when(const char *what)
{
	unsigned int i;

	for (i = 0; i < n_did; i++)
		if (strcmp(did[i], what) == 0)
			return (int)i;
	return -1;
}

/* part's heartbeat: its pid, ready, age_ms old. */
static void
beat(unsigned int part, uint32_t state, uint64_t age_ms)
{
	struct ha_obs o = { .present = true, .pid = sup.p[part].pid,
			    .alive = true, .state = state, .age_ms = age_ms };

	ha_sup_observe(&sup, part, &o, now);
	drain();
}

static void
step(void)
{
	ha_sup_step(&sup, now);
	drain();
}

static void
nothing_there(void)
{
	struct ha_obs o = { 0 };
	unsigned int i;

	for (i = 0; i < HA_PARTS; i++)
		ha_sup_observe(&sup, i, &o, now);
	drain();
}

static int
setup(void **state)
{
	(void)state;
	conf_default();
	now = 1000000;
	next_pid = 1000;
	n_did = 0;
	memset(pid_of_start, 0, sizeof(pid_of_start));
	return 0;
}

/* Everything up from scratch: forwarder and healthd first, the
 * classifier once the forwarder's heartbeat says ready. */
static void
bring_up(void)
{
	ha_sup_init(&sup, &cfg);
	nothing_there();
	step();
	beat(FWD, HALB_HB_READY, 5);
	beat(HLD, HALB_HB_READY, 5);
	now += 20;
	step();
	beat(CLS, HALB_HB_READY, 5);
	now += 20;
	step();
}

static void
test_start_order(void **state)
{
	(void)state;
	ha_sup_init(&sup, &cfg);
	nothing_there();
	step();
	assert_true(done("start forwarder"));
	assert_true(done("start healthd"));
	assert_false(done("start classifier"));
	/* The forwarder's heartbeat file is still its predecessor's: no
	 * start of the classifier on it. */
	{
		struct ha_obs o = { .present = true, .pid = 4,
				    .alive = false, .state = HALB_HB_READY };

		ha_sup_observe(&sup, FWD, &o, now);
	}
	now += 20;
	step();
	assert_false(done("start classifier"));
	/* Starting is not ready. */
	beat(FWD, HALB_HB_STARTING, 3);
	step();
	assert_false(done("start classifier"));
	assert_int_equal(sup.p[FWD].st, HA_ST_STARTING);
	beat(FWD, HALB_HB_READY, 3);
	assert_int_equal(sup.p[FWD].st, HA_ST_UP);
	step();
	assert_true(done("start classifier"));
	assert_false(done("ready"));
	beat(CLS, HALB_HB_READY, 3);
	beat(HLD, HALB_HB_READY, 3);
	step();
	assert_true(done("ready"));
	assert_int_equal(sup.p[CLS].restarts, 0);
}

static void
test_disabled_part(void **state)
{
	(void)state;
	cfg.parts[HLD].enabled = false;
	bring_up();
	assert_false(done("start healthd"));
	assert_int_equal(sup.p[HLD].st, HA_ST_DISABLED);
	assert_true(done("ready"));
}

/* A SIGSTOPped classifier: alive, its heartbeat ages; failed once it is
 * older than the timeout, killed, restarted after the back-off. */
static void
test_hung(void **state)
{
	char kill9[32];
	int old;

	(void)state;
	bring_up();
	old = sup.p[CLS].pid;
	now += 200;
	beat(CLS, HALB_HB_READY, 240);
	assert_int_equal(sup.p[CLS].st, HA_ST_UP);
	now += 20;
	beat(CLS, HALB_HB_READY, 260);
	snprintf(kill9, sizeof(kill9), "kill 9 %d", old);
	assert_true(done(kill9));
	assert_int_equal(sup.p[CLS].st, HA_ST_STOPPING);
	assert_non_null(strstr(sup.p[CLS].last_why, "hung"));
	assert_int_equal(sup.p[CLS].failures, 1);
	/* The forwarder is not touched. */
	assert_int_equal(sup.p[FWD].st, HA_ST_UP);
	ha_sup_exited(&sup, CLS, old, "killed by signal 9", now);
	drain();
	assert_int_equal(sup.p[CLS].st, HA_ST_BACKOFF);
	now += 99;
	step();
	assert_int_equal(sup.p[CLS].st, HA_ST_BACKOFF);
	now += 1;
	step();
	assert_int_equal(sup.p[CLS].st, HA_ST_STARTING);
	assert_int_equal(sup.p[CLS].restarts, 1);
	now += 700;
	beat(CLS, HALB_HB_READY, 2);
	assert_int_equal(sup.p[CLS].st, HA_ST_UP);
	assert_int_equal(sup.p[CLS].last_recovery_ms, 800);
}

/* A forwarder that withholds its beat says why: the reason has it. */
static void
test_hung_note(void **state)
{
	struct ha_obs o = { .present = true, .alive = true,
			    .state = HALB_HB_READY, .age_ms = 300 };

	(void)state;
	bring_up();
	o.pid = sup.p[FWD].pid;
	snprintf(o.note, sizeof(o.note), "worker 1 stalled for 320 ms");
	ha_sup_observe(&sup, FWD, &o, now);
	drain();
	assert_string_equal(sup.p[FWD].last_why,
			    "hung: no heartbeat for 300 ms (timeout 250 ms): worker 1 stalled for 320 ms");
}

/* A heartbeat of another process (a predecessor, a stranger) never
 * speaks for ours; a stopped or stale one of a part that is starting
 * does not make it ready. */
static void
test_other_pid_ignored(void **state)
{
	struct ha_obs o = { .present = true, .pid = 99, .alive = true,
			    .state = HALB_HB_READY, .age_ms = 100000 };

	(void)state;
	bring_up();
	ha_sup_observe(&sup, CLS, &o, now);
	drain();
	assert_int_equal(sup.p[CLS].st, HA_ST_UP);
}

/* An exit is a failure at once; the delay doubles per failure in the
 * window up to backoff_max_ms. */
static void
test_backoff_growth(void **state)
{
	static const uint64_t want[] = { 100, 200, 400, 800, 1000, 1000 };
	unsigned int k;

	(void)state;
	cfg.parts[CLS].max_failures = 10;
	bring_up();
	for (k = 0; k < 6; k++) {
		ha_sup_exited(&sup, CLS, sup.p[CLS].pid, "exited with status 1",
			      now);
		drain();
		assert_int_equal(sup.p[CLS].st, HA_ST_BACKOFF);
		assert_int_equal(sup.p[CLS].until_ms - now, want[k]);
		now = sup.p[CLS].until_ms;
		step();
		assert_int_equal(sup.p[CLS].st, HA_ST_STARTING);
		beat(CLS, HALB_HB_READY, 1);
		assert_int_equal(sup.p[CLS].st, HA_ST_UP);
	}
	/* Once the failures leave the window, the delay is short again. */
	now += 60001;
	ha_sup_exited(&sup, CLS, sup.p[CLS].pid, "exited with status 1", now);
	drain();
	assert_int_equal(sup.p[CLS].until_ms - now, 100);
}

/* max_failures within the window: given up, loudly, and left down;
 * spread wider than the window they are not. */
static void
test_give_up(void **state)
{
	struct ha_act a;
	unsigned int k;
	bool loud = false;

	(void)state;
	cfg.parts[CLS].max_failures = 3;
	cfg.parts[CLS].window_ms = 10000;
	bring_up();
	for (k = 0; k < 3; k++) {
		ha_sup_exited(&sup, CLS, sup.p[CLS].pid, "exited with status 1",
			      now);
		if (k < 2) {
			drain();
			now = sup.p[CLS].until_ms;
			step();
			beat(CLS, HALB_HB_READY, 1);
		}
	}
	while (ha_sup_next(&sup, &a))
		if (a.kind == HA_ACT_LOG && a.level == 3 &&
		    strstr(a.why, "given up after 3 failures") != NULL)
			loud = true;
	assert_true(loud);
	assert_int_equal(sup.p[CLS].st, HA_ST_GIVEN_UP);
	now += 100000;
	step();
	assert_int_equal(sup.p[CLS].st, HA_ST_GIVEN_UP);
	assert_int_equal(sup.p[FWD].st, HA_ST_UP);

	/* The same three failures, 6 s apart: never three in 10 s. */
	setup(NULL);
	cfg.parts[CLS].max_failures = 3;
	cfg.parts[CLS].window_ms = 10000;
	bring_up();
	for (k = 0; k < 5; k++) {
		ha_sup_exited(&sup, CLS, sup.p[CLS].pid, "exited with status 1",
			      now);
		drain();
		assert_int_equal(sup.p[CLS].st, HA_ST_BACKOFF);
		now += 6000;
		step();
		beat(CLS, HALB_HB_READY, 1);
		assert_int_equal(sup.p[CLS].st, HA_ST_UP);
	}
}

/* The forwarder dies: the classifier (in its memory) is killed without
 * counting a failure, the forwarder starts only once the classifier is
 * gone, and the classifier only once the new forwarder is ready. */
static void
test_forwarder_takes_classifier(void **state)
{
	char kill9[32];
	int fwd, cls;

	(void)state;
	bring_up();
	fwd = sup.p[FWD].pid;
	cls = sup.p[CLS].pid;
	n_did = 0;
	ha_sup_exited(&sup, FWD, fwd, "killed by signal 9", now);
	drain();
	snprintf(kill9, sizeof(kill9), "kill 9 %d", cls);
	assert_true(done(kill9));
	assert_int_equal(sup.p[CLS].st, HA_ST_STOPPING);
	assert_int_equal(sup.p[FWD].st, HA_ST_BACKOFF);
	now += 100;
	step();
	/* Not while the old classifier still maps the old memory. */
	assert_false(done("start forwarder"));
	ha_sup_exited(&sup, CLS, cls, "killed by signal 9", now);
	drain();
	assert_int_equal(sup.p[CLS].st, HA_ST_WAITING);
	assert_int_equal(sup.p[CLS].failures, 0);
	step();
	assert_true(done("start forwarder"));
	assert_false(done("start classifier"));
	now += 1500;
	beat(FWD, HALB_HB_READY, 3);
	step();
	assert_true(done("start classifier"));
	assert_true(when("start forwarder") < when("start classifier"));
	beat(CLS, HALB_HB_READY, 3);
	assert_int_equal(sup.p[CLS].st, HA_ST_UP);
	assert_int_equal(sup.p[FWD].restarts, 1);
	assert_int_equal(sup.p[CLS].restarts, 1);
	assert_int_equal(sup.p[HLD].restarts, 0);
	/* Its outage counts from the forwarder's failure. */
	assert_int_equal(sup.p[CLS].last_recovery_ms, 1600);
}

/* A forwarder that never says ready is a failure after
 * start_timeout_ms. */
static void
test_start_timeout(void **state)
{
	char kill9[32];

	(void)state;
	ha_sup_init(&sup, &cfg);
	nothing_there();
	step();
	beat(FWD, HALB_HB_STARTING, 1);
	now += 4999;
	step();
	assert_int_equal(sup.p[FWD].st, HA_ST_STARTING);
	now += 1;
	step();
	snprintf(kill9, sizeof(kill9), "kill 9 %d", pid_of_start[FWD]);
	assert_true(done(kill9));
	assert_non_null(strstr(sup.p[FWD].last_why, "not ready within 5000 ms"));
}

/* A restarted had: every part's heartbeat names a live process, which
 * it adopts instead of starting anew; a hung one is adopted and killed,
 * a dead one started. */
static void
test_adopt(void **state)
{
	struct ha_obs fwd = { .present = true, .pid = 501, .alive = true,
			      .state = HALB_HB_READY, .age_ms = 4 };
	struct ha_obs cls = { .present = true, .pid = 502, .alive = true,
			      .state = HALB_HB_READY, .age_ms = 900 };
	struct ha_obs hld = { .present = true, .pid = 503, .alive = false,
			      .state = HALB_HB_READY, .age_ms = 60000 };

	(void)state;
	ha_sup_init(&sup, &cfg);
	ha_sup_observe(&sup, FWD, &fwd, now);
	ha_sup_observe(&sup, CLS, &cls, now);
	ha_sup_observe(&sup, HLD, &hld, now);
	drain();
	step();
	assert_true(done("adopt 501"));
	assert_true(done("adopt 502"));
	assert_false(done("adopt 503"));
	assert_false(done("start forwarder"));
	assert_int_equal(sup.p[FWD].st, HA_ST_UP);
	assert_int_equal(sup.p[FWD].restarts, 0);
	/* The classifier's heartbeat is 900 ms old: hung. */
	assert_true(done("kill 9 502"));
	assert_true(done("start healthd"));
	assert_false(done("start classifier"));
	ha_sup_exited(&sup, CLS, 502, "exited", now);
	drain();
	now = sup.p[CLS].until_ms;
	step();
	assert_true(done("start classifier"));

	/* All three well: nothing is started, had is ready at once. */
	setup(NULL);
	cls.age_ms = 3;
	hld.alive = true;
	hld.age_ms = 50;
	ha_sup_init(&sup, &cfg);
	ha_sup_observe(&sup, FWD, &fwd, now);
	ha_sup_observe(&sup, CLS, &cls, now);
	ha_sup_observe(&sup, HLD, &hld, now);
	drain();
	step();
	assert_false(done("start forwarder"));
	assert_false(done("start classifier"));
	assert_false(done("start healthd"));
	assert_true(done("ready"));
	/* An adopted part is judged like its own. */
	now += 300;
	beat(FWD, HALB_HB_READY, 300);
	assert_true(done("kill 9 501"));
}

/* An adopted classifier whose forwarder is gone: killed, without a
 * failure, before the forwarder starts. */
static void
test_adopt_orphan(void **state)
{
	struct ha_obs fwd = { .present = true, .pid = 501, .alive = false,
			      .state = HALB_HB_READY, .age_ms = 4000 };
	struct ha_obs cls = { .present = true, .pid = 502, .alive = true,
			      .state = HALB_HB_READY, .age_ms = 3 };

	(void)state;
	ha_sup_init(&sup, &cfg);
	ha_sup_observe(&sup, FWD, &fwd, now);
	ha_sup_observe(&sup, CLS, &cls, now);
	drain();
	step();
	assert_true(done("adopt 502"));
	assert_true(done("kill 9 502"));
	assert_false(done("start forwarder"));
	ha_sup_exited(&sup, CLS, 502, "exited", now);
	drain();
	step();
	assert_true(done("start forwarder"));
	assert_int_equal(sup.p[CLS].failures, 0);
}

/* SIGTERM: one part at a time, last started first, SIGKILL after the
 * stop timeout; done once all are gone. */
static void
test_stop_order(void **state)
{
	char term_cls[32], term_fwd[32], term_hld[32], kill_fwd[32];
	int fwd, cls, hld;

	(void)state;
	bring_up();
	fwd = sup.p[FWD].pid;
	cls = sup.p[CLS].pid;
	hld = sup.p[HLD].pid;
	snprintf(term_cls, sizeof(term_cls), "kill 15 %d", cls);
	snprintf(term_fwd, sizeof(term_fwd), "kill 15 %d", fwd);
	snprintf(term_hld, sizeof(term_hld), "kill 15 %d", hld);
	snprintf(kill_fwd, sizeof(kill_fwd), "kill 9 %d", fwd);
	n_did = 0;
	ha_sup_stop(&sup, now);
	drain();
	/* Start order was forwarder, classifier, healthd. */
	assert_true(done(term_hld));
	assert_false(done(term_cls));
	assert_false(ha_sup_done(&sup));
	ha_sup_exited(&sup, HLD, hld, "exited with status 0", now);
	step();
	assert_true(done(term_cls));
	assert_false(done(term_fwd));
	ha_sup_exited(&sup, CLS, cls, "exited with status 0", now);
	step();
	assert_true(done(term_fwd));
	now += 1999;
	step();
	assert_false(done(kill_fwd));
	now += 1;
	step();
	assert_true(done(kill_fwd));
	/* Nothing restarts while stopping. */
	assert_false(done("start classifier"));
	ha_sup_exited(&sup, FWD, fwd, "killed by signal 9", now);
	step();
	assert_true(ha_sup_done(&sup));
	assert_int_equal(sup.p[FWD].st, HA_ST_STOPPED);
	assert_int_equal(sup.p[FWD].failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_start_order, setup),
		cmocka_unit_test_setup(test_disabled_part, setup),
		cmocka_unit_test_setup(test_hung, setup),
		cmocka_unit_test_setup(test_hung_note, setup),
		cmocka_unit_test_setup(test_other_pid_ignored, setup),
		cmocka_unit_test_setup(test_backoff_growth, setup),
		cmocka_unit_test_setup(test_give_up, setup),
		cmocka_unit_test_setup(test_forwarder_takes_classifier, setup),
		cmocka_unit_test_setup(test_start_timeout, setup),
		cmocka_unit_test_setup(test_adopt, setup),
		cmocka_unit_test_setup(test_adopt_orphan, setup),
		cmocka_unit_test_setup(test_stop_order, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
