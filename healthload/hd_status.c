/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The answer to `halbctl health` (hd.h, docs/HEALTH.md "halbctl
 * health"): one JSON object per line, one per backend in configuration
 * order, then one line {"healthd": ..., "counters": ...}.  Only reads
 * the cache.  Written with jansson, so that every string is escaped as
 * JSON wants; text that came from the network (an agent's reason) and is
 * not UTF-8 has its bad bytes replaced by '?' first.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hd.h"

/* A JSON string of s; bytes that are not UTF-8 become '?'. */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s);
	char *c;
	size_t i;

	if (j != NULL || s == NULL)
		return j;
	c = strdup(s);
	if (c == NULL)
		return NULL;
	/* jansson takes only UTF-8: keep ASCII, mark the rest. */
	for (i = 0; c[i] != '\0'; i++)
		if ((unsigned char)c[i] >= 0x80)
			c[i] = '?';
	j = json_string(c);
	free(c);
	return j;
}

static json_t *
jint(uint64_t v)
{
	return json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v));
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

static json_t *
load_obj(const struct hd_load *l)
{
	json_t *o = json_object();

	json_object_set_new(o, "cpu_permille", jint(l->cpu_permille));
	json_object_set_new(o, "active_connections", jint(l->conns));
	json_object_set_new(o, "mem_used_permille", jint(l->mem_permille));
	json_object_set_new(o, "capacity", jint(l->capacity));
	return o;
}

static json_t *
backend_obj(const struct hd *hd, const struct hd_backend *be, uint64_t now)
{
	const struct hd_load *l = NULL;
	char a[HALB_IP_STRLEN], ep[HALB_IP_STRLEN + 10];
	uint16_t port = be->cb->port ? be->cb->port : be->svc->port;
	json_t *o = json_object();

	halb_ip_fmt(&be->cb->ip, a, sizeof(a));
	snprintf(ep, sizeof(ep), halb_ip_is_v4(&be->cb->ip) ? "%s:%u" : "[%s]:%u",
		 a, port);
	json_object_set_new(o, "service", jstr(be->svc->name));
	json_object_set_new(o, "backend", jstr(ep));
	json_object_set_new(o, "state", jstr(hd_state_name(be->state)));
	json_object_set_new(o, "weight", jint(be->weight));
	json_object_set_new(o, "configured_weight", jint(be->cb->weight));
	json_object_set_new(o, "source", jstr(hd_source_name(be->source)));
	json_object_set_new(o, "age_ms", be->state == HD_UNKNOWN ? json_null() :
			    jint(now > be->info_ms ? now - be->info_ms : 0));
	if (be->agent >= 0) {
		const struct hd_agent *ag = &hd->agents[be->agent];

		json_object_set_new(o, "agent", jstr(ag->cfg->host));
		json_object_set_new(o, "agent_state",
				    jstr(ag->heard ? hd_state_name(be->agent_state) :
					 "unknown"));
		json_object_set_new(o, "agent_reason",
				    jstr(be->silent ? "agent silent" : be->agent_reason));
		if (ag->heard) {
			json_object_set_new(o, "agent_interval_ms",
					    jint(ag->interval_ms));
			json_object_set_new(o, "agent_age_ms", jint(now - ag->last_ms));
			l = &ag->load;
		}
	}
	if (be->source == HD_SRC_LAST_KNOWN)
		l = &be->lk_load;
	json_object_set_new(o, "probe", jstr(probe_name(be)));
	if (be->cb->check.type != CFG_CHECK_NONE) {
		json_object_set_new(o, "check",
				    jstr(cfg_check_name(be->cb->check.type)));
		json_object_set_new(o, "probe_why", jstr(be->probe.why));
	}
	if (l != NULL && l->has)
		json_object_set_new(o, "load", load_obj(l));
	/* The operator's decision, whatever the state shows (a drain of a
	 * backend that health says is down is still the operator's). */
	json_object_set_new(o, "operator", be->op == HD_OP_NONE ? json_null() :
			    jstr(hd_op_name(be->op)));
	json_object_set_new(o, "operator_weight",
			    be->op_weight == HD_OP_WEIGHT_NONE ? json_null() :
			    jint(be->op_weight));
	return o;
}

static json_t *
healthd_obj(const struct hd *hd, uint64_t now)
{
	const struct cfg_health *h = &hd->cfg->health;
	json_t *o = json_object(), *peers = json_array(), *p;
	uint32_t i, heard = 0;

	for (i = 0; i < hd->n_agents; i++)
		heard += hd->agents[i].heard;
	json_object_set_new(o, "name", jstr(h->name));
	json_object_set_new(o, "uptime_ms", jint(now - hd->start_ms));
	json_object_set_new(o, "generation", jint(hd->cls.generation));
	json_object_set_new(o, "policy",
			    jstr(cfg_weight_policy_name(h->weight_policy)));
	json_object_set_new(o, "agents", jint(hd->n_agents));
	json_object_set_new(o, "agents_heard", jint(heard));
	for (i = 0; i < h->n_peers; i++) {
		p = json_object();
		json_object_set_new(p, "name", jstr(h->peers[i].name));
		json_object_set_new(p, "heard_ms_ago", hd->peer_heard_ms[i] == 0 ?
				    json_null() : jint(now - hd->peer_heard_ms[i]));
		json_array_append_new(peers, p);
	}
	json_object_set_new(o, "peers", peers);
	return o;
}

static json_t *
counters_obj(const struct hd *hd)
{
	const struct hd_counters *c = &hd->c;
	json_t *o = json_object(), *rej = json_object();
	int r;

#define C(name) json_object_set_new(o, #name, jint(c->name))
	C(rx);
	C(rx_reports);
	C(rx_snapshots);
	C(rx_requests);
	C(rx_heartbeats);
	C(rx_acks);
	for (r = 1; r < SEAL_REJ__COUNT; r++)
		json_object_set_new(rej, seal_reject_name(r), jint(c->rejected[r]));
	json_object_set_new(o, "rejected", rej);
	C(unexpected);
	C(foreign);
	C(unknown_backend);
	C(snapshots_full);
	C(snapshots_delta);
	C(datagrams);
	C(heartbeats);
	C(cls_unreachable);
	C(peer_sent);
	C(peer_errors);
	C(peer_updates);
	C(requests_sent);
	C(request_errors);
	C(probes);
	C(probe_ok);
	C(probe_fail);
	C(probe_timeouts);
	C(probes_deferred);
	C(state_changes);
	C(operator_commands);
	C(operator_refused);
#undef C
	return o;
}

/* One object as one line; 0 or -EIO/-ENOMEM. */
static int
put_line(json_t *o, FILE *out)
{
	int rc = o == NULL ? -ENOMEM :
		 json_dumpf(o, out, JSON_COMPACT) != 0 || fputc('\n', out) == EOF ?
		 -EIO : 0;

	json_decref(o);
	return rc;
}

int
hd_status_write(const struct hd *hd, uint64_t now, FILE *out)
{
	json_t *last;
	uint32_t i;
	int rc = 0;

	for (i = 0; i < hd->n_be && rc == 0; i++)
		rc = put_line(backend_obj(hd, &hd->be[i], now), out);
	if (rc != 0)
		return rc;
	last = json_object();
	json_object_set_new(last, "healthd", healthd_obj(hd, now));
	json_object_set_new(last, "counters", counters_obj(hd));
	rc = put_line(last, out);
	return rc != 0 ? rc : ferror(out) ? -EIO : 0;
}

int
hd_status_answer(FILE *out, bool ok, const char *msg)
{
	json_t *o = json_object();

	if (o != NULL)
		json_object_set_new(o, ok ? "ok" : "error", jstr(msg));
	return put_line(o, out);
}
