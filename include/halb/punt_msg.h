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
	PUNT_T_VIEW = 36,
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
		Halb__Punt__ViewPart *view;
	};
	void *arena;              /* msg's memory (seal_msg_release) */
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

/* "punt", "decision", "ping", "pong", "view" or "unknown". */
const char *punt_type_name(int type);

/*
 * The forwarder's view of the services, to a remote classifier
 * (proto/halb_punt.proto ViewPart; docs/CLASSIFIERS.md, "Reloads").
 * What goes is what decisions need: per service slot its slot state,
 * name, VIP, port, protocol, scheduler and down_flows; per backend slot
 * its slot state, address, port and weight.
 */
#define PUNT_VIEW_MAX_PARTS 1024u  /* 64 x 256 backends take about 480 */
/* Bytes of a part's services at most: a sealed part stays within
 * SEAL_MTU (tests/unit/test_punt_msg.c packs the largest). */
#define PUNT_VIEW_PART_BYTES 1100u

/* Called with each part in order; returns 0 or -errno (which stops). */
typedef int (*punt_view_part_fn)(void *arg, const Halb__Punt__ViewPart *p);

/*
 * Cuts cfg's services (their view: slots as a reload left them) into
 * parts of generation gen and hands each to fn.  Returns the number of
 * parts, or fn's error, or -E2BIG beyond PUNT_VIEW_MAX_PARTS.
 */
int punt_view_parts(const struct halb_cfg *cfg, uint64_t gen, uint64_t boot,
		    uint64_t peer_boot, punt_view_part_fn fn, void *arg);

/* A view being received: parts of one generation of one forwarder's
 * boot, put together in cfg's services (cfg: the caller's, zeroed by
 * punt_view_rx_part when a new generation starts). */
struct punt_view_rx {
	uint64_t boot, gen, digest;
	uint32_t n_parts, got;
	uint8_t have[PUNT_VIEW_MAX_PARTS / 8];
	struct halb_cfg *cfg;
};

/*
 * Takes part p (checked by punt_open: every index in range).  Returns 1
 * when it completes its generation (rx->cfg's n_services and services
 * are the view, and their digest is the parts' cfg_digest), 0 while
 * parts are missing (or p was had already), -EBADMSG when the parts
 * disagree with each other or the completed view with its digest (that
 * generation is dropped).
 */
int punt_view_rx_part(struct punt_view_rx *rx, const Halb__Punt__ViewPart *p);

#endif /* HALB_PUNT_MSG_H */
