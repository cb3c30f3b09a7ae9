/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the remote classification decoder
 * (src/core/punt_msg.c on src/core/seal.c).
 *
 * Every input is tried two ways:
 *  - as a datagram, through punt_open() with a fixed keyring (fwd-a, the
 *    forwarder's side of the pair, and cls-b, the classifier's, with the
 *    pair's key; cls-c with a health role), a fresh replay table and a
 *    fixed clock, so that the kept corpus (tests/fuzz/gen_punt_corpus.py:
 *    datagrams sealed at FUZZ_NOW, and refused ones of every kind)
 *    reaches the code behind the MAC;
 *  - as an inner message of each type, through punt_payload_unpack(),
 *    which the MAC otherwise keeps the fuzzer from.
 * Beyond "no crash, no leak, no over-read", it checks what punt_open()
 * promises: a reason within enum seal_reject and no message on refusal;
 * on acceptance a message of the announced type from a sender whose
 * role may send it, every index in range (what the engines index arrays
 * with), and the same datagram refused as a replay the second time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "halb/cfg-t.h"
#include "halb/punt_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1700000000000ull /* the corpus is sealed at this time */
#define FUZZ_KEY_FILL 0x41u       /* the pair's key: 32 bytes fill + i, id 1 */

static struct seal_keyring *
fuzz_keyring(void)
{
	static struct seal_keyring *kr;
	struct seal_key k;
	uint32_t j;

	if (kr != NULL)
		return kr;
	kr = seal_keyring_new(4);
	if (kr == NULL)
		abort();
	memset(&k, 0, sizeof(k));
	k.id = 1;
	k.len = 32;
	for (j = 0; j < k.len; j++)
		k.bytes[j] = (uint8_t)(FUZZ_KEY_FILL + j);
	if (seal_keyring_add(kr, "fwd-a", &k, SEAL_ROLE_PUNTER) != 0 ||
	    seal_keyring_add(kr, "cls-b", &k, SEAL_ROLE_DECIDER) != 0)
		abort();
	k.bytes[0] ^= 0xff;
	if (seal_keyring_add(kr, "cls-c", &k, SEAL_ROLE_PEER) != 0)
		abort();
	return kr;
}

static void
check_punt(const Halb__Punt__PuntBatch *b)
{
	size_t i;

	if (b->n_frames == 0 || b->n_frames > PUNT_BATCH_MAX)
		abort();
	for (i = 0; i < b->n_frames; i++)
		if (b->frames[i]->worker >= CFG_MAX_WORKERS ||
		    b->frames[i]->data.len < PUNT_FRAME_MIN ||
		    b->frames[i]->data.len > PUNT_FRAME_MAX ||
		    b->frames[i]->id == 0)
			abort();
}

static void
check_decision(const Halb__Punt__DecisionBatch *b)
{
	size_t i;

	if (b->n_decisions == 0 || b->n_decisions > PUNT_BATCH_MAX ||
	    b->peer_boot == 0)
		abort();
	for (i = 0; i < b->n_decisions; i++)
		if (b->decisions[i]->svc >= CFG_MAX_SERVICES ||
		    b->decisions[i]->backend >= CFG_MAX_BACKENDS ||
		    (b->decisions[i]->flags & ~PUNT_D_ALL) != 0)
			abort();
}

/* A view part: every index the receiver writes with in range; then
 * through the receiver itself (punt_view_rx_part), over one scratch
 * view that parts of successive inputs keep filling. */
static void
check_view(const Halb__Punt__ViewPart *p)
{
	static struct punt_view_rx rx;
	size_t i;

	if (p->n_parts == 0 || p->n_parts > PUNT_VIEW_MAX_PARTS ||
	    p->part >= p->n_parts || p->service_slots > CFG_MAX_SERVICES)
		abort();
	for (i = 0; i < p->n_services; i++) {
		const Halb__Punt__ViewService *v = p->services[i];

		if (v->index >= p->service_slots ||
		    v->backend_slots > CFG_MAX_BACKENDS ||
		    v->first + v->n_backends > v->backend_slots)
			abort();
	}
	if (rx.cfg == NULL) {
		rx.cfg = calloc(1, sizeof(*rx.cfg));
		if (rx.cfg == NULL)
			abort();
	}
	if (punt_view_rx_part(&rx, p) == 1 &&
	    rx.cfg->n_services > CFG_MAX_SERVICES)
		abort();
}

static void
check_msg(int t, const ProtobufCMessage *m)
{
	if (t == PUNT_T_PUNT)
		check_punt((const Halb__Punt__PuntBatch *)m);
	else if (t == PUNT_T_DECISION)
		check_decision((const Halb__Punt__DecisionBatch *)m);
	else if (t == PUNT_T_VIEW)
		check_view((const Halb__Punt__ViewPart *)m);
}

static void
check_opened(const struct punt_opened *o)
{
	static const ProtobufCMessageDescriptor *const desc[] = {
		&halb__punt__punt_batch__descriptor,
		&halb__punt__decision_batch__descriptor,
		&halb__punt__ping__descriptor,
		&halb__punt__pong__descriptor,
		&halb__punt__view_part__descriptor,
	};
	bool punter = o->type == PUNT_T_PUNT || o->type == PUNT_T_PING ||
		      o->type == PUNT_T_VIEW;

	if (o->msg == NULL || o->seq == 0 || o->type < PUNT_T_PUNT ||
	    o->type > PUNT_T_VIEW ||
	    o->msg->descriptor != desc[o->type - PUNT_T_PUNT] ||
	    strcmp(o->sender, punter ? "fwd-a" : "cls-b") != 0)
		abort();
	check_msg((int)o->type, o->msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seal_keyring *kr = fuzz_keyring();
	struct seal_replay *rp = seal_replay_new(4, 0);
	struct punt_opened o;
	int rc, t;

	if (rp == NULL)
		abort();
	rc = punt_open(data, size, kr, rp, FUZZ_NOW, &o);
	if (rc == 0) {
		check_opened(&o);
		punt_opened_free(&o);
		if (punt_open(data, size, kr, rp, FUZZ_NOW + 1, &o) !=
		    -SEAL_REJ_REPLAY)
			abort();
	} else if (rc <= -SEAL_REJ__COUNT || rc > -SEAL_REJ_OVERSIZE ||
		   o.msg != NULL) {
		abort();
	}
	punt_opened_free(&o);
	seal_replay_free(rp);

	for (t = PUNT_T_PUNT; t <= PUNT_T_VIEW; t++) {
		ProtobufCMessage *m = punt_payload_unpack((enum punt_type)t,
							  data, size);

		if (m == NULL)
			continue;
		check_msg(t, m);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}
