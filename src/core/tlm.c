/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK telemetry client (include/halb/tlm.h).  The socket lives under
 * the runtime directory DPDK uses for the process's file prefix:
 * /var/run/dpdk/PREFIX for root, $XDG_RUNTIME_DIR/dpdk/PREFIX otherwise.
 * Every connect, read and write is bounded by TLM_TIMEOUT_MS: a stopped
 * or hung forwarder (the moment an operator runs halbctl) still lets the
 * socket accept, and would otherwise hold its client for ever.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "halb/tlm.h"

/* A socket timeout reads as EAGAIN: say what it is. */
static int
timed_out(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS ?
		ETIMEDOUT : err;
}

int
tlm_open(const char *prefix, char *path, size_t path_len)
{
	const struct timeval tv = { .tv_sec = TLM_TIMEOUT_MS / 1000,
		.tv_usec = (TLM_TIMEOUT_MS % 1000) * 1000 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *run = getenv("XDG_RUNTIME_DIR");
	char hello[1024];
	int fd, err;

	if (getuid() == 0 || run == NULL)
		run = "/var/run";
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path),
			     "%s/dpdk/%s/dpdk_telemetry.v2", run, prefix) >=
	    sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	snprintf(path, path_len, "%s", sun.sun_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		goto fail;
	errno = 0;
	if (read(fd, hello, sizeof(hello)) <= 0) {
		if (errno == 0)
			errno = EPIPE;
		goto fail;
	}
	return fd;
fail:
	err = timed_out(errno);
	close(fd);
	return -err;
}

ssize_t
tlm_query_raw(int fd, const char *cmd, char *buf, size_t len)
{
	ssize_t n;

	if (len == 0)
		return -EINVAL;
	if (write(fd, cmd, strlen(cmd)) < 0)
		return -timed_out(errno);
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -timed_out(errno);
	if (n == 0)
		return -EPIPE;
	buf[n] = '\0';
	return n;
}

json_t *
tlm_query(int fd, const char *cmd, char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *reply;
	ssize_t n;
	char *buf;

	buf = malloc(TLM_REPLY_MAX);
	if (buf == NULL) {
		snprintf(why, why_len, "%s", strerror(ENOMEM));
		return NULL;
	}
	n = tlm_query_raw(fd, cmd, buf, TLM_REPLY_MAX);
	if (n < 0) {
		snprintf(why, why_len, "%s", strerror((int)-n));
		free(buf);
		return NULL;
	}
	reply = json_loads(buf, 0, &jerr);
	if (reply == NULL)
		snprintf(why, why_len, "bad reply: %s", jerr.text);
	free(buf);
	return reply;
}
