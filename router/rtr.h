/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-router, the request router (docs/REQUESTS.md): a DPDK secondary
 * of the forwarder's memory that binds request-routed connections.
 *
 * A binding (struct rtr_bind) is a connection between the client's
 * first segment after the cookie handshake and its flow's installation:
 * the request read so far, the cookie, the client's ISN and options.
 * Bindings live in this process alone (lost with it, by design: they are
 * the only connections a router failure loses), at most max_binding per
 * service, each for at most bind_timeout_ms in each of its two states
 * (reading the request; waiting for the backend's SYN-ACK).
 *
 * What the router writes in shared memory: shm->l7_flows (its only
 * writer; entries freed after a grace period of shm->qsbr),
 * shm->l7_active (the bound flows per backend), shm->l7 (its counters),
 * l7_alive and l7_pid; it enqueues on each worker's l7_out ring and
 * dequeues its l7_in ring.
 *
 * With sessions { } (sess.c), the router tells halb-sessiond of every
 * bound flow it installs, whose state moves or that it removes, on its
 * own session ring (shm->sess_ring_l7, spliced events with the delta),
 * and dumps l7_flows when halb-sessiond asks (l7_dump_req); and it adopts
 * the connections that a peer appliance bound, from the replica's record
 * that the worker hands it (HALB_L7_IN_ADOPT, bind.c).
 */
#ifndef HALB_RTR_H
#define HALB_RTR_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_log.h>
#include <rte_mbuf.h>

#include "halb/cfg-t.h"
#include "halb/flow.h"
#include "halb/pkt-t.h"
#include "halb/sched.h"
#include "halb/sess_evq.h"
#include "halb/shm-t.h"
#include "halb/syncookie.h"

extern int rtr_logtype;
#define RTR_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, rtr_logtype, "%s: " fmt "\n", __func__, \
		##__VA_ARGS__)

#define RTR_MAX_POOLS 32
#define RTR_TICK_MS 10    /* timeouts and expiry, every so often */
#define RTR_DUMP_BUCKETS 256 /* l7_flows buckets a dump walks a turn */
#define RTR_OUT_BURST 32  /* frames to a worker, enqueued together */
#define RTR_MBUF_CACHE 64 /* the loop thread's own mbuf cache */
#define RTR_BUF_KEEP 256  /* request buffers kept for reuse, per service */

enum rtr_state {
	RTR_FREE = 0,
	RTR_READ,      /* reading the request */
	RTR_SYN_SENT,  /* the SYN replayed to the backend */
};

struct rtr_bind {
	struct flow_key key;   /* client -> VIP */
	uint32_t hash;
	uint32_t next;         /* hash chain: index + 1, 0 ends it */
	uint32_t prev_act, next_act; /* the list of live bindings (index + 1) */
	uint8_t state;         /* enum rtr_state */
	uint8_t worker;        /* whose l7_out ring answers */
	uint16_t svc, be;
	struct syncookie_opts co; /* the client's SYN, from the cookie */
	uint32_t cookie;       /* our ISN towards the client */
	uint32_t cisn;         /* the client's ISN */
	uint16_t cwin;         /* the client's last window (its scale) */
	uint32_t deadline_ms;
	uint32_t syn_ms;       /* when the SYN to the backend last went */
	uint32_t len;          /* request bytes buffered */
	uint8_t *buf;          /* cap bytes */
	uint32_t cap;          /* max_request when buf was allocated: a
				* reload may change the service's since */
};

/* A request buffer (rtr_bind.buf points at data).  When its binding
 * ends it goes to its service's list of free buffers (at most
 * RTR_BUF_KEEP, and only while max_request is still its cap), which
 * the next binding of the service takes before malloc. */
struct rtr_buf {
	struct rtr_buf *next;
	uint32_t cap;
	uint8_t data[] __attribute__((aligned(16)));
};

/* A request-routed service's scheduler (its kind, its backends' weights
 * for new connections) and each pool's candidates (halb/sched.h: the
 * scheduler keeps to a mask). */
struct rtr_svc {
	struct sched_svc sched;
	struct sched_mask masks[CFG_L7_MAX_POOLS];
};

/* Frames built for one worker's l7_out ring, enqueued in one burst at
 * the end of a poll or a tick (or when RTR_OUT_BURST are waiting). */
struct rtr_out {
	uint32_t n;
	struct rte_mbuf *m[RTR_OUT_BURST];
};

struct rtr {
	struct halb_cfg *cfg;
	struct halb_shm *shm;
	/* The mbufs of shm->pool that this thread frees and takes: an
	 * mbuf freed here is the next one taken (still in this core's
	 * cache), without an operation on the pool's shared ring each
	 * time.  Emptied into the pool whenever a turn finds nothing to
	 * do, so that a router that dies idle holds none of them. */
	struct rte_mempool_cache *mc;
	uint16_t priv_size;        /* shm->pool's, for mbuf_alloc's prefetch */
	struct rtr_out outq[CFG_MAX_WORKERS];
	bool out_wait;             /* segments wait for room on l7_out */
	struct flow_writer fw;     /* shm->l7_flows */
	uint32_t now_ms;
	uint32_t tick_ms;
	uint32_t cap;              /* bindings: sum of max_binding */
	uint32_t n_buckets;        /* power of two */
	uint64_t hkey[2];          /* bind_hash()'s key, random */
	uint32_t *buckets;         /* index + 1 */
	struct rtr_bind *binds;
	uint32_t free_head;        /* index + 1 of a free binding */
	uint32_t act_head;         /* index + 1 of the oldest live one */
	uint32_t act_tail;
	uint32_t active[CFG_MAX_SERVICES];
	struct rtr_svc *svcs[CFG_MAX_SERVICES]; /* NULL: no requests { } */
	struct rtr_buf *bufs[CFG_MAX_SERVICES];  /* free request buffers */
	uint32_t n_bufs[CFG_MAX_SERVICES];
	uint64_t health_sum;       /* what the schedulers were built from */
	uint64_t view_gen;         /* the forwarder's view applied */
	/* When the router first saw each backend down (flow ms + 1; 0: not
	 * down), for the down_hold of an adoption (bind.c). */
	uint32_t down_ms[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	/* The session tracker's side (sess.c). */
	struct sess_evq sq;        /* shm->sess_ring_l7 (NULL ring: none) */
	bool dumping;
	uint32_t dump_req;         /* the request being served */
	uint32_t dump_b;           /* its cursor in l7_flows' buckets */
	volatile bool quit;
};

/* Sets r up on its attached shm and cfg (bindings, pools, the flow
 * table's writer).  0 or -errno, logged. */
int rtr_init(struct rtr *r);
void rtr_fini(struct rtr *r);

/* Drops what a previous router left in the l7_in rings (its bindings
 * went with it), counted as stray.  On the loop's thread: it frees
 * mbufs (main.c says why that thread). */
void rtr_drain(struct rtr *r);

/* Takes what the workers punted (at most a burst from each, and no
 * more than half the room on its l7_out ring: out_wait is set when
 * segments wait for that room); returns how many segments. */
uint32_t rtr_poll(struct rtr *r);

/* Timeouts of bindings, expiry of bound flows, pool weights: every
 * RTR_TICK_MS. */
void rtr_tick(struct rtr *r);

/* Installs the bound flow k (client -> VIP) of service s to backend be
 * with sequence delta delta, replacing a closed connection's entry of
 * the same tuple, and counts it for its backend (shm->l7_active, the
 * scheduler's active[]: wlc).  Returns the entry's index or -errno
 * (-ENOSPC: the table is full). */
int rtr_flow_install(struct rtr *r, const struct flow_key *k, uint16_t s,
		     uint16_t be, uint32_t delta);

/* Counts the bound flows per backend again from the table (a router
 * that follows another one: rtr_init() calls it). */
void rtr_flows_count(struct rtr *r);

/* What a relayed segment is to this router (rtr_relay_backend). */
enum {
	RTR_RELAY_BINDING = 0, /* a binding's: taken (backend_seg) */
	RTR_RELAY_FLOW,        /* a bound flow's: for a worker to translate */
	RTR_RELAY_STRAY,       /* neither */
};

/* bind.c: a segment of backend be of service s that a peer relayed
 * (frame and pi as a worker's): RTR_RELAY_*. */
int rtr_relay_backend(struct rtr *r, uint16_t s, uint16_t be,
		      const uint8_t *frame, const struct pkt_info *pi);

/*
 * relay.c, the relay between appliances (docs/REQUESTS.md, "Relay
 * between appliances"; shm->l7_relay_out and l7_relay_in, NULL without
 * sessions { peers }).  rtr_relay_out(): a backend's segment of service
 * s for the client key k that matches no binding here goes to
 * halb-sessiond for the peers; returns whether it was taken (false: no
 * relay; counted relay_full when the ring was full or the segment too
 * large, and true then too: it is not a stray of ours).
 * rtr_relay_poll(): the peers' relayed segments, each taken as a
 * worker's HALB_L7_IN_BACKEND (rtr_relay_backend) or handed to a worker
 * (HALB_L7_OUT_REPLY), else dropped (relay_stray); returns how many.
 */
bool rtr_relay_out(struct rtr *r, uint16_t s, const struct flow_key *k,
		   const uint8_t *frame, const struct pkt_info *pi);
uint32_t rtr_relay_poll(struct rtr *r);

/* sess.c: the session ring's producer side, started on shm's ring (none
 * without sessions { }); once a loop turn, a share of a dump when
 * halb-sessiond asks for one, and the events buffered enqueued. */
void rtr_sess_init(struct rtr *r);
void rtr_sess_turn(struct rtr *r);
/* One turn of the router's loop at TSC `now`: its liveness for the
 * workers (l7_alive), the clock, rtr_poll(), rtr_tick() when due.
 * Returns rtr_poll()'s count, plus one when segments wait for room on
 * an l7_out ring (the loop must not sleep then).  main.c's loop and
 * bench/bind.c call it. */
uint32_t rtr_turn(struct rtr *r, uint64_t now);

#endif
