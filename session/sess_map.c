/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A session between this appliance's slots and the wire's names
 * (sessd.h).  Between appliances a backend is its address and port,
 * never a slot: two appliances' files, or one before and after a
 * reload, number backends differently.  The port is the one the
 * backend is sent to: its own, or for a backend of port 0 the client's
 * destination port (the key's).
 *
 * The slots are the forwarder's view's (docs/RELOAD.md), followed here
 * as the classifier follows them: a reload retires the slots of removed
 * backends (their data kept while flows name them) and later gives them
 * to others, so that a slot is a backend only together with its tag.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "halb/cfg_reload.h"
#include "halb/shm.h"
#include "sessd.h"

static uint16_t
backend_port(const struct cfg_backend *cb, const struct flow_key *k)
{
	return cb->port != 0 ? cb->port : ntohs(k->dport);
}

/* The tags of m->cfg's live slots (the classifier's health_id of the
 * same view, folded by halb_slot_tag). */
static void
tags_fill(struct sess_map *m)
{
	const struct halb_cfg *cfg = m->cfg;
	uint32_t s, b;

	memset(m->tag, 0, sizeof(m->tag));
	for (s = 0; s < cfg->n_services && s < CFG_MAX_SERVICES; s++) {
		const struct cfg_service *cs = &cfg->services[s];

		if (cs->slot != CFG_SLOT_LIVE)
			continue;
		for (b = 0; b < cs->n_backends && b < CFG_MAX_BACKENDS; b++) {
			const struct cfg_backend *cb = &cs->backends[b];

			if (cb->slot == CFG_SLOT_LIVE)
				m->tag[s][b] = halb_slot_tag(halb_slot_id(cs->name, cb->ip.b,
									  cfg_backend_port(cs, cb)));
		}
	}
}

int
sess_map_init(struct sess_map *m, struct halb_cfg *cfg)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	rc = svc_map_build(&m->svcs, cfg);
	if (rc != 0)
		return rc;
	tags_fill(m);
	return 0;
}

void
sess_map_fini(struct sess_map *m)
{
	svc_map_free(&m->svcs);
}

int
sess_map_follow(struct sess_map *m, const struct halb_shm *shm)
{
	uint64_t gen = __atomic_load_n(&shm->view_gen, __ATOMIC_ACQUIRE);
	struct halb_cfg *nv;
	struct svc_map svcs;
	uint32_t s;
	int rc;

	if (gen == 0 || gen == m->gen)
		return 0;
	nv = calloc(1, sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	gen = halb_shm_view_copy(shm, nv);
	rc = gen == 0 ? -EAGAIN : svc_map_build(&svcs, nv);
	if (rc != 0) {
		free(nv);
		return rc;
	}
	memcpy(m->cfg->services, nv->services,
	       sizeof(nv->services[0]) * nv->n_services);
	/* Slots beyond the view (free ones at its end are dropped) name
	 * nothing. */
	for (s = nv->n_services; s < m->cfg->n_services; s++) {
		memset(&m->cfg->services[s], 0, sizeof(m->cfg->services[s]));
		m->cfg->services[s].slot = CFG_SLOT_FREE;
	}
	m->cfg->n_services = nv->n_services;
	free(nv);
	svc_map_free(&m->svcs);
	m->svcs = svcs;
	m->gen = gen;
	tags_fill(m);
	return 1;
}

int
sess_rec_from_local(const struct sess_map *m, const struct flow_key *k,
		    uint16_t svc, uint16_t backend, struct sess_rec *r)
{
	const struct halb_cfg *cfg = m->cfg;
	const struct cfg_service *cs;
	const struct cfg_backend *cb;

	if (svc >= cfg->n_services || backend >= cfg->services[svc].n_backends)
		return -EINVAL;
	cs = &cfg->services[svc];
	cb = &cs->backends[backend];
	if (cs->slot == CFG_SLOT_FREE || cb->slot == CFG_SLOT_FREE)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->key = *k;
	memcpy(r->be_addr, cb->ip.b, sizeof(r->be_addr));
	r->be_port = backend_port(cb, k);
	return 0;
}

int
sess_rec_to_local(const struct sess_map *m, const struct sess_rec *r,
		  uint16_t *svc, uint16_t *backend, uint32_t *tag)
{
	const struct cfg_service *cs;
	bool retired = false;
	uint32_t b;
	int s;

	s = svc_by_vip(&m->svcs, r->key.dst, r->key.dport, r->key.proto);
	if (s < 0)
		return -ENOENT;
	cs = &m->cfg->services[s];
	for (b = 0; b < cs->n_backends; b++) {
		const struct cfg_backend *cb = &cs->backends[b];

		if (cb->slot == CFG_SLOT_FREE ||
		    memcmp(cb->ip.b, r->be_addr, 16) != 0 ||
		    backend_port(cb, &r->key) != r->be_port)
			continue;
		if (cb->slot != CFG_SLOT_LIVE) {
			retired = true; /* a live one at the same address wins */
			continue;
		}
		*svc = (uint16_t)s;
		*backend = (uint16_t)b;
		*tag = m->tag[s][b];
		return 0;
	}
	return retired ? -ESTALE : -ESRCH;
}
