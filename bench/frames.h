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

/*
 * The client and the backend of a request-routed connection, as
 * halb-bench-gen bind and halb-bench-bind play them (IPv4, no TCP
 * options): bench_bind_reply() looks at frame f (len bytes) that the
 * DUT sent and says what it is:
 *   BENCH_BIND_SEND   a cookie SYN-ACK from vip (f is rewritten, in
 *                     place, into the client's ACK carrying
 *                     BENCH_BIND_REQ) or the router's SYN to a backend
 *                     (rewritten into the backend's SYN-ACK, ISN
 *                     0x10000000); *out_len is the new length and the
 *                     buffer must hold BENCH_BIND_MAX_LEN bytes;
 *   BENCH_BIND_DONE   data to a backend: the request, the binding done;
 *   BENCH_BIND_OTHER  anything else (a RST, the bare ACK to a backend).
 * Ethernet addresses are swapped; IPv4 and TCP checksums computed.
 */
#define BENCH_BIND_REQ "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
#define BENCH_BIND_MAX_LEN (54u + sizeof(BENCH_BIND_REQ) - 1u)

enum bench_bind_step { BENCH_BIND_SEND, BENCH_BIND_DONE, BENCH_BIND_OTHER };

enum bench_bind_step bench_bind_reply(uint8_t *f, uint32_t len, uint32_t vip,
				      uint32_t *out_len);

/* Parses "aa:bb:cc:dd:ee:ff" or "a.b.c.d" for the command lines;
 * return 0 or -EINVAL. */
int bench_parse_mac(const char *s, uint8_t mac[6]);
int bench_parse_ip4(const char *s, uint32_t *be);

#endif
