/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bound on a worker's punts to the request router (docs/REQUESTS.md,
 * "Bounds"): token buckets in two fixed tables, one indexed by the
 * connection (its cookie, a keyed hash of its tuple) and one by a keyed
 * hash of its source address (IPv4 /32, IPv6 /64), so that one client
 * replaying a valid cookie's segments, or one address opening many
 * connections, cannot fill the worker's l7_in ring and starve the others'
 * bindings.  No memory per connection: a bucket is shared by whatever
 * hashes to it (the buckets are sized so that legitimate connections,
 * a few punts each, stay far below their rate even when they share).
 *
 * The worker consults it only while its ring is under pressure (the
 * last punt left it more than a quarter full): a router that keeps up
 * limits nobody, so a large NAT address or a load generator is never
 * held back by a bound it does not need.  The owner (one worker) alone
 * reads and writes it: no atomics.  No DPDK: unit-tested as it is.
 */
#ifndef HALB_PUNT_LIMIT_H
#define HALB_PUNT_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define PLIM_TUPLE_SLOTS 4096u   /* power of two */
#define PLIM_SRC_SLOTS 1024u     /* power of two */
/* A connection: its handshake ACK, a request of up to ten segments (a
 * client's initial window: nothing is acknowledged before the binding),
 * their retransmissions, its RST: 32 at once, 64 a second after. */
#define PLIM_TUPLE_BURST 32u
#define PLIM_TUPLE_RATE 64u      /* per second */
/* A source address: many clients behind one NAT, a few punts each
 * (a NAT address opens some hundreds of connections a second to one
 * service at most: its ports come round in minutes), on each worker. */
#define PLIM_SRC_BURST 256u
#define PLIM_SRC_RATE 2048u      /* per second */

struct plim_bucket {
	uint32_t ms;     /* last refill (the flow clock) */
	uint32_t milli;  /* tokens, in thousandths; 0 with ms 0: never used */
};

struct plim {
	struct plim_bucket tuple[PLIM_TUPLE_SLOTS];
	struct plim_bucket src[PLIM_SRC_SLOTS];
};

/* Whether one more punt of the connection hashed tuple_h from the
 * source hashed src_h may go at now_ms (the flow clock): true takes a
 * token from each bucket; false takes none (a connection over its own
 * bound does not spend its address's). */
bool plim_take(struct plim *l, uint32_t tuple_h, uint32_t src_h,
	       uint32_t now_ms);

#endif
