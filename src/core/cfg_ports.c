/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ports ( ) and neighbours ( ) sections: each port's device (a
 * virtual device, or a PCI address; with the queue pairs it has when its
 * arguments say, checked against the workers), its own
 * addresses, connected prefixes and gateways; static neighbours; and the
 * routing they imply (cfg_route), which the services' checks and the
 * forwarder use.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

/* The driver name of a --vdev argument: up to its first ','. */
static void
vdev_driver(const char *vdev, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)strcspn(vdev, ","), vdev);
}

/*
 * The value of key in a device's arguments ("net_x0,key=value,..."):
 * true with *v set to it when the key is there with a decimal value,
 * false when absent.  A key given twice counts once, the last (as the
 * drivers' kvargs read it).  *bad is set for a value that is no number.
 */
static bool
vdev_arg_uint(const char *vdev, const char *key, unsigned long *v, bool *bad)
{
	size_t klen = strlen(key);
	const char *p = strchr(vdev, ',');
	bool found = false;
	char *end;

	while (p != NULL) {
		p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			found = true;
			*v = strtoul(p + klen + 1, &end, 10);
			*bad = !isdigit((unsigned char)p[klen + 1]) ||
			       (*end != '\0' && *end != ',');
		}
		p = strchr(p, ',');
	}
	return found;
}

/*
 * How many queue pairs a virtual device has, from its arguments: the
 * drivers whose count is an argument (net_af_packet qpairs=, default 1;
 * net_af_xdp queue_count=, default 1).  0 when the arguments do not say
 * (the others size their queues when configured, up to a maximum that
 * only the running driver knows: checked at start).
 */
static unsigned long
vdev_queues(const char *drv, const char *vdev, const char **key)
{
	static const struct {
		const char *drv, *key;
	} counted[] = {
		{ "net_af_packet", "qpairs" },
		{ "net_af_xdp", "queue_count" },
	};
	unsigned long v = 1;
	unsigned int i;
	bool bad = false;

	for (i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
		if (strncmp(drv, counted[i].drv, strlen(counted[i].drv)) != 0)
			continue;
		*key = counted[i].key;
		vdev_arg_uint(vdev, counted[i].key, &v, &bad);
		return bad ? 0 : v;
	}
	return 0;
}

/* One RX/TX queue pair per worker: a device that has fewer than
 * eal.lcores has workers would fail at start; say so now. */
static void
check_port_queues(const struct cfg_scope *sc, const config_setting_t *s,
		  const struct cfg_port *p, const char *key)
{
	uint32_t nw = sc->ctx->cfg->n_workers;

	if (p->queues == 0 || nw == 0 || p->queues >= nw)
		return;
	cfg_err(sc->ctx, s,
		"%s.vdev \"%s\": %u queue pair%s, but eal.lcores has %u workers and each needs one (add %s=%u)",
		sc->where, p->vdev, p->queues, p->queues == 1 ? "" : "s", nw,
		key, nw);
}

static void
load_port_vdev(const struct cfg_scope *sc, const config_setting_t *s,
	       struct cfg_port *p, unsigned int idx)
{
	const struct halb_cfg *cfg = sc->ctx->cfg;
	char drv[CFG_ARG_LEN], other[CFG_ARG_LEN];
	const char *v = config_setting_get_string(s), *key = NULL;
	unsigned long q;
	unsigned int i;
	size_t n;

	if (strlen(v) >= CFG_ARG_LEN) {
		cfg_err(sc->ctx, s, "%s.vdev: longer than %d characters",
			sc->where, CFG_ARG_LEN - 1);
		return;
	}
	vdev_driver(v, drv, sizeof(drv));
	n = strlen(drv);
	if (strncmp(drv, "net_", 4) != 0 || n == 4 ||
	    strspn(drv, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n) {
		cfg_err(sc->ctx, s,
			"%s.vdev \"%s\": the device name before the first ',' must be net_ and a driver, like net_af_packet0",
			sc->where, v);
		return;
	}
	for (i = 0; i < idx; i++) {
		if (cfg->ports[i].vdev[0] == '\0')
			continue;
		vdev_driver(cfg->ports[i].vdev, other, sizeof(other));
		if (strcmp(drv, other) == 0) {
			cfg_err(sc->ctx, s,
				"duplicate vdev device \"%s\" (also ports[%u] \"%s\", line %d)",
				drv, i, cfg->ports[i].name, cfg->ports[i].line);
			return;
		}
	}
	if (strncmp(drv, CFG_KERNEL_VDEV, strlen(CFG_KERNEL_VDEV)) == 0) {
		cfg_err(sc->ctx, s,
			"%s.vdev \"%s\": device names %s<N> are the kernel interfaces' (ports[].kernel)",
			sc->where, v, CFG_KERNEL_VDEV);
		return;
	}
	q = vdev_queues(drv, v, &key);
	if (key != NULL && (q == 0 || q > UINT16_MAX)) {
		cfg_err(sc->ctx, s, "%s.vdev \"%s\": %s wants a number of queue pairs, 1 or more",
			sc->where, v, key);
		return;
	}
	snprintf(p->vdev, sizeof(p->vdev), "%s", v);
	p->queues = (uint16_t)q;
	check_port_queues(sc, s, p, key);
}

static int
hex_digits(const char *s, size_t n, unsigned long *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		*v = *v * 16 + (unsigned long)(isdigit((unsigned char)s[i]) ?
			s[i] - '0' : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	return 0;
}

/*
 * A PCI address "DDDD:BB:DD.F" (domain, bus, device 00..1f, function
 * 0..7; what `lspci -D` prints), optionally followed by the driver's
 * arguments after a ','.  Written in lower case into addr, as DPDK names
 * the device.  Returns 0 or -EINVAL with the reason in why.
 */
int
cfg_parse_pci(const char *s, char addr[CFG_PCI_LEN], const char **args,
	      char *why, size_t len)
{
	unsigned long dom, bus, dev, fn;
	size_t n = strcspn(s, ",");

	if (n != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.' ||
	    hex_digits(s, 4, &dom) != 0 || hex_digits(s + 5, 2, &bus) != 0 ||
	    hex_digits(s + 8, 2, &dev) != 0 || !isdigit((unsigned char)s[11])) {
		snprintf(why, len,
			 "expected a PCI address DDDD:BB:DD.F (domain:bus:device.function in hex, as lspci -D shows it, like \"0000:3b:00.0\")");
		return -EINVAL;
	}
	fn = (unsigned long)(s[11] - '0');
	if (dev > 0x1f || fn > 7) {
		snprintf(why, len, "%s %lx out of range %s", dev > 0x1f ?
			 "device" : "function", dev > 0x1f ? dev : fn,
			 dev > 0x1f ? "00..1f" : "0..7");
		return -EINVAL;
	}
	snprintf(addr, CFG_PCI_LEN, "%04lx:%02lx:%02lx.%lu", dom, bus, dev, fn);
	*args = s[n] == ',' ? s + n + 1 : "";
	return 0;
}

static void
load_port_pci(const struct cfg_scope *sc, const config_setting_t *s,
	      struct cfg_port *p, unsigned int idx)
{
	const struct halb_cfg *cfg = sc->ctx->cfg;
	const char *v = config_setting_get_string(s), *args;
	char addr[CFG_PCI_LEN], why[160];
	unsigned int i;

	if (strlen(v) >= CFG_ARG_LEN) {
		cfg_err(sc->ctx, s, "%s.pci: longer than %d characters",
			sc->where, CFG_ARG_LEN - 1);
		return;
	}
	if (cfg_parse_pci(v, addr, &args, why, sizeof(why)) != 0) {
		cfg_err(sc->ctx, s, "%s.pci \"%s\": %s", sc->where, v, why);
		return;
	}
	if (*args == '\0' && strchr(v, ',') != NULL) {
		cfg_err(sc->ctx, s, "%s.pci \"%s\": nothing after the ','",
			sc->where, v);
		return;
	}
	for (i = 0; i < idx; i++) {
		if (strcmp(addr, cfg->ports[i].pci) == 0) {
			cfg_err(sc->ctx, s,
				"duplicate PCI device %s (also ports[%u] \"%s\", line %d)",
				addr, i, cfg->ports[i].name, cfg->ports[i].line);
			return;
		}
	}
	snprintf(p->pci, sizeof(p->pci), "%s", addr);
	snprintf(p->pci_args, sizeof(p->pci_args), "%s", args);
	/* How many queues a NIC has is known only to its driver, at start
	 * (fwd_port_start refuses a port with fewer than the workers). */
	p->queues = 0;
}

/* The port's device: a virtual device (vdev) or a PCI one (pci), one of
 * the two. */
static void
load_port_dev(const struct cfg_scope *sc, struct cfg_port *p, unsigned int idx)
{
	const config_setting_t *sv, *sp;
	const char *v;

	sv = sc_str(sc, "vdev", false, &v);
	sp = sc_str(sc, "pci", false, &v);
	if (sv != NULL && sp != NULL) {
		cfg_err(sc->ctx, sp, "%s: vdev and pci both given: a port is one device, virtual or PCI",
			sc->where);
		return;
	}
	if (sv == NULL && sp == NULL) {
		if (sc_member(sc, "vdev", false) == NULL &&
		    sc_member(sc, "pci", false) == NULL)
			cfg_missing_err(sc, "vdev", " (or \"pci\"): the port's device");
		return;
	}
	if (sv != NULL)
		load_port_vdev(sc, sv, p, idx);
	else
		load_port_pci(sc, sp, p, idx);
}

/* gateway4/gateway6: inside the port's own prefix of that family. */
static void
load_port_gw(const struct cfg_scope *sc, const char *key, int family,
	     bool has_ip, const struct halb_ip *ip, uint8_t plen,
	     bool *has_gw, struct halb_ip *gw)
{
	const config_setting_t *s;
	char a[HALB_IP_STRLEN], b[HALB_IP_STRLEN];
	struct halb_ip g;

	s = sc_addr(sc, key, false, family, &g);
	if (s == NULL)
		return;
	if (!has_ip) {
		cfg_err(sc->ctx, s, "%s.%s requires %s.ipv%d", sc->where, key,
			sc->where, family);
		return;
	}
	if (!halb_ip_in_prefix(&g, ip, plen)) {
		cfg_err(sc->ctx, s, "%s.%s %s is outside the port's prefix %s/%u",
			sc->where, key, halb_ip_fmt(&g, a, sizeof(a)),
			halb_ip_fmt(ip, b, sizeof(b)), plen);
		return;
	}
	if (halb_ip_eq(&g, ip)) {
		cfg_err(sc->ctx, s, "%s.%s %s is the port's own address",
			sc->where, key, halb_ip_fmt(&g, a, sizeof(a)));
		return;
	}
	*has_gw = true;
	*gw = g;
}

/*
 * The port's exception path (docs/PACKETS.md, "Traffic for the
 * appliance's own addresses"): kernel, the name of the tap interface the
 * forwarder creates for it (what `ip link` shows: 1..15 characters of
 * letters, digits, '_', '-' and '.', not "." or "..", as the kernel takes
 * them), unique among the ports; kernel_rate, the frames a worker hands it
 * a second at most.
 */
static void
load_port_kernel(const struct cfg_scope *sc, struct cfg_port *p,
		 unsigned int idx)
{
	const struct halb_cfg *cfg = sc->ctx->cfg;
	const config_setting_t *s, *sr;
	const char *v = NULL;
	long long rate = CFG_KERNEL_RATE;
	unsigned int i;
	size_t n;

	s = sc_str(sc, "kernel", false, &v);
	sr = sc_int(sc, "kernel_rate", false, 1, 10000000, &rate);
	p->kernel_rate = (uint32_t)rate;
	if (s == NULL) {
		if (sr != NULL && sc_member(sc, "kernel", false) == NULL)
			cfg_err(sc->ctx, sr, "%s.kernel_rate without %s.kernel: there is no kernel interface to limit",
				sc->where, sc->where);
		return;
	}
	n = strlen(v);
	if (n == 0 || n >= CFG_IFNAME_LEN || strcmp(v, ".") == 0 ||
	    strcmp(v, "..") == 0 ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n) {
		cfg_err(sc->ctx, s,
			"%s.kernel \"%s\": an interface name is 1..%d letters, digits, '_', '-' or '.'",
			sc->where, v, CFG_IFNAME_LEN - 1);
		return;
	}
	for (i = 0; i < idx; i++) {
		if (strcmp(v, cfg->ports[i].kernel) == 0) {
			cfg_err(sc->ctx, s,
				"duplicate kernel interface \"%s\" (also ports[%u] \"%s\", line %d)",
				v, i, cfg->ports[i].name, cfg->ports[i].line);
			return;
		}
	}
	snprintf(p->kernel, sizeof(p->kernel), "%s", v);
}

static void
load_port(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int idx)
{
	static const char *const keys[] = { "name", "vdev", "pci", "ipv4",
		"ipv6", "gateway4", "gateway6", "vlan", "mtu", "kernel",
		"kernel_rate", NULL };
	struct cfg_port *p = &ctx->cfg->ports[idx];
	char a[HALB_IP_STRLEN];
	const config_setting_t *s;
	struct cfg_scope sc;
	long long vlan = 0, mtu = CFG_MTU_DEFAULT;
	unsigned int i;

	if (!sc_elem(ctx, list, idx, "ports", keys, &sc))
		return;
	p->line = (int)cfg_setting_line(sc.grp);
	s = sc_ident(&sc, "name", true, p->name, sizeof(p->name));
	for (i = 0; s != NULL && i < idx; i++) {
		if (strcmp(p->name, ctx->cfg->ports[i].name) == 0) {
			cfg_err(ctx, s,
				"duplicate port name \"%s\" (also ports[%u], line %d)",
				p->name, i, ctx->cfg->ports[i].line);
			break;
		}
	}
	load_port_dev(&sc, p, idx);
	p->has_ip4 = sc_prefix(&sc, "ipv4", 4, &p->ip4, &p->plen4) != NULL;
	p->has_ip6 = sc_prefix(&sc, "ipv6", 6, &p->ip6, &p->plen6) != NULL;
	load_port_gw(&sc, "gateway4", 4, p->has_ip4, &p->ip4, p->plen4,
		     &p->has_gw4, &p->gw4);
	load_port_gw(&sc, "gateway6", 6, p->has_ip6, &p->ip6, p->plen6,
		     &p->has_gw6, &p->gw6);
	/* VID 0 (priority tag only) and 4095 are reserved (802.1Q 9.6). */
	sc_int(&sc, "vlan", false, 1, 4094, &vlan);
	p->vlan = (uint16_t)vlan;
	/* 1280: the least an IPv6 link may have (RFC 8200 5). */
	sc_int(&sc, "mtu", false, CFG_MTU_MIN, CFG_MTU_MAX, &mtu);
	p->mtu = (uint16_t)mtu;
	load_port_kernel(&sc, p, idx);

	/* Two ports with one own address could not both answer for it. */
	for (i = 0; i < idx; i++) {
		const struct cfg_port *q = &ctx->cfg->ports[i];
		const struct halb_ip *same = NULL;

		if (p->has_ip4 && q->has_ip4 && halb_ip_eq(&p->ip4, &q->ip4))
			same = &p->ip4;
		else if (p->has_ip6 && q->has_ip6 && halb_ip_eq(&p->ip6, &q->ip6))
			same = &p->ip6;
		if (same != NULL)
			cfg_err(ctx, sc.grp,
				"%s has the address %s of ports[%u] \"%s\" (line %d)",
				sc.where, halb_ip_fmt(same, a, sizeof(a)), i,
				q->name, q->line);
	}
}

static void
load_ports(const struct cfg_scope *root)
{
	struct cfg_ctx *ctx = root->ctx;
	unsigned int n_err = ctx->n_err, i, n;
	const config_setting_t *list;

	list = sc_list(root, "ports", true, 1, CFG_MAX_PORTS, &n);
	for (i = 0; i < n; i++)
		load_port(ctx, list, i);
	ctx->cfg->n_ports = n;
	ctx->ports_ok = n > 0 && ctx->n_err == n_err;
}

/* Index of the port whose own address is a, or -1. */
int
cfg_own_address_port(const struct halb_cfg *cfg, const struct halb_ip *a)
{
	unsigned int i;

	for (i = 0; i < cfg->n_ports; i++) {
		const struct cfg_port *p = &cfg->ports[i];

		if ((p->has_ip4 && halb_ip_eq(a, &p->ip4)) ||
		    (p->has_ip6 && halb_ip_eq(a, &p->ip6)))
			return (int)i;
	}
	return -1;
}

/* Index of the port whose connected prefix holds a, or -1. */
int
cfg_connected_port(const struct halb_cfg *cfg, const struct halb_ip *a)
{
	unsigned int i;

	for (i = 0; i < cfg->n_ports; i++) {
		const struct cfg_port *p = &cfg->ports[i];

		if (halb_ip_is_v4(a) ?
		    p->has_ip4 && halb_ip_in_prefix(a, &p->ip4, p->plen4) :
		    p->has_ip6 && halb_ip_in_prefix(a, &p->ip6, p->plen6))
			return (int)i;
	}
	return -1;
}


static void
load_neighbours(const struct cfg_scope *root)
{
	static const char *const keys[] = { "ip", "mac", NULL };
	struct cfg_ctx *ctx = root->ctx;
	struct halb_cfg *cfg = ctx->cfg;
	const config_setting_t *list, *s;
	char a[HALB_IP_STRLEN];
	struct cfg_scope sc;
	unsigned int i, j, n;

	list = sc_list(root, "neighbours", false, 0, CFG_MAX_NEIGH, &n);
	for (i = 0; i < n; i++) {
		struct cfg_neigh *nb = &cfg->neigh[cfg->n_neigh];

		if (!sc_elem(ctx, list, i, "neighbours", keys, &sc))
			continue;
		nb->line = (int)cfg_setting_line(sc.grp);
		s = sc_addr(&sc, "ip", true, 0, &nb->ip);
		if (sc_mac(&sc, "mac", true, nb->mac) == NULL || s == NULL)
			continue;
		halb_ip_fmt(&nb->ip, a, sizeof(a));
		for (j = 0; j < cfg->n_neigh; j++)
			if (halb_ip_eq(&nb->ip, &cfg->neigh[j].ip))
				break;
		if (j < cfg->n_neigh) {
			cfg_err(ctx, s, "duplicate neighbour %s (also line %d)",
				a, cfg->neigh[j].line);
			continue;
		}
		if (cfg_own_address_port(cfg, &nb->ip) >= 0) {
			cfg_err(ctx, s, "neighbour %s is a port's own address", a);
			continue;
		}
		if (ctx->ports_ok && cfg_connected_port(cfg, &nb->ip) < 0) {
			cfg_err(ctx, s,
				"neighbour %s is not in any port's connected prefix",
				a);
			continue;
		}
		cfg->n_neigh++;
	}
}


int
cfg_route(const struct halb_cfg *cfg, const struct halb_ip *dst,
	  struct halb_ip *next_hop)
{
	bool v4 = halb_ip_is_v4(dst);
	unsigned int i;
	int port;

	port = cfg_connected_port(cfg, dst);
	if (port >= 0) {
		if (next_hop != NULL)
			*next_hop = *dst;
		return port;
	}
	for (i = 0; i < cfg->n_ports; i++) {
		const struct cfg_port *p = &cfg->ports[i];

		if (v4 ? p->has_gw4 : p->has_gw6) {
			if (next_hop != NULL)
				*next_hop = v4 ? p->gw4 : p->gw6;
			return (int)i;
		}
	}
	return -ENETUNREACH;
}


static void
load_ports_and_neighbours(const struct cfg_scope *root)
{
	load_ports(root);
	load_neighbours(root);
}

const struct cfg_section cfg_section_ports = {
	.name = "ports",
	.keys = (const char *const[]){ "ports", "neighbours", NULL },
	.load = load_ports_and_neighbours,
};
