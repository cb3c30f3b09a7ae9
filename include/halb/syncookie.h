/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SYN cookies (RFC 4987) for the request router's services
 * (docs/REQUESTS.md): the forwarder answers a SYN with a SYN-ACK whose
 * sequence number encodes what it must remember of the SYN, and keeps
 * nothing.  No DPDK: the forwarder's workers make and check cookies,
 * the request router decodes them, the unit tests and the fuzz target
 * call them as they are.
 *
 * Layout (Linux's, net/ipv4/syncookies.c, without the client's ISN so
 * that every segment the client sends before the binding, not only the
 * handshake's ACK, carries a checkable cookie in its ack number):
 *
 *   cookie = H(key, tuple, 0) + (t << 24) + ((H(key, tuple, t) + (data << 8)) & 0xffffff)
 *
 * H: SipHash-2-4 under the forwarder's 128-bit secret (shm->l7_key,
 * random at each start), truncated to 32 bits; tuple: the 40-byte flow
 * key (client -> VIP); t: the coarse clock in units of 2^16 ms (65.5 s),
 * mod 256; data (7 bits): the client's MSS as an index into
 * syncookie_mss[], its window scale (15: none) and SACK-permitted,
 * above 8 bits of zeros: a number up to 255 past a cookie (the ack of a
 * client that was sent bytes after the SYN-ACK, the router's answer to
 * a request it did not bind) decodes as such (SYNCOOKIE_PAST), not as a
 * valid cookie with other options.
 * Timestamps are not kept: the SYN-ACK offers none, so the client and
 * the backend use none.
 *
 * A cookie is valid while t is at most SYNCOOKIE_MAX_AGE units old
 * (between 131 and 196 s).  What a check tells apart: valid, stale (the
 * data decodes, t is older: an old cookie, e.g. replayed), forged (the
 * data does not decode: a guess; a random ack passes with a
 * probability of 2^-17 per t, and t only within the age).
 */
#ifndef HALB_SYNCOOKIE_H
#define HALB_SYNCOOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "halb/flow-t.h"

#define SYNCOOKIE_T_SHIFT 16   /* ms per cookie clock unit: 65536 */
#define SYNCOOKIE_MAX_AGE 2    /* units a cookie stays valid after its own */
#define SYNCOOKIE_WS_NONE 15   /* no window scale option in the SYN */
#define SYNCOOKIE_N_MSS 4
#define SYNCOOKIE_DATA_SHIFT 8 /* the data's place: what is below tells PAST */

/* The MSS values a cookie can say; a client's MSS is rounded down to one. */
extern const uint16_t syncookie_mss[SYNCOOKIE_N_MSS];

/* What the cookie keeps of the client's SYN. */
struct syncookie_opts {
	uint16_t mss;    /* one of syncookie_mss[] */
	uint8_t wscale;  /* 0..14, SYNCOOKIE_WS_NONE without the option */
	bool sack;       /* SACK-permitted */
};

enum syncookie_verdict {
	SYNCOOKIE_OK = 0,
	SYNCOOKIE_STALE,
	SYNCOOKIE_FORGED,
	SYNCOOKIE_PAST,  /* a valid cookie + n, 0 < n < 256 (syncookie_check_past) */
};

/* The 7 bits of data a cookie keeps of o (its MSS rounded down to the
 * table, a window scale above 14 taken as 14), and o back from them:
 * what the worker hands the router with a segment whose cookie it
 * checked (HALB_L7_IN_CO), so that the router need not check it again. */
uint32_t syncookie_opts_pack(const struct syncookie_opts *o);
void syncookie_opts_unpack(uint32_t data, struct syncookie_opts *o);

/* SipHash-2-4 of n bytes under key (two 64-bit words). */
uint64_t syncookie_siphash(const uint64_t key[2], const void *data, uint32_t n);

/* The cookie for the SYN of k at flow clock now_ms, keeping o (its MSS
 * rounded down to the table; a window scale above 14 is taken as 14). */
uint32_t syncookie_make(const uint64_t key[2], const struct flow_key *k,
			uint32_t now_ms, const struct syncookie_opts *o);

/* Checks cookie (the client's ack number less 1) for k at now_ms; on
 * SYNCOOKIE_OK fills *o.  A number past a valid cookie is FORGED here. */
enum syncookie_verdict syncookie_check(const uint64_t key[2],
				       const struct flow_key *k, uint32_t now_ms,
				       uint32_t cookie, struct syncookie_opts *o);

/* The same, but a number n (0 < n < 256) past a valid cookie is
 * SYNCOOKIE_PAST with *past = n (a random number is one with a
 * probability of 2^-9 per valid unit: the caller decides which n it
 * expects).  Costs what syncookie_check() does. */
enum syncookie_verdict syncookie_check_past(const uint64_t key[2],
					    const struct flow_key *k,
					    uint32_t now_ms, uint32_t cookie,
					    struct syncookie_opts *o,
					    uint32_t *past);

#endif
