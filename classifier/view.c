/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier follows the forwarder's view of the services
 * (docs/RELOAD.md): it never reads its file's services after attaching,
 * it takes the view's (shm->view, written by forwarder/reload.c), which
 * slot every service and backend by name and by address and port.
 *
 * When the view's generation moves, per slot:
 *  - a live backend that is the same backend keeps its health, its flows
 *    and its scheduler state; a new weight applies to new connections
 *    (the configured one at once when its health came from the
 *    configuration, else with halb-healthd's next snapshot);
 *  - a live backend new to its slot (health_id says another one was
 *    there, or nobody) starts from its configuration, as at start;
 *  - a retired backend, or every backend of a retired service, gets no
 *    new connection (svc_maglev_build gives retired slots weight 0) and
 *    its flows are evicted by the expiry scan when its service says
 *    down_flows "reset", kept until they end when it says "keep";
 *  - then the services that changed get their scheduler and Maglev table
 *    rebuilt (health.c, one grace period for all), and the generation is
 *    acknowledged in shm->cls_view_gen, which lets the forwarder reuse
 *    retired slots once their flows are gone.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "halb/cfg_reload.h"
#include "halb/shm.h"
#include "cls.h"

static uint64_t
slot_id(const struct cfg_service *cs, const struct cfg_backend *cb)
{
	return halb_slot_id(cs->name, cb->ip.b, cfg_backend_port(cs, cb));
}

void
cls_slots_evict(struct cls *c, uint32_t s)
{
	const struct cfg_service *cs = &c->cfg->services[s];
	bool reset = cs->down_flows == CFG_DOWN_RESET;
	uint32_t b;

	for (b = 0; b < CFG_MAX_BACKENDS; b++) {
		const struct cfg_backend *cb = &cs->backends[b];

		if (b >= cs->n_backends || cb->slot == CFG_SLOT_FREE ||
		    cs->slot == CFG_SLOT_FREE)
			c->evict[s][b] = true; /* no flow may name it */
		else if (cb->slot == CFG_SLOT_RETIRED || cs->slot == CFG_SLOT_RETIRED)
			c->evict[s][b] = reset;
		else
			c->evict[s][b] = cls_down_evicts(c, s, b, cls_wall_ms());
	}
}

bool
cls_slots_health(struct cls *c, uint32_t s, uint64_t now_ms)
{
	const struct cfg_service *cs = &c->cfg->services[s];
	bool changed = false;
	uint32_t b;

	if (cs->slot != CFG_SLOT_LIVE)
		return false;
	for (b = 0; b < cs->n_backends; b++) {
		const struct cfg_backend *cb = &cs->backends[b];
		struct halb_be_health *h = &c->shm->health[s][b];
		uint64_t id = slot_id(cs, cb);

		if (cb->slot != CFG_SLOT_LIVE)
			continue;
		if (c->shm->health_id[s][b] != id) {
			memset(h, 0, sizeof(*h));
			h->state = HALB_HEALTH_UP;
			h->source = HALB_SRC_CONFIG;
			h->weight = cb->weight;
			h->updated_ms = now_ms;
			c->down_ms[s][b] = 0;
			c->shm->health_id[s][b] = id;
			changed = true;
		} else if (h->source == HALB_SRC_CONFIG && h->weight != cb->weight) {
			h->weight = cb->weight;
			h->updated_ms = now_ms;
			changed = true;
		}
	}
	return changed;
}

/*
 * Whether slot s is another thing in a than in b (so its scheduler and
 * Maglev table are rebuilt from the applied health).  Its key (VIP,
 * port, protocol) and mode count: a reload that changes them gives the
 * service a new slot (cfg_reload.c), but a classifier that skipped the
 * generations between can find the old slot live again under the same
 * name with another key or mode, and the forwarder gave that reused
 * slot a first table from the configuration's weights.
 */
static bool
service_differs(const struct cfg_service *a, const struct cfg_service *b)
{
	uint32_t i;

	if (a->slot != b->slot || strcmp(a->name, b->name) != 0 ||
	    !halb_ip_eq(&a->vip, &b->vip) || a->port != b->port ||
	    a->proto != b->proto || a->mode != b->mode ||
	    a->vni != b->vni || a->tunnel_port != b->tunnel_port ||
	    a->sched != b->sched || a->n_backends != b->n_backends)
		return true;
	for (i = 0; i < a->n_backends; i++)
		if (a->backends[i].slot != b->backends[i].slot ||
		    a->backends[i].weight != b->backends[i].weight ||
		    !halb_ip_eq(&a->backends[i].ip, &b->backends[i].ip) ||
		    a->backends[i].port != b->backends[i].port)
			return true;
	return false;
}

int
cls_view_attach(struct cls *c)
{
	uint64_t gen = halb_shm_view_copy(c->shm, c->cfg);

	if (gen == 0 && __atomic_load_n(&c->shm->view, __ATOMIC_ACQUIRE) != NULL) {
		CLS_LOG(ERR, "the forwarder's view of the services cannot be read whole");
		return -EAGAIN;
	}
	c->view_gen = gen;
	c->view_unacked = gen != 0;
	return 0;
}

void
cls_view_ack(struct cls *c, uint32_t left)
{
	if (!c->view_unacked || left != 0)
		return;
	c->view_unacked = false;
	__atomic_store_n(&c->shm->cls_view_gen, c->view_gen, __ATOMIC_RELEASE);
	CLS_LOG(INFO, "view generation %" PRIu64 " applied", c->view_gen);
}

int
cls_view_poll(struct cls *c, uint64_t now_ms)
{
	uint64_t gen = __atomic_load_n(&c->shm->view_gen, __ATOMIC_ACQUIRE);
	struct halb_cfg *nv;
	struct svc_map m;
	uint32_t s, n;
	int rc;

	if (gen == c->view_gen || gen == 0)
		return 0;
	nv = malloc(sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM; /* tried again next loop */
	gen = halb_shm_view_copy(c->shm, nv);
	rc = gen == 0 ? -EAGAIN : svc_map_build(&m, nv);
	if (rc != 0) {
		free(nv);
		return rc;
	}
	n = RTE_MAX(nv->n_services, c->cfg->n_services);
	for (s = 0; s < n; s++) {
		struct cfg_service *os = &c->cfg->services[s];
		const struct cfg_service *ns = &nv->services[s];
		bool differs;

		if (s >= nv->n_services) {
			memset(os, 0, sizeof(*os));
			os->slot = CFG_SLOT_FREE;
			continue;
		}
		differs = s >= c->cfg->n_services || service_differs(os, ns);
		memcpy(os, ns, sizeof(*os));
		if ((cls_slots_health(c, s, now_ms) || differs) &&
		    os->slot == CFG_SLOT_LIVE)
			c->hdirty[s] = true;
		cls_slots_evict(c, s);
	}
	c->cfg->n_services = nv->n_services;
	svc_map_free(&c->svcs);
	c->svcs = m;
	free(nv);
	c->view_gen = gen;
	c->view_unacked = true;
	CLS_LOG(INFO, "following the forwarder's view, generation %" PRIu64 ": %u service slot(s)",
		gen, c->cfg->n_services);
	cls_view_ack(c, cls_health_apply(c, now_ms));
	return 0;
}
