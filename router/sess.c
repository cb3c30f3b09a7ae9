/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request router's side of the session tracker (rtr.h;
 * docs/REQUESTS.md, "Several appliances"; docs/SESSIONS.md).
 *
 * The router is the only writer of shm->l7_flows, so it is the producer
 * of that table's session events, on a ring of its own
 * (shm->sess_ring_l7: one producer per ring), as the classifier is of
 * its tables' on shm->sess_ring: an install (bind.c, a binding or an
 * adoption), a state the workers moved (seen by the expiry scan), a
 * removal (expired, or replaced by a new connection on the tuple), each
 * with SESS_EV_F_SPLICED and the entry's sequence delta (its tag).
 * halb-sessiond asks for every bound flow at its start and after an
 * overflow of this ring (shm->l7_dump_req, a counter it adds to): the
 * router walks l7_flows a share at a time, only as fast as the ring has
 * room, so that no event of a dump is dropped, and clears the request
 * once the last one is in the ring, unless a new one came meanwhile
 * (then it starts over).  Nothing here waits or makes a system call.
 */
#include <rte_ring.h>

#include "rtr.h"

void
rtr_sess_init(struct rtr *r)
{
	sess_evq_init_l7(&r->sq, r->shm->sess_ring_l7, &r->shm->l7);
	r->dumping = false;
}

/* One share of a dump: up to RTR_DUMP_BUCKETS buckets from the cursor,
 * bucket by bucket while the ring has room for a whole bucket's events
 * besides what is buffered. */
static void
dump_share(struct rtr *r, uint32_t req)
{
	const struct flow_table *t = r->fw.t;
	uint32_t n, i;

	if (!r->dumping || req != r->dump_req) {
		r->dumping = true;
		r->dump_req = req;
		r->dump_b = 0;
		RTR_LOG(INFO, "halb-sessiond asked for every bound flow: dumping");
	}
	for (n = 0; n < RTR_DUMP_BUCKETS && r->dump_b < t->n_buckets; n++) {
		const struct flow_bucket *bk = &t->buckets[r->dump_b];

		if (rte_ring_free_count(r->sq.ring) < r->sq.n + FLOW_BUCKET_SLOTS)
			return; /* wait for halb-sessiond to take some */
		for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
			uint64_t s = bk->slot[i];

			if (s == 0)
				continue;
			sess_evq_add(&r->sq, 0, &t->entries[flow_slot_idx(s)],
				     SESS_EV_DUMP, r->now_ms);
			r->shm->l7.sess_dumped++;
		}
		r->dump_b++;
	}
	if (r->dump_b < t->n_buckets)
		return;
	sess_evq_flush(&r->sq);
	r->dumping = false;
	r->shm->l7.sess_dumps++;
	if (__atomic_compare_exchange_n(&r->shm->l7_dump_req, &req, 0, false,
					__ATOMIC_RELEASE, __ATOMIC_RELAXED))
		RTR_LOG(INFO, "dump done");
}

void
rtr_sess_turn(struct rtr *r)
{
	uint32_t req;

	if (r->sq.ring == NULL)
		return;
	req = __atomic_load_n(&r->shm->l7_dump_req, __ATOMIC_ACQUIRE);
	if (req != 0)
		dump_share(r, req);
	else
		r->dumping = false;
	sess_evq_flush(&r->sq);
}
