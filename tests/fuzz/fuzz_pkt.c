/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the packet parser and every rewrite that applies
 * to what it accepts.  Built with corpus_main.c it replays the kept
 * corpus (tests/fuzz/corpus/pkt) as the test fuzz-corpus-pkt; built with
 * clang -fsanitize=fuzzer it explores.
 *
 * Invariants checked (abort() on violation, whatever NDEBUG says):
 *  - the parser's offsets lie inside the frame, and it reads nothing
 *    outside [data, data + size) (the sanitizers watch);
 *  - a NAT rewrite writes only inside the IP packet, keeps the frame
 *    parseable with the new address (and port) in the key, keeps valid
 *    checksums valid, and leaves a valid ICMP checksum on ICMP errors;
 *  - DSR touches the Ethernet addresses only; VXLAN output parses as a
 *    UDP flow to the tunnel port with a valid IPv6 UDP checksum;
 *  - ARP/ND replies to what a packet asks for parse back, with a valid
 *    checksum, and carry the binding they announce;
 *  - delayed binding (splice.c): a TCP segment's options read without
 *    reading past its header; the sequence translation either refuses
 *    (malformed options) leaving the segment as it was, or keeps a
 *    valid TCP checksum valid, and translating back restores every byte
 *    but the checksum's; a cookie made for the segment's tuple and
 *    options checks valid and keeps them;
 *  - a frag-needed / packet-too-big error about a flow stays within
 *    576 / 1280 bytes, quotes the packet's start, has valid checksums
 *    and parses; ICMP errors and later fragments get none.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/pkt.h"
#include "halb/splice.h"
#include "halb/syncookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",    \
				__FILE__, __LINE__, #c);                \
			abort();                                        \
		}                                                       \
	} while (0)

#define HEADROOM 128
#define TAILROOM 128
#define MAX_FRAME 65600

static uint8_t room[HEADROOM + MAX_FRAME + TAILROOM];
static uint8_t *const frame = room + HEADROOM;

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };

/* Reference RFC 1071 sum, folded, not inverted. */
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
pseudo(const uint8_t *l3, int family, uint8_t proto, uint32_t len)
{
	if (family == 4)
		return ref_sum(l3 + 12, 8, 0) + proto + len;
	return ref_sum(l3 + 8, 32, 0) + proto + len;
}

struct csums {
	int ip4;   /* outer IPv4 header */
	int l4;    /* TCP/UDP over the bytes present, or the ICMP message */
	int inner; /* quoted IPv4 header */
};

static void
csums_of(const uint8_t *f, const struct pkt_info *pi, struct csums *c)
{
	const uint8_t *l3 = f + pi->l3_off;
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len, n;

	memset(c, 0, sizeof(*c));
	if (pi->family == 4)
		c->ip4 = ref_sum(l3, (l3[0] & 0xfu) * 4, 0) == 0xffff;
	if (pi->l4_off == 0)
		return;
	n = end - pi->l4_off;
	if (pi->kind == PKT_KIND_FLOW)
		c->l4 = ref_sum(f + pi->l4_off, n,
				pseudo(l3, pi->family, pi->l4_proto, n)) ==
			0xffff;
	else if (pi->kind == PKT_KIND_ICMP_ERR || pi->kind == PKT_KIND_ND)
		c->l4 = ref_sum(f + pi->l4_off, n,
				pi->family == 6 ? pseudo(l3, 6, 58, n) : 0) ==
			0xffff;
	if (pi->kind == PKT_KIND_ICMP_ERR && pi->family == 4) {
		const uint8_t *q = f + pi->inner_l3_off;

		c->inner = ref_sum(q, (q[0] & 0xfu) * 4, 0) == 0xffff;
	}
}

static void
check_offsets(const struct pkt_info *pi, size_t size)
{
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len;

	CHECK(pi->kind <= PKT_KIND_OTHER);
	CHECK(pi->frag <= PKT_FRAG_LATER);
	CHECK(pi->l3_off == 14 || pi->l3_off == 18);
	CHECK(end <= size);
	CHECK(pi->key.pad[0] == 0 && pi->key.pad[1] == 0 && pi->key.pad[2] == 0);
	if (pi->kind == PKT_KIND_ARP) {
		CHECK(pi->family == 0 && pi->l3_len == 28);
		return;
	}
	CHECK(pi->family == 4 || pi->family == 6);
	if (pi->frag == PKT_FRAG_LATER) {
		CHECK(pi->l4_off == 0);
		CHECK(pi->key.sport == 0 && pi->key.dport == 0);
		return;
	}
	CHECK(pi->l4_off > pi->l3_off && pi->l4_off <= end);
	if (pi->kind == PKT_KIND_FLOW)
		CHECK(pi->l4_off + (pi->l4_proto == 6 ? 20u : 8u) <= end);
	if (pi->kind == PKT_KIND_ICMP_ERR) {
		CHECK(pi->inner_l3_off == pi->l4_off + 8);
		CHECK(pi->inner_l4_off > pi->inner_l3_off);
		CHECK(pi->inner_l4_off + 8u <= end);
		CHECK(pi->key.proto == 6 || pi->key.proto == 17);
	}
	if (pi->kind == PKT_KIND_ND)
		CHECK(pi->l4_off + 24u <= end);
}

/* An address of the packet's family, varied by `salt`. */
static void
addr_for(const struct pkt_info *pi, uint32_t salt, struct halb_ip *ip)
{
	if (pi->family == 4) {
		uint8_t v4[4] = { 10, (uint8_t)(salt >> 16), (uint8_t)(salt >> 8),
				  (uint8_t)salt };
		uint32_t a;

		memcpy(&a, v4, 4);
		halb_ip_from_v4(ip, a);
	} else {
		memset(ip->b, 0, 16);
		ip->b[0] = 0xfd;
		ip->b[13] = (uint8_t)(salt >> 16);
		ip->b[14] = (uint8_t)(salt >> 8);
		ip->b[15] = (uint8_t)salt;
	}
}

static uint16_t
port_of(uint16_t net)
{
	const uint8_t *p = (const uint8_t *)&net;

	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
fuzz_nat(const uint8_t *data, size_t size, const struct pkt_info *pi,
	 uint32_t salt, int fwd)
{
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len;
	uint16_t port = (uint16_t)(salt >> 3);
	struct csums before, after;
	struct pkt_info pi2;
	struct halb_ip ip;
	int rc;

	if (salt & 1)
		port = 0;
	addr_for(pi, salt, &ip);
	memcpy(frame, data, size);
	csums_of(frame, pi, &before);
	if (fwd)
		rc = pkt_rw_nat_fwd(frame, (uint32_t)size, pi, &ip, port);
	else
		rc = pkt_rw_nat_rev(frame, (uint32_t)size, pi, &ip, port);
	if (pi->kind != PKT_KIND_FLOW && pi->kind != PKT_KIND_ICMP_ERR) {
		CHECK(rc == -EINVAL);
		CHECK(memcmp(frame, data, size) == 0);
		return;
	}
	CHECK(rc == 0);
	CHECK(memcmp(frame, data, pi->l3_off) == 0);
	CHECK(memcmp(frame + end, data + end, size - end) == 0);
	CHECK(pkt_parse(frame, (uint32_t)size, &pi2) == PKT_OK);
	CHECK(pi2.kind == pi->kind && pi2.l4_off == pi->l4_off);
	CHECK(pi2.inner_l4_off == pi->inner_l4_off);
	if (fwd) {
		CHECK(memcmp(pi2.key.dst, ip.b, 16) == 0);
		CHECK(memcmp(pi2.key.src, pi->key.src, 16) == 0);
		CHECK(pi2.key.sport == pi->key.sport);
		if (port != 0 && pi->frag != PKT_FRAG_LATER)
			CHECK(port_of(pi2.key.dport) == port);
		else
			CHECK(pi2.key.dport == pi->key.dport);
	} else {
		CHECK(memcmp(pi2.key.src, ip.b, 16) == 0);
		CHECK(memcmp(pi2.key.dst, pi->key.dst, 16) == 0);
		CHECK(pi2.key.dport == pi->key.dport);
		if (port != 0 && pi->frag != PKT_FRAG_LATER)
			CHECK(port_of(pi2.key.sport) == port);
		else
			CHECK(pi2.key.sport == pi->key.sport);
	}
	csums_of(frame, &pi2, &after);
	CHECK(!before.ip4 || after.ip4);
	CHECK(!before.inner || after.inner);
	if (pi->kind == PKT_KIND_ICMP_ERR)
		CHECK(after.l4);
	else
		CHECK(!before.l4 || after.l4);
}

static void
fuzz_vxlan(const uint8_t *data, size_t size, uint32_t salt, int v6)
{
	uint32_t hl = v6 ? PKT_VXLAN_HDR_V6 : PKT_VXLAN_HDR_V4;
	uint32_t max = v6 ? 65535 - 16 : 65535 - 36;
	uint8_t *outer = frame - hl;
	struct pkt_info pi;
	struct pkt_vxlan t;
	uint32_t n;

	memset(&t, 0, sizeof(t));
	memcpy(t.src_mac, mac_a, 6);
	memcpy(t.dst_mac, mac_b, 6);
	memcpy(t.inner_dst_mac, mac_b, 6);
	t.dst_port = PKT_VXLAN_PORT;
	t.vni = salt & 0xffffff;
	if (v6) {
		halb_ip_parse("2001:db8::1", &t.src);
		halb_ip_parse("2001:db8::2", &t.dst);
	} else {
		halb_ip_parse("192.0.2.1", &t.src);
		halb_ip_parse("192.0.2.2", &t.dst);
	}
	memcpy(frame, data, size);
	n = pkt_vxlan_encap(outer, (uint32_t)size, &t, salt);
	if (size > max) {
		CHECK(n == 0);
		return;
	}
	CHECK(n == hl);
	CHECK(memcmp(frame, mac_b, 6) == 0 && memcmp(frame + 6, mac_a, 6) == 0);
	CHECK(memcmp(frame + 12, data + 12, size - 12) == 0);
	CHECK(pkt_parse(outer, hl + (uint32_t)size, &pi) == PKT_OK);
	CHECK(pi.kind == PKT_KIND_FLOW && pi.l4_proto == 17);
	CHECK(port_of(pi.key.dport) == PKT_VXLAN_PORT);
	CHECK(port_of(pi.key.sport) >= 49152);
	if (v6) {
		uint32_t ulen = 16 + (uint32_t)size;

		CHECK(ref_sum(outer + 54, ulen, pseudo(outer + 14, 6, 17, ulen)) ==
		      0xffff);
	} else {
		CHECK(ref_sum(outer + 14, 20, 0) == 0xffff);
	}
}

/* An echo reply, in a buffer of exactly the frame's size: the same
 * length, and it parses as something that is no echo request. */
static void
fuzz_echo(const uint8_t *data, size_t size, const struct pkt_info *pi)
{
	struct pkt_info pi2;
	uint8_t *exact;
	uint32_t n;

	if (!pkt_icmp_is_echo(data, pi))
		return;
	exact = malloc(size);
	CHECK(exact != NULL);
	memcpy(exact, data, size);
	n = pkt_icmp_echo_reply(exact, (uint32_t)size, pi, mac_a);
	CHECK(n == 0 || n == size);
	if (n != 0) {
		CHECK(pkt_parse(exact, n, &pi2) == PKT_OK);
		CHECK(pi2.kind == PKT_KIND_OTHER && !pkt_icmp_is_echo(exact, &pi2));
	}
	free(exact);
}

/* Replies in a buffer of exactly the frame's size (ASan) and a roomy one. */
static void
fuzz_neigh(const uint8_t *data, size_t size, const struct pkt_info *pi)
{
	struct halb_ip target, ip, ip2;
	struct pkt_info pi2;
	uint8_t mac[6];
	uint8_t *exact;
	uint32_t n;
	int rc;

	if (pi->kind == PKT_KIND_ARP || pi->kind == PKT_KIND_ND) {
		enum pkt_neigh_err e = pkt_neigh_check(data, (uint32_t)size, pi);

		CHECK((unsigned int)e < PKT_NEIGH_ERR_MAX);
		CHECK(pkt_neigh_override(data, pi) <= 1);
	}
	rc = pkt_neigh_binding(data, (uint32_t)size, pi, &ip, mac);
	if (pi->kind == PKT_KIND_ARP || pi->kind == PKT_KIND_ND)
		CHECK(rc == 0 || rc == -ENOENT);
	else
		CHECK(rc == -EINVAL);
	if (!pkt_neigh_asks_for(data, (uint32_t)size, pi, &target))
		return;
	CHECK(pi->kind == PKT_KIND_ARP || pi->kind == PKT_KIND_ND);

	exact = malloc(size);
	CHECK(exact != NULL);
	memcpy(exact, data, size);
	if (pi->kind == PKT_KIND_ARP)
		n = pkt_arp_reply(exact, (uint32_t)size, pi, mac_a, &target);
	else
		n = pkt_nd_advert(exact, (uint32_t)size, pi, mac_a, &target);
	CHECK(n <= size);
	free(exact);

	memcpy(frame, data, size);
	if (pi->kind == PKT_KIND_ARP) {
		n = pkt_arp_reply(frame, (uint32_t)size + TAILROOM, pi, mac_a,
				  &target);
		CHECK(n >= 60);
	} else {
		n = pkt_nd_advert(frame, (uint32_t)size + TAILROOM, pi, mac_a,
				  &target);
		if (halb_ip_is_v4(&target)) {
			CHECK(n == 0);
			return;
		}
		CHECK(n == pi->l3_off + 72u);
	}
	CHECK(pkt_parse(frame, n, &pi2) == PKT_OK);
	CHECK(pi2.kind == pi->kind);
	if (pi2.kind == PKT_KIND_ND)
		CHECK(ref_sum(frame + pi2.l4_off, 32,
			      pseudo(frame + pi2.l3_off, 6, 58, 32)) == 0xffff);
	CHECK(memcmp(frame + 6, mac_a, 6) == 0);
	CHECK(!pkt_neigh_asks_for(frame, n, &pi2, &ip2));
	rc = pkt_neigh_binding(frame, n, &pi2, &ip2, mac);
	if (rc == 0) {
		CHECK(halb_ip_eq(&ip2, &target));
		CHECK(memcmp(mac, mac_a, 6) == 0);
	} else {
		/* only a reply from 0.0.0.0 binds nothing */
		CHECK(rc == -ENOENT && pi->kind == PKT_KIND_ARP &&
		      halb_ip_v4(&target) == 0);
	}
}

/* Requests built for addresses found in the frame parse back. */
static void
fuzz_requests(const uint8_t *data, size_t size)
{
	struct halb_ip ip, target, got;
	struct pkt_info pi;
	uint8_t buf[128], mac[6];
	uint32_t n, a, b;

	if (size < 40)
		return;
	memcpy(&a, data + 32, 4);
	memcpy(&b, data + 36, 4);
	halb_ip_from_v4(&ip, a);
	halb_ip_from_v4(&target, b);
	n = pkt_arp_request(buf, mac_a, &ip, &target);
	CHECK(n <= sizeof(buf) && pkt_parse(buf, n, &pi) == PKT_OK);
	CHECK(pi.kind == PKT_KIND_ARP);
	CHECK(pkt_neigh_asks_for(buf, n, &pi, &got) == 1);
	CHECK(halb_ip_eq(&got, &target));
	memcpy(ip.b, data + size - 16, 16);
	memcpy(target.b, data + size - 32, 16);
	/* A port's IPv6 address is never IPv4-mapped (the parser refuses
	 * such a source: PKT_ERR_IP_ADDR). */
	if (halb_ip_is_v4(&ip))
		return;
	n = pkt_nd_solicit(buf, mac_a, &ip, &target);
	CHECK(n <= 86 && pkt_parse(buf, n, &pi) == PKT_OK);
	CHECK(pi.kind == PKT_KIND_ND);
	CHECK(ref_sum(buf + 54, n - 54, pseudo(buf + 14, 6, 58, n - 54)) ==
	      0xffff);
	CHECK(pkt_neigh_asks_for(buf, n, &pi, &got) == 1);
	CHECK(halb_ip_eq(&got, &target));
	if (pkt_neigh_binding(buf, n, &pi, &got, mac) == 0)
		CHECK(halb_ip_eq(&got, &ip) && memcmp(mac, mac_a, 6) == 0);
	else
		CHECK(halb_ip_is_zero(&ip));
}

/* The error the appliance sends about a packet too big for its link. */
static void
fuzz_too_big(const uint8_t *data, size_t size, const struct pkt_info *pi,
	     uint32_t salt)
{
	static uint8_t out[14 + 1280];
	struct pkt_info po;
	enum pkt_verdict v;
	uint32_t n, hl, il;

	n = pkt_icmp_too_big(out, sizeof(out), data, pi, 1280 + salt % 8000,
			     mac_a, mac_b);
	if (pi->kind != PKT_KIND_FLOW || pi->frag == PKT_FRAG_LATER) {
		CHECK(n == 0);
		return;
	}
	CHECK(n > 14 && n <= 14u + (pi->family == 4 ? 576u : 1280u));
	hl = pi->family == 4 ? 20 : 40;
	il = n - 14 - hl - 8;
	CHECK(il <= pi->l3_len);
	CHECK(memcmp(out + 14 + hl + 8, data + pi->l3_off, il) == 0);
	if (pi->family == 4)
		CHECK(ref_sum(out + 14, 20, 0) == 0xffff);
	CHECK(ref_sum(out + 14 + hl, n - 14 - hl,
		      pi->family == 6 ? pseudo(out + 14, 6, 58, n - 14 - hl) :
					0) == 0xffff);
	/* The quote may be cut inside a long IPv6 header chain. */
	v = pkt_parse(out, n, &po);
	CHECK(v == PKT_OK || (v == PKT_ERR_ICMP && pi->family == 6));
	if (v == PKT_OK)
		CHECK(po.kind == PKT_KIND_ICMP_ERR);
	(void)size;
}

/* Delayed binding's reading and translation of a TCP segment. */
static void
fuzz_splice(const uint8_t *data, size_t size, const struct pkt_info *pi,
	    uint32_t salt)
{
	static const uint64_t key[2] = { 0x1234, 0x5678 };
	struct syncookie_opts o, got;
	struct csums before, after;
	uint32_t ck = pi->l4_off + 16, c;

	if (pi->kind != PKT_KIND_FLOW || pi->l4_proto != 6 ||
	    pi->frag != PKT_FRAG_NONE)
		return;
	memcpy(frame, data, size);
	if (splice_opts_read(frame, pi, &o) == 0) {
		CHECK(o.wscale <= 14 || o.wscale == SYNCOOKIE_WS_NONE);
		c = syncookie_make(key, &pi->key, salt, &o);
		CHECK(syncookie_check(key, &pi->key, salt, c, &got) == SYNCOOKIE_OK);
		CHECK(got.mss <= o.mss || got.mss == syncookie_mss[0]);
		CHECK(got.wscale == o.wscale && got.sack == o.sack);
	}
	csums_of(frame, pi, &before);
	if (splice_seq_adjust(frame, pi, salt, salt * 2654435761u) != 0) {
		CHECK(memcmp(frame, data, size) == 0);
		return;
	}
	csums_of(frame, pi, &after);
	CHECK(!before.l4 || after.l4);
	CHECK(splice_seq_adjust(frame, pi, -salt, -(salt * 2654435761u)) == 0);
	CHECK(memcmp(frame, data, ck) == 0);
	CHECK(memcmp(frame + ck + 2, data + ck + 2, size - ck - 2) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_info pi, pi2;
	enum pkt_verdict v;
	uint32_t salt;

	if (size > MAX_FRAME)
		return 0;
	fuzz_requests(data, size);
	v = pkt_parse(data, (uint32_t)size, &pi);
	CHECK((unsigned int)v < PKT_VERDICT_MAX);
	CHECK(strcmp(pkt_verdict_name(v), "unknown") != 0);
	if (v != PKT_OK)
		return 0;
	check_offsets(&pi, size);
	salt = pkt_flow_hash(&pi.key);
	CHECK(salt == pkt_flow_hash(&pi.key));

	/* Same answer from an aligned copy. */
	memcpy(frame, data, size);
	CHECK(pkt_parse(frame, (uint32_t)size, &pi2) == PKT_OK);
	CHECK(memcmp(&pi, &pi2, sizeof(pi)) == 0);

	fuzz_nat(data, size, &pi, salt, 1);
	fuzz_nat(data, size, &pi, salt, 0);

	memcpy(frame, data, size);
	pkt_rw_dsr(frame, mac_a, mac_b);
	CHECK(memcmp(frame, mac_b, 6) == 0 && memcmp(frame + 6, mac_a, 6) == 0);
	CHECK(memcmp(frame + 12, data + 12, size - 12) == 0);

	fuzz_vxlan(data, size, salt, 0);
	fuzz_vxlan(data, size, salt, 1);
	fuzz_neigh(data, size, &pi);
	fuzz_too_big(data, size, &pi, salt);
	fuzz_echo(data, size, &pi);
	fuzz_splice(data, size, &pi, salt);
	return 0;
}
