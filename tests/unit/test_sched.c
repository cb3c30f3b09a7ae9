/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's schedulers (src/dp/sched.c): smooth weighted round
 * robin, weighted least connections and Maglev through sched_pick(),
 * with a context holding only the flow hash (pick() below).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/cfg-t.h"
#include "halb/mh.h"
#include "halb/sched.h"

static uint16_t
pick(struct sched_svc *s, uint32_t hash)
{
	const struct sched_ctx ctx = { .hash = hash };

	return sched_pick(s, &ctx);
}

static struct sched_svc *
new_svc(uint8_t kind, const uint32_t *w, uint32_t n)
{
	struct sched_svc *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	sched_init(s, kind, w, n);
	return s;
}

static void
test_wrr_smooth(void **state)
{
	static const uint32_t w[] = { 5, 1, 1 };
	/* nginx's sequence for 5, 1, 1. */
	static const uint16_t want[7] = { 0, 0, 1, 0, 2, 0, 0 };
	struct sched_svc *s = new_svc(CFG_SCHED_WRR, w, 3);
	uint32_t cnt[3] = { 0 }, i, round;
	uint16_t got[7];

	(void)state;
	for (round = 0; round < 100; round++) {
		for (i = 0; i < 7; i++) {
			got[i] = pick(s, 0);
			assert_true(got[i] < 3);
		}
		/* Every window of sum(w) picks: 5/1/1, the 1s spread out. */
		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < 7; i++)
			cnt[got[i]]++;
		assert_int_equal(cnt[0], 5);
		assert_int_equal(cnt[1], 1);
		assert_int_equal(cnt[2], 1);
		for (i = 0; i < 7; i++)
			assert_false(got[i] != 0 && got[(i + 1) % 7] != 0);
		assert_memory_equal(got, want, sizeof(want));
	}

	/* sched_init() restarts the sequence. */
	pick(s, 0);
	pick(s, 0);
	pick(s, 0);
	sched_init(s, CFG_SCHED_WRR, w, 3);
	for (i = 0; i < 7; i++)
		assert_int_equal(pick(s, 0), want[i]);
	free(s);
}

static void
test_wrr_proportions(void **state)
{
	static const uint32_t w[] = { 3, 0, 2, 7, 1 };
	struct sched_svc *s = new_svc(CFG_SCHED_WRR, w, 5);
	uint32_t cnt[5] = { 0 }, i;

	(void)state;
	for (i = 0; i < 13 * 100; i++) {
		uint16_t p = pick(s, i);

		assert_true(p < 5);
		cnt[p]++;
	}
	for (i = 0; i < 5; i++)
		assert_int_equal(cnt[i], w[i] * 100);
	free(s);
}

static void
test_wrr_700(void **state)
{
	static const uint32_t w[] = { 5, 1, 1 };
	struct sched_svc *s = new_svc(CFG_SCHED_WRR, w, 3);
	uint32_t cnt[3] = { 0 }, i;

	(void)state;
	for (i = 0; i < 700; i++)
		cnt[pick(s, 0)]++;
	assert_int_equal(cnt[0], 500);
	assert_int_equal(cnt[1], 100);
	assert_int_equal(cnt[2], 100);
	free(s);
}

static void
test_wrr_big_weights(void **state)
{
	/* Sums beyond 32 bits must neither overflow nor starve anyone. */
	static const uint32_t w[] = { UINT32_MAX, UINT32_MAX, 1 };
	struct sched_svc *s = new_svc(CFG_SCHED_WRR, w, 3);
	uint32_t i, cnt[3] = { 0 };

	(void)state;
	for (i = 0; i < 1000; i++)
		cnt[pick(s, 0)]++;
	assert_int_equal(cnt[0], 500);
	assert_int_equal(cnt[1], 500);
	assert_int_equal(cnt[2], 0);
	free(s);
}

static void
test_no_weight(void **state)
{
	static const uint32_t zero[] = { 0, 0, 0 };
	struct sched_svc *s;
	uint8_t kind;

	(void)state;
	for (kind = CFG_SCHED_MAGLEV; kind <= CFG_SCHED_WLC; kind++) {
		s = new_svc(kind, zero, 3);
		assert_int_equal(pick(s, 1), MH_EMPTY);
		sched_init(s, kind, NULL, 0);
		assert_int_equal(pick(s, 1), MH_EMPTY);
		free(s);
	}
	s = new_svc(99, zero, 3);
	assert_int_equal(pick(s, 1), MH_EMPTY);
	free(s);
}

static void
test_wlc_least(void **state)
{
	static const uint32_t w[] = { 1, 2, 3 };
	static const uint32_t w0[] = { 0, 1, 1 };
	static const uint32_t eq[] = { 1, 1, 1 };
	struct sched_svc *s = new_svc(CFG_SCHED_WLC, w, 3);

	(void)state;
	/* 2/1, 2/2, 2/3 */
	s->active[0] = s->active[1] = s->active[2] = 2;
	assert_int_equal(pick(s, 0), 2);
	/* 1/1, 3/2, 4/3: the lightest is the first */
	s->active[0] = 1;
	s->active[1] = 3;
	s->active[2] = 4;
	assert_int_equal(pick(s, 0), 0);
	/* 2/1, 4/2, 6/3: a three-way tie goes to the lowest index */
	s->active[0] = 2;
	s->active[1] = 4;
	s->active[2] = 6;
	assert_int_equal(pick(s, 0), 0);
	/* 3/1, 4/2, 6/3: a tie between 1 and 2 */
	s->active[0] = 3;
	assert_int_equal(pick(s, 0), 1);

	/* Re-init keeps active; ties among equal weights. */
	sched_init(s, CFG_SCHED_WLC, eq, 3);
	assert_int_equal(s->active[2], 6);
	s->active[0] = s->active[1] = s->active[2] = 0;
	assert_int_equal(pick(s, 0), 0);
	s->active[0] = 1;
	assert_int_equal(pick(s, 0), 1);

	/* Weight 0 is skipped even when idle. */
	sched_init(s, CFG_SCHED_WLC, w0, 3);
	s->active[0] = 0;
	s->active[1] = 5;
	s->active[2] = 7;
	assert_int_equal(pick(s, 0), 1);
	free(s);
}

static void
test_wlc_64bit(void **state)
{
	/*
	 * 4000000000/65535 < 4000000001/65535 only when the products do
	 * not wrap at 32 bits.
	 */
	static const uint32_t w[] = { 65535, 65535, 3 };
	struct sched_svc *s = new_svc(CFG_SCHED_WLC, w, 3);

	(void)state;
	s->active[0] = 4000000001u;
	s->active[1] = 4000000000u;
	s->active[2] = 4000000000u;
	assert_int_equal(pick(s, 0), 1);
	s->active[1] = 4000000002u;
	assert_int_equal(pick(s, 0), 0);
	free(s);
}

static void
test_wlc_follows_weights(void **state)
{
	static const uint32_t w[] = { 1, 2, 0, 3, 4 };
	struct sched_svc *s = new_svc(CFG_SCHED_WLC, w, 5);
	uint32_t i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		uint16_t p = pick(s, i);

		assert_true(p < 5 && p != 2);
		s->active[p]++;
	}
	for (i = 0; i < 5; i++)
		assert_int_equal(s->active[i], w[i] * 100);
	free(s);
}

static void
test_maglev(void **state)
{
	enum { N = 20 };
	uint32_t w[N], i, size = mh_table_size(N);
	struct mh_backend b[N];
	uint16_t *t = malloc(size * sizeof(*t));
	struct sched_svc *s;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < N; i++) {
		uint8_t a[16] = { 0 };

		a[0] = 0x20;
		a[1] = 0x01;
		a[15] = (uint8_t)(i + 1);
		w[i] = i % 4;
		b[i].id = mh_backend_id(a, 8080);
		b[i].weight = w[i];
	}
	assert_int_equal(mh_build(t, size, b, N), 0);

	s = new_svc(CFG_SCHED_MAGLEV, w, N);
	assert_int_equal(pick(s, 12345), MH_EMPTY); /* no table yet */
	s->mh = t;
	s->mh_size = size;
	for (i = 0; i < 200000; i++) {
		uint32_t h = i * 2654435761u;
		uint16_t p = pick(s, h);

		assert_int_equal(p, mh_lookup(t, size, h));
		assert_true(p < N && w[p] != 0);
	}
	/* The same flow keeps its backend. */
	assert_int_equal(pick(s, 777), pick(s, 777));

	/* A stale table naming backends the service no longer has. */
	sched_init(s, CFG_SCHED_MAGLEV, w, N / 2);
	assert_true(s->mh == t); /* init leaves the published table */
	for (i = 0; i < 1000; i++) {
		uint16_t v = mh_lookup(t, size, i);

		assert_int_equal(pick(s, i), v < N / 2 ? v : MH_EMPTY);
	}
	sched_init(s, CFG_SCHED_MAGLEV, w, N);

	/* A table of empty entries. */
	for (i = 0; i < N; i++)
		b[i].weight = 0;
	assert_int_equal(mh_build(t, size, b, N), 0);
	assert_int_equal(pick(s, 777), MH_EMPTY);

	s->mh = NULL;
	assert_int_equal(pick(s, 777), MH_EMPTY);
	free(s);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrr_smooth),
		cmocka_unit_test(test_wrr_proportions),
		cmocka_unit_test(test_wrr_700),
		cmocka_unit_test(test_wrr_big_weights),
		cmocka_unit_test(test_no_weight),
		cmocka_unit_test(test_wlc_least),
		cmocka_unit_test(test_wlc_64bit),
		cmocka_unit_test(test_wlc_follows_weights),
		cmocka_unit_test(test_maglev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
