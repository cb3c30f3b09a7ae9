/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-classifier --remote: a classifier on its own machine
 * (docs/CLASSIFIERS.md).  No DPDK port, no EAL, no shared memory with a
 * forwarder: it receives sealed batches of punted frames on UDP
 * (classifiers.serve.listen; proto/halb_punt.proto), decides each with
 * the very code of the local classifier (decide.c cls_decide), and
 * answers a sealed batch of decisions to the datagram's source; pings
 * get a pong.  A forwarder configured with an address
 * (serve.forwarders[].address) is heard only from it, so that a copy of
 * its datagrams sent from elsewhere (a sender address forged) is never
 * answered there: the answers go to the configured, authenticated
 * peer only.  The forwarder installs the flows (forwarder/punt_remote.c).
 *
 * decide.c and health.c work on a struct halb_shm; here it is ordinary
 * process-local memory laid out as the forwarder lays its own (as the
 * unit tests' fixture does): per worker of the configuration a flow
 * table and fallback marks, per service a double-buffered Maglev table,
 * a QSBR variable no reader ever joins (grace periods end at once).
 * So the schedulers (wlc's active counts), the Maglev tables and the
 * health cache are the same code on the same kind of state.  What
 * differs:
 *  - the flow tables are the classifier's own record of what it
 *    decided, not the forwarder's tables: nothing refreshes their
 *    last_seen, so an entry lives its install state's timeout (SYN:
 *    tcp_syn_timeout; UDP: udp_timeout).  They serve a retransmitted
 *    SYN and a flow that changed worker within that time, and wlc's
 *    active counts over it; a connection the forwarder keeps longer is
 *    its own table's business (it never comes back here).  Nothing
 *    closes them either: an entry keeps its SYN's sequence number
 *    (cls.own_tables), so that a SYN with another one, a new connection
 *    on a reused 5-tuple, is decided afresh;
 *  - the fallback marks are the forwarder's: a frame whose worker had
 *    marked its hash comes with PUNT_F_MARKED and is marked here before
 *    it is decided, so that decided_before() sees it;
 *  - there is no session replica here (it lives in the appliance's
 *    shared memory): a mid-connection miss that a peer appliance
 *    decided is decided with the Maglev table, as every miss
 *    mid-connection without a record is (decide.c decided_before);
 *  - health: health.socket as the local classifier, and/or a UDP
 *    address (classifiers.serve.health) that halb-healthd also sends
 *    its sealed snapshots to; the same keys and checks;
 *  - the services are its file's at start; then it follows the view of
 *    the first forwarder of serve.forwarders (docs/RELOAD.md: the slots
 *    that forwarder's reloads made): that forwarder sends it (ViewPart,
 *    in parts) whenever the remote does not apply its current
 *    generation (Pong.view_gen), and it is applied as the local
 *    classifier applies a new view from shared memory: put in this
 *    process's own view buffers, then view.c cls_view_poll (health kept
 *    for the same backends, schedulers and Maglev tables rebuilt, flows
 *    of retired backends evicted).  Every ping and pong carries a digest
 *    of the slots (punt_services_digest), and a forwarder whose view
 *    differs (another forwarder's, or its own while a view is on its
 *    way) does not use it (counted there).
 *
 * One thread: poll() on the two sockets, at most 1 ms asleep so that
 * the expiry scans and the health poll run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "halb/cfg.h"
#include "halb/clock.h"
#include "halb/hb.h"
#include "halb/mh.h"
#include "halb/notify.h"
#include "halb/pkt.h"
#include "halb/punt_msg.h"
#include "halb/quit.h"
#include "halb/sock.h"
#include "cls.h"
#include "remote.h"

#define RCLS_HB_MS 10

static volatile bool quit;

struct rcls_fwd {
	const struct cfg_peer *cfg;   /* name and the pair's key */
	uint64_t boot;                /* its boot id, 0: not heard yet */
	uint64_t frames, decisions;
};

struct rcls {
	struct cls c;
	int fd;                        /* classifiers.serve.listen */
	struct seal_keyring *keys;
	struct seal_replay *replay;
	uint64_t boot, seq;
	uint64_t digest;
	struct rcls_fwd fwd[CFG_MAX_PUNTERS];
	bool pinned;                   /* some forwarder has an address */
	void *mem[CFG_MAX_WORKERS];
	/* The view followed: parts being put together, in vcfg; the
	 * generation and boot of the forwarder's it applies; the local
	 * generation of shm->view. */
	struct punt_view_rx vrx;
	struct halb_cfg *vcfg;
	uint64_t view_gen, view_boot, local_gen;
	struct rcls_stats st;
	/* Answers sealed and not sent yet: sent together (sendmmsg) at the
	 * end of a burst of datagrams (rcls_flush). */
	uint32_t n_out;
	struct rcls_out {
		uint8_t buf[SEAL_MTU];
		struct sockaddr_storage to;
		socklen_t tolen;
		uint32_t len;
	} out[RCLS_BURST];
};

/* TSC ticks a second, measured against CLOCK_MONOTONIC (no EAL here). */
static uint64_t
tsc_hz_measure(void)
{
	struct timespec a, b;
	uint64_t t0, t1, ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = rte_rdtsc();
	usleep(50000);
	t1 = rte_rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull +
	     (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
	return ns == 0 ? 1000000000ull : (t1 - t0) * 1000000000ull / ns;
}

/* Service slot s's Maglev tables, as halb_shm_mh_alloc makes them in
 * the forwarder's memory: one size for every slot, whatever its
 * backends, so that a view that adds backends keeps the table (and the
 * size is the forwarder's, so the tables agree). */
static int
mh_alloc(struct halb_shm *shm, uint32_t s)
{
	struct halb_mh_shm *mh = &shm->mh[s];

	if (mh->table[0] != NULL)
		return 0;
	mh->size = mh_table_size(CFG_MAX_BACKENDS);
	mh->table[0] = calloc(mh->size, sizeof(uint16_t));
	mh->table[1] = calloc(mh->size, sizeof(uint16_t));
	if (mh->table[0] == NULL || mh->table[1] == NULL) {
		free(mh->table[0]);
		free(mh->table[1]);
		mh->table[0] = mh->table[1] = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The state decide.c and health.c work on, in this process's memory. */
static int
mem_init(struct rcls *r, struct halb_cfg *cfg)
{
	struct halb_shm *shm;
	uint32_t w, s, entries;
	size_t qsz;
	int rc;

	r->c.cfg = cfg;
	r->c.own_tables = true;
	r->c.hfd = -1;
	r->c.lock_fd = -1;
	shm = r->c.shm = calloc(1, sizeof(*shm));
	if (shm == NULL)
		return -ENOMEM;
	shm->tsc_hz = tsc_hz_measure();
	shm->tsc_base = rte_rdtsc();
	shm->n_workers = cfg->n_workers ? cfg->n_workers : 1;
	shm->n_services = cfg->n_services;
	/* Its view buffers, as the forwarder's (halb_shm_view_publish):
	 * written here when a forwarder's view comes (on_view). */
	shm->views[0] = calloc(1, sizeof(*shm->views[0]));
	shm->views[1] = calloc(1, sizeof(*shm->views[1]));
	r->vcfg = calloc(1, sizeof(*r->vcfg));
	if (shm->views[0] == NULL || shm->views[1] == NULL || r->vcfg == NULL)
		return -ENOMEM;
	r->vrx.cfg = r->vcfg;
	qsz = rte_rcu_qsbr_get_memsize(1);
	shm->qsbr = aligned_alloc(64, (qsz + 63) & ~(size_t)63);
	if (shm->qsbr == NULL || rte_rcu_qsbr_init(shm->qsbr, 1) != 0)
		return -ENOMEM;
	for (s = 0; s < cfg->n_services; s++) {
		rc = mh_alloc(shm, s);
		if (rc != 0)
			return rc;
	}
	entries = cfg->flow_entries;
	for (w = 0; w < shm->n_workers; w++) {
		size_t sz = (flow_table_mem_size(entries) + 63) & ~(size_t)63;

		shm->workers[w].fb_marks = calloc(HALB_FB_MARKS, sizeof(uint32_t));
		r->mem[w] = aligned_alloc(64, sz);
		if (shm->workers[w].fb_marks == NULL || r->mem[w] == NULL)
			return -ENOMEM;
		flow_table_init(&shm->workers[w].flows, r->mem[w], entries, w);
		rc = flow_writer_init(&r->c.fw[w], &shm->workers[w].flows,
				      shm->qsbr);
		if (rc != 0)
			return rc;
		cls_sweep_start(&r->c, w, rte_rdtsc());
	}
	return svc_map_build(&r->c.svcs, cfg);
}

static void
mem_fini(struct rcls *r)
{
	struct halb_shm *shm = r->c.shm;
	uint32_t w, s;

	if (shm == NULL)
		return;
	for (w = 0; w < CFG_MAX_WORKERS; w++) {
		if (r->mem[w] != NULL)
			flow_writer_fini(&r->c.fw[w]);
		free(r->mem[w]);
		free(shm->workers[w].fb_marks);
	}
	for (s = 0; s < CFG_MAX_SERVICES; s++) {
		free(shm->mh[s].table[0]);
		free(shm->mh[s].table[1]);
	}
	svc_map_free(&r->c.svcs);
	free(shm->views[0]);
	free(shm->views[1]);
	free(r->vcfg);
	free(shm->qsbr);
	free(shm);
}

/* The keyring of the forwarders it answers, and its socket(s). */
static int
net_init(struct rcls *r)
{
	const struct cfg_classifiers *cc = &r->c.cfg->classifiers;
	uint32_t i;
	int rc;

	r->keys = seal_keyring_new(cc->n_punters + 1);
	r->replay = seal_replay_new(cc->n_punters + 1, 0);
	if (r->keys == NULL || r->replay == NULL)
		return -ENOMEM;
	for (i = 0; i < cc->n_punters; i++) {
		rc = seal_keyring_add(r->keys, cc->punters[i].name,
				      &cc->punters[i].key, SEAL_ROLE_PUNTER);
		if (rc != 0)
			return rc;
		r->fwd[i].cfg = &cc->punters[i];
		r->pinned |= !halb_ip_is_zero(&cc->punters[i].ip);
		if (halb_ip_is_zero(&cc->punters[i].ip))
			CLS_LOG(WARNING, "forwarder %s has no address: its answers go to each datagram's source (set serve.forwarders[].address to answer it only there)",
				cc->punters[i].name);
	}
	r->fd = halb_udp_bind(&cc->serve_ip, cc->serve_port);
	if (r->fd < 0) {
		CLS_LOG(ERR, "cannot bind classifiers.serve.listen port %u: %s",
			cc->serve_port, strerror(-r->fd));
		return r->fd;
	}
	if (cc->has_serve_health) {
		/* healthd's snapshots over UDP: the same datagrams, the
		 * same checks, another socket (health.c reads c->hfd). */
		int hfd = halb_udp_bind(&cc->serve_health_ip,
					cc->serve_health_port);

		if (hfd < 0) {
			CLS_LOG(ERR, "cannot bind classifiers.serve.health port %u: %s",
				cc->serve_health_port, strerror(-hfd));
			return hfd;
		}
		if (r->c.hfd >= 0) {
			close(r->c.hfd);
			unlink(r->c.cfg->health.socket);
		}
		if (r->c.hkeys == NULL) {
			close(hfd);
			CLS_LOG(WARNING, "classifiers.serve.health: health { } has no key: snapshots ignored");
		} else {
			r->c.hfd = hfd;
			r->c.hlast_ms = cls_wall_ms();
		}
	}
	return 0;
}

static struct rcls_fwd *
fwd_find(struct rcls *r, const char *name)
{
	uint32_t i;

	for (i = 0; i < r->c.cfg->classifiers.n_punters; i++)
		if (strcmp(r->fwd[i].cfg->name, name) == 0)
			return &r->fwd[i];
	return NULL;
}

static void
send_sealed(struct rcls *r, struct rcls_fwd *f, enum punt_type type,
	    const ProtobufCMessage *m, const struct sockaddr_storage *to,
	    socklen_t tolen)
{
	struct rcls_out *o;
	int len;

	if (r->n_out == RCLS_BURST)
		rcls_flush(r);
	o = &r->out[r->n_out];
	len = punt_seal(o->buf, sizeof(o->buf), &f->cfg->key,
			r->c.cfg->classifiers.serve_name,
			halb_next_seq(&r->seq), halb_unix_ms(), type, m);
	if (len < 0) {
		r->st.tx_errors++;
		return;
	}
	o->len = (uint32_t)len;
	memcpy(&o->to, to, tolen);
	o->tolen = tolen;
	r->n_out++;
}

void
rcls_flush(struct rcls *r)
{
	struct mmsghdr mh[RCLS_BURST];
	struct iovec iov[RCLS_BURST];
	uint32_t i, done = 0;
	int n;

	for (i = 0; i < r->n_out; i++) {
		iov[i].iov_base = r->out[i].buf;
		iov[i].iov_len = r->out[i].len;
		memset(&mh[i], 0, sizeof(mh[i]));
		mh[i].msg_hdr.msg_name = &r->out[i].to;
		mh[i].msg_hdr.msg_namelen = r->out[i].tolen;
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
	}
	/* One system call for the burst; a datagram the kernel refuses
	 * (a full buffer, an unreachable forwarder) is counted and the
	 * rest go on. */
	while (done < r->n_out) {
		n = sendmmsg(r->fd, &mh[done], r->n_out - done, MSG_DONTWAIT);
		if (n <= 0) {
			r->st.tx_errors++;
			done++;
			continue;
		}
		r->st.tx_calls++;
		done += (uint32_t)n;
	}
	r->n_out = 0;
}

/* Decides every frame of a batch: the decisions go back in one datagram
 * (a batch holds at most PUNT_BATCH_MAX frames, and as many decisions
 * fit one datagram: tests/unit/test_punt_msg.c). */
static void
on_punt(struct rcls *r, struct rcls_fwd *f, const Halb__Punt__PuntBatch *b,
	const struct sockaddr_storage *from, socklen_t fromlen)
{
	Halb__Punt__Decision d[PUNT_BATCH_MAX], *dp[PUNT_BATCH_MAX];
	Halb__Punt__DecisionBatch out;
	struct halb_shm *shm = r->c.shm;
	size_t i;

	r->st.punts++;
	f->boot = b->boot;
	halb__punt__decision_batch__init(&out);
	out.boot = r->boot;
	out.peer_boot = b->boot;
	for (i = 0; i < b->n_frames; i++) {
		const Halb__Punt__Frame *fr = b->frames[i];
		uint32_t usr = 0, w = fr->worker;
		struct pkt_info pi;

		halb__punt__decision__init(&d[i]);
		dp[i] = &d[i];
		d[i].id = fr->id;
		r->st.frames++;
		f->frames++;
		if (w >= shm->n_workers) {
			/* A forwarder with more workers than our file: its
			 * frames share our tables (they only record what we
			 * decided; flow_elsewhere looks in all of them). */
			r->st.bad_worker++;
			w %= shm->n_workers;
		}
		if ((fr->flags & PUNT_F_MARKED) &&
		    pkt_parse(fr->data.data, (uint32_t)fr->data.len, &pi) == PKT_OK &&
		    pi.kind == PKT_KIND_FLOW)
			halb_fb_mark(shm->workers[w].fb_marks,
				     pkt_flow_hash(&pi.key), r->c.now_ms);
		if (!cls_decide(&r->c, w, fr->data.data, (uint32_t)fr->data.len,
				&usr)) {
			r->st.refused_frames++;
			d[i].flags = PUNT_D_REFUSED;
			continue;
		}
		d[i].svc = HALB_RET_SVC(usr);
		d[i].backend = HALB_RET_BACKEND(usr);
		d[i].flags = usr & HALB_RET_F_STATELESS ? PUNT_D_STATELESS : 0;
		r->st.decisions++;
		f->decisions++;
	}
	out.n_decisions = b->n_frames;
	out.decisions = dp;
	send_sealed(r, f, PUNT_T_DECISION, &out.base, from, fromlen);
}

static void
on_ping(struct rcls *r, struct rcls_fwd *f, const Halb__Punt__Ping *p,
	const struct sockaddr_storage *from, socklen_t fromlen)
{
	Halb__Punt__Pong out;
	uint64_t refused = 0;
	uint32_t i;

	r->st.pings++;
	if (f->boot != p->boot && f->boot != 0)
		CLS_LOG(INFO, "forwarder %s restarted (boot %" PRIx64 ")",
			f->cfg->name, p->boot);
	f->boot = p->boot;
	if (p->cfg_digest != r->digest && r->st.digest_mismatch++ == 0)
		CLS_LOG(WARNING, "forwarder %s has other service slots than %s: it will not use this classifier until both agree",
			f->cfg->name, r->c.cfg->path);
	for (i = 0; i < SEAL_REJ__COUNT; i++)
		refused += r->st.refused[i];
	halb__punt__pong__init(&out);
	out.boot = r->boot;
	out.peer_boot = p->boot;
	out.cfg_digest = r->digest;
	out.decisions = r->st.decisions;
	out.refused = refused;
	out.view_follow = f == &r->fwd[0];
	out.view_gen = out.view_follow && r->view_boot == p->boot ? r->view_gen : 0;
	send_sealed(r, f, PUNT_T_PONG, &out.base, from, fromlen);
}

/* from is f's configured address, or f has none. */
static bool
from_configured(const struct rcls_fwd *f, const struct sockaddr_storage *from)
{
	struct halb_ip ip;
	uint16_t port;

	if (halb_ip_is_zero(&f->cfg->ip))
		return true;
	return halb_sockaddr_ip((const struct sockaddr *)from, &ip, &port) &&
	       halb_ip_eq(&ip, &f->cfg->ip);
}

/* The view put together in r->vcfg, made this process's: published in
 * its view buffers as the forwarder publishes its own, then applied by
 * view.c as the local classifier applies a reload's. */
static int
view_apply(struct rcls *r)
{
	struct halb_shm *shm = r->c.shm;
	const struct halb_cfg *v = r->vcfg;
	struct halb_view_shm *buf = shm->view == shm->views[0] ? shm->views[1] :
								 shm->views[0];
	uint32_t s;
	int rc;

	for (s = 0; s < v->n_services; s++)
		if (v->services[s].slot != CFG_SLOT_FREE) {
			rc = mh_alloc(shm, s);
			if (rc != 0)
				return rc;
		}
	buf->gen = 0;
	buf->n_services = v->n_services;
	memcpy(buf->services, v->services, sizeof(v->services[0]) * v->n_services);
	buf->gen = ++r->local_gen;
	shm->view = buf;
	shm->view_gen = r->local_gen;
	rc = cls_view_poll(&r->c, halb_unix_ms());
	if (rc != 0)
		return rc;
	r->digest = punt_services_digest(r->c.cfg);
	return 0;
}

static void
on_view(struct rcls *r, struct rcls_fwd *f, const Halb__Punt__ViewPart *p)
{
	int rc;

	r->st.view_parts++;
	if (f != &r->fwd[0]) {
		r->st.view_ignored++;
		return;
	}
	if (p->boot == r->view_boot && p->gen == r->view_gen)
		return; /* applied already: a resend */
	rc = punt_view_rx_part(&r->vrx, p);
	if (rc < 0) {
		if (r->st.view_bad++ < 10)
			CLS_LOG(WARNING, "forwarder %s: a part of its view generation %" PRIu64 " disagrees with the others: dropped, waiting for it again",
				f->cfg->name, p->gen);
		return;
	}
	if (rc == 0)
		return;
	rc = view_apply(r);
	if (rc != 0) {
		r->st.view_failed++;
		CLS_LOG(ERR, "forwarder %s: cannot apply its view generation %" PRIu64 ": %s",
			f->cfg->name, p->gen, strerror(-rc));
		r->vrx.n_parts = 0;
		return;
	}
	r->view_boot = p->boot;
	r->view_gen = p->gen;
	r->st.views++;
	CLS_LOG(INFO, "following forwarder %s's view generation %" PRIu64 ": %u service slot(s) in %u part(s)",
		f->cfg->name, p->gen, r->c.cfg->n_services, p->n_parts);
}

static void
input_one(struct rcls *r, const uint8_t *buf, size_t len,
	  const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct punt_opened o;
	struct rcls_fwd *f;
	int rc;

	r->st.rx++;
	/* Not from where the forwarder it names lives: a copy sent with a
	 * forged source, which we would answer there.  Refused before it
	 * is opened, so that it cannot take the real datagram's place in
	 * the replay marks either. */
	if (r->pinned) {
		char who[SEAL_NAME_MAX + 1];

		seal_peek_sender(buf, len, who, sizeof(who));
		f = fwd_find(r, who);
		if (f != NULL && !from_configured(f, from)) {
			if (r->st.wrong_source++ < 10) {
				char a[96];

				CLS_LOG(WARNING, "datagram claiming to be from forwarder %s came from %s, not its address: not answered",
					f->cfg->name,
					halb_sockaddr_fmt((const struct sockaddr *)from,
							  a, sizeof(a)));
			}
			return;
		}
	}
	rc = punt_open(buf, len, r->keys, r->replay, halb_unix_ms(), &o);
	if (rc < 0) {
		if (-rc < SEAL_REJ__COUNT)
			r->st.refused[-rc]++;
		if (r->st.rx_refused_logged++ < 10) {
			char who[SEAL_NAME_MAX + 1];

			seal_peek_sender(buf, len, who, sizeof(who));
			CLS_LOG(WARNING, "datagram refused (%s), claiming to be from \"%s\"",
				seal_reject_name(rc), who);
		}
		return;
	}
	f = fwd_find(r, o.sender); /* the keyring holds only these */
	if (f == NULL) {
		r->st.refused[SEAL_REJ_UNKNOWN_SENDER]++;
	} else if (o.type == PUNT_T_PUNT) {
		on_punt(r, f, o.punt, from, fromlen);
	} else if (o.type == PUNT_T_PING) {
		on_ping(r, f, o.ping, from, fromlen);
	} else if (o.type == PUNT_T_VIEW) {
		on_view(r, f, o.view);
	}
	punt_opened_free(&o);
}

void
rcls_input(struct rcls *r, const uint8_t *buf, size_t len,
	   const struct sockaddr_storage *from, socklen_t fromlen)
{
	input_one(r, buf, len, from, fromlen);
	rcls_flush(r);
}

void
rcls_input_many(struct rcls *r, const struct rcls_dgram *d, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		input_one(r, d[i].buf, d[i].len, &d[i].from, d[i].fromlen);
	rcls_flush(r);
}

struct rcls *
rcls_new(struct halb_cfg *cfg)
{
	struct rcls *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return NULL;
	r->fd = -1;
	rc = mem_init(r, cfg);
	if (rc == 0)
		rc = cls_health_init(&r->c);
	if (rc == 0)
		rc = net_init(r);
	if (rc != 0) {
		rcls_free(r);
		errno = -rc;
		return NULL;
	}
	/* Any value but 0, new at each start. */
	r->boot = halb_unix_us() | 1;
	r->digest = punt_services_digest(cfg);
	return r;
}

void
rcls_free(struct rcls *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->c.shm != NULL)
		cls_health_fini(&r->c);
	seal_keyring_free(r->keys);
	seal_replay_free(r->replay);
	mem_fini(r);
	free(r);
}

const struct rcls_stats *
rcls_stats(const struct rcls *r)
{
	return &r->st;
}

struct cls *
rcls_cls(struct rcls *r)
{
	return &r->c;
}

/* Between datagrams: the clock, the expiry scans, the health socket. */
void
rcls_turn(struct rcls *r)
{
	uint64_t now = rte_rdtsc();
	uint32_t w;

	r->c.now_ms = halb_now_ms(r->c.shm, now);
	cls_health_poll(&r->c, now);
	for (w = 0; w < r->c.shm->n_workers; w++)
		cls_housekeep(&r->c, w, now);
}

int
rcls_main(struct halb_cfg *cfg)
{
	static uint8_t buf[RCLS_BURST][SEAL_MAX_DATAGRAM + 1];
	static struct rcls_dgram d[RCLS_BURST];
	struct mmsghdr mh[RCLS_BURST];
	struct iovec iov[RCLS_BURST];
	uint64_t beat_ms = 0;
	struct halb_hb *hb;
	struct rcls *r;
	uint32_t i;
	int n;

	if (!cfg->classifiers.has_serve) {
		fprintf(stderr, "%s: --remote needs classifiers { serve { ... } } (docs/CONFIG.md, \"classifiers\")\n",
			cfg->path);
		return 1;
	}
	rte_log_set_global_level(cfg->log.dpdk_level + 1u);
	r = rcls_new(cfg);
	if (r == NULL) {
		fprintf(stderr, "%s: the remote classifier cannot start: %s\n",
			cfg->path, strerror(errno));
		return 1;
	}
	/* Its own heartbeat file: on a machine that also runs a local
	 * classifier of the same file_prefix (a test rig), not its. */
	hb = halb_hb_open(cfg->file_prefix, "rclassifier", RCLS_HB_MS + 100);
	if (halb_quit_on_term(&quit) != 0) {
		rcls_free(r);
		return 1;
	}
	CLS_LOG(INFO, "remote classifier %s: %u worker table(s), %u service(s), port %u, %u forwarder(s)",
		cfg->classifiers.serve_name, r->c.shm->n_workers,
		cfg->n_services, cfg->classifiers.serve_port,
		cfg->classifiers.n_punters);
	printf("halb-classifier: ready (remote)\n");
	fflush(stdout);
	halb_notify_ready();
	if (hb != NULL)
		halb_hb_set_state(hb, HALB_HB_READY);
	while (!quit) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		uint64_t now_ms = halb_mono_ms();

		if (hb != NULL && now_ms - beat_ms >= RCLS_HB_MS) {
			beat_ms = now_ms;
			halb_hb_beat(hb, halb_hb_now_ns());
		}
		rcls_turn(r);
		if (poll(&pfd, 1, 1) <= 0)
			continue;
		/* Up to RCLS_BURST datagrams in one system call, their
		 * answers in one more (rcls_input_many). */
		for (i = 0; i < RCLS_BURST; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&mh[i], 0, sizeof(mh[i]));
			mh[i].msg_hdr.msg_name = &d[i].from;
			mh[i].msg_hdr.msg_namelen = sizeof(d[i].from);
			mh[i].msg_hdr.msg_iov = &iov[i];
			mh[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(r->fd, mh, RCLS_BURST, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		for (i = 0; i < (uint32_t)n; i++) {
			d[i].buf = buf[i];
			d[i].len = mh[i].msg_len;
			d[i].fromlen = mh[i].msg_hdr.msg_namelen;
		}
		r->c.now_ms = halb_now_ms(r->c.shm, rte_rdtsc());
		rcls_input_many(r, d, (uint32_t)n);
	}
	CLS_LOG(INFO, "stopping: %" PRIu64 " frames, %" PRIu64 " decisions, %" PRIu64 " datagrams refused (mac %" PRIu64 ", replay %" PRIu64 "), %" PRIu64 " from a wrong source",
		r->st.frames, r->st.decisions,
		r->st.refused[SEAL_REJ_BAD_MAC] + r->st.refused[SEAL_REJ_REPLAY] +
			r->st.refused[SEAL_REJ_STALE] + r->st.refused[SEAL_REJ_UNKNOWN_SENDER] +
			r->st.refused[SEAL_REJ_ROLE] + r->st.refused[SEAL_REJ_GARBLED],
		r->st.refused[SEAL_REJ_BAD_MAC], r->st.refused[SEAL_REJ_REPLAY],
		r->st.wrong_source);
	if (hb != NULL) {
		halb_hb_set_state(hb, HALB_HB_STOPPING);
		halb_hb_close(hb);
	}
	rcls_free(r);
	return 0;
}
