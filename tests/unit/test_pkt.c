/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the packet parser and rewriters (src/dp/pkt.c, csum.c, rewrite.c,
 * neigh_pkt.c).  Frames come from a small builder driven by a table of
 * `struct spec` (what to build) and optional mutators (how to make it
 * lie); every checksum a rewrite touches is checked against a full
 * recompute by the reference code below, which shares nothing with the
 * code under test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/pkt.h"

#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_GRE 47
#define P_ICMPV6 58

#define CLIENT4 "198.51.100.7"
#define VIP4 "203.0.113.10"
#define BACKEND4 "10.0.0.21"
#define ROUTER4 "192.0.2.1"
#define CLIENT6 "2001:db8:1::7"
#define VIP6 "2001:db8:ffff::10"
#define BACKEND6 "fd00::21"
#define ROUTER6 "2001:db8:2::1"

static const uint8_t mac_us[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_peer[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t mac_new[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

/* ---- frame builder ------------------------------------------------ */

enum { F_NONE, F_FIRST, F_LATER };

struct spec {
	uint8_t family;     /* 4, 6; 0 for ARP */
	uint8_t vlan;
	uint8_t proto;
	uint8_t ip4_opt;    /* IPv4 option words */
	uint8_t n_ext;      /* IPv6 extension headers before the L4 */
	uint8_t ext[10];
	uint8_t frag;       /* F_* */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint8_t tcp_opt;    /* TCP option words */
	uint16_t payload;
	uint8_t udp_nocsum;
	uint8_t icmp_type;
	const struct spec *quote;
	uint16_t quote_len; /* bytes of the quoted packet kept; 0: all */
	uint8_t eth_pad;
	uint16_t arp_op;
	uint8_t nd_opt;     /* ND option type carried (0: none) */
	const char *src, *dst;
	const char *target; /* ND target */
};

struct built {
	uint8_t b[2048];
	uint32_t len;
	uint32_t l3_off, l3_len, l4_off, in3, in4;
};

static void
ip_of(const char *s, struct halb_ip *ip)
{
	assert_int_equal(halb_ip_parse(s, ip), 0);
}

static void
w16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t
r16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Reference RFC 1071 sum, byte by byte, folded, not inverted. */
static uint32_t
ref_sum(const uint8_t *p, uint32_t n, uint32_t s)
{
	uint32_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static uint32_t
ref_pseudo(const uint8_t *l3, int family, uint8_t proto, uint32_t len)
{
	if (family == 4)
		return ref_sum(l3 + 12, 8, 0) + proto + len;
	return ref_sum(l3 + 8, 32, 0) + proto + len;
}

static uint32_t build_l3(const struct spec *s, uint8_t *p, uint32_t *l4off,
			 uint32_t *in3, uint32_t *in4);

static uint32_t
build_l4(const struct spec *s, uint8_t *l4, uint32_t *in3, uint32_t *in4)
{
	uint32_t n = 0, i;

	switch (s->proto) {
	case P_TCP:
		n = 20 + 4u * s->tcp_opt;
		memset(l4, 0, n);
		w16(l4, s->sport);
		w16(l4 + 2, s->dport);
		l4[4] = 0x11;
		l4[7] = 0x44;
		l4[12] = (uint8_t)((n / 4) << 4);
		l4[13] = s->tcp_flags;
		w16(l4 + 14, 65535);
		memset(l4 + 20, 1, n - 20); /* NOPs */
		break;
	case P_UDP:
		n = 8;
		w16(l4, s->sport);
		w16(l4 + 2, s->dport);
		w16(l4 + 4, 8u + s->payload + (s->frag == F_FIRST ? 1000 : 0));
		w16(l4 + 6, 0);
		break;
	case P_ICMP:
	case P_ICMPV6:
		memset(l4, 0, 8);
		l4[0] = s->icmp_type;
		n = 8;
		if (s->quote != NULL) {
			uint32_t ql4, qlen;

			qlen = build_l3(s->quote, l4 + 8, &ql4, NULL, NULL);
			if (s->quote_len != 0 && s->quote_len < qlen)
				qlen = s->quote_len;
			*in3 = 8;
			*in4 = 8 + ql4;
			n += qlen;
		} else if (s->icmp_type == 135 || s->icmp_type == 136) {
			struct halb_ip t;

			ip_of(s->target, &t);
			l4[4] = s->icmp_type == 136 ? 0x60 : 0;
			memcpy(l4 + 8, t.b, 16);
			n = 24;
			if (s->nd_opt != 0) {
				l4[24] = s->nd_opt;
				l4[25] = 1;
				memcpy(l4 + 26, mac_peer, 6);
				n = 32;
			}
		}
		break;
	default:
		break;
	}
	for (i = 0; i < s->payload; i++)
		l4[n + i] = (uint8_t)(i * 7 + 3);
	return n + s->payload;
}

/* Builds the IP packet of s at p; returns its length. */
static uint32_t
build_l3(const struct spec *s, uint8_t *p, uint32_t *l4off, uint32_t *in3,
	 uint32_t *in4)
{
	struct halb_ip src, dst;
	uint8_t l4[1600];
	uint32_t hl, l4len, i3 = 0, i4 = 0, i;
	uint8_t nh;

	ip_of(s->src, &src);
	ip_of(s->dst, &dst);
	l4len = build_l4(s, l4, &i3, &i4);
	if (s->family == 4) {
		hl = 20 + 4u * s->ip4_opt;
		memset(p, 0, hl);
		p[0] = (uint8_t)(0x40 | hl / 4);
		w16(p + 2, hl + l4len);
		w16(p + 4, 0x1234);
		if (s->frag == F_FIRST)
			w16(p + 6, 0x2000);
		else if (s->frag == F_LATER)
			w16(p + 6, 185);
		p[8] = 64;
		p[9] = s->proto;
		memcpy(p + 12, src.b + 12, 4);
		memcpy(p + 16, dst.b + 12, 4);
		memset(p + 20, 1, hl - 20); /* NOP options */
	} else {
		uint32_t k;
		uint8_t *nhp;

		memset(p, 0, 40);
		p[0] = 0x60;
		p[7] = 64;
		memcpy(p + 8, src.b, 16);
		memcpy(p + 24, dst.b, 16);
		nhp = p + 6;
		hl = 40;
		for (k = 0; k < s->n_ext; k++) {
			uint8_t *e = p + hl;
			uint32_t el = s->ext[k] == 60 ? 16 : 8;

			*nhp = s->ext[k];
			memset(e, 0, el);
			e[1] = (uint8_t)(el / 8 - 1);
			if (s->ext[k] == 43) {
				e[2] = 253; /* experimental routing type */
			} else {
				e[2] = 1; /* PadN */
				e[3] = (uint8_t)(el - 4);
			}
			nhp = e;
			hl += el;
		}
		if (s->frag != F_NONE) {
			uint8_t *e = p + hl;

			*nhp = 44;
			memset(e, 0, 8);
			w16(e + 2, s->frag == F_FIRST ? 1 : (185 << 3) | 1);
			e[4] = 0x12;
			e[5] = 0x34;
			e[6] = 0x56;
			e[7] = 0x78;
			nhp = e;
			hl += 8;
		}
		*nhp = s->proto;
		w16(p + 4, hl - 40 + l4len);
	}
	memcpy(p + hl, l4, l4len);
	nh = s->proto;
	if (s->frag != F_LATER) {
		uint8_t *q = p + hl;
		uint32_t c;

		if (nh == P_TCP || nh == P_UDP ||
		    (nh == P_ICMPV6 && s->family == 6)) {
			uint8_t *f = q + (nh == P_TCP ? 16 : nh == P_UDP ? 6 : 2);

			if (!(nh == P_UDP && s->udp_nocsum)) {
				c = ~ref_sum(q, l4len,
					     ref_pseudo(p, s->family, nh, l4len)) &
				    0xffff;
				w16(f, nh == P_UDP && c == 0 ? 0xffff : c);
			}
		} else if (nh == P_ICMP && s->family == 4) {
			w16(q + 2, ~ref_sum(q, l4len, 0) & 0xffff);
		}
	}
	if (s->family == 4)
		w16(p + 10, ~ref_sum(p, hl, 0) & 0xffff);
	if (l4off != NULL)
		*l4off = hl;
	if (in3 != NULL) {
		*in3 = i3 ? hl + i3 : 0;
		*in4 = i4 ? hl + i4 : 0;
	}
	i = hl + l4len;
	return i;
}

static void
build(const struct spec *s, struct built *o)
{
	struct halb_ip a;
	uint32_t off = 14;
	uint16_t type = s->family == 4 ? 0x0800 :
			s->family == 6 ? 0x86dd : 0x0806;

	memset(o, 0, sizeof(*o));
	memcpy(o->b, mac_us, 6);
	memcpy(o->b + 6, mac_peer, 6);
	if (s->vlan) {
		w16(o->b + 12, 0x8100);
		w16(o->b + 14, 0x6064);
		off = 18;
	}
	w16(o->b + off - 2, type);
	o->l3_off = off;
	if (s->family == 0) {
		uint8_t *arp = o->b + off;

		w16(arp, 1);
		w16(arp + 2, 0x0800);
		arp[4] = 6;
		arp[5] = 4;
		w16(arp + 6, s->arp_op);
		memcpy(arp + 8, mac_peer, 6);
		ip_of(s->src, &a);
		memcpy(arp + 14, a.b + 12, 4);
		if (s->arp_op == 2)
			memcpy(arp + 18, mac_us, 6);
		ip_of(s->dst, &a);
		memcpy(arp + 24, a.b + 12, 4);
		o->l3_len = 28;
	} else {
		o->l3_len = build_l3(s, o->b + off, &o->l4_off, &o->in3,
				     &o->in4);
		o->l4_off += off;
		if (o->in3) {
			o->in3 += off;
			o->in4 += off;
		}
		if (s->frag == F_LATER)
			o->l4_off = 0;
	}
	o->len = off + o->l3_len + s->eth_pad;
}

/* Full recompute of every checksum of a parsed frame. */
static void
verify_csums(const uint8_t *f, uint32_t len, int full_quote)
{
	struct pkt_info pi;
	const uint8_t *l3;
	uint32_t end, n;

	assert_int_equal(pkt_parse(f, len, &pi), PKT_OK);
	l3 = f + pi.l3_off;
	end = (uint32_t)pi.l3_off + pi.l3_len;
	if (pi.family == 4)
		assert_int_equal(ref_sum(l3, (l3[0] & 0xfu) * 4, 0), 0xffff);
	if (pi.kind == PKT_KIND_FLOW && pi.frag != PKT_FRAG_LATER) {
		const uint8_t *l4 = f + pi.l4_off;

		n = end - pi.l4_off;
		if (!(pi.l4_proto == P_UDP && pi.family == 4 && r16(l4 + 6) == 0))
			assert_int_equal(ref_sum(l4, n, ref_pseudo(l3, pi.family,
								   pi.l4_proto,
								   n)),
					 0xffff);
	}
	if (pi.kind == PKT_KIND_ICMP_ERR || pi.kind == PKT_KIND_ND) {
		n = end - pi.l4_off;
		assert_int_equal(ref_sum(f + pi.l4_off, n,
					 pi.family == 6 ?
						 ref_pseudo(l3, 6, P_ICMPV6, n) :
						 0),
				 0xffff);
	}
	if (pi.kind == PKT_KIND_ICMP_ERR) {
		const uint8_t *q = f + pi.inner_l3_off;

		if (pi.family == 4)
			assert_int_equal(ref_sum(q, (q[0] & 0xfu) * 4, 0),
					 0xffff);
		if (full_quote) {
			n = end - pi.inner_l4_off;
			assert_int_equal(ref_sum(f + pi.inner_l4_off, n,
						 ref_pseudo(q, pi.family,
							    pi.key.proto, n)),
					 0xffff);
		}
	}
}

/* ---- parse table --------------------------------------------------- */

#define S_TCP4 { .family = 4, .proto = P_TCP, .sport = 40000, \
	.dport = 80, .tcp_flags = 0x02, .payload = 0, .src = CLIENT4, \
	.dst = VIP4 }
static const struct spec tcp4 = S_TCP4;
#define S_UDP4 { .family = 4, .proto = P_UDP, .sport = 5353, \
	.dport = 53, .payload = 23, .src = CLIENT4, .dst = VIP4 }
static const struct spec udp4 = S_UDP4;
#define S_TCP6 { .family = 6, .proto = P_TCP, .sport = 40001, \
	.dport = 443, .tcp_flags = 0x18, .tcp_opt = 3, .payload = 100, \
	.src = CLIENT6, .dst = VIP6 }
static const struct spec tcp6 = S_TCP6;
#define S_UDP6 { .family = 6, .proto = P_UDP, .sport = 5000, \
	.dport = 4500, .payload = 33, .src = CLIENT6, .dst = VIP6 }
static const struct spec udp6 = S_UDP6;
/* What a backend sent (seen in a quote): VIP -> client. */
static const struct spec tcp4_back = { .family = 4, .proto = P_TCP,
	.sport = 80, .dport = 40000, .tcp_flags = 0x10, .payload = 40,
	.src = VIP4, .dst = CLIENT4 };
static const struct spec udp4_back = { .family = 4, .proto = P_UDP,
	.sport = 53, .dport = 5353, .payload = 20, .ip4_opt = 2,
	.src = VIP4, .dst = CLIENT4 };
static const struct spec tcp6_back = { .family = 6, .proto = P_TCP,
	.sport = 443, .dport = 40001, .tcp_flags = 0x10, .payload = 60,
	.src = VIP6, .dst = CLIENT6 };
static const struct spec udp6_back = { .family = 6, .proto = P_UDP,
	.sport = 4500, .dport = 5000, .payload = 10, .n_ext = 1,
	.ext = { 60 }, .src = VIP6, .dst = CLIENT6 };
/* What the balancer sent (seen in a quote): client -> backend. */
static const struct spec udp4_fwd = { .family = 4, .proto = P_UDP,
	.sport = 5353, .dport = 8053, .payload = 12, .src = CLIENT4,
	.dst = BACKEND4 };
static const struct spec tcp6_fwd = { .family = 6, .proto = P_TCP,
	.sport = 40001, .dport = 8443, .payload = 0, .src = CLIENT6,
	.dst = BACKEND6 };
/* IPv4-mapped addresses on the wire (refused: they would share keys
 * with IPv4 flows). */
#define MAPPED4 "::ffff:203.0.113.10"
static const struct spec tcp6_mapped_back = { .family = 6, .proto = P_TCP,
	.sport = 80, .dport = 40001, .tcp_flags = 0x10, .payload = 20,
	.src = MAPPED4, .dst = CLIENT6 };
#define S_ECHO4 { .family = 4, .proto = P_ICMP, \
	.icmp_type = 8, .payload = 16, .src = CLIENT4, .dst = VIP4 }
static const struct spec echo4 = S_ECHO4;
static const struct spec later4 = { .family = 4, .proto = P_UDP, .frag = F_LATER,
	.sport = 1, .dport = 2, .payload = 40, .src = VIP4, .dst = CLIENT4 };

struct ptest {
	const char *what;
	struct spec s;
	void (*mutate)(struct built *b);
	enum pkt_verdict verdict;
	uint8_t kind;
	int full_quote; /* the ICMP error quotes its packet whole */
};

static void m_ip4_totlen_big(struct built *b) { w16(b->b + b->l3_off + 2, b->len - b->l3_off + 1); }
static void m_ip4_ihl_gt_tot(struct built *b) { b->b[b->l3_off] = 0x4f; w16(b->b + b->l3_off + 2, 40); }
static void m_ip4_ihl_small(struct built *b) { b->b[b->l3_off] = 0x44; }
static void m_ip4_ver(struct built *b) { b->b[b->l3_off] = 0x65; }
static void m_ip6_ver(struct built *b) { b->b[b->l3_off] = 0x40; }
static void m_ip6_plen_big(struct built *b) { w16(b->b + b->l3_off + 4, b->len - b->l3_off - 39); }
static void m_tcp_doff_big(struct built *b) { b->b[b->l4_off + 12] = 0xf0; }
static void m_tcp_doff_small(struct built *b) { b->b[b->l4_off + 12] = 0x40; }
static void m_udp_len_small(struct built *b) { w16(b->b + b->l4_off + 4, 7); }
static void m_udp_len_big(struct built *b) { w16(b->b + b->l4_off + 4, b->len - b->l4_off + 1); }
static void m_qinq(struct built *b) { w16(b->b + 12, 0x88a8); }
static void m_vlan2(struct built *b) { w16(b->b + 16, 0x8100); }
static void m_etype(struct built *b) { w16(b->b + 12, 0x88cc); }
static void m_arp_htype(struct built *b) { w16(b->b + b->l3_off, 6); }
static void m_arp_ptype(struct built *b) { w16(b->b + b->l3_off + 2, 0x86dd); }
static void m_arp_hlen(struct built *b) { b->b[b->l3_off + 4] = 8; }
static void m_arp_op(struct built *b) { w16(b->b + b->l3_off + 6, 3); }
static void m_ext_len_big(struct built *b) { b->b[b->l3_off + 41] = 200; }
static void m_rh_left(struct built *b) { b->b[b->l3_off + 43] = 1; }
/* 8 bytes more than there are: the dstopts header of "udp6 dstopts". */
static void m_ext_len_edge(struct built *b) { b->b[b->l3_off + 41] = 3; }
static void m_eth_short(struct built *b) { b->len = 13; }
static void m_vlan_short(struct built *b) { b->len = 17; }
static void m_ip4_short(struct built *b) { b->len = b->l3_off + 19; }
static void m_arp_short(struct built *b) { b->len = b->l3_off + 27; }

/* IP payload cut to n bytes, lengths consistent. */
static void
cut_payload(struct built *b, uint32_t n)
{
	uint8_t *ip = b->b + b->l3_off;

	if (ip[0] >> 4 == 4) {
		uint32_t hl = (ip[0] & 0xfu) * 4;

		w16(ip + 2, hl + n);
		b->len = b->l3_off + hl + n;
	} else {
		w16(ip + 4, b->l4_off - b->l3_off - 40 + n);
		b->len = b->l4_off + n;
	}
}

static void m_tcp_19(struct built *b) { cut_payload(b, 19); }
static void m_udp_7(struct built *b) { cut_payload(b, 7); }
static void m_icmp_7(struct built *b) { cut_payload(b, 7); }
static void m_nd_23(struct built *b) { cut_payload(b, 23); }

#define Q(x) .quote = &(x)

static const struct ptest ptests[] = {
	{ "tcp4 syn", S_TCP4, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp4", S_UDP4, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "tcp6", S_TCP6, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp6", S_UDP6, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "tcp4 vlan, options", { .family = 4, .vlan = 1, .proto = P_TCP,
	  .ip4_opt = 10, .sport = 1234, .dport = 80, .tcp_flags = 0x12,
	  .tcp_opt = 10, .payload = 7, .src = CLIENT4, .dst = VIP4 },
	  NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp4 ihl 15", { .family = 4, .proto = P_UDP, .ip4_opt = 10,
	  .sport = 9, .dport = 10, .src = CLIENT4, .dst = VIP4 },
	  NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp4 eth padding", { .family = 4, .proto = P_UDP, .sport = 9,
	  .dport = 10, .eth_pad = 18, .src = CLIENT4, .dst = VIP4 },
	  NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp4 no checksum", { .family = 4, .proto = P_UDP, .sport = 9,
	  .dport = 10, .udp_nocsum = 1, .payload = 5, .src = CLIENT4,
	  .dst = VIP4 }, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp6 vlan", { .family = 6, .vlan = 1, .proto = P_UDP, .sport = 7,
	  .dport = 8, .payload = 3, .src = CLIENT6, .dst = VIP6 },
	  NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "tcp6 hop-by-hop", { .family = 6, .proto = P_TCP, .n_ext = 1,
	  .ext = { 0 }, .sport = 1, .dport = 80, .tcp_flags = 2,
	  .src = CLIENT6, .dst = VIP6 }, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "tcp6 routing", { .family = 6, .proto = P_TCP, .n_ext = 1,
	  .ext = { 43 }, .sport = 1, .dport = 80, .tcp_flags = 2,
	  .src = CLIENT6, .dst = VIP6 }, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp6 dstopts", { .family = 6, .proto = P_UDP, .n_ext = 1,
	  .ext = { 60 }, .sport = 1, .dport = 53, .payload = 9,
	  .src = CLIENT6, .dst = VIP6 }, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp6 all ext", { .family = 6, .proto = P_UDP, .n_ext = 3,
	  .ext = { 0, 43, 60 }, .sport = 1, .dport = 53, .payload = 9,
	  .src = CLIENT6, .dst = VIP6 }, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp6 8 ext", { .family = 6, .proto = P_UDP, .n_ext = 8,
	  .ext = { 0, 60, 60, 60, 43, 43, 60, 60 }, .sport = 1, .dport = 53,
	  .src = CLIENT6, .dst = VIP6 }, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp6 9 ext", { .family = 6, .proto = P_UDP, .n_ext = 9,
	  .ext = { 0, 60, 60, 60, 43, 43, 60, 60, 60 }, .sport = 1,
	  .dport = 53, .src = CLIENT6, .dst = VIP6 },
	  NULL, PKT_ERR_IP_EXT, 0, 0 },
	{ "udp6 ext beyond payload", { .family = 6, .proto = P_UDP, .n_ext = 1,
	  .ext = { 60 }, .sport = 1, .dport = 53, .src = CLIENT6,
	  .dst = VIP6 }, m_ext_len_big, PKT_ERR_IP_EXT, 0, 0 },
	{ "tcp6 routing, segments left (not our packet)", { .family = 6,
	  .proto = P_TCP, .n_ext = 1, .ext = { 43 }, .sport = 1, .dport = 80,
	  .tcp_flags = 2, .src = CLIENT6, .dst = VIP6 }, m_rh_left,
	  PKT_ERR_IP_EXT, 0, 0 },
	{ "udp6 ext 8 bytes beyond payload", { .family = 6, .proto = P_UDP,
	  .n_ext = 1, .ext = { 60 }, .sport = 1, .dport = 53, .src = CLIENT6,
	  .dst = VIP6 }, m_ext_len_edge, PKT_ERR_IP_EXT, 0, 0 },
	{ "tcp4 first fragment", { .family = 4, .proto = P_TCP, .frag = F_FIRST,
	  .sport = 3, .dport = 80, .payload = 64, .src = CLIENT4, .dst = VIP4 },
	  NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp4 first fragment", { .family = 4, .proto = P_UDP, .frag = F_FIRST,
	  .sport = 3, .dport = 53, .payload = 64, .src = CLIENT4, .dst = VIP4 },
	  NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "udp4 later fragment", { .family = 4, .proto = P_UDP, .frag = F_LATER,
	  .sport = 3, .dport = 53, .payload = 64, .src = CLIENT4, .dst = VIP4 },
	  NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "icmp4 later fragment", { .family = 4, .proto = P_ICMP,
	  .frag = F_LATER, .icmp_type = 8, .payload = 64, .src = CLIENT4,
	  .dst = VIP4 }, NULL, PKT_OK, PKT_KIND_OTHER, 0 },
	{ "udp6 first fragment", { .family = 6, .proto = P_UDP, .frag = F_FIRST,
	  .n_ext = 1, .ext = { 60 }, .sport = 3, .dport = 53, .payload = 64,
	  .src = CLIENT6, .dst = VIP6 }, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "tcp6 later fragment", { .family = 6, .proto = P_TCP, .frag = F_LATER,
	  .sport = 3, .dport = 53, .payload = 64, .src = CLIENT6,
	  .dst = VIP6 }, NULL, PKT_OK, PKT_KIND_FLOW, 0 },
	{ "gre4", { .family = 4, .proto = P_GRE, .payload = 24, .src = CLIENT4,
	  .dst = VIP4 }, NULL, PKT_OK, PKT_KIND_OTHER, 0 },
	{ "icmp4 echo", S_ECHO4, NULL, PKT_OK, PKT_KIND_OTHER, 0 },
	{ "icmp6 echo", { .family = 6, .proto = P_ICMPV6, .icmp_type = 128,
	  .payload = 8, .src = CLIENT6, .dst = VIP6 },
	  NULL, PKT_OK, PKT_KIND_OTHER, 0 },
	{ "icmp4 frag needed, tcp quote", { .family = 4, .proto = P_ICMP,
	  .icmp_type = 3, Q(tcp4_back), .quote_len = 28, .src = ROUTER4,
	  .dst = VIP4 }, NULL, PKT_OK, PKT_KIND_ICMP_ERR, 0 },
	{ "icmp4 ttl exceeded, udp quote", { .family = 4, .vlan = 1,
	  .proto = P_ICMP, .icmp_type = 11, Q(udp4_back), .src = ROUTER4,
	  .dst = VIP4 }, NULL, PKT_OK, PKT_KIND_ICMP_ERR, 1 },
	{ "icmp4 param problem, quote of a forwarded packet", { .family = 4,
	  .proto = P_ICMP, .icmp_type = 12, Q(udp4_fwd), .src = BACKEND4,
	  .dst = CLIENT4 }, NULL, PKT_OK, PKT_KIND_ICMP_ERR, 1 },
	{ "icmp6 too big, tcp quote", { .family = 6, .proto = P_ICMPV6,
	  .icmp_type = 2, Q(tcp6_back), .src = ROUTER6, .dst = VIP6 },
	  NULL, PKT_OK, PKT_KIND_ICMP_ERR, 1 },
	{ "icmp6 unreachable, udp quote with ext", { .family = 6,
	  .proto = P_ICMPV6, .icmp_type = 1, Q(udp6_back), .src = ROUTER6,
	  .dst = VIP6 }, NULL, PKT_OK, PKT_KIND_ICMP_ERR, 1 },
	{ "icmp6 time exceeded, quote of a forwarded packet", { .family = 6,
	  .proto = P_ICMPV6, .icmp_type = 3, Q(tcp6_fwd), .quote_len = 48,
	  .src = ROUTER6, .dst = CLIENT6 }, NULL, PKT_OK,
	  PKT_KIND_ICMP_ERR, 0 },
	{ "icmp6 param problem", { .family = 6, .proto = P_ICMPV6,
	  .icmp_type = 4, Q(udp6), .src = VIP6, .dst = CLIENT6 },
	  NULL, PKT_OK, PKT_KIND_ICMP_ERR, 1 },
	{ "ipv6 to an ipv4-mapped address", { .family = 6, .proto = P_TCP,
	  .sport = 40001, .dport = 80, .tcp_flags = 0x02, .src = CLIENT6,
	  .dst = MAPPED4 }, NULL, PKT_ERR_IP_ADDR, 0, 0 },
	{ "ipv6 from an ipv4-mapped address", { .family = 6, .proto = P_UDP,
	  .sport = 5000, .dport = 53, .payload = 8,
	  .src = "::ffff:198.51.100.7", .dst = VIP6 }, NULL,
	  PKT_ERR_IP_ADDR, 0, 0 },
	{ "icmp6 quoting an ipv4-mapped address", { .family = 6,
	  .proto = P_ICMPV6, .icmp_type = 2, Q(tcp6_mapped_back),
	  .src = ROUTER6, .dst = VIP6 }, NULL, PKT_ERR_IP_ADDR, 0, 0 },
	{ "icmp4 quote 7 bytes of l4", { .family = 4, .proto = P_ICMP,
	  .icmp_type = 3, Q(tcp4_back), .quote_len = 27, .src = ROUTER4,
	  .dst = VIP4 }, NULL, PKT_ERR_ICMP, 0, 0 },
	{ "icmp4 quote of an echo", { .family = 4, .proto = P_ICMP,
	  .icmp_type = 3, Q(echo4), .src = ROUTER4, .dst = VIP4 },
	  NULL, PKT_ERR_ICMP, 0, 0 },
	{ "icmp4 quote of a later fragment", { .family = 4, .proto = P_ICMP,
	  .icmp_type = 11, Q(later4), .src = ROUTER4, .dst = VIP4 },
	  NULL, PKT_ERR_ICMP, 0, 0 },
	{ "icmp4 quote of ipv6", { .family = 4, .proto = P_ICMP,
	  .icmp_type = 3, Q(udp6), .src = ROUTER4, .dst = VIP4 },
	  NULL, PKT_ERR_ICMP, 0, 0 },
	{ "icmp6 quote 47 bytes", { .family = 6, .proto = P_ICMPV6,
	  .icmp_type = 1, Q(tcp6_back), .quote_len = 47, .src = ROUTER6,
	  .dst = VIP6 }, NULL, PKT_ERR_ICMP, 0, 0 },
	{ "icmp4 7 bytes", S_ECHO4, m_icmp_7, PKT_ERR_TRUNC, 0, 0 },
	{ "arp request", { .family = 0, .arp_op = 1, .src = CLIENT4,
	  .dst = VIP4 }, NULL, PKT_OK, PKT_KIND_ARP, 0 },
	{ "arp reply vlan", { .family = 0, .vlan = 1, .arp_op = 2,
	  .src = CLIENT4, .dst = VIP4 }, NULL, PKT_OK, PKT_KIND_ARP, 0 },
	{ "ns", { .family = 6, .proto = P_ICMPV6, .icmp_type = 135,
	  .nd_opt = 1, .src = CLIENT6, .dst = "ff02::1:ff00:10",
	  .target = VIP6 }, NULL, PKT_OK, PKT_KIND_ND, 0 },
	{ "na", { .family = 6, .proto = P_ICMPV6, .icmp_type = 136,
	  .nd_opt = 2, .src = CLIENT6, .dst = VIP6, .target = CLIENT6 },
	  NULL, PKT_OK, PKT_KIND_ND, 0 },
	{ "ns 23 bytes", { .family = 6, .proto = P_ICMPV6, .icmp_type = 135,
	  .src = CLIENT6, .dst = VIP6, .target = VIP6 }, m_nd_23,
	  PKT_ERR_TRUNC, 0, 0 },
	/* lying lengths and refusals */
	{ "eth 13 bytes", S_TCP4, m_eth_short, PKT_ERR_TRUNC, 0, 0 },
	{ "vlan 17 bytes", { .family = 4, .vlan = 1, .proto = P_TCP,
	  .src = CLIENT4, .dst = VIP4 }, m_vlan_short, PKT_ERR_TRUNC, 0, 0 },
	{ "ipv4 19 bytes", S_TCP4, m_ip4_short, PKT_ERR_TRUNC, 0, 0 },
	{ "ipv4 total length > frame", S_TCP4, m_ip4_totlen_big,
	  PKT_ERR_IP_LEN, 0, 0 },
	{ "ipv4 ihl > total length", S_TCP4, m_ip4_ihl_gt_tot,
	  PKT_ERR_IP_HLEN, 0, 0 },
	{ "ipv4 ihl 4", S_TCP4, m_ip4_ihl_small, PKT_ERR_IP_HLEN, 0, 0 },
	{ "ipv4 version 6", S_TCP4, m_ip4_ver, PKT_ERR_IP_VER, 0, 0 },
	{ "ipv6 version 4", S_TCP6, m_ip6_ver, PKT_ERR_IP_VER, 0, 0 },
	{ "ipv6 payload length > frame", S_TCP6, m_ip6_plen_big,
	  PKT_ERR_IP_LEN, 0, 0 },
	{ "tcp data offset beyond payload", S_TCP4, m_tcp_doff_big,
	  PKT_ERR_L4, 0, 0 },
	{ "tcp data offset 4", S_TCP6, m_tcp_doff_small, PKT_ERR_L4, 0, 0 },
	{ "tcp 19 bytes", S_TCP4, m_tcp_19, PKT_ERR_TRUNC, 0, 0 },
	{ "udp length 7", S_UDP4, m_udp_len_small, PKT_ERR_L4, 0, 0 },
	{ "udp length > payload", S_UDP6, m_udp_len_big, PKT_ERR_L4, 0, 0 },
	{ "udp 7 bytes", S_UDP6, m_udp_7, PKT_ERR_TRUNC, 0, 0 },
	{ "qinq 88a8", S_TCP4, m_qinq, PKT_ERR_L2, 0, 0 },
	{ "two 8100 tags", { .family = 4, .vlan = 1, .proto = P_TCP,
	  .src = CLIENT4, .dst = VIP4 }, m_vlan2, PKT_ERR_L2, 0, 0 },
	{ "lldp", S_TCP4, m_etype, PKT_ERR_L2, 0, 0 },
	{ "arp htype 6", { .arp_op = 1, .src = CLIENT4, .dst = VIP4 },
	  m_arp_htype, PKT_ERR_ARP, 0, 0 },
	{ "arp ptype ipv6", { .arp_op = 1, .src = CLIENT4, .dst = VIP4 },
	  m_arp_ptype, PKT_ERR_ARP, 0, 0 },
	{ "arp hlen 8", { .arp_op = 1, .src = CLIENT4, .dst = VIP4 },
	  m_arp_hlen, PKT_ERR_ARP, 0, 0 },
	{ "arp op 3", { .arp_op = 1, .src = CLIENT4, .dst = VIP4 },
	  m_arp_op, PKT_ERR_ARP, 0, 0 },
	{ "arp 27 bytes", { .arp_op = 1, .src = CLIENT4, .dst = VIP4 },
	  m_arp_short, PKT_ERR_TRUNC, 0, 0 },
};

#define N_PTESTS (sizeof(ptests) / sizeof(ptests[0]))

static void
ptest_frame(const struct ptest *t, struct built *b)
{
	build(&t->s, b);
	if (t->mutate != NULL)
		t->mutate(b);
}

static void
check_key_addr(const uint8_t k[16], const char *s)
{
	struct halb_ip ip;

	ip_of(s, &ip);
	assert_memory_equal(k, ip.b, 16);
}

static void
check_ok(const struct ptest *t, const struct built *b,
	 const struct pkt_info *pi)
{
	const struct spec *s = &t->s;
	uint16_t port;
	static const uint8_t zero[3];

	assert_int_equal(pi->kind, t->kind);
	assert_int_equal(pi->l3_off, b->l3_off);
	assert_int_equal(pi->has_vlan, s->vlan);
	if (s->vlan)
		assert_int_equal(pi->vlan_tci, 0x6064);
	assert_memory_equal(pi->key.pad, zero, 3);
	if (s->family == 0) {
		assert_int_equal(pi->family, 0);
		assert_int_equal(pi->l3_len, 28);
		return;
	}
	assert_int_equal(pi->family, s->family);
	assert_int_equal(pi->l3_len, b->l3_len);
	assert_int_equal(pi->l4_off, b->l4_off);
	assert_int_equal(pi->frag, s->frag == F_NONE ? PKT_FRAG_NONE :
				   s->frag == F_FIRST ? PKT_FRAG_FIRST :
							PKT_FRAG_LATER);
	if (s->frag != F_NONE)
		assert_int_equal(pi->frag_id,
				 s->family == 4 ? 0x1234 : 0x12345678);
	if (pi->kind == PKT_KIND_ICMP_ERR) {
		const struct spec *q = s->quote;

		assert_int_equal(pi->l4_proto, s->proto);
		assert_int_equal(pi->inner_l3_off, b->in3);
		assert_int_equal(pi->inner_l4_off, b->in4);
		check_key_addr(pi->key.src, q->dst);
		check_key_addr(pi->key.dst, q->src);
		assert_int_equal(pi->key.proto, q->proto);
		memcpy(&port, &pi->key.sport, 2);
		assert_int_equal(r16((uint8_t *)&port), q->dport);
		memcpy(&port, &pi->key.dport, 2);
		assert_int_equal(r16((uint8_t *)&port), q->sport);
		return;
	}
	check_key_addr(pi->key.src, s->src);
	check_key_addr(pi->key.dst, s->dst);
	assert_int_equal(pi->key.proto, s->proto);
	assert_int_equal(pi->l4_proto, s->proto);
	if (pi->kind == PKT_KIND_FLOW && s->frag != F_LATER) {
		memcpy(&port, &pi->key.sport, 2);
		assert_int_equal(r16((uint8_t *)&port), s->sport);
		memcpy(&port, &pi->key.dport, 2);
		assert_int_equal(r16((uint8_t *)&port), s->dport);
		assert_int_equal(pi->tcp_flags,
				 s->proto == P_TCP ? s->tcp_flags : 0);
	} else {
		assert_int_equal(pi->key.sport, 0);
		assert_int_equal(pi->key.dport, 0);
	}
}

static void
test_parse_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N_PTESTS; i++) {
		const struct ptest *t = &ptests[i];
		struct pkt_info pi;
		struct built b;
		enum pkt_verdict v;

		ptest_frame(t, &b);
		v = pkt_parse(b.b, b.len, &pi);
		if (v != t->verdict)
			fail_msg("%s: verdict %s, expected %s", t->what,
				 pkt_verdict_name(v),
				 pkt_verdict_name(t->verdict));
		if (v == PKT_OK) {
			check_ok(t, &b, &pi);
			verify_csums(b.b, b.len, t->full_quote);
		}
	}
}

/* Every prefix of every frame, in an exactly sized heap buffer (ASan). */
static void
test_parse_truncated(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N_PTESTS; i++) {
		struct built b;
		uint32_t cut;

		ptest_frame(&ptests[i], &b);
		for (cut = 0; cut <= b.len; cut++) {
			uint8_t *f = malloc(cut ? cut : 1);
			struct pkt_info pi;

			assert_non_null(f);
			memcpy(f, b.b, cut);
			if (pkt_parse(f, cut, &pi) == PKT_OK) {
				assert_true((uint32_t)pi.l3_off + pi.l3_len <= cut);
				assert_true(pi.l4_off < cut);
				assert_true(pi.inner_l4_off < cut);
			}
			free(f);
		}
	}
}

static void
test_verdict_names(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < PKT_VERDICT_MAX; i++) {
		const char *n = pkt_verdict_name((enum pkt_verdict)i);

		assert_non_null(n);
		assert_string_not_equal(n, "unknown");
		for (j = 0; j < i; j++)
			assert_string_not_equal(n, pkt_verdict_name(
							   (enum pkt_verdict)j));
	}
	assert_string_equal(pkt_verdict_name(PKT_OK), "ok");
	assert_string_equal(pkt_verdict_name(PKT_ERR_TRUNC), "trunc");
	assert_string_equal(pkt_verdict_name(PKT_VERDICT_MAX), "unknown");
	assert_string_equal(pkt_verdict_name((enum pkt_verdict)-1), "unknown");
}

/* ---- NAT ----------------------------------------------------------- */

struct nat_case {
	const char *what;
	struct spec s;
	const char *to;
	uint16_t port;
};

static const struct nat_case nat_cases[] = {
	{ "tcp4", S_TCP4, BACKEND4, 8080 },
	{ "tcp4 keep port", S_TCP4, BACKEND4, 0 },
	{ "udp4", S_UDP4, BACKEND4, 8053 },
	{ "udp4 no checksum", { .family = 4, .proto = P_UDP, .sport = 9,
	  .dport = 10, .udp_nocsum = 1, .payload = 5, .src = CLIENT4,
	  .dst = VIP4 }, BACKEND4, 99 },
	{ "tcp4 vlan options padding", { .family = 4, .vlan = 1, .proto = P_TCP,
	  .ip4_opt = 3, .sport = 1234, .dport = 80, .tcp_flags = 0x10,
	  .payload = 33, .eth_pad = 5, .src = CLIENT4, .dst = VIP4 },
	  BACKEND4, 8080 },
	{ "tcp6", S_TCP6, BACKEND6, 8443 },
	{ "udp6 ext", { .family = 6, .proto = P_UDP, .n_ext = 3,
	  .ext = { 0, 43, 60 }, .sport = 1, .dport = 53, .payload = 9,
	  .src = CLIENT6, .dst = VIP6 }, BACKEND6, 5353 },
	{ "udp4 first fragment", { .family = 4, .proto = P_UDP, .frag = F_FIRST,
	  .sport = 3, .dport = 53, .payload = 64, .src = CLIENT4, .dst = VIP4 },
	  BACKEND4, 8053 },
	{ "tcp6 first fragment", { .family = 6, .proto = P_TCP, .frag = F_FIRST,
	  .sport = 3, .dport = 80, .payload = 64, .src = CLIENT6, .dst = VIP6 },
	  BACKEND6, 8080 },
	{ "udp4 later fragment", { .family = 4, .proto = P_UDP, .frag = F_LATER,
	  .payload = 64, .src = CLIENT4, .dst = VIP4 }, BACKEND4, 8053 },
	{ "tcp6 later fragment", { .family = 6, .proto = P_TCP, .frag = F_LATER,
	  .payload = 64, .src = CLIENT6, .dst = VIP6 }, BACKEND6, 8053 },
};

/* The spec with source and destination swapped: the backend's reply. */
static struct spec
reversed(const struct spec *s, const char *backend)
{
	struct spec r = *s;

	r.src = backend;
	r.dst = s->src;
	r.sport = s->dport;
	r.dport = s->sport;
	return r;
}

static void
check_port(uint16_t net, uint16_t want)
{
	assert_int_equal(r16((const uint8_t *)&net), want);
}

static void
test_nat_flow(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nat_cases) / sizeof(nat_cases[0]); i++) {
		const struct nat_case *c = &nat_cases[i];
		struct pkt_info pi, pi2;
		struct halb_ip to, vip;
		struct built b, orig;
		struct spec r;

		/* client -> VIP becomes client -> backend */
		build(&c->s, &b);
		orig = b;
		assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
		ip_of(c->to, &to);
		assert_int_equal(pkt_rw_nat_fwd(b.b, b.len, &pi, &to, c->port), 0);
		verify_csums(b.b, b.len, 0);
		assert_int_equal(pkt_parse(b.b, b.len, &pi2), PKT_OK);
		assert_memory_equal(pi2.key.dst, to.b, 16);
		assert_memory_equal(pi2.key.src, pi.key.src, 16);
		assert_int_equal(pi2.key.sport, pi.key.sport);
		if (c->port != 0 && c->s.frag != F_LATER)
			check_port(pi2.key.dport, c->port);
		else
			assert_int_equal(pi2.key.dport, pi.key.dport);
		if (c->s.udp_nocsum)
			assert_int_equal(r16(b.b + pi.l4_off + 6), 0);
		/* Ethernet and payload untouched. */
		assert_memory_equal(b.b, orig.b, pi.l3_off);
		if (c->s.frag != F_LATER) {
			uint32_t from = pi.l4_off + (c->s.proto == P_TCP ? 18 : 8);

			assert_memory_equal(b.b + from, orig.b + from,
					    b.len - from);
		}

		/* backend -> client becomes VIP -> client */
		r = reversed(&c->s, c->to);
		if (c->port != 0) {
			r.sport = c->port;
		}
		build(&r, &b);
		assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
		ip_of(c->s.dst, &vip);
		assert_int_equal(pkt_rw_nat_rev(b.b, b.len, &pi, &vip,
						c->port ? c->s.dport : 0), 0);
		verify_csums(b.b, b.len, 0);
		assert_int_equal(pkt_parse(b.b, b.len, &pi2), PKT_OK);
		assert_memory_equal(pi2.key.src, vip.b, 16);
		assert_memory_equal(pi2.key.dst, pi.key.dst, 16);
		if (c->s.frag != F_LATER)
			check_port(pi2.key.sport, c->s.dport);
		assert_int_equal(pi2.key.dport, pi.key.dport);
	}
}

static void
test_nat_refuses(void **state)
{
	struct pkt_info pi;
	struct halb_ip b4, b6;
	struct built b;
	struct spec arp = { .arp_op = 1, .src = CLIENT4, .dst = VIP4 };

	(void)state;
	ip_of(BACKEND4, &b4);
	ip_of(BACKEND6, &b6);
	build(&tcp4, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_rw_nat_fwd(b.b, b.len, &pi, &b6, 1), -EINVAL);
	assert_int_equal(pkt_rw_nat_rev(b.b, b.len, &pi, &b6, 1), -EINVAL);
	assert_int_equal(pkt_rw_nat_fwd(b.b, b.len - 1, &pi, &b4, 1), -EINVAL);
	build(&tcp6, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_rw_nat_fwd(b.b, b.len, &pi, &b4, 1), -EINVAL);
	build(&arp, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_rw_nat_fwd(b.b, b.len, &pi, &b4, 1), -EINVAL);
	build(&echo4, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_rw_nat_rev(b.b, b.len, &pi, &b4, 1), -EINVAL);
}

/* UDP whose checksum after the rewrite would be 0 is sent as 0xffff. */
static void
test_nat_udp_csum_ffff(void **state)
{
	struct pkt_info pi;
	struct halb_ip to;
	struct built b;
	uint8_t *l3, *l4;
	uint32_t s, n, want;
	uint16_t c;

	(void)state;
	build(&udp4, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	l3 = b.b + pi.l3_off;
	l4 = b.b + pi.l4_off;
	n = b.len - pi.l4_off;
	ip_of(BACKEND4, &to);
	/*
	 * Choose the first payload word so that the rewritten datagram sums
	 * to 0xffff without its checksum: its checksum is then 0, sent as
	 * 0xffff.
	 */
	memcpy(l3 + 16, to.b + 12, 4);
	w16(l4 + 2, 8053);
	w16(l4 + 6, 0);
	w16(l4 + 8, 0);
	s = ref_sum(l4, n, ref_pseudo(l3, 4, P_UDP, n));
	want = 0xffff - s;
	/* The original datagram with that word and a valid checksum. */
	build(&udp4, &b);
	w16(l4 + 8, want);
	w16(l4 + 6, 0);
	c = (uint16_t)~ref_sum(l4, n, ref_pseudo(l3, 4, P_UDP, n));
	w16(l4 + 6, c == 0 ? 0xffff : c);
	verify_csums(b.b, b.len, 0);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_rw_nat_fwd(b.b, b.len, &pi, &to, 8053), 0);
	assert_int_equal(r16(l4 + 6), 0xffff);
	verify_csums(b.b, b.len, 0);
}

struct icmp_nat_case {
	const char *what;
	struct spec s;
	int fwd;
	const char *to;
	uint16_t port;
	int full_quote;
	int outer_src_rewritten; /* reverse: the backend itself reported */
};

static const struct icmp_nat_case icmp_cases[] = {
	{ "v4 frag needed, tcp quote 8 bytes", { .family = 4, .proto = P_ICMP,
	  .icmp_type = 3, Q(tcp4_back), .quote_len = 28, .src = ROUTER4,
	  .dst = VIP4 }, 1, BACKEND4, 8080, 0, 0 },
	{ "v4 ttl exceeded, whole udp quote, vlan", { .family = 4, .vlan = 1,
	  .proto = P_ICMP, .icmp_type = 11, Q(udp4_back), .src = ROUTER4,
	  .dst = VIP4 }, 1, BACKEND4, 8053, 1, 0 },
	{ "v4 whole tcp quote, keep port", { .family = 4, .proto = P_ICMP,
	  .icmp_type = 3, Q(tcp4_back), .src = ROUTER4, .dst = VIP4 },
	  1, BACKEND4, 0, 1, 0 },
	{ "v6 too big, whole tcp quote", { .family = 6, .proto = P_ICMPV6,
	  .icmp_type = 2, Q(tcp6_back), .src = ROUTER6, .dst = VIP6 },
	  1, BACKEND6, 8443, 1, 0 },
	{ "v6 unreachable, udp quote with ext", { .family = 6,
	  .proto = P_ICMPV6, .icmp_type = 1, Q(udp6_back), .src = ROUTER6,
	  .dst = VIP6 }, 1, BACKEND6, 4501, 1, 0 },
	{ "v4 reverse, from the backend", { .family = 4, .proto = P_ICMP,
	  .icmp_type = 3, Q(udp4_fwd), .src = BACKEND4, .dst = CLIENT4 },
	  0, VIP4, 53, 1, 1 },
	{ "v6 reverse, from a router", { .family = 6, .proto = P_ICMPV6,
	  .icmp_type = 3, Q(tcp6_fwd), .quote_len = 48, .src = ROUTER6,
	  .dst = CLIENT6 }, 0, VIP6, 443, 0, 0 },
	{ "v6 reverse, from the backend, whole quote", { .family = 6,
	  .proto = P_ICMPV6, .icmp_type = 1, Q(tcp6_fwd), .src = BACKEND6,
	  .dst = CLIENT6 }, 0, VIP6, 443, 1, 1 },
};

static void
test_nat_icmp(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(icmp_cases) / sizeof(icmp_cases[0]); i++) {
		const struct icmp_nat_case *c = &icmp_cases[i];
		const struct spec *q = c->s.quote;
		struct pkt_info pi, pi2;
		struct halb_ip to, outer_src, outer_dst;
		struct built b;
		const uint8_t *l3;
		int rc;

		build(&c->s, &b);
		assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
		assert_int_equal(pi.kind, PKT_KIND_ICMP_ERR);
		ip_of(c->to, &to);
		ip_of(c->s.src, &outer_src);
		ip_of(c->s.dst, &outer_dst);
		if (c->fwd)
			rc = pkt_rw_nat_fwd(b.b, b.len, &pi, &to, c->port);
		else
			rc = pkt_rw_nat_rev(b.b, b.len, &pi, &to, c->port);
		assert_int_equal(rc, 0);
		verify_csums(b.b, b.len, c->full_quote);
		assert_int_equal(pkt_parse(b.b, b.len, &pi2), PKT_OK);
		assert_int_equal(pi2.kind, PKT_KIND_ICMP_ERR);
		l3 = b.b + pi2.l3_off;
		if (c->fwd) {
			/* key.dst is the quoted source */
			assert_memory_equal(pi2.key.dst, to.b, 16);
			assert_memory_equal(pi2.key.src, pi.key.src, 16);
			check_port(pi2.key.dport, c->port ? c->port : q->sport);
			assert_int_equal(pi2.key.sport, pi.key.sport);
			if (c->s.family == 4) {
				assert_memory_equal(l3 + 16, to.b + 12, 4);
				assert_memory_equal(l3 + 12, outer_src.b + 12, 4);
			} else {
				assert_memory_equal(l3 + 24, to.b, 16);
				assert_memory_equal(l3 + 8, outer_src.b, 16);
			}
		} else {
			const struct halb_ip *src =
				c->outer_src_rewritten ? &to : &outer_src;

			assert_memory_equal(pi2.key.src, to.b, 16);
			assert_memory_equal(pi2.key.dst, pi.key.dst, 16);
			check_port(pi2.key.sport, c->port);
			assert_int_equal(pi2.key.dport, pi.key.dport);
			if (c->s.family == 4) {
				assert_memory_equal(l3 + 12, src->b + 12, 4);
				assert_memory_equal(l3 + 16, outer_dst.b + 12, 4);
			} else {
				assert_memory_equal(l3 + 8, src->b, 16);
				assert_memory_equal(l3 + 24, outer_dst.b, 16);
			}
		}
	}
}

/* ---- DSR and VXLAN ------------------------------------------------- */

static void
test_dsr(void **state)
{
	struct pkt_info pi;
	struct built b, orig;

	(void)state;
	build(&tcp6, &b);
	orig = b;
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	pkt_rw_dsr(b.b, mac_us, mac_new);
	assert_memory_equal(b.b, mac_new, 6);
	assert_memory_equal(b.b + 6, mac_us, 6);
	assert_memory_equal(b.b + 12, orig.b + 12, b.len - 12);
}

static void
vxlan_case(const char *src, const char *dst, const struct spec *inner,
	   uint32_t entropy)
{
	uint8_t buf[2048];
	struct pkt_vxlan t;
	struct pkt_info pi;
	struct built in;
	uint32_t hl, want_hl, iphl, ulen;
	uint8_t *ip, *udp;
	int v4;

	memset(&t, 0, sizeof(t));
	memcpy(t.src_mac, mac_us, 6);
	memcpy(t.dst_mac, mac_peer, 6);
	ip_of(src, &t.src);
	ip_of(dst, &t.dst);
	t.dst_port = PKT_VXLAN_PORT;
	t.vni = 0xabcdef;
	memcpy(t.inner_dst_mac, mac_new, 6);
	v4 = halb_ip_is_v4(&t.dst);
	want_hl = v4 ? PKT_VXLAN_HDR_V4 : PKT_VXLAN_HDR_V6;
	iphl = v4 ? 20 : 40;

	build(inner, &in);
	memset(buf, 0x5a, sizeof(buf));
	memcpy(buf + want_hl, in.b, in.len);
	hl = pkt_vxlan_encap(buf, in.len, &t, entropy);
	assert_int_equal(hl, want_hl);
	/* outer Ethernet */
	assert_memory_equal(buf, mac_peer, 6);
	assert_memory_equal(buf + 6, mac_us, 6);
	assert_int_equal(r16(buf + 12), v4 ? 0x0800 : 0x86dd);
	ip = buf + 14;
	udp = ip + iphl;
	ulen = 16 + in.len;
	if (v4) {
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(r16(ip + 2), 20 + ulen);
		assert_int_equal(r16(ip + 4), 0);
		assert_int_equal(r16(ip + 6), 0x4000);
		assert_int_equal(ip[8], 64);
		assert_int_equal(ip[9], P_UDP);
		assert_int_equal(ref_sum(ip, 20, 0), 0xffff);
		assert_memory_equal(ip + 12, t.src.b + 12, 4);
		assert_memory_equal(ip + 16, t.dst.b + 12, 4);
		assert_int_equal(r16(udp + 6), 0);
	} else {
		assert_int_equal(ip[0], 0x60);
		assert_int_equal(r16(ip + 4), ulen);
		assert_int_equal(ip[6], P_UDP);
		assert_int_equal(ip[7], 64);
		assert_memory_equal(ip + 8, t.src.b, 16);
		assert_memory_equal(ip + 24, t.dst.b, 16);
		assert_int_not_equal(r16(udp + 6), 0);
		assert_int_equal(ref_sum(udp, ulen,
					 ref_pseudo(ip, 6, P_UDP, ulen)),
				 0xffff);
	}
	assert_int_equal(r16(udp), 49152 + entropy % 16384);
	assert_int_equal(r16(udp + 2), PKT_VXLAN_PORT);
	assert_int_equal(r16(udp + 4), ulen);
	assert_int_equal(udp[8], 0x08);
	assert_int_equal(udp[9] | udp[10] | udp[11], 0);
	assert_int_equal(udp[12], 0xab);
	assert_int_equal(udp[13], 0xcd);
	assert_int_equal(udp[14], 0xef);
	assert_int_equal(udp[15], 0);
	/* inner: new MACs, the rest as it was */
	assert_memory_equal(buf + hl, mac_new, 6);
	assert_memory_equal(buf + hl + 6, mac_us, 6);
	assert_memory_equal(buf + hl + 12, in.b + 12, in.len - 12);
	/* The outer frame parses as a UDP flow to the VXLAN port. */
	assert_int_equal(pkt_parse(buf, hl + in.len, &pi), PKT_OK);
	assert_int_equal(pi.kind, PKT_KIND_FLOW);
	assert_int_equal(pi.l4_proto, P_UDP);
	check_port(pi.key.dport, PKT_VXLAN_PORT);
	verify_csums(buf, hl + in.len, 0);
	assert_int_equal(pkt_parse(buf + hl, in.len, &pi), PKT_OK);
}

static void
test_vxlan(void **state)
{
	(void)state;
	vxlan_case("192.0.2.100", "10.1.0.5", &tcp4, 12345);
	vxlan_case("192.0.2.100", "10.1.0.5", &tcp6, 0xffffffffu);
	vxlan_case("2001:db8:9::1", "fd00:1::5", &tcp6, 0);
	vxlan_case("2001:db8:9::1", "fd00:1::5", &udp4, 16383);
	/* odd inner length: the v6 checksum's padding byte */
	vxlan_case("2001:db8:9::1", "fd00:1::5", &udp6, 7);
}

/*
 * IPv6 outer UDP checksum offloaded to the device (t.udp6_csum_ol; the
 * forwarder sets it on ports whose device has it): everything as in
 * software but the checksum field, which holds the pseudo-header sum;
 * a device summing the datagram from there (and complementing, 0 sent
 * as 0xffff) gets the software checksum.
 */
static void
vxlan_ol_case(const struct spec *inner)
{
	uint8_t sw[2048], hw[2048];
	struct pkt_vxlan t;
	struct built in;
	uint32_t hl = PKT_VXLAN_HDR_V6, ulen;
	uint16_t dev;
	uint8_t *udp;

	memset(&t, 0, sizeof(t));
	memcpy(t.src_mac, mac_us, 6);
	memcpy(t.dst_mac, mac_peer, 6);
	ip_of("2001:db8:9::1", &t.src);
	ip_of("fd00:1::5", &t.dst);
	t.dst_port = PKT_VXLAN_PORT;
	t.vni = 42;
	memcpy(t.inner_dst_mac, mac_new, 6);
	build(inner, &in);
	memcpy(sw + hl, in.b, in.len);
	memcpy(hw + hl, in.b, in.len);
	assert_int_equal(pkt_vxlan_encap(sw, in.len, &t, 99), hl);
	t.udp6_csum_ol = true;
	assert_int_equal(pkt_vxlan_encap(hw, in.len, &t, 99), hl);
	udp = hw + 14 + 40;
	ulen = 16 + in.len;
	assert_memory_equal(hw, sw, 14 + 40 + 6);
	assert_memory_equal(hw + 14 + 40 + 8, sw + 14 + 40 + 8, ulen - 8);
	assert_int_equal(r16(udp + 6),
			 ref_sum(udp, 0, ref_pseudo(hw + 14, 6, P_UDP, ulen)));
	/* What the device does. */
	dev = (uint16_t)~ref_sum(udp, ulen, 0);
	assert_int_equal(dev == 0 ? 0xffff : dev, r16(sw + 14 + 40 + 6));
}

static void
test_vxlan_csum_offload(void **state)
{
	(void)state;
	vxlan_ol_case(&tcp6);
	vxlan_ol_case(&udp4);
	vxlan_ol_case(&udp6); /* odd length */
}

static void
test_vxlan_refuses(void **state)
{
	uint8_t buf[128];
	struct pkt_vxlan t;

	(void)state;
	memset(&t, 0, sizeof(t));
	ip_of("192.0.2.100", &t.src);
	ip_of("fd00:1::5", &t.dst);
	assert_int_equal(pkt_vxlan_encap(buf, 60, &t, 0), 0);
	ip_of("2001:db8::1", &t.src);
	assert_int_equal(pkt_vxlan_encap(buf, 65535, &t, 0), 0);
}

/* ---- ARP and ND ---------------------------------------------------- */

static void
test_arp_reply(void **state)
{
	static const struct spec req = { .arp_op = 1, .src = CLIENT4,
					 .dst = VIP4 };
	static const struct spec req_vlan = { .vlan = 1, .arp_op = 1,
					      .src = CLIENT4, .dst = VIP4 };
	static const struct spec rep = { .arp_op = 2, .src = CLIENT4,
					 .dst = VIP4 };
	struct halb_ip vip, other, cl;
	struct pkt_info pi;
	struct built b;
	uint8_t *a;
	uint32_t n;

	(void)state;
	ip_of(VIP4, &vip);
	ip_of(BACKEND4, &other);
	ip_of(CLIENT4, &cl);

	build(&req, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_arp_reply(b.b, 64, &pi, mac_us, &other), 0);
	assert_int_equal(pkt_arp_reply(b.b, 59, &pi, mac_us, &vip), 0);
	n = pkt_arp_reply(b.b, 64, &pi, mac_us, &vip);
	assert_int_equal(n, 60);
	assert_memory_equal(b.b, mac_peer, 6);
	assert_memory_equal(b.b + 6, mac_us, 6);
	a = b.b + 14;
	assert_int_equal(r16(a + 6), 2);
	assert_memory_equal(a + 8, mac_us, 6);
	assert_memory_equal(a + 14, vip.b + 12, 4);
	assert_memory_equal(a + 18, mac_peer, 6);
	assert_memory_equal(a + 24, cl.b + 12, 4);
	assert_int_equal(pkt_parse(b.b, n, &pi), PKT_OK);
	assert_int_equal(pi.kind, PKT_KIND_ARP);
	/* a reply is not answered */
	assert_int_equal(pkt_arp_reply(b.b, 64, &pi, mac_us, &vip), 0);

	build(&req_vlan, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	n = pkt_arp_reply(b.b, 64, &pi, mac_us, &vip);
	assert_int_equal(n, 60);
	assert_int_equal(r16(b.b + 12), 0x8100);
	assert_int_equal(r16(b.b + 16), 0x0806);
	assert_int_equal(r16(b.b + 18 + 6), 2);
	assert_int_equal(b.b[59], 0);

	build(&rep, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_arp_reply(b.b, 64, &pi, mac_us, &vip), 0);
	/* not an ARP packet at all */
	build(&tcp4, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_arp_reply(b.b, sizeof(b.b), &pi, mac_us, &vip), 0);
}

static void
check_na(const uint8_t *f, uint32_t n, uint32_t l3off, const char *dst,
	 const uint8_t edst[6], uint8_t flags)
{
	struct halb_ip vip, d;
	struct pkt_info pi;
	const uint8_t *l3 = f + l3off, *ic = l3 + 40;

	ip_of(VIP6, &vip);
	ip_of(dst, &d);
	assert_int_equal(n, l3off + 40 + 32);
	assert_memory_equal(f, edst, 6);
	assert_memory_equal(f + 6, mac_us, 6);
	assert_int_equal(l3[0], 0x60);
	assert_int_equal(r16(l3 + 4), 32);
	assert_int_equal(l3[6], P_ICMPV6);
	assert_int_equal(l3[7], 255);
	assert_memory_equal(l3 + 8, vip.b, 16);
	assert_memory_equal(l3 + 24, d.b, 16);
	assert_int_equal(ic[0], 136);
	assert_int_equal(ic[1], 0);
	assert_int_equal(ic[4], flags);
	assert_int_equal(ic[5] | ic[6] | ic[7], 0);
	assert_memory_equal(ic + 8, vip.b, 16);
	assert_int_equal(ic[24], 2);
	assert_int_equal(ic[25], 1);
	assert_memory_equal(ic + 26, mac_us, 6);
	assert_int_equal(ref_sum(ic, 32, ref_pseudo(l3, 6, P_ICMPV6, 32)),
			 0xffff);
	assert_int_equal(pkt_parse(f, n, &pi), PKT_OK);
	assert_int_equal(pi.kind, PKT_KIND_ND);
	verify_csums(f, n, 0);
}

static void
test_nd_advert(void **state)
{
	static const struct spec ns = { .family = 6, .proto = P_ICMPV6,
		.icmp_type = 135, .nd_opt = 1, .src = CLIENT6,
		.dst = "ff02::1:ff00:10", .target = VIP6 };
	static const struct spec ns_dad = { .family = 6, .vlan = 1,
		.proto = P_ICMPV6, .icmp_type = 135, .src = "::",
		.dst = "ff02::1:ff00:10", .target = VIP6 };
	static const struct spec ns_ext = { .family = 6, .proto = P_ICMPV6,
		.n_ext = 1, .ext = { 0 }, .icmp_type = 135, .nd_opt = 1,
		.src = CLIENT6, .dst = "ff02::1:ff00:10", .target = VIP6 };
	static const struct spec na = { .family = 6, .proto = P_ICMPV6,
		.icmp_type = 136, .nd_opt = 2, .src = CLIENT6, .dst = VIP6,
		.target = VIP6 };
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct halb_ip vip, other;
	struct pkt_info pi;
	struct built b;
	uint32_t n;

	(void)state;
	ip_of(VIP6, &vip);
	ip_of(BACKEND6, &other);
	build(&ns, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_nd_advert(b.b, sizeof(b.b), &pi, mac_us, &other), 0);
	assert_int_equal(pkt_nd_advert(b.b, 85, &pi, mac_us, &vip), 0);
	n = pkt_nd_advert(b.b, 86, &pi, mac_us, &vip);
	check_na(b.b, n, 14, CLIENT6, mac_peer, 0x60);

	build(&ns_dad, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	n = pkt_nd_advert(b.b, sizeof(b.b), &pi, mac_us, &vip);
	check_na(b.b, n, 18, "ff02::1", all_nodes_mac, 0x20);

	build(&ns_ext, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	n = pkt_nd_advert(b.b, sizeof(b.b), &pi, mac_us, &vip);
	check_na(b.b, n, 14, CLIENT6, mac_peer, 0x60);

	build(&na, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_nd_advert(b.b, sizeof(b.b), &pi, mac_us, &vip), 0);
	build(&tcp6, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_nd_advert(b.b, sizeof(b.b), &pi, mac_us, &vip), 0);
}

static void
test_requests(void **state)
{
	struct halb_ip ip4, t4, ip6, t6, got, zero6;
	uint8_t buf[128], mac[6];
	struct pkt_info pi;
	uint32_t n;

	(void)state;
	ip_of(VIP4, &ip4);
	ip_of(BACKEND4, &t4);
	ip_of(VIP6, &ip6);
	ip_of("fd00::12:3456", &t6);
	memset(&zero6, 0, sizeof(zero6));

	memset(buf, 0xee, sizeof(buf));
	n = pkt_arp_request(buf, mac_us, &ip4, &t4);
	assert_int_equal(n, 60);
	assert_int_equal(pkt_parse(buf, n, &pi), PKT_OK);
	assert_int_equal(pi.kind, PKT_KIND_ARP);
	assert_memory_equal(buf, "\xff\xff\xff\xff\xff\xff", 6);
	assert_memory_equal(buf + 6, mac_us, 6);
	assert_int_equal(r16(buf + 14 + 6), 1);
	assert_int_equal(buf[59], 0);
	assert_int_equal(pkt_neigh_asks_for(buf, n, &pi, &got), 1);
	assert_memory_equal(got.b, t4.b, 16);
	assert_int_equal(pkt_neigh_binding(buf, n, &pi, &got, mac), 0);
	assert_memory_equal(got.b, ip4.b, 16);
	assert_memory_equal(mac, mac_us, 6);

	n = pkt_nd_solicit(buf, mac_us, &ip6, &t6);
	assert_int_equal(n, 86);
	assert_int_equal(pkt_parse(buf, n, &pi), PKT_OK);
	assert_int_equal(pi.kind, PKT_KIND_ND);
	verify_csums(buf, n, 0);
	assert_memory_equal(buf, "\x33\x33\xff\x12\x34\x56", 6);
	assert_memory_equal(buf + 6, mac_us, 6);
	assert_memory_equal(buf + 14 + 24,
			    "\xff\x02\0\0\0\0\0\0\0\0\0\x01\xff\x12\x34\x56", 16);
	assert_int_equal(buf[14 + 7], 255);
	assert_int_equal(buf[54], 135);
	assert_int_equal(buf[54 + 24], 1);
	assert_int_equal(pkt_neigh_asks_for(buf, n, &pi, &got), 1);
	assert_memory_equal(got.b, t6.b, 16);
	assert_int_equal(pkt_neigh_binding(buf, n, &pi, &got, mac), 0);
	assert_memory_equal(got.b, ip6.b, 16);
	assert_memory_equal(mac, mac_us, 6);

	/* from ::, no source link-layer option and no binding */
	n = pkt_nd_solicit(buf, mac_us, &zero6, &t6);
	assert_int_equal(n, 78);
	assert_int_equal(pkt_parse(buf, n, &pi), PKT_OK);
	verify_csums(buf, n, 0);
	assert_int_equal(pkt_neigh_binding(buf, n, &pi, &got, mac), -ENOENT);
	assert_int_equal(pkt_neigh_asks_for(buf, n, &pi, &got), 1);
}

/* ---- pkt_neigh_check: RFC 826/5227, RFC 4861 7.1 ------------------ */

/* Recomputes the ICMPv6 checksum of the ND frame in buf (no tag). */
static void
nd_fix_csum(uint8_t *buf, uint32_t n)
{
	uint8_t *l3 = buf + 14, *ic = l3 + 40;
	uint32_t len = n - 54;

	w16(ic + 2, 0);
	w16(ic + 2, ~ref_sum(ic, len, ref_pseudo(l3, 6, 58, len)) & 0xffff);
}

/* A solicitation from `from` for t6 (valid as pkt_nd_solicit makes it),
 * patched by `patch`, checksum recomputed; pkt_neigh_check's verdict. */
static enum pkt_neigh_err
ns_check(const char *from, void (*patch)(uint8_t *buf, uint32_t *n))
{
	struct halb_ip src, t6;
	uint8_t buf[256];
	struct pkt_info pi;
	uint32_t n;

	ip_of(from, &src);
	ip_of("fd00::12:3456", &t6);
	memset(buf, 0, sizeof(buf));
	n = pkt_nd_solicit(buf, mac_peer, &src, &t6);
	if (patch != NULL)
		patch(buf, &n);
	nd_fix_csum(buf, n);
	assert_int_equal(pkt_parse(buf, n, &pi), PKT_OK);
	assert_int_equal(pi.kind, PKT_KIND_ND);
	return pkt_neigh_check(buf, n, &pi);
}

static void p_hlim(uint8_t *b, uint32_t *n) { (void)n; b[14 + 7] = 64; }
static void p_hlim254(uint8_t *b, uint32_t *n) { (void)n; b[14 + 7] = 254; }
static void p_code(uint8_t *b, uint32_t *n) { (void)n; b[54 + 1] = 1; }
static void p_target_mc(uint8_t *b, uint32_t *n) { (void)n; b[54 + 8] = 0xff; b[54 + 9] = 2; }
static void p_opt0(uint8_t *b, uint32_t *n) { (void)n; b[54 + 25] = 0; }
static void p_opt_long(uint8_t *b, uint32_t *n) { (void)n; b[54 + 25] = 2; }
static void p_src_mc(uint8_t *b, uint32_t *n) { (void)n; b[14 + 8] = 0xff; }
static void p_src_lo(uint8_t *b, uint32_t *n)
{
	(void)n;
	memset(b + 14 + 8, 0, 16);
	b[14 + 23] = 1;
}
/* A source link-layer option added to an NS from ::. */
static void p_add_slla(uint8_t *b, uint32_t *n)
{
	b[*n] = 1;
	b[*n + 1] = 1;
	memcpy(b + *n + 2, mac_peer, 6);
	*n += 8;
	w16(b + 14 + 4, *n - 54);
}
/* To a unicast address other than the target. */
static void p_dst_other(uint8_t *b, uint32_t *n) { (void)n; b[14 + 24] = 0xfd; b[14 + 25] = 0; }
/* To the target itself (unicast NUD). */
static void p_dst_target(uint8_t *b, uint32_t *n) { (void)n; memcpy(b + 14 + 24, b + 54 + 8, 16); }

static void
test_neigh_check_nd(void **state)
{
	struct halb_ip vip, peer;
	uint8_t buf[256];
	struct pkt_info pi;
	uint32_t n;

	(void)state;
	assert_int_equal(ns_check("fd00::1", NULL), PKT_NEIGH_OK);
	assert_int_equal(ns_check("fd00::1", p_hlim), PKT_NEIGH_HLIM);
	assert_int_equal(ns_check("fd00::1", p_hlim254), PKT_NEIGH_HLIM);
	assert_int_equal(ns_check("fd00::1", p_code), PKT_NEIGH_CODE);
	assert_int_equal(ns_check("fd00::1", p_target_mc), PKT_NEIGH_TARGET);
	assert_int_equal(ns_check("fd00::1", p_opt0), PKT_NEIGH_OPT);
	assert_int_equal(ns_check("fd00::1", p_opt_long), PKT_NEIGH_OPT);
	assert_int_equal(ns_check("fd00::1", p_src_mc), PKT_NEIGH_SRC);
	assert_int_equal(ns_check("fd00::1", p_src_lo), PKT_NEIGH_SRC);
	assert_int_equal(ns_check("fd00::1", p_dst_other), PKT_NEIGH_DST);
	assert_int_equal(ns_check("fd00::1", p_dst_target), PKT_NEIGH_OK);
	/* Duplicate address detection: from ::, to the solicited-node
	 * group, without a source link-layer option. */
	assert_int_equal(ns_check("::", NULL), PKT_NEIGH_OK);
	assert_int_equal(ns_check("::", p_add_slla), PKT_NEIGH_DAD);
	assert_int_equal(ns_check("::", p_dst_target), PKT_NEIGH_DAD);
	assert_string_equal(pkt_neigh_err_name(PKT_NEIGH_HLIM), "hlim");
	assert_string_equal(pkt_neigh_err_name(PKT_NEIGH_ERR_MAX), "unknown");

	/* A bad checksum. */
	ip_of("fd00::1", &peer);
	ip_of(VIP6, &vip);
	n = pkt_nd_solicit(buf, mac_peer, &peer, &vip);
	buf[54 + 2] ^= 1;
	assert_int_equal(pkt_parse(buf, n, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_check(buf, n, &pi), PKT_NEIGH_CSUM);

	/* The advertisement halb sends in answer is valid, and overrides. */
	n = pkt_nd_solicit(buf, mac_peer, &peer, &vip);
	assert_int_equal(pkt_parse(buf, n, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_check(buf, n, &pi), PKT_NEIGH_OK);
	assert_int_equal(pkt_neigh_override(buf, &pi), 1);
	n = pkt_nd_advert(buf, sizeof(buf), &pi, mac_us, &vip);
	assert_true(n > 0);
	assert_int_equal(pkt_parse(buf, n, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_check(buf, n, &pi), PKT_NEIGH_OK);
	assert_int_equal(pkt_neigh_override(buf, &pi), 1);
	/* O clear: no override. */
	buf[54 + 4] = 0x40;
	nd_fix_csum(buf, n);
	assert_int_equal(pkt_neigh_check(buf, n, &pi), PKT_NEIGH_OK);
	assert_int_equal(pkt_neigh_override(buf, &pi), 0);
	/* S set to a multicast group: refused. */
	memcpy(buf + 14 + 24, "\xff\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	nd_fix_csum(buf, n);
	assert_int_equal(pkt_neigh_check(buf, n, &pi), PKT_NEIGH_SOLICITED);
	buf[54 + 4] = 0x20; /* unsolicited, O: fine */
	nd_fix_csum(buf, n);
	assert_int_equal(pkt_neigh_check(buf, n, &pi), PKT_NEIGH_OK);
	/* From ::: refused. */
	memset(buf + 14 + 8, 0, 16);
	nd_fix_csum(buf, n);
	assert_int_equal(pkt_neigh_check(buf, n, &pi), PKT_NEIGH_SRC);
	/* Routed (hop limit 64): refused. */
	memcpy(buf + 14 + 8, vip.b, 16);
	buf[14 + 7] = 64;
	nd_fix_csum(buf, n);
	assert_int_equal(pkt_neigh_check(buf, n, &pi), PKT_NEIGH_HLIM);
}

static enum pkt_neigh_err
arp_check_with(uint16_t op, const char *spa, const uint8_t sha[6])
{
	struct halb_ip a, t;
	uint8_t buf[64];
	struct pkt_info pi;

	ip_of(spa, &a);
	ip_of(VIP4, &t);
	pkt_arp_request(buf, mac_peer, &a, &t);
	memcpy(buf + 14 + 8, sha, 6);
	w16(buf + 14 + 6, op);
	assert_int_equal(pkt_parse(buf, 60, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_override(buf, &pi), 1);
	return pkt_neigh_check(buf, 60, &pi);
}

static void
test_neigh_check_arp(void **state)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	static const uint8_t zero[6];

	(void)state;
	assert_int_equal(arp_check_with(1, "198.18.0.7", mac_peer), PKT_NEIGH_OK);
	assert_int_equal(arp_check_with(2, "198.18.0.7", mac_peer), PKT_NEIGH_OK);
	assert_int_equal(arp_check_with(1, "198.18.0.7", bcast), PKT_NEIGH_HW);
	assert_int_equal(arp_check_with(2, "198.18.0.7", mcast), PKT_NEIGH_HW);
	assert_int_equal(arp_check_with(2, "198.18.0.7", zero), PKT_NEIGH_HW);
	/* An RFC 5227 probe is a request from 0.0.0.0; no reply is. */
	assert_int_equal(arp_check_with(1, "0.0.0.0", mac_peer), PKT_NEIGH_OK);
	assert_int_equal(arp_check_with(2, "0.0.0.0", mac_peer), PKT_NEIGH_SRC);
	assert_int_equal(arp_check_with(1, "0.1.2.3", mac_peer), PKT_NEIGH_SRC);
	assert_int_equal(arp_check_with(1, "127.0.0.1", mac_peer), PKT_NEIGH_SRC);
	assert_int_equal(arp_check_with(2, "224.0.0.1", mac_peer), PKT_NEIGH_SRC);
	assert_int_equal(arp_check_with(1, "240.0.0.1", mac_peer), PKT_NEIGH_SRC);
	assert_int_equal(arp_check_with(2, "255.255.255.255", mac_peer),
			 PKT_NEIGH_SRC);
}

/* ---- the echo server (src/icmp_pkt.c) ------------------------------ */

static void
echo_check(const struct spec *sp, int answered)
{
	struct built b, orig;
	struct pkt_info pi;
	const uint8_t *l3, *ic;
	uint32_t n, end;

	build(sp, &b);
	orig = b;
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_icmp_is_echo(b.b, &pi), 1);
	n = pkt_icmp_echo_reply(b.b, b.len, &pi, mac_us);
	if (!answered) {
		assert_int_equal(n, 0);
		assert_memory_equal(b.b, orig.b, b.len);
		return;
	}
	assert_int_equal(n, b.len);
	assert_int_equal(pkt_parse(b.b, n, &pi), PKT_OK);
	assert_int_equal(pkt_icmp_is_echo(b.b, &pi), 0);
	assert_memory_equal(b.b, mac_peer, 6);
	assert_memory_equal(b.b + 6, mac_us, 6);
	l3 = b.b + pi.l3_off;
	ic = b.b + pi.l4_off;
	end = pi.l3_off + pi.l3_len;
	if (sp->family == 4) {
		assert_memory_equal(l3 + 12, orig.b + pi.l3_off + 16, 4);
		assert_memory_equal(l3 + 16, orig.b + pi.l3_off + 12, 4);
		assert_int_equal(l3[8], 64);
		assert_int_equal(ref_sum(l3, 20, 0), 0xffff);
		assert_int_equal(ic[0], 0);
		assert_int_equal(ref_sum(ic, end - pi.l4_off, 0), 0xffff);
	} else {
		assert_memory_equal(l3 + 8, orig.b + pi.l3_off + 24, 16);
		assert_memory_equal(l3 + 24, orig.b + pi.l3_off + 8, 16);
		assert_int_equal(l3[7], 64);
		assert_int_equal(ic[0], 129);
		assert_int_equal(ref_sum(ic, end - pi.l4_off,
					 ref_pseudo(l3, 6, P_ICMPV6, end - pi.l4_off)),
				 0xffff);
	}
	/* The identifier, sequence and data come back as they were. */
	assert_memory_equal(ic + 4, orig.b + pi.l4_off + 4, end - pi.l4_off - 4);
}

static void
test_echo(void **state)
{
	struct spec e4 = S_ECHO4, e6 = { .family = 6, .proto = P_ICMPV6,
		.icmp_type = 128, .payload = 21, .src = CLIENT6, .dst = VIP6 };
	struct spec s;
	struct built b;
	struct pkt_info pi;

	(void)state;
	echo_check(&e4, 1);
	echo_check(&e6, 1);
	s = e4;
	s.payload = 1001; /* odd length */
	echo_check(&s, 1);
	s = e4;
	s.vlan = 1;
	echo_check(&s, 1);
	s = e4;
	s.ip4_opt = 1; /* options: not answered */
	echo_check(&s, 0);
	s = e6;
	s.n_ext = 1;
	s.ext[0] = 60; /* extension header: not answered */
	echo_check(&s, 0);
	/* A bad checksum and a code other than 0 are not answered. */
	build(&e4, &b);
	b.b[b.l4_off + 2] ^= 1;
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_icmp_echo_reply(b.b, b.len, &pi, mac_us), 0);
	build(&e6, &b);
	b.b[b.l4_off + 1] = 1;
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_icmp_echo_reply(b.b, b.len, &pi, mac_us), 0);
	/* Other ICMP, fragments: no echo. */
	s = e4;
	s.icmp_type = 13;
	build(&s, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_icmp_is_echo(b.b, &pi), 0);
	s = e4;
	s.frag = F_FIRST;
	build(&s, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_icmp_is_echo(b.b, &pi), 0);
}

static void
test_neigh_binding(void **state)
{
	static const struct spec arp_rep = { .arp_op = 2, .src = BACKEND4,
					     .dst = VIP4 };
	static const struct spec arp_probe = { .arp_op = 1, .src = "0.0.0.0",
					       .dst = BACKEND4 };
	static const struct spec na = { .family = 6, .proto = P_ICMPV6,
		.icmp_type = 136, .nd_opt = 2, .src = BACKEND6, .dst = VIP6,
		.target = BACKEND6 };
	static const struct spec na_noopt = { .family = 6, .proto = P_ICMPV6,
		.icmp_type = 136, .src = BACKEND6, .dst = VIP6,
		.target = BACKEND6 };
	static const struct spec na_other_opt = { .family = 6,
		.proto = P_ICMPV6, .icmp_type = 136, .nd_opt = 1,
		.src = BACKEND6, .dst = VIP6, .target = BACKEND6 };
	static const struct spec ns = { .family = 6, .proto = P_ICMPV6,
		.icmp_type = 135, .nd_opt = 1, .src = CLIENT6,
		.dst = "ff02::1:ff00:10", .target = VIP6 };
	struct halb_ip ip, want;
	struct pkt_info pi;
	struct built b;
	uint8_t mac[6];

	(void)state;
	build(&arp_rep, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), 0);
	ip_of(BACKEND4, &want);
	assert_memory_equal(ip.b, want.b, 16);
	assert_memory_equal(mac, mac_peer, 6);
	assert_int_equal(pkt_neigh_asks_for(b.b, b.len, &pi, &ip), 0);

	build(&arp_probe, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), -ENOENT);
	assert_int_equal(pkt_neigh_asks_for(b.b, b.len, &pi, &ip), 1);

	build(&na, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	memset(mac, 0, 6);
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), 0);
	ip_of(BACKEND6, &want);
	assert_memory_equal(ip.b, want.b, 16);
	assert_memory_equal(mac, mac_peer, 6);
	assert_int_equal(pkt_neigh_asks_for(b.b, b.len, &pi, &ip), 0);
	/* option of length 0: stop */
	b.b[pi.l4_off + 25] = 0;
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), -ENOENT);
	/* option running past the packet */
	b.b[pi.l4_off + 25] = 2;
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), -ENOENT);

	build(&na_noopt, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), -ENOENT);
	build(&na_other_opt, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), -ENOENT);

	build(&ns, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), 0);
	ip_of(CLIENT6, &want);
	assert_memory_equal(ip.b, want.b, 16);
	assert_memory_equal(mac, mac_peer, 6);
	assert_int_equal(pkt_neigh_asks_for(b.b, b.len, &pi, &ip), 1);
	ip_of(VIP6, &want);
	assert_memory_equal(ip.b, want.b, 16);

	build(&tcp4, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_neigh_binding(b.b, b.len, &pi, &ip, mac), -EINVAL);
	assert_int_equal(pkt_neigh_asks_for(b.b, b.len, &pi, &ip), 0);
}

/* ---- checksum helpers and hash -------------------------------------- */

static void
test_csum(void **state)
{
	static const uint8_t rfc1071[8] = { 0x00, 0x01, 0xf2, 0x03,
					    0xf4, 0xf5, 0xf6, 0xf7 };
	uint8_t data[200];
	uint32_t off, n, i;

	(void)state;
	assert_int_equal(pkt_csum(rfc1071, 8, 0), 0xddf2);
	assert_int_equal(pkt_csum(rfc1071, 0, 0x1234), 0x1234);
	assert_int_equal(pkt_csum_fold(0x2ddf0), 0xddf2);
	assert_int_equal(pkt_csum_fold(0xffffffffu), 0xffff);
	assert_int_equal(pkt_csum_fold(0), 0);
	srand(7);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	for (off = 0; off < 8; off++)
		for (n = 0; n + off <= 150; n++) {
			uint32_t s = (uint32_t)rand();

			assert_int_equal(pkt_csum(data + off, n, s),
					 ref_sum(data + off, n,
						 pkt_csum_fold(s)));
		}
	memset(data, 0xff, sizeof(data));
	assert_int_equal(pkt_csum(data, sizeof(data), 0xffffffffu), 0xffff);
}

static uint32_t
ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void
test_hash(void **state)
{
	struct flow_key k, k2;
	uint32_t h;
	size_t i;

	(void)state;
	assert_int_equal(ref_crc32c((const uint8_t *)"123456789", 9),
			 0xe3069283u);
	memset(&k, 0, sizeof(k));
	for (i = 0; i < 16; i++) {
		k.src[i] = (uint8_t)i;
		k.dst[i] = (uint8_t)(0xf0 + i);
	}
	w16((uint8_t *)&k.sport, 40000);
	w16((uint8_t *)&k.dport, 443);
	k.proto = P_TCP;
	h = pkt_flow_hash(&k);
	assert_int_equal(h, ref_crc32c((const uint8_t *)&k, sizeof(k)));
	/* the same in every build, SSE4.2 or table */
	assert_int_equal(h, 0x67c1072fu);
	k2 = k;
	assert_int_equal(pkt_flow_hash(&k2), h);
	for (i = 0; i < sizeof(k); i++) {
		if (i >= offsetof(struct flow_key, pad))
			break;
		k2 = k;
		((uint8_t *)&k2)[i] ^= 1;
		assert_int_not_equal(pkt_flow_hash(&k2), h);
		assert_int_equal(pkt_flow_hash(&k2),
				 ref_crc32c((const uint8_t *)&k2, sizeof(k2)));
	}
}

/* ---- ICMP errors the appliance sends -------------------------------- */

static void
test_icmp_too_big(void **state)
{
	static const struct {
		struct spec s;
		uint32_t mtu, want_len; /* frame length of the error */
		int whole;              /* the quote is the whole packet */
	} t[] = {
		{ { .family = 4, .proto = P_TCP, .sport = 40000, .dport = 80,
		    .tcp_flags = 0x18, .payload = 1400, .src = CLIENT4,
		    .dst = VIP4 }, 1450, 14 + 576, 0 },
		{ { .family = 4, .proto = P_UDP, .sport = 5353, .dport = 53,
		    .payload = 100, .ip4_opt = 1, .src = CLIENT4, .dst = VIP4 },
		  100, 14 + 20 + 8 + 24 + 8 + 100, 1 },
		{ { .family = 6, .proto = P_TCP, .sport = 40001, .dport = 443,
		    .tcp_flags = 0x18, .payload = 1400, .src = CLIENT6,
		    .dst = VIP6 }, 1430, 14 + 1280, 0 },
		{ { .family = 6, .proto = P_UDP, .sport = 5000, .dport = 4500,
		    .payload = 33, .vlan = 1, .src = CLIENT6, .dst = VIP6 },
		  1280, 14 + 40 + 8 + 40 + 8 + 33, 1 },
	};
	static const struct spec err4 = { .family = 4, .proto = P_ICMP,
		.icmp_type = 3, .quote = &tcp4_back, .src = ROUTER4,
		.dst = VIP4 };
	struct built b, *out;
	struct pkt_info pi, po;
	struct halb_ip a;
	size_t i;

	(void)state;
	out = malloc(sizeof(*out));
	assert_non_null(out);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const uint8_t *ip, *oip, *ic;
		uint32_t len;

		build(&t[i].s, &b);
		assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
		len = pkt_icmp_too_big(out->b, sizeof(out->b), b.b, &pi,
				       t[i].mtu, mac_us, mac_peer);
		assert_int_equal(len, t[i].want_len);
		/* too small a buffer: nothing */
		assert_int_equal(pkt_icmp_too_big(out->b, len - 1, b.b, &pi,
						  t[i].mtu, mac_us, mac_peer), 0);
		verify_csums(out->b, len, t[i].whole);
		assert_int_equal(pkt_parse(out->b, len, &po), PKT_OK);
		assert_int_equal(po.kind, PKT_KIND_ICMP_ERR);
		assert_int_equal(po.has_vlan, 0);
		assert_memory_equal(out->b, mac_peer, 6);
		assert_memory_equal(out->b + 6, mac_us, 6);
		ip = b.b + pi.l3_off;
		oip = out->b + po.l3_off;
		ic = out->b + po.l4_off;
		/* from the packet's destination to its source */
		ip_of(t[i].s.dst, &a);
		assert_memory_equal(po.key.src, a.b, 16);
		ip_of(t[i].s.src, &a);
		assert_memory_equal(po.key.dst, a.b, 16);
		if (t[i].s.family == 4) {
			assert_memory_equal(oip + 12, ip + 16, 4);
			assert_memory_equal(oip + 16, ip + 12, 4);
			assert_int_equal(ic[0], 3);
			assert_int_equal(ic[1], 4);
			assert_int_equal(r16(ic + 6), t[i].mtu);
			assert_int_equal(oip[8], 64);
		} else {
			assert_memory_equal(oip + 8, ip + 24, 16);
			assert_memory_equal(oip + 24, ip + 8, 16);
			assert_int_equal(ic[0], 2);
			assert_int_equal(ic[1], 0);
			assert_int_equal(r16(ic + 6), t[i].mtu);
			assert_int_equal(r16(ic + 4), 0);
		}
		/* the quote is the packet, from its IP header on */
		assert_memory_equal(ic + 8, ip, len - (uint32_t)(ic + 8 - out->b));
	}
	/* No error about an error, nor about a later fragment. */
	build(&err4, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_icmp_too_big(out->b, sizeof(out->b), b.b, &pi,
					  1400, mac_us, mac_peer), 0);
	build(&later4, &b);
	assert_int_equal(pkt_parse(b.b, b.len, &pi), PKT_OK);
	assert_int_equal(pkt_icmp_too_big(out->b, sizeof(out->b), b.b, &pi,
					  1400, mac_us, mac_peer), 0);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_nat_flow),
		cmocka_unit_test(test_nat_refuses),
		cmocka_unit_test(test_nat_udp_csum_ffff),
		cmocka_unit_test(test_nat_icmp),
		cmocka_unit_test(test_dsr),
		cmocka_unit_test(test_vxlan),
		cmocka_unit_test(test_vxlan_refuses),
		cmocka_unit_test(test_vxlan_csum_offload),
		cmocka_unit_test(test_arp_reply),
		cmocka_unit_test(test_nd_advert),
		cmocka_unit_test(test_neigh_check_nd),
		cmocka_unit_test(test_neigh_check_arp),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_neigh_binding),
		cmocka_unit_test(test_csum),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_icmp_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
