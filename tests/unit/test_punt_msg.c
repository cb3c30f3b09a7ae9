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

/* ---- the view in parts ---- */

#define VIEW_MAX_DGRAMS 600

struct sealed_parts {
	uint8_t (*buf)[SEAL_MTU];
	int len[VIEW_MAX_DGRAMS];
	int n;
	uint64_t seq;
};

static int
seal_part(void *arg, const Halb__Punt__ViewPart *p)
{
	struct sealed_parts *sp = arg;
	int len;

	assert_true(sp->n < VIEW_MAX_DGRAMS);
	/* Every part fits one datagram of SEAL_MTU: punt_seal refuses a
	 * longer one with -EMSGSIZE. */
	len = punt_seal(sp->buf[sp->n], SEAL_MTU, &pair, "fwd-a", ++sp->seq,
			NOW, PUNT_T_VIEW, &p->base);
	assert_true(len > 0);
	sp->len[sp->n++] = len;
	return 0;
}

/* The largest view there is: 64 service slots of 256 backend slots,
 * names of 31 bytes, every number at its widest; slots of every kind. */
static struct halb_cfg *
big_view(void)
{
	struct halb_cfg *cfg = calloc(1, sizeof(*cfg));
	uint32_t s, b;

	assert_non_null(cfg);
	cfg->n_services = CFG_MAX_SERVICES;
	for (s = 0; s < CFG_MAX_SERVICES; s++) {
		struct cfg_service *cs = &cfg->services[s];

		cs->slot = s == 5 ? CFG_SLOT_FREE : s == 6 ? CFG_SLOT_RETIRED :
			   CFG_SLOT_LIVE;
		if (cs->slot == CFG_SLOT_FREE)
			continue;
		snprintf(cs->name, sizeof(cs->name), "service-%02u-%020u", s, s);
		memset(cs->vip.b, 0xfe, sizeof(cs->vip.b));
		cs->vip.b[15] = (uint8_t)s;
		cs->port = 65535;
		cs->proto = s % 2 ? 17 : 6;
		cs->sched = (uint8_t)(s % CFG_SCHED_MAX);
		cs->down_flows = (uint8_t)(s % 2);
		cs->n_backends = CFG_MAX_BACKENDS - s;
		for (b = 0; b < cs->n_backends; b++) {
			struct cfg_backend *cb = &cs->backends[b];

			cb->slot = b % 7 == 3 ? CFG_SLOT_RETIRED :
				   b % 11 == 5 ? CFG_SLOT_FREE : CFG_SLOT_LIVE;
			if (cb->slot == CFG_SLOT_FREE)
				continue;
			memset(cb->ip.b, 0xfd, sizeof(cb->ip.b));
			cb->ip.b[14] = (uint8_t)s;
			cb->ip.b[15] = (uint8_t)b;
			cb->port = (uint16_t)(65535 - b);
			cb->weight = CFG_MAX_WEIGHT - b;
		}
	}
	return cfg;
}

static void
test_view_parts(void **state)
{
	struct seal_keyring *kr = ring();
	struct seal_replay *rp = seal_replay_new(4, 0);
	struct halb_cfg *cfg = big_view(), *got = calloc(1, sizeof(*got));
	struct sealed_parts sp = { .n = 0 };
	struct punt_opened o, *opened;
	struct punt_view_rx rx;
	uint32_t s, b;
	int n, i, rc;

	(void)state;
	sp.buf = calloc(VIEW_MAX_DGRAMS, SEAL_MTU);
	assert_non_null(sp.buf);
	assert_non_null(got);
	n = punt_view_parts(cfg, 3, 7, 9, seal_part, &sp);
	assert_true(n > 1);
	assert_int_equal(n, sp.n);
	print_message("the largest view: %d parts\n", n);
	/* Opened in order (the replay check), taken in reverse order:
	 * complete at the last one, not before; a part had twice counts
	 * once. */
	opened = calloc((size_t)n, sizeof(*opened));
	assert_non_null(opened);
	for (i = 0; i < n; i++) {
		assert_int_equal(punt_open(sp.buf[i], (size_t)sp.len[i], kr, rp,
					   NOW, &opened[i]), 0);
		assert_int_equal(opened[i].type, PUNT_T_VIEW);
		assert_int_equal(opened[i].view->n_parts, n);
	}
	memset(&rx, 0, sizeof(rx));
	rx.cfg = got;
	for (i = n - 1; i >= 0; i--) {
		rc = punt_view_rx_part(&rx, opened[i].view);
		assert_int_equal(rc, i == 0 ? 1 : 0);
		if (i == n - 1)
			assert_int_equal(punt_view_rx_part(&rx, opened[i].view), 0);
		punt_opened_free(&opened[i]);
	}
	free(opened);
	assert_int_equal(got->n_services, cfg->n_services);
	assert_int_equal(punt_services_digest(got), punt_services_digest(cfg));
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *a = &cfg->services[s], *c = &got->services[s];

		assert_int_equal(c->slot, a->slot);
		if (a->slot == CFG_SLOT_FREE)
			continue;
		assert_string_equal(c->name, a->name);
		assert_memory_equal(c->vip.b, a->vip.b, 16);
		assert_int_equal(c->port, a->port);
		assert_int_equal(c->proto, a->proto);
		assert_int_equal(c->sched, a->sched);
		assert_int_equal(c->down_flows, a->down_flows);
		assert_int_equal(c->n_backends, a->n_backends);
		for (b = 0; b < a->n_backends; b++) {
			assert_int_equal(c->backends[b].slot, a->backends[b].slot);
			if (a->backends[b].slot == CFG_SLOT_FREE)
				continue;
			assert_memory_equal(c->backends[b].ip.b, a->backends[b].ip.b, 16);
			assert_int_equal(c->backends[b].port, a->backends[b].port);
			assert_int_equal(c->backends[b].weight, a->backends[b].weight);
		}
	}

	/* A part of another generation drops what was had of this one. */
	sp.n = 0;
	cfg->services[0].backends[0].weight = 1;
	assert_int_equal(punt_view_parts(cfg, 4, 7, 9, seal_part, &sp), n);
	memset(&rx, 0, sizeof(rx));
	rx.cfg = got;
	for (i = 0; i < n - 1; i++) {
		assert_int_equal(punt_open(sp.buf[i], (size_t)sp.len[i], kr, rp,
					   NOW, &o), 0);
		assert_int_equal(punt_view_rx_part(&rx, o.view), 0);
		punt_opened_free(&o);
	}
	sp.n = 0;
	assert_int_equal(punt_view_parts(cfg, 5, 7, 9, seal_part, &sp), n);
	assert_int_equal(punt_open(sp.buf[n - 1], (size_t)sp.len[n - 1], kr, rp,
				   NOW, &o), 0);
	assert_int_equal(punt_view_rx_part(&rx, o.view), 0); /* gen 5 starts */
	punt_opened_free(&o);
	assert_int_equal(rx.gen, 5);
	assert_int_equal(rx.got, 1);

	/* Parts that disagree (another digest within one generation) drop
	 * the generation.  (A fresh replay table: part 0's sequence number
	 * is below part n-1's, taken above.) */
	seal_replay_free(rp);
	rp = seal_replay_new(4, 0);
	assert_non_null(rp);
	assert_int_equal(punt_open(sp.buf[0], (size_t)sp.len[0], kr, rp, NOW, &o), 0);
	o.view->cfg_digest ^= 1;
	assert_int_equal(punt_view_rx_part(&rx, o.view), -EBADMSG);
	punt_opened_free(&o);

	/* No service at all: one part, complete at once. */
	sp.n = 0;
	cfg->n_services = 0;
	assert_int_equal(punt_view_parts(cfg, 6, 7, 9, seal_part, &sp), 1);
	assert_int_equal(punt_open(sp.buf[0], (size_t)sp.len[0], kr, rp, NOW, &o), 0);
	assert_int_equal(punt_view_rx_part(&rx, o.view), 1);
	assert_int_equal(got->n_services, 0);
	punt_opened_free(&o);

	/* Sent by the classifier's side: refused (role). */
	{
		Halb__Punt__ViewPart vp;
		uint8_t buf[SEAL_MTU];
		int len;

		halb__punt__view_part__init(&vp);
		vp.boot = 1;
		vp.gen = 1;
		vp.n_parts = 1;
		len = punt_seal(buf, SEAL_MTU, &pair, "cls-b", ++sp.seq, NOW,
				PUNT_T_VIEW, &vp.base);
		assert_true(len > 0);
		assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
				 -SEAL_REJ_ROLE);
		/* Out of range: part beyond n_parts. */
		vp.part = 1;
		len = punt_seal(buf, SEAL_MTU, &pair, "fwd-a", ++sp.seq, NOW,
				PUNT_T_VIEW, &vp.base);
		assert_int_equal(punt_open(buf, (size_t)len, kr, rp, NOW, &o),
				 -SEAL_REJ_PAYLOAD);
	}
	assert_string_equal(punt_type_name(PUNT_T_VIEW), "view");
	free(sp.buf);
	free(cfg);
	free(got);
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
		cmocka_unit_test(test_view_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
