/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's view of backend health and load.
 *
 * halb-healthd sends sealed CacheSnapshots and Heartbeats to a unix
 * datagram socket the classifier binds (health.socket).  Each accepted
 * change of state or weight is applied per service: the schedulers get
 * the new weights (a backend that is down or draining has weight 0 for
 * new connections), the Maglev table is rebuilt into the buffer the
 * workers are not reading and published by one atomic store (one grace
 * period for all the services a batch of messages changed; a failed
 * rebuild keeps the previous weights in both and is retried), and flows
 * of a backend that went down are evicted if the service says
 * down_flows = "reset" and the backend stays down for the service's
 * down_hold (a flap shorter than that keeps them; an operator's disable
 * evicts at once).  Installed flows never move otherwise: a weight
 * or another backend's change touches only new connections.
 *
 * What was applied is kept in the forwarder's shared memory, so a
 * restarted classifier starts from it, and a silent handler leaves the
 * last state in force (counted and logged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "halb/hl_msg.h"
#include "halb/sock.h"
#include "halb/mh.h"
#include "cls.h"

#define HEALTH_POLL_US 1000
#define HEALTH_BURST 64
/* A Maglev rebuild that failed (memory) is tried again this much later. */
#define CLS_APPLY_RETRY_MS 100u

uint64_t
cls_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t
effective_weight(const struct halb_be_health *h)
{
	return h->state == HALB_HEALTH_UP ? h->weight : 0;
}

/*
 * Rebuilds service s's scheduler and Maglev table from the applied
 * health, into the buffer that is not current; the caller has waited a
 * grace period since the previous flip (apply_pending), so no worker
 * still reads that buffer.  On failure nothing changes: the scheduler
 * and the published table still agree, on the previous weights.
 */
static int
service_build(struct cls *c, uint32_t s)
{
	const struct cfg_service *cs = &c->cfg->services[s];
	struct halb_mh_shm *mh = &c->shm->mh[s];
	uint32_t w[CFG_MAX_BACKENDS], b, next;
	int rc;

	/* A retired or free slot has no lookup entry: nothing picks from
	 * its table (the forwarder gives a reused slot its first one). */
	if (cs->slot != CFG_SLOT_LIVE || mh->table[0] == NULL)
		return 0;
	/* A retired backend (a reload removed it) keeps its health until
	 * its slot is reused: no new connection, whatever the scheduler. */
	for (b = 0; b < cs->n_backends; b++)
		w[b] = cs->backends[b].slot == CFG_SLOT_LIVE ?
		       effective_weight(&c->shm->health[s][b]) : 0;
	next = __atomic_load_n(&mh->cur, __ATOMIC_ACQUIRE) ^ 1;
	rc = svc_maglev_build(cs, w, mh->table[next], mh->size);
	if (rc != 0)
		return rc;
	__atomic_store_n(&mh->cur, next, __ATOMIC_RELEASE);
	c->shm->cls.mh_rebuilds++;
	sched_init(&c->sched[s], cs->sched, w, cs->n_backends);
	c->sched[s].mh = mh->table[next];
	c->sched[s].mh_size = mh->size;
	return 0;
}

/*
 * Applies the services whose health changed (c->hdirty): one grace
 * period for the whole batch, however many services it touches (one per
 * service held the classifier, and its heartbeat, for as many).  A
 * service that fails to build stays dirty, is counted (mh_failed) and is
 * retried after CLS_APPLY_RETRY_MS.  Returns the services still dirty.
 */
uint32_t
cls_health_apply(struct cls *c, uint64_t now_ms)
{
	uint32_t s, left = 0;
	bool any = false;
	int rc;

	for (s = 0; s < c->cfg->n_services; s++)
		any |= c->hdirty[s];
	if (!any)
		return 0;
	rte_rcu_qsbr_synchronize(c->shm->qsbr, RTE_QSBR_THRID_INVALID);
	c->shm->cls.grace_periods++;
	for (s = 0; s < c->cfg->n_services; s++) {
		if (!c->hdirty[s])
			continue;
		rc = service_build(c, s);
		if (rc == 0) {
			if (c->hfailed[s])
				CLS_LOG(INFO, "service %s: Maglev table rebuilt after earlier failures",
					c->cfg->services[s].name);
			c->hdirty[s] = c->hfailed[s] = false;
			continue;
		}
		c->shm->cls.mh_failed++;
		if (!c->hfailed[s])
			CLS_LOG(ERR, "service %s: Maglev rebuild failed: %s; the previous weights stay in force, retrying every %u ms",
				c->cfg->services[s].name, strerror(-rc),
				CLS_APPLY_RETRY_MS);
		c->hfailed[s] = true;
		left++;
	}
	c->hretry_ms = left ? now_ms + CLS_APPLY_RETRY_MS : 0;
	return left;
}

int
cls_health_init(struct cls *c)
{
	const struct halb_cfg *cfg = c->cfg;
	uint64_t now = cls_wall_ms();
	uint32_t s;
	int rc;

	c->hfd = -1;
	if (!c->shm->health_valid) {
		/* Every slot from its configuration (cls_slots_health). */
		memset(c->shm->health_id, 0, sizeof(c->shm->health_id));
		c->shm->health_valid = 1;
	} else {
		CLS_LOG(INFO, "starting from the health the forwarder remembers");
	}
	for (s = 0; s < cfg->n_services; s++) {
		/* Slots that a reload gave to another backend while no
		 * classifier was attached start from their configuration. */
		cls_slots_health(c, s, now);
		cls_slots_evict(c, s);
		c->hdirty[s] = true;
	}
	if (cls_health_apply(c, now) != 0)
		return -ENOMEM; /* mh_build's only run-time failure */
	cls_view_ack(c, 0);
	if (!cfg->has_health)
		return 0;
	if (cfg->health.key.len == 0) {
		CLS_LOG(WARNING, "health { } has no key: snapshots cannot be verified, ignoring the health handler");
		return 0;
	}
	c->hkeys = seal_keyring_new(4);
	c->hreplay = seal_replay_new(4, cfg->health.report_window_ms);
	if (c->hkeys == NULL || c->hreplay == NULL)
		return -ENOMEM;
	rc = seal_keyring_add(c->hkeys, cfg->health.name, &cfg->health.key,
			      SEAL_ROLE_HANDLER);
	if (rc != 0)
		return rc;
	c->hfd = halb_unix_bind(c->cfg->health.socket, SOCK_DGRAM);
	if (c->hfd < 0) {
		CLS_LOG(ERR, "cannot bind %s: %s", cfg->health.socket,
			strerror(-c->hfd));
		return c->hfd;
	}
	c->hlast_ms = now;
	CLS_LOG(INFO, "health: listening on %s for %s", cfg->health.socket,
		cfg->health.name);
	return 0;
}

void
cls_health_fini(struct cls *c)
{
	if (c->hfd >= 0) {
		close(c->hfd);
		unlink(c->cfg->health.socket);
	}
	seal_keyring_free(c->hkeys);
	seal_replay_free(c->hreplay);
}

/* Service and backend indices of a snapshot entry, or -1. */
static int
find_backend(const struct cls *c, const Halb__Health__BackendState *bs,
	     uint32_t *s_out, uint32_t *b_out)
{
	const struct halb_cfg *cfg = c->cfg;
	struct halb_ip ip;
	uint32_t s, b;

	if (bs->service == NULL || bs->address == NULL ||
	    halb_ip_parse(bs->address, &ip) != 0)
		return -1;
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];

		/* Retired slots: halb-healthd no longer has them (a retired
		 * slot's name may be a live one's too). */
		if (cs->slot != CFG_SLOT_LIVE || strcmp(cs->name, bs->service) != 0)
			continue;
		for (b = 0; b < cs->n_backends; b++) {
			uint16_t port = cs->backends[b].port ? cs->backends[b].port :
							       cs->port;

			if (cs->backends[b].slot == CFG_SLOT_LIVE && halb_ip_eq(&cs->backends[b].ip, &ip) && port == bs->port) {
				*s_out = s;
				*b_out = b;
				return 0;
			}
		}
	}
	return -1;
}

/* Applies a snapshot's entries to the health in shared memory and marks
 * the services whose weights changed (c->hdirty); cls_health_poll
 * rebuilds them once its burst of messages is read. */
static void
apply_snapshot(struct cls *c, const Halb__Health__CacheSnapshot *snap,
	       uint64_t now_ms)
{
	bool changed[CFG_MAX_SERVICES] = { false };
	uint32_t i, s, b;

	for (i = 0; i < snap->n_backends; i++) {
		const Halb__Health__BackendState *bs = snap->backends[i];
		struct halb_be_health *h, nh;
		const struct cfg_service *cs;
		char ip[HALB_IP_STRLEN];

		if (find_backend(c, bs, &s, &b) != 0 ||
		    (int)bs->state < HALB_HEALTH_UP || (int)bs->state > HALB_HEALTH_DRAINING) {
			c->shm->cls.health_ignored++;
			continue;
		}
		cs = &c->cfg->services[s];
		h = &c->shm->health[s][b];
		nh = *h;
		nh.state = (uint8_t)bs->state;
		nh.source = (uint8_t)bs->source;
		nh.weight = bs->weight;
		if (bs->load != NULL) {
			nh.cpu_permille = bs->load->cpu_permille;
			nh.conns = bs->load->active_connections;
		}
		nh.updated_ms = now_ms;
		if (nh.state != h->state || effective_weight(&nh) != effective_weight(h)) {
			changed[s] = true;
			CLS_LOG(INFO, "service %s: backend %s:%u %s weight %u (was %s weight %u)",
				cs->name, halb_ip_fmt(&cs->backends[b].ip, ip, sizeof(ip)),
				bs->port,
				nh.state == HALB_HEALTH_UP ? "up" :
				nh.state == HALB_HEALTH_DOWN ? "down" : "draining",
				nh.weight,
				h->state == HALB_HEALTH_UP ? "up" :
				h->state == HALB_HEALTH_DOWN ? "down" : "draining",
				h->weight);
		}
		if (nh.state != HALB_HEALTH_DOWN)
			c->down_ms[s][b] = 0;
		else if (h->state != HALB_HEALTH_DOWN)
			c->down_ms[s][b] = now_ms;
		*h = nh;
		/* Draining keeps its flows; down ones go if the service says
		 * so, once down_hold has passed. */
		c->evict[s][b] = cls_down_evicts(c, s, b, now_ms);
	}
	for (s = 0; s < c->cfg->n_services; s++)
		if (changed[s])
			c->hdirty[s] = c->hchanged = true;
}

bool
cls_down_evicts(struct cls *c, uint32_t s, uint32_t b, uint64_t now_ms)
{
	const struct cfg_service *cs = &c->cfg->services[s];
	const struct halb_be_health *h = &c->shm->health[s][b];
	uint64_t due;

	if (h->state != HALB_HEALTH_DOWN || cs->down_flows != CFG_DOWN_RESET)
		return false;
	if (h->source == HALB_SRC_OPERATOR)
		return true; /* the operator means it */
	/* Down before this classifier saw it go (a restart, a reload):
	 * the hold starts now. */
	if (c->down_ms[s][b] == 0)
		c->down_ms[s][b] = now_ms;
	due = c->down_ms[s][b] + cs->down_hold_ms;
	if (now_ms >= due)
		return true;
	if (c->hold_due_ms == 0 || due < c->hold_due_ms)
		c->hold_due_ms = due;
	return false;
}

/* A down_hold ended: marks the live backends whose hold is over (those
 * that came back meanwhile are up, and stay unmarked). */
static void
holds_expire(struct cls *c, uint64_t now_ms)
{
	uint32_t s, b;

	c->hold_due_ms = 0;
	for (s = 0; s < c->cfg->n_services; s++) {
		const struct cfg_service *cs = &c->cfg->services[s];

		if (cs->slot != CFG_SLOT_LIVE || cs->down_flows != CFG_DOWN_RESET)
			continue;
		for (b = 0; b < cs->n_backends; b++)
			if (cs->backends[b].slot == CFG_SLOT_LIVE &&
			    !c->evict[s][b] && c->down_ms[s][b] != 0 &&
			    cls_down_evicts(c, s, b, now_ms)) {
				char ip[HALB_IP_STRLEN];

				c->evict[s][b] = true;
				CLS_LOG(INFO, "service %s: backend %s down for %u ms: its flows are reset",
					cs->name,
					halb_ip_fmt(&cs->backends[b].ip, ip, sizeof(ip)),
					cs->down_hold_ms);
			}
	}
}

void
cls_health_poll(struct cls *c, uint64_t now_tsc)
{
	uint8_t buf[HL_MAX_DATAGRAM + 1];
	uint64_t now_ms;
	unsigned int n;

	if (c->hfd < 0 || now_tsc < c->hpoll_tsc)
		return;
	c->hpoll_tsc = now_tsc + c->shm->tsc_hz / 1000000 * HEALTH_POLL_US;
	now_ms = cls_wall_ms();
	for (n = 0; n < HEALTH_BURST; n++) {
		struct hl_opened m;
		ssize_t len = recv(c->hfd, buf, sizeof(buf), 0);
		int rc;

		if (len < 0)
			break;
		rc = hl_open(buf, (size_t)len, c->hkeys, c->hreplay, now_ms, &m);
		if (rc != 0) {
			c->shm->cls.health_rejected++;
			continue;
		}
		c->shm->cls.health_msgs++;
		c->hlast_ms = now_ms;
		if (c->hsilent) {
			c->hsilent = false;
			CLS_LOG(INFO, "health handler %s is back", m.sender);
		}
		if (m.type == HL_T_CACHE_SNAPSHOT)
			apply_snapshot(c, m.snapshot, now_ms);
		hl_opened_free(&m);
	}
	if (c->hold_due_ms != 0 && now_ms >= c->hold_due_ms)
		holds_expire(c, now_ms);
	/* What this poll's messages changed, and what failed before when
	 * its retry is due: one grace period for all of it. */
	if (c->hchanged || (c->hretry_ms != 0 && now_ms >= c->hretry_ms)) {
		c->hchanged = false;
		cls_view_ack(c, cls_health_apply(c, now_ms));
	}
	if (!c->hsilent && now_ms - c->hlast_ms > c->cfg->health.handler_timeout_ms) {
		c->hsilent = true;
		c->shm->cls.health_silent++;
		CLS_LOG(WARNING, "health handler silent for %" PRIu64 " ms: keeping the last known state",
			now_ms - c->hlast_ms);
	}
}
