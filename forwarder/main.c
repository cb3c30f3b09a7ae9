/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-forwarder: the DPDK primary process.  Loads the configuration,
 * starts EAL on virtual devices only, creates the shared memory the
 * classifier attaches to (src/dp/shm.c), starts the ports and the
 * service view (setup.c), launches one worker per lcore and then serves
 * telemetry and the heartbeat from the main lcore until SIGINT/SIGTERM.
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
#include "halb/hb.h"
#include "halb/notify.h"
#include "halb/quit.h"
#include "halb/shm.h"
#include "fwd.h"

#define POOL_CACHE 256

/* EAL arguments come from the configuration only: virtual devices,
 * never PCI, this appliance's own file prefix. */
static int
eal_start(const char *prog, const struct halb_cfg *cfg)
{
	char *argv[16 + CFG_MAX_PORTS + CFG_MAX_EAL_ARGS];
	char vdev[CFG_MAX_PORTS][CFG_ARG_LEN + 8];
	char prefix[80];
	int argc = 0;
	uint32_t i;

	argv[argc++] = (char *)(uintptr_t)prog;
	argv[argc++] = (char *)(uintptr_t)"-l";
	argv[argc++] = (char *)(uintptr_t)cfg->lcores;
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s", cfg->file_prefix);
	argv[argc++] = prefix;
	argv[argc++] = (char *)(uintptr_t)"--no-pci";
	argv[argc++] = (char *)(uintptr_t)"--proc-type=primary";
	/* Keep hugepage files while running so the classifier can map
	 * them; remove leftovers of a previous run first. */
	argv[argc++] = (char *)(uintptr_t)"--huge-unlink=existing";
	for (i = 0; i < cfg->n_ports; i++) {
		snprintf(vdev[i], sizeof(vdev[i]), "--vdev=%s", cfg->ports[i].vdev);
		argv[argc++] = vdev[i];
	}
	for (i = 0; i < cfg->n_eal_extra; i++)
		argv[argc++] = (char *)(uintptr_t)cfg->eal_extra[i];
	argv[argc] = NULL;
	return rte_eal_init(argc, argv);
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
	struct rte_mempool *pool;
	uint32_t n_mbufs, p, w;
	unsigned int lcore;
	int opt, rc = 1;

	opt = cfg_cli(argc, argv, "run the forwarder", &path);
	if (opt >= 0)
		return opt;
	fwd.cfg = cfg_load(path, stderr);
	if (fwd.cfg == NULL)
		return 1;
	if (eal_start(argv[0], fwd.cfg) < 0) {
		fprintf(stderr, "%s: EAL initialisation failed: %s\n", path,
			rte_strerror(rte_errno));
		return 1;
	}
	hb = halb_hb_open(fwd.cfg->file_prefix, "forwarder", FWD_HB_MS);
	if (hb == NULL)
		rte_exit(EXIT_FAILURE, "cannot create the heartbeat file under %s/%s: %s\n",
			 HALB_RUN_DIR, fwd.cfg->file_prefix, strerror(errno));
	if (rte_lcore_count() != fwd.cfg->n_workers + 1)
		rte_exit(EXIT_FAILURE, "eal.lcores gives %u lcores, expected %u\n",
			 rte_lcore_count(), fwd.cfg->n_workers + 1);
	if (halb_quit_on_term(&fwd.quit) != 0)
		rte_exit(EXIT_FAILURE, "cannot catch SIGINT and SIGTERM\n");

	n_mbufs = fwd.cfg->n_ports * fwd.cfg->n_workers * (FWD_RX_DESC + FWD_TX_DESC + 2 * FWD_TX_MAX) +
		  fwd.cfg->n_workers * 2 * HALB_RING_SIZE +
		  (fwd.cfg->n_workers + 2) * POOL_CACHE * 2 + 4096;
	pool = rte_pktmbuf_pool_create("halb_mbufs", n_mbufs, POOL_CACHE, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (pool == NULL)
		rte_exit(EXIT_FAILURE, "cannot create a pool of %u mbufs: %s\n",
			 n_mbufs, rte_strerror(rte_errno));
	fwd.shm = halb_shm_create(fwd.cfg, pool, &what);
	if (fwd.shm == NULL)
		rte_exit(EXIT_FAILURE, "cannot create the shared memory's %s: %s\n",
			 what, strerror(errno));
	fwd.cls_timeout_tsc = fwd.shm->tsc_hz / 1000 * fwd.cfg->classifier_timeout_ms;
	for (p = 0; p < fwd.cfg->n_ports; p++) {
		if (fwd_port_start(&fwd.ports[p], &fwd.cfg->ports[p], pool,
			       (uint16_t)fwd.cfg->n_workers) != 0)
			rte_exit(EXIT_FAILURE, "port %s failed\n", fwd.cfg->ports[p].name);
		fwd.n_ports++;
	}
	if (fwd_services_setup(&fwd) != 0)
		rte_exit(EXIT_FAILURE, "cannot set up services\n");
	if (fwd_telemetry_init(&fwd) != 0)
		FWD_LOG(WARNING, "telemetry commands not registered");

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
	lanes.stall_ns = (uint64_t)(FWD_STALL_MS + 2 * fwd.cfg->idle_sleep_us / 1000) *
			 1000000;
	printf("halb-forwarder: ready\n");
	fflush(stdout);
	halb_notify_ready();

	halb_hb_set_state(hb, HALB_HB_READY);
	while (!fwd.quit) {
		fwd.shm->fwd_alive = rte_rdtsc();
		main_beat(hb, &lanes);
		usleep(FWD_HB_MS * 1000);
	}
	FWD_LOG(INFO, "stopping");
	halb_hb_set_state(hb, HALB_HB_STOPPING);
	rte_eal_mp_wait_lcore();
	for (p = 0; p < fwd.n_ports; p++) {
		rte_eth_dev_stop(fwd.ports[p].port_id);
		rte_eth_dev_close(fwd.ports[p].port_id);
	}
	rc = 0;
	rte_eal_cleanup();
	remove_hugepage_files(fwd.cfg->file_prefix);
	halb_hb_close(hb);
	cfg_free(fwd.cfg);
	return rc;
}
