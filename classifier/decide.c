/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's work on a worker's flow table: deciding the first
 * packet of a flow (service, scheduler, install) and the housekeeping
 * between bursts (expiry paced by time, reclaim, the flow count).
 *
 * A miss whose flow another worker holds (its frames changed queue) gets
 * that flow's backend (flow_elsewhere).  A miss that may be the
 * continuation of a connection decided without a record (decided_before) is decided with the service's Maglev table,
 * whatever its scheduler, as the forwarder's fallback did: a connection
 * keeps its backend across a classifier outage, a full punt ring or a
 * full table (docs/ARCHITECTURE.md, "When the classifier is gone").
 * Before that, a miss mid-connection (a TCP packet other than an opening
 * SYN, a UDP datagram) whose 5-tuple a peer appliance decided gets the
 * backend the replica holds (sess.c cls_replica_pick): the connection
 * moved here from an appliance that died or that ECMP no longer picks.
 * Installs, state changes and removals are told to halb-sessiond
 * (halb/sess_evq.h).
 *
 * Kept apart from main.c (the process: EAL, rings, the loop) and free of
 * mbufs and of health.c, so that bench/decide.c measures this very code.
 */
#include <netinet/in.h>
#include <string.h>

#include "halb/cfg.h"
#include "halb/mh.h"
#include "halb/pkt.h"
#include "cls.h"

RTE_LOG_REGISTER_DEFAULT(cls_logtype, INFO);

static uint8_t
initial_state(const struct pkt_info *pi)
{
	if (pi->key.proto != IPPROTO_TCP)
		return FLOW_ST_UDP;
	if (pi->tcp_flags & (PKT_TCP_FIN | PKT_TCP_RST))
		return FLOW_ST_FIN;
	/* A miss mid-connection (after a failover) is an established flow. */
	return (pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN ? FLOW_ST_SYN :
								    FLOW_ST_EST;
}

/*
 * The state a new entry starts in.  A TCP miss mid-connection starts
 * unconfirmed, in the SYN state and its short timeout, like a SYN: the
 * connection's next packet confirms it (the worker moves SYN to EST on
 * any packet without SYN), while a lone packet that opens nothing (a
 * spoofed ACK flood) holds its entry for tcp_syn_timeout only, not for
 * tcp_timeout, and cannot fill the table for long.
 */
static uint8_t
install_state(const struct pkt_info *pi)
{
	uint8_t st = initial_state(pi);

	return st == FLOW_ST_EST ? FLOW_ST_SYN : st;
}

/*
 * Whether this miss may belong to a connection that was decided without
 * a record, whose backend must not change now:
 *  - a TCP packet other than an opening SYN: the connection exists, and
 *    it has no entry because its earlier packets were decided by the
 *    forwarder's fallback (classifier silent, punt ring full, table full)
 *    or by this classifier while the table was full, all with the Maglev
 *    table; or its entry expired or was evicted, and no record is left
 *    of what decided it;
 *  - any packet (a UDP datagram, a retransmitted SYN) of a flow that the
 *    worker marked as decided without a record within its idle timeout
 *    (fb_marks): UDP has no opening packet to tell a new flow by.
 * Flows this classifier installed never get here while their entry
 * lives: the tables are in the forwarder's memory and outlive a
 * classifier restart.
 */
static bool
decided_before(const struct cls *c, uint32_t w, const struct pkt_info *pi,
	       uint32_t hash)
{
	const uint32_t *marks = c->shm->workers[w].fb_marks;
	uint32_t window;

	if (pi->key.proto == IPPROTO_TCP && initial_state(pi) != FLOW_ST_SYN)
		return true;
	if (marks == NULL)
		return false;
	window = pi->key.proto == IPPROTO_TCP ? c->cfg->tcp_timeout_ms :
						c->cfg->udp_timeout_ms;
	return halb_fb_marked(marks, hash, c->now_ms, window);
}

/*
 * This miss's flow in another worker's table: its frames changed queue
 * while it lived (net_af_packet rolls frames over to another socket
 * when one socket's ring is full; an operator rewrote the redirection
 * table; a device spreads without RSS), so worker w misses a connection
 * that another worker holds (docs/ARCHITECTURE.md, "Ports, queues and
 * RSS").  The connection keeps its backend: w gets the same decision.
 * An opening SYN does not continue a closed flow (FIN state) there.
 * The classifier writes every table, so reading them here is safe.
 */
static const struct flow_entry *
flow_elsewhere(const struct cls *c, uint32_t w, const struct pkt_info *pi,
	       uint32_t hash)
{
	const struct flow_entry *e;
	uint32_t v;

	for (v = 0; v < c->shm->n_workers; v++) {
		if (v == w)
			continue;
		e = flow_lookup(c->fw[v].t, &pi->key, hash);
		if (e != NULL && !(e->state == FLOW_ST_FIN &&
				   initial_state(pi) == FLOW_ST_SYN))
			return e;
	}
	return NULL;
}

/* A TCP segment's sequence number (as on the wire: only compared). */
static uint32_t
tcp_seq(const uint8_t *frame, const struct pkt_info *pi)
{
	uint32_t seq;

	memcpy(&seq, frame + pi->l4_off + 4, sizeof(seq));
	return seq;
}

/*
 * Whether entry e, found for an opening SYN, is a closed connection's
 * whose 5-tuple the client now opens again (else the SYN is a
 * retransmission, punted twice, and keeps e's backend): e is closed
 * (FIN), or, in tables of our own whose entries stay in SYN, e was
 * opened by another SYN (a retransmission repeats its sequence number).
 */
static bool
reopens(const struct cls *c, const struct flow_entry *e,
	const uint8_t *frame, const struct pkt_info *pi)
{
	if (initial_state(pi) != FLOW_ST_SYN)
		return false;
	return e->state == FLOW_ST_FIN ||
	       (c->own_tables && e->tag != tcp_seq(frame, pi));
}

static void
set_active(struct cls *c, uint32_t s, uint32_t b, int delta)
{
	c->sched[s].active[b] += (uint32_t)delta;
	c->shm->active[s][b] = c->sched[s].active[b];
}

bool
cls_decide(struct cls *c, uint32_t w, const uint8_t *frame, uint32_t len,
	   uint32_t *usr)
{
	struct cls_stats *st = &c->shm->cls;
	const struct flow_entry *other;
	struct flow_entry *e = NULL;
	struct sched_ctx ctx;
	struct pkt_info pi;
	uint32_t hash;
	uint16_t b;
	bool fresh;
	int s, rc;

	if (pkt_parse(frame, len, &pi) != PKT_OK || pi.kind != PKT_KIND_FLOW) {
		st->bad_packet++;
		return false;
	}
	s = svc_by_vip(&c->svcs, pi.key.dst, pi.key.dport, pi.key.proto);
	if (s < 0) {
		st->no_service++;
		return false;
	}
	hash = pkt_flow_hash(&pi.key);
	e = flow_lookup(c->fw[w].t, &pi.key, hash);
	if (e != NULL && reopens(c, e, frame, &pi)) {
		/* A new connection on a closed one's 5-tuple: forget the old
		 * decision, the backend may be draining or down by now. */
		set_active(c, e->svc, e->backend, -1);
		sess_evq_add(&c->sq, w, e, SESS_EV_REMOVE, c->now_ms);
		flow_remove(&c->fw[w], (uint32_t)(e - c->fw[w].t->entries), hash);
		e = NULL;
	}
	if (e != NULL) {
		/* A retransmitted SYN that was punted twice. */
		st->existing++;
		*usr = HALB_RET_DECISION(e->svc, e->backend);
		return true;
	}
	/* Whether b is a new choice of the scheduler (else it reproduces a
	 * decision taken before, which a full table must not change). */
	fresh = false;
	other = flow_elsewhere(c, w, &pi, hash);
	if (other != NULL) {
		/* Installed in w too (each copy ages on the frames its
		 * worker sees), and counted as already installed. */
		st->existing++;
		b = other->backend;
	} else if ((pi.key.proto != IPPROTO_TCP ||
		    initial_state(&pi) != FLOW_ST_SYN) &&
		   cls_replica_pick(c, (uint32_t)s, &pi.key, hash, &b)) {
		/* Counted as cls.replica. */
	} else if (decided_before(c, w, &pi, hash)) {
		/* Reproduce the decision that was taken: the forwarder's
		 * fallback and the stateless decisions of a full table use
		 * the Maglev table, whatever the service's scheduler. */
		st->kept++;
		b = sched_pick_maglev(&c->sched[s], hash);
	} else {
		ctx.hash = hash;
		ctx.pi = &pi;
		ctx.mask = NULL; /* any backend: request routing is the
				  * request router's (halb/l7req.h) */
		b = sched_pick(&c->sched[s], &ctx);
		fresh = true;
	}
	if (b == MH_EMPTY) {
		st->no_backend++;
		return false;
	}
	rc = flow_insert_tag(&c->fw[w], &pi.key, hash, (uint16_t)s, b,
			     install_state(&pi), c->now_ms,
			     c->own_tables && initial_state(&pi) == FLOW_ST_SYN ?
			     tcp_seq(frame, &pi) : 0, NULL);
	if (rc >= 0) {
		e = &c->fw[w].t->entries[rc];
		/* Only this thread reads flags: no ordering needed. */
		e->flags = (uint8_t)(SESS_F_REPORTED | e->state);
		sess_evq_add(&c->sq, w, e, SESS_EV_INSTALL, c->now_ms);
		st->installs++;
		c->shm->installs[s][b]++;
		set_active(c, (uint32_t)s, b, 1);
		c->shm->workers[w].table_full = 0;
	} else {
		/* Table full: the packet still goes, statelessly: a decision
		 * taken before (another worker's flow, a fallback's) as it
		 * was, a new one by the same Maglev table the worker falls
		 * back to, so that its next packets get the same. */
		st->table_full++;
		c->shm->workers[w].table_full = 1;
		if (fresh)
			b = sched_pick_maglev(&c->sched[s], hash);
		if (b == MH_EMPTY) {
			st->no_backend++;
			return false;
		}
		*usr = HALB_RET_DECISION(s, b) | HALB_RET_F_STATELESS;
		return true;
	}
	*usr = HALB_RET_DECISION(s, b);
	return true;
}

bool
cls_expired(void *ctx, const struct flow_entry *e)
{
	struct cls *c = ctx;
	uint32_t idle = c->now_ms - __atomic_load_n(&e->last_seen, __ATOMIC_RELAXED);
	uint32_t limit = flow_idle_timeout_ms(c->cfg,
					      __atomic_load_n(&e->state, __ATOMIC_RELAXED));

	if (e->svc >= c->cfg->n_services ||
	    e->backend >= c->cfg->services[e->svc].n_backends)
		return true; /* cannot happen: the classifier wrote it */
	if (c->evict[e->svc][e->backend]) {
		c->shm->cls.evicted++;
	} else if (idle < limit || idle > 0x80000000u) {
		/* last_seen may be a little ahead of our clock: a worker
		 * wrote it after we read now_ms.  That shows as a huge
		 * idle time; it is not one. */
		sess_evq_moved(&c->sq, c->fw[c->sweep_w].t, c->sweep_w, e,
			       c->now_ms);
		return false;
	} else {
		c->shm->cls.expired++;
	}
	set_active(c, e->svc, e->backend, -1);
	sess_evq_add(&c->sq, c->sweep_w, e, SESS_EV_REMOVE, c->now_ms);
	return true;
}

void
cls_sweep_start(struct cls *c, uint32_t w, uint64_t now_tsc)
{
	struct cls_sweep *sw = &c->sweep[w];
	uint64_t nb = c->fw[w].t->n_buckets;

	sw->last_tsc = now_tsc;
	sw->owed = 0;
	sw->rate = RTE_MIN(nb * 1000 / CLS_EXPIRE_SWEEP_MS,
			   (uint64_t)CLS_EXPIRE_MAX_RATE);
	sw->max_dt = nb * c->shm->tsc_hz / sw->rate;
}

/*
 * Buckets the expiry scan owes worker w's table at now_tsc: the table
 * once per CLS_EXPIRE_SWEEP_MS, at most CLS_EXPIRE_MAX_RATE buckets a
 * second.  What is owed is kept in buckets × TSC ticks a second, so that
 * the fraction a fast loop earns per call adds up instead of rounding to
 * 0.  What is over the per-call cap is owed to the next calls, up to one
 * sweep: a loop too slow to keep up sweeps at the cap's pace.  Bounds:
 * owed stays below 2 × n_buckets × tsc_hz (2^58 for 2^24 buckets at
 * 5 GHz).
 */
static uint32_t
sweep_budget(struct cls *c, uint32_t w, uint64_t now_tsc)
{
	struct cls_sweep *sw = &c->sweep[w];
	uint64_t hz = c->shm->tsc_hz, nb = c->fw[w].t->n_buckets, dt, n;

	dt = now_tsc > sw->last_tsc ? now_tsc - sw->last_tsc : 0;
	sw->last_tsc = now_tsc;
	/* A stall earns one sweep at most. */
	dt = RTE_MIN(dt, sw->max_dt);
	sw->owed += dt * sw->rate;
	n = RTE_MIN(sw->owed / hz, (uint64_t)CLS_EXPIRE_MAX_BUCKETS);
	sw->owed = RTE_MIN(sw->owed - n * hz, nb * hz);
	return (uint32_t)n;
}

void
cls_housekeep(struct cls *c, uint32_t w, uint64_t now_tsc)
{
	c->sweep_w = w;
	flow_expire_scan(&c->fw[w], sweep_budget(c, w, now_tsc), cls_expired, c);
	flow_reclaim(&c->fw[w]);
	c->shm->workers[w].flow_count = flow_count(&c->fw[w]);
}
