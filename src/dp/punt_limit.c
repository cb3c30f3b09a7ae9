/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Token buckets bounding a worker's punts to the request router
 * (halb/punt_limit.h).  Lazy refill: a bucket gains rate tokens a second
 * from its last refill, up to its burst; one never used starts full.
 */
#include "halb/punt_limit.h"

/* Refills b at now_ms; whether it holds a whole token. */
static bool
refill(struct plim_bucket *b, uint32_t now_ms, uint32_t burst, uint32_t rate)
{
	uint64_t cap = (uint64_t)burst * 1000, m;

	if (b->ms == 0 && b->milli == 0) {
		m = cap;
	} else {
		uint32_t dt = now_ms - b->ms;

		/* A clock read a little behind the last refill (another
		 * turn's) is no time at all, not 49 days. */
		if ((int32_t)dt < 0)
			dt = 0;
		m = b->milli + (uint64_t)dt * rate;
		if (m > cap)
			m = cap;
	}
	b->milli = (uint32_t)m;
	b->ms = now_ms != 0 ? now_ms : 1; /* 0 with 0 tokens: never used */
	return m >= 1000;
}

bool
plim_take(struct plim *l, uint32_t tuple_h, uint32_t src_h, uint32_t now_ms)
{
	struct plim_bucket *t = &l->tuple[tuple_h & (PLIM_TUPLE_SLOTS - 1)];
	struct plim_bucket *s = &l->src[src_h & (PLIM_SRC_SLOTS - 1)];

	if (!refill(t, now_ms, PLIM_TUPLE_BURST, PLIM_TUPLE_RATE) ||
	    !refill(s, now_ms, PLIM_SRC_BURST, PLIM_SRC_RATE))
		return false;
	t->milli -= 1000;
	s->milli -= 1000;
	return true;
}
