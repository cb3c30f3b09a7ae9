/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016).
 *
 * A lookup table of prime size M >= 100 * N (and at least MH_MIN_SIZE)
 * maps a flow hash to a backend index.  Each backend's permutation of
 * table positions derives from its stable identity (address and port),
 * not from its index, so adding, removing or re-weighting one backend
 * moves about its own share of positions and little else.  Weights are
 * honoured by giving each backend turns in the population loop in
 * proportion to its weight; a backend of weight 0 (down, drained or
 * configured out) gets no position.
 *
 * Tables are plain arrays: the builder writes a fresh one and the owner
 * publishes it; readers only index it.
 */
#ifndef HALB_MH_H
#define HALB_MH_H

#include <stdint.h>

#define MH_MIN_SIZE 65537u
#define MH_MAX_SIZE 131071u  /* prime; room for 1300 backends */
#define MH_EMPTY 0xffffu     /* table entry when no backend has weight */

struct mh_backend {
	uint64_t id;      /* stable identity, e.g. mh_backend_id(ip, port) */
	uint32_t weight;  /* 0: receives no position */
};

/* Smallest prime >= max(100 * n, MH_MIN_SIZE); at most MH_MAX_SIZE. */
uint32_t mh_table_size(uint32_t n_backends);

/* Stable identity of a backend from its 16-byte address and port. */
uint64_t mh_backend_id(const uint8_t addr[16], uint16_t port);

/*
 * Fills table[0..size) with backend indices (or MH_EMPTY everywhere when
 * no backend has weight).  size must be a prime from mh_table_size().
 * Returns 0, -EINVAL (bad size, n == 0 or n > 65535) or -ENOMEM.
 */
int mh_build(uint16_t *table, uint32_t size, const struct mh_backend *b,
	     uint32_t n);

static inline uint16_t
mh_lookup(const uint16_t *table, uint32_t size, uint32_t hash)
{
	return table[hash % size];
}

#endif
