/* SPDX-License-Identifier: BSD-3-Clause */
/* The command line of the appliance's DPDK programs (see cfg.h): the
 * shared one (halb/cli.h) with the appliance file's check. */
#include "halb/cfg.h"
#include "halb/cli.h"

int
cfg_cli(int argc, char **argv, const char *what, const char **path)
{
	const struct halb_cli cli = {
		.prog = argv[0],
		.what = what,
		.check = cfg_check_main,
	};

	return halb_cli(&cli, argc, argv, path);
}
