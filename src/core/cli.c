/* SPDX-License-Identifier: BSD-3-Clause */
/* The command line the appliance's DPDK programs share (see cfg.h). */
#include <getopt.h>
#include <stdio.h>

#include "halb/cfg.h"

int
cfg_cli(int argc, char **argv, const char *what, const char **path)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*path = NULL;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			*path = optarg;
			break;
		case 'C':
			return cfg_check_main(optarg);
		default:
			goto usage;
		}
	}
	if (*path != NULL && optind == argc)
		return -1;
	opt = 0;
usage:
	fprintf(opt == 'h' ? stdout : stderr,
		"usage: %s -c FILE        %s\n"
		"       %s --check-config FILE\n",
		argv[0], what, argv[0]);
	return opt == 'h' ? 0 : 2;
}
