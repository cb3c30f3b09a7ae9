/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Socket addresses and sockets (halb/sock.h).  No state; formatting is
 * inet_ntop's, so that the core needs nothing of libhalb.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "halb/log.h"
#include "halb/sock.h"

socklen_t
halb_sockaddr(const struct halb_ip *ip, uint16_t port,
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
halb_sockaddr_ip(const struct sockaddr *sa, struct halb_ip *ip,
		 uint16_t *port)
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
halb_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[HALB_IP_STRLEN];
	struct halb_ip ip;
	uint16_t port;
	bool v4;

	if (!halb_sockaddr_ip(sa, &ip, &port)) {
		snprintf(buf, len, "?");
		return buf;
	}
	/* IPv4 (mapped or not) as a.b.c.d, like halb_ip_fmt(). */
	v4 = halb_ip_is_v4(&ip);
	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? &ip.b[12] : ip.b, a, sizeof(a));
	snprintf(buf, len, v4 ? "%s:%u" : "[%s]:%u", a, port);
	return buf;
}

int
halb_udp_bind(const struct halb_ip *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = halb_sockaddr(ip, port, &ss);
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
halb_udp_listen(const struct halb_ip *ip, uint16_t port, const char *key)
{
	char a[HALB_IP_STRLEN];
	bool v4 = halb_ip_is_v4(ip);
	int fd = halb_udp_bind(ip, port);

	if (fd < 0) {
		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? &ip->b[12] : ip->b, a,
			  sizeof(a));
		HLOG(ERR, "cannot bind UDP %s port %u (%s): %s", a, port, key,
		     strerror(-fd));
	}
	return fd;
}

static int
unix_addr(const char *path, struct sockaddr_un *sun)
{
	size_t n = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(sun->sun_path))
		return n == 0 ? -EINVAL : -ENAMETOOLONG;
	memcpy(sun->sun_path, path, n + 1);
	return 0;
}

int
halb_unix_bind(const char *path, int type)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)], *slash;
	mode_t old_mask;
	int fd, err, rc;

	err = unix_addr(path, &sun);
	if (err != 0)
		return err;
	memcpy(dir, sun.sun_path, sizeof(dir));
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
	/* Born 0600 (no moment with the umask's mode), and chmod'ed below
	 * whatever umask said. */
	old_mask = umask(077);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	err = errno;
	umask(old_mask);
	if (rc != 0) {
		close(fd);
		return -err;
	}
	/* Root's only: what comes in is trusted as coming from root (the
	 * classifier's snapshots are sealed with a key every agent holds).
	 * A socket others could write to is no socket to run with. */
	if (chmod(path, 0600) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) != 0)) {
		err = errno;
		close(fd);
		unlink(path);
		return -err;
	}
	return fd;
}

int
halb_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, err;

	err = unix_addr(path, &sun);
	if (err != 0)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}
