/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BIRD 2, the routing daemon that announces an appliance's VIPs to its
 * upstream routers over BGP with BFD (docs/ARCHITECTURE.md, "Routing
 * fabric"): its configuration file, generated from halb's own
 * (bird_conf.c), and a client of its control socket (bird.c), which
 * `halbctl bgp` uses and the HA daemon can use to announce and withdraw.
 *
 * The generated file names its objects so that the client can find them:
 * each VIP is a static protocol of its own, named after its address
 * (bird_vip_name(): "halb_vip4_198_18_2_100"; started disabled: nothing
 * is announced until someone enables it), so that one VIP can be
 * withdrawn while the others stay (halb-had does when no backend of it
 * is up); the BGP sessions are BIRD_PEER<n> (n from 1, in the order of
 * bgp.neighbours).
 */
#ifndef HALB_BIRD_H
#define HALB_BIRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "halb/cfg-t.h"

#define BIRD_VIP "halb_vip"    /* + 4_ or 6_ and the address */
#define BIRD_VIP_NAME_LEN 64
#define BIRD_PEER "halb_peer"
#define BIRD_BFD "halb_bfd"

/* ---- the configuration file: bird_conf.c ---- */

/*
 * Writes the BIRD 2 file for cfg (cfg->bgp.has must be true) to out:
 * router id; device; BFD on each kernel interface a neighbour is on;
 * one static protocol per VIP to announce, disabled; one BGP session per neighbour with BFD on, origin IGP and
 * the short timers that let a restarted appliance come back within
 * seconds (error wait time 1,5; connect delay time 1, BIRD 2's name for
 * its start delay).  No kernel
 * protocol: nothing BIRD learns goes into the appliance's routing table.
 * Returns 0, or -EINVAL when cfg has no bgp section, -EIO on a write
 * error.
 */
int bird_conf_write(const struct halb_cfg *cfg, FILE *out);

/* Whether cfg announces a VIP of family 4 or 6. */
bool bird_conf_has_vips(const struct halb_cfg *cfg, int family);

/*
 * The distinct VIPs cfg announces (services sharing a VIP, e.g. ports 80
 * and 443, are one route): for each, the index in cfg->services of the
 * first service of bgp.announce that names it, in that order, into svc
 * (up to max).  Returns how many there are.
 */
unsigned int bird_conf_vips(const struct halb_cfg *cfg, uint16_t *svc,
			    unsigned int max);

/* The name of vip's static protocol ("halb_vip6_fd00_68_2__100"): the
 * address with every '.' and ':' made '_', a BIRD symbol; at most
 * BIRD_VIP_NAME_LEN bytes with its NUL. */
void bird_vip_name(const struct halb_ip *vip, char *buf, size_t len);

/* ---- the control socket: bird.c ---- */

/*
 * BIRD's socket protocol (BIRD's doc/reply_codes): a command is one line;
 * the reply is lines "CCCC-text" (more follow), " text" (more of the
 * previous code) and a last "CCCC text".  Codes 0xxx end a command that
 * succeeded, 1xxx are table rows, 2xxx table headings, 8xxx run-time
 * errors, 9xxx parse errors.  Lines starting with '+' are asynchronous
 * log messages and are skipped.
 */
#define BIRD_LINE_MAX 1024

struct bird_conn {
	int fd;
	int timeout_ms;        /* for each read and write */
	size_t len;            /* bytes held in buf */
	char buf[4 * BIRD_LINE_MAX];
	char version[64];      /* from the greeting: "BIRD 2.0.12" */
};

/* Called with each line of a reply: its code (the continuation lines'
 * code is the previous line's) and text, NUL-terminated, without the
 * newline.  Returns 0 to go on, anything else to stop reading lines
 * (the rest of the reply is read and dropped). */
typedef int (*bird_line_fn)(void *arg, int code, const char *text);

/*
 * Connects to BIRD's control socket at path and reads its greeting
 * (0001), never waiting longer than timeout_ms.  Returns 0, or -errno
 * (-ENOENT: no socket there; -ECONNREFUSED: nobody listens; -ETIMEDOUT:
 * no greeting in time, or a listener whose backlog is full; -EPROTO: not
 * BIRD's greeting).
 */
int bird_open(struct bird_conn *c, const char *path, int timeout_ms);
void bird_close(struct bird_conn *c);

/*
 * Sends cmd (one line, without newline, at most BIRD_LINE_MAX - 2 bytes)
 * and reads its whole reply, handing each line to fn (may be NULL).
 * Returns the code of the reply's last line (0..9999: the caller judges
 * it), or -errno (-EINVAL: cmd too long or holding a newline; -EPIPE:
 * BIRD closed the socket; -ETIMEDOUT; -EPROTO: a line that is no reply
 * line, or one longer than BIRD_LINE_MAX).  After a -errno other than
 * -EINVAL the connection is out of step with BIRD: close it.
 */
int bird_cmd(struct bird_conn *c, const char *cmd, bird_line_fn fn, void *arg);

/*
 * enable/disable protocol name.  Returns 0 when it is in the state
 * asked for (a line 0011 enabled or 0010 already enabled; 0009 disabled
 * or 0008 already disabled), -ENOENT when BIRD has no such protocol
 * (9001, an undefined symbol, or 8003), -EINVAL for a name that is no
 * BIRD symbol, -EPROTO on any other reply, or bird_cmd's -errno.
 */
int bird_proto_enable(struct bird_conn *c, const char *name, bool enable);

/* A row of `show protocols` (1002). */
struct bird_proto {
	char name[64];
	char proto[16];  /* BGP, Static, BFD, Device, ... */
	char state[16];  /* up, down, start, stop */
	char info[128];  /* the rest: "Established", "Active  Socket: ..." */
};

/* A row of `show bfd sessions` (1020). */
struct bird_bfd {
	char addr[48];
	char iface[24];
	char state[16];      /* Up, Down, Init, AdminDown */
	uint32_t interval_us; /* the negotiated transmit interval */
	uint32_t timeout_us;  /* detection time */
};

/*
 * `show protocols` and `show bfd sessions`: up to max rows into out.
 * Return how many rows BIRD listed (more than max: the rest were not
 * stored), or -errno / -EPROTO as bird_cmd, or -ENOENT when BIRD has no
 * BFD protocol (bird_bfd_sessions).
 */
int bird_protocols(struct bird_conn *c, struct bird_proto *out, int max);
int bird_bfd_sessions(struct bird_conn *c, struct bird_bfd *out, int max);

/* Parsers of one row's text, for the above and for tests: 0, or -EINVAL
 * for a line that is no such row (a heading, a table name). */
int bird_parse_proto(const char *text, struct bird_proto *p);
int bird_parse_bfd(const char *text, struct bird_bfd *b);

#endif
