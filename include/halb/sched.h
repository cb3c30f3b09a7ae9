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
 */
#ifndef HALB_SCHED_H
#define HALB_SCHED_H

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

/* What a scheduler may base its choice on: the flow's hash and the
 * parsed first packet (NULL where there is none, e.g. in tests). */
struct sched_ctx {
	uint32_t hash;
	const struct pkt_info *pi;
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

/* Sets kind and weights and resets the scheduler's state; keeps active. */
void sched_init(struct sched_svc *s, uint8_t kind, const uint32_t *weights,
		uint32_t n);

/* The chosen backend index, or MH_EMPTY when none has weight (or the
 * kind is unknown). */
uint16_t sched_pick(struct sched_svc *s, const struct sched_ctx *ctx);

#endif
