/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP segments for delayed binding (halb/splice.h).  The builders write
 * whole frames; the translation edits a parsed segment in place and
 * updates its checksum incrementally (RFC 1624), as rewrite.c does.
 */
#include <arpa/inet.h>
#include <string.h>

#include "halb/pkt.h"
#include "halb/splice.h"
#include "wire.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2
#define OPT_WS 3
#define OPT_SACK_OK 4
#define OPT_SACK 5

static void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

static uint32_t
tcp_hlen(const uint8_t *frame, const struct pkt_info *pi)
{
	return (uint32_t)(frame[pi->l4_off + 12] >> 4) * 4;
}

uint32_t
splice_seq(const uint8_t *frame, const struct pkt_info *pi)
{
	return rd32(frame + pi->l4_off + 4);
}

uint32_t
splice_ack(const uint8_t *frame, const struct pkt_info *pi)
{
	return rd32(frame + pi->l4_off + 8);
}

uint16_t
splice_win(const uint8_t *frame, const struct pkt_info *pi)
{
	return rd16(frame + pi->l4_off + 14);
}

uint32_t
splice_payload(const uint8_t *frame, const struct pkt_info *pi, uint32_t *len)
{
	uint32_t off = pi->l4_off + tcp_hlen(frame, pi);
	uint32_t end = (uint32_t)pi->l3_off + pi->l3_len;

	*len = end > off ? end - off : 0;
	return off;
}

int
splice_opts_read(const uint8_t *frame, const struct pkt_info *pi,
		 struct syncookie_opts *o)
{
	const uint8_t *p = frame + pi->l4_off + 20;
	uint32_t n = tcp_hlen(frame, pi) - 20, i = 0;

	o->mss = pi->family == 4 ? 536 : 1220;
	o->wscale = SYNCOOKIE_WS_NONE;
	o->sack = false;
	while (i < n) {
		uint8_t kind = p[i], len;

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n || (len = p[i + 1]) < 2 || i + len > n)
			return -1;
		if (kind == OPT_MSS && len == 4)
			o->mss = rd16(p + i + 2);
		else if (kind == OPT_WS && len == 3)
			o->wscale = p[i + 2] > 14 ? 14 : p[i + 2];
		else if (kind == OPT_SACK_OK && len == 2)
			o->sack = true;
		i += len;
	}
	return 0;
}

uint8_t
splice_opts_syn(uint8_t *buf, const struct syncookie_opts *o)
{
	uint8_t n = 0;

	buf[n++] = OPT_MSS;
	buf[n++] = 4;
	wr16(buf + n, o->mss);
	n += 2;
	if (o->sack) {
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_SACK_OK;
		buf[n++] = 2;
	}
	if (o->wscale != SYNCOOKIE_WS_NONE) {
		buf[n++] = OPT_NOP;
		buf[n++] = OPT_WS;
		buf[n++] = 3;
		buf[n++] = o->wscale;
	}
	return n;
}

uint32_t
splice_build(uint8_t *buf, uint32_t cap, const struct splice_seg *s)
{
	uint32_t l3 = 14, iplen = s->family == 4 ? 20 : 40;
	uint32_t tlen = 20u + s->opts_len + s->data_len, len = l3 + iplen + tlen;
	uint8_t *ip = buf + l3, *tcp = buf + l3 + iplen;
	uint32_t sum;

	if (len > cap || (s->opts_len & 3) != 0 || tlen + iplen > 0xffff)
		return 0;
	memset(buf, 0, l3 + iplen + 20);
	if (s->family == 4) {
		wr16(buf + 12, 0x0800);
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)(iplen + tlen));
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, s->src + 12, 4);
		memcpy(ip + 16, s->dst + 12, 4);
		wr16(ip + 10, (uint16_t)~pkt_csum(ip, 20, 0));
		sum = (uint32_t)pkt_csum(ip + 12, 8, 0) + 6 + tlen;
	} else {
		wr16(buf + 12, 0x86dd);
		ip[0] = 0x60;
		wr16(ip + 4, (uint16_t)tlen);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, s->src, 16);
		memcpy(ip + 24, s->dst, 16);
		sum = (uint32_t)pkt_csum(ip + 8, 32, 0) + 6 + tlen;
	}
	memcpy(tcp, &s->sport, 2);
	memcpy(tcp + 2, &s->dport, 2);
	wr32(tcp + 4, s->seq);
	wr32(tcp + 8, s->ack);
	tcp[12] = (uint8_t)((20 + s->opts_len) / 4 << 4);
	tcp[13] = s->flags;
	wr16(tcp + 14, s->win);
	if (s->opts_len != 0)
		memcpy(tcp + 20, s->opts, s->opts_len);
	if (s->data_len != 0)
		memcpy(tcp + 20 + s->opts_len, s->data, s->data_len);
	wr16(tcp + 16, (uint16_t)~pkt_csum(tcp, tlen, sum));
	return len;
}

/*
 * Adds d to the 32-bit field at p (network order) and updates the
 * checksum at ck to match: RFC 1624 eqn. 3, on the raw 16-bit words (a
 * one's complement sum does not depend on the byte order, RFC 1071), so
 * that a bound connection's packet pays a few instructions, no byte
 * loop and no call.
 */
static inline void
csum_add32(uint8_t *ck, uint8_t *p, uint32_t d)
{
	uint32_t o, n, s;
	uint16_t c;

	memcpy(&o, p, 4);
	n = htonl(ntohl(o) + d);
	memcpy(p, &n, 4);
	memcpy(&c, ck, 2);
	s = (uint32_t)(uint16_t)~c + (~o & 0xffff) + (~o >> 16) +
	    (n & 0xffff) + (n >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	memcpy(ck, &c, 2);
}

int
splice_seq_adjust(uint8_t *frame, const struct pkt_info *pi, uint32_t dseq,
		  uint32_t dack)
{
	uint8_t *tcp = frame + pi->l4_off, *ck = tcp + 16;
	uint32_t n = tcp_hlen(frame, pi) - 20, i = 0;
	uint8_t *p = tcp + 20;

	/* Check the options first: a malformed segment stays unchanged. */
	while (dack != 0 && i < n) {
		uint8_t len;

		if (p[i] == OPT_EOL)
			break;
		if (p[i] == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n || (len = p[i + 1]) < 2 || i + len > n)
			return -1;
		if (p[i] == OPT_SACK && (len - 2) % 8 != 0)
			return -1;
		i += len;
	}
	if (dseq != 0)
		csum_add32(ck, tcp + 4, dseq);
	if (dack == 0)
		return 0;
	if (tcp[13] & SPLICE_ACK)
		csum_add32(ck, tcp + 8, dack);
	for (i = 0; i < n;) {
		uint8_t len;
		uint32_t j;

		if (p[i] == OPT_EOL)
			break;
		if (p[i] == OPT_NOP) {
			i++;
			continue;
		}
		len = p[i + 1];
		if (p[i] == OPT_SACK)
			for (j = i + 2; j + 4 <= (uint32_t)i + len; j += 4)
				csum_add32(ck, p + j, dack);
		i += len;
	}
	return 0;
}
