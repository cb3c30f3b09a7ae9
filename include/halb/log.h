/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log of the DPDK-free programs (src/core/log.c): one line on
 * stderr per message, "prog: LEVEL function: text", and a rate limit
 * for messages that a sender on the network could provoke at will.
 * The DPDK programs log through rte_log instead.
 *
 * The program's name and the level are process-wide, set once by main
 * (halb_cli sets both); nothing else here keeps state.
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
