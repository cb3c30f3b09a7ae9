/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-forwarder: the DPDK primary process.  Loads the configuration,
 * starts EAL on the devices it names (cfg_eal_argv), creates the shared memory the
 * classifier attaches to (src/dp/shm.c), starts the ports and the
 * service view (setup.c), launches one worker per lcore and then serves
 * telemetry and the heartbeat from the main lcore until SIGINT/SIGTERM;
 * SIGHUP reloads its file there (reload.c, docs/RELOAD.md).
 */
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "halb/cfg.h"
#include "halb/cfg_reload.h"
#include "halb/hb.h"
#include "halb/notify.h"
#include "halb/quit.h"
#include "halb/shm.h"
#include "fwd.h"
#include "punt_remote.h"

#define POOL_CACHE 256

/* EAL arguments come from the configuration only (cfg_eal_argv): the
 * PCI devices the ports name and nothing else, or --no-pci; the
 * virtual devices; this appliance's own file prefix. */
static int
eal_start(const char *prog, const struct halb_cfg *cfg)
{
	static struct cfg_eal_argv a;

	if (cfg_eal_argv(cfg, CFG_EAL_PRIMARY, prog, NULL, &a) != 0) {
		rte_errno = ENOSPC;
		return -1;
	}
	return rte_eal_init(a.argc, a.argv);
}

/* How often the main lcore beats, and how long a worker may go without
 * turning its loop (plus twice its idle sleep) before the forwarder
 * stops beating: a stuck worker blackholes its queues, so the whole
 * forwarder counts as hung. */
#define FWD_HB_MS 10
#define FWD_STALL_MS 50

struct fwd_lanes {
	uint64_t stall_ns;
	uint64_t loops[CFG_MAX_WORKERS];
	uint64_t moved_ns[CFG_MAX_WORKERS];
};

static void
main_beat(struct halb_hb *hb, struct fwd_lanes *l)
{
	uint64_t now = halb_hb_now_ns();
	char note[HALB_HB_NOTE_LEN];
	uint32_t w, stalled = 0;

	note[0] = '\0';
	for (w = 0; w < fwd.shm->n_workers; w++) {
		uint64_t n = __atomic_load_n(&fwd.shm->workers[w].loops,
					     __ATOMIC_RELAXED);

		if (n != l->loops[w] || l->moved_ns[w] == 0) {
			l->loops[w] = n;
			l->moved_ns[w] = now;
		} else if (now - l->moved_ns[w] > l->stall_ns) {
			if (stalled++ == 0)
				snprintf(note, sizeof(note),
					 "worker %u stalled for %" PRIu64 " ms", w,
					 (now - l->moved_ns[w]) / 1000000);
		}
	}
	if (strcmp(note, hb->note) != 0) {
		if (note[0] != '\0')
			FWD_LOG(ERR, "%s: heartbeat withheld", note);
		halb_hb_note(hb, note);
	}
	if (stalled == 0)
		halb_hb_beat(hb, now);
}

/* An lcore's NUMA node (0 where the machine has none). */
static unsigned int
lcore_node(unsigned int lcore)
{
	unsigned int node = rte_lcore_to_socket_id(lcore);

	return node < RTE_MAX_NUMA_NODES ? node : 0;
}

/*
 * The packet buffers: one pool per NUMA node that runs workers, on that
 * node, so that a worker receives into memory near its CPU (RX queue q
 * takes worker q's pool; fwd_port_start).  The pool of the main lcore's
 * node is "halb_mbufs", shm->pool, which the workers allocate their
 * own frames from (ARP/ND, ICMP) and the classifier knows; it is made
 * even if no worker runs there.  Each pool holds what its workers' RX
 * and TX rings (the kernel interfaces' too), transmit buffers and
 * punt/return rings may hold at once, plus the caches, and its buffers fit the largest frame of any
 * port (ports[].mtu: jumbo frames in one segment, which the parser
 * needs) with headroom for the tunnel header.  Exits on failure
 * (start-up only).
 */
static struct rte_mempool *
pools_create(const struct halb_cfg *cfg, struct rte_mempool *by_worker[])
{
	struct rte_mempool *by_node[RTE_MAX_NUMA_NODES] = { NULL };
	uint32_t on_node[RTE_MAX_NUMA_NODES] = { 0 };
	unsigned int node, main_node = lcore_node(rte_lcore_id()), lcore, w;
	uint32_t frame = 0, p, n_mbufs, buf, n_kernel = 0;
	char name[RTE_MEMPOOL_NAMESIZE];

	for (p = 0; p < cfg->n_ports; p++)
		if (cfg->ports[p].mtu > frame)
			frame = cfg->ports[p].mtu;
	for (p = 0; p < cfg->n_ports; p++)
		n_kernel += cfg->ports[p].kernel[0] != '\0';
	/* Ethernet header, one 802.1Q tag, FCS: RTE_ETHER_MAX_LEN for 1500. */
	frame += RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN;
	buf = RTE_MAX((uint32_t)RTE_MBUF_DEFAULT_BUF_SIZE,
		      (uint32_t)RTE_PKTMBUF_HEADROOM + frame);
	w = 0;
	RTE_LCORE_FOREACH_WORKER(lcore)
		on_node[lcore_node(lcore)]++;
	for (node = 0; node < RTE_MAX_NUMA_NODES; node++) {
		uint32_t nw = on_node[node];

		if (nw == 0 && node != main_node)
			continue;
		n_mbufs = cfg->n_ports * nw * (FWD_RX_DESC + FWD_TX_DESC + 2 * FWD_TX_MAX) +
			  nw * 2 * HALB_RING_SIZE + (nw + 2) * POOL_CACHE * 2 + 4096 +
			  n_kernel * nw * (2 * FWD_KERNEL_DESC + FWD_KTX_MAX);
		if (node == main_node)
			snprintf(name, sizeof(name), "halb_mbufs");
		else
			snprintf(name, sizeof(name), "halb_mbufs%u", node);
		by_node[node] = rte_pktmbuf_pool_create(name, n_mbufs, POOL_CACHE,
							0, (uint16_t)buf, (int)node);
		if (by_node[node] == NULL && rte_errno == ENOMEM) {
			/* No hugepages left on that node (docs/DEPLOY.md
			 * reserves them per node): anywhere, slower. */
			FWD_LOG(WARNING, "pool %s: no memory on NUMA node %u: taking it from any node",
				name, node);
			by_node[node] = rte_pktmbuf_pool_create(name, n_mbufs,
								POOL_CACHE, 0, (uint16_t)buf,
								SOCKET_ID_ANY);
		}
		if (by_node[node] == NULL)
			rte_exit(EXIT_FAILURE, "cannot create a pool of %u mbufs of %u bytes on NUMA node %u: %s\n",
				 n_mbufs, buf, node, rte_strerror(rte_errno));
		FWD_LOG(INFO, "pool %s: %u mbufs of %u bytes on NUMA node %u, for %u worker(s)",
			name, n_mbufs, buf, node, nw);
	}
	RTE_LCORE_FOREACH_WORKER(lcore)
		by_worker[w++] = by_node[lcore_node(lcore)];
	return by_node[main_node];
}

static void
remove_hugepage_files(const char *prefix)
{
	char pattern[128];
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), "/dev/hugepages/%smap_*", prefix);
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++)
		unlink(g.gl_pathv[i]);
	globfree(&g);
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *what;
	struct fwd_lanes lanes = { 0 };
	struct halb_hb *hb;
	struct rte_mempool *pool, *worker_pool[CFG_MAX_WORKERS];
	uint32_t p, w;
	unsigned int lcore;
	int opt, rc = 1;

	opt = cfg_cli_load(argc, argv, "run the forwarder", &fwd.cfg);
	if (opt >= 0)
		return opt;
	path = fwd.cfg->path;
	if (eal_start(argv[0], fwd.cfg) < 0) {
		fprintf(stderr, "%s: EAL initialisation failed: %s\n", path,
			rte_strerror(rte_errno));
		return 1;
	}
	/* log.dpdk_level: syslog's levels are rte_log's less one. */
	rte_log_set_global_level(fwd.cfg->log.dpdk_level + 1u);
	hb = halb_hb_open(fwd.cfg->file_prefix, "forwarder", FWD_HB_MS);
	if (hb == NULL)
		rte_exit(EXIT_FAILURE, "cannot create the heartbeat file under %s/%s: %s\n",
			 HALB_RUN_DIR, fwd.cfg->file_prefix, strerror(errno));
	if (rte_lcore_count() != fwd.cfg->n_workers + 1)
		rte_exit(EXIT_FAILURE, "eal.lcores gives %u lcores, expected %u\n",
			 rte_lcore_count(), fwd.cfg->n_workers + 1);
	if (halb_quit_on_term(&fwd.quit) != 0 || halb_reload_on_hup(&fwd.reload) != 0)
		rte_exit(EXIT_FAILURE, "cannot catch SIGINT, SIGTERM and SIGHUP\n");

	pool = pools_create(fwd.cfg, worker_pool);
	fwd.shm = halb_shm_create(fwd.cfg, pool, &what);
	if (fwd.shm == NULL)
		rte_exit(EXIT_FAILURE, "cannot create the shared memory's %s: %s\n",
			 what, strerror(errno));
	fwd.cls_timeout_tsc = fwd.shm->tsc_hz / 1000 * fwd.cfg->classifier_timeout_ms;
	for (p = 0; p < fwd.cfg->n_ports; p++) {
		if (fwd_port_start(&fwd.ports[p], &fwd.cfg->ports[p], worker_pool,
				   (uint16_t)fwd.cfg->n_workers) != 0)
			rte_exit(EXIT_FAILURE, "port %s failed\n", fwd.cfg->ports[p].name);
		fwd.n_ports++;
		if (fwd_kernel_start(&fwd.ports[p], p, worker_pool,
				     (uint16_t)fwd.cfg->n_workers) != 0)
			rte_exit(EXIT_FAILURE, "port %s: kernel interface %s failed\n",
				 fwd.cfg->ports[p].name, fwd.cfg->ports[p].kernel);
	}
	if (fwd_services_setup(&fwd) != 0)
		rte_exit(EXIT_FAILURE, "cannot set up services\n");
	if (fwd_telemetry_init(&fwd) != 0)
		FWD_LOG(WARNING, "telemetry commands not registered");
	if (fwd_punt_remote_telemetry() != 0)
		FWD_LOG(WARNING, "telemetry command /halb/classifiers not registered");

	for (w = 0; w < fwd.cfg->n_workers; w++) {
		rc = fwd_worker_rcu(w);
		if (rc != 0)
			rte_exit(EXIT_FAILURE, "worker %u: cannot register with QSBR: %s\n",
				 w, rte_strerror(-rc));
	}
	w = 0;
	RTE_LCORE_FOREACH_WORKER(lcore)
		rte_eal_remote_launch(fwd_worker_main, (void *)(uintptr_t)w++, lcore);
	FWD_LOG(INFO, "%s: %u worker(s), %u service(s), %u flows per worker",
		path, fwd.cfg->n_workers, fwd.cfg->n_services, fwd.cfg->flow_entries);
	rc = fwd_punt_remote_start(&fwd);
	if (rc != 0)
		rte_exit(EXIT_FAILURE, "cannot start the remote classifiers' thread: %s\n",
			 strerror(-rc));
	lanes.stall_ns = (uint64_t)(FWD_STALL_MS + 2 * fwd.cfg->idle_sleep_us / 1000) *
			 1000000;
	printf("halb-forwarder: ready\n");
	fflush(stdout);
	halb_notify_ready();

	halb_hb_set_state(hb, HALB_HB_READY);
	while (!fwd.quit) {
		fwd.shm->fwd_alive = rte_rdtsc();
		main_beat(hb, &lanes);
		if (fwd.reload) {
			struct cfg_reload_log *log = calloc(1, sizeof(*log));

			fwd.reload = false;
			if (log != NULL)
				fwd_reload(&fwd, path, log); /* logs what it did */
			free(log);
		}
		usleep(FWD_HB_MS * 1000);
	}
	FWD_LOG(INFO, "stopping");
	halb_hb_set_state(hb, HALB_HB_STOPPING);
	rte_eal_mp_wait_lcore();
	fwd_punt_remote_stop();
	for (p = 0; p < fwd.n_ports; p++) {
		rte_eth_dev_stop(fwd.ports[p].port_id);
		rte_eth_dev_close(fwd.ports[p].port_id);
		if (fwd.ports[p].has_kernel) {
			rte_eth_dev_stop(fwd.ports[p].kernel_id);
			rte_eth_dev_close(fwd.ports[p].kernel_id);
		}
	}
	rc = 0;
	rte_eal_cleanup();
	remove_hugepage_files(fwd.cfg->file_prefix);
	halb_hb_close(hb);
	cfg_free(fwd.cfg);
	return rc;
}
