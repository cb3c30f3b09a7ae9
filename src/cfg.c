/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loading and checking the appliance configuration (halb/cfg.h,
 * docs/CONFIG.md).
 *
 * cfg_load() walks the libconfig tree once, in a fixed order whatever the
 * order of the file (eal, ports, flows, the top-level numbers, neighbours,
 * services, health: src/cfg_health.c, with the helpers of cfg_priv.h), and
 * fills one zeroed struct halb_cfg.  Each key is checked for
 * its name, type and range where it is read; what needs more than one key
 * (duplicates, overlapping VIPs, reachability, what a forwarding mode asks
 * of its backends) is checked against what was read before it, which is
 * why ports come before services.  Every mistake is one line
 * "FILE:LINE: message" on the caller's stream and loading carries on, so
 * that one run shows an operator all of them; a value that failed its own
 * check takes no part in later checks (a backend or service whose address
 * or port is bad has its address zeroed, and no check compares a zero
 * address), so that one mistake gives one message.
 *
 * Nothing here keeps state between calls; the returned struct belongs to
 * the caller.
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
#include <rte_config.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

#define CFG_MAX_LCORE RTE_MAX_LCORE
#define CFG_MAX_SECONDS 86400

/* Which keys of the service being read are good, for its backends. */
struct cfg_svc_ok {
	bool port, proto, mode;
};

static const char *const mode_names[] = { "dsr", "nat", "tunnel", NULL };
static const char *const sched_names[] = { "maglev", "wrr", "wlc", NULL };
static const char *const proto_names[] = { "tcp", "udp", NULL };

unsigned int
setting_line(const config_setting_t *s)
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
	fprintf(ctx->err, "%s:%u: ", ctx->path, setting_line(s));
	va_start(ap, fmt);
	vfprintf(ctx->err, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->err);
}

/* "where.key", or "key" at top level, into buf (cut to fit). */
const char *
key_name(const struct cfg_scope *sc, const char *key, char *buf, size_t len)
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

static const char *
type_name(int type)
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
type_err(const struct cfg_scope *sc, const config_setting_t *s,
	 const char *key, const char *want)
{
	char name[96];

	cfg_err(sc->ctx, s, "%s: expected %s, got %s",
		key_name(sc, key, name, sizeof(name)), want,
		type_name(config_setting_type(s)));
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
check_keys(const struct cfg_scope *sc, const char *const *keys)
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
missing_err(const struct cfg_scope *sc, const char *key, const char *why)
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
		missing_err(sc, key, "");
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
		type_err(sc, s, key, "a string");
		return NULL;
	}
	*out = config_setting_get_string(s);
	return s;
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
		type_err(sc, s, key, "an integer");
		return NULL;
	}
	v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		cfg_err(sc->ctx, s, "%s: %lld out of range %lld..%lld",
			key_name(sc, key, name, sizeof(name)), v, lo, hi);
		return NULL;
	}
	*out = v;
	return s;
}

/* A duration in seconds, integer or decimal, into milliseconds. */
static const config_setting_t *
sc_seconds(const struct cfg_scope *sc, const char *key, uint32_t *ms)
{
	const config_setting_t *s = sc_member(sc, key, false);
	char name[96];
	double v;

	if (s == NULL)
		return NULL;
	if (!config_setting_is_number(s)) {
		type_err(sc, s, key, "a number of seconds");
		return NULL;
	}
	v = config_setting_type(s) == CONFIG_TYPE_FLOAT ?
		config_setting_get_float(s) :
		(double)config_setting_get_int64(s);
	if (!(v >= 0.0005 && v <= CFG_MAX_SECONDS)) {
		cfg_err(sc->ctx, s,
			"%s: %g seconds out of range: more than 0 (at least 0.001), at most %d",
			key_name(sc, key, name, sizeof(name)), v,
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
		key_name(sc, key, name, sizeof(name)), v, list);
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
	key_name(sc, key, name, sizeof(name));
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
ip_is_unicast(const struct halb_ip *a)
{
	static const struct halb_ip lo6 = { .b = { [15] = 1 } };

	if (halb_ip_is_zero(a) || halb_ip_eq(a, &lo6))
		return false;
	if (halb_ip_is_v4(a))
		return a->b[12] != 0 && a->b[12] != 127 && a->b[12] < 224;
	return a->b[0] != 0xff;
}

static const char *
family_name(const struct halb_ip *a)
{
	return halb_ip_is_v4(a) ? "IPv4" : "IPv6";
}

/* A unicast address; family 4 or 6 requires that family, 0 takes
 * either. */
static const config_setting_t *
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
	key_name(sc, key, name, sizeof(name));
	if (halb_ip_parse(v, &a) != 0) {
		cfg_err(sc->ctx, s, "bad address \"%s\" for %s%s", v, name,
			strchr(v, '/') ? " (no prefix length here)" : "");
		return NULL;
	}
	if (family != 0 && (family == 4) != halb_ip_is_v4(&a)) {
		cfg_err(sc->ctx, s, "%s: \"%s\" is an %s address, expected IPv%d",
			name, v, family_name(&a), family);
		return NULL;
	}
	if (!ip_is_unicast(&a)) {
		cfg_err(sc->ctx, s, "%s: \"%s\" is not a unicast host address",
			name, v);
		return NULL;
	}
	*out = a;
	return s;
}

/* "address/length" of the given family (4 or 6), length 1 to 32 or
 * 128. */
static const config_setting_t *
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
	key_name(sc, key, name, sizeof(name));
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
			name, addr, family_name(&a), family);
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
	if (!ip_is_unicast(&a)) {
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
static const config_setting_t *
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
	key_name(sc, key, name, sizeof(name));
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
	key_name(parent, key, out->where, sizeof(out->where));
	if (s == NULL)
		return;
	if (!config_setting_is_group(s)) {
		type_err(parent, s, key, "a group { }");
		return;
	}
	out->grp = s;
	check_keys(out, keys);
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
	key_name(sc, key, name, sizeof(name));
	len = (unsigned int)config_setting_length(s);
	/* "[]" is an empty array to libconfig: take it as an empty list. */
	if (!config_setting_is_list(s) &&
	    !(config_setting_is_array(s) && len == 0)) {
		cfg_err(sc->ctx, s, "%s: expected a list ( { ... }, ... ), got %s",
			name, type_name(config_setting_type(s)));
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
			type_name(config_setting_type(e)));
		return false;
	}
	out->grp = e;
	check_keys(out, keys);
	return true;
}

/* ---- eal { } ---- */

/*
 * Parses an EAL -l list ("0,1", "0-2", "0,2-3") into set.  Returns how many
 * lcores it names, or -EINVAL with the reason in why.
 */
static int
parse_lcores(const char *s, bool set[CFG_MAX_LCORE], char *why, size_t len)
{
	const char *p = s;
	unsigned long a, b, i;
	int n = 0;
	char *end;

	for (;;) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		a = strtoul(p, &end, 10);
		p = end;
		b = a;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (a >= CFG_MAX_LCORE || b >= CFG_MAX_LCORE) {
			snprintf(why, len, "lcore %lu out of range 0..%d",
				 a >= CFG_MAX_LCORE ? a : b, CFG_MAX_LCORE - 1);
			return -EINVAL;
		}
		if (b < a) {
			snprintf(why, len, "range %lu-%lu is backwards", a, b);
			return -EINVAL;
		}
		for (i = a; i <= b; i++) {
			if (set[i]) {
				snprintf(why, len, "lcore %lu listed twice", i);
				return -EINVAL;
			}
			set[i] = true;
			n++;
		}
		if (*p == '\0')
			return n;
		if (*p++ != ',')
			goto bad;
	}
bad:
	snprintf(why, len, "expected a list of lcore ids like \"0,1\" or \"0-2\"");
	return -EINVAL;
}

/* The EAL options halb sets itself, and where the operator sets them. */
static const struct {
	const char *opt;
	const char *instead;
} eal_owned[] = {
	{ "-l", "set in eal.lcores instead" },
	{ "-c", "set in eal.lcores instead" },
	{ "--lcores", "set in eal.lcores instead" },
	{ "--file-prefix", "set in eal.file_prefix instead" },
	{ "--proc-type", "each halb program sets its own" },
	{ "--huge-unlink", "halb-forwarder keeps its hugepage files while it runs, for the classifier, and removes them when it stops" },
	{ "--no-pci", "halb always passes it" },
	{ "--vdev", "set in ports[].vdev instead" },
};

static const char *
eal_owned_option(const char *arg)
{
	size_t i, n;

	for (i = 0; i < sizeof(eal_owned) / sizeof(eal_owned[0]); i++) {
		n = strlen(eal_owned[i].opt);
		if (strncmp(arg, eal_owned[i].opt, n) != 0)
			continue;
		/* "-l", "-l0,1"; "--lcores", "--lcores=0,1" */
		if (arg[n] == '\0' || (n == 2 && arg[1] != '-') ||
		    arg[n] == '=')
			return eal_owned[i].instead;
	}
	return NULL;
}

static void
load_eal_extra(const struct cfg_scope *sc)
{
	struct halb_cfg *cfg = sc->ctx->cfg;
	const config_setting_t *s, *e;
	const char *arg, *instead;
	unsigned int i, n;
	char name[96];

	s = sc_member(sc, "extra", false);
	if (s == NULL)
		return;
	key_name(sc, "extra", name, sizeof(name));
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(sc->ctx, s, "%s: expected an array [ \"...\", ... ], got %s",
			name, type_name(config_setting_type(s)));
		return;
	}
	n = (unsigned int)config_setting_length(s);
	if (n > CFG_MAX_EAL_ARGS) {
		cfg_err(sc->ctx, s, "%s: %u arguments, at most %d", name, n,
			CFG_MAX_EAL_ARGS);
		n = CFG_MAX_EAL_ARGS;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_err(sc->ctx, e, "%s[%u]: expected a string, got %s",
				name, i, type_name(config_setting_type(e)));
			continue;
		}
		arg = config_setting_get_string(e);
		if (arg[0] == '\0' || strlen(arg) >= CFG_ARG_LEN) {
			cfg_err(sc->ctx, e, "%s[%u]: must be 1 to %d characters",
				name, i, CFG_ARG_LEN - 1);
			continue;
		}
		instead = eal_owned_option(arg);
		if (instead != NULL) {
			cfg_err(sc->ctx, e, "%s[%u]: \"%s\" is set by halb: %s",
				name, i, arg, instead);
			continue;
		}
		snprintf(cfg->eal_extra[cfg->n_eal_extra++], CFG_ARG_LEN, "%s",
			 arg);
	}
}

static void
load_eal(const struct cfg_scope *root)
{
	static const char *const keys[] = { "file_prefix", "lcores",
		"classifier_lcore", "extra", NULL };
	struct halb_cfg *cfg = root->ctx->cfg;
	const config_setting_t *s_lc, *s_cl;
	bool set[CFG_MAX_LCORE] = { false };
	const char *lcores = "0,1";
	struct cfg_scope sc;
	long long v = 16;
	char why[96];
	int n;

	sc_group(root, "eal", keys, &sc);
	snprintf(cfg->file_prefix, sizeof(cfg->file_prefix), "halb");
	sc_ident(&sc, "file_prefix", false, cfg->file_prefix,
		 sizeof(cfg->file_prefix));

	s_lc = sc_str(&sc, "lcores", false, &lcores);
	n = parse_lcores(lcores, set, why, sizeof(why));
	if (n < 0) {
		cfg_err(sc.ctx, s_lc, "eal.lcores \"%s\": %s", lcores, why);
	} else if (strlen(lcores) >= sizeof(cfg->lcores)) {
		cfg_err(sc.ctx, s_lc, "eal.lcores: longer than %zu characters",
			sizeof(cfg->lcores) - 1);
		n = -EINVAL;
	} else if (n - 1 < 1 || n - 1 > CFG_MAX_WORKERS) {
		cfg_err(sc.ctx, s_lc,
			"eal.lcores \"%s\": %d worker lcores, expected 1..%d (the first lcore is the main one)",
			lcores, n - 1, CFG_MAX_WORKERS);
	} else {
		snprintf(cfg->lcores, sizeof(cfg->lcores), "%s", lcores);
		cfg->n_workers = (uint32_t)(n - 1);
	}

	s_cl = sc_int(&sc, "classifier_lcore", false, 0, CFG_MAX_LCORE - 1, &v);
	cfg->classifier_lcore = (uint32_t)v;
	if (n > 0 && set[v])
		cfg_err(sc.ctx, s_cl != NULL ? s_cl : s_lc,
			"eal.classifier_lcore %lld is in eal.lcores \"%s\": the classifier needs an lcore id of its own",
			v, lcores);

	load_eal_extra(&sc);
}

/* ---- ports ( ) ---- */

/* The driver name of a --vdev argument: up to its first ','. */
static void
vdev_driver(const char *vdev, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)strcspn(vdev, ","), vdev);
}

static void
load_port_vdev(const struct cfg_scope *sc, struct cfg_port *p, unsigned int idx)
{
	const struct halb_cfg *cfg = sc->ctx->cfg;
	const config_setting_t *s;
	char drv[CFG_ARG_LEN], other[CFG_ARG_LEN];
	const char *v = NULL;
	unsigned int i;
	size_t n;

	s = sc_str(sc, "vdev", true, &v);
	if (s == NULL)
		return;
	if (strlen(v) >= CFG_ARG_LEN) {
		cfg_err(sc->ctx, s, "%s.vdev: longer than %d characters",
			sc->where, CFG_ARG_LEN - 1);
		return;
	}
	vdev_driver(v, drv, sizeof(drv));
	n = strlen(drv);
	if (strncmp(drv, "net_", 4) != 0 || n == 4 ||
	    strspn(drv, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n) {
		cfg_err(sc->ctx, s,
			"%s.vdev \"%s\": the device name before the first ',' must be net_ and a driver, like net_af_packet0",
			sc->where, v);
		return;
	}
	for (i = 0; i < idx; i++) {
		vdev_driver(cfg->ports[i].vdev, other, sizeof(other));
		if (strcmp(drv, other) == 0) {
			cfg_err(sc->ctx, s,
				"duplicate vdev device \"%s\" (also ports[%u] \"%s\", line %d)",
				drv, i, cfg->ports[i].name, cfg->ports[i].line);
			return;
		}
	}
	snprintf(p->vdev, sizeof(p->vdev), "%s", v);
}

/* gateway4/gateway6: inside the port's own prefix of that family. */
static void
load_port_gw(const struct cfg_scope *sc, const char *key, int family,
	     bool has_ip, const struct halb_ip *ip, uint8_t plen,
	     bool *has_gw, struct halb_ip *gw)
{
	const config_setting_t *s;
	char a[HALB_IP_STRLEN], b[HALB_IP_STRLEN];
	struct halb_ip g;

	s = sc_addr(sc, key, false, family, &g);
	if (s == NULL)
		return;
	if (!has_ip) {
		cfg_err(sc->ctx, s, "%s.%s requires %s.ipv%d", sc->where, key,
			sc->where, family);
		return;
	}
	if (!halb_ip_in_prefix(&g, ip, plen)) {
		cfg_err(sc->ctx, s, "%s.%s %s is outside the port's prefix %s/%u",
			sc->where, key, halb_ip_fmt(&g, a, sizeof(a)),
			halb_ip_fmt(ip, b, sizeof(b)), plen);
		return;
	}
	if (halb_ip_eq(&g, ip)) {
		cfg_err(sc->ctx, s, "%s.%s %s is the port's own address",
			sc->where, key, halb_ip_fmt(&g, a, sizeof(a)));
		return;
	}
	*has_gw = true;
	*gw = g;
}

static void
load_port(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int idx)
{
	static const char *const keys[] = { "name", "vdev", "ipv4", "ipv6",
		"gateway4", "gateway6", "vlan", "mtu", NULL };
	struct cfg_port *p = &ctx->cfg->ports[idx];
	char a[HALB_IP_STRLEN];
	const config_setting_t *s;
	struct cfg_scope sc;
	long long vlan = 0, mtu = CFG_MTU_DEFAULT;
	unsigned int i;

	if (!sc_elem(ctx, list, idx, "ports", keys, &sc))
		return;
	p->line = (int)setting_line(sc.grp);
	s = sc_ident(&sc, "name", true, p->name, sizeof(p->name));
	for (i = 0; s != NULL && i < idx; i++) {
		if (strcmp(p->name, ctx->cfg->ports[i].name) == 0) {
			cfg_err(ctx, s,
				"duplicate port name \"%s\" (also ports[%u], line %d)",
				p->name, i, ctx->cfg->ports[i].line);
			break;
		}
	}
	load_port_vdev(&sc, p, idx);
	p->has_ip4 = sc_prefix(&sc, "ipv4", 4, &p->ip4, &p->plen4) != NULL;
	p->has_ip6 = sc_prefix(&sc, "ipv6", 6, &p->ip6, &p->plen6) != NULL;
	load_port_gw(&sc, "gateway4", 4, p->has_ip4, &p->ip4, p->plen4,
		     &p->has_gw4, &p->gw4);
	load_port_gw(&sc, "gateway6", 6, p->has_ip6, &p->ip6, p->plen6,
		     &p->has_gw6, &p->gw6);
	/* VID 0 (priority tag only) and 4095 are reserved (802.1Q 9.6). */
	sc_int(&sc, "vlan", false, 1, 4094, &vlan);
	p->vlan = (uint16_t)vlan;
	/* 1280: the least an IPv6 link may have (RFC 8200 5). */
	sc_int(&sc, "mtu", false, CFG_MTU_MIN, CFG_MTU_MAX, &mtu);
	p->mtu = (uint16_t)mtu;

	/* Two ports with one own address could not both answer for it. */
	for (i = 0; i < idx; i++) {
		const struct cfg_port *q = &ctx->cfg->ports[i];
		const struct halb_ip *same = NULL;

		if (p->has_ip4 && q->has_ip4 && halb_ip_eq(&p->ip4, &q->ip4))
			same = &p->ip4;
		else if (p->has_ip6 && q->has_ip6 && halb_ip_eq(&p->ip6, &q->ip6))
			same = &p->ip6;
		if (same != NULL)
			cfg_err(ctx, sc.grp,
				"%s has the address %s of ports[%u] \"%s\" (line %d)",
				sc.where, halb_ip_fmt(same, a, sizeof(a)), i,
				q->name, q->line);
	}
}

static void
load_ports(const struct cfg_scope *root)
{
	struct cfg_ctx *ctx = root->ctx;
	unsigned int n_err = ctx->n_err, i, n;
	const config_setting_t *list;

	list = sc_list(root, "ports", true, 1, CFG_MAX_PORTS, &n);
	for (i = 0; i < n; i++)
		load_port(ctx, list, i);
	ctx->cfg->n_ports = n;
	ctx->ports_ok = n > 0 && ctx->n_err == n_err;
}

/* Index of the port whose own address is a, or -1. */
static int
own_address_port(const struct halb_cfg *cfg, const struct halb_ip *a)
{
	unsigned int i;

	for (i = 0; i < cfg->n_ports; i++) {
		const struct cfg_port *p = &cfg->ports[i];

		if ((p->has_ip4 && halb_ip_eq(a, &p->ip4)) ||
		    (p->has_ip6 && halb_ip_eq(a, &p->ip6)))
			return (int)i;
	}
	return -1;
}

/* Index of the port whose connected prefix holds a, or -1. */
static int
connected_port(const struct halb_cfg *cfg, const struct halb_ip *a)
{
	unsigned int i;

	for (i = 0; i < cfg->n_ports; i++) {
		const struct cfg_port *p = &cfg->ports[i];

		if (halb_ip_is_v4(a) ?
		    p->has_ip4 && halb_ip_in_prefix(a, &p->ip4, p->plen4) :
		    p->has_ip6 && halb_ip_in_prefix(a, &p->ip6, p->plen6))
			return (int)i;
	}
	return -1;
}

/* ---- flows { }, top-level numbers, neighbours ( ) ---- */

static void
load_flows(const struct cfg_scope *root)
{
	static const char *const keys[] = { "entries", "tcp_syn_timeout",
		"tcp_timeout", "tcp_fin_timeout", "udp_timeout", NULL };
	struct halb_cfg *cfg = root->ctx->cfg;
	struct cfg_scope sc;
	long long v = 65536;

	sc_group(root, "flows", keys, &sc);
	sc_int(&sc, "entries", false, 1024, 67108864, &v);
	cfg->flow_entries = (uint32_t)v;
	cfg->tcp_syn_timeout_ms = 5000;
	cfg->tcp_timeout_ms = 300000;
	cfg->tcp_fin_timeout_ms = 10000;
	cfg->udp_timeout_ms = 30000;
	sc_seconds(&sc, "tcp_syn_timeout", &cfg->tcp_syn_timeout_ms);
	sc_seconds(&sc, "tcp_timeout", &cfg->tcp_timeout_ms);
	sc_seconds(&sc, "tcp_fin_timeout", &cfg->tcp_fin_timeout_ms);
	sc_seconds(&sc, "udp_timeout", &cfg->udp_timeout_ms);
}

static void
load_neighbours(const struct cfg_scope *root)
{
	static const char *const keys[] = { "ip", "mac", NULL };
	struct cfg_ctx *ctx = root->ctx;
	struct halb_cfg *cfg = ctx->cfg;
	const config_setting_t *list, *s;
	char a[HALB_IP_STRLEN];
	struct cfg_scope sc;
	unsigned int i, j, n;

	list = sc_list(root, "neighbours", false, 0, CFG_MAX_NEIGH, &n);
	for (i = 0; i < n; i++) {
		struct cfg_neigh *nb = &cfg->neigh[cfg->n_neigh];

		if (!sc_elem(ctx, list, i, "neighbours", keys, &sc))
			continue;
		nb->line = (int)setting_line(sc.grp);
		s = sc_addr(&sc, "ip", true, 0, &nb->ip);
		if (sc_mac(&sc, "mac", true, nb->mac) == NULL || s == NULL)
			continue;
		halb_ip_fmt(&nb->ip, a, sizeof(a));
		for (j = 0; j < cfg->n_neigh; j++)
			if (halb_ip_eq(&nb->ip, &cfg->neigh[j].ip))
				break;
		if (j < cfg->n_neigh) {
			cfg_err(ctx, s, "duplicate neighbour %s (also line %d)",
				a, cfg->neigh[j].line);
			continue;
		}
		if (own_address_port(cfg, &nb->ip) >= 0) {
			cfg_err(ctx, s, "neighbour %s is a port's own address", a);
			continue;
		}
		if (ctx->ports_ok && connected_port(cfg, &nb->ip) < 0) {
			cfg_err(ctx, s,
				"neighbour %s is not in any port's connected prefix",
				a);
			continue;
		}
		cfg->n_neigh++;
	}
}

/* ---- services ( ) ---- */

/* "198.18.2.100:80/tcp" or "[fd00::1]:53/udp" into buf; port 0 is "*". */
const char *
endpoint_fmt(const struct halb_ip *ip, uint16_t port, uint8_t proto,
	     char *buf, size_t len)
{
	char a[HALB_IP_STRLEN], p[8] = "*";

	if (port != 0)
		snprintf(p, sizeof(p), "%u", port);
	halb_ip_fmt(ip, a, sizeof(a));
	snprintf(buf, len, halb_ip_is_v4(ip) ? "%s:%s/%s" : "[%s]:%s/%s", a, p,
		 proto == IPPROTO_UDP ? "udp" : "tcp");
	return buf;
}

/* Checks the VIP of service idx against those of the services before it:
 * the classifier must find one service for any packet. */
static void
check_vip_overlap(struct cfg_ctx *ctx, unsigned int idx,
		  const config_setting_t *s_vip)
{
	const struct cfg_service *svc = &ctx->cfg->services[idx];
	char a[80], b[80];
	unsigned int i;

	for (i = 0; i < idx; i++) {
		const struct cfg_service *o = &ctx->cfg->services[i];

		if (halb_ip_is_zero(&o->vip) || !halb_ip_eq(&o->vip, &svc->vip) ||
		    o->proto != svc->proto)
			continue;
		if (o->port == svc->port) {
			cfg_err(ctx, s_vip,
				"duplicate vip %s: also service \"%s\" (line %d)",
				endpoint_fmt(&svc->vip, svc->port, svc->proto, a, sizeof(a)),
				o->name, o->line);
			return;
		}
		if (o->port == 0 || svc->port == 0) {
			cfg_err(ctx, s_vip,
				"vip %s overlaps %s of service \"%s\" (line %d)",
				endpoint_fmt(&svc->vip, svc->port, svc->proto, a, sizeof(a)),
				endpoint_fmt(&o->vip, o->port, o->proto, b, sizeof(b)),
				o->name, o->line);
			return;
		}
	}
}

uint16_t
backend_port(const struct cfg_service *svc, const struct cfg_backend *be)
{
	return be->port != 0 ? be->port : svc->port;
}

/* Replies from NAT backends are mapped back by (ip, port, protocol): no
 * two NAT services may share one. */
static void
check_nat_unique(struct cfg_ctx *ctx, unsigned int si,
		 const struct cfg_backend *be, const config_setting_t *s)
{
	const struct cfg_service *svc = &ctx->cfg->services[si];
	uint16_t port = backend_port(svc, be), oport;
	unsigned int i, j;
	char a[80];

	for (i = 0; i < si; i++) {
		const struct cfg_service *o = &ctx->cfg->services[i];

		if (o->mode != CFG_MODE_NAT || o->proto != svc->proto ||
		    halb_ip_is_zero(&o->vip))
			continue;
		for (j = 0; j < o->n_backends; j++) {
			if (!halb_ip_eq(&o->backends[j].ip, &be->ip))
				continue;
			oport = backend_port(o, &o->backends[j]);
			if (oport != port && oport != 0 && port != 0)
				continue;
			cfg_err(ctx, s,
				"nat backend %s is also a nat backend of service \"%s\" (line %d): replies could not be mapped back",
				endpoint_fmt(&be->ip, port, svc->proto, a, sizeof(a)),
				o->name, o->backends[j].line);
			return;
		}
	}
}

/* What the service's forwarding mode needs of the backend. */
static bool
check_backend_mode(struct cfg_ctx *ctx, const struct cfg_service *svc,
		   const struct cfg_backend *be, const config_setting_t *s_be,
		   const config_setting_t *s_port)
{
	char a[HALB_IP_STRLEN], b[HALB_IP_STRLEN];

	switch (svc->mode) {
	case CFG_MODE_DSR:
	case CFG_MODE_TUNNEL:
		if (be->port != 0 && be->port != svc->port) {
			cfg_err(ctx, s_port,
				"%s cannot change the port: backend port %u differs from service port %u%s",
				cfg_mode_name(svc->mode), be->port, svc->port,
				svc->port == 0 ? " (all ports)" : "");
			return false;
		}
		break;
	case CFG_MODE_NAT:
		/* A zero vip was bad, and reported. */
		if (!halb_ip_is_zero(&svc->vip) &&
		    halb_ip_is_v4(&be->ip) != halb_ip_is_v4(&svc->vip)) {
			cfg_err(ctx, s_be,
				"nat cannot translate between families: backend %s is %s, vip %s is %s",
				halb_ip_fmt(&be->ip, a, sizeof(a)), family_name(&be->ip),
				halb_ip_fmt(&svc->vip, b, sizeof(b)),
				family_name(&svc->vip));
			return false;
		}
		if (svc->port == 0 && be->port != 0) {
			cfg_err(ctx, s_port,
				"nat on all ports (service port 0) cannot map to backend port %u: leave the backend port 0",
				be->port);
			return false;
		}
		break;
	}
	return true;
}

/* The backend must be reachable from a port; DSR must reach it at L2. */
static void
check_backend_route(struct cfg_ctx *ctx, const struct cfg_service *svc,
		    const struct cfg_backend *be, const config_setting_t *s_be)
{
	const struct halb_cfg *cfg = ctx->cfg;
	bool v4 = halb_ip_is_v4(&be->ip), any = false;
	char a[HALB_IP_STRLEN], g[HALB_IP_STRLEN];
	struct halb_ip nh;
	unsigned int i;
	int port;

	halb_ip_fmt(&be->ip, a, sizeof(a));
	port = cfg_route(cfg, &be->ip, &nh);
	if (port < 0) {
		for (i = 0; i < cfg->n_ports; i++)
			any |= v4 ? cfg->ports[i].has_ip4 : cfg->ports[i].has_ip6;
		if (!any)
			cfg_err(ctx, s_be,
				"backend %s unreachable: no port has an %s address or gateway",
				a, family_name(&be->ip));
		else
			cfg_err(ctx, s_be,
				"backend %s unreachable: not in any port's connected prefix and no port has a gateway%d",
				a, v4 ? 4 : 6);
		return;
	}
	if (svc->mode == CFG_MODE_DSR && !halb_ip_eq(&nh, &be->ip))
		cfg_err(ctx, s_be,
			"dsr forwards at layer 2: backend %s must be in a port's connected prefix, not behind gateway %s",
			a, halb_ip_fmt(&nh, g, sizeof(g)));
	/* An IPv6 client may send 1280-byte packets whatever it is told
	 * (RFC 8201 4), and tunnel mode never fragments: they must fit. */
	if (svc->mode == CFG_MODE_TUNNEL && !halb_ip_is_v4(&svc->vip) &&
	    !halb_ip_is_zero(&svc->vip) &&
	    cfg->ports[port].mtu < 1280 + cfg_tunnel_overhead(&be->ip))
		cfg_err(ctx, s_be,
			"tunnel to backend %s: port \"%s\" has mtu %u, less than the %u that IPv6 packets of 1280 bytes need in VXLAN",
			a, cfg->ports[port].name, cfg->ports[port].mtu,
			1280 + cfg_tunnel_overhead(&be->ip));
}

static void
load_backend(struct cfg_ctx *ctx, unsigned int si, const struct cfg_svc_ok *ok,
	     const config_setting_t *list, unsigned int bi)
{
	static const char *const keys[] = { "ip", "port", "weight",
		"tunnel_mac", "agent", "check", NULL };
	struct cfg_service *svc = &ctx->cfg->services[si];
	struct cfg_backend *be = &svc->backends[bi];
	bool tunnel = ok->mode && svc->mode == CFG_MODE_TUNNEL;
	const config_setting_t *s_ip, *s_port, *s;
	long long port = 0, weight = 1;
	unsigned int n_err = ctx->n_err, i;
	char where[CFG_WHERE_LEN], a[80];
	struct cfg_scope sc;
	int pi;

	snprintf(where, sizeof(where), "services[%u].backends", si);
	if (!sc_elem(ctx, list, bi, where, keys, &sc))
		return;
	be->line = (int)setting_line(sc.grp);
	s_ip = sc_addr(&sc, "ip", true, 0, &be->ip);
	s_port = sc_int(&sc, "port", false, 0, 65535, &port);
	be->port = (uint16_t)port;
	sc_int(&sc, "weight", false, 0, CFG_MAX_WEIGHT, &weight);
	be->weight = (uint32_t)weight;
	s = sc_member(&sc, "tunnel_mac", false);
	if (tunnel && s == NULL)
		missing_err(&sc, "tunnel_mac", " (mode \"tunnel\" needs it)");
	else if (tunnel)
		be->has_tunnel_mac =
			sc_mac(&sc, "tunnel_mac", true, be->tunnel_mac) != NULL;
	else if (s != NULL && ok->mode)
		cfg_err(ctx, s, "%s.tunnel_mac: only for mode \"tunnel\", not \"%s\"",
			sc.where, cfg_mode_name(svc->mode));
	/* Health: what reports on the backend, and how it is probed. */
	cfg_health_backend(&sc, si, bi,
			   s_ip != NULL && ok->port && ok->proto &&
			   (s_port != NULL || sc_member(&sc, "port", false) == NULL));

	/* The checks of the whole need a good address and port. */
	if (ctx->n_err != n_err || s_ip == NULL || !ok->port) {
		memset(&be->ip, 0, sizeof(be->ip));
		return;
	}
	if (s_port == NULL)
		s_port = sc.grp;
	pi = own_address_port(ctx->cfg, &be->ip);
	if (pi >= 0) {
		cfg_err(ctx, s_ip, "backend %s is the own address of port \"%s\"",
			halb_ip_fmt(&be->ip, a, sizeof(a)), ctx->cfg->ports[pi].name);
		goto bad;
	}
	for (i = 0; i < bi; i++) {
		const struct cfg_backend *o = &svc->backends[i];

		if (halb_ip_eq(&o->ip, &be->ip) &&
		    backend_port(svc, o) == backend_port(svc, be)) {
			cfg_err(ctx, s_ip, "duplicate backend %s (also line %d)",
				endpoint_fmt(&be->ip, backend_port(svc, be),
					     svc->proto, a, sizeof(a)),
				o->line);
			goto bad;
		}
	}
	if (!ok->mode || !check_backend_mode(ctx, svc, be, s_ip, s_port))
		goto bad;
	if (ctx->ports_ok)
		check_backend_route(ctx, svc, be, s_ip);
	if (svc->mode == CFG_MODE_NAT && ok->proto)
		check_nat_unique(ctx, si, be, s_ip);
	return;
bad:
	memset(&be->ip, 0, sizeof(be->ip));
}

static void
load_service(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int si)
{
	static const char *const keys[] = { "name", "vip", "port", "protocol",
		"mode", "scheduler", "vni", "tunnel_port", "down_flows",
		"backends", NULL };
	static const char *const down_names[] = { "reset", "keep", NULL };
	struct cfg_service *svc = &ctx->cfg->services[si];
	const config_setting_t *s_name, *s_vip, *s, *bl;
	unsigned int proto = 0, mode = CFG_MODE_DSR, sched = CFG_SCHED_MAGLEV;
	unsigned int down = CFG_DOWN_RESET;
	long long port = 0, vni = 1, tport = 4789;
	struct cfg_svc_ok ok = { .port = true };
	bool vip_ok;
	struct cfg_scope sc;
	unsigned int i, n;
	char a[HALB_IP_STRLEN];
	int pi;

	if (!sc_elem(ctx, list, si, "services", keys, &sc))
		return;
	svc->line = (int)setting_line(sc.grp);

	s_name = sc_ident(&sc, "name", true, svc->name, sizeof(svc->name));
	for (i = 0; s_name != NULL && i < si; i++) {
		if (strcmp(svc->name, ctx->cfg->services[i].name) == 0) {
			cfg_err(ctx, s_name,
				"duplicate service name \"%s\" (also services[%u], line %d)",
				svc->name, i, ctx->cfg->services[i].line);
			break;
		}
	}

	s_vip = sc_addr(&sc, "vip", true, 0, &svc->vip);
	vip_ok = s_vip != NULL;
	if (vip_ok && (pi = own_address_port(ctx->cfg, &svc->vip)) >= 0) {
		cfg_err(ctx, s_vip, "vip %s is the own address of port \"%s\"",
			halb_ip_fmt(&svc->vip, a, sizeof(a)),
			ctx->cfg->ports[pi].name);
		vip_ok = false;
	}
	if (sc_member(&sc, "port", false) != NULL)
		ok.port = sc_int(&sc, "port", false, 0, 65535, &port) != NULL;
	svc->port = (uint16_t)port;
	ok.proto = sc_enum(&sc, "protocol", true, proto_names, &proto) != NULL;
	svc->proto = proto == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	ok.mode = true;
	if (sc_member(&sc, "mode", false) != NULL)
		ok.mode = sc_enum(&sc, "mode", false, mode_names, &mode) != NULL;
	svc->mode = (uint8_t)mode;
	sc_enum(&sc, "scheduler", false, sched_names, &sched);
	svc->sched = (uint8_t)sched;
	sc_enum(&sc, "down_flows", false, down_names, &down);
	svc->down_flows = (uint8_t)down;

	if (ok.mode && mode == CFG_MODE_TUNNEL) {
		sc_int(&sc, "vni", false, 0, 16777215, &vni);
		sc_int(&sc, "tunnel_port", false, 1, 65535, &tport);
		svc->vni = (uint32_t)vni;
		svc->tunnel_port = (uint16_t)tport;
	} else if (ok.mode) {
		static const char *const tkeys[] = { "vni", "tunnel_port" };

		for (i = 0; i < 2; i++) {
			s = sc_member(&sc, tkeys[i], false);
			if (s != NULL)
				cfg_err(ctx, s,
					"%s.%s: only for mode \"tunnel\", not \"%s\"",
					sc.where, tkeys[i], cfg_mode_name(mode));
		}
	}

	/* A zeroed vip: no later service compares with this one, and its
	 * backends are checked without it. */
	if (vip_ok && ok.port && ok.proto)
		check_vip_overlap(ctx, si, s_vip);
	else
		memset(&svc->vip, 0, sizeof(svc->vip));

	bl = sc_list(&sc, "backends", true, 1, CFG_MAX_BACKENDS, &n);
	for (i = 0; i < n; i++)
		load_backend(ctx, si, &ok, bl, i);
	svc->n_backends = n;
}

static void
load_services(const struct cfg_scope *root)
{
	struct cfg_ctx *ctx = root->ctx;
	const config_setting_t *list;
	unsigned int i, n;

	list = sc_list(root, "services", true, 1, CFG_MAX_SERVICES, &n);
	for (i = 0; i < n; i++)
		load_service(ctx, list, i);
	ctx->cfg->n_services = n;
}

static void
load_root(struct cfg_ctx *ctx, const config_setting_t *root)
{
	static const char *const keys[] = { "eal", "ports", "flows",
		"idle_sleep_us", "classifier_timeout_ms", "neighbours",
		"services", "health", NULL };
	struct cfg_scope sc = { .ctx = ctx, .grp = root, .where = "" };
	long long v;

	check_keys(&sc, keys);
	load_eal(&sc);
	load_ports(&sc);
	load_flows(&sc);
	v = 100;
	sc_int(&sc, "idle_sleep_us", false, 0, 100000, &v);
	ctx->cfg->idle_sleep_us = (uint32_t)v;
	v = 300;
	sc_int(&sc, "classifier_timeout_ms", false, 10, 60000, &v);
	ctx->cfg->classifier_timeout_ms = (uint32_t)v;
	load_neighbours(&sc);
	load_services(&sc);
	cfg_health_load(&sc);
}

/* ---- public ---- */

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

struct halb_cfg *
cfg_load(const char *path, FILE *err)
{
	struct cfg_ctx ctx = { .path = path, .err = err };
	struct halb_cfg *cfg = NULL;
	config_t lc;
	int ret;

	if (path == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(path) >= sizeof(cfg->path)) {
		if (err != NULL)
			fprintf(err, "%s: path longer than %zu characters\n",
				path, sizeof(cfg->path) - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	/* Zeroed whole, padding included, for cfg_digest. */
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	ctx.cfg = cfg;

	ret = cfg_read_file(path, err, &lc);
	if (ret < 0) {
		free(cfg);
		errno = -ret;
		return NULL;
	}
	load_root(&ctx, config_root_setting(&lc));
	config_destroy(&lc);
	if (ctx.n_err != 0) {
		free(cfg);
		errno = EINVAL;
		return NULL;
	}
	return cfg;
}

void
cfg_free(struct halb_cfg *cfg)
{
	/* It holds the health keys. */
	if (cfg != NULL)
		explicit_bzero(cfg, sizeof(*cfg));
	free(cfg);
}

int
cfg_check_main(const char *path)
{
	struct halb_cfg *cfg = cfg_load(path, stderr);
	unsigned int i, n = 0;

	if (cfg == NULL)
		return 1;
	for (i = 0; i < cfg->n_services; i++)
		n += cfg->services[i].n_backends;
	printf("%s: ok (%u service%s, %u backend%s)\n", path, cfg->n_services,
	       cfg->n_services == 1 ? "" : "s", n, n == 1 ? "" : "s");
	cfg_free(cfg);
	return 0;
}

uint64_t
cfg_digest(const struct halb_cfg *cfg)
{
	const size_t skip = offsetof(struct halb_cfg, path);
	const uint8_t *p = (const uint8_t *)cfg;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
	size_t i;

	/* The path is how this process was told of the file, not what it
	 * holds: it counts as zeros. */
	for (i = 0; i < sizeof(*cfg); i++) {
		uint8_t b = i >= skip && i < skip + sizeof(cfg->path) ? 0 : p[i];

		h ^= b;
		h *= 0x100000001b3ULL;
	}
	return h;
}

const char *
cfg_mode_name(unsigned int mode)
{
	return mode < CFG_MODE_TUNNEL + 1 ? mode_names[mode] : "?";
}

const char *
cfg_sched_name(unsigned int sched)
{
	return sched < CFG_SCHED_WLC + 1 ? sched_names[sched] : "?";
}

int
cfg_route(const struct halb_cfg *cfg, const struct halb_ip *dst,
	  struct halb_ip *next_hop)
{
	bool v4 = halb_ip_is_v4(dst);
	unsigned int i;
	int port;

	port = connected_port(cfg, dst);
	if (port >= 0) {
		if (next_hop != NULL)
			*next_hop = *dst;
		return port;
	}
	for (i = 0; i < cfg->n_ports; i++) {
		const struct cfg_port *p = &cfg->ports[i];

		if (v4 ? p->has_gw4 : p->has_gw6) {
			if (next_hop != NULL)
				*next_hop = v4 ? p->gw4 : p->gw6;
			return (int)i;
		}
	}
	return -ENETUNREACH;
}
