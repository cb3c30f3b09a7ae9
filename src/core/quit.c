/* SPDX-License-Identifier: BSD-3-Clause */
/* The stop flag of poll-loop programs (halb/quit.h). */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

#include "halb/quit.h"

static volatile bool *quit_flag;
static volatile bool *hup_flag;

/* Without a reload of its own (halb-classifier follows the forwarder's:
 * docs/RELOAD.md): say so rather than die of SIGHUP's default action.
 * write() is async-signal-safe. */
static void
on_hup(int sig)
{
	static const char msg[] =
		"SIGHUP ignored: this program follows halb-forwarder's configuration; reload with halbctl reload, or SIGHUP to halb-forwarder (docs/RELOAD.md)\n";
	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
}

static void
on_hup_flag(int sig)
{
	(void)sig;
	*hup_flag = true;
}

int
halb_reload_on_hup(volatile bool *flag)
{
	struct sigaction hup = { .sa_handler = on_hup_flag };

	hup_flag = flag;
	sigemptyset(&hup.sa_mask);
	return sigaction(SIGHUP, &hup, NULL) != 0 ? -errno : 0;
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
