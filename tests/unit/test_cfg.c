/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of configuration loading (src/cfg.c) and of the address helpers
 * it builds on (src/ip.c).  Every shipped configuration (conf/halb.conf
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
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "halb/cfg.h"
#include "halb/ip.h"

#ifndef HALB_SRCDIR
#define HALB_SRCDIR "."
#endif

#define BAD_DIR HALB_SRCDIR "/tests/conf/bad"
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
check_bad_file(const char *path)
{
	struct expect e[MAX_EXPECT];
	struct halb_cfg *cfg;
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
	cfg = cfg_load(path, err);
	saved = errno;
	fclose(err);
	if (cfg != NULL) {
		print_error("%s: loaded, but it is a bad file\n", path);
		cfg_free(cfg);
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

static void
test_bad_corpus(void **state)
{
	struct dirent **names;
	unsigned int failed = 0;
	char path[1024];
	int n, i;

	(void)state;
	n = scandir(BAD_DIR, &names, is_conf, alphasort);
	assert_true(n >= 20);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", BAD_DIR, names[i]->d_name);
		failed += check_bad_file(path);
		free(names[i]);
	}
	free(names);
	assert_int_equal(failed, 0);
}

static void
test_good_files(void **state)
{
	struct dirent **names;
	char path[1024];
	int n, i;

	(void)state;
	cfg_free(load_ok(HALB_CONF));
	n = scandir(SAMPLES_DIR, &names, is_conf, alphasort);
	assert_true(n >= 4);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", SAMPLES_DIR,
			 names[i]->d_name);
		cfg_free(load_ok(path));
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_helpers),
		cmocka_unit_test(test_good_files),
		cmocka_unit_test(test_halb_conf),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
