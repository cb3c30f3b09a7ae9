/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The remote classification protocol's messages (proto/halb_punt.proto,
 * docs/CLASSIFIERS.md): a forwarder's batches of punted frames to a
 * classifier on another machine, the batches of decisions back, and the
 * ping/pong that tells the forwarder the classifier lives, on top of the
 * sealed messages of halb/seal.h (envelope, MAC, keyring, replay state).
 *
 * src/core/punt_msg.c registers the four types when the program starts
 * (a constructor, as hl_msg.c and sync_msg.c do): punts and pings may be
 * sent only by a key holding SEAL_ROLE_PUNTER (the forwarder's side of a
 * pair), decisions and pongs only by one holding SEAL_ROLE_DECIDER (the
 * classifier's side), so that neither end can be made to accept its own
 * kind of message back (a reflected punt is refused as SEAL_REJ_ROLE),
 * and punt_open() refuses an authentic message of another protocol as
 * SEAL_REJ_ROLE.  The engines are forwarder/punt_remote.c and
 * classifier/remote.c.
 */
#ifndef HALB_PUNT_MSG_H
#define HALB_PUNT_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "halb_punt.pb-c.h"
#include "halb/seal.h"

/* Inner message types; the values are those of halb.punt.MsgType. */
enum punt_type {
	PUNT_T_PUNT = 32,
	PUNT_T_DECISION = 33,
	PUNT_T_PING = 34,
	PUNT_T_PONG = 35,
};

/* Frame.flags */
#define PUNT_F_MARKED 0x1u      /* the worker decided this hash without a
				 * record lately (fb_marks): Maglev */
#define PUNT_F_ALL PUNT_F_MARKED

/* Decision.flags */
#define PUNT_D_STATELESS 0x1u   /* forward, do not install, mark */
#define PUNT_D_REFUSED 0x2u     /* no decision: drop the frame */
#define PUNT_D_ALL (PUNT_D_STATELESS | PUNT_D_REFUSED)

/* Bounds a receiver enforces (and a sender keeps to). */
#define PUNT_FRAME_MIN 14u      /* an Ethernet header */
#define PUNT_FRAME_MAX 512u     /* bytes of a frame sent, at most */
#define PUNT_BATCH_MAX 64u      /* frames or decisions per datagram */
/* What one frame of len bytes adds to a PuntBatch, at most (tag and
 * length of the Frame, its id, worker, flags and data's tag and length). */
#define PUNT_FRAME_OVERHEAD 24u
/* ... and one decision to a DecisionBatch. */
#define PUNT_DECISION_WIRE_MAX 24u

/* What punt_open() accepted.  msg is owned by it: release with
 * punt_opened_free(). */
struct punt_opened {
	enum punt_type type;
	char sender[SEAL_NAME_MAX + 1];
	uint32_t key_id;
	uint64_t seq;             /* the envelope's */
	uint64_t ts_ms;
	union {
		ProtobufCMessage *msg;
		Halb__Punt__PuntBatch *punt;
		Halb__Punt__DecisionBatch *decision;
		Halb__Punt__Ping *ping;
		Halb__Punt__Pong *pong;
	};
};

/*
 * Seals payload (a message of the type's descriptor) into out[0..cap):
 * seal_msg() for this protocol's types.  Returns the datagram length,
 * -EINVAL (as seal_msg(), or a type not of this protocol) or -EMSGSIZE.
 */
int punt_seal(uint8_t *out, size_t cap, const struct seal_key *key,
	      const char *sender, uint64_t seq, uint64_t ts_ms,
	      enum punt_type type, const ProtobufCMessage *payload);

/*
 * Opens the datagram buf[0..len) received at now_ms (Unix ms):
 * seal_open(), and an authentic message of another protocol's type is
 * refused as SEAL_REJ_ROLE.  Returns 0 and fills out (release with
 * punt_opened_free()), or -enum seal_reject with out->msg NULL.
 */
int punt_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	      struct seal_replay *rp, uint64_t now_ms, struct punt_opened *out);

/* Releases out->msg; out may be NULL, out->msg may be NULL. */
void punt_opened_free(struct punt_opened *out);

/*
 * Decodes and checks an inner message of the given type without any
 * envelope or MAC (the fuzzer calls it directly).  Returns the message
 * (free with protobuf_c_message_free_unpacked(msg, NULL)) or NULL.
 */
ProtobufCMessage *punt_payload_unpack(enum punt_type type, const uint8_t *buf,
				      size_t len);

struct halb_cfg;

/*
 * What the slots of decisions mean, as one number (Ping and Pong
 * cfg_digest): each live service slot's name and its live backend slots'
 * addresses and ports, in slot order.  A forwarder uses a remote
 * classifier only while the two agree.
 */
uint64_t punt_services_digest(const struct halb_cfg *cfg);

/* "punt", "decision", "ping", "pong" or "unknown". */
const char *punt_type_name(int type);

#endif /* HALB_PUNT_MSG_H */
