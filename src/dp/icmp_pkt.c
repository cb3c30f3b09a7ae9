/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The appliance's echo server: an ICMP echo request (or ICMPv6 echo
 * request) to one of its own addresses turned, in place, into the reply
 * (RFC 1812 4.3.3.6 and RFC 4443 4.1 ask every router and node for one).
 *
 * Takes a frame that pkt_parse() accepted as PKT_KIND_OTHER.  Answers
 * only what it can answer exactly: unfragmented, no IPv4 options and no
 * IPv6 extension headers (a reply would have to reverse a route or
 * update a record), code 0 and a correct checksum.  Nothing here
 * allocates; reads and writes stay inside the IP packet.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "halb/pkt.h"
#include "wire.h"

#define PROTO_ICMP 1
#define PROTO_ICMPV6 58
#define ICMP_ECHO 8
#define ICMP_ECHOREPLY 0
#define ICMP6_ECHO 128
#define ICMP6_ECHOREPLY 129
#define REPLY_HOPS 64

/* The ICMPv6 pseudo-header sum of the packet at l3 for n bytes. */
static uint32_t
pseudo6(const uint8_t *l3, uint32_t n)
{
	return (uint32_t)pkt_csum(l3 + 8, 32, 0) + (n >> 16) + (n & 0xffff) +
	       PROTO_ICMPV6;
}

int
pkt_icmp_is_echo(const uint8_t *frame, const struct pkt_info *pi)
{
	if (pi->kind != PKT_KIND_OTHER || pi->frag != PKT_FRAG_NONE ||
	    pi->l4_off == 0)
		return 0;
	if (pi->family == 4)
		return pi->l4_proto == PROTO_ICMP && frame[pi->l4_off] == ICMP_ECHO;
	return pi->family == 6 && pi->l4_proto == PROTO_ICMPV6 &&
	       frame[pi->l4_off] == ICMP6_ECHO;
}

uint32_t
pkt_icmp_echo_reply(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
		    const uint8_t mac[6])
{
	uint8_t *l3 = frame + pi->l3_off, *ic = frame + pi->l4_off;
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len, n;
	uint8_t tmp[16];

	if (!pkt_icmp_is_echo(frame, pi) || end > len || end - pi->l4_off < 8 ||
	    ic[1] != 0)
		return 0;
	n = end - pi->l4_off;
	if (pi->family == 4) {
		if (pi->l4_off != pi->l3_off + 20u)
			return 0; /* options */
		if (pkt_csum(ic, n, 0) != 0xffff)
			return 0;
		memcpy(tmp, l3 + 12, 4);
		memcpy(l3 + 12, l3 + 16, 4);
		memcpy(l3 + 16, tmp, 4);
		l3[8] = REPLY_HOPS;
		wr16(l3 + 10, 0);
		wr16(l3 + 10, (uint16_t)~pkt_csum(l3, 20, 0));
		ic[0] = ICMP_ECHOREPLY;
		wr16(ic + 2, 0);
		wr16(ic + 2, (uint16_t)~pkt_csum(ic, n, 0));
	} else {
		if (pi->l4_off != pi->l3_off + 40u)
			return 0; /* extension headers */
		if (pkt_csum(ic, n, pseudo6(l3, n)) != 0xffff)
			return 0;
		memcpy(tmp, l3 + 8, 16);
		memcpy(l3 + 8, l3 + 24, 16);
		memcpy(l3 + 24, tmp, 16);
		l3[7] = REPLY_HOPS;
		ic[0] = ICMP6_ECHOREPLY;
		wr16(ic + 2, 0);
		wr16(ic + 2, (uint16_t)~pkt_csum(ic, n, pseudo6(l3, n)));
	}
	memcpy(frame, frame + 6, 6);
	memcpy(frame + 6, mac, 6);
	return len;
}
