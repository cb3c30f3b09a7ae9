/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A key of the health/load message protocol (docs/HEALTH-PROTOCOL.md),
 * apart from halb/hl_msg.h so that the configuration (halb/cfg-t.h) can
 * hold keys without the protobuf-c headers.
 */
#ifndef HALB_HL_KEY_H
#define HALB_HL_KEY_H

#include <stdint.h>

#define HL_KEY_MIN 16u          /* key length bounds, in bytes */
#define HL_KEY_MAX 64u

/* A key: its id (sent in the clear so keys can be rotated) and bytes. */
struct hl_key {
	uint32_t id;
	uint32_t len;                /* HL_KEY_MIN..HL_KEY_MAX */
	uint8_t bytes[HL_KEY_MAX];
};

#endif /* HALB_HL_KEY_H */
