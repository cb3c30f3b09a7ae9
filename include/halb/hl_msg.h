/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health/load message protocol: sealing and opening authenticated
 * datagrams (healthload/proto/halb_health.proto, docs/HEALTH-PROTOCOL.md).
 *
 * Every datagram is one Envelope: who sends (host id and key id), a
 * sequence number strictly increasing per sender, the sender's clock, the
 * type of the inner message, its serialized bytes, and an HMAC-SHA256 over
 * a canonical concatenation of all of that.  hl_open() accepts a datagram
 * only when, in this order: it is small enough, it decodes, it is version
 * 1 and in canonical encoding, its sender and key id are in the keyring,
 * the MAC matches (constant time), its sequence number is above the last
 * accepted one of that sender, its timestamp is within the window of the
 * receiver's clock, its inner message decodes and is within range, and a
 * HostReport speaks for its own sender.  The replay state advances only
 * then, so a refused datagram never changes what a later one is judged by.
 *
 * Nothing here uses DPDK, sockets, threads or logs: callers send, receive,
 * count the reasons (enum hl_reject) and log.  A keyring is built once and
 * then only read (build a new one on reload); a replay table belongs to
 * the one thread that opens datagrams.
 */
#ifndef HALB_HL_MSG_H
#define HALB_HL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "halb_health.pb-c.h"
#include "halb/hl_key.h"        /* struct hl_key, HL_KEY_MIN, HL_KEY_MAX */

#define HL_VERSION 1u
#define HL_MTU 1400u            /* what senders aim for: one unfragmented datagram */
#define HL_MAX_DATAGRAM 4096u   /* the largest datagram hl_open() considers */
#define HL_NAME_MAX 63u         /* host ids and service names, in bytes */
#define HL_REASON_MAX 255u      /* free-text reasons, in bytes */
#define HL_MAC_LEN 32u          /* HMAC-SHA256 */
#define HL_WINDOW_MS_DEFAULT 5000u
#define HL_INTERVAL_MAX_MS 3600000u /* longest report interval a host may promise */

/* Inner message types; the values are those of halb.health.MsgType. */
enum hl_type {
	HL_T_HOST_REPORT = 1,
	HL_T_REPORT_REQUEST = 2,
	HL_T_CACHE_SNAPSHOT = 3,
	HL_T_ACK = 4,
	HL_T_HEARTBEAT = 5,
};

/* Why hl_open() refused a datagram; it returns the negated value. */
enum hl_reject {
	HL_REJ_OVERSIZE = 1,    /* longer than HL_MAX_DATAGRAM */
	HL_REJ_GARBLED,         /* envelope does not decode, is not canonical,
				 * or a field is missing or out of range */
	HL_REJ_VERSION,         /* envelope version is not HL_VERSION */
	HL_REJ_UNKNOWN_SENDER,  /* no key for (sender, key id), or the replay
				 * table is full and the sender is new */
	HL_REJ_BAD_MAC,         /* HMAC does not match */
	HL_REJ_REPLAY,          /* seq <= the last accepted seq of the sender */
	HL_REJ_STALE,           /* timestamp outside now +- window */
	HL_REJ_IDENTITY,        /* a HostReport for another host than its sender */
	HL_REJ_PAYLOAD,         /* inner message does not decode, is out of
				 * range, or disagrees with the envelope */
	HL_REJ__COUNT           /* size of a counter array indexed by reason */
};

struct hl_keyring;  /* sender id + key id -> key; private to src/hl_msg.c */
struct hl_replay;   /* sender id -> last accepted seq; private too */

/* What hl_open() accepted.  msg is owned by it: release with hl_opened_free(). */
struct hl_opened {
	enum hl_type type;
	char sender[HL_NAME_MAX + 1];
	uint32_t key_id;
	uint64_t seq;
	uint64_t ts_ms;
	union {
		ProtobufCMessage *msg;              /* any type */
		Halb__Health__HostReport *report;
		Halb__Health__ReportRequest *request;
		Halb__Health__CacheSnapshot *snapshot;
		Halb__Health__Ack *ack;
		Halb__Health__Heartbeat *heartbeat;
	};
};

/*
 * Seals payload (a message of the type's descriptor) into out[0..cap).
 * Returns the datagram length, -EINVAL (a NULL argument, sender empty or
 * longer than HL_NAME_MAX, key length out of bounds, seq 0, unknown type,
 * payload of another type) or -EMSGSIZE (longer than cap or than
 * HL_MAX_DATAGRAM).  Senders pass cap = HL_MTU unless they know better.
 * It checks no content: a receiver's hl_open() does.
 */
int hl_seal(uint8_t *out, size_t cap, const struct hl_key *key,
	    const char *sender, uint64_t seq, uint64_t ts_ms, enum hl_type type,
	    const ProtobufCMessage *payload);

/* The same with payload already serialized (plen bytes, NULL if 0). */
int hl_seal_raw(uint8_t *out, size_t cap, const struct hl_key *key,
		const char *sender, uint64_t seq, uint64_t ts_ms,
		enum hl_type type, const uint8_t *payload, size_t plen);

/*
 * Opens the datagram buf[0..len) received at now_ms (unix ms).  Returns 0
 * and fills out (release with hl_opened_free()), or -enum hl_reject with
 * out->msg NULL and rp unchanged.  See the top of this file for the order
 * of the checks.
 */
int hl_open(const uint8_t *buf, size_t len, const struct hl_keyring *keys,
	    struct hl_replay *rp, uint64_t now_ms, struct hl_opened *out);

/* Releases out->msg; out may be NULL, out->msg may be NULL. */
void hl_opened_free(struct hl_opened *out);

/*
 * Decodes and range-checks an inner message of the given type without any
 * envelope or MAC (hl_open() uses it after the MAC; the fuzzer calls it
 * directly).  Returns the message (free with protobuf_c_message_free_unpacked
 * (msg, NULL)) or NULL when it does not decode, is out of range, or the
 * type is unknown.  It does not compare a HostReport with any envelope.
 */
ProtobufCMessage *hl_payload_unpack(enum hl_type type, const uint8_t *buf,
				    size_t len);

/* "ok" for 0, the reason's name for r or -r, "unknown" otherwise. */
const char *hl_reject_name(int r);

/* "host-report", ... or "unknown". */
const char *hl_type_name(int type);

/* Bounds *w to [min, max] (when min > max, max wins). */
void hl_clamp_weight(uint32_t *w, uint32_t min, uint32_t max);

/* Key ring.  Creators return NULL and set errno (EINVAL, ENOMEM). */
struct hl_keyring *hl_keyring_new(uint32_t cap);
void hl_keyring_free(struct hl_keyring *kr);

/*
 * Adds the key for sender (1..HL_NAME_MAX bytes).  A sender may hold
 * several keys with different ids (rotation).  Returns 0, -EINVAL (bad
 * name or key length), -EEXIST (that sender already has that key id) or
 * -ENOSPC.
 */
int hl_keyring_add(struct hl_keyring *kr, const char *sender,
		   const struct hl_key *key);

/* The key of (sender, key_id) or NULL. */
const struct hl_key *hl_keyring_find(const struct hl_keyring *kr,
				     const char *sender, uint32_t key_id);

/*
 * Replay table for at most cap senders; window_ms bounds |timestamp - now|
 * (0: HL_WINDOW_MS_DEFAULT).
 */
struct hl_replay *hl_replay_new(uint32_t cap, uint32_t window_ms);
void hl_replay_free(struct hl_replay *rp);

/* Last accepted seq of sender, 0 if none yet. */
uint64_t hl_replay_last(const struct hl_replay *rp, const char *sender);

#endif /* HALB_HL_MSG_H */
