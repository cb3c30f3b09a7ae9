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
 * Who writes what: only these functions write struct ha_sup; the daemon
 * reads it (status) and drains its actions with ha_sup_next().
 */
#ifndef HALB_HA_SUP_H
#define HALB_HA_SUP_H

#include <stdbool.h>
#include <stdint.h>

#include "halb/cfg-t.h"
#include "halb/hb.h"

#define HA_WHY_LEN 192
#define HA_MAX_ACTS 64

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
};

struct ha_act {
	enum ha_act_kind kind;
	unsigned int part;
	int pid, sig, level;
	char why[HA_WHY_LEN];
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

/* Failures of part within its window at now_ms. */
unsigned int ha_sup_recent_failures(const struct ha_sup *s, unsigned int part,
				    uint64_t now_ms);
/* What the operator sees: "up", "down", "restarting", "given-up"... */
const char *ha_state_name(enum ha_state st);

#endif /* HALB_HA_SUP_H */
