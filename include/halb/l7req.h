/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request parser and the request rules of a request-routed service
 * (issue #14, docs/CONFIG.md "requests"): what the request router reads
 * from the first bytes a client sends, and which pool that names.
 *
 * l7_parse() reads the start of a connection's byte stream: an HTTP/1.0
 * or HTTP/1.1 request line and header section (the method, the target's
 * path and the Host), or a TLS ClientHello, possibly over several TLS
 * records (its server_name host_name and its ALPN protocol list).  It
 * is pure: no allocation, no state between calls, no library call that
 * may block, time linear in min(len, limit).  It keeps no state, so a
 * caller that buffers a request split over segments calls it again with
 * all the bytes so far (segments in order) until it stops saying MORE.
 *
 * l7_match() applies a service's rules (struct cfg_l7, halb/cfg-t.h)
 * to a parsed request, in order.  Both are in libhalb_core: no DPDK.
 */
#ifndef HALB_L7REQ_H
#define HALB_L7REQ_H

#include <stddef.h>
#include <stdint.h>

struct cfg_l7;

enum l7_kind { L7_HTTP = 1, L7_TLS = 2 };
enum l7_status { L7_MORE = 0, L7_DONE = 1, L7_BAD = -1, L7_TOO_BIG = -2 };

#define L7_HOST_MAX 255  /* bytes of host and sni, without the NUL */
#define L7_PATH_MAX 511  /* bytes of path kept, without the NUL */
#define L7_ALPN_MAX 8    /* ALPN protocols kept */
#define L7_ALPN_LEN 31   /* bytes of one, without the NUL */

/*
 * A parsed request.  Every string is NUL-terminated and its length is
 * beside it; 0 when absent.
 *  - HTTP: host is the Host header's value (or the authority of an
 *    absolute-form target, which then wins, RFC 9112 3.2.2) in lower
 *    case, the port and one trailing dot removed; an IPv6 literal keeps
 *    its brackets ("[fd00::1]").  path is the target's path without the
 *    query (absolute-form: the part after the authority, "/" when
 *    empty; asterisk-form: "*"), not decoded, its first L7_PATH_MAX
 *    bytes when longer.  sni and alpn are empty.
 *  - TLS: sni is the first host_name of the server_name extension, in
 *    lower case; alpn[] the first L7_ALPN_MAX protocols of the ALPN
 *    extension that are at most L7_ALPN_LEN bytes of printable ASCII
 *    (others, which no rule can name, are skipped), in the client's
 *    order.  host and path are empty.
 */
struct l7_req {
	uint8_t kind;          /* enum l7_kind */
	char host[256];
	uint16_t host_len;
	char path[512];
	uint16_t path_len;
	char sni[256];
	uint16_t sni_len;
	char alpn[8][32];
	uint8_t n_alpn;
};

/*
 * buf holds the first len bytes the client sent (all segments so far, in
 * order); limit is the most bytes the rules may read (max_request).
 * Returns:
 *  - L7_MORE: the bytes so far are the start of a valid request; more
 *    are needed (and len < limit).
 *  - L7_DONE: *out is filled; the request (its header section, or the
 *    whole ClientHello) ends within min(len, limit).  Bytes after it
 *    (a body, more TLS records) are not looked at.
 *  - L7_BAD: not HTTP/1.x or a TLS ClientHello, or malformed: a bad
 *    request line, method or version, header folding (obs-fold), a
 *    header name that is not a token or is followed by white space,
 *    a bare CR, no Host in HTTP/1.1 or more than one Host, a bad host;
 *    a TLS record that is not a handshake, a first handshake message
 *    that is not a ClientHello, lengths that do not add up, a repeated
 *    or malformed server_name or ALPN extension.  Decided as early as
 *    the bytes allow.
 *  - L7_TOO_BIG: no complete request within limit bytes (len >= limit,
 *    or a ClientHello whose own length says it cannot fit).
 * *out is meaningful only after L7_DONE.  buf may be NULL when len is 0.
 */
int l7_parse(const uint8_t *buf, size_t len, size_t limit, struct l7_req *out);

/*
 * The pool (an index in rules->pools) of the first rule that matches
 * req, else rules->default_pool, which is -1 when the service has none
 * (then rules->no_match says what the client gets).  A rule matches when
 * every key it has matches: host (HTTP; exact, or "*.suffix": any name
 * ending in ".suffix" with at least one byte before it; case-insensitive)
 * and path (HTTP; a byte prefix of the path), or sni (TLS; as host) and
 * alpn (TLS; one of the client's protocols, exactly).  A rule of one
 * kind never matches a request of the other.  rules NULL or req NULL:
 * -1.
 */
int l7_match(const struct cfg_l7 *rules, const struct l7_req *req);

#endif
