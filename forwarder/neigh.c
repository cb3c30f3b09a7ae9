/* SPDX-License-Identifier: BSD-3-Clause */
/* Neighbour cache (see neigh.h). */
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

int
neigh_claim(struct neigh_table *t, const struct halb_ip *ip, uint16_t port)
{
	uint32_t h = ip_hash(ip), n;

	for (n = 0; n < NEIGH_PROBES; n++) {
		struct neigh_ent *e = &t->e[(h + n) % NEIGH_SLOTS];
		uint64_t c = __atomic_load_n(&e->ctl, __ATOMIC_ACQUIRE);

		if (c == 0) {
			uint64_t zero = 0;

			if (__atomic_compare_exchange_n(&e->ctl, &zero, NEIGH_CLAIM,
							false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				e->ip = *ip;
				e->port = port;
				__atomic_store_n(&e->ctl, NEIGH_IPSET,
						 __ATOMIC_RELEASE);
				return (int)((h + n) % NEIGH_SLOTS);
			}
			c = zero;
		}
		/* Another worker is claiming this slot: wait for its address. */
		while (c & NEIGH_CLAIM)
			c = __atomic_load_n(&e->ctl, __ATOMIC_ACQUIRE);
		if (halb_ip_eq(&e->ip, ip))
			return (int)((h + n) % NEIGH_SLOTS);
	}
	__atomic_fetch_add(&t->full, 1, __ATOMIC_RELAXED);
	return -1;
}

int
neigh_find(const struct neigh_table *t, const struct halb_ip *ip)
{
	uint32_t h = ip_hash(ip), n;

	for (n = 0; n < NEIGH_PROBES; n++) {
		const struct neigh_ent *e = &t->e[(h + n) % NEIGH_SLOTS];
		uint64_t c = __atomic_load_n(&e->ctl, __ATOMIC_ACQUIRE);

		if (c == 0)
			return -1;
		if ((c & NEIGH_IPSET) && halb_ip_eq(&e->ip, ip))
			return (int)((h + n) % NEIGH_SLOTS);
	}
	return -1;
}

void
neigh_learn(struct neigh_table *t, int idx, const uint8_t mac[6],
	    uint32_t now_ms)
{
	struct neigh_ent *e = &t->e[idx];
	uint64_t c = __atomic_load_n(&e->ctl, __ATOMIC_ACQUIRE);
	uint64_t v = NEIGH_IPSET | NEIGH_VALID | mac_bits(mac);

	if (!(c & NEIGH_IPSET) || (c & NEIGH_STATIC))
		return;
	__atomic_store_n(&e->seen_ms, now_ms, __ATOMIC_RELAXED);
	if (c != v)
		__atomic_store_n(&e->ctl, v, __ATOMIC_RELEASE);
}

void
neigh_set_static(struct neigh_table *t, int idx, const uint8_t mac[6])
{
	__atomic_store_n(&t->e[idx].ctl,
			 NEIGH_IPSET | NEIGH_VALID | NEIGH_STATIC | mac_bits(mac),
			 __ATOMIC_RELEASE);
}

bool
neigh_due(struct neigh_table *t, uint32_t idx, uint32_t now_ms)
{
	struct neigh_ent *e = &t->e[idx];
	uint64_t c = __atomic_load_n(&e->ctl, __ATOMIC_ACQUIRE);
	uint32_t seen = __atomic_load_n(&e->seen_ms, __ATOMIC_RELAXED);

	if (!(c & NEIGH_IPSET) || (c & NEIGH_STATIC))
		return false;
	if ((c & NEIGH_VALID) && now_ms - seen < NEIGH_REFRESH_MS)
		return false;
	if (e->req_ms != 0 && now_ms - e->req_ms < NEIGH_RETRY_MS)
		return false;
	e->req_ms = now_ms ? now_ms : 1;
	return true;
}
