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
 *
 * Boot ids: each engine has one (sync_conf.boot_id), new at every start,
 * and every message carries the sender's and the receiver's as the
 * sender knows it (docs/SYNC-PROTOCOL.md).  The first message heard from
 * a peer, or one with a boot id that is new, starts the pair afresh: the
 * receive state of that peer is reset, what was queued or in flight to
 * it is dropped (a full dump replaces it: ops->dump is called at once),
 * and its batch sequence starts again at 1.  So two appliances that meet
 * (at start, or one restarted) each dump their sessions to the other.
 *
 * Time: every now_ns is the Unix time in ns (CLOCK_REALTIME), because
 * the envelope carries the sender's clock and the receiver judges it
 * within a window; intervals are measured on it too (a step of the clock
 * backwards only delays a resend or a hello).
 *
 * One thread: an engine is used by one thread (the daemon's loop); the
 * callbacks run on it, from within sync_input(), sync_tick() and
 * sync_request_dump().
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
	size_t key_len;               /* 16..64 */
	uint32_t key_id;              /* the key's id on the wire (rotation) */
};

/* What a 0 in struct sync_conf stands for. */
#define SYNC_RESEND_MS_DEFAULT 200u
#define SYNC_HELLO_MS_DEFAULT 1000u
#define SYNC_DEAD_MS_DEFAULT 3000u
#define SYNC_WINDOW_DEFAULT 64u
#define SYNC_BACKLOG_DEFAULT 65536u
#define SYNC_DATAGRAM_DEFAULT 1400u   /* SEAL_MTU */
#define SYNC_WINDOW_MAX 1024u         /* batches in flight per peer */
#define SYNC_BACKLOG_MAX (1u << 24)   /* records waiting per peer */
#define SYNC_RELAY_RATE_DEFAULT 4000u /* relayed segments a second */

struct sync_conf {
	char name[64];                /* this appliance's name on the wire */
	struct sync_peer_conf peers[SYNC_MAX_PEERS];
	unsigned int n_peers;
	uint32_t resend_ms;           /* resend unacked batches after this */
	uint32_t hello_ms;            /* a hello when nothing else was sent */
	uint32_t dead_ms;             /* a peer silent this long is dead */
	uint32_t window;              /* batches in flight per peer */
	uint32_t backlog_max;         /* records waiting per peer */
	uint32_t max_datagram;        /* bytes, sealed envelope included;
				       * at most SEAL_MAX_DATAGRAM (4096) */
	uint32_t window_ms;           /* envelope time window (0: seal's) */
	uint64_t boot_id;             /* this start's id (0: now_ns) */
	uint32_t relay_rate;          /* segments sync_relay() sends a
				       * second, a quarter second's worth at
				       * once (0: SYNC_RELAY_RATE_DEFAULT) */
};

struct sync_ops {
	/* Send one sealed datagram to peer p.  Returns 0 or -errno; a
	 * failure is counted and the batch resent later. */
	int (*send)(void *arg, unsigned int p, const void *buf, size_t len);
	/* A record from peer p (op UP or DOWN), in the order p sent them. */
	void (*deliver)(void *arg, unsigned int p, const struct sess_rec *r);
	/* Peer p asked for every session this appliance owns (or is new,
	 * or missed records): the daemon queues them with
	 * sync_queue_to(p, ...), paced as it likes (sync_room() says how
	 * many fit now), then calls sync_dump_done(p).  A call while a
	 * dump to p is under way means: start that dump over. */
	void (*dump)(void *arg, unsigned int p);
	/* Peer p went up (alive true) or dead; its resync finished
	 * (synced true: every record of its dump was delivered).  synced
	 * false while alive: a dump from p begins (or p is new), so the
	 * records of p held before may be swept once it is synced. */
	void (*peer_state)(void *arg, unsigned int p, bool alive, bool synced);
	/* A backend's segment that peer p relayed (sync_relay(); its
	 * Relay checked: sync_relay_seg()), for a service of VIP vip
	 * (IPv4-mapped for IPv4) and port vip_port (host order).  May be
	 * NULL: relays are then counted and dropped. */
	void (*relay)(void *arg, unsigned int p, const uint8_t vip[16],
		      uint16_t vip_port, const uint8_t *seg, size_t len);
};

struct sync_peer_stats {
	uint64_t batches_sent, batches_resent, records_sent;
	uint64_t batches_rcvd, records_rcvd, dup_batches;
	uint64_t acks_sent, acks_rcvd;
	uint64_t backlog_dropped;     /* records dropped from a full backlog */
	uint64_t send_errors;
	uint64_t dumps_sent, dumps_rcvd;
	uint64_t ooo_batches;         /* batches held until their turn */
	uint64_t dead, boots;         /* times seen dead; boot ids seen */
	uint64_t boot;                /* its boot id now, 0 not known yet */
	uint64_t relays_sent, relays_rcvd; /* Relay messages */
	uint32_t backlog;             /* records waiting now */
	uint32_t in_flight;           /* batches sent, not yet acked */
	uint64_t last_heard_ns;       /* 0 never */
	bool alive, synced;
};

#define SYNC_REJ_SLOTS 16         /* > SEAL_REJ__COUNT (halb/seal.h) */

struct sync_stats {
	uint64_t rx_datagrams;
	uint64_t rx_refused;          /* failed to open: forged, replayed,
				       * truncated, oversized, unknown peer */
	uint64_t rx_reject[SYNC_REJ_SLOTS]; /* the same by enum seal_reject */
	uint64_t rx_malformed;        /* opened but not a valid message
				       * here (an ack of a batch never
				       * sent, a batch more than
				       * SYNC_WINDOW_MAX ahead) */
	uint64_t rx_stale;            /* authentic, but meant for another
				       * boot of this engine: ignored */
	uint64_t rx_old_boot;         /* authentic, but from an earlier
				       * boot of a live peer: ignored */
	/* Relayed segments (sync_relay()): sent (to one peer or more),
	 * not sent (over relay_rate; no live peer whose boot id is known),
	 * received. */
	uint64_t relay_sent, relay_limited, relay_no_peer, relay_rcvd;
};

struct sync;

/* A new engine, or NULL with errno. */
struct sync *sync_new(const struct sync_conf *conf, const struct sync_ops *ops,
		      void *arg, uint64_t now_ns);
void sync_free(struct sync *s);

/* Queue a record for every peer / for peer p (a dump).  Returns 0,
 * -EINVAL (a record that cannot travel: sync_rec_ok(); or no such p),
 * or -ENOBUFS when a backlog is full (the record is dropped and counted,
 * and that peer will be resynced).  sync_queue() skips the peers not
 * heard yet: they get every session in the dump that meeting them
 * starts.  Records leave in sync_tick(). */
int sync_queue(struct sync *s, const struct sess_rec *r);
int sync_queue_to(struct sync *s, unsigned int p, const struct sess_rec *r);
void sync_dump_done(struct sync *s, unsigned int p);

/* Records that peer p's backlog takes now (0 for no such p). */
uint32_t sync_room(const struct sync *s, unsigned int p);

/*
 * Relays a backend's TCP segment seg[0..len) (from its IP header on:
 * sync_relay_seg()'s rules) of the service at vip (IPv4-mapped for
 * IPv4), vip_port (host order) to every live peer whose boot id is
 * known, sealed as a Relay, at once: best effort (no ack, no resend),
 * at most relay_rate segments a second.  Returns the peers it went to
 * (0: none alive, counted relay_no_peer), -EAGAIN (over the rate:
 * counted relay_limited) or -EINVAL.
 */
int sync_relay(struct sync *s, const uint8_t vip[16], uint16_t vip_port,
	       const uint8_t *seg, size_t len, uint64_t now_ns);

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
