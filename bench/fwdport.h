/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one port of the harnesses that run the forwarder's own code with
 * no devices (halb-bench-fastpath, halb-bench-bind).
 */
#ifndef HALB_BENCH_FWDPORT_H
#define HALB_BENCH_FWDPORT_H

#include <stdint.h>

struct rte_mempool;

/*
 * Starts virtual device dev (net_null0, net_ring0: on the EAL command
 * line) with one queue pair of desc descriptors, and makes it the
 * forwarder's port 0 (fwd.ports[0]) with the MAC address its
 * configuration's vdev sets ("mac=...").  0, or a negative errno.
 */
int bench_fwd_port(struct rte_mempool *pool, const char *dev, uint16_t desc);

#endif
