/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The command line every halb program shares (src/core/cli.c):
 *   -c, --config FILE        run from FILE
 *   --check-config FILE      check FILE and exit (0 valid, 1 not)
 *   -v, --verbose            log debug messages too (DPDK-free programs)
 *   -V, --version            print the version and exit
 *   -h, --help               print the usage on stdout and exit 0
 * plus the program's own options, which it handles in a callback.  A
 * mistake prints the usage on stderr and exits 2.
 */
#ifndef HALB_CLI_H
#define HALB_CLI_H

#include <getopt.h>
#include <stdbool.h>

struct halb_cli {
	const char *prog;        /* "halb-healthd": the log's name too */
	const char *what;        /* after "-c FILE" in the usage */
	const char *usage;       /* more usage lines, or NULL */
	/* --check-config FILE: prints the mistakes or "FILE: ok ...";
	 * returns the exit code. */
	int (*check)(const char *path);
	/* The program's own long options (their val not one of c, C, v,
	 * V, h), ending with a zeroed entry; NULL for none. */
	const struct option *opts;
	const char *shortopts;   /* the short forms of those ("p:"), or NULL */
	/* Called for each of them: 0 to go on, else the exit code. */
	int (*opt)(void *arg, int val, const char *optarg);
	void *arg;
	/* A tool's grammar (halbctl): operands follow the options, from
	 * argv[optind] (at least one), and -c FILE may be left out. */
	bool operands;
};

/*
 * Parses argv.  Returns -1 with *path set when the program should run
 * (with .operands, perhaps NULL; they start at argv[optind]), else the
 * exit code to return from main (0 after --help, --version or
 * a valid --check-config).  Sets halb_log_prog, and halb_log_level
 * with -v.
 */
int halb_cli(const struct halb_cli *cli, int argc, char **argv,
	     const char **path);

#endif /* HALB_CLI_H */
