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
 * It sets the forwarder's context up as halb-forwarder's main.c does
 * (services, static neighbours, backends, one worker's flow table) from
 * the same configuration file, except that the port is a net_null
 * device (what the worker transmits is freed) and the flows are inserted
 * directly with the classifier's writer functions.  Every burst is 32
 * frames of consecutive flows (all hits), rebuilt before each call
 * outside the measured function.  Without valgrind it also reports TSC
 * cycles per packet of the burst function alone (no I/O).
 *
 * Output: "RESULT {json}" with packets, bursts and cycles per packet.
 */
#include <errno.h>
#include <getopt.h>
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
#include "../forwarder/fwd.h"
#include "frames.h"

RTE_LOG_REGISTER_DEFAULT(fwd_logtype, NOTICE);

struct fwd_ctx fwd;

#define BURST 32u

static const uint8_t gen_mac[6] = { 0x02, 0x68, 0xb0, 0x00, 0x00, 0x01 };

/* The port's MAC as the configuration's memif vdev sets it ("mac=..."). */
static int
port_mac(const struct cfg_port *cp, uint8_t mac[6])
{
	const char *p = strstr(cp->vdev, "mac=");
	char buf[18];

	if (p == NULL)
		return -ENOENT;
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(p + 4, ","), p + 4);
	return bench_parse_mac(buf, mac);
}

/* As forwarder/main.c backend_setup(). */
static int
backend_setup(const struct cfg_service *cs, struct fwd_backend *be,
	      const struct cfg_backend *cb)
{
	struct halb_ip nh;
	int port = cfg_route(fwd.cfg, &cb->ip, &nh);

	if (port < 0)
		return -ENETUNREACH;
	be->ip = cb->ip;
	be->port = cb->port;
	be->out = (uint16_t)port;
	be->neigh = neigh_claim(fwd.neigh, &nh, (uint16_t)port, true, 0);
	if (be->neigh < 0)
		return -ENOSPC;
	if (cs->mode == CFG_MODE_TUNNEL) {
		const struct cfg_port *cp = &fwd.cfg->ports[port];

		memcpy(be->vx.src_mac, fwd.ports[port].mac, 6);
		be->vx.src = halb_ip_is_v4(&cb->ip) ? cp->ip4 : cp->ip6;
		be->vx.dst = cb->ip;
		be->vx.dst_port = cs->tunnel_port;
		be->vx.vni = cs->vni;
		memcpy(be->vx.inner_dst_mac, cb->tunnel_mac, 6);
	}
	return 0;
}

/* As forwarder/main.c services_setup(), for what a hit reads. */
static int
services_setup(void)
{
	const struct halb_cfg *cfg = fwd.cfg;
	uint32_t s, b, i;
	int rc, n;

	rc = svc_map_build(&fwd.svcs, cfg);
	if (rc != 0)
		return rc;
	fwd.neigh = rte_zmalloc("bench_neigh", sizeof(*fwd.neigh), 64);
	if (fwd.neigh == NULL)
		return -ENOMEM;
	for (i = 0; i < cfg->n_neigh; i++) {
		struct halb_ip nh;
		int port = cfg_route(cfg, &cfg->neigh[i].ip, &nh);

		n = neigh_claim(fwd.neigh, &cfg->neigh[i].ip,
				(uint16_t)(port < 0 ? 0 : port), true, 0);
		if (n >= 0)
			neigh_set_static(fwd.neigh, n, cfg->neigh[i].mac);
	}
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct fwd_service *sv = &fwd.svc[s];

		sv->mode = cs->mode;
		sv->vip = cs->vip;
		sv->vport = cs->port;
		sv->n_backends = cs->n_backends;
		sv->be = rte_zmalloc("bench_backends",
				     sizeof(*sv->be) * cs->n_backends, 64);
		if (sv->be == NULL)
			return -ENOMEM;
		for (b = 0; b < cs->n_backends; b++) {
			rc = backend_setup(cs, &sv->be[b], &cs->backends[b]);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

static int
port_setup(struct rte_mempool *pool)
{
	struct rte_eth_conf conf = { 0 };
	uint16_t id;
	int rc;

	if (rte_eth_dev_get_port_by_name("net_null0", &id) != 0)
		return -ENODEV;
	rc = rte_eth_dev_configure(id, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(id, 0, 256, rte_socket_id(), NULL, pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(id, 0, 256, rte_socket_id(), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(id);
	if (rc != 0)
		return rc;
	fwd.ports[0].port_id = id;
	fwd.ports[0].cfg = &fwd.cfg->ports[0];
	if (port_mac(&fwd.cfg->ports[0], fwd.ports[0].mac) != 0)
		return -EINVAL;
	fwd.n_ports = 1;
	return 0;
}

/* Installs flows 0..n-1 of tmpl's VIP as the classifier would. */
static int
install(const struct bench_tmpl *tmpl, uint32_t n, uint32_t *svc_out)
{
	struct flow_writer fw;
	uint8_t frame[BENCH_FRAME_LEN];
	struct pkt_info pi;
	uint32_t i;
	int s = -1, rc;

	rc = flow_writer_init(&fw, &fwd.shm->workers[0].flows, NULL);
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i++) {
		uint32_t hash;

		bench_frame(frame, tmpl, i);
		if (pkt_parse(frame, sizeof(frame), &pi) != PKT_OK)
			return -EINVAL;
		s = svc_by_vip(&fwd.svcs, pi.key.dst, pi.key.dport, pi.key.proto);
		if (s < 0)
			return -ENOENT;
		hash = pkt_flow_hash(&pi.key);
		rc = flow_insert(&fw, &pi.key, hash, (uint16_t)s,
				 (uint16_t)(hash % fwd.svc[s].n_backends), FLOW_ST_EST,
				 0, NULL);
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
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "vip", required_argument, NULL, 'v' },
		{ "flows", required_argument, NULL, 'n' },
		{ "bursts", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	uint32_t vip, flows = 1000, bursts = 2000, i, k, next = 0, svc = 0;
	struct rte_mbuf *pkts[BURST];
	struct bench_tmpl tmpl;
	struct rte_mempool *pool;
	struct fwd_worker *w;
	uint64_t cycles = 0, t0;
	void *mem;
	int n, opt;

	n = rte_eal_init(argc, argv);
	if (n < 0)
		return 1;
	argc -= n;
	argv += n;
	bench_parse_ip4("198.18.2.100", &vip);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'v':
			if (bench_parse_ip4(optarg, &vip) != 0)
				return 2;
			break;
		case 'n':
			flows = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			bursts = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [EAL] -- --config FILE [--vip A] [--flows N] [--bursts B]\n",
				argv[0]);
			return 2;
		}
	}
	if (path == NULL || flows == 0 || flows > BENCH_MAX_FLOWS) {
		fprintf(stderr, "fastpath: --config FILE is required\n");
		return 2;
	}
	fwd.cfg = cfg_load(path, stderr);
	if (fwd.cfg == NULL)
		return 1;
	if (fwd.cfg->flow_entries < flows)
		rte_exit(EXIT_FAILURE, "fastpath: flows.entries < %u\n", flows);
	pool = rte_pktmbuf_pool_create("bench_mbufs", 2047, 64, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	fwd.shm = rte_zmalloc("bench_shm", sizeof(*fwd.shm), 64);
	mem = rte_malloc("bench_flows", flow_table_mem_size(fwd.cfg->flow_entries), 64);
	if (pool == NULL || fwd.shm == NULL || mem == NULL)
		rte_exit(EXIT_FAILURE, "fastpath: out of memory\n");
	fwd.shm->tsc_hz = rte_get_tsc_hz();
	fwd.shm->tsc_base = rte_rdtsc();
	fwd.shm->n_workers = 1;
	fwd.shm->n_services = fwd.cfg->n_services;
	fwd.shm->pool = pool;
	flow_table_init(&fwd.shm->workers[0].flows, mem, fwd.cfg->flow_entries, 0);
	if (port_setup(pool) != 0 || services_setup() != 0)
		rte_exit(EXIT_FAILURE, "fastpath: setup failed\n");
	bench_tmpl_init(&tmpl, gen_mac, fwd.ports[0].mac, vip, 80, PKT_TCP_ACK);
	if (install(&tmpl, flows, &svc) != 0)
		rte_exit(EXIT_FAILURE, "fastpath: cannot install %u flows\n", flows);

	w = fwd_worker_bind(0);
	for (k = 0; k < bursts; k++) {
		if (rte_pktmbuf_alloc_bulk(pool, pkts, BURST) != 0)
			rte_exit(EXIT_FAILURE, "fastpath: mbufs leak\n");
		for (i = 0; i < BURST; i++) {
			bench_frame(rte_pktmbuf_mtod(pkts[i], uint8_t *), &tmpl, next);
			pkts[i]->data_len = BENCH_FRAME_LEN;
			pkts[i]->pkt_len = BENCH_FRAME_LEN;
			if (++next == flows)
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
		const char *mode = cfg_mode_name(fwd.cfg->services[svc].mode);

		printf("RESULT {\"mode\": \"%s\", \"flows\": %u, \"packets\": %" PRIu64
		       ", \"hits\": %" PRIu64 ", \"tx\": %" PRIu64
		       ", \"cyc_per_pkt\": %.1f}\n",
		       mode, flows, (uint64_t)bursts * BURST, st->hits, st->tx,
		       (double)cycles / ((double)bursts * BURST));
		if (st->hits != (uint64_t)bursts * BURST)
			fprintf(stderr, "fastpath: only %" PRIu64 " of %" PRIu64 " packets were hits\n",
				st->hits, (uint64_t)bursts * BURST);
	}
	rte_eth_dev_stop(fwd.ports[0].port_id);
	rte_eth_dev_close(fwd.ports[0].port_id);
	rte_eal_cleanup();
	cfg_free(fwd.cfg);
	return 0;
}
