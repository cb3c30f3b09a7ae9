/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A session between this appliance's indices and the wire's names
 * (sessd.h).  Between appliances a backend is its address and port,
 * never an index: two appliances' files, or one before and after a
 * reload, may number backends differently.  The port is the one the
 * backend is sent to: its own, or for a backend of port 0 the client's
 * destination port (the key's).
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "sessd.h"

static uint16_t
backend_port(const struct cfg_backend *cb, const struct flow_key *k)
{
	return cb->port != 0 ? cb->port : ntohs(k->dport);
}

int
sess_rec_from_local(const struct halb_cfg *cfg, const struct flow_key *k,
		    uint16_t svc, uint16_t backend, struct sess_rec *r)
{
	const struct cfg_backend *cb;

	if (svc >= cfg->n_services || backend >= cfg->services[svc].n_backends)
		return -EINVAL;
	cb = &cfg->services[svc].backends[backend];
	r->key = *k;
	memcpy(r->be_addr, cb->ip.b, sizeof(r->be_addr));
	r->be_port = backend_port(cb, k);
	return 0;
}

int
sess_rec_to_local(const struct halb_cfg *cfg, const struct svc_map *svcs,
		  const struct sess_rec *r, uint16_t *svc, uint16_t *backend)
{
	const struct cfg_service *cs;
	uint32_t b;
	int s;

	s = svc_by_vip(svcs, r->key.dst, r->key.dport, r->key.proto);
	if (s < 0)
		return -ENOENT;
	cs = &cfg->services[s];
	for (b = 0; b < cs->n_backends; b++)
		if (memcmp(cs->backends[b].ip.b, r->be_addr, 16) == 0 &&
		    backend_port(&cs->backends[b], &r->key) == r->be_port) {
			*svc = (uint16_t)s;
			*backend = (uint16_t)b;
			return 0;
		}
	return -ESRCH;
}
