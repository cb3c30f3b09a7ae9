/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's view of backend health and load.
 *
 * halb-healthd sends sealed CacheSnapshots and Heartbeats to a unix
 * datagram socket the classifier binds (health.socket).  Each accepted
 * change of state or weight is applied per service: the schedulers get
 * the new weights (a backend that is down or draining has weight 0 for
 * new connections), the Maglev table is rebuilt into the buffer the
 * workers are not reading and published by one atomic store, and flows
 * of a backend that went down are evicted if the service says
 * down_flows = "reset".  Installed flows never move otherwise: a weight
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
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "halb/hl_msg.h"
#include "halb/mh.h"
#include "cls.h"

#define HEALTH_POLL_US 1000
#define HEALTH_BURST 64

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

/* Rebuilds service s's scheduler and Maglev table from the applied
 * health.  The new table goes into the buffer that is not current; a
 * grace period first makes sure no worker still reads that buffer from
 * before the previous flip. */
static int
service_apply(struct cls *c, uint32_t s)
{
	const struct cfg_service *cs = &c->cfg->services[s];
	struct halb_mh_shm *mh = &c->shm->mh[s];
	uint32_t w[CFG_MAX_BACKENDS], b, next;
	int rc;

	for (b = 0; b < cs->n_backends; b++)
		w[b] = effective_weight(&c->shm->health[s][b]);
	next = __atomic_load_n(&mh->cur, __ATOMIC_ACQUIRE) ^ 1;
	rte_rcu_qsbr_synchronize(c->shm->qsbr, RTE_QSBR_THRID_INVALID);
	rc = svc_maglev_build(cs, w, mh->table[next], mh->size);
	if (rc != 0) {
		CLS_LOG(ERR, "service %s: Maglev rebuild failed: %s", cs->name,
			strerror(-rc));
		return rc;
	}
	__atomic_store_n(&mh->cur, next, __ATOMIC_RELEASE);
	c->shm->cls.mh_rebuilds++;
	sched_init(&c->sched[s], cs->sched, w, cs->n_backends);
	c->sched[s].mh = mh->table[next];
	c->sched[s].mh_size = mh->size;
	return 0;
}

static int
health_socket(struct cls *c)
{
	const struct cfg_health *hc = &c->cfg->health;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)], *slash;
	int fd;

	if (strlen(hc->socket) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", hc->socket);
	snprintf(dir, sizeof(dir), "%s", hc->socket);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(sun.sun_path); /* a previous classifier's */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	/* Only root may send snapshots: health.key, which seals them, is
	 * also in every agent's file.  A socket others could write to is
	 * no socket to run with. */
	if (chmod(sun.sun_path, 0600) != 0) {
		int err = errno;

		close(fd);
		unlink(sun.sun_path);
		return -err;
	}
	return fd;
}

int
cls_health_init(struct cls *c)
{
	const struct halb_cfg *cfg = c->cfg;
	uint64_t now = cls_wall_ms();
	uint32_t s, b;
	int rc;

	c->hfd = -1;
	if (!c->shm->health_valid) {
		for (s = 0; s < cfg->n_services; s++)
			for (b = 0; b < cfg->services[s].n_backends; b++) {
				struct halb_be_health *h = &c->shm->health[s][b];

				memset(h, 0, sizeof(*h));
				h->state = HALB_HEALTH_UP;
				h->source = HALB_SRC_CONFIG;
				h->weight = cfg->services[s].backends[b].weight;
				h->updated_ms = now;
			}
		c->shm->health_valid = 1;
	} else {
		CLS_LOG(INFO, "starting from the health the forwarder remembers");
	}
	for (s = 0; s < cfg->n_services; s++) {
		for (b = 0; b < cfg->services[s].n_backends; b++)
			c->evict[s][b] = c->shm->health[s][b].state == HALB_HEALTH_DOWN &&
					 cfg->services[s].down_flows == CFG_DOWN_RESET;
		rc = service_apply(c, s);
		if (rc != 0)
			return rc;
	}
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
	c->hfd = health_socket(c);
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

		if (strcmp(cs->name, bs->service) != 0)
			continue;
		for (b = 0; b < cs->n_backends; b++) {
			uint16_t port = cs->backends[b].port ? cs->backends[b].port :
							       cs->port;

			if (halb_ip_eq(&cs->backends[b].ip, &ip) && port == bs->port) {
				*s_out = s;
				*b_out = b;
				return 0;
			}
		}
	}
	return -1;
}

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
		*h = nh;
		/* Draining keeps its flows; down ones go if the service says so. */
		c->evict[s][b] = nh.state == HALB_HEALTH_DOWN &&
				 cs->down_flows == CFG_DOWN_RESET;
	}
	for (s = 0; s < c->cfg->n_services; s++)
		if (changed[s])
			service_apply(c, s);
}

void
cls_health_poll(struct cls *c, uint64_t now_tsc)
{
	uint8_t buf[HL_MAX_DATAGRAM + 1];
	uint64_t now_ms;
	unsigned int n;

	if (c->hfd < 0 || now_tsc < c->hpoll_tsc)
		return;
	c->hpoll_tsc = now_tsc + rte_get_tsc_hz() / 1000000 * HEALTH_POLL_US;
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
	if (!c->hsilent && now_ms - c->hlast_ms > c->cfg->health.handler_timeout_ms) {
		c->hsilent = true;
		c->shm->cls.health_silent++;
		CLS_LOG(WARNING, "health handler silent for %" PRIu64 " ms: keeping the last known state",
			now_ms - c->hlast_ms);
	}
}
