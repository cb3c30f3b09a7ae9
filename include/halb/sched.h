/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backend schedulers of the classifier.  Each service has one
 * struct sched_svc, owned by the classifier's single thread.
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

struct sched_svc {
	uint8_t kind;    /* enum cfg_sched */
	uint32_t n;      /* backends */
	uint32_t weight[CFG_MAX_BACKENDS];
	uint32_t active[CFG_MAX_BACKENDS]; /* live flows, kept by the caller */
	int64_t wrr_cur[CFG_MAX_BACKENDS];
	const uint16_t *mh; /* maglev: the published table */
	uint32_t mh_size;
};

/* Sets kind and weights and resets the round-robin state; keeps active. */
void sched_init(struct sched_svc *s, uint8_t kind, const uint32_t *weights,
		uint32_t n);

/* The chosen backend index, or MH_EMPTY when none has weight. */
uint16_t sched_pick(struct sched_svc *s, uint32_t flow_hash);

/*
 * The Maglev table's answer whatever the scheduler: what the forwarder's
 * fallback decided for this flow, for decisions that must reproduce one
 * taken without a record (a miss mid-connection).  MH_EMPTY when none.
 */
uint16_t sched_pick_maglev(const struct sched_svc *s, uint32_t flow_hash);

#endif
