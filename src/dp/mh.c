/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Weighted Maglev table population (see halb/mh.h).
 *
 * Each backend walks its own permutation of the M table positions,
 * pos_j = (offset + j * skip) mod M, with offset and skip drawn from two
 * independent mixes of its identity; M prime makes every skip in
 * [1, M) visit every position.  A "turn" claims the next free position
 * on the backend's permutation (Eisenbud et al., Algorithm 1).
 *
 * Weights decide who takes a turn when.  Backend i takes its k-th turn
 * (k = 1, 2, ...) at virtual time (k - 1/2) / w_i, i.e. a credit scheme
 * in which credit grows at rate w_i, starts at half a turn (so shares
 * round to nearest rather than down) and one unit buys one turn.  Turns
 * run in virtual-time order; equal times go to the smaller identity, so
 * with equal weights this is exactly the paper's round-robin over
 * backends sorted by id.  Ordering by exact rational time (compared by
 * cross-multiplication) rather than by rounds scaled to the largest
 * weight keeps the relative order of the other backends' turns unchanged
 * when one backend is added, removed or re-weighted: that is what keeps
 * the disruption near the changed backend's own share.  Since neither
 * times nor ties involve the index, the table's identities per slot do
 * not depend on the order of the backend array.
 *
 * The next turn is taken from a binary min-heap of weighted backends,
 * so a build costs O(M log n) heap work plus the permutation walks
 * (about M ln M probes in all), whatever the spread of weights.
 *
 * This runs on the control plane: it allocates its scratch state and
 * writes only the caller's table.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "halb/mh.h"

/* Per-backend population state. */
struct mh_turn {
	uint64_t id;
	uint32_t weight;  /* > 0 */
	uint32_t pos;     /* next position on the permutation to try */
	uint32_t skip;
	uint32_t turns;   /* turns taken */
	uint16_t idx;     /* index in the caller's array */
};

#define MH_FNV_OFFSET 0xcbf29ce484222325ull
#define MH_FNV_PRIME 0x100000001b3ull
/* Seeds of the two permutation hashes; any two distinct constants. */
#define MH_SEED_OFFSET 0x9e3779b97f4a7c15ull
#define MH_SEED_SKIP 0xc2b2ae3d27d4eb4full

/* Murmur3's 64-bit finaliser: a bijection with full avalanche. */
static uint64_t
mh_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static bool
mh_is_prime(uint32_t v)
{
	uint32_t d;

	if (v < 2)
		return false;
	if (v % 2 == 0)
		return v == 2;
	for (d = 3; (uint64_t)d * d <= v; d += 2)
		if (v % d == 0)
			return false;
	return true;
}

uint32_t
mh_table_size(uint32_t n_backends)
{
	uint64_t want = (uint64_t)n_backends * 100;
	uint32_t v;

	if (want > MH_MAX_SIZE)
		return 0;
	v = want < MH_MIN_SIZE ? MH_MIN_SIZE : (uint32_t)want;
	/* MH_MAX_SIZE is prime, so this stops at or below it. */
	while (!mh_is_prime(v))
		v++;
	return v;
}

/*
 * FNV-1a over the address and the port in network order, then a
 * finaliser, since FNV alone leaves the low bits (used by % M) weakly
 * mixed for inputs that differ in one byte.  The same on every host.
 */
uint64_t
mh_backend_id(const uint8_t addr[16], uint16_t port)
{
	uint64_t h = MH_FNV_OFFSET;
	unsigned int i;

	for (i = 0; i < 16; i++) {
		h ^= addr[i];
		h *= MH_FNV_PRIME;
	}
	h ^= (uint8_t)(port >> 8);
	h *= MH_FNV_PRIME;
	h ^= (uint8_t)(port & 0xff);
	h *= MH_FNV_PRIME;
	return mh_mix64(h);
}

/*
 * True when a's next turn comes before b's: earlier virtual time
 * (2 * turns + 1) / (2 * weight), then smaller id, then smaller index
 * (only reached for duplicate ids, which a configuration should not
 * have).  turns < 2^17 and weight < 2^32 keep the products in 64 bits.
 */
static bool
mh_before(const struct mh_turn *a, const struct mh_turn *b)
{
	uint64_t ta = (2 * (uint64_t)a->turns + 1) * b->weight;
	uint64_t tb = (2 * (uint64_t)b->turns + 1) * a->weight;

	if (ta != tb)
		return ta < tb;
	if (a->id != b->id)
		return a->id < b->id;
	return a->idx < b->idx;
}

/* Restores the heap order below slot i of heap[0..n). */
static void
mh_sift_down(uint32_t *heap, uint32_t n, uint32_t i, const struct mh_turn *st)
{
	uint32_t v = heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && mh_before(&st[heap[c + 1]], &st[heap[c]]))
			c++;
		if (!mh_before(&st[heap[c]], &st[v]))
			break;
		heap[i] = heap[c];
		i = c;
	}
	heap[i] = v;
}

/*
 * Any prime in [MH_MIN_SIZE, MH_MAX_SIZE] is accepted, so that a caller
 * may keep one size for several services; shares are only as even as
 * size / n allows.  On -ENOMEM the table is untouched.
 */
int
mh_build(uint16_t *table, uint32_t size, const struct mh_backend *b,
	 uint32_t n)
{
	struct mh_turn *st = NULL;
	uint32_t *heap = NULL;
	uint32_t i, m = 0, filled;
	int rc = 0;

	if (table == NULL || b == NULL || n == 0 || n > 65535 ||
	    size < MH_MIN_SIZE || size > MH_MAX_SIZE || !mh_is_prime(size))
		return -EINVAL;

	for (i = 0; i < n; i++)
		if (b[i].weight != 0)
			m++;
	if (m > 0) {
		st = malloc(m * sizeof(*st));
		heap = malloc(m * sizeof(*heap));
		if (st == NULL || heap == NULL) {
			rc = -ENOMEM; /* the table is left as it was */
			goto out;
		}
	}
	for (i = 0; i < size; i++)
		table[i] = MH_EMPTY;
	if (m == 0)
		goto out;

	m = 0;
	for (i = 0; i < n; i++) {
		if (b[i].weight == 0)
			continue;
		st[m].id = b[i].id;
		st[m].weight = b[i].weight;
		st[m].pos = (uint32_t)(mh_mix64(b[i].id ^ MH_SEED_OFFSET) % size);
		st[m].skip = (uint32_t)(mh_mix64(b[i].id ^ MH_SEED_SKIP) %
					(size - 1)) + 1;
		st[m].turns = 0;
		st[m].idx = (uint16_t)i;
		heap[m] = m;
		m++;
	}
	for (i = m / 2; i-- > 0;)
		mh_sift_down(heap, m, i, st);

	/*
	 * Every turn fills one position and a permutation of a prime-sized
	 * table reaches every position, so each walk ends and the loop runs
	 * exactly size times.
	 */
	for (filled = 0; filled < size; filled++) {
		struct mh_turn *t = &st[heap[0]];

		while (table[t->pos] != MH_EMPTY) {
			t->pos += t->skip;
			if (t->pos >= size)
				t->pos -= size;
		}
		table[t->pos] = t->idx;
		t->turns++;
		mh_sift_down(heap, m, 0, st);
	}
out:
	free(heap);
	free(st);
	return rc;
}
