/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifiers { } section (docs/CONFIG.md, "classifiers";
 * docs/CLASSIFIERS.md).  Optional: without it the forwarder has the one
 * local classifier and its Maglev fallback, as before.
 *
 *  - list: the classifiers in order of preference.  "local" is the
 *    classifier attached to the forwarder's shared memory, "standby" a
 *    second one waiting on its attach lock (halb-classifier --takeover),
 *    both watched through the shared-memory heartbeat, so they come
 *    first; "remote" ones are halb-classifier --remote on other
 *    machines, reached over UDP with the key of the pair.
 *  - serve: what halb-classifier --remote uses: its name, where it
 *    listens, and the forwarders it answers, each with the pair's key.
 * Read last: its keys are checked against the health and sessions keys.
 */
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

/* A frame's headers fit in 64 bytes for IPv4/TCP with options; the most
 * a punt message carries per frame is PUNT_FRAME_MAX (halb/punt_msg.h). */
#define FRAME_CAP_MIN 64
#define FRAME_CAP_MAX 512

static const char *const kind_names[] = { "local", "standby", "remote", NULL };

/* A pair's key is the pair's alone: one the agents, a health peer, a
 * sessions peer or another classifier pair hold would let them forge
 * decisions (a datagram's sender is whoever holds the key).  A list
 * entry and a serve.forwarders entry of one file may be the two ends of
 * one pair, so each is compared with its own kind only. */
static void
key_own(struct cfg_ctx *ctx, const config_setting_t *s, const char *where,
	const struct seal_key *k, bool punter)
{
	const struct halb_cfg *cfg = ctx->cfg;
	const struct cfg_classifiers *cc = &cfg->classifiers;
	uint32_t i;

	if (ctx->no_keys)
		return;
	if (cfg_same_secret(k, &cfg->health.key)) {
		cfg_err(ctx, s, "%s.key: the same key as health.key, which the agents hold: a classifier pair needs a key of its own",
			where);
		return;
	}
	for (i = 0; i < cfg->health.n_agents; i++)
		if (cfg_same_secret(k, &cfg->health.agents[i].key)) {
			cfg_err(ctx, s, "%s.key: the same key as agent host \"%s\" (line %d): a classifier pair needs a key of its own",
				where, cfg->health.agents[i].host,
				cfg->health.agents[i].line);
			return;
		}
	for (i = 0; punter && i < cc->n_punters; i++)
		if (cfg_same_secret(k, &cc->punters[i].key)) {
			cfg_err(ctx, s, "%s.key: the same key as forwarder \"%s\" (line %d): one key per pair",
				where, cc->punters[i].name, cc->punters[i].line);
			return;
		}
	for (i = 0; !punter && i < cc->n_list; i++)
		if (cc->list[i].kind == CFG_CLS_REMOTE &&
		    cfg_same_secret(k, &cc->list[i].key)) {
			cfg_err(ctx, s, "%s.key: the same key as remote classifier \"%s\" (line %d): one key per pair",
				where, cc->list[i].name, cc->list[i].line);
			return;
		}
	for (i = 0; i < cfg->health.n_peers; i++)
		if (cfg_same_secret(k, &cfg->health.peers[i].key)) {
			cfg_err(ctx, s, "%s.key: the same key as health peer \"%s\" (line %d): one key per pair and per protocol",
				where, cfg->health.peers[i].name,
				cfg->health.peers[i].line);
			return;
		}
	for (i = 0; i < cfg->sessions.n_peers; i++)
		if (cfg_same_secret(k, &cfg->sessions.peers[i].key)) {
			cfg_err(ctx, s, "%s.key: the same key as sessions peer \"%s\" (line %d): one key per pair and per protocol",
				where, cfg->sessions.peers[i].name,
				cfg->sessions.peers[i].line);
			return;
		}
}

/* classifiers.list[idx]: { kind; name; address; key or key_file; key_id }. */
static void
load_ent(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int idx)
{
	static const char *const keys[] = { "kind", "name", "address", "key",
		"key_file", "key_id", "health", NULL };
	struct cfg_classifiers *cc = &ctx->cfg->classifiers;
	struct cfg_cls_ent *e = &cc->list[cc->n_list];
	const config_setting_t *s_kind, *s_name = NULL, *s_addr = NULL,
		*s_key = NULL;
	unsigned int n_err = ctx->n_err, kind = 0, i;
	struct cfg_scope sc;
	long long id = 1;

	if (!sc_elem(ctx, list, idx, "classifiers.list", keys, &sc))
		return;
	memset(e, 0, sizeof(*e));
	e->line = (int)cfg_setting_line(sc.grp);
	s_kind = sc_enum(&sc, "kind", true, kind_names, &kind);
	e->kind = (uint8_t)kind;
	if (s_kind != NULL && kind == CFG_CLS_REMOTE) {
		s_name = sc_hostid(&sc, "name", true, e->name);
		s_addr = sc_endpoint(&sc, "address", true, &e->ip, &e->port);
		s_key = sc_hexkey(&sc, "key", true, &e->key);
		sc_int(&sc, "key_id", false, 0, 0x7fffffff, &id);
		e->key.id = (uint32_t)id;
		e->has_health = sc_endpoint(&sc, "health", false, &e->health_ip,
					    &e->health_port) != NULL;
		if (s_addr != NULL && (!cfg_ip_sendable(&e->ip) || e->port == 0))
			cfg_err(ctx, s_addr, "%s.address: not an address to send to",
				sc.where);
		if (s_key != NULL)
			key_own(ctx, s_key, sc.where, &e->key, false);
	} else if (s_kind != NULL) {
		const char *bad[] = { "name", "address", "key", "key_file",
			"key_id", "health", NULL };

		for (i = 0; bad[i] != NULL; i++) {
			const config_setting_t *s = sc_member(&sc, bad[i], false);

			if (s != NULL)
				cfg_err(ctx, s, "%s.%s: only a remote classifier has one",
					sc.where, bad[i]);
		}
	}
	if (s_kind != NULL) {
		for (i = 0; i < cc->n_list; i++) {
			if (kind != CFG_CLS_REMOTE && cc->list[i].kind == kind) {
				cfg_err(ctx, s_kind, "%s: a second \"%s\" classifier (also line %d)",
					sc.where, kind_names[kind], cc->list[i].line);
				break;
			}
			if (kind != CFG_CLS_REMOTE && cc->list[i].kind == CFG_CLS_REMOTE) {
				cfg_err(ctx, s_kind, "%s: \"%s\" after a remote classifier (line %d): the classifiers on this machine come first",
					sc.where, kind_names[kind], cc->list[i].line);
				break;
			}
			if (kind == CFG_CLS_STANDBY && cc->list[i].kind == CFG_CLS_LOCAL)
				continue;
			if (kind == CFG_CLS_REMOTE && s_name != NULL &&
			    cc->list[i].kind == CFG_CLS_REMOTE &&
			    strcmp(cc->list[i].name, e->name) == 0) {
				cfg_err(ctx, s_name, "%s.name: duplicate remote classifier \"%s\" (also line %d)",
					sc.where, e->name, cc->list[i].line);
				break;
			}
		}
		if (kind == CFG_CLS_STANDBY &&
		    (cc->n_list == 0 || cc->list[0].kind != CFG_CLS_LOCAL))
			cfg_err(ctx, s_kind, "%s: a \"standby\" stands by a \"local\" classifier listed before it",
				sc.where);
	}
	if (ctx->n_err == n_err && s_kind != NULL)
		cc->n_list++;
}

/* classifiers.serve.forwarders[idx]: { name; key or key_file; key_id;
 * address }: address, when given, is the only source its datagrams are
 * taken from and answered to (p->ip; zero: none given). */
static void
load_punter(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int idx)
{
	static const char *const keys[] = { "name", "key", "key_file",
		"key_id", "address", NULL };
	struct cfg_classifiers *cc = &ctx->cfg->classifiers;
	struct cfg_peer *p = &cc->punters[cc->n_punters];
	const config_setting_t *s_name, *s_key;
	unsigned int n_err = ctx->n_err, i;
	struct cfg_scope sc;
	long long id = 1;

	if (!sc_elem(ctx, list, idx, "classifiers.serve.forwarders", keys, &sc))
		return;
	memset(p, 0, sizeof(*p));
	p->line = (int)cfg_setting_line(sc.grp);
	s_name = sc_hostid(&sc, "name", true, p->name);
	s_key = sc_hexkey(&sc, "key", true, &p->key);
	sc_int(&sc, "key_id", false, 0, 0x7fffffff, &id);
	p->key.id = (uint32_t)id;
	sc_anyaddr(&sc, "address", false, &p->ip);
	if (s_key != NULL)
		key_own(ctx, s_key, sc.where, &p->key, true);
	if (s_name != NULL) {
		for (i = 0; i < cc->n_punters; i++)
			if (strcmp(cc->punters[i].name, p->name) == 0) {
				cfg_err(ctx, s_name, "%s.name: duplicate forwarder \"%s\" (also line %d)",
					sc.where, p->name, cc->punters[i].line);
				break;
			}
		if (strcmp(p->name, cc->serve_name) == 0)
			cfg_err(ctx, s_name, "%s.name: \"%s\" is this classifier's own serve.name",
				sc.where, p->name);
	}
	if (ctx->n_err == n_err && s_name != NULL && s_key != NULL)
		cc->n_punters++;
}

static void
load_serve(struct cfg_ctx *ctx, const struct cfg_scope *parent)
{
	static const char *const keys[] = { "name", "listen", "health",
		"forwarders", NULL };
	struct cfg_classifiers *cc = &ctx->cfg->classifiers;
	const config_setting_t *list;
	struct cfg_scope sc;
	unsigned int i, n;

	sc_group(parent, "serve", keys, &sc);
	cc->has_serve = sc.grp != NULL;
	snprintf(cc->serve_name, sizeof(cc->serve_name), "%.50s-classifier",
		 ctx->cfg->file_prefix);
	halb_ip_parse("0.0.0.0", &cc->serve_ip);
	cc->serve_port = CFG_PUNT_PORT;
	if (!cc->has_serve)
		return;
	sc_hostid(&sc, "name", false, cc->serve_name);
	sc_endpoint(&sc, "listen", false, &cc->serve_ip, &cc->serve_port);
	cc->has_serve_health = sc_endpoint(&sc, "health", false,
					   &cc->serve_health_ip,
					   &cc->serve_health_port) != NULL;
	list = sc_list(&sc, "forwarders", true, 1, CFG_MAX_PUNTERS, &n);
	for (i = 0; i < n; i++)
		load_punter(ctx, list, i);
}

static void
load_classifiers(const struct cfg_scope *root)
{
	static const char *const keys[] = { "name", "timeout_ms", "ping_ms",
		"hold", "hold_ms", "frame_cap", "list", "serve", NULL };
	struct cfg_ctx *ctx = root->ctx;
	struct halb_cfg *cfg = ctx->cfg;
	struct cfg_classifiers *cc = &cfg->classifiers;
	const config_setting_t *s, *list;
	long long timeout = 300, ping = 50, hold = 4096, hold_ms = 200,
		  cap = 256;
	struct cfg_scope sc;
	unsigned int i, n;

	sc_group(root, "classifiers", keys, &sc);
	cc->has = sc.grp != NULL;
	cc->line = (int)cfg_setting_line(sc.grp);
	snprintf(cc->name, sizeof(cc->name), "%s",
		 cfg->has_health ? cfg->health.name : cfg->file_prefix);
	sc_hostid(&sc, "name", false, cc->name);
	sc_int(&sc, "ping_ms", false, 5, 10000, &ping);
	cc->ping_ms = (uint32_t)ping;
	s = sc_int(&sc, "timeout_ms", false, 10, 60000, &timeout);
	if (timeout < 2 * ping)
		cfg_err(ctx, s != NULL ? s : sc.grp,
			"classifiers.timeout_ms %lld: must be at least twice ping_ms (%lld)",
			timeout, ping);
	cc->timeout_ms = (uint32_t)timeout;
	sc_int(&sc, "hold", false, 1, 1048576, &hold);
	cc->hold = (uint32_t)hold;
	sc_int(&sc, "hold_ms", false, 1, 10000, &hold_ms);
	cc->hold_ms = (uint32_t)hold_ms;
	sc_int(&sc, "frame_cap", false, FRAME_CAP_MIN, FRAME_CAP_MAX, &cap);
	cc->frame_cap = (uint32_t)cap;
	list = sc_list(&sc, "list", false, 0, CFG_MAX_CLASSIFIERS, &n);
	for (i = 0; i < n; i++)
		load_ent(ctx, list, i);
	load_serve(ctx, &sc);
}

const struct cfg_section cfg_section_classifiers = {
	.name = "classifiers",
	.keys = (const char *const[]){ "classifiers", NULL },
	.load = load_classifiers,
};
