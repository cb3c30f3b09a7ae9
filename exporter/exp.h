/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-exporter's collection (exp_collect.c): what one scrape reads and
 * how it names it in Prometheus's text format (docs/METRICS.md lists
 * every metric).  It needs no DPDK: it reads the forwarder's telemetry
 * socket (the /halb/... commands of forwarder/telemetry.c and DPDK's
 * /ethdev/stats), halb-healthd's status socket and every part's
 * heartbeat file, so that a scrape cannot slow the data plane beyond
 * what halbctl does.  A source that does not answer gives its *_up
 * gauge 0 and no other sample; the scrape still succeeds.
 *
 * The exp_* translators take what a source answered (parsed JSON, or
 * healthd's text) so that the unit tests feed them without sockets.
 */
#ifndef HALB_EXP_H
#define HALB_EXP_H

#include <jansson.h>

#include "halb/cfg-t.h"
#include "halb/prom.h"

/* One scrape: every source, into p.  Returns p->err. */
int exp_collect(const struct halb_cfg *cfg, struct prom *p);

/* The body of a telemetry reply ({"/cmd": body}), or NULL. */
const json_t *exp_tlm_body(const json_t *reply);

/* Heartbeat of each part under instance prefix. */
void exp_heartbeats(struct prom *p, const char *prefix);
/* /halb/status, /halb/stats, /halb/workers bodies. */
void exp_fwd_status(struct prom *p, const json_t *body);
void exp_fwd_stats(struct prom *p, const json_t *body);
/* The request router's counters (/halb/router), when it is configured. */
void exp_router(struct prom *p, const json_t *body);
void exp_workers(struct prom *p, const json_t *body);
/* /ethdev/stats,N body of the port named port. */
void exp_port(struct prom *p, const char *port, const json_t *body);
/*
 * /halb/backends,S,F body for service s of cfg.  service_too: the
 * service's own counters are in it (the first page).  Returns how many
 * backends the page held.
 */
unsigned int exp_backends(struct prom *p, const struct halb_cfg *cfg,
			  unsigned int s, const json_t *body, int service_too);
/* halb-healthd's answer to "status\n" (JSON lines). */
void exp_healthd(struct prom *p, const char *text);

#endif
