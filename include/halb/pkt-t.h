/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the packet parser learns about a frame (struct pkt_info) and why
 * it may refuse one (enum pkt_verdict).  Offsets are from the start of
 * the Ethernet frame.
 */
#ifndef HALB_PKT_T_H
#define HALB_PKT_T_H

#include <stdint.h>

#include "halb/flow-t.h"

enum pkt_kind {
	PKT_KIND_FLOW = 0, /* TCP or UDP; key is its 5-tuple */
	PKT_KIND_ICMP_ERR, /* ICMP/ICMPv6 error; key is the quoted flow, turned
			    * back into the direction client -> VIP */
	PKT_KIND_ARP,      /* ARP request or reply */
	PKT_KIND_ND,       /* ICMPv6 neighbour solicitation or advertisement */
	PKT_KIND_OTHER,    /* valid IP, but nothing halb balances (echo, ...) */
};

enum pkt_frag {
	PKT_FRAG_NONE = 0,
	PKT_FRAG_FIRST, /* offset 0, more fragments: has the L4 header */
	PKT_FRAG_LATER, /* offset > 0: no L4 header, ports unknown */
};

/* Why a frame was refused; each has its own drop counter. */
enum pkt_verdict {
	PKT_OK = 0,
	PKT_ERR_TRUNC,     /* shorter than a header it announces */
	PKT_ERR_L2,        /* unsupported ethertype or VLAN stacking */
	PKT_ERR_IP_VER,    /* version field does not match the ethertype */
	PKT_ERR_IP_HLEN,   /* IPv4 IHL < 5 or beyond the packet */
	PKT_ERR_IP_LEN,    /* total/payload length lies about the frame */
	PKT_ERR_IP_EXT,    /* IPv6 extension header chain malformed/too long */
	PKT_ERR_L4,        /* TCP data offset or UDP length invalid */
	PKT_ERR_ICMP,      /* ICMP error with an unusable quote */
	PKT_ERR_ARP,       /* ARP not Ethernet/IPv4 */
	PKT_ERR_IP_ADDR,   /* IPv6 address IPv4-mapped (::ffff:0:0/96) */
	PKT_VERDICT_MAX,
};

/*
 * Why an ARP packet or a neighbour solicitation/advertisement that
 * pkt_parse() accepted is still to be ignored (pkt_neigh_check(): RFC
 * 826 and 5227 for ARP, RFC 4861 7.1.1 and 7.1.2 for ND); each has its
 * own counter.
 */
enum pkt_neigh_err {
	PKT_NEIGH_OK = 0,
	PKT_NEIGH_HLIM,    /* ND: hop limit not 255 (routed: not from the link) */
	PKT_NEIGH_CODE,    /* ND: ICMPv6 code not 0 */
	PKT_NEIGH_CSUM,    /* ND: ICMPv6 checksum wrong */
	PKT_NEIGH_TARGET,  /* ND: multicast target */
	PKT_NEIGH_OPT,     /* ND: an option of length 0 or past the end */
	PKT_NEIGH_SRC,     /* source (ARP: sender) address no unicast host has */
	PKT_NEIGH_DAD,     /* NS from ::, not to a solicited-node group or with
			    * a source link-layer option */
	PKT_NEIGH_DST,     /* NS to neither its target nor the target's
			    * solicited-node group */
	PKT_NEIGH_SOLICITED, /* NA to a multicast group with S set */
	PKT_NEIGH_HW,      /* ARP: sender hardware address multicast or zero */
	PKT_NEIGH_ERR_MAX,
};

/* TCP flags as in pkt_info.tcp_flags. */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_ACK 0x10

struct pkt_info {
	uint8_t kind;      /* enum pkt_kind */
	uint8_t family;    /* 4 or 6 (0 for ARP) */
	uint8_t frag;      /* enum pkt_frag */
	uint8_t tcp_flags; /* for TCP flows, else 0 */
	uint16_t l3_off;   /* IP (or ARP) header */
	uint16_t l4_off;   /* TCP/UDP/ICMP header; 0 for later fragments */
	uint16_t l3_len;   /* IP total length (header + payload) */
	uint16_t vlan_tci; /* host order; valid when has_vlan */
	uint8_t has_vlan;
	uint8_t l4_proto;  /* IPPROTO_* of the transport (ICMP for errors) */
	uint16_t inner_l3_off; /* ICMP errors: quoted IP header */
	uint16_t inner_l4_off; /* ICMP errors: quoted L4 header */
	uint32_t frag_id;  /* IPv4 id or IPv6 fragment id, when fragmented */
	struct flow_key key;
};

#endif
