/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The core's control sockets (src/core/ctl.c): a server in an event
 * loop on its own thread, and clients on the test's: a request and its
 * answer (also one larger than a socket buffer), a request that comes in
 * pieces, a line too long, the bounded table (one client too many is
 * closed at once, counted, and a freed slot serves again), the idle
 * timeout, and the client's own timeout against a server that never
 * answers, and its error when nobody listens.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/clock.h"
#include "halb/ctl.h"
#include "halb/evloop.h"
#include "halb/log.h"
#include "halb/sock.h"

#define BIG (1u << 20)

struct srv {
	struct ev_loop *ev;
	struct ctl_server *ctl;
	int stop[2];              /* a byte on stop[1] ends the loop */
	pthread_t th;
	char path[108];
	struct ctl_stats st;      /* copied when the loop ended */
};

/* "echo X" answers "X\n"; "big" answers BIG bytes; "len" the length
 * of the request; "silent" nothing (the connection is closed). */
static void
answer(void *arg, const char *req, FILE *out)
{
	size_t i;

	(void)arg;
	if (strncmp(req, "echo ", 5) == 0) {
		fprintf(out, "%s\n", req + 5);
	} else if (strcmp(req, "big") == 0) {
		for (i = 0; i < BIG; i++)
			fputc('a' + (int)(i % 26), out);
	} else if (strcmp(req, "silent") != 0) {
		fprintf(out, "%zu\n", strlen(req));
	}
}

static void
on_stop(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	ev_stop(ev);
}

static void *
serve(void *arg)
{
	struct srv *s = arg;

	ev_run(s->ev);
	return NULL;
}

static void
srv_start(struct srv *s, unsigned int max_clients, uint32_t idle_ms)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "/tmp/halb-test-ctl.%d/ctl.sock",
		 (int)getpid());
	s->ev = ev_new();
	assert_non_null(s->ev);
	s->ctl = ctl_listen(s->ev, s->path, max_clients, answer, NULL);
	assert_non_null(s->ctl);
	if (idle_ms != 0)
		ctl_set_idle_ms(s->ctl, idle_ms);
	assert_int_equal(pipe(s->stop), 0);
	assert_int_equal(ev_fd_add(s->ev, s->stop[0], EPOLLIN, on_stop, NULL), 0);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void
srv_end(struct srv *s)
{
	char dir[108], *slash;

	assert_int_equal(write(s->stop[1], "x", 1), 1);
	assert_int_equal(pthread_join(s->th, NULL), 0);
	s->st = *ctl_stats(s->ctl);
	ctl_close(s->ctl);
	assert_int_not_equal(access(s->path, F_OK), 0); /* file removed */
	ev_fd_del(s->ev, s->stop[0]);
	ev_free(s->ev);
	close(s->stop[0]);
	close(s->stop[1]);
	snprintf(dir, sizeof(dir), "%s", s->path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	rmdir(dir);
}

/* A raw client: blocking, reads bounded by 3 s. */
static int
raw_connect(const char *path)
{
	struct timeval tv = { .tv_sec = 3 };
	int fd = halb_unix_connect(path);

	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)), 0);
	return fd;
}

/* Reads to the end (or 3 s); returns the length, buf NUL-terminated. */
static size_t
raw_read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

static void
test_request(void **state)
{
	struct srv s;
	size_t len = 0, i;
	char *a;

	(void)state;
	srv_start(&s, 4, 0);
	a = ctl_request(s.path, "echo hello\n", 2000, &len);
	assert_non_null(a);
	assert_string_equal(a, "hello\n");
	assert_int_equal(len, 6);
	free(a);
	/* "\r\n" ends a line too. */
	a = ctl_request(s.path, "echo crlf\r\n", 2000, NULL);
	assert_non_null(a);
	assert_string_equal(a, "crlf\n");
	free(a);
	/* An answer larger than the socket takes at once. */
	a = ctl_request(s.path, "big\n", 5000, &len);
	assert_non_null(a);
	assert_int_equal(len, BIG);
	for (i = 0; i < BIG; i += 4099)
		assert_int_equal(a[i], 'a' + (int)(i % 26));
	free(a);
	/* Nothing to say: the connection just closes. */
	a = ctl_request(s.path, "silent\n", 2000, &len);
	assert_non_null(a);
	assert_int_equal(len, 0);
	free(a);
	srv_end(&s);
	assert_int_equal(s.st.accepted, 4);
	assert_int_equal(s.st.answered, 3);
	assert_int_equal(s.st.refused, 0);
}

static void
test_partial_and_long(void **state)
{
	char buf[512], line[400];
	struct srv s;
	int fd;

	(void)state;
	srv_start(&s, 4, 0);
	/* A request in three pieces, with pauses between. */
	fd = raw_connect(s.path);
	assert_int_equal(write(fd, "ec", 2), 2);
	usleep(30000);
	assert_int_equal(write(fd, "ho pie", 6), 6);
	usleep(30000);
	assert_int_equal(write(fd, "ces\n", 4), 4);
	raw_read_all(fd, buf, sizeof(buf));
	assert_string_equal(buf, "pieces\n");
	close(fd);
	/* No newline within CTL_REQ_MAX - 1 bytes: that much is the
	 * request (the handler counts it). */
	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	fd = raw_connect(s.path);
	assert_int_equal(write(fd, line, sizeof(line)), (ssize_t)sizeof(line));
	raw_read_all(fd, buf, sizeof(buf));
	snprintf(line, sizeof(line), "%d\n", CTL_REQ_MAX - 1);
	assert_string_equal(buf, line);
	close(fd);
	/* Gone before a whole line: no answer, nothing kept. */
	fd = raw_connect(s.path);
	assert_int_equal(write(fd, "echo x", 6), 6);
	close(fd);
	srv_end(&s);
	assert_int_equal(s.st.accepted, 3);
	assert_int_equal(s.st.answered, 2);
}

static void
test_bounded(void **state)
{
	struct srv s;
	size_t len = 99;
	int fd[2];
	char *a;

	(void)state;
	srv_start(&s, 2, 0);
	/* Two clients that say nothing hold the table. */
	fd[0] = raw_connect(s.path);
	fd[1] = raw_connect(s.path);
	usleep(50000);
	/* A third is accepted and closed: an empty answer, at once. */
	a = ctl_request(s.path, "echo third\n", 2000, &len);
	assert_non_null(a);
	assert_int_equal(len, 0);
	free(a);
	/* One leaves: its slot serves again. */
	close(fd[0]);
	usleep(50000);
	a = ctl_request(s.path, "echo fourth\n", 2000, NULL);
	assert_non_null(a);
	assert_string_equal(a, "fourth\n");
	free(a);
	close(fd[1]);
	srv_end(&s);
	assert_int_equal(s.st.refused, 1);
	assert_int_equal(s.st.accepted, 3);
	assert_int_equal(s.st.answered, 1);
}

static void
test_idle_timeout(void **state)
{
	uint64_t t0;
	struct srv s;
	char buf[16];
	int fd;

	(void)state;
	srv_start(&s, 1, 200);
	fd = raw_connect(s.path);
	t0 = halb_mono_ms();
	/* Says nothing: closed after the idle time, not before. */
	assert_int_equal(raw_read_all(fd, buf, sizeof(buf)), 0);
	assert_true(halb_mono_ms() - t0 >= 150);
	assert_true(halb_mono_ms() - t0 < 2500);
	close(fd);
	srv_end(&s);
	assert_int_equal(s.st.timeouts, 1);
}

static void
test_client_timeout(void **state)
{
	char path[108];
	uint64_t t0;
	char *a;
	int lfd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/halb-test-ctl-mute.%d.sock",
		 (int)getpid());
	/* Listens, never accepts: the connection waits in the backlog. */
	lfd = halb_unix_bind(path, SOCK_STREAM);
	assert_true(lfd >= 0);
	t0 = halb_mono_ms();
	a = ctl_request(path, "status\n", 200, NULL);
	assert_null(a);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(halb_mono_ms() - t0 >= 200);
	assert_true(halb_mono_ms() - t0 < 2000);
	close(lfd);
	unlink(path);
	/* Nobody there. */
	a = ctl_request(path, "status\n", 200, NULL);
	assert_null(a);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_partial_and_long),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_client_timeout),
	};

	halb_log_level = HLOG_WARNING;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
