/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halbctl's routing fabric commands (halbctl_bgp.c).
 */
#ifndef HALBCTL_BGP_H
#define HALBCTL_BGP_H

/* `halbctl -c FILE bird-config` and `halbctl -c FILE bgp [announce|
 * withdraw]`: argv[0] is the command.  Returns the exit code. */
int halbctl_bgp_main(const char *path, int argc, char **argv);

#endif
