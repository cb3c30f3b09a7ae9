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

int
halb_daemon_open(struct halb_daemon *dm, const struct halb_daemon_conf *c)
{
	int rc;

	dm->udp = -1;
	dm->ctl = NULL;
	dm->ev = ev_new();
	if (dm->ev == NULL)
		return -errno;
	rc = ev_stop_on_term(dm->ev);
	if (rc == 0)
		rc = ev_signal(dm->ev, SIGUSR1, on_log_signal, NULL);
	if (rc == 0)
		rc = ev_signal(dm->ev, SIGUSR2, on_log_signal, NULL);
	if (rc != 0)
		return rc;
	dm->udp = halb_udp_listen(c->ip, c->port, c->udp_key);
	if (dm->udp < 0)
		return dm->udp;
	rc = ev_dgram_add(dm->ev, dm->udp, c->max_dgram, c->burst, c->on_dgram,
			  c->arg);
	if (rc != 0)
		return rc;
	dm->ctl = ctl_listen(dm->ev, c->ctl_path, c->max_clients, c->on_ctl,
			     c->arg);
	if (dm->ctl == NULL) {
		rc = -errno;
		HLOG(ERR, "cannot listen on %s (%s): %s", c->ctl_path,
		     c->ctl_key, strerror(-rc));
		return rc;
	}
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
	ev_free(dm->ev);
	dm->ev = NULL;
}
