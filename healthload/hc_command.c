/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "command" kind of check (hc.h), halb-agent's: /bin/sh -c COMMAND
 * in a process group of its own, stdin and stdout and stderr on
 * /dev/null; exit status 0 is up.  At the timeout the whole group is
 * killed and the result ("command timed out") comes when the child is
 * reaped (hc_check_reap, on SIGCHLD).
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>

#include "hc.h"

extern char **environ;

static enum hc_result
start(struct hc_check *c, const struct hc_target *t)
{
	char *argv[] = { (char *)(uintptr_t)"sh", (char *)(uintptr_t)"-c",
			 (char *)(uintptr_t)t->command, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	/* The loop blocks these for its signalfd: the child gets them back. */
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	/* Its own process group, so that a timeout kills what it started. */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&c->pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		c->pid = 0;
		snprintf(c->why, sizeof(c->why), "cannot start the command");
		return HC_FAIL;
	}
	return HC_PENDING;
}

static enum hc_result
abort_command(struct hc_check *c)
{
	if (c->pid > 0)
		kill(-c->pid, SIGKILL);
	c->timed_out = true;
	return c->pid > 0 ? HC_PENDING : HC_TIMEOUT;
}

static enum hc_result
exited(struct hc_check *c, int st)
{
	if (c->timed_out) {
		snprintf(c->why, sizeof(c->why), "command timed out");
		return HC_TIMEOUT;
	}
	if (WIFEXITED(st))
		snprintf(c->why, sizeof(c->why), "command exited %d",
			 WEXITSTATUS(st));
	else
		snprintf(c->why, sizeof(c->why), "command killed by signal %d",
			 WTERMSIG(st));
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? HC_OK : HC_FAIL;
}

const struct hc_ops hc_command_ops = {
	.name = "command",
	.start = start,
	.abort = abort_command,
	.exited = exited,
};
