/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-had's supervisor (ha/sup.h): every part's state, moved only by
 * the inputs below, with the actions that follow queued for the daemon.
 * No system call and no clock of its own: the time is an argument.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "halb/cfg.h"
#include "halb/hb.h"
#include "sup.h"

#define LOG_ERR_ 3
#define LOG_WARNING_ 4
#define LOG_NOTICE_ 5
#define LOG_INFO_ 6

static const char *const state_names[] = {
	[HA_ST_INIT] = "init",
	[HA_ST_DISABLED] = "disabled",
	[HA_ST_WAITING] = "down",
	[HA_ST_STARTING] = "starting",
	[HA_ST_UP] = "up",
	[HA_ST_STOPPING] = "stopping",
	[HA_ST_BACKOFF] = "restarting",
	[HA_ST_GIVEN_UP] = "given-up",
	[HA_ST_STOPPED] = "stopped",
};

const char *
ha_state_name(enum ha_state st)
{
	return (unsigned int)st < sizeof(state_names) / sizeof(state_names[0]) ?
		state_names[st] : "?";
}

static struct ha_act *
push(struct ha_sup *s, enum ha_act_kind kind, unsigned int part)
{
	struct ha_act *a;

	if (s->n_acts == HA_MAX_ACTS) {
		s->acts_lost++;
		return NULL;
	}
	a = &s->acts[(s->act_head + s->n_acts++) % HA_MAX_ACTS];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->part = part;
	return a;
}

static void __attribute__((format(printf, 4, 5)))
say(struct ha_sup *s, unsigned int part, int level, const char *fmt, ...)
{
	struct ha_act *a = push(s, HA_ACT_LOG, part);
	va_list ap;

	if (a == NULL)
		return;
	a->level = level;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
}

bool
ha_sup_next(struct ha_sup *s, struct ha_act *out)
{
	if (s->n_acts == 0)
		return false;
	*out = s->acts[s->act_head];
	s->act_head = (s->act_head + 1) % HA_MAX_ACTS;
	s->n_acts--;
	return true;
}

static void
set_state(struct ha_part_st *p, enum ha_state st, uint64_t now)
{
	p->st = st;
	p->since_ms = now;
}

/* A process of ours exists (or is being spawned). */
static bool
live(const struct ha_part_st *p)
{
	return p->st == HA_ST_STARTING || p->st == HA_ST_UP ||
	       p->st == HA_ST_STOPPING;
}

static bool
enabled(const struct ha_sup *s, unsigned int i)
{
	return s->cfg->parts[i].enabled;
}

void
ha_sup_init(struct ha_sup *s, const struct cfg_ha *cfg)
{
	uint32_t done = 0;
	unsigned int i;
	bool moved = true;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	for (i = 0; i < HA_PARTS; i++)
		s->p[i].st = cfg->parts[i].enabled ? HA_ST_INIT :
			HA_ST_DISABLED;
	/* Table order, each part once all it waits for is placed (the
	 * configuration check refused cycles; a part left over is placed
	 * last all the same). */
	while (moved) {
		moved = false;
		for (i = 0; i < HA_PARTS; i++)
			if (!(done & (1u << i)) &&
			    (cfg->parts[i].after & ~done) == 0) {
				done |= 1u << i;
				s->order[s->n_order++] = (uint8_t)i;
				moved = true;
			}
	}
	for (i = 0; i < HA_PARTS; i++)
		if (!(done & (1u << i)))
			s->order[s->n_order++] = (uint8_t)i;
}

unsigned int
ha_sup_recent_failures(const struct ha_sup *s, unsigned int part,
		       uint64_t now_ms)
{
	const struct ha_part_st *p = &s->p[part];
	uint32_t w = s->cfg->parts[part].window_ms;
	unsigned int i, n = 0;

	for (i = 0; i < p->n_fail; i++)
		if (now_ms - p->fail_ms[i] < w)
			n++;
	return n;
}

static void
signal_part(struct ha_sup *s, unsigned int i, int sig, const char *why,
	    uint64_t now)
{
	struct ha_part_st *p = &s->p[i];
	struct ha_act *a = push(s, HA_ACT_SIGNAL, i);

	if (a != NULL) {
		a->pid = p->pid;
		a->sig = sig;
		snprintf(a->why, sizeof(a->why), "%s", why);
	}
	if (p->st != HA_ST_STOPPING)
		set_state(p, HA_ST_STOPPING, now);
	p->killed = sig == SIGKILL;
	p->until_ms = now + s->cfg->parts[i].stop_timeout_ms;
}

/* After a failure, once no process of it is left: back-off, or give up. */
static void
after_failure(struct ha_sup *s, unsigned int i, uint64_t now)
{
	const struct cfg_ha_part *c = &s->cfg->parts[i];
	struct ha_part_st *p = &s->p[i];
	unsigned int n = ha_sup_recent_failures(s, i, now), k;
	uint64_t delay = c->backoff_ms;

	p->failing = false;
	if (n >= c->max_failures) {
		set_state(p, HA_ST_GIVEN_UP, now);
		say(s, i, LOG_ERR_,
		    "given up after %u failures within %u s (last: %s): left down until halb-had restarts",
		    n, c->window_ms / 1000, p->last_why);
		return;
	}
	for (k = 1; k < n && delay < c->backoff_max_ms; k++)
		delay *= 2;
	if (delay > c->backoff_max_ms)
		delay = c->backoff_max_ms;
	set_state(p, HA_ST_BACKOFF, now);
	p->until_ms = now + delay;
	say(s, i, LOG_NOTICE_, "restarting in %llu ms (failure %u of %u allowed within %u s)",
	    (unsigned long long)delay, n, c->max_failures, c->window_ms / 1000);
}

/* BIRD came or went: what it announces is known again, or no more. */
static void
bird_changed(struct ha_sup *s, unsigned int i, bool fresh)
{
	unsigned int v;

	if (i != HA_PART_BIRD)
		return;
	for (v = 0; v < s->n_vips; v++) {
		/* A BIRD we started read our file: every VIP disabled. */
		s->vip[v].known = fresh;
		s->vip[v].applied = false;
		s->vip[v].pending = false;
		s->vip[v].retry_ms = 0;
	}
}

/* Kills what lives in part i's memory: it cannot outlive it. */
static void
stop_bound(struct ha_sup *s, unsigned int i, const char *why, uint64_t now)
{
	char msg[HA_WHY_LEN];
	unsigned int x;

	for (x = 0; x < HA_PARTS; x++) {
		struct ha_part_st *q = &s->p[x];

		if (!(s->cfg->parts[x].bound & (1u << i)) || !live(q) ||
		    q->pid <= 0 || q->st == HA_ST_STOPPING)
			continue;
		snprintf(msg, sizeof(msg), "%s %s", cfg_ha_part_name(i), why);
		say(s, x, LOG_WARNING_, "stopping pid %d: %s (it lives in its memory)",
		    q->pid, msg);
		q->failing = false;
		/* Its outage starts now too: its recovery is counted from
		 * here, though no failure of its own is. */
		if (q->fail_detect_ms == 0)
			q->fail_detect_ms = now;
		signal_part(s, x, SIGKILL, msg, now);
	}
}

static void
fail(struct ha_sup *s, unsigned int i, const char *why, uint64_t now)
{
	struct ha_part_st *p = &s->p[i];

	p->failures++;
	if (p->n_fail == HA_MAX_FAILURES) {
		memmove(p->fail_ms, p->fail_ms + 1,
			(HA_MAX_FAILURES - 1) * sizeof(p->fail_ms[0]));
		p->n_fail--;
	}
	p->fail_ms[p->n_fail++] = now;
	p->last_fail_ms = now;
	bird_changed(s, i, false);
	snprintf(p->last_why, sizeof(p->last_why), "%s", why);
	if (p->fail_detect_ms == 0)
		p->fail_detect_ms = now;
	stop_bound(s, i, "failed", now);
	if (p->pid > 0 && (p->st == HA_ST_STARTING || p->st == HA_ST_UP)) {
		say(s, i, LOG_WARNING_, "failed: %s; killing pid %d", why,
		    p->pid);
		p->failing = true;
		signal_part(s, i, SIGKILL, why, now);
		return;
	}
	say(s, i, LOG_WARNING_, "failed: %s", why);
	p->pid = 0;
	after_failure(s, i, now);
}

static void
became_ready(struct ha_sup *s, unsigned int i, uint64_t now)
{
	struct ha_part_st *p = &s->p[i];

	bird_changed(s, i, !p->adopted);
	set_state(p, HA_ST_UP, now);
	p->up_ms = now;
	if (p->fail_detect_ms != 0) {
		p->last_recovery_ms = now - p->fail_detect_ms;
		say(s, i, LOG_NOTICE_, "ready again (pid %d), %llu ms after its failure was detected",
		    p->pid, (unsigned long long)p->last_recovery_ms);
		p->fail_detect_ms = 0;
	} else {
		say(s, i, LOG_INFO_, "ready (pid %d)", p->pid);
	}
}

static void
adopt(struct ha_sup *s, unsigned int i, const struct ha_obs *o, uint64_t now)
{
	struct ha_part_st *p = &s->p[i];
	struct ha_act *a = push(s, HA_ACT_ADOPT, i);

	if (a != NULL)
		a->pid = o->pid;
	p->pid = o->pid;
	p->adopted = true;
	p->starts = 1;
	say(s, i, LOG_NOTICE_, "adopted the running pid %d (heartbeat %s, %llu ms old)",
	    o->pid, o->state == HALB_HB_READY ? "ready" :
	    o->state == HALB_HB_STARTING ? "starting" : "stopping",
	    (unsigned long long)o->age_ms);
	if (o->state == HALB_HB_READY) {
		set_state(p, HA_ST_UP, now);
		p->up_ms = now;
	} else if (o->state == HALB_HB_STARTING) {
		set_state(p, HA_ST_STARTING, now);
		p->until_ms = now + s->cfg->parts[i].start_timeout_ms;
	} else {
		/* On its way out: let it go, then start it again. */
		set_state(p, HA_ST_STOPPING, now);
		p->failing = false;
		p->killed = false;
		p->until_ms = now + s->cfg->parts[i].stop_timeout_ms;
	}
}

void
ha_sup_observe(struct ha_sup *s, unsigned int part, const struct ha_obs *o,
	       uint64_t now_ms)
{
	const struct cfg_ha_part *c;
	struct ha_part_st *p;
	char why[HA_WHY_LEN];
	bool mine;

	if (part >= HA_PARTS || !s->cfg->parts[part].enabled)
		return;
	c = &s->cfg->parts[part];
	p = &s->p[part];
	if (p->st == HA_ST_INIT) {
		if (!s->stopping && o->present && o->alive && o->pid > 0 &&
		    (o->state == HALB_HB_STARTING ||
		     o->state == HALB_HB_READY ||
		     o->state == HALB_HB_STOPPING))
			adopt(s, part, o, now_ms);
		else
			set_state(p, HA_ST_WAITING, now_ms);
	}
	/* Only the file our process writes speaks for it: until a started
	 * part opens its heartbeat, the file is its predecessor's. */
	mine = o->present && p->pid > 0 && o->pid == p->pid;
	if (!mine)
		return;
	p->age_ms = o->age_ms;
	if (p->st == HA_ST_STARTING && o->state == HALB_HB_READY &&
	    o->age_ms <= c->timeout_ms) {
		became_ready(s, part, now_ms);
		return;
	}
	if (p->st == HA_ST_UP && o->state == HALB_HB_READY &&
	    o->age_ms > c->timeout_ms) {
		/* The forwarder names the worker that stalled. */
		snprintf(why, sizeof(why), "hung: no heartbeat for %llu ms (timeout %u ms)%s%.96s",
			 (unsigned long long)o->age_ms, c->timeout_ms,
			 o->note[0] != '\0' ? ": " : "", o->note);
		fail(s, part, why, now_ms);
	}
}

void
ha_sup_exited(struct ha_sup *s, unsigned int part, int pid, const char *how,
	      uint64_t now_ms)
{
	struct ha_part_st *p;

	if (part >= HA_PARTS)
		return;
	p = &s->p[part];
	if (pid <= 0 || pid != p->pid || !live(p))
		return;
	p->pid = 0;
	p->adopted = false;
	bird_changed(s, part, false);
	if (s->stopping) {
		say(s, part, LOG_INFO_, "stopped (pid %d %s)", pid, how);
		set_state(p, HA_ST_STOPPED, now_ms);
		return;
	}
	if (p->st == HA_ST_STOPPING) {
		say(s, part, LOG_INFO_, "pid %d %s", pid, how);
		if (p->failing)
			after_failure(s, part, now_ms);
		else
			set_state(p, HA_ST_WAITING, now_ms);
		return;
	}
	/* STARTING or UP: it went by itself. */
	{
		char why[HA_WHY_LEN];

		snprintf(why, sizeof(why), "pid %d %s", pid, how);
		fail(s, part, why, now_ms);
	}
}

void
ha_sup_spawned(struct ha_sup *s, unsigned int part, int pid, uint64_t now_ms)
{
	struct ha_part_st *p;
	char why[HA_WHY_LEN];

	if (part >= HA_PARTS)
		return;
	p = &s->p[part];
	if (p->st != HA_ST_STARTING || p->pid != 0)
		return;
	if (pid > 0) {
		p->pid = pid;
		say(s, part, LOG_INFO_, "started, pid %d", pid);
		return;
	}
	snprintf(why, sizeof(why), "cannot start: %s", strerror(-pid));
	fail(s, part, why, now_ms);
}

static bool
deps_ready(const struct ha_sup *s, unsigned int i)
{
	unsigned int d;

	for (d = 0; d < HA_PARTS; d++)
		if ((s->cfg->parts[i].after & (1u << d)) && enabled(s, d) &&
		    s->p[d].st != HA_ST_UP)
			return false;
	return true;
}

/* No part bound to i runs: i's memory may be made anew. */
static bool
bound_free(const struct ha_sup *s, unsigned int i)
{
	unsigned int x;

	for (x = 0; x < HA_PARTS; x++)
		if ((s->cfg->parts[x].bound & (1u << i)) && live(&s->p[x]))
			return false;
	return true;
}

static void
start(struct ha_sup *s, unsigned int i, uint64_t now)
{
	struct ha_part_st *p = &s->p[i];

	push(s, HA_ACT_START, i);
	set_state(p, HA_ST_STARTING, now);
	p->pid = 0;
	p->adopted = false;
	p->killed = false;
	p->failing = false;
	p->until_ms = now + s->cfg->parts[i].start_timeout_ms;
	if (p->starts++ > 0)
		p->restarts++;
}

/* A stop that takes too long: SIGKILL, then say so every timeout. */
static void
stop_timer(struct ha_sup *s, unsigned int i, uint64_t now)
{
	struct ha_part_st *p = &s->p[i];
	uint32_t t = s->cfg->parts[i].stop_timeout_ms;

	if (now < p->until_ms || p->pid <= 0)
		return;
	if (!p->killed) {
		say(s, i, LOG_WARNING_, "pid %d did not exit within %u ms: SIGKILL",
		    p->pid, t);
		signal_part(s, i, SIGKILL, "did not exit in time", now);
		return;
	}
	say(s, i, LOG_ERR_, "pid %d still there %u ms after SIGKILL",
	    p->pid, t);
	p->until_ms = now + t;
}

static void
stop_step(struct ha_sup *s, uint64_t now)
{
	unsigned int k, i;
	bool first = true;

	for (k = s->n_order; k-- > 0;) {
		struct ha_part_st *p;

		i = s->order[k];
		p = &s->p[i];
		if (p->st == HA_ST_STOPPING)
			stop_timer(s, i, now);
		if (!live(p)) {
			if (p->st != HA_ST_DISABLED && p->st != HA_ST_STOPPED)
				set_state(p, HA_ST_STOPPED, now);
			continue;
		}
		/* One at a time, last started first. */
		if (!first)
			continue;
		first = false;
		if (p->st != HA_ST_STOPPING && p->pid > 0) {
			say(s, i, LOG_INFO_, "stopping pid %d", p->pid);
			p->failing = false;
			signal_part(s, i, SIGTERM, "halb-had stops", now);
		}
	}
}

/* ---- routes ---- */

void
ha_sup_routes(struct ha_sup *s, unsigned int n_vips)
{
	unsigned int v;

	s->n_vips = n_vips < HA_MAX_VIPS ? n_vips : HA_MAX_VIPS;
	s->gate = 0;
	if (enabled(s, HA_PART_FORWARDER))
		s->gate |= HA_BIT(FORWARDER);
	if (enabled(s, HA_PART_CLASSIFIER))
		s->gate |= HA_BIT(CLASSIFIER);
	if (enabled(s, HA_PART_SESSIOND))
		s->gate |= HA_BIT(SESSIOND);
	for (v = 0; v < s->n_vips; v++)
		s->vip[v] = (struct ha_vip_st){ .serving = true };
}

static bool
gate_open(const struct ha_sup *s)
{
	unsigned int i;

	if (s->stopping || s->drain != HA_DRAIN_NONE)
		return false;
	for (i = 0; i < HA_PARTS; i++)
		if ((s->gate & (1u << i)) && s->p[i].st != HA_ST_UP)
			return false;
	return true;
}

void
ha_sup_gate_why(const struct ha_sup *s, char *buf, size_t len)
{
	size_t n = 0;
	unsigned int i;

	buf[0] = '\0';
	if (s->stopping || s->drain != HA_DRAIN_NONE) {
		snprintf(buf, len, "%s", s->drain != HA_DRAIN_NONE ?
			 "draining" : "stopping");
		return;
	}
	for (i = 0; i < HA_PARTS && n < len; i++)
		if ((s->gate & (1u << i)) && s->p[i].st != HA_ST_UP)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
					      n == 0 ? "waits for " : ", ",
					      cfg_ha_part_name(i));
	if (n == 0)
		snprintf(buf, len, "open");
}

/* BIRD takes orders: it runs and is up (or is not had's to run). */
static bool
bird_ok(const struct ha_sup *s)
{
	return !enabled(s, HA_PART_BIRD) || s->p[HA_PART_BIRD].st == HA_ST_UP;
}

/* Each VIP's wanted state, and the orders that BIRD lacks. */
static void
route_step(struct ha_sup *s, uint64_t now)
{
	bool open = gate_open(s);
	unsigned int v;
	char why[HA_WHY_LEN];

	if (s->n_vips == 0)
		return;
	if (open && s->gate_ms == 0) {
		s->gate_ms = now;
		say(s, HA_PARTS, LOG_NOTICE_,
		    "the appliance is ready (forwarder, classifier%s up): its VIPs may be announced",
		    (s->gate & HA_BIT(SESSIOND)) ? ", sessiond with its replica" : "");
	} else if (!open && s->gate_ms != 0) {
		s->gate_ms = 0;
		s->gate_closed_ms = now;
		ha_sup_gate_why(s, why, sizeof(why));
		say(s, HA_PARTS, LOG_WARNING_,
		    "the appliance is not ready (%s): withdrawing its VIPs", why);
	}
	for (v = 0; v < s->n_vips; v++) {
		struct ha_vip_st *x = &s->vip[v];
		struct ha_act *a;

		x->want = open && x->serving;
		if (!bird_ok(s) || x->pending ||
		    (x->known && x->applied == x->want) || now < x->retry_ms)
			continue;
		a = push(s, HA_ACT_ROUTE, HA_PART_BIRD);
		if (a == NULL)
			return;
		a->vip = v;
		a->on = x->want;
		x->pending = true;
	}
}

void
ha_sup_vip_serving(struct ha_sup *s, unsigned int vip, bool serving,
		   uint64_t now_ms)
{
	if (vip >= s->n_vips || s->vip[vip].serving == serving)
		return;
	s->vip[vip].serving = serving;
	route_step(s, now_ms);
}

void
ha_sup_routed(struct ha_sup *s, unsigned int vip, bool on, int rc,
	      uint64_t now_ms)
{
	struct ha_vip_st *x;

	if (vip >= s->n_vips)
		return;
	x = &s->vip[vip];
	x->pending = false;
	if (rc != 0) {
		/* Not again before a second: a BIRD that refuses now
		 * (reloading, or not ours) is asked at that pace. */
		x->known = false;
		x->retry_ms = now_ms + 1000;
		return;
	}
	if (!x->known || x->applied != on)
		x->since_ms = now_ms;
	x->known = true;
	x->applied = on;
}

/* ---- drain ---- */

void
ha_sup_traffic(struct ha_sup *s, uint64_t pps, uint64_t now_ms)
{
	s->pps_known = true;
	s->pps = pps;
	if (pps > s->cfg->drain_idle_pps)
		s->quiet_ms = 0;
	else if (s->quiet_ms == 0)
		s->quiet_ms = now_ms;
}

void
ha_sup_replicated(struct ha_sup *s, bool yes, uint64_t now_ms)
{
	(void)now_ms;
	s->replicated = yes;
}

static void
drained(struct ha_sup *s, int level, uint64_t now)
{
	struct ha_act *a = push(s, HA_ACT_DRAINED, HA_PARTS);

	if (a != NULL)
		snprintf(a->why, sizeof(a->why), "%s", s->drain_why);
	say(s, HA_PARTS, level, "%s", s->drain_why);
	s->drain = HA_DRAIN_DONE;
	s->drained_ms = now;
	ha_sup_stop(s, now);
}

static void
drain_step(struct ha_sup *s, uint64_t now)
{
	bool withdrawn = true, quiet, repl;
	unsigned int v;

	if (s->drain != HA_DRAIN_WAITING)
		return;
	/* A BIRD that is not running announces nothing. */
	if (bird_ok(s))
		for (v = 0; v < s->n_vips; v++)
			if (!s->vip[v].known || s->vip[v].applied)
				withdrawn = false;
	if (withdrawn && s->withdrawn_ms == 0) {
		s->withdrawn_ms = now;
		/* Quiet counts from after the withdraw only. */
		s->quiet_ms = 0;
	}
	quiet = s->p[HA_PART_FORWARDER].st != HA_ST_UP ||
		(s->withdrawn_ms != 0 && s->quiet_ms != 0 &&
		 now - s->quiet_ms >= s->cfg->drain_quiet_ms);
	if (quiet && s->quiet_done_ms == 0 && s->withdrawn_ms != 0)
		s->quiet_done_ms = now;
	repl = !enabled(s, HA_PART_SESSIOND) ||
	       s->p[HA_PART_SESSIOND].st != HA_ST_UP || s->replicated;
	if (withdrawn && quiet && repl) {
		snprintf(s->drain_why, sizeof(s->drain_why),
			 "drained in %llu ms: routes withdrawn after %llu ms, traffic quiet from %llu ms (at most %u packets/s for %u ms)%s; stopping the parts",
			 (unsigned long long)(now - s->drain_ms),
			 (unsigned long long)(s->withdrawn_ms - s->drain_ms),
			 (unsigned long long)(s->quiet_ms > s->drain_ms ?
					      s->quiet_ms - s->drain_ms : 0),
			 s->cfg->drain_idle_pps, s->cfg->drain_quiet_ms,
			 s->drain_sessions ? ", every session in the peers' replicas" : "");
		drained(s, LOG_NOTICE_, now);
	} else if (now >= s->drain_until_ms) {
		snprintf(s->drain_why, sizeof(s->drain_why),
			 "drain timed out after %llu ms (ha.drain_timeout_ms):%s%s%s; stopping the parts",
			 (unsigned long long)(now - s->drain_ms),
			 withdrawn ? "" : " routes not withdrawn",
			 quiet ? "" : " traffic still arrives",
			 repl ? "" : " sessions not all replicated");
		drained(s, LOG_WARNING_, now);
	}
}

void
ha_sup_drain(struct ha_sup *s, uint64_t now_ms)
{
	if (s->stopping || s->drain != HA_DRAIN_NONE)
		return;
	s->drain_ms = now_ms;
	s->withdrawn_ms = s->quiet_done_ms = s->drained_ms = 0;
	s->quiet_ms = 0;
	if (s->n_vips == 0) {
		snprintf(s->drain_why, sizeof(s->drain_why),
			 "nothing to drain (no bgp section: no routes to withdraw): stopping the parts");
		drained(s, LOG_NOTICE_, now_ms);
		return;
	}
	s->drain = HA_DRAIN_WAITING;
	s->drain_until_ms = now_ms + s->cfg->drain_timeout_ms;
	s->drain_sessions = enabled(s, HA_PART_SESSIOND) &&
			    s->p[HA_PART_SESSIOND].st == HA_ST_UP;
	say(s, HA_PARTS, LOG_NOTICE_,
	    "draining: withdrawing every VIP, then waiting (at most %u ms) for the router to move the traffic%s",
	    s->cfg->drain_timeout_ms,
	    s->drain_sessions ? " and for every session to be in the peers' replicas" : "");
	route_step(s, now_ms);
	drain_step(s, now_ms);
}

void
ha_sup_resume(struct ha_sup *s, uint64_t now_ms)
{
	unsigned int i;

	if (!s->stopping)
		return;
	s->stopping = false;
	s->ready_told = false;
	s->drain = HA_DRAIN_NONE;
	for (i = 0; i < HA_PARTS; i++)
		if (s->p[i].st == HA_ST_STOPPED)
			set_state(&s->p[i], HA_ST_WAITING, now_ms);
	say(s, HA_PARTS, LOG_NOTICE_, "resuming: starting the parts again");
}

void
ha_sup_stop(struct ha_sup *s, uint64_t now_ms)
{
	if (s->stopping)
		return;
	s->stopping = true;
	/* The VIPs' withdraw goes to BIRD before BIRD is stopped. */
	route_step(s, now_ms);
	stop_step(s, now_ms);
}

void
ha_sup_step(struct ha_sup *s, uint64_t now_ms)
{
	const struct cfg_ha *cfg = s->cfg;
	unsigned int k, i, d, n_up = 0, n_on = 0;
	char why[HA_WHY_LEN];

	drain_step(s, now_ms);
	if (s->stopping) {
		stop_step(s, now_ms);
		return;
	}
	/* A failure seen since the last step closed the gate: the withdraw
	 * goes before any restart below. */
	route_step(s, now_ms);
	for (k = 0; k < s->n_order; k++) {
		struct ha_part_st *p;

		i = s->order[k];
		p = &s->p[i];
		if (p->st == HA_ST_DISABLED)
			continue;
		if (p->st == HA_ST_INIT)
			set_state(p, HA_ST_WAITING, now_ms);
		/* Adopted, but what it lives in is not running. */
		if ((p->st == HA_ST_UP || p->st == HA_ST_STARTING) &&
		    p->pid > 0) {
			for (d = 0; d < HA_PARTS; d++)
				if ((cfg->parts[i].bound & (1u << d)) &&
				    enabled(s, d) &&
				    s->p[d].st != HA_ST_UP &&
				    s->p[d].st != HA_ST_STARTING) {
					say(s, i, LOG_WARNING_, "stopping pid %d: %s is not running (it lives in its memory)",
					    p->pid, cfg_ha_part_name(d));
					p->failing = false;
					signal_part(s, i, SIGKILL, "its memory is gone", now_ms);
					break;
				}
		}
		if (p->st == HA_ST_STARTING && p->pid > 0 &&
		    now_ms >= p->until_ms) {
			snprintf(why, sizeof(why), "not ready within %u ms",
				 cfg->parts[i].start_timeout_ms);
			fail(s, i, why, now_ms);
		}
		if (p->st == HA_ST_STOPPING)
			stop_timer(s, i, now_ms);
		if (p->st == HA_ST_BACKOFF && now_ms >= p->until_ms)
			set_state(p, HA_ST_WAITING, now_ms);
		if (p->st == HA_ST_WAITING && deps_ready(s, i) &&
		    bound_free(s, i))
			start(s, i, now_ms);
	}
	for (i = 0; i < HA_PARTS; i++) {
		if (!enabled(s, i))
			continue;
		n_on++;
		n_up += s->p[i].st == HA_ST_UP;
	}
	if (!s->ready_told && n_up == n_on) {
		s->ready_told = true;
		push(s, HA_ACT_READY, 0);
	}
	route_step(s, now_ms);
}

bool
ha_sup_done(const struct ha_sup *s)
{
	unsigned int i;

	if (!s->stopping)
		return false;
	for (i = 0; i < HA_PARTS; i++)
		if (live(&s->p[i]))
			return false;
	return true;
}
