/* SPDX-License-Identifier: BSD-3-Clause */
/* The stop flag of poll-loop programs (halb/quit.h). */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

#include "halb/quit.h"

static volatile bool *quit_flag;

/* A configuration is read at start only (docs/RELOAD.md): say so rather
 * than die of SIGHUP's default action.  write() is async-signal-safe. */
static void
on_hup(int sig)
{
	static const char msg[] =
		"SIGHUP ignored: the configuration is read at start only; restart to apply a changed file (docs/RELOAD.md)\n";
	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
}

static void
on_term(int sig)
{
	(void)sig;
	*quit_flag = true;
}

int
halb_quit_on_term(volatile bool *flag)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct sigaction hup = { .sa_handler = on_hup };

	quit_flag = flag;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&hup.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGHUP, &hup, NULL) != 0)
		return -errno;
	return 0;
}
