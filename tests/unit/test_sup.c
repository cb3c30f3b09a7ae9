/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-had's supervisor (ha/sup.c) on a simulated clock: the start order
 * and what each part waits for, hung and dead parts, back-off growth,
 * giving up after N failures in a window, a forwarder failure taking
 * the classifier with it, adopting running parts, and the stop order;
 * routes: VIPs announced only once forwarder, classifier and sessiond
 * are up (and BIRD takes orders), withdrawn before a failed forwarder's
 * restart, per VIP when none of its backends is up, told again to a new
 * BIRD; the drain: withdraw, wait for quiet traffic and replicated
 * sessions (or the timeout), then the stop.
 * The "daemon" here is a few lines that carry out the actions into a
 * log the tests read.
 */
#include <errno.h>
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
#include "looks.h"
#include "sup.h"

enum { FWD = HA_PART_FORWARDER, CLS = HA_PART_CLASSIFIER,
       HLD = HA_PART_HEALTHD, SES = HA_PART_SESSIOND, BRD = HA_PART_BIRD };

static struct cfg_ha cfg;
static struct ha_sup sup;
static uint64_t now;
static int next_pid;
/* What the daemon did, one action a line: "start classifier",
 * "kill 9 1001", "adopt 77", "ready". */
static char did[64][64];
static unsigned int n_did;
static int pid_of_start[HA_PARTS];
static int route_rc;  /* what BIRD answers to a route order */

static void
conf_default(void)
{
	unsigned int i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.poll_ms = 20;
	for (i = 0; i < HA_PARTS; i++) {
		struct cfg_ha_part *p = &cfg.parts[i];

		/* The first three; the route tests enable sessiond and
		 * BIRD (conf_routes). */
		p->enabled = i == FWD || i == CLS || i == HLD;
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
	cfg.drain_timeout_ms = 5000;
	cfg.drain_quiet_ms = 300;
	cfg.drain_idle_pps = 20;
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
		case HA_ACT_ROUTE:
			snprintf(line, 64, "%s %u", a.on ? "announce" : "withdraw",
				 a.vip);
			ha_sup_routed(&sup, a.vip, a.on, route_rc, now);
			break;
		case HA_ACT_DRAINED:
			snprintf(line, 64, "drained");
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
	route_rc = 0;
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

/* ---- routes and drain ---- */

/* The five parts as ha-list.h has them, two VIPs. */
static void
conf_routes(void)
{
	cfg.parts[SES].enabled = true;
	cfg.parts[SES].timeout_ms = 1000;
	cfg.parts[SES].after = HA_BIT(FORWARDER);
	cfg.parts[SES].bound = HA_BIT(FORWARDER);
	cfg.parts[BRD].enabled = true;
	cfg.parts[BRD].timeout_ms = 3000;
	cfg.parts[BRD].after = HA_BIT(FORWARDER);
}

/* Everything up with routes: forwarder, healthd, then classifier,
 * sessiond and BIRD; did[] emptied before each wave so that the checks
 * see what the last one did. */
static void
bring_up_routes(void)
{
	conf_routes();
	ha_sup_init(&sup, &cfg);
	ha_sup_routes(&sup, 2);
	nothing_there();
	step();
	beat(FWD, HALB_HB_READY, 5);
	beat(HLD, HALB_HB_READY, 5);
	now += 20;
	step();
	beat(BRD, HALB_HB_READY, 0);
	beat(CLS, HALB_HB_READY, 5);
	beat(SES, HALB_HB_READY, 5);
	now += 20;
	step();
}

/* Nothing is announced before forwarder, classifier and sessiond are up
 * and BIRD takes orders; then every VIP. */
static void
test_announce_gate(void **state)
{
	(void)state;
	conf_routes();
	ha_sup_init(&sup, &cfg);
	ha_sup_routes(&sup, 2);
	nothing_there();
	step();
	beat(FWD, HALB_HB_READY, 5);
	beat(HLD, HALB_HB_READY, 5);
	now += 20;
	step();
	assert_true(done("start classifier"));
	assert_true(done("start sessiond"));
	assert_true(done("start bird"));
	/* BIRD up, classifier up, sessiond still loading its replica. */
	beat(BRD, HALB_HB_READY, 0);
	beat(CLS, HALB_HB_READY, 5);
	beat(SES, HALB_HB_STARTING, 5);
	now += 20;
	step();
	assert_false(done("announce 0"));
	assert_false(done("withdraw 0"));  /* a new BIRD has none announced */
	{
		char why[HA_WHY_LEN];

		ha_sup_gate_why(&sup, why, sizeof(why));
		assert_string_equal(why, "waits for sessiond");
	}
	beat(SES, HALB_HB_READY, 5);
	now += 20;
	step();
	assert_true(done("announce 0"));
	assert_true(done("announce 1"));
	assert_true(sup.vip[0].known && sup.vip[0].applied);
	/* Said once. */
	n_did = 0;
	now += 20;
	step();
	assert_int_equal(n_did, 0);
}

/* Ready parts but no BIRD yet: announced once BIRD is up. */
static void
test_announce_waits_for_bird(void **state)
{
	(void)state;
	conf_routes();
	ha_sup_init(&sup, &cfg);
	ha_sup_routes(&sup, 1);
	nothing_there();
	step();
	beat(FWD, HALB_HB_READY, 5);
	beat(HLD, HALB_HB_READY, 5);
	now += 20;
	step();
	beat(CLS, HALB_HB_READY, 5);
	beat(SES, HALB_HB_READY, 5);
	beat(BRD, HALB_HB_STARTING, 0);
	now += 20;
	step();
	assert_false(done("announce 0"));
	beat(BRD, HALB_HB_READY, 0);
	step();
	assert_true(done("announce 0"));
}

/* A failed forwarder: its VIPs are withdrawn before it is started again,
 * and announced once forwarder, classifier and sessiond are back. */
static void
test_withdraw_before_restart(void **state)
{
	int fwd, cls, ses, w0, w1, st;

	(void)state;
	bring_up_routes();
	assert_true(done("announce 1"));
	fwd = sup.p[FWD].pid;
	cls = sup.p[CLS].pid;
	ses = sup.p[SES].pid;
	n_did = 0;
	ha_sup_exited(&sup, FWD, fwd, "was killed by signal 9", now);
	drain();
	step();
	w0 = when("withdraw 0");
	w1 = when("withdraw 1");
	assert_true(w0 >= 0 && w1 >= 0);
	/* Classifier and sessiond lived in its memory. */
	ha_sup_exited(&sup, CLS, cls, "was killed by signal 9", now);
	ha_sup_exited(&sup, SES, ses, "was killed by signal 9", now);
	now += 100;
	step();
	st = when("start forwarder");
	assert_true(st > w0 && st > w1);
	assert_false(done("announce 0"));
	beat(FWD, HALB_HB_READY, 5);
	now += 20;
	step();
	beat(CLS, HALB_HB_READY, 5);
	now += 20;
	step();
	assert_false(done("announce 0"));  /* sessiond still to come */
	beat(SES, HALB_HB_READY, 5);
	now += 20;
	step();
	assert_true(when("announce 0") > st);
	assert_true(when("announce 1") > st);
	/* BIRD ran on all along: not restarted. */
	assert_false(done("start bird"));
}

/* A hung forwarder: the withdraw is queued at its detection. */
static void
test_withdraw_on_hang(void **state)
{
	(void)state;
	bring_up_routes();
	n_did = 0;
	now += 300;
	beat(FWD, HALB_HB_READY, 300);
	step();
	assert_true(done("withdraw 0"));
	assert_true(when("withdraw 0") < when("start forwarder") ||
		    !done("start forwarder"));
}

/* One VIP without a backend up is withdrawn alone, announced again when
 * one is back; one without backends while the gate is shut stays out
 * when the gate opens. */
static void
test_vip_serving(void **state)
{
	(void)state;
	bring_up_routes();
	n_did = 0;
	ha_sup_vip_serving(&sup, 1, false, now);
	drain();
	assert_true(done("withdraw 1"));
	assert_false(done("withdraw 0"));
	n_did = 0;
	ha_sup_vip_serving(&sup, 1, false, now);  /* no change: nothing */
	drain();
	step();
	assert_int_equal(n_did, 0);
	ha_sup_vip_serving(&sup, 1, true, now);
	drain();
	assert_true(done("announce 1"));
	assert_false(done("announce 0"));

	/* From scratch with VIP 0 down: only VIP 1 announced. */
	setup(NULL);
	conf_routes();
	ha_sup_init(&sup, &cfg);
	ha_sup_routes(&sup, 2);
	ha_sup_vip_serving(&sup, 0, false, now);
	nothing_there();
	step();
	beat(FWD, HALB_HB_READY, 5);
	beat(HLD, HALB_HB_READY, 5);
	now += 20;
	step();
	beat(BRD, HALB_HB_READY, 0);
	beat(CLS, HALB_HB_READY, 5);
	beat(SES, HALB_HB_READY, 5);
	now += 20;
	step();
	assert_true(done("announce 1"));
	assert_false(done("announce 0"));
	assert_false(sup.vip[0].want);
}

/* BIRD restarted: what it announces is told again; an order BIRD refuses
 * is tried again a second later. */
static void
test_bird_restart(void **state)
{
	int bird;

	(void)state;
	bring_up_routes();
	bird = sup.p[BRD].pid;
	n_did = 0;
	ha_sup_exited(&sup, BRD, bird, "was killed by signal 9", now);
	drain();
	assert_false(sup.vip[0].known);
	step();
	assert_false(done("announce 0"));  /* no BIRD to tell */
	now += 100;
	step();
	assert_true(done("start bird"));
	beat(BRD, HALB_HB_READY, 0);
	step();
	assert_true(done("announce 0"));
	assert_true(done("announce 1"));
	/* Refused: again after a second, not before. */
	n_did = 0;
	route_rc = -ECONNREFUSED;
	ha_sup_vip_serving(&sup, 0, false, now);
	drain();
	assert_true(done("withdraw 0"));
	assert_false(sup.vip[0].known);
	n_did = 0;
	now += 500;
	step();
	assert_false(done("withdraw 0"));
	route_rc = 0;
	now += 500;
	step();
	assert_true(done("withdraw 0"));
	assert_true(sup.vip[0].known && !sup.vip[0].applied);
}

/* The drain: withdraw, then quiet traffic for drain_quiet_ms after the
 * withdraw and every session replicated, then the stop (BIRD first). */
static void
test_drain(void **state)
{
	char term_bird[32];

	(void)state;
	bring_up_routes();
	snprintf(term_bird, sizeof(term_bird), "kill 15 %d", sup.p[BRD].pid);
	ha_sup_traffic(&sup, 5, now);   /* quiet before: does not count */
	n_did = 0;
	ha_sup_drain(&sup, now);
	drain();
	assert_true(done("withdraw 0"));
	assert_true(done("withdraw 1"));
	assert_int_equal(sup.drain, HA_DRAIN_WAITING);
	/* Traffic still comes: no stop. */
	now += 100;
	ha_sup_traffic(&sup, 5000, now);
	step();
	now += 100;
	ha_sup_traffic(&sup, 3, now);
	step();
	now += 299;
	ha_sup_traffic(&sup, 0, now);
	step();
	assert_false(done("drained"));
	now += 1;
	step();
	/* Quiet, but the sessions are not all in the peers' replicas. */
	assert_false(done("drained"));
	ha_sup_replicated(&sup, true, now);
	now += 20;
	step();
	assert_true(done("drained"));
	assert_true(when(term_bird) > when("drained"));
	assert_true(sup.stopping);
	/* Not announced again while stopping. */
	assert_false(done("announce 0"));
	assert_true(strstr(sup.drain_why, "drained in") != NULL);
}

/* The drain's bound: traffic that never stops, then the stop anyway; a
 * drain without routes is a stop at once; resume starts again. */
static void
test_drain_timeout(void **state)
{
	(void)state;
	bring_up_routes();
	ha_sup_replicated(&sup, true, now);
	n_did = 0;
	ha_sup_drain(&sup, now);
	drain();
	now += 4990;
	ha_sup_traffic(&sup, 1000, now);
	step();
	assert_false(done("drained"));
	now += 10;
	step();
	assert_true(done("drained"));
	assert_true(strstr(sup.drain_why, "traffic still arrives") != NULL);

	setup(NULL);
	bring_up();
	n_did = 0;
	ha_sup_drain(&sup, now);
	drain();
	assert_true(done("drained"));
	assert_true(sup.stopping);
	/* Stop everything, then resume: started again in order. */
	ha_sup_exited(&sup, HLD, sup.p[HLD].pid, "exited with status 0", now);
	step();
	ha_sup_exited(&sup, CLS, sup.p[CLS].pid, "exited with status 0", now);
	step();
	ha_sup_exited(&sup, FWD, sup.p[FWD].pid, "exited with status 0", now);
	step();
	assert_true(ha_sup_done(&sup));
	n_did = 0;
	ha_sup_resume(&sup, now);
	step();
	assert_true(done("start forwarder"));
	assert_false(done("start classifier"));
	assert_false(sup.stopping);
}

/* sessiond's status lines as halb-had reads them (ha/looks.c). */
static void
test_parse_peer(void **state)
{
	struct ha_peer p;

	(void)state;
	assert_int_equal(ha_parse_peer("peer lb2 198.18.3.2:7303: alive synced, last heard 180 ms ago, backlog 0, in flight 2, sent 640 (resent 2), received 2410, backlog dropped 0, dumps sent 1 received 1", &p), 0);
	assert_string_equal(p.name, "lb2");
	assert_true(p.alive && p.synced && p.heard);
	assert_int_equal(p.heard_ago_ms, 180);
	assert_int_equal(p.backlog, 0);
	assert_int_equal(p.in_flight, 2);
	assert_int_equal(ha_parse_peer("peer lb3 [fd00:68:3::3]:7303: dead, never heard, backlog 12, in flight 0, sent 0", &p), 0);
	assert_false(p.alive || p.synced || p.heard);
	assert_int_equal(p.backlog, 12);
	assert_int_equal(ha_parse_peer("peer lb2 198.18.3.2:7303: alive, last heard 3 ms ago, backlog 1, in flight 0, sent 1", &p), 0);
	assert_true(p.alive && !p.synced);
	assert_int_equal(ha_parse_peer("datagrams 812, refused 0", &p), -EINVAL);
	assert_int_equal(ha_parse_peer("peer lb2 x: sleepy, backlog 0, in flight 0", &p), -EINVAL);
	assert_int_equal(ha_parse_peer("peer lb2 x: alive synced, last heard 3 ms ago", &p), -EINVAL);
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
		cmocka_unit_test_setup(test_announce_gate, setup),
		cmocka_unit_test_setup(test_announce_waits_for_bird, setup),
		cmocka_unit_test_setup(test_withdraw_before_restart, setup),
		cmocka_unit_test_setup(test_withdraw_on_hang, setup),
		cmocka_unit_test_setup(test_vip_serving, setup),
		cmocka_unit_test_setup(test_bird_restart, setup),
		cmocka_unit_test_setup(test_drain, setup),
		cmocka_unit_test_setup(test_drain_timeout, setup),
		cmocka_unit_test(test_parse_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
