/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request router's work (rtr.h): bindings from the client's first
 * segment to the flow's installation.
 *
 *   client                forwarder (worker)            router           backend
 *   SYN        ------->   SYN-ACK(cookie)  <-- no state
 *   ACK, data  ------->   cookie valid: l7_in --------> binding: buffer,
 *                                                       l7_parse, l7_match,
 *                                                       pick in the pool
 *                         l7_out <--------------------- SYN (client's ISN,
 *                                                       its MSS/ws/SACK) --->
 *                         l7_in  <-- SYN-ACK (no flow) <------------------
 *                                                       install flow, delta
 *                                                       = backend ISN - cookie
 *                         l7_out <--------------------- request (its ACK
 *                                                       completes the
 *                                                       handshake) ------>
 *   later segments: the worker's fast path, translated (splice.c).
 *
 * The router never acknowledges the client's data itself: the client
 * retransmits what is lost while binding, and the backend's
 * acknowledgements reach it translated.  A binding ends bound, or with
 * a defined outcome, each counted (shm->l7): the client reset it, it
 * timed out (bind_timeout_ms: a client that sends no request, a backend
 * that does not answer), the request was too big or not one, nothing
 * matched (reset or a minimal answer), no backend was up, the backend
 * refused (RST) or its window scale was not the one the cookie promised.
 * Each but the client's own reset is answered with a RST to the client.
 *
 * The router also counts the flows it installs per backend
 * (shm->l7_active, its wlc's active[]): count_flow() below.
 *
 * Several appliances (docs/REQUESTS.md): a connection that a peer bound
 * and that ECMP moves here (the peer died, or the router rehashed) comes
 * with no flow and no cookie of ours; the worker finds the peer's
 * spliced record in the replica and hands the segment here
 * (HALB_L7_IN_ADOPT, the record's backend and delta), and adopt_seg()
 * installs the flow as the peer had it and hands the segment back to be
 * forwarded (HALB_L7_OUT_AGAIN).  Every install, state move and removal
 * of l7_flows is reported to halb-sessiond (sess.c's ring).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "halb/cfg.h"
#include "halb/l7req.h"
#include "halb/mh.h"
#include "halb/pkt.h"
#include "halb/shm.h"
#include "halb/splice.h"
#include "halb/syncookie.h"
#include "rtr.h"

#define RTR_BURST 32
#define RTR_SYN_RESEND_MS 500

RTE_LOG_REGISTER_DEFAULT(rtr_logtype, INFO);

static const char http_503[] =
	"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
/* TLS alert, fatal, unrecognized_name (RFC 6066 section 3). */
static const uint8_t tls_alert[] = { 0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x70 };
/* The workers tell a client's segments after these answers by their
 * lengths (late, not forged: forwarder/worker.c l7_late). */
_Static_assert(sizeof(http_503) - 1 == HALB_L7_ANSWER_503_LEN, "503 length");
_Static_assert(sizeof(tls_alert) == HALB_L7_ANSWER_ALERT_LEN, "alert length");

/* ---- the table of bindings ---- */

static struct rtr_bind *
bind_find(struct rtr *r, const struct flow_key *k, uint32_t hash)
{
	uint32_t i = r->buckets[hash & (r->n_buckets - 1)];

	while (i != 0) {
		struct rtr_bind *b = &r->binds[i - 1];

		if (b->hash == hash && flow_key_eq(&b->key, k))
			return b;
		i = b->next;
	}
	return NULL;
}

static void
act_unlink(struct rtr *r, struct rtr_bind *b)
{
	if (b->prev_act != 0)
		r->binds[b->prev_act - 1].next_act = b->next_act;
	else
		r->act_head = b->next_act;
	if (b->next_act != 0)
		r->binds[b->next_act - 1].prev_act = b->prev_act;
	else
		r->act_tail = b->prev_act;
	b->prev_act = b->next_act = 0;
}

/* A request buffer of cap bytes for service s: its list's first, else
 * malloc'd.  A list of another cap (max_request changed by a reload)
 * is freed. */
static uint8_t *
buf_get(struct rtr *r, uint16_t s, uint32_t cap)
{
	struct rtr_buf *rb = r->bufs[s];

	if (rb != NULL && rb->cap != cap) {
		while ((rb = r->bufs[s]) != NULL) {
			r->bufs[s] = rb->next;
			free(rb);
		}
		r->n_bufs[s] = 0;
	}
	if (rb != NULL) {
		r->bufs[s] = rb->next;
		r->n_bufs[s]--;
		return rb->data;
	}
	rb = malloc(sizeof(*rb) + cap);
	if (rb == NULL)
		return NULL;
	rb->cap = cap;
	return rb->data;
}

static struct rtr_buf *
buf_of(uint8_t *data)
{
	return (struct rtr_buf *)(void *)(data - offsetof(struct rtr_buf, data));
}

static void
buf_put(struct rtr *r, uint16_t s, uint8_t *data)
{
	struct rtr_buf *rb = buf_of(data);

	if (r->n_bufs[s] >= RTR_BUF_KEEP ||
	    rb->cap != r->cfg->services[s].l7.max_request) {
		free(rb);
		return;
	}
	rb->next = r->bufs[s];
	r->bufs[s] = rb;
	r->n_bufs[s]++;
}

static struct rtr_bind *
bind_new(struct rtr *r, const struct flow_key *k, uint32_t hash, uint16_t s)
{
	const struct cfg_l7 *l7 = &r->cfg->services[s].l7;
	uint32_t i = r->free_head, *bk;
	struct rtr_bind *b;
	uint8_t *buf;

	if (i == 0 || r->active[s] >= l7->max_binding)
		return NULL;
	buf = buf_get(r, s, l7->max_request);
	if (buf == NULL)
		return NULL;
	b = &r->binds[i - 1];
	r->free_head = b->next;
	memset(b, 0, sizeof(*b));
	b->key = *k;
	b->hash = hash;
	b->svc = s;
	b->buf = buf;
	b->cap = l7->max_request;
	b->state = RTR_READ;
	b->deadline_ms = r->now_ms + l7->bind_timeout_ms;
	bk = &r->buckets[hash & (r->n_buckets - 1)];
	b->next = *bk;
	*bk = i;
	b->prev_act = r->act_tail;
	if (r->act_tail != 0)
		r->binds[r->act_tail - 1].next_act = i;
	else
		r->act_head = i;
	r->act_tail = i;
	r->active[s]++;
	return b;
}

static void
bind_free(struct rtr *r, struct rtr_bind *b)
{
	uint32_t i = (uint32_t)(b - r->binds) + 1;
	uint32_t *p = &r->buckets[b->hash & (r->n_buckets - 1)];

	while (*p != 0 && *p != i)
		p = &r->binds[*p - 1].next;
	if (*p == i)
		*p = b->next;
	act_unlink(r, b);
	r->active[b->svc]--;
	buf_put(r, b->svc, b->buf);
	b->buf = NULL;
	b->state = RTR_FREE;
	b->next = r->free_head;
	r->free_head = i;
}

/* ---- mbufs: the loop thread's own cache (rtr.h) ---- */

/* An mbuf for a frame the router builds.  The next one the cache
 * will hand out is prefetched (both lines of its header, and where
 * its frame will go): when the cache was last filled from the pool's
 * ring, that mbuf was last written on another core, and rte_pktmbuf_reset
 * and the frame's build stalled on it (92% of send_seg's time with a
 * bound-flow table of 1.5M entries, halb-bench-bind). */
static struct rte_mbuf *
mbuf_alloc(struct rtr *r)
{
	void *o;

	if (rte_mempool_generic_get(r->shm->pool, &o, 1, r->mc) != 0)
		return NULL;
	if (r->mc != NULL && r->mc->len > 0) {
		struct rte_mbuf *n = r->mc->objs[r->mc->len - 1];

		rte_mbuf_prefetch_part1(n);
		rte_mbuf_prefetch_part2(n);
		rte_prefetch0((uint8_t *)(n + 1) + r->priv_size + RTE_PKTMBUF_HEADROOM);
	}
	rte_pktmbuf_reset(o);
	return o;
}

/* rte_pktmbuf_free(), into r's cache when the mbuf is of shm->pool. */
static void
mbuf_free(struct rtr *r, struct rte_mbuf *m)
{
	struct rte_mbuf *next;

	for (; m != NULL; m = next) {
		next = m->next;
		m = rte_pktmbuf_prefree_seg(m);
		if (m == NULL)
			continue;
		if (m->pool == r->shm->pool)
			rte_mempool_generic_put(m->pool, (void **)&m, 1, r->mc);
		else
			rte_mempool_put(m->pool, m);
	}
}

/* ---- what the router sends ---- */

/* Enqueues what waits for worker w: a frame the ring has no room for
 * is dropped (out_full), the client or the router sends again. */
static void
out_flush(struct rtr *r, uint32_t w)
{
	struct rtr_out *q = &r->outq[w];
	uint32_t k;

	if (q->n == 0)
		return;
	k = rte_ring_sp_enqueue_burst(r->shm->workers[w].l7_out, (void **)q->m,
				      q->n, NULL);
	if (k < q->n) {
		r->shm->l7.out_full += q->n - k;
		for (; k < q->n; k++)
			mbuf_free(r, q->m[k]);
	}
	q->n = 0;
}

static void
out_flush_all(struct rtr *r)
{
	uint32_t w;

	for (w = 0; w < r->shm->n_workers; w++)
		out_flush(r, w);
}

static void
out(struct rtr *r, uint32_t w, struct rte_mbuf *m, uint32_t verb)
{
	struct rtr_out *q = &r->outq[w];

	m->hash.usr = verb;
	q->m[q->n++] = m;
	if (q->n == RTR_OUT_BURST)
		out_flush(r, w);
}

/* A segment of binding b, to its client (VIP -> client) or to its
 * backend (client -> backend, as NAT sends the client's). */
static void
send_seg(struct rtr *r, const struct rtr_bind *b, bool to_backend,
	 uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *opts,
	 uint8_t opts_len, const uint8_t *data, uint32_t len)
{
	const struct cfg_service *cs = &r->cfg->services[b->svc];
	struct rte_mbuf *m = mbuf_alloc(r);
	struct splice_seg seg;
	uint32_t n;

	if (m == NULL) {
		r->shm->l7.nombuf++;
		return;
	}
	memset(&seg, 0, sizeof(seg));
	seg.family = halb_ip_is_v4(&cs->vip) ? 4 : 6;
	if (to_backend) {
		const struct cfg_backend *cb = &cs->backends[b->be];

		seg.src = b->key.src;
		seg.dst = cb->ip.b;
		seg.sport = b->key.sport;
		seg.dport = cb->port != 0 ? htons(cb->port) : b->key.dport;
		seg.win = b->cwin;
	} else {
		seg.src = b->key.dst;
		seg.dst = b->key.src;
		seg.sport = b->key.dport;
		seg.dport = b->key.sport;
		seg.win = cs->l7.max_request > 65535 ? 65535 :
						       (uint16_t)cs->l7.max_request;
	}
	seg.seq = seq;
	seg.ack = ack;
	seg.flags = flags;
	seg.opts = opts;
	seg.opts_len = opts_len;
	seg.data = data;
	seg.data_len = len;
	n = splice_build(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m),
			 &seg);
	if (n == 0) {
		mbuf_free(r, m);
		return;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	out(r, b->worker, m,
	    HALB_L7_VERB(to_backend ? HALB_L7_OUT_BACKEND : HALB_L7_OUT_CLIENT,
			 b->svc, b->be));
}

static void
reset_client(struct rtr *r, const struct rtr_bind *b)
{
	send_seg(r, b, false, SPLICE_RST | SPLICE_ACK, b->cookie + 1,
		 b->cisn + 1 + b->len, NULL, 0, NULL, 0);
}

static void
reset_backend(struct rtr *r, const struct rtr_bind *b)
{
	send_seg(r, b, true, SPLICE_RST, b->cisn + 1, 0, NULL, 0, NULL, 0);
}

/* An installed entry, told to halb-sessiond (the state it was installed
 * with is reported: flags, as the classifier's). */
static void
installed(struct rtr *r, struct flow_entry *e)
{
	e->flags = (uint8_t)(SESS_F_REPORTED | e->state);
	sess_evq_add(&r->sq, 0, e, SESS_EV_INSTALL, r->now_ms);
}

/* Nothing matched: service's no_match. */
static void
answer_no_match(struct rtr *r, const struct rtr_bind *b, uint8_t kind)
{
	const struct cfg_l7 *l7 = &r->cfg->services[b->svc].l7;
	uint8_t fl = SPLICE_ACK | SPLICE_PSH | SPLICE_FIN;

	if (l7->no_match != CFG_L7_NO_MATCH_HTTP_503) {
		reset_client(r, b);
		return;
	}
	if (kind == L7_TLS)
		send_seg(r, b, false, fl, b->cookie + 1, b->cisn + 1 + b->len,
			 NULL, 0, tls_alert, sizeof(tls_alert));
	else
		send_seg(r, b, false, fl, b->cookie + 1, b->cisn + 1 + b->len,
			 NULL, 0, (const uint8_t *)http_503, sizeof(http_503) - 1);
}

/* ---- bound flows per backend (wlc) ---- */

/*
 * The count of bound flows of (s, b), as the classifier keeps its own
 * (classifier/decide.c set_active): one more when the router installs a
 * flow, one less when it removes one (expired idle, by the timeout of
 * its state: a closed connection, FIN or RST, after tcp_fin_timeout; or
 * replaced by a new connection on its tuple).  The scheduler's active[]
 * (wlc reads it) and shm->l7_active (telemetry, a reload's slot reuse)
 * hold the same number.
 */
static void
count_flow(struct rtr *r, uint32_t s, uint32_t b, int delta)
{
	uint32_t n;

	if (s >= CFG_MAX_SERVICES || b >= CFG_MAX_BACKENDS)
		return;
	n = r->shm->l7_active[s][b];
	if (delta < 0 && n == 0)
		return; /* cannot happen: each removal follows an install */
	n += (uint32_t)delta;
	__atomic_store_n(&r->shm->l7_active[s][b], n, __ATOMIC_RELAXED);
	if (r->svcs[s] != NULL)
		r->svcs[s]->sched.active[b] = n;
}

int
rtr_flow_install(struct rtr *r, const struct flow_key *k, uint16_t s,
		 uint16_t be, uint32_t delta)
{
	uint32_t hash = pkt_flow_hash(k); /* the flow table's, as the workers look up */
	struct flow_entry *ex;
	int rc;

	rc = flow_insert_tag(&r->fw, k, hash, s, be, FLOW_ST_EST, r->now_ms,
			     delta, &ex);
	if (rc == -EEXIST && ex->state == FLOW_ST_FIN) {
		/* The closed connection this one reuses the tuple of (the
		 * workers sent its segments here: FIN state).  A live one
		 * stays: -EEXIST. */
		count_flow(r, ex->svc, ex->backend, -1);
		sess_evq_add(&r->sq, 0, ex, SESS_EV_REMOVE, r->now_ms);
		flow_remove(&r->fw, (uint32_t)(ex - r->fw.t->entries), hash);
		rc = flow_insert_tag(&r->fw, k, hash, s, be, FLOW_ST_EST,
				     r->now_ms, delta, &ex);
	}
	if (rc >= 0) {
		count_flow(r, s, be, 1);
		installed(r, &r->fw.t->entries[rc]);
	}
	return rc;
}

void
rtr_flows_count(struct rtr *r)
{
	/* Counted apart and stored word by word: a reload reads them
	 * meanwhile (forwarder/reload.c), and must never see 0 for a
	 * backend that has flows. */
	static uint32_t n[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	const struct flow_table *t = r->fw.t;
	uint32_t s, b, i;

	memset(n, 0, sizeof(n));
	for (b = 0; b < t->n_buckets; b++)
		for (i = 0; i < FLOW_BUCKET_SLOTS; i++) {
			uint64_t sl = t->buckets[b].slot[i];
			const struct flow_entry *e;

			if (sl == 0)
				continue;
			e = &t->entries[flow_slot_idx(sl)];
			if (e->svc < CFG_MAX_SERVICES && e->backend < CFG_MAX_BACKENDS)
				n[e->svc][e->backend]++;
		}
	for (s = 0; s < CFG_MAX_SERVICES; s++)
		for (b = 0; b < CFG_MAX_BACKENDS; b++)
			__atomic_store_n(&r->shm->l7_active[s][b], n[s][b],
					 __ATOMIC_RELAXED);
	for (s = 0; s < CFG_MAX_SERVICES; s++)
		if (r->svcs[s] != NULL)
			memcpy(r->svcs[s]->sched.active, r->shm->l7_active[s],
			       sizeof(r->svcs[s]->sched.active));
}

/* ---- pools ---- */

/* A backend's weight for new connections: the classifier's applied
 * health when it has any (0 unless up), else the configuration's. */
static uint32_t
be_weight(const struct rtr *r, uint32_t s, uint32_t b)
{
	const struct cfg_backend *cb = &r->cfg->services[s].backends[b];
	const struct halb_be_health *h = &r->shm->health[s][b];

	if (cb->slot != CFG_SLOT_LIVE)
		return 0;
	if (!r->shm->health_valid)
		return cb->weight;
	return h->state == HALB_HEALTH_UP ? h->weight : 0;
}

/* Sets every request-routed service's scheduler and pool masks up
 * again when the weights changed (or force: the services did). */
static void
pools_update(struct rtr *r, bool force)
{
	uint32_t w[CFG_MAX_BACKENDS];
	uint64_t sum = 0;
	uint32_t s, b, p;

	for (s = 0; s < r->cfg->n_services; s++)
		for (b = 0; r->svcs[s] != NULL && b < r->cfg->services[s].n_backends; b++)
			sum = sum * 31 + be_weight(r, s, b) + 1;
	if (!force && sum == r->health_sum)
		return;
	r->health_sum = sum;
	for (s = 0; s < r->cfg->n_services; s++) {
		const struct cfg_service *cs = &r->cfg->services[s];
		struct rtr_svc *sv = r->svcs[s];

		if (sv == NULL)
			continue;
		for (b = 0; b < cs->n_backends; b++)
			w[b] = be_weight(r, s, b);
		sched_init(&sv->sched, cs->sched, w, cs->n_backends);
		for (p = 0; p < CFG_L7_MAX_POOLS; p++)
			sched_pool_mask(cs, (uint8_t)p, &sv->masks[p]);
	}
}

/*
 * Whether an adoption of a peer's connection on backend b of service s
 * is refused, by the replica's rules (docs/SESSIONS.md): the slot is no
 * longer live (a reload retired it), or the backend is down and the
 * service resets the flows of a down backend (down_flows "reset"): at
 * once when an operator disabled it, else once it has been down for
 * down_hold, as the router has seen it (the classifier's rule for a
 * replica hit).
 */
static bool
adopt_refused(const struct rtr *r, uint16_t s, uint16_t b)
{
	const struct cfg_service *cs = &r->cfg->services[s];
	const struct halb_be_health *h = &r->shm->health[s][b];
	uint32_t since;

	if (b >= cs->n_backends || cs->slot != CFG_SLOT_LIVE ||
	    cs->backends[b].slot != CFG_SLOT_LIVE)
		return true;
	if (!r->shm->health_valid || h->state != HALB_HEALTH_DOWN ||
	    cs->down_flows != CFG_DOWN_RESET)
		return false;
	if (h->source == HALB_SRC_OPERATOR)
		return true;
	since = r->down_ms[s][b];
	return since != 0 && r->now_ms - (since - 1) >= cs->down_hold_ms;
}

/* When each request-routed service's backends were first seen down
 * (down_ms), every tick. */
static void
downs_update(struct rtr *r)
{
	uint32_t s, b;

	for (s = 0; s < r->cfg->n_services; s++) {
		if (r->svcs[s] == NULL)
			continue;
		for (b = 0; b < r->cfg->services[s].n_backends; b++) {
			bool down = r->shm->health_valid &&
				    r->shm->health[s][b].state == HALB_HEALTH_DOWN;

			if (!down)
				r->down_ms[s][b] = 0;
			else if (r->down_ms[s][b] == 0)
				r->down_ms[s][b] = r->now_ms + 1;
		}
	}
}

/* ---- segments ---- */

/* The client's SYN replayed to b's backend: its ISN and options. */
static void
send_syn(struct rtr *r, struct rtr_bind *b)
{
	uint8_t opts[20];

	b->syn_ms = r->now_ms;
	send_seg(r, b, true, SPLICE_SYN, b->cisn, 0, opts,
		 splice_opts_syn(opts, &b->co), NULL, 0);
}

/* The request is whole: the pool, the backend, the replayed SYN. */
static void
bind_decide(struct rtr *r, struct rtr_bind *b, const struct l7_req *req,
	    const struct pkt_info *pi)
{
	const struct cfg_service *cs = &r->cfg->services[b->svc];
	struct sched_ctx ctx = { .hash = pkt_flow_hash(&b->key), .pi = pi };
	struct rtr_svc *sv = r->svcs[b->svc];
	uint16_t be;
	int pool;

	pool = l7_match(&cs->l7, req);
	if (pool < 0 || pool >= CFG_L7_MAX_POOLS || sv == NULL) {
		r->shm->l7.no_match++;
		answer_no_match(r, b, req->kind);
		bind_free(r, b);
		return;
	}
	ctx.mask = &sv->masks[pool];
	be = sched_pick(&sv->sched, &ctx);
	if (be == MH_EMPTY || be >= cs->n_backends) {
		r->shm->l7.no_backend++;
		reset_client(r, b);
		bind_free(r, b);
		return;
	}
	b->be = be;
	b->state = RTR_SYN_SENT;
	b->deadline_ms = r->now_ms + cs->l7.bind_timeout_ms;
	send_syn(r, b);
}

/* Adds the payload of a client segment at seq to b's buffer, in order
 * (a retransmission's known bytes are skipped; a segment after a hole is
 * dropped, the client sends the hole again).  Returns the bytes added,
 * or -1 when the request outgrows max_request. */
static int
bind_append(struct rtr_bind *b, uint32_t seq, const uint8_t *data,
	    uint32_t len, uint32_t max)
{
	uint32_t off = seq - (b->cisn + 1), skip;

	if (len == 0 || (int32_t)off > (int32_t)b->len)
		return 0;
	if ((int32_t)off < 0) {
		if ((uint32_t)-(int32_t)off >= len)
			return 0;
		skip = (uint32_t)-(int32_t)off;
		data += skip;
		len -= skip;
		off = 0;
	}
	if (off + len <= b->len)
		return 0;
	skip = b->len - off;
	if (off + len > max)
		return -1;
	memcpy(b->buf + b->len, data + skip, len - skip);
	b->len += len - skip;
	return (int)(len - skip);
}

/* The binding table's hash: keyed with a secret of this process, so that
 * a client cannot choose tuples that share one chain (CRC32-C, the flow
 * tables' hash, is unkeyed). */
static uint32_t
bind_hash(const struct rtr *r, const struct flow_key *k)
{
	return (uint32_t)syncookie_siphash(r->hkey, k, sizeof(*k));
}

/* A client segment of service s from worker w; ck: the verb's be
 * field (HALB_L7_IN_CO and the cookie's options, when the worker
 * checked the cookie). */
static void
client_seg(struct rtr *r, uint32_t w, uint16_t s, uint16_t ck,
	   const uint8_t *frame, const struct pkt_info *pi)
{
	uint32_t hash = bind_hash(r, &pi->key), plen, poff;
	struct rtr_bind *b = bind_find(r, &pi->key, hash);
	struct l7_req req;
	int added, rc;

	if (pi->tcp_flags & PKT_TCP_RST) {
		/* Only a reset inside what this binding may receive (its
		 * buffer, the window it was offered) ends it: a blind one,
		 * guessing the tuple only, does not (RFC 5961, 3.2). */
		if (b != NULL && splice_seq(frame, pi) - (b->cisn + 1) <= b->cap) {
			r->shm->l7.client_rst++;
			bind_free(r, b);
		} else {
			r->shm->l7.stray++;
		}
		return;
	}
	if (b == NULL) {
		struct syncookie_opts co;
		uint32_t cookie = splice_ack(frame, pi) - 1;

		/* Only a segment whose cookie the worker checked starts a
		 * binding (HALB_L7_IN_CO: every client punt; the shared
		 * memory's version keeps forwarder and router alike). */
		if (!(ck & HALB_L7_IN_CO)) {
			r->shm->l7.stray++;
			return;
		}
		syncookie_opts_unpack(ck & 0x7f, &co);
		b = bind_new(r, &pi->key, hash, s);
		if (b == NULL) {
			struct rtr_bind tmp = { .key = pi->key, .svc = s,
						.worker = (uint8_t)w,
						.cookie = cookie,
						.cisn = splice_seq(frame, pi) - 1 };

			r->shm->l7.binding_full++;
			reset_client(r, &tmp);
			return;
		}
		r->shm->l7.bindings++;
		b->cookie = cookie;
		b->co = co;
		b->cisn = splice_seq(frame, pi) - 1;
	}
	b->worker = (uint8_t)w;
	b->cwin = splice_win(frame, pi);
	poff = splice_payload(frame, pi, &plen);
	/* The buffer's own size, not today's max_request: a reload that
	 * raised it must not let this binding write past its buffer. */
	added = bind_append(b, splice_seq(frame, pi), frame + poff, plen,
			    b->cap);
	if (added < 0) {
		r->shm->l7.too_big++;
		reset_client(r, b);
		bind_free(r, b);
		return;
	}
	if (b->state != RTR_READ) {
		/* The SYN is out, the client sends again: the SYN (or the
		 * backend's SYN-ACK) may be lost; sent again at most every
		 * RTR_SYN_RESEND_MS until the bind timeout. */
		if (r->now_ms - b->syn_ms >= RTR_SYN_RESEND_MS)
			send_syn(r, b);
		return;
	}
	if (added > 0) {
		rc = l7_parse(b->buf, b->len, b->cap, &req);
		if (rc == L7_DONE) {
			bind_decide(r, b, &req, pi);
			return;
		}
		if (rc == L7_TOO_BIG || rc == L7_BAD) {
			if (rc == L7_TOO_BIG)
				r->shm->l7.too_big++;
			else
				r->shm->l7.bad_request++;
			reset_client(r, b);
			bind_free(r, b);
			return;
		}
	}
	if (pi->tcp_flags & PKT_TCP_FIN) {
		/* Closed before a whole request. */
		r->shm->l7.bad_request++;
		reset_client(r, b);
		bind_free(r, b);
	}
}

/* A segment from backend be of service s with no flow (a worker's, or
 * relayed: a peer's, never relayed again).  One of no binding here may
 * be of a peer appliance's binding (or flow): relayed to the peers
 * (relay.c) when there are any. */
static void
backend_seg(struct rtr *r, uint16_t s, uint16_t be, const uint8_t *frame,
	    const struct pkt_info *pi, bool relayed)
{
	const struct cfg_service *cs = &r->cfg->services[s];
	struct syncookie_opts bo;
	struct flow_key k;
	struct rtr_bind *b;
	uint32_t hash, bisn, mss, off;
	int rc;

	splice_client_key(pi, cs->vip.b, cs->port, &k);
	hash = bind_hash(r, &k);
	b = bind_find(r, &k, hash);
	if (b == NULL && !relayed && rtr_relay_out(r, s, &k, frame, pi))
		return;
	if (b == NULL || b->state != RTR_SYN_SENT || b->be != be) {
		r->shm->l7.stray++;
		return;
	}
	if (pi->tcp_flags & PKT_TCP_RST) {
		r->shm->l7.be_refused++;
		reset_client(r, b);
		bind_free(r, b);
		return;
	}
	if (splice_ack(frame, pi) != b->cisn + 1 || splice_opts_read(frame, pi, &bo) != 0) {
		r->shm->l7.stray++;
		return;
	}
	/* The client was promised our window scale (or none, when it sent
	 * none: then the backend got none either and must answer none). */
	if (bo.wscale != (b->co.wscale == SYNCOOKIE_WS_NONE ? SYNCOOKIE_WS_NONE :
							    cs->l7.wscale)) {
		r->shm->l7.wscale_mismatch++;
		reset_backend(r, b);
		reset_client(r, b);
		bind_free(r, b);
		return;
	}
	bisn = splice_seq(frame, pi);
	rc = rtr_flow_install(r, &k, s, be, bisn - b->cookie);
	if (rc == -EEXIST) {
		/* The tuple is bound and live already (this binding began
		 * on a late segment of it): the connection is that flow's;
		 * only this handshake to the backend goes. */
		r->shm->l7.stray++;
		reset_backend(r, b);
		bind_free(r, b);
		return;
	}
	if (rc < 0) {
		r->shm->l7.table_full++;
		reset_backend(r, b);
		reset_client(r, b);
		bind_free(r, b);
		return;
	}
	/* The handshake's last ACK is the request's first segment (data
	 * with ACK completes a SYN_RECEIVED connection, RFC 9293 3.10.7.4):
	 * one frame fewer for the router, the worker and the backend. */
	if (b->len == 0)
		send_seg(r, b, true, SPLICE_ACK, b->cisn + 1, bisn + 1, NULL, 0,
			 NULL, 0);
	mss = bo.mss < b->co.mss ? bo.mss : b->co.mss;
	/* A SYN-ACK's MSS of 0 (or a tiny one) must not loop forever or
	 * spend the pool on one-byte segments: RFC 9293 3.7.1's 536. */
	if (mss < 536)
		mss = 536;
	for (off = 0; off < b->len; off += mss) {
		uint32_t n = b->len - off < mss ? b->len - off : mss;

		send_seg(r, b, true,
			 SPLICE_ACK | (off + n == b->len ? SPLICE_PSH : 0),
			 b->cisn + 1 + off, bisn + 1, NULL, 0, b->buf + off, n);
	}
	r->shm->l7.bound++;
	bind_free(r, b);
}

/*
 * A segment of backend be of service s that a peer appliance relayed
 * (relay.c; frame and pi as a worker's): a binding's of ours on its
 * tuple takes it (backend_seg(), never relayed again): RTR_RELAY_BINDING;
 * else a bound flow of ours on it, naming be: RTR_RELAY_FLOW (the caller
 * hands it to a worker); else RTR_RELAY_STRAY.
 */
int
rtr_relay_backend(struct rtr *r, uint16_t s, uint16_t be, const uint8_t *frame,
		  const struct pkt_info *pi)
{
	const struct cfg_service *cs = &r->cfg->services[s];
	const struct flow_entry *e;
	struct flow_key k;
	uint64_t bound = r->shm->l7.bound;

	splice_client_key(pi, cs->vip.b, cs->port, &k);
	if (bind_find(r, &k, bind_hash(r, &k)) != NULL) {
		backend_seg(r, s, be, frame, pi, true);
		if (r->shm->l7.bound != bound)
			r->shm->l7.relay_bound++;
		return RTR_RELAY_BINDING;
	}
	e = flow_lookup(r->fw.t, &k, pkt_flow_hash(&k));
	if (e != NULL && e->svc == s && e->backend == be)
		return RTR_RELAY_FLOW;
	return RTR_RELAY_STRAY;
}

/*
 * A client segment of a connection a peer appliance bound
 * (HALB_L7_IN_ADOPT): the worker found no bound flow and no cookie of
 * ours, but the peer's spliced record in the replica naming backend be
 * of service s (a live slot of the worker's view, the record's) with
 * the sequence delta it carries.  The flow is installed here as the peer
 * had it (an appliance that adopts a connection owns it from then on:
 * reported to halb-sessiond as its own) and m is handed back to worker
 * w to be forwarded as a bound flow's (HALB_L7_OUT_AGAIN); returns true
 * then (m is no longer the caller's).  A backend that the replica's
 * rules refuse (adopt_refused) gets the connection reset on both sides,
 * counted.  A binding of this router on the tuple (the record is older
 * than a new connection's handshake here) takes the segment as its own.
 */
static bool
adopt_seg(struct rtr *r, uint32_t w, uint16_t s, uint16_t be, uint32_t delta,
	  struct rte_mbuf *m, const struct pkt_info *pi)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t hash = bind_hash(r, &pi->key), plen, seq;
	struct flow_entry *e;
	int rc;

	if (bind_find(r, &pi->key, hash) != NULL) {
		client_seg(r, w, s, 0, frame, pi);
		return false;
	}
	if (adopt_refused(r, s, be)) {
		struct rtr_bind tmp = { .key = pi->key, .svc = s, .be = be,
					.worker = (uint8_t)w };

		r->shm->l7.adopt_refused++;
		if (pi->tcp_flags & PKT_TCP_RST)
			return false;
		/* The client's ack is what it expects next from us: a RST
		 * with that sequence number is in its window exactly (RFC
		 * 5961); the backend's, with the client's sequence number. */
		seq = splice_seq(frame, pi);
		splice_payload(frame, pi, &plen);
		send_seg(r, &tmp, false, SPLICE_RST | SPLICE_ACK,
			 splice_ack(frame, pi), seq + plen, NULL, 0, NULL, 0);
		if (be < r->cfg->services[s].n_backends)
			send_seg(r, &tmp, true, SPLICE_RST, seq, 0, NULL, 0, NULL, 0);
		return false;
	}
	hash = pkt_flow_hash(&pi->key); /* the flow table's */
	rc = flow_insert_tag(&r->fw, &pi->key, hash, s, be,
			     (pi->tcp_flags & (PKT_TCP_FIN | PKT_TCP_RST)) ?
			     FLOW_ST_FIN : FLOW_ST_EST, r->now_ms, delta, &e);
	if (rc >= 0) {
		count_flow(r, s, be, 1);
		installed(r, &r->fw.t->entries[rc]);
		r->shm->l7.adopted++;
	} else if (rc != -EEXIST) {
		/* An earlier segment of it was adopted already: -EEXIST,
		 * and the worker forwards this one by that flow. */
		r->shm->l7.table_full++;
		return false;
	}
	out(r, w, m, HALB_L7_VERB(HALB_L7_OUT_AGAIN, s, be));
	return true;
}

/*
 * A client segment punted before its connection's flow was installed
 * (it waited in a worker's ring, or came again while the backend's
 * SYN-ACK was on its way) and taken after: no binding of the tuple is
 * left and its live flow is in l7_flows.  It is that flow's: handed back
 * to worker w to be forwarded as a bound flow's (HALB_L7_OUT_AGAIN),
 * never taken for a new binding (whose reset would end the connection).
 * A flow in FIN state is not live: its tuple may start a new connection.
 */
static bool
bound_late(struct rtr *r, uint32_t w, uint16_t s, struct rte_mbuf *m,
	   const struct pkt_info *pi)
{
	const struct flow_entry *e;

	if (bind_find(r, &pi->key, bind_hash(r, &pi->key)) != NULL)
		return false;
	e = flow_lookup(r->fw.t, &pi->key, pkt_flow_hash(&pi->key));
	if (e == NULL || e->state == FLOW_ST_FIN || e->svc != s)
		return false;
	r->shm->l7.late_bound++;
	out(r, w, m, HALB_L7_VERB(HALB_L7_OUT_AGAIN, s, e->backend));
	return true;
}

void
rtr_drain(struct rtr *r)
{
	struct rte_mbuf *m;
	uint32_t w;

	for (w = 0; w < r->shm->n_workers; w++)
		while (rte_ring_sc_dequeue(r->shm->workers[w].l7_in, (void **)&m) == 0) {
			r->shm->l7.stray++;
			mbuf_free(r, m);
		}
}

uint32_t
rtr_poll(struct rtr *r)
{
	struct rte_mbuf *in[RTR_BURST];
	uint32_t w, i, n, total = 0;

	r->out_wait = false;
	for (w = 0; w < r->shm->n_workers; w++) {
		const struct halb_worker_shm *ws = &r->shm->workers[w];
		uint32_t max = rte_ring_free_count(ws->l7_out) / 2;

		/* Back-pressure: a segment makes one frame, or more (the
		 * backend's SYN-ACK: the request, in MSS-sized segments), mostly for
		 * the worker it came from.  While that worker's l7_out
		 * ring has no room for them, they wait in l7_in: a router
		 * that catches up on a full l7_in after losing its CPU
		 * would otherwise overrun l7_out and drop (out_full). */
		if (max > RTR_BURST)
			max = RTR_BURST;
		if (max == 0) {
			r->out_wait |= !rte_ring_empty(ws->l7_in);
			continue;
		}
		n = rte_ring_sc_dequeue_burst(ws->l7_in, (void **)in, max, NULL);
		r->shm->l7.in += n;
		total += n;
		for (i = 0; i < n; i++) {
			const uint8_t *frame = rte_pktmbuf_mtod(in[i], const uint8_t *);
			uint32_t verb = in[i]->hash.usr;
			uint16_t s = HALB_L7_SVC(verb);
			struct pkt_info pi;

			if (pkt_parse(frame, rte_pktmbuf_data_len(in[i]), &pi) != PKT_OK ||
			    pi.kind != PKT_KIND_FLOW || pi.key.proto != IPPROTO_TCP ||
			    s >= r->cfg->n_services || !r->cfg->services[s].l7.has) {
				r->shm->l7.stray++;
			} else if (HALB_L7_KIND(verb) == HALB_L7_IN_BACKEND) {
				if (HALB_L7_BE(verb) < r->cfg->services[s].n_backends)
					backend_seg(r, s, HALB_L7_BE(verb), frame, &pi,
						    false);
				else
					r->shm->l7.stray++;
			} else if (HALB_L7_KIND(verb) == HALB_L7_IN_ADOPT) {
				/* The delta rides beside the verb (shm-t.h). */
				if (HALB_L7_BE(verb) >= r->cfg->services[s].n_backends)
					r->shm->l7.stray++;
				else if (adopt_seg(r, w, s, HALB_L7_BE(verb),
						   in[i]->hash.fdir.hi, in[i], &pi))
					continue; /* handed back to the worker */
			} else if (bound_late(r, w, s, in[i], &pi)) {
				continue; /* handed back to the worker */
			} else {
				client_seg(r, w, s, HALB_L7_BE(verb), frame, &pi);
			}
			mbuf_free(r, in[i]);
		}
	}
	out_flush_all(r);
	return total;
}

/* ---- time ---- */

static bool
flow_idle(void *ctx, const struct flow_entry *e)
{
	struct rtr *r = ctx;
	uint32_t seen = __atomic_load_n(&e->last_seen, __ATOMIC_RELAXED);
	uint8_t st = __atomic_load_n(&e->state, __ATOMIC_RELAXED);

	if ((int32_t)(r->now_ms - seen) <= (int32_t)flow_idle_timeout_ms(r->cfg, st)) {
		sess_evq_moved(&r->sq, r->fw.t, 0, e, r->now_ms);
		return false;
	}
	r->shm->l7.expired++;
	sess_evq_add(&r->sq, 0, e, SESS_EV_REMOVE, r->now_ms);
	count_flow(r, e->svc, e->backend, -1);
	return true;
}

/*
 * A reload (docs/RELOAD.md) applied by the forwarder: the services as
 * its view has them, rules and pools included (cfg_service holds them),
 * slot for slot, so bindings under way keep their service and backend.
 * The binding cap stays what it was at start (max_binding is read once).
 */
static void
view_follow(struct rtr *r)
{
	uint64_t gen = __atomic_load_n(&r->shm->view_gen, __ATOMIC_ACQUIRE);
	uint32_t s;

	if (gen == r->view_gen || halb_shm_view_copy(r->shm, r->cfg) == 0)
		return;
	r->view_gen = gen;
	for (s = 0; s < r->cfg->n_services; s++)
		if (r->cfg->services[s].l7.has && r->svcs[s] == NULL) {
			r->svcs[s] = calloc(1, sizeof(*r->svcs[s]));
			if (r->svcs[s] == NULL)
				RTR_LOG(ERR, "service %s: no memory for its scheduler",
					r->cfg->services[s].name);
			else
				memcpy(r->svcs[s]->sched.active,
				       r->shm->l7_active[s],
				       sizeof(r->svcs[s]->sched.active));
		}
	pools_update(r, true);
	__atomic_store_n(&r->shm->l7_view_gen, gen, __ATOMIC_RELEASE);
	RTR_LOG(INFO, "view generation %lu applied", (unsigned long)gen);
}

void
rtr_tick(struct rtr *r)
{
	uint32_t i = r->act_head, n;

	while (i != 0) {
		struct rtr_bind *b = &r->binds[i - 1];

		i = b->next_act;
		if ((int32_t)(r->now_ms - b->deadline_ms) < 0)
			continue;
		if (b->state == RTR_READ) {
			r->shm->l7.timeouts++;
		} else {
			r->shm->l7.be_timeout++;
			reset_backend(r, b);
		}
		reset_client(r, b);
		bind_free(r, b);
	}
	/* The bound flows: the whole table once a second. */
	n = r->fw.t->n_buckets / (1000 / RTR_TICK_MS);
	flow_expire_scan(&r->fw, n > 64 ? n : 64, flow_idle, r);
	flow_reclaim(&r->fw);
	view_follow(r);
	pools_update(r, false);
	downs_update(r);
	r->shm->l7.flows = flow_count(&r->fw);
	for (i = 0, n = 0; i < r->cfg->n_services; i++)
		n += r->active[i];
	r->shm->l7.binding = n;
	out_flush_all(r);
}

uint32_t
rtr_turn(struct rtr *r, uint64_t now)
{
	uint32_t busy;

	/* Every workers' loop reads it: written once a millisecond, not
	 * each turn, its cache line stays shared between them. */
	if (now - r->shm->l7_alive >= r->shm->tsc_hz / 1000)
		r->shm->l7_alive = now;
	r->now_ms = halb_now_ms(r->shm, now);
	busy = rtr_poll(r) + r->out_wait;
	busy += rtr_relay_poll(r);
	if (r->now_ms - r->tick_ms >= RTR_TICK_MS) {
		r->tick_ms = r->now_ms;
		rtr_tick(r);
	}
	rtr_sess_turn(r);
	/* What the relayed segments and the tick built, before any sleep. */
	out_flush_all(r);
	if (busy == 0 && r->mc != NULL && r->mc->len > 0)
		rte_mempool_cache_flush(r->mc, r->shm->pool);
	if (busy != 0)
		r->shm->l7.busy_tsc += rte_rdtsc() - now;
	r->shm->l7.loops++;
	return busy;
}

/* ---- set-up ---- */

int
rtr_init(struct rtr *r)
{
	uint32_t s, i;
	int rc;

	r->cap = 0;
	for (s = 0; s < r->cfg->n_services; s++) {
		const struct cfg_service *cs = &r->cfg->services[s];

		if (!cs->l7.has)
			continue;
		r->cap += cs->l7.max_binding;
		r->svcs[s] = calloc(1, sizeof(*r->svcs[s]));
		if (r->svcs[s] == NULL)
			return -ENOMEM;
	}
	if (r->cap == 0)
		return -ENOENT;
	if (getrandom(r->hkey, sizeof(r->hkey), 0) != (ssize_t)sizeof(r->hkey))
		return -errno;
	for (r->n_buckets = 1; r->n_buckets < r->cap; r->n_buckets <<= 1)
		;
	r->buckets = calloc(r->n_buckets, sizeof(*r->buckets));
	r->binds = calloc(r->cap, sizeof(*r->binds));
	if (r->buckets == NULL || r->binds == NULL)
		return -ENOMEM;
	for (i = 0; i < r->cap; i++)
		r->binds[i].next = i + 1 < r->cap ? i + 2 : 0;
	r->free_head = 1;
	/* No pool without the forwarder's memory (the unit tests): no
	 * cache, and no frame is built. */
	if (r->shm->pool != NULL) {
		/* A router killed under load left mbufs in its cache: the
		 * lock (main.c) says it is gone; they go back to the pool. */
		if (r->shm->l7_mc != NULL) {
			rte_mempool_cache_flush(r->shm->l7_mc, r->shm->pool);
			rte_mempool_cache_free(r->shm->l7_mc);
			r->shm->l7_mc = NULL;
		}
		r->mc = rte_mempool_cache_create(RTR_MBUF_CACHE, SOCKET_ID_ANY);
		if (r->mc == NULL)
			return -ENOMEM;
		r->shm->l7_mc = r->mc;
		r->priv_size = rte_pktmbuf_priv_size(r->shm->pool);
	}
	rc = flow_writer_init(&r->fw, &r->shm->l7_flows, r->shm->qsbr);
	if (rc != 0)
		return rc;
	rtr_sess_init(r);
	/* A router that follows another: the bound flows it left. */
	rtr_flows_count(r);
	pools_update(r, true);
	view_follow(r);
	return 0;
}

void
rtr_fini(struct rtr *r)
{
	uint32_t s, i;

	for (i = 0; r->binds != NULL && i < r->cap; i++)
		if (r->binds[i].buf != NULL)
			free(buf_of(r->binds[i].buf));
	for (s = 0; s < CFG_MAX_SERVICES; s++) {
		struct rtr_buf *rb;

		while ((rb = r->bufs[s]) != NULL) {
			r->bufs[s] = rb->next;
			free(rb);
		}
		r->n_bufs[s] = 0;
	}
	free(r->binds);
	free(r->buckets);
	for (s = 0; s < CFG_MAX_SERVICES; s++)
		free(r->svcs[s]);
	sess_evq_flush(&r->sq);
	out_flush_all(r);
	if (r->mc != NULL) {
		rte_mempool_cache_flush(r->mc, r->shm->pool);
		rte_mempool_cache_free(r->mc);
		r->mc = NULL;
		r->shm->l7_mc = NULL;
	}
	flow_writer_fini(&r->fw);
}
