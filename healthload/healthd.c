/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-healthd: the appliance's health and load handler (docs/HEALTH.md).
 *
 * One thread, one event loop.  It owns four kinds of descriptors:
 *   - the UDP socket on health.listen: agents' HostReports, peers'
 *     snapshots, requests and heartbeats come in; ReportRequests to
 *     agents and snapshots to peers go out;
 *   - an unbound unix datagram socket that sends snapshots and
 *     heartbeats to the classifier's health.socket (nobody there is
 *     counted, never waited for);
 *   - the unix stream socket health.status_socket for `halbctl health`
 *     and the operator's drain/disable/enable/weight (hd_oper.c), and
 *     its short-lived client connections;
 *   - one TCP socket per probe in flight (hc.h: a struct hc_check per
 *     probed backend, with its timeout).
 * The loop, the UDP and status sockets and the command line are the
 * core's (halb/daemon.h, halb/evloop.h, halb/ctl.h, halb/cli.h).  A
 * probe's timeout is its own timer (hc.h); the rest (probe starts,
 * agents' silence, heartbeats, full snapshots, request retries) is
 * checked by a sweep every HD_SWEEP_MS, so an idle healthd wakes ten
 * times a second; a change the events of a turn made goes out at the end
 * of that turn.  State is the cache's (hd_state.c); this file
 * moves bytes and time into it.  SIGHUP or `reload` on the status
 * socket reloads the file (hd_reload.c; docs/RELOAD.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "halb/cfg_reload.h"
#include "halb/cli.h"
#include "halb/ctl.h"
#include "halb/daemon.h"
#include "halb/evloop.h"
#include "halb/notify.h"
#include "halb/sock.h"
#include "hd.h"

#define HD_SWEEP_MS 100
#define HD_REQUEST_TRIES 3       /* ReportRequests to a silent agent at start */
#define HD_MAX_CLIENTS 8
#define HD_RX_BURST 64           /* datagrams read per wake-up */

struct healthd;

/* What a probe's result calls back with. */
struct probe_ref {
	struct healthd *d;
	uint32_t i;               /* the backend */
};

struct healthd {
	struct halb_cfg *cfg;
	struct hd *hd;
	struct halb_daemon dm;    /* the loop, health.listen, the status socket */
	int cls;
	struct sockaddr_un cls_addr;
	struct probe_ref *refs;   /* one per backend */
	struct ev_timer sweep;
	uint64_t next_hb, next_request;
	struct halb_ratelimit rl_reject, rl_cls, rl_peer;
};

/* ---- sending ---- */

/* The same snapshots and heartbeats to the remote classifiers that
 * have a health address (classifiers.list[].health; docs/CLASSIFIERS.md),
 * over health.listen's socket: best effort, as to the local one. */
static void
emit_remote_cls(struct healthd *d, const uint8_t *dg, size_t len)
{
	const struct cfg_classifiers *cc = &d->cfg->classifiers;
	uint32_t i;

	for (i = 0; i < cc->n_list; i++) {
		const struct cfg_cls_ent *e = &cc->list[i];
		struct sockaddr_storage ss;
		socklen_t sl;

		if (e->kind != CFG_CLS_REMOTE || !e->has_health)
			continue;
		sl = halb_sockaddr(&e->health_ip, e->health_port, &ss);
		if (sendto(d->dm.udp, dg, len, MSG_DONTWAIT, (struct sockaddr *)&ss,
			   sl) != (ssize_t)len)
			d->hd->c.cls_unreachable++;
	}
}

static int
emit_cls(void *arg, const uint8_t *dg, size_t len)
{
	struct healthd *d = arg;
	uint64_t held;

	emit_remote_cls(d, dg, len);
	if (sendto(d->cls, dg, len, MSG_DONTWAIT, (struct sockaddr *)&d->cls_addr,
		   sizeof(d->cls_addr)) == (ssize_t)len)
		return 0;
	d->hd->c.cls_unreachable++;
	if (halb_ratelimit(&d->rl_cls, halb_mono_ms(), &held))
		HLOG(WARNING, "classifier socket %s: %s (%" PRIu64 " more not logged): going on",
			d->cls_addr.sun_path, strerror(errno), held);
	return -errno;
}

struct peer_arg {
	struct healthd *d;
	uint32_t peer;
};

static int
emit_peer(void *arg, const uint8_t *dg, size_t len)
{
	struct peer_arg *pa = arg;
	struct healthd *d = pa->d;
	const struct cfg_peer *p = &d->cfg->health.peers[pa->peer];
	struct sockaddr_storage ss;
	socklen_t sl = halb_sockaddr(&p->ip, p->port, &ss);
	uint64_t held;

	if (sendto(d->dm.udp, dg, len, 0, (struct sockaddr *)&ss, sl) ==
	    (ssize_t)len) {
		d->hd->c.peer_sent++;
		return 0;
	}
	d->hd->c.peer_errors++;
	if (halb_ratelimit(&d->rl_peer, halb_mono_ms(), &held))
		HLOG(WARNING, "peer %s: %s (%" PRIu64 " more not logged)",
			p->name, strerror(errno), held);
	return -errno;
}

/* A snapshot to the classifier and to every peer. */
static void
send_snapshots(struct healthd *d, uint64_t now, bool force_full)
{
	struct hd *hd = d->hd;
	uint64_t unix_ms = halb_unix_ms();
	bool full;
	uint32_t i;
	int rc;

	full = force_full || d->hd->cls.want_full ||
	       now - hd->cls.last_full_ms >= HD_FULL_EVERY_MS;
	if (full || hd->any_dirty) {
		rc = hd_snap_send(hd, &d->cfg->health.key, full,
				  hd->cls.generation + 1, now, unix_ms, emit_cls,
				  d);
		if (rc > 0) {
			hd->cls.generation++;
			if (full) {
				hd->cls.last_full_ms = now;
				hd->cls.want_full = false;
			}
		} else if (rc < 0) {
			HLOG(ERR, "snapshot: %s", strerror(-rc));
		}
	}
	for (i = 0; i < d->cfg->health.n_peers; i++) {
		struct hd_stream *st = &hd->peers[i];
		struct peer_arg pa = { d, i };

		full = force_full || st->want_full ||
		       now - st->last_full_ms >= HD_FULL_EVERY_MS;
		if (!full && !hd->any_dirty)
			continue;
		/* Sealed with the pair's own key: what agents hold (health.key)
		 * never speaks to a peer. */
		if (hd_snap_send(hd, &d->cfg->health.peers[i].key, full,
				 st->generation + 1, now, unix_ms, emit_peer,
				 &pa) > 0) {
			st->generation++;
			if (full) {
				st->last_full_ms = now;
				st->want_full = false;
			}
		}
	}
	hd_snap_clean(hd);
}

static void
send_heartbeat(struct healthd *d)
{
	uint8_t buf[HL_MTU];
	int len;

	len = hd_heartbeat(d->hd, d->hd->cls.generation, halb_unix_ms(), buf);
	if (len > 0 && emit_cls(d, buf, (size_t)len) == 0)
		d->hd->c.heartbeats++;
}

/* ReportRequests: to every agent not heard since start (all of them the
 * first time), and to every peer the first time, so that they send us
 * their cache. */
static void
send_requests(struct healthd *d, const char *reason, bool peers)
{
	struct hd *hd = d->hd;
	struct sockaddr_storage ss;
	uint8_t buf[HL_MTU];
	socklen_t sl;
	uint32_t i;
	int len;

	len = hd_report_request(hd, &d->cfg->health.key, reason, halb_unix_ms(),
				buf);
	if (len <= 0)
		return;
	for (i = 0; i < hd->n_agents; i++) {
		struct hd_agent *a = &hd->agents[i];

		if (a->heard || a->requests >= HD_REQUEST_TRIES)
			continue;
		a->requests++;
		sl = halb_sockaddr(&a->cfg->addr, a->cfg->port, &ss);
		if (sendto(d->dm.udp, buf, (size_t)len, 0, (struct sockaddr *)&ss,
			   sl) == len)
			hd->c.requests_sent++;
		else
			hd->c.request_errors++;
	}
	for (i = 0; peers && i < d->cfg->health.n_peers; i++) {
		const struct cfg_peer *p = &d->cfg->health.peers[i];

		/* Each peer its own: sealed with the pair's key. */
		len = hd_report_request(hd, &p->key, reason, halb_unix_ms(), buf);
		sl = halb_sockaddr(&p->ip, p->port, &ss);
		if (len > 0 && sendto(d->dm.udp, buf, (size_t)len, 0,
				      (struct sockaddr *)&ss, sl) == len)
			hd->c.requests_sent++;
		else
			hd->c.request_errors++;
	}
}

/* ---- receiving ---- */

static int
peer_index(const struct healthd *d, const char *name)
{
	uint32_t i;

	for (i = 0; i < d->cfg->health.n_peers; i++)
		if (strcmp(d->cfg->health.peers[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
log_reject(struct healthd *d, const struct sockaddr *from, const uint8_t *buf,
	   size_t len, int rc, uint64_t now)
{
	char addr[80], claim[4 * HL_NAME_MAX + 1], who[sizeof(claim) + 24] = "";
	uint64_t held;

	if (!halb_ratelimit(&d->rl_reject, now, &held))
		return;
	/* Who it claims to be, for the operator; nothing is believed, and
	 * its bytes are escaped: a name is no way into the log's lines. */
	if (seal_peek_sender(buf, len, claim, sizeof(claim)) == 0)
		snprintf(who, sizeof(who), " claiming to be \"%s\"", claim);
	HLOG(WARNING, "refused a datagram from %s%s: %s (%" PRIu64 " more refusals not logged)",
	     halb_sockaddr_fmt(from, addr, sizeof(addr)), who,
	     seal_reject_name(rc), held);
}

static void
handle_msg(struct healthd *d, struct hl_opened *m, uint64_t now)
{
	struct hd *hd = d->hd;
	int pi = peer_index(d, m->sender);

	if (pi >= 0)
		hd->peer_heard_ms[pi] = now;
	switch (m->type) {
	case HL_T_HOST_REPORT:
		hd->c.rx_reports++;
		if (hd_apply_report(hd, m->sender, m->report, now) < 0)
			hd->c.unexpected++;
		break;
	case HL_T_CACHE_SNAPSHOT:
		hd->c.rx_snapshots++;
		if (pi < 0)
			hd->c.unexpected++;
		else
			hd_apply_peer(hd, m->snapshot, now);
		break;
	case HL_T_REPORT_REQUEST:
		hd->c.rx_requests++;
		if (pi < 0)
			hd->c.unexpected++;
		else
			hd->peers[pi].want_full = true;
		break;
	case HL_T_HEARTBEAT:
		hd->c.rx_heartbeats++;
		break;
	case HL_T_ACK:
		hd->c.rx_acks++;
		break;
	}
}

static void
on_dgram(struct ev_loop *ev, const uint8_t *buf, size_t len,
	 const struct sockaddr *from, void *arg)
{
	struct healthd *d = arg;
	uint64_t now = ev_now(ev);
	struct hl_opened m;
	int rc;

	d->hd->c.rx++;
	rc = hl_open(buf, len, d->hd->keys, d->hd->replay, halb_unix_ms(), &m);
	if (rc < 0) {
		d->hd->c.rejected[-rc]++;
		log_reject(d, from, buf, len, rc, now);
		return;
	}
	handle_msg(d, &m, now);
	hl_opened_free(&m);
}

/* ---- reload ---- */

static struct halb_cfg *load(const char *path);

/*
 * Loads d's file again and carries the cache over to it (hd_reload),
 * or refuses it changing nothing: a file that does not load, or a
 * change of what pairs healthd with its classifier and peers (health
 * keys, sockets, listen address, peers: cfg_reload_refused).  The
 * answer goes to msg.  0 or -errno.
 */
static int
reload(struct healthd *d, char *msg, size_t len)
{
	uint64_t now = halb_mono_ms();
	struct halb_cfg *cfg = load(d->cfg->path);
	struct probe_ref *refs;
	char why[200];
	struct hd *hd;
	uint32_t i, kept = 0;

	if (cfg == NULL) {
		snprintf(msg, len, "the file is not valid (halb-healthd's log says why): nothing reloaded");
		return -EINVAL;
	}
	if (cfg_reload_refused(d->cfg, cfg, why, sizeof(why)) != 0) {
		snprintf(msg, len, "reload refused: %s", why);
		cfg_free(cfg);
		return -EPERM;
	}
	hd = hd_reload(d->hd, cfg, now, &kept);
	refs = hd != NULL ? calloc(hd->n_be ? hd->n_be : 1, sizeof(*refs)) : NULL;
	if (refs == NULL) {
		snprintf(msg, len, "reload refused: no memory");
		hd_free(hd);
		cfg_free(cfg);
		return -ENOMEM;
	}
	/* The old cache's probes are cancelled with it, before anything
	 * can call back into its references. */
	hd_free(d->hd);
	free(d->refs);
	cfg_free(d->cfg);
	d->cfg = cfg;
	d->hd = hd;
	d->refs = refs;
	for (i = 0; i < hd->n_be; i++)
		d->refs[i] = (struct probe_ref){ d, i };
	snprintf(msg, len, "reloaded: %u backends (%u carried over), %u agent hosts",
		 hd->n_be, kept, hd->n_agents);
	HLOG(NOTICE, "%s: %s", cfg->path, msg);
	send_requests(d, "reload", false);
	send_snapshots(d, now, true);
	return 0;
}

static void
on_hup(struct ev_loop *ev, int signo, void *arg)
{
	char msg[256];

	(void)ev;
	(void)signo;
	if (reload(arg, msg, sizeof(msg)) != 0)
		HLOG(ERR, "SIGHUP: %s", msg);
}

/* ---- the status socket ---- */

static void
on_status(void *arg, const char *req, FILE *out)
{
	struct healthd *d = arg;

	if (strcmp(req, "reload") == 0) {
		char msg[256];
		int rc = reload(d, msg, sizeof(msg));

		hd_status_answer(out, rc == 0, msg);
	} else if (strcmp(req, "status") == 0) {
		hd_status_write(d->hd, halb_mono_ms(), out);
	} else if (strcmp(req, "snapshot") == 0) {
		d->hd->cls.want_full = true;
		fprintf(out, "{\"ok\":\"a full snapshot goes to the classifier now\"}\n");
	} else if (hd_oper_is_command(req)) {
		/* The change goes out at the end of this turn (after_events). */
		char msg[256];
		int rc = hd_oper_command(d->hd, req, halb_mono_ms(), msg,
					 sizeof(msg));

		hd_status_answer(out, rc == 0, msg);
	} else {
		fprintf(out, "{\"error\":\"unknown command; try status, snapshot, reload, drain, disable, enable or weight\"}\n");
	}
}

/* ---- probes ---- */

static void
probe_done(void *arg, enum hc_result r, const char *why)
{
	struct probe_ref *ref = arg;
	struct healthd *d = ref->d;

	(void)why; /* kept in the check, for the status */
	d->hd->probes_running--;
	if (r == HC_TIMEOUT)
		d->hd->c.probe_timeouts++;
	hd_probe_result(d->hd, ref->i, r == HC_OK, ev_now(d->dm.ev));
	/* On its way up or down: again at the next sweep, not the next
	 * interval (hc_rf_moving). */
	if (hc_rf_moving(&d->hd->be[ref->i].rf))
		d->hd->be[ref->i].next_probe_ms = ev_now(d->dm.ev);
}

static void
probe_start(struct healthd *d, uint32_t i, uint64_t now)
{
	struct hd_backend *be = &d->hd->be[i];
	const struct cfg_check *ck = &be->cb->check;
	const struct hc_target t = {
		.type = ck->type, .addr = ck->addr, .port = ck->port,
		.expect = ck->expect, .path = ck->path,
		.timeout_ms = ck->timeout_ms,
	};

	be->next_probe_ms = now + ck->interval_ms;
	d->hd->probes_running++;
	if (hc_check_start(&be->probe, d->dm.ev, &t, probe_done, &d->refs[i]) != 0)
		d->hd->probes_running--;
}

/* ---- the sweep ---- */

static void
sweep(struct ev_loop *ev, void *arg)
{
	struct healthd *d = arg;
	struct hd *hd = d->hd;
	uint64_t now = ev_now(ev);
	uint32_t i;

	for (i = 0; i < hd->n_be; i++) {
		struct hd_backend *be = &hd->be[i];

		if (be->cb->check.type == CFG_CHECK_NONE)
			continue;
		if (!hc_check_running(&be->probe) && now >= be->next_probe_ms) {
			if (hd->probes_running >= HD_MAX_PROBES)
				hd->c.probes_deferred++;
			else
				probe_start(d, i, now);
		}
	}
	/* Silence: an agent's backends go down by the clock alone. */
	hd_refresh_all(hd, now);
	if (now >= d->next_request && now - hd->start_ms < HD_REQUEST_TRIES * 1000u) {
		send_requests(d, "start-up: not heard yet", false);
		d->next_request = now + 1000;
	}
	send_snapshots(d, now, false);
	if (now >= d->next_hb) {
		send_heartbeat(d);
		d->next_hb = now + HD_HEARTBEAT_MS;
	}
}

/* After a turn's events: a change goes out at once, not at the sweep. */
static void
after_events(struct ev_loop *ev, void *arg)
{
	struct healthd *d = arg;

	if (d->hd->any_dirty || d->hd->cls.want_full)
		send_snapshots(d, ev_now(ev), false);
}

/* ---- set-up ---- */

static int
open_all(struct healthd *d)
{
	const struct cfg_health *h = &d->cfg->health;
	const struct halb_daemon_conf dc = {
		.ip = &h->listen_ip, .port = h->listen_port,
		.udp_key = "health.listen", .max_dgram = HL_MAX_DATAGRAM,
		.burst = HD_RX_BURST, .on_dgram = on_dgram,
		.ctl_path = h->status_socket, .ctl_key = "health.status_socket",
		.max_clients = HD_MAX_CLIENTS, .on_ctl = on_status, .arg = d,
		.on_hup = on_hup,
		.hb_instance = d->cfg->file_prefix, .hb_part = "healthd",
	};
	uint32_t i;
	int rc;

	d->refs = calloc(d->hd->n_be ? d->hd->n_be : 1, sizeof(*d->refs));
	if (d->refs == NULL)
		return -ENOMEM;
	for (i = 0; i < d->hd->n_be; i++)
		d->refs[i] = (struct probe_ref){ d, i };
	rc = halb_daemon_open(&d->dm, &dc);
	if (rc != 0)
		return rc;
	d->cls = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->cls < 0)
		return -errno;
	d->cls_addr.sun_family = AF_UNIX;
	snprintf(d->cls_addr.sun_path, sizeof(d->cls_addr.sun_path), "%s",
		 h->socket);
	ev_timer_init(&d->sweep, sweep, d);
	ev_timer_start(d->dm.ev, &d->sweep, HD_SWEEP_MS, HD_SWEEP_MS);
	ev_post(d->dm.ev, after_events, d);
	return 0;
}

static void
close_all(struct healthd *d)
{
	hd_free(d->hd);  /* stops the probes in flight: before the loop goes */
	if (d->cls >= 0)
		close(d->cls);
	free(d->refs);
	halb_daemon_close(&d->dm);
}

static int
run(struct healthd *d)
{
	uint64_t now = halb_mono_ms();
	int rc;

	d->rl_reject = (struct halb_ratelimit){ .period_ms = 10000, .burst = 10 };
	d->rl_cls = (struct halb_ratelimit){ .period_ms = 60000, .burst = 1 };
	d->rl_peer = (struct halb_ratelimit){ .period_ms = 60000, .burst = 2 };
	d->hd = hd_new(d->cfg, now);
	if (d->hd == NULL) {
		HLOG(ERR, "cannot build the cache: %s", strerror(errno));
		return 1;
	}
	/* The operator's decisions before anything is sent: a restarted
	 * healthd never undoes one, even for a moment. */
	rc = hd_oper_load(d->hd, now);
	if (rc < 0)
		HLOG(ERR, "cannot read the operator's decisions in %s: %s; going on without them",
		     d->cfg->health.state_file, strerror(-rc));
	if (open_all(d) != 0)
		return 1;
	HLOG(NOTICE, "%s: %u backends, %u agent hosts, %u peers; snapshots to %s, status on %s",
	     d->cfg->health.name, d->hd->n_be, d->hd->n_agents,
	     d->cfg->health.n_peers, d->cfg->health.socket,
	     d->cfg->health.status_socket);
	/* Ask everyone to report now, and tell the classifier what we have
	 * (perhaps nothing yet: it keeps its last state for what is not
	 * listed). */
	send_requests(d, "start-up", true);
	d->next_request = now + 1000;
	send_snapshots(d, now, true);
	send_heartbeat(d);
	d->next_hb = now + HD_HEARTBEAT_MS;
	halb_notify_ready();  /* sockets open: the loop runs next */
	return ev_main(d->dm.ev);
}

/* The file, and what healthd needs of it; NULL (said why) if unfit. */
static struct halb_cfg *
load(const char *path)
{
	struct halb_cfg *cfg = cfg_load(path, stderr);

	if (cfg != NULL && !cfg->has_health) {
		fprintf(stderr, "%s: no health { } section: halb-healthd needs one (docs/CONFIG.md, \"health\")\n",
			path);
		cfg_free(cfg);
		return NULL;
	}
	if (cfg != NULL && cfg->health.key.len == 0) {
		fprintf(stderr, "%s:%d: missing key \"key\" in health: halb-healthd seals its snapshots with it\n",
			path, cfg->health.line);
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

/* --check-config */
static int
check_config(const char *path)
{
	struct halb_cfg *cfg = load(path);

	if (cfg == NULL)
		return 1;
	printf("%s: ok for halb-healthd (%u agent hosts, %u peers, policy %s)\n",
	       path, cfg->health.n_agents, cfg->health.n_peers,
	       cfg_weight_policy_name(cfg->health.weight_policy));
	cfg_free(cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct halb_cli cli = {
		.prog = "halb-healthd",
		.what = "run the health and load handler",
		.check = check_config,
	};
	struct healthd d = { .dm.udp = -1, .cls = -1 };
	const char *path;
	int rc;

	rc = halb_cli(&cli, argc, argv, &path);
	if (rc >= 0)
		return rc;
	d.cfg = load(path);
	if (d.cfg == NULL)
		return 1;
	halb_log_open(d.cfg->log.level, d.cfg->log.syslog);
	rc = run(&d);
	close_all(&d);
	cfg_free(d.cfg);
	return rc;
}
