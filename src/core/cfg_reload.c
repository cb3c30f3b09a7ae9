/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A reload's configuration work (halb/cfg_reload.h): the refused
 * changes, and slot assignment with its per-object answer.  Pure data
 * work on struct halb_cfg, so that the unit tests pin it without DPDK;
 * the forwarder (forwarder/reload.c) supplies the flow counts and
 * applies the result.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/cfg.h"
#include "halb/cfg_reload.h"

void
cfg_reload_note(struct cfg_reload_log *log, const char *fmt, ...)
{
	va_list ap;

	if (log == NULL)
		return;
	if (log->n == CFG_RELOAD_LINES) {
		log->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(log->line[log->n++], CFG_RELOAD_LINE, fmt, ap);
	va_end(ap);
}

#define REFUSE(...)                                   \
	do {                                          \
		snprintf(why, len, __VA_ARGS__);      \
		return -EPERM;                        \
	} while (0)

#define SAME(field) (memcmp(&run->field, &in->field, sizeof(run->field)) == 0)
#define SAME_P(a, b, field) (memcmp(&(a)->field, &(b)->field, sizeof((a)->field)) == 0)

static int
ports_refused(const struct halb_cfg *run, const struct halb_cfg *in, char *why,
	      size_t len)
{
	static const struct {
		const char *name;
		size_t off, size;
	} f[] = {
#define PF(x) { #x, offsetof(struct cfg_port, x), sizeof(((struct cfg_port *)0)->x) }
		PF(name), PF(vdev), PF(pci), PF(pci_args), PF(queues),
		PF(has_ip4), PF(has_ip6), PF(ip4), PF(ip6), PF(plen4), PF(plen6),
		PF(has_gw4), PF(has_gw6), PF(gw4), PF(gw6), PF(vlan), PF(mtu),
#undef PF
	};
	uint32_t p, i;

	if (run->n_ports != in->n_ports)
		REFUSE("ports: %u ports instead of %u: needs a restart",
		       in->n_ports, run->n_ports);
	for (p = 0; p < run->n_ports; p++)
		for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			if (memcmp((const char *)&run->ports[p] + f[i].off,
				   (const char *)&in->ports[p] + f[i].off,
				   f[i].size) != 0)
				REFUSE("ports[%u].%s changed: needs a restart", p,
				       f[i].name);
	return 0;
}

/*
 * Sections compared whole, but for where they are written (a file whose
 * lines moved is no change): copies with every line set to 0.
 */
static void
peers_unlined(struct cfg_peer *p, uint32_t n)
{
	while (n-- > 0)
		p[n].line = 0;
}

static bool
peers_same(const struct cfg_peer *a, const struct cfg_peer *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct cfg_peer x = a[i], y = b[i];

		x.line = y.line = 0;
		if (memcmp(&x, &y, sizeof(x)) != 0)
			return false;
	}
	return true;
}

static bool
sessions_same(const struct cfg_sessions *a, const struct cfg_sessions *b)
{
	struct cfg_sessions x = *a, y = *b;

	x.line = y.line = 0;
	peers_unlined(x.peers, CFG_MAX_SYNC_PEERS);
	peers_unlined(y.peers, CFG_MAX_SYNC_PEERS);
	return memcmp(&x, &y, sizeof(x)) == 0;
}

static void
classifiers_unlined(struct cfg_classifiers *c)
{
	uint32_t i;

	c->line = 0;
	for (i = 0; i < CFG_MAX_CLASSIFIERS; i++)
		c->list[i].line = 0;
	peers_unlined(c->punters, CFG_MAX_PUNTERS);
}

static bool
classifiers_same(const struct cfg_classifiers *a, const struct cfg_classifiers *b)
{
	struct cfg_classifiers x = *a, y = *b;

	classifiers_unlined(&x);
	classifiers_unlined(&y);
	return memcmp(&x, &y, sizeof(x)) == 0;
}

static bool
ha_same(const struct cfg_ha *a, const struct cfg_ha *b)
{
	struct cfg_ha x = *a, y = *b;
	uint32_t i;

	x.line = y.line = 0;
	for (i = 0; i < HA_PARTS; i++)
		x.parts[i].line = y.parts[i].line = 0;
	return memcmp(&x, &y, sizeof(x)) == 0;
}

static bool
bgp_same(const struct cfg_bgp *a, const struct cfg_bgp *b)
{
	struct cfg_bgp x = *a, y = *b;
	uint32_t i;

	x.line = y.line = 0;
	for (i = 0; i < CFG_MAX_BGP_NEIGH; i++)
		x.neigh[i].line = y.neigh[i].line = 0;
	return memcmp(&x, &y, sizeof(x)) == 0;
}

int
cfg_reload_refused(const struct halb_cfg *run, const struct halb_cfg *in,
		   char *why, size_t len)
{
	uint32_t i;
	int rc;

	if (!SAME(file_prefix))
		REFUSE("eal.file_prefix changed: needs a restart");
	if (!SAME(lcores) || run->n_workers != in->n_workers)
		REFUSE("eal.lcores changed (the workers): needs a restart");
	if (!SAME(n_eal_extra) || !SAME(eal_extra))
		REFUSE("eal.extra changed: needs a restart");
	if (!SAME(classifier_lcore) || !SAME(forwarder_cpus) ||
	    !SAME(classifier_cpus))
		REFUSE("eal CPUs changed: needs a restart");
	rc = ports_refused(run, in, why, len);
	if (rc != 0)
		return rc;
	if (!SAME(flow_entries))
		REFUSE("flows.entries changed: needs a restart");
	if (!SAME(tcp_syn_timeout_ms) || !SAME(tcp_timeout_ms) ||
	    !SAME(tcp_fin_timeout_ms) || !SAME(udp_timeout_ms))
		REFUSE("flows timeouts changed: needs a restart");
	if (!SAME(idle_sleep_us))
		REFUSE("idle_sleep_us changed: needs a restart");
	if (!SAME(classifier_timeout_ms))
		REFUSE("classifier_timeout_ms changed: needs a restart");
	if (in->n_neigh < run->n_neigh)
		REFUSE("neighbours: a static neighbour removed: needs a restart");
	for (i = 0; i < run->n_neigh; i++)
		if (!SAME_P(&run->neigh[i], &in->neigh[i], ip) ||
		    !SAME_P(&run->neigh[i], &in->neigh[i], mac))
			REFUSE("neighbours[%u] changed: needs a restart (adding one is fine)",
			       i);
	if (run->has_health != in->has_health)
		REFUSE("health: added or removed: needs a restart");
	if (!SAME(health.name) || !SAME(health.key) || !SAME(health.socket) ||
	    !SAME(health.status_socket) || !SAME(health.state_file) ||
	    !SAME(health.listen_ip) || !SAME(health.listen_port) ||
	    !SAME(health.report_window_ms) || !SAME(health.handler_timeout_ms))
		REFUSE("health: its name, key, sockets, listen address, state_file or timeouts changed: needs a restart");
	if (!SAME(health.n_peers) ||
	    !peers_same(run->health.peers, in->health.peers, CFG_MAX_PEERS))
		REFUSE("health.peers changed: needs a restart");
	/* Read once at start by the programs that use them (halb-sessiond,
	 * halb-had, BIRD's file, the punt thread): accepting a change that
	 * nothing applies would leave the operator believing it is. */
	if (!sessions_same(&run->sessions, &in->sessions))
		REFUSE("sessions changed: halb-sessiond reads it at start: needs a restart");
	if (!classifiers_same(&run->classifiers, &in->classifiers))
		REFUSE("classifiers changed: the forwarder's list and its keys are read at start: needs a restart");
	if (!ha_same(&run->ha, &in->ha))
		REFUSE("ha changed: halb-had reads it at start: needs a restart of halb-had");
	if (!bgp_same(&run->bgp, &in->bgp))
		REFUSE("bgp changed (neighbours, timers or the VIPs announced): BIRD's file is written at start: needs a restart");
	/* Request routing: the shared memory has its rings and bound-flow
	 * table, and the request router runs, only when a service had
	 * requests { } at start; and a worker translates a bound connection
	 * only while its service has them.  So requests { } may not come to
	 * an appliance that has none, nor leave a service that stays; a
	 * service may gain them, or go whole, and rules, pools and limits
	 * may change (new connections take them). */
	{
		bool any = false;
		uint32_t s;

		for (s = 0; s < run->n_services; s++)
			any |= run->services[s].slot == CFG_SLOT_LIVE &&
			       run->services[s].l7.has;
		for (i = 0; i < in->n_services; i++) {
			const struct cfg_service *ns = &in->services[i];

			if (ns->l7.has && !any)
				REFUSE("service %s: requests { } where no service had them: the request router is set up at start: needs a restart",
				       ns->name);
			for (s = 0; s < run->n_services; s++) {
				const struct cfg_service *rs = &run->services[s];

				if (rs->slot == CFG_SLOT_LIVE && rs->l7.has &&
				    !ns->l7.has && strcmp(rs->name, ns->name) == 0)
					REFUSE("service %s: requests { } removed: its bound connections need them: needs a restart",
					       ns->name);
			}
		}
	}
	return 0;
}

/* A service's identity across reloads: its name, and the key its flows
 * and the rewrite of its replies depend on. */
static bool
same_service(const struct cfg_service *a, const struct cfg_service *b)
{
	return strcmp(a->name, b->name) == 0 && halb_ip_eq(&a->vip, &b->vip) &&
	       a->port == b->port && a->proto == b->proto && a->mode == b->mode;
}

static bool
same_backend(const struct cfg_service *as, const struct cfg_backend *a,
	     const struct cfg_service *bs, const struct cfg_backend *b)
{
	return halb_ip_eq(&a->ip, &b->ip) &&
	       cfg_backend_port(as, a) == cfg_backend_port(bs, b);
}

static const char *
be_fmt(const struct cfg_service *cs, const struct cfg_backend *cb, char *buf,
       size_t len)
{
	char ip[HALB_IP_STRLEN];

	halb_ip_fmt(&cb->ip, ip, sizeof(ip));
	snprintf(buf, len, halb_ip_is_v4(&cb->ip) ? "%s:%u" : "[%s]:%u", ip,
		 cfg_backend_port(cs, cb));
	return buf;
}

struct assign {
	const struct halb_cfg *run, *in;
	cfg_slot_flows_fn flows;
	void *arg;
	struct cfg_reload_log *log;
};

static uint32_t
flows_of(const struct assign *a, uint32_t s, uint32_t b)
{
	return a->flows != NULL ? a->flows(a->arg, s, b) : 0;
}

/* What becomes of live backend b of run's service s that the new file
 * does not have (or whose service it does not have). */
static void
retire_backend(const struct assign *a, uint32_t s, uint32_t b,
	       const struct cfg_service *rs, struct cfg_backend *ob,
	       uint8_t down_flows, bool quiet)
{
	char be[HALB_IP_STRLEN + 8];
	uint32_t n = flows_of(a, s, b);

	ob->slot = CFG_SLOT_RETIRED;
	ob->weight = 0;
	if (!quiet)
		cfg_reload_note(a->log, "service %s: backend %s removed, %u flow%s %s",
				rs->name, be_fmt(rs, ob, be, sizeof(be)), n,
				n == 1 ? "" : "s",
				down_flows == CFG_DOWN_RESET ? "reset" :
							       "kept until they end");
}

/* A slot that stays retired while flows may name it, else becomes free. */
static void
age_backend(const struct assign *a, uint32_t s, uint32_t b,
	    struct cfg_backend *ob)
{
	if (flows_of(a, s, b) == 0) {
		memset(ob, 0, sizeof(*ob));
		ob->slot = CFG_SLOT_FREE;
	}
}

static uint32_t
trim_backends(struct cfg_service *cs)
{
	while (cs->n_backends > 0 &&
	       cs->backends[cs->n_backends - 1].slot == CFG_SLOT_FREE)
		cs->n_backends--;
	return cs->n_backends;
}

/* Whether backend slot b of run service rs can take a new backend. */
static bool
be_slot_open(const struct assign *a, uint32_t s, const struct cfg_service *rs,
	     uint32_t b, const bool *taken, bool fresh)
{
	if (taken[b])
		return false;
	if (fresh || b >= rs->n_backends || rs->backends[b].slot == CFG_SLOT_FREE)
		return true;
	return rs->backends[b].slot == CFG_SLOT_RETIRED && flows_of(a, s, b) == 0;
}

/* The agent host a backend names ("" for none): agent indices follow
 * the order hosts first appear in, which an edit elsewhere changes. */
static const char *
agent_host(const struct halb_cfg *cfg, const struct cfg_backend *cb)
{
	return cb->agent != 0 && cb->agent <= cfg->health.n_agents ?
		       cfg->health.agents[cb->agent - 1].host : "";
}

static void
note_backend_changes(const struct assign *a, const struct cfg_service *ns,
		     const struct cfg_backend *ob, const struct cfg_backend *nb)
{
	char be[HALB_IP_STRLEN + 8];

	be_fmt(ns, nb, be, sizeof(be));
	if (ob->slot == CFG_SLOT_RETIRED) {
		cfg_reload_note(a->log, "service %s: backend %s added back (its slot was retired)",
				ns->name, be);
		return;
	}
	if (ob->weight != nb->weight)
		cfg_reload_note(a->log, "service %s: backend %s weight %u -> %u",
				ns->name, be, ob->weight, nb->weight);
	if (ob->port != nb->port || ob->has_tunnel_mac != nb->has_tunnel_mac ||
	    memcmp(ob->tunnel_mac, nb->tunnel_mac, 6) != 0)
		cfg_reload_note(a->log, "service %s: backend %s rewrite changed: its flows take the new one",
				ns->name, be);
	if (memcmp(&ob->check, &nb->check, sizeof(ob->check)) != 0 ||
	    strcmp(agent_host(a->run, ob), agent_host(a->in, nb)) != 0)
		cfg_reload_note(a->log, "service %s: backend %s health check or agent changed",
				ns->name, be);
}

/*
 * Service slot s of out: the file's service ns in it, its backends in
 * their slots against rs (run's slot s; NULL or fresh when the slot is
 * new to this service).
 */
static int
assign_backends(const struct assign *a, uint32_t s, const struct cfg_service *rs,
		bool fresh, const struct cfg_service *ns, struct cfg_service *os)
{
	bool taken[CFG_MAX_BACKENDS] = { false };
	int map[CFG_MAX_BACKENDS];
	uint32_t j, b, n = 0;
	char be[HALB_IP_STRLEN + 8];

	*os = *ns;
	os->slot = CFG_SLOT_LIVE;
	memset(os->backends, 0, sizeof(os->backends));
	/* Same address and port: same slot, retired or live. */
	for (j = 0; j < ns->n_backends; j++) {
		map[j] = -1;
		if (fresh)
			continue;
		for (b = 0; b < rs->n_backends; b++)
			if (!taken[b] && rs->backends[b].slot != CFG_SLOT_FREE &&
			    same_backend(rs, &rs->backends[b], ns, &ns->backends[j])) {
				map[j] = (int)b;
				taken[b] = true;
				break;
			}
	}
	for (j = 0; j < ns->n_backends; j++) {
		if (map[j] >= 0)
			continue;
		for (b = 0; b < CFG_MAX_BACKENDS; b++)
			if (be_slot_open(a, s, rs, b, taken, fresh))
				break;
		if (b == CFG_MAX_BACKENDS) {
			cfg_reload_note(a->log, "service %s: more than %u backends, retired ones included: wait for their flows to end, or restart",
					ns->name, CFG_MAX_BACKENDS);
			return -ENOSPC;
		}
		map[j] = (int)b;
		taken[b] = true;
		if (!fresh)
			cfg_reload_note(a->log, "service %s: backend %s added",
					ns->name,
					be_fmt(ns, &ns->backends[j], be, sizeof(be)));
	}
	for (j = 0; j < ns->n_backends; j++) {
		b = (uint32_t)map[j];
		if (!fresh && b < rs->n_backends &&
		    rs->backends[b].slot != CFG_SLOT_FREE &&
		    same_backend(rs, &rs->backends[b], ns, &ns->backends[j]))
			note_backend_changes(a, ns, &rs->backends[b], &ns->backends[j]);
		os->backends[b] = ns->backends[j];
		os->backends[b].slot = CFG_SLOT_LIVE;
		if (b + 1 > n)
			n = b + 1;
	}
	/* What run had here and the file no longer has. */
	for (b = 0; !fresh && b < rs->n_backends; b++) {
		if (taken[b])
			continue;
		os->backends[b] = rs->backends[b];
		if (rs->backends[b].slot == CFG_SLOT_LIVE)
			retire_backend(a, s, b, rs, &os->backends[b],
				       ns->down_flows, false);
		else
			age_backend(a, s, b, &os->backends[b]);
		if (os->backends[b].slot != CFG_SLOT_FREE && b + 1 > n)
			n = b + 1;
	}
	/* Slots between that nothing ever held. */
	for (b = 0; b < n; b++)
		if (!taken[b] && (fresh || b >= rs->n_backends))
			os->backends[b].slot = CFG_SLOT_FREE;
	os->n_backends = n;
	trim_backends(os);
	return 0;
}

static void
note_service_changes(const struct assign *a, const struct cfg_service *rs,
		     const struct cfg_service *ns)
{
	if (rs->slot == CFG_SLOT_RETIRED)
		cfg_reload_note(a->log, "service %s: added back (its slot was retired)",
				ns->name);
	if (rs->sched != ns->sched)
		cfg_reload_note(a->log, "service %s: scheduler %s -> %s (new connections)",
				ns->name, cfg_sched_name(rs->sched),
				cfg_sched_name(ns->sched));
	if (rs->down_flows != ns->down_flows)
		cfg_reload_note(a->log, "service %s: down_flows %s -> %s", ns->name,
				rs->down_flows == CFG_DOWN_RESET ? "reset" : "keep",
				ns->down_flows == CFG_DOWN_RESET ? "reset" : "keep");
	if (rs->down_hold_ms != ns->down_hold_ms)
		cfg_reload_note(a->log, "service %s: down_hold %u ms -> %u ms", ns->name,
				rs->down_hold_ms, ns->down_hold_ms);
	if (ns->l7.has && memcmp(&rs->l7, &ns->l7, sizeof(rs->l7)) != 0)
		cfg_reload_note(a->log, "service %s: requests { } changed: %u rule%s, %u pool%s (new connections)",
				ns->name, ns->l7.n_rules, ns->l7.n_rules == 1 ? "" : "s",
				ns->l7.n_pools, ns->l7.n_pools == 1 ? "" : "s");
	if (rs->vni != ns->vni || rs->tunnel_port != ns->tunnel_port)
		cfg_reload_note(a->log, "service %s: tunnel changed: its flows take the new one",
				ns->name);
}

/* Live service slot s of run that the file does not have (as it was):
 * retired whole, every live backend with it. */
static void
retire_service(const struct assign *a, uint32_t s, struct cfg_service *os,
	       bool replaced)
{
	const struct cfg_service *rs = &a->run->services[s];
	uint32_t b, n = flows_of(a, s, CFG_SLOT_ANY);

	*os = *rs;
	os->slot = CFG_SLOT_RETIRED;
	for (b = 0; b < os->n_backends; b++) {
		if (os->backends[b].slot == CFG_SLOT_LIVE)
			retire_backend(a, s, b, rs, &os->backends[b],
				       rs->down_flows, true);
		else
			age_backend(a, s, b, &os->backends[b]);
	}
	trim_backends(os);
	cfg_reload_note(a->log, "service %s: %s, %u flow%s %s", rs->name,
			replaced ? "replaced (its VIP, port, protocol or mode changed: a new slot)" :
				   "removed",
			n, n == 1 ? "" : "s",
			rs->down_flows == CFG_DOWN_RESET ? "reset" : "kept until they end");
}

int
cfg_slots_assign(const struct halb_cfg *run, const struct halb_cfg *in,
		 cfg_slot_flows_fn flows, void *arg, struct halb_cfg *out,
		 struct cfg_reload_log *log)
{
	const struct assign a = { run, in, flows, arg, log };
	bool taken[CFG_MAX_SERVICES] = { false };
	int map[CFG_MAX_SERVICES];
	uint32_t i, s, n = 0;
	int rc;

	*out = *in;
	memset(out->services, 0, sizeof(out->services));
	for (i = 0; i < in->n_services; i++) {
		map[i] = -1;
		/* A live slot first, then a retired one of the same service. */
		for (s = 0; s < run->n_services && map[i] < 0; s++)
			if (run->services[s].slot == CFG_SLOT_LIVE &&
			    same_service(&run->services[s], &in->services[i]))
				map[i] = (int)s;
		for (s = 0; s < run->n_services && map[i] < 0; s++)
			if (run->services[s].slot == CFG_SLOT_RETIRED &&
			    same_service(&run->services[s], &in->services[i]))
				map[i] = (int)s;
		if (map[i] >= 0)
			taken[map[i]] = true;
	}
	for (i = 0; i < in->n_services; i++) {
		if (map[i] >= 0)
			continue;
		for (s = 0; s < CFG_MAX_SERVICES; s++) {
			if (taken[s])
				continue;
			if (s >= run->n_services ||
			    run->services[s].slot == CFG_SLOT_FREE ||
			    (run->services[s].slot == CFG_SLOT_RETIRED &&
			     flows_of(&a, s, CFG_SLOT_ANY) == 0))
				break;
		}
		if (s == CFG_MAX_SERVICES) {
			cfg_reload_note(log, "service %s: more than %u services, retired ones included: wait for their flows to end, or restart",
					in->services[i].name, CFG_MAX_SERVICES);
			return -ENOSPC;
		}
		map[i] = (int)s;
		taken[s] = true;
	}
	for (i = 0; i < in->n_services; i++) {
		const struct cfg_service *ns = &in->services[i];
		const struct cfg_service *rs;
		bool fresh;

		s = (uint32_t)map[i];
		rs = s < run->n_services ? &run->services[s] : NULL;
		fresh = rs == NULL || rs->slot == CFG_SLOT_FREE ||
			!same_service(rs, ns);
		if (fresh) {
			bool replaced = false;
			uint32_t t;

			for (t = 0; t < run->n_services; t++)
				replaced |= run->services[t].slot == CFG_SLOT_LIVE &&
					    strcmp(run->services[t].name, ns->name) == 0;
			if (!replaced)
				cfg_reload_note(log, "service %s: added", ns->name);
		} else {
			note_service_changes(&a, rs, ns);
		}
		rc = assign_backends(&a, s, rs, fresh, ns, &out->services[s]);
		if (rc != 0)
			return rc;
	}
	for (s = 0; s < run->n_services; s++) {
		const struct cfg_service *rs = &run->services[s];
		bool replaced = false;

		if (taken[s])
			continue;
		if (rs->slot == CFG_SLOT_LIVE) {
			for (i = 0; i < in->n_services; i++)
				replaced |= strcmp(in->services[i].name, rs->name) == 0;
			retire_service(&a, s, &out->services[s], replaced);
		} else if (rs->slot == CFG_SLOT_RETIRED &&
			   flows_of(&a, s, CFG_SLOT_ANY) != 0) {
			uint32_t b;

			out->services[s] = *rs;
			for (b = 0; b < rs->n_backends; b++)
				if (rs->backends[b].slot == CFG_SLOT_RETIRED)
					age_backend(&a, s, b, &out->services[s].backends[b]);
			trim_backends(&out->services[s]);
		} else {
			out->services[s].slot = CFG_SLOT_FREE;
		}
	}
	for (s = 0; s < CFG_MAX_SERVICES; s++) {
		if (!taken[s] && s >= run->n_services)
			out->services[s].slot = CFG_SLOT_FREE;
		if (out->services[s].slot != CFG_SLOT_FREE)
			n = s + 1;
	}
	out->n_services = n;
	return 0;
}

uint32_t
cfg_live_services(const struct halb_cfg *cfg)
{
	uint32_t s, n = 0;

	for (s = 0; s < cfg->n_services; s++)
		n += cfg->services[s].slot == CFG_SLOT_LIVE;
	return n;
}

uint32_t
cfg_live_backends(const struct cfg_service *cs)
{
	uint32_t b, n = 0;

	for (b = 0; b < cs->n_backends; b++)
		n += cs->backends[b].slot == CFG_SLOT_LIVE;
	return n;
}

uint64_t
cfg_digest_static(const struct halb_cfg *cfg)
{
	struct halb_cfg *c = malloc(sizeof(*c));
	uint64_t d;

	if (c == NULL)
		return 0;
	*c = *cfg;
	/* What a reload may change, or what the two DPDK processes do not
	 * share: zeros. */
	c->n_services = 0;
	memset(c->services, 0, sizeof(c->services));
	c->n_neigh = 0;
	memset(c->neigh, 0, sizeof(c->neigh));
	c->health.n_agents = 0;
	memset(c->health.agents, 0, sizeof(c->health.agents));
	c->health.weight_policy = 0;
	c->health.weight_min = c->health.weight_max = 0;
	memset(&c->metrics, 0, sizeof(c->metrics));
	memset(&c->log, 0, sizeof(c->log));
	d = cfg_digest(c);
	cfg_free(c);
	return d;
}
