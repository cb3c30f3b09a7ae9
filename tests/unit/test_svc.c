/* SPDX-License-Identifier: BSD-3-Clause */
/* Service lookup: exact port before all-ports, NAT backend mapping. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "halb/svc.h"

static void
add_service(struct halb_cfg *cfg, const char *vip, uint16_t port, uint8_t proto,
	    uint8_t mode, const char *be, uint16_t be_port)
{
	struct cfg_service *s = &cfg->services[cfg->n_services++];

	assert_int_equal(halb_ip_parse(vip, &s->vip), 0);
	s->port = port;
	s->proto = proto;
	s->mode = mode;
	s->n_backends = 1;
	assert_int_equal(halb_ip_parse(be, &s->backends[0].ip), 0);
	s->backends[0].port = be_port;
}

static void
test_lookup(void **state)
{
	static struct halb_cfg cfg;
	struct halb_ip a;
	struct svc_map m;
	uint16_t b = 99;

	(void)state;
	add_service(&cfg, "198.18.2.100", 80, IPPROTO_TCP, CFG_MODE_DSR, "198.18.0.11", 80);
	add_service(&cfg, "198.18.2.100", 0, IPPROTO_TCP, CFG_MODE_DSR, "198.18.0.12", 0);
	add_service(&cfg, "198.18.2.100", 53, IPPROTO_UDP, CFG_MODE_NAT, "198.18.0.13", 5353);
	add_service(&cfg, "fd00:68:2::101", 80, IPPROTO_TCP, CFG_MODE_NAT, "fd00:68::11", 8080);
	assert_int_equal(svc_map_build(&m, &cfg), 0);

	halb_ip_parse("198.18.2.100", &a);
	assert_int_equal(svc_by_vip(&m, a.b, htons(80), IPPROTO_TCP), 0);
	assert_int_equal(svc_by_vip(&m, a.b, htons(443), IPPROTO_TCP), 1);
	assert_int_equal(svc_by_vip(&m, a.b, htons(53), IPPROTO_UDP), 2);
	assert_int_equal(svc_by_vip(&m, a.b, htons(54), IPPROTO_UDP), -1);
	halb_ip_parse("fd00:68:2::101", &a);
	assert_int_equal(svc_by_vip(&m, a.b, htons(80), IPPROTO_TCP), 3);
	assert_int_equal(svc_by_vip(&m, a.b, htons(80), IPPROTO_UDP), -1);

	halb_ip_parse("198.18.0.13", &a);
	assert_int_equal(svc_by_nat_backend(&m, a.b, htons(5353), IPPROTO_UDP, &b), 2);
	assert_int_equal(b, 0);
	assert_int_equal(svc_by_nat_backend(&m, a.b, htons(5354), IPPROTO_UDP, &b), -1);
	halb_ip_parse("fd00:68::11", &a);
	assert_int_equal(svc_by_nat_backend(&m, a.b, htons(8080), IPPROTO_TCP, &b), 3);
	/* DSR backends are not NAT backends. */
	halb_ip_parse("198.18.0.11", &a);
	assert_int_equal(svc_by_nat_backend(&m, a.b, htons(80), IPPROTO_TCP, &b), -1);
	svc_map_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
