/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session sync protocol's messages (proto/halb_sync.proto,
 * docs/SYNC-PROTOCOL.md): its types, who may send them, the rules of
 * their fields, and the translation of a session between struct sess_rec
 * and its compact wire form, on top of the sealed messages of
 * halb/seal.h (envelope, MAC, keyring, replay state).
 *
 * src/core/sync_msg.c registers the four types with the sealing layer
 * when the program starts (a constructor, as hl_msg.c does); only keys
 * holding SEAL_ROLE_SYNC may send them, and sync_open() refuses an
 * authentic message of another protocol as SEAL_REJ_ROLE.  The engine
 * that speaks the protocol (batching, acks, resends, liveness, dumps) is
 * session/sync.c.
 */
#ifndef HALB_SYNC_MSG_H
#define HALB_SYNC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "halb_sync.pb-c.h"
#include "halb/seal.h"
#include "halb/sess-t.h"

/* Inner message types; the values are those of halb.sync.MsgType. */
enum sync_type {
	SYNC_T_BATCH = 16,
	SYNC_T_ACK = 17,
	SYNC_T_DUMP_REQUEST = 18,
	SYNC_T_HELLO = 19,
	SYNC_T_RELAY = 20,
};

/* Batch flags (Batch.flags). */
#define SYNC_F_DUMP_START 0x1u  /* first session: the first of a dump */
#define SYNC_F_DUMP_END 0x2u    /* last session: the last of a dump */
#define SYNC_F_ALL (SYNC_F_DUMP_START | SYNC_F_DUMP_END)

/* Bounds a receiver enforces (and a sender keeps to). */
#define SYNC_BATCH_RECS_MAX 256u  /* sessions per batch */
#define SYNC_ACK_HOLES_MAX 1024u  /* holes per ack: a window's worth */
#define SYNC_REC_WIRE_MAX 90u     /* one Session, packed, at most */
#define SYNC_RELAY_SEG_MAX 1520u  /* Relay.segment bytes at most */
#define SYNC_RELAY_SEG_MIN 40u    /* an IPv4 header and a TCP header */

/* What sync_open() accepted.  msg is owned by it: release with
 * sync_opened_free(). */
struct sync_opened {
	enum sync_type type;
	char sender[SEAL_NAME_MAX + 1];
	uint32_t key_id;
	uint64_t seq;             /* the envelope's */
	uint64_t ts_ms;
	union {
		ProtobufCMessage *msg;
		Halb__Sync__Batch *batch;
		Halb__Sync__Ack *ack;
		Halb__Sync__DumpRequest *dump_request;
		Halb__Sync__Hello *hello;
		Halb__Sync__Relay *relay;
	};
};

/*
 * Seals payload (a message of the type's descriptor) into out[0..cap):
 * seal_msg() for this protocol's types.  Returns the datagram length,
 * -EINVAL (as seal_msg(), or a type not of this protocol) or -EMSGSIZE.
 */
int sync_seal(uint8_t *out, size_t cap, const struct seal_key *key,
	      const char *sender, uint64_t seq, uint64_t ts_ms,
	      enum sync_type type, const ProtobufCMessage *payload);

/* The same with payload already serialized (plen bytes, NULL if 0). */
int sync_seal_raw(uint8_t *out, size_t cap, const struct seal_key *key,
		  const char *sender, uint64_t seq, uint64_t ts_ms,
		  enum sync_type type, const uint8_t *payload, size_t plen);

/*
 * Opens the datagram buf[0..len) received at now_ms (Unix ms):
 * seal_open(), and an authentic message of another protocol's type is
 * refused as SEAL_REJ_ROLE.  Returns 0 and fills out (release with
 * sync_opened_free()), or -enum seal_reject with out->msg NULL.
 */
int sync_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	      struct seal_replay *rp, uint64_t now_ms, struct sync_opened *out);

/* Releases out->msg; out may be NULL, out->msg may be NULL. */
void sync_opened_free(struct sync_opened *out);

/*
 * Decodes and checks an inner message of the given type without any
 * envelope or MAC (the fuzzer calls it directly).  Returns the message
 * (free with protobuf_c_message_free_unpacked(msg, NULL)) or NULL.
 */
ProtobufCMessage *sync_payload_unpack(enum sync_type type, const uint8_t *buf,
				      size_t len);

/*
 * A relayed segment's rules (Relay.segment; also checked on receipt):
 * seg[0..len) is an IPv4 header (no fragment) or an IPv6 one (TCP its
 * next header: no extension header) whose length is len, then a whole
 * TCP header; len within SYNC_RELAY_SEG_MIN..MAX.  Fills the sender's
 * address (IPv4-mapped for IPv4) and TCP port (network order) when
 * src/sport are not NULL.  Returns 0 or -EINVAL.
 */
int sync_relay_seg(const uint8_t *seg, size_t len, uint8_t src[16],
		   uint16_t *sport);

/* "batch", "ack", "dump-request", "hello", "relay" or "unknown". */
const char *sync_type_name(int type);

/* Whether r can travel: op UP or DOWN, a known state, a protocol, client
 * and VIP of one family. */
bool sync_rec_ok(const struct sess_rec *r);

/*
 * A session in its wire form.  sync_rec_pack() writes r as the bytes of
 * one Session message into out (at least SYNC_REC_WIRE_MAX bytes) and
 * returns their length; -EINVAL if r is not a session that can travel
 * (op not UP or DOWN, state out of range, client and VIP of different
 * families).  Appending a tag and length (sync_batch_append()) to a
 * batch's header gives the same bytes protobuf-c would pack.
 */
int sync_rec_pack(const struct sess_rec *r, uint8_t *out);

/* Appends a packed Session (rec, len bytes) to a batch's payload at p as
 * field `sessions`; returns the new end.  The caller keeps room for
 * len + 2 bytes. */
uint8_t *sync_batch_append(uint8_t *p, const uint8_t *rec, size_t len);

/* Bytes sync_batch_append() adds for a packed Session of len bytes. */
static inline size_t
sync_batch_rec_cost(size_t len)
{
	return len + 2; /* tag, one-byte length (len < 128) */
}

/*
 * A decoded Session (that passed the Batch's check) as a struct
 * sess_rec: IPv4 addresses IPv4-mapped, ports in network order in the
 * key, backend port in host order.  Returns 0 or -EINVAL.
 */
int sync_rec_from_pb(const Halb__Sync__Session *s, struct sess_rec *r);

#endif /* HALB_SYNC_MSG_H */
