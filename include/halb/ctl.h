/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control sockets of the DPDK-free programs (src/core/ctl.c): a local
 * operator's tool asks one question per connection on a unix stream
 * socket, one line of text, and reads the answer until the daemon
 * closes the connection.
 *
 * The server side is a listening socket in an event loop with a bounded
 * table of clients: beyond max_clients a connection is accepted and
 * closed at once (the tool sees an empty answer), and a client that has
 * not sent its line, or not taken its answer, within CTL_IDLE_MS (give
 * or take a tenth) is closed, so that no local client can hold the table.  A request is the
 * text up to the first newline ("\r\n" too), or the first CTL_REQ_MAX - 1
 * bytes when no newline comes; the program's callback writes the answer
 * to a stream, and the server sends it as the socket takes it.
 *
 * The client side (ctl_request) is what halbctl, `halb-agent --status`
 * and the tests use: connect, send, read to the end, all within a
 * timeout.
 */
#ifndef HALB_CTL_H
#define HALB_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "halb/evloop.h"

#define CTL_REQ_MAX 256
#define CTL_IDLE_MS 5000

/* Writes the answer to req (newline stripped) on out; nothing written:
 * the connection is closed without an answer. */
typedef void (*ctl_fn)(void *arg, const char *req, FILE *out);

struct ctl_stats {
	uint64_t accepted, refused, timeouts, answered;
};

struct ctl_server;

/*
 * Listens on path (halb_unix_bind: made 0600, a stale file replaced)
 * in ev, at most max_clients (1..1024) at once.  NULL with errno set.
 */
struct ctl_server *ctl_listen(struct ev_loop *ev, const char *path,
			      unsigned int max_clients, ctl_fn fn, void *arg);
/* How long a client may take (CTL_IDLE_MS unless set; 1..3600000). */
void ctl_set_idle_ms(struct ctl_server *s, uint32_t idle_ms);
/* Closes every client and the socket, and removes the socket file. */
void ctl_close(struct ctl_server *s);
const struct ctl_stats *ctl_stats(const struct ctl_server *s);

/*
 * Sends req (a line, newline included) to the server at path and reads
 * the answer until it closes the connection, all within timeout_ms.
 * Returns the answer, NUL-terminated, to free(); *len (if not NULL) its
 * length; "" when the server closed without an answer (its table was
 * full, or it had nothing to say).  NULL with errno set: ENOENT or ECONNREFUSED (nobody listens),
 * ETIMEDOUT, EMSGSIZE (an answer over 16 MiB), or another errno.
 */
char *ctl_request(const char *path, const char *req, int timeout_ms,
		  size_t *len);

#endif /* HALB_CTL_H */
