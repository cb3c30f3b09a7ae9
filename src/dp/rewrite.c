/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data-plane rewrites: NAT in both directions (flows and the ICMP
 * errors that follow them), DSR MAC rewrite and VXLAN encapsulation.
 *
 * The rewriters take a frame that pkt_parse() accepted, with the
 * pkt_info it filled, and update the checksums they touch incrementally
 * (RFC 1624, eqn. 3; checksum conventions in csum.c), except the ICMP
 * checksum of an ICMP error, which covers the quoted packet and is
 * recomputed in full.  Port arguments are in host order; 0 keeps the
 * packet's port.  They write only inside the headers pkt_parse() found.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "halb/pkt.h"
#include "wire.h"

#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

/*
 * RFC 1624 eqn. 3 on the checksum field at `field`: n bytes (even) of
 * covered data change from `old` to `new_`.
 */
static void
csum_replace(uint8_t *field, const uint8_t *old, const uint8_t *new_,
	     uint32_t n)
{
	uint32_t s = (uint16_t)~rd16(field);
	uint32_t i;

	for (i = 0; i < n; i += 2)
		s += (uint16_t)~rd16(old + i) + (uint32_t)rd16(new_ + i);
	wr16(field, (uint16_t)~pkt_csum_fold(s));
}

/* Whether `ip` is of the packet's family (4: IPv4-mapped, 6: not). */
static bool
family_ok(const struct pkt_info *pi, const struct halb_ip *ip)
{
	return pi->family == (halb_ip_is_v4(ip) ? 4 : 6);
}

/* Address bytes of `ip` as they go into a header of that family. */
static inline const uint8_t *
addr_bytes(const struct pkt_info *pi, const struct halb_ip *ip)
{
	return pi->family == 4 ? ip->b + 12 : ip->b;
}

/* Offset of the source (dst false) or destination address in an IP header. */
static inline uint32_t
addr_off(uint8_t family, bool dst)
{
	if (family == 4)
		return dst ? 16 : 12;
	return dst ? 24 : 8;
}

/*
 * The TCP/UDP checksum field of the transport header at l4 if it lies
 * before `end` and is in use (a zero UDP checksum means none), else NULL.
 */
static uint8_t *
l4_csum_field(uint8_t *l4, uint32_t l4_off, uint32_t end, uint8_t proto)
{
	uint8_t *f;

	if (proto == PROTO_TCP) {
		if (l4_off + 18 > end)
			return NULL;
		return l4 + 16;
	}
	if (proto != PROTO_UDP || l4_off + 8 > end)
		return NULL;
	f = l4 + 6;
	return f[0] == 0 && f[1] == 0 ? NULL : f;
}

/*
 * Replaces the address at ip_hdr + aoff (and the IPv4 header checksum),
 * the port at l4 + poff unless port is 0, and both in the transport
 * checksum `ck` (may be NULL).  Saves the old address in old[].
 */
static void
rw_addr_port(uint8_t *ip_hdr, uint8_t family, uint32_t aoff,
	     const uint8_t *addr, uint8_t *l4, uint32_t poff, uint16_t port,
	     uint8_t *ck, uint8_t proto, uint8_t old[16])
{
	uint32_t alen = family == 4 ? 4 : 16;

	memcpy(old, ip_hdr + aoff, alen);
	memcpy(ip_hdr + aoff, addr, alen);
	if (family == 4)
		csum_replace(ip_hdr + 10, old, addr, 4);
	if (l4 == NULL)
		return;
	if (ck != NULL)
		csum_replace(ck, old, addr, alen);
	if (port != 0) {
		uint8_t np[2];

		wr16(np, port);
		if (ck != NULL)
			csum_replace(ck, l4 + poff, np, 2);
		memcpy(l4 + poff, np, 2);
	}
	/* A computed UDP checksum of 0 is sent as 0xffff (RFC 768). */
	if (ck != NULL && proto == PROTO_UDP && ck[0] == 0 && ck[1] == 0)
		wr16(ck, 0xffff);
}

/* A TCP/UDP packet (or a later fragment of one). */
static void
rw_flow(uint8_t *frame, const struct pkt_info *pi, bool dst,
	const struct halb_ip *ip, uint16_t port)
{
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len;
	uint8_t *l4 = NULL, *ck = NULL;
	uint8_t old[16];

	if (pi->frag != PKT_FRAG_LATER) {
		l4 = frame + pi->l4_off;
		ck = l4_csum_field(l4, pi->l4_off, end, pi->l4_proto);
	}
	rw_addr_port(frame + pi->l3_off, pi->family, addr_off(pi->family, dst),
		     addr_bytes(pi, ip), l4, dst ? 2 : 0, port, ck,
		     pi->l4_proto, old);
}

/*
 * An ICMP error following a flow.  Forward (client side -> backend): the
 * outer destination and the quoted source address and port become the
 * backend's.  Reverse (backend side -> client): the quoted destination
 * and port become the VIP's, and so does the outer source when it is the
 * backend itself that reports the error (a router's address is kept).
 * Then the ICMP checksum is recomputed over the whole message.
 */
static void
rw_icmp_err(uint8_t *frame, const struct pkt_info *pi, bool fwd,
	    const struct halb_ip *ip, uint16_t port)
{
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len;
	uint32_t alen = pi->family == 4 ? 4 : 16;
	const uint8_t *addr = addr_bytes(pi, ip);
	uint8_t *l3 = frame + pi->l3_off;
	uint8_t *q = frame + pi->inner_l3_off;
	uint8_t *ql4 = frame + pi->inner_l4_off;
	uint8_t *ic = frame + pi->l4_off;
	uint8_t old[16], scratch[16];
	uint32_t n = end - pi->l4_off;
	uint32_t sum = 0;
	uint8_t *ck;

	ck = l4_csum_field(ql4, pi->inner_l4_off, end, pi->key.proto);
	/* Quoted: source when it went VIP -> client, destination otherwise. */
	rw_addr_port(q, pi->family, addr_off(pi->family, !fwd), addr, ql4,
		     fwd ? 0 : 2, port, ck, pi->key.proto, old);
	if (fwd)
		rw_addr_port(l3, pi->family, addr_off(pi->family, true), addr,
			     NULL, 0, 0, NULL, 0, scratch);
	else if (memcmp(l3 + addr_off(pi->family, false), old, alen) == 0)
		rw_addr_port(l3, pi->family, addr_off(pi->family, false), addr,
			     NULL, 0, 0, NULL, 0, scratch);
	ic[2] = 0;
	ic[3] = 0;
	if (pi->family == 6) /* pseudo-header: addresses, length, next header */
		sum = (uint32_t)pkt_csum(l3 + 8, 32, 0) + (n >> 16) +
		      (n & 0xffff) + PROTO_ICMPV6;
	wr16(ic + 2, (uint16_t)~pkt_csum(ic, n, sum));
}

static int
rw_nat(uint8_t *frame, uint32_t len, const struct pkt_info *pi, bool fwd,
       const struct halb_ip *ip, uint16_t port)
{
	if (!family_ok(pi, ip) || (uint32_t)pi->l3_off + pi->l3_len > len)
		return -EINVAL;
	switch (pi->kind) {
	case PKT_KIND_FLOW:
		rw_flow(frame, pi, fwd, ip, port);
		return 0;
	case PKT_KIND_ICMP_ERR:
		rw_icmp_err(frame, pi, fwd, ip, port);
		return 0;
	default:
		return -EINVAL;
	}
}

int
pkt_rw_nat_fwd(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
	       const struct halb_ip *backend, uint16_t backend_port)
{
	return rw_nat(frame, len, pi, true, backend, backend_port);
}

int
pkt_rw_nat_rev(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
	       const struct halb_ip *vip, uint16_t vip_port)
{
	return rw_nat(frame, len, pi, false, vip, vip_port);
}

void
pkt_rw_dsr(uint8_t *frame, const uint8_t src_mac[6], const uint8_t dst_mac[6])
{
	memcpy(frame, dst_mac, 6);
	memcpy(frame + 6, src_mac, 6);
}

/*
 * Besides the contract in pkt.h: returns 0 (and writes nothing) when
 * t->src and t->dst differ in family or the inner frame is too long for
 * the outer length fields.
 */
uint32_t
pkt_vxlan_encap(uint8_t *outer, uint32_t inner_len, const struct pkt_vxlan *t,
		uint32_t entropy)
{
	bool v4 = halb_ip_is_v4(&t->dst);
	uint32_t hl = v4 ? PKT_VXLAN_HDR_V4 : PKT_VXLAN_HDR_V6;
	uint32_t iphl = v4 ? 20 : 40;
	uint32_t ulen = 8 + 8 + inner_len;
	uint8_t *ip = outer + 14, *udp = ip + iphl, *vx = udp + 8;
	uint8_t *inner = outer + hl;

	if (halb_ip_is_v4(&t->src) != v4 || inner_len > UINT16_MAX - 16 - iphl)
		return 0;
	if (inner_len >= 12) {
		memcpy(inner, t->inner_dst_mac, 6);
		memcpy(inner + 6, t->src_mac, 6);
	}
	memcpy(outer, t->dst_mac, 6);
	memcpy(outer + 6, t->src_mac, 6);
	wr16(outer + 12, v4 ? 0x0800 : 0x86dd);
	if (v4) {
		ip[0] = 0x45;
		ip[1] = 0;
		wr16(ip + 2, (uint16_t)(20 + ulen));
		wr16(ip + 4, 0);      /* id: DF set, never fragmented */
		wr16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = PROTO_UDP;
		wr16(ip + 10, 0);
		memcpy(ip + 12, t->src.b + 12, 4);
		memcpy(ip + 16, t->dst.b + 12, 4);
		wr16(ip + 10, (uint16_t)~pkt_csum(ip, 20, 0));
	} else {
		ip[0] = 0x60;
		ip[1] = 0;
		ip[2] = 0;
		ip[3] = 0;
		wr16(ip + 4, (uint16_t)ulen);
		ip[6] = PROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, t->src.b, 16);
		memcpy(ip + 24, t->dst.b, 16);
	}
	/* Source port in 49152-65535, as RFC 7348 recommends. */
	wr16(udp, (uint16_t)(49152 + entropy % 16384));
	wr16(udp + 2, t->dst_port);
	wr16(udp + 4, (uint16_t)ulen);
	wr16(udp + 6, 0);
	vx[0] = 0x08; /* I: the VNI is valid */
	vx[1] = 0;
	vx[2] = 0;
	vx[3] = 0;
	vx[4] = (uint8_t)(t->vni >> 16);
	vx[5] = (uint8_t)(t->vni >> 8);
	vx[6] = (uint8_t)t->vni;
	vx[7] = 0;
	if (!v4 && t->udp6_csum_ol) {
		/* The device sums the datagram from here (the pseudo-header
		 * sum, folded, as rte_ipv6_phdr_cksum gives it). */
		wr16(udp + 6, pkt_csum(ip + 8, 32, ulen + PROTO_UDP));
	} else if (!v4) {
		uint32_t sum = (uint32_t)pkt_csum(ip + 8, 32, 0) + ulen +
			       PROTO_UDP;
		uint16_t c = (uint16_t)~pkt_csum(udp, ulen, sum);

		wr16(udp + 6, c == 0 ? 0xffff : c);
	}
	return hl;
}
