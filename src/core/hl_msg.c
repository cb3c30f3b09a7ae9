/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sealing and opening health/load datagrams (include/halb/hl_msg.h,
 * docs/HEALTH-PROTOCOL.md).
 *
 * The MAC does not cover protobuf bytes but a canonical concatenation of
 * the envelope's fields (mac_input()), so that a sender in any language
 * can compute it without reproducing an encoder.  On top of that hl_open()
 * wants the envelope in exactly the encoding protobuf-c gives it (fields
 * in order, defaults omitted, no duplicates, no unknown fields, no NUL
 * inside the sender), so one authenticated content has one encoding and
 * any changed byte of a datagram is refused.
 *
 * Keyring and replay table are open-addressing hash tables over a fixed
 * array, sized at creation, never shrunk: a keyring is read-only once
 * built, a replay table only gains senders (at most its capacity).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "halb/hl_msg.h"

static_assert((int)HL_T_HOST_REPORT == (int)HALB__HEALTH__MSG_TYPE__MSG_HOST_REPORT &&
	      (int)HL_T_REPORT_REQUEST == (int)HALB__HEALTH__MSG_TYPE__MSG_REPORT_REQUEST &&
	      (int)HL_T_CACHE_SNAPSHOT == (int)HALB__HEALTH__MSG_TYPE__MSG_CACHE_SNAPSHOT &&
	      (int)HL_T_ACK == (int)HALB__HEALTH__MSG_TYPE__MSG_ACK &&
	      (int)HL_T_HEARTBEAT == (int)HALB__HEALTH__MSG_TYPE__MSG_HEARTBEAT,
	      "enum hl_type mirrors halb.health.MsgType");

#define HL_TABLE_MAX (1u << 20) /* senders or keys per table */

/* Domain separation of the MAC input; the last digit is the version. */
static const char mac_tag[8] = { 'h', 'a', 'l', 'b', '-', 'h', 'l', '1' };

/* tag, version, key id, sender length + sender, seq, ts, type, payload length */
#define MAC_HDR_MAX (8 + 4 + 4 + 1 + HL_NAME_MAX + 8 + 8 + 4 + 4)

static const ProtobufCMessageDescriptor *
type_desc(int type)
{
	switch (type) {
	case HL_T_HOST_REPORT:
		return &halb__health__host_report__descriptor;
	case HL_T_REPORT_REQUEST:
		return &halb__health__report_request__descriptor;
	case HL_T_CACHE_SNAPSHOT:
		return &halb__health__cache_snapshot__descriptor;
	case HL_T_ACK:
		return &halb__health__ack__descriptor;
	case HL_T_HEARTBEAT:
		return &halb__health__heartbeat__descriptor;
	default:
		return NULL;
	}
}

const char *
hl_type_name(int type)
{
	switch (type) {
	case HL_T_HOST_REPORT:
		return "host-report";
	case HL_T_REPORT_REQUEST:
		return "report-request";
	case HL_T_CACHE_SNAPSHOT:
		return "cache-snapshot";
	case HL_T_ACK:
		return "ack";
	case HL_T_HEARTBEAT:
		return "heartbeat";
	default:
		return "unknown";
	}
}

const char *
hl_reject_name(int r)
{
	static const char *const names[HL_REJ__COUNT] = {
		[0] = "ok",
		[HL_REJ_OVERSIZE] = "oversize",
		[HL_REJ_GARBLED] = "garbled",
		[HL_REJ_VERSION] = "version",
		[HL_REJ_UNKNOWN_SENDER] = "unknown-sender",
		[HL_REJ_BAD_MAC] = "bad-mac",
		[HL_REJ_REPLAY] = "replay",
		[HL_REJ_STALE] = "stale",
		[HL_REJ_IDENTITY] = "identity",
		[HL_REJ_PAYLOAD] = "payload",
	};

	if (r <= -HL_REJ__COUNT || r >= HL_REJ__COUNT)
		return "unknown";
	return names[r < 0 ? -r : r];
}

void
hl_clamp_weight(uint32_t *w, uint32_t min, uint32_t max)
{
	if (*w < min)
		*w = min;
	if (*w > max)
		*w = max;
}

/* A host id or service name: 1..HL_NAME_MAX bytes. */
static bool
name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, HL_NAME_MAX + 1);
	return n >= 1 && n <= HL_NAME_MAX;
}

static bool
key_ok(const struct hl_key *k)
{
	return k != NULL && k->len >= HL_KEY_MIN && k->len <= HL_KEY_MAX;
}

/* FNV-1a over a string and a 32-bit value. */
static uint64_t
name_hash(const char *s, uint32_t v)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned int i;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	for (i = 0; i < 4; i++) {
		h ^= (uint8_t)(v >> (8 * i));
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Slots for a table of cap entries: a power of two, at most half full. */
static uint32_t
slots_for(uint32_t cap)
{
	uint32_t s = 4;

	while (s < 2 * cap)
		s <<= 1;
	return s;
}

/* ---- keyring ---- */

struct hl_keyent {
	char sender[HL_NAME_MAX + 1];
	struct hl_key key;
};

struct hl_keyring {
	uint32_t n, cap, mask;
	uint32_t *slot;          /* entry index + 1, 0: free */
	struct hl_keyent *ent;
};

struct hl_keyring *
hl_keyring_new(uint32_t cap)
{
	struct hl_keyring *kr;

	if (cap == 0 || cap > HL_TABLE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL)
		goto fail;
	kr->cap = cap;
	kr->mask = slots_for(cap) - 1;
	kr->slot = calloc((size_t)kr->mask + 1, sizeof(*kr->slot));
	kr->ent = calloc(cap, sizeof(*kr->ent));
	if (kr->slot == NULL || kr->ent == NULL)
		goto fail;
	return kr;
fail:
	hl_keyring_free(kr);
	errno = ENOMEM;
	return NULL;
}

void
hl_keyring_free(struct hl_keyring *kr)
{
	if (kr == NULL)
		return;
	/* Keys are secrets: do not leave them in freed memory. */
	if (kr->ent != NULL)
		OPENSSL_cleanse(kr->ent, (size_t)kr->cap * sizeof(*kr->ent));
	free(kr->ent);
	free(kr->slot);
	free(kr);
}

/* The slot holding (sender, key_id), or the free slot where it would go. */
static uint32_t
keyring_slot(const struct hl_keyring *kr, const char *sender, uint32_t key_id)
{
	uint32_t i = (uint32_t)name_hash(sender, key_id) & kr->mask;

	for (;; i = (i + 1) & kr->mask) {
		const struct hl_keyent *e;

		if (kr->slot[i] == 0)
			return i;
		e = &kr->ent[kr->slot[i] - 1];
		if (e->key.id == key_id && strcmp(e->sender, sender) == 0)
			return i;
	}
}

int
hl_keyring_add(struct hl_keyring *kr, const char *sender,
	       const struct hl_key *key)
{
	struct hl_keyent *e;
	uint32_t i;

	if (kr == NULL || !name_ok(sender) || !key_ok(key))
		return -EINVAL;
	i = keyring_slot(kr, sender, key->id);
	if (kr->slot[i] != 0)
		return -EEXIST;
	if (kr->n == kr->cap)
		return -ENOSPC;
	e = &kr->ent[kr->n];
	memcpy(e->sender, sender, strlen(sender) + 1);
	e->key = *key;
	kr->slot[i] = ++kr->n;
	return 0;
}

const struct hl_key *
hl_keyring_find(const struct hl_keyring *kr, const char *sender,
		uint32_t key_id)
{
	uint32_t i;

	if (kr == NULL || !name_ok(sender))
		return NULL;
	i = keyring_slot(kr, sender, key_id);
	return kr->slot[i] == 0 ? NULL : &kr->ent[kr->slot[i] - 1].key;
}

/* ---- replay table ---- */

struct hl_rpent {
	char sender[HL_NAME_MAX + 1];
	uint64_t last_seq;
};

struct hl_replay {
	uint32_t n, cap, mask;
	uint32_t window_ms;
	uint32_t *slot;          /* entry index + 1, 0: free */
	struct hl_rpent *ent;
};

struct hl_replay *
hl_replay_new(uint32_t cap, uint32_t window_ms)
{
	struct hl_replay *rp;

	if (cap == 0 || cap > HL_TABLE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	rp = calloc(1, sizeof(*rp));
	if (rp == NULL)
		goto fail;
	rp->cap = cap;
	rp->mask = slots_for(cap) - 1;
	rp->window_ms = window_ms != 0 ? window_ms : HL_WINDOW_MS_DEFAULT;
	rp->slot = calloc((size_t)rp->mask + 1, sizeof(*rp->slot));
	rp->ent = calloc(cap, sizeof(*rp->ent));
	if (rp->slot == NULL || rp->ent == NULL)
		goto fail;
	return rp;
fail:
	hl_replay_free(rp);
	errno = ENOMEM;
	return NULL;
}

void
hl_replay_free(struct hl_replay *rp)
{
	if (rp == NULL)
		return;
	free(rp->ent);
	free(rp->slot);
	free(rp);
}

static uint32_t
replay_slot(const struct hl_replay *rp, const char *sender)
{
	uint32_t i = (uint32_t)name_hash(sender, 0) & rp->mask;

	for (;; i = (i + 1) & rp->mask) {
		if (rp->slot[i] == 0 ||
		    strcmp(rp->ent[rp->slot[i] - 1].sender, sender) == 0)
			return i;
	}
}

uint64_t
hl_replay_last(const struct hl_replay *rp, const char *sender)
{
	uint32_t i;

	if (rp == NULL || !name_ok(sender))
		return 0;
	i = replay_slot(rp, sender);
	return rp->slot[i] == 0 ? 0 : rp->ent[rp->slot[i] - 1].last_seq;
}

/* ---- MAC ---- */

static uint8_t *
put_be(uint8_t *p, uint64_t v, unsigned int bytes)
{
	while (bytes-- > 0)
		*p++ = (uint8_t)(v >> (8 * bytes));
	return p;
}

/*
 * HMAC-SHA256 with key over
 *   "halb-hl1" | version u32 | key id u32 | sender length u8 | sender |
 *   seq u64 | timestamp u64 | type u32 | payload length u32 | payload
 * integers big-endian.  sender is 1..HL_NAME_MAX bytes, plen at most
 * HL_MAX_DATAGRAM.  Returns 0 or -EIO when libcrypto fails.
 */
static int
mac_compute(uint8_t mac[HL_MAC_LEN], const struct hl_key *key,
	    uint32_t version, const char *sender, uint64_t seq, uint64_t ts_ms,
	    uint32_t type, const uint8_t *payload, size_t plen)
{
	uint8_t in[MAC_HDR_MAX + HL_MAX_DATAGRAM];
	size_t slen = strlen(sender);
	unsigned int mlen = 0;
	uint8_t *p = in;

	assert(slen >= 1 && slen <= HL_NAME_MAX && plen <= HL_MAX_DATAGRAM);
	memcpy(p, mac_tag, sizeof(mac_tag));
	p += sizeof(mac_tag);
	p = put_be(p, version, 4);
	p = put_be(p, key->id, 4);
	*p++ = (uint8_t)slen;
	memcpy(p, sender, slen);
	p += slen;
	p = put_be(p, seq, 8);
	p = put_be(p, ts_ms, 8);
	p = put_be(p, type, 4);
	p = put_be(p, plen, 4);
	if (plen > 0)
		memcpy(p, payload, plen);
	p += plen;
	if (HMAC(EVP_sha256(), key->bytes, (int)key->len, in, (size_t)(p - in),
		 mac, &mlen) == NULL || mlen != HL_MAC_LEN)
		return -EIO;
	return 0;
}

/* ---- sealing ---- */

/* payload is the caller's scratch copy (protobuf-c wants it non-const). */
static int
seal(uint8_t *out, size_t cap, const struct hl_key *key, const char *sender,
     uint64_t seq, uint64_t ts_ms, enum hl_type type, uint8_t *payload,
     size_t plen)
{
	char who[HL_NAME_MAX + 1];
	uint8_t mac[HL_MAC_LEN];
	Halb__Health__Envelope env;
	size_t n;
	int rc;

	memcpy(who, sender, strlen(sender) + 1);
	rc = mac_compute(mac, key, HL_VERSION, who, seq, ts_ms, type, payload,
			 plen);
	if (rc < 0)
		return rc;
	halb__health__envelope__init(&env);
	env.version = HL_VERSION;
	env.sender = who;
	env.key_id = key->id;
	env.seq = seq;
	env.timestamp_ms = ts_ms;
	env.type = (Halb__Health__MsgType)type;
	env.payload.len = plen;
	env.payload.data = plen > 0 ? payload : NULL;
	env.hmac.len = HL_MAC_LEN;
	env.hmac.data = mac;
	n = halb__health__envelope__get_packed_size(&env);
	if (n > cap || n > HL_MAX_DATAGRAM)
		return -EMSGSIZE;
	return (int)halb__health__envelope__pack(&env, out);
}

static bool
seal_args_ok(const uint8_t *out, const struct hl_key *key, const char *sender,
	     uint64_t seq, enum hl_type type)
{
	return out != NULL && key_ok(key) && name_ok(sender) && seq != 0 &&
	       type_desc((int)type) != NULL;
}

int
hl_seal(uint8_t *out, size_t cap, const struct hl_key *key,
	const char *sender, uint64_t seq, uint64_t ts_ms, enum hl_type type,
	const ProtobufCMessage *payload)
{
	uint8_t buf[HL_MAX_DATAGRAM];
	size_t plen;

	if (!seal_args_ok(out, key, sender, seq, type) || payload == NULL ||
	    payload->descriptor != type_desc((int)type))
		return -EINVAL;
	plen = protobuf_c_message_get_packed_size(payload);
	if (plen > sizeof(buf))
		return -EMSGSIZE;
	protobuf_c_message_pack(payload, buf);
	return seal(out, cap, key, sender, seq, ts_ms, type, buf, plen);
}

int
hl_seal_raw(uint8_t *out, size_t cap, const struct hl_key *key,
	    const char *sender, uint64_t seq, uint64_t ts_ms,
	    enum hl_type type, const uint8_t *payload, size_t plen)
{
	uint8_t buf[HL_MAX_DATAGRAM];

	if (!seal_args_ok(out, key, sender, seq, type) ||
	    (payload == NULL && plen > 0))
		return -EINVAL;
	if (plen > sizeof(buf))
		return -EMSGSIZE;
	if (plen > 0)
		memcpy(buf, payload, plen);
	return seal(out, cap, key, sender, seq, ts_ms, type, buf, plen);
}

/* ---- inner messages ---- */

static bool
reason_ok(const char *s)
{
	return s != NULL && strnlen(s, HL_REASON_MAX + 1) <= HL_REASON_MAX;
}

static bool
address_ok(const char *s)
{
	uint8_t a[16];

	if (s == NULL || strnlen(s, 64) >= 64)
		return false;
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* 0 is the port of a backend of an all-ports service (service port 0,
 * backend port 0): such a backend is known by its address alone. */
static bool
port_ok(uint32_t port)
{
	return port <= 65535;
}

static bool
state_ok(Halb__Health__HealthState s)
{
	return s == HALB__HEALTH__HEALTH_STATE__HEALTH_UP ||
	       s == HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN ||
	       s == HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING;
}

/* An absent load is fine; a present one has permilles in 0..1000. */
static bool
load_ok(const Halb__Health__Load *l)
{
	return l == NULL ||
	       (l->cpu_permille <= 1000 && l->mem_used_permille <= 1000);
}

static bool
report_ok(const Halb__Health__HostReport *r)
{
	size_t i;

	if (!name_ok(r->host_id) || r->report_interval_ms == 0 ||
	    r->report_interval_ms > HL_INTERVAL_MAX_MS || !load_ok(r->load))
		return false;
	for (i = 0; i < r->n_services; i++) {
		const Halb__Health__ServiceHealth *s = r->services[i];

		if (!name_ok(s->service) || !address_ok(s->address) ||
		    !port_ok(s->port) || !state_ok(s->state) ||
		    !reason_ok(s->reason))
			return false;
	}
	return true;
}

static bool
snapshot_ok(const Halb__Health__CacheSnapshot *c)
{
	uint32_t parts = c->parts != 0 ? c->parts : 1;
	size_t i;

	if (c->part >= parts)
		return false;
	for (i = 0; i < c->n_backends; i++) {
		const Halb__Health__BackendState *b = c->backends[i];

		if (!name_ok(b->service) || !address_ok(b->address) ||
		    !port_ok(b->port) || !state_ok(b->state) ||
		    !load_ok(b->load) ||
		    (b->source != HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT &&
		     b->source != HALB__HEALTH__STATE_SOURCE__SOURCE_PROBE &&
		     b->source != HALB__HEALTH__STATE_SOURCE__SOURCE_LAST_KNOWN))
			return false;
	}
	return true;
}

static bool
payload_ok(enum hl_type type, const ProtobufCMessage *m)
{
	const Halb__Health__Ack *a;
	const Halb__Health__Heartbeat *h;

	switch (type) {
	case HL_T_HOST_REPORT:
		return report_ok((const Halb__Health__HostReport *)m);
	case HL_T_REPORT_REQUEST:
		return reason_ok(((const Halb__Health__ReportRequest *)m)->reason);
	case HL_T_CACHE_SNAPSHOT:
		return snapshot_ok((const Halb__Health__CacheSnapshot *)m);
	case HL_T_ACK:
		a = (const Halb__Health__Ack *)m;
		return a->status == HALB__HEALTH__ACK_STATUS__ACK_OK ||
		       a->status == HALB__HEALTH__ACK_STATUS__ACK_IGNORED;
	case HL_T_HEARTBEAT:
		h = (const Halb__Health__Heartbeat *)m;
		return h->role == HALB__HEALTH__ROLE__ROLE_AGENT ||
		       h->role == HALB__HEALTH__ROLE__ROLE_HEALTHD ||
		       h->role == HALB__HEALTH__ROLE__ROLE_CLASSIFIER;
	}
	return false;
}

ProtobufCMessage *
hl_payload_unpack(enum hl_type type, const uint8_t *buf, size_t len)
{
	static const uint8_t empty[1];
	const ProtobufCMessageDescriptor *d = type_desc((int)type);
	ProtobufCMessage *m;

	if (d == NULL || len > HL_MAX_DATAGRAM || (buf == NULL && len > 0))
		return NULL;
	m = protobuf_c_message_unpack(d, NULL, len, len > 0 ? buf : empty);
	if (m != NULL && !payload_ok(type, m)) {
		protobuf_c_message_free_unpacked(m, NULL);
		m = NULL;
	}
	return m;
}

/* ---- opening ---- */

/* Decodable, version 1, canonical, every field present and in range. */
static int
envelope_check(const Halb__Health__Envelope *env, const uint8_t *buf,
	       size_t len)
{
	uint8_t again[HL_MAX_DATAGRAM];

	if (env->version != HL_VERSION)
		return -HL_REJ_VERSION;
	if (env->base.n_unknown_fields != 0 ||
	    halb__health__envelope__get_packed_size(env) != len ||
	    halb__health__envelope__pack(env, again) != len ||
	    memcmp(again, buf, len) != 0)
		return -HL_REJ_GARBLED;
	if (!name_ok(env->sender) || env->hmac.len != HL_MAC_LEN ||
	    env->seq == 0 || type_desc((int)env->type) == NULL ||
	    env->payload.len > HL_MAX_DATAGRAM)
		return -HL_REJ_GARBLED;
	return 0;
}

static bool
in_window(uint64_t ts, uint64_t now, uint32_t window)
{
	return ts <= now ? now - ts <= window : ts - now <= window;
}

void
hl_opened_free(struct hl_opened *out)
{
	if (out == NULL || out->msg == NULL)
		return;
	protobuf_c_message_free_unpacked(out->msg, NULL);
	out->msg = NULL;
}

int
hl_open(const uint8_t *buf, size_t len, const struct hl_keyring *keys,
	struct hl_replay *rp, uint64_t now_ms, struct hl_opened *out)
{
	Halb__Health__Envelope *env = NULL;
	const Halb__Health__HostReport *r;
	uint8_t mac[HL_MAC_LEN];
	ProtobufCMessage *m = NULL;
	const struct hl_key *key;
	struct hl_rpent *e;
	uint32_t slot;
	int rc;

	assert(keys != NULL && rp != NULL && out != NULL);
	memset(out, 0, sizeof(*out));
	if (len > HL_MAX_DATAGRAM)
		return -HL_REJ_OVERSIZE;
	if (buf == NULL || len == 0)
		return -HL_REJ_GARBLED;

	env = halb__health__envelope__unpack(NULL, len, buf);
	if (env == NULL) {
		rc = -HL_REJ_GARBLED;
		goto out;
	}
	rc = envelope_check(env, buf, len);
	if (rc < 0)
		goto out;

	key = hl_keyring_find(keys, env->sender, env->key_id);
	if (key == NULL) {
		rc = -HL_REJ_UNKNOWN_SENDER;
		goto out;
	}
	rc = mac_compute(mac, key, env->version, env->sender, env->seq,
			 env->timestamp_ms, env->type, env->payload.data,
			 env->payload.len);
	if (rc < 0 || CRYPTO_memcmp(mac, env->hmac.data, HL_MAC_LEN) != 0) {
		rc = -HL_REJ_BAD_MAC;
		goto out;
	}

	/* Authentic from here on: judge it against what we accepted before. */
	slot = replay_slot(rp, env->sender);
	if (rp->slot[slot] != 0) {
		if (env->seq <= rp->ent[rp->slot[slot] - 1].last_seq) {
			rc = -HL_REJ_REPLAY;
			goto out;
		}
	} else if (rp->n == rp->cap) {
		rc = -HL_REJ_UNKNOWN_SENDER;
		goto out;
	}
	if (!in_window(env->timestamp_ms, now_ms, rp->window_ms)) {
		rc = -HL_REJ_STALE;
		goto out;
	}

	m = hl_payload_unpack((enum hl_type)env->type, env->payload.data,
			      env->payload.len);
	if (m == NULL) {
		rc = -HL_REJ_PAYLOAD;
		goto out;
	}
	if (env->type == HALB__HEALTH__MSG_TYPE__MSG_HOST_REPORT) {
		r = (const Halb__Health__HostReport *)m;
		if (strcmp(r->host_id, env->sender) != 0) {
			rc = -HL_REJ_IDENTITY;
			goto out;
		}
		if (r->seq != env->seq || r->timestamp_ms != env->timestamp_ms) {
			rc = -HL_REJ_PAYLOAD;
			goto out;
		}
	}

	/* Accepted: only now does the replay state move. */
	if (rp->slot[slot] == 0) {
		e = &rp->ent[rp->n];
		memcpy(e->sender, env->sender, strlen(env->sender) + 1);
		rp->slot[slot] = ++rp->n;
	}
	rp->ent[rp->slot[slot] - 1].last_seq = env->seq;

	out->type = (enum hl_type)env->type;
	memcpy(out->sender, env->sender, strlen(env->sender) + 1);
	out->key_id = env->key_id;
	out->seq = env->seq;
	out->ts_ms = env->timestamp_ms;
	out->msg = m;
	m = NULL;
	rc = 0;
out:
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
	if (env != NULL)
		halb__health__envelope__free_unpacked(env, NULL);
	return rc;
}
