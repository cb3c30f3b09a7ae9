/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the session sync decoder (src/core/sync_msg.c on
 * src/core/seal.c) and the engine behind it (session/sync.c).
 *
 * Every input is tried three ways:
 *  - as a datagram, through sync_open() with a fixed keyring, a fresh
 *    replay table and a fixed clock, so that the kept corpus (datagrams
 *    of lb-b sealed with its key at FUZZ_NOW, tests/fuzz/gen_sync_corpus.py,
 *    and refused ones of every kind) reaches the code behind the MAC;
 *  - the same datagram into a fresh engine (lb-a, whose peer is lb-b, its
 *    boot id FUZZ_BOOT), then a tick, so that an authentic batch, ack,
 *    dump request, hello or relay drives the engine's state (a relayed
 *    segment it hands on must keep the Relay's rules);
 *  - as an inner message of each type, through sync_payload_unpack(),
 *    which the MAC otherwise keeps the fuzzer from; a batch's sessions
 *    are turned into struct sess_rec and packed again, and must decode to
 *    the same.
 * Beyond "no crash, no leak, no over-read", it checks what sync_open()
 * promises: a reason within enum seal_reject and no message on refusal,
 * a message of the announced type on acceptance, and the same datagram
 * refused as a replay the second time; and that the engine counted the
 * datagram exactly once, as refused or not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "halb/sync_msg.h"
#include "sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1700000000000ull /* the corpus is sealed at this time */
#define FUZZ_BOOT 0x1111ull       /* lb-a's boot id: the corpus's peer_boot */
#define FUZZ_KEY_FILL 0x21u       /* lb-b's key: 32 bytes fill + i, id 1 */

static void
fuzz_key(struct seal_key *k)
{
	uint32_t j;

	memset(k, 0, sizeof(*k));
	k->id = 1;
	k->len = 32;
	for (j = 0; j < k->len; j++)
		k->bytes[j] = (uint8_t)(FUZZ_KEY_FILL + j);
}

static struct seal_keyring *
fuzz_keyring(void)
{
	static struct seal_keyring *kr;
	struct seal_key k;

	if (kr != NULL)
		return kr;
	kr = seal_keyring_new(4);
	if (kr == NULL)
		abort();
	fuzz_key(&k);
	if (seal_keyring_add(kr, "lb-b", &k, SEAL_ROLE_SYNC) != 0)
		abort();
	/* the health protocol's peer key: refused as a sync sender */
	k.bytes[0] ^= 0xff;
	if (seal_keyring_add(kr, "lb-c", &k, SEAL_ROLE_PEER) != 0)
		abort();
	return kr;
}

/* ---- the engine ---- */

static int
f_send(void *arg, unsigned int p, const void *buf, size_t len)
{
	(void)arg;
	if (p != 0 || buf == NULL || len == 0 || len > 1400)
		abort();
	return 0;
}

static void
f_deliver(void *arg, unsigned int p, const struct sess_rec *r)
{
	(void)arg;
	if (p != 0 || !sync_rec_ok(r))
		abort();
}

static void
f_dump(void *arg, unsigned int p)
{
	struct sync *s = *(struct sync **)arg;
	struct sess_rec r;

	memset(&r, 0, sizeof(r));
	r.key.src[10] = r.key.src[11] = r.key.dst[10] = r.key.dst[11] = 0xff;
	r.key.proto = 6;
	r.op = SESS_OP_UP;
	if (sync_queue_to(s, p, &r) != 0)
		abort();
	sync_dump_done(s, p);
}

static void
f_peer_state(void *arg, unsigned int p, bool alive, bool synced)
{
	(void)arg;
	if (p != 0 || (synced && !alive))
		abort();
}

/* A relayed segment the engine hands on: its rules hold. */
static void
f_relay(void *arg, unsigned int p, const uint8_t vip[16], uint16_t vip_port,
	const uint8_t *seg, size_t len)
{
	(void)arg;
	if (p != 0 || vip == NULL || vip_port == 0 ||
	    sync_relay_seg(seg, len, NULL, NULL) != 0)
		abort();
}

static void
engine_once(const uint8_t *data, size_t size)
{
	static const struct sync_ops ops = {
		.send = f_send, .deliver = f_deliver, .dump = f_dump,
		.peer_state = f_peer_state, .relay = f_relay,
	};
	const struct sync_stats *st;
	struct sync_conf c;
	struct seal_key k;
	struct sync *s = NULL;

	memset(&c, 0, sizeof(c));
	strcpy(c.name, "lb-a");
	c.n_peers = 1;
	strcpy(c.peers[0].name, "lb-b");
	fuzz_key(&k);
	memcpy(c.peers[0].key, k.bytes, k.len);
	c.peers[0].key_len = k.len;
	c.peers[0].key_id = k.id;
	c.window = 8;
	c.backlog_max = 64;
	c.boot_id = FUZZ_BOOT;
	s = sync_new(&c, &ops, &s, FUZZ_NOW * 1000000ull);
	if (s == NULL)
		abort();
	sync_input(s, data, size, NULL, 0, FUZZ_NOW * 1000000ull);
	st = sync_stats(s);
	if (st->rx_datagrams != 1 || st->rx_refused > 1)
		abort();
	sync_tick(s, (FUZZ_NOW + 1) * 1000000ull);
	sync_free(s);
}

/* ---- the decoder ---- */

static void
check_opened(const struct sync_opened *o)
{
	static const ProtobufCMessageDescriptor *const desc[] = {
		&halb__sync__batch__descriptor,
		&halb__sync__ack__descriptor,
		&halb__sync__dump_request__descriptor,
		&halb__sync__hello__descriptor,
		&halb__sync__relay__descriptor,
	};

	if (o->msg == NULL || strcmp(o->sender, "lb-b") != 0 || o->seq == 0 ||
	    o->type < SYNC_T_BATCH || o->type > SYNC_T_RELAY ||
	    o->msg->descriptor != desc[o->type - SYNC_T_BATCH])
		abort();
}

/* A batch's sessions survive struct sess_rec and back. */
static void
check_batch(const Halb__Sync__Batch *b)
{
	uint8_t out[SYNC_REC_WIRE_MAX];
	size_t i;

	for (i = 0; i < b->n_sessions; i++) {
		Halb__Sync__Session *again;
		struct sess_rec r, r2;
		int len;

		if (sync_rec_from_pb(b->sessions[i], &r) != 0)
			abort();
		len = sync_rec_pack(&r, out);
		if (len <= 0 || len > (int)SYNC_REC_WIRE_MAX)
			abort();
		again = halb__sync__session__unpack(NULL, (size_t)len, out);
		if (again == NULL || sync_rec_from_pb(again, &r2) != 0 ||
		    memcmp(&r, &r2, sizeof(r)) != 0)
			abort();
		halb__sync__session__free_unpacked(again, NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seal_keyring *kr = fuzz_keyring();
	struct seal_replay *rp = seal_replay_new(4, 0);
	struct sync_opened o;
	int rc, t;

	if (rp == NULL)
		abort();
	rc = sync_open(data, size, kr, rp, FUZZ_NOW, &o);
	if (rc == 0) {
		check_opened(&o);
		if (o.type == SYNC_T_BATCH)
			check_batch(o.batch);
		sync_opened_free(&o);
		if (sync_open(data, size, kr, rp, FUZZ_NOW + 1, &o) !=
		    -SEAL_REJ_REPLAY)
			abort();
	} else if (rc <= -SEAL_REJ__COUNT || rc > -SEAL_REJ_OVERSIZE ||
		   o.msg != NULL) {
		abort();
	}
	sync_opened_free(&o);
	seal_replay_free(rp);

	engine_once(data, size);

	for (t = SYNC_T_BATCH; t <= SYNC_T_RELAY; t++) {
		ProtobufCMessage *m = sync_payload_unpack((enum sync_type)t,
							  data, size);

		if (m == NULL)
			continue;
		if (t == SYNC_T_BATCH)
			check_batch((const Halb__Sync__Batch *)m);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}
