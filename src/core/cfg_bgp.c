/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bgp { } section: what this appliance announces to its upstream
 * routers through BIRD 2 (docs/CONFIG.md, "bgp"): its AS and router id,
 * the neighbours (each on the connected prefix of a port that has a
 * kernel interface, ports[].kernel, since BGP and BFD reach BIRD through
 * the forwarder's exception path), the BFD timers, the services whose
 * VIPs are announced and the next hops announced with them.  The BIRD
 * file is generated from what is read here (src/core/bird_conf.c,
 * `halbctl bird-config`); nothing here talks to BIRD.
 *
 * Read after the ports and the services (cfg.c's table): neighbours are
 * checked against the ports, announce against the service names.
 */
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

#define BGP_AS_TRANS 23456 /* RFC 6793: a placeholder, never an AS */
#define BGP_AS_MAX 4294967295LL
#define BGP_BFD_INTERVAL_MS 100
#define BGP_BFD_MULTIPLIER 3
#define BGP_SOCKET "/run/bird/bird.ctl" /* BIRD's own default */

static const config_setting_t *
load_as(const struct cfg_scope *sc, const char *key, bool required,
	uint32_t *out)
{
	const config_setting_t *s;
	long long v = 0;

	s = sc_int(sc, key, required, 1, BGP_AS_MAX, &v);
	if (s == NULL)
		return NULL;
	if (v == BGP_AS_TRANS) {
		cfg_err(sc->ctx, s, "%s.%s: 23456 is AS_TRANS (RFC 6793), no AS of its own",
			sc->where, key);
		return NULL;
	}
	*out = (uint32_t)v;
	return s;
}

/*
 * A TCP MD5 password: up to 80 bytes (Linux's TCP_MD5SIG_MAXKEYLEN), of
 * printable characters other than '"' and '\', since it is written into
 * BIRD's file between quotes.  A secret: it counts as a key written
 * inline for the file-mode warning (cfg_warn_inline_keys).
 */
static void
load_password(const struct cfg_scope *sc, struct cfg_bgp_neigh *n)
{
	const config_setting_t *s;
	const char *v = NULL;
	size_t i, len;

	s = sc_str(sc, "password", false, &v);
	if (s == NULL)
		return;
	len = strlen(v);
	if (len == 0 || len >= CFG_BGP_PASS_LEN) {
		cfg_err(sc->ctx, s, "%s.password: %zu characters, expected 1..%d",
			sc->where, len, CFG_BGP_PASS_LEN - 1);
		return;
	}
	for (i = 0; i < len; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\') {
			cfg_err(sc->ctx, s, "%s.password: printable ASCII without '\"' or '\\' only (character %zu)",
				sc->where, i + 1);
			return;
		}
	}
	snprintf(n->password, sizeof(n->password), "%s", v);
	sc->ctx->inline_keys++;
}

static void
load_neigh(const struct cfg_scope *bgp, const config_setting_t *list,
	   unsigned int idx)
{
	static const char *const keys[] = { "address", "as", "password", NULL };
	struct cfg_ctx *ctx = bgp->ctx;
	struct halb_cfg *cfg = ctx->cfg;
	struct cfg_bgp_neigh *n = &cfg->bgp.neigh[idx];
	const config_setting_t *s;
	const char *where = "bgp.neighbours";
	char a[HALB_IP_STRLEN];
	struct cfg_scope sc;
	unsigned int i;
	int port;

	if (!sc_elem(ctx, list, idx, where, keys, &sc))
		return;
	n->line = (int)cfg_setting_line(sc.grp);
	load_as(&sc, "as", true, &n->as);
	load_password(&sc, n);
	s = sc_addr(&sc, "address", true, 0, &n->ip);
	if (s == NULL)
		return;
	halb_ip_fmt(&n->ip, a, sizeof(a));
	if (cfg_own_address_port(cfg, &n->ip) >= 0) {
		cfg_err(ctx, s, "%s.address %s is a port's own address", sc.where, a);
		return;
	}
	for (i = 0; i < idx; i++) {
		if (halb_ip_eq(&cfg->bgp.neigh[i].ip, &n->ip)) {
			cfg_err(ctx, s, "duplicate BGP neighbour %s (also %s[%u], line %d)",
				a, where, i, cfg->bgp.neigh[i].line);
			return;
		}
	}
	if (!ctx->ports_ok)
		return;
	port = cfg_connected_port(cfg, &n->ip);
	if (port < 0) {
		cfg_err(ctx, s, "%s.address %s is on no port's connected prefix (BGP sessions are direct)",
			sc.where, a);
		return;
	}
	if (cfg->ports[port].kernel[0] == '\0') {
		cfg_err(ctx, s, "%s.address %s is on port \"%s\", which has no kernel interface: set ports[%d].kernel (BGP and BFD reach BIRD through it)",
			sc.where, a, cfg->ports[port].name, port);
		return;
	}
	n->port = (uint16_t)port;
}

/* announce = [ "SERVICE", ... ]: names of services, each once. */
static void
load_announce(const struct cfg_scope *sc)
{
	struct halb_cfg *cfg = sc->ctx->cfg;
	struct cfg_bgp *b = &cfg->bgp;
	const config_setting_t *s = sc_member(sc, "announce", false), *e;
	unsigned int i, j, k, n;
	const char *name;

	if (s == NULL) {
		/* Every service's VIP (bird_conf.c writes each VIP once). */
		for (i = 0; i < cfg->n_services; i++)
			b->announce[i] = (uint16_t)i;
		b->n_announce = cfg->n_services;
		return;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_type_err(sc, s, "announce", "an array of service names [ \"NAME\", ... ]");
		return;
	}
	n = (unsigned int)config_setting_length(s);
	for (i = 0; i < n && b->n_announce < CFG_MAX_SERVICES; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_err(sc->ctx, e, "%s.announce[%u]: expected a service name, got %s",
				sc->where, i, cfg_type_name(config_setting_type(e)));
			continue;
		}
		name = config_setting_get_string(e);
		for (j = 0; j < cfg->n_services; j++)
			if (strcmp(cfg->services[j].name, name) == 0)
				break;
		if (j == cfg->n_services) {
			cfg_err(sc->ctx, e, "%s.announce[%u]: no service named \"%s\"",
				sc->where, i, name);
			continue;
		}
		for (k = 0; k < b->n_announce; k++)
			if (b->announce[k] == j)
				break;
		if (k < b->n_announce) {
			cfg_err(sc->ctx, e, "%s.announce[%u]: service \"%s\" named twice",
				sc->where, i, name);
			continue;
		}
		b->announce[b->n_announce++] = (uint16_t)j;
	}
}

static void
load_bgp(const struct cfg_scope *root)
{
	static const char *const keys[] = { "as", "router_id", "neighbours",
		"bfd_interval_ms", "bfd_multiplier", "announce", "next_hop4",
		"next_hop6", "socket", NULL };
	struct cfg_ctx *ctx = root->ctx;
	struct halb_cfg *cfg = ctx->cfg;
	struct cfg_bgp *b = &cfg->bgp;
	const config_setting_t *list;
	long long v;
	struct cfg_scope sc;
	unsigned int i, n;

	sc_group(root, "bgp", keys, &sc);
	b->bfd_interval_ms = BGP_BFD_INTERVAL_MS;
	b->bfd_multiplier = BGP_BFD_MULTIPLIER;
	snprintf(b->socket, sizeof(b->socket), "%s", BGP_SOCKET);
	if (sc.grp == NULL)
		return;
	b->has = true;
	b->line = (int)cfg_setting_line(sc.grp);
	load_as(&sc, "as", true, &b->as);
	if (sc_addr(&sc, "router_id", false, 4, &b->router_id) == NULL &&
	    sc_member(&sc, "router_id", false) == NULL) {
		for (i = 0; i < cfg->n_ports && !cfg->ports[i].has_ip4; i++)
			;
		if (i < cfg->n_ports)
			b->router_id = cfg->ports[i].ip4;
		else if (ctx->ports_ok)
			cfg_missing_err(&sc, "router_id",
					": no port has an IPv4 address to take it from");
	}
	v = b->bfd_interval_ms;
	sc_int(&sc, "bfd_interval_ms", false, 10, 10000, &v);
	b->bfd_interval_ms = (uint32_t)v;
	v = b->bfd_multiplier;
	sc_int(&sc, "bfd_multiplier", false, 1, 255, &v);
	b->bfd_multiplier = (uint32_t)v;
	b->has_nh4 = sc_addr(&sc, "next_hop4", false, 4, &b->nh4) != NULL;
	b->has_nh6 = sc_addr(&sc, "next_hop6", false, 6, &b->nh6) != NULL;
	sc_sockpath(&sc, "socket", b->socket);
	load_announce(&sc);
	list = sc_list(&sc, "neighbours", true, 1, CFG_MAX_BGP_NEIGH, &n);
	for (i = 0; i < n; i++)
		load_neigh(&sc, list, i);
	b->n_neigh = n;
}

const struct cfg_section cfg_section_bgp = {
	.name = "bgp",
	.keys = (const char *const[]){ "bgp", NULL },
	.load = load_bgp,
};
