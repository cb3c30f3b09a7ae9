/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the configuration loaders share: the reader (cfg_read.c) that the
 * appliance file's sections (cfg_eal.c, cfg_ports.c, cfg_flows.c,
 * cfg_services.c, cfg_health.c; listed in cfg.c) and the agent's file
 * (cfg_agent.c) read their keys with; private to libhalb_core.
 *
 * A load walks a libconfig tree with a cfg_ctx (where messages go, how
 * many there were) and one cfg_scope per group being read.  The sc_*
 * getters read one key each: they return the setting when the key is
 * present and its value passed its check (the value then in *out), else
 * NULL, having reported the mistake as "FILE:LINE: message" (or nothing,
 * for an absent optional key, whose *out keeps its default).
 */
#ifndef HALB_CFG_PRIV_H
#define HALB_CFG_PRIV_H

#include <stdbool.h>
#include <stdio.h>

#include <libconfig.h>

#include "halb/cfg-t.h"
#include "halb/ip.h"

#define CFG_WHERE_LEN 48

/* One load: where messages go and how many were written. */
struct cfg_ctx {
	const char *path;
	FILE *err;
	unsigned int n_err;
	struct halb_cfg *cfg;  /* NULL for files that are not the appliance's */
	bool ports_ok; /* every port loaded cleanly: reachability can be judged */
	bool no_keys;  /* CFG_LOAD_NO_KEYS: decode no key, open no key file */
	unsigned int inline_keys; /* keys written in the file itself */
};

/* A group being read: its setting (NULL when an optional group is absent,
 * and then every key takes its default) and its name in messages. */
struct cfg_scope {
	struct cfg_ctx *ctx;
	const config_setting_t *grp;
	char where[CFG_WHERE_LEN]; /* "services[3].backends[12]"; "" at top level */
};

/*
 * A top-level section of the appliance's file: the top-level keys it owns
 * (NULL-terminated; any other key is refused, with the nearest known
 * one named) and its loader, which reads them from the root scope and
 * may check them against the sections loaded before it (cfg.c's table
 * gives the order).
 */
struct cfg_section {
	const char *name;
	const char *const *keys;
	void (*load)(const struct cfg_scope *root);
};

extern const struct cfg_section cfg_section_eal, cfg_section_ports,
	cfg_section_flows, cfg_section_services, cfg_section_health,
	cfg_section_metrics, cfg_section_agents, cfg_section_sessions,
	cfg_section_ha, cfg_section_bgp,
	cfg_section_classifiers;

/* ---- the reader: cfg_read.c ---- */

/*
 * Reads path into lc (config_init'ed here).  Returns 0, or -errno with
 * the reason reported on err (ENOENT..., EIO, EINVAL for a syntax error,
 * with libconfig's line); lc is then destroyed already.
 */
int cfg_read_file(const char *path, FILE *err, config_t *lc);

unsigned int cfg_setting_line(const config_setting_t *s);
void cfg_err(struct cfg_ctx *ctx, const config_setting_t *s,
	     const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *cfg_key_name(const struct cfg_scope *sc, const char *key, char *buf,
		     size_t len);
void cfg_type_err(const struct cfg_scope *sc, const config_setting_t *s,
	      const char *key, const char *want);
void cfg_check_keys(const struct cfg_scope *sc, const char *const *keys);
void cfg_missing_err(const struct cfg_scope *sc, const char *key,
		 const char *why);
const config_setting_t *sc_member(const struct cfg_scope *sc,
				  const char *key, bool required);
const config_setting_t *sc_str(const struct cfg_scope *sc, const char *key,
			       bool required, const char **out);
const config_setting_t *sc_int(const struct cfg_scope *sc, const char *key,
			       bool required, long long lo, long long hi,
			       long long *out);
const config_setting_t *sc_enum(const struct cfg_scope *sc, const char *key,
				bool required, const char *const *names,
				unsigned int *out);
const config_setting_t *sc_ident(const struct cfg_scope *sc, const char *key,
				 bool required, char *buf, size_t len);
/* Host ids: 1..63 of [A-Za-z0-9_.-]. */
const config_setting_t *sc_hostid(const struct cfg_scope *sc, const char *key,
				  bool required, char out[CFG_HOST_LEN]);
void sc_group(const struct cfg_scope *parent, const char *key,
	      const char *const *keys, struct cfg_scope *out);
const config_setting_t *sc_list(const struct cfg_scope *sc, const char *key,
				bool required, unsigned int min,
				unsigned int max, unsigned int *n);
bool sc_elem(struct cfg_ctx *ctx, const config_setting_t *list,
	     unsigned int i, const char *where, const char *const *keys,
	     struct cfg_scope *out);
/* A duration in seconds (a number, fractions allowed) into *ms. */
const config_setting_t *sc_seconds(const struct cfg_scope *sc,
				   const char *key, uint32_t *ms);
/* A unicast address of family (AF_INET, AF_INET6, or 0 for either). */
const config_setting_t *sc_addr(const struct cfg_scope *sc, const char *key,
				bool required, int family, struct halb_ip *out);
/* "ADDRESS/LEN" of family into *out and *plen. */
const config_setting_t *sc_prefix(const struct cfg_scope *sc,
				  const char *key, int family,
				  struct halb_ip *out, uint8_t *plen);
/* "aa:bb:cc:dd:ee:ff", unicast. */
const config_setting_t *sc_mac(const struct cfg_scope *sc, const char *key,
			       bool required, uint8_t out[6]);
/* "a string", "an integer", ... for libconfig's type. */
const char *cfg_type_name(int type);
bool cfg_ip_is_unicast(const struct halb_ip *a);
const char *cfg_family_name(const struct halb_ip *a);

/* ---- the ports: cfg_ports.c ---- */

/* The port that owns address a, or the port whose connected prefix
 * holds a; -1 if none. */
int cfg_own_address_port(const struct halb_cfg *cfg, const struct halb_ip *a);
int cfg_connected_port(const struct halb_cfg *cfg, const struct halb_ip *a);

/* ---- the services: cfg_services.c ---- */

const char *cfg_endpoint_fmt(const struct halb_ip *ip, uint16_t port,
			     uint8_t proto, char *buf, size_t len);
uint16_t cfg_backend_port(const struct cfg_service *svc,
			  const struct cfg_backend *be);

/* ---- request routing: cfg_requests.c ---- */

/*
 * The pool key of backend bi of service si (scope sc, its group): required
 * when the service has requests { } (svc->l7.has, set before its
 * backends are read), refused otherwise.  A pool is made by the first
 * backend that names it.
 */
void cfg_requests_backend(struct cfg_scope *sc, unsigned int si,
			  unsigned int bi);
/*
 * services[si].requests, after its backends (scope ssc, the service's
 * group); mode_ok, proto_ok, port_ok: those keys were good, and the
 * rules' needs of them can be judged.  Sets l7.default_pool to -1
 * whatever the service.
 */
void cfg_requests_service(const struct cfg_scope *ssc, unsigned int si,
			  bool mode_ok, bool proto_ok, bool port_ok);

/* ---- cfg.c ---- */

/*
 * After a load: a warning on ctx->err when the file holds keys inline and
 * group or others may access it (docs/CONFIG.md, "Keys").
 */
void cfg_warn_inline_keys(const struct cfg_ctx *ctx);

/* ---- health: cfg_health.c ---- */

/* The names of enum cfg_check_type, then NULL (CFG_CHECK_KINDS). */
extern const char *const cfg_check_names[];

/*
 * A key: either KEY, in hex (32..128 hex digits), or KEY_file, the path
 * of a file holding it (cfg_key_file(); relative to the configuration
 * file's directory), into k->bytes/len; k->id untouched.  Returns the
 * setting given (either), or NULL (absent, both, or bad: reported).
 * With ctx->no_keys, k is left alone and neither is decoded or opened.
 */
const config_setting_t *sc_hexkey(const struct cfg_scope *sc, const char *key,
				  bool required, struct seal_key *k);
/* "ADDRESS:PORT" or "[IPV6]:PORT", any address (wildcard, loopback). */
const config_setting_t *sc_endpoint(const struct cfg_scope *sc,
				    const char *key, bool required,
				    struct halb_ip *ip, uint16_t *port);
/* Any address (loopback too) but the unspecified and multicast ones. */
const config_setting_t *sc_anyaddr(const struct cfg_scope *sc,
				   const char *key, bool required,
				   struct halb_ip *out);
/* An absolute path that fits a unix socket address. */
const config_setting_t *sc_sockpath(const struct cfg_scope *sc,
				    const char *key, char out[CFG_SOCK_LEN]);

/*
 * Reads the optional agent { } and check { } of backend bi of service si
 * (scope sc is the backend's group, already checked for unknown keys).
 * ip_ok: the backend's address is good (the defaults use it).
 */
void cfg_health_backend(struct cfg_scope *sc, unsigned int si,
			unsigned int bi, bool ip_ok);

#endif
