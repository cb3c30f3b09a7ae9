/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-classifier --remote (remote.c; docs/CLASSIFIERS.md): the decision
 * code of the local classifier on process-local state, answering the
 * punt batches of forwarders on other machines.  One thread owns it.
 */
#ifndef HALB_CLS_REMOTE_H
#define HALB_CLS_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "halb/seal.h"

struct halb_cfg;
struct cls;
struct rcls;

struct rcls_stats {
	uint64_t rx;              /* datagrams received */
	uint64_t refused[SEAL_REJ__COUNT]; /* ... refused, by reason */
	uint64_t rx_refused_logged;
	uint64_t punts, frames;   /* punt batches and their frames */
	uint64_t decisions;       /* frames given a backend */
	uint64_t refused_frames;  /* ... not (no service, no backend, bad) */
	uint64_t bad_worker;      /* a worker index beyond our file's (folded) */
	uint64_t pings;
	uint64_t digest_mismatch; /* pings from a forwarder with other slots */
	uint64_t wrong_source;    /* authentic, from another address than the
				   * forwarder's configured one: unanswered */
	uint64_t tx_errors;
	/* The view of the services it follows (serve.forwarders' first). */
	uint64_t view_parts;      /* ViewPart messages taken */
	uint64_t views;           /* views applied */
	uint64_t view_bad;        /* parts that disagreed: generation dropped */
	uint64_t view_ignored;    /* parts from a forwarder it does not follow */
	uint64_t view_failed;     /* complete views not applied (memory) */
	uint64_t tx_calls;        /* sendmmsg calls (answers go in bursts) */
};

/* A received datagram, for rcls_input_many. */
struct rcls_dgram {
	const uint8_t *buf;
	size_t len;
	struct sockaddr_storage from;
	socklen_t fromlen;
};

/* Datagrams taken and answers sent per system call, at most. */
#define RCLS_BURST 64

/* Creates the state, the health cache and the sockets of cfg (kept):
 * NULL with errno set. */
struct rcls *rcls_new(struct halb_cfg *cfg);
void rcls_free(struct rcls *r);

/* One datagram from `from`: opened, decided, answered (sent before it
 * returns). */
void rcls_input(struct rcls *r, const uint8_t *buf, size_t len,
		const struct sockaddr_storage *from, socklen_t fromlen);

/* n datagrams (at most RCLS_BURST), their answers sent together at the
 * end (one sendmmsg). */
void rcls_input_many(struct rcls *r, const struct rcls_dgram *d, uint32_t n);

/* Sends the answers sealed so far. */
void rcls_flush(struct rcls *r);

/* Housekeeping between datagrams (clock, expiry, health). */
void rcls_turn(struct rcls *r);

const struct rcls_stats *rcls_stats(const struct rcls *r);
struct cls *rcls_cls(struct rcls *r);

/* The process: until SIGINT/SIGTERM.  Returns the exit status. */
int rcls_main(struct halb_cfg *cfg);

#endif
