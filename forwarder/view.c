/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workers' view of the services (struct fwd_view in fwd.h), built
 * from a slotted configuration (halb/cfg_reload.h) at start-up
 * (setup.c) and at each reload (reload.c), then never written: a reload
 * builds a new one beside it.
 *
 * Per slot: a live or retired backend gets its rewrite data and its
 * next hop pinned in the neighbour cache (a retired backend keeps
 * forwarding the flows that still name it, with the data it had); a
 * free slot gets neigh -1, which forward() refuses.  A next hop that
 * traffic made a dynamic entry before a reload is pinned (neigh_pin).
 * Pinned next hops of backends that a reload removed stay pinned (the
 * cache never unpins).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "halb/cfg.h"
#include "halb/cfg_reload.h"
#include "fwd.h"

int
fwd_static_neigh(struct fwd_ctx *c, const struct halb_cfg *cfg, uint32_t i,
		 char *why, size_t why_len)
{
	char ip[HALB_IP_STRLEN], buf[160];
	/* The configuration check made every static neighbour on-link. */
	int port = cfg_route(cfg, &cfg->neigh[i].ip, NULL);
	int n = port < 0 ? -ENETUNREACH :
			   neigh_claim(c->neigh, &cfg->neigh[i].ip, (uint16_t)port,
				       true, 0);

	if (n >= 0 && neigh_pin(c->neigh, n) != 0)
		n = -EAGAIN;

	if (n < 0) {
		if (why == NULL) {
			why = buf;
			why_len = sizeof(buf);
		}
		snprintf(why, why_len, "static neighbour %s: %s",
			 halb_ip_fmt(&cfg->neigh[i].ip, ip, sizeof(ip)),
			 strerror(-n));
		FWD_LOG(ERR, "%s", why);
		return n;
	}
	neigh_set_static(c->neigh, n, cfg->neigh[i].mac);
	return n;
}

static int
backend_setup(struct fwd_ctx *c, const struct fwd_service *sv,
	      const struct halb_cfg *cfg, const struct cfg_service *cs,
	      struct fwd_backend *be, const struct cfg_backend *cb, char *why,
	      size_t why_len)
{
	struct halb_ip nh;
	int port;
	char ip[HALB_IP_STRLEN];

	if (cb->slot == CFG_SLOT_FREE) {
		be->neigh = -1;
		return 0;
	}
	be->ip = cb->ip;
	be->port = cb->port;
	if (cb->slot == CFG_SLOT_LIVE && cs->slot == CFG_SLOT_LIVE)
		be->tag = halb_slot_tag(halb_slot_id(cs->name, cb->ip.b,
						     cfg_backend_port(cs, cb)));
	port = cfg_route(cfg, &cb->ip, &nh);
	if (port < 0) {
		snprintf(why, why_len, "service %s: backend %s unreachable",
			 cs->name, halb_ip_fmt(&cb->ip, ip, sizeof(ip)));
		return -ENETUNREACH;
	}
	be->out = (uint16_t)port;
	be->neigh = neigh_claim(c->neigh, &nh, (uint16_t)port, true, 0);
	/* At a reload the next hop may be a dynamic entry already (a
	 * client on the link): pinned now, or it would age and its slot
	 * be reused under the backend. */
	if (be->neigh >= 0 && neigh_pin(c->neigh, be->neigh) != 0)
		be->neigh = -EAGAIN;
	if (be->neigh < 0) {
		snprintf(why, why_len, "service %s: backend %s: %s", cs->name,
			 halb_ip_fmt(&cb->ip, ip, sizeof(ip)),
			 be->neigh == -EAGAIN ?
				 "its next hop is being claimed or retired: try again" :
				 "no room for its next hop in the neighbour cache");
		return be->neigh == -EAGAIN ? -EAGAIN : -ENOSPC;
	}
	if (sv->ops->setup != NULL)
		sv->ops->setup(c, cs, cb, (uint16_t)port, be);
	return 0;
}

static bool
view_local(const struct fwd_view *v, const struct halb_ip *ip)
{
	uint32_t i;

	for (i = 0; i < v->n_local; i++)
		if (halb_ip_eq(&v->local[i], ip))
			return true;
	return false;
}

int
fwd_view_build(struct fwd_ctx *c, const struct halb_cfg *cfg, uint64_t gen,
	       struct fwd_view **out, char *why, size_t why_len)
{
	char buf[160];
	struct fwd_view *v;
	uint32_t s, b, i;
	int rc;

	if (why == NULL) {
		why = buf;
		why_len = sizeof(buf);
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->gen = gen;
	v->n_services = cfg->n_services;
	rc = svc_map_build(&v->svcs, cfg);
	if (rc != 0) {
		snprintf(why, why_len, "no memory for the service lookup tables");
		goto fail;
	}
	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].has_ip4)
			v->local[v->n_local++] = cfg->ports[i].ip4;
		if (cfg->ports[i].has_ip6)
			v->local[v->n_local++] = cfg->ports[i].ip6;
	}
	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct fwd_service *sv = &v->svc[s];

		sv->mode = cs->mode;
		sv->ops = fwd_mode(cs->mode);
		if (cs->slot == CFG_SLOT_FREE) {
			/* No lookup entry and no flows: nothing to forward.
			 * Still a mode, so that no pointer is NULL. */
			sv->ops = fwd_mode(0);
			continue;
		}
		if (sv->ops == NULL) {
			snprintf(why, why_len, "service %s: unknown mode", cs->name);
			rc = -EINVAL;
			goto fail;
		}
		sv->vip = cs->vip;
		sv->vport = cs->port;
		sv->down_keep = cs->down_flows == CFG_DOWN_KEEP;
		/* Request routing (docs/REQUESTS.md): what the cookie
		 * SYN-ACK offers; its window lets the client send no more
		 * than the router reads before binding. */
		sv->l7 = cs->l7.has && c->shm->has_l7;
		sv->l7_mss = cs->l7.mss;
		sv->l7_wscale = cs->l7.wscale;
		sv->l7_win = (uint16_t)RTE_MIN(cs->l7.max_request, 65535u);
		if (sv->l7) {
			struct fwd_l7_vip *l = &v->l7[v->n_l7++];

			l->vip = cs->vip;
			l->port = htons(cs->port);
			v->l7_filter |= cs->port != 0 ? fwd_l7_bit(l->vip.b, l->port) :
							~0ull;
		}
		sv->n_backends = cs->n_backends;
		if (cs->n_backends > 0) {
			sv->be = rte_zmalloc("halb_backends",
					     sizeof(*sv->be) * cs->n_backends, 64);
			if (sv->be == NULL) {
				snprintf(why, why_len, "no memory for service %s",
					 cs->name);
				rc = -ENOMEM;
				goto fail;
			}
		}
		for (b = 0; b < cs->n_backends; b++) {
			rc = backend_setup(c, sv, cfg, cs, &sv->be[b],
					   &cs->backends[b], why, why_len);
			if (rc != 0)
				goto fail;
		}
		/* A retired service's VIP too: its kept flows come to it. */
		if (!view_local(v, &cs->vip))
			v->local[v->n_local++] = cs->vip;
	}
	*out = v;
	return 0;
fail:
	FWD_LOG(ERR, "%s", why);
	fwd_view_free(v);
	return rc;
}

void
fwd_view_free(struct fwd_view *v)
{
	uint32_t s;

	if (v == NULL)
		return;
	for (s = 0; s < CFG_MAX_SERVICES; s++)
		rte_free(v->svc[s].be);
	svc_map_free(&v->svcs);
	free(v);
}
