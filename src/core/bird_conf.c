/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The BIRD 2 file of an appliance, written from its bgp { } section
 * (halb/bird.h; docs/CONFIG.md, "bgp").  One file per appliance, the
 * same on every run for the same configuration, so that it can be
 * compared and reloaded (`birdc configure`) safely.
 *
 * What it holds and why:
 *  - each VIP as a static blackhole route in a protocol of its own
 *    (bird_vip_name()), started `disabled`: nothing is announced until
 *    the appliance is ready and someone says so (halb-had, or `halbctl
 *    bgp announce`), and a withdraw is one `disable` that every session
 *    carries at once; one protocol per VIP so that halb-had can withdraw
 *    a VIP none of whose backends is up and keep the others;
 *  - no kernel protocol: BIRD learns nothing the appliance needs, and its
 *    blackholes must never reach the appliance's own routing table;
 *  - BFD (bfd_interval_ms x bfd_multiplier) on every session, on the
 *    kernel interfaces of the exception path (ports[].kernel), so that the
 *    router's BFD reaches the forwarder's port: a dead or hung forwarder
 *    stops answering it, not only a dead host;
 *  - origin IGP: BIRD would announce its static routes as incomplete, and
 *    a router that compares origin first then prefers one appliance
 *    instead of spreading over all of them (ECMP);
 *  - error wait time 1,5 and connect delay time 1 (BIRD's defaults, 60,300
 *    and 5 s, keep a restarted appliance out for minutes; "connect delay
 *    time" is what BIRD 2 calls its start delay now).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "halb/bird.h"
#include "halb/ip.h"

/* Whether service s's VIP was written already (VIPs shared by several
 * services, e.g. ports 80 and 443, are one route). */
static bool
vip_seen(const struct halb_cfg *cfg, uint32_t upto, const struct halb_ip *vip)
{
	uint32_t i;

	for (i = 0; i < upto; i++)
		if (halb_ip_eq(&cfg->services[cfg->bgp.announce[i]].vip, vip))
			return true;
	return false;
}

bool
bird_conf_has_vips(const struct halb_cfg *cfg, int family)
{
	uint32_t i;

	for (i = 0; i < cfg->bgp.n_announce; i++)
		if (halb_ip_is_v4(&cfg->services[cfg->bgp.announce[i]].vip) ==
		    (family == 4))
			return true;
	return false;
}

unsigned int
bird_conf_vips(const struct halb_cfg *cfg, uint16_t *svc, unsigned int max)
{
	unsigned int n = 0;
	uint32_t i;

	for (i = 0; i < cfg->bgp.n_announce; i++) {
		const struct halb_ip *vip = &cfg->services[cfg->bgp.announce[i]].vip;

		if (vip_seen(cfg, i, vip))
			continue;
		if (n < max)
			svc[n] = cfg->bgp.announce[i];
		n++;
	}
	return n;
}

void
bird_vip_name(const struct halb_ip *vip, char *buf, size_t len)
{
	char a[HALB_IP_STRLEN], *c;

	halb_ip_fmt(vip, a, sizeof(a));
	for (c = a; *c != '\0'; c++)
		if (*c == '.' || *c == ':')
			*c = '_';
	snprintf(buf, len, "%s%d_%s", BIRD_VIP, halb_ip_is_v4(vip) ? 4 : 6, a);
}

/* One static protocol per VIP, each started disabled. */
static void
write_vips(const struct halb_cfg *cfg, FILE *out)
{
	uint16_t svc[CFG_MAX_SERVICES];
	char a[HALB_IP_STRLEN], name[BIRD_VIP_NAME_LEN];
	unsigned int n = bird_conf_vips(cfg, svc, CFG_MAX_SERVICES), i;
	uint32_t k;

	for (i = 0; i < n && i < CFG_MAX_SERVICES; i++) {
		const struct cfg_service *s = &cfg->services[svc[i]];
		bool v4 = halb_ip_is_v4(&s->vip);

		bird_vip_name(&s->vip, name, sizeof(name));
		fprintf(out, "protocol static %s {\n\tdisabled;\n\tipv%d;\n",
			name, v4 ? 4 : 6);
		fprintf(out, "\troute %s/%d blackhole;\t#",
			halb_ip_fmt(&s->vip, a, sizeof(a)), v4 ? 32 : 128);
		/* Every announced service of this VIP, for the reader. */
		for (k = 0; k < cfg->bgp.n_announce; k++)
			if (halb_ip_eq(&cfg->services[cfg->bgp.announce[k]].vip,
				       &s->vip))
				fprintf(out, " %s",
					cfg->services[cfg->bgp.announce[k]].name);
		fprintf(out, "\n}\n\n");
	}
}

/* Whether neighbour n is the first on its port's kernel interface (so
 * that BFD lists each interface once). */
static bool
first_on_iface(const struct cfg_bgp *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (b->neigh[i].port == b->neigh[n].port)
			return false;
	return true;
}

static void
write_peer(const struct halb_cfg *cfg, FILE *out, uint32_t i)
{
	const struct cfg_bgp *b = &cfg->bgp;
	const struct cfg_bgp_neigh *n = &b->neigh[i];
	const struct cfg_port *p = &cfg->ports[n->port];
	bool v4 = halb_ip_is_v4(&n->ip);
	const struct halb_ip *local = v4 ? &p->ip4 : &p->ip6;
	char a[HALB_IP_STRLEN], l[HALB_IP_STRLEN], nh[HALB_IP_STRLEN];

	halb_ip_fmt(&n->ip, a, sizeof(a));
	halb_ip_fmt(local, l, sizeof(l));
	fprintf(out, "protocol bgp %s%u {\n", BIRD_PEER, i + 1);
	fprintf(out, "\tdescription \"%s on %s (port %s)\";\n", a, p->kernel, p->name);
	fprintf(out, "\tlocal %s as %u;\n", l, b->as);
	fprintf(out, "\tneighbor %s as %u;\n", a, n->as);
	fprintf(out, "\tinterface \"%s\";\n\tdirect;\n", p->kernel);
	if (n->password[0] != '\0')
		fprintf(out, "\tpassword \"%s\";\n", n->password);
	fprintf(out, "\tbfd on;\n");
	fprintf(out, "\terror wait time 1, 5;\n\tconnect delay time 1;\n");
	fprintf(out, "\tconnect retry time 5;\n");
	fprintf(out, "\tipv%d {\n\t\timport none;\n\t\texport filter halb_export;\n",
		v4 ? 4 : 6);
	if (v4 ? b->has_nh4 : b->has_nh6)
		fprintf(out, "\t\tnext hop address %s;\n",
			halb_ip_fmt(v4 ? &b->nh4 : &b->nh6, nh, sizeof(nh)));
	else
		fprintf(out, "\t\tnext hop self;\n");
	fprintf(out, "\t};\n}\n\n");
}

int
bird_conf_write(const struct halb_cfg *cfg, FILE *out)
{
	const struct cfg_bgp *b = &cfg->bgp;
	char a[HALB_IP_STRLEN];
	uint32_t i;

	if (!b->has)
		return -EINVAL;
	fprintf(out, "# BIRD 2 configuration generated by `halbctl bird-config` from\n"
		     "# %s (docs/CONFIG.md, \"bgp\").  Generate it again after\n"
		     "# changing that file rather than editing this one.\n\n",
		cfg->path);
	fprintf(out, "router id %s;\n\n", halb_ip_fmt(&b->router_id, a, sizeof(a)));
	fprintf(out, "# Interfaces, for the sessions' direct neighbours.  No kernel\n"
		     "# protocol: nothing goes into this host's routing table.\n"
		     "protocol device {\n}\n\n");
	fprintf(out, "# BFD on the exception path's kernel interfaces (ports[].kernel).\n"
		     "protocol bfd %s {\n", BIRD_BFD);
	for (i = 0; i < b->n_neigh; i++)
		if (first_on_iface(b, i))
			fprintf(out, "\tinterface \"%s\" {\n\t\tinterval %u ms;\n\t\tmultiplier %u;\n\t};\n",
				cfg->ports[b->neigh[i].port].kernel,
				b->bfd_interval_ms, b->bfd_multiplier);
	fprintf(out, "}\n\n");
	fprintf(out, "# The VIPs, one protocol each, disabled until the appliance is\n"
		     "# ready: halb-had enables each (and disables one none of whose\n"
		     "# backends is up); by hand, `halbctl bgp announce|withdraw`.\n");
	write_vips(cfg, out);
	fprintf(out, "filter halb_export {\n"
		     "\tif proto ~ \"%s*\" then {\n"
		     "\t\tbgp_origin = ORIGIN_IGP;\n"
		     "\t\taccept;\n"
		     "\t}\n"
		     "\treject;\n"
		     "}\n\n", BIRD_VIP);
	for (i = 0; i < b->n_neigh; i++)
		write_peer(cfg, out, i);
	return ferror(out) ? -EIO : 0;
}
