/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of the EAL command line (cfg_eal_argv, src/core/cfg_eal.c), built
 * without DPDK: what the forwarder and the classifier would pass to
 * rte_eal_init.  The rule under test is the one that keeps the machine's
 * own NIC safe: --no-pci when no port names a PCI device; otherwise one
 * "-a ADDRESS" per device a port names, and nothing else that probes the
 * PCI bus, in both programs.  Also the PCI address parser (cfg_parse_pci).
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

#ifndef HALB_SRCDIR
#define HALB_SRCDIR "."
#endif

static struct halb_cfg *
load(const char *path)
{
	struct halb_cfg *cfg = cfg_load(path, stderr);

	assert_non_null(cfg);
	return cfg;
}

/* A configuration from text, through a temporary file. */
static struct halb_cfg *
load_text(const char *text)
{
	char path[] = "/tmp/halb-eal-XXXXXX";
	struct halb_cfg *cfg;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cfg = cfg_load(path, stderr);
	unlink(path);
	assert_non_null(cfg);
	return cfg;
}

static int
find(const struct cfg_eal_argv *a, const char *arg)
{
	int i;

	for (i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], arg) == 0)
			return i;
	return -1;
}

static int
count(const struct cfg_eal_argv *a, const char *arg)
{
	int i, n = 0;

	for (i = 0; i < a->argc; i++)
		n += strcmp(a->argv[i], arg) == 0;
	return n;
}

/* Whatever the file: PCI touched only through -a of a port's device. */
static void
check_device_rule(const struct halb_cfg *cfg, const struct cfg_eal_argv *a)
{
	uint32_t i, n_pci = 0;
	int k;

	assert_null(a->argv[a->argc]);
	for (i = 0; i < cfg->n_ports; i++)
		n_pci += cfg->ports[i].pci[0] != '\0';
	assert_int_equal(count(a, "--no-pci"), n_pci == 0 ? 1 : 0);
	assert_int_equal(count(a, "-a"), (int)n_pci);
	for (k = 0; k < a->argc; k++) {
		assert_true(strncmp(a->argv[k], "--allow", 7) != 0);
		assert_true(strncmp(a->argv[k], "-b", 2) != 0);
		assert_true(strncmp(a->argv[k], "--block", 7) != 0);
		if (strcmp(a->argv[k], "-a") == 0) {
			bool named = false;

			assert_true(k + 1 < a->argc);
			for (i = 0; i < cfg->n_ports; i++)
				named |= cfg->ports[i].pci[0] != '\0' &&
					 strncmp(a->argv[k + 1], cfg->ports[i].pci,
						 strlen(cfg->ports[i].pci)) == 0;
			assert_true(named);
		}
	}
}

static void
test_vdev_only(void **state)
{
	static struct cfg_eal_argv a;
	struct halb_cfg *cfg = load(HALB_SRCDIR "/conf/halb.conf");
	int i;

	(void)state;
	assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_PRIMARY, "fwd", NULL, &a), 0);
	check_device_rule(cfg, &a);
	assert_string_equal(a.argv[0], "fwd");
	i = find(&a, "-l");
	assert_true(i > 0);
	assert_string_equal(a.argv[i + 1], cfg->lcores);
	assert_true(find(&a, "--proc-type=primary") > 0);
	assert_true(find(&a, "--huge-unlink=existing") > 0);
	assert_true(find(&a, "--vdev=net_af_packet0,iface=halb0,qdisc_bypass=1") > 0);

	/* The classifier: secondary, its own lcore on the CPUs it is
	 * allowed (no eal.classifier_cpus), no vdev, no extra. */
	assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_SECONDARY, "cls", "0,1", &a), 0);
	check_device_rule(cfg, &a);
	assert_true(find(&a, "--lcores=16@(0,1)") > 0);
	assert_true(find(&a, "--proc-type=secondary") > 0);
	assert_true(find(&a, "--no-telemetry") > 0);
	assert_int_equal(find(&a, "-l"), -1);
	for (i = 0; i < a.argc; i++)
		assert_true(strncmp(a.argv[i], "--vdev", 6) != 0);
	assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_SECONDARY, "cls", NULL, &a), 0);
	assert_true(find(&a, "--lcores=16@(0)") > 0);
	cfg_free(cfg);
}

/* A port with a kernel interface: its tap device after the ports'
 * devices, for the forwarder only (the classifier attaches to what the
 * primary made). */
static void
test_kernel_tap(void **state)
{
	static struct cfg_eal_argv a;
	struct halb_cfg *cfg = load(HALB_SRCDIR "/conf/samples/fabric-lb1.conf");
	int i, v;

	(void)state;
	assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_PRIMARY, "fwd", NULL, &a), 0);
	v = find(&a, "--vdev=net_af_packet0,iface=halb0,qdisc_bypass=1");
	i = find(&a, "--vdev=net_tap_halb0,iface=halb0k");
	assert_true(v > 0);
	assert_true(i > v);
	assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_SECONDARY, "cls", "0", &a), 0);
	for (i = 0; i < a.argc; i++)
		assert_true(strncmp(a.argv[i], "--vdev", 6) != 0);
	cfg_free(cfg);
}

static void
test_pci_ports(void **state)
{
	static struct cfg_eal_argv a;
	struct halb_cfg *cfg = load(HALB_SRCDIR "/conf/samples/real-2port.conf");
	int i;

	(void)state;
	assert_string_equal(cfg->ports[0].pci, "0000:3b:00.0");
	assert_string_equal(cfg->ports[1].pci, "0000:3b:00.1");
	assert_string_equal(cfg->ports[0].vdev, "");
	assert_int_equal(cfg->ports[0].queues, 0); /* known at start only */
	assert_int_equal(cfg->ports[1].mtu, 9000);
	assert_string_equal(cfg->classifier_cpus, "10-11");
	assert_true(cfg_has_pci(cfg));

	assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_PRIMARY, "fwd", NULL, &a), 0);
	check_device_rule(cfg, &a);
	i = find(&a, "-a");
	assert_string_equal(a.argv[i + 1], "0000:3b:00.0");
	assert_string_equal(a.argv[i + 2], "-a");
	assert_string_equal(a.argv[i + 3], "0000:3b:00.1");
	assert_true(find(&a, "--socket-mem=4096,0") > 0);

	/* The same allow-list in the secondary, on its own CPUs whatever
	 * it is allowed. */
	assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_SECONDARY, "cls", "0-15", &a), 0);
	check_device_rule(cfg, &a);
	assert_true(find(&a, "--lcores=16@(10-11)") > 0);
	i = find(&a, "-a");
	assert_string_equal(a.argv[i + 1], "0000:3b:00.0");
	cfg_free(cfg);
}

static const char mixed[] =
	"eal = { lcores = \"0-2\"; forwarder_cpus = \"0-1\"; };\n"
	"ports = (\n"
	"  { name = \"nic\"; pci = \"0000:AF:1f.7,rx_low_latency=1\"; ipv4 = \"10.0.0.2/24\"; },\n"
	"  { name = \"test\"; vdev = \"net_af_packet0,iface=veth0,qpairs=2\"; ipv4 = \"10.0.1.2/24\"; } );\n"
	"services = ( { name = \"w\"; vip = \"10.9.0.1\"; port = 80; protocol = \"tcp\";\n"
	"  backends = ( { ip = \"10.0.0.11\"; } ); } );\n";

/* A PCI port beside a vdev: -a for the one, --vdev for the other, and
 * the driver's arguments carried after the address; lcores floating on
 * eal.forwarder_cpus. */
static void
test_mixed(void **state)
{
	static struct cfg_eal_argv a;
	struct halb_cfg *cfg = load_text(mixed);
	int i;

	(void)state;
	assert_string_equal(cfg->ports[0].pci, "0000:af:1f.7");
	assert_string_equal(cfg->ports[0].pci_args, "rx_low_latency=1");
	assert_int_equal(cfg->ports[1].queues, 2);
	assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_PRIMARY, "fwd", NULL, &a), 0);
	check_device_rule(cfg, &a);
	i = find(&a, "-a");
	assert_string_equal(a.argv[i + 1], "0000:af:1f.7,rx_low_latency=1");
	assert_true(find(&a, "--vdev=net_af_packet0,iface=veth0,qpairs=2") > 0);
	/* eal.forwarder_cpus: every lcore on those CPUs, instead of -l. */
	assert_true(find(&a, "--lcores=(0-2)@(0-1)") > 0);
	assert_int_equal(find(&a, "-l"), -1);
	cfg_free(cfg);
}

/* Every shipped file follows the device rule. */
static void
test_shipped(void **state)
{
	static const char *const files[] = {
		"/conf/halb.conf", "/conf/samples/minimal.conf",
		"/conf/samples/udp-dns.conf", "/conf/samples/all-ports.conf",
		"/conf/samples/static-neighbours.conf",
		"/conf/samples/health-pair.conf",
		"/conf/samples/real-2port.conf",
	};
	static struct cfg_eal_argv a;
	char path[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct halb_cfg *cfg;

		snprintf(path, sizeof(path), "%s%s", HALB_SRCDIR, files[i]);
		cfg = load(path);
		assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_PRIMARY, "f", NULL, &a), 0);
		check_device_rule(cfg, &a);
		assert_int_equal(cfg_eal_argv(cfg, CFG_EAL_SECONDARY, "c", "0", &a), 0);
		check_device_rule(cfg, &a);
		cfg_free(cfg);
	}
}

static void
test_parse_pci(void **state)
{
	static const struct {
		const char *in, *addr, *args;
	} good[] = {
		{ "0000:3b:00.0", "0000:3b:00.0", "" },
		{ "ABCD:EF:1F.7", "abcd:ef:1f.7", "" },
		{ "0000:00:03.0,a=b,c=d", "0000:00:03.0", "a=b,c=d" },
	};
	static const char *const bad[] = {
		"", "3b:00.0", "0000:3b:00", "0000:3b:00.", "0000:3b:00.00",
		"00000:3b:00.0", "0000-3b-00.0", "0000:3b:20.0", "0000:3b:00.8",
		"0000:3b:0g.0", " 0000:3b:00.0", "0000:3b:00.0 ",
	};
	char addr[CFG_PCI_LEN], why[160];
	const char *args;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(cfg_parse_pci(good[i].in, addr, &args, why,
					       sizeof(why)), 0);
		assert_string_equal(addr, good[i].addr);
		assert_string_equal(args, good[i].args);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(cfg_parse_pci(bad[i], addr, &args, why,
					       sizeof(why)), -EINVAL);
		assert_true(why[0] != '\0');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vdev_only),
		cmocka_unit_test(test_kernel_tap),
		cmocka_unit_test(test_pci_ports),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_parse_pci),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
