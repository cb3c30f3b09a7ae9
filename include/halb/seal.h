/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sealed messages between halb's machines: the envelope, the keyring, the
 * replay state and the registry of message types (proto/halb_seal.proto,
 * docs/HEALTH-PROTOCOL.md).  The health protocol (halb/hl_msg.h) is its
 * first user; session sync, HA heartbeats and remote classification add
 * their own message types in their own files with seal_register().
 *
 * Every datagram is one Envelope: who sends (a name and key id), a
 * sequence number strictly increasing per sender and kept at or above
 * the sender's clock in Unix microseconds, the sender's clock in ms, the
 * type of the inner message, its serialized bytes, and an HMAC-SHA256
 * over a canonical concatenation of all of that.  seal_open() accepts a
 * datagram only when, in this order: it is small enough, it decodes, it
 * is version 1 and in canonical encoding with a registered type, its
 * sender and key id are in the keyring, the MAC matches (constant time),
 * the key's roles may send that type, its sequence number is above the
 * last accepted one of that sender and not further ahead of the
 * receiver's clock than the window, its timestamp is within the window,
 * and its inner message decodes and passes its type's check.  The replay
 * state advances only then, so a refused datagram never changes what a
 * later one is judged by.
 *
 * Nothing here uses DPDK, sockets, threads or logs: callers send,
 * receive, count the reasons (enum seal_reject) and log.  Types are
 * registered at start-up (before any thread opens datagrams) and never
 * removed; a keyring is built once and then only read (build a new one on
 * reload); a replay table belongs to the one thread that opens datagrams.
 */
#ifndef HALB_SEAL_H
#define HALB_SEAL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "halb/seal-t.h"         /* struct seal_key, enum seal_role */

#define SEAL_VERSION 1u
#define SEAL_MTU 1400u            /* what senders aim for: one unfragmented datagram */
#define SEAL_MAX_DATAGRAM 4096u   /* the largest datagram seal_open() considers */
#define SEAL_NAME_MAX 63u         /* sender names, in bytes */
#define SEAL_MAC_LEN 32u          /* HMAC-SHA256 */
#define SEAL_WINDOW_MS_DEFAULT 5000u
#define SEAL_TYPES_MAX 64u        /* registered types, all protocols */

/* Why seal_open() refused a datagram; it returns the negated value.
 * Values never change: counters are arrays indexed by them. */
enum seal_reject {
	SEAL_REJ_OVERSIZE = 1,    /* longer than SEAL_MAX_DATAGRAM */
	SEAL_REJ_GARBLED,         /* envelope does not decode, is not
				   * canonical, a field is missing or out of
				   * range, or the type is not registered */
	SEAL_REJ_VERSION,         /* envelope version is not SEAL_VERSION */
	SEAL_REJ_UNKNOWN_SENDER,  /* no key for (sender, key id), or the
				   * replay table is full and the sender new */
	SEAL_REJ_BAD_MAC,         /* HMAC does not match */
	SEAL_REJ_REPLAY,          /* seq <= the last accepted seq of the sender */
	SEAL_REJ_STALE,           /* timestamp outside now +- window */
	SEAL_REJ_IDENTITY,        /* the payload speaks for another sender
				   * (a type's check says so) */
	SEAL_REJ_PAYLOAD,         /* inner message does not decode, is out of
				   * range, or disagrees with the envelope */
	SEAL_REJ_ROLE,            /* a type the key's roles may not send */
	SEAL_REJ_AHEAD,           /* seq further ahead of the receiver's
				   * clock (in us) than the window */
	SEAL_REJ__COUNT           /* size of a counter array indexed by reason */
};

struct seal_keyring;  /* sender + key id -> key and roles; private to src/core/seal.c */
struct seal_replay;   /* sender -> last accepted seq; private too */
struct seal_opened;

/*
 * A message type, registered by the protocol that owns it.  The
 * structure is the caller's (static storage): the registry keeps the
 * pointer.
 */
struct seal_type {
	uint32_t type;            /* the envelope's type: 1.., unique */
	const char *name;         /* "host-report": for logs and counters */
	const ProtobufCMessageDescriptor *desc; /* the payload's message */
	uint32_t senders;         /* enum seal_role bits that may send it */
	/*
	 * Decodes a payload (buf NULL when len is 0); NULL when it does not
	 * decode.  NULL here: protobuf_c_message_unpack() of desc.  What it
	 * returns is freed with protobuf_c_message_free_unpacked().
	 */
	ProtobufCMessage *(*unpack)(const uint8_t *buf, size_t len);
	/*
	 * Judges a decoded payload: its ranges, and against env (NULL when
	 * there is no envelope: seal_payload_unpack()).  Returns 0,
	 * -SEAL_REJ_PAYLOAD or -SEAL_REJ_IDENTITY.  NULL: every message
	 * that decodes is fine.
	 */
	int (*check)(const ProtobufCMessage *m, const struct seal_opened *env);
	/*
	 * seal_open() decodes it into one block (an arena: one allocation
	 * instead of one per field and sub-message), for types opened at a
	 * high rate.  Only for a protocol whose every receiver releases
	 * what it opened with seal_msg_release() (or seal_opened_free()),
	 * never with protobuf_c_message_free_unpacked().  Not with unpack.
	 */
	bool arena;
};

/*
 * Registers t.  Returns 0, -EINVAL (NULL, type 0, no name, no desc, no
 * senders), -EEXIST (that type number is taken) or -ENOSPC (more than
 * SEAL_TYPES_MAX).  Not thread-safe: call at start-up, from constructors
 * or main.
 */
int seal_register(const struct seal_type *t);

/*
 * Registers a family's n types (hl_msg.c, punt_msg.c, sync_msg.c, from
 * their constructors).  A clash of type numbers is a bug of the build:
 * it says so on stderr, naming the family, and aborts.
 */
void seal_register_family(const char *family, const struct seal_type *t,
			  size_t n);

/* The registered type of that number, or NULL. */
const struct seal_type *seal_type_find(uint32_t type);

/* Its registered name, or "unknown". */
const char *seal_type_name(uint32_t type);

/* What seal_open() accepted.  msg is owned by it: release with
 * seal_opened_free(). */
struct seal_opened {
	uint32_t type;
	char sender[SEAL_NAME_MAX + 1];
	uint32_t key_id;
	uint32_t roles;           /* of the key that made the MAC */
	uint64_t seq;
	uint64_t ts_ms;
	ProtobufCMessage *msg;
	void *arena;              /* msg's memory when its type says arena */
};

/*
 * Seals payload (a message of the registered type's descriptor) into
 * out[0..cap).  Returns the datagram length, -EINVAL (a NULL argument,
 * sender empty or longer than SEAL_NAME_MAX, key length out of bounds,
 * seq 0, unregistered type, payload of another type) or -EMSGSIZE
 * (longer than cap or than SEAL_MAX_DATAGRAM).  Senders pass cap =
 * SEAL_MTU unless they know better.  It checks no content: a receiver's
 * seal_open() does.
 */
int seal_msg(uint8_t *out, size_t cap, const struct seal_key *key,
	     const char *sender, uint64_t seq, uint64_t ts_ms, uint32_t type,
	     const ProtobufCMessage *payload);

/* The same with payload already serialized (plen bytes, NULL if 0). */
int seal_raw(uint8_t *out, size_t cap, const struct seal_key *key,
	     const char *sender, uint64_t seq, uint64_t ts_ms, uint32_t type,
	     const uint8_t *payload, size_t plen);

/*
 * Opens the datagram buf[0..len) received at now_ms (unix ms).  Returns 0
 * and fills out (release with seal_opened_free()), or -enum seal_reject
 * with out->msg NULL and rp unchanged.  See the top of this file for the
 * order of the checks.
 */
int seal_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	      struct seal_replay *rp, uint64_t now_ms, struct seal_opened *out);

/* Releases out->msg; out may be NULL, out->msg may be NULL. */
void seal_opened_free(struct seal_opened *out);

/* Releases msg as seal_open() gave it with arena (seal_opened.arena:
 * NULL for a message of ordinary allocations).  msg may be NULL. */
void seal_msg_release(ProtobufCMessage *msg, void *arena);

/*
 * seal_open() for a family whose types are lo..hi: a datagram of
 * another registered type (a key with several roles may send those) is
 * refused as -SEAL_REJ_ROLE, with out->msg NULL.
 */
int seal_open_family(const uint8_t *buf, size_t len,
		     const struct seal_keyring *keys, struct seal_replay *rp,
		     uint64_t now_ms, uint32_t lo, uint32_t hi,
		     struct seal_opened *out);

/*
 * Decodes and checks an inner message of the given type without any
 * envelope or MAC (seal_open() does the same after the MAC; fuzzers call
 * it directly).  Returns the message (free with
 * protobuf_c_message_free_unpacked(msg, NULL)) or NULL when it does not
 * decode, fails its check, or the type is not registered.
 */
ProtobufCMessage *seal_payload_unpack(uint32_t type, const uint8_t *buf,
				      size_t len);

/*
 * The sender that an unauthenticated datagram claims to be, for a log
 * line: decoded without believing anything, every byte that is not
 * printable ASCII (and '"', '\\') written as \xNN, cut to fit out[0..cap).
 * Returns 0, or -EINVAL (no envelope, no sender, cap 0; out is "").
 */
int seal_peek_sender(const uint8_t *buf, size_t len, char *out, size_t cap);

/* "ok" for 0, the reason's name for r or -r, "unknown" otherwise. */
const char *seal_reject_name(int r);

/* Key ring.  Creators return NULL and set errno (EINVAL, ENOMEM). */
struct seal_keyring *seal_keyring_new(uint32_t cap);
void seal_keyring_free(struct seal_keyring *kr);

/*
 * Adds the key of sender (1..SEAL_NAME_MAX bytes), standing for roles
 * (enum seal_role bits, not 0).  A sender may hold several keys with
 * different ids (rotation).  Returns 0, -EINVAL (bad name, key length or
 * roles), -EEXIST (that sender already has that key id) or -ENOSPC.
 */
int seal_keyring_add(struct seal_keyring *kr, const char *sender,
		     const struct seal_key *key, uint32_t roles);

/* The key of (sender, key_id) or NULL; *roles (if roles is not NULL)
 * gets its roles. */
const struct seal_key *seal_keyring_find(const struct seal_keyring *kr,
					 const char *sender, uint32_t key_id,
					 uint32_t *roles);

/*
 * Replay table for at most cap senders; window_ms bounds |timestamp - now|
 * and how far a seq may run ahead of now in us (0: SEAL_WINDOW_MS_DEFAULT).
 */
struct seal_replay *seal_replay_new(uint32_t cap, uint32_t window_ms);
void seal_replay_free(struct seal_replay *rp);

/* Last accepted seq of sender, 0 if none yet. */
uint64_t seal_replay_last(const struct seal_replay *rp, const char *sender);

#endif /* HALB_SEAL_H */
