/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The processes of halb-had's parts (ha/proc.c): started in a session
 * of their own (so that neither had's death nor a signal to its process
 * group reaches them), adopted from their heartbeat file when had
 * restarts, watched through a pidfd (readable once the process is gone,
 * whether had is its parent or not), and signalled by that pid only.
 * Also what had reads of a part's heartbeat (struct ha_obs).
 */
#ifndef HALB_HA_PROC_H
#define HALB_HA_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "halb/cfg-t.h"
#include "sup.h"

struct ha_proc {
	int pid;        /* 0: none */
	int pidfd;      /* -1: none */
	bool child;     /* started by this had: waitpid() tells how it ended */
};

/*
 * Starts part c's command (with "-c cfg_path" after it when
 * c->with_config): signals unblocked and at their defaults, a new
 * session, no descriptor but 0-2, no NOTIFY_SOCKET (had alone speaks to
 * systemd).  0 with pr filled, or -errno.
 */
int ha_proc_spawn(const struct cfg_ha_part *c, const char *cfg_path,
		  struct ha_proc *pr);
/* Watches pid, which had did not start, once its pidfd is open and (c
 * not NULL) it runs one of the programs of c's command.  0 or -errno
 * (-ESRCH: gone, or a stranger has the number now); pr->pidfd is -1 on
 * failure. */
int ha_proc_adopt(int pid, const struct cfg_ha_part *c, struct ha_proc *pr);
/* Once pidfd is readable: reaps a child, writes how it ended ("exited
 * with status 3", "killed by signal 9"), closes the pidfd. */
void ha_proc_reap(struct ha_proc *pr, char *how, size_t len);
/* kill() through the pidfd: never a process that reused the number. */
int ha_proc_signal(const struct ha_proc *pr, int sig);
void ha_proc_close(struct ha_proc *pr);

/*
 * How halb-had reads a part's liveness (the probe column of
 * halb/ha-list.h): fills o for part, from what runs under instance
 * (eal.file_prefix).  With check_exe (before adopting), a live pid counts
 * as alive only if it runs one of the programs of c's command.
 */
typedef void (*ha_probe_fn)(const char *instance, unsigned int part,
			    const struct cfg_ha_part *c, bool check_exe,
			    struct ha_obs *o);

/* The probe hb: the part's heartbeat file (halb/hb.h); its pid checked
 * by the canonical path of its executable against the command's
 * absolute words, so that a number reused by a stranger (even one whose
 * program has the same name elsewhere) is never adopted. */
void ha_probe_hb(const char *instance, unsigned int part,
		 const struct cfg_ha_part *c, bool check_exe,
		 struct ha_obs *o);

/*
 * The probe bird: BIRD writes no heartbeat file.  Its pid is read from
 * the pid file its command names (-P), its liveness from its control
 * socket (-s): a greeting and `show status` answered within
 * HA_BIRD_PROBE_TIMEOUT_MS, asked every HA_BIRD_PROBE_MS at most; the
 * age is the time since the last good answer, the state starting until
 * the first one, ready after.  A BIRD that stopped answering (SIGSTOP, a
 * loop) ages, and is hung past ha.bird.timeout_ms.
 */
#define HA_BIRD_PROBE_MS 200
#define HA_BIRD_PROBE_TIMEOUT_MS 50
void ha_probe_bird(const char *instance, unsigned int part,
		   const struct cfg_ha_part *c, bool check_exe,
		   struct ha_obs *o);
/* The argument after flag (e.g. "-s") in c's command, or NULL. */
const char *ha_part_arg(const struct cfg_ha_part *c, const char *flag);

#endif /* HALB_HA_PROC_H */
