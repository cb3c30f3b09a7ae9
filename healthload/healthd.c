/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-healthd: the appliance's health and load handler (docs/HEALTH.md).
 *
 * One thread, one epoll loop.  It owns four kinds of descriptors:
 *   - the UDP socket on health.listen: agents' HostReports, peers'
 *     snapshots, requests and heartbeats come in; ReportRequests to
 *     agents and snapshots to peers go out;
 *   - an unbound unix datagram socket that sends snapshots and
 *     heartbeats to the classifier's health.socket (nobody there is
 *     counted, never waited for);
 *   - the unix stream socket health.status_socket for `halbctl health`,
 *     and its short-lived client connections;
 *   - one TCP socket per probe in flight.
 * Timers (probe starts and deadlines, agents' silence, heartbeats, full
 * snapshots, request retries) are checked by a sweep every HD_SWEEP_MS;
 * the loop sleeps in epoll_wait between, so an idle healthd wakes ten
 * times a second.  State is the cache's (hd_state.c); this file moves
 * bytes and time into it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hd.h"
#include "hlu.h"

#define HD_SWEEP_MS 100
#define HD_REQUEST_TRIES 3       /* ReportRequests to a silent agent at start */
#define HD_MAX_CLIENTS 8
#define HD_EVENTS 64

enum tag {
	T_UDP = 1,
	T_LISTEN,
	T_CLIENT,
	T_PROBE,
	T_SIGNAL,
};

#define TAG(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))

struct client {
	int fd;
	char in[64];
	size_t in_len;
	char *out;                /* the answer, written as the socket takes it */
	size_t out_len, out_off;
};

struct healthd {
	struct halb_cfg *cfg;
	struct hd *hd;
	int ep, udp, cls, listen, sig;
	struct sockaddr_un cls_addr;
	struct client clients[HD_MAX_CLIENTS];
	uint64_t next_hb, next_sweep, next_request;
	struct hlu_ratelimit rl_reject, rl_cls, rl_peer;
	bool stop;
};

static int
ep_add(struct healthd *d, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

static int
ep_mod(struct healthd *d, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(d->ep, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

/* ---- sending ---- */

static int
emit_cls(void *arg, const uint8_t *dg, size_t len)
{
	struct healthd *d = arg;
	uint64_t held;

	if (sendto(d->cls, dg, len, MSG_DONTWAIT, (struct sockaddr *)&d->cls_addr,
		   sizeof(d->cls_addr)) == (ssize_t)len)
		return 0;
	d->hd->c.cls_unreachable++;
	if (hlu_ratelimit(&d->rl_cls, hlu_mono_ms(), &held))
		HLU_LOG(WARNING, "classifier socket %s: %s (%" PRIu64 " more not logged): going on",
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
	socklen_t sl = hlu_sockaddr(&p->ip, p->port, &ss);
	uint64_t held;

	if (sendto(d->udp, dg, len, 0, (struct sockaddr *)&ss, sl) ==
	    (ssize_t)len) {
		d->hd->c.peer_sent++;
		return 0;
	}
	d->hd->c.peer_errors++;
	if (hlu_ratelimit(&d->rl_peer, hlu_mono_ms(), &held))
		HLU_LOG(WARNING, "peer %s: %s (%" PRIu64 " more not logged)",
			p->name, strerror(errno), held);
	return -errno;
}

/* A snapshot to the classifier and to every peer. */
static void
send_snapshots(struct healthd *d, uint64_t now, bool force_full)
{
	struct hd *hd = d->hd;
	uint64_t unix_ms = hlu_unix_ms();
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
			HLU_LOG(ERR, "snapshot: %s", strerror(-rc));
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

	len = hd_heartbeat(d->hd, d->hd->cls.generation, hlu_unix_ms(), buf);
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

	len = hd_report_request(hd, &d->cfg->health.key, reason, hlu_unix_ms(),
				buf);
	for (i = 0; len > 0 && i < hd->n_agents; i++) {
		struct hd_agent *a = &hd->agents[i];

		if (a->heard || a->requests >= HD_REQUEST_TRIES)
			continue;
		a->requests++;
		sl = hlu_sockaddr(&a->cfg->addr, a->cfg->port, &ss);
		if (sendto(d->udp, buf, (size_t)len, 0, (struct sockaddr *)&ss,
			   sl) == len)
			hd->c.requests_sent++;
		else
			hd->c.request_errors++;
	}
	for (i = 0; peers && i < d->cfg->health.n_peers; i++) {
		const struct cfg_peer *p = &d->cfg->health.peers[i];

		/* Each peer its own: sealed with the pair's key. */
		len = hd_report_request(hd, &p->key, reason, hlu_unix_ms(), buf);
		sl = hlu_sockaddr(&p->ip, p->port, &ss);
		if (len > 0 && sendto(d->udp, buf, (size_t)len, 0,
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

	if (!hlu_ratelimit(&d->rl_reject, now, &held))
		return;
	/* Who it claims to be, for the operator; nothing is believed, and
	 * its bytes are escaped: a name is no way into the log's lines. */
	if (seal_peek_sender(buf, len, claim, sizeof(claim)) == 0)
		snprintf(who, sizeof(who), " claiming to be \"%s\"", claim);
	HLU_LOG(WARNING, "refused a datagram from %s%s: %s (%" PRIu64 " more refusals not logged)",
		hlu_sockaddr_fmt(from, addr, sizeof(addr)), who,
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
on_udp(struct healthd *d, uint64_t now)
{
	uint8_t buf[HL_MAX_DATAGRAM + 1];
	struct sockaddr_storage from;
	struct hl_opened m;
	socklen_t fl;
	ssize_t n;
	int rc, i;

	for (i = 0; i < HD_EVENTS; i++) {
		fl = sizeof(from);
		n = recvfrom(d->udp, buf, sizeof(buf), MSG_TRUNC,
			     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		d->hd->c.rx++;
		/* MSG_TRUNC: n is the real length, even when it did not fit. */
		rc = hl_open(buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n,
			     d->hd->keys, d->hd->replay, hlu_unix_ms(), &m);
		if (rc < 0) {
			d->hd->c.rejected[-rc]++;
			log_reject(d, (struct sockaddr *)&from, buf,
				   (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n,
				   rc, now);
			continue;
		}
		handle_msg(d, &m, now);
		hl_opened_free(&m);
	}
}

/* ---- status clients ---- */

static void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void
on_listen(struct healthd *d)
{
	int fd, i;

	while ((fd = accept4(d->listen, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < HD_MAX_CLIENTS; i++)
			if (d->clients[i].fd < 0)
				break;
		if (i == HD_MAX_CLIENTS || ep_add(d, fd, EPOLLIN, TAG(T_CLIENT, i)) != 0) {
			close(fd);
			continue;
		}
		d->clients[i].fd = fd;
	}
}

static void
client_answer(struct healthd *d, struct client *c, uint64_t now)
{
	FILE *f;

	f = open_memstream(&c->out, &c->out_len);
	if (f == NULL)
		return;
	c->in[strcspn(c->in, "\r\n")] = '\0';
	if (strcmp(c->in, "status") == 0) {
		hd_status_write(d->hd, now, f);
	} else if (strcmp(c->in, "snapshot") == 0) {
		d->hd->cls.want_full = true;
		fprintf(f, "{\"ok\":\"a full snapshot goes to the classifier now\"}\n");
	} else {
		fprintf(f, "{\"error\":\"unknown command; try status or snapshot\"}\n");
	}
	fclose(f);
}

static void
on_client(struct healthd *d, uint32_t i, uint32_t events, uint64_t now)
{
	struct client *c = &d->clients[i];
	ssize_t n;

	if (c->out == NULL && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			client_close(c);
			return;
		}
		if (n < 0)
			return;
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		if (strchr(c->in, '\n') == NULL && c->in_len < sizeof(c->in) - 1)
			return;
		client_answer(d, c, now);
		if (c->out == NULL) {
			client_close(c);
			return;
		}
		ep_mod(d, c->fd, EPOLLOUT, TAG(T_CLIENT, i));
	}
	while (c->out != NULL && c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN)
				client_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out != NULL)
		client_close(c);
}

/* ---- probes ---- */

static void
probe_done(struct healthd *d, uint32_t i, enum hc_result r, uint64_t now)
{
	d->hd->probes_running--;
	hd_probe_result(d->hd, i, r == HC_OK, now);
}

static void
probe_start(struct healthd *d, uint32_t i, uint64_t now)
{
	struct hd_backend *be = &d->hd->be[i];
	const struct cfg_check *ck = &be->cb->check;
	struct sockaddr_storage ss;
	socklen_t sl = hlu_sockaddr(&ck->addr, ck->port, &ss);
	char a[HALB_IP_STRLEN], host[HALB_IP_STRLEN + 2];
	enum hc_result r;

	halb_ip_fmt(&ck->addr, a, sizeof(a));
	snprintf(host, sizeof(host), halb_ip_is_v4(&ck->addr) ? "%s" : "[%s]", a);
	be->next_probe_ms = now + ck->interval_ms;
	r = hc_probe_start(&be->probe, (struct sockaddr *)&ss, sl,
			   ck->type == CFG_CHECK_HTTP ? ck->path : NULL, host,
			   ck->expect, now + ck->timeout_ms);
	if (r == HC_PENDING &&
	    ep_add(d, be->probe.fd, hc_probe_events(&be->probe),
		   TAG(T_PROBE, i)) != 0) {
		hc_probe_abort(&be->probe);
		r = HC_FAIL;
	}
	if (r == HC_PENDING) {
		d->hd->probes_running++;
		return;
	}
	hd_probe_result(d->hd, i, false, now);
}

static void
on_probe(struct healthd *d, uint32_t i, uint64_t now)
{
	struct hd_backend *be;
	enum hc_result r;

	if (i >= d->hd->n_be || d->hd->be[i].probe.fd < 0)
		return;
	be = &d->hd->be[i];
	r = hc_probe_step(&be->probe);
	if (r == HC_PENDING)
		ep_mod(d, be->probe.fd, hc_probe_events(&be->probe),
		       TAG(T_PROBE, i));
	else
		probe_done(d, i, r, now);
}

/* ---- the sweep ---- */

static void
sweep(struct healthd *d, uint64_t now)
{
	struct hd *hd = d->hd;
	uint32_t i;

	for (i = 0; i < hd->n_be; i++) {
		struct hd_backend *be = &hd->be[i];

		if (be->cb->check.type == CFG_CHECK_NONE)
			continue;
		if (be->probe.fd >= 0 && now >= be->probe.deadline_ms) {
			hc_probe_abort(&be->probe);
			hd->c.probe_timeouts++;
			probe_done(d, i, HC_FAIL, now);
		}
		if (be->probe.fd < 0 && now >= be->next_probe_ms) {
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

/* ---- set-up ---- */

static int
open_sockets(struct healthd *d)
{
	const struct cfg_health *h = &d->cfg->health;
	char a[HALB_IP_STRLEN];
	sigset_t mask;
	int rc;

	d->ep = epoll_create1(EPOLL_CLOEXEC);
	if (d->ep < 0)
		return -errno;
	d->udp = hlu_udp_bind(&h->listen_ip, h->listen_port);
	if (d->udp < 0) {
		HLU_LOG(ERR, "cannot bind UDP %s port %u (health.listen): %s",
			halb_ip_fmt(&h->listen_ip, a, sizeof(a)), h->listen_port,
			strerror(-d->udp));
		return d->udp;
	}
	d->cls = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->cls < 0)
		return -errno;
	d->cls_addr.sun_family = AF_UNIX;
	snprintf(d->cls_addr.sun_path, sizeof(d->cls_addr.sun_path), "%s",
		 h->socket);
	d->listen = hlu_unix_bind(h->status_socket, SOCK_STREAM);
	if (d->listen < 0) {
		HLU_LOG(ERR, "cannot listen on %s (health.status_socket): %s",
			h->status_socket, strerror(-d->listen));
		return d->listen;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig < 0)
		return -errno;
	rc = ep_add(d, d->udp, EPOLLIN, TAG(T_UDP, 0));
	if (rc == 0)
		rc = ep_add(d, d->listen, EPOLLIN, TAG(T_LISTEN, 0));
	if (rc == 0)
		rc = ep_add(d, d->sig, EPOLLIN, TAG(T_SIGNAL, 0));
	return rc;
}

static void
close_all(struct healthd *d)
{
	uint32_t i;

	for (i = 0; i < HD_MAX_CLIENTS; i++)
		client_close(&d->clients[i]);
	if (d->listen >= 0) {
		close(d->listen);
		unlink(d->cfg->health.status_socket);
	}
	if (d->udp >= 0)
		close(d->udp);
	if (d->cls >= 0)
		close(d->cls);
	if (d->sig >= 0)
		close(d->sig);
	if (d->ep >= 0)
		close(d->ep);
	hd_free(d->hd);
}

static int
run(struct healthd *d)
{
	struct epoll_event ev[HD_EVENTS];
	uint64_t now = hlu_mono_ms();
	int n, i, timeout;

	d->hd = hd_new(d->cfg, now);
	if (d->hd == NULL) {
		HLU_LOG(ERR, "cannot build the cache: %s", strerror(errno));
		return 1;
	}
	if (open_sockets(d) != 0)
		return 1;
	HLU_LOG(NOTICE, "%s: %u backends, %u agent hosts, %u peers; snapshots to %s, status on %s",
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
	d->next_sweep = now + HD_SWEEP_MS;

	while (!d->stop) {
		now = hlu_mono_ms();
		timeout = d->next_sweep > now ? (int)(d->next_sweep - now) : 0;
		n = epoll_wait(d->ep, ev, HD_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			HLU_LOG(ERR, "epoll_wait: %s", strerror(errno));
			return 1;
		}
		now = hlu_mono_ms();
		for (i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(ev[i].data.u64 >> 32);
			uint32_t idx = (uint32_t)ev[i].data.u64;

			switch (kind) {
			case T_UDP:
				on_udp(d, now);
				break;
			case T_LISTEN:
				on_listen(d);
				break;
			case T_CLIENT:
				on_client(d, idx, ev[i].events, now);
				break;
			case T_PROBE:
				on_probe(d, idx, now);
				break;
			case T_SIGNAL:
				d->stop = true;
				break;
			}
		}
		/* A change goes out at once, not at the next sweep. */
		if (d->hd->any_dirty || d->hd->cls.want_full)
			send_snapshots(d, now, false);
		if (now >= d->next_sweep) {
			sweep(d, now);
			d->next_sweep = now + HD_SWEEP_MS;
		}
	}
	HLU_LOG(NOTICE, "stopping");
	return 0;
}

/* --check-config: the file, and what healthd needs of it. */
static int
check_config(const char *path)
{
	struct halb_cfg *cfg = cfg_load(path, stderr);
	int rc = 0;

	if (cfg == NULL)
		return 1;
	if (cfg->health.key.len == 0) {
		fprintf(stderr, "%s:%d: missing key \"key\" in health: halb-healthd seals its snapshots with it\n",
			path, cfg->health.line);
		rc = 1;
	} else {
		printf("%s: ok for halb-healthd (%u agent hosts, %u peers, policy %s)\n",
		       path, cfg->health.n_agents, cfg->health.n_peers,
		       cfg_weight_policy_name(cfg->health.weight_policy));
	}
	cfg_free(cfg);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: halb-healthd -c CONFIG [-v]\n"
		"       halb-healthd --check-config CONFIG\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct healthd d = { .ep = -1, .udp = -1, .cls = -1, .listen = -1,
			     .sig = -1 };
	const char *path = NULL;
	int opt, rc, i;

	hlu_prog = "halb-healthd";
	while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			return check_config(optarg);
		case 'v':
			hlu_verbosity = HLU_DEBUG;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage();
		return 2;
	}
	d.cfg = cfg_load(path, stderr);
	if (d.cfg == NULL)
		return 1;
	if (d.cfg->health.key.len == 0) {
		fprintf(stderr, "%s:%d: missing key \"key\" in health: halb-healthd seals its snapshots with it\n",
			path, d.cfg->health.line);
		cfg_free(d.cfg);
		return 1;
	}
	for (i = 0; i < HD_MAX_CLIENTS; i++)
		d.clients[i].fd = -1;
	d.rl_reject = (struct hlu_ratelimit){ .period_ms = 10000, .burst = 10 };
	d.rl_cls = (struct hlu_ratelimit){ .period_ms = 60000, .burst = 1 };
	d.rl_peer = (struct hlu_ratelimit){ .period_ms = 60000, .burst = 2 };
	rc = run(&d);
	close_all(&d);
	cfg_free(d.cfg);
	return rc;
}
