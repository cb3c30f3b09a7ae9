/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the health/load message decoder (src/core/hl_msg.c on
 * src/core/seal.c).
 *
 * Every input is tried two ways:
 *  - as a datagram, through hl_open() with a fixed keyring, a fresh replay
 *    table and a fixed clock, so that the kept corpus (valid datagrams
 *    sealed with these keys at FUZZ_NOW, and refused ones of every kind)
 *    reaches the code behind the MAC;
 *  - as an inner message of each type, through hl_payload_unpack(), which
 *    the MAC otherwise keeps the fuzzer from.
 * Beyond "no crash, no leak, no over-read", it checks what hl_open()
 * promises: a reason within enum seal_reject and no message on refusal; on
 * acceptance a message of the announced type, a HostReport only for its
 * sender, and the same datagram refused as a replay the second time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "halb/hl_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1700000000000ull /* the corpus is sealed at this time */

/* Fixed keys; the seed corpus was sealed with them. */
static struct seal_keyring *
fuzz_keyring(void)
{
	static const struct {
		const char *sender;
		uint32_t id;
		uint8_t fill;
		uint32_t len;
		uint32_t roles;
	} keys[] = {
		{ "web1", 1, 0x10, 32, SEAL_ROLE_AGENT },
		{ "web2", 1, 0x50, 16, SEAL_ROLE_AGENT },
		{ "healthd-a", 7, 0x90, 64, SEAL_ROLE_HANDLER | SEAL_ROLE_PEER },
	};
	static struct seal_keyring *kr;
	size_t i;

	if (kr != NULL)
		return kr;
	kr = seal_keyring_new(8);
	if (kr == NULL)
		abort();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct seal_key k;
		uint32_t j;

		memset(&k, 0, sizeof(k));
		k.id = keys[i].id;
		k.len = keys[i].len;
		for (j = 0; j < k.len; j++)
			k.bytes[j] = (uint8_t)(keys[i].fill + j);
		if (seal_keyring_add(kr, keys[i].sender, &k, keys[i].roles) != 0)
			abort();
	}
	return kr;
}

static void
check_opened(const struct hl_opened *o)
{
	const ProtobufCMessage *m = o->msg;

	if (m == NULL || strlen(o->sender) == 0 || o->seq == 0)
		abort();
	switch (o->type) {
	case HL_T_HOST_REPORT:
		if (m->descriptor != &halb__health__host_report__descriptor ||
		    strcmp(o->report->host_id, o->sender) != 0 ||
		    o->report->seq != o->seq)
			abort();
		break;
	case HL_T_REPORT_REQUEST:
		if (m->descriptor != &halb__health__report_request__descriptor)
			abort();
		break;
	case HL_T_CACHE_SNAPSHOT:
		if (m->descriptor != &halb__health__cache_snapshot__descriptor)
			abort();
		break;
	case HL_T_ACK:
		if (m->descriptor != &halb__health__ack__descriptor)
			abort();
		break;
	case HL_T_HEARTBEAT:
		if (m->descriptor != &halb__health__heartbeat__descriptor)
			abort();
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seal_keyring *kr = fuzz_keyring();
	struct seal_replay *rp = seal_replay_new(4, 0);
	struct hl_opened o;
	int rc, t;

	if (rp == NULL)
		abort();
	rc = hl_open(data, size, kr, rp, FUZZ_NOW, &o);
	if (rc == 0) {
		check_opened(&o);
		hl_opened_free(&o);
		if (hl_open(data, size, kr, rp, FUZZ_NOW + 1, &o) !=
		    -SEAL_REJ_REPLAY)
			abort();
	} else if (rc <= -SEAL_REJ__COUNT || rc > -SEAL_REJ_OVERSIZE ||
		   o.msg != NULL) {
		abort();
	}
	hl_opened_free(&o);
	seal_replay_free(rp);

	for (t = HL_T_HOST_REPORT; t <= HL_T_HEARTBEAT; t++) {
		ProtobufCMessage *m = hl_payload_unpack((enum hl_type)t, data,
							size);

		if (m != NULL) {
			/* What decoded must encode again within bounds. */
			if (protobuf_c_message_get_packed_size(m) > size + 64 * 1024)
				abort();
			protobuf_c_message_free_unpacked(m, NULL);
		}
	}
	return 0;
}
