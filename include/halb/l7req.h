/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request parser and the rules (src/core/l7req.c, branch h-l7p):
 * the API the request router codes against.  Placeholder of the
 * interface agreed in issue #14 until h-l7p is merged; h-l7p's header
 * replaces this one.
 */
#ifndef HALB_L7REQ_H
#define HALB_L7REQ_H

#include <stddef.h>
#include <stdint.h>

struct cfg_l7;

enum l7_kind { L7_HTTP = 1, L7_TLS = 2 };
enum l7_status { L7_MORE = 0, L7_DONE = 1, L7_BAD = -1, L7_TOO_BIG = -2 };

struct l7_req {
	uint8_t kind;
	char host[256];
	uint16_t host_len;
	char path[512];
	uint16_t path_len;
	char sni[256];
	uint16_t sni_len;
	char alpn[8][32];
	uint8_t n_alpn;
};

int l7_parse(const uint8_t *buf, size_t len, size_t limit, struct l7_req *out);
int l7_match(const struct cfg_l7 *rules, const struct l7_req *req);

#endif
