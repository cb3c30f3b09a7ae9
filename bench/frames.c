/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark frame templates (see frames.h).  Checksum sums follow
 * src/dp/csum.c's convention: 16-bit words in network order, added as
 * host numbers, folded and inverted only when stored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "halb/pkt-t.h"
#include "frames.h"

static uint32_t
sum_words(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0, i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	return s;
}

void
bench_tmpl_init(struct bench_tmpl *t, const uint8_t src_mac[6],
		const uint8_t dst_mac[6], uint32_t vip, uint16_t dport,
		uint8_t tcp_flags)
{
	uint8_t *f = t->frame, *ip = f + 14, *tcp = f + 34;
	uint8_t pseudo[12];

	memset(t, 0, sizeof(*t));
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[3] = 40;        /* total length: headers only */
	ip[6] = 0x40;      /* DF */
	ip[8] = 64;        /* TTL */
	ip[9] = 6;         /* TCP */
	memcpy(ip + 16, &vip, 4);
	tcp[2] = (uint8_t)(dport >> 8);
	tcp[3] = (uint8_t)dport;
	tcp[7] = 1;        /* seq 1 */
	if (tcp_flags & PKT_TCP_ACK)
		tcp[11] = 1; /* ack 1 */
	tcp[12] = 0x50;    /* data offset: 5 words */
	tcp[13] = tcp_flags;
	tcp[14] = 0xff;    /* window */
	tcp[15] = 0xff;
	/* Source address, source port and checksums are zero here: the
	 * sums leave them out and bench_frame() adds them per flow. */
	t->ip_sum = sum_words(ip, 20);
	memset(pseudo, 0, sizeof(pseudo));
	memcpy(pseudo + 4, &vip, 4);
	pseudo[9] = 6;
	pseudo[11] = 20;
	t->tcp_sum = sum_words(pseudo, 12) + sum_words(tcp, 20);
}

int
bench_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int v[6], i;
	char end;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &end) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

int
bench_parse_ip4(const char *s, uint32_t *be)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*be = a.s_addr;
	return 0;
}

/* A frame from src:sport to dst:dport (network order) with the given
 * sequence numbers, flags and payload, into f (Ethernet addresses in
 * mac: destination, source); returns its length. */
static uint32_t
tcp4_frame(uint8_t *f, const uint8_t mac[12], uint32_t src, uint32_t dst,
	   uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
	   uint8_t flags, const char *data, uint16_t len)
{
	struct rte_ipv4_hdr *ip;
	uint8_t *tcp;
	uint16_t cs;

	memcpy(f, mac, 12);
	f[12] = 0x08;
	f[13] = 0x00;
	ip = (struct rte_ipv4_hdr *)(f + 14);
	memset(ip, 0, 20);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(40u + len));
	ip->fragment_offset = rte_cpu_to_be_16(0x4000);
	ip->time_to_live = 64;
	ip->next_proto_id = 6;
	ip->src_addr = src;
	ip->dst_addr = dst;
	tcp = f + 34;
	memset(tcp, 0, 20);
	memcpy(tcp, &sport, 2);
	memcpy(tcp + 2, &dport, 2);
	seq = rte_cpu_to_be_32(seq);
	ack = rte_cpu_to_be_32(ack);
	memcpy(tcp + 4, &seq, 4);
	memcpy(tcp + 8, &ack, 4);
	tcp[12] = 0x50;
	tcp[13] = flags;
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	if (len)
		memcpy(tcp + 20, data, len);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	cs = rte_ipv4_udptcp_cksum(ip, tcp);
	memcpy(tcp + 16, &cs, 2);
	return 54u + len;
}

enum bench_bind_step
bench_bind_reply(uint8_t *f, uint32_t len, uint32_t vip, uint32_t *out_len)
{
	static const char req[] = BENCH_BIND_REQ;
	uint32_t src, dst, seq, ack;
	uint16_t sport, dport, iplen;
	uint8_t mac[12], fl;

	if (len < 54 || f[12] != 0x08 || f[13] != 0x00 || f[14] != 0x45 ||
	    f[23] != 6)
		return BENCH_BIND_OTHER;
	memcpy(mac, f + 6, 6);
	memcpy(mac + 6, f, 6);
	memcpy(&src, f + 26, 4);
	memcpy(&dst, f + 30, 4);
	memcpy(&sport, f + 34, 2);
	memcpy(&dport, f + 36, 2);
	memcpy(&seq, f + 38, 4);
	memcpy(&ack, f + 42, 4);
	seq = rte_be_to_cpu_32(seq);
	ack = rte_be_to_cpu_32(ack);
	iplen = (uint16_t)(f[16] << 8 | f[17]);
	fl = f[47];
	if (fl == 0x12 && src == vip) {
		/* The cookie: the client's ACK with its request. */
		*out_len = tcp4_frame(f, mac, dst, src, dport, sport, ack, seq + 1,
				      0x18, req, sizeof(req) - 1);
		return BENCH_BIND_SEND;
	}
	if (fl == 0x02) {
		/* The router's SYN: the backend's SYN-ACK. */
		*out_len = tcp4_frame(f, mac, dst, src, dport, sport, 0x10000000u,
				      seq + 1, 0x12, NULL, 0);
		return BENCH_BIND_SEND;
	}
	if (src != vip && iplen > 40u + (uint32_t)(f[46] >> 4) * 4u - 20u &&
	    (fl & 0x04) == 0)
		return BENCH_BIND_DONE; /* data to a backend: the request */
	return BENCH_BIND_OTHER;
}
