/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark traffic: 60-byte Ethernet/IPv4/TCP frames (64 bytes on the
 * wire with the FCS, the RFC 2544 minimum) of numbered client flows to
 * one VIP.  Flow i comes from 10.0.0.0 + (i >> 14), port 1024 + (i mod
 * 16384), so 16M distinct flows fit; frame building is a copy of a
 * template plus a patch of the source address, port and both checksums
 * (summed incrementally from the template's), cheap enough for the
 * generator's inner loop.  Used by the generator and the harnesses, so
 * that every figure is about the same frames.
 */
#ifndef HALB_BENCH_FRAMES_H
#define HALB_BENCH_FRAMES_H

#include <stdint.h>

#define BENCH_FRAME_LEN 60u
#define BENCH_MAX_FLOWS (1u << 24)

struct bench_tmpl {
	uint8_t frame[BENCH_FRAME_LEN];
	uint32_t ip_sum;  /* header sum without the source address */
	uint32_t tcp_sum; /* pseudo header + header without source, sport */
};

/*
 * Prepares the template of frames from src_mac to dst_mac, to vip
 * (network order) and dport (host order) with the given TCP flags
 * (PKT_TCP_*; an ACK carries ack number 1).
 */
void bench_tmpl_init(struct bench_tmpl *t, const uint8_t src_mac[6],
		     const uint8_t dst_mac[6], uint32_t vip, uint16_t dport,
		     uint8_t tcp_flags);

/* Writes flow i's frame (BENCH_FRAME_LEN bytes) into buf. */
static inline void
bench_frame(uint8_t *buf, const struct bench_tmpl *t, uint32_t i)
{
	uint32_t src = 0x0a000000u + (i >> 14), ips, tcps;
	uint16_t sport = (uint16_t)(1024u + (i & 0x3fffu));
	uint8_t *ip = buf + 14, *tcp = buf + 34;

	__builtin_memcpy(buf, t->frame, BENCH_FRAME_LEN);
	ip[12] = (uint8_t)(src >> 24);
	ip[13] = (uint8_t)(src >> 16);
	ip[14] = (uint8_t)(src >> 8);
	ip[15] = (uint8_t)src;
	tcp[0] = (uint8_t)(sport >> 8);
	tcp[1] = (uint8_t)sport;
	ips = t->ip_sum + (src >> 16) + (src & 0xffff);
	tcps = t->tcp_sum + (src >> 16) + (src & 0xffff) + sport;
	ips = (ips & 0xffff) + (ips >> 16);
	ips = (ips & 0xffff) + (ips >> 16);
	tcps = (tcps & 0xffff) + (tcps >> 16);
	tcps = (tcps & 0xffff) + (tcps >> 16);
	ips = ~ips & 0xffff;
	tcps = ~tcps & 0xffff;
	ip[10] = (uint8_t)(ips >> 8);
	ip[11] = (uint8_t)ips;
	tcp[16] = (uint8_t)(tcps >> 8);
	tcp[17] = (uint8_t)tcps;
}

/* Parses "aa:bb:cc:dd:ee:ff" or "a.b.c.d" for the command lines;
 * return 0 or -EINVAL. */
int bench_parse_mac(const char *s, uint8_t mac[6]);
int bench_parse_ip4(const char *s, uint32_t *be);

#endif
