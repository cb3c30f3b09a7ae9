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
	      (int)PUNT_T_PONG == (int)HALB__PUNT__MSG_TYPE__MSG_PONG &&
	      (int)PUNT_T_VIEW == (int)HALB__PUNT__MSG_TYPE__MSG_VIEW,
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

static int
check_view(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Punt__ViewPart *p = (const Halb__Punt__ViewPart *)m;
	size_t i, j;

	(void)env;
	if (p->boot == 0 || p->gen == 0 || p->n_parts == 0 ||
	    p->n_parts > PUNT_VIEW_MAX_PARTS || p->part >= p->n_parts ||
	    p->service_slots > CFG_MAX_SERVICES)
		return -SEAL_REJ_PAYLOAD;
	for (i = 0; i < p->n_services; i++) {
		const Halb__Punt__ViewService *v = p->services[i];

		if (v->index >= p->service_slots || v->slot > CFG_SLOT_FREE ||
		    strlen(v->name) >= CFG_NAME_LEN ||
		    (v->vip.len != 0 && v->vip.len != 16) || v->port > 65535 ||
		    (v->proto != 0 && v->proto != 6 && v->proto != 17) ||
		    v->sched >= CFG_SCHED_MAX || v->down_flows > CFG_DOWN_KEEP ||
		    v->backend_slots > CFG_MAX_BACKENDS ||
		    v->first > v->backend_slots ||
		    v->n_backends > v->backend_slots - v->first)
			return -SEAL_REJ_PAYLOAD;
		/* A live service has a name, a VIP and a protocol. */
		if (v->slot == CFG_SLOT_LIVE &&
		    (v->name[0] == '\0' || v->vip.len != 16 || v->proto == 0))
			return -SEAL_REJ_PAYLOAD;
		for (j = 0; j < v->n_backends; j++) {
			const Halb__Punt__ViewBackend *b = v->backends[j];

			if (b->slot > CFG_SLOT_FREE ||
			    (b->ip.len != 0 && b->ip.len != 16) ||
			    (b->slot == CFG_SLOT_LIVE && b->ip.len != 16) ||
			    b->port > 65535 || b->weight > CFG_MAX_WEIGHT)
				return -SEAL_REJ_PAYLOAD;
		}
	}
	return 0;
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
	  .senders = SEAL_ROLE_PUNTER, .check = check_punt, .arena = true },
	{ .type = PUNT_T_DECISION, .name = "decision",
	  .desc = &halb__punt__decision_batch__descriptor,
	  .senders = SEAL_ROLE_DECIDER, .check = check_decision, .arena = true },
	{ .type = PUNT_T_PING, .name = "punt-ping",
	  .desc = &halb__punt__ping__descriptor,
	  .senders = SEAL_ROLE_PUNTER, .check = check_ping, .arena = true },
	{ .type = PUNT_T_PONG, .name = "punt-pong",
	  .desc = &halb__punt__pong__descriptor,
	  .senders = SEAL_ROLE_DECIDER, .check = check_pong, .arena = true },
	{ .type = PUNT_T_VIEW, .name = "punt-view",
	  .desc = &halb__punt__view_part__descriptor,
	  .senders = SEAL_ROLE_PUNTER, .check = check_view, .arena = true },
};

#define N_TYPES (sizeof(punt_types) / sizeof(punt_types[0]))
static_assert(N_TYPES == PUNT_T_VIEW - PUNT_T_PUNT + 1,
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
	return type >= PUNT_T_PUNT && type <= PUNT_T_VIEW;
}

const char *
punt_type_name(int type)
{
	static const char *const names[] = { "punt", "decision", "ping", "pong",
					     "view" };

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
	seal_msg_release(out->msg, out->arena);
	out->msg = NULL;
	out->arena = NULL;
}

int
punt_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	  struct seal_replay *rp, uint64_t now_ms, struct punt_opened *out)
{
	struct seal_opened o;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = seal_open_family(buf, len, keys, rp, now_ms, PUNT_T_PUNT,
			      PUNT_T_VIEW, &o);
	if (rc < 0)
		return rc;
	out->type = (enum punt_type)o.type;
	memcpy(out->sender, o.sender, sizeof(out->sender));
	out->key_id = o.key_id;
	out->seq = o.seq;
	out->ts_ms = o.ts_ms;
	out->msg = o.msg;
	out->arena = o.arena;
	return 0;
}

/* ---- the view, in parts ---- */

/* Wire bytes at most of a ViewService without its backends, and of one
 * ViewBackend (tags, lengths, the largest values). */
#define VIEW_SVC_BYTES (3u + 6u * 8u + 2u + CFG_NAME_LEN + 2u + 16u + 2u * 6u)
#define VIEW_BE_BYTES (2u + 2u + 2u + 16u + 4u + 4u)
#define VIEW_MAX_SVCS (PUNT_VIEW_PART_BYTES / VIEW_SVC_BYTES + 1u)
#define VIEW_MAX_BES (PUNT_VIEW_PART_BYTES / VIEW_BE_BYTES + 1u)

struct view_out {
	Halb__Punt__ViewPart p;
	Halb__Punt__ViewService s[VIEW_MAX_SVCS], *sp[VIEW_MAX_SVCS];
	Halb__Punt__ViewBackend b[VIEW_MAX_BES], *bp[VIEW_MAX_BES];
	uint32_t n_be, bytes, n_parts;
	bool count_only;
	punt_view_part_fn fn;
	void *arg;
};

static int
view_flush(struct view_out *o)
{
	int rc = 0;

	if (o->p.n_services == 0)
		return 0;
	if (o->n_parts >= PUNT_VIEW_MAX_PARTS)
		return -E2BIG;
	o->p.part = o->n_parts++;
	if (!o->count_only)
		rc = o->fn(o->arg, &o->p);
	o->p.n_services = 0;
	o->n_be = 0;
	o->bytes = 0;
	return rc;
}

/* Opens service cs (slot s) in the part, its backends from first on. */
static Halb__Punt__ViewService *
view_service(struct view_out *o, const struct cfg_service *cs, uint32_t s,
	     uint32_t first)
{
	Halb__Punt__ViewService *v = &o->s[o->p.n_services];

	halb__punt__view_service__init(v);
	v->index = s;
	v->slot = cs->slot;
	v->name = (char *)(uintptr_t)cs->name; /* not written: packed only */
	if (cs->slot != CFG_SLOT_FREE) {
		v->vip.data = (uint8_t *)(uintptr_t)cs->vip.b;
		v->vip.len = 16;
		v->port = cs->port;
		v->proto = cs->proto;
		v->sched = cs->sched;
		v->down_flows = cs->down_flows;
		v->backend_slots = cs->n_backends;
	}
	v->first = first;
	v->backends = &o->bp[o->n_be];
	o->sp[o->p.n_services++] = v;
	o->bytes += VIEW_SVC_BYTES;
	return v;
}

static int
view_walk(struct view_out *o, const struct halb_cfg *cfg)
{
	uint32_t s, b;
	int rc;

	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		Halb__Punt__ViewService *v;

		if (o->bytes + VIEW_SVC_BYTES + VIEW_BE_BYTES > PUNT_VIEW_PART_BYTES ||
		    o->p.n_services == VIEW_MAX_SVCS) {
			rc = view_flush(o);
			if (rc != 0)
				return rc;
		}
		v = view_service(o, cs, s, 0);
		if (cs->slot == CFG_SLOT_FREE)
			continue;
		for (b = 0; b < cs->n_backends; b++) {
			const struct cfg_backend *cb = &cs->backends[b];
			Halb__Punt__ViewBackend *w;

			if (o->bytes + VIEW_BE_BYTES > PUNT_VIEW_PART_BYTES ||
			    o->n_be == VIEW_MAX_BES) {
				rc = view_flush(o);
				if (rc != 0)
					return rc;
				v = view_service(o, cs, s, b);
			}
			w = &o->b[o->n_be];
			halb__punt__view_backend__init(w);
			w->slot = cb->slot;
			if (cb->slot != CFG_SLOT_FREE) {
				w->ip.data = (uint8_t *)(uintptr_t)cb->ip.b;
				w->ip.len = 16;
				w->port = cb->port;
				w->weight = cb->weight;
			}
			o->bp[o->n_be++] = w;
			v->n_backends++;
			o->bytes += VIEW_BE_BYTES;
		}
	}
	return view_flush(o);
}

int
punt_view_parts(const struct halb_cfg *cfg, uint64_t gen, uint64_t boot,
		uint64_t peer_boot, punt_view_part_fn fn, void *arg)
{
	struct view_out *o = calloc(1, sizeof(*o));
	int rc;

	if (o == NULL)
		return -ENOMEM;
	halb__punt__view_part__init(&o->p);
	o->p.boot = boot;
	o->p.peer_boot = peer_boot;
	o->p.gen = gen;
	o->p.cfg_digest = punt_services_digest(cfg);
	o->p.service_slots = cfg->n_services;
	o->p.services = o->sp;
	o->fn = fn;
	o->arg = arg;
	/* Twice: the parts' count first, which every part carries. */
	o->count_only = true;
	rc = view_walk(o, cfg);
	if (rc == 0 && o->n_parts == 0) {
		/* No service at all: one empty part says so. */
		o->p.n_parts = 1;
		rc = fn(arg, &o->p);
		free(o);
		return rc != 0 ? rc : 1;
	}
	if (rc == 0) {
		o->p.n_parts = o->n_parts;
		o->n_parts = 0;
		o->count_only = false;
		rc = view_walk(o, cfg);
	}
	if (rc == 0)
		rc = (int)o->n_parts;
	free(o);
	return rc;
}

int
punt_view_rx_part(struct punt_view_rx *rx, const Halb__Punt__ViewPart *p)
{
	struct halb_cfg *cfg = rx->cfg;
	size_t i, j;

	if (p->boot != rx->boot || p->gen != rx->gen || rx->n_parts == 0) {
		/* A new generation (or boot): what was had of another goes. */
		rx->boot = p->boot;
		rx->gen = p->gen;
		rx->digest = p->cfg_digest;
		rx->n_parts = p->n_parts;
		rx->got = 0;
		memset(rx->have, 0, sizeof(rx->have));
		memset(cfg->services, 0, sizeof(cfg->services));
		cfg->n_services = p->service_slots;
		for (i = 0; i < CFG_MAX_SERVICES; i++)
			cfg->services[i].slot = CFG_SLOT_FREE;
	}
	if (p->n_parts != rx->n_parts || p->cfg_digest != rx->digest ||
	    p->service_slots != cfg->n_services)
		goto bad;
	if (rx->have[p->part / 8] & (1u << (p->part % 8)))
		return 0;
	for (i = 0; i < p->n_services; i++) {
		const Halb__Punt__ViewService *v = p->services[i];
		struct cfg_service *cs = &cfg->services[v->index];

		if (v->first == 0) {
			snprintf(cs->name, sizeof(cs->name), "%s", v->name);
			cs->slot = (uint8_t)v->slot;
			if (v->vip.len == 16)
				memcpy(cs->vip.b, v->vip.data, 16);
			cs->port = (uint16_t)v->port;
			cs->proto = (uint8_t)v->proto;
			cs->sched = (uint8_t)v->sched;
			cs->down_flows = (uint8_t)v->down_flows;
			cs->n_backends = v->backend_slots;
		} else if (cs->n_backends != v->backend_slots ||
			   strcmp(cs->name, v->name) != 0) {
			/* Its first part may come later: only what both
			 * say must agree (the digest checks the rest). */
			if (cs->n_backends != 0 || cs->name[0] != '\0')
				goto bad;
			snprintf(cs->name, sizeof(cs->name), "%s", v->name);
			cs->n_backends = v->backend_slots;
		}
		for (j = 0; j < v->n_backends; j++) {
			const Halb__Punt__ViewBackend *b = v->backends[j];
			struct cfg_backend *cb = &cs->backends[v->first + j];

			cb->slot = (uint8_t)b->slot;
			if (b->ip.len == 16)
				memcpy(cb->ip.b, b->ip.data, 16);
			cb->port = (uint16_t)b->port;
			cb->weight = b->weight;
		}
	}
	rx->have[p->part / 8] |= (uint8_t)(1u << (p->part % 8));
	if (++rx->got < rx->n_parts)
		return 0;
	if (punt_services_digest(cfg) != rx->digest)
		goto bad;
	return 1;
bad:
	rx->n_parts = 0; /* the next part starts over */
	return -EBADMSG;
}
