/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Health checks that both halb-healthd (active probes of backends) and
 * halb-agent (its local checks) run: the rise/fall counter operators
 * know from HAProxy, and a non-blocking TCP connect or HTTP GET that the
 * caller drives from its own event loop.
 *
 * Rise/fall is HAProxy's: a health counter in [0, rise + fall - 1], up
 * while it is at least rise.  A success adds one, and once it reaches
 * rise the counter jumps to the top (fully up); a failure takes one off,
 * and once it falls below rise the counter drops to 0 (fully down).  So
 * an up check goes down after fall consecutive failures, a down one
 * comes up after rise consecutive successes.  It starts like HAProxy's
 * default init-state "up": at rise, up but one failure from down, so the
 * first result decides (hc_rf_known() says whether there was one).
 *
 * A probe is a small state machine over one socket: connect, then for
 * HTTP send "GET path HTTP/1.0" and read the status line.  The caller
 * polls hc_probe_events() on hc_probe.fd, calls hc_probe_step() when the
 * socket is ready and hc_probe_abort() at the deadline.
 */
#ifndef HALB_HC_H
#define HALB_HC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct hc_rf {
	uint8_t rise, fall;
	uint16_t health;
	uint32_t results;  /* how many results it has seen */
};

void hc_rf_init(struct hc_rf *rf, uint8_t rise, uint8_t fall);
bool hc_rf_up(const struct hc_rf *rf);
bool hc_rf_known(const struct hc_rf *rf);
/* Counts one result; returns whether up/down changed or it was the first. */
bool hc_rf_result(struct hc_rf *rf, bool ok);

/*
 * Parses the status line at the start of buf[0..len): "HTTP/1.x NNN".
 * Returns the status (100..599), 0 when more bytes are needed, or -1
 * when it is not an HTTP status line.
 */
int hc_http_status(const char *buf, size_t len);

enum hc_phase {
	HC_IDLE = 0,
	HC_CONNECTING,
	HC_SENDING,
	HC_READING,
};

/* The outcome of a step. */
enum hc_result {
	HC_PENDING = 0,
	HC_OK,
	HC_FAIL,
};

#define HC_REQ_MAX 256
#define HC_WHY_LEN 64

struct hc_probe {
	int fd;                 /* -1 when idle */
	uint8_t phase;          /* enum hc_phase */
	bool http;
	uint16_t expect;
	uint64_t deadline_ms;   /* the caller's clock */
	uint16_t req_len, sent;
	uint16_t rx_len;
	char req[HC_REQ_MAX];
	char rx[128];
	char why[HC_WHY_LEN];   /* why it failed (or "ok") */
};

void hc_probe_init(struct hc_probe *p);

/*
 * Starts a probe of sa: TCP connect, and with path non-NULL an HTTP GET
 * of path (Host: host) that must answer status expect.  Returns
 * HC_PENDING (wait for hc_probe_events() on p->fd), or HC_FAIL with
 * p->why set (nothing to wait for).
 */
enum hc_result hc_probe_start(struct hc_probe *p, const struct sockaddr *sa,
			      socklen_t sl, const char *path, const char *host,
			      uint16_t expect, uint64_t deadline_ms);

/* EPOLLIN or EPOLLOUT, what the probe waits for now. */
uint32_t hc_probe_events(const struct hc_probe *p);

/* Goes on after p->fd became ready; closes the socket once decided. */
enum hc_result hc_probe_step(struct hc_probe *p);

/* Gives up (deadline): closes the socket; why = "timeout ...". */
void hc_probe_abort(struct hc_probe *p);

#endif /* HALB_HC_H */
