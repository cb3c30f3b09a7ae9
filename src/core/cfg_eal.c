/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The eal { } section: the EAL's lcores (one main, one per worker) and
 * file prefix, the classifier's lcore and CPUs, and extra EAL arguments,
 * of which those halb sets itself are refused; and the EAL command line
 * that the forwarder and the classifier build from it (cfg_eal_argv),
 * the one place that decides which devices the EAL may touch.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "cfg_priv.h"

/*
 * Parses an EAL -l list ("0,1", "0-2", "0,2-3") of ids below max (lcores,
 * or CPUs: what) into set.  Returns how many ids it names, or -EINVAL
 * with the reason in why.
 */
static int
parse_ids(const char *s, bool *set, unsigned long max, const char *what,
	  char *why, size_t len)
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
		if (a >= max || b >= max) {
			snprintf(why, len, "%s %lu out of range 0..%lu", what,
				 a >= max ? a : b, max - 1);
			return -EINVAL;
		}
		if (b < a) {
			snprintf(why, len, "range %lu-%lu is backwards", a, b);
			return -EINVAL;
		}
		for (i = a; i <= b; i++) {
			if (set[i]) {
				snprintf(why, len, "%s %lu listed twice", what, i);
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
	snprintf(why, len, "expected a list of %s ids like \"0,1\" or \"0-2\"",
		 what);
	return -EINVAL;
}

static int
parse_lcores(const char *s, bool set[CFG_MAX_LCORE], char *why, size_t len)
{
	return parse_ids(s, set, CFG_MAX_LCORE, "lcore", why, len);
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
	{ "--no-pci", "halb passes it when no port names a PCI device" },
	{ "--vdev", "set in ports[].vdev instead" },
	{ "-a", "set in ports[].pci instead: halb allows exactly the PCI devices its ports name" },
	{ "--allow", "set in ports[].pci instead: halb allows exactly the PCI devices its ports name" },
	{ "-b", "halb allows only the PCI devices its ports name: nothing to block" },
	{ "--block", "halb allows only the PCI devices its ports name: nothing to block" },
	{ "-w", "set in ports[].pci instead" },
	{ "--pci-whitelist", "set in ports[].pci instead" },
	{ "--pci-blacklist", "halb allows only the PCI devices its ports name: nothing to block" },
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

/* A CPU list key into out (CFG_CPUS_LEN) and set (when not NULL).
 * Returns its setting, or NULL when absent or bad (reported). */
static const config_setting_t *
load_cpus(const struct cfg_scope *sc, const char *key, char *out, bool *set)
{
	bool mine[CFG_MAX_CPU] = { false };
	const config_setting_t *s;
	const char *v = NULL;
	char why[96];

	s = sc_str(sc, key, false, &v);
	if (s == NULL)
		return NULL;
	if (strlen(v) >= CFG_CPUS_LEN) {
		cfg_err(sc->ctx, s, "eal.%s: longer than %d characters", key,
			CFG_CPUS_LEN - 1);
		return NULL;
	}
	if (parse_ids(v, set != NULL ? set : mine, CFG_MAX_CPU, "CPU", why,
		      sizeof(why)) < 0) {
		cfg_err(sc->ctx, s, "eal.%s \"%s\": %s", key, v, why);
		return NULL;
	}
	snprintf(out, CFG_CPUS_LEN, "%s", v);
	return s;
}

/*
 * eal.classifier_cpus: the CPUs the classifier's lcore may run on (the
 * EAL's --lcores ID@(CPUS)).  With -l, an lcore id is the CPU of that
 * number, so a worker lcore's CPU is refused: the classifier would take
 * turns with a poll-mode worker.  The main lcore mostly sleeps (it
 * beats every 10 ms) and may share.  lcores: the forwarder's lcore set,
 * or NULL when eal.lcores was bad or eal.forwarder_cpus moves the
 * lcores off the CPUs of their numbers (nothing is compared then).
 */
static void
load_classifier_cpus(const struct cfg_scope *sc, const bool *lcores)
{
	struct halb_cfg *cfg = sc->ctx->cfg;
	const config_setting_t *s;
	bool set[CFG_MAX_CPU] = { false };
	unsigned int cpu, main_lc = 0;

	s = load_cpus(sc, "classifier_cpus", cfg->classifier_cpus, set);
	if (s == NULL)
		return;
	/* The EAL's main lcore is the lowest of the list. */
	while (lcores != NULL && main_lc < CFG_MAX_LCORE && !lcores[main_lc])
		main_lc++;
	for (cpu = main_lc + 1; lcores != NULL && cpu < CFG_MAX_LCORE; cpu++) {
		if (!lcores[cpu] || !set[cpu])
			continue;
		cfg_err(sc->ctx, s,
			"eal.classifier_cpus \"%s\": CPU %u runs worker lcore %u (eal.lcores \"%s\"): give the classifier CPUs of its own",
			cfg->classifier_cpus, cpu, cpu, cfg->lcores);
		cfg->classifier_cpus[0] = '\0';
		return;
	}
}

static void
load_eal(const struct cfg_scope *root)
{
	static const char *const keys[] = { "file_prefix", "lcores",
		"classifier_lcore", "classifier_cpus", "forwarder_cpus", "extra",
		NULL };
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

	load_cpus(&sc, "forwarder_cpus", cfg->forwarder_cpus, NULL);
	load_classifier_cpus(&sc, n > 0 && cfg->forwarder_cpus[0] == '\0' ?
			     set : NULL);
	load_eal_extra(&sc);
}

/*
 * The EAL command line (halb/cfg.h).  What touches devices is decided
 * here and only here: --no-pci when no port names a PCI device, so that
 * nothing on the PCI bus is probed; otherwise one -a per named device,
 * which allows those and nothing else (an allow-list stops the EAL from
 * probing the rest of the bus).  The classifier, a secondary, gets the
 * same allow-list so that its view of the bus (and the IOVA mode derived
 * from it) matches the primary's; it never uses a port.
 */
static int
eal_add(struct cfg_eal_argv *a, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->argc >= CFG_EAL_MAX_ARGS)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(a->buf + *off, sizeof(a->buf) - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->buf) - *off)
		return -ENOSPC;
	a->argv[a->argc++] = a->buf + *off;
	a->argv[a->argc] = NULL;
	*off += (size_t)n + 1;
	return 0;
}

bool
cfg_has_pci(const struct halb_cfg *cfg)
{
	uint32_t i;

	for (i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].pci[0] != '\0')
			return true;
	return false;
}

int
cfg_eal_argv(const struct halb_cfg *cfg, enum cfg_eal_role role,
	     const char *prog, const char *allowed_cpus, struct cfg_eal_argv *a)
{
	const char *cpus = cfg->classifier_cpus;
	size_t off = 0;
	uint32_t i;
	int rc = 0;

	a->argc = 0;
	a->argv[0] = NULL;
	rc |= eal_add(a, &off, "%s", prog);
	if (role == CFG_EAL_PRIMARY && cfg->forwarder_cpus[0] != '\0') {
		/* Every lcore floats on the given CPUs (rigs with fewer
		 * CPUs than lcores); the main lcore is still the lowest. */
		rc |= eal_add(a, &off, "--lcores=(%s)@(%s)", cfg->lcores,
			      cfg->forwarder_cpus);
	} else if (role == CFG_EAL_PRIMARY) {
		rc |= eal_add(a, &off, "-l");
		rc |= eal_add(a, &off, "%s", cfg->lcores);
	} else {
		/* The classifier's lcore id differs from the forwarder's
		 * (mempool caches are per lcore id); its CPUs are its own
		 * when eal.classifier_cpus says, else the caller's. */
		if (cpus[0] == '\0')
			cpus = allowed_cpus != NULL && allowed_cpus[0] != '\0' ?
			       allowed_cpus : "0";
		rc |= eal_add(a, &off, "--lcores=%u@(%s)", cfg->classifier_lcore,
			      cpus);
	}
	rc |= eal_add(a, &off, "--file-prefix=%s", cfg->file_prefix);
	if (role == CFG_EAL_PRIMARY) {
		rc |= eal_add(a, &off, "--proc-type=primary");
		/* Keep hugepage files while running so the classifier can
		 * map them; remove leftovers of a previous run first. */
		rc |= eal_add(a, &off, "--huge-unlink=existing");
	} else {
		rc |= eal_add(a, &off, "--proc-type=secondary");
	}
	if (!cfg_has_pci(cfg))
		rc |= eal_add(a, &off, "--no-pci");
	for (i = 0; i < cfg->n_ports; i++) {
		const struct cfg_port *p = &cfg->ports[i];

		if (p->pci[0] == '\0')
			continue;
		rc |= eal_add(a, &off, "-a");
		rc |= eal_add(a, &off, "%s%s%s", p->pci,
			      p->pci_args[0] != '\0' ? "," : "", p->pci_args);
	}
	if (role == CFG_EAL_PRIMARY) {
		for (i = 0; i < cfg->n_ports; i++)
			if (cfg->ports[i].vdev[0] != '\0')
				rc |= eal_add(a, &off, "--vdev=%s",
					      cfg->ports[i].vdev);
		/* The exception path's tap of each port that has one
		 * (forwarder/kernel.c gives it the port's MAC once up). */
		for (i = 0; i < cfg->n_ports; i++)
			if (cfg->ports[i].kernel[0] != '\0')
				rc |= eal_add(a, &off, "--vdev=%s%u,iface=%s",
					      CFG_KERNEL_VDEV, i,
					      cfg->ports[i].kernel);
		for (i = 0; i < cfg->n_eal_extra; i++)
			rc |= eal_add(a, &off, "%s", cfg->eal_extra[i]);
	} else {
		rc |= eal_add(a, &off, "--no-telemetry");
	}
	return rc != 0 ? -ENOSPC : 0;
}

const struct cfg_section cfg_section_eal = {
	.name = "eal",
	.keys = (const char *const[]){ "eal", NULL },
	.load = load_eal,
};
