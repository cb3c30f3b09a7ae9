/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of configuration loading (src/core/cfg.c) and of the address helpers
 * it builds on (src/core/ip.c).  Every shipped configuration (conf/halb.conf
 * and each file in conf/samples) must load; every file of tests/conf/bad
 * must fail with each message its "# expect: LINE: text" lines name, on
 * that line; cfg_route and cfg_digest must keep the promises of
 * halb/cfg.h.
 *
 * Paths are under HALB_SRCDIR, which meson passes; without it the tests
 * run from the source root.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/cfg.h"
#include "halb/cfg_agent.h"
#include "halb/ip.h"
#include "halb/l7req.h"

#ifndef HALB_SRCDIR
#define HALB_SRCDIR "."
#endif

#define BAD_DIR HALB_SRCDIR "/tests/conf/bad"
#define BAD_AGENT_DIR HALB_SRCDIR "/tests/conf/bad-agent"
#define SAMPLES_DIR HALB_SRCDIR "/conf/samples"
#define HALB_CONF HALB_SRCDIR "/conf/halb.conf"

#define MAX_EXPECT 16

struct expect {
	unsigned int line;
	char text[256];
};

/* Loads path, failing the test with cfg_load's messages if it is not
 * valid. */
static struct halb_cfg *
load_ok(const char *path)
{
	struct halb_cfg *cfg;
	char *out = NULL;
	size_t len = 0;
	FILE *err;

	err = open_memstream(&out, &len);
	assert_non_null(err);
	cfg = cfg_load(path, err);
	fclose(err);
	if (cfg == NULL)
		print_error("%s does not load:\n%s", path, out);
	free(out);
	assert_non_null(cfg);
	return cfg;
}

static struct halb_ip
ip(const char *s)
{
	struct halb_ip a;

	assert_int_equal(halb_ip_parse(s, &a), 0);
	return a;
}

static int
is_conf(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 &&
	       strcmp(de->d_name + n - 5, ".conf") == 0;
}

/* conf/samples holds the appliance's files and halb-agent's (agent-*). */
static int
is_appliance_conf(const struct dirent *de)
{
	return is_conf(de) && strncmp(de->d_name, "agent-", 6) != 0;
}

static int
is_agent_conf(const struct dirent *de)
{
	return is_conf(de) && strncmp(de->d_name, "agent-", 6) == 0;
}

/* cfg_load or cfg_agent_load, as one type: loads, frees, says whether
 * it loaded. */
typedef bool (*load_fn)(const char *path, FILE *err);

static bool
load_appliance(const char *path, FILE *err)
{
	struct halb_cfg *cfg = cfg_load(path, err);

	cfg_free(cfg);
	return cfg != NULL;
}

static bool
load_agent(const char *path, FILE *err)
{
	struct agc *c = cfg_agent_load(path, err);

	cfg_agent_free(c);
	return c != NULL;
}

/* Reads the "# expect: LINE: text" lines of path. */
static unsigned int
read_expects(const char *path, struct expect *e, unsigned int max)
{
	char buf[512];
	unsigned int n = 0;
	FILE *f;

	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f) != NULL && n < max) {
		char *p, *nl;

		if (strncmp(buf, "# expect: ", 10) != 0)
			continue;
		e[n].line = (unsigned int)strtoul(buf + 10, &p, 10);
		if (strncmp(p, ": ", 2) != 0 || e[n].line == 0)
			continue;
		nl = strchr(p + 2, '\n');
		if (nl != NULL)
			*nl = '\0';
		snprintf(e[n].text, sizeof(e[n].text), "%s", p + 2);
		n++;
	}
	fclose(f);
	return n;
}

/* Whether one line of out is "path:LINE: ..." and holds text. */
static bool
has_message(const char *out, const char *path, const struct expect *e)
{
	char tag[32];
	const char *line = out;

	snprintf(tag, sizeof(tag), ":%u: ", e->line);
	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		char *one = strndup(line, len);
		bool hit;

		assert_non_null(one);
		hit = strncmp(one, path, strlen(path)) == 0 &&
		      strncmp(one + strlen(path), tag, strlen(tag)) == 0 &&
		      strstr(one, e->text) != NULL;
		free(one);
		if (hit)
			return true;
		line += len;
		if (*line == '\n')
			line++;
	}
	return false;
}

/* Every message is one "path:LINE: text" line. */
static bool
well_formed(const char *out, const char *path)
{
	const char *line = out;
	size_t n = strlen(path);

	while (*line != '\0') {
		const char *p = line + n;

		if (strncmp(line, path, n) != 0 || *p++ != ':' ||
		    *p < '1' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
		if (strncmp(p, ": ", 2) != 0)
			return false;
		line = strchr(line, '\n');
		if (line == NULL)
			return false;
		line++;
	}
	return true;
}

/* Returns the number of failed expectations of one bad file. */
static unsigned int
check_bad_file(const char *path, load_fn load)
{
	struct expect e[MAX_EXPECT];
	bool loaded;
	unsigned int n, i, failed = 0;
	char *out = NULL;
	size_t len = 0;
	FILE *err;
	int saved;

	n = read_expects(path, e, MAX_EXPECT);
	if (n == 0) {
		print_error("%s: no \"# expect: LINE: text\" line\n", path);
		return 1;
	}
	err = open_memstream(&out, &len);
	assert_non_null(err);
	errno = 0;
	loaded = load(path, err);
	saved = errno;
	fclose(err);
	if (loaded) {
		print_error("%s: loaded, but it is a bad file\n", path);
		failed++;
	} else if (saved != EINVAL) {
		print_error("%s: errno %d, expected EINVAL\n", path, saved);
		failed++;
	}
	if (!well_formed(out, path)) {
		print_error("%s: messages not all \"FILE:LINE: text\":\n%s",
			    path, out);
		failed++;
	}
	for (i = 0; i < n; i++) {
		if (!has_message(out, path, &e[i])) {
			print_error("%s: expected line %u: %s\ngot:\n%s", path,
				    e[i].line, e[i].text, out);
			failed++;
		}
	}
	free(out);
	return failed;
}

static unsigned int
check_bad_dir(const char *dir, load_fn load, int min)
{
	struct dirent **names;
	unsigned int failed = 0;
	char path[1024];
	int n, i;

	n = scandir(dir, &names, is_conf, alphasort);
	assert_true(n >= min);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		failed += check_bad_file(path, load);
		free(names[i]);
	}
	free(names);
	return failed;
}

static void
test_bad_corpus(void **state)
{
	(void)state;
	assert_int_equal(check_bad_dir(BAD_DIR, load_appliance, 20), 0);
	assert_int_equal(check_bad_dir(BAD_AGENT_DIR, load_agent, 5), 0);
}

static void
test_good_files(void **state)
{
	struct dirent **names;
	char path[1024];
	int n, i;

	(void)state;
	cfg_free(load_ok(HALB_CONF));
	n = scandir(SAMPLES_DIR, &names, is_appliance_conf, alphasort);
	assert_true(n >= 4);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", SAMPLES_DIR,
			 names[i]->d_name);
		cfg_free(load_ok(path));
		free(names[i]);
	}
	free(names);
	n = scandir(SAMPLES_DIR, &names, is_agent_conf, alphasort);
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", SAMPLES_DIR,
			 names[i]->d_name);
		if (!load_agent(path, stderr))
			fail_msg("%s does not load", path);
		free(names[i]);
	}
	free(names);
}

static void
test_halb_conf(void **state)
{
	static const uint8_t mac_d[6] = { 0x02, 0x68, 0, 0, 0, 0x0d };
	struct halb_cfg *cfg = load_ok(HALB_CONF);
	const struct cfg_service *s;
	struct halb_ip a;

	(void)state;
	assert_string_equal(cfg->path, HALB_CONF);
	assert_string_equal(cfg->file_prefix, "halb-demo");
	assert_string_equal(cfg->lcores, "0,1");
	assert_int_equal(cfg->n_workers, 1);
	assert_int_equal(cfg->classifier_lcore, 16);
	assert_int_equal(cfg->n_eal_extra, 0);

	assert_int_equal(cfg->n_ports, 1);
	assert_string_equal(cfg->ports[0].name, "inside");
	assert_string_equal(cfg->ports[0].vdev,
			    "net_af_packet0,iface=halb0,qdisc_bypass=1");
	assert_true(cfg->ports[0].has_ip4 && cfg->ports[0].has_ip6);
	assert_int_equal(cfg->ports[0].plen4, 24);
	assert_int_equal(cfg->ports[0].plen6, 64);
	a = ip("198.18.0.254");
	assert_true(cfg->ports[0].has_gw4 && halb_ip_eq(&cfg->ports[0].gw4, &a));
	a = ip("fd00:68::fe");
	assert_true(cfg->ports[0].has_gw6 && halb_ip_eq(&cfg->ports[0].gw6, &a));

	assert_int_equal(cfg->flow_entries, 65536);
	assert_int_equal(cfg->tcp_syn_timeout_ms, 5000);
	assert_int_equal(cfg->tcp_timeout_ms, 300000);
	assert_int_equal(cfg->tcp_fin_timeout_ms, 10000);
	assert_int_equal(cfg->udp_timeout_ms, 30000);
	assert_int_equal(cfg->idle_sleep_us, 100);
	assert_int_equal(cfg->classifier_timeout_ms, 300);
	assert_int_equal(cfg->n_neigh, 0);

	assert_int_equal(cfg->n_services, 6);
	s = &cfg->services[0];
	assert_string_equal(s->name, "web-dsr");
	a = ip("198.18.2.100");
	assert_true(halb_ip_eq(&s->vip, &a));
	assert_int_equal(s->port, 80);
	assert_int_equal(s->proto, IPPROTO_TCP);
	assert_int_equal(s->mode, CFG_MODE_DSR);
	assert_int_equal(s->sched, CFG_SCHED_MAGLEV);
	assert_int_equal(s->n_backends, 3);
	a = ip("198.18.0.11");
	assert_true(halb_ip_eq(&s->backends[0].ip, &a));
	assert_int_equal(s->backends[0].weight, 1);
	assert_int_equal(s->backends[1].weight, 1);
	assert_int_equal(s->backends[2].weight, 2);
	assert_false(s->backends[0].has_tunnel_mac);

	s = &cfg->services[1];
	assert_string_equal(s->name, "web-nat");
	assert_int_equal(s->mode, CFG_MODE_NAT);
	assert_int_equal(s->backends[0].port, 8080);
	assert_int_equal(s->backends[2].weight, 2);

	s = &cfg->services[2];
	assert_string_equal(s->name, "web-tunnel");
	assert_int_equal(s->mode, CFG_MODE_TUNNEL);
	assert_int_equal(s->vni, 42);
	assert_int_equal(s->tunnel_port, 4789);
	assert_int_equal(s->backends[2].port, 0);
	assert_true(s->backends[2].has_tunnel_mac);
	assert_memory_equal(s->backends[2].tunnel_mac, mac_d, 6);

	s = &cfg->services[3];
	assert_string_equal(s->name, "web6-dsr");
	assert_false(halb_ip_is_v4(&s->vip));
	a = ip("fd00:68::13");
	assert_true(halb_ip_eq(&s->backends[2].ip, &a));
	assert_string_equal(cfg->services[4].name, "web6-nat");
	assert_string_equal(cfg->services[5].name, "web6-tunnel");

	assert_string_equal(cfg_mode_name(cfg->services[1].mode), "nat");
	assert_string_equal(cfg_mode_name(CFG_MODE_TUNNEL), "tunnel");
	assert_string_equal(cfg_sched_name(CFG_SCHED_WLC), "wlc");
	assert_string_equal(cfg_sched_name(s->sched), "maglev");
	assert_string_equal(cfg_mode_name(99), "?");
	cfg_free(cfg);
}

static void
test_samples(void **state)
{
	struct halb_cfg *cfg;

	(void)state;
	cfg = load_ok(SAMPLES_DIR "/minimal.conf");
	/* Defaults. */
	assert_string_equal(cfg->file_prefix, "halb");
	assert_string_equal(cfg->lcores, "0,1");
	assert_int_equal(cfg->n_workers, 1);
	assert_int_equal(cfg->classifier_lcore, 16);
	assert_int_equal(cfg->n_eal_extra, 0);
	assert_int_equal(cfg->flow_entries, 65536);
	assert_int_equal(cfg->tcp_syn_timeout_ms, 5000);
	assert_int_equal(cfg->udp_timeout_ms, 30000);
	assert_int_equal(cfg->idle_sleep_us, 100);
	assert_int_equal(cfg->classifier_timeout_ms, 300);
	assert_int_equal(cfg->services[0].mode, CFG_MODE_DSR);
	assert_int_equal(cfg->services[0].sched, CFG_SCHED_MAGLEV);
	assert_int_equal(cfg->services[0].backends[0].weight, 1);
	assert_int_equal(cfg->services[0].backends[0].port, 0);
	cfg_free(cfg);

	cfg = load_ok(SAMPLES_DIR "/udp-dns.conf");
	assert_int_equal(cfg->n_workers, 2);
	/* One queue pair per worker (tests/conf/bad/port-queues.conf is
	 * this sample without qpairs, refused). */
	assert_int_equal(cfg->ports[0].queues, 2);
	assert_int_equal(cfg->services[0].proto, IPPROTO_UDP);
	assert_int_equal(cfg->services[0].port, 53);
	assert_int_equal(cfg->services[0].sched, CFG_SCHED_WLC);
	assert_int_equal(cfg->udp_timeout_ms, 5000);
	cfg_free(cfg);

	cfg = load_ok(SAMPLES_DIR "/all-ports.conf");
	assert_int_equal(cfg->services[0].port, 0);
	assert_int_equal(cfg->services[0].sched, CFG_SCHED_WRR);
	assert_int_equal(cfg->services[0].backends[2].weight, 0);
	cfg_free(cfg);

	cfg = load_ok(SAMPLES_DIR "/static-neighbours.conf");
	assert_int_equal(cfg->n_neigh, 6);
	assert_int_equal(cfg->neigh[2].mac[5], 0x0b);
	assert_false(cfg->classifiers.has);
	assert_int_equal(cfg->classifiers.n_list, 0);
	cfg_free(cfg);

	cfg = load_ok(SAMPLES_DIR "/classifiers.conf");
	assert_true(cfg->classifiers.has);
	assert_string_equal(cfg->classifiers.name, "lb1");
	assert_int_equal(cfg->classifiers.n_list, 3);
	assert_int_equal(cfg->classifiers.list[0].kind, CFG_CLS_LOCAL);
	assert_int_equal(cfg->classifiers.list[1].kind, CFG_CLS_STANDBY);
	assert_int_equal(cfg->classifiers.list[2].kind, CFG_CLS_REMOTE);
	assert_string_equal(cfg->classifiers.list[2].name, "cls1");
	assert_int_equal(cfg->classifiers.list[2].port, 7310);
	assert_int_equal(cfg->classifiers.list[2].key.len, 32);
	assert_true(cfg->classifiers.list[2].has_health);
	assert_int_equal(cfg->classifiers.hold, 4096);
	assert_int_equal(cfg->classifiers.hold_ms, 200);
	assert_int_equal(cfg->classifiers.frame_cap, 256);
	assert_true(cfg->classifiers.has_serve);
	assert_int_equal(cfg->classifiers.serve_port, 7310);
	assert_int_equal(cfg->classifiers.n_punters, 1);
	assert_string_equal(cfg->classifiers.punters[0].name, "lb1");
	cfg_free(cfg);
}

/* conf/samples/requests.conf: pools in the order backends name them,
 * rules as written (names in lower case), defaults, and the rules at
 * work through l7_parse() and l7_match(). */
static int
route(const struct cfg_service *svc, const char *req)
{
	struct l7_req r;
	int p;

	assert_int_equal(l7_parse((const uint8_t *)req, strlen(req),
				  svc->l7.max_request, &r), L7_DONE);
	p = l7_match(&svc->l7, &r);
	assert_true(p >= -1 && p < (int)svc->l7.n_pools);
	return p;
}

static void
test_requests(void **state)
{
	struct halb_cfg *cfg;
	const struct cfg_service *h, *t, *h6, *m;
	const struct cfg_l7 *l;

	(void)state;
	cfg = load_ok(SAMPLES_DIR "/requests.conf");
	h = &cfg->services[0];
	t = &cfg->services[1];
	h6 = &cfg->services[2];
	l = &h->l7;
	assert_true(l->has);
	assert_int_equal(l->n_pools, 3);
	assert_string_equal(l->pools[0], "web");
	assert_string_equal(l->pools[1], "api");
	assert_string_equal(l->pools[2], "static");
	assert_int_equal(h->backends[0].pool, 0);
	assert_int_equal(h->backends[1].pool, 0);
	assert_int_equal(h->backends[2].pool, 1);
	assert_int_equal(h->backends[4].pool, 2);
	assert_int_equal(l->n_rules, 3);
	assert_int_equal(l->rules[0].kind, L7_HTTP);
	assert_string_equal(l->rules[0].name, "api.example.com");
	assert_string_equal(l->rules[0].path, "/v1");
	assert_int_equal(l->rules[0].pool, 1);
	assert_int_equal(l->rules[2].name[0], '\0');
	assert_int_equal(l->default_pool, 0);
	assert_int_equal(l->no_match, CFG_L7_NO_MATCH_HTTP_503);
	assert_int_equal(l->max_request, 8192);
	assert_int_equal(l->bind_timeout_ms, 3000);
	assert_int_equal(l->max_binding, 65536);
	assert_int_equal(l->wscale, 7);
	assert_int_equal(l->mss, 1460);
	assert_true(l->line > 0 && l->rules[0].line > l->line);
	assert_int_equal(route(h, "GET /v1/x HTTP/1.1\r\nHost: API.example.com\r\n\r\n"), 1);
	assert_int_equal(route(h, "GET /v2/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n"), 0);
	assert_int_equal(route(h, "GET /static/a HTTP/1.1\r\nHost: x.example.com\r\n\r\n"), 2);
	assert_int_equal(route(h, "GET /static/a HTTP/1.0\r\n\r\n"), 2);

	/* TLS: no default pool, defaults for the limits. */
	l = &t->l7;
	assert_int_equal(t->sched, CFG_SCHED_WRR);
	assert_int_equal(l->n_pools, 2);
	assert_string_equal(l->pools[0], "tls");
	assert_string_equal(l->pools[1], "h2");
	assert_int_equal(l->rules[0].kind, L7_TLS);
	assert_string_equal(l->rules[0].name, "*.example.org");
	assert_string_equal(l->rules[0].alpn, "h2");
	assert_int_equal(l->rules[0].pool, 1);
	assert_int_equal(l->default_pool, -1);
	assert_int_equal(l->no_match, CFG_L7_NO_MATCH_RESET);
	assert_int_equal(l->max_request, CFG_L7_MAX_REQUEST_DEFAULT);
	assert_int_equal(l->bind_timeout_ms, CFG_L7_BIND_TIMEOUT_DEFAULT);
	assert_int_equal(l->max_binding, CFG_L7_MAX_BINDING_DEFAULT);
	assert_int_equal(l->wscale, CFG_L7_WSCALE_DEFAULT);
	assert_int_equal(l->mss, 1460);
	/* An HTTP request to a TLS service matches no rule. */
	assert_int_equal(route(t, "GET / HTTP/1.1\r\nHost: a.example.org\r\n\r\n"), -1);
	assert_string_equal(cfg_l7_no_match_name(l->no_match), "reset");
	assert_string_equal(cfg_l7_no_match_name(CFG_L7_NO_MATCH_HTTP_503), "http-503");

	/* IPv6: the MSS left by a 1500-byte MTU; a literal host. */
	assert_int_equal(h6->l7.mss, 1440);
	assert_string_equal(h6->l7.rules[0].name, "[fd00:1::80]");
	assert_int_equal(route(h6, "GET / HTTP/1.1\r\nHost: [FD00:1::80]:80\r\n\r\n"), 1);
	assert_int_equal(route(h6, "GET / HTTP/1.1\r\nHost: other\r\n\r\n"), 0);
	cfg_free(cfg);

	/* Services without requests { }: nothing set, no default pool. */
	cfg = load_ok(SAMPLES_DIR "/minimal.conf");
	m = &cfg->services[0];
	assert_false(m->l7.has);
	assert_int_equal(m->l7.default_pool, -1);
	assert_int_equal(m->l7.n_rules, 0);
	assert_int_equal(m->backends[0].pool, 0);
	cfg_free(cfg);
}

static void
test_load_errors(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *err;

	(void)state;
	err = open_memstream(&out, &len);
	assert_non_null(err);
	errno = 0;
	assert_null(cfg_load(HALB_SRCDIR "/conf/no-such-file.conf", err));
	assert_int_equal(errno, ENOENT);
	fclose(err);
	assert_non_null(strstr(out, "no-such-file.conf: "));
	free(out);

	/* A directory opens but does not read. */
	errno = 0;
	assert_null(cfg_load(HALB_SRCDIR "/conf", NULL));
	assert_int_not_equal(errno, 0);

	/* No stream: still refused, silently. */
	errno = 0;
	assert_null(cfg_load(BAD_DIR "/many-mistakes.conf", NULL));
	assert_int_equal(errno, EINVAL);

	assert_int_equal(cfg_check_main(HALB_CONF), 0);
	assert_int_equal(cfg_check_main(BAD_DIR "/dup-vip.conf"), 1);
}

/* ---- keys in files of their own (issue 9, item 15) ---- */

#define KF_HEX "0c436356aa77ead33044c26937114af0657aa0aa8d174edac427f613478afd81"
#define KF_B1 "130481e6f73e305cefe2ada86b172cdcaed381a3b163f801c3e787cedf1ea773"

static void
write_file(const char *path, mode_t mode, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Loads path with flags; the messages in *out (free it). */
static struct halb_cfg *
load_msgs(const char *path, unsigned int flags, char **out)
{
	struct halb_cfg *cfg;
	size_t len = 0;
	FILE *err;

	*out = NULL;
	err = open_memstream(out, &len);
	assert_non_null(err);
	cfg = cfg_load_opts(path, err, flags);
	fclose(err);
	return cfg;
}

/* health.key from an absolute key_file, an agent's from one relative to
 * the configuration's directory. */
static void
write_conf(const char *dir, const char *health_key, const char *agent_key)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/halb.conf", dir);
	write_file(path, 0600,
		   "ports = ( { name = \"p\"; vdev = \"net_null0\"; ipv4 = \"10.0.0.2/24\"; } );\n"
		   "health = { name = \"lb1\"; %s; };\n"
		   "services = ( { name = \"web\"; vip = \"10.0.1.80\"; port = 80; protocol = \"tcp\";\n"
		   "  backends = ( { ip = \"10.0.0.11\"; agent = { host = \"b1\"; %s; }; } ); } );\n",
		   health_key, agent_key);
}

static void
test_key_files(void **state)
{
	char dir[] = "/tmp/halb-test-keys-XXXXXX", conf[256], kf[256],
	     kb1[256], line[512], *out;
	struct halb_cfg *cfg;
	struct seal_key k;
	char why[512];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/halb.conf", dir);
	snprintf(kf, sizeof(kf), "%s/lb1.key", dir);
	snprintf(kb1, sizeof(kb1), "%s/b1.key", dir);
	write_file(kf, 0600, "  %s\n", KF_HEX);
	write_file(kb1, 0400, "%s", KF_B1);
	snprintf(line, sizeof(line), "key_file = \"%s\"", kf);
	write_conf(dir, line, "key_file = \"b1.key\"");

	/* Both keys read, whitespace around them ignored; no warning. */
	cfg = load_msgs(conf, 0, &out);
	if (cfg == NULL)
		print_error("%s", out);
	assert_non_null(cfg);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(cfg->health.key.len, 32);
	assert_int_equal(cfg->health.key.bytes[0], 0x0c);
	assert_int_equal(cfg->health.key.id, 1);
	assert_int_equal(cfg->health.agents[0].key.len, 32);
	assert_int_equal(cfg->health.agents[0].key.bytes[0], 0x13);
	cfg_free(cfg);

	/* A key file others may read is refused, naming the file and its
	 * mode. */
	assert_int_equal(chmod(kb1, 0644), 0);
	cfg = load_msgs(conf, 0, &out);
	assert_null(cfg);
	assert_non_null(strstr(out, ":4: services[0].backends[0].agent.key_file: "));
	assert_non_null(strstr(out, "b1.key has mode 0644"));
	assert_null(strstr(out, KF_B1));
	free(out);
	assert_int_equal(chmod(kb1, 0640), 0);
	assert_int_equal(cfg_key_file(kb1, &k, why, sizeof(why)), -EPERM);
	assert_int_equal(chmod(kb1, 0600), 0);
	assert_int_equal(cfg_key_file(kb1, &k, why, sizeof(why)), 0);
	/* Owned by another user (only root can make one). */
	if (geteuid() == 0) {
		assert_int_equal(chown(kb1, 4242, 4242), 0);
		assert_int_equal(cfg_key_file(kb1, &k, why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "uid 4242"));
		assert_int_equal(chown(kb1, 0, 0), 0);
	}
	/* Not a key inside; not a file; not there. */
	write_file(kb1, 0600, "not a key at all\n");
	assert_int_equal(cfg_key_file(kb1, &k, why, sizeof(why)), -EINVAL);
	assert_null(strstr(why, "not a key at all"));
	assert_int_equal(cfg_key_file(dir, &k, why, sizeof(why)), -EINVAL);
	snprintf(line, sizeof(line), "%s/none.key", dir);
	assert_int_equal(cfg_key_file(line, &k, why, sizeof(why)), -ENOENT);

	/* halbctl's load: no key decoded, no key file opened; the rest as
	 * ever. */
	cfg = load_msgs(conf, CFG_LOAD_NO_KEYS, &out);
	assert_non_null(cfg);
	free(out);
	assert_int_equal(cfg->health.key.len, 0);
	assert_int_equal(cfg->health.agents[0].key.len, 0);
	assert_int_equal(cfg->services[0].backends[0].agent, 1);
	assert_string_equal(cfg->health.status_socket,
			    "/run/halb/halb.healthd.sock");
	cfg_free(cfg);

	/* key and key_file at once; neither. */
	snprintf(line, sizeof(line), "key = \"%s\"; key_file = \"%s\"", KF_HEX, kf);
	write_conf(dir, line, "key = \"" KF_B1 "\"");
	cfg = load_msgs(conf, 0, &out);
	assert_null(cfg);
	assert_non_null(strstr(out, "health.key_file: give key or key_file, not both"));
	free(out);
	write_conf(dir, "key_id = 2", "port = 7301");
	cfg = load_msgs(conf, 0, &out);
	assert_null(cfg);
	assert_non_null(strstr(out, "missing key \"key\" in services[0].backends[0].agent (or \"key_file\")"));
	free(out);

	/* Keys written inline: a warning when the file is open to others,
	 * none when it is not, nor for halbctl's load. */
	write_conf(dir, "key = \"" KF_HEX "\"", "key = \"" KF_B1 "\"");
	cfg = load_msgs(conf, 0, &out);
	assert_non_null(cfg);
	assert_string_equal(out, "");
	free(out);
	cfg_free(cfg);
	assert_int_equal(chmod(conf, 0644), 0);
	cfg = load_msgs(conf, 0, &out);
	assert_non_null(cfg);
	assert_non_null(strstr(out, "halb.conf: warning: it holds keys (2 written inline) and group or others may access it (mode 0644)"));
	free(out);
	cfg_free(cfg);
	cfg = load_msgs(conf, CFG_LOAD_NO_KEYS, &out);
	assert_non_null(cfg);
	assert_string_equal(out, "");
	free(out);
	cfg_free(cfg);

	unlink(conf);
	unlink(kf);
	unlink(kb1);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_route(void **state)
{
	struct halb_cfg *cfg = calloc(1, sizeof(*cfg));
	struct halb_ip nh, dst, want;

	(void)state;
	assert_non_null(cfg);
	cfg->n_ports = 2;
	cfg->ports[0].has_ip4 = true;
	assert_int_equal(halb_prefix_parse("10.0.0.2/24", &cfg->ports[0].ip4,
					   &cfg->ports[0].plen4), 0);
	cfg->ports[0].has_gw4 = true;
	cfg->ports[0].gw4 = ip("10.0.0.1");
	cfg->ports[1].has_ip4 = true;
	assert_int_equal(halb_prefix_parse("10.1.0.2/16", &cfg->ports[1].ip4,
					   &cfg->ports[1].plen4), 0);
	cfg->ports[1].has_ip6 = true;
	assert_int_equal(halb_prefix_parse("fd00:1::2/64", &cfg->ports[1].ip6,
					   &cfg->ports[1].plen6), 0);

	/* Connected: the next hop is the destination itself. */
	dst = ip("10.0.0.77");
	assert_int_equal(cfg_route(cfg, &dst, &nh), 0);
	assert_true(halb_ip_eq(&nh, &dst));
	dst = ip("10.1.200.3");
	assert_int_equal(cfg_route(cfg, &dst, &nh), 1);
	assert_true(halb_ip_eq(&nh, &dst));
	dst = ip("fd00:1::99");
	assert_int_equal(cfg_route(cfg, &dst, &nh), 1);
	assert_true(halb_ip_eq(&nh, &dst));

	/* Elsewhere: the first port with a gateway of the family. */
	dst = ip("192.0.2.1");
	want = ip("10.0.0.1");
	assert_int_equal(cfg_route(cfg, &dst, &nh), 0);
	assert_true(halb_ip_eq(&nh, &want));
	assert_int_equal(cfg_route(cfg, &dst, NULL), 0);

	/* No IPv6 gateway anywhere: unreachable, whatever IPv4 has. */
	dst = ip("2001:db8::1");
	assert_int_equal(cfg_route(cfg, &dst, &nh), -ENETUNREACH);
	cfg->ports[1].has_gw6 = true;
	cfg->ports[1].gw6 = ip("fd00:1::1");
	want = cfg->ports[1].gw6;
	assert_int_equal(cfg_route(cfg, &dst, &nh), 1);
	assert_true(halb_ip_eq(&nh, &want));

	/* A family no port has at all. */
	cfg->n_ports = 1;
	dst = ip("fd00:1::99");
	assert_int_equal(cfg_route(cfg, &dst, &nh), -ENETUNREACH);
	free(cfg);

	/* The demo: clients are behind the router. */
	cfg = load_ok(HALB_CONF);
	dst = ip("198.18.1.1");
	want = ip("198.18.0.254");
	assert_int_equal(cfg_route(cfg, &dst, &nh), 0);
	assert_true(halb_ip_eq(&nh, &want));
	dst = ip("fd00:68::12");
	assert_int_equal(cfg_route(cfg, &dst, &nh), 0);
	assert_true(halb_ip_eq(&nh, &dst));
	cfg_free(cfg);
}

/* The routing fabric's sample (issue 10): ports[].kernel and bgp { },
 * with their defaults; a file without bgp { } has none. */
static void
test_bgp(void **state)
{
	struct halb_cfg *cfg;
	const struct cfg_bgp *b;

	(void)state;
	cfg = load_ok(SAMPLES_DIR "/fabric-lb1.conf");
	b = &cfg->bgp;
	assert_string_equal(cfg->ports[0].kernel, "halb0k");
	assert_int_equal(cfg->ports[0].kernel_rate, 10000);
	assert_true(b->has);
	assert_int_equal(b->as, 65001);
	assert_true(halb_ip_eq(&b->router_id, &cfg->ports[0].ip4));
	assert_int_equal(b->n_neigh, 2);
	{
		struct halb_ip r = ip("198.18.0.254"), r6 = ip("fd00:68::fe");

		assert_true(halb_ip_eq(&b->neigh[0].ip, &r));
		assert_true(halb_ip_eq(&b->neigh[1].ip, &r6));
	}
	assert_int_equal(b->neigh[0].as, 65000);
	assert_int_equal(b->neigh[0].port, 0);
	assert_string_equal(b->neigh[0].password, "");
	assert_int_equal(b->bfd_interval_ms, 100);
	assert_int_equal(b->bfd_multiplier, 3);
	/* announce: every service by default. */
	assert_int_equal(b->n_announce, 2);
	assert_int_equal(b->announce[0], 0);
	assert_int_equal(b->announce[1], 1);
	assert_false(b->has_nh4);
	assert_string_equal(b->socket, "/run/bird/bird.ctl");
	cfg_free(cfg);

	cfg = load_ok(SAMPLES_DIR "/minimal.conf");
	assert_false(cfg->bgp.has);
	assert_string_equal(cfg->ports[0].kernel, "");
	assert_string_equal(cfg->bgp.socket, "/run/bird/bird.ctl");
	assert_int_equal(cfg->bgp.bfd_interval_ms, 100);
	cfg_free(cfg);
}

static void
test_digest(void **state)
{
	struct halb_cfg *a, *b, *c;

	(void)state;
	a = load_ok(HALB_CONF);
	/* Another spelling of the same file: the path does not count. */
	b = load_ok(HALB_SRCDIR "/./conf/halb.conf");
	assert_true(cfg_digest(a) == cfg_digest(b));
	assert_true(cfg_digest(a) == cfg_digest(a));
	b->services[0].backends[2].weight = 3;
	assert_true(cfg_digest(a) != cfg_digest(b));
	b->services[0].backends[2].weight = 2;
	assert_true(cfg_digest(a) == cfg_digest(b));
	c = load_ok(SAMPLES_DIR "/minimal.conf");
	assert_true(cfg_digest(a) != cfg_digest(c));
	cfg_free(a);
	cfg_free(b);
	cfg_free(c);
}

/* metrics { } and log { }: their defaults, and values given. */
/* ha { }: halb-had's defaults without the section, and the keys. */
static void
test_ha(void **state)
{
	char dir[] = "/tmp/halb-cfg-XXXXXX", conf[64];
	const struct cfg_ha_part *p;
	struct halb_cfg *cfg;
	char *msgs;

	(void)state;
	cfg = load_ok(HALB_CONF);
	assert_int_equal(cfg->ha.poll_ms, 20);
	assert_string_equal(cfg->ha.status_socket, "/run/halb/halb-demo.had.sock");
	p = &cfg->ha.parts[HA_PART_FORWARDER];
	assert_true(p->enabled && p->with_config);
	assert_int_equal(p->argc, 1);
	assert_non_null(strstr(p->argv[0], "/halb-forwarder"));
	assert_int_equal(p->timeout_ms, 250);
	assert_int_equal(p->after, 0);
	p = &cfg->ha.parts[HA_PART_CLASSIFIER];
	assert_int_equal(p->after, HA_BIT(FORWARDER));
	assert_int_equal(p->bound, HA_BIT(FORWARDER));
	/* conf/halb.conf has a health section: healthd runs. */
	assert_true(cfg->ha.parts[HA_PART_HEALTHD].enabled);
	assert_int_equal(cfg->ha.parts[HA_PART_HEALTHD].timeout_ms, 1000);
	/* It listens on the management leg, not a port's address: it need
	 * not wait for the forwarder's kernel interface. */
	assert_int_equal(cfg->ha.parts[HA_PART_HEALTHD].after, 0);
	assert_string_equal(cfg_ha_part_name(HA_PART_HEALTHD), "healthd");
	assert_int_equal(cfg_ha_part_parse("classifier"), HA_PART_CLASSIFIER);
	assert_int_equal(cfg_ha_part_parse("bird"), HA_PART_BIRD);
	assert_int_equal(cfg_ha_part_parse("pacemaker"), -1);
	/* No sessions or bgp section: neither sessiond nor BIRD runs. */
	assert_false(cfg->ha.parts[HA_PART_SESSIOND].enabled);
	assert_false(cfg->ha.parts[HA_PART_BIRD].enabled);
	cfg_free(cfg);

	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/h.conf", dir);
	write_file(conf, 0600,
		   "ports = ( { name = \"lan\"; vdev = \"net_af_packet0,iface=eth1\";"
		   " ipv4 = \"10.0.0.2/24\"; } );\n"
		   "services = ( { name = \"web\"; vip = \"10.0.1.80\"; port = 80;"
		   " protocol = \"tcp\"; backends = ( { ip = \"10.0.0.11\"; } ); } );\n"
		   "ha = { poll_ms = 50; status_socket = \"/tmp/had.sock\";\n"
		   "  forwarder = { command = [ \"/opt/fwd\", \"-c\", \"/x.conf\" ];"
		   " timeout_ms = 400; backoff_ms = 10; backoff_max_ms = 20;"
		   " max_failures = 2; failure_window_ms = 5000; start_timeout_ms = 900;"
		   " stop_timeout_ms = 800; };\n"
		   "  classifier = { enabled = false; };\n"
		   "  healthd = { enabled = true; after = [ \"forwarder\" ]; }; };\n");
	cfg = load_msgs(conf, 0, &msgs);
	if (cfg == NULL)
		print_error("%s", msgs);
	free(msgs);
	assert_non_null(cfg);
	assert_int_equal(cfg->ha.poll_ms, 50);
	assert_string_equal(cfg->ha.status_socket, "/tmp/had.sock");
	p = &cfg->ha.parts[HA_PART_FORWARDER];
	assert_false(p->with_config);
	assert_int_equal(p->argc, 3);
	assert_string_equal(p->argv[0], "/opt/fwd");
	assert_string_equal(p->argv[2], "/x.conf");
	assert_int_equal(p->timeout_ms, 400);
	assert_int_equal(p->backoff_ms, 10);
	assert_int_equal(p->backoff_max_ms, 20);
	assert_int_equal(p->max_failures, 2);
	assert_int_equal(p->window_ms, 5000);
	assert_int_equal(p->start_timeout_ms, 900);
	assert_int_equal(p->stop_timeout_ms, 800);
	assert_false(cfg->ha.parts[HA_PART_CLASSIFIER].enabled);
	/* No health section, but asked for. */
	assert_true(cfg->ha.parts[HA_PART_HEALTHD].enabled);
	assert_int_equal(cfg->ha.parts[HA_PART_HEALTHD].after, HA_BIT(FORWARDER));
	cfg_free(cfg);
	unlink(conf);
	rmdir(dir);
}

static void
test_metrics_log(void **state)
{
	char dir[] = "/tmp/halb-cfg-XXXXXX", conf[64], ip[HALB_IP_STRLEN];
	struct halb_cfg *cfg;
	char *msgs;

	(void)state;
	cfg = load_ok(HALB_CONF);
	assert_string_equal(halb_ip_fmt(&cfg->metrics.listen_ip, ip, sizeof(ip)),
			    "127.0.0.1");
	assert_int_equal(cfg->metrics.listen_port, CFG_METRICS_PORT);
	assert_int_equal(cfg->log.level, 6);
	assert_int_equal(cfg->log.dpdk_level, 6);
	assert_false(cfg->log.syslog);
	cfg_free(cfg);

	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/m.conf", dir);
	write_file(conf, 0600,
		   "ports = ( { name = \"lan\"; vdev = \"net_af_packet0,iface=eth1\";"
		   " ipv4 = \"10.0.0.2/24\"; } );\n"
		   "services = ( { name = \"web\"; vip = \"10.0.1.80\"; port = 80;"
		   " protocol = \"tcp\"; backends = ( { ip = \"10.0.0.11\"; } ); } );\n"
		   "metrics = { listen = \"[fd00::3]:9100\"; };\n"
		   "log = { level = \"debug\"; dpdk_level = \"err\"; syslog = true; };\n");
	cfg = load_msgs(conf, 0, &msgs);
	if (cfg == NULL)
		print_error("%s", msgs);
	free(msgs);
	assert_non_null(cfg);
	assert_true(cfg->metrics.has);
	assert_string_equal(halb_ip_fmt(&cfg->metrics.listen_ip, ip, sizeof(ip)),
			    "fd00::3");
	assert_int_equal(cfg->metrics.listen_port, 9100);
	assert_int_equal(cfg->log.level, 7);
	assert_int_equal(cfg->log.dpdk_level, 3);
	assert_true(cfg->log.syslog);
	assert_string_equal(cfg_log_level_name(cfg->log.level), "debug");
	assert_int_equal(cfg_log_level_parse("warning"), 4);
	assert_int_equal(cfg_log_level_parse("loud"), -1);
	cfg_free(cfg);
	unlink(conf);
	assert_int_equal(rmdir(dir), 0);
}

/* Agent hosts written once in health.agents and named by their backends
 * load as the older form, each backend giving agent { host; key; },
 * loads: the same hosts, keys, ports and addresses, the same backends
 * naming them. */
#define K_WEB1 "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define K_WEB2 "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
#define K_WEB3 "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#define A_WEB1 "agent = { host = \"web1\"; key = \"" K_WEB1 "\"; };"
#define A_WEB2 "agent = { host = \"web2\"; key = \"" K_WEB2 "\"; key_id = 2; port = 7302; };"
#define A_WEB3 "agent = { host = \"web3\"; key = \"" K_WEB3 "\"; address = \"10.40.1.13\"; };"

static void
test_agents_by_host(void **state)
{
	char dir[] = "/tmp/halb-cfg-XXXXXX", conf[64];
	struct halb_cfg *a, *b;
	unsigned int i, s, k;
	char *msgs;

	(void)state;
	a = load_ok(SAMPLES_DIR "/agents-by-host.conf");
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/old.conf", dir);
	write_file(conf, 0600,
		   "eal = { file_prefix = \"halb-hosts\"; };\n"
		   "ports = ( { name = \"inside\"; vdev = \"net_af_packet0,iface=eth1,qdisc_bypass=1\";"
		   " ipv4 = \"10.40.0.2/24\"; gateway4 = \"10.40.0.1\"; } );\n"
		   "health = { listen = \"10.40.0.3:7300\"; name = \"lb1\";"
		   " key = \"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\";"
		   " weight_policy = \"agent\"; };\n"
		   "services = (\n"
		   " { name = \"web\"; vip = \"10.40.9.80\"; port = 80; protocol = \"tcp\"; backends = (\n"
		   "  { ip = \"10.40.0.11\"; " A_WEB1 " },\n"
		   "  { ip = \"10.40.0.12\"; " A_WEB2 " },\n"
		   "  { ip = \"10.40.0.13\"; " A_WEB3 " } ); },\n"
		   " { name = \"web-tls\"; vip = \"10.40.9.80\"; port = 443; protocol = \"tcp\"; backends = (\n"
		   "  { ip = \"10.40.0.11\"; " A_WEB1 " },\n"
		   "  { ip = \"10.40.0.12\"; " A_WEB2 " },\n"
		   "  { ip = \"10.40.0.13\"; " A_WEB3 " } ); },\n"
		   " { name = \"dns\"; vip = \"10.40.9.53\"; port = 53; protocol = \"udp\"; backends = (\n"
		   "  { ip = \"10.40.0.11\"; " A_WEB1 " },\n"
		   "  { ip = \"10.40.0.12\"; " A_WEB2 " } ); } );\n");
	b = load_msgs(conf, 0, &msgs);
	if (b == NULL)
		print_error("%s", msgs);
	free(msgs);
	assert_non_null(b);
	assert_int_equal(a->health.n_agents, 3);
	assert_int_equal(b->health.n_agents, a->health.n_agents);
	for (i = 0; i < a->health.n_agents; i++) {
		const struct cfg_agent *x = &a->health.agents[i];
		const struct cfg_agent *y = &b->health.agents[i];

		assert_string_equal(x->host, y->host);
		assert_int_equal(x->key.len, 32);
		assert_int_equal(x->key.len, y->key.len);
		assert_int_equal(x->key.id, y->key.id);
		assert_memory_equal(x->key.bytes, y->key.bytes, x->key.len);
		assert_int_equal(x->port, y->port);
		assert_true(halb_ip_eq(&x->addr, &y->addr));
		assert_true(x->listed);
		assert_false(y->listed);
	}
	assert_int_equal(a->health.agents[1].port, 7302);
	assert_int_equal(a->health.agents[1].key.id, 2);
	assert_int_equal(a->n_services, b->n_services);
	for (s = 0; s < a->n_services; s++) {
		assert_int_equal(a->services[s].n_backends, b->services[s].n_backends);
		for (k = 0; k < a->services[s].n_backends; k++)
			assert_int_equal(a->services[s].backends[k].agent,
					 b->services[s].backends[k].agent);
	}
	cfg_free(a);
	cfg_free(b);
	unlink(conf);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_ip_helpers(void **state)
{
	struct halb_ip a, net;
	char buf[HALB_IP_STRLEN];
	uint8_t plen = 99, mac[6];

	(void)state;
	/* Addresses. */
	assert_int_equal(halb_ip_parse("1.2.3", &a), -EINVAL);
	assert_int_equal(halb_ip_parse("1.2.3.4/8", &a), -EINVAL);
	assert_int_equal(halb_ip_parse(NULL, &a), -EINVAL);
	a = ip("198.18.0.2");
	assert_true(halb_ip_is_v4(&a));
	assert_int_equal(halb_ip_v4(&a), htonl(0xc6120002));
	assert_string_equal(halb_ip_fmt(&a, buf, sizeof(buf)), "198.18.0.2");
	a = ip("::ffff:198.18.0.2");
	assert_true(halb_ip_is_v4(&a));
	a = ip("fd00:68::2");
	assert_false(halb_ip_is_v4(&a));
	assert_string_equal(halb_ip_fmt(&a, buf, sizeof(buf)), "fd00:68::2");

	/* Prefixes: the length is in the address's own family. */
	assert_int_equal(halb_prefix_parse("10.0.0.1/32", &a, &plen), 0);
	assert_int_equal(plen, 32);
	assert_int_equal(halb_prefix_parse("0.0.0.0/0", &a, &plen), 0);
	assert_int_equal(plen, 0);
	assert_int_equal(halb_prefix_parse("fd00::/128", &a, &plen), 0);
	assert_int_equal(plen, 128);
	assert_int_equal(halb_prefix_parse("10.0.0.1/33", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("fd00::/129", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("10.0.0.1", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("10.0.0.1/", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("/24", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("10.0.0.1/-1", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("10.0.0.1/+8", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("10.0.0.1/24x", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("10.0.0.1/99999999999999999999",
					   &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse("10.0.1/24", &a, &plen), -EINVAL);
	assert_int_equal(halb_prefix_parse(NULL, &a, &plen), -EINVAL);

	/* Membership, on and off byte boundaries, across families. */
	assert_int_equal(halb_prefix_parse("10.0.0.0/25", &net, &plen), 0);
	a = ip("10.0.0.127");
	assert_true(halb_ip_in_prefix(&a, &net, plen));
	a = ip("10.0.0.128");
	assert_false(halb_ip_in_prefix(&a, &net, plen));
	a = ip("10.200.1.1");
	assert_true(halb_ip_in_prefix(&a, &net, 8));
	a = ip("11.0.0.1");
	assert_false(halb_ip_in_prefix(&a, &net, 8));
	assert_true(halb_ip_in_prefix(&a, &net, 0));
	a = ip("10.0.0.1");
	assert_true(halb_ip_in_prefix(&a, &a, 32));
	net = ip("fd00:68::");
	a = ip("fd00:68::ffff:1");
	assert_true(halb_ip_in_prefix(&a, &net, 64));
	a = ip("fd00:69::1");
	assert_false(halb_ip_in_prefix(&a, &net, 64));
	assert_true(halb_ip_in_prefix(&a, &net, 0));
	a = ip("10.0.0.1");
	assert_false(halb_ip_in_prefix(&a, &net, 0));
	net = ip("10.0.0.0");
	a = ip("::a00:1");
	assert_false(halb_ip_in_prefix(&a, &net, 8));

	/* MACs. */
	assert_int_equal(halb_mac_parse("02:68:00:00:00:0b", mac), 0);
	assert_int_equal(mac[0], 0x02);
	assert_int_equal(mac[5], 0x0b);
	assert_int_equal(halb_mac_parse("02:68:00:00:00", mac), -EINVAL);
	assert_int_equal(halb_mac_parse("02:68:00:00:00:0b:", mac), -EINVAL);
	assert_int_equal(halb_mac_parse("02:68:00:00:00:0bx", mac), -EINVAL);
	assert_int_equal(halb_mac_parse(NULL, mac), -EINVAL);
}


/* sessions { }: defaults without it, every key of the sample read. */
static void
test_sessions_conf(void **state)
{
	struct halb_cfg *cfg;
	struct halb_ip a;

	(void)state;
	cfg = load_ok(SAMPLES_DIR "/minimal.conf");
	assert_false(cfg->sessions.has);
	assert_int_equal(cfg->sessions.listen_port, CFG_SYNC_PORT);
	assert_int_equal(cfg->sessions.ring_size, 65536);
	assert_int_equal(cfg->sessions.replica_entries,
			 cfg->flow_entries * cfg->n_workers);
	assert_int_equal(cfg->sessions.n_peers, 0);
	assert_string_equal(cfg->sessions.socket, "/run/halb/halb.sessiond.sock");
	cfg_free(cfg);

	cfg = load_ok(SAMPLES_DIR "/sessions-pair.conf");
	assert_true(cfg->sessions.has);
	assert_string_equal(cfg->sessions.name, "lb1");
	a = ip("10.40.0.1");
	assert_true(halb_ip_eq(&cfg->sessions.listen_ip, &a));
	assert_int_equal(cfg->sessions.listen_port, 7303);
	assert_int_equal(cfg->sessions.replica_entries, 262144);
	assert_int_equal(cfg->sessions.resend_ms, 200);
	assert_int_equal(cfg->sessions.dead_ms, 3000);
	assert_int_equal(cfg->sessions.window, 64);
	assert_int_equal(cfg->sessions.backlog, 65536);
	assert_int_equal(cfg->sessions.n_peers, 1);
	assert_string_equal(cfg->sessions.peers[0].name, "lb2");
	assert_int_equal(cfg->sessions.peers[0].port, 7303);
	assert_int_equal(cfg->sessions.peers[0].key.len, 32);
	assert_int_equal(cfg->sessions.peers[0].key.id, 1);
	assert_int_equal(cfg->sessions.peers[0].key.bytes[0], 0x5e);
	cfg_free(cfg);
}

static void
test_health_defaults(void **state)
{
	struct halb_cfg *cfg;
	const struct cfg_backend *be;
	struct halb_ip a;

	(void)state;
	/* No health group: today's files keep working, with defaults. */
	cfg = load_ok(SAMPLES_DIR "/minimal.conf");
	assert_false(cfg->has_health);
	a = ip("0.0.0.0");
	assert_true(halb_ip_eq(&cfg->health.listen_ip, &a));
	assert_int_equal(cfg->health.listen_port, 7300);
	assert_string_equal(cfg->health.name, "halb");
	assert_int_equal(cfg->health.key.len, 0);
	assert_int_equal(cfg->health.weight_policy, CFG_WEIGHT_STATIC);
	assert_int_equal(cfg->health.weight_min, 1);
	assert_int_equal(cfg->health.weight_max, 65535);
	assert_int_equal(cfg->health.report_window_ms, 5000);
	assert_int_equal(cfg->health.handler_timeout_ms, 3000);
	assert_string_equal(cfg->health.socket, "/run/halb/halb.health");
	assert_string_equal(cfg->health.status_socket,
			    "/run/halb/halb.healthd.sock");
	assert_int_equal(cfg->health.n_peers, 0);
	assert_int_equal(cfg->health.n_agents, 0);
	assert_int_equal(cfg->services[0].down_flows, CFG_DOWN_RESET);
	assert_int_equal(cfg->services[0].down_hold_ms, CFG_DOWN_HOLD_MS);
	/* A TCP backend without agent or check gets HAProxy-like probes on
	 * its port (here the service's). */
	be = &cfg->services[0].backends[1];
	assert_int_equal(be->agent, 0);
	assert_int_equal(be->check.type, CFG_CHECK_TCP);
	assert_int_equal(be->check.port, 80);
	assert_int_equal(be->check.rise, 2);
	assert_int_equal(be->check.fall, 3);
	assert_int_equal(be->check.interval_ms, 1000);
	assert_int_equal(be->check.timeout_ms, 500);
	assert_true(halb_ip_eq(&be->check.addr, &be->ip));
	cfg_free(cfg);

	/* Nothing to probe: all ports, or UDP. */
	cfg = load_ok(SAMPLES_DIR "/all-ports.conf");
	assert_int_equal(cfg->services[0].backends[0].check.type, CFG_CHECK_NONE);
	assert_int_equal(cfg->services[1].backends[0].check.type, CFG_CHECK_NONE);
	assert_string_equal(cfg->health.socket, "/run/halb/halb-allports.health");
	cfg_free(cfg);
}

static void
test_health_conf(void **state)
{
	struct halb_cfg *cfg;
	const struct cfg_service *s;
	const struct cfg_agent *ag;
	struct halb_ip a;

	(void)state;
	cfg = load_ok(HALB_CONF);
	assert_true(cfg->has_health);
	a = ip("198.18.0.3");
	assert_true(halb_ip_eq(&cfg->health.listen_ip, &a));
	assert_string_equal(cfg->health.name, "lb1");
	assert_int_equal(cfg->health.key.len, 32);
	assert_int_equal(cfg->health.key.id, 1);
	assert_int_equal(cfg->health.key.bytes[0], 0x0c);
	assert_int_equal(cfg->health.key.bytes[31], 0x81);
	assert_int_equal(cfg->health.weight_max, 1000);
	assert_string_equal(cfg->health.socket, "/run/halb/halb-demo.health");
	/* One agent per host, whatever the number of backends naming it. */
	assert_int_equal(cfg->health.n_agents, 3);
	ag = &cfg->health.agents[0];
	assert_string_equal(ag->host, "b1");
	assert_int_equal(ag->port, 7301);
	a = ip("198.18.0.11");
	assert_true(halb_ip_eq(&ag->addr, &a));
	s = &cfg->services[3]; /* web6-dsr, on the same hosts */
	assert_int_equal(s->backends[0].agent, 1);
	assert_int_equal(s->backends[2].agent, 3);
	/* An agent is the authority: no probe unless asked for. */
	assert_int_equal(s->backends[0].check.type, CFG_CHECK_NONE);
	cfg_free(cfg);

	cfg = load_ok(SAMPLES_DIR "/health-pair.conf");
	assert_int_equal(cfg->health.weight_policy, CFG_WEIGHT_LEAST_LOAD);
	assert_int_equal(cfg->health.weight_min, 5);
	assert_int_equal(cfg->health.n_peers, 1);
	assert_string_equal(cfg->health.peers[0].name, "lb2");
	assert_int_equal(cfg->health.peers[0].port, 7300);
	assert_int_equal(cfg->health.peers[0].key.len, 32);
	assert_int_equal(cfg->health.n_agents, 2);
	s = &cfg->services[0];
	assert_int_equal(s->down_flows, CFG_DOWN_KEEP);
	assert_int_equal(s->backends[0].check.type, CFG_CHECK_NONE);
	/* Agent and probe both: the probe cross-checks. */
	assert_int_equal(s->backends[1].agent, 2);
	assert_int_equal(s->backends[1].check.type, CFG_CHECK_HTTP);
	assert_string_equal(s->backends[1].check.path, "/healthz");
	assert_int_equal(s->backends[1].check.expect, 200);
	assert_int_equal(s->backends[2].check.rise, 3);
	assert_int_equal(s->backends[2].check.fall, 2);
	assert_int_equal(s->backends[2].check.interval_ms, 2000);
	assert_int_equal(s->backends[2].check.port, 80);
	/* UDP: probed only when asked, on the port given. */
	s = &cfg->services[1];
	assert_int_equal(s->backends[0].agent, 1);
	assert_int_equal(s->backends[1].check.type, CFG_CHECK_TCP);
	assert_int_equal(s->backends[1].check.port, 53);
	assert_string_equal(cfg_check_name(CFG_CHECK_HTTP), "http");
	assert_string_equal(cfg_weight_policy_name(CFG_WEIGHT_LEAST_LOAD),
			    "least-load");
	cfg_free(cfg);
}

static void
test_health_parsers(void **state)
{
	struct seal_key k = { .id = 7 };
	struct halb_ip a, want;
	uint16_t port = 0;
	char why[128], path[64];

	(void)state;
	assert_int_equal(cfg_parse_endpoint("198.18.0.3:7300", &a, &port), 0);
	want = ip("198.18.0.3");
	assert_true(halb_ip_eq(&a, &want));
	assert_int_equal(port, 7300);
	assert_int_equal(cfg_parse_endpoint("[fd00::3]:1", &a, &port), 0);
	want = ip("fd00::3");
	assert_true(halb_ip_eq(&a, &want));
	assert_int_equal(port, 1);
	assert_int_equal(cfg_parse_endpoint("0.0.0.0:65535", &a, &port), 0);
	assert_int_equal(cfg_parse_endpoint("fd00::3:7300", &a, &port), -EINVAL);
	assert_int_equal(cfg_parse_endpoint("[1.2.3.4]:80", &a, &port), -EINVAL);
	assert_int_equal(cfg_parse_endpoint("1.2.3.4:0", &a, &port), -EINVAL);
	assert_int_equal(cfg_parse_endpoint("1.2.3.4:65536", &a, &port), -EINVAL);
	assert_int_equal(cfg_parse_endpoint("1.2.3.4:", &a, &port), -EINVAL);
	assert_int_equal(cfg_parse_endpoint("1.2.3.4:80x", &a, &port), -EINVAL);
	assert_int_equal(cfg_parse_endpoint("host:80", &a, &port), -EINVAL);

	assert_int_equal(cfg_hex_key("00112233445566778899AABBCCDDeeff", &k,
				     why, sizeof(why)), 0);
	assert_int_equal(k.len, 16);
	assert_int_equal(k.id, 7);
	assert_int_equal(k.bytes[10], 0xaa);
	assert_int_equal(k.bytes[15], 0xff);
	assert_int_equal(cfg_hex_key("00112233445566778899aabbccddeef", &k,
				     why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "odd"));
	assert_int_equal(cfg_hex_key("0011223344556677", &k, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "8 bytes"));
	assert_int_equal(cfg_hex_key("00112233445566778899aabbccddeeg0", &k,
				     why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "'g' at 31"));

	assert_int_equal(cfg_parse_http_url("http://127.0.0.1:8080/h?x=1", &a,
					    &port, path, sizeof(path)), 0);
	assert_int_equal(port, 8080);
	assert_string_equal(path, "/h?x=1");
	assert_int_equal(cfg_parse_http_url("http://localhost", &a, &port, path,
					    sizeof(path)), 0);
	want = ip("127.0.0.1");
	assert_true(halb_ip_eq(&a, &want));
	assert_int_equal(port, 80);
	assert_string_equal(path, "/");
	assert_int_equal(cfg_parse_http_url("http://[::1]/x", &a, &port, path,
					    sizeof(path)), 0);
	assert_int_equal(port, 80);
	assert_int_equal(cfg_parse_http_url("https://127.0.0.1/", &a, &port,
					    path, sizeof(path)), -EINVAL);
	assert_int_equal(cfg_parse_http_url("http://example.com/", &a, &port,
					    path, sizeof(path)), -EINVAL);
	assert_int_equal(cfg_parse_http_url("http:///", &a, &port, path,
					    sizeof(path)), -EINVAL);
	assert_int_equal(cfg_parse_http_url("http://1.2.3.4/a b", &a, &port,
					    path, sizeof(path)), -EINVAL);
}

static void
test_agent_conf(void **state)
{
	struct agc *c;
	const struct agc_service *s;
	struct halb_ip a;

	(void)state;
	c = cfg_agent_load(SAMPLES_DIR "/agent-b1.conf", stderr);
	assert_non_null(c);
	assert_string_equal(c->host, "b1");
	assert_int_equal(c->key.len, 32);
	assert_int_equal(c->key.id, 1);
	assert_int_equal(c->key.bytes[0], 0x13);
	assert_int_equal(c->n_handlers, 1);
	assert_int_equal(c->handlers[0].port, 7300);
	assert_string_equal(c->handlers[0].name, "lb1");
	assert_int_equal(c->handlers[0].key.len, 32);
	assert_int_equal(c->handlers[0].key.bytes[0], 0x0c);
	assert_int_equal(c->listen_port, 7301);
	assert_int_equal(c->interval_ms, 1000);
	assert_int_equal(c->capacity, 100);
	assert_string_equal(c->control, "/run/halb-agent/b1.sock");
	assert_string_equal(c->state_file, "/run/halb-agent/b1.sock.drain");
	assert_int_equal(c->n_services, 6);
	s = &c->services[0];
	assert_string_equal(s->service, "web-dsr");
	assert_int_equal(s->check_type, CFG_CHECK_HTTP);
	a = ip("127.0.0.1");
	assert_true(halb_ip_eq(&s->check_ip, &a));
	assert_int_equal(s->check_port, 80);
	assert_string_equal(s->path, "/");
	assert_int_equal(s->expect, 200);
	assert_int_equal(s->rise, 1);
	assert_int_equal(s->fall, 1);
	assert_int_equal(s->timeout_ms, 500);
	assert_int_equal(c->services[1].check_type, CFG_CHECK_TCP);
	assert_int_equal(c->services[1].check_port, 8080);
	assert_int_equal(c->services[4].check_type, CFG_CHECK_COMMAND);
	assert_string_equal(c->services[4].command, "test -e /proc/net/tcp6");
	/* No check given: TCP to the service's own address and port. */
	s = &c->services[5];
	assert_int_equal(s->check_type, CFG_CHECK_TCP);
	a = ip("fd00:68::11");
	assert_true(halb_ip_eq(&s->check_ip, &a));
	assert_int_equal(s->check_port, 80);
	assert_string_equal(cfg_check_name(CFG_CHECK_COMMAND), "command");
	cfg_agent_free(c);

	errno = 0;
	assert_null(cfg_agent_load(HALB_CONF, NULL));
	assert_int_equal(errno, EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_helpers),
		cmocka_unit_test(test_good_files),
		cmocka_unit_test(test_halb_conf),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_bgp),
		cmocka_unit_test(test_metrics_log),
		cmocka_unit_test(test_ha),
		cmocka_unit_test(test_agents_by_host),
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_sessions_conf),
		cmocka_unit_test(test_health_defaults),
		cmocka_unit_test(test_health_conf),
		cmocka_unit_test(test_health_parsers),
		cmocka_unit_test(test_agent_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
