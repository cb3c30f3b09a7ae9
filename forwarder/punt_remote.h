/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarder's side of remote classification (punt_remote.c;
 * docs/CLASSIFIERS.md): a thread that, while the local classifier is
 * gone, drains the punt rings, sends the frames to the first live
 * remote classifier of classifiers.list, installs the flows its
 * decisions give, and hands the frames back to their workers.
 */
#ifndef HALB_FWD_PUNT_REMOTE_H
#define HALB_FWD_PUNT_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "halb/seal.h"

struct fwd_ctx;

/* One remote classifier as the forwarder sees it (written by the punt
 * thread alone, read by telemetry). */
struct prem_stats {
	uint64_t pings, pongs;
	uint64_t batches, frames;  /* punt datagrams and frames sent */
	uint64_t decisions;        /* decisions applied */
	uint64_t refused;          /* ... that said REFUSED: frame dropped */
	uint64_t late;             /* decisions for frames no longer held */
	uint64_t deaths;           /* times it went silent */
	uint64_t digest_mismatch;  /* pongs with other service slots */
	uint64_t tx_errors;
	uint64_t remote_decisions; /* what its last pong says it decided */
	uint64_t remote_refused;   /* ... and refused (forged, replayed) */
	uint64_t unanswered;       /* frames it let wait past hold_ms */
	uint64_t views;            /* times the view was sent (in parts) */
	uint64_t view_parts;       /* ... its parts */
};

struct prem_totals {
	uint64_t hold_full;     /* frames not held: too many waiting: Maglev */
	uint64_t hold_timeout;  /* held past hold_ms: Maglev */
	uint64_t too_big;       /* headers beyond frame_cap: Maglev */
	uint64_t no_remote;     /* held frames no remote answers: Maglev */
	uint64_t dropped;       /* held frames let go without the lock
				 * (a local classifier came back) */
	uint64_t installs;      /* flows installed from remote decisions */
	uint64_t existing;      /* frames whose flow a table already held */
	uint64_t table_full;    /* decisions not installed: table full */
	uint64_t bad_decision;  /* slots the view does not hold */
	uint64_t stale_boot;    /* decisions for another boot of ours */
	uint64_t switches;      /* changes of the active classifier */
	uint64_t lock_busy;     /* turns the attach lock was held by another */
	uint64_t replica;       /* misses mid-connection given the replica's
				 * backend here, without the remote */
	uint64_t rx;            /* datagrams received */
	uint64_t rx_refused[SEAL_REJ__COUNT]; /* ... refused, by reason */
};

/* Starts the thread when classifiers.list names a remote classifier;
 * 0 (also when there is none) or -errno. */
int fwd_punt_remote_start(struct fwd_ctx *c);

/* Stops it (after the workers stopped). */
void fwd_punt_remote_stop(void);

/* Telemetry: /halb/classifiers. */
int fwd_punt_remote_telemetry(void);

#endif
