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
	/* Solicited-node multicast (IPv6 ND) must reach us. */
	rte_eth_allmulticast_enable(p->port_id);
	rte_eth_macaddr_get(p->port_id, &mac);
	memcpy(p->mac, mac.addr_bytes, 6);
	FWD_LOG(INFO, "port %s: %s up, " RTE_ETHER_ADDR_PRT_FMT ", %u queue pair(s)",
		cp->name, name, RTE_ETHER_ADDR_BYTES(&mac), nq);
	return 0;
}

static int
backend_setup(struct fwd_ctx *c, const struct cfg_service *cs,
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
	be->neigh = neigh_claim(c->neigh, &nh, (uint16_t)port);
	if (be->neigh < 0)
		return -ENOSPC;
	if (cs->mode == CFG_MODE_TUNNEL) {
		const struct cfg_port *cp = &c->cfg->ports[port];

		memcpy(be->vx.src_mac, c->ports[port].mac, 6);
		be->vx.src = halb_ip_is_v4(&cb->ip) ? cp->ip4 : cp->ip6;
		be->vx.dst = cb->ip;
		be->vx.dst_port = cs->tunnel_port;
		be->vx.vni = cs->vni;
		memcpy(be->vx.inner_dst_mac, cb->tunnel_mac, 6);
	}
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
	/* Gateways are resolved before anything needs them (NAT replies). */
	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].has_gw4 &&
		    neigh_claim(c->neigh, &cfg->ports[i].gw4, (uint16_t)i) < 0)
			return -ENOSPC;
		if (cfg->ports[i].has_gw6 &&
		    neigh_claim(c->neigh, &cfg->ports[i].gw6, (uint16_t)i) < 0)
			return -ENOSPC;
	}
	for (i = 0; i < cfg->n_neigh; i++) {
		struct halb_ip nh;
		int port = cfg_route(cfg, &cfg->neigh[i].ip, &nh);

		n = neigh_claim(c->neigh, &cfg->neigh[i].ip,
				(uint16_t)(port < 0 ? 0 : port));
		if (n >= 0)
			neigh_set_static(c->neigh, n, cfg->neigh[i].mac);
	}
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct fwd_service *sv = &c->svc[s];

		sv->mode = cs->mode;
		sv->vip = cs->vip;
		sv->vport = cs->port;
		sv->n_backends = cs->n_backends;
		sv->be = rte_zmalloc("halb_backends",
				     sizeof(*sv->be) * cs->n_backends, 64);
		if (sv->be == NULL)
			return -ENOMEM;
		for (b = 0; b < cs->n_backends; b++) {
			rc = backend_setup(c, cs, &sv->be[b], &cs->backends[b]);
			if (rc != 0)
				return rc;
		}
		if (!fwd_is_local(c, &cs->vip))
			c->local[c->n_local++] = cs->vip;
	}
	return 0;
}
