/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-classifier --remote (classifier/remote.c) without a forwarder:
 * sealed punt batches in, sealed decisions out to the datagram's source,
 * the same decisions as the local classifier's code gives (the service,
 * a backend by the service's weights, the same backend for a SYN punted
 * twice, the Maglev table's for a frame its worker marked), a worker
 * beyond the file's refused, a replayed or forged batch refused and
 * counted, a ping answered with the slots' digest; the forwarder's view
 * followed (a reload's: retired backends get no new flow, a new one
 * does, the pong says which generation is applied).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/cfg.h"
#include "halb/clock.h"
#include "halb/hl_msg.h"
#include "halb/mh.h"
#include "halb/pkt.h"
#include "halb/punt_msg.h"
#include "halb/sock.h"
#include "cls.h"
#include "remote.h"

#define KEY_HEX "5a1e0c7d3b9f4e2a8c6d0b1f3e5a7c9d2b4f6a8c0e1d3b5f7a9c2e4d6b8f0a13"

static struct seal_key key;
static uint16_t port;
static uint64_t seq;

static uint16_t hport;
static char hsock[108];
/* serve.forwarders[0].address, when not NULL. */
static const char *fwd_address;

/* src with the classifiers section (and with_health: serve.health on
 * UDP, health.socket in /tmp). */
static struct halb_cfg *
remote_conf_of(const char *src, bool with_health)
{
	char path[] = "/tmp/halb-test-rcls-XXXXXX", line[512];
	FILE *in, *out;
	int fd, i;

	in = fopen(src, "r");
	assert_non_null(in);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	out = fdopen(fd, "w");
	while (fgets(line, sizeof(line), in) != NULL) {
		char *at = strstr(line, "@PREFIX@");

		if (at != NULL) {
			*at = '\0';
			fprintf(out, "%shalb-test-rcls%s", line, at + 8);
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	port = (uint16_t)(40000 + getpid() % 20000);
	hport = (uint16_t)(port + 1);
	if (with_health)
		fprintf(out, "classifiers = { serve = { name = \"cls1\"; listen = \"127.0.0.1:%u\";\n"
			"  health = \"127.0.0.1:%u\";\n"
			"  forwarders = ( { name = \"lb\"; key = \"%s\"; } ); }; };\n",
			port, hport, KEY_HEX);
	else
		fprintf(out, "classifiers = { serve = { name = \"cls1\"; listen = \"127.0.0.1:%u\";\n"
			"  forwarders = ( { name = \"lb\"; key = \"%s\";%s%s%s } ); }; };\n",
			port, KEY_HEX, fwd_address != NULL ? " address = \"" : "",
			fwd_address != NULL ? fwd_address : "",
			fwd_address != NULL ? "\";" : "");
	fclose(out);
	memset(&key, 0, sizeof(key));
	key.id = 1;
	key.len = 32;
	for (i = 0; i < 32; i++)
		sscanf(KEY_HEX + 2 * i, "%2hhx", &key.bytes[i]);
	{
		struct halb_cfg *cfg = cfg_load(path, stderr);

		unlink(path);
		assert_non_null(cfg);
		if (with_health) {
			snprintf(hsock, sizeof(hsock), "/tmp/halb-test-rcls-%d.health",
				 (int)getpid());
			snprintf(cfg->health.socket, sizeof(cfg->health.socket), "%s",
				 hsock);
		}
		return cfg;
	}
}

static struct halb_cfg *
remote_conf(void)
{
	return remote_conf_of(HALB_SRCDIR "/tests/pkt/pkt.conf", false);
}

/* Ethernet + IPv4 + TCP SYN (or UDP) from 198.18.1.x:sport to vip:dport. */
static uint32_t
frame(uint8_t *f, uint32_t client, uint16_t sport, const char *vip,
      uint16_t dport, uint8_t proto)
{
	uint32_t l4 = proto == IPPROTO_TCP ? 20 : 9;
	uint8_t *ip = f + 14, *p = ip + 20;
	uint16_t tot = (uint16_t)(20 + l4);
	uint32_t src = htonl(0xc6120100u | (client & 0xff));

	memset(f, 0, 14 + tot);
	memcpy(f, "\x02\x68\x00\x00\x00\x02\x02\x68\x00\x00\x00\xfe\x08\x00", 14);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	assert_int_equal(inet_pton(AF_INET, vip, ip + 16), 1);
	p[0] = (uint8_t)(sport >> 8);
	p[1] = (uint8_t)sport;
	p[2] = (uint8_t)(dport >> 8);
	p[3] = (uint8_t)dport;
	if (proto == IPPROTO_TCP) {
		p[12] = 5 << 4;
		p[13] = 0x02;
		p[15] = 0xff;
	} else {
		p[5] = 9;
		p[8] = 'q';
	}
	return 14u + tot;
}

struct rig {
	struct rcls *r;
	int fd;                         /* the "forwarder" */
	struct sockaddr_storage me;
	socklen_t melen;
	struct seal_keyring *kr;
	struct seal_replay *rp;
};

static void
rig_new_of(struct rig *g, struct halb_cfg *cfg)
{
	struct halb_ip lo;

	memset(g, 0, sizeof(*g));
	g->r = rcls_new(cfg);
	assert_non_null(g->r);
	assert_int_equal(halb_ip_parse("127.0.0.1", &lo), 0);
	g->fd = halb_udp_bind(&lo, 0);
	assert_true(g->fd >= 0);
	g->melen = sizeof(g->me);
	assert_int_equal(getsockname(g->fd, (struct sockaddr *)&g->me, &g->melen), 0);
	g->kr = seal_keyring_new(2);
	g->rp = seal_replay_new(2, 0);
	assert_int_equal(seal_keyring_add(g->kr, "cls1", &key, SEAL_ROLE_DECIDER), 0);
}

static void
rig_new(struct rig *g)
{
	rig_new_of(g, remote_conf());
}

static void
rig_free(struct rig *g)
{
	struct cls *c = rcls_cls(g->r);
	struct halb_cfg *cfg = c->cfg;

	rcls_free(g->r);
	cfg_free(cfg);
	close(g->fd);
	seal_keyring_free(g->kr);
	seal_replay_free(g->rp);
}

/* A punt batch of n frames (worker w, flags) sealed by "lb" with key k,
 * handed to the classifier as if from the rig's socket. */
static int
punt(struct rig *g, uint8_t frames[][64], const uint32_t *len, uint32_t n,
     uint32_t w, uint32_t flags, const struct seal_key *k, uint8_t *dg)
{
	Halb__Punt__Frame f[PUNT_BATCH_MAX], *fp[PUNT_BATCH_MAX];
	Halb__Punt__PuntBatch b;
	uint32_t i;
	int dlen;

	halb__punt__punt_batch__init(&b);
	b.boot = 77;
	for (i = 0; i < n; i++) {
		halb__punt__frame__init(&f[i]);
		f[i].id = i + 1;
		f[i].worker = w;
		f[i].flags = flags;
		f[i].data.data = frames[i];
		f[i].data.len = len[i];
		fp[i] = &f[i];
	}
	b.n_frames = n;
	b.frames = fp;
	dlen = punt_seal(dg, SEAL_MAX_DATAGRAM, k, "lb", halb_next_seq(&seq),
			 halb_unix_ms(), PUNT_T_PUNT, &b.base);
	assert_true(dlen > 0);
	rcls_input(g->r, dg, (size_t)dlen, &g->me, g->melen);
	return dlen;
}

/* The classifier's answer, opened. */
static void
answer(struct rig *g, struct punt_opened *o, enum punt_type type)
{
	uint8_t buf[SEAL_MAX_DATAGRAM];
	struct pollfd pfd = { .fd = g->fd, .events = POLLIN };
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 1000), 1);
	n = recv(g->fd, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(punt_open(buf, (size_t)n, g->kr, g->rp, halb_unix_ms(), o), 0);
	assert_int_equal(o->type, type);
}

static void
test_decisions(void **state)
{
	static uint8_t fr[PUNT_BATCH_MAX][64];
	uint32_t len[PUNT_BATCH_MAX], by[8] = { 0 }, i, round;
	uint8_t dg[SEAL_MAX_DATAGRAM];
	struct punt_opened o;
	uint16_t first[PUNT_BATCH_MAX];
	struct rig g;

	(void)state;
	rig_new(&g);
	/* 16 batches of 64 SYNs to dsr4 (weights 1:2:3). */
	for (round = 0; round < 16; round++) {
		for (i = 0; i < PUNT_BATCH_MAX; i++)
			len[i] = frame(fr[i], round * 7 + 1, (uint16_t)(10000 + i), "198.18.2.100",
				       80, IPPROTO_TCP);
		punt(&g, fr, len, PUNT_BATCH_MAX, 0, 0, &key, dg);
		answer(&g, &o, PUNT_T_DECISION);
		assert_int_equal(o.decision->n_decisions, PUNT_BATCH_MAX);
		assert_int_equal(o.decision->peer_boot, 77);
		for (i = 0; i < o.decision->n_decisions; i++) {
			const Halb__Punt__Decision *d = o.decision->decisions[i];

			assert_int_equal(d->id, i + 1);
			assert_int_equal(d->svc, 0);
			assert_int_equal(d->flags, 0);
			assert_true(d->backend < 3);
			by[d->backend]++;
			if (round == 15)
				first[i] = (uint16_t)d->backend;
		}
		punt_opened_free(&o);
	}
	/* 1024 flows by weights 1:2:3: b0 about 171, b2 about 512. */
	assert_true(by[0] > 100 && by[0] < 250);
	assert_true(by[2] > 420 && by[2] < 600);
	/* The last batch again (SYNs punted twice): the same backends. */
	punt(&g, fr, len, PUNT_BATCH_MAX, 0, 0, &key, dg);
	answer(&g, &o, PUNT_T_DECISION);
	for (i = 0; i < o.decision->n_decisions; i++)
		assert_int_equal(o.decision->decisions[i]->backend, first[i]);
	punt_opened_free(&o);
	assert_int_equal(rcls_cls(g.r)->shm->cls.existing, PUNT_BATCH_MAX);
	/* The same datagram once more: a replay, refused, no answer. */
	rcls_input(g.r, dg, SEAL_MAX_DATAGRAM, &g.me, g.melen);
	assert_true(rcls_stats(g.r)->refused[SEAL_REJ_GARBLED] +
		    rcls_stats(g.r)->refused[SEAL_REJ_REPLAY] == 1);
	rig_free(&g);
}

static void
test_refusals(void **state)
{
	static uint8_t fr[2][64];
	uint8_t dg[SEAL_MAX_DATAGRAM];
	struct punt_opened o;
	struct seal_key forged = key;
	uint32_t len[2];
	int dlen;
	struct rig g;

	(void)state;
	rig_new(&g);
	len[0] = frame(fr[0], 9, 5353, "198.18.2.103", 53, IPPROTO_UDP);
	len[1] = frame(fr[1], 9, 5354, "198.18.9.9", 53, IPPROTO_UDP); /* no VIP */
	/* A worker beyond the file's (pkt.conf: one worker): decided in
	 * the table of worker 3 % 1, counted. */
	punt(&g, fr, len, 1, 3, 0, &key, dg);
	answer(&g, &o, PUNT_T_DECISION);
	assert_int_equal(o.decision->decisions[0]->flags, 0);
	assert_int_equal(o.decision->decisions[0]->svc, 3);
	punt_opened_free(&o);
	assert_int_equal(rcls_stats(g.r)->bad_worker, 1);
	/* Marked by its worker: decided by the Maglev table (kept); and a
	 * frame to no service: refused. */
	len[0] = frame(fr[0], 9, 5355, "198.18.2.103", 53, IPPROTO_UDP);
	punt(&g, fr, len, 2, 0, PUNT_F_MARKED, &key, dg);
	answer(&g, &o, PUNT_T_DECISION);
	assert_int_equal(o.decision->decisions[0]->svc, 3);
	assert_int_equal(o.decision->decisions[0]->flags, 0);
	assert_int_equal(o.decision->decisions[1]->flags, PUNT_D_REFUSED);
	punt_opened_free(&o);
	assert_int_equal(rcls_cls(g.r)->shm->cls.kept, 1);
	assert_int_equal(rcls_cls(g.r)->shm->cls.no_service, 1);
	/* Forged (another key): refused, counted, unanswered. */
	forged.bytes[0] ^= 1;
	dlen = punt(&g, fr, len, 1, 0, 0, &forged, dg);
	assert_int_equal(rcls_stats(g.r)->refused[SEAL_REJ_BAD_MAC], 1);
	/* An honest one, then the same again: a replay. */
	dlen = punt(&g, fr, len, 1, 0, 0, &key, dg);
	answer(&g, &o, PUNT_T_DECISION);
	punt_opened_free(&o);
	rcls_input(g.r, dg, (size_t)dlen, &g.me, g.melen);
	assert_int_equal(rcls_stats(g.r)->refused[SEAL_REJ_REPLAY], 1);
	/* A ping: a pong with the slots' digest and the decisions so far. */
	{
		Halb__Punt__Ping p;

		halb__punt__ping__init(&p);
		p.boot = 77;
		dlen = punt_seal(dg, SEAL_MTU, &key, "lb", halb_next_seq(&seq),
				 halb_unix_ms(), PUNT_T_PING, &p.base);
		rcls_input(g.r, dg, (size_t)dlen, &g.me, g.melen);
		answer(&g, &o, PUNT_T_PONG);
		assert_int_equal(o.pong->peer_boot, 77);
		assert_int_equal(o.pong->cfg_digest,
				 punt_services_digest(rcls_cls(g.r)->cfg));
		assert_int_equal(o.pong->decisions, rcls_stats(g.r)->decisions);
		assert_int_equal(o.pong->refused, 2);
		punt_opened_free(&o);
	}
	rig_free(&g);
}

/*
 * A forwarder with an address (serve.forwarders[].address) is heard and
 * answered there only: its authentic batch sent from elsewhere (a copy
 * with a forged source) is not answered to that source, counted, and
 * does not spend the real one's replay mark.  Before, every authentic
 * datagram was answered to its source.
 */
static void
test_wrong_source(void **state)
{
	static uint8_t fr[1][64];
	uint8_t dg[SEAL_MAX_DATAGRAM];
	struct pollfd pfd;
	struct punt_opened o;
	uint32_t len[1];
	struct rig g;
	int dlen;

	(void)state;
	fwd_address = "127.0.0.2"; /* the rig sends from 127.0.0.1 */
	rig_new(&g);
	fwd_address = NULL;
	len[0] = frame(fr[0], 9, 5353, "198.18.2.103", 53, IPPROTO_UDP);
	dlen = punt(&g, fr, len, 1, 0, 0, &key, dg);
	pfd = (struct pollfd){ .fd = g.fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 200), 0);
	assert_int_equal(rcls_stats(g.r)->wrong_source, 1);
	assert_int_equal(rcls_stats(g.r)->decisions, 0);
	rig_free(&g);
	/* Its own address: answered; and the same datagram, which the
	 * copy from elsewhere did not spend. */
	fwd_address = "127.0.0.1";
	rig_new(&g);
	fwd_address = NULL;
	rcls_input(g.r, dg, (size_t)dlen, &g.me, g.melen);
	answer(&g, &o, PUNT_T_DECISION);
	assert_int_equal(o.decision->decisions[0]->svc, 3);
	punt_opened_free(&o);
	assert_int_equal(rcls_stats(g.r)->wrong_source, 0);
	rig_free(&g);
}

static int
view_part_in(void *arg, const Halb__Punt__ViewPart *p)
{
	struct rig *g = arg;
	uint8_t dg[SEAL_MAX_DATAGRAM];
	int dlen;

	dlen = punt_seal(dg, SEAL_MTU, &key, "lb", halb_next_seq(&seq),
			 halb_unix_ms(), PUNT_T_VIEW, &p->base);
	assert_true(dlen > 0);
	rcls_input(g->r, dg, (size_t)dlen, &g->me, g->melen);
	return 0;
}

/* A ping of boot 77; the pong's view fields. */
static void
view_pong(struct rig *g, bool *follow, uint64_t *gen, uint64_t *digest)
{
	uint8_t dg[SEAL_MAX_DATAGRAM];
	struct punt_opened o;
	Halb__Punt__Ping p;
	int dlen;

	halb__punt__ping__init(&p);
	p.boot = 77;
	dlen = punt_seal(dg, SEAL_MTU, &key, "lb", halb_next_seq(&seq),
			 halb_unix_ms(), PUNT_T_PING, &p.base);
	rcls_input(g->r, dg, (size_t)dlen, &g->me, g->melen);
	answer(g, &o, PUNT_T_PONG);
	*follow = o.pong->view_follow;
	*gen = o.pong->view_gen;
	*digest = o.pong->cfg_digest;
	punt_opened_free(&o);
}

/* 64 SYNs to dsr4 (198.18.2.100:80); by[] counts their backends. */
static void
dsr4_syns(struct rig *g, uint32_t client, uint32_t by[8])
{
	static uint8_t fr[PUNT_BATCH_MAX][64];
	uint32_t len[PUNT_BATCH_MAX], i;
	uint8_t dg[SEAL_MAX_DATAGRAM];
	struct punt_opened o;

	for (i = 0; i < PUNT_BATCH_MAX; i++)
		len[i] = frame(fr[i], client, (uint16_t)(20000 + i), "198.18.2.100",
			       80, IPPROTO_TCP);
	punt(g, fr, len, PUNT_BATCH_MAX, 0, 0, &key, dg);
	answer(g, &o, PUNT_T_DECISION);
	for (i = 0; i < o.decision->n_decisions; i++) {
		assert_int_equal(o.decision->decisions[i]->flags, 0);
		assert_true(o.decision->decisions[i]->backend < 8);
		by[o.decision->decisions[i]->backend]++;
	}
	punt_opened_free(&o);
}

static void
test_view(void **state)
{
	struct halb_cfg *v = calloc(1, sizeof(*v));
	struct cfg_service *cs;
	uint32_t by[8] = { 0 };
	uint64_t gen, digest;
	bool follow;
	struct rig g;

	(void)state;
	assert_non_null(v);
	rig_new(&g);
	/* Before any view: it follows "lb" (the only forwarder), none
	 * applied, its file's digest. */
	view_pong(&g, &follow, &gen, &digest);
	assert_true(follow);
	assert_int_equal(gen, 0);
	assert_int_equal(digest, punt_services_digest(rcls_cls(g.r)->cfg));
	/* The forwarder's view after a reload: dsr4's first two backends
	 * retired, a fourth one added (slot 3). */
	v->n_services = rcls_cls(g.r)->cfg->n_services;
	memcpy(v->services, rcls_cls(g.r)->cfg->services,
	       sizeof(v->services[0]) * v->n_services);
	cs = &v->services[0];
	assert_int_equal(cs->n_backends, 3);
	cs->backends[0].slot = CFG_SLOT_RETIRED;
	cs->backends[1].slot = CFG_SLOT_RETIRED;
	cs->backends[3] = cs->backends[2];
	assert_int_equal(halb_ip_parse("198.18.0.99", &cs->backends[3].ip), 0);
	cs->backends[3].weight = 3;
	cs->n_backends = 4;
	assert_true(punt_view_parts(v, 5, 77, 0, view_part_in, &g) > 1);
	assert_int_equal(rcls_stats(g.r)->views, 1);
	view_pong(&g, &follow, &gen, &digest);
	assert_int_equal(gen, 5);
	assert_int_equal(digest, punt_services_digest(v));
	/* New flows: on slots 2 and 3 only (weights 3:3). */
	dsr4_syns(&g, 40, by);
	assert_int_equal(by[0] + by[1], 0);
	assert_true(by[2] > 10 && by[3] > 10);
	/* The same generation again: nothing to apply. */
	assert_true(punt_view_parts(v, 5, 77, 0, view_part_in, &g) > 1);
	assert_int_equal(rcls_stats(g.r)->views, 1);
	free(v);
	rig_free(&g);
}

/* halb-healthd's snapshot over UDP (serve.health): web-dsr's third
 * backend (weight 2) down; no new flow goes to it. */
static void
test_health_udp(void **state)
{
	static uint8_t fr[PUNT_BATCH_MAX][64];
	uint32_t len[PUNT_BATCH_MAX], i, by[3] = { 0 };
	uint8_t dg[SEAL_MAX_DATAGRAM], buf[HL_MAX_DATAGRAM];
	Halb__Health__CacheSnapshot cs;
	Halb__Health__BackendState bs, *bp = &bs;
	struct sockaddr_storage ss;
	struct halb_ip lo;
	struct punt_opened o;
	struct rig g;
	struct cls *c;
	int n, tx;

	(void)state;
	rig_new_of(&g, remote_conf_of(HALB_SRCDIR "/conf/halb.conf", true));
	c = rcls_cls(g.r);
	halb__health__cache_snapshot__init(&cs);
	halb__health__backend_state__init(&bs);
	bs.service = (char *)(uintptr_t)"web-dsr";
	bs.address = (char *)(uintptr_t)"198.18.0.13";
	bs.port = 80;
	bs.state = HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN;
	bs.source = HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT;
	cs.generation = 1;
	cs.n_backends = 1;
	cs.backends = &bp;
	n = hl_seal(buf, HL_MAX_DATAGRAM, &c->cfg->health.key, c->cfg->health.name,
		    halb_unix_us(), cls_wall_ms(), HL_T_CACHE_SNAPSHOT, &cs.base);
	assert_true(n > 0);
	assert_int_equal(halb_ip_parse("127.0.0.1", &lo), 0);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(tx >= 0);
	assert_int_equal(sendto(tx, buf, (size_t)n, 0, (struct sockaddr *)&ss,
				halb_sockaddr(&lo, hport, &ss)), n);
	close(tx);
	for (i = 0; i < 100 && c->shm->cls.health_msgs == 0; i++) {
		usleep(1000);
		rcls_turn(g.r);
	}
	assert_int_equal(c->shm->cls.health_msgs, 1);
	assert_int_equal(c->shm->health[0][2].state, HALB_HEALTH_DOWN);
	for (i = 0; i < PUNT_BATCH_MAX; i++)
		len[i] = frame(fr[i], i + 1, (uint16_t)(20000 + i), "198.18.2.100", 80,
			       IPPROTO_TCP);
	punt(&g, fr, len, PUNT_BATCH_MAX, 0, 0, &key, dg);
	answer(&g, &o, PUNT_T_DECISION);
	for (i = 0; i < o.decision->n_decisions; i++) {
		assert_int_equal(o.decision->decisions[i]->svc, 0);
		by[o.decision->decisions[i]->backend]++;
	}
	punt_opened_free(&o);
	assert_int_equal(by[2], 0);
	assert_true(by[0] > 10 && by[1] > 10);
	rig_free(&g);
	unlink(hsock);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_wrong_source),
		cmocka_unit_test(test_health_udp),
		cmocka_unit_test(test_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
