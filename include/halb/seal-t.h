/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The plain types of sealed messaging (halb/seal.h): a key, and the kinds
 * of sender a key stands for.  Apart from seal.h so that the
 * configuration (halb/cfg-t.h) can hold keys without the protobuf-c
 * headers.
 */
#ifndef HALB_SEAL_T_H
#define HALB_SEAL_T_H

#include <stdint.h>

#define SEAL_KEY_MIN 16u          /* key length bounds, in bytes */
#define SEAL_KEY_MAX 64u

/* A key: its id (sent in the clear so keys can be rotated) and bytes. */
struct seal_key {
	uint32_t id;
	uint32_t len;                /* SEAL_KEY_MIN..SEAL_KEY_MAX */
	uint8_t bytes[SEAL_KEY_MAX];
};

/*
 * Roles: the kind of sender a key in a keyring stands for.  A message
 * type names the roles that may send it (struct seal_type.senders), so a
 * key given to one kind of sender never authorises another kind's
 * messages.  One bit each, allocated here for every protocol, so that no
 * two protocols give one bit two meanings.
 */
enum seal_role {
	SEAL_ROLE_AGENT = 1u << 0,    /* halb-agent on a backend host */
	SEAL_ROLE_HANDLER = 1u << 1,  /* halb-healthd to its agents and its
				       * classifier (health.key) */
	SEAL_ROLE_PEER = 1u << 2,     /* a peer appliance's halb-healthd
				       * (the pair's own key) */
	SEAL_ROLE_SYNC = 1u << 3,     /* a peer appliance's halb-sessiond
				       * (the sync key of the pair) */
	SEAL_ROLE_PUNTER = 1u << 4,   /* a forwarder punting to a remote
				       * classifier (the pair's key) */
	SEAL_ROLE_DECIDER = 1u << 5,  /* a remote classifier answering a
				       * forwarder (the pair's key) */
	SEAL_ROLE_TEST = 1u << 31,    /* unit tests' own types */
};

#endif /* HALB_SEAL_T_H */
