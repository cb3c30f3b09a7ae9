/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarder's neighbour cache: IPv4/IPv6 address -> Ethernet
 * address, shared by the worker lcores of one process.
 *
 * Fixed size, open addressing, lock-free with several writers: a slot is
 * claimed once by a CAS on its control word and never given back; the
 * MAC and its validity live in that same 64-bit word, so a reader gets a
 * consistent MAC with one atomic load and learning is one store.
 * Backends and gateways are claimed at start-up; clients (NAT replies)
 * on demand.  Worker 0 sends requests for unresolved and aging entries.
 */
#ifndef HALB_FWD_NEIGH_H
#define HALB_FWD_NEIGH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>

#include "halb/ip.h"

#define NEIGH_SLOTS 4096u
#define NEIGH_PROBES 32u
#define NEIGH_REFRESH_MS 30000u
#define NEIGH_RETRY_MS 1000u

#define NEIGH_MAC_MASK ((1ull << 48) - 1)
#define NEIGH_VALID (1ull << 48)
#define NEIGH_IPSET (1ull << 49)
#define NEIGH_CLAIM (1ull << 50)
#define NEIGH_STATIC (1ull << 51)

struct neigh_ent {
	struct halb_ip ip;
	uint64_t ctl;      /* atomic: mac | flags */
	uint32_t seen_ms;  /* last learnt (atomic, relaxed) */
	uint32_t req_ms;   /* last request sent; worker 0 only */
	uint16_t port;     /* port index that reaches it */
	uint8_t pad[6];
};

struct neigh_table {
	struct neigh_ent e[NEIGH_SLOTS];
	uint64_t full; /* claims refused: table full (atomic) */
};

/* Finds or claims the slot of ip; returns its index or -1 when full. */
int neigh_claim(struct neigh_table *t, const struct halb_ip *ip, uint16_t port);

/* Index of ip's slot, or -1. */
int neigh_find(const struct neigh_table *t, const struct halb_ip *ip);

/* Copies the MAC of slot idx if resolved; returns whether it was. */
static inline bool
neigh_mac(const struct neigh_table *t, int idx, uint8_t mac[6])
{
	uint64_t c = __atomic_load_n(&t->e[idx].ctl, __ATOMIC_ACQUIRE);
	uint64_t be;

	if (!(c & NEIGH_VALID))
		return false;
	/* The low 48 bits hold mac[0] first (most significant): in
	 * network order they are the top six bytes of c << 16.  One byte
	 * swap instead of six shifts, on every forwarded packet. */
	be = rte_cpu_to_be_64(c << 16);
	memcpy(mac, &be, 6);
	return true;
}

/* Records ip -> mac if ip has a slot (static entries stay as they are). */
void neigh_learn(struct neigh_table *t, int idx, const uint8_t mac[6],
		 uint32_t now_ms);

/* Sets a static entry (configuration). */
void neigh_set_static(struct neigh_table *t, int idx, const uint8_t mac[6]);

/* Whether slot idx needs a request now (unresolved or aging), and marks
 * it requested. */
bool neigh_due(struct neigh_table *t, uint32_t idx, uint32_t now_ms);

#endif
