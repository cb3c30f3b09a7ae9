/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The core's event loop (src/core/evloop.c): timers (one-shot, periodic,
 * stopped and re-armed from their callback, fired in order of due time),
 * signals through the signalfd (a callback, a stop, the old mask given
 * back), and descriptors (events delivered, a descriptor removed during
 * a turn gets no stale event, not even through a new owner of its
 * number; the post-turn hook).  Each test bounds its loop with a guard
 * timer that fails it.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "halb/clock.h"
#include "halb/evloop.h"

#define GUARD_MS 3000

static bool guard_fired;

static void
on_guard(struct ev_loop *ev, void *arg)
{
	(void)arg;
	guard_fired = true;
	ev_stop(ev);
}

static struct ev_loop *
loop_with_guard(struct ev_timer *guard)
{
	struct ev_loop *ev = ev_new();

	assert_non_null(ev);
	guard_fired = false;
	ev_timer_init(guard, on_guard, NULL);
	ev_timer_start(ev, guard, GUARD_MS, 0);
	return ev;
}

/* ---- timers ---- */

struct tick {
	int n, stop_at;
	uint64_t at[8];
	int *order, *pos;         /* who fired when, across timers */
	int id;
	struct ev_timer *t;
};

static void
on_tick(struct ev_loop *ev, void *arg)
{
	struct tick *k = arg;

	if (k->n < 8)
		k->at[k->n] = halb_mono_ms();
	k->n++;
	if (k->order != NULL)
		k->order[(*k->pos)++] = k->id;
	if (k->stop_at != 0 && k->n == k->stop_at) {
		if (k->t != NULL)
			ev_timer_stop(ev, k->t);
		else
			ev_stop(ev);
	}
}

static void
test_timers(void **state)
{
	struct ev_timer guard, once, every, end;
	struct tick k_once = { 0 }, k_every = { .stop_at = 3 },
		    k_end = { .stop_at = 1 };
	struct ev_loop *ev = loop_with_guard(&guard);
	uint64_t t0 = halb_mono_ms();

	(void)state;
	k_every.t = &every;
	ev_timer_init(&once, on_tick, &k_once);
	ev_timer_init(&every, on_tick, &k_every);
	ev_timer_init(&end, on_tick, &k_end);
	ev_timer_start(ev, &once, 30, 0);
	ev_timer_start(ev, &every, 10, 20);   /* stops itself after 3 */
	ev_timer_start(ev, &end, 200, 0);     /* stops the loop */
	assert_int_equal(ev_run(ev), 0);
	assert_false(guard_fired);

	assert_int_equal(k_once.n, 1);
	assert_true(k_once.at[0] >= t0 + 30);
	assert_false(once.armed);
	assert_int_equal(k_every.n, 3);
	assert_false(every.armed);
	assert_true(k_every.at[0] >= t0 + 10);
	assert_true(k_every.at[1] >= k_every.at[0] + 20);
	assert_true(k_every.at[2] >= k_every.at[1] + 20);
	assert_int_equal(k_end.n, 1);
	assert_true(k_end.at[0] >= t0 + 200);
	ev_timer_stop(ev, &guard);
	ev_free(ev);
}

static void
test_timer_order_and_restart(void **state)
{
	struct ev_timer guard, t[3], end;
	int order[8], pos = 0;
	struct tick k[3] = {
		{ .id = 0, .order = order, .pos = &pos },
		{ .id = 1, .order = order, .pos = &pos },
		{ .id = 2, .order = order, .pos = &pos },
	};
	struct tick k_end = { .stop_at = 1 };
	struct ev_loop *ev = loop_with_guard(&guard);

	(void)state;
	ev_timer_init(&t[0], on_tick, &k[0]);
	ev_timer_init(&t[1], on_tick, &k[1]);
	ev_timer_init(&t[2], on_tick, &k[2]);
	ev_timer_init(&end, on_tick, &k_end);
	ev_timer_start(ev, &t[0], 60, 0);
	ev_timer_start(ev, &t[1], 20, 0);
	ev_timer_start(ev, &t[2], 40, 0);
	/* Re-armed before it fired: it fires once, at its new time. */
	ev_timer_start(ev, &t[1], 50, 0);
	ev_timer_stop(ev, &t[2]);
	ev_timer_stop(ev, &t[2]);             /* twice is fine */
	ev_timer_start(ev, &end, 100, 0);
	assert_int_equal(ev_run(ev), 0);
	assert_false(guard_fired);
	assert_int_equal(pos, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 0);
	assert_int_equal(k[2].n, 0);
	ev_timer_stop(ev, &guard);
	ev_free(ev);
}

/* ---- signals ---- */

static int got_signo, got_n;

static void
on_usr1(struct ev_loop *ev, int signo, void *arg)
{
	(void)ev;
	(void)arg;
	got_signo = signo;
	got_n++;
	raise(SIGUSR2);  /* and that one stops the loop */
}

static void
on_raise(struct ev_loop *ev, void *arg)
{
	(void)ev;
	(void)arg;
	raise(SIGUSR1);
}

static void
test_signals(void **state)
{
	struct ev_timer guard, go;
	struct ev_loop *ev = loop_with_guard(&guard);
	sigset_t cur;

	(void)state;
	got_signo = got_n = 0;
	assert_int_equal(ev_signal(ev, SIGUSR1, on_usr1, NULL), 0);
	assert_int_equal(ev_signal(ev, SIGUSR2, NULL, NULL), 0);
	assert_int_equal(ev_signal(ev, 0, NULL, NULL), -EINVAL);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	assert_true(sigismember(&cur, SIGUSR1));
	ev_timer_init(&go, on_raise, NULL);
	ev_timer_start(ev, &go, 10, 0);
	assert_int_equal(ev_run(ev), 0);
	assert_false(guard_fired);
	assert_int_equal(got_n, 1);
	assert_int_equal(got_signo, SIGUSR1);
	ev_timer_stop(ev, &guard);
	ev_free(ev);
	/* The signals are the process's again. */
	sigprocmask(SIG_BLOCK, NULL, &cur);
	assert_false(sigismember(&cur, SIGUSR1));
	assert_false(sigismember(&cur, SIGUSR2));
}

/* ---- descriptors ---- */

struct fdt {
	struct ev_loop *ev;
	int p[2], q[2], r[2];     /* pipes */
	int n_p, n_q, n_new, n_post, n_out;
};

/* Counts its events in *(int *)arg. */
static void
on_count(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	(void)ev;
	(void)fd;
	(void)events;
	(*(int *)arg)++;
}

/* p's handler removes q (whose event may already be fetched), closes it
 * and gives its number to a new pipe with another handler. */
static void
on_p(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	struct fdt *t = arg;
	char c;
	int old = t->q[0];

	assert_true(events & EPOLLIN);
	assert_int_equal(read(fd, &c, 1), 1);
	t->n_p++;
	if (t->n_p == 1 && t->q[0] >= 0) {
		ev_fd_del(ev, old);
		close(t->q[0]);
		close(t->q[1]);
		t->q[0] = t->q[1] = -1;
		assert_int_equal(pipe(t->r), 0);
		/* a new pipe takes the lowest free numbers: old's */
		assert_int_equal(t->r[0], old);
		assert_int_equal(ev_fd_add(ev, t->r[0], EPOLLIN, on_count,
					    &t->n_new), 0);
	}
}

static void
on_out(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	struct fdt *t = arg;

	assert_true(events & EPOLLOUT);
	t->n_out++;
	ev_fd_del(ev, fd);
}

static void
on_post(struct ev_loop *ev, void *arg)
{
	struct fdt *t = arg;

	t->n_post++;
	if (t->n_out > 0 && t->n_p > 0)
		ev_stop(ev);
}

static void
test_fd_stale_and_post(void **state)
{
	struct ev_timer guard;
	struct fdt t = { .n_p = 0 };
	struct ev_loop *ev = loop_with_guard(&guard);
	int w[2];

	(void)state;
	t.ev = ev;
	assert_int_equal(pipe(t.p), 0);
	assert_int_equal(pipe(t.q), 0);
	assert_int_equal(pipe(w), 0);
	assert_int_equal(write(t.p[1], "x", 1), 1);
	assert_int_equal(write(t.q[1], "y", 1), 1);
	assert_int_equal(ev_fd_add(ev, t.p[0], EPOLLIN, on_p, &t), 0);
	assert_int_equal(ev_fd_add(ev, t.q[0], EPOLLIN, on_count, &t.n_q), 0);
	/* A write end is writable at once; mod to EPOLLOUT, from nothing. */
	assert_int_equal(ev_fd_add(ev, w[1], 0, on_out, &t), 0);
	assert_int_equal(ev_fd_mod(ev, w[1], EPOLLOUT), 0);
	ev_post(ev, on_post, &t);
	assert_int_equal(ev_run(ev), 0);
	assert_false(guard_fired);
	assert_int_equal(t.n_p, 1);
	assert_int_equal(t.n_out, 1);
	/* q was removed after its event was fetched (epoll hands ready
	 * descriptors out in the order they became ready: p first) and
	 * before it was delivered: dropped, and never given to r, which
	 * took q's number. */
	assert_int_equal(t.n_q, 0);
	assert_int_equal(t.n_new, 0);
	assert_true(t.n_post >= 1);
	ev_fd_del(ev, t.p[0]);
	ev_fd_del(ev, t.r[0]);
	ev_timer_stop(ev, &guard);
	ev_free(ev);
	close(t.p[0]);
	close(t.p[1]);
	close(t.r[0]);
	close(t.r[1]);
	close(w[0]);
	close(w[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timer_order_and_restart),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_fd_stale_and_post),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
