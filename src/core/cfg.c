/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loading and checking the appliance configuration (halb/cfg.h,
 * docs/CONFIG.md).
 *
 * cfg_load() walks the libconfig tree once, section by section in a fixed
 * order whatever the order of the file (the table below; each section is
 * a file of its own, cfg_<section>.c, reading its keys with the reader of
 * cfg_read.c), and fills one zeroed struct halb_cfg.  Each key is checked
 * for its name, type and range where it is read; what needs more than one
 * key (duplicates, overlapping VIPs, reachability, what a forwarding mode
 * asks of its backends) is checked against what was read before it, which
 * is why ports come before services.  Every mistake is one line
 * "FILE:LINE: message" on the caller's stream and loading carries on, so
 * that one run shows an operator all of them; a value that failed its own
 * check takes no part in later checks (a backend or service whose address
 * or port is bad has its address zeroed, and no check compares a zero
 * address), so that one mistake gives one message.
 *
 * Nothing here keeps state between calls; the returned struct belongs to
 * the caller.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "halb/cfg.h"
#include "halb/cli.h"
#include "cfg_priv.h"

/* The sections in the order they are read: later ones check against
 * what earlier ones read (services against ports, health against the
 * services' agents).  A new section is a file of its own that defines a
 * struct cfg_section, and one line here. */
static const struct cfg_section *const sections[] = {
	&cfg_section_eal,
	&cfg_section_ports,
	&cfg_section_flows,
	&cfg_section_agents,
	&cfg_section_services,
	&cfg_section_health,
	&cfg_section_metrics,
	&cfg_section_sessions,
	&cfg_section_bgp,
	&cfg_section_ha,
	&cfg_section_classifiers,
};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))
#define MAX_ROOT_KEYS 32

static void
load_root(struct cfg_ctx *ctx, const config_setting_t *root)
{
	const char *keys[MAX_ROOT_KEYS + 1];
	struct cfg_scope sc = { .ctx = ctx, .grp = root, .where = "" };
	unsigned int i, j, n = 0;

	for (i = 0; i < N_SECTIONS; i++)
		for (j = 0; sections[i]->keys[j] != NULL && n < MAX_ROOT_KEYS; j++)
			keys[n++] = sections[i]->keys[j];
	keys[n] = NULL;
	cfg_check_keys(&sc, keys);
	for (i = 0; i < N_SECTIONS; i++)
		sections[i]->load(&sc);
}

void
cfg_warn_inline_keys(const struct cfg_ctx *ctx)
{
	struct stat st;

	if (ctx->no_keys || ctx->inline_keys == 0 || ctx->err == NULL ||
	    stat(ctx->path, &st) != 0 || (st.st_mode & 077) == 0)
		return;
	/* A warning, not a refusal: files kept that way until now must go
	 * on loading.  Key files are refused outright (cfg_key_file). */
	fprintf(ctx->err,
		"%s: warning: it holds keys (%u written inline) and group or others may access it (mode %04o): chmod 600 it, or move the keys to key_file files (docs/CONFIG.md)\n",
		ctx->path, ctx->inline_keys, (unsigned int)(st.st_mode & 07777));
}

struct halb_cfg *
cfg_load(const char *path, FILE *err)
{
	return cfg_load_opts(path, err, 0);
}

struct halb_cfg *
cfg_load_opts(const char *path, FILE *err, unsigned int flags)
{
	struct cfg_ctx ctx = { .path = path, .err = err,
			       .no_keys = (flags & CFG_LOAD_NO_KEYS) != 0 };
	struct halb_cfg *cfg = NULL;
	config_t lc;
	int ret;

	if (path == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(path) >= sizeof(cfg->path)) {
		if (err != NULL)
			fprintf(err, "%s: path longer than %zu characters\n",
				path, sizeof(cfg->path) - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	/* Zeroed whole, padding included, for cfg_digest. */
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	ctx.cfg = cfg;

	ret = cfg_read_file(path, err, &lc);
	if (ret < 0) {
		free(cfg);
		errno = -ret;
		return NULL;
	}
	load_root(&ctx, config_root_setting(&lc));
	config_destroy(&lc);
	if (ctx.n_err != 0) {
		cfg_free(cfg);
		errno = EINVAL;
		return NULL;
	}
	cfg_warn_inline_keys(&ctx);
	return cfg;
}

void
cfg_free(struct halb_cfg *cfg)
{
	/* It holds the health keys. */
	if (cfg != NULL)
		explicit_bzero(cfg, sizeof(*cfg));
	free(cfg);
}

int
cfg_check_main(const char *path)
{
	struct halb_cfg *cfg = cfg_load(path, stderr);
	unsigned int i, n = 0;

	if (cfg == NULL)
		return 1;
	for (i = 0; i < cfg->n_services; i++)
		n += cfg->services[i].n_backends;
	printf("%s: ok (%u service%s, %u backend%s)\n", path, cfg->n_services,
	       cfg->n_services == 1 ? "" : "s", n, n == 1 ? "" : "s");
	/* What cannot be checked without the hardware, said rather than
	 * passed over: the check never touches a device. */
	for (i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].pci[0] != '\0')
			printf("%s: note: ports[%u] \"%s\" is PCI device %s: how many queue pairs it has (%u needed, one per worker) and the MTUs it takes are known only to its driver, and checked when halb-forwarder starts\n",
			       path, i, cfg->ports[i].name, cfg->ports[i].pci,
			       cfg->n_workers);
	cfg_free(cfg);
	return 0;
}

uint64_t
cfg_digest(const struct halb_cfg *cfg)
{
	const size_t skip = offsetof(struct halb_cfg, path);
	const uint8_t *p = (const uint8_t *)cfg;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
	size_t i;

	/* The path is how this process was told of the file, not what it
	 * holds: it counts as zeros. */
	for (i = 0; i < sizeof(*cfg); i++) {
		uint8_t b = i >= skip && i < skip + sizeof(cfg->path) ? 0 : p[i];

		h ^= b;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int
cfg_cli(int argc, char **argv, const char *what, const char **path)
{
	const char *slash = strrchr(argv[0], '/');
	const struct halb_cli cli = {
		/* The name, not the path it was started by. */
		.prog = slash != NULL ? slash + 1 : argv[0],
		.what = what,
		.check = cfg_check_main,
	};

	return halb_cli(&cli, argc, argv, path);
}

int
cfg_cli_load(int argc, char **argv, const char *what, struct halb_cfg **cfg)
{
	const char *path = NULL;
	int rc = cfg_cli(argc, argv, what, &path);

	if (rc >= 0)
		return rc;
	*cfg = cfg_load(path, stderr);
	return *cfg != NULL ? -1 : 1;
}
