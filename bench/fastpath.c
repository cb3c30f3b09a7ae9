/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-fastpath: the forwarder worker's burst function
 * (fwd_worker_burst, forwarder/worker.c) on prebuilt frames of installed
 * flows, without real devices, so that valgrind's callgrind can count its
 * instructions per packet deterministically:
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *            --toggle-collect=fwd_worker_burst halb-bench-fastpath ...
 *
 * It sets the forwarder's context up with the forwarder's own set-up
 * (src/dp/shm.c, forwarder/setup.c: shared memory, services, static
 * neighbours, backends) from the same configuration file, except that
 * the port is a net_null device (what the worker transmits is freed) and
 * the flows are inserted directly with the classifier's writer functions
 * (for a request-routed service, into the bound-flow table with a
 * sequence delta, as halb-router installs them: its packets are then
 * translated; docs/REQUESTS.md).  Every burst is 32
 * frames of consecutive flows (all hits), rebuilt before each call
 * outside the measured function.  Without valgrind it also reports TSC
 * cycles per packet of the burst function alone (no I/O).
 *
 * Output: "RESULT {json}" with packets, bursts and cycles per packet.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "halb/cfg.h"
#include "halb/flow.h"
#include "halb/pkt.h"
#include "halb/shm.h"
#include "fwd.h"
#include "args.h"
#include "frames.h"
#include "fwdport.h"

#define BURST 32u

static const uint8_t gen_mac[6] = { 0x02, 0x68, 0xb0, 0x00, 0x00, 0x01 };

/* Installs flows 0..n-1 of tmpl's VIP as the classifier would. */
static int
install(const struct bench_tmpl *tmpl, uint32_t n, uint32_t *svc_out)
{
	struct flow_writer fw;
	uint8_t frame[BENCH_FRAME_LEN];
	struct pkt_info pi;
	uint32_t i;
	int s = -1, rc;

	bench_frame(frame, tmpl, 0);
	if (pkt_parse(frame, sizeof(frame), &pi) != PKT_OK)
		return -EINVAL;
	s = svc_by_vip(&fwd.view->svcs, pi.key.dst, pi.key.dport, pi.key.proto);
	if (s < 0)
		return -ENOENT;
	rc = flow_writer_init(&fw, fwd.view->svc[s].l7 ? &fwd.shm->l7_flows :
				   &fwd.shm->workers[0].flows, NULL);
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i++) {
		uint32_t hash;

		bench_frame(frame, tmpl, i);
		if (pkt_parse(frame, sizeof(frame), &pi) != PKT_OK)
			return -EINVAL;
		s = svc_by_vip(&fwd.view->svcs, pi.key.dst, pi.key.dport, pi.key.proto);
		if (s < 0)
			return -ENOENT;
		hash = pkt_flow_hash(&pi.key);
		rc = flow_insert_tag(&fw, &pi.key, hash, (uint16_t)s,
				     (uint16_t)(hash % fwd.view->svc[s].n_backends),
				     FLOW_ST_EST, 0,
				     fwd.view->svc[s].l7 ? 0x9e3779b9u * (i + 1) : 0, NULL);
		if (rc < 0)
			return rc;
	}
	flow_writer_fini(&fw);
	*svc_out = (uint32_t)s;
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench_args args = { .flows = 1000, .count = 2000 };
	uint32_t i, k, next = 0, svc = 0;
	struct rte_mbuf *pkts[BURST];
	struct bench_tmpl tmpl;
	struct rte_mempool *pool;
	struct fwd_worker *w;
	uint64_t cycles = 0, t0;
	const char *what;
	int n;

	n = bench_start(argc, argv, "bursts", UINT32_MAX / BURST, &args);
	if (n != 0)
		return n;
	fwd.cfg = args.cfg;
	if (fwd.cfg->flow_entries < args.flows)
		rte_exit(EXIT_FAILURE, "fastpath: flows.entries < %u\n", args.flows);
	pool = rte_pktmbuf_pool_create("bench_mbufs", 2047, 64, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (pool == NULL)
		rte_exit(EXIT_FAILURE, "fastpath: out of memory\n");
	fwd.shm = halb_shm_create(fwd.cfg, pool, &what);
	if (fwd.shm == NULL)
		rte_exit(EXIT_FAILURE, "fastpath: cannot create the %s: %s\n",
			 what, strerror(errno));
	if (bench_fwd_port(pool, "net_null0", 256) != 0 || fwd_services_setup(&fwd) != 0)
		rte_exit(EXIT_FAILURE, "fastpath: setup failed\n");
	bench_tmpl_init(&tmpl, gen_mac, fwd.ports[0].mac, args.vip, 80, PKT_TCP_ACK);
	if (install(&tmpl, args.flows, &svc) != 0)
		rte_exit(EXIT_FAILURE, "fastpath: cannot install %u flows\n", args.flows);

	w = fwd_worker_bind(0);
	for (k = 0; k < args.count; k++) {
		if (rte_pktmbuf_alloc_bulk(pool, pkts, BURST) != 0)
			rte_exit(EXIT_FAILURE, "fastpath: mbufs leak\n");
		for (i = 0; i < BURST; i++) {
			bench_frame(rte_pktmbuf_mtod(pkts[i], uint8_t *), &tmpl, next);
			pkts[i]->data_len = BENCH_FRAME_LEN;
			pkts[i]->pkt_len = BENCH_FRAME_LEN;
			if (++next == args.flows)
				next = 0;
		}
		fwd_worker_clock(w, rte_rdtsc());
		t0 = rte_rdtsc();
		fwd_worker_burst(w, pkts, BURST, 0);
		cycles += rte_rdtsc() - t0;
		fwd_worker_flush(w);
	}
	{
		const struct fwd_stats *st = &fwd.shm->workers[0].stats;
		const char *mode = fwd.cfg->services[svc].l7.has ? "nat+requests" :
				   cfg_mode_name(fwd.cfg->services[svc].mode);
		uint64_t hits = st->hits + st->l7_hits;

		printf("RESULT {\"mode\": \"%s\", \"flows\": %u, \"packets\": %" PRIu64
		       ", \"hits\": %" PRIu64 ", \"tx\": %" PRIu64
		       ", \"cyc_per_pkt\": %.1f}\n",
		       mode, args.flows, (uint64_t)args.count * BURST, hits, st->tx,
		       (double)cycles / ((double)args.count * BURST));
		if (hits != (uint64_t)args.count * BURST)
			fprintf(stderr, "fastpath: only %" PRIu64 " of %" PRIu64 " packets were hits\n",
				hits, (uint64_t)args.count * BURST);
	}
	rte_eth_dev_stop(fwd.ports[0].port_id);
	rte_eth_dev_close(fwd.ports[0].port_id);
	rte_eal_cleanup();
	cfg_free(fwd.cfg);
	return 0;
}
