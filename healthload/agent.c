/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-agent: runs on a backend host and tells the appliances how the
 * host is (docs/AGENT.md).
 *
 * One thread, one event loop (halb/daemon.h, halb/evloop.h) over: the
 * UDP socket on agent.listen (reports go out to every handler from it,
 * ReportRequests come in on it), the control socket (halb/ctl.h:
 * `halb-agent --drain` and friends), the checks in flight (hc.h: a
 * socket or a child each, with its timeout), and signals (SIGCHLD reaps
 * command checks, SIGINT/SIGTERM stop).  Every interval it reads the
 * load, starts the checks that are not running, and reports; a changed check
 * result, a drain or a request makes it report at once (at most every
 * AG_MIN_GAP_MS between such reports: the interval's own do not hold
 * one back).  A check on its way up or down (hc_rf_moving) runs again
 * at once, not at the next interval.  The first report waits until
 * every check has given its first result, so a restarted agent never
 * claims a service it has not checked.  A handler that is away costs a counted sendto error per
 * report, nothing more: nothing is queued.
 *
 * --proc-root DIR reads the load from DIR/stat, DIR/meminfo,
 * DIR/net/tcp and DIR/net/tcp6 instead of /proc: a test points it at a
 * fake tree to make a host look loaded (tests/e2e/health.sh).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ag.h"
#include "halb/cfg.h"
#include "halb/cli.h"
#include "halb/clock.h"
#include "halb/ctl.h"
#include "halb/daemon.h"
#include "halb/evloop.h"
#include "halb/log.h"
#include "halb/notify.h"
#include "halb/sock.h"

#define AG_TICK_MS 100
#define AG_MIN_GAP_MS 100
#define AG_MAX_CLIENTS 4
#define AG_RX_BURST 32           /* datagrams read per wake-up */
#define AG_CTL_TIMEOUT_MS 5000   /* --drain & co. wait this long at most */

struct agent;

/* What a check's result calls back with. */
struct check_ref {
	struct agent *a;
	uint32_t i;                  /* the service */
};

struct agent {
	struct agc *cfg;
	struct ag *ag;
	const char *proc_root;       /* --proc-root, or NULL for /proc */
	struct halb_daemon dm;       /* the loop, agent.listen, agent.control */
	struct check_ref refs[AGC_MAX_SERVICES];
	struct ev_timer tick;
	struct ev_timer recheck;     /* 0 ms: checks on their way up or down */
	uint64_t next_interval, last_report;
	uint64_t last_soon;          /* the last report at once */
	bool want_report, started;
	struct halb_ratelimit rl_reject, rl_send;
};

/* ---- reporting ---- */

static void
report(struct agent *a, uint64_t now)
{
	uint8_t buf[HL_MTU];
	uint64_t held;
	uint32_t i;
	int len;

	len = ag_build_report(a->ag, halb_unix_ms(), buf);
	if (len < 0) {
		HLOG(ERR, "cannot seal the report: %s", strerror(-len));
		return;
	}
	a->last_report = now;
	a->want_report = false;
	for (i = 0; i < a->cfg->n_handlers; i++) {
		const struct agc_handler *h = &a->cfg->handlers[i];
		struct sockaddr_storage ss;
		socklen_t sl = halb_sockaddr(&h->ip, h->port, &ss);
		char addr[80];

		if (sendto(a->dm.udp, buf, (size_t)len, 0, (struct sockaddr *)&ss,
			   sl) == len) {
			a->ag->c.reports++;
			continue;
		}
		/* Away: try again next time, keep nothing. */
		a->ag->c.send_errors++;
		if (halb_ratelimit(&a->rl_send, now, &held))
			HLOG(WARNING, "handler %s: %s (%" PRIu64 " more not logged)",
				halb_sockaddr_fmt((struct sockaddr *)&ss, addr,
						 sizeof(addr)),
				strerror(errno), held);
	}
}

/* Reports now if allowed, or soon. */
static void
report_soon(struct agent *a, uint64_t now)
{
	a->want_report = true;
	if (a->started && now - a->last_soon >= AG_MIN_GAP_MS) {
		a->ag->c.immediate++;
		a->last_soon = now;
		report(a, now);
	}
}

/* ---- checks ---- */

static bool
checks_known(const struct agent *a)
{
	uint32_t i;

	for (i = 0; i < a->cfg->n_services; i++)
		if (a->cfg->services[i].check_type != CFG_CHECK_NONE &&
		    !hc_rf_known(&a->ag->chk[i].rf))
			return false;
	return true;
}

static void
check_done(struct agent *a, uint32_t i, bool ok, const char *why,
	   uint64_t now)
{
	const struct agc_service *s = &a->cfg->services[i];
	bool first = !hc_rf_known(&a->ag->chk[i].rf);

	if (ag_check_result(a->ag, i, ok, why)) {
		HLOG(NOTICE, "service %s (%s check): %s (%s)", s->service,
			cfg_check_name(s->check_type),
			ag_service_state(a->ag, i) ==
				HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN ? "down" : "up",
			why);
		report_soon(a, now);
	}
	if (hc_rf_moving(&a->ag->chk[i].rf))
		ev_timer_start(a->dm.ev, &a->recheck, 0, 0);
	if (first && !a->started && checks_known(a)) {
		a->started = true;
		HLOG(INFO, "every check has a result: reporting");
		report(a, now);
	}
}

static void
check_result(void *arg, enum hc_result r, const char *why)
{
	struct check_ref *ref = arg;

	check_done(ref->a, ref->i, r == HC_OK, why, halb_mono_ms());
}

static void
start_check(struct agent *a, uint32_t i)
{
	const struct agc_service *s = &a->cfg->services[i];
	const struct hc_target t = {
		.type = s->check_type, .addr = s->check_ip,
		.port = s->check_port, .expect = s->expect, .path = s->path,
		.command = s->command, .timeout_ms = s->timeout_ms,
	};

	/* Still running: the last one decides first (-EBUSY); none: no
	 * check (-ENOTSUP). */
	hc_check_start(&a->ag->chk[i].run, a->dm.ev, &t, check_result,
		       &a->refs[i]);
}

/* Checks on their way up or down: again now (a turn after the result,
 * not from within its callback). */
static void
on_recheck(struct ev_loop *ev, void *arg)
{
	struct agent *a = arg;
	uint32_t i;

	(void)ev;
	for (i = 0; i < a->cfg->n_services; i++)
		if (hc_rf_moving(&a->ag->chk[i].rf))
			start_check(a, i);
}

/* Command checks that ended. */
static void
reap(struct agent *a)
{
	uint32_t i;

	for (i = 0; i < a->cfg->n_services; i++)
		hc_check_reap(&a->ag->chk[i].run);
}

/* ---- control ---- */

static void
set_drain(struct agent *a, bool drain, uint64_t now)
{
	int rc;

	if (a->ag->draining == drain)
		return;
	rc = ag_drain_save(a->cfg->state_file, drain);
	if (rc != 0)
		HLOG(WARNING, "cannot keep the drain mark in %s: %s (it holds until a restart)",
			a->cfg->state_file, strerror(-rc));
	a->ag->draining = drain;
	HLOG(NOTICE, "host %s %s", a->cfg->host,
		drain ? "draining: no new connections" : "no longer draining");
	report_soon(a, now);
}

static void
on_control(void *arg, const char *req, FILE *out)
{
	struct agent *a = arg;
	const struct ag_counters *k = &a->ag->c;
	uint32_t s;

	if (strcmp(req, "drain") == 0 || strcmp(req, "undrain") == 0) {
		set_drain(a, req[0] == 'd', halb_mono_ms());
		fprintf(out, "{\"host\":\"%s\",\"draining\":%s}\n",
			a->cfg->host, a->ag->draining ? "true" : "false");
		return;
	}
	if (strcmp(req, "status") != 0) {
		fprintf(out, "{\"error\":\"unknown command; try drain, undrain or status\"}\n");
		return;
	}
	fprintf(out, "{\"host\":\"%s\",\"draining\":%s,\"cpu_permille\":%u,"
		"\"mem_used_permille\":%u,\"active_connections\":%u,"
		"\"reports\":%" PRIu64 ",\"send_errors\":%" PRIu64
		",\"requests\":%" PRIu64 ",\"rejected\":%" PRIu64
		",\"services\":[",
		a->cfg->host, a->ag->draining ? "true" : "false",
		a->ag->cpu_permille, a->ag->mem_permille, a->ag->conns,
		k->reports, k->send_errors, k->requests,
		k->rx - k->requests - k->unexpected);
	for (s = 0; s < a->cfg->n_services; s++) {
		int st = ag_service_state(a->ag, s);

		fprintf(out, "%s{\"service\":\"%s\",\"state\":\"%s\"}",
			s ? "," : "", a->cfg->services[s].service,
			st == HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN ? "down" :
			st == HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING ?
			"draining" : "up");
	}
	fprintf(out, "]}\n");
}

/* ---- requests ---- */

static void
on_dgram(struct ev_loop *ev, const uint8_t *buf, size_t len,
	 const struct sockaddr *from, void *arg)
{
	struct agent *a = arg;
	uint64_t now = ev_now(ev), held;
	char addr[80];
	int rc;

	rc = ag_handle_dgram(a->ag, buf, len, halb_unix_ms());
	if (rc > 0) {
		HLOG(DEBUG, "report request from %s",
		     halb_sockaddr_fmt(from, addr, sizeof(addr)));
		report_soon(a, now);
	} else if (rc < 0 && halb_ratelimit(&a->rl_reject, now, &held)) {
		HLOG(WARNING, "refused a datagram from %s: %s (%" PRIu64 " more not logged)",
		     halb_sockaddr_fmt(from, addr, sizeof(addr)),
		     seal_reject_name(rc), held);
	}
}

/* ---- the loop ---- */

static void
interval(struct agent *a, uint64_t now)
{
	uint32_t i;

	ag_read_load(a->ag);
	for (i = 0; i < a->cfg->n_services; i++)
		start_check(a, i);
	if (a->started)
		report(a, now);
	a->next_interval = now + a->cfg->interval_ms;
}

static void
on_tick(struct ev_loop *ev, void *arg)
{
	struct agent *a = arg;
	uint64_t now = ev_now(ev);

	reap(a);
	if (a->want_report && a->started &&
	    now - a->last_soon >= AG_MIN_GAP_MS) {
		a->last_soon = now;
		report(a, now);
	}
	if (now >= a->next_interval)
		interval(a, now);
}

static void
on_sigchld(struct ev_loop *ev, int signo, void *arg)
{
	(void)ev;
	(void)signo;
	reap(arg);
}

static int
open_all(struct agent *a)
{
	const struct halb_daemon_conf dc = {
		.ip = &a->cfg->listen_ip, .port = a->cfg->listen_port,
		.udp_key = "agent.listen", .max_dgram = HL_MAX_DATAGRAM,
		.burst = AG_RX_BURST, .on_dgram = on_dgram,
		.ctl_path = a->cfg->control, .ctl_key = "agent.control",
		.max_clients = AG_MAX_CLIENTS, .on_ctl = on_control, .arg = a,
	};
	uint32_t i;
	int r;

	for (i = 0; i < AGC_MAX_SERVICES; i++)
		a->refs[i] = (struct check_ref){ a, i };
	r = halb_daemon_open(&a->dm, &dc);
	if (r == 0)
		r = ev_signal(a->dm.ev, SIGCHLD, on_sigchld, a);
	if (r != 0)
		return r;
	ev_timer_init(&a->recheck, on_recheck, a);
	ev_timer_init(&a->tick, on_tick, a);
	ev_timer_start(a->dm.ev, &a->tick, AG_TICK_MS, AG_TICK_MS);
	return 0;
}

static int
run(struct agent *a)
{

	a->rl_reject = (struct halb_ratelimit){ .period_ms = 10000, .burst = 10 };
	a->rl_send = (struct halb_ratelimit){ .period_ms = 60000, .burst = 2 };
	a->ag = ag_new(a->cfg);
	if (a->ag == NULL || open_all(a) != 0)
		return 1;
	a->ag->proc_root = a->proc_root;
	a->ag->draining = ag_drain_load(a->cfg->state_file);
	HLOG(NOTICE, "host %s: %u services, %u handlers, every %u ms%s",
	     a->cfg->host, a->cfg->n_services, a->cfg->n_handlers,
	     a->cfg->interval_ms, a->ag->draining ? ", draining (kept from before)" : "");
	a->started = checks_known(a);
	interval(a, halb_mono_ms());
	halb_notify_ready();  /* sockets open: the loop runs next */
	return ev_main(a->dm.ev);
}

static void
close_all(struct agent *a)
{
	ag_free(a->ag);  /* stops the checks in flight: before the loop goes */
	halb_daemon_close(&a->dm);
}

/* --drain, --undrain, --status: ask the running agent. */
static int
control(const struct agc *cfg, const char *cmd)
{
	char dir[sizeof(cfg->state_file)], *slash, *ans;
	int rc;

	ans = ctl_request(cfg->control, cmd, AG_CTL_TIMEOUT_MS, NULL);
	if (ans != NULL) {
		fputs(ans, stdout);
		rc = ans[0] != '\0' && strstr(ans, "\"error\"") == NULL ? 0 : 1;
		free(ans);
		return rc;
	}
	if (errno != ENOENT && errno != ECONNREFUSED) {
		fprintf(stderr, "halb-agent: %s: %s\n", cfg->control,
			strerror(errno));
		return 1;
	}
	if (strcmp(cmd, "status\n") == 0) {
		fprintf(stderr, "halb-agent: not running (no %s)\n", cfg->control);
		return 1;
	}
	/* Not running: the mark is what it will start from. */
	snprintf(dir, sizeof(dir), "%s", cfg->state_file);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	rc = ag_drain_save(cfg->state_file, cmd[0] == 'd');
	if (rc != 0) {
		fprintf(stderr, "halb-agent: not running, and cannot write %s: %s\n",
			cfg->state_file, strerror(-rc));
		return 1;
	}
	printf("halb-agent: not running; host %s will start %s\n", cfg->host,
	       cmd[0] == 'd' ? "draining" : "not draining");
	return 0;
}

static int
check_config(const char *path)
{
	struct agc *c = cfg_agent_load(path, stderr);

	if (c == NULL)
		return 1;
	printf("%s: ok (host %s, %u services, %u handlers)\n", path, c->host,
	       c->n_services, c->n_handlers);
	cfg_agent_free(c);
	return 0;
}

/* The options beyond the shared ones (halb/cli.h). */
static const struct option agent_options[] = {
	{ "drain", no_argument, NULL, 'd' },
	{ "undrain", no_argument, NULL, 'u' },
	{ "status", no_argument, NULL, 's' },
	{ "proc-root", required_argument, NULL, 'P' },
	{ NULL, 0, NULL, 0 },
};

struct agent_opts {
	const char *cmd;             /* --drain & co.: "drain\n"... */
	const char *proc_root;
};

static int
agent_opt(void *arg, int val, const char *optarg)
{
	struct agent_opts *o = arg;
	struct stat st;

	switch (val) {
	case 'd':
		o->cmd = "drain\n";
		return 0;
	case 'u':
		o->cmd = "undrain\n";
		return 0;
	case 's':
		o->cmd = "status\n";
		return 0;
	case 'P':
		if (strlen(optarg) > 1000 || stat(optarg, &st) != 0 ||
		    !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "halb-agent: --proc-root %s: not a directory\n",
				optarg);
			return 2;
		}
		o->proc_root = optarg;
		return 0;
	default:
		return 2;
	}
}

int
main(int argc, char **argv)
{
	struct agent_opts o = { NULL, NULL };
	const struct halb_cli cli = {
		.prog = "halb-agent",
		.what = "[--proc-root DIR]   run (the load from DIR/stat,\n"
			"                                 meminfo, net/tcp*; default /proc)",
		.usage = "       halb-agent -c FILE --drain|--undrain|--status\n",
		.check = check_config,
		.opts = agent_options,
		.opt = agent_opt,
		.arg = &o,
	};
	struct agent a = { .dm.udp = -1 };
	const char *path;
	int rc;

	rc = halb_cli(&cli, argc, argv, &path);
	if (rc >= 0)
		return rc;
	a.cfg = cfg_agent_load(path, stderr);
	if (a.cfg == NULL)
		return 1;
	if (o.cmd != NULL) {
		rc = control(a.cfg, o.cmd);
		cfg_agent_free(a.cfg);
		return rc;
	}
	a.proc_root = o.proc_root;
	rc = run(&a);
	close_all(&a);
	cfg_agent_free(a.cfg);
	return rc;
}
