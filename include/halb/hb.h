/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Heartbeats that any process can read: the liveness contract between
 * halb's parts (docs/ARCHITECTURE.md, "Heartbeats").
 *
 * Each long-running part publishes one struct halb_hb in a small file,
 * HALB_RUN_DIR/<instance>/<part>.hb (instance: the configuration's
 * eal.file_prefix, so that several appliances share a machine), mapped
 * shared.  Its writer is that part alone:
 *  - beat_ns: CLOCK_MONOTONIC in ns at its last beat.  The clock is the
 *    machine's, the same in every process (and network namespace), so a
 *    reader's age is now - beat_ns with no clock of the writer's to
 *    know.  Each part says how often it beats (interval_ms); a reader
 *    that sees no beat for a few intervals takes the part as hung, and a
 *    part whose pid is gone as dead;
 *  - state: starting, ready, stopping or stopped (a clean exit writes
 *    stopped, so that a reader tells it from a crash);
 *  - pid, start time, beats so far, and a short note (why a part does
 *    not beat although it runs, e.g. which forwarder worker stalled).
 * A reader needs no DPDK and no lock: beat_ns and seq are single 64-bit
 * stores, and the other fields are written before state goes ready.
 *
 * The DPDK processes also keep their TSC heartbeats in the forwarder's
 * shared memory (shm-t.h fwd_alive, cls_alive): those serve the fast
 * path (a worker compares a TSC, no system call); these serve
 * everything else (halbctl, the HA daemon).
 */
#ifndef HALB_HB_H
#define HALB_HB_H

#include <stdbool.h>
#include <stdint.h>

#define HALB_RUN_DIR "/run/halb"
#define HALB_HB_MAGIC 0x68616c6268623031ull /* "halbhb01" */
#define HALB_HB_PART_LEN 24
#define HALB_HB_NOTE_LEN 96

enum halb_hb_state {
	HALB_HB_STARTING = 1,
	HALB_HB_READY,
	HALB_HB_STOPPING,
	HALB_HB_STOPPED,
};

struct halb_hb {
	uint64_t magic;
	char part[HALB_HB_PART_LEN];   /* "forwarder", "classifier", ... */
	int32_t pid;
	uint32_t interval_ms;          /* the writer beats at least this often */
	uint64_t started_ns;           /* CLOCK_MONOTONIC at start */
	volatile uint64_t beat_ns;     /* CLOCK_MONOTONIC of the last beat */
	volatile uint64_t seq;         /* beats so far */
	volatile uint32_t state;       /* enum halb_hb_state */
	uint32_t pad;
	char note[HALB_HB_NOTE_LEN];   /* "" when all is well */
};

/* CLOCK_MONOTONIC in ns. */
uint64_t halb_hb_now_ns(void);

/*
 * Creates (or takes over from a previous run) the heartbeat file of
 * part under instance, state starting, and maps it.  Returns it, or NULL
 * with errno set.
 */
struct halb_hb *halb_hb_open(const char *instance, const char *part,
			     uint32_t interval_ms);

/* One beat at now_ns (halb_hb_now_ns()). */
static inline void
halb_hb_beat(struct halb_hb *hb, uint64_t now_ns)
{
	__atomic_store_n(&hb->beat_ns, now_ns, __ATOMIC_RELEASE);
	__atomic_store_n(&hb->seq, hb->seq + 1, __ATOMIC_RELAXED);
}

void halb_hb_set_state(struct halb_hb *hb, enum halb_hb_state st);
/* Sets the note (NULL or "" clears it). */
void halb_hb_note(struct halb_hb *hb, const char *note);
/* Writes state stopped and unmaps; the file stays for readers. */
void halb_hb_close(struct halb_hb *hb);

/* What a reader makes of a part's heartbeat. */
struct halb_hb_view {
	struct halb_hb hb;       /* a copy */
	bool alive;              /* its pid exists */
	uint64_t age_ms;         /* since the last beat */
	const char *verdict;     /* "up", "starting", "hung", "dead",
				  * "stopped", "absent" */
};

/*
 * Reads part's heartbeat under instance.  A part is "hung" when it has
 * not beaten for hung_factor of its intervals (or 3 when 0) while its
 * process lives.  Returns 0, or -errno (-ENOENT: never started here;
 * the view then says "absent").
 */
int halb_hb_read(const char *instance, const char *part,
		 unsigned int hung_factor, struct halb_hb_view *v);

#endif
