/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration of halb-agent, the program on each backend host that
 * reports its health and load (docs/AGENT.md documents every key).  Its
 * own small libconfig file, loaded with the same "FILE:LINE: message"
 * errors as the appliance's; plain data, every default resolved.
 */
#ifndef HALB_CFG_AGENT_H
#define HALB_CFG_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "halb/cfg-t.h"

#define AGC_MAX_SERVICES 16  /* one report must fit one datagram */
#define AGC_MAX_HANDLERS 8
#define AGC_CMD_LEN 256

enum agc_check_type {
	AGC_CHECK_NONE = 0,  /* up while the agent runs */
	AGC_CHECK_TCP,
	AGC_CHECK_HTTP,
	AGC_CHECK_COMMAND,
};

struct agc_service {
	char service[CFG_NAME_LEN];  /* the appliance's service name */
	struct halb_ip addr;         /* the backend's address there */
	uint16_t port;               /* the backend port; 0: all ports */
	uint8_t check_type;          /* enum agc_check_type */
	uint8_t rise, fall;          /* HAProxy's meaning; 1 and 1 by default */
	struct halb_ip check_ip;     /* tcp, http */
	uint16_t check_port;
	uint16_t expect;             /* http */
	char path[CFG_CHECK_PATH_LEN]; /* http */
	char command[AGC_CMD_LEN];   /* command: run by /bin/sh -c */
	uint32_t timeout_ms;
	int line;
};

/* Where reports go, and whose ReportRequests are believed. */
struct agc_handler {
	struct halb_ip ip;
	uint16_t port;
	char name[CFG_HOST_LEN];     /* its health.name; "" if unknown */
	struct seal_key key;          /* its health.key; len 0 if unknown */
	int line;
};

struct agc {
	char path[256];
	char host[CFG_HOST_LEN];
	struct seal_key key;
	uint32_t n_handlers;
	struct agc_handler handlers[AGC_MAX_HANDLERS];
	struct halb_ip listen_ip;
	uint16_t listen_port;
	uint32_t interval_ms;
	uint32_t capacity;
	uint32_t report_window_ms;   /* for ReportRequests' timestamps */
	char control[CFG_SOCK_LEN];  /* unix stream socket for --drain */
	char state_file[CFG_SOCK_LEN + 8]; /* control + ".drain" */
	uint32_t n_services;
	struct agc_service services[AGC_MAX_SERVICES];
};

/* Loads and checks path; NULL with errno set (EINVAL: every mistake on err). */
struct agc *cfg_agent_load(const char *path, FILE *err);
void cfg_agent_free(struct agc *c);

/* "none", "tcp", "http", "command". */
const char *cfg_agent_check_name(unsigned int type);

/*
 * Parses "http://HOST[:PORT][/PATH]", HOST an IPv4 address, "[IPv6]" or
 * "localhost".  Returns 0 or -EINVAL.
 */
int cfg_parse_http_url(const char *url, struct halb_ip *ip, uint16_t *port,
		       char *path, size_t path_len);

#endif
