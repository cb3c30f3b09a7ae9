/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-healthd's cache (healthload/hd_*.c, hc_check.c): HAProxy's
 * rise/fall counting, the HTTP status line, the merge of agent, probe,
 * silence and peers into one state and source, the weight policies and
 * their clamping, reports applied (a host speaks only for itself, what
 * it does not list is down), peers' snapshots taken as last known, and
 * snapshots built full, as deltas and in parts, opened again with the
 * codec the classifier uses; the operator's decisions on top of the
 * merge, kept in the state file and loaded again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "halb/cfg.h"
#include "halb/sock.h"
#include "halb/hl_msg.h"
#include "hd.h"

#define K_LB1 "0c436356aa77ead33044c26937114af0657aa0aa8d174edac427f613478afd81"
#define K_LB2 "6831861d5e02754865c303bd8eacc02989cbdcbfbd1a206f7e15799b75ea8df1"
#define K_B1 "130481e6f73e305cefe2ada86b172cdcaed381a3b163f801c3e787cedf1ea773"
#define K_B2 "45593734db5b116a01f9e3ddd0fda5d1ecfe541b9a995e38773555acb26674c6"

#define T0 100000ull            /* healthd's start, monotonic ms */
#define UNIX 1700000000000ull   /* wall clock of the test, ms */

/* Backends, in configuration order. */
enum { BE_AGENT, BE_BOTH, BE_PROBE, BE_NONE, BE_DNS, N_BE };

static const char conf_text[] =
	"eal = { file_prefix = \"halb-test\"; };\n"
	"ports = ( { name = \"p\"; vdev = \"net_null0\"; ipv4 = \"10.0.0.2/24\"; } );\n"
	"health = { name = \"lb1\"; key = \"" K_LB1 "\";\n"
	"  weight_policy = \"%s\"; weight_min = 2; weight_max = 50;\n"
	"  state_file = \"%s\";\n"
	"  peers = ( { name = \"lb2\"; address = \"10.0.0.4:7300\"; key = \"" K_LB2 "\"; } ); };\n"
	"services = (\n"
	"  { name = \"web\"; vip = \"10.0.1.80\"; port = 80; protocol = \"tcp\";\n"
	"    backends = (\n"
	"      { ip = \"10.0.0.11\"; weight = 100; agent = { host = \"b1\"; key = \"" K_B1 "\"; }; },\n"
	"      { ip = \"10.0.0.12\"; weight = 10; agent = { host = \"b2\"; key = \"" K_B2 "\"; };\n"
	"        check = { type = \"http\"; rise = 2; fall = 3; }; },\n"
	"      { ip = \"10.0.0.13\"; weight = 10; check = { rise = 2; fall = 3; }; },\n"
	"      { ip = \"10.0.0.14\"; weight = 0; check = { type = \"none\"; }; } ); },\n"
	"  { name = \"dns\"; vip = \"10.0.1.53\"; port = 53; protocol = \"udp\";\n"
	"    backends = ( { ip = \"10.0.0.11\"; agent = { host = \"b1\"; key = \"" K_B1 "\"; }; } ); } );\n";

/* health.state_file of the configurations load_conf makes: never
 * written except by the operator tests, which point it at their own. */
static char state_file[128] = "/tmp/halb-test-health-none/operator";

/* Loads conf_text with a weight policy, through a temporary file. */
static struct halb_cfg *
load_conf(const char *policy)
{
	char path[] = "/tmp/halb-test-health-XXXXXX";
	struct halb_cfg *cfg;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, conf_text, policy, state_file);
	fclose(f);
	cfg = cfg_load(path, stderr);
	unlink(path);
	assert_non_null(cfg);
	return cfg;
}

static void
key_of(const char *hex, uint32_t id, struct seal_key *k)
{
	char why[128];

	memset(k, 0, sizeof(*k));
	k->id = id;
	assert_int_equal(cfg_hex_key(hex, k, why, sizeof(why)), 0);
}

/* ---- rise/fall, status line ---- */

static void
test_rise_fall(void **state)
{
	struct hc_rf rf;
	int i;

	(void)state;
	/* HAProxy's init-state "up": up, and the first result decides. */
	hc_rf_init(&rf, 2, 3);
	assert_true(hc_rf_up(&rf));
	assert_false(hc_rf_known(&rf));
	assert_true(hc_rf_result(&rf, false));   /* first, and a change */
	assert_false(hc_rf_up(&rf));
	assert_true(hc_rf_known(&rf));
	assert_false(hc_rf_result(&rf, false));
	assert_false(hc_rf_moving(&rf));
	/* Down: rise successes in a row to come up (moving between). */
	assert_false(hc_rf_result(&rf, true));
	assert_false(hc_rf_up(&rf));
	assert_true(hc_rf_moving(&rf));
	assert_true(hc_rf_result(&rf, true));
	assert_true(hc_rf_up(&rf));
	assert_false(hc_rf_moving(&rf));
	/* Up: fall failures in a row to go down... */
	assert_false(hc_rf_result(&rf, false));
	assert_true(hc_rf_moving(&rf));
	assert_false(hc_rf_result(&rf, false));
	assert_true(hc_rf_up(&rf));
	assert_true(hc_rf_moving(&rf));
	/* ...and a success between them starts the count again. */
	assert_false(hc_rf_result(&rf, true));
	for (i = 0; i < 2; i++)
		assert_false(hc_rf_result(&rf, false));
	assert_true(hc_rf_up(&rf));
	assert_true(hc_rf_result(&rf, false));
	assert_false(hc_rf_up(&rf));
	/* A failure while down, then one success: still down. */
	assert_false(hc_rf_result(&rf, false));
	assert_false(hc_rf_result(&rf, true));
	assert_false(hc_rf_result(&rf, false));
	assert_false(hc_rf_result(&rf, true));
	assert_false(hc_rf_up(&rf));

	/* First result a success: fully up, fall failures to go down. */
	hc_rf_init(&rf, 2, 3);
	assert_true(hc_rf_result(&rf, true));
	assert_true(hc_rf_up(&rf));
	assert_false(hc_rf_result(&rf, false));
	assert_false(hc_rf_result(&rf, false));
	assert_true(hc_rf_result(&rf, false));
	assert_false(hc_rf_up(&rf));

	/* rise 1, fall 1: every result is the state. */
	hc_rf_init(&rf, 1, 1);
	assert_true(hc_rf_result(&rf, true));
	assert_true(hc_rf_result(&rf, false));
	assert_true(hc_rf_result(&rf, true));
	assert_true(hc_rf_up(&rf));
}

static void
test_http_status(void **state)
{
	static const struct {
		const char *in;
		int want;
	} t[] = {
		{ "HTTP/1.0 200 OK\r\n", 200 },
		{ "HTTP/1.1 503 Service Unavailable\r\n", 503 },
		{ "HTTP/1.1 404\r\n", 404 },
		{ "HTTP/1.1 204\n", 204 },
		{ "HTTP/1.", 0 },
		{ "HTTP/1.1 20", 0 },
		{ "HTTP/1.1 200", 0 },
		{ "", 0 },
		{ "HTTP/2 200 OK\r\n", -1 },
		{ "SSH-2.0-OpenSSH\r\n", -1 },
		{ "HTTP/1.1 2000\r\n", -1 },
		{ "HTTP/1.1 099 x\r\n", -1 },
		{ "HTTP/1.1 600 x\r\n", -1 },
		{ "HTTP/1.1  200\r\n", -1 },
		{ "http/1.1 200 OK\r\n", -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (hc_http_status(t[i].in, strlen(t[i].in)) != t[i].want)
			fail_msg("\"%s\": %d, expected %d", t[i].in,
				 hc_http_status(t[i].in, strlen(t[i].in)),
				 t[i].want);
}

/* ---- merge and weights ---- */

static void
test_merge(void **state)
{
	static const struct {
		const char *what;
		struct hd_inputs in;
		uint64_t now;
		uint8_t state, source;
		uint64_t info;
	} t[] = {
		{ "fresh agent",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 1000, .agent_state = HD_UP },
		  1500, HD_UP, HD_SRC_AGENT, 1000 },
		{ "agent silent for exactly three intervals: still its word",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 1000, .agent_state = HD_UP },
		  4000, HD_UP, HD_SRC_AGENT, 1000 },
		{ "agent silent for longer: down",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 1000, .agent_state = HD_UP },
		  4001, HD_DOWN, HD_SRC_AGENT, 1000 },
		{ "a long promised interval is a long silence",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 10000, .agent_state = HD_DRAINING },
		  25000, HD_DRAINING, HD_SRC_AGENT, 1000 },
		{ "agent draining, probe up",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 1000, .agent_state = HD_DRAINING,
		    .probed = true, .probe_known = true, .probe_up = true,
		    .probe_ms = 1200 },
		  1500, HD_DRAINING, HD_SRC_AGENT, 1000 },
		{ "agent up, probe down: the cross-check wins",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 1000, .agent_state = HD_UP,
		    .probed = true, .probe_known = true, .probe_up = false,
		    .probe_ms = 1200 },
		  1500, HD_DOWN, HD_SRC_PROBE, 1200 },
		{ "agent draining, probe down",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 1000, .agent_state = HD_DRAINING,
		    .probed = true, .probe_known = true, .probe_up = false,
		    .probe_ms = 1200 },
		  1500, HD_DOWN, HD_SRC_PROBE, 1200 },
		{ "agent up, probe has no result yet",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 1000, .agent_state = HD_UP,
		    .probed = true },
		  1500, HD_UP, HD_SRC_AGENT, 1000 },
		{ "agent down, probe up: the agent is the authority",
		  { .has_agent = true, .agent_heard = true, .agent_ms = 1000,
		    .agent_interval_ms = 1000, .agent_state = HD_DOWN,
		    .probed = true, .probe_known = true, .probe_up = true },
		  1500, HD_DOWN, HD_SRC_AGENT, 1000 },
		{ "agent not heard yet, nothing else: unknown",
		  { .has_agent = true, .start_ms = 1000 },
		  2000, HD_UNKNOWN, HD_SRC_NONE, 0 },
		{ "agent not heard yet, a peer's view: last known",
		  { .has_agent = true, .start_ms = 1000, .lk_state = HD_UP,
		    .lk_ms = 900 },
		  2000, HD_UP, HD_SRC_LAST_KNOWN, 900 },
		{ "agent not heard, probe up: the probe cannot speak for it",
		  { .has_agent = true, .start_ms = 1000, .probed = true,
		    .probe_known = true, .probe_up = true, .probe_ms = 1500 },
		  2000, HD_UNKNOWN, HD_SRC_NONE, 0 },
		{ "agent never heard for three intervals since start: down",
		  { .has_agent = true, .start_ms = 1000 },
		  4001, HD_DOWN, HD_SRC_AGENT, 1000 },
		{ "agent never heard, a young peer's view: a standby's case",
		  { .has_agent = true, .start_ms = 1000, .lk_state = HD_UP,
		    .lk_ms = 3900 },
		  33900, HD_UP, HD_SRC_LAST_KNOWN, 3900 },
		{ "agent never heard, the peer's view too old: down",
		  { .has_agent = true, .start_ms = 1000, .lk_state = HD_UP,
		    .lk_ms = 3900 },
		  33901, HD_DOWN, HD_SRC_AGENT, 1000 },
		{ "probe only, up",
		  { .probed = true, .probe_known = true, .probe_up = true,
		    .probe_ms = 1700 },
		  2000, HD_UP, HD_SRC_PROBE, 1700 },
		{ "probe only, down, even with a peer saying up",
		  { .probed = true, .probe_known = true, .probe_up = false,
		    .probe_ms = 1700, .lk_state = HD_UP, .lk_ms = 1900 },
		  2000, HD_DOWN, HD_SRC_PROBE, 1700 },
		{ "probe without result, a peer's view",
		  { .probed = true, .lk_state = HD_DOWN, .lk_ms = 1900 },
		  2000, HD_DOWN, HD_SRC_LAST_KNOWN, 1900 },
		{ "probe without result, a peer's view however old",
		  { .probed = true, .lk_state = HD_DOWN, .lk_ms = 1900 },
		  99000, HD_DOWN, HD_SRC_LAST_KNOWN, 1900 },
		{ "nothing at all",
		  { .start_ms = 0 },
		  99999, HD_UNKNOWN, HD_SRC_NONE, 0 },
	};
	struct hd_view v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		hd_merge(&t[i].in, t[i].now, &v);
		if (v.state != t[i].state || v.source != t[i].source ||
		    v.info_ms != t[i].info)
			fail_msg("%s: %s/%s at %llu, expected %s/%s at %llu",
				 t[i].what, hd_state_name(v.state),
				 hd_source_name(v.source),
				 (unsigned long long)v.info_ms,
				 hd_state_name(t[i].state),
				 hd_source_name(t[i].source),
				 (unsigned long long)t[i].info);
	}
}

static void
test_weight(void **state)
{
	struct hd_load busy = { .has = true, .cpu_permille = 500,
				.capacity = 500 };
	struct hd_load idle = { .has = true, .cpu_permille = 0, .capacity = 1 };
	struct hd_load full = { .has = true, .cpu_permille = 1000,
				.capacity = 30 };
	struct hd_load none = { .has = false };

	(void)state;
	/* static: the configured weight, whatever the load. */
	assert_int_equal(hd_weight(CFG_WEIGHT_STATIC, 2, 50, 10, HD_UP, &busy), 10);
	assert_int_equal(hd_weight(CFG_WEIGHT_STATIC, 2, 50, 100, HD_UP, NULL), 100);
	assert_int_equal(hd_weight(CFG_WEIGHT_STATIC, 2, 50, 10, HD_DRAINING, NULL), 10);
	/* Down, unknown, configured out: 0 under every policy. */
	assert_int_equal(hd_weight(CFG_WEIGHT_STATIC, 2, 50, 10, HD_DOWN, NULL), 0);
	assert_int_equal(hd_weight(CFG_WEIGHT_AGENT, 2, 50, 10, HD_UNKNOWN, &busy), 0);
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 2, 50, 0, HD_UP, &idle), 0);
	assert_int_equal(hd_weight(CFG_WEIGHT_AGENT, 2, 50, 0, HD_UP, &busy), 0);
	/* agent: the capacity asked for, clamped. */
	assert_int_equal(hd_weight(CFG_WEIGHT_AGENT, 2, 50, 10, HD_UP, &busy), 50);
	assert_int_equal(hd_weight(CFG_WEIGHT_AGENT, 2, 50, 10, HD_UP, &idle), 2);
	assert_int_equal(hd_weight(CFG_WEIGHT_AGENT, 2, 50, 10, HD_UP, &full), 30);
	assert_int_equal(hd_weight(CFG_WEIGHT_AGENT, 2, 50, 10, HD_UP, &none), 10);
	assert_int_equal(hd_weight(CFG_WEIGHT_AGENT, 2, 50, 10, HD_UP, NULL), 10);
	/* least-load: weight x idle share, rounded, clamped, never 0 up. */
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 2, 50, 10, HD_UP, &busy), 5);
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 2, 50, 10, HD_UP, &idle), 10);
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 2, 50, 10, HD_UP, &full), 2);
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 1, 50, 1, HD_UP, &full), 1);
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 2, 50, 100, HD_UP, &idle), 50);
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 1, 1000, 2, HD_UP,
				   &(struct hd_load){ .has = true, .cpu_permille = 100 }), 2);
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 2, 50, 10, HD_DRAINING, &busy), 5);
	assert_int_equal(hd_weight(CFG_WEIGHT_LEAST_LOAD, 2, 50, 10, HD_UP, &none), 10);
}

/* ---- reports ---- */

struct rep {
	Halb__Health__HostReport r;
	Halb__Health__ServiceHealth s[4], *sp[4];
	Halb__Health__Load load;
};

static void
mk_rep(struct rep *x, const char *host, uint32_t interval, unsigned int n)
{
	unsigned int i;

	halb__health__host_report__init(&x->r);
	halb__health__load__init(&x->load);
	x->r.host_id = (char *)(uintptr_t)host;
	x->r.report_interval_ms = interval;
	x->r.load = &x->load;
	x->load.cpu_permille = 250;
	x->load.capacity = 40;
	for (i = 0; i < n; i++) {
		halb__health__service_health__init(&x->s[i]);
		x->s[i].state = HALB__HEALTH__HEALTH_STATE__HEALTH_UP;
		x->sp[i] = &x->s[i];
	}
	x->r.n_services = n;
	x->r.services = x->sp;
}

static void
set_item(struct rep *x, unsigned int i, const char *svc, const char *addr,
	 uint32_t port, int st)
{
	x->s[i].service = (char *)(uintptr_t)svc;
	x->s[i].address = (char *)(uintptr_t)addr;
	x->s[i].port = port;
	x->s[i].state = (Halb__Health__HealthState)st;
}

/* Seals x as host with key k at seq and hands it to hd as healthd does:
 * hl_open with hd's keyring and replay table, then hd_apply_report.
 * Returns hl_open's verdict. */
static int
deliver(struct hd *hd, struct rep *x, const char *host, const struct seal_key *k,
	uint64_t seq, uint64_t now)
{
	uint8_t buf[HL_MTU];
	struct hl_opened m;
	int n, rc;

	x->r.seq = seq;
	x->r.timestamp_ms = UNIX + now;
	n = hl_seal(buf, sizeof(buf), k, host, seq, UNIX + now,
		    HL_T_HOST_REPORT, &x->r.base);
	assert_true(n > 0);
	rc = hl_open(buf, (size_t)n, hd->keys, hd->replay, UNIX + now, &m);
	if (rc == 0) {
		assert_int_equal(m.type, HL_T_HOST_REPORT);
		hd_apply_report(hd, m.sender, m.report, now);
		hl_opened_free(&m);
	}
	return rc;
}

static void
test_report(void **state)
{
	struct halb_cfg *cfg = load_conf("static");
	struct hd *hd = hd_new(cfg, T0);
	struct seal_key k1, k2, wrong;
	struct rep x;

	(void)state;
	assert_non_null(hd);
	assert_int_equal(hd->n_be, N_BE);
	assert_int_equal(hd->n_agents, 2);
	key_of(K_B1, 1, &k1);
	key_of(K_B2, 1, &k2);
	key_of(K_B2, 1, &wrong);
	hd_refresh_all(hd, T0 + 10);
	assert_int_equal(hd->be[BE_AGENT].state, HD_UNKNOWN);
	assert_int_equal(hd->be[BE_NONE].state, HD_UNKNOWN);

	/* b1 reports both its backends up. */
	mk_rep(&x, "b1", 1000, 2);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "dns", "10.0.0.11", 53, HD_UP);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 10, T0 + 100), 0);
	assert_int_equal(hd->be[BE_AGENT].state, HD_UP);
	assert_int_equal(hd->be[BE_AGENT].source, HD_SRC_AGENT);
	assert_int_equal(hd->be[BE_AGENT].weight, 100);
	assert_true(hd->be[BE_AGENT].dirty);
	assert_int_equal(hd->be[BE_DNS].state, HD_UP);
	assert_int_equal(hd->be[BE_DNS].weight, 1);
	assert_int_equal(hd->be[BE_BOTH].state, HD_UNKNOWN);

	/* A report that leaves one out: that one is down. */
	mk_rep(&x, "b1", 1000, 1);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_DRAINING);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 11, T0 + 200), 0);
	assert_int_equal(hd->be[BE_AGENT].state, HD_DRAINING);
	assert_int_equal(hd->be[BE_DNS].state, HD_DOWN);
	assert_string_equal(hd->be[BE_DNS].agent_reason, "not in the host's report");

	/* b1 speaking of b2's backend, and of nothing configured. */
	mk_rep(&x, "b1", 1000, 3);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "web", "10.0.0.12", 80, HD_DOWN);
	set_item(&x, 2, "web", "10.0.0.99", 80, HD_DOWN);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 12, T0 + 300), 0);
	assert_int_equal(hd->c.foreign, 1);
	assert_int_equal(hd->c.rejected[SEAL_REJ_IDENTITY], 1);
	assert_int_equal(hd->c.unknown_backend, 1);
	assert_int_equal(hd->be[BE_BOTH].state, HD_UNKNOWN);
	assert_int_equal(hd->be[BE_AGENT].state, HD_UP);

	/* Forged (b2's key under b1's name), replayed: refused, no change. */
	mk_rep(&x, "b1", 1000, 1);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_DOWN);
	assert_int_equal(deliver(hd, &x, "b1", &wrong, 13, T0 + 400),
			 -SEAL_REJ_BAD_MAC);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 12, T0 + 400),
			 -SEAL_REJ_REPLAY);
	assert_int_equal(hd->be[BE_AGENT].state, HD_UP);

	/* b2: agent up; its probe is the cross-check. */
	mk_rep(&x, "b2", 2000, 1);
	set_item(&x, 0, "web", "10.0.0.12", 80, HD_UP);
	assert_int_equal(deliver(hd, &x, "b2", &k2, 5, T0 + 500), 0);
	assert_int_equal(hd->be[BE_BOTH].state, HD_UP);
	hd_probe_result(hd, BE_BOTH, false, T0 + 600);
	assert_int_equal(hd->be[BE_BOTH].state, HD_DOWN);
	assert_int_equal(hd->be[BE_BOTH].source, HD_SRC_PROBE);
	assert_int_equal(hd->be[BE_BOTH].weight, 0);
	hd_probe_result(hd, BE_BOTH, true, T0 + 700);
	assert_int_equal(hd->be[BE_BOTH].state, HD_DOWN);  /* rise 2 */
	hd_probe_result(hd, BE_BOTH, true, T0 + 800);
	assert_int_equal(hd->be[BE_BOTH].state, HD_UP);
	assert_int_equal(hd->be[BE_BOTH].source, HD_SRC_AGENT);

	/* Silence: b1 promised 1 s, b2 2 s. */
	hd_refresh_all(hd, T0 + 300 + 3000);
	assert_int_equal(hd->be[BE_AGENT].state, HD_UP);
	hd_refresh_all(hd, T0 + 300 + 3001);
	assert_int_equal(hd->be[BE_AGENT].state, HD_DOWN);
	assert_int_equal(hd->be[BE_AGENT].source, HD_SRC_AGENT);
	assert_int_equal(hd->be[BE_BOTH].state, HD_UP);
	hd_refresh_all(hd, T0 + 500 + 6001);
	assert_int_equal(hd->be[BE_BOTH].state, HD_DOWN);
	assert_true(hd->c.state_changes >= 6);

	/* A peer is not an agent: its report is no report. */
	assert_int_equal(hd_apply_report(hd, "lb2", &x.r, T0), -ENOENT);
	hd_free(hd);
	cfg_free(cfg);
}

/*
 * A reload (healthload/hd_reload.c): a new cache for the edited file
 * (web loses 10.0.0.12) carries over by service, address and port what
 * the old one knew: the agent's word and when it was heard, the probe's
 * count, the stream's generation, the replay table (a report taken
 * before is a replay after).
 */
static void
test_reload(void **state)
{
	struct halb_cfg *cfg = load_conf("static"), *cfg2;
	struct hd *hd = hd_new(cfg, T0), *hd2;
	struct seal_key k1;
	struct rep x;
	uint32_t kept = 0;

	(void)state;
	assert_non_null(hd);
	key_of(K_B1, 1, &k1);
	mk_rep(&x, "b1", 1000, 2);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "dns", "10.0.0.11", 53, HD_UP);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 10, T0 + 100), 0);
	hd_probe_result(hd, BE_PROBE, true, T0 + 200);
	hd_probe_result(hd, BE_PROBE, true, T0 + 300);
	assert_int_equal(hd->be[BE_PROBE].state, HD_UP);
	hd->cls.generation = 7;
	hd->seq = 99;

	cfg2 = malloc(sizeof(*cfg2));
	assert_non_null(cfg2);
	memcpy(cfg2, cfg, sizeof(*cfg2));
	memmove(&cfg2->services[0].backends[BE_BOTH], &cfg2->services[0].backends[BE_BOTH + 1],
		2 * sizeof(cfg2->services[0].backends[0]));
	cfg2->services[0].n_backends--;
	hd2 = hd_reload(hd, cfg2, T0 + 400, &kept);
	assert_non_null(hd2);
	assert_int_equal(kept, N_BE - 1);
	assert_int_equal(hd2->n_be, N_BE - 1);
	/* web: .11 (agent), .13 (probe), .14; dns: .11. */
	assert_int_equal(hd2->be[0].state, HD_UP);
	assert_int_equal(hd2->be[0].source, HD_SRC_AGENT);
	assert_int_equal(hd2->be[0].weight, 100);
	assert_int_equal(hd2->be[1].state, HD_UP);
	assert_int_equal(hd2->be[1].source, HD_SRC_PROBE);
	hd_probe_result(hd2, 1, false, T0 + 500); /* fall 3: still up */
	assert_int_equal(hd2->be[1].state, HD_UP);
	assert_int_equal(hd2->be[3].state, HD_UP);
	assert_true(hd2->agents[0].heard);
	assert_int_equal(hd2->cls.generation, 7);
	assert_true(hd2->cls.want_full);
	assert_int_equal(hd2->seq, 99);
	assert_true(hd2->any_dirty);
	/* The same report again: a replay for the new cache too. */
	assert_int_equal(deliver(hd2, &x, "b1", &k1, 10, T0 + 600), -SEAL_REJ_REPLAY);
	hd_free(hd);
	hd_free(hd2);
	cfg_free(cfg);
	cfg_free(cfg2);
}

static void
test_policy_in_cache(void **state)
{
	struct halb_cfg *cfg = load_conf("least-load");
	struct hd *hd = hd_new(cfg, T0);
	struct seal_key k1;
	struct rep x;

	(void)state;
	key_of(K_B1, 1, &k1);
	mk_rep(&x, "b1", 1000, 2);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "dns", "10.0.0.11", 53, HD_UP);
	x.load.cpu_permille = 700;
	assert_int_equal(deliver(hd, &x, "b1", &k1, 1, T0 + 1), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 30);  /* 100 x 0.3 */
	assert_int_equal(hd->be[BE_DNS].weight, 2);     /* 1 x 0.3, min 2 */
	/* Same load again: no change, nothing dirty. */
	hd_snap_clean(hd);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 2, T0 + 2), 0);
	assert_false(hd->any_dirty);
	/* A small move (30 -> 29: 1/30, below 1/16) is no change... */
	x.load.cpu_permille = 710;
	assert_int_equal(deliver(hd, &x, "b1", &k1, 3, T0 + 3), 0);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 4, T0 + 4), 0);
	assert_false(hd->any_dirty);
	assert_int_equal(hd->be[BE_AGENT].weight, 30);
	/* ...a bigger one is (30 -> 27 is 3/30, above 1/16). */
	x.load.cpu_permille = 730;
	assert_int_equal(deliver(hd, &x, "b1", &k1, 5, T0 + 5), 0);
	assert_true(hd->be[BE_AGENT].dirty);
	assert_int_equal(hd->be[BE_AGENT].weight, 27);
	/* Idle: the weight follows, clamped to weight_max. */
	x.load.cpu_permille = 0;
	assert_int_equal(deliver(hd, &x, "b1", &k1, 6, T0 + 6), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 50);
	hd_free(hd);
	cfg_free(cfg);

	cfg = load_conf("agent");
	hd = hd_new(cfg, T0);
	x.load.capacity = 1000;
	assert_int_equal(deliver(hd, &x, "b1", &k1, 7, T0 + 1), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 50); /* clamped to max */
	/* A probe-only backend has no capacity: its configured weight. */
	hd_probe_result(hd, BE_PROBE, true, T0 + 2);
	assert_int_equal(hd->be[BE_PROBE].weight, 10);
	hd_free(hd);
	cfg_free(cfg);
}

/* ---- peers ---- */

static void
test_peer(void **state)
{
	struct halb_cfg *cfg = load_conf("static");
	struct hd *hd = hd_new(cfg, T0);
	Halb__Health__CacheSnapshot cs;
	Halb__Health__BackendState bs[3], *bp[3];
	struct seal_key k1;
	struct rep x;
	int i;

	(void)state;
	key_of(K_B1, 1, &k1);
	mk_rep(&x, "b1", 1000, 2);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "dns", "10.0.0.11", 53, HD_UP);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 1, T0 + 10), 0);

	halb__health__cache_snapshot__init(&cs);
	for (i = 0; i < 3; i++) {
		halb__health__backend_state__init(&bs[i]);
		bs[i].service = (char *)(uintptr_t)"web";
		bs[i].port = 80;
		bs[i].source = HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT;
		bp[i] = &bs[i];
	}
	bs[0].address = (char *)(uintptr_t)"10.0.0.11"; /* ours is fresher */
	bs[0].state = HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN;
	bs[1].address = (char *)(uintptr_t)"10.0.0.13"; /* nothing of ours */
	bs[1].state = HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING;
	bs[1].weight = 7;
	bs[1].age_ms = 100;
	bs[2].address = (char *)(uintptr_t)"10.0.0.77"; /* unknown */
	bs[2].state = HALB__HEALTH__HEALTH_STATE__HEALTH_UP;
	cs.backends = bp;
	cs.n_backends = 3;
	assert_int_equal(hd_apply_peer(hd, &cs, T0 + 1000), 1);
	assert_int_equal(hd->be[BE_AGENT].state, HD_UP);
	assert_int_equal(hd->be[BE_PROBE].state, HD_DRAINING);
	assert_int_equal(hd->be[BE_PROBE].source, HD_SRC_LAST_KNOWN);
	/* Weighed by our policy (static: the configured 10), not the
	 * peer's 7 (issue 9, item 14: this assertion said 7). */
	assert_int_equal(hd->be[BE_PROBE].weight, 10);
	assert_int_equal(hd->be[BE_PROBE].info_ms, T0 + 900);

	/* An older view does not replace a younger one. */
	bs[1].state = HALB__HEALTH__HEALTH_STATE__HEALTH_UP;
	bs[1].age_ms = 500;
	assert_int_equal(hd_apply_peer(hd, &cs, T0 + 1000), 0);
	assert_int_equal(hd->be[BE_PROBE].state, HD_DRAINING);
	bs[1].age_ms = 0;
	assert_int_equal(hd_apply_peer(hd, &cs, T0 + 1000), 1);
	assert_int_equal(hd->be[BE_PROBE].state, HD_UP);

	/* Our own probe result ends the last known. */
	hd_probe_result(hd, BE_PROBE, false, T0 + 1100);
	assert_int_equal(hd->be[BE_PROBE].state, HD_DOWN);
	assert_int_equal(hd->be[BE_PROBE].source, HD_SRC_PROBE);
	assert_int_equal(hd_apply_peer(hd, &cs, T0 + 1200), 0);
	hd_free(hd);
	cfg_free(cfg);
}

/*
 * A peer's last-known weights go through this healthd's weight policy:
 * its bounds hold, and a backend configured with weight 0 stays out
 * whatever the peer says (issue 9, item 14).
 */
static void
test_peer_policy(void **state)
{
	static const char *const policies[] = { "static", "agent",
		"least-load" };
	Halb__Health__CacheSnapshot cs;
	Halb__Health__BackendState bs[2], *bp[2];
	Halb__Health__Load ld[2];
	unsigned int p, i;

	(void)state;
	for (p = 0; p < 3; p++) {
		struct halb_cfg *cfg = load_conf(policies[p]);
		struct hd *hd = hd_new(cfg, T0);

		assert_non_null(hd);
		halb__health__cache_snapshot__init(&cs);
		for (i = 0; i < 2; i++) {
			halb__health__backend_state__init(&bs[i]);
			halb__health__load__init(&ld[i]);
			bs[i].service = (char *)(uintptr_t)"web";
			bs[i].port = 80;
			bs[i].state = HALB__HEALTH__HEALTH_STATE__HEALTH_UP;
			bs[i].source = HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT;
			bs[i].weight = 60000;
			ld[i].capacity = 60000;
			ld[i].cpu_permille = 0;
			bs[i].load = &ld[i];
			bp[i] = &bs[i];
		}
		bs[0].address = (char *)(uintptr_t)"10.0.0.13"; /* weight 10 */
		bs[1].address = (char *)(uintptr_t)"10.0.0.14"; /* weight 0 */
		cs.backends = bp;
		cs.n_backends = 2;
		assert_int_equal(hd_apply_peer(hd, &cs, T0 + 1000), 2);
		assert_int_equal(hd->be[BE_PROBE].state, HD_UP);
		assert_int_equal(hd->be[BE_PROBE].source, HD_SRC_LAST_KNOWN);
		assert_int_equal(hd->be[BE_NONE].state, HD_UP);
		assert_int_equal(hd->be[BE_NONE].weight, 0);
		/* static: the configured weight; agent: the capacity
		 * within weight_max 50; least-load: 10 at 0 % CPU. */
		assert_int_equal(hd->be[BE_PROBE].weight,
				 p == 0 ? 10 : p == 1 ? 50 : 10);

		/* A peer's tiny capacity: weight_min 2 under "agent". */
		ld[0].capacity = 0;
		ld[0].cpu_permille = 1000;
		bs[0].weight = 1;
		assert_int_equal(hd_apply_peer(hd, &cs, T0 + 2000), 2);
		assert_int_equal(hd->be[BE_PROBE].weight,
				 p == 0 ? 10 : 2);
		assert_int_equal(hd->be[BE_NONE].weight, 0);
		hd_free(hd);
		cfg_free(cfg);
	}
}

/* A CacheSnapshot sealed by sender with key, opened by hd at UNIX. */
static int
peer_snap(struct hd *hd, const char *sender, const char *hex, uint64_t seq)
{
	Halb__Health__CacheSnapshot cs;
	uint8_t buf[HL_MTU];
	struct seal_key k;
	struct hl_opened m;
	int n, rc;

	key_of(hex, 1, &k);
	halb__health__cache_snapshot__init(&cs);
	cs.full = true;
	cs.generation = 1;
	n = hl_seal(buf, sizeof(buf), &k, sender, seq, UNIX,
		    HL_T_CACHE_SNAPSHOT, &cs.base);
	assert_true(n > 0);
	rc = hl_open(buf, (size_t)n, hd->keys, hd->replay, UNIX, &m);
	hl_opened_free(&m);
	return rc;
}

/*
 * Who may send healthd a snapshot (issue 9, item 13): only a peer, with
 * the pair's own key, and with a seq that its clock could have made.  A
 * backend host holds its own key and health.key (to check requests):
 * neither opens a snapshot, whatever name it signs with, and a peer
 * cannot lift its mark out of reach with a seq near 2^64.
 */
static void
test_peer_keys(void **state)
{
	struct halb_cfg *cfg = load_conf("static");
	struct hd *hd = hd_new(cfg, T0);
	const uint64_t now_us = UNIX * 1000;

	(void)state;
	assert_non_null(hd);
	/* b1's own key: an agent's key never authorises a snapshot. */
	assert_int_equal(peer_snap(hd, "b1", K_B1, now_us), -SEAL_REJ_ROLE);
	/* health.key, which b1 holds: as the appliance itself, as a peer. */
	assert_int_equal(peer_snap(hd, "lb1", K_LB1, now_us),
			 -SEAL_REJ_UNKNOWN_SENDER);
	assert_int_equal(peer_snap(hd, "lb2", K_LB1, now_us), -SEAL_REJ_BAD_MAC);
	/* The pair's key, but a seq far ahead of the clock: refused, and
	 * the peer's mark stays where its real messages pass. */
	assert_int_equal(peer_snap(hd, "lb2", K_LB2, UINT64_MAX - 5),
			 -SEAL_REJ_AHEAD);
	assert_int_equal(peer_snap(hd, "lb2", K_LB2,
				   now_us + 60 * 1000000ull), -SEAL_REJ_AHEAD);
	assert_int_equal(seal_replay_last(hd->replay, "lb2"), 0);
	assert_int_equal(peer_snap(hd, "lb2", K_LB2, now_us), 0);
	assert_int_equal(peer_snap(hd, "lb2", K_LB2, now_us + 1), 0);
	assert_int_equal(seal_replay_last(hd->replay, "lb2"), now_us + 1);
	hd_free(hd);
	cfg_free(cfg);
}

/* ---- snapshots ---- */

struct sink {
	int n;
	uint8_t dg[64][HL_MTU];
	size_t len[64];
};

static int
collect(void *arg, const uint8_t *dg, size_t len)
{
	struct sink *s = arg;

	assert_true(s->n < 64);
	assert_true(len <= HL_MTU);
	memcpy(s->dg[s->n], dg, len);
	s->len[s->n++] = len;
	return 0;
}

/* Opens datagram i as the classifier would: lb1's key, sender lb1. */
static Halb__Health__CacheSnapshot *
open_snap(struct seal_keyring *kr, struct seal_replay *rp, struct sink *s, int i,
	  struct hl_opened *m)
{
	assert_int_equal(hl_open(s->dg[i], s->len[i], kr, rp, UNIX, m), 0);
	assert_string_equal(m->sender, "lb1");
	assert_int_equal(m->type, HL_T_CACHE_SNAPSHOT);
	return m->snapshot;
}

static void
test_snapshot(void **state)
{
	struct halb_cfg *cfg = load_conf("static");
	struct hd *hd = hd_new(cfg, T0);
	struct seal_keyring *kr = seal_keyring_new(2);
	struct seal_replay *rp = seal_replay_new(2, 0);
	Halb__Health__CacheSnapshot *cs;
	const Halb__Health__BackendState *b;
	struct hl_opened m;
	struct seal_key klb, k1;
	struct sink *s = calloc(1, sizeof(*s));
	struct rep x;

	(void)state;
	key_of(K_LB1, 1, &klb);
	key_of(K_B1, 1, &k1);
	assert_int_equal(seal_keyring_add(kr, "lb1", &klb, SEAL_ROLE_HANDLER), 0);

	/* Nothing known: a full snapshot with no backend, still sent. */
	assert_int_equal(hd_snap_send(hd, &cfg->health.key, true, 1, T0, UNIX, collect, s), 1);
	cs = open_snap(kr, rp, s, 0, &m);
	assert_true(cs->full);
	assert_int_equal(cs->generation, 1);
	assert_int_equal(cs->n_backends, 0);
	hl_opened_free(&m);

	mk_rep(&x, "b1", 1000, 2);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "dns", "10.0.0.11", 53, HD_DRAINING);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 1, T0 + 100), 0);
	hd_probe_result(hd, BE_PROBE, true, T0 + 150);

	/* Full: the three known backends, not the unknown ones. */
	s->n = 0;
	assert_int_equal(hd_snap_send(hd, &cfg->health.key, true, 2, T0 + 400, UNIX, collect, s), 1);
	cs = open_snap(kr, rp, s, 0, &m);
	assert_true(cs->full);
	assert_int_equal(cs->generation, 2);
	assert_int_equal(cs->parts, 0);
	assert_int_equal(cs->n_backends, 3);
	b = cs->backends[0];
	assert_string_equal(b->service, "web");
	assert_string_equal(b->address, "10.0.0.11");
	assert_int_equal(b->port, 80);
	assert_int_equal(b->state, HALB__HEALTH__HEALTH_STATE__HEALTH_UP);
	assert_int_equal(b->weight, 100);
	assert_int_equal(b->source, HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT);
	assert_int_equal(b->age_ms, 300);
	assert_non_null(b->load);
	assert_int_equal(b->load->cpu_permille, 250);
	assert_int_equal(b->load->capacity, 40);
	b = cs->backends[1];
	assert_string_equal(b->address, "10.0.0.13");
	assert_int_equal(b->source, HALB__HEALTH__STATE_SOURCE__SOURCE_PROBE);
	assert_int_equal(b->age_ms, 250);
	assert_null(b->load);
	b = cs->backends[2];
	assert_string_equal(b->service, "dns");
	assert_int_equal(b->port, 53);
	assert_int_equal(b->state, HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING);
	hl_opened_free(&m);

	/* Delta: only what changed since the last clean. */
	hd_snap_clean(hd);
	s->n = 0;
	assert_int_equal(hd_snap_send(hd, &cfg->health.key, false, 3, T0 + 500, UNIX, collect, s), 0);
	assert_int_equal(s->n, 0);
	/* fall 3: two failures change nothing, the third does. */
	hd_probe_result(hd, BE_PROBE, false, T0 + 510);
	hd_probe_result(hd, BE_PROBE, false, T0 + 520);
	assert_int_equal(hd_snap_send(hd, &cfg->health.key, false, 3, T0 + 550, UNIX, collect, s), 0);
	hd_probe_result(hd, BE_PROBE, false, T0 + 600);
	assert_int_equal(hd_snap_send(hd, &cfg->health.key, false, 3, T0 + 600, UNIX, collect, s), 1);
	cs = open_snap(kr, rp, s, 0, &m);
	assert_false(cs->full);
	assert_int_equal(cs->generation, 3);
	assert_int_equal(cs->n_backends, 1);
	assert_string_equal(cs->backends[0]->address, "10.0.0.13");
	assert_int_equal(cs->backends[0]->state,
			 HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN);
	assert_int_equal(cs->backends[0]->weight, 0);
	hl_opened_free(&m);

	/* Heartbeat and request: sealed by lb1 too. */
	{
		uint8_t buf[HL_MTU];
		int n = hd_heartbeat(hd, 3, UNIX, buf);

		assert_true(n > 0);
		assert_int_equal(hl_open(buf, (size_t)n, kr, rp, UNIX, &m), 0);
		assert_int_equal(m.type, HL_T_HEARTBEAT);
		assert_int_equal(m.heartbeat->role, HALB__HEALTH__ROLE__ROLE_HEALTHD);
		assert_int_equal(m.heartbeat->generation, 3);
		hl_opened_free(&m);
		n = hd_report_request(hd, &cfg->health.key, "start-up", UNIX, buf);
		assert_true(n > 0);
		assert_int_equal(hl_open(buf, (size_t)n, kr, rp, UNIX, &m), 0);
		assert_int_equal(m.type, HL_T_REPORT_REQUEST);
		assert_string_equal(m.request->reason, "start-up");
		hl_opened_free(&m);
	}
	/* Sequence numbers only grow. */
	assert_true(seal_replay_last(rp, "lb1") == hd->seq);

	/* Without a key nothing is sealed. */
	cfg->health.key.len = 0;
	assert_int_equal(hd_snap_send(hd, &cfg->health.key, true, 4, T0, UNIX, collect, s), -ENOKEY);
	free(s);
	seal_keyring_free(kr);
	seal_replay_free(rp);
	hd_free(hd);
	cfg_free(cfg);
}

/* A configuration of 250 probed backends: a full snapshot in parts. */
static void
test_snapshot_parts(void **state)
{
	char path[] = "/tmp/halb-test-parts-XXXXXX";
	struct seal_keyring *kr = seal_keyring_new(1);
	struct seal_replay *rp = seal_replay_new(1, 0);
	struct sink *s = calloc(1, sizeof(*s));
	bool seen[250] = { false };
	struct halb_cfg *cfg;
	struct hl_opened m;
	struct seal_key klb;
	struct hd *hd;
	uint32_t i, total = 0, parts = 0;
	FILE *f;
	int fd, n, p;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "ports = ( { name = \"p\"; vdev = \"net_null0\"; ipv6 = \"fd00:1::2/64\"; } );\n"
		"health = { name = \"lb1\"; key = \"" K_LB1 "\"; };\n"
		"services = ( { name = \"a-rather-long-service-name\"; vip = \"fd00:2::1\"; port = 443; protocol = \"tcp\";\n"
		"  backends = (\n");
	for (i = 0; i < 250; i++)
		fprintf(f, "    { ip = \"fd00:1::1:%x\"; weight = %u; }%s\n",
			i + 1, 1000 + i, i < 249 ? "," : "");
	fprintf(f, "  ); } );\n");
	fclose(f);
	cfg = cfg_load(path, stderr);
	unlink(path);
	assert_non_null(cfg);
	hd = hd_new(cfg, T0);
	assert_non_null(hd);
	for (i = 0; i < 250; i++)
		hd_probe_result(hd, i, true, T0 + i);
	key_of(K_LB1, 1, &klb);
	assert_int_equal(seal_keyring_add(kr, "lb1", &klb, SEAL_ROLE_HANDLER), 0);

	n = hd_snap_send(hd, &cfg->health.key, true, 9, T0 + 1000, UNIX, collect, s);
	assert_true(n > 1);
	assert_int_equal(s->n, n);
	for (p = 0; p < n; p++) {
		Halb__Health__CacheSnapshot *cs = open_snap(kr, rp, s, p, &m);

		assert_true(cs->full);
		assert_int_equal(cs->generation, 9);
		assert_int_equal(cs->part, (uint32_t)p);
		if (parts == 0)
			parts = cs->parts;
		assert_int_equal(cs->parts, parts);
		for (i = 0; i < cs->n_backends; i++) {
			int idx = hd_find(hd, cs->backends[i]->service,
					  cs->backends[i]->address,
					  cs->backends[i]->port);

			assert_true(idx >= 0 && idx < 250);
			assert_false(seen[idx]);
			seen[idx] = true;
			assert_int_equal(cs->backends[i]->weight, 1000 + idx);
		}
		total += cs->n_backends;
		hl_opened_free(&m);
	}
	assert_int_equal(parts, (uint32_t)n);
	assert_int_equal(total, 250);
	free(s);
	seal_keyring_free(kr);
	seal_replay_free(rp);
	hd_free(hd);
	cfg_free(cfg);
}

/* ---- sockets ---- */

/*
 * healthd's and the agents' UDP listener (halb_udp_bind) on the wildcard
 * address: no other socket may bind its port on a specific address, with
 * or without SO_REUSEADDR or SO_REUSEPORT, where, being more specific,
 * it would take the reports (issue 9, item 15).
 */
static void
test_udp_exclusive(void **state)
{
	static const int opts[] = { 0, SO_REUSEADDR, SO_REUSEPORT };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct halb_ip any;
	socklen_t sl = sizeof(sin);
	unsigned int i;
	int fd, thief, one = 1;

	(void)state;
	assert_int_equal(halb_ip_parse("0.0.0.0", &any), 0);
	/* A free port: the kernel's pick, released, then ours. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	fd = halb_udp_bind(&any, ntohs(sin.sin_port));
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		thief = socket(AF_INET, SOCK_DGRAM, 0);
		assert_true(thief >= 0);
		if (opts[i] != 0)
			assert_int_equal(setsockopt(thief, SOL_SOCKET, opts[i],
						    &one, sizeof(one)), 0);
		errno = 0;
		assert_int_equal(bind(thief, (struct sockaddr *)&sin,
				      sizeof(sin)), -1);
		assert_int_equal(errno, EADDRINUSE);
		close(thief);
	}
	close(fd);
}

/* ---- the weight policy's bounds ---- */

static void
test_clamp(void **state)
{
	uint32_t w;

	(void)state;
	w = 5;
	hd_clamp_weight(&w, 1, 100);
	assert_int_equal(w, 5);
	w = 0;
	hd_clamp_weight(&w, 1, 100);
	assert_int_equal(w, 1);
	w = 1000;
	hd_clamp_weight(&w, 1, 100);
	assert_int_equal(w, 100);
	w = UINT32_MAX;
	hd_clamp_weight(&w, 0, UINT32_MAX);
	assert_int_equal(w, UINT32_MAX);
	w = 0;
	hd_clamp_weight(&w, 0, 0);
	assert_int_equal(w, 0);
	w = 7;
	hd_clamp_weight(&w, 10, 10);
	assert_int_equal(w, 10);
	w = 7;
	hd_clamp_weight(&w, 20, 10); /* inverted bounds: max wins */
	assert_int_equal(w, 10);
}

/* ---- status ---- */

static void
test_status(void **state)
{
	struct halb_cfg *cfg = load_conf("static");
	struct hd *hd = hd_new(cfg, T0);
	char *out = NULL, *line;
	size_t len = 0;
	struct seal_key k1;
	struct rep x;
	int lines = 0;
	FILE *f;

	(void)state;
	key_of(K_B1, 1, &k1);
	mk_rep(&x, "b1", 1000, 1);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	x.s[0].reason = (char *)(uintptr_t)"quote\" and \\ and \n";
	assert_int_equal(deliver(hd, &x, "b1", &k1, 1, T0 + 100), 0);
	hd->c.rejected[SEAL_REJ_BAD_MAC] = 3;
	f = open_memstream(&out, &len);
	assert_int_equal(hd_status_write(hd, T0 + 350, f), 0);
	fclose(f);
	for (line = out; (line = strchr(line, '\n')) != NULL; line++)
		lines++;
	assert_int_equal(lines, N_BE + 1);
	assert_non_null(strstr(out,
		"{\"service\":\"web\",\"backend\":\"10.0.0.11:80\",\"state\":\"up\","
		"\"weight\":100,\"configured_weight\":100,\"source\":\"agent\",\"age_ms\":250,"
		"\"agent\":\"b1\",\"agent_state\":\"up\",\"agent_reason\":"
		"\"quote\\\" and \\\\ and \\n\""));
	assert_non_null(strstr(out, "\"load\":{\"cpu_permille\":250,"));
	assert_non_null(strstr(out, "\"backend\":\"10.0.0.13:80\",\"state\":\"unknown\""));
	assert_non_null(strstr(out, "\"probe\":\"pending\""));
	assert_non_null(strstr(out, "\"bad-mac\":3"));
	assert_non_null(strstr(out, "\"healthd\":{\"name\":\"lb1\""));
	assert_non_null(strstr(out, "\"peers\":[{\"name\":\"lb2\",\"heard_ms_ago\":null}]"));
	free(out);
	hd_free(hd);
	cfg_free(cfg);
}

/* A reason in UTF-8 stays itself (not escaped byte by byte, which read
 * back as other characters); bytes that are not UTF-8 become '?', and
 * the line is still JSON. */
static void
test_status_utf8(void **state)
{
	struct halb_cfg *cfg = load_conf("static");
	struct hd *hd = hd_new(cfg, T0);
	char *out = NULL;
	size_t len = 0;
	struct seal_key k1;
	struct rep x;
	FILE *f;

	(void)state;
	key_of(K_B1, 1, &k1);
	mk_rep(&x, "b1", 1000, 1);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	x.s[0].reason = (char *)(uintptr_t)"caf\xc3\xa9 \xe2\x9c\x93";
	assert_int_equal(deliver(hd, &x, "b1", &k1, 1, T0 + 100), 0);
	f = open_memstream(&out, &len);
	assert_int_equal(hd_status_write(hd, T0 + 350, f), 0);
	fclose(f);
	assert_non_null(strstr(out, "\"agent_reason\":\"caf\xc3\xa9 \xe2\x9c\x93\""));
	free(out);
	hd_free(hd);

	hd = hd_new(cfg, T0);
	mk_rep(&x, "b1", 1000, 1);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	x.s[0].reason = (char *)(uintptr_t)"bad \xff\xfe end";
	assert_int_equal(deliver(hd, &x, "b1", &k1, 1, T0 + 100), 0);
	out = NULL;
	f = open_memstream(&out, &len);
	assert_int_equal(hd_status_write(hd, T0 + 350, f), 0);
	fclose(f);
	assert_non_null(strstr(out, "\"agent_reason\":\"bad ?? end\""));
	free(out);
	hd_free(hd);
	cfg_free(cfg);
}


/* ---- the operator's decisions (hd_oper.c) ---- */

/* A fresh state file in a temporary directory; dir receives the dir. */
static void
oper_files(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/halb-test-oper-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(state_file, sizeof(state_file), "%s/lib/operator", dir);
}

static void
oper_cleanup(const char *dir)
{
	char p[160];

	unlink(state_file);
	snprintf(p, sizeof(p), "%s/lib", dir);
	rmdir(p);
	rmdir(dir);
	snprintf(state_file, sizeof(state_file), "/tmp/halb-test-health-none/operator");
}

static int
oper(struct hd *hd, const char *line, uint64_t now)
{
	char msg[256];

	return hd_oper_command(hd, line, now, msg, sizeof(msg));
}

/* The snapshot entry of address addr in service svc, or NULL. */
static const Halb__Health__BackendState *
snap_entry(const Halb__Health__CacheSnapshot *cs, const char *svc,
	   const char *addr)
{
	size_t i;

	for (i = 0; i < cs->n_backends; i++)
		if (strcmp(cs->backends[i]->service, svc) == 0 &&
		    strcmp(cs->backends[i]->address, addr) == 0)
			return cs->backends[i];
	return NULL;
}

/* drain, disable, enable, weight on top of what agents and probes say;
 * the snapshot carries them with source operator. */
static void
test_oper(void **state)
{
	char dir[64], msg[256];
	struct halb_cfg *cfg;
	struct hd *hd;
	struct seal_keyring *kr = seal_keyring_new(2);
	struct seal_replay *rp = seal_replay_new(2, 0);
	struct sink *s = calloc(1, sizeof(*s));
	const Halb__Health__BackendState *b;
	Halb__Health__CacheSnapshot *cs;
	struct seal_key klb, k1, k2;
	struct hl_opened m;
	struct rep x;

	(void)state;
	oper_files(dir, sizeof(dir));
	cfg = load_conf("static");
	hd = hd_new(cfg, T0);
	key_of(K_LB1, 1, &klb);
	key_of(K_B1, 1, &k1);
	key_of(K_B2, 1, &k2);
	assert_int_equal(seal_keyring_add(kr, "lb1", &klb, SEAL_ROLE_HANDLER), 0);
	mk_rep(&x, "b1", 1000, 2);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "dns", "10.0.0.11", 53, HD_UP);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 1, T0 + 100), 0);
	mk_rep(&x, "b2", 1000, 1);
	set_item(&x, 0, "web", "10.0.0.12", 80, HD_DOWN);
	assert_int_equal(deliver(hd, &x, "b2", &k2, 1, T0 + 100), 0);
	hd_snap_clean(hd);

	/* drain: draining from the operator, the weight stays (for the
	 * flows it keeps), and it goes out at once. */
	assert_int_equal(oper(hd, "drain web 10.0.0.11:80", T0 + 200), 0);
	assert_int_equal(hd->be[BE_AGENT].state, HD_DRAINING);
	assert_int_equal(hd->be[BE_AGENT].source, HD_SRC_OPERATOR);
	assert_int_equal(hd->be[BE_AGENT].weight, 100);
	assert_true(hd->be[BE_AGENT].dirty);
	/* the same host's other service is not touched */
	assert_int_equal(hd->be[BE_DNS].state, HD_UP);
	assert_false(hd->be[BE_DNS].dirty);
	assert_int_equal(hd_snap_send(hd, &cfg->health.key, false, 1, T0 + 200,
				      UNIX, collect, s), 1);
	cs = open_snap(kr, rp, s, 0, &m);
	assert_int_equal(cs->n_backends, 1);
	assert_int_equal(cs->backends[0]->state, HD_DRAINING);
	assert_int_equal(cs->backends[0]->source,
			 HALB__HEALTH__STATE_SOURCE__SOURCE_OPERATOR);
	hl_opened_free(&m);
	hd_snap_clean(hd);

	/* An agent report does not undo it. */
	mk_rep(&x, "b1", 1000, 2);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "dns", "10.0.0.11", 53, HD_UP);
	assert_int_equal(deliver(hd, &x, "b1", &k1, 2, T0 + 300), 0);
	assert_int_equal(hd->be[BE_AGENT].state, HD_DRAINING);
	assert_int_equal(hd->be[BE_AGENT].source, HD_SRC_OPERATOR);

	/* A drained backend that health finds down is down (health's verdict
	 * is the stronger), the drain still the operator's. */
	assert_int_equal(oper(hd, "drain web 10.0.0.12:80", T0 + 300), 0);
	assert_int_equal(hd->be[BE_BOTH].state, HD_DOWN);
	assert_int_equal(hd->be[BE_BOTH].source, HD_SRC_AGENT);
	assert_int_equal(hd->be[BE_BOTH].op, HD_OP_DRAIN);

	/* disable: down, whatever health says; weight 0. */
	assert_int_equal(oper(hd, "disable dns 10.0.0.11", T0 + 400), 0);
	assert_int_equal(hd->be[BE_DNS].state, HD_DOWN);
	assert_int_equal(hd->be[BE_DNS].source, HD_SRC_OPERATOR);
	assert_int_equal(hd->be[BE_DNS].weight, 0);

	/* enable: health decides again. */
	assert_int_equal(oper(hd, "enable web 10.0.0.11:80", T0 + 500), 0);
	assert_int_equal(hd->be[BE_AGENT].state, HD_UP);
	assert_int_equal(hd->be[BE_AGENT].source, HD_SRC_AGENT);
	assert_int_equal(hd->be[BE_AGENT].op, HD_OP_NONE);

	/* weight: in place of the configured one; config undoes it. */
	assert_int_equal(oper(hd, "weight web 10.0.0.11:80 7", T0 + 600), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 7);
	assert_int_equal(hd->be[BE_AGENT].source, HD_SRC_AGENT);
	assert_int_equal(oper(hd, "weight web 10.0.0.11:80 0", T0 + 600), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 0);
	assert_int_equal(oper(hd, "weight web 10.0.0.11:80 config", T0 + 650), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 100);
	assert_int_equal(hd->be[BE_AGENT].op_weight, HD_OP_WEIGHT_NONE);

	/* Refused, and nothing changes. */
	hd_snap_clean(hd);
	assert_int_equal(hd_oper_command(hd, "drain web 10.0.0.99:80", T0 + 700,
					 msg, sizeof(msg)), -ENOENT);
	assert_string_equal(msg, "service web has no backend 10.0.0.99:80");
	assert_int_equal(hd_oper_command(hd, "drain www 10.0.0.11", T0 + 700,
					 msg, sizeof(msg)), -ENOENT);
	assert_string_equal(msg, "no service www");
	assert_int_equal(oper(hd, "drain web 10.0.0.11:81", T0 + 700), -ENOENT);
	assert_int_equal(oper(hd, "drain web nonsense", T0 + 700), -EINVAL);
	assert_int_equal(oper(hd, "drain web 10.0.0.11:99999", T0 + 700), -EINVAL);
	assert_int_equal(oper(hd, "drain web", T0 + 700), -EINVAL);
	assert_int_equal(oper(hd, "drain web 10.0.0.11:80 now", T0 + 700), -EINVAL);
	assert_int_equal(oper(hd, "weight web 10.0.0.11:80 -1", T0 + 700), -EINVAL);
	assert_int_equal(oper(hd, "weight web 10.0.0.11:80 65536", T0 + 700), -EINVAL);
	assert_int_equal(oper(hd, "weight web 10.0.0.11:80 1x", T0 + 700), -EINVAL);
	assert_int_equal(oper(hd, "reboot web 10.0.0.11:80", T0 + 700), -EINVAL);
	assert_false(hd->any_dirty);
	assert_int_equal(hd->c.operator_refused, 11);

	/* A backend nothing else speaks of (no agent, no probe: unknown,
	 * never listed): disable lists it down; enable lists it up, as its
	 * configuration says, so that the classifier does not stay on down. */
	assert_int_equal(hd->be[BE_NONE].state, HD_UNKNOWN);
	assert_int_equal(oper(hd, "disable web 10.0.0.14:80", T0 + 800), 0);
	assert_int_equal(hd->be[BE_NONE].state, HD_DOWN);
	assert_int_equal(oper(hd, "enable web 10.0.0.14:80", T0 + 900), 0);
	assert_int_equal(hd->be[BE_NONE].state, HD_UP);
	assert_int_equal(hd->be[BE_NONE].source, HD_SRC_OPERATOR);
	s->n = 0;
	assert_int_equal(hd_snap_send(hd, &cfg->health.key, false, 2, T0 + 900,
				      UNIX, collect, s), 1);
	cs = open_snap(kr, rp, s, 0, &m);
	b = snap_entry(cs, "web", "10.0.0.14");
	assert_non_null(b);
	assert_int_equal(b->state, HD_UP);
	assert_int_equal(b->weight, 0); /* configured out */
	hl_opened_free(&m);

	/* The status shows each decision. */
	{
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		assert_int_equal(hd_status_write(hd, T0 + 900, f), 0);
		fclose(f);
		assert_non_null(strstr(out, "\"operator\":\"drain\",\"operator_weight\":null"));
		assert_non_null(strstr(out, "\"source\":\"operator\""));
		assert_non_null(strstr(out, "\"operator_commands\":"));
		free(out);
	}
	free(s);
	seal_keyring_free(kr);
	seal_replay_free(rp);
	hd_free(hd);
	cfg_free(cfg);
	oper_cleanup(dir);
}

/* Least-load weights are held against jitter; the operator's weight is
 * no jitter and goes out exactly. */
static void
test_oper_weight_policy(void **state)
{
	char dir[64];
	struct halb_cfg *cfg;
	struct hd *hd;
	struct seal_key k1;
	struct rep x;

	(void)state;
	oper_files(dir, sizeof(dir));
	cfg = load_conf("least-load");
	hd = hd_new(cfg, T0);
	key_of(K_B1, 1, &k1);
	mk_rep(&x, "b1", 1000, 2);
	set_item(&x, 0, "web", "10.0.0.11", 80, HD_UP);
	set_item(&x, 1, "dns", "10.0.0.11", 53, HD_UP);
	x.load.cpu_permille = 0;
	assert_int_equal(deliver(hd, &x, "b1", &k1, 1, T0 + 100), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 50); /* 100, weight_max 50 */
	/* 48 is within 1/16 of 50: load jitter would be held, this is not. */
	assert_int_equal(oper(hd, "weight web 10.0.0.11:80 48", T0 + 200), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 48);
	/* ... and the policy's bounds hold for it as for the configured one. */
	assert_int_equal(oper(hd, "weight web 10.0.0.11:80 1", T0 + 300), 0);
	assert_int_equal(hd->be[BE_AGENT].weight, 2);
	hd_free(hd);
	cfg_free(cfg);
	oper_cleanup(dir);
}

/* Decisions are kept before they are taken, and a restarted healthd
 * starts from them before it knows anything else. */
static void
test_oper_persist(void **state)
{
	char dir[64], msg[256], line[256];
	struct halb_cfg *cfg;
	struct hd *hd;
	FILE *f;
	int n = 0;

	(void)state;
	oper_files(dir, sizeof(dir));
	cfg = load_conf("static");
	hd = hd_new(cfg, T0);
	assert_int_equal(hd_oper_load(hd, T0), 0); /* no file: none */
	assert_int_equal(oper(hd, "drain web 10.0.0.11", T0 + 100), 0);
	assert_int_equal(oper(hd, "disable dns 10.0.0.11:53", T0 + 100), 0);
	assert_int_equal(oper(hd, "weight web 10.0.0.13:80 3", T0 + 100), 0);
	assert_int_equal(oper(hd, "drain web 10.0.0.13:80", T0 + 100), 0);
	assert_int_equal(oper(hd, "disable web 10.0.0.12:80", T0 + 100), 0);
	assert_int_equal(oper(hd, "enable web 10.0.0.12:80", T0 + 100), 0);
	hd_free(hd);

	f = fopen(state_file, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (line[0] != '#')
			n++;
	fclose(f);
	assert_int_equal(n, 3);

	/* A line from an older configuration and one that is garbage are
	 * left out; the rest is taken. */
	f = fopen(state_file, "a");
	assert_non_null(f);
	fprintf(f, "web 10.0.0.99:80 drain -\nweb 10.0.0.11:80 maybe -\n\n");
	fclose(f);
	hd = hd_new(cfg, T0 + 5000);
	assert_int_equal(hd_oper_load(hd, T0 + 5000), 3);
	/* Nothing heard yet: the operator's word alone, and listed. */
	assert_int_equal(hd->be[BE_AGENT].state, HD_DRAINING);
	assert_int_equal(hd->be[BE_AGENT].source, HD_SRC_OPERATOR);
	assert_int_equal(hd->be[BE_AGENT].weight, 100);
	assert_int_equal(hd->be[BE_DNS].state, HD_DOWN);
	assert_int_equal(hd->be[BE_DNS].source, HD_SRC_OPERATOR);
	assert_int_equal(hd->be[BE_PROBE].state, HD_DRAINING);
	assert_int_equal(hd->be[BE_PROBE].weight, 3);
	assert_int_equal(hd->be[BE_BOTH].state, HD_UNKNOWN);
	assert_int_equal(hd->be[BE_BOTH].op, HD_OP_NONE);
	hd_free(hd);

	/* A decision that cannot be kept is refused, and not applied. */
	unlink(state_file);
	snprintf(line, sizeof(line), "%s/lib", dir);
	rmdir(line);
	snprintf(state_file, sizeof(state_file), "%s/no/such/dir/operator", dir);
	cfg_free(cfg);
	cfg = load_conf("static");
	hd = hd_new(cfg, T0);
	assert_int_equal(hd_oper_command(hd, "drain web 10.0.0.11", T0 + 100, msg,
					 sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "cannot keep the decision"));
	assert_int_equal(hd->be[BE_AGENT].op, HD_OP_NONE);
	assert_int_equal(hd->be[BE_AGENT].state, HD_UNKNOWN);
	assert_false(hd->any_dirty);
	hd_free(hd);
	cfg_free(cfg);
	snprintf(state_file, sizeof(state_file), "%s/lib/operator", dir);
	oper_cleanup(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rise_fall),
		cmocka_unit_test(test_http_status),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_weight),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_policy_in_cache),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_peer_policy),
		cmocka_unit_test(test_peer_keys),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_snapshot_parts),
		cmocka_unit_test(test_udp_exclusive),
		cmocka_unit_test(test_clamp),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_utf8),
		cmocka_unit_test(test_oper),
		cmocka_unit_test(test_oper_weight_policy),
		cmocka_unit_test(test_oper_persist),
	};

	halb_log_level = HLOG_WARNING;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
