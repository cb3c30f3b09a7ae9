/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every DPDK-free daemon stands on (src/core/daemon.c): an event
 * loop that SIGINT and SIGTERM stop (and SIGUSR1 and SIGUSR2 make log
 * more and less: halb_log_step; SIGHUP reloads, for a daemon that
 * can), one UDP socket whose datagrams the
 * loop hands to the program, and one control socket (halb/ctl.h).  A
 * daemon's main is then: halb_cli(), load its file, halb_daemon_open(),
 * its own timers, ev_main(), free its state, halb_daemon_close().
 */
#ifndef HALB_DAEMON_H
#define HALB_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "halb/ctl.h"
#include "halb/evloop.h"
#include "halb/hb.h"
#include "halb/ip.h"

struct halb_daemon {
	struct ev_loop *ev;
	int udp;                  /* -1 until open */
	struct ctl_server *ctl;
	struct halb_hb *hb;       /* NULL: publishes no heartbeat */
	struct ev_timer beat;
};

struct halb_daemon_conf {
	/* the UDP socket; udp_key names it in messages ("health.listen");
	 * ip NULL: none */
	const struct halb_ip *ip;
	uint16_t port;
	const char *udp_key;
	size_t max_dgram;         /* longest datagram accepted */
	unsigned int burst;       /* datagrams read per wake-up */
	ev_dgram_fn on_dgram;
	/* the control socket */
	const char *ctl_path;
	const char *ctl_key;      /* "health.status_socket" */
	unsigned int max_clients;
	ctl_fn on_ctl;
	void *arg;                /* for the callbacks */
	/* SIGHUP: a reload (arg as its argument); NULL: logged as ignored
	 * (a program that reads its file at start only) */
	ev_signal_fn on_hup;
	/* the heartbeat file (halb/hb.h), beaten from the loop every
	 * HALB_DAEMON_BEAT_MS, so that a stuck loop reads as hung; NULL
	 * hb_part: none (a program that is no part of an appliance) */
	const char *hb_instance;  /* the appliance's eal.file_prefix */
	const char *hb_part;      /* "healthd" */
};

#define HALB_DAEMON_BEAT_MS 100

/*
 * Makes the loop, opens both sockets and the heartbeat file (state
 * ready, beating from the loop); a failure is logged naming the key of
 * the configuration it comes from.  0 or -errno (then
 * halb_daemon_close() frees what was made).
 */
int halb_daemon_open(struct halb_daemon *dm, const struct halb_daemon_conf *c);
/* Closes the sockets (the control socket's file removed), marks the
 * heartbeat stopped and frees the loop: after the program freed what it
 * watches in the loop. */
void halb_daemon_close(struct halb_daemon *dm);

#endif /* HALB_DAEMON_H */
