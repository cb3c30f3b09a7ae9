/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health/load protocol's message types (include/halb/hl_msg.h,
 * docs/HEALTH-PROTOCOL.md): each registered with the sealing layer
 * (src/core/seal.c) with who may send it and the check of its fields.  The
 * envelope, the MAC, the keys and the replay state are seal.c's; what is
 * here is what a HostReport, a CacheSnapshot, ... may say.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/hl_msg.h"

static_assert((int)HL_T_HOST_REPORT == (int)HALB__HEALTH__MSG_TYPE__MSG_HOST_REPORT &&
	      (int)HL_T_REPORT_REQUEST == (int)HALB__HEALTH__MSG_TYPE__MSG_REPORT_REQUEST &&
	      (int)HL_T_CACHE_SNAPSHOT == (int)HALB__HEALTH__MSG_TYPE__MSG_CACHE_SNAPSHOT &&
	      (int)HL_T_ACK == (int)HALB__HEALTH__MSG_TYPE__MSG_ACK &&
	      (int)HL_T_HEARTBEAT == (int)HALB__HEALTH__MSG_TYPE__MSG_HEARTBEAT,
	      "enum hl_type mirrors halb.health.MsgType");

/* A host id or service name: 1..HL_NAME_MAX bytes. */
static bool
name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, HL_NAME_MAX + 1);
	return n >= 1 && n <= HL_NAME_MAX;
}

/* ---- inner messages ---- */

static bool
reason_ok(const char *s)
{
	return s != NULL && strnlen(s, HL_REASON_MAX + 1) <= HL_REASON_MAX;
}

static bool
address_ok(const char *s)
{
	uint8_t a[16];

	if (s == NULL || strnlen(s, 64) >= 64)
		return false;
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* 0 is the port of a backend of an all-ports service (service port 0,
 * backend port 0): such a backend is known by its address alone. */
static bool
port_ok(uint32_t port)
{
	return port <= 65535;
}

static bool
state_ok(Halb__Health__HealthState s)
{
	return s == HALB__HEALTH__HEALTH_STATE__HEALTH_UP ||
	       s == HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN ||
	       s == HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING;
}

/* An absent load is fine; a present one has permilles in 0..1000. */
static bool
load_ok(const Halb__Health__Load *l)
{
	return l == NULL ||
	       (l->cpu_permille <= 1000 && l->mem_used_permille <= 1000);
}

static bool
report_ok(const Halb__Health__HostReport *r)
{
	size_t i;

	if (!name_ok(r->host_id) || r->report_interval_ms == 0 ||
	    r->report_interval_ms > HL_INTERVAL_MAX_MS || !load_ok(r->load))
		return false;
	for (i = 0; i < r->n_services; i++) {
		const Halb__Health__ServiceHealth *s = r->services[i];

		if (!name_ok(s->service) || !address_ok(s->address) ||
		    !port_ok(s->port) || !state_ok(s->state) ||
		    !reason_ok(s->reason))
			return false;
	}
	return true;
}

static bool
snapshot_ok(const Halb__Health__CacheSnapshot *c)
{
	uint32_t parts = c->parts != 0 ? c->parts : 1;
	size_t i;

	if (c->part >= parts)
		return false;
	for (i = 0; i < c->n_backends; i++) {
		const Halb__Health__BackendState *b = c->backends[i];

		if (!name_ok(b->service) || !address_ok(b->address) ||
		    !port_ok(b->port) || !state_ok(b->state) ||
		    !load_ok(b->load) ||
		    (b->source != HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT &&
		     b->source != HALB__HEALTH__STATE_SOURCE__SOURCE_PROBE &&
		     b->source != HALB__HEALTH__STATE_SOURCE__SOURCE_LAST_KNOWN &&
		     b->source != HALB__HEALTH__STATE_SOURCE__SOURCE_OPERATOR))
			return false;
	}
	return true;
}

/* ---- each type's check (struct seal_type.check) ---- */

static int
check_report(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Health__HostReport *r = (const Halb__Health__HostReport *)m;

	if (!report_ok(r))
		return -SEAL_REJ_PAYLOAD;
	if (env == NULL)
		return 0;
	/* A host reports only for itself, and says so twice. */
	if (strcmp(r->host_id, env->sender) != 0)
		return -SEAL_REJ_IDENTITY;
	if (r->seq != env->seq || r->timestamp_ms != env->ts_ms)
		return -SEAL_REJ_PAYLOAD;
	return 0;
}

static int
check_request(const ProtobufCMessage *m, const struct seal_opened *env)
{
	(void)env;
	return reason_ok(((const Halb__Health__ReportRequest *)m)->reason) ?
	       0 : -SEAL_REJ_PAYLOAD;
}

static int
check_snapshot(const ProtobufCMessage *m, const struct seal_opened *env)
{
	(void)env;
	return snapshot_ok((const Halb__Health__CacheSnapshot *)m) ?
	       0 : -SEAL_REJ_PAYLOAD;
}

static int
check_ack(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Health__Ack *a = (const Halb__Health__Ack *)m;

	(void)env;
	return a->status == HALB__HEALTH__ACK_STATUS__ACK_OK ||
	       a->status == HALB__HEALTH__ACK_STATUS__ACK_IGNORED ?
	       0 : -SEAL_REJ_PAYLOAD;
}

static int
check_heartbeat(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Health__Heartbeat *h = (const Halb__Health__Heartbeat *)m;

	(void)env;
	return h->role == HALB__HEALTH__ROLE__ROLE_AGENT ||
	       h->role == HALB__HEALTH__ROLE__ROLE_HEALTHD ||
	       h->role == HALB__HEALTH__ROLE__ROLE_CLASSIFIER ?
	       0 : -SEAL_REJ_PAYLOAD;
}

/* ---- registration ---- */

#define ANYONE (SEAL_ROLE_AGENT | SEAL_ROLE_HANDLER | SEAL_ROLE_PEER)

static const struct seal_type hl_types[] = {
	{ .type = HL_T_HOST_REPORT, .name = "host-report",
	  .desc = &halb__health__host_report__descriptor,
	  .senders = SEAL_ROLE_AGENT, .check = check_report },
	{ .type = HL_T_REPORT_REQUEST, .name = "report-request",
	  .desc = &halb__health__report_request__descriptor,
	  .senders = SEAL_ROLE_HANDLER | SEAL_ROLE_PEER,
	  .check = check_request },
	{ .type = HL_T_CACHE_SNAPSHOT, .name = "cache-snapshot",
	  .desc = &halb__health__cache_snapshot__descriptor,
	  .senders = SEAL_ROLE_HANDLER | SEAL_ROLE_PEER,
	  .check = check_snapshot },
	{ .type = HL_T_ACK, .name = "ack",
	  .desc = &halb__health__ack__descriptor,
	  .senders = ANYONE, .check = check_ack },
	{ .type = HL_T_HEARTBEAT, .name = "heartbeat",
	  .desc = &halb__health__heartbeat__descriptor,
	  .senders = ANYONE, .check = check_heartbeat },
};

#define N_TYPES (sizeof(hl_types) / sizeof(hl_types[0]))
/* hl_types[t - 1] is type t. */
static_assert(N_TYPES == HL_T_HEARTBEAT, "one entry per enum hl_type");

/*
 * Registered when the program starts, as DPDK's RTE_INIT does: this file
 * is linked in whenever a program uses the protocol, and nothing can
 * open or seal its messages before.  A failure is a clash of type
 * numbers between protocols, a bug of the build: stop at once.
 */
__attribute__((constructor)) static void
hl_register(void)
{
	seal_register_family("hl_register", hl_types, N_TYPES);
}

static bool
hl_type_ok(uint32_t type)
{
	return type >= HL_T_HOST_REPORT && type <= HL_T_HEARTBEAT;
}

const char *
hl_type_name(int type)
{
	return type > 0 && hl_type_ok((uint32_t)type) ?
	       hl_types[type - 1].name : "unknown";
}

int
hl_seal(uint8_t *out, size_t cap, const struct seal_key *key,
	const char *sender, uint64_t seq, uint64_t ts_ms, enum hl_type type,
	const ProtobufCMessage *payload)
{
	if (!hl_type_ok((uint32_t)type))
		return -EINVAL;
	return seal_msg(out, cap, key, sender, seq, ts_ms, (uint32_t)type,
			payload);
}

int
hl_seal_raw(uint8_t *out, size_t cap, const struct seal_key *key,
	    const char *sender, uint64_t seq, uint64_t ts_ms,
	    enum hl_type type, const uint8_t *payload, size_t plen)
{
	if (!hl_type_ok((uint32_t)type))
		return -EINVAL;
	return seal_raw(out, cap, key, sender, seq, ts_ms, (uint32_t)type,
			payload, plen);
}

ProtobufCMessage *
hl_payload_unpack(enum hl_type type, const uint8_t *buf, size_t len)
{
	if (!hl_type_ok((uint32_t)type))
		return NULL;
	return seal_payload_unpack((uint32_t)type, buf, len);
}

void
hl_opened_free(struct hl_opened *out)
{
	if (out == NULL || out->msg == NULL)
		return;
	protobuf_c_message_free_unpacked(out->msg, NULL);
	out->msg = NULL;
}

int
hl_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	struct seal_replay *rp, uint64_t now_ms, struct hl_opened *out)
{
	struct seal_opened o;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = seal_open_family(buf, len, keys, rp, now_ms, HL_T_HOST_REPORT,
			      HL_T_HEARTBEAT, &o);
	if (rc < 0)
		return rc;
	out->type = (enum hl_type)o.type;
	memcpy(out->sender, o.sender, sizeof(out->sender));
	out->key_id = o.key_id;
	out->seq = o.seq;
	out->ts_ms = o.ts_ms;
	out->msg = o.msg;
	return 0;
}
