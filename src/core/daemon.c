/* SPDX-License-Identifier: BSD-3-Clause */
/* A daemon's loop and sockets (halb/daemon.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "halb/daemon.h"
#include "halb/log.h"
#include "halb/sock.h"

/* SIGUSR1: log one level more (up to debug); SIGUSR2: one less. */
static void
on_log_signal(struct ev_loop *ev, int signo, void *arg)
{
	(void)ev;
	(void)arg;
	halb_log_step(signo == SIGUSR1 ? 1 : -1);
}

/* A daemon without a reload of its own (halb_daemon_conf.on_hup NULL)
 * reads its file at start only: say so rather than die of SIGHUP's
 * default action. */
static void
on_hup(struct ev_loop *ev, int signo, void *arg)
{
	(void)ev;
	(void)signo;
	(void)arg;
	HLOG(WARNING, "SIGHUP ignored: this program reads its file at start only; restart it to apply a changed file");
}

static void
beat(struct ev_loop *ev, void *arg)
{
	struct halb_daemon *dm = arg;

	(void)ev;
	halb_hb_beat(dm->hb, halb_hb_now_ns());
}

int
halb_daemon_open(struct halb_daemon *dm, const struct halb_daemon_conf *c)
{
	int rc;

	dm->udp = -1;
	dm->ctl = NULL;
	dm->hb = NULL;
	dm->ev = ev_new();
	if (dm->ev == NULL)
		return -errno;
	rc = ev_stop_on_term(dm->ev);
	if (rc == 0)
		rc = c->on_hup != NULL ? ev_signal(dm->ev, SIGHUP, c->on_hup, c->arg) :
					 ev_signal(dm->ev, SIGHUP, on_hup, NULL);
	if (rc == 0)
		rc = ev_signal(dm->ev, SIGUSR1, on_log_signal, NULL);
	if (rc == 0)
		rc = ev_signal(dm->ev, SIGUSR2, on_log_signal, NULL);
	if (rc != 0)
		return rc;
	/* halb-had has no datagram to take (yet: peers' heartbeats). */
	if (c->ip == NULL)
		goto ctl;
	dm->udp = halb_udp_listen(c->ip, c->port, c->udp_key);
	if (dm->udp < 0)
		return dm->udp;
	rc = ev_dgram_add(dm->ev, dm->udp, c->max_dgram, c->burst, c->on_dgram,
			  c->arg);
	if (rc != 0)
		return rc;
ctl:
	dm->ctl = ctl_listen(dm->ev, c->ctl_path, c->max_clients, c->on_ctl,
			     c->arg);
	if (dm->ctl == NULL) {
		rc = -errno;
		HLOG(ERR, "cannot listen on %s (%s): %s", c->ctl_path,
		     c->ctl_key, strerror(-rc));
		return rc;
	}
	if (c->hb_part == NULL)
		return 0;
	dm->hb = halb_hb_open(c->hb_instance, c->hb_part, HALB_DAEMON_BEAT_MS);
	if (dm->hb == NULL) {
		rc = -errno;
		HLOG(ERR, "cannot create the heartbeat file %s/%s/%s.hb: %s",
		     HALB_RUN_DIR, c->hb_instance, c->hb_part, strerror(-rc));
		return rc;
	}
	ev_timer_init(&dm->beat, beat, dm);
	ev_timer_start(dm->ev, &dm->beat, HALB_DAEMON_BEAT_MS,
		       HALB_DAEMON_BEAT_MS);
	halb_hb_set_state(dm->hb, HALB_HB_READY);
	return 0;
}

void
halb_daemon_close(struct halb_daemon *dm)
{
	ctl_close(dm->ctl);
	dm->ctl = NULL;
	if (dm->udp >= 0) {
		ev_fd_del(dm->ev, dm->udp);
		close(dm->udp);
	}
	dm->udp = -1;
	if (dm->hb != NULL) {
		ev_timer_stop(dm->ev, &dm->beat);
		halb_hb_close(dm->hb);
		dm->hb = NULL;
	}
	ev_free(dm->ev);
	dm->ev = NULL;
}
