/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-replica: the session replica (docs/SESSIONS.md; issue 10),
 * on one core, no DPDK process, no EAL:
 *
 *  bytes  the replica's memory per session at --sizes capacities
 *         (default 1M and 10M sessions.replica_entries): the table laid
 *         out as the forwarder lays it (flow_table_mem_size: buckets and
 *         64-byte entries; and the 4-byte aux word per entry that holds
 *         a spliced session's sequence delta), filled by halb-sessiond's own write path
 *         (session/sess_tab.c sess_replica_put, with the tag of the
 *         view's slot) with distinct IPv4 sessions until it is full or
 *         holds the capacity; bytes per stored session, the share stored,
 *         and the writes per second of CPU time.
 *  miss   what a replica lookup adds to a mid-connection miss in the
 *         classifier: its own cls_decide() (classifier/decide.c and
 *         sess.c, compiled in) on --flows distinct TCP ACK frames (a
 *         connection that moved here), a fresh worker table each round,
 *         in three cases: no replica (sessions { } absent), a replica of
 *         --replica sessions that does not hold the frame's (lookup, no
 *         record: the scheduler's backend) and one that does (the
 *         replica's backend, after the tag check).  TSC cycles per
 *         decision, medians of --rounds rounds with the cases interleaved.
 *
 * Tables are in process memory with transparent huge pages asked for
 * (madvise), as the forwarder's are in hugepages; the machine is shared,
 * so each figure is a median and the cases of a round run back to back.
 * Output: one "RESULT {json}" line per figure.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <netinet/in.h>

#include <rte_cycles.h>

#include "halb/cfg.h"
#include "halb/cfg_reload.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "halb/pkt.h"
#include "halb/sched.h"
#include "halb/shm-t.h"
#include "halb/svc.h"
#include "cls.h"
#include "frames.h"
#include "sessd.h"
#include "stats.h"

#define MAX_SIZES 4u
#define MAX_ROUNDS 15u
#define HUGE_ALIGN (2u << 20)

static double
clk_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Zeroed memory of len bytes, 2 MB aligned, transparent huge pages asked. */
static void *
big_alloc(size_t len)
{
	size_t sz = (len + HUGE_ALIGN - 1) & ~(size_t)(HUGE_ALIGN - 1);
	void *p = aligned_alloc(HUGE_ALIGN, sz);

	if (p == NULL)
		return NULL;
	(void)madvise(p, sz, MADV_HUGEPAGE);
	memset(p, 0, sz);
	return p;
}

/* Session i as a client sends it: 10.i>>16... -> vip:80, TCP. */
static void
sess_key(struct flow_key *k, uint32_t i, const uint8_t vip[16])
{
	memset(k, 0, sizeof(*k));
	k->src[10] = 0xff;
	k->src[11] = 0xff;
	k->src[12] = 10;
	k->src[13] = (uint8_t)(i >> 24);
	k->src[14] = (uint8_t)(i >> 16);
	k->src[15] = (uint8_t)(i >> 8);
	memcpy(k->dst, vip, 16);
	k->sport = htons((uint16_t)(1024u + (i & 0xffu)));
	k->dport = htons(80);
	k->proto = IPPROTO_TCP;
}

/* ---- bytes ---- */

static int
bytes_one(const struct sess_map *map, uint32_t entries)
{
	const struct cfg_service *cs = &map->cfg->services[0];
	struct sess_tab_stats st = { 0 };
	size_t tmem = flow_table_mem_size(entries);
	size_t mem = tmem + (size_t)entries * sizeof(uint32_t);
	struct sess_replica rep;
	struct flow_table t;
	uint32_t i, stored, nb = cs->n_backends;
	double c0, w0, cpu, wall;
	struct flow_key k;
	void *p;

	p = big_alloc(mem);
	if (p == NULL) {
		fprintf(stderr, "replica: %zu bytes: out of memory\n", mem);
		return -ENOMEM;
	}
	flow_table_init(&t, p, entries, 0);
	t.aux = (uint32_t *)((uint8_t *)p + tmem); /* as shm.c: beside */
	if (sess_replica_init(&rep, &t, NULL, map, &st) != 0) {
		free(p);
		return -ENOMEM;
	}
	c0 = clk_s(CLOCK_THREAD_CPUTIME_ID);
	w0 = clk_s(CLOCK_MONOTONIC);
	for (i = 0; i < entries; i++) {
		uint16_t b = (uint16_t)(i % nb);

		sess_key(&k, i, cs->vip.b);
		sess_replica_put(&rep, &k, 0, b, sess_map_tag(map, 0, b),
				 FLOW_ST_EST, 0, 0, 1000);
	}
	cpu = clk_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	wall = clk_s(CLOCK_MONOTONIC) - w0;
	stored = sess_replica_count(&rep);
	printf("RESULT {\"what\": \"replica_bytes\", \"entries\": %u, \"buckets\": %u, "
	       "\"bytes\": %zu, \"stored\": %u, \"full\": %" PRIu64 ", "
	       "\"bytes_per_session\": %.1f, \"entry_bytes\": %zu, "
	       "\"puts_per_cpu_s\": %.0f, \"puts_per_s\": %.0f}\n",
	       entries, t.n_buckets, mem, stored, st.replica_full,
	       stored ? (double)mem / stored : 0.0, sizeof(struct flow_entry),
	       cpu > 0 ? entries / cpu : 0.0, wall > 0 ? entries / wall : 0.0);
	fflush(stdout);
	sess_replica_fini(&rep);
	free(p);
	return 0;
}

/* ---- the classifier's miss ---- */

/* The schedulers over the configured weights, as cls_health_init()
 * builds them when nothing was heard; health_id as it sets it. */
static int
cls_setup(struct cls *c)
{
	uint32_t s, b;

	for (s = 0; s < c->cfg->n_services; s++) {
		const struct cfg_service *cs = &c->cfg->services[s];
		struct mh_backend mb[CFG_MAX_BACKENDS];
		uint32_t w[CFG_MAX_BACKENDS];
		uint16_t *tab;
		int rc;

		for (b = 0; b < cs->n_backends; b++) {
			const struct cfg_backend *cb = &cs->backends[b];

			w[b] = cb->weight;
			mb[b].id = mh_backend_id(cb->ip.b, cb->port);
			mb[b].weight = w[b];
			c->shm->health_id[s][b] = halb_slot_id(cs->name, cb->ip.b,
							       cfg_backend_port(cs, cb));
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

enum { CASE_NONE, CASE_MISS, CASE_HIT, N_CASES };
static const char *const case_name[N_CASES] = { "none", "miss", "hit" };

/* One round of one case: cycles per decision over a fresh worker table. */
static double
miss_round(struct cls *c, void *mem, uint32_t entries, const uint8_t *frames,
	   uint32_t n, int which, uint64_t *replica_used)
{
	struct flow_table *t = &c->shm->workers[0].flows;
	uint32_t i, usr = 0, sink = 0;
	uint64_t t0;

	flow_table_init(t, mem, entries, 0);
	if (flow_writer_init(&c->fw[0], t, NULL) != 0)
		return 0;
	memset(&c->shm->cls, 0, sizeof(c->shm->cls));
	c->replica_on = which != CASE_NONE;
	t0 = rte_rdtsc();
	for (i = 0; i < n; i++)
		if (cls_decide(c, 0, frames + (size_t)i * 64, BENCH_FRAME_LEN, &usr))
			sink += usr;
	t0 = rte_rdtsc() - t0;
	flow_writer_fini(&c->fw[0]);
	*replica_used = c->shm->cls.replica;
	if (c->shm->cls.installs != n || sink == 0xdeadbeef)
		return 0;
	return (double)t0 / n;
}

static int
miss_bench(struct halb_cfg *cfg, const struct sess_map *map, uint32_t n,
	   uint32_t others, uint32_t rounds)
{
	static const uint8_t mac_a[6] = { 2, 0x68, 0xb0, 0, 0, 1 };
	static const uint8_t mac_b[6] = { 2, 0x68, 0xb0, 0, 0, 2 };
	const struct cfg_service *cs = &cfg->services[0];
	double cyc[N_CASES][MAX_ROUNDS], med[N_CASES], w0, tsc_hz;
	uint32_t i, r, entries, rep_entries, vip;
	struct sess_tab_stats st = { 0 };
	struct sess_replica rep;
	static struct cls c;
	struct bench_tmpl tmpl;
	uint8_t *frames;
	uint64_t used[N_CASES] = { 0 }, t0;
	void *mem, *rmem;
	int w;

	c.cfg = cfg;
	c.now_ms = 1000;
	c.shm = calloc(1, sizeof(*c.shm));
	entries = n + n / 64;
	rep_entries = n + others + (n + others) / 8;
	mem = big_alloc(flow_table_mem_size(entries));
	rmem = big_alloc(flow_table_mem_size(rep_entries));
	frames = malloc((size_t)2 * n * 64);
	if (c.shm == NULL || mem == NULL || rmem == NULL || frames == NULL ||
	    svc_map_build(&c.svcs, cfg) != 0 || cls_setup(&c) != 0) {
		fprintf(stderr, "replica: set-up failed\n");
		return 1;
	}
	c.shm->tsc_hz = 1000000000ull;
	c.shm->n_workers = 1;
	c.shm->n_services = cfg->n_services;
	c.shm->workers[0].fb_marks = calloc(HALB_FB_MARKS, sizeof(uint32_t));
	if (c.shm->workers[0].fb_marks == NULL)
		return 1;
	/* Frames 0..n-1: sessions the replica holds; n..2n-1: not. */
	memcpy(&vip, cs->vip.b + 12, 4);
	bench_tmpl_init(&tmpl, mac_a, mac_b, vip, cs->port, PKT_TCP_ACK);
	for (i = 0; i < 2 * n; i++)
		bench_frame(frames + (size_t)i * 64, &tmpl, i);
	flow_table_init(&c.shm->replica, rmem, rep_entries, 0);
	if (sess_replica_init(&rep, &c.shm->replica, NULL, map, &st) != 0)
		return 1;
	for (i = 0; i < n; i++) {
		struct pkt_info pi;
		uint16_t b = (uint16_t)(i % cs->n_backends);

		if (pkt_parse(frames + (size_t)i * 64, BENCH_FRAME_LEN, &pi) != PKT_OK)
			return 1;
		sess_replica_put(&rep, &pi.key, 0, b, sess_map_tag(map, 0, b),
				 FLOW_ST_EST, 0, 0, 1000);
	}
	/* Other sessions around them, so that lookups walk a loaded table
	 * (keys apart from the frames': another source range). */
	for (i = 0; i < others; i++) {
		struct flow_key k;
		uint16_t b = (uint16_t)(i % cs->n_backends);

		sess_key(&k, i, cs->vip.b);
		k.src[12] = 11;
		sess_replica_put(&rep, &k, 0, b, sess_map_tag(map, 0, b),
				 FLOW_ST_EST, 0, 0, 1000);
	}
	if (st.replica_full != 0) {
		fprintf(stderr, "replica: %" PRIu64 " sessions did not fit\n", st.replica_full);
		return 1;
	}
	w0 = clk_s(CLOCK_MONOTONIC);
	t0 = rte_rdtsc();
	for (r = 0; r < rounds; r++)
		for (w = 0; w < N_CASES; w++) {
			/* The order turns, so that no case always runs first. */
			int k = (w + (int)r) % N_CASES;
			const uint8_t *f = frames + (k == CASE_HIT ? 0 : (size_t)n * 64);

			cyc[k][r] = miss_round(&c, mem, entries, f, n, k, &used[k]);
			if (cyc[k][r] == 0) {
				fprintf(stderr, "replica: round %u (%s) failed\n", r, case_name[k]);
				return 1;
			}
		}
	tsc_hz = (rte_rdtsc() - t0) / (clk_s(CLOCK_MONOTONIC) - w0);
	for (w = 0; w < N_CASES; w++) {
		med[w] = median(cyc[w], rounds);
		fprintf(stderr, "replica: %s: %.0f cycles per decision (rounds:", case_name[w], med[w]);
		for (r = 0; r < rounds; r++)
			fprintf(stderr, " %.0f", cyc[w][r]);
		fprintf(stderr, "), replica's backend given %" PRIu64 " times\n", used[w]);
	}
	if (used[CASE_HIT] != n || used[CASE_MISS] != 0) {
		fprintf(stderr, "replica: the hit case used the replica %" PRIu64 " times of %u\n",
			used[CASE_HIT], n);
		return 1;
	}
	printf("RESULT {\"what\": \"replica_miss\", \"flows\": %u, \"replica\": %u, "
	       "\"replica_entries\": %u, \"rounds\": %u, \"tsc_hz\": %.0f, "
	       "\"none_cycles\": %.1f, \"miss_cycles\": %.1f, \"hit_cycles\": %.1f, "
	       "\"miss_added\": %.1f, \"hit_added\": %.1f}\n",
	       n, sess_replica_count(&rep), rep_entries, rounds, tsc_hz,
	       med[CASE_NONE], med[CASE_MISS], med[CASE_HIT],
	       med[CASE_MISS] - med[CASE_NONE], med[CASE_HIT] - med[CASE_NONE]);
	sess_replica_fini(&rep);
	svc_map_free(&c.svcs);
	free(c.shm->workers[0].fb_marks);
	free(c.shm);
	free(frames);
	free(mem);
	free(rmem);
	return 0;
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s -c FILE [--sizes N,N...] [--flows N] [--replica N] [--rounds N]\n"
		"  -c FILE       configuration whose first service is a TCP service (bench/bench.conf)\n"
		"  --sizes       replica capacities for the bytes figure (default 1000000,10000000; 0: none)\n"
		"  --flows       mid-connection misses per round (default 200000; 0: no miss figure)\n"
		"  --replica     other sessions in the replica meanwhile (default 1000000)\n"
		"  --rounds      rounds of the miss figure (default 5, at most %u)\n",
		prog, MAX_ROUNDS);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "flows", required_argument, NULL, 'f' },
		{ "replica", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t sizes[MAX_SIZES] = { 1000000, 10000000 }, n_sizes = 2;
	uint32_t flows = 200000, others = 1000000, rounds = 5, i;
	const char *path = NULL;
	struct halb_cfg *cfg, *mcfg;
	struct sess_map map;
	char *tok, *save;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 's':
			n_sizes = 0;
			for (tok = strtok_r(optarg, ",", &save); tok != NULL && n_sizes < MAX_SIZES;
			     tok = strtok_r(NULL, ",", &save))
				if (strtoul(tok, NULL, 10) > 0)
					sizes[n_sizes++] = (uint32_t)strtoul(tok, NULL, 10);
			break;
		case 'f':
			flows = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			others = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			rounds = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			usage(argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (path == NULL || rounds == 0 || rounds > MAX_ROUNDS ||
	    flows > BENCH_MAX_FLOWS / 2) {
		usage(argv[0]);
		return 2;
	}
	cfg = cfg_load(path, stderr);
	mcfg = cfg_load(path, stderr);
	if (cfg == NULL || mcfg == NULL)
		return 1;
	if (cfg->n_services == 0 || cfg->services[0].proto != IPPROTO_TCP ||
	    cfg->services[0].port == 0 || !halb_ip_is_v4(&cfg->services[0].vip)) {
		fprintf(stderr, "replica: %s: the first service must be TCP on an IPv4 VIP and a port\n", path);
		return 1;
	}
	/* halb-sessiond's view of the slots: the file as loaded. */
	if (sess_map_init(&map, mcfg) != 0)
		return 1;
	for (i = 0; i < n_sizes && rc == 0; i++)
		rc = bytes_one(&map, sizes[i]);
	if (rc == 0 && flows > 0)
		rc = miss_bench(cfg, &map, flows, others, rounds);
	sess_map_fini(&map);
	cfg_free(cfg);
	cfg_free(mcfg);
	return rc == 0 ? 0 : 1;
}
