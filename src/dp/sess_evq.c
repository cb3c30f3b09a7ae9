/* SPDX-License-Identifier: BSD-3-Clause */
/* A producer's side of a session ring (halb/sess_evq.h). */
#include <string.h>

#include "halb/sess_evq.h"

void
sess_evq_init(struct sess_evq *q, struct rte_ring *ring, struct cls_stats *st)
{
	q->ring = ring;
	q->events = &st->sess_events;
	q->ring_full = &st->sess_ring_full;
	q->ev_flags = 0;
	q->n = 0;
}

void
sess_evq_init_l7(struct sess_evq *q, struct rte_ring *ring, struct l7_stats *st)
{
	q->ring = ring;
	q->events = &st->sess_events;
	q->ring_full = &st->sess_ring_full;
	q->ev_flags = SESS_EV_F_SPLICED;
	q->n = 0;
}

void
sess_evq_flush(struct sess_evq *q)
{
	unsigned int n;

	if (q->n == 0)
		return;
	n = rte_ring_sp_enqueue_burst_elem(q->ring, q->ev, sizeof(q->ev[0]),
					   q->n, NULL);
	*q->events += n;
	*q->ring_full += q->n - n;
	q->n = 0;
}

void
sess_evq_add(struct sess_evq *q, uint32_t w, const struct flow_entry *e,
	     enum sess_ev_type type, uint32_t now_ms)
{
	struct sess_ev *ev;

	if (q->ring == NULL)
		return;
	if (q->n == SESS_EVQ_BURST)
		sess_evq_flush(q);
	ev = &q->ev[q->n++];
	memset(ev, 0, sizeof(*ev));
	ev->key = e->key;
	ev->svc = e->svc;
	ev->backend = e->backend;
	ev->type = (uint8_t)type;
	ev->state = __atomic_load_n(&e->state, __ATOMIC_RELAXED);
	ev->worker = (uint16_t)w;
	ev->ms = type == SESS_EV_DUMP || type == SESS_EV_STATE ?
		 __atomic_load_n(&e->last_seen, __ATOMIC_RELAXED) : now_ms;
	ev->flags = q->ev_flags;
	if (q->ev_flags & SESS_EV_F_SPLICED)
		ev->delta = e->tag;
}

void
sess_evq_moved(struct sess_evq *q, const struct flow_table *t, uint32_t w,
	       const struct flow_entry *e, uint32_t now_ms)
{
	struct flow_entry *me = &t->entries[e - t->entries];
	uint8_t st = __atomic_load_n(&e->state, __ATOMIC_RELAXED);

	if (q->ring == NULL || me->flags == (SESS_F_REPORTED | st))
		return;
	me->flags = (uint8_t)(SESS_F_REPORTED | st);
	sess_evq_add(q, w, e, SESS_EV_STATE, now_ms);
}
