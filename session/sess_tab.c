/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-sessiond's two tables (sessd.h), both flow tables worked by
 * flow.c's writer:
 *  - its own sessions, in process memory, with no reader but itself
 *    (entries are reused at once: no QSBR);
 *  - the replica, in the forwarder's memory, read lock-free by the
 *    classifier and the workers (their fallback and NAT reply checks)
 *    on a mid-connection miss.  Only this thread writes it:
 *    an entry's key and decision never change while it is published (a
 *    record whose backend changed gets a new entry), its state and
 *    last_seen are relaxed stores, and a removed entry is reused only
 *    after a grace period of all its readers (shm->replica_qsbr:
 *    thread 0 the classifier, 1 + id each worker).
 * Replica entries keep their owner (the peer's index in sessions.peers)
 * in flags (SESS_R_OWNER), when this appliance last heard of them in
 * created, and which backend their slot was in tag (shm-t.h): an entry
 * whose slot a reload retired or gave to another backend goes with the
 * next expiry scan, and the classifier does not use it meanwhile.  A
 * spliced session (a request-routed connection, docs/REQUESTS.md) has
 * SESS_R_SPLICED in flags and its sequence delta in the table's aux word,
 * both set before the entry is published and never changed while it is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_rcu_qsbr.h>

#include "halb/cfg.h"
#include "halb/pkt.h"
#include "sessd.h"

/* a - b on the wrapping flow clock. */
static int32_t
ms_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

int
sess_own_init(struct sess_own *o, uint32_t entries)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->mem = aligned_alloc(64, flow_table_mem_size(entries));
	if (o->mem == NULL)
		return -ENOMEM;
	flow_table_init(&o->t, o->mem, entries, 0);
	rc = flow_writer_init(&o->w, &o->t, NULL);
	if (rc != 0) {
		free(o->mem);
		o->mem = NULL;
	}
	return rc;
}

void
sess_own_fini(struct sess_own *o)
{
	flow_writer_fini(&o->w);
	free(o->mem);
	o->mem = NULL;
}

struct flow_entry *
sess_own_put(struct sess_own *o, const struct sess_ev *ev, uint32_t now_ms,
	     struct sess_tab_stats *st)
{
	uint32_t hash = pkt_flow_hash(&ev->key);
	struct flow_entry *e = NULL;
	int rc;

	rc = flow_insert(&o->w, &ev->key, hash, ev->svc, ev->backend, ev->state,
			 ev->ms, &e);
	if (rc == -EEXIST) {
		e->svc = ev->svc;
		e->backend = ev->backend;
		e->state = ev->state;
		e->last_seen = ev->ms;
		e->pad0 |= (uint16_t)(1u << (ev->worker % 16));
	} else if (rc >= 0) {
		e = &o->t.entries[rc];
		e->pad0 = (uint16_t)(1u << (ev->worker % 16));
	} else {
		st->own_full++;
		return NULL;
	}
	e->created = now_ms;
	/* No reader but this thread: edited in place. */
	e->flags = (ev->flags & SESS_EV_F_SPLICED) ? SESS_R_SPLICED : 0;
	e->tag = (ev->flags & SESS_EV_F_SPLICED) ? ev->delta : 0;
	return e;
}

bool
sess_own_remove(struct sess_own *o, const struct sess_ev *ev)
{
	uint32_t hash = pkt_flow_hash(&ev->key);
	struct flow_entry *e = flow_lookup(&o->t, &ev->key, hash);

	if (e == NULL)
		return true; /* unknown here (lost in an overflow): say it anyway */
	e->pad0 &= (uint16_t)~(1u << (ev->worker % 16));
	if (e->pad0 != 0)
		return false; /* another worker's table still holds it */
	flow_remove(&o->w, (uint32_t)(e - o->t.entries), hash);
	return true;
}

uint32_t
sess_own_sweep(struct sess_own *o, uint32_t before_ms, bool spliced,
	       void (*gone)(void *arg, const struct flow_entry *e), void *arg)
{
	uint32_t b, i, n = 0;

	for (b = 0; b < o->t.n_buckets; b++)
		for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
			uint64_t s = o->t.buckets[b].slot[i];
			struct flow_entry *e;

			if (s == 0)
				continue;
			e = &o->t.entries[flow_slot_idx(s)];
			if (ms_diff(e->created, before_ms) >= 0 ||
			    !(e->flags & SESS_R_SPLICED) != !spliced)
				continue;
			gone(arg, e);
			flow_remove(&o->w, flow_slot_idx(s), pkt_flow_hash(&e->key));
			n++;
		}
	return n;
}

uint32_t
sess_own_count(const struct sess_own *o)
{
	return flow_count(&o->w);
}

int
sess_replica_init(struct sess_replica *r, struct flow_table *t,
		  struct rte_rcu_qsbr *qsbr, const struct sess_map *map,
		  struct sess_tab_stats *st)
{
	memset(r, 0, sizeof(*r));
	r->map = map;
	r->st = st;
	return flow_writer_init(&r->w, t, qsbr);
}

void
sess_replica_fini(struct sess_replica *r)
{
	flow_writer_fini(&r->w);
}

static int
replica_put(struct sess_replica *r, const struct flow_key *k, uint16_t svc,
	    uint16_t backend, uint32_t tag, uint8_t state, unsigned int p,
	    uint32_t idle_ms, uint32_t now_ms, bool spliced, uint32_t delta)
{
	uint32_t hash = pkt_flow_hash(k);
	uint32_t seen = idle_ms < now_ms ? now_ms - idle_ms : 0;
	struct flow_entry *e = flow_lookup(r->w.t, k, hash);
	uint8_t sp = spliced ? SESS_R_SPLICED : 0;
	int rc;

	/* An unowned record (SESS_R_UNOWNED) fills a gap only: whatever is
	 * held of the tuple is newer, or some live peer's. */
	if (p == SESS_R_UNOWNED && e != NULL)
		return 0;
	if (e != NULL && (e->svc != svc || e->backend != backend || e->tag != tag ||
			  (e->flags & SESS_R_SPLICED) != sp ||
			  (spliced && flow_aux(r->w.t, e) != delta))) {
		/* A new decision for the 5-tuple (its owner saw it close
		 * and open again), or its slot given to another backend
		 * since: a new entry, never an edit that the classifier
		 * could read half of. */
		flow_remove(&r->w, (uint32_t)(e - r->w.t->entries), hash);
		e = NULL;
	}
	if (e == NULL) {
		struct flow_ext x = { .tag = tag, .aux = spliced ? delta : 0,
				      .flags = (uint8_t)(sp | (p & SESS_R_OWNER)) };

		rc = flow_insert_ext(&r->w, k, hash, svc, backend, state, seen,
				     &x, NULL);
		if (rc < 0) {
			r->st->replica_full++;
			return -ENOSPC;
		}
		e = &r->w.t->entries[rc];
	} else {
		__atomic_store_n(&e->state, state, __ATOMIC_RELAXED);
		__atomic_store_n(&e->last_seen, seen, __ATOMIC_RELAXED);
		/* The owner (another peer may say it owns the session too):
		 * one byte, the spliced bit kept. */
		__atomic_store_n(&e->flags, (uint8_t)(sp | (p & SESS_R_OWNER)),
				 __ATOMIC_RELAXED);
	}
	/* An unowned record's age came with it (idle_ms), not from now. */
	e->created = p == SESS_R_UNOWNED ? seen : now_ms;
	r->st->replica_puts++;
	return 0;
}

int
sess_replica_put(struct sess_replica *r, const struct flow_key *k,
		 uint16_t svc, uint16_t backend, uint32_t tag, uint8_t state,
		 unsigned int p, uint32_t idle_ms, uint32_t now_ms)
{
	return replica_put(r, k, svc, backend, tag, state, p, idle_ms, now_ms,
			   false, 0);
}

int
sess_replica_put_spliced(struct sess_replica *r, const struct flow_key *k,
			 uint16_t svc, uint16_t backend, uint32_t tag,
			 uint8_t state, unsigned int p, uint32_t idle_ms,
			 uint32_t now_ms, uint32_t delta)
{
	return replica_put(r, k, svc, backend, tag, state, p, idle_ms, now_ms,
			   true, delta);
}

int
sess_replica_del(struct sess_replica *r, const struct flow_key *k)
{
	uint32_t hash = pkt_flow_hash(k);
	struct flow_entry *e = flow_lookup(r->w.t, k, hash);

	if (e == NULL)
		return -ENOENT;
	r->st->replica_dels++;
	return flow_remove(&r->w, (uint32_t)(e - r->w.t->entries), hash);
}

uint32_t
sess_replica_disown(struct sess_replica *r, unsigned int p, uint32_t before_ms,
		    uint32_t now_ms)
{
	const struct flow_table *t = r->w.t;
	uint32_t b, n = 0;
	unsigned int i;

	for (b = 0; b < t->n_buckets; b++)
		for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
			struct flow_entry *e;
			uint8_t f;

			if (t->buckets[b].slot[i] == 0)
				continue;
			e = &t->entries[flow_slot_idx(t->buckets[b].slot[i])];
			f = __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
			if ((f & SESS_R_OWNER) != p || ms_diff(e->created, before_ms) >= 0)
				continue;
			/* One byte, the spliced bit kept (replica_put). */
			__atomic_store_n(&e->flags,
					 (uint8_t)((f & SESS_R_SPLICED) | SESS_R_UNOWNED),
					 __ATOMIC_RELAXED);
			e->created = now_ms;
			n++;
		}
	r->st->replica_disowned += n;
	return n;
}

static bool
replica_expired(void *ctx, const struct flow_entry *e)
{
	struct sess_replica *r = ctx;
	unsigned int p = e->flags & SESS_R_OWNER;
	uint32_t base = __atomic_load_n(&e->last_seen, __ATOMIC_RELAXED);
	uint8_t state = __atomic_load_n(&e->state, __ATOMIC_RELAXED);
	int32_t idle;

	if (e->tag != sess_map_tag(r->map, e->svc, e->backend)) {
		r->retired_now++;
		return true;
	}
	if (p < SESSD_MAX_PEERS) {
		if (r->stale_before[p] != 0 &&
		    ms_diff(e->created, r->stale_before[p] - 1) < 0)
			return true;
		/* A live owner says when it ends (DOWN). */
		if (r->alive[p])
			return false;
		if (ms_diff(r->heard_ms[p], base) > 0)
			base = r->heard_ms[p];
	} else if (ms_diff(e->created, base) > 0) {
		base = e->created; /* an owner no longer configured */
	}
	idle = ms_diff(r->now_ms, base);
	return idle >= 0 && (uint32_t)idle >= flow_idle_timeout_ms(r->map->cfg, state);
}

uint32_t
sess_replica_expire(struct sess_replica *r, uint32_t n_buckets, uint32_t now_ms)
{
	uint32_t n;

	r->now_ms = now_ms;
	r->retired_now = 0;
	n = flow_expire_scan(&r->w, n_buckets, replica_expired, r);
	flow_reclaim(&r->w);
	r->st->replica_retired += r->retired_now;
	r->st->replica_expired += n - r->retired_now;
	return n;
}

uint32_t
sess_replica_count(const struct sess_replica *r)
{
	return flow_count(&r->w);
}

uint64_t
sess_qsbr_stale(struct rte_rcu_qsbr *q, unsigned int thread)
{
	uint64_t t = rte_rcu_qsbr_start(q), c;

	if (rte_rcu_qsbr_check(q, t, false) == 1)
		return 0;
	c = __atomic_load_n(&q->qsbr_cnt[thread].cnt, __ATOMIC_ACQUIRE);
	return c != 0 && c < t ? c : 0;
}

bool
sess_qsbr_offline(struct rte_rcu_qsbr *q, unsigned int thread, uint64_t stale)
{
	/* What rte_rcu_qsbr_thread_offline() stores, but only over the
	 * value the dead reader left. */
	return stale != 0 &&
	       __atomic_compare_exchange_n(&q->qsbr_cnt[thread].cnt, &stale, 0,
					   false, __ATOMIC_RELEASE,
					   __ATOMIC_RELAXED);
}
