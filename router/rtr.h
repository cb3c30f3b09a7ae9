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
 * writer; entries freed after a grace period of shm->qsbr), shm->l7
 * (its counters), l7_alive and l7_pid; it enqueues on each worker's
 * l7_out ring and dequeues its l7_in ring.
 */
#ifndef HALB_RTR_H
#define HALB_RTR_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_log.h>
#include <rte_mbuf.h>

#include "halb/cfg-t.h"
#include "halb/flow.h"
#include "halb/sched.h"
#include "halb/shm-t.h"
#include "halb/syncookie.h"

extern int rtr_logtype;
#define RTR_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, rtr_logtype, "%s: " fmt "\n", __func__, \
		##__VA_ARGS__)

#define RTR_MAX_POOLS 32
#define RTR_TICK_MS 10    /* timeouts and expiry, every so often */
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

/* One turn of the router's loop at TSC `now`: its liveness for the
 * workers (l7_alive), the clock, rtr_poll(), rtr_tick() when due.
 * Returns rtr_poll()'s count, plus one when segments wait for room on
 * an l7_out ring (the loop must not sleep then).  main.c's loop and
 * bench/bind.c call it. */
uint32_t rtr_turn(struct rtr *r, uint64_t now);

#endif
