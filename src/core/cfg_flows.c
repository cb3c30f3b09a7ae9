/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flows { } section and the data plane's top-level numbers: flow
 * table size and idle timeouts, the poll loops' idle sleep, and how long
 * the workers wait for a silent classifier.
 */

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

static void
load_flows(const struct cfg_scope *root)
{
	static const char *const keys[] = { "entries", "tcp_syn_timeout",
		"tcp_timeout", "tcp_fin_timeout", "udp_timeout", NULL };
	struct halb_cfg *cfg = root->ctx->cfg;
	struct cfg_scope sc;
	long long v = 65536;

	sc_group(root, "flows", keys, &sc);
	sc_int(&sc, "entries", false, 1024, 67108864, &v);
	cfg->flow_entries = (uint32_t)v;
	cfg->tcp_syn_timeout_ms = 5000;
	cfg->tcp_timeout_ms = 300000;
	cfg->tcp_fin_timeout_ms = 10000;
	cfg->udp_timeout_ms = 30000;
	sc_seconds(&sc, "tcp_syn_timeout", &cfg->tcp_syn_timeout_ms);
	sc_seconds(&sc, "tcp_timeout", &cfg->tcp_timeout_ms);
	sc_seconds(&sc, "tcp_fin_timeout", &cfg->tcp_fin_timeout_ms);
	sc_seconds(&sc, "udp_timeout", &cfg->udp_timeout_ms);
}


static void
load_dataplane(const struct cfg_scope *root)
{
	long long v;

	load_flows(root);
	v = 100;
	sc_int(root, "idle_sleep_us", false, 0, 100000, &v);
	root->ctx->cfg->idle_sleep_us = (uint32_t)v;
	v = 300;
	sc_int(root, "classifier_timeout_ms", false, 10, 60000, &v);
	root->ctx->cfg->classifier_timeout_ms = (uint32_t)v;
}

const struct cfg_section cfg_section_flows = {
	.name = "flows",
	.keys = (const char *const[]){ "flows", "idle_sleep_us",
				       "classifier_timeout_ms", NULL },
	.load = load_dataplane,
};
