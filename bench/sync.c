/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-sync: session replication on one core through two sync
 * engines back to back (session/sync.c, libhalb_sync): A queues records,
 * batches, seals and "sends" them (into memory); B opens, decodes and
 * delivers them and acks; A takes the acks.  Every step of the wire is
 * real (protobuf, HMAC-SHA256 both ways, the replay and window checks);
 * only the socket is not.  The clock is the real one (the envelope's
 * time window needs it).
 *
 *  rate   records delivered per second of this thread's CPU time (the
 *         machine is shared: time spent descheduled is not the code's),
 *         and per second of wall time, for
 *         IPv4 and IPv6 sessions (--records of each, default 2M), and
 *         the same with --loss percent of A's batches dropped (default
 *         5; resends recover them); the median of --reps runs (default
 *         3), each on fresh engines, the machine being shared.
 *  bytes  sync bytes per replicated session: the datagrams A -> B (the
 *         batches, sealed) and everything both ways (with B's acks and
 *         the hellos), divided by the records delivered.
 *
 * Output: one "RESULT {json}" line per figure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "halb/flow-t.h"
#include "halb/seal.h"
#include "sync.h"

#define QCAP 4096u                /* datagrams between two ticks */
#define MAX_REPS 15u

struct dgram {
	uint16_t len;
	uint8_t buf[SEAL_MAX_DATAGRAM];
};

struct side {
	struct sync *s;
	struct dgram *q;          /* what it sent, for the other side */
	uint32_t nq;
	uint64_t bytes, datagrams;
	uint64_t delivered;
	bool synced;
};

static struct side sides[2];
static uint32_t loss_pct;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

static int
cb_send(void *arg, unsigned int p, const void *buf, size_t len)
{
	struct side *sd = arg;

	(void)p;
	sd->bytes += len;
	sd->datagrams++;
	/* Only A's batches are lost: they are what resends recover. */
	if (loss_pct != 0 && sd == &sides[0] && len > 200 &&
	    rnd() % 100 < loss_pct)
		return 0;
	if (sd->nq == QCAP) {
		fprintf(stderr, "bench-sync: queue full\n");
		exit(1);
	}
	sd->q[sd->nq].len = (uint16_t)len;
	memcpy(sd->q[sd->nq].buf, buf, len);
	sd->nq++;
	return 0;
}

static void
cb_deliver(void *arg, unsigned int p, const struct sess_rec *r)
{
	struct side *sd = arg;

	(void)p;
	(void)r;
	sd->delivered++;
}

static void
cb_dump(void *arg, unsigned int p)
{
	struct side *sd = arg;

	sync_dump_done(sd->s, p);
}

static void
cb_peer_state(void *arg, unsigned int p, bool alive, bool synced)
{
	struct side *sd = arg;

	(void)p;
	sd->synced = alive && synced;
}

static const struct sync_ops ops = {
	.send = cb_send, .deliver = cb_deliver, .dump = cb_dump,
	.peer_state = cb_peer_state,
};

/* What side i sent arrives at the other. */
static void
carry(int i, uint64_t now)
{
	struct side *from = &sides[i], *to = &sides[1 - i];
	uint32_t k;

	for (k = 0; k < from->nq; k++)
		sync_input(to->s, from->q[k].buf, from->q[k].len, NULL, 0, now);
	from->nq = 0;
}

static void
mk_rec(struct sess_rec *r, uint64_t id, bool v6)
{
	memset(r, 0, sizeof(*r));
	if (v6) {
		r->key.src[0] = 0x20;
		r->key.src[1] = 0x01;
		r->key.src[2] = 0x0d;
		r->key.src[3] = 0xb8;
		memcpy(&r->key.src[8], &id, 8);
		r->key.dst[0] = 0x20;
		r->key.dst[1] = 0x01;
		r->key.dst[15] = 0x10;
		r->be_addr[0] = 0xfd;
		r->be_addr[15] = (uint8_t)(1 + id % 100);
	} else {
		r->key.src[10] = r->key.src[11] = 0xff;
		r->key.src[12] = 10;
		r->key.src[13] = (uint8_t)(id >> 16);
		r->key.src[14] = (uint8_t)(id >> 8);
		r->key.src[15] = (uint8_t)id;
		r->key.dst[10] = r->key.dst[11] = 0xff;
		r->key.dst[12] = 203;
		r->key.dst[15] = 10;
		r->be_addr[10] = r->be_addr[11] = 0xff;
		r->be_addr[12] = 10;
		r->be_addr[15] = (uint8_t)(1 + id % 100);
	}
	r->key.sport = htons((uint16_t)(1024 + id % 60000));
	r->key.dport = htons(443);
	r->key.proto = 6;
	r->be_port = 8443;
	r->op = SESS_OP_UP;
	r->state = FLOW_ST_EST;
	r->idle_ms = (uint32_t)(id % 5000);
}

static void
mk_conf(struct sync_conf *c, int i)
{
	unsigned int k;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "appliance-%c", 'a' + i);
	c->n_peers = 1;
	snprintf(c->peers[0].name, sizeof(c->peers[0].name), "appliance-%c",
		 'a' + 1 - i);
	c->peers[0].key_len = 32;
	for (k = 0; k < 32; k++)
		c->peers[0].key[k] = (uint8_t)(0x33 * k + 1);
	c->resend_ms = 20;
	c->window = 128;
	c->backlog_max = 1u << 16;
	c->max_datagram = SEAL_MTU;
}

struct figures {
	double rate, wall_rate, bytes_ab, bytes_all, per_batch;
	uint64_t resent;
};

static int
run(uint64_t n, bool v6, uint32_t loss, struct figures *f)
{
	const struct sync_peer_stats *pa;
	struct sync_conf c;
	uint64_t queued = 0, t_now;
	double t0, w0, dt;
	int i;

	memset(sides, 0, sizeof(sides));
	for (i = 0; i < 2; i++) {
		sides[i].q = malloc(QCAP * sizeof(*sides[i].q));
		mk_conf(&c, i);
		sides[i].s = sync_new(&c, &ops, &sides[i], now_ns());
		if (sides[i].q == NULL || sides[i].s == NULL) {
			fprintf(stderr, "bench-sync: %s\n", strerror(errno));
			return 1;
		}
	}
	/* Meet: hellos, then the (empty) dumps both ways. */
	for (i = 0; i < 100 && !(sides[0].synced && sides[1].synced); i++) {
		t_now = now_ns();
		sync_tick(sides[0].s, t_now);
		sync_tick(sides[1].s, t_now);
		carry(0, t_now);
		carry(1, t_now);
	}
	if (!sides[0].synced || !sides[1].synced) {
		fprintf(stderr, "bench-sync: the engines did not meet\n");
		return 1;
	}
	sides[0].bytes = sides[1].bytes = 0;
	sides[0].datagrams = sides[1].datagrams = 0;
	loss_pct = loss;

	t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	w0 = clock_s(CLOCK_MONOTONIC);
	while (sides[1].delivered < n) {
		struct sess_rec r;
		uint32_t room = sync_room(sides[0].s, 0);

		/* The classifier's events, as fast as the backlog takes them. */
		while (room-- > 0 && queued < n) {
			mk_rec(&r, queued++, v6);
			if (sync_queue(sides[0].s, &r) != 0) {
				fprintf(stderr, "bench-sync: queue refused\n");
				return 1;
			}
		}
		t_now = now_ns();
		sync_tick(sides[0].s, t_now);
		carry(0, t_now);
		sync_tick(sides[1].s, t_now);
		carry(1, t_now);
	}
	dt = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
	f->wall_rate = (double)n / (clock_s(CLOCK_MONOTONIC) - w0);
	pa = sync_peer_stats(sides[0].s, 0);
	f->rate = (double)n / dt;
	f->bytes_ab = (double)sides[0].bytes / (double)n;
	f->bytes_all = (double)(sides[0].bytes + sides[1].bytes) / (double)n;
	f->per_batch = (double)pa->records_sent / (double)pa->batches_sent;
	f->resent = pa->batches_resent;
	for (i = 0; i < 2; i++) {
		sync_free(sides[i].s);
		free(sides[i].q);
	}
	return 0;
}

static int
cmp_rate(const void *a, const void *b)
{
	double x = ((const struct figures *)a)->rate;
	double y = ((const struct figures *)b)->rate;

	return x < y ? -1 : x > y;
}

/* reps runs of one case; the median's figures, and every rate. */
static int
one_case(uint64_t n, bool v6, uint32_t loss, unsigned int reps)
{
	struct figures f[MAX_REPS];
	unsigned int i;

	for (i = 0; i < reps; i++)
		if (run(n, v6, loss, &f[i]) != 0)
			return 1;
	qsort(f, reps, sizeof(f[0]), cmp_rate);
	printf("RESULT {\"what\": \"sync\", \"family\": \"%s\", "
	       "\"loss_pct\": %u, \"records\": %llu, \"reps\": %u, "
	       "\"records_per_s\": %.0f, \"min_per_s\": %.0f, "
	       "\"max_per_s\": %.0f, \"wall_per_s\": %.0f, "
	       "\"bytes_per_session\": %.1f, "
	       "\"bytes_per_session_all\": %.1f, \"records_per_batch\": %.1f, "
	       "\"resent\": %llu}\n",
	       v6 ? "ipv6" : "ipv4", loss, (unsigned long long)n, reps,
	       f[reps / 2].rate, f[0].rate, f[reps - 1].rate,
	       f[reps / 2].wall_rate,
	       f[reps / 2].bytes_ab, f[reps / 2].bytes_all,
	       f[reps / 2].per_batch, (unsigned long long)f[reps / 2].resent);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "loss", required_argument, NULL, 'l' },
		{ "reps", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t n = 2000000;
	uint32_t loss = 5;
	unsigned int reps = 3;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 'l':
			loss = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reps = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: %s [--records N] [--loss PCT] "
				"[--reps R]\n",
				argv[0]);
			return 2;
		}
	}
	if (n == 0 || loss >= 50 || reps == 0 || reps > MAX_REPS) {
		fprintf(stderr, "bench-sync: 1 <= records, loss < 50, "
			"1 <= reps <= %u\n", MAX_REPS);
		return 2;
	}
	if (one_case(n, false, 0, reps) || one_case(n, true, 0, reps) ||
	    one_case(n, false, loss, reps))
		return 1;
	return 0;
}
