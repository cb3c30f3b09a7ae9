/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session sync engine (session/sync.c), two engines back to back
 * through a simulated link and clock: the handshake and first dumps; a
 * lossy link (5% dropped, 3% duplicated, 5% held back 1-3 ms) over which
 * every record still arrives exactly once and in order with the window
 * kept; a backlog that overflows, is counted and is healed by a dump; a
 * peer silent past dead_ms, then back; a peer restarted with a new boot
 * id and resynced both ways; a dump request answered by a dump under
 * way; three appliances in a full mesh over a lossy link, each record of
 * each reaching both others once and in order; every refused datagram
 * counted by its reason; relayed segments (Relay), best effort and
 * bounded per second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/flow-t.h"
#include "halb/hl_msg.h"
#include "halb/sync_msg.h"
#include "sync.h"

#define MS 1000000ull
#define T0 (1700000000000ull * MS)   /* Unix time, ns */
#define MAX_ID (1u << 18)
#define LIVE_PORT 1                  /* be_port of live records */
#define DUMP_PORT 2                  /* ... of dumped ones */

struct pkt {
	int to;
	uint64_t at;
	uint64_t order;
	size_t len;
	uint8_t buf[];
};

struct node {
	struct sync *s;
	struct world *w;
	int idx;
	/* own sessions, for dumps */
	uint32_t *table;
	uint32_t n_table;
	bool dumping;
	uint32_t cursor;
	/* what arrived from the other node */
	bool strict;              /* live records must come 0, 1, 2, ... */
	uint32_t next_live;
	uint8_t *replica;         /* id -> held */
	uint32_t n_replica;
	bool peer_alive, peer_synced;
	unsigned int n_alive, n_dead, n_synced;
	uint32_t max_in_flight;
	uint64_t sent;
	/* relayed segments that arrived (cb_relay) */
	uint32_t n_relays;
	uint8_t relay_vip[16];
	uint16_t relay_port;
	uint8_t relay_seg[SYNC_RELAY_SEG_MAX];
	size_t relay_len;
};

struct world {
	struct node n[2];
	uint64_t now;
	struct pkt **q;
	size_t nq, capq;
	uint64_t order;
	uint32_t drop_pct, dup_pct, reorder_pct;
	bool link_up;
	bool mute_acks[2];        /* drop the small datagrams of node i */
	uint64_t rng;
	uint64_t sent, dropped, duped;
};

static uint32_t
rnd(struct world *w)
{
	/* xorshift64*: deterministic, seeded per test */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return (uint32_t)((w->rng * 2685821657736338717ull) >> 32);
}

static void
mk_rec(struct sess_rec *r, uint32_t id, uint16_t kind, uint8_t op)
{
	memset(r, 0, sizeof(*r));
	r->key.src[10] = r->key.src[11] = 0xff;
	r->key.src[12] = 10;
	r->key.src[13] = (uint8_t)(id >> 16);
	r->key.src[14] = (uint8_t)(id >> 8);
	r->key.src[15] = (uint8_t)id;
	r->key.dst[10] = r->key.dst[11] = 0xff;
	r->key.dst[12] = 203;
	r->key.dst[15] = 10;
	r->key.sport = htons((uint16_t)(1024 + id % 50000));
	r->key.dport = htons(80);
	r->key.proto = 6;
	r->be_addr[10] = r->be_addr[11] = 0xff;
	r->be_addr[12] = 10;
	r->be_addr[15] = (uint8_t)(1 + id % 200);
	r->be_port = kind;
	r->op = op;
	r->state = FLOW_ST_EST;
	r->idle_ms = id;
}

/* ---- the callbacks ---- */

static void
enqueue(struct world *w, int to, const void *buf, size_t len)
{
	struct pkt *k;

	if (w->nq == w->capq) {
		w->capq = w->capq ? 2 * w->capq : 1024;
		w->q = realloc(w->q, w->capq * sizeof(*w->q));
		assert_non_null(w->q);
	}
	k = malloc(sizeof(*k) + len);
	assert_non_null(k);
	k->to = to;
	k->at = w->now + MS;
	/* reordered: held back behind what is sent next */
	if (rnd(w) % 100 < w->reorder_pct)
		k->at += (1 + rnd(w) % 3) * MS;
	k->order = w->order++;
	k->len = len;
	memcpy(k->buf, buf, len);
	w->q[w->nq++] = k;
}

static int
cb_send(void *arg, unsigned int p, const void *buf, size_t len)
{
	struct node *n = arg;
	struct world *w = n->w;

	assert_int_equal(p, 0);
	/* 1400 (max_datagram) but a Relay's, up to SEAL_MAX_DATAGRAM. */
	assert_true(len <= SEAL_MAX_DATAGRAM);
	w->sent++;
	n->sent++;
	if (!w->link_up || rnd(w) % 100 < w->drop_pct ||
	    (w->mute_acks[n->idx] && len < 200)) {
		w->dropped++;
		return 0;
	}
	enqueue(w, 1 - n->idx, buf, len);
	if (rnd(w) % 100 < w->dup_pct) {
		w->duped++;
		enqueue(w, 1 - n->idx, buf, len);
	}
	return 0;
}

static void
cb_deliver(void *arg, unsigned int p, const struct sess_rec *r)
{
	struct node *n = arg;
	uint32_t id = r->idle_ms;

	assert_int_equal(p, 0);
	assert_true(id < MAX_ID);
	if (r->be_port == LIVE_PORT && n->strict) {
		/* in order, exactly once */
		assert_int_equal(id, n->next_live);
		n->next_live++;
	}
	if (r->op == SESS_OP_UP && !n->replica[id]) {
		n->replica[id] = 1;
		n->n_replica++;
	} else if (r->op == SESS_OP_DOWN && n->replica[id]) {
		n->replica[id] = 0;
		n->n_replica--;
	}
}

static void
cb_dump(void *arg, unsigned int p)
{
	struct node *n = arg;

	assert_int_equal(p, 0);
	n->dumping = true;
	n->cursor = 0;
}

static void
cb_peer_state(void *arg, unsigned int p, bool alive, bool synced)
{
	struct node *n = arg;

	assert_int_equal(p, 0);
	if (alive && !n->peer_alive)
		n->n_alive++;
	if (!alive && n->peer_alive)
		n->n_dead++;
	if (synced && !n->peer_synced)
		n->n_synced++;
	n->peer_alive = alive;
	n->peer_synced = synced;
}

static void
cb_relay(void *arg, unsigned int p, const uint8_t vip[16], uint16_t vip_port,
	 const uint8_t *seg, size_t len)
{
	struct node *n = arg;

	assert_int_equal(p, 0);
	assert_true(len <= SYNC_RELAY_SEG_MAX);
	n->n_relays++;
	memcpy(n->relay_vip, vip, 16);
	n->relay_port = vip_port;
	memcpy(n->relay_seg, seg, len);
	n->relay_len = len;
}

static const struct sync_ops ops = {
	.send = cb_send, .deliver = cb_deliver, .dump = cb_dump,
	.peer_state = cb_peer_state, .relay = cb_relay,
};

/* ---- the world ---- */

static void
mk_conf(struct sync_conf *c, int idx)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "lb-%c", 'a' + idx);
	c->n_peers = 1;
	snprintf(c->peers[0].name, sizeof(c->peers[0].name), "lb-%c",
		 'a' + (1 - idx));
	c->peers[0].key_len = 32;
	c->peers[0].key_id = 3;
	for (i = 0; i < 32; i++)
		c->peers[0].key[i] = (uint8_t)(0x5a + i);
	c->resend_ms = 50;
	c->hello_ms = 500;
	c->dead_ms = 2000;
	c->window = 16;
	c->backlog_max = 100000;
	c->max_datagram = 1400;
}

static void
node_start(struct world *w, int idx, const struct sync_conf *c)
{
	struct node *n = &w->n[idx];

	n->w = w;
	n->idx = idx;
	n->s = sync_new(c, &ops, n, w->now);
	assert_non_null(n->s);
	n->dumping = false;
	n->next_live = 0;
	n->peer_alive = n->peer_synced = false;
	if (n->replica == NULL) {
		n->replica = calloc(MAX_ID, 1);
		n->table = calloc(MAX_ID, sizeof(*n->table));
		assert_non_null(n->replica);
		assert_non_null(n->table);
	}
}

static void
world_init(struct world *w, const struct sync_conf *ca,
	   const struct sync_conf *cb)
{
	memset(w, 0, sizeof(*w));
	w->now = T0;
	w->rng = 0x9e3779b97f4a7c15ull;
	w->link_up = true;
	node_start(w, 0, ca);
	node_start(w, 1, cb);
}

static void
world_fini(struct world *w)
{
	size_t i;
	int k;

	for (i = 0; i < w->nq; i++)
		free(w->q[i]);
	free(w->q);
	for (k = 0; k < 2; k++) {
		sync_free(w->n[k].s);
		free(w->n[k].replica);
		free(w->n[k].table);
	}
}

/* The daemon's side of a dump: as many as fit, then done. */
static void
pump(struct node *n)
{
	struct sess_rec r;

	if (!n->dumping)
		return;
	while (n->cursor < n->n_table && sync_room(n->s, 0) > 0) {
		mk_rec(&r, n->table[n->cursor++], DUMP_PORT, SESS_OP_UP);
		assert_int_equal(sync_queue_to(n->s, 0, &r), 0);
	}
	if (n->cursor == n->n_table) {
		n->dumping = false;
		sync_dump_done(n->s, 0);
	}
}

static int
pkt_cmp(const void *a, const void *b)
{
	const struct pkt *x = *(const struct pkt *const *)a;
	const struct pkt *y = *(const struct pkt *const *)b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* One ms: what is due arrives (in the order of its arrival time), then
 * each node ticks and pumps its dump. */
static void
step(struct world *w)
{
	size_t i, j = 0, due = 0;
	int k;

	w->now += MS;
	if (w->nq > 1)
		qsort(w->q, w->nq, sizeof(*w->q), pkt_cmp);
	while (due < w->nq && w->q[due]->at <= w->now)
		due++;
	for (i = 0; i < due; i++) {
		struct pkt *p = w->q[i];

		if (w->n[p->to].s != NULL)
			sync_input(w->n[p->to].s, p->buf, p->len, NULL, 0, w->now);
		free(p);
	}
	for (i = due; i < w->nq; i++)
		w->q[j++] = w->q[i];
	w->nq = j;
	for (k = 0; k < 2; k++) {
		struct node *n = &w->n[k];
		const struct sync_peer_stats *ps;

		if (n->s == NULL)
			continue;
		sync_tick(n->s, w->now);
		pump(n);
		ps = sync_peer_stats(n->s, 0);
		if (ps->in_flight > n->max_in_flight)
			n->max_in_flight = ps->in_flight;
	}
}

static void
run_until_synced(struct world *w, unsigned int max_ms)
{
	unsigned int t;

	for (t = 0; t < max_ms; t++) {
		step(w);
		if (w->n[0].peer_synced && w->n[1].peer_synced &&
		    !w->n[0].dumping && !w->n[1].dumping &&
		    sync_peer_stats(w->n[0].s, 0)->in_flight == 0 &&
		    sync_peer_stats(w->n[1].s, 0)->in_flight == 0 &&
		    sync_peer_stats(w->n[0].s, 0)->backlog == 0 &&
		    sync_peer_stats(w->n[1].s, 0)->backlog == 0)
			return;
	}
	fail_msg("not synced after %u ms", max_ms);
}

/* ---- the tests ---- */

static void
test_conf(void **state)
{
	struct sync_conf c;
	struct sync *s;

	(void)state;
	mk_conf(&c, 0);
	s = sync_new(&c, &ops, NULL, T0);
	assert_non_null(s);
	assert_int_equal(sync_room(s, 0), 100000);
	assert_int_equal(sync_room(s, 1), 0);
	assert_null(sync_peer_stats(s, 1));
	sync_free(s);
#define BAD(what) do {                                                   \
		mk_conf(&c, 0);                                          \
		what;                                                    \
		assert_null(sync_new(&c, &ops, NULL, T0));               \
		assert_int_equal(errno, EINVAL);                         \
	} while (0)
	BAD(c.name[0] = '\0');
	BAD(snprintf(c.peers[0].name, sizeof(c.peers[0].name), "lb-a"));
	BAD(c.peers[0].name[0] = '\0');
	BAD(c.peers[0].key_len = 15);
	BAD(c.peers[0].key_len = 65);
	BAD(c.n_peers = SYNC_MAX_PEERS + 1);
	BAD(c.dead_ms = c.hello_ms);
	BAD(c.window = SYNC_WINDOW_MAX + 1);
	BAD(c.max_datagram = SEAL_MAX_DATAGRAM + 1);
	BAD(c.max_datagram = 200);
	BAD(c.backlog_max = SYNC_BACKLOG_MAX + 1);
	BAD(c.n_peers = 2; c.peers[1] = c.peers[0]);
#undef BAD
	/* Zeros take the defaults. */
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "alone");
	s = sync_new(&c, &ops, NULL, T0);
	assert_non_null(s);
	sync_tick(s, T0 + MS);
	sync_free(s);
	assert_null(sync_new(NULL, &ops, NULL, T0));
}

static void
test_handshake(void **state)
{
	struct sync_conf ca, cb;
	struct world w;
	uint32_t i;

	(void)state;
	mk_conf(&ca, 0);
	mk_conf(&cb, 1);
	world_init(&w, &ca, &cb);
	/* A holds sessions from before it met B; B none. */
	for (i = 0; i < 1000; i++)
		w.n[0].table[w.n[0].n_table++] = i;
	run_until_synced(&w, 2000);
	for (i = 0; i < 2; i++) {
		const struct sync_peer_stats *ps = sync_peer_stats(w.n[i].s, 0);

		assert_true(w.n[i].peer_alive);
		assert_int_equal(w.n[i].n_synced, 1);
		assert_int_equal(ps->dumps_sent, 1);
		assert_int_equal(ps->dumps_rcvd, 1);
		assert_int_equal(ps->boots, 1);
		assert_int_equal(ps->batches_resent, 0);
		assert_int_equal(sync_stats(w.n[i].s)->rx_refused, 0);
	}
	assert_int_equal(w.n[1].n_replica, 1000);
	assert_int_equal(w.n[0].n_replica, 0);
	/* Idle: only hellos, and the peers stay alive. */
	for (i = 0; i < 10000; i++)
		step(&w);
	assert_true(w.n[0].peer_alive && w.n[1].peer_alive);
	assert_int_equal(w.n[0].n_dead, 0);
	world_fini(&w);
}

/* An IPv4 TCP segment of len bytes (40..), its payload filled with b. */
static void
mk_seg(uint8_t *p, size_t len, uint8_t b)
{
	memset(p, b, len);
	memset(p, 0, 40);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[9] = 6;
	p[12] = 10;
	p[15] = 21;
	p[20] = 0x1f; /* port 8081 */
	p[21] = 0x91;
	p[32] = 5 << 4;
}

/* Relayed segments (sync_relay): none before the peer is known; then
 * each sealed to it at once and handed whole to its relay callback,
 * without an ack or a resend, the largest too; at most relay_rate a
 * second (a quarter second's worth at once), the rest counted; bad
 * ones refused. */
static void
test_relay(void **state)
{
	static const uint8_t vip[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
					 198, 18, 2, 103 };
	uint8_t seg[SYNC_RELAY_SEG_MAX];
	struct sync_conf ca, cb;
	const struct sync_stats *st;
	struct world w;
	uint32_t i, ok = 0, limited = 0;
	uint64_t sent;
	int rc;

	(void)state;
	mk_conf(&ca, 0);
	mk_conf(&cb, 1);
	ca.relay_rate = 40;
	world_init(&w, &ca, &cb);
	st = sync_stats(w.n[0].s);
	mk_seg(seg, 60, 0xab);
	/* The peer not heard yet: nobody to send to. */
	assert_int_equal(sync_relay(w.n[0].s, vip, 80, seg, 60, w.now), 0);
	assert_int_equal(st->relay_no_peer, 1);
	run_until_synced(&w, 2000);
	/* Tokens: a quarter second's worth of 40 a second. */
	sent = w.sent;
	for (i = 0; i < 20; i++) {
		rc = sync_relay(w.n[0].s, vip, 80, seg, 60, w.now);
		if (rc == 1)
			ok++;
		else if (rc == -EAGAIN)
			limited++;
		else
			fail_msg("sync_relay: %d", rc);
	}
	assert_int_equal(ok, 10);
	assert_int_equal(limited, 10);
	assert_int_equal(st->relay_sent, 10);
	assert_int_equal(st->relay_limited, 10);
	assert_int_equal(w.sent - sent, 10); /* at once, one datagram each */
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->relays_sent, 10);
	step(&w);
	step(&w);
	assert_int_equal(w.n[1].n_relays, 10);
	assert_int_equal(sync_stats(w.n[1].s)->relay_rcvd, 10);
	assert_memory_equal(w.n[1].relay_vip, vip, 16);
	assert_int_equal(w.n[1].relay_port, 80);
	assert_int_equal(w.n[1].relay_len, 60);
	assert_memory_equal(w.n[1].relay_seg, seg, 60);
	/* 100 ms later: 4 more. */
	for (i = 0; i < 100; i++)
		step(&w);
	for (i = 0, ok = 0; i < 10; i++)
		ok += sync_relay(w.n[0].s, vip, 80, seg, 60, w.now) == 1;
	assert_int_equal(ok, 4);
	/* The largest segment: over max_datagram, whole. */
	for (i = 0; i < 1000; i++)
		step(&w);
	mk_seg(seg, SYNC_RELAY_SEG_MAX, 0xcd);
	assert_int_equal(sync_relay(w.n[0].s, vip, 443, seg, SYNC_RELAY_SEG_MAX,
				    w.now), 1);
	step(&w);
	step(&w);
	assert_int_equal(w.n[1].n_relays, 15);
	assert_int_equal(w.n[1].relay_port, 443);
	assert_int_equal(w.n[1].relay_len, SYNC_RELAY_SEG_MAX);
	assert_memory_equal(w.n[1].relay_seg, seg, SYNC_RELAY_SEG_MAX);
	/* Refused: a segment that breaks the rules, no port. */
	seg[9] = 17;
	assert_int_equal(sync_relay(w.n[0].s, vip, 80, seg, 60, w.now), -EINVAL);
	seg[9] = 6;
	assert_int_equal(sync_relay(w.n[0].s, vip, 0, seg, 60, w.now), -EINVAL);
	assert_int_equal(sync_relay(w.n[0].s, vip, 80, seg, 39, w.now), -EINVAL);
	/* Nothing refused on the way, nothing resent. */
	assert_int_equal(sync_stats(w.n[1].s)->rx_refused, 0);
	assert_int_equal(sync_stats(w.n[1].s)->rx_malformed, 0);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->batches_resent, 0);
	world_fini(&w);
}

/* Both stream live records while the link drops, duplicates and
 * reorders: every record arrives once, in order. */
static void
test_lossy(void **state)
{
	const uint32_t total = 60000;
	struct sync_conf ca, cb;
	struct world w;
	uint32_t queued = 0, t;
	int k;

	(void)state;
	mk_conf(&ca, 0);
	mk_conf(&cb, 1);
	world_init(&w, &ca, &cb);
	w.n[0].strict = w.n[1].strict = true;
	run_until_synced(&w, 2000);
	w.drop_pct = 5;
	w.dup_pct = 3;
	w.reorder_pct = 5;
	for (t = 0; t < 200000; t++) {
		/* 300 new sessions a ms on each side until `total` */
		for (k = 0; k < 2 && queued < total; k++) {
			uint32_t i;

			for (i = 0; i < 300 && queued + i < total; i++) {
				struct sess_rec r;

				mk_rec(&r, queued + i, LIVE_PORT, SESS_OP_UP);
				assert_int_equal(sync_queue(w.n[k].s, &r), 0);
			}
		}
		queued = queued + 300 < total ? queued + 300 : total;
		step(&w);
		if (w.n[0].next_live == total && w.n[1].next_live == total)
			break;
	}
	for (k = 0; k < 2; k++) {
		const struct sync_peer_stats *ps = sync_peer_stats(w.n[k].s, 0);
		const struct sync_stats *st = sync_stats(w.n[k].s);

		print_message("node %d: %u ms, sent %llu dropped %llu duped %llu; "
			      "batches %llu resent %llu ooo %llu dup %llu "
			      "acks %llu/%llu replays %llu max in flight %u\n",
			      k, t, (unsigned long long)w.sent,
			      (unsigned long long)w.dropped,
			      (unsigned long long)w.duped,
			      (unsigned long long)ps->batches_sent,
			      (unsigned long long)ps->batches_resent,
			      (unsigned long long)ps->ooo_batches,
			      (unsigned long long)ps->dup_batches,
			      (unsigned long long)ps->acks_sent,
			      (unsigned long long)ps->acks_rcvd,
			      (unsigned long long)st->rx_reject[SEAL_REJ_REPLAY],
			      w.n[k].max_in_flight);
		assert_int_equal(w.n[k].next_live, total);
		assert_int_equal(w.n[k].n_replica, total);
		assert_true(w.n[k].max_in_flight <= ca.window);
		assert_true(w.n[k].max_in_flight == ca.window);
		assert_true(ps->batches_resent > 0);
		assert_true(ps->ooo_batches > 0);
		assert_int_equal(ps->backlog_dropped, 0);
		assert_int_equal(st->rx_malformed, 0);
		/* the link's duplicates and reorders: refused as replays */
		assert_true(st->rx_reject[SEAL_REJ_REPLAY] > 0);
		assert_int_equal(st->rx_reject[SEAL_REJ_BAD_MAC], 0);
		assert_int_equal(w.n[k].n_dead, 0);
		/* one batch carries many records */
		assert_true(ps->records_sent / ps->batches_sent >= 20);
	}
	/* After the load stops, one resend interval and a bit: quiet. */
	for (t = 0; t < 200; t++)
		step(&w);
	for (k = 0; k < 2; k++) {
		assert_int_equal(sync_peer_stats(w.n[k].s, 0)->in_flight, 0);
		assert_int_equal(sync_peer_stats(w.n[k].s, 0)->backlog, 0);
	}
	/* B's acks lost for a while: A resends what B had, B takes each
	 * batch once. */
	w.mute_acks[1] = true;
	for (t = 0; t < 1000; t++) {
		struct sess_rec r;

		mk_rec(&r, total + t, LIVE_PORT, SESS_OP_UP);
		assert_int_equal(sync_queue(w.n[0].s, &r), 0);
		if (t % 100 == 99)
			step(&w);
	}
	for (t = 0; t < 200; t++)
		step(&w);
	w.mute_acks[1] = false;
	for (t = 0; t < 200; t++)
		step(&w);
	assert_int_equal(w.n[1].next_live, total + 1000);
	assert_true(sync_peer_stats(w.n[1].s, 0)->dup_batches > 0);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->in_flight, 0);
	world_fini(&w);
}

/* A's backlog overflows while B cannot be reached (for less than
 * dead_ms): counted, bounded, then healed by a full dump. */
static void
test_backlog_overflow(void **state)
{
	struct sync_conf ca, cb;
	struct world w;
	uint32_t i, id = 0, refused = 0;
	unsigned int t;

	(void)state;
	mk_conf(&ca, 0);
	mk_conf(&cb, 1);
	ca.backlog_max = 2000;
	ca.window = 4;
	world_init(&w, &ca, &cb);
	run_until_synced(&w, 2000);
	w.link_up = false;
	for (t = 0; t < 1000; t++) {
		for (i = 0; i < 10; i++) {
			struct sess_rec r;
			int rc;

			mk_rec(&r, id, LIVE_PORT, SESS_OP_UP);
			w.n[0].table[w.n[0].n_table++] = id++;
			rc = sync_queue(w.n[0].s, &r);
			assert_true(rc == 0 || rc == -ENOBUFS);
			refused += rc == -ENOBUFS;
		}
		step(&w);
		assert_true(sync_peer_stats(w.n[0].s, 0)->backlog <= 2000);
	}
	assert_true(refused > 0);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->backlog_dropped, refused);
	assert_int_equal(sync_room(w.n[0].s, 0), 0);
	assert_true(w.n[1].n_replica < id);
	assert_true(w.n[0].peer_alive);
	w.link_up = true;
	run_until_synced(&w, 20000);
	/* B holds every session of A. */
	assert_int_equal(w.n[1].n_replica, id);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->dumps_sent, 2);
	assert_int_equal(sync_peer_stats(w.n[1].s, 0)->dumps_rcvd, 2);
	assert_int_equal(w.n[0].n_dead, 0);
	world_fini(&w);
}

/* B silent past dead_ms: dead on A; back: alive, dumps both ways. */
static void
test_dead_and_back(void **state)
{
	struct sync_conf ca, cb;
	struct world w;
	unsigned int t;
	uint32_t i;

	(void)state;
	mk_conf(&ca, 0);
	mk_conf(&cb, 1);
	world_init(&w, &ca, &cb);
	for (i = 0; i < 500; i++) {
		w.n[0].table[w.n[0].n_table++] = i;
		w.n[1].table[w.n[1].n_table++] = 1000 + i;
	}
	run_until_synced(&w, 2000);
	assert_int_equal(w.n[0].n_replica, 500);
	w.link_up = false;
	for (t = 0; t < ca.dead_ms + 10; t++)
		step(&w);
	assert_false(w.n[0].peer_alive);
	assert_false(w.n[1].peer_alive);
	assert_int_equal(w.n[0].n_dead, 1);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->dead, 1);
	assert_false(sync_peer_stats(w.n[0].s, 0)->synced);
	/* Sessions that B gets while apart reach A through the dump. */
	for (i = 0; i < 100; i++)
		w.n[1].table[w.n[1].n_table++] = 2000 + i;
	w.link_up = true;
	run_until_synced(&w, 5000);
	assert_true(w.n[0].peer_alive && w.n[1].peer_alive);
	assert_int_equal(w.n[0].n_alive, 2);
	assert_int_equal(w.n[0].n_replica, 600);
	assert_int_equal(w.n[1].n_replica, 500);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->dumps_rcvd, 2);
	assert_int_equal(sync_peer_stats(w.n[1].s, 0)->dumps_rcvd, 2);
	/* the same boots throughout */
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->boots, 1);
	world_fini(&w);
}

/* B restarts (a new boot id, an empty replica): A notices, resets the
 * pair and dumps to it; B's new life dumps its own sessions to A. */
static void
test_restart(void **state)
{
	struct sync_conf ca, cb;
	struct world w;
	unsigned int t;
	uint32_t i;

	(void)state;
	mk_conf(&ca, 0);
	mk_conf(&cb, 1);
	ca.boot_id = 11;
	cb.boot_id = 22;
	world_init(&w, &ca, &cb);
	for (i = 0; i < 3000; i++)
		w.n[0].table[w.n[0].n_table++] = i;
	for (i = 0; i < 700; i++)
		w.n[1].table[w.n[1].n_table++] = 5000 + i;
	run_until_synced(&w, 5000);
	assert_int_equal(w.n[1].n_replica, 3000);
	/* Live records in flight when B dies. */
	for (i = 0; i < 200; i++) {
		struct sess_rec r;

		mk_rec(&r, 3000 + i, DUMP_PORT, SESS_OP_UP);
		w.n[0].table[w.n[0].n_table++] = 3000 + i;
		assert_int_equal(sync_queue(w.n[0].s, &r), 0);
	}
	step(&w);
	sync_free(w.n[1].s);
	w.n[1].s = NULL;
	memset(w.n[1].replica, 0, MAX_ID);
	w.n[1].n_replica = 0;
	for (t = 0; t < 100; t++)
		step(&w);
	cb.boot_id = 23;
	node_start(&w, 1, &cb);
	run_until_synced(&w, 10000);
	assert_int_equal(w.n[1].n_replica, 3200);
	assert_int_equal(w.n[0].n_replica, 700);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->boots, 2);
	assert_int_equal(sync_peer_stats(w.n[1].s, 0)->boots, 1);
	assert_int_equal(sync_peer_stats(w.n[1].s, 0)->dumps_rcvd, 1);
	assert_int_equal(sync_stats(w.n[0].s)->rx_malformed, 0);
	world_fini(&w);
}

/* A datagram an engine sends, caught instead of sent. */
static uint8_t caught[1500];
static size_t caught_len;

static int
cb_catch(void *arg, unsigned int p, const void *buf, size_t len)
{
	(void)arg;
	(void)p;
	assert_true(len <= sizeof(caught));
	memcpy(caught, buf, len);
	caught_len = len;
	return 0;
}

static const struct sync_ops catch_ops = {
	.send = cb_catch, .deliver = cb_deliver, .dump = cb_dump,
	.peer_state = cb_peer_state,
};

/* A hello from B's life boot_id, sealed with B's key at now. */
static void
old_hello(const struct sync_conf *cb, uint64_t boot_id, uint64_t now)
{
	struct sync_conf c = *cb;
	struct sync *old;

	c.boot_id = boot_id;
	old = sync_new(&c, &catch_ops, NULL, now);
	assert_non_null(old);
	caught_len = 0;
	sync_tick(old, now);
	assert_true(caught_len > 0);
	sync_free(old);
}

/*
 * Boot ids go forward (docs/SYNC-PROTOCOL.md): a message of an earlier
 * life of B (a replay, or forged with B's key) while B lives resets
 * nothing on A: not the pair, not B's liveness; counted.  Once B is
 * dead, a lower boot id is taken (B restarted with its clock set back).
 */
static void
test_old_boot(void **state)
{
	struct sync_conf ca, cb;
	struct world w;
	unsigned int t;
	uint32_t i;

	(void)state;
	mk_conf(&ca, 0);
	mk_conf(&cb, 1);
	ca.boot_id = 11;
	cb.boot_id = 22;
	world_init(&w, &ca, &cb);
	for (i = 0; i < 100; i++)
		w.n[0].table[w.n[0].n_table++] = i;
	run_until_synced(&w, 5000);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->boots, 1);
	old_hello(&cb, 21, w.now);
	sync_input(w.n[0].s, caught, caught_len, NULL, 0, w.now);
	assert_int_equal(sync_stats(w.n[0].s)->rx_refused, 0); /* authentic */
	assert_int_equal(sync_stats(w.n[0].s)->rx_old_boot, 1);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->boots, 1);
	assert_true(w.n[0].peer_synced);
	assert_true(sync_peer_stats(w.n[0].s, 0)->synced);
	/* The pair goes on: B's sessions still arrive. */
	for (t = 0; t < 50; t++)
		step(&w);
	assert_int_equal(w.n[1].n_replica, 100);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->boots, 1);
	/* B dies; after dead_ms, a lower boot id is B restarted. */
	sync_free(w.n[1].s);
	w.n[1].s = NULL;
	for (t = 0; t < 2100; t++)
		step(&w);
	assert_false(w.n[0].peer_alive);
	old_hello(&cb, 21, w.now);
	sync_input(w.n[0].s, caught, caught_len, NULL, 0, w.now);
	assert_int_equal(sync_stats(w.n[0].s)->rx_old_boot, 1);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->boots, 2);
	assert_true(w.n[0].peer_alive);
	world_fini(&w);
}

/* B asks for a dump while A's first dump to it is under way (A ignores
 * the request): the end of that dump answers it, and B stops asking. */
static void
test_request_during_dump(void **state)
{
	struct sync_conf ca, cb;
	struct world w;
	unsigned int t;
	uint32_t i;
	uint64_t sent;

	(void)state;
	mk_conf(&ca, 0);
	mk_conf(&cb, 1);
	ca.backlog_max = 100;    /* the dump takes a while */
	world_init(&w, &ca, &cb);
	for (i = 0; i < 20000; i++)
		w.n[0].table[w.n[0].n_table++] = i;
	for (t = 0; t < 20 && !w.n[0].dumping; t++)
		step(&w);
	assert_true(w.n[0].dumping);
	step(&w);
	sync_request_dump(w.n[1].s, 0);
	run_until_synced(&w, 20000);
	assert_int_equal(w.n[1].n_replica, 20000);
	/* Idle now: B sends hellos (every 500 ms), not requests. */
	sent = w.n[1].sent;
	for (t = 0; t < 1000; t++)
		step(&w);
	assert_true(w.n[1].sent - sent <= 3);
	assert_int_equal(sync_peer_stats(w.n[0].s, 0)->dumps_sent, 1);
	world_fini(&w);
}

/* ---- three appliances, full mesh ---- */

#define N3 3

struct mesh;

struct m_node {
	struct mesh *m;
	int idx;
	struct sync *s;
	uint32_t got[N3];         /* live records delivered from node j */
	uint32_t next[N3];        /* the next expected from node j */
	unsigned int synced;      /* peers synced now */
	bool syn[N3 - 1];
};

struct mesh {
	struct m_node n[N3];
	struct pkt **q;
	size_t nq, capq;
	uint64_t now, order, rng;
	uint32_t drop_pct;
};

/* Peer p of node i is node j. */
static int
m_peer_node(int i, unsigned int p)
{
	return (int)p < i ? (int)p : (int)p + 1;
}

static int
m_send(void *arg, unsigned int p, const void *buf, size_t len)
{
	struct m_node *n = arg;
	struct mesh *m = n->m;
	struct pkt *k;

	assert_true(p < N3 - 1);
	m->rng = m->rng * 6364136223846793005ull + 1442695040888963407ull;
	if ((m->rng >> 33) % 100 < m->drop_pct)
		return 0;
	if (m->nq == m->capq) {
		m->capq = m->capq ? 2 * m->capq : 256;
		m->q = realloc(m->q, m->capq * sizeof(*m->q));
		assert_non_null(m->q);
	}
	k = malloc(sizeof(*k) + len);
	assert_non_null(k);
	k->to = m_peer_node(n->idx, p);
	k->at = m->now + MS;
	k->order = m->order++;
	k->len = len;
	memcpy(k->buf, buf, len);
	m->q[m->nq++] = k;
	return 0;
}

static void
m_deliver(void *arg, unsigned int p, const struct sess_rec *r)
{
	struct m_node *n = arg;
	int j = m_peer_node(n->idx, p);

	/* Node j's live records carry j in their backend port. */
	if (r->be_port == 100 + j) {
		assert_int_equal(r->idle_ms, n->next[j]);
		n->next[j]++;
		n->got[j]++;
	}
}

static void
m_dump(void *arg, unsigned int p)
{
	struct m_node *n = arg;

	/* Nothing of its own before the load: an empty dump. */
	sync_dump_done(n->s, p);
}

static void
m_peer_state(void *arg, unsigned int p, bool alive, bool synced)
{
	struct m_node *n = arg;

	assert_true(p < N3 - 1);
	if (synced != n->syn[p])
		n->synced += synced ? 1 : -1;
	n->syn[p] = synced;
	(void)alive;
}

static void
m_step(struct mesh *m)
{
	size_t i, j = 0, due = 0;
	int k;

	m->now += MS;
	if (m->nq > 1)
		qsort(m->q, m->nq, sizeof(*m->q), pkt_cmp);
	while (due < m->nq && m->q[due]->at <= m->now)
		due++;
	for (i = 0; i < due; i++) {
		sync_input(m->n[m->q[i]->to].s, m->q[i]->buf, m->q[i]->len,
			   NULL, 0, m->now);
		free(m->q[i]);
	}
	for (i = due; i < m->nq; i++)
		m->q[j++] = m->q[i];
	m->nq = j;
	for (k = 0; k < N3; k++)
		sync_tick(m->n[k].s, m->now);
}

static void
test_three(void **state)
{
	static const struct sync_ops mops = {
		.send = m_send, .deliver = m_deliver, .dump = m_dump,
		.peer_state = m_peer_state,
	};
	const uint32_t total = 5000;
	struct mesh *m = calloc(1, sizeof(*m));
	unsigned int t;
	uint32_t i;
	int k, j;

	(void)state;
	assert_non_null(m);
	m->now = T0;
	m->rng = 7;
	for (k = 0; k < N3; k++) {
		struct sync_conf c;
		unsigned int p;

		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "lb-%d", k);
		c.n_peers = N3 - 1;
		for (p = 0; p < N3 - 1; p++) {
			int o = m_peer_node(k, p);
			int lo = k < o ? k : o, hi = k < o ? o : k;

			snprintf(c.peers[p].name, sizeof(c.peers[p].name),
				 "lb-%d", o);
			/* one key per pair */
			c.peers[p].key_len = 32;
			for (i = 0; i < 32; i++)
				c.peers[p].key[i] = (uint8_t)(lo * 16 + hi + i);
		}
		c.resend_ms = 30;
		c.window = 8;
		m->n[k].m = m;
		m->n[k].idx = k;
		m->n[k].s = sync_new(&c, &mops, &m->n[k], m->now);
		assert_non_null(m->n[k].s);
	}
	for (t = 0; t < 2000; t++) {
		m_step(m);
		if (m->n[0].synced == 2 && m->n[1].synced == 2 &&
		    m->n[2].synced == 2)
			break;
	}
	assert_int_equal(m->n[0].synced + m->n[1].synced + m->n[2].synced, 6);
	m->drop_pct = 10;
	for (i = 0; i < total; i += 50) {
		for (k = 0; k < N3; k++) {
			uint32_t x;

			for (x = i; x < i + 50; x++) {
				struct sess_rec r;

				mk_rec(&r, x, (uint16_t)(100 + k), SESS_OP_UP);
				assert_int_equal(sync_queue(m->n[k].s, &r), 0);
			}
		}
		m_step(m);
	}
	for (t = 0; t < 20000; t++) {
		bool done = true;

		for (k = 0; k < N3; k++)
			for (j = 0; j < N3; j++)
				done = done && (j == k || m->n[k].got[j] == total);
		if (done)
			break;
		m_step(m);
	}
	for (k = 0; k < N3; k++) {
		for (j = 0; j < N3; j++)
			if (j != k)
				assert_int_equal(m->n[k].got[j], total);
		assert_int_equal(sync_stats(m->n[k].s)->rx_malformed, 0);
		assert_int_equal(sync_stats(m->n[k].s)->rx_reject[SEAL_REJ_BAD_MAC], 0);
	}
	for (i = 0; i < m->nq; i++)
		free(m->q[i]);
	free(m->q);
	for (k = 0; k < N3; k++)
		sync_free(m->n[k].s);
	free(m);
}

/* ---- refused datagrams, counted by reason ---- */

static int n_sent;

static int
count_send(void *arg, unsigned int p, const void *buf, size_t len)
{
	(void)arg;
	(void)p;
	(void)buf;
	(void)len;
	n_sent++;
	return 0;
}

static void
nop_deliver(void *arg, unsigned int p, const struct sess_rec *r)
{
	(void)arg;
	(void)p;
	(void)r;
	fail_msg("nothing should be delivered");
}

static void
nop_dump(void *arg, unsigned int p)
{
	(void)arg;
	(void)p;
}

static int
hello(uint8_t *buf, const struct seal_key *k, const char *sender,
      uint64_t seq, uint64_t ts_ms, uint64_t boot, uint64_t peer_boot)
{
	Halb__Sync__Hello h;

	halb__sync__hello__init(&h);
	h.boot = boot;
	h.peer_boot = peer_boot;
	return sync_seal(buf, SEAL_MTU, k, sender, seq, ts_ms, SYNC_T_HELLO,
			 &h.base);
}

static void
test_refused_counted(void **state)
{
	static const struct sync_ops qops = {
		.send = count_send, .deliver = nop_deliver, .dump = nop_dump,
	};
	uint64_t now_ms = T0 / MS, seq = now_ms * 1000;
	uint8_t buf[SEAL_MAX_DATAGRAM + 8];
	const struct sync_stats *st;
	Halb__Health__Heartbeat hb;
	Halb__Sync__Batch b;
	Halb__Sync__Ack a;
	struct seal_key k, bad;
	struct sync_conf c;
	struct sync *s;
	int n;

	(void)state;
	mk_conf(&c, 0);
	c.boot_id = 100;
	s = sync_new(&c, &qops, NULL, T0);
	assert_non_null(s);
	st = sync_stats(s);
	memset(&k, 0, sizeof(k));
	k.id = c.peers[0].key_id;
	k.len = 32;
	memcpy(k.bytes, c.peers[0].key, 32);
	bad = k;
	bad.bytes[0] ^= 1;
#define IN(len) sync_input(s, buf, (size_t)(len), NULL, 0, now_ms * MS)
	/* forged */
	n = hello(buf, &bad, "lb-b", ++seq, now_ms, 7, 100);
	IN(n);
	assert_int_equal(st->rx_reject[SEAL_REJ_BAD_MAC], 1);
	/* unknown peer */
	n = hello(buf, &k, "lb-x", ++seq, now_ms, 7, 100);
	IN(n);
	assert_int_equal(st->rx_reject[SEAL_REJ_UNKNOWN_SENDER], 1);
	/* valid, then replayed */
	n = hello(buf, &k, "lb-b", ++seq, now_ms, 7, 100);
	IN(n);
	assert_int_equal(st->rx_refused, 2);
	assert_true(sync_peer_stats(s, 0)->alive);
	IN(n);
	assert_int_equal(st->rx_reject[SEAL_REJ_REPLAY], 1);
	/* outside the window */
	n = hello(buf, &k, "lb-b", ++seq, now_ms - 10000, 7, 100);
	IN(n);
	assert_int_equal(st->rx_reject[SEAL_REJ_STALE], 1);
	/* truncated */
	n = hello(buf, &k, "lb-b", ++seq, now_ms, 7, 100);
	IN(n - 5);
	assert_int_equal(st->rx_reject[SEAL_REJ_GARBLED], 1);
	/* oversized */
	memset(buf, 0, sizeof(buf));
	IN(SEAL_MAX_DATAGRAM + 1);
	assert_int_equal(st->rx_reject[SEAL_REJ_OVERSIZE], 1);
	/* a type this role may not send: health's, with the sync key */
	halb__health__heartbeat__init(&hb);
	hb.role = HALB__HEALTH__ROLE__ROLE_HEALTHD;
	n = hl_seal(buf, SEAL_MTU, &k, "lb-b", ++seq, now_ms, HL_T_HEARTBEAT,
		    &hb.base);
	IN(n);
	assert_int_equal(st->rx_reject[SEAL_REJ_ROLE], 1);
	/* a payload out of range */
	n = hello(buf, &k, "lb-b", ++seq, now_ms, 0, 100);
	IN(n);
	assert_int_equal(st->rx_reject[SEAL_REJ_PAYLOAD], 1);
	assert_int_equal(st->rx_refused, 8);
	assert_int_equal(st->rx_datagrams, 9);

	/* Authentic, but for another boot of ours: ignored, counted. */
	halb__sync__batch__init(&b);
	b.boot = 7;
	b.peer_boot = 99;
	b.seq = 1;
	n = sync_seal(buf, SEAL_MTU, &k, "lb-b", ++seq, now_ms, SYNC_T_BATCH,
		      &b.base);
	IN(n);
	assert_int_equal(st->rx_stale, 1);
	/* A batch more than 1024 ahead, an ack of a batch never sent. */
	b.peer_boot = 100;
	b.seq = 2000;
	n = sync_seal(buf, SEAL_MTU, &k, "lb-b", ++seq, now_ms, SYNC_T_BATCH,
		      &b.base);
	IN(n);
	halb__sync__ack__init(&a);
	a.boot = 7;
	a.peer_boot = 100;
	a.cum = 5;
	a.highest = 5;
	n = sync_seal(buf, SEAL_MTU, &k, "lb-b", ++seq, now_ms, SYNC_T_ACK,
		      &a.base);
	IN(n);
	assert_int_equal(st->rx_malformed, 2);
	assert_int_equal(st->rx_refused, 8);
	assert_int_equal(sync_peer_stats(s, 0)->batches_rcvd, 0);
#undef IN
	sync_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_lossy),
		cmocka_unit_test(test_backlog_overflow),
		cmocka_unit_test(test_dead_and_back),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_old_boot),
		cmocka_unit_test(test_request_during_dump),
		cmocka_unit_test(test_three),
		cmocka_unit_test(test_refused_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
