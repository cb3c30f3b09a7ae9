/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's expiry pacing (classifier/decide.c cls_housekeep):
 * a table is swept once per CLS_EXPIRE_SWEEP_MS of TSC time, whatever
 * the number of calls; one call scans at most CLS_EXPIRE_MAX_BUCKETS and
 * owes the rest to the next calls; a stall earns one sweep at most;
 * tables of over CLS_EXPIRE_MAX_RATE buckets go round more slowly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/cfg.h"
#include "halb/flow.h"
#include "halb/pkt.h"
#include "cls.h"

#define HZ 1000000000ull /* a 1 GHz TSC: 1 tick a ns */

struct fix {
	struct cls c;
	struct flow_table t;
	void *mem;
};

static struct flow_key
mkkey(uint32_t i)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.src[10] = k.src[11] = 0xff;
	memcpy(&k.src[12], &i, 4);
	k.dport = 80;
	k.proto = 6;
	return k;
}

/* A classifier with worker 0's table of `entries`, holding n flows idle
 * since time 0 and now long past their timeout. */
static struct fix *
fix_new(uint32_t entries, uint32_t n)
{
	struct fix *x = calloc(1, sizeof(*x));
	uint32_t i;

	assert_non_null(x);
	x->c.cfg = cfg_load(HALB_SRCDIR "/conf/halb.conf", stderr);
	assert_non_null(x->c.cfg);
	x->c.shm = calloc(1, sizeof(*x->c.shm));
	assert_non_null(x->c.shm);
	x->c.shm->tsc_hz = HZ;
	x->mem = aligned_alloc(64, (flow_table_mem_size(entries) + 63) & ~(size_t)63);
	assert_non_null(x->mem);
	flow_table_init(&x->t, x->mem, entries, 0);
	assert_int_equal(flow_writer_init(&x->c.fw[0], &x->t, NULL), 0);
	for (i = 0; i < n; i++) {
		struct flow_key k = mkkey(i);

		assert_true(flow_insert(&x->c.fw[0], &k, pkt_flow_hash(&k), 0, 0,
					FLOW_ST_EST, 0, NULL) >= 0);
		x->c.sched[0].active[0]++;
	}
	x->c.now_ms = x->c.cfg->tcp_timeout_ms + 1000;
	return x;
}

static void
fix_free(struct fix *x)
{
	flow_writer_fini(&x->c.fw[0]);
	free(x->mem);
	free(x->c.shm);
	cfg_free(x->c.cfg);
	free(x);
}

static uint32_t
live(struct fix *x)
{
	x->c.shm->workers[0].flow_count = 0;
	return flow_count(&x->c.fw[0]);
}

/* Half a sweep's time scans half the table, whatever the calls. */
static void
test_paced_by_time(void **state)
{
	struct fix *x = fix_new(1024, 200); /* 256 buckets */
	uint64_t t0 = 5 * HZ, t;

	(void)state;
	cls_sweep_start(&x->c, 0, t0);
	/* 1000 calls over half a second: 128 buckets in all. */
	for (t = t0; t <= t0 + HZ / 2; t += HZ / 2000)
		cls_housekeep(&x->c, 0, t);
	assert_int_equal(x->c.fw[0].scan_bucket, 128);
	assert_true(live(x) > 0 && live(x) < 200);
	cls_housekeep(&x->c, 0, t0 + HZ);
	assert_int_equal(x->c.fw[0].scan_bucket, 0); /* once round */
	assert_int_equal(live(x), 0);
	assert_int_equal(x->c.shm->cls.expired, 200);
	assert_int_equal(x->c.sched[0].active[0], 0);
	assert_int_equal(x->c.shm->workers[0].flow_count, 0);
	fix_free(x);
}

/* A stall earns one sweep, paid at most CLS_EXPIRE_MAX_BUCKETS a call. */
static void
test_stall_capped(void **state)
{
	struct fix *x = fix_new(65536, 1000); /* 16384 buckets */
	uint64_t t0 = HZ;
	uint32_t calls;

	(void)state;
	cls_sweep_start(&x->c, 0, t0);
	cls_housekeep(&x->c, 0, t0 + 60 * HZ);
	assert_int_equal(x->c.fw[0].scan_bucket, CLS_EXPIRE_MAX_BUCKETS);
	/* The rest of the one sweep comes with the next calls, no time
	 * passing; then nothing more is owed. */
	for (calls = 1; x->c.fw[0].scan_bucket != 0 && calls < 100; calls++)
		cls_housekeep(&x->c, 0, t0 + 60 * HZ);
	assert_int_equal(calls, 16384 / CLS_EXPIRE_MAX_BUCKETS);
	assert_int_equal(live(x), 0);
	cls_housekeep(&x->c, 0, t0 + 60 * HZ);
	assert_int_equal(x->c.fw[0].scan_bucket, 0);
	fix_free(x);
}

/* Tables of over CLS_EXPIRE_MAX_RATE buckets sweep at that rate. */
static void
test_large_table_rate(void **state)
{
	struct fix *x = fix_new(1024, 0);
	struct flow_table big = x->t;

	(void)state;
	big.n_buckets = 4u << 20;
	x->c.fw[0].t = &big;
	cls_sweep_start(&x->c, 0, 0);
	assert_int_equal(x->c.sweep[0].rate, CLS_EXPIRE_MAX_RATE);
	assert_true(x->c.sweep[0].max_dt == (uint64_t)big.n_buckets * HZ / CLS_EXPIRE_MAX_RATE);
	x->c.fw[0].t = &x->t;
	cls_sweep_start(&x->c, 0, 0);
	assert_int_equal(x->c.sweep[0].rate, 256 * 1000 / CLS_EXPIRE_SWEEP_MS);
	fix_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paced_by_time),
		cmocka_unit_test(test_stall_capped),
		cmocka_unit_test(test_large_table_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
