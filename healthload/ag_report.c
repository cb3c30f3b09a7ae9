/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * halb-agent's report and its judgement of what it receives (ag.h).
 *
 * A report lists every configured service with its state and, for one
 * that is down, why; the host's load; and the interval it promises.  Its
 * sequence number is above every one this host used before, even across
 * restarts (hlu_next_seq: the time in microseconds).  Incoming datagrams
 * are opened with the keys of the handlers the configuration names; the
 * only message acted on is a ReportRequest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ag.h"
#include "hlu.h"

struct ag *
ag_new(const struct agc *cfg)
{
	struct ag *ag = calloc(1, sizeof(*ag));
	uint32_t i, n = 0;
	int rc;

	if (ag == NULL)
		return NULL;
	ag->cfg = cfg;
	for (i = 0; i < cfg->n_handlers; i++)
		n += cfg->handlers[i].key.len != 0;
	ag->keys = seal_keyring_new(n > 0 ? n : 1);
	ag->replay = seal_replay_new(n > 0 ? n : 1, cfg->report_window_ms);
	if (ag->keys == NULL || ag->replay == NULL) {
		ag_free(ag);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < cfg->n_handlers; i++) {
		const struct agc_handler *h = &cfg->handlers[i];

		if (h->key.len == 0)
			continue;
		/* Several handler addresses may share one identity. */
		rc = seal_keyring_add(ag->keys, h->name, &h->key,
				      SEAL_ROLE_HANDLER);
		if (rc != 0 && rc != -EEXIST) {
			ag_free(ag);
			errno = -rc;
			return NULL;
		}
	}
	for (i = 0; i < cfg->n_services; i++) {
		hc_rf_init(&ag->chk[i].rf, cfg->services[i].rise,
			   cfg->services[i].fall);
		hc_probe_init(&ag->chk[i].probe);
		snprintf(ag->chk[i].why, sizeof(ag->chk[i].why), "not checked yet");
	}
	return ag;
}

void
ag_free(struct ag *ag)
{
	uint32_t i;

	if (ag == NULL)
		return;
	for (i = 0; ag->cfg != NULL && i < ag->cfg->n_services; i++)
		if (ag->chk[i].probe.fd >= 0)
			hc_probe_abort(&ag->chk[i].probe);
	seal_keyring_free(ag->keys);
	seal_replay_free(ag->replay);
	free(ag);
}

int
ag_service_state(const struct ag *ag, unsigned int i)
{
	const struct ag_check *c = &ag->chk[i];

	if (ag->cfg->services[i].check_type != AGC_CHECK_NONE &&
	    !hc_rf_up(&c->rf))
		return HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN;
	if (ag->draining)
		return HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING;
	return HALB__HEALTH__HEALTH_STATE__HEALTH_UP;
}

bool
ag_check_result(struct ag *ag, unsigned int i, bool ok, const char *why)
{
	struct ag_check *c = &ag->chk[i];
	bool was = hc_rf_up(&c->rf);

	ag->c.checks++;
	if (!ok)
		ag->c.check_fail++;
	snprintf(c->why, sizeof(c->why), "%s", why);
	hc_rf_result(&c->rf, ok);
	return was != hc_rf_up(&c->rf);
}

int
ag_build_report(struct ag *ag, uint64_t unix_ms, uint8_t *buf)
{
	const struct agc *cfg = ag->cfg;
	Halb__Health__ServiceHealth sh[AGC_MAX_SERVICES];
	Halb__Health__ServiceHealth *shp[AGC_MAX_SERVICES];
	char addr[AGC_MAX_SERVICES][HALB_IP_STRLEN];
	Halb__Health__HostReport r;
	Halb__Health__Load load;
	uint64_t seq = hlu_next_seq(&ag->seq);
	uint32_t i;
	int len, pass;

	halb__health__host_report__init(&r);
	halb__health__load__init(&load);
	r.host_id = (char *)(uintptr_t)cfg->host;
	r.seq = seq;
	r.timestamp_ms = unix_ms;
	r.report_interval_ms = cfg->interval_ms;
	load.cpu_permille = ag->cpu_permille;
	load.mem_used_permille = ag->mem_permille;
	load.active_connections = ag->conns;
	load.capacity = cfg->capacity;
	r.load = &load;
	for (i = 0; i < cfg->n_services; i++) {
		halb__health__service_health__init(&sh[i]);
		halb_ip_fmt(&cfg->services[i].addr, addr[i], sizeof(addr[i]));
		sh[i].service = (char *)(uintptr_t)cfg->services[i].service;
		sh[i].address = addr[i];
		sh[i].port = cfg->services[i].port;
		sh[i].state = (Halb__Health__HealthState)ag_service_state(ag, i);
		if (sh[i].state == HALB__HEALTH__HEALTH_STATE__HEALTH_DOWN)
			sh[i].reason = ag->chk[i].why;
		else if (sh[i].state == HALB__HEALTH__HEALTH_STATE__HEALTH_DRAINING)
			sh[i].reason = (char *)(uintptr_t)"draining";
		shp[i] = &sh[i];
	}
	r.n_services = cfg->n_services;
	r.services = shp;
	/* Reasons are a courtesy: without them it must fit. */
	for (pass = 0; pass < 2; pass++) {
		len = hl_seal(buf, HL_MTU, &cfg->key, cfg->host, seq, unix_ms,
			      HL_T_HOST_REPORT, &r.base);
		if (len != -EMSGSIZE)
			break;
		for (i = 0; i < cfg->n_services; i++)
			sh[i].reason = NULL;
	}
	return len;
}

int
ag_handle_dgram(struct ag *ag, const uint8_t *buf, size_t len,
		uint64_t unix_ms)
{
	struct hl_opened m;
	int rc;

	ag->c.rx++;
	rc = hl_open(buf, len, ag->keys, ag->replay, unix_ms, &m);
	if (rc < 0) {
		ag->c.rejected[-rc]++;
		return rc;
	}
	rc = m.type == HL_T_REPORT_REQUEST;
	if (rc)
		ag->c.requests++;
	else
		ag->c.unexpected++;
	hl_opened_free(&m);
	return rc;
}

/* The whole of a /proc file, however long (tcp tables can be). */
static char *
read_all(const char *path)
{
	size_t cap = 1 << 16;
	char *buf = NULL, *nb;
	ssize_t n;

	for (;;) {
		nb = realloc(buf, cap);
		if (nb == NULL)
			break;
		buf = nb;
		n = ag_read_text(path, buf, cap);
		if (n < 0)
			break;
		if ((size_t)n < cap - 1 || cap >= (1u << 26))
			return buf;
		cap *= 2;
	}
	free(buf);
	return NULL;
}

/* path = the proc root (ag->proc_root, default /proc) + "/" + name. */
static const char *
proc_path(const struct ag *ag, const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", ag->proc_root != NULL ? ag->proc_root :
		 "/proc", name);
	return path;
}

void
ag_read_load(struct ag *ag)
{
	uint16_t ports[AGC_MAX_SERVICES];
	struct ag_cpu cur;
	char buf[4096], path[4096], *t;
	size_t n = 0;
	uint32_t i;
	int c, total = 0;

	if (ag_read_text(proc_path(ag, "stat", path, sizeof(path)), buf,
			 sizeof(buf)) > 0 &&
	    ag_parse_stat(buf, &cur) == 0) {
		/* The first time, the average since boot: better than 0. */
		ag->cpu_permille = ag_cpu_permille(ag->cpu_valid ? &ag->cpu_prev :
						   &(struct ag_cpu){ 0, 0 }, &cur);
		ag->cpu_prev = cur;
		ag->cpu_valid = true;
	}
	if (ag_read_text(proc_path(ag, "meminfo", path, sizeof(path)), buf,
			 sizeof(buf)) > 0)
		ag_parse_meminfo(buf, &ag->mem_permille);
	for (i = 0; i < ag->cfg->n_services; i++)
		if (ag->cfg->services[i].port != 0)
			ports[n++] = ag->cfg->services[i].port;
	t = read_all(proc_path(ag, "net/tcp", path, sizeof(path)));
	if (t != NULL && (c = ag_count_established(t, ports, n)) > 0)
		total += c;
	free(t);
	t = read_all(proc_path(ag, "net/tcp6", path, sizeof(path)));
	if (t != NULL && (c = ag_count_established(t, ports, n)) > 0)
		total += c;
	free(t);
	ag->conns = (uint32_t)total;
}

bool
ag_drain_load(const char *path)
{
	char buf[16];

	return ag_read_text(path, buf, sizeof(buf)) > 0 &&
	       strncmp(buf, "drain", 5) == 0;
}

int
ag_drain_save(const char *path, bool draining)
{
	char tmp[CFG_SOCK_LEN + 16];
	int fd, err;

	if (!draining)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	/* Written whole, then renamed: a crash leaves the old mark or the
	 * new one, never half of one. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, "drain\n", 6) != 6 || fsync(fd) != 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		return -err;
	}
	close(fd);
	return rename(tmp, path) == 0 ? 0 : -errno;
}
