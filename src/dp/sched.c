/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's backend schedulers (see halb/sched.h): the table of
 * kinds and what every kind shares.
 *
 * A struct sched_svc belongs to the classifier's single thread; nothing
 * here locks.  The caller keeps active[] and publishes the Maglev table
 * (mh, mh_size); sched_init() rewrites only kind, n, the weights and
 * the scheduler's own state.
 */
#include <stddef.h>
#include <string.h>

#include "halb/sched.h"

static const struct sched_ops *const kinds[CFG_SCHED_MAX] = {
#define HALB_SCHED(e, name) [CFG_SCHED_##e] = &sched_##name##_ops,
#include "halb/sched-list.h"
#undef HALB_SCHED
};

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
	if (kind < CFG_SCHED_MAX && kinds[kind]->reset != NULL)
		kinds[kind]->reset(s);
}

uint16_t
sched_pick(struct sched_svc *s, const struct sched_ctx *ctx)
{
	if (s->kind >= CFG_SCHED_MAX)
		return MH_EMPTY;
	return kinds[s->kind]->pick(s, ctx);
}

uint32_t
sched_pool_mask(const struct cfg_service *cs, uint8_t pool,
		struct sched_mask *m)
{
	uint32_t i, n = 0;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < cs->n_backends && i < CFG_MAX_BACKENDS; i++) {
		if (cs->backends[i].slot != CFG_SLOT_LIVE ||
		    cs->backends[i].pool != pool)
			continue;
		m->w[i / 64] |= 1ull << (i % 64);
		n++;
	}
	return n;
}
