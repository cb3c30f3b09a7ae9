/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-healthd's cache of backend health and load, and what feeds it and
 * reads it (docs/HEALTH.md).
 *
 * One struct hd per process, owned by its single thread.  Each backend of
 * the configuration has one struct hd_backend holding what each source
 * says of it: its agent (the host's own report), healthd's probe, and a
 * peer's replicated view (last known); hd_merge() turns these into one
 * state and source, hd_weight() into a weight.  A backend whose merged
 * view changed is marked dirty; the next delta snapshot carries it.
 *
 * Sockets and the event loop are healthd.c's; this part (hd_state.c,
 * hd_snap.c, hd_status.c) takes datagrams already opened by hl_open()
 * and time as arguments, so the unit tests drive it without sockets.
 */
#ifndef HALB_HD_H
#define HALB_HD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "halb/cfg.h"
#include "halb/clock.h"
#include "halb/hl_msg.h"
#include "halb/log.h"
#include "hc.h"

/* States and sources carry the values of halb.health.HealthState and
 * StateSource; 0 is "unknown"/"none": healthd has nothing to say yet. */
enum hd_state {
	HD_UNKNOWN = 0,
	HD_UP = 1,
	HD_DOWN = 2,
	HD_DRAINING = 3,
};

enum hd_source {
	HD_SRC_NONE = 0,
	HD_SRC_AGENT = 1,
	HD_SRC_PROBE = 2,
	HD_SRC_LAST_KNOWN = 3,
	HD_SRC_OPERATOR = 4,
};

/* The operator's decision about a backend's state (halbctl drain,
 * disable, enable; docs/HEALTH.md "Operator decisions"). */
enum hd_op {
	HD_OP_NONE = 0,     /* health decides */
	HD_OP_DRAIN = 1,    /* no new connections; established ones stay */
	HD_OP_DISABLE = 2,  /* down: no new connections, established ones
			     * follow the service's down_flows */
};
/* hd_backend.op_weight when the operator set no weight. */
#define HD_OP_WEIGHT_NONE UINT32_MAX

/* An agent silent for this many of its promised intervals is down. */
#define HD_SILENT_INTERVALS 3
/* Before a host's first report since start, its interval is taken as
 * this (the agent's default). */
#define HD_FIRST_INTERVAL_MS 1000
/* How long a peer's view stands in for what this healthd has not seen
 * itself (its age as the peer gave it, plus time since). */
#define HD_LAST_KNOWN_MS 30000
#define HD_HEARTBEAT_MS 500
#define HD_FULL_EVERY_MS 5000
#define HD_MAX_PROBES 1024       /* probes in flight at once */
/* A load-derived weight changes only when it moves by more than
 * 1/HD_WEIGHT_HYSTERESIS of itself (or to or from 0). */
#define HD_WEIGHT_HYSTERESIS 16
/* A snapshot part's backends fit this many payload bytes, leaving room
 * in HL_MTU for the envelope and the snapshot's own fields. */
#define HD_PART_BUDGET 1200

struct hd_load {
	bool has;
	uint32_t cpu_permille, conns, mem_permille, capacity;
};

/* One agent host: what its last accepted report said. */
struct hd_agent {
	const struct cfg_agent *cfg;
	bool heard;               /* reported since healthd started */
	uint64_t last_ms;         /* when (monotonic) */
	uint32_t interval_ms;     /* what it promised */
	struct hd_load load;
	uint32_t n_be;            /* its backends: indices into hd.be */
	uint32_t *be;
	uint32_t requests;        /* ReportRequests sent since start */
};

struct hd_backend {
	uint16_t si, bi;
	const struct cfg_service *svc;
	const struct cfg_backend *cb;
	int agent;                /* index into hd.agents, -1 for none */
	/* the agent's word (valid when the agent is heard) */
	uint8_t agent_state;
	char agent_reason[48];
	/* the probe (cb->check.type != CFG_CHECK_NONE) */
	struct hc_rf rf;
	uint64_t probe_ms;        /* when the last result came */
	uint64_t next_probe_ms;
	struct hc_check probe;
	/* a peer's view, kept until we know better */
	uint8_t lk_state;         /* 0: none */
	struct hd_load lk_load;
	uint64_t lk_ms;           /* when it was current (monotonic) */
	/* the operator's decision (hd_oper.c), on top of the merge */
	uint8_t op;               /* enum hd_op */
	uint32_t op_weight;       /* replaces cb->weight; HD_OP_WEIGHT_NONE */
	uint64_t op_ms;           /* when it was taken (monotonic) */
	bool op_seen;             /* the operator spoke of it since start */
	bool reweigh;             /* next refresh: no weight hysteresis */
	/* merged */
	uint8_t state, source;
	uint32_t weight;
	uint64_t info_ms;         /* when the merged information was current */
	bool silent;              /* hd_view.silent */
	bool dirty;
};

/* What hd_merge() decides from. */
struct hd_inputs {
	bool has_agent, agent_heard;
	uint64_t agent_ms;
	uint32_t agent_interval_ms;
	uint8_t agent_state;
	bool probed, probe_known, probe_up;
	uint64_t probe_ms;
	uint8_t lk_state;         /* 0: no last-known view */
	uint64_t lk_ms;
	uint64_t start_ms;        /* when healthd started */
};

struct hd_view {
	uint8_t state, source;
	uint64_t info_ms;
	bool silent;              /* down because the agent fell silent */
};

struct hd_counters {
	uint64_t rx, rx_reports, rx_snapshots, rx_requests, rx_heartbeats,
		 rx_acks;
	uint64_t rejected[SEAL_REJ__COUNT];  /* by enum seal_reject */
	uint64_t unexpected;      /* authentic, but not a type this sender sends */
	uint64_t foreign;         /* report items about another host's backend */
	uint64_t unknown_backend; /* report items naming no configured backend */
	uint64_t snapshots_full, snapshots_delta, datagrams;
	uint64_t heartbeats;
	uint64_t cls_unreachable; /* sends to health.socket that failed */
	uint64_t peer_sent, peer_errors, peer_updates;
	uint64_t requests_sent, request_errors;
	uint64_t probes, probe_ok, probe_fail, probe_timeouts,
		 probes_deferred;
	uint64_t state_changes;
	uint64_t operator_commands, operator_refused;
};

/* Where snapshots go: the classifier, or one peer.  Each has its own
 * generation, so that a full snapshot sent to one receiver is no gap
 * for another. */
struct hd_stream {
	uint64_t generation;
	uint64_t last_full_ms;
	bool want_full;
};

struct hd {
	const struct halb_cfg *cfg;
	struct seal_keyring *keys;  /* agents' and peers' keys */
	struct seal_replay *replay;
	uint32_t n_agents;
	struct hd_agent *agents;
	uint32_t n_be;
	struct hd_backend *be;
	struct hd_stream cls;
	struct hd_stream *peers;  /* cfg->health.n_peers */
	uint64_t *peer_heard_ms;  /* last accepted message of each peer */
	uint64_t start_ms;
	uint64_t seq;             /* last sequence number sent */
	uint32_t probes_running;
	bool any_dirty;
	struct hd_counters c;
	struct halb_ratelimit rl_foreign;
};

/* ---- hd_state.c ---- */

/* A cache for cfg, everything unknown, started at now (monotonic).
 * NULL with errno set. */
struct hd *hd_new(const struct halb_cfg *cfg, uint64_t now);
void hd_free(struct hd *hd);

/* The merge rules: see docs/HEALTH.md, "How a backend's state is made". */
void hd_merge(const struct hd_inputs *in, uint64_t now, struct hd_view *out);

/* Bounds *w to [min, max] (when min > max, max wins): the policy's
 * weight_min and weight_max. */
void hd_clamp_weight(uint32_t *w, uint32_t min, uint32_t max);

/*
 * The weight of a backend of configured weight cfg_weight, in state,
 * with load (NULL or !has: unknown) under policy, clamped to [min, max]
 * where the policy derives it.  0 for a down or unknown backend and for
 * one configured out (weight 0).
 */
uint32_t hd_weight(unsigned int policy, uint32_t min, uint32_t max,
		   uint32_t cfg_weight, uint8_t state,
		   const struct hd_load *load);

/* Recomputes backend i's merged view at now; marks it dirty on change. */
void hd_refresh(struct hd *hd, uint32_t i, uint64_t now);
void hd_refresh_all(struct hd *hd, uint64_t now);

/* Backend index of (service name, address text, port) or -1. */
int hd_find(const struct hd *hd, const char *service, const char *address,
	    uint32_t port);

/*
 * Applies an accepted HostReport of sender at now.  Items about
 * backends of another host are refused (counted as foreign and as
 * identity rejections), unknown ones counted; backends of the host that
 * the report does not list are down ("not in the report").  Returns the
 * number of backends updated, or -ENOENT when sender is no agent host.
 */
int hd_apply_report(struct hd *hd, const char *sender,
		    const Halb__Health__HostReport *r, uint64_t now);

/*
 * Takes a peer's snapshot entries as last known, for the backends about
 * which this healthd has nothing of its own and nothing younger.  Their
 * weight is this healthd's policy applied to the peer's load, not the
 * peer's weight.
 * Returns how many entries were taken.
 */
int hd_apply_peer(struct hd *hd, const Halb__Health__CacheSnapshot *s,
		  uint64_t now);

/* One probe result for backend i. */
void hd_probe_result(struct hd *hd, uint32_t i, bool ok, uint64_t now);

/* "up", "down", "draining", "unknown"; "agent", "probe", "last-known", "none". */
const char *hd_state_name(unsigned int state);
const char *hd_source_name(unsigned int source);

/* ---- hd_reload.c ---- */

/*
 * A cache for cfg (an edited file) that carries over from old, by
 * service name, address and port, and by agent host, everything it knew
 * (see hd_reload.c); *kept (may be NULL) gets the number of backends
 * carried.  old is left to free (its probes are cancelled then).  NULL
 * with errno set.
 */
struct hd *hd_reload(struct hd *old, const struct halb_cfg *cfg, uint64_t now,
		     uint32_t *kept);

/* ---- hd_oper.c ---- */

/*
 * Runs one operator command, a line of words:
 *   drain SERVICE BACKEND      no new connections, established ones stay
 *   disable SERVICE BACKEND    down (maintenance): established ones
 *                              follow the service's down_flows
 *   enable SERVICE BACKEND     health decides again
 *   weight SERVICE BACKEND N|config
 * BACKEND is ADDRESS:PORT, [IPV6]:PORT, or an address alone when it
 * names one backend of the service.  The decision is saved in
 * health.state_file before it is applied (a decision that would not
 * survive a restart is refused) and takes effect on the next snapshot.
 * Writes a one-line answer into msg.  Returns 0, or -EINVAL (bad
 * command), -ENOENT (no such backend), or the save's -errno.
 */
int hd_oper_command(struct hd *hd, const char *line, uint64_t now, char *msg,
		    size_t len);

/* Whether line is an operator command (its first word). */
bool hd_oper_is_command(const char *line);

/*
 * Loads health.state_file's decisions at start (a missing file is none).
 * A line naming no configured backend, or not understood, is logged and
 * left out (and so dropped at the next save).  Returns the number of
 * backends with a decision, or -errno when the file cannot be read.
 */
int hd_oper_load(struct hd *hd, uint64_t now);

/* Writes every decision to health.state_file (a new file renamed over
 * the old: a crash leaves one or the other).  0 or -errno. */
int hd_oper_save(const struct hd *hd);

/* "drain", "disable" or "" for enum hd_op. */
const char *hd_op_name(unsigned int op);

/* ---- hd_snap.c ---- */

/* Called with each sealed datagram; returns 0 or -errno (counted by
 * the caller; the snapshot goes on). */
typedef int (*hd_emit_fn)(void *arg, const uint8_t *dgram, size_t len);

/*
 * Seals a snapshot of the backends (every known one when full, the dirty
 * ones otherwise) as one generation in as many parts as it needs, each
 * at most HL_MTU bytes, with key (the receiver's: health.key for the
 * classifier, the pair's key for a peer), and hands each datagram to
 * emit.  Unknown backends are never listed.  Returns the number of
 * datagrams, or -errno (-ENOKEY: no key).
 */
int hd_snap_send(struct hd *hd, const struct seal_key *key, bool full,
		 uint64_t generation, uint64_t now, uint64_t unix_ms,
		 hd_emit_fn emit, void *arg);

/* Clears every dirty mark (after the delta went to every stream). */
void hd_snap_clean(struct hd *hd);

/* Seals a Heartbeat (role healthd, generation) for the classifier, with
 * health.key, into buf[0..HL_MTU).  Returns its length or -errno. */
int hd_heartbeat(struct hd *hd, uint64_t generation, uint64_t unix_ms,
		 uint8_t *buf);

/* Seals a ReportRequest with key (health.key for agents, the pair's key
 * for a peer) into buf[0..HL_MTU). */
int hd_report_request(struct hd *hd, const struct seal_key *key,
		      const char *reason, uint64_t unix_ms, uint8_t *buf);

/* ---- hd_status.c ---- */

/* Writes the answer to "status": one JSON object per line, one per
 * backend, then one with the counters.  Returns 0 or -errno. */
int hd_status_write(const struct hd *hd, uint64_t now, FILE *out);

/* Writes {"ok": msg} or {"error": msg} as one line: the answer to an
 * operator command.  Returns 0 or -errno. */
int hd_status_answer(FILE *out, bool ok, const char *msg);

#endif /* HALB_HD_H */
