/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loading and checking the appliance configuration.
 *
 * Every mistake is reported as "FILE:LINE: what is wrong" on the given
 * stream, one line each, and loading goes on past the first mistake so
 * that an operator sees all of them at once.
 */
#ifndef HALB_CFG_H
#define HALB_CFG_H

#include <stdbool.h>
#include <stdio.h>

#include "halb/cfg-t.h"
#include "halb/flow-t.h"

/*
 * Loads and validates path.  Returns a heap-allocated configuration
 * (free with cfg_free) or NULL with errno set (EINVAL: invalid, with
 * every mistake written to err; ENOENT etc. for an unreadable file,
 * also reported on err).
 */
struct halb_cfg *cfg_load(const char *path, FILE *err);
void cfg_free(struct halb_cfg *cfg);

/*
 * cfg_load() with flags.  CFG_LOAD_NO_KEYS: no key is decoded and no key
 * file opened (every key's len is 0, the rest as cfg_load() gives it),
 * for programs that send and check nothing sealed, such as halbctl.
 */
#define CFG_LOAD_NO_KEYS 1u
struct halb_cfg *cfg_load_opts(const char *path, FILE *err,
			       unsigned int flags);

/*
 * The --check-config implementation shared by every program: loads
 * path, prints mistakes on stderr or "FILE: ok" on stdout.  Returns the
 * process exit code (0 valid, 1 invalid).
 */
int cfg_check_main(const char *path);

/*
 * The command line of halb-forwarder and halb-classifier: "-c FILE" to
 * run, "--check-config FILE" to check it and exit, "--help".  Returns -1
 * with *path set when the program should run, else its exit code.
 */
int cfg_cli(int argc, char **argv, const char *what, const char **path);

/* cfg_cli() and then cfg_load() of the file it names: -1 with *cfg set
 * when the program should run, else its exit code (mistakes printed). */
int cfg_cli_load(int argc, char **argv, const char *what,
		 struct halb_cfg **cfg);

/* A stable 64-bit digest of the loaded configuration, so that two processes can
 * tell they run from the same file. */
uint64_t cfg_digest(const struct halb_cfg *cfg);

/* Names of enum values as the file spells them ("dsr", "maglev", ...). */
const char *cfg_mode_name(unsigned int mode);
const char *cfg_sched_name(unsigned int sched);

/* "reset", "http-503": enum cfg_l7_no_match as the files spell it. */
const char *cfg_l7_no_match_name(unsigned int v);

/* A part of halb-had's (halb/ha-list.h) by its name: "forwarder"...;
 * the id a name means, or -1. */
const char *cfg_ha_part_name(unsigned int part);
int cfg_ha_part_parse(const char *name);

/* "none", "tcp", "http", "command"; "static", "agent", "least-load". */
const char *cfg_check_name(unsigned int type);
const char *cfg_weight_policy_name(unsigned int policy);

/* "err", "info", ... for a syslog level 0..7; the level a name means,
 * or -1. */
const char *cfg_log_level_name(unsigned int level);
int cfg_log_level_parse(const char *s);

/*
 * Parses "ADDRESS:PORT" or "[IPV6]:PORT" (port 1..65535, any address).
 * Returns 0 or -EINVAL.
 */
int cfg_parse_endpoint(const char *s, struct halb_ip *ip, uint16_t *port);

/*
 * Parses a key written in hex (32..128 digits: 16..64 bytes) into
 * k->bytes and k->len, leaving k->id.  Returns 0, or -EINVAL with the
 * reason in why (which never quotes the key).
 */
int cfg_hex_key(const char *hex, struct seal_key *k, char *why, size_t len);

/*
 * Reads a key file: a regular file that only its owner may access (mode
 * 0600 or 0400, nothing for group or others), owned by root or by this
 * process's user, holding one key in hex (cfg_hex_key()) with any
 * whitespace around it.  Returns 0, or -errno with the reason in why
 * (never the file's content): -EPERM for the mode or the owner, -EINVAL
 * for the content, the open's error otherwise.
 */
int cfg_key_file(const char *path, struct seal_key *k, char *why, size_t len);

/*
 * Finds the port and next hop that reach `dst`: a port whose connected
 * prefix holds dst (next hop dst itself), else the first port with a
 * gateway of dst's family.  Returns the port index, or -ENETUNREACH.
 */
int cfg_route(const struct halb_cfg *cfg, const struct halb_ip *dst,
	      struct halb_ip *next_hop);

/*
 * Parses a port's pci value: a PCI address "DDDD:BB:DD.F" (hex; device
 * 00..1f, function 0..7), optionally followed by ",driver arguments".
 * Writes the address in lower case (DPDK's name of the device) to addr
 * and points *args at the arguments ("" when none).  Returns 0 or
 * -EINVAL with the reason in why.
 */
int cfg_parse_pci(const char *s, char addr[CFG_PCI_LEN], const char **args,
		  char *why, size_t len);

/* Whether any port names a PCI device. */
bool cfg_has_pci(const struct halb_cfg *cfg);

/*
 * The EAL command line of the forwarder (CFG_EAL_PRIMARY: -l, its
 * --vdev and eal.extra) or the classifier (CFG_EAL_SECONDARY: its lcore
 * on eal.classifier_cpus, or on allowed_cpus when that is unset), built
 * from cfg alone, without DPDK.  Both get --no-pci when no port names a
 * PCI device, and otherwise "-a ADDRESS[,ARGS]" for each one that does
 * and for no other: the EAL probes only what the configuration names.
 * Fills a (argv[argc] is NULL; the strings live in a).  Returns 0, or
 * -ENOSPC if it does not fit (it always does for a loaded cfg).
 */
enum cfg_eal_role {
	CFG_EAL_PRIMARY,
	CFG_EAL_SECONDARY,
};

#define CFG_EAL_MAX_ARGS (16 + 2 * CFG_MAX_PORTS + CFG_MAX_EAL_ARGS)

struct cfg_eal_argv {
	int argc;
	char *argv[CFG_EAL_MAX_ARGS + 1];
	char buf[(CFG_EAL_MAX_ARGS + 1) * (CFG_ARG_LEN + 16)];
};

int cfg_eal_argv(const struct halb_cfg *cfg, enum cfg_eal_role role,
		 const char *prog, const char *allowed_cpus,
		 struct cfg_eal_argv *a);

/*
 * IP bytes that tunnel mode adds to a client's packet sent to `backend`:
 * outer IPv4 (20) or IPv6 (40), UDP (8), VXLAN (8) and the inner
 * Ethernet header (14) -- PKT_VXLAN_HDR_V4/_V6 less the outer Ethernet
 * header.  A packet fits a port of MTU m if its IP length is at most
 * m minus this.
 */
static inline uint32_t
cfg_tunnel_overhead(const struct halb_ip *backend)
{
	return halb_ip_is_v4(backend) ? 20 + 8 + 8 + 14 : 40 + 8 + 8 + 14;
}

/* Whether a service has requests { } (the request router runs). */
static inline bool
cfg_has_requests(const struct halb_cfg *cfg)
{
	uint32_t s;

	for (s = 0; s < cfg->n_services; s++)
		if (cfg->services[s].l7.has)
			return true;
	return false;
}

/* How long a flow in `state` (enum flow_state) may stay idle. */
static inline uint32_t
flow_idle_timeout_ms(const struct halb_cfg *cfg, uint8_t state)
{
	switch (state) {
	case FLOW_ST_SYN:
		return cfg->tcp_syn_timeout_ms;
	case FLOW_ST_EST:
		return cfg->tcp_timeout_ms;
	case FLOW_ST_FIN:
		return cfg->tcp_fin_timeout_ms;
	default:
		return cfg->udp_timeout_ms;
	}
}

#endif
