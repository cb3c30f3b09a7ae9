/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-agent's parts that need no socket (healthload/ag_*.c): the /proc
 * parsers on fixed sample text, the states a report carries (down beats
 * draining beats up), the sealed report as healthd opens it, report
 * requests judged (only a known handler's is acted on; forged, replayed
 * and stale ones are counted), the drain mark kept across restarts, and
 * the handler list written as groups.
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

#include <cmocka.h>

#include "halb/cfg.h"
#include "halb/cfg_agent.h"
#include "halb/hl_msg.h"
#include "ag.h"
#include "hlu.h"

#ifndef HALB_SRCDIR
#define HALB_SRCDIR "."
#endif

#define K_LB1 "0c436356aa77ead33044c26937114af0657aa0aa8d174edac427f613478afd81"
#define K_LB2 "6831861d5e02754865c303bd8eacc02989cbdcbfbd1a206f7e15799b75ea8df1"
#define K_B1 "130481e6f73e305cefe2ada86b172cdcaed381a3b163f801c3e787cedf1ea773"

static void
key_of(const char *hex, uint32_t id, struct seal_key *k)
{
	char why[128];

	memset(k, 0, sizeof(*k));
	k->id = id;
	assert_int_equal(cfg_hex_key(hex, k, why, sizeof(why)), 0);
}

/* ---- /proc ---- */

static const char stat1[] =
	"cpu  4705 356 584 3699 23 23 0 0 0 0\n"
	"cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\n"
	"intr 114930548 113199788 3 0 5 263 0 4 [... lots more numbers ...]\n";
static const char stat2[] =
	"cpu  5205 356 584 4199 23 23 0 0 0 0\n";

static void
test_proc_stat(void **state)
{
	struct ag_cpu a, b;

	(void)state;
	assert_int_equal(ag_parse_stat(stat1, &a), 0);
	assert_int_equal(a.total, 4705 + 356 + 584 + 3699 + 23 + 23);
	assert_int_equal(a.busy, 4705 + 356 + 584 + 23);
	assert_int_equal(ag_parse_stat(stat2, &b), 0);
	/* 500 more busy, 500 more idle: half. */
	assert_int_equal(ag_cpu_permille(&a, &b), 500);
	assert_int_equal(ag_cpu_permille(&a, &a), 0);
	assert_int_equal(ag_cpu_permille(&b, &a), 0);   /* clock went back */
	/* Old kernels: four columns. */
	assert_int_equal(ag_parse_stat("cpu  10 0 10 80\n", &a), 0);
	assert_int_equal(a.total, 100);
	assert_int_equal(a.busy, 20);
	assert_int_equal(ag_parse_stat("cpu0 1 2 3 4\n", &a), -EINVAL);
	assert_int_equal(ag_parse_stat("cpu  1 2\n", &a), -EINVAL);
	assert_int_equal(ag_parse_stat("", &a), -EINVAL);
}

static void
test_proc_meminfo(void **state)
{
	static const char mem[] =
		"MemTotal:        8000000 kB\n"
		"MemFree:          500000 kB\n"
		"MemAvailable:    2000000 kB\n"
		"Buffers:          100000 kB\n";
	uint32_t p = 0;

	(void)state;
	assert_int_equal(ag_parse_meminfo(mem, &p), 0);
	assert_int_equal(p, 750);
	assert_int_equal(ag_parse_meminfo("MemTotal: 100 kB\n", &p), -EINVAL);
	assert_int_equal(ag_parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n", &p),
			 -EINVAL);
	/* A key that merely starts like another is not it. */
	assert_int_equal(ag_parse_meminfo("MemTotalX: 1 kB\nMemAvailable: 0 kB\n", &p),
			 -EINVAL);
}

static void
test_proc_tcp(void **state)
{
	static const char tcp[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0\n"
		"   1: 0B0012C6:0050 0101A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0 20 4 30 10 -1\n"
		"   2: 0B0012C6:0050 0201A8C0:D432 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 20 4 30 10 -1\n"
		"   3: 0B0012C6:1F90 0201A8C0:D433 01 00000000:00000000 00:00000000 00000000     0        0 1004 1 0 20 4 30 10 -1\n"
		"   4: 0B0012C6:0050 0301A8C0:D434 06 00000000:00000000 03:00000F2C 00000000     0        0 0 3 0\n"
		"   5: 0100007F:9C40 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 1005 1 0 20 4 30 10 -1\n";
	static const char tcp6[] =
		"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 0000000000000000FFFF00000B0012C6:0050 0000000000000000FFFF00000101A8C0:C001 01 00000000:00000000 00:00000000 00000000     0        0 2001 1 0 20 4 30 10 -1\n"
		"   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0 100 0 0 10 0\n";
	uint16_t web[] = { 80 }, both[] = { 80, 8080 }, none[] = { 22 };

	(void)state;
	/* Established only; the listener, TIME_WAIT and the client side of
	 * a connection to port 80 do not count. */
	assert_int_equal(ag_count_established(tcp, web, 1), 2);
	assert_int_equal(ag_count_established(tcp, both, 2), 3);
	assert_int_equal(ag_count_established(tcp, none, 1), 0);
	assert_int_equal(ag_count_established(tcp, web, 0), 0);
	assert_int_equal(ag_count_established(tcp6, both, 2), 1);
	assert_int_equal(ag_count_established("garbage\n", web, 1), -EINVAL);
	/* A header alone, or a cut line: no crash, what was whole counts. */
	assert_int_equal(ag_count_established("  sl  local\n", web, 1), 0);
	assert_int_equal(ag_count_established("  sl  local\n   1: 0B0012C6:0050", web, 1), 0);
}

/* ---- the agent ---- */

static struct agc *
load_agent_text(const char *text)
{
	char path[] = "/tmp/halb-test-agent-XXXXXX";
	struct agc *c;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	c = cfg_agent_load(path, stderr);
	unlink(path);
	return c;
}

static const char agent_text[] =
	"agent = { host = \"b1\"; key = \"" K_B1 "\";\n"
	"  handlers = ( { address = \"10.0.0.3:7300\"; name = \"lb1\"; key = \"" K_LB1 "\"; },\n"
	"               { address = \"[fd00::4]:7300\"; name = \"lb2\"; key = \"" K_LB2 "\"; key_id = 2; } );\n"
	"  interval_ms = 2000; capacity = 70; control = \"/tmp/halb-test-agent-ctl.sock\";\n"
	"  services = (\n"
	"    { service = \"web\"; address = \"10.0.0.11\"; port = 80;\n"
	"      check = { type = \"http\"; url = \"http://127.0.0.1:8080/ping\"; expect = 204; rise = 2; fall = 2; }; },\n"
	"    { service = \"dns\"; address = \"10.0.0.11\"; port = 53; check = { type = \"command\"; command = \"true\"; }; },\n"
	"    { service = \"any\"; address = \"10.0.0.11\"; check = { type = \"none\"; }; } ); };\n";

static void
test_agent_config(void **state)
{
	struct agc *c = load_agent_text(agent_text);

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->n_handlers, 2);
	assert_string_equal(c->handlers[1].name, "lb2");
	assert_int_equal(c->handlers[1].key.id, 2);
	assert_int_equal(c->handlers[1].key.bytes[0], 0x68);
	assert_false(halb_ip_is_v4(&c->handlers[1].ip));
	assert_int_equal(c->services[0].expect, 204);
	assert_int_equal(c->services[0].check_port, 8080);
	assert_string_equal(c->services[0].path, "/ping");
	assert_int_equal(c->services[0].timeout_ms, 1000);
	assert_int_equal(c->services[2].port, 0);
	assert_int_equal(c->services[2].check_type, AGC_CHECK_NONE);
	cfg_agent_free(c);
}

/* Opens a report as lb1's healthd would. */
static void
open_report(const uint8_t *buf, int n, struct seal_replay *rp,
	    struct hl_opened *m)
{
	struct seal_keyring *kr = seal_keyring_new(1);
	struct seal_key k;

	key_of(K_B1, 1, &k);
	assert_int_equal(seal_keyring_add(kr, "b1", &k, SEAL_ROLE_AGENT), 0);
	assert_true(n > 0 && n <= (int)HL_MTU);
	assert_int_equal(hl_open(buf, (size_t)n, kr, rp, hlu_unix_ms(), m), 0);
	assert_int_equal(m->type, HL_T_HOST_REPORT);
	seal_keyring_free(kr);
}

static void
test_agent_report(void **state)
{
	struct agc *c = load_agent_text(agent_text);
	struct seal_replay *rp = seal_replay_new(1, 0);
	const Halb__Health__HostReport *r;
	struct hl_opened m;
	uint8_t buf[HL_MTU];
	uint64_t seq1;
	struct ag *ag;
	int n;

	(void)state;
	ag = ag_new(c);
	assert_non_null(ag);
	/* First results: web up (rise 2, fall 2: the first decides). */
	assert_false(ag_check_result(ag, 0, true, "ok"));
	assert_false(ag_check_result(ag, 1, true, "command exited 0"));
	assert_int_equal(ag_service_state(ag, 0), HALB__HEALTH__HEALTH_STATE__HEALTH_UP);
	ag->cpu_permille = 420;
	ag->mem_permille = 610;
	ag->conns = 17;

	n = ag_build_report(ag, hlu_unix_ms(), buf);
	open_report(buf, n, rp, &m);
	r = m.report;
	seq1 = m.seq;
	/* A restarted agent stays above its old numbers: time in µs. */
	assert_true(seq1 >= hlu_unix_us() - 10000000ull);
	assert_string_equal(r->host_id, "b1");
	assert_int_equal(r->report_interval_ms, 2000);
	assert_int_equal(r->n_services, 3);
	assert_string_equal(r->services[0]->service, "web");
	assert_string_equal(r->services[0]->address, "10.0.0.11");
	assert_int_equal(r->services[0]->port, 80);
	assert_int_equal(r->services[2]->port, 0);
	assert_int_equal(r->services[2]->state, HALB__HEALTH__HEALTH_STATE__HEALTH_UP);
	assert_non_null(r->load);
	assert_int_equal(r->load->cpu_permille, 420);
	assert_int_equal(r->load->mem_used_permille, 610);
	assert_int_equal(r->load->active_connections, 17);
	assert_int_equal(r->load->capacity, 70);
	hl_opened_free(&m);

	/* Draining: every service says so, with a reason... */
	ag->draining = true;
	n = ag_build_report(ag, hlu_unix_ms(), buf);
	open_report(buf, n, rp, &m);
	assert_true(m.seq > seq1);
	assert_int_equal(m.report->services[0]->state,
			 HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING);
	assert_string_equal(m.report->services[1]->reason, "draining");
	hl_opened_free(&m);
	/* ...but a failed check is down, draining or not (fall 2). */
	assert_false(ag_check_result(ag, 0, false, "status 503, expected 204"));
	assert_true(ag_check_result(ag, 0, false, "status 503, expected 204"));
	n = ag_build_report(ag, hlu_unix_ms(), buf);
	open_report(buf, n, rp, &m);
	assert_int_equal(m.report->services[0]->state,
			 HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN);
	assert_string_equal(m.report->services[0]->reason,
			    "status 503, expected 204");
	assert_int_equal(m.report->services[1]->state,
			 HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING);
	/* A service without a check has nothing to fail. */
	assert_int_equal(m.report->services[2]->state,
			 HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING);
	hl_opened_free(&m);
	assert_int_equal(ag->c.checks, 4);
	assert_int_equal(ag->c.check_fail, 2);

	ag_free(ag);
	seal_replay_free(rp);
	cfg_agent_free(c);
}

static int
seal_request(uint8_t *buf, const char *sender, const char *hex, uint32_t id,
	     uint64_t seq, uint64_t ts, enum hl_type type)
{
	Halb__Health__ReportRequest rq;
	Halb__Health__Heartbeat hb;
	struct seal_key k;

	key_of(hex, id, &k);
	halb__health__report_request__init(&rq);
	halb__health__heartbeat__init(&hb);
	rq.reason = (char *)(uintptr_t)"start-up";
	hb.role = HALB__HEALTH__ROLE__ROLE_HEALTHD;
	return hl_seal(buf, HL_MTU, &k, sender, seq, ts, type,
		       type == HL_T_REPORT_REQUEST ? &rq.base : &hb.base);
}

static void
test_agent_requests(void **state)
{
	struct agc *c = load_agent_text(agent_text);
	uint64_t now = hlu_unix_ms();
	uint8_t buf[HL_MTU];
	struct ag *ag;
	int n;

	(void)state;
	ag = ag_new(c);
	assert_non_null(ag);
	/* lb1 asks: report now. */
	n = seal_request(buf, "lb1", K_LB1, 1, 100, now, HL_T_REPORT_REQUEST);
	assert_int_equal(ag_handle_dgram(ag, buf, (size_t)n, now), 1);
	/* The same datagram again: a replay. */
	assert_int_equal(ag_handle_dgram(ag, buf, (size_t)n, now), -SEAL_REJ_REPLAY);
	/* lb2 with its key id 2. */
	n = seal_request(buf, "lb2", K_LB2, 2, 5, now, HL_T_REPORT_REQUEST);
	assert_int_equal(ag_handle_dgram(ag, buf, (size_t)n, now), 1);
	/* Forged: lb1's name, lb2's key. */
	n = seal_request(buf, "lb1", K_LB2, 1, 101, now, HL_T_REPORT_REQUEST);
	assert_int_equal(ag_handle_dgram(ag, buf, (size_t)n, now), -SEAL_REJ_BAD_MAC);
	/* Somebody the agent does not know, even with a good-looking key. */
	n = seal_request(buf, "lb9", K_LB1, 1, 1, now, HL_T_REPORT_REQUEST);
	assert_int_equal(ag_handle_dgram(ag, buf, (size_t)n, now),
			 -SEAL_REJ_UNKNOWN_SENDER);
	/* Stale: a minute old. */
	n = seal_request(buf, "lb1", K_LB1, 1, 102, now - 60000, HL_T_REPORT_REQUEST);
	assert_int_equal(ag_handle_dgram(ag, buf, (size_t)n, now), -SEAL_REJ_STALE);
	/* Authentic but not a request: counted, not acted on. */
	n = seal_request(buf, "lb1", K_LB1, 1, 103, now, HL_T_HEARTBEAT);
	assert_int_equal(ag_handle_dgram(ag, buf, (size_t)n, now), 0);
	/* Garbage. */
	assert_int_equal(ag_handle_dgram(ag, (const uint8_t *)"hello", 5, now),
			 -SEAL_REJ_GARBLED);
	assert_int_equal(ag->c.requests, 2);
	assert_int_equal(ag->c.unexpected, 1);
	assert_int_equal(ag->c.rejected[SEAL_REJ_REPLAY], 1);
	assert_int_equal(ag->c.rejected[SEAL_REJ_BAD_MAC], 1);
	assert_int_equal(ag->c.rejected[SEAL_REJ_UNKNOWN_SENDER], 1);
	assert_int_equal(ag->c.rejected[SEAL_REJ_STALE], 1);
	assert_int_equal(ag->c.rejected[SEAL_REJ_GARBLED], 1);
	assert_int_equal(ag->c.rx, 8);
	ag_free(ag);
	cfg_agent_free(c);

	/* Handlers without names: nobody's request is believed. */
	c = load_agent_text("agent = { host = \"b1\"; key = \"" K_B1 "\";\n"
			    "  handlers = [ \"127.0.0.1:7300\" ];\n"
			    "  services = ( { service = \"web\"; address = \"10.0.0.11\"; port = 80; } ); };\n");
	assert_non_null(c);
	ag = ag_new(c);
	n = seal_request(buf, "lb1", K_LB1, 1, 200, now, HL_T_REPORT_REQUEST);
	assert_int_equal(ag_handle_dgram(ag, buf, (size_t)n, now),
			 -SEAL_REJ_UNKNOWN_SENDER);
	ag_free(ag);
	cfg_agent_free(c);
}

static void
test_drain_mark(void **state)
{
	char dir[] = "/tmp/halb-test-drain-XXXXXX", path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/b1.sock.drain", dir);
	assert_false(ag_drain_load(path));
	assert_int_equal(ag_drain_save(path, true), 0);
	assert_true(ag_drain_load(path));
	assert_int_equal(ag_drain_save(path, true), 0);
	assert_true(ag_drain_load(path));
	assert_int_equal(ag_drain_save(path, false), 0);
	assert_false(ag_drain_load(path));
	assert_int_equal(ag_drain_save(path, false), 0); /* already gone */
	assert_int_equal(rmdir(dir), 0);
	/* Somewhere it cannot be written. */
	assert_true(ag_drain_save("/nonexistent-dir/x.drain", true) < 0);
}

static void
test_seq_and_ratelimit(void **state)
{
	struct hlu_ratelimit rl = { .period_ms = 1000, .burst = 2 };
	uint64_t last = 0, a, b, held;

	(void)state;
	a = hlu_next_seq(&last);
	b = hlu_next_seq(&last);
	assert_true(b > a);
	last = UINT64_MAX / 2;  /* numbers from the future stay ahead */
	assert_int_equal(hlu_next_seq(&last), UINT64_MAX / 2 + 1);

	assert_true(hlu_ratelimit(&rl, 5000, &held));
	assert_int_equal(held, 0);
	assert_true(hlu_ratelimit(&rl, 5001, &held));
	assert_false(hlu_ratelimit(&rl, 5002, &held));
	assert_false(hlu_ratelimit(&rl, 5003, &held));
	assert_true(hlu_ratelimit(&rl, 6001, &held));
	assert_int_equal(held, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_stat),
		cmocka_unit_test(test_proc_meminfo),
		cmocka_unit_test(test_proc_tcp),
		cmocka_unit_test(test_agent_config),
		cmocka_unit_test(test_agent_report),
		cmocka_unit_test(test_agent_requests),
		cmocka_unit_test(test_drain_mark),
		cmocka_unit_test(test_seq_and_ratelimit),
	};

	hlu_verbosity = HLU_WARNING;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
