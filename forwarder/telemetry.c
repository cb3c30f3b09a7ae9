/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Telemetry commands (DPDK telemetry socket, usable with
 * dpdk-telemetry.py and halbctl).  They only read: counters are summed
 * over workers here, never kept in shared atomics.
 *
 *   /halb/status    processes, heartbeats, flows
 *   /halb/stats[,W] forwarder counters (all workers, or worker W),
 *                   classifier counters, drops by reason
 *   /halb/services  services, backends, weights, live flows, traffic
 *   /halb/flows,N   up to N installed flows (a diagnostic snapshot: it
 *                   reads without a grace period, so an entry being
 *                   replaced may show half old, half new)
 *   /halb/flowpage,W,B,N
 *                   the flows of worker W from bucket B on, at most N
 *                   (whole buckets), and where the next page starts:
 *                   halbctl's full dump, page by page
 *   /halb/backends,S[,F]
 *                   service S's traffic and backends F.. F+63 as numbers
 *                   (halb-exporter): see tel_backends
 *   /halb/workers   each worker's counters as numbers
 *   /halb/ports     each configured port's DPDK port id, in file order
 *   /halb/loglevel[,L]
 *                   the forwarder's rte_log level as syslog's (0..7), set
 *                   to L first when given (halbctl log-level)
 *   /halb/reload,FILE
 *                   loads FILE and applies it, or refuses it changing
 *                   nothing (reload.c; halbctl reload): the one command
 *                   that writes
 *
 * The handlers that read the configuration's services hold the
 * reload's read lock (tel_locked), so that a reload never rewrites
 * them under a reply.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_telemetry.h>

#include "halb/cfg.h"
#include "halb/cfg_reload.h"
#include "halb/flow.h"
#include "fwd.h"

static const char *const drop_names[FWD_DROP_MAX] = {
	[FWD_DROP_NOT_OURS] = "not_ours",
	[FWD_DROP_NO_SERVICE] = "no_service",
	[FWD_DROP_FRAGMENT] = "fragment",
	[FWD_DROP_NO_BACKEND] = "no_backend",
	[FWD_DROP_NO_NEIGH] = "no_neigh",
	[FWD_DROP_NO_ROUTE] = "no_route",
	[FWD_DROP_TX_FULL] = "tx_full",
	[FWD_DROP_NO_HEADROOM] = "no_headroom",
	[FWD_DROP_OTHER] = "other",
	[FWD_DROP_ICMP_NO_FLOW] = "icmp_no_flow",
	[FWD_DROP_REPLY_NO_FLOW] = "reply_no_flow",
	[FWD_DROP_VLAN] = "vlan",
	[FWD_DROP_TOO_BIG] = "too_big",
	[FWD_DROP_L2_MCAST] = "l2_multicast",
	[FWD_DROP_MARTIAN] = "martian",
	[FWD_DROP_SRC_ROUTE] = "source_route",
};

static bool
classifier_up(const struct halb_shm *shm, uint64_t *age_ms)
{
	uint64_t age = halb_tsc_age(rte_rdtsc(), shm->cls_alive);

	*age_ms = age / (shm->tsc_hz / 1000);
	return shm->cls_pid != 0 && age < fwd.cls_timeout_tsc;
}

static int
tel_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct halb_shm *shm = fwd.shm;
	uint64_t age, flows = 0;
	bool up = classifier_up(shm, &age);
	uint32_t w;

	(void)cmd;
	(void)params;
	for (w = 0; w < shm->n_workers; w++)
		flows += shm->workers[w].flow_count;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "forwarder", "up");
	rte_tel_data_add_dict_int(d, "forwarder_pid", getpid());
	rte_tel_data_add_dict_string(d, "config", fwd.cfg->path);
	rte_tel_data_add_dict_u64(d, "workers", shm->n_workers);
	rte_tel_data_add_dict_u64(d, "services", cfg_live_services(fwd.cfg));
	rte_tel_data_add_dict_string(d, "classifier", up ? "up" : "down");
	rte_tel_data_add_dict_int(d, "classifier_pid", shm->cls_pid);
	rte_tel_data_add_dict_u64(d, "classifier_heartbeat_age_ms",
				  shm->cls_alive ? age : 0);
	rte_tel_data_add_dict_u64(d, "classifier_starts", shm->cls_starts);
	rte_tel_data_add_dict_u64(d, "flows", flows);
	rte_tel_data_add_dict_u64(d, "flow_capacity",
				  (uint64_t)fwd.cfg->flow_entries * shm->n_workers);
	rte_tel_data_add_dict_u64(d, "generation", shm->view_gen);
	rte_tel_data_add_dict_u64(d, "classifier_generation", shm->cls_view_gen);
	rte_tel_data_add_dict_u64(d, "reloads", shm->reloads);
	rte_tel_data_add_dict_u64(d, "reload_refused", shm->reload_refused);
	return 0;
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct halb_shm *shm = fwd.shm;
	struct fwd_stats sum;
	struct rte_tel_data *drops, *bad, *nbad;
	uint32_t w, i;

	uint32_t first = 0, last = shm->n_workers;

	(void)cmd;
	if (params != NULL && *params != '\0') {
		first = (uint32_t)strtoul(params, NULL, 10);
		if (first >= shm->n_workers)
			return -EINVAL;
		last = first + 1;
	}
	memset(&sum, 0, sizeof(sum));
	for (w = first; w < last; w++) {
		const uint64_t *src = (const uint64_t *)&shm->workers[w].stats;
		uint64_t *dst = (uint64_t *)&sum;

		for (i = 0; i < sizeof(sum) / sizeof(uint64_t); i++)
			dst[i] += src[i];
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx", sum.rx);
	rte_tel_data_add_dict_u64(d, "tx", sum.tx);
	rte_tel_data_add_dict_u64(d, "busy_tsc", sum.busy_tsc);
	rte_tel_data_add_dict_u64(d, "tsc_hz", shm->tsc_hz);
	rte_tel_data_add_dict_u64(d, "hits", sum.hits);
	rte_tel_data_add_dict_u64(d, "punts", sum.punts);
	rte_tel_data_add_dict_u64(d, "returned", sum.returned);
	rte_tel_data_add_dict_u64(d, "fallbacks", sum.fallbacks);
	{
		/* ... of which the replica's backend: per service, summed. */
		uint64_t fr = 0;
		uint32_t s;

		for (w = first; w < last; w++)
			for (s = 0; s < CFG_MAX_SERVICES; s++)
				fr += shm->svc[w][s].fallback_replica;
		rte_tel_data_add_dict_u64(d, "fallback_replica", fr);
	}
	rte_tel_data_add_dict_u64(d, "nat_replies", sum.nat_replies);
	rte_tel_data_add_dict_u64(d, "icmp_errors", sum.icmp_errors);
	rte_tel_data_add_dict_u64(d, "icmp_too_big", sum.icmp_too_big);
	rte_tel_data_add_dict_u64(d, "icmp_limited", sum.icmp_limited);
	rte_tel_data_add_dict_u64(d, "arp_in", sum.arp_in);
	rte_tel_data_add_dict_u64(d, "arp_out", sum.arp_out);
	rte_tel_data_add_dict_u64(d, "nd_in", sum.nd_in);
	rte_tel_data_add_dict_u64(d, "nd_out", sum.nd_out);
	rte_tel_data_add_dict_u64(d, "neigh_full", sum.neigh_full);
	rte_tel_data_add_dict_u64(d, "neigh_conflict", sum.neigh_conflict);
	rte_tel_data_add_dict_u64(d, "neigh_offlink", sum.neigh_offlink);
	rte_tel_data_add_dict_u64(d, "neigh_unknown", sum.neigh_unknown);
	rte_tel_data_add_dict_u64(d, "neigh_resolved", sum.neigh_resolved);
	rte_tel_data_add_dict_u64(d, "neigh_confirmed", sum.neigh_confirmed);
	rte_tel_data_add_dict_u64(d, "neigh_moved", sum.neigh_moved);
	rte_tel_data_add_dict_u64(d, "neigh_locked", sum.neigh_locked);
	rte_tel_data_add_dict_u64(d, "neigh_kept", sum.neigh_kept);
	rte_tel_data_add_dict_u64(d, "neigh_static", sum.neigh_static);
	rte_tel_data_add_dict_u64(d, "echo_replies", sum.echo_replies);
	rte_tel_data_add_dict_u64(d, "echo_limited", sum.echo_limited);
	rte_tel_data_add_dict_u64(d, "to_kernel", sum.to_kernel);
	rte_tel_data_add_dict_u64(d, "kernel_limited", sum.kernel_limited);
	rte_tel_data_add_dict_u64(d, "kernel_full", sum.kernel_full);
	rte_tel_data_add_dict_u64(d, "from_kernel", sum.from_kernel);
	/* The cache itself (worker 0's round; gauges). */
	rte_tel_data_add_dict_u64(d, "neigh_pinned", fwd.neigh->n_pin);
	rte_tel_data_add_dict_u64(d, "neigh_dynamic", neigh_n_dynamic(fwd.neigh));
	rte_tel_data_add_dict_u64(d, "neigh_requests", fwd.neigh->st.requests);
	rte_tel_data_add_dict_u64(d, "neigh_limited", fwd.neigh->st.limited);
	rte_tel_data_add_dict_u64(d, "neigh_aged", fwd.neigh->st.aged);
	rte_tel_data_add_dict_u64(d, "neigh_failed", fwd.neigh->st.failed);
	rte_tel_data_add_dict_u64(d, "neigh_pin_failed", fwd.neigh->st.pin_failed);
	rte_tel_data_add_dict_u64(d, "neigh_reclaimed", fwd.neigh->st.reclaimed);
	rte_tel_data_add_dict_u64(d, "installs", shm->cls.installs);
	rte_tel_data_add_dict_u64(d, "cls_punted", shm->cls.punted);
	rte_tel_data_add_dict_u64(d, "cls_existing", shm->cls.existing);
	rte_tel_data_add_dict_u64(d, "cls_kept", shm->cls.kept);
	rte_tel_data_add_dict_u64(d, "cls_table_full", shm->cls.table_full);
	rte_tel_data_add_dict_u64(d, "cls_no_service", shm->cls.no_service);
	rte_tel_data_add_dict_u64(d, "cls_no_backend", shm->cls.no_backend);
	rte_tel_data_add_dict_u64(d, "cls_bad_packet", shm->cls.bad_packet);
	rte_tel_data_add_dict_u64(d, "cls_ret_full", shm->cls.ret_full);
	rte_tel_data_add_dict_u64(d, "expired", shm->cls.expired);
	rte_tel_data_add_dict_u64(d, "evicted", shm->cls.evicted);
	rte_tel_data_add_dict_u64(d, "health_msgs", shm->cls.health_msgs);
	rte_tel_data_add_dict_u64(d, "health_rejected", shm->cls.health_rejected);
	rte_tel_data_add_dict_u64(d, "health_ignored", shm->cls.health_ignored);
	rte_tel_data_add_dict_u64(d, "health_silent", shm->cls.health_silent);
	rte_tel_data_add_dict_u64(d, "mh_rebuilds", shm->cls.mh_rebuilds);
	rte_tel_data_add_dict_u64(d, "mh_failed", shm->cls.mh_failed);
	rte_tel_data_add_dict_u64(d, "grace_periods", shm->cls.grace_periods);
	rte_tel_data_add_dict_u64(d, "cls_sess_events", shm->cls.sess_events);
	rte_tel_data_add_dict_u64(d, "cls_sess_ring_full", shm->cls.sess_ring_full);
	rte_tel_data_add_dict_u64(d, "cls_sess_dumped", shm->cls.sess_dumped);
	rte_tel_data_add_dict_u64(d, "cls_sess_silent", shm->cls.sess_silent);
	rte_tel_data_add_dict_u64(d, "cls_replica", shm->cls.replica);
	rte_tel_data_add_dict_u64(d, "cls_replica_down", shm->cls.replica_down);
	rte_tel_data_add_dict_u64(d, "cls_replica_stale", shm->cls.replica_stale);
	drops = rte_tel_data_alloc();
	bad = rte_tel_data_alloc();
	nbad = rte_tel_data_alloc();
	if (drops == NULL || bad == NULL || nbad == NULL) {
		rte_tel_data_free(drops);
		rte_tel_data_free(bad);
		rte_tel_data_free(nbad);
		return -ENOMEM;
	}
	rte_tel_data_start_dict(drops);
	for (i = 0; i < FWD_DROP_MAX; i++)
		rte_tel_data_add_dict_u64(drops, drop_names[i], sum.drops[i]);
	rte_tel_data_start_dict(bad);
	for (i = 1; i < PKT_VERDICT_MAX; i++)
		rte_tel_data_add_dict_u64(bad, pkt_verdict_name(i), sum.bad[i]);
	rte_tel_data_start_dict(nbad);
	for (i = 1; i < PKT_NEIGH_ERR_MAX; i++)
		rte_tel_data_add_dict_u64(nbad, pkt_neigh_err_name(i), sum.neigh_bad[i]);
	rte_tel_data_add_dict_container(d, "drops", drops, 0);
	rte_tel_data_add_dict_container(d, "malformed", bad, 0);
	/* ARP and ND ignored, by the rule they broke (pkt_neigh_check). */
	rte_tel_data_add_dict_container(d, "neigh_invalid", nbad, 0);
	return 0;
}

/* The request router (docs/REQUESTS.md): the workers' side (cookies,
 * punts, translated packets) and the router's own counters, which it
 * writes in shm->l7. */
static int
tel_router(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct halb_shm *shm = fwd.shm;
	const struct l7_stats *r = &shm->l7;
	uint64_t v[16] = { 0 };
	uint32_t w;
	uint64_t age = halb_tsc_age(rte_rdtsc(), shm->l7_alive) /
		       (shm->tsc_hz / 1000);

	(void)cmd;
	(void)params;
	for (w = 0; w < shm->n_workers; w++) {
		const struct fwd_stats *st = &shm->workers[w].stats;

		v[0] += st->l7_cookies;
		v[1] += st->l7_cookie_ok;
		v[2] += st->l7_cookie_stale;
		v[3] += st->l7_cookie_forged;
		v[4] += st->l7_backend_in;
		v[5] += st->l7_ring_full;
		v[6] += st->l7_router_down;
		v[7] += st->l7_hits;
		v[8] += st->l7_replies;
		v[9] += st->l7_out;
		v[10] += st->l7_late;
		v[11] += st->l7_late_rst;
		v[12] += st->l7_rst_no_ack;
		v[13] += st->l7_punt_limited;
		v[14] += st->l7_adopt;
		v[15] += st->l7_replica_replies;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "configured", shm->has_l7);
	rte_tel_data_add_dict_int(d, "router_pid", shm->l7_pid);
	rte_tel_data_add_dict_u64(d, "router_heartbeat_age_ms",
				  shm->l7_alive ? age : 0);
	rte_tel_data_add_dict_u64(d, "router_starts", shm->l7_starts);
	rte_tel_data_add_dict_u64(d, "generation", shm->l7_view_gen);
	rte_tel_data_add_dict_u64(d, "cookies", v[0]);
	rte_tel_data_add_dict_u64(d, "cookie_ok", v[1]);
	rte_tel_data_add_dict_u64(d, "cookie_stale", v[2]);
	rte_tel_data_add_dict_u64(d, "cookie_forged", v[3]);
	rte_tel_data_add_dict_u64(d, "backend_in", v[4]);
	rte_tel_data_add_dict_u64(d, "ring_full", v[5]);
	rte_tel_data_add_dict_u64(d, "router_down", v[6]);
	rte_tel_data_add_dict_u64(d, "bound_hits", v[7]);
	rte_tel_data_add_dict_u64(d, "bound_replies", v[8]);
	rte_tel_data_add_dict_u64(d, "router_frames", v[9]);
	rte_tel_data_add_dict_u64(d, "late", v[10]);
	rte_tel_data_add_dict_u64(d, "late_rst", v[11]);
	rte_tel_data_add_dict_u64(d, "rst_no_ack", v[12]);
	rte_tel_data_add_dict_u64(d, "punt_limited", v[13]);
	rte_tel_data_add_dict_u64(d, "adopt", v[14]);
	rte_tel_data_add_dict_u64(d, "replica_replies", v[15]);
	rte_tel_data_add_dict_u64(d, "in", r->in);
	rte_tel_data_add_dict_u64(d, "bindings", r->bindings);
	rte_tel_data_add_dict_u64(d, "bound", r->bound);
	rte_tel_data_add_dict_u64(d, "binding_full", r->binding_full);
	rte_tel_data_add_dict_u64(d, "timeouts", r->timeouts);
	rte_tel_data_add_dict_u64(d, "client_rst", r->client_rst);
	rte_tel_data_add_dict_u64(d, "too_big", r->too_big);
	rte_tel_data_add_dict_u64(d, "bad_request", r->bad_request);
	rte_tel_data_add_dict_u64(d, "no_match", r->no_match);
	rte_tel_data_add_dict_u64(d, "no_backend", r->no_backend);
	rte_tel_data_add_dict_u64(d, "be_refused", r->be_refused);
	rte_tel_data_add_dict_u64(d, "be_timeout", r->be_timeout);
	rte_tel_data_add_dict_u64(d, "wscale_mismatch", r->wscale_mismatch);
	rte_tel_data_add_dict_u64(d, "table_full", r->table_full);
	rte_tel_data_add_dict_u64(d, "out_full", r->out_full);
	rte_tel_data_add_dict_u64(d, "nombuf", r->nombuf);
	rte_tel_data_add_dict_u64(d, "stray", r->stray);
	rte_tel_data_add_dict_u64(d, "expired", r->expired);
	rte_tel_data_add_dict_u64(d, "adopted", r->adopted);
	rte_tel_data_add_dict_u64(d, "adopt_refused", r->adopt_refused);
	rte_tel_data_add_dict_u64(d, "sess_events", r->sess_events);
	rte_tel_data_add_dict_u64(d, "sess_ring_full", r->sess_ring_full);
	rte_tel_data_add_dict_u64(d, "sess_dumped", r->sess_dumped);
	rte_tel_data_add_dict_u64(d, "sess_dumps", r->sess_dumps);
	rte_tel_data_add_dict_u64(d, "relay_out", r->relay_out);
	rte_tel_data_add_dict_u64(d, "relay_full", r->relay_full);
	rte_tel_data_add_dict_u64(d, "relay_in", r->relay_in);
	rte_tel_data_add_dict_u64(d, "relay_bound", r->relay_bound);
	rte_tel_data_add_dict_u64(d, "relay_replies", r->relay_replies);
	rte_tel_data_add_dict_u64(d, "relay_stray", r->relay_stray);
	rte_tel_data_add_dict_u64(d, "late_bound", r->late_bound);
	rte_tel_data_add_dict_u64(d, "flows", r->flows);
	rte_tel_data_add_dict_u64(d, "binding", r->binding);
	rte_tel_data_add_dict_u64(d, "busy_tsc", r->busy_tsc);
	return 0;
}

/* DPDK 22.11 telemetry nests one level only: each service is an array
 * of strings, its summary first, then one line per backend (each within
 * RTE_TEL_MAX_STRING_LEN). */
static int
tel_services(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *const states[] = { "?", "up", "down", "draining" };
	static const char *const sources[] = { "config", "agent", "probe",
					       "last-known", "operator" };
	const struct halb_shm *shm = fwd.shm;
	const struct halb_cfg *cfg = fwd.cfg;
	uint32_t s, b, w;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct rte_tel_data *sd;
		uint64_t pkts = 0, bytes = 0, fb = 0;
		char ip[HALB_IP_STRLEN], buf[RTE_TEL_MAX_STRING_LEN];

		if (cs->slot == CFG_SLOT_FREE)
			continue;
		sd = rte_tel_data_alloc();
		if (sd == NULL)
			return -ENOMEM;
		for (w = 0; w < shm->n_workers; w++) {
			pkts += shm->svc[w][s].pkts;
			bytes += shm->svc[w][s].bytes;
			fb += shm->svc[w][s].fallbacks;
		}
		rte_tel_data_start_array(sd, RTE_TEL_STRING_VAL);
		snprintf(buf, sizeof(buf),
			 "vip=%s%s%s:%u/%s mode=%s scheduler=%s pkts=%" PRIu64
			 " bytes=%" PRIu64 " fallbacks=%" PRIu64,
			 halb_ip_is_v4(&cs->vip) ? "" : "[",
			 halb_ip_fmt(&cs->vip, ip, sizeof(ip)),
			 halb_ip_is_v4(&cs->vip) ? "" : "]", cs->port,
			 cs->proto == IPPROTO_TCP ? "tcp" : "udp",
			 cfg_mode_name(cs->mode), cfg_sched_name(cs->sched), pkts,
			 bytes, fb);
		rte_tel_data_add_array_string(sd, buf);
		for (b = 0; b < cs->n_backends; b++) {
			const struct cfg_backend *cb = &cs->backends[b];
			const struct halb_be_health *h = &shm->health[s][b];

			if (cb->slot == CFG_SLOT_FREE)
				continue;
			if (cb->slot == CFG_SLOT_RETIRED || cs->slot == CFG_SLOT_RETIRED)
				snprintf(buf, sizeof(buf),
					 "%s port=%u state=removed weight=0 source=reload flows=%u",
					 halb_ip_fmt(&cb->ip, ip, sizeof(ip)), cb->port,
					 shm->active[s][b] + shm->l7_active[s][b]);
			else if (!shm->health_valid) /* no classifier yet */
				snprintf(buf, sizeof(buf),
					 "%s port=%u state=up weight=%u source=config flows=0",
					 halb_ip_fmt(&cb->ip, ip, sizeof(ip)), cb->port,
					 cb->weight);
			else
				snprintf(buf, sizeof(buf),
					 "%s port=%u state=%s weight=%u source=%s cpu=%u.%u%% conns=%u flows=%u",
					 halb_ip_fmt(&cb->ip, ip, sizeof(ip)), cb->port,
					 states[h->state <= 3 ? h->state : 0], h->weight,
					 sources[h->source <= HALB_SRC_OPERATOR ?
						 h->source : 0],
					 h->cpu_permille / 10, h->cpu_permille % 10, h->conns,
					 shm->active[s][b] + shm->l7_active[s][b]);
			/* Request routing: the backend's pool, last. */
			if (cs->l7.has && cb->pool < cs->l7.n_pools) {
				size_t n = strlen(buf);

				snprintf(buf + n, sizeof(buf) - n, " pool=%s",
					 cs->l7.pools[cb->pool]);
			}
			rte_tel_data_add_array_string(sd, buf);
		}
		/* Dict keys may hold only letters, digits and '_' here; a
		 * retired slot's name may be a live one's too. */
		if (cs->slot == CFG_SLOT_RETIRED)
			snprintf(buf, sizeof(buf), "%s_removed_%u", cs->name, s);
		else
			snprintf(buf, sizeof(buf), "%s", cs->name);
		for (w = 0; buf[w] != '\0'; w++)
			if (!isalnum((unsigned char)buf[w]))
				buf[w] = '_';
		rte_tel_data_add_dict_container(d, buf, sd, 0);
	}
	return 0;
}

/* Services' and backends' numbers for halb-exporter.  DPDK 22.11 nests
 * one level and a reply holds 16 KiB, so a service is asked in pages of
 * TEL_BE_PAGE backend slots: "service": [pkts, bytes, fallbacks],
 * "n_backends" (slots), then "bI": [pkts, bytes, new_flows,
 * active_flows, state, weight, source, cpu_permille, conns] and "aI",
 * its address and port ("ADDR:PORT", "[ADDR]:PORT", or the address
 * alone for port 0), per backend slot I that is live or retired (state
 * 0 until the classifier has applied health once).  The service is its
 * slot S, or "@NAME": the live service of that name, as halb-exporter
 * asks, since a reload moves nothing but its file's positions do
 * (docs/RELOAD.md). */
#define TEL_BE_PAGE 64u

static int
u64_array(struct rte_tel_data *d, const char *key, const uint64_t *v,
	  unsigned int n)
{
	struct rte_tel_data *a = rte_tel_data_alloc();
	unsigned int i;

	if (a == NULL)
		return -ENOMEM;
	rte_tel_data_start_array(a, RTE_TEL_U64_VAL);
	for (i = 0; i < n; i++)
		rte_tel_data_add_array_u64(a, v[i]);
	return rte_tel_data_add_dict_container(d, key, a, 0);
}

static int
tel_backends(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct halb_shm *shm = fwd.shm;
	unsigned long s, first = 0;
	uint64_t v[9];
	char *end, key[16];
	uint32_t b, w;

	(void)cmd;
	if (params == NULL || *params == '\0')
		return -EINVAL;
	if (*params == '@') {
		size_t n = strcspn(params + 1, ",");

		for (s = 0; s < fwd.cfg->n_services; s++)
			if (fwd.cfg->services[s].slot == CFG_SLOT_LIVE &&
			    strlen(fwd.cfg->services[s].name) == n &&
			    strncmp(fwd.cfg->services[s].name, params + 1, n) == 0)
				break;
		end = (char *)(uintptr_t)(params + 1 + n);
	} else {
		s = strtoul(params, &end, 10);
	}
	if (*end == ',')
		first = strtoul(end + 1, &end, 10);
	if (*end != '\0' || s >= fwd.cfg->n_services)
		return -EINVAL;
	rte_tel_data_start_dict(d);
	memset(v, 0, sizeof(v));
	for (w = 0; w < shm->n_workers; w++) {
		v[0] += shm->svc[w][s].pkts;
		v[1] += shm->svc[w][s].bytes;
		v[2] += shm->svc[w][s].fallbacks;
	}
	if (u64_array(d, "service", v, 3) != 0)
		return -ENOMEM;
	rte_tel_data_add_dict_u64(d, "n_backends",
				  fwd.cfg->services[s].n_backends);
	for (b = (uint32_t)first; b < fwd.cfg->services[s].n_backends &&
	     b < first + TEL_BE_PAGE; b++) {
		const struct cfg_service *cs = &fwd.cfg->services[s];
		const struct cfg_backend *cb = &cs->backends[b];
		const struct halb_be_health *h = &shm->health[s][b];
		uint16_t port = cb->port ? cb->port : cs->port;
		char ip[HALB_IP_STRLEN], ep[HALB_IP_STRLEN + 8];

		if (cb->slot == CFG_SLOT_FREE)
			continue;
		halb_ip_fmt(&cb->ip, ip, sizeof(ip));
		if (port == 0)
			snprintf(ep, sizeof(ep), "%s", ip);
		else
			snprintf(ep, sizeof(ep), halb_ip_is_v4(&cb->ip) ? "%s:%u" : "[%s]:%u",
				 ip, port);
		snprintf(key, sizeof(key), "a%u", b);
		rte_tel_data_add_dict_string(d, key, ep);
		memset(v, 0, sizeof(v));
		for (w = 0; w < shm->n_workers; w++) {
			v[0] += shm->be[w].b[s][b].pkts;
			v[1] += shm->be[w].b[s][b].bytes;
		}
		v[2] = shm->installs[s][b];
		/* The classifier's flows and the request router's. */
		v[3] = shm->active[s][b] + shm->l7_active[s][b];
		if (shm->health_valid) {
			v[4] = h->state;
			v[5] = h->weight;
			v[6] = h->source;
			v[7] = h->cpu_permille;
			v[8] = h->conns;
		} else {
			v[5] = fwd.cfg->services[s].backends[b].weight;
		}
		snprintf(key, sizeof(key), "b%u", b);
		if (u64_array(d, key, v, 9) != 0)
			return -ENOMEM;
	}
	return 0;
}

/* "wI": [rx, tx, hits, punts, returned, fallbacks, drops, malformed,
 * flows, flow_capacity, table_full, busy_tsc, loops] per worker I. */
static int
tel_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct halb_shm *shm = fwd.shm;
	uint32_t w, i;
	char key[16];

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "tsc_hz", shm->tsc_hz);
	for (w = 0; w < shm->n_workers; w++) {
		const struct halb_worker_shm *ws = &shm->workers[w];
		const struct fwd_stats *st = &ws->stats;
		uint64_t v[13] = { st->rx, st->tx, st->hits, st->punts,
				   st->returned, st->fallbacks, 0, 0,
				   ws->flow_count, fwd.cfg->flow_entries,
				   ws->table_full, st->busy_tsc, ws->loops };

		for (i = 0; i < FWD_DROP_MAX; i++)
			v[6] += st->drops[i];
		for (i = 1; i < PKT_VERDICT_MAX; i++)
			v[7] += st->bad[i];
		snprintf(key, sizeof(key), "w%u", w);
		if (u64_array(d, key, v, 13) != 0)
			return -ENOMEM;
	}
	return 0;
}

/* "pI": the DPDK port id of the configuration's port I. */
static int
tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char key[16];
	uint32_t p;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (p = 0; p < fwd.n_ports; p++) {
		snprintf(key, sizeof(key), "p%u", p);
		rte_tel_data_add_dict_u64(d, key, fwd.ports[p].port_id);
	}
	return 0;
}

static void
flow_line(uint32_t w, const struct flow_entry *e, char *line, size_t len)
{
	static const char *const st[] = { "syn", "est", "fin", "udp" };
	const struct cfg_service *cs = NULL;
	struct halb_ip src, dst;
	char a[HALB_IP_STRLEN], z[HALB_IP_STRLEN], be[HALB_IP_STRLEN + 8] = "?";

	memcpy(src.b, e->key.src, 16);
	memcpy(dst.b, e->key.dst, 16);
	if (e->svc < fwd.cfg->n_services)
		cs = &fwd.cfg->services[e->svc];
	if (cs != NULL && e->backend < cs->n_backends) {
		const struct cfg_backend *cb = &cs->backends[e->backend];
		char ip[HALB_IP_STRLEN];

		halb_ip_fmt(&cb->ip, ip, sizeof(ip));
		snprintf(be, sizeof(be), halb_ip_is_v4(&cb->ip) ? "%s:%u" : "[%s]:%u",
			 ip, cb->port ? cb->port : ntohs(e->key.dport));
	}
	snprintf(line, len,
		 "w%u %s %s%s%s:%u -> %s%s%s:%u svc=%s backend=%s state=%s",
		 w, e->key.proto == IPPROTO_TCP ? "tcp" : "udp",
		 halb_ip_is_v4(&src) ? "" : "[", halb_ip_fmt(&src, a, sizeof(a)),
		 halb_ip_is_v4(&src) ? "" : "]", ntohs(e->key.sport),
		 halb_ip_is_v4(&dst) ? "" : "[", halb_ip_fmt(&dst, z, sizeof(z)),
		 halb_ip_is_v4(&dst) ? "" : "]", ntohs(e->key.dport),
		 cs != NULL ? cs->name : "?", be, e->state < 4 ? st[e->state] : "?");
}

/* At most 100 lines of ~120 bytes fit the 16 KiB reply. */
#define TEL_FLOW_PAGE 100u

static int
tel_flowpage(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct halb_shm *shm = fwd.shm;
	unsigned long w = 0, b = 0, max = TEL_FLOW_PAGE;
	struct rte_tel_data *a;
	uint32_t n = 0, i;

	(void)cmd;
	if (params == NULL || sscanf(params, "%lu,%lu,%lu", &w, &b, &max) < 2)
		return -EINVAL;
	if (max > TEL_FLOW_PAGE || max < FLOW_BUCKET_SLOTS)
		max = TEL_FLOW_PAGE;
	a = rte_tel_data_alloc();
	if (a == NULL)
		return -ENOMEM;
	rte_tel_data_start_array(a, RTE_TEL_STRING_VAL);
	for (; w < shm->n_workers; w++, b = 0) {
		const struct flow_table *t = &shm->workers[w].flows;

		/* Whole buckets only, so that the next page starts clean. */
		for (; b < t->n_buckets && n + FLOW_BUCKET_SLOTS <= max; b++)
			for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
				uint64_t sl = __atomic_load_n(&t->buckets[b].slot[i],
							      __ATOMIC_ACQUIRE);
				char line[RTE_TEL_MAX_STRING_LEN];

				if (sl == 0)
					continue;
				flow_line((uint32_t)w,
					  &t->entries[flow_slot_idx(sl)],
					  line, sizeof(line));
				rte_tel_data_add_array_string(a, line);
				n++;
			}
		if (b < t->n_buckets)
			break;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "next_worker", w);
	rte_tel_data_add_dict_u64(d, "next_bucket", b);
	rte_tel_data_add_dict_u64(d, "done", w >= shm->n_workers);
	return rte_tel_data_add_dict_container(d, "flows", a, 0);
}

static int
tel_loglevel(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned long l;
	char *end;

	(void)cmd;
	if (params != NULL && *params != '\0') {
		l = strtoul(params, &end, 10);
		if (*end != '\0' || l > 7)
			return -EINVAL;
		rte_log_set_global_level((uint32_t)l + 1);
		FWD_LOG(NOTICE, "log level now %s", cfg_log_level_name((unsigned int)l));
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "level",
				     cfg_log_level_name(rte_log_get_global_level() - 1));
	return 0;
}

static int
tel_flows(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct halb_shm *shm = fwd.shm;
	uint32_t max = 32, n = 0, w, b, i;

	(void)cmd;
	if (params != NULL && *params != '\0')
		max = (uint32_t)strtoul(params, NULL, 10);
	if (max > 256)
		max = 256; /* the reply must fit the telemetry buffer */
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	for (w = 0; w < shm->n_workers && n < max; w++) {
		const struct flow_table *t = &shm->workers[w].flows;

		for (b = 0; b < t->n_buckets && n < max; b++)
			for (i = 0; i < FLOW_BUCKET_SLOTS && n < max; i++) {
				uint64_t s = __atomic_load_n(&t->buckets[b].slot[i],
							     __ATOMIC_ACQUIRE);
				const struct flow_entry *e;
				struct halb_ip src, dst;
				char a[HALB_IP_STRLEN], z[HALB_IP_STRLEN], line[200];

				if (s == 0)
					continue;
				e = &t->entries[flow_slot_idx(s)];
				memcpy(src.b, e->key.src, 16);
				memcpy(dst.b, e->key.dst, 16);
				snprintf(line, sizeof(line),
					 "w%u %s %s:%u -> %s:%u svc=%s backend=%u state=%u",
					 w, e->key.proto == IPPROTO_TCP ? "tcp" : "udp",
					 halb_ip_fmt(&src, a, sizeof(a)), ntohs(e->key.sport),
					 halb_ip_fmt(&dst, z, sizeof(z)), ntohs(e->key.dport),
					 e->svc < fwd.cfg->n_services ?
						 fwd.cfg->services[e->svc].name : "?",
					 e->backend, e->state);
				rte_tel_data_add_array_string(d, line);
				n++;
			}
	}
	return 0;
}

/* At most this many lines of changes in a reply (the rest are in the
 * forwarder's log): DPDK 22.11 replies hold 16 KiB. */
#define TEL_RELOAD_LINES 100u

static int
tel_reload(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct cfg_reload_log *log;
	struct rte_tel_data *a;
	uint32_t i;
	int rc;

	(void)cmd;
	if (params == NULL || *params == '\0')
		return -EINVAL;
	log = calloc(1, sizeof(*log));
	a = rte_tel_data_alloc();
	if (log == NULL || a == NULL) {
		free(log);
		rte_tel_data_free(a);
		return -ENOMEM;
	}
	rc = fwd_reload(&fwd, params, log);
	rte_tel_data_start_array(a, RTE_TEL_STRING_VAL);
	for (i = 0; i < log->n && i < TEL_RELOAD_LINES; i++)
		rte_tel_data_add_array_string(a, log->line[i]);
	if (log->n + log->dropped > TEL_RELOAD_LINES) {
		char more[64];

		snprintf(more, sizeof(more), "... %u more line(s) in the forwarder's log",
			 log->n + log->dropped - TEL_RELOAD_LINES);
		rte_tel_data_add_array_string(a, more);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "result", rc == 0 ? "applied" : "refused");
	rte_tel_data_add_dict_u64(d, "generation", fwd.shm->view_gen);
	rte_tel_data_add_dict_container(d, "changes", a, 0);
	free(log);
	return 0;
}

/* The handlers that read fwd.cfg's services, under the reload's read
 * lock. */
#define TEL_LOCKED(fn)                                                   \
	static int fn##_locked(const char *cmd, const char *params,     \
			       struct rte_tel_data *d)                   \
	{                                                                \
		int rc;                                                  \
									 \
		fwd_cfg_rdlock();                                        \
		rc = fn(cmd, params, d);                                 \
		fwd_cfg_unlock();                                        \
		return rc;                                               \
	}
TEL_LOCKED(tel_status)
TEL_LOCKED(tel_services)
TEL_LOCKED(tel_flows)
TEL_LOCKED(tel_flowpage)
TEL_LOCKED(tel_backends)

int
fwd_telemetry_init(struct fwd_ctx *c)
{
	(void)c;
	return rte_telemetry_register_cmd("/halb/status", tel_status_locked,
					  "Processes, heartbeats and flow counts") |
	       rte_telemetry_register_cmd("/halb/stats", tel_stats,
					  "Forwarder and classifier counters. Parameters: int worker (optional)") |
	       rte_telemetry_register_cmd("/halb/router", tel_router,
					  "Request router: cookies, bindings, outcomes") |
	       rte_telemetry_register_cmd("/halb/services", tel_services_locked,
					  "Services and backends") |
	       rte_telemetry_register_cmd("/halb/flows", tel_flows_locked,
					  "Installed flows. Parameters: int max") |
	       rte_telemetry_register_cmd("/halb/flowpage", tel_flowpage_locked,
					  "A page of installed flows. Parameters: int worker, int bucket, int max") |
	       rte_telemetry_register_cmd("/halb/backends", tel_backends_locked,
					  "A service's and its backends' counters. Parameters: int service, int first") |
	       rte_telemetry_register_cmd("/halb/workers", tel_workers,
					  "Each worker's counters") |
	       rte_telemetry_register_cmd("/halb/ports", tel_ports,
					  "DPDK port id of each configured port") |
	       rte_telemetry_register_cmd("/halb/loglevel", tel_loglevel,
					  "The log level (syslog's 0..7). Parameters: int level (optional)") |
	       rte_telemetry_register_cmd("/halb/reload", tel_reload,
					  "Loads and applies a configuration file, or refuses it. Parameters: string path");
}
