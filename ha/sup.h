/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-had's supervisor: the state machine of every part it runs, as a
 * pure module (ha/sup.c).  Its inputs are what the daemon (ha/main.c)
 * saw: each part's heartbeat (struct ha_obs), its exits, its spawns, the
 * order to stop, and the time, always passed in (ms on any monotonic
 * clock); its outputs are actions queued for the daemon to carry out
 * (start a part, adopt a running one, signal a pid, log a line).  It
 * makes no system call, so that the unit tests (tests/unit/test_sup.c)
 * run it on a simulated clock.
 *
 * A part's life (enum ha_state):
 *   init --(first look: its heartbeat names a live process)--> up/starting
 *        (adopted) --(else)--> waiting
 *   waiting --(every part of cfg.after up, and no part bound to it still
 *        running)--> starting --(heartbeat ready, same pid)--> up
 *   starting/up --(exit, hung heartbeat, not ready in time)--> a failure:
 *        stopping (SIGKILL) then back-off, or given up after
 *        max_failures in window_ms; the parts bound to it are killed too
 *        (their memory is gone) and wait for it, without counting a
 *        failure of their own
 *   back-off --(delay: backoff_ms doubled per failure in the window, at
 *        most backoff_max_ms)--> waiting
 *   ha_sup_stop(): the parts are sent SIGTERM one at a time, last
 *        started first (SIGKILL after stop_timeout_ms), then stopped.
 *
 * Routes (ha_sup_routes(), when the file has a bgp section): each VIP is
 * announced (HA_ACT_ROUTE, on) only while the gate is open, i.e. the
 * forwarder, the classifier and (when enabled) sessiond are up, and no
 * drain or stop is under way, and while a backend of it is up
 * (ha_sup_vip_serving(); not knowing counts as up); else withdrawn.  A
 * failed forwarder closes the gate at once, so its VIPs' withdraw is
 * queued before its restart; they are announced again once the gate is
 * open again.  Orders go to BIRD only while the BIRD part is up (a BIRD
 * started by had begins with every VIP withdrawn: its file says so; an
 * adopted one is told every VIP's state again).
 *
 * Drain (ha_sup_drain(): halbctl drain-appliance, SIGTERM): every VIP
 * withdrawn, then, once BIRD took the orders, the forwarder's traffic to
 * the VIPs stayed at most cfg.drain_idle_pps for drain_quiet_ms
 * (ha_sup_traffic()) and every own session is in the live peers'
 * replicas (ha_sup_replicated(), when sessiond runs), or after
 * drain_timeout_ms whatever is missing: HA_ACT_DRAINED, and the parts
 * are stopped as by ha_sup_stop().  ha_sup_resume() starts them again.
 *
 * Who writes what: only these functions write struct ha_sup; the daemon
 * reads it (status) and drains its actions with ha_sup_next().
 */
#ifndef HALB_HA_SUP_H
#define HALB_HA_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "halb/cfg-t.h"
#include "halb/hb.h"

#define HA_WHY_LEN 192
#define HA_MAX_VIPS CFG_MAX_SERVICES
/* Room for a step's worth: every part's start and logs, and every VIP's
 * order (a full queue drops the action: an order is tried again at the
 * next step, a log line is lost and counted in acts_lost). */
#define HA_MAX_ACTS (64 + 2 * HA_MAX_VIPS)

enum ha_state {
	HA_ST_INIT = 0,   /* not looked at yet */
	HA_ST_DISABLED,   /* ha.<part>.enabled = false */
	HA_ST_WAITING,    /* down: waits for what it needs */
	HA_ST_STARTING,   /* started (or adopted), not ready yet */
	HA_ST_UP,
	HA_ST_STOPPING,   /* signalled, waiting for its exit */
	HA_ST_BACKOFF,    /* failed; restarts after a delay */
	HA_ST_GIVEN_UP,   /* too many failures: left down */
	HA_ST_STOPPED,    /* stopped by ha_sup_stop() */
};

/* What the daemon read of a part's heartbeat file (halb/hb.h). */
struct ha_obs {
	bool present;       /* the file exists and is whole */
	int pid;            /* its writer */
	bool alive;         /* that pid lives and runs the part's program */
	uint32_t state;     /* enum halb_hb_state */
	uint64_t age_ms;    /* since its last beat */
	char note[HALB_HB_NOTE_LEN]; /* why it withholds its beat, or "" */
};

enum ha_act_kind {
	HA_ACT_START,       /* spawn the part; answer with ha_sup_spawned() */
	HA_ACT_ADOPT,       /* watch pid, not ours: answer with nothing, or
			     * ha_sup_exited() if it cannot be watched */
	HA_ACT_SIGNAL,      /* kill(pid, sig) */
	HA_ACT_LOG,         /* log why at level (syslog's) */
	HA_ACT_READY,       /* every enabled part is up (once) */
	HA_ACT_ROUTE,       /* announce (on) or withdraw VIP vip through
			     * BIRD; answer with ha_sup_routed() */
	HA_ACT_DRAINED,     /* the drain is over (why says how): the parts
			     * are stopped next */
};

struct ha_act {
	enum ha_act_kind kind;
	unsigned int part;       /* HA_PARTS: the appliance as a whole */
	int pid, sig, level;
	unsigned int vip;
	bool on;
	char why[HA_WHY_LEN];
};

/* One VIP's route (ha_sup_routes()). */
struct ha_vip_st {
	bool serving;       /* a backend of it is up, or nobody says */
	bool want;          /* announced, as judged at the last step */
	bool applied;       /* BIRD's state as last told, when known */
	bool known;         /* applied is what BIRD has */
	bool pending;       /* an HA_ACT_ROUTE is out */
	uint64_t retry_ms;  /* a refused order: not again before */
	uint64_t since_ms;  /* applied last changed */
};

enum ha_drain {
	HA_DRAIN_NONE = 0,
	HA_DRAIN_WAITING,   /* withdrawn; waits for traffic and replicas */
	HA_DRAIN_DONE,      /* drained: parts stopping or stopped */
};

struct ha_part_st {
	enum ha_state st;
	int pid;                  /* 0: no process of ours */
	bool adopted;             /* found running, not started by us */
	bool failing;             /* stopping for a failure: back-off next */
	bool killed;              /* SIGKILL sent */
	uint64_t since_ms;        /* entered st */
	uint64_t until_ms;        /* st's deadline: back-off end, start or
				   * stop timeout */
	uint64_t up_ms;           /* became ready */
	uint64_t fail_detect_ms;  /* the failure being recovered from: when
				   * it was seen (0: none pending) */
	uint32_t starts, restarts;
	uint32_t failures;        /* all failures so far */
	uint32_t n_fail;          /* times in fail_ms, oldest first */
	uint64_t fail_ms[HA_MAX_FAILURES];
	uint64_t last_fail_ms;    /* 0: never failed */
	char last_why[HA_WHY_LEN];
	uint64_t age_ms;          /* its heartbeat's age when last read */
	uint64_t last_recovery_ms; /* failure seen to ready again, last time */
};

struct ha_sup {
	const struct cfg_ha *cfg;
	bool stopping, ready_told;
	/* Routes: n_vips 0 when there is no bgp section. */
	unsigned int n_vips;
	struct ha_vip_st vip[HA_MAX_VIPS];
	uint32_t gate;            /* HA_BIT()s up before any announce */
	uint64_t gate_ms;         /* the gate opened (0: closed) */
	uint64_t gate_closed_ms;  /* ... or last closed */
	/* Drain. */
	enum ha_drain drain;
	bool drain_sessions;      /* wait for the peers' replicas */
	bool replicated;          /* every own session in the live peers' */
	bool pps_known;
	uint64_t pps;             /* the forwarder's traffic to the VIPs */
	uint64_t quiet_ms;        /* pps at most the idle rate since */
	uint64_t drain_ms, drain_until_ms, drained_ms, withdrawn_ms,
		 quiet_done_ms;   /* when each drain condition was met */
	char drain_why[HA_WHY_LEN];
	unsigned int n_order;
	uint8_t order[HA_PARTS];  /* start order: cfg.after's topology */
	struct ha_part_st p[HA_PARTS];
	unsigned int act_head, n_acts;
	struct ha_act acts[HA_MAX_ACTS];
	uint64_t acts_lost;       /* queue full: should never happen */
};

/* Every part init (or disabled); cfg must stay while s is used. */
void ha_sup_init(struct ha_sup *s, const struct cfg_ha *cfg);

/* A look at part's heartbeat at now_ms. */
void ha_sup_observe(struct ha_sup *s, unsigned int part,
		    const struct ha_obs *o, uint64_t now_ms);
/* Process pid of part exited; how says how ("killed by signal 9"). */
void ha_sup_exited(struct ha_sup *s, unsigned int part, int pid,
		   const char *how, uint64_t now_ms);
/* Answer to HA_ACT_START: pid > 0, or -errno when it could not start. */
void ha_sup_spawned(struct ha_sup *s, unsigned int part, int pid,
		    uint64_t now_ms);
/* Stop every part, last started first. */
void ha_sup_stop(struct ha_sup *s, uint64_t now_ms);
/* Timers and starts: call after the observations of one poll. */
void ha_sup_step(struct ha_sup *s, uint64_t now_ms);
/* The next action, oldest first; false when none is left. */
bool ha_sup_next(struct ha_sup *s, struct ha_act *out);
/* Stopping and every part stopped (or never ran). */
bool ha_sup_done(const struct ha_sup *s);

/*
 * Route control for n_vips VIPs (0..HA_MAX_VIPS-1, as the daemon numbers
 * them): each starts serving, withdrawn as far as known (unknown if the
 * BIRD part is not had's to start).  Call once, after ha_sup_init().
 */
void ha_sup_routes(struct ha_sup *s, unsigned int n_vips);
/* Whether a backend of VIP vip is up (halb-healthd's word). */
void ha_sup_vip_serving(struct ha_sup *s, unsigned int vip, bool serving,
			uint64_t now_ms);
/* Answer to HA_ACT_ROUTE: rc 0 when BIRD did it, else -errno. */
void ha_sup_routed(struct ha_sup *s, unsigned int vip, bool on, int rc,
		   uint64_t now_ms);
/* The forwarder's packets per second to the VIPs, lately. */
void ha_sup_traffic(struct ha_sup *s, uint64_t pps, uint64_t now_ms);
/* Whether every own session is acknowledged by every live peer (and at
 * least one lives). */
void ha_sup_replicated(struct ha_sup *s, bool yes, uint64_t now_ms);
/* A graceful drain, then a stop (no routes: a stop at once). */
void ha_sup_drain(struct ha_sup *s, uint64_t now_ms);
/* After a drain or a stop: every part waits to start again. */
void ha_sup_resume(struct ha_sup *s, uint64_t now_ms);
/* The gate's state in words ("open", "waits for classifier", ...). */
void ha_sup_gate_why(const struct ha_sup *s, char *buf, size_t len);

/* Failures of part within its window at now_ms. */
unsigned int ha_sup_recent_failures(const struct ha_sup *s, unsigned int part,
				    uint64_t now_ms);
/* What the operator sees: "up", "down", "restarting", "given-up"... */
const char *ha_state_name(enum ha_state st);

#endif /* HALB_HA_SUP_H */
