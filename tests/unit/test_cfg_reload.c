/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A reload's configuration work (src/core/cfg_reload.c): stable slots
 * (same name, same slot; same address and port, same backend slot;
 * retired slots reused only once no flow names them), the per-object
 * answer, and the refused changes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "halb/cfg_reload.h"

static struct cfg_service *
add_service(struct halb_cfg *cfg, const char *name, const char *vip)
{
	struct cfg_service *s = &cfg->services[cfg->n_services++];

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	assert_int_equal(halb_ip_parse(vip, &s->vip), 0);
	s->port = 80;
	s->proto = IPPROTO_TCP;
	s->mode = CFG_MODE_DSR;
	return s;
}

static void
add_backend(struct cfg_service *s, const char *ip, uint32_t weight)
{
	struct cfg_backend *b = &s->backends[s->n_backends++];

	memset(b, 0, sizeof(*b));
	assert_int_equal(halb_ip_parse(ip, &b->ip), 0);
	b->weight = weight;
}

/* Flows per slot, as the forwarder would answer from shm->active. */
static uint32_t flows[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];

static uint32_t
flows_fn(void *arg, uint32_t s, uint32_t b)
{
	uint32_t i, n = 0;

	(void)arg;
	if (b != CFG_SLOT_ANY)
		return flows[s][b];
	for (i = 0; i < CFG_MAX_BACKENDS; i++)
		n += flows[s][i];
	return n;
}

static struct halb_cfg *
new_cfg(void)
{
	struct halb_cfg *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	return c;
}

static bool
logged(const struct cfg_reload_log *log, const char *what)
{
	uint32_t i;

	for (i = 0; i < log->n; i++)
		if (strstr(log->line[i], what) != NULL)
			return true;
	return false;
}

static void
setup_two(struct halb_cfg *c)
{
	struct cfg_service *s;

	s = add_service(c, "web", "198.18.2.100");
	add_backend(s, "198.18.0.11", 1);
	add_backend(s, "198.18.0.12", 1);
	add_backend(s, "198.18.0.13", 1);
	s = add_service(c, "dns", "198.18.2.101");
	add_backend(s, "198.18.0.21", 1);
}

/* Same name, same slot whatever the file's order; a backend keeps its
 * slot by address and port; the unchanged ones are not mentioned. */
static void
test_same_name_same_slot(void **state)
{
	struct halb_cfg *run = new_cfg(), *in = new_cfg(), *out = new_cfg();
	struct cfg_reload_log *log = calloc(1, sizeof(*log));
	struct cfg_service *s;

	(void)state;
	memset(flows, 0, sizeof(flows));
	setup_two(run);
	/* The file lists dns first now, web's backends in another order. */
	s = add_service(in, "dns", "198.18.2.101");
	add_backend(s, "198.18.0.21", 1);
	s = add_service(in, "web", "198.18.2.100");
	add_backend(s, "198.18.0.13", 1);
	add_backend(s, "198.18.0.11", 5);
	add_backend(s, "198.18.0.12", 1);
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	assert_int_equal(out->n_services, 2);
	assert_string_equal(out->services[0].name, "web");
	assert_string_equal(out->services[1].name, "dns");
	assert_int_equal(out->services[0].n_backends, 3);
	assert_memory_equal(&out->services[0].backends[0].ip,
			    &run->services[0].backends[0].ip, 16);
	assert_memory_equal(&out->services[0].backends[2].ip,
			    &run->services[0].backends[2].ip, 16);
	assert_int_equal(out->services[0].backends[0].weight, 5);
	assert_int_equal(out->services[0].backends[0].slot, CFG_SLOT_LIVE);
	assert_true(logged(log, "backend 198.18.0.11:80 weight 1 -> 5"));
	assert_int_equal(log->n, 1);
	free(run);
	free(in);
	free(out);
	free(log);
}

/* A removed backend is retired (weight 0, data kept) while flows name
 * it; a new one does not take its slot; once its flows are gone the slot
 * is free, and reused. */
static void
test_retire_then_reuse(void **state)
{
	struct halb_cfg *run = new_cfg(), *in = new_cfg(), *out = new_cfg();
	struct cfg_reload_log *log = calloc(1, sizeof(*log));
	struct cfg_service *s;

	(void)state;
	memset(flows, 0, sizeof(flows));
	setup_two(run);
	flows[0][1] = 12;
	s = add_service(in, "web", "198.18.2.100");
	add_backend(s, "198.18.0.11", 1);
	add_backend(s, "198.18.0.13", 1);
	add_backend(s, "198.18.0.14", 1);
	s = add_service(in, "dns", "198.18.2.101");
	add_backend(s, "198.18.0.21", 1);
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	s = &out->services[0];
	assert_int_equal(s->n_backends, 4);
	assert_int_equal(s->backends[1].slot, CFG_SLOT_RETIRED);
	assert_int_equal(s->backends[1].weight, 0);
	assert_memory_equal(&s->backends[1].ip, &run->services[0].backends[1].ip, 16);
	assert_int_equal(s->backends[2].slot, CFG_SLOT_LIVE);
	assert_int_equal(s->backends[3].slot, CFG_SLOT_LIVE);
	assert_true(logged(log, "backend 198.18.0.12:80 removed, 12 flows reset"));
	assert_true(logged(log, "backend 198.18.0.14:80 added"));

	/* Next reload, flows still there: it stays retired, and a new
	 * backend goes past it. */
	memcpy(run, out, sizeof(*run));
	add_backend(&in->services[0], "198.18.0.15", 1);
	memset(log, 0, sizeof(*log));
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	s = &out->services[0];
	assert_int_equal(s->backends[1].slot, CFG_SLOT_RETIRED);
	assert_int_equal(s->n_backends, 5);
	assert_int_equal(s->backends[4].slot, CFG_SLOT_LIVE);

	/* The last flow gone: a new backend takes the slot. */
	memcpy(run, out, sizeof(*run));
	flows[0][1] = 0;
	add_backend(&in->services[0], "198.18.0.16", 1);
	memset(log, 0, sizeof(*log));
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	s = &out->services[0];
	assert_int_equal(s->backends[1].slot, CFG_SLOT_LIVE);
	assert_int_equal(s->n_backends, 5);
	{
		struct halb_ip ip;

		halb_ip_parse("198.18.0.16", &ip);
		assert_memory_equal(&s->backends[1].ip, &ip, 16);
	}

	/* Removed again, flowless: freed at the next reload, not before
	 * (the retirement itself waits one reload). */
	memcpy(run, out, sizeof(*run));
	in->services[0].n_backends--; /* .16 */
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	assert_int_equal(out->services[0].backends[1].slot, CFG_SLOT_RETIRED);
	memcpy(run, out, sizeof(*run));
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	assert_int_equal(out->services[0].backends[1].slot, CFG_SLOT_FREE);
	free(run);
	free(in);
	free(out);
	free(log);
}

/* A removed backend added back while retired gets its slot back. */
static void
test_added_back(void **state)
{
	struct halb_cfg *run = new_cfg(), *in = new_cfg(), *out = new_cfg();
	struct cfg_service *s;

	(void)state;
	memset(flows, 0, sizeof(flows));
	setup_two(run);
	flows[0][0] = 3;
	s = add_service(in, "web", "198.18.2.100");
	add_backend(s, "198.18.0.12", 1);
	add_backend(s, "198.18.0.13", 1);
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, NULL), 0);
	assert_int_equal(out->services[0].backends[0].slot, CFG_SLOT_RETIRED);
	assert_int_equal(out->services[1].slot, CFG_SLOT_RETIRED);
	assert_int_equal(out->n_services, 2);
	memcpy(run, out, sizeof(*run));
	add_backend(s, "198.18.0.11", 2);
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, NULL), 0);
	assert_int_equal(out->services[0].backends[0].slot, CFG_SLOT_LIVE);
	assert_int_equal(out->services[0].backends[0].weight, 2);
	assert_int_equal(out->services[0].n_backends, 3);
	/* dns had no flows: freed, and dropped from the end. */
	assert_int_equal(out->n_services, 1);
	free(run);
	free(in);
	free(out);
}

/* Services: a removed one is retired with its flows; a new one does not
 * take a busy slot; a VIP change is a new slot, the old one retired. */
static void
test_services(void **state)
{
	struct halb_cfg *run = new_cfg(), *in = new_cfg(), *out = new_cfg();
	struct cfg_reload_log *log = calloc(1, sizeof(*log));
	struct cfg_service *s;

	(void)state;
	memset(flows, 0, sizeof(flows));
	setup_two(run);
	flows[1][0] = 7;
	run->services[1].down_flows = CFG_DOWN_KEEP;
	s = add_service(in, "web", "198.18.2.110"); /* its VIP changed */
	add_backend(s, "198.18.0.11", 1);
	s = add_service(in, "ntp", "198.18.2.102");
	s->proto = IPPROTO_UDP;
	add_backend(s, "198.18.0.31", 1);
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	assert_int_equal(out->n_services, 4);
	/* web's old slot: retired (no flows, but a reload must pass). */
	assert_int_equal(out->services[0].slot, CFG_SLOT_RETIRED);
	assert_int_equal(out->services[1].slot, CFG_SLOT_RETIRED);
	assert_int_equal(out->services[1].backends[0].weight, 0);
	assert_string_equal(out->services[2].name, "web");
	assert_int_equal(out->services[2].slot, CFG_SLOT_LIVE);
	assert_string_equal(out->services[3].name, "ntp");
	assert_true(logged(log, "service dns: removed, 7 flows kept until they end"));
	assert_true(logged(log, "service web: replaced"));
	assert_true(logged(log, "service ntp: added"));
	assert_false(logged(log, "service web: added"));
	free(run);
	free(in);
	free(out);
	free(log);
}

/* A request-routed service's rules change: noted; each backend keeps its
 * slot and takes the pool the new file gives it. */
static void
test_requests(void **state)
{
	struct halb_cfg *run = new_cfg(), *in = new_cfg(), *out = new_cfg();
	struct cfg_reload_log *log = calloc(1, sizeof(*log));
	struct cfg_service *s;

	(void)state;
	memset(flows, 0, sizeof(flows));
	s = add_service(run, "web", "198.18.2.100");
	s->mode = CFG_MODE_NAT;
	s->l7.has = true;
	s->l7.n_pools = 2;
	add_backend(s, "198.18.0.11", 1);
	add_backend(s, "198.18.0.12", 1);
	s->backends[1].pool = 1;
	memcpy(in, run, sizeof(*in));
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	assert_false(logged(log, "requests"));
	/* The file lists them the other way round, in other pools. */
	s = &in->services[0];
	s->backends[0] = run->services[0].backends[1];
	s->backends[1] = run->services[0].backends[0];
	s->backends[0].pool = 1;
	s->backends[1].pool = 1;
	s->l7.n_rules = 1;
	s->l7.rules[0].kind = 1;
	s->l7.rules[0].pool = 1;
	memset(log, 0, sizeof(*log));
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), 0);
	assert_true(logged(log, "service web: requests { } changed: 1 rule, 2 pools (new connections)"));
	assert_true(halb_ip_eq(&out->services[0].backends[0].ip,
			       &run->services[0].backends[0].ip));
	assert_int_equal(out->services[0].backends[0].pool, 1);
	assert_int_equal(out->services[0].backends[1].pool, 1);
	assert_int_equal(out->services[0].l7.n_rules, 1);
	free(run);
	free(in);
	free(out);
	free(log);
}

/* Out of slots: refused with the reason, nothing else fails. */
static void
test_full(void **state)
{
	struct halb_cfg *run = new_cfg(), *in = new_cfg(), *out = new_cfg();
	struct cfg_reload_log *log = calloc(1, sizeof(*log));
	struct cfg_service *s;
	char ip[32];
	uint32_t b;

	(void)state;
	memset(flows, 0, sizeof(flows));
	s = add_service(run, "web", "198.18.2.100");
	for (b = 0; b < CFG_MAX_BACKENDS; b++) {
		snprintf(ip, sizeof(ip), "10.0.%u.%u", b / 200, b % 200 + 1);
		add_backend(s, ip, 1);
		flows[0][b] = 1;
	}
	s = add_service(in, "web", "198.18.2.100");
	add_backend(s, "10.9.0.1", 1);
	assert_int_equal(cfg_slots_assign(run, in, flows_fn, NULL, out, log), -ENOSPC);
	assert_true(logged(log, "more than 256 backends"));
	free(run);
	free(in);
	free(out);
	free(log);
}

static void
test_refused(void **state)
{
	struct halb_cfg *run = new_cfg(), *in = new_cfg();
	char why[160];

	(void)state;
	setup_two(run);
	run->n_ports = 1;
	snprintf(run->ports[0].vdev, sizeof(run->ports[0].vdev), "net_ring0");
	memcpy(in, run, sizeof(*in));
	in->services[0].backends[0].weight = 9;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), 0);
	in->ports[0].line = 42; /* where it is written is no change */
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), 0);
	snprintf(in->ports[0].vdev, sizeof(in->ports[0].vdev), "net_ring1");
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "ports[0].vdev changed: needs a restart");
	memcpy(in, run, sizeof(*in));
	in->flow_entries = 1024;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "flows.entries changed: needs a restart");
	memcpy(in, run, sizeof(*in));
	in->n_neigh = 1; /* one added: fine */
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), 0);
	run->n_neigh = 1;
	in->neigh[0].mac[0] = 2;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	memcpy(in, run, sizeof(*in));
	in->health.key.len = 32;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	/* Sections read once at start: a change is refused by name, where a
	 * group is written is no change. */
	memcpy(in, run, sizeof(*in));
	in->sessions.line = 7;
	in->sessions.peers[0].line = 9;
	in->bgp.neigh[0].line = 11;
	in->ha.parts[0].line = 12;
	in->classifiers.list[0].line = 13;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), 0);
	in->sessions.window = 17;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "sessions changed: halb-sessiond reads it at start: needs a restart");
	memcpy(in, run, sizeof(*in));
	in->bgp.bfd_interval_ms = 300;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	assert_true(strncmp(why, "bgp changed", 11) == 0);
	memcpy(in, run, sizeof(*in));
	in->ha.poll_ms = 50;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	memcpy(in, run, sizeof(*in));
	in->classifiers.hold = 5;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	/* requests { }: not to an appliance that has none; not away from a
	 * service that stays; to a service, or a whole request-routed
	 * service away, when the router runs; rules and pools change. */
	memcpy(in, run, sizeof(*in));
	in->services[0].l7.has = true;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "service web: requests { } where no service had them: the request router is set up at start: needs a restart");
	run->services[0].l7.has = true;
	in->services[0].l7.has = false;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "service web: requests { } removed: its bound connections need them: needs a restart");
	memcpy(in, run, sizeof(*in));
	in->services[0].l7.n_rules = 1;
	in->services[0].l7.rules[0].kind = 1;
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), 0);
	in->services[1].l7.has = true; /* dns gains them: the router runs */
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), 0);
	snprintf(in->services[1].name, sizeof(in->services[1].name), "new");
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), 0);
	memcpy(in, run, sizeof(*in));
	in->n_services = 1;
	snprintf(in->services[0].name, sizeof(in->services[0].name), "other");
	in->services[0].l7.has = false; /* web gone whole */
	assert_int_equal(cfg_reload_refused(run, in, why, sizeof(why)), 0);
	free(run);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_name_same_slot),
		cmocka_unit_test(test_retire_then_reuse),
		cmocka_unit_test(test_added_back),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
