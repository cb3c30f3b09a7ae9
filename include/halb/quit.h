/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How a poll-loop program (the DPDK ones, whose loops never block in a
 * system call that a signalfd could wake) learns that it must stop: a
 * flag that SIGINT and SIGTERM set and that its loop reads (and one that
 * SIGHUP sets, for a reload).  The event-loop
 * daemons use ev_stop_on_term() (halb/evloop.h) instead.
 */
#ifndef HALB_QUIT_H
#define HALB_QUIT_H

#include <stdbool.h>

/* Makes SIGINT and SIGTERM set *flag (one flag per process), and SIGHUP
 * say on stderr that it is ignored (halb-classifier: it follows the
 * forwarder's reloads).  Returns 0 or -errno. */
int halb_quit_on_term(volatile bool *flag);

/* After halb_quit_on_term(): SIGHUP sets *flag instead, which the
 * program's loop reads and clears to reload (halb-forwarder).  Returns 0
 * or -errno. */
int halb_reload_on_hup(volatile bool *flag);

#endif
