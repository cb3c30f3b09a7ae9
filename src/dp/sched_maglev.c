/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * maglev: the service's published Maglev table, indexed by the flow
 * hash.  The table is authoritative, as it is for the forwarder's
 * fallback that reads the same table: only an index the service does not
 * have (a table built for a longer backend list) is refused.  Other
 * schedulers' services use it too, through sched_pick_maglev(), for a
 * decision that must reproduce one taken without a record.  Inside one
 * pool of a request-routed service (a mask in the context) it hashes by
 * weighted rendezvous instead, below.
 */
#include <math.h>

#include "halb/sched.h"

uint16_t
sched_pick_maglev(const struct sched_svc *s, uint32_t flow_hash)
{
	uint16_t v;

	if (s->mh == NULL || s->mh_size == 0)
		return MH_EMPTY;
	v = mh_lookup(s->mh, s->mh_size, flow_hash);
	return v < s->n ? v : MH_EMPTY;
}

/* splitmix64's finaliser: a flow and a backend slot into 64 bits. */
static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * Inside a pool (halb/sched.h): the service's Maglev table spreads over
 * every pool, and a walk of it to the pool's first entry favours the
 * backends after long runs of others' (about 5% off the weights for a
 * small pool).  Weighted rendezvous hashing instead (Schindler and
 * Thaler's -ln(u)/w): each candidate draws u in (0, 1) from the flow
 * hash and its slot, and the least -ln(u)/weight wins; that is an
 * exponential draw of rate weight, so backend i wins with probability
 * weight_i / sum exactly, the same flow always gets the same backend,
 * and a backend that leaves moves only its own flows.  Slots are stable
 * across reloads (halb/cfg_reload.h), so they stand for the backends.
 * Linear in the service's backends.
 */
static uint16_t
maglev_pick_pool(const struct sched_svc *s, const struct sched_mask *m,
		 uint32_t hash)
{
	uint32_t i, best = MH_EMPTY;
	double best_score = 0;

	for (i = 0; i < s->n; i++) {
		double u, score;

		if (s->weight[i] == 0 || !sched_mask_has(m, i))
			continue;
		/* 53 random bits, centred: never 0 or 1. */
		u = ((double)(mix64((uint64_t)hash << 32 | i) >> 11) + 0.5) *
		    (1.0 / 9007199254740992.0);
		score = -log(u) / s->weight[i];
		if (best == MH_EMPTY || score < best_score) {
			best = i;
			best_score = score;
		}
	}
	return (uint16_t)best;
}

static uint16_t
maglev_pick(struct sched_svc *s, const struct sched_ctx *ctx)
{
	if (ctx->mask != NULL)
		return maglev_pick_pool(s, ctx->mask, ctx->hash);
	return sched_pick_maglev(s, ctx->hash);
}

const struct sched_ops sched_maglev_ops = {
	.pick = maglev_pick,
};
