/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SYN cookies (halb/syncookie.h): SipHash-2-4 (Aumasson and Bernstein,
 * the reference algorithm) and the cookie's encoding.  Pure functions:
 * the forwarder's workers call them per SYN and per segment of a
 * connection that is not bound yet.
 */
#include <assert.h>
#include <endian.h>
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

/* The state of SipHash-2-4 between message blocks. */
struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline uint64_t
rd64le(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline void
sip_init(struct sip *s, const uint64_t key[2])
{
	s->v0 = 0x736f6d6570736575ull ^ key[0];
	s->v1 = 0x646f72616e646f6dull ^ key[1];
	s->v2 = 0x6c7967656e657261ull ^ key[0];
	s->v3 = 0x7465646279746573ull ^ key[1];
}

static inline void
sip_block(struct sip *s, uint64_t m)
{
	uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3 ^ m;

	SIPROUND;
	SIPROUND;
	s->v0 = v0 ^ m;
	s->v1 = v1;
	s->v2 = v2;
	s->v3 = v3;
}

/* The last block b (the message's length in its top byte and its last
 * n mod 8 bytes) and the finalisation, on a copy of the state. */
static inline uint64_t
sip_final(const struct sip *s, uint64_t b)
{
	uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3 ^ b;

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

uint64_t
syncookie_siphash(const uint64_t key[2], const void *data, uint32_t n)
{
	const uint8_t *p = data;
	uint64_t m;
	uint32_t i, left = n & 7;
	struct sip s;

	sip_init(&s, key);
	for (i = 0; i + 8 <= n; i += 8)
		sip_block(&s, rd64le(p + i));
	for (m = 0; left > 0; left--)
		m |= (uint64_t)p[i + left - 1] << (8 * (left - 1));
	return sip_final(&s, (uint64_t)n << 56 | m);
}

/*
 * H(key, tuple, t) is SipHash of the 40-byte key followed by the 4
 * bytes of t as they are in memory (44 bytes).  A cookie takes it for
 * two values of t: the state after the tuple's five blocks is the same
 * for both, so it is computed once (cookie_absorb) and finished for
 * each t (cookie_final), the same values as syncookie_siphash() over
 * the 44 bytes.
 */
static_assert(sizeof(struct flow_key) == 40, "the cookie hashes 40 + 4 bytes");

static inline void
cookie_absorb(struct sip *s, const uint64_t key[2], const struct flow_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t i;

	sip_init(s, key);
	for (i = 0; i < sizeof(*k); i += 8)
		sip_block(s, rd64le(p + i));
}

static inline uint32_t
cookie_final(const struct sip *s, uint32_t t)
{
	uint8_t b[4];

	memcpy(b, &t, 4);
	return (uint32_t)sip_final(s, (uint64_t)(sizeof(struct flow_key) + 4) << 56 |
				      (uint64_t)b[3] << 24 | (uint64_t)b[2] << 16 |
				      (uint64_t)b[1] << 8 | b[0]);
}

uint32_t
syncookie_opts_pack(const struct syncookie_opts *o)
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
	struct sip s;

	cookie_absorb(&s, key, k);
	return cookie_final(&s, 0x100) + (t << 24) +
	       ((cookie_final(&s, t) + (syncookie_opts_pack(o) << SYNCOOKIE_DATA_SHIFT)) &
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
	uint32_t v, t, field, data, age;
	struct sip s;

	cookie_absorb(&s, key, k);
	v = cookie - cookie_final(&s, 0x100);
	t = v >> 24;
	field = (v - cookie_final(&s, t)) & 0xffffff;
	data = field >> SYNCOOKIE_DATA_SHIFT;
	*past = field & ((1u << SYNCOOKIE_DATA_SHIFT) - 1);
	if (data >= 1u << 7)
		return SYNCOOKIE_FORGED;
	age = (now_t - t) & 0xff;
	if (age > SYNCOOKIE_MAX_AGE)
		return *past != 0 ? SYNCOOKIE_FORGED : SYNCOOKIE_STALE;
	if (*past != 0)
		return SYNCOOKIE_PAST;
	syncookie_opts_unpack(data, o);
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

void
syncookie_opts_unpack(uint32_t data, struct syncookie_opts *o)
{
	o->mss = syncookie_mss[data & 3];
	o->wscale = (uint8_t)(data >> 2 & 0xf);
	o->sack = (data >> 6 & 1) != 0;
}
