/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Snapshots, heartbeats and report requests as sealed datagrams
 * (hd.h, docs/HEALTH.md "Snapshots").
 *
 * A snapshot lists, per backend: service name, backend address and port
 * (the backend's port, or the service's; 0 for an all-ports service),
 * state, weight, load when known, source and age.  A full one lists
 * every backend healthd knows something about; a backend it does not
 * list is unknown to it (just started, nothing heard yet), and a
 * receiver keeps what it had for it.  A delta lists the dirty ones.
 * What does not fit one datagram is cut into parts of one generation,
 * greedily by encoded size.  Every datagram is sealed under health.name
 * with the key of its receiver: health.key for the classifier (and for
 * requests to agents), the pair's own key for a peer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hd.h"
#include "hlu.h"

/* Bytes of a length-delimited field of n bytes: tag, length, body. */
static size_t
field_size(size_t n)
{
	size_t v = 1, x = n;

	while (x >= 0x80) {
		x >>= 7;
		v++;
	}
	return 1 + v + n;
}

static bool
listed(const struct hd_backend *be, bool full)
{
	return be->state != HD_UNKNOWN && (full || be->dirty);
}

static void
fill(const struct hd *hd, const struct hd_backend *be, uint64_t now,
     Halb__Health__BackendState *bs, Halb__Health__Load *ld, char *addr)
{
	const struct hd_load *l = NULL;

	halb__health__backend_state__init(bs);
	halb__health__load__init(ld);
	halb_ip_fmt(&be->cb->ip, addr, HALB_IP_STRLEN);
	bs->service = (char *)(uintptr_t)be->svc->name;
	bs->address = addr;
	bs->port = be->cb->port ? be->cb->port : be->svc->port;
	bs->state = (Halb__Health__HealthState)be->state;
	bs->weight = be->weight;
	bs->source = (Halb__Health__StateSource)be->source;
	bs->age_ms = now > be->info_ms ? now - be->info_ms : 0;
	if (be->source == HD_SRC_LAST_KNOWN)
		l = &be->lk_load;
	else if (be->agent >= 0 && hd->agents[be->agent].heard)
		l = &hd->agents[be->agent].load;
	if (l != NULL && l->has) {
		ld->cpu_permille = l->cpu_permille;
		ld->active_connections = l->conns;
		ld->mem_used_permille = l->mem_permille;
		ld->capacity = l->capacity;
		bs->load = ld;
	}
}

/*
 * The next sequence number: above the last, and at least unix_ms in
 * microseconds (hlu_next_seq's rule, docs/HEALTH-PROTOCOL.md), from the
 * same clock reading as the timestamp, so that a receiver's bound on
 * how far a seq may run ahead of its clock and its window on timestamps
 * judge one time.
 */
static uint64_t
next_seq(struct hd *hd, uint64_t unix_ms)
{
	uint64_t floor = unix_ms * 1000u;

	hd->seq = floor > hd->seq ? floor : hd->seq + 1;
	return hd->seq;
}

static int
seal(struct hd *hd, const struct seal_key *key, uint8_t *buf,
     enum hl_type type, uint64_t unix_ms, const ProtobufCMessage *m)
{
	if (key == NULL || key->len == 0)
		return -ENOKEY;
	return hl_seal(buf, HL_MTU, key, hd->cfg->health.name,
		       next_seq(hd, unix_ms), unix_ms, type, m);
}

int
hd_snap_send(struct hd *hd, const struct seal_key *key, bool full,
	     uint64_t generation, uint64_t now, uint64_t unix_ms,
	     hd_emit_fn emit, void *arg)
{
	Halb__Health__BackendState *bs = NULL, **ptr = NULL;
	Halb__Health__Load *ld = NULL;
	char (*addr)[HALB_IP_STRLEN] = NULL;
	uint32_t *starts = NULL, n = 0, parts = 0, i, p;
	uint8_t buf[HL_MTU];
	size_t used = 0, sz;
	int rc = -ENOMEM, len;

	if (key == NULL || key->len == 0)
		return -ENOKEY;
	bs = calloc(hd->n_be + 1, sizeof(*bs));
	ld = calloc(hd->n_be + 1, sizeof(*ld));
	ptr = calloc(hd->n_be + 1, sizeof(*ptr));
	addr = calloc(hd->n_be + 1, sizeof(*addr));
	starts = calloc(hd->n_be + 2, sizeof(*starts));
	if (bs == NULL || ld == NULL || ptr == NULL || addr == NULL ||
	    starts == NULL)
		goto out;

	/* Cut into parts: each starts where the last one was full. */
	starts[parts++] = 0;
	for (i = 0; i < hd->n_be; i++) {
		if (!listed(&hd->be[i], full))
			continue;
		fill(hd, &hd->be[i], now, &bs[n], &ld[n], addr[n]);
		ptr[n] = &bs[n];
		sz = field_size(protobuf_c_message_get_packed_size(&bs[n].base));
		if (used > 0 && used + sz > HD_PART_BUDGET) {
			starts[parts++] = n;
			used = 0;
		}
		used += sz;
		n++;
	}
	if (n == 0 && !full) {
		rc = 0;
		goto out;
	}
	starts[parts] = n;

	for (p = 0; p < parts; p++) {
		Halb__Health__CacheSnapshot cs;

		halb__health__cache_snapshot__init(&cs);
		cs.full = full;
		cs.generation = generation;
		cs.n_backends = starts[p + 1] - starts[p];
		cs.backends = cs.n_backends > 0 ? &ptr[starts[p]] : NULL;
		cs.part = p;
		cs.parts = parts > 1 ? parts : 0;
		len = seal(hd, key, buf, HL_T_CACHE_SNAPSHOT, unix_ms, &cs.base);
		if (len < 0) {
			rc = len;
			goto out;
		}
		hd->c.datagrams++;
		emit(arg, buf, (size_t)len);
	}
	if (full)
		hd->c.snapshots_full++;
	else
		hd->c.snapshots_delta++;
	rc = (int)parts;
out:
	free(bs);
	free(ld);
	free(ptr);
	free(addr);
	free(starts);
	return rc;
}

void
hd_snap_clean(struct hd *hd)
{
	uint32_t i;

	for (i = 0; i < hd->n_be; i++)
		hd->be[i].dirty = false;
	hd->any_dirty = false;
}

int
hd_heartbeat(struct hd *hd, uint64_t generation, uint64_t unix_ms,
	     uint8_t *buf)
{
	Halb__Health__Heartbeat hb;

	halb__health__heartbeat__init(&hb);
	hb.role = HALB__HEALTH__ROLE__ROLE_HEALTHD;
	hb.generation = generation;
	return seal(hd, &hd->cfg->health.key, buf, HL_T_HEARTBEAT, unix_ms,
		    &hb.base);
}

int
hd_report_request(struct hd *hd, const struct seal_key *key,
		  const char *reason, uint64_t unix_ms, uint8_t *buf)
{
	Halb__Health__ReportRequest rq;

	halb__health__report_request__init(&rq);
	rq.reason = (char *)(uintptr_t)reason;
	rq.nonce = hd->start_ms;
	return seal(hd, key, buf, HL_T_REPORT_REQUEST, unix_ms, &rq.base);
}
