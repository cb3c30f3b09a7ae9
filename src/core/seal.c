/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sealing and opening datagrams of any registered message type
 * (include/halb/seal.h, proto/halb_seal.proto, docs/HEALTH-PROTOCOL.md).
 *
 * The MAC does not cover protobuf bytes but a canonical concatenation of
 * the envelope's fields (mac_compute()), so that a sender in any language
 * can compute it without reproducing an encoder.  On top of that
 * seal_open() wants the envelope in exactly the encoding protobuf-c gives
 * it (fields in order, defaults omitted, no duplicates, no unknown
 * fields, no NUL inside the sender), so one authenticated content has one
 * encoding and any changed byte of a datagram is refused.  The envelope
 * and its MAC are those the health protocol used before this layer was
 * its own: "halb-hl1" stays the MAC's domain tag of envelope version 1.
 *
 * What a payload means is its protocol's: each registers its types
 * (number, name, descriptor, who may send it, check) and this file only
 * dispatches on the number.  The registry is an array filled at start-up
 * and read-only after.  Keyring and replay table are open-addressing hash
 * tables over a fixed array, sized at creation, never shrunk: a keyring
 * is read-only once built, a replay table only gains senders (at most its
 * capacity).
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "halb/seal.h"
#include "halb_seal.pb-c.h"

#define SEAL_TABLE_MAX (1u << 20) /* senders or keys per table */

/* Domain separation of the MAC input; the last digit is the version. */
static const char mac_tag[8] = { 'h', 'a', 'l', 'b', '-', 'h', 'l', '1' };

/* tag, version, key id, sender length + sender, seq, ts, type, payload length */
#define MAC_HDR_MAX (8 + 4 + 4 + 1 + SEAL_NAME_MAX + 8 + 8 + 4 + 4)

/* ---- the registry of message types ---- */

static const struct seal_type *types[SEAL_TYPES_MAX];
static uint32_t n_types;

int
seal_register(const struct seal_type *t)
{
	if (t == NULL || t->type == 0 || t->name == NULL || t->desc == NULL ||
	    t->senders == 0)
		return -EINVAL;
	if (seal_type_find(t->type) != NULL)
		return -EEXIST;
	if (n_types == SEAL_TYPES_MAX)
		return -ENOSPC;
	types[n_types++] = t;
	return 0;
}

const struct seal_type *
seal_type_find(uint32_t type)
{
	uint32_t i;

	for (i = 0; i < n_types; i++)
		if (types[i]->type == type)
			return types[i];
	return NULL;
}

const char *
seal_type_name(uint32_t type)
{
	const struct seal_type *t = seal_type_find(type);

	return t != NULL ? t->name : "unknown";
}

const char *
seal_reject_name(int r)
{
	static const char *const names[SEAL_REJ__COUNT] = {
		[0] = "ok",
		[SEAL_REJ_OVERSIZE] = "oversize",
		[SEAL_REJ_GARBLED] = "garbled",
		[SEAL_REJ_VERSION] = "version",
		[SEAL_REJ_UNKNOWN_SENDER] = "unknown-sender",
		[SEAL_REJ_BAD_MAC] = "bad-mac",
		[SEAL_REJ_REPLAY] = "replay",
		[SEAL_REJ_STALE] = "stale",
		[SEAL_REJ_IDENTITY] = "identity",
		[SEAL_REJ_PAYLOAD] = "payload",
		[SEAL_REJ_ROLE] = "role",
		[SEAL_REJ_AHEAD] = "seq-ahead",
	};

	if (r <= -SEAL_REJ__COUNT || r >= SEAL_REJ__COUNT)
		return "unknown";
	return names[r < 0 ? -r : r];
}

/* A sender name: 1..SEAL_NAME_MAX bytes. */
static bool
name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, SEAL_NAME_MAX + 1);
	return n >= 1 && n <= SEAL_NAME_MAX;
}

static bool
key_ok(const struct seal_key *k)
{
	return k != NULL && k->len >= SEAL_KEY_MIN && k->len <= SEAL_KEY_MAX;
}

/* FNV-1a over a string and a 32-bit value. */
static uint64_t
name_hash(const char *s, uint32_t v)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned int i;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	for (i = 0; i < 4; i++) {
		h ^= (uint8_t)(v >> (8 * i));
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Slots for a table of cap entries: a power of two, at most half full. */
static uint32_t
slots_for(uint32_t cap)
{
	uint32_t s = 4;

	while (s < 2 * cap)
		s <<= 1;
	return s;
}

/* ---- keyring ---- */

struct seal_keyent {
	char sender[SEAL_NAME_MAX + 1];
	struct seal_key key;
	uint32_t roles;          /* enum seal_role bits */
};

struct seal_keyring {
	uint32_t n, cap, mask;
	uint32_t *slot;          /* entry index + 1, 0: free */
	struct seal_keyent *ent;
};

struct seal_keyring *
seal_keyring_new(uint32_t cap)
{
	struct seal_keyring *kr;

	if (cap == 0 || cap > SEAL_TABLE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL)
		goto fail;
	kr->cap = cap;
	kr->mask = slots_for(cap) - 1;
	kr->slot = calloc((size_t)kr->mask + 1, sizeof(*kr->slot));
	kr->ent = calloc(cap, sizeof(*kr->ent));
	if (kr->slot == NULL || kr->ent == NULL)
		goto fail;
	return kr;
fail:
	seal_keyring_free(kr);
	errno = ENOMEM;
	return NULL;
}

void
seal_keyring_free(struct seal_keyring *kr)
{
	if (kr == NULL)
		return;
	/* Keys are secrets: do not leave them in freed memory. */
	if (kr->ent != NULL)
		OPENSSL_cleanse(kr->ent, (size_t)kr->cap * sizeof(*kr->ent));
	free(kr->ent);
	free(kr->slot);
	free(kr);
}

/* The slot holding (sender, key_id), or the free slot where it would go. */
static uint32_t
keyring_slot(const struct seal_keyring *kr, const char *sender, uint32_t key_id)
{
	uint32_t i = (uint32_t)name_hash(sender, key_id) & kr->mask;

	for (;; i = (i + 1) & kr->mask) {
		const struct seal_keyent *e;

		if (kr->slot[i] == 0)
			return i;
		e = &kr->ent[kr->slot[i] - 1];
		if (e->key.id == key_id && strcmp(e->sender, sender) == 0)
			return i;
	}
}

int
seal_keyring_add(struct seal_keyring *kr, const char *sender,
		 const struct seal_key *key, uint32_t roles)
{
	struct seal_keyent *e;
	uint32_t i;

	if (kr == NULL || !name_ok(sender) || !key_ok(key) || roles == 0)
		return -EINVAL;
	i = keyring_slot(kr, sender, key->id);
	if (kr->slot[i] != 0)
		return -EEXIST;
	if (kr->n == kr->cap)
		return -ENOSPC;
	e = &kr->ent[kr->n];
	memcpy(e->sender, sender, strlen(sender) + 1);
	e->key = *key;
	e->roles = roles;
	kr->slot[i] = ++kr->n;
	return 0;
}

const struct seal_key *
seal_keyring_find(const struct seal_keyring *kr, const char *sender,
		  uint32_t key_id, uint32_t *roles)
{
	const struct seal_keyent *e;
	uint32_t i;

	if (kr == NULL || !name_ok(sender))
		return NULL;
	i = keyring_slot(kr, sender, key_id);
	if (kr->slot[i] == 0)
		return NULL;
	e = &kr->ent[kr->slot[i] - 1];
	if (roles != NULL)
		*roles = e->roles;
	return &e->key;
}

/* ---- replay table ---- */

struct seal_rpent {
	char sender[SEAL_NAME_MAX + 1];
	uint64_t last_seq;
};

struct seal_replay {
	uint32_t n, cap, mask;
	uint32_t window_ms;
	uint32_t *slot;          /* entry index + 1, 0: free */
	struct seal_rpent *ent;
};

struct seal_replay *
seal_replay_new(uint32_t cap, uint32_t window_ms)
{
	struct seal_replay *rp;

	if (cap == 0 || cap > SEAL_TABLE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	rp = calloc(1, sizeof(*rp));
	if (rp == NULL)
		goto fail;
	rp->cap = cap;
	rp->mask = slots_for(cap) - 1;
	rp->window_ms = window_ms != 0 ? window_ms : SEAL_WINDOW_MS_DEFAULT;
	rp->slot = calloc((size_t)rp->mask + 1, sizeof(*rp->slot));
	rp->ent = calloc(cap, sizeof(*rp->ent));
	if (rp->slot == NULL || rp->ent == NULL)
		goto fail;
	return rp;
fail:
	seal_replay_free(rp);
	errno = ENOMEM;
	return NULL;
}

void
seal_replay_free(struct seal_replay *rp)
{
	if (rp == NULL)
		return;
	free(rp->ent);
	free(rp->slot);
	free(rp);
}

static uint32_t
replay_slot(const struct seal_replay *rp, const char *sender)
{
	uint32_t i = (uint32_t)name_hash(sender, 0) & rp->mask;

	for (;; i = (i + 1) & rp->mask) {
		if (rp->slot[i] == 0 ||
		    strcmp(rp->ent[rp->slot[i] - 1].sender, sender) == 0)
			return i;
	}
}

uint64_t
seal_replay_last(const struct seal_replay *rp, const char *sender)
{
	uint32_t i;

	if (rp == NULL || !name_ok(sender))
		return 0;
	i = replay_slot(rp, sender);
	return rp->slot[i] == 0 ? 0 : rp->ent[rp->slot[i] - 1].last_seq;
}

/* ---- MAC ---- */

static uint8_t *
put_be(uint8_t *p, uint64_t v, unsigned int bytes)
{
	while (bytes-- > 0)
		*p++ = (uint8_t)(v >> (8 * bytes));
	return p;
}

/*
 * Keyed HMAC contexts, per thread: OpenSSL 3's one-shot HMAC() fetches
 * the algorithm, builds and frees a context and cleanses the key
 * schedule on every call, which cost more than hashing a whole datagram
 * (docs/PERFORMANCE.md, "A remote classifier").  Each thread keeps the
 * contexts of the last MAC_CACHE keys it used, initialised with the key
 * once and reset (EVP_MAC_init without a key: the same key) for every
 * message; a key not among them takes the least recently added slot.
 * The contexts and their key copies are freed (cleansed) when the
 * thread exits.  Any failure falls back to HMAC().
 */
#define MAC_CACHE 8

struct mac_slot {
	EVP_MAC_CTX *ctx;
	uint32_t len;
	uint8_t key[SEAL_KEY_MAX];
};

struct mac_cache {
	struct mac_slot slot[MAC_CACHE];
	uint32_t next;
};

static pthread_once_t mac_once = PTHREAD_ONCE_INIT;
static pthread_key_t mac_tls;
static EVP_MAC *mac_hmac;
static bool mac_ok;

static void
mac_cache_free(void *arg)
{
	struct mac_cache *c = arg;
	uint32_t i;

	for (i = 0; i < MAC_CACHE; i++)
		EVP_MAC_CTX_free(c->slot[i].ctx);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static void
mac_init_once(void)
{
	mac_hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	mac_ok = mac_hmac != NULL &&
		 pthread_key_create(&mac_tls, mac_cache_free) == 0;
}

/* This thread's context for key, reset for a new message; NULL when
 * none can be had (the caller uses HMAC()). */
static EVP_MAC_CTX *
mac_ctx(const struct seal_key *key)
{
	OSSL_PARAM params[2];
	struct mac_cache *c;
	struct mac_slot *sl;
	uint32_t i;

	if (pthread_once(&mac_once, mac_init_once) != 0 || !mac_ok ||
	    key->len > SEAL_KEY_MAX)
		return NULL;
	c = pthread_getspecific(mac_tls);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL || pthread_setspecific(mac_tls, c) != 0) {
			free(c);
			return NULL;
		}
	}
	for (i = 0; i < MAC_CACHE; i++) {
		sl = &c->slot[i];
		if (sl->ctx != NULL && sl->len == key->len &&
		    memcmp(sl->key, key->bytes, key->len) == 0)
			return EVP_MAC_init(sl->ctx, NULL, 0, NULL) == 1 ? sl->ctx : NULL;
	}
	sl = &c->slot[c->next];
	c->next = (c->next + 1) % MAC_CACHE;
	EVP_MAC_CTX_free(sl->ctx);
	OPENSSL_cleanse(sl, sizeof(*sl));
	sl->ctx = EVP_MAC_CTX_new(mac_hmac);
	if (sl->ctx == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)(uintptr_t)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(sl->ctx, key->bytes, key->len, params) != 1) {
		EVP_MAC_CTX_free(sl->ctx);
		sl->ctx = NULL;
		return NULL;
	}
	sl->len = key->len;
	memcpy(sl->key, key->bytes, key->len);
	return sl->ctx;
}

/*
 * HMAC-SHA256 with key over
 *   "halb-hl1" | version u32 | key id u32 | sender length u8 | sender |
 *   seq u64 | timestamp u64 | type u32 | payload length u32 | payload
 * integers big-endian.  sender is 1..SEAL_NAME_MAX bytes, plen at most
 * SEAL_MAX_DATAGRAM.  Returns 0 or -EIO when libcrypto fails.
 */
static int
mac_compute(uint8_t mac[SEAL_MAC_LEN], const struct seal_key *key,
	    uint32_t version, const char *sender, uint64_t seq, uint64_t ts_ms,
	    uint32_t type, const uint8_t *payload, size_t plen)
{
	uint8_t in[MAC_HDR_MAX + SEAL_MAX_DATAGRAM];
	size_t slen = strlen(sender), hlen, outl = 0;
	unsigned int mlen = 0;
	EVP_MAC_CTX *ctx;
	uint8_t *p = in;

	assert(slen >= 1 && slen <= SEAL_NAME_MAX && plen <= SEAL_MAX_DATAGRAM);
	memcpy(p, mac_tag, sizeof(mac_tag));
	p += sizeof(mac_tag);
	p = put_be(p, version, 4);
	p = put_be(p, key->id, 4);
	*p++ = (uint8_t)slen;
	memcpy(p, sender, slen);
	p += slen;
	p = put_be(p, seq, 8);
	p = put_be(p, ts_ms, 8);
	p = put_be(p, type, 4);
	p = put_be(p, plen, 4);
	hlen = (size_t)(p - in);
	ctx = mac_ctx(key);
	if (ctx != NULL && EVP_MAC_update(ctx, in, hlen) == 1 &&
	    (plen == 0 || EVP_MAC_update(ctx, payload, plen) == 1) &&
	    EVP_MAC_final(ctx, mac, &outl, SEAL_MAC_LEN) == 1 &&
	    outl == SEAL_MAC_LEN)
		return 0;
	/* The one-shot way, over one buffer. */
	if (plen > 0)
		memcpy(p, payload, plen);
	p += plen;
	if (HMAC(EVP_sha256(), key->bytes, (int)key->len, in, (size_t)(p - in),
		 mac, &mlen) == NULL || mlen != SEAL_MAC_LEN)
		return -EIO;
	return 0;
}

/* ---- sealing ---- */

/* payload is the caller's scratch copy (protobuf-c wants it non-const). */
static int
seal(uint8_t *out, size_t cap, const struct seal_key *key, const char *sender,
     uint64_t seq, uint64_t ts_ms, uint32_t type, uint8_t *payload,
     size_t plen)
{
	char who[SEAL_NAME_MAX + 1];
	uint8_t mac[SEAL_MAC_LEN];
	Halb__Seal__Envelope env;
	size_t n;
	int rc;

	memcpy(who, sender, strlen(sender) + 1);
	rc = mac_compute(mac, key, SEAL_VERSION, who, seq, ts_ms, type, payload,
			 plen);
	if (rc < 0)
		return rc;
	halb__seal__envelope__init(&env);
	env.version = SEAL_VERSION;
	env.sender = who;
	env.key_id = key->id;
	env.seq = seq;
	env.timestamp_ms = ts_ms;
	env.type = type;
	env.payload.len = plen;
	env.payload.data = plen > 0 ? payload : NULL;
	env.hmac.len = SEAL_MAC_LEN;
	env.hmac.data = mac;
	n = halb__seal__envelope__get_packed_size(&env);
	if (n > cap || n > SEAL_MAX_DATAGRAM)
		return -EMSGSIZE;
	return (int)halb__seal__envelope__pack(&env, out);
}

static bool
seal_args_ok(const uint8_t *out, const struct seal_key *key,
	     const char *sender, uint64_t seq, uint32_t type)
{
	return out != NULL && key_ok(key) && name_ok(sender) && seq != 0 &&
	       seal_type_find(type) != NULL;
}

int
seal_msg(uint8_t *out, size_t cap, const struct seal_key *key,
	 const char *sender, uint64_t seq, uint64_t ts_ms, uint32_t type,
	 const ProtobufCMessage *payload)
{
	uint8_t buf[SEAL_MAX_DATAGRAM];
	size_t plen;

	if (!seal_args_ok(out, key, sender, seq, type) || payload == NULL ||
	    payload->descriptor != seal_type_find(type)->desc)
		return -EINVAL;
	plen = protobuf_c_message_get_packed_size(payload);
	if (plen > sizeof(buf))
		return -EMSGSIZE;
	protobuf_c_message_pack(payload, buf);
	return seal(out, cap, key, sender, seq, ts_ms, type, buf, plen);
}

int
seal_raw(uint8_t *out, size_t cap, const struct seal_key *key,
	 const char *sender, uint64_t seq, uint64_t ts_ms, uint32_t type,
	 const uint8_t *payload, size_t plen)
{
	uint8_t buf[SEAL_MAX_DATAGRAM];

	if (!seal_args_ok(out, key, sender, seq, type) ||
	    (payload == NULL && plen > 0))
		return -EINVAL;
	if (plen > sizeof(buf))
		return -EMSGSIZE;
	if (plen > 0)
		memcpy(buf, payload, plen);
	return seal(out, cap, key, sender, seq, ts_ms, type, buf, plen);
}

/* ---- decoding into one block ---- */

/*
 * A protobuf-c allocator over one block: pieces are carved in order and
 * never freed one by one; what does not fit goes to malloc() on a list
 * freed with the block.  The block is sized from the wire length (what
 * protobuf-c makes of a byte of punt or decision batch is at most a few
 * bytes of structs), so the list is the exception.
 */
struct arena_big {
	struct arena_big *next;
	max_align_t mem[];
};

struct seal_arena {
	size_t used, cap;
	struct arena_big *big;
	ProtobufCAllocator pa;
	max_align_t mem[];
};

#define ARENA_ALIGN sizeof(max_align_t)

static void *
arena_alloc(void *data, size_t size)
{
	struct seal_arena *a = data;
	struct arena_big *b;
	void *p;

	size = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (size <= a->cap - a->used) {
		p = (uint8_t *)a->mem + a->used;
		a->used += size;
		return p;
	}
	b = malloc(sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->next = a->big;
	a->big = b;
	return b->mem;
}

static void
arena_free(void *data, void *p)
{
	(void)data;
	(void)p; /* with the block */
}

/* An arena of cap bytes in one allocation. */
static struct seal_arena *
arena_new(size_t cap)
{
	struct seal_arena *a;

	cap = (cap + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	a = malloc(sizeof(*a) + cap);
	if (a == NULL)
		return NULL;
	a->used = 0;
	a->cap = cap;
	a->big = NULL;
	a->pa.alloc = arena_alloc;
	a->pa.free = arena_free;
	a->pa.allocator_data = a;
	return a;
}

static void
arena_release(struct seal_arena *a)
{
	struct arena_big *b, *n;

	if (a == NULL)
		return;
	for (b = a->big; b != NULL; b = n) {
		n = b->next;
		free(b);
	}
	free(a);
}

void
seal_msg_release(ProtobufCMessage *msg, void *arena)
{
	if (arena != NULL)
		arena_release(arena);
	else if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* ---- inner messages ---- */

/* Decoded by t, checked against env (NULL: none); NULL or the message;
 * *why gets the reason of a refusal.  With arena (not NULL) and a type
 * that wants one, the message is decoded into a new arena, given in
 * *arena (NULL otherwise). */
static ProtobufCMessage *
payload_unpack(const struct seal_type *t, const uint8_t *buf, size_t len,
	       const struct seal_opened *env, int *why, void **arena)
{
	static const uint8_t empty[1];
	struct seal_arena *a = NULL;
	ProtobufCMessage *m;
	int rc;

	*why = -SEAL_REJ_PAYLOAD;
	if (arena != NULL)
		*arena = NULL;
	if (len > SEAL_MAX_DATAGRAM || (buf == NULL && len > 0))
		return NULL;
	if (arena != NULL && t->arena && t->unpack == NULL)
		a = arena_new(8 * len + 512);
	if (t->unpack != NULL)
		m = t->unpack(len > 0 ? buf : NULL, len);
	else
		m = protobuf_c_message_unpack(t->desc, a != NULL ? &a->pa : NULL,
					      len, len > 0 ? buf : empty);
	if (m == NULL)
		goto fail;
	/* A type's own unpack must give its own message. */
	if (m->descriptor != t->desc)
		goto fail;
	rc = t->check != NULL ? t->check(m, env) : 0;
	if (rc != 0) {
		*why = rc == -SEAL_REJ_IDENTITY ? rc : -SEAL_REJ_PAYLOAD;
		goto fail;
	}
	if (a != NULL)
		*arena = a;
	return m;
fail:
	if (a != NULL)
		arena_release(a); /* m with it */
	else if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
	return NULL;
}

ProtobufCMessage *
seal_payload_unpack(uint32_t type, const uint8_t *buf, size_t len)
{
	const struct seal_type *t = seal_type_find(type);
	int why;

	if (t == NULL)
		return NULL;
	return payload_unpack(t, buf, len, NULL, &why, NULL);
}

/* ---- opening ---- */

/* Decodable, version 1, canonical, every field present and in range, a
 * registered type. */
static int
envelope_check(const Halb__Seal__Envelope *env, const uint8_t *buf,
	       size_t len)
{
	uint8_t again[SEAL_MAX_DATAGRAM];

	if (env->version != SEAL_VERSION)
		return -SEAL_REJ_VERSION;
	if (env->base.n_unknown_fields != 0 ||
	    halb__seal__envelope__get_packed_size(env) != len ||
	    halb__seal__envelope__pack(env, again) != len ||
	    memcmp(again, buf, len) != 0)
		return -SEAL_REJ_GARBLED;
	if (!name_ok(env->sender) || env->hmac.len != SEAL_MAC_LEN ||
	    env->seq == 0 || seal_type_find(env->type) == NULL ||
	    env->payload.len > SEAL_MAX_DATAGRAM)
		return -SEAL_REJ_GARBLED;
	return 0;
}

static bool
in_window(uint64_t ts, uint64_t now, uint32_t window)
{
	return ts <= now ? now - ts <= window : ts - now <= window;
}

/*
 * Senders keep seq at or above their clock in Unix microseconds
 * (halb_next_seq), so a seq far above the receiver's clock is no honest
 * sender's: taken, it would lift the sender's mark out of reach of every
 * later message (a seq near 2^64 would lock the sender out for good).
 * How far ahead is fine is the timestamp's window.
 */
static bool
seq_ahead(uint64_t seq, uint64_t now_ms, uint32_t window_ms)
{
	uint64_t limit = (now_ms + window_ms) * 1000u;

	return now_ms < UINT64_MAX / 1000u - window_ms && seq > limit;
}

void
seal_opened_free(struct seal_opened *out)
{
	if (out == NULL || out->msg == NULL)
		return;
	seal_msg_release(out->msg, out->arena);
	out->msg = NULL;
	out->arena = NULL;
}

int
seal_open(const uint8_t *buf, size_t len, const struct seal_keyring *keys,
	  struct seal_replay *rp, uint64_t now_ms, struct seal_opened *out)
{
	Halb__Seal__Envelope *env = NULL;
	struct seal_arena *ea = NULL;
	const struct seal_type *t;
	uint8_t mac[SEAL_MAC_LEN];
	ProtobufCMessage *m = NULL;
	const struct seal_key *key;
	struct seal_rpent *e;
	uint32_t slot, roles = 0;
	int rc;

	assert(keys != NULL && rp != NULL && out != NULL);
	memset(out, 0, sizeof(*out));
	if (len > SEAL_MAX_DATAGRAM)
		return -SEAL_REJ_OVERSIZE;
	if (buf == NULL || len == 0)
		return -SEAL_REJ_GARBLED;

	/* The envelope in one block too, released on the way out. */
	ea = arena_new(2 * len + 512);
	env = halb__seal__envelope__unpack(ea != NULL ? &ea->pa : NULL, len, buf);
	if (env == NULL) {
		rc = -SEAL_REJ_GARBLED;
		goto out;
	}
	rc = envelope_check(env, buf, len);
	if (rc < 0)
		goto out;
	t = seal_type_find(env->type);

	key = seal_keyring_find(keys, env->sender, env->key_id, &roles);
	if (key == NULL) {
		rc = -SEAL_REJ_UNKNOWN_SENDER;
		goto out;
	}
	rc = mac_compute(mac, key, env->version, env->sender, env->seq,
			 env->timestamp_ms, env->type, env->payload.data,
			 env->payload.len);
	if (rc < 0 || CRYPTO_memcmp(mac, env->hmac.data, SEAL_MAC_LEN) != 0) {
		rc = -SEAL_REJ_BAD_MAC;
		goto out;
	}

	/* Authentic from here on: is it this key's to send? */
	if ((roles & t->senders) == 0) {
		rc = -SEAL_REJ_ROLE;
		goto out;
	}
	/* Judge it against what we accepted before. */
	slot = replay_slot(rp, env->sender);
	if (rp->slot[slot] != 0) {
		if (env->seq <= rp->ent[rp->slot[slot] - 1].last_seq) {
			rc = -SEAL_REJ_REPLAY;
			goto out;
		}
	} else if (rp->n == rp->cap) {
		rc = -SEAL_REJ_UNKNOWN_SENDER;
		goto out;
	}
	if (seq_ahead(env->seq, now_ms, rp->window_ms)) {
		rc = -SEAL_REJ_AHEAD;
		goto out;
	}
	if (!in_window(env->timestamp_ms, now_ms, rp->window_ms)) {
		rc = -SEAL_REJ_STALE;
		goto out;
	}

	out->type = env->type;
	memcpy(out->sender, env->sender, strlen(env->sender) + 1);
	out->key_id = env->key_id;
	out->roles = roles;
	out->seq = env->seq;
	out->ts_ms = env->timestamp_ms;
	m = payload_unpack(t, env->payload.data, env->payload.len, out, &rc,
			   &out->arena);
	if (m == NULL) {
		memset(out, 0, sizeof(*out));
		goto out;
	}

	/* Accepted: only now does the replay state move. */
	if (rp->slot[slot] == 0) {
		e = &rp->ent[rp->n];
		memcpy(e->sender, env->sender, strlen(env->sender) + 1);
		rp->slot[slot] = ++rp->n;
	}
	rp->ent[rp->slot[slot] - 1].last_seq = env->seq;
	out->msg = m;
	rc = 0;
out:
	if (ea != NULL)
		arena_release(ea);
	else if (env != NULL)
		halb__seal__envelope__free_unpacked(env, NULL);
	return rc;
}

int
seal_peek_sender(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	Halb__Seal__Envelope *env = NULL;
	const unsigned char *p;
	size_t o = 0;
	int rc = -EINVAL;

	if (out == NULL || cap == 0)
		return -EINVAL;
	out[0] = '\0';
	if (buf != NULL && len > 0 && len <= SEAL_MAX_DATAGRAM)
		env = halb__seal__envelope__unpack(NULL, len, buf);
	if (env == NULL || env->sender == NULL || env->sender[0] == '\0')
		goto out;
	/* Nothing in it is believed: not its length, not its bytes. */
	for (p = (const unsigned char *)env->sender; *p != '\0'; p++) {
		bool plain = *p >= 0x20 && *p < 0x7f && *p != '"' &&
			     *p != '\\';

		if (o + (plain ? 1 : 4) >= cap)
			break;
		if (plain)
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
	}
	out[o] = '\0';
	rc = 0;
out:
	if (env != NULL)
		halb__seal__envelope__free_unpacked(env, NULL);
	return rc;
}

void
seal_register_family(const char *family, const struct seal_type *t, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = seal_register(&t[i]);
		if (rc != 0) {
			fprintf(stderr, "%s: type %u (%s): %s\n", family,
				t[i].type, t[i].name, strerror(-rc));
			abort();
		}
	}
}

int
seal_open_family(const uint8_t *buf, size_t len,
		 const struct seal_keyring *keys, struct seal_replay *rp,
		 uint64_t now_ms, uint32_t lo, uint32_t hi,
		 struct seal_opened *out)
{
	int rc = seal_open(buf, len, keys, rp, now_ms, out);

	if (rc < 0)
		return rc;
	if (out->type < lo || out->type > hi) {
		seal_opened_free(out);
		return -SEAL_REJ_ROLE;
	}
	return 0;
}
