/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-sessiond's own modules, apart from the process (main.c) so that
 * the unit tests drive them without EAL or sockets:
 *  - sess_map.c: a session between slots (service, backend: what the
 *    flow tables and the replica hold, as the forwarder's current view
 *    names them) and struct sess_rec (the backend by address and port:
 *    what travels between appliances);
 *  - sess_tab.c: the sessions this appliance decided (a process-local
 *    table, to answer a peer's dump) and the replica table in the
 *    forwarder's shared memory (its one writer), with their expiry.
 *
 * Both tables are flow tables (halb/flow.h): the same layout, writer
 * and expiry scan as the classifier's.  Times are the flow clock
 * (halb_now_ms, ms) of the forwarder's memory, the same in every process
 * of the appliance.
 */
#ifndef HALB_SESSD_H
#define HALB_SESSD_H

#include <stdbool.h>
#include <stdint.h>

#include "halb/cfg-t.h"
#include "halb/flow.h"
#include "halb/sess-t.h"
#include "halb/shm-t.h"
#include "halb/svc.h"

#define SESSD_MAX_PEERS CFG_MAX_SYNC_PEERS

/* ---- sess_map.c ---- */

/*
 * What this appliance's slots name: the forwarder's view of the services
 * (docs/RELOAD.md), which halb-sessiond follows as the classifier does
 * (classifier/view.c): flow entries, session events and replica entries
 * hold slots, and a reload changes which service and backend a slot is.
 * cfg is the file halb-sessiond was started from, its services replaced
 * by the view's (never the file's: a sessiond started after a reload
 * reads a file whose positions are not the slots).  tag[s][b] is
 * halb_slot_tag(halb_slot_id) of every live backend slot, 0 for the
 * others (retired, free, beyond the view).
 */
struct sess_map {
	struct halb_cfg *cfg;
	struct svc_map svcs;   /* live services by VIP, of the view */
	uint64_t gen;          /* the view's generation; 0: the file's own */
	uint32_t tag[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
};

/* Over cfg's services as they are (a file as loaded: slotted by
 * position, all live; or a test's).  0 or -ENOMEM. */
int sess_map_init(struct sess_map *m, struct halb_cfg *cfg);
void sess_map_fini(struct sess_map *m);

/*
 * Takes the forwarder's view of the services when its generation is not
 * m->gen (shm->view_gen; halb_shm_view_copy).  Returns 1 when it took a
 * new one, 0 when m already follows it (or the forwarder publishes
 * none), -EAGAIN when it could not be read whole or -ENOMEM (m is left
 * as it was; try again).
 */
int sess_map_follow(struct sess_map *m, const struct halb_shm *shm);

/* The tag of live slot (svc, backend), 0 for any other. */
static inline uint32_t
sess_map_tag(const struct sess_map *m, uint16_t svc, uint16_t backend)
{
	if (svc >= CFG_MAX_SERVICES || backend >= CFG_MAX_BACKENDS)
		return 0;
	return m->tag[svc][backend];
}

/*
 * Fills r with the key and the backend's address and port from slots
 * (the port a backend of port 0 gets is the packet's), every other
 * field 0: op, state, idle_ms and the rest are the caller's.  A retired slot keeps its backend's data (its flows
 * still end, or are kept).  Returns 0 or -EINVAL (slots the view does
 * not hold, or free).
 */
int sess_rec_from_local(const struct sess_map *m, const struct flow_key *k,
			uint16_t svc, uint16_t backend, struct sess_rec *r);

/*
 * The slots of a peer's record: the live service from the key's VIP,
 * port and protocol, the live backend by address and port within it,
 * and that slot's tag.  Returns 0, -ENOENT (no service for that VIP
 * here), -ESTALE (the backend was removed here: its slot is retired) or
 * -ESRCH (the service has no such backend here).
 */
int sess_rec_to_local(const struct sess_map *m, const struct sess_rec *r,
		      uint16_t *svc, uint16_t *backend, uint32_t *tag);

/* ---- sess_tab.c ---- */

struct sess_tab_stats {
	uint64_t own_full;       /* own sessions not kept: table full */
	uint64_t replica_puts;   /* records written into the replica */
	uint64_t replica_dels;   /* ... removed on a peer's DOWN */
	uint64_t replica_full;   /* ... not written: table full */
	uint64_t replica_expired; /* aged out (their owner dead), or stale
				   * after the owner's resync */
	uint64_t replica_retired; /* removed: their slot no longer names
				   * their backend (a reload removed it) */
	uint64_t replica_disowned; /* kept as no one's: their owner
				    * restarted without them */
};

/* The sessions this appliance decided; entry.pad0 holds the mask of the
 * workers whose tables hold it (a flow may be in two: flow_elsewhere),
 * entry.created when an event last refreshed it; a request router's
 * bound connection (SESS_EV_F_SPLICED) has SESS_R_SPLICED in flags and
 * its sequence delta in tag. */
struct sess_own {
	struct flow_table t;
	struct flow_writer w;
	void *mem;
};

/* The replica's writer, and what it knows of each owner. */
struct sess_replica {
	struct flow_writer w;     /* over shm->replica, with its QSBR */
	bool alive[SESSD_MAX_PEERS];
	uint32_t heard_ms[SESSD_MAX_PEERS];  /* flow ms the owner was last heard */
	/* Entries of owner p refreshed before this (flow ms + 1; 0 none)
	 * are stale: its resync did not send them again. */
	uint32_t stale_before[SESSD_MAX_PEERS];
	const struct sess_map *map; /* the view: timeouts, slot tags */
	uint32_t now_ms;          /* for the expiry predicate */
	uint32_t retired_now;     /* the expiry predicate's count */
	struct sess_tab_stats *st;
};

int sess_own_init(struct sess_own *o, uint32_t entries);
void sess_own_fini(struct sess_own *o);

/*
 * An event of worker w (INSTALL, STATE, DUMP): the session is kept (or
 * refreshed) at now_ms, spliced or not and with the delta as the event
 * says.  Returns its entry, or NULL when the table is full (counted).
 */
struct flow_entry *sess_own_put(struct sess_own *o, const struct sess_ev *ev,
				uint32_t now_ms, struct sess_tab_stats *st);
/*
 * A REMOVE of worker w: true when no worker holds the session any more
 * (it is gone from the table: the caller tells the peers).
 */
bool sess_own_remove(struct sess_own *o, const struct sess_ev *ev);

/*
 * Removes the sessions not refreshed since before_ms (a resync from the
 * flow tables did not send them again), calling gone(arg, entry) for
 * each before it goes: the spliced ones (a resync from the request
 * router's l7_flows) or the others (from the classifier's tables), as
 * spliced says.  Returns how many.
 */
uint32_t sess_own_sweep(struct sess_own *o, uint32_t before_ms, bool spliced,
			void (*gone)(void *arg, const struct flow_entry *e),
			void *arg);

uint32_t sess_own_count(const struct sess_own *o);

/*
 * Attaches the writer to the replica (which may hold entries from a
 * previous run, of another view: the expiry scan removes those whose
 * tag map no longer gives their slot).  qsbr: the replica's (NULL in
 * tests).  0 or -ENOMEM.
 */
int sess_replica_init(struct sess_replica *r, struct flow_table *t,
		      struct rte_rcu_qsbr *qsbr, const struct sess_map *map,
		      struct sess_tab_stats *st);
void sess_replica_fini(struct sess_replica *r);

/*
 * Taking a dead reader of the replica offline (halb-sessiond's
 * unstick_qsbr), in two steps, so that a reader that came online in
 * between is never taken offline.  sess_qsbr_stale() starts a grace
 * period and returns the counter that reader `thread` holds it with (0:
 * it does not hold it: quiescent since, or offline).  The caller then
 * makes sure that reader's process is gone and that no other one
 * announced itself (the classifier sets shm->cls_pid before it goes
 * online), and sess_qsbr_offline() takes the thread offline only if its
 * counter still holds that stale value: a reader that came online since
 * holds the token of its time, newer than the grace period just
 * started, so it is left alone.  Returns whether it went offline.
 */
uint64_t sess_qsbr_stale(struct rte_rcu_qsbr *q, unsigned int thread);
bool sess_qsbr_offline(struct rte_rcu_qsbr *q, unsigned int thread,
		       uint64_t stale);

/*
 * A peer's UP: key -> (svc, backend, the slot's tag) owned by peer p,
 * seen by its owner idle_ms ago.  A record whose decision changed (or
 * whose slot now names another backend) is replaced (a new entry, so
 * that a reader never sees half of each).  p SESS_R_UNOWNED: a record no
 * one owns (Session.unowned), kept only when none of the tuple is.  0,
 * or -ENOSPC (full, counted).
 */
int sess_replica_put(struct sess_replica *r, const struct flow_key *k,
		     uint16_t svc, uint16_t backend, uint32_t tag,
		     uint8_t state, unsigned int p, uint32_t idle_ms,
		     uint32_t now_ms);
/*
 * The same for a spliced session (a peer's request-routed connection,
 * docs/REQUESTS.md): SESS_R_SPLICED and its sequence delta (the table's
 * aux word), written before the entry is published.  A record that
 * changes either is a new entry, as one that changes its decision.
 */
int sess_replica_put_spliced(struct sess_replica *r, const struct flow_key *k,
			     uint16_t svc, uint16_t backend, uint32_t tag,
			     uint8_t state, unsigned int p, uint32_t idle_ms,
			     uint32_t now_ms, uint32_t delta);
/*
 * Peer p restarted (a new boot id) and its dump, which began at
 * before_ms, did not send these again: its records older than that may
 * be connections still alive, whose appliance lost them.  Each becomes
 * no one's (SESS_R_UNOWNED), aging from now_ms as a dead owner's do
 * (instead of going as a resync's leftovers do, stale_before).  One
 * walk of the table.  Returns how many (counted replica_disowned).
 */
uint32_t sess_replica_disown(struct sess_replica *r, unsigned int p,
			     uint32_t before_ms, uint32_t now_ms);
/* A peer's DOWN.  0 or -ENOENT. */
int sess_replica_del(struct sess_replica *r, const struct flow_key *k);

/*
 * Expiry, paced by the caller: scans n_buckets buckets.  An entry goes
 * when its slot no longer names its backend (its tag is not the map's:
 * a reload removed the backend, or gave the slot to another; counted
 * replica_retired); when its owner is dead (or unknown: not in this
 * configuration) and it has been idle, counted from the later of its
 * last refresh and its owner's last word, longer than its state's
 * timeout (flows { }); or when its owner's resync did not refresh it
 * (stale_before).  Returns how many went; reclaims entries past their
 * grace period.
 */
uint32_t sess_replica_expire(struct sess_replica *r, uint32_t n_buckets,
			     uint32_t now_ms);

uint32_t sess_replica_count(const struct sess_replica *r);

#endif
