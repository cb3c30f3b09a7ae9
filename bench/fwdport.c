/* SPDX-License-Identifier: BSD-3-Clause */
/* The harnesses' one port (fwdport.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "halb/cfg.h"
#include "fwd.h"
#include "frames.h"
#include "fwdport.h"

/* The port's MAC as the configuration's vdev sets it ("mac=..."). */
static int
port_mac(const struct cfg_port *cp, uint8_t mac[6])
{
	const char *p = strstr(cp->vdev, "mac=");
	char buf[18];

	if (p == NULL)
		return -ENOENT;
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(p + 4, ","), p + 4);
	return bench_parse_mac(buf, mac);
}

int
bench_fwd_port(struct rte_mempool *pool, const char *dev, uint16_t desc)
{
	struct rte_eth_conf conf = { 0 };
	uint16_t id;
	int rc;

	if (rte_eth_dev_get_port_by_name(dev, &id) != 0)
		return -ENODEV;
	rc = rte_eth_dev_configure(id, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(id, 0, desc, rte_socket_id(), NULL, pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(id, 0, desc, rte_socket_id(), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(id);
	if (rc != 0)
		return rc;
	fwd.ports[0].port_id = id;
	fwd.ports[0].cfg = &fwd.cfg->ports[0];
	if (port_mac(&fwd.cfg->ports[0], fwd.ports[0].mac) != 0)
		return -EINVAL;
	fwd.n_ports = 1;
	return 0;
}
