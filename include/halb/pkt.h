/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet parsing and rewriting on plain byte buffers (no mbufs), so the
 * same code serves the forwarder, the classifier, the unit tests and the
 * fuzzer.
 *
 * The parser reads only within [frame, frame + len) and refuses any frame
 * whose headers announce more bytes than there are.  The rewriters
 * assume a frame that pkt_parse() accepted and update checksums
 * incrementally (RFC 1624), except for ICMP errors, whose checksum covers
 * the quoted packet and is recomputed in full.
 */
#ifndef HALB_PKT_H
#define HALB_PKT_H

#include <stdint.h>

#include "halb/ip.h"
#include "halb/pkt-t.h"

/*
 * Parses an Ethernet frame: Ethernet, one 802.1Q tag, IPv4 with options,
 * IPv6 with hop-by-hop, routing, destination-options and fragment
 * headers, TCP, UDP, ICMP/ICMPv6 errors quoting a TCP/UDP packet, ARP and
 * IPv6 neighbour discovery.  Returns PKT_OK and fills *pi, or the
 * verdict explaining the refusal.
 */
enum pkt_verdict pkt_parse(const uint8_t *frame, uint32_t len,
			   struct pkt_info *pi);

/* Name of a verdict for counters and logs ("trunc", "ip_len", ...). */
const char *pkt_verdict_name(enum pkt_verdict v);

/* 32-bit hash of a flow key (CRC32-C); the same in every process. */
uint32_t pkt_flow_hash(const struct flow_key *k);

/*
 * dsr: sets the Ethernet source and destination; nothing else changes.
 */
void pkt_rw_dsr(uint8_t *frame, const uint8_t src_mac[6],
		const uint8_t dst_mac[6]);

/*
 * nat, client -> backend: replaces the destination address and port
 * (port 0 keeps the port; ports in host order) of a PKT_KIND_FLOW packet.  For a
 * PKT_KIND_ICMP_ERR it replaces the outer destination and the quoted
 * packet's source address and port, and recomputes the ICMP checksum.
 * The backend must be of the packet's family.  Returns 0 or -EINVAL.
 */
int pkt_rw_nat_fwd(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
		   const struct halb_ip *backend, uint16_t backend_port);

/*
 * nat, backend -> client: replaces the source address and port (port 0
 * keeps it) with the VIP's.  Returns 0 or -EINVAL.
 */
int pkt_rw_nat_rev(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
		   const struct halb_ip *vip, uint16_t vip_port);

/* VXLAN (RFC 7348) outer headers: Ethernet + IPv4/IPv6 + UDP + VXLAN. */
#define PKT_VXLAN_PORT 4789
#define PKT_VXLAN_HDR_V4 (14 + 20 + 8 + 8)
#define PKT_VXLAN_HDR_V6 (14 + 40 + 8 + 8)

struct pkt_vxlan {
	uint8_t src_mac[6], dst_mac[6]; /* outer: this port, next hop */
	struct halb_ip src, dst;        /* outer: this port, backend */
	uint16_t dst_port;              /* host order; usually 4789 */
	uint32_t vni;                   /* 24 bits */
	uint8_t inner_dst_mac[6];       /* the backend's VXLAN device */
	bool udp6_csum_ol;              /* IPv6 outer: the device computes the
					 * UDP checksum (TX offload); only the
					 * pseudo-header sum is written */
};

/*
 * tunnel: outer points at the start of the outer headers, which the
 * caller reserved in front of the inner frame of inner_len bytes
 * (PKT_VXLAN_HDR_V4 or _V6, by the family of t->dst).  Fills them; sets
 * the inner Ethernet addresses (source: t->src_mac; destination:
 * t->inner_dst_mac); the outer UDP source port carries `entropy` so that
 * the backend's and the network's hashing spread flows.  The IPv6 outer
 * UDP checksum is computed in full (Linux drops zero checksums over
 * IPv6 by default), unless t->udp6_csum_ol: then the checksum field
 * holds the pseudo-header sum (not complemented) that a device's UDP
 * checksum offload starts from, and the caller flags the mbuf.
 * Returns the outer header length.
 */
uint32_t pkt_vxlan_encap(uint8_t *outer, uint32_t inner_len,
			 const struct pkt_vxlan *t, uint32_t entropy);

/*
 * Control-plane replies built in place over a request frame of at least
 * 64 bytes (len is the buffer's capacity): an ARP reply, or a neighbour
 * advertisement answering a solicitation.  Return the new frame length,
 * or 0 when the request is not for `ip`.
 */
uint32_t pkt_arp_reply(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
		       const uint8_t mac[6], const struct halb_ip *ip);
uint32_t pkt_nd_advert(uint8_t *frame, uint32_t len, const struct pkt_info *pi,
		       const uint8_t mac[6], const struct halb_ip *ip);

/*
 * Builds an ARP request or a neighbour solicitation for `target` from
 * (mac, ip) into buf (at least 86 bytes).  Returns the frame length.
 */
uint32_t pkt_arp_request(uint8_t *buf, const uint8_t mac[6],
			 const struct halb_ip *ip, const struct halb_ip *target);
uint32_t pkt_nd_solicit(uint8_t *buf, const uint8_t mac[6],
			const struct halb_ip *ip, const struct halb_ip *target);

/*
 * From an ARP packet or a neighbour solicitation/advertisement: the
 * sender's address and link-layer address.  Returns 0, or -ENOENT when
 * the packet carries no binding (e.g. a solicitation from ::).
 */
int pkt_neigh_binding(const uint8_t *frame, uint32_t len,
		      const struct pkt_info *pi, struct halb_ip *ip,
		      uint8_t mac[6]);

/* Whether an ARP/ND packet asks for `ip` (request or solicitation). */
int pkt_neigh_asks_for(const uint8_t *frame, uint32_t len,
		       const struct pkt_info *pi, struct halb_ip *target);

/*
 * ICMP "fragmentation needed" (IPv4, type 3 code 4, RFC 1191) or ICMPv6
 * "packet too big" (type 2, RFC 4443) about the TCP/UDP packet in
 * `frame` (pi from pkt_parse()), built into buf (cap bytes; 590 suffice
 * for IPv4, 1294 for IPv6): untagged Ethernet from src_mac to dst_mac,
 * IP from the packet's destination to its source (TTL/hop limit 64), the
 * next-hop MTU `mtu`, and as much of the packet as keeps the datagram
 * within 576 (IPv4) or 1280 (IPv6) bytes.  Returns the frame length, or
 * 0 when the packet must get no error (an ICMP error itself, a later
 * fragment) or buf is too small.
 */
uint32_t pkt_icmp_too_big(uint8_t *buf, uint32_t cap, const uint8_t *frame,
			  const struct pkt_info *pi, uint32_t mtu,
			  const uint8_t src_mac[6], const uint8_t dst_mac[6]);

/*
 * The validity rules an ARP or ND packet (PKT_KIND_ARP, PKT_KIND_ND)
 * must pass before it is answered or learnt from: returns PKT_NEIGH_OK
 * or the first rule it breaks.  What only the receiver can judge (is the
 * target ours, is the sender on the link's prefix, is it our own
 * address) is left to the caller.
 */
enum pkt_neigh_err pkt_neigh_check(const uint8_t *frame, uint32_t len,
				   const struct pkt_info *pi);

/* Name of a pkt_neigh_err for counters ("hlim", "code", ...). */
const char *pkt_neigh_err_name(enum pkt_neigh_err e);

/*
 * Whether the binding of a valid ARP/ND packet may replace a known
 * link-layer address: ARP and solicitations yes, advertisements only
 * with the O flag (RFC 4861 7.2.5).
 */
int pkt_neigh_override(const uint8_t *frame, const struct pkt_info *pi);

/*
 * The echo server (src/dp/icmp_pkt.c).  pkt_icmp_is_echo() tells whether a
 * PKT_KIND_OTHER packet is an ICMP or ICMPv6 echo request.
 * pkt_icmp_echo_reply() turns one into its reply in place (addresses
 * swapped, hop limit 64, Ethernet back to its source from `mac`) and
 * returns the frame length (len: the frame's), or 0 when it will not
 * answer: fragmented, IPv4 options, IPv6 extension headers, code not 0
 * or a bad checksum.  The caller decides whether the destination is one
 * of its own addresses.
 */
int pkt_icmp_is_echo(const uint8_t *frame, const struct pkt_info *pi);
uint32_t pkt_icmp_echo_reply(uint8_t *frame, uint32_t len,
			     const struct pkt_info *pi, const uint8_t mac[6]);

/* Internet checksum helpers (host-independent, as in RFC 1071). */
uint16_t pkt_csum(const void *data, uint32_t len, uint32_t sum);
uint16_t pkt_csum_fold(uint32_t sum);

#endif
