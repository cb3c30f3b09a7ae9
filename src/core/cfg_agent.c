/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loading halb-agent's configuration (halb/cfg_agent.h, docs/AGENT.md):
 * one top-level group agent { }, read with the getters the appliance
 * configuration uses (cfg_priv.h), so that mistakes read the same way.
 *
 * handlers is either an array of "ADDRESS:PORT" strings, whose
 * ReportRequests are checked with the top-level handler_name and
 * handler_key, or a list of groups that give each handler its own name
 * and key.  Nothing here keeps state between calls.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halb/cfg.h"
#include "halb/cfg_agent.h"
#include "cfg_priv.h"

int
cfg_parse_http_url(const char *url, struct halb_ip *ip, uint16_t *port,
		   char *path, size_t path_len)
{
	const char *h = url, *end, *slash;
	char host[64], ep[96];
	size_t n;

	if (strncmp(h, "http://", 7) != 0)
		return -EINVAL;
	h += 7;
	slash = strchr(h, '/');
	end = slash != NULL ? slash : h + strlen(h);
	n = (size_t)(end - h);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	if (slash == NULL)
		slash = "/";
	if (strlen(slash) >= path_len)
		return -EINVAL;
	for (n = 0; slash[n] != '\0'; n++)
		if (!isgraph((unsigned char)slash[n]))
			return -EINVAL;

	/* "localhost" is the one name: no resolver at start-up. */
	if (strncmp(host, "localhost", 9) == 0 &&
	    (host[9] == '\0' || host[9] == ':'))
		snprintf(ep, sizeof(ep), "127.0.0.1%s", host + 9);
	else
		snprintf(ep, sizeof(ep), "%s", host);
	/* No port: 80. */
	if ((ep[0] == '[' && strstr(ep, "]:") == NULL) ||
	    (ep[0] != '[' && strchr(ep, ':') == NULL))
		strncat(ep, ":80", sizeof(ep) - strlen(ep) - 1);
	if (cfg_parse_endpoint(ep, ip, port) != 0)
		return -EINVAL;
	memcpy(path, slash, strlen(slash) + 1);
	return 0;
}

static void
load_check(const struct cfg_scope *svc_sc, struct agc_service *as,
	   uint32_t interval_ms)
{
	static const char *const keys[] = { "type", "url", "expect",
		"address", "port", "command", "timeout_ms", "rise", "fall",
		NULL };
	static const struct {
		const char *key;
		unsigned int type;
	} only[] = {
		{ "url", CFG_CHECK_HTTP }, { "expect", CFG_CHECK_HTTP },
		{ "address", CFG_CHECK_TCP }, { "port", CFG_CHECK_TCP },
		{ "command", CFG_CHECK_COMMAND },
	};
	const config_setting_t *s;
	long long v, to = interval_ms / 2 > 0 ? interval_ms / 2 : 1;
	unsigned int type, i;
	struct cfg_scope sc;
	const char *str = NULL;
	char name[96];

	sc_group(svc_sc, "check", keys, &sc);
	as->rise = 1;
	as->fall = 1;
	as->check_ip = as->addr;
	as->check_port = as->port;
	if (sc.grp == NULL) {
		as->check_type = as->port != 0 ? CFG_CHECK_TCP : CFG_CHECK_NONE;
		as->timeout_ms = (uint32_t)to;
		return;
	}
	type = CFG_CHECK_TCP;
	if (sc_member(&sc, "type", false) != NULL &&
	    sc_enum(&sc, "type", false, cfg_check_names, &type) == NULL)
		return;
	as->check_type = (uint8_t)type;
	for (i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		s = sc_member(&sc, only[i].key, false);
		if (s != NULL && only[i].type != type)
			cfg_err(sc.ctx, s, "%s.%s: only for type \"%s\", not \"%s\"",
				sc.where, only[i].key,
				cfg_check_names[only[i].type], cfg_check_names[type]);
	}
	v = 1;
	sc_int(&sc, "rise", false, 1, 100, &v);
	as->rise = (uint8_t)v;
	v = 1;
	sc_int(&sc, "fall", false, 1, 100, &v);
	as->fall = (uint8_t)v;
	s = sc_int(&sc, "timeout_ms", false, 10, 3600000, &to);
	if (to > interval_ms)
		cfg_err(sc.ctx, s, "%s.timeout_ms %lld is longer than agent.interval_ms %u",
			sc.where, to, interval_ms);
	as->timeout_ms = (uint32_t)to;

	switch (type) {
	case CFG_CHECK_HTTP:
		v = 200;
		sc_int(&sc, "expect", false, 100, 599, &v);
		as->expect = (uint16_t)v;
		s = sc_str(&sc, "url", true, &str);
		if (s != NULL &&
		    cfg_parse_http_url(str, &as->check_ip, &as->check_port,
				       as->path, sizeof(as->path)) != 0)
			cfg_err(sc.ctx, s,
				"%s: \"%s\" is not http://HOST[:PORT]/PATH with HOST an address or localhost (path at most %d characters)",
				cfg_key_name(&sc, "url", name, sizeof(name)), str,
				CFG_CHECK_PATH_LEN - 1);
		break;
	case CFG_CHECK_TCP:
		sc_anyaddr(&sc, "address", false, &as->check_ip);
		v = as->port;
		s = sc_int(&sc, "port", false, 1, 65535, &v);
		as->check_port = (uint16_t)v;
		if (v == 0 && sc_member(&sc, "port", false) == NULL)
			cfg_missing_err(&sc, "port",
				    " (the service's port is 0: all ports)");
		break;
	case CFG_CHECK_COMMAND:
		s = sc_str(&sc, "command", true, &str);
		if (s != NULL && (str[0] == '\0' || strlen(str) >= AGC_CMD_LEN))
			cfg_err(sc.ctx, s, "%s: must be 1 to %d characters",
				cfg_key_name(&sc, "command", name, sizeof(name)),
				AGC_CMD_LEN - 1);
		else if (s != NULL)
			memcpy(as->command, str, strlen(str) + 1);
		break;
	default:
		break;
	}
}

static void
load_service(struct cfg_ctx *ctx, struct agc *c, const config_setting_t *list,
	     unsigned int idx)
{
	static const char *const keys[] = { "service", "address", "port",
		"check", NULL };
	struct agc_service *as = &c->services[idx];
	const config_setting_t *s_addr;
	struct cfg_scope sc;
	long long port = 0;
	unsigned int i;

	if (!sc_elem(ctx, list, idx, "agent.services", keys, &sc))
		return;
	as->line = (int)cfg_setting_line(sc.grp);
	sc_ident(&sc, "service", true, as->service, sizeof(as->service));
	s_addr = sc_anyaddr(&sc, "address", true, &as->addr);
	sc_int(&sc, "port", false, 0, 65535, &port);
	as->port = (uint16_t)port;
	for (i = 0; s_addr != NULL && i < idx; i++) {
		const struct agc_service *o = &c->services[i];

		if (strcmp(o->service, as->service) == 0 &&
		    halb_ip_eq(&o->addr, &as->addr) && o->port == as->port)
			cfg_err(ctx, sc.grp,
				"%s: service \"%s\" at this address and port is also at line %d",
				sc.where, as->service, o->line);
	}
	load_check(&sc, as, c->interval_ms);
}

/* handler_name / handler_key / handler_key_id at the top of agent { }. */
static void
load_handler_identity(const struct cfg_scope *sc, struct agc_handler *def)
{
	long long v = 1;

	unsigned int n_err;
	bool key_given;

	sc_hostid(sc, "handler_name", false, def->name);
	n_err = sc->ctx->n_err;
	/* Given (inline or as a file) even when it could not be read: that
	 * was reported, and the pair is not missing its key. */
	key_given = sc_hexkey(sc, "handler_key", false, &def->key) != NULL ||
		    sc->ctx->n_err != n_err;
	sc_int(sc, "handler_key_id", false, 0, 2147483647LL, &v);
	def->key.id = (uint32_t)v;
	if ((def->name[0] != '\0') != key_given)
		cfg_err(sc->ctx, sc->grp,
			"agent: handler_name and handler_key go together");
}

static void
load_handlers(const struct cfg_scope *sc, struct agc *c)
{
	static const char *const keys[] = { "address", "name", "key",
		"key_file", "key_id", NULL };
	struct agc_handler def = { .line = 0 };
	const config_setting_t *s, *e;
	unsigned int i, n;
	char name[96];

	load_handler_identity(sc, &def);
	s = sc_member(sc, "handlers", true);
	if (s == NULL)
		return;
	cfg_key_name(sc, "handlers", name, sizeof(name));
	n = (unsigned int)config_setting_length(s);
	if ((!config_setting_is_array(s) && !config_setting_is_list(s)) ||
	    n < 1 || n > AGC_MAX_HANDLERS) {
		cfg_err(sc->ctx, s,
			"%s: expected 1 to %d handlers: [ \"ADDRESS:PORT\", ... ] or ( { address; name; key; }, ... )",
			name, AGC_MAX_HANDLERS);
		return;
	}
	for (i = 0; i < n; i++) {
		struct agc_handler *h = &c->handlers[c->n_handlers];
		struct cfg_scope hs;
		long long v = 1;

		e = config_setting_get_elem(s, i);
		*h = def;
		h->line = (int)cfg_setting_line(e);
		if (config_setting_type(e) == CONFIG_TYPE_STRING) {
			if (cfg_parse_endpoint(config_setting_get_string(e),
					       &h->ip, &h->port) != 0) {
				cfg_err(sc->ctx, e,
					"%s[%u]: \"%s\" is not ADDRESS:PORT",
					name, i, config_setting_get_string(e));
				continue;
			}
			c->n_handlers++;
			continue;
		}
		if (!sc_elem(sc->ctx, s, i, "agent.handlers", keys, &hs))
			continue;
		if (sc_endpoint(&hs, "address", true, &h->ip, &h->port) == NULL)
			continue;
		memset(h->name, 0, sizeof(h->name));
		memset(&h->key, 0, sizeof(h->key));
		sc_hostid(&hs, "name", true, h->name);
		sc_hexkey(&hs, "key", true, &h->key);
		sc_int(&hs, "key_id", false, 0, 2147483647LL, &v);
		h->key.id = (uint32_t)v;
		c->n_handlers++;
	}
}

static void
load_agent(struct cfg_ctx *ctx, const config_setting_t *root, struct agc *c)
{
	static const char *const keys[] = { "host", "key", "key_id",
		"key_file", "handlers", "handler_name", "handler_key",
		"handler_key_file", "handler_key_id",
		"listen", "interval_ms", "capacity", "report_window_ms",
		"control", "services", NULL };
	static const char *const top[] = { "agent", NULL };
	struct cfg_scope rs = { .ctx = ctx, .grp = root, .where = "" }, sc;
	const config_setting_t *list;
	long long v;
	unsigned int i, n;

	cfg_check_keys(&rs, top);
	sc_group(&rs, "agent", keys, &sc);
	if (sc.grp == NULL) {
		cfg_missing_err(&rs, "agent", "");
		return;
	}
	sc_hostid(&sc, "host", true, c->host);
	sc_hexkey(&sc, "key", true, &c->key);
	v = 1;
	sc_int(&sc, "key_id", false, 0, 2147483647LL, &v);
	c->key.id = (uint32_t)v;
	load_handlers(&sc, c);
	halb_ip_parse("0.0.0.0", &c->listen_ip);
	c->listen_port = 7301;
	sc_endpoint(&sc, "listen", false, &c->listen_ip, &c->listen_port);
	v = 1000;
	sc_int(&sc, "interval_ms", false, 100, 3600000, &v);
	c->interval_ms = (uint32_t)v;
	v = 100;
	sc_int(&sc, "capacity", false, 0, CFG_MAX_WEIGHT, &v);
	c->capacity = (uint32_t)v;
	v = 5000;
	sc_int(&sc, "report_window_ms", false, 100, 600000, &v);
	c->report_window_ms = (uint32_t)v;
	snprintf(c->control, sizeof(c->control), "/run/halb-agent/%s.sock",
		 c->host[0] != '\0' ? c->host : "agent");
	sc_sockpath(&sc, "control", c->control);
	snprintf(c->state_file, sizeof(c->state_file), "%s.drain", c->control);

	list = sc_list(&sc, "services", true, 1, AGC_MAX_SERVICES, &n);
	for (i = 0; i < n; i++)
		load_service(ctx, c, list, i);
	c->n_services = n;
}

struct agc *
cfg_agent_load(const char *path, FILE *err)
{
	struct cfg_ctx ctx = { .path = path, .err = err };
	struct agc *c;
	config_t lc;
	int ret;

	if (path == NULL || strlen(path) >= sizeof(c->path)) {
		errno = path == NULL ? EINVAL : ENAMETOOLONG;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	snprintf(c->path, sizeof(c->path), "%s", path);
	ret = cfg_read_file(path, err, &lc);
	if (ret < 0) {
		free(c);
		errno = -ret;
		return NULL;
	}
	load_agent(&ctx, config_root_setting(&lc), c);
	config_destroy(&lc);
	if (ctx.n_err != 0) {
		cfg_agent_free(c);
		errno = EINVAL;
		return NULL;
	}
	cfg_warn_inline_keys(&ctx);
	return c;
}

void
cfg_agent_free(struct agc *c)
{
	if (c == NULL)
		return;
	/* Keys are secrets. */
	explicit_bzero(c, sizeof(*c));
	free(c);
}
