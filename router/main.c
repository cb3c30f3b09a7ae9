/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-router: the request router (docs/REQUESTS.md), a DPDK secondary
 * process attached to the forwarder's shared memory, as the classifier
 * is.  It takes the segments of request-routed connections that the
 * workers punt on their l7_in rings, binds each connection to a backend
 * (bind.c) and installs the flow in shm->l7_flows, of which it is the
 * only writer.
 *
 * Its loop runs on a thread the EAL does not know (no lcore id), so
 * that the mbufs it allocates and frees bypass the per-lcore mempool
 * caches: its EAL line is the classifier's (same lcore id), and two
 * processes on one lcore id's cache would corrupt it.  It has a cache
 * of its own instead (struct rtr's mc, bind.c).
 *
 * One router per forwarder (a lock in the forwarder's runtime
 * directory).  It writes a heartbeat file (part "router") that halb-had
 * reads, and l7_alive/l7_pid in shared memory, which the workers read:
 * while it is stale they answer no SYN of a request-routed service
 * (the client retries it), and the connections bound before go on in
 * the fast path.  It exits when the forwarder goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_rcu_qsbr.h>

#include "halb/cfg.h"
#include "halb/hb.h"
#include "halb/idle.h"
#include "halb/notify.h"
#include "halb/quit.h"
#include "halb/shm.h"
#include "rtr.h"

#define RTR_LOCK_FILE "halb_router.lock"
#define RTR_HB_MS 10
#define FWD_GONE_MS 2000


static struct rtr rtr;
static struct halb_hb *hb;
static int exit_rc;

static int
eal_start(const char *prog, const struct halb_cfg *cfg)
{
	static struct cfg_eal_argv a;
	char cpus[96] = "";
	cpu_set_t set;
	size_t off = 0;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (cpu = 0; cpu < CPU_SETSIZE && off + 8 < sizeof(cpus); cpu++)
			if (CPU_ISSET(cpu, &set))
				off += (size_t)snprintf(cpus + off, sizeof(cpus) - off,
							"%s%d", off ? "," : "", cpu);
	if (cfg_eal_argv(cfg, CFG_EAL_SECONDARY, prog, cpus, &a) != 0) {
		rte_errno = ENOSPC;
		return -1;
	}
	return rte_eal_init(a.argc, a.argv);
}

static int
lock_one(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", rte_eal_get_runtime_dir(),
		 RTR_LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int rc = -errno;

		close(fd);
		return rc == -EWOULDBLOCK ? -EBUSY : rc;
	}
	return fd;
}

static void *
loop(void *arg)
{
	struct rtr *r = arg;
	struct halb_shm *shm = r->shm;
	uint64_t beat_tsc = 0, beat_every = shm->tsc_hz / 1000;
	uint32_t idle = 0, busy;

	halb_idle_init();
	rtr_drain(r);
	halb_hb_set_state(hb, HALB_HB_READY);
	while (!r->quit) {
		uint64_t now = rte_rdtsc();

		if (now - beat_tsc >= beat_every) {
			beat_tsc = now;
			halb_hb_beat(hb, halb_hb_now_ns());
		}
		if (halb_tsc_age(now, shm->fwd_alive) > shm->tsc_hz / 1000 * FWD_GONE_MS &&
		    kill(shm->fwd_pid, 0) != 0 && errno == ESRCH) {
			RTR_LOG(ERR, "forwarder (pid %d) is gone: exiting",
				shm->fwd_pid);
			exit_rc = 3;
			break;
		}
		busy = rtr_turn(r, now);
		/* Busy polling (idle_sleep_us 0): after a while without work,
		 * each empty turn yields the CPU to whatever else may run on
		 * it (the router runs on the classifier's CPUs; on the bench
		 * rig, beside the generator), and goes on at once when
		 * nothing does.  Spinning there held the CPU until the
		 * scheduler took it away. */
		if (busy) {
			idle = 0;
		} else if (r->cfg->idle_sleep_us != 0) {
			halb_idle_backoff(&idle, r->cfg->idle_sleep_us);
		} else if (idle < HALB_IDLE_SPIN_LOOPS) {
			idle++;
			rte_pause();
		} else {
			sched_yield();
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th;
	int opt, fd, rc;

	opt = cfg_cli_load(argc, argv,
			   "run the request router (after the forwarder)",
			   &rtr.cfg);
	if (opt >= 0)
		return opt;
	if (eal_start(argv[0], rtr.cfg) < 0) {
		fprintf(stderr, "%s: EAL initialisation failed (is halb-forwarder running with file_prefix %s?): %s\n",
			rtr.cfg->path, rtr.cfg->file_prefix, rte_strerror(rte_errno));
		return 1;
	}
	rte_log_set_global_level(rtr.cfg->log.dpdk_level + 1u);
	rc = halb_shm_attach(rtr.cfg, &rtr.shm);
	if (rc != 0) {
		RTR_LOG(ERR, "cannot attach to the forwarder's memory (file_prefix %s): %s",
			rtr.cfg->file_prefix, strerror(-rc));
		goto fail;
	}
	if (!rtr.shm->has_l7) {
		RTR_LOG(ERR, "no service of %s has requests { }: nothing to route",
			rtr.cfg->path);
		goto fail;
	}
	fd = lock_one();
	if (fd < 0) {
		RTR_LOG(ERR, "another halb-router is attached to file_prefix %s",
			rtr.cfg->file_prefix);
		goto fail;
	}
	rc = rtr_init(&rtr);
	if (rc != 0) {
		RTR_LOG(ERR, "cannot set up: %s", strerror(-rc));
		goto fail;
	}
	/* Entries a previous router removed may still be read by a worker. */
	rte_rcu_qsbr_synchronize(rtr.shm->qsbr, RTE_QSBR_THRID_INVALID);
	hb = halb_hb_open(rtr.cfg->file_prefix, "router",
			  RTR_HB_MS + rtr.cfg->idle_sleep_us / 1000);
	if (hb == NULL) {
		RTR_LOG(ERR, "cannot create the heartbeat file under %s/%s: %s",
			HALB_RUN_DIR, rtr.cfg->file_prefix, strerror(errno));
		goto fail;
	}
	if (halb_quit_on_term(&rtr.quit) != 0)
		goto fail;
	rtr.shm->l7_alive = rte_rdtsc();
	rtr.shm->l7_pid = getpid();
	rtr.shm->l7_starts++;
	RTR_LOG(INFO, "attached: %u worker(s), %u binding(s) at most",
		rtr.shm->n_workers, rtr.cap);
	printf("halb-router: ready\n");
	fflush(stdout);
	halb_notify_ready();
	if (pthread_create(&th, NULL, loop, &rtr) != 0)
		goto fail;
	pthread_join(th, NULL);
	rtr.shm->l7_pid = 0;
	halb_hb_set_state(hb, HALB_HB_STOPPING);
	rtr_fini(&rtr);
	rte_eal_cleanup();
	halb_hb_close(hb);
	cfg_free(rtr.cfg);
	return exit_rc;
fail:
	rte_eal_cleanup();
	return 1;
}
