/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-had's processes (ha/proc.c): a spawned part runs in a session of
 * its own, with no signal blocked or ignored, no NOTIFY_SOCKET and no
 * descriptor of had's beyond 0-2; its pidfd says when it is gone and the
 * reap says how; an adopted process is watched the same way; what a
 * heartbeat file says, and that a pid running another program is never
 * taken for the part; the probe of BIRD (its pid file and its control
 * socket, against a fake BIRD thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/hb.h"
#include "proc.h"

static struct cfg_ha_part part;

static void
command(const char *const *argv)
{
	memset(&part, 0, sizeof(part));
	part.enabled = true;
	for (part.argc = 0; argv[part.argc] != NULL; part.argc++)
		snprintf(part.argv[part.argc], CFG_ARG_LEN, "%s",
			 argv[part.argc]);
}

/* The pidfd becomes readable within ms. */
static bool
gone_within(const struct ha_proc *pr, int ms)
{
	struct pollfd p = { .fd = pr->pidfd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* A line of /proc/PID/status ("SigBlk:"), its value. */
static void
proc_status(int pid, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			snprintf(out, len, "%s", line + strlen(key));
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* A shell that reports what it was given, then waits to be killed. */
static void
test_spawn_clean(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c",
		"echo \"$NOTIFY_SOCKET|$(ls /proc/$$/fd | wc -l)\" > \"$1\"; exec sleep 30",
		"sh", NULL, NULL };
	char dir[] = "/tmp/halb-proc-XXXXXX", out[80], buf[128], blk[64],
	     ign[64];
	const char *args[6];
	struct ha_proc pr;
	sigset_t block, old;
	FILE *f;
	int i, leak;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/out", dir);
	memcpy(args, argv, sizeof(args));
	args[4] = out;
	command(args);
	/* What had's loop does to itself: the children must not inherit
	 * it. */
	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGPIPE, SIG_IGN);
	leak = open("/dev/null", O_RDONLY);  /* not O_CLOEXEC */
	assert_true(leak > 2);
	assert_int_equal(ha_proc_spawn(&part, "/x.conf", &pr), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	unsetenv("NOTIFY_SOCKET");
	close(leak);
	assert_true(pr.pid > 0 && pr.pidfd >= 0 && pr.child);

	for (i = 0; i < 200; i++) {
		f = fopen(out, "r");
		if (f != NULL && fgets(buf, sizeof(buf), f) != NULL) {
			fclose(f);
			break;
		}
		if (f != NULL)
			fclose(f);
		usleep(10000);
	}
	assert_true(i < 200);
	/* No NOTIFY_SOCKET; fds 0-2 and the one ls opens, nothing else. */
	assert_string_equal(buf, "|4\n");
	/* Until the shell has exec'd sleep (bounded). */
	for (i = 0; i < 500; i++) {
		proc_status(pr.pid, "Name:", blk, sizeof(blk));
		if (strcmp(blk, "\tsleep") == 0)
			break;
		usleep(10000);
	}
	assert_true(i < 500);
	assert_int_equal(getsid(pr.pid), pr.pid);
	assert_int_equal(getpgid(pr.pid), pr.pid);
	assert_int_not_equal(getpgid(pr.pid), getpgid(0));
	proc_status(pr.pid, "SigBlk:", blk, sizeof(blk));
	proc_status(pr.pid, "SigIgn:", ign, sizeof(ign));
	assert_string_equal(blk, "\t0000000000000000");
	assert_string_equal(ign, "\t0000000000000000");

	assert_false(gone_within(&pr, 0));
	assert_int_equal(ha_proc_signal(&pr, SIGKILL), 0);
	assert_true(gone_within(&pr, 5000));
	ha_proc_reap(&pr, buf, sizeof(buf));
	assert_non_null(strstr(buf, "killed by signal 9"));
	assert_int_equal(pr.pidfd, -1);
	assert_int_equal(pr.pid, 0);
	assert_int_equal(ha_proc_signal(&pr, SIGKILL), -ESRCH);
	unlink(out);
	rmdir(dir);
}

static void
test_spawn_config_and_status(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c",
		"[ \"$1\" = -c ] && [ \"$2\" = /etc/x.conf ] && exit 3; exit 1",
		"sh", NULL };
	static const char *const missing[] = { "/nonexistent/halb-x", NULL };
	struct ha_proc pr;
	char how[96];

	(void)state;
	command(argv);
	part.with_config = true;
	assert_int_equal(ha_proc_spawn(&part, "/etc/x.conf", &pr), 0);
	assert_true(gone_within(&pr, 5000));
	ha_proc_reap(&pr, how, sizeof(how));
	assert_string_equal(how, "exited with status 3");

	command(missing);
	assert_int_equal(ha_proc_spawn(&part, "/etc/x.conf", &pr), -ENOENT);
}

/*
 * Adoption checks the program exactly: a process running a copy of
 * sleep(1) elsewhere (same name, another path) is not the part whose
 * command is /bin/sleep, nor /bin/sleep's process one whose command is
 * the copy; the copy's own path, or a symlink to it, is.
 */
static void
test_adopt_exact_path(void **state)
{
	char dir[40], copy[64], link[64], cmd[512];
	const char *argv_sleep[] = { "/bin/sleep", NULL };
	const char *argv_copy[] = { copy, "30", NULL };
	const char *argv_link[] = { "/usr/bin/env", link, NULL };
	struct ha_proc pr;
	int pid;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/halb-test-proc-%d", (int)getpid());
	snprintf(copy, sizeof(copy), "%s/sleep", dir);
	snprintf(link, sizeof(link), "%s/other", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir %s && cp /bin/sleep %s && ln -s %s %s",
		 dir, dir, copy, copy, link);
	assert_int_equal(system(cmd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(copy, (char *const *)(uintptr_t)argv_copy);
		_exit(127);
	}
	/* Until the exec is done, /proc/PID/exe is this test's. */
	for (int i = 0; i < 500; i++) {
		char exe[PATH_MAX], l[64];
		ssize_t n;

		snprintf(l, sizeof(l), "/proc/%d/exe", pid);
		n = readlink(l, exe, sizeof(exe) - 1);
		if (n > 0 && (exe[n] = '\0', strcmp(exe, copy) == 0))
			break;
		usleep(10000);
	}
	command(argv_sleep);
	assert_int_equal(ha_proc_adopt(pid, &part, &pr), -ESRCH);
	command(argv_copy);
	assert_int_equal(ha_proc_adopt(pid, &part, &pr), 0);
	ha_proc_close(&pr);
	command(argv_link);
	assert_int_equal(ha_proc_adopt(pid, &part, &pr), 0);
	ha_proc_close(&pr);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A process had did not start: watched by its pidfd, its end unknown. */
static void
test_adopt(void **state)
{
	static const char *argv_sh[] = { "/bin/sh", NULL };
	struct ha_proc pr;
	char how[96];
	int pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	/* Not one of the part's programs (this test is not /bin/sh): a
	 * stranger that took the number since the probe, never adopted. */
	command(argv_sh);
	assert_int_equal(ha_proc_adopt(pid, &part, &pr), -ESRCH);
	assert_int_equal(pr.pidfd, -1);
	assert_int_equal(ha_proc_adopt(pid, NULL, &pr), 0);
	assert_false(pr.child);
	assert_false(gone_within(&pr, 0));
	assert_int_equal(ha_proc_signal(&pr, SIGKILL), 0);
	assert_true(gone_within(&pr, 5000));
	ha_proc_reap(&pr, how, sizeof(how));
	assert_non_null(strstr(how, "how is unknown"));
	waitpid(pid, NULL, 0);
	/* Gone: nothing to adopt. */
	assert_int_equal(ha_proc_adopt(pid, NULL, &pr), -ESRCH);
}

/* A heartbeat file: present, its pid, state and age; alive only when
 * that pid runs one of the part's programs. */
static void
test_observe(void **state)
{
	char instance[64], exe[256] = "";
	static const char *argv_sh[] = { "/bin/sh", NULL };
	const char *argv_me[2] = { exe, NULL };
	struct halb_hb *hb;
	struct ha_obs o;
	ssize_t n;

	(void)state;
	snprintf(instance, sizeof(instance), "test-ha-proc-%d", (int)getpid());
	command(argv_sh);
	ha_probe_hb(instance, HA_PART_FORWARDER, &part, true, &o);
	assert_false(o.present);
	hb = halb_hb_open(instance, "forwarder", 10);
	if (hb == NULL) {
		/* /run/halb is root's: nothing to test here. */
		skip();
	}
	halb_hb_set_state(hb, HALB_HB_READY);
	ha_probe_hb(instance, HA_PART_FORWARDER, &part, false, &o);
	assert_true(o.present && o.alive);
	assert_int_equal(o.pid, getpid());
	assert_int_equal(o.state, HALB_HB_READY);
	assert_true(o.age_ms < 1000);
	/* This test is not /bin/sh: not the part. */
	ha_probe_hb(instance, HA_PART_FORWARDER, &part, true, &o);
	assert_true(o.present);
	assert_false(o.alive);
	/* By its program's path, not its name: the same name elsewhere
	 * is another program. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	command(argv_me);
	snprintf(part.argv[0], CFG_ARG_LEN, "/elsewhere/%s",
		 strrchr(exe, '/') + 1);
	ha_probe_hb(instance, HA_PART_FORWARDER, &part, true, &o);
	assert_false(o.alive);
	snprintf(part.argv[0], CFG_ARG_LEN, "%s", exe);
	ha_probe_hb(instance, HA_PART_FORWARDER, &part, true, &o);
	assert_true(o.alive);
	halb_hb_close(hb);
	ha_probe_hb(instance, HA_PART_FORWARDER, &part, true, &o);
	assert_int_equal(o.state, HALB_HB_STOPPED);
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/%s/forwarder.hb", HALB_RUN_DIR,
			 instance);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", HALB_RUN_DIR, instance);
		rmdir(path);
	}
}

/* A fake BIRD: greets each connection and answers `show status`. */
static int fake_lfd = -1;

static void *
fake_bird(void *arg)
{
	static const char greet[] = "0001 BIRD 2.0.12 ready.\n";
	static const char up[] = "1000-BIRD 2.0.12\n0013 Daemon is up and running\n";
	char buf[128];
	int fd;

	(void)arg;
	while ((fd = accept(fake_lfd, NULL, NULL)) >= 0) {
		if (write(fd, greet, sizeof(greet) - 1) > 0 &&
		    read(fd, buf, sizeof(buf)) > 0 &&
		    write(fd, up, sizeof(up) - 1) > 0)
			(void)read(fd, buf, sizeof(buf)); /* until closed */
		close(fd);
	}
	return NULL;
}

static void
test_probe_bird(void **state)
{
	char sock[108], pidf[64], pid[16];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t th;
	struct ha_obs o;
	int fd;

	(void)state;
	snprintf(sock, sizeof(sock), "/tmp/halb-test-probe-%d.ctl", getpid());
	snprintf(pidf, sizeof(pidf), "/tmp/halb-test-probe-%d.pid", getpid());
	{
		const char *const argv[] = { "/usr/sbin/bird", "-f", "-s", sock,
					     "-P", pidf, NULL };

		command(argv);
	}
	/* No pid file yet: nothing there. */
	unlink(pidf);
	ha_probe_bird("x", 0, &part, false, &o);
	assert_false(o.present);
	fd = open(pidf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	assert_true(write(fd, pid, strlen(pid)) > 0);
	close(fd);
	/* A pid, no socket: there, alive, starting. */
	unlink(sock);
	ha_probe_bird("x", 0, &part, false, &o);
	assert_true(o.present && o.alive);
	assert_int_equal(o.pid, getpid());
	assert_int_equal(o.state, HALB_HB_STARTING);
	/* It answers: ready, fresh. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fake_lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fake_lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fake_lfd, 4), 0);
	assert_int_equal(pthread_create(&th, NULL, fake_bird, NULL), 0);
	usleep((HA_BIRD_PROBE_MS + 20) * 1000);
	ha_probe_bird("x", 0, &part, false, &o);
	assert_int_equal(o.state, HALB_HB_READY);
	assert_true(o.age_ms < HA_BIRD_PROBE_MS);
	/* It stops answering: still ready (it was), but its age grows and
	 * the note says why. */
	shutdown(fake_lfd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(fake_lfd);
	unlink(sock);
	usleep((HA_BIRD_PROBE_MS + 50) * 1000);
	ha_probe_bird("x", 0, &part, false, &o);
	assert_int_equal(o.state, HALB_HB_READY);
	assert_true(o.age_ms >= HA_BIRD_PROBE_MS);
	assert_non_null(strstr(o.note, "does not answer"));
	/* A command without -P: never there (the part's start times out). */
	{
		const char *const argv[] = { "/usr/sbin/bird", "-f", "-s", sock, NULL };

		command(argv);
	}
	ha_probe_bird("x", 0, &part, false, &o);
	assert_false(o.present);
	assert_string_equal(ha_part_arg(&part, "-s"), sock);
	assert_null(ha_part_arg(&part, "-P"));
	unlink(pidf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn_clean),
		cmocka_unit_test(test_spawn_config_and_status),
		cmocka_unit_test(test_adopt),
		cmocka_unit_test(test_adopt_exact_path),
		cmocka_unit_test(test_observe),
		cmocka_unit_test(test_probe_bird),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
