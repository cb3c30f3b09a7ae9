/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the request parser and the rules
 * (src/core/l7req.c).  The input is the byte stream a client sent.
 * Built with corpus_main.c it replays the kept corpus
 * (tests/fuzz/corpus/l7req, written by gen_l7req_corpus.py) as the test
 * fuzz-corpus-l7req; built with clang -fsanitize=fuzzer it explores.
 *
 * Invariants checked (abort() on violation, whatever NDEBUG says):
 *  - l7_parse returns one of its four answers and reads nothing outside
 *    [data, data + size) (the sanitizers watch; the input is copied to
 *    a buffer of exactly its size);
 *  - after DONE every string is NUL-terminated at its length, within
 *    its bounds, host and sni in lower case, and only the fields of its
 *    kind are set; l7_match answers a pool of the rules or the default;
 *  - it is stateless and decides as early as it may: the same call
 *    again gives the same answer and fields; a prefix of a request that
 *    is not BAD is never BAD, and a prefix of a DONE one is MORE or the
 *    same DONE; with the limit at the input's size nothing is MORE and
 *    the answer is the same but for MORE, which becomes TOO_BIG; and
 *    TOO_BIG never comes with len below the limit except for a
 *    ClientHello whose own length says it cannot fit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/cfg-t.h"
#include "halb/l7req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",    \
				__FILE__, __LINE__, #c);                \
			abort();                                        \
		}                                                       \
	} while (0)

#define LIMIT 8192

static struct cfg_l7 rules;

static void
rules_init(void)
{
	static const struct { uint8_t kind; const char *name, *path, *alpn; } t[] = {
		{ L7_HTTP, "api.example.com", "/v1", "" },
		{ L7_HTTP, "*.example.com", "", "" },
		{ L7_HTTP, "", "/static/", "" },
		{ L7_TLS, "*.example.org", "", "h2" },
		{ L7_TLS, "www.example.net", "", "" },
		{ L7_TLS, "", "", "http/1.1" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rules.rules[i].kind = t[i].kind;
		rules.rules[i].pool = (uint8_t)i;
		snprintf(rules.rules[i].name, sizeof(rules.rules[i].name), "%s", t[i].name);
		snprintf(rules.rules[i].path, sizeof(rules.rules[i].path), "%s", t[i].path);
		snprintf(rules.rules[i].alpn, sizeof(rules.rules[i].alpn), "%s", t[i].alpn);
	}
	rules.has = true;
	rules.n_rules = i;
	rules.n_pools = i + 1;
	rules.default_pool = (int16_t)i;
}

static void
check_str(const char *s, size_t cap, uint16_t len, int lower_only)
{
	size_t i;

	CHECK(len < cap);
	CHECK(s[len] == '\0');
	for (i = 0; i < len; i++) {
		CHECK(s[i] != '\0');
		if (lower_only)
			CHECK(!(s[i] >= 'A' && s[i] <= 'Z'));
	}
}

static void
check_done(const struct l7_req *r)
{
	unsigned int i;

	CHECK(r->kind == L7_HTTP || r->kind == L7_TLS);
	check_str(r->host, sizeof(r->host), r->host_len, 1);
	check_str(r->path, sizeof(r->path), r->path_len, 0);
	check_str(r->sni, sizeof(r->sni), r->sni_len, 1);
	CHECK(r->n_alpn <= L7_ALPN_MAX);
	for (i = 0; i < r->n_alpn; i++) {
		size_t l = strnlen(r->alpn[i], sizeof(r->alpn[i]));

		CHECK(l > 0 && l <= L7_ALPN_LEN);
	}
	if (r->kind == L7_HTTP) {
		CHECK(r->sni_len == 0 && r->n_alpn == 0);
		CHECK(r->path_len > 0);
	} else {
		CHECK(r->host_len == 0 && r->path_len == 0);
	}
}

static int
same_req(const struct l7_req *a, const struct l7_req *b)
{
	unsigned int i;

	if (a->kind != b->kind || a->host_len != b->host_len ||
	    a->path_len != b->path_len || a->sni_len != b->sni_len ||
	    a->n_alpn != b->n_alpn || strcmp(a->host, b->host) != 0 ||
	    strcmp(a->path, b->path) != 0 || strcmp(a->sni, b->sni) != 0)
		return 0;
	for (i = 0; i < a->n_alpn; i++)
		if (strcmp(a->alpn[i], b->alpn[i]) != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct l7_req r, r2;
	uint8_t *buf;
	size_t cut;
	int rc, rc2, pool;

	if (rules.n_rules == 0)
		rules_init();
	if (size > 2 * LIMIT)
		return 0;
	/* A buffer of exactly size bytes: ASan sees any read past it. */
	buf = malloc(size > 0 ? size : 1);
	CHECK(buf != NULL);
	if (size > 0)
		memcpy(buf, data, size);

	rc = l7_parse(buf, size, LIMIT, &r);
	CHECK(rc == L7_MORE || rc == L7_DONE || rc == L7_BAD || rc == L7_TOO_BIG);
	if (rc == L7_MORE)
		CHECK(size < LIMIT);
	if (rc == L7_DONE) {
		check_done(&r);
		pool = l7_match(&rules, &r);
		CHECK(pool >= 0 && (uint32_t)pool < rules.n_pools);
		/* The same call again: the same answer. */
		CHECK(l7_parse(buf, size, LIMIT, &r2) == L7_DONE);
		CHECK(same_req(&r, &r2));
	}
	/* Prefixes: decided no later than the whole, and consistently. */
	for (cut = size / 2; cut < size; cut = cut + 1 + (size - cut) / 2) {
		rc2 = l7_parse(buf, cut, LIMIT, &r2);
		if (rc != L7_BAD)
			CHECK(rc2 != L7_BAD);
		if (rc == L7_DONE) {
			CHECK(rc2 == L7_MORE || rc2 == L7_DONE);
			if (rc2 == L7_DONE)
				CHECK(same_req(&r, &r2));
		}
		if (rc == L7_MORE)
			CHECK(rc2 == L7_MORE);
	}
	if (rc == L7_TOO_BIG && size < LIMIT)
		CHECK(buf[0] == 0x16);
	/* The limit at the input's size: nothing is MORE; what was
	 * complete stays so, what was not is TOO_BIG (or, for a bad
	 * ClientHello, TOO_BIG from its length before the flaw). */
	rc2 = l7_parse(buf, size, size, &r2);
	CHECK(rc2 != L7_MORE);
	if (size <= LIMIT) {
		if (rc == L7_MORE || rc == L7_TOO_BIG)
			CHECK(rc2 == L7_TOO_BIG);
		if (rc == L7_BAD)
			CHECK(rc2 == L7_BAD || (rc2 == L7_TOO_BIG && buf[0] == 0x16));
		if (rc == L7_DONE) {
			CHECK(rc2 == L7_DONE);
			CHECK(same_req(&r, &r2));
		}
	}
	free(buf);
	return 0;
}
