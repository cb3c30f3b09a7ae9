/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wlc: weighted least connections: the smallest active/weight, compared
 * as active[i] * weight[best] < active[best] * weight[i], exact in 64
 * bits for 32-bit operands.  Strict comparison keeps ties on the lowest
 * index.  active[] is the caller's count of live flows per backend.
 * With a mask only its backends are compared.
 */
#include "halb/sched.h"

static uint16_t
wlc_pick(struct sched_svc *s, const struct sched_ctx *ctx)
{
	uint32_t i, best = MH_EMPTY;

	for (i = 0; i < s->n; i++) {
		if (s->weight[i] == 0 ||
		    (ctx->mask != NULL && !sched_mask_has(ctx->mask, i)))
			continue;
		if (best == MH_EMPTY ||
		    (uint64_t)s->active[i] * s->weight[best] <
		    (uint64_t)s->active[best] * s->weight[i])
			best = i;
	}
	return (uint16_t)best;
}

const struct sched_ops sched_wlc_ops = {
	.pick = wlc_pick,
};
