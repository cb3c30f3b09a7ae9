/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-gen: the benchmark's traffic generator, and the bare loop it
 * is compared with.  One DPDK port (a net_memif client or server given
 * with --vdev by bench/run.sh), one lcore, one queue pair.
 *
 *   fast  N established flows: optionally installs them first (a pass of
 *         SYNs, then a pass of ACKs, until the forwarder's /halb/status
 *         counts N flows), then sends ACKs of flows 0..N-1 round and
 *         round as fast as the device takes them and counts what comes
 *         back.
 *   syn   new connections: SYNs of distinct 5-tuples (flows 0..N-1, each
 *         once), at most --window of them outstanding, and counts what
 *         comes back.
 *   bind  new request-routed connections (issue 14): the generator plays
 *         the clients and the backends.  A SYN per flow (as in syn); the
 *         cookie SYN-ACK from the VIP is answered with the request (one
 *         segment, ACK and data); the router's SYN to the backend with
 *         the backend's SYN-ACK; a binding counts as back when the
 *         request reaches the backend.  --window bindings outstanding.
 *   bare  the baseline: receive a burst, swap the Ethernet addresses,
 *         send it back.  It stands where the forwarder's worker stands
 *         (same device, same core) and offers /bench/bare on its
 *         telemetry socket with the counters the forwarder offers in
 *         /halb/stats (rx, tx, busy_tsc).
 *
 * Measuring: after a ramp, windows of --window-ms each; at every window
 * edge the generator reads its own counters and the device under test's
 * (DUT) counters over the DUT's telemetry socket, so that every window
 * gives a rate (frames back per second), the DUT's cycles per frame (busy
 * cycles / frames it received: a loop that handled frames counts its TSC
 * cycles as busy) and the DUT's busy share.  It also reads how long its
 * own thread and the DUT's polling thread were on a CPU (schedstat): a
 * window in which either lost its CPU to another process is not clean.
 * Windows go on until --windows were clean (or --max-windows); the
 * result is one line "RESULT {json}" with the medians of the clean ones.
 * A DUT without such counters (Open vSwitch: --dut-cmd none) gives the
 * rate and the CPU-share check only; its figures are null in the result.
 * For Open vSwitch, --dut-ovs reads the PMD thread's own counters instead
 * at every window edge (dpif-netdev/pmd-stats-show over ovs-vswitchd's
 * unixctl socket: packets received and processing cycles, the TSC cycles
 * of its iterations that received packets, as busy_tsc is halb's), so
 * that its cycles per frame come from the same clean windows.
 *
 * Frames are built per packet from a template (frames.h): no per-flow
 * memory, so N may be as large as the flow table.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "halb/pkt-t.h"
#include "halb/tlm.h"
#include "bare.h"
#include "frames.h"
#include "probe.h"
#include "stats.h"

#define BURST 32u
#define RX_BURST 64u
#define N_MBUFS 16383u
#define MAX_WINDOWS 64u

enum gen_mode { MODE_FAST, MODE_SYN, MODE_BIND, MODE_BARE };

struct opts {
	enum gen_mode mode;
	uint32_t flows;
	uint32_t vip;          /* network order */
	uint16_t dport;
	uint8_t dst_mac[6];
	bool warm;
	bool expect_flows;     /* wait for /halb/status flows >= N */
	uint32_t backoff_us;   /* syn mode and warm-up: sleep when blocked */
	bool linger;           /* after the result, wait for SIGTERM */
	uint32_t window;       /* syn mode and warm-up: frames outstanding */
	uint32_t windows, window_ms, ramp_ms;
	const char *go_file;
	const char *dut_prefix;
	const char *dut_cmd;
	bool no_dut;           /* --dut-cmd none: no DUT counters at all */
	uint16_t rx_queues;    /* receive queues polled (transmit: queue 0) */
	bool check_rx;         /* look at the first frame of every burst back */
	const char *dut_ovs;   /* ovs-vswitchd's unixctl socket: its PMD's counters */
	pid_t dut_pid;         /* the DUT's process, to check its CPU share */
	const char *dut_thread; /* its polling thread's name; NULL: main */
	double clean;          /* CPU share that makes a window clean */
	uint32_t max_windows;
};

/* What the DUT says about itself, from its telemetry. */
struct dut {
	uint64_t rx, tx, busy_tsc, hits, punts, fallbacks, installs;
	bool ok; /* --dut-ovs: this read got an answer */
};

struct gen {
	struct opts o;
	uint16_t port;
	struct rte_mempool *pool;
	struct bench_tmpl syn, ack;
	uint64_t sent, recv;
	uint64_t forgot;  /* given up as lost (they reopen the window) */
	/* frames built but not yet taken by the device */
	struct rte_mbuf *pend[BURST];
	uint32_t n_pend, pend_off;
	int tel_fd;
	int ovs_fd;       /* --dut-ovs: ovs-vswitchd's unixctl socket */
	uint32_t ovs_id;  /* JSON-RPC request id */
	double warm_syn_s, warm_ack_s; /* warm-up: installing, then ACKs */
	/* --check-rx: frames looked at, and how many were rewritten */
	uint8_t own_mac[6];
	uint64_t chk, chk_mac, chk_dst;
	/* bind mode: answers sent, and frames that were none of its steps
	 * (a RST, an ACK to a backend) */
	uint64_t answered, other;
};

static volatile bool quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = true;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL options] -- fast|syn|bind|bare [options]\n"
		"  --flows N          flows (fast: installed and cycled; syn: new ones)\n"
		"  --vip A.B.C.D      destination (default 198.18.2.100)\n"
		"  --dport P          destination port (default 80)\n"
		"  --dst-mac MAC      the DUT port's MAC\n"
		"  --warm             fast: install the flows first (SYNs, then ACKs)\n"
		"  --expect-flows     fast: after the SYNs, wait for /halb/status flows >= N\n"
		"  --window W         frames outstanding in syn mode and warm-up (512)\n"
		"  --backoff-us U     syn mode and warm-up: sleep U us when blocked, leaving a\n"
		"                     shared core to the classifier (0: spin)\n"
		"  --linger           after the result, wait for SIGTERM without polling, so\n"
		"                     that the DUT stops first (a memif peer that goes away\n"
		"                     while the other side polls may crash it)\n"
		"  --windows K --window-ms D --ramp-ms R   measuring: K clean windows of D ms\n"
		"                     after R ms (5, 400, 200)\n"
		"  --max-windows M    at most M windows in all (4 K)\n"
		"  --dut-pid PID --dut-thread NAME   the DUT's polling thread (NAME: its\n"
		"                     comm, e.g. lcore-worker-1; none: the main thread)\n"
		"  --clean F          a window is clean when the generator and the DUT\n"
		"                     were each on a CPU for F of it (0.8)\n"
		"  --go-file PATH     after warm-up print 'gen: warm' and wait for PATH\n"
		"  --dut-prefix P     DUT's DPDK file prefix (its telemetry socket)\n"
		"  --dut-cmd CMD      DUT's counters command (/halb/stats or /bench/bare;\n"
		"                     none: a DUT without them, rate only, no socket)\n"
		"  --rx-queues Q      receive on Q queues, send on queue 0 (1): a memif\n"
		"                     server that sends on another queue than 0 (OVS's PMD)\n"
		"                     needs the client to have that queue\n"
		"  --check-rx         look at the first frame of each burst that comes back:\n"
		"                     how many have another destination MAC than the\n"
		"                     generator's and another destination address or port\n"
		"                     than the VIP's (rx_checked, rx_mac_rewritten,\n"
		"                     rx_dst_rewritten in the result)\n"
		"  --dut-ovs CTL      the DUT is ovs-vswitchd: its PMD thread on CPU 1's\n"
		"                     counters (rx, processing cycles) from pmd-stats-show\n"
		"                     over its unixctl socket CTL (implies --dut-cmd none)\n",
		prog);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "flows", required_argument, NULL, 'n' },
		{ "vip", required_argument, NULL, 'v' },
		{ "dport", required_argument, NULL, 'd' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "warm", no_argument, NULL, 'w' },
		{ "expect-flows", no_argument, NULL, 'e' },
		{ "window", required_argument, NULL, 'W' },
		{ "backoff-us", required_argument, NULL, 'y' },
		{ "linger", no_argument, NULL, 'l' },
		{ "windows", required_argument, NULL, 'k' },
		{ "window-ms", required_argument, NULL, 'D' },
		{ "ramp-ms", required_argument, NULL, 'r' },
		{ "go-file", required_argument, NULL, 'g' },
		{ "dut-prefix", required_argument, NULL, 'p' },
		{ "dut-cmd", required_argument, NULL, 'c' },
		{ "dut-pid", required_argument, NULL, 'P' },
		{ "dut-thread", required_argument, NULL, 'T' },
		{ "clean", required_argument, NULL, 'C' },
		{ "max-windows", required_argument, NULL, 'M' },
		{ "rx-queues", required_argument, NULL, 'Q' },
		{ "check-rx", no_argument, NULL, 'X' },
		{ "dut-ovs", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	o->flows = 1000;
	bench_parse_ip4("198.18.2.100", &o->vip);
	o->dport = 80;
	o->window = 512;
	o->windows = 5;
	o->window_ms = 400;
	o->ramp_ms = 200;
	o->dut_cmd = "/halb/stats";
	o->clean = 0.8;
	o->rx_queues = 1;
	if (argc < 2)
		return -EINVAL;
	if (strcmp(argv[1], "fast") == 0)
		o->mode = MODE_FAST;
	else if (strcmp(argv[1], "syn") == 0)
		o->mode = MODE_SYN;
	else if (strcmp(argv[1], "bind") == 0)
		o->mode = MODE_BIND;
	else if (strcmp(argv[1], "bare") == 0)
		o->mode = MODE_BARE;
	else
		return -EINVAL;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			o->flows = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'v':
			if (bench_parse_ip4(optarg, &o->vip) != 0)
				return -EINVAL;
			break;
		case 'd':
			o->dport = (uint16_t)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			if (bench_parse_mac(optarg, o->dst_mac) != 0)
				return -EINVAL;
			break;
		case 'w':
			o->warm = true;
			break;
		case 'e':
			o->expect_flows = true;
			break;
		case 'W':
			o->window = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'y':
			o->backoff_us = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'l':
			o->linger = true;
			break;
		case 'k':
			o->windows = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'D':
			o->window_ms = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			o->ramp_ms = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'g':
			o->go_file = optarg;
			break;
		case 'p':
			o->dut_prefix = optarg;
			break;
		case 'c':
			o->dut_cmd = optarg;
			break;
		case 'P':
			o->dut_pid = (pid_t)strtol(optarg, NULL, 0);
			break;
		case 'T':
			o->dut_thread = optarg;
			break;
		case 'C':
			o->clean = strtod(optarg, NULL);
			break;
		case 'M':
			o->max_windows = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'Q':
			o->rx_queues = (uint16_t)strtoul(optarg, NULL, 0);
			break;
		case 'X':
			o->check_rx = true;
			break;
		case 'O':
			o->dut_ovs = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	if (o->dut_ovs != NULL)
		o->dut_cmd = "none";
	if (strcmp(o->dut_cmd, "none") == 0) {
		o->no_dut = true;
		o->dut_prefix = NULL;
		o->expect_flows = false;
	}
	if (o->max_windows == 0)
		o->max_windows = 4 * o->windows;
	if (o->max_windows > MAX_WINDOWS)
		o->max_windows = MAX_WINDOWS;
	if (o->flows == 0 || o->flows > BENCH_MAX_FLOWS || o->window == 0 ||
	    o->windows == 0 || o->windows > o->max_windows || o->window_ms == 0 ||
	    o->rx_queues == 0 || o->rx_queues > 8)
		return -EINVAL;
	return 0;
}

/* ---- Open vSwitch's counters (--dut-ovs) ---- */

/*
 * One JSON-RPC request on ovs-vswitchd's unixctl socket; returns its reply
 * (a static buffer: one JSON object whose "result" is the command's text)
 * or NULL.  The reply ends where the object's braces balance.
 */
static const char *
ovs_ctl_call(struct gen *g, const char *method, const char *params)
{
	static char buf[65536];
	char req[256];
	bool in_str = false, esc = false;
	size_t n = 0, i;
	int len, depth = 0;

	len = snprintf(req, sizeof(req), "{\"method\":\"%s\",\"params\":%s,\"id\":%u}",
		       method, params, ++g->ovs_id);
	if (g->ovs_fd < 0 || len <= 0 || (size_t)len >= sizeof(req) ||
	    write(g->ovs_fd, req, (size_t)len) != len)
		return NULL;
	while (n < sizeof(buf) - 1) {
		struct pollfd p = { .fd = g->ovs_fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 2000) <= 0)
			return NULL;
		r = read(g->ovs_fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			return NULL;
		for (i = n; i < n + (size_t)r; i++) {
			char c = buf[i];

			if (in_str) {
				if (esc)
					esc = false;
				else if (c == '\\')
					esc = true;
				else if (c == '"')
					in_str = false;
			} else if (c == '"') {
				in_str = true;
			} else if (c == '{') {
				depth++;
			} else if (c == '}' && --depth == 0) {
				buf[i + 1] = '\0';
				return buf;
			}
		}
		n += (size_t)r;
	}
	return NULL;
}

/* The number after `key` in a text reply, or 0. */
static uint64_t
text_u64(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p != NULL ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* The PMD thread on CPU 1: packets received and processing cycles. */
static void
ovs_read(struct gen *g, struct dut *d)
{
	const char *r = ovs_ctl_call(g, "dpif-netdev/pmd-stats-show", "[\"-pmd\",\"1\"]");

	if (r == NULL) {
		/* No answer in time: a late one must not be taken for the
		 * next, so the connection starts over. */
		close(g->ovs_fd);
		g->ovs_fd = probe_unix_connect(g->o.dut_ovs, SOCK_STREAM);
		return;
	}
	if (strstr(r, "core_id 1:") == NULL || strstr(r, "packets received: ") == NULL ||
	    strstr(r, "processing cycles: ") == NULL)
		return;
	d->rx = text_u64(r, "packets received: ");
	d->busy_tsc = text_u64(r, "processing cycles: ");
	d->ok = true;
}

/* The forwarder's reply to cmd (a static buffer), or NULL. */
static const char *
dut_query(const struct gen *g, const char *cmd)
{
	static char buf[65536];

	return tlm_query_raw(g->tel_fd, cmd, buf, sizeof(buf)) > 0 ? buf : NULL;
}

static void
dut_read(struct gen *g, struct dut *d)
{
	const char *r = dut_query(g, g->o.dut_cmd);

	memset(d, 0, sizeof(*d));
	if (g->o.dut_ovs != NULL && g->ovs_fd >= 0)
		ovs_read(g, d);
	if (r == NULL)
		return;
	d->rx = probe_json_u64(r, "rx");
	d->tx = probe_json_u64(r, "tx");
	d->busy_tsc = probe_json_u64(r, "busy_tsc");
	d->hits = probe_json_u64(r, "hits");
	d->punts = probe_json_u64(r, "punts");
	d->fallbacks = probe_json_u64(r, "fallbacks");
	d->installs = probe_json_u64(r, "installs");
}

static uint64_t
dut_flows(struct gen *g)
{
	const char *r = dut_query(g, "/halb/status");

	return r != NULL ? probe_json_u64(r, "flows") : 0;
}

/* ---- the port ---- */

static int
port_init(struct gen *g)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_link link;
	uint16_t nrx = 1024, ntx = 1024, nq = g->o.mode == MODE_BARE ? 1 : g->o.rx_queues, q;
	uint64_t end;
	int rc;

	if (rte_eth_dev_count_avail() != 1) {
		fprintf(stderr, "gen: expected exactly one port (--vdev)\n");
		return -ENODEV;
	}
	g->port = 0;
	g->pool = rte_pktmbuf_pool_create("gen_mbufs", N_MBUFS, 256, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (g->pool == NULL)
		return -ENOMEM;
	rc = rte_eth_dev_configure(g->port, nq, 1, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(g->port, &nrx, &ntx);
	for (q = 0; rc == 0 && q < nq; q++)
		rc = rte_eth_rx_queue_setup(g->port, q, nrx, rte_socket_id(), NULL,
					    g->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(g->port, 0, ntx, rte_socket_id(), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(g->port);
	if (rc != 0)
		return rc;
	/* A memif client needs its server: wait for the link.  The bare
	 * loop is the server and starts polling at once. */
	if (g->o.mode == MODE_BARE)
		return 0;
	end = rte_get_tsc_cycles() + rte_get_tsc_hz() * 20;
	do {
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(g->port, &link);
		if (link.link_status == RTE_ETH_LINK_UP)
			return 0;
		rte_delay_ms(10);
	} while (!quit && rte_get_tsc_cycles() < end);
	fprintf(stderr, "gen: link of port %u not up within 20 s\n", g->port);
	return -ETIMEDOUT;
}

/* ---- sending and receiving ---- */

/* --check-rx: one frame of a burst that came back. */
static void
check_frame(struct gen *g, const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t dst;
	uint16_t dport;

	if (rte_pktmbuf_data_len(m) < BENCH_FRAME_LEN || f[12] != 0x08 || f[13] != 0x00)
		return;
	memcpy(&dst, f + 30, 4);
	dport = (uint16_t)(f[36] << 8 | f[37]);
	g->chk++;
	g->chk_mac += memcmp(f, g->own_mac, 6) != 0;
	g->chk_dst += dst != g->o.vip || dport != g->o.dport;
}

/*
 * bind mode: answers what came back, in place (bench_bind_reply); counts
 * a binding (recv) when its request reaches the backend.  Returns the
 * frames handled.
 */
static uint32_t
bind_answer(struct gen *g, struct rte_mbuf **rx, uint16_t r)
{
	struct rte_mbuf *tx[RX_BURST], *drop[RX_BURST];
	uint16_t nt = 0, nd = 0, i, s;

	for (i = 0; i < r; i++) {
		struct rte_mbuf *m = rx[i];
		uint32_t len = 0;
		enum bench_bind_step st = BENCH_BIND_OTHER;

		if (m->nb_segs == 1 &&
		    (uint32_t)rte_pktmbuf_tailroom(m) + m->data_len >= BENCH_BIND_MAX_LEN)
			st = bench_bind_reply(rte_pktmbuf_mtod(m, uint8_t *),
					      m->data_len, g->o.vip, &len);
		if (st == BENCH_BIND_SEND) {
			m->data_len = (uint16_t)len;
			m->pkt_len = len;
			tx[nt++] = m;
			continue;
		}
		if (st == BENCH_BIND_DONE)
			g->recv++;
		else
			g->other++;
		drop[nd++] = m;
	}
	if (nt > 0) {
		s = rte_eth_tx_burst(g->port, 0, tx, nt);
		g->answered += s;
		if (s < nt)
			rte_pktmbuf_free_bulk(&tx[s], nt - s);
	}
	if (nd > 0)
		rte_pktmbuf_free_bulk(drop, nd);
	return r;
}

/*
 * One step: builds and sends frames of flows *next.. (up to `room`
 * frames, none past `limit`), wrapping at `wrap` when it is not 0;
 * then receives what came back.  Returns how many frames moved.
 */
static uint32_t
pump(struct gen *g, const struct bench_tmpl *t, uint32_t *next, uint32_t limit,
     uint32_t wrap, uint32_t room)
{
	struct rte_mbuf *rx[RX_BURST];
	uint32_t moved = 0, k, i;
	uint16_t s, r;

	if (g->n_pend == 0 && room > 0 && *next < limit) {
		k = BURST;
		if (k > room)
			k = room;
		if (!wrap && k > limit - *next)
			k = limit - *next;
		if (rte_pktmbuf_alloc_bulk(g->pool, g->pend, k) == 0) {
			for (i = 0; i < k; i++) {
				struct rte_mbuf *m = g->pend[i];

				bench_frame(rte_pktmbuf_mtod(m, uint8_t *), t, *next);
				m->data_len = BENCH_FRAME_LEN;
				m->pkt_len = BENCH_FRAME_LEN;
				if (++*next == wrap)
					*next = 0;
			}
			g->n_pend = k;
			g->pend_off = 0;
		}
	}
	if (g->n_pend > 0) {
		s = rte_eth_tx_burst(g->port, 0, &g->pend[g->pend_off],
				     (uint16_t)g->n_pend);
		g->pend_off += s;
		g->n_pend -= s;
		g->sent += s;
		moved += s;
	}
	r = rte_eth_rx_burst(g->port, 0, rx, RX_BURST);
	if (r > 0 && g->o.mode == MODE_BIND) {
		moved += bind_answer(g, rx, r);
	} else if (r > 0) {
		if (g->o.check_rx)
			check_frame(g, rx[0]);
		rte_pktmbuf_free_bulk(rx, r);
		g->recv += r;
		moved += r;
	}
	for (k = 1; k < g->o.rx_queues; k++) {
		r = rte_eth_rx_burst(g->port, (uint16_t)k, rx, RX_BURST);
		if (r > 0) {
			if (g->o.check_rx)
				check_frame(g, rx[0]);
			rte_pktmbuf_free_bulk(rx, r);
			g->recv += r;
			moved += r;
		}
	}
	return moved;
}

/* Frames that may still be sent under the window. */
static uint32_t
room(const struct gen *g)
{
	uint64_t out = g->sent + g->n_pend - g->recv - g->forgot;

	return out >= g->o.window ? 0 : (uint32_t)(g->o.window - out);
}

/*
 * Sends each of flows 0..N-1 once with template t, at most a window
 * outstanding, and waits (up to 2 s without progress) for them to come
 * back.  Returns how many came back.
 */
static uint64_t
one_pass(struct gen *g, const struct bench_tmpl *t)
{
	uint64_t recv0 = g->recv, hz = rte_get_tsc_hz(), last;
	uint32_t next = 0;

	last = rte_get_tsc_cycles();
	while (!quit) {
		uint32_t moved = pump(g, t, &next, g->o.flows, 0, room(g));

		if (moved > 0) {
			last = rte_get_tsc_cycles();
		} else {
			if (next >= g->o.flows && g->n_pend == 0 &&
			    g->recv - recv0 >= g->o.flows)
				break;
			if (rte_get_tsc_cycles() - last > 2 * hz) {
				/* Lost: forget them, so the window reopens. */
				g->forgot = g->sent + g->n_pend - g->recv;
				if (next >= g->o.flows)
					break;
				last = rte_get_tsc_cycles();
			}
			if (g->o.backoff_us)
				usleep(g->o.backoff_us);
		}
	}
	return g->recv - recv0;
}

/* Installs the N flows: SYNs until the DUT counts them, then ACKs. */
static int
warm_up(struct gen *g)
{
	uint64_t back = 0, flows = 0, t0 = rte_get_tsc_cycles(), t1;
	uint32_t pass, i;

	for (pass = 0; pass < 3 && !quit; pass++) {
		back = one_pass(g, &g->syn);
		if (!g->o.expect_flows)
			break;
		/* The classifier publishes its count every loop. */
		for (i = 0; i < 100; i++) {
			flows = dut_flows(g);
			if (flows >= g->o.flows)
				break;
			rte_delay_ms(20);
		}
		if (flows >= g->o.flows)
			break;
		fprintf(stderr, "gen: pass %u: %" PRIu64 " of %u SYNs back, %" PRIu64
			" flows installed: another pass\n",
			pass + 1, back, g->o.flows, flows);
	}
	t1 = rte_get_tsc_cycles();
	g->warm_syn_s = (double)(t1 - t0) / (double)rte_get_tsc_hz();
	back = one_pass(g, &g->ack);
	g->warm_ack_s = (double)(rte_get_tsc_cycles() - t1) / (double)rte_get_tsc_hz();
	fprintf(stderr, "gen: warm-up: %u flows, %" PRIu64 " flows installed in %.1f s, %" PRIu64
		" ACKs back in %.1f s\n",
		g->o.flows, flows, (double)(t1 - t0) / (double)rte_get_tsc_hz(), back,
		(double)(rte_get_tsc_cycles() - t1) / (double)rte_get_tsc_hz());
	if (g->o.expect_flows && flows < g->o.flows)
		return -EAGAIN;
	return 0;
}

static double
min_of(const double *v, uint32_t n)
{
	double m = n ? v[0] : 0;
	uint32_t i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static double
max_of(const double *v, uint32_t n)
{
	double m = n ? v[0] : 0;
	uint32_t i;

	for (i = 1; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/* Sends for `ms` without measuring; returns false when flows ran out. */
static bool
run_for(struct gen *g, const struct bench_tmpl *t, uint32_t *next, uint32_t ms)
{
	uint64_t end = rte_get_tsc_cycles() + rte_get_tsc_hz() / 1000 * ms;
	bool syn = g->o.mode == MODE_SYN || g->o.mode == MODE_BIND;
	uint32_t wrap = syn ? 0 : g->o.flows;

	while (!quit && rte_get_tsc_cycles() < end) {
		uint32_t moved = pump(g, t, next, g->o.flows, wrap,
				      syn ? room(g) : BURST);

		if (syn && *next >= g->o.flows && g->n_pend == 0)
			return false;
		if (syn && moved == 0 && g->o.backoff_us)
			usleep(g->o.backoff_us);
	}
	return true;
}

/* One measuring window. */
struct window {
	double mpps, tx_mpps, cyc, busy, inst, hits, gen_cpu, dut_cpu;
	bool clean;
};

/* pick_FIELD(): copies FIELD of the (clean) windows to out[]; returns
 * how many. */
#define PICK(field)                                                       \
	static uint32_t pick_##field(const struct window *w, uint32_t n,  \
				     bool clean_only, double *out)        \
	{                                                                 \
		uint32_t i, k = 0;                                        \
		for (i = 0; i < n; i++)                                   \
			if (!clean_only || w[i].clean)                    \
				out[k++] = w[i].field;                    \
		return k;                                                 \
	}
PICK(mpps)
PICK(tx_mpps)
PICK(cyc)
PICK(busy)
PICK(inst)
PICK(hits)
PICK(gen_cpu)
PICK(dut_cpu)

/*
 * Windows until --windows of them were clean (the generator's thread and
 * the DUT's thread each on a CPU for at least --clean of the window: on a
 * shared machine a window in which another process took a CPU measures
 * that process), or --max-windows.  Medians over the clean windows, or
 * over all of them (flagged "noisy") when fewer than two were clean.
 */
static void
measure(struct gen *g)
{
	const struct bench_tmpl *t = g->o.mode != MODE_FAST ? &g->syn : &g->ack;
	static struct window w[MAX_WINDOWS];
	double v[MAX_WINDOWS];
	uint64_t hz = rte_get_tsc_hz(), t0, t1, s0, r0, sent0, recv0;
	struct probe_sched gs0, gs1, ds0, ds1;
	pid_t self = getpid(), me = gettid(), dtid = 0;
	struct dut d0, d1, first;
	uint64_t chk0 = g->chk, chk_mac0 = g->chk_mac, chk_dst0 = g->chk_dst;
	uint32_t next = 0, n = 0, clean = 0, k;
	bool more, only_clean, have_sched;

	if (g->o.dut_pid > 0)
		dtid = probe_find_thread(g->o.dut_pid, g->o.dut_thread);
	if (g->o.dut_pid > 0 && dtid == 0)
		fprintf(stderr, "gen: no thread %s in process %d: windows not checked\n",
			g->o.dut_thread ? g->o.dut_thread : "(main)", (int)g->o.dut_pid);
	sent0 = g->sent;
	recv0 = g->recv;
	more = run_for(g, t, &next, g->o.ramp_ms);
	dut_read(g, &d0);
	first = d0;
	have_sched = dtid > 0 && probe_sched_read(self, me, &gs0) == 0 &&
		     probe_sched_read(g->o.dut_pid, dtid, &ds0) == 0;
	t0 = rte_get_tsc_cycles();
	s0 = g->sent;
	r0 = g->recv;
	while (n < g->o.max_windows && clean < g->o.windows && more && !quit) {
		struct window *x = &w[n];
		double secs, drx;

		more = run_for(g, t, &next, g->o.window_ms);
		dut_read(g, &d1);
		if (have_sched)
			have_sched = probe_sched_read(self, me, &gs1) == 0 &&
				     probe_sched_read(g->o.dut_pid, dtid, &ds1) == 0;
		t1 = rte_get_tsc_cycles();
		secs = (double)(t1 - t0) / (double)hz;
		drx = (double)(d1.rx - d0.rx);
		x->mpps = (double)(g->recv - r0) / secs / 1e6;
		x->tx_mpps = (double)(g->sent - s0) / secs / 1e6;
		x->cyc = drx > 0 ? (double)(d1.busy_tsc - d0.busy_tsc) / drx : 0;
		x->busy = (double)(d1.busy_tsc - d0.busy_tsc) / (double)(t1 - t0);
		x->inst = (double)(d1.installs - d0.installs) / secs;
		x->hits = drx > 0 ? (double)(d1.hits - d0.hits) / drx : 0;
		x->gen_cpu = have_sched ? (double)(gs1.run - gs0.run) / 1e9 / secs : 1;
		x->dut_cpu = have_sched ? (double)(ds1.run - ds0.run) / 1e9 / secs : 1;
		/* In syn mode the generator sleeps while its window is full:
		 * only the DUT thread's share (the classifier's) counts. */
		x->clean = (g->o.mode != MODE_FAST || x->gen_cpu >= g->o.clean) &&
			   x->dut_cpu >= g->o.clean;
		/* --dut-ovs: a window without both counter readings says
		 * nothing about cycles, and the machine stalled. */
		if (g->o.dut_ovs != NULL && d0.ok && d1.ok &&
		    (d1.rx < d0.rx || d1.busy_tsc < d0.busy_tsc)) {
			fprintf(stderr, "gen: OVS's counters went back (packets %" PRIu64
				" -> %" PRIu64 ", cycles %" PRIu64 " -> %" PRIu64 ")\n",
				d0.rx, d1.rx, d0.busy_tsc, d1.busy_tsc);
			d1.ok = false;
		}
		if (g->o.dut_ovs != NULL && (!d0.ok || !d1.ok)) {
			x->clean = false;
			x->cyc = 0;
			x->busy = 0;
		}
		clean += x->clean;
		if (g->o.no_dut && g->o.dut_ovs == NULL)
			fprintf(stderr, "gen: window %u: %.3f Mpps back, %.3f sent, on CPU: gen %.2f DUT %.2f%s\n",
				n + 1, x->mpps, x->tx_mpps, x->gen_cpu, x->dut_cpu,
				x->clean ? "" : " (not clean)");
		else
			fprintf(stderr, "gen: window %u: %.3f Mpps back, %.3f sent, DUT %.1f cycles/frame, busy %.2f, on CPU: gen %.2f DUT %.2f%s\n",
				n + 1, x->mpps, x->tx_mpps, x->cyc, x->busy, x->gen_cpu,
				x->dut_cpu, x->clean ? "" : " (not clean)");
		n++;
		d0 = d1;
		gs0 = gs1;
		ds0 = ds1;
		t0 = t1;
		s0 = g->sent;
		r0 = g->recv;
	}
	/* Let the last frames come back. */
	t1 = rte_get_tsc_cycles() + hz / 10;
	while (rte_get_tsc_cycles() < t1)
		pump(g, t, &next, 0, 0, 0);
	only_clean = clean >= 2;
	k = pick_mpps(w, n, only_clean, v);
	printf("RESULT {\"mode\": \"%s\", \"flows\": %u, \"windows\": %u, "
	       "\"clean_windows\": %u, \"noisy\": %s, \"window_ms\": %u, "
	       "\"mpps\": %.4f, \"mpps_min\": %.4f, \"mpps_max\": %.4f, ",
	       g->o.mode == MODE_SYN ? "syn" : g->o.mode == MODE_BIND ? "bind" : "fast",
	       g->o.flows, n, clean,
	       only_clean ? "false" : "true", g->o.window_ms, median(v, k),
	       min_of(v, k), max_of(v, k));
	k = pick_tx_mpps(w, n, only_clean, v);
	printf("\"tx_mpps\": %.4f, ", median(v, k));
	if (g->o.no_dut && g->o.dut_ovs != NULL) {
		/* Open vSwitch: cycles and busy share from its PMD's counters,
		 * of the windows that had both readings (cyc > 0). */
		uint32_t i;

		for (i = 0, k = 0; i < n; i++)
			if ((!only_clean || w[i].clean) && w[i].cyc > 0)
				v[k++] = w[i].cyc;
		if (k > 0)
			printf("\"cyc_per_pkt\": %.1f, ", median(v, k));
		else
			printf("\"cyc_per_pkt\": null, ");
		for (i = 0, k = 0; i < n; i++)
			if ((!only_clean || w[i].clean) && w[i].busy > 0)
				v[k++] = w[i].busy;
		printf("\"dut_busy\": %.3f, \"installs_per_s\": null, "
		       "\"hit_ratio\": null, \"dut_source\": \"ovs-pmd-stats\", ", median(v, k));
	} else if (g->o.no_dut) {
		/* Nothing measured them: absent, not zero. */
		printf("\"cyc_per_pkt\": null, \"dut_busy\": null, "
		       "\"installs_per_s\": null, \"hit_ratio\": null, ");
	} else {
		k = pick_cyc(w, n, only_clean, v);
		printf("\"cyc_per_pkt\": %.1f, ", median(v, k));
		k = pick_busy(w, n, only_clean, v);
		printf("\"dut_busy\": %.3f, ", median(v, k));
		k = pick_inst(w, n, only_clean, v);
		printf("\"installs_per_s\": %.0f, ", median(v, k));
		k = pick_hits(w, n, only_clean, v);
		printf("\"hit_ratio\": %.4f, ", median(v, k));
	}
	k = pick_gen_cpu(w, n, false, v);
	printf("\"gen_cpu\": %.3f, ", median(v, k));
	k = pick_dut_cpu(w, n, false, v);
	printf("\"dut_cpu\": %.3f, ", median(v, k));
	printf("\"sent\": %" PRIu64 ", \"recv\": %" PRIu64 ", ",
	       g->sent - sent0, g->recv - recv0);
	if (g->o.mode == MODE_BIND)
		printf("\"answered\": %" PRIu64 ", \"other\": %" PRIu64 ", ",
		       g->answered, g->other);
	if (g->o.no_dut)
		printf("\"dut_punts\": null, \"dut_fallbacks\": null, ");
	else
		printf("\"dut_punts\": %" PRIu64 ", \"dut_fallbacks\": %" PRIu64 ", ",
		       d0.punts - first.punts, d0.fallbacks - first.fallbacks);
	if (g->o.check_rx)
		printf("\"rx_checked\": %" PRIu64 ", \"rx_mac_rewritten\": %" PRIu64
		       ", \"rx_dst_rewritten\": %" PRIu64 ", ",
		       g->chk - chk0, g->chk_mac - chk_mac0, g->chk_dst - chk_dst0);
	printf("\"tsc_hz\": %" PRIu64 ", \"warm_syn_s\": %.2f, \"warm_ack_s\": %.2f}\n",
	       hz, g->warm_syn_s, g->warm_ack_s);
	fflush(stdout);
}

static void
wait_go(const char *path)
{
	struct stat st;

	printf("gen: warm\n");
	fflush(stdout);
	while (!quit && stat(path, &st) != 0)
		usleep(10000);
}

int
main(int argc, char **argv)
{
	static struct gen g;
	uint8_t src_mac[6];
	struct rte_ether_addr mac;
	int n, rc = 1;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "gen: EAL initialisation failed\n");
		return 1;
	}
	argc -= n;
	argv += n;
	if (parse_opts(argc, argv, &g.o) != 0) {
		usage(argv[0]);
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* A DUT that closes its socket (telemetry, unixctl) fails a write,
	 * which the readers handle; it must not end the generator. */
	signal(SIGPIPE, SIG_IGN);
	g.tel_fd = -1;
	g.ovs_fd = -1;
	if (port_init(&g) != 0) {
		fprintf(stderr, "gen: port setup failed\n");
		goto out;
	}
	rte_eth_macaddr_get(g.port, &mac);
	memcpy(src_mac, mac.addr_bytes, 6);
	memcpy(g.own_mac, src_mac, 6);
	if (g.o.mode == MODE_BARE) {
		if (bare_telemetry_init() != 0)
			fprintf(stderr, "gen: /bench/bare not registered\n");
		printf("gen: bare ready\n");
		fflush(stdout);
		bare_loop(g.port, &quit);
		rc = 0;
		goto out;
	}
	bench_tmpl_init(&g.syn, src_mac, g.o.dst_mac, g.o.vip, g.o.dport, PKT_TCP_SYN);
	bench_tmpl_init(&g.ack, src_mac, g.o.dst_mac, g.o.vip, g.o.dport, PKT_TCP_ACK);
	if (g.o.dut_prefix != NULL) {
		char path[128];

		g.tel_fd = tlm_open(g.o.dut_prefix, path, sizeof(path));
		if (g.tel_fd < 0) {
			fprintf(stderr, "gen: cannot reach %s: %s\n", path,
				strerror(-g.tel_fd));
			goto out;
		}
	}
	if (g.o.dut_ovs != NULL) {
		g.ovs_fd = probe_unix_connect(g.o.dut_ovs, SOCK_STREAM);
		if (g.ovs_fd < 0)
			goto out;
	}
	if (g.o.mode == MODE_FAST && g.o.warm && warm_up(&g) != 0) {
		fprintf(stderr, "gen: the flows did not all install\n");
		goto out;
	}
	if (g.o.go_file != NULL)
		wait_go(g.o.go_file);
	if (!quit)
		measure(&g);
	rc = quit ? 1 : 0;
	while (g.o.linger && !quit)
		usleep(10000);
out:
	if (g.tel_fd >= 0)
		close(g.tel_fd);
	if (g.ovs_fd >= 0)
		close(g.ovs_fd);
	if (g.n_pend > 0)
		rte_pktmbuf_free_bulk(&g.pend[g.pend_off], g.n_pend);
	rte_eth_dev_stop(g.port);
	rte_eth_dev_close(g.port);
	rte_eal_cleanup();
	return rc;
}
