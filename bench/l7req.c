/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-l7req: the request router's parser and rules on one core
 * (src/core/l7req.c; no DPDK, no I/O): requests parsed per second and
 * nanoseconds per request for
 *
 *  http        a curl request (79 bytes) in one segment;
 *  http-big    a browser's request (about 520 bytes: cookies, accept
 *              lists) in one segment;
 *  http-split  the browser's request in two segments, parsed as the
 *              router does: the first (MORE), then both (DONE);
 *  tls         a ClientHello as a browser sends it (517 bytes with its
 *              padding; SNI, ALPN h2 and http/1.1) in one record;
 *  tls-records the same ClientHello in records of 100 bytes;
 *  match       l7_match() of a parsed request against 32 rules that it
 *              misses but for the last (the worst order).
 *
 * Each figure is the median over --rounds rounds of --n calls; a round
 * reads the clock once at each end.  Output: one "RESULT {json}" line
 * per figure.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/cfg-t.h"
#include "halb/l7req.h"
#include "stats.h"

#define MAX_ROUNDS 64u
#define LIMIT 8192

static const char http_small[] =
	"GET /v1/users HTTP/1.1\r\nHost: api.example.com\r\n"
	"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

static const char http_big[] =
	"GET /static/app/main.3f2a9c.js?v=1 HTTP/1.1\r\n"
	"Host: www.example.com\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0\r\n"
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
	"Accept-Language: en-US,en;q=0.5\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Referer: https://www.example.com/index.html\r\n"
	"Connection: keep-alive\r\n"
	"Cookie: session=4f1c2a9e8b7d6c5a4f3e2d1c0b9a8f7e; theme=dark; consent=1\r\n"
	"Upgrade-Insecure-Requests: 1\r\n"
	"Sec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n\r\n";

struct buf {
	uint8_t b[2048];
	size_t n;
};

static void
put(struct buf *o, const void *p, size_t n)
{
	if (o->n + n > sizeof(o->b))
		abort();
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void
put16(struct buf *o, unsigned int v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(o, b, 2);
}

/* A ClientHello of 512 bytes of handshake, a browser's size (RFC 7685
 * padding brings them there): SNI, ALPN, groups, versions, padding. */
static void
client_hello(struct buf *hs)
{
	static const char sni[] = "www.example.org";
	static const uint8_t alpn[] = { 0x00, 0x0c, 2, 'h', '2', 8, 'h', 't', 't',
					'p', '/', '1', '.', '1' };
	struct buf e = { .n = 0 }, body = { .n = 0 };
	uint8_t rnd[32];
	size_t pad;
	unsigned int i;

	for (i = 0; i < 32; i++)
		rnd[i] = (uint8_t)(i * 7);
	put16(&e, 0);                       /* server_name */
	put16(&e, (unsigned int)(strlen(sni) + 5));
	put16(&e, (unsigned int)(strlen(sni) + 3));
	put(&e, "\0", 1);
	put16(&e, (unsigned int)strlen(sni));
	put(&e, sni, strlen(sni));
	put16(&e, 16);                      /* ALPN */
	put16(&e, sizeof(alpn));
	put(&e, alpn, sizeof(alpn));
	put16(&e, 10);                      /* supported_groups */
	put16(&e, 8);
	put16(&e, 6);
	put16(&e, 0x001d);
	put16(&e, 0x0017);
	put16(&e, 0x0018);
	put16(&e, 43);                      /* supported_versions */
	put16(&e, 5);
	put(&e, "\x04\x03\x04\x03\x03", 5);
	put16(&body, 0x0303);
	put(&body, rnd, 32);
	put(&body, "\x20", 1);
	put(&body, rnd, 32);
	put16(&body, 32);                   /* 16 cipher suites */
	for (i = 0; i < 16; i++)
		put16(&body, 0x1301 + i);
	put(&body, "\x01\x00", 2);
	/* Padding: the handshake body to 508 bytes (512 with its header). */
	pad = 508 - body.n - 2 - e.n - 4;
	put16(&e, 21);
	put16(&e, (unsigned int)pad);
	for (i = 0; i < pad; i++)
		put(&e, "\0", 1);
	put16(&body, (unsigned int)e.n);
	put(&body, e.b, e.n);
	hs->n = 0;
	put(hs, "\x01\x00", 2);
	put16(hs, (unsigned int)body.n);
	put(hs, body.b, body.n);
}

static void
records(const struct buf *hs, size_t rec, struct buf *out)
{
	size_t off, k;

	out->n = 0;
	for (off = 0; off < hs->n; off += k) {
		k = hs->n - off < rec ? hs->n - off : rec;
		put(out, "\x16\x03\x01", 3);
		put16(out, (unsigned int)k);
		put(out, hs->b + off, k);
	}
}

static volatile int sink;

/* Median ns per call of one figure; every call must give want. */
static double
measure(const uint8_t *p, size_t n, size_t split, uint32_t calls,
	uint32_t rounds, int want)
{
	double ns[MAX_ROUNDS];
	struct l7_req r;
	uint32_t k, i;

	for (k = 0; k < rounds; k++) {
		double t0 = now_s();

		for (i = 0; i < calls; i++) {
			int rc = 0;

			if (split != 0)
				rc = l7_parse(p, split, LIMIT, &r);
			rc += l7_parse(p, n, LIMIT, &r);
			if (rc != want)
				abort();
			sink += r.host_len;
		}
		ns[k] = (now_s() - t0) * 1e9 / calls;
	}
	return median(ns, rounds);
}

static void
report(const char *what, size_t bytes, double ns)
{
	printf("RESULT {\"what\": \"%s\", \"bytes\": %zu, \"ns\": %.1f, "
	       "\"per_s\": %.0f}\n", what, bytes, ns, 1e9 / ns);
}

static double
measure_match(uint32_t calls, uint32_t rounds)
{
	static struct cfg_l7 l7;
	double ns[MAX_ROUNDS];
	struct l7_req r;
	uint32_t k, i;

	for (i = 0; i < CFG_L7_MAX_RULES; i++) {
		l7.rules[i].kind = L7_HTTP;
		snprintf(l7.rules[i].name, sizeof(l7.rules[i].name),
			 "*.app%u.example.com", i);
		snprintf(l7.rules[i].path, sizeof(l7.rules[i].path), "/v%u/", i);
	}
	/* The last one matches. */
	snprintf(l7.rules[i - 1].name, sizeof(l7.rules[i - 1].name), "*.example.com");
	snprintf(l7.rules[i - 1].path, sizeof(l7.rules[i - 1].path), "/static/");
	l7.rules[i - 1].pool = 1;
	l7.n_rules = CFG_L7_MAX_RULES;
	l7.default_pool = 0;
	if (l7_parse((const uint8_t *)http_big, strlen(http_big), LIMIT, &r) != L7_DONE)
		abort();
	for (k = 0; k < rounds; k++) {
		double t0 = now_s();

		for (i = 0; i < calls; i++) {
			if (l7_match(&l7, &r) != 1)
				abort();
			sink++;
		}
		ns[k] = (now_s() - t0) * 1e9 / calls;
	}
	return median(ns, rounds);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "n", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t calls = 200000, rounds = 9;
	struct buf hs, one, many;
	size_t big = strlen(http_big);
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'n')
			calls = (uint32_t)strtoul(optarg, NULL, 10);
		else if (o == 'r')
			rounds = (uint32_t)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (calls == 0 || rounds == 0 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: %s [--n CALLS] [--rounds 1..%u]\n", argv[0],
			MAX_ROUNDS);
		return 2;
	}
	client_hello(&hs);
	records(&hs, 16384, &one);
	records(&hs, 100, &many);

	report("http", strlen(http_small),
	       measure((const uint8_t *)http_small, strlen(http_small), 0, calls,
		       rounds, L7_DONE));
	report("http-big", big,
	       measure((const uint8_t *)http_big, big, 0, calls, rounds, L7_DONE));
	/* MORE (0) then DONE (1). */
	report("http-split", big,
	       measure((const uint8_t *)http_big, big, big / 2, calls, rounds,
		       L7_DONE));
	report("tls", one.n, measure(one.b, one.n, 0, calls, rounds, L7_DONE));
	report("tls-records", many.n,
	       measure(many.b, many.n, 0, calls, rounds, L7_DONE));
	report("match", 0, measure_match(calls, rounds));
	return 0;
}
