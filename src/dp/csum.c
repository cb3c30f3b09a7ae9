/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internet checksums (RFC 1071), for the parser's checks and the
 * rewriters (rewrite.c) and the ICMP messages the appliance builds.
 *
 * Checksum convention, shared by every caller of pkt_csum():
 *  - A "sum" is a one's complement sum of 16-bit words read in network
 *    order (big-endian), held as a host-order number; it is never
 *    inverted until it is stored.
 *  - pkt_csum(data, len, sum) returns sum + data folded to 16 bits (an odd
 *    last byte is padded with a zero byte, as in RFC 1071).
 *  - pkt_csum_fold(sum) folds a 32-bit partial sum to 16 bits.
 *  - The caller stores (uint16_t)~result, high byte first, and verifies
 *    a received header by checking that the sum over it, checksum field
 *    included, folds to 0xffff.
 */
#include <stdint.h>

#include "halb/pkt.h"
#include "wire.h"

static inline uint64_t
add_carry(uint64_t acc, uint64_t w)
{
	acc += w;
	return acc + (acc < w); /* 2^64 == 1 modulo 0xffff */
}

uint16_t
pkt_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t
fold64(uint64_t acc)
{
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return pkt_csum_fold((uint32_t)acc);
}

/*
 * Sums native-order words eight bytes at a time and turns the result into
 * the network-order sum at the end: RFC 1071's byte-order independence
 * (the native sum's bytes, read big-endian, are the big-endian sum).
 */
uint16_t
pkt_csum(const void *data, uint32_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = 0;
	uint8_t b[2];
	uint16_t n16;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		acc = add_carry(acc, w);
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		acc = add_carry(acc, w);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&n16, p, 2);
		acc = add_carry(acc, n16);
		p += 2;
		len -= 2;
	}
	if (len != 0) {
		b[0] = *p;
		b[1] = 0;
		memcpy(&n16, b, 2);
		acc = add_carry(acc, n16);
	}
	n16 = fold64(acc);
	memcpy(b, &n16, 2);
	return fold64((uint64_t)rd16(b) + sum);
}
