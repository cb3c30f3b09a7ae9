/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health/load message protocol (src/core/hl_msg.c): round trips of every
 * message type; the MAC input pinned against an independent computation
 * of the documented concatenation; every byte tampered, every truncation,
 * wrong and unknown keys, replays, stale and future timestamps, a host
 * speaking for another, oversize and garbled datagrams and payloads all
 * refused, with the replay state untouched by refusals; the replay
 * table.  The keyring, the registry and the roles are test_seal.c's;
 * weight clamping test_health.c's.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "halb/hl_msg.h"
#include "halb_seal.pb-c.h"

#define NOW 1700000000000ull

struct fix {
	struct seal_keyring *kr;
	struct seal_replay *rp;
	struct seal_key web1, web2, hd;
};

static void
mk_key(struct seal_key *k, uint32_t id, uint8_t fill, uint32_t len)
{
	uint32_t i;

	memset(k, 0, sizeof(*k));
	k->id = id;
	k->len = len;
	for (i = 0; i < len; i++)
		k->bytes[i] = (uint8_t)(fill + i);
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	mk_key(&f->web1, 1, 0x10, 32);
	mk_key(&f->web2, 1, 0x50, 16);
	mk_key(&f->hd, 7, 0x90, 64);
	f->kr = seal_keyring_new(8);
	f->rp = seal_replay_new(8, 0);
	assert_non_null(f->kr);
	assert_non_null(f->rp);
	assert_int_equal(seal_keyring_add(f->kr, "web1", &f->web1,
					  SEAL_ROLE_AGENT), 0);
	assert_int_equal(seal_keyring_add(f->kr, "web2", &f->web2,
					  SEAL_ROLE_AGENT), 0);
	assert_int_equal(seal_keyring_add(f->kr, "healthd-a", &f->hd,
					  SEAL_ROLE_HANDLER | SEAL_ROLE_PEER), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	seal_keyring_free(f->kr);
	seal_replay_free(f->rp);
	free(f);
	return 0;
}

/* A HostReport with two services and a load, host_id given apart. */
struct report {
	char host[HL_NAME_MAX + 1];
	Halb__Health__HostReport r;
	Halb__Health__ServiceHealth s[2];
	Halb__Health__ServiceHealth *sp[2];
	Halb__Health__Load load;
};

static void
mk_report(struct report *x, const char *host, uint64_t seq, uint64_t ts)
{
	snprintf(x->host, sizeof(x->host), "%s", host);
	halb__health__host_report__init(&x->r);
	halb__health__service_health__init(&x->s[0]);
	halb__health__service_health__init(&x->s[1]);
	halb__health__load__init(&x->load);
	x->r.host_id = x->host;
	x->r.seq = seq;
	x->r.timestamp_ms = ts;
	x->r.report_interval_ms = 1000;
	x->s[0].service = "www";
	x->s[0].address = "10.0.0.11";
	x->s[0].port = 80;
	x->s[0].state = HALB__HEALTH__HEALTH_STATE__HEALTH_UP;
	x->s[1].service = "dns";
	x->s[1].address = "2001:db8::11";
	x->s[1].port = 53;
	x->s[1].state = HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING;
	x->s[1].reason = "operator drain";
	x->sp[0] = &x->s[0];
	x->sp[1] = &x->s[1];
	x->r.n_services = 2;
	x->r.services = x->sp;
	x->load.cpu_permille = 423;
	x->load.active_connections = 1234;
	x->load.mem_used_permille = 1000;
	x->load.capacity = 50;
	x->r.load = &x->load;
}

/* web1 reporting for host at seq/ts. */
static int
seal_report(uint8_t *buf, const struct seal_key *key, const char *sender,
	    const char *host, uint64_t seq, uint64_t ts)
{
	struct report x;

	mk_report(&x, host, seq, ts);
	return hl_seal(buf, HL_MAX_DATAGRAM, key, sender, seq, ts,
		       HL_T_HOST_REPORT, &x.r.base);
}

static int
open1(struct fix *f, const uint8_t *buf, size_t len, uint64_t now)
{
	struct hl_opened o;
	int rc = hl_open(buf, len, f->kr, f->rp, now, &o);

	if (rc < 0)
		assert_null(o.msg);
	hl_opened_free(&o);
	return rc;
}

/* ---- round trips ---- */

static void
test_roundtrip_report(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	Halb__Health__HostReport *r;
	struct hl_opened o;
	int n;

	n = seal_report(buf, &f->web1, "web1", "web1", 42, NOW - 10);
	assert_true(n > 0 && n <= (int)HL_MTU);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, f->rp, NOW, &o), 0);
	assert_int_equal(o.type, HL_T_HOST_REPORT);
	assert_string_equal(o.sender, "web1");
	assert_int_equal(o.key_id, 1);
	assert_int_equal(o.seq, 42);
	assert_int_equal(o.ts_ms, NOW - 10);
	r = o.report;
	assert_string_equal(r->host_id, "web1");
	assert_int_equal(r->seq, 42);
	assert_int_equal(r->timestamp_ms, NOW - 10);
	assert_int_equal(r->report_interval_ms, 1000);
	assert_int_equal(r->n_services, 2);
	assert_string_equal(r->services[0]->service, "www");
	assert_string_equal(r->services[0]->address, "10.0.0.11");
	assert_int_equal(r->services[0]->port, 80);
	assert_int_equal(r->services[0]->state, HALB__HEALTH__HEALTH_STATE__HEALTH_UP);
	assert_string_equal(r->services[0]->reason, "");
	assert_string_equal(r->services[1]->service, "dns");
	assert_string_equal(r->services[1]->address, "2001:db8::11");
	assert_int_equal(r->services[1]->port, 53);
	assert_int_equal(r->services[1]->state,
			 HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING);
	assert_string_equal(r->services[1]->reason, "operator drain");
	assert_non_null(r->load);
	assert_int_equal(r->load->cpu_permille, 423);
	assert_int_equal(r->load->active_connections, 1234);
	assert_int_equal(r->load->mem_used_permille, 1000);
	assert_int_equal(r->load->capacity, 50);
	hl_opened_free(&o);
	assert_null(o.msg);
	hl_opened_free(&o); /* twice is harmless */
	assert_int_equal(seal_replay_last(f->rp, "web1"), 42);
}

static void
test_roundtrip_request(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	Halb__Health__ReportRequest rq;
	struct hl_opened o;
	int n;

	halb__health__report_request__init(&rq);
	rq.reason = "start-up";
	rq.nonce = 0xfeedfacecafebeefull;
	n = hl_seal(buf, HL_MTU, &f->hd, "healthd-a", 1, NOW, HL_T_REPORT_REQUEST,
		    &rq.base);
	assert_true(n > 0);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, f->rp, NOW, &o), 0);
	assert_int_equal(o.type, HL_T_REPORT_REQUEST);
	assert_string_equal(o.sender, "healthd-a");
	assert_int_equal(o.key_id, 7);
	assert_string_equal(o.request->reason, "start-up");
	assert_true(o.request->nonce == 0xfeedfacecafebeefull);
	hl_opened_free(&o);

	/* All fields at their defaults: an empty payload is a valid request. */
	halb__health__report_request__init(&rq);
	n = hl_seal(buf, HL_MTU, &f->hd, "healthd-a", 2, NOW, HL_T_REPORT_REQUEST,
		    &rq.base);
	assert_true(n > 0);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, f->rp, NOW, &o), 0);
	assert_string_equal(o.request->reason, "");
	assert_int_equal(o.request->nonce, 0);
	hl_opened_free(&o);
}

static void
test_roundtrip_snapshot(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	Halb__Health__CacheSnapshot cs;
	Halb__Health__BackendState b[3], *bp[3];
	Halb__Health__Load load;
	struct hl_opened o;
	int i, n;

	halb__health__cache_snapshot__init(&cs);
	halb__health__load__init(&load);
	load.cpu_permille = 999;
	load.active_connections = 7;
	load.mem_used_permille = 1;
	load.capacity = 3;
	for (i = 0; i < 3; i++) {
		halb__health__backend_state__init(&b[i]);
		b[i].service = "www";
		b[i].port = (uint32_t)(8080 + i);
		b[i].weight = (uint32_t)(i * 10);
		b[i].age_ms = (uint64_t)i * 1000;
		bp[i] = &b[i];
	}
	b[0].address = "10.0.0.1";
	b[0].state = HALB__HEALTH__HEALTH_STATE__HEALTH_UP;
	b[0].source = HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT;
	b[0].load = &load;
	b[1].address = "fe80::1";
	b[1].state = HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN;
	b[1].source = HALB__HEALTH__STATE_SOURCE__SOURCE_PROBE;
	b[2].address = "192.0.2.200";
	b[2].state = HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING;
	b[2].source = HALB__HEALTH__STATE_SOURCE__SOURCE_LAST_KNOWN;
	cs.full = 1;
	cs.generation = 77;
	cs.part = 1;
	cs.parts = 2;
	cs.n_backends = 3;
	cs.backends = bp;
	n = hl_seal(buf, HL_MTU, &f->hd, "healthd-a", 5, NOW + 100,
		    HL_T_CACHE_SNAPSHOT, &cs.base);
	assert_true(n > 0);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, f->rp, NOW, &o), 0);
	assert_int_equal(o.type, HL_T_CACHE_SNAPSHOT);
	assert_true(o.snapshot->full);
	assert_int_equal(o.snapshot->generation, 77);
	assert_int_equal(o.snapshot->part, 1);
	assert_int_equal(o.snapshot->parts, 2);
	assert_int_equal(o.snapshot->n_backends, 3);
	for (i = 0; i < 3; i++) {
		const Halb__Health__BackendState *g = o.snapshot->backends[i];

		assert_string_equal(g->service, "www");
		assert_string_equal(g->address, b[i].address);
		assert_int_equal(g->port, 8080 + i);
		assert_int_equal(g->state, b[i].state);
		assert_int_equal(g->source, b[i].source);
		assert_int_equal(g->weight, i * 10);
		assert_int_equal(g->age_ms, i * 1000);
	}
	assert_non_null(o.snapshot->backends[0]->load);
	assert_int_equal(o.snapshot->backends[0]->load->cpu_permille, 999);
	assert_int_equal(o.snapshot->backends[0]->load->capacity, 3);
	assert_null(o.snapshot->backends[1]->load);
	hl_opened_free(&o);
}

static void
test_roundtrip_ack_heartbeat(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	Halb__Health__Heartbeat hb;
	Halb__Health__Ack ack;
	struct hl_opened o;
	int n;

	halb__health__ack__init(&ack);
	ack.acked_seq = 41;
	ack.status = HALB__HEALTH__ACK_STATUS__ACK_IGNORED;
	n = hl_seal(buf, HL_MTU, &f->hd, "healthd-a", 10, NOW, HL_T_ACK, &ack.base);
	assert_true(n > 0);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, f->rp, NOW, &o), 0);
	assert_int_equal(o.type, HL_T_ACK);
	assert_int_equal(o.ack->acked_seq, 41);
	assert_int_equal(o.ack->status, HALB__HEALTH__ACK_STATUS__ACK_IGNORED);
	hl_opened_free(&o);

	halb__health__heartbeat__init(&hb);
	hb.role = HALB__HEALTH__ROLE__ROLE_HEALTHD;
	hb.generation = 123456789012ull;
	n = hl_seal(buf, HL_MTU, &f->hd, "healthd-a", 11, NOW, HL_T_HEARTBEAT,
		    &hb.base);
	assert_true(n > 0);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, f->rp, NOW, &o), 0);
	assert_int_equal(o.type, HL_T_HEARTBEAT);
	assert_int_equal(o.heartbeat->role, HALB__HEALTH__ROLE__ROLE_HEALTHD);
	assert_true(o.heartbeat->generation == 123456789012ull);
	hl_opened_free(&o);
	assert_int_equal(seal_replay_last(f->rp, "healthd-a"), 11);
}

/* ---- the MAC input, as docs/HEALTH-PROTOCOL.md defines it ---- */

static uint8_t *
be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static void
test_mac_input(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM], in[HL_MAX_DATAGRAM + 128], *p = in;
	uint8_t mac[32];
	unsigned int mlen = 0;
	Halb__Seal__Envelope *env;
	int n;

	n = seal_report(buf, &f->web1, "web1", "web1", 0x0102030405060708ull,
			NOW);
	assert_true(n > 0);
	env = halb__seal__envelope__unpack(NULL, (size_t)n, buf);
	assert_non_null(env);
	assert_int_equal(env->version, 1);
	assert_int_equal(env->hmac.len, 32);

	memcpy(p, "halb-hl1", 8);
	p += 8;
	p = be(p, 1, 4);                        /* version */
	p = be(p, 1, 4);                        /* key id */
	*p++ = 4;                               /* sender length */
	memcpy(p, "web1", 4);
	p += 4;
	p = be(p, 0x0102030405060708ull, 8);    /* seq */
	p = be(p, NOW, 8);                      /* timestamp */
	p = be(p, HL_T_HOST_REPORT, 4);         /* type */
	p = be(p, env->payload.len, 4);
	memcpy(p, env->payload.data, env->payload.len);
	p += env->payload.len;
	assert_non_null(HMAC(EVP_sha256(), f->web1.bytes, (int)f->web1.len, in,
			     (size_t)(p - in), mac, &mlen));
	assert_int_equal(mlen, 32);
	assert_memory_equal(mac, env->hmac.data, 32);
	halb__seal__envelope__free_unpacked(env, NULL);
}

/* ---- refusals ---- */

static bool
is_tamper_reason(int rc)
{
	return rc == -SEAL_REJ_BAD_MAC || rc == -SEAL_REJ_GARBLED ||
	       rc == -SEAL_REJ_VERSION || rc == -SEAL_REJ_UNKNOWN_SENDER;
}

static void
test_tamper_every_byte(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x02, 0x10, 0x80, 0xff };
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM], t[HL_MAX_DATAGRAM];
	unsigned int cnt[SEAL_REJ__COUNT] = { 0 };
	size_t i, m;
	int n, rc;

	n = seal_report(buf, &f->web1, "web1", "web1", 100, NOW);
	assert_true(n > 0);
	for (i = 0; i < (size_t)n; i++) {
		for (m = 0; m < sizeof(masks); m++) {
			memcpy(t, buf, (size_t)n);
			t[i] ^= masks[m];
			rc = open1(f, t, (size_t)n, NOW);
			if (!is_tamper_reason(rc))
				fail_msg("byte %zu ^ 0x%02x: %s", i, masks[m],
					 seal_reject_name(rc));
			cnt[-rc]++;
		}
	}
	/* The MAC and the decoder both did real work. */
	assert_true(cnt[SEAL_REJ_BAD_MAC] > 0);
	assert_true(cnt[SEAL_REJ_GARBLED] > 0);
	/* Nothing moved: the untouched datagram still opens, once. */
	assert_int_equal(seal_replay_last(f->rp, "web1"), 0);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_REPLAY);
}

static void
test_wrong_key(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	struct seal_key k = f->web1;
	int n;

	k.bytes[5] ^= 1;                      /* same id, other bytes */
	n = seal_report(buf, &k, "web1", "web1", 1, NOW);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_BAD_MAC);
	/* web2's key for web1's name. */
	n = seal_report(buf, &f->web2, "web1", "web1", 1, NOW);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_BAD_MAC);
	/* A key id web1 has no key for. */
	k = f->web1;
	k.id = 2;
	n = seal_report(buf, &k, "web1", "web1", 1, NOW);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_UNKNOWN_SENDER);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 0);
}

static void
test_unknown_sender(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	int n;

	n = seal_report(buf, &f->web1, "intruder", "intruder", 1, NOW);
	assert_true(n > 0);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_UNKNOWN_SENDER);
	assert_int_equal(seal_replay_last(f->rp, "intruder"), 0);
}

static void
test_replay(void **state)
{
	struct fix *f = *state;
	uint8_t a[HL_MAX_DATAGRAM], b[HL_MAX_DATAGRAM];
	int na, nb;

	na = seal_report(a, &f->web1, "web1", "web1", 10, NOW);
	assert_int_equal(open1(f, a, (size_t)na, NOW), 0);
	assert_int_equal(open1(f, a, (size_t)na, NOW), -SEAL_REJ_REPLAY);
	assert_int_equal(open1(f, a, (size_t)na, NOW + 1), -SEAL_REJ_REPLAY);
	nb = seal_report(b, &f->web1, "web1", "web1", 9, NOW);
	assert_int_equal(open1(f, b, (size_t)nb, NOW), -SEAL_REJ_REPLAY);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 10);

	/* A refused message with a higher seq does not move the mark. */
	nb = seal_report(b, &f->web1, "web1", "web1", 20, NOW - 60000);
	assert_int_equal(open1(f, b, (size_t)nb, NOW), -SEAL_REJ_STALE);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 10);
	nb = seal_report(b, &f->web1, "web1", "web2", 30, NOW);
	assert_int_equal(open1(f, b, (size_t)nb, NOW), -SEAL_REJ_IDENTITY);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 10);
	nb = seal_report(b, &f->web1, "web1", "web1", 15, NOW);
	assert_int_equal(open1(f, b, (size_t)nb, NOW), 0);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 15);

	/* Sequence numbers are per sender. */
	nb = seal_report(b, &f->web2, "web2", "web2", 1, NOW);
	assert_int_equal(open1(f, b, (size_t)nb, NOW), 0);
	assert_int_equal(seal_replay_last(f->rp, "web2"), 1);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 15);
	assert_int_equal(seal_replay_last(f->rp, "nobody"), 0);
}

static void
test_stale(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	struct seal_replay *rp;
	struct hl_opened o;
	int n;

	n = seal_report(buf, &f->web1, "web1", "web1", 1, NOW - 5001);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_STALE);
	n = seal_report(buf, &f->web1, "web1", "web1", 2, NOW + 5001);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_STALE);
	n = seal_report(buf, &f->web1, "web1", "web1", 3, 0);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_STALE);
	n = seal_report(buf, &f->web1, "web1", "web1", 4, UINT64_MAX);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_STALE);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 0);
	/* The bounds themselves are inside. */
	n = seal_report(buf, &f->web1, "web1", "web1", 5, NOW - 5000);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
	n = seal_report(buf, &f->web1, "web1", "web1", 6, NOW + 5000);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);

	/* A configured window. */
	rp = seal_replay_new(4, 200);
	assert_non_null(rp);
	n = seal_report(buf, &f->web1, "web1", "web1", 7, NOW - 201);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, rp, NOW, &o),
			 -SEAL_REJ_STALE);
	n = seal_report(buf, &f->web1, "web1", "web1", 8, NOW + 201);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, rp, NOW, &o),
			 -SEAL_REJ_STALE);
	n = seal_report(buf, &f->web1, "web1", "web1", 9, NOW - 200);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, rp, NOW, &o), 0);
	hl_opened_free(&o);
	seal_replay_free(rp);
}

static void
test_identity(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	int n;

	/* web1, with its own valid key, reports for web2. */
	n = seal_report(buf, &f->web1, "web1", "web2", 1, NOW);
	assert_true(n > 0);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_IDENTITY);
	n = seal_report(buf, &f->web1, "web1", "web10", 2, NOW);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_IDENTITY);
	n = seal_report(buf, &f->web1, "web1", "web", 3, NOW);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_IDENTITY);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 0);
	assert_int_equal(seal_replay_last(f->rp, "web2"), 0);
}

static void
test_oversize(void **state)
{
	struct fix *f = *state;
	uint8_t *big = calloc(1, HL_MAX_DATAGRAM + 1);
	uint8_t buf[HL_MAX_DATAGRAM];
	Halb__Health__ServiceHealth s, *sp[200];
	struct report x;
	int i, n;

	assert_non_null(big);
	n = seal_report(big, &f->web1, "web1", "web1", 1, NOW);
	assert_true(n > 0);
	assert_int_equal(open1(f, big, HL_MAX_DATAGRAM + 1, NOW),
			 -SEAL_REJ_OVERSIZE);
	assert_int_equal(open1(f, big, SIZE_MAX, NOW), -SEAL_REJ_OVERSIZE);
	free(big);

	/* Sealing into too small a buffer. */
	assert_int_equal(seal_report(buf, &f->web1, "web1", "web1", 1, NOW) > 0, 1);
	mk_report(&x, "web1", 1, NOW);
	assert_int_equal(hl_seal(buf, 20, &f->web1, "web1", 1, NOW,
				 HL_T_HOST_REPORT, &x.r.base), -EMSGSIZE);

	/* 200 services: more than one MTU, less than the maximum. */
	halb__health__service_health__init(&s);
	s.service = "a-rather-long-service-name";
	s.address = "2001:db8:1234:5678:9abc:def0:1234:5678";
	s.port = 65535;
	s.state = HALB__HEALTH__HEALTH_STATE__HEALTH_UP;
	for (i = 0; i < 200; i++)
		sp[i] = &s;
	x.r.services = sp;
	x.r.n_services = 40;
	assert_int_equal(hl_seal(buf, HL_MTU, &f->web1, "web1", 1, NOW,
				 HL_T_HOST_REPORT, &x.r.base), -EMSGSIZE);
	n = hl_seal(buf, sizeof(buf), &f->web1, "web1", 1, NOW,
		    HL_T_HOST_REPORT, &x.r.base);
	assert_true(n > (int)HL_MTU && n <= (int)HL_MAX_DATAGRAM);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
	/* Beyond HL_MAX_DATAGRAM no cap helps. */
	x.r.n_services = 200;
	big = malloc(65536);
	assert_non_null(big);
	assert_int_equal(hl_seal(big, 65536, &f->web1, "web1", 2, NOW,
				 HL_T_HOST_REPORT, &x.r.base), -EMSGSIZE);
	assert_int_equal(hl_seal_raw(big, 65536, &f->web1, "web1", 2, NOW,
				     HL_T_HOST_REPORT, big, HL_MAX_DATAGRAM + 1),
			 -EMSGSIZE);
	free(big);
}

static void
test_truncated(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	size_t len;
	int n;

	n = seal_report(buf, &f->web1, "web1", "web1", 1, NOW);
	assert_true(n > 0);
	for (len = 0; len < (size_t)n; len++) {
		/* Exactly len bytes on the heap, so ASan sees any over-read. */
		uint8_t *p = malloc(len > 0 ? len : 1);
		int rc;

		assert_non_null(p);
		memcpy(p, buf, len);
		rc = open1(f, len > 0 ? p : NULL, len, NOW);
		if (rc >= 0)
			fail_msg("truncated to %zu of %d accepted", len, n);
		free(p);
	}
	assert_int_equal(seal_replay_last(f->rp, "web1"), 0);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
}

/* Packs env (with sender/key/payload given) without going through hl_seal. */
static size_t
pack_env(uint8_t *out, uint32_t version, uint32_t type, const uint8_t *mac,
	 size_t maclen)
{
	Halb__Seal__Envelope env;
	uint8_t m[64];
	char who[] = "web1";

	memcpy(m, mac, maclen);
	halb__seal__envelope__init(&env);
	env.version = version;
	env.sender = who;
	env.key_id = 1;
	env.seq = 1;
	env.timestamp_ms = NOW;
	env.type = type;
	env.hmac.len = maclen;
	env.hmac.data = m;
	return halb__seal__envelope__pack(&env, out);
}

static void
test_garbled(void **state)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[32];
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM + 16];
	size_t n;
	int s;

	assert_int_equal(open1(f, junk, sizeof(junk), NOW), -SEAL_REJ_GARBLED);
	assert_int_equal(open1(f, NULL, 0, NOW), -SEAL_REJ_GARBLED);

	n = pack_env(buf, 2, HL_T_HEARTBEAT, zero, 32);
	assert_int_equal(open1(f, buf, n, NOW), -SEAL_REJ_VERSION);
	n = pack_env(buf, 0, HL_T_HEARTBEAT, zero, 32);
	assert_int_equal(open1(f, buf, n, NOW), -SEAL_REJ_VERSION);
	n = pack_env(buf, 1, HL_T_HEARTBEAT, zero, 31);
	assert_int_equal(open1(f, buf, n, NOW), -SEAL_REJ_GARBLED);
	n = pack_env(buf, 1, 0, zero, 32);
	assert_int_equal(open1(f, buf, n, NOW), -SEAL_REJ_GARBLED);
	n = pack_env(buf, 1, 6, zero, 32);
	assert_int_equal(open1(f, buf, n, NOW), -SEAL_REJ_GARBLED);
	n = pack_env(buf, 1, HL_T_HEARTBEAT, zero, 32);
	assert_int_equal(open1(f, buf, n, NOW), -SEAL_REJ_BAD_MAC);

	/* A valid datagram made non-canonical in ways that keep its fields. */
	s = seal_report(buf, &f->web1, "web1", "web1", 1, NOW);
	assert_true(s > 0);
	buf[s] = 0x08; /* field 1 (version) again, = 1 */
	buf[s + 1] = 0x01;
	assert_int_equal(open1(f, buf, (size_t)s + 2, NOW), -SEAL_REJ_GARBLED);
	buf[s] = 0x48; /* field 9, unknown, varint 0 */
	buf[s + 1] = 0x00;
	assert_int_equal(open1(f, buf, (size_t)s + 2, NOW), -SEAL_REJ_GARBLED);
	/* Same size, same fields, other order: version after sender. */
	assert_int_equal(buf[0], 0x08);
	assert_int_equal(buf[2], 0x12);
	assert_int_equal(buf[3], 4);
	{
		uint8_t r[HL_MAX_DATAGRAM];

		memcpy(r, buf + 2, 6);       /* 12 04 w e b 1 */
		r[6] = 0x08;
		r[7] = 0x01;
		memcpy(r + 8, buf + 8, (size_t)s - 8);
		assert_int_equal(open1(f, r, (size_t)s, NOW), -SEAL_REJ_GARBLED);
	}
	assert_int_equal(open1(f, buf, (size_t)s, NOW), 0);
}

static void
test_bad_payload(void **state)
{
	static const uint8_t junk[] = { 0x0a, 0x7f, 'x' }; /* string overruns */
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	Halb__Health__Heartbeat hb;
	Halb__Health__Ack ack;
	struct report x;
	uint64_t seq = 1;
	int n;

	n = hl_seal_raw(buf, sizeof(buf), &f->web1, "web1", seq++, NOW,
			HL_T_HOST_REPORT, junk, sizeof(junk));
	assert_true(n > 0);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_PAYLOAD);
	/* (a snapshot is healthd's to send: an agent's is refused as role) */
	n = hl_seal_raw(buf, sizeof(buf), &f->hd, "healthd-a", seq++, NOW,
			HL_T_CACHE_SNAPSHOT, junk, sizeof(junk));
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_PAYLOAD);

#define BAD_REPORT(what)                                                   \
	do {                                                               \
		mk_report(&x, "web1", seq, NOW);                           \
		what;                                                      \
		n = hl_seal(buf, sizeof(buf), &f->web1, "web1", seq, NOW,  \
			    HL_T_HOST_REPORT, &x.r.base);                  \
		seq++;                                                     \
		assert_true(n > 0);                                        \
		if (open1(f, buf, (size_t)n, NOW) != -SEAL_REJ_PAYLOAD)      \
			fail_msg("accepted: %s", #what);                   \
	} while (0)

	BAD_REPORT(x.load.cpu_permille = 1001);
	BAD_REPORT(x.load.mem_used_permille = 5000);
	BAD_REPORT(x.s[0].address = "10.0.0.256");
	BAD_REPORT(x.s[0].address = "");
	BAD_REPORT(x.s[1].address = "www.example.com");
	BAD_REPORT(x.s[0].port = 65536);
	BAD_REPORT(x.s[0].state = HALB__HEALTH__HEALTH_STATE__HEALTH_UNSPECIFIED);
	BAD_REPORT(x.s[0].state = (Halb__Health__HealthState)9);
	BAD_REPORT(x.s[0].service = "");
	BAD_REPORT(x.s[0].service =
		   "0123456789012345678901234567890123456789012345678901234567890123");
	BAD_REPORT(x.r.report_interval_ms = 0);
	BAD_REPORT(x.r.report_interval_ms = HL_INTERVAL_MAX_MS + 1);
	BAD_REPORT(x.r.seq = seq + 1);           /* disagrees with the envelope */
	BAD_REPORT(x.r.timestamp_ms = NOW - 1);
#undef BAD_REPORT

	halb__health__ack__init(&ack);
	ack.acked_seq = 1;
	n = hl_seal(buf, sizeof(buf), &f->web1, "web1", seq++, NOW, HL_T_ACK,
		    &ack.base);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_PAYLOAD);
	halb__health__heartbeat__init(&hb);
	hb.role = (Halb__Health__Role)4;
	n = hl_seal(buf, sizeof(buf), &f->web1, "web1", seq++, NOW,
		    HL_T_HEARTBEAT, &hb.base);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_PAYLOAD);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 0);

	/* A reason at the limit passes, one byte more does not. */
	{
		char r[HL_REASON_MAX + 2];

		memset(r, 'r', sizeof(r) - 1);
		r[sizeof(r) - 1] = '\0';
		mk_report(&x, "web1", seq, NOW);
		x.s[1].reason = r;
		n = hl_seal(buf, sizeof(buf), &f->web1, "web1", seq, NOW,
			    HL_T_HOST_REPORT, &x.r.base);
		assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_PAYLOAD);
		seq++;
		r[HL_REASON_MAX] = '\0';
		mk_report(&x, "web1", seq, NOW);
		x.s[1].reason = r;
		x.r.load = NULL; /* no load is fine too */
		n = hl_seal(buf, sizeof(buf), &f->web1, "web1", seq, NOW,
			    HL_T_HOST_REPORT, &x.r.base);
		assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
		seq++;
	}

	/* Port 0: a backend of an all-ports service, known by address. */
	mk_report(&x, "web1", seq, NOW);
	x.s[0].port = 0;
	n = hl_seal(buf, sizeof(buf), &f->web1, "web1", seq, NOW,
		    HL_T_HOST_REPORT, &x.r.base);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
	seq++;

	/* A snapshot entry's source: the operator's is one (halbctl drain);
	 * none, or one past the last, is not. */
	{
		static const int src[] = {
			HALB__HEALTH__STATE_SOURCE__SOURCE_OPERATOR,
			HALB__HEALTH__STATE_SOURCE__SOURCE_UNSPECIFIED,
			HALB__HEALTH__STATE_SOURCE__SOURCE_OPERATOR + 1,
		};
		Halb__Health__CacheSnapshot cs;
		Halb__Health__BackendState b, *bp = &b;
		unsigned int i;

		for (i = 0; i < 3; i++) {
			halb__health__cache_snapshot__init(&cs);
			halb__health__backend_state__init(&b);
			b.service = "www";
			b.address = "10.0.0.1";
			b.port = 80;
			b.state = HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING;
			b.source = (Halb__Health__StateSource)src[i];
			cs.n_backends = 1;
			cs.backends = &bp;
			n = hl_seal(buf, sizeof(buf), &f->hd, "healthd-a", seq++,
				    NOW, HL_T_CACHE_SNAPSHOT, &cs.base);
			assert_true(n > 0);
			assert_int_equal(open1(f, buf, (size_t)n, NOW),
					 i == 0 ? 0 : -SEAL_REJ_PAYLOAD);
		}
	}
}

static void
test_payload_unpack(void **state)
{
	uint8_t buf[256];
	Halb__Health__Heartbeat hb;
	ProtobufCMessage *m;
	size_t n;

	(void)state;
	halb__health__heartbeat__init(&hb);
	hb.role = HALB__HEALTH__ROLE__ROLE_CLASSIFIER;
	hb.generation = 3;
	n = halb__health__heartbeat__pack(&hb, buf);
	m = hl_payload_unpack(HL_T_HEARTBEAT, buf, n);
	assert_non_null(m);
	assert_ptr_equal(m->descriptor, &halb__health__heartbeat__descriptor);
	assert_int_equal(((Halb__Health__Heartbeat *)m)->generation, 3);
	protobuf_c_message_free_unpacked(m, NULL);
	assert_null(hl_payload_unpack((enum hl_type)0, buf, n));
	assert_null(hl_payload_unpack((enum hl_type)6, buf, n));
	assert_null(hl_payload_unpack(HL_T_HEARTBEAT, NULL, 3));
	assert_null(hl_payload_unpack(HL_T_HEARTBEAT, NULL, 0)); /* role missing */
	m = hl_payload_unpack(HL_T_REPORT_REQUEST, NULL, 0);
	assert_non_null(m);
	protobuf_c_message_free_unpacked(m, NULL);
}

static void
test_seal_args(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	Halb__Health__Heartbeat hb;
	struct seal_key k = f->web1;
	struct report x;

	halb__health__heartbeat__init(&hb);
	hb.role = HALB__HEALTH__ROLE__ROLE_AGENT;
	mk_report(&x, "web1", 1, NOW);
	assert_int_equal(hl_seal(NULL, 10, &k, "web1", 1, NOW, HL_T_HEARTBEAT,
				 &hb.base), -EINVAL);
	assert_int_equal(hl_seal(buf, sizeof(buf), NULL, "web1", 1, NOW,
				 HL_T_HEARTBEAT, &hb.base), -EINVAL);
	assert_int_equal(hl_seal(buf, sizeof(buf), &k, NULL, 1, NOW,
				 HL_T_HEARTBEAT, &hb.base), -EINVAL);
	assert_int_equal(hl_seal(buf, sizeof(buf), &k, "", 1, NOW,
				 HL_T_HEARTBEAT, &hb.base), -EINVAL);
	assert_int_equal(hl_seal(buf, sizeof(buf), &k,
				 "0123456789012345678901234567890123456789012345678901234567890123",
				 1, NOW, HL_T_HEARTBEAT, &hb.base), -EINVAL);
	assert_int_equal(hl_seal(buf, sizeof(buf), &k, "web1", 0, NOW,
				 HL_T_HEARTBEAT, &hb.base), -EINVAL);
	assert_int_equal(hl_seal(buf, sizeof(buf), &k, "web1", 1, NOW,
				 (enum hl_type)6, &hb.base), -EINVAL);
	assert_int_equal(hl_seal(buf, sizeof(buf), &k, "web1", 1, NOW,
				 HL_T_HOST_REPORT, &hb.base), -EINVAL);
	assert_int_equal(hl_seal(buf, sizeof(buf), &k, "web1", 1, NOW,
				 HL_T_HEARTBEAT, NULL), -EINVAL);
	assert_int_equal(hl_seal_raw(buf, sizeof(buf), &k, "web1", 1, NOW,
				     HL_T_HEARTBEAT, NULL, 1), -EINVAL);
	k.len = SEAL_KEY_MIN - 1;
	assert_int_equal(hl_seal(buf, sizeof(buf), &k, "web1", 1, NOW,
				 HL_T_HEARTBEAT, &hb.base), -EINVAL);
	k.len = SEAL_KEY_MAX + 1;
	assert_int_equal(hl_seal(buf, sizeof(buf), &k, "web1", 1, NOW,
				 HL_T_HEARTBEAT, &hb.base), -EINVAL);
	/* A 63-byte sender is the longest. */
	k.len = SEAL_KEY_MAX;
	assert_true(hl_seal(buf, sizeof(buf), &k,
			    "012345678901234567890123456789012345678901234567890123456789012",
			    1, NOW, HL_T_HEARTBEAT, &hb.base) > 0);
}

/* Who may send what: an agent's key opens only what agents send, so a
 * backend host cannot sign a snapshot or a request, whatever name it
 * gives; nor can a healthd key send a host report.  Refused after the
 * MAC, before the replay state moves. */
static void
test_roles(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	Halb__Health__CacheSnapshot cs;
	Halb__Health__ReportRequest rq;
	Halb__Health__Heartbeat hb;
	int n;

	halb__health__cache_snapshot__init(&cs);
	cs.full = true;
	n = hl_seal(buf, HL_MTU, &f->web1, "web1", 10, NOW,
		    HL_T_CACHE_SNAPSHOT, &cs.base);
	assert_true(n > 0);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_ROLE);
	halb__health__report_request__init(&rq);
	n = hl_seal(buf, HL_MTU, &f->web1, "web1", 11, NOW,
		    HL_T_REPORT_REQUEST, &rq.base);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_ROLE);
	assert_int_equal(seal_replay_last(f->rp, "web1"), 0);
	n = seal_report(buf, &f->hd, "healthd-a", "healthd-a", 12, NOW);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), -SEAL_REJ_ROLE);
	assert_int_equal(seal_replay_last(f->rp, "healthd-a"), 0);
	/* What each may send still passes. */
	halb__health__heartbeat__init(&hb);
	hb.role = HALB__HEALTH__ROLE__ROLE_AGENT;
	n = hl_seal(buf, HL_MTU, &f->web1, "web1", 13, NOW, HL_T_HEARTBEAT,
		    &hb.base);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
	n = hl_seal(buf, HL_MTU, &f->hd, "healthd-a", 14, NOW,
		    HL_T_CACHE_SNAPSHOT, &cs.base);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
	n = seal_report(buf, &f->web1, "web1", "web1", 15, NOW);
	assert_int_equal(open1(f, buf, (size_t)n, NOW), 0);
}

static void
test_replay_full(void **state)
{
	struct fix *f = *state;
	uint8_t buf[HL_MAX_DATAGRAM];
	struct seal_replay *rp = seal_replay_new(1, 0);
	struct hl_opened o;
	int n;

	assert_non_null(rp);
	assert_null(seal_replay_new(0, 0));
	n = seal_report(buf, &f->web1, "web1", "web1", 1, NOW);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, rp, NOW, &o), 0);
	hl_opened_free(&o);
	n = seal_report(buf, &f->web2, "web2", "web2", 1, NOW);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, rp, NOW, &o),
			 -SEAL_REJ_UNKNOWN_SENDER);
	assert_int_equal(seal_replay_last(rp, "web2"), 0);
	/* The known sender goes on. */
	n = seal_report(buf, &f->web1, "web1", "web1", 2, NOW);
	assert_int_equal(hl_open(buf, (size_t)n, f->kr, rp, NOW, &o), 0);
	hl_opened_free(&o);
	seal_replay_free(rp);
	seal_replay_free(NULL);
}

static void
test_names(void **state)
{
	int i, j;

	(void)state;
	assert_string_equal(seal_reject_name(0), "ok");
	for (i = 1; i < SEAL_REJ__COUNT; i++) {
		assert_string_not_equal(seal_reject_name(-i), "unknown");
		assert_string_equal(seal_reject_name(-i), seal_reject_name(i));
		for (j = 1; j < i; j++)
			assert_string_not_equal(seal_reject_name(-i),
						seal_reject_name(-j));
	}
	assert_string_equal(seal_reject_name(SEAL_REJ__COUNT), "unknown");
	assert_string_equal(seal_reject_name(-SEAL_REJ__COUNT), "unknown");
	assert_string_equal(seal_reject_name(INT_MIN), "unknown");
	assert_string_equal(seal_reject_name(INT_MAX), "unknown");
	assert_string_equal(seal_reject_name(-SEAL_REJ_REPLAY), "replay");
	assert_string_equal(hl_type_name(HL_T_HOST_REPORT), "host-report");
	assert_string_equal(hl_type_name(HL_T_HEARTBEAT), "heartbeat");
	assert_string_equal(hl_type_name(0), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_roundtrip_report),
		T(test_roundtrip_request),
		T(test_roundtrip_snapshot),
		T(test_roundtrip_ack_heartbeat),
		T(test_mac_input),
		T(test_tamper_every_byte),
		T(test_wrong_key),
		T(test_unknown_sender),
		T(test_replay),
		T(test_stale),
		T(test_identity),
		T(test_oversize),
		T(test_truncated),
		T(test_garbled),
		T(test_bad_payload),
		T(test_payload_unpack),
		T(test_seal_args),
		T(test_roles),
		T(test_replay_full),
		T(test_names),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
