/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's state (one thread owns all of it) and the interfaces
 * between its main loop (main.c), its work on the flow tables (decide.c)
 * and the health cache (health.c).
 */
#ifndef HALB_CLS_H
#define HALB_CLS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <rte_log.h>

#include "halb/cfg-t.h"
#include "halb/sess-t.h"
#include "halb/sess_evq.h"
#include "halb/flow.h"
#include "halb/sched.h"
#include "halb/shm-t.h"
#include "halb/svc.h"

extern int cls_logtype;
#define CLS_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cls_logtype, "%s: " fmt "\n", __func__, \
		##__VA_ARGS__)

/*
 * Expiry is paced by time, not by loops: every worker's table is swept
 * once per CLS_EXPIRE_SWEEP_MS whatever the load, so a flow is removed
 * within one sweep of its idle timeout, and a flood of new flows no
 * longer pays a scan per burst.  One second against the shortest default
 * timeout (tcp_syn_timeout, 5 s) keeps expiry within 20 % of it and
 * costs a 64k-entry table 16k buckets a second.  Timeouts may be set as
 * low as 1 ms (flows { }: at least 0.001 s); those shorter than a sweep
 * are honoured to within the sweep.  Evictions (down_flows "reset") take
 * up to one sweep too.
 */
#define CLS_EXPIRE_SWEEP_MS 1000u
/* Buckets a second at most: larger tables take longer than a sweep
 * period to go round (a 10M-flow table, 4M buckets, 4 s), so that the
 * scan of a large table, a random entry read for every flow, does not
 * take the classifier's core from deciding (10M flows swept each second
 * cut the rate of installs by two thirds). */
#define CLS_EXPIRE_MAX_RATE 1000000u
/* Most buckets one call scans, so that catching up after a stall (a
 * descheduled or sleeping loop) never holds the loop long: at about
 * 100 ns a bucket of a full 1M-flow table, 0.1 ms, about what a SYN
 * flood takes to fill a punt ring.  The rest is owed to the next calls
 * (up to one sweep); a loop that turns fewer than n_buckets / 1024 times
 * a sweep falls behind and sweeps at 1024 buckets a turn. */
#define CLS_EXPIRE_MAX_BUCKETS 1024u

struct cls_sweep {
	uint64_t last_tsc; /* TSC of the last budget */
	uint64_t owed;     /* buckets owed, times tsc_hz */
	uint64_t rate;     /* buckets a second (set once: the table's size) */
	uint64_t max_dt;   /* TSC ticks of one sweep: what a stall earns */
};

/*
 * The session tracker's side (sess.c; sessions { }).  Events go to
 * shm->sess_ring through a struct sess_evq (halb/sess_evq.h: in bursts,
 * a full ring drops them, counted, and halb-sessiond resyncs from the
 * tables).  A dump walks CLS_DUMP_BUCKETS buckets a turn, and only
 * as many as the ring has room for: its events are never dropped.
 */
#define CLS_DUMP_BUCKETS 256u
/* halb-sessiond's shared-memory heartbeat older than this: silent. */
#define CLS_SESS_SILENT_MS 1000u

struct seal_keyring;
struct seal_replay;
struct rte_ring;

struct cls {
	struct halb_cfg *cfg;
	struct halb_shm *shm;
	struct svc_map svcs;
	struct flow_writer fw[CFG_MAX_WORKERS];
	struct sched_svc sched[CFG_MAX_SERVICES];
	/* Flows of these backends are removed by the expiry scan. */
	bool evict[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	/* Unix ms since when a live backend has been down (0: it is not),
	 * and the earliest end of a down_hold still running (0: none). */
	uint64_t down_ms[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	uint64_t hold_due_ms;
	struct cls_sweep sweep[CFG_MAX_WORKERS];
	uint32_t now_ms;
	/* Health handler link (health.c); fd < 0 when not configured. */
	int hfd;
	struct seal_keyring *hkeys;
	struct seal_replay *hreplay;
	uint64_t hlast_ms;     /* unix ms of the last accepted message */
	uint64_t hpoll_tsc;    /* next poll of the socket */
	bool hsilent;
	/* Services whose applied health changed and whose scheduler and
	 * Maglev table are still to be rebuilt (a failure: retried). */
	bool hdirty[CFG_MAX_SERVICES];
	bool hfailed[CFG_MAX_SERVICES]; /* the last rebuild failed (logged) */
	bool hchanged;         /* this poll's messages dirtied a service */
	uint64_t hretry_ms;    /* unix ms of the next retry; 0: none due */
	int lock_fd;           /* holds the attach lock (lock.c) */
	/* Session tracker (sess.c); sq.ring NULL without sessions { }. */
	struct sess_evq sq;
	uint32_t sweep_w;      /* the table cls_expired() is called for */
	uint32_t dump_w, dump_b; /* the dump's cursor */
	uint32_t dump_req;     /* the request being served */
	bool dumping;
	bool sess_silent;
	bool replica_on;       /* registered with shm->replica_qsbr */
	/* The forwarder's view of the services this state follows
	 * (view.c), and whether shm->cls_view_gen still owes it. */
	uint64_t view_gen;
	bool view_unacked;
	/* The flow tables are this process's own record of what it
	 * decided (the remote classifier, remote.c): nothing moves an
	 * entry's state to FIN, so an entry keeps its opening SYN's
	 * sequence number in its tag, and a SYN with another one opens a
	 * new connection on a 5-tuple the client reused. */
	bool own_tables;
	volatile bool quit;
};

/*
 * Decides the first packet of a flow, frame by frame: true with the
 * decision (HALB_RET_DECISION) in *usr, false when it is to be dropped
 * (counted in shm->cls).
 */
bool cls_decide(struct cls *c, uint32_t w, const uint8_t *frame, uint32_t len,
		uint32_t *usr);

/* The expiry predicate of flow_expire_scan(); ctx is the struct cls. */
bool cls_expired(void *ctx, const struct flow_entry *e);

/* Starts worker w's expiry pacing at now_tsc (nothing owed). */
void cls_sweep_start(struct cls *c, uint32_t w, uint64_t now_tsc);

/*
 * Worker w's housekeeping between bursts: the expiry scan of the buckets
 * the time since the last call earned (see CLS_EXPIRE_SWEEP_MS), reclaim
 * of entries past their grace period, the flow count.
 */
void cls_housekeep(struct cls *c, uint32_t w, uint64_t now_tsc);

/*
 * Loads the health the forwarder's memory remembers (a restarted
 * classifier), or the configured weights, builds the schedulers and
 * Maglev tables from it, and opens the handler's socket when the
 * configuration has a health section.  Returns 0 or -errno.
 */
int cls_health_init(struct cls *c);
void cls_health_fini(struct cls *c);

/* Takes what the handler sent since the last call; cheap when idle. */
void cls_health_poll(struct cls *c, uint64_t now_tsc);

/*
 * The session tracker's side (sess.c).  cls_sess_init: the ring and the
 * replica's reader registration when the shared memory has them.
 * cls_sess_turn: once per loop turn: flushes the buffer, serves a dump
 * request (paced), reports a quiescent state to the replica's QSBR
 * variable and watches halb-sessiond's heartbeat.
 */
void cls_sess_init(struct cls *c);
void cls_sess_fini(struct cls *c);
void cls_sess_turn(struct cls *c, uint64_t now_tsc);

/*
 * A mid-connection miss of service s: the backend the replica holds for
 * its 5-tuple (a session a peer appliance decided), into *b.  Returns
 * false when there is no usable record: none, another service's, or a
 * backend that is down and whose service resets the flows of a down
 * backend (down_flows "reset"; counted).
 */
bool cls_replica_pick(struct cls *c, uint32_t s, const struct flow_key *k,
		      uint32_t hash, uint16_t *b);

/*
 * Rebuilds the schedulers and Maglev tables of the services marked
 * dirty (c->hdirty), after one grace period.  Returns how many are
 * still dirty (a failed build, retried by cls_health_poll()).
 */
uint32_t cls_health_apply(struct cls *c, uint64_t now_ms);

/*
 * Following the forwarder's view (view.c; docs/RELOAD.md).
 * cls_view_attach: c->cfg's services become the view's (at attach,
 * before anything is built from them).  cls_view_poll: when the view's
 * generation moved, takes its services, per slot as view.c says, and
 * acknowledges it once applied; cheap otherwise; 0 or -errno (retried
 * at the next call).  cls_view_ack: acknowledges the view once no
 * service is left to rebuild (left: cls_health_apply()'s answer).
 */
int cls_view_attach(struct cls *c);
int cls_view_poll(struct cls *c, uint64_t now_ms);
void cls_view_ack(struct cls *c, uint32_t left);

/* Service slot s's eviction marks: retired backends per its down_flows,
 * free slots always, live ones when down and down_flows is "reset"
 * (cls_down_evicts). */
void cls_slots_evict(struct cls *c, uint32_t s);

/*
 * Whether the flows of live backend b of service slot s go at now_ms:
 * it is down, its service says down_flows "reset", and it has been down
 * for the service's down_hold (at once when the operator disabled it).
 * A hold still running is remembered (c->hold_due_ms) and
 * cls_health_poll() marks the backend when it ends, unless the backend
 * came back meanwhile: a health flap shorter than the hold costs its
 * established connections nothing.
 */
bool cls_down_evicts(struct cls *c, uint32_t s, uint32_t b, uint64_t now_ms);

/* Health of service slot s's live backends that are new to their slot
 * (shm->health_id): from the configuration; a configured weight of one
 * whose health came from it.  Returns whether anything changed. */
bool cls_slots_health(struct cls *c, uint32_t s, uint64_t now_ms);

/* Unix time in ms. */
uint64_t cls_wall_ms(void);

/*
 * The attach lock (lock.c): one classifier per forwarder.  CLS_LOCK_FILE
 * lives in the forwarder's DPDK runtime directory.
 */
#define CLS_LOCK_FILE "halb_classifier.lock"

/* Opens (creating) the lock file: an fd, or -errno. */
int cls_lock_open(const char *path);

/*
 * Takes the lock without waiting: 0, -EBUSY with *holder set to the pid
 * holding it (0 if it just let go), or -errno.
 */
int cls_lock_try(int fd, pid_t *holder);

/*
 * --takeover: waits up to timeout_ms for the lock.  While another holds
 * it and holder_fresh(ctx, pid) says its heartbeat is stale, the holder
 * is killed (SIGKILL; *killed set to its pid) so that it cannot resume
 * as a second writer.  Returns 0, -ETIMEDOUT or -errno.
 */
int cls_lock_takeover(int fd, uint32_t timeout_ms,
		      bool (*holder_fresh)(void *ctx, pid_t holder), void *ctx,
		      pid_t *killed);

#endif
