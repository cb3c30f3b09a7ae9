/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-agent's state and the pieces of it that need no socket (docs/AGENT.md):
 * reading the host's load from /proc text, turning check results and
 * the drain mark into per-service states, building the sealed
 * HostReport, and judging incoming datagrams (only a ReportRequest from
 * a known handler is acted on).  agent.c owns the sockets and the loop.
 */
#ifndef HALB_AG_H
#define HALB_AG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "halb/cfg_agent.h"
#include "halb/hl_msg.h"
#include "hc.h"

/* ---- ag_proc.c: load from /proc, parsers take the text ---- */

/* The first "cpu" line of /proc/stat: busy and total jiffies. */
struct ag_cpu {
	uint64_t busy, total;
};

/* Returns 0, or -EINVAL when text has no well-formed "cpu " line. */
int ag_parse_stat(const char *text, struct ag_cpu *out);
/* CPU use between two readings, 0..1000 (0 when no time passed). */
uint32_t ag_cpu_permille(const struct ag_cpu *prev, const struct ag_cpu *cur);
/* (MemTotal - MemAvailable) / MemTotal in permille; 0 or -EINVAL. */
int ag_parse_meminfo(const char *text, uint32_t *permille);
/*
 * Counts the sockets of /proc/net/tcp or tcp6 text in state ESTABLISHED
 * (01) whose local port is one of ports[0..n).  Returns the count, or
 * -EINVAL when the header is not that of such a file.
 */
int ag_count_established(const char *text, const uint16_t *ports, size_t n);
/* Reads a whole (small) file into buf, NUL-terminated; length or -errno. */
ssize_t ag_read_text(const char *path, char *buf, size_t cap);

/* ---- ag_report.c ---- */

struct ag_check {
	struct hc_rf rf;
	struct hc_probe probe;       /* tcp, http */
	pid_t pid;                   /* command: running, or 0 */
	uint64_t deadline_ms;        /* command */
	char why[HC_WHY_LEN];        /* the last result, for the report */
};

struct ag_counters {
	uint64_t reports, send_errors, immediate;
	uint64_t rx, requests, unexpected;
	uint64_t rejected[SEAL_REJ__COUNT];
	uint64_t checks, check_fail;
};

struct ag {
	const struct agc *cfg;
	struct seal_keyring *keys;     /* the handlers' keys */
	struct seal_replay *replay;
	bool draining;
	struct ag_check chk[AGC_MAX_SERVICES];
	uint32_t cpu_permille, mem_permille, conns;
	struct ag_cpu cpu_prev;
	bool cpu_valid;
	uint64_t seq;
	struct ag_counters c;
	/* Where ag_read_load() finds stat, meminfo, net/tcp and net/tcp6:
	 * NULL for "/proc"; halb-agent --proc-root DIR for a test's fake
	 * tree. */
	const char *proc_root;
};

/* Creators return NULL and set errno. */
struct ag *ag_new(const struct agc *cfg);
void ag_free(struct ag *ag);

/* The state reported for service i: down if its check says so, else
 * draining if the host drains, else up. */
int ag_service_state(const struct ag *ag, unsigned int i);

/* Counts one check result of service i; true when its up/down changed. */
bool ag_check_result(struct ag *ag, unsigned int i, bool ok, const char *why);

/* Seals the HostReport into buf[0..HL_MTU) at unix_ms.  Returns its
 * length or -errno. */
int ag_build_report(struct ag *ag, uint64_t unix_ms, uint8_t *buf);

/*
 * Judges a datagram received at unix_ms.  Returns 1 for an accepted
 * ReportRequest (report now), 0 for an accepted message of another type
 * (counted as unexpected), or -enum seal_reject (counted).
 */
int ag_handle_dgram(struct ag *ag, const uint8_t *buf, size_t len,
		    uint64_t unix_ms);

/* Reads /proc (or ag->proc_root) for the load (cpu since the last call). */
void ag_read_load(struct ag *ag);

/* The drain mark kept in path: whether it says draining. */
bool ag_drain_load(const char *path);
/* Writes (draining) or removes the mark; 0 or -errno. */
int ag_drain_save(const char *path, bool draining);

#endif /* HALB_AG_H */
