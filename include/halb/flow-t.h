/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow-table types.  One table per forwarder worker, in hugepage memory
 * shared by the forwarder (primary) and the classifier (secondary).
 *
 * Layout: a power-of-two array of buckets, one cache line each, holding
 * eight slots; a slot is one 64-bit word packing (entry index + 1) and a
 * 16-bit signature of the key's hash, so that a slot is published or
 * removed by one atomic store.  Each key may live in one of two buckets
 * (primary from the hash, secondary from the signature, as in DPDK's
 * cuckoo hash, without displacement).  Entries live in a separate array,
 * one cache line each.
 *
 * Writers and readers:
 *  - The classifier is the only writer of buckets and of an entry's key
 *    and decision.  It fills an entry, then publishes its slot with a
 *    release store; it removes by storing 0 and frees the entry only after
 *    a QSBR grace period, so a reader never sees a reused entry.
 *  - A move of a key to its other bucket (cuckoo displacement) publishes
 *    the copy, bumps the table's change counter, then clears the original.
 *    A reader that scanned the destination before the copy and the origin
 *    after the clear missed a key that was there throughout; it sees the
 *    counter changed and looks again (as rte_hash's tbl_chng_cnt).  A
 *    lookup that hits needs no check.
 *  - The owning worker reads without locks and is the only writer of
 *    an entry's `last_seen` and `state` (relaxed stores), which the
 *    classifier reads to expire the flow.
 */
#ifndef HALB_FLOW_T_H
#define HALB_FLOW_T_H

#include <assert.h>
#include <stdint.h>

/*
 * The connection as the client sent it (client -> VIP).  Addresses are
 * IPv4-mapped for IPv4; ports in network order; zero padding so that keys
 * compare and hash as bytes.
 */
struct flow_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t pad[3];
};
static_assert(sizeof(struct flow_key) == 40, "flow_key is hashed as 40 bytes");

enum flow_state {
	FLOW_ST_SYN = 0, /* seen only the opening SYN (or first UDP datagram) */
	FLOW_ST_EST,     /* seen traffic beyond the SYN */
	FLOW_ST_FIN,     /* seen FIN or RST */
	FLOW_ST_UDP,
};

struct flow_entry {
	struct flow_key key;
	uint16_t svc;       /* service slot (halb/cfg_reload.h: a reload
			     * never moves a service from its slot) */
	uint16_t backend;   /* backend slot within the service's */
	uint8_t state;      /* enum flow_state; written by the worker */
	uint8_t flags;
	uint16_t pad0;
	uint32_t last_seen; /* coarse ms clock (flow_now_ms); by the worker */
	uint32_t created;   /* coarse ms clock, by the classifier */
	/* The replica (shm->replica) only: which backend the slot named
	 * when the record was written (halb_slot_tag of halb_slot_id), so
	 * that a slot a reload gave to another backend is not used.  0 in
	 * the flow tables.  Set before the entry is published, never
	 * changed while it is. */
	uint32_t tag;
} __attribute__((aligned(64)));
static_assert(sizeof(struct flow_entry) == 64, "one cache line per entry");

#define FLOW_BUCKET_SLOTS 8

struct flow_bucket {
	uint64_t slot[FLOW_BUCKET_SLOTS];
} __attribute__((aligned(64)));
static_assert(sizeof(struct flow_bucket) == 64, "one cache line per bucket");

/* The first cache line of a table's memory, apart from the buckets that
 * readers scan on every packet: the writer changes it only on a move. */
struct flow_table_hdr {
	uint32_t chg; /* cuckoo moves so far (atomic; written by the writer) */
} __attribute__((aligned(64)));

/*
 * A table may carry one 32-bit word per entry beside its entries (aux,
 * NULL for none): the replica (shm->replica) keeps there a request-routed
 * connection's sequence delta (docs/REQUESTS.md, "Several appliances"),
 * which has no room in the 64-byte entry (tag, created and flags are the
 * replica's own).  The writer sets aux[i] before it publishes entry i and
 * never changes it while the entry is published; a reader takes it with
 * the entry (flow_aux), on the rare paths that need it, one more line.
 */
struct flow_table {
	uint32_t n_buckets;   /* power of two */
	uint32_t bucket_mask;
	uint32_t n_entries;   /* capacity */
	uint32_t worker;
	struct flow_table_hdr *hdr;
	struct flow_bucket *buckets;
	struct flow_entry *entries;
	uint32_t *aux;        /* n_entries words, or NULL */
};

#endif
