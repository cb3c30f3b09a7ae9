/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health/load message protocol (proto/halb_health.proto,
 * docs/HEALTH-PROTOCOL.md): its message types, who may send each, and
 * the rules of their fields, on top of the sealed messages of halb/seal.h
 * (envelope, MAC, keyring, replay state).
 *
 * src/core/hl_msg.c registers the five types with the sealing layer when the
 * program starts (a constructor, as DPDK's RTE_INIT), so hl_seal() and
 * hl_open() are seal_msg() and seal_open() restricted to this protocol's
 * types, with the opened message typed.  On top of seal's checks a
 * HostReport must speak for its own sender and repeat the envelope's seq
 * and timestamp.
 *
 * Who may send what (the roles of halb/seal-t.h, given to each key of a
 * receiver's keyring): a HostReport only an agent; a ReportRequest and a
 * CacheSnapshot only a handler (healthd to its agents and its
 * classifier, health.key) or a peer (the pair's own key); an Ack and a
 * Heartbeat anyone.  So the key that agents hold never authorises a
 * snapshot.
 */
#ifndef HALB_HL_MSG_H
#define HALB_HL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "halb_health.pb-c.h"
#include "halb/seal.h"

/* The protocol's sizes are the envelope's. */
#define HL_VERSION SEAL_VERSION
#define HL_MTU SEAL_MTU
#define HL_MAX_DATAGRAM SEAL_MAX_DATAGRAM
#define HL_NAME_MAX SEAL_NAME_MAX   /* host ids and service names, in bytes */
#define HL_REASON_MAX 255u          /* free-text reasons, in bytes */
#define HL_INTERVAL_MAX_MS 3600000u /* longest report interval a host may promise */

/* Inner message types; the values are those of halb.health.MsgType and
 * the envelope's type numbers of this protocol. */
enum hl_type {
	HL_T_HOST_REPORT = 1,
	HL_T_REPORT_REQUEST = 2,
	HL_T_CACHE_SNAPSHOT = 3,
	HL_T_ACK = 4,
	HL_T_HEARTBEAT = 5,
};

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
 * Seals payload (a message of the type's descriptor) into out[0..cap):
 * seal_msg() for the types of this protocol.  Returns the datagram
 * length, -EINVAL (as seal_msg(), or a type not of this protocol) or
 * -EMSGSIZE.  Senders pass cap = HL_MTU unless they know better.
 */
int hl_seal(uint8_t *out, size_t cap, const struct seal_key *key,
	    const char *sender, uint64_t seq, uint64_t ts_ms, enum hl_type type,
	    const ProtobufCMessage *payload);

/* The same with payload already serialized (plen bytes, NULL if 0). */
int hl_seal_raw(uint8_t *out, size_t cap, const struct seal_key *key,
		const char *sender, uint64_t seq, uint64_t ts_ms,
		enum hl_type type, const uint8_t *payload, size_t plen);

/*
 * Opens the datagram buf[0..len) received at now_ms (unix ms): seal_open(),
 * and an authentic message of another protocol's type (which only keys
 * holding that protocol's roles can send) is refused as SEAL_REJ_ROLE.
 * Returns 0 and fills out (release with hl_opened_free()), or
 * -enum seal_reject with out->msg NULL.
 */
int hl_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	    struct seal_replay *rp, uint64_t now_ms, struct hl_opened *out);

/* Releases out->msg; out may be NULL, out->msg may be NULL. */
void hl_opened_free(struct hl_opened *out);

/*
 * Decodes and range-checks an inner message of the given type without any
 * envelope or MAC (the fuzzer calls it directly).  Returns the message
 * (free with protobuf_c_message_free_unpacked(msg, NULL)) or NULL when it
 * does not decode, is out of range, or the type is not this protocol's.
 * It does not compare a HostReport with any envelope.
 */
ProtobufCMessage *hl_payload_unpack(enum hl_type type, const uint8_t *buf,
				    size_t len);

/* "host-report", ... or "unknown". */
const char *hl_type_name(int type);

#endif /* HALB_HL_MSG_H */
