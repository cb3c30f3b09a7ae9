/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packet parser (pkt_parse), the flow-key hash and the verdict names.
 *
 * The parser works on a plain byte buffer: it reads only inside
 * [frame, frame + len), byte by byte or through memcpy (frames may sit at
 * odd addresses), allocates nothing and makes no system call.  Every
 * length a header announces is checked against what is left before it is
 * used, so a lying length ends in a verdict, never in an over-read.  On
 * return *pi is fully written (zeroed first), whatever the verdict; it is
 * meaningful only with PKT_OK.
 *
 * Invariants of PKT_OK results, relied upon by the rewriters (rewrite.c,
 * neigh_pkt.c) and checked by the fuzzer:
 *  - l3_off + l3_len <= len, and every other offset lies inside it;
 *  - l4_off is 0 only for later fragments and ARP;
 *  - the key's padding and, for non-flow kinds, its ports are zero;
 *  - a family-6 key never holds an IPv4-mapped address, so keys of the
 *    two families never meet.
 *
 * docs/PACKETS.md describes what is accepted and why.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#include "halb/pkt.h"
#include "wire.h"

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define ETYPE_IPV4 0x0800
#define ETYPE_ARP 0x0806
#define ETYPE_VLAN 0x8100
#define ETYPE_IPV6 0x86dd

#define PROTO_HOPOPT 0
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ROUTING 43
#define PROTO_FRAG 44
#define PROTO_ICMPV6 58
#define PROTO_DSTOPTS 60

#define IP4_HLEN 20
#define IP6_HLEN 40
#define IP6_MAX_EXT 8   /* extension headers walked before PKT_ERR_IP_EXT */
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8
#define ND_MIN_LEN 24   /* ICMPv6 header + reserved/flags + target */
#define ARP_LEN 28

/* An IPv4 address as it sits in a header, into IPv4-mapped form. */
static inline void
map_v4(uint8_t out[16], const uint8_t *v4)
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

/*
 * Whether a 16-byte IPv6 address from the wire is IPv4-mapped
 * (::ffff:0:0/96).  Keys hold IPv4 addresses in exactly that form, so
 * such an IPv6 packet would share its key with an IPv4 flow and could
 * match IPv4 VIPs and change IPv4 flows' state.  RFC 4291 2.5.5.2 keeps
 * these addresses for the API only and RFC 6890 marks the block not
 * forwardable: they never appear in a header, and are refused.
 */
static inline int
is_v4_mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/* What an IPv6 fragment header said, if there was one. */
struct ip6_frag {
	uint8_t seen;
	uint8_t more;
	uint16_t offset; /* in 8-byte units */
	uint32_t id;
};

/*
 * Walks the IPv6 extension headers halb skips (hop-by-hop, routing,
 * destination options, fragment) from *pos, with *nh the next-header
 * value that announced it, never past `end`.  Stops at the first other
 * header, or right after a fragment header of non-zero offset (what
 * follows is data).  Returns 0 with *pos and *nh at the upper layer, or
 * -1 when a header runs past `end` or the chain exceeds IP6_MAX_EXT, or,
 * for a packet received (`received`; not a quote), when a routing header
 * has segments left: the address it came to is then not its destination,
 * and halb does not route (RFC 8200 4.4, RFC 5095).
 */
static int
ip6_skip_ext(const uint8_t *frame, uint32_t *pos, uint32_t end, uint8_t *nh,
	     struct ip6_frag *fr, bool received)
{
	unsigned int n;

	for (n = 0;; n++) {
		const uint8_t *h = frame + *pos;
		uint32_t hl;

		if (*nh != PROTO_HOPOPT && *nh != PROTO_ROUTING &&
		    *nh != PROTO_DSTOPTS && *nh != PROTO_FRAG)
			return 0;
		/* Every extension header is at least 8 bytes long. */
		if (n == IP6_MAX_EXT || end - *pos < 8)
			return -1;
		if (*nh == PROTO_FRAG) {
			uint16_t fo = rd16(h + 2);

			fr->seen = 1;
			fr->more = fo & 1;
			fr->offset = fo >> 3;
			fr->id = rd32(h + 4);
			*nh = h[0];
			*pos += 8;
			if (fr->offset != 0)
				return 0;
			continue;
		}
		hl = (h[1] + 1u) * 8;
		if (hl > end - *pos)
			return -1;
		if (*nh == PROTO_ROUTING && received && h[3] != 0)
			return -1;
		*nh = h[0];
		*pos += hl;
	}
}

/*
 * The packet quoted by an ICMP error, `qlen` bytes at `qoff`: an IP header
 * of the outer family and at least 8 bytes of TCP or UDP.  Fills the key
 * with the quoted flow turned around (see pkt-t.h).
 */
static enum pkt_verdict
parse_quote(const uint8_t *frame, uint32_t qoff, uint32_t qlen,
	    struct pkt_info *pi)
{
	const uint8_t *q = frame + qoff;
	const uint8_t *l4;
	uint32_t l4off;
	uint8_t proto;

	if (pi->family == 4) {
		uint32_t hl;

		if (qlen < IP4_HLEN || q[0] >> 4 != 4)
			return PKT_ERR_ICMP;
		hl = (q[0] & 0xfu) * 4;
		if (hl < IP4_HLEN || hl + 8 > qlen)
			return PKT_ERR_ICMP;
		if (rd16(q + 6) & 0x1fff) /* a later fragment: no ports */
			return PKT_ERR_ICMP;
		proto = q[9];
		map_v4(pi->key.src, q + 16);
		map_v4(pi->key.dst, q + 12);
		l4off = qoff + hl;
	} else {
		struct ip6_frag fr = { 0 };
		uint32_t pos = qoff + IP6_HLEN;

		if (qlen < IP6_HLEN || q[0] >> 4 != 6)
			return PKT_ERR_ICMP;
		if (is_v4_mapped(q + 8) || is_v4_mapped(q + 24))
			return PKT_ERR_IP_ADDR;
		proto = q[6];
		if (ip6_skip_ext(frame, &pos, qoff + qlen, &proto, &fr, false) != 0 ||
		    fr.offset != 0 || qoff + qlen - pos < 8)
			return PKT_ERR_ICMP;
		memcpy(pi->key.src, q + 24, 16);
		memcpy(pi->key.dst, q + 8, 16);
		l4off = pos;
	}
	if (proto != PROTO_TCP && proto != PROTO_UDP)
		return PKT_ERR_ICMP;
	l4 = frame + l4off;
	memcpy(&pi->key.sport, l4 + 2, 2);
	memcpy(&pi->key.dport, l4, 2);
	pi->key.proto = proto;
	pi->inner_l3_off = (uint16_t)qoff;
	pi->inner_l4_off = (uint16_t)l4off;
	pi->kind = PKT_KIND_ICMP_ERR;
	return PKT_OK;
}

/*
 * ICMP or ICMPv6 message of `plen` bytes at `off`.  Errors quoting a flow
 * follow that flow; neighbour discovery goes to the control plane;
 * anything else (echo, fragmented ICMP, ...) is PKT_KIND_OTHER.
 */
static enum pkt_verdict
parse_icmp(const uint8_t *frame, uint32_t off, uint32_t plen,
	   struct pkt_info *pi)
{
	uint8_t type = 0;
	int is_err;

	pi->l4_off = (uint16_t)off;
	if (plen < ICMP_HLEN)
		return PKT_ERR_TRUNC;
	type = frame[off];
	/*
	 * An ICMP error fits in 576 (IPv4) or 1280 (IPv6) bytes and is never
	 * fragmented by its sender; neither is ND (RFC 6980).  A fragmented one
	 * cannot have its checksum recomputed here: leave it alone.
	 */
	if (pi->frag != PKT_FRAG_NONE) {
		pi->kind = PKT_KIND_OTHER;
		return PKT_OK;
	}
	if (pi->family == 4) {
		is_err = type == 3 || type == 11 || type == 12;
	} else {
		if (type == 135 || type == 136) {
			if (plen < ND_MIN_LEN)
				return PKT_ERR_TRUNC;
			pi->kind = PKT_KIND_ND;
			return PKT_OK;
		}
		is_err = type >= 1 && type <= 4;
	}
	if (!is_err) {
		pi->kind = PKT_KIND_OTHER;
		return PKT_OK;
	}
	return parse_quote(frame, off + ICMP_HLEN, plen - ICMP_HLEN, pi);
}

/* Transport header of protocol `proto`, `plen` bytes of IP payload at `off`. */
static enum pkt_verdict
parse_l4(const uint8_t *frame, uint32_t off, uint32_t plen, uint8_t proto,
	 struct pkt_info *pi)
{
	const uint8_t *l4 = frame + off;

	pi->l4_proto = proto;
	pi->key.proto = proto;
	switch (proto) {
	case PROTO_TCP: {
		uint32_t doff;

		if (plen < TCP_HLEN)
			return PKT_ERR_TRUNC;
		doff = (l4[12] >> 4) * 4u;
		if (doff < TCP_HLEN || doff > plen)
			return PKT_ERR_L4;
		pi->tcp_flags = l4[13];
		break;
	}
	case PROTO_UDP: {
		uint32_t ulen;

		if (plen < UDP_HLEN)
			return PKT_ERR_TRUNC;
		ulen = rd16(l4 + 4);
		/* A first fragment holds only part of the datagram. */
		if (ulen < UDP_HLEN ||
		    (ulen > plen && pi->frag == PKT_FRAG_NONE))
			return PKT_ERR_L4;
		break;
	}
	case PROTO_ICMP:
		if (pi->family != 4)
			goto other;
		return parse_icmp(frame, off, plen, pi);
	case PROTO_ICMPV6:
		if (pi->family != 6)
			goto other;
		return parse_icmp(frame, off, plen, pi);
	default:
		goto other;
	}
	pi->l4_off = (uint16_t)off;
	memcpy(&pi->key.sport, l4, 2);
	memcpy(&pi->key.dport, l4 + 2, 2);
	pi->kind = PKT_KIND_FLOW;
	return PKT_OK;
other:
	pi->l4_off = (uint16_t)off;
	pi->kind = PKT_KIND_OTHER;
	return PKT_OK;
}

/* A later fragment: no transport header, so no ports. */
static enum pkt_verdict
later_fragment(uint8_t proto, uint32_t id, struct pkt_info *pi)
{
	pi->frag = PKT_FRAG_LATER;
	pi->frag_id = id;
	pi->l4_off = 0;
	pi->l4_proto = proto;
	pi->key.proto = proto;
	pi->kind = proto == PROTO_TCP || proto == PROTO_UDP ? PKT_KIND_FLOW :
							      PKT_KIND_OTHER;
	return PKT_OK;
}

static enum pkt_verdict
parse_ip4(const uint8_t *frame, uint32_t len, uint32_t off, struct pkt_info *pi)
{
	const uint8_t *ip = frame + off;
	uint32_t room = len - off, hlen, tot;
	uint16_t ff;

	if (room < IP4_HLEN)
		return PKT_ERR_TRUNC;
	if (ip[0] >> 4 != 4)
		return PKT_ERR_IP_VER;
	hlen = (ip[0] & 0xfu) * 4;
	if (hlen < IP4_HLEN)
		return PKT_ERR_IP_HLEN;
	tot = rd16(ip + 2);
	if (tot > room) /* bytes after tot are Ethernet padding */
		return PKT_ERR_IP_LEN;
	if (hlen > tot)
		return PKT_ERR_IP_HLEN;
	pi->family = 4;
	pi->l3_len = (uint16_t)tot;
	map_v4(pi->key.src, ip + 12);
	map_v4(pi->key.dst, ip + 16);
	ff = rd16(ip + 6);
	if (ff & 0x3fff) { /* MF or a fragment offset */
		if (ff & 0x1fff)
			return later_fragment(ip[9], rd16(ip + 4), pi);
		pi->frag = PKT_FRAG_FIRST;
		pi->frag_id = rd16(ip + 4);
	}
	return parse_l4(frame, off + hlen, tot - hlen, ip[9], pi);
}

static enum pkt_verdict
parse_ip6(const uint8_t *frame, uint32_t len, uint32_t off, struct pkt_info *pi)
{
	const uint8_t *ip = frame + off;
	struct ip6_frag fr = { 0 };
	uint32_t room = len - off, tot, pos;
	uint8_t nh;

	if (room < IP6_HLEN)
		return PKT_ERR_TRUNC;
	if (ip[0] >> 4 != 6)
		return PKT_ERR_IP_VER;
	tot = IP6_HLEN + rd16(ip + 4);
	/* l3_len is 16 bits: refuse the few sizes that would not fit. */
	if (tot > room || tot > UINT16_MAX)
		return PKT_ERR_IP_LEN;
	if (is_v4_mapped(ip + 8) || is_v4_mapped(ip + 24))
		return PKT_ERR_IP_ADDR;
	pi->family = 6;
	pi->l3_len = (uint16_t)tot;
	memcpy(pi->key.src, ip + 8, 16);
	memcpy(pi->key.dst, ip + 24, 16);
	nh = ip[6];
	pos = off + IP6_HLEN;
	if (ip6_skip_ext(frame, &pos, off + tot, &nh, &fr, true) != 0)
		return PKT_ERR_IP_EXT;
	if (fr.seen) {
		if (fr.offset != 0)
			return later_fragment(nh, fr.id, pi);
		if (fr.more) {
			pi->frag = PKT_FRAG_FIRST;
			pi->frag_id = fr.id;
		}
	}
	return parse_l4(frame, pos, off + tot - pos, nh, pi);
}

static enum pkt_verdict
parse_arp(const uint8_t *frame, uint32_t len, uint32_t off, struct pkt_info *pi)
{
	const uint8_t *a = frame + off;
	uint16_t op;

	if (len - off < ARP_LEN)
		return PKT_ERR_TRUNC;
	op = rd16(a + 6);
	if (rd16(a) != 1 || rd16(a + 2) != ETYPE_IPV4 || a[4] != 6 ||
	    a[5] != 4 || (op != 1 && op != 2))
		return PKT_ERR_ARP;
	pi->kind = PKT_KIND_ARP;
	pi->family = 0;
	pi->l3_len = ARP_LEN;
	return PKT_OK;
}

enum pkt_verdict
pkt_parse(const uint8_t *frame, uint32_t len, struct pkt_info *pi)
{
	uint32_t off = ETH_HLEN;
	uint16_t type;

	memset(pi, 0, sizeof(*pi));
	if (len < ETH_HLEN)
		return PKT_ERR_TRUNC;
	type = rd16(frame + 12);
	if (type == ETYPE_VLAN) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return PKT_ERR_TRUNC;
		pi->has_vlan = 1;
		pi->vlan_tci = rd16(frame + 14);
		type = rd16(frame + 16);
		off += VLAN_HLEN;
	}
	pi->l3_off = (uint16_t)off;
	/* A second tag (QinQ, 0x88a8 or 0x8100 again) falls to PKT_ERR_L2. */
	switch (type) {
	case ETYPE_IPV4:
		return parse_ip4(frame, len, off, pi);
	case ETYPE_IPV6:
		return parse_ip6(frame, len, off, pi);
	case ETYPE_ARP:
		return parse_arp(frame, len, off, pi);
	default:
		return PKT_ERR_L2;
	}
}

static const char *const verdict_names[PKT_VERDICT_MAX] = {
	[PKT_OK] = "ok",
	[PKT_ERR_TRUNC] = "trunc",
	[PKT_ERR_L2] = "l2",
	[PKT_ERR_IP_VER] = "ip_ver",
	[PKT_ERR_IP_HLEN] = "ip_hlen",
	[PKT_ERR_IP_LEN] = "ip_len",
	[PKT_ERR_IP_EXT] = "ip_ext",
	[PKT_ERR_L4] = "l4",
	[PKT_ERR_ICMP] = "icmp",
	[PKT_ERR_ARP] = "arp",
	[PKT_ERR_IP_ADDR] = "ip_addr",
};

const char *
pkt_verdict_name(enum pkt_verdict v)
{
	if ((unsigned int)v >= PKT_VERDICT_MAX || verdict_names[v] == NULL)
		return "unknown";
	return verdict_names[v];
}

#if !defined(__SSE4_2__)
/* CRC32-C (Castagnoli, reflected polynomial 0x82f63b78), one byte a step. */
static const uint32_t crc32c_tab[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4,
	0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
	0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
	0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b,
	0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54,
	0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
	0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
	0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5,
	0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45,
	0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
	0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
	0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48,
	0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687,
	0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
	0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
	0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8,
	0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096,
	0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
	0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
	0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9,
	0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36,
	0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
	0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
	0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043,
	0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3,
	0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
	0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
	0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652,
	0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d,
	0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
	0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
	0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2,
	0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530,
	0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
	0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
	0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f,
	0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90,
	0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
	0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
	0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321,
	0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81,
	0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
	0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};
#endif

/*
 * Standard CRC32-C of the 40 key bytes (initial value and final xor
 * 0xffffffff; "123456789" gives 0xe3069283), so that the SSE4.2 path and
 * the table agree and every process, whatever it was built with, hashes a
 * key alike.
 */
uint32_t
pkt_flow_hash(const struct flow_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t crc = 0xffffffffu;
	size_t i;

#if defined(__SSE4_2__)
	uint64_t c = crc;

	for (i = 0; i < sizeof(*k); i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		c = _mm_crc32_u64(c, w);
	}
	crc = (uint32_t)c;
#else
	for (i = 0; i < sizeof(*k); i++)
		crc = crc32c_tab[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
#endif
	return ~crc;
}
