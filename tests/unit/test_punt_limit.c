/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bound on a worker's punts to the request router
 * (src/dp/punt_limit.c): a connection and a source address each get
 * their burst at once and their rate after; one over its own bound does
 * not spend its address's; others are untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "halb/punt_limit.h"

static uint32_t
takes(struct plim *l, uint32_t tuple, uint32_t src, uint32_t now, uint32_t n)
{
	uint32_t ok = 0, i;

	for (i = 0; i < n; i++)
		ok += plim_take(l, tuple, src, now);
	return ok;
}

/* One connection replaying a segment: its burst, then its rate. */
static void
test_tuple(void **state)
{
	struct plim *l = calloc(1, sizeof(*l));
	uint32_t now = 5000;

	(void)state;
	assert_non_null(l);
	assert_int_equal(takes(l, 7, 1, now, 1000), PLIM_TUPLE_BURST);
	/* Half a second later: half a second's rate. */
	now += 500;
	assert_int_equal(takes(l, 7, 1, now, 1000), PLIM_TUPLE_RATE / 2);
	/* Another connection of the same address is not held back. */
	assert_int_equal(takes(l, 8, 1, now, PLIM_TUPLE_BURST), PLIM_TUPLE_BURST);
	/* Long idle: the burst again, no more (no overflow of the refill). */
	now += 3600u * 1000;
	assert_int_equal(takes(l, 7, 1, now, 1000), PLIM_TUPLE_BURST);
	/* A clock read behind the last refill adds nothing. */
	assert_int_equal(takes(l, 7, 1, now - 10, 10), 0);
	free(l);
}

/* One address opening many connections: the address's burst, then its
 * rate, whatever the connections' own buckets hold; a connection of
 * another address goes on. */
static void
test_source(void **state)
{
	struct plim *l = calloc(1, sizeof(*l));
	uint32_t now = 1, ok = 0, t;

	(void)state;
	assert_non_null(l);
	for (t = 0; t < PLIM_TUPLE_SLOTS; t++)
		ok += takes(l, t, 42, now, 4);
	assert_int_equal(ok, PLIM_SRC_BURST);
	assert_int_equal(takes(l, 5, 43, now, 1), 1);
	/* 10 ms later: 10 ms of the address's rate (its burst refills in
	 * PLIM_SRC_BURST / PLIM_SRC_RATE s, 125 ms). */
	now += 10;
	for (ok = 0, t = 0; t < PLIM_TUPLE_SLOTS; t++)
		ok += takes(l, t, 42, now, 4);
	assert_int_equal(ok, PLIM_SRC_RATE / 100);
	free(l);
}

/* A connection over its own bound does not spend its address's tokens:
 * the address's other connections still get the address's burst. */
static void
test_tuple_first(void **state)
{
	struct plim *l = calloc(1, sizeof(*l));
	uint32_t ok = 0, t;

	(void)state;
	assert_non_null(l);
	assert_int_equal(takes(l, 0, 9, 100, 100000), PLIM_TUPLE_BURST);
	for (t = 1; t < PLIM_TUPLE_SLOTS; t++)
		ok += takes(l, t, 9, 100, 1);
	assert_int_equal(ok, PLIM_SRC_BURST - PLIM_TUPLE_BURST);
	free(l);
}

/* The defaults leave legitimate use far below them (docs/REQUESTS.md,
 * "Bounds"). */
static void
test_defaults(void **state)
{
	(void)state;
	assert_true(PLIM_TUPLE_BURST >= 16 && PLIM_TUPLE_BURST < PLIM_SRC_BURST);
	/* An address's burst on top of the quarter the ring holds before
	 * the bound applies leaves half of it to the others. */
	assert_true(PLIM_SRC_BURST <= 1024 / 4); /* HALB_RING_SIZE's quarter */
	assert_true(PLIM_SRC_RATE >= 32 * PLIM_TUPLE_RATE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tuple),
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_tuple_first),
		cmocka_unit_test(test_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
