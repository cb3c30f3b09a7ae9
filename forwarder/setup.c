/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarder's set-up after EAL: its ports and its process-local view
 * of the services (backends, next hops, the addresses it answers for).
 * halb-forwarder's main() calls these, and so do the harnesses that
 * drive the fast path without the whole program (bench/fastpath.c), so
 * that both run the same set-up.
 */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "halb/cfg.h"
#include "fwd.h"

RTE_LOG_REGISTER_DEFAULT(fwd_logtype, INFO);

struct fwd_ctx fwd;

static const struct fwd_mode_ops *const modes[CFG_MODE_MAX] = {
#define HALB_MODE(e, name) [CFG_MODE_##e] = &fwd_mode_##name,
#include "halb/mode-list.h"
#undef HALB_MODE
};

const struct fwd_mode_ops *
fwd_mode(unsigned int mode)
{
	return mode < CFG_MODE_MAX ? modes[mode] : NULL;
}

static void
vdev_name(const char *vdev, char *name, size_t len)
{
	size_t n = strcspn(vdev, ",");

	if (n >= len)
		n = len - 1;
	memcpy(name, vdev, n);
	name[n] = '\0';
}

int
fwd_port_start(struct fwd_port *p, const struct cfg_port *cp,
	       struct rte_mempool *pool, uint16_t nq)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint16_t nrx = FWD_RX_DESC, ntx = FWD_TX_DESC, q;
	char name[CFG_ARG_LEN];
	int rc;

	vdev_name(cp->vdev, name, sizeof(name));
	if (rte_eth_dev_get_port_by_name(name, &p->port_id) != 0) {
		FWD_LOG(ERR, "port %s: no device %s", cp->name, name);
		return -ENODEV;
	}
	p->cfg = cp;
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0)
		return rc;
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		FWD_LOG(ERR, "port %s: device %s has %u queue pairs, %u workers need %u (add qpairs=%u to its vdev)",
			cp->name, name, info.max_rx_queues, nq, nq, nq);
		return -EINVAL;
	}
	rc = rte_eth_dev_configure(p->port_id, nq, nq, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrx, &ntx);
	for (q = 0; rc == 0 && q < nq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, nrx,
					    rte_eth_dev_socket_id(p->port_id), NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->port_id, q, ntx,
						    rte_eth_dev_socket_id(p->port_id), NULL);
	}
	if (rc == 0)
		rc = rte_eth_dev_start(p->port_id);
	if (rc != 0) {
		FWD_LOG(ERR, "port %s: cannot start %s: %s", cp->name, name,
			rte_strerror(-rc));
		return rc;
	}
	/* Solicited-node multicast (IPv6 ND) must reach us.  A device
	 * without an all-multicast mode may still receive it in promiscuous
	 * mode (not-ours unicast is dropped by the worker); a port with an
	 * IPv6 address that gets neither would never see a solicitation. */
	rc = rte_eth_allmulticast_enable(p->port_id);
	if (rc != 0) {
		int prc = rte_eth_promiscuous_enable(p->port_id);

		if (prc != 0 && cp->has_ip6) {
			FWD_LOG(ERR, "port %s: %s receives no multicast (all-multicast: %s, promiscuous: %s): IPv6 neighbour discovery cannot work",
				cp->name, name, rte_strerror(-rc), rte_strerror(-prc));
			return rc;
		}
		if (prc == 0)
			FWD_LOG(INFO, "port %s: %s: all-multicast mode refused (%s): promiscuous instead",
				cp->name, name, rte_strerror(-rc));
		else
			FWD_LOG(WARNING, "port %s: %s receives no multicast (all-multicast: %s, promiscuous: %s); it has no IPv6 address",
				cp->name, name, rte_strerror(-rc), rte_strerror(-prc));
	}
	rc = rte_eth_macaddr_get(p->port_id, &mac);
	if (rc != 0) {
		FWD_LOG(ERR, "port %s: %s has no MAC address: %s", cp->name, name,
			rte_strerror(-rc));
		return rc;
	}
	memcpy(p->mac, mac.addr_bytes, 6);
	FWD_LOG(INFO, "port %s: %s up, " RTE_ETHER_ADDR_PRT_FMT ", %u queue pair(s)",
		cp->name, name, RTE_ETHER_ADDR_BYTES(&mac), nq);
	return 0;
}

static int
backend_setup(struct fwd_ctx *c, uint32_t svc, const struct cfg_service *cs,
	      struct fwd_backend *be, const struct cfg_backend *cb)
{
	struct halb_ip nh;
	int port;
	char ip[HALB_IP_STRLEN];

	be->ip = cb->ip;
	be->port = cb->port;
	port = cfg_route(c->cfg, &cb->ip, &nh);
	if (port < 0) {
		FWD_LOG(ERR, "service %s: backend %s unreachable", cs->name,
			halb_ip_fmt(&cb->ip, ip, sizeof(ip)));
		return -ENETUNREACH;
	}
	be->out = (uint16_t)port;
	be->neigh = neigh_claim(c->neigh, &nh, (uint16_t)port, true, 0);
	if (be->neigh < 0)
		return -ENOSPC;
	if (c->svc[svc].ops->setup != NULL)
		c->svc[svc].ops->setup(c, cs, cb, (uint16_t)port, be);
	return 0;
}

int
fwd_services_setup(struct fwd_ctx *c)
{
	const struct halb_cfg *cfg = c->cfg;
	uint32_t s, b, i;
	int rc, n;

	rc = svc_map_build(&c->svcs, cfg);
	if (rc != 0)
		return rc;
	c->neigh = rte_zmalloc("halb_neigh", sizeof(*c->neigh), 64);
	if (c->neigh == NULL)
		return -ENOMEM;
	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].has_ip4)
			c->local[c->n_local++] = cfg->ports[i].ip4;
		if (cfg->ports[i].has_ip6)
			c->local[c->n_local++] = cfg->ports[i].ip6;
	}
	/* Gateways are resolved before anything needs them (NAT replies).
	 * They, the static neighbours and the backends' next hops are
	 * pinned, claimed before any dynamic entry can exist: they resolve
	 * whatever the fill of the cache. */
	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].has_gw4 &&
		    neigh_claim(c->neigh, &cfg->ports[i].gw4, (uint16_t)i, true, 0) < 0)
			return -ENOSPC;
		if (cfg->ports[i].has_gw6 &&
		    neigh_claim(c->neigh, &cfg->ports[i].gw6, (uint16_t)i, true, 0) < 0)
			return -ENOSPC;
	}
	for (i = 0; i < cfg->n_neigh; i++) {
		struct halb_ip nh;
		int port = cfg_route(cfg, &cfg->neigh[i].ip, &nh);

		n = neigh_claim(c->neigh, &cfg->neigh[i].ip,
				(uint16_t)(port < 0 ? 0 : port), true, 0);
		if (n >= 0)
			neigh_set_static(c->neigh, n, cfg->neigh[i].mac);
	}
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct fwd_service *sv = &c->svc[s];

		sv->mode = cs->mode;
		sv->ops = fwd_mode(cs->mode);
		if (sv->ops == NULL)
			return -EINVAL;
		sv->vip = cs->vip;
		sv->vport = cs->port;
		sv->n_backends = cs->n_backends;
		sv->be = rte_zmalloc("halb_backends",
				     sizeof(*sv->be) * cs->n_backends, 64);
		if (sv->be == NULL)
			return -ENOMEM;
		for (b = 0; b < cs->n_backends; b++) {
			rc = backend_setup(c, s, cs, &sv->be[b], &cs->backends[b]);
			if (rc != 0)
				return rc;
		}
		if (!fwd_is_local(c, &cs->vip))
			c->local[c->n_local++] = cs->vip;
	}
	return 0;
}
