/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The services ( ) section: each VIP, port and protocol, its forwarding
 * mode and scheduler, and its backends, checked against each other
 * (overlapping VIPs, NAT backends unique) and against the ports read
 * before (every backend reachable, what its mode asks of it); each
 * backend's agent { } and check { } are cfg_health.c's, its requests { }
 * and the backends' pools cfg_requests.c's.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

/* Which keys of the service being read are good, for its backends. */
struct cfg_svc_ok {
	bool port, proto, mode;
};

static const char *const mode_names[] = {
#define HALB_MODE(e, name) [CFG_MODE_##e] = #name,
#include "halb/mode-list.h"
#undef HALB_MODE
	NULL
};
static const char *const sched_names[] = {
#define HALB_SCHED(e, name) [CFG_SCHED_##e] = #name,
#include "halb/sched-list.h"
#undef HALB_SCHED
	NULL
};
static const char *const proto_names[] = { "tcp", "udp", NULL };

/* "198.18.2.100:80/tcp" or "[fd00::1]:53/udp" into buf; port 0 is "*". */
const char *
cfg_endpoint_fmt(const struct halb_ip *ip, uint16_t port, uint8_t proto,
	     char *buf, size_t len)
{
	char a[HALB_IP_STRLEN], p[8] = "*";

	if (port != 0)
		snprintf(p, sizeof(p), "%u", port);
	halb_ip_fmt(ip, a, sizeof(a));
	snprintf(buf, len, halb_ip_is_v4(ip) ? "%s:%s/%s" : "[%s]:%s/%s", a, p,
		 proto == IPPROTO_UDP ? "udp" : "tcp");
	return buf;
}

/* Checks the VIP of service idx against those of the services before it:
 * the classifier must find one service for any packet. */
static void
check_vip_overlap(struct cfg_ctx *ctx, unsigned int idx,
		  const config_setting_t *s_vip)
{
	const struct cfg_service *svc = &ctx->cfg->services[idx];
	char a[80], b[80];
	unsigned int i;

	for (i = 0; i < idx; i++) {
		const struct cfg_service *o = &ctx->cfg->services[i];

		if (halb_ip_is_zero(&o->vip) || !halb_ip_eq(&o->vip, &svc->vip) ||
		    o->proto != svc->proto)
			continue;
		if (o->port == svc->port) {
			cfg_err(ctx, s_vip,
				"duplicate vip %s: also service \"%s\" (line %d)",
				cfg_endpoint_fmt(&svc->vip, svc->port, svc->proto, a, sizeof(a)),
				o->name, o->line);
			return;
		}
		if (o->port == 0 || svc->port == 0) {
			cfg_err(ctx, s_vip,
				"vip %s overlaps %s of service \"%s\" (line %d)",
				cfg_endpoint_fmt(&svc->vip, svc->port, svc->proto, a, sizeof(a)),
				cfg_endpoint_fmt(&o->vip, o->port, o->proto, b, sizeof(b)),
				o->name, o->line);
			return;
		}
	}
}

uint16_t
cfg_backend_port(const struct cfg_service *svc, const struct cfg_backend *be)
{
	return be->port != 0 ? be->port : svc->port;
}

/* Replies from NAT backends are mapped back by (ip, port, protocol): no
 * two NAT services may share one. */
static void
check_nat_unique(struct cfg_ctx *ctx, unsigned int si,
		 const struct cfg_backend *be, const config_setting_t *s)
{
	const struct cfg_service *svc = &ctx->cfg->services[si];
	uint16_t port = cfg_backend_port(svc, be), oport;
	unsigned int i, j;
	char a[80];

	for (i = 0; i < si; i++) {
		const struct cfg_service *o = &ctx->cfg->services[i];

		if (o->mode != CFG_MODE_NAT || o->proto != svc->proto ||
		    halb_ip_is_zero(&o->vip))
			continue;
		for (j = 0; j < o->n_backends; j++) {
			if (!halb_ip_eq(&o->backends[j].ip, &be->ip))
				continue;
			oport = cfg_backend_port(o, &o->backends[j]);
			if (oport != port && oport != 0 && port != 0)
				continue;
			cfg_err(ctx, s,
				"nat backend %s is also a nat backend of service \"%s\" (line %d): replies could not be mapped back",
				cfg_endpoint_fmt(&be->ip, port, svc->proto, a, sizeof(a)),
				o->name, o->backends[j].line);
			return;
		}
	}
}

/* What the service's forwarding mode needs of the backend. */
static bool
check_backend_mode(struct cfg_ctx *ctx, const struct cfg_service *svc,
		   const struct cfg_backend *be, const config_setting_t *s_be,
		   const config_setting_t *s_port)
{
	char a[HALB_IP_STRLEN], b[HALB_IP_STRLEN];

	switch (svc->mode) {
	case CFG_MODE_DSR:
	case CFG_MODE_TUNNEL:
		if (be->port != 0 && be->port != svc->port) {
			cfg_err(ctx, s_port,
				"%s cannot change the port: backend port %u differs from service port %u%s",
				cfg_mode_name(svc->mode), be->port, svc->port,
				svc->port == 0 ? " (all ports)" : "");
			return false;
		}
		break;
	case CFG_MODE_NAT:
		/* A zero vip was bad, and reported. */
		if (!halb_ip_is_zero(&svc->vip) &&
		    halb_ip_is_v4(&be->ip) != halb_ip_is_v4(&svc->vip)) {
			cfg_err(ctx, s_be,
				"nat cannot translate between families: backend %s is %s, vip %s is %s",
				halb_ip_fmt(&be->ip, a, sizeof(a)), cfg_family_name(&be->ip),
				halb_ip_fmt(&svc->vip, b, sizeof(b)),
				cfg_family_name(&svc->vip));
			return false;
		}
		if (svc->port == 0 && be->port != 0) {
			cfg_err(ctx, s_port,
				"nat on all ports (service port 0) cannot map to backend port %u: leave the backend port 0",
				be->port);
			return false;
		}
		break;
	}
	return true;
}

/* The backend must be reachable from a port; DSR must reach it at L2. */
static void
check_backend_route(struct cfg_ctx *ctx, const struct cfg_service *svc,
		    const struct cfg_backend *be, const config_setting_t *s_be)
{
	const struct halb_cfg *cfg = ctx->cfg;
	bool v4 = halb_ip_is_v4(&be->ip), any = false;
	char a[HALB_IP_STRLEN], g[HALB_IP_STRLEN];
	struct halb_ip nh;
	unsigned int i;
	int port;

	halb_ip_fmt(&be->ip, a, sizeof(a));
	port = cfg_route(cfg, &be->ip, &nh);
	if (port < 0) {
		for (i = 0; i < cfg->n_ports; i++)
			any |= v4 ? cfg->ports[i].has_ip4 : cfg->ports[i].has_ip6;
		if (!any)
			cfg_err(ctx, s_be,
				"backend %s unreachable: no port has an %s address or gateway",
				a, cfg_family_name(&be->ip));
		else
			cfg_err(ctx, s_be,
				"backend %s unreachable: not in any port's connected prefix and no port has a gateway%d",
				a, v4 ? 4 : 6);
		return;
	}
	if (svc->mode == CFG_MODE_DSR && !halb_ip_eq(&nh, &be->ip))
		cfg_err(ctx, s_be,
			"dsr forwards at layer 2: backend %s must be in a port's connected prefix, not behind gateway %s",
			a, halb_ip_fmt(&nh, g, sizeof(g)));
	/* An IPv6 client may send 1280-byte packets whatever it is told
	 * (RFC 8201 4), and tunnel mode never fragments: they must fit. */
	if (svc->mode == CFG_MODE_TUNNEL && !halb_ip_is_v4(&svc->vip) &&
	    !halb_ip_is_zero(&svc->vip) &&
	    cfg->ports[port].mtu < 1280 + cfg_tunnel_overhead(&be->ip))
		cfg_err(ctx, s_be,
			"tunnel to backend %s: port \"%s\" has mtu %u, less than the %u that IPv6 packets of 1280 bytes need in VXLAN",
			a, cfg->ports[port].name, cfg->ports[port].mtu,
			1280 + cfg_tunnel_overhead(&be->ip));
}

static void
load_backend(struct cfg_ctx *ctx, unsigned int si, const struct cfg_svc_ok *ok,
	     const config_setting_t *list, unsigned int bi)
{
	static const char *const keys[] = { "ip", "port", "weight",
		"tunnel_mac", "agent", "check", "pool", NULL };
	struct cfg_service *svc = &ctx->cfg->services[si];
	struct cfg_backend *be = &svc->backends[bi];
	bool tunnel = ok->mode && svc->mode == CFG_MODE_TUNNEL;
	const config_setting_t *s_ip, *s_port, *s;
	long long port = 0, weight = 1;
	unsigned int n_err = ctx->n_err, i;
	char where[CFG_WHERE_LEN], a[80];
	struct cfg_scope sc;
	int pi;

	snprintf(where, sizeof(where), "services[%u].backends", si);
	if (!sc_elem(ctx, list, bi, where, keys, &sc))
		return;
	be->line = (int)cfg_setting_line(sc.grp);
	s_ip = sc_addr(&sc, "ip", true, 0, &be->ip);
	s_port = sc_int(&sc, "port", false, 0, 65535, &port);
	be->port = (uint16_t)port;
	sc_int(&sc, "weight", false, 0, CFG_MAX_WEIGHT, &weight);
	be->weight = (uint32_t)weight;
	s = sc_member(&sc, "tunnel_mac", false);
	if (tunnel && s == NULL)
		cfg_missing_err(&sc, "tunnel_mac", " (mode \"tunnel\" needs it)");
	else if (tunnel)
		be->has_tunnel_mac =
			sc_mac(&sc, "tunnel_mac", true, be->tunnel_mac) != NULL;
	else if (s != NULL && ok->mode)
		cfg_err(ctx, s, "%s.tunnel_mac: only for mode \"tunnel\", not \"%s\"",
			sc.where, cfg_mode_name(svc->mode));
	/* Health: what reports on the backend, and how it is probed. */
	cfg_health_backend(&sc, si, bi,
			   s_ip != NULL && ok->port && ok->proto &&
			   (s_port != NULL || sc_member(&sc, "port", false) == NULL));
	/* Its pool, in a service with requests { }. */
	cfg_requests_backend(&sc, si, bi);

	/* The checks of the whole need a good address and port. */
	if (ctx->n_err != n_err || s_ip == NULL || !ok->port) {
		memset(&be->ip, 0, sizeof(be->ip));
		return;
	}
	if (s_port == NULL)
		s_port = sc.grp;
	pi = cfg_own_address_port(ctx->cfg, &be->ip);
	if (pi >= 0) {
		cfg_err(ctx, s_ip, "backend %s is the own address of port \"%s\"",
			halb_ip_fmt(&be->ip, a, sizeof(a)), ctx->cfg->ports[pi].name);
		goto bad;
	}
	for (i = 0; i < bi; i++) {
		const struct cfg_backend *o = &svc->backends[i];

		if (halb_ip_eq(&o->ip, &be->ip) &&
		    cfg_backend_port(svc, o) == cfg_backend_port(svc, be)) {
			cfg_err(ctx, s_ip, "duplicate backend %s (also line %d)",
				cfg_endpoint_fmt(&be->ip, cfg_backend_port(svc, be),
					     svc->proto, a, sizeof(a)),
				o->line);
			goto bad;
		}
	}
	if (!ok->mode || !check_backend_mode(ctx, svc, be, s_ip, s_port))
		goto bad;
	if (ctx->ports_ok)
		check_backend_route(ctx, svc, be, s_ip);
	if (svc->mode == CFG_MODE_NAT && ok->proto)
		check_nat_unique(ctx, si, be, s_ip);
	return;
bad:
	memset(&be->ip, 0, sizeof(be->ip));
}

static void
load_service(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int si)
{
	static const char *const keys[] = { "name", "vip", "port", "protocol",
		"mode", "scheduler", "vni", "tunnel_port", "down_flows",
		"backends", "requests", NULL };
	static const char *const down_names[] = { "reset", "keep", NULL };
	struct cfg_service *svc = &ctx->cfg->services[si];
	const config_setting_t *s_name, *s_vip, *s, *bl;
	unsigned int proto = 0, mode = CFG_MODE_DSR, sched = CFG_SCHED_MAGLEV;
	unsigned int down = CFG_DOWN_RESET;
	long long port = 0, vni = 1, tport = 4789;
	struct cfg_svc_ok ok = { .port = true };
	bool vip_ok;
	struct cfg_scope sc;
	unsigned int i, n;
	char a[HALB_IP_STRLEN];
	int pi;

	if (!sc_elem(ctx, list, si, "services", keys, &sc))
		return;
	svc->line = (int)cfg_setting_line(sc.grp);

	s_name = sc_ident(&sc, "name", true, svc->name, sizeof(svc->name));
	for (i = 0; s_name != NULL && i < si; i++) {
		if (strcmp(svc->name, ctx->cfg->services[i].name) == 0) {
			cfg_err(ctx, s_name,
				"duplicate service name \"%s\" (also services[%u], line %d)",
				svc->name, i, ctx->cfg->services[i].line);
			break;
		}
	}

	s_vip = sc_addr(&sc, "vip", true, 0, &svc->vip);
	vip_ok = s_vip != NULL;
	if (vip_ok && (pi = cfg_own_address_port(ctx->cfg, &svc->vip)) >= 0) {
		cfg_err(ctx, s_vip, "vip %s is the own address of port \"%s\"",
			halb_ip_fmt(&svc->vip, a, sizeof(a)),
			ctx->cfg->ports[pi].name);
		vip_ok = false;
	}
	if (sc_member(&sc, "port", false) != NULL)
		ok.port = sc_int(&sc, "port", false, 0, 65535, &port) != NULL;
	svc->port = (uint16_t)port;
	ok.proto = sc_enum(&sc, "protocol", true, proto_names, &proto) != NULL;
	svc->proto = proto == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	ok.mode = true;
	if (sc_member(&sc, "mode", false) != NULL)
		ok.mode = sc_enum(&sc, "mode", false, mode_names, &mode) != NULL;
	svc->mode = (uint8_t)mode;
	sc_enum(&sc, "scheduler", false, sched_names, &sched);
	svc->sched = (uint8_t)sched;
	sc_enum(&sc, "down_flows", false, down_names, &down);
	svc->down_flows = (uint8_t)down;

	if (ok.mode && mode == CFG_MODE_TUNNEL) {
		sc_int(&sc, "vni", false, 0, 16777215, &vni);
		sc_int(&sc, "tunnel_port", false, 1, 65535, &tport);
		svc->vni = (uint32_t)vni;
		svc->tunnel_port = (uint16_t)tport;
	} else if (ok.mode) {
		static const char *const tkeys[] = { "vni", "tunnel_port" };

		for (i = 0; i < 2; i++) {
			s = sc_member(&sc, tkeys[i], false);
			if (s != NULL)
				cfg_err(ctx, s,
					"%s.%s: only for mode \"tunnel\", not \"%s\"",
					sc.where, tkeys[i], cfg_mode_name(mode));
		}
	}

	/* A zeroed vip: no later service compares with this one, and its
	 * backends are checked without it. */
	if (vip_ok && ok.port && ok.proto)
		check_vip_overlap(ctx, si, s_vip);
	else
		memset(&svc->vip, 0, sizeof(svc->vip));

	/* Request routing: the backends name their pools, which the rules
	 * then name. */
	s = sc_member(&sc, "requests", false);
	svc->l7.has = s != NULL && config_setting_is_group(s);
	bl = sc_list(&sc, "backends", true, 1, CFG_MAX_BACKENDS, &n);
	for (i = 0; i < n; i++)
		load_backend(ctx, si, &ok, bl, i);
	svc->n_backends = n;
	cfg_requests_service(&sc, si, ok.mode, ok.proto, ok.port);
}

static void
load_services(const struct cfg_scope *root)
{
	struct cfg_ctx *ctx = root->ctx;
	const config_setting_t *list;
	unsigned int i, n;

	list = sc_list(root, "services", true, 1, CFG_MAX_SERVICES, &n);
	for (i = 0; i < n; i++)
		load_service(ctx, list, i);
	ctx->cfg->n_services = n;
}


const char *
cfg_mode_name(unsigned int mode)
{
	return mode < CFG_MODE_MAX ? mode_names[mode] : "?";
}

const char *
cfg_sched_name(unsigned int sched)
{
	return sched < CFG_SCHED_MAX ? sched_names[sched] : "?";
}


const struct cfg_section cfg_section_services = {
	.name = "services",
	.keys = (const char *const[]){ "services", NULL },
	.load = load_services,
};
