/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session sync engine: replicates session records (struct sess_rec)
 * to the peer appliances and receives theirs, over sealed datagrams
 * (src/core/seal.c; messages in proto/halb_sync.proto, registered by
 * src/core/sync_msg.c).  It owns no socket and no clock: the daemon
 * (session/main.c) feeds it datagrams and the time, and it answers
 * through the callbacks below, so that its batching, acknowledgement,
 * resend and flow control are unit-tested with a simulated clock.
 *
 * Reliability (conntrackd's FTFW is the reference): records are batched
 * many to a datagram, each batch carries a per-peer sequence number,
 * the receiver acknowledges cumulatively (with the holes it saw, so
 * that only lost batches are resent), and unacknowledged batches are
 * resent every resend_ms.  Flow control: at most `window` batches in
 * flight per peer; records beyond that wait in a bounded backlog per
 * peer (`backlog_max` records); a backlog that overflows is dropped,
 * counted, and the peer is resynced (full dump) once it keeps up, so a
 * burst of new connections cannot flood the sync link or a slow peer.
 * A peer silent for dead_ms is dead (logged, counted, shown); when it
 * is heard again it asks for, and is sent, a full dump.
 */
#ifndef HALB_SESSION_SYNC_H
#define HALB_SESSION_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "halb/sess-t.h"

#define SYNC_MAX_PEERS 8

struct sync_peer_conf {
	char name[64];
	struct sockaddr_storage addr; /* its sync address and port */
	socklen_t addr_len;
	uint8_t key[64];              /* the pair key shared with this peer */
	size_t key_len;
};

struct sync_conf {
	char name[64];                /* this appliance's name on the wire */
	struct sync_peer_conf peers[SYNC_MAX_PEERS];
	unsigned int n_peers;
	uint32_t resend_ms;           /* resend unacked batches after this */
	uint32_t hello_ms;            /* a hello when nothing else was sent */
	uint32_t dead_ms;             /* a peer silent this long is dead */
	uint32_t window;              /* batches in flight per peer */
	uint32_t backlog_max;         /* records waiting per peer */
	uint32_t max_datagram;        /* bytes, sealed envelope included */
};

struct sync_ops {
	/* Send one sealed datagram to peer p.  Returns 0 or -errno; a
	 * failure is counted and the batch resent later. */
	int (*send)(void *arg, unsigned int p, const void *buf, size_t len);
	/* A record from peer p (op UP or DOWN), in the order p sent them. */
	void (*deliver)(void *arg, unsigned int p, const struct sess_rec *r);
	/* Peer p asked for every session this appliance owns: the daemon
	 * queues them with sync_queue_to(p, ...), paced as it likes, then
	 * calls sync_dump_done(p). */
	void (*dump)(void *arg, unsigned int p);
	/* Peer p went up (alive true) or dead; its resync finished
	 * (synced true: every record of its dump was delivered). */
	void (*peer_state)(void *arg, unsigned int p, bool alive, bool synced);
};

struct sync_peer_stats {
	uint64_t batches_sent, batches_resent, records_sent;
	uint64_t batches_rcvd, records_rcvd, dup_batches;
	uint64_t acks_sent, acks_rcvd;
	uint64_t backlog_dropped;     /* records dropped from a full backlog */
	uint64_t send_errors;
	uint64_t dumps_sent, dumps_rcvd;
	uint32_t backlog;             /* records waiting now */
	uint32_t in_flight;           /* batches sent, not yet acked */
	uint64_t last_heard_ns;       /* 0 never */
	bool alive, synced;
};

struct sync_stats {
	uint64_t rx_datagrams;
	uint64_t rx_refused;          /* failed to open: forged, replayed,
				       * truncated, oversized, unknown peer */
	uint64_t rx_malformed;        /* opened but not a valid message */
};

struct sync;

/* A new engine, or NULL with errno. */
struct sync *sync_new(const struct sync_conf *conf, const struct sync_ops *ops,
		      void *arg, uint64_t now_ns);
void sync_free(struct sync *s);

/* Queue a record for every peer / for peer p (a dump).  Returns 0, or
 * -ENOBUFS when a backlog is full (the record is dropped and counted,
 * and that peer will be resynced). */
int sync_queue(struct sync *s, const struct sess_rec *r);
int sync_queue_to(struct sync *s, unsigned int p, const struct sess_rec *r);
void sync_dump_done(struct sync *s, unsigned int p);

/* Ask peer p (or every peer, p = -1) for a full dump of its sessions. */
void sync_request_dump(struct sync *s, int p);

/* A datagram received on the sync socket. */
void sync_input(struct sync *s, const void *buf, size_t len,
		const struct sockaddr *from, socklen_t from_len,
		uint64_t now_ns);

/* Flush batches, resend, send hellos and acks, judge peers.  Call at
 * least every resend_ms / 4, and after a burst of sync_queue(). */
void sync_tick(struct sync *s, uint64_t now_ns);

const struct sync_stats *sync_stats(const struct sync *s);
const struct sync_peer_stats *sync_peer_stats(const struct sync *s,
					      unsigned int p);

#endif
