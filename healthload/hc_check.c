/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rise/fall counting and non-blocking TCP/HTTP probes (hc.h).  A probe
 * owns at most one socket, from hc_probe_start() until it is decided or
 * aborted; nothing here blocks or allocates.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hc.h"

void
hc_rf_init(struct hc_rf *rf, uint8_t rise, uint8_t fall)
{
	rf->rise = rise > 0 ? rise : 1;
	rf->fall = fall > 0 ? fall : 1;
	rf->health = rf->rise;
	rf->results = 0;
}

bool
hc_rf_up(const struct hc_rf *rf)
{
	return rf->health >= rf->rise;
}

bool
hc_rf_known(const struct hc_rf *rf)
{
	return rf->results > 0;
}

bool
hc_rf_moving(const struct hc_rf *rf)
{
	return rf->results > 0 && rf->health != 0 &&
	       rf->health != rf->rise + rf->fall - 1;
}

bool
hc_rf_result(struct hc_rf *rf, bool ok)
{
	bool was = hc_rf_up(rf), first = rf->results == 0;
	uint16_t top = (uint16_t)(rf->rise + rf->fall - 1);

	if (rf->results < UINT32_MAX)
		rf->results++;
	if (ok) {
		if (rf->health < top) {
			rf->health++;
			if (rf->health >= rf->rise)
				rf->health = top;
		}
	} else if (rf->health > 0) {
		rf->health--;
		if (rf->health < rf->rise)
			rf->health = 0;
	}
	return first || was != hc_rf_up(rf);
}

int
hc_http_status(const char *buf, size_t len)
{
	static const char pfx[] = "HTTP/1.";
	size_t i;
	int st = 0;

	for (i = 0; i < len && i < sizeof(pfx) - 1; i++)
		if (buf[i] != pfx[i])
			return -1;
	if (len < 13)  /* "HTTP/1.x NNN" and one more byte */
		return 0;
	if (buf[7] < '0' || buf[7] > '9' || buf[8] != ' ')
		return -1;
	for (i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		st = st * 10 + (buf[i] - '0');
	}
	/* The code ends with a space (a reason follows) or the line ends. */
	if (buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')
		return -1;
	return st >= 100 && st <= 599 ? st : -1;
}

void
hc_probe_init(struct hc_probe *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

static enum hc_result
done(struct hc_probe *p, enum hc_result r)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->phase = HC_IDLE;
	if (r == HC_OK)
		snprintf(p->why, sizeof(p->why), "ok");
	return r;
}

static enum hc_result
fail(struct hc_probe *p, const char *what, int err)
{
	if (err != 0)
		snprintf(p->why, sizeof(p->why), "%s: %s", what, strerror(err));
	else
		snprintf(p->why, sizeof(p->why), "%s", what);
	return done(p, HC_FAIL);
}

enum hc_result
hc_probe_start(struct hc_probe *p, const struct sockaddr *sa, socklen_t sl,
	       const char *path, const char *host, uint16_t expect)
{
	int n;

	hc_probe_init(p);
	p->http = path != NULL;
	p->expect = expect;
	if (p->http) {
		n = snprintf(p->req, sizeof(p->req),
			     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: halb-check\r\nConnection: close\r\n\r\n",
			     path, host);
		if (n < 0 || (size_t)n >= sizeof(p->req))
			return fail(p, "request too long", 0);
		p->req_len = (uint16_t)n;
	}
	p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (p->fd < 0)
		return fail(p, "socket", errno);
	p->phase = HC_CONNECTING;
	if (connect(p->fd, sa, sl) != 0 && errno != EINPROGRESS)
		return fail(p, "connect", errno);
	return HC_PENDING;
}

uint32_t
hc_probe_events(const struct hc_probe *p)
{
	return p->phase == HC_READING ? EPOLLIN : EPOLLOUT;
}

static enum hc_result
step_read(struct hc_probe *p)
{
	ssize_t n;
	int st;

	n = read(p->fd, p->rx + p->rx_len, sizeof(p->rx) - 1 - p->rx_len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? HC_PENDING :
		       fail(p, "read", errno);
	p->rx_len = (uint16_t)(p->rx_len + n);
	st = hc_http_status(p->rx, p->rx_len);
	if (st == 0 && n == 0) {
		/* Closed right after the code: the end of the line. */
		p->rx[p->rx_len] = '\n';
		st = hc_http_status(p->rx, p->rx_len + 1u);
	}
	if (st == 0 && n > 0 && p->rx_len < sizeof(p->rx) - 1)
		return HC_PENDING;
	if (st <= 0)
		return fail(p, n == 0 ? "closed before a status line" :
			    "not an HTTP status line", 0);
	if (st != p->expect) {
		snprintf(p->why, sizeof(p->why), "status %d, expected %u", st,
			 p->expect);
		return done(p, HC_FAIL);
	}
	return done(p, HC_OK);
}

enum hc_result
hc_probe_step(struct hc_probe *p)
{
	socklen_t sl = sizeof(int);
	int err = 0;
	ssize_t n;

	switch (p->phase) {
	case HC_CONNECTING:
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
			err = errno;
		if (err == EINPROGRESS || err == EALREADY)
			return HC_PENDING;
		if (err != 0)
			return fail(p, "connect", err);
		if (!p->http)
			return done(p, HC_OK);
		p->phase = HC_SENDING;
		/* the socket is writable: send at once */
		__attribute__((fallthrough));
	case HC_SENDING:
		n = send(p->fd, p->req + p->sent, p->req_len - p->sent,
			 MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? HC_PENDING :
			       fail(p, "send", errno);
		p->sent = (uint16_t)(p->sent + n);
		if (p->sent == p->req_len)
			p->phase = HC_READING;
		return HC_PENDING;
	case HC_READING:
		return step_read(p);
	default:
		return HC_PENDING;
	}
}

void
hc_probe_abort(struct hc_probe *p)
{
	static const char *const what[] = { "idle", "connecting", "sending",
		"reading the status line" };

	snprintf(p->why, sizeof(p->why), "timeout %s",
		 p->phase <= HC_READING ? what[p->phase] : "?");
	done(p, HC_FAIL);
}
