/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-healthd's reload (docs/RELOAD.md, "healthd"): a new cache built
 * from the edited file, carrying over by name what the old one knew, so
 * that a reload changes no backend's state by itself:
 *  - per backend that is still there, by (service name, address, port):
 *    the agent's word, the probe's rise/fall counter and last result
 *    (when its check is the same), the peer's last-known view, the
 *    operator's decision and the merged state, weight and source;
 *  - per agent host that is still there, by host id: whether and when it
 *    was heard, its promised interval, its load;
 *  - the snapshot streams' generations and sequence numbers (the
 *    classifier and peers see one stream go on), the counters, the
 *    start time, and the replay table while it has room for the new
 *    senders.
 * Probes of the old cache are cancelled when it is freed; a backend's
 * next probe is due as it was.  The caller sends a full snapshot and
 * asks every agent to report.
 */
#include <errno.h>
#include <string.h>

#include "halb/cfg_reload.h"
#include "hd.h"

static int
old_backend(const struct hd *old, const struct hd_backend *nb)
{
	uint32_t i;

	for (i = 0; i < old->n_be; i++) {
		const struct hd_backend *ob = &old->be[i];

		if (strcmp(ob->svc->name, nb->svc->name) == 0 &&
		    halb_ip_eq(&ob->cb->ip, &nb->cb->ip) &&
		    cfg_backend_port(ob->svc, ob->cb) == cfg_backend_port(nb->svc, nb->cb))
			return (int)i;
	}
	return -1;
}

static int
old_agent(const struct hd *old, const char *host)
{
	uint32_t i;

	for (i = 0; i < old->n_agents; i++)
		if (strcmp(old->agents[i].cfg->host, host) == 0)
			return (int)i;
	return -1;
}

struct hd *
hd_reload(struct hd *old, const struct halb_cfg *cfg, uint64_t now,
	  uint32_t *kept)
{
	struct hd *hd = hd_new(cfg, now);
	uint32_t i, n = 0;

	if (hd == NULL)
		return NULL;
	for (i = 0; i < hd->n_be; i++) {
		struct hd_backend *nb = &hd->be[i];
		const struct hd_backend *ob;
		int o = old_backend(old, nb);

		if (o < 0)
			continue;
		ob = &old->be[o];
		n++;
		nb->agent_state = ob->agent_state;
		memcpy(nb->agent_reason, ob->agent_reason, sizeof(nb->agent_reason));
		if (memcmp(&ob->cb->check, &nb->cb->check, sizeof(ob->cb->check)) == 0) {
			nb->rf = ob->rf;
			nb->probe_ms = ob->probe_ms;
			nb->next_probe_ms = ob->next_probe_ms;
		}
		nb->lk_state = ob->lk_state;
		nb->lk_load = ob->lk_load;
		nb->lk_ms = ob->lk_ms;
		nb->op = ob->op;
		nb->op_weight = ob->op_weight;
		nb->op_ms = ob->op_ms;
		nb->op_seen = ob->op_seen;
		nb->state = ob->state;
		nb->source = ob->source;
		nb->weight = ob->weight;
		nb->info_ms = ob->info_ms;
		nb->silent = ob->silent;
		/* A new configured weight applies at once, not after the
		 * load hysteresis. */
		nb->reweigh = ob->cb->weight != nb->cb->weight;
	}
	for (i = 0; i < hd->n_agents; i++) {
		struct hd_agent *na = &hd->agents[i];
		int o = old_agent(old, na->cfg->host);

		if (o < 0)
			continue;
		na->heard = old->agents[o].heard;
		na->last_ms = old->agents[o].last_ms;
		na->interval_ms = old->agents[o].interval_ms;
		na->load = old->agents[o].load;
		na->requests = old->agents[o].requests;
	}
	hd->cls = old->cls;
	hd->cls.want_full = true;
	for (i = 0; i < cfg->health.n_peers && i < old->cfg->health.n_peers; i++) {
		hd->peers[i] = old->peers[i];
		hd->peers[i].want_full = true;
		hd->peer_heard_ms[i] = old->peer_heard_ms[i];
	}
	hd->start_ms = old->start_ms;
	hd->seq = old->seq;
	hd->c = old->c;
	hd->rl_foreign = old->rl_foreign;
	/* The senders' last sequence numbers, while the old table holds
	 * every sender the new one must (else messages of the last
	 * report_window_ms could be taken once more: logged). */
	if (hd->n_agents + cfg->health.n_peers <= old->n_agents + old->cfg->health.n_peers) {
		struct seal_replay *r = hd->replay;

		hd->replay = old->replay;
		old->replay = r;
	} else {
		HLOG(NOTICE, "reload: more agent hosts and peers than before: a new replay table (messages of the last %u ms may be accepted once more)",
		     cfg->health.report_window_ms);
	}
	for (i = 0; i < hd->n_be; i++)
		hd->be[i].dirty = true;
	hd->any_dirty = true;
	hd_refresh_all(hd, now);
	if (kept != NULL)
		*kept = n;
	return hd;
}
