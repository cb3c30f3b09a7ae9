/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The relay between appliances (rtr.h; docs/REQUESTS.md, "Relay between
 * appliances").
 *
 * With several appliances behind the upstream router's ECMP, a
 * backend's answer to a connection that appliance A is binding (its
 * SYN-ACK to the SYN that A's router replayed) is hashed by its own
 * 5-tuple and often reaches appliance B, which has no binding for it:
 * bindings in progress live in A's router alone.  So do the first data
 * segments of a connection A has just bound, before A's record of it
 * reaches B's replica.  B's router hands such a segment (no binding, no
 * flow) to its halb-sessiond (shm->l7_relay_out), which sends it sealed
 * to the peers (a Relay message, docs/SYNC-PROTOCOL.md); A's
 * halb-sessiond hands it to A's router (shm->l7_relay_in), which takes
 * it as its worker's HALB_L7_IN_BACKEND: the binding completes, or a
 * bound flow's segment goes to a worker to be translated to the client
 * (HALB_L7_OUT_REPLY), or it is dropped, counted, and never relayed
 * again (no loops: a relayed segment is never handed to l7_relay_out).
 */
#include <string.h>
#include <netinet/in.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "halb/pkt.h"
#include "rtr.h"

#define RTR_RELAY_BURST 16u
#define ETH_HLEN 14u

bool
rtr_relay_out(struct rtr *r, uint16_t s, const struct flow_key *k,
	      const uint8_t *frame, const struct pkt_info *pi)
{
	struct halb_l7_relay rl;

	if (r->shm->l7_relay_out == NULL)
		return false;
	if (pi->l3_len > HALB_L7_RELAY_MAX || pi->l3_len == 0) {
		r->shm->l7.relay_full++;
		return true;
	}
	rl.svc = s;
	rl.be = 0;
	rl.vport = k->dport;
	rl.len = pi->l3_len;
	memcpy(rl.frame, frame + pi->l3_off, pi->l3_len);
	if (rte_ring_sp_enqueue_elem(r->shm->l7_relay_out, &rl, sizeof(rl)) != 0) {
		r->shm->l7.relay_full++;
		return true;
	}
	r->shm->l7.relay_out++;
	return true;
}

/* A segment for a worker to translate to the client: a frame of its own
 * with an Ethernet header (addresses zero: the worker writes them). */
static void
relay_reply(struct rtr *r, uint16_t s, uint16_t be, const uint8_t *frame,
	    uint32_t len, const struct pkt_info *pi)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(r->shm->pool);
	uint32_t w = pkt_flow_hash(&pi->key) % r->shm->n_workers;

	if (m == NULL) {
		r->shm->l7.nombuf++;
		return;
	}
	if (rte_pktmbuf_tailroom(m) < len) {
		rte_pktmbuf_free(m);
		r->shm->l7.relay_stray++;
		return;
	}
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->hash.usr = HALB_L7_VERB(HALB_L7_OUT_REPLY, s, be);
	if (rte_ring_sp_enqueue(r->shm->workers[w].l7_out, m) != 0) {
		r->shm->l7.out_full++;
		rte_pktmbuf_free(m);
		return;
	}
	r->shm->l7.relay_replies++;
}

static void
relay_in(struct rtr *r, const struct halb_l7_relay *rl)
{
	uint8_t frame[ETH_HLEN + HALB_L7_RELAY_MAX];
	const struct cfg_service *cs;
	struct pkt_info pi;
	uint32_t len;

	r->shm->l7.relay_in++;
	if (rl->len < 20 || rl->len > HALB_L7_RELAY_MAX ||
	    rl->svc >= r->cfg->n_services) {
		r->shm->l7.relay_stray++;
		return;
	}
	cs = &r->cfg->services[rl->svc];
	memset(frame, 0, 12);
	frame[12] = (rl->frame[0] >> 4) == 6 ? 0x86 : 0x08;
	frame[13] = (rl->frame[0] >> 4) == 6 ? 0xdd : 0x00;
	memcpy(frame + ETH_HLEN, rl->frame, rl->len);
	len = ETH_HLEN + rl->len;
	if (!cs->l7.has || rl->be >= cs->n_backends ||
	    pkt_parse(frame, len, &pi) != PKT_OK || pi.kind != PKT_KIND_FLOW ||
	    pi.key.proto != IPPROTO_TCP || pi.frag != PKT_FRAG_NONE) {
		r->shm->l7.relay_stray++;
		return;
	}
	switch (rtr_relay_backend(r, rl->svc, rl->be, frame, &pi)) {
	case RTR_RELAY_BINDING:
		break;
	case RTR_RELAY_FLOW:
		relay_reply(r, rl->svc, rl->be, frame, len, &pi);
		break;
	default:
		r->shm->l7.relay_stray++;
	}
}

uint32_t
rtr_relay_poll(struct rtr *r)
{
	static struct halb_l7_relay in[RTR_RELAY_BURST];
	uint32_t n, i;

	if (r->shm->l7_relay_in == NULL)
		return 0;
	n = rte_ring_sc_dequeue_burst_elem(r->shm->l7_relay_in, in, sizeof(in[0]),
					   RTR_RELAY_BURST, NULL);
	for (i = 0; i < n; i++)
		relay_in(r, &in[i]);
	return n;
}
