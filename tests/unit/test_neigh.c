/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarder's neighbour cache (forwarder/neigh.c): claiming and
 * finding, learning (override, lock time, static entries), pinned
 * entries that resolve whatever the fill, dynamic entries bounded,
 * aged, failed and reclaimed through tombstones, and the request
 * budget: one request per entry per retry interval, NEIGH_TICK_BUDGET
 * per round, pinned entries first, every dynamic entry in its turn.
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

#include "neigh.h"

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x0b };

static struct halb_ip
v4(uint32_t i)
{
	struct halb_ip a;

	/* 10.x.y.z, i in the low 24 bits */
	halb_ip_from_v4(&a, 0);
	a.b[12] = 10;
	a.b[13] = (uint8_t)(i >> 16);
	a.b[14] = (uint8_t)(i >> 8);
	a.b[15] = (uint8_t)i;
	return a;
}

static struct neigh_table *
table(void)
{
	struct neigh_table *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	return t;
}

/* neigh_tick()'s sender: records what was asked for. */
struct sent {
	uint32_t n;
	bool refuse;
	struct halb_ip ip[NEIGH_SLOTS];
};

static bool
send_rec(void *arg, const struct neigh_ent *e)
{
	struct sent *s = arg;

	if (s->refuse)
		return false;
	if (s->n < NEIGH_SLOTS)
		s->ip[s->n] = e->ip;
	s->n++;
	return true;
}

static uint32_t
count_sent(const struct sent *s, const struct halb_ip *ip)
{
	uint32_t i, n = 0;

	for (i = 0; i < s->n && i < NEIGH_SLOTS; i++)
		n += halb_ip_eq(&s->ip[i], ip);
	return n;
}

static void
test_claim_find(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip a = v4(1), b = v4(2);
	uint8_t mac[6];
	int i, j;

	(void)state;
	assert_int_equal(neigh_find(t, &a), -1);
	i = neigh_claim(t, &a, 3, false, 100);
	assert_true(i >= 0);
	assert_int_equal(neigh_claim(t, &a, 3, false, 100), i);
	assert_int_equal(neigh_find(t, &a), i);
	assert_int_equal(t->e[i].port, 3);
	assert_false(neigh_mac(t, i, mac));
	j = neigh_claim(t, &b, 0, true, 0);
	assert_true(j >= 0 && j != i);
	assert_int_equal(t->n_pin, 1);
	assert_int_equal(neigh_n_dynamic(t), 1);
	free(t);
}

static void
test_learn(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip a = v4(1);
	uint8_t mac[6];
	int i = neigh_claim(t, &a, 0, false, 0);

	(void)state;
	assert_int_equal(neigh_learn(t, i, MAC_A, 0, 1000), NEIGH_LEARN_NEW);
	assert_true(neigh_mac(t, i, mac));
	assert_memory_equal(mac, MAC_A, 6);
	assert_int_equal(neigh_learn(t, i, MAC_A, 0, 1200), NEIGH_LEARN_SAME);
	/* Without override (an NA with O clear) a known MAC stays. */
	assert_int_equal(neigh_learn(t, i, MAC_B, 0, 5000), NEIGH_LEARN_KEPT);
	/* Within the lock time of the last confirmation (1200): refused. */
	assert_int_equal(neigh_learn(t, i, MAC_B, NEIGH_F_OVERRIDE,
				 1200 + NEIGH_LOCK_MS - 1), NEIGH_LEARN_LOCKED);
	assert_true(neigh_mac(t, i, mac));
	assert_memory_equal(mac, MAC_A, 6);
	assert_int_equal(neigh_learn(t, i, MAC_B, NEIGH_F_OVERRIDE,
				 1200 + NEIGH_LOCK_MS), NEIGH_LEARN_MOVED);
	assert_true(neigh_mac(t, i, mac));
	assert_memory_equal(mac, MAC_B, 6);
	free(t);
}

static void
test_static(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip a = v4(1);
	struct sent s = { 0 };
	uint8_t mac[6];
	int i = neigh_claim(t, &a, 0, true, 0);

	(void)state;
	neigh_set_static(t, i, MAC_A);
	assert_int_equal(neigh_learn(t, i, MAC_B, NEIGH_F_OVERRIDE, 100000),
			 NEIGH_LEARN_STATIC);
	assert_true(neigh_mac(t, i, mac));
	assert_memory_equal(mac, MAC_A, 6);
	/* Never asked for, never aged. */
	assert_int_equal(neigh_tick(t, 10u * NEIGH_IDLE_MS, true, send_rec, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(neigh_find(t, &a), i);
	free(t);
}

/* Unresolved: one request a second, NEIGH_TRIES of them; then a
 * dynamic entry is failed and freed, a pinned one asked for slowly. */
static void
test_requests_per_entry(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip d = v4(1), p = v4(2);
	struct sent s = { 0 };
	uint32_t now, retired = 0;

	(void)state;
	assert_true(neigh_claim(t, &p, 0, true, 0) >= 0);
	assert_true(neigh_claim(t, &d, 0, false, 0) >= 0);
	/* Ticks every 100 ms for 30 s; the dynamic entry stays in use. */
	for (now = 100; now <= 30000; now += 100) {
		int i = neigh_find(t, &d);

		if (i >= 0)
			neigh_use(t, i, now);
		retired += neigh_tick(t, now, true, send_rec, &s);
	}
	assert_int_equal(count_sent(&s, &d), NEIGH_TRIES);
	assert_int_equal(retired, 1);
	assert_int_equal(t->st.failed, 1);
	assert_int_equal(neigh_find(t, &d), -1);
	/* Pinned: NEIGH_TRIES at a second, then one per NEIGH_FAIL_RETRY_MS. */
	assert_int_equal(count_sent(&s, &p),
			 NEIGH_TRIES + (30000 - 100 - (NEIGH_TRIES - 1) * NEIGH_RETRY_MS) /
					       NEIGH_FAIL_RETRY_MS);
	assert_int_equal(t->st.pin_failed, 1);
	assert_true(neigh_find(t, &p) >= 0);
	free(t);
}

/* A confirmed entry is asked again only after NEIGH_REFRESH_MS, and an
 * answer resets the count of tries. */
static void
test_refresh(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip a = v4(1);
	struct sent s = { 0 };
	int i = neigh_claim(t, &a, 0, true, 0);
	uint32_t now;

	(void)state;
	neigh_learn(t, i, MAC_A, 0, 100);
	for (now = 200; now < 100 + NEIGH_REFRESH_MS; now += 100)
		neigh_tick(t, now, true, send_rec, &s);
	assert_int_equal(s.n, 0);
	neigh_tick(t, 100 + NEIGH_REFRESH_MS, true, send_rec, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(t->e[i].tries, 1);
	/* Answered: confirmed until the next refresh. */
	neigh_learn(t, i, MAC_A, 0, 150 + NEIGH_REFRESH_MS);
	for (now = 200 + NEIGH_REFRESH_MS; now < 100 + 2 * NEIGH_REFRESH_MS;
	     now += 100)
		neigh_tick(t, now, true, send_rec, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(t->e[i].tries, 0);
	free(t);
}

/* Unused dynamic entries are retired after NEIGH_IDLE_MS; used ones
 * stay; retired slots are found by nobody, reused after reclaim. */
static void
test_ageing(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip a = v4(1), b = v4(2);
	struct sent s = { 0 };
	int ia = neigh_claim(t, &a, 0, false, 0);
	int ib = neigh_claim(t, &b, 0, false, 0);
	uint8_t mac[6];
	uint32_t now, retired = 0;

	(void)state;
	neigh_learn(t, ia, MAC_A, 0, 0);
	neigh_learn(t, ib, MAC_B, 0, 0);
	for (now = 100; now <= NEIGH_IDLE_MS + 100; now += 100) {
		neigh_use(t, ib, now);
		/* Answer every refresh, so that only idleness retires. */
		if (t->e[ia].tries)
			neigh_learn(t, ia, MAC_A, 0, now);
		if (t->e[ib].tries)
			neigh_learn(t, ib, MAC_B, 0, now);
		retired += neigh_tick(t, now, true, send_rec, &s);
	}
	assert_int_equal(retired, 1);
	assert_int_equal(t->st.aged, 1);
	assert_int_equal(neigh_find(t, &a), -1);
	assert_int_equal(neigh_find(t, &b), ib);
	/* A reader that still holds the index sees no MAC. */
	assert_false(neigh_mac(t, ia, mac));
	assert_int_equal(t->e[ia].ctl, NEIGH_DEAD);
	/* Not reusable before the grace period. */
	assert_int_equal(neigh_n_dynamic(t), 1);
	assert_int_equal(neigh_reclaim(t), 1);
	assert_int_equal(t->e[ia].ctl, NEIGH_TOMB);
	assert_int_equal(t->st.reclaimed, 1);
	assert_int_equal(neigh_n_dynamic(t), 1);
	/* Claiming it again reuses the tombstone. */
	assert_int_equal(neigh_claim(t, &a, 0, false, now), ia);
	/* Without may_retire nothing is retired. */
	assert_int_equal(neigh_tick(t, now + 10 * NEIGH_IDLE_MS, false, send_rec, &s), 0);
	free(t);
}

/* A reload pins a next hop that traffic had made dynamic (neigh_pin):
 * it leaves the dynamic count and never ages; a retired one cannot be
 * pinned. */
static void
test_pin(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip a = v4(1), b = v4(2);
	struct sent s = { 0 };
	int ia = neigh_claim(t, &a, 0, false, 0);
	int ib = neigh_claim(t, &b, 0, false, 0);
	uint8_t mac[6];

	(void)state;
	neigh_learn(t, ia, MAC_A, 0, 0);
	assert_int_equal(neigh_n_dynamic(t), 2);
	assert_int_equal(neigh_pin(t, ia), 0);
	assert_int_equal(neigh_pin(t, ia), 0); /* once is enough */
	assert_int_equal(neigh_n_dynamic(t), 1);
	assert_int_equal(t->n_pin, 1);
	/* Idle far past NEIGH_IDLE_MS: b goes, a stays with its MAC. */
	assert_int_equal(neigh_tick(t, 10u * NEIGH_IDLE_MS, true, send_rec, &s), 1);
	assert_int_equal(neigh_find(t, &a), ia);
	assert_true(neigh_mac(t, ia, mac));
	assert_memory_equal(mac, MAC_A, 6);
	assert_int_equal(neigh_pin(t, ib), -EAGAIN);
	free(t);
}

/* Retired and reclaimed slots keep probe chains: with half the table
 * taken chains overlap, and every entry placed behind a freed one stays
 * reachable; claiming the freed addresses again finds room and makes no
 * duplicate. */
static void
test_tombstone_chain(void **state)
{
	struct neigh_table *t = table();
	struct sent s = { .refuse = true };
	int idx[NEIGH_DYN_MAX];
	struct halb_ip x;
	uint32_t i;

	(void)state;
	for (i = 0; i < NEIGH_DYN_MAX; i++) {
		x = v4(i);
		idx[i] = neigh_claim(t, &x, 0, false, 0);
		assert_true(idx[i] >= 0);
	}
	/* The odd ones are in use, the even ones age out. */
	for (i = 1; i < NEIGH_DYN_MAX; i += 2)
		neigh_use(t, idx[i], NEIGH_IDLE_MS);
	assert_int_equal(neigh_tick(t, NEIGH_IDLE_MS, true, send_rec, &s),
			 NEIGH_DYN_MAX / 2);
	assert_int_equal(neigh_reclaim(t), NEIGH_DYN_MAX / 2);
	assert_int_equal(neigh_n_dynamic(t), NEIGH_DYN_MAX / 2);
	for (i = 0; i < NEIGH_DYN_MAX; i++) {
		x = v4(i);
		assert_int_equal(neigh_find(t, &x), i % 2 ? idx[i] : -1);
	}
	for (i = 0; i < NEIGH_DYN_MAX; i += 2) {
		x = v4(i);
		assert_true(neigh_claim(t, &x, 0, false, NEIGH_IDLE_MS) >= 0);
	}
	assert_int_equal(neigh_n_dynamic(t), NEIGH_DYN_MAX);
	for (i = 0; i < NEIGH_DYN_MAX; i++) {
		x = v4(i);
		assert_int_equal(neigh_claim(t, &x, 0, false, NEIGH_IDLE_MS),
				 neigh_find(t, &x));
	}
	assert_int_equal(neigh_n_dynamic(t), NEIGH_DYN_MAX);
	free(t);
}

/* The dynamic entries stop at NEIGH_DYN_MAX; pinned ones, claimed
 * before, resolve and learn whatever the fill. */
static void
test_full(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip gw = v4(0xffff00), x;
	uint32_t i, ok = 0, full = 0;
	uint8_t mac[6];
	int g;

	(void)state;
	g = neigh_claim(t, &gw, 0, true, 0);
	assert_true(g >= 0);
	for (i = 0; i < NEIGH_SLOTS; i++) {
		x = v4(i);
		if (neigh_claim(t, &x, 0, false, 0) >= 0)
			ok++;
		else
			full++;
	}
	assert_int_equal(ok, NEIGH_DYN_MAX);
	assert_int_equal(full, NEIGH_SLOTS - NEIGH_DYN_MAX);
	assert_int_equal(neigh_n_dynamic(t), NEIGH_DYN_MAX);
	x = v4(0x7fffff);
	assert_int_equal(neigh_claim(t, &x, 0, false, 0), -ENOSPC);
	/* The gateway is there, learns, and is asked for first. */
	assert_int_equal(neigh_find(t, &gw), g);
	assert_int_equal(neigh_claim(t, &gw, 0, true, 0), g);
	assert_int_equal(neigh_learn(t, g, MAC_A, 0, 5), NEIGH_LEARN_NEW);
	assert_true(neigh_mac(t, g, mac));
	assert_memory_equal(mac, MAC_A, 6);
	free(t);
}

/* A round sends NEIGH_TICK_BUDGET requests at most, pinned ones first,
 * counts what it put off, and comes round to every entry in turn. */
static void
test_budget(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip pin[4], x;
	struct sent *s = calloc(1, sizeof(*s));
	uint32_t i, now, rounds = 0;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 4; i++) {
		pin[i] = v4(0xff0000 + i);
		assert_true(neigh_claim(t, &pin[i], 0, true, 0) >= 0);
	}
	for (i = 0; i < 1000; i++) {
		x = v4(i);
		assert_true(neigh_claim(t, &x, 0, false, 0) >= 0);
	}
	neigh_tick(t, 100, true, send_rec, s);
	assert_int_equal(s->n, NEIGH_TICK_BUDGET);
	for (i = 0; i < 4; i++)
		assert_int_equal(count_sent(s, &pin[i]), 1);
	assert_int_equal(t->st.limited, 1004 - NEIGH_TICK_BUDGET);
	assert_int_equal(t->st.requests, NEIGH_TICK_BUDGET);
	/* Within a second every entry got its first request, and never more
	 * than NEIGH_TICK_BUDGET went out per round. */
	for (now = 200; rounds < 30; now += 100, rounds++) {
		uint32_t before = s->n;

		neigh_tick(t, now, true, send_rec, s);
		assert_true(s->n - before <= NEIGH_TICK_BUDGET);
	}
	for (i = 0; i < 1000; i++) {
		x = v4(i);
		assert_true(count_sent(s, &x) >= 1);
	}
	free(s);
	free(t);
}

/* A sender that cannot send (no buffer, no address) costs no try. */
static void
test_send_refused(void **state)
{
	struct neigh_table *t = table();
	struct halb_ip a = v4(1);
	struct sent s = { .refuse = true };
	int i = neigh_claim(t, &a, 0, false, 0);
	uint32_t now;

	(void)state;
	for (now = 100; now < 5000; now += 100) {
		neigh_use(t, i, now);
		assert_int_equal(neigh_tick(t, now, true, send_rec, &s), 0);
	}
	assert_int_equal(t->e[i].tries, 0);
	assert_int_equal(t->st.requests, 0);
	free(t);
}

/* Workers claim and learn at once: each address gets one slot, the
 * dynamic count is exact, and every MAC read is one that was learnt. */
struct racer {
	struct neigh_table *t;
	uint8_t mac[6];
	uint32_t bad;
};

#define RACE_N 1500u

static void *
race(void *arg)
{
	struct racer *r = arg;
	uint32_t i, round;

	for (round = 0; round < 20; round++)
		for (i = 0; i < RACE_N; i++) {
			struct halb_ip x = v4(i);
			uint8_t mac[6];
			int n = neigh_claim(r->t, &x, 0, false, round);

			if (n < 0) {
				r->bad++;
				continue;
			}
			neigh_learn(r->t, n, r->mac, NEIGH_F_OVERRIDE,
				    round * NEIGH_LOCK_MS);
			if (neigh_mac(r->t, n, mac) &&
			    memcmp(mac, MAC_A, 6) != 0 && memcmp(mac, MAC_B, 6) != 0)
				r->bad++;
		}
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct neigh_table *t = table();
	struct racer r[2] = { { .t = t }, { .t = t } };
	pthread_t th[2];
	uint32_t i;

	(void)state;
	memcpy(r[0].mac, MAC_A, 6);
	memcpy(r[1].mac, MAC_B, 6);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(r[0].bad + r[1].bad, 0);
	assert_int_equal(neigh_n_dynamic(t), RACE_N);
	for (i = 0; i < RACE_N; i++) {
		struct halb_ip x = v4(i);

		assert_int_equal(neigh_claim(t, &x, 0, false, 0), neigh_find(t, &x));
	}
	assert_int_equal(neigh_n_dynamic(t), RACE_N);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_find),
		cmocka_unit_test(test_learn),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_requests_per_entry),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_ageing),
		cmocka_unit_test(test_tombstone_chain),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_send_refused),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_pin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
