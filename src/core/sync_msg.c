/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session sync protocol's message types (include/halb/sync_msg.h,
 * docs/SYNC-PROTOCOL.md): each registered with the sealing layer
 * (src/core/seal.c) with who may send it (SEAL_ROLE_SYNC) and the check
 * of its fields, and a session's compact wire form.
 *
 * A session is packed here by hand rather than by protobuf-c: the engine
 * packs one per replicated session and needs its exact size to fill a
 * datagram, and the bytes are those protobuf-c would write (fields in
 * number order, defaults omitted), so any protobuf decoder reads them.
 * Decoding is protobuf-c's, followed by the checks below.  Addresses
 * travel as numbers (one fixed32 for IPv4, two fixed64 for IPv6), not as
 * bytes: protobuf-c allocates every bytes field apart, and three
 * allocations per session were half the cost of receiving a batch.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/flow-t.h"
#include "halb/sync_msg.h"

static_assert((int)SYNC_T_BATCH == (int)HALB__SYNC__MSG_TYPE__MSG_BATCH &&
	      (int)SYNC_T_ACK == (int)HALB__SYNC__MSG_TYPE__MSG_ACK &&
	      (int)SYNC_T_DUMP_REQUEST == (int)HALB__SYNC__MSG_TYPE__MSG_DUMP_REQUEST &&
	      (int)SYNC_T_HELLO == (int)HALB__SYNC__MSG_TYPE__MSG_HELLO &&
	      (int)SYNC_T_RELAY == (int)HALB__SYNC__MSG_TYPE__MSG_RELAY,
	      "enum sync_type mirrors halb.sync.MsgType");
static_assert((int)SESS_OP_UP == (int)HALB__SYNC__OP__OP_UP &&
	      (int)SESS_OP_DOWN == (int)HALB__SYNC__OP__OP_DOWN,
	      "enum sess_op mirrors halb.sync.Op");

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool
is_v4(const uint8_t a[16])
{
	return memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0;
}

/* ---- a session's wire form ---- */

static uint8_t *
put_varint(uint8_t *p, uint32_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A varint field, omitted when 0 (proto3). */
static uint8_t *
put_uint(uint8_t *p, unsigned int field, uint32_t v)
{
	if (v == 0)
		return p;
	*p++ = (uint8_t)(field << 3);
	return put_varint(p, v);
}

/* The tag of a field: one byte up to field 15, two above. */
static uint8_t *
put_tag(uint8_t *p, unsigned int field, unsigned int wire)
{
	return put_varint(p, field << 3 | wire);
}

/* A fixed32 field holding the 4 bytes at a, read big-endian; omitted
 * when 0. */
static uint8_t *
put_addr4(uint8_t *p, unsigned int field, const uint8_t *a)
{
	if ((a[0] | a[1] | a[2] | a[3]) == 0)
		return p;
	p = put_tag(p, field, 5);
	/* little-endian on the wire */
	p[0] = a[3];
	p[1] = a[2];
	p[2] = a[1];
	p[3] = a[0];
	return p + 4;
}

/* A fixed64 field holding the 8 bytes at a, read big-endian; omitted
 * when 0. */
static uint8_t *
put_half6(uint8_t *p, unsigned int field, const uint8_t *a)
{
	static const uint8_t zero[8];
	int i;

	if (memcmp(a, zero, 8) == 0)
		return p;
	p = put_tag(p, field, 1);
	for (i = 0; i < 8; i++)
		p[i] = a[7 - i];
	return p + 8;
}

bool
sync_rec_ok(const struct sess_rec *r)
{
	return (r->op == SESS_OP_UP || r->op == SESS_OP_DOWN) &&
	       r->state <= FLOW_ST_UDP && r->key.proto != 0 &&
	       is_v4(r->key.src) == is_v4(r->key.dst) &&
	       (r->spliced ? r->spliced == 1 && r->key.proto == IPPROTO_TCP &&
			     r->state != FLOW_ST_UDP :
			     r->seq_delta == 0) &&
	       (r->unowned == 0 || (r->unowned == 1 && r->op == SESS_OP_UP));
}

int
sync_rec_pack(const struct sess_rec *r, uint8_t *out)
{
	bool v6 = !is_v4(r->key.src), be6 = !is_v4(r->be_addr);
	uint32_t ports;
	uint8_t *p = out;

	if (!sync_rec_ok(r))
		return -EINVAL;
	/* Fields in number order, as protobuf-c packs them. */
	if (!v6) {
		p = put_addr4(p, 1, r->key.src + 12);
		p = put_addr4(p, 2, r->key.dst + 12);
	}
	ports = (uint32_t)ntohs(r->key.sport) << 16 | ntohs(r->key.dport);
	if (ports != 0) {
		*p++ = 3 << 3 | 5; /* fixed32, little-endian */
		*p++ = (uint8_t)ports;
		*p++ = (uint8_t)(ports >> 8);
		*p++ = (uint8_t)(ports >> 16);
		*p++ = (uint8_t)(ports >> 24);
	}
	p = put_uint(p, 4, r->key.proto);
	if (!be6)
		p = put_addr4(p, 5, r->be_addr + 12);
	p = put_uint(p, 6, r->be_port);
	p = put_uint(p, 7, r->op);
	p = put_uint(p, 8, r->state);
	p = put_uint(p, 9, r->idle_ms);
	p = put_uint(p, 10, (v6 ? 1u : 0u) | (be6 ? 2u : 0u));
	if (v6) {
		p = put_half6(p, 11, r->key.src);
		p = put_half6(p, 12, r->key.src + 8);
		p = put_half6(p, 13, r->key.dst);
		p = put_half6(p, 14, r->key.dst + 8);
	}
	if (be6) {
		p = put_half6(p, 15, r->be_addr);
		p = put_half6(p, 16, r->be_addr + 8);
	}
	if (r->spliced) {
		p = put_tag(p, 17, 0);
		*p++ = 1;
	}
	if (r->seq_delta != 0) {
		p = put_tag(p, 18, 5); /* fixed32, little-endian */
		*p++ = (uint8_t)r->seq_delta;
		*p++ = (uint8_t)(r->seq_delta >> 8);
		*p++ = (uint8_t)(r->seq_delta >> 16);
		*p++ = (uint8_t)(r->seq_delta >> 24);
	}
	if (r->unowned) {
		p = put_tag(p, 19, 0);
		*p++ = 1;
	}
	assert(p - out <= (ptrdiff_t)SYNC_REC_WIRE_MAX);
	return (int)(p - out);
}

uint8_t *
sync_batch_append(uint8_t *p, const uint8_t *rec, size_t len)
{
	static_assert(SYNC_REC_WIRE_MAX < 128, "one-byte length");

	assert(len < 128);
	*p++ = 5 << 3 | 2; /* Batch.sessions */
	*p++ = (uint8_t)len;
	memcpy(p, rec, len);
	return p + len;
}

static void
get_addr4(uint8_t a[16], uint32_t v)
{
	memcpy(a, v4_mapped, sizeof(v4_mapped));
	a[12] = (uint8_t)(v >> 24);
	a[13] = (uint8_t)(v >> 16);
	a[14] = (uint8_t)(v >> 8);
	a[15] = (uint8_t)v;
}

static void
get_addr6(uint8_t a[16], uint64_t hi, uint64_t lo)
{
	int i;

	for (i = 0; i < 8; i++) {
		a[i] = (uint8_t)(hi >> (56 - 8 * i));
		a[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
}

static uint64_t
be64_read(const uint8_t *a)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | a[i];
	return v;
}

/* An IPv6 address that is IPv4-mapped would read back as IPv4. */
static bool
v6_ok(uint64_t hi, uint64_t lo)
{
	return !(hi == 0 && (lo >> 32) == 0xffffu);
}

static bool
session_ok(const Halb__Sync__Session *s)
{
	bool v6 = s->family & 1u, be6 = s->family & 2u;

	return s->family <= 3u &&
	       (v6 ? s->src4 == 0 && s->dst4 == 0 &&
		     v6_ok(s->src6_hi, s->src6_lo) &&
		     v6_ok(s->dst6_hi, s->dst6_lo) :
		     (s->src6_hi | s->src6_lo | s->dst6_hi | s->dst6_lo) == 0) &&
	       (be6 ? s->backend4 == 0 &&
		      v6_ok(s->backend6_hi, s->backend6_lo) :
		      (s->backend6_hi | s->backend6_lo) == 0) &&
	       s->proto >= 1 && s->proto <= 255 && s->backend_port <= 65535 &&
	       (s->op == HALB__SYNC__OP__OP_UP ||
		s->op == HALB__SYNC__OP__OP_DOWN) &&
	       s->state <= FLOW_ST_UDP &&
	       (s->spliced ? s->proto == IPPROTO_TCP && s->state != FLOW_ST_UDP :
			     s->seq_delta == 0) &&
	       (!s->unowned || s->op == HALB__SYNC__OP__OP_UP);
}

int
sync_rec_from_pb(const Halb__Sync__Session *s, struct sess_rec *r)
{
	if (!session_ok(s))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (s->family & 1u) {
		get_addr6(r->key.src, s->src6_hi, s->src6_lo);
		get_addr6(r->key.dst, s->dst6_hi, s->dst6_lo);
	} else {
		get_addr4(r->key.src, s->src4);
		get_addr4(r->key.dst, s->dst4);
	}
	r->key.sport = htons((uint16_t)(s->ports >> 16));
	r->key.dport = htons((uint16_t)s->ports);
	r->key.proto = (uint8_t)s->proto;
	if (s->family & 2u)
		get_addr6(r->be_addr, s->backend6_hi, s->backend6_lo);
	else
		get_addr4(r->be_addr, s->backend4);
	r->be_port = (uint16_t)s->backend_port;
	r->op = (uint8_t)s->op;
	r->state = (uint8_t)s->state;
	r->idle_ms = s->idle_ms;
	r->spliced = s->spliced ? 1 : 0;
	r->seq_delta = s->seq_delta;
	r->unowned = s->unowned ? 1 : 0;
	return 0;
}

/* ---- each type's check (struct seal_type.check) ---- */

static int
check_batch(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Sync__Batch *b = (const Halb__Sync__Batch *)m;
	size_t i;

	(void)env;
	if (b->boot == 0 || b->seq == 0 || (b->flags & ~SYNC_F_ALL) != 0 ||
	    b->n_sessions > SYNC_BATCH_RECS_MAX)
		return -SEAL_REJ_PAYLOAD;
	for (i = 0; i < b->n_sessions; i++)
		if (!session_ok(b->sessions[i]))
			return -SEAL_REJ_PAYLOAD;
	return 0;
}

static int
check_ack(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Sync__Ack *a = (const Halb__Sync__Ack *)m;
	uint32_t prev = 0;
	size_t i;

	(void)env;
	/* highest == cum + 1 would mean cum + 1 arrived: cum is wrong. */
	if (a->boot == 0 || a->highest < a->cum || a->highest == a->cum + 1 ||
	    a->n_holes > SYNC_ACK_HOLES_MAX ||
	    (a->highest > a->cum && a->n_holes == 0) ||
	    (a->highest == a->cum && a->n_holes != 0))
		return -SEAL_REJ_PAYLOAD;
	for (i = 0; i < a->n_holes; i++) {
		if (a->holes[i] <= prev || a->holes[i] >= a->highest - a->cum)
			return -SEAL_REJ_PAYLOAD;
		prev = a->holes[i];
	}
	/* cum + 1 is missing whenever anything above cum arrived. */
	if (a->n_holes > 0 && a->holes[0] != 1)
		return -SEAL_REJ_PAYLOAD;
	return 0;
}

static int
check_dump_request(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Sync__DumpRequest *d = (const Halb__Sync__DumpRequest *)m;

	(void)env;
	return d->boot != 0 && d->id != 0 ? 0 : -SEAL_REJ_PAYLOAD;
}

static int
check_hello(const ProtobufCMessage *m, const struct seal_opened *env)
{
	(void)env;
	return ((const Halb__Sync__Hello *)m)->boot != 0 ? 0 : -SEAL_REJ_PAYLOAD;
}

int
sync_relay_seg(const uint8_t *seg, size_t len, uint8_t src[16],
	       uint16_t *sport)
{
	size_t l4, ip_len;
	uint8_t proto;

	if (seg == NULL || len < SYNC_RELAY_SEG_MIN || len > SYNC_RELAY_SEG_MAX)
		return -EINVAL;
	switch (seg[0] >> 4) {
	case 4:
		l4 = (size_t)(seg[0] & 0xf) * 4;
		ip_len = (size_t)seg[2] << 8 | seg[3];
		proto = seg[9];
		/* No fragment: MF clear and offset 0 (DF may be set). */
		if (l4 < 20 || (((uint32_t)seg[6] << 8 | seg[7]) & 0x3fff) != 0)
			return -EINVAL;
		if (src != NULL) {
			memcpy(src, v4_mapped, sizeof(v4_mapped));
			memcpy(src + 12, seg + 12, 4);
		}
		break;
	case 6:
		l4 = 40;
		ip_len = 40 + ((size_t)seg[4] << 8 | seg[5]);
		proto = seg[6];
		if (src != NULL)
			memcpy(src, seg + 8, 16);
		break;
	default:
		return -EINVAL;
	}
	/* The TCP header whole: its data offset at least 5 words. */
	if (ip_len != len || proto != IPPROTO_TCP || l4 + 20 > len ||
	    (size_t)(seg[l4 + 12] >> 4) * 4 < 20 ||
	    l4 + (size_t)(seg[l4 + 12] >> 4) * 4 > len)
		return -EINVAL;
	if (sport != NULL)
		memcpy(sport, seg + l4, 2);
	return 0;
}

static int
check_relay(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Sync__Relay *r = (const Halb__Sync__Relay *)m;

	(void)env;
	if (r->boot == 0 || (r->vip.len != 4 && r->vip.len != 16) ||
	    r->vip_port == 0 || r->vip_port > 65535 ||
	    (r->vip.len == 16 && !v6_ok(be64_read(r->vip.data), be64_read(r->vip.data + 8))) ||
	    sync_relay_seg(r->segment.data, r->segment.len, NULL, NULL) != 0)
		return -SEAL_REJ_PAYLOAD;
	return 0;
}

/* ---- registration ---- */

static const struct seal_type sync_types[] = {
	{ .type = SYNC_T_BATCH, .name = "sync-batch",
	  .desc = &halb__sync__batch__descriptor,
	  .senders = SEAL_ROLE_SYNC, .check = check_batch },
	{ .type = SYNC_T_ACK, .name = "sync-ack",
	  .desc = &halb__sync__ack__descriptor,
	  .senders = SEAL_ROLE_SYNC, .check = check_ack },
	{ .type = SYNC_T_DUMP_REQUEST, .name = "sync-dump-request",
	  .desc = &halb__sync__dump_request__descriptor,
	  .senders = SEAL_ROLE_SYNC, .check = check_dump_request },
	{ .type = SYNC_T_HELLO, .name = "sync-hello",
	  .desc = &halb__sync__hello__descriptor,
	  .senders = SEAL_ROLE_SYNC, .check = check_hello },
	{ .type = SYNC_T_RELAY, .name = "sync-relay",
	  .desc = &halb__sync__relay__descriptor,
	  .senders = SEAL_ROLE_SYNC, .check = check_relay },
};

#define N_TYPES (sizeof(sync_types) / sizeof(sync_types[0]))
/* sync_types[t - SYNC_T_BATCH] is type t. */
static_assert(N_TYPES == SYNC_T_RELAY - SYNC_T_BATCH + 1,
	      "one entry per enum sync_type");

/* Registered when the program starts, as hl_msg.c's types: a clash of
 * type numbers is a bug of the build, stop at once. */
__attribute__((constructor)) static void
sync_register(void)
{
	seal_register_family("sync_register", sync_types, N_TYPES);
}

static bool
sync_type_ok(uint32_t type)
{
	return type >= SYNC_T_BATCH && type <= SYNC_T_RELAY;
}

const char *
sync_type_name(int type)
{
	return type > 0 && sync_type_ok((uint32_t)type) ?
	       sync_types[type - SYNC_T_BATCH].name : "unknown";
}

int
sync_seal(uint8_t *out, size_t cap, const struct seal_key *key,
	  const char *sender, uint64_t seq, uint64_t ts_ms,
	  enum sync_type type, const ProtobufCMessage *payload)
{
	if (!sync_type_ok((uint32_t)type))
		return -EINVAL;
	return seal_msg(out, cap, key, sender, seq, ts_ms, (uint32_t)type,
			payload);
}

int
sync_seal_raw(uint8_t *out, size_t cap, const struct seal_key *key,
	      const char *sender, uint64_t seq, uint64_t ts_ms,
	      enum sync_type type, const uint8_t *payload, size_t plen)
{
	if (!sync_type_ok((uint32_t)type))
		return -EINVAL;
	return seal_raw(out, cap, key, sender, seq, ts_ms, (uint32_t)type,
			payload, plen);
}

ProtobufCMessage *
sync_payload_unpack(enum sync_type type, const uint8_t *buf, size_t len)
{
	if (!sync_type_ok((uint32_t)type))
		return NULL;
	return seal_payload_unpack((uint32_t)type, buf, len);
}

void
sync_opened_free(struct sync_opened *out)
{
	if (out == NULL || out->msg == NULL)
		return;
	protobuf_c_message_free_unpacked(out->msg, NULL);
	out->msg = NULL;
}

int
sync_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	  struct seal_replay *rp, uint64_t now_ms, struct sync_opened *out)
{
	struct seal_opened o;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = seal_open_family(buf, len, keys, rp, now_ms, SYNC_T_BATCH,
			      SYNC_T_RELAY, &o);
	if (rc < 0)
		return rc;
	out->type = (enum sync_type)o.type;
	memcpy(out->sender, o.sender, sizeof(out->sender));
	out->key_id = o.key_id;
	out->seq = o.seq;
	out->ts_ms = o.ts_ms;
	out->msg = o.msg;
	return 0;
}
