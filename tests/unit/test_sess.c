/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session tracker on one appliance, without DPDK processes:
 *  - the mapping between local indices and records (session/sess_map.c);
 *  - the replica table as halb-sessiond writes it (put, replace, delete,
 *    expiry by its owner's liveness and resync; session/sess_tab.c) and
 *    as the classifier reads it on a mid-connection miss (decide.c with
 *    sess.c cls_replica_pick), down_flows included;
 *  - the classifier's session events (install, state change, removal,
 *    dump) on a ring, and halb-sessiond's own table built from them;
 *  - a request router's bound connections (docs/REQUESTS.md, "Several
 *    appliances"): its events spliced with their sequence delta, the own
 *    table's resync per kind, the replica's spliced records and their
 *    delta in its aux words.
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
#include "halb/cfg_reload.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "halb/pkt.h"
#include "halb/shm.h"
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
	/* halb-sessiond's slots: a file of its own, following the view as
	 * the classifier's does (session/sess_map.c). */
	struct halb_cfg *scfg;
	struct sess_map map;
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
	s->scfg = conf_load(HALB_SRCDIR "/tests/pkt/pkt.conf");
	assert_int_equal(sess_map_init(&s->map, s->scfg), 0);
	assert_int_equal(sess_replica_init(&s->rep, &s->x->c.shm->replica,
					   s->x->c.shm->replica_qsbr,
					   &s->map, &s->st), 0);
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
	assert_ptr_equal(s->x->c.sq.ring, s->ring);
	return s;
}

static void
sfix_free(struct sfix *s)
{
	cls_sess_fini(&s->x->c);
	sess_replica_fini(&s->rep);
	sess_map_fini(&s->map);
	cfg_free(s->scfg);
	free(s->x->c.shm->replica_qsbr);
	free(s->ring);
	free(s->rmem);
	fix_free(s->x);
	free(s);
}

/* The tag halb-sessiond gives slot (svc, b) of the view it follows. */
static uint32_t
tag_of(const struct sfix *s, uint16_t svc, uint16_t b)
{
	return sess_map_tag(&s->map, svc, b);
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
	uint32_t tag;

	(void)state;
	memset(&r, 0xa5, sizeof(r)); /* every field not filled is 0 */
	assert_int_equal(sess_rec_from_local(&s->map, &k, SVC_TCP, 1, &r), 0);
	assert_true(r.spliced == 0 && r.seq_delta == 0 && r.unowned == 0 &&
		    r.op == 0 && r.state == 0 && r.idle_ms == 0);
	assert_memory_equal(r.be_addr, cfg->services[SVC_TCP].backends[1].ip.b, 16);
	assert_int_equal(r.be_port, 80);
	assert_memory_equal(&r.key, &k, sizeof(k));
	assert_int_equal(sess_rec_to_local(&s->map, &r, &svc, &be, &tag), 0);
	assert_int_equal(svc, SVC_TCP);
	assert_int_equal(be, 1);
	assert_int_equal(tag, halb_slot_tag(s->x->c.shm->health_id[SVC_TCP][1]));
	/* Indices this file does not have. */
	assert_int_equal(sess_rec_from_local(&s->map, &k, SVC_TCP, 3, &r), -EINVAL);
	assert_int_equal(sess_rec_from_local(&s->map, &k, CFG_MAX_SERVICES - 1, 0, &r),
			 -EINVAL);
	/* Another port of the same address is another backend. */
	assert_int_equal(sess_rec_from_local(&s->map, &k, SVC_TCP, 2, &r), 0);
	r.be_port = 81;
	assert_int_equal(sess_rec_to_local(&s->map, &r, &svc, &be, &tag), -ESRCH);
	r.be_port = 80;
	r.be_addr[15] = 99; /* 198.18.0.99: not a backend here */
	assert_int_equal(sess_rec_to_local(&s->map, &r, &svc, &be, &tag), -ESRCH);
	/* A VIP this appliance does not serve. */
	assert_int_equal(sess_rec_from_local(&s->map, &k, SVC_TCP, 0, &r), 0);
	r.key.dport = htons(81);
	assert_int_equal(sess_rec_to_local(&s->map, &r, &svc, &be, &tag), -ENOENT);
	/* A backend of port 0 is sent to the packet's port: that is its
	 * port on the wire, both ways. */
	len = frame(f, 7, 40000, "198.18.2.102", 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, NULL);
	assert_int_equal(sess_rec_from_local(&s->map, &k, SVC_TUN, 2, &r), 0);
	assert_int_equal(r.be_port, 80);
	assert_int_equal(sess_rec_to_local(&s->map, &r, &svc, &be, &tag), 0);
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
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, b,
					  tag_of(s, SVC_TCP, b), FLOW_ST_EST, 0,
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
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_UDP, b,
					  tag_of(s, SVC_UDP, b), FLOW_ST_UDP, 0,
					  0, 1000), 0);
	assert_true(cls_decide(&s->x->c, 0, f, len, &usr));
	assert_int_equal(HALB_RET_BACKEND(usr), b);
	assert_int_equal(st->replica, 2);

	/* An opening SYN is a new connection: the scheduler's, whatever
	 * the replica holds for its 5-tuple. */
	len = frame(f, 11, 41002, VIP_TCP, 80, IPPROTO_TCP, F_SYN);
	k = key_of(f, len, &hash);
	m = maglev_of(s->x, SVC_TCP, hash);
	b = (uint16_t)((m + 1) % 3);
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, b,
					  tag_of(s, SVC_TCP, b), FLOW_ST_EST, 0,
					  0, 1000), 0);
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
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, b,
					  tag_of(s, SVC_TCP, b), FLOW_ST_EST, 0,
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
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, b,
					  tag_of(s, SVC_TCP, b), FLOW_ST_EST, 0,
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
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 1,
					  tag_of(s, SVC_TCP, 1), FLOW_ST_SYN, 2,
					  100, 5000), 0);
	e = flow_lookup(&s->rt, &k, hash);
	assert_non_null(e);
	assert_int_equal(e->backend, 1);
	assert_int_equal(e->state, FLOW_ST_SYN);
	assert_int_equal(e->last_seen, 4900);
	assert_int_equal(e->flags, 2);
	/* The owner's state moved: the same entry. */
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 1,
					  tag_of(s, SVC_TCP, 1), FLOW_ST_EST, 2,
					  0, 6000), 0);
	e2 = flow_lookup(&s->rt, &k, hash);
	assert_ptr_equal(e2, e);
	assert_int_equal(e->state, FLOW_ST_EST);
	assert_int_equal(e->last_seen, 6000);
	/* A new decision for the 5-tuple: another entry, never an edit;
	 * the old one waits for the classifier's grace period. */
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 2,
					  tag_of(s, SVC_TCP, 2), FLOW_ST_SYN, 2,
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
		sess_replica_put(&s->rep, &k, SVC_TCP, 0, tag_of(s, SVC_TCP, 0),
				 FLOW_ST_EST, 0, 0, 8000);
	}
	assert_true(s->st.replica_full > 0);
	assert_int_equal(sess_replica_count(&s->rep), 2000 - s->st.replica_full);
	sfix_free(s);
}

/* An established record of SVC_TCP's backend be, owned by p, idle idle
 * ms at now, into the replica. */
static int
rput(struct sfix *s, const struct flow_key *k, uint16_t be, unsigned int p,
     uint32_t idle, uint32_t now)
{
	return sess_replica_put(&s->rep, k, SVC_TCP, be, tag_of(s, SVC_TCP, be),
				FLOW_ST_EST, p, idle, now);
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
	assert_int_equal(rput(s, &k, 0, 0, 0, 1000), 0);
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
	assert_int_equal(rput(s, &k, 0, 1, 0, 19000), 0);
	assert_int_equal(rput(s, &k2, 0, 1, 0, 20500), 0);
	s->rep.stale_before[1] = 20000 + 1;
	assert_int_equal(sess_replica_expire(&s->rep, nb, 21000), 1);
	assert_null(flow_lookup(&s->rt, &k, hash));
	assert_non_null(flow_lookup(&s->rt, &k2, h2));
	sfix_free(s);
}

/* A peer that restarted without some of its sessions: those become no
 * one's (SESS_R_UNOWNED), still read by a miss, aging from then as a
 * dead owner's; an unowned record received fills a gap only. */
static void
test_replica_disown(void **state)
{
	struct sfix *s = sfix_new();
	const struct halb_cfg *cfg = s->x->c.cfg;
	uint32_t tcp = cfg->tcp_timeout_ms, nb = s->rt.n_buckets;
	uint8_t f[128];
	uint32_t len, hash, h2, h3;
	struct flow_key k, k2, k3;
	const struct flow_entry *e;

	(void)state;
	len = frame(f, 60, 45000, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k = key_of(f, len, &hash);
	len = frame(f, 61, 45001, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k2 = key_of(f, len, &h2);
	len = frame(f, 62, 45002, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	k3 = key_of(f, len, &h3);
	s->rep.alive[0] = s->rep.alive[1] = true;
	/* Owner 1's k (before its restart) and k2 (sent again by its new
	 * life's dump, which began at 20000); owner 0's k3. */
	assert_int_equal(rput(s, &k, 0, 1, 0, 19000), 0);
	assert_int_equal(rput(s, &k2, 1, 1, 0, 20500), 0);
	assert_int_equal(rput(s, &k3, 0, 0, 0, 19000), 0);
	assert_int_equal(sess_replica_disown(&s->rep, 1, 20000, 21000), 1);
	assert_int_equal(s->st.replica_disowned, 1);
	e = flow_lookup(&s->rt, &k, hash);
	assert_non_null(e);
	assert_int_equal(e->flags & SESS_R_OWNER, SESS_R_UNOWNED);
	assert_int_equal(e->backend, 0);
	assert_int_equal(flow_lookup(&s->rt, &k2, h2)->flags & SESS_R_OWNER, 1);
	assert_int_equal(flow_lookup(&s->rt, &k3, h3)->flags & SESS_R_OWNER, 0);
	/* No one's: kept while idle less than tcp from the disowning,
	 * though every owner lives. */
	assert_int_equal(sess_replica_expire(&s->rep, nb, 21000 + tcp - 1), 0);
	assert_non_null(flow_lookup(&s->rt, &k, hash));
	/* An unowned record of a tuple held changes nothing; of k (gone
	 * by then, aged out) it is kept as no one's. */
	assert_int_equal(rput(s, &k2, 0, SESS_R_UNOWNED, 0, 21500), 0);
	e = flow_lookup(&s->rt, &k2, h2);
	assert_int_equal(e->backend, 1);
	assert_int_equal(e->flags & SESS_R_OWNER, 1);
	assert_int_equal(sess_replica_expire(&s->rep, nb, 21000 + tcp), 1);
	assert_null(flow_lookup(&s->rt, &k, hash));
	assert_int_equal(rput(s, &k, 1, SESS_R_UNOWNED, 0, 22000 + tcp), 0);
	e = flow_lookup(&s->rt, &k, hash);
	assert_non_null(e);
	assert_int_equal(e->flags & SESS_R_OWNER, SESS_R_UNOWNED);
	/* An owner's record of it takes it back. */
	assert_int_equal(rput(s, &k, 1, 0, 0, 22100 + tcp), 0);
	assert_int_equal(flow_lookup(&s->rt, &k, hash)->flags & SESS_R_OWNER, 0);
	/* An unowned record's age comes with it (idle_ms), so that one
	 * passed back and forth still ages out. */
	assert_int_equal(sess_replica_del(&s->rep, &k), 0);
	assert_int_equal(rput(s, &k, 1, SESS_R_UNOWNED, tcp - 10, 30000 + tcp), 0);
	assert_int_equal(sess_replica_expire(&s->rep, nb, 30000 + tcp + 9), 0);
	assert_int_equal(sess_replica_expire(&s->rep, nb, 30000 + tcp + 10), 1);
	assert_null(flow_lookup(&s->rt, &k, hash));
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
	sess_evq_flush(&c->sq);
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
	sess_evq_flush(&c->sq);
	n = take(s, evs, 64);
	assert_int_equal(n, 1);
	assert_int_equal(evs[0].type, SESS_EV_STATE);
	assert_int_equal(evs[0].state, FLOW_ST_EST);

	/* A dump on request: every live flow, then the request cleared. */
	len = frame(f, 61, 45001, VIP_UDP, 53, IPPROTO_UDP, 0);
	assert_true(cls_decide(c, 0, f, len, &usr));
	sess_evq_flush(&c->sq);
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
	sess_evq_flush(&c->sq);
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
	sess_evq_flush(&c->sq);
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
	assert_int_equal(sess_own_sweep(&own, 200, false, gone_cb, &gone), 1);
	assert_int_equal(gone, 1);
	assert_int_equal(sess_own_count(&own), 1);
	sess_own_fini(&own);
}

/* ---- request-routed (spliced) connections ---- */

/* The router's producer side: every event spliced, with the entry's tag
 * (its sequence delta); a state the workers moved is told once. */
static void
test_events_l7(void **state)
{
	struct sfix *s = sfix_new();
	struct l7_stats l7 = { 0 };
	struct flow_table t;
	struct flow_writer fw;
	struct sess_ev evs[8];
	struct sess_evq q;
	struct flow_key k;
	void *mem;
	int rc;

	(void)state;
	mem = aligned_alloc(64, flow_table_mem_size(64));
	assert_non_null(mem);
	flow_table_init(&t, mem, 64, 0);
	assert_int_equal(flow_writer_init(&fw, &t, NULL), 0);
	memset(&k, 0, sizeof(k));
	k.proto = 6;
	k.sport = htons(4242);
	rc = flow_insert_tag(&fw, &k, pkt_flow_hash(&k), 1, 2, FLOW_ST_EST, 10,
			     0xfedcba98u, NULL);
	assert_true(rc >= 0);
	t.entries[rc].flags = (uint8_t)(SESS_F_REPORTED | FLOW_ST_EST);
	sess_evq_init_l7(&q, s->ring, &l7);
	sess_evq_add(&q, 0, &t.entries[rc], SESS_EV_INSTALL, 20);
	sess_evq_moved(&q, &t, 0, &t.entries[rc], 30); /* nothing moved */
	t.entries[rc].state = FLOW_ST_FIN;
	sess_evq_moved(&q, &t, 0, &t.entries[rc], 40);
	sess_evq_moved(&q, &t, 0, &t.entries[rc], 50); /* told already */
	sess_evq_flush(&q);
	assert_int_equal(take(s, evs, 8), 2);
	assert_int_equal(l7.sess_events, 2);
	assert_int_equal(evs[0].type, SESS_EV_INSTALL);
	assert_int_equal(evs[0].flags, SESS_EV_F_SPLICED);
	assert_int_equal(evs[0].delta, 0xfedcba98u);
	assert_int_equal(evs[0].svc, 1);
	assert_int_equal(evs[0].backend, 2);
	assert_int_equal(evs[1].type, SESS_EV_STATE);
	assert_int_equal(evs[1].state, FLOW_ST_FIN);
	assert_int_equal(evs[1].delta, 0xfedcba98u);
	/* The classifier's are not. */
	sess_evq_init(&q, s->ring, &s->x->c.shm->cls);
	sess_evq_add(&q, 0, &t.entries[rc], SESS_EV_DUMP, 60);
	sess_evq_flush(&q);
	assert_int_equal(take(s, evs, 8), 1);
	assert_int_equal(evs[0].flags, 0);
	assert_int_equal(evs[0].delta, 0);
	flow_writer_fini(&fw);
	free(mem);
	sfix_free(s);
}

/* sessiond's own table keeps the marker and the delta; a resync from
 * the router's table ends only spliced sessions, one from the
 * classifier's only the others. */
static void
test_own_spliced(void **state)
{
	struct sess_tab_stats st = { 0 };
	struct sess_ev ev = { 0 };
	struct flow_entry *e;
	struct sess_own own;
	uint32_t gone = 0;

	(void)state;
	assert_int_equal(sess_own_init(&own, 1024), 0);
	ev.key.proto = 6;
	ev.type = SESS_EV_INSTALL;
	ev.key.sport = htons(1);   /* plain, refreshed at 100 */
	assert_non_null(sess_own_put(&own, &ev, 100, &st));
	ev.key.sport = htons(2);   /* spliced, refreshed at 100 */
	ev.flags = SESS_EV_F_SPLICED;
	ev.delta = 0x12345678;
	e = sess_own_put(&own, &ev, 100, &st);
	assert_non_null(e);
	assert_int_equal(e->flags, SESS_R_SPLICED);
	assert_int_equal(e->tag, 0x12345678);
	ev.key.sport = htons(3);   /* spliced, refreshed at 300 */
	assert_non_null(sess_own_put(&own, &ev, 300, &st));
	assert_int_equal(sess_own_count(&own), 3);
	assert_int_equal(sess_own_sweep(&own, 200, true, gone_cb, &gone), 1);
	assert_int_equal(sess_own_count(&own), 2);
	assert_int_equal(sess_own_sweep(&own, 200, false, gone_cb, &gone), 1);
	assert_int_equal(sess_own_count(&own), 1);
	assert_int_equal(gone, 2);
	sess_own_fini(&own);
}

/* The replica's spliced records: the marker and the owner in flags, the
 * delta in the aux word, all before the entry is published; a refresh
 * keeps the entry (the owner may change), a new delta or a change of
 * kind is a new entry. */
static void
test_replica_spliced(void **state)
{
	struct sfix *s = sfix_new();
	struct flow_table *t = s->rep.w.t;
	const struct flow_entry *e, *e2;
	uint32_t *aux = calloc(1024, sizeof(*aux));
	struct flow_key k;
	uint32_t hash;

	(void)state;
	assert_non_null(aux);
	/* Without aux words, a table gives 0. */
	memset(&k, 0, sizeof(k));
	k.proto = 6;
	k.sport = htons(777);
	hash = pkt_flow_hash(&k);
	assert_int_equal(sess_replica_put_spliced(&s->rep, &k, SVC_TCP, 1,
						  tag_of(s, SVC_TCP, 1),
						  FLOW_ST_EST, 3, 0, 1000, 55), 0);
	e = flow_lookup(t, &k, hash);
	assert_non_null(e);
	assert_int_equal(e->flags, SESS_R_SPLICED | 3);
	assert_int_equal(flow_aux(t, e), 0);
	t->aux = aux;
	k.sport = htons(778);
	hash = pkt_flow_hash(&k);
	assert_int_equal(sess_replica_put_spliced(&s->rep, &k, SVC_TCP, 1,
						  tag_of(s, SVC_TCP, 1),
						  FLOW_ST_EST, 1, 0, 1000,
						  0xdeadbeefu), 0);
	e = flow_lookup(t, &k, hash);
	assert_non_null(e);
	assert_int_equal(e->flags, SESS_R_SPLICED | 1);
	assert_int_equal(flow_aux(t, e), 0xdeadbeefu);
	assert_int_equal(e->tag, tag_of(s, SVC_TCP, 1));
	/* Refreshed by another owner: the same entry, still spliced. */
	assert_int_equal(sess_replica_put_spliced(&s->rep, &k, SVC_TCP, 1,
						  tag_of(s, SVC_TCP, 1),
						  FLOW_ST_FIN, 2, 0, 2000,
						  0xdeadbeefu), 0);
	e2 = flow_lookup(t, &k, hash);
	assert_ptr_equal(e2, e);
	assert_int_equal(e2->flags, SESS_R_SPLICED | 2);
	assert_int_equal(e2->state, FLOW_ST_FIN);
	/* A new delta (a new connection on the tuple): a new entry. */
	assert_int_equal(sess_replica_put_spliced(&s->rep, &k, SVC_TCP, 1,
						  tag_of(s, SVC_TCP, 1),
						  FLOW_ST_EST, 2, 0, 3000, 7), 0);
	e2 = flow_lookup(t, &k, hash);
	assert_non_null(e2);
	assert_ptr_not_equal(e2, e);
	assert_int_equal(flow_aux(t, e2), 7);
	/* A plain record for it: a new entry again, not spliced. */
	e = e2;
	assert_int_equal(sess_replica_put(&s->rep, &k, SVC_TCP, 1,
					  tag_of(s, SVC_TCP, 1), FLOW_ST_EST, 2,
					  0, 4000), 0);
	e2 = flow_lookup(t, &k, hash);
	assert_non_null(e2);
	assert_ptr_not_equal(e2, e);
	assert_int_equal(e2->flags, 2);
	assert_int_equal(flow_aux(t, e2), 0);
	/* The expiry scan reads the owner under the marker: owner 2 is
	 * alive here, so nothing ages. */
	s->rep.alive[2] = true;
	s->rep.alive[3] = true;
	assert_int_equal(sess_replica_expire(&s->rep, t->n_buckets, 1000000), 0);
	t->aux = NULL;
	free(aux);
	sfix_free(s);
}

/* ---- a reload: slots as the forwarder's view names them ---- */

/* Removes backend b of service s of cfg (file order). */
static void
drop_backend(struct halb_cfg *cfg, uint32_t s, uint32_t b)
{
	struct cfg_service *cs = &cfg->services[s];

	memmove(&cs->backends[b], &cs->backends[b + 1],
		(cs->n_backends - b - 1) * sizeof(cs->backends[0]));
	cs->n_backends--;
}

/* Appends a copy of backend 0 of service s at address ip. */
static void
add_backend(struct halb_cfg *cfg, uint32_t s, const char *ip)
{
	struct cfg_service *cs = &cfg->services[s];

	cs->backends[cs->n_backends] = cs->backends[0];
	assert_int_equal(halb_ip_parse(ip, &cs->backends[cs->n_backends].ip), 0);
	cs->n_backends++;
}

/* The key of a mid-connection ACK from 198.18.1.<client>:sport to the
 * TCP VIP; the frame in f. */
static struct flow_key
ack_key(uint8_t *f, uint32_t *len, uint32_t client, uint16_t sport)
{
	*len = frame(f, client, sport, VIP_TCP, 80, IPPROTO_TCP, F_ACK);
	return key_of(f, *len, NULL);
}

/* A peer's UP for key k on backend ip:80 as halb-sessiond takes it
 * (main.c op_deliver): the slots of the view it follows, then the
 * replica.  Returns sess_rec_to_local()'s answer; *be the slot. */
static int
deliver(struct sfix *s, const struct flow_key *k, const char *ip, uint16_t *be)
{
	struct halb_ip a;
	struct sess_rec r;
	uint32_t tag;
	uint16_t svc;
	int rc;

	memset(&r, 0, sizeof(r));
	r.key = *k;
	assert_int_equal(halb_ip_parse(ip, &a), 0);
	memcpy(r.be_addr, a.b, 16);
	r.be_port = 80;
	r.op = SESS_OP_UP;
	r.state = FLOW_ST_EST;
	rc = sess_rec_to_local(&s->map, &r, &svc, be, &tag);
	if (rc == 0) {
		assert_int_equal(svc, SVC_TCP);
		assert_int_equal(sess_replica_put(&s->rep, k, svc, *be, tag,
						  FLOW_ST_EST, 0, 0, 1000), 0);
	}
	return rc;
}

/* The backend slot the classifier gives a miss of frame f. */
static uint16_t
decide(struct sfix *s, const uint8_t *f, uint32_t len)
{
	uint32_t usr = 0;

	assert_true(cls_decide(&s->x->c, 0, f, len, &usr));
	return HALB_RET_BACKEND(usr);
}

/*
 * Sessions replicated before a reload (docs/SESSIONS.md, "Reloads"):
 * dsr4 loses 198.18.0.12 (its slot 1 retired) and gains .14 (slot 3);
 * a second reload gives slot 1, free again, to .15.  halb-sessiond maps
 * records and events by the view's slots, not by its file; a record of
 * the removed backend is dropped (counted); a replica entry written for
 * .12 is never used for .15, which has its slot now (the classifier
 * checks the tag, halb-sessiond's expiry removes it); a sessiond started
 * from the edited file takes the view's slots, not the file's positions.
 */
static void
test_reload(void **state)
{
	struct sfix *s = sfix_new();
	struct cls *c = &s->x->c;
	struct halb_shm *shm = c->shm;
	struct cls_stats *st = &shm->cls;
	struct halb_cfg *file = conf_load(HALB_SRCDIR "/tests/pkt/pkt.conf");
	struct halb_cfg *in2 = malloc(sizeof(*in2)), *in3 = malloc(sizeof(*in3));
	struct halb_cfg *v2 = malloc(sizeof(*v2)), *v3 = malloc(sizeof(*v3));
	struct halb_cfg *later = malloc(sizeof(*later));
	uint8_t f11[128], f12a[128], f12b[128], f13[128], f14[128], f15[128], f[128];
	uint32_t l11, l12a, l12b, l13, l14, l15, len, tag, hash;
	struct flow_key k11, k12a, k12b, k13, k14, k15, k;
	const struct cfg_service *cs;
	struct sess_map m2;
	struct sess_rec r;
	uint16_t be, svc;
	uint64_t rep0;

	(void)state;
	assert_non_null(in2);
	assert_non_null(in3);
	assert_non_null(v2);
	assert_non_null(v3);
	assert_non_null(later);
	shm->views[0] = calloc(1, sizeof(*shm->views[0]));
	shm->views[1] = calloc(1, sizeof(*shm->views[1]));
	assert_non_null(shm->views[0]);
	assert_non_null(shm->views[1]);

	/* Generation 1, the file as loaded: slots are positions. */
	halb_shm_view_publish(shm, file, 1);
	assert_int_equal(sess_map_follow(&s->map, shm), 1);
	assert_int_equal(sess_map_follow(&s->map, shm), 0);
	k11 = ack_key(f11, &l11, 60, 45000);
	k12a = ack_key(f12a, &l12a, 61, 45001);
	k12b = ack_key(f12b, &l12b, 62, 45002);
	k13 = ack_key(f13, &l13, 63, 45003);
	assert_int_equal(deliver(s, &k11, "198.18.0.11", &be), 0);
	assert_int_equal(be, 0);
	assert_int_equal(deliver(s, &k12a, "198.18.0.12", &be), 0);
	assert_int_equal(be, 1);
	assert_int_equal(deliver(s, &k12b, "198.18.0.12", &be), 0);
	assert_int_equal(deliver(s, &k13, "198.18.0.13", &be), 0);
	assert_int_equal(be, 2);

	/* Generation 2: .12 removed, .14 added (a new slot: .12's is
	 * retired, not free yet).  The classifier follows first. */
	memcpy(in2, file, sizeof(*in2));
	drop_backend(in2, SVC_TCP, 1);
	add_backend(in2, SVC_TCP, "198.18.0.14");
	assert_int_equal(cfg_slots_assign(file, in2, NULL, NULL, v2, NULL), 0);
	cs = &v2->services[SVC_TCP];
	assert_int_equal(cs->backends[1].slot, CFG_SLOT_RETIRED);
	assert_int_equal(cs->backends[3].slot, CFG_SLOT_LIVE);
	halb_shm_view_publish(shm, v2, 2);
	assert_int_equal(cls_view_poll(c, 5000), 0);
	/* The removed backend's session: not used, decided as without a
	 * record (Maglev, which has no share for a retired slot). */
	rep0 = st->replica;
	be = decide(s, f12a, l12a);
	assert_int_not_equal(be, 1);
	assert_int_equal(st->replica_stale, 1);
	assert_int_equal(st->replica, rep0);
	/* An unchanged backend's: the replica's. */
	assert_int_equal(decide(s, f11, l11), 0);
	assert_int_equal(st->replica, rep0 + 1);
	/* halb-sessiond follows: records by the new slots. */
	assert_int_equal(sess_map_follow(&s->map, shm), 1);
	assert_int_equal(s->map.gen, 2);
	k14 = ack_key(f14, &l14, 64, 45004);
	assert_int_equal(deliver(s, &k14, "198.18.0.14", &be), 0);
	assert_int_equal(be, 3);
	k = ack_key(f, &len, 65, 45005);
	assert_int_equal(deliver(s, &k, "198.18.0.12", &be), -ESTALE);
	/* Events: a slot's backend, the retired one's kept for its flows. */
	assert_int_equal(sess_rec_from_local(&s->map, &k14, SVC_TCP, 3, &r), 0);
	assert_memory_equal(r.be_addr, cs->backends[3].ip.b, 16);
	assert_int_equal(sess_rec_from_local(&s->map, &k12a, SVC_TCP, 1, &r), 0);
	assert_memory_equal(r.be_addr, file->services[SVC_TCP].backends[1].ip.b, 16);
	assert_int_equal(sess_map_tag(&s->map, SVC_TCP, 1), 0);

	/* Generation 3: .15 added, given .12's slot 1 (its flows gone). */
	memcpy(in3, in2, sizeof(*in3));
	add_backend(in3, SVC_TCP, "198.18.0.15");
	assert_int_equal(cfg_slots_assign(v2, in3, NULL, NULL, v3, NULL), 0);
	cs = &v3->services[SVC_TCP];
	assert_int_equal(cs->backends[1].slot, CFG_SLOT_LIVE);
	assert_memory_equal(cs->backends[1].ip.b, in3->services[SVC_TCP].backends[3].ip.b, 16);
	halb_shm_view_publish(shm, v3, 3);
	assert_int_equal(cls_view_poll(c, 6000), 0);
	/* halb-sessiond has not followed yet: .12's entry (slot 1, .12's
	 * tag) is still in the replica.  It must not send the connection
	 * to .15. */
	k = key_of(f12b, l12b, &hash);
	assert_non_null(flow_lookup(&s->rt, &k, hash));
	rep0 = st->replica;
	be = decide(s, f12b, l12b);
	assert_int_equal(be, maglev_of(s->x, SVC_TCP, hash));
	assert_int_equal(st->replica_stale, 2);
	assert_int_equal(st->replica, rep0);
	/* It follows; its expiry scan removes both .12 entries. */
	assert_int_equal(sess_map_follow(&s->map, shm), 1);
	assert_int_equal(sess_replica_count(&s->rep), 5);
	assert_int_equal(sess_replica_expire(&s->rep, s->rt.n_buckets, 6000), 2);
	assert_int_equal(s->st.replica_retired, 2);
	assert_int_equal(s->st.replica_expired, 0);
	assert_int_equal(sess_replica_count(&s->rep), 3);
	assert_null(flow_lookup(&s->rt, &k12a, pkt_flow_hash(&k12a)));
	/* .15's sessions take slot 1 with .15's tag, and are used. */
	k15 = ack_key(f15, &l15, 66, 45006);
	assert_int_equal(deliver(s, &k15, "198.18.0.15", &be), 0);
	assert_int_equal(be, 1);
	rep0 = st->replica;
	assert_int_equal(decide(s, f15, l15), 1);
	assert_int_equal(decide(s, f13, l13), 2);
	assert_int_equal(st->replica, rep0 + 2);

	/* A sessiond started now from the edited file (.11 .13 .14 .15 by
	 * position): the file alone would name .13 slot 1 (.15's); the
	 * view it takes at start says 2. */
	memcpy(later, in3, sizeof(*later));
	assert_int_equal(sess_map_init(&m2, later), 0);
	memset(&r, 0, sizeof(r));
	r.key = k13;
	memcpy(r.be_addr, file->services[SVC_TCP].backends[2].ip.b, 16);
	r.be_port = 80;
	assert_int_equal(sess_rec_to_local(&m2, &r, &svc, &be, &tag), 0);
	assert_int_equal(be, 1);
	assert_int_equal(sess_map_follow(&m2, shm), 1);
	assert_int_equal(sess_rec_to_local(&m2, &r, &svc, &be, &tag), 0);
	assert_int_equal(be, 2);
	assert_int_equal(tag, halb_slot_tag(shm->health_id[SVC_TCP][2]));
	assert_int_equal(sess_rec_from_local(&m2, &k15, SVC_TCP, 1, &r), 0);
	assert_memory_equal(r.be_addr, v3->services[SVC_TCP].backends[1].ip.b, 16);
	assert_int_equal(sess_rec_from_local(&m2, &k14, SVC_TCP, 3, &r), 0);
	assert_memory_equal(r.be_addr, v3->services[SVC_TCP].backends[3].ip.b, 16);
	sess_map_fini(&m2);

	free(shm->views[0]);
	free(shm->views[1]);
	shm->views[0] = shm->views[1] = shm->view = NULL;
	free(later);
	free(in2);
	free(in3);
	free(v2);
	free(v3);
	cfg_free(file);
	sfix_free(s);
}

/*
 * halb-sessiond's unstick_qsbr in two steps (session/sess_tab.c): a
 * killed classifier's stale counter goes offline; a classifier that
 * came online between the two steps (attaching as sessiond acts) stays
 * online: the old code stored offline over whatever thread 0 held, so
 * the new reader lost its protection until its next quiescent report.
 */
static void
test_qsbr_unstick(void **state)
{
	size_t qsz = rte_rcu_qsbr_get_memsize(2);
	struct rte_rcu_qsbr *q = aligned_alloc(64, (qsz + 63) & ~(size_t)63);
	uint64_t stale;

	(void)state;
	assert_non_null(q);
	assert_int_equal(rte_rcu_qsbr_init(q, 2), 0);
	assert_int_equal(rte_rcu_qsbr_thread_register(q, 0), 0); /* classifier */
	assert_int_equal(rte_rcu_qsbr_thread_register(q, 1), 0); /* a worker */
	rte_rcu_qsbr_thread_online(q, 0);
	rte_rcu_qsbr_thread_online(q, 1);
	/* The classifier is killed while online: its counter is stale. */
	stale = sess_qsbr_stale(q, 0);
	assert_true(stale != 0);
	/* A new classifier goes online before sessiond acts on it. */
	rte_rcu_qsbr_thread_online(q, 0);
	assert_false(sess_qsbr_offline(q, 0, stale));
	assert_true(q->qsbr_cnt[0].cnt != 0);
	/* That one is killed too, and nobody comes: offline. */
	stale = sess_qsbr_stale(q, 0);
	assert_true(stale != 0);
	assert_true(sess_qsbr_offline(q, 0, stale));
	assert_int_equal(q->qsbr_cnt[0].cnt, 0);
	/* Offline holds nothing. */
	assert_int_equal(sess_qsbr_stale(q, 0), 0);
	/* A reader that reports between the steps is alive: left alone. */
	rte_rcu_qsbr_thread_online(q, 0);
	stale = sess_qsbr_stale(q, 0);
	assert_true(stale != 0);
	rte_rcu_qsbr_quiescent(q, 0);
	assert_false(sess_qsbr_offline(q, 0, stale));
	assert_true(q->qsbr_cnt[0].cnt != 0);
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qsbr_unstick),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_replica_miss),
		cmocka_unit_test(test_replica_down),
		cmocka_unit_test(test_replica_writes),
		cmocka_unit_test(test_replica_expire),
		cmocka_unit_test(test_replica_disown),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_own),
		cmocka_unit_test(test_events_l7),
		cmocka_unit_test(test_own_spliced),
		cmocka_unit_test(test_replica_spliced),
		cmocka_unit_test(test_reload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
