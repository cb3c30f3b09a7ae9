/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Creating and attaching the shared memory of include/halb/shm-t.h.
 * Only the DPDK primary (halb-forwarder) creates it; secondaries attach.
 */
#ifndef HALB_SHM_H
#define HALB_SHM_H

#include "halb/cfg-t.h"
#include "halb/shm-t.h"

struct rte_mempool;

/*
 * Reserves the memzone and creates, for cfg's workers and services, the
 * rings, the flow tables, the QSBR variable and the Maglev tables (built
 * from the configured weights); publishes the magic last.  pool is
 * every packet buffer.  Returns the shared memory, or NULL with errno
 * set (ENOMEM, or what DPDK reported) and the object that failed in
 * what (a static string).
 */
struct halb_shm *halb_shm_create(const struct halb_cfg *cfg,
				 struct rte_mempool *pool, const char **what);

/*
 * Finds the forwarder's shared memory and checks that it is ready, of
 * this version, and built from the same configuration as cfg.  Returns 0
 * with *out set, -ENOENT (no forwarder with this file prefix), -EAGAIN
 * (not ready yet, or of another version) or -EINVAL (another
 * configuration).
 */
int halb_shm_attach(const struct halb_cfg *cfg, struct halb_shm **out);

#endif
