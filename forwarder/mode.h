/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Forwarding modes as an extension point: each mode is a struct
 * fwd_mode_ops in forwarder/mode_<name>.c, listed in halb/mode-list.h,
 * which also gives the configuration its names.  The forwarder sets each
 * backend up with its service's mode (setup.c) and calls rewrite for every
 * packet of a flow to that backend (worker.c forward()); the service keeps
 * a pointer to its ops, so a packet pays one indirect call.
 */
#ifndef HALB_FWD_MODE_H
#define HALB_FWD_MODE_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "halb/cfg-t.h"
#include "halb/pkt.h"

struct fwd_ctx;
struct fwd_backend;
struct fwd_port;

struct fwd_mode_ops {
	/*
	 * Per backend, once its route is known (out: the port it leaves
	 * by): fills what rewrite needs beyond the address, port and next
	 * hop, and be->overhead, the bytes the mode adds around a client's
	 * packet (the MTU check's).  May be NULL: nothing to add.
	 */
	void (*setup)(const struct fwd_ctx *c, const struct cfg_service *cs,
		      const struct cfg_backend *cb, uint16_t out,
		      struct fwd_backend *be);
	/*
	 * Rewrites m (parsed as pi) to go to backend be, out of port out to
	 * next hop nh.  hash: the flow's.  Returns 0, or the FWD_DROP_*
	 * reason to drop it for.
	 */
	int (*rewrite)(struct rte_mbuf *m, const struct pkt_info *pi,
		       const struct fwd_backend *be, const struct fwd_port *out,
		       const uint8_t nh[6], uint32_t hash);
};

#define HALB_MODE(e, name) extern const struct fwd_mode_ops fwd_mode_##name;
#include "halb/mode-list.h"
#undef HALB_MODE

/* The ops of mode (enum cfg_mode), or NULL for an unknown one. */
const struct fwd_mode_ops *fwd_mode(unsigned int mode);

#endif
