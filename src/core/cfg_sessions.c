/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sessions { } section: halb-sessiond, the session tracker
 * (docs/CONFIG.md, "sessions"; docs/SESSIONS.md).  Optional: without it
 * the forwarder makes no session ring and no replica table, and the
 * classifier emits no session event.  Read after health { }, whose name
 * and keys its own are checked against.
 *
 * A peer is another appliance's halb-sessiond: its name on the sync
 * link, its sync address and the key of the pair, one key per pair, as
 * health.peers.
 */
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

/* sessions.peers[idx]: { name; address; key or key_file; key_id }. */
static void
load_peer(struct cfg_ctx *ctx, const config_setting_t *list, unsigned int idx)
{
	static const char *const keys[] = { "name", "address", "key",
		"key_file", "key_id", NULL };
	struct cfg_sessions *ss = &ctx->cfg->sessions;
	const struct cfg_health *h = &ctx->cfg->health;
	struct cfg_peer *p = &ss->peers[ss->n_peers];
	const config_setting_t *s_name, *s_addr, *s_key;
	unsigned int n_err = ctx->n_err, i;
	struct cfg_scope sc;
	long long id = 1;

	if (!sc_elem(ctx, list, idx, "sessions.peers", keys, &sc))
		return;
	memset(p, 0, sizeof(*p));
	p->line = (int)cfg_setting_line(sc.grp);
	s_name = sc_hostid(&sc, "name", true, p->name);
	s_addr = sc_endpoint(&sc, "address", true, &p->ip, &p->port);
	s_key = sc_hexkey(&sc, "key", true, &p->key);
	sc_int(&sc, "key_id", false, 0, 0x7fffffff, &id);
	p->key.id = (uint32_t)id;
	if (s_addr != NULL && !cfg_ip_sendable(&p->ip))
		cfg_err(ctx, s_addr,
			"%s.address: not an address to send to (unspecified or multicast)",
			sc.where);
	if (s_name != NULL) {
		for (i = 0; i < ss->n_peers; i++)
			if (strcmp(ss->peers[i].name, p->name) == 0)
				break;
		if (i < ss->n_peers)
			cfg_err(ctx, s_name, "duplicate sessions peer \"%s\" (also line %d)",
				p->name, ss->peers[i].line);
		else if (strcmp(p->name, ss->name) == 0)
			cfg_err(ctx, s_name,
				"%s.name: \"%s\" is this appliance's own sessions.name",
				sc.where, p->name);
	}
	/* A pair's key is the pair's alone: a key that agents or health
	 * peers hold would let them forge sessions. */
	if (s_key != NULL && !ctx->no_keys) {
		if (cfg_same_secret(&p->key, &h->key))
			cfg_err(ctx, s_key,
				"%s.key: the same key as health.key, which the agents hold: a sessions peer needs a key of its own",
				sc.where);
		for (i = 0; i < h->n_peers; i++)
			if (cfg_same_secret(&p->key, &h->peers[i].key))
				cfg_err(ctx, s_key,
					"%s.key: the same key as health peer \"%s\" (line %d): one key per pair and per protocol",
					sc.where, h->peers[i].name, h->peers[i].line);
		for (i = 0; i < h->n_agents; i++)
			if (cfg_same_secret(&p->key, &h->agents[i].key)) {
				cfg_err(ctx, s_key,
					"%s.key: the same key as agent host \"%s\" (line %d): a sessions peer needs a key of its own",
					sc.where, h->agents[i].host, h->agents[i].line);
				break;
			}
		for (i = 0; i < ss->n_peers; i++)
			if (cfg_same_secret(&p->key, &ss->peers[i].key)) {
				cfg_err(ctx, s_key,
					"%s.key: the same key as sessions peer \"%s\" (line %d): one key per pair of appliances",
					sc.where, ss->peers[i].name, ss->peers[i].line);
				break;
			}
	}
	if (ctx->n_err == n_err && s_name != NULL && s_addr != NULL &&
	    s_key != NULL)
		ss->n_peers++;
}

static void
load_sessions(const struct cfg_scope *root)
{
	static const char *const keys[] = { "name", "listen", "socket",
		"ring_size", "replica_entries", "peers", "resend_ms", "dead_ms",
		"window", "backlog", NULL };
	struct cfg_ctx *ctx = root->ctx;
	struct halb_cfg *cfg = ctx->cfg;
	struct cfg_sessions *ss = &cfg->sessions;
	const config_setting_t *s, *list;
	long long ring = 65536, rep, resend = 200, dead = 3000, win = 64,
		  backlog = 65536;
	struct cfg_scope sc;
	unsigned int i, n;

	sc_group(root, "sessions", keys, &sc);
	ss->has = sc.grp != NULL;
	ss->line = (int)cfg_setting_line(sc.grp);
	snprintf(ss->name, sizeof(ss->name), "%s",
		 cfg->has_health ? cfg->health.name : cfg->file_prefix);
	sc_hostid(&sc, "name", false, ss->name);
	halb_ip_parse("0.0.0.0", &ss->listen_ip);
	ss->listen_port = CFG_SYNC_PORT;
	sc_endpoint(&sc, "listen", false, &ss->listen_ip, &ss->listen_port);
	snprintf(ss->socket, sizeof(ss->socket), "/run/halb/%s.sessiond.sock",
		 cfg->file_prefix);
	s = sc_sockpath(&sc, "socket", ss->socket);
	if (s != NULL && cfg->has_health &&
	    (strcmp(ss->socket, cfg->health.socket) == 0 ||
	     strcmp(ss->socket, cfg->health.status_socket) == 0))
		cfg_err(ctx, s, "sessions.socket \"%s\" is also a health socket",
			ss->socket);

	/* rte_ring_create_elem wants a power of two. */
	s = sc_int(&sc, "ring_size", false, 1024, 16777216, &ring);
	if (s != NULL && (ring & (ring - 1)) != 0)
		cfg_err(ctx, s, "sessions.ring_size %lld: must be a power of two",
			ring);
	ss->ring_size = (uint32_t)ring;
	/* As many sessions as this appliance's own tables hold, unless
	 * told: one peer of the same size. */
	rep = (long long)cfg->flow_entries * (cfg->n_workers ? cfg->n_workers : 1);
	if (rep > 67108864)
		rep = 67108864;
	sc_int(&sc, "replica_entries", false, 1024, 67108864, &rep);
	ss->replica_entries = (uint32_t)rep;
	sc_int(&sc, "resend_ms", false, 10, 60000, &resend);
	ss->resend_ms = (uint32_t)resend;
	s = sc_int(&sc, "dead_ms", false, 100, 600000, &dead);
	if (dead < 2 * resend)
		cfg_err(ctx, s != NULL ? s : sc.grp,
			"sessions.dead_ms %lld: must be at least twice resend_ms (%lld)",
			dead, resend);
	ss->dead_ms = (uint32_t)dead;
	sc_int(&sc, "window", false, 1, 4096, &win);
	ss->window = (uint32_t)win;
	sc_int(&sc, "backlog", false, 64, 16777216, &backlog);
	ss->backlog = (uint32_t)backlog;

	list = sc_list(&sc, "peers", false, 0, CFG_MAX_SYNC_PEERS, &n);
	for (i = 0; i < n; i++)
		load_peer(ctx, list, i);
}

const struct cfg_section cfg_section_sessions = {
	.name = "sessions",
	.keys = (const char *const[]){ "sessions", NULL },
	.load = load_sessions,
};
