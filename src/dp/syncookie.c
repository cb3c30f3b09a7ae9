/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SYN cookies (halb/syncookie.h): SipHash-2-4 (Aumasson and Bernstein,
 * the reference algorithm) and the cookie's encoding.  Pure functions:
 * the forwarder's workers call them per SYN and per segment of a
 * connection that is not bound yet.
 */
#include <string.h>

#include "halb/syncookie.h"

const uint16_t syncookie_mss[SYNCOOKIE_N_MSS] = { 536, 1220, 1440, 1460 };

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                        \
	do {                                                            \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                  \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                  \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t
rd64le(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t
syncookie_siphash(const uint64_t key[2], const void *data, uint32_t n)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ull ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dull ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ull ^ key[0];
	uint64_t v3 = 0x7465646279746573ull ^ key[1];
	uint64_t b = (uint64_t)n << 56, m;
	uint32_t i, left = n & 7;

	for (i = 0; i + 8 <= n; i += 8) {
		m = rd64le(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (m = 0; left > 0; left--)
		m |= (uint64_t)p[i + left - 1] << (8 * (left - 1));
	b |= m;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* H(key, tuple, t): the 40-byte key and the clock unit, 44 bytes. */
static uint32_t
cookie_hash(const uint64_t key[2], const struct flow_key *k, uint32_t t)
{
	uint8_t buf[sizeof(*k) + 4];

	memcpy(buf, k, sizeof(*k));
	memcpy(buf + sizeof(*k), &t, 4);
	return (uint32_t)syncookie_siphash(key, buf, sizeof(buf));
}

static uint32_t
opts_encode(const struct syncookie_opts *o)
{
	uint32_t i = SYNCOOKIE_N_MSS - 1, ws = o->wscale;

	while (i > 0 && syncookie_mss[i] > o->mss)
		i--;
	if (ws != SYNCOOKIE_WS_NONE && ws > 14)
		ws = 14;
	return i | ws << 2 | (uint32_t)(o->sack ? 1 : 0) << 6;
}

uint32_t
syncookie_make(const uint64_t key[2], const struct flow_key *k,
	       uint32_t now_ms, const struct syncookie_opts *o)
{
	uint32_t t = (now_ms >> SYNCOOKIE_T_SHIFT) & 0xff;

	return cookie_hash(key, k, 0x100) + (t << 24) +
	       ((cookie_hash(key, k, t) + (opts_encode(o) << SYNCOOKIE_DATA_SHIFT)) &
		0xffffff);
}

/*
 * The data sits above SYNCOOKIE_DATA_SHIFT bits of zeros, so that a
 * number a little past a cookie (cookie + n, 0 < n < 2^SYNCOOKIE_DATA_SHIFT:
 * the ack of a client that got bytes after the SYN-ACK) decodes to the
 * same t and data with n in those bits: told apart from a valid cookie
 * (SYNCOOKIE_PAST) instead of passing for one with other options.  A
 * number past an old cookie is only FORGED: STALE stays as rare for a
 * guess as OK is.
 */
enum syncookie_verdict
syncookie_check_past(const uint64_t key[2], const struct flow_key *k,
		     uint32_t now_ms, uint32_t cookie, struct syncookie_opts *o,
		     uint32_t *past)
{
	uint32_t now_t = (now_ms >> SYNCOOKIE_T_SHIFT) & 0xff;
	uint32_t v = cookie - cookie_hash(key, k, 0x100);
	uint32_t t = v >> 24, field, data, age;

	field = (v - cookie_hash(key, k, t)) & 0xffffff;
	data = field >> SYNCOOKIE_DATA_SHIFT;
	*past = field & ((1u << SYNCOOKIE_DATA_SHIFT) - 1);
	if (data >= 1u << 7)
		return SYNCOOKIE_FORGED;
	age = (now_t - t) & 0xff;
	if (age > SYNCOOKIE_MAX_AGE)
		return *past != 0 ? SYNCOOKIE_FORGED : SYNCOOKIE_STALE;
	if (*past != 0)
		return SYNCOOKIE_PAST;
	o->mss = syncookie_mss[data & 3];
	o->wscale = (uint8_t)(data >> 2 & 0xf);
	o->sack = (data >> 6 & 1) != 0;
	return SYNCOOKIE_OK;
}

enum syncookie_verdict
syncookie_check(const uint64_t key[2], const struct flow_key *k,
		uint32_t now_ms, uint32_t cookie, struct syncookie_opts *o)
{
	uint32_t past;
	enum syncookie_verdict v = syncookie_check_past(key, k, now_ms, cookie,
							o, &past);

	return v == SYNCOOKIE_PAST ? SYNCOOKIE_FORGED : v;
}
