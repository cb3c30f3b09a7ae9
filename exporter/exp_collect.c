/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One scrape of halb-exporter (exp.h): asks each source, translates its
 * answer into samples.  Names follow Prometheus's conventions: a
 * halb_ prefix, counters ending in _total, units in the name (_bytes,
 * _seconds); labels name things as the configuration does (service,
 * backend "ADDRESS:PORT", port, worker, part).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "halb/ctl.h"
#include "halb/hb.h"
#include "halb/ip.h"
#include "halb/log.h"
#include "halb/tlm.h"
#include "exp.h"

#define EXP_TIMEOUT_MS 2000 /* each source's answer */
#define EXP_BE_PAGE 64u     /* forwarder/telemetry.c TEL_BE_PAGE */

static double
jnum(const json_t *o, const char *key)
{
	const json_t *v = key != NULL ? json_object_get(o, key) : o;

	return json_is_number(v) ? json_number_value(v) : 0.0;
}

const json_t *
exp_tlm_body(const json_t *reply)
{
	void *it = json_is_object(reply) ?
		   json_object_iter((json_t *)(uintptr_t)reply) : NULL;

	return it != NULL ? json_object_iter_value(it) : NULL;
}

void
exp_heartbeats(struct prom *p, const char *prefix)
{
	static const char *const parts[] = { "forwarder", "classifier",
					     "healthd", "sessiond", NULL };
	struct halb_hb_view v;
	unsigned int i;

	for (i = 0; parts[i] != NULL; i++) {
		int rc = halb_hb_read(prefix, parts[i], 0, &v);

		prom_add(p, "halb_part_up", PROM_GAUGE,
			 "1 if the part's heartbeat is fresh and its process lives",
			 rc == 0 && strcmp(v.verdict, "up") == 0, "part",
			 parts[i], NULL);
		if (rc != 0)
			continue;
		prom_add(p, "halb_part_heartbeat_age_seconds", PROM_GAUGE,
			 "Time since the part's last heartbeat",
			 (double)v.age_ms / 1000.0, "part", parts[i], NULL);
		prom_add(p, "halb_part_start_time_seconds", PROM_GAUGE,
			 "The part's start, seconds of CLOCK_MONOTONIC",
			 (double)v.hb.started_ns / 1e9, "part", parts[i], NULL);
	}
}

void
exp_fwd_status(struct prom *p, const json_t *b)
{
	prom_add(p, "halb_classifier_up", PROM_GAUGE,
		 "1 if the forwarder sees the classifier's heartbeat",
		 strcmp(json_string_value(json_object_get(b, "classifier")) ?: "",
			"up") == 0, NULL);
	prom_add(p, "halb_classifier_starts_total", PROM_COUNTER,
		 "Classifier attachments to this forwarder",
		 jnum(b, "classifier_starts"), NULL);
	prom_add(p, "halb_flows", PROM_GAUGE, "Installed flows, all workers",
		 jnum(b, "flows"), NULL);
	prom_add(p, "halb_flow_capacity", PROM_GAUGE,
		 "Flow table entries, all workers", jnum(b, "flow_capacity"),
		 NULL);
	/* Reloads (docs/RELOAD.md); absent from an older forwarder. */
	if (json_object_get(b, "generation") == NULL)
		return;
	prom_add(p, "halb_config_generation", PROM_GAUGE,
		 "Generation of the forwarder's configuration (1 at start, +1 a reload)",
		 jnum(b, "generation"), NULL);
	prom_add(p, "halb_reloads_total", PROM_COUNTER,
		 "Reloads the forwarder applied", jnum(b, "reloads"), NULL);
	prom_add(p, "halb_reload_refused_total", PROM_COUNTER,
		 "Reloads the forwarder refused (a change needing a restart, a bad file)",
		 jnum(b, "reload_refused"), NULL);
}

/* /halb/stats keys that are the classifier's counters, and their names. */
static const struct {
	const char *key, *name, *help;
} cls_counters[] = {
	{ "cls_punted", "punted", "Packets taken from the punt rings" },
	{ "installs", "installs", "New flows installed" },
	{ "cls_existing", "existing", "Punted packets of a flow already installed" },
	{ "cls_kept", "kept", "Misses decided with Maglev to keep an earlier decision" },
	{ "cls_table_full", "table_full", "Installs refused: flow table full" },
	{ "cls_no_service", "no_service", "Punted packets of no service" },
	{ "cls_no_backend", "no_backend", "Punted packets with no backend to take them" },
	{ "cls_bad_packet", "bad_packet", "Punted packets that did not parse" },
	{ "cls_ret_full", "ret_full", "Packets dropped: return ring full" },
	{ "expired", "expired", "Flows removed by the expiry scan" },
	{ "evicted", "evicted", "Flows removed as their backend went down" },
	{ "health_msgs", "health_msgs", "Health snapshots and heartbeats accepted" },
	{ "health_rejected", "health_rejected", "Health datagrams refused" },
	{ "health_ignored", "health_ignored", "Health entries naming no configured backend" },
	{ "health_silent", "health_silent", "Times halb-healthd fell silent" },
	{ "mh_rebuilds", "mh_rebuilds", "Maglev tables rebuilt and published" },
	{ "mh_failed", "mh_failed", "Maglev rebuilds that failed" },
	{ "grace_periods", "grace_periods", "QSBR grace periods waited for" },
	{ "cls_sess_events", "sess_events", "Session events given to halb-sessiond" },
	{ "cls_sess_ring_full", "sess_ring_full", "Session events dropped: the ring was full" },
	{ "cls_sess_dumped", "sess_dumped", "Flows dumped to halb-sessiond on its request" },
	{ "cls_sess_silent", "sess_silent", "Times halb-sessiond fell silent" },
	{ "cls_replica", "replica", "Mid-connection misses given the replica's backend" },
	{ "cls_replica_down", "replica_down", "Replica records not used: backend down, flows reset" },
	{ "cls_replica_stale", "replica_stale", "Replica records not used: their slot no longer names their backend (reload)" },
};

/* /halb/router keys (docs/REQUESTS.md): the workers' side and the
 * request router's, all counters. */
static const struct {
	const char *key, *help;
} rtr_counters[] = {
	{ "cookies", "SYNs answered with a SYN cookie" },
	{ "cookie_ok", "Client segments with a valid cookie, to the router" },
	{ "cookie_stale", "Client segments with a cookie too old, dropped" },
	{ "cookie_forged", "Client segments with no cookie of ours, dropped" },
	{ "backend_in", "Backend handshake segments to the router" },
	{ "ring_full", "Segments dropped: the router's ring was full" },
	{ "router_down", "SYNs and segments dropped: no router" },
	{ "bound_hits", "Bound connections' client packets translated" },
	{ "bound_replies", "Bound connections' backend packets translated" },
	{ "router_frames", "Frames from the router: built by it, handed back to be forwarded by a bound flow, or relayed by a peer" },
	{ "late", "Client segments after the router's answer (no_match), dropped" },
	{ "late_rst", "Late client FINs or data answered with RST" },
	{ "rst_no_ack", "Client RSTs without ACK, of no bound flow and no peer's record, dropped" },
	{ "punt_limited", "Client segments over the punt bound (tuple or source), dropped" },
	{ "adopt", "Client segments of a peer appliance's bound connection, to the router" },
	{ "replica_replies", "Backend packets of a peer appliance's bound connection translated" },
	{ "bindings", "Connections that began binding" },
	{ "bound", "Connections bound: flow installed" },
	{ "binding_full", "Connections reset: max_binding binding at once" },
	{ "timeouts", "Connections reset: no request within bind_timeout_ms" },
	{ "client_rst", "Bindings the client reset" },
	{ "too_big", "Connections reset: request over max_request" },
	{ "bad_request", "Connections reset: not HTTP/1.x or a ClientHello" },
	{ "no_match", "Requests no rule matched, with no default pool" },
	{ "no_backend", "Connections reset: no backend up in the pool" },
	{ "be_refused", "Connections reset: the backend answered RST" },
	{ "be_timeout", "Connections reset: the backend did not answer" },
	{ "wscale_mismatch", "Connections reset: the backend's window scale was not the promised one" },
	{ "table_full", "Connections reset: the bound-flow table was full" },
	{ "out_full", "Router frames dropped: a return ring was full" },
	{ "nombuf", "Router frames not built: no mbuf in the pool" },
	{ "stray", "Segments of no binding" },
	{ "expired", "Bound flows removed idle" },
	{ "adopted", "Peer appliances' bound connections installed here" },
	{ "adopt_refused", "Peer appliances' bound connections reset: backend down or removed" },
	{ "sess_events", "Session events of bound connections to halb-sessiond" },
	{ "sess_ring_full", "Session events dropped: the router's session ring was full" },
	{ "sess_dumped", "Bound connections dumped to halb-sessiond" },
	{ "relay_out", "Backend segments of no binding here, relayed to the peer appliances" },
	{ "relay_full", "Backend segments not relayed: the relay ring was full or the segment too large" },
	{ "relay_in", "Backend segments a peer appliance relayed here" },
	{ "relay_bound", "Bindings completed by a relayed backend segment" },
	{ "relay_replies", "Relayed backend segments of a bound flow, translated to the client" },
	{ "relay_stray", "Relayed backend segments of no binding and no flow here, dropped" },
	{ "late_bound", "Client segments punted before their flow was installed, forwarded by it" },
};

void
exp_router(struct prom *p, const json_t *b)
{
	unsigned int i;
	char name[96];

	if (jnum(b, "configured") == 0)
		return;
	for (i = 0; i < sizeof(rtr_counters) / sizeof(rtr_counters[0]); i++) {
		snprintf(name, sizeof(name), "halb_router_%s_total",
			 rtr_counters[i].key);
		prom_add(p, name, PROM_COUNTER, rtr_counters[i].help,
			 jnum(b, rtr_counters[i].key), NULL);
	}
	prom_add(p, "halb_router_bound_flows", PROM_GAUGE,
		 "Bound request-routed connections in the table", jnum(b, "flows"), NULL);
	prom_add(p, "halb_router_binding", PROM_GAUGE,
		 "Connections binding now", jnum(b, "binding"), NULL);
}

void
exp_fwd_stats(struct prom *p, const json_t *b)
{
	const json_t *v;
	const char *key;
	unsigned int i;
	char name[96];

	for (i = 0; i < sizeof(cls_counters) / sizeof(cls_counters[0]); i++) {
		snprintf(name, sizeof(name), "halb_classifier_%s_total",
			 cls_counters[i].name);
		prom_add(p, name, PROM_COUNTER, cls_counters[i].help,
			 jnum(b, cls_counters[i].key), NULL);
	}
	prom_add(p, "halb_nat_replies_total", PROM_COUNTER,
		 "Backend-to-client NAT rewrites", jnum(b, "nat_replies"), NULL);
	prom_add(p, "halb_icmp_errors_total", PROM_COUNTER,
		 "ICMP errors forwarded after their flow", jnum(b, "icmp_errors"),
		 NULL);
	prom_add(p, "halb_icmp_too_big_total", PROM_COUNTER,
		 "Fragmentation-needed / packet-too-big sent",
		 jnum(b, "icmp_too_big"), NULL);
	prom_add(p, "halb_icmp_limited_total", PROM_COUNTER,
		 "ICMP errors not sent: over the rate limit",
		 jnum(b, "icmp_limited"), NULL);
	prom_add(p, "halb_neigh_full_total", PROM_COUNTER,
		 "Neighbours not learnt: table full", jnum(b, "neigh_full"), NULL);
	/* The exception path (ports[].kernel). */
	prom_add(p, "halb_kernel_frames_total", PROM_COUNTER,
		 "Frames through the ports' kernel interfaces, by direction",
		 jnum(b, "to_kernel"), "direction", "to_kernel", NULL);
	prom_add(p, "halb_kernel_frames_total", PROM_COUNTER,
		 "Frames through the ports' kernel interfaces, by direction",
		 jnum(b, "from_kernel"), "direction", "from_kernel", NULL);
	prom_add(p, "halb_kernel_dropped_total", PROM_COUNTER,
		 "Frames not handed to a kernel interface, by reason",
		 jnum(b, "kernel_limited"), "reason", "rate", NULL);
	prom_add(p, "halb_kernel_dropped_total", PROM_COUNTER,
		 "Frames not handed to a kernel interface, by reason",
		 jnum(b, "kernel_full"), "reason", "queue_full", NULL);
	json_object_foreach((json_t *)(uintptr_t)json_object_get(b, "drops"),
			    key, v)
		prom_add(p, "halb_drops_total", PROM_COUNTER,
			 "Packets the workers dropped, by reason", jnum(v, NULL),
			 "reason", key, NULL);
	json_object_foreach((json_t *)(uintptr_t)json_object_get(b, "malformed"),
			    key, v)
		prom_add(p, "halb_malformed_total", PROM_COUNTER,
			 "Packets the parser refused, by verdict", jnum(v, NULL),
			 "verdict", key, NULL);
}

/* forwarder/telemetry.c tel_workers: the order of each worker's array. */
static const struct {
	const char *name, *help;
	enum prom_type type;
} worker_fields[] = {
	{ "halb_worker_rx_packets_total", "Packets received", PROM_COUNTER },
	{ "halb_worker_tx_packets_total", "Packets sent", PROM_COUNTER },
	{ "halb_worker_flow_hits_total", "Flow table hits", PROM_COUNTER },
	{ "halb_worker_punts_total", "Misses sent to the classifier", PROM_COUNTER },
	{ "halb_worker_returned_total", "Packets the classifier handed back", PROM_COUNTER },
	{ "halb_worker_fallbacks_total", "Packets decided by the worker itself", PROM_COUNTER },
	{ "halb_worker_drops_total", "Packets dropped, every reason", PROM_COUNTER },
	{ "halb_worker_malformed_total", "Packets the parser refused", PROM_COUNTER },
	{ "halb_worker_flows", "Installed flows", PROM_GAUGE },
	{ "halb_worker_flow_capacity", "Flow table entries", PROM_GAUGE },
	{ "halb_worker_table_full", "1 while the classifier finds the table full", PROM_GAUGE },
};

void
exp_workers(struct prom *p, const json_t *b)
{
	double hz = jnum(b, "tsc_hz");
	const json_t *a;
	const char *key;
	unsigned int i;

	json_object_foreach((json_t *)(uintptr_t)b, key, a) {
		if (!json_is_array(a) || key[0] != 'w')
			continue;
		for (i = 0; i < sizeof(worker_fields) / sizeof(worker_fields[0]); i++)
			prom_add(p, worker_fields[i].name, worker_fields[i].type,
				 worker_fields[i].help,
				 jnum(json_array_get(a, i), NULL), "worker",
				 key + 1, NULL);
		if (hz > 0)
			prom_add(p, "halb_worker_busy_seconds_total", PROM_COUNTER,
				 "Time in loops that handled packets",
				 jnum(json_array_get(a, 11), NULL) / hz, "worker",
				 key + 1, NULL);
		prom_add(p, "halb_worker_loops_total", PROM_COUNTER,
			 "Poll loop turns", jnum(json_array_get(a, 12), NULL),
			 "worker", key + 1, NULL);
	}
}

void
exp_port(struct prom *p, const char *port, const json_t *b)
{
	static const struct {
		const char *key, *name, *help;
	} f[] = {
		{ "ipackets", "halb_port_rx_packets_total", "Packets the device received" },
		{ "opackets", "halb_port_tx_packets_total", "Packets the device sent" },
		{ "ibytes", "halb_port_rx_bytes_total", "Bytes the device received" },
		{ "obytes", "halb_port_tx_bytes_total", "Bytes the device sent" },
		{ "imissed", "halb_port_rx_missed_total", "Packets the device dropped: RX queues full" },
		{ "ierrors", "halb_port_rx_errors_total", "Receive errors" },
		{ "oerrors", "halb_port_tx_errors_total", "Transmit errors" },
		{ "rx_nombuf", "halb_port_rx_nombuf_total", "Receive buffer allocation failures" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		prom_add(p, f[i].name, PROM_COUNTER, f[i].help, jnum(b, f[i].key),
			 "port", port, NULL);
}

/* "ADDRESS:PORT" or "[IPV6]:PORT"; the address alone for an all-ports
 * service. */
static void
backend_label(const struct cfg_service *cs, const struct cfg_backend *cb,
	      char *buf, size_t len)
{
	char ip[HALB_IP_STRLEN];
	uint16_t port = cb->port ? cb->port : cs->port;

	halb_ip_fmt(&cb->ip, ip, sizeof(ip));
	if (port == 0)
		snprintf(buf, len, "%s", ip);
	else
		snprintf(buf, len, halb_ip_is_v4(&cb->ip) ? "%s:%u" : "[%s]:%u",
			 ip, port);
}

unsigned int
exp_backends(struct prom *p, const struct halb_cfg *cfg, unsigned int s,
	     const json_t *b, int service_too)
{
	static const char *const states[] = { "up", "down", "draining" };
	const struct cfg_service *cs = &cfg->services[s];
	const json_t *a;
	const char *key, *lab;
	unsigned int n = 0, i;

	if (service_too) {
		a = json_object_get(b, "service");
		prom_add(p, "halb_service_packets_total", PROM_COUNTER,
			 "Packets forwarded to the service's backends",
			 jnum(json_array_get(a, 0), NULL), "service", cs->name,
			 NULL);
		prom_add(p, "halb_service_bytes_total", PROM_COUNTER,
			 "Bytes forwarded to the service's backends",
			 jnum(json_array_get(a, 1), NULL), "service", cs->name,
			 NULL);
		prom_add(p, "halb_service_fallbacks_total", PROM_COUNTER,
			 "Packets the workers decided themselves (classifier gone or table full)",
			 jnum(json_array_get(a, 2), NULL), "service", cs->name,
			 NULL);
		prom_add(p, "halb_service_backends", PROM_GAUGE,
			 "Configured backends", cs->n_backends, "service",
			 cs->name, NULL);
	}
	json_object_foreach((json_t *)(uintptr_t)b, key, a) {
		char *end, be[HALB_IP_STRLEN + 8];
		unsigned long bi;
		unsigned int st;

		if (key[0] != 'b' || !json_is_array(a))
			continue;
		bi = strtoul(key + 1, &end, 10);
		if (*end != '\0')
			continue;
		/* The forwarder names its backend slot ("aI"); a reply
		 * without it is read by this file's positions. */
		snprintf(be, sizeof(be), "a%lu", bi);
		lab = json_string_value(json_object_get(b, be));
		if (lab != NULL)
			snprintf(be, sizeof(be), "%s", lab);
		else if (bi < cs->n_backends)
			backend_label(cs, &cs->backends[bi], be, sizeof(be));
		else
			continue;
		n++;
#define BE(n_, t_, h_, i_) \
		prom_add(p, n_, t_, h_, jnum(json_array_get(a, i_), NULL), \
			 "service", cs->name, "backend", be, NULL)
		BE("halb_backend_packets_total", PROM_COUNTER,
		   "Packets forwarded to the backend", 0);
		BE("halb_backend_bytes_total", PROM_COUNTER,
		   "Bytes forwarded to the backend", 1);
		BE("halb_backend_new_flows_total", PROM_COUNTER,
		   "New connections the classifier gave the backend", 2);
		BE("halb_backend_active_flows", PROM_GAUGE,
		   "Installed flows to the backend", 3);
		BE("halb_backend_weight", PROM_GAUGE,
		   "Weight for new connections", 5);
		BE("halb_backend_host_connections", PROM_GAUGE,
		   "Connections on the backend's host, as its agent last reported", 8);
		prom_add(p, "halb_backend_host_cpu_ratio", PROM_GAUGE,
			 "CPU in use on the backend's host (0..1), as its agent last reported",
			 jnum(json_array_get(a, 7), NULL) / 1000.0, "service",
			 cs->name, "backend", be, NULL);
#undef BE
		/* A stateset: one sample per state, 1 for the current one;
		 * none known before the classifier applied health once. */
		st = (unsigned int)jnum(json_array_get(a, 4), NULL);
		for (i = 0; i < 3; i++)
			prom_add(p, "halb_backend_state", PROM_GAUGE,
				 "The backend's health as the classifier applies it",
				 st == 0 ? (i == 0) : st == i + 1, "service",
				 cs->name, "backend", be, "state", states[i], NULL);
	}
	return n;
}

void
exp_healthd(struct prom *p, const char *text)
{
	const char *line = text, *nl;
	json_error_t jerr;

	for (; line != NULL && *line != '\0'; line = nl != NULL ? nl + 1 : NULL) {
		const json_t *c, *h, *v, *r;
		const char *key, *why;
		json_t *o;

		nl = strchr(line, '\n');
		o = json_loadb(line, nl != NULL ? (size_t)(nl - line) : strlen(line),
			       0, &jerr);
		if (json_is_string(json_object_get(o, "service")) &&
		    json_is_string(json_object_get(o, "backend"))) {
			const char *op = json_string_value(json_object_get(o, "operator"));

			/* A backend's line: the operator's decision, if any. */
			prom_add(p, "halb_backend_operator", PROM_GAUGE,
				 "1 while an operator's decision (drain, disable, weight) holds the backend",
				 op != NULL,
				 "service", json_string_value(json_object_get(o, "service")),
				 "backend", json_string_value(json_object_get(o, "backend")),
				 "decision", op != NULL ? op : "none", NULL);
		}
		c = json_object_get(o, "counters");
		h = json_object_get(o, "healthd");
		if (c == NULL || h == NULL) {
			json_decref(o);
			continue;
		}
		prom_add(p, "halb_healthd_agents", PROM_GAUGE,
			 "Agent hosts configured", jnum(h, "agents"), NULL);
		prom_add(p, "halb_healthd_agents_heard", PROM_GAUGE,
			 "Agent hosts heard from", jnum(h, "agents_heard"), NULL);
		prom_add(p, "halb_healthd_generation", PROM_GAUGE,
			 "Snapshot generation sent to the classifier",
			 jnum(h, "generation"), NULL);
		json_object_foreach((json_t *)(uintptr_t)c, key, v) {
			char name[96];

			if (json_is_integer(v)) {
				snprintf(name, sizeof(name), "halb_healthd_%s_total",
					 key);
				prom_add(p, name, PROM_COUNTER,
					 "halb-healthd counter (docs/HEALTH.md)",
					 jnum(v, NULL), NULL);
			} else if (json_is_object(v)) {
				json_object_foreach((json_t *)(uintptr_t)v, why, r)
					prom_add(p, "halb_healthd_rejected_total",
						 PROM_COUNTER,
						 "Datagrams refused, by reason",
						 jnum(r, NULL), "reason", why, NULL);
			}
		}
		json_decref(o);
	}
}

/* ---- the sources ---- */

static json_t *
tlm_ask(int fd, const char *cmd)
{
	char why[128];
	json_t *r = tlm_query(fd, cmd, why, sizeof(why));

	if (r == NULL)
		HLOG(WARNING, "%s: %s", cmd, why);
	return r;
}

/* Everything the forwarder's telemetry gives; 0, or -errno when it
 * could not be reached. */
static int
collect_forwarder(const struct halb_cfg *cfg, struct prom *p)
{
	struct timeval tv = { EXP_TIMEOUT_MS / 1000, (EXP_TIMEOUT_MS % 1000) * 1000 };
	char path[128], cmd[64];
	json_t *r, *ports;
	unsigned int s, first, i;
	int fd;

	fd = tlm_open(cfg->file_prefix, path, sizeof(path));
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = tlm_ask(fd, "/halb/status");
	if (r == NULL) {
		close(fd);
		return -EIO;
	}
	exp_fwd_status(p, exp_tlm_body(r));
	json_decref(r);
	if ((r = tlm_ask(fd, "/halb/stats")) != NULL)
		exp_fwd_stats(p, exp_tlm_body(r));
	json_decref(r);
	if ((r = tlm_ask(fd, "/halb/router")) != NULL)
		exp_router(p, exp_tlm_body(r));
	json_decref(r);
	if ((r = tlm_ask(fd, "/halb/workers")) != NULL)
		exp_workers(p, exp_tlm_body(r));
	json_decref(r);
	ports = tlm_ask(fd, "/halb/ports");
	for (i = 0; ports != NULL && i < cfg->n_ports; i++) {
		const json_t *id;
		char key[16];

		snprintf(key, sizeof(key), "p%u", i);
		id = json_object_get(exp_tlm_body(ports), key);
		if (!json_is_integer(id))
			continue;
		snprintf(cmd, sizeof(cmd), "/ethdev/stats,%lld",
			 (long long)json_integer_value(id));
		if ((r = tlm_ask(fd, cmd)) != NULL)
			exp_port(p, cfg->ports[i].name, exp_tlm_body(r));
		json_decref(r);
	}
	json_decref(ports);
	/* By name: a reload keeps each service in its slot, which its
	 * position in this file need not be (docs/RELOAD.md). */
	for (s = 0; s < cfg->n_services; s++) {
		uint64_t n_slots = 0;

		first = 0;
		do {
			snprintf(cmd, sizeof(cmd), "/halb/backends,@%s,%u",
				 cfg->services[s].name, first);
			r = tlm_ask(fd, cmd);
			/* Not (yet) in the forwarder's configuration: none of
			 * its series rather than zeros. */
			if (r != NULL && json_object_get(exp_tlm_body(r),
							 "n_backends") == NULL) {
				json_decref(r);
				r = NULL;
			}
			if (r == NULL)
				break;
			exp_backends(p, cfg, s, exp_tlm_body(r), first == 0);
			n_slots = (uint64_t)jnum(json_object_get(exp_tlm_body(r),
								 "n_backends"), NULL);
			json_decref(r);
			first += EXP_BE_PAGE;
		} while (first < n_slots);
	}
	close(fd);
	return 0;
}

int
exp_collect(const struct halb_cfg *cfg, struct prom *p)
{
	char *text;
	int rc;

	exp_heartbeats(p, cfg->file_prefix);
	rc = collect_forwarder(cfg, p);
	prom_add(p, "halb_forwarder_up", PROM_GAUGE,
		 "1 if the forwarder's telemetry socket answered this scrape",
		 rc == 0, NULL);
	text = ctl_request(cfg->health.status_socket, "status\n",
			   EXP_TIMEOUT_MS, NULL);
	prom_add(p, "halb_healthd_up", PROM_GAUGE,
		 "1 if halb-healthd's status socket answered this scrape",
		 text != NULL, NULL);
	if (text != NULL)
		exp_healthd(p, text);
	free(text);
	return p->err;
}
