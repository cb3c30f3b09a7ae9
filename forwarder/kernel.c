/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The exception path's set-up (docs/PACKETS.md, "Traffic for the
 * appliance's own addresses"): for each port with ports[].kernel, the tap
 * device that the EAL created from cfg_eal_argv (CFG_KERNEL_VDEV<port>,
 * iface=NAME) is started with one queue pair per worker, given the
 * port's MAC address and MTU, and its kernel interface the port's own
 * addresses and prefixes.  The kernel then owns those addresses for
 * everything the forwarder does not answer itself (BGP, BFD, SSH, ...),
 * as DPVS's KNI and VPP's linux-cp interfaces do: the workers hand it
 * what arrives for them (worker.c) and send what it sends out of the
 * port.
 *
 * With the port's own MAC, the kernel's frames leave the port as the
 * port's, and frames for the port's MAC are the kernel's as they are:
 * nothing is rewritten either way.  The forwarder keeps answering ARP
 * and ND for the port's addresses (one voice on the link); the kernel
 * gets copies of the replies and advertisements, so that it resolves
 * its own next hops.
 *
 * Runs on the main lcore at start-up only (main.c); failures are
 * returned and end the start, except the addresses, which an operator
 * may have set already (logged).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "fwd.h"

/* Linux's struct in6_ifreq (linux/ipv6.h, which clashes with glibc's
 * netinet/in.h): SIOCSIFADDR on an AF_INET6 socket adds an address. */
struct kernel_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

/* The port's IPv4 address and prefix on the interface. */
static int
addr4_set(const char *ifname, const struct cfg_port *cp)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct ifreq ifr;
	uint32_t mask;
	int s, rc = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	memcpy(&sin.sin_addr, cp->ip4.b + 12, 4);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	if (ioctl(s, SIOCSIFADDR, &ifr) != 0)
		rc = -errno;
	mask = cp->plen4 == 0 ? 0 : htonl(~0u << (32 - cp->plen4));
	memcpy(&sin.sin_addr, &mask, 4);
	memcpy(&ifr.ifr_netmask, &sin, sizeof(sin));
	if (rc == 0 && ioctl(s, SIOCSIFNETMASK, &ifr) != 0)
		rc = -errno;
	close(s);
	return rc;
}

/* The port's IPv6 address and prefix on the interface (EEXIST: set
 * already, fine). */
static int
addr6_set(const char *ifname, const struct cfg_port *cp)
{
	struct kernel_in6_ifreq r;
	int s, rc = 0;

	memset(&r, 0, sizeof(r));
	memcpy(&r.addr, cp->ip6.b, 16);
	r.prefixlen = cp->plen6;
	r.ifindex = (int)if_nametoindex(ifname);
	if (r.ifindex == 0)
		return -errno;
	s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (ioctl(s, SIOCSIFADDR, &r) != 0 && errno != EEXIST)
		rc = -errno;
	close(s);
	return rc;
}

/*
 * No link-local address of its own on the interface (IPv6 addr_gen_mode
 * "none", set while it is still down): the forwarder answers neighbour
 * discovery for the port's configured addresses only, so a link-local
 * address the kernel made up would be unreachable, and a BGP speaker
 * would announce it as its IPv6 next hop (BIRD does, on direct
 * sessions).  Best effort: without /proc/sys the kernel keeps one.
 */
static void
no_link_local(const char *ifname)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/addr_gen_mode", ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) != 1)
		FWD_LOG(NOTICE, "kernel interface %s: cannot turn off its link-local address: %s",
			ifname, strerror(errno));
	close(fd);
}

int
fwd_kernel_start(struct fwd_port *p, uint32_t idx,
		 struct rte_mempool *const pools[], uint16_t nq)
{
	const struct cfg_port *cp = p->cfg;
	struct rte_eth_conf conf = { 0 };
	struct rte_ether_addr mac;
	char name[RTE_ETH_NAME_MAX_LEN], a[HALB_IP_STRLEN];
	uint16_t nrx = FWD_KERNEL_DESC, ntx = FWD_KERNEL_DESC, q, id;
	int rc;

	if (cp->kernel[0] == '\0')
		return 0;
	snprintf(name, sizeof(name), "%s%u", CFG_KERNEL_VDEV, idx);
	if (rte_eth_dev_get_port_by_name(name, &id) != 0) {
		FWD_LOG(ERR, "port %s: no device %s for kernel interface %s",
			cp->name, name, cp->kernel);
		return -ENODEV;
	}
	rc = rte_eth_dev_configure(id, nq, nq, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx);
	for (q = 0; rc == 0 && q < nq; q++) {
		rc = rte_eth_rx_queue_setup(id, q, nrx, (unsigned int)pools[q]->socket_id,
					    NULL, pools[q]);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(id, q, ntx,
						    (unsigned int)pools[q]->socket_id, NULL);
	}
	/* The port's MAC: the kernel's frames leave as the port's, and
	 * frames to the port's MAC are the kernel's unchanged. */
	memcpy(mac.addr_bytes, p->mac, 6);
	if (rc == 0)
		rc = rte_eth_dev_default_mac_addr_set(id, &mac);
	if (rc == 0 && rte_eth_dev_set_mtu(id, cp->mtu) != 0)
		FWD_LOG(NOTICE, "port %s: kernel interface %s keeps its MTU (not %u)",
			cp->name, cp->kernel, cp->mtu);
	if (rc == 0) {
		no_link_local(cp->kernel);
		rc = rte_eth_dev_start(id);
	}
	if (rc != 0) {
		FWD_LOG(ERR, "port %s: cannot start kernel interface %s (%s): %s",
			cp->name, cp->kernel, name, rte_strerror(-rc));
		return rc;
	}
	p->kernel_id = id;
	p->has_kernel = true;
	if (cp->has_ip4) {
		rc = addr4_set(cp->kernel, cp);
		if (rc != 0)
			FWD_LOG(WARNING, "port %s: kernel interface %s: cannot set %s/%u: %s",
				cp->name, cp->kernel, halb_ip_fmt(&cp->ip4, a, sizeof(a)),
				cp->plen4, strerror(-rc));
	}
	if (cp->has_ip6) {
		rc = addr6_set(cp->kernel, cp);
		if (rc != 0)
			FWD_LOG(WARNING, "port %s: kernel interface %s: cannot set %s/%u: %s (IPv6 disabled on it?)",
				cp->name, cp->kernel, halb_ip_fmt(&cp->ip6, a, sizeof(a)),
				cp->plen6, strerror(-rc));
	}
	FWD_LOG(INFO, "port %s: kernel interface %s (%s) up, " RTE_ETHER_ADDR_PRT_FMT ", at most %u frames/s per worker to it",
		cp->name, cp->kernel, name, RTE_ETHER_ADDR_BYTES(&mac),
		cp->kernel_rate);
	return 0;
}
