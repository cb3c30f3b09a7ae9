/* SPDX-License-Identifier: BSD-3-Clause */
/* The harnesses' shared start (args.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_eal.h>

#include "halb/cfg.h"

#include "args.h"
#include "frames.h"

int
bench_start(int argc, char **argv, const char *count_name,
	    uint32_t max_count, struct bench_args *a)
{
	const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "vip", required_argument, NULL, 'v' },
		{ "flows", required_argument, NULL, 'n' },
		{ count_name, required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, n;

	n = rte_eal_init(argc, argv);
	if (n < 0)
		return 1;
	argc -= n;
	argv += n;
	a->path = NULL;
	bench_parse_ip4("198.18.2.100", &a->vip);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a->path = optarg;
			break;
		case 'v':
			if (bench_parse_ip4(optarg, &a->vip) != 0)
				return 2;
			break;
		case 'n':
			a->flows = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			a->count = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [EAL options] -- --config FILE [--vip A] [--flows N] [--%s N]\n",
				argv[0], count_name);
			return 2;
		}
	}
	if (a->path == NULL || a->flows == 0 || a->flows > BENCH_MAX_FLOWS ||
	    a->count == 0 || a->count > max_count) {
		fprintf(stderr, "%s: --config FILE is required; 1 <= flows <= %u, 1 <= %s <= %u\n",
			argv[0], BENCH_MAX_FLOWS, count_name, max_count);
		return 2;
	}
	a->cfg = cfg_load(a->path, stderr);
	return a->cfg != NULL ? 0 : 1;
}
