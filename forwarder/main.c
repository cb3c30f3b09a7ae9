/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-forwarder: the DPDK primary process.  Loads the configuration,
 * starts EAL on virtual devices only, creates the shared memory the
 * classifier attaches to (flow tables, rings, QSBR, Maglev tables),
 * resolves next hops, launches one worker per lcore and then serves
 * telemetry and the heartbeat from the main lcore until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memzone.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "halb/cfg.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "fwd.h"

RTE_LOG_REGISTER_DEFAULT(fwd_logtype, INFO);

struct fwd_ctx fwd;

#define POOL_CACHE 256
#define RX_DESC 1024
#define TX_DESC 1024

static void
on_signal(int sig)
{
	(void)sig;
	fwd.quit = true;
}

/* EAL arguments come from the configuration only: virtual devices,
 * never PCI, this appliance's own file prefix. */
static int
eal_start(const char *prog, const struct halb_cfg *cfg)
{
	char *argv[16 + CFG_MAX_PORTS + CFG_MAX_EAL_ARGS];
	char vdev[CFG_MAX_PORTS][CFG_ARG_LEN + 8];
	char prefix[80];
	int argc = 0;
	uint32_t i;

	argv[argc++] = (char *)(uintptr_t)prog;
	argv[argc++] = (char *)(uintptr_t)"-l";
	argv[argc++] = (char *)(uintptr_t)cfg->lcores;
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s", cfg->file_prefix);
	argv[argc++] = prefix;
	argv[argc++] = (char *)(uintptr_t)"--no-pci";
	argv[argc++] = (char *)(uintptr_t)"--proc-type=primary";
	/* Keep hugepage files while running so the classifier can map
	 * them; remove leftovers of a previous run first. */
	argv[argc++] = (char *)(uintptr_t)"--huge-unlink=existing";
	for (i = 0; i < cfg->n_ports; i++) {
		snprintf(vdev[i], sizeof(vdev[i]), "--vdev=%s", cfg->ports[i].vdev);
		argv[argc++] = vdev[i];
	}
	for (i = 0; i < cfg->n_eal_extra; i++)
		argv[argc++] = (char *)(uintptr_t)cfg->eal_extra[i];
	argv[argc] = NULL;
	return rte_eal_init(argc, argv);
}

static void
vdev_name(const char *vdev, char *name, size_t len)
{
	size_t n = strcspn(vdev, ",");

	if (n >= len)
		n = len - 1;
	memcpy(name, vdev, n);
	name[n] = '\0';
}

static int
port_start(struct fwd_port *p, const struct cfg_port *cp, struct rte_mempool *pool,
	   uint16_t nq)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint16_t nrx = RX_DESC, ntx = TX_DESC, q;
	char name[CFG_ARG_LEN];
	int rc;

	vdev_name(cp->vdev, name, sizeof(name));
	if (rte_eth_dev_get_port_by_name(name, &p->port_id) != 0) {
		FWD_LOG(ERR, "port %s: no device %s", cp->name, name);
		return -ENODEV;
	}
	p->cfg = cp;
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0)
		return rc;
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		FWD_LOG(ERR, "port %s: device %s has %u queue pairs, %u workers need %u (add qpairs=%u to its vdev)",
			cp->name, name, info.max_rx_queues, nq, nq, nq);
		return -EINVAL;
	}
	rc = rte_eth_dev_configure(p->port_id, nq, nq, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrx, &ntx);
	for (q = 0; rc == 0 && q < nq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, nrx,
					    rte_eth_dev_socket_id(p->port_id), NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->port_id, q, ntx,
						    rte_eth_dev_socket_id(p->port_id), NULL);
	}
	if (rc == 0)
		rc = rte_eth_dev_start(p->port_id);
	if (rc != 0) {
		FWD_LOG(ERR, "port %s: cannot start %s: %s", cp->name, name,
			rte_strerror(-rc));
		return rc;
	}
	/* Solicited-node multicast (IPv6 ND) must reach us. */
	rte_eth_allmulticast_enable(p->port_id);
	rte_eth_macaddr_get(p->port_id, &mac);
	memcpy(p->mac, mac.addr_bytes, 6);
	FWD_LOG(INFO, "port %s: %s up, " RTE_ETHER_ADDR_PRT_FMT ", %u queue pair(s)",
		cp->name, name, RTE_ETHER_ADDR_BYTES(&mac), nq);
	return 0;
}

static int
backend_setup(struct fwd_ctx *c, const struct cfg_service *cs,
	      struct fwd_backend *be, const struct cfg_backend *cb)
{
	struct halb_ip nh;
	int port;
	char ip[HALB_IP_STRLEN];

	be->ip = cb->ip;
	be->port = cb->port;
	port = cfg_route(c->cfg, &cb->ip, &nh);
	if (port < 0) {
		FWD_LOG(ERR, "service %s: backend %s unreachable", cs->name,
			halb_ip_fmt(&cb->ip, ip, sizeof(ip)));
		return -ENETUNREACH;
	}
	be->out = (uint16_t)port;
	be->neigh = neigh_claim(c->neigh, &nh, (uint16_t)port, true, 0);
	if (be->neigh < 0)
		return -ENOSPC;
	if (cs->mode == CFG_MODE_TUNNEL) {
		const struct cfg_port *cp = &c->cfg->ports[port];

		memcpy(be->vx.src_mac, c->ports[port].mac, 6);
		be->vx.src = halb_ip_is_v4(&cb->ip) ? cp->ip4 : cp->ip6;
		be->vx.dst = cb->ip;
		be->vx.dst_port = cs->tunnel_port;
		be->vx.vni = cs->vni;
		memcpy(be->vx.inner_dst_mac, cb->tunnel_mac, 6);
	}
	return 0;
}

/* Builds the process-local service view, the neighbour cache and the
 * addresses the forwarder answers for. */
static int
services_setup(struct fwd_ctx *c)
{
	const struct halb_cfg *cfg = c->cfg;
	uint32_t s, b, i;
	int rc, n;

	rc = svc_map_build(&c->svcs, cfg);
	if (rc != 0)
		return rc;
	c->neigh = rte_zmalloc("halb_neigh", sizeof(*c->neigh), 64);
	if (c->neigh == NULL)
		return -ENOMEM;
	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].has_ip4)
			c->local[c->n_local++] = cfg->ports[i].ip4;
		if (cfg->ports[i].has_ip6)
			c->local[c->n_local++] = cfg->ports[i].ip6;
	}
	/* Gateways are resolved before anything needs them (NAT replies).
	 * They, the static neighbours and the backends' next hops are
	 * pinned, claimed before any dynamic entry can exist: they resolve
	 * whatever the fill of the cache. */
	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].has_gw4 &&
		    neigh_claim(c->neigh, &cfg->ports[i].gw4, (uint16_t)i, true, 0) < 0)
			return -ENOSPC;
		if (cfg->ports[i].has_gw6 &&
		    neigh_claim(c->neigh, &cfg->ports[i].gw6, (uint16_t)i, true, 0) < 0)
			return -ENOSPC;
	}
	for (i = 0; i < cfg->n_neigh; i++) {
		struct halb_ip nh;
		int port = cfg_route(cfg, &cfg->neigh[i].ip, &nh);

		n = neigh_claim(c->neigh, &cfg->neigh[i].ip,
				(uint16_t)(port < 0 ? 0 : port), true, 0);
		if (n >= 0)
			neigh_set_static(c->neigh, n, cfg->neigh[i].mac);
	}
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct fwd_service *sv = &c->svc[s];

		sv->mode = cs->mode;
		sv->vip = cs->vip;
		sv->vport = cs->port;
		sv->n_backends = cs->n_backends;
		sv->be = rte_zmalloc("halb_backends",
				     sizeof(*sv->be) * cs->n_backends, 64);
		if (sv->be == NULL)
			return -ENOMEM;
		for (b = 0; b < cs->n_backends; b++) {
			rc = backend_setup(c, cs, &sv->be[b], &cs->backends[b]);
			if (rc != 0)
				return rc;
		}
		if (!fwd_is_local(c, &cs->vip))
			c->local[c->n_local++] = cs->vip;
	}
	return 0;
}

/* Maglev tables for every service, from the configured weights. */
static int
maglev_setup(struct halb_shm *shm, const struct halb_cfg *cfg)
{
	struct mh_backend mb[CFG_MAX_BACKENDS];
	uint32_t s, b;
	int rc;

	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct halb_mh_shm *mh = &shm->mh[s];

		mh->size = mh_table_size(cs->n_backends);
		mh->table[0] = rte_malloc("halb_mh", mh->size * sizeof(uint16_t), 64);
		mh->table[1] = rte_malloc("halb_mh", mh->size * sizeof(uint16_t), 64);
		if (mh->table[0] == NULL || mh->table[1] == NULL)
			return -ENOMEM;
		for (b = 0; b < cs->n_backends; b++) {
			mb[b].id = mh_backend_id(cs->backends[b].ip.b,
						 cs->backends[b].port);
			mb[b].weight = cs->backends[b].weight;
		}
		rc = mh_build(mh->table[0], mh->size, mb, cs->n_backends);
		if (rc != 0)
			return rc;
		mh->cur = 0;
	}
	return 0;
}

static struct halb_shm *
shm_create(const struct halb_cfg *cfg, struct rte_mempool *pool)
{
	const struct rte_memzone *mz;
	struct halb_shm *shm;
	size_t qsz;
	uint32_t w;

	mz = rte_memzone_reserve_aligned(HALB_SHM_NAME, sizeof(*shm),
					 rte_socket_id(), 0, 64);
	if (mz == NULL)
		return NULL;
	shm = mz->addr;
	memset(shm, 0, sizeof(*shm));
	shm->version = HALB_SHM_VERSION;
	shm->cfg_digest = cfg_digest(cfg);
	shm->tsc_hz = rte_get_tsc_hz();
	shm->tsc_base = rte_rdtsc();
	shm->n_workers = cfg->n_workers;
	shm->n_services = cfg->n_services;
	shm->fwd_pid = getpid();
	shm->pool = pool;
	qsz = rte_rcu_qsbr_get_memsize(cfg->n_workers);
	shm->qsbr = rte_zmalloc("halb_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (shm->qsbr == NULL || rte_rcu_qsbr_init(shm->qsbr, cfg->n_workers) != 0)
		return NULL;
	for (w = 0; w < cfg->n_workers; w++) {
		struct halb_worker_shm *ws = &shm->workers[w];
		char name[RTE_RING_NAMESIZE];
		void *mem;

		snprintf(name, sizeof(name), "halb_punt%u", w);
		ws->punt = rte_ring_create(name, HALB_RING_SIZE, rte_socket_id(),
					   RING_F_SP_ENQ);
		snprintf(name, sizeof(name), "halb_ret%u", w);
		ws->ret = rte_ring_create(name, HALB_RING_SIZE, rte_socket_id(),
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
		mem = rte_malloc("halb_flows", flow_table_mem_size(cfg->flow_entries),
				 64);
		if (ws->punt == NULL || ws->ret == NULL || mem == NULL) {
			FWD_LOG(ERR, "worker %u: cannot allocate rings or a flow table of %u entries (%zu bytes)",
				w, cfg->flow_entries,
				flow_table_mem_size(cfg->flow_entries));
			return NULL;
		}
		flow_table_init(&ws->flows, mem, cfg->flow_entries, w);
	}
	if (maglev_setup(shm, cfg) != 0)
		return NULL;
	/* Last: the classifier refuses to attach before this is set. */
	__atomic_store_n(&shm->magic, HALB_SHM_MAGIC, __ATOMIC_RELEASE);
	return shm;
}

static void
remove_hugepage_files(const char *prefix)
{
	char pattern[128];
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), "/dev/hugepages/%smap_*", prefix);
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++)
		unlink(g.gl_pathv[i]);
	globfree(&g);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct rte_mempool *pool;
	uint32_t n_mbufs, p, w;
	unsigned int lcore;
	int opt, rc = 1;

	opt = cfg_cli(argc, argv, "run the forwarder", &path);
	if (opt >= 0)
		return opt;
	fwd.cfg = cfg_load(path, stderr);
	if (fwd.cfg == NULL)
		return 1;
	if (eal_start(argv[0], fwd.cfg) < 0) {
		fprintf(stderr, "%s: EAL initialisation failed: %s\n", path,
			rte_strerror(rte_errno));
		return 1;
	}
	if (rte_lcore_count() != fwd.cfg->n_workers + 1)
		rte_exit(EXIT_FAILURE, "eal.lcores gives %u lcores, expected %u\n",
			 rte_lcore_count(), fwd.cfg->n_workers + 1);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	n_mbufs = fwd.cfg->n_ports * fwd.cfg->n_workers * (RX_DESC + TX_DESC + 2 * FWD_TX_MAX) +
		  fwd.cfg->n_workers * 2 * HALB_RING_SIZE +
		  (fwd.cfg->n_workers + 2) * POOL_CACHE * 2 + 4096;
	pool = rte_pktmbuf_pool_create("halb_mbufs", n_mbufs, POOL_CACHE, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (pool == NULL)
		rte_exit(EXIT_FAILURE, "cannot create a pool of %u mbufs: %s\n",
			 n_mbufs, rte_strerror(rte_errno));
	fwd.shm = shm_create(fwd.cfg, pool);
	if (fwd.shm == NULL)
		rte_exit(EXIT_FAILURE, "cannot create shared memory: %s\n",
			 rte_strerror(rte_errno));
	fwd.cls_timeout_tsc = fwd.shm->tsc_hz / 1000 * fwd.cfg->classifier_timeout_ms;
	for (p = 0; p < fwd.cfg->n_ports; p++) {
		if (port_start(&fwd.ports[p], &fwd.cfg->ports[p], pool,
			       (uint16_t)fwd.cfg->n_workers) != 0)
			rte_exit(EXIT_FAILURE, "port %s failed\n", fwd.cfg->ports[p].name);
		fwd.n_ports++;
	}
	if (services_setup(&fwd) != 0)
		rte_exit(EXIT_FAILURE, "cannot set up services\n");
	if (fwd_telemetry_init(&fwd) != 0)
		FWD_LOG(WARNING, "telemetry commands not registered");

	w = 0;
	RTE_LCORE_FOREACH_WORKER(lcore)
		rte_eal_remote_launch(fwd_worker_main, (void *)(uintptr_t)w++, lcore);
	FWD_LOG(INFO, "%s: %u worker(s), %u service(s), %u flows per worker",
		path, fwd.cfg->n_workers, fwd.cfg->n_services, fwd.cfg->flow_entries);
	printf("halb-forwarder: ready\n");
	fflush(stdout);

	while (!fwd.quit) {
		fwd.shm->fwd_alive = rte_rdtsc();
		usleep(10000);
	}
	FWD_LOG(INFO, "stopping");
	rte_eal_mp_wait_lcore();
	for (p = 0; p < fwd.n_ports; p++) {
		rte_eth_dev_stop(fwd.ports[p].port_id);
		rte_eth_dev_close(fwd.ports[p].port_id);
	}
	rc = 0;
	rte_eal_cleanup();
	remove_hugepage_files(fwd.cfg->file_prefix);
	cfg_free(fwd.cfg);
	return rc;
}
