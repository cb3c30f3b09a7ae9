/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbour cache (see neigh.h for its states and who writes what).
 *
 * Slot states, in the control word:
 *   0                       never used: ends every probe chain
 *   NEIGH_CLAIM             being claimed by a worker (ip not yet set)
 *   NEIGH_IPSET [|VALID|mac] [|PIN] [|STATIC]   live
 *   NEIGH_DEAD              retired: found by nobody, reused by nobody
 *   NEIGH_TOMB              free: claimable, but chains go on past it
 * A tombstone never turns back into 0: a claimer may be placing an entry
 * behind it at that moment, which would then be out of reach.  Lookups
 * that miss scan at most NEIGH_PROBES slots, whatever the churn.
 *
 * Two claims of one address racing with a reclaim may, rarely, leave it
 * in two slots; the one lookups do not find is never used and ages out.
 */
#include <errno.h>

#include <rte_pause.h>

#include "neigh.h"

static uint32_t
ip_hash(const struct halb_ip *ip)
{
	uint32_t h = 2166136261u;
	unsigned int i;

	for (i = 0; i < 16; i++)
		h = (h ^ ip->b[i]) * 16777619u;
	return h;
}

static uint64_t
mac_bits(const uint8_t mac[6])
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < 6; i++)
		v = v << 8 | mac[i];
	return v;
}

static uint64_t
ctl_load(const struct neigh_ent *e)
{
	return __atomic_load_n(&e->ctl, __ATOMIC_ACQUIRE);
}

int
neigh_claim(struct neigh_table *t, const struct halb_ip *ip, uint16_t port,
	    bool pin, uint32_t now_ms)
{
	uint32_t h = ip_hash(ip), n, round, spin;

	/* A lost race for a free slot starts the scan again, a few times. */
	for (round = 0; round < 4; round++) {
		uint32_t free_idx = NEIGH_SLOTS;
		uint64_t free_c = 0;
		struct neigh_ent *e;

		for (n = 0; n < NEIGH_PROBES; n++) {
			uint32_t i = (h + n) % NEIGH_SLOTS;
			uint64_t c;

			e = &t->e[i];
			c = ctl_load(e);
			/* Another worker is claiming it: wait for its address,
			 * a bounded while (the claimer may have lost its CPU
			 * between its two stores: nobody waits on it for a
			 * scheduler's time slice). */
			for (spin = 0; (c & NEIGH_CLAIM) && spin < NEIGH_CLAIM_SPIN;
			     spin++) {
				rte_pause();
				c = ctl_load(e);
			}
			if (c & NEIGH_CLAIM)
				return -EAGAIN;
			if (c == 0 || (c & NEIGH_TOMB)) {
				if (free_idx == NEIGH_SLOTS) {
					free_idx = i;
					free_c = c;
				}
				if (c == 0)
					break;
				continue;
			}
			if ((c & NEIGH_IPSET) && halb_ip_eq(&e->ip, ip))
				return (int)i;
		}
		if (free_idx == NEIGH_SLOTS)
			return -ENOSPC;
		if (!pin && __atomic_load_n(&t->n_dyn, __ATOMIC_RELAXED) >=
				    NEIGH_DYN_MAX)
			return -ENOSPC;
		e = &t->e[free_idx];
		if (!__atomic_compare_exchange_n(&e->ctl, &free_c, NEIGH_CLAIM,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		e->ip = *ip;
		e->port = port;
		e->req_ms = 0;
		e->tries = 0;
		__atomic_store_n(&e->seen_ms, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->used_ms, now_ms, __ATOMIC_RELAXED);
		if (pin)
			t->n_pin++;
		else
			__atomic_fetch_add(&t->n_dyn, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&e->ctl, NEIGH_IPSET | (pin ? NEIGH_PIN : 0),
				 __ATOMIC_RELEASE);
		return (int)free_idx;
	}
	return -ENOSPC;
}

int
neigh_find(const struct neigh_table *t, const struct halb_ip *ip)
{
	uint32_t h = ip_hash(ip), n;

	for (n = 0; n < NEIGH_PROBES; n++) {
		const struct neigh_ent *e = &t->e[(h + n) % NEIGH_SLOTS];
		uint64_t c = ctl_load(e);

		if (c == 0)
			return -1;
		if ((c & NEIGH_IPSET) && halb_ip_eq(&e->ip, ip))
			return (int)((h + n) % NEIGH_SLOTS);
	}
	return -1;
}

enum neigh_learn_res
neigh_learn(struct neigh_table *t, int idx, const uint8_t mac[6],
	    uint32_t flags, uint32_t now_ms)
{
	struct neigh_ent *e = &t->e[idx];
	uint64_t v = mac_bits(mac), c = ctl_load(e);
	enum neigh_learn_res res;

	for (;;) {
		uint32_t seen = __atomic_load_n(&e->seen_ms, __ATOMIC_RELAXED);

		if (!(c & NEIGH_IPSET))
			return NEIGH_LEARN_GONE;
		if (c & NEIGH_STATIC)
			return NEIGH_LEARN_STATIC;
		if ((c & NEIGH_VALID) && (c & NEIGH_MAC_MASK) == v) {
			__atomic_store_n(&e->seen_ms, now_ms, __ATOMIC_RELAXED);
			return NEIGH_LEARN_SAME;
		}
		if (c & NEIGH_VALID) {
			/* RFC 4861 7.2.5: without O, a known address stays. */
			if (!(flags & NEIGH_F_OVERRIDE))
				return NEIGH_LEARN_KEPT;
			/* Like Linux's locktime: of two answers racing, the
			 * first wins, and a forged one must outwait it. */
			if (now_ms - seen < NEIGH_LOCK_MS)
				return NEIGH_LEARN_LOCKED;
			res = NEIGH_LEARN_MOVED;
		} else {
			res = NEIGH_LEARN_NEW;
		}
		/* Not a plain store: the ticking thread may have retired
		 * the slot meanwhile, and must not see it come back. */
		__atomic_store_n(&e->seen_ms, now_ms, __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&e->ctl, &c,
						(c & ~NEIGH_MAC_MASK) | NEIGH_VALID | v,
						false, __ATOMIC_RELEASE,
						__ATOMIC_ACQUIRE))
			return res;
	}
}

int
neigh_pin(struct neigh_table *t, int idx)
{
	struct neigh_ent *e = &t->e[idx];
	uint64_t c = ctl_load(e);

	for (;;) {
		if (c & NEIGH_PIN)
			return 0;
		if (!(c & NEIGH_IPSET) || (c & NEIGH_DEAD))
			return -EAGAIN;
		/* A CAS: the ticking thread retires an entry by a CAS from
		 * what it saw, which then fails. */
		if (__atomic_compare_exchange_n(&e->ctl, &c, c | NEIGH_PIN, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	__atomic_fetch_sub(&t->n_dyn, 1, __ATOMIC_RELAXED);
	t->n_pin++;
	return 0;
}

void
neigh_set_static(struct neigh_table *t, int idx, const uint8_t mac[6])
{
	__atomic_store_n(&t->e[idx].ctl,
			 NEIGH_IPSET | NEIGH_VALID | NEIGH_STATIC | NEIGH_PIN |
				 mac_bits(mac),
			 __ATOMIC_RELEASE);
}

static bool
retire(struct neigh_table *t, struct neigh_ent *e, uint64_t c)
{
	if (!__atomic_compare_exchange_n(&e->ctl, &c, NEIGH_DEAD, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return false; /* learnt meanwhile: look again next tick */
	__atomic_store_n(&t->n_dead, t->n_dead + 1, __ATOMIC_RELAXED);
	return true;
}

enum tick_res { TICK_IDLE, TICK_SENT, TICK_DEFERRED, TICK_RETIRED };

/* One live, non-static entry's turn in neigh_tick(). */
static enum tick_res
tick_one(struct neigh_table *t, struct neigh_ent *e, uint64_t c,
	 uint32_t now_ms, bool may_retire, uint32_t *budget,
	 neigh_send_fn send, void *arg)
{
	uint32_t seen = __atomic_load_n(&e->seen_ms, __ATOMIC_RELAXED);
	uint32_t interval;

	/* Answered since the last request: the count starts again. */
	if ((c & NEIGH_VALID) && e->tries != 0 && (int32_t)(seen - e->req_ms) >= 0)
		e->tries = 0;
	if (!(c & NEIGH_PIN) && may_retire) {
		uint32_t used = __atomic_load_n(&e->used_ms, __ATOMIC_RELAXED);

		if (now_ms - used >= NEIGH_IDLE_MS) {
			if (!retire(t, e, c))
				return TICK_IDLE;
			t->st.aged++;
			return TICK_RETIRED;
		}
		/* The last request had its NEIGH_RETRY_MS to be answered. */
		if (e->tries >= NEIGH_TRIES && now_ms - e->req_ms >= NEIGH_RETRY_MS) {
			if (!retire(t, e, c))
				return TICK_IDLE;
			t->st.failed++;
			return TICK_RETIRED;
		}
	}
	if ((c & NEIGH_VALID) && now_ms - seen < NEIGH_REFRESH_MS)
		return TICK_IDLE;
	interval = e->tries < NEIGH_TRIES ? NEIGH_RETRY_MS : NEIGH_FAIL_RETRY_MS;
	if (e->req_ms != 0 && now_ms - e->req_ms < interval)
		return TICK_IDLE;
	if (!(c & NEIGH_PIN) && e->tries >= NEIGH_TRIES)
		return TICK_IDLE; /* waits for may_retire */
	if (*budget == 0) {
		t->st.limited++;
		return TICK_DEFERRED;
	}
	if (!send(arg, e))
		return TICK_IDLE; /* no buffer: next tick */
	if (e->tries == NEIGH_TRIES)
		t->st.pin_failed++; /* the first of the slow requests */
	e->req_ms = now_ms;
	if (e->tries < UINT8_MAX)
		e->tries++;
	(*budget)--;
	t->st.requests++;
	return TICK_SENT;
}

uint32_t
neigh_tick(struct neigh_table *t, uint32_t now_ms, bool may_retire,
	   neigh_send_fn send, void *arg)
{
	uint32_t budget = NEIGH_TICK_BUDGET, retired = 0, k;
	bool deferred = false;
	int pass;

	/* req_ms 0 means "never asked". */
	if (now_ms == 0)
		now_ms = 1;
	/* Pinned entries first, from slot 0: there are few and they carry
	 * the services.  Dynamic ones from where the budget last ran out,
	 * so that under a flood every entry gets its turn. */
	for (pass = 0; pass < 2; pass++) {
		uint32_t start = pass == 0 ? 0 : t->cursor;

		for (k = 0; k < NEIGH_SLOTS; k++) {
			uint32_t i = (start + k) % NEIGH_SLOTS;
			struct neigh_ent *e = &t->e[i];
			uint64_t c = ctl_load(e);
			enum tick_res r;

			if (!(c & NEIGH_IPSET) || (c & NEIGH_STATIC) ||
			    ((c & NEIGH_PIN) != 0) != (pass == 0))
				continue;
			r = tick_one(t, e, c, now_ms, may_retire, &budget, send, arg);
			if (r == TICK_RETIRED)
				retired++;
			if (r == TICK_DEFERRED && pass == 1 && !deferred) {
				deferred = true;
				t->cursor = i;
			}
		}
	}
	return retired;
}

uint32_t
neigh_reclaim(struct neigh_table *t)
{
	uint32_t i, n = 0;

	for (i = 0; i < NEIGH_SLOTS; i++) {
		struct neigh_ent *e = &t->e[i];

		if (ctl_load(e) != NEIGH_DEAD)
			continue;
		__atomic_store_n(&e->ctl, NEIGH_TOMB, __ATOMIC_RELEASE);
		__atomic_fetch_sub(&t->n_dyn, 1, __ATOMIC_RELAXED);
		n++;
	}
	__atomic_store_n(&t->n_dead, t->n_dead - n, __ATOMIC_RELAXED);
	t->st.reclaimed += n;
	return n;
}
