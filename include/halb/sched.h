/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backend schedulers of the classifier.  Each service has one
 * struct sched_svc, owned by the classifier's single thread.  Each kind
 * of scheduler is a struct sched_ops in a file of its own
 * (src/dp/sched_<name>.c), listed in halb/sched-list.h:
 *
 *  - maglev (default): the service's Maglev table; the same flow always
 *    gets the same backend, in the classifier and in the forwarder's
 *    fallback alike.
 *  - wrr: smooth weighted round robin (as in nginx): over any window of
 *    sum(weights) picks, each backend is picked weight times, spread out.
 *  - wlc: weighted least connections: the backend with the smallest
 *    active/weight, ties to the lowest index.
 *
 * Backends of weight 0 are never picked.
 *
 * Request routing (halb/l7req.h) picks inside one pool of a service: the
 * context's mask then names the candidates, and every kind keeps to
 * them.  wrr and wlc skip the others (pools are disjoint, so wrr's
 * state per backend stays each pool's own smooth round robin); maglev,
 * whose table spreads over every pool, hashes by weighted rendezvous
 * among the pool's backends instead (src/dp/sched_maglev.c): consistent
 * per flow and exact to the weights (tests/unit/test_sched.c), in time
 * linear in the service's backends.  The forwarder's fallback cannot
 * route requests, so it never needs the pool's choice from the table.
 * Without a mask nothing changes.
 */
#ifndef HALB_SCHED_H
#define HALB_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "halb/cfg-t.h"
#include "halb/mh.h"

struct pkt_info;

struct sched_svc {
	uint8_t kind;    /* enum cfg_sched */
	uint32_t n;      /* backends */
	uint32_t weight[CFG_MAX_BACKENDS];
	uint32_t active[CFG_MAX_BACKENDS]; /* live flows, kept by the caller */
	int64_t wrr_cur[CFG_MAX_BACKENDS]; /* wrr's state */
	const uint16_t *mh; /* maglev: the published table */
	uint32_t mh_size;
};

/* A set of a service's backends by index: one pool's (sched_pool_mask). */
#define SCHED_MASK_WORDS ((CFG_MAX_BACKENDS + 63) / 64)

struct sched_mask {
	uint64_t w[SCHED_MASK_WORDS];
};

static inline bool
sched_mask_has(const struct sched_mask *m, uint32_t i)
{
	return i < CFG_MAX_BACKENDS && (m->w[i / 64] >> (i % 64) & 1) != 0;
}

/*
 * What a scheduler may base its choice on: the flow's hash, the parsed
 * first packet (NULL where there is none, e.g. in tests), and the
 * candidates (NULL: every backend of the service).
 */
struct sched_ctx {
	uint32_t hash;
	const struct pkt_info *pi;
	const struct sched_mask *mask;
};

/*
 * A kind of scheduler.  reset (may be NULL) clears its own state after
 * sched_init() set new weights; pick returns an index below s->n whose
 * weight is not 0, or MH_EMPTY.
 */
struct sched_ops {
	void (*reset)(struct sched_svc *s);
	uint16_t (*pick)(struct sched_svc *s, const struct sched_ctx *ctx);
};

#define HALB_SCHED(e, name) extern const struct sched_ops sched_##name##_ops;
#include "halb/sched-list.h"
#undef HALB_SCHED

/* The live backends of service cs in pool `pool` (cfg_backend.pool) into
 * *m; the number of them. */
uint32_t sched_pool_mask(const struct cfg_service *cs, uint8_t pool,
			 struct sched_mask *m);

/* Sets kind and weights and resets the scheduler's state; keeps active. */
void sched_init(struct sched_svc *s, uint8_t kind, const uint32_t *weights,
		uint32_t n);

/* The chosen backend index (one of ctx->mask's when it is set), or
 * MH_EMPTY when none has weight (or the kind is unknown). */
uint16_t sched_pick(struct sched_svc *s, const struct sched_ctx *ctx);

/*
 * The Maglev table's answer whatever the scheduler: what the forwarder's
 * fallback decided for this flow, for decisions that must reproduce one
 * taken without a record (a miss mid-connection).  MH_EMPTY when none.
 */
uint16_t sched_pick_maglev(const struct sched_svc *s, uint32_t flow_hash);

#endif
