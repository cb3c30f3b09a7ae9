/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session sync protocol's messages (src/core/sync_msg.c): a session's
 * compact wire form both ways for IPv4 and IPv6 with every field set
 * (a request-routed connection's spliced marker and sequence delta too), the
 * batch the engine assembles by hand being the bytes protobuf-c packs,
 * its size, each type sealed and opened, and every kind of datagram
 * sync_open() refuses with its reason: a forged key, a replay, a clock
 * outside the window, a truncated or oversized datagram, an unknown
 * sender, a type the key's role may not send, fields out of range; a
 * relayed backend segment's rules (Relay).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/flow-t.h"
#include "halb/hl_msg.h"
#include "halb/sync_msg.h"

#define NOW 1700000000000ull      /* the receiver's clock, Unix ms */

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

static void
addr(uint8_t a[16], const char *s)
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a + 12) == 1) {
		a[10] = a[11] = 0xff;
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

static void
mk_rec(struct sess_rec *r, const char *src, const char *dst,
       const char *be, uint32_t idle)
{
	memset(r, 0, sizeof(*r));
	addr(r->key.src, src);
	addr(r->key.dst, dst);
	r->key.sport = htons(50123);
	r->key.dport = htons(443);
	r->key.proto = 6;
	addr(r->be_addr, be);
	r->be_port = 8443;
	r->op = SESS_OP_UP;
	r->state = FLOW_ST_EST;
	r->idle_ms = idle;
}

/* A batch's payload as the engine builds it: the header packed by
 * protobuf-c, then each session packed by hand. */
static size_t
build_batch(uint8_t *out, const struct sess_rec *r, unsigned int n,
	    uint64_t seq, uint32_t flags)
{
	uint8_t rec[SYNC_REC_WIRE_MAX];
	Halb__Sync__Batch b;
	uint8_t *p;
	unsigned int i;

	halb__sync__batch__init(&b);
	b.boot = 0x1234567890ull;
	b.peer_boot = 77;
	b.seq = seq;
	b.flags = flags;
	p = out + halb__sync__batch__pack(&b, out);
	for (i = 0; i < n; i++) {
		int len = sync_rec_pack(&r[i], rec);

		assert_true(len > 0 && len <= (int)SYNC_REC_WIRE_MAX);
		p = sync_batch_append(p, rec, (size_t)len);
	}
	return (size_t)(p - out);
}

static void
round_trip(const struct sess_rec *in, unsigned int n)
{
	uint8_t buf[4096], again[4096];
	Halb__Sync__Batch *b;
	struct sess_rec r;
	size_t len;
	unsigned int i;

	len = build_batch(buf, in, n, 9, SYNC_F_DUMP_END);
	b = (Halb__Sync__Batch *)sync_payload_unpack(SYNC_T_BATCH, buf, len);
	assert_non_null(b);
	assert_int_equal(b->boot, 0x1234567890ull);
	assert_int_equal(b->peer_boot, 77);
	assert_int_equal(b->seq, 9);
	assert_int_equal(b->flags, SYNC_F_DUMP_END);
	assert_int_equal(b->n_sessions, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(sync_rec_from_pb(b->sessions[i], &r), 0);
		assert_memory_equal(&r, &in[i], sizeof(r));
	}
	/* What the engine writes by hand is protobuf-c's own encoding. */
	assert_int_equal(halb__sync__batch__get_packed_size(b), len);
	assert_int_equal(halb__sync__batch__pack(b, again), len);
	assert_memory_equal(again, buf, len);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

static void
test_round_trip_v4(void **state)
{
	struct sess_rec r[3];
	uint8_t rec[SYNC_REC_WIRE_MAX];

	(void)state;
	mk_rec(&r[0], "198.51.100.7", "203.0.113.10", "10.0.0.21", 123456);
	mk_rec(&r[1], "198.51.100.8", "203.0.113.10", "10.0.0.22", 0);
	r[1].op = SESS_OP_DOWN;
	r[1].state = FLOW_ST_FIN;
	r[1].key.proto = 17;
	r[1].be_port = 0;    /* an all-ports service's backend */
	r[1].key.sport = 0;
	r[1].key.dport = htons(53);
	mk_rec(&r[2], "198.51.100.9", "203.0.113.11", "10.0.0.23", UINT32_MAX);
	r[2].state = FLOW_ST_SYN;   /* 0: omitted on the wire */
	r[2].key.sport = htons(65535);
	r[2].key.dport = htons(65535);
	r[2].be_port = 65535;
	round_trip(r, 3);
	/* 4 bytes per IPv4 address: well under the 128 per session goal. */
	assert_true(sync_rec_pack(&r[0], rec) <= 34);
}

static void
test_round_trip_v6(void **state)
{
	struct sess_rec r[2];
	uint8_t rec[SYNC_REC_WIRE_MAX];

	(void)state;
	mk_rec(&r[0], "2001:db8:1::7", "2001:db8:ffff::10", "fd00::21", 99);
	mk_rec(&r[1], "2001:db8:1::8", "2001:db8:ffff::10", "10.0.0.5", 1);
	r[1].state = FLOW_ST_UDP;
	r[1].key.proto = 17;
	round_trip(r, 2);
	assert_true(sync_rec_pack(&r[0], rec) <= 76);
	/* The largest session fits the bound and its one-byte length. */
	r[0].idle_ms = UINT32_MAX;
	assert_true(sync_rec_pack(&r[0], rec) <= (int)SYNC_REC_WIRE_MAX);
}

/* A request-routed connection (docs/REQUESTS.md): spliced, with the
 * sequence delta its appliance translates by; 0 is a delta too. */
static void
test_round_trip_spliced(void **state)
{
	struct sess_rec r[3], plain;
	uint8_t rec[SYNC_REC_WIRE_MAX];
	int n_plain, n;

	(void)state;
	mk_rec(&r[0], "198.51.100.7", "203.0.113.10", "10.0.0.21", 5);
	r[0].spliced = 1;
	r[0].seq_delta = 0x89abcdef;
	mk_rec(&r[1], "2001:db8:1::7", "2001:db8:ffff::10", "fd00::21", 1);
	r[1].spliced = 1;
	r[1].seq_delta = 0;
	r[1].state = FLOW_ST_FIN;
	mk_rec(&r[2], "198.51.100.8", "203.0.113.10", "fd00::22", 0);
	r[2].op = SESS_OP_DOWN;
	r[2].spliced = 1;
	r[2].seq_delta = UINT32_MAX;
	round_trip(r, 3);
	/* Nine bytes more than the same plain session: field 17 (a
	 * two-byte tag and 1) and field 18 (a two-byte tag and 4). */
	plain = r[0];
	plain.spliced = 0;
	plain.seq_delta = 0;
	n_plain = sync_rec_pack(&plain, rec);
	n = sync_rec_pack(&r[0], rec);
	assert_int_equal(n, n_plain + 9);
	/* The largest session of all: IPv6 everywhere, every field at its
	 * widest, spliced; within the bound. */
	r[1].idle_ms = UINT32_MAX;
	r[1].be_port = 65535;
	r[1].seq_delta = UINT32_MAX;
	r[1].key.sport = r[1].key.dport = 0xffff;
	addr(r[1].key.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	addr(r[1].key.dst, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	addr(r[1].be_addr, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd");
	n = sync_rec_pack(&r[1], rec);
	assert_int_equal(n, 87);
	round_trip(&r[1], 1);
	/* ... and unowned (field 19: a two-byte tag and 1): the bound. */
	r[1].unowned = 1;
	n = sync_rec_pack(&r[1], rec);
	assert_int_equal(n, 90);
	assert_int_equal(n, (int)SYNC_REC_WIRE_MAX);
	round_trip(&r[1], 1);
}

/* A session kept for an appliance that restarted without it (field 19):
 * both ways, plain and spliced; never with OP_DOWN, never but 0 or 1. */
static void
test_round_trip_unowned(void **state)
{
	struct sess_rec r[2];
	uint8_t rec[SYNC_REC_WIRE_MAX];
	Halb__Sync__Session s;

	(void)state;
	mk_rec(&r[0], "198.51.100.7", "203.0.113.10", "10.0.0.21", 5);
	r[0].unowned = 1;
	mk_rec(&r[1], "2001:db8:1::7", "2001:db8:ffff::10", "fd00::21", 1);
	r[1].unowned = 1;
	r[1].spliced = 1;
	r[1].seq_delta = 0x1234;
	round_trip(r, 2);
	r[0].op = SESS_OP_DOWN;
	assert_int_equal(sync_rec_pack(&r[0], rec), -EINVAL);
	r[0].op = SESS_OP_UP;
	r[0].unowned = 2;
	assert_int_equal(sync_rec_pack(&r[0], rec), -EINVAL);
	/* A receiver refuses an unowned OP_DOWN. */
	halb__sync__session__init(&s);
	s.src4 = 0xc6336407;
	s.dst4 = 0xcb00710a;
	s.ports = 50123u << 16 | 443;
	s.proto = 6;
	s.backend4 = 0x0a000015;
	s.op = HALB__SYNC__OP__OP_DOWN;
	s.unowned = 1;
	assert_int_equal(sync_rec_from_pb(&s, &r[0]), -EINVAL);
	s.op = HALB__SYNC__OP__OP_UP;
	assert_int_equal(sync_rec_from_pb(&s, &r[0]), 0);
	assert_int_equal(r[0].unowned, 1);
}

static void
test_rec_refused(void **state)
{
	uint8_t rec[SYNC_REC_WIRE_MAX];
	struct sess_rec r;

	(void)state;
	mk_rec(&r, "198.51.100.7", "203.0.113.10", "10.0.0.21", 1);
	r.op = 0;
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	r.op = 3;
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	r.op = SESS_OP_UP;
	r.state = FLOW_ST_UDP + 1;
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	r.state = FLOW_ST_EST;
	r.key.proto = 0;
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	r.key.proto = 6;
	/* spliced: TCP only, not in the UDP state; a delta only when
	 * spliced; the marker is 0 or 1 */
	r.spliced = 1;
	assert_true(sync_rec_pack(&r, rec) > 0);
	r.key.proto = 17;
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	r.key.proto = 6;
	r.state = FLOW_ST_UDP;
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	r.state = FLOW_ST_EST;
	r.spliced = 2;
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	r.spliced = 0;
	r.seq_delta = 7;
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	r.seq_delta = 0;
	addr(r.key.dst, "2001:db8::1");   /* families differ */
	assert_int_equal(sync_rec_pack(&r, rec), -EINVAL);
	assert_false(sync_rec_ok(&r));
}

/* Sessions that do not decode into a struct sess_rec: the batch is
 * refused whole. */
static void
test_batch_refused(void **state)
{
	uint8_t buf[512];
	Halb__Sync__Session s, *sp = &s;
	Halb__Sync__Batch b;
	ProtobufCMessage *m;
	size_t len;

	(void)state;
	halb__sync__batch__init(&b);
	halb__sync__session__init(&s);
	b.boot = 1;
	b.seq = 1;
	b.n_sessions = 1;
	b.sessions = &sp;
	s.src4 = 0x0a000001;
	s.dst4 = 0x0a000002;
	s.backend4 = 0x0a000003;
	s.proto = 6;
	s.op = HALB__SYNC__OP__OP_UP;
	len = halb__sync__batch__pack(&b, buf);
	m = sync_payload_unpack(SYNC_T_BATCH, buf, len);
	assert_non_null(m);
	protobuf_c_message_free_unpacked(m, NULL);

#define REFUSED(what, undo) do {                                          \
		what;                                                     \
		len = halb__sync__batch__pack(&b, buf);                   \
		assert_null(sync_payload_unpack(SYNC_T_BATCH, buf, len)); \
		undo;                                                     \
		len = halb__sync__batch__pack(&b, buf);                   \
		m = sync_payload_unpack(SYNC_T_BATCH, buf, len);          \
		assert_non_null(m);                                       \
		protobuf_c_message_free_unpacked(m, NULL);                \
	} while (0)
	/* an IPv4 session with IPv6 halves, and the other way round */
	REFUSED(s.src6_lo = 1, s.src6_lo = 0);
	REFUSED(s.backend6_hi = 1, s.backend6_hi = 0);
	REFUSED(s.family = 1; s.dst6_lo = 1; s.src6_lo = 2,
		s.src4 = s.dst4 = 0);
	REFUSED(s.family = 3, s.backend4 = 0; s.backend6_hi = 0xfd00ull << 48);
	/* an IPv6 address that is IPv4-mapped */
	REFUSED(s.dst6_lo = 0xffff0a000001ull, s.dst6_lo = 1);
	REFUSED(s.family = 4, s.family = 3);
	REFUSED(s.proto = 0, s.proto = 17);
	REFUSED(s.proto = 256, s.proto = 6);
	REFUSED(s.backend_port = 65536, s.backend_port = 65535);
	REFUSED(s.op = 3, s.op = HALB__SYNC__OP__OP_DOWN);
	REFUSED(s.op = HALB__SYNC__OP__OP_UNSPECIFIED, s.op = HALB__SYNC__OP__OP_UP);
	REFUSED(s.state = 4, s.state = 3);
	REFUSED(b.boot = 0, b.boot = 1);
	REFUSED(b.seq = 0, b.seq = 1);
	REFUSED(b.flags = 4, b.flags = SYNC_F_ALL);
	/* spliced: not in the UDP state (3 here), not UDP; a delta without
	 * the marker */
	REFUSED(s.spliced = 1, s.state = 1);
	REFUSED(s.proto = 17, s.proto = 6);
	REFUSED(s.spliced = 0; s.seq_delta = 7, s.spliced = 1);
#undef REFUSED
}

static void
test_ack_rules(void **state)
{
	uint8_t buf[256];
	uint32_t holes[4];
	Halb__Sync__Ack a;
	ProtobufCMessage *m;
	size_t len;

	(void)state;
#define ACK(ok) do {                                                      \
		len = halb__sync__ack__pack(&a, buf);                     \
		m = sync_payload_unpack(SYNC_T_ACK, buf, len);            \
		if (ok)                                                   \
			assert_non_null(m);                               \
		else                                                      \
			assert_null(m);                                   \
		if (m != NULL)                                            \
			protobuf_c_message_free_unpacked(m, NULL);        \
	} while (0)
	halb__sync__ack__init(&a);
	a.boot = 5;
	a.cum = 10;
	a.highest = 10;
	ACK(true);
	a.holes = holes;
	holes[0] = 1;
	holes[1] = 3;
	a.n_holes = 2;
	a.highest = 15;
	ACK(true);
	holes[1] = 5;        /* cum + 5 is highest: it arrived */
	ACK(false);
	holes[0] = 2;        /* cum + 1 must be a hole */
	holes[1] = 3;
	ACK(false);
	holes[0] = 3;
	holes[1] = 1;        /* not ascending */
	ACK(false);
	a.n_holes = 0;       /* above cum, no hole */
	ACK(false);
	a.highest = 11;      /* cum + 1 arrived but cum says not */
	ACK(false);
	a.highest = 9;       /* below cum */
	ACK(false);
	a.highest = 10;
	a.boot = 0;
	ACK(false);
#undef ACK
}

static void
test_other_rules(void **state)
{
	Halb__Sync__DumpRequest d;
	Halb__Sync__Hello h;
	ProtobufCMessage *m;
	uint8_t buf[64];
	size_t len;

	(void)state;
	halb__sync__dump_request__init(&d);
	d.boot = 1;
	len = halb__sync__dump_request__pack(&d, buf);
	assert_null(sync_payload_unpack(SYNC_T_DUMP_REQUEST, buf, len));
	d.id = 1;
	len = halb__sync__dump_request__pack(&d, buf);
	m = sync_payload_unpack(SYNC_T_DUMP_REQUEST, buf, len);
	assert_non_null(m);
	protobuf_c_message_free_unpacked(m, NULL);
	halb__sync__hello__init(&h);
	len = halb__sync__hello__pack(&h, buf);
	assert_null(sync_payload_unpack(SYNC_T_HELLO, buf, len));
	h.boot = 3;
	len = halb__sync__hello__pack(&h, buf);
	m = sync_payload_unpack(SYNC_T_HELLO, buf, len);
	assert_non_null(m);
	protobuf_c_message_free_unpacked(m, NULL);
	/* Not this protocol's types. */
	assert_null(sync_payload_unpack((enum sync_type)HL_T_HEARTBEAT, buf, len));
	assert_string_equal(sync_type_name(SYNC_T_BATCH), "sync-batch");
	assert_string_equal(sync_type_name(SYNC_T_HELLO), "sync-hello");
	assert_string_equal(sync_type_name(5), "unknown");
}

/* ---- Relay ---- */

/* A TCP segment from 10.0.0.21:8081 (IPv4) or [fd00::21]:8081 (IPv6)
 * with n bytes of data; returns its length. */
static size_t
mk_seg(uint8_t *p, int family, uint32_t n)
{
	size_t l4 = family == 4 ? 20 : 40, len = l4 + 20 + n;

	memset(p, 0, len);
	if (family == 4) {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[6] = 0x40; /* DF */
		p[8] = 64;
		p[9] = 6;
		p[12] = 10;
		p[15] = 21;
		p[16] = 198;
		p[17] = 51;
		p[18] = 100;
		p[19] = 7;
	} else {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		p[6] = 6;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 0x21;
		p[24] = 0xfd;
		p[39] = 0x07;
	}
	p[l4] = 8081 >> 8;
	p[l4 + 1] = 8081 & 0xff;
	p[l4 + 2] = 50123 >> 8;
	p[l4 + 3] = 50123 & 0xff;
	p[l4 + 12] = 5 << 4;
	p[l4 + 13] = 0x12; /* SYN ACK */
	return len;
}

/* A Relay's rules: the VIP (4 or 16 bytes, not IPv4-mapped as IPv6),
 * its port, the segment (IPv4 or IPv6, TCP, its IP length the field's,
 * a whole TCP header, no fragment, 40..1520 bytes), the boot id. */
static void
test_relay_rules(void **state)
{
	static const uint8_t vip4[16] = { 198, 18, 2, 103 }; /* len 4 (5 below) */
	uint8_t vip6[16], seg[1600], buf[2048], src[16], want[16];
	Halb__Sync__Relay r;
	ProtobufCMessage *m;
	uint16_t sport;
	size_t len, n;

	(void)state;
	addr(vip6, "fd00:68:2::103");
	halb__sync__relay__init(&r);
	r.boot = 7;
	r.peer_boot = 9;
	r.vip.data = (uint8_t *)(uintptr_t)vip4;
	r.vip.len = 4;
	r.vip_port = 80;
	r.segment.data = seg;
	r.segment.len = mk_seg(seg, 4, 0);
#define RELAY(ok) do { \
		len = halb__sync__relay__pack(&r, buf); \
		m = sync_payload_unpack(SYNC_T_RELAY, buf, len); \
		if (ok) { \
			assert_non_null(m); \
			protobuf_c_message_free_unpacked(m, NULL); \
		} else { \
			assert_null(m); \
		} \
	} while (0)
	RELAY(true);
	/* Its source, as the receiver maps the backend. */
	assert_int_equal(sync_relay_seg(seg, r.segment.len, src, &sport), 0);
	addr(want, "10.0.0.21");
	assert_memory_equal(src, want, 16);
	assert_int_equal(ntohs(sport), 8081);
	r.boot = 0;
	RELAY(false);
	r.boot = 7;
	r.vip_port = 0;
	RELAY(false);
	r.vip_port = 65536;
	RELAY(false);
	r.vip_port = 80;
	r.vip.len = 5;
	RELAY(false);
	r.vip.len = 0;
	RELAY(false);
	/* IPv6: the VIP's 16 bytes, never IPv4-mapped. */
	r.vip.data = vip6;
	r.vip.len = 16;
	RELAY(true);
	addr(vip6, "198.18.2.103");
	RELAY(false);
	addr(vip6, "fd00:68:2::103");
	r.segment.len = mk_seg(seg, 6, 100);
	RELAY(true);
	assert_int_equal(sync_relay_seg(seg, r.segment.len, src, &sport), 0);
	addr(want, "fd00::21");
	assert_memory_equal(src, want, 16);
	/* The largest, and one byte more. */
	r.segment.len = mk_seg(seg, 4, SYNC_RELAY_SEG_MAX - 40);
	RELAY(true);
	r.segment.len = mk_seg(seg, 4, SYNC_RELAY_SEG_MAX - 39);
	RELAY(false);
	/* The IP length not the field's. */
	n = mk_seg(seg, 4, 10);
	r.segment.len = n - 1;
	RELAY(false);
	seg[3]++;
	r.segment.len = n;
	RELAY(false);
	/* Not TCP; a fragment; a short TCP header; IP version 5; none. */
	r.segment.len = mk_seg(seg, 4, 0);
	seg[9] = 17;
	RELAY(false);
	mk_seg(seg, 4, 0);
	seg[6] = 0x20; /* MF */
	RELAY(false);
	mk_seg(seg, 4, 0);
	seg[20 + 12] = 4 << 4;
	RELAY(false);
	mk_seg(seg, 4, 0);
	seg[20 + 12] = 15 << 4; /* 60 bytes: beyond the segment */
	RELAY(false);
	mk_seg(seg, 4, 0);
	seg[0] = 0x55;
	RELAY(false);
	r.segment.len = mk_seg(seg, 6, 0);
	seg[6] = 0; /* an extension header */
	RELAY(false);
	r.segment.len = 0;
	RELAY(false);
#undef RELAY
	assert_int_equal(sync_relay_seg(NULL, 40, NULL, NULL), -EINVAL);
	assert_string_equal(sync_type_name(SYNC_T_RELAY), "sync-relay");
}

/* ---- sealed and opened ---- */

struct ring {
	struct seal_keyring *kr;
	struct seal_replay *rp;
	struct seal_key k_a, k_b, k_health;
};

static void
ring_init(struct ring *r)
{
	mk_key(&r->k_a, 1, 0x10, 32);
	mk_key(&r->k_b, 2, 0x40, 16);
	mk_key(&r->k_health, 1, 0x70, 32);
	r->kr = seal_keyring_new(4);
	r->rp = seal_replay_new(4, 0);
	assert_non_null(r->kr);
	assert_non_null(r->rp);
	assert_int_equal(seal_keyring_add(r->kr, "lb-a", &r->k_a, SEAL_ROLE_SYNC), 0);
	assert_int_equal(seal_keyring_add(r->kr, "lb-b", &r->k_b, SEAL_ROLE_SYNC), 0);
	/* healthd's peer key of the same appliance: not a sync sender */
	assert_int_equal(seal_keyring_add(r->kr, "lb-c", &r->k_health,
					  SEAL_ROLE_PEER), 0);
}

static void
ring_fini(struct ring *r)
{
	seal_keyring_free(r->kr);
	seal_replay_free(r->rp);
}

static int
open1(struct ring *r, const uint8_t *buf, size_t len, uint64_t now,
      enum sync_type want)
{
	struct sync_opened o;
	int rc = sync_open(buf, len, r->kr, r->rp, now, &o);

	if (rc < 0) {
		assert_null(o.msg);
	} else {
		assert_non_null(o.msg);
		assert_int_equal(o.type, want);
	}
	sync_opened_free(&o);
	return rc;
}

static int
seal_hello(uint8_t *buf, size_t cap, const struct seal_key *k,
	   const char *sender, uint64_t seq, uint64_t ts)
{
	Halb__Sync__Hello h;

	halb__sync__hello__init(&h);
	h.boot = 42;
	return sync_seal(buf, cap, k, sender, seq, ts, SYNC_T_HELLO, &h.base);
}

static void
test_seal_open_each_type(void **state)
{
	struct sess_rec rec[32];
	uint8_t pl[4096], buf[4096];
	Halb__Sync__DumpRequest d;
	Halb__Sync__Ack a;
	struct sync_opened o;
	struct ring r;
	uint64_t seq = NOW * 1000;
	size_t plen;
	unsigned int i;
	int n;

	(void)state;
	ring_init(&r);
	for (i = 0; i < 32; i++) {
		char src[32];

		snprintf(src, sizeof(src), "198.51.%u.%u", i / 200, i % 200 + 1);
		mk_rec(&rec[i], src, "203.0.113.10", "10.0.0.21", 500 + i);
	}
	plen = build_batch(pl, rec, 32, 1, SYNC_F_DUMP_START);
	n = sync_seal_raw(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW,
			  SYNC_T_BATCH, pl, plen);
	assert_true(n > 0);
	/* The size goal: at most 128 bytes per session, envelope included,
	 * here far fewer. */
	assert_true(n / 32 <= 44);
	assert_int_equal(sync_open(buf, (size_t)n, r.kr, r.rp, NOW, &o), 0);
	assert_int_equal(o.type, SYNC_T_BATCH);
	assert_string_equal(o.sender, "lb-a");
	assert_int_equal(o.batch->n_sessions, 32);
	sync_opened_free(&o);

	halb__sync__ack__init(&a);
	a.boot = 9;
	a.cum = 3;
	a.highest = 3;
	n = sync_seal(buf, SEAL_MTU, &r.k_b, "lb-b", ++seq, NOW, SYNC_T_ACK,
		      &a.base);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, SYNC_T_ACK), 0);
	halb__sync__dump_request__init(&d);
	d.boot = 9;
	d.id = 1;
	n = sync_seal(buf, SEAL_MTU, &r.k_b, "lb-b", ++seq, NOW,
		      SYNC_T_DUMP_REQUEST, &d.base);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, SYNC_T_DUMP_REQUEST), 0);
	n = seal_hello(buf, SEAL_MTU, &r.k_b, "lb-b", ++seq, NOW);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, SYNC_T_HELLO), 0);
	{
		static const uint8_t vip[4] = { 198, 18, 2, 103 };
		uint8_t seg[SYNC_RELAY_SEG_MAX];
		Halb__Sync__Relay rl;

		/* A Relay of the largest segment: over SEAL_MTU, within
		 * SEAL_MAX_DATAGRAM. */
		halb__sync__relay__init(&rl);
		rl.boot = 9;
		rl.vip.data = (uint8_t *)(uintptr_t)vip;
		rl.vip.len = 4;
		rl.vip_port = 80;
		rl.segment.data = seg;
		rl.segment.len = mk_seg(seg, 4, SYNC_RELAY_SEG_MAX - 40);
		n = sync_seal(buf, SEAL_MAX_DATAGRAM, &r.k_b, "lb-b", ++seq,
			      NOW, SYNC_T_RELAY, &rl.base);
		assert_true(n > (int)SEAL_MTU);
		assert_int_equal(open1(&r, buf, (size_t)n, NOW, SYNC_T_RELAY), 0);
	}
	/* Sealing only this protocol's types. */
	assert_int_equal(sync_seal_raw(buf, SEAL_MTU, &r.k_b, "lb-b", ++seq,
				       NOW, (enum sync_type)HL_T_ACK, NULL, 0),
			 -EINVAL);
	ring_fini(&r);
}

static void
test_refused(void **state)
{
	uint8_t buf[SEAL_MAX_DATAGRAM + 16], pl[SEAL_MAX_DATAGRAM];
	Halb__Health__Heartbeat hb;
	struct seal_key forged;
	struct ring r;
	uint64_t seq = NOW * 1000;
	int n;

	(void)state;
	ring_init(&r);
	/* forged: lb-a's name, another key */
	mk_key(&forged, 1, 0x11, 32);
	n = seal_hello(buf, SEAL_MTU, &forged, "lb-a", ++seq, NOW);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0), -SEAL_REJ_BAD_MAC);
	/* a changed byte */
	n = seal_hello(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW);
	buf[n - 40] ^= 1;
	assert_true(open1(&r, buf, (size_t)n, NOW, 0) < 0);
	/* accepted once, then a replay */
	n = seal_hello(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, SYNC_T_HELLO), 0);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW + 1, 0), -SEAL_REJ_REPLAY);
	/* an older seq sealed anew is a replay too */
	n = seal_hello(buf, SEAL_MTU, &r.k_a, "lb-a", seq - 1, NOW);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0), -SEAL_REJ_REPLAY);
	/* outside the time window, either way */
	n = seal_hello(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW - 6000);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0), -SEAL_REJ_STALE);
	n = seal_hello(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW + 6000);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0), -SEAL_REJ_STALE);
	/* truncated */
	n = seal_hello(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW);
	assert_int_equal(open1(&r, buf, (size_t)n - 1, NOW, 0), -SEAL_REJ_GARBLED);
	assert_int_equal(open1(&r, buf, 3, NOW, 0), -SEAL_REJ_GARBLED);
	/* oversized */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(open1(&r, buf, SEAL_MAX_DATAGRAM + 1, NOW, 0),
			 -SEAL_REJ_OVERSIZE);
	/* a sealed batch that cannot fit: refused by the sender already */
	memset(pl, 0, sizeof(pl));
	assert_int_equal(sync_seal_raw(buf, sizeof(buf), &r.k_a, "lb-a", ++seq,
				       NOW, SYNC_T_BATCH, pl, sizeof(pl)),
			 -EMSGSIZE);
	/* unknown sender */
	n = seal_hello(buf, SEAL_MTU, &r.k_a, "lb-x", ++seq, NOW);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0),
			 -SEAL_REJ_UNKNOWN_SENDER);
	/* a key of another role (healthd's pair key) may not send sync */
	n = seal_hello(buf, SEAL_MTU, &r.k_health, "lb-c", ++seq, NOW);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0), -SEAL_REJ_ROLE);
	/* nor may a sync key send another protocol's message */
	halb__health__heartbeat__init(&hb);
	hb.role = HALB__HEALTH__ROLE__ROLE_HEALTHD;
	n = hl_seal(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW, HL_T_HEARTBEAT,
		    &hb.base);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0), -SEAL_REJ_ROLE);
	/* a payload out of range: hello without a boot id */
	n = sync_seal_raw(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW,
			  SYNC_T_HELLO, NULL, 0);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0), -SEAL_REJ_PAYLOAD);
	/* ... or garbage in place of a batch */
	memset(pl, 0xff, 16);
	n = sync_seal_raw(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW,
			  SYNC_T_BATCH, pl, 16);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, 0), -SEAL_REJ_PAYLOAD);
	/* None of these moved the replay state: a fresh hello is fine. */
	n = seal_hello(buf, SEAL_MTU, &r.k_a, "lb-a", ++seq, NOW);
	assert_int_equal(open1(&r, buf, (size_t)n, NOW, SYNC_T_HELLO), 0);
	ring_fini(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_v4),
		cmocka_unit_test(test_round_trip_v6),
		cmocka_unit_test(test_round_trip_spliced),
		cmocka_unit_test(test_round_trip_unowned),
		cmocka_unit_test(test_rec_refused),
		cmocka_unit_test(test_batch_refused),
		cmocka_unit_test(test_ack_rules),
		cmocka_unit_test(test_other_rules),
		cmocka_unit_test(test_relay_rules),
		cmocka_unit_test(test_seal_open_each_type),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
