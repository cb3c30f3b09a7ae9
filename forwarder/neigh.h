/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarder's neighbour cache: IPv4/IPv6 address -> Ethernet
 * address, shared by the worker lcores of one process.
 *
 * Fixed size, open addressing (linear probing, NEIGH_PROBES slots per
 * chain), lock-free with several writers: a slot is claimed by a CAS on
 * its control word; the MAC, its validity and the slot's state live in
 * that same 64-bit word, so a reader gets a consistent MAC with one
 * atomic load and learning is one store.
 *
 * Two kinds of entries:
 *  - pinned: gateways, backends' next hops and static neighbours,
 *    claimed at start-up before anything else, never aged or freed, so
 *    they resolve whatever the fill.  A pinned entry that stops
 *    answering keeps its last MAC and is asked again every
 *    NEIGH_FAIL_RETRY_MS.
 *  - dynamic: next hops that traffic needs (on-link clients of NAT
 *    replies and of the appliance's ICMP errors), claimed on demand, at most NEIGH_DYN_MAX of them; freed
 *    when unused for NEIGH_IDLE_MS or unanswered after NEIGH_TRIES
 *    requests.  Nothing else creates an entry: ARP requests and
 *    solicitations only refresh entries that exist (RFC 6583 section 7).
 *
 * Freeing is two-step so that a worker never reads a slot that was
 * reused under it: the ticking thread retires an entry (readers stop
 * finding it; a reader that already holds its index sees it invalid),
 * and turns retired entries into reusable tombstones with
 * neigh_reclaim() only after every worker has passed a quiescent state
 * (QSBR in the forwarder).  Tombstones keep probe chains intact.
 *
 * Who writes what: any worker claims, learns and marks use; one thread
 * (worker 0) runs neigh_tick() and neigh_reclaim(), and alone writes
 * req_ms, tries and the tick counters.
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
/* Dynamic entries at most: the rest of the table keeps probe chains
 * short and leaves room for pinned entries. */
#define NEIGH_DYN_MAX (NEIGH_SLOTS / 2)
#define NEIGH_REFRESH_MS 30000u   /* a confirmed entry is asked again after */
#define NEIGH_RETRY_MS 1000u      /* between two requests for one entry */
#define NEIGH_TRIES 3u            /* unanswered requests before "failed" */
#define NEIGH_FAIL_RETRY_MS 10000u /* a failed pinned entry: asked this often */
#define NEIGH_IDLE_MS 60000u      /* a dynamic entry unused this long is freed */
#define NEIGH_LOCK_MS 1000u       /* a MAC confirmed this recently is kept */
#define NEIGH_USE_GRAIN_MS 1000u  /* neigh_use() stores at most this often */
#define NEIGH_TICK_BUDGET 64u     /* requests per neigh_tick() at most */
#define NEIGH_CLAIM_SPIN 4096u    /* pauses waiting on another's claim */

#define NEIGH_MAC_MASK ((1ull << 48) - 1)
#define NEIGH_VALID (1ull << 48)  /* the MAC is known */
#define NEIGH_IPSET (1ull << 49)  /* live: ip and port are set */
#define NEIGH_CLAIM (1ull << 50)  /* being claimed: ip not yet set */
#define NEIGH_STATIC (1ull << 51) /* from the configuration: never learnt */
#define NEIGH_PIN (1ull << 52)    /* never aged or freed */
#define NEIGH_DEAD (1ull << 53)   /* retired: waiting for a grace period */
#define NEIGH_TOMB (1ull << 54)   /* free, but probe chains go on past it */

struct neigh_ent {
	struct halb_ip ip;
	uint64_t ctl;      /* atomic: mac | flags */
	uint32_t seen_ms;  /* last learnt (atomic, relaxed) */
	uint32_t used_ms;  /* last used by traffic (atomic, relaxed) */
	uint32_t req_ms;   /* last request sent; ticking thread only */
	uint16_t port;     /* port index that reaches it */
	uint8_t tries;     /* requests since the last answer; ticking thread */
	uint8_t pad[1];
};

/* What neigh_tick() did, summed since start; written by the ticking
 * thread only. */
struct neigh_stats {
	uint64_t requests;  /* requests sent */
	uint64_t limited;   /* requests put off: NEIGH_TICK_BUDGET spent */
	uint64_t aged;      /* dynamic entries freed: unused */
	uint64_t failed;    /* dynamic entries freed: unanswered */
	uint64_t pin_failed; /* pinned entries that stopped answering */
	uint64_t reclaimed; /* retired slots made reusable */
};

struct neigh_table {
	struct neigh_ent e[NEIGH_SLOTS];
	uint32_t n_dyn;    /* live or retired dynamic entries (atomic) */
	uint32_t n_pin;    /* pinned entries (start-up only) */
	uint32_t n_dead;   /* retired, not yet reclaimed; ticking thread */
	uint32_t cursor;   /* where the next tick's dynamic pass starts */
	struct neigh_stats st;
};

/* How neigh_learn() took a binding. */
enum neigh_learn_res {
	NEIGH_LEARN_NEW = 0,  /* the entry had no MAC: resolved */
	NEIGH_LEARN_SAME,     /* the same MAC: confirmed */
	NEIGH_LEARN_MOVED,    /* another MAC replaced the old one */
	NEIGH_LEARN_LOCKED,   /* another MAC, refused: confirmed < NEIGH_LOCK_MS ago */
	NEIGH_LEARN_KEPT,     /* another MAC, refused: no override (NA, O clear) */
	NEIGH_LEARN_STATIC,   /* a static entry: left as configured */
	NEIGH_LEARN_GONE,     /* the slot is not live any more */
};

/* neigh_learn() flags. */
#define NEIGH_F_OVERRIDE 1u /* may replace a known MAC (ARP, NS, NA with O) */

/*
 * Finds or claims the slot of ip, reached through port.  A pinned claim
 * (start-up) is never aged; a dynamic one counts against NEIGH_DYN_MAX
 * and starts its idle clock at now_ms.  Returns the slot's index, or
 * -ENOSPC when its probe chain is full or the dynamic entries are at
 * their maximum, or -EAGAIN when another worker's claim of a slot on
 * the chain did not finish within NEIGH_CLAIM_SPIN pauses (the packet
 * that asked is dropped; the next one tries again).
 */
int neigh_claim(struct neigh_table *t, const struct halb_ip *ip, uint16_t port,
		bool pin, uint32_t now_ms);

/* Index of ip's live slot, or -1. */
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

/* Traffic used slot idx at now_ms: keeps a dynamic entry from ageing.
 * Stores at most once per NEIGH_USE_GRAIN_MS, so that workers sharing
 * a next hop do not bounce its cache line on every packet. */
static inline void
neigh_use(struct neigh_table *t, int idx, uint32_t now_ms)
{
	struct neigh_ent *e = &t->e[idx];

	if (now_ms - __atomic_load_n(&e->used_ms, __ATOMIC_RELAXED) >=
	    NEIGH_USE_GRAIN_MS)
		__atomic_store_n(&e->used_ms, now_ms, __ATOMIC_RELAXED);
}

/* Records ip -> mac for slot idx (see enum neigh_learn_res). */
enum neigh_learn_res neigh_learn(struct neigh_table *t, int idx,
				 const uint8_t mac[6], uint32_t flags,
				 uint32_t now_ms);

/*
 * Makes live entry idx pinned, if it is not: a next hop that a reload
 * gives a backend or a static neighbour while traffic had it as a
 * dynamic entry (neigh_claim() returns the entry that exists).  Any
 * thread; one pinning thread at a time (n_pin).  0, or -EAGAIN when the
 * entry was retired meanwhile (claim it again).
 */
int neigh_pin(struct neigh_table *t, int idx);

/* Sets a static entry (configuration); it must be pinned. */
void neigh_set_static(struct neigh_table *t, int idx, const uint8_t mac[6]);

/* Sends a request for entry e; returns whether it went out. */
typedef bool (*neigh_send_fn)(void *arg, const struct neigh_ent *e);

/*
 * The ticking thread's round, every 100 ms or so: asks (through send)
 * for unresolved entries and confirmed ones older than
 * NEIGH_REFRESH_MS, at most one request per entry per NEIGH_RETRY_MS
 * and NEIGH_TICK_BUDGET in all, pinned entries first; when may_retire,
 * retires dynamic entries unused for NEIGH_IDLE_MS or unanswered after
 * NEIGH_TRIES requests.  Returns the number of entries retired.
 */
uint32_t neigh_tick(struct neigh_table *t, uint32_t now_ms, bool may_retire,
		    neigh_send_fn send, void *arg);

/*
 * Makes every retired slot reusable.  Call only once no reader can
 * still hold the index of a slot retired before (a grace period since
 * the neigh_tick() that retired them).  Returns how many.
 */
uint32_t neigh_reclaim(struct neigh_table *t);

/* Live dynamic entries (a gauge, for telemetry). */
static inline uint32_t
neigh_n_dynamic(const struct neigh_table *t)
{
	return __atomic_load_n(&t->n_dyn, __ATOMIC_RELAXED) -
	       __atomic_load_n(&t->n_dead, __ATOMIC_RELAXED);
}

#endif
