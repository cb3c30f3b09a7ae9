/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-sessiond: the session tracker (docs/SESSIONS.md).  A DPDK
 * secondary process, like the classifier, attached to the forwarder's
 * memory (include/halb/shm-t.h), with one thread in an event loop:
 *  - every ms (a timer; the loop sleeps in epoll between, so an idle
 *    sessiond takes no core) it drains the classifier's session events
 *    (shm->sess_ring), the punt thread's (sess_ring_fwd) and the request
 *    router's (sess_ring_l7: bound connections, spliced, each with its
 *    sequence delta) in bursts, keeps this appliance's sessions (to
 *    answer a peer's dump), and hands each change, as a struct sess_rec,
 *    to the sync engine (session/sync.h), which batches, seals, sends,
 *    acknowledges and resends it to the peer appliances;
 *  - records the peers send (sync engine -> deliver) go into the replica
 *    table that the classifier reads on a mid-connection miss, mapped to
 *    this appliance's service and backend slots (sess_map.c); DOWN
 *    removes, and entries whose owner is dead age like flows;
 *  - slots are what the forwarder's current view says (shm->view,
 *    docs/RELOAD.md), never this process's file: it follows the view's
 *    generation before it handles each burst of events, and entries of
 *    the replica whose slot a reload retired or gave to another backend
 *    are removed by the expiry scan (their tag);
 *  - at start it asks the classifier for every live flow (sess_dump_req),
 *    the request router for every bound connection (l7_dump_req), and
 *    every peer for its sessions, and says `ready` in its heartbeat
 *    file (part "sessiond") only once its replica is loaded: every live
 *    peer synced, or sessions.dead_ms passed (a restarted appliance must
 *    not be announced before);
 *  - a ring overflow (the classifier's or the router's sess_ring_full
 *    moved: events were lost while this process was slow or away) asks
 *    that producer for a dump again, and the sessions of its kind
 *    (spliced or not) that the dump does not name are ended;
 *  - a control socket (sessions.socket) answers `status` (halbctl
 *    sessions).
 * It writes its TSC heartbeat in shared memory (sess_alive), which the
 * classifier watches, and exits when the forwarder is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "halb/cfg.h"
#include "halb/clock.h"
#include "halb/daemon.h"
#include "halb/hb.h"
#include "halb/log.h"
#include "halb/notify.h"
#include "halb/seal.h"
#include "halb/shm.h"
#include "halb/sock.h"
#include "halb/sync_msg.h"
#include "sessd.h"
#include "sync.h"

#define SESSD_POLL_MS 1
#define SESSD_BURST 64u
/* Bursts taken per poll at most: 64k events a ms, far above what a
 * classifier installs, and a bound on one turn. */
#define SESSD_BURSTS 1024u
#define SESSD_FWD_GONE_MS 2000u
#define SESSD_MAX_DGRAM 16384u
#define SESSD_DGRAM_MTU 1400u     /* sync datagrams we send */
/* A peer's dump: own-table buckets walked per poll at most. */
#define SESSD_DUMP_BUCKETS 512u
#define SESSD_LOCK_FILE "halb_sessiond.lock"
#define SESSD_OWN_MAX (1u << 24)

struct sessd {
	struct halb_cfg *cfg;
	struct halb_shm *shm;
	struct sess_map map;        /* slots <-> backends: the view's */
	uint64_t view_failed;       /* generation that could not be read */
	struct sess_own own;
	struct sess_replica rep;
	struct sess_tab_stats st;
	struct sync *sync;
	struct sync_conf sc;
	struct halb_daemon dm;
	struct halb_hb *hb;
	struct ev_timer poll, beat;
	uint64_t start_ms;          /* monotonic */
	uint32_t now_ms;            /* flow clock */
	uint64_t ring_full_seen;    /* shm->cls.sess_ring_full, last seen */
	bool local_dump;            /* waiting for the classifier's dump */
	uint32_t local_dump_start;  /* flow ms it was asked for */
	uint64_t local_dumps;
	/* The same for the request router's (shm->sess_ring_l7). */
	uint64_t l7_ring_full_seen; /* shm->l7.sess_ring_full, last seen */
	bool l7_dump;
	uint32_t l7_dump_start;
	uint64_t l7_dumps, l7_events;
	bool ready;
	int rc;
	/* counters */
	uint64_t events, ev_bad, rx_unknown, rx_removed, rx_up, rx_down, resyncs;
	uint64_t rx_unowned;        /* ... of the rx_up: unowned records */
	uint64_t dump_unowned;      /* unowned records sent in dumps */
	uint64_t views;             /* views followed since start */
	uint64_t own_swept, qsbr_unstuck;
	/* The relay between appliances (shm->l7_relay_out, l7_relay_in):
	 * segments taken from the router (and of those, whose service slot
	 * the view does not hold), peers' segments handed to the router,
	 * not (no such service or backend here; its ring full). */
	uint64_t relay_taken, relay_bad, relay_delivered, relay_unknown,
		 relay_ring_full;
	/* per peer */
	uint32_t peer_dump_start[SESSD_MAX_PEERS];
	bool synced_once[SESSD_MAX_PEERS];
	bool dumping[SESSD_MAX_PEERS];
	uint32_t dump_b[SESSD_MAX_PEERS];   /* own buckets, then replica's */
	/* It restarted (a boot id other than the one it last synced with,
	 * shm->sess_peer_boot) and has not synced since: what its dump
	 * leaves out is disowned, not dropped. */
	bool peer_restarted[SESSD_MAX_PEERS];
	/* The dump being sent to it gives back its previous life's records
	 * (it restarted): those older than dump_back_before, and every no
	 * one's record. */
	bool dump_back[SESSD_MAX_PEERS];
	uint32_t dump_back_before[SESSD_MAX_PEERS];
	uint64_t expire_owed;       /* replica buckets owed, times 1000 */
};

static struct sessd sd;

/* The sync engine's clock: Unix time in ns (sync.h). */
static uint64_t
unix_ns(void)
{
	return halb_unix_us() * 1000u;
}

/* ---- to the peers ---- */

static void
queue_entry(struct sessd *d, const struct flow_entry *e, uint8_t op, int peer)
{
	struct sess_rec r;

	if (sess_rec_from_local(&d->map, &e->key, e->svc, e->backend, &r) != 0) {
		d->ev_bad++;
		return;
	}
	r.op = op;
	r.state = e->state;
	r.idle_ms = (uint32_t)((int32_t)(d->now_ms - e->last_seen) > 0 ?
			       d->now_ms - e->last_seen : 0);
	/* Own entries: a request router's bound connection (sessd.h). */
	r.spliced = (e->flags & SESS_R_SPLICED) ? 1 : 0;
	r.seq_delta = r.spliced ? e->tag : 0;
	if (peer < 0)
		sync_queue(d->sync, &r);
	else
		sync_queue_to(d->sync, (unsigned int)peer, &r);
}

static void
own_gone(void *arg, const struct flow_entry *e)
{
	struct sessd *d = arg;

	queue_entry(d, e, SESS_OP_DOWN, -1);
	d->own_swept++;
}

static void
handle_event(struct sessd *d, const struct sess_ev *ev)
{
	const struct flow_entry *e;
	struct flow_entry gone;

	d->events++;
	switch (ev->type) {
	case SESS_EV_INSTALL:
	case SESS_EV_STATE:
	case SESS_EV_DUMP:
		e = sess_own_put(&d->own, ev, d->now_ms, &d->st);
		if (e != NULL)
			queue_entry(d, e, SESS_OP_UP, -1);
		break;
	case SESS_EV_REMOVE:
		if (!sess_own_remove(&d->own, ev))
			break;
		memset(&gone, 0, sizeof(gone));
		gone.key = ev->key;
		gone.svc = ev->svc;
		gone.backend = ev->backend;
		gone.state = ev->state;
		gone.last_seen = ev->ms;
		if (ev->flags & SESS_EV_F_SPLICED) {
			gone.flags = SESS_R_SPLICED;
			gone.tag = ev->delta;
		}
		queue_entry(d, &gone, SESS_OP_DOWN, -1);
		break;
	default:
		d->ev_bad++;
	}
}

/*
 * Follows the forwarder's view (sess_map_follow).  Called before each
 * burst of events is handled, after it was taken from the ring: an event
 * names the slots of the view the classifier had when it wrote it, which
 * the forwarder published before (so this load sees it); a slot changes
 * its backend only seconds after its last flow ended (docs/RELOAD.md,
 * slot_flows), so an older event's slots are still its backend's here.
 */
static void
view_follow(struct sessd *d)
{
	uint64_t gen = __atomic_load_n(&d->shm->view_gen, __ATOMIC_ACQUIRE);
	int rc = sess_map_follow(&d->map, d->shm);

	if (rc == 1) {
		d->views++;
		HLOG(NOTICE, "following the forwarder's view, generation %" PRIu64 ": %u service slot(s)",
		     d->map.gen, d->map.cfg->n_services);
	} else if (rc < 0 && d->view_failed != gen) {
		d->view_failed = gen;
		HLOG(WARNING, "cannot take the forwarder's view generation %" PRIu64 " yet: %s (tried again)",
		     gen, strerror(-rc));
	}
}

/* Takes up to max bursts of events from ring; returns how many events. */
static uint32_t
drain_ring(struct sessd *d, struct rte_ring *ring, uint32_t max)
{
	struct sess_ev evs[SESSD_BURST];
	uint32_t n, i, total = 0;

	while (max-- > 0) {
		n = rte_ring_sc_dequeue_burst_elem(ring, evs, sizeof(evs[0]),
						   SESSD_BURST, NULL);
		if (n > 0)
			view_follow(d);
		for (i = 0; i < n; i++)
			handle_event(d, &evs[i]);
		total += n;
		if (n < SESSD_BURST)
			break;
	}
	return total;
}

/*
 * The classifier's events, then those of the forwarder's punt thread
 * (the flows a remote classifier decided: shm-t.h sess_ring_fwd).  The
 * two never write a table at the same time (the attach lock), and a
 * change of writer takes at least the classifier's heartbeat timeout,
 * far longer than this 1 ms poll; only a halb-sessiond that stalled
 * across such a change could take one flow's events out of order (an
 * INSTALL after its REMOVE: the session stays here until the next
 * dump, or the peers' replicas age it out once it is dead).  Then the
 * request router's (sess_ring_l7), about other connections: those of
 * request-routed services, which the classifier never sees.
 */
static uint32_t
drain(struct sessd *d, uint32_t max)
{
	uint32_t n = drain_ring(d, d->shm->sess_ring, max), l7;

	if (d->shm->sess_ring_fwd != NULL)
		n += drain_ring(d, d->shm->sess_ring_fwd, max);
	if (d->shm->sess_ring_l7 != NULL) {
		l7 = drain_ring(d, d->shm->sess_ring_l7, max);
		d->l7_events += l7;
		n += l7;
	}
	return n;
}

/* A dump request (shm-t.h sess_dump_req, l7_dump_req): one more, never
 * 0, which means "none". */
static void
dump_ask(volatile uint32_t *req)
{
	if (__atomic_add_fetch(req, 1, __ATOMIC_RELEASE) == 0)
		__atomic_add_fetch(req, 1, __ATOMIC_RELEASE);
}

/* Takes the events in ring now (a served dump's are all before them);
 * returns how many. */
static uint32_t
dump_drain(struct sessd *d, struct rte_ring *ring)
{
	uint32_t n = rte_ring_count(ring), total = 0;

	while (n > 0) {
		uint32_t got = drain_ring(d, ring, 1);

		if (got == 0)
			break;
		total += got;
		n = got < n ? n - got : 0;
	}
	return total;
}

/* Asks the classifier for every live flow (see shm-t.h sess_dump_req). */
static void
ask_local_dump(struct sessd *d)
{
	dump_ask(&d->shm->sess_dump_req);
	d->local_dump = true;
	d->local_dump_start = d->now_ms;
}

/* The classifier cleared the request: every DUMP is in the ring before
 * what it holds now.  Take those, then end the sessions it did not
 * name (their REMOVE was lost). */
static void
local_dump_check(struct sessd *d)
{
	uint32_t n;

	if (!d->local_dump ||
	    __atomic_load_n(&d->shm->sess_dump_req, __ATOMIC_ACQUIRE) != 0)
		return;
	dump_drain(d, d->shm->sess_ring);
	n = sess_own_sweep(&d->own, d->local_dump_start, false, own_gone, d);
	d->local_dump = false;
	d->local_dumps++;
	HLOG(INFO, "the classifier's flows are loaded: %u own sessions (%u ended: not in the flow tables)",
	     sess_own_count(&d->own), n);
}

/* Asks the request router for every bound connection (shm-t.h
 * l7_dump_req), as ask_local_dump the classifier. */
static void
ask_l7_dump(struct sessd *d)
{
	if (d->shm->sess_ring_l7 == NULL)
		return;
	dump_ask(&d->shm->l7_dump_req);
	d->l7_dump = true;
	d->l7_dump_start = d->now_ms;
}

/* The router cleared the request: its DUMPs are all in its ring.  Take
 * them, then end the spliced sessions it did not name. */
static void
l7_dump_check(struct sessd *d)
{
	uint32_t n;

	if (!d->l7_dump ||
	    __atomic_load_n(&d->shm->l7_dump_req, __ATOMIC_ACQUIRE) != 0)
		return;
	d->l7_events += dump_drain(d, d->shm->sess_ring_l7);
	n = sess_own_sweep(&d->own, d->l7_dump_start, true, own_gone, d);
	d->l7_dump = false;
	d->l7_dumps++;
	HLOG(INFO, "the request router's bound connections are loaded: %u own sessions (%u spliced ended: not in its table)",
	     sess_own_count(&d->own), n);
}

/*
 * A replica entry that a dump to peer p, which restarted (dump_back),
 * gives back, unowned: one no appliance owns, or one of p's previous
 * life (owned by p and older than its new boot).  The slot must still
 * name the entry's backend.  Its age goes with it (idle_ms: since the
 * later of its last packet and its last refresh), so that a record
 * passed back and forth still ages out.
 */
static void
queue_unowned(struct sessd *d, const struct flow_entry *e, unsigned int p)
{
	unsigned int owner = e->flags & SESS_R_OWNER;
	uint32_t base = e->last_seen;
	struct sess_rec r;

	if (owner != SESS_R_UNOWNED &&
	    (owner != p || (int32_t)(e->created - d->dump_back_before[p]) >= 0))
		return;
	if (e->tag != sess_map_tag(&d->map, e->svc, e->backend) ||
	    sess_rec_from_local(&d->map, &e->key, e->svc, e->backend, &r) != 0)
		return;
	r.op = SESS_OP_UP;
	r.state = e->state;
	if ((int32_t)(e->created - base) > 0)
		base = e->created;
	r.idle_ms = (int32_t)(d->now_ms - base) > 0 ? d->now_ms - base : 0;
	r.spliced = (e->flags & SESS_R_SPLICED) ? 1 : 0;
	r.seq_delta = r.spliced ? flow_aux(d->rep.w.t, e) : 0;
	r.unowned = 1;
	if (sync_queue_to(d->sync, p, &r) == 0)
		d->dump_unowned++;
}

/* A peer's dump, paced: while its backlog has room (sync_room).  Our own
 * sessions, then, to a peer that restarted, the replica's records it is
 * given back (queue_unowned). */
static void
peer_dumps(struct sessd *d)
{
	const struct flow_table *own = &d->own.t, *rep = d->rep.w.t;
	unsigned int p;

	for (p = 0; p < d->sc.n_peers; p++) {
		uint32_t n, end = own->n_buckets + (d->dump_back[p] ? rep->n_buckets : 0);

		if (!d->dumping[p])
			continue;
		view_follow(d); /* the slots' tags, for queue_unowned */
		for (n = 0; n < SESSD_DUMP_BUCKETS && d->dump_b[p] < end; n++) {
			const struct flow_table *t;
			const struct flow_bucket *bk;
			unsigned int i;
			uint32_t b;

			if (sync_room(d->sync, p) < FLOW_BUCKET_SLOTS)
				break;
			b = d->dump_b[p]++;
			t = b < own->n_buckets ? own : rep;
			bk = &t->buckets[t == own ? b : b - own->n_buckets];
			for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
				const struct flow_entry *e;

				if (bk->slot[i] == 0)
					continue;
				e = &t->entries[flow_slot_idx(bk->slot[i])];
				if (t == own)
					queue_entry(d, e, SESS_OP_UP, (int)p);
				else
					queue_unowned(d, e, p);
			}
		}
		if (d->dump_b[p] == end) {
			d->dumping[p] = false;
			sync_dump_done(d->sync, p);
		}
	}
}

/*
 * The request router's backend segments of no binding and no flow
 * (router/relay.c): each to every live peer (sync_relay: sealed, best
 * effort, at most relay_rate a second), its service named by VIP and
 * port.  Every poll, at most the ring's size.
 */
static void
relay_drain(struct sessd *d)
{
	static struct halb_l7_relay rl[16];
	uint32_t n, i, total = 0;

	if (d->shm->l7_relay_out == NULL)
		return;
	do {
		n = rte_ring_sc_dequeue_burst_elem(d->shm->l7_relay_out, rl,
						   sizeof(rl[0]), 16, NULL);
		if (n > 0)
			view_follow(d);
		for (i = 0; i < n; i++) {
			const struct cfg_service *cs;

			d->relay_taken++;
			if (rl[i].svc >= d->map.cfg->n_services ||
			    d->map.cfg->services[rl[i].svc].slot != CFG_SLOT_LIVE) {
				d->relay_bad++;
				continue;
			}
			cs = &d->map.cfg->services[rl[i].svc];
			/* A segment the message cannot carry (-EINVAL) is
			 * counted here; the engine counts the rest. */
			if (sync_relay(d->sync, cs->vip.b, ntohs(rl[i].vport),
				       rl[i].frame, rl[i].len, unix_ns()) == -EINVAL)
				d->relay_bad++;
		}
		total += n;
	} while (n == 16 && total < HALB_L7_RELAY_RING);
}

/* ---- the sync engine's callbacks ---- */

static int
op_send(void *arg, unsigned int p, const void *buf, size_t len)
{
	const struct sessd *d = arg;
	const struct sync_peer_conf *pc = &d->sc.peers[p];

	if (sendto(d->dm.udp, buf, len, MSG_DONTWAIT,
		   (const struct sockaddr *)&pc->addr, pc->addr_len) < 0)
		return -errno;
	return 0;
}

static void
op_deliver(void *arg, unsigned int p, const struct sess_rec *r)
{
	struct sessd *d = arg;
	uint32_t tag;
	uint16_t svc, be;
	int rc;

	if (r->op == SESS_OP_DOWN) {
		d->rx_down++;
		sess_replica_del(&d->rep, &r->key);
		return;
	}
	if (r->op != SESS_OP_UP || r->state > FLOW_ST_UDP) {
		d->rx_unknown++;
		return;
	}
	d->rx_up++;
	/* A backend this appliance does not know (another file), or one a
	 * reload removed here: counted, not kept (a connection that moves
	 * here is decided as without a record). */
	view_follow(d);
	rc = sess_rec_to_local(&d->map, r, &svc, &be, &tag);
	if (rc != 0) {
		if (rc == -ESTALE)
			d->rx_removed++;
		else
			d->rx_unknown++;
		return;
	}
	/* A spliced record for a service that is not request-routed here
	 * (the appliances' files differ): its flows would be taken for
	 * plain NAT ones, their sequence numbers untranslated. */
	if (r->spliced != d->map.cfg->services[svc].l7.has) {
		d->rx_unknown++;
		return;
	}
	if (r->unowned) {
		d->rx_unowned++;
		p = SESS_R_UNOWNED;
	}
	if (r->spliced)
		sess_replica_put_spliced(&d->rep, &r->key, svc, be, tag, r->state,
					 p, r->idle_ms, d->now_ms, r->seq_delta);
	else
		sess_replica_put(&d->rep, &r->key, svc, be, tag, r->state, p,
				 r->idle_ms, d->now_ms);
}

/* A backend's segment that peer p relayed: to the request router, as
 * this appliance's service (by VIP and port) and backend (by the
 * segment's source address and port) slots. */
static void
op_relay(void *arg, unsigned int p, const uint8_t vip[16], uint16_t vip_port,
	 const uint8_t *seg, size_t len)
{
	struct sessd *d = arg;
	struct halb_l7_relay rl;
	struct sess_rec r;
	uint16_t svc, be, sport;
	uint32_t tag;

	(void)p;
	if (d->shm->l7_relay_in == NULL || len > HALB_L7_RELAY_MAX) {
		d->relay_unknown++;
		return;
	}
	memset(&r, 0, sizeof(r));
	memcpy(r.key.dst, vip, 16);
	r.key.dport = htons(vip_port);
	r.key.proto = IPPROTO_TCP;
	view_follow(d);
	if (sync_relay_seg(seg, len, r.be_addr, &sport) != 0 ||
	    (r.be_port = ntohs(sport),
	     sess_rec_to_local(&d->map, &r, &svc, &be, &tag) != 0) ||
	    !d->map.cfg->services[svc].l7.has) {
		d->relay_unknown++;
		return;
	}
	rl.svc = svc;
	rl.be = be;
	rl.vport = r.key.dport;
	rl.len = (uint16_t)len;
	memcpy(rl.frame, seg, len);
	if (rte_ring_sp_enqueue_elem(d->shm->l7_relay_in, &rl, sizeof(rl)) != 0) {
		d->relay_ring_full++;
		return;
	}
	d->relay_delivered++;
}

static void
op_dump(void *arg, unsigned int p)
{
	struct sessd *d = arg;

	d->dumping[p] = true;
	d->dump_b[p] = 0;
	d->dump_back[p] = d->peer_restarted[p];
	d->dump_back_before[p] = d->peer_dump_start[p];
	HLOG(INFO, "peer %s asked for our sessions: %u to send%s",
	     d->sc.peers[p].name, sess_own_count(&d->own),
	     d->dump_back[p] ? ", and those it had before it restarted" : "");
}

static void
op_peer_state(void *arg, unsigned int p, bool alive, bool synced)
{
	struct sessd *d = arg;

	if (alive && !synced) {
		const struct sync_peer_stats *ps = sync_peer_stats(d->sync, p);

		/* Its dump starts now: what it does not send again is
		 * stale once it is done (or, when it restarted, no one's). */
		d->peer_dump_start[p] = d->now_ms;
		d->peer_restarted[p] = d->shm->sess_peer_boot[p] != 0 &&
				       ps->boot != d->shm->sess_peer_boot[p];
	}
	if (alive && !d->rep.alive[p]) {
		HLOG(NOTICE, "peer %s is up", d->sc.peers[p].name);
	} else if (!alive && d->rep.alive[p]) {
		HLOG(WARNING, "peer %s is dead (silent %u ms): its sessions age from now",
		     d->sc.peers[p].name, d->sc.dead_ms);
	}
	d->rep.alive[p] = alive;
	if (alive)
		d->rep.heard_ms[p] = d->now_ms;
	if (alive && synced) {
		if (d->peer_restarted[p]) {
			uint32_t n = sess_replica_disown(&d->rep, p, d->peer_dump_start[p],
							 d->now_ms);

			d->peer_restarted[p] = false;
			HLOG(NOTICE, "peer %s restarted: %u of its sessions from before are kept, no one's, until they age out or an appliance takes them over",
			     d->sc.peers[p].name, n);
		} else {
			d->rep.stale_before[p] = d->peer_dump_start[p] + 1;
		}
		/* Only once synced: a sessiond that dies before still sees
		 * the restart. */
		d->shm->sess_peer_boot[p] = sync_peer_stats(d->sync, p)->boot;
		if (!d->synced_once[p])
			HLOG(INFO, "peer %s synced: %u replicated sessions",
			     d->sc.peers[p].name, sess_replica_count(&d->rep));
		d->synced_once[p] = true;
		d->resyncs++;
	}
}

/* ---- the loop ---- */

/* Whether a request router serves l7_dump_req: attached and beating
 * (as the workers judge it; a router killed keeps its pid there, and a
 * restarted one serves the request when it attaches). */
static bool
router_alive(const struct sessd *d)
{
	const struct halb_shm *shm = d->shm;

	return shm->l7_pid != 0 &&
	       halb_tsc_age(rte_rdtsc(), shm->l7_alive) <
		       shm->tsc_hz / 1000 * d->cfg->classifier_timeout_ms;
}

/* Whether the replica is loaded: the classifier's dump taken (when a
 * classifier is attached), the request router's (when one is alive),
 * and every peer synced or given up on (dead_ms since start). */
static void
judge_ready(struct sessd *d, uint64_t mono)
{
	bool waited = mono - d->start_ms >= d->cfg->sessions.dead_ms;
	unsigned int p;

	/* No classifier attached: nothing of its to wait for (it serves the
	 * request when it attaches). */
	if (d->ready || (d->local_dump && d->shm->cls_pid != 0) ||
	    (d->l7_dump && router_alive(d)))
		return;
	for (p = 0; p < d->sc.n_peers && !waited; p++)
		if (!d->synced_once[p])
			return;
	d->ready = true;
	halb_hb_set_state(d->hb, HALB_HB_READY);
	halb_notify_ready();
	HLOG(NOTICE, "ready: %u own sessions, %u replicated%s",
	     sess_own_count(&d->own), sess_replica_count(&d->rep),
	     waited ? " (not every peer answered within sessions.dead_ms)" : "");
}

/*
 * The replica's grace periods wait for the classifier (thread 0 of
 * replica_qsbr).  A classifier killed while online would hold them for
 * ever: when its process is gone, its thread is taken offline here (a
 * new classifier goes online at attach, and its quiescent reports
 * bring it back).  A new classifier may attach at any moment in this:
 * it sets cls_pid before it goes online, and the thread goes offline
 * only if its counter is still the dead one's (sess_qsbr_offline), so
 * a live reader is never taken offline (which would let its entries be
 * reused under it until its next quiescent report).
 */
static void
unstick_qsbr(struct sessd *d)
{
	struct rte_rcu_qsbr *q = d->shm->replica_qsbr;
	int32_t pid = __atomic_load_n(&d->shm->cls_pid, __ATOMIC_ACQUIRE);
	uint64_t stale;

	if (pid != 0 && (kill(pid, 0) == 0 || errno != ESRCH))
		return;
	if (pid == 0 && d->shm->cls_starts == 0)
		return;
	stale = sess_qsbr_stale(q, 0);
	if (stale == 0)
		return;
	/* Read after the counter: a classifier whose online store that
	 * was has its pid here. */
	if (__atomic_load_n(&d->shm->cls_pid, __ATOMIC_ACQUIRE) != pid)
		return;
	if (sess_qsbr_offline(q, 0, stale))
		d->qsbr_unstuck++;
}

static void
on_poll(struct ev_loop *ev, void *arg)
{
	struct sessd *d = arg;
	uint64_t tsc = rte_rdtsc(), mono = ev_now(ev), nb;
	struct halb_shm *shm = d->shm;
	unsigned int p;

	shm->sess_alive = tsc;
	d->now_ms = halb_now_ms(shm, tsc);
	if (halb_tsc_age(tsc, shm->fwd_alive) > shm->tsc_hz / 1000 * SESSD_FWD_GONE_MS &&
	    kill(shm->fwd_pid, 0) != 0 && errno == ESRCH) {
		HLOG(ERR, "forwarder (pid %d) is gone: exiting", shm->fwd_pid);
		d->rc = 3;
		ev_stop(ev);
		return;
	}
	view_follow(d);
	drain(d, SESSD_BURSTS);
	relay_drain(d);
	if (shm->cls.sess_ring_full != d->ring_full_seen) {
		d->ring_full_seen = shm->cls.sess_ring_full;
		if (!d->local_dump) {
			HLOG(WARNING, "the session ring overflowed (%" PRIu64 " events lost so far): resyncing from the flow tables",
			     d->ring_full_seen);
			ask_local_dump(d);
		}
	}
	local_dump_check(d);
	if (shm->sess_ring_l7 != NULL &&
	    shm->l7.sess_ring_full != d->l7_ring_full_seen) {
		d->l7_ring_full_seen = shm->l7.sess_ring_full;
		if (!d->l7_dump) {
			HLOG(WARNING, "the request router's session ring overflowed (%" PRIu64 " events lost so far): resyncing from its table",
			     d->l7_ring_full_seen);
			ask_l7_dump(d);
		}
	}
	l7_dump_check(d);
	peer_dumps(d);
	for (p = 0; p < d->sc.n_peers; p++)
		if (d->rep.alive[p])
			d->rep.heard_ms[p] = d->now_ms;
	/* The replica swept once a second (as the classifier's tables). */
	d->expire_owed += (uint64_t)d->rep.w.t->n_buckets * SESSD_POLL_MS;
	nb = d->expire_owed / 1000;
	if (nb > 0) {
		d->expire_owed -= nb * 1000;
		sess_replica_expire(&d->rep, (uint32_t)RTE_MIN(nb, (uint64_t)65536),
				    d->now_ms);
	}
	if (d->rep.w.n_free == 0 && d->rep.w.pend_head != d->rep.w.pend_tail)
		unstick_qsbr(d);
	sync_tick(d->sync, unix_ns());
	judge_ready(d, mono);
}

static void
on_beat(struct ev_loop *ev, void *arg)
{
	struct sessd *d = arg;

	(void)ev;
	halb_hb_beat(d->hb, halb_hb_now_ns());
}

static void
on_dgram(struct ev_loop *ev, const uint8_t *dgram, size_t len,
	 const struct sockaddr *from, void *arg)
{
	struct sessd *d = arg;
	socklen_t fl = from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
						     sizeof(struct sockaddr_in);

	(void)ev;
	sync_input(d->sync, dgram, len, from, fl, unix_ns());
}

/* ---- the control socket ---- */

static void
on_ctl(void *arg, const char *req, FILE *out)
{
	struct sessd *d = arg;
	const struct sync_stats *ss = sync_stats(d->sync);
	uint64_t now_ns = unix_ns();
	const char *sep;
	unsigned int p;

	if (strcmp(req, "status") != 0) {
		fprintf(out, "error: unknown request \"%s\" (status)\n", req);
		return;
	}
	fprintf(out, "sessiond %s: %s, %u own sessions, %u replicated (of %u)\n",
		d->cfg->sessions.name, d->ready ? "ready" : "loading",
		sess_own_count(&d->own), sess_replica_count(&d->rep),
		d->rep.w.t->n_entries);
	fprintf(out, "events %" PRIu64 " (bad %" PRIu64 "), ring overflows %" PRIu64 ", local dumps %" PRIu64 ", own full %" PRIu64 "\n",
		d->events, d->ev_bad, d->ring_full_seen, d->local_dumps,
		d->st.own_full);
	if (d->shm->sess_ring_l7 != NULL)
		fprintf(out, "request router: events %" PRIu64 ", ring overflows %" PRIu64 ", dumps %" PRIu64 "\n",
			d->l7_events, d->l7_ring_full_seen, d->l7_dumps);
	if (d->shm->l7_relay_out != NULL)
		fprintf(out, "relay: from the router %" PRIu64 " (sent %" PRIu64 ", over the rate %" PRIu64 ", no live peer %" PRIu64 ", unknown slot or unfit %" PRIu64 "), from the peers %" PRIu64 " (to the router %" PRIu64 ", unknown service or backend %" PRIu64 ", ring full %" PRIu64 ")\n",
			d->relay_taken, ss->relay_sent, ss->relay_limited,
			ss->relay_no_peer, d->relay_bad, ss->relay_rcvd,
			d->relay_delivered, d->relay_unknown, d->relay_ring_full);
	fprintf(out, "view generation %" PRIu64 " (the forwarder's %" PRIu64 "), %" PRIu64 " followed since start\n",
		d->map.gen, (uint64_t)__atomic_load_n(&d->shm->view_gen, __ATOMIC_ACQUIRE),
		d->views);
	fprintf(out, "received up %" PRIu64 " (unowned %" PRIu64 "), down %" PRIu64 ", unknown backend %" PRIu64 ", removed backend %" PRIu64 "; replica writes %" PRIu64 ", removals %" PRIu64 ", full %" PRIu64 ", expired %" PRIu64 ", retired %" PRIu64 "\n",
		d->rx_up, d->rx_unowned, d->rx_down, d->rx_unknown, d->rx_removed,
		d->st.replica_puts, d->st.replica_dels, d->st.replica_full,
		d->st.replica_expired, d->st.replica_retired);
	fprintf(out, "restarted peers' sessions: kept as no one's %" PRIu64 ", sent back in dumps %" PRIu64 "\n",
		d->st.replica_disowned, d->dump_unowned);
	fprintf(out, "datagrams %" PRIu64 ", refused %" PRIu64,
		ss->rx_datagrams, ss->rx_refused);
	for (p = 0, sep = " ("; p < SYNC_REJ_SLOTS; p++)
		if (ss->rx_reject[p] != 0) {
			fprintf(out, "%s%s %" PRIu64, sep, seal_reject_name((int)p),
				ss->rx_reject[p]);
			sep = ", ";
		}
	fprintf(out, "%s, malformed %" PRIu64 ", stale %" PRIu64 ", old boot %" PRIu64 "\n",
		sep[0] == ',' ? ")" : "", ss->rx_malformed, ss->rx_stale,
		ss->rx_old_boot);
	for (p = 0; p < d->sc.n_peers; p++) {
		const struct sync_peer_stats *ps = sync_peer_stats(d->sync, p);
		char addr[96];

		halb_sockaddr_fmt((const struct sockaddr *)&d->sc.peers[p].addr,
				  addr, sizeof(addr));
		fprintf(out, "peer %s %s: %s%s, ", d->sc.peers[p].name, addr,
			ps->alive ? "alive" : "dead", ps->synced ? " synced" : "");
		if (ps->last_heard_ns == 0)
			fprintf(out, "never heard");
		else
			fprintf(out, "last heard %" PRIu64 " ms ago",
				(now_ns - ps->last_heard_ns) / 1000000u);
		fprintf(out, ", backlog %u, in flight %u, sent %" PRIu64 " (resent %" PRIu64 "), received %" PRIu64 ", backlog dropped %" PRIu64 ", dumps sent %" PRIu64 " received %" PRIu64 "\n",
			ps->backlog, ps->in_flight, ps->batches_sent,
			ps->batches_resent, ps->records_rcvd,
			ps->backlog_dropped, ps->dumps_sent, ps->dumps_rcvd);
	}
}

/* ---- start ---- */

/* One sessiond per forwarder: a lock in the forwarder's runtime
 * directory, held until exit. */
static int
lock_one(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", rte_eal_get_runtime_dir(),
		 SESSD_LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int rc = -errno;

		close(fd);
		return rc == -EWOULDBLOCK ? -EBUSY : rc;
	}
	return fd;
}

static void
sync_conf_fill(struct sync_conf *sc, const struct cfg_sessions *ss)
{
	unsigned int p;

	memset(sc, 0, sizeof(*sc));
	snprintf(sc->name, sizeof(sc->name), "%s", ss->name);
	for (p = 0; p < ss->n_peers && p < SYNC_MAX_PEERS; p++) {
		struct sync_peer_conf *pc = &sc->peers[p];

		snprintf(pc->name, sizeof(pc->name), "%s", ss->peers[p].name);
		pc->addr_len = halb_sockaddr(&ss->peers[p].ip, ss->peers[p].port,
					     &pc->addr);
		pc->key_len = ss->peers[p].key.len;
		pc->key_id = ss->peers[p].key.id;
		memcpy(pc->key, ss->peers[p].key.bytes, pc->key_len);
	}
	sc->n_peers = p;
	sc->resend_ms = ss->resend_ms;
	sc->hello_ms = ss->dead_ms / 4 > ss->resend_ms ? ss->dead_ms / 4 : ss->resend_ms;
	sc->dead_ms = ss->dead_ms;
	sc->window = ss->window;
	sc->backlog_max = ss->backlog;
	sc->max_datagram = SESSD_DGRAM_MTU;
}

/* Waits up to a second for the classifier to pass a quiescent state
 * (entries a previous sessiond removed may still be read). */
static void
replica_grace(struct sessd *d)
{
	struct rte_rcu_qsbr *q = d->shm->replica_qsbr;
	uint64_t token = rte_rcu_qsbr_start(q);
	int i;

	for (i = 0; i < 1000; i++) {
		if (rte_rcu_qsbr_check(q, token, false) == 1)
			return;
		usleep(1000);
	}
	unstick_qsbr(d);
}

static int
attach(struct sessd *d)
{
	static const struct sync_ops ops = {
		.send = op_send, .deliver = op_deliver, .dump = op_dump,
		.peer_state = op_peer_state, .relay = op_relay,
	};
	const struct halb_cfg *cfg = d->cfg;
	uint32_t own_entries;
	int rc;

	rc = halb_shm_attach(cfg, &d->shm);
	if (rc == -ENOENT)
		HLOG(ERR, "no shared memory %s: is halb-forwarder running with file_prefix %s?",
		     HALB_SHM_NAME, cfg->file_prefix);
	else if (rc == -EAGAIN)
		HLOG(ERR, "shared memory not ready or of another version");
	else if (rc == -EINVAL)
		HLOG(ERR, "%s differs from the forwarder's configuration: run both from the same file",
		     cfg->path);
	if (rc != 0)
		return rc;
	if (!d->shm->has_sessions) {
		HLOG(ERR, "the forwarder made no session ring: %s has no sessions { }",
		     cfg->path);
		return -EINVAL;
	}
	rc = lock_one();
	if (rc < 0) {
		HLOG(ERR, rc == -EBUSY ?
		     "another halb-sessiond is attached to file_prefix %s" :
		     "cannot lock the sessiond lock of file_prefix %s", cfg->file_prefix);
		return rc;
	}
	/* The slots are the forwarder's view's (this file's positions are
	 * not, after a reload): taken before anything names a slot. */
	rc = sess_map_init(&d->map, d->cfg);
	if (rc != 0)
		return rc;
	rc = sess_map_follow(&d->map, d->shm);
	if (rc < 0) {
		HLOG(ERR, "cannot read the forwarder's view of the services: %s",
		     strerror(-rc));
		return rc;
	}
	/* Every live flow of every worker, at most SESSD_OWN_MAX (80 bytes
	 * each of process memory); beyond, sessions are not kept (counted
	 * as own full) and a peer's dump lacks them. */
	own_entries = cfg->flow_entries * cfg->n_workers;
	if (own_entries > SESSD_OWN_MAX) {
		HLOG(WARNING, "flows.entries x %u workers is %u flows: keeping at most %u own sessions",
		     cfg->n_workers, own_entries, SESSD_OWN_MAX);
		own_entries = SESSD_OWN_MAX;
	}
	rc = sess_own_init(&d->own, own_entries);
	if (rc == 0)
		rc = sess_replica_init(&d->rep, &d->shm->replica, d->shm->replica_qsbr,
				       &d->map, &d->st);
	if (rc != 0) {
		HLOG(ERR, "cannot allocate the session tables: %s", strerror(-rc));
		return rc;
	}
	replica_grace(d);
	d->now_ms = halb_now_ms(d->shm, rte_rdtsc());
	sync_conf_fill(&d->sc, &cfg->sessions);
	d->sync = sync_new(&d->sc, &ops, d, unix_ns());
	if (d->sync == NULL) {
		rc = -errno;
		HLOG(ERR, "cannot start the sync engine: %s", strerror(errno));
		return rc;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sessd *d = &sd;
	struct halb_daemon_conf dc;
	unsigned int p;
	sigset_t sigs;
	int opt, rc;

	opt = cfg_cli_load(argc, argv,
			   "run the session tracker (after the forwarder)", &d->cfg);
	if (opt >= 0)
		return opt;
	halb_log_prog = "halb-sessiond";
	halb_log_open(d->cfg->log.level, d->cfg->log.syslog);
	if (!d->cfg->sessions.has) {
		HLOG(ERR, "%s has no sessions { }: nothing to track", d->cfg->path);
		return 1;
	}
	/* The loop takes its signals from a signalfd (halb_daemon_open),
	 * which needs them blocked in every thread: blocked here, before
	 * the EAL makes its threads, they inherit the mask.  Otherwise a
	 * SIGTERM lands in an EAL thread and kills the process at once,
	 * its control socket and heartbeat left behind. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (halb_eal_start_secondary(argv[0], d->cfg) < 0) {
		HLOG(ERR, "EAL initialisation failed (is halb-forwarder running with file_prefix %s?): %s",
		     d->cfg->file_prefix, rte_strerror(rte_errno));
		return 1;
	}
	rte_log_set_global_level(d->cfg->log.dpdk_level + 1u);
	d->dm.udp = -1;
	if (attach(d) != 0) {
		rte_eal_cleanup();
		return 1;
	}
	dc = (struct halb_daemon_conf){
		.ip = &d->cfg->sessions.listen_ip,
		.port = d->cfg->sessions.listen_port,
		.udp_key = "sessions.listen",
		.max_dgram = SESSD_MAX_DGRAM,
		.burst = 64,
		.on_dgram = on_dgram,
		.ctl_path = d->cfg->sessions.socket,
		.ctl_key = "sessions.socket",
		.max_clients = 16,
		.on_ctl = on_ctl,
		.arg = d,
	};
	rc = halb_daemon_open(&d->dm, &dc);
	if (rc != 0) {
		HLOG(ERR, "cannot start: %s", strerror(-rc));
		halb_daemon_close(&d->dm);
		rte_eal_cleanup();
		return 1;
	}
	/* Ready only once the replica is loaded (judge_ready). */
	d->hb = halb_hb_open(d->cfg->file_prefix, "sessiond", HALB_DAEMON_BEAT_MS);
	if (d->hb == NULL) {
		HLOG(ERR, "cannot create the heartbeat file under %s/%s: %s",
		     HALB_RUN_DIR, d->cfg->file_prefix, strerror(errno));
		halb_daemon_close(&d->dm);
		rte_eal_cleanup();
		return 1;
	}
	d->start_ms = halb_mono_ms();
	d->shm->sess_pid = getpid();
	d->shm->sess_alive = rte_rdtsc();
	d->shm->sess_starts++;
	d->ring_full_seen = d->shm->cls.sess_ring_full;
	d->l7_ring_full_seen = d->shm->l7.sess_ring_full;
	/* Events already in the rings are older than the dumps: take them
	 * first, then ask for every live flow and bound connection, and
	 * every peer for theirs. */
	drain(d, UINT32_MAX);
	ask_local_dump(d);
	ask_l7_dump(d);
	for (p = 0; p < d->sc.n_peers; p++)
		d->peer_dump_start[p] = d->now_ms;
	sync_request_dump(d->sync, -1);
	ev_timer_init(&d->poll, on_poll, d);
	ev_timer_start(d->dm.ev, &d->poll, SESSD_POLL_MS, SESSD_POLL_MS);
	ev_timer_init(&d->beat, on_beat, d);
	ev_timer_start(d->dm.ev, &d->beat, 0, HALB_DAEMON_BEAT_MS);
	HLOG(INFO, "attached: %u peer(s), replica of %u entries (%u in it), the forwarder's view generation %" PRIu64 ", listening on sessions.listen",
	     d->sc.n_peers, d->rep.w.t->n_entries, sess_replica_count(&d->rep),
	     d->map.gen);
	rc = ev_main(d->dm.ev);
	if (d->rc != 0)
		rc = d->rc;
	d->shm->sess_pid = 0;
	halb_hb_set_state(d->hb, HALB_HB_STOPPING);
	ev_timer_stop(d->dm.ev, &d->poll);
	ev_timer_stop(d->dm.ev, &d->beat);
	sync_free(d->sync);
	halb_daemon_close(&d->dm);
	halb_hb_close(d->hb);
	sess_replica_fini(&d->rep);
	sess_own_fini(&d->own);
	sess_map_fini(&d->map);
	rte_eal_cleanup();
	cfg_free(d->cfg);
	return rc;
}
