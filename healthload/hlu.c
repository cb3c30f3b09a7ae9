/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Clocks, sequence numbers, sockets and logging for halb-healthd and
 * halb-agent (hlu.h).  Only the log keeps global state: the program's
 * name and verbosity, set once by main.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hlu.h"

const char *hlu_prog = "halb";
int hlu_verbosity = HLU_INFO;

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
hlu_mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

uint64_t
hlu_unix_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}

uint64_t
hlu_unix_us(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000;
}

uint64_t
hlu_next_seq(uint64_t *last)
{
	uint64_t now = hlu_unix_us();

	*last = now > *last ? now : *last + 1;
	return *last;
}

socklen_t
hlu_sockaddr(const struct halb_ip *ip, uint16_t port,
	     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (halb_ip_is_v4(ip)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = halb_ip_v4(ip);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip->b, 16);
		return sizeof(*sin6);
	}
}

bool
hlu_sockaddr_ip(const struct sockaddr *sa, struct halb_ip *ip, uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		halb_ip_from_v4(ip, sin->sin_addr.s_addr);
		*port = ntohs(sin->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		memcpy(ip->b, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}

const char *
hlu_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[HALB_IP_STRLEN];
	struct halb_ip ip;
	uint16_t port;

	if (!hlu_sockaddr_ip(sa, &ip, &port)) {
		snprintf(buf, len, "?");
		return buf;
	}
	halb_ip_fmt(&ip, a, sizeof(a));
	snprintf(buf, len, halb_ip_is_v4(&ip) ? "%s:%u" : "[%s]:%u", a, port);
	return buf;
}

int
hlu_udp_bind(const struct halb_ip *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = hlu_sockaddr(ip, port, &ss);
	int fd, err;

	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* No SO_REUSEADDR (nor SO_REUSEPORT): with it, any local user could
	 * bind the same port on a specific address and, being more
	 * specific, take the reports meant for a wildcard listener.
	 * Without it Linux refuses that bind. */
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int
hlu_unix_bind(const char *path, int type)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)], *slash;
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* left by a previous run */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0600) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) != 0)) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

void
hlu_log(int level, const char *func, const char *fmt, ...)
{
	static const char *const names[] = { "EMERG", "ALERT", "CRIT", "ERR",
		"WARNING", "NOTICE", "INFO", "DEBUG" };
	va_list ap;

	if (level > hlu_verbosity)
		return;
	fprintf(stderr, "%s: %s %s: ", hlu_prog,
		level >= 0 && level <= 7 ? names[level] : "?", func);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool
hlu_ratelimit(struct hlu_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	*suppressed = 0;
	if (rl->start_ms == 0 || now_ms - rl->start_ms >= rl->period_ms) {
		rl->start_ms = now_ms != 0 ? now_ms : 1;
		rl->n = 0;
	}
	if (rl->n >= rl->burst) {
		rl->suppressed++;
		return false;
	}
	rl->n++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
