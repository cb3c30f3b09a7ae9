/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parts' processes (ha/proc.h): spawn, adopt, reap, signal, and
 * what their heartbeat files say.  Every signal goes through a pidfd,
 * so that a pid whose process is gone and whose number was reused is
 * never hit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "halb/bird.h"
#include "halb/cfg.h"
#include "halb/clock.h"
#include "halb/hb.h"
#include "proc.h"

static int
pidfd_open_(int pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
child(char *const argv[])
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int sig;

	/* had blocks the signals its loop reads (signalfd) and ignores
	 * SIGPIPE; a part must get them as any program does. */
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	/* glibc refuses its own signals (32, 33); whoever started had may
	 * have left them ignored (GNU make does), which exec keeps: the
	 * kernel's call resets them. */
	for (sig = 32; sig <= 33; sig++) {
		struct { void *handler; unsigned long flags; void *restorer;
			 uint64_t mask; } kdfl = { 0 };

		syscall(SYS_rt_sigaction, sig, &kdfl, NULL, sizeof(uint64_t));
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Out of had's session and process group: a signal to had's group
	 * (Ctrl-C, a kill of the group) and had's death leave it alone. */
	setsid();
	/* Only had's READY=1 counts for its unit (NotifyAccess=main). */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
		int fd;

		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
	execv(argv[0], argv);
	_exit(127);
}

int
ha_proc_spawn(const struct cfg_ha_part *c, const char *cfg_path,
	      struct ha_proc *pr)
{
	char *argv[HA_MAX_ARGS + 3];
	unsigned int i, n = 0;
	int pid, fd, rc;

	for (i = 0; i < c->argc; i++)
		argv[n++] = (char *)(uintptr_t)c->argv[i];
	if (c->with_config) {
		argv[n++] = (char *)(uintptr_t)"-c";
		argv[n++] = (char *)(uintptr_t)cfg_path;
	}
	argv[n] = NULL;
	if (access(argv[0], X_OK) != 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child(argv);
	fd = pidfd_open_(pid);
	if (fd < 0) {
		rc = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return rc;
	}
	*pr = (struct ha_proc){ .pid = pid, .pidfd = fd, .child = true };
	return 0;
}

static bool runs_part(int pid, const struct cfg_ha_part *c);

int
ha_proc_adopt(int pid, const struct cfg_ha_part *c, struct ha_proc *pr)
{
	int fd;

	*pr = (struct ha_proc){ .pidfd = -1 };
	fd = pidfd_open_(pid);
	if (fd < 0)
		return -errno;
	/* The probe looked at the number a moment ago; the pidfd holds
	 * the process now.  Its program is looked at again, then the pidfd
	 * asked whether its process still lives: if so, the pid was not
	 * reused in between and what /proc said is the pidfd's process. */
	if (c != NULL &&
	    (!runs_part(pid, c) ||
	     syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0u) != 0)) {
		close(fd);
		return -ESRCH;
	}
	*pr = (struct ha_proc){ .pid = pid, .pidfd = fd, .child = false };
	return 0;
}

void
ha_proc_reap(struct ha_proc *pr, char *how, size_t len)
{
	int st;

	if (!pr->child) {
		snprintf(how, len, "exited (not started by this halb-had: how is unknown)");
	} else if (waitpid(pr->pid, &st, WNOHANG) != pr->pid) {
		snprintf(how, len, "exited (no status: %s)", strerror(errno));
	} else if (WIFEXITED(st)) {
		snprintf(how, len, "exited with status %d", WEXITSTATUS(st));
	} else if (WIFSIGNALED(st)) {
		snprintf(how, len, "was killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	} else {
		snprintf(how, len, "ended (wait status %#x)", (unsigned int)st);
	}
	ha_proc_close(pr);
}

int
ha_proc_signal(const struct ha_proc *pr, int sig)
{
	if (pr->pidfd < 0)
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, pr->pidfd, sig, NULL, 0u) != 0)
		return -errno;
	return 0;
}

void
ha_proc_close(struct ha_proc *pr)
{
	if (pr->pidfd >= 0)
		close(pr->pidfd);
	pr->pidfd = -1;
	pr->pid = 0;
	pr->child = false;
}

/*
 * pid runs one of the programs of c's command: the path of its
 * /proc/PID/exe (canonical, " (deleted)" dropped: the package was
 * upgraded under it) is the canonical path of one of the command's
 * absolute words (the program, or the one a wrapper such as
 * `ip netns exec` execs).  A program elsewhere that merely has the same
 * name is not the part.
 */
static bool
runs_part(int pid, const struct cfg_ha_part *c)
{
	char link[64], exe[PATH_MAX], want[PATH_MAX];
	unsigned int i;
	ssize_t n;
	char *del;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	del = strstr(exe, " (deleted)");
	if (del != NULL && del[sizeof(" (deleted)") - 1] == '\0')
		*del = '\0';
	for (i = 0; i < c->argc; i++) {
		if (c->argv[i][0] != '/')
			continue;
		/* Gone or moved since (an upgrade): its configured path. */
		if (realpath(c->argv[i], want) == NULL)
			snprintf(want, sizeof(want), "%s", c->argv[i]);
		if (strcmp(want, exe) == 0)
			return true;
	}
	return false;
}

void
ha_probe_hb(const char *instance, unsigned int part,
		const struct cfg_ha_part *c, bool check_exe, struct ha_obs *o)
{
	struct halb_hb_view v;

	memset(o, 0, sizeof(*o));
	if (halb_hb_read(instance, cfg_ha_part_name(part), 0, &v) != 0)
		return;
	o->present = true;
	o->pid = v.hb.pid;
	o->state = v.hb.state;
	o->age_ms = v.age_ms;
	snprintf(o->note, sizeof(o->note), "%s", v.hb.note);
	o->alive = v.alive && (!check_exe || runs_part(v.hb.pid, c));
}

const char *
ha_part_arg(const struct cfg_ha_part *c, const char *flag)
{
	unsigned int i;

	for (i = 0; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], flag) == 0)
			return c->argv[i + 1];
	return NULL;
}

/* The last look at BIRD (one BIRD per halb-had). */
static struct {
	int pid;
	bool ok_once;
	uint64_t try_ms, ok_ms;
} bird_seen;

/* The pid in BIRD's pid file, or 0. */
static int
bird_pid(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	long v;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v < INT32_MAX ? (int)v : 0;
}

/* A process that runs and is no zombie nor stopped. */
static bool
runs(int pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* `show status` answers "0013 Daemon is up and running". */
static bool
bird_answers(const char *sock)
{
	struct bird_conn bc;
	int code;

	if (bird_open(&bc, sock, HA_BIRD_PROBE_TIMEOUT_MS) != 0)
		return false;
	code = bird_cmd(&bc, "show status", NULL, NULL);
	bird_close(&bc);
	return code == 13;
}

void
ha_probe_bird(const char *instance, unsigned int part,
	      const struct cfg_ha_part *c, bool check_exe, struct ha_obs *o)
{
	const char *pidf = ha_part_arg(c, "-P"), *sock = ha_part_arg(c, "-s");
	uint64_t now = halb_mono_ms();
	int pid;

	(void)instance;
	(void)part;
	memset(o, 0, sizeof(*o));
	if (pidf == NULL || sock == NULL)
		return; /* never ready: ha.bird.command must keep -s and -P */
	pid = bird_pid(pidf);
	if (pid == 0)
		return;
	o->present = true;
	o->pid = pid;
	o->alive = runs(pid) && (!check_exe || runs_part(pid, c));
	if (pid != bird_seen.pid) {
		bird_seen.pid = pid;
		bird_seen.ok_once = false;
		bird_seen.try_ms = 0;
	}
	if (o->alive && (check_exe || now - bird_seen.try_ms >= HA_BIRD_PROBE_MS)) {
		bird_seen.try_ms = now;
		if (bird_answers(sock)) {
			bird_seen.ok_once = true;
			bird_seen.ok_ms = now;
		}
	}
	o->state = bird_seen.ok_once ? HALB_HB_READY : HALB_HB_STARTING;
	o->age_ms = bird_seen.ok_once ? now - bird_seen.ok_ms : 0;
	if (bird_seen.ok_once && o->age_ms > HA_BIRD_PROBE_MS)
		snprintf(o->note, sizeof(o->note), "its control socket %s does not answer", sock);
}
