/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarder's side of remote classification (docs/CLASSIFIERS.md):
 * one thread (not an lcore: it sleeps 100 us between idle turns while
 * it acts for a remote classifier, on the remotes' sockets while frames
 * wait for decisions, 1 ms while it only watches) that
 * speaks proto/halb_punt.proto to the remote classifiers of
 * classifiers.list.
 *
 * Every turn it pings every remote (ping_ms), takes their pongs (a
 * remote is alive while its last pong is younger than timeout_ms, it
 * has not let a frame wait past hold_ms without deciding anything since
 * (within timeout_ms: an ack timeout), and its service slots are the
 * forwarder's: punt_services_digest), and then:
 *  - the local classifier is alive (its shared-memory heartbeat, as the
 *    workers read it): nothing to do; the workers punt to it;
 *  - it is gone and a remote is alive: this thread is the classifier.
 *    It takes the attach lock (an open-file-description lock, so that
 *    neither a local classifier nor the forwarder's own reload, whose
 *    locks are classic fcntl ones, may take it meanwhile), says so to
 *    the workers (fwd.remote_up: they punt instead of falling back),
 *    drains the punt rings, sends the frames (their headers, at most
 *    frame_cap bytes) in batches to the first live remote in the list's
 *    order, holds them (at most `hold`, each at most hold_ms; what does
 *    not fit or waits too long is decided with the Maglev table, as the
 *    workers' fallback decides, and counted), and on a decision installs
 *    the flow in the worker's table and hands the frame back on the
 *    worker's return ring, as the local classifier does.  It runs the
 *    tables' expiry scan meanwhile.  The lock is let go at the end of
 *    every turn, so that a local classifier that comes back gets it at
 *    once (classifier/main.c waits for it); a turn that cannot take it
 *    again lets its writers go and never writes until it holds it,
 *    and writers are rebuilt from the tables whenever a classifier
 *    attached in between (shm->cls_starts);
 *  - nobody: the workers' Maglev fallback, as without this thread.
 * So the flow tables have one writer at a time: the local classifier
 * while it holds the lock, this thread while it holds it, and the
 * forwarder's reload (Maglev tables only) while it holds it.
 *
 * With sessions { }, it tells halb-sessiond of what it writes, as the
 * classifier does (installs, state changes and removals seen by its
 * expiry scan), on a ring of its own (shm->sess_ring_fwd: the
 * classifier's keeps its single producer), so that flows decided
 * remotely are replicated to peer appliances; and a miss mid-connection
 * whose session a peer appliance decided gets the replica's backend
 * here, without the remote, as the classifier and the workers' fallback
 * give it (replica_pick).  It does not serve halb-sessiond's dump
 * requests (a returning classifier does).
 *
 * What this thread does not do in the local classifier's place: keep
 * shm->active (a returning classifier recounts it), evict the flows of
 * a backend that went down (they expire).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "halb/cfg.h"
#include "halb/cfg_reload.h"
#include "halb/clock.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "halb/punt_msg.h"
#include "halb/sess_evq.h"
#include "halb/shm.h"
#include "halb/sock.h"
#include "fwd.h"
#include "punt_remote.h"

#define PREM_BURST 32
#define PREM_IDLE_US 100    /* acting for a remote: decisions to take */
#define PREM_WATCH_US 1000  /* watching: pings, the local heartbeat */
#define PREM_SWEEP_BUCKETS 256u
/* Bytes of a punt datagram that are not frames: the envelope (sender
 * name, seq, time, MAC), the batch's boot ids. */
#define PREM_ENVELOPE 160u
#define PREM_LOCK_FILE "halb_classifier.lock" /* classifier/cls.h */
/* The view to a remote that follows this forwarder and does not apply
 * its generation: sent at once, then again this often until it does. */
#define PREM_VIEW_MS 200u

enum { PREM_NONE = -1, PREM_LOCAL = -2 };

struct held {
	struct rte_mbuf *m;
	uint64_t id;
	uint32_t born_ms;
	uint16_t w, s;
	uint8_t remote;
};

struct prem_remote {
	const struct cfg_cls_ent *e;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd;
	uint64_t last_pong_ms, last_ping_ms; /* monotonic */
	/* A frame it let wait past hold_ms, and its last decision: it is
	 * dead until it decides again or timeout_ms passes (an ack
	 * timeout, for a remote that pongs but does not decide). */
	uint64_t last_unanswered_ms, last_decision_ms;
	uint64_t peer_boot;
	bool alive, digest_ok;
	/* It follows this forwarder's view (its pong says so), and the
	 * generation of it that it applies; when the view was last sent. */
	bool follows;
	uint64_t view_acked, last_view_ms;
	struct prem_stats st;
	/* The batch being filled. */
	uint32_t n, bytes;
	Halb__Punt__Frame f[PUNT_BATCH_MAX];
	Halb__Punt__Frame *fp[PUNT_BATCH_MAX];
	uint8_t data[PUNT_BATCH_MAX][PUNT_FRAME_MAX];
};

static struct prem {
	struct fwd_ctx *c;
	pthread_t th;
	bool running;
	struct seal_keyring *keys;
	struct seal_replay *replay;
	uint64_t boot, seq, next_id, oldest;
	uint32_t n_remote;
	struct prem_remote r[CFG_MAX_CLASSIFIERS];
	int lock_fd;
	bool writers;
	uint32_t writers_starts;
	struct flow_writer fw[CFG_MAX_WORKERS];
	struct held *held;
	uint32_t mask, n_held;
	struct svc_map svcs;
	bool svcs_ok;
	/* The forwarder's view of the services (shm->view), copied with
	 * its generation: the reload publishes the view before it swaps
	 * its configuration, so the view, not fwd's cfg, is what a
	 * generation names. */
	struct halb_cfg *view;
	uint64_t view_gen, digest;
	uint32_t n_services;
	uint32_t n_backends[CFG_MAX_SERVICES];
	/* Per backend slot of the view: halb_slot_tag of who it is when it
	 * is live (the replica's entries name it so), else 0; per service,
	 * whether its flows stay on a backend that is down. */
	uint32_t tag[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	bool down_keep[CFG_MAX_SERVICES];
	/* The session tracker (sessions { }): events for
	 * shm->sess_ring_fwd, as the classifier's for shm->sess_ring (its
	 * counters too: halb-sessiond asks for a dump when
	 * cls.sess_ring_full moves); thread 1 + n_workers of replica_qsbr. */
	struct sess_evq sq;
	bool replica_reg;
	volatile int active;
	uint32_t flow_ms;
	struct prem_totals t;
} P = { .lock_fd = -1, .active = PREM_NONE };

/* ---- the attach lock ---- */

static bool
lock_take(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	return fcntl(P.lock_fd, F_OFD_SETLK, &fl) == 0;
}

static void
lock_give(void)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

	fcntl(P.lock_fd, F_OFD_SETLK, &fl);
}

static bool syn_only(const struct pkt_info *pi);

/* ---- the session tracker ---- */

static uint32_t
replica_tid(void)
{
	return 1 + P.c->shm->n_workers;
}

/*
 * The replica's backend for a miss mid-connection of service s (as the
 * classifier's cls_replica_pick and the workers' replica_pick): a record
 * of this service whose slot this thread's view holds live with the tag
 * the record was written for, whose backend is not down with its
 * service resetting such flows.  An opening SYN is never looked up.
 */
static bool
replica_pick(const struct pkt_info *pi, uint32_t s, uint32_t hash,
	     uint16_t *b)
{
	const struct halb_shm *shm = P.c->shm;
	const struct flow_entry *e;
	uint16_t be;

	if (!P.replica_reg || syn_only(pi))
		return false;
	e = flow_lookup(&shm->replica, &pi->key, hash);
	if (e == NULL || e->svc != s)
		return false;
	be = e->backend;
	if (be >= P.n_backends[s] || P.tag[s][be] == 0 || P.tag[s][be] != e->tag)
		return false;
	if (!P.down_keep[s] && shm->health_valid &&
	    shm->health[s][be].state == HALB_HEALTH_DOWN &&
	    halb_slot_tag(shm->health_id[s][be]) == e->tag)
		return false;
	*b = be;
	return true;
}

/* ---- the tables ---- */

static void
writers_fini(void)
{
	uint32_t w;

	if (!P.writers)
		return;
	for (w = 0; w < P.c->shm->n_workers; w++)
		flow_writer_fini(&P.fw[w]);
	P.writers = false;
}

/* Writers over the tables as they are (the classifier that wrote them
 * may have been killed mid-write: flow_writer_init repairs), after one
 * grace period so that nothing it removed is reused under a worker. */
static int
writers_init(void)
{
	struct halb_shm *shm = P.c->shm;
	uint32_t w;
	int rc;

	writers_fini();
	for (w = 0; w < shm->n_workers; w++) {
		rc = flow_writer_init(&P.fw[w], &shm->workers[w].flows, shm->qsbr);
		if (rc != 0) {
			while (w-- > 0)
				flow_writer_fini(&P.fw[w]);
			return rc;
		}
	}
	rte_rcu_qsbr_synchronize(shm->qsbr, RTE_QSBR_THRID_INVALID);
	P.writers = true;
	P.writers_starts = shm->cls_starts;
	return 0;
}

/* ctx: the worker's index, as a pointer-sized integer. */
static bool
expired(void *ctx, const struct flow_entry *e)
{
	uint32_t w = (uint32_t)(uintptr_t)ctx;
	uint32_t idle = P.flow_ms - __atomic_load_n(&e->last_seen, __ATOMIC_RELAXED);
	uint32_t limit = flow_idle_timeout_ms(P.c->cfg,
					      __atomic_load_n(&e->state, __ATOMIC_RELAXED));

	if (idle >= limit && idle < 0x80000000u) {
		sess_evq_add(&P.sq, w, e, SESS_EV_REMOVE, P.flow_ms);
		return true;
	}
	sess_evq_moved(&P.sq, &P.c->shm->workers[w].flows, w, e, P.flow_ms);
	return false;
}

static void
housekeep(void)
{
	struct halb_shm *shm = P.c->shm;
	uint32_t w;

	for (w = 0; w < shm->n_workers; w++) {
		flow_expire_scan(&P.fw[w], PREM_SWEEP_BUCKETS, expired,
				 (void *)(uintptr_t)w);
		flow_reclaim(&P.fw[w]);
		shm->workers[w].flow_count = flow_count(&P.fw[w]);
	}
}

/* The services as the forwarder applies them: its published view
 * (shm->view) copied with the generation it is, so that the slots, the
 * digest and what view_send() sends all belong to that generation.  A
 * view caught being rewritten is taken at the next turn. */
static void
services_follow(void)
{
	uint64_t gen = __atomic_load_n(&P.c->shm->view_gen, __ATOMIC_ACQUIRE);
	struct halb_cfg *v = P.view;
	struct svc_map m;
	uint32_t s;

	if (P.svcs_ok && gen == P.view_gen)
		return;
	gen = halb_shm_view_copy(P.c->shm, v);
	if (gen == 0 || svc_map_build(&m, v) != 0)
		return;
	if (P.svcs_ok)
		svc_map_free(&P.svcs);
	P.svcs = m;
	P.svcs_ok = true;
	P.n_services = v->n_services;
	for (s = 0; s < v->n_services; s++) {
		const struct cfg_service *cs = &v->services[s];
		uint32_t b;

		P.n_backends[s] = cs->n_backends;
		P.down_keep[s] = cs->down_flows == CFG_DOWN_KEEP;
		for (b = 0; b < cs->n_backends; b++) {
			const struct cfg_backend *cb = &cs->backends[b];

			P.tag[s][b] = cs->slot == CFG_SLOT_LIVE &&
					      cb->slot == CFG_SLOT_LIVE ?
				halb_slot_tag(halb_slot_id(cs->name, cb->ip.b,
					cfg_backend_port(cs, cb))) : 0;
		}
	}
	P.digest = punt_services_digest(v);
	P.view_gen = gen;
}

/* ---- frames back to their workers ---- */

static void
give_back(uint32_t w, struct rte_mbuf *m, uint32_t usr)
{
	m->hash.usr = usr;
	if (rte_ring_sp_enqueue(P.c->shm->workers[w].ret, m) != 0) {
		P.c->shm->cls.ret_full++;
		rte_pktmbuf_free(m);
	}
}

/* Decided with service s's Maglev table, as the worker's fallback
 * decides: the worker marks it (HALB_RET_F_STATELESS). */
static void
maglev_back(uint32_t w, uint32_t s, struct rte_mbuf *m)
{
	const struct halb_mh_shm *mh = &P.c->shm->mh[s];
	uint32_t cur = __atomic_load_n(&mh->cur, __ATOMIC_ACQUIRE);
	struct pkt_info pi;
	uint16_t b;

	if (mh->table[cur] == NULL ||
	    pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
		      rte_pktmbuf_data_len(m), &pi) != PKT_OK) {
		rte_pktmbuf_free(m);
		return;
	}
	b = mh_lookup(mh->table[cur], mh->size, pkt_flow_hash(&pi.key));
	if (b == MH_EMPTY) {
		P.c->shm->cls.no_backend++;
		rte_pktmbuf_free(m);
		return;
	}
	give_back(w, m, HALB_RET_DECISION(s, b) | HALB_RET_F_STATELESS);
}

/* The held frames: by Maglev while we hold the lock, else let go. */
static void
held_release(bool locked, int only_remote, uint64_t *counter)
{
	uint32_t i;

	if (P.n_held == 0)
		return;
	for (i = 0; i <= P.mask; i++) {
		struct held *h = &P.held[i];

		if (h->m == NULL || (only_remote >= 0 && h->remote != only_remote))
			continue;
		if (locked) {
			maglev_back(h->w, h->s, h->m);
			(*counter)++;
		} else {
			rte_pktmbuf_free(h->m);
			P.t.dropped++;
		}
		h->m = NULL;
		P.n_held--;
	}
}

/* ---- sending ---- */

static void
send_sealed(struct prem_remote *r, enum punt_type type,
	    const ProtobufCMessage *m)
{
	uint8_t out[SEAL_MTU];
	int len;

	len = punt_seal(out, sizeof(out), &r->e->key, P.c->cfg->classifiers.name,
			halb_next_seq(&P.seq), halb_unix_ms(), type, m);
	if (len < 0 || sendto(r->fd, out, (size_t)len, MSG_DONTWAIT,
			      (const struct sockaddr *)&r->sa, r->salen) != len)
		r->st.tx_errors++;
}

static void
batch_flush(struct prem_remote *r)
{
	Halb__Punt__PuntBatch b;

	if (r->n == 0)
		return;
	halb__punt__punt_batch__init(&b);
	b.boot = P.boot;
	b.peer_boot = r->peer_boot;
	b.n_frames = r->n;
	b.frames = r->fp;
	send_sealed(r, PUNT_T_PUNT, &b.base);
	r->st.batches++;
	r->st.frames += r->n;
	r->n = 0;
	r->bytes = 0;
}

/*
 * The frame's first bytes for the remote: all of it when it fits the
 * cap, else its headers up to the end of the TCP or UDP header with the
 * IP (and UDP) lengths cut down to match, so that the remote's parser
 * takes it.  Returns the length, or 0 when the headers alone exceed cap.
 */
static uint32_t
trim(const uint8_t *f, uint32_t len, const struct pkt_info *pi, uint32_t cap,
     uint8_t *out)
{
	uint32_t keep, l4;

	if (len <= cap) {
		memcpy(out, f, len);
		return len;
	}
	if (pi->l4_off == 0) /* a later fragment: no L4 header */
		return 0;
	l4 = pi->key.proto == 6 ? (uint32_t)(f[pi->l4_off + 12] >> 4) * 4u : 8u;
	keep = pi->l4_off + l4;
	if (keep > cap || keep > len)
		return 0;
	memcpy(out, f, keep);
	if (pi->family == 4) {
		uint32_t tot = keep - pi->l3_off;

		out[pi->l3_off + 2] = (uint8_t)(tot >> 8);
		out[pi->l3_off + 3] = (uint8_t)tot;
	} else {
		uint32_t pl = keep - pi->l3_off - 40;

		out[pi->l3_off + 4] = (uint8_t)(pl >> 8);
		out[pi->l3_off + 5] = (uint8_t)pl;
	}
	if (pi->key.proto == 17) {
		out[pi->l4_off + 4] = 0;
		out[pi->l4_off + 5] = 8;
	}
	return keep;
}

static bool
syn_only(const struct pkt_info *pi)
{
	return pi->key.proto == 6 &&
	       (pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN;
}

/* As the classifier's install_state (decide.c): a TCP miss
 * mid-connection starts unconfirmed, in the SYN state. */
static uint8_t
install_state(const struct pkt_info *pi)
{
	if (pi->key.proto != 6)
		return FLOW_ST_UDP;
	if (pi->tcp_flags & (PKT_TCP_FIN | PKT_TCP_RST))
		return FLOW_ST_FIN;
	return FLOW_ST_SYN;
}

/* Installs key -> (s, b) in worker w's table and hands the frame back. */
static void
install_back(uint32_t w, struct rte_mbuf *m, const struct pkt_info *pi,
	     uint32_t hash, uint32_t s, uint32_t b)
{
	struct halb_shm *shm = P.c->shm;
	struct flow_entry *ex = NULL;
	int rc;

	rc = flow_insert(&P.fw[w], &pi->key, hash, (uint16_t)s, (uint16_t)b,
			 install_state(pi), P.flow_ms, &ex);
	if (rc == -EEXIST && ex != NULL && syn_only(pi) &&
	    __atomic_load_n(&ex->state, __ATOMIC_RELAXED) == FLOW_ST_FIN) {
		/* A new connection on a closed one's 5-tuple, decided
		 * afresh (punted() let it by): the old decision goes, as
		 * the local classifier's cls_decide drops it. */
		sess_evq_add(&P.sq, w, ex, SESS_EV_REMOVE, P.flow_ms);
		flow_remove(&P.fw[w], (uint32_t)(ex - P.fw[w].t->entries), hash);
		rc = flow_insert(&P.fw[w], &pi->key, hash, (uint16_t)s,
				 (uint16_t)b, install_state(pi), P.flow_ms, &ex);
	}
	if (rc >= 0) {
		struct flow_entry *e = &P.fw[w].t->entries[rc];

		/* Read by this thread and a classifier that takes over,
		 * never both at once (the attach lock). */
		e->flags = (uint8_t)(SESS_F_REPORTED | e->state);
		sess_evq_add(&P.sq, w, e, SESS_EV_INSTALL, P.flow_ms);
		P.t.installs++;
		shm->installs[s][b]++;
		shm->workers[w].table_full = 0;
		give_back(w, m, HALB_RET_DECISION(s, b));
	} else if (rc == -EEXIST && ex != NULL) {
		P.t.existing++;
		give_back(w, m, HALB_RET_DECISION(ex->svc, ex->backend));
	} else {
		P.t.table_full++;
		shm->workers[w].table_full = 1;
		give_back(w, m, HALB_RET_DECISION(s, b) | HALB_RET_F_STATELESS);
	}
}

/* One punted frame of worker w, for remote r. */
static void
punted(struct prem_remote *r, int ri, uint32_t w, struct rte_mbuf *m)
{
	struct halb_shm *shm = P.c->shm;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), hash, v, n;
	const struct flow_entry *e;
	Halb__Punt__Frame *fr;
	struct pkt_info pi;
	struct held *h;
	uint16_t b;
	int s;

	if (pkt_parse(f, len, &pi) != PKT_OK || pi.kind != PKT_KIND_FLOW) {
		shm->cls.bad_packet++;
		rte_pktmbuf_free(m);
		return;
	}
	s = svc_by_vip(&P.svcs, pi.key.dst, pi.key.dport, pi.key.proto);
	if (s < 0) {
		shm->cls.no_service++;
		rte_pktmbuf_free(m);
		return;
	}
	hash = pkt_flow_hash(&pi.key);
	/* What a table already holds needs no remote: this worker's (a
	 * SYN punted twice), another worker's (its frames changed queue). */
	for (v = 0; v < shm->n_workers; v++) {
		e = flow_lookup(&shm->workers[v].flows, &pi.key, hash);
		if (e == NULL || (e->state == FLOW_ST_FIN && syn_only(&pi)))
			continue;
		P.t.existing++;
		if (v == w)
			give_back(w, m, HALB_RET_DECISION(e->svc, e->backend));
		else
			install_back(w, m, &pi, hash, e->svc, e->backend);
		return;
	}
	/* A connection that a peer appliance decided and that moved here:
	 * the replica's backend, whatever the scheduler (the remote has no
	 * replica), as the classifier would give it. */
	if (replica_pick(&pi, (uint32_t)s, hash, &b)) {
		P.t.replica++;
		install_back(w, m, &pi, hash, (uint32_t)s, b);
		return;
	}
	if (r->bytes + PUNT_FRAME_OVERHEAD + P.c->cfg->classifiers.frame_cap +
		    PREM_ENVELOPE > SEAL_MTU)
		batch_flush(r);
	n = trim(f, len, &pi, P.c->cfg->classifiers.frame_cap, r->data[r->n]);
	if (n == 0) {
		P.t.too_big++;
		maglev_back(w, (uint32_t)s, m);
		return;
	}
	/* At most `hold` frames wait: the ring is that rounded up to a
	 * power of two, so a free slot alone is no room (and a busy one,
	 * a frame left from a lap before, none either). */
	h = &P.held[P.next_id & P.mask];
	if (P.n_held >= P.c->cfg->classifiers.hold || h->m != NULL) {
		P.t.hold_full++;
		maglev_back(w, (uint32_t)s, m);
		return;
	}
	h->m = m;
	h->id = P.next_id;
	h->born_ms = P.flow_ms;
	h->w = (uint16_t)w;
	h->s = (uint16_t)s;
	h->remote = (uint8_t)ri;
	P.n_held++;
	fr = &r->f[r->n];
	halb__punt__frame__init(fr);
	fr->id = P.next_id++;
	fr->worker = w;
	fr->flags = halb_fb_marked(shm->workers[w].fb_marks, hash, P.flow_ms,
				   pi.key.proto == 6 ? P.c->cfg->tcp_timeout_ms :
						       P.c->cfg->udp_timeout_ms) ?
			    PUNT_F_MARKED : 0;
	fr->data.data = r->data[r->n];
	fr->data.len = n;
	r->fp[r->n] = fr;
	r->bytes += n + PUNT_FRAME_OVERHEAD;
	if (++r->n == PUNT_BATCH_MAX)
		batch_flush(r);
}

static uint32_t
drain(int ri)
{
	struct prem_remote *r = &P.r[ri];
	struct halb_shm *shm = P.c->shm;
	struct rte_mbuf *m[PREM_BURST];
	uint32_t w, n, i, all = 0;

	for (w = 0; w < shm->n_workers; w++) {
		n = rte_ring_mc_dequeue_burst(shm->workers[w].punt, (void **)m,
					      PREM_BURST, NULL);
		shm->cls.punted += n;
		all += n;
		for (i = 0; i < n; i++)
			punted(r, ri, w, m[i]);
	}
	batch_flush(r);
	return all;
}

/* Held frames older than hold_ms, oldest first (ids are given in
 * order, so the oldest held frame is at or after P.oldest). */
static void
held_expire(uint64_t now)
{
	uint32_t hold_ms = P.c->cfg->classifiers.hold_ms;

	while (P.oldest < P.next_id) {
		struct held *h = &P.held[P.oldest & P.mask];

		if (h->m != NULL && h->id == P.oldest) {
			if (P.flow_ms - h->born_ms < hold_ms)
				break;
			P.t.hold_timeout++;
			P.r[h->remote].st.unanswered++;
			P.r[h->remote].last_unanswered_ms = now;
			maglev_back(h->w, h->s, h->m);
			h->m = NULL;
			P.n_held--;
		}
		P.oldest++;
	}
}

/* ---- receiving ---- */

static void
on_decision(int ri, const Halb__Punt__DecisionBatch *b, bool locked)
{
	struct prem_remote *r = &P.r[ri];
	size_t i;

	if (b->peer_boot != P.boot) {
		P.t.stale_boot++;
		return;
	}
	for (i = 0; i < b->n_decisions; i++) {
		const Halb__Punt__Decision *d = b->decisions[i];
		struct held *h = &P.held[d->id & P.mask];
		struct rte_mbuf *m;
		struct pkt_info pi;

		if (!locked || h->m == NULL || h->id != d->id || h->remote != ri) {
			r->st.late++;
			continue;
		}
		m = h->m;
		h->m = NULL;
		P.n_held--;
		r->st.decisions++;
		r->last_decision_ms = halb_mono_ms();
		if (d->flags & PUNT_D_REFUSED) {
			r->st.refused++;
			rte_pktmbuf_free(m);
			continue;
		}
		/* A backend slot live in our view (a decision taken with
		 * the remote's previous view may name a retired one). */
		if (d->svc != h->s || d->backend >= P.n_backends[h->s] ||
		    P.tag[d->svc][d->backend] == 0 ||
		    pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
			      rte_pktmbuf_data_len(m), &pi) != PKT_OK) {
			P.t.bad_decision++;
			maglev_back(h->w, h->s, m);
			continue;
		}
		if (d->flags & PUNT_D_STATELESS)
			give_back(h->w, m, HALB_RET_DECISION(d->svc, d->backend) |
						   HALB_RET_F_STATELESS);
		else
			install_back(h->w, m, &pi, pkt_flow_hash(&pi.key), d->svc,
				     d->backend);
	}
}

static void
on_pong(int ri, const Halb__Punt__Pong *p, uint64_t now)
{
	struct prem_remote *r = &P.r[ri];

	if (p->peer_boot != P.boot) {
		P.t.stale_boot++;
		return;
	}
	r->st.pongs++;
	r->last_pong_ms = now;
	r->peer_boot = p->boot;
	r->digest_ok = p->cfg_digest == P.digest;
	r->st.remote_decisions = p->decisions;
	r->st.remote_refused = p->refused;
	r->follows = p->view_follow;
	r->view_acked = p->view_gen;
	if (!r->digest_ok && r->st.digest_mismatch++ == 0)
		FWD_LOG(WARNING, "remote classifier %s has other service slots than this forwarder: not used until they agree",
			r->e->name);
}

static int
remote_by_name(const char *name)
{
	uint32_t i;

	for (i = 0; i < P.n_remote; i++)
		if (strcmp(P.r[i].e->name, name) == 0)
			return (int)i;
	return -1;
}

static uint32_t
rx(bool locked, uint64_t now)
{
	uint8_t buf[SEAL_MAX_DATAGRAM + 1];
	uint32_t i, k, all = 0;

	for (i = 0; i < P.n_remote; i++) {
		for (k = 0; k < 64; k++) {
			struct punt_opened o;
			ssize_t len = recv(P.r[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			int rc, ri;

			if (len < 0)
				break;
			all++;
			P.t.rx++;
			rc = punt_open(buf, (size_t)len, P.keys, P.replay,
				       halb_unix_ms(), &o);
			if (rc < 0) {
				if (-rc < SEAL_REJ__COUNT)
					P.t.rx_refused[-rc]++;
				continue;
			}
			ri = remote_by_name(o.sender);
			if (ri >= 0 && o.type == PUNT_T_DECISION)
				on_decision(ri, o.decision, locked);
			else if (ri >= 0 && o.type == PUNT_T_PONG)
				on_pong(ri, o.pong, now);
			punt_opened_free(&o);
		}
	}
	return all;
}

static int
view_part_send(void *arg, const Halb__Punt__ViewPart *vp)
{
	struct prem_remote *r = arg;

	send_sealed(r, PUNT_T_VIEW, &vp->base);
	r->st.view_parts++;
	return 0;
}

/* The services as this forwarder applies them (the view services_follow
 * copied), to remote r, in parts (punt_view_parts), labelled with that
 * view's generation. */
static void
view_send(struct prem_remote *r)
{
	int rc;

	if (!P.svcs_ok)
		return;
	rc = punt_view_parts(P.view, P.view_gen, P.boot, r->peer_boot,
			     view_part_send, r);
	if (rc < 0) {
		r->st.tx_errors++;
		return;
	}
	r->st.views++;
}

static void
pings(uint64_t now)
{
	uint32_t i;

	for (i = 0; i < P.n_remote; i++) {
		struct prem_remote *r = &P.r[i];
		Halb__Punt__Ping p;
		bool alive;

		if (now - r->last_ping_ms >= P.c->cfg->classifiers.ping_ms) {
			halb__punt__ping__init(&p);
			p.boot = P.boot;
			p.peer_boot = r->peer_boot;
			p.cfg_digest = P.digest;
			p.view_gen = P.view_gen;
			send_sealed(r, PUNT_T_PING, &p.base);
			r->st.pings++;
			r->last_ping_ms = now;
		}
		/* A remote that follows us and does not apply our view yet
		 * (it started from its file, or we reloaded). */
		if (r->follows && r->last_pong_ms != 0 &&
		    r->view_acked != P.view_gen &&
		    now - r->last_view_ms >= PREM_VIEW_MS) {
			view_send(r);
			r->last_view_ms = now;
		}
		alive = r->last_pong_ms != 0 &&
			now - r->last_pong_ms < P.c->cfg->classifiers.timeout_ms &&
			!(r->last_unanswered_ms > r->last_decision_ms &&
			  now - r->last_unanswered_ms < P.c->cfg->classifiers.timeout_ms);
		if (r->alive && !alive) {
			r->st.deaths++;
			FWD_LOG(WARNING, "remote classifier %s: %s", r->e->name,
				r->last_unanswered_ms > r->last_decision_ms ?
				"frames unanswered past hold_ms" : "no pong within timeout_ms");
		} else if (!r->alive && alive) {
			FWD_LOG(INFO, "remote classifier %s alive", r->e->name);
		}
		r->alive = alive;
	}
}

static bool
local_alive(void)
{
	const struct halb_shm *shm = P.c->shm;

	return shm->cls_pid != 0 &&
	       halb_tsc_age(rte_rdtsc(), shm->cls_alive) < P.c->cls_timeout_tsc;
}

static void
set_active(int a)
{
	if (a == P.active)
		return;
	P.t.switches++;
	if (a >= 0)
		FWD_LOG(WARNING, "new flows go to the remote classifier %s",
			P.r[a].e->name);
	else if (a == PREM_LOCAL)
		FWD_LOG(INFO, "new flows go to the local classifier");
	else
		FWD_LOG(WARNING, "no classifier answers: new flows by the Maglev fallback");
	P.active = a;
}

/* One turn; returns how long to sleep before the next, in us: none
 * after a busy turn, PREM_IDLE_US while acting for a remote classifier,
 * PREM_WATCH_US while only watching (pings, the local heartbeat). */
static uint32_t
turn(void)
{
	uint64_t now = halb_mono_ms();
	int want = PREM_NONE;
	uint32_t i, busy;

	P.flow_ms = halb_now_ms(P.c->shm, rte_rdtsc());
	services_follow();
	pings(now);
	if (local_alive()) {
		want = PREM_LOCAL;
	} else {
		for (i = 0; i < P.n_remote; i++)
			if (P.r[i].alive && P.r[i].digest_ok) {
				want = (int)i;
				break;
			}
	}
	if (want < 0) {
		/* The local classifier, or the workers' fallback: this
		 * thread writes nothing. */
		__atomic_store_n(&P.c->remote_up, false, __ATOMIC_RELEASE);
		if (P.n_held != 0) {
			bool locked = want == PREM_NONE && lock_take();

			held_release(locked, -1, &P.t.no_remote);
			if (locked)
				lock_give();
		}
		if (want == PREM_LOCAL)
			writers_fini();
		rx(false, now);
		set_active(want);
		return PREM_WATCH_US;
	}
	if (!lock_take()) {
		/* A classifier holds it (one coming back, or a hung one
		 * whose heartbeat is stale): never write beside it. */
		P.t.lock_busy++;
		__atomic_store_n(&P.c->remote_up, false, __ATOMIC_RELEASE);
		held_release(false, -1, NULL);
		writers_fini();
		rx(false, now);
		set_active(PREM_NONE);
		return PREM_WATCH_US;
	}
	if ((!P.writers || P.writers_starts != P.c->shm->cls_starts) &&
	    writers_init() != 0) {
		lock_give();
		return PREM_WATCH_US;
	}
	if (P.active >= 0 && P.active != want)
		held_release(true, P.active, &P.t.no_remote);
	set_active(want);
	__atomic_store_n(&P.c->remote_up, true, __ATOMIC_RELEASE);
	/* A reader of the replica for this turn only: offline between
	 * turns, so that halb-sessiond's grace periods never wait for a
	 * thread that sleeps or only watches. */
	if (P.replica_reg)
		rte_rcu_qsbr_thread_online(P.c->shm->replica_qsbr, replica_tid());
	busy = rx(true, now);
	busy += drain(want);
	if (P.replica_reg)
		rte_rcu_qsbr_thread_offline(P.c->shm->replica_qsbr, replica_tid());
	held_expire(now);
	housekeep();
	sess_evq_flush(&P.sq);
	lock_give();
	return busy != 0 ? 0 : PREM_IDLE_US;
}

/*
 * The pause between turns.  While frames wait for decisions, it waits
 * on the remotes' sockets instead of sleeping, so that a decision is
 * applied when it arrives, not up to a whole idle sleep later (the
 * first packet's latency through a remote: docs/CLASSIFIERS.md).
 */
static void
pause_us(uint32_t us)
{
	struct pollfd pfd[CFG_MAX_CLASSIFIERS];
	struct timespec ts = { .tv_nsec = (long)us * 1000 };
	uint32_t i;

	if (P.n_held == 0) {
		usleep(us);
		return;
	}
	for (i = 0; i < P.n_remote; i++) {
		pfd[i].fd = P.r[i].fd;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	ppoll(pfd, P.n_remote, &ts, NULL);
}

static void *
prem_main(void *arg)
{
	uint32_t us;

	(void)arg;
	while (!P.c->quit) {
		us = turn();
		if (us != 0)
			pause_us(us);
	}
	return NULL;
}

int
fwd_punt_remote_start(struct fwd_ctx *c)
{
	const struct cfg_classifiers *cc = &c->cfg->classifiers;
	char path[PATH_MAX];
	uint32_t i, cap;
	int rc;

	P.c = c;
	for (i = 0; i < cc->n_list; i++) {
		struct prem_remote *r = &P.r[P.n_remote];

		if (cc->list[i].kind != CFG_CLS_REMOTE)
			continue;
		r->e = &cc->list[i];
		r->salen = halb_sockaddr(&r->e->ip, r->e->port, &r->sa);
		r->fd = socket(r->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (r->fd < 0)
			return -errno;
		P.n_remote++;
	}
	if (P.n_remote == 0)
		return 0;
	P.keys = seal_keyring_new(P.n_remote);
	P.replay = seal_replay_new(P.n_remote, 0);
	if (P.keys == NULL || P.replay == NULL)
		return -ENOMEM;
	for (i = 0; i < P.n_remote; i++) {
		rc = seal_keyring_add(P.keys, P.r[i].e->name, &P.r[i].e->key,
				      SEAL_ROLE_DECIDER);
		if (rc != 0)
			return rc;
	}
	for (cap = 1; cap < cc->hold; cap <<= 1)
		;
	P.held = calloc(cap, sizeof(*P.held));
	if (P.held == NULL)
		return -ENOMEM;
	P.mask = cap - 1;
	P.view = calloc(1, sizeof(*P.view));
	if (P.view == NULL)
		return -ENOMEM;
	P.boot = halb_unix_us() | 1;
	P.next_id = P.oldest = 1;
	if (c->shm->has_sessions && c->shm->sess_ring_fwd != NULL) {
		sess_evq_init(&P.sq, c->shm->sess_ring_fwd, &c->shm->cls);
		if (rte_rcu_qsbr_thread_register(c->shm->replica_qsbr,
						 replica_tid()) == 0)
			P.replica_reg = true;
		else
			FWD_LOG(ERR, "punt thread: cannot register with the replica's QSBR variable: replica lookups off");
	}
	snprintf(path, sizeof(path), "%s/%s", rte_eal_get_runtime_dir(),
		 PREM_LOCK_FILE);
	P.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (P.lock_fd < 0)
		return -errno;
	rc = pthread_create(&P.th, NULL, prem_main, NULL);
	if (rc != 0)
		return -rc;
	pthread_setname_np(P.th, "halb-punt");
	P.running = true;
	FWD_LOG(INFO, "%u remote classifier(s) after the local one; this forwarder is %s to them",
		P.n_remote, cc->name);
	return 0;
}

void
fwd_punt_remote_stop(void)
{
	uint32_t i;

	if (!P.running)
		return;
	pthread_join(P.th, NULL);
	P.running = false;
	held_release(false, -1, NULL);
	writers_fini();
	if (P.replica_reg)
		rte_rcu_qsbr_thread_unregister(P.c->shm->replica_qsbr, replica_tid());
	for (i = 0; i < P.n_remote; i++)
		close(P.r[i].fd);
	if (P.lock_fd >= 0)
		close(P.lock_fd);
	if (P.svcs_ok)
		svc_map_free(&P.svcs);
	seal_keyring_free(P.keys);
	seal_replay_free(P.replay);
	free(P.held);
	free(P.view);
}

/* ---- telemetry: /halb/classifiers ---- */

static void
add_u64s(struct rte_tel_data *d, const char *const *names,
	 const uint64_t *v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		rte_tel_data_add_dict_u64(d, names[i], v[i]);
}

static int
tel_classifiers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const rnames[] = { "pings", "pongs", "batches",
		"frames", "decisions", "refused", "late", "deaths",
		"digest_mismatch", "tx_errors", "remote_decisions",
		"remote_refused", "unanswered", "views", "view_parts" };
	static const char *const tnames[] = { "hold_full", "hold_timeout",
		"too_big", "no_remote", "dropped", "installs", "existing",
		"table_full", "bad_decision", "stale_boot", "switches",
		"lock_busy", "replica", "rx" };
	const struct cfg_classifiers *cc = &fwd.cfg->classifiers;
	const struct halb_shm *shm = fwd.shm;
	uint64_t now = halb_mono_ms(), age;
	uint32_t i, ri = 0;
	int a = P.active;

	(void)cmd;
	(void)params;
	static_assert(sizeof(struct prem_stats) == sizeof(rnames) / sizeof(rnames[0]) * 8,
		      "one name per counter");
	static_assert(offsetof(struct prem_totals, rx_refused) ==
			      sizeof(tnames) / sizeof(tnames[0]) * 8,
		      "one name per counter");
	rte_tel_data_start_dict(d);
	age = halb_tsc_age(rte_rdtsc(), shm->cls_alive) / (shm->tsc_hz / 1000);
	rte_tel_data_add_dict_string(d, "active",
				     a == PREM_LOCAL ? "local" :
				     a >= 0 ? P.r[a].e->name :
				     P.running ? "none" :
				     shm->cls_pid != 0 && age < fwd.cfg->classifier_timeout_ms ?
				     "local" : "none");
	rte_tel_data_add_dict_int(d, "local_pid", shm->cls_pid);
	rte_tel_data_add_dict_u64(d, "local_heartbeat_age_ms", shm->cls_alive ? age : 0);
	rte_tel_data_add_dict_u64(d, "local_installs", shm->cls.installs);
	{
		uint64_t fb = 0;
		uint32_t w;

		for (w = 0; w < shm->n_workers; w++)
			fb += shm->workers[w].stats.fallbacks;
		rte_tel_data_add_dict_u64(d, "fallbacks", fb);
	}
	for (i = 0; i < cc->n_list || (i == 0 && cc->n_list == 0); i++) {
		struct rte_tel_data *e = rte_tel_data_alloc();
		char key[16];

		if (e == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(e);
		snprintf(key, sizeof(key), "%u", i);
		if (cc->n_list == 0 || cc->list[i].kind != CFG_CLS_REMOTE) {
			rte_tel_data_add_dict_string(e, "kind",
				cc->n_list == 0 || cc->list[i].kind == CFG_CLS_LOCAL ?
				"local" : "standby");
			rte_tel_data_add_dict_string(e, "state",
				shm->cls_pid != 0 && age < fwd.cfg->classifier_timeout_ms ?
				"up" : "down");
			rte_tel_data_add_dict_u64(e, "heartbeat_age_ms",
						  shm->cls_alive ? age : 0);
			rte_tel_data_add_dict_u64(e, "decisions", shm->cls.punted);
		} else {
			const struct prem_remote *r = &P.r[ri++];
			char addr[80];

			rte_tel_data_add_dict_string(e, "kind", "remote");
			rte_tel_data_add_dict_string(e, "name", r->e->name);
			halb_sockaddr_fmt((const struct sockaddr *)&r->sa, addr,
					  sizeof(addr));
			rte_tel_data_add_dict_string(e, "address", addr);
			rte_tel_data_add_dict_string(e, "state",
				!r->alive ? "down" : r->digest_ok ? "up" :
				"other-slots");
			rte_tel_data_add_dict_u64(e, "heartbeat_age_ms",
						  r->last_pong_ms ? now - r->last_pong_ms : 0);
			add_u64s(e, rnames, (const uint64_t *)&r->st,
				 sizeof(rnames) / sizeof(rnames[0]));
		}
		rte_tel_data_add_dict_container(d, key, e, 0);
	}
	add_u64s(d, tnames, (const uint64_t *)&P.t,
		 sizeof(tnames) / sizeof(tnames[0]));
	for (i = 1; i < SEAL_REJ__COUNT; i++) {
		char key[40];

		char *k;

		/* Telemetry names take no '-': "bad-mac" is bad_mac. */
		snprintf(key, sizeof(key), "rx_refused_%s", seal_reject_name((int)i));
		for (k = key; *k != '\0'; k++)
			if (*k == '-')
				*k = '_';
		rte_tel_data_add_dict_u64(d, key, P.t.rx_refused[i]);
	}
	return 0;
}

int
fwd_punt_remote_telemetry(void)
{
	return rte_telemetry_register_cmd("/halb/classifiers", tel_classifiers,
					  "The classifiers: which one is active, each one's heartbeat age and decisions");
}
