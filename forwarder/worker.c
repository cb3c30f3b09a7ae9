/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcore loop: receive a burst on every port, classify each
 * frame, and for TCP/UDP to a VIP look its flow up in this worker's
 * table.  A hit is rewritten for its service's mode and sent; a miss is
 * punted to the classifier, or decided here with the service's Maglev
 * table when the classifier is gone (stale heartbeat) or this worker's
 * table is full; a miss mid-connection decided here gets the backend the
 * session replica holds for it first (a connection that moved here from
 * a peer appliance; the worker is a reader of replica_qsbr, thread
 * 1 + its id).  Replies from NAT backends are mapped back to the VIP
 * without per-flow state.  Frames the classifier hands back carry its
 * decision in hash.usr.
 *
 * Traffic for the appliance itself (ARP, ND, echo) and the source
 * checks are local.c's; the neighbour requests are worker 0's round.
 * What else comes for a port's own address goes to the port's kernel
 * interface when it has one (the exception path, kernel.c), within
 * ports[].kernel_rate, and what the kernel sends goes out of the port;
 * each worker polls its own queue of each kernel interface.
 *
 * No locks, syscalls or allocation here (but in the tap driver, for what
 * goes to a kernel interface: a write per frame, bounded by kernel_rate;
 * its receive side makes none while the kernel sent nothing, as it
 * counts the kernel's signals): counters are this worker's own,
 * the flow table is read lock-free (the worker reports a quiescent state
 * once per loop), and when idle the loop backs off with short sleeps.
 */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "halb/cfg.h"
#include "halb/flow.h"
#include "halb/idle.h"
#include "halb/mh.h"
#include "halb/punt_limit.h"
#include "halb/sess-t.h"
#include "halb/splice.h"
#include "halb/syncookie.h"
#include "fwd.h"

#define NEIGH_TICK_MS 100u
/* ICMP errors a worker sends itself (fragmentation needed / packet too
 * big): at most FWD_ICMP_RATE a second, in bursts of FWD_ICMP_BURST, as
 * RFC 1812 4.3.2.8 and RFC 4443 2.4 (f) ask; the rest are counted
 * (icmp_limited).  Linux's default is 1000 a second per host. */
#define FWD_ICMP_RATE 1000u
#define FWD_ICMP_BURST 50u

struct fwd_worker {
	uint32_t id;
	uint16_t queue;
	struct halb_worker_shm *ws;
	struct fwd_stats *st;
	struct svc_stats *svc_st;
	struct be_stats (*be_st)[CFG_MAX_BACKENDS];
	const struct fwd_view *v; /* this turn's (fwd_view_load) */
	uint64_t now_tsc;
	uint32_t now_ms;
	bool cls_up;
	bool l7_up;           /* the request router beats (has_l7) */
	bool replica;         /* a reader of shm->replica (sessions { }) */
	uint32_t neigh_ms;
	uint32_t icmp_ms;      /* token bucket of FWD_ICMP_RATE: last refill */
	uint64_t icmp_tokens;  /* ... in thousandths of a message */
	bool neigh_retiring;  /* worker 0: retired neighbours await a grace period */
	uint64_t neigh_token; /* ... that began with this QSBR token */
	struct fwd_echo_limit echo;
	uint16_t n_tx[CFG_MAX_PORTS];
	struct rte_mbuf *tx[CFG_MAX_PORTS][FWD_TX_MAX];
	/* The exception path, per port: frames buffered for its kernel
	 * interface, and a token bucket of ports[].kernel_rate. */
	uint16_t n_ktx[CFG_MAX_PORTS];
	struct rte_mbuf *ktx[CFG_MAX_PORTS][FWD_KTX_MAX];
	uint32_t k_ms[CFG_MAX_PORTS];      /* last refill */
	uint64_t k_tokens[CFG_MAX_PORTS];  /* in thousandths of a frame */
	/* Request routing: the l7_in ring's free room after the last punt
	 * (the router only adds to it since), and the bound on client punts
	 * that applies while the ring is more than a quarter full
	 * (halb/punt_limit.h). */
	uint32_t l7_in_free;
	struct plim l7_lim;
} __rte_cache_aligned;

/* Any view a worker loads stays valid until its quiescent state (a
 * reload frees the old one after a grace period). */
bool
fwd_is_local(const struct fwd_ctx *c, const struct halb_ip *ip)
{
	const struct fwd_view *v = __atomic_load_n(&c->view, __ATOMIC_ACQUIRE);
	uint32_t i;

	for (i = 0; i < v->n_local; i++)
		if (halb_ip_eq(&v->local[i], ip))
			return true;
	return false;
}

/* The view for this turn of the loop: one per turn, so that a burst
 * sees one configuration (docs/RELOAD.md). */
static void
fwd_view_load(struct fwd_worker *w)
{
	w->v = __atomic_load_n(&fwd.view, __ATOMIC_ACQUIRE);
}

static void
tx_flush(struct fwd_worker *w, uint32_t p)
{
	uint16_t n = w->n_tx[p], sent;

	if (n == 0)
		return;
	sent = rte_eth_tx_burst(fwd.ports[p].port_id, w->queue, w->tx[p], n);
	w->st->tx += sent;
	if (unlikely(sent < n)) {
		w->st->drops[FWD_DROP_TX_FULL] += n - sent;
		rte_pktmbuf_free_bulk(&w->tx[p][sent], n - sent);
	}
	w->n_tx[p] = 0;
}

/*
 * 802.1Q on the way out: every frame leaves port p with the port's tag
 * (ports[].vlan), or untagged when it has none, whatever tag it came in
 * with -- so a client never picks the VLAN on the backend side, and
 * every frame the worker sends (forwarded, NAT replies, ARP/ND, ICMP)
 * goes through this one place.  The priority bits are 0.  Returns false
 * when there is no headroom for the tag.
 */
static bool
vlan_out(struct rte_mbuf *m, uint16_t vid)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	bool tagged = f[12] == 0x81 && f[13] == 0x00;

	if (vid == 0) {
		if (tagged) {
			memmove(f + 4, f, 12);
			rte_pktmbuf_adj(m, 4);
			/* A frame now under Ethernet's 60 bytes is padded by
			 * the device on transmit, as every NIC does. */
		}
		return true;
	}
	if (!tagged) {
		f = (uint8_t *)rte_pktmbuf_prepend(m, 4);
		if (f == NULL)
			return false;
		memmove(f, f + 4, 12);
		f[12] = 0x81;
		f[13] = 0x00;
	}
	f[14] = (uint8_t)(vid >> 8);
	f[15] = (uint8_t)vid;
	return true;
}

static void
tx_one(struct fwd_worker *w, uint32_t p, struct rte_mbuf *m)
{
	if (!vlan_out(m, fwd.ports[p].cfg->vlan)) {
		w->st->drops[FWD_DROP_NO_HEADROOM]++;
		rte_pktmbuf_free(m);
		return;
	}
	w->tx[p][w->n_tx[p]++] = m;
	if (w->n_tx[p] == FWD_TX_MAX)
		tx_flush(w, p);
}

static void
drop(struct fwd_worker *w, struct rte_mbuf *m, enum fwd_drop why)
{
	w->st->drops[why]++;
	rte_pktmbuf_free(m);
}

static void
kernel_flush(struct fwd_worker *w, uint32_t p)
{
	uint16_t n = w->n_ktx[p], sent;

	if (n == 0)
		return;
	sent = rte_eth_tx_burst(fwd.ports[p].kernel_id, w->queue, w->ktx[p], n);
	w->st->to_kernel += sent;
	if (sent < n) {
		w->st->kernel_full += n - sent;
		rte_pktmbuf_free_bulk(&w->ktx[p][sent], n - sent);
	}
	w->n_ktx[p] = 0;
}

/*
 * Hands m, received on port p, to p's kernel interface: at most
 * ports[].kernel_rate frames a second from this worker, in bursts of a
 * tenth of that (at least 32), the rest counted (kernel_limited) and
 * freed.  The limit bounds what a flood at the port's address costs the
 * worker: each frame handed over is a system call in the tap driver.
 * Untagged: the kernel interface is the port's link without its VLAN.
 */
static void
to_kernel(struct fwd_worker *w, struct rte_mbuf *m, uint32_t p)
{
	uint64_t rate = fwd.ports[p].cfg->kernel_rate;
	uint64_t cap = RTE_MAX(rate / 10, (uint64_t)32) * 1000;

	w->k_tokens[p] += (uint64_t)(uint32_t)(w->now_ms - w->k_ms[p]) * rate;
	w->k_ms[p] = w->now_ms;
	if (w->k_tokens[p] > cap)
		w->k_tokens[p] = cap;
	if (w->k_tokens[p] < 1000) {
		w->st->kernel_limited++;
		rte_pktmbuf_free(m);
		return;
	}
	w->k_tokens[p] -= 1000;
	vlan_out(m, 0); /* removing a tag needs no headroom */
	w->ktx[p][w->n_ktx[p]++] = m;
	if (w->n_ktx[p] == FWD_KTX_MAX)
		kernel_flush(w, p);
}

/* Frames the kernel interface of port p sent: out of the port as they
 * are (with the port's VLAN tag, if any). */
static void
from_kernel(struct fwd_worker *w, struct rte_mbuf **pkts, uint32_t n, uint32_t p)
{
	uint32_t i;

	w->st->from_kernel += n;
	for (i = 0; i < n; i++) {
		if (unlikely(pkts[i]->nb_segs > 1) && rte_pktmbuf_linearize(pkts[i]) != 0) {
			drop(w, pkts[i], FWD_DROP_OTHER);
			continue;
		}
		tx_one(w, p, pkts[i]);
	}
}

/* Takes one of the worker's ICMP tokens, if there is one left. */
static bool
icmp_token(struct fwd_worker *w)
{
	uint64_t cap = (uint64_t)FWD_ICMP_BURST * 1000;

	w->icmp_tokens += (uint64_t)(uint32_t)(w->now_ms - w->icmp_ms) *
			  FWD_ICMP_RATE;
	w->icmp_ms = w->now_ms;
	if (w->icmp_tokens > cap)
		w->icmp_tokens = cap;
	if (w->icmp_tokens < 1000)
		return false;
	w->icmp_tokens -= 1000;
	return true;
}

/*
 * The MAC of next hop nh (on port) toward a client, for what the
 * appliance sends clients itself: NAT replies and its ICMP errors.  The
 * one place that creates dynamic neighbour entries (neigh.h): a next hop
 * that traffic needs, asked for now and usable once it answers.  False
 * while it is unknown (or the cache has no room: neigh_full).
 */
static bool
client_mac(struct fwd_worker *w, const struct halb_ip *nh, int port,
	   uint8_t mac[6])
{
	int n = neigh_find(fwd.neigh, nh);

	if (n < 0) {
		n = neigh_claim(fwd.neigh, nh, (uint16_t)port, false, w->now_ms);
		if (n < 0) {
			w->st->neigh_full++;
			return false;
		}
	}
	neigh_use(fwd.neigh, n, w->now_ms);
	return neigh_mac(fwd.neigh, n, mac);
}

/*
 * A packet of IP length above `room`, what the out link carries, is
 * dropped (too_big) and its sender told the size that fits, with ICMP
 * fragmentation needed or packet too big, as Katran and GLB do: halb
 * does not fragment.  The sender is a client (this is the way to the
 * backends), reached like a NAT reply's destination (client_mac: an
 * on-link client unknown yet is asked for, and its next error goes); a
 * rate-limit token is spent only on an error that can be sent.  An IPv4 packet
 * without DF gets the error too; Linux then lowers its path MTU for
 * UDP as well as TCP.  ICMP errors get none (RFC 1122 3.2.2).
 */
static void
too_big(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	uint32_t room)
{
	struct halb_ip src, nh;
	struct rte_mbuf *e = NULL;
	uint8_t nh_mac[6];
	uint32_t len;
	int port;

	w->st->drops[FWD_DROP_TOO_BIG]++;
	if (pi->kind != PKT_KIND_FLOW)
		goto out;
	memcpy(src.b, pi->key.src, 16);
	port = cfg_route(fwd.cfg, &src, &nh);
	if (port < 0 || !client_mac(w, &nh, port, nh_mac))
		goto out;
	if (!icmp_token(w)) {
		w->st->icmp_limited++;
		goto out;
	}
	e = rte_pktmbuf_alloc(fwd.shm->pool);
	if (e == NULL)
		goto out;
	len = pkt_icmp_too_big(rte_pktmbuf_mtod(e, uint8_t *),
			       rte_pktmbuf_tailroom(e),
			       rte_pktmbuf_mtod(m, const uint8_t *), pi, room,
			       fwd.ports[port].mac, nh_mac);
	if (len == 0) {
		rte_pktmbuf_free(e);
		goto out;
	}
	e->data_len = (uint16_t)len;
	e->pkt_len = len;
	w->st->icmp_too_big++;
	tx_one(w, (uint32_t)port, e);
out:
	rte_pktmbuf_free(m);
}

/* Sends m to backend slot b of service slot s, rewritten for the
 * service's mode.  A slot this turn's view does not hold (a decision of
 * a classifier that applied a newer view, a free slot) is dropped. */
static void
forward(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	uint32_t s, uint32_t b, uint32_t hash)
{
	const struct fwd_service *sv;
	const struct fwd_backend *be;
	const struct fwd_port *out;
	uint8_t nh_mac[6];
	uint32_t room, len;
	int why;

	if (unlikely(s >= CFG_MAX_SERVICES)) {
		drop(w, m, FWD_DROP_NO_BACKEND);
		return;
	}
	sv = &w->v->svc[s];
	if (unlikely(b >= sv->n_backends || sv->be[b].neigh < 0)) {
		drop(w, m, FWD_DROP_NO_BACKEND);
		return;
	}
	be = &sv->be[b];
	out = &fwd.ports[be->out];
	/* What the out link carries of the client's packet: its MTU, less
	 * what the mode wraps around the packet. */
	room = out->cfg->mtu - be->overhead;
	if (unlikely(pi->l3_len > room)) {
		too_big(w, m, pi, room);
		return;
	}
	if (unlikely(!neigh_mac(fwd.neigh, be->neigh, nh_mac))) {
		drop(w, m, FWD_DROP_NO_NEIGH);
		return;
	}
	len = rte_pktmbuf_pkt_len(m);
	why = sv->ops->rewrite(m, pi, be, out, nh_mac, hash);
	if (unlikely(why != 0)) {
		drop(w, m, (enum fwd_drop)why);
		return;
	}
	/* The client's packet as it came, not what the mode made of it. */
	w->svc_st[s].pkts++;
	w->svc_st[s].bytes += len;
	w->be_st[s][b].pkts++;
	w->be_st[s][b].bytes += len;
	tx_one(w, be->out, m);
}

static bool replica_pick(const struct fwd_worker *w, const struct pkt_info *pi,
			 uint32_t s, uint32_t hash, uint16_t *b);

/* Decides locally with the service's Maglev table: same answer as the
 * classifier's default scheduler, with no state.  A flow so decided is
 * marked (fb_marks), so that when its next packet reaches the classifier
 * it gets the Maglev table's answer again, whatever the scheduler.  A
 * mid-connection packet whose session the replica holds gets the
 * replica's backend instead, unmarked: the classifier looks the replica
 * up first too, so that its next packet gets the same. */
static void
fallback(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	 uint32_t s, uint32_t hash)
{
	const struct halb_mh_shm *mh = &fwd.shm->mh[s];
	uint32_t cur;
	uint16_t b;

	w->st->fallbacks++;
	w->svc_st[s].fallbacks++;
	if (replica_pick(w, pi, s, hash, &b)) {
		w->svc_st[s].fallback_replica++;
		forward(w, m, pi, s, b, hash);
		return;
	}
	cur = __atomic_load_n(&mh->cur, __ATOMIC_ACQUIRE);
	b = mh_lookup(mh->table[cur], mh->size, hash);
	if (pi->kind == PKT_KIND_FLOW)
		halb_fb_mark(w->ws->fb_marks, hash, w->now_ms);
	if (b == MH_EMPTY) {
		drop(w, m, FWD_DROP_NO_BACKEND);
		return;
	}
	forward(w, m, pi, s, b, hash);
}

static bool
syn_only(const struct pkt_info *pi)
{
	return pi->key.proto == IPPROTO_TCP &&
	       (pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN;
}

/*
 * The replica's backend for a mid-connection miss of service s (as the
 * classifier's cls_replica_pick): a record of this service whose slot
 * this turn's view holds live with the tag the record was written for
 * (a reload retires slots and gives them to others), whose backend is
 * not down with its service resetting such flows.  An opening SYN is a
 * new connection, never looked up.
 */
static bool
replica_pick(const struct fwd_worker *w, const struct pkt_info *pi,
	     uint32_t s, uint32_t hash, uint16_t *b)
{
	const struct halb_shm *shm = fwd.shm;
	const struct fwd_service *sv = &w->v->svc[s];
	const struct flow_entry *e;
	uint16_t be;

	if (!w->replica || pi->kind != PKT_KIND_FLOW || syn_only(pi))
		return false;
	e = flow_lookup(&shm->replica, &pi->key, hash);
	if (e == NULL || e->svc != s)
		return false;
	be = e->backend;
	if (be >= sv->n_backends || sv->be[be].tag == 0 || sv->be[be].tag != e->tag)
		return false;
	/* The classifier's health, when it is about this backend. */
	if (!sv->down_keep && shm->health_valid &&
	    shm->health[s][be].state == HALB_HEALTH_DOWN &&
	    halb_slot_tag(shm->health_id[s][be]) == e->tag)
		return false;
	*b = be;
	return true;
}

static void
track(struct flow_entry *e, const struct pkt_info *pi, uint32_t now_ms)
{
	uint8_t st = e->state, nst = st;

	if (pi->key.proto == IPPROTO_TCP) {
		if (pi->tcp_flags & (PKT_TCP_FIN | PKT_TCP_RST))
			nst = FLOW_ST_FIN;
		else if (st == FLOW_ST_SYN && !(pi->tcp_flags & PKT_TCP_SYN))
			nst = FLOW_ST_EST;
	}
	if (nst != st)
		__atomic_store_n(&e->state, nst, __ATOMIC_RELAXED);
	if (e->last_seen != now_ms)
		__atomic_store_n(&e->last_seen, now_ms, __ATOMIC_RELAXED);
}

/*
 * The flow of key `k` in this worker's table or, failing that, in the
 * other workers' tables.  A flow's packets from the client and its
 * replies or ICMP errors from the backend side come in on different
 * ports and queues (RSS spreads each direction by its own tuple), so the
 * entry is often in another worker's table.
 *
 * Reading another worker's table is safe for the same reason reading
 * our own is: every worker reports to the one QSBR variable in shared
 * memory, and the classifier reuses a removed entry only after a grace
 * period over all of them (rte_rcu_qsbr_check covers every registered
 * thread), so an entry found here stays valid until this worker's next
 * quiescent state, after the burst.  It is only read: the owner alone
 * writes an entry's state and last_seen, so nothing here calls track().
 */
static const struct flow_entry *
flow_find_any(const struct fwd_worker *w, const struct flow_key *k,
	      uint32_t hash)
{
	const struct flow_entry *e = flow_lookup(&w->ws->flows, k, hash);
	uint32_t i;

	for (i = 0; e == NULL && i < fwd.shm->n_workers; i++)
		if (i != w->id)
			e = flow_lookup(&fwd.shm->workers[i].flows, k, hash);
	return e;
}

/*
 * Whether a connection may exist that no table records: when the
 * classifier is gone, or a table is full, new connections are decided
 * by the stateless Maglev fallback and not installed.  Then a reply or
 * an ICMP error without a flow is checked against the Maglev decision
 * instead of being dropped.
 */
static bool
flows_unrecorded(const struct fwd_worker *w)
{
	uint32_t i;

	if (!w->cls_up)
		return true;
	for (i = 0; i < fwd.shm->n_workers; i++)
		if (fwd.shm->workers[i].table_full)
			return true;
	return false;
}

/*
 * Several appliances (docs/SESSIONS.md, "NAT behind several
 * appliances"): the router spreads the backends' replies over the
 * appliances by its own hash, so the reply of a connection that another
 * appliance decided comes here without a flow.  The peer's record of it
 * is in the replica (halb-sessiond writes it, the classifier reads it):
 * 1 when it names (s, b), 0 when it names another decision, -1 when
 * there is none.
 *
 * The worker is a reader of the replica's QSBR variable (thread 1 + its
 * id, fwd_worker_rcu), so an entry it found is not reused before its
 * next quiescent report; the key read again after the decision is a
 * second line (an entry of another key is never the answer).
 */
static int
replica_says(const struct flow_key *k, uint32_t hash, uint32_t s, uint16_t b)
{
	const struct flow_entry *e = flow_lookup(&fwd.shm->replica, k, hash);
	uint16_t svc, be;

	if (e == NULL)
		return -1;
	svc = __atomic_load_n(&e->svc, __ATOMIC_RELAXED);
	be = __atomic_load_n(&e->backend, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (!flow_key_eq(&e->key, k))
		return -1;
	return svc == s && be == b;
}

/*
 * A new connection's SYN-ACK that overtook its record: the appliance
 * that decided the SYN sent it to the backend at once, but its record
 * reaches this appliance's replica a millisecond or two later, after the
 * backend answered through here.  Only a SYN-ACK, and only from the
 * backend that this appliance's own Maglev table picks for the
 * connection (the same table as the deciding appliance's, when the
 * services are the same): the scheduler's decision is checked instead
 * of the record.  Anything else without a flow or a record is dropped;
 * a backend's later segments that overtake the record too are
 * retransmitted by it.
 */
static bool
synack_overtaking(const struct pkt_info *pi)
{
	return fwd.shm->has_sessions && pi->kind != PKT_KIND_ICMP_ERR &&
	       pi->key.proto == IPPROTO_TCP &&
	       (pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK | PKT_TCP_FIN | PKT_TCP_RST)) ==
		       (PKT_TCP_SYN | PKT_TCP_ACK);
}

/*
 * What a reply from backend b of NAT service s may be.  The frame
 * (a TCP/UDP packet, or an ICMP error quoting one; pi->key in the
 * direction backend:port -> client:port either way) is a reply only
 * to a connection that was balanced to that backend: the flow
 * client:port -> VIP:vport must be installed, naming (s, b).  Checking
 * the flow costs one hash and a lookup per table, which bounds the
 * rewrite to real connections: without it, anyone able to send from a
 * backend's address and port would get any packet, to any destination,
 * re-sourced from the VIP.  Flows decided by the fallback are not
 * installed (flows_unrecorded()): then the reply must go where Maglev
 * sends that connection, and not to one of the appliance's own
 * addresses.  With the session tracker, a connection that a peer
 * appliance decided is checked against its record in the replica
 * (replica_says), and a SYN-ACK that overtook the record against Maglev
 * (synack_overtaking).
 */
static bool
nat_reply_ok(const struct fwd_worker *w, const struct pkt_info *pi,
	     uint32_t s, uint16_t b)
{
	const struct fwd_service *sv = &w->v->svc[s];
	const struct flow_entry *e;
	struct flow_key k;
	struct halb_ip dst;
	uint32_t hash;

	memset(&k, 0, sizeof(k));
	memcpy(k.src, pi->key.dst, 16);
	memcpy(k.dst, sv->vip.b, 16);
	k.sport = pi->key.dport;
	/* A NAT service on all ports maps each port to itself. */
	k.dport = sv->vport != 0 ? htons(sv->vport) : pi->key.sport;
	k.proto = pi->key.proto;
	hash = pkt_flow_hash(&k);
	e = flow_find_any(w, &k, hash);
	if (e != NULL)
		return e->svc == s && e->backend == b;
	if (fwd.shm->has_sessions) {
		int r = replica_says(&k, hash, s, b);

		if (r >= 0)
			return r == 1;
	}
	if (!flows_unrecorded(w) && !synack_overtaking(pi))
		return false;
	memcpy(dst.b, pi->key.dst, 16);
	if (fwd_is_local(&fwd, &dst))
		return false;
	{
		const struct halb_mh_shm *mh = &fwd.shm->mh[s];
		uint32_t cur = __atomic_load_n(&mh->cur, __ATOMIC_ACQUIRE);

		return mh_lookup(mh->table[cur], mh->size, hash) == b;
	}
}

/* A backend's reply in NAT mode (or an ICMP error about one of its
 * connections): the source becomes the VIP again and the frame goes to
 * the client's next hop. */
static void nat_reply_send(struct fwd_worker *w, struct rte_mbuf *m,
			   const struct pkt_info *pi, int s, uint16_t b);

static void
nat_reply(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	  int s, uint16_t b)
{
	if (!nat_reply_ok(w, pi, (uint32_t)s, b)) {
		drop(w, m, FWD_DROP_REPLY_NO_FLOW);
		return;
	}
	nat_reply_send(w, m, pi, s, b);
}

/* The rewrite and transmission of a reply nat_reply_ok() accepted (or
 * that of a bound request-routed flow, l7_reply). */
static void
nat_reply_send(struct fwd_worker *w, struct rte_mbuf *m,
	       const struct pkt_info *pi, int s, uint16_t b)
{
	const struct fwd_service *sv = &w->v->svc[s];
	struct halb_ip dst, nh;
	uint8_t nh_mac[6];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	int port;

	memcpy(dst.b, pi->key.dst, 16);
	port = cfg_route(fwd.cfg, &dst, &nh);
	if (port < 0) {
		drop(w, m, FWD_DROP_NO_ROUTE);
		return;
	}
	if (!client_mac(w, &nh, port, nh_mac)) {
		drop(w, m, FWD_DROP_NO_NEIGH);
		return;
	}
	if (pkt_rw_nat_rev(frame, rte_pktmbuf_data_len(m), pi, &sv->vip,
			   sv->vport) != 0) {
		drop(w, m, FWD_DROP_OTHER);
		return;
	}
	pkt_rw_dsr(frame, fwd.ports[port].mac, nh_mac);
	if (pi->kind == PKT_KIND_ICMP_ERR)
		w->st->icmp_errors++;
	else
		w->st->nat_replies++;
	w->svc_st[s].pkts++;
	w->svc_st[s].bytes += rte_pktmbuf_pkt_len(m);
	w->be_st[s][b].pkts++;
	w->be_st[s][b].bytes += rte_pktmbuf_pkt_len(m);
	tx_one(w, (uint32_t)port, m);
}

/*
 * Request routing (docs/REQUESTS.md).  A service with requests { }
 * never reaches the classifier: its new connections are answered here
 * with a SYN cookie, the client's segments that carry a valid cookie go
 * to the request router (l7_in), which binds them to a backend by
 * replaying the handshake and installs the flow in shm->l7_flows with
 * the sequence delta (backend ISN - cookie) in the entry's tag.  The
 * worker translates a bound flow's segments: client -> backend, ack and
 * SACK blocks + delta; backend -> client, seq - delta.
 *
 * Several appliances (sessions { }; docs/REQUESTS.md, "Several
 * appliances"): a connection that a peer appliance bound has no flow
 * here, but its record in the replica says spliced, with the backend and
 * the delta (l7_replica).  Its client's segments are handed to the
 * router, which installs the flow here (HALB_L7_IN_ADOPT) and hands them
 * back (HALB_L7_OUT_AGAIN); its backend's segments are translated from
 * the record, without a flow (the record stays the peer's), as a plain
 * NAT reply of a peer's connection is (nat_reply_ok).
 */

/* Sends m, a frame from the VIP to client address dst (16 bytes), to
 * the client's next hop, as a NAT reply goes. */
static void
send_client(struct fwd_worker *w, struct rte_mbuf *m, const uint8_t dst16[16])
{
	struct halb_ip dst, nh;
	uint8_t nh_mac[6];
	int port;

	memcpy(dst.b, dst16, 16);
	port = cfg_route(fwd.cfg, &dst, &nh);
	if (port < 0) {
		drop(w, m, FWD_DROP_NO_ROUTE);
		return;
	}
	if (!client_mac(w, &nh, port, nh_mac)) {
		drop(w, m, FWD_DROP_NO_NEIGH);
		return;
	}
	pkt_rw_dsr(rte_pktmbuf_mtod(m, uint8_t *), fwd.ports[port].mac, nh_mac);
	tx_one(w, (uint32_t)port, m);
}

/* Replaces m's frame with the len bytes at buf. */
static void
mbuf_set(struct rte_mbuf *m, const uint8_t *buf, uint32_t len)
{
	rte_pktmbuf_reset_headroom(m);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), buf, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
}

/* m's frame replaced by seg, built whole, sent to its client (seg->dst)
 * and counted. */
static void
l7_answer(struct fwd_worker *w, struct rte_mbuf *m, const struct splice_seg *seg,
	  uint64_t *counter)
{
	uint8_t buf[SPLICE_HDR_MAX];
	uint32_t len = splice_build(buf, sizeof(buf), seg);

	if (len == 0 || len + RTE_PKTMBUF_HEADROOM > (uint32_t)m->buf_len) {
		drop(w, m, FWD_DROP_OTHER);
		return;
	}
	mbuf_set(m, buf, len);
	(*counter)++;
	send_client(w, m, seg->dst);
}

/*
 * A SYN to service s: answered with a SYN-ACK from the VIP whose
 * sequence number is the cookie (syncookie.h).  It offers the service's
 * MSS, its window scale when the client sent one (RFC 7323: else none),
 * SACK when the client offered it, no timestamps, and a window of
 * max_request bytes (at most 65535, unscaled in a SYN).  Nothing is
 * kept.
 */
static void
l7_syn(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
       const struct fwd_service *sv)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	struct syncookie_opts co, so;
	struct splice_seg seg;
	uint8_t opts[20];

	if (splice_opts_read(frame, pi, &co) != 0) {
		w->st->bad[PKT_ERR_L4]++;
		rte_pktmbuf_free(m);
		return;
	}
	so.mss = RTE_MIN(sv->l7_mss, co.mss);
	so.wscale = co.wscale == SYNCOOKIE_WS_NONE ? SYNCOOKIE_WS_NONE :
						    sv->l7_wscale;
	so.sack = co.sack;
	memset(&seg, 0, sizeof(seg));
	seg.family = pi->family;
	seg.src = pi->key.dst;
	seg.dst = pi->key.src;
	seg.sport = pi->key.dport;
	seg.dport = pi->key.sport;
	seg.seq = syncookie_make(fwd.shm->l7_key, &pi->key, w->now_ms, &co);
	seg.ack = splice_seq(frame, pi) + 1;
	seg.flags = SPLICE_SYN | SPLICE_ACK;
	seg.win = sv->l7_win;
	seg.opts = opts;
	seg.opts_len = splice_opts_syn(opts, &so);
	l7_answer(w, m, &seg, &w->st->l7_cookies);
}

static void
l7_punt(struct fwd_worker *w, struct rte_mbuf *m, uint32_t verb)
{
	m->hash.usr = verb;
	if (rte_ring_sp_enqueue_bulk(w->ws->l7_in, (void **)&m, 1,
				     &w->l7_in_free) == 0) {
		w->l7_in_free = 0;
		w->st->l7_ring_full++;
		rte_pktmbuf_free(m);
	}
}

/*
 * A peer's bound connection k of request-routed service s: its record in
 * the replica (a reader of replica_qsbr, as replica_pick) is spliced, of
 * this service, and names a backend slot that this turn's view holds live
 * with the tag the record was written for.  Gives its backend and its
 * sequence delta.  Whether the backend is up is the router's to judge
 * when it adopts the connection (its down_hold).
 */
static bool
l7_replica(const struct fwd_worker *w, const struct flow_key *k,
	   uint32_t hash, uint32_t s, uint16_t *b, uint32_t *delta)
{
	const struct flow_table *t = &fwd.shm->replica;
	const struct fwd_service *sv = &w->v->svc[s];
	const struct flow_entry *e;
	uint16_t be;

	if (!w->replica)
		return false;
	e = flow_lookup(t, k, hash);
	if (e == NULL || !(__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & SESS_R_SPLICED) ||
	    e->svc != s)
		return false;
	be = e->backend;
	if (be >= sv->n_backends || sv->be[be].tag == 0 || sv->be[be].tag != e->tag)
		return false;
	*b = be;
	*delta = flow_aux(t, e);
	return true;
}

/* A client segment of service s that no bound flow and no cookie of
 * ours explain: a peer's bound connection moved here, when the replica
 * says so (l7_replica), goes to the router to be adopted, with its
 * delta beside the verb (shm-t.h).  True when m was taken. */
static bool
l7_adopt(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	 uint32_t s)
{
	uint32_t delta;
	uint16_t b;

	if (!l7_replica(w, &pi->key, pkt_flow_hash(&pi->key), s, &b, &delta))
		return false;
	w->st->l7_adopt++;
	m->hash.fdir.hi = delta;
	l7_punt(w, m, HALB_L7_VERB(HALB_L7_IN_ADOPT, s, b));
	return true;
}

/*
 * A client segment with a valid cookie (cookie: its ack - 1) to the
 * router, within the punt bound (halb/punt_limit.h) while the ring is
 * under pressure: one connection (its cookie, a keyed hash of its tuple)
 * and one source address (IPv4 /32, IPv6 /64, by a keyed hash) cannot
 * take the ring from the others.  A router that keeps up costs nothing
 * here.
 */
static void
l7_punt_client(struct fwd_worker *w, struct rte_mbuf *m,
	       const struct pkt_info *pi, uint32_t s, uint32_t cookie,
	       uint32_t co)
{
	if (w->l7_in_free < HALB_RING_SIZE / 4 * 3) {
		uint8_t a[16];

		memcpy(a, pi->key.src, 16);
		if (pi->family == 6)
			memset(a + 8, 0, 8);
		if (!plim_take(&w->l7_lim, cookie,
			       (uint32_t)syncookie_siphash(fwd.shm->l7_key, a, 16),
			       w->now_ms)) {
			w->st->l7_punt_limited++;
			rte_pktmbuf_free(m);
			return;
		}
	}
	l7_punt(w, m, HALB_L7_VERB(HALB_L7_IN_CLIENT, s, co));
}

/*
 * The bound-flow table when pi is a TCP segment to a request-routed
 * service's VIP and port (fwd_view.l7), else NULL: such a segment's flow
 * is looked up there, not in the worker's own table, which holds none
 * of them (only the classifier writes it, and these services never
 * reach the classifier).  Other packets pay one bit test
 * (fwd_view.l7_filter) unless a hash of their destination collides.
 */
static inline const struct flow_table *
l7_table(const struct fwd_view *v, const struct pkt_info *pi)
{
	uint64_t d[2], a[2];
	uint32_t i;

	if (!(v->l7_filter & fwd_l7_bit(pi->key.dst, pi->key.dport)) ||
	    pi->key.proto != IPPROTO_TCP)
		return NULL;
	memcpy(d, pi->key.dst, 16);
	for (i = 0; i < v->n_l7; i++) {
		if (v->l7[i].port != pi->key.dport && v->l7[i].port != 0)
			continue;
		memcpy(a, v->l7[i].vip.b, 16);
		if (((a[0] ^ d[0]) | (a[1] ^ d[1])) == 0)
			return &fwd.shm->l7_flows;
	}
	return NULL;
}

/*
 * A client segment of a request-routed service (l7_table) and e, its
 * entry in the bound-flow table or NULL: a bound flow's is translated
 * (ack and SACK + delta) and forwarded; true when it was one (m is
 * then consumed).
 */
static bool
l7_bound(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	 uint32_t hash, struct flow_entry *e)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct syncookie_opts co;

	/* A closed flow's tuple reused by a new connection (the client's
	 * port came round again within tcp_fin_timeout): its SYN, and its
	 * segments whose ack is one of our cookies, are the new one's. */
	if (e != NULL && e->state == FLOW_ST_FIN && !syn_only(pi) &&
	    (pi->tcp_flags & PKT_TCP_ACK) &&
	    syncookie_check(fwd.shm->l7_key, &pi->key, w->now_ms,
			    splice_ack(frame, pi) - 1, &co) == SYNCOOKIE_OK)
		e = NULL;
	if (e == NULL || (e->state == FLOW_ST_FIN && syn_only(pi)))
		return false;
	w->st->l7_hits++;
	track(e, pi, w->now_ms);
	if (splice_seq_adjust(frame, pi, 0, e->tag) != 0) {
		w->st->bad[PKT_ERR_L4]++;
		rte_pktmbuf_free(m);
		return true;
	}
	forward(w, m, pi, e->svc, e->backend, hash);
	return true;
}

/*
 * A client segment after the router answered its request without
 * binding it (no_match "http-503": the answer and FIN at the cookie + 1;
 * pi's ack is past them, syncookie_check_past): the client's ACK of the
 * answer, its FIN, a request it pipelined.  Expected traffic of a closed
 * exchange, counted apart from forgeries.  No connection is left, so a
 * FIN or data is answered as RFC 9293 3.10.7.1 answers a segment for a
 * closed connection, <SEQ=SEG.ACK><CTL=RST> (it matches the client's
 * next expected number exactly: RFC 5961 takes it), so the client does
 * not retransmit its FIN until it gives up; a bare ACK needs no answer
 * (the client may not have read the answer yet), and a RST none ever.
 */
static void
l7_late(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	struct splice_seg seg;
	uint32_t plen;

	w->st->l7_late++;
	splice_payload(frame, pi, &plen);
	if ((pi->tcp_flags & PKT_TCP_RST) ||
	    (!(pi->tcp_flags & PKT_TCP_FIN) && plen == 0)) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(&seg, 0, sizeof(seg));
	seg.family = pi->family;
	seg.src = pi->key.dst;
	seg.dst = pi->key.src;
	seg.sport = pi->key.dport;
	seg.dport = pi->key.sport;
	seg.seq = splice_ack(frame, pi);
	seg.flags = SPLICE_RST;
	l7_answer(w, m, &seg, &w->st->l7_late_rst);
}

/* Whether an ack n past a valid cookie (syncookie_check_past) acks one
 * of the router's answers: its bytes, with or without its FIN. */
static inline bool
l7_late_ack(uint32_t n)
{
	return n == HALB_L7_ANSWER_503_LEN || n == HALB_L7_ANSWER_503_LEN + 1 ||
	       n == HALB_L7_ANSWER_ALERT_LEN || n == HALB_L7_ANSWER_ALERT_LEN + 1;
}

/*
 * A TCP segment to service s (a request-routed one) of no bound flow
 * (l7_bound said no): a SYN (the cookie), a segment of a connection
 * being bound (to the router, if its ack carries a valid cookie, within
 * the punt bound), a segment of an exchange the router closed (l7_late),
 * a peer's bound connection (the replica: l7_adopt), or nothing of ours
 * (counted, dropped).  A RST is checked as any segment is when it
 * carries an ACK (a client aborting mid-binding sends one: Linux's
 * active resets carry ACK); without ACK it cannot carry a cookie: unless
 * it resets a peer's bound connection (the replica), there is no
 * connection here for it to reset (a SYN-cookie listener drops it, as
 * Linux's does): dropped, counted.
 */
static void
l7_client(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	  uint32_t s)
{
	const struct fwd_service *sv = &w->v->svc[s];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct syncookie_opts co;
	uint32_t cookie, past;

	if (pi->key.proto != IPPROTO_TCP) {
		drop(w, m, FWD_DROP_NO_SERVICE);
		return;
	}
	if (!w->l7_up) {
		w->st->l7_router_down++;
		rte_pktmbuf_free(m);
		return;
	}
	if (syn_only(pi)) {
		l7_syn(w, m, pi, sv);
		return;
	}
	if ((pi->tcp_flags & (PKT_TCP_RST | PKT_TCP_ACK)) == PKT_TCP_RST) {
		/* A peer's bound connection's reset: its backend's to take. */
		if (l7_adopt(w, m, pi, s))
			return;
		w->st->l7_rst_no_ack++;
		rte_pktmbuf_free(m);
		return;
	}
	if (!(pi->tcp_flags & PKT_TCP_ACK) || (pi->tcp_flags & PKT_TCP_SYN)) {
		w->st->l7_cookie_forged++;
		rte_pktmbuf_free(m);
		return;
	}
	cookie = splice_ack(frame, pi) - 1;
	switch (syncookie_check_past(fwd.shm->l7_key, &pi->key, w->now_ms,
				     cookie, &co, &past)) {
	case SYNCOOKIE_OK:
		w->st->l7_cookie_ok++;
		l7_punt_client(w, m, pi, s, cookie,
			       HALB_L7_IN_CO | syncookie_opts_pack(&co));
		return;
	case SYNCOOKIE_PAST:
		/* A peer's connection first: its ack may decode as just
		 * past one of our cookies (another appliance's key), and
		 * a late answer's RST would end it. */
		if (l7_adopt(w, m, pi, s))
			return;
		if (l7_late_ack(past)) {
			l7_late(w, m, pi);
			return;
		}
		w->st->l7_cookie_forged++;
		break;
	case SYNCOOKIE_STALE:
		if (l7_adopt(w, m, pi, s))
			return;
		w->st->l7_cookie_stale++;
		break;
	default:
		if (l7_adopt(w, m, pi, s))
			return;
		w->st->l7_cookie_forged++;
		break;
	}
	rte_pktmbuf_free(m);
}

/* A backend's segment of a bound connection, translated to the client's
 * numbers (seq - delta), counted, sent as a NAT reply. */
static void
l7_reply_send(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	      uint32_t s, uint16_t b, uint32_t delta, uint64_t *counter)
{
	if (splice_seq_adjust(rte_pktmbuf_mtod(m, uint8_t *), pi, -delta, 0) != 0) {
		w->st->bad[PKT_ERR_L4]++;
		rte_pktmbuf_free(m);
		return;
	}
	(*counter)++;
	nat_reply_send(w, m, pi, (int)s, b);
}

/*
 * A segment from backend b of request-routed service s: a bound flow's
 * (seq - delta, then the NAT reply's rewrite), a peer's bound
 * connection's (with no flow here, its record in the replica naming b:
 * the same from the record's delta), or, with no flow, a segment of the
 * replayed handshake (SYN-ACK, RST), which the router takes; anything
 * else is dropped as a reply without a flow.  An ICMP error about such a
 * connection (from the backend's side: its quote is the client's, in
 * no need of translation) follows the flow or the record to the client.
 */
static void
l7_reply(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	 uint32_t s, uint16_t b)
{
	const struct fwd_service *sv = &w->v->svc[s];
	const struct flow_entry *e;
	struct flow_key k;
	uint32_t hash, delta;
	uint16_t rb;

	if (pi->key.proto != IPPROTO_TCP) {
		drop(w, m, pi->kind == PKT_KIND_ICMP_ERR ? FWD_DROP_ICMP_NO_FLOW :
							   FWD_DROP_REPLY_NO_FLOW);
		return;
	}
	splice_client_key(pi, sv->vip.b, sv->vport, &k);
	hash = pkt_flow_hash(&k);
	e = flow_lookup(&fwd.shm->l7_flows, &k, hash);
	/* A SYN-ACK on a closed flow's tuple answers a new binding's SYN. */
	if (pi->kind == PKT_KIND_ICMP_ERR) {
		/* From the backend's side, about a client's segment: its
		 * numbers are the client's, nothing to translate. */
		if ((e != NULL && e->svc == s && e->backend == b) ||
		    (e == NULL && l7_replica(w, &k, hash, s, &rb, &delta) && rb == b))
			nat_reply_send(w, m, pi, (int)s, b);
		else
			drop(w, m, FWD_DROP_ICMP_NO_FLOW);
		return;
	}
	if (e != NULL && e->svc == s && e->backend == b &&
	    !(e->state == FLOW_ST_FIN && (pi->tcp_flags & PKT_TCP_SYN))) {
		l7_reply_send(w, m, pi, s, b, e->tag, &w->st->l7_replies);
		return;
	}
	/* A peer's bound connection (no SYN: a SYN-ACK is a binding's). */
	if (e == NULL && !(pi->tcp_flags & PKT_TCP_SYN) &&
	    l7_replica(w, &k, hash, s, &rb, &delta) && rb == b) {
		l7_reply_send(w, m, pi, s, b, delta, &w->st->l7_replica_replies);
		return;
	}
	if ((pi->tcp_flags & PKT_TCP_RST) ||
	    (pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) ==
		    (PKT_TCP_SYN | PKT_TCP_ACK)) {
		if (!w->l7_up) {
			w->st->l7_router_down++;
			rte_pktmbuf_free(m);
			return;
		}
		w->st->l7_backend_in++;
		l7_punt(w, m, HALB_L7_VERB(HALB_L7_IN_BACKEND, s, b));
		return;
	}
	/* With peers to relay to (shm->l7_relay_out): a peer appliance may
	 * have just bound it (its record not here yet); the router relays
	 * it (router/relay.c), while its ring is at most a quarter full. */
	if (fwd.shm->l7_relay_out != NULL && w->l7_up &&
	    rte_ring_free_count(w->ws->l7_in) >= HALB_RING_SIZE / 4 * 3) {
		w->st->l7_backend_in++;
		l7_punt(w, m, HALB_L7_VERB(HALB_L7_IN_BACKEND, s, b));
		return;
	}
	drop(w, m, FWD_DROP_REPLY_NO_FLOW);
}

/* A segment of backend b of service s that a peer appliance relayed,
 * of a bound flow the router found here (HALB_L7_OUT_REPLY): translated
 * to the client as l7_reply translates a bound flow's; dropped if the
 * flow went meanwhile, never punted again. */
static void
l7_relayed(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	   uint32_t s, uint16_t b)
{
	const struct fwd_service *sv = &w->v->svc[s];
	const struct flow_entry *e;
	struct flow_key k;

	splice_client_key(pi, sv->vip.b, sv->vport, &k);
	e = flow_lookup(&fwd.shm->l7_flows, &k, pkt_flow_hash(&k));
	if (pi->kind != PKT_KIND_FLOW || pi->key.proto != IPPROTO_TCP ||
	    b >= sv->n_backends || e == NULL || e->svc != s || e->backend != b) {
		drop(w, m, FWD_DROP_REPLY_NO_FLOW);
		return;
	}
	l7_reply_send(w, m, pi, s, b, e->tag, &w->st->l7_replies);
}

/*
 * An ICMP error from the client's side about a request-routed
 * connection of service s (fragmentation needed, ...): it quotes a
 * segment the client got, whose sequence number is the client's view
 * (backend's - delta); the backend checks it against its own window
 * (Linux drops errors quoting a sequence number outside it), so it is
 * translated back (+ delta) before the error follows the flow (or a
 * peer's record of it: l7_replica) to its backend.  The quote's TCP
 * checksum is not checked by anyone; the ICMP checksum is recomputed by
 * the NAT rewrite.
 */
static void
l7_icmp(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	uint32_t s)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t hash = pkt_flow_hash(&pi->key), seq_off = pi->inner_l4_off + 4u;
	const struct flow_entry *e = NULL;
	uint32_t delta = 0;
	uint16_t svc = 0, be = 0;
	bool found = false;

	if (pi->key.proto == IPPROTO_TCP) {
		e = flow_lookup(&fwd.shm->l7_flows, &pi->key, hash);
		if (e != NULL) {
			found = true;
			svc = e->svc;
			be = e->backend;
			delta = e->tag;
		} else if (l7_replica(w, &pi->key, hash, s, &be, &delta)) {
			found = true;
			svc = (uint16_t)s;
		}
	}
	if (!found || seq_off + 4 > rte_pktmbuf_data_len(m)) {
		drop(w, m, FWD_DROP_ICMP_NO_FLOW);
		return;
	}
	{
		uint32_t v = (uint32_t)frame[seq_off] << 24 | (uint32_t)frame[seq_off + 1] << 16 |
			     (uint32_t)frame[seq_off + 2] << 8 | frame[seq_off + 3];

		v += delta;
		frame[seq_off] = (uint8_t)(v >> 24);
		frame[seq_off + 1] = (uint8_t)(v >> 16);
		frame[seq_off + 2] = (uint8_t)(v >> 8);
		frame[seq_off + 3] = (uint8_t)v;
	}
	w->st->icmp_errors++;
	forward(w, m, pi, svc, be, hash);
}

/* A frame the router built (l7_out): to a backend, or to a client; or
 * a client's segment it adopted the flow of (AGAIN), forwarded as a
 * bound flow's; or a backend's segment a peer relayed (REPLY), translated
 * to the client.  A backend's frame is not parsed: it is addressed to
 * the backend the verb names, whose next hop's Ethernet address is all
 * it needs. */
static void
l7_returned(struct fwd_worker *w, struct rte_mbuf *m)
{
	uint32_t verb = m->hash.usr, s = HALB_L7_SVC(verb), b = HALB_L7_BE(verb);
	const struct fwd_service *sv;
	const struct fwd_backend *be;
	struct pkt_info pi;
	uint8_t nh_mac[6];

	w->st->l7_out++;
	if (s >= CFG_MAX_SERVICES) {
		drop(w, m, FWD_DROP_OTHER);
		return;
	}
	if (HALB_L7_KIND(verb) != HALB_L7_OUT_BACKEND &&
	    pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
		      rte_pktmbuf_data_len(m), &pi) != PKT_OK) {
		drop(w, m, FWD_DROP_OTHER);
		return;
	}
	if (HALB_L7_KIND(verb) == HALB_L7_OUT_CLIENT) {
		send_client(w, m, pi.key.dst);
		return;
	}
	if (HALB_L7_KIND(verb) == HALB_L7_OUT_AGAIN) {
		uint32_t hash = pkt_flow_hash(&pi.key);

		/* The router installed its flow before it handed it back
		 * (ring order); gone again only if removed since. */
		if (!l7_bound(w, m, &pi, hash,
			      flow_lookup(&fwd.shm->l7_flows, &pi.key, hash)))
			drop(w, m, FWD_DROP_OTHER);
		return;
	}
	if (HALB_L7_KIND(verb) == HALB_L7_OUT_REPLY) {
		l7_relayed(w, m, &pi, s, b);
		return;
	}
	sv = &w->v->svc[s];
	if (b >= sv->n_backends || sv->be[b].neigh < 0) {
		drop(w, m, FWD_DROP_NO_BACKEND);
		return;
	}
	be = &sv->be[b];
	if (!neigh_mac(fwd.neigh, be->neigh, nh_mac)) {
		drop(w, m, FWD_DROP_NO_NEIGH);
		return;
	}
	pkt_rw_dsr(rte_pktmbuf_mtod(m, uint8_t *), fwd.ports[be->out].mac, nh_mac);
	tx_one(w, be->out, m);
}

/* Whether an ICMP error's outer destination is the host its quote was
 * sent from (pi->key.dst): an error about a connection goes to that
 * connection's end, and one addressed elsewhere is not about it. */
static bool
icmp_to_quoted_src(const uint8_t *frame, const struct pkt_info *pi)
{
	const uint8_t *ip = frame + pi->l3_off;

	if (pi->family == 4)
		return memcmp(ip + 16, pi->key.dst + 12, 4) == 0;
	return memcmp(ip + 24, pi->key.dst, 16) == 0;
}

/*
 * An ICMP error about a TCP/UDP packet (pi->key: the quoted packet
 * turned around, see pkt-t.h).
 *  - Client side, quoting VIP:vport -> client: the key is the flow's;
 *    the error follows the flow to its backend (path MTU discovery on
 *    every mode).
 *  - Backend side, quoting client -> NAT backend: translated back like
 *    a reply of that flow and sent to the client.
 * The flow is looked up in every worker's table; an error about a
 * connection that none holds is dropped (icmp_no_flow), unless the
 * fallback may have decided it without recording it.
 */
static void
icmp_error(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi)
{
	const struct flow_entry *e;
	uint32_t hash;
	uint16_t b;
	int s;

	s = svc_by_vip(&w->v->svcs, pi->key.dst, pi->key.dport, pi->key.proto);
	if (s >= 0 && w->v->svc[s].l7) {
		l7_icmp(w, m, pi, (uint32_t)s);
		return;
	}
	if (s >= 0) {
		hash = pkt_flow_hash(&pi->key);
		e = flow_find_any(w, &pi->key, hash);
		if (e != NULL) {
			w->st->icmp_errors++;
			forward(w, m, pi, e->svc, e->backend, hash);
		} else if (flows_unrecorded(w)) {
			w->st->icmp_errors++;
			fallback(w, m, pi, (uint32_t)s, hash);
		} else {
			drop(w, m, FWD_DROP_ICMP_NO_FLOW);
		}
		return;
	}
	s = svc_by_nat_backend(&w->v->svcs, pi->key.src, pi->key.sport,
			       pi->key.proto, &b);
	if (s < 0) {
		drop(w, m, FWD_DROP_NO_SERVICE);
		return;
	}
	if (!icmp_to_quoted_src(rte_pktmbuf_mtod(m, const uint8_t *), pi)) {
		drop(w, m, FWD_DROP_ICMP_NO_FLOW);
		return;
	}
	if (w->v->svc[s].l7)
		l7_reply(w, m, pi, (uint32_t)s, b);
	else
		nat_reply(w, m, pi, s, b);
}

/* ARP and ND (forwarder/local.c): answered in place or freed. */
static void
neigh_input(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	    uint32_t p)
{
	uint32_t len = rte_pktmbuf_data_len(m), out;

	out = fwd_neigh_input(w->st, rte_pktmbuf_mtod(m, uint8_t *), len,
			      rte_pktmbuf_tailroom(m) + len, pi, p, w->now_ms);
	if (out == 0) {
		/* Replies and advertisements: a copy for the kernel,
		 * which resolves its own next hops (kernel.c). */
		if (fwd.ports[p].has_kernel &&
		    fwd_neigh_for_kernel(rte_pktmbuf_mtod(m, const uint8_t *), len, pi))
			to_kernel(w, m, p);
		else
			rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)out;
	m->pkt_len = out;
	tx_one(w, p, m);
}

/* An echo request (forwarder/local.c): answered in place or dropped. */
static void
echo_input(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	   uint32_t p)
{
	enum fwd_drop why = FWD_DROP_OTHER;

	if (fwd_echo_input(w->st, &w->echo, rte_pktmbuf_mtod(m, uint8_t *),
			   rte_pktmbuf_data_len(m), pi, p, w->now_ms, &why) == 0) {
		if (why < FWD_DROP_MAX)
			drop(w, m, why);
		else
			rte_pktmbuf_free(m);
		return;
	}
	tx_one(w, p, m);
}

static void
punt(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
     int s, uint32_t hash)
{
	if (rte_ring_sp_enqueue(w->ws->punt, m) == 0) {
		w->st->punts++;
		return;
	}
	fallback(w, m, pi, (uint32_t)s, hash);
}

/*
 * First half of a received frame from port p: everything but the flow
 * lookup.  Returns true for a TCP/UDP packet (pi filled) that goes on to
 * input_flow(); otherwise the frame was answered, sent or dropped.
 */
static bool
input_parse(struct fwd_worker *w, struct rte_mbuf *m, uint32_t p,
	    struct pkt_info *pi)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	enum pkt_verdict v;

	if (unlikely(m->nb_segs > 1) && rte_pktmbuf_linearize(m) != 0) {
		w->st->bad[PKT_ERR_TRUNC]++;
		rte_pktmbuf_free(m);
		return false;
	}
	/* Unicast for another station (a bridge flooding): not ours. */
	if (!(frame[0] & 1) && memcmp(frame, fwd.ports[p].mac, 6) != 0) {
		drop(w, m, FWD_DROP_NOT_OURS);
		return false;
	}
	v = pkt_parse(frame, rte_pktmbuf_data_len(m), pi);
	if (unlikely(v != PKT_OK)) {
		w->st->bad[v]++;
		rte_pktmbuf_free(m);
		return false;
	}
	/* 802.1Q on the way in: the port's VLAN only (untagged or
	 * priority-tagged, VID 0, on a port without one). */
	if ((pi->has_vlan ? pi->vlan_tci & 0xfff : 0) != fwd.ports[p].cfg->vlan) {
		drop(w, m, FWD_DROP_VLAN);
		return false;
	}
	/* What comes in a link-layer broadcast or multicast frame is for
	 * the link, never forwarded (RFC 1122 3.3.6, RFC 1812 5.3.4); of
	 * those only ARP and ND are ours to take. */
	if (unlikely(frame[0] & 1) && pi->kind != PKT_KIND_ARP &&
	    pi->kind != PKT_KIND_ND) {
		drop(w, m, FWD_DROP_L2_MCAST);
		return false;
	}
	/* For the port's own address, and not what the forwarder answers
	 * itself (ARP, ND, echo): the kernel's (the exception path).  A
	 * port address is never a VIP (the configuration check), so no
	 * flow is looked up for it. */
	if (pi->kind != PKT_KIND_ARP && pi->kind != PKT_KIND_ND &&
	    fwd_for_kernel(frame, pi, p) &&
	    !(pi->kind == PKT_KIND_OTHER && pkt_icmp_is_echo(frame, pi))) {
		if (fwd_martian(frame, pi))
			drop(w, m, FWD_DROP_MARTIAN);
		else
			to_kernel(w, m, p);
		return false;
	}
	switch (pi->kind) {
	case PKT_KIND_FLOW:
		break;
	case PKT_KIND_ICMP_ERR:
		if (fwd_martian(frame, pi)) {
			drop(w, m, FWD_DROP_MARTIAN);
			return false;
		}
		icmp_error(w, m, pi);
		return false;
	case PKT_KIND_ARP:
	case PKT_KIND_ND:
		neigh_input(w, m, pi, p);
		return false;
	default:
		if (pkt_icmp_is_echo(frame, pi)) {
			echo_input(w, m, pi, p);
			return false;
		}
		drop(w, m, FWD_DROP_OTHER);
		return false;
	}
	if (pi->frag == PKT_FRAG_LATER) {
		drop(w, m, FWD_DROP_FRAGMENT);
		return false;
	}
	return true;
}

/*
 * The entry that the primary bucket of `hash` holds under the key's
 * signature (the first such), or NULL.  Called once the bucket itself is
 * on its way.  An entry read here stays valid until the loop's quiescent
 * state (QSBR), after the burst.
 */
static struct flow_entry *
candidate(const struct flow_table *t, uint32_t hash)
{
	const struct flow_bucket *bk = &t->buckets[flow_bucket1(t, hash)];
	uint16_t sig = flow_sig(hash);
	unsigned int i;

	for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
		uint64_t sl = __atomic_load_n(&bk->slot[i], __ATOMIC_ACQUIRE);

		if (sl != 0 && flow_slot_sig(sl) == sig)
			return &t->entries[flow_slot_idx(sl)];
	}
	return NULL;
}

/*
 * Second half: a TCP/UDP packet's flow lookup, starting with the
 * candidate entry (or NULL) that candidate() found, and what follows.
 * Inlined in both its callers (the burst loop, l7_input), so that a
 * plain hit pays no call (measured: 63 instructions a NAT hit when the
 * compiler kept it out of line).
 */
static __rte_always_inline void
input_flow(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	   uint32_t hash, struct flow_entry *e)
{
	int s;

	/* Hits first: only the classifier installs flows, and only to a
	 * VIP, so a hit needs no service lookup (the entry names its
	 * service); the lookup by VIP is for misses.  A candidate of
	 * another key (same signature) or none: the full lookup. */
	if (e == NULL || !flow_key_eq(&e->key, &pi->key))
		e = flow_lookup(&w->ws->flows, &pi->key, hash);
	/* A SYN on the 5-tuple of a closed connection opens a new one: the
	 * classifier decides it afresh, with today's health (a draining
	 * backend must not get it just because the tuple was reused). */
	if (e != NULL && !(e->state == FLOW_ST_FIN && syn_only(pi))) {
		w->st->hits++;
		track(e, pi, w->now_ms);
		forward(w, m, pi, e->svc, e->backend, hash);
		return;
	}
	/* Installed flows passed these checks with their first packet. */
	if (fwd_martian(rte_pktmbuf_mtod(m, const uint8_t *), pi)) {
		drop(w, m, FWD_DROP_MARTIAN);
		return;
	}
	if (fwd_src_routed(rte_pktmbuf_mtod(m, const uint8_t *), pi)) {
		drop(w, m, FWD_DROP_SRC_ROUTE);
		return;
	}
	s = svc_by_vip(&w->v->svcs, pi->key.dst, pi->key.dport, pi->key.proto);
	if (s < 0) {
		uint16_t b;

		s = svc_by_nat_backend(&w->v->svcs, pi->key.src, pi->key.sport,
				       pi->key.proto, &b);
		if (s >= 0 && w->v->svc[s].l7)
			l7_reply(w, m, pi, (uint32_t)s, b);
		else if (s >= 0)
			nat_reply(w, m, pi, s, b);
		else
			drop(w, m, FWD_DROP_NO_SERVICE);
		return;
	}
	if (w->v->svc[s].l7) {
		l7_client(w, m, pi, (uint32_t)s);
		return;
	}
	if (!w->cls_up || (w->ws->table_full && !syn_only(pi))) {
		/* Deciding here: a connection that another worker's table
		 * holds (its packets changed queue) keeps that backend. */
		const struct flow_entry *o =
			syn_only(pi) ? NULL : flow_find_any(w, &pi->key, hash);

		if (o != NULL)
			forward(w, m, pi, o->svc, o->backend, hash);
		else
			fallback(w, m, pi, (uint32_t)s, hash);
	} else {
		punt(w, m, pi, s, hash);
	}
}

/*
 * A TCP segment to a request-routed service (l7_table), with the
 * candidate entry that candidate() found in the bound-flow table: a
 * bound connection's is translated and forwarded without touching the
 * worker's own table (docs/REQUESTS.md, "Cost on the fast path"); the
 * others (a SYN, a cookie ACK, a segment of a connection being bound)
 * take input_flow()'s way to l7_client().
 */
static void
l7_input(struct fwd_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	 uint32_t hash, struct flow_entry *e)
{
	if (e == NULL || !flow_key_eq(&e->key, &pi->key))
		e = flow_lookup(&fwd.shm->l7_flows, &pi->key, hash);
	if (!l7_bound(w, m, pi, hash, e))
		input_flow(w, m, pi, hash, NULL);
}

/* Frames the classifier decided, back for transmission. */
static void
returned(struct fwd_worker *w, struct rte_mbuf *m)
{
	uint32_t d = m->hash.usr, hash;
	struct pkt_info pi;

	w->st->returned++;
	if (pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
		      rte_pktmbuf_data_len(m), &pi) != PKT_OK ||
	    HALB_RET_SVC(d) >= CFG_MAX_SERVICES) {
		drop(w, m, FWD_DROP_OTHER);
		return;
	}
	hash = pkt_flow_hash(&pi.key);
	/* Not installed (table full): marked like a fallback of ours. */
	if (d & HALB_RET_F_STATELESS)
		halb_fb_mark(w->ws->fb_marks, hash, w->now_ms);
	forward(w, m, &pi, HALB_RET_SVC(d), HALB_RET_BACKEND(d), hash);
}

/* neigh_tick()'s sender: an ARP request or a solicitation for e from
 * the port that reaches it, when that port has an address of e's family. */
static bool
neigh_send(void *arg, const struct neigh_ent *e)
{
	struct fwd_worker *w = arg;
	const struct fwd_port *p = &fwd.ports[e->port];
	bool v4 = halb_ip_is_v4(&e->ip);
	struct rte_mbuf *m;
	uint8_t *buf;
	uint32_t len;

	if (v4 ? !p->cfg->has_ip4 : !p->cfg->has_ip6)
		return false;
	m = rte_pktmbuf_alloc(fwd.shm->pool);
	if (m == NULL)
		return false;
	buf = rte_pktmbuf_mtod(m, uint8_t *);
	if (v4) {
		len = pkt_arp_request(buf, p->mac, &p->cfg->ip4, &e->ip);
		w->st->arp_out++;
	} else {
		len = pkt_nd_solicit(buf, p->mac, &p->cfg->ip6, &e->ip);
		w->st->nd_out++;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	tx_one(w, e->port, m);
	return true;
}

/*
 * Worker 0's neighbour round, every NEIGH_TICK_MS: requests within the
 * cache's budget, ageing, and the reuse of retired slots once every
 * worker has passed a quiescent state since they were retired (so none
 * still holds their index).
 */
static void
neigh_round(struct fwd_worker *w)
{
	struct rte_rcu_qsbr *q = fwd.shm->qsbr;

	if (w->neigh_retiring && rte_rcu_qsbr_check(q, w->neigh_token, false) == 1) {
		neigh_reclaim(fwd.neigh);
		w->neigh_retiring = false;
	}
	if (neigh_tick(fwd.neigh, w->now_ms, !w->neigh_retiring, neigh_send, w) > 0) {
		w->neigh_token = rte_rcu_qsbr_start(q);
		w->neigh_retiring = true;
	}
}

/* The classifier is gone: decide what it left in our punt ring. */
static void
drain_punts(struct fwd_worker *w)
{
	struct rte_mbuf *m;
	struct pkt_info pi;
	int s;

	while (rte_ring_mc_dequeue(w->ws->punt, (void **)&m) == 0) {
		if (pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
			      rte_pktmbuf_data_len(m), &pi) != PKT_OK ||
		    (s = svc_by_vip(&w->v->svcs, pi.key.dst, pi.key.dport,
				    pi.key.proto)) < 0) {
			drop(w, m, FWD_DROP_OTHER);
			continue;
		}
		fallback(w, m, &pi, (uint32_t)s, pkt_flow_hash(&pi.key));
	}
}

static struct fwd_worker workers[CFG_MAX_WORKERS];

struct fwd_worker *
fwd_worker_bind(uint32_t id)
{
	struct fwd_worker *w = &workers[id];

	w->id = id;
	w->queue = (uint16_t)id;
	w->ws = &fwd.shm->workers[id];
	w->st = &w->ws->stats;
	w->svc_st = fwd.shm->svc[id];
	w->be_st = fwd.shm->be[id].b;
	w->ws->lcore = rte_lcore_id();
	w->l7_in_free = HALB_RING_SIZE;
	fwd_view_load(w);
	fwd_worker_clock(w, rte_rdtsc());
	return w;
}

void
fwd_worker_clock(struct fwd_worker *w, uint64_t tsc)
{
	const struct halb_shm *shm = fwd.shm;

	w->now_tsc = tsc;
	w->now_ms = halb_now_ms(shm, tsc);
	w->l7_up = shm->has_l7 && shm->l7_pid != 0 &&
		   halb_tsc_age(tsc, shm->l7_alive) < fwd.cls_timeout_tsc;
}

uint32_t
fwd_worker_l7_out(struct fwd_worker *w)
{
	struct rte_mbuf *pkts[FWD_BURST];
	uint32_t i, n;

	n = rte_ring_sc_dequeue_burst(w->ws->l7_out, (void **)pkts, FWD_BURST,
				      NULL);
	for (i = 0; i < n; i++)
		l7_returned(w, pkts[i]);
	return n;
}

/*
 * In passes, so that the cache misses of large flow tables overlap
 * instead of following one another: parse every frame (prefetching the
 * next one) and hash its key; prefetch every flow's bucket; find the
 * entry each bucket points at; prefetch those; then compare keys and
 * act.  The prefetches go in loops of their own: on this machine a
 * prefetch that misses the TLB holds its place in the reorder buffer
 * until the page walk is done, so with a parse between two prefetches
 * only a few of them were in flight at once (bench/memfloor.c;
 * docs/PERFORMANCE.md, "10M flows").  Frames of one flow keep their
 * order.
 */
void
fwd_worker_burst(struct fwd_worker *w, struct rte_mbuf **pkts, uint32_t n,
		 uint32_t p)
{
	const struct flow_table *t = &w->ws->flows;
	const struct flow_table *l7t = &fwd.shm->l7_flows;
	struct pkt_info pi[FWD_BURST];
	struct rte_mbuf *flow[FWD_BURST];
	struct flow_entry *cand[FWD_BURST];
	uint32_t hash[FWD_BURST];
	uint32_t i, k = 0, l7m = 0;

	static_assert(FWD_BURST <= 32, "l7m has a bit per packet of a burst");
	RTE_ASSERT(n <= FWD_BURST);
	w->st->rx += n;
	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (!input_parse(w, pkts[i], p, &pi[k]))
			continue;
		hash[k] = pkt_flow_hash(&pi[k].key);
		flow[k++] = pkts[i];
	}
	/* Each packet's table: the worker's own, or the bound-flow table
	 * for a request-routed service's segments (l7m), both prefetched in
	 * the same passes: a bound connection's packet costs one lookup, as
	 * a plain hit does. */
	for (i = 0; i < k; i++) {
		if (l7_table(w->v, &pi[i]) != NULL) {
			l7m |= 1u << i;
			flow_prefetch(l7t, hash[i]);
		} else {
			flow_prefetch(t, hash[i]);
		}
	}
	/* Bursts without one keep the loops of a plain hit. */
	if (l7m == 0) {
		for (i = 0; i < k; i++)
			cand[i] = candidate(t, hash[i]);
	} else {
		for (i = 0; i < k; i++)
			cand[i] = candidate(l7m & (1u << i) ? l7t : t, hash[i]);
	}
	for (i = 0; i < k; i++)
		if (cand[i] != NULL)
			rte_prefetch0(cand[i]);
	if (l7m == 0) {
		for (i = 0; i < k; i++)
			input_flow(w, flow[i], &pi[i], hash[i], cand[i]);
		return;
	}
	for (i = 0; i < k; i++) {
		if (l7m & (1u << i))
			l7_input(w, flow[i], &pi[i], hash[i], cand[i]);
		else
			input_flow(w, flow[i], &pi[i], hash[i], cand[i]);
	}
}

void
fwd_worker_flush(struct fwd_worker *w)
{
	uint32_t p;

	for (p = 0; p < fwd.n_ports; p++) {
		tx_flush(w, p);
		if (w->n_ktx[p] != 0)
			kernel_flush(w, p);
	}
}

int
fwd_worker_rcu(uint32_t id)
{
	if (rte_rcu_qsbr_thread_register(fwd.shm->qsbr, id) != 0)
		return -rte_errno;
	/* The replica's readers: the classifier is thread 0. */
	if (fwd.shm->has_sessions &&
	    rte_rcu_qsbr_thread_register(fwd.shm->replica_qsbr, 1 + id) != 0)
		return -rte_errno;
	return 0;
}

/*
 * An empty turn of the loop.  A worker asleep holds no flow entry (its
 * quiescent state is reported before this), so it goes offline for the
 * sleep: the classifier's grace periods (the Maglev flips of a health
 * change, entry reuse) do not wait for its wake-up, which at
 * idle_sleep_us per worker and one grace period per change could hold
 * the classifier past classifier_timeout_ms.
 */
static void
idle_sleep(struct fwd_worker *w, uint32_t *idle)
{
	uint32_t us = halb_idle_sleep_us(idle, fwd.cfg->idle_sleep_us);

	if (us == 0) {
		rte_pause();
		return;
	}
	rte_rcu_qsbr_thread_offline(fwd.shm->qsbr, w->id);
	if (w->replica)
		rte_rcu_qsbr_thread_offline(fwd.shm->replica_qsbr, 1 + w->id);
	usleep(us);
	rte_rcu_qsbr_thread_online(fwd.shm->qsbr, w->id);
	if (w->replica)
		rte_rcu_qsbr_thread_online(fwd.shm->replica_qsbr, 1 + w->id);
}

int
fwd_worker_main(void *arg)
{
	struct fwd_worker *w = fwd_worker_bind((uint32_t)(uintptr_t)arg);
	struct rte_mbuf *pkts[FWD_BURST];
	struct halb_shm *shm = fwd.shm;
	uint32_t idle = 0, p, i, n, busy;

	/* Registered by the main lcore before the launch (fwd_worker_rcu);
	 * online cannot fail. */
	rte_rcu_qsbr_thread_online(shm->qsbr, w->id);
	w->replica = shm->has_sessions;
	if (w->replica)
		rte_rcu_qsbr_thread_online(shm->replica_qsbr, 1 + w->id);
	halb_idle_init();
	FWD_LOG(INFO, "worker %u on lcore %u", w->id, rte_lcore_id());

	while (!fwd.quit) {
		fwd_view_load(w);
		fwd_worker_clock(w, rte_rdtsc());
		{
			bool up = (shm->cls_pid != 0 &&
				   halb_tsc_age(w->now_tsc, shm->cls_alive) <
					   fwd.cls_timeout_tsc) ||
				  __atomic_load_n(&fwd.remote_up, __ATOMIC_ACQUIRE);

			if (w->cls_up && !up) {
				FWD_LOG(WARNING, "worker %u: classifier silent, deciding new flows locally",
					w->id);
				drain_punts(w);
			} else if (!w->cls_up && up) {
				FWD_LOG(INFO, "worker %u: classifier up", w->id);
			}
			w->cls_up = up;
		}
		busy = 0;
		for (p = 0; p < fwd.n_ports; p++) {
			n = rte_eth_rx_burst(fwd.ports[p].port_id, w->queue, pkts,
					     FWD_BURST);
			busy += n;
			fwd_worker_burst(w, pkts, n, p);
			if (!fwd.ports[p].has_kernel)
				continue;
			n = rte_eth_rx_burst(fwd.ports[p].kernel_id, w->queue,
					     pkts, FWD_BURST);
			busy += n;
			from_kernel(w, pkts, n, p);
		}
		n = rte_ring_sc_dequeue_burst(w->ws->ret, (void **)pkts, FWD_BURST,
					      NULL);
		busy += n;
		for (i = 0; i < n; i++)
			returned(w, pkts[i]);
		if (shm->has_l7)
			busy += fwd_worker_l7_out(w);
		if (w->id == 0 && w->now_ms - w->neigh_ms >= NEIGH_TICK_MS) {
			w->neigh_ms = w->now_ms;
			neigh_round(w);
		}
		fwd_worker_flush(w);
		rte_rcu_qsbr_quiescent(shm->qsbr, w->id);
		if (w->replica)
			rte_rcu_qsbr_quiescent(shm->replica_qsbr, 1 + w->id);
		__atomic_store_n(&w->ws->loops, w->ws->loops + 1, __ATOMIC_RELAXED);
		if (busy) {
			/* What a packet costs: loops that handled some. */
			w->st->busy_tsc += rte_rdtsc() - w->now_tsc;
			idle = 0;
		} else {
			idle_sleep(w, &idle);
		}
	}
	rte_rcu_qsbr_thread_offline(shm->qsbr, w->id);
	rte_rcu_qsbr_thread_unregister(shm->qsbr, w->id);
	if (w->replica) {
		rte_rcu_qsbr_thread_offline(shm->replica_qsbr, 1 + w->id);
		rte_rcu_qsbr_thread_unregister(shm->replica_qsbr, 1 + w->id);
	}
	return 0;
}
