/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The metrics { } and log { } sections: where halb-exporter serves its
 * Prometheus text (docs/CONFIG.md, "metrics"), and how every program
 * logs (the level, and whether the DPDK-free ones write to syslog).
 * Both are optional; without them the exporter listens on
 * CFG_METRICS_PORT of the loopback and the programs log at info.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

/* As syslog's levels (halb/log.h); what log.level may say. */
static const char *const level_names[] = { "emerg", "alert", "crit", "err",
	"warning", "notice", "info", "debug", NULL };

const char *
cfg_log_level_name(unsigned int level)
{
	return level < 8 ? level_names[level] : "?";
}

int
cfg_log_level_parse(const char *s)
{
	unsigned int i;

	for (i = 0; level_names[i] != NULL; i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static void
load_metrics(const struct cfg_scope *root)
{
	static const char *const mkeys[] = { "listen", NULL };
	static const char *const lkeys[] = { "level", "dpdk_level", "syslog",
					     NULL };
	struct halb_cfg *cfg = root->ctx->cfg;
	const config_setting_t *s;
	struct cfg_scope sc;
	unsigned int v;
	int b;

	sc_group(root, "metrics", mkeys, &sc);
	cfg->metrics.has = sc.grp != NULL;
	halb_ip_from_v4(&cfg->metrics.listen_ip, htonl(0x7f000001u));
	cfg->metrics.listen_port = CFG_METRICS_PORT;
	sc_endpoint(&sc, "listen", false, &cfg->metrics.listen_ip,
		    &cfg->metrics.listen_port);

	sc_group(root, "log", lkeys, &sc);
	cfg->log.level = 6; /* info */
	cfg->log.dpdk_level = 6; /* info: what the DPDK programs always logged */
	v = cfg->log.level;
	if (sc_enum(&sc, "level", false, level_names, &v) != NULL)
		cfg->log.level = (uint8_t)v;
	v = cfg->log.dpdk_level;
	if (sc_enum(&sc, "dpdk_level", false, level_names, &v) != NULL)
		cfg->log.dpdk_level = (uint8_t)v;
	s = sc_member(&sc, "syslog", false);
	if (s != NULL) {
		b = config_setting_get_bool(s);
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			cfg_type_err(&sc, s, "syslog", "a boolean");
		else
			cfg->log.syslog = b != 0;
	}
}

const struct cfg_section cfg_section_metrics = {
	.name = "metrics",
	.keys = (const char *const[]){ "metrics", "log", NULL },
	.load = load_metrics,
};
