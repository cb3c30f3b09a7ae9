/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-bench-remote: what one core of a remote classifier decides
 * (classifier/remote.c), in isolation: N distinct SYN frames in batches
 * of 16 (one datagram of at most SEAL_MTU bytes, as the forwarder sends), each batch sealed as a forwarder seals it (punt_seal), handed
 * to the remote classifier (rcls_input: open, decide with decide.c,
 * install in its own table, seal and send the decision batch over
 * loopback), and the answer received and opened as the forwarder opens
 * it.  Both ends on this one thread: the figure is the cost per new
 * connection of the protocol and the decision together, a floor for a
 * classifier host's rate per core (its forwarders do their half on
 * their own cores).  No DPDK environment: the remote classifier needs
 * none.
 *
 * DEPTH batches are in flight at once (8 by default), as a forwarder
 * sends every batch its punt rings hold in one turn: the remote
 * classifier takes them together (rcls_input_many) and answers them
 * with one sendmmsg; the answers are read with recvmmsg.  DEPTH 1 is
 * one batch per round trip (what this bench measured before).
 *
 * usage: halb-bench-remote [CONF [N [DEPTH]]]   (conf/halb.conf, 1000000, 8)
 * Output: "RESULT {json}".
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "halb/cfg.h"
#include "halb/clock.h"
#include "halb/punt_msg.h"
#include "halb/sock.h"
#include "cls.h"
#include "remote.h"

/* SYNs of 54 bytes a datagram of SEAL_MTU holds, as the forwarder fills
 * it (forwarder/punt_remote.c). */
#define BATCH 16u
#define KEY_HEX "5a1e0c7d3b9f4e2a8c6d0b1f3e5a7c9d2b4f6a8c0e1d3b5f7a9c2e4d6b8f0a13"

static struct halb_cfg *
conf(const char *src, uint16_t port, uint32_t entries)
{
	char path[] = "/tmp/halb-bench-remote-XXXXXX", line[512];
	struct halb_cfg *cfg;
	FILE *in = fopen(src, "r"), *out;
	int fd = mkstemp(path);

	if (in == NULL || fd < 0 || (out = fdopen(fd, "w")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), in) != NULL)
		fputs(line, out);
	fclose(in);
	fprintf(out, "classifiers = { serve = { name = \"cls1\"; listen = \"127.0.0.1:%u\";\n"
		"  forwarders = ( { name = \"lb\"; key = \"%s\"; } ); }; };\n", port, KEY_HEX);
	fclose(out);
	cfg = cfg_load(path, stderr);
	unlink(path);
	if (cfg != NULL) {
		cfg->flow_entries = entries;
		cfg->has_health = false;
	}
	return cfg;
}

static uint32_t
syn(uint8_t *f, uint32_t i, const uint8_t vip[4], uint16_t vport)
{
	uint8_t *ip = f + 14, *p = ip + 20;

	memset(f, 0, 54);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 40;
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 10;
	ip[13] = (uint8_t)(i >> 16);
	ip[14] = (uint8_t)(i >> 8);
	ip[15] = (uint8_t)i;
	memcpy(ip + 16, vip, 4);
	p[0] = (uint8_t)(1024 + (i & 0x3fff) / 256);
	p[1] = (uint8_t)i;
	p[2] = (uint8_t)(vport >> 8);
	p[3] = (uint8_t)vport;
	p[12] = 5 << 4;
	p[13] = 0x02;
	p[15] = 0xff;
	return 54;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *src = argc > 1 ? argv[1] : "conf/halb.conf";
	uint32_t n = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 1000000;
	uint32_t depth = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 8;
	uint16_t port = (uint16_t)(42000 + getpid() % 10000);
	static uint8_t data[PUNT_BATCH_MAX][64];
	Halb__Punt__Frame f[PUNT_BATCH_MAX], *fp[PUNT_BATCH_MAX];
	static uint8_t dg[RCLS_BURST][SEAL_MAX_DATAGRAM], ans[RCLS_BURST][SEAL_MAX_DATAGRAM];
	static struct rcls_dgram in[RCLS_BURST];
	struct mmsghdr mh[RCLS_BURST];
	struct iovec iov[RCLS_BURST];
	uint8_t vip[4];
	struct halb_cfg *cfg = conf(src, port, n + n / 8 + 1024);
	struct seal_keyring *kr = seal_keyring_new(1);
	struct seal_replay *rp = seal_replay_new(1, 0);
	struct sockaddr_storage me;
	socklen_t melen = sizeof(me);
	uint64_t seq = 0, decided = 0;
	struct seal_key key = { .id = 1, .len = 32 };
	struct halb_ip lo;
	struct rcls *r;
	double t0, t;
	uint32_t i, k, j, got;
	int fd;

	if (depth == 0 || depth > RCLS_BURST) {
		fprintf(stderr, "halb-bench-remote: DEPTH is 1..%u\n", RCLS_BURST);
		return 1;
	}
	if (cfg == NULL || cfg->n_services == 0 || !halb_ip_is_v4(&cfg->services[0].vip)) {
		fprintf(stderr, "halb-bench-remote: %s: no IPv4 first service\n", src);
		return 1;
	}
	memcpy(vip, cfg->services[0].vip.b + 12, 4);
	for (i = 0; i < 32; i++)
		sscanf(KEY_HEX + 2 * i, "%2hhx", &key.bytes[i]);
	r = rcls_new(cfg);
	halb_ip_parse("127.0.0.1", &lo);
	fd = halb_udp_bind(&lo, 0);
	if (r == NULL || fd < 0 || kr == NULL || rp == NULL ||
	    getsockname(fd, (struct sockaddr *)&me, &melen) != 0 ||
	    seal_keyring_add(kr, "cls1", &key, SEAL_ROLE_DECIDER) != 0) {
		fprintf(stderr, "halb-bench-remote: set-up failed\n");
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < n; i += BATCH * depth) {
		/* depth batches sealed as the forwarder seals them ... */
		for (j = 0; j < depth; j++) {
			Halb__Punt__PuntBatch b;
			uint32_t base = i + j * BATCH;
			int dlen;

			halb__punt__punt_batch__init(&b);
			b.boot = 1;
			for (k = 0; k < BATCH; k++) {
				halb__punt__frame__init(&f[k]);
				f[k].id = base + k + 1;
				f[k].data.data = data[k];
				f[k].data.len = syn(data[k], base + k, vip,
						    cfg->services[0].port ? cfg->services[0].port : 80);
				fp[k] = &f[k];
			}
			b.n_frames = BATCH;
			b.frames = fp;
			dlen = punt_seal(dg[j], SEAL_MTU, &key, "lb", halb_next_seq(&seq),
					 halb_unix_ms(), PUNT_T_PUNT, &b.base);
			if (dlen < 0) {
				fprintf(stderr, "halb-bench-remote: seal: %d\n", dlen);
				return 1;
			}
			in[j].buf = dg[j];
			in[j].len = (size_t)dlen;
			memcpy(&in[j].from, &me, melen);
			in[j].fromlen = melen;
		}
		/* ... decided and answered together by the remote ... */
		rcls_input_many(r, in, depth);
		/* ... and the answers read and opened as the forwarder does. */
		for (got = 0; got < depth;) {
			int m;

			for (j = 0; j < depth - got; j++) {
				iov[j].iov_base = ans[j];
				iov[j].iov_len = sizeof(ans[j]);
				memset(&mh[j], 0, sizeof(mh[j]));
				mh[j].msg_hdr.msg_iov = &iov[j];
				mh[j].msg_hdr.msg_iovlen = 1;
			}
			m = recvmmsg(fd, mh, depth - got, MSG_WAITFORONE, NULL);
			if (m <= 0) {
				fprintf(stderr, "halb-bench-remote: an answer is missing\n");
				return 1;
			}
			for (j = 0; j < (uint32_t)m; j++) {
				struct punt_opened o;

				if (punt_open(ans[j], mh[j].msg_len, kr, rp,
					      halb_unix_ms(), &o) == 0) {
					decided += o.decision->n_decisions;
					punt_opened_free(&o);
				}
			}
			got += (uint32_t)m;
		}
		if ((i & 0xffff) < BATCH * depth)
			rcls_turn(r);
	}
	t = now_s() - t0;
	printf("RESULT {\"frames\": %" PRIu64 ", \"seconds\": %.3f, \"per_second\": %.0f, \"us_per_batch\": %.2f, \"depth\": %u, \"installs\": %" PRIu64 "}\n",
	       decided, t, (double)decided / t, t * 1e6 / ((double)n / BATCH),
	       depth, rcls_cls(r)->shm->cls.installs);
	rcls_free(r);
	cfg_free(cfg);
	close(fd);
	seal_keyring_free(kr);
	seal_replay_free(rp);
	return 0;
}
