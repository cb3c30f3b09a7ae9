/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's health cache (classifier/health.c): start-up from the
 * configuration or from what the forwarder's memory remembers; sealed
 * snapshots on health.socket changing state and weight (up, down,
 * draining), the schedulers and the Maglev tables; one grace period for
 * a batch however many services it changes; a failed rebuild kept
 * consistent, counted and retried; a silent handler; datagrams that are
 * refused (bad MAC, replay, garbage) or entries that are ignored; a
 * reload as the classifier follows it (classifier/view.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/cfg_reload.h"
#include "halb/hl_msg.h"
#include "halb/shm.h"
#include "cls_fix.h"

/* conf/halb.conf: web-dsr (0), web-nat (1), web-tunnel (2, backends on
 * the service's port 80), then the same over IPv6; weights 1, 1, 2. */
#define S_DSR 0
#define S_NAT 1
#define S_TUN 2

struct hfix {
	struct fix *x;
	char sock[108];
	int tx;        /* our sending socket */
	uint64_t seq;  /* healthd's sequence */
	uint64_t tsc;  /* the poll clock we hand cls_health_poll */
};

static int
setup(void **state)
{
	struct hfix *h = calloc(1, sizeof(*h));
	struct halb_cfg *cfg;

	assert_non_null(h);
	cfg = conf_load(HALB_SRCDIR "/conf/halb.conf");
	snprintf(h->sock, sizeof(h->sock), "/tmp/halb-test-clsh-%d/health.sock",
		 (int)getpid());
	snprintf(cfg->health.socket, sizeof(cfg->health.socket), "%s", h->sock);
	h->x = fix_new(cfg, 1024);
	assert_int_equal(cls_health_init(&h->x->c), 0);
	assert_true(h->x->c.hfd >= 0);
	h->tx = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(h->tx >= 0);
	h->seq = 1;
	*state = h;
	return 0;
}

static int
teardown(void **state)
{
	struct hfix *h = *state;
	char dir[sizeof(h->sock)], *slash;

	close(h->tx);
	fix_free(h->x); /* unlinks the socket */
	snprintf(dir, sizeof(dir), "%s", h->sock);
	slash = strrchr(dir, '/');
	*slash = '\0';
	rmdir(dir);
	free(h);
	return 0;
}

static void
send_raw(struct hfix *h, const void *buf, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", h->sock);
	assert_int_equal(sendto(h->tx, buf, len, 0, (struct sockaddr *)&sun,
				sizeof(sun)), (ssize_t)len);
}

static void
poll_now(struct hfix *h)
{
	h->tsc += 1000000000ull;
	cls_health_poll(&h->x->c, h->tsc);
}

struct be {
	const char *svc, *addr;
	uint32_t port, state, weight;
};

/* The source seal_snapshot gives its entries. */
static Halb__Health__StateSource snap_source =
	HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT;

/* Seals a snapshot of n entries as healthd (health.name, health.key). */
static size_t
seal_snapshot(struct hfix *h, const struct be *be, size_t n, uint64_t seq,
	      const struct seal_key *key, uint8_t *buf)
{
	Halb__Health__CacheSnapshot cs;
	Halb__Health__BackendState bs[8], *bp[8];
	size_t i;
	int len;

	assert_true(n <= 8);
	halb__health__cache_snapshot__init(&cs);
	for (i = 0; i < n; i++) {
		halb__health__backend_state__init(&bs[i]);
		bs[i].service = (char *)(uintptr_t)be[i].svc;
		bs[i].address = (char *)(uintptr_t)be[i].addr;
		bs[i].port = be[i].port;
		bs[i].state = (Halb__Health__HealthState)be[i].state;
		bs[i].weight = be[i].weight;
		bs[i].source = snap_source;
		bp[i] = &bs[i];
	}
	cs.full = false;
	cs.generation = seq;
	cs.n_backends = n;
	cs.backends = bp;
	len = hl_seal(buf, HL_MAX_DATAGRAM, key, h->x->c.cfg->health.name, seq,
		      cls_wall_ms(), HL_T_CACHE_SNAPSHOT, &cs.base);
	assert_true(len > 0);
	return (size_t)len;
}

static void
send_snapshot(struct hfix *h, const struct be *be, size_t n)
{
	uint8_t buf[HL_MAX_DATAGRAM];
	size_t len = seal_snapshot(h, be, n, h->seq++, &h->x->c.cfg->health.key,
				   buf);

	send_raw(h, buf, len);
	poll_now(h);
}

/* Positions of backend b in service s's published Maglev table. */
static uint32_t
mh_share(const struct hfix *h, uint32_t s, uint16_t b)
{
	const struct halb_mh_shm *mh = &h->x->c.shm->mh[s];
	const uint16_t *t = mh->table[mh->cur];
	uint32_t i, n = 0;

	for (i = 0; i < mh->size; i++)
		n += t[i] == b;
	return n;
}

/* Start-up without remembered health: the configured weights, every
 * backend up, every service built after one grace period. */
static void
test_init_from_config(void **state)
{
	struct hfix *h = *state;
	const struct halb_shm *shm = h->x->c.shm;
	uint32_t s, b;

	assert_true(shm->health_valid);
	for (s = 0; s < h->x->c.cfg->n_services; s++)
		for (b = 0; b < 3; b++) {
			assert_int_equal(shm->health[s][b].state, HALB_HEALTH_UP);
			assert_int_equal(shm->health[s][b].source, HALB_SRC_CONFIG);
			assert_int_equal(shm->health[s][b].weight, b == 2 ? 2 : 1);
			assert_int_equal(h->x->c.sched[s].weight[b], b == 2 ? 2 : 1);
		}
	assert_int_equal(shm->cls.mh_rebuilds, h->x->c.cfg->n_services);
	assert_int_equal(grace_periods(h->x), 2); /* tokens start at 1 */
	assert_int_equal(shm->cls.grace_periods, 1);
	/* Weight 2 holds about half of the table. */
	assert_true(mh_share(h, S_DSR, 2) > mh_share(h, S_DSR, 0) * 3 / 2);
}

static void
test_down_up_draining(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be down = { "web-dsr", "198.18.0.11", 80, HALB_HEALTH_DOWN, 1 };
	struct be drain = { "web-dsr", "198.18.0.12", 80, HALB_HEALTH_DRAINING, 1 };
	struct be up = { "web-dsr", "198.18.0.11", 80, HALB_HEALTH_UP, 1 };
	uint64_t rebuilds = c->shm->cls.mh_rebuilds;

	send_snapshot(h, &down, 1);
	assert_int_equal(c->shm->cls.health_msgs, 1);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_DOWN);
	assert_int_equal(c->shm->health[S_DSR][0].source, HALB_SRC_AGENT);
	assert_int_equal(c->sched[S_DSR].weight[0], 0);
	assert_int_equal(mh_share(h, S_DSR, 0), 0);
	/* down_flows "reset", the default: its flows go once it has been
	 * down for down_hold, not at once (a flap keeps them). */
	assert_int_equal(c->cfg->services[S_DSR].down_hold_ms, CFG_DOWN_HOLD_MS);
	assert_false(c->evict[S_DSR][0]);
	assert_true(c->hold_due_ms != 0);
	c->down_ms[S_DSR][0] -= CFG_DOWN_HOLD_MS; /* the hold has passed */
	c->hold_due_ms -= CFG_DOWN_HOLD_MS;
	poll_now(h);
	assert_true(c->evict[S_DSR][0]);
	assert_int_equal(c->hold_due_ms, 0);
	assert_int_equal(c->shm->cls.mh_rebuilds, rebuilds + 1);

	send_snapshot(h, &drain, 1);
	assert_int_equal(c->shm->health[S_DSR][1].state, HALB_HEALTH_DRAINING);
	assert_int_equal(c->sched[S_DSR].weight[1], 0);
	assert_int_equal(mh_share(h, S_DSR, 1), 0);
	assert_false(c->evict[S_DSR][1]); /* draining keeps its flows */
	assert_int_equal(mh_share(h, S_DSR, 2), c->shm->mh[S_DSR].size);

	send_snapshot(h, &up, 1);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_UP);
	assert_false(c->evict[S_DSR][0]);
	assert_int_equal(c->sched[S_DSR].weight[0], 1);
	assert_true(mh_share(h, S_DSR, 0) > 0);
	/* Other services untouched. */
	assert_int_equal(c->shm->health[S_NAT][0].state, HALB_HEALTH_UP);
	assert_int_equal(c->shm->cls.mh_rebuilds, rebuilds + 3);
}

/* A health flap shorter than down_hold (the chaos suite's b2 judged
 * down for a few hundred ms on a busy machine) costs the established
 * flows nothing: down then up, then the hold's end passes, and the
 * backend was never marked for eviction. */
static void
test_flap_keeps_flows(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be down = { "web-dsr", "198.18.0.12", 80, HALB_HEALTH_DOWN, 1 };
	struct be up = { "web-dsr", "198.18.0.12", 80, HALB_HEALTH_UP, 1 };

	send_snapshot(h, &down, 1);
	assert_int_equal(c->shm->health[S_DSR][1].state, HALB_HEALTH_DOWN);
	assert_int_equal(mh_share(h, S_DSR, 1), 0); /* no new connections */
	assert_false(c->evict[S_DSR][1]);
	send_snapshot(h, &up, 1);
	assert_int_equal(c->shm->health[S_DSR][1].state, HALB_HEALTH_UP);
	assert_int_equal(c->down_ms[S_DSR][1], 0);
	c->hold_due_ms = 1; /* the hold's end, long past */
	poll_now(h);
	assert_false(c->evict[S_DSR][1]);
	/* A service whose down_hold is short evicts once it is over. */
	c->cfg->services[S_DSR].down_hold_ms = 1;
	send_snapshot(h, &down, 1);
	usleep(3000);
	poll_now(h);
	assert_true(c->evict[S_DSR][1]);
	c->cfg->services[S_DSR].down_hold_ms = CFG_DOWN_HOLD_MS;
}

/* The operator's decisions come as any state does, with their source:
 * disabled is down (its flows go by down_flows), drained is draining
 * (its flows stay). */
static void
test_operator(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be dis = { "web-dsr", "198.18.0.11", 80, HALB_HEALTH_DOWN, 0 };
	struct be drain = { "web-dsr", "198.18.0.12", 80, HALB_HEALTH_DRAINING, 1 };
	struct be dis_nat = { "web-nat", "198.18.0.11", 8080, HALB_HEALTH_DOWN, 0 };
	struct be up = { "web-dsr", "198.18.0.11", 80, HALB_HEALTH_UP, 5 };

	snap_source = HALB__HEALTH__STATE_SOURCE__SOURCE_OPERATOR;

	send_snapshot(h, &dis, 1);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_DOWN);
	assert_int_equal(c->shm->health[S_DSR][0].source, HALB_SRC_OPERATOR);
	assert_int_equal(mh_share(h, S_DSR, 0), 0);
	assert_true(c->evict[S_DSR][0]);   /* down_flows "reset" */
	send_snapshot(h, &drain, 1);
	assert_int_equal(c->shm->health[S_DSR][1].source, HALB_SRC_OPERATOR);
	assert_int_equal(mh_share(h, S_DSR, 1), 0);
	assert_false(c->evict[S_DSR][1]);  /* drained: its flows stay */
	/* down_flows "keep": a disabled backend keeps its flows too. */
	c->cfg->services[S_NAT].down_flows = CFG_DOWN_KEEP;
	send_snapshot(h, &dis_nat, 1);
	assert_int_equal(c->shm->health[S_NAT][0].state, HALB_HEALTH_DOWN);
	assert_false(c->evict[S_NAT][0]);
	c->cfg->services[S_NAT].down_flows = CFG_DOWN_RESET;
	/* The operator's weight on an up backend. */
	send_snapshot(h, &up, 1);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_UP);
	assert_int_equal(c->sched[S_DSR].weight[0], 5);
	assert_false(c->evict[S_DSR][0]);
	snap_source = HALB__HEALTH__STATE_SOURCE__SOURCE_AGENT;
}

static void
test_weights(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be w[] = {
		{ "web-nat", "198.18.0.11", 8080, HALB_HEALTH_UP, 10 },
		{ "web-nat", "198.18.0.12", 8080, HALB_HEALTH_UP, 1 },
	};
	uint64_t rebuilds = c->shm->cls.mh_rebuilds;

	send_snapshot(h, w, 2);
	assert_int_equal(c->shm->health[S_NAT][0].weight, 10);
	assert_int_equal(c->sched[S_NAT].weight[0], 10);
	assert_int_equal(c->sched[S_NAT].weight[1], 1);
	assert_int_equal(c->sched[S_NAT].weight[2], 2);
	assert_true(mh_share(h, S_NAT, 0) > 3 * mh_share(h, S_NAT, 2));
	assert_int_equal(c->shm->cls.mh_rebuilds, rebuilds + 1);
	/* The same again changes nothing: no rebuild. */
	send_snapshot(h, w, 2);
	assert_int_equal(c->shm->cls.mh_rebuilds, rebuilds + 1);
	/* A weight change of a backend that is down touches no table: its
	 * effective weight stays 0. */
	w[1].state = HALB_HEALTH_DOWN;
	send_snapshot(h, &w[1], 1);
	assert_int_equal(c->shm->cls.mh_rebuilds, rebuilds + 2);
	w[1].weight = 7;
	send_snapshot(h, &w[1], 1);
	assert_int_equal(c->shm->health[S_NAT][1].weight, 7);
	assert_int_equal(c->shm->cls.mh_rebuilds, rebuilds + 2);
}

/* A snapshot that changes three services waits for one grace period,
 * not three: each held the classifier (and its heartbeat) for as long
 * as the slowest worker took to pass a quiescent state.  So do several
 * snapshots read in one poll. */
static void
test_one_grace_period_per_batch(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be three[] = {
		{ "web-dsr", "198.18.0.13", 80, HALB_HEALTH_DOWN, 2 },
		{ "web-nat", "198.18.0.13", 8080, HALB_HEALTH_DOWN, 2 },
		{ "web-tunnel", "198.18.0.13", 80, HALB_HEALTH_DOWN, 2 },
	};
	uint64_t gp = grace_periods(h->x), rebuilds = c->shm->cls.mh_rebuilds;

	send_snapshot(h, three, 3);
	assert_int_equal(c->shm->cls.mh_rebuilds, rebuilds + 3);
	assert_int_equal(grace_periods(h->x) - gp, 1);
	assert_int_equal(c->shm->cls.grace_periods, 2); /* start-up and this */
	assert_int_equal(mh_share(h, S_DSR, 2), 0);
	assert_int_equal(mh_share(h, S_NAT, 2), 0);
	assert_int_equal(mh_share(h, S_TUN, 2), 0);
	/* A snapshot that changes nothing waits for none. */
	send_snapshot(h, three, 3);
	assert_int_equal(grace_periods(h->x) - gp, 1);
	/* Three snapshots read in one poll, each changing a service: one
	 * grace period for the lot. */
	{
		struct be up[] = {
			{ "web-dsr", "198.18.0.13", 80, HALB_HEALTH_UP, 2 },
			{ "web-nat", "198.18.0.13", 8080, HALB_HEALTH_UP, 2 },
			{ "web-tunnel", "198.18.0.13", 80, HALB_HEALTH_UP, 2 },
		};
		uint8_t buf[HL_MAX_DATAGRAM];
		size_t i, len;

		for (i = 0; i < 3; i++) {
			len = seal_snapshot(h, &up[i], 1, h->seq++,
					    &c->cfg->health.key, buf);
			send_raw(h, buf, len);
		}
		poll_now(h);
		assert_int_equal(c->shm->cls.health_msgs, 5);
		assert_int_equal(c->shm->cls.mh_rebuilds, rebuilds + 6);
		assert_int_equal(grace_periods(h->x) - gp, 2);
		assert_true(mh_share(h, S_TUN, 2) > 0);
	}
}

/* A rebuild that fails leaves the scheduler and the published table on
 * the previous weights, together; it is counted and tried again until
 * it works. */
static void
test_failed_rebuild_retried(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be down = { "web-dsr", "198.18.0.12", 80, HALB_HEALTH_DOWN, 1 };
	uint32_t size = c->shm->mh[S_DSR].size, cur = c->shm->mh[S_DSR].cur;

	c->shm->mh[S_DSR].size = 4; /* mh_build refuses it: -EINVAL */
	send_snapshot(h, &down, 1);
	assert_int_equal(c->shm->health[S_DSR][1].state, HALB_HEALTH_DOWN);
	assert_int_equal(c->shm->cls.mh_failed, 1);
	assert_true(c->hdirty[S_DSR]);
	assert_int_equal(c->shm->mh[S_DSR].cur, cur);
	assert_int_equal(c->sched[S_DSR].weight[1], 1); /* as the table says */
	/* Retried at its time, still failing: counted again. */
	c->hretry_ms = 1;
	poll_now(h);
	assert_int_equal(c->shm->cls.mh_failed, 2);
	/* Then it works. */
	c->shm->mh[S_DSR].size = size;
	c->hretry_ms = 1;
	poll_now(h);
	assert_int_equal(c->shm->cls.mh_failed, 2);
	assert_false(c->hdirty[S_DSR]);
	assert_int_equal(c->hretry_ms, 0);
	assert_int_not_equal(c->shm->mh[S_DSR].cur, cur);
	assert_int_equal(c->sched[S_DSR].weight[1], 0);
	assert_int_equal(mh_share(h, S_DSR, 1), 0);
}

static void
test_bad_messages(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be down = { "web-dsr", "198.18.0.11", 80, HALB_HEALTH_DOWN, 1 };
	struct be unknown[] = {
		{ "no-such-service", "198.18.0.11", 80, HALB_HEALTH_DOWN, 1 },
		{ "web-dsr", "198.18.0.99", 80, HALB_HEALTH_DOWN, 1 },
		{ "web-dsr", "198.18.0.11", 81, HALB_HEALTH_DOWN, 1 },
	};
	struct be garbled = { "web-dsr", "not an address", 80, HALB_HEALTH_DOWN, 1 };
	uint8_t buf[HL_MAX_DATAGRAM];
	struct seal_key other = h->x->c.cfg->health.key;
	size_t len;

	/* Signed with another key. */
	other.bytes[0] ^= 1;
	len = seal_snapshot(h, &down, 1, h->seq++, &other, buf);
	send_raw(h, buf, len);
	poll_now(h);
	assert_int_equal(c->shm->cls.health_rejected, 1);
	/* Garbage. */
	memset(buf, 0xa5, 300);
	send_raw(h, buf, 300);
	poll_now(h);
	assert_int_equal(c->shm->cls.health_rejected, 2);
	/* One byte changed after sealing. */
	len = seal_snapshot(h, &down, 1, h->seq++, &c->cfg->health.key, buf);
	buf[len - 1] ^= 0x40;
	send_raw(h, buf, len);
	poll_now(h);
	assert_int_equal(c->shm->cls.health_rejected, 3);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_UP);
	assert_int_equal(c->shm->cls.health_msgs, 0);
	/* Accepted, then the same datagram again: a replay. */
	len = seal_snapshot(h, &down, 1, h->seq++, &c->cfg->health.key, buf);
	send_raw(h, buf, len);
	poll_now(h);
	assert_int_equal(c->shm->cls.health_msgs, 1);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_DOWN);
	send_raw(h, buf, len);
	poll_now(h);
	assert_int_equal(c->shm->cls.health_rejected, 4);
	/* Entries naming no configured backend: ignored one by one. */
	send_snapshot(h, unknown, 3);
	assert_int_equal(c->shm->cls.health_msgs, 2);
	assert_int_equal(c->shm->cls.health_ignored, 3);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_DOWN);
	/* An address that does not parse: refused by hl_open's range
	 * checks, or ignored here; either way counted, nothing applied. */
	send_snapshot(h, &garbled, 1);
	assert_int_equal(c->shm->cls.health_rejected + c->shm->cls.health_ignored,
			 4 + 3 + 1);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_DOWN);
}

/* No message for handler_timeout_ms: counted once, logged, the last
 * state stays; the next message ends the silence. */
static void
test_silence(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be down = { "web-dsr", "198.18.0.11", 80, HALB_HEALTH_DOWN, 1 };

	send_snapshot(h, &down, 1);
	c->hlast_ms = cls_wall_ms() - c->cfg->health.handler_timeout_ms - 10;
	poll_now(h);
	assert_true(c->hsilent);
	assert_int_equal(c->shm->cls.health_silent, 1);
	poll_now(h);
	assert_int_equal(c->shm->cls.health_silent, 1);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_DOWN);
	assert_int_equal(c->sched[S_DSR].weight[0], 0);
	down.state = HALB_HEALTH_UP;
	send_snapshot(h, &down, 1);
	assert_false(c->hsilent);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_UP);
}

/* A restarted classifier starts from the health the forwarder's memory
 * remembers, not from the configuration. */
static void
test_restart_remembers(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct be down = { "web-dsr", "198.18.0.11", 80, HALB_HEALTH_DOWN, 1 };
	struct be w5 = { "web-nat", "198.18.0.12", 8080, HALB_HEALTH_UP, 5 };

	send_snapshot(h, &down, 1);
	send_snapshot(h, &w5, 1);
	cls_health_fini(c);
	c->hkeys = NULL;
	c->hreplay = NULL;
	memset(c->sched, 0, sizeof(c->sched));
	memset(c->evict, 0, sizeof(c->evict));
	memset(c->down_ms, 0, sizeof(c->down_ms));
	c->hold_due_ms = 0;
	assert_int_equal(cls_health_init(c), 0);
	assert_int_equal(c->shm->health[S_DSR][0].state, HALB_HEALTH_DOWN);
	assert_int_equal(c->sched[S_DSR].weight[0], 0);
	/* The new process does not know since when: down_hold from now. */
	assert_false(c->evict[S_DSR][0]);
	assert_true(c->down_ms[S_DSR][0] != 0);
	c->down_ms[S_DSR][0] -= CFG_DOWN_HOLD_MS;
	c->hold_due_ms = 1;
	poll_now(h);
	assert_true(c->evict[S_DSR][0]);
	assert_int_equal(c->sched[S_NAT].weight[1], 5);
	assert_int_equal(mh_share(h, S_DSR, 0), 0);
}

/* Removes backend b of service s of cfg (file order). */
static void
drop_backend(struct halb_cfg *cfg, uint32_t s, uint32_t b)
{
	struct cfg_service *cs = &cfg->services[s];

	memmove(&cs->backends[b], &cs->backends[b + 1],
		(cs->n_backends - b - 1) * sizeof(cs->backends[0]));
	cs->n_backends--;
}

/*
 * A reload followed (classifier/view.c): web-dsr (down_flows reset)
 * loses 198.18.0.12 and gains 198.18.0.14, web-nat (made "keep") loses
 * 198.18.0.12.  The removed slots are retired: evicted in web-dsr, kept
 * in web-nat, out of the Maglev tables; the new one starts from its
 * configuration; an unchanged backend keeps the health its agent gave;
 * the generation is acknowledged.
 */
static void
test_view_follow(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct halb_shm *shm = c->shm;
	struct halb_cfg *in = malloc(sizeof(*in)), *out = malloc(sizeof(*out));
	struct cfg_service *ns;
	uint64_t rebuilds = shm->cls.mh_rebuilds;

	assert_non_null(in);
	assert_non_null(out);
	shm->health[S_DSR][0].source = HALB_SRC_AGENT;
	shm->health[S_DSR][0].weight = 5;
	memcpy(in, c->cfg, sizeof(*in));
	drop_backend(in, S_DSR, 1);
	ns = &in->services[S_DSR];
	ns->backends[ns->n_backends] = ns->backends[0];
	assert_int_equal(halb_ip_parse("198.18.0.14", &ns->backends[ns->n_backends].ip), 0);
	ns->n_backends++;
	drop_backend(in, S_NAT, 1);
	in->services[S_NAT].down_flows = CFG_DOWN_KEEP;
	assert_int_equal(cfg_slots_assign(c->cfg, in, NULL, NULL, out, NULL), 0);
	shm->views[0] = calloc(1, sizeof(*shm->views[0]));
	shm->views[1] = calloc(1, sizeof(*shm->views[1]));
	assert_non_null(shm->views[0]);
	assert_non_null(shm->views[1]);
	halb_shm_view_publish(shm, out, 2);

	assert_int_equal(cls_view_poll(c, 5000), 0);
	assert_int_equal(shm->cls_view_gen, 2);
	assert_int_equal(c->view_gen, 2);
	assert_int_equal(c->cfg->services[S_DSR].n_backends, 4);
	assert_int_equal(c->cfg->services[S_DSR].backends[1].slot, CFG_SLOT_RETIRED);
	assert_int_equal(c->cfg->services[S_DSR].backends[3].slot, CFG_SLOT_LIVE);
	assert_true(c->evict[S_DSR][1]);
	assert_false(c->evict[S_NAT][1]);
	assert_false(c->evict[S_DSR][0]);
	assert_false(c->evict[S_DSR][3]);
	/* Unchanged: the agent's word stays; new: from the configuration. */
	assert_int_equal(shm->health[S_DSR][0].source, HALB_SRC_AGENT);
	assert_int_equal(shm->health[S_DSR][0].weight, 5);
	assert_int_equal(shm->health[S_DSR][3].state, HALB_HEALTH_UP);
	assert_int_equal(shm->health[S_DSR][3].source, HALB_SRC_CONFIG);
	assert_int_equal(shm->health[S_DSR][3].weight, 1);
	/* The changed services rebuilt (web-dsr, web-nat), and only them. */
	assert_int_equal(shm->cls.mh_rebuilds, rebuilds + 2);
	assert_int_equal(mh_share(h, S_DSR, 1), 0);
	assert_int_equal(mh_share(h, S_NAT, 1), 0);
	/* ... and whatever the scheduler (wrr, wlc: weights, not the
	 * table), the retired backend has none, though its health is up. */
	assert_int_equal(shm->health[S_DSR][1].state, HALB_HEALTH_UP);
	assert_int_equal(c->sched[S_DSR].weight[1], 0);
	assert_int_equal(c->sched[S_NAT].weight[1], 0);
	assert_true(c->sched[S_DSR].weight[3] > 0);
	assert_true(mh_share(h, S_DSR, 3) > 0);
	assert_true(mh_share(h, S_DSR, 0) > mh_share(h, S_DSR, 3));
	/* Lookups still find the services by VIP. */
	assert_int_equal(svc_by_vip(&c->svcs, c->cfg->services[S_DSR].vip.b,
				    htons(80), IPPROTO_TCP), S_DSR);
	/* Nothing new: nothing done. */
	assert_int_equal(cls_view_poll(c, 6000), 0);
	assert_int_equal(shm->cls.mh_rebuilds, rebuilds + 2);
	free(shm->views[0]);
	free(shm->views[1]);
	shm->views[0] = shm->views[1] = shm->view = NULL;
	free(in);
	free(out);
}

/*
 * A slot that is live in two views the classifier follows with the same
 * name, scheduler and backends, but another VIP and mode (a classifier
 * that skipped the generations where the old slot was retired and freed
 * and the service came back into it): another service, rebuilt.
 */
static void
test_view_key_or_mode_changed(void **state)
{
	struct hfix *h = *state;
	struct cls *c = &h->x->c;
	struct halb_shm *shm = c->shm;
	struct halb_cfg *out = malloc(sizeof(*out));
	uint64_t rebuilds = shm->cls.mh_rebuilds;
	struct cfg_service *ns;

	assert_non_null(out);
	memcpy(out, c->cfg, sizeof(*out));
	ns = &out->services[S_DSR];
	ns->mode = CFG_MODE_NAT;
	assert_int_equal(halb_ip_parse("198.18.2.77", &ns->vip), 0);
	shm->views[0] = calloc(1, sizeof(*shm->views[0]));
	shm->views[1] = calloc(1, sizeof(*shm->views[1]));
	assert_non_null(shm->views[0]);
	assert_non_null(shm->views[1]);
	halb_shm_view_publish(shm, out, 2);
	assert_int_equal(cls_view_poll(c, 5000), 0);
	assert_int_equal(c->cfg->services[S_DSR].mode, CFG_MODE_NAT);
	assert_int_equal(shm->cls.mh_rebuilds, rebuilds + 1);
	/* The mode alone, back to DSR. */
	ns->mode = CFG_MODE_DSR;
	halb_shm_view_publish(shm, out, 3);
	assert_int_equal(cls_view_poll(c, 6000), 0);
	assert_int_equal(shm->cls.mh_rebuilds, rebuilds + 2);
	free(shm->views[0]);
	free(shm->views[1]);
	shm->views[0] = shm->views[1] = shm->view = NULL;
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_from_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_up_draining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flap_keeps_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operator, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_key_or_mode_changed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_weights, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_grace_period_per_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_rebuild_retried, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_remembers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_follow, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
