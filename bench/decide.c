/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-decide: the classifier's decide-and-install path on one
 * core, in isolation: over N distinct SYN frames (prebuilt), the
 * classifier's own cls_decide() (classifier/decide.c, compiled in):
 * pkt_parse, svc_by_vip, pkt_flow_hash, flow_lookup, sched_pick (Maglev),
 * flow_insert and the per-backend live-flow count.  No rings, no mbufs,
 * no other process: the frame is a byte buffer, as main.c hands it over.
 *
 * The struct cls is set up here as far as decide.c reads it: the
 * configuration, the service map, the schedulers with Maglev tables of
 * the configured weights (as cls_health_init() builds them when nothing
 * was heard), a struct halb_shm of our own (counters, live-flow counts,
 * the TSC rate) and worker 0's table and writer.  The table lives in
 * hugepage memory from rte_malloc, as the forwarder's does (so the
 * harness takes EAL options: -l CPU --file-prefix ...).  The writer has
 * no QSBR variable: nothing is removed here, so reclaim has nothing to
 * wait for either way.
 *
 * Two figures per round over a fresh table of N + N/64 entries:
 *  - decide: cls_decide() on each frame;
 *  - loop:   the same plus what the classifier's loop does for one worker
 *            after each burst of 32 punted packets: cls_housekeep() with
 *            the TSC read then, i.e. the expiry scan of the buckets the
 *            elapsed time earned (a full sweep of the table per
 *            CLS_EXPIRE_SWEEP_MS, so at this loop rate a few buckets per
 *            burst; nothing expires: the clock stands still), reclaim
 *            and the flow count (classifier/main.c service_worker()).
 * Medians over --rounds rounds.  Output: "RESULT {json}".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>

#include "halb/cfg.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "halb/pkt.h"
#include "halb/sched.h"
#include "halb/shm-t.h"
#include "halb/svc.h"
#include "cls.h"
#include "args.h"
#include "frames.h"
#include "stats.h"

#define BURST 32u /* classifier/main.c CLS_BURST */
#define MAX_ROUNDS 32u
/* A round is clean when this thread had its CPU for this share of it:
 * the rest went to other processes (or to interrupts) on a shared machine. */
#define CLEAN_SHARE 0.8

/* ---- set-up, as cls_health_init() does for configured weights ---- */

static int
sched_setup(struct cls *c)
{
	uint32_t s, b;

	for (s = 0; s < c->cfg->n_services; s++) {
		const struct cfg_service *cs = &c->cfg->services[s];
		struct mh_backend mb[CFG_MAX_BACKENDS];
		uint32_t w[CFG_MAX_BACKENDS];
		uint16_t *tab;
		int rc;

		for (b = 0; b < cs->n_backends; b++) {
			w[b] = cs->backends[b].weight;
			mb[b].id = mh_backend_id(cs->backends[b].ip.b, cs->backends[b].port);
			mb[b].weight = w[b];
		}
		sched_init(&c->sched[s], cs->sched, w, cs->n_backends);
		c->sched[s].mh_size = mh_table_size(cs->n_backends);
		tab = malloc(c->sched[s].mh_size * sizeof(*tab));
		if (tab == NULL)
			return -ENOMEM;
		rc = mh_build(tab, c->sched[s].mh_size, mb, cs->n_backends);
		if (rc != 0)
			return rc;
		c->sched[s].mh = tab;
	}
	return 0;
}

/* CPU time this thread has had, in seconds (schedstat). */
static double
cpu_s(void)
{
	unsigned long long run = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	if (f != NULL) {
		if (fscanf(f, "%llu", &run) != 1)
			run = 0;
		fclose(f);
	}
	return (double)run / 1e9;
}

/*
 * One round over a fresh table: decisions per second, with (loop) or
 * without the classifier's per-burst housekeeping.  *scanned: buckets the
 * expiry scan earned in the round (the cursor's travel).
 */
static double
round_rate(struct cls *c, void *mem, uint32_t entries, const uint8_t *frames,
	   uint32_t n, bool loop, double *cyc, double *share, uint64_t *scanned)
{
	struct flow_table *t = &c->shm->workers[0].flows;
	struct flow_writer *fw = &c->fw[0];
	uint32_t i, s, usr = 0, sink = 0, laps = 0, cur0;
	uint64_t c0;
	double t0, dt, cpu0;

	flow_table_init(t, mem, entries, 0);
	if (flow_writer_init(fw, t, NULL) != 0)
		return 0;
	memset(&c->shm->cls, 0, sizeof(c->shm->cls));
	memset(c->shm->active, 0, sizeof(c->shm->active));
	for (s = 0; s < c->cfg->n_services; s++)
		memset(c->sched[s].active, 0, sizeof(c->sched[s].active));
	cur0 = fw->scan_bucket;
	cpu0 = cpu_s();
	t0 = now_s();
	c0 = rte_rdtsc();
	cls_sweep_start(c, 0, c0);
	for (i = 0; i < n; i++) {
		if (cls_decide(c, 0, frames + (size_t)i * 64, BENCH_FRAME_LEN, &usr))
			sink += usr;
		if (loop && i % BURST == BURST - 1) {
			uint32_t before = fw->scan_bucket;

			cls_housekeep(c, 0, rte_rdtsc());
			laps += fw->scan_bucket < before;
		}
	}
	*cyc = (double)(rte_rdtsc() - c0) / n;
	dt = now_s() - t0;
	*share = (cpu_s() - cpu0) / dt;
	*scanned = (uint64_t)laps * t->n_buckets + fw->scan_bucket - cur0;
	flow_writer_fini(fw);
	if (c->shm->cls.installs == 0 || sink == 0xdeadbeef)
		return 0;
	return n / dt;
}

/*
 * Moves the rounds whose CPU share was at least CLEAN_SHARE to the front of
 * rate[] and cyc[] (when there are two or more) and returns their count.
 */
static uint32_t
clean_only(double *rate, double *cyc, const double *share, uint32_t n)
{
	uint32_t i, k = 0;

	for (i = 0; i < n; i++)
		if (share[i] >= CLEAN_SHARE)
			k++;
	if (k < 2)
		return k;
	k = 0;
	for (i = 0; i < n; i++)
		if (share[i] >= CLEAN_SHARE) {
			double r = rate[i], c = cyc[i];

			rate[i] = rate[k];
			cyc[i] = cyc[k];
			rate[k] = r;
			cyc[k] = c;
			k++;
		}
	return k;
}

int
main(int argc, char **argv)
{
	static const uint8_t mac_a[6] = { 2, 0x68, 0xb0, 0, 0, 1 };
	static const uint8_t mac_b[6] = { 2, 0x68, 0xb0, 0, 0, 2 };
	double dec[MAX_ROUNDS], lp[MAX_ROUNDS], cd[MAX_ROUNDS], cl[MAX_ROUNDS];
	double sd[MAX_ROUNDS], sl[MAX_ROUNDS];
	struct bench_args args = { .flows = 1000000, .count = 5 };
	uint32_t vip, n, rounds, entries, i, nd, nl;
	static struct cls c;
	struct bench_tmpl tmpl;
	uint64_t scanned;
	uint8_t *frames;
	void *mem;
	int ne;

	ne = bench_start(argc, argv, "rounds", MAX_ROUNDS, &args);
	if (ne != 0)
		return ne;
	n = args.flows;
	rounds = args.count;
	vip = args.vip;
	c.cfg = args.cfg;
	if (svc_map_build(&c.svcs, c.cfg) != 0 || sched_setup(&c) != 0) {
		fprintf(stderr, "decide: set-up failed\n");
		return 1;
	}
	/* The flow clock stands still: nothing installed here expires. */
	c.now_ms = 1000;
	entries = n + n / 64;
	if (entries < 1024)
		entries = 1024;
	c.shm = rte_zmalloc("bench_shm", sizeof(*c.shm), 64);
	mem = rte_malloc("bench_flows", flow_table_mem_size(entries), 64);
	frames = malloc((size_t)n * 64);
	if (c.shm == NULL || mem == NULL || frames == NULL) {
		fprintf(stderr, "decide: out of memory\n");
		return 1;
	}
	c.shm->tsc_hz = rte_get_tsc_hz();
	c.shm->n_workers = 1;
	c.shm->n_services = c.cfg->n_services;
	bench_tmpl_init(&tmpl, mac_a, mac_b, vip, 80, PKT_TCP_SYN);
	for (i = 0; i < n; i++)
		bench_frame(frames + (size_t)i * 64, &tmpl, i);
	/* Touch the table once, so that the first round does not pay the
	 * page faults. */
	flow_table_init(&c.shm->workers[0].flows, mem, entries, 0);
	for (i = 0; i < rounds; i++) {
		dec[i] = round_rate(&c, mem, entries, frames, n, false, &cd[i], &sd[i],
				    &scanned);
		if (c.shm->cls.installs != n) {
			fprintf(stderr, "decide: %" PRIu64 " of %u installed\n",
				c.shm->cls.installs, n);
			return 1;
		}
		lp[i] = round_rate(&c, mem, entries, frames, n, true, &cl[i], &sl[i],
				   &scanned);
		fprintf(stderr, "decide: round %u: %.0f decisions/s (%.0f cycles, on CPU %.2f), with the loop's housekeeping %.0f/s (%.0f cycles, on CPU %.2f; expiry scanned %" PRIu64 " of %u buckets, %.2f per burst of %u)\n",
			i + 1, dec[i], cd[i], sd[i], lp[i], cl[i], sl[i], scanned,
			c.shm->workers[0].flows.n_buckets, (double)scanned * BURST / n,
			BURST);
	}
	/* Rounds in which this thread kept its CPU; all when fewer than 2. */
	nd = clean_only(dec, cd, sd, rounds);
	nl = clean_only(lp, cl, sl, rounds);
	printf("RESULT {\"flows\": %u, \"entries\": %u, \"rounds\": %u, "
	       "\"clean_rounds\": %u, \"decide_per_s\": %.0f, \"decide_cycles\": %.1f, "
	       "\"loop_clean_rounds\": %u, \"loop_per_s\": %.0f, \"loop_cycles\": %.1f}\n",
	       n, entries, rounds, nd < 2 ? 0 : nd, median(dec, nd < 2 ? rounds : nd),
	       median(cd, nd < 2 ? rounds : nd), nl < 2 ? 0 : nl,
	       median(lp, nl < 2 ? rounds : nl), median(cl, nl < 2 ? rounds : nl));
	free(frames);
	rte_free(mem);
	rte_free(c.shm);
	svc_map_free(&c.svcs);
	cfg_free(c.cfg);
	rte_eal_cleanup();
	return 0;
}
