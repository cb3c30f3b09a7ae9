/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What halb-had reads of the appliance besides heartbeats, and its
 * orders to BIRD (ha/looks.c): halb-healthd's word on each VIP (a backend
 * of it up or not, from its status socket, as `halbctl health json`
 * reads it), halb-sessiond's peers (alive, last heard, what is still to
 * be acknowledged, from its status socket: the sync engine's
 * authenticated hellos are the peer liveness had shows, no protocol of
 * its own), the forwarder's traffic to the VIPs (packets received less
 * those handed to the kernel, over DPDK telemetry), and each VIP's
 * static protocol enabled or disabled over BIRD's control socket.
 *
 * Every look is a blocking request bounded by a short timeout (a part
 * that hangs costs the loop that much, at the look's pace, never more);
 * the supervisor (sup.c) decides what the answers mean.
 */
#ifndef HALB_HA_LOOKS_H
#define HALB_HA_LOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "halb/bird.h"
#include "halb/cfg-t.h"
#include "halb/ip.h"
#include "sup.h"

#define HA_LOOK_TIMEOUT_MS 100   /* healthd, sessiond, the forwarder */
#define HA_BIRD_TIMEOUT_MS 300   /* an order to BIRD */

/* A peer appliance as sessiond's status line tells it. */
struct ha_peer {
	char name[CFG_HOST_LEN];
	bool alive, synced;
	bool heard;              /* ever */
	uint64_t heard_ago_ms;   /* when the line was read */
	uint32_t backlog, in_flight;
};

struct ha_looks {
	const struct halb_cfg *cfg;
	/* VIPs, numbered as the supervisor's: bird_conf_vips()'s order. */
	unsigned int n_vips;
	uint16_t vip_svc[HA_MAX_VIPS];
	char vip_name[HA_MAX_VIPS][BIRD_VIP_NAME_LEN];
	char vip_addr[HA_MAX_VIPS][HALB_IP_STRLEN];
	/* halb-healthd */
	bool health_ok;          /* its last answer was read */
	bool serving[HA_MAX_VIPS];
	unsigned int backends_up[HA_MAX_VIPS], backends[HA_MAX_VIPS];
	/* halb-sessiond */
	bool sess_ok;
	unsigned int n_peers;
	struct ha_peer peers[CFG_MAX_SYNC_PEERS];
	/* the forwarder's traffic */
	int tlm_fd;
	uint64_t tlm_try_ms;     /* last (re)connect */
	bool have_pkts;
	uint64_t pkts, pkts_ms;  /* rx - to_kernel, when read */
	bool pps_ok;
	uint64_t pps;
	/* the classifier the forwarder uses (its /halb/classifiers):
	 * "local", a remote's name or "none", as read at cls_ms (0: never) */
	char cls_active[CFG_NAME_LEN];
	int cls_local_pid;
	uint64_t cls_ms;
};

void ha_looks_init(struct ha_looks *l, const struct halb_cfg *cfg);
void ha_looks_close(struct ha_looks *l);

/* halb-healthd's status: fills serving[] (a VIP none of whose services
 * healthd lists counts as serving).  0, or -errno (health_ok false). */
int ha_looks_health(struct ha_looks *l);

/* halb-sessiond's status: fills peers[], logging each peer that dies or
 * comes back.  0, or -errno (sess_ok false). */
int ha_looks_sessiond(struct ha_looks *l);
/* Every own session acknowledged by every live peer, and one lives. */
bool ha_looks_replicated(const struct ha_looks *l);
/* One "peer NAME ADDR: alive synced, last heard 180 ms ago, backlog 0,
 * in flight 0, ..." line of sessiond's status into p: 0, or -EINVAL for
 * a line that is none. */
int ha_parse_peer(const char *line, struct ha_peer *p);

/* The forwarder's traffic: pps from the last two reads (pps_ok once
 * there are two).  fwd_age_ms: its heartbeat's age, so that a forwarder
 * that may hang is not connected to (a connect waits for its greeting).
 * 0, or -errno. */
int ha_looks_traffic(struct ha_looks *l, uint64_t now_ms, uint64_t fwd_age_ms);

/* Which classifier the forwarder uses, from its telemetry
 * (/halb/classifiers, what halbctl classifiers shows): fills cls_active,
 * cls_local_pid and cls_ms.  0, or -errno (-EAGAIN: not now). */
int ha_looks_classifier(struct ha_looks *l, uint64_t now_ms, uint64_t fwd_age_ms);

/* VIP vip announced (on) or withdrawn through BIRD: 0 or -errno. */
int ha_looks_route(struct ha_looks *l, unsigned int vip, bool on);

#endif /* HALB_HA_LOOKS_H */
