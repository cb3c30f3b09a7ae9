/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client of BIRD 2's control socket (halb/bird.h): one connection, one
 * command at a time, each reply read whole before the next command.
 * Non-blocking I/O bounded by poll() with the connection's timeout, so a
 * stuck BIRD costs its caller at most that per read or write; the connect
 * too, which on a unix socket blocks while the listener's backlog is full
 * (a stopped BIRD accepts nothing, and each probe adds one).  Holds no
 * state besides the connection; the callers (halbctl bgp, the HA daemon)
 * decide what the replies mean.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "halb/bird.h"

static int
wait_fd(const struct bird_conn *c, short ev)
{
	struct pollfd p = { .fd = c->fd, .events = ev };
	int n;

	do
		n = poll(&p, 1, c->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/*
 * The next line of the reply into line (NUL-terminated, no newline).
 * Returns its length, or -errno: -EPIPE at end of stream, -EPROTO for a
 * line longer than BIRD_LINE_MAX.
 */
static int
read_line(struct bird_conn *c, char *line)
{
	char *nl;
	ssize_t n;
	size_t len;
	int rc;

	for (;;) {
		nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL)
			break;
		if (c->len >= BIRD_LINE_MAX)
			return -EPROTO;
		rc = wait_fd(c, POLLIN);
		if (rc != 0)
			return rc;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		c->len += (size_t)n;
	}
	len = (size_t)(nl - c->buf);
	if (len >= BIRD_LINE_MAX)
		return -EPROTO;
	memcpy(line, c->buf, len);
	line[len] = '\0';
	c->len -= len + 1;
	memmove(c->buf, nl + 1, c->len);
	return (int)len;
}

/* "CCCC-" or "CCCC ": the code, and whether the reply goes on. */
static int
line_code(const char *line, bool *more)
{
	int i, code = 0;

	for (i = 0; i < 4; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		code = code * 10 + (line[i] - '0');
	}
	if (line[4] != '-' && line[4] != ' ' && line[4] != '\0')
		return -1;
	*more = line[4] == '-';
	return code;
}

/*
 * Reads one reply: every line up to the last "CCCC text", each handed to
 * fn while it says go on.  Returns the last line's code, or -errno.
 */
static int
read_reply(struct bird_conn *c, bird_line_fn fn, void *arg)
{
	char line[BIRD_LINE_MAX];
	int n, code = -1;
	bool more = true, stop = fn == NULL;

	while (more) {
		n = read_line(c, line);
		if (n < 0)
			return n;
		if (line[0] == '+')
			continue; /* an asynchronous message */
		if (line[0] == ' ') {
			if (code < 0)
				return -EPROTO;
			if (!stop)
				stop = fn(arg, code, line + 1) != 0;
			continue;
		}
		code = line_code(line, &more);
		if (code < 0)
			return -EPROTO;
		if (!stop)
			stop = fn(arg, code, line[4] != '\0' ? line + 5 : "") != 0;
	}
	return code;
}

int
bird_open(struct bird_conn *c, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char greet[BIRD_LINE_MAX];
	bool more;
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -errno;
	/* A unix socket connects at once, or fails: EAGAIN when the
	 * listener's backlog is full (BIRD stuck or swamped), which a
	 * blocking connect would wait out for ever. */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
		goto fail;
	}
	rc = read_line(c, greet);
	if (rc < 0)
		goto fail;
	if (line_code(greet, &more) != 1 || more) {
		rc = -EPROTO;
		goto fail;
	}
	/* "0001 BIRD 2.0.12 ready." */
	{
		const char *v = greet[4] != '\0' ? greet + 5 : "";
		const char *end = strstr(v, " ready");
		int n = end != NULL ? (int)(end - v) : (int)strlen(v);

		snprintf(c->version, sizeof(c->version), "%.*s", n, v);
	}
	return 0;
fail:
	bird_close(c);
	return rc;
}

void
bird_close(struct bird_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

int
bird_cmd(struct bird_conn *c, const char *cmd, bird_line_fn fn, void *arg)
{
	char line[BIRD_LINE_MAX];
	size_t len = strlen(cmd), off = 0;
	ssize_t n;
	int rc;

	if (c->fd < 0)
		return -EBADF;
	if (len + 2 > BIRD_LINE_MAX || strchr(cmd, '\n') != NULL)
		return -EINVAL;
	memcpy(line, cmd, len);
	line[len++] = '\n';
	while (off < len) {
		rc = wait_fd(c, POLLOUT);
		if (rc != 0)
			return rc;
		n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return read_reply(c, fn, arg);
}

/* The codes of a reply's lines, as a set of the few that matter. */
static int
proto_code(void *arg, int code, const char *text)
{
	int *seen = arg;

	(void)text;
	if (code >= 8 && code <= 11)
		*seen = code;
	return 0;
}

int
bird_proto_enable(struct bird_conn *c, const char *name, bool enable)
{
	char cmd[BIRD_LINE_MAX];
	int code, seen = -1;

	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
		    strlen(name) || strlen(name) > 64)
		return -EINVAL;
	snprintf(cmd, sizeof(cmd), "%s %s", enable ? "enable" : "disable", name);
	code = bird_cmd(c, cmd, proto_code, &seen);
	if (code < 0)
		return code;
	/* BIRD 2 answers "0011-NAME: enabled" (0010 already enabled; 0009
	 * disabled, 0008 already disabled), then "0000 ".  A name it does
	 * not know is a syntax error (9001: an undefined symbol), or 8003
	 * "No protocols match" for a pattern. */
	if (enable ? seen == 10 || seen == 11 : seen == 8 || seen == 9)
		return 0;
	return code == 8003 || code == 9001 ? -ENOENT : -EPROTO;
}

/* Copies the next blank-separated word of *s into w (at most len - 1
 * bytes, the rest of the word skipped); returns false at the end. */
static bool
word(const char **s, char *w, size_t len)
{
	const char *p = *s + strspn(*s, " \t");
	size_t n = strcspn(p, " \t");

	if (n == 0)
		return false;
	snprintf(w, len, "%.*s", (int)n, p);
	*s = p + n;
	return true;
}

/*
 * "halb_peer1 BGP        ---        up     10:00:01.123  Established"
 * name, protocol, table, state, since (one or two words: a date and a
 * time with some timeformats), and the rest as info.
 */
int
bird_parse_proto(const char *text, struct bird_proto *p)
{
	char table[64], since[32];
	const char *s = text;

	memset(p, 0, sizeof(*p));
	if (!word(&s, p->name, sizeof(p->name)) ||
	    !word(&s, p->proto, sizeof(p->proto)) ||
	    !word(&s, table, sizeof(table)) ||
	    !word(&s, p->state, sizeof(p->state)) ||
	    !word(&s, since, sizeof(since)))
		return -EINVAL;
	if (strcmp(p->name, "Name") == 0)
		return -EINVAL; /* the heading */
	/* "2026-12-04 10:00:01": the time is a word of its own. */
	if (strchr(since, '-') != NULL && strchr(since, ':') == NULL) {
		const char *t = s;

		if (word(&t, since, sizeof(since)) && strchr(since, ':') != NULL)
			s = t;
	}
	s += strspn(s, " \t");
	snprintf(p->info, sizeof(p->info), "%s", s);
	return 0;
}

/* A number of seconds with up to 6 decimals ("0.100") in microseconds. */
static bool
seconds_us(const char *w, uint32_t *us)
{
	char *end;
	double v = strtod(w, &end);

	if (end == w || *end != '\0' || v < 0 || v > 4000)
		return false;
	*us = (uint32_t)(v * 1e6 + 0.5);
	return true;
}

/*
 * "198.18.0.254  halb0k  Up  10:00:01.123  0.100  0.300": address,
 * interface, state, since (one or two words), interval, timeout.  The
 * table name ("halb_bfd:") and the heading ("IP address ...") are no
 * rows.
 */
int
bird_parse_bfd(const char *text, struct bird_bfd *b)
{
	char w[8][48];
	const char *s = text;
	int n = 0;

	memset(b, 0, sizeof(*b));
	while (n < 8 && word(&s, w[n], sizeof(w[n])))
		n++;
	if (n < 6 || strchr(w[0], ':') == w[0] + strlen(w[0]) - 1 ||
	    strcmp(w[0], "IP") == 0 ||
	    (strchr(w[0], '.') == NULL && strchr(w[0], ':') == NULL))
		return -EINVAL;
	if (!seconds_us(w[n - 2], &b->interval_us) ||
	    !seconds_us(w[n - 1], &b->timeout_us))
		return -EINVAL;
	snprintf(b->addr, sizeof(b->addr), "%s", w[0]);
	snprintf(b->iface, sizeof(b->iface), "%.*s", (int)sizeof(b->iface) - 1, w[1]);
	snprintf(b->state, sizeof(b->state), "%.*s", (int)sizeof(b->state) - 1, w[2]);
	return 0;
}

struct rows {
	void *out;
	int max, n;
	int want;   /* the code of the rows */
	bool bfd;
};

static int
row(void *arg, int code, const char *text)
{
	struct rows *r = arg;
	int rc;

	if (code != r->want)
		return 0;
	if (r->bfd) {
		struct bird_bfd b;

		rc = bird_parse_bfd(text, &b);
		if (rc == 0 && r->n < r->max)
			((struct bird_bfd *)r->out)[r->n] = b;
	} else {
		struct bird_proto p;

		rc = bird_parse_proto(text, &p);
		if (rc == 0 && r->n < r->max)
			((struct bird_proto *)r->out)[r->n] = p;
	}
	if (rc == 0)
		r->n++;
	return 0;
}

int
bird_protocols(struct bird_conn *c, struct bird_proto *out, int max)
{
	struct rows r = { .out = out, .max = max, .want = 1002 };
	int code = bird_cmd(c, "show protocols", row, &r);

	if (code < 0)
		return code;
	return code < 1000 ? r.n : -EPROTO;
}

int
bird_bfd_sessions(struct bird_conn *c, struct bird_bfd *out, int max)
{
	struct rows r = { .out = out, .max = max, .want = 1020, .bfd = true };
	int code = bird_cmd(c, "show bfd sessions", row, &r);

	if (code < 0)
		return code;
	/* "9001 There is no BFD protocol running" (BIRD 2.0.12). */
	if (code == 8003 || code == 9001 || code == 9002)
		return -ENOENT;
	return code < 1000 ? r.n : -EPROTO;
}
