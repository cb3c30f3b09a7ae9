/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checks of every kind run through the table (healthload/hc_run.c,
 * hc_tcp.c, hc_command.c) in the core's event loop, against local
 * servers of the test: tcp up and refused; http with the status wanted,
 * another status, and a server that never answers (the timeout); command
 * exiting 0 and 3, and one that outlives its timeout (killed, reaped on
 * SIGCHLD, "command timed out"); a second start while one runs, and a
 * kind without operations.  Each loop is bounded by a guard timer.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/cfg-t.h"
#include "halb/evloop.h"
#include "halb/log.h"
#include "hc.h"

struct run {
	struct ev_loop *ev;
	struct ev_timer guard;
	struct hc_check c;
	int n;
	enum hc_result r;
	char why[HC_WHY_LEN];
	const char *answer;       /* the http server's, or NULL: none */
	int lfd;
};

static void
on_guard(struct ev_loop *ev, void *arg)
{
	(void)arg;
	fail_msg("the check gave no result in time");
	ev_stop(ev);
}

static void
on_done(void *arg, enum hc_result r, const char *why)
{
	struct run *t = arg;

	t->n++;
	t->r = r;
	snprintf(t->why, sizeof(t->why), "%s", why);
	ev_stop(t->ev);
}

static void
on_sigchld(struct ev_loop *ev, int signo, void *arg)
{
	struct run *t = arg;

	(void)ev;
	(void)signo;
	hc_check_reap(&t->c);
}

/* The http server: answers a connection once its request is in. */
static void
on_conn(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	struct run *t = arg;
	char req[512];

	(void)events;
	if (read(fd, req, sizeof(req)) < 0 && errno == EAGAIN)
		return;
	if (write(fd, t->answer, strlen(t->answer)) < 0)
		req[0] = '\0';
	ev_fd_del(ev, fd);
	close(fd);
}

static void
on_accept(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	int c;

	(void)events;
	while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
		assert_int_equal(ev_fd_add(ev, c, EPOLLIN, on_conn, arg), 0);
}

/* A listening TCP socket on 127.0.0.1; its port in *port. */
static int
listener(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
run_start(struct run *t)
{
	memset(t, 0, sizeof(*t));
	t->lfd = -1;
	t->ev = ev_new();
	assert_non_null(t->ev);
	ev_timer_init(&t->guard, on_guard, NULL);
	ev_timer_start(t->ev, &t->guard, 3000, 0);
	assert_int_equal(ev_signal(t->ev, SIGCHLD, on_sigchld, t), 0);
	hc_check_init(&t->c);
}

/* Runs one check of tgt; returns its result. */
static enum hc_result
check(struct run *t, struct hc_target *tgt)
{
	assert_int_equal(hc_check_start(&t->c, t->ev, tgt, on_done, t), 0);
	if (t->n == 0)
		assert_int_equal(ev_run(t->ev), 0);
	assert_int_equal(t->n, 1);
	assert_false(hc_check_running(&t->c));
	t->n = 0;
	return t->r;
}

static void
run_end(struct run *t)
{
	hc_check_cancel(&t->c);
	if (t->lfd >= 0) {
		ev_fd_del(t->ev, t->lfd);
		close(t->lfd);
	}
	ev_timer_stop(t->ev, &t->guard);
	ev_free(t->ev);
}

static void
target(struct hc_target *tgt, unsigned int type, uint16_t port)
{
	memset(tgt, 0, sizeof(*tgt));
	tgt->type = (uint8_t)type;
	halb_ip_parse("127.0.0.1", &tgt->addr);
	tgt->port = port;
	tgt->expect = 200;
	tgt->path = "/health";
	tgt->timeout_ms = 500;
}

static void
test_tcp(void **state)
{
	struct hc_target tgt;
	struct run t;
	uint16_t port;
	int fd;

	(void)state;
	run_start(&t);
	fd = listener(&port);
	target(&tgt, CFG_CHECK_TCP, port);
	assert_int_equal(check(&t, &tgt), HC_OK);
	assert_string_equal(t.why, "ok");
	close(fd);  /* nobody there now */
	assert_int_equal(check(&t, &tgt), HC_FAIL);
	assert_non_null(strstr(t.why, "connect"));
	run_end(&t);
}

static void
test_http(void **state)
{
	struct hc_target tgt;
	struct run t;
	uint16_t port;

	(void)state;
	run_start(&t);
	t.lfd = listener(&port);
	t.answer = "HTTP/1.0 200 OK\r\n\r\n";
	assert_int_equal(ev_fd_add(t.ev, t.lfd, EPOLLIN, on_accept, &t), 0);
	target(&tgt, CFG_CHECK_HTTP, port);
	assert_int_equal(check(&t, &tgt), HC_OK);
	t.answer = "HTTP/1.1 503 Busy\r\n\r\n";
	assert_int_equal(check(&t, &tgt), HC_FAIL);
	assert_string_equal(t.why, "status 503, expected 200");
	/* A server that takes the connection and never answers. */
	ev_fd_del(t.ev, t.lfd);
	tgt.timeout_ms = 100;
	assert_int_equal(check(&t, &tgt), HC_TIMEOUT);
	assert_string_equal(t.why, "timeout reading the status line");
	run_end(&t);
}

static void
test_command(void **state)
{
	struct hc_target tgt;
	struct run t;

	(void)state;
	run_start(&t);
	target(&tgt, CFG_CHECK_COMMAND, 0);
	tgt.command = "true";
	assert_int_equal(check(&t, &tgt), HC_OK);
	assert_string_equal(t.why, "command exited 0");
	tgt.command = "exit 3";
	assert_int_equal(check(&t, &tgt), HC_FAIL);
	assert_string_equal(t.why, "command exited 3");
	tgt.command = "sleep 10";
	tgt.timeout_ms = 100;
	assert_int_equal(check(&t, &tgt), HC_TIMEOUT);
	assert_string_equal(t.why, "command timed out");
	assert_int_equal(t.c.pid, 0);  /* reaped */
	run_end(&t);
}

static void
test_busy_and_none(void **state)
{
	struct hc_target tgt;
	struct run t;

	(void)state;
	run_start(&t);
	target(&tgt, CFG_CHECK_COMMAND, 0);
	tgt.command = "sleep 10";
	assert_int_equal(hc_check_start(&t.c, t.ev, &tgt, on_done, &t), 0);
	assert_true(hc_check_running(&t.c));
	/* The run in flight decides first. */
	assert_int_equal(hc_check_start(&t.c, t.ev, &tgt, on_done, &t), -EBUSY);
	/* Stopped without a result: killed and reaped, no callback. */
	hc_check_cancel(&t.c);
	assert_false(hc_check_running(&t.c));
	assert_int_equal(t.c.pid, 0);
	assert_int_equal(t.n, 0);
	target(&tgt, CFG_CHECK_NONE, 0);
	assert_int_equal(hc_check_start(&t.c, t.ev, &tgt, on_done, &t), -ENOTSUP);
	assert_null(hc_ops_of(CFG_CHECK_NONE));
	assert_string_equal(hc_ops_of(CFG_CHECK_HTTP)->name, "http");
	assert_null(hc_ops_of(CFG_CHECK__COUNT));
	run_end(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_busy_and_none),
	};

	halb_log_level = HLOG_WARNING;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
