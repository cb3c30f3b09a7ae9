/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health part of the appliance configuration (docs/CONFIG.md,
 * docs/HEALTH.md): each backend's optional agent { } and check { }, and
 * the top-level health { } of halb-healthd and of the classifier that
 * trusts it.
 *
 * An agent host is written either once in health.agents (its key
 * given once; backends then say agent = "HOST"), read before the
 * services (cfg_section_agents), or in every backend it serves as
 * agent { host; key; ... } (the older form, still accepted; the two
 * mix).  Backends are read with the services (cfg_services.c calls
 * cfg_health_backend() for each), so that by the time health { } is
 * read every agent host is known: peers and health.name must not reuse
 * one.  Agents are kept once per host id in cfg->health.agents; every
 * backend naming a host must give it the same key, key id and port (a
 * host has one agent).  Every
 * default is resolved here, so that programs read plain values: a check
 * has a type, a port and an address; a socket has a path.
 *
 * Like every section, every mistake is one "FILE:LINE: message" and loading goes
 * on; nothing here keeps state between calls.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

#define AGENT_PORT_DEFAULT 7301
#define HEALTH_PORT_DEFAULT 7300
#define KEY_ID_MAX 2147483647LL  /* libconfig reads larger only with an L */

/* Every kind of check (enum cfg_check_type), and the ones halb-healthd
 * probes with: those the appliance's file offers. */
const char *const cfg_check_names[] = {
#define CHECK_NAME(e, name, ops) name,
	CFG_CHECK_KINDS(CHECK_NAME)
#undef CHECK_NAME
	NULL
};
static const char *const check_names[] = { "none", "tcp", "http", NULL };
static const char *const policy_names[] = { "static", "agent",
	"least-load", NULL };

const char *
cfg_check_name(unsigned int type)
{
	return type < CFG_CHECK__COUNT ? cfg_check_names[type] : "?";
}

const char *
cfg_weight_policy_name(unsigned int policy)
{
	return policy <= CFG_WEIGHT_LEAST_LOAD ? policy_names[policy] : "?";
}

/* ---- getters ---- */

int
cfg_hex_key(const char *hex, struct seal_key *k, char *why, size_t len)
{
	size_t n = strlen(hex), i;
	uint8_t b[SEAL_KEY_MAX];

	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)hex[i])) {
			snprintf(why, len, "'%c' at %zu is not a hex digit",
				 isprint((unsigned char)hex[i]) ? hex[i] : '?',
				 i + 1);
			return -EINVAL;
		}
	}
	if (n % 2 != 0) {
		snprintf(why, len, "odd number of hex digits (%zu)", n);
		return -EINVAL;
	}
	if (n / 2 < SEAL_KEY_MIN || n / 2 > SEAL_KEY_MAX) {
		snprintf(why, len,
			 "%zu bytes, expected %u to %u (%u to %u hex digits; `openssl rand -hex 32` makes one)",
			 n / 2, SEAL_KEY_MIN, SEAL_KEY_MAX, 2 * SEAL_KEY_MIN,
			 2 * SEAL_KEY_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n / 2; i++) {
		char two[3] = { hex[2 * i], hex[2 * i + 1], '\0' };

		b[i] = (uint8_t)strtoul(two, NULL, 16);
	}
	memcpy(k->bytes, b, n / 2);
	k->len = (uint32_t)(n / 2);
	return 0;
}

int
cfg_key_file(const char *path, struct seal_key *k, char *why, size_t len)
{
	char buf[2 * SEAL_KEY_MAX + 64], *p, *e;
	struct stat st;
	ssize_t n;
	int fd, rc;

	/* O_NONBLOCK: a FIFO in its place must not hang the load. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, len, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s is not a regular file", path);
		rc = -EINVAL;
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, len,
			 "%s has mode %04o: group or others may access it; a key file must be 0600 or 0400 (chmod 600 %s)",
			 path, (unsigned int)(st.st_mode & 07777), path);
		rc = -EPERM;
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, len,
			 "%s is owned by uid %u, neither root nor this program's user (uid %u)",
			 path, (unsigned int)st.st_uid, (unsigned int)geteuid());
		rc = -EPERM;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0 || (size_t)n == sizeof(buf) - 1) {
		snprintf(why, len, "%s: %s", path, n < 0 ? strerror(errno) :
			 "longer than any key");
		rc = n < 0 ? -EIO : -EINVAL;
		goto out;
	}
	buf[n] = '\0';
	for (p = buf; isspace((unsigned char)*p); p++)
		;
	for (e = p + strlen(p); e > p && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	rc = cfg_hex_key(p, k, why, len);
	if (rc != 0) {
		char inner[160];

		snprintf(inner, sizeof(inner), "%s", why);
		snprintf(why, len, "%s: %s", path, inner);
	}
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* path, or path relative to the directory of the configuration file. */
static const char *
key_path(const struct cfg_ctx *ctx, const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(ctx->path, '/');

	if (path[0] == '/' || slash == NULL)
		return path;
	snprintf(buf, len, "%.*s/%s", (int)(slash - ctx->path), ctx->path,
		 path);
	return buf;
}

const config_setting_t *
sc_hexkey(const struct cfg_scope *sc, const char *key, bool required,
	  struct seal_key *k)
{
	const config_setting_t *s, *s_file;
	const char *v = NULL;
	char name[96], fkey[64], why[PATH_MAX + 192], path[PATH_MAX];

	snprintf(fkey, sizeof(fkey), "%s_file", key);
	s = sc_member(sc, key, false);
	s_file = sc_member(sc, fkey, false);
	if (s != NULL && s_file != NULL) {
		cfg_err(sc->ctx, s_file, "%s: give %s or %s, not both",
			cfg_key_name(sc, fkey, name, sizeof(name)), key, fkey);
		return NULL;
	}
	if (s == NULL && s_file == NULL) {
		if (required) {
			snprintf(why, sizeof(why), " (or \"%s\")", fkey);
			cfg_missing_err(sc, key, why);
		}
		return NULL;
	}
	if (s_file != NULL) {
		s = sc_str(sc, fkey, true, &v);
		if (s == NULL || sc->ctx->no_keys)
			return s;
		if (v[0] == '\0') {
			cfg_err(sc->ctx, s, "%s: empty path",
				cfg_key_name(sc, fkey, name, sizeof(name)));
			return NULL;
		}
		if (cfg_key_file(key_path(sc->ctx, v, path, sizeof(path)), k,
				 why, sizeof(why)) != 0) {
			cfg_err(sc->ctx, s, "%s: %s",
				cfg_key_name(sc, fkey, name, sizeof(name)), why);
			return NULL;
		}
		return s;
	}
	s = sc_str(sc, key, true, &v);
	if (s == NULL || sc->ctx->no_keys)
		return s;
	sc->ctx->inline_keys++;
	if (cfg_hex_key(v, k, why, sizeof(why)) != 0) {
		/* Never echo a secret, even a bad one. */
		cfg_err(sc->ctx, s, "%s: bad key: %s",
			cfg_key_name(sc, key, name, sizeof(name)), why);
		return NULL;
	}
	return s;
}

int
cfg_parse_endpoint(const char *s, struct halb_ip *ip, uint16_t *port)
{
	char addr[64];
	const char *colon;
	unsigned long p;
	char *end;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - s - 1);
		if (n >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, s + 1, n);
		addr[n] = '\0';
		colon = close + 1;
		if (strchr(addr, ':') == NULL)
			return -EINVAL; /* brackets are for IPv6 only */
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -EINVAL; /* none, or IPv6 without brackets */
		n = (size_t)(colon - s);
		if (n >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, s, n);
		addr[n] = '\0';
	}
	if (!isdigit((unsigned char)colon[1]))
		return -EINVAL;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return -EINVAL;
	if (halb_ip_parse(addr, ip) != 0)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

const config_setting_t *
sc_endpoint(const struct cfg_scope *sc, const char *key, bool required,
	    struct halb_ip *ip, uint16_t *port)
{
	const config_setting_t *s;
	const char *v = NULL;
	char name[96];

	s = sc_str(sc, key, required, &v);
	if (s == NULL)
		return NULL;
	if (cfg_parse_endpoint(v, ip, port) != 0) {
		cfg_err(sc->ctx, s,
			"%s: \"%s\" is not ADDRESS:PORT (\"198.18.0.3:7300\", \"[fd00::3]:7300\", port 1..65535)",
			cfg_key_name(sc, key, name, sizeof(name)), v);
		return NULL;
	}
	return s;
}

bool
cfg_ip_sendable(const struct halb_ip *a)
{
	if (halb_ip_is_zero(a))
		return false;
	if (halb_ip_is_v4(a))
		return a->b[12] != 0 && a->b[12] < 224;
	return a->b[0] != 0xff;
}

const config_setting_t *
sc_anyaddr(const struct cfg_scope *sc, const char *key, bool required,
	   struct halb_ip *out)
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
		cfg_err(sc->ctx, s, "bad address \"%s\" for %s", v, name);
		return NULL;
	}
	if (!cfg_ip_sendable(&a)) {
		cfg_err(sc->ctx, s,
			"%s: \"%s\" is not an address to send to (unspecified or multicast)",
			name, v);
		return NULL;
	}
	*out = a;
	return s;
}

const config_setting_t *
sc_sockpath(const struct cfg_scope *sc, const char *key,
	    char out[CFG_SOCK_LEN])
{
	const config_setting_t *s;
	const char *v = NULL;
	char name[96];

	s = sc_str(sc, key, false, &v);
	if (s == NULL)
		return NULL;
	cfg_key_name(sc, key, name, sizeof(name));
	if (v[0] != '/' || strlen(v) >= CFG_SOCK_LEN) {
		cfg_err(sc->ctx, s,
			"%s: \"%s\" must be an absolute path of at most %d characters",
			name, v, CFG_SOCK_LEN - 1);
		return NULL;
	}
	memcpy(out, v, strlen(v) + 1);
	return s;
}

/* A key id: 0..2^31-1, 1 when absent. */
static void
sc_keyid(const struct cfg_scope *sc, struct seal_key *k)
{
	long long v = 1;

	sc_int(sc, "key_id", false, 0, KEY_ID_MAX, &v);
	k->id = (uint32_t)v;
}

static bool
key_eq(const struct seal_key *a, const struct seal_key *b)
{
	return a->id == b->id && a->len == b->len &&
	       memcmp(a->bytes, b->bytes, a->len) == 0;
}

bool
cfg_same_secret(const struct seal_key *a, const struct seal_key *b)
{
	return a->len != 0 && a->len == b->len &&
	       memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* ---- per backend ---- */

static int agent_index(const struct cfg_health *h, const char *host);

/* agent = "HOST": a host of health.agents.  The first backend naming a
 * host without an address gives it its own. */
static void
load_backend_agent_ref(const struct cfg_scope *be_sc, struct cfg_backend *be,
		       bool ip_ok)
{
	struct cfg_health *h = &be_sc->ctx->cfg->health;
	const config_setting_t *s;
	char host[CFG_HOST_LEN], name[96];
	int i;

	s = sc_hostid(be_sc, "agent", true, host);
	if (s == NULL)
		return;
	i = agent_index(h, host);
	if (i < 0 || !h->agents[i].listed) {
		cfg_err(be_sc->ctx, s,
			"%s: agent host \"%s\" is not in health.agents (write it there once, with its key, or give agent = { host; key; })",
			cfg_key_name(be_sc, "agent", name, sizeof(name)), host);
		return;
	}
	if (halb_ip_is_zero(&h->agents[i].addr) && ip_ok)
		h->agents[i].addr = be->ip;
	be->agent = (uint16_t)(i + 1);
}

/* agent { host; key; key_id; port; address }: the host's entry in
 * health.agents, added or checked against the one already there; or
 * agent = "HOST" (load_backend_agent_ref). */
/* Appends agent host a, read in scope sc: its 1-based index, or 0 when
 * there are CFG_MAX_AGENTS already (reported). */
static uint16_t
agent_append(struct cfg_ctx *ctx, const struct cfg_scope *sc,
	     struct cfg_health *h, const struct cfg_agent *a)
{
	if (h->n_agents == CFG_MAX_AGENTS) {
		cfg_err(ctx, sc->grp, "%s: more than %d agent hosts", sc->where,
			CFG_MAX_AGENTS);
		return 0;
	}
	h->agents[h->n_agents++] = *a;
	return (uint16_t)h->n_agents;
}

static void
load_backend_agent(const struct cfg_scope *be_sc, struct cfg_backend *be,
		   bool ip_ok)
{
	static const char *const keys[] = { "host", "key", "key_file",
		"key_id", "port", "address", NULL };
	struct cfg_ctx *ctx = be_sc->ctx;
	struct cfg_health *h = &ctx->cfg->health;
	struct cfg_agent a = { .port = AGENT_PORT_DEFAULT };
	const config_setting_t *s_host, *s_key, *s_addr;
	unsigned int n_err = ctx->n_err, i;
	struct cfg_scope sc;
	long long port = AGENT_PORT_DEFAULT;

	s_host = sc_member(be_sc, "agent", false);
	if (s_host != NULL && config_setting_type(s_host) == CONFIG_TYPE_STRING) {
		load_backend_agent_ref(be_sc, be, ip_ok);
		return;
	}
	sc_group(be_sc, "agent", keys, &sc);
	if (sc.grp == NULL)
		return;
	a.line = (int)cfg_setting_line(sc.grp);
	s_host = sc_hostid(&sc, "host", true, a.host);
	s_key = sc_hexkey(&sc, "key", true, &a.key);
	sc_keyid(&sc, &a.key);
	sc_int(&sc, "port", false, 1, 65535, &port);
	a.port = (uint16_t)port;
	s_addr = sc_anyaddr(&sc, "address", false, &a.addr);
	if (s_addr == NULL && ip_ok)
		a.addr = be->ip;
	if (ctx->n_err != n_err || s_host == NULL || s_key == NULL)
		return;

	for (i = 0; i < h->n_agents; i++)
		if (strcmp(h->agents[i].host, a.host) == 0)
			break;
	if (i < h->n_agents) {
		const struct cfg_agent *o = &h->agents[i];

		if (!key_eq(&o->key, &a.key))
			cfg_err(ctx, s_key,
				"%s.key: agent host \"%s\" has another key or key_id at line %d: one host, one key",
				sc.where, a.host, o->line);
		else if (o->port != a.port)
			cfg_err(ctx, sc.grp,
				"%s.port: agent host \"%s\" listens on port %u at line %d: one host, one agent",
				sc.where, a.host, o->port, o->line);
		else
			be->agent = (uint16_t)(i + 1);
		if (be->agent != 0 && halb_ip_is_zero(&h->agents[i].addr))
			h->agents[i].addr = a.addr;
		return;
	}
	be->agent = agent_append(ctx, &sc, h, &a);
}

/* path: "/..." of printable characters without spaces. */
static void
load_check_path(const struct cfg_scope *sc, struct cfg_check *c)
{
	const config_setting_t *s;
	const char *v = NULL;
	char name[96];
	size_t i, n;

	s = sc_str(sc, "path", false, &v);
	if (s == NULL)
		return;
	cfg_key_name(sc, "path", name, sizeof(name));
	n = strlen(v);
	if (v[0] != '/' || n >= CFG_CHECK_PATH_LEN) {
		cfg_err(sc->ctx, s,
			"%s: \"%s\" must start with '/' and be at most %d characters",
			name, v, CFG_CHECK_PATH_LEN - 1);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!isgraph((unsigned char)v[i])) {
			cfg_err(sc->ctx, s,
				"%s: \"%s\" may hold no spaces or control characters",
				name, v);
			return;
		}
	}
	memcpy(c->path, v, n + 1);
}

/*
 * check { type; port; path; expect; interval_ms; timeout_ms; rise; fall;
 * address }.  Without the group: "none" for a backend with an agent (the
 * host is the authority), for a UDP service and when there is no port
 * to probe; "tcp" otherwise.  With the group, type defaults to "tcp".
 */
static void
load_backend_check(const struct cfg_scope *be_sc, unsigned int si,
		   struct cfg_backend *be, bool base_ok)
{
	static const char *const keys[] = { "type", "port", "path", "expect",
		"interval_ms", "timeout_ms", "rise", "fall", "address", NULL };
	static const char *const probe_only[] = { "port", "path", "expect",
		"interval_ms", "timeout_ms", "rise", "fall", "address", NULL };
	const struct cfg_service *svc = &be_sc->ctx->cfg->services[si];
	struct cfg_check *c = &be->check;
	const config_setting_t *s_iv, *s_to, *s;
	long long port = 0, expect = 200, iv = 1000, to = 500, rise = 2,
		  fall = 3;
	unsigned int type, i;
	struct cfg_scope sc;

	sc_group(be_sc, "check", keys, &sc);
	if (sc.grp == NULL)
		type = be->agent != 0 || svc->proto == IPPROTO_UDP ||
		       cfg_backend_port(svc, be) == 0 ? CFG_CHECK_NONE :
		       CFG_CHECK_TCP;
	else
		type = CFG_CHECK_TCP;
	if (sc.grp != NULL && sc_member(&sc, "type", false) != NULL &&
	    sc_enum(&sc, "type", false, check_names, &type) == NULL)
		return;
	c->type = (uint8_t)type;

	/* Keys that the type does not use are mistakes, not silence. */
	for (i = 0; sc.grp != NULL && probe_only[i] != NULL; i++) {
		bool http = strcmp(probe_only[i], "path") == 0 ||
			    strcmp(probe_only[i], "expect") == 0;

		s = sc_member(&sc, probe_only[i], false);
		if (s == NULL)
			continue;
		if (type == CFG_CHECK_NONE)
			cfg_err(sc.ctx, s, "%s.%s: only for type \"tcp\" or \"http\", not \"none\"",
				sc.where, probe_only[i]);
		else if (http && type != CFG_CHECK_HTTP)
			cfg_err(sc.ctx, s, "%s.%s: only for type \"http\", not \"%s\"",
				sc.where, probe_only[i], check_names[type]);
	}
	if (type == CFG_CHECK_NONE)
		return;

	snprintf(c->path, sizeof(c->path), "/");
	load_check_path(&sc, c);
	sc_int(&sc, "expect", false, 100, 599, &expect);
	c->expect = (uint16_t)expect;
	s_iv = sc_int(&sc, "interval_ms", false, 100, 3600000, &iv);
	s_to = sc_int(&sc, "timeout_ms", false, 10, 3600000, &to);
	if (to > iv)
		cfg_err(sc.ctx, s_to != NULL ? s_to : s_iv,
			"%s.timeout_ms %lld is longer than interval_ms %lld",
			sc.where, to, iv);
	c->interval_ms = (uint32_t)iv;
	c->timeout_ms = (uint32_t)to;
	sc_int(&sc, "rise", false, 1, 100, &rise);
	sc_int(&sc, "fall", false, 1, 100, &fall);
	c->rise = (uint8_t)rise;
	c->fall = (uint8_t)fall;
	if (sc_anyaddr(&sc, "address", false, &c->addr) == NULL)
		c->addr = be->ip;

	s = sc_int(&sc, "port", false, 1, 65535, &port);
	if (s == NULL && sc_member(&sc, "port", false) != NULL)
		return;
	if (port == 0 && base_ok)
		port = cfg_backend_port(svc, be);
	if (port == 0 && base_ok)
		cfg_err(sc.ctx, sc.grp,
			"%s: no port to probe: the service covers all ports, give check.port",
			sc.where);
	c->port = (uint16_t)port;
}

void
cfg_health_backend(struct cfg_scope *sc, unsigned int si, unsigned int bi,
		   bool ip_ok)
{
	struct cfg_backend *be = &sc->ctx->cfg->services[si].backends[bi];

	load_backend_agent(sc, be, ip_ok);
	load_backend_check(sc, si, be, ip_ok);
}

/* ---- health { } ---- */

static int
agent_index(const struct cfg_health *h, const char *host)
{
	unsigned int i;

	for (i = 0; i < h->n_agents; i++)
		if (strcmp(h->agents[i].host, host) == 0)
			return (int)i;
	return -1;
}

static void
load_peer(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int idx)
{
	static const char *const keys[] = { "name", "address", "key",
		"key_file", "key_id", NULL };
	struct cfg_health *h = &ctx->cfg->health;
	struct cfg_peer *p = &h->peers[h->n_peers];
	const config_setting_t *s_name, *s_addr, *s_key;
	unsigned int n_err = ctx->n_err, i;
	struct cfg_scope sc;
	int ai;

	if (!sc_elem(ctx, list, idx, "health.peers", keys, &sc))
		return;
	memset(p, 0, sizeof(*p));
	p->line = (int)cfg_setting_line(sc.grp);
	s_name = sc_hostid(&sc, "name", true, p->name);
	s_addr = sc_endpoint(&sc, "address", true, &p->ip, &p->port);
	s_key = sc_hexkey(&sc, "key", true, &p->key);
	sc_keyid(&sc, &p->key);
	if (s_addr != NULL && !cfg_ip_sendable(&p->ip))
		cfg_err(ctx, s_addr,
			"%s.address: not an address to send to (unspecified or multicast)",
			sc.where);
	if (s_name != NULL) {
		for (i = 0; i < h->n_peers; i++)
			if (strcmp(h->peers[i].name, p->name) == 0)
				break;
		ai = agent_index(h, p->name);
		if (i < h->n_peers)
			cfg_err(ctx, s_name, "duplicate peer \"%s\" (also line %d)",
				p->name, h->peers[i].line);
		else if (strcmp(p->name, h->name) == 0)
			cfg_err(ctx, s_name,
				"%s.name: \"%s\" is this appliance's own health.name",
				sc.where, p->name);
		else if (ai >= 0)
			cfg_err(ctx, s_name,
				"%s.name: \"%s\" is also an agent host (line %d): senders need one name each",
				sc.where, p->name, h->agents[ai].line);
	}
	/* A peer's key is the pair's alone: agents hold health.key, and
	 * each agent its own; with either, a backend host could sign
	 * snapshots that set backends' state on this appliance. */
	if (s_key != NULL && cfg_same_secret(&p->key, &h->key))
		cfg_err(ctx, s_key,
			"%s.key: the same key as health.key, which the agents hold: a peer needs a key of its own, shared with that peer alone",
			sc.where);
	for (i = 0; s_key != NULL && i < h->n_agents; i++) {
		if (cfg_same_secret(&p->key, &h->agents[i].key)) {
			cfg_err(ctx, s_key,
				"%s.key: the same key as agent host \"%s\" (line %d): a peer needs a key of its own, shared with that peer alone",
				sc.where, h->agents[i].host, h->agents[i].line);
			break;
		}
	}
	for (i = 0; s_key != NULL && i < h->n_peers; i++) {
		if (cfg_same_secret(&p->key, &h->peers[i].key)) {
			cfg_err(ctx, s_key,
				"%s.key: the same key as peer \"%s\" (line %d): one key per pair of appliances",
				sc.where, h->peers[i].name, h->peers[i].line);
			break;
		}
	}
	if (ctx->n_err == n_err && s_name != NULL && s_addr != NULL &&
	    s_key != NULL)
		h->n_peers++;
}

/* health.agents[idx]: { host; key or key_file; key_id; port; address }. */
static void
load_listed_agent(struct cfg_ctx *ctx, const config_setting_t *list,
		  unsigned int idx)
{
	static const char *const keys[] = { "host", "key", "key_file",
		"key_id", "port", "address", NULL };
	struct cfg_health *h = &ctx->cfg->health;
	struct cfg_agent a = { .port = AGENT_PORT_DEFAULT, .listed = true };
	const config_setting_t *s_host, *s_key;
	unsigned int n_err = ctx->n_err;
	long long port = AGENT_PORT_DEFAULT;
	struct cfg_scope sc;
	int i;

	if (!sc_elem(ctx, list, idx, "health.agents", keys, &sc))
		return;
	a.line = (int)cfg_setting_line(sc.grp);
	s_host = sc_hostid(&sc, "host", true, a.host);
	s_key = sc_hexkey(&sc, "key", true, &a.key);
	sc_keyid(&sc, &a.key);
	sc_int(&sc, "port", false, 1, 65535, &port);
	a.port = (uint16_t)port;
	sc_anyaddr(&sc, "address", false, &a.addr);
	if (ctx->n_err != n_err || s_host == NULL || s_key == NULL)
		return;
	i = agent_index(h, a.host);
	if (i >= 0) {
		cfg_err(ctx, s_host, "%s.host: \"%s\" is listed already at line %d",
			sc.where, a.host, h->agents[i].line);
		return;
	}
	agent_append(ctx, &sc, h, &a);
}

/* health.agents, read before the services so that their backends can
 * name its hosts; the rest of health { } comes after them. */
static void
load_agents(const struct cfg_scope *root)
{
	const config_setting_t *hg = sc_member(root, "health", false), *list;
	struct cfg_scope hs = { .ctx = root->ctx, .grp = hg, .where = "health" };
	unsigned int i, n;

	if (hg == NULL || !config_setting_is_group(hg))
		return; /* the health section says what is wrong */
	list = sc_list(&hs, "agents", false, 0, CFG_MAX_AGENTS, &n);
	for (i = 0; i < n; i++)
		load_listed_agent(root->ctx, list, i);
}

const struct cfg_section cfg_section_agents = {
	.name = "health.agents",
	.keys = (const char *const[]){ NULL },
	.load = load_agents,
};

/* The optional top-level health { }; after the services, whose agents
 * it checks its names against. */
static void
load_health(const struct cfg_scope *root)
{
	static const char *const keys[] = { "listen", "name", "key",
		"key_file", "key_id",
		"weight_policy", "weight_min", "weight_max", "report_window_ms",
		"handler_timeout_ms", "socket", "status_socket", "state_file",
		"peers", "agents", NULL };
	struct cfg_ctx *ctx = root->ctx;
	struct halb_cfg *cfg = ctx->cfg;
	struct cfg_health *h = &cfg->health;
	const config_setting_t *s_name, *s_min, *s_max, *list;
	long long wmin = 1, wmax = CFG_MAX_WEIGHT, win = 5000, hto = 3000;
	unsigned int policy = CFG_WEIGHT_STATIC, i, n;
	struct cfg_scope sc;
	int ai;

	sc_group(root, "health", keys, &sc);
	cfg->has_health = sc.grp != NULL;
	h->line = (int)cfg_setting_line(sc.grp);
	halb_ip_parse("0.0.0.0", &h->listen_ip);
	h->listen_port = HEALTH_PORT_DEFAULT;
	sc_endpoint(&sc, "listen", false, &h->listen_ip, &h->listen_port);

	snprintf(h->name, sizeof(h->name), "%s", cfg->file_prefix);
	s_name = sc_hostid(&sc, "name", false, h->name);
	ai = agent_index(h, h->name);
	if (ai >= 0)
		cfg_err(ctx, s_name != NULL ? s_name : sc.grp,
			"health.name \"%s\" is also an agent host (line %d): senders need one name each",
			h->name, h->agents[ai].line);
	sc_hexkey(&sc, "key", false, &h->key);
	sc_keyid(&sc, &h->key);

	sc_enum(&sc, "weight_policy", false, policy_names, &policy);
	h->weight_policy = (uint8_t)policy;
	s_min = sc_int(&sc, "weight_min", false, 1, CFG_MAX_WEIGHT, &wmin);
	s_max = sc_int(&sc, "weight_max", false, 1, CFG_MAX_WEIGHT, &wmax);
	if (wmin > wmax)
		cfg_err(ctx, s_min != NULL ? s_min : s_max,
			"health.weight_min %lld is above health.weight_max %lld",
			wmin, wmax);
	h->weight_min = (uint32_t)wmin;
	h->weight_max = (uint32_t)wmax;
	sc_int(&sc, "report_window_ms", false, 100, 600000, &win);
	h->report_window_ms = (uint32_t)win;
	sc_int(&sc, "handler_timeout_ms", false, 100, 600000, &hto);
	h->handler_timeout_ms = (uint32_t)hto;

	snprintf(h->socket, sizeof(h->socket), "/run/halb/%s.health",
		 cfg->file_prefix);
	sc_sockpath(&sc, "socket", h->socket);
	snprintf(h->status_socket, sizeof(h->status_socket),
		 "/run/halb/%s.healthd.sock", cfg->file_prefix);
	sc_sockpath(&sc, "status_socket", h->status_socket);
	if (strcmp(h->socket, h->status_socket) == 0)
		cfg_err(ctx, sc.grp,
			"health.socket and health.status_socket are both \"%s\"",
			h->socket);
	/* Operator decisions outlive a reboot: not under /run. */
	snprintf(h->state_file, sizeof(h->state_file),
		 "/var/lib/halb/%s.operator", cfg->file_prefix);
	sc_sockpath(&sc, "state_file", h->state_file);
	if (strcmp(h->state_file, h->socket) == 0 ||
	    strcmp(h->state_file, h->status_socket) == 0)
		cfg_err(ctx, sc.grp,
			"health.state_file \"%s\" is also a socket's path",
			h->state_file);

	list = sc_list(&sc, "peers", false, 0, CFG_MAX_PEERS, &n);
	for (i = 0; i < n; i++)
		load_peer(ctx, list, i);
	/* A listed host that no backend names needs its address given. */
	for (i = 0; i < h->n_agents; i++)
		if (h->agents[i].listed && halb_ip_is_zero(&h->agents[i].addr))
			cfg_err(ctx, sc.grp,
				"health.agents: host \"%s\" (line %d) has no address and no backend names it",
				h->agents[i].host, h->agents[i].line);
}

const struct cfg_section cfg_section_health = {
	.name = "health",
	.keys = (const char *const[]){ "health", NULL },
	.load = load_health,
};
