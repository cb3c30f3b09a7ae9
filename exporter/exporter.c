/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-exporter: serves the appliance's metrics in Prometheus's text
 * format on http://metrics.listen/metrics (docs/METRICS.md), with
 * libmicrohttpd.  Each scrape reads every source afresh (exp_collect);
 * nothing is cached, so that a scrape shows the state of its moment.
 * One thread of libmicrohttpd's serves the requests one at a time; the
 * main thread waits for signals: SIGINT and SIGTERM stop it, SIGUSR1
 * and SIGUSR2 make the log more and less verbose.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "halb/cfg.h"
#include "halb/cli.h"
#include "halb/log.h"
#include "halb/notify.h"
#include "exp.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, const char *type,
      char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
	   const char *method, const char *version, const char *upload_data,
	   size_t *upload_data_size, void **con_cls)
{
	const struct halb_cfg *cfg = cls;
	struct prom p;
	size_t len = 0;
	char *body;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     strdup("GET or HEAD only\n"), 17);
	if (strcmp(url, "/metrics") != 0) {
		body = strdup("halb-exporter: metrics at /metrics\n");
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", body,
			     body != NULL ? strlen(body) : 0);
	}
	prom_init(&p);
	exp_collect(cfg, &p);
	if (p.err != 0)
		HLOG(ERR, "a sample was refused: %s", strerror(-p.err));
	body = prom_render(&p, &len);
	prom_fini(&p);
	if (body == NULL)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     strdup("out of memory\n"), 14);
	return reply(conn, MHD_HTTP_OK, CONTENT_TYPE, body, len);
}

static struct MHD_Daemon *
start(const struct halb_cfg *cfg)
{
	const struct cfg_metrics *m = &cfg->metrics;
	struct sockaddr_storage ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	memset(&ss, 0, sizeof(ss));
	if (halb_ip_is_v4(&m->listen_ip)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(m->listen_port);
		memcpy(&sin->sin_addr, &m->listen_ip.b[12], 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(m->listen_port);
		memcpy(&sin6->sin6_addr, m->listen_ip.b, 16);
		flags |= MHD_USE_IPv6;
	}
	return MHD_start_daemon(flags, m->listen_port, NULL, NULL, on_request,
				(void *)(uintptr_t)cfg,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)CONNECTION_TIMEOUT_S,
				MHD_OPTION_END);
}

int
main(int argc, char **argv)
{
	const struct halb_cli cli = {
		.prog = "halb-exporter",
		.what = "serve the metrics at metrics.listen",
		.check = cfg_check_main,
	};
	char ip[HALB_IP_STRLEN];
	struct MHD_Daemon *d;
	struct halb_cfg *cfg;
	const char *path;
	sigset_t set;
	int rc, sig;

	rc = halb_cli(&cli, argc, argv, &path);
	if (rc >= 0)
		return rc;
	/* No key is needed: the exporter seals and checks nothing. */
	cfg = cfg_load_opts(path, stderr, CFG_LOAD_NO_KEYS);
	if (cfg == NULL)
		return 1;
	halb_log_open(cfg->log.level, cfg->log.syslog);
	/* Blocked before libmicrohttpd's thread starts, so that it inherits
	 * the mask and they all come to sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = start(cfg);
	halb_ip_fmt(&cfg->metrics.listen_ip, ip, sizeof(ip));
	if (d == NULL) {
		HLOG(ERR, "cannot listen on metrics.listen %s port %u",
		     ip, cfg->metrics.listen_port);
		cfg_free(cfg);
		return 1;
	}
	halb_notify_ready(); /* listening: scrapes are served from now on */
	HLOG(NOTICE, "serving http://%s%s%s:%u/metrics for %s",
	     halb_ip_is_v4(&cfg->metrics.listen_ip) ? "" : "[", ip,
	     halb_ip_is_v4(&cfg->metrics.listen_ip) ? "" : "]",
	     cfg->metrics.listen_port, cfg->path);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1 || sig == SIGUSR2)
			halb_log_step(sig == SIGUSR1 ? 1 : -1);
		else if (sig == SIGINT || sig == SIGTERM)
			break;
	}
	MHD_stop_daemon(d);
	cfg_free(cfg);
	return 0;
}
