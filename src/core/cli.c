/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared command line (halb/cli.h): one getopt_long loop for every
 * program, the DPDK ones (through cfg_cli) and the DPDK-free ones.
 */
#include <stdio.h>
#include <string.h>

#include "halb/cli.h"
#include "halb/log.h"

#ifndef HALB_VERSION
#define HALB_VERSION "unknown"
#endif

#define CLI_MAX_OPTS 32

static const struct option common[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", required_argument, NULL, 'C' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
};

static int
usage(const struct halb_cli *cli, FILE *out, int rc)
{
	if (cli->operands) {
		fprintf(out, "usage: %s %s\n%s", cli->prog, cli->what,
			cli->usage != NULL ? cli->usage : "");
		return rc;
	}
	fprintf(out,
		"usage: %s -c FILE [-v]   %s\n"
		"%s"
		"       %s --check-config FILE\n"
		"       %s --version | --help\n",
		cli->prog, cli->what, cli->usage != NULL ? cli->usage : "",
		cli->prog, cli->prog);
	return rc;
}

int
halb_cli(const struct halb_cli *cli, int argc, char **argv,
	 const char **path)
{
	struct option opts[CLI_MAX_OPTS];
	char shortopts[64];
	size_t n = 0, i;
	int opt, rc;

	halb_log_prog = cli->prog;
	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		opts[n++] = common[i];
	for (i = 0; cli->opts != NULL && cli->opts[i].name != NULL &&
		    n < CLI_MAX_OPTS - 1; i++)
		opts[n++] = cli->opts[i];
	memset(&opts[n], 0, sizeof(opts[n]));

	/* "+": a tool's operands may look like options ("stats -1"). */
	snprintf(shortopts, sizeof(shortopts), "%sc:vVh%s",
		 cli->operands ? "+" : "",
		 cli->shortopts != NULL ? cli->shortopts : "");
	*path = NULL;
	while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			*path = optarg;
			break;
		case 'C':
			return cli->check(optarg);
		case 'v':
			halb_log_level = HLOG_DEBUG;
			break;
		case 'V':
			printf("%s %s\n", cli->prog, HALB_VERSION);
			return 0;
		case 'h':
			return usage(cli, stdout, 0);
		case '?':
			return usage(cli, stderr, 2);
		default:
			rc = cli->opt != NULL ? cli->opt(cli->arg, opt, optarg) : 2;
			if (rc != 0)
				return rc == 2 ? usage(cli, stderr, 2) : rc;
			break;
		}
	}
	if (cli->operands ? optind >= argc : *path == NULL || optind != argc)
		return usage(cli, stderr, 2);
	return -1;
}
