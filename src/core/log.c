/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log and its rate limit (halb/log.h).  Global state: the program's
 * name and level, set once by main.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "halb/log.h"

const char *halb_log_prog = "halb";
int halb_log_level = HLOG_INFO;
static bool log_syslog;

static const char *const names[] = { "EMERG", "ALERT", "CRIT", "ERR",
	"WARNING", "NOTICE", "INFO", "DEBUG" };

void
halb_log_open(int level, bool use_syslog)
{
	if (level > halb_log_level)
		halb_log_level = level <= HLOG_DEBUG ? level : HLOG_DEBUG;
	else if (halb_log_level != HLOG_DEBUG) /* -v wins */
		halb_log_level = level >= HLOG_ERR ? level : HLOG_ERR;
	if (use_syslog && !log_syslog)
		openlog(halb_log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!use_syslog && log_syslog)
		closelog();
	log_syslog = use_syslog;
}

int
halb_log_step(int delta)
{
	int l = halb_log_level + delta;

	halb_log_level = l < HLOG_ERR ? HLOG_ERR : l > HLOG_DEBUG ? HLOG_DEBUG : l;
	/* Said whatever the level, so that the operator sees it took. */
	l = halb_log_level;
	halb_log_level = HLOG_NOTICE > l ? HLOG_NOTICE : l;
	halb_log(HLOG_NOTICE, __func__, "log level now %s", names[l]);
	halb_log_level = l;
	return l;
}

void
halb_log(int level, const char *func, const char *fmt, ...)
{
	va_list ap;

	if (level > halb_log_level)
		return;
	if (log_syslog) {
		char msg[1024];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		syslog(level >= 0 && level <= 7 ? level : LOG_ERR, "%s: %s", func,
		       msg);
		return;
	}
	fprintf(stderr, "%s: %s %s: ", halb_log_prog,
		level >= 0 && level <= 7 ? names[level] : "?", func);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool
halb_ratelimit(struct halb_ratelimit *rl, uint64_t now_ms,
	       uint64_t *suppressed)
{
	*suppressed = 0;
	if (rl->start_ms == 0 || now_ms - rl->start_ms >= rl->period_ms) {
		rl->start_ms = now_ms != 0 ? now_ms : 1;
		rl->n = 0;
	}
	if (rl->n >= rl->burst) {
		rl->suppressed++;
		return false;
	}
	rl->n++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
