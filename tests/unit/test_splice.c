/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SYN cookies (src/dp/syncookie.c) and the TCP segment helpers of
 * delayed binding (src/dp/splice.c): SipHash-2-4 against the reference
 * vectors, the cookie against its definition, cookies valid, stale (past SYNCOOKIE_MAX_AGE clock units, and
 * across the clock's 8-bit wrap) and forged, the options they keep; a
 * built segment that pkt_parse() accepts with valid checksums; the
 * sequence translation modulo 2^32, SACK blocks included, with the
 * checksum updated incrementally as a full recomputation gives it, and
 * malformed options refused unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/pkt.h"
#include "halb/splice.h"
#include "halb/syncookie.h"

static const uint64_t key[2] = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

static void
mk_key(struct flow_key *k, uint8_t last)
{
	memset(k, 0, sizeof(*k));
	k->src[10] = k->src[11] = 0xff;
	k->src[12] = 198; k->src[13] = 18; k->src[14] = 1; k->src[15] = last;
	k->dst[10] = k->dst[11] = 0xff;
	k->dst[12] = 198; k->dst[13] = 18; k->dst[14] = 2; k->dst[15] = 110;
	k->sport = 0x3412;
	k->dport = 0x5000;
	k->proto = 6;
}

/* The reference implementation's vectors (key 00..0f, message 00..n-1). */
static void
test_siphash_vector(void **state)
{
	uint8_t msg[63];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	assert_true(syncookie_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ull);
	assert_true(syncookie_siphash(key, msg, 15) == 0xa129ca6149be45e5ull);
	/* A cookie's length (44: five blocks and 4 bytes), and the last. */
	assert_true(syncookie_siphash(key, msg, 44) == 0xf935451de4f21df2ull);
	assert_true(syncookie_siphash(key, msg, 63) == 0x958a324ceb064572ull);
}

/* The cookie is its definition (halb/syncookie.h): H over the 40-byte
 * key and the 4 bytes of t, for t = 0x100 and the clock unit, although
 * syncookie.c hashes the key once for both. */
static void
test_cookie_definition(void **state)
{
	struct syncookie_opts o = { .mss = 1460, .wscale = 7, .sack = true };
	uint8_t buf[sizeof(struct flow_key) + 4];
	uint32_t now, t, t0 = 0x100, i, h0, ht;
	struct flow_key k;

	(void)state;
	for (i = 0; i < 300; i++) {
		mk_key(&k, (uint8_t)i);
		k.sport = (uint16_t)(i * 7919u);
		now = i << SYNCOOKIE_T_SHIFT | (i * 13u & 0xffffu);
		t = (now >> SYNCOOKIE_T_SHIFT) & 0xff;
		memcpy(buf, &k, sizeof(k));
		memcpy(buf + sizeof(k), &t0, 4);
		h0 = (uint32_t)syncookie_siphash(key, buf, sizeof(buf));
		memcpy(buf + sizeof(k), &t, 4);
		ht = (uint32_t)syncookie_siphash(key, buf, sizeof(buf));
		/* data: MSS 1460 (index 3), window scale 7, SACK. */
		assert_int_equal(syncookie_make(key, &k, now, &o),
				 h0 + (t << 24) +
				 ((ht + ((3u | 7u << 2 | 1u << 6) << SYNCOOKIE_DATA_SHIFT)) &
				  0xffffff));
	}
}

static void
test_cookie_valid_stale_forged(void **state)
{
	struct syncookie_opts o = { .mss = 1400, .wscale = 8, .sack = true }, got;
	struct flow_key k, k2;
	uint32_t now = 5u << SYNCOOKIE_T_SHIFT, c, n_forged = 0, i;

	(void)state;
	mk_key(&k, 70);
	mk_key(&k2, 71);
	c = syncookie_make(key, &k, now, &o);
	assert_int_equal(syncookie_check(key, &k, now, c, &got), SYNCOOKIE_OK);
	assert_int_equal(got.mss, 1220); /* rounded down to the table */
	assert_int_equal(got.wscale, 8);
	assert_true(got.sack);
	/* What the worker hands the router (HALB_L7_IN_CO) decodes alike. */
	memset(&got, 0, sizeof(got));
	syncookie_opts_unpack(syncookie_opts_pack(&o), &got);
	assert_int_equal(got.mss, 1220);
	assert_int_equal(got.wscale, 8);
	assert_true(got.sack);
	assert_true(syncookie_opts_pack(&o) < 0x80);
	/* Valid for SYNCOOKIE_MAX_AGE more units, then stale. */
	assert_int_equal(syncookie_check(key, &k,
					 now + (SYNCOOKIE_MAX_AGE << SYNCOOKIE_T_SHIFT),
					 c, &got), SYNCOOKIE_OK);
	assert_int_equal(syncookie_check(key, &k,
					 now + ((SYNCOOKIE_MAX_AGE + 1) << SYNCOOKIE_T_SHIFT),
					 c, &got), SYNCOOKIE_STALE);
	/* Another tuple, another key, or a guess: forged. */
	assert_int_equal(syncookie_check(key, &k2, now, c, &got), SYNCOOKIE_FORGED);
	for (i = 0; i < 100000; i++)
		n_forged += syncookie_check(key, &k, now, c + 1 + i * 7919u, &got) ==
			    SYNCOOKIE_FORGED;
	/* A random value passes with 2^-17 at most per valid unit. */
	assert_true(n_forged >= 100000 - 10);
	/* Across the clock's wrap (8 bits of units). */
	now = 255u << SYNCOOKIE_T_SHIFT;
	c = syncookie_make(key, &k, now, &o);
	assert_int_equal(syncookie_check(key, &k, now + (2u << SYNCOOKIE_T_SHIFT),
					 c, &got), SYNCOOKIE_OK);
	/* No window scale, no SACK, a tiny MSS. */
	o.wscale = SYNCOOKIE_WS_NONE;
	o.sack = false;
	o.mss = 100;
	c = syncookie_make(key, &k, now, &o);
	assert_int_equal(syncookie_check(key, &k, now, c, &got), SYNCOOKIE_OK);
	assert_int_equal(got.wscale, SYNCOOKIE_WS_NONE);
	assert_false(got.sack);
	assert_int_equal(got.mss, 536);
}

/* A number a little past a valid cookie (the ack of a client that was
 * sent the router's answer) is told apart: PAST with how far, never a
 * valid cookie with other options; 256 past is where the data's next
 * value begins.  syncookie_check() calls it forged. */
static void
test_cookie_past(void **state)
{
	struct syncookie_opts o = { .mss = 1460, .wscale = 7, .sack = true }, got;
	uint32_t now = 9u << SYNCOOKIE_T_SHIFT, c, n, past, n_past = 0, i;
	struct flow_key k;

	(void)state;
	mk_key(&k, 72);
	c = syncookie_make(key, &k, now, &o);
	for (n = 1; n < 256; n++) {
		past = 0;
		assert_int_equal(syncookie_check_past(key, &k, now, c + n, &got, &past),
				 SYNCOOKIE_PAST);
		assert_int_equal(past, n);
		assert_int_equal(syncookie_check(key, &k, now, c + n, &got),
				 SYNCOOKIE_FORGED);
	}
	assert_int_equal(syncookie_check_past(key, &k, now, c, &got, &past),
			 SYNCOOKIE_OK);
	assert_int_equal(got.mss, 1460);
	/* Past an old cookie: forged, not stale. */
	assert_int_equal(syncookie_check_past(key, &k,
					      now + ((SYNCOOKIE_MAX_AGE + 1) << SYNCOOKIE_T_SHIFT),
					      c + 75, &got, &past), SYNCOOKIE_FORGED);
	/* Guesses: PAST at most 2^-9 of them per valid unit. */
	for (i = 0; i < 100000; i++)
		n_past += syncookie_check_past(key, &k, now, c + 1000 + i * 7919u,
					       &got, &past) == SYNCOOKIE_PAST;
	assert_true(n_past <= 100000 / 512 * 3 + 20);
}

/* A segment with SACK blocks, built and parsed back. */
static uint32_t
mk_seg(uint8_t *buf, uint32_t cap, uint32_t seq, uint32_t ack, uint32_t l,
       uint32_t r, struct pkt_info *pi)
{
	struct flow_key k;
	uint8_t opts[12] = { 1, 1, 5, 10 };
	struct splice_seg s = { 0 };
	uint32_t len;

	mk_key(&k, 70);
	opts[4] = (uint8_t)(l >> 24); opts[5] = (uint8_t)(l >> 16);
	opts[6] = (uint8_t)(l >> 8); opts[7] = (uint8_t)l;
	opts[8] = (uint8_t)(r >> 24); opts[9] = (uint8_t)(r >> 16);
	opts[10] = (uint8_t)(r >> 8); opts[11] = (uint8_t)r;
	s.family = 4;
	s.src = k.src;
	s.dst = k.dst;
	s.sport = k.sport;
	s.dport = k.dport;
	s.seq = seq;
	s.ack = ack;
	s.flags = SPLICE_ACK;
	s.win = 500;
	s.opts = opts;
	s.opts_len = sizeof(opts);
	s.data = (const uint8_t *)"hello";
	s.data_len = 5;
	len = splice_build(buf, cap, &s);
	assert_true(len > 0);
	assert_int_equal(pkt_parse(buf, len, pi), PKT_OK);
	return len;
}

/* The TCP checksum of a built frame is right when the sum over the
 * segment and its pseudo-header folds to 0xffff. */
static bool
tcp_csum_ok(const uint8_t *f, const struct pkt_info *pi)
{
	uint32_t n = pi->l3_len - (pi->l4_off - pi->l3_off);
	uint32_t sum = (uint32_t)pkt_csum(f + pi->l3_off + 12, 8, 0) + 6 + n;

	return pkt_csum(f + pi->l4_off, n, sum) == 0xffff;
}

static void
test_build_and_adjust(void **state)
{
	uint8_t a[256], b[256];
	struct pkt_info pa, pb;
	uint32_t d = 0x90000000u, la, lb;
	struct syncookie_opts o;

	(void)state;
	la = mk_seg(a, sizeof(a), 0xfffffff0u, 0xffffff00u, 0xfffffff8u,
		    0x00000010u, &pa);
	assert_true(tcp_csum_ok(a, &pa));
	assert_int_equal(pkt_csum(a + pa.l3_off, 20, 0), 0xffff);
	/* + d to ack and SACK, seq - 7: as if built with those numbers. */
	assert_int_equal(splice_seq_adjust(a, &pa, (uint32_t)-7, d), 0);
	lb = mk_seg(b, sizeof(b), 0xfffffff0u - 7, 0xffffff00u + d,
		    0xfffffff8u + d, 0x00000010u + d, &pb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_int_equal(splice_seq(a, &pa), 0xffffffe9u);
	/* Options of a SYN. */
	o.mss = 1460;
	o.wscale = 7;
	o.sack = true;
	{
		uint8_t opts[20];
		struct splice_seg s = { 0 };
		struct flow_key k;
		struct syncookie_opts r;
		uint32_t len;

		mk_key(&k, 9);
		s.family = 4;
		s.src = k.src;
		s.dst = k.dst;
		s.flags = SPLICE_SYN;
		s.opts = opts;
		s.opts_len = splice_opts_syn(opts, &o);
		len = splice_build(a, sizeof(a), &s);
		assert_int_equal(pkt_parse(a, len, &pa), PKT_OK);
		assert_int_equal(splice_opts_read(a, &pa, &r), 0);
		assert_int_equal(r.mss, 1460);
		assert_int_equal(r.wscale, 7);
		assert_true(r.sack);
		assert_true(tcp_csum_ok(a, &pa));
	}
}

static void
test_malformed_options(void **state)
{
	uint8_t a[256], c[256];
	struct pkt_info pa;
	struct syncookie_opts o;
	uint32_t len;

	(void)state;
	len = mk_seg(a, sizeof(a), 1, 2, 3, 4, &pa);
	/* A SACK option whose length runs past the header. */
	a[pa.l4_off + 20 + 3] = 30;
	memcpy(c, a, len);
	assert_int_equal(splice_seq_adjust(a, &pa, 5, 5), -1);
	assert_memory_equal(a, c, len);
	assert_int_equal(splice_opts_read(a, &pa, &o), -1);
	/* A SACK block of a length that is no multiple of 8. */
	a[pa.l4_off + 20 + 3] = 9;
	assert_int_equal(splice_seq_adjust(a, &pa, 5, 5), -1);
	/* Too small a buffer: nothing built. */
	{
		struct splice_seg s = { 0 };
		struct flow_key k;

		mk_key(&k, 1);
		s.family = 6;
		s.src = k.src;
		s.dst = k.dst;
		assert_int_equal(splice_build(a, 60, &s), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vector),
		cmocka_unit_test(test_cookie_definition),
		cmocka_unit_test(test_cookie_valid_stale_forged),
		cmocka_unit_test(test_cookie_past),
		cmocka_unit_test(test_build_and_adjust),
		cmocka_unit_test(test_malformed_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
