/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client of DPDK's telemetry socket (v2: SOCK_SEQPACKET, one JSON
 * object per reply), as the forwarder serves it with the /halb/...
 * commands of forwarder/telemetry.c.  For halbctl and the benchmarks.
 */
#ifndef HALB_TLM_H
#define HALB_TLM_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* Largest reply read (DPDK's own cap is 16 KiB; ours, with flows, more). */
#define TLM_REPLY_MAX (1u << 20)
/* How long a forwarder may take to greet or to answer. */
#define TLM_TIMEOUT_MS 3000

/*
 * Connects to the telemetry socket of the DPDK instance with file prefix
 * `prefix` and reads its greeting.  The socket's path goes into path
 * (for messages).  Returns the socket, or -errno (-ETIMEDOUT: no
 * greeting within TLM_TIMEOUT_MS, a stopped forwarder).  Every query on
 * it is bounded the same way.
 */
int tlm_open(const char *prefix, char *path, size_t path_len);

/*
 * Sends cmd and reads the reply into buf (NUL-terminated).  Returns its
 * length, or -errno (-EPIPE: the forwarder closed the socket;
 * -ETIMEDOUT: no reply within TLM_TIMEOUT_MS).
 */
ssize_t tlm_query_raw(int fd, const char *cmd, char *buf, size_t len);

/*
 * Sends cmd and parses the reply.  Returns it (json_decref it), or NULL
 * with the reason in why.
 */
json_t *tlm_query(int fd, const char *cmd, char *why, size_t why_len);

#endif
