/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow table operations.  See flow-t.h for the layout and for who may
 * write what.  Readers (a forwarder worker) call flow_lookup() only;
 * the writer (the classifier) owns a struct flow_writer per table, which
 * holds the free list and the entries waiting for a grace period.
 */
#ifndef HALB_FLOW_H
#define HALB_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "halb/flow-t.h"

struct rte_rcu_qsbr;

/* Buckets for a capacity: a power of two with room for twice the entries. */
uint32_t flow_table_buckets(uint32_t entries);

/* Bytes of shared memory that flow_table_init() needs for `entries`. */
size_t flow_table_mem_size(uint32_t entries);

/*
 * Lays a table of `entries` capacity over mem (64-byte aligned, of
 * flow_table_mem_size() bytes, zeroed by this call).
 */
void flow_table_init(struct flow_table *t, void *mem, uint32_t entries,
		     uint32_t worker);

static inline uint32_t
flow_slot_idx(uint64_t slot)
{
	return (uint32_t)slot - 1;
}

static inline uint16_t
flow_slot_sig(uint64_t slot)
{
	return (uint16_t)(slot >> 32);
}

static inline uint16_t
flow_sig(uint32_t hash)
{
	return (uint16_t)(hash >> 16);
}

static inline uint32_t
flow_bucket1(const struct flow_table *t, uint32_t hash)
{
	return hash & t->bucket_mask;
}

static inline uint32_t
flow_bucket2(const struct flow_table *t, uint32_t hash)
{
	return (hash ^ ((uint32_t)flow_sig(hash) * 0x5bd1e995u + 1u)) &
	       t->bucket_mask;
}

static inline bool
flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
	uint64_t x[5], y[5];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4])) == 0;
}

static inline struct flow_entry *
flow_bucket_find(const struct flow_table *t, uint32_t b,
		 const struct flow_key *k, uint16_t sig)
{
	const struct flow_bucket *bk = &t->buckets[b];
	unsigned int i;

	for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
		uint64_t s = __atomic_load_n(&bk->slot[i], __ATOMIC_ACQUIRE);
		struct flow_entry *e;

		if (s == 0 || flow_slot_sig(s) != sig)
			continue;
		e = &t->entries[flow_slot_idx(s)];
		if (flow_key_eq(&e->key, k))
			return e;
	}
	return NULL;
}

/* Prefetches the buckets a lookup of `hash` will read. */
static inline void
flow_prefetch(const struct flow_table *t, uint32_t hash)
{
	__builtin_prefetch(&t->buckets[flow_bucket1(t, hash)]);
}

/* The table's change counter (see flow-t.h), read before a lookup. */
static inline uint32_t
flow_chg(const struct flow_table *t)
{
	return __atomic_load_n(&t->hdr->chg, __ATOMIC_ACQUIRE);
}

/* Test hook: runs between the scans of the two buckets of a lookup, so
 * that a unit test can replay a writer's move there. */
#ifndef FLOW_LOOKUP_BETWEEN
#define FLOW_LOOKUP_BETWEEN(t) do { } while (0)
#endif

/*
 * Lock-free lookup, safe against the concurrent writer as long as the
 * caller reports quiescent states to the table's QSBR variable between
 * lookups (never while holding a returned entry).  Returns the entry or
 * NULL.  A miss is checked against the change counter and retried when
 * a key moved meanwhile: a hit costs nothing more, a miss one more read
 * of a line that rarely changes.
 */
static inline struct flow_entry *
flow_lookup(const struct flow_table *t, const struct flow_key *k, uint32_t hash)
{
	struct flow_entry *e;
	uint16_t sig = flow_sig(hash);
	uint32_t chg;

	do {
		chg = flow_chg(t);
		e = flow_bucket_find(t, flow_bucket1(t, hash), k, sig);
		if (e != NULL)
			return e;
		FLOW_LOOKUP_BETWEEN(t);
		e = flow_bucket_find(t, flow_bucket2(t, hash), k, sig);
		if (e != NULL)
			return e;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (chg != flow_chg(t));
	return NULL;
}

/* The writer's private state for one table (process-local memory). */
struct flow_writer {
	struct flow_table *t;
	struct rte_rcu_qsbr *qsbr; /* NULL: entries are reused at once (tests) */
	uint32_t *free_idx;        /* stack of free entry indices */
	uint32_t n_free;
	struct flow_pending {
		uint32_t idx;
		uint64_t token;
	} *pending;                /* ring of removed entries awaiting grace */
	uint32_t pend_head, pend_tail, pend_cap;
	uint32_t scan_bucket;      /* expiry cursor */
};

/*
 * Attaches a writer to a table that may already hold flows (a restarted
 * classifier): the free list is rebuilt from the published slots.
 * Entries neither published nor free (a writer died mid-insert) are
 * reclaimed.  An entry published in two slots (a writer killed between
 * the two stores of a move) keeps one, in a bucket of its key, and the
 * other slot is cleared, so that it is never freed twice.  Slots naming
 * no entry are cleared.  Returns 0 or -ENOMEM.
 */
int flow_writer_init(struct flow_writer *w, struct flow_table *t,
		     struct rte_rcu_qsbr *qsbr);
void flow_writer_fini(struct flow_writer *w);

/*
 * Installs key -> (svc, backend).  Returns the entry index, -EEXIST with
 * *existing set when the key is already there, or -ENOSPC when both
 * candidate buckets or the entry array are full.
 */
int flow_insert(struct flow_writer *w, const struct flow_key *k, uint32_t hash,
		uint16_t svc, uint16_t backend, uint8_t state, uint32_t now_ms,
		struct flow_entry **existing);

/* The same with the entry's tag (flow-t.h: the replica's), set before
 * the entry is published.  flow_insert() is this with tag 0. */
int flow_insert_tag(struct flow_writer *w, const struct flow_key *k,
		    uint32_t hash, uint16_t svc, uint16_t backend, uint8_t state,
		    uint32_t now_ms, uint32_t tag, struct flow_entry **existing);

/* What flow_insert_ext() writes besides the key and the decision, all
 * before the entry is published: its tag, its flags, and its word in the
 * table's aux array (ignored when the table has none). */
struct flow_ext {
	uint32_t tag;
	uint32_t aux;
	uint8_t flags;
};

/* flow_insert_tag() with x (NULL: all 0).  flow_insert_tag() is this
 * with x = { tag }. */
int flow_insert_ext(struct flow_writer *w, const struct flow_key *k,
		    uint32_t hash, uint16_t svc, uint16_t backend, uint8_t state,
		    uint32_t now_ms, const struct flow_ext *x,
		    struct flow_entry **existing);

/* Entry e's word in t's aux array (flow-t.h), 0 when t has none.  Valid
 * while e is (the reader's QSBR rules). */
static inline uint32_t
flow_aux(const struct flow_table *t, const struct flow_entry *e)
{
	if (t->aux == NULL)
		return 0;
	return __atomic_load_n(&t->aux[e - t->entries], __ATOMIC_RELAXED);
}

/*
 * Unpublishes entry idx (whose key hashes to hash) and frees it after a
 * grace period.  Returns 0 or -ENOENT.
 */
int flow_remove(struct flow_writer *w, uint32_t idx, uint32_t hash);

/* Frees the entries whose grace period is over; returns how many. */
uint32_t flow_reclaim(struct flow_writer *w);

/* Live flows (published slots), computed as capacity - free - pending. */
uint32_t flow_count(const struct flow_writer *w);

/*
 * Expiry: visits up to n_buckets buckets from the writer's cursor and
 * calls expired(ctx, entry) for each published entry; when it returns
 * true the entry is removed (the callback accounts for it).  Returns the
 * number removed.
 */
uint32_t flow_expire_scan(struct flow_writer *w, uint32_t n_buckets,
			  bool (*expired)(void *ctx, const struct flow_entry *e),
			  void *ctx);

#endif
