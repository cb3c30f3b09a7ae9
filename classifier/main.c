/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-classifier: a DPDK secondary process attached to the forwarder's
 * shared memory.  It drains every worker's punt ring, finds the service,
 * picks a backend with the service's scheduler, installs the flow in
 * that worker's table (the only writer of flow tables), and hands the
 * packet back on the worker's return ring with the decision in
 * hash.usr (the decision itself is in decide.c).  Between bursts it
 * expires idle flows, sweeping each table once per CLS_EXPIRE_SWEEP_MS
 * whatever the load, and frees their entries once the workers have
 * passed a quiescent state.  Its services are the forwarder's view,
 * which it follows across reloads (view.c); SIGHUP is ignored.
 *
 * With sessions { } it tells halb-sessiond of every install, state
 * change and removal, and reads the replica on a mid-connection miss
 * (sess.c).
 *
 * It writes a heartbeat every loop; the workers decide on their own when
 * it goes stale.  When the forwarder goes away it exits: a secondary
 * cannot outlive its primary's memory.
 *
 * One classifier per forwarder (lock.c): a second one is refused while
 * the first lives, unless started with --takeover, which waits for the
 * first to go (killing it if its heartbeat is stale) before attaching.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "halb/cfg.h"
#include "halb/hb.h"
#include "halb/idle.h"
#include "halb/notify.h"
#include "halb/quit.h"
#include "halb/shm.h"
#include "cls.h"
#include "remote.h"

#define CLS_BURST 32
#define FWD_GONE_MS 2000
/* The heartbeat file (halb/hb.h): written at most once a millisecond,
 * promised every CLS_HB_MS (an idle loop sleeps idle_sleep_us at most). */
#define CLS_HB_MS 10
/* --takeover without a value: how long to wait for the old classifier. */
#define CLS_TAKEOVER_MS 10000u

static struct cls cls;

/* --takeover's view of the lock's holder: its heartbeat is fresh, or we
 * cannot tell (not yet attached, or stopping cleanly: cls_pid is not its
 * pid).  Only a holder known stale is killed. */
static bool
holder_fresh(void *ctx, pid_t holder)
{
	const struct cls *c = ctx;

	if (c->shm->cls_pid != holder)
		return true;
	return halb_tsc_age(rte_rdtsc(), c->shm->cls_alive) <=
	       c->shm->tsc_hz / 1000 * c->cfg->classifier_timeout_ms;
}

/*
 * The right to attach (lock.c): refused while another classifier holds
 * it; with takeover_ms, waits that long for it.  The fd stays open (the
 * lock with it) until the process exits.
 */
static int
lock_attach(struct cls *c, uint32_t takeover_ms)
{
	char path[PATH_MAX];
	pid_t holder = 0;
	int fd, rc, i;

	snprintf(path, sizeof(path), "%s/%s", rte_eal_get_runtime_dir(),
		 CLS_LOCK_FILE);
	fd = cls_lock_open(path);
	if (fd < 0) {
		CLS_LOG(ERR, "cannot open %s: %s", path, strerror(-fd));
		return fd;
	}
	rc = cls_lock_try(fd, &holder);
	/* The forwarder holds it for a moment while it rebuilds Maglev
	 * tables at a reload with no classifier (forwarder/reload.c), or
	 * for a turn of its remote classifiers' thread, whose lock is an
	 * open-file-description lock: pid -1 (forwarder/punt_remote.c).
	 * Holder 0: the lock was let go between the try and the query (the
	 * punt thread's turn ended): try again. */
	for (i = 0; rc == -EBUSY &&
		    (holder == c->shm->fwd_pid || holder == -1 || holder == 0) &&
		    i < 100; i++) {
		usleep(10000);
		rc = cls_lock_try(fd, &holder);
	}
	if (rc == -EBUSY && takeover_ms > 0) {
		CLS_LOG(INFO, "taking over from the classifier (pid %d): waiting up to %u ms for it to go",
			(int)holder, takeover_ms);
		rc = cls_lock_takeover(fd, takeover_ms, holder_fresh, c, &holder);
		if (rc == 0 && holder != 0)
			CLS_LOG(WARNING, "took over: the classifier (pid %d) had a stale heartbeat and was killed",
				(int)holder);
	}
	if (rc == 0) {
		c->lock_fd = fd;
		return 0;
	}
	close(fd);
	if (rc == -EBUSY)
		CLS_LOG(ERR, "another halb-classifier (pid %d) is attached to file_prefix %s: refusing a second writer (--takeover replaces it)",
			(int)holder, c->cfg->file_prefix);
	else if (rc == -ETIMEDOUT)
		CLS_LOG(ERR, "takeover: the classifier attached to file_prefix %s did not go within %u ms",
			c->cfg->file_prefix, takeover_ms);
	else
		CLS_LOG(ERR, "cannot lock %s: %s", path, strerror(-rc));
	return rc;
}

static int
attach(struct cls *c, uint32_t takeover_ms)
{
	uint32_t w, s, b;
	int rc;

	rc = halb_shm_attach(c->cfg, &c->shm);
	if (rc == -ENOENT)
		CLS_LOG(ERR, "no shared memory %s: is halb-forwarder running with file_prefix %s?",
			HALB_SHM_NAME, c->cfg->file_prefix);
	else if (rc == -EAGAIN)
		CLS_LOG(ERR, "shared memory not ready or of another version");
	else if (rc == -EINVAL)
		CLS_LOG(ERR, "%s differs from the forwarder's configuration in what a reload does not change (eal, ports, flows, health keys and sockets...): run both from the same file",
			c->cfg->path);
	if (rc != 0)
		return rc;
	rc = lock_attach(c, takeover_ms);
	if (rc != 0)
		return rc;
	/* The services are the forwarder's (its file may have been
	 * reloaded since): view.c. */
	rc = cls_view_attach(c);
	if (rc != 0)
		return rc;
	rc = svc_map_build(&c->svcs, c->cfg);
	if (rc != 0)
		return rc;
	for (w = 0; w < c->shm->n_workers; w++) {
		rc = flow_writer_init(&c->fw[w], &c->shm->workers[w].flows,
				      c->shm->qsbr);
		if (rc != 0)
			return rc;
	}
	/* Entries a previous classifier removed may still be read by a
	 * worker: wait one grace period before reusing any. */
	rte_rcu_qsbr_synchronize(c->shm->qsbr, RTE_QSBR_THRID_INVALID);
	memset(c->shm->active, 0, sizeof(c->shm->active));
	for (w = 0; w < c->shm->n_workers; w++) {
		const struct flow_table *t = c->fw[w].t;
		uint32_t i;

		for (b = 0; b < t->n_buckets; b++)
			for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
				uint64_t sl = t->buckets[b].slot[i];
				const struct flow_entry *e;

				if (sl == 0)
					continue;
				e = &t->entries[flow_slot_idx(sl)];
				if (e->svc < c->cfg->n_services &&
				    e->backend < c->cfg->services[e->svc].n_backends)
					c->shm->active[e->svc][e->backend]++;
			}
		c->shm->workers[w].flow_count = flow_count(&c->fw[w]);
		cls_sweep_start(c, w, rte_rdtsc());
	}
	for (s = 0; s < c->cfg->n_services; s++)
		memcpy(c->sched[s].active, c->shm->active[s],
		       sizeof(uint32_t) * c->cfg->services[s].n_backends);
	rc = cls_health_init(c);
	if (rc != 0)
		return rc;
	c->shm->cls_alive = rte_rdtsc();
	/* Before the replica's QSBR thread goes online (cls_sess_init):
	 * halb-sessiond takes a dead classifier's thread offline only
	 * while cls_pid is the dead one's (session/main.c unstick_qsbr). */
	__atomic_store_n(&c->shm->cls_pid, getpid(), __ATOMIC_SEQ_CST);
	cls_sess_init(c);
	c->shm->cls_starts++;
	return 0;
}

static uint32_t
service_worker(struct cls *c, uint32_t w, uint64_t now)
{
	struct halb_worker_shm *ws = &c->shm->workers[w];
	struct rte_mbuf *in[CLS_BURST], *out[CLS_BURST];
	uint32_t n, i, n_out = 0, sent;

	n = rte_ring_mc_dequeue_burst(ws->punt, (void **)in, CLS_BURST, NULL);
	c->shm->cls.punted += n;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i];

		if (cls_decide(c, w, rte_pktmbuf_mtod(m, const uint8_t *),
			       rte_pktmbuf_data_len(m), &m->hash.usr))
			out[n_out++] = m;
		else
			rte_pktmbuf_free(m);
	}
	if (n_out > 0) {
		sent = rte_ring_sp_enqueue_burst(ws->ret, (void **)out, n_out, NULL);
		if (sent < n_out) {
			c->shm->cls.ret_full += n_out - sent;
			rte_pktmbuf_free_bulk(&out[sent], n_out - sent);
		}
	}
	cls_housekeep(c, w, now);
	return n;
}

/*
 * Takes --takeover[=MS] and --remote out of argv (the rest is the common command line,
 * cfg_cli()).  Returns the wait in ms (0: no takeover) or -1 when MS is
 * not a number.
 */
static long
takeover_arg(int *argc, char **argv, bool *remote)
{
	long ms = 0;
	int i, j;

	for (i = j = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--remote") == 0) {
			*remote = true;
		} else if (strcmp(argv[i], "--takeover") == 0) {
			ms = CLS_TAKEOVER_MS;
		} else if (strncmp(argv[i], "--takeover=", 11) == 0) {
			char *end;

			ms = strtol(argv[i] + 11, &end, 10);
			if (*end != '\0' || ms <= 0 || ms > 3600000)
				return -1;
		} else {
			argv[j++] = argv[i];
		}
	}
	argv[j] = NULL;
	*argc = j;
	return ms;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	uint64_t beat_tsc = 0, beat_every;
	uint32_t idle = 0, w, busy;
	struct halb_hb *hb;
	bool remote = false;
	long takeover;
	int opt, rc = 0;

	takeover = takeover_arg(&argc, argv, &remote);
	if (takeover < 0) {
		fprintf(stderr, "%s: --takeover=MS wants a wait in ms (1..3600000)\n",
			argv[0]);
		return 2;
	}
	opt = cfg_cli_load(argc, argv,
			   "run the classifier (after the forwarder)\n"
			   "       add --takeover[=MS] to replace a running classifier (waits MS, 10000)\n"
			   "       or --remote to serve forwarders on other machines (classifiers.serve)",
			   &cls.cfg);
	if (opt >= 0)
		return opt;
	if (remote) {
		/* No EAL, no shared memory: remote.c. */
		rc = rcls_main(cls.cfg);
		cfg_free(cls.cfg);
		return rc;
	}
	path = cls.cfg->path;
	if (halb_eal_start_secondary(argv[0], cls.cfg) < 0) {
		fprintf(stderr, "%s: EAL initialisation failed (is halb-forwarder running with file_prefix %s?): %s\n",
			path, cls.cfg->file_prefix, rte_strerror(rte_errno));
		return 1;
	}
	/* log.dpdk_level: syslog's levels are rte_log's less one. */
	rte_log_set_global_level(cls.cfg->log.dpdk_level + 1u);
	cls.lock_fd = -1;
	if (attach(&cls, (uint32_t)takeover) != 0) {
		rte_eal_cleanup();
		return 1;
	}
	/* Only the classifier that holds the lock (attach) may write the
	 * heartbeat file: a refused second one must not touch the first's. */
	hb = halb_hb_open(cls.cfg->file_prefix, "classifier",
			  CLS_HB_MS + cls.cfg->idle_sleep_us / 1000);
	if (hb == NULL)
		rte_exit(EXIT_FAILURE, "cannot create the heartbeat file under %s/%s: %s\n",
			 HALB_RUN_DIR, cls.cfg->file_prefix, strerror(errno));
	if (halb_quit_on_term(&cls.quit) != 0)
		rte_exit(EXIT_FAILURE, "cannot catch SIGINT and SIGTERM\n");
	CLS_LOG(INFO, "attached: %u worker(s), %u service(s)", cls.shm->n_workers,
		cls.cfg->n_services);
	halb_idle_init();
	beat_every = cls.shm->tsc_hz / 1000;
	printf("halb-classifier: ready\n");
	fflush(stdout);
	halb_notify_ready();

	halb_hb_set_state(hb, HALB_HB_READY);
	while (!cls.quit) {
		uint64_t now = rte_rdtsc();

		cls.shm->cls_alive = now;
		if (now - beat_tsc >= beat_every) {
			beat_tsc = now;
			halb_hb_beat(hb, halb_hb_now_ns());
		}
		cls.now_ms = halb_now_ms(cls.shm, now);
		/* A stale heartbeat alone may be a starved CPU: leave only
		 * when the forwarder's process is gone too. */
		if (halb_tsc_age(now, cls.shm->fwd_alive) >
			    cls.shm->tsc_hz / 1000 * FWD_GONE_MS &&
		    kill(cls.shm->fwd_pid, 0) != 0 && errno == ESRCH) {
			CLS_LOG(ERR, "forwarder (pid %d) is gone: exiting",
				cls.shm->fwd_pid);
			rc = 3;
			break;
		}
		cls_health_poll(&cls, now);
		if (__atomic_load_n(&cls.shm->view_gen, __ATOMIC_RELAXED) != cls.view_gen)
			cls_view_poll(&cls, cls_wall_ms());
		busy = 0;
		for (w = 0; w < cls.shm->n_workers; w++)
			busy += service_worker(&cls, w, now);
		/* This turn's session events in one burst; a dump's share
		 * (no idle sleep while one is under way, unless its reader
		 * is silent and the ring cannot drain). */
		cls_sess_turn(&cls, now);
		busy += cls.dumping && !cls.sess_silent;
		cls.shm->cls.loops++;
		if (busy)
			idle = 0;
		else
			halb_idle_backoff(&idle, cls.cfg->idle_sleep_us);
	}
	/* A clean stop: tell the workers now rather than after the timeout. */
	cls.shm->cls_pid = 0;
	halb_hb_set_state(hb, HALB_HB_STOPPING);
	cls_health_fini(&cls);
	cls_sess_fini(&cls);
	for (w = 0; w < cls.shm->n_workers; w++)
		flow_writer_fini(&cls.fw[w]);
	svc_map_free(&cls.svcs);
	rte_eal_cleanup();
	halb_hb_close(hb);
	cfg_free(cls.cfg);
	return rc;
}
