/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP and IPv6 neighbour discovery on byte buffers: the replies the
 * control plane sends for the appliance's own addresses (built in place
 * over the request), the requests it sends to resolve next hops and
 * backends, and the bindings it learns from what it receives.
 *
 * Every function taking a pkt_info expects a frame that pkt_parse()
 * accepted as PKT_KIND_ARP or PKT_KIND_ND, so the fixed parts of the
 * headers are known to be there; ND options are still walked with bounds
 * checks, as their lengths come from the wire.  Frames keep their 802.1Q
 * tag, if any.  Nothing here allocates.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "halb/pkt.h"
#include "wire.h"

#define ETH_HLEN 14
#define ETH_MIN_LEN 60 /* shortest frame without FCS; ARP is padded to it */
#define ARP_LEN 28
#define IP6_HLEN 40
#define ND_LEN 32      /* NS/NA with one link-layer address option */
#define ND_OPT_SLLA 1
#define ND_OPT_TLLA 2
#define ND_NS 135
#define ND_NA 136
#define PROTO_ICMPV6 58

static bool
is_zero16(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

static bool
is_arp(const struct pkt_info *pi)
{
	return pi->kind == PKT_KIND_ARP;
}

/* ICMPv6 type of an ND packet, or 0. */
static uint8_t
nd_type(const uint8_t *frame, const struct pkt_info *pi)
{
	if (pi->kind != PKT_KIND_ND || pi->family != 6)
		return 0;
	return frame[pi->l4_off];
}

/*
 * Fills the IPv6 header at l3 and the ICMPv6 NS/NA at l3 + 40 carrying
 * one link-layer address option, with its checksum.  `flags` is the NA's
 * R/S/O byte (0 for an NS).
 */
static void
nd_build(uint8_t *l3, uint8_t type, uint8_t flags, const uint8_t src[16],
	 const uint8_t dst[16], const uint8_t target[16], const uint8_t mac[6],
	 bool with_lla)
{
	uint8_t *ic = l3 + IP6_HLEN;
	uint32_t n = with_lla ? ND_LEN : ND_LEN - 8;
	uint32_t sum;

	l3[0] = 0x60;
	l3[1] = 0;
	l3[2] = 0;
	l3[3] = 0;
	wr16(l3 + 4, (uint16_t)n);
	l3[6] = PROTO_ICMPV6;
	l3[7] = 255; /* RFC 4861: receivers check it */
	memcpy(l3 + 8, src, 16);
	memcpy(l3 + 24, dst, 16);
	ic[0] = type;
	ic[1] = 0;
	ic[2] = 0;
	ic[3] = 0;
	ic[4] = flags;
	ic[5] = 0;
	ic[6] = 0;
	ic[7] = 0;
	memcpy(ic + 8, target, 16);
	if (with_lla) {
		ic[24] = type == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
		ic[25] = 1; /* in units of 8 bytes */
		memcpy(ic + 26, mac, 6);
	}
	sum = (uint32_t)pkt_csum(l3 + 8, 32, 0) + n + PROTO_ICMPV6;
	wr16(ic + 2, (uint16_t)~pkt_csum(ic, n, sum));
}

uint32_t
pkt_arp_reply(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
	      const uint8_t mac[6], const struct halb_ip *ip)
{
	uint8_t *a = frame + pi->l3_off;
	uint32_t n = (uint32_t)pi->l3_off + ARP_LEN;
	uint32_t out = n < ETH_MIN_LEN ? ETH_MIN_LEN : n;
	uint8_t sha[6], spa[4];

	if (!is_arp(pi) || !halb_ip_is_v4(ip) || out > len ||
	    rd16(a + 6) != 1 || memcmp(a + 24, ip->b + 12, 4) != 0)
		return 0;
	memcpy(sha, a + 8, 6);
	memcpy(spa, a + 14, 4);
	wr16(a + 6, 2);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, ip->b + 12, 4);
	memcpy(a + 18, sha, 6);
	memcpy(a + 24, spa, 4);
	memcpy(frame, sha, 6);
	memcpy(frame + 6, mac, 6);
	memset(frame + n, 0, out - n);
	return out;
}

/*
 * Answers a solicitation for `ip` with a solicited, overriding
 * advertisement to its source; a solicitation from :: (duplicate address
 * detection) gets an unsolicited one to all nodes (ff02::1, Ethernet
 * 33:33:00:00:00:01), as RFC 4861 7.2.4 says.
 */
uint32_t
pkt_nd_advert(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
	      const uint8_t mac[6], const struct halb_ip *ip)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	uint8_t *l3 = frame + pi->l3_off;
	uint32_t out = (uint32_t)pi->l3_off + IP6_HLEN + ND_LEN;
	uint8_t dst[16], edst[6];
	bool dad;

	if (nd_type(frame, pi) != ND_NS || halb_ip_is_v4(ip) || out > len ||
	    memcmp(frame + pi->l4_off + 8, ip->b, 16) != 0)
		return 0;
	memcpy(dst, l3 + 8, 16);
	dad = is_zero16(dst);
	if (dad) {
		memcpy(dst, all_nodes, 16);
		memcpy(edst, all_nodes_mac, 6);
	} else {
		memcpy(edst, frame + 6, 6);
	}
	memcpy(frame, edst, 6);
	memcpy(frame + 6, mac, 6);
	/* S (solicited) and O (override); never R: halb is not a router. */
	nd_build(l3, ND_NA, dad ? 0x20 : 0x60, ip->b, dst, ip->b, mac, true);
	return out;
}

uint32_t
pkt_arp_request(uint8_t *buf, const uint8_t mac[6], const struct halb_ip *ip,
		const struct halb_ip *target)
{
	uint8_t *a = buf + ETH_HLEN;

	memset(buf, 0xff, 6);
	memcpy(buf + 6, mac, 6);
	wr16(buf + 12, 0x0806);
	wr16(a, 1);
	wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, 1);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, ip->b + 12, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, target->b + 12, 4);
	memset(a + ARP_LEN, 0, ETH_MIN_LEN - ETH_HLEN - ARP_LEN);
	return ETH_MIN_LEN;
}

/*
 * To the solicited-node multicast group of `target`; from :: (an address
 * still being validated) the source link-layer option is left out, as RFC
 * 4861 requires.
 */
uint32_t
pkt_nd_solicit(uint8_t *buf, const uint8_t mac[6], const struct halb_ip *ip,
	       const struct halb_ip *target)
{
	uint8_t dst[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
	bool lla = !halb_ip_is_zero(ip);

	memcpy(dst + 13, target->b + 13, 3);
	buf[0] = 0x33;
	buf[1] = 0x33;
	memcpy(buf + 2, dst + 12, 4);
	memcpy(buf + 6, mac, 6);
	wr16(buf + 12, 0x86dd);
	nd_build(buf + ETH_HLEN, ND_NS, 0, ip->b, dst, target->b, mac, lla);
	return ETH_HLEN + IP6_HLEN + (lla ? ND_LEN : ND_LEN - 8);
}

/*
 * Finds a link-layer address option of `type` among the ND options from
 * `off` to `end`.  Returns 0 and copies it, or -ENOENT when absent or
 * when an option of length 0 makes the rest unreadable (RFC 4861 4.6).
 */
static int
nd_find_lla(const uint8_t *frame, uint32_t off, uint32_t end, uint8_t type,
	    uint8_t mac[6])
{
	while (off < end && end - off >= 2) {
		uint32_t olen = frame[off + 1] * 8u;

		if (olen == 0 || olen > end - off)
			return -ENOENT;
		if (frame[off] == type && olen >= 8) {
			memcpy(mac, frame + off + 2, 6);
			return 0;
		}
		off += olen;
	}
	return -ENOENT;
}

/*
 * Returns -EINVAL for a packet that is not ARP or NS/NA (or lies about
 * its length), -ENOENT when it carries no binding.
 */
int
pkt_neigh_binding(const uint8_t *frame, uint32_t len, const struct pkt_info *pi,
		  struct halb_ip *ip, uint8_t mac[6])
{
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len;
	const uint8_t *l3 = frame + pi->l3_off;
	uint32_t v4;
	uint8_t type;

	if (end > len)
		return -EINVAL;
	if (is_arp(pi)) {
		memcpy(&v4, l3 + 14, 4);
		if (v4 == 0) /* an ARP probe (RFC 5227) binds nothing */
			return -ENOENT;
		halb_ip_from_v4(ip, v4);
		memcpy(mac, l3 + 8, 6);
		return 0;
	}
	type = nd_type(frame, pi);
	if (type == ND_NS) {
		int rc;

		if (is_zero16(l3 + 8))
			return -ENOENT;
		rc = nd_find_lla(frame, pi->l4_off + 24u, end, ND_OPT_SLLA, mac);
		if (rc == 0)
			memcpy(ip->b, l3 + 8, 16);
		return rc;
	}
	if (type == ND_NA) {
		int rc;

		rc = nd_find_lla(frame, pi->l4_off + 24u, end, ND_OPT_TLLA, mac);
		if (rc == 0)
			memcpy(ip->b, frame + pi->l4_off + 8, 16);
		return rc;
	}
	return -EINVAL;
}

int
pkt_neigh_asks_for(const uint8_t *frame, uint32_t len, const struct pkt_info *pi,
		   struct halb_ip *target)
{
	const uint8_t *l3 = frame + pi->l3_off;
	uint32_t v4;

	if ((uint32_t)pi->l3_off + pi->l3_len > len)
		return 0;
	if (is_arp(pi)) {
		if (rd16(l3 + 6) != 1)
			return 0;
		memcpy(&v4, l3 + 24, 4);
		halb_ip_from_v4(target, v4);
		return 1;
	}
	if (nd_type(frame, pi) == ND_NS) {
		memcpy(target->b, frame + pi->l4_off + 8, 16);
		return 1;
	}
	return 0;
}

/* An IPv4 address (network order bytes) no unicast host may send from:
 * 0/8, 127/8, multicast and the reserved 240/4 with the limited
 * broadcast (RFC 1812 5.3.7). */
static bool
v4_martian(const uint8_t *a)
{
	return a[0] == 0 || a[0] == 127 || a[0] >= 224;
}

static bool
v6_multicast(const uint8_t *a)
{
	return a[0] == 0xff;
}

static bool
v6_loopback(const uint8_t *a)
{
	static const uint8_t one[16] = { [15] = 1 };

	return memcmp(a, one, 16) == 0;
}

/* ff02::1:ffXX:XXXX of the target's low 24 bits. */
static bool
v6_solicited_node_of(const uint8_t *dst, const uint8_t *target)
{
	static const uint8_t pfx[13] = { 0xff, 0x02, [11] = 1, [12] = 0xff };

	return memcmp(dst, pfx, 13) == 0 && memcmp(dst + 13, target + 13, 3) == 0;
}

static enum pkt_neigh_err
arp_check(const uint8_t *a)
{
	static const uint8_t zero[6];
	uint16_t op = rd16(a + 6);

	/* A sender hardware address must be one station's (RFC 1812
	 * 3.3.2: a router must not believe ARP replies claiming a
	 * multicast or broadcast link address). */
	if ((a[8] & 1) || memcmp(a + 8, zero, 6) == 0)
		return PKT_NEIGH_HW;
	/* 0.0.0.0 only in a request: an RFC 5227 probe. */
	if (rd16(a + 14) == 0 && rd16(a + 16) == 0)
		return op == 1 ? PKT_NEIGH_OK : PKT_NEIGH_SRC;
	if (v4_martian(a + 14))
		return PKT_NEIGH_SRC;
	return PKT_NEIGH_OK;
}

/*
 * RFC 4861 7.1.1 (NS) and 7.1.2 (NA).  The message runs from l4_off to
 * the end of the IP payload (extension headers before it are allowed).
 */
static enum pkt_neigh_err
nd_check(const uint8_t *frame, const struct pkt_info *pi, uint8_t type)
{
	const uint8_t *l3 = frame + pi->l3_off, *ic = frame + pi->l4_off;
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len;
	uint32_t n = end - pi->l4_off, off, sum;
	const uint8_t *src = l3 + 8, *dst = l3 + 24, *target = ic + 8;
	bool slla = false;

	if (l3[7] != 255)
		return PKT_NEIGH_HLIM;
	if (ic[1] != 0)
		return PKT_NEIGH_CODE;
	sum = (uint32_t)pkt_csum(l3 + 8, 32, 0) + (n >> 16) + (n & 0xffff) +
	      PROTO_ICMPV6;
	if (pkt_csum(ic, n, sum) != 0xffff)
		return PKT_NEIGH_CSUM;
	if (v6_multicast(target))
		return PKT_NEIGH_TARGET;
	for (off = pi->l4_off + 24u; off < end;) {
		uint32_t olen;

		if (end - off < 2)
			return PKT_NEIGH_OPT;
		olen = frame[off + 1] * 8u;
		if (olen == 0 || olen > end - off)
			return PKT_NEIGH_OPT;
		if (frame[off] == ND_OPT_SLLA)
			slla = true;
		off += olen;
	}
	if (v6_multicast(src) || v6_loopback(src))
		return PKT_NEIGH_SRC;
	if (type == ND_NS) {
		if (is_zero16(src)) {
			if (!v6_solicited_node_of(dst, target) || slla)
				return PKT_NEIGH_DAD;
			return PKT_NEIGH_OK;
		}
		if (!v6_solicited_node_of(dst, target) && memcmp(dst, target, 16) != 0)
			return PKT_NEIGH_DST;
		return PKT_NEIGH_OK;
	}
	/* An advertisement comes from an address of its sender. */
	if (is_zero16(src))
		return PKT_NEIGH_SRC;
	if (v6_multicast(dst) && (ic[4] & 0x40))
		return PKT_NEIGH_SOLICITED;
	return PKT_NEIGH_OK;
}

enum pkt_neigh_err
pkt_neigh_check(const uint8_t *frame, uint32_t len, const struct pkt_info *pi)
{
	uint8_t type;

	if ((uint32_t)pi->l3_off + pi->l3_len > len)
		return PKT_NEIGH_OPT;
	if (is_arp(pi))
		return arp_check(frame + pi->l3_off);
	type = nd_type(frame, pi);
	if (type != ND_NS && type != ND_NA)
		return PKT_NEIGH_CODE;
	return nd_check(frame, pi, type);
}

static const char *const neigh_err_names[PKT_NEIGH_ERR_MAX] = {
	[PKT_NEIGH_OK] = "ok",
	[PKT_NEIGH_HLIM] = "hlim",
	[PKT_NEIGH_CODE] = "code",
	[PKT_NEIGH_CSUM] = "csum",
	[PKT_NEIGH_TARGET] = "target",
	[PKT_NEIGH_OPT] = "opt",
	[PKT_NEIGH_SRC] = "src",
	[PKT_NEIGH_DAD] = "dad",
	[PKT_NEIGH_DST] = "dst",
	[PKT_NEIGH_SOLICITED] = "solicited",
	[PKT_NEIGH_HW] = "hw",
};

const char *
pkt_neigh_err_name(enum pkt_neigh_err e)
{
	if ((unsigned int)e >= PKT_NEIGH_ERR_MAX || neigh_err_names[e] == NULL)
		return "unknown";
	return neigh_err_names[e];
}

int
pkt_neigh_override(const uint8_t *frame, const struct pkt_info *pi)
{
	if (nd_type(frame, pi) == ND_NA)
		return (frame[pi->l4_off + 4] & 0x20) != 0;
	return 1;
}
