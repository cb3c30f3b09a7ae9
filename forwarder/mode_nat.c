/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nat: destination address and port rewritten to the backend's, checksums
 * updated incrementally.  The backend is unmodified and routes its replies
 * through the appliance, which rewrites their source back to the VIP
 * (worker.c nat_reply; svc.c maps NAT backends to their service).
 */
#include "fwd.h"
#include "mode.h"

static int
nat_rewrite(struct rte_mbuf *m, const struct pkt_info *pi,
	    const struct fwd_backend *be, const struct fwd_port *out,
	    const uint8_t nh[6], uint32_t hash)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);

	(void)hash;
	if (pkt_rw_nat_fwd(frame, rte_pktmbuf_data_len(m), pi, &be->ip,
			   be->port) != 0)
		return FWD_DROP_OTHER;
	pkt_rw_dsr(frame, out->mac, nh);
	return 0;
}

const struct fwd_mode_ops fwd_mode_nat = {
	.rewrite = nat_rewrite,
};
