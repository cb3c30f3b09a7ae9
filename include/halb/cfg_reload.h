/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A reload's configuration work, without DPDK (src/core/cfg_reload.c;
 * docs/RELOAD.md): what a reload refuses, and the stable slots of
 * services and backends.
 *
 * The running configuration is slotted: services[s] is service slot s,
 * services[s].backends[b] backend slot b, each LIVE, RETIRED or FREE
 * (enum cfg_slot).  A freshly loaded file is slotted by position, all
 * LIVE.  cfg_slots_assign() turns a newly loaded file into the next
 * slotted configuration:
 *  - a service keeps its slot while its name, VIP, port, protocol and
 *    mode stay the same (a change of any of these retires the old slot
 *    and gives the service a new one: its flows end as a removed
 *    service's, and keep the old rewrite meanwhile);
 *  - a backend keeps its slot within its service's while its address and
 *    port (its own, else the service's) stay the same;
 *  - what the file no longer has is RETIRED, weight 0, its data kept for
 *    the flows that still name it;
 *  - a RETIRED slot becomes FREE, or is given to a new service or
 *    backend, only once the caller says no flow can name it any more
 *    (cfg_slot_flows_fn); FREE slots at the end are dropped.
 * The same name (or address and port) gets the same slot back while its
 * slot is retired.
 */
#ifndef HALB_CFG_RELOAD_H
#define HALB_CFG_RELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "halb/cfg-t.h"

/* The answer to a reload: one line per change, for the operator. */
#define CFG_RELOAD_LINES 256
#define CFG_RELOAD_LINE 120 /* fits a DPDK telemetry string (128) */

struct cfg_reload_log {
	uint32_t n;
	uint32_t dropped; /* lines past CFG_RELOAD_LINES */
	char line[CFG_RELOAD_LINES][CFG_RELOAD_LINE];
};

/* Appends one line (printf format; cut at CFG_RELOAD_LINE - 1). */
void cfg_reload_note(struct cfg_reload_log *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Whether going from the running configuration run to the loaded file in
 * needs a restart: eal, ports, flows, idle_sleep_us,
 * classifier_timeout_ms, the number of workers, a static neighbour
 * changed or removed (adding one is fine), the health keys and sockets
 * that pair halb-healthd with the classifier.  Returns 0, or -EPERM with
 * the first reason in why ("ports[0].vdev changed: needs a restart").
 */
int cfg_reload_refused(const struct halb_cfg *run, const struct halb_cfg *in,
		       char *why, size_t len);

/*
 * How many flows may still name slot (s, b) of the running configuration
 * (b = CFG_SLOT_ANY: any backend of service s).  The caller answers
 * nonzero for a slot whose retirement the classifier has not applied yet
 * or whose last flow ended too recently: a slot is reused only at 0.
 */
#define CFG_SLOT_ANY UINT32_MAX
typedef uint32_t (*cfg_slot_flows_fn)(void *arg, uint32_t s, uint32_t b);

/*
 * Builds out (whole: the file in, with its services and backends moved
 * to their slots) from the running slotted configuration run and the
 * file in, and writes each change to log (may be NULL).  flows says
 * which retired slots may be reused.  Returns 0, or -ENOSPC when the
 * slots (CFG_MAX_SERVICES, CFG_MAX_BACKENDS, retired ones included) do
 * not suffice, the reason in log.  Nothing else fails.
 */
int cfg_slots_assign(const struct halb_cfg *run, const struct halb_cfg *in,
		     cfg_slot_flows_fn flows, void *arg, struct halb_cfg *out,
		     struct cfg_reload_log *log);

/* A backend's port as its identity (and halb-healthd's) knows it: its
 * own, else its service's. */
static inline uint16_t
cfg_backend_port(const struct cfg_service *cs, const struct cfg_backend *cb)
{
	return cb->port != 0 ? cb->port : cs->port;
}

/*
 * cfg_digest() of what a reload leaves alone and both DPDK processes
 * read (services, static neighbours, the agents, log and metrics count
 * as zeros), so that a classifier started from an edited and reloaded
 * file attaches: the forwarder keeps it current at each reload.  0 when
 * out of memory.
 */
uint64_t cfg_digest_static(const struct halb_cfg *cfg);

/* Counts of a slotted configuration's live services and backends. */
uint32_t cfg_live_services(const struct halb_cfg *cfg);
uint32_t cfg_live_backends(const struct cfg_service *cs);

#endif
