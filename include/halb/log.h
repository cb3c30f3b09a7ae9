/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log of the DPDK-free programs (src/core/log.c): one line per
 * message, "prog: LEVEL function: text" on stderr, or "function: text"
 * to syslog (journald takes it from there) once halb_log_open() asked
 * for it (the configuration's log.syslog); and a rate limit for
 * messages that a sender on the network could provoke at will.  The
 * DPDK programs log through rte_log instead.
 *
 * The program's name, the level and where lines go are process-wide,
 * set by main (halb_cli sets the name, and the level with -v); the level
 * may change at runtime (halb_log_step, on SIGUSR1/SIGUSR2 in every
 * daemon); nothing else here keeps state.
 */
#ifndef HALB_LOG_H
#define HALB_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* Levels as syslog's. */
enum { HLOG_ERR = 3, HLOG_WARNING = 4, HLOG_NOTICE = 5, HLOG_INFO = 6,
       HLOG_DEBUG = 7 };
extern const char *halb_log_prog;   /* "halb-healthd" */
extern int halb_log_level;          /* highest level printed; HLOG_INFO */

/*
 * Where and how much to log from now on: level (HLOG_ERR..HLOG_DEBUG;
 * -v on the command line still wins: the higher of the two) and syslog
 * (openlog with the program's name, facility daemon) or stderr.
 */
void halb_log_open(int level, bool use_syslog);

/*
 * One level more verbose (delta 1) or less (-1), within HLOG_ERR ..
 * HLOG_DEBUG; the new level is logged at NOTICE.  For signal handlers
 * run from the event loop (not async-signal-safe).  Returns it.
 */
int halb_log_step(int delta);

void halb_log(int level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define HLOG(lvl, ...) halb_log(HLOG_##lvl, __func__, __VA_ARGS__)

/*
 * A budget of burst messages per period; what is refused is counted and
 * announced with the next message let through.
 */
struct halb_ratelimit {
	uint32_t period_ms, burst;
	uint64_t start_ms;
	uint32_t n;
	uint64_t suppressed;
};

/* Whether to log now; *suppressed gets how many were held back since
 * the last message let through (0 if none). */
bool halb_ratelimit(struct halb_ratelimit *rl, uint64_t now_ms,
		    uint64_t *suppressed);

#endif /* HALB_LOG_H */
