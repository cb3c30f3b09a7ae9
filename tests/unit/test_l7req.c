/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request parser and the rules (src/core/l7req.c): HTTP/1.x request
 * lines and Host, TLS ClientHellos built here (one record or split over
 * several, every cut of the bytes), the limits, and l7_match() over a
 * struct cfg_l7 filled by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/cfg-t.h"
#include "halb/l7req.h"

#define LIMIT 8192

static int
parse_str(const char *s, struct l7_req *r)
{
	return l7_parse((const uint8_t *)s, strlen(s), LIMIT, r);
}

/* Every proper prefix of buf[0..n) must be MORE (it is the start of a
 * valid request), and the whole must give want. */
static void
every_prefix(const uint8_t *buf, size_t n, int want, struct l7_req *r)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int rc = l7_parse(buf, i, LIMIT, r);

		if (rc != L7_MORE)
			fail_msg("prefix of %zu of %zu bytes: %d, not MORE", i, n, rc);
	}
	assert_int_equal(l7_parse(buf, n, LIMIT, r), want);
}

static void
test_http_origin(void **state)
{
	static const char req[] =
		"GET /v1/users?id=3 HTTP/1.1\r\n"
		"User-Agent: curl/7.88.1\r\n"
		"hOsT:  API.Example.COM:8080 \r\n"
		"Accept: */*\r\n"
		"\r\n";
	struct l7_req r;

	(void)state;
	every_prefix((const uint8_t *)req, strlen(req), L7_DONE, &r);
	assert_int_equal(r.kind, L7_HTTP);
	assert_string_equal(r.host, "api.example.com");
	assert_int_equal(r.host_len, strlen("api.example.com"));
	assert_string_equal(r.path, "/v1/users");
	assert_int_equal(r.path_len, 9);
	assert_int_equal(r.sni_len, 0);
	assert_int_equal(r.n_alpn, 0);
	/* A body after the header section is not looked at. */
	char with_body[256];

	snprintf(with_body, sizeof(with_body), "%s%s", req, "\x01\x02garbage");
	assert_int_equal(parse_str(with_body, &r), L7_DONE);
	assert_string_equal(r.host, "api.example.com");
}

static void
test_http_forms(void **state)
{
	struct l7_req r;

	(void)state;
	/* Absolute-form: its authority wins over Host. */
	assert_int_equal(parse_str("GET HTTP://WWW.Example.org:81/a/b?c HTTP/1.1\r\n"
				   "Host: other.example\r\n\r\n", &r), L7_DONE);
	assert_string_equal(r.host, "www.example.org");
	assert_string_equal(r.path, "/a/b");
	assert_int_equal(parse_str("GET https://x.example HTTP/1.1\r\nHost: x\r\n\r\n",
				   &r), L7_DONE);
	assert_string_equal(r.host, "x.example");
	assert_string_equal(r.path, "/");
	/* Absolute-form in HTTP/1.0 needs no Host. */
	assert_int_equal(parse_str("GET http://a.example/p HTTP/1.0\r\n\r\n", &r),
			 L7_DONE);
	assert_string_equal(r.host, "a.example");
	/* Asterisk-form. */
	assert_int_equal(parse_str("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &r),
			 L7_DONE);
	assert_string_equal(r.path, "*");
	/* HTTP/1.0 without Host: no host. */
	assert_int_equal(parse_str("GET /x HTTP/1.0\r\n\r\n", &r), L7_DONE);
	assert_int_equal(r.host_len, 0);
	assert_string_equal(r.path, "/x");
	/* Bare LF line ends (RFC 9112 2.2 allows them). */
	assert_int_equal(parse_str("GET /lf HTTP/1.1\nHost: lf.example\n\n", &r),
			 L7_DONE);
	assert_string_equal(r.host, "lf.example");
	/* IPv6 literal, with and without a port; trailing dot. */
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: [FD00::1]:8443\r\n\r\n",
				   &r), L7_DONE);
	assert_string_equal(r.host, "[fd00::1]");
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: [::ffff:1.2.3.4]\r\n\r\n",
				   &r), L7_DONE);
	assert_string_equal(r.host, "[::ffff:1.2.3.4]");
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n",
				   &r), L7_DONE);
	assert_string_equal(r.host, "example.com");
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: 192.0.2.1:80\r\n\r\n",
				   &r), L7_DONE);
	assert_string_equal(r.host, "192.0.2.1");
	/* Empty Host (allowed: RFC 9112 3.2). */
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r), L7_DONE);
	assert_int_equal(r.host_len, 0);
	/* Any token is a method; the path is kept undecoded. */
	assert_int_equal(parse_str("PURGE /a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n", &r),
			 L7_DONE);
	assert_string_equal(r.path, "/a%2Fb");
}

static void
test_http_bad(void **state)
{
	static const char *const bad[] = {
		/* not HTTP/1.x */
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.2\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1x\r\nHost: h\r\n\r\n",
		"GET / http/1.1\r\nHost: h\r\n\r\n",
		"GET /\r\n",
		"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
		" GET / HTTP/1.1\r\n",
		"G(T / HTTP/1.1\r\n",
		"GET /a b HTTP/1.1\r\n",
		"\x80GET / HTTP/1.1\r\n",
		"CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n",
		"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http:/// HTTP/1.1\r\nHost: h\r\n\r\n",
		/* headers */
		"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\nX-A: 1\r\n\tfolded\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX: 1\r\n\r\n",              /* 1.1 without Host */
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [fd00::1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: []\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
		"GET / HTTP/1.1\rHost: h\r\n\r\n",             /* bare CR */
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n",  /* bad Host still */
		"",
	};
	struct l7_req r;
	unsigned int i;

	(void)state;
	for (i = 0; bad[i][0] != '\0'; i++) {
		int rc = parse_str(bad[i], &r);

		if (rc != L7_BAD)
			fail_msg("%u \"%s\": %d, not BAD", i, bad[i], rc);
	}
	/* Decided early, on the first bytes that cannot be right. */
	assert_int_equal(l7_parse((const uint8_t *)"\x00", 1, LIMIT, &r), L7_BAD);
	assert_int_equal(l7_parse((const uint8_t *)"GE(", 3, LIMIT, &r), L7_BAD);
	assert_int_equal(parse_str("GET / HTTP/1.1\r\n folded", &r), L7_BAD);
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nBad Name", &r), L7_BAD);
	assert_int_equal(parse_str("GET / HTTP/2", &r), L7_BAD);
	/* A NUL anywhere. */
	assert_int_equal(l7_parse((const uint8_t *)"GET /\0 HTTP/1.1\r\n", 17, LIMIT, &r),
			 L7_BAD);
	/* A method of more than 32 bytes. */
	char m[64];

	memset(m, 'A', 40);
	memcpy(m + 40, " / HTTP/1.1\r\n", 14);
	assert_int_equal(parse_str(m, &r), L7_BAD);
}

static void
test_http_limits(void **state)
{
	static char req[LIMIT + 200];
	struct l7_req r;
	size_t hdr, n;
	const char *head = "GET / HTTP/1.1\r\nHost: big.example\r\nX-Big: ";

	(void)state;
	/* A request of exactly LIMIT bytes is DONE, one byte more TOO_BIG. */
	n = strlen(head);
	memcpy(req, head, n);
	hdr = LIMIT - n - 4;
	memset(req + n, 'x', hdr);
	memcpy(req + n + hdr, "\r\n\r\n", 4);
	assert_int_equal(l7_parse((uint8_t *)req, LIMIT, LIMIT, &r), L7_DONE);
	assert_string_equal(r.host, "big.example");
	/* The same bytes with a smaller limit: TOO_BIG, whatever follows. */
	assert_int_equal(l7_parse((uint8_t *)req, LIMIT, LIMIT - 1, &r), L7_TOO_BIG);
	assert_int_equal(l7_parse((uint8_t *)req, LIMIT - 1, LIMIT - 1, &r),
			 L7_TOO_BIG);
	/* Fewer bytes than the limit: MORE. */
	assert_int_equal(l7_parse((uint8_t *)req, LIMIT - 2, LIMIT, &r), L7_MORE);
	/* Nothing at all. */
	assert_int_equal(l7_parse(NULL, 0, LIMIT, &r), L7_MORE);
	assert_int_equal(l7_parse(NULL, 0, 0, &r), L7_TOO_BIG);
	/* A request line cut at the limit. */
	assert_int_equal(l7_parse((const uint8_t *)"GET /aaaa", 9, 9, &r), L7_TOO_BIG);
	/* A long path is kept to L7_PATH_MAX bytes. */
	n = 0;
	n += (size_t)snprintf(req, sizeof(req), "GET /");
	memset(req + n, 'p', 1000);
	n += 1000;
	n += (size_t)snprintf(req + n, sizeof(req) - n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_int_equal(l7_parse((uint8_t *)req, n, LIMIT, &r), L7_DONE);
	assert_int_equal(r.path_len, L7_PATH_MAX);
	assert_int_equal(strlen(r.path), L7_PATH_MAX);
	/* A host of 255 bytes is kept, 256 is BAD. */
	n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: ");
	memset(req + n, 'h', 256);
	memcpy(req + n + 256, "\r\n\r\n", 5);
	assert_int_equal(parse_str(req, &r), L7_BAD);
	memcpy(req + n + 255, "\r\n\r\n", 5);
	assert_int_equal(parse_str(req, &r), L7_DONE);
	assert_int_equal(r.host_len, 255);
}

/* ---- TLS ---- */

struct hello {
	uint8_t b[4096];
	size_t n;
};

static void
put8(struct hello *h, unsigned int v)
{
	assert_true(h->n < sizeof(h->b));
	h->b[h->n++] = (uint8_t)v;
}

static void
put16(struct hello *h, unsigned int v)
{
	put8(h, v >> 8);
	put8(h, v & 0xff);
}

static void
putn(struct hello *h, const void *p, size_t n)
{
	assert_true(h->n + n <= sizeof(h->b));
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

/*
 * A ClientHello handshake message (no record header) with the server
 * name sni (NULL: no extension) and the ALPN protocols alpn[0..n_alpn)
 * (n_alpn 0: no extension), and a padding extension of pad bytes.
 */
static void
client_hello(struct hello *m, const char *sni, const char *const *alpn,
	     unsigned int n_alpn, size_t pad)
{
	struct hello e = { .n = 0 };
	unsigned int i;
	size_t body;

	m->n = 0;
	/* extensions */
	put16(&e, 0x000a); /* supported_groups */
	put16(&e, 4);
	put16(&e, 2);
	put16(&e, 0x001d);
	if (sni != NULL) {
		size_t l = strlen(sni);

		put16(&e, 0);
		put16(&e, (unsigned int)(l + 5));
		put16(&e, (unsigned int)(l + 3));
		put8(&e, 0);
		put16(&e, (unsigned int)l);
		putn(&e, sni, l);
	}
	if (n_alpn > 0) {
		size_t l = 0;

		for (i = 0; i < n_alpn; i++)
			l += 1 + strlen(alpn[i]);
		put16(&e, 16);
		put16(&e, (unsigned int)(l + 2));
		put16(&e, (unsigned int)l);
		for (i = 0; i < n_alpn; i++) {
			put8(&e, (unsigned int)strlen(alpn[i]));
			putn(&e, alpn[i], strlen(alpn[i]));
		}
	}
	if (pad > 0) {
		put16(&e, 21);
		put16(&e, (unsigned int)pad);
		for (i = 0; i < pad; i++)
			put8(&e, 0);
	}
	body = 2 + 32 + 1 + 32 + 2 + 4 + 2 + 2 + e.n;
	put8(m, 1);
	put8(m, (unsigned int)(body >> 16));
	put16(m, (unsigned int)(body & 0xffff));
	put16(m, 0x0303);
	for (i = 0; i < 32; i++)
		put8(m, i);
	put8(m, 32);
	for (i = 0; i < 32; i++)
		put8(m, 0xa0 + i);
	put16(m, 4);
	put16(m, 0x1301);
	put16(m, 0x1302);
	put8(m, 1);
	put8(m, 0);
	put16(m, (unsigned int)e.n);
	putn(m, e.b, e.n);
}

/* The handshake bytes m in records of at most rec bytes each. */
static void
records(const struct hello *m, size_t rec, struct hello *out)
{
	size_t off, k;

	out->n = 0;
	for (off = 0; off < m->n; off += k) {
		k = m->n - off < rec ? m->n - off : rec;
		put8(out, 22);
		put16(out, off == 0 ? 0x0301 : 0x0303);
		put16(out, (unsigned int)k);
		putn(out, m->b + off, k);
	}
}

static void
test_tls_hello(void **state)
{
	static const char *const alpn[] = { "h2", "http/1.1" };
	struct hello m, rec;
	struct l7_req r;
	size_t sz;

	(void)state;
	client_hello(&m, "WWW.Example.ORG", alpn, 2, 0);
	/* One record, then split into records of 1, 2, 7 and 100 bytes:
	 * every prefix is MORE, the whole DONE, the same answer. */
	for (sz = 0; sz < 5; sz++) {
		static const size_t sizes[] = { 16384, 1, 2, 7, 100 };

		records(&m, sizes[sz], &rec);
		every_prefix(rec.b, rec.n, L7_DONE, &r);
		assert_int_equal(r.kind, L7_TLS);
		assert_string_equal(r.sni, "www.example.org");
		assert_int_equal(r.sni_len, 15);
		assert_int_equal(r.n_alpn, 2);
		assert_string_equal(r.alpn[0], "h2");
		assert_string_equal(r.alpn[1], "http/1.1");
		assert_int_equal(r.host_len, 0);
		assert_int_equal(r.path_len, 0);
	}
	/* No SNI, no ALPN. */
	client_hello(&m, NULL, NULL, 0, 0);
	records(&m, 16384, &rec);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_DONE);
	assert_int_equal(r.sni_len, 0);
	assert_int_equal(r.n_alpn, 0);
	/* More records after it (a second flight) are not looked at. */
	client_hello(&m, "a.example", NULL, 0, 0);
	records(&m, 16384, &rec);
	putn(&rec, "\x17\x03\x03\x00\x01x", 6);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_DONE);
	assert_string_equal(r.sni, "a.example");
}

static void
test_tls_alpn_many(void **state)
{
	static char long_proto[40];
	const char *alpn[12];
	static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g",
		"h", "i", "j" };
	struct hello m, rec;
	struct l7_req r;
	unsigned int i;

	(void)state;
	memset(long_proto, 'z', 32);
	alpn[0] = long_proto;  /* 32 bytes: skipped */
	alpn[1] = "b\x01d"; /* not printable: skipped */
	for (i = 0; i < 10; i++)
		alpn[2 + i] = names[i];
	client_hello(&m, "x", alpn, 12, 0);
	records(&m, 16384, &rec);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_DONE);
	assert_int_equal(r.n_alpn, L7_ALPN_MAX);
	assert_string_equal(r.alpn[0], "a");
	assert_string_equal(r.alpn[7], "h");
}

/* Sets the 16-bit value at off of a record (one record: offsets are
 * those of the handshake + 5). */
static void
set16(struct hello *h, size_t off, unsigned int v)
{
	h->b[off] = (uint8_t)(v >> 8);
	h->b[off + 1] = (uint8_t)v;
}

static void
test_tls_bad(void **state)
{
	struct hello m, rec;
	struct l7_req r;
	/* Offsets in one record: 5 header, 4 handshake header, 2 version,
	 * 32 random, 1+32 session id, 2+4 suites, 1+1 compression, 2
	 * extensions length, then supported_groups (8), then SNI. */
	const size_t ext = 5 + 4 + 2 + 32 + 33 + 6 + 2;
	const size_t sni = ext + 2 + 8;

	(void)state;
	client_hello(&m, "a.example", NULL, 0, 0);
	records(&m, 16384, &rec);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_DONE);

	/* Not a handshake record; SSLv2; a bad record version. */
	rec.b[0] = 23;
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	assert_int_equal(l7_parse(rec.b, 1, LIMIT, &r), L7_BAD);
	rec.b[0] = 22;
	rec.b[1] = 2;
	assert_int_equal(l7_parse(rec.b, 2, LIMIT, &r), L7_BAD);
	rec.b[1] = 3;
	rec.b[2] = 9;
	assert_int_equal(l7_parse(rec.b, 3, LIMIT, &r), L7_BAD);
	rec.b[2] = 1;
	assert_int_equal(l7_parse((const uint8_t *)"\x80\x2e\x01\x03\x01", 5, LIMIT, &r),
			 L7_BAD);
	/* An empty record, an oversized one. */
	assert_int_equal(l7_parse((const uint8_t *)"\x16\x03\x01\x00\x00", 5, LIMIT, &r),
			 L7_BAD);
	assert_int_equal(l7_parse((const uint8_t *)"\x16\x03\x01\x40\x01", 5, LIMIT, &r),
			 L7_BAD);
	/* Not a ClientHello (a ServerHello). */
	rec.b[5] = 2;
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	rec.b[5] = 1;
	/* Extensions length one too many, one too few. */
	set16(&rec, ext, (rec.b[ext] << 8 | rec.b[ext + 1]) + 1);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	set16(&rec, ext, (rec.b[ext] << 8 | rec.b[ext + 1]) - 2);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	set16(&rec, ext, (rec.b[ext] << 8 | rec.b[ext + 1]) + 1);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_DONE);
	/* SNI: list length wrong, name length wrong, bad byte, trailing dot. */
	set16(&rec, sni + 4, 0);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	set16(&rec, sni + 4, 12);
	set16(&rec, sni + 7, 10);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	set16(&rec, sni + 7, 9);
	rec.b[sni + 9] = ' ';
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	rec.b[sni + 9] = 'a';
	rec.b[sni + 9 + 8] = '.';
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	rec.b[sni + 9 + 8] = 'e';
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_DONE);
	/* Two SNI extensions. */
	{
		struct hello m2;
		size_t body, el;

		/* Append a copy of the SNI extension to the extensions. */
		m2 = m;
		el = 4 + 2 + 3 + 9;
		putn(&m2, m.b + (sni - 5), el);
		body = m2.n - 4;
		m2.b[1] = (uint8_t)(body >> 16);
		m2.b[2] = (uint8_t)(body >> 8);
		m2.b[3] = (uint8_t)body;
		set16(&m2, ext - 5, (m2.b[ext - 5] << 8 | m2.b[ext - 4]) + el);
		records(&m2, 16384, &rec);
		assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	}
	/* A handshake length that cannot fit the limit: TOO_BIG at once. */
	client_hello(&m, "a.example", NULL, 0, 0);
	records(&m, 16384, &rec);
	assert_int_equal(l7_parse(rec.b, 9, rec.n - 1, &r), L7_TOO_BIG);
	assert_int_equal(l7_parse(rec.b, 9, rec.n, &r), L7_MORE);
	/* A session id longer than 32. */
	rec.b[5 + 4 + 2 + 32] = 33;
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
	/* An odd cipher suites length. */
	rec.b[5 + 4 + 2 + 32] = 32;
	set16(&rec, 5 + 4 + 2 + 32 + 33, 3);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_BAD);
}

static void
test_tls_limits(void **state)
{
	struct hello m, rec;
	struct l7_req r;

	(void)state;
	/* A ClientHello with a large padding, over 3 records. */
	client_hello(&m, "pad.example", NULL, 0, 3000);
	records(&m, 1200, &rec);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_DONE);
	assert_string_equal(r.sni, "pad.example");
	assert_int_equal(l7_parse(rec.b, rec.n, rec.n, &r), L7_DONE);
	/* Its record headers make it longer than the handshake alone:
	 * a limit between the two is TOO_BIG once the bytes run out. */
	assert_int_equal(l7_parse(rec.b, rec.n - 10, rec.n - 10, &r), L7_TOO_BIG);
	assert_int_equal(l7_parse(rec.b, rec.n - 10, rec.n, &r), L7_MORE);
}

/* ---- l7_match ---- */

static struct cfg_l7 *
rules(void)
{
	struct cfg_l7 *l = calloc(1, sizeof(*l));
	static const struct { uint8_t kind; const char *name, *path, *alpn;
			      uint8_t pool; } t[] = {
		{ L7_HTTP, "api.example.com", "/v1", "", 0 },
		{ L7_HTTP, "*.example.com", "", "", 1 },
		{ L7_HTTP, "", "/static/", "", 2 },
		{ L7_TLS, "*.example.org", "", "h2", 3 },
		{ L7_TLS, "*.example.org", "", "", 4 },
		{ L7_TLS, "exact.example.net", "", "", 5 },
	};
	unsigned int i;

	assert_non_null(l);
	l->has = true;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cfg_l7_rule *r = &l->rules[i];

		r->kind = t[i].kind;
		snprintf(r->name, sizeof(r->name), "%s", t[i].name);
		snprintf(r->path, sizeof(r->path), "%s", t[i].path);
		snprintf(r->alpn, sizeof(r->alpn), "%s", t[i].alpn);
		r->pool = t[i].pool;
	}
	l->n_rules = i;
	l->n_pools = 7;
	l->default_pool = 6;
	return l;
}

static int
match_http(const struct cfg_l7 *l, const char *req)
{
	struct l7_req r;

	assert_int_equal(parse_str(req, &r), L7_DONE);
	return l7_match(l, &r);
}

static int
match_tls(const struct cfg_l7 *l, const char *sni, const char *alpn)
{
	const char *a[1] = { alpn };
	struct hello m, rec;
	struct l7_req r;

	client_hello(&m, sni, a, alpn != NULL, 0);
	records(&m, 16384, &rec);
	assert_int_equal(l7_parse(rec.b, rec.n, LIMIT, &r), L7_DONE);
	return l7_match(l, &r);
}

static void
test_match(void **state)
{
	struct cfg_l7 *l = rules();

	(void)state;
	/* In order: host and path both, then the wildcard. */
	assert_int_equal(match_http(l, "GET /v1/x HTTP/1.1\r\nHost: API.example.com\r\n\r\n"), 0);
	assert_int_equal(match_http(l, "GET /v2 HTTP/1.1\r\nHost: api.example.com\r\n\r\n"), 1);
	assert_int_equal(match_http(l, "GET /v1 HTTP/1.1\r\nHost: a.b.example.com:80\r\n\r\n"), 1);
	/* The wildcard wants a label before the suffix. */
	assert_int_equal(match_http(l, "GET /v1 HTTP/1.1\r\nHost: example.com\r\n\r\n"), 6);
	assert_int_equal(match_http(l, "GET / HTTP/1.1\r\nHost: xexample.com\r\n\r\n"), 6);
	/* Path only; a path rule is a byte prefix, case-sensitive. */
	assert_int_equal(match_http(l, "GET /static/a.css HTTP/1.1\r\nHost: other\r\n\r\n"), 2);
	assert_int_equal(match_http(l, "GET /Static/a.css HTTP/1.1\r\nHost: other\r\n\r\n"), 6);
	assert_int_equal(match_http(l, "GET /static HTTP/1.0\r\n\r\n"), 6);
	/* A host rule never matches a request without a host. */
	assert_int_equal(match_http(l, "GET /v1 HTTP/1.0\r\n\r\n"), 6);
	/* TLS: sni and alpn; rules of HTTP never match TLS and back. */
	assert_int_equal(match_tls(l, "www.example.org", "h2"), 3);
	assert_int_equal(match_tls(l, "www.example.org", "http/1.1"), 4);
	assert_int_equal(match_tls(l, "www.example.org", NULL), 4);
	assert_int_equal(match_tls(l, "EXACT.example.net", NULL), 5);
	assert_int_equal(match_tls(l, "a.exact.example.net", NULL), 6);
	assert_int_equal(match_tls(l, "api.example.com", NULL), 6);
	assert_int_equal(match_tls(l, NULL, "h2"), 6);
	/* No default: -1. */
	l->default_pool = -1;
	assert_int_equal(match_tls(l, NULL, NULL), -1);
	assert_int_equal(match_http(l, "GET / HTTP/1.1\r\nHost: none\r\n\r\n"), -1);
	/* A rule with no keys of its kind matches every request of it. */
	l->rules[l->n_rules].kind = L7_TLS;
	l->rules[l->n_rules].pool = 2;
	l->n_rules++;
	assert_int_equal(match_tls(l, NULL, NULL), 2);
	assert_int_equal(l7_match(NULL, NULL), -1);
	free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_origin),
		cmocka_unit_test(test_http_forms),
		cmocka_unit_test(test_http_bad),
		cmocka_unit_test(test_http_limits),
		cmocka_unit_test(test_tls_hello),
		cmocka_unit_test(test_tls_alpn_many),
		cmocka_unit_test(test_tls_bad),
		cmocka_unit_test(test_tls_limits),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
