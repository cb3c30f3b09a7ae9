/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus text format (src/core/prom.c) and halb-exporter's
 * translators (exporter/exp_collect.c): a family's samples together
 * under one HELP and TYPE whatever the order they came in, escaping,
 * names the format refuses, values; and the samples made of a
 * forwarder's, a worker's and halb-healthd's answers, named from the
 * configuration.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/cfg.h"
#include "halb/log.h"
#include "halb/prom.h"
#include "exp.h"

static char *
render(struct prom *p)
{
	char *s = prom_render(p, NULL);

	assert_non_null(s);
	return s;
}

static void
test_families(void **state)
{
	struct prom p;
	char *s;

	(void)state;
	prom_init(&p);
	assert_int_equal(prom_add(&p, "a_total", PROM_COUNTER, "A things.", 1,
				  "x", "1", NULL), 0);
	assert_int_equal(prom_add(&p, "b", PROM_GAUGE, "B.", 7, NULL), 0);
	assert_int_equal(prom_add(&p, "a_total", PROM_COUNTER, "ignored", 2,
				  "x", "2", "y", "z", NULL), 0);
	s = render(&p);
	assert_string_equal(s,
		"# HELP a_total A things.\n"
		"# TYPE a_total counter\n"
		"a_total{x=\"1\"} 1\n"
		"a_total{x=\"2\",y=\"z\"} 2\n"
		"# HELP b B.\n"
		"# TYPE b gauge\n"
		"b 7\n");
	free(s);
	prom_fini(&p);
}

static void
test_escaping(void **state)
{
	struct prom p;
	char *s;

	(void)state;
	prom_init(&p);
	assert_int_equal(prom_add(&p, "e", PROM_GAUGE, "back\\slash\nnew \"q\"",
				  1, "v", "a\\b\"c\nd", NULL), 0);
	s = render(&p);
	assert_string_equal(s,
		"# HELP e back\\\\slash\\nnew \"q\"\n"
		"# TYPE e gauge\n"
		"e{v=\"a\\\\b\\\"c\\nd\"} 1\n");
	free(s);
	prom_fini(&p);
}

static void
test_refused(void **state)
{
	struct prom p;
	char *s;

	(void)state;
	prom_init(&p);
	assert_int_equal(prom_add(&p, "1a", PROM_GAUGE, "", 1, NULL), -EINVAL);
	assert_int_equal(prom_add(&p, "a-b", PROM_GAUGE, "", 1, NULL), -EINVAL);
	assert_int_equal(prom_add(&p, "", PROM_GAUGE, "", 1, NULL), -EINVAL);
	assert_int_equal(prom_add(&p, "ok", PROM_GAUGE, "", 1, "__x", "v", NULL),
			 -EINVAL);
	assert_int_equal(prom_add(&p, "ok", PROM_GAUGE, "", 1, "a:b", "v", NULL),
			 -EINVAL);
	assert_int_equal(prom_add(&p, "ok", (enum prom_type)9, "", 1, NULL),
			 -EINVAL);
	assert_int_equal(p.err, -EINVAL);
	/* A family keeps its first type. */
	assert_int_equal(prom_add(&p, "ns:ok_1", PROM_GAUGE, "", 1, NULL), 0);
	assert_int_equal(prom_add(&p, "ns:ok_1", PROM_COUNTER, "", 1, NULL),
			 -EINVAL);
	s = render(&p);
	assert_string_equal(s, "# HELP ns:ok_1 \n# TYPE ns:ok_1 gauge\nns:ok_1 1\n");
	free(s);
	prom_fini(&p);
}

static void
test_values(void **state)
{
	struct prom p;
	char *s;

	(void)state;
	prom_init(&p);
	prom_add(&p, "v", PROM_GAUGE, "", 0.5, "i", "0", NULL);
	prom_add(&p, "v", PROM_GAUGE, "", 18446744073709551615.0, "i", "1", NULL);
	prom_add(&p, "v", PROM_GAUGE, "", NAN, "i", "2", NULL);
	prom_add(&p, "v", PROM_GAUGE, "", -INFINITY, "i", "3", NULL);
	prom_add(&p, "v", PROM_GAUGE, "", 9007199254740991.0, "i", "4", NULL);
	prom_add(&p, "v", PROM_GAUGE, "", -3, "i", "5", NULL);
	s = render(&p);
	assert_string_equal(s, "# HELP v \n# TYPE v gauge\n"
		"v{i=\"0\"} 0.5\n"
		"v{i=\"1\"} 1.8446744073709552e+19\n"
		"v{i=\"2\"} NaN\n"
		"v{i=\"3\"} -Inf\n"
		"v{i=\"4\"} 9007199254740991\n"
		"v{i=\"5\"} -3\n");
	free(s);
	prom_fini(&p);
}

static struct halb_cfg *
demo_cfg(void)
{
	struct halb_cfg *cfg = cfg_load_opts(HALB_SRCDIR "/conf/halb.conf",
					     stderr, CFG_LOAD_NO_KEYS);

	assert_non_null(cfg);
	return cfg;
}

static json_t *
body(const char *cmd, const char *json)
{
	json_error_t e;
	json_t *r = json_loads(json, 0, &e), *b;

	assert_non_null(r);
	b = (json_t *)(uintptr_t)exp_tlm_body(r);
	assert_non_null(b);
	assert_non_null(json_object_get(r, cmd));
	json_incref(b);
	json_decref(r);
	return b;
}

static void
has(const char *text, const char *line)
{
	const char *t = text != NULL ? text : "";

	if (strstr(t, line) == NULL)
		fail_msg("no \"%s\" in:\n%s", line, t);
}

static void
test_backends(void **state)
{
	struct halb_cfg *cfg = demo_cfg();
	json_t *b;
	struct prom p;
	char *s;

	(void)state;
	prom_init(&p);
	/* web-nat (service 1): backends 198.18.0.11..13 on port 8080; b9
	 * names no backend of it and is left out. */
	b = body("/halb/backends",
		 "{\"/halb/backends\": {\"service\": [100, 6400, 3],"
		 " \"n_backends\": 3,"
		 " \"b0\": [60, 3840, 5, 2, 1, 1, 1, 250, 17],"
		 " \"b2\": [40, 2560, 4, 1, 3, 2, 2, 0, 0],"
		 " \"b9\": [1, 1, 1, 1, 1, 1, 1, 1, 1]}}");
	assert_int_equal(exp_backends(&p, cfg, 1, b, 1), 2);
	json_decref(b);
	assert_int_equal(p.err, 0);
	s = render(&p);
	has(s, "# TYPE halb_service_packets_total counter\n"
	       "halb_service_packets_total{service=\"web-nat\"} 100\n");
	has(s, "halb_service_fallbacks_total{service=\"web-nat\"} 3\n");
	has(s, "# TYPE halb_backend_packets_total counter\n"
	       "halb_backend_packets_total{service=\"web-nat\",backend=\"198.18.0.11:8080\"} 60\n"
	       "halb_backend_packets_total{service=\"web-nat\",backend=\"198.18.0.13:8080\"} 40\n");
	has(s, "halb_backend_bytes_total{service=\"web-nat\",backend=\"198.18.0.13:8080\"} 2560\n");
	has(s, "halb_backend_new_flows_total{service=\"web-nat\",backend=\"198.18.0.11:8080\"} 5\n");
	has(s, "# TYPE halb_backend_active_flows gauge\n");
	has(s, "halb_backend_weight{service=\"web-nat\",backend=\"198.18.0.13:8080\"} 2\n");
	has(s, "halb_backend_host_cpu_ratio{service=\"web-nat\",backend=\"198.18.0.11:8080\"} 0.25\n");
	has(s, "halb_backend_host_connections{service=\"web-nat\",backend=\"198.18.0.11:8080\"} 17\n");
	has(s, "halb_backend_state{service=\"web-nat\",backend=\"198.18.0.11:8080\",state=\"up\"} 1\n"
	       "halb_backend_state{service=\"web-nat\",backend=\"198.18.0.11:8080\",state=\"down\"} 0\n");
	has(s, "halb_backend_state{service=\"web-nat\",backend=\"198.18.0.13:8080\",state=\"draining\"} 1\n");
	assert_null(strstr(s, "198.18.0.12"));
	free(s);
	prom_fini(&p);
	cfg_free(cfg);
}

static void
test_forwarder(void **state)
{
	struct prom p;
	json_t *b;
	char *s;

	(void)state;
	prom_init(&p);
	b = body("/halb/workers",
		 "{\"/halb/workers\": {\"tsc_hz\": 1000,"
		 " \"w0\": [10, 9, 8, 7, 6, 5, 4, 3, 2, 65536, 0, 500, 42],"
		 " \"w1\": [1, 1, 1, 1, 1, 1, 1, 1, 1, 65536, 1, 2000, 1]}}");
	exp_workers(&p, b);
	json_decref(b);
	b = body("/halb/stats",
		 "{\"/halb/stats\": {\"installs\": 12, \"cls_kept\": 3,"
		 " \"drops\": {\"no_neigh\": 2, \"tx_full\": 0},"
		 " \"malformed\": {\"short\": 1}}}");
	exp_fwd_stats(&p, b);
	json_decref(b);
	b = body("/halb/status",
		 "{\"/halb/status\": {\"classifier\": \"up\", \"flows\": 5,"
		 " \"flow_capacity\": 131072, \"classifier_starts\": 2,"
		 " \"generation\": 3, \"reloads\": 2, \"reload_refused\": 1}}");
	exp_fwd_status(&p, b);
	json_decref(b);
	b = body("/ethdev/stats", "{\"/ethdev/stats\": {\"ipackets\": 11,"
		 " \"opackets\": 12, \"imissed\": 1}}");
	exp_port(&p, "inside", b);
	json_decref(b);
	assert_int_equal(p.err, 0);
	s = render(&p);
	has(s, "halb_worker_rx_packets_total{worker=\"0\"} 10\n"
	       "halb_worker_rx_packets_total{worker=\"1\"} 1\n");
	has(s, "# TYPE halb_worker_flows gauge\nhalb_worker_flows{worker=\"0\"} 2\n");
	has(s, "halb_worker_table_full{worker=\"1\"} 1\n");
	has(s, "halb_worker_busy_seconds_total{worker=\"1\"} 2\n");
	has(s, "halb_worker_loops_total{worker=\"0\"} 42\n");
	has(s, "halb_classifier_installs_total 12\n");
	has(s, "halb_config_generation 3\n");
	has(s, "halb_reloads_total 2\n");
	has(s, "halb_reload_refused_total 1\n");
	has(s, "halb_classifier_kept_total 3\n");
	has(s, "halb_classifier_table_full_total 0\n");
	has(s, "halb_drops_total{reason=\"no_neigh\"} 2\n");
	has(s, "halb_malformed_total{verdict=\"short\"} 1\n");
	has(s, "halb_classifier_up 1\n");
	has(s, "halb_flows 5\n");
	has(s, "halb_port_rx_packets_total{port=\"inside\"} 11\n");
	has(s, "halb_port_rx_missed_total{port=\"inside\"} 1\n");
	free(s);
	prom_fini(&p);
}

static void
test_healthd(void **state)
{
	struct prom p;
	char *s;

	(void)state;
	prom_init(&p);
	exp_healthd(&p,
		"{\"service\": \"web-dsr\", \"backend\": \"198.18.0.11:80\", \"operator\": null}\n"
		"{\"service\": \"web-dsr\", \"backend\": \"198.18.0.12:80\", \"operator\": \"drain\"}\n"
		"not json\n"
		"{\"healthd\": {\"agents\": 3, \"agents_heard\": 2, \"generation\": 9},"
		" \"counters\": {\"rx\": 40, \"rejected\": {\"bad_mac\": 1},"
		" \"probes\": 7}}\n");
	assert_int_equal(p.err, 0);
	s = render(&p);
	has(s, "halb_healthd_agents 3\n");
	has(s, "halb_healthd_agents_heard 2\n");
	has(s, "# TYPE halb_healthd_rx_total counter\nhalb_healthd_rx_total 40\n");
	has(s, "halb_healthd_probes_total 7\n");
	has(s, "halb_healthd_rejected_total{reason=\"bad_mac\"} 1\n");
	has(s, "halb_backend_operator{service=\"web-dsr\",backend=\"198.18.0.11:80\",decision=\"none\"} 0\n"
	       "halb_backend_operator{service=\"web-dsr\",backend=\"198.18.0.12:80\",decision=\"drain\"} 1\n");
	free(s);
	prom_fini(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_backends),
		cmocka_unit_test(test_forwarder),
		cmocka_unit_test(test_healthd),
	};

	halb_log_level = HLOG_WARNING;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
