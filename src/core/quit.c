/* SPDX-License-Identifier: BSD-3-Clause */
/* The stop flag of poll-loop programs (halb/quit.h). */
#include <errno.h>
#include <signal.h>
#include <stddef.h>

#include "halb/quit.h"

static volatile bool *quit_flag;

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

	quit_flag = flag;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0)
		return -errno;
	return 0;
}
