/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow table: insert/lookup/remove, full table, a writer re-attaching to
 * a populated table, expiry, and a reader racing the writer under QSBR
 * (a reader must never see an entry whose decision does not match its
 * key, which is what reuse without a grace period would produce).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_rcu_qsbr.h>

#include "halb/flow.h"
#include "halb/pkt.h"

static struct flow_key
mkkey(uint32_t i)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.src[10] = k.src[11] = 0xff;
	memcpy(&k.src[12], &i, 4);
	k.dst[10] = k.dst[11] = 0xff;
	k.dst[12] = 198;
	k.dst[13] = 18;
	k.dst[14] = 2;
	k.dst[15] = 100;
	k.sport = (uint16_t)(i * 7);
	k.dport = 80;
	k.proto = 6;
	return k;
}

struct tbl {
	struct flow_table t;
	void *mem;
};

static void
tbl_new(struct tbl *x, uint32_t entries)
{
	x->mem = aligned_alloc(64, (flow_table_mem_size(entries) + 63) & ~(size_t)63);
	assert_non_null(x->mem);
	flow_table_init(&x->t, x->mem, entries, 0);
}

static void
test_insert_lookup_remove(void **state)
{
	struct flow_writer w;
	struct flow_entry *e;
	struct tbl x;
	uint32_t i;

	(void)state;
	tbl_new(&x, 4096);
	assert_int_equal(flow_writer_init(&w, &x.t, NULL), 0);
	for (i = 0; i < 3000; i++) {
		struct flow_key k = mkkey(i);

		assert_true(flow_insert(&w, &k, pkt_flow_hash(&k), (uint16_t)(i % 7),
					(uint16_t)(i % 5), FLOW_ST_SYN, 1, NULL) >= 0);
	}
	assert_int_equal(flow_count(&w), 3000);
	for (i = 0; i < 3000; i++) {
		struct flow_key k = mkkey(i);

		e = flow_lookup(&x.t, &k, pkt_flow_hash(&k));
		assert_non_null(e);
		assert_int_equal(e->svc, i % 7);
		assert_int_equal(e->backend, i % 5);
	}
	{
		struct flow_key k = mkkey(5);
		struct flow_entry *ex = NULL;

		assert_int_equal(flow_insert(&w, &k, pkt_flow_hash(&k), 1, 1,
					     FLOW_ST_SYN, 1, &ex), -EEXIST);
		assert_non_null(ex);
		k = mkkey(99999);
		assert_null(flow_lookup(&x.t, &k, pkt_flow_hash(&k)));
	}
	for (i = 0; i < 3000; i += 2) {
		struct flow_key k = mkkey(i);
		uint32_t h = pkt_flow_hash(&k);

		e = flow_lookup(&x.t, &k, h);
		assert_int_equal(flow_remove(&w, (uint32_t)(e - x.t.entries), h), 0);
		assert_int_equal(flow_remove(&w, (uint32_t)(e - x.t.entries), h),
				 -ENOENT);
	}
	assert_int_equal(flow_count(&w), 1500);
	for (i = 0; i < 3000; i++) {
		struct flow_key k = mkkey(i);

		e = flow_lookup(&x.t, &k, pkt_flow_hash(&k));
		if (i % 2)
			assert_non_null(e);
		else
			assert_null(e);
	}
	flow_writer_fini(&w);
	free(x.mem);
}

static void
test_full_table(void **state)
{
	struct flow_writer w;
	struct tbl x;
	uint32_t i, ok = 0, full = 0;

	(void)state;
	tbl_new(&x, 1024);
	assert_int_equal(flow_writer_init(&w, &x.t, NULL), 0);
	for (i = 0; i < 2000; i++) {
		struct flow_key k = mkkey(i);
		int rc = flow_insert(&w, &k, pkt_flow_hash(&k), 0, 0, FLOW_ST_SYN, 1,
				     NULL);

		if (rc >= 0)
			ok++;
		else if (rc == -ENOSPC)
			full++;
		else
			fail();
	}
	/* Every entry is usable: two buckets of eight per key at 50% of
	 * the slots is far from bucket overflow. */
	assert_int_equal(ok, 1024);
	assert_int_equal(full, 2000 - 1024);
	flow_writer_fini(&w);
	free(x.mem);
}

static void
test_writer_reattach(void **state)
{
	struct flow_writer w, w2;
	struct tbl x;
	uint32_t i;

	(void)state;
	tbl_new(&x, 2048);
	assert_int_equal(flow_writer_init(&w, &x.t, NULL), 0);
	for (i = 0; i < 1000; i++) {
		struct flow_key k = mkkey(i);

		assert_true(flow_insert(&w, &k, pkt_flow_hash(&k), 0, 1, FLOW_ST_EST,
					1, NULL) >= 0);
	}
	flow_writer_fini(&w); /* the classifier dies */
	assert_int_equal(flow_writer_init(&w2, &x.t, NULL), 0);
	assert_int_equal(flow_count(&w2), 1000);
	for (i = 1000; i < 2048; i++) {
		struct flow_key k = mkkey(i);

		assert_true(flow_insert(&w2, &k, pkt_flow_hash(&k), 0, 1,
					FLOW_ST_EST, 1, NULL) >= 0);
	}
	for (i = 0; i < 2048; i++) {
		struct flow_key k = mkkey(i);

		assert_non_null(flow_lookup(&x.t, &k, pkt_flow_hash(&k)));
	}
	flow_writer_fini(&w2);
	free(x.mem);
}

static bool
older_than_100(void *ctx, const struct flow_entry *e)
{
	uint32_t *removed = ctx;

	if (e->last_seen >= 100)
		return false;
	(*removed)++;
	return true;
}

static void
test_expire_scan(void **state)
{
	struct flow_writer w;
	struct tbl x;
	uint32_t i, removed = 0, n = 0;

	(void)state;
	tbl_new(&x, 4096);
	assert_int_equal(flow_writer_init(&w, &x.t, NULL), 0);
	for (i = 0; i < 1000; i++) {
		struct flow_key k = mkkey(i);

		assert_true(flow_insert(&w, &k, pkt_flow_hash(&k), 0, 0, FLOW_ST_EST,
					i % 2 ? 50 : 150, NULL) >= 0);
	}
	/* Incremental: a full sweep takes n_buckets / step calls. */
	for (i = 0; i < x.t.n_buckets / 64; i++)
		n += flow_expire_scan(&w, 64, older_than_100, &removed);
	assert_int_equal(n, 500);
	assert_int_equal(removed, 500);
	assert_int_equal(flow_count(&w), 500);
	for (i = 0; i < 1000; i++) {
		struct flow_key k = mkkey(i);
		struct flow_entry *e = flow_lookup(&x.t, &k, pkt_flow_hash(&k));

		if (i % 2)
			assert_null(e);
		else
			assert_non_null(e);
	}
	flow_writer_fini(&w);
	free(x.mem);
}

/* A reader thread and the writer on one table with QSBR. */
struct race {
	struct flow_table *t;
	struct rte_rcu_qsbr *qs;
	volatile int stop;
	uint64_t lookups, hits, bad;
};

#define RACE_KEYS 512

static void *
reader(void *arg)
{
	struct race *r = arg;
	uint32_t i = 0;

	rte_rcu_qsbr_thread_register(r->qs, 0);
	rte_rcu_qsbr_thread_online(r->qs, 0);
	while (!r->stop) {
		struct flow_key k = mkkey(i++ % RACE_KEYS);
		struct flow_entry *e = flow_lookup(r->t, &k, pkt_flow_hash(&k));

		r->lookups++;
		if (e != NULL) {
			r->hits++;
			/* The decision must belong to this key. */
			if (e->svc != (uint16_t)(k.sport ^ 0x55) ||
			    !flow_key_eq(&e->key, &k))
				r->bad++;
		}
		rte_rcu_qsbr_quiescent(r->qs, 0);
	}
	rte_rcu_qsbr_thread_offline(r->qs, 0);
	return NULL;
}

static void
test_concurrent_reader(void **state)
{
	struct race r = { 0 };
	struct flow_writer w;
	struct tbl x;
	pthread_t th;
	uint32_t round, i;

	(void)state;
	/* Few entries, so that freed ones are reused at once. */
	tbl_new(&x, RACE_KEYS / 2);
	r.t = &x.t;
	r.qs = aligned_alloc(64, (rte_rcu_qsbr_get_memsize(1) + 63) & ~(size_t)63);
	assert_non_null(r.qs);
	assert_int_equal(rte_rcu_qsbr_init(r.qs, 1), 0);
	assert_int_equal(flow_writer_init(&w, &x.t, r.qs), 0);
	assert_int_equal(pthread_create(&th, NULL, reader, &r), 0);
	for (round = 0; round < 400; round++) {
		for (i = 0; i < RACE_KEYS; i++) {
			struct flow_key k = mkkey(i);
			uint32_t h = pkt_flow_hash(&k);
			struct flow_entry *e = flow_lookup(&x.t, &k, h);

			if (e != NULL && (i + round) % 3 == 0)
				flow_remove(&w, (uint32_t)(e - x.t.entries), h);
			else if (e == NULL)
				flow_insert(&w, &k, h, (uint16_t)(k.sport ^ 0x55), 0,
					    FLOW_ST_EST, 1, NULL);
		}
		flow_reclaim(&w);
	}
	r.stop = 1;
	pthread_join(th, NULL);
	print_message("%" PRIu64 " lookups, %" PRIu64 " hits\n", r.lookups, r.hits);
	assert_true(r.lookups > 0);
	assert_int_equal(r.bad, 0);
	flow_writer_fini(&w);
	free(r.qs);
	free(x.mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_lookup_remove),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_writer_reattach),
		cmocka_unit_test(test_expire_scan),
		cmocka_unit_test(test_concurrent_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
