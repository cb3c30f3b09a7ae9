/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarder's set-up after EAL: its ports (device, queue pair per
 * worker on the worker's NUMA node, RSS with a symmetric key and a
 * redirection table where the device has them, MTU, TX checksum
 * offloads), its neighbour cache with the gateways and static
 * neighbours, and its first view of the services (view.c).
 * halb-forwarder's main() calls these, and so do the harnesses that
 * drive the fast path without the whole program (bench/fastpath.c), so
 * that both run the same set-up.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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

/*
 * The RSS key: 0x6d5a repeated makes the Toeplitz hash symmetric
 * (Woo and Park, "Scalable TCP Session Monitoring with Symmetric
 * Receive-side Scaling", 2012): a packet and its exact reverse (source
 * and destination swapped) hash alike and meet on one queue.  That keeps
 * both directions of a connection whose reply is its reverse on one
 * worker.  A NAT reply is not the reverse of what the client sent (the
 * backend's address replaces the VIP): no hash brings the two together,
 * so replies and ICMP errors look their flow up in every worker's table
 * instead (worker.c flow_find_any; docs/ARCHITECTURE.md, "Ports, queues
 * and RSS").  Sized to the device's key (hash_key_size; 40 bytes when it
 * does not say, 52 on some Intel NICs).
 */
#define FWD_RSS_KEY_MAX 64

static void
rss_key(uint8_t *key, uint8_t len)
{
	uint8_t i;

	for (i = 0; i < len; i++)
		key[i] = i % 2 == 0 ? 0x6d : 0x5a;
}

/* The hash types the workers want spread: IPv4/IPv6 addresses with TCP
 * and UDP ports.  Non-first fragments hash on addresses only; the
 * worker drops them anyway (they carry no ports). */
#define FWD_RSS_HF (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)

/*
 * Receive-side scaling for nq > 1 queues: the symmetric key above over
 * FWD_RSS_HF, as much of it as the device hashes on.  A device that
 * hashes nothing (flow_type_rss_offloads 0: net_af_packet, net_ring,
 * net_tap...) spreads frames its own way or not at all; that is logged
 * and the port still starts: net_af_packet's kernel fanout hashes each
 * flow symmetrically to one queue, and whatever lands on a worker that
 * does not hold its flow is still handled (docs/ARCHITECTURE.md).
 * Returns whether RSS is on.
 */
static bool
rss_conf(struct fwd_port *p, const struct rte_eth_dev_info *info, uint16_t nq,
	 struct rte_eth_conf *conf, uint8_t *key)
{
	uint64_t hf = info->flow_type_rss_offloads & FWD_RSS_HF;
	uint8_t klen = info->hash_key_size != 0 ? info->hash_key_size : 40;

	if (nq < 2)
		return false;
	if (hf == 0 || klen > FWD_RSS_KEY_MAX) {
		FWD_LOG(NOTICE, "port %s: %s has no RSS over IP/TCP/UDP (offloads 0x%" PRIx64 ", key %u bytes): its %u queues are spread by the driver, if at all",
			p->cfg->name, p->name, info->flow_type_rss_offloads,
			info->hash_key_size, nq);
		return false;
	}
	rss_key(key, klen);
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = key;
	conf->rx_adv_conf.rss_conf.rss_key_len = klen;
	conf->rx_adv_conf.rss_conf.rss_hf = hf;
	if (hf != FWD_RSS_HF)
		FWD_LOG(NOTICE, "port %s: %s hashes only 0x%" PRIx64 " of 0x%" PRIx64 " (IP, TCP, UDP)",
			p->cfg->name, p->name, hf, (uint64_t)FWD_RSS_HF);
	return true;
}

/*
 * The redirection table: entry i to queue i % nq, so that every worker
 * gets an equal share of hash values.  The device's default is often
 * the same; writing it makes it so whatever the driver did.  A device
 * that cannot (-ENOTSUP) keeps its own, logged.
 */
#define FWD_RETA_MAX 4096 /* the largest table drivers report (ice, mlx5) */

static void
rss_reta(const struct fwd_port *p, const struct rte_eth_dev_info *info,
	 uint16_t nq)
{
	struct rte_eth_rss_reta_entry64 reta[FWD_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	uint16_t i, n = info->reta_size;
	int rc;

	if (n == 0 || n > FWD_RETA_MAX) {
		FWD_LOG(NOTICE, "port %s: %s: redirection table of %u entries left to the driver",
			p->cfg->name, p->name, n);
		return;
	}
	memset(reta, 0, sizeof(reta));
	for (i = 0; i < n; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |=
			1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			(uint16_t)(i % nq);
	}
	rc = rte_eth_dev_rss_reta_update(p->port_id, reta, n);
	if (rc != 0)
		FWD_LOG(NOTICE, "port %s: %s keeps its own redirection table: %s",
			p->cfg->name, p->name, rte_strerror(-rc));
	else
		FWD_LOG(INFO, "port %s: %s: RSS over %u queues, %u-entry redirection table",
			p->cfg->name, p->name, nq, n);
}

/*
 * The port's MTU (ports[].mtu) pushed to the device.  A device that has
 * no MTU to set (-ENOTSUP) keeps its own, logged: the mbufs are sized
 * for the configured one anyway (main.c pools_create).  Anything else
 * (out of the device's range) fails the start: the port would drop or
 * truncate what the configuration promises to carry.
 */
static int
port_mtu(const struct fwd_port *p, const struct rte_eth_dev_info *info)
{
	uint16_t mtu = p->cfg->mtu;
	int rc;

	if (mtu < info->min_mtu || mtu > info->max_mtu) {
		FWD_LOG(ERR, "port %s: %s takes an MTU of %u..%u, not %u (ports[].mtu)",
			p->cfg->name, p->name, info->min_mtu, info->max_mtu, mtu);
		return -EINVAL;
	}
	rc = rte_eth_dev_set_mtu(p->port_id, mtu);
	if (rc == -ENOTSUP) {
		FWD_LOG(NOTICE, "port %s: %s cannot set its MTU: ports[].mtu %u is not pushed to it",
			p->cfg->name, p->name, mtu);
		return 0;
	}
	if (rc != 0)
		FWD_LOG(ERR, "port %s: %s refused MTU %u: %s", p->cfg->name,
			p->name, mtu, rte_strerror(-rc));
	return rc;
}

/* The TX checksum offloads the worker may use on this port (only those
 * the device has; the rest are computed in software, as every checksum
 * is on a device without them). */
#define FWD_TX_CSUM (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | \
		     RTE_ETH_TX_OFFLOAD_TCP_CKSUM)

/*
 * The TX offloads turned on for port cp: the outer UDP checksum of
 * VXLAN over IPv6 (a sum over the whole packet, which Linux backends
 * require over IPv6) when the device has it and a tunnel service has an
 * IPv6 backend behind this port.  Nothing else: every other checksum is
 * cheap in software (a 20-byte IPv4 header; NAT's incremental updates,
 * RFC 1624), and turning on an offload that no frame asks for moves
 * several drivers (ixgbe, i40e) off their vector TX path.  A device
 * without it gets the full sum in software (pkt_vxlan_encap).
 */
static uint64_t
tx_offloads(const struct fwd_port *p, const struct cfg_port *cp)
{
	const struct halb_cfg *cfg = fwd.cfg;
	uint32_t s, b;

	if (!(p->tx_csum & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) || cfg == NULL ||
	    cp < cfg->ports || cp >= cfg->ports + cfg->n_ports)
		return 0;
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];

		if (cs->mode != CFG_MODE_TUNNEL)
			continue;
		for (b = 0; b < cs->n_backends; b++)
			if (!halb_ip_is_v4(&cs->backends[b].ip) &&
			    cfg_route(cfg, &cs->backends[b].ip, NULL) ==
				    (int)(cp - cfg->ports))
				return RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	}
	return 0;
}

int
fwd_port_start(struct fwd_port *p, const struct cfg_port *cp,
	       struct rte_mempool *const pools[], uint16_t nq)
{
	uint8_t key[FWD_RSS_KEY_MAX];
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint16_t nrx = FWD_RX_DESC, ntx = FWD_TX_DESC, q;
	const char *name = p->name;
	bool rss;
	int rc;

	p->cfg = cp;
	if (cp->pci[0] != '\0')
		snprintf(p->name, sizeof(p->name), "%s", cp->pci);
	else
		vdev_name(cp->vdev, p->name, sizeof(p->name));
	if (rte_eth_dev_get_port_by_name(name, &p->port_id) != 0) {
		if (cp->pci[0] != '\0')
			FWD_LOG(ERR, "port %s: no device %s: is it bound to vfio-pci (or its own driver, for mlx5)? (docs/DEPLOY.md)",
				cp->name, name);
		else
			FWD_LOG(ERR, "port %s: no device %s", cp->name, name);
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0)
		return rc;
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		FWD_LOG(ERR, "port %s: device %s has %u queue pairs, %u workers need %u%s",
			cp->name, name, RTE_MIN(info.max_rx_queues, info.max_tx_queues),
			nq, nq, cp->pci[0] != '\0' ? "" : " (add qpairs= or its driver's queue count to its vdev)");
		return -EINVAL;
	}
	rss = rss_conf(p, &info, nq, &conf, key);
	p->tx_csum = info.tx_offload_capa & FWD_TX_CSUM;
	p->tx_offloads = tx_offloads(p, cp);
	conf.txmode.offloads = p->tx_offloads;
	rc = rte_eth_dev_configure(p->port_id, nq, nq, &conf);
	if (rc == 0)
		rc = port_mtu(p, &info);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrx, &ntx);
	/* Queue q is worker q's: its rings and buffers on that worker's
	 * NUMA node (its pool's). */
	for (q = 0; rc == 0 && q < nq; q++) {
		int node = pools[q]->socket_id;

		rc = rte_eth_rx_queue_setup(p->port_id, q, nrx, (unsigned int)node,
					    NULL, pools[q]);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->port_id, q, ntx,
						    (unsigned int)node, NULL);
	}
	if (rc == 0)
		rc = rte_eth_dev_start(p->port_id);
	if (rc != 0) {
		FWD_LOG(ERR, "port %s: cannot start %s: %s", cp->name, name,
			rte_strerror(-rc));
		return rc;
	}
	if (rss)
		rss_reta(p, &info, nq);
	if (info.device != NULL && rte_eth_dev_socket_id(p->port_id) >= 0 &&
	    rte_eth_dev_socket_id(p->port_id) != pools[0]->socket_id)
		FWD_LOG(NOTICE, "port %s: %s is on NUMA node %d, worker 0 on %d: its frames cross nodes",
			cp->name, name, rte_eth_dev_socket_id(p->port_id),
			pools[0]->socket_id);
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
	FWD_LOG(INFO, "port %s: %s up, " RTE_ETHER_ADDR_PRT_FMT ", %u queue pair(s), MTU %u, RSS %s, TX checksum offloads 0x%" PRIx64 " (used: 0x%" PRIx64 ")",
		cp->name, name, RTE_ETHER_ADDR_BYTES(&mac), nq, cp->mtu,
		rss ? "on" : "off", p->tx_csum, p->tx_offloads);
	return 0;
}

int
fwd_services_setup(struct fwd_ctx *c)
{
	const struct halb_cfg *cfg = c->cfg;
	uint32_t i;
	int n;

	c->neigh = rte_zmalloc("halb_neigh", sizeof(*c->neigh), 64);
	if (c->neigh == NULL)
		return -ENOMEM;
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
		n = fwd_static_neigh(c, cfg, i, NULL, 0);
		if (n < 0)
			return n;
	}
	/* The services: the first view (view.c), generation 1 as the
	 * shared memory's (halb_shm_create). */
	return fwd_view_build(c, cfg, 1, &c->view, NULL, 0);
}
