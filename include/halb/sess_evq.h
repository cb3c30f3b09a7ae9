/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A producer's side of a session ring (include/halb/sess-t.h): the
 * classifier's (shm->sess_ring), the forwarder's punt thread's for
 * the flows a remote classifier decided (shm->sess_ring_fwd), and the
 * request router's for the bound connections (shm->sess_ring_l7: its
 * events carry SESS_EV_F_SPLICED and the entry's tag, the sequence
 * delta).  Events are buffered and enqueued in bursts of at most
 * SESS_EVQ_BURST (once a loop turn, or sooner when the buffer fills),
 * never waiting: what a full ring refuses is dropped and counted
 * (cls.sess_ring_full, l7.sess_ring_full for the router's), which makes
 * halb-sessiond resync from the tables.
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
	uint64_t *events;        /* enqueued */
	uint64_t *ring_full;     /* dropped: the ring was full */
	uint8_t ev_flags;        /* SESS_EV_F_SPLICED: the router's */
	uint32_t n;              /* buffered */
	struct sess_ev ev[SESS_EVQ_BURST];
};

/* Starts q on ring (NULL: every call does nothing), counting in st's
 * sess_events and sess_ring_full. */
void sess_evq_init(struct sess_evq *q, struct rte_ring *ring,
		   struct cls_stats *st);

/* The request router's: its events spliced, each with its entry's tag
 * (the sequence delta), counted in st's sess_events and sess_ring_full. */
void sess_evq_init_l7(struct sess_evq *q, struct rte_ring *ring,
		      struct l7_stats *st);

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
