/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration reader and its error layer (cfg_priv.h), which every
 * section of the appliance's file (cfg_eal.c, cfg_ports.c, ...) and the
 * agent's file (cfg_agent.c) read their keys with.
 *
 * A load walks a libconfig tree with a cfg_ctx (where messages go, how
 * many there were) and one cfg_scope per group being read.  Every mistake
 * is one line "FILE:LINE: message" on the caller's stream and reading
 * carries on, so that one run shows an operator all of them; an unknown
 * key is named with the nearest known one.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

#define CFG_MAX_SECONDS 86400

unsigned int
cfg_setting_line(const config_setting_t *s)
{
	/* The root has line 0: a key missing at top level is put on line 1. */
	if (s == NULL || config_setting_source_line(s) == 0)
		return 1;
	return config_setting_source_line(s);
}

/* Reports one mistake, on the line of setting s. */
void
cfg_err(struct cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	ctx->n_err++;
	if (ctx->err == NULL)
		return;
	fprintf(ctx->err, "%s:%u: ", ctx->path, cfg_setting_line(s));
	va_start(ap, fmt);
	vfprintf(ctx->err, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->err);
}

/* "where.key", or "key" at top level, into buf (cut to fit). */
const char *
cfg_key_name(const struct cfg_scope *sc, const char *key, char *buf, size_t len)
{
	size_t w = strnlen(sc->where, len - 1), k;

	memcpy(buf, sc->where, w);
	if (w > 0 && w < len - 1)
		buf[w++] = '.';
	k = strnlen(key, len - 1 - w);
	memcpy(buf + w, key, k);
	buf[w + k] = '\0';
	return buf;
}

const char *
cfg_type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a decimal number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ]";
	case CONFIG_TYPE_LIST:
		return "a list ( )";
	default:
		return "nothing";
	}
}

void
cfg_type_err(const struct cfg_scope *sc, const config_setting_t *s,
	 const char *key, const char *want)
{
	char name[96];

	cfg_err(sc->ctx, s, "%s: expected %s, got %s",
		cfg_key_name(sc, key, name, sizeof(name)), want,
		cfg_type_name(config_setting_type(s)));
}

/* Levenshtein distance, for "did you mean"; names longer than 63 are
 * too far from every key anyway. */
static unsigned int
edit_distance(const char *a, const char *b)
{
	unsigned int row[64], i, j, diag, up;
	size_t la = strlen(a), lb = strlen(b);

	if (la >= 64 || lb >= 64)
		return UINT_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			unsigned int best;

			up = row[j];
			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Reports every member of the scope's group that is not in keys
 * (NULL-terminated), with the closest known key when it is close. */
void
cfg_check_keys(const struct cfg_scope *sc, const char *const *keys)
{
	const config_setting_t *m;
	unsigned int i, k;

	if (sc->grp == NULL)
		return;
	for (i = 0; (m = config_setting_get_elem(sc->grp, i)) != NULL; i++) {
		const char *name = config_setting_name(m);
		const char *best = NULL;
		unsigned int best_d = UINT_MAX, d;
		char hint[64] = "";

		for (k = 0; keys[k] != NULL; k++) {
			if (strcmp(name, keys[k]) == 0)
				break;
			d = edit_distance(name, keys[k]);
			if (d < best_d) {
				best_d = d;
				best = keys[k];
			}
		}
		if (keys[k] != NULL)
			continue;
		if (best != NULL && best_d <= 2 && best_d < strlen(name))
			snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)",
				 best);
		if (sc->where[0] == '\0')
			cfg_err(sc->ctx, m, "unknown key \"%s\" at top level%s",
				name, hint);
		else
			cfg_err(sc->ctx, m, "unknown key \"%s\" in %s%s", name,
				sc->where, hint);
	}
}

void
cfg_missing_err(const struct cfg_scope *sc, const char *key, const char *why)
{
	if (sc->where[0] == '\0')
		cfg_err(sc->ctx, sc->grp, "missing key \"%s\"%s", key, why);
	else
		cfg_err(sc->ctx, sc->grp, "missing key \"%s\" in %s%s", key,
			sc->where, why);
}

/* The member key of the scope, or NULL when absent (reported when
 * required). */
const config_setting_t *
sc_member(const struct cfg_scope *sc, const char *key, bool required)
{
	const config_setting_t *s = NULL;

	if (sc->grp != NULL)
		s = config_setting_get_member(sc->grp, key);
	if (s == NULL && required)
		cfg_missing_err(sc, key, "");
	return s;
}

/*
 * Typed getters.  Each returns the setting when the key is present and
 * its value passed the check (the value then in *out), else NULL: absent
 * (reported if required, *out untouched so that it keeps its default) or
 * bad (reported).
 */
const config_setting_t *
sc_str(const struct cfg_scope *sc, const char *key, bool required,
       const char **out)
{
	const config_setting_t *s = sc_member(sc, key, required);

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_type_err(sc, s, key, "a string");
		return NULL;
	}
	*out = config_setting_get_string(s);
	return s;
}

/*
 * libconfig reads a decimal integer too large for 32 bits, written
 * without an L suffix, as its low 32 bits and says nothing (4294967376
 * becomes 80).  So the number is read again as it is written on its line
 * (the first `key =` or `key :` there): *v becomes that number, and false
 * says it could not be found (then *v stays as libconfig read it).
 */
static bool
int_as_written(const config_setting_t *s, const char *key, long long *v)
{
	const char *file = config_setting_source_file(s);
	unsigned int line = config_setting_source_line(s), n = 0;
	size_t klen = strlen(key);
	char buf[1024], *p, *end;
	long long w;
	FILE *f;

	if (file == NULL || line == 0 || klen == 0)
		return true;
	f = fopen(file, "r");
	if (f == NULL)
		return true;
	while (fgets(buf, sizeof(buf), f) != NULL && ++n < line)
		;
	fclose(f);
	if (n != line)
		return true;
	for (p = strstr(buf, key); p != NULL; p = strstr(p + 1, key)) {
		const char *q = p + klen;

		if (p > buf && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=' && *q != ':')
			continue;
		q++;
		errno = 0;
		w = strtoll(q, &end, 0);
		if (end == q)
			return true;
		if (errno == ERANGE) {
			*v = w;
			return false;
		}
		*v = w;
		return true;
	}
	return true;
}

const config_setting_t *
sc_int(const struct cfg_scope *sc, const char *key, bool required,
       long long lo, long long hi, long long *out)
{
	const config_setting_t *s = sc_member(sc, key, required);
	char name[96];
	long long v;

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		cfg_type_err(sc, s, key, "an integer");
		return NULL;
	}
	v = config_setting_get_int64(s);
	if (!int_as_written(s, key, &v) || v < lo || v > hi) {
		cfg_err(sc->ctx, s, "%s: %lld out of range %lld..%lld",
			cfg_key_name(sc, key, name, sizeof(name)), v, lo, hi);
		return NULL;
	}
	*out = v;
	return s;
}

/* A duration in seconds, integer or decimal, into milliseconds. */
const config_setting_t *
sc_seconds(const struct cfg_scope *sc, const char *key, uint32_t *ms)
{
	const config_setting_t *s = sc_member(sc, key, false);
	char name[96];
	double v;

	if (s == NULL)
		return NULL;
	if (!config_setting_is_number(s)) {
		cfg_type_err(sc, s, key, "a number of seconds");
		return NULL;
	}
	v = config_setting_type(s) == CONFIG_TYPE_FLOAT ?
		config_setting_get_float(s) :
		(double)config_setting_get_int64(s);
	if (!(v >= 0.0005 && v <= CFG_MAX_SECONDS)) {
		cfg_err(sc->ctx, s,
			"%s: %g seconds out of range: more than 0 (at least 0.001), at most %d",
			cfg_key_name(sc, key, name, sizeof(name)), v,
			CFG_MAX_SECONDS);
		return NULL;
	}
	*ms = (uint32_t)(v * 1000.0 + 0.5);
	return s;
}

/* One of names (NULL-terminated), as its index. */
const config_setting_t *
sc_enum(const struct cfg_scope *sc, const char *key, bool required,
	const char *const *names, unsigned int *out)
{
	const config_setting_t *s;
	const char *v = NULL;
	char name[96], list[96] = "";
	unsigned int i;
	size_t n = 0;

	s = sc_str(sc, key, required, &v);
	if (s == NULL)
		return NULL;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return s;
		}
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"",
				      i ? ", " : "", names[i]);
	}
	cfg_err(sc->ctx, s, "%s: \"%s\" is not one of %s",
		cfg_key_name(sc, key, name, sizeof(name)), v, list);
	return NULL;
}

/* Letters, digits and the characters of `extra`, 1 to len - 1 of them,
 * into buf; `what` names the extra characters for the message. */
static const config_setting_t *
sc_word(const struct cfg_scope *sc, const char *key, bool required, char *buf,
	size_t len, const char *extra, const char *what)
{
	const config_setting_t *s;
	const char *v = NULL;
	char name[96];
	size_t i, n;

	s = sc_str(sc, key, required, &v);
	if (s == NULL)
		return NULL;
	cfg_key_name(sc, key, name, sizeof(name));
	n = strlen(v);
	if (n == 0 || n >= len) {
		cfg_err(sc->ctx, s, "%s: \"%s\" must be 1 to %zu characters",
			name, v, len - 1);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)v[i]) && strchr(extra, v[i]) == NULL) {
			cfg_err(sc->ctx, s,
				"%s: \"%s\" may hold only letters, digits, %s",
				name, v, what);
			return NULL;
		}
	}
	memcpy(buf, v, n + 1);
	return s;
}

/* [A-Za-z0-9_-]+ of fewer than len bytes, into buf. */
const config_setting_t *
sc_ident(const struct cfg_scope *sc, const char *key, bool required,
	 char *buf, size_t len)
{
	return sc_word(sc, key, required, buf, len, "_-", "'_' and '-'");
}

/* A host id: [A-Za-z0-9_.-]+ of fewer than CFG_HOST_LEN bytes. */
const config_setting_t *
sc_hostid(const struct cfg_scope *sc, const char *key, bool required,
	  char out[CFG_HOST_LEN])
{
	return sc_word(sc, key, required, out, CFG_HOST_LEN, "_-.",
		       "'_', '-' and '.'");
}

/* Whether a is an address a host can have: not unspecified, loopback,
 * multicast or the IPv4 broadcast. */
bool
cfg_ip_is_unicast(const struct halb_ip *a)
{
	static const struct halb_ip lo6 = { .b = { [15] = 1 } };

	if (halb_ip_is_zero(a) || halb_ip_eq(a, &lo6))
		return false;
	if (halb_ip_is_v4(a))
		return a->b[12] != 0 && a->b[12] != 127 && a->b[12] < 224;
	return a->b[0] != 0xff;
}

const char *
cfg_family_name(const struct halb_ip *a)
{
	return halb_ip_is_v4(a) ? "IPv4" : "IPv6";
}

/* A unicast address; family 4 or 6 requires that family, 0 takes
 * either. */
const config_setting_t *
sc_addr(const struct cfg_scope *sc, const char *key, bool required,
	int family, struct halb_ip *out)
{
	const config_setting_t *s;
	const char *v = NULL;
	char name[96];
	struct halb_ip a;

	s = sc_str(sc, key, required, &v);
	if (s == NULL)
		return NULL;
	cfg_key_name(sc, key, name, sizeof(name));
	if (halb_ip_parse(v, &a) != 0) {
		cfg_err(sc->ctx, s, "bad address \"%s\" for %s%s", v, name,
			strchr(v, '/') ? " (no prefix length here)" : "");
		return NULL;
	}
	if (family != 0 && (family == 4) != halb_ip_is_v4(&a)) {
		cfg_err(sc->ctx, s, "%s: \"%s\" is an %s address, expected IPv%d",
			name, v, cfg_family_name(&a), family);
		return NULL;
	}
	if (!cfg_ip_is_unicast(&a)) {
		cfg_err(sc->ctx, s, "%s: \"%s\" is not a unicast host address",
			name, v);
		return NULL;
	}
	*out = a;
	return s;
}

/* "address/length" of the given family (4 or 6), length 1 to 32 or
 * 128. */
const config_setting_t *
sc_prefix(const struct cfg_scope *sc, const char *key, int family,
	  struct halb_ip *ip, uint8_t *plen)
{
	const config_setting_t *s;
	const char *v = NULL, *slash;
	unsigned int max = family == 4 ? 32 : 128;
	char name[96], addr[64];
	unsigned long len;
	struct halb_ip a;
	char *end;

	s = sc_str(sc, key, false, &v);
	if (s == NULL)
		return NULL;
	cfg_key_name(sc, key, name, sizeof(name));
	slash = strchr(v, '/');
	if (slash == NULL) {
		cfg_err(sc->ctx, s,
			"bad prefix \"%s\" for %s: expected ADDRESS/LENGTH",
			v, name);
		return NULL;
	}
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - v), v);
	if (halb_ip_parse(addr, &a) != 0) {
		cfg_err(sc->ctx, s, "bad address \"%s\" for %s", addr, name);
		return NULL;
	}
	if ((family == 4) != halb_ip_is_v4(&a)) {
		cfg_err(sc->ctx, s, "%s: \"%s\" is an %s address, expected IPv%d",
			name, addr, cfg_family_name(&a), family);
		return NULL;
	}
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (!isdigit((unsigned char)slash[1]) || *end != '\0' || errno != 0) {
		cfg_err(sc->ctx, s, "bad prefix length \"%s\" for %s",
			slash + 1, name);
		return NULL;
	}
	if (len < 1 || len > max) {
		cfg_err(sc->ctx, s, "%s: prefix length %lu out of range 1..%u",
			name, len, max);
		return NULL;
	}
	if (!cfg_ip_is_unicast(&a)) {
		cfg_err(sc->ctx, s, "%s: \"%s\" is not a unicast host address",
			name, addr);
		return NULL;
	}
	if (halb_prefix_parse(v, ip, plen) != 0) {
		cfg_err(sc->ctx, s, "bad prefix \"%s\" for %s", v, name);
		return NULL;
	}
	return s;
}

/* "aa:bb:cc:dd:ee:ff", a unicast MAC. */
const config_setting_t *
sc_mac(const struct cfg_scope *sc, const char *key, bool required,
       uint8_t mac[6])
{
	static const uint8_t zero[6];
	const config_setting_t *s;
	const char *v = NULL;
	char name[96];
	uint8_t m[6];

	s = sc_str(sc, key, required, &v);
	if (s == NULL)
		return NULL;
	cfg_key_name(sc, key, name, sizeof(name));
	if (halb_mac_parse(v, m) != 0) {
		cfg_err(sc->ctx, s,
			"bad MAC address \"%s\" for %s: expected aa:bb:cc:dd:ee:ff",
			v, name);
		return NULL;
	}
	if ((m[0] & 1) != 0 || memcmp(m, zero, 6) == 0) {
		cfg_err(sc->ctx, s, "%s: \"%s\" is not a unicast MAC address",
			name, v);
		return NULL;
	}
	memcpy(mac, m, 6);
	return s;
}

/* Opens the optional group key of parent as out (out->grp NULL when
 * absent or not a group) and reports its unknown keys. */
void
sc_group(const struct cfg_scope *parent, const char *key,
	 const char *const *keys, struct cfg_scope *out)
{
	const config_setting_t *s = sc_member(parent, key, false);

	out->ctx = parent->ctx;
	out->grp = NULL;
	cfg_key_name(parent, key, out->where, sizeof(out->where));
	if (s == NULL)
		return;
	if (!config_setting_is_group(s)) {
		cfg_type_err(parent, s, key, "a group { }");
		return;
	}
	out->grp = s;
	cfg_check_keys(out, keys);
}

/* A list ( { }, { } ) of min..max groups: returns the list (NULL when
 * absent or not a list) and in *n how many of its elements to read. */
const config_setting_t *
sc_list(const struct cfg_scope *sc, const char *key, bool required,
	unsigned int min, unsigned int max, unsigned int *n)
{
	const config_setting_t *s = sc_member(sc, key, required);
	char name[96];
	unsigned int len;

	*n = 0;
	if (s == NULL)
		return NULL;
	cfg_key_name(sc, key, name, sizeof(name));
	len = (unsigned int)config_setting_length(s);
	/* "[]" is an empty array to libconfig: take it as an empty list. */
	if (!config_setting_is_list(s) &&
	    !(config_setting_is_array(s) && len == 0)) {
		cfg_err(sc->ctx, s, "%s: expected a list ( { ... }, ... ), got %s",
			name, cfg_type_name(config_setting_type(s)));
		return NULL;
	}
	if (len < min || len > max) {
		cfg_err(sc->ctx, s, "%s: %u entries, expected %u..%u", name,
			len, min, max);
		if (len > max)
			len = max;
	}
	*n = len;
	return s;
}

/* Element i of list as a scope named where[i], if it is a group. */
bool
sc_elem(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int i,
	const char *where, const char *const *keys, struct cfg_scope *out)
{
	const config_setting_t *e = config_setting_get_elem(list, i);

	out->ctx = ctx;
	out->grp = NULL;
	snprintf(out->where, sizeof(out->where), "%s[%u]", where, i);
	if (e == NULL)
		return false;
	if (!config_setting_is_group(e)) {
		cfg_err(ctx, e, "%s: expected a group { }, got %s", out->where,
			cfg_type_name(config_setting_type(e)));
		return false;
	}
	out->grp = e;
	cfg_check_keys(out, keys);
	return true;
}


int
cfg_read_file(const char *path, FILE *err, config_t *lc)
{
	int ret;
	FILE *f;

	/* libconfig says only "file I/O error": find out why first. */
	f = fopen(path, "r");
	if (f == NULL) {
		ret = errno;
		if (err != NULL)
			fprintf(err, "%s: %s\n", path, strerror(ret));
		return -ret;
	}
	fclose(f);
	config_init(lc);
	if (config_read_file(lc, path) == CONFIG_TRUE)
		return 0;
	if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
		if (err != NULL)
			fprintf(err, "%s: cannot read the file\n", path);
		ret = EIO;
	} else {
		if (err != NULL)
			fprintf(err, "%s:%d: %s\n",
				config_error_file(lc) != NULL ?
				config_error_file(lc) : path,
				config_error_line(lc), config_error_text(lc));
		ret = EINVAL;
	}
	config_destroy(lc);
	return -ret;
}
