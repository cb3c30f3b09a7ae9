/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dsr: direct server return at L2.  The packet goes on as it came, with
 * new Ethernet addresses; the backend holds the VIP on lo and answers the
 * client itself.
 */
#include "fwd.h"
#include "mode.h"

static int
dsr_rewrite(struct rte_mbuf *m, const struct pkt_info *pi,
	    const struct fwd_backend *be, const struct fwd_port *out,
	    const uint8_t nh[6], uint32_t hash)
{
	(void)pi;
	(void)be;
	(void)hash;
	pkt_rw_dsr(rte_pktmbuf_mtod(m, uint8_t *), out->mac, nh);
	return 0;
}

const struct fwd_mode_ops fwd_mode_dsr = {
	.rewrite = dsr_rewrite,
};
