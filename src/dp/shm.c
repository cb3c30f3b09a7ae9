/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared memory's creation by the forwarder and its attachment by
 * the secondaries (include/halb/shm.h).  What lives there and who writes
 * what is include/halb/shm-t.h's contract.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "halb/cfg.h"
#include "halb/cfg_reload.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "halb/sess-t.h"
#include "halb/shm.h"
#include "halb/svc.h"

#define HALB_VIEW_COPY_TRIES 1000000u

int
halb_shm_mh_alloc(struct halb_shm *shm, uint32_t s)
{
	struct halb_mh_shm *mh = &shm->mh[s];

	if (mh->table[0] != NULL)
		return 0;
	/* One size for every slot, so that a reload that adds backends
	 * never resizes a table under a reader (MH_MIN_SIZE holds 655). */
	mh->size = mh_table_size(CFG_MAX_BACKENDS);
	mh->table[1] = rte_malloc("halb_mh", mh->size * sizeof(uint16_t), 64);
	mh->table[0] = rte_malloc("halb_mh", mh->size * sizeof(uint16_t), 64);
	if (mh->table[0] == NULL || mh->table[1] == NULL) {
		rte_free(mh->table[0]);
		rte_free(mh->table[1]);
		mh->table[0] = mh->table[1] = NULL;
		return -ENOMEM;
	}
	return 0;
}

void
halb_shm_view_publish(struct halb_shm *shm, const struct halb_cfg *cfg,
		      uint64_t gen)
{
	struct halb_view_shm *v = shm->view == shm->views[0] ? shm->views[1] :
							      shm->views[0];

	__atomic_store_n(&v->gen, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	v->n_services = cfg->n_services;
	memcpy(v->services, cfg->services,
	       sizeof(v->services[0]) * cfg->n_services);
	__atomic_store_n(&v->gen, gen, __ATOMIC_RELEASE);
	shm->n_services = cfg->n_services;
	__atomic_store_n(&shm->view, v, __ATOMIC_RELEASE);
	__atomic_store_n(&shm->view_gen, gen, __ATOMIC_RELEASE);
}

uint64_t
halb_shm_view_copy(const struct halb_shm *shm, struct halb_cfg *cfg)
{
	uint32_t tries;

	/* Bounded: a forwarder that died in the middle of a write leaves
	 * gen 0 for good (the caller tries again later, or sees it gone). */
	for (tries = 0; tries < HALB_VIEW_COPY_TRIES; tries++) {
		const struct halb_view_shm *v = __atomic_load_n(&shm->view,
								__ATOMIC_ACQUIRE);
		uint64_t gen;
		uint32_t n;

		if (v == NULL)
			return 0;
		gen = __atomic_load_n(&v->gen, __ATOMIC_ACQUIRE);
		if (gen == 0)
			continue; /* being written */
		n = v->n_services;
		if (n > CFG_MAX_SERVICES)
			continue;
		memcpy(cfg->services, v->services, sizeof(cfg->services[0]) * n);
		cfg->n_services = n;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&v->gen, __ATOMIC_RELAXED) == gen)
			return gen;
	}
	return 0;
}

static int
maglev_setup(struct halb_shm *shm, const struct halb_cfg *cfg)
{
	uint32_t w[CFG_MAX_BACKENDS];
	uint32_t s, b;

	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct halb_mh_shm *mh = &shm->mh[s];
		int rc;

		if (halb_shm_mh_alloc(shm, s) != 0)
			return -ENOMEM;
		for (b = 0; b < cs->n_backends; b++)
			w[b] = cs->backends[b].weight;
		rc = svc_maglev_build(cs, w, mh->table[0], mh->size);
		if (rc != 0)
			return rc;
		mh->cur = 0;
	}
	return 0;
}

/*
 * The session tracker's memory (sessions { }): the event rings (the
 * classifier's, the punt thread's), the replica table with its aux words
 * (a spliced session's sequence delta, flow-t.h) and its QSBR variable
 * (readers: the classifier, the workers, the punt thread).  *what names
 * what could not be made.
 */
static int
sessions_setup(struct halb_shm *shm, const struct halb_cfg *cfg,
	       const char **what)
{
	const struct cfg_sessions *ss = &cfg->sessions;
	size_t qsz;
	void *mem;

	if (!ss->has)
		return 0;
	*what = "session ring (sessions.ring_size)";
	shm->sess_ring = rte_ring_create_elem("halb_sess", sizeof(struct sess_ev),
					      ss->ring_size, rte_socket_id(),
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (shm->sess_ring == NULL)
		return rte_errno != 0 ? -rte_errno : -ENOMEM;
	*what = "punt thread's session ring (sessions.ring_size)";
	shm->sess_ring_fwd = rte_ring_create_elem("halb_sess_fwd",
						  sizeof(struct sess_ev),
						  ss->ring_size, rte_socket_id(),
						  RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (shm->sess_ring_fwd == NULL)
		return rte_errno != 0 ? -rte_errno : -ENOMEM;
	*what = "replica table (sessions.replica_entries)";
	mem = rte_malloc("halb_replica", flow_table_mem_size(ss->replica_entries),
			 64);
	if (mem == NULL)
		return -ENOMEM;
	flow_table_init(&shm->replica, mem, ss->replica_entries, 0);
	*what = "replica's sequence deltas (sessions.replica_entries)";
	shm->replica.aux = rte_zmalloc("halb_replica_aux",
				       (size_t)ss->replica_entries * sizeof(uint32_t),
				       RTE_CACHE_LINE_SIZE);
	if (shm->replica.aux == NULL)
		return -ENOMEM;
	/* Readers: the classifier (thread 0), each worker w (1 + w),
	 * whose fallback reads it too, and the punt thread (1 + n_workers)
	 * while it acts for a remote classifier. */
	*what = "replica QSBR variable";
	qsz = rte_rcu_qsbr_get_memsize(2 + cfg->n_workers);
	shm->replica_qsbr = rte_zmalloc("halb_replica_qsbr", qsz,
					RTE_CACHE_LINE_SIZE);
	if (shm->replica_qsbr == NULL ||
	    rte_rcu_qsbr_init(shm->replica_qsbr, 2 + cfg->n_workers) != 0)
		return -ENOMEM;
	shm->has_sessions = 1;
	return 0;
}

/* Request routing (docs/REQUESTS.md), when a service has requests { }:
 * each worker's rings to and from the router, the bound-flow table
 * (flows.entries), the cookies' secret, and with sessions { } the
 * router's session ring (sessions.ring_size). */
static int
l7_setup(struct halb_shm *shm, const struct halb_cfg *cfg, const char **what)
{
	uint32_t s, w;
	void *mem;

	for (s = 0; s < cfg->n_services; s++)
		if (cfg->services[s].l7.has)
			break;
	if (s == cfg->n_services)
		return 0;
	for (w = 0; w < cfg->n_workers; w++) {
		struct halb_worker_shm *ws = &shm->workers[w];
		char name[RTE_RING_NAMESIZE];

		*what = "request router rings";
		snprintf(name, sizeof(name), "halb_l7in%u", w);
		ws->l7_in = rte_ring_create(name, HALB_RING_SIZE, rte_socket_id(),
					    RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "halb_l7out%u", w);
		ws->l7_out = rte_ring_create(name, HALB_RING_SIZE, rte_socket_id(),
					     RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (ws->l7_in == NULL || ws->l7_out == NULL)
			return rte_errno != 0 ? -rte_errno : -ENOMEM;
	}
	*what = "bound-flow table (flows.entries)";
	mem = rte_malloc("halb_l7flows", flow_table_mem_size(cfg->flow_entries), 64);
	if (mem == NULL)
		return -ENOMEM;
	flow_table_init(&shm->l7_flows, mem, cfg->flow_entries, 0);
	if (shm->has_sessions) {
		*what = "request router's session ring (sessions.ring_size)";
		shm->sess_ring_l7 = rte_ring_create_elem("halb_sess_l7",
							 sizeof(struct sess_ev),
							 cfg->sessions.ring_size,
							 rte_socket_id(),
							 RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (shm->sess_ring_l7 == NULL)
			return rte_errno != 0 ? -rte_errno : -ENOMEM;
	}
	if (shm->has_sessions && cfg->sessions.n_peers > 0) {
		*what = "request router's relay rings";
		shm->l7_relay_out = rte_ring_create_elem("halb_l7_rly_out",
							 sizeof(struct halb_l7_relay),
							 HALB_L7_RELAY_RING,
							 rte_socket_id(),
							 RING_F_SP_ENQ | RING_F_SC_DEQ);
		shm->l7_relay_in = rte_ring_create_elem("halb_l7_rly_in",
							sizeof(struct halb_l7_relay),
							HALB_L7_RELAY_RING,
							rte_socket_id(),
							RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (shm->l7_relay_out == NULL || shm->l7_relay_in == NULL)
			return rte_errno != 0 ? -rte_errno : -ENOMEM;
	}
	*what = "SYN cookie secret (getrandom)";
	if (getrandom(shm->l7_key, sizeof(shm->l7_key), 0) != sizeof(shm->l7_key))
		return -EIO;
	shm->has_l7 = 1;
	return 0;
}

/* The NUMA node of worker w's lcore (the w-th worker lcore, as the
 * forwarder launches them), or SOCKET_ID_ANY when there is none. */
static int
worker_node(uint32_t w)
{
	unsigned int lcore;
	uint32_t i = 0;

	RTE_LCORE_FOREACH_WORKER(lcore)
		if (i++ == w)
			return (int)rte_lcore_to_socket_id(lcore);
	return SOCKET_ID_ANY;
}

struct halb_shm *
halb_shm_create(const struct halb_cfg *cfg, struct rte_mempool *pool,
		const char **what)
{
	const struct rte_memzone *mz;
	struct halb_shm *shm;
	size_t qsz;
	uint32_t w;
	int rc;

	*what = "memzone " HALB_SHM_NAME;
	mz = rte_memzone_reserve_aligned(HALB_SHM_NAME, sizeof(*shm),
					 rte_socket_id(), 0, 64);
	if (mz == NULL)
		goto fail;
	shm = mz->addr;
	memset(shm, 0, sizeof(*shm));
	shm->version = HALB_SHM_VERSION;
	shm->cfg_digest = cfg_digest_static(cfg);
	shm->tsc_hz = rte_get_tsc_hz();
	shm->tsc_base = rte_rdtsc();
	shm->n_workers = cfg->n_workers;
	shm->n_services = cfg->n_services;
	shm->fwd_pid = getpid();
	shm->pool = pool;
	*what = "QSBR variable";
	qsz = rte_rcu_qsbr_get_memsize(cfg->n_workers);
	shm->qsbr = rte_zmalloc("halb_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (shm->qsbr == NULL || rte_rcu_qsbr_init(shm->qsbr, cfg->n_workers) != 0)
		goto fail;
	for (w = 0; w < cfg->n_workers; w++) {
		struct halb_worker_shm *ws = &shm->workers[w];
		char name[RTE_RING_NAMESIZE];
		void *mem;

		*what = "punt or return ring";
		snprintf(name, sizeof(name), "halb_punt%u", w);
		ws->punt = rte_ring_create(name, HALB_RING_SIZE, rte_socket_id(),
					   RING_F_SP_ENQ);
		snprintf(name, sizeof(name), "halb_ret%u", w);
		ws->ret = rte_ring_create(name, HALB_RING_SIZE, rte_socket_id(),
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
		*what = "fallback marks";
		ws->fb_marks = rte_zmalloc("halb_fb_marks",
					   HALB_FB_MARKS * sizeof(*ws->fb_marks), 64);
		if (ws->punt == NULL || ws->ret == NULL || ws->fb_marks == NULL)
			goto fail;
		/* On the worker's node: the worker reads it every packet
		 * (the classifier writes it, less often). */
		*what = "flow table (flows.entries)";
		mem = rte_malloc_socket("halb_flows",
					flow_table_mem_size(cfg->flow_entries), 64,
					worker_node(w));
		if (mem == NULL) /* no hugepages on that node: anywhere */
			mem = rte_malloc("halb_flows",
					 flow_table_mem_size(cfg->flow_entries), 64);
		if (mem == NULL)
			goto fail;
		flow_table_init(&ws->flows, mem, cfg->flow_entries, w);
	}
	rc = sessions_setup(shm, cfg, what);
	if (rc == 0)
		rc = l7_setup(shm, cfg, what);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	*what = "Maglev tables";
	rc = maglev_setup(shm, cfg);
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	*what = "service view";
	shm->views[0] = rte_zmalloc("halb_view", sizeof(*shm->views[0]), 64);
	shm->views[1] = rte_zmalloc("halb_view", sizeof(*shm->views[1]), 64);
	if (shm->views[0] == NULL || shm->views[1] == NULL)
		goto fail;
	halb_shm_view_publish(shm, cfg, 1);
	/* Last: secondaries refuse to attach before this is set. */
	__atomic_store_n(&shm->magic, HALB_SHM_MAGIC, __ATOMIC_RELEASE);
	return shm;
fail:
	errno = rte_errno ? rte_errno : ENOMEM;
	return NULL;
}

int
halb_shm_attach(const struct halb_cfg *cfg, struct halb_shm **out)
{
	const struct rte_memzone *mz = rte_memzone_lookup(HALB_SHM_NAME);
	struct halb_shm *shm;

	if (mz == NULL)
		return -ENOENT;
	shm = mz->addr;
	if (__atomic_load_n(&shm->magic, __ATOMIC_ACQUIRE) != HALB_SHM_MAGIC ||
	    shm->version != HALB_SHM_VERSION)
		return -EAGAIN;
	if (shm->cfg_digest != cfg_digest_static(cfg))
		return -EINVAL;
	*out = shm;
	return 0;
}

int
halb_eal_start_secondary(const char *prog, const struct halb_cfg *cfg)
{
	static struct cfg_eal_argv a;
	char cpus[96] = "";
	cpu_set_t set;
	size_t off = 0;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (cpu = 0; cpu < CPU_SETSIZE && off + 8 < sizeof(cpus); cpu++)
			if (CPU_ISSET(cpu, &set))
				off += (size_t)snprintf(cpus + off, sizeof(cpus) - off,
							"%s%d", off ? "," : "", cpu);
	if (cfg_eal_argv(cfg, CFG_EAL_SECONDARY, prog, cpus, &a) != 0) {
		rte_errno = ENOSPC;
		return -1;
	}
	return rte_eal_init(a.argc, a.argv);
}
