/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request parser and the request rules (halb/l7req.h): bytes a client
 * sent, untrusted, into a struct l7_req, and a service's rules applied to
 * it.
 *
 * The parser keeps no state: each call reads buf from its start, within
 * n = min(len, limit) bytes, and never reads a byte past n.  Running out
 * of bytes before the end of the request is MORE when len < limit and
 * TOO_BIG otherwise; anything that cannot start or continue a valid
 * request is BAD at once.  HTTP is read line by line (RFC 9112 2-5);
 * TLS through a cursor that walks the handshake bytes across record
 * boundaries without copying them (RFC 8446 5.1, 4.1.2; RFC 6066 3;
 * RFC 7301 3.1), so that a ClientHello split over records or segments
 * costs nothing more.  Fuzzed: tests/fuzz/fuzz_l7req.c.
 */
#include <stdbool.h>
#include <string.h>

#include "halb/cfg-t.h"
#include "halb/l7req.h"

/* ---- shared ---- */

static inline char
lower(uint8_t c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/*
 * What each byte may be, one table read per byte:
 *  CH_TCHAR  a token's (RFC 9110 5.6.2): methods, header names;
 *  CH_REG    a host's (RFC 3986 reg-name: unreserved, pct-encoded,
 *            sub-delims);
 *  CH_VALUE  a header value's (RFC 9110 5.5: VCHAR, obs-text, SP, HTAB);
 *  CH_TARGET a request target's (VCHAR).
 */
enum { CH_TCHAR = 1, CH_REG = 2, CH_VALUE = 4, CH_TARGET = 8 };

static const uint8_t ch_class[256] = {
	/* 00 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  4,  0,  0,  0,  0,  0,  0,
	/* 10 */  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	/* 20 */  4, 15, 12, 13, 15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 12,
	/* 30 */ 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 12, 14, 12, 14, 12, 12,
	/* 40 */ 12, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	/* 50 */ 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 12, 12, 12, 13, 15,
	/* 60 */ 13, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
	/* 70 */ 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 12, 13, 12, 15,  0,
	/* 80 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* 90 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* a0 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* b0 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* c0 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* d0 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* e0 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
	/* f0 */  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
};

static inline bool
is_tchar(uint8_t c)
{
	return (ch_class[c] & CH_TCHAR) != 0;
}

static inline bool
is_regname(uint8_t c)
{
	return (ch_class[c] & CH_REG) != 0;
}

/*
 * Checks and keeps a host of n bytes (an authority without userinfo:
 * reg-name, IPv4 or "[IPv6]", then ":port" or ":"), lower-cased, port and
 * one trailing dot removed, into out.  Returns false when it is not one.
 */
static bool
keep_host(const uint8_t *p, size_t n, char out[256], uint16_t *out_len)
{
	size_t i, end = n, k = 0;

	if (n > 0 && p[0] == '[') {
		/* An IP literal: hex digits, ':' and '.' (an embedded IPv4);
		 * the IPvFuture form is refused. */
		for (i = 1; i < n && p[i] != ']'; i++)
			if (!((p[i] >= '0' && p[i] <= '9') ||
			      (lower(p[i]) >= 'a' && lower(p[i]) <= 'f') ||
			      p[i] == ':' || p[i] == '.'))
				return false;
		if (i == n || i == 1)
			return false;
		end = i + 1;
	} else {
		for (i = 0; i < n && p[i] != ':'; i++)
			if (!is_regname(p[i]))
				return false;
		end = i;
	}
	/* What follows the host: nothing, or ':' and digits (may be
	 * none, RFC 3986 3.2.3), at most 5. */
	if (end < n) {
		if (p[end] != ':' || n - end - 1 > 5)
			return false;
		for (i = end + 1; i < n; i++)
			if (p[i] < '0' || p[i] > '9')
				return false;
	}
	if (end > 0 && p[end - 1] == '.' && p[0] != '[')
		end--;
	if (end > L7_HOST_MAX)
		return false;
	for (k = 0; k < end; k++)
		out[k] = lower(p[k]);
	out[k] = '\0';
	*out_len = (uint16_t)k;
	return true;
}

/* ---- HTTP/1.x ---- */

#define HTTP_METHOD_MAX 32

/* What the HTTP reader found so far. */
struct http_st {
	const uint8_t *p;
	size_t n;          /* bytes readable */
	size_t line;       /* start of the next line */
	bool host_seen;
	bool target_host;  /* absolute-form: the target's authority is host */
};

/*
 * The end of the line that starts at st->line: the index of its LF,
 * *eol_len set to 1 or 2 (CRLF); -1 (L7_MORE) when there is no LF yet.
 * Any other CR or a NUL in the line is left to the line's own checks,
 * which refuse every control byte.
 */
static long
http_line(const struct http_st *st, size_t *eol_len)
{
	const uint8_t *lf;

	if (st->line >= st->n)
		return -1;
	lf = memchr(st->p + st->line, '\n', st->n - st->line);
	if (lf == NULL)
		return -1;
	*eol_len = lf > st->p + st->line && lf[-1] == '\r' ? 2 : 1;
	return (long)(lf - st->p);
}

/* Keeps the path of an origin-form target p[0..n) ("/..."): up to the
 * query, at most L7_PATH_MAX bytes. */
static void
keep_path(const uint8_t *p, size_t n, struct l7_req *out)
{
	size_t k;

	for (k = 0; k < n && p[k] != '?' && p[k] != '#' && k < L7_PATH_MAX; k++)
		out->path[k] = (char)p[k];
	out->path[k] = '\0';
	out->path_len = (uint16_t)k;
}

/* The request target t[0..n): origin-form, absolute-form (http or https),
 * or "*".  Authority-form (CONNECT) is refused: halb is not a proxy. */
static bool
http_target(struct http_st *st, const uint8_t *t, size_t n, struct l7_req *out)
{
	static const char *const schemes[] = { "http://", "https://" };
	size_t i, j, a;

	if (n == 1 && t[0] == '*') {
		out->path[0] = '*';
		out->path[1] = '\0';
		out->path_len = 1;
		return true;
	}
	for (i = 0; i < n; i++)
		if ((ch_class[t[i]] & CH_TARGET) == 0)
			return false;
	if (t[0] == '/') {
		keep_path(t, n, out);
		return true;
	}
	for (i = 0; i < 2; i++) {
		size_t sl = strlen(schemes[i]);

		if (n < sl)
			continue;
		for (j = 0; j < sl && lower(t[j]) == schemes[i][j]; j++)
			;
		if (j < sl)
			continue;
		/* The authority: up to '/', '?' or '#'; no userinfo. */
		for (a = sl; a < n && t[a] != '/' && t[a] != '?' && t[a] != '#'; a++)
			if (t[a] == '@')
				return false;
		if (a == sl || !keep_host(t + sl, a - sl, out->host, &out->host_len) ||
		    out->host_len == 0)
			return false;
		st->target_host = true;
		if (a < n && t[a] == '/') {
			keep_path(t + a, n - a, out);
		} else {
			out->path[0] = '/';
			out->path[1] = '\0';
			out->path_len = 1;
		}
		return true;
	}
	return false;
}

/*
 * The request line up to n bytes of p (complete or not): a method of
 * tchars, SP, the target, SP, "HTTP/1.0" or "HTTP/1.1".  On a complete
 * line (eol >= 0) fills out; on an incomplete one only checks what is
 * there so that garbage is BAD early.  Sets *v11.
 */
static int
http_request_line(struct http_st *st, long eol, size_t eol_len,
		  struct l7_req *out, bool *v11)
{
	static const char ver[] = "HTTP/1.";
	const uint8_t *p = st->p;
	size_t end = eol >= 0 ? (size_t)eol + 1 - eol_len : st->n;
	size_t i, sp1, sp2, k;

	/* A line cut between its CR and its LF. */
	if (eol < 0 && end > 0 && p[end - 1] == '\r')
		end--;

	for (i = 0; i < end && is_tchar(p[i]); i++)
		if (i >= HTTP_METHOD_MAX)
			return L7_BAD;
	if (i == end)
		return eol >= 0 ? L7_BAD : L7_MORE;
	if (p[i] != ' ' || i == 0)
		return L7_BAD;
	sp1 = i;
	for (i = sp1 + 1; i < end && p[i] != ' '; i++)
		if ((ch_class[p[i]] & CH_TARGET) == 0)
			return L7_BAD;
	if (i == end)
		return eol >= 0 ? L7_BAD : L7_MORE;
	sp2 = i;
	if (sp2 == sp1 + 1)
		return L7_BAD;
	/* The version, as far as it goes. */
	for (k = 0; sp2 + 1 + k < end && k < sizeof(ver) - 1; k++)
		if (p[sp2 + 1 + k] != (uint8_t)ver[k])
			return L7_BAD;
	if (sp2 + 1 + k < end) {
		uint8_t minor = p[sp2 + 1 + k];

		if ((minor != '0' && minor != '1') || end != sp2 + 1 + k + 1)
			return L7_BAD;
		*v11 = minor == '1';
	} else if (eol >= 0) {
		return L7_BAD;
	}
	if (eol < 0)
		return L7_MORE;
	if (!http_target(st, p + sp1 + 1, sp2 - sp1 - 1, out))
		return L7_BAD;
	return L7_DONE;
}

/*
 * One header line p[0..n) (no line end): a token name, ':', the value
 * with optional white space around it.  Keeps Host.  Folding (a line
 * starting with white space) and white space before ':' are BAD
 * (RFC 9112 5.1, 5.2).
 */
static int
http_header(struct http_st *st, const uint8_t *p, size_t n, struct l7_req *out)
{
	size_t i, v, e;

	if (n == 0 || p[0] == ' ' || p[0] == '\t')
		return L7_BAD;
	for (i = 0; i < n && is_tchar(p[i]); i++)
		;
	if (i == 0 || i == n || p[i] != ':')
		return L7_BAD;
	for (v = i + 1; v < n && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	for (e = n; e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'); e--)
		;
	for (size_t j = v; j < e; j++)
		if ((ch_class[p[j]] & CH_VALUE) == 0)
			return L7_BAD; /* a control byte: CR, NUL, ... */
	if (i != 4 || lower(p[0]) != 'h' || lower(p[1]) != 'o' ||
	    lower(p[2]) != 's' || lower(p[3]) != 't')
		return L7_MORE; /* not Host: carry on */
	if (st->host_seen)
		return L7_BAD;  /* two Hosts: which one the backend takes is
				 * anyone's guess (RFC 9112 3.2) */
	st->host_seen = true;
	if (st->target_host) {
		/* The absolute-form's authority wins; the Host must still
		 * be one. */
		char tmp[256];
		uint16_t tl;

		return keep_host(p + v, e - v, tmp, &tl) ? L7_MORE : L7_BAD;
	}
	return keep_host(p + v, e - v, out->host, &out->host_len) ? L7_MORE : L7_BAD;
}

static int
http_parse(const uint8_t *buf, size_t n, bool at_limit, struct l7_req *out)
{
	struct http_st st = { .p = buf, .n = n };
	bool v11 = false;
	size_t eol_len = 0;
	long eol;
	int rc;

	out->kind = L7_HTTP;
	eol = http_line(&st, &eol_len);
	rc = http_request_line(&st, eol, eol_len, out, &v11);
	if (rc != L7_DONE)
		return rc == L7_MORE && at_limit ? L7_TOO_BIG : rc;
	st.line = (size_t)eol + 1;
	for (;;) {
		size_t start = st.line;

		eol = http_line(&st, &eol_len);
		if (eol == -1) {
			/* Check the partial line as far as it goes: a
			 * folded line or a bad name is BAD already. */
			if (start < n && (buf[start] == ' ' || buf[start] == '\t'))
				return L7_BAD;
			for (size_t i = start; i < n && buf[i] != ':' && buf[i] != '\r'; i++)
				if (!is_tchar(buf[i]))
					return L7_BAD;
			return at_limit ? L7_TOO_BIG : L7_MORE;
		}
		st.line = (size_t)eol + 1;
		if ((size_t)eol + 1 - eol_len == start)
			break; /* the empty line: the end of the header section */
		rc = http_header(&st, buf + start, (size_t)eol + 1 - eol_len - start, out);
		if (rc == L7_BAD)
			return rc;
	}
	/* HTTP/1.1 needs a Host (RFC 9112 3.2); HTTP/1.0 may have none. */
	if (v11 && !st.host_seen)
		return L7_BAD;
	return L7_DONE;
}

/* ---- TLS ---- */

#define TLS_REC_HDR 5
#define TLS_REC_MAX 16384       /* TLSPlaintext.length (RFC 8446 5.1) */
#define TLS_CT_HANDSHAKE 22
#define TLS_HS_CLIENT_HELLO 1
#define TLS_EXT_SNI 0
#define TLS_EXT_ALPN 16

/*
 * A cursor over the handshake bytes of the records in p[0..n): the
 * fragments of consecutive handshake records, read in order as one
 * stream.  rc is why a read stopped: TLS_STOP_MORE (bytes missing) or
 * TLS_STOP_BAD (a record that is not a handshake, a malformed extension);
 * once set, every later read fails too.
 */
enum { TLS_STOP_MORE = 1, TLS_STOP_BAD = 2 };

struct tls_cur {
	const uint8_t *p;
	size_t n;
	size_t pos;      /* next byte of p */
	size_t rec_left; /* handshake bytes left in the current record */
	int rc;          /* 0, or TLS_STOP_* */
};

/* Moves to the next record when the current one is done. */
static bool
tls_next_rec(struct tls_cur *c)
{
	size_t rlen;

	if (c->rc != 0)
		return false;
	while (c->rec_left == 0) {
		/* Check what there is of the header before waiting. */
		if (c->pos < c->n && c->p[c->pos] != TLS_CT_HANDSHAKE)
			goto bad;
		if (c->pos + 1 < c->n && c->p[c->pos + 1] != 3)
			goto bad;
		if (c->pos + 2 < c->n && c->p[c->pos + 2] > 4)
			goto bad;
		if (c->pos + TLS_REC_HDR > c->n) {
			c->rc = TLS_STOP_MORE;
			return false;
		}
		rlen = (size_t)c->p[c->pos + 3] << 8 | c->p[c->pos + 4];
		/* Handshake records are never empty (RFC 8446 5.1). */
		if (rlen == 0 || rlen > TLS_REC_MAX)
			goto bad;
		c->pos += TLS_REC_HDR;
		c->rec_left = rlen;
	}
	return true;
bad:
	c->rc = TLS_STOP_BAD;
	return false;
}

/* Reads len bytes into dst (NULL: skips them). */
static bool
tls_read(struct tls_cur *c, uint8_t *dst, size_t len)
{
	while (len > 0) {
		size_t k;

		if (!tls_next_rec(c))
			return false;
		k = len < c->rec_left ? len : c->rec_left;
		if (c->pos + k > c->n)
			k = c->n - c->pos;
		if (k == 0) {
			c->rc = TLS_STOP_MORE;
			return false;
		}
		if (dst != NULL) {
			memcpy(dst, c->p + c->pos, k);
			dst += k;
		}
		c->pos += k;
		c->rec_left -= k;
		len -= k;
	}
	return true;
}

/* One and two bytes: straight from the record when they are in it (the
 * common case), else through tls_read() across the boundary. */
static inline bool
tls_u8(struct tls_cur *c, size_t *v)
{
	uint8_t b[1];

	if (c->rec_left >= 1 && c->pos + 1 <= c->n && c->rc == 0) {
		*v = c->p[c->pos];
		c->pos++;
		c->rec_left--;
		return true;
	}
	if (!tls_read(c, b, 1))
		return false;
	*v = b[0];
	return true;
}

static inline bool
tls_u16(struct tls_cur *c, size_t *v)
{
	uint8_t b[2];

	if (c->rec_left >= 2 && c->pos + 2 <= c->n && c->rc == 0) {
		*v = (size_t)c->p[c->pos] << 8 | c->p[c->pos + 1];
		c->pos += 2;
		c->rec_left -= 2;
		return true;
	}
	if (!tls_read(c, b, 2))
		return false;
	*v = (size_t)b[0] << 8 | b[1];
	return true;
}

/*
 * The server_name extension of len bytes (RFC 6066 3): a list of
 * (name_type, name); the first host_name is kept, lower case.  A host
 * name is letters, digits, '-', '_' and '.', at most L7_HOST_MAX bytes,
 * without a trailing dot.  Returns false when the read stopped (c->rc)
 * or the extension is malformed (c->rc = BAD).
 */
static bool
tls_sni(struct tls_cur *c, size_t len, struct l7_req *out)
{
	size_t list, type, nlen, i;
	uint8_t name[L7_HOST_MAX];

	if (len < 2 || !tls_u16(c, &list))
		goto fail;
	if (list + 2 != len || list == 0)
		goto bad;
	while (list > 0) {
		if (list < 3 || !tls_u8(c, &type) || !tls_u16(c, &nlen))
			goto fail;
		if (nlen + 3 > list || nlen == 0)
			goto bad;
		list -= 3 + nlen;
		if (type != 0 || out->sni_len != 0) {
			if (!tls_read(c, NULL, nlen))
				return false;
			continue;
		}
		if (nlen > L7_HOST_MAX)
			goto bad;
		if (!tls_read(c, name, nlen))
			return false;
		for (i = 0; i < nlen; i++) {
			uint8_t b = name[i];

			if (!((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') ||
			      (b >= 'A' && b <= 'Z') || b == '-' || b == '_' ||
			      b == '.'))
				goto bad;
			out->sni[i] = lower(b);
		}
		if (name[nlen - 1] == '.')
			goto bad;
		out->sni[nlen] = '\0';
		out->sni_len = (uint16_t)nlen;
	}
	return true;
fail:
	if (c->rc != 0)
		return false;
bad:
	c->rc = TLS_STOP_BAD;
	return false;
}

/* The ALPN extension of len bytes (RFC 7301 3.1): a list of non-empty
 * protocol names; the first L7_ALPN_MAX that fit and are printable
 * ASCII are kept. */
static bool
tls_alpn(struct tls_cur *c, size_t len, struct l7_req *out)
{
	size_t list, plen, i;

	if (len < 2 || !tls_u16(c, &list))
		goto fail;
	if (list + 2 != len || list < 2)
		goto bad;
	while (list > 0) {
		if (!tls_u8(c, &plen))
			return false;
		if (plen == 0 || plen + 1 > list)
			goto bad;
		list -= 1 + plen;
		if (plen > L7_ALPN_LEN || out->n_alpn == L7_ALPN_MAX) {
			if (!tls_read(c, NULL, plen))
				return false;
			continue;
		}
		if (!tls_read(c, (uint8_t *)out->alpn[out->n_alpn], plen))
			return false;
		out->alpn[out->n_alpn][plen] = '\0';
		/* Only printable ASCII names can match a rule (and a NUL
		 * would cut the string): others are skipped. */
		for (i = 0; i < plen; i++)
			if (out->alpn[out->n_alpn][i] < 0x21 ||
			    out->alpn[out->n_alpn][i] > 0x7e)
				break;
		if (i == plen)
			out->n_alpn++;
	}
	return true;
fail:
	if (c->rc != 0)
		return false;
bad:
	c->rc = TLS_STOP_BAD;
	return false;
}

/*
 * A ClientHello in the records of buf[0..n) (RFC 8446 4.1.2; TLS 1.0 to
 * 1.3 share its layout): handshake header, legacy_version, random,
 * legacy_session_id, cipher_suites, legacy_compression_methods, then
 * extensions (absent in some TLS 1.0-1.2 clients).  Every length must
 * add up to the handshake message's.
 */
static int
tls_parse(const uint8_t *buf, size_t n, size_t limit, bool at_limit,
	  struct l7_req *out)
{
	struct tls_cur c = { .p = buf, .n = n };
	uint8_t hs[4];
	size_t body, used, v, ext_len, et, el;
	bool sni_seen = false, alpn_seen = false;

	out->kind = L7_TLS;
	if (!tls_read(&c, hs, 4))
		goto stop;
	if (hs[0] != TLS_HS_CLIENT_HELLO)
		return L7_BAD;
	body = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
	/* At least one record header and the handshake header come before
	 * the body: the hello cannot fit if that is over the limit. */
	if (TLS_REC_HDR + 4 + body > limit)
		return L7_TOO_BIG;
	/* legacy_version 3.x, random. */
	if (body < 2 + 32 + 1 + 2 + 1 || !tls_u8(&c, &v))
		goto short_or_stop;
	if (v != 3)
		return L7_BAD;
	if (!tls_read(&c, NULL, 1 + 32))
		goto stop;
	used = 2 + 32;
	/* legacy_session_id <0..32> */
	if (!tls_u8(&c, &v))
		goto stop;
	if (v > 32 || used + 1 + v > body)
		return L7_BAD;
	if (!tls_read(&c, NULL, v))
		goto stop;
	used += 1 + v;
	/* cipher_suites <2..2^16-2>, pairs */
	if (used + 2 > body || !tls_u16(&c, &v))
		goto short_or_stop;
	if (v < 2 || (v & 1) != 0 || used + 2 + v > body)
		return L7_BAD;
	if (!tls_read(&c, NULL, v))
		goto stop;
	used += 2 + v;
	/* legacy_compression_methods <1..2^8-1> */
	if (used + 1 > body || !tls_u8(&c, &v))
		goto short_or_stop;
	if (v < 1 || used + 1 + v > body)
		return L7_BAD;
	if (!tls_read(&c, NULL, v))
		goto stop;
	used += 1 + v;
	if (used == body)
		return L7_DONE; /* no extensions */
	/* extensions <0..2^16-1>: exactly the rest of the body */
	if (used + 2 > body || !tls_u16(&c, &ext_len))
		goto short_or_stop;
	if (used + 2 + ext_len != body)
		return L7_BAD;
	while (ext_len > 0) {
		if (ext_len < 4 || !tls_u16(&c, &et) || !tls_u16(&c, &el))
			goto short_or_stop;
		if (4 + el > ext_len)
			return L7_BAD;
		ext_len -= 4 + el;
		if (et == TLS_EXT_SNI) {
			/* One of each (RFC 8446 4.2). */
			if (sni_seen)
				return L7_BAD;
			sni_seen = true;
			if (!tls_sni(&c, el, out))
				goto stop;
		} else if (et == TLS_EXT_ALPN) {
			if (alpn_seen)
				return L7_BAD;
			alpn_seen = true;
			if (!tls_alpn(&c, el, out))
				goto stop;
		} else if (!tls_read(&c, NULL, el)) {
			goto stop;
		}
	}
	return L7_DONE;
short_or_stop:
	if (c.rc == 0)
		return L7_BAD; /* a length that leaves no room for what follows */
stop:
	if (c.rc != TLS_STOP_MORE)
		return L7_BAD;
	return at_limit ? L7_TOO_BIG : L7_MORE;
}

/* ---- the entry points ---- */

int
l7_parse(const uint8_t *buf, size_t len, size_t limit, struct l7_req *out)
{
	size_t n = len < limit ? len : limit;
	bool at_limit = len >= limit;

	out->kind = 0;
	out->host[0] = out->path[0] = out->sni[0] = '\0';
	out->host_len = out->path_len = out->sni_len = 0;
	out->n_alpn = 0;
	if (n == 0)
		return at_limit ? L7_TOO_BIG : L7_MORE;
	if (buf[0] == TLS_CT_HANDSHAKE)
		return tls_parse(buf, n, limit, at_limit, out);
	if (is_tchar(buf[0]))
		return http_parse(buf, n, at_limit, out);
	return L7_BAD;
}

/* name (lower case, nlen bytes) against a rule's pattern: "" any, "*.x"
 * any name ending in ".x" with a byte before, else the same name. */
static bool
name_match(const char *pat, const char *name, size_t nlen)
{
	size_t pl = strlen(pat);

	if (pl == 0)
		return true;
	if (pat[0] == '*')
		return nlen > pl - 1 &&
		       memcmp(name + nlen - (pl - 1), pat + 1, pl - 1) == 0;
	return pl == nlen && memcmp(pat, name, nlen) == 0;
}

static bool
rule_match(const struct cfg_l7_rule *r, const struct l7_req *req)
{
	size_t pl;
	unsigned int i;

	if (r->kind != req->kind)
		return false;
	if (req->kind == L7_HTTP) {
		if (r->name[0] != '\0' &&
		    (req->host_len == 0 || !name_match(r->name, req->host, req->host_len)))
			return false;
		pl = strlen(r->path);
		return pl <= req->path_len && memcmp(r->path, req->path, pl) == 0;
	}
	if (r->name[0] != '\0' &&
	    (req->sni_len == 0 || !name_match(r->name, req->sni, req->sni_len)))
		return false;
	if (r->alpn[0] == '\0')
		return true;
	for (i = 0; i < req->n_alpn && i < L7_ALPN_MAX; i++)
		if (strcmp(r->alpn, req->alpn[i]) == 0)
			return true;
	return false;
}

int
l7_match(const struct cfg_l7 *rules, const struct l7_req *req)
{
	uint32_t i;

	if (rules == NULL || req == NULL)
		return -1;
	for (i = 0; i < rules->n_rules && i < CFG_L7_MAX_RULES; i++)
		if (rule_match(&rules->rules[i], req))
			return rules->rules[i].pool;
	return rules->default_pool;
}
