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
 * socket is ready and hc_probe_abort() at its deadline (hc_run.c does).
 *
 * The kinds of check (enum cfg_check_type, which both configurations
 * use) are a table of operations (struct hc_ops, hc_run.c): one file
 * per kind (hc_tcp.c: tcp and http; hc_command.c: command) and one line
 * in CFG_CHECK_KINDS (cfg-t.h).  A struct hc_check runs checks of any kind in an event
 * loop: it starts one, watches what the kind needs (a socket, a child
 * process), enforces the timeout, and calls back with the result; both
 * halb-healthd's probes and halb-agent's checks are hc_checks.
 */
#ifndef HALB_HC_H
#define HALB_HC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "halb/cfg-t.h"
#include "halb/evloop.h"
#include "halb/ip.h"

struct hc_rf {
	uint8_t rise, fall;
	uint16_t health;
	uint32_t results;  /* how many results it has seen */
};

void hc_rf_init(struct hc_rf *rf, uint8_t rise, uint8_t fall);
bool hc_rf_up(const struct hc_rf *rf);
bool hc_rf_known(const struct hc_rf *rf);
/* Between up and down: the last result counts toward the other state,
 * which more in a row will reach.  Checked again at once then, not at
 * the next interval (HAProxy's fastinter), so that fall failures take
 * fall checks' time, not fall intervals. */
bool hc_rf_moving(const struct hc_rf *rf);
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
	HC_TIMEOUT,               /* a failure: the timeout passed */
};

#define HC_REQ_MAX 256
#define HC_WHY_LEN 64

struct hc_probe {
	int fd;                 /* -1 when idle */
	uint8_t phase;          /* enum hc_phase */
	bool http;
	uint16_t expect;
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
			      uint16_t expect);

/* EPOLLIN or EPOLLOUT, what the probe waits for now. */
uint32_t hc_probe_events(const struct hc_probe *p);

/* Goes on after p->fd became ready; closes the socket once decided. */
enum hc_result hc_probe_step(struct hc_probe *p);

/* Gives up (deadline): closes the socket; why = "timeout ...". */
void hc_probe_abort(struct hc_probe *p);

/* ---- checks of any kind (hc_run.c) ---- */

/* What a check looks at, from either configuration. */
struct hc_target {
	uint8_t type;             /* enum cfg_check_type */
	struct halb_ip addr;      /* tcp, http */
	uint16_t port;
	uint16_t expect;          /* http: the status wanted */
	const char *path;         /* http */
	const char *command;      /* command: run by /bin/sh -c */
	uint32_t timeout_ms;
};

/* The result of one run: HC_OK, HC_FAIL or HC_TIMEOUT, and why. */
typedef void (*hc_done_fn)(void *arg, enum hc_result r, const char *why);

struct hc_ops;

/* One check, at most one run of it at a time. */
struct hc_check {
	const struct hc_ops *ops; /* of the run in flight; NULL: idle */
	struct ev_loop *ev;
	struct hc_probe probe;    /* tcp, http: the socket */
	pid_t pid;                /* command: the child, or 0 */
	bool timed_out;
	struct ev_timer deadline;
	hc_done_fn done;
	void *arg;
	char why[HC_WHY_LEN];     /* the last result's reason ("" before) */
};

/* What a kind of check does; hc_run.c calls these, nobody else. */
struct hc_ops {
	const char *name;         /* as cfg_check_name() spells it */
	/* Starts a run of t: HC_PENDING (it watches what it needs in
	 * c->ev and calls hc_check_finish() later), or a result at once
	 * with c->why set. */
	enum hc_result (*start)(struct hc_check *c, const struct hc_target *t);
	/* The timeout passed: stops the run; a result, or HC_PENDING when
	 * the result comes later (a child must be reaped first). */
	enum hc_result (*abort)(struct hc_check *c);
	/* A child process ended (waitpid status); NULL if none is made. */
	enum hc_result (*exited)(struct hc_check *c, int status);
};

/* Every kind's operations, as CFG_CHECK_KINDS (cfg-t.h) names them. */
#define HC_OPS_DECLARE(e, name, ops) extern const struct hc_ops ops;
CFG_CHECK_KINDS(HC_OPS_DECLARE)
#undef HC_OPS_DECLARE

/* The operations of a kind, or NULL ("none": nothing to run, or no such
 * kind). */
const struct hc_ops *hc_ops_of(unsigned int type);

void hc_check_init(struct hc_check *c);
bool hc_check_running(const struct hc_check *c);
/*
 * Starts a run of t in ev; done(arg, ...) is called with its result,
 * perhaps before this returns (a connect refused at once).  Returns 0,
 * -EBUSY (a run is in flight: it decides first) or -ENOTSUP (a type
 * without operations).
 */
int hc_check_start(struct hc_check *c, struct ev_loop *ev,
		   const struct hc_target *t, hc_done_fn done, void *arg);
/* Ends the run in flight with r (kinds call it from their events). */
void hc_check_finish(struct hc_check *c, enum hc_result r);
/* Collects c's child if it ended (call on SIGCHLD); true if it did. */
bool hc_check_reap(struct hc_check *c);
/* Stops a run without a result (exit): closes, kills, no callback. */
void hc_check_cancel(struct hc_check *c);

#endif /* HALB_HC_H */
