/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel: VXLAN.  The client's frame (untagged) goes inside outer
 * Ethernet/IP/UDP/VXLAN headers to the backend's VXLAN device, whose MAC
 * is configured; the outer UDP source port carries the flow hash.  The
 * backend holds the VIP on lo and answers the client itself.
 */
#include <string.h>

#include <rte_ethdev.h>

#include "halb/cfg.h"
#include "fwd.h"
#include "mode.h"

static void
tunnel_setup(const struct fwd_ctx *c, const struct cfg_service *cs,
	     const struct cfg_backend *cb, uint16_t out, struct fwd_backend *be)
{
	const struct cfg_port *cp = &c->cfg->ports[out];

	memcpy(be->vx.src_mac, c->ports[out].mac, 6);
	be->vx.src = halb_ip_is_v4(&cb->ip) ? cp->ip4 : cp->ip6;
	be->vx.dst = cb->ip;
	be->vx.dst_port = cs->tunnel_port;
	be->vx.vni = cs->vni;
	memcpy(be->vx.inner_dst_mac, cb->tunnel_mac, 6);
	/* Over IPv6 the outer UDP checksum covers the whole packet: the
	 * device sums it where it can (setup.c tx_offloads). */
	be->vx.udp6_csum_ol = !halb_ip_is_v4(&cb->ip) &&
		(c->ports[out].tx_offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
	be->overhead = (uint16_t)cfg_tunnel_overhead(&cb->ip);
}

static int
tunnel_rewrite(struct rte_mbuf *m, const struct pkt_info *pi,
	       const struct fwd_backend *be, const struct fwd_port *out,
	       const uint8_t nh[6], uint32_t hash)
{
	struct pkt_vxlan vx = be->vx;
	uint32_t hlen = halb_ip_is_v4(&be->ip) ? PKT_VXLAN_HDR_V4 :
						 PKT_VXLAN_HDR_V6;
	uint8_t *outer;

	if (pi->has_vlan) {
		/* The backend's VXLAN device takes untagged frames. */
		uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);

		memmove(frame + 4, frame, 12);
		rte_pktmbuf_adj(m, 4);
	}
	outer = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)hlen);
	if (unlikely(outer == NULL))
		return FWD_DROP_NO_HEADROOM;
	memcpy(vx.dst_mac, nh, 6);
	if (pkt_vxlan_encap(outer, rte_pktmbuf_pkt_len(m) - hlen, &vx, hash) == 0)
		return FWD_DROP_OTHER;
	if (vx.udp6_csum_ol) {
		/* The device sums the outer UDP datagram; tx_one adds the
		 * port's tag. */
		m->l2_len = RTE_ETHER_HDR_LEN +
			    (out->cfg->vlan != 0 ? RTE_VLAN_HLEN : 0);
		m->l3_len = 40;
		m->ol_flags |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
	}
	return 0;
}

const struct fwd_mode_ops fwd_mode_tunnel = {
	.setup = tunnel_setup,
	.rewrite = tunnel_rewrite,
};
