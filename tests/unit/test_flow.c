/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow table: insert/lookup/remove, full table, a writer re-attaching to
 * a populated table, expiry, and a reader racing the writer under QSBR
 * (a reader must never see an entry whose decision does not match its
 * key, which is what reuse without a grace period would produce); a
 * lookup that a cuckoo move overtakes, replayed step by step; a writer
 * killed in the middle of a move.
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

/* The lookup's test hook (halb/flow.h): what runs between its scans of
 * the key's two buckets, once. */
static void (*between)(void);
static int n_between;
#define FLOW_LOOKUP_BETWEEN(t) do { \
		void (*f_)(void) = between; \
		n_between++; \
		between = NULL; \
		if (f_ != NULL) \
			f_(); \
	} while (0)

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

/* The first key from mkkey(*from) on whose buckets pred holds. */
static struct flow_key
key_where(const struct flow_table *t, uint32_t *from,
	  bool (*pred)(uint32_t b1, uint32_t b2, const void *arg), const void *arg)
{
	for (;; (*from)++) {
		struct flow_key k = mkkey(*from);
		uint32_t h = pkt_flow_hash(&k);

		if (pred(flow_bucket1(t, h), flow_bucket2(t, h), arg)) {
			(*from)++;
			return k;
		}
		assert_true(*from < 10000000);
	}
}

static bool
b1_is(uint32_t b1, uint32_t b2, const void *arg)
{
	(void)b2;
	return b1 == *(const uint32_t *)arg;
}

static bool
two_buckets(uint32_t b1, uint32_t b2, const void *arg)
{
	(void)arg;
	return b1 != b2;
}

static bool
b1_b2_are(uint32_t b1, uint32_t b2, const void *arg)
{
	const uint32_t *want = arg;

	return b1 == want[0] && b2 == want[1];
}

/* Slot of bucket b that holds entry idx, or -1. */
static int
slot_of(const struct flow_table *t, uint32_t b, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < FLOW_BUCKET_SLOTS; i++)
		if (t->buckets[b].slot[i] != 0 &&
		    flow_slot_idx(t->buckets[b].slot[i]) == idx)
			return (int)i;
	return -1;
}

static struct flow_writer *move_w;
static struct flow_key move_key;

static void
insert_moving(void)
{
	assert_true(flow_insert(move_w, &move_key, pkt_flow_hash(&move_key), 2, 2,
				FLOW_ST_EST, 1, NULL) >= 0);
}

/*
 * The interleaving of issue 9 item 10, replayed: key K sits in its second
 * bucket B (its first, A, was full); one of A's flows goes.  A reader
 * looking K up scans A (K is not there); then the writer inserts N, whose
 * buckets B and C are full, and moves K from B into A to make room; then
 * the reader scans B (K is no longer there).  K was in the table
 * throughout: the lookup must find it.
 */
static void
test_move_during_lookup(void **state)
{
	struct flow_writer w;
	struct flow_key k, fa[8], n;
	uint32_t from = 0, a, b, c, hk, i, want[2];
	struct flow_entry *e;
	struct tbl x;
	int idx;

	(void)state;
	tbl_new(&x, 64); /* 16 buckets */
	assert_int_equal(flow_writer_init(&w, &x.t, NULL), 0);
	k = key_where(&x.t, &from, two_buckets, NULL);
	hk = pkt_flow_hash(&k);
	a = flow_bucket1(&x.t, hk);
	b = flow_bucket2(&x.t, hk);
	for (i = 0; i < 8; i++) {
		fa[i] = key_where(&x.t, &from, b1_is, &a);
		assert_true(flow_insert(&w, &fa[i], pkt_flow_hash(&fa[i]), 0, 0,
					FLOW_ST_EST, 1, NULL) >= 0);
	}
	idx = flow_insert(&w, &k, hk, 1, 1, FLOW_ST_EST, 1, NULL);
	assert_true(idx >= 0);
	assert_int_equal(slot_of(&x.t, b, (uint32_t)idx), 0); /* A was full */
	for (i = 0; i < 7; i++) {
		struct flow_key f = key_where(&x.t, &from, b1_is, &b);

		assert_true(flow_insert(&w, &f, pkt_flow_hash(&f), 0, 0, FLOW_ST_EST,
					1, NULL) >= 0);
	}
	for (c = 0; c == a || c == b; c++)
		;
	for (i = 0; i < 8; i++) {
		struct flow_key f = key_where(&x.t, &from, b1_is, &c);

		assert_true(flow_insert(&w, &f, pkt_flow_hash(&f), 0, 0, FLOW_ST_EST,
					1, NULL) >= 0);
	}
	e = flow_lookup(&x.t, &fa[3], pkt_flow_hash(&fa[3]));
	assert_non_null(e);
	assert_int_equal(flow_remove(&w, (uint32_t)(e - x.t.entries),
				     pkt_flow_hash(&fa[3])), 0);
	want[0] = b;
	want[1] = c;
	n = key_where(&x.t, &from, b1_b2_are, want);

	move_w = &w;
	move_key = n;
	between = insert_moving;
	n_between = 0;
	e = flow_lookup(&x.t, &k, hk);
	/* The move did happen, as the replay says. */
	assert_int_equal(slot_of(&x.t, b, (uint32_t)idx), -1);
	assert_true(slot_of(&x.t, a, (uint32_t)idx) >= 0);
	assert_non_null(flow_lookup(&x.t, &n, pkt_flow_hash(&n)));
	/* ... and the lookup that it overtook found K after all. */
	assert_non_null(e);
	assert_int_equal(e - x.t.entries, idx);
	assert_int_equal(n_between, 1); /* the second look hit at once */
	assert_int_equal(x.t.hdr->chg, 1);
	flow_writer_fini(&w);
	free(x.mem);
}

static bool
always(void *ctx, const struct flow_entry *e)
{
	(void)e;
	(*(uint32_t *)ctx)++;
	return true;
}

/* Slots of the whole table that name entry idx. */
static uint32_t
slots_naming(const struct flow_table *t, uint32_t idx)
{
	uint32_t b, n = 0;

	for (b = 0; b < t->n_buckets; b++)
		n += slot_of(t, b, idx) >= 0;
	return n;
}

/*
 * A classifier killed between the two stores of a move leaves an entry
 * published in two slots, both in buckets of its key.  The next writer
 * keeps one: the entry is freed once when it goes, and never handed to
 * two flows.  A copy in a bucket that is not its key's is the one to go.
 */
static void
test_reattach_after_torn_move(void **state)
{
	struct flow_writer w, w2;
	uint32_t i, h, alt, other, removed = 0, n_ok = 0;
	struct flow_entry *e;
	struct flow_key k;
	struct tbl x;
	int j, idx;

	(void)state;
	tbl_new(&x, 256);
	assert_int_equal(flow_writer_init(&w, &x.t, NULL), 0);
	for (i = 0; i < 100; i++) {
		k = mkkey(i);
		assert_true(flow_insert(&w, &k, pkt_flow_hash(&k), 0, 0, FLOW_ST_EST,
					1, NULL) >= 0);
	}
	/* Flow 7: its slot copied into its other bucket, the original not
	 * yet cleared.  Flow 8: copied into a bucket that is not its key's. */
	k = mkkey(7);
	h = pkt_flow_hash(&k);
	e = flow_lookup(&x.t, &k, h);
	idx = (int)(e - x.t.entries);
	alt = slot_of(&x.t, flow_bucket1(&x.t, h), (uint32_t)idx) >= 0 ?
		      flow_bucket2(&x.t, h) : flow_bucket1(&x.t, h);
	assert_int_not_equal(alt, flow_bucket1(&x.t, h) == alt ?
					  flow_bucket2(&x.t, h) : flow_bucket1(&x.t, h));
	for (j = 0; x.t.buckets[alt].slot[j] != 0; j++)
		;
	x.t.buckets[alt].slot[j] = (uint64_t)(idx + 1) | (uint64_t)flow_sig(h) << 32;
	assert_int_equal(slots_naming(&x.t, (uint32_t)idx), 2);
	{
		struct flow_key k8 = mkkey(8);
		uint32_t h8 = pkt_flow_hash(&k8);
		uint32_t i8 = (uint32_t)(flow_lookup(&x.t, &k8, h8) - x.t.entries);

		for (other = 0; other == flow_bucket1(&x.t, h8) ||
				other == flow_bucket2(&x.t, h8); other++)
			;
		for (j = 0; x.t.buckets[other].slot[j] != 0; j++)
			;
		x.t.buckets[other].slot[j] = (uint64_t)(i8 + 1) |
					     (uint64_t)flow_sig(h8) << 32;
		flow_writer_fini(&w); /* SIGKILL */
		assert_int_equal(flow_writer_init(&w2, &x.t, NULL), 0);
		assert_int_equal(slots_naming(&x.t, i8), 1);
		assert_int_equal(slot_of(&x.t, other, i8), -1);
		assert_ptr_equal(flow_lookup(&x.t, &k8, h8), &x.t.entries[i8]);
	}
	assert_int_equal(slots_naming(&x.t, (uint32_t)idx), 1);
	assert_int_equal(flow_count(&w2), 100);
	assert_ptr_equal(flow_lookup(&x.t, &k, h), e);
	/* Everything goes, each entry once. */
	flow_expire_scan(&w2, x.t.n_buckets, always, &removed);
	assert_int_equal(removed, 100);
	assert_int_equal(flow_count(&w2), 0);
	/* The whole capacity again, every flow on an entry of its own. */
	for (i = 1000; i < 1000 + x.t.n_entries; i++) {
		k = mkkey(i);
		if (flow_insert(&w2, &k, pkt_flow_hash(&k), 0, 0, FLOW_ST_EST, 1,
				NULL) >= 0)
			n_ok++;
	}
	assert_int_equal(n_ok, x.t.n_entries);
	for (i = 1000; i < 1000 + x.t.n_entries; i++) {
		k = mkkey(i);
		e = flow_lookup(&x.t, &k, pkt_flow_hash(&k));
		assert_non_null(e);
		assert_true(flow_key_eq(&e->key, &k));
	}
	flow_writer_fini(&w2);
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
		cmocka_unit_test(test_move_during_lookup),
		cmocka_unit_test(test_reattach_after_torn_move),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
