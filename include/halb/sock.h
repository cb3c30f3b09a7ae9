/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Socket addresses and sockets of the DPDK-free programs
 * (src/core/sock.c): ip:port to and from struct sockaddr, a UDP socket
 * bound to an address, and unix sockets, listening or connecting.
 * Every socket made here is non-blocking and close-on-exec.
 */
#ifndef HALB_SOCK_H
#define HALB_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "halb/ip.h"

/* ip:port into ss; returns its length. */
socklen_t halb_sockaddr(const struct halb_ip *ip, uint16_t port,
			struct sockaddr_storage *ss);
/* The address of sa as a halb_ip (IPv4 mapped); false if not IP. */
bool halb_sockaddr_ip(const struct sockaddr *sa, struct halb_ip *ip,
		      uint16_t *port);
/* "198.18.0.3:7300" or "[fd00::3]:7300" (or "?") into buf; returns buf. */
const char *halb_sockaddr_fmt(const struct sockaddr *sa, char *buf,
			      size_t len);

/* A non-blocking UDP socket bound to ip:port, which no other socket can
 * share (no SO_REUSEADDR): not even on a more specific address of the
 * same port.  Returns it or -errno. */
int halb_udp_bind(const struct halb_ip *ip, uint16_t port);
/* The same, a failure logged as "cannot bind UDP ADDR port PORT (key)". */
int halb_udp_listen(const struct halb_ip *ip, uint16_t port, const char *key);

/*
 * A unix socket of type (SOCK_STREAM: listening) bound to path, its
 * directory made first (0755), a stale socket file replaced, mode 0600.
 * Returns it or -errno (-ENAMETOOLONG: path does not fit sun_path).
 */
int halb_unix_bind(const char *path, int type);

/*
 * A unix stream socket connected to path.  A unix connect completes at
 * once or fails: -ENOENT or -ECONNREFUSED (nobody listens there),
 * -EAGAIN (its backlog is full); never blocks.
 */
int halb_unix_connect(const char *path);

#endif /* HALB_SOCK_H */
