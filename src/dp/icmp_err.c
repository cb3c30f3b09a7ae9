/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP errors that the appliance itself sends, on byte buffers: for now
 * "fragmentation needed" (ICMPv4 3/4, RFC 1191) and "packet too big"
 * (ICMPv6 2, RFC 4443 3.2, RFC 8201), for a packet that would not fit
 * the link towards its backend once encapsulated (docs/PACKETS.md,
 * "Tunnel mode and the MTU").
 *
 * The error is built into a buffer of its own from a frame that
 * pkt_parse() accepted; the frame is only read.  Nothing here
 * allocates.  Rate limiting and the choice to answer at all are the
 * caller's.
 */
#include <stdint.h>
#include <string.h>

#include "halb/pkt.h"
#include "wire.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define IP6_HLEN 40
#define ICMP_HLEN 8
#define PROTO_ICMP 1
#define PROTO_ICMPV6 58
/* An error's datagram stays within what every host must take: 576
 * bytes for IPv4 (RFC 1812 4.3.2.3), the minimum MTU, 1280, for IPv6
 * (RFC 4443 2.4 (c)); the quote is cut to fit. */
#define ICMP4_MAX 576
#define ICMP6_MAX 1280

uint32_t
pkt_icmp_too_big(uint8_t *buf, uint32_t cap, const uint8_t *frame,
		 const struct pkt_info *pi, uint32_t mtu,
		 const uint8_t src_mac[6], const uint8_t dst_mac[6])
{
	const uint8_t *ip = frame + pi->l3_off;
	uint32_t hl, max, qlen, tot;
	uint8_t *oip, *ic;

	/* Never an error about an error, nor about anything but the first
	 * fragment (RFC 1122 3.2.2, RFC 4443 2.4 (e)). */
	if (pi->kind != PKT_KIND_FLOW || pi->frag == PKT_FRAG_LATER ||
	    (pi->family != 4 && pi->family != 6))
		return 0;
	hl = pi->family == 4 ? IP4_HLEN : IP6_HLEN;
	max = pi->family == 4 ? ICMP4_MAX : ICMP6_MAX;
	qlen = pi->l3_len;
	if (qlen > max - hl - ICMP_HLEN)
		qlen = max - hl - ICMP_HLEN;
	tot = hl + ICMP_HLEN + qlen;
	if (cap < ETH_HLEN + tot || mtu > UINT16_MAX)
		return 0;
	memcpy(buf, dst_mac, 6);
	memcpy(buf + 6, src_mac, 6);
	wr16(buf + 12, pi->family == 4 ? 0x0800 : 0x86dd);
	oip = buf + ETH_HLEN;
	ic = oip + hl;
	memcpy(ic + ICMP_HLEN, ip, qlen);
	memset(ic, 0, ICMP_HLEN);
	if (pi->family == 4) {
		oip[0] = 0x45;
		oip[1] = 0xc0; /* precedence 6, internetwork control (RFC 1812 4.3.2.5) */
		wr16(oip + 2, (uint16_t)tot);
		wr16(oip + 4, 0);
		wr16(oip + 6, 0x4000); /* DF: 576 bytes go anywhere */
		oip[8] = 64;
		oip[9] = PROTO_ICMP;
		wr16(oip + 10, 0);
		/* From the address the packet was sent to (the VIP), to its
		 * sender, as Katran does: the error comes from the
		 * connection's far end as the client sees it. */
		memcpy(oip + 12, ip + 16, 4);
		memcpy(oip + 16, ip + 12, 4);
		wr16(oip + 10, (uint16_t)~pkt_csum(oip, IP4_HLEN, 0));
		ic[0] = 3; /* destination unreachable */
		ic[1] = 4; /* fragmentation needed and DF set */
		wr16(ic + 6, (uint16_t)mtu); /* next-hop MTU (RFC 1191 4) */
		wr16(ic + 2, (uint16_t)~pkt_csum(ic, ICMP_HLEN + qlen, 0));
	} else {
		uint32_t n = ICMP_HLEN + qlen, sum;

		oip[0] = 0x60;
		oip[1] = 0;
		oip[2] = 0;
		oip[3] = 0;
		wr16(oip + 4, (uint16_t)n);
		oip[6] = PROTO_ICMPV6;
		oip[7] = 64;
		memcpy(oip + 8, ip + 24, 16);
		memcpy(oip + 24, ip + 8, 16);
		ic[0] = 2; /* packet too big */
		ic[4] = (uint8_t)(mtu >> 24);
		ic[5] = (uint8_t)(mtu >> 16);
		ic[6] = (uint8_t)(mtu >> 8);
		ic[7] = (uint8_t)mtu;
		sum = (uint32_t)pkt_csum(oip + 8, 32, 0) + n + PROTO_ICMPV6;
		wr16(ic + 2, (uint16_t)~pkt_csum(ic, n, sum));
	}
	return ETH_HLEN + tot;
}
