/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The remote classification protocol's message types
 * (include/halb/punt_msg.h, docs/CLASSIFIERS.md): each registered with
 * the sealing layer (src/core/seal.c) with who may send it and the check
 * of its fields.  Decoding is protobuf-c's, followed by the checks
 * below, so that the engines (forwarder/punt_remote.c,
 * classifier/remote.c) only see messages whose every index is in range.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/cfg-t.h"
#include "halb/punt_msg.h"

static_assert((int)PUNT_T_PUNT == (int)HALB__PUNT__MSG_TYPE__MSG_PUNT &&
	      (int)PUNT_T_DECISION == (int)HALB__PUNT__MSG_TYPE__MSG_DECISION &&
	      (int)PUNT_T_PING == (int)HALB__PUNT__MSG_TYPE__MSG_PING &&
	      (int)PUNT_T_PONG == (int)HALB__PUNT__MSG_TYPE__MSG_PONG,
	      "enum punt_type mirrors halb.punt.MsgType");

/* ---- each type's check (struct seal_type.check) ---- */

static int
check_punt(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Punt__PuntBatch *b = (const Halb__Punt__PuntBatch *)m;
	size_t i;

	(void)env;
	if (b->boot == 0 || b->n_frames == 0 || b->n_frames > PUNT_BATCH_MAX)
		return -SEAL_REJ_PAYLOAD;
	for (i = 0; i < b->n_frames; i++) {
		const Halb__Punt__Frame *f = b->frames[i];

		if (f->id == 0 || f->worker >= CFG_MAX_WORKERS ||
		    (f->flags & ~PUNT_F_ALL) != 0 ||
		    f->data.len < PUNT_FRAME_MIN || f->data.len > PUNT_FRAME_MAX)
			return -SEAL_REJ_PAYLOAD;
	}
	return 0;
}

static int
check_decision(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Punt__DecisionBatch *b = (const Halb__Punt__DecisionBatch *)m;
	size_t i;

	(void)env;
	/* A decision answers a punt: it knows the forwarder's boot. */
	if (b->boot == 0 || b->peer_boot == 0 || b->n_decisions == 0 ||
	    b->n_decisions > PUNT_BATCH_MAX)
		return -SEAL_REJ_PAYLOAD;
	for (i = 0; i < b->n_decisions; i++) {
		const Halb__Punt__Decision *d = b->decisions[i];

		if (d->id == 0 || d->svc >= CFG_MAX_SERVICES ||
		    d->backend >= CFG_MAX_BACKENDS ||
		    (d->flags & ~PUNT_D_ALL) != 0)
			return -SEAL_REJ_PAYLOAD;
	}
	return 0;
}

static int
check_ping(const ProtobufCMessage *m, const struct seal_opened *env)
{
	(void)env;
	return ((const Halb__Punt__Ping *)m)->boot != 0 ? 0 : -SEAL_REJ_PAYLOAD;
}

static int
check_pong(const ProtobufCMessage *m, const struct seal_opened *env)
{
	(void)env;
	return ((const Halb__Punt__Pong *)m)->boot != 0 ? 0 : -SEAL_REJ_PAYLOAD;
}

/* ---- what the slots mean ---- */

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t
punt_services_digest(const struct halb_cfg *cfg)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t s, b;

	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];

		h = fnv(h, &s, sizeof(s));
		if (cs->slot != CFG_SLOT_LIVE)
			continue;
		h = fnv(h, cs->name, strlen(cs->name) + 1);
		for (b = 0; b < cs->n_backends; b++) {
			const struct cfg_backend *cb = &cs->backends[b];

			if (cb->slot != CFG_SLOT_LIVE)
				continue;
			h = fnv(h, &b, sizeof(b));
			h = fnv(h, cb->ip.b, sizeof(cb->ip.b));
			h = fnv(h, &cb->port, sizeof(cb->port));
		}
	}
	return h;
}

/* ---- registration ---- */

static const struct seal_type punt_types[] = {
	{ .type = PUNT_T_PUNT, .name = "punt",
	  .desc = &halb__punt__punt_batch__descriptor,
	  .senders = SEAL_ROLE_PUNTER, .check = check_punt },
	{ .type = PUNT_T_DECISION, .name = "decision",
	  .desc = &halb__punt__decision_batch__descriptor,
	  .senders = SEAL_ROLE_DECIDER, .check = check_decision },
	{ .type = PUNT_T_PING, .name = "punt-ping",
	  .desc = &halb__punt__ping__descriptor,
	  .senders = SEAL_ROLE_PUNTER, .check = check_ping },
	{ .type = PUNT_T_PONG, .name = "punt-pong",
	  .desc = &halb__punt__pong__descriptor,
	  .senders = SEAL_ROLE_DECIDER, .check = check_pong },
};

#define N_TYPES (sizeof(punt_types) / sizeof(punt_types[0]))
static_assert(N_TYPES == PUNT_T_PONG - PUNT_T_PUNT + 1,
	      "one entry per enum punt_type");

/* Registered when the program starts, as hl_msg.c's types: a clash of
 * type numbers is a bug of the build, stop at once. */
__attribute__((constructor)) static void
punt_register(void)
{
	seal_register_family("punt_register", punt_types, N_TYPES);
}

static bool
punt_type_ok(uint32_t type)
{
	return type >= PUNT_T_PUNT && type <= PUNT_T_PONG;
}

const char *
punt_type_name(int type)
{
	static const char *const names[] = { "punt", "decision", "ping", "pong" };

	return type > 0 && punt_type_ok((uint32_t)type) ?
	       names[type - PUNT_T_PUNT] : "unknown";
}

int
punt_seal(uint8_t *out, size_t cap, const struct seal_key *key,
	  const char *sender, uint64_t seq, uint64_t ts_ms,
	  enum punt_type type, const ProtobufCMessage *payload)
{
	if (!punt_type_ok((uint32_t)type))
		return -EINVAL;
	return seal_msg(out, cap, key, sender, seq, ts_ms, (uint32_t)type,
			payload);
}

ProtobufCMessage *
punt_payload_unpack(enum punt_type type, const uint8_t *buf, size_t len)
{
	if (!punt_type_ok((uint32_t)type))
		return NULL;
	return seal_payload_unpack((uint32_t)type, buf, len);
}

void
punt_opened_free(struct punt_opened *out)
{
	if (out == NULL || out->msg == NULL)
		return;
	protobuf_c_message_free_unpacked(out->msg, NULL);
	out->msg = NULL;
}

int
punt_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	  struct seal_replay *rp, uint64_t now_ms, struct punt_opened *out)
{
	struct seal_opened o;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = seal_open_family(buf, len, keys, rp, now_ms, PUNT_T_PUNT,
			      PUNT_T_PONG, &o);
	if (rc < 0)
		return rc;
	out->type = (enum punt_type)o.type;
	memcpy(out->sender, o.sender, sizeof(out->sender));
	out->key_id = o.key_id;
	out->seq = o.seq;
	out->ts_ms = o.ts_ms;
	out->msg = o.msg;
	return 0;
}
