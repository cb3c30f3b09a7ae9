/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's side of the session tracker (docs/ARCHITECTURE.md,
 * "Session tracker"): what it tells halb-sessiond, and what it reads of
 * the sessions that peer appliances decided.
 *
 *  - Events: an install, a state change seen by the expiry sweep, a
 *    removal, and on request a dump of every live flow, as struct sess_ev
 *    on shm->sess_ring (single producer: this thread).  They are
 *    buffered and enqueued in bursts, never with a system call and never
 *    waiting: a full ring drops them, counted (sess_ring_full), and
 *    halb-sessiond, which sees the count move, asks for a dump.  A dump
 *    is paced (CLS_DUMP_BUCKETS a turn) and goes only as fast as the ring
 *    has room, so that none of its events is dropped.
 *  - The replica (shm->replica): read on a mid-connection miss, lock-free
 *    like a worker reads its flow table, an entry used only while its
 *    slot names the backend it was written for (its tag); halb-sessiond
 *    writes it and
 *    frees entries only after this thread reported a quiescent state
 *    (thread 0 of shm->replica_qsbr), once per loop turn.
 *  - halb-sessiond's heartbeat (shm->sess_alive): a silent one is logged
 *    and counted; nothing here waits for it.
 */

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "halb/cfg.h"
#include "cls.h"

void
cls_sess_init(struct cls *c)
{
	struct halb_shm *shm = c->shm;

	sess_evq_init(&c->sq, NULL, &shm->cls);
	c->dumping = false;
	c->sess_silent = false;
	c->replica_on = false;
	if (!shm->has_sessions || shm->sess_ring == NULL)
		return;
	sess_evq_init(&c->sq, shm->sess_ring, &shm->cls);
	/* Registering again after a killed classifier is harmless; online
	 * starts this thread's grace periods afresh. */
	if (rte_rcu_qsbr_thread_register(shm->replica_qsbr, 0) == 0) {
		rte_rcu_qsbr_thread_online(shm->replica_qsbr, 0);
		c->replica_on = true;
	} else {
		CLS_LOG(ERR, "cannot register with the replica's QSBR variable: replica lookups off");
	}
}

void
cls_sess_fini(struct cls *c)
{
	sess_evq_flush(&c->sq);
	if (c->replica_on) {
		rte_rcu_qsbr_thread_offline(c->shm->replica_qsbr, 0);
		rte_rcu_qsbr_thread_unregister(c->shm->replica_qsbr, 0);
		c->replica_on = false;
	}
}

/*
 * One share of a dump: up to CLS_DUMP_BUCKETS buckets from the cursor,
 * bucket by bucket while the ring has room for a whole bucket's events
 * (8) besides what is buffered (flushed with the turn's other events).
 * When every table is walked, the request is cleared, after the last
 * event is in the ring.
 */
static void
dump_share(struct cls *c, uint32_t req)
{
	struct halb_shm *shm = c->shm;
	uint32_t n, i;

	/* A new request (a restarted halb-sessiond) starts over. */
	if (!c->dumping || req != c->dump_req) {
		c->dumping = true;
		c->dump_req = req;
		c->dump_w = 0;
		c->dump_b = 0;
		CLS_LOG(INFO, "halb-sessiond asked for every flow: dumping");
	}
	for (n = 0; n < CLS_DUMP_BUCKETS && c->dump_w < shm->n_workers; n++) {
		const struct flow_table *t = c->fw[c->dump_w].t;
		const struct flow_bucket *bk;

		/* Room for what is buffered and a whole bucket: the ring
		 * has one producer, so the room can only grow. */
		if (rte_ring_free_count(c->sq.ring) < c->sq.n + FLOW_BUCKET_SLOTS)
			return; /* wait for halb-sessiond to take some */
		bk = &t->buckets[c->dump_b];
		for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
			uint64_t s = bk->slot[i];

			if (s == 0)
				continue;
			sess_evq_add(&c->sq, c->dump_w,
				     &t->entries[flow_slot_idx(s)], SESS_EV_DUMP,
				     c->now_ms);
			shm->cls.sess_dumped++;
		}
		if (++c->dump_b == t->n_buckets) {
			c->dump_b = 0;
			c->dump_w++;
		}
	}
	if (c->dump_w < shm->n_workers)
		return;
	sess_evq_flush(&c->sq);
	c->dumping = false;
	shm->cls.sess_dumps++;
	/* Cleared only if no new request came meanwhile (else it starts
	 * over next turn). */
	if (__atomic_compare_exchange_n(&shm->sess_dump_req, &req, 0, false,
					__ATOMIC_RELEASE, __ATOMIC_RELAXED))
		CLS_LOG(INFO, "dump done");
}

/* halb-sessiond's heartbeat: logged and counted when it goes stale (or
 * its process is gone), logged when it comes back. */
static void
watch_sessiond(struct cls *c, uint64_t now_tsc)
{
	struct halb_shm *shm = c->shm;
	int32_t pid = shm->sess_pid;
	bool silent;

	if (pid == 0) {
		silent = false; /* never started here, or stopped cleanly */
	} else {
		silent = halb_tsc_age(now_tsc, shm->sess_alive) >
			 shm->tsc_hz / 1000 * CLS_SESS_SILENT_MS;
	}
	if (silent && !c->sess_silent) {
		shm->cls.sess_silent++;
		CLS_LOG(WARNING, "halb-sessiond (pid %d) is silent: session events are kept in the ring while it has room, then dropped and counted; it resyncs from the flow tables when it returns",
			(int)pid);
	} else if (!silent && c->sess_silent) {
		CLS_LOG(NOTICE, "halb-sessiond (pid %d) is back", (int)pid);
	}
	c->sess_silent = silent;
}

void
cls_sess_turn(struct cls *c, uint64_t now_tsc)
{
	uint32_t req = __atomic_load_n(&c->shm->sess_dump_req, __ATOMIC_ACQUIRE);

	if (c->sq.ring == NULL)
		return;
	if (req != 0)
		dump_share(c, req);
	else
		c->dumping = false;
	sess_evq_flush(&c->sq);
	if (c->replica_on)
		rte_rcu_qsbr_quiescent(c->shm->replica_qsbr, 0);
	watch_sessiond(c, now_tsc);
}

bool
cls_replica_pick(struct cls *c, uint32_t s, const struct flow_key *k,
		 uint32_t hash, uint16_t *b)
{
	const struct flow_entry *e;
	uint16_t svc, be;

	if (!c->replica_on)
		return false;
	e = flow_lookup(&c->shm->replica, k, hash);
	if (e == NULL)
		return false;
	svc = e->svc;
	be = e->backend;
	/* halb-sessiond mapped the record from the key's VIP; a record of
	 * another service (a configuration that changed under it) is not
	 * this miss's. */
	if (svc != s || be >= c->cfg->services[s].n_backends)
		return false;
	/* The slot must still be the backend the record named, in this
	 * thread's view: a reload retires a removed backend's slot (its
	 * records are not used: such a connection is decided as without
	 * one) and later gives it to another backend (health_id says
	 * which, for live slots). */
	if (c->cfg->services[s].backends[be].slot != CFG_SLOT_LIVE ||
	    e->tag != halb_slot_tag(c->shm->health_id[s][be])) {
		c->shm->cls.replica_stale++;
		return false;
	}
	if (c->evict[s][be]) {
		c->shm->cls.replica_down++;
		return false;
	}
	c->shm->cls.replica++;
	*b = be;
	return true;
}
