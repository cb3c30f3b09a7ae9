/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service lookup tables, built from the configuration by each process
 * that needs them (again at each reload, into new memory) and
 * read-only afterwards.
 *
 *  - by VIP: (vip, port, protocol) -> service, with port 0 standing for
 *    an all-ports service; the exact port wins.
 *  - by NAT backend: (backend address, port, protocol) -> service, to map
 *    a backend's replies back to the VIP without per-flow state (the
 *    configuration checker makes these unique).
 *
 * Open addressing over a power-of-two array; no allocation after build.
 */
#ifndef HALB_SVC_H
#define HALB_SVC_H

#include <stdint.h>

#include "halb/cfg-t.h"

struct svc_map_ent {
	uint8_t ip[16];
	uint16_t port; /* network order */
	uint8_t proto;
	uint8_t used;
	uint16_t svc;
	uint16_t backend;
};

struct svc_map {
	uint32_t vip_mask, nat_mask;
	struct svc_map_ent *vip, *nat;
};

/* Builds both tables from a slotted configuration (halb/cfg_reload.h):
 * live services by VIP; live and retired NAT backends (the live one
 * when both have an address and port).  Returns 0 or -ENOMEM. */
int svc_map_build(struct svc_map *m, const struct halb_cfg *cfg);
void svc_map_free(struct svc_map *m);

/* Service index for a packet to ip:port (network order), or -1. */
int svc_by_vip(const struct svc_map *m, const uint8_t ip[16], uint16_t port,
	       uint8_t proto);

/*
 * Service index for a reply from a NAT backend at ip:port, or -1; the
 * backend's index in *backend.
 */
int svc_by_nat_backend(const struct svc_map *m, const uint8_t ip[16],
		       uint16_t port, uint8_t proto, uint16_t *backend);

/*
 * Fills the Maglev table (size from mh_table_size) of service cs with
 * backend weights w[0..cs->n_backends): the one place where weights
 * become a Maglev table, for the forwarder's first tables and the
 * classifier's rebuilds alike.  Returns mh_build()'s result.
 */
int svc_maglev_build(const struct cfg_service *cs, const uint32_t *w,
		     uint16_t *table, uint32_t size);

#endif
