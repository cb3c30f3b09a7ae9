/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-bind: what a binding of a request-routed connection
 * (issue 14, docs/REQUESTS.md) costs each part, the forwarder's worker
 * and halb-router, measured apart on one core with no devices.
 *
 * One thread plays the three: the client and the backend
 * (bench_bind_reply, as halb-bench-gen bind plays them on the memif
 * rig), the worker (the forwarder's own fwd_worker_burst,
 * fwd_worker_l7_out and flush on a net_ring device that loops what it
 * sends back, so the players read it) and the router (the router's own
 * rtr_turn on the same shared memory and rings, as its loop calls it).
 * Each round: the players answer what the worker sent and start new
 * connections up to --flows outstanding; one turn of the worker's loop
 * (at most a burst of frames from the players, a burst from l7_out);
 * one turn of the router's.  TSC cycles are added up per part, so the
 * result is each part's cycles per binding and its capacity, bindings
 * per CPU-second (the TSC rate over the cycles), robust to the machine
 * being shared (a turn that lost the CPU is a rare outlier; run it a few
 * times and take the median).  What the rig adds and this leaves out:
 * the two cores' cache lines (rings, mbufs) moving between them.
 *
 * The router's turn runs with no lcore id, as main.c's loop thread does
 * (its mempool operations take no per-lcore cache).  Under callgrind,
 * --toggle-collect=worker_turn or =router_turn counts one part.
 *
 * Setup: the forwarder's (halb_shm_create, fwd_services_setup) and the
 * router's (rtr_init) from one configuration with a request-routed
 * service on --vip, port 80, whose client next hop is a static
 * neighbour (bench/run.sh's item 12 writes it).  --flows: connections
 * outstanding; --bindings: how many to bind.
 *
 * Output: "RESULT {json}".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "halb/cfg.h"
#include "halb/pkt.h"
#include "halb/shm.h"
#include "fwd.h"
#include "rtr.h"
#include "args.h"
#include "frames.h"
#include "fwdport.h"

#define BURST 32u
#define WIRE (1u << 14)   /* frames to the worker, a power of two */
#define STALL_ROUNDS 100000u

static const uint8_t gen_mac[6] = { 0x02, 0x68, 0xb0, 0x00, 0x00, 0x01 };

/* The players' frames to the worker, in order. */
static struct rte_mbuf *wire[WIRE];
static uint32_t wire_head, wire_tail;

static struct rtr rtr;

/* One turn of the worker's loop (fwd_worker_main's, without the other
 * rings): a burst from the players, one from l7_out, the flush. */
static __attribute__((noinline)) uint32_t
worker_turn(struct fwd_worker *w)
{
	struct rte_mbuf *pkts[BURST];
	uint32_t n = 0;

	fwd_worker_clock(w, rte_rdtsc());
	while (n < BURST && wire_head != wire_tail)
		pkts[n++] = wire[wire_head++ & (WIRE - 1)];
	if (n > 0)
		fwd_worker_burst(w, pkts, n, 0);
	n += fwd_worker_l7_out(w);
	fwd_worker_flush(w);
	rte_rcu_qsbr_quiescent(fwd.shm->qsbr, 0);
	return n;
}

/* One turn of the router's loop, with no lcore id (main.c says why its
 * loop thread has none). */
static __attribute__((noinline)) uint32_t
router_turn(void)
{
	unsigned int lcore = RTE_PER_LCORE(_lcore_id);
	uint32_t n;

	RTE_PER_LCORE(_lcore_id) = LCORE_ID_ANY;
	n = rtr_turn(&rtr, rte_rdtsc());
	RTE_PER_LCORE(_lcore_id) = lcore;
	return n;
}

int
main(int argc, char **argv)
{
	struct bench_args args = { .flows = 512, .count = 200000 };
	uint64_t t_worker = 0, t_router = 0, t_all, t0, t1, hz;
	uint64_t started = 0, done = 0, other = 0, w_turns = 0, r_turns = 0;
	uint64_t w_frames = 0, r_frames = 0;
	uint32_t i, stall = 0;
	struct rte_mbuf *rx[BURST];
	struct bench_tmpl syn;
	struct rte_mempool *pool;
	struct fwd_worker *w;
	const char *what;
	int n;

	n = bench_start(argc, argv, "bindings", BENCH_MAX_FLOWS, &args);
	if (n != 0)
		return n;
	fwd.cfg = args.cfg;
	if (args.flows > WIRE / 4 || fwd.cfg->flow_entries < args.count)
		rte_exit(EXIT_FAILURE, "bind: --flows at most %u; flows.entries >= --bindings\n",
			 WIRE / 4);
	pool = rte_pktmbuf_pool_create("bench_mbufs", 16383, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (pool == NULL)
		rte_exit(EXIT_FAILURE, "bind: out of memory\n");
	fwd.shm = halb_shm_create(fwd.cfg, pool, &what);
	if (fwd.shm == NULL)
		rte_exit(EXIT_FAILURE, "bind: cannot create the %s: %s\n", what,
			 strerror(errno));
	if (!fwd.shm->has_l7)
		rte_exit(EXIT_FAILURE, "bind: no service has requests { }\n");
	if (bench_fwd_port(pool, "net_ring0", 1024) != 0 || fwd_services_setup(&fwd) != 0)
		rte_exit(EXIT_FAILURE, "bind: setup failed\n");
	fwd.cls_timeout_tsc = fwd.shm->tsc_hz / 1000 * fwd.cfg->classifier_timeout_ms;
	if (fwd_worker_rcu(0) != 0)
		rte_exit(EXIT_FAILURE, "bind: QSBR\n");
	rte_rcu_qsbr_thread_online(fwd.shm->qsbr, 0);
	rtr.cfg = fwd.cfg;
	rtr.shm = fwd.shm;
	if (rtr_init(&rtr) != 0)
		rte_exit(EXIT_FAILURE, "bind: the router's set-up failed\n");
	fwd.shm->l7_pid = getpid();
	fwd.shm->l7_alive = rte_rdtsc();
	bench_tmpl_init(&syn, gen_mac, fwd.ports[0].mac, args.vip, 80, PKT_TCP_SYN);
	w = fwd_worker_bind(0);
	hz = rte_get_tsc_hz();

	t0 = rte_rdtsc();
	while (done < args.count && stall < STALL_ROUNDS) {
		uint32_t moved = 0, k;
		uint64_t a, b;

		/* The players: answers to what the worker sent, then new
		 * connections up to the window. */
		while ((k = rte_eth_rx_burst(fwd.ports[0].port_id, 0, rx, BURST)) > 0) {
			moved += k;
			for (i = 0; i < k; i++) {
				struct rte_mbuf *m = rx[i];
				uint32_t len = 0;

				switch (bench_bind_reply(rte_pktmbuf_mtod(m, uint8_t *),
							 m->data_len, args.vip, &len)) {
				case BENCH_BIND_SEND:
					m->data_len = (uint16_t)len;
					m->pkt_len = len;
					wire[wire_tail++ & (WIRE - 1)] = m;
					continue;
				case BENCH_BIND_DONE:
					done++;
					break;
				default:
					other++;
					break;
				}
				rte_pktmbuf_free(m);
			}
		}
		while (started - done < args.flows && started < args.count &&
		       wire_tail - wire_head < WIRE) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

			if (m == NULL)
				break;
			bench_frame(rte_pktmbuf_mtod(m, uint8_t *), &syn, (uint32_t)started);
			m->data_len = BENCH_FRAME_LEN;
			m->pkt_len = BENCH_FRAME_LEN;
			wire[wire_tail++ & (WIRE - 1)] = m;
			started++;
			moved++;
		}
		a = rte_rdtsc();
		k = worker_turn(w);
		b = rte_rdtsc();
		t_worker += b - a;
		w_turns++;
		w_frames += k;
		moved += k;
		k = router_turn();
		t_router += rte_rdtsc() - b;
		r_turns++;
		r_frames += k;
		moved += k;
		stall = moved > 0 ? 0 : stall + 1;
	}
	t1 = rte_rdtsc();
	t_all = t1 - t0;
	{
		const struct fwd_stats *st = &fwd.shm->workers[0].stats;
		const struct l7_stats *l7 = &fwd.shm->l7;
		double wc = done ? (double)t_worker / (double)done : 0;
		double rc = done ? (double)t_router / (double)done : 0;

		printf("RESULT {\"bindings\": %" PRIu64 ", \"window\": %u, \"tsc_hz\": %" PRIu64
		       ", \"worker_cyc\": %.0f, \"router_cyc\": %.0f"
		       ", \"worker_per_cpu_s\": %.0f, \"router_per_cpu_s\": %.0f"
		       ", \"both_per_cpu_s\": %.0f, \"all_per_s\": %.0f"
		       ", \"worker_turns\": %" PRIu64 ", \"worker_frames\": %" PRIu64
		       ", \"router_turns\": %" PRIu64 ", \"router_frames\": %" PRIu64
		       ", \"other\": %" PRIu64 ", \"bound\": %" PRIu64
		       ", \"out_full\": %" PRIu64 ", \"ring_full\": %" PRIu64
		       ", \"stalled\": %s}\n",
		       done, args.flows, hz, wc, rc, wc > 0 ? (double)hz / wc : 0,
		       rc > 0 ? (double)hz / rc : 0,
		       wc + rc > 0 ? (double)hz / (wc + rc) : 0,
		       t_all ? (double)done * (double)hz / (double)t_all : 0,
		       w_turns, w_frames, r_turns, r_frames, other,
		       l7->bound, l7->out_full, st->l7_ring_full, stall >= STALL_ROUNDS ? "true" : "false");
		if (done < args.count)
			fprintf(stderr, "bind: only %" PRIu64 " of %u connections bound (started %" PRIu64 ")\n",
				done, args.count, started);
	}
	rtr_fini(&rtr);
	rte_eth_dev_stop(fwd.ports[0].port_id);
	rte_eth_dev_close(fwd.ports[0].port_id);
	rte_eal_cleanup();
	cfg_free(fwd.cfg);
	return done < args.count ? 1 : 0;
}
