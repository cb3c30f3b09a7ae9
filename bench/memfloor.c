/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-memfloor: the memory floor of a flow-table hit on this
 * machine, without halb.
 *
 * A hit in the worker (forwarder/worker.c) hashes the packet's key, then
 * reads two cache lines that depend on each other: its bucket and then
 * the entry the bucket's slot names, and writes last_seen in the entry.
 * This program does only that, over memory laid out and sized as
 * flow_table_mem_size() lays out a table for N flows (2 MB pages, as
 * DPDK's), in bursts of 32 packets of random flows: hash every key
 * (pkt_flow_hash, the worker's own), prefetch every bucket, read them
 * and prefetch every entry, read and write the entries.  It reports
 * nanoseconds per packet for N = 1k, 1M and 10M, with one line per hit
 * (the bucket only) and two, and with the prefetches either in loops of
 * their own or interleaved with the hashing, one after each key, as the
 * worker first had them.  The growth from 1k to 10M flows with the
 * better of the two is what no lookup code can take back here.
 *
 * Output: one "RESULT {json}" line per (prefetch, lines, flows).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "halb/flow.h"
#include "halb/pkt.h"
#include "stats.h"

#define BURST 32u
#define HUGE_2M (2ul << 20)

static volatile uint64_t sink;

struct line {
	uint64_t w[8];
};

struct region {
	struct line *buckets;
	struct line *entries;
	uint32_t n_buckets, n_entries;
	size_t bytes;
};

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* Flow f's key: a client 10.x.y.z to a VIP:80 (only the hash's spread
 * matters here). */
static uint32_t
flow_hash(uint32_t f)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.src[10] = 0xff;
	k.src[11] = 0xff;
	k.src[12] = 10;
	k.src[13] = (uint8_t)(f >> 16);
	k.src[14] = (uint8_t)(f >> 8);
	k.src[15] = (uint8_t)f;
	k.dst[10] = 0xff;
	k.dst[11] = 0xff;
	k.dst[12] = 198;
	k.dst[13] = 18;
	k.dst[14] = 2;
	k.dst[15] = 100;
	k.sport = (uint16_t)(1024 + (f >> 24));
	k.dport = 80;
	k.proto = 6;
	return pkt_flow_hash(&k);
}

static bool
region_map(struct region *r, uint32_t flows)
{
	uint32_t entries = flows + flows / 64;
	size_t b_bytes, e_bytes;
	void *p;

	if (entries < 1024)
		entries = 1024;
	r->n_buckets = flow_table_buckets(entries);
	r->n_entries = entries;
	b_bytes = (size_t)r->n_buckets * sizeof(struct line);
	e_bytes = (size_t)entries * sizeof(struct line);
	r->bytes = (b_bytes + e_bytes + HUGE_2M - 1) & ~(HUGE_2M - 1);
	p = mmap(NULL, r->bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "memfloor: %zu bytes of 2 MB pages for %u flows: %s\n",
			r->bytes, flows, strerror(errno));
		return false;
	}
	r->buckets = p;
	r->entries = (struct line *)((char *)p + b_bytes);
	return true;
}

/* Every flow's bucket slot names a random entry, as the classifier's free
 * list hands them out after a while of churn. */
static void
region_fill(struct region *r, uint32_t flows)
{
	uint32_t f;

	memset(r->buckets, 0, (size_t)r->n_buckets * sizeof(struct line));
	for (f = 0; f < flows; f++) {
		uint32_t e = (uint32_t)(mix(f) % r->n_entries);

		r->buckets[flow_hash(f) & (r->n_buckets - 1)].w[f & 7] = e;
		r->entries[e].w[0] = f;
	}
}

/* `packets` packets of random flows among 0..flows-1; ns per packet. */
static double
run(const struct region *r, uint32_t flows, uint32_t packets, bool two_lines,
    bool interleaved)
{
	const struct line *bk[BURST];
	struct line *en[BURST];
	uint32_t slot[BURST];
	uint64_t acc = 0, seq = 0;
	uint32_t done, i;
	double t0 = now_s();

	for (done = 0; done < packets; done += BURST) {
		for (i = 0; i < BURST; i++) {
			uint32_t f = (uint32_t)(mix(seq++) % flows);

			bk[i] = &r->buckets[flow_hash(f) & (r->n_buckets - 1)];
			slot[i] = f & 7;
			if (interleaved)
				__builtin_prefetch(bk[i], 0, 3);
		}
		if (!interleaved)
			for (i = 0; i < BURST; i++)
				__builtin_prefetch(bk[i], 0, 3);
		if (!two_lines) {
			for (i = 0; i < BURST; i++)
				acc += bk[i]->w[slot[i]];
			continue;
		}
		for (i = 0; i < BURST; i++) {
			en[i] = &r->entries[bk[i]->w[slot[i]]];
			if (interleaved)
				__builtin_prefetch(en[i], 1, 3);
		}
		if (!interleaved)
			for (i = 0; i < BURST; i++)
				__builtin_prefetch(en[i], 1, 3);
		for (i = 0; i < BURST; i++) {
			acc += en[i]->w[0];
			en[i]->w[7] = done; /* last_seen */
		}
	}
	sink += acc;
	return (now_s() - t0) * 1e9 / done;
}

#define MAX_ROUNDS 31u
#define N_VARIANTS 4 /* (interleaved, two lines) */

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 1000, 1000000, 10000000 };
	uint32_t packets = 2000000, rounds = 5, s, k;
	double ns[N_VARIANTS][MAX_ROUNDS];
	struct region r;
	int opt, v;

	while ((opt = getopt(argc, argv, "p:r:")) != -1) {
		switch (opt) {
		case 'p':
			packets = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: %s [-p packets] [-r rounds]\n", argv[0]);
			return 2;
		}
	}
	if (packets < BURST || rounds == 0 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "memfloor: -p takes at least %u, -r 1 to %u\n", BURST,
			MAX_ROUNDS);
		return 2;
	}
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		if (!region_map(&r, sizes[s]))
			return 1;
		region_fill(&r, sizes[s]);
		/* Rounds take the variants in turn so that drift on a shared
		 * machine falls on all of them. */
		for (k = 0; k < rounds; k++)
			for (v = 0; v < N_VARIANTS; v++)
				ns[v][k] = run(&r, sizes[s], packets, v & 1, v >> 1);
		for (v = 0; v < N_VARIANTS; v++) {
			qsort(ns[v], rounds, sizeof(double), cmp_double);
			printf("RESULT {\"what\": \"memfloor\", \"prefetch\": \"%s\", "
			       "\"lines\": %d, \"flows\": %u, \"bytes\": %zu, "
			       "\"ns_per_packet\": %.2f}\n",
			       v >> 1 ? "interleaved" : "own loop", (v & 1) + 1, sizes[s],
			       r.bytes, ns[v][rounds / 2]);
		}
		munmap(r.buckets, r.bytes);
	}
	return 0;
}
