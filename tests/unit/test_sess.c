/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session tracker on one appliance, without DPDK processes:
 *  - the mapping between local indices and records (session/sess_map.c);
 *  - the replica table as halb-sessiond writes it (put, replace, delete,
 *    expiry by its owner's liveness and resync; session/sess_tab.c) and
 *    as the classifier reads it on a mid-connection miss (decide.c with
 *    sess.c cls_replica_pick), down_flows included;
 *  - the classifier's session events (install, state change, removal,
 *    dump) on a ring, and halb-sessiond's own table built from them.
 * The configuration is tests/pkt/pkt.conf (dsr4: TCP, three backends;
 * udp4; a sessions section).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "halb/cfg.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "halb/pkt.h"
#include "cls.h"
#include "cls_fix.h"
#include "sessd.h"

#define SVC_TCP 0   /* dsr4 198.18.2.100:80, backends .11 .12 .13 port 80 */
#define SVC_TUN 2   /* tun4: backends of port 0 (the packet's) */
#define SVC_UDP 3
#define VIP_TCP "198.18.2.100"
#define VIP_UDP "198.18.2.103"
#define F_SYN 0x02
#define F_ACK 0x10

struct sfix {
	struct fix *x;
	struct flow_table rt;     /* the replica */
	void *rmem;
	struct sess_replica rep;
	struct sess_tab_stats st;
	struct rte_ring *ring;
};

static struct sfix *
sfix_new(void)
{
	struct halb_cfg *cfg = conf_load(HALB_SRCDIR "/tests/pkt/pkt.conf");
	struct sfix *s = calloc(1, sizeof(*s));
	ssize_t rsz;
	size_t qsz;

	assert_non_null(s);
	s->x = fix_new(cfg, 1024);
	assert_int_equal(cls_health_init(&s->x->c), 0);
	s->rmem = aligned_alloc(64, flow_table_mem_size(1024));
	assert_non_null(s->rmem);
	flow_table_init(&s->rt, s->rmem, 1024, 0);
	s->x->c.shm->replica = s->rt;
	s->x->c.shm->has_sessions = 1;
	qsz = rte_rcu_qsbr_get_memsize(1);
	s->x->c.shm->replica_qsbr = aligned_alloc(64, (qsz + 63) & ~(size_t)63);
	assert_non_null(s->x->c.shm->replica_qsbr);
	assert_int_equal(rte_rcu_qsbr_init(s->x->c.shm->replica_qsbr, 1), 0);
	assert_int_equal(sess_replica_init(&s->rep, &s->x->c.shm->replica,
					   s->x->c.shm->replica_qsbr,
					   s->x->c.cfg, &s->st), 0);
	/* The ring in ordinary memory (no EAL): rte_ring_init lays it out,
	 * the _elem calls give the element size. */
	rsz = rte_ring_get_memsize_elem(sizeof(struct sess_ev), 256);
	assert_true(rsz > 0);
	s->ring = aligned_alloc(64, ((size_t)rsz + 63) & ~(size_t)63);
	assert_non_null(s->ring);
	assert_int_equal(rte_ring_init(s->ring, "test_sess", 256,
				       RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
	s->x->c.shm->sess_ring = s->ring;
	/* The classifier's side as main.c starts it: the ring, and the
	 * replica's reader online with the QSBR variable. */
	cls_sess_init(&s->x->c);
	assert_true(s->x->c.replica_on);
	assert_ptr_equal(s->x->c.sring, s->ring);
	return s;
}

static void
sfix_free(struct sfix *s)
{
	cls_sess_fini(&s->x->c);
	sess_replica_fini(&s->rep);
	free(s->x->c.shm->replica_qsbr);
	free(s->ring);
	free(s->rmem);
	fix_free(s->x);
	free(s);
}

/* Ethernet + IPv4 + TCP (flags) or UDP from 198.18.1.<client>:sport. */
static uint32_t
frame(uint8_t *f, uint32_t client, uint16_t sport, const char *vip,
      uint16_t dport, uint8_t proto, uint8_t flags)
{
	uint32_t l4 = proto == IPPROTO_TCP ? 20 : 9, sum = 0, i;
	uint8_t *ip = f + 14, *p = ip + 20;
	uint16_t tot = (uint16_t)(20 + l4), v;
	uint32_t src = htonl(0xc6120100u | (client & 0xff));

	memset(f, 0, 14 + tot);
	memcpy(f, "\x02\x68\x00\x00\x00\x02\x02\x68\x00\x00\x00\xfe\x08\x00", 14);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	assert_int_equal(inet_pton(AF_INET, vip, ip + 16), 1);
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	v = (uint16_t)~sum;
	ip[10] = (uint8_t)(v >> 8);
	ip[11] = (uint8_t)v;
	p[0] = (uint8_t)(sport >> 8);
	p[1] = (uint8_t)sport;
	p[2] = (uint8_t)(dport >> 8);
	p[3] = (uint8_t)dport;
	if (proto == IPPROTO_TCP) {
		p[12] = 5 << 4;
		p[13] = flags;
		p[15] = 0xff;
	} else {
		p[5] = 9;
		p[8] = 'q';
	}
	return 14u + tot;
}

static struct flow_key
key_of(const uint8_t *f, uint32_t len, uint32_t *hash)
{
	struct pkt_info pi;

	assert_int_equal(pkt_parse(f, len, &pi), PKT_OK);
	if (hash != NULL)
		*hash = pkt_flow_hash(&pi.key);
	return pi.key;
}

static uint16_t
maglev_of(const struct fix *x, uint32_t s, uint32_t hash)
{
	const struct halb_mh_shm *mh = &x->c.shm->mh[s];

	return mh_lookup(mh->table[mh->cur], mh->size, hash);
}

/* ---- index <-> record ---- */

static void
test_map(void **state)
{
	struct sfix *s = sfix_new();
	const struct halb_cfg *cfg = s->x->c.cfg;
	uint8_t f[128];
	uint32_t len = frame(f, 7, 40000, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	struct flow_key k = key_of(f, len, NULL);
	struct sess_rec r;
	uint16_t svc, be;

	(void)state;
	assert_int_equal(sess_rec_from_local(cfg, &k, SVC_TCP, 1, &r), 0);
	assert_memory_equal(r.be_addr, cfg->services[SVC_TCP].backends[1].ip.b, 16);
	assert_int_equal(r.be_port, 80);
	assert_memory_equal(&r.key, &k, sizeof(k));
	assert_int_equal(sess_rec_to_local(cfg, &s->x->c.svcs, &r, &svc, &be), 0);
	assert_int_equal(svc, SVC_TCP);
	assert_int_equal(be, 1);
	/* Indices this file does not have. */
	assert_int_equal(sess_rec_from_local(cfg, &k, SVC_TCP, 3, &r), -EINVAL);
	assert_int_equal(sess_rec_from_local(cfg, &k, CFG_MAX_SERVICES - 1, 0, &r),
			 -EINVAL);
	/* Another port of the same address is another backend. */
	assert_int_equal(sess_rec_from_local(cfg, &k, SVC_TCP, 2, &r), 0);
	r.be_port = 81;
	assert_int_equal(sess_rec_to_local(cfg, &s->x->c.svcs, &r, &svc, &be), -ESRCH);
	r.be_port = 80;
	r.be_addr[15] = 99; /* 198.18.0.99: not a backend here */
	assert_int_equal(sess_rec_to_local(cfg, &s->x->c.svcs, &r, &svc, &be), -ESRCH);
	/* A VIP this appliance does not serve. */
	assert_int_equal(sess_rec_from_local(cfg, &k, SVC_TCP, 0, &r), 0);
	r.key.dport = htons(81);
	assert_int_equal(sess_rec_to_local(cfg, &s->x->c.svcs, &r, &svc, &be), -ENOENT);
	/* A backend of port 0 is sent to the packet's port: that is its
	 * port on the wire, both ways. */
	len = frame(f, 7, 40000, "198.18.2.102", 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, NULL);
	assert_int_equal(sess_rec_from_local(cfg, &k, SVC_TUN, 2, &r), 0);
	assert_int_equal(r.be_port, 80);
	assert_int_equal(sess_rec_to_local(cfg, &s->x->c.svcs, &r, &svc, &be), 0);
	assert_int_equal(svc, SVC_TUN);
	assert_int_equal(be, 2);
	sfix_free(s);
}

/* ---- the replica: sessiond writes, the classifier reads ---- */

static void
test_replica_miss(void **state)
{
	struct sfix *s = sfix_new();
	struct cls_stats *st = &s->x->c.shm->cls;
	uint8_t f[128];
	uint32_t len, hash, usr = 0;
	struct flow_key k;
	uint16_t m, b;

	(void)state;
	/* A mid-connection ACK whose session a peer decided. */
	len = frame(f, 9, 41000, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, &hash);
	m = maglev_of(s->x, SVC_TCP, hash);
	b = (uint16_t)((m + 1) % 3);
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, b, FLOW_ST_EST, 0,
					  50, 1000), 0);
	assert_int_equal(sess_replica_count(&s->rep), 1);
	assert_true(cls_decide(&s->x->c, 0, f, len, &usr));
	assert_int_equal(HALB_RET_BACKEND(usr), b);
	assert_int_equal(st->replica, 1);
	assert_int_equal(st->kept, 0);
	assert_int_equal(st->installs, 1);

	/* The same for UDP, which has no opening packet. */
	len = frame(f, 10, 41001, VIP_UDP, 53, IPPROTO_UDP, 0);
	k = key_of(f, len, &hash);
	b = (uint16_t)((maglev_of(s->x, SVC_UDP, hash) + 2) % 3);
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_UDP, b, FLOW_ST_UDP, 0,
					  0, 1000), 0);
	assert_true(cls_decide(&s->x->c, 0, f, len, &usr));
	assert_int_equal(HALB_RET_BACKEND(usr), b);
	assert_int_equal(st->replica, 2);

	/* An opening SYN is a new connection: the scheduler's, whatever
	 * the replica holds for its 5-tuple. */
	len = frame(f, 11, 41002, VIP_TCP, 80, IPPROTO_TCP, F_SYN);
	k = key_of(f, len, &hash);
	m = maglev_of(s->x, SVC_TCP, hash);
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, (uint16_t)((m + 1) % 3),
					  FLOW_ST_EST, 0, 0, 1000), 0);
	assert_true(cls_decide(&s->x->c, 0, f, len, &usr));
	assert_int_equal(HALB_RET_BACKEND(usr), m);
	assert_int_equal(st->replica, 2);

	/* Without a record: what it did before (Maglev, counted kept). */
	len = frame(f, 12, 41003, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, &hash);
	assert_true(cls_decide(&s->x->c, 0, f, len, &usr));
	assert_int_equal(HALB_RET_BACKEND(usr), maglev_of(s->x, SVC_TCP, hash));
	assert_int_equal(st->kept, 1);
	sfix_free(s);
}

/* A record whose backend is down follows the service's down_flows:
 * "reset" (evict) decides as without a record, "keep" keeps it. */
static void
test_replica_down(void **state)
{
	struct sfix *s = sfix_new();
	uint8_t f[128];
	uint32_t len, hash, usr = 0;
	struct flow_key k;
	uint16_t m, b;

	(void)state;
	len = frame(f, 20, 42000, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, &hash);
	m = maglev_of(s->x, SVC_TCP, hash);
	b = (uint16_t)((m + 1) % 3);
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, b, FLOW_ST_EST, 0,
					  0, 1000), 0);
	s->x->c.evict[SVC_TCP][b] = true;
	assert_true(cls_decide(&s->x->c, 0, f, len, &usr));
	assert_int_equal(HALB_RET_BACKEND(usr), m);
	assert_int_equal(s->x->c.shm->cls.replica_down, 1);
	assert_int_equal(s->x->c.shm->cls.replica, 0);

	/* "keep": down, but not evicted: the record holds. */
	len = frame(f, 21, 42001, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, &hash);
	m = maglev_of(s->x, SVC_TCP, hash);
	b = (uint16_t)((m + 2) % 3);
	s->x->c.evict[SVC_TCP][b] = false;
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, b, FLOW_ST_EST, 0,
					  0, 1000), 0);
	assert_true(cls_decide(&s->x->c, 0, f, len, &usr));
	assert_int_equal(HALB_RET_BACKEND(usr), b);
	sfix_free(s);
}

/* Writes: refresh in place, a new decision as a new entry, DOWN, full. */
static void
test_replica_writes(void **state)
{
	struct sfix *s = sfix_new();
	const struct flow_entry *e, *e2;
	uint8_t f[128];
	uint32_t len, hash, i;
	struct flow_key k;

	(void)state;
	len = frame(f, 30, 43000, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, &hash);
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 1, FLOW_ST_SYN, 2,
					  100, 5000), 0);
	e = flow_lookup(&s->rt, &k, hash);
	assert_non_null(e);
	assert_int_equal(e->backend, 1);
	assert_int_equal(e->state, FLOW_ST_SYN);
	assert_int_equal(e->last_seen, 4900);
	assert_int_equal(e->flags, 2);
	/* The owner's state moved: the same entry. */
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 1, FLOW_ST_EST, 2,
					  0, 6000), 0);
	e2 = flow_lookup(&s->rt, &k, hash);
	assert_ptr_equal(e2, e);
	assert_int_equal(e->state, FLOW_ST_EST);
	assert_int_equal(e->last_seen, 6000);
	/* A new decision for the 5-tuple: another entry, never an edit;
	 * the old one waits for the classifier's grace period. */
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 2, FLOW_ST_SYN, 2,
					  0, 7000), 0);
	e2 = flow_lookup(&s->rt, &k, hash);
	assert_non_null(e2);
	assert_ptr_not_equal(e2, e);
	assert_int_equal(e2->backend, 2);
	assert_int_equal(sess_replica_count(&s->rep), 1);
	assert_int_equal(s->rep.w.pend_tail - s->rep.w.pend_head, 1);
	assert_int_equal(flow_reclaim(&s->rep.w), 0);
	cls_sess_turn(&s->x->c, 0); /* the classifier's quiescent state */
	assert_int_equal(flow_reclaim(&s->rep.w), 1);
	/* DOWN. */
	assert_int_equal(sess_replica_del(&s->rep, &k), 0);
	assert_null(flow_lookup(&s->rt, &k, hash));
	assert_int_equal(sess_replica_del(&s->rep, &k), -ENOENT);
	assert_int_equal(s->st.replica_dels, 1);
	/* Full: refused and counted, nothing else lost. */
	cls_sess_turn(&s->x->c, 0);
	for (i = 0; i < 2000; i++) {
		len = frame(f, 40 + i / 60000, (uint16_t)(1000 + i), VIP_TCP, 80,
			    IPPROTO_TCP, F_ACK);
		k = key_of(f, len, NULL);
		sess_replica_put(&s->rep, &k, SVC_TCP, 0, FLOW_ST_EST, 0, 0, 8000);
	}
	assert_true(s->st.replica_full > 0);
	assert_int_equal(sess_replica_count(&s->rep), 2000 - s->st.replica_full);
	sfix_free(s);
}

/* Expiry: a live owner's records stay; a dead owner's age from when it
 * was last heard; a resync's leftovers go. */
static void
test_replica_expire(void **state)
{
	struct sfix *s = sfix_new();
	const struct halb_cfg *cfg = s->x->c.cfg;
	uint32_t tcp = cfg->tcp_timeout_ms, nb = s->rt.n_buckets;
	uint8_t f[128];
	uint32_t len, hash, h2;
	struct flow_key k, k2;

	(void)state;
	len = frame(f, 50, 44000, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, &hash);
	len = frame(f, 51, 44001, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k2 = key_of(f, len, &h2);
	s->rep.alive[0] = true;
	s->rep.heard_ms[0] = 1000;
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 0, FLOW_ST_EST, 0,
					  0, 1000), 0);
	/* Alive: kept however idle (its owner says when it ends). */
	assert_int_equal(sess_replica_expire(&s->rep, nb, 1000 + 2 * tcp), 0);
	assert_non_null(flow_lookup(&s->rt, &k, hash));
	/* Dead, last heard at 1000 + 2 tcp: kept until tcp after that. */
	s->rep.alive[0] = false;
	s->rep.heard_ms[0] = 1000 + 2 * tcp;
	assert_int_equal(sess_replica_expire(&s->rep, nb, 1000 + 3 * tcp - 1), 0);
	assert_non_null(flow_lookup(&s->rt, &k, hash));
	assert_int_equal(sess_replica_expire(&s->rep, nb, 1000 + 3 * tcp), 1);
	assert_null(flow_lookup(&s->rt, &k, hash));
	assert_int_equal(s->st.replica_expired, 1);

	/* A resync of owner 1 that began at 20000 refreshed k2 only. */
	s->rep.alive[1] = true;
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 0, FLOW_ST_EST, 1,
					  0, 19000), 0);
	assert_int_equal(sess_replica_put(&s->rep, &k2, SVC_TCP, 0, FLOW_ST_EST, 1,
					  0, 20500), 0);
	s->rep.stale_before[1] = 20000 + 1;
	assert_int_equal(sess_replica_expire(&s->rep, nb, 21000), 1);
	assert_null(flow_lookup(&s->rt, &k, hash));
	assert_non_null(flow_lookup(&s->rt, &k2, h2));
	sfix_free(s);
}

/* ---- events: classifier -> ring -> sessiond's own table ---- */

static uint32_t
take(struct sfix *s, struct sess_ev *evs, uint32_t max)
{
	return rte_ring_sc_dequeue_burst_elem(s->ring, evs, sizeof(*evs), max, NULL);
}

static void
test_events(void **state)
{
	struct sfix *s = sfix_new();
	struct cls *c = &s->x->c;
	struct sess_ev evs[64];
	struct sess_own own;
	struct flow_entry *e;
	uint8_t f[128];
	uint32_t len, hash, usr, n, i;
	struct flow_key k;

	(void)state;
	assert_int_equal(sess_own_init(&own, 1024), 0);
	/* An install, buffered until the turn's flush. */
	len = frame(f, 60, 45000, VIP_TCP, 80, IPPROTO_TCP, F_SYN);
	k = key_of(f, len, &hash);
	assert_true(cls_decide(c, 0, f, len, &usr));
	assert_int_equal(take(s, evs, 64), 0);
	cls_sess_flush(c);
	n = take(s, evs, 64);
	assert_int_equal(n, 1);
	assert_int_equal(evs[0].type, SESS_EV_INSTALL);
	assert_memory_equal(&evs[0].key, &k, sizeof(k));
	assert_int_equal(evs[0].backend, HALB_RET_BACKEND(usr));
	assert_int_equal(evs[0].state, FLOW_ST_SYN);
	assert_non_null(sess_own_put(&own, &evs[0], 1000, &s->st));
	assert_int_equal(sess_own_count(&own), 1);

	/* The worker saw the handshake complete: the sweep tells it once. */
	e = flow_lookup(c->fw[0].t, &k, hash);
	assert_non_null(e);
	e->state = FLOW_ST_EST;
	e->last_seen = c->now_ms;
	cls_sweep_start(c, 0, 0);
	cls_housekeep(c, 0, s->x->c.shm->tsc_hz); /* a whole sweep */
	cls_housekeep(c, 0, 2 * s->x->c.shm->tsc_hz);
	cls_sess_flush(c);
	n = take(s, evs, 64);
	assert_int_equal(n, 1);
	assert_int_equal(evs[0].type, SESS_EV_STATE);
	assert_int_equal(evs[0].state, FLOW_ST_EST);

	/* A dump on request: every live flow, then the request cleared. */
	len = frame(f, 61, 45001, VIP_UDP, 53, IPPROTO_UDP, 0);
	assert_true(cls_decide(c, 0, f, len, &usr));
	cls_sess_flush(c);
	assert_int_equal(take(s, evs, 64), 1);
	c->shm->sess_dump_req = 7;
	for (i = 0; i < 64 && c->shm->sess_dump_req != 0; i++)
		cls_sess_turn(c, 0);
	assert_int_equal(c->shm->sess_dump_req, 0);
	n = take(s, evs, 64);
	assert_int_equal(n, 2);
	assert_int_equal(evs[0].type, SESS_EV_DUMP);
	assert_int_equal(evs[1].type, SESS_EV_DUMP);
	assert_int_equal(c->shm->cls.sess_dumped, 2);
	for (i = 0; i < n; i++)
		assert_non_null(sess_own_put(&own, &evs[i], 3000, &s->st));
	assert_int_equal(sess_own_count(&own), 2);

	/* Idle past every timeout: removed, told. */
	c->now_ms += 1000000;
	cls_housekeep(c, 0, 3 * s->x->c.shm->tsc_hz);
	cls_sess_flush(c);
	n = take(s, evs, 64);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(evs[i].type, SESS_EV_REMOVE);
		assert_true(sess_own_remove(&own, &evs[i]));
	}
	assert_int_equal(sess_own_count(&own), 0);

	/* A full ring drops and counts, never waits. */
	for (i = 0; i < 300; i++) {
		len = frame(f, 62, (uint16_t)(46000 + i), VIP_TCP, 80, IPPROTO_TCP, F_SYN);
		assert_true(cls_decide(c, 0, f, len, &usr));
	}
	cls_sess_flush(c);
	assert_true(c->shm->cls.sess_ring_full > 0);
	assert_int_equal(c->shm->cls.sess_events + c->shm->cls.sess_ring_full,
			 1 + 1 + 1 + 2 + 2 + 300);
	sess_own_fini(&own);
	sfix_free(s);
}

/* sessiond's own table: a session two workers hold ends with the last;
 * a resync ends what the tables no longer hold. */
static void
gone_cb(void *arg, const struct flow_entry *e)
{
	(void)e;
	(*(uint32_t *)arg)++;
}

static void
test_own(void **state)
{
	struct sess_tab_stats st = { 0 };
	struct sess_ev ev = { 0 };
	struct sess_own own;
	uint32_t gone = 0;

	(void)state;
	assert_int_equal(sess_own_init(&own, 1024), 0);
	ev.key.proto = 6;
	ev.key.sport = htons(1);
	ev.type = SESS_EV_INSTALL;
	ev.worker = 0;
	assert_non_null(sess_own_put(&own, &ev, 100, &st));
	ev.worker = 1;
	assert_non_null(sess_own_put(&own, &ev, 100, &st));
	assert_int_equal(sess_own_count(&own), 1);
	ev.type = SESS_EV_REMOVE;
	assert_false(sess_own_remove(&own, &ev));
	ev.worker = 0;
	assert_true(sess_own_remove(&own, &ev));
	assert_int_equal(sess_own_count(&own), 0);
	/* Unknown here (lost in an overflow): still told to the peers. */
	assert_true(sess_own_remove(&own, &ev));

	ev.type = SESS_EV_DUMP;
	assert_non_null(sess_own_put(&own, &ev, 100, &st));
	ev.key.sport = htons(2);
	assert_non_null(sess_own_put(&own, &ev, 300, &st));
	assert_int_equal(sess_own_sweep(&own, 200, gone_cb, &gone), 1);
	assert_int_equal(gone, 1);
	assert_int_equal(sess_own_count(&own), 1);
	sess_own_fini(&own);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_replica_miss),
		cmocka_unit_test(test_replica_down),
		cmocka_unit_test(test_replica_writes),
		cmocka_unit_test(test_replica_expire),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_own),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
