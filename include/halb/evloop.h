/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event loop of the DPDK-free programs (src/core/evloop.c): one
 * thread, one epoll set, and three kinds of events, each a callback with
 * its argument:
 *   - file descriptors: ev_fd_add() with the epoll events wanted; the
 *     callback gets the events that came;
 *   - signals, read from one signalfd: ev_signal() blocks the signal and
 *     either calls back or, without a callback, stops the loop (what
 *     SIGINT and SIGTERM do in every daemon);
 *   - timers on the monotonic clock, one-shot or periodic, kept by the
 *     caller (struct ev_timer), in a list sorted by when they are due.
 * ev_run() turns until ev_stop(); each turn runs the timers that are
 * due, sleeps in epoll_wait until the next one, calls back what became
 * ready, then calls the post hook (ev_post), so that work made by a
 * whole batch of events is done once.
 *
 * A descriptor is removed with ev_fd_del() before it is closed; an event
 * already fetched for a descriptor removed (or removed and reused) during
 * the same turn is dropped, never delivered to the new owner.
 *
 * Nothing is thread-safe: every call comes from the loop's thread.
 */
#ifndef HALB_EVLOOP_H
#define HALB_EVLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

typedef void (*ev_fd_fn)(struct ev_loop *ev, int fd, uint32_t events,
			 void *arg);
typedef void (*ev_timer_fn)(struct ev_loop *ev, void *arg);
typedef void (*ev_signal_fn)(struct ev_loop *ev, int signo, void *arg);
typedef void (*ev_hook_fn)(struct ev_loop *ev, void *arg);
struct sockaddr;
/* A datagram read for the program; len at most max_len + 1 (see
 * ev_dgram_add). */
typedef void (*ev_dgram_fn)(struct ev_loop *ev, const uint8_t *dgram,
			    size_t len, const struct sockaddr *from,
			    void *arg);

/* A timer; the caller owns it and keeps it while it is armed. */
struct ev_timer {
	uint64_t due_ms;          /* halb_mono_ms() it is due at */
	uint32_t period_ms;       /* 0: one-shot */
	bool armed;
	ev_timer_fn fn;
	void *arg;
	struct ev_timer *next;    /* the loop's list */
};

/* A loop; NULL with errno set. */
struct ev_loop *ev_new(void);
/*
 * Frees the loop: closes the epoll set and the signalfd, gives the
 * signals it blocked back their old mask (after reading away any that
 * are pending).  The descriptors added are the caller's to close.
 */
void ev_free(struct ev_loop *ev);

/* Watches fd for events (EPOLLIN, EPOLLOUT...).  0 or -errno
 * (-EEXIST: already watched). */
int ev_fd_add(struct ev_loop *ev, int fd, uint32_t events, ev_fd_fn fn,
	      void *arg);
/*
 * Watches the non-blocking datagram socket fd: each time it is readable,
 * reads up to burst datagrams (then lets the others' events have their
 * turn) and hands each to fn.  A datagram longer than max_len (at most
 * 65535) comes cut to max_len + 1 bytes, so that fn can tell it was too
 * long.  0 or -errno.
 */
int ev_dgram_add(struct ev_loop *ev, int fd, size_t max_len,
		 unsigned int burst, ev_dgram_fn fn, void *arg);
/* Changes what fd is watched for; 0 or -errno. */
int ev_fd_mod(struct ev_loop *ev, int fd, uint32_t events);
/* Stops watching fd (before it is closed); an fd not watched is fine. */
void ev_fd_del(struct ev_loop *ev, int fd);

void ev_timer_init(struct ev_timer *t, ev_timer_fn fn, void *arg);
/*
 * Arms t to fire after_ms from now, and then every period_ms (0: once),
 * each next time counted from when it fired.  Re-arms it if armed.
 */
void ev_timer_start(struct ev_loop *ev, struct ev_timer *t, uint64_t after_ms,
		    uint32_t period_ms);
/* Disarms t (fine if it is not armed). */
void ev_timer_stop(struct ev_loop *ev, struct ev_timer *t);

/*
 * Delivers signo through the loop: fn is called from the loop for each
 * one received, or, with fn NULL, the loop stops.  The signal is blocked
 * in this thread (so, before threads are made, in the process).
 * 0 or -errno.
 */
int ev_signal(struct ev_loop *ev, int signo, ev_signal_fn fn, void *arg);

/*
 * What every daemon wants: SIGINT and SIGTERM stop the loop, SIGPIPE is
 * ignored (a client that went away is a send error, not our end).
 * 0 or -errno.
 */
int ev_stop_on_term(struct ev_loop *ev);

/* fn(ev, arg) after every turn that delivered events; NULL: none. */
void ev_post(struct ev_loop *ev, ev_hook_fn fn, void *arg);

/* Runs until ev_stop().  0, or -errno if epoll_wait failed. */
int ev_run(struct ev_loop *ev);
/* A daemon's ev_run(): logs how it ended ("stopping", or the error);
 * returns the exit code, 0 or 1. */
int ev_main(struct ev_loop *ev);
/* Makes ev_run() return after the callback that called it. */
void ev_stop(struct ev_loop *ev);

/* halb_mono_ms() as of the start of the callbacks being run. */
uint64_t ev_now(const struct ev_loop *ev);

#endif /* HALB_EVLOOP_H */
