/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * maglev: the service's published Maglev table, indexed by the flow
 * hash.  The table is authoritative, as it is for the forwarder's
 * fallback that reads the same table: only an index the service does not
 * have (a table built for a longer backend list) is refused.
 */
#include "halb/sched.h"

static uint16_t
maglev_pick(struct sched_svc *s, const struct sched_ctx *ctx)
{
	uint16_t v;

	if (s->mh == NULL || s->mh_size == 0)
		return MH_EMPTY;
	v = mh_lookup(s->mh, s->mh_size, ctx->hash);
	return v < s->n ? v : MH_EMPTY;
}

const struct sched_ops sched_maglev_ops = {
	.pick = maglev_pick,
};
