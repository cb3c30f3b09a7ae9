/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-had: the HA daemon (docs/RELIABILITY.md).  Runs the appliance's
 * parts from the ha { } section (halb/ha-list.h names them), each when
 * what it waits for is ready; reads their heartbeat files every
 * ha.poll_ms and watches their exits through pidfds; carries out what
 * the supervisor (sup.c) decides: start, adopt, kill, restart, give up,
 * announce or withdraw a VIP; on SIGTERM drains the appliance (routes
 * withdrawn, traffic and sessions moved to the peers) and stops them
 * one at a time, last started first.  What it reads besides heartbeats
 * (halb-healthd's backends, halb-sessiond's peers, the forwarder's
 * traffic) and its orders to BIRD are looks.c's.  It answers `status`,
 * `drain` and `resume` on ha.status_socket (halbctl status,
 * drain-appliance, resume-appliance) and beats a heartbeat of its own
 * ("had").
 *
 * Its own death must not hurt: the parts run in sessions of their own
 * (proc.c) and keep running; a new halb-had adopts them from their
 * heartbeat files.  SIGQUIT makes it leave without stopping them (an
 * upgrade of halb-had itself).  One halb-had per file_prefix (a lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "halb/bird.h"
#include "halb/cfg.h"
#include "halb/cli.h"
#include "halb/clock.h"
#include "halb/daemon.h"
#include "halb/log.h"
#include "halb/notify.h"
#include "looks.h"
#include "proc.h"
#include "sup.h"

struct had {
	struct halb_cfg *cfg;
	char cfg_path[PATH_MAX];
	struct halb_daemon dm;
	struct ha_sup sup;
	struct ha_proc proc[HA_PARTS];
	unsigned int slot[HA_PARTS];   /* the pidfd callbacks' argument */
	struct ev_timer poll;
	uint64_t started_ms;
	bool leave;                    /* SIGQUIT: parts left running */
	bool exit_when_stopped;        /* SIGTERM: leave once all stopped */
	int lock_fd;
	struct ha_looks looks;
	uint64_t next_health_ms, next_sess_ms, next_tlm_ms, next_cls_ms;
	/* systemd's watchdog: period asked (ms, 0 none), next ping. */
	uint64_t wd_ms, next_wd_ms;
	char drained_why[HA_WHY_LEN];
};

/* How often each look is taken (ms): traffic faster while draining. */
#define LOOK_HEALTH_MS 250
#define LOOK_SESS_MS 500
#define LOOK_SESS_DRAIN_MS 100
#define LOOK_TLM_MS 1000
#define LOOK_TLM_DRAIN_MS 100
/* Which classifier the forwarder uses (halbctl status): read this often,
 * shown while younger than LOOK_CLS_FRESH_MS. */
#define LOOK_CLS_MS 500
#define LOOK_CLS_FRESH_MS 2000

static struct had had;

/* Each part's probe (halb/ha-list.h's last column). */
static const ha_probe_fn probes[HA_PARTS] = {
#define HA_PART(e, n, prog, tmo, aft, bnd, want, probe) \
	[HA_PART_##e] = ha_probe_##probe,
#include "halb/ha-list.h"
#undef HA_PART
};

static void run_actions(struct had *h);

static void
on_exit_fd(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	unsigned int i = *(unsigned int *)arg;
	struct ha_proc *pr = &had.proc[i];
	char how[96];
	int pid = pr->pid;

	(void)events;
	ev_fd_del(ev, fd);
	ha_proc_reap(pr, how, sizeof(how));
	ha_sup_exited(&had.sup, i, pid, how, halb_mono_ms());
	ha_sup_step(&had.sup, halb_mono_ms());
	run_actions(&had);
}

static void
watch(struct had *h, unsigned int i)
{
	int rc = ev_fd_add(h->dm.ev, h->proc[i].pidfd, EPOLLIN, on_exit_fd,
			   &h->slot[i]);

	if (rc != 0)
		HLOG(ERR, "%s: cannot watch pid %d: %s", cfg_ha_part_name(i),
		     h->proc[i].pid, strerror(-rc));
}

/*
 * BIRD's file, written from the configuration before each start of the
 * BIRD part (bird_conf.c: every VIP disabled, so that a new BIRD
 * announces nothing until told), and the directory of its socket.
 */
static int
bird_file(struct had *h)
{
	char tmp[sizeof(h->cfg->ha.bird_file) + 8], dir[CFG_SOCK_LEN], *sl;
	FILE *f;
	int rc;

	snprintf(dir, sizeof(dir), "%s", h->cfg->bgp.socket);
	sl = strrchr(dir, '/');
	if (sl != NULL && sl != dir) {
		*sl = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			HLOG(WARNING, "bird: mkdir %s: %s", dir, strerror(errno));
	}
	snprintf(tmp, sizeof(tmp), "%s.new", h->cfg->ha.bird_file);
	f = fopen(tmp, "we");
	if (f == NULL)
		return -errno;
	rc = bird_conf_write(h->cfg, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, h->cfg->ha.bird_file) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static void
act(struct had *h, const struct ha_act *a)
{
	const unsigned int part = a->part < HA_PARTS ? a->part : 0;
	const struct cfg_ha_part *c = &h->cfg->ha.parts[part];
	const char *name = a->part < HA_PARTS ? cfg_ha_part_name(part) :
		"appliance";
	struct ha_proc *pr = &h->proc[part];
	uint64_t t0;
	int rc;

	switch (a->kind) {
	case HA_ACT_START:
		/* The default command reads the file had writes. */
		if (a->part == HA_PART_BIRD && ha_part_arg(c, "-c") != NULL &&
		    strcmp(ha_part_arg(c, "-c"), h->cfg->ha.bird_file) == 0 &&
		    (rc = bird_file(h)) != 0) {
			HLOG(ERR, "bird: cannot write %s: %s",
			     h->cfg->ha.bird_file, strerror(-rc));
			ha_sup_spawned(&h->sup, a->part, rc, halb_mono_ms());
			break;
		}
		rc = ha_proc_spawn(c, h->cfg_path, pr);
		if (rc == 0)
			watch(h, a->part);
		else
			HLOG(ERR, "%s: cannot start %s: %s", name, c->argv[0],
			     strerror(-rc));
		ha_sup_spawned(&h->sup, a->part, rc == 0 ? pr->pid : rc,
			       halb_mono_ms());
		break;
	case HA_ACT_ADOPT:
		rc = ha_proc_adopt(a->pid, c, pr);
		if (rc == 0)
			watch(h, a->part);
		else
			ha_sup_exited(&h->sup, a->part, a->pid,
				      "went (or another program has its number) before it could be adopted",
				      halb_mono_ms());
		break;
	case HA_ACT_SIGNAL:
		if (pr->pid != a->pid) {
			HLOG(ERR, "%s: asked to signal pid %d, which is not its process (%d)",
			     name, a->pid, pr->pid);
			break;
		}
		rc = ha_proc_signal(pr, a->sig);
		if (rc != 0 && rc != -ESRCH)
			HLOG(ERR, "%s: kill(%d, %s): %s", name, a->pid,
			     strsignal(a->sig), strerror(-rc));
		break;
	case HA_ACT_LOG:
		halb_log(a->level, "supervise", "%s: %s", name, a->why);
		break;
	case HA_ACT_READY:
		HLOG(NOTICE, "every part is up");
		halb_notify_ready();
		break;
	case HA_ACT_ROUTE:
		t0 = halb_mono_ms();
		rc = ha_looks_route(&h->looks, a->vip, a->on);
		if (rc == 0) {
			HLOG(NOTICE, "routes: %s %s (%s)",
			     a->on ? "announced" : "withdrew",
			     h->looks.vip_addr[a->vip], h->looks.vip_name[a->vip]);
		} else {
			HLOG(ERR, "routes: cannot %s %s through BIRD at %s: %s",
			     a->on ? "announce" : "withdraw",
			     h->looks.vip_addr[a->vip], h->cfg->bgp.socket,
			     rc == -ENOENT ? "no such protocol or socket" :
			     strerror(-rc));
		}
		ha_sup_routed(&h->sup, a->vip, a->on, rc, halb_mono_ms());
		if (halb_mono_ms() - t0 > 50)
			HLOG(WARNING, "routes: BIRD took %" PRIu64 " ms to answer",
			     halb_mono_ms() - t0);
		break;
	case HA_ACT_DRAINED:
		snprintf(h->drained_why, sizeof(h->drained_why), "%s", a->why);
		break;
	}
}

static void
run_actions(struct had *h)
{
	struct ha_act a;

	while (ha_sup_next(&h->sup, &a))
		act(h, &a);
	if (h->sup.stopping && ha_sup_done(&h->sup) && h->exit_when_stopped)
		ev_stop(h->dm.ev);
}

/* What the supervisor needs besides heartbeats, each at its pace. */
static void
looks(struct had *h, uint64_t now)
{
	struct ha_sup *s = &h->sup;
	bool draining = s->drain == HA_DRAIN_WAITING;
	unsigned int v;

	if (h->looks.n_vips > 0 && now >= h->next_health_ms) {
		h->next_health_ms = now + LOOK_HEALTH_MS;
		if (ha_looks_health(&h->looks) == 0)
			for (v = 0; v < h->looks.n_vips; v++) {
				if (s->vip[v].serving != h->looks.serving[v])
					halb_log(h->looks.serving[v] ? HLOG_NOTICE : HLOG_WARNING,
					     "routes", "%s: %s", h->looks.vip_addr[v],
					     h->looks.serving[v] ?
					     "a backend is up again: announce it when ready" :
					     "no backend of it is up: withdrawing it");
				ha_sup_vip_serving(s, v, h->looks.serving[v], now);
			}
	}
	if (h->cfg->ha.parts[HA_PART_SESSIOND].enabled &&
	    s->p[HA_PART_SESSIOND].st == HA_ST_UP && now >= h->next_sess_ms) {
		h->next_sess_ms = now + (draining ? LOOK_SESS_DRAIN_MS : LOOK_SESS_MS);
		if (ha_looks_sessiond(&h->looks) == 0)
			ha_sup_replicated(s, ha_looks_replicated(&h->looks), now);
	}
	if (h->looks.n_vips > 0 && s->p[HA_PART_FORWARDER].st == HA_ST_UP &&
	    now >= h->next_tlm_ms) {
		h->next_tlm_ms = now + (draining ? LOOK_TLM_DRAIN_MS : LOOK_TLM_MS);
		if (ha_looks_traffic(&h->looks, now,
				     s->p[HA_PART_FORWARDER].age_ms) == 0 &&
		    h->looks.pps_ok)
			ha_sup_traffic(s, h->looks.pps, now);
	} else if (s->p[HA_PART_FORWARDER].st != HA_ST_UP) {
		ha_looks_close(&h->looks);
	}
	if (draining && h->next_tlm_ms > now + LOOK_TLM_DRAIN_MS)
		h->next_tlm_ms = now;
	if (s->p[HA_PART_FORWARDER].st == HA_ST_UP && now >= h->next_cls_ms) {
		h->next_cls_ms = now + LOOK_CLS_MS;
		ha_looks_classifier(&h->looks, now, s->p[HA_PART_FORWARDER].age_ms);
	}
}

static void
on_poll(struct ev_loop *ev, void *arg)
{
	struct had *h = arg;
	uint64_t now = ev_now(ev);
	struct ha_obs o;
	unsigned int i;

	for (i = 0; i < HA_PARTS; i++) {
		enum ha_state st = h->sup.p[i].st;

		if (st != HA_ST_STARTING && st != HA_ST_UP)
			continue;
		probes[i](h->cfg->file_prefix, i, &h->cfg->ha.parts[i],
				false, &o);
		ha_sup_observe(&h->sup, i, &o, now);
	}
	looks(h, now);
	ha_sup_step(&h->sup, now);
	run_actions(h);
	/* From the supervision turn itself: a had hung anywhere in it
	 * (a probe, BIRD's socket, the loop) stops pinging, and systemd
	 * kills and restarts it (WatchdogSec=; the parts stay and the next
	 * had adopts them). */
	if (h->wd_ms != 0 && now >= h->next_wd_ms) {
		halb_notify_watchdog();
		h->next_wd_ms = now + h->wd_ms / 2;
	}
}

static void
on_term(struct ev_loop *ev, int signo, void *arg)
{
	struct had *h = arg;

	HLOG(NOTICE, "%s: draining the appliance, then stopping the parts, last started first",
	     strsignal(signo));
	h->exit_when_stopped = true;
	ha_sup_drain(&h->sup, ev_now(ev));
	run_actions(h);
}

static void
on_quit(struct ev_loop *ev, int signo, void *arg)
{
	struct had *h = arg;

	(void)signo;
	HLOG(NOTICE, "SIGQUIT: leaving, the parts keep running (a new halb-had adopts them)");
	h->leave = true;
	ev_stop(ev);
}

/* ---- status (halbctl status) ---- */

/* Below the parts' table: the classifier, routes, peers, the drain. */
static void
status_more(struct had *h, FILE *out, uint64_t now)
{
	const struct ha_sup *s = &h->sup;
	const struct ha_looks *l = &h->looks;
	char gate[HA_WHY_LEN];
	unsigned int v, k;

	/* The one the forwarder uses, as its telemetry says (halbctl
	 * classifiers: the local one or a standby, a remote one, none);
	 * when that is not known lately, the local part's state. */
	if (s->p[HA_PART_FORWARDER].st == HA_ST_UP && l->cls_ms != 0 &&
	    now - l->cls_ms < LOOK_CLS_FRESH_MS) {
		if (strcmp(l->cls_active, "local") == 0)
			fprintf(out, "classifier active: local (pid %d)\n",
				l->cls_local_pid != 0 ? l->cls_local_pid :
				s->p[HA_PART_CLASSIFIER].pid);
		else if (strcmp(l->cls_active, "none") == 0)
			fprintf(out, "classifier active: none (the forwarder's workers decide new connections with its Maglev tables)\n");
		else
			fprintf(out, "classifier active: remote %s (halbctl classifiers)\n",
				l->cls_active);
	} else if (s->p[HA_PART_CLASSIFIER].st == HA_ST_UP) {
		fprintf(out, "classifier active: local (pid %d)\n",
			s->p[HA_PART_CLASSIFIER].pid);
	} else {
		fprintf(out, "classifier active: none (the forwarder's workers decide new connections with its Maglev tables)\n");
	}
	if (s->n_vips == 0) {
		fprintf(out, "routes: none (no bgp section)\n");
	} else {
		ha_sup_gate_why(s, gate, sizeof(gate));
		fprintf(out, "routes: through BIRD at %s; appliance ", h->cfg->bgp.socket);
		if (strcmp(gate, "open") == 0)
			fprintf(out, "ready for %.1f s", (double)(now - s->gate_ms) / 1000.0);
		else
			fprintf(out, "not ready: %s", gate);
		fprintf(out, "; traffic to the VIPs %s", l->pps_ok ? "" : "unknown");
		if (l->pps_ok)
			fprintf(out, "%" PRIu64 " packets/s", l->pps);
		fprintf(out, "%s\n", l->n_vips > 0 && h->cfg->has_health && !l->health_ok ?
			"; halb-healthd does not answer" : "");
		for (v = 0; v < s->n_vips; v++) {
			const struct ha_vip_st *x = &s->vip[v];
			const char *st = !x->known ? (x->want ? "announcing" : "unknown") :
				x->applied ? "announced" : "withdrawn";

			fprintf(out, "  vip %-28s %-10s", l->vip_addr[v], st);
			if (x->known && x->since_ms != 0)
				fprintf(out, " %.1f s ago", (double)(now - x->since_ms) / 1000.0);
			if (!x->want)
				fprintf(out, " (%s)", !x->serving ? "no backend of it is up" :
					strcmp(gate, "open") != 0 ? gate : "");
			if (l->backends[v] > 0)
				fprintf(out, ", backends up %u of %u", l->backends_up[v],
					l->backends[v]);
			fprintf(out, "\n");
		}
	}
	if (h->cfg->sessions.has) {
		if (!l->sess_ok && l->n_peers == 0)
			fprintf(out, "peers: not known yet (halb-sessiond's status)\n");
		for (k = 0; k < l->n_peers; k++) {
			const struct ha_peer *p = &l->peers[k];

			fprintf(out, "peer %s: %s%s, ", p->name,
				p->alive ? "alive" : "DEAD",
				p->synced ? " synced" : "");
			if (p->heard)
				fprintf(out, "last heard %" PRIu64 " ms ago", p->heard_ago_ms);
			else
				fprintf(out, "never heard");
			fprintf(out, ", unacknowledged %u%s\n",
				p->backlog + p->in_flight,
				l->sess_ok ? "" : " (sessiond does not answer: as last read)");
		}
	}
	if (s->drain == HA_DRAIN_WAITING)
		fprintf(out, "drain: waiting %.1f s (of %u s at most): routes %s, traffic %s, sessions %s\n",
			(double)(now - s->drain_ms) / 1000.0,
			s->cfg->drain_timeout_ms / 1000,
			s->withdrawn_ms != 0 ? "withdrawn" : "being withdrawn",
			s->quiet_done_ms != 0 ? "quiet" : "still arriving",
			!s->drain_sessions ? "not waited for" :
			s->replicated ? "in the peers' replicas" : "being replicated");
	else if (s->drain == HA_DRAIN_DONE || h->drained_why[0] != '\0')
		fprintf(out, "drain: done: %s%s\n", h->drained_why,
			ha_sup_done(s) ? "; every part stopped (halbctl resume-appliance starts them)" : "");
}

static void
status(struct had *h, FILE *out)
{
	uint64_t now = halb_mono_ms();
	unsigned int i, d;

	fprintf(out, "halb-had: pid %d, up %" PRIu64 " s, heartbeats read every %u ms%s\n",
		(int)getpid(), (now - h->started_ms) / 1000, h->cfg->ha.poll_ms,
		h->sup.stopping ? ", stopping" : "");
	fprintf(out, "%-11s %-10s %8s %8s %8s %6s %11s  %s\n", "part", "state",
		"pid", "beat_ms", "restarts", "fails", "recovery_ms",
		"last failure");
	for (i = 0; i < HA_PARTS; i++) {
		const struct ha_part_st *p = &h->sup.p[i];
		const struct cfg_ha_part *c = &h->cfg->ha.parts[i];
		char pid[16] = "-", age[24] = "-", rec[24] = "-", why[256] = "-";

		if (p->pid > 0)
			snprintf(pid, sizeof(pid), "%d", p->pid);
		if (p->pid > 0 && (p->st == HA_ST_UP || p->st == HA_ST_STARTING))
			snprintf(age, sizeof(age), "%" PRIu64, p->age_ms);
		if (p->last_recovery_ms != 0)
			snprintf(rec, sizeof(rec), "%" PRIu64, p->last_recovery_ms);
		if (p->last_fail_ms != 0)
			snprintf(why, sizeof(why), "%.1f s ago: %s",
				 (double)(now - p->last_fail_ms) / 1000.0,
				 p->last_why);
		fprintf(out, "%-11s %-10s %8s %8s %8u %6u %11s  %s",
			cfg_ha_part_name(i), ha_state_name(p->st), pid, age,
			p->restarts, ha_sup_recent_failures(&h->sup, i, now),
			rec, why);
		if (p->st == HA_ST_WAITING) {
			for (d = 0; d < HA_PARTS; d++)
				if ((c->after & (1u << d)) &&
				    h->cfg->ha.parts[d].enabled &&
				    h->sup.p[d].st != HA_ST_UP)
					fprintf(out, " (waits for %s)",
						cfg_ha_part_name(d));
		}
		if (p->adopted)
			fprintf(out, " (adopted)");
		fputc('\n', out);
	}
	status_more(h, out, now);
}

static void
on_ctl(void *arg, const char *req, FILE *out)
{
	struct had *h = arg;
	uint64_t now = halb_mono_ms();

	if (strcmp(req, "status") == 0) {
		status(h, out);
	} else if (strcmp(req, "drain") == 0) {
		if (h->sup.stopping && h->sup.drain == HA_DRAIN_NONE) {
			fprintf(out, "error: stopping already\n");
			return;
		}
		if (h->sup.drain == HA_DRAIN_NONE)
			HLOG(NOTICE, "drain asked for (halbctl drain-appliance)");
		ha_sup_drain(&h->sup, now);
		run_actions(h);
		fprintf(out, "ok: %s\n", h->sup.drain == HA_DRAIN_WAITING ?
			"draining" : "drained");
	} else if (strcmp(req, "resume") == 0) {
		if (!h->sup.stopping || !ha_sup_done(&h->sup)) {
			fprintf(out, "error: %s\n", h->sup.stopping ?
				"the parts are still stopping" :
				"not drained or stopped: nothing to resume");
			return;
		}
		HLOG(NOTICE, "resume asked for (halbctl resume-appliance)");
		h->drained_why[0] = '\0';
		ha_sup_resume(&h->sup, now);
		ha_sup_step(&h->sup, now);
		run_actions(h);
		fprintf(out, "ok: starting the parts\n");
	} else {
		fprintf(out, "error: unknown request \"%.64s\" (status, drain, resume)\n",
			req);
	}
}

/* One halb-had per appliance: two would start every part twice. */
static int
lock_instance(struct had *h)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", HALB_RUN_DIR,
		 h->cfg->file_prefix);
	if (mkdir(HALB_RUN_DIR, 0755) != 0 && errno != EEXIST)
		goto fail;
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s/had.lock", HALB_RUN_DIR,
		 h->cfg->file_prefix);
	h->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (h->lock_fd < 0)
		goto fail;
	if (flock(h->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			HLOG(ERR, "another halb-had runs for file_prefix %s (it holds %s)",
			     h->cfg->file_prefix, path);
			return -EBUSY;
		}
		goto fail;
	}
	return 0;
fail:
	HLOG(ERR, "%s: %s", path, strerror(errno));
	return -errno;
}

static int
run(struct had *h)
{
	const struct halb_daemon_conf dc = {
		.ctl_path = h->cfg->ha.status_socket,
		.ctl_key = "ha.status_socket",
		.max_clients = 16,
		.on_ctl = on_ctl,
		.arg = h,
		.hb_instance = h->cfg->file_prefix,
		.hb_part = "had",
	};
	uint64_t now;
	struct ha_obs o;
	unsigned int i;
	int rc;

	if (lock_instance(h) != 0)
		return 1;
	if (halb_daemon_open(&h->dm, &dc) != 0)
		return 1;
	/* Before any part is started: they must not inherit its
	 * $WATCHDOG_USEC. */
	h->wd_ms = halb_notify_watchdog_ms();
	if (h->wd_ms != 0) {
		HLOG(NOTICE, "systemd's watchdog: WATCHDOG=1 every %" PRIu64 " ms",
		     h->wd_ms / 2);
		if (h->cfg->ha.poll_ms * 4 > h->wd_ms)
			HLOG(WARNING, "systemd's watchdog (%" PRIu64 " ms) is short against ha.poll_ms (%u)",
			     h->wd_ms, h->cfg->ha.poll_ms);
	}
	/* SIGTERM and SIGINT stop the parts first, the loop after. */
	rc = ev_signal(h->dm.ev, SIGTERM, on_term, h);
	if (rc == 0)
		rc = ev_signal(h->dm.ev, SIGINT, on_term, h);
	if (rc == 0)
		rc = ev_signal(h->dm.ev, SIGQUIT, on_quit, h);
	if (rc != 0) {
		HLOG(ERR, "cannot catch SIGTERM, SIGINT and SIGQUIT: %s",
		     strerror(-rc));
		return 1;
	}
	h->started_ms = halb_mono_ms();
	ha_sup_init(&h->sup, &h->cfg->ha);
	ha_looks_init(&h->looks, h->cfg);
	if (h->cfg->bgp.has)
		ha_sup_routes(&h->sup, h->looks.n_vips);
	/* What runs already (a previous halb-had's parts) is adopted. */
	now = halb_mono_ms();
	for (i = 0; i < HA_PARTS; i++) {
		h->slot[i] = i;
		h->proc[i].pidfd = -1;
		if (!h->cfg->ha.parts[i].enabled)
			continue;
		if (h->cfg->ha.parts[i].argc > 0 &&
		    access(h->cfg->ha.parts[i].argv[0], X_OK) != 0)
			HLOG(WARNING, "%s: %s: %s", cfg_ha_part_name(i),
			     h->cfg->ha.parts[i].argv[0], strerror(errno));
		probes[i](h->cfg->file_prefix, i, &h->cfg->ha.parts[i],
				true, &o);
		ha_sup_observe(&h->sup, i, &o, now);
	}
	run_actions(h);
	/* healthd's word before the first step: a restarted halb-had that
	 * adopts a running appliance must not announce, even briefly, a
	 * VIP whose backends are all down. */
	looks(h, now);
	ha_sup_step(&h->sup, now);
	run_actions(h);
	ev_timer_init(&h->poll, on_poll, h);
	ev_timer_start(h->dm.ev, &h->poll, h->cfg->ha.poll_ms,
		       h->cfg->ha.poll_ms);
	HLOG(NOTICE, "supervising file_prefix %s from %s; status on %s",
	     h->cfg->file_prefix, h->cfg_path, h->cfg->ha.status_socket);
	rc = ev_main(h->dm.ev);
	ev_timer_stop(h->dm.ev, &h->poll);
	for (i = 0; i < HA_PARTS; i++) {
		if (h->proc[i].pidfd >= 0)
			ev_fd_del(h->dm.ev, h->proc[i].pidfd);
		ha_proc_close(&h->proc[i]);
	}
	ha_looks_close(&h->looks);
	return rc;
}

/* --check-config: the file, then what halb-had would run; a program that
 * is not there is a warning (the file may be checked on another host
 * than the one it runs on). */
static int
check_config(const char *path)
{
	struct halb_cfg *cfg = cfg_load(path, stderr);
	const struct cfg_ha_part *p;
	unsigned int i, d;

	if (cfg == NULL)
		return 1;
	printf("%s: ok for halb-had (heartbeats read every %u ms, status on %s)\n",
	       path, cfg->ha.poll_ms, cfg->ha.status_socket);
	for (i = 0; i < HA_PARTS; i++) {
		p = &cfg->ha.parts[i];
		if (!p->enabled) {
			printf("  %-10s not run\n", cfg_ha_part_name(i));
			continue;
		}
		printf("  %-10s %s%s%s, hung after %u ms", cfg_ha_part_name(i),
		       p->argv[0], p->argc > 1 ? " ..." : "",
		       p->with_config ? " -c FILE" : "", p->timeout_ms);
		for (d = 0; d < HA_PARTS; d++)
			if ((p->after & (1u << d)) && cfg->ha.parts[d].enabled)
				printf(", after %s", cfg_ha_part_name(d));
		printf("\n");
		if (access(p->argv[0], X_OK) != 0)
			fprintf(stderr, "%s: warning: ha.%s: %s: %s\n", path,
			       cfg_ha_part_name(i), p->argv[0], strerror(errno));
	}
	cfg_free(cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct halb_cli cli = {
		.prog = "halb-had",
		.what = "supervise the appliance's parts",
		.check = check_config,
	};
	const char *path;
	int rc;

	had.lock_fd = -1;
	had.dm.udp = -1;
	rc = halb_cli(&cli, argc, argv, &path);
	if (rc >= 0)
		return rc;
	had.cfg = cfg_load(path, stderr);
	if (had.cfg == NULL)
		return 1;
	halb_log_open(had.cfg->log.level, had.cfg->log.syslog);
	/* The parts get the file by a path that holds wherever they run. */
	if (realpath(had.cfg->path, had.cfg_path) == NULL)
		snprintf(had.cfg_path, sizeof(had.cfg_path), "%s",
			 had.cfg->path);
	rc = run(&had);
	if (had.dm.ev != NULL)
		halb_daemon_close(&had.dm);
	if (had.lock_fd >= 0)
		close(had.lock_fd);
	cfg_free(had.cfg);
	return rc;
}
