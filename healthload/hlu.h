/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What halb-healthd and halb-agent share besides the message codec:
 * clocks, sequence numbers, socket addresses and sockets, and a
 * rate-limited log on stderr.  No DPDK here or anywhere in healthload/.
 *
 * Two clocks: the monotonic one (hlu_mono_ms) for every interval and
 * timeout, and Unix time (hlu_unix_ms) for what goes on the wire, where
 * the replay window compares it with the receiver's clock.
 */
#ifndef HALB_HLU_H
#define HALB_HLU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "halb/ip.h"

uint64_t hlu_mono_ms(void);
uint64_t hlu_unix_ms(void);
uint64_t hlu_unix_us(void);

/*
 * The next sequence number of a sender: above *last, and at least the
 * current Unix time in microseconds, so that a restarted sender starts
 * above every number it used before (docs/HEALTH-PROTOCOL.md).
 */
uint64_t hlu_next_seq(uint64_t *last);

/* ip:port into ss; returns its length. */
socklen_t hlu_sockaddr(const struct halb_ip *ip, uint16_t port,
		       struct sockaddr_storage *ss);
/* "198.18.0.3:7300" or "[fd00::3]:7300" (or "?") into buf. */
const char *hlu_sockaddr_fmt(const struct sockaddr *sa, char *buf, size_t len);
/* The address of sa as a halb_ip (IPv4 mapped); false if not IP. */
bool hlu_sockaddr_ip(const struct sockaddr *sa, struct halb_ip *ip,
		     uint16_t *port);

/* A non-blocking UDP socket bound to ip:port, which no other socket can
 * share (no SO_REUSEADDR): not even on a more specific address of the
 * same port.  Returns it or -errno. */
int hlu_udp_bind(const struct halb_ip *ip, uint16_t port);
/*
 * A non-blocking unix socket of type (SOCK_STREAM: listening) bound to
 * path, its directory made first (0755), a stale socket file replaced,
 * mode 0600.  Returns it or -errno.
 */
int hlu_unix_bind(const char *path, int type);

/* Levels as syslog's. */
enum { HLU_ERR = 3, HLU_WARNING = 4, HLU_NOTICE = 5, HLU_INFO = 6,
       HLU_DEBUG = 7 };
extern const char *hlu_prog;   /* set by main: "halb-healthd" */
extern int hlu_verbosity;      /* highest level printed; HLU_INFO default */

void hlu_log(int level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define HLU_LOG(lvl, ...) hlu_log(HLU_##lvl, __func__, __VA_ARGS__)

/*
 * A budget of burst messages per period; what is refused is counted and
 * announced with the next message let through.
 */
struct hlu_ratelimit {
	uint32_t period_ms, burst;
	uint64_t start_ms;
	uint32_t n;
	uint64_t suppressed;
};

/* Whether to log now; *suppressed gets how many were held back since
 * the last message let through (0 if none). */
bool hlu_ratelimit(struct hlu_ratelimit *rl, uint64_t now_ms,
		   uint64_t *suppressed);

#endif /* HALB_HLU_H */
