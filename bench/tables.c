/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-tables: what halb's tables cost, computed from the code
 * that sizes and builds them.
 *
 *  flows  flow_table_mem_size(entries) / entries: the shared (hugepage)
 *         bytes per flow of a worker's table, and the classifier's
 *         private bytes per flow (its free list and grace-period ring,
 *         struct flow_writer).
 *  maglev for 10, 100 and 1000 backends of weight 1: the table size
 *         (mh_table_size), its bytes (one table; the shared memory keeps
 *         two per service, double-buffered), the build time (median of
 *         --builds builds) and, when one backend leaves, the share of
 *         the table's positions whose backend changes, against the
 *         leaver's own share (the minimum any scheme must move),
 *         averaged over --leavers different leavers.
 *
 * Output: one "RESULT {json}" line per figure.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "halb/flow.h"
#include "halb/mh.h"
#include "stats.h"

#define MAX_BUILDS 64u

static void
flows(uint32_t entries)
{
	struct flow_writer *w = NULL;
	size_t shared = flow_table_mem_size(entries);
	size_t priv = sizeof(*w->free_idx) + sizeof(*w->pending);

	printf("RESULT {\"what\": \"flows\", \"entries\": %u, \"buckets\": %u, "
	       "\"shared_bytes\": %zu, \"shared_per_flow\": %.1f, "
	       "\"classifier_per_flow\": %zu}\n",
	       entries, flow_table_buckets(entries), shared,
	       (double)shared / entries, priv);
}

/* Backend i: 10.1.x.y:80, as a configuration would name it. */
static void
backends(struct mh_backend *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint8_t a[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1 };

		a[14] = (uint8_t)(i >> 8);
		a[15] = (uint8_t)i;
		b[i].id = mh_backend_id(a, 80);
		b[i].weight = 1;
	}
}

static int
maglev(uint32_t n, uint32_t builds, uint32_t leavers)
{
	struct mh_backend *b = calloc(n, sizeof(*b)), *less = calloc(n, sizeof(*b));
	uint32_t size = mh_table_size(n), i, k, l;
	uint16_t *t = malloc(size * sizeof(*t)), *t2 = malloc(size * sizeof(*t2));
	double times[MAX_BUILDS], moved = 0, own = 0;
	int rc = -ENOMEM;

	if (b == NULL || less == NULL || t == NULL || t2 == NULL || size == 0)
		goto out;
	backends(b, n);
	for (k = 0; k < builds; k++) {
		double t0 = now_s();

		rc = mh_build(t, size, b, n);
		if (rc != 0)
			goto out;
		times[k] = now_s() - t0;
	}
	qsort(times, builds, sizeof(*times), cmp_double);
	/* Leavers spread over the array; positions are compared by
	 * identity, since indices above the leaver shift down by one. */
	for (l = 0; l < leavers; l++) {
		uint32_t gone = (uint32_t)((uint64_t)n * (2 * l + 1) / (2 * leavers));
		uint32_t changed = 0, had = 0;

		memcpy(less, b, gone * sizeof(*b));
		memcpy(less + gone, b + gone + 1, (n - gone - 1) * sizeof(*b));
		rc = mh_build(t2, size, less, n - 1);
		if (rc != 0)
			goto out;
		for (i = 0; i < size; i++) {
			if (t[i] == gone)
				had++;
			if (b[t[i]].id != less[t2[i]].id)
				changed++;
		}
		moved += (double)changed / size;
		own += (double)had / size;
	}
	printf("RESULT {\"what\": \"maglev\", \"backends\": %u, \"size\": %u, "
	       "\"table_bytes\": %zu, \"service_bytes\": %zu, \"build_ms\": %.3f, "
	       "\"moved_share\": %.5f, \"leaver_share\": %.5f}\n",
	       n, size, size * sizeof(*t), 2 * size * sizeof(*t),
	       times[builds / 2] * 1e3, moved / leavers, own / leavers);
	rc = 0;
out:
	free(b);
	free(less);
	free(t);
	free(t2);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "builds", required_argument, NULL, 'b' },
		{ "leavers", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint32_t entries[] = { 1024, 100000, 1000000, 10000000 };
	static const uint32_t nb[] = { 10, 100, 1000 };
	uint32_t builds = 9, leavers = 5, i;
	int opt;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'b':
			builds = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'l':
			leavers = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [--builds B] [--leavers L]\n", argv[0]);
			return 2;
		}
	}
	if (builds == 0 || builds > MAX_BUILDS || leavers == 0 || leavers > 10) {
		fprintf(stderr, "tables: 1 <= builds <= %u, 1 <= leavers <= 10\n",
			MAX_BUILDS);
		return 2;
	}
	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		flows(entries[i]);
	for (i = 0; i < sizeof(nb) / sizeof(nb[0]); i++)
		if (maglev(nb[i], builds, leavers) != 0) {
			fprintf(stderr, "tables: maglev with %u backends failed\n", nb[i]);
			return 1;
		}
	return 0;
}
