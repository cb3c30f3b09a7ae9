/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ha { } section: what halb-had, the HA daemon, runs and how it
 * judges it (docs/CONFIG.md, "ha"; docs/RELIABILITY.md).  One group per
 * kind of part (halb/ha-list.h), each optional, each key with a default,
 * so that a file without ha { } has halb-had run the forwarder, the
 * classifier once the forwarder is ready, and halb-healthd when the file
 * has a health section, all from SBINDIR with this same -c FILE.
 *
 * Read last: the default control socket is named after eal.file_prefix,
 * healthd is wanted only with a health section, sessiond with a sessions
 * section, BIRD with a bgp section (whose socket its command names).  Like every section,
 * every mistake is one "FILE:LINE: message" and loading goes on; the
 * order of the parts' `after` is checked for cycles once all are read.
 */
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

#ifndef HALB_SBINDIR
#define HALB_SBINDIR "/usr/sbin"
#endif

#define HA_POLL_MS 20
#define HA_START_TIMEOUT_MS 30000
#define HA_STOP_TIMEOUT_MS 10000
#define HA_BACKOFF_MS 100
#define HA_BACKOFF_MAX_MS 10000
#define HA_MAX_FAILURES_DEFAULT 5
#define HA_WINDOW_MS 60000
#define HA_DRAIN_TIMEOUT_MS 30000
#define HA_DRAIN_QUIET_MS 500
#define HA_DRAIN_IDLE_PPS 20
#define HA_BIRD_PROG "/usr/sbin/bird" /* Debian's bird2 */

struct ha_kind {
	const char *name, *prog;
	uint32_t timeout_ms, after, bound;
};

static const struct ha_kind kinds[HA_PARTS] = {
#define HA_PART(e, n, prog, tmo, aft, bnd, wanted, probe) \
	[HA_PART_##e] = { #n, prog, tmo, aft, bnd },
#include "halb/ha-list.h"
#undef HA_PART
};

const char *
cfg_ha_part_name(unsigned int part)
{
	return part < HA_PARTS ? kinds[part].name : "?";
}

int
cfg_ha_part_parse(const char *name)
{
	unsigned int i;

	for (i = 0; i < HA_PARTS; i++)
		if (strcmp(name, kinds[i].name) == 0)
			return (int)i;
	return -1;
}

/* Whether the part runs by default (ha-list.h's last column). */
static bool
wanted(const struct halb_cfg *cfg, unsigned int part)
{
	switch (part) {
#define HA_PART(e, n, prog, tmo, aft, bnd, want, probe) \
	case HA_PART_##e: return (want);
#include "halb/ha-list.h"
#undef HA_PART
	default:
		return false;
	}
}

static void
load_command(struct cfg_scope *sc, struct cfg_ha_part *p)
{
	const config_setting_t *s, *e;
	const char *arg;
	unsigned int i, n;
	char name[96];

	s = sc_member(sc, "command", false);
	if (s == NULL)
		return;
	cfg_key_name(sc, "command", name, sizeof(name));
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(sc->ctx, s, "%s: expected an array [ \"/path/program\", \"arg\", ... ], got %s",
			name, cfg_type_name(config_setting_type(s)));
		return;
	}
	n = (unsigned int)config_setting_length(s);
	if (n == 0 || n > HA_MAX_ARGS) {
		cfg_err(sc->ctx, s, "%s: %u words, expected 1..%d", name, n,
			HA_MAX_ARGS);
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_err(sc->ctx, e, "%s[%u]: expected a string, got %s",
				name, i, cfg_type_name(config_setting_type(e)));
			return;
		}
		arg = config_setting_get_string(e);
		if (strlen(arg) >= CFG_ARG_LEN) {
			cfg_err(sc->ctx, e, "%s[%u]: longer than %d characters",
				name, i, CFG_ARG_LEN - 1);
			return;
		}
		/* halb-had execs it without a shell or a PATH search, and
		 * knows it by its pid: the program itself, absolute. */
		if (i == 0 && arg[0] != '/') {
			cfg_err(sc->ctx, e, "%s[0]: \"%s\" must be an absolute path (the program is run without a shell or PATH)",
				name, arg);
			return;
		}
	}
	for (i = 0; i < n; i++)
		snprintf(p->argv[i], CFG_ARG_LEN, "%s",
			 config_setting_get_string(config_setting_get_elem(s, i)));
	p->argc = n;
	p->with_config = false;
}

static void
load_after(struct cfg_scope *sc, unsigned int part, struct cfg_ha_part *p)
{
	const config_setting_t *s, *e;
	unsigned int i, n;
	char name[96];
	int d;

	s = sc_member(sc, "after", false);
	if (s == NULL)
		return;
	cfg_key_name(sc, "after", name, sizeof(name));
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(sc->ctx, s, "%s: expected an array of part names [ \"forwarder\", ... ], got %s",
			name, cfg_type_name(config_setting_type(s)));
		return;
	}
	p->after = 0;
	n = (unsigned int)config_setting_length(s);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		d = config_setting_type(e) == CONFIG_TYPE_STRING ?
			cfg_ha_part_parse(config_setting_get_string(e)) : -1;
		if (d < 0) {
			char all[HA_PARTS * 24] = "";
			unsigned int k;

			/* The table's names, whatever lines it has. */
			for (k = 0; k < HA_PARTS; k++)
				snprintf(all + strlen(all), sizeof(all) - strlen(all),
					 "%s%s", k ? ", " : "", kinds[k].name);
			cfg_err(sc->ctx, e, "%s[%u]: not a part (%s)", name, i,
				all);
			continue;
		}
		if ((unsigned int)d == part) {
			cfg_err(sc->ctx, e, "%s[%u]: a part cannot wait for itself",
				name, i);
			continue;
		}
		p->after |= 1u << d;
	}
	for (i = 0; i < HA_PARTS; i++)
		if ((p->bound & (1u << i)) && !(p->after & (1u << i)))
			cfg_err(sc->ctx, s, "%s: must name %s: %s lives in its shared memory",
				name, kinds[i].name, kinds[part].name);
}

static void
load_part(const struct cfg_scope *ha, unsigned int part)
{
	static const char *const keys[] = { "enabled", "command", "timeout_ms",
		"start_timeout_ms", "stop_timeout_ms", "backoff_ms",
		"backoff_max_ms", "max_failures", "failure_window_ms", "after",
		NULL };
	struct halb_cfg *cfg = ha->ctx->cfg;
	struct cfg_ha_part *p = &cfg->ha.parts[part];
	const config_setting_t *s;
	struct cfg_scope sc;
	long long v;
	char name[96];

	*p = (struct cfg_ha_part){
		.enabled = wanted(cfg, part),
		.argc = 1,
		.with_config = true,
		.timeout_ms = kinds[part].timeout_ms,
		.start_timeout_ms = HA_START_TIMEOUT_MS,
		.stop_timeout_ms = HA_STOP_TIMEOUT_MS,
		.backoff_ms = HA_BACKOFF_MS,
		.backoff_max_ms = HA_BACKOFF_MAX_MS,
		.max_failures = HA_MAX_FAILURES_DEFAULT,
		.window_ms = HA_WINDOW_MS,
		.after = kinds[part].after,
		.bound = kinds[part].bound,
	};
	snprintf(p->argv[0], CFG_ARG_LEN, "%s/%s", HALB_SBINDIR,
		 kinds[part].prog);
	/* A halb-healthd listening on a port's own address can bind it only
	 * once the forwarder's kernel interface (ports[].kernel) carries it
	 * (the fabric's appliances): it waits for the forwarder. */
	if (part == HA_PART_HEALTHD && cfg->has_health &&
	    cfg_own_address_port(cfg, &cfg->health.listen_ip) >= 0)
		p->after |= HA_BIT(FORWARDER);
	if (part == HA_PART_BIRD) {
		/* Not ours: in the foreground (its pid is the one halb-had
		 * watches), on the file halb-had writes from bgp { }, with
		 * the control socket halb-had and halbctl talk to, and a
		 * pid file for a restarted halb-had to adopt it by. */
		const char *const a[] = { HA_BIRD_PROG, "-f", "-c",
			cfg->ha.bird_file, "-s", cfg->bgp.socket, "-P",
			cfg->ha.bird_pid_file };
		unsigned int k;

		for (k = 0; k < sizeof(a) / sizeof(a[0]); k++)
			snprintf(p->argv[k], CFG_ARG_LEN, "%s", a[k]);
		p->argc = k;
		p->with_config = false;
	}

	sc_group(ha, kinds[part].name, keys, &sc);
	if (sc.grp == NULL)
		return;
	p->line = (int)cfg_setting_line(sc.grp);
	s = sc_member(&sc, "enabled", false);
	if (s != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			cfg_type_err(&sc, s, "enabled", "a boolean");
		else
			p->enabled = config_setting_get_bool(s) != 0;
	}
	load_command(&sc, p);
	v = p->timeout_ms;
	s = sc_int(&sc, "timeout_ms", false, 20, 600000, &v);
	p->timeout_ms = (uint32_t)v;
	if (s != NULL && p->timeout_ms < 2 * cfg->ha.poll_ms)
		cfg_err(ha->ctx, s, "%s: %u ms is less than two of ha.poll_ms (%u ms): a hung part would be judged on one look",
			cfg_key_name(&sc, "timeout_ms", name, sizeof(name)),
			p->timeout_ms, cfg->ha.poll_ms);
	v = p->start_timeout_ms;
	sc_int(&sc, "start_timeout_ms", false, 100, 3600000, &v);
	p->start_timeout_ms = (uint32_t)v;
	v = p->stop_timeout_ms;
	sc_int(&sc, "stop_timeout_ms", false, 100, 600000, &v);
	p->stop_timeout_ms = (uint32_t)v;
	v = p->backoff_ms;
	sc_int(&sc, "backoff_ms", false, 0, 3600000, &v);
	p->backoff_ms = (uint32_t)v;
	v = p->backoff_max_ms;
	s = sc_int(&sc, "backoff_max_ms", false, 0, 3600000, &v);
	p->backoff_max_ms = (uint32_t)v;
	if (p->backoff_max_ms < p->backoff_ms)
		cfg_err(ha->ctx, s != NULL ? s : sc.grp,
			"%s: %u ms is less than backoff_ms (%u ms)",
			cfg_key_name(&sc, "backoff_max_ms", name, sizeof(name)),
			p->backoff_max_ms, p->backoff_ms);
	v = p->max_failures;
	sc_int(&sc, "max_failures", false, 1, HA_MAX_FAILURES, &v);
	p->max_failures = (uint32_t)v;
	v = p->window_ms;
	sc_int(&sc, "failure_window_ms", false, 1000, 86400000, &v);
	p->window_ms = (uint32_t)v;
	load_after(&sc, part, p);
}

/* The parts' after must leave an order to start them in. */
static void
check_cycles(const struct cfg_scope *ha)
{
	struct cfg_ha *h = &ha->ctx->cfg->ha;
	uint32_t done = 0, left;
	unsigned int i;
	bool moved = true;

	while (moved) {
		moved = false;
		for (i = 0; i < HA_PARTS; i++)
			if (!(done & (1u << i)) &&
			    (h->parts[i].after & ~done) == 0) {
				done |= 1u << i;
				moved = true;
			}
	}
	left = ~done & ((1u << HA_PARTS) - 1);
	for (i = 0; i < HA_PARTS; i++)
		if (left & (1u << i)) {
			cfg_err(ha->ctx, ha->grp,
				"ha.%s.after: the parts wait for each other in a cycle",
				kinds[i].name);
			return;
		}
}

static void
load_ha(const struct cfg_scope *root)
{
	static const char *const keys[] = { "poll_ms", "status_socket",
		"drain_timeout_ms", "drain_quiet_ms", "drain_idle_pps",
#define HA_PART(e, n, prog, tmo, aft, bnd, wanted, probe) #n,
#include "halb/ha-list.h"
#undef HA_PART
		NULL };
	struct halb_cfg *cfg = root->ctx->cfg;
	struct cfg_scope sc;
	unsigned int i;
	long long v;

	sc_group(root, "ha", keys, &sc);
	cfg->ha.line = sc.grp != NULL ? (int)cfg_setting_line(sc.grp) : 0;
	v = HA_POLL_MS;
	sc_int(&sc, "poll_ms", false, 20, 1000, &v);
	cfg->ha.poll_ms = (uint32_t)v;
	snprintf(cfg->ha.status_socket, sizeof(cfg->ha.status_socket),
		 "%s/%.64s.had.sock", "/run/halb", cfg->file_prefix);
	sc_sockpath(&sc, "status_socket", cfg->ha.status_socket);
	snprintf(cfg->ha.bird_file, sizeof(cfg->ha.bird_file),
		 "/run/halb/%.64s/bird.conf", cfg->file_prefix);
	snprintf(cfg->ha.bird_pid_file, sizeof(cfg->ha.bird_pid_file),
		 "/run/halb/%.64s/bird.pid", cfg->file_prefix);
	v = HA_DRAIN_TIMEOUT_MS;
	sc_int(&sc, "drain_timeout_ms", false, 0, 3600000, &v);
	cfg->ha.drain_timeout_ms = (uint32_t)v;
	v = HA_DRAIN_QUIET_MS;
	sc_int(&sc, "drain_quiet_ms", false, 0, 600000, &v);
	cfg->ha.drain_quiet_ms = (uint32_t)v;
	v = HA_DRAIN_IDLE_PPS;
	sc_int(&sc, "drain_idle_pps", false, 0, 100000000, &v);
	cfg->ha.drain_idle_pps = (uint32_t)v;
	for (i = 0; i < HA_PARTS; i++)
		load_part(&sc, i);
	if (sc.grp != NULL)
		check_cycles(&sc);
}

const struct cfg_section cfg_section_ha = {
	.name = "ha",
	.keys = (const char *const[]){ "ha", NULL },
	.load = load_ha,
};
