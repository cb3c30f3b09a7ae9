/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-healthd's cache (hd.h): what agents, probes and peers say of each
 * backend, and the one state, source and weight made of it.
 *
 * Every input goes through hd_refresh(), which merges, weighs, and marks
 * the backend dirty when its state, source or weight changed: a load
 * that moves without changing the weight is no change (it rides along
 * in the next full snapshot), so the classifier rebuilds its tables only
 * when something it uses changed.  Times are monotonic milliseconds,
 * given by the caller.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hd.h"

static const char *const state_names[] = { "unknown", "up", "down",
	"draining" };
static const char *const source_names[] = { "none", "agent", "probe",
	"last-known", "operator" };

const char *
hd_state_name(unsigned int state)
{
	return state <= HD_DRAINING ? state_names[state] : "?";
}

const char *
hd_source_name(unsigned int source)
{
	return source <= HD_SRC_OPERATOR ? source_names[source] : "?";
}

static int
agent_index(const struct hd *hd, const char *host)
{
	uint32_t i;

	for (i = 0; i < hd->n_agents; i++)
		if (strcmp(hd->agents[i].cfg->host, host) == 0)
			return (int)i;
	return -1;
}

/* Agents' keys stand for agents, peers' for peers: an agent's key never
 * authorises a snapshot or a request (hl_msg.h), a peer's never a host
 * report.  health.key is not here: it is what this healthd sends with,
 * to its agents and its classifier, and the agents hold it too. */
static int
build_keys(struct hd *hd)
{
	const struct cfg_health *h = &hd->cfg->health;
	uint32_t n = hd->n_agents + h->n_peers, i;
	int rc;

	hd->keys = seal_keyring_new(n > 0 ? n : 1);
	hd->replay = seal_replay_new(n > 0 ? n : 1, h->report_window_ms);
	if (hd->keys == NULL || hd->replay == NULL)
		return -ENOMEM;
	for (i = 0; i < hd->n_agents; i++) {
		rc = seal_keyring_add(hd->keys, hd->agents[i].cfg->host,
				      &hd->agents[i].cfg->key, SEAL_ROLE_AGENT);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < h->n_peers; i++) {
		rc = seal_keyring_add(hd->keys, h->peers[i].name,
				      &h->peers[i].key, SEAL_ROLE_PEER);
		if (rc != 0)
			return rc;
	}
	return 0;
}

struct hd *
hd_new(const struct halb_cfg *cfg, uint64_t now)
{
	const struct cfg_health *h = &cfg->health;
	uint32_t n = 0, n_probed = 0, k = 0, s, b, i;
	struct hd *hd;
	int rc = -ENOMEM;

	hd = calloc(1, sizeof(*hd));
	if (hd == NULL)
		goto fail;
	hd->cfg = cfg;
	hd->start_ms = now;
	hd->rl_foreign.period_ms = 10000;
	hd->rl_foreign.burst = 5;
	for (s = 0; s < cfg->n_services; s++)
		n += cfg->services[s].n_backends;
	hd->be = calloc(n > 0 ? n : 1, sizeof(*hd->be));
	hd->agents = calloc(h->n_agents > 0 ? h->n_agents : 1,
			    sizeof(*hd->agents));
	hd->peers = calloc(h->n_peers > 0 ? h->n_peers : 1, sizeof(*hd->peers));
	hd->peer_heard_ms = calloc(h->n_peers > 0 ? h->n_peers : 1,
				   sizeof(*hd->peer_heard_ms));
	if (hd->be == NULL || hd->agents == NULL || hd->peers == NULL ||
	    hd->peer_heard_ms == NULL)
		goto fail;
	hd->n_agents = h->n_agents;
	for (i = 0; i < hd->n_agents; i++) {
		hd->agents[i].cfg = &h->agents[i];
		hd->agents[i].interval_ms = HD_FIRST_INTERVAL_MS;
	}

	for (s = 0; s < cfg->n_services; s++) {
		for (b = 0; b < cfg->services[s].n_backends; b++) {
			struct hd_backend *be = &hd->be[hd->n_be++];

			be->si = (uint16_t)s;
			be->bi = (uint16_t)b;
			be->svc = &cfg->services[s];
			be->cb = &cfg->services[s].backends[b];
			be->agent = (int)be->cb->agent - 1;
			be->op_weight = HD_OP_WEIGHT_NONE;
			hc_check_init(&be->probe);
			if (be->agent >= 0)
				hd->agents[be->agent].n_be++;
			if (be->cb->check.type != CFG_CHECK_NONE) {
				hc_rf_init(&be->rf, be->cb->check.rise,
					   be->cb->check.fall);
				n_probed++;
			}
		}
	}
	for (i = 0; i < hd->n_agents; i++) {
		hd->agents[i].be = calloc(hd->agents[i].n_be > 0 ?
					  hd->agents[i].n_be : 1, sizeof(uint32_t));
		if (hd->agents[i].be == NULL)
			goto fail;
		hd->agents[i].n_be = 0;
	}
	/* First probes spread over the first interval, so that a big
	 * configuration does not open every socket at once. */
	for (i = 0; i < hd->n_be; i++) {
		struct hd_backend *be = &hd->be[i];

		if (be->agent >= 0) {
			struct hd_agent *a = &hd->agents[be->agent];

			a->be[a->n_be++] = i;
		}
		if (be->cb->check.type != CFG_CHECK_NONE)
			be->next_probe_ms = now + (uint64_t)be->cb->check.interval_ms *
					    k++ / (n_probed > 0 ? n_probed : 1);
	}
	rc = build_keys(hd);
	if (rc != 0)
		goto fail;
	return hd;
fail:
	hd_free(hd);
	errno = -rc;
	return NULL;
}

void
hd_free(struct hd *hd)
{
	uint32_t i;

	if (hd == NULL)
		return;
	for (i = 0; hd->be != NULL && i < hd->n_be; i++)
		hc_check_cancel(&hd->be[i].probe);
	for (i = 0; hd->agents != NULL && i < hd->n_agents; i++)
		free(hd->agents[i].be);
	seal_keyring_free(hd->keys);
	seal_replay_free(hd->replay);
	free(hd->agents);
	free(hd->be);
	free(hd->peers);
	free(hd->peer_heard_ms);
	free(hd);
}

void
hd_merge(const struct hd_inputs *in, uint64_t now, struct hd_view *out)
{
	uint64_t silent;

	out->state = HD_UNKNOWN;
	out->source = HD_SRC_NONE;
	out->info_ms = 0;
	out->silent = false;
	if (in->has_agent && in->agent_heard) {
		silent = (uint64_t)HD_SILENT_INTERVALS * in->agent_interval_ms;
		out->source = HD_SRC_AGENT;
		out->info_ms = in->agent_ms;
		if (now - in->agent_ms > silent) {
			out->state = HD_DOWN;
			out->silent = true;
			return;
		}
		out->state = in->agent_state;
		/* The cross-check: a probe that says down wins over an
		 * agent that says up or draining. */
		if (in->probed && in->probe_known && !in->probe_up &&
		    out->state != HD_DOWN) {
			out->state = HD_DOWN;
			out->source = HD_SRC_PROBE;
			out->info_ms = in->probe_ms;
		}
		return;
	}
	if (!in->has_agent && in->probed && in->probe_known) {
		out->state = in->probe_up ? HD_UP : HD_DOWN;
		out->source = HD_SRC_PROBE;
		out->info_ms = in->probe_ms;
		return;
	}
	/* A peer's view while it is young: a standby that the agents do
	 * not report to lives on its peer's word. */
	if (in->lk_state != HD_UNKNOWN && now - in->lk_ms <= HD_LAST_KNOWN_MS) {
		out->state = in->lk_state;
		out->source = HD_SRC_LAST_KNOWN;
		out->info_ms = in->lk_ms;
		return;
	}
	if (in->has_agent &&
	    now - in->start_ms > (uint64_t)HD_SILENT_INTERVALS * HD_FIRST_INTERVAL_MS) {
		/* Never heard since start, not even after being asked. */
		out->state = HD_DOWN;
		out->source = HD_SRC_AGENT;
		out->info_ms = in->start_ms;
		out->silent = true;
		return;
	}
	if (!in->has_agent && in->lk_state != HD_UNKNOWN) {
		out->state = in->lk_state;
		out->source = HD_SRC_LAST_KNOWN;
		out->info_ms = in->lk_ms;
	}
}

void
hd_clamp_weight(uint32_t *w, uint32_t min, uint32_t max)
{
	if (*w < min)
		*w = min;
	if (*w > max)
		*w = max;
}

uint32_t
hd_weight(unsigned int policy, uint32_t min, uint32_t max, uint32_t cfg_weight,
	  uint8_t state, const struct hd_load *load)
{
	bool known = load != NULL && load->has;
	uint32_t w;

	if (cfg_weight == 0 || (state != HD_UP && state != HD_DRAINING))
		return 0;
	switch (policy) {
	case CFG_WEIGHT_AGENT:
		if (!known)
			return cfg_weight;
		w = load->capacity;
		break;
	case CFG_WEIGHT_LEAST_LOAD:
		if (!known)
			return cfg_weight;
		/* Rounded to the nearest: weight 2 at 10% CPU stays 2. */
		w = (uint32_t)(((uint64_t)cfg_weight *
				(1000 - (load->cpu_permille <= 1000 ?
					 load->cpu_permille : 1000)) + 500) / 1000);
		break;
	default:
		return cfg_weight;
	}
	hd_clamp_weight(&w, min, max);
	return w;
}

static void
inputs_of(const struct hd *hd, const struct hd_backend *be,
	  struct hd_inputs *in)
{
	memset(in, 0, sizeof(*in));
	in->start_ms = hd->start_ms;
	if (be->agent >= 0) {
		const struct hd_agent *a = &hd->agents[be->agent];

		in->has_agent = true;
		in->agent_heard = a->heard;
		in->agent_ms = a->last_ms;
		in->agent_interval_ms = a->interval_ms;
		in->agent_state = be->agent_state;
	}
	in->probed = be->cb->check.type != CFG_CHECK_NONE;
	in->probe_known = in->probed && hc_rf_known(&be->rf);
	in->probe_up = in->probe_known && hc_rf_up(&be->rf);
	in->probe_ms = be->probe_ms;
	in->lk_state = be->lk_state;
	in->lk_ms = be->lk_ms;
}

/*
 * The operator's decision on top of the merged view (docs/HEALTH.md,
 * "Operator decisions"): disable makes the backend down whatever health
 * says; drain makes an up (or not yet known) backend draining, and
 * leaves a down one down, health's verdict being the stronger.
 */
static void
oper_overlay(const struct hd_backend *be, const struct hd_inputs *in,
	     struct hd_view *v)
{
	/* Nothing but the operator will ever speak of a backend with
	 * neither agent nor probe: once the operator has, it is up (as its
	 * configuration says) on the operator's word while no decision
	 * holds, so that `enable` undoes `disable` at the classifier
	 * instead of leaving it on the last state it was sent. */
	if (v->state == HD_UNKNOWN && be->op_seen && !in->has_agent &&
	    !in->probed) {
		v->state = HD_UP;
		v->source = HD_SRC_OPERATOR;
		v->info_ms = be->op_ms;
	}
	if (be->op == HD_OP_DISABLE ||
	    (be->op == HD_OP_DRAIN && v->state != HD_DOWN)) {
		v->state = be->op == HD_OP_DISABLE ? HD_DOWN : HD_DRAINING;
		v->source = HD_SRC_OPERATOR;
		v->info_ms = be->op_ms;
		v->silent = false;
	}
}

/* Why backend be is in the view v, for the log: "" when nothing to say. */
static const char *
view_why(const struct hd_backend *be, const struct hd_view *v)
{
	if (v->source == HD_SRC_OPERATOR)
		return hd_op_name(be->op);
	if (v->source == HD_SRC_PROBE)
		return be->probe.why;
	if (v->silent)
		return "agent silent";
	if (v->source == HD_SRC_AGENT)
		return be->agent_reason;
	return "";
}

void
hd_refresh(struct hd *hd, uint32_t i, uint64_t now)
{
	const struct cfg_health *h = &hd->cfg->health;
	struct hd_backend *be = &hd->be[i];
	const struct hd_load *load = NULL;
	struct hd_inputs in;
	struct hd_view v;
	uint32_t w, base;
	bool exact = be->reweigh;
	const char *why;
	char a[HALB_IP_STRLEN];

	be->reweigh = false;
	inputs_of(hd, be, &in);
	hd_merge(&in, now, &v);
	/* A peer's view is weighed as our own would be: from the load it
	 * passed on, under this configuration's policy and bounds, never its
	 * weight as given, so that it cannot bypass weight_min/weight_max
	 * nor revive a backend configured out (weight 0). */
	if (v.source == HD_SRC_LAST_KNOWN)
		load = &be->lk_load;
	else if (be->agent >= 0 && hd->agents[be->agent].heard)
		load = &hd->agents[be->agent].load;
	oper_overlay(be, &in, &v);
	/* The operator's weight stands where the configured one did: the
	 * policy and its bounds apply to it alike. */
	base = be->op_weight != HD_OP_WEIGHT_NONE ? be->op_weight : be->cb->weight;
	w = hd_weight(h->weight_policy, h->weight_min, h->weight_max,
		      base, v.state, load);
	be->info_ms = v.info_ms;
	be->silent = v.silent;
	/* A weight derived from load moves a little with every report; the
	 * classifier rebuilds its tables for each change, so only a move of
	 * more than HD_WEIGHT_HYSTERESIS of the weight counts (except right
	 * after the operator set one: that is no jitter). */
	if (!exact && v.state == be->state && v.source == be->source && w != 0 &&
	    be->weight != 0 && h->weight_policy != CFG_WEIGHT_STATIC &&
	    (uint64_t)(w > be->weight ? w - be->weight : be->weight - w) *
	    HD_WEIGHT_HYSTERESIS <= be->weight)
		w = be->weight;
	if (v.state == be->state && v.source == be->source && w == be->weight)
		return;
	if (v.state != be->state) {
		hd->c.state_changes++;
		why = view_why(be, &v);
		HLOG(INFO, "service %s backend %s:%u: %s -> %s (%s%s%s)",
			be->svc->name, halb_ip_fmt(&be->cb->ip, a, sizeof(a)),
			be->cb->port ? be->cb->port : be->svc->port,
			hd_state_name(be->state), hd_state_name(v.state),
			hd_source_name(v.source), why[0] != '\0' ? ": " : "", why);
	}
	be->state = v.state;
	be->source = v.source;
	be->weight = w;
	be->dirty = true;
	hd->any_dirty = true;
}

void
hd_refresh_all(struct hd *hd, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < hd->n_be; i++)
		hd_refresh(hd, i, now);
}

int
hd_find(const struct hd *hd, const char *service, const char *address,
	uint32_t port)
{
	struct halb_ip ip;
	uint32_t i;

	if (service == NULL || address == NULL ||
	    halb_ip_parse(address, &ip) != 0)
		return -1;
	for (i = 0; i < hd->n_be; i++) {
		const struct hd_backend *be = &hd->be[i];
		uint16_t p = be->cb->port ? be->cb->port : be->svc->port;

		if (p == port && halb_ip_eq(&be->cb->ip, &ip) &&
		    strcmp(be->svc->name, service) == 0)
			return (int)i;
	}
	return -1;
}

int
hd_apply_report(struct hd *hd, const char *sender,
		const Halb__Health__HostReport *r, uint64_t now)
{
	int ai = agent_index(hd, sender), idx;
	struct hd_agent *a;
	uint64_t held;
	uint32_t i;
	size_t k;

	if (ai < 0)
		return -ENOENT;
	a = &hd->agents[ai];
	a->heard = true;
	a->last_ms = now;
	a->interval_ms = r->report_interval_ms;
	a->load.has = r->load != NULL;
	if (r->load != NULL) {
		a->load.cpu_permille = r->load->cpu_permille;
		a->load.conns = r->load->active_connections;
		a->load.mem_permille = r->load->mem_used_permille;
		a->load.capacity = r->load->capacity;
	}
	/* What the report does not list, the host does not serve. */
	for (i = 0; i < a->n_be; i++) {
		hd->be[a->be[i]].agent_state = HD_DOWN;
		snprintf(hd->be[a->be[i]].agent_reason,
			 sizeof(hd->be[a->be[i]].agent_reason),
			 "not in the host's report");
	}
	for (k = 0; k < r->n_services; k++) {
		const Halb__Health__ServiceHealth *sh = r->services[k];

		idx = hd_find(hd, sh->service, sh->address, sh->port);
		if (idx < 0) {
			hd->c.unknown_backend++;
			continue;
		}
		if (hd->be[idx].agent != ai) {
			/* A host speaks only for itself. */
			hd->c.foreign++;
			hd->c.rejected[SEAL_REJ_IDENTITY]++;
			if (halb_ratelimit(&hd->rl_foreign, now, &held))
				HLOG(WARNING, "host %s reported on %s %s:%u, not one of its backends: ignored (%" PRIu64 " more not logged)",
					sender, sh->service, sh->address,
					sh->port, held);
			continue;
		}
		hd->be[idx].agent_state = (uint8_t)sh->state;
		snprintf(hd->be[idx].agent_reason,
			 sizeof(hd->be[idx].agent_reason), "%s",
			 sh->reason != NULL ? sh->reason : "");
	}
	for (i = 0; i < a->n_be; i++)
		hd_refresh(hd, a->be[i], now);
	return (int)a->n_be;
}

int
hd_apply_peer(struct hd *hd, const Halb__Health__CacheSnapshot *s,
	      uint64_t now)
{
	int taken = 0, idx;
	size_t k;

	for (k = 0; k < s->n_backends; k++) {
		const Halb__Health__BackendState *bs = s->backends[k];
		struct hd_backend *be;
		uint64_t at;
		bool own;

		idx = hd_find(hd, bs->service, bs->address, bs->port);
		if (idx < 0 || (int)bs->state < HD_UP ||
		    (int)bs->state > HD_DRAINING)
			continue;
		be = &hd->be[idx];
		own = (be->agent >= 0 && hd->agents[be->agent].heard) ||
		      (be->cb->check.type != CFG_CHECK_NONE &&
		       hc_rf_known(&be->rf));
		at = bs->age_ms < now ? now - bs->age_ms : 0;
		if (own || (be->lk_state != HD_UNKNOWN && be->lk_ms >= at))
			continue;
		be->lk_state = (uint8_t)bs->state;
		be->lk_ms = at;
		memset(&be->lk_load, 0, sizeof(be->lk_load));
		if (bs->load != NULL) {
			be->lk_load.has = true;
			be->lk_load.cpu_permille = bs->load->cpu_permille;
			be->lk_load.conns = bs->load->active_connections;
			be->lk_load.mem_permille = bs->load->mem_used_permille;
			be->lk_load.capacity = bs->load->capacity;
		}
		hd->c.peer_updates++;
		hd_refresh(hd, (uint32_t)idx, now);
		taken++;
	}
	return taken;
}

void
hd_probe_result(struct hd *hd, uint32_t i, bool ok, uint64_t now)
{
	struct hd_backend *be = &hd->be[i];

	hd->c.probes++;
	if (ok)
		hd->c.probe_ok++;
	else
		hd->c.probe_fail++;
	hc_rf_result(&be->rf, ok);
	be->probe_ms = now;
	hd_refresh(hd, i, now);
}
