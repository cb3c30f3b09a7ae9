/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-had: the HA daemon (docs/RELIABILITY.md).  Runs the appliance's
 * parts from the ha { } section (halb/ha-list.h names them), each when
 * what it waits for is ready; reads their heartbeat files every
 * ha.poll_ms and watches their exits through pidfds; carries out what
 * the supervisor (sup.c) decides: start, adopt, kill, restart, give up;
 * on SIGTERM stops them one at a time, last started first.  It answers
 * `status` on ha.status_socket (halbctl status) and beats a heartbeat of
 * its own ("had").
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

#include "halb/cfg.h"
#include "halb/cli.h"
#include "halb/clock.h"
#include "halb/daemon.h"
#include "halb/log.h"
#include "halb/notify.h"
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
	int lock_fd;
};

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

static void
act(struct had *h, const struct ha_act *a)
{
	const struct cfg_ha_part *c = &h->cfg->ha.parts[a->part];
	const char *name = cfg_ha_part_name(a->part);
	struct ha_proc *pr = &h->proc[a->part];
	int rc;

	switch (a->kind) {
	case HA_ACT_START:
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
		rc = ha_proc_adopt(a->pid, pr);
		if (rc == 0)
			watch(h, a->part);
		else
			ha_sup_exited(&h->sup, a->part, a->pid,
				      "went before it could be adopted",
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
	}
}

static void
run_actions(struct had *h)
{
	struct ha_act a;

	while (ha_sup_next(&h->sup, &a))
		act(h, &a);
	if (h->sup.stopping && ha_sup_done(&h->sup))
		ev_stop(h->dm.ev);
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
	ha_sup_step(&h->sup, now);
	run_actions(h);
}

static void
on_term(struct ev_loop *ev, int signo, void *arg)
{
	struct had *h = arg;

	HLOG(NOTICE, "%s: stopping the parts, last started first",
	     strsignal(signo));
	ha_sup_stop(&h->sup, ev_now(ev));
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
}

static void
on_ctl(void *arg, const char *req, FILE *out)
{
	struct had *h = arg;

	if (strcmp(req, "status") == 0)
		status(h, out);
	else
		fprintf(out, "error: unknown request \"%.64s\" (status)\n", req);
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
