/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow table: writer side (classifier) and layout helpers.  The reader
 * side is inline in flow.h.  Removal is two-phase: the slot is cleared
 * at once, the entry goes back to the free list only once every reader
 * has reported a quiescent state since (rte_rcu_qsbr), so a worker never
 * compares a key that is being rewritten.  When both buckets of a new key
 * are full, one resident moves to its other bucket (one level of cuckoo
 * displacement), published there before it is cleared here.
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_common.h>
#include <rte_rcu_qsbr.h>

#include "halb/flow.h"
#include "halb/pkt.h"

/* Buckets whose entries the expiry scan prefetches together. */
#define EXPIRE_CHUNK 8u

uint32_t
flow_table_buckets(uint32_t entries)
{
	uint32_t want = entries / FLOW_BUCKET_SLOTS * 2;

	if (want < 2)
		want = 2;
	return (uint32_t)rte_align64pow2(want);
}

size_t
flow_table_mem_size(uint32_t entries)
{
	return sizeof(struct flow_table_hdr) +
	       (size_t)flow_table_buckets(entries) * sizeof(struct flow_bucket) +
	       (size_t)entries * sizeof(struct flow_entry);
}

void
flow_table_init(struct flow_table *t, void *mem, uint32_t entries,
		uint32_t worker)
{
	t->n_buckets = flow_table_buckets(entries);
	t->bucket_mask = t->n_buckets - 1;
	t->n_entries = entries;
	t->worker = worker;
	t->hdr = mem;
	t->buckets = (struct flow_bucket *)(t->hdr + 1);
	t->entries = (struct flow_entry *)(t->buckets + t->n_buckets);
	t->aux = NULL; /* the caller's, if any (flow-t.h) */
	memset(mem, 0, flow_table_mem_size(entries));
}

/* Whether slot s may stand in bucket b: its key hashes there, under the
 * slot's signature. */
static bool
slot_in_place(const struct flow_table *t, uint32_t b, uint64_t s)
{
	uint32_t h = pkt_flow_hash(&t->entries[flow_slot_idx(s)].key);

	return flow_slot_sig(s) == flow_sig(h) &&
	       (flow_bucket1(t, h) == b || flow_bucket2(t, h) == b);
}

/*
 * A writer killed between the two stores of a move leaves an entry in
 * two slots; the expiry scan would free it twice (and two flows would
 * share it).  Keeps one slot per entry, preferring one in a bucket of its
 * key, and clears the others; used[idx] counts the slots and ends at 1.
 * The entry stays reachable throughout, so readers need no grace period.
 */
static uint32_t
dedupe_slots(struct flow_table *t, uint8_t *used)
{
	uint32_t b, i, n = 0;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (b = 0; b < t->n_buckets; b++)
			for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
				uint64_t s = t->buckets[b].slot[i];

				if (s == 0 || used[flow_slot_idx(s)] < 2)
					continue;
				/* First pass: misplaced copies only. */
				if (pass == 0 && slot_in_place(t, b, s))
					continue;
				__atomic_store_n(&t->buckets[b].slot[i], 0,
						 __ATOMIC_RELEASE);
				used[flow_slot_idx(s)]--;
				n++;
			}
	return n;
}

int
flow_writer_init(struct flow_writer *w, struct flow_table *t,
		 struct rte_rcu_qsbr *qsbr)
{
	bool dup = false;
	uint8_t *used;
	uint32_t b, i;

	memset(w, 0, sizeof(*w));
	w->t = t;
	w->qsbr = qsbr;
	w->pend_cap = t->n_entries;
	w->free_idx = malloc(sizeof(*w->free_idx) * t->n_entries);
	w->pending = malloc(sizeof(*w->pending) * t->n_entries);
	used = calloc(t->n_entries, 1);
	if (w->free_idx == NULL || w->pending == NULL || used == NULL) {
		free(used);
		flow_writer_fini(w);
		return -ENOMEM;
	}
	for (b = 0; b < t->n_buckets; b++)
		for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
			uint64_t s = t->buckets[b].slot[i];

			if (s != 0 && flow_slot_idx(s) < t->n_entries) {
				/* Saturates at 2: "more than one". */
				if (used[flow_slot_idx(s)]++ > 0) {
					used[flow_slot_idx(s)] = 2;
					dup = true;
				}
			} else if (s != 0) { /* corrupt slot: drop it */
				__atomic_store_n(&t->buckets[b].slot[i], 0,
						 __ATOMIC_RELEASE);
			}
		}
	if (dup)
		dedupe_slots(t, used);
	/* Push in reverse so that low indices are handed out first. */
	for (i = t->n_entries; i-- > 0;)
		if (!used[i])
			w->free_idx[w->n_free++] = i;
	free(used);
	return 0;
}

void
flow_writer_fini(struct flow_writer *w)
{
	free(w->free_idx);
	free(w->pending);
	w->free_idx = NULL;
	w->pending = NULL;
}

static int
bucket_free_slot(const struct flow_bucket *bk)
{
	unsigned int i;

	for (i = 0; i < FLOW_BUCKET_SLOTS; i++)
		if (bk->slot[i] == 0)
			return (int)i;
	return -1;
}

/*
 * Both buckets of a new key are full: move one resident to its other
 * bucket.  The copy is published before the original slot is cleared,
 * so a concurrent reader finds the entry in one bucket or the other.
 * Returns the freed slot of bucket b, or -1.
 */
static int
make_room(struct flow_table *t, uint32_t b)
{
	struct flow_bucket *bk = &t->buckets[b];
	unsigned int i;

	for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
		uint64_t s = bk->slot[i];
		uint32_t h = pkt_flow_hash(&t->entries[flow_slot_idx(s)].key);
		uint32_t alt = flow_bucket1(t, h) == b ? flow_bucket2(t, h) :
							  flow_bucket1(t, h);
		int j;

		if (alt == b || (j = bucket_free_slot(&t->buckets[alt])) < 0)
			continue;
		__atomic_store_n(&t->buckets[alt].slot[j], s, __ATOMIC_RELEASE);
		/* A reader that scans b after the clear below sees the new
		 * count, and looks again (flow_lookup). */
		__atomic_store_n(&t->hdr->chg, t->hdr->chg + 1, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		__atomic_store_n(&bk->slot[i], 0, __ATOMIC_RELEASE);
		return (int)i;
	}
	return -1;
}

int
flow_insert(struct flow_writer *w, const struct flow_key *k, uint32_t hash,
	    uint16_t svc, uint16_t backend, uint8_t state, uint32_t now_ms,
	    struct flow_entry **existing)
{
	return flow_insert_tag(w, k, hash, svc, backend, state, now_ms, 0,
			       existing);
}

int
flow_insert_tag(struct flow_writer *w, const struct flow_key *k,
		uint32_t hash, uint16_t svc, uint16_t backend, uint8_t state,
		uint32_t now_ms, uint32_t tag, struct flow_entry **existing)
{
	const struct flow_ext x = { .tag = tag };

	return flow_insert_ext(w, k, hash, svc, backend, state, now_ms, &x,
			       existing);
}

int
flow_insert_ext(struct flow_writer *w, const struct flow_key *k,
		uint32_t hash, uint16_t svc, uint16_t backend, uint8_t state,
		uint32_t now_ms, const struct flow_ext *x,
		struct flow_entry **existing)
{
	static const struct flow_ext none;
	struct flow_table *t = w->t;
	struct flow_bucket *bk;
	struct flow_entry *e;
	uint32_t idx;
	int slot;

	e = flow_lookup(t, k, hash);
	if (e != NULL) {
		if (existing != NULL)
			*existing = e;
		return -EEXIST;
	}
	if (w->n_free == 0)
		flow_reclaim(w);
	if (w->n_free == 0)
		return -ENOSPC;
	bk = &t->buckets[flow_bucket1(t, hash)];
	slot = bucket_free_slot(bk);
	if (slot < 0) {
		bk = &t->buckets[flow_bucket2(t, hash)];
		slot = bucket_free_slot(bk);
	}
	if (slot < 0) {
		bk = &t->buckets[flow_bucket1(t, hash)];
		slot = make_room(t, flow_bucket1(t, hash));
	}
	if (slot < 0) {
		bk = &t->buckets[flow_bucket2(t, hash)];
		slot = make_room(t, flow_bucket2(t, hash));
		if (slot < 0)
			return -ENOSPC;
	}
	if (x == NULL)
		x = &none;
	idx = w->free_idx[--w->n_free];
	e = &t->entries[idx];
	e->key = *k;
	e->svc = svc;
	e->backend = backend;
	e->state = state;
	e->flags = x->flags;
	e->last_seen = now_ms;
	e->created = now_ms;
	e->tag = x->tag;
	if (t->aux != NULL)
		__atomic_store_n(&t->aux[idx], x->aux, __ATOMIC_RELAXED);
	/* The entry is complete before a reader can reach it. */
	__atomic_store_n(&bk->slot[slot],
			 (uint64_t)(idx + 1) | (uint64_t)flow_sig(hash) << 32,
			 __ATOMIC_RELEASE);
	return (int)idx;
}

static void
defer_free(struct flow_writer *w, uint32_t idx)
{
	if (w->qsbr == NULL) {
		w->free_idx[w->n_free++] = idx;
		return;
	}
	/* Capacity equals the entry count, so the ring cannot overflow. */
	w->pending[w->pend_tail % w->pend_cap].idx = idx;
	w->pending[w->pend_tail % w->pend_cap].token = rte_rcu_qsbr_start(w->qsbr);
	w->pend_tail++;
}

static int
bucket_clear(struct flow_bucket *bk, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
		uint64_t s = bk->slot[i];

		if (s != 0 && flow_slot_idx(s) == idx) {
			__atomic_store_n(&bk->slot[i], 0, __ATOMIC_RELEASE);
			return 0;
		}
	}
	return -ENOENT;
}

int
flow_remove(struct flow_writer *w, uint32_t idx, uint32_t hash)
{
	struct flow_table *t = w->t;

	if (idx >= t->n_entries)
		return -ENOENT;
	if (bucket_clear(&t->buckets[flow_bucket1(t, hash)], idx) != 0 &&
	    bucket_clear(&t->buckets[flow_bucket2(t, hash)], idx) != 0)
		return -ENOENT;
	defer_free(w, idx);
	return 0;
}

uint32_t
flow_reclaim(struct flow_writer *w)
{
	uint32_t n = 0;

	while (w->pend_head != w->pend_tail) {
		struct flow_pending *p = &w->pending[w->pend_head % w->pend_cap];

		if (rte_rcu_qsbr_check(w->qsbr, p->token, false) != 1)
			break;
		w->free_idx[w->n_free++] = p->idx;
		w->pend_head++;
		n++;
	}
	return n;
}

uint32_t
flow_count(const struct flow_writer *w)
{
	return w->t->n_entries - w->n_free - (w->pend_tail - w->pend_head);
}

uint32_t
flow_expire_scan(struct flow_writer *w, uint32_t n_buckets,
		 bool (*expired)(void *ctx, const struct flow_entry *e),
		 void *ctx)
{
	struct flow_table *t = w->t;
	uint32_t n = 0, first, c, k, b, i;

	if (n_buckets > t->n_buckets)
		n_buckets = t->n_buckets;
	for (; n_buckets > 0; n_buckets -= c) {
		first = w->scan_bucket;
		c = n_buckets < EXPIRE_CHUNK ? n_buckets : EXPIRE_CHUNK;
		w->scan_bucket = (first + c) & t->bucket_mask;
		/* A chunk's entries are random lines of a large array: ask
		 * for all of them before reading any, so that their misses
		 * overlap (a sweep of 10M flows waited on each in turn). */
		for (k = 0; k < c; k++) {
			const struct flow_bucket *bk = &t->buckets[(first + k) & t->bucket_mask];

			for (i = 0; i < FLOW_BUCKET_SLOTS; i++)
				if (bk->slot[i] != 0)
					__builtin_prefetch(&t->entries[flow_slot_idx(bk->slot[i])]);
		}
		for (k = 0; k < c; k++) {
			b = (first + k) & t->bucket_mask;
			for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
				uint64_t s = t->buckets[b].slot[i];

				if (s == 0 || !expired(ctx, &t->entries[flow_slot_idx(s)]))
					continue;
				__atomic_store_n(&t->buckets[b].slot[i], 0,
						 __ATOMIC_RELEASE);
				defer_free(w, flow_slot_idx(s));
				n++;
			}
		}
	}
	return n;
}
