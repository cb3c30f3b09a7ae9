/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A producer's side of a session ring (include/halb/sess-t.h): the
 * classifier's (shm->sess_ring) and the forwarder's punt thread's for
 * the flows a remote classifier decided (shm->sess_ring_fwd).  Events
 * are buffered and enqueued in bursts of at most SESS_EVQ_BURST (once a
 * loop turn, or sooner when the buffer fills), never waiting: what a
 * full ring refuses is dropped and counted in cls.sess_ring_full, which
 * makes halb-sessiond resync from the flow tables.
 */
#ifndef HALB_SESS_EVQ_H
#define HALB_SESS_EVQ_H

#include <stdint.h>

#include <rte_ring.h>

#include "halb/sess-t.h"
#include "halb/shm-t.h"

#define SESS_EVQ_BURST 256u

struct sess_evq {
	struct rte_ring *ring;   /* NULL: no session tracker */
	struct cls_stats *st;    /* sess_events, sess_ring_full */
	uint32_t n;              /* buffered */
	struct sess_ev ev[SESS_EVQ_BURST];
};

/* Starts q on ring (NULL: every call does nothing). */
void sess_evq_init(struct sess_evq *q, struct rte_ring *ring,
		   struct cls_stats *st);

/* Enqueues what is buffered. */
void sess_evq_flush(struct sess_evq *q);

/*
 * Buffers what happened to e, worker w's, at flow clock now_ms; a dump
 * or a state refresh takes e's last_seen instead, so as not to age what
 * a worker just saw.
 */
void sess_evq_add(struct sess_evq *q, uint32_t w, const struct flow_entry *e,
		  enum sess_ev_type type, uint32_t now_ms);

/*
 * A live entry e of worker w's table t whose state moved since it was
 * last reported (flags, SESS_F_REPORTED; by this producer or by the one
 * that wrote the table before it): reports it.  The caller is t's
 * writer.
 */
void sess_evq_moved(struct sess_evq *q, const struct flow_table *t, uint32_t w,
		    const struct flow_entry *e, uint32_t now_ms);

#endif
