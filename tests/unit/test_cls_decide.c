/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's decisions (classifier/decide.c cls_decide) for every
 * scheduler: new flows follow the service's scheduler; a miss that may
 * continue a connection decided without a record (a TCP packet other
 * than an opening SYN; any packet of a flow the worker marked in
 * fb_marks: its fallback, or a stateless decision of a full table) gets
 * the Maglev table's answer, which is what the forwarder's fallback gave
 * it, so that the connection does not move (issue 9, item 9).
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

#include "halb/cfg.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "halb/pkt.h"
#include "cls.h"
#include "cls_fix.h"

/* tests/pkt/pkt.conf: dsr4 (TCP, weights 1:2:3), udp4 (UDP, 1:1:1). */
#define SVC_TCP 0
#define SVC_UDP 3
#define VIP_TCP "198.18.2.100"
#define VIP_UDP "198.18.2.103"

static struct fix *
fix_new_kind(uint8_t kind, uint32_t entries)
{
	struct halb_cfg *cfg = conf_load(HALB_SRCDIR "/tests/pkt/pkt.conf");
	struct fix *x;

	cfg->services[SVC_TCP].sched = kind;
	cfg->services[SVC_UDP].sched = kind;
	x = fix_new(cfg, entries);
	assert_int_equal(cls_health_init(&x->c), 0);
	return x;
}

#define F_SYN 0x02
#define F_ACK 0x10

/* Ethernet + IPv4 + TCP (flags) or UDP (one byte) from client:port. */
static uint32_t
frame(uint8_t *f, uint32_t client, uint16_t sport, const char *vip,
      uint16_t dport, uint8_t proto, uint8_t flags)
{
	uint32_t l4 = proto == IPPROTO_TCP ? 20 : 9, sum = 0, i;
	uint8_t *ip = f + 14, *p = ip + 20;
	uint16_t tot = (uint16_t)(20 + l4), v;
	uint32_t src = htonl(0xc6120100u | (client & 0xff)); /* 198.18.1.x */

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

/* The flow hash of a frame, as worker and classifier compute it. */
static uint32_t
hash_of(const uint8_t *f, uint32_t len)
{
	struct pkt_info pi;

	assert_int_equal(pkt_parse(f, len, &pi), PKT_OK);
	return pkt_flow_hash(&pi.key);
}

/* What the forwarder's fallback decides for this frame. */
static uint16_t
maglev_of(const struct fix *x, uint32_t s, uint32_t hash)
{
	const struct halb_mh_shm *mh = &x->c.shm->mh[s];

	return mh_lookup(mh->table[mh->cur], mh->size, hash);
}

static uint32_t
decide(struct fix *x, const uint8_t *f, uint32_t len)
{
	uint32_t usr = 0xffffffffu;

	assert_true(cls_decide(&x->c, 0, f, len, &usr));
	return usr;
}

/* Expiry predicate: everything goes (as cls_expired accounts). */
static bool
remove_all(void *ctx, const struct flow_entry *e)
{
	struct cls *c = ctx;

	c->sched[e->svc].active[e->backend]--;
	c->shm->active[e->svc][e->backend]--;
	return true;
}

static const uint8_t kinds[] = { CFG_SCHED_MAGLEV, CFG_SCHED_WRR, CFG_SCHED_WLC };

/*
 * TCP connections opened while the classifier was gone (the worker
 * decided their SYN with the Maglev table and marked them): their next
 * packet, an ACK, reaches the classifier when it is back and must get
 * the same backend, and be installed with it.  Also unmarked: a non-SYN
 * miss is always decided with the Maglev table.
 */
static void
test_tcp_after_outage(void **state)
{
	uint8_t f[128];
	unsigned int k;
	uint32_t i;

	(void)state;
	for (k = 0; k < sizeof(kinds); k++) {
		struct fix *x = fix_new_kind(kinds[k], 4096);
		uint32_t moved = 0, n = 0;

		for (i = 0; i < 200; i++) {
			uint32_t len = frame(f, i, (uint16_t)(30000 + i), VIP_TCP, 80,
					     IPPROTO_TCP, F_SYN);
			uint32_t h = hash_of(f, len), usr;
			uint16_t fb = maglev_of(x, SVC_TCP, h);
			struct flow_entry *e;
			struct pkt_info pi;

			if (i % 2 == 0) /* half of them marked by the fallback */
				halb_fb_mark(x->c.shm->workers[0].fb_marks, h,
					     x->c.now_ms - 500);
			len = frame(f, i, (uint16_t)(30000 + i), VIP_TCP, 80,
				    IPPROTO_TCP, F_ACK);
			usr = decide(x, f, len);
			assert_int_equal(HALB_RET_SVC(usr), SVC_TCP);
			assert_false(usr & HALB_RET_F_STATELESS);
			moved += HALB_RET_BACKEND(usr) != fb;
			n++;
			assert_int_equal(pkt_parse(f, len, &pi), PKT_OK);
			e = flow_lookup(x->c.fw[0].t, &pi.key, h);
			assert_non_null(e);
			assert_int_equal(e->backend, HALB_RET_BACKEND(usr));
			/* Unconfirmed until its next packet (decide.c
			 * install_state). */
			assert_int_equal(e->state, FLOW_ST_SYN);
		}
		print_message("%s: %u of %u moved\n",
			      kinds[k] == CFG_SCHED_WRR ? "wrr" :
			      kinds[k] == CFG_SCHED_WLC ? "wlc" : "maglev", moved, n);
		assert_int_equal(moved, 0);
		assert_int_equal(x->c.shm->cls.kept, n);
		fix_free(x);
	}
}

/*
 * UDP flows decided by the fallback: their next datagram looks like any
 * first datagram; the worker's mark is what tells.  Unmarked flows and
 * flows whose mark is older than udp_timeout follow the scheduler.
 */
static void
test_udp_marked(void **state)
{
	uint8_t f[128];
	unsigned int k;
	uint32_t i;

	(void)state;
	for (k = 0; k < sizeof(kinds); k++) {
		struct fix *x = fix_new_kind(kinds[k], 4096);
		uint32_t moved = 0, per_be[3] = { 0 };

		for (i = 0; i < 120; i++) {
			uint32_t len = frame(f, i, (uint16_t)(20000 + i), VIP_UDP, 53,
					     IPPROTO_UDP, 0);
			uint32_t h = hash_of(f, len);

			halb_fb_mark(x->c.shm->workers[0].fb_marks, h,
				     x->c.now_ms - 10);
			moved += HALB_RET_BACKEND(decide(x, f, len)) !=
				 maglev_of(x, SVC_UDP, h);
		}
		assert_int_equal(moved, 0);
		assert_int_equal(x->c.shm->cls.kept, 120);
		/* New flows, and a mark past its window: the scheduler. */
		x->c.now_ms += x->c.cfg->udp_timeout_ms + 100;
		for (i = 0; i < 30; i++) {
			uint32_t len = frame(f, i, (uint16_t)(21000 + i), VIP_UDP, 53,
					     IPPROTO_UDP, 0);
			uint32_t h = hash_of(f, len);

			const uint32_t *act = x->c.sched[SVC_UDP].active;
			uint32_t least = act[0] < act[1] ? act[0] : act[1];
			uint16_t b;

			least = least < act[2] ? least : act[2];
			if (i % 2)
				halb_fb_mark(x->c.shm->workers[0].fb_marks, h,
					     x->c.now_ms - x->c.cfg->udp_timeout_ms - 1);
			b = HALB_RET_BACKEND(decide(x, f, len));
			per_be[b]++;
			/* Equal weights: least connections picks a backend
			 * with the fewest (it was given one more now). */
			if (kinds[k] == CFG_SCHED_WLC)
				assert_int_equal(act[b] - 1, least);
		}
		assert_int_equal(x->c.shm->cls.kept, 120);
		if (kinds[k] == CFG_SCHED_WRR) {
			/* Round robin gives each backend its turn. */
			assert_int_equal(per_be[0], 10);
			assert_int_equal(per_be[1], 10);
			assert_int_equal(per_be[2], 10);
		}
		fix_free(x);
	}
}

/* New TCP connections (SYN) follow the service's scheduler: wrr gives
 * dsr4's 1:2:3 exactly over six picks. */
static void
test_syn_follows_scheduler(void **state)
{
	struct fix *x = fix_new_kind(CFG_SCHED_WRR, 4096);
	uint32_t i, per_be[3] = { 0 };
	uint8_t f[128];

	(void)state;
	for (i = 0; i < 60; i++) {
		uint32_t len = frame(f, i, (uint16_t)(31000 + i), VIP_TCP, 80,
				     IPPROTO_TCP, F_SYN);

		per_be[HALB_RET_BACKEND(decide(x, f, len))]++;
	}
	assert_int_equal(per_be[0], 10);
	assert_int_equal(per_be[1], 20);
	assert_int_equal(per_be[2], 30);
	assert_int_equal(x->c.shm->cls.kept, 0);
	fix_free(x);
}

/*
 * The remote classifier's own tables (own_tables: nothing moves an entry
 * to FIN): a retransmitted SYN, same sequence number, gets the recorded
 * decision; a SYN with another one is a new connection on a 5-tuple the
 * client reused, decided afresh, its old record gone.  In the
 * forwarder's tables (the local classifier's) the sequence number is not
 * looked at: the worker moves an entry to FIN when its connection ends.
 */
static void
test_reused_tuple(void **state)
{
	int own;

	(void)state;
	for (own = 0; own < 2; own++) {
		struct fix *x = fix_new_kind(CFG_SCHED_WLC, 4096);
		const struct cls_stats *st = &x->c.shm->cls;
		uint32_t len, usr, b, live;
		uint8_t f[128];

		x->c.own_tables = own;
		len = frame(f, 7, 32000, VIP_TCP, 80, IPPROTO_TCP, F_SYN);
		f[14 + 20 + 4] = 0x11;
		usr = decide(x, f, len);
		assert_int_equal(decide(x, f, len), usr);
		assert_int_equal(st->existing, 1);
		f[14 + 20 + 4] = 0x22;
		decide(x, f, len);
		assert_int_equal(st->existing, own ? 1 : 2);
		assert_int_equal(st->installs, own ? 2 : 1);
		/* One live connection counted, whichever backend it got. */
		for (live = 0, b = 0; b < 3; b++)
			live += x->c.sched[SVC_TCP].active[b];
		assert_int_equal(live, 1);
		fix_free(x);
	}
}

/*
 * A full table: the classifier decides with the Maglev table, installs
 * nothing, and flags the decision stateless so that the worker marks the
 * flow; the flow's next datagram, once there is room, keeps its backend.
 */
static void
test_table_full_stateless(void **state)
{
	unsigned int k;
	uint8_t f[128];
	uint32_t i;

	(void)state;
	for (k = 0; k < sizeof(kinds); k++) {
		struct fix *x = fix_new_kind(kinds[k], 16);
		uint32_t usr = 0, len, h, n_full = 0;

		for (i = 0; i < 64; i++) {
			len = frame(f, i, (uint16_t)(22000 + i), VIP_UDP, 53,
				    IPPROTO_UDP, 0);
			usr = decide(x, f, len);
			if (usr & HALB_RET_F_STATELESS) {
				h = hash_of(f, len);
				n_full++;
				assert_int_equal(HALB_RET_BACKEND(usr),
						 maglev_of(x, SVC_UDP, h));
				/* What worker.c returned() does. */
				halb_fb_mark(x->c.shm->workers[0].fb_marks, h,
					     x->c.now_ms);
			}
		}
		assert_int_equal(n_full, 64 - 16);
		assert_int_equal(x->c.shm->workers[0].table_full, 1);
		/* Room again: every flow expires. */
		x->c.now_ms += x->c.cfg->udp_timeout_ms / 2;
		flow_expire_scan(&x->c.fw[0], x->t.n_buckets, remove_all, &x->c);
		for (i = 16; i < 64; i++) {
			len = frame(f, i, (uint16_t)(22000 + i), VIP_UDP, 53,
				    IPPROTO_UDP, 0);
			h = hash_of(f, len);
			usr = decide(x, f, len);
			if (usr & HALB_RET_F_STATELESS)
				continue;
			assert_int_equal(HALB_RET_BACKEND(usr), maglev_of(x, SVC_UDP, h));
		}
		fix_free(x);
	}
}

/* Worker 1, with a table of `entries` of its own, for the tests of
 * flows that change worker; returns its table's memory. */
static void *
second_worker(struct fix *x, uint32_t entries)
{
	struct halb_shm *shm = x->c.shm;
	void *mem = aligned_alloc(64, (flow_table_mem_size(entries) + 63) &
				      ~(size_t)63);

	assert_non_null(mem);
	flow_table_init(&shm->workers[1].flows, mem, entries, 1);
	shm->workers[1].fb_marks = shm->workers[0].fb_marks;
	shm->n_workers = 2;
	assert_int_equal(flow_writer_init(&x->c.fw[1], &shm->workers[1].flows,
					  NULL), 0);
	return mem;
}

static void
second_worker_free(struct fix *x, void *mem)
{
	flow_writer_fini(&x->c.fw[1]);
	x->c.shm->workers[1].fb_marks = NULL;
	x->c.shm->n_workers = 1;
	free(mem);
	fix_free(x);
}

/* n connections from ports sport.. opened on worker 0 (SYN); their
 * backends in first[]. */
static void
open_on_worker0(struct fix *x, uint16_t sport, uint32_t n, uint32_t *first)
{
	uint8_t f[128];
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t len = frame(f, i, (uint16_t)(sport + i), VIP_TCP, 80,
				     IPPROTO_TCP, F_SYN);

		first[i] = HALB_RET_BACKEND(decide(x, f, len));
	}
}

/*
 * A connection whose frames change queue while it lives (multi-queue
 * ports: net_af_packet's rollover, a rewritten redirection table) is
 * missed by the other worker; the classifier finds it in the first
 * worker's table and gives the second the same backend, whatever the
 * scheduler, instead of a new pick or the Maglev table's (issue 13).
 * A new SYN on a closed flow's tuple is a new connection.
 */
static void
test_other_worker(void **state)
{
	unsigned int k;
	uint8_t f[128];
	uint32_t i;

	(void)state;
	for (k = 0; k < sizeof(kinds); k++) {
		struct fix *x = fix_new_kind(kinds[k], 4096);
		struct halb_shm *shm = x->c.shm;
		void *mem1 = second_worker(x, 4096);
		uint32_t first[60], again = 0;

		open_on_worker0(x, 32000, 60, first);
		for (i = 0; i < 60; i++) {
			uint8_t flags = i % 2 ? F_ACK : F_SYN; /* data, retransmit */
			uint32_t len = frame(f, i, (uint16_t)(32000 + i), VIP_TCP, 80,
					     IPPROTO_TCP, flags), usr = 0;
			struct flow_entry *e;
			struct pkt_info pi;

			assert_true(cls_decide(&x->c, 1, f, len, &usr));
			assert_int_equal(HALB_RET_BACKEND(usr), first[i]);
			assert_int_equal(pkt_parse(f, len, &pi), PKT_OK);
			e = flow_lookup(x->c.fw[1].t, &pi.key, pkt_flow_hash(&pi.key));
			assert_non_null(e);
			assert_int_equal(e->backend, first[i]);
			again += HALB_RET_BACKEND(usr) == first[i];
		}
		assert_int_equal(again, 60);
		assert_int_equal(shm->cls.existing, 60);
		assert_int_equal(shm->cls.kept, 0);
		second_worker_free(x, mem1);
	}
}

/*
 * The same when the second worker's table is full: the connection's
 * packets still go to the backend the first worker's table names, flagged
 * stateless, not to the Maglev table's choice (for wrr and wlc, another
 * backend for most of them).
 */
static void
test_other_worker_table_full(void **state)
{
	unsigned int k;
	uint8_t f[128];
	uint32_t i;

	(void)state;
	for (k = 0; k < sizeof(kinds); k++) {
		struct fix *x = fix_new_kind(kinds[k], 4096);
		struct halb_shm *shm = x->c.shm;
		void *mem1 = second_worker(x, 16);
		uint32_t first[60], stateless = 0;

		open_on_worker0(x, 34000, 60, first);
		for (i = 0; i < 60; i++) {
			uint32_t len = frame(f, i, (uint16_t)(34000 + i), VIP_TCP, 80,
					     IPPROTO_TCP, F_ACK), usr = 0;

			assert_true(cls_decide(&x->c, 1, f, len, &usr));
			assert_int_equal(HALB_RET_BACKEND(usr), first[i]);
			stateless += (usr & HALB_RET_F_STATELESS) != 0;
		}
		assert_true(stateless >= 60 - 16);
		assert_int_equal(shm->workers[1].table_full, 1);
		second_worker_free(x, mem1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_after_outage),
		cmocka_unit_test(test_udp_marked),
		cmocka_unit_test(test_syn_follows_scheduler),
		cmocka_unit_test(test_reused_tuple),
		cmocka_unit_test(test_table_full_stateless),
		cmocka_unit_test(test_other_worker),
		cmocka_unit_test(test_other_worker_table_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
