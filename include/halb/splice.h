/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP segments for delayed binding (docs/REQUESTS.md): the options of a
 * SYN or SYN-ACK, segments built whole (the forwarder's cookie SYN-ACK,
 * the request router's replayed handshake, its resets and its minimal
 * answers), and the sequence translation of a bound connection (seq,
 * ack and SACK blocks, modulo 2^32).  On plain byte buffers, no DPDK,
 * like the rest of the packet code; checksums as csum.c says.
 */
#ifndef HALB_SPLICE_H
#define HALB_SPLICE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "halb/pkt-t.h"
#include "halb/syncookie.h"

/* TCP flags as on the wire (pkt-t.h has the ones the parser keeps). */
#define SPLICE_FIN 0x01
#define SPLICE_SYN 0x02
#define SPLICE_RST 0x04
#define SPLICE_PSH 0x08
#define SPLICE_ACK 0x10

/* Room a built segment needs beyond its payload: Ethernet, IPv6, TCP
 * with the options splice_opts_syn writes. */
#define SPLICE_HDR_MAX (14 + 40 + 20 + 20)

/* One segment to build.  Addresses as in a flow key (16 bytes, IPv4
 * mapped: family 4); ports in network order as in a flow key. */
struct splice_seg {
	uint8_t family;
	const uint8_t *src, *dst;  /* 16 bytes each */
	uint16_t sport, dport;     /* network order */
	uint32_t seq, ack;
	uint8_t flags;             /* SPLICE_* */
	uint16_t win;
	const uint8_t *opts;       /* TCP options, a multiple of 4 bytes */
	uint8_t opts_len;
	const uint8_t *data;
	uint32_t data_len;
};

/*
 * The options of the TCP segment of frame (parsed as pi): MSS (RFC 1122
 * default when absent: 536 over IPv4, 1220 over IPv6), window scale
 * (SYNCOOKIE_WS_NONE when absent), SACK-permitted.  Returns 0, or -1
 * when an option runs past the header (o then holds what came before).
 */
int splice_opts_read(const uint8_t *frame, const struct pkt_info *pi,
		     struct syncookie_opts *o);

/* Writes the options of a SYN or SYN-ACK that says o (MSS always,
 * SACK-permitted and window scale when o has them) into buf (at least
 * 20 bytes); returns their length, a multiple of 4. */
uint8_t splice_opts_syn(uint8_t *buf, const struct syncookie_opts *o);

/*
 * Builds s into buf (cap bytes): Ethernet with zero addresses (the
 * sender fills them: pkt_rw_dsr), IPv4 (20 bytes, DF, TTL 64) or IPv6
 * (hop limit 64), TCP with s's options and data, every checksum in
 * full.  Returns the frame's length, or 0 when it does not fit.
 */
uint32_t splice_build(uint8_t *buf, uint32_t cap, const struct splice_seg *s);

/*
 * The sequence translation of a bound connection: adds dseq to the
 * segment's sequence number, and dack to its acknowledgement number
 * (when ACK is set) and to both edges of every SACK block, modulo 2^32,
 * with the TCP checksum updated incrementally.  Returns 0, or -1 when
 * the options are malformed (the segment is then unchanged).
 */
int splice_seq_adjust(uint8_t *frame, const struct pkt_info *pi,
		      uint32_t dseq, uint32_t dack);

/* TCP header fields of a parsed TCP segment. */
uint32_t splice_seq(const uint8_t *frame, const struct pkt_info *pi);
uint32_t splice_ack(const uint8_t *frame, const struct pkt_info *pi);
uint16_t splice_win(const uint8_t *frame, const struct pkt_info *pi);
/* Its payload: offset from the frame's start and length. */
uint32_t splice_payload(const uint8_t *frame, const struct pkt_info *pi,
			uint32_t *len);

/*
 * The client's key (client -> VIP:port) of a backend's segment pi (backend
 * -> client) of a request-routed service at vip and vport (host order;
 * 0: every port, the backend's port being the client's): the key its
 * bound flow and its binding are under, in the worker and the router.
 */
static inline void
splice_client_key(const struct pkt_info *pi, const uint8_t vip[16],
		  uint16_t vport, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, pi->key.dst, 16);
	memcpy(k->dst, vip, 16);
	k->sport = pi->key.dport;
	k->dport = vport != 0 ? htons(vport) : pi->key.sport;
	k->proto = IPPROTO_TCP;
}

#endif
