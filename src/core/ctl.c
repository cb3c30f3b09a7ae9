/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control sockets, server and client (halb/ctl.h).
 *
 * A server's clients live in a table of max_clients slots allocated with
 * it; a slot is free when its fd is -1.  A client reads its request into
 * in[], then holds its answer in out (open_memstream's buffer) and is
 * watched for EPOLLOUT until the answer is sent; then it is closed.  One
 * periodic timer, every tenth of the idle time, closes clients older than
 * that.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "halb/clock.h"
#include "halb/ctl.h"
#include "halb/log.h"
#include "halb/sock.h"

#define CTL_ANSWER_MAX (16u << 20)

struct ctl_client {
	struct ctl_server *srv;
	int fd;                   /* -1: free */
	uint64_t since_ms;
	char in[CTL_REQ_MAX];
	size_t in_len;
	char *out;                /* the answer, NULL until there is one */
	size_t out_len, out_off;
};

struct ctl_server {
	struct ev_loop *ev;
	int fd;
	char path[108];
	ctl_fn fn;
	void *arg;
	uint32_t idle_ms;
	struct ev_timer idle;
	struct ctl_stats st;
	unsigned int n;
	struct ctl_client c[];
};

static void
client_close(struct ctl_client *c)
{
	if (c->fd >= 0) {
		ev_fd_del(c->srv->ev, c->fd);
		close(c->fd);
	}
	free(c->out);
	c->fd = -1;
	c->in_len = 0;
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

/* Sends what the socket takes; closes the client once all is sent. */
static void
client_send(struct ctl_client *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				client_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	c->srv->st.answered++;
	client_close(c);
}

static void
client_answer(struct ctl_client *c)
{
	FILE *f = open_memstream(&c->out, &c->out_len);

	if (f == NULL) {
		client_close(c);
		return;
	}
	c->in[strcspn(c->in, "\r\n")] = '\0';
	c->srv->fn(c->srv->arg, c->in, f);
	if (fclose(f) != 0 || c->out_len == 0) {
		client_close(c);
		return;
	}
	if (ev_fd_mod(c->srv->ev, c->fd, EPOLLOUT) != 0) {
		client_close(c);
		return;
	}
	client_send(c);
}

static void
on_client(struct ev_loop *ev, int fd, uint32_t events, void *arg)
{
	struct ctl_client *c = arg;
	ssize_t n;

	(void)ev;
	(void)fd;
	if (c->out != NULL) {
		client_send(c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Gone, or closed before a whole line: no answer. */
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (memchr(c->in, '\n', c->in_len) == NULL &&
	    c->in_len < sizeof(c->in) - 1)
		return;
	client_answer(c);
}

static void
on_listen(struct ev_loop *ev, int lfd, uint32_t events, void *arg)
{
	struct ctl_server *s = arg;
	struct ctl_client *c;
	unsigned int i;
	int fd;

	(void)events;
	while ((fd = accept4(lfd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < s->n && s->c[i].fd >= 0; i++)
			;
		if (i == s->n || ev_fd_add(ev, fd, EPOLLIN, on_client,
					   &s->c[i]) != 0) {
			s->st.refused++;
			close(fd);
			continue;
		}
		c = &s->c[i];
		c->fd = fd;
		c->since_ms = ev_now(ev);
		s->st.accepted++;
	}
}

static void
on_idle(struct ev_loop *ev, void *arg)
{
	struct ctl_server *s = arg;
	uint64_t now = ev_now(ev);
	unsigned int i;

	for (i = 0; i < s->n; i++) {
		if (s->c[i].fd >= 0 && now - s->c[i].since_ms >= s->idle_ms) {
			HLOG(DEBUG, "%s: a client silent for %u ms: closed",
			     s->path, s->idle_ms);
			s->st.timeouts++;
			client_close(&s->c[i]);
		}
	}
}

struct ctl_server *
ctl_listen(struct ev_loop *ev, const char *path, unsigned int max_clients,
	   ctl_fn fn, void *arg)
{
	struct ctl_server *s;
	unsigned int i;
	int rc;

	if (max_clients == 0 || max_clients > 1024 ||
	    strlen(path) >= sizeof(s->path)) {
		errno = max_clients == 0 || max_clients > 1024 ? EINVAL :
			ENAMETOOLONG;
		return NULL;
	}
	s = calloc(1, sizeof(*s) + max_clients * sizeof(s->c[0]));
	if (s == NULL)
		return NULL;
	s->ev = ev;
	s->fn = fn;
	s->arg = arg;
	s->n = max_clients;
	memcpy(s->path, path, strlen(path) + 1);
	for (i = 0; i < max_clients; i++) {
		s->c[i].srv = s;
		s->c[i].fd = -1;
	}
	s->fd = halb_unix_bind(path, SOCK_STREAM);
	if (s->fd < 0) {
		rc = s->fd;
		free(s);
		errno = -rc;
		return NULL;
	}
	rc = ev_fd_add(ev, s->fd, EPOLLIN, on_listen, s);
	if (rc != 0) {
		close(s->fd);
		unlink(path);
		free(s);
		errno = -rc;
		return NULL;
	}
	ev_timer_init(&s->idle, on_idle, s);
	ctl_set_idle_ms(s, CTL_IDLE_MS);
	return s;
}

void
ctl_set_idle_ms(struct ctl_server *s, uint32_t idle_ms)
{
	uint32_t every;

	s->idle_ms = idle_ms < 1 ? 1 : idle_ms > 3600000 ? 3600000 : idle_ms;
	every = s->idle_ms / 10 > 0 ? s->idle_ms / 10 : 1;
	ev_timer_start(s->ev, &s->idle, every, every);
}

void
ctl_close(struct ctl_server *s)
{
	unsigned int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		client_close(&s->c[i]);
	ev_timer_stop(s->ev, &s->idle);
	ev_fd_del(s->ev, s->fd);
	close(s->fd);
	unlink(s->path);
	free(s);
}

const struct ctl_stats *
ctl_stats(const struct ctl_server *s)
{
	return &s->st;
}

/* ---- the client ---- */

/* Waits for events on fd until deadline; 0, or -ETIMEDOUT / -errno. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now;
	int n;

	for (;;) {
		now = halb_mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

char *
ctl_request(const char *path, const char *req, int timeout_ms, size_t *len)
{
	uint64_t deadline = halb_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	size_t off = 0, want = strlen(req), n = 0, cap = 4096;
	char *buf = NULL, *nb;
	ssize_t r;
	int fd, err = 0;

	fd = halb_unix_connect(path);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	while (off < want && err == 0) {
		r = send(fd, req + off, want - off, MSG_NOSIGNAL);
		if (r >= 0)
			off += (size_t)r;
		else if (errno == EAGAIN)
			err = wait_fd(fd, POLLOUT, deadline);
		else if (errno == EPIPE || errno == ECONNRESET)
			break; /* closed on us (a full table): read what is there */
		else if (errno != EINTR)
			err = -errno;
	}
	buf = err == 0 ? malloc(cap) : NULL;
	if (err == 0 && buf == NULL)
		err = -ENOMEM;
	while (err == 0) {
		if (n == cap - 1) {
			if (cap >= CTL_ANSWER_MAX) {
				err = -EMSGSIZE;
				break;
			}
			nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r == 0 || (r < 0 && errno == ECONNRESET && n == 0))
			break;
		if (r > 0)
			n += (size_t)r;
		else if (errno == EAGAIN)
			err = wait_fd(fd, POLLIN, deadline);
		else if (errno != EINTR)
			err = -errno;
	}
	close(fd);
	if (err != 0) {
		free(buf);
		errno = -err;
		return NULL;
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}
