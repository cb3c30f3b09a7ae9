/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarder's process-wide state (struct fwd_ctx), built by main.c
 * before the workers start and read-only afterwards, except for the
 * neighbour cache (see neigh.h), the quit and reload flags, and the
 * view of the services (struct fwd_view), which a reload replaces whole
 * (reload.c; docs/RELOAD.md).
 */
#ifndef HALB_FWD_H
#define HALB_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "halb/cfg-t.h"
#include "halb/pkt.h"
#include "halb/shm-t.h"
#include "halb/svc.h"
#include "mode.h"
#include "neigh.h"

extern int fwd_logtype;
#define FWD_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, fwd_logtype, "%s: " fmt "\n", __func__, \
		##__VA_ARGS__)

#define FWD_BURST 32
#define FWD_TX_MAX 64
#define FWD_RX_DESC 1024
#define FWD_TX_DESC 1024
#define FWD_KERNEL_DESC 256 /* ring size of each kernel interface queue */
#define FWD_KTX_MAX 32      /* frames a worker buffers for a kernel interface */

struct fwd_backend {
	struct halb_ip ip;
	uint16_t port;      /* host order; 0 keeps the packet's port */
	uint16_t out;       /* index into fwd_ctx.ports */
	int neigh;          /* next hop's neighbour slot; -1: a free slot */
	uint16_t overhead;  /* bytes the mode wraps around a packet */
	uint32_t tag;       /* a live slot: halb_slot_tag of who it is (the
			     * replica's entries name it so); 0 otherwise */
	struct pkt_vxlan vx; /* tunnel mode template (dst_mac set per packet) */
};

struct fwd_service {
	const struct fwd_mode_ops *ops; /* the mode's (mode.h) */
	uint8_t mode;
	uint16_t vport;     /* host order; 0: all ports */
	bool down_keep;     /* down_flows "keep" */
	bool l7;            /* requests { }: delayed binding (REQUESTS.md) */
	uint8_t l7_wscale;  /* ... the window scale its SYN-ACK promises */
	uint16_t l7_mss;    /* ... the MSS it offers */
	uint16_t l7_win;    /* ... the window it offers */
	struct halb_ip vip;
	uint32_t n_backends;
	struct fwd_backend *be;
};

struct fwd_port {
	uint16_t port_id;
	uint8_t mac[6];
	const struct cfg_port *cfg;
	char name[CFG_ARG_LEN];  /* the DPDK device: vdev name or PCI address */
	uint64_t tx_csum;        /* RTE_ETH_TX_OFFLOAD_*_CKSUM the device has */
	uint64_t tx_offloads;    /* ... of those, turned on (setup.c) */
	bool has_kernel;         /* ports[].kernel: the exception path's tap */
	uint16_t kernel_id;      /* ... its DPDK port (kernel.c) */
};

/*
 * What the workers forward with, immutable once published: the service
 * lookup tables, per service slot its mode, key and per backend slot
 * the rewrite data (retired slots keep theirs for their flows; free
 * ones have neigh -1), the addresses answered for.  A worker reads
 * fwd_ctx.view once per turn of its loop and holds it until its
 * quiescent state; a reload publishes a new one with one atomic store
 * and frees the old one after a grace period (reload.c).
 */
struct fwd_view {
	uint64_t gen;        /* shm->view_gen of the same services */
	struct svc_map svcs;
	uint32_t n_services;
	struct fwd_service svc[CFG_MAX_SERVICES];
	/* The VIP and port (network order; 0: all ports) of every
	 * request-routed service slot, live or retired (bound flows
	 * outlive a reload): a TCP segment to one of them is looked up in
	 * the bound-flow table, and only there, on the fast path
	 * (worker.c, l7_table).  l7_filter has the fwd_l7_bit() of each
	 * (every bit for an all-ports one), so that other packets mostly
	 * skip the list with one test. */
	uint64_t l7_filter;
	uint32_t n_l7;
	struct fwd_l7_vip {
		struct halb_ip vip;
		uint16_t port;
	} l7[CFG_MAX_SERVICES];
	uint32_t n_local;
	struct halb_ip local[CFG_MAX_PORTS * 2 + CFG_MAX_SERVICES];
};

/* A destination's bit in fwd_view.l7_filter: a hash of the address's
 * last 4 bytes and the port (network order). */
static inline uint64_t
fwd_l7_bit(const uint8_t ip[16], uint16_t port)
{
	uint32_t a;

	memcpy(&a, ip + 12, 4);
	return 1ull << (((a ^ port) * 0x9e3779b1u) >> 26);
}

struct fwd_ctx {
	struct halb_cfg *cfg; /* services slotted (halb/cfg_reload.h); a
			       * reload rewrites its services, neighbours
			       * and health under fwd_cfg_wrlock */
	struct halb_shm *shm;
	uint32_t n_ports;
	struct fwd_port ports[CFG_MAX_PORTS];
	struct fwd_view *view; /* atomic */
	struct neigh_table *neigh;
	uint64_t cls_timeout_tsc;
	/* A remote classifier stands in for the local one (punt_remote.c
	 * holds the attach lock and drains the punt rings): punt. */
	volatile bool remote_up;
	volatile bool quit;
	volatile bool reload;  /* SIGHUP: the main lcore reloads cfg->path */
};

/*
 * Set-up after EAL (setup.c).  fwd_port_start configures port cp's
 * device with nq queue pairs, queue q receiving into pools[q] (worker
 * q's, on its NUMA node), and starts it; fwd_services_setup
 * builds c's service view, neighbour cache and local addresses from
 * c->cfg once the ports are up.  Both return 0 or -errno, logged.
 */
int fwd_port_start(struct fwd_port *p, const struct cfg_port *cp,
		   struct rte_mempool *const pools[], uint16_t nq);
int fwd_services_setup(struct fwd_ctx *c);

/*
 * The exception path of port p (index idx), when it has ports[].kernel
 * (kernel.c): its tap started with nq queue pairs (queue q receiving
 * into pools[q]), the port's MAC, MTU and addresses.  Call after
 * fwd_port_start(p).  Returns 0 (also for a port without one) or
 * -errno, logged.
 */
int fwd_kernel_start(struct fwd_port *p, uint32_t idx,
		     struct rte_mempool *const pools[], uint16_t nq);

/*
 * The view of the services of a slotted configuration (view.c):
 * lookup tables, rewrite data, each backend's next hop claimed (pinned)
 * in c's neighbour cache.  Returns 0 with *out set, or -errno logged
 * and, when why is not NULL, said there (an unreachable backend, a full
 * neighbour cache, no memory).
 */
int fwd_view_build(struct fwd_ctx *c, const struct halb_cfg *cfg, uint64_t gen,
		   struct fwd_view **out, char *why, size_t why_len);
void fwd_view_free(struct fwd_view *v);

/* Claims static neighbour i of cfg (pinned, its MAC set): its slot, or
 * -errno logged and said in why (may be NULL). */
int fwd_static_neigh(struct fwd_ctx *c, const struct halb_cfg *cfg, uint32_t i,
		     char *why, size_t why_len);

/*
 * Reload (reload.c; docs/RELOAD.md): loads path, checks it against the
 * running configuration and applies it, or refuses it changing
 * nothing.  Writes what it did, or why it refused, to log.  Returns 0
 * (applied), -EPERM (refused: a change needs a restart, slots full),
 * -EINVAL (the file is bad), -EBUSY (another reload is running) or
 * -errno.  Any thread but a worker's; one reload at a time.
 */
struct cfg_reload_log;
int fwd_reload(struct fwd_ctx *c, const char *path, struct cfg_reload_log *log);

/* Readers of fwd_ctx.cfg's services outside the workers (telemetry)
 * hold this; fwd_reload() takes it for writing to update them. */
void fwd_cfg_rdlock(void);
void fwd_cfg_unlock(void);

/* The lcore entry point of worker `arg` (a uintptr_t worker index). */
int fwd_worker_main(void *arg);

/* Registers worker id with the QSBR variable, before its launch: 0 or
 * -errno (start-up fails on it: the worker would read flow entries
 * without grace periods). */
int fwd_worker_rcu(uint32_t id);

/*
 * The pieces of a worker's loop, for fwd_worker_main() and for harnesses
 * that drive the fast path without devices (bench/).  A worker context
 * belongs to one lcore; fwd (with its shm) must be set up first.
 */
struct fwd_worker;

/* Binds worker `id`'s context to its shared state and reads the clock. */
struct fwd_worker *fwd_worker_bind(uint32_t id);

/* Sets the worker's clock (TSC and the coarse ms flow clock) and reads
 * the request router's liveness at that time. */
void fwd_worker_clock(struct fwd_worker *w, uint64_t tsc);

/* Sends the frames the request router built (the l7_out ring, at most
 * FWD_BURST); returns how many it took. */
uint32_t fwd_worker_l7_out(struct fwd_worker *w);

/*
 * Handles n frames (at most FWD_BURST) received on port index p: each
 * is rewritten and buffered for transmission, punted, answered or
 * dropped (and freed).  Counts them as received.
 */
void fwd_worker_burst(struct fwd_worker *w, struct rte_mbuf **pkts, uint32_t n,
		      uint32_t p);

/* Transmits what the worker has buffered on every port. */
void fwd_worker_flush(struct fwd_worker *w);

/* Whether ip is one the forwarder answers ARP/ND for (ports, VIPs of
 * the current view). */
bool fwd_is_local(const struct fwd_ctx *c, const struct halb_ip *ip);

/*
 * Traffic for the appliance itself (local.c); workers call these on
 * frames they own and count in their own stats.
 */

/* Echo replies a worker sent in its current slot (rate limit). */
struct fwd_echo_limit {
	uint32_t slot;
	uint32_t n;
};

/* ARP or ND (PKT_KIND_ARP/ND) received on port index p: checked,
 * learnt from, and a request for one of our addresses answered in place
 * (room: the buffer's capacity).  Returns the answer's length, or 0 when
 * there is nothing to send (the caller frees the frame). */
uint32_t fwd_neigh_input(struct fwd_stats *st, uint8_t *frame, uint32_t len,
			 uint32_t room, const struct pkt_info *pi, uint32_t p,
			 uint32_t now_ms);

/* An echo request (pkt_icmp_is_echo): turned into its reply in place
 * when it is for a port address and within the rate limit; returns the
 * reply's length, or 0 with *why the drop reason (FWD_DROP_MAX: counted
 * already, just free it). */
uint32_t fwd_echo_input(struct fwd_stats *st, struct fwd_echo_limit *lim,
			uint8_t *frame, uint32_t len, const struct pkt_info *pi,
			uint32_t p, uint32_t now_ms, enum fwd_drop *why);

/* Whether an IP packet (any kind but ARP/ND) received on port p is
 * addressed to p's own address and p has a kernel interface: the
 * kernel's, unless the forwarder answers it itself (echo). */
bool fwd_for_kernel(const uint8_t *frame, const struct pkt_info *pi,
		    uint32_t p);

/* Whether an ARP or ND packet that fwd_neigh_input() did not answer is
 * a reply or an advertisement (and passed its checks), which the kernel
 * interface of the port gets a copy of, to resolve its own next hops. */
bool fwd_neigh_for_kernel(const uint8_t *frame, uint32_t len,
			  const struct pkt_info *pi);

/* Whether the packet's outer source is one no host may use, or ours
 * (RFC 1812 5.3.7). */
bool fwd_martian(const uint8_t *frame, const struct pkt_info *pi);

/* Whether an IPv4 packet carries a loose or strict source route. */
bool fwd_src_routed(const uint8_t *frame, const struct pkt_info *pi);

/* Telemetry commands (telemetry.c). */
int fwd_telemetry_init(struct fwd_ctx *c);

extern struct fwd_ctx fwd;

#endif
