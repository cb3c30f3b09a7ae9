/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-decide: the classifier's decide-and-install path on one
 * core, in isolation: over N distinct SYN frames (prebuilt), what
 * classifier/main.c decide() does for each punted packet: pkt_parse,
 * svc_by_vip, pkt_flow_hash, flow_lookup, sched_pick (Maglev), flow_insert
 * and the per-backend live-flow count.  No rings, no mbufs, no other
 * process.
 *
 * decide() is static in classifier/main.c, so bench_decide() below is a
 * faithful copy of it (same calls, same order, same branches); only the
 * packet is a byte buffer instead of an mbuf, and the counters live in
 * this file's struct instead of the shared memory.  Keep it in step with
 * classifier/main.c until the classifier exposes its decision function.
 *
 * The table lives in hugepage memory from rte_malloc, as the forwarder's
 * does (so the harness takes EAL options: -l CPU --file-prefix ...).
 *
 * Two figures per round over a fresh table of N + N/64 entries:
 *  - decide: bench_decide() on each frame;
 *  - loop:   the same plus what the classifier's loop does per burst of
 *            32 punted packets for one worker: an expiry scan of 64
 *            buckets (nothing expires: the timeouts are long), reclaim and
 *            the flow count (classifier/main.c service_worker()).
 * Medians over --rounds rounds.  Output: "RESULT {json}".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
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
#include "frames.h"

#define BURST 32u
#define EXPIRE_BUCKETS 64u /* classifier/main.c */
#define MAX_ROUNDS 32u
/* A round is clean when this thread had its CPU for this share of it:
 * the rest went to other processes (or to interrupts) on a shared machine. */
#define CLEAN_SHARE 0.8

/* What decide() reads and writes of struct cls and the shared memory. */
struct bench_cls {
	struct halb_cfg *cfg;
	struct svc_map svcs;
	struct flow_writer fw;
	struct sched_svc sched[CFG_MAX_SERVICES];
	uint32_t now_ms;
	struct cls_stats st;
	uint32_t table_full;
	uint32_t active[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	bool evict[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
};

/* ---- faithful copies from classifier/main.c ---- */

static uint8_t
initial_state(const struct pkt_info *pi)
{
	if (pi->key.proto != IPPROTO_TCP)
		return FLOW_ST_UDP;
	if (pi->tcp_flags & (PKT_TCP_FIN | PKT_TCP_RST))
		return FLOW_ST_FIN;
	return (pi->tcp_flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN ? FLOW_ST_SYN :
								    FLOW_ST_EST;
}

static void
set_active(struct bench_cls *c, uint32_t s, uint32_t b, int delta)
{
	c->sched[s].active[b] += (uint32_t)delta;
	c->active[s][b] = c->sched[s].active[b];
}

/* decide(): returns true with the decision in *usr, false for a drop. */
static bool
bench_decide(struct bench_cls *c, const uint8_t *frame, uint32_t len,
	     uint32_t *usr)
{
	struct cls_stats *st = &c->st;
	struct flow_entry *e = NULL;
	struct pkt_info pi;
	uint32_t hash;
	uint16_t b;
	int s, rc;

	if (pkt_parse(frame, len, &pi) != PKT_OK || pi.kind != PKT_KIND_FLOW) {
		st->bad_packet++;
		return false;
	}
	s = svc_by_vip(&c->svcs, pi.key.dst, pi.key.dport, pi.key.proto);
	if (s < 0) {
		st->no_service++;
		return false;
	}
	hash = pkt_flow_hash(&pi.key);
	e = flow_lookup(c->fw.t, &pi.key, hash);
	if (e != NULL) {
		st->existing++;
		*usr = HALB_RET_DECISION(e->svc, e->backend);
		return true;
	}
	b = sched_pick(&c->sched[s], hash);
	if (b == MH_EMPTY) {
		st->no_backend++;
		return false;
	}
	rc = flow_insert(&c->fw, &pi.key, hash, (uint16_t)s, b,
			 initial_state(&pi), c->now_ms, NULL);
	if (rc >= 0) {
		st->installs++;
		set_active(c, (uint32_t)s, b, 1);
		c->table_full = 0;
	} else {
		st->table_full++;
		c->table_full = 1;
		if (c->sched[s].mh != NULL)
			b = mh_lookup(c->sched[s].mh, c->sched[s].mh_size, hash);
		if (b == MH_EMPTY) {
			st->no_backend++;
			return false;
		}
	}
	*usr = HALB_RET_DECISION(s, b);
	return true;
}

/* expired() of classifier/main.c. */
static bool
expired(void *ctx, const struct flow_entry *e)
{
	struct bench_cls *c = ctx;
	uint32_t idle = c->now_ms - __atomic_load_n(&e->last_seen, __ATOMIC_RELAXED);
	uint32_t limit = flow_idle_timeout_ms(c->cfg,
					      __atomic_load_n(&e->state, __ATOMIC_RELAXED));

	if (e->svc >= c->cfg->n_services ||
	    e->backend >= c->cfg->services[e->svc].n_backends)
		return true;
	if (c->evict[e->svc][e->backend]) {
		c->st.evicted++;
	} else if (idle < limit || idle > 0x80000000u) {
		return false;
	} else {
		c->st.expired++;
	}
	set_active(c, e->svc, e->backend, -1);
	return true;
}

/* ---- set-up, as cls_health_init() does for configured weights ---- */

static int
sched_setup(struct bench_cls *c)
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

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * One round over a fresh table: decisions per second, with (loop) or
 * without the classifier's per-burst housekeeping.
 */
static double
round_rate(struct bench_cls *c, struct flow_table *t, void *mem, uint32_t entries,
	   const uint8_t *frames, uint32_t n, bool loop, double *cyc, double *share)
{
	uint32_t i, usr = 0, sink = 0;
	uint64_t c0;
	double t0, dt, cpu0;

	flow_table_init(t, mem, entries, 0);
	if (flow_writer_init(&c->fw, t, NULL) != 0)
		return 0;
	memset(c->active, 0, sizeof(c->active));
	for (i = 0; i < c->cfg->n_services; i++)
		memset(c->sched[i].active, 0, sizeof(c->sched[i].active));
	cpu0 = cpu_s();
	t0 = now_s();
	c0 = rte_rdtsc();
	for (i = 0; i < n; i++) {
		if (bench_decide(c, frames + (size_t)i * 64, BENCH_FRAME_LEN, &usr))
			sink += usr;
		if (loop && i % BURST == BURST - 1) {
			flow_expire_scan(&c->fw, EXPIRE_BUCKETS, expired, c);
			flow_reclaim(&c->fw);
			sink += flow_count(&c->fw);
		}
	}
	*cyc = (double)(rte_rdtsc() - c0) / n;
	dt = now_s() - t0;
	*share = (cpu_s() - cpu0) / dt;
	flow_writer_fini(&c->fw);
	if (c->st.installs == 0 || sink == 0xdeadbeef)
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
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "vip", required_argument, NULL, 'v' },
		{ "flows", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint8_t mac_a[6] = { 2, 0x68, 0xb0, 0, 0, 1 };
	static const uint8_t mac_b[6] = { 2, 0x68, 0xb0, 0, 0, 2 };
	double dec[MAX_ROUNDS], lp[MAX_ROUNDS], cd[MAX_ROUNDS], cl[MAX_ROUNDS];
	double sd[MAX_ROUNDS], sl[MAX_ROUNDS];
	uint32_t vip, n = 1000000, rounds = 5, entries, i, nd, nl;
	static struct bench_cls c;
	struct bench_tmpl tmpl;
	struct flow_table t;
	const char *path = NULL;
	uint8_t *frames;
	void *mem;
	int opt, ne;

	ne = rte_eal_init(argc, argv);
	if (ne < 0)
		return 1;
	argc -= ne;
	argv += ne;
	optind = 1;
	bench_parse_ip4("198.18.2.100", &vip);
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
			n = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [EAL options] -- --config FILE [--vip A] [--flows N] [--rounds R]\n",
				argv[0]);
			return 2;
		}
	}
	if (path == NULL || n == 0 || n > BENCH_MAX_FLOWS || rounds == 0 ||
	    rounds > MAX_ROUNDS) {
		fprintf(stderr, "decide: --config FILE is required; 1 <= flows <= %u, 1 <= rounds <= %u\n",
			BENCH_MAX_FLOWS, MAX_ROUNDS);
		return 2;
	}
	c.cfg = cfg_load(path, stderr);
	if (c.cfg == NULL)
		return 1;
	if (svc_map_build(&c.svcs, c.cfg) != 0 || sched_setup(&c) != 0) {
		fprintf(stderr, "decide: set-up failed\n");
		return 1;
	}
	c.now_ms = 1000;
	entries = n + n / 64;
	if (entries < 1024)
		entries = 1024;
	mem = rte_malloc("bench_flows", flow_table_mem_size(entries), 64);
	frames = malloc((size_t)n * 64);
	if (mem == NULL || frames == NULL) {
		fprintf(stderr, "decide: out of memory\n");
		return 1;
	}
	bench_tmpl_init(&tmpl, mac_a, mac_b, vip, 80, PKT_TCP_SYN);
	for (i = 0; i < n; i++)
		bench_frame(frames + (size_t)i * 64, &tmpl, i);
	/* Touch the table once, so that the first round does not pay the
	 * page faults. */
	flow_table_init(&t, mem, entries, 0);
	for (i = 0; i < rounds; i++) {
		memset(&c.st, 0, sizeof(c.st));
		dec[i] = round_rate(&c, &t, mem, entries, frames, n, false, &cd[i], &sd[i]);
		if (c.st.installs != n) {
			fprintf(stderr, "decide: %" PRIu64 " of %u installed\n",
				c.st.installs, n);
			return 1;
		}
		memset(&c.st, 0, sizeof(c.st));
		lp[i] = round_rate(&c, &t, mem, entries, frames, n, true, &cl[i], &sl[i]);
		fprintf(stderr, "decide: round %u: %.0f decisions/s (%.0f cycles, on CPU %.2f), with the loop's housekeeping %.0f/s (%.0f cycles, on CPU %.2f)\n",
			i + 1, dec[i], cd[i], sd[i], lp[i], cl[i], sl[i]);
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
	svc_map_free(&c.svcs);
	cfg_free(c.cfg);
	rte_eal_cleanup();
	return 0;
}
