/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sealing layer on its own (src/core/seal.c), with message types of its
 * own rather than the health protocol's: the keyring and its roles, the
 * registry of types (a type registered twice, a type nobody registered,
 * a type another protocol's senders may not send), the replay state with
 * its bound on how far a seq may run ahead of the receiver's clock, and
 * the escaping of a claimed sender for logs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/seal.h"
#include "halb_seal.pb-c.h"

#define NOW 1700000000000ull      /* the receiver's clock, Unix ms */
#define T_PING 900u               /* this test's types: no protocol's */
#define T_OTHER 901u
#define T_NOBODY 902u             /* never registered */

static void
mk_key(struct seal_key *k, uint32_t id, uint8_t fill, uint32_t len)
{
	uint32_t i;

	memset(k, 0, sizeof(*k));
	k->id = id;
	k->len = len;
	for (i = 0; i < len; i++)
		k->bytes[i] = (uint8_t)(fill + i);
}

/* A payload check: a "ping" is an Envelope message whose sender field
 * names the envelope's sender. */
static int
check_ping(const ProtobufCMessage *m, const struct seal_opened *env)
{
	const Halb__Seal__Envelope *p = (const Halb__Seal__Envelope *)m;

	if (p->version > 9)
		return -SEAL_REJ_PAYLOAD;
	if (env != NULL && strcmp(p->sender, env->sender) != 0)
		return -SEAL_REJ_IDENTITY;
	return 0;
}

static const struct seal_type t_ping = {
	.type = T_PING, .name = "test-ping",
	.desc = &halb__seal__envelope__descriptor,
	.senders = SEAL_ROLE_TEST, .check = check_ping,
};
/* Another protocol's type, that only peers send. */
static const struct seal_type t_other = {
	.type = T_OTHER, .name = "test-other",
	.desc = &halb__seal__envelope__descriptor,
	.senders = SEAL_ROLE_PEER,
};

static int
register_types(void **state)
{
	(void)state;
	if (seal_type_find(T_PING) == NULL)
		assert_int_equal(seal_register(&t_ping), 0);
	if (seal_type_find(T_OTHER) == NULL)
		assert_int_equal(seal_register(&t_other), 0);
	return 0;
}

/* A ping from sender, claiming to be about `about`, sealed with k. */
static int
seal_ping(uint8_t *buf, const struct seal_key *k, const char *sender,
	  const char *about, uint64_t seq, uint64_t ts, uint32_t type)
{
	Halb__Seal__Envelope p;
	char who[SEAL_NAME_MAX + 1];

	snprintf(who, sizeof(who), "%s", about);
	halb__seal__envelope__init(&p);
	p.version = 3;
	p.sender = who;
	return seal_msg(buf, SEAL_MTU, k, sender, seq, ts, type, &p.base);
}

static int
open1(const uint8_t *buf, int n, const struct seal_keyring *kr,
      struct seal_replay *rp, uint64_t now)
{
	struct seal_opened o;
	int rc;

	assert_true(n > 0);
	rc = seal_open(buf, (size_t)n, kr, rp, now, &o);
	if (rc < 0)
		assert_null(o.msg);
	else
		assert_non_null(o.msg);
	seal_opened_free(&o);
	return rc;
}

static void
test_keyring(void **state)
{
	struct seal_keyring *kr;
	struct seal_key k;
	const struct seal_key *g;
	uint32_t roles = 0;
	char name[16];
	int i;

	(void)state;
	assert_null(seal_keyring_new(0));
	assert_int_equal(errno, EINVAL);
	kr = seal_keyring_new(3);
	assert_non_null(kr);
	mk_key(&k, 1, 1, 16);
	assert_int_equal(seal_keyring_add(kr, "a", &k, SEAL_ROLE_AGENT), 0);
	assert_int_equal(seal_keyring_add(kr, "a", &k, SEAL_ROLE_AGENT), -EEXIST);
	k.id = 2;
	k.bytes[0] = 0xaa;
	/* rotation; and a key stands for at least one role */
	assert_int_equal(seal_keyring_add(kr, "a", &k, 0), -EINVAL);
	assert_int_equal(seal_keyring_add(kr, "a", &k, SEAL_ROLE_PEER), 0);
	k.len = 15;
	assert_int_equal(seal_keyring_add(kr, "b", &k, SEAL_ROLE_AGENT), -EINVAL);
	k.len = 65;
	assert_int_equal(seal_keyring_add(kr, "b", &k, SEAL_ROLE_AGENT), -EINVAL);
	k.len = 64;
	assert_int_equal(seal_keyring_add(kr, "", &k, SEAL_ROLE_AGENT), -EINVAL);
	assert_int_equal(seal_keyring_add(kr, NULL, &k, SEAL_ROLE_AGENT), -EINVAL);
	assert_int_equal(seal_keyring_add(kr, "b", NULL, SEAL_ROLE_AGENT), -EINVAL);
	assert_int_equal(seal_keyring_add(kr, "b", &k, SEAL_ROLE_AGENT), 0);
	assert_int_equal(seal_keyring_add(kr, "c", &k, SEAL_ROLE_AGENT), -ENOSPC);
	g = seal_keyring_find(kr, "a", 1, &roles);
	assert_non_null(g);
	assert_int_equal(g->bytes[0], 1);
	assert_int_equal(roles, SEAL_ROLE_AGENT);
	g = seal_keyring_find(kr, "a", 2, &roles);
	assert_non_null(g);
	assert_int_equal(g->bytes[0], 0xaa);
	assert_int_equal(roles, SEAL_ROLE_PEER);
	assert_null(seal_keyring_find(kr, "a", 3, NULL));
	assert_null(seal_keyring_find(kr, "c", 2, NULL));
	assert_non_null(seal_keyring_find(kr, "b", 2, NULL));
	seal_keyring_free(kr);
	seal_keyring_free(NULL);

	/* Many senders: every one is found with its own key. */
	kr = seal_keyring_new(500);
	assert_non_null(kr);
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "host%d", i);
		mk_key(&k, (uint32_t)i, (uint8_t)i, 16 + (uint32_t)(i % 49));
		assert_int_equal(seal_keyring_add(kr, name, &k, SEAL_ROLE_AGENT), 0);
	}
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "host%d", i);
		g = seal_keyring_find(kr, name, (uint32_t)i, NULL);
		assert_non_null(g);
		assert_int_equal(g->len, 16 + i % 49);
		assert_int_equal(g->bytes[0], (uint8_t)i);
		assert_null(seal_keyring_find(kr, name, (uint32_t)i + 1, NULL));
	}
	seal_keyring_free(kr);
}

static void
test_registry(void **state)
{
	static const struct seal_type bad0 = { .type = 0, .name = "zero",
		.desc = &halb__seal__envelope__descriptor,
		.senders = SEAL_ROLE_TEST };
	static const struct seal_type noname = { .type = 903,
		.desc = &halb__seal__envelope__descriptor,
		.senders = SEAL_ROLE_TEST };
	static const struct seal_type nodesc = { .type = 903, .name = "x",
		.senders = SEAL_ROLE_TEST };
	static const struct seal_type nobody = { .type = 903, .name = "x",
		.desc = &halb__seal__envelope__descriptor };
	static const struct seal_type again = { .type = T_PING,
		.name = "another-ping", .desc = &halb__seal__envelope__descriptor,
		.senders = SEAL_ROLE_AGENT };

	(void)state;
	assert_int_equal(seal_register(NULL), -EINVAL);
	assert_int_equal(seal_register(&bad0), -EINVAL);
	assert_int_equal(seal_register(&noname), -EINVAL);
	assert_int_equal(seal_register(&nodesc), -EINVAL);
	assert_int_equal(seal_register(&nobody), -EINVAL);
	/* One number, one meaning: the first registration stays. */
	assert_int_equal(seal_register(&again), -EEXIST);
	assert_int_equal(seal_register(&t_ping), -EEXIST);
	assert_ptr_equal(seal_type_find(T_PING), &t_ping);
	assert_string_equal(seal_type_name(T_PING), "test-ping");
	assert_null(seal_type_find(T_NOBODY));
	assert_string_equal(seal_type_name(T_NOBODY), "unknown");
	assert_string_equal(seal_type_name(0), "unknown");
}

/* A type nobody registered is neither sealed nor opened; a type another
 * protocol registered is refused from a key of this protocol's role,
 * after the MAC and before the replay state moves. */
static void
test_foreign_type(void **state)
{
	struct seal_keyring *kr = seal_keyring_new(4);
	struct seal_replay *rp = seal_replay_new(4, 0);
	struct seal_key kt, kp;
	uint8_t buf[SEAL_MAX_DATAGRAM];
	Halb__Seal__Envelope p;
	uint8_t pl[64];
	size_t plen;
	int n;

	(void)state;
	assert_non_null(kr);
	assert_non_null(rp);
	mk_key(&kt, 1, 0x20, 32);
	mk_key(&kp, 1, 0x40, 32);
	assert_int_equal(seal_keyring_add(kr, "t1", &kt, SEAL_ROLE_TEST), 0);
	assert_int_equal(seal_keyring_add(kr, "p1", &kp, SEAL_ROLE_PEER), 0);

	/* Unregistered: not sealed, and opened as garbled (before any MAC). */
	assert_int_equal(seal_ping(buf, &kt, "t1", "t1", 1, NOW, T_NOBODY),
			 -EINVAL);
	halb__seal__envelope__init(&p);
	plen = halb__seal__envelope__pack(&p, pl);
	assert_int_equal(seal_raw(buf, sizeof(buf), &kt, "t1", 1, NOW, T_NOBODY,
				  pl, plen), -EINVAL);
	n = seal_ping(buf, &kt, "t1", "t1", 1, NOW, T_PING);
	assert_true(n > 0);
	/* Its type rewritten to one nobody registered, canonically. */
	{
		Halb__Seal__Envelope *e = halb__seal__envelope__unpack(NULL,
							(size_t)n, buf);

		assert_non_null(e);
		e->type = T_NOBODY;
		n = (int)halb__seal__envelope__pack(e, buf);
		halb__seal__envelope__free_unpacked(e, NULL);
	}
	assert_int_equal(open1(buf, n, kr, rp, NOW), -SEAL_REJ_GARBLED);

	/* Registered, but not for this key's role: a test key sends a peer
	 * type, a peer key a test type. */
	n = seal_ping(buf, &kt, "t1", "t1", 5, NOW, T_OTHER);
	assert_int_equal(open1(buf, n, kr, rp, NOW), -SEAL_REJ_ROLE);
	assert_int_equal(seal_replay_last(rp, "t1"), 0);
	n = seal_ping(buf, &kp, "p1", "p1", 5, NOW, T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW), -SEAL_REJ_ROLE);
	assert_int_equal(seal_replay_last(rp, "p1"), 0);
	/* Each from its own role is fine, and the check is the type's. */
	n = seal_ping(buf, &kp, "p1", "p1", 5, NOW, T_OTHER);
	assert_int_equal(open1(buf, n, kr, rp, NOW), 0);
	n = seal_ping(buf, &kt, "t1", "p1", 5, NOW, T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW), -SEAL_REJ_IDENTITY);
	n = seal_ping(buf, &kt, "t1", "t1", 5, NOW, T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW), 0);
	assert_int_equal(seal_replay_last(rp, "t1"), 5);

	/* seal_payload_unpack: the type's decoder and check, no envelope. */
	assert_null(seal_payload_unpack(T_NOBODY, pl, plen));
	{
		ProtobufCMessage *m = seal_payload_unpack(T_PING, pl, plen);

		assert_non_null(m);
		protobuf_c_message_free_unpacked(m, NULL);
		p.version = 10;
		plen = halb__seal__envelope__pack(&p, pl);
		assert_null(seal_payload_unpack(T_PING, pl, plen));
	}
	seal_keyring_free(kr);
	seal_replay_free(rp);
}

/* Replays, and a seq further ahead of the receiver's clock than the
 * window: refused, counted apart, the mark unmoved, so that the sender's
 * next honest message still passes. */
static void
test_replay_ahead(void **state)
{
	struct seal_keyring *kr = seal_keyring_new(2);
	struct seal_replay *rp = seal_replay_new(2, 1000);
	const uint64_t now_us = NOW * 1000, win_us = 1000 * 1000;
	uint8_t buf[SEAL_MAX_DATAGRAM];
	struct seal_key k;
	int n;

	(void)state;
	assert_non_null(kr);
	assert_non_null(rp);
	assert_null(seal_replay_new(0, 0));
	mk_key(&k, 1, 0x20, 32);
	assert_int_equal(seal_keyring_add(kr, "t1", &k, SEAL_ROLE_TEST), 0);

	n = seal_ping(buf, &k, "t1", "t1", UINT64_MAX - 1, NOW, T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW), -SEAL_REJ_AHEAD);
	n = seal_ping(buf, &k, "t1", "t1", now_us + win_us + 1, NOW, T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW), -SEAL_REJ_AHEAD);
	assert_int_equal(seal_replay_last(rp, "t1"), 0);
	/* The limit itself passes; the clock moving on lets more pass. */
	n = seal_ping(buf, &k, "t1", "t1", now_us + win_us, NOW, T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW), 0);
	n = seal_ping(buf, &k, "t1", "t1", now_us + 2 * win_us, NOW + 1000,
		      T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW + 1000), 0);
	assert_int_equal(open1(buf, n, kr, rp, NOW + 1000), -SEAL_REJ_REPLAY);
	n = seal_ping(buf, &k, "t1", "t1", now_us, NOW + 1000, T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW + 1000), -SEAL_REJ_REPLAY);
	assert_int_equal(seal_replay_last(rp, "t1"), now_us + 2 * win_us);
	/* Small counters are below any clock: fine (an upper bound only). */
	assert_int_equal(seal_keyring_add(kr, "t2", &k, SEAL_ROLE_TEST), 0);
	n = seal_ping(buf, &k, "t2", "t2", 1, NOW, T_PING);
	assert_int_equal(open1(buf, n, kr, rp, NOW), 0);
	seal_keyring_free(kr);
	seal_replay_free(rp);
	seal_replay_free(NULL);
}

static void
test_peek_sender(void **state)
{
	static const struct {
		const char *claim, *logged;
	} cases[] = {
		{ "b1", "b1" },
		{ "b1\nhalb-healthd: INFO forged", "b1\\x0ahalb-healthd: INFO forged" },
		{ "\x1b[31mred", "\\x1b[31mred" },
		{ "quote\"back\\slash", "quote\\x22back\\x5cslash" },
		{ "caf\xc3\xa9", "caf\\xc3\\xa9" },
	};
	uint8_t buf[SEAL_MAX_DATAGRAM];
	Halb__Seal__Envelope e;
	char out[4 * SEAL_NAME_MAX + 1], small[6];
	char name[300];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "%s", cases[i].claim);
		halb__seal__envelope__init(&e);
		e.sender = name;
		n = halb__seal__envelope__pack(&e, buf);
		assert_int_equal(seal_peek_sender(buf, n, out, sizeof(out)), 0);
		assert_string_equal(out, cases[i].logged);
	}
	/* Longer than any name, cut to fit; never half an escape. */
	memset(name, '\n', 200);
	name[200] = '\0';
	halb__seal__envelope__init(&e);
	e.sender = name;
	n = halb__seal__envelope__pack(&e, buf);
	assert_int_equal(seal_peek_sender(buf, n, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 4 * SEAL_NAME_MAX);
	assert_int_equal(seal_peek_sender(buf, n, small, sizeof(small)), 0);
	assert_string_equal(small, "\\x0a");
	/* No envelope, no sender. */
	assert_int_equal(seal_peek_sender((const uint8_t *)"\xff\xff", 2, out,
					  sizeof(out)), -EINVAL);
	assert_string_equal(out, "");
	halb__seal__envelope__init(&e);
	n = halb__seal__envelope__pack(&e, buf);
	assert_int_equal(seal_peek_sender(buf, n, out, sizeof(out)), -EINVAL);
	assert_int_equal(seal_peek_sender(NULL, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(seal_peek_sender(buf, n, out, 0), -EINVAL);
}

static void
test_names(void **state)
{
	int i, j;

	(void)state;
	assert_string_equal(seal_reject_name(0), "ok");
	for (i = 1; i < SEAL_REJ__COUNT; i++) {
		assert_string_not_equal(seal_reject_name(-i), "unknown");
		for (j = 1; j < i; j++)
			assert_string_not_equal(seal_reject_name(-i),
						seal_reject_name(-j));
	}
	assert_string_equal(seal_reject_name(-SEAL_REJ_ROLE), "role");
	assert_string_equal(seal_reject_name(-SEAL_REJ_AHEAD), "seq-ahead");
}

/* Last: it fills the registry for the rest of the process. */
static void
test_registry_full(void **state)
{
	static struct seal_type many[SEAL_TYPES_MAX];
	uint32_t i;
	int rc = 0;

	(void)state;
	for (i = 0; i < SEAL_TYPES_MAX && rc == 0; i++) {
		many[i] = t_ping;
		many[i].type = 10000 + i;
		rc = seal_register(&many[i]);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_ptr_equal(seal_type_find(T_PING), &t_ping);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyring),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_foreign_type),
		cmocka_unit_test(test_replay_ahead),
		cmocka_unit_test(test_peek_sender),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_registry_full),
	};

	return cmocka_run_group_tests(tests, register_types, NULL);
}
