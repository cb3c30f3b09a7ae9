/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the forwarder does with traffic for the appliance itself, and
 * the checks that keep traffic for others from being taken as such:
 * ARP and neighbour discovery (checked, answered, learnt from within the
 * neighbour cache's rules), the echo server for the port addresses,
 * martian sources and source routes.  docs/PACKETS.md, "Traffic for the
 * appliance's own addresses", gives the decisions and their RFCs.
 *
 * Called by the workers (worker.c) on frames they own; works on bytes
 * and pkt_info, never on mbufs, and counts in the worker's own stats.
 * Reads fwd (the configuration view), writes only the neighbour cache
 * through its API (neigh.h) and the counters it is given.
 */
#include "fwd.h"

#define ECHO_SLOT_MS 100u  /* echo replies are counted per slot of this */
#define ECHO_PER_SLOT 100u /* ... and a worker sends this many at most */

/* Whether ip is on port p's link: in its connected prefix, or (IPv6)
 * link-local. */
static bool
on_link(uint32_t p, const struct halb_ip *ip)
{
	const struct cfg_port *cp = fwd.ports[p].cfg;

	if (halb_ip_is_v4(ip))
		return cp->has_ip4 && halb_ip_in_prefix(ip, &cp->ip4, cp->plen4);
	if (ip->b[0] == 0xfe && (ip->b[1] & 0xc0) == 0x80)
		return true;
	return cp->has_ip6 && halb_ip_in_prefix(ip, &cp->ip6, cp->plen6);
}

/* Takes the binding an ARP/ND packet carries, if it may: only for an
 * entry that exists, from a sender on the link's prefix (neigh.h).
 * Returns false when the packet claims one of our own addresses. */
static bool
neigh_take(struct fwd_stats *st, const uint8_t *frame, uint32_t len,
	   const struct pkt_info *pi, uint32_t p, uint32_t now_ms)
{
	struct halb_ip ip;
	uint8_t mac[6];
	int n;

	if (pkt_neigh_binding(frame, len, pi, &ip, mac) != 0)
		return true;
	if (fwd_is_local(&fwd, &ip)) {
		/* Another station says it holds our address (a DSR backend
		 * answering ARP for the VIP, a clash, a forgery). */
		st->neigh_conflict++;
		return false;
	}
	if (!on_link(p, &ip)) {
		st->neigh_offlink++;
		return true;
	}
	n = neigh_find(fwd.neigh, &ip);
	if (n < 0) {
		st->neigh_unknown++;
		return true;
	}
	switch (neigh_learn(fwd.neigh, n, mac,
			    pkt_neigh_override(frame, pi) ? NEIGH_F_OVERRIDE : 0,
			    now_ms)) {
	case NEIGH_LEARN_NEW:
		st->neigh_resolved++;
		break;
	case NEIGH_LEARN_SAME:
		st->neigh_confirmed++;
		break;
	case NEIGH_LEARN_MOVED:
		st->neigh_moved++;
		break;
	case NEIGH_LEARN_LOCKED:
		st->neigh_locked++;
		break;
	case NEIGH_LEARN_KEPT:
		st->neigh_kept++;
		break;
	case NEIGH_LEARN_STATIC:
		st->neigh_static++;
		break;
	case NEIGH_LEARN_GONE:
		st->neigh_unknown++;
		break;
	}
	return true;
}

/*
 * Checked (pkt_neigh_check), learnt from (neigh_take), and requests for
 * our addresses answered in place.  Requests from senders off the
 * prefix are answered too (stateless: one frame for one), but teach
 * nothing.
 */
uint32_t
fwd_neigh_input(struct fwd_stats *st, uint8_t *frame, uint32_t len,
		uint32_t room, const struct pkt_info *pi, uint32_t p,
		uint32_t now_ms)
{
	enum pkt_neigh_err err;
	struct halb_ip target;
	uint32_t out;
	int asks;

	if (pi->kind == PKT_KIND_ARP)
		st->arp_in++;
	else
		st->nd_in++;
	err = pkt_neigh_check(frame, len, pi);
	if (err != PKT_NEIGH_OK) {
		st->neigh_bad[err]++;
		return 0;
	}
	asks = pkt_neigh_asks_for(frame, len, pi, &target) == 1 &&
	       fwd_is_local(&fwd, &target);
	if (!neigh_take(st, frame, len, pi, p, now_ms) || !asks)
		return 0;
	if (pi->kind == PKT_KIND_ARP) {
		out = pkt_arp_reply(frame, room, pi, fwd.ports[p].mac, &target);
		st->arp_out += out != 0;
	} else {
		out = pkt_nd_advert(frame, room, pi, fwd.ports[p].mac, &target);
		st->nd_out += out != 0;
	}
	return out;
}

/* Whether the IPv4 address a (network order bytes) is the broadcast
 * address of a port's connected prefix. */
static bool
v4_directed_bcast(const uint8_t *a)
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
		     (uint32_t)a[2] << 8 | a[3];
	uint32_t i;

	for (i = 0; i < fwd.n_ports; i++) {
		const struct cfg_port *cp = fwd.ports[i].cfg;
		const uint8_t *p = cp->ip4.b + 12;
		uint32_t net, host;

		if (!cp->has_ip4 || cp->plen4 >= 31)
			continue;
		host = (1u << (32 - cp->plen4)) - 1;
		net = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		      (uint32_t)p[2] << 8 | p[3];
		if (v == ((net & ~host) | host))
			return true;
	}
	return false;
}

/*
 * A source address no host may send from (RFC 1812 5.3.7, RFC 4291):
 * unspecified, loopback, multicast, IPv4 0/8, 127/8 and 240/4 with the
 * limited broadcast, a connected prefix's broadcast address, or one of
 * the appliance's own.  Replies to it would go to a group, to nobody or
 * back to us.  The outer IP source, also for ICMP errors (whose key
 * holds the quote).
 */
bool
fwd_martian(const uint8_t *frame, const struct pkt_info *pi)
{
	static const uint8_t zero[16], one[16] = { [15] = 1 };
	struct halb_ip a;

	if (pi->family == 4) {
		const uint8_t *src = frame + pi->l3_off + 12;

		if (src[0] == 0 || src[0] == 127 || src[0] >= 224 ||
		    v4_directed_bcast(src))
			return true;
		halb_ip_from_v4(&a, 0);
		memcpy(a.b + 12, src, 4);
	} else {
		memcpy(a.b, frame + pi->l3_off + 8, 16);
		if (a.b[0] == 0xff || memcmp(a.b, zero, 16) == 0 ||
		    memcmp(a.b, one, 16) == 0)
			return true;
	}
	return fwd_is_local(&fwd, &a);
}

/*
 * Whether an IPv4 packet carries a loose or strict source route (RFC
 * 791): its destination is then a hop on its way, not its end, and the
 * backend would get a packet meant for elsewhere.  Dropped, as RFC 7126
 * 4.3 and 4.4 advise and Linux does by default (accept_source_route=0).
 * The options were bounded by the parser (IHL within the packet).
 */
bool
fwd_src_routed(const uint8_t *frame, const struct pkt_info *pi)
{
	const uint8_t *ip = frame + pi->l3_off;
	uint32_t hl = (ip[0] & 0xfu) * 4u, o = 20;

	if (pi->family != 4)
		return false;
	while (o < hl) {
		uint8_t t = ip[o];

		if (t == 0) /* end of options */
			break;
		if (t == 1) { /* no operation */
			o++;
			continue;
		}
		if (o + 1 >= hl || ip[o + 1] < 2)
			break; /* malformed: the backend will judge */
		if (t == 131 || t == 137)
			return true;
		o += ip[o + 1];
	}
	return false;
}

/*
 * An echo request: answered when it is for a port address (RFC 1812
 * 4.3.3.6, RFC 4443 4.1), at most ECHO_PER_SLOT per ECHO_SLOT_MS per
 * worker.  Not for a VIP: the VIP is the service's, and a reply would
 * say it is up whatever its backends' state (docs/PACKETS.md).
 */
uint32_t
fwd_echo_input(struct fwd_stats *st, struct fwd_echo_limit *lim,
	       uint8_t *frame, uint32_t len, const struct pkt_info *pi,
	       uint32_t p, uint32_t now_ms, enum fwd_drop *why)
{
	struct halb_ip dst;
	bool ours = false;
	uint32_t i, n;

	*why = FWD_DROP_OTHER;
	memcpy(dst.b, pi->key.dst, 16);
	for (i = 0; i < fwd.n_ports; i++) {
		const struct cfg_port *cp = fwd.ports[i].cfg;

		if ((cp->has_ip4 && halb_ip_eq(&cp->ip4, &dst)) ||
		    (cp->has_ip6 && halb_ip_eq(&cp->ip6, &dst)))
			ours = true;
	}
	if (!ours)
		return 0;
	if (fwd_martian(frame, pi)) {
		*why = FWD_DROP_MARTIAN;
		return 0;
	}
	if (now_ms / ECHO_SLOT_MS != lim->slot) {
		lim->slot = now_ms / ECHO_SLOT_MS;
		lim->n = 0;
	}
	if (lim->n >= ECHO_PER_SLOT) {
		st->echo_limited++;
		*why = FWD_DROP_MAX; /* counted: not a drop reason */
		return 0;
	}
	n = pkt_icmp_echo_reply(frame, len, pi, fwd.ports[p].mac);
	if (n == 0)
		return 0;
	lim->n++;
	st->echo_replies++;
	return n;
}

bool
fwd_for_kernel(const uint8_t *frame, const struct pkt_info *pi, uint32_t p)
{
	const struct cfg_port *cp = fwd.ports[p].cfg;
	const uint8_t *ip = frame + pi->l3_off;

	if (!fwd.ports[p].has_kernel)
		return false;
	if (pi->family == 4)
		return cp->has_ip4 && memcmp(ip + 16, cp->ip4.b + 12, 4) == 0;
	if (pi->family == 6)
		return cp->has_ip6 && memcmp(ip + 24, cp->ip6.b, 16) == 0;
	return false;
}

/* ARP operation 2 (reply), ICMPv6 type 136 (neighbour advertisement). */
bool
fwd_neigh_for_kernel(const uint8_t *frame, uint32_t len,
		     const struct pkt_info *pi)
{
	if (pkt_neigh_check(frame, len, pi) != PKT_NEIGH_OK)
		return false;
	if (pi->kind == PKT_KIND_ARP)
		return frame[pi->l3_off + 6] == 0 && frame[pi->l3_off + 7] == 2;
	return pi->kind == PKT_KIND_ND && frame[pi->l4_off] == 136;
}
