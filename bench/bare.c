/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bare loop of halb-bench-gen (`bare` mode): the floor the forwarder
 * is measured against.  It receives a burst, swaps the Ethernet addresses
 * of each frame and sends the burst back, on the device and the CPU the
 * forwarder's worker would have, and keeps the counters the worker keeps
 * (rx, tx, busy_tsc: TSC cycles of the loops that handled frames), plain
 * stores by this lcore that /bench/bare on the telemetry socket reads.
 */
#include <stdbool.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_telemetry.h>

#include "bare.h"

#define BARE_BURST 32u

static struct {
	uint64_t rx, tx, busy_tsc;
} bare_st;

static int
tel_bare(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx", bare_st.rx);
	rte_tel_data_add_dict_u64(d, "tx", bare_st.tx);
	rte_tel_data_add_dict_u64(d, "busy_tsc", bare_st.busy_tsc);
	rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
	return 0;
}

int
bare_telemetry_init(void)
{
	return rte_telemetry_register_cmd("/bench/bare", tel_bare,
					  "Bare loop counters: rx, tx, busy_tsc");
}

static void
swap_macs(struct rte_mbuf *m)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *), t[6];

	memcpy(t, f, 6);
	memcpy(f, f + 6, 6);
	memcpy(f + 6, t, 6);
}

void
bare_loop(uint16_t port, const volatile bool *quit)
{
	struct rte_mbuf *pkts[BARE_BURST];
	uint16_t n, s, i;

	while (!*quit) {
		uint64_t t0 = rte_rdtsc();

		n = rte_eth_rx_burst(port, 0, pkts, BARE_BURST);
		if (n == 0)
			continue;
		for (i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			swap_macs(pkts[i]);
		}
		s = rte_eth_tx_burst(port, 0, pkts, n);
		if (s < n)
			rte_pktmbuf_free_bulk(&pkts[s], n - s);
		bare_st.rx += n;
		bare_st.tx += s;
		bare_st.busy_tsc += rte_rdtsc() - t0;
	}
}
