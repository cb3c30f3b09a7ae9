/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request router's count of bound flows per backend (router/bind.c,
 * rtr_flow_install, the expiry sweep, rtr_flows_count), which its wlc
 * scheduler reads: a router over a struct halb_shm in ordinary memory
 * (its bound-flow table, a QSBR variable no reader has joined), no
 * DPDK process, no ring (nothing here sends a frame).
 */
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
#include "halb/sched.h"
#include "rtr.h"

/* Service 0: wlc, pool "web" = backends 0 (weight 1) and 1 (weight 2),
 * pool "api" = backend 2.  tcp_timeout 300 s, tcp_fin_timeout 10 s. */
static const char conf[] =
	"ports = ( { name = \"lan\"; vdev = \"net_af_packet0,iface=eth1\";\n"
	"  ipv4 = \"10.0.0.2/24\"; } );\n"
	"flows = { entries = 1024; tcp_timeout = 300.0; tcp_fin_timeout = 10.0; };\n"
	"services = ( { name = \"web\"; vip = \"10.0.1.80\"; port = 80;\n"
	"  protocol = \"tcp\"; mode = \"nat\"; scheduler = \"wlc\";\n"
	"  requests = { rules = ( { host = \"api.example.com\"; pool = \"api\"; } );\n"
	"    default_pool = \"web\"; max_binding = 16; };\n"
	"  backends = ( { ip = \"10.0.0.11\"; pool = \"web\"; weight = 1; },\n"
	"    { ip = \"10.0.0.12\"; pool = \"web\"; weight = 2; },\n"
	"    { ip = \"10.0.0.13\"; pool = \"api\"; } ); } );\n";

struct fix {
	struct rtr r;
	void *mem;
};

static struct fix *
fix_new(void)
{
	char path[] = "/tmp/halb-test-rtr-XXXXXX";
	struct fix *x = calloc(1, sizeof(*x));
	struct halb_shm *shm;
	size_t qsz;
	FILE *f;
	int fd;

	assert_non_null(x);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(conf, f);
	fclose(f);
	x->r.cfg = cfg_load(path, stderr);
	unlink(path);
	assert_non_null(x->r.cfg);
	shm = x->r.shm = calloc(1, sizeof(*shm));
	assert_non_null(shm);
	shm->tsc_hz = 1000000000ull;
	shm->n_services = x->r.cfg->n_services;
	qsz = rte_rcu_qsbr_get_memsize(1);
	shm->qsbr = aligned_alloc(64, (qsz + 63) & ~(size_t)63);
	assert_non_null(shm->qsbr);
	assert_int_equal(rte_rcu_qsbr_init(shm->qsbr, 1), 0);
	x->mem = aligned_alloc(64, (flow_table_mem_size(1024) + 63) & ~(size_t)63);
	assert_non_null(x->mem);
	flow_table_init(&shm->l7_flows, x->mem, 1024, 0);
	x->r.now_ms = 1000;
	assert_int_equal(rtr_init(&x->r), 0);
	return x;
}

static void
fix_free(struct fix *x)
{
	rtr_fini(&x->r);
	free(x->r.shm->qsbr);
	free(x->r.shm);
	cfg_free(x->r.cfg);
	free(x->mem);
	free(x);
}

static void
key(struct flow_key *k, uint32_t i)
{
	memset(k, 0, sizeof(*k));
	k->src[10] = k->src[11] = 0xff;
	k->src[12] = 198;
	k->src[13] = 18;
	k->src[14] = (uint8_t)(i >> 8);
	k->src[15] = (uint8_t)i;
	k->dst[10] = k->dst[11] = 0xff;
	k->dst[12] = 10;
	k->dst[15] = 80;
	k->sport = (uint16_t)(1024 + i);
	k->dport = 80;
	k->proto = 6;
}

/* wlc's choice in pool "web" (0), as bind_decide asks it. */
static uint16_t
pick_web(struct fix *x)
{
	struct sched_ctx ctx = { .mask = &x->r.svcs[0]->masks[0] };

	return sched_pick(&x->r.svcs[0]->sched, &ctx);
}

/* A connection bound as the router binds it: wlc's backend, installed. */
static uint16_t
bind_one(struct fix *x, uint32_t i)
{
	struct flow_key k;
	uint16_t b = pick_web(x);

	key(&k, i);
	assert_true(b == 0 || b == 1);
	assert_true(rtr_flow_install(&x->r, &k, 0, b, 12345) >= 0);
	return b;
}

static void
assert_counts(const struct fix *x, uint32_t a0, uint32_t a1, uint32_t a2)
{
	const uint32_t *act = x->r.svcs[0]->sched.active;

	assert_int_equal(x->r.shm->l7_active[0][0], a0);
	assert_int_equal(x->r.shm->l7_active[0][1], a1);
	assert_int_equal(x->r.shm->l7_active[0][2], a2);
	assert_int_equal(act[0], a0);
	assert_int_equal(act[1], a1);
	assert_int_equal(act[2], a2);
}

/* Runs the router's ticks until its sweep has seen the whole table. */
static void
sweep(struct fix *x)
{
	uint32_t i;

	for (i = 0; i < 2 * 1000 / RTR_TICK_MS; i++)
		rtr_tick(&x->r);
}

static struct flow_entry *
entry(struct fix *x, uint32_t i)
{
	struct flow_key k;

	key(&k, i);
	return flow_lookup(&x->r.shm->l7_flows, &k, pkt_flow_hash(&k));
}

/* Installs count, and wlc spreads by them relative to weight (1:2);
 * the pool's mask keeps to its backends. */
static void
test_counts_drive_wlc(void **state)
{
	struct fix *x = fix_new();
	uint32_t i, n[2] = { 0 };

	(void)state;
	assert_counts(x, 0, 0, 0);
	for (i = 0; i < 30; i++)
		n[bind_one(x, i)]++;
	assert_int_equal(n[0], 10);
	assert_int_equal(n[1], 20);
	assert_counts(x, 10, 20, 0);
	/* Connections held on backend 0 (bound there by an earlier
	 * choice): new ones go to backend 1 until its share is back. */
	for (i = 30; i < 36; i++) {
		struct flow_key k;

		key(&k, i);
		assert_true(rtr_flow_install(&x->r, &k, 0, 0, 1) >= 0);
	}
	assert_counts(x, 16, 20, 0);
	for (i = 36; i < 48; i++)
		assert_int_equal(bind_one(x, i), 1);
	assert_counts(x, 16, 32, 0);
	fix_free(x);
}

/* Flows leave the count when the sweep removes them: closed ones (FIN
 * or RST seen: state FIN) after tcp_fin_timeout, idle ones after
 * tcp_timeout; a new connection on a closed one's tuple replaces it. */
static void
test_counts_follow_removal(void **state)
{
	struct fix *x = fix_new();
	uint64_t expired0;
	struct flow_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < 6; i++) {
		key(&k, i);
		assert_true(rtr_flow_install(&x->r, &k, 0, i < 4 ? 0 : 1, 7) >= 0);
	}
	assert_counts(x, 4, 2, 0);
	/* Two of backend 0's close (a worker writes state FIN). */
	entry(x, 0)->state = FLOW_ST_FIN;
	entry(x, 1)->state = FLOW_ST_FIN;
	expired0 = x->r.shm->l7.expired;
	x->r.now_ms += 5000; /* within tcp_fin_timeout: nothing yet */
	sweep(x);
	assert_counts(x, 4, 2, 0);
	/* Past it: the two closed ones go, the open ones stay (the
	 * workers keep their last_seen fresh). */
	x->r.now_ms += 6000;
	for (i = 2; i < 6; i++)
		entry(x, i)->last_seen = x->r.now_ms;
	sweep(x);
	assert_counts(x, 2, 2, 0);
	assert_int_equal(x->r.shm->l7.expired - expired0, 2);
	assert_null(entry(x, 0));
	/* 2 per weight 1 against 2 per weight 2: backend 1. */
	assert_int_equal(bind_one(x, 100), 1);
	assert_counts(x, 2, 3, 0);
	/* A new connection on a closed flow's tuple replaces its entry:
	 * the old backend loses it, the new one gains it. */
	entry(x, 2)->state = FLOW_ST_FIN;
	key(&k, 2);
	assert_true(rtr_flow_install(&x->r, &k, 0, 1, 99) >= 0);
	assert_counts(x, 1, 4, 0);
	assert_int_equal(entry(x, 2)->backend, 1);
	assert_int_equal(entry(x, 2)->tag, 99);
	/* Idle past tcp_timeout: all go, the counts with them. */
	x->r.now_ms += 301000;
	sweep(x);
	assert_counts(x, 0, 0, 0);
	fix_free(x);
}

/* A router that follows a dead one counts the flows it left in the
 * table (its memory is new; shm->l7_active may be anything). */
static void
test_counts_rebuilt(void **state)
{
	struct fix *x = fix_new();
	uint32_t i;

	(void)state;
	for (i = 0; i < 7; i++)
		bind_one(x, i);
	assert_counts(x, 3, 4, 0);
	x->r.shm->l7_active[0][0] = 1000;
	x->r.shm->l7_active[0][2] = 5;
	memset(x->r.svcs[0]->sched.active, 0, sizeof(x->r.svcs[0]->sched.active));
	rtr_flows_count(&x->r);
	assert_counts(x, 3, 4, 0);
	fix_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_drive_wlc),
		cmocka_unit_test(test_counts_follow_removal),
		cmocka_unit_test(test_counts_rebuilt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
