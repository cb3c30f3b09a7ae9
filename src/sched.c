/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's backend schedulers (see halb/sched.h).
 *
 * A struct sched_svc belongs to the classifier's single thread; nothing
 * here locks.  The caller keeps active[] and publishes the Maglev table
 * (mh, mh_size); sched_init() rewrites only kind, n, the weights and
 * the round-robin state.  Every pick returns an index below n whose
 * weight is not 0, or MH_EMPTY.
 */
#include <string.h>

#include "halb/sched.h"

void
sched_init(struct sched_svc *s, uint8_t kind, const uint32_t *weights,
	   uint32_t n)
{
	uint32_t i;

	/* Indices above the array cannot be configured; ignore them. */
	if (n > CFG_MAX_BACKENDS)
		n = CFG_MAX_BACKENDS;
	if (weights == NULL)
		n = 0;
	s->kind = kind;
	s->n = n;
	for (i = 0; i < CFG_MAX_BACKENDS; i++)
		s->weight[i] = i < n ? weights[i] : 0;
	memset(s->wrr_cur, 0, sizeof(s->wrr_cur));
}

/*
 * The table is authoritative, as it is for the forwarder's fallback that
 * reads the same table: only an index the service does not have (a table
 * built for a longer backend list) is refused.
 */
static uint16_t
sched_maglev(const struct sched_svc *s, uint32_t hash)
{
	uint16_t v;

	if (s->mh == NULL || s->mh_size == 0)
		return MH_EMPTY;
	v = mh_lookup(s->mh, s->mh_size, hash);
	return v < s->n ? v : MH_EMPTY;
}

/*
 * Smooth weighted round robin (nginx ngx_http_upstream_get_peer): every
 * weighted backend gains its weight, the richest wins (lowest index on a
 * tie) and pays the total.  The sum of cur[] stays 0 and each |cur| stays
 * below the total (< 2^40), so int64_t cannot overflow.
 */
static uint16_t
sched_wrr(struct sched_svc *s)
{
	int64_t total = 0;
	uint32_t i, best = MH_EMPTY;

	for (i = 0; i < s->n; i++) {
		if (s->weight[i] == 0)
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

/*
 * Weighted least connections: smallest active/weight, compared as
 * active[i] * weight[best] < active[best] * weight[i], exact in 64 bits
 * for 32-bit operands.  Strict comparison keeps ties on the lowest index.
 */
static uint16_t
sched_wlc(const struct sched_svc *s)
{
	uint32_t i, best = MH_EMPTY;

	for (i = 0; i < s->n; i++) {
		if (s->weight[i] == 0)
			continue;
		if (best == MH_EMPTY ||
		    (uint64_t)s->active[i] * s->weight[best] <
		    (uint64_t)s->active[best] * s->weight[i])
			best = i;
	}
	return (uint16_t)best;
}

uint16_t
sched_pick_maglev(const struct sched_svc *s, uint32_t flow_hash)
{
	return sched_maglev(s, flow_hash);
}

uint16_t
sched_pick(struct sched_svc *s, uint32_t flow_hash)
{
	switch (s->kind) {
	case CFG_SCHED_MAGLEV:
		return sched_maglev(s, flow_hash);
	case CFG_SCHED_WRR:
		return sched_wrr(s);
	case CFG_SCHED_WLC:
		return sched_wlc(s);
	default:
		return MH_EMPTY;
	}
}
