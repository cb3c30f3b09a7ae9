/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared-memory contract between halb-forwarder (DPDK primary) and
 * halb-classifier (DPDK secondary).  The forwarder creates the memzone
 * HALB_SHM_NAME holding struct halb_shm, the flow tables, the rings, the
 * QSBR variable and the Maglev tables; the classifier attaches to it.
 * Pointers inside are valid in both processes (DPDK maps hugepage memory
 * at the same addresses in primary and secondary).
 *
 * Who writes what:
 *  - forwarder main lcore: everything at start-up; fwd_alive; at a reload
 *    (docs/RELOAD.md) the view buffer not current, view, view_gen,
 *    n_services, the Maglev tables of slots new to the view while no
 *    classifier holds the attach lock, installs and be of reused slots.
 *  - worker w: workers[w].stats, svc_stats[w][*], be[w][*][*], its entries'
 *    last_seen/state, workers[w].fb_marks; enqueues workers[w].punt.
 *  - classifier: cls_alive, cls_pid, cls_stats, installs, the flow tables' buckets
 *    and entries, workers[w].table_full; enqueues workers[w].ret;
 *    while it is gone, the forwarder's punt thread (forwarder/punt_remote.c)
 *    in its place for what a remote classifier decides, holding the same
 *    attach lock: installs, the tables, table_full, flow_count, ret;
 *    publishes Maglev tables (mh[s].cur) once it owns them; cls_view_gen,
 *    health_id.
 *  - session tracker (sessions { }; docs/ARCHITECTURE.md, "Session
 *    tracker"): the classifier, the workers and the punt thread report
 *    quiescent states to replica_qsbr; the classifier enqueues sess_ring
 *    and clears sess_dump_req, the punt thread enqueues sess_ring_fwd;
 *    halb-sessiond dequeues both, sets sess_dump_req, writes sess_alive, sess_pid
 *    and the replica table's buckets, entries and aux words (flow.c's
 *    writer).
 *  - request router (requests { }; docs/REQUESTS.md): l7_alive, l7_pid,
 *    l7_starts, l7_view_gen, l7, the l7_flows table; enqueues each
 *    worker's l7_out and sess_ring_l7 (with sessions { }), clears
 *    l7_dump_req; halb-sessiond dequeues sess_ring_l7 and sets
 *    l7_dump_req; the relay between appliances: the router enqueues
 *    l7_relay_out and dequeues l7_relay_in, halb-sessiond the reverse.
 * Counters are written by one thread each and read by anyone.
 */
#ifndef HALB_SHM_T_H
#define HALB_SHM_T_H

#include <stdbool.h>
#include <stdint.h>

#include "halb/cfg-t.h"
#include "halb/flow-t.h"
#include "halb/pkt-t.h"

#define HALB_SHM_NAME "halb_shm"
#define HALB_SHM_MAGIC 0x68616c62u /* "halb" */
#define HALB_SHM_VERSION 13u
#define HALB_RING_SIZE 1024u
#define HALB_FB_MARKS 65536u /* per worker, a power of two */

/* Why a worker dropped a packet (beyond the parser's verdicts). */
enum fwd_drop {
	FWD_DROP_NOT_OURS = 0, /* unicast to another MAC */
	FWD_DROP_NO_SERVICE,   /* not to a VIP, not from a NAT backend */
	FWD_DROP_FRAGMENT,     /* non-first fragment: carries no ports */
	FWD_DROP_NO_BACKEND,   /* every backend of the service has weight 0 */
	FWD_DROP_NO_NEIGH,     /* next hop's link address not resolved yet */
	FWD_DROP_NO_ROUTE,     /* no port reaches the destination */
	FWD_DROP_TX_FULL,      /* the device refused the burst */
	FWD_DROP_NO_HEADROOM,  /* could not prepend the tunnel header */
	FWD_DROP_OTHER,        /* IP but not TCP/UDP/ICMP error, not ARP/ND */
	/* Forwarding rules (docs/ARCHITECTURE.md, "How a packet travels"). */
	FWD_DROP_ICMP_NO_FLOW, /* ICMP error quoting a flow no table holds */
	FWD_DROP_REPLY_NO_FLOW, /* from a NAT backend, but no flow it replies to */
	FWD_DROP_VLAN,         /* 802.1Q tag other than the port's (ports[].vlan) */
	FWD_DROP_TOO_BIG,      /* would exceed the out port's MTU (ports[].mtu) */
	FWD_DROP_L2_MCAST,     /* IP in a link-layer broadcast/multicast frame */
	FWD_DROP_MARTIAN,      /* source no host may use (RFC 1812 5.3.7), or ours */
	FWD_DROP_SRC_ROUTE,    /* IPv4 loose/strict source route (RFC 7126) */
	FWD_DROP_MAX,
};

struct fwd_stats {
	uint64_t rx, tx;
	uint64_t busy_tsc;   /* TSC cycles of loops that handled packets */
	uint64_t hits;       /* flow table hits */
	uint64_t punts;      /* misses sent to the classifier */
	uint64_t returned;   /* packets the classifier handed back */
	uint64_t fallbacks;  /* decided here: classifier gone or table full */
	uint64_t nat_replies; /* backend -> client rewrites */
	uint64_t icmp_errors; /* ICMP errors sent after their flow */
	uint64_t icmp_too_big; /* frag-needed/packet-too-big sent (ports[].mtu) */
	uint64_t icmp_limited; /* ... not sent: over FWD_ICMP_RATE */
	uint64_t arp_in, arp_out, nd_in, nd_out;
	/* ARP and ND input, and the neighbour cache as workers use it
	 * (forwarder/neigh.h; worker 0's own round counts in the cache). */
	uint64_t neigh_bad[PKT_NEIGH_ERR_MAX]; /* refused by pkt_neigh_check() */
	uint64_t neigh_conflict;  /* a binding for one of our own addresses */
	uint64_t neigh_offlink;   /* sender not on the port's prefix: not learnt */
	uint64_t neigh_unknown;   /* no entry for the sender: not learnt */
	uint64_t neigh_resolved;  /* an entry's first MAC */
	uint64_t neigh_confirmed; /* the same MAC again */
	uint64_t neigh_moved;     /* a new MAC replaced the old one */
	uint64_t neigh_locked;    /* a new MAC refused: confirmed < 1 s ago */
	uint64_t neigh_kept;      /* a new MAC refused: NA without override */
	uint64_t neigh_static;    /* a binding for a static entry: ignored */
	uint64_t neigh_full;      /* a next hop could not get an entry */
	uint64_t echo_replies;    /* echo requests to a port address answered */
	uint64_t echo_limited;    /* ... not answered: over the rate limit */
	/* The exception path (ports[].kernel; docs/PACKETS.md). */
	uint64_t to_kernel;       /* frames handed to a kernel interface */
	uint64_t kernel_limited;  /* ... not: over ports[].kernel_rate */
	uint64_t kernel_full;     /* ... not: its queue was full */
	uint64_t from_kernel;     /* frames the kernel sent out of a port */
	/* Request routing (requests { }; docs/REQUESTS.md). */
	uint64_t l7_cookies;      /* SYNs answered with a cookie SYN-ACK */
	uint64_t l7_cookie_ok;    /* client segments with a valid cookie: router */
	uint64_t l7_cookie_stale; /* ... with a cookie too old: dropped */
	uint64_t l7_cookie_forged; /* ... with no cookie of ours: dropped */
	uint64_t l7_backend_in;   /* backend segments with no flow: router */
	uint64_t l7_ring_full;    /* ... not: the router's ring was full */
	uint64_t l7_router_down;  /* SYNs and segments dropped: no router */
	uint64_t l7_hits;         /* bound flows' client packets translated */
	uint64_t l7_replies;      /* bound flows' backend packets translated */
	uint64_t l7_out;          /* frames from the router (l7_out): built,
				   * handed back (AGAIN), relayed (REPLY) */
	uint64_t l7_late;         /* client segments past a closed exchange's
				   * answer (ack = cookie + 1 + its length):
				   * dropped */
	uint64_t l7_late_rst;     /* ... of which FIN or data: answered RST */
	uint64_t l7_rst_no_ack;   /* client RSTs without ACK, no flow or record: dropped */
	uint64_t l7_punt_limited; /* client segments over the punt bound
				   * (halb/punt_limit.h): dropped */
	uint64_t l7_adopt;        /* client segments of a peer's spliced
				   * session (the replica): to the router */
	uint64_t l7_replica_replies; /* backend segments translated from a
				      * peer's spliced session */
	uint64_t drops[FWD_DROP_MAX];
	uint64_t bad[PKT_VERDICT_MAX]; /* parser verdicts */
} __attribute__((aligned(64)));

struct svc_stats {
	uint64_t pkts, bytes;
	uint64_t fallbacks;
	uint64_t fallback_replica; /* ... of which the replica's backend */
	uint64_t pad[4];
} __attribute__((aligned(64)));

/* One backend's traffic as one worker forwarded it (forward()).  Only
 * that worker writes it; readers add up the workers' rows.  16 bytes:
 * CFG_MAX_WORKERS x CFG_MAX_SERVICES x CFG_MAX_BACKENDS of them is 4 MiB
 * of hugepage memory. */
struct be_stats {
	uint64_t pkts, bytes;
};

struct cls_stats {
	uint64_t punted;      /* packets taken from punt rings */
	uint64_t installs;    /* new flows installed */
	uint64_t existing;    /* flow was already installed (retransmit) */
	uint64_t table_full;  /* install refused: table full */
	uint64_t no_service;
	uint64_t no_backend;
	uint64_t bad_packet;  /* a punted packet that does not parse */
	uint64_t ret_full;    /* return ring full: packet dropped */
	uint64_t expired;     /* flows removed by the expiry scan */
	uint64_t evicted;     /* flows removed: their backend went down */
	uint64_t loops;
	uint64_t health_msgs;     /* snapshots and heartbeats accepted */
	uint64_t health_rejected; /* datagrams refused by hl_open() */
	uint64_t health_ignored;  /* entries naming no configured backend */
	uint64_t health_silent;   /* times the handler fell silent */
	uint64_t mh_rebuilds;     /* Maglev tables rebuilt and published */
	uint64_t mh_failed;       /* rebuilds that failed (retried) */
	uint64_t kept;            /* misses mid-connection or of a flow decided
				   * without a record: Maglev, whatever the
				   * scheduler */
	uint64_t grace_periods;   /* QSBR grace periods waited for health */
	/* The session tracker's side (sessions { }). */
	uint64_t sess_events;     /* session events enqueued to sess_ring */
	uint64_t sess_ring_full;  /* events dropped: the ring was full */
	uint64_t sess_dumped;     /* SESS_EV_DUMP events of a dump */
	uint64_t sess_dumps;      /* dumps done (sess_dump_req served) */
	uint64_t sess_silent;     /* times halb-sessiond's heartbeat went stale */
	uint64_t replica;         /* misses given the replica's backend */
	uint64_t replica_down;    /* ... whose backend is down and resets its
				   * flows: decided as without a record */
	uint64_t replica_stale;   /* ... whose slot a reload retired or gave
				   * to another backend since: not used */
} __attribute__((aligned(64)));

/* The request router's counters (router/; docs/REQUESTS.md); the
 * router writes them. */
struct l7_stats {
	uint64_t in;             /* segments taken from the l7_in rings */
	uint64_t bindings;       /* connections that began binding */
	uint64_t bound;          /* ... bound: flow installed */
	uint64_t binding_full;   /* refused (reset): max_binding in binding */
	uint64_t timeouts;       /* reset: no request within bind_timeout_ms */
	uint64_t client_rst;     /* the client reset (or closed) mid-binding */
	uint64_t too_big;        /* reset: no request within max_request */
	uint64_t bad_request;    /* reset: neither HTTP/1.x nor a ClientHello */
	uint64_t no_match;       /* no rule and no default pool */
	uint64_t no_backend;     /* reset: no backend up in the pool */
	uint64_t be_refused;     /* reset: the backend answered RST */
	uint64_t be_timeout;     /* reset: the backend did not answer */
	uint64_t wscale_mismatch; /* reset: backend's window scale not ours */
	uint64_t table_full;     /* reset: the bound-flow table is full */
	uint64_t out_full;       /* frames dropped: a return ring was full */
	uint64_t nombuf;         /* frames not built: no mbuf in the pool */
	uint64_t stray;          /* segments of no binding (late, foreign) */
	uint64_t expired;        /* bound flows removed idle */
	uint64_t flows;          /* gauge: bound flows in l7_flows */
	uint64_t binding;        /* gauge: connections binding now */
	uint64_t loops;
	/* Several appliances (sessions { }; docs/REQUESTS.md). */
	uint64_t adopted;        /* a peer's bound connections installed here
				  * from the replica (HALB_L7_IN_ADOPT) */
	uint64_t adopt_refused;  /* ... not: their backend is down (and the
				  * service resets), or retired: RST */
	uint64_t sess_events;    /* session events enqueued to sess_ring_l7 */
	uint64_t sess_ring_full; /* ... dropped: the ring was full */
	uint64_t sess_dumped;    /* SESS_EV_DUMP events of a dump */
	uint64_t sess_dumps;     /* dumps done (l7_dump_req served) */
	/* The relay between appliances (sessions { peers }; docs/REQUESTS.md,
	 * "Relay between appliances"). */
	uint64_t relay_out;      /* backend segments of no binding and no
				  * flow here, handed to halb-sessiond for
				  * the peers (l7_relay_out) */
	uint64_t relay_full;     /* ... not: its ring was full */
	uint64_t relay_in;       /* segments a peer relayed (l7_relay_in) */
	uint64_t relay_bound;    /* ... that bound a binding of ours */
	uint64_t relay_replies;  /* ... of a bound flow here: to a worker,
				  * translated to the client */
	uint64_t relay_stray;    /* ... of neither: dropped (never relayed
				  * again) */
	uint64_t busy_tsc;       /* TSC cycles of the loop's turns that had work */
	uint64_t late_bound;     /* client segments punted before their flow
				  * was installed, taken after: handed back
				  * to be forwarded as the flow's */
} __attribute__((aligned(64)));

/* Health states, as in halb.health.HealthState. */
enum halb_health {
	HALB_HEALTH_UP = 1,
	HALB_HEALTH_DOWN = 2,
	HALB_HEALTH_DRAINING = 3,
};

/* Where a backend's state came from (halb.health.StateSource, plus
 * CONFIG for "nothing heard yet"; OPERATOR: halbctl drain/disable/weight
 * through halb-healthd). */
enum halb_source {
	HALB_SRC_CONFIG = 0,
	HALB_SRC_AGENT = 1,
	HALB_SRC_PROBE = 2,
	HALB_SRC_LAST_KNOWN = 3,
	HALB_SRC_OPERATOR = 4,
};

/* A backend's health as the classifier applies it (classifier writes). */
struct halb_be_health {
	uint8_t state;    /* enum halb_health */
	uint8_t source;   /* enum halb_source */
	uint16_t pad;
	uint32_t weight;  /* weight for new connections when up */
	uint32_t cpu_permille, conns;
	uint64_t updated_ms; /* unix ms when the classifier applied it */
};

struct halb_worker_shm {
	struct rte_ring *punt;  /* worker -> classifier; single producer,
				 * multi consumer: the worker drains it itself
				 * when the classifier is gone */
	struct rte_ring *ret;   /* classifier -> worker */
	/* Request routing (has_l7): segments of connections not bound
	 * yet, worker -> router, and the frames the router built, router
	 * -> worker (verbs in hash.usr: HALB_L7_*).  SP, SC each. */
	struct rte_ring *l7_in;
	struct rte_ring *l7_out;
	struct flow_table flows;
	/* When this worker last decided a flow of hash h without a record
	 * (fallback, or the classifier's stateless decision when the table
	 * was full): fb_marks[h & (HALB_FB_MARKS - 1)] = flow ms clock + 1,
	 * 0 never.  The classifier decides a miss so marked with the Maglev
	 * table, so that the flow keeps the backend it was given. */
	uint32_t *fb_marks;
	uint32_t lcore;
	volatile uint32_t table_full; /* set by the classifier */
	volatile uint32_t flow_count; /* live flows, by the classifier */
	volatile uint64_t loops;      /* the worker's loop turns: the main
				       * lcore beats only while they advance */
	struct fwd_stats stats;
} __attribute__((aligned(64)));

/* A service's Maglev table, double-buffered: the writer builds into the
 * buffer that is not current, then flips cur.  Allocated for a slot when
 * a view first holds it (halb_shm_mh_alloc), never freed. */
struct halb_mh_shm {
	uint16_t *table[2];
	uint32_t size;
	uint32_t cur;  /* atomic */
};

/*
 * The services as the forwarder applies them (docs/RELOAD.md): the
 * slotted configuration's services (halb/cfg_reload.h), for the
 * classifier, which follows them.  Two buffers; the forwarder writes the
 * one that is not current with gen 0 meanwhile, then sets gen and
 * publishes it as shm->view.  A reader copies what it needs and checks
 * gen again (a sequence lock): a buffer may be rewritten under a reader
 * slower than two reloads.
 */
struct halb_view_shm {
	volatile uint64_t gen;
	uint32_t n_services;
	struct cfg_service services[CFG_MAX_SERVICES];
};

struct halb_shm {
	uint32_t magic;
	uint32_t version;
	uint64_t cfg_digest;
	uint64_t tsc_hz;
	uint64_t tsc_base;          /* flow clocks count ms from here */
	uint32_t n_workers;
	uint32_t n_services;
	volatile uint64_t fwd_alive;  /* TSC, forwarder main lcore */
	int32_t fwd_pid;
	volatile uint64_t cls_alive;  /* TSC, classifier loop */
	volatile int32_t cls_pid;
	uint32_t cls_starts;          /* classifier attachments so far */
	/* Reload (docs/RELOAD.md): the current view of the services and
	 * its generation (1 at start); the generation the classifier has
	 * applied (its schedulers, Maglev tables, evictions); the
	 * forwarder's counts of reloads applied and refused. */
	struct halb_view_shm *views[2];
	struct halb_view_shm *view;   /* atomic */
	volatile uint64_t view_gen;
	volatile uint64_t cls_view_gen;
	uint64_t reloads, reload_refused;
	struct rte_rcu_qsbr *qsbr;    /* one thread id per worker */
	struct rte_mempool *pool;
	struct halb_mh_shm mh[CFG_MAX_SERVICES];
	struct halb_worker_shm workers[CFG_MAX_WORKERS];
	struct svc_stats svc[CFG_MAX_WORKERS][CFG_MAX_SERVICES];
	struct cls_stats cls;
	/* Live flows per backend, kept by the classifier (wlc reads them). */
	uint32_t active[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	/* Bound request-routed flows per backend (in l7_flows), kept by the
	 * request router (its wlc reads them; a reload keeps a slot they
	 * name). */
	uint32_t l7_active[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	/* New flows installed per backend, by the classifier: a backend's
	 * new connections (those decided while the classifier was gone or
	 * the table full are not in it; svc_stats.fallbacks counts them). */
	uint64_t installs[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	/* Applied health, kept here so that it outlives a classifier
	 * restart; valid once health_valid is set. */
	uint32_t health_valid;
	struct halb_be_health health[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	/* Which backend health[s][b] is about (classifier/view.c): a slot
	 * given to another backend by a reload starts from its
	 * configuration, not from its predecessor's health. */
	uint64_t health_id[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	/* Per-backend traffic, one row per worker (struct be_stats). */
	struct {
		struct be_stats b[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	} __attribute__((aligned(64))) be[CFG_MAX_WORKERS];
	/*
	 * The session tracker, made when the configuration has sessions { }
	 * (has_sessions; otherwise NULL and zero).  sess_ring: struct sess_ev
	 * elements, classifier -> halb-sessiond, single producer and single
	 * consumer.  replica: the sessions that peer appliances decided,
	 * laid out as a flow table (flow-t.h) whose entries' svc and backend
	 * are this appliance's slots as the view that halb-sessiond followed
	 * named them, tag which backend that slot was (halb_slot_tag: the
	 * classifier uses an entry only while its own view's slot is live
	 * and health_id[svc][backend] has that tag), state the owner's,
	 * last_seen the flow ms when the owner last reported it, flags the
	 * owner's peer index; halb-sessiond is its writer; its readers are
	 * the classifier (thread 0 of replica_qsbr), each worker w's
	 * fallback (thread 1 + w; docs/ARCHITECTURE.md, "When the classifier is
	 * gone") and the forwarder's punt thread (thread 1 + n_workers).  A worker's fallback checks the tag against its own view's
	 * (struct fwd_backend.tag).  A request-routed connection's record
	 * has SESS_R_SPLICED in flags and its sequence delta in the table's
	 * aux array (replica.aux, flow-t.h); the workers read it for a
	 * peer's bound connection (docs/REQUESTS.md, "Several appliances").
	 */
	uint32_t has_sessions;
	struct rte_ring *sess_ring;
	/* The same for the flows that the forwarder's punt thread installs
	 * from a remote classifier's decisions (forwarder/punt_remote.c):
	 * single producer, that thread; single consumer, halb-sessiond.
	 * A second ring rather than a multi-producer one, so that the
	 * classifier's enqueue stays the single-producer kind.  The punt
	 * thread also reads the replica, as thread 1 + n_workers of
	 * replica_qsbr, online only during the turns it acts in. */
	struct rte_ring *sess_ring_fwd;
	struct flow_table replica;
	struct rte_rcu_qsbr *replica_qsbr;
	volatile uint64_t sess_alive;  /* TSC, halb-sessiond's loop */
	volatile int32_t sess_pid;     /* 0: none attached, or a clean stop */
	/* A dump request: halb-sessiond adds 1 (at its start, after a ring
	 * overflow); the classifier enqueues a SESS_EV_DUMP for every live
	 * flow, paced, then sets it back to 0 if it still holds the request
	 * it served (release: every DUMP is in the ring before), else starts
	 * over. */
	volatile uint32_t sess_dump_req;
	uint32_t sess_starts;          /* sessiond attachments so far */
	/* The boot id halb-sessiond last knew each peer (sessions.peers
	 * index) by, 0 none: a sessiond restarted meanwhile tells a peer's
	 * restart from its own (docs/SESSIONS.md, "A peer that restarts").
	 * Written and read by halb-sessiond only. */
	uint64_t sess_peer_boot[CFG_MAX_SYNC_PEERS];
	/*
	 * The request router (a service with requests { }: has_l7;
	 * docs/REQUESTS.md).  l7_key: the SYN cookies' secret, random at
	 * each forwarder start (the forwarder writes it before magic).
	 * l7_flows: the bound connections (client -> VIP key, svc,
	 * backend, and in tag the sequence delta: backend ISN - cookie),
	 * one table read by every worker; its writer is the router alone,
	 * which frees entries after a grace period of shm->qsbr; workers
	 * write last_seen and state, as in their own tables.  l7_alive,
	 * l7_pid: the router's heartbeat for the workers, which answer no
	 * SYN of such a service while it is stale.  l7_view_gen: the view
	 * generation (view_gen) the router has applied (docs/RELOAD.md).
	 */
	uint32_t has_l7;
	uint64_t l7_key[2];
	struct flow_table l7_flows;
	volatile uint64_t l7_alive;    /* TSC, the router's loop */
	volatile int32_t l7_pid;       /* 0: none attached, or a clean stop */
	uint32_t l7_starts;
	volatile uint64_t l7_view_gen;
	/* The router's own mbuf cache (router/bind.c), kept here so that
	 * the next router gives back what a killed one held in it. */
	struct rte_mempool_cache *l7_mc;
	/* With sessions { } too: the router's session events (struct
	 * sess_ev, SESS_EV_F_SPLICED; single producer, the router; single
	 * consumer, halb-sessiond), and halb-sessiond's dump request of
	 * l7_flows, served by the router as the classifier serves
	 * sess_dump_req (NULL and 0 otherwise). */
	struct rte_ring *sess_ring_l7;
	volatile uint32_t l7_dump_req;
	struct l7_stats l7;
	/*
	 * The relay between appliances (requests { } and sessions { } with
	 * peers; NULL otherwise): rings of struct halb_l7_relay, single
	 * producer and single consumer each.  l7_relay_out: the router's
	 * backend segments that match no binding and no flow here, to
	 * halb-sessiond, which sends them to the peers (Relay,
	 * docs/SYNC-PROTOCOL.md); l7_relay_in: the peers' relayed segments,
	 * halb-sessiond -> router, which takes them as a worker's
	 * HALB_L7_IN_BACKEND and never relays them again.
	 */
	struct rte_ring *l7_relay_out;
	struct rte_ring *l7_relay_in;
};

/* A relayed backend segment (shm->l7_relay_out, l7_relay_in). */
#define HALB_L7_RELAY_MAX 1520u  /* frame bytes: larger ones not relayed */
#define HALB_L7_RELAY_RING 512u  /* elements of each ring */
struct halb_l7_relay {
	uint16_t svc;      /* service slot (of the appliance that reads it) */
	uint16_t be;       /* in: backend slot here; out: the sender's */
	uint16_t vport;    /* the client's destination port (network order) */
	uint16_t len;      /* frame bytes */
	uint8_t frame[HALB_L7_RELAY_MAX]; /* from the IP header on */
};

/* The request router's verbs in hash.usr (docs/REQUESTS.md).  In: what
 * a worker punts on l7_in.  Out: what the router hands a worker on
 * l7_out, a frame it built whole but for its Ethernet addresses, or
 * (AGAIN) a client's segment handed back as it came. */
#define HALB_L7_IN_CLIENT 1u   /* a client segment with a valid cookie */
#define HALB_L7_IN_BACKEND 2u  /* a segment from backend be, no flow */
#define HALB_L7_IN_ADOPT 3u    /* a client segment of no bound flow, of a
				* peer's spliced session naming backend be:
				* its sequence delta in hash.fdir.hi */
#define HALB_L7_OUT_BACKEND 1u /* to backend be of svc (addressed to it) */
#define HALB_L7_OUT_CLIENT 2u  /* to the client (from the VIP) */
#define HALB_L7_OUT_AGAIN 3u   /* the client's segment of an ADOPT, its
				* flow now installed: the worker forwards it
				* as a bound flow's (or drops it) */
#define HALB_L7_OUT_REPLY 4u   /* a segment of backend be of svc that a peer
				* relayed, of a bound flow here: the worker
				* translates it to the client as a bound
				* flow's reply (or drops it: never punted) */
/* HALB_L7_IN_CLIENT's be field: this flag and the options the segment's
 * cookie keeps (syncookie_opts_pack), which the worker checked.  Every
 * client segment is punted with it. */
#define HALB_L7_IN_CO 0x8000u
#define HALB_L7_VERB(kind, svc, be) \
	((uint32_t)(kind) << 28 | (uint32_t)(svc) << 16 | (uint32_t)(be))
#define HALB_L7_KIND(u) ((u) >> 28)
#define HALB_L7_SVC(u) ((uint16_t)((u) >> 16 & 0xfffu))
#define HALB_L7_BE(u) ((uint16_t)((u) & 0xffffu))

/* The router's answers to a request it does not bind (no_match
 * "http-503"): their payload lengths, sent with FIN at the cookie + 1.
 * A client's later segments ack cookie + 1 + length (+ 1 for the FIN):
 * the workers tell them by these (late, not forged). */
#define HALB_L7_ANSWER_503_LEN 74u   /* the minimal HTTP 503 */
#define HALB_L7_ANSWER_ALERT_LEN 7u  /* a TLS unrecognized_name alert */

/* The coarse flow clock, shared by both processes. */
static inline uint32_t
halb_now_ms(const struct halb_shm *shm, uint64_t tsc)
{
	return (uint32_t)((tsc - shm->tsc_base) / (shm->tsc_hz / 1000));
}

/* Age of a heartbeat: another thread may have written it after `now`
 * was read, which must count as fresh, not as an unsigned wrap. */
static inline uint64_t
halb_tsc_age(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* Who a backend slot is (shm->health_id): FNV-1a over its service's
 * name, its address and its port (its own, else the service's), never
 * 0 (0: nobody yet). */
static inline uint64_t
halb_slot_id(const char *svc_name, const uint8_t ip[16], uint16_t port)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned int i;

	for (i = 0; svc_name[i] != '\0'; i++)
		h = (h ^ (uint8_t)svc_name[i]) * 0x100000001b3ull;
	for (i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 0x100000001b3ull;
	h = (h ^ (port >> 8)) * 0x100000001b3ull;
	h = (h ^ (port & 0xff)) * 0x100000001b3ull;
	return h != 0 ? h : 1;
}

/* The replica's 32-bit form of a slot id (flow_entry.tag): never 0, so
 * that an entry written without one never matches. */
static inline uint32_t
halb_slot_tag(uint64_t id)
{
	uint32_t t = (uint32_t)(id ^ id >> 32);

	return t != 0 ? t : 1;
}

/* Decision a classifier writes into a returned mbuf's hash.usr.
 * HALB_RET_F_STATELESS: not installed (table full), the worker marks it
 * as it marks its own fallbacks (fb_marks).  Backends are below
 * CFG_MAX_BACKENDS, far from the flag's bit. */
#define HALB_RET_DECISION(svc, backend) \
	((uint32_t)(svc) << 16 | (uint32_t)(backend))
#define HALB_RET_F_STATELESS 0x8000u
#define HALB_RET_SVC(u) ((uint16_t)((u) >> 16))
#define HALB_RET_BACKEND(u) ((uint16_t)((u) & 0x7fffu))

/* The worker's mark of a flow it decided without a record. */
static inline void
halb_fb_mark(uint32_t *marks, uint32_t hash, uint32_t now_ms)
{
	uint32_t *m = &marks[hash & (HALB_FB_MARKS - 1)];

	if (*m != now_ms + 1)
		__atomic_store_n(m, now_ms + 1, __ATOMIC_RELAXED);
}

/*
 * Whether a flow of hash h may have been decided without a record within
 * the last window_ms (its idle timeout).  Another flow's mark in the
 * same slot answers yes too: that flow is then decided with the Maglev
 * table, a valid choice, instead of the service's scheduler.
 */
static inline bool
halb_fb_marked(const uint32_t *marks, uint32_t hash, uint32_t now_ms,
	       uint32_t window_ms)
{
	uint32_t m = __atomic_load_n(&marks[hash & (HALB_FB_MARKS - 1)],
				     __ATOMIC_RELAXED);
	uint32_t age = now_ms - (m - 1);

	/* A mark a little ahead of our clock (written after we read it)
	 * shows as a huge age: it is fresh. */
	return m != 0 && (age < window_ms || age > 0x80000000u);
}

#endif
