/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A service's requests { } (request routing, issue #14; docs/CONFIG.md
 * "requests") and its backends' pool keys, for cfg_services.c: the
 * rules, the default pool, what a client gets when nothing matches, and
 * the limits of the delayed binding, into struct cfg_l7.
 *
 * Pools are named by the backends (`pool = "api";`), in the order they
 * first appear: a pool's index is its place in cfg_l7.pools.  Rules and
 * default_pool name pools that a backend is in.  Names and paths are
 * checked here so that l7_match() (src/core/l7req.c) compares bytes
 * only: host and sni patterns in lower case, "*." wildcards, no port, no
 * trailing dot; paths from '/', without query.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "halb/l7req.h"
#include "cfg_priv.h"

static const char *const no_match_names[] = { "reset", "http-503", NULL };

static int
find_pool(const struct cfg_l7 *l7, const char *name)
{
	uint32_t i;

	for (i = 0; i < l7->n_pools; i++)
		if (strcmp(l7->pools[i], name) == 0)
			return (int)i;
	return -1;
}

void
cfg_requests_backend(struct cfg_scope *sc, unsigned int si, unsigned int bi)
{
	struct cfg_service *svc = &sc->ctx->cfg->services[si];
	struct cfg_backend *be = &svc->backends[bi];
	const config_setting_t *s = sc_member(sc, "pool", false);
	char name[CFG_NAME_LEN];
	int p;

	if (!svc->l7.has) {
		if (s != NULL)
			cfg_err(sc->ctx, s,
				"%s.pool: only for a service with requests { }",
				sc->where);
		return;
	}
	if (s == NULL) {
		cfg_missing_err(sc, "pool",
				" (a service with requests { } puts every backend in a pool)");
		return;
	}
	if (sc_ident(sc, "pool", true, name, sizeof(name)) == NULL)
		return;
	p = find_pool(&svc->l7, name);
	if (p < 0) {
		if (svc->l7.n_pools == CFG_L7_MAX_POOLS) {
			cfg_err(sc->ctx, s,
				"%s.pool: \"%s\" would be pool %u of service \"%s\": %u at most",
				sc->where, name, CFG_L7_MAX_POOLS + 1, svc->name,
				CFG_L7_MAX_POOLS);
			return;
		}
		p = (int)svc->l7.n_pools++;
		memcpy(svc->l7.pools[p], name, sizeof(name));
	}
	be->pool = (uint8_t)p;
}

/*
 * A host (sni: false) or sni (true) pattern of a rule into out, lower
 * case: "*.name" or a name of letters, digits, '-', '_' and '.'; a host
 * may also be an IPv6 literal in brackets.  At most L7_HOST_MAX bytes,
 * without a port or a trailing dot, as l7_parse() leaves the names it
 * compares them with.
 */
static bool
rule_name(const struct cfg_scope *sc, const config_setting_t *s,
	  const char *key, const char *v, bool sni, char out[CFG_L7_NAME_LEN])
{
	size_t n = strlen(v), i, start = 0;
	char name[96];

	cfg_key_name(sc, key, name, sizeof(name));
	if (n == 0 || n > L7_HOST_MAX) {
		cfg_err(sc->ctx, s, "%s: \"%s\" must be 1 to %u characters", name,
			v, L7_HOST_MAX);
		return false;
	}
	if (v[0] == '*') {
		if (n < 3 || v[1] != '.') {
			cfg_err(sc->ctx, s,
				"%s: \"%s\": a wildcard is \"*.\" and a name (\"*.example.com\"); it matches any name that ends in \".example.com\"",
				name, v);
			return false;
		}
		start = 1;
	}
	if (!sni && v[0] == '[') {
		for (i = 1; i < n - 1; i++)
			if (!strchr("0123456789abcdefABCDEF:.", v[i]))
				break;
		if (n < 3 || v[n - 1] != ']' || i != n - 1) {
			cfg_err(sc->ctx, s,
				"%s: \"%s\": an IPv6 address is written in brackets, without a port (\"[2001:db8::1]\")",
				name, v);
			return false;
		}
	} else {
		for (i = start; i < n; i++) {
			char c = v[i];

			if (c == ':') {
				cfg_err(sc->ctx, s,
					"%s: \"%s\": no port: rules match the name, whatever the port",
					name, v);
				return false;
			}
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
			      c == '.')) {
				cfg_err(sc->ctx, s,
					"%s: \"%s\" may hold only letters, digits, '-', '_' and '.'%s",
					name, v, start ? " after its \"*.\"" : "");
				return false;
			}
		}
		if (v[n - 1] == '.') {
			cfg_err(sc->ctx, s,
				"%s: \"%s\": no trailing dot (names are compared without it)",
				name, v);
			return false;
		}
	}
	for (i = 0; i <= n; i++)
		out[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 'a' - 'A' : v[i]);
	return true;
}

/* A path prefix: from '/', printable ASCII without space, '?' or '#'
 * (the path compared stops at the query). */
static bool
rule_path(const struct cfg_scope *sc, const config_setting_t *s,
	  const char *v, char out[CFG_L7_PATH_LEN])
{
	size_t n = strlen(v), i;
	char name[96];

	cfg_key_name(sc, "path", name, sizeof(name));
	if (n == 0 || n >= CFG_L7_PATH_LEN || v[0] != '/') {
		cfg_err(sc->ctx, s,
			"%s: \"%s\" must start with '/' and be at most %u characters",
			name, v, CFG_L7_PATH_LEN - 1);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (v[i] <= ' ' || v[i] >= 0x7f || v[i] == '?' || v[i] == '#') {
			cfg_err(sc->ctx, s,
				"%s: \"%s\": a path prefix is printable, without spaces, '?' or '#' (the query is not compared)",
				name, v);
			return false;
		}
	}
	memcpy(out, v, n + 1);
	return true;
}

static bool
rule_alpn(const struct cfg_scope *sc, const config_setting_t *s,
	  const char *v, char out[CFG_L7_ALPN_LEN])
{
	size_t n = strlen(v), i;
	char name[96];

	cfg_key_name(sc, "alpn", name, sizeof(name));
	for (i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] >= 0x7f)
			break;
	if (n == 0 || n > L7_ALPN_LEN || i < n) {
		cfg_err(sc->ctx, s,
			"%s: \"%s\" must be 1 to %u printable characters (\"h2\", \"http/1.1\")",
			name, v, L7_ALPN_LEN);
		return false;
	}
	memcpy(out, v, n + 1);
	return true;
}

/* The pool named by key of sc (a rule's pool, default_pool): its index,
 * or -1 (reported). */
static int
pool_ref(const struct cfg_scope *sc, const struct cfg_service *svc,
	 const char *key, bool required)
{
	const config_setting_t *s;
	char buf[CFG_NAME_LEN], name[96];
	int p;

	s = sc_ident(sc, key, required, buf, sizeof(buf));
	if (s == NULL)
		return -1;
	p = find_pool(&svc->l7, buf);
	if (p < 0)
		cfg_err(sc->ctx, s, "%s: no backend of service \"%s\" is in pool \"%s\"",
			cfg_key_name(sc, key, name, sizeof(name)), svc->name, buf);
	return p;
}

static void
load_rule(struct cfg_ctx *ctx, struct cfg_service *svc, const char *where,
	  const config_setting_t *list, unsigned int ri)
{
	static const char *const keys[] = { "host", "path", "sni", "alpn", "pool",
		NULL };
	struct cfg_l7_rule *r = &svc->l7.rules[ri];
	const char *host = NULL, *path = NULL, *sni = NULL, *alpn = NULL;
	const config_setting_t *s_host, *s_path, *s_sni, *s_alpn;
	unsigned int n_err = ctx->n_err;
	struct cfg_scope sc;
	int p;

	if (!sc_elem(ctx, list, ri, where, keys, &sc))
		return;
	r->line = (int)cfg_setting_line(sc.grp);
	s_host = sc_str(&sc, "host", false, &host);
	s_path = sc_str(&sc, "path", false, &path);
	s_sni = sc_str(&sc, "sni", false, &sni);
	s_alpn = sc_str(&sc, "alpn", false, &alpn);
	p = pool_ref(&sc, svc, "pool", true);
	if (ctx->n_err != n_err)
		return;
	if ((s_host != NULL || s_path != NULL) && (s_sni != NULL || s_alpn != NULL)) {
		cfg_err(ctx, sc.grp,
			"%s: host and path match HTTP requests, sni and alpn TLS ClientHellos: one rule has keys of one kind",
			sc.where);
		return;
	}
	if (s_host == NULL && s_path == NULL && s_sni == NULL && s_alpn == NULL) {
		cfg_err(ctx, sc.grp,
			"%s: a rule needs host, path, sni or alpn (default_pool takes what no rule matches)",
			sc.where);
		return;
	}
	r->kind = s_host != NULL || s_path != NULL ? L7_HTTP : L7_TLS;
	r->pool = (uint8_t)p;
	if (s_host != NULL)
		rule_name(&sc, s_host, "host", host, false, r->name);
	if (s_path != NULL)
		rule_path(&sc, s_path, path, r->path);
	if (s_sni != NULL)
		rule_name(&sc, s_sni, "sni", sni, true, r->name);
	if (s_alpn != NULL)
		rule_alpn(&sc, s_alpn, alpn, r->alpn);
}

/* The MSS that fits the largest port MTU for the VIP's family. */
static uint32_t
mss_max(const struct halb_cfg *cfg, const struct cfg_service *svc)
{
	uint32_t i, mtu = 0;

	for (i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].mtu > mtu)
			mtu = cfg->ports[i].mtu;
	if (mtu == 0)
		mtu = CFG_MTU_DEFAULT;
	return mtu - (halb_ip_is_v4(&svc->vip) || halb_ip_is_zero(&svc->vip) ?
		      40 : 60);
}

void
cfg_requests_service(const struct cfg_scope *ssc, unsigned int si,
		     bool mode_ok, bool proto_ok, bool port_ok)
{
	static const char *const keys[] = { "rules", "default_pool", "no_match",
		"max_request", "bind_timeout_ms", "max_binding", "wscale", "mss",
		NULL };
	struct cfg_ctx *ctx = ssc->ctx;
	struct cfg_service *svc = &ctx->cfg->services[si];
	struct cfg_l7 *l7 = &svc->l7;
	const config_setting_t *list, *s_mss;
	long long max_request = CFG_L7_MAX_REQUEST_DEFAULT;
	long long bind_ms = CFG_L7_BIND_TIMEOUT_DEFAULT;
	long long max_binding = CFG_L7_MAX_BINDING_DEFAULT;
	long long wscale = CFG_L7_WSCALE_DEFAULT, mss;
	unsigned int no_match = CFG_L7_NO_MATCH_RESET, i, n;
	uint32_t mss_top = mss_max(ctx->cfg, svc);
	char where[CFG_WHERE_LEN + 8]; /* "services[63].requests.rules" */
	struct cfg_scope sc;

	l7->default_pool = -1;
	if (!l7->has)
		return;
	sc_group(ssc, "requests", keys, &sc);
	if (sc.grp == NULL) {
		l7->has = false; /* not a group: reported */
		return;
	}
	l7->line = (int)cfg_setting_line(sc.grp);
	if (mode_ok && svc->mode != CFG_MODE_NAT)
		cfg_err(ctx, sc.grp,
			"%s: request routing needs mode \"nat\" (the forwarder must translate the backend's sequence numbers), not \"%s\"",
			sc.where, cfg_mode_name(svc->mode));
	if (proto_ok && svc->proto != IPPROTO_TCP)
		cfg_err(ctx, sc.grp, "%s: request routing is for protocol \"tcp\", not \"udp\"",
			sc.where);
	if (port_ok && svc->port == 0)
		cfg_err(ctx, sc.grp,
			"%s: request routing needs one service port, not 0 (all ports)",
			sc.where);

	sc_int(&sc, "max_request", false, CFG_L7_MAX_REQUEST_MIN,
	       CFG_L7_MAX_REQUEST_MAX, &max_request);
	sc_int(&sc, "bind_timeout_ms", false, 100, 60000, &bind_ms);
	sc_int(&sc, "max_binding", false, 1, CFG_L7_MAX_BINDING_MAX, &max_binding);
	/* RFC 7323 2.3: a shift of 14 at most. */
	sc_int(&sc, "wscale", false, 0, 14, &wscale);
	/* 536: the least MSS every IPv4 host takes (RFC 9293 3.7.1); the
	 * largest that the ports' MTU carries. */
	mss = CFG_L7_MSS_DEFAULT < mss_top ? CFG_L7_MSS_DEFAULT : mss_top;
	s_mss = sc_member(&sc, "mss", false);
	if (s_mss != NULL && sc_int(&sc, "mss", false, 536, 65535, &mss) != NULL &&
	    mss > mss_top)
		cfg_err(ctx, s_mss,
			"%s.mss: %lld does not fit the largest port MTU: %u at most for this %s VIP",
			sc.where, mss, mss_top,
			halb_ip_is_v4(&svc->vip) ? "IPv4" : "IPv6");
	sc_enum(&sc, "no_match", false, no_match_names, &no_match);
	l7->max_request = (uint32_t)max_request;
	l7->bind_timeout_ms = (uint32_t)bind_ms;
	l7->max_binding = (uint32_t)max_binding;
	l7->wscale = (uint8_t)wscale;
	l7->mss = (uint16_t)mss;
	l7->no_match = (uint8_t)no_match;

	l7->default_pool = (int16_t)pool_ref(&sc, svc, "default_pool", false);
	snprintf(where, sizeof(where), "%s.rules", sc.where);
	list = sc_list(&sc, "rules", false, 0, CFG_L7_MAX_RULES, &n);
	for (i = 0; i < n; i++)
		load_rule(ctx, svc, where, list, i);
	l7->n_rules = n;
	if (n == 0 && sc_member(&sc, "default_pool", false) == NULL)
		cfg_err(ctx, sc.grp,
			"%s: no rules and no default_pool: every connection would be refused",
			sc.where);
}

const char *
cfg_l7_no_match_name(unsigned int v)
{
	return v < CFG_L7_NO_MATCH_HTTP_503 + 1 ? no_match_names[v] : "?";
}
