/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wrr: smooth weighted round robin (nginx ngx_http_upstream_get_peer):
 * every weighted backend gains its weight, the richest wins (lowest
 * index on a tie) and pays the total.  The sum of wrr_cur[] stays 0 and
 * each |wrr_cur| stays below the total (< 2^40), so int64_t cannot
 * overflow.  With a mask only its backends take part: pools are
 * disjoint, so each pool's wrr_cur[] is a smooth round robin of its own.
 */
#include <string.h>

#include "halb/sched.h"

static void
wrr_reset(struct sched_svc *s)
{
	memset(s->wrr_cur, 0, sizeof(s->wrr_cur));
}

static uint16_t
wrr_pick(struct sched_svc *s, const struct sched_ctx *ctx)
{
	int64_t total = 0;
	uint32_t i, best = MH_EMPTY;

	for (i = 0; i < s->n; i++) {
		if (s->weight[i] == 0 ||
		    (ctx->mask != NULL && !sched_mask_has(ctx->mask, i)))
			continue;
		s->wrr_cur[i] += s->weight[i];
		total += s->weight[i];
		if (best == MH_EMPTY || s->wrr_cur[i] > s->wrr_cur[best])
			best = i;
	}
	if (best == MH_EMPTY)
		return MH_EMPTY;
	s->wrr_cur[best] -= total;
	return (uint16_t)best;
}

const struct sched_ops sched_wrr_ops = {
	.reset = wrr_reset,
	.pick = wrr_pick,
};
