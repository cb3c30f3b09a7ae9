/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-had's looks at the appliance and its orders to BIRD (ha/looks.h).
 * Nothing here decides: each function reads or does one thing and says
 * what it found; ha/main.c hands it to the supervisor.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "halb/bird.h"
#include "halb/cfg.h"
#include "halb/ctl.h"
#include "halb/log.h"
#include "halb/tlm.h"
#include "looks.h"

void
ha_looks_init(struct ha_looks *l, const struct halb_cfg *cfg)
{
	unsigned int v;

	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->tlm_fd = -1;
	if (cfg->bgp.has)
		l->n_vips = bird_conf_vips(cfg, l->vip_svc, HA_MAX_VIPS);
	if (l->n_vips > HA_MAX_VIPS)
		l->n_vips = HA_MAX_VIPS;
	for (v = 0; v < l->n_vips; v++) {
		const struct halb_ip *ip = &cfg->services[l->vip_svc[v]].vip;

		bird_vip_name(ip, l->vip_name[v], sizeof(l->vip_name[v]));
		halb_ip_fmt(ip, l->vip_addr[v], sizeof(l->vip_addr[v]));
		l->serving[v] = true;
	}
}

void
ha_looks_close(struct ha_looks *l)
{
	if (l->tlm_fd >= 0)
		close(l->tlm_fd);
	l->tlm_fd = -1;
}

/* ---- halb-healthd ---- */

/* The VIP of the service named name, as our numbering: -1 if none. */
static int
vip_of_service(const struct ha_looks *l, const char *name)
{
	const struct halb_cfg *cfg = l->cfg;
	unsigned int j, v;

	for (j = 0; j < cfg->n_services; j++) {
		if (strcmp(cfg->services[j].name, name) != 0)
			continue;
		for (v = 0; v < l->n_vips; v++)
			if (halb_ip_eq(&cfg->services[l->vip_svc[v]].vip,
				       &cfg->services[j].vip))
				return (int)v;
		return -1;
	}
	return -1;
}

int
ha_looks_health(struct ha_looks *l)
{
	char *text, *line, *next;
	unsigned int v;
	json_error_t jerr;

	if (l->n_vips == 0)
		return 0;
	text = ctl_request(l->cfg->health.status_socket, "status\n",
			   HA_LOOK_TIMEOUT_MS, NULL);
	if (text == NULL) {
		int rc = -errno;

		if (l->health_ok)
			HLOG(WARNING, "halb-healthd at %s does not answer (%s): the VIPs keep the state they had",
			     l->cfg->health.status_socket, strerror(-rc));
		l->health_ok = false;
		return rc;
	}
	for (v = 0; v < l->n_vips; v++)
		l->backends[v] = l->backends_up[v] = 0;
	for (line = text; *line != '\0'; line = next) {
		const char *svc, *state;
		json_t *o;
		int x;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line == '\0')
			continue;
		o = json_loads(line, 0, &jerr);
		if (o == NULL)
			continue;
		svc = json_string_value(json_object_get(o, "service"));
		state = json_string_value(json_object_get(o, "state"));
		x = svc != NULL && state != NULL ? vip_of_service(l, svc) : -1;
		if (x >= 0) {
			l->backends[x]++;
			/* Up, draining (established ones still served) or
			 * not known yet: only down takes none. */
			l->backends_up[x] += strcmp(state, "down") != 0;
		}
		json_decref(o);
	}
	free(text);
	for (v = 0; v < l->n_vips; v++)
		l->serving[v] = l->backends[v] == 0 || l->backends_up[v] > 0;
	l->health_ok = true;
	return 0;
}

/* ---- halb-sessiond ---- */

int
ha_parse_peer(const char *line, struct ha_peer *p)
{
	char name[CFG_HOST_LEN], state[16], rest[16];
	const char *s;
	unsigned long long ms;

	memset(p, 0, sizeof(*p));
	if (sscanf(line, "peer %63s %*s %15[a-z]", name, state) != 2)
		return -EINVAL;
	if (strcmp(state, "alive") != 0 && strcmp(state, "dead") != 0)
		return -EINVAL;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->alive = strcmp(state, "alive") == 0;
	p->synced = strstr(line, ": alive synced,") != NULL;
	s = strstr(line, "last heard ");
	if (s != NULL && sscanf(s, "last heard %llu ms ago", &ms) == 1) {
		p->heard = true;
		p->heard_ago_ms = ms;
	}
	s = strstr(line, ", backlog ");
	if (s == NULL || sscanf(s, ", backlog %" SCNu32 "%15s", &p->backlog, rest) < 1)
		return -EINVAL;
	s = strstr(line, ", in flight ");
	if (s == NULL || sscanf(s, ", in flight %" SCNu32, &p->in_flight) != 1)
		return -EINVAL;
	return 0;
}

int
ha_looks_sessiond(struct ha_looks *l)
{
	char *text, *line, *next;
	struct ha_peer p;
	unsigned int n = 0, k;

	text = ctl_request(l->cfg->sessions.socket, "status\n",
			   HA_LOOK_TIMEOUT_MS, NULL);
	if (text == NULL) {
		l->sess_ok = false;
		return -errno;
	}
	for (line = text; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (ha_parse_peer(line, &p) != 0 || n == CFG_MAX_SYNC_PEERS)
			continue;
		/* A peer's death or return, once per change. */
		for (k = 0; k < l->n_peers; k++) {
			const struct ha_peer *o = &l->peers[k];

			if (strcmp(o->name, p.name) != 0)
				continue;
			if (o->alive && !p.alive)
				HLOG(WARNING, "peer %s is dead (sessiond last heard it %" PRIu64 " ms ago): its connections that come here are served from the replica",
				     p.name, p.heard_ago_ms);
			else if (!o->alive && p.alive)
				HLOG(NOTICE, "peer %s is alive", p.name);
		}
		l->peers[n++] = p;
	}
	free(text);
	/* Peers are listed in the same order each time: a table that
	 * shrank keeps no stale row. */
	l->n_peers = n;
	l->sess_ok = true;
	return 0;
}

bool
ha_looks_replicated(const struct ha_looks *l)
{
	unsigned int k, alive = 0;

	if (!l->sess_ok)
		return false;
	for (k = 0; k < l->n_peers; k++) {
		const struct ha_peer *p = &l->peers[k];

		if (!p->alive)
			continue;
		alive++;
		if (!p->synced || p->backlog != 0 || p->in_flight != 0)
			return false;
	}
	return alive > 0;
}

/* ---- the forwarder's traffic ---- */

static uint64_t
ju(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* The forwarder's telemetry socket, opened when it is not: 0, or
 * -EAGAIN (not now), -errno. */
static int
tlm_conn(struct ha_looks *l, uint64_t now_ms, uint64_t fwd_age_ms)
{
	const struct timeval tv = { .tv_usec = HA_LOOK_TIMEOUT_MS * 1000 };
	char path[128];
	int fd;

	if (l->tlm_fd < 0) {
		/* A connect waits for the greeting (3 s): only to a
		 * forwarder that beat just now, once a second at most. */
		if (fwd_age_ms > 50 || now_ms - l->tlm_try_ms < 1000)
			return -EAGAIN;
		l->tlm_try_ms = now_ms;
		fd = tlm_open(l->cfg->file_prefix, path, sizeof(path));
		if (fd < 0)
			return fd;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
			close(fd);
			return -errno;
		}
		l->tlm_fd = fd;
		l->have_pkts = false;
		l->pps_ok = false;
	}
	return 0;
}

/* The forwarder's answer to telemetry command cmd (NULL, *rc set, when
 * there is none: the connection is closed, and made again at a later
 * turn). */
static json_t *
tlm_ask(struct ha_looks *l, uint64_t now_ms, uint64_t fwd_age_ms,
	const char *cmd, int *rc)
{
	char why[128];
	json_t *reply;

	*rc = tlm_conn(l, now_ms, fwd_age_ms);
	if (*rc != 0)
		return NULL;
	reply = tlm_query(l->tlm_fd, cmd, why, sizeof(why));
	if (reply == NULL) {
		HLOG(INFO, "the forwarder's telemetry: %s: %s: connecting again", cmd, why);
		ha_looks_close(l);
		l->pps_ok = false;
		*rc = -EIO;
	}
	return reply;
}

int
ha_looks_traffic(struct ha_looks *l, uint64_t now_ms, uint64_t fwd_age_ms)
{
	const json_t *body;
	json_t *reply;
	uint64_t pkts;
	int rc;

	reply = tlm_ask(l, now_ms, fwd_age_ms, "/halb/stats", &rc);
	if (reply == NULL)
		return rc;
	body = json_object_iter_value(json_object_iter(reply));
	pkts = ju(body, "rx");
	/* BFD, BGP and the agents' reports go to the kernel: not VIP
	 * traffic, and they go on after a withdraw. */
	pkts -= ju(body, "to_kernel") < pkts ? ju(body, "to_kernel") : pkts;
	json_decref(reply);
	if (l->have_pkts && now_ms > l->pkts_ms && pkts >= l->pkts) {
		l->pps = (pkts - l->pkts) * 1000 / (now_ms - l->pkts_ms);
		l->pps_ok = true;
	}
	l->have_pkts = true;
	l->pkts = pkts;
	l->pkts_ms = now_ms;
	return 0;
}

int
ha_looks_classifier(struct ha_looks *l, uint64_t now_ms, uint64_t fwd_age_ms)
{
	const json_t *body;
	const char *active;
	json_t *reply;
	int rc;

	reply = tlm_ask(l, now_ms, fwd_age_ms, "/halb/classifiers", &rc);
	if (reply == NULL)
		return rc;
	body = json_object_iter_value(json_object_iter(reply));
	active = json_string_value(json_object_get(body, "active"));
	if (active == NULL) {
		json_decref(reply);
		return -EPROTO;
	}
	snprintf(l->cls_active, sizeof(l->cls_active), "%s", active);
	l->cls_local_pid = (int)json_integer_value(json_object_get(body, "local_pid"));
	l->cls_ms = now_ms;
	json_decref(reply);
	return 0;
}

/* ---- BIRD ---- */

int
ha_looks_route(struct ha_looks *l, unsigned int vip, bool on)
{
	struct bird_conn c;
	int rc;

	if (vip >= l->n_vips)
		return -EINVAL;
	rc = bird_open(&c, l->cfg->bgp.socket, HA_BIRD_TIMEOUT_MS);
	if (rc != 0)
		return rc;
	rc = bird_proto_enable(&c, l->vip_name[vip], on);
	bird_close(&c);
	return rc;
}
