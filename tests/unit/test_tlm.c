/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The telemetry client (src/core/tlm.c) against a stand-in for a
 * forwarder's telemetry socket: a query is answered; a forwarder that
 * accepts but never answers (stopped: SIGSTOP, or hung) costs a bounded
 * wait and a "timed out", not a halbctl or exporter stuck for ever.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/tlm.h"

static char prefix[32], dir[64], sock_path[100];
static int server_pid;

/* The greeting, then answers ("{...}") while answer is set, else
 * silence. */
static void
serve(int lfd, bool answer)
{
	char buf[256];
	int fd;

	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(1);
		if (write(fd, "{\"version\": \"test\"}", 19) < 0)
			_exit(1);
		while (read(fd, buf, sizeof(buf)) > 0) {
			if (!answer)
				continue;
			if (write(fd, "{\"/halb/status\": {\"ok\": 1}}", 27) < 0)
				break;
		}
		close(fd);
	}
}

static void
start_server(bool answer)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *run = getenv("XDG_RUNTIME_DIR");
	int lfd;

	/* Where tlm_open looks (tlm.c). */
	if (getuid() == 0 || run == NULL)
		run = "/var/run";
	snprintf(prefix, sizeof(prefix), "test-tlm-%d", (int)getpid());
	snprintf(dir, sizeof(dir), "%s/dpdk", run);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/dpdk/%s", run, prefix);
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(sock_path, sizeof(sock_path), "%s/dpdk_telemetry.v2", dir);
	unlink(sock_path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	server_pid = fork();
	assert_true(server_pid >= 0);
	if (server_pid == 0)
		serve(lfd, answer);
	close(lfd);
}

static int
stop_server(void **state)
{
	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
	server_pid = 0;
	unlink(sock_path);
	rmdir(dir);
	return 0;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
test_answered(void **state)
{
	char path[160], why[128];
	json_t *r;
	int fd;

	(void)state;
	start_server(true);
	fd = tlm_open(prefix, path, sizeof(path));
	assert_true(fd >= 0);
	assert_string_equal(path, sock_path);
	r = tlm_query(fd, "/halb/status", why, sizeof(why));
	assert_non_null(r);
	json_decref(r);
	close(fd);
}

/* A forwarder that says hello, then nothing (SIGSTOPped after accept,
 * or its telemetry thread stuck): the query gives up. */
static void
test_silent(void **state)
{
	char path[160], why[128];
	uint64_t t0;
	json_t *r;
	int fd;

	(void)state;
	start_server(false);
	fd = tlm_open(prefix, path, sizeof(path));
	assert_true(fd >= 0);
	t0 = now_ms();
	r = tlm_query(fd, "/halb/status", why, sizeof(why));
	assert_null(r);
	assert_string_equal(why, strerror(ETIMEDOUT));
	assert_true(now_ms() - t0 >= TLM_TIMEOUT_MS - 100);
	assert_true(now_ms() - t0 < TLM_TIMEOUT_MS + 2000);
	close(fd);
}

/* A stopped forwarder does not even greet: tlm_open gives up too. */
static void
test_stopped(void **state)
{
	char path[160];
	uint64_t t0;
	int fd;

	(void)state;
	start_server(true);
	kill(server_pid, SIGSTOP);
	t0 = now_ms();
	fd = tlm_open(prefix, path, sizeof(path));
	assert_int_equal(fd, -ETIMEDOUT);
	assert_true(now_ms() - t0 < TLM_TIMEOUT_MS + 2000);
	kill(server_pid, SIGCONT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_answered, stop_server),
		cmocka_unit_test_teardown(test_silent, stop_server),
		cmocka_unit_test_teardown(test_stopped, stop_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
