/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The answer to `halbctl health` (hd.h, docs/HEALTH.md "halbctl
 * health"): one JSON object per line, one per backend in configuration
 * order, then one line {"healthd": ..., "counters": ...}.  Only reads
 * the cache.  Text that came from the network (an agent's reason) is
 * escaped like everything else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hd.h"

static void
json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static const char *
probe_name(const struct hd_backend *be)
{
	if (be->cb->check.type == CFG_CHECK_NONE)
		return "none";
	if (!hc_rf_known(&be->rf))
		return "pending";
	return hc_rf_up(&be->rf) ? "up" : "down";
}

static void
backend_line(const struct hd *hd, const struct hd_backend *be, uint64_t now,
	     FILE *out)
{
	const struct hd_load *l = NULL;
	char a[HALB_IP_STRLEN], ep[HALB_IP_STRLEN + 10];
	uint16_t port = be->cb->port ? be->cb->port : be->svc->port;

	halb_ip_fmt(&be->cb->ip, a, sizeof(a));
	snprintf(ep, sizeof(ep), halb_ip_is_v4(&be->cb->ip) ? "%s:%u" : "[%s]:%u",
		 a, port);
	fprintf(out, "{\"service\":");
	json_str(out, be->svc->name);
	fprintf(out, ",\"backend\":\"%s\",\"state\":\"%s\",\"weight\":%u,"
		"\"configured_weight\":%u,\"source\":\"%s\",\"age_ms\":",
		ep, hd_state_name(be->state), be->weight, be->cb->weight,
		hd_source_name(be->source));
	if (be->state == HD_UNKNOWN)
		fprintf(out, "null");
	else
		fprintf(out, "%" PRIu64, now > be->info_ms ? now - be->info_ms : 0);
	if (be->agent >= 0) {
		const struct hd_agent *ag = &hd->agents[be->agent];

		fprintf(out, ",\"agent\":");
		json_str(out, ag->cfg->host);
		fprintf(out, ",\"agent_state\":\"%s\",\"agent_reason\":",
			ag->heard ? hd_state_name(be->agent_state) : "unknown");
		json_str(out, be->silent ? "agent silent" : be->agent_reason);
		if (ag->heard) {
			fprintf(out, ",\"agent_interval_ms\":%u,\"agent_age_ms\":%" PRIu64,
				ag->interval_ms, now - ag->last_ms);
			l = &ag->load;
		}
	}
	if (be->source == HD_SRC_LAST_KNOWN)
		l = &be->lk_load;
	fprintf(out, ",\"probe\":\"%s\"", probe_name(be));
	if (be->cb->check.type != CFG_CHECK_NONE) {
		fprintf(out, ",\"check\":\"%s\",\"probe_why\":",
			cfg_check_name(be->cb->check.type));
		json_str(out, be->probe.why);
	}
	if (l != NULL && l->has)
		fprintf(out, ",\"load\":{\"cpu_permille\":%u,\"active_connections\":%u,"
			"\"mem_used_permille\":%u,\"capacity\":%u}",
			l->cpu_permille, l->conns, l->mem_permille, l->capacity);
	fprintf(out, "}\n");
}

static void
counters_line(const struct hd *hd, uint64_t now, FILE *out)
{
	const struct hd_counters *c = &hd->c;
	const struct cfg_health *h = &hd->cfg->health;
	uint32_t i, heard = 0;
	int r;

	for (i = 0; i < hd->n_agents; i++)
		heard += hd->agents[i].heard;
	fprintf(out, "{\"healthd\":{\"name\":");
	json_str(out, h->name);
	fprintf(out, ",\"uptime_ms\":%" PRIu64 ",\"generation\":%" PRIu64
		",\"policy\":\"%s\",\"agents\":%u,\"agents_heard\":%u,\"peers\":[",
		now - hd->start_ms, hd->cls.generation,
		cfg_weight_policy_name(h->weight_policy), hd->n_agents, heard);
	for (i = 0; i < h->n_peers; i++) {
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_str(out, h->peers[i].name);
		fprintf(out, ",\"heard_ms_ago\":");
		if (hd->peer_heard_ms[i] == 0)
			fprintf(out, "null}");
		else
			fprintf(out, "%" PRIu64 "}", now - hd->peer_heard_ms[i]);
	}
	fprintf(out, "]},\"counters\":{\"rx\":%" PRIu64 ",\"rx_reports\":%" PRIu64
		",\"rx_snapshots\":%" PRIu64 ",\"rx_requests\":%" PRIu64
		",\"rx_heartbeats\":%" PRIu64 ",\"rx_acks\":%" PRIu64,
		c->rx, c->rx_reports, c->rx_snapshots, c->rx_requests,
		c->rx_heartbeats, c->rx_acks);
	fprintf(out, ",\"rejected\":{");
	for (r = 1; r < SEAL_REJ__COUNT; r++)
		fprintf(out, "%s\"%s\":%" PRIu64, r > 1 ? "," : "",
			seal_reject_name(r), c->rejected[r]);
	fprintf(out, "},\"unexpected\":%" PRIu64 ",\"foreign\":%" PRIu64
		",\"unknown_backend\":%" PRIu64 ",\"snapshots_full\":%" PRIu64
		",\"snapshots_delta\":%" PRIu64 ",\"datagrams\":%" PRIu64
		",\"heartbeats\":%" PRIu64 ",\"cls_unreachable\":%" PRIu64
		",\"peer_sent\":%" PRIu64 ",\"peer_errors\":%" PRIu64
		",\"peer_updates\":%" PRIu64 ",\"requests_sent\":%" PRIu64
		",\"request_errors\":%" PRIu64 ",\"probes\":%" PRIu64
		",\"probe_ok\":%" PRIu64 ",\"probe_fail\":%" PRIu64
		",\"probe_timeouts\":%" PRIu64 ",\"probes_deferred\":%" PRIu64
		",\"state_changes\":%" PRIu64 "}}\n",
		c->unexpected, c->foreign, c->unknown_backend, c->snapshots_full,
		c->snapshots_delta, c->datagrams, c->heartbeats,
		c->cls_unreachable, c->peer_sent, c->peer_errors,
		c->peer_updates, c->requests_sent, c->request_errors, c->probes,
		c->probe_ok, c->probe_fail, c->probe_timeouts,
		c->probes_deferred, c->state_changes);
}

int
hd_status_write(const struct hd *hd, uint64_t now, FILE *out)
{
	uint32_t i;

	for (i = 0; i < hd->n_be; i++)
		backend_line(hd, &hd->be[i], now, out);
	counters_line(hd, now, out);
	return ferror(out) ? -EIO : 0;
}
