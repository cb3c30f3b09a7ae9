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
 * this version, and run from the same configuration as cfg in all that
 * a reload does not change (cfg_digest_static: services may differ; the
 * classifier takes them from the view).  Returns 0
 * with *out set, -ENOENT (no forwarder with this file prefix), -EAGAIN
 * (not ready yet, or of another version) or -EINVAL (another
 * configuration).
 */
int halb_shm_attach(const struct halb_cfg *cfg, struct halb_shm **out);

/*
 * Starts the EAL of a secondary process (the classifier, halb-sessiond)
 * from cfg: cfg_eal_argv()'s CFG_EAL_SECONDARY line, on
 * eal.classifier_cpus or, when unset, any CPU this process is allowed
 * (its lcore id is the classifier's: distinct from the forwarder's,
 * since mempool caches are per lcore id; sessiond takes nothing from a
 * mempool, so sharing it is harmless), with the forwarder's PCI
 * allow-list (or --no-pci).  rte_eal_init()'s answer: < 0 with
 * rte_errno set (ENOSPC: the line does not fit).
 */
int halb_eal_start_secondary(const char *prog, const struct halb_cfg *cfg);

/* Allocates service slot s's Maglev tables if it has none (both
 * buffers, mh_table_size of the most backends a slot holds).  0 or
 * -ENOMEM. */
int halb_shm_mh_alloc(struct halb_shm *shm, uint32_t s);

/* Writes the services of cfg, generation gen, into the view buffer that
 * is not current and publishes it (halb_view_shm's sequence lock). */
void halb_shm_view_publish(struct halb_shm *shm, const struct halb_cfg *cfg,
			   uint64_t gen);

/*
 * Copies the current view's services into cfg (n_services, services)
 * and returns its generation, retrying while the forwarder rewrites the
 * buffer under the copy (a bounded number of times); 0 when there is no
 * view or the copy never came out whole (cfg's services then undefined).
 */
uint64_t halb_shm_view_copy(const struct halb_shm *shm, struct halb_cfg *cfg);

#endif
