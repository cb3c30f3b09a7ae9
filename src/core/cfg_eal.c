/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The eal { } section: the EAL's lcores (one main, one per worker) and
 * file prefix, the classifier's lcore, and extra EAL arguments, of which
 * those the forwarder sets itself are refused.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

/*
 * Parses an EAL -l list ("0,1", "0-2", "0,2-3") into set.  Returns how many
 * lcores it names, or -EINVAL with the reason in why.
 */
static int
parse_lcores(const char *s, bool set[CFG_MAX_LCORE], char *why, size_t len)
{
	const char *p = s;
	unsigned long a, b, i;
	int n = 0;
	char *end;

	for (;;) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		a = strtoul(p, &end, 10);
		p = end;
		b = a;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (a >= CFG_MAX_LCORE || b >= CFG_MAX_LCORE) {
			snprintf(why, len, "lcore %lu out of range 0..%d",
				 a >= CFG_MAX_LCORE ? a : b, CFG_MAX_LCORE - 1);
			return -EINVAL;
		}
		if (b < a) {
			snprintf(why, len, "range %lu-%lu is backwards", a, b);
			return -EINVAL;
		}
		for (i = a; i <= b; i++) {
			if (set[i]) {
				snprintf(why, len, "lcore %lu listed twice", i);
				return -EINVAL;
			}
			set[i] = true;
			n++;
		}
		if (*p == '\0')
			return n;
		if (*p++ != ',')
			goto bad;
	}
bad:
	snprintf(why, len, "expected a list of lcore ids like \"0,1\" or \"0-2\"");
	return -EINVAL;
}

/* The EAL options halb sets itself, and where the operator sets them. */
static const struct {
	const char *opt;
	const char *instead;
} eal_owned[] = {
	{ "-l", "set in eal.lcores instead" },
	{ "-c", "set in eal.lcores instead" },
	{ "--lcores", "set in eal.lcores instead" },
	{ "--file-prefix", "set in eal.file_prefix instead" },
	{ "--proc-type", "each halb program sets its own" },
	{ "--huge-unlink", "halb-forwarder keeps its hugepage files while it runs, for the classifier, and removes them when it stops" },
	{ "--no-pci", "halb always passes it" },
	{ "--vdev", "set in ports[].vdev instead" },
};

static const char *
eal_owned_option(const char *arg)
{
	size_t i, n;

	for (i = 0; i < sizeof(eal_owned) / sizeof(eal_owned[0]); i++) {
		n = strlen(eal_owned[i].opt);
		if (strncmp(arg, eal_owned[i].opt, n) != 0)
			continue;
		/* "-l", "-l0,1"; "--lcores", "--lcores=0,1" */
		if (arg[n] == '\0' || (n == 2 && arg[1] != '-') ||
		    arg[n] == '=')
			return eal_owned[i].instead;
	}
	return NULL;
}

static void
load_eal_extra(const struct cfg_scope *sc)
{
	struct halb_cfg *cfg = sc->ctx->cfg;
	const config_setting_t *s, *e;
	const char *arg, *instead;
	unsigned int i, n;
	char name[96];

	s = sc_member(sc, "extra", false);
	if (s == NULL)
		return;
	cfg_key_name(sc, "extra", name, sizeof(name));
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(sc->ctx, s, "%s: expected an array [ \"...\", ... ], got %s",
			name, cfg_type_name(config_setting_type(s)));
		return;
	}
	n = (unsigned int)config_setting_length(s);
	if (n > CFG_MAX_EAL_ARGS) {
		cfg_err(sc->ctx, s, "%s: %u arguments, at most %d", name, n,
			CFG_MAX_EAL_ARGS);
		n = CFG_MAX_EAL_ARGS;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_err(sc->ctx, e, "%s[%u]: expected a string, got %s",
				name, i, cfg_type_name(config_setting_type(e)));
			continue;
		}
		arg = config_setting_get_string(e);
		if (arg[0] == '\0' || strlen(arg) >= CFG_ARG_LEN) {
			cfg_err(sc->ctx, e, "%s[%u]: must be 1 to %d characters",
				name, i, CFG_ARG_LEN - 1);
			continue;
		}
		instead = eal_owned_option(arg);
		if (instead != NULL) {
			cfg_err(sc->ctx, e, "%s[%u]: \"%s\" is set by halb: %s",
				name, i, arg, instead);
			continue;
		}
		snprintf(cfg->eal_extra[cfg->n_eal_extra++], CFG_ARG_LEN, "%s",
			 arg);
	}
}

static void
load_eal(const struct cfg_scope *root)
{
	static const char *const keys[] = { "file_prefix", "lcores",
		"classifier_lcore", "extra", NULL };
	struct halb_cfg *cfg = root->ctx->cfg;
	const config_setting_t *s_lc, *s_cl;
	bool set[CFG_MAX_LCORE] = { false };
	const char *lcores = "0,1";
	struct cfg_scope sc;
	long long v = 16;
	char why[96];
	int n;

	sc_group(root, "eal", keys, &sc);
	snprintf(cfg->file_prefix, sizeof(cfg->file_prefix), "halb");
	sc_ident(&sc, "file_prefix", false, cfg->file_prefix,
		 sizeof(cfg->file_prefix));

	s_lc = sc_str(&sc, "lcores", false, &lcores);
	n = parse_lcores(lcores, set, why, sizeof(why));
	if (n < 0) {
		cfg_err(sc.ctx, s_lc, "eal.lcores \"%s\": %s", lcores, why);
	} else if (strlen(lcores) >= sizeof(cfg->lcores)) {
		cfg_err(sc.ctx, s_lc, "eal.lcores: longer than %zu characters",
			sizeof(cfg->lcores) - 1);
		n = -EINVAL;
	} else if (n - 1 < 1 || n - 1 > CFG_MAX_WORKERS) {
		cfg_err(sc.ctx, s_lc,
			"eal.lcores \"%s\": %d worker lcores, expected 1..%d (the first lcore is the main one)",
			lcores, n - 1, CFG_MAX_WORKERS);
	} else {
		snprintf(cfg->lcores, sizeof(cfg->lcores), "%s", lcores);
		cfg->n_workers = (uint32_t)(n - 1);
	}

	s_cl = sc_int(&sc, "classifier_lcore", false, 0, CFG_MAX_LCORE - 1, &v);
	cfg->classifier_lcore = (uint32_t)v;
	if (n > 0 && set[v])
		cfg_err(sc.ctx, s_cl != NULL ? s_cl : s_lc,
			"eal.classifier_lcore %lld is in eal.lcores \"%s\": the classifier needs an lcore id of its own",
			v, lcores);

	load_eal_extra(&sc);
}


const struct cfg_section cfg_section_eal = {
	.name = "eal",
	.keys = (const char *const[]){ "eal", NULL },
	.load = load_eal,
};
