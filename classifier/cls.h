/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier's state (one thread owns all of it) and the interface
 * between its main loop (main.c) and the health cache (health.c).
 */
#ifndef HALB_CLS_H
#define HALB_CLS_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_log.h>

#include "halb/cfg-t.h"
#include "halb/flow.h"
#include "halb/sched.h"
#include "halb/shm-t.h"
#include "halb/svc.h"

extern int cls_logtype;
#define CLS_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cls_logtype, "%s: " fmt "\n", __func__, \
		##__VA_ARGS__)

struct hl_keyring;
struct hl_replay;

struct cls {
	struct halb_cfg *cfg;
	struct halb_shm *shm;
	struct svc_map svcs;
	struct flow_writer fw[CFG_MAX_WORKERS];
	struct sched_svc sched[CFG_MAX_SERVICES];
	/* Flows of these backends are removed by the expiry scan. */
	bool evict[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
	uint32_t now_ms;
	/* Health handler link (health.c); fd < 0 when not configured. */
	int hfd;
	struct hl_keyring *hkeys;
	struct hl_replay *hreplay;
	uint64_t hlast_ms;     /* unix ms of the last accepted message */
	uint64_t hpoll_tsc;    /* next poll of the socket */
	bool hsilent;
	volatile bool quit;
};

/*
 * Loads the health the forwarder's memory remembers (a restarted
 * classifier), or the configured weights, builds the schedulers and
 * Maglev tables from it, and opens the handler's socket when the
 * configuration has a health section.  Returns 0 or -errno.
 */
int cls_health_init(struct cls *c);
void cls_health_fini(struct cls *c);

/* Takes what the handler sent since the last call; cheap when idle. */
void cls_health_poll(struct cls *c, uint64_t now_tsc);

/* Unix time in ms. */
uint64_t cls_wall_ms(void);

#endif
