/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log and its rate limit (halb/log.h).  Global state: the program's
 * name and level, set once by main.
 */
#include <stdarg.h>
#include <stdio.h>

#include "halb/log.h"

const char *halb_log_prog = "halb";
int halb_log_level = HLOG_INFO;

void
halb_log(int level, const char *func, const char *fmt, ...)
{
	static const char *const names[] = { "EMERG", "ALERT", "CRIT", "ERR",
		"WARNING", "NOTICE", "INFO", "DEBUG" };
	va_list ap;

	if (level > halb_log_level)
		return;
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
