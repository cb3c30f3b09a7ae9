/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session sync engine (session/sync.h, docs/SYNC-PROTOCOL.md): per
 * peer, a send side (a backlog of records, batches in flight, acks,
 * resends, dumps) and a receive side (batches delivered in order exactly
 * once, acks), and the liveness of the peer.  No socket, no clock, no
 * log: the daemon passes datagrams and the time in and gets datagrams,
 * records and peer states out through struct sync_ops.
 *
 * Send side of a peer.  The backlog is a ring of records (and of dump
 * markers, which take no room of backlog_max); sync_tick() takes records
 * from its head into batches of at most max_datagram sealed, while fewer
 * than `window` batches are unacknowledged.  A batch in flight keeps its
 * payload (not its envelope: a resend is sealed again with a new
 * envelope seq, which the receiver's replay check wants) in a ring of
 * `window` slots indexed by its seq.  An ack frees every batch up to its
 * cum and those above that are not among its holes; a hole that was sent
 * before the highest batch that arrived is resent at once, the rest
 * after resend_ms.
 *
 * Receive side.  rx_cum is the last batch delivered; a batch at
 * rx_cum + 1 is delivered with every held one that follows; one further
 * ahead (at most SYNC_WINDOW_MAX, whatever this engine's own window) is
 * held, decoded, in a ring of that many slots; one at or below rx_cum is
 * a duplicate.  Each is acknowledged:
 * at once when a quarter of a window waits or a hole appears, otherwise
 * on the next tick.
 *
 * Memory is fixed at sync_new(): per peer, (backlog_max + markers)
 * records, window payloads of max_datagram, SYNC_WINDOW_MAX slots for
 * held batches; what they hold (decoded messages, freed when delivered)
 * is bounded by the sender's window.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "halb/seal.h"
#include "halb/sync_msg.h"
#include "sync.h"

static_assert(SEAL_REJ__COUNT <= SYNC_REJ_SLOTS, "a counter per reason");
static_assert(SYNC_WINDOW_MAX <= SYNC_ACK_HOLES_MAX, "holes of a window fit an ack");

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define MARK_SLOTS 8u             /* backlog room kept for dump markers */
/* A marker in the backlog: op 0, state says which. */
#define MARK_START 1u
#define MARK_END 2u
/* Envelope bytes around a payload, at most: version 2, sender 2 + name,
 * key id 6, seq 11, timestamp 11, type 2, payload 3 + len, hmac 34. */
#define ENV_OVERHEAD(namelen) (71u + (namelen))
/* A batch's fields before its sessions: boot, peer_boot, seq (11 each),
 * flags (2). */
#define BATCH_HDR_MAX 35u
/* Batches a receiver holds ahead of its next: the largest window any
 * sender may have, so that peers configured with different windows
 * still work (the slots are pointers; what they hold is bounded by the
 * sender's window). */
#define RX_SLOTS SYNC_WINDOW_MAX

struct tx_batch {
	uint64_t seq;             /* 0: slot free */
	uint64_t last_sent_ns;
	uint64_t order;           /* the peer's send counter at its last send */
	uint8_t *payload;
	uint32_t len;
	uint32_t n_recs;
	bool acked;
};

struct peer {
	char name[SEAL_NAME_MAX + 1];
	struct seal_key key;
	uint64_t boot;            /* the peer's boot id, 0 not yet heard */
	uint64_t last_sent_ns;    /* anything sent to it */
	uint64_t last_hello_ns;
	uint64_t order;           /* datagrams sent to it */

	/* send side */
	struct sess_rec *bl;      /* backlog ring */
	uint32_t bl_head, bl_n;   /* entries (records and markers) */
	uint32_t bl_recs;         /* records only: what backlog_max bounds */
	struct tx_batch *fl;      /* in flight, fl[seq % window] */
	uint64_t fl_base;         /* lowest seq not yet acked */
	uint64_t next_seq;        /* of the next batch */
	bool dumping;             /* ops->dump called, sync_dump_done not yet */
	bool need_resync;         /* records were dropped: dump once caught up */
	uint64_t req_served;      /* id of the last dump request served */

	/* receive side */
	uint64_t rx_cum, rx_highest;
	Halb__Sync__Batch **held; /* held[seq % RX_SLOTS] */
	uint32_t rx_unacked;      /* batches arrived since the last ack */
	bool ack_due;

	/* our dump request to it */
	uint64_t req_id;
	bool req_pending;
	uint64_t req_sent_ns;

	struct sync_peer_stats st;
};

struct sync {
	struct sync_conf conf;
	struct sync_ops ops;
	void *arg;
	uint64_t boot;
	uint64_t now_ns;          /* the latest time passed in */
	uint64_t env_seq;         /* envelope seq, all peers */
	uint32_t payload_max;     /* batch payload bytes that fit a datagram */
	uint32_t bl_cap;          /* backlog_max + MARK_SLOTS */
	struct seal_keyring *keys;
	struct seal_replay *replay;
	uint8_t *dgram;           /* a sealed datagram being sent */
	uint8_t *recs;            /* the sessions of a batch being built */
	uint64_t relay_tokens;    /* sync_relay()'s bucket, segments x 1e9 */
	uint64_t relay_ns;        /* when it was last filled */
	struct peer peers[SYNC_MAX_PEERS];
	struct sync_stats st;
};

/* ---- small things ---- */

static uint64_t
since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static uint64_t
ms_ns(uint32_t ms)
{
	return (uint64_t)ms * NS_PER_MS;
}

/* Envelope seq: strictly increasing, at least the clock in Unix us (as
 * halb_next_seq() does, on the time passed in). */
static uint64_t
next_env_seq(struct sync *s)
{
	uint64_t us = s->now_ns / 1000u;

	s->env_seq = us > s->env_seq ? us : s->env_seq + 1;
	return s->env_seq;
}

/* Seals a payload of type t for peer p and sends it. */
static int
send_to(struct sync *s, unsigned int p, enum sync_type t,
	const uint8_t *payload, size_t plen)
{
	struct peer *pe = &s->peers[p];
	int n, rc;

	n = sync_seal_raw(s->dgram, s->conf.max_datagram, &pe->key,
			  s->conf.name, next_env_seq(s), s->now_ns / NS_PER_MS,
			  t, payload, plen);
	if (n < 0) {
		/* Sized so that it never happens; counted if it does. */
		pe->st.send_errors++;
		return n;
	}
	pe->last_sent_ns = s->now_ns;
	pe->order++;
	rc = s->ops.send(s->arg, p, s->dgram, (size_t)n);
	if (rc < 0)
		pe->st.send_errors++;
	return rc;
}

/* Packs a small message m (not a batch) and sends it. */
static int
send_msg(struct sync *s, unsigned int p, enum sync_type t,
	 const ProtobufCMessage *m)
{
	uint8_t buf[SEAL_MAX_DATAGRAM];
	size_t n = protobuf_c_message_get_packed_size(m);

	if (n > sizeof(buf))
		return -EMSGSIZE;
	protobuf_c_message_pack(m, buf);
	return send_to(s, p, t, buf, n);
}

static void
send_hello(struct sync *s, unsigned int p)
{
	Halb__Sync__Hello h;

	halb__sync__hello__init(&h);
	h.boot = s->boot;
	h.peer_boot = s->peers[p].boot;
	s->peers[p].last_hello_ns = s->now_ns;
	(void)send_msg(s, p, SYNC_T_HELLO, &h.base);
}

static void
send_dump_request(struct sync *s, unsigned int p)
{
	struct peer *pe = &s->peers[p];
	Halb__Sync__DumpRequest d;

	halb__sync__dump_request__init(&d);
	d.boot = s->boot;
	d.peer_boot = pe->boot;
	d.id = pe->req_id;
	pe->req_sent_ns = s->now_ns;
	(void)send_msg(s, p, SYNC_T_DUMP_REQUEST, &d.base);
}

static void
send_ack(struct sync *s, unsigned int p)
{
	struct peer *pe = &s->peers[p];
	uint32_t holes[RX_SLOTS];
	Halb__Sync__Ack a;
	uint64_t q;

	halb__sync__ack__init(&a);
	a.boot = s->boot;
	a.peer_boot = pe->boot;
	a.cum = pe->rx_cum;
	a.highest = pe->rx_highest > pe->rx_cum ? pe->rx_highest : pe->rx_cum;
	a.holes = holes;
	for (q = a.cum + 1; q < a.highest; q++)
		if (pe->held[q % RX_SLOTS] == NULL)
			holes[a.n_holes++] = (uint32_t)(q - a.cum);
	pe->ack_due = false;
	pe->rx_unacked = 0;
	pe->st.acks_sent++;
	(void)send_msg(s, p, SYNC_T_ACK, &a.base);
}

static void
set_alive(struct sync *s, unsigned int p, bool alive)
{
	struct peer *pe = &s->peers[p];

	pe->st.alive = alive;
	if (!alive) {
		pe->st.synced = false;
		pe->st.dead++;
	}
	if (s->ops.peer_state != NULL)
		s->ops.peer_state(s->arg, p, alive, pe->st.synced);
}

static void
set_synced(struct sync *s, unsigned int p, bool synced)
{
	struct peer *pe = &s->peers[p];

	pe->st.synced = synced;
	if (s->ops.peer_state != NULL)
		s->ops.peer_state(s->arg, p, pe->st.alive, synced);
}

/* ---- the backlog ---- */

static struct sess_rec *
bl_at(const struct sync *s, const struct peer *pe, uint32_t i)
{
	return &pe->bl[(pe->bl_head + i) % s->bl_cap];
}

static void
bl_pop(const struct sync *s, struct peer *pe)
{
	if (pe->bl[pe->bl_head].op != 0)
		pe->bl_recs--;
	pe->bl_head = (pe->bl_head + 1) % s->bl_cap;
	pe->bl_n--;
	pe->st.backlog = pe->bl_recs;
}

static void
bl_clear(struct peer *pe)
{
	pe->bl_head = pe->bl_n = pe->bl_recs = 0;
	pe->st.backlog = 0;
}

/* A dump marker; markers have MARK_SLOTS of room beyond backlog_max. */
static void
bl_mark(struct sync *s, struct peer *pe, uint8_t what)
{
	struct sess_rec *r;

	if (pe->bl_n == s->bl_cap) {
		/* Only a storm of restarted dumps gets here: that dump is
		 * broken, so another one follows. */
		pe->need_resync = true;
		return;
	}
	r = bl_at(s, pe, pe->bl_n);
	memset(r, 0, sizeof(*r));
	r->state = what;
	pe->bl_n++;
}

static int
bl_push(struct sync *s, struct peer *pe, const struct sess_rec *r)
{
	if (pe->bl_recs >= s->conf.backlog_max || pe->bl_n == s->bl_cap) {
		pe->st.backlog_dropped++;
		pe->need_resync = true;
		return -ENOBUFS;
	}
	*bl_at(s, pe, pe->bl_n) = *r;
	pe->bl_n++;
	pe->bl_recs++;
	pe->st.backlog = pe->bl_recs;
	return 0;
}

/* ---- dumps ---- */

/* Starts (or starts over) a dump of our sessions to p. */
static void
start_dump(struct sync *s, unsigned int p)
{
	struct peer *pe = &s->peers[p];

	pe->dumping = true;
	pe->need_resync = false;
	bl_mark(s, pe, MARK_START);
	s->ops.dump(s->arg, p);
}

void
sync_dump_done(struct sync *s, unsigned int p)
{
	struct peer *pe;

	if (s == NULL || p >= s->conf.n_peers || !s->peers[p].dumping)
		return;
	pe = &s->peers[p];
	bl_mark(s, pe, MARK_END);
	pe->dumping = false;
	pe->st.dumps_sent++;
}

void
sync_request_dump(struct sync *s, int p)
{
	unsigned int i;

	if (s == NULL || p >= (int)s->conf.n_peers)
		return;
	for (i = 0; i < s->conf.n_peers; i++) {
		struct peer *pe = &s->peers[i];

		if (p >= 0 && (unsigned int)p != i)
			continue;
		pe->req_id++;
		pe->req_pending = true;
		pe->req_sent_ns = 0;  /* on the next tick */
	}
}

/* ---- the pair starts afresh ---- */

static void
rx_reset(struct peer *pe)
{
	uint32_t i;

	for (i = 0; i < RX_SLOTS; i++) {
		if (pe->held[i] != NULL) {
			protobuf_c_message_free_unpacked(&pe->held[i]->base,
							 NULL);
			pe->held[i] = NULL;
		}
	}
	pe->rx_cum = pe->rx_highest = 0;
	pe->rx_unacked = 0;
	pe->ack_due = false;
}

static void
tx_reset(struct sync *s, struct peer *pe)
{
	uint32_t i;

	for (i = 0; i < s->conf.window; i++)
		pe->fl[i].seq = 0;
	pe->fl_base = pe->next_seq = 1;
	pe->st.in_flight = 0;
	bl_clear(pe);
	pe->dumping = false;
	pe->need_resync = false;
	pe->req_served = 0;
	pe->req_pending = false;
}

/* Peer p speaks with a boot id we did not know it by. */
static void
new_boot(struct sync *s, unsigned int p, uint64_t boot)
{
	struct peer *pe = &s->peers[p];

	pe->boot = boot;
	pe->st.boot = boot;
	pe->st.boots++;
	rx_reset(pe);
	tx_reset(s, pe);
	pe->st.synced = false;
	pe->st.alive = true;
	if (s->ops.peer_state != NULL)
		s->ops.peer_state(s->arg, p, true, false);
	start_dump(s, p);
}

/* ---- the send side ---- */

static struct tx_batch *
fl_slot(const struct sync *s, const struct peer *pe, uint64_t seq)
{
	return &pe->fl[seq % s->conf.window];
}

static void
send_batch(struct sync *s, unsigned int p, struct tx_batch *b)
{
	b->last_sent_ns = s->now_ns;
	(void)send_to(s, p, SYNC_T_BATCH, b->payload, b->len);
	b->order = s->peers[p].order;
}

/*
 * Builds the next batch from the head of p's backlog: records while they
 * fit, a start marker only at the start of a batch, an end marker ends
 * it.  Returns false when the backlog had nothing to send.
 */
static bool
build_batch(struct sync *s, unsigned int p)
{
	struct peer *pe = &s->peers[p];
	uint32_t budget = s->payload_max - BATCH_HDR_MAX;
	struct tx_batch *b = fl_slot(s, pe, pe->next_seq);
	uint8_t *q = s->recs, *end = s->recs + budget;
	uint32_t flags = 0, n = 0;
	Halb__Sync__Batch hdr;
	size_t hlen;

	while (pe->bl_n > 0 && n < SYNC_BATCH_RECS_MAX) {
		const struct sess_rec *r = bl_at(s, pe, 0);
		int len;

		if (r->op == 0) {
			if (r->state == MARK_START) {
				if (n > 0)
					break;
				flags |= SYNC_F_DUMP_START;
				bl_pop(s, pe);
				continue;
			}
			flags |= SYNC_F_DUMP_END;
			bl_pop(s, pe);
			break;
		}
		/* Packed in place past the tag and length; s->recs has
		 * room for one more than the budget. */
		len = sync_rec_pack(r, q + 2);
		if (len < 0) {
			/* sync_queue*() refuse these: never here. */
			bl_pop(s, pe);
			continue;
		}
		if (q + sync_batch_rec_cost((size_t)len) > end)
			break;
		q = sync_batch_append(q, q + 2, (size_t)len);
		n++;
		bl_pop(s, pe);
	}
	if (n == 0 && flags == 0)
		return false;

	halb__sync__batch__init(&hdr);
	hdr.boot = s->boot;
	hdr.peer_boot = pe->boot;
	hdr.seq = pe->next_seq;
	hdr.flags = flags;
	hlen = halb__sync__batch__get_packed_size(&hdr);
	halb__sync__batch__pack(&hdr, b->payload);
	memcpy(b->payload + hlen, s->recs, (size_t)(q - s->recs));
	b->len = (uint32_t)(hlen + (size_t)(q - s->recs));
	b->seq = pe->next_seq++;
	b->n_recs = n;
	b->acked = false;
	pe->st.in_flight = (uint32_t)(pe->next_seq - pe->fl_base);
	pe->st.batches_sent++;
	pe->st.records_sent += n;
	send_batch(s, p, b);
	return true;
}

/* Frees the acked batches at the bottom of the window. */
static void
fl_advance(struct sync *s, struct peer *pe)
{
	while (pe->fl_base < pe->next_seq) {
		struct tx_batch *b = fl_slot(s, pe, pe->fl_base);

		if (!b->acked)
			break;
		b->seq = 0;
		pe->fl_base++;
	}
	pe->st.in_flight = (uint32_t)(pe->next_seq - pe->fl_base);
}

static void
ack_in(struct sync *s, unsigned int p, const Halb__Sync__Ack *a)
{
	struct peer *pe = &s->peers[p];
	const struct tx_batch *top;
	uint64_t q;
	size_t h = 0;

	/* Acks of batches never sent (or of a previous pairing) are
	 * nobody's that we know. */
	if (a->highest >= pe->next_seq) {
		s->st.rx_malformed++;
		return;
	}
	pe->st.acks_rcvd++;
	for (q = pe->fl_base; q <= a->cum; q++)
		fl_slot(s, pe, q)->acked = true;
	top = a->highest > a->cum && a->highest >= pe->fl_base ?
	      fl_slot(s, pe, a->highest) : NULL;
	/* From the bottom of the window only: what is below is freed, and
	 * highest < next_seq <= fl_base + window bounds the loop. */
	for (q = a->cum + 1 > pe->fl_base ? a->cum + 1 : pe->fl_base;
	     q <= a->highest; q++) {
		struct tx_batch *b;

		while (h < a->n_holes && a->cum + a->holes[h] < q)
			h++;
		if (h < a->n_holes && a->cum + a->holes[h] == q) {
			h++;
			b = fl_slot(s, pe, q);
			/* Sent before a batch that arrived: lost. */
			if (!b->acked && top != NULL && b->order < top->order) {
				pe->st.batches_resent++;
				send_batch(s, p, b);
			}
			continue;
		}
		fl_slot(s, pe, q)->acked = true;
	}
	fl_advance(s, pe);
}

/* Resends, new batches, a resync, our dump request: for a live peer. */
static void
tx_tick(struct sync *s, unsigned int p)
{
	struct peer *pe = &s->peers[p];
	uint64_t q;

	for (q = pe->fl_base; q < pe->next_seq; q++) {
		struct tx_batch *b = fl_slot(s, pe, q);

		if (!b->acked &&
		    since(s->now_ns, b->last_sent_ns) >= ms_ns(s->conf.resend_ms)) {
			pe->st.batches_resent++;
			send_batch(s, p, b);
		}
	}
	while (pe->next_seq - pe->fl_base < s->conf.window &&
	       build_batch(s, p))
		;
	/* Caught up after dropping records: a full dump heals the loss. */
	if (pe->need_resync && !pe->dumping && pe->bl_n == 0)
		start_dump(s, p);
	if (pe->req_pending &&
	    (pe->req_sent_ns == 0 ||
	     since(s->now_ns, pe->req_sent_ns) >= ms_ns(s->conf.resend_ms)))
		send_dump_request(s, p);
}

/* ---- the receive side ---- */

static void
deliver(struct sync *s, unsigned int p, const Halb__Sync__Batch *b)
{
	struct peer *pe = &s->peers[p];
	struct sess_rec r;
	size_t i;

	if (b->flags & SYNC_F_DUMP_START) {
		/* Whatever asked for it, a dump answers our request. */
		pe->req_pending = false;
		set_synced(s, p, false);
	}
	for (i = 0; i < b->n_sessions; i++) {
		if (sync_rec_from_pb(b->sessions[i], &r) == 0)
			s->ops.deliver(s->arg, p, &r);
	}
	pe->st.records_rcvd += b->n_sessions;
	if (b->flags & SYNC_F_DUMP_END) {
		/* A dump that began before our request reached p (p then
		 * ignored it) answers it too: live records follow a dump. */
		pe->req_pending = false;
		pe->st.dumps_rcvd++;
		set_synced(s, p, true);
	}
}

/* Takes the batch in o (its message is kept or freed here). */
static void
batch_in(struct sync *s, unsigned int p, struct sync_opened *o)
{
	struct peer *pe = &s->peers[p];
	Halb__Sync__Batch *b = o->batch;
	uint32_t w = s->conf.window;
	bool gap = false;

	if (b->seq <= pe->rx_cum) {
		pe->st.dup_batches++;
		pe->ack_due = true;
		goto done;
	}
	if (b->seq > pe->rx_cum + RX_SLOTS) {
		s->st.rx_malformed++;
		goto done;
	}
	pe->st.batches_rcvd++;
	pe->rx_unacked++;
	pe->ack_due = true;
	/* It skips batches that never came: a new hole.  (The batches
	 * that follow it in order add none.) */
	gap = b->seq > (pe->rx_highest > pe->rx_cum ? pe->rx_highest :
			pe->rx_cum) + 1;
	if (b->seq > pe->rx_highest)
		pe->rx_highest = b->seq;
	if (b->seq != pe->rx_cum + 1) {
		Halb__Sync__Batch **slot = &pe->held[b->seq % RX_SLOTS];

		if (*slot != NULL) {
			pe->st.dup_batches++;
			goto done;
		}
		*slot = b;
		o->msg = NULL;
		pe->st.ooo_batches++;
		goto done;
	}
	deliver(s, p, b);
	pe->rx_cum++;
	/* What was held behind it. */
	for (;;) {
		Halb__Sync__Batch **slot = &pe->held[(pe->rx_cum + 1) % RX_SLOTS];

		if (*slot == NULL)
			break;
		deliver(s, p, *slot);
		protobuf_c_message_free_unpacked(&(*slot)->base, NULL);
		*slot = NULL;
		pe->rx_cum++;
	}
done:
	/* A new hole tells the sender at once; otherwise every quarter of
	 * a window, or the next tick. */
	if (gap || pe->rx_unacked >= (w + 3) / 4)
		send_ack(s, p);
}

/* A Relay (its rules checked by sync_open()): to the daemon. */
static void
relay_in(struct sync *s, unsigned int p, const Halb__Sync__Relay *r)
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					       0xff, 0xff };
	uint8_t vip[16];

	s->st.relay_rcvd++;
	s->peers[p].st.relays_rcvd++;
	if (s->ops.relay == NULL)
		return;
	if (r->vip.len == 4) {
		memcpy(vip, v4_mapped, sizeof(v4_mapped));
		memcpy(vip + 12, r->vip.data, 4);
	} else {
		memcpy(vip, r->vip.data, 16);
	}
	s->ops.relay(s->arg, p, vip, (uint16_t)r->vip_port, r->segment.data,
		     r->segment.len);
}

static int
find_peer(const struct sync *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->conf.n_peers; i++)
		if (strcmp(s->peers[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The two boot ids every message starts with. */
static void
msg_boots(const struct sync_opened *o, uint64_t *boot, uint64_t *peer_boot)
{
	switch (o->type) {
	case SYNC_T_BATCH:
		*boot = o->batch->boot;
		*peer_boot = o->batch->peer_boot;
		break;
	case SYNC_T_ACK:
		*boot = o->ack->boot;
		*peer_boot = o->ack->peer_boot;
		break;
	case SYNC_T_DUMP_REQUEST:
		*boot = o->dump_request->boot;
		*peer_boot = o->dump_request->peer_boot;
		break;
	case SYNC_T_RELAY:
		*boot = o->relay->boot;
		*peer_boot = o->relay->peer_boot;
		break;
	case SYNC_T_HELLO:
	default:
		*boot = o->hello->boot;
		*peer_boot = o->hello->peer_boot;
		break;
	}
}

void
sync_input(struct sync *s, const void *buf, size_t len,
	   const struct sockaddr *from, socklen_t from_len, uint64_t now_ns)
{
	uint64_t boot, peer_boot;
	struct sync_opened o;
	struct peer *pe;
	int rc, p;

	/* The peer is who holds its key, wherever it sends from. */
	(void)from;
	(void)from_len;
	s->now_ns = now_ns;
	s->st.rx_datagrams++;
	rc = sync_open(buf, len, s->keys, s->replay, now_ns / NS_PER_MS, &o);
	if (rc < 0) {
		s->st.rx_refused++;
		s->st.rx_reject[-rc < SYNC_REJ_SLOTS ? -rc : 0]++;
		return;
	}
	p = find_peer(s, o.sender);
	if (p < 0) {
		/* The keyring holds only the peers: not reached. */
		s->st.rx_refused++;
		s->st.rx_reject[SEAL_REJ_UNKNOWN_SENDER]++;
		goto out;
	}
	pe = &s->peers[p];
	msg_boots(&o, &boot, &peer_boot);

	/* Boot ids go forward (by default the Unix time in ns at start):
	 * one below the live peer's is an earlier life's, a replayed or
	 * forged message, and does not reset the pair.  Once the peer is
	 * dead (silent dead_ms), a lower one is taken: a restart with its
	 * clock set back. */
	if (boot < pe->boot && pe->st.alive) {
		s->st.rx_old_boot++;
		goto out;
	}
	pe->st.last_heard_ns = now_ns;
	if (boot != pe->boot) {
		new_boot(s, (unsigned int)p, boot);
	} else if (!pe->st.alive) {
		/* Back from the dead: what did we miss? */
		set_alive(s, (unsigned int)p, true);
		sync_request_dump(s, p);
	}
	/* It does not know this boot of ours yet: tell it, once in a
	 * while (its hellos, and its batches to our old boot, repeat). */
	if (peer_boot != s->boot &&
	    since(now_ns, pe->last_hello_ns) >= ms_ns(s->conf.resend_ms) / 4)
		send_hello(s, (unsigned int)p);
	if (o.type == SYNC_T_HELLO)
		goto out;
	if (peer_boot != s->boot) {
		s->st.rx_stale++;
		goto out;
	}
	switch (o.type) {
	case SYNC_T_BATCH:
		batch_in(s, (unsigned int)p, &o);
		break;
	case SYNC_T_ACK:
		ack_in(s, (unsigned int)p, o.ack);
		break;
	case SYNC_T_DUMP_REQUEST:
		/* A request repeated until answered has one id. */
		if (o.dump_request->id > pe->req_served) {
			pe->req_served = o.dump_request->id;
			if (!pe->dumping)
				start_dump(s, (unsigned int)p);
		}
		break;
	case SYNC_T_RELAY:
		relay_in(s, (unsigned int)p, o.relay);
		break;
	default:
		break;
	}
out:
	sync_opened_free(&o);
}

/* ---- the daemon's side ---- */

int
sync_queue_to(struct sync *s, unsigned int p, const struct sess_rec *r)
{
	if (s == NULL || r == NULL || p >= s->conf.n_peers || !sync_rec_ok(r))
		return -EINVAL;
	return bl_push(s, &s->peers[p], r);
}

int
sync_queue(struct sync *s, const struct sess_rec *r)
{
	unsigned int i;
	int rc = 0;

	if (s == NULL || r == NULL || !sync_rec_ok(r))
		return -EINVAL;
	for (i = 0; i < s->conf.n_peers; i++) {
		if (s->peers[i].boot == 0)
			continue;
		if (bl_push(s, &s->peers[i], r) < 0)
			rc = -ENOBUFS;
	}
	return rc;
}

/* sync_relay()'s token bucket: relay_rate a second, a quarter second's
 * worth at most (at least one). */
static bool
relay_take(struct sync *s, uint64_t now_ns)
{
	uint64_t rate = s->conf.relay_rate, cap = rate / 4 > 0 ? rate / 4 : 1;
	uint64_t dt = since(now_ns, s->relay_ns);

	if (dt > NS_PER_S)
		dt = NS_PER_S;
	s->relay_ns = now_ns;
	s->relay_tokens += dt * rate;
	if (s->relay_tokens > cap * NS_PER_S)
		s->relay_tokens = cap * NS_PER_S;
	if (s->relay_tokens < NS_PER_S)
		return false;
	s->relay_tokens -= NS_PER_S;
	return true;
}

int
sync_relay(struct sync *s, const uint8_t vip[16], uint16_t vip_port,
	   const uint8_t *seg, size_t len, uint64_t now_ns)
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					       0xff, 0xff };
	uint8_t buf[SYNC_RELAY_SEG_MAX + 64];
	Halb__Sync__Relay r;
	unsigned int p;
	size_t n;
	int sent = 0, k;

	if (s == NULL || vip == NULL || vip_port == 0 ||
	    sync_relay_seg(seg, len, NULL, NULL) != 0)
		return -EINVAL;
	s->now_ns = now_ns;
	for (p = 0; p < s->conf.n_peers; p++)
		if (s->peers[p].st.alive && s->peers[p].boot != 0)
			break;
	if (p == s->conf.n_peers) {
		s->st.relay_no_peer++;
		return 0;
	}
	if (!relay_take(s, now_ns)) {
		s->st.relay_limited++;
		return -EAGAIN;
	}
	halb__sync__relay__init(&r);
	r.boot = s->boot;
	r.vip.data = (uint8_t *)(uintptr_t)vip;
	r.vip.len = 16;
	if (memcmp(vip, v4_mapped, sizeof(v4_mapped)) == 0) {
		r.vip.data += 12;
		r.vip.len = 4;
	}
	r.vip_port = vip_port;
	r.segment.data = (uint8_t *)(uintptr_t)seg;
	r.segment.len = len;
	for (p = 0; p < s->conf.n_peers; p++) {
		struct peer *pe = &s->peers[p];

		if (!pe->st.alive || pe->boot == 0)
			continue;
		r.peer_boot = pe->boot;
		n = protobuf_c_message_get_packed_size(&r.base);
		if (n > sizeof(buf))
			return -EINVAL; /* not reached: the segment is bounded */
		protobuf_c_message_pack(&r.base, buf);
		k = sync_seal_raw(s->dgram, SEAL_MAX_DATAGRAM, &pe->key,
				  s->conf.name, next_env_seq(s),
				  now_ns / NS_PER_MS, SYNC_T_RELAY, buf, n);
		if (k < 0 || s->ops.send(s->arg, p, s->dgram, (size_t)k) < 0) {
			pe->st.send_errors++;
			continue;
		}
		pe->last_sent_ns = now_ns;
		pe->order++;
		pe->st.relays_sent++;
		sent++;
	}
	s->st.relay_sent++;
	return sent;
}

uint32_t
sync_room(const struct sync *s, unsigned int p)
{
	if (s == NULL || p >= s->conf.n_peers)
		return 0;
	return s->conf.backlog_max - s->peers[p].bl_recs;
}

void
sync_tick(struct sync *s, uint64_t now_ns)
{
	unsigned int p;

	s->now_ns = now_ns;
	for (p = 0; p < s->conf.n_peers; p++) {
		struct peer *pe = &s->peers[p];

		if (pe->st.alive &&
		    since(now_ns, pe->st.last_heard_ns) >= ms_ns(s->conf.dead_ms))
			set_alive(s, p, false);
		if (pe->st.alive)
			tx_tick(s, p);
		if (pe->ack_due)
			send_ack(s, p);
		if (pe->last_sent_ns == 0 ||
		    since(now_ns, pe->last_sent_ns) >= ms_ns(s->conf.hello_ms))
			send_hello(s, p);
	}
}

const struct sync_stats *
sync_stats(const struct sync *s)
{
	return &s->st;
}

const struct sync_peer_stats *
sync_peer_stats(const struct sync *s, unsigned int p)
{
	if (s == NULL || p >= s->conf.n_peers)
		return NULL;
	return &s->peers[p].st;
}

/* ---- life ---- */

static uint32_t
or_default(uint32_t v, uint32_t d)
{
	return v != 0 ? v : d;
}

static int
conf_check(struct sync_conf *c)
{
	size_t namelen = strnlen(c->name, sizeof(c->name));
	unsigned int i, j;

	c->resend_ms = or_default(c->resend_ms, SYNC_RESEND_MS_DEFAULT);
	c->hello_ms = or_default(c->hello_ms, SYNC_HELLO_MS_DEFAULT);
	c->dead_ms = or_default(c->dead_ms, SYNC_DEAD_MS_DEFAULT);
	c->window = or_default(c->window, SYNC_WINDOW_DEFAULT);
	c->backlog_max = or_default(c->backlog_max, SYNC_BACKLOG_DEFAULT);
	c->max_datagram = or_default(c->max_datagram, SYNC_DATAGRAM_DEFAULT);
	c->relay_rate = or_default(c->relay_rate, SYNC_RELAY_RATE_DEFAULT);
	if (namelen == 0 || namelen > SEAL_NAME_MAX ||
	    c->n_peers > SYNC_MAX_PEERS || c->dead_ms <= c->hello_ms ||
	    c->window > SYNC_WINDOW_MAX || c->backlog_max > SYNC_BACKLOG_MAX ||
	    c->max_datagram > SEAL_MAX_DATAGRAM ||
	    c->max_datagram < ENV_OVERHEAD(namelen) + BATCH_HDR_MAX +
			      2 * (SYNC_REC_WIRE_MAX + 2))
		return -EINVAL;
	for (i = 0; i < c->n_peers; i++) {
		const struct sync_peer_conf *pc = &c->peers[i];
		size_t n = strnlen(pc->name, sizeof(pc->name));

		if (n == 0 || n > SEAL_NAME_MAX || strcmp(pc->name, c->name) == 0 ||
		    pc->key_len < SEAL_KEY_MIN || pc->key_len > SEAL_KEY_MAX)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (strcmp(c->peers[j].name, pc->name) == 0)
				return -EINVAL;
	}
	return 0;
}

struct sync *
sync_new(const struct sync_conf *conf, const struct sync_ops *ops, void *arg,
	 uint64_t now_ns)
{
	struct sync *s = NULL;
	unsigned int i;
	int err = ENOMEM;

	if (conf == NULL || ops == NULL || ops->send == NULL ||
	    ops->deliver == NULL || ops->dump == NULL) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto fail;
	s->conf = *conf;
	if (conf_check(&s->conf) < 0) {
		err = EINVAL;
		goto fail;
	}
	s->ops = *ops;
	s->arg = arg;
	s->now_ns = now_ns;
	s->boot = conf->boot_id != 0 ? conf->boot_id : (now_ns != 0 ? now_ns : 1);
	s->payload_max = s->conf.max_datagram -
			 ENV_OVERHEAD(strlen(s->conf.name));
	s->bl_cap = s->conf.backlog_max + MARK_SLOTS;
	/* relay_take()'s bucket starts full. */
	s->relay_ns = now_ns;
	s->relay_tokens = (s->conf.relay_rate / 4 > 0 ? s->conf.relay_rate / 4 : 1) *
			  NS_PER_S;
	s->keys = seal_keyring_new(s->conf.n_peers > 0 ? s->conf.n_peers : 1);
	s->replay = seal_replay_new(s->conf.n_peers > 0 ? s->conf.n_peers : 1,
				    s->conf.window_ms);
	s->dgram = malloc(SEAL_MAX_DATAGRAM);
	s->recs = malloc(s->payload_max + SYNC_REC_WIRE_MAX + 2);
	if (s->keys == NULL || s->replay == NULL || s->dgram == NULL ||
	    s->recs == NULL)
		goto fail;
	for (i = 0; i < s->conf.n_peers; i++) {
		const struct sync_peer_conf *pc = &s->conf.peers[i];
		struct peer *pe = &s->peers[i];
		uint32_t j;

		memcpy(pe->name, pc->name, strnlen(pc->name, SEAL_NAME_MAX) + 1);
		pe->key.id = pc->key_id;
		pe->key.len = (uint32_t)pc->key_len;
		memcpy(pe->key.bytes, pc->key, pc->key_len);
		if (seal_keyring_add(s->keys, pe->name, &pe->key,
				     SEAL_ROLE_SYNC) < 0) {
			err = EINVAL;
			goto fail;
		}
		pe->bl = calloc(s->bl_cap, sizeof(*pe->bl));
		pe->fl = calloc(s->conf.window, sizeof(*pe->fl));
		pe->held = calloc(RX_SLOTS, sizeof(*pe->held));
		if (pe->bl == NULL || pe->fl == NULL || pe->held == NULL)
			goto fail;
		for (j = 0; j < s->conf.window; j++) {
			pe->fl[j].payload = malloc(s->payload_max);
			if (pe->fl[j].payload == NULL)
				goto fail;
		}
		pe->fl_base = pe->next_seq = 1;
	}
	return s;
fail:
	sync_free(s);
	errno = err;
	return NULL;
}

void
sync_free(struct sync *s)
{
	unsigned int i;
	uint32_t j;

	if (s == NULL)
		return;
	for (i = 0; i < SYNC_MAX_PEERS; i++) {
		struct peer *pe = &s->peers[i];

		if (pe->held != NULL) {
			rx_reset(pe);
			free(pe->held);
		}
		if (pe->fl != NULL) {
			for (j = 0; j < s->conf.window; j++)
				free(pe->fl[j].payload);
			free(pe->fl);
		}
		free(pe->bl);
	}
	seal_keyring_free(s->keys);
	seal_replay_free(s->replay);
	free(s->dgram);
	free(s->recs);
	/* Keys are secrets: do not leave them in freed memory. */
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}
