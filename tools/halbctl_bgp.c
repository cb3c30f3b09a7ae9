/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halbctl bird-config and halbctl bgp: the routing fabric's side of the
 * operator's tool (docs/CONFIG.md, "bgp").  bird-config prints the BIRD 2
 * file generated from the configuration (src/core/bird_conf.c); bgp
 * talks to BIRD's control socket (bgp.socket; src/core/bird.c): it
 * announces or withdraws every VIP by enabling or disabling its static
 * protocol (one per VIP), and prints each VIP's state, the sessions and
 * BFD as BIRD reports them.  halb-had, when it runs, announces and
 * withdraws by itself (docs/RELIABILITY.md, "Routes"): what is done here
 * by hand it undoes at its next change of mind.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "halb/bird.h"
#include "halb/cfg.h"
#include "halbctl_bgp.h"

#define BIRD_TIMEOUT_MS 5000
#define MAX_ROWS 64

static int
bird_config_main(const struct halb_cfg *cfg)
{
	if (!cfg->bgp.has) {
		fprintf(stderr, "halbctl: bird-config: %s has no bgp { } section\n",
			cfg->path);
		return 1;
	}
	return bird_conf_write(cfg, stdout) == 0 ? 0 : 1;
}

/* Every VIP protocol of cfg enabled or disabled. */
static int
vips_set(struct bird_conn *c, const struct halb_cfg *cfg, bool on)
{
	uint16_t svc[CFG_MAX_SERVICES];
	char name[BIRD_VIP_NAME_LEN];
	unsigned int i, n = bird_conf_vips(cfg, svc, CFG_MAX_SERVICES);
	int rc, bad = 0;

	for (i = 0; i < n && i < CFG_MAX_SERVICES; i++) {
		bird_vip_name(&cfg->services[svc[i]].vip, name, sizeof(name));
		rc = bird_proto_enable(c, name, on);
		if (rc == 0)
			continue;
		fprintf(stderr, "halbctl: bgp: %s %s: %s\n", on ? "enable" : "disable",
			name, rc == -ENOENT ?
			"BIRD has no such protocol (is its file `halbctl bird-config`'s?)" :
			strerror(-rc));
		bad = 1;
	}
	return bad;
}

/* What BIRD says of halb's protocols and of its BFD sessions. */
static int
state_print(struct bird_conn *c)
{
	struct bird_proto p[MAX_ROWS];
	struct bird_bfd b[MAX_ROWS];
	int n, i, vips = 0, up = 0;

	n = bird_protocols(c, p, MAX_ROWS);
	if (n < 0) {
		fprintf(stderr, "halbctl: bgp: show protocols: %s\n", strerror(-n));
		return 1;
	}
	if (n > MAX_ROWS)
		n = MAX_ROWS;
	for (i = 0; i < n; i++) {
		if (strncmp(p[i].name, BIRD_VIP, strlen(BIRD_VIP)) != 0)
			continue;
		vips++;
		up += strcmp(p[i].state, "up") == 0;
	}
	printf("vips: %s\n", vips == 0 ? "none (BIRD has no halb_vip protocol)" :
	       up == vips ? "announced" : up == 0 ? "withdrawn" : "partly announced");
	printf("protocols:\n");
	for (i = 0; i < n; i++)
		if (strncmp(p[i].name, "halb_", 5) == 0)
			printf("  %-26s %-7s %-6s %s\n", p[i].name, p[i].proto,
			       p[i].state, p[i].info);
	n = bird_bfd_sessions(c, b, MAX_ROWS);
	if (n == -ENOENT) {
		printf("bfd: none (BIRD has no BFD protocol)\n");
		return 0;
	}
	if (n < 0) {
		fprintf(stderr, "halbctl: bgp: show bfd sessions: %s\n", strerror(-n));
		return 1;
	}
	if (n > MAX_ROWS)
		n = MAX_ROWS;
	printf("bfd:%s\n", n == 0 ? " no sessions" : "");
	for (i = 0; i < n; i++)
		printf("  %-28s %-10s %-9s interval %u ms, detection %u ms\n",
		       b[i].addr, b[i].iface, b[i].state,
		       b[i].interval_us / 1000, b[i].timeout_us / 1000);
	return 0;
}

static int
bgp_main(const struct halb_cfg *cfg, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	struct bird_conn c;
	int rc;

	if (argc > 2 || (argc == 2 && strcmp(sub, "announce") != 0 &&
			 strcmp(sub, "withdraw") != 0)) {
		fprintf(stderr, "halbctl: usage: bgp [announce|withdraw]\n");
		return 2;
	}
	rc = bird_open(&c, cfg->bgp.socket, BIRD_TIMEOUT_MS);
	if (rc != 0) {
		fprintf(stderr, "halbctl: bgp: cannot talk to BIRD at %s (bgp.socket): %s\n",
			cfg->bgp.socket, strerror(-rc));
		return 1;
	}
	printf("bird: %s at %s\n", c.version, cfg->bgp.socket);
	rc = 0;
	if (argc == 2)
		rc = vips_set(&c, cfg, strcmp(sub, "announce") == 0);
	rc |= state_print(&c);
	bird_close(&c);
	return rc;
}

int
halbctl_bgp_main(const char *path, int argc, char **argv)
{
	struct halb_cfg *cfg;
	int rc;

	if (path == NULL) {
		fprintf(stderr, "halbctl: %s needs the configuration: halbctl -c FILE %s\n",
			argv[0], argv[0]);
		return 2;
	}
	cfg = cfg_load(path, stderr);
	if (cfg == NULL)
		return 1;
	if (strcmp(argv[0], "bird-config") == 0)
		rc = argc == 1 ? bird_config_main(cfg) : 2;
	else
		rc = bgp_main(cfg, argc, argv);
	if (rc == 2 && strcmp(argv[0], "bird-config") == 0)
		fprintf(stderr, "halbctl: usage: bird-config (no arguments)\n");
	cfg_free(cfg);
	return rc;
}
