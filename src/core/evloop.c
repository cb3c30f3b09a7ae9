/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event loop (halb/evloop.h).
 *
 * Descriptors are kept in a table indexed by fd, grown as needed; each
 * slot has a generation, bumped when the fd is removed, that travels in
 * the epoll data with the fd, so that an event fetched before a removal
 * in the same turn is recognised as stale and dropped.  Timers are a
 * singly linked list sorted by due time: daemons have a handful.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "halb/clock.h"
#include "halb/evloop.h"
#include "halb/log.h"

#define EV_BATCH 64
/* Timers run per turn at most, so that one re-armed for "now" in its
 * own callback cannot keep the loop from its descriptors. */
#define EV_TIMERS_PER_TURN 64

struct ev_fd {
	ev_fd_fn fn;              /* NULL: slot free */
	void *arg;
	uint32_t gen;
	/* datagram sockets (ev_dgram_add) */
	ev_dgram_fn dgram;
	uint32_t max_len, burst;
};

#define EV_DGRAM_MAX 65535

struct ev_sig {
	bool set, stop;
	ev_signal_fn fn;
	void *arg;
};

struct ev_loop {
	int ep;
	struct ev_fd *fds;
	size_t n_fds;
	struct ev_timer *timers;
	int sig;                  /* the signalfd, or -1 */
	sigset_t mask, old_mask;  /* delivered through sig; the mask before */
	struct ev_sig sigs[_NSIG];
	ev_hook_fn post;
	void *post_arg;
	uint8_t *rx;              /* EV_DGRAM_MAX + 1 bytes, for every socket */
	uint64_t now;
	bool stop;
};

#define EV_DATA(fd, gen) (((uint64_t)(gen) << 32) | (uint32_t)(fd))

struct ev_loop *
ev_new(void)
{
	struct ev_loop *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return NULL;
	ev->ep = epoll_create1(EPOLL_CLOEXEC);
	if (ev->ep < 0) {
		int err = errno;

		free(ev);
		errno = err;
		return NULL;
	}
	ev->sig = -1;
	sigemptyset(&ev->mask);
	ev->now = halb_mono_ms();
	return ev;
}

void
ev_free(struct ev_loop *ev)
{
	struct signalfd_siginfo si;

	if (ev == NULL)
		return;
	if (ev->sig >= 0) {
		/* What is pending would take its default action once
		 * unblocked: it was meant for us, read it away. */
		while (read(ev->sig, &si, sizeof(si)) == (ssize_t)sizeof(si))
			;
		close(ev->sig);
		sigprocmask(SIG_SETMASK, &ev->old_mask, NULL);
	}
	close(ev->ep);
	free(ev->fds);
	free(ev->rx);
	free(ev);
}

static int
fd_slot(struct ev_loop *ev, int fd)
{
	struct ev_fd *n;
	size_t cap;

	if (fd < 0)
		return -EBADF;
	if ((size_t)fd < ev->n_fds)
		return 0;
	for (cap = ev->n_fds ? ev->n_fds : 64; cap <= (size_t)fd; cap *= 2)
		;
	n = realloc(ev->fds, cap * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	memset(n + ev->n_fds, 0, (cap - ev->n_fds) * sizeof(*n));
	ev->fds = n;
	ev->n_fds = cap;
	return 0;
}

int
ev_fd_add(struct ev_loop *ev, int fd, uint32_t events, ev_fd_fn fn,
	  void *arg)
{
	struct epoll_event e = { .events = events };
	struct ev_fd *s;
	int rc = fd_slot(ev, fd);

	if (rc != 0)
		return rc;
	s = &ev->fds[fd];
	if (s->fn != NULL)
		return -EEXIST;
	e.data.u64 = EV_DATA(fd, s->gen);
	if (epoll_ctl(ev->ep, EPOLL_CTL_ADD, fd, &e) != 0)
		return -errno;
	s->fn = fn;
	s->arg = arg;
	return 0;
}

int
ev_fd_mod(struct ev_loop *ev, int fd, uint32_t events)
{
	struct epoll_event e = { .events = events };

	if (fd < 0 || (size_t)fd >= ev->n_fds || ev->fds[fd].fn == NULL)
		return -ENOENT;
	e.data.u64 = EV_DATA(fd, ev->fds[fd].gen);
	return epoll_ctl(ev->ep, EPOLL_CTL_MOD, fd, &e) == 0 ? 0 : -errno;
}

static void
on_dgram_fd(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	struct sockaddr_storage from;
	uint32_t gen = ev->fds[fd].gen, i;
	socklen_t fl;
	size_t cap;
	ssize_t n;

	(void)events;
	for (i = 0; i < ev->fds[fd].burst; i++) {
		/* The callback may have removed fd. */
		if (ev->fds[fd].fn != on_dgram_fd || ev->fds[fd].gen != gen)
			return;
		cap = (size_t)ev->fds[fd].max_len + 1;
		fl = sizeof(from);
		n = recvfrom(fd, ev->rx, cap, MSG_TRUNC,
			     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		/* MSG_TRUNC: n is the real length, even when it did not fit. */
		ev->fds[fd].dgram(ev, ev->rx, (size_t)n > cap ? cap : (size_t)n,
				  (struct sockaddr *)&from, arg);
	}
}

int
ev_dgram_add(struct ev_loop *ev, int fd, size_t max_len, unsigned int burst,
	     ev_dgram_fn fn, void *arg)
{
	int rc;

	if (max_len > EV_DGRAM_MAX || burst == 0)
		return -EINVAL;
	if (ev->rx == NULL) {
		ev->rx = malloc(EV_DGRAM_MAX + 1);
		if (ev->rx == NULL)
			return -ENOMEM;
	}
	rc = ev_fd_add(ev, fd, EPOLLIN, on_dgram_fd, arg);
	if (rc != 0)
		return rc;
	ev->fds[fd].dgram = fn;
	ev->fds[fd].max_len = (uint32_t)max_len;
	ev->fds[fd].burst = burst;
	return 0;
}

void
ev_fd_del(struct ev_loop *ev, int fd)
{
	if (fd < 0 || (size_t)fd >= ev->n_fds || ev->fds[fd].fn == NULL)
		return;
	epoll_ctl(ev->ep, EPOLL_CTL_DEL, fd, NULL);
	ev->fds[fd].fn = NULL;
	ev->fds[fd].arg = NULL;
	ev->fds[fd].gen++;
}

void
ev_timer_init(struct ev_timer *t, ev_timer_fn fn, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->arg = arg;
}

static void
timer_insert(struct ev_loop *ev, struct ev_timer *t)
{
	struct ev_timer **p = &ev->timers;

	/* After those due at the same time: they fire in arming order. */
	while (*p != NULL && (*p)->due_ms <= t->due_ms)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
	t->armed = true;
}

void
ev_timer_stop(struct ev_loop *ev, struct ev_timer *t)
{
	struct ev_timer **p;

	if (!t->armed)
		return;
	for (p = &ev->timers; *p != NULL; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->next = NULL;
	t->armed = false;
}

void
ev_timer_start(struct ev_loop *ev, struct ev_timer *t, uint64_t after_ms,
	       uint32_t period_ms)
{
	ev_timer_stop(ev, t);
	t->due_ms = halb_mono_ms() + after_ms;
	t->period_ms = period_ms;
	timer_insert(ev, t);
}

static void
run_timers(struct ev_loop *ev)
{
	struct ev_timer *t;
	int n;

	for (n = 0; n < EV_TIMERS_PER_TURN && !ev->stop; n++) {
		t = ev->timers;
		if (t == NULL || t->due_ms > ev->now)
			return;
		ev->timers = t->next;
		t->next = NULL;
		t->armed = false;
		if (t->period_ms != 0) {
			/* From now, not from when it was due: a loop that
			 * was held up does not fire a burst to catch up. */
			t->due_ms = ev->now + t->period_ms;
			timer_insert(ev, t);
		}
		t->fn(ev, t->arg);
	}
}

static void
on_signalfd(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;
	struct ev_sig *s;

	(void)events;
	(void)arg;
	while (!ev->stop && read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo >= _NSIG || !ev->sigs[si.ssi_signo].set)
			continue;
		s = &ev->sigs[si.ssi_signo];
		if (s->stop)
			ev->stop = true;
		else
			s->fn(ev, (int)si.ssi_signo, s->arg);
	}
}

int
ev_signal(struct ev_loop *ev, int signo, ev_signal_fn fn, void *arg)
{
	sigset_t one, old;
	int fd, rc;

	if (signo <= 0 || signo >= _NSIG)
		return -EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, &old) != 0)
		return -errno;
	if (ev->sig < 0)
		ev->old_mask = old;
	sigaddset(&ev->mask, signo);
	fd = signalfd(ev->sig, &ev->mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ev->sig < 0) {
		ev->sig = fd;
		rc = ev_fd_add(ev, fd, EPOLLIN, on_signalfd, NULL);
		if (rc != 0)
			return rc;
	}
	ev->sigs[signo] = (struct ev_sig){ .set = true, .stop = fn == NULL,
					   .fn = fn, .arg = arg };
	return 0;
}

int
ev_stop_on_term(struct ev_loop *ev)
{
	int rc = ev_signal(ev, SIGINT, NULL, NULL);

	if (rc == 0)
		rc = ev_signal(ev, SIGTERM, NULL, NULL);
	signal(SIGPIPE, SIG_IGN);
	return rc;
}

void
ev_post(struct ev_loop *ev, ev_hook_fn fn, void *arg)
{
	ev->post = fn;
	ev->post_arg = arg;
}

static int
next_timeout(const struct ev_loop *ev)
{
	uint64_t due;

	if (ev->timers == NULL)
		return -1;
	due = ev->timers->due_ms;
	if (due <= ev->now)
		return 0;
	return due - ev->now > INT_MAX ? INT_MAX : (int)(due - ev->now);
}

int
ev_run(struct ev_loop *ev)
{
	struct epoll_event evs[EV_BATCH];
	int n, i;

	ev->stop = false;
	while (!ev->stop) {
		ev->now = halb_mono_ms();
		run_timers(ev);
		if (ev->stop)
			break;
		n = epoll_wait(ev->ep, evs, EV_BATCH, next_timeout(ev));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ev->now = halb_mono_ms();
		for (i = 0; i < n && !ev->stop; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			struct ev_fd *s = &ev->fds[fd];

			if (s->fn == NULL || s->gen != gen)
				continue; /* removed during this turn */
			s->fn(ev, fd, evs[i].events, s->arg);
		}
		if (n > 0 && !ev->stop && ev->post != NULL)
			ev->post(ev, ev->post_arg);
	}
	return 0;
}

int
ev_main(struct ev_loop *ev)
{
	int rc = ev_run(ev);

	if (rc != 0) {
		HLOG(ERR, "epoll_wait: %s", strerror(-rc));
		return 1;
	}
	HLOG(NOTICE, "stopping");
	return 0;
}

void
ev_stop(struct ev_loop *ev)
{
	ev->stop = true;
}

uint64_t
ev_now(const struct ev_loop *ev)
{
	return ev->now;
}
