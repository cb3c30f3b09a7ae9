/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "tcp" and "http" kinds of check (hc.h): a non-blocking connect to
 * the target, and for http a GET of its path whose status must be the
 * one expected; the socket is watched in the check's event loop and
 * closed when the run ends.  The state machine itself is hc_probe
 * (hc_check.c).
 */
#include <stdio.h>
#include <sys/socket.h>

#include "halb/sock.h"
#include "hc.h"

static void
on_ready(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	struct hc_check *c = arg;
	enum hc_result r;

	(void)events;
	r = hc_probe_step(&c->probe);
	if (r == HC_PENDING &&
	    ev_fd_mod(ev, fd, hc_probe_events(&c->probe)) == 0)
		return;
	/* The probe closed its socket (or must): forget it first. */
	ev_fd_del(ev, fd);
	if (r == HC_PENDING) {
		hc_probe_abort(&c->probe);
		snprintf(c->probe.why, sizeof(c->probe.why), "epoll_ctl failed");
		r = HC_FAIL;
	}
	snprintf(c->why, sizeof(c->why), "%s", c->probe.why);
	hc_check_finish(c, r);
}

static enum hc_result
start(struct hc_check *c, const struct hc_target *t, const char *path)
{
	char a[HALB_IP_STRLEN], host[HALB_IP_STRLEN + 2];
	struct sockaddr_storage ss;
	socklen_t sl = halb_sockaddr(&t->addr, t->port, &ss);
	enum hc_result r;

	halb_ip_fmt(&t->addr, a, sizeof(a));
	snprintf(host, sizeof(host), halb_ip_is_v4(&t->addr) ? "%s" : "[%s]", a);
	r = hc_probe_start(&c->probe, (struct sockaddr *)&ss, sl, path, host,
			   t->expect);
	if (r == HC_PENDING &&
	    ev_fd_add(c->ev, c->probe.fd, hc_probe_events(&c->probe),
		      on_ready, c) != 0) {
		hc_probe_abort(&c->probe);
		snprintf(c->probe.why, sizeof(c->probe.why), "epoll_ctl failed");
		r = HC_FAIL;
	}
	snprintf(c->why, sizeof(c->why), "%s", c->probe.why);
	return r;
}

static enum hc_result
start_tcp(struct hc_check *c, const struct hc_target *t)
{
	return start(c, t, NULL);
}

static enum hc_result
start_http(struct hc_check *c, const struct hc_target *t)
{
	return start(c, t, t->path != NULL ? t->path : "/");
}

static enum hc_result
abort_probe(struct hc_check *c)
{
	ev_fd_del(c->ev, c->probe.fd);
	hc_probe_abort(&c->probe);
	snprintf(c->why, sizeof(c->why), "%s", c->probe.why);
	return HC_TIMEOUT;
}

const struct hc_ops hc_tcp_ops = {
	.name = "tcp",
	.start = start_tcp,
	.abort = abort_probe,
};

const struct hc_ops hc_http_ops = {
	.name = "http",
	.start = start_http,
	.abort = abort_probe,
};
