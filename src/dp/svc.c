/* SPDX-License-Identifier: BSD-3-Clause */
/* Service lookup tables (see halb/svc.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "halb/mh.h"
#include "halb/svc.h"

/* The address as two words and the port and protocol, mixed by
 * multiplication and folded (splitmix64's finaliser): a few
 * instructions where FNV-1a over the 18 bytes took a multiplication per
 * byte, on every lookup of a packet of no flow.  The tables are built
 * and read by the same process, so only its spread matters. */
static uint32_t
ent_hash(const uint8_t ip[16], uint16_t port, uint8_t proto)
{
	uint64_t a, b, h;

	memcpy(&a, ip, 8);
	memcpy(&b, ip + 8, 8);
	h = a * 0x9e3779b97f4a7c15ull ^ b;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h ^= (uint64_t)port << 8 | proto;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(h ^ (h >> 31));
}

static struct svc_map_ent *
ent_find(struct svc_map_ent *tab, uint32_t mask, const uint8_t ip[16],
	 uint16_t port, uint8_t proto, int claim)
{
	uint32_t i = ent_hash(ip, port, proto) & mask, n;

	for (n = 0; n <= mask; n++, i = (i + 1) & mask) {
		struct svc_map_ent *e = &tab[i];

		if (!e->used) {
			if (!claim)
				return NULL;
			memcpy(e->ip, ip, 16);
			e->port = port;
			e->proto = proto;
			e->used = 1;
			return e;
		}
		if (e->port == port && e->proto == proto &&
		    memcmp(e->ip, ip, 16) == 0)
			return e;
	}
	return NULL;
}

static uint32_t
pow2_above(uint32_t n)
{
	uint32_t p = 16;

	while (p < n * 2)
		p <<= 1;
	return p;
}

/* The NAT backends of one kind of slot (live or retired) into m. */
static void
nat_add(struct svc_map *m, const struct halb_cfg *cfg, bool live)
{
	uint32_t s, b;

	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *sv = &cfg->services[s];

		if (sv->mode != CFG_MODE_NAT || sv->slot == CFG_SLOT_FREE)
			continue;
		for (b = 0; b < sv->n_backends; b++) {
			const struct cfg_backend *be = &sv->backends[b];
			struct svc_map_ent *e;

			if (be->slot == CFG_SLOT_FREE ||
			    ((be->slot == CFG_SLOT_LIVE &&
			      sv->slot == CFG_SLOT_LIVE) != live))
				continue;
			e = ent_find(m->nat, m->nat_mask, be->ip.b,
				     htons(be->port), sv->proto, 1);
			e->svc = (uint16_t)s;
			e->backend = (uint16_t)b;
		}
	}
}

int
svc_map_build(struct svc_map *m, const struct halb_cfg *cfg)
{
	uint32_t n_nat = 0, s;

	for (s = 0; s < cfg->n_services; s++)
		if (cfg->services[s].mode == CFG_MODE_NAT)
			n_nat += cfg->services[s].n_backends;
	m->vip_mask = pow2_above(cfg->n_services) - 1;
	m->nat_mask = pow2_above(n_nat) - 1;
	m->vip = calloc(m->vip_mask + 1, sizeof(*m->vip));
	m->nat = calloc(m->nat_mask + 1, sizeof(*m->nat));
	if (m->vip == NULL || m->nat == NULL) {
		svc_map_free(m);
		return -ENOMEM;
	}
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *sv = &cfg->services[s];
		struct svc_map_ent *e;

		/* Retired services have no lookup entry: their flows hit
		 * the flow table first. */
		if (sv->slot != CFG_SLOT_LIVE)
			continue;
		e = ent_find(m->vip, m->vip_mask, sv->vip.b, htons(sv->port),
			     sv->proto, 1);
		e->svc = (uint16_t)s;
	}
	/* Retired NAT backends map their replies back while their kept
	 * flows last; a live backend at the same address and port takes
	 * the entry over (it is claimed last). */
	nat_add(m, cfg, false);
	nat_add(m, cfg, true);
	return 0;
}

void
svc_map_free(struct svc_map *m)
{
	free(m->vip);
	free(m->nat);
	m->vip = m->nat = NULL;
}

int
svc_by_vip(const struct svc_map *m, const uint8_t ip[16], uint16_t port,
	   uint8_t proto)
{
	const struct svc_map_ent *e;

	e = ent_find(m->vip, m->vip_mask, ip, port, proto, 0);
	if (e == NULL)
		e = ent_find(m->vip, m->vip_mask, ip, 0, proto, 0);
	return e != NULL ? e->svc : -1;
}

int
svc_by_nat_backend(const struct svc_map *m, const uint8_t ip[16],
		   uint16_t port, uint8_t proto, uint16_t *backend)
{
	const struct svc_map_ent *e;

	e = ent_find(m->nat, m->nat_mask, ip, port, proto, 0);
	if (e == NULL)
		e = ent_find(m->nat, m->nat_mask, ip, 0, proto, 0);
	if (e == NULL)
		return -1;
	*backend = e->backend;
	return e->svc;
}

int
svc_maglev_build(const struct cfg_service *cs, const uint32_t *w,
		 uint16_t *table, uint32_t size)
{
	struct mh_backend mb[CFG_MAX_BACKENDS];
	uint32_t b;

	for (b = 0; b < cs->n_backends; b++) {
		mb[b].id = mh_backend_id(cs->backends[b].ip.b,
					 cs->backends[b].port);
		/* Retired and free slots take no new connection. */
		mb[b].weight = cs->backends[b].slot == CFG_SLOT_LIVE ? w[b] : 0;
	}
	return mh_build(table, size, mb, cs->n_backends);
}
