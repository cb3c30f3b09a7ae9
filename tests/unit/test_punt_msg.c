/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The remote classification protocol's messages (src/core/punt_msg.c):
 * each type sealed and opened with every field, a full batch within one
 * datagram, and what punt_open() refuses with its reason: a forged key,
 * a replay, a clock outside the window, an unknown sender, a message
 * reflected back to the side that sent it (its role may not send that
 * type), a health key, fields out of range.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/cfg-t.h"
#include "halb/hl_msg.h"
#include "halb/punt_msg.h"

#define NOW 1700000000000ull      /* the receiver's clock, Unix ms */

static struct seal_key pair;

static void
mk_key(struct seal_key *k, uint8_t fill)
{
	uint32_t i;

	memset(k, 0, sizeof(*k));
	k->id = 1;
	k->len = 32;
	for (i = 0; i < k->len; i++)
		k->bytes[i] = (uint8_t)(fill + i);
}

/* The classifier's keyring: the forwarder fwd-a may punt; cls-b (itself)
 * is there too, as a forwarder's ring would hold it. */
static struct seal_keyring *
ring(void)
{
	struct seal_keyring *kr = seal_keyring_new(4);
	struct seal_key other;

	assert_non_null(kr);
	mk_key(&pair, 0x41);
	assert_int_equal(seal_keyring_add(kr, "fwd-a", &pair, SEAL_ROLE_PUNTER), 0);
	assert_int_equal(seal_keyring_add(kr, "cls-b", &pair, SEAL_ROLE_DECIDER), 0);
	mk_key(&other, 0x11);
	assert_int_equal(seal_keyring_add(kr, "hd", &other, SEAL_ROLE_HANDLER), 0);
	return kr;
}

static uint8_t frame_bytes[PUNT_BATCH_MAX][80];

/* A punt batch of n frames of 74 bytes each. */
static int
seal_punt(uint8_t *out, size_t cap, const char *sender, uint64_t seq,
	  uint64_t ts, uint32_t n, uint32_t worker)
{
	Halb__Punt__Frame f[PUNT_BATCH_MAX], *fp[PUNT_BATCH_MAX];
	Halb__Punt__PuntBatch b;
	uint32_t i;

	halb__punt__punt_batch__init(&b);
	b.boot = 7;
	b.peer_boot = 9;
	for (i = 0; i < n; i++) {
		halb__punt__frame__init(&f[i]);
		memset(frame_bytes[i], (int)i, 74);
		f[i].id = 100 + i;
		f[i].worker = worker;
		f[i].flags = i & 1 ? PUNT_F_MARKED : 0;
		f[i].data.data = frame_bytes[i];
		f[i].data.len = 74;
		fp[i] = &f[i];
	}
	b.n_frames = n;
	b.frames = fp;
	return punt_seal(out, cap, &pair, sender, seq, ts, PUNT_T_PUNT,
			 &b.base);
}

static int
seal_decisions(uint8_t *out, const char *sender, uint64_t seq, uint32_t n,
	       uint32_t svc, uint32_t flags)
{
	Halb__Punt__Decision d[PUNT_BATCH_MAX], *dp[PUNT_BATCH_MAX];
	Halb__Punt__DecisionBatch b;
	uint32_t i;

	halb__punt__decision_batch__init(&b);
	b.boot = 9;
	b.peer_boot = 7;
	for (i = 0; i < n; i++) {
		halb__punt__decision__init(&d[i]);
		d[i].id = 100 + i;
		d[i].svc = svc;
		d[i].backend = i % CFG_MAX_BACKENDS;
		d[i].flags = flags;
		dp[i] = &d[i];
	}
	b.n_decisions = n;
	b.decisions = dp;
	return punt_seal(out, SEAL_MTU, &pair, sender, seq, NOW, PUNT_T_DECISION,
			 &b.base);
}

static void
test_punt_roundtrip(void **state)
{
	struct seal_keyring *kr = ring();
	struct seal_replay *rp = seal_replay_new(4, 0);
	uint8_t buf[SEAL_MAX_DATAGRAM];
	struct punt_opened o;
	int len;
	size_t i;

	(void)state;
	/* A datagram of SEAL_MTU holds 16 SYNs of 74 bytes. */
	len = seal_punt(buf, SEAL_MTU, "fwd-a", NOW * 1000 + 1, NOW, 16, 3);
	assert_true(len > 0 && len <= (int)SEAL_MTU);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o), 0);
	assert_int_equal(o.type, PUNT_T_PUNT);
	assert_string_equal(o.sender, "fwd-a");
	assert_int_equal(o.punt->boot, 7);
	assert_int_equal(o.punt->n_frames, 16);
	for (i = 0; i < o.punt->n_frames; i++) {
		assert_int_equal(o.punt->frames[i]->id, 100 + i);
		assert_int_equal(o.punt->frames[i]->worker, 3);
		assert_int_equal(o.punt->frames[i]->flags, i & 1 ? PUNT_F_MARKED : 0);
		assert_int_equal(o.punt->frames[i]->data.len, 74);
		assert_memory_equal(o.punt->frames[i]->data.data, frame_bytes[i], 74);
	}
	punt_opened_free(&o);
	/* The same datagram again: a replay. */
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_REPLAY);
	assert_null(o.msg);
	seal_replay_free(rp);
	seal_keyring_free(kr);
}

static void
test_decision_roundtrip(void **state)
{
	struct seal_keyring *kr = ring();
	struct seal_replay *rp = seal_replay_new(4, 0);
	uint8_t buf[SEAL_MAX_DATAGRAM];
	struct punt_opened o;
	int len;
	size_t i;

	(void)state;
	/* A full batch of decisions fits one datagram. */
	len = seal_decisions(buf, "cls-b", NOW * 1000 + 5, PUNT_BATCH_MAX, 2,
			     PUNT_D_STATELESS);
	assert_true(len > 0 && len <= (int)SEAL_MTU);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o), 0);
	assert_int_equal(o.type, PUNT_T_DECISION);
	assert_int_equal(o.decision->n_decisions, PUNT_BATCH_MAX);
	for (i = 0; i < o.decision->n_decisions; i++) {
		assert_int_equal(o.decision->decisions[i]->id, 100 + i);
		assert_int_equal(o.decision->decisions[i]->svc, 2);
		assert_int_equal(o.decision->decisions[i]->flags, PUNT_D_STATELESS);
	}
	punt_opened_free(&o);
	seal_replay_free(rp);
	seal_keyring_free(kr);
}

static void
test_ping_pong(void **state)
{
	struct seal_keyring *kr = ring();
	struct seal_replay *rp = seal_replay_new(4, 0);
	uint8_t buf[SEAL_MAX_DATAGRAM];
	struct punt_opened o;
	Halb__Punt__Ping pi;
	Halb__Punt__Pong po;
	int len;

	(void)state;
	halb__punt__ping__init(&pi);
	pi.boot = 7;
	pi.cfg_digest = 0xabcdef;
	len = punt_seal(buf, SEAL_MTU, &pair, "fwd-a", NOW * 1000 + 1, NOW,
			PUNT_T_PING, &pi.base);
	assert_true(len > 0);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o), 0);
	assert_int_equal(o.type, PUNT_T_PING);
	assert_int_equal(o.ping->cfg_digest, 0xabcdef);
	punt_opened_free(&o);
	halb__punt__pong__init(&po);
	po.boot = 9;
	po.peer_boot = 7;
	po.decisions = 12345;
	len = punt_seal(buf, SEAL_MTU, &pair, "cls-b", NOW * 1000 + 2, NOW,
			PUNT_T_PONG, &po.base);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o), 0);
	assert_int_equal(o.pong->decisions, 12345);
	punt_opened_free(&o);
	/* boot 0 is refused */
	po.boot = 0;
	len = punt_seal(buf, SEAL_MTU, &pair, "cls-b", NOW * 1000 + 3, NOW,
			PUNT_T_PONG, &po.base);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_PAYLOAD);
	assert_string_equal(punt_type_name(PUNT_T_PONG), "pong");
	assert_string_equal(punt_type_name(7), "unknown");
	seal_replay_free(rp);
	seal_keyring_free(kr);
}

static void
test_refused(void **state)
{
	struct seal_keyring *kr = ring();
	struct seal_replay *rp = seal_replay_new(4, 0);
	uint8_t buf[SEAL_MAX_DATAGRAM];
	struct punt_opened o;
	struct seal_key forged;
	uint64_t seq = NOW * 1000 + 10;
	int len;

	(void)state;
	/* forged: the right name, another key */
	mk_key(&forged, 0x99);
	{
		struct seal_key keep = pair;

		pair = forged;
		len = seal_punt(buf, SEAL_MTU, "fwd-a", seq++, NOW, 2, 0);
		pair = keep;
	}
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_BAD_MAC);
	/* a decision sent as a punt by the classifier's own name: a punt
	 * reflected to a forwarder, or a forwarder's key deciding */
	len = seal_punt(buf, SEAL_MTU, "cls-b", seq++, NOW, 2, 0);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_ROLE);
	len = seal_decisions(buf, "fwd-a", seq++, 2, 0, 0);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_ROLE);
	/* stale clock */
	len = seal_punt(buf, SEAL_MTU, "fwd-a", seq++, NOW - 60000, 2, 0);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_STALE);
	/* unknown sender */
	len = seal_punt(buf, SEAL_MTU, "fwd-x", seq++, NOW, 2, 0);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_UNKNOWN_SENDER);
	/* out of range: a worker, a service, a flag; an empty batch */
	len = seal_punt(buf, SEAL_MTU, "fwd-a", seq++, NOW, 1, CFG_MAX_WORKERS);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_PAYLOAD);
	len = seal_punt(buf, SEAL_MTU, "fwd-a", seq++, NOW, 0, 0);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_PAYLOAD);
	len = seal_decisions(buf, "cls-b", seq++, 1, CFG_MAX_SERVICES, 0);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_PAYLOAD);
	len = seal_decisions(buf, "cls-b", seq++, 1, 0, 0x4);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
			 -SEAL_REJ_PAYLOAD);
	/* too many frames for one batch */
	len = seal_punt(buf, SEAL_MAX_DATAGRAM, "fwd-a", seq++, NOW, 40, 0);
	assert_true(len == -EMSGSIZE || len > 0);
	/* the refusals left the replay state alone: an honest one opens */
	len = seal_punt(buf, SEAL_MTU, "fwd-a", seq++, NOW, 1, 0);
	assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o), 0);
	punt_opened_free(&o);
	/* a punt type is not sealed as another protocol's */
	assert_int_equal(punt_seal(buf, SEAL_MTU, &pair, "fwd-a", seq++, NOW,
				   (enum punt_type)HL_T_HEARTBEAT, NULL), -EINVAL);
	seal_replay_free(rp);
	seal_keyring_free(kr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_punt_roundtrip),
		cmocka_unit_test(test_decision_roundtrip),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
