/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session types shared by the classifier (producer of session events),
 * halb-sessiond (the session tracker) and its sync protocol.
 *
 * A session is a connection as the client sent it (struct flow_key:
 * client -> VIP, the same on every appliance that announces the VIP) and
 * the backend it was given.  Between appliances the backend is named by
 * its address and port, never by an index: two appliances' files (or one
 * appliance before and after a reload) may number backends differently.
 */
#ifndef HALB_SESS_T_H
#define HALB_SESS_T_H

#include <assert.h>
#include <stdint.h>

#include "halb/flow-t.h"

/* What happened to a flow, classifier -> sessiond. */
enum sess_ev_type {
	SESS_EV_INSTALL = 1, /* the classifier installed the flow */
	SESS_EV_STATE,       /* its state moved (SYN -> EST, -> FIN) */
	SESS_EV_REMOVE,      /* expired, evicted or closed: gone */
	SESS_EV_DUMP,        /* a live flow, sent when sessiond asked for all */
};

/*
 * One event on a session ring (shm->sess_ring, an rte_ring of 64-byte
 * elements, single producer: the classifier; single consumer: sessiond;
 * shm->sess_ring_fwd, the same with the forwarder's punt thread as
 * its producer, for the flows that a remote classifier decided; and
 * shm->sess_ring_l7, the request router's, for the bound connections of
 * shm->l7_flows, each with SESS_EV_F_SPLICED and its sequence delta).
 * svc and backend are the local indices of the appliance that wrote it;
 * sessiond turns them into a struct sess_rec before anything leaves the
 * appliance.
 */
struct sess_ev {
	struct flow_key key;
	uint16_t svc;
	uint16_t backend;
	uint8_t type;    /* enum sess_ev_type */
	uint8_t state;   /* enum flow_state */
	uint16_t worker;
	uint32_t ms;     /* flow clock (halb_now_ms) of the event */
	uint32_t delta;  /* SESS_EV_F_SPLICED: backend ISN - cookie */
	uint8_t flags;   /* SESS_EV_F_* */
	uint8_t pad[7];
};
static_assert(sizeof(struct sess_ev) == 64, "one cache line per event");

/* sess_ev.flags: a request-routed connection bound by delayed binding
 * (docs/REQUESTS.md), whose sequence numbers its appliance translates
 * by delta. */
#define SESS_EV_F_SPLICED 0x01u

/* flow_entry.flags in the flow tables: the state last reported to
 * halb-sessiond (enum flow_state in the low bits), and that one was.
 * Written by the table's writer of the moment: the classifier, or the
 * forwarder's punt thread for a remote classifier; so a writer that
 * takes over reports only what moved since the other reported it. */
#define SESS_F_REPORTED 0x80u

/* flow_entry.flags in the replica (shm->replica): the owner's index in
 * sessions.peers in the low bits, and whether the session is spliced (a
 * request-routed connection: its sequence delta is the entry's word in
 * the replica's aux array, flow-t.h).  Written before the entry is
 * published; the owner may change later (a relaxed store of the whole
 * byte), the spliced bit never does (a record that changes it is a new
 * entry). */
#define SESS_R_OWNER 0x7fu
#define SESS_R_SPLICED 0x80u
/* The owner of a record no appliance owns (SESS_R_OWNER's every bit: no
 * peer's index): one kept after its owner restarted without it
 * (docs/SESSIONS.md, "A peer that restarts"), or received as such
 * (Session.unowned).  It ages as a dead owner's records do. */
#define SESS_R_UNOWNED SESS_R_OWNER

enum sess_op {
	SESS_OP_UP = 1,  /* the session lives (new, state change, refresh) */
	SESS_OP_DOWN,    /* the session ended */
};

/* A session as it travels between appliances (struct halb SyncSession
 * on the wire, proto/halb_sync.proto). */
struct sess_rec {
	struct flow_key key;
	uint8_t be_addr[16]; /* backend address, IPv4-mapped for IPv4 */
	uint16_t be_port;    /* backend port, host order */
	uint8_t op;          /* enum sess_op */
	uint8_t state;       /* enum flow_state */
	uint32_t idle_ms;    /* ms since its owner last saw a packet of it */
	/* A request-routed connection (docs/REQUESTS.md): spliced, and the
	 * delta its appliance translates sequence numbers by (backend ISN -
	 * cookie); 0 and 0 for any other. */
	uint32_t seq_delta;
	uint8_t spliced;
	/* Not the sender's: a session it kept after its owner restarted
	 * without it (Session.unowned); only with SESS_OP_UP. */
	uint8_t unowned;
};

#endif
