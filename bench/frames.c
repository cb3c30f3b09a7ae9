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
