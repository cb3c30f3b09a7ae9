/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reload (docs/RELOAD.md): the forwarder is the one process that reads
 * the edited file at a reload.  In order, changing nothing until the
 * file has passed every check:
 *  1. load it (the same checks as --check-config);
 *  2. refuse what needs a restart (cfg_reload_refused), then give every
 *     service and backend its slot (cfg_slots_assign: same name, same
 *     slot; what went away retired while flows may name it);
 *  3. build the new view (view.c: rewrite data, next hops pinned, the
 *     Maglev tables of slots new to the view);
 *  4. publish: the workers' view (one atomic store), the services for
 *     the classifier (halb_shm_view_publish), the running configuration
 *     (under the lock telemetry reads it with);
 *  5. after a grace period, free the old view; when no classifier holds
 *     the attach lock, rebuild the Maglev tables of changed services
 *     here (the classifier does it when it applies the view).
 * The classifier follows (classifier/view.c): it applies the view's
 * weights, evicts the flows of retired backends whose service says
 * down_flows "reset", and acknowledges the generation (cls_view_gen).
 * A retired slot is reused only once that acknowledgement came, no flow
 * names it and FWD_RETIRE_MS have passed (fallback decisions that no
 * entry records, a returned packet still in a ring).
 *
 * One reload at a time (reload_mu), from the main lcore (SIGHUP) or a
 * telemetry thread (/halb/reload).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_rcu_qsbr.h>

#include "halb/cfg.h"
#include "halb/cfg_reload.h"
#include "halb/shm.h"
#include "fwd.h"

/* How long a retired slot waits, after the classifier applied its
 * retirement, before it may be reused: two expiry sweeps. */
#define FWD_RETIRE_MS 2000u
/* The classifier's attach lock (classifier/cls.h CLS_LOCK_FILE). */
#define FWD_CLS_LOCK_FILE "halb_classifier.lock"

static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t cfg_lock = PTHREAD_RWLOCK_INITIALIZER;

/* Per slot: the generation that retired it and when (ms, monotonic). */
static uint64_t retired_gen[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];
static uint64_t retired_ms[CFG_MAX_SERVICES][CFG_MAX_BACKENDS];

void
fwd_cfg_rdlock(void)
{
	pthread_rwlock_rdlock(&cfg_lock);
}

void
fwd_cfg_unlock(void)
{
	pthread_rwlock_unlock(&cfg_lock);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t
slot_flows1(const struct fwd_ctx *c, uint32_t s, uint32_t b, uint64_t now)
{
	/* The classifier's flows and the request router's bound ones. */
	uint32_t n = __atomic_load_n(&c->shm->active[s][b], __ATOMIC_RELAXED) +
		     __atomic_load_n(&c->shm->l7_active[s][b], __ATOMIC_RELAXED);

	if (retired_gen[s][b] != 0 &&
	    (__atomic_load_n(&c->shm->cls_view_gen, __ATOMIC_ACQUIRE) <
		     retired_gen[s][b] ||
	     now - retired_ms[s][b] < FWD_RETIRE_MS))
		n++;
	return n;
}

/* cfg_slots_assign()'s question: what may still name slot (s, b). */
static uint32_t
slot_flows(void *arg, uint32_t s, uint32_t b)
{
	const struct fwd_ctx *c = arg;
	uint64_t now = mono_ms();
	uint32_t n = 0, i;

	if (b != CFG_SLOT_ANY)
		return slot_flows1(c, s, b, now);
	for (i = 0; i < CFG_MAX_BACKENDS; i++)
		n += slot_flows1(c, s, i, now);
	return n;
}

/* Whether slot b of service s of new is another backend than in run
 * (or than nothing): its counters start again. */
static bool
slot_changed(const struct halb_cfg *run, const struct halb_cfg *new,
	     uint32_t s, uint32_t b)
{
	const struct cfg_service *rs = s < run->n_services ? &run->services[s] : NULL;
	const struct cfg_service *ns = &new->services[s];

	if (rs == NULL || b >= rs->n_backends || rs->slot == CFG_SLOT_FREE ||
	    rs->backends[b].slot == CFG_SLOT_FREE)
		return true;
	return strcmp(rs->name, ns->name) != 0 ||
	       !halb_ip_eq(&rs->backends[b].ip, &ns->backends[b].ip) ||
	       cfg_backend_port(rs, &rs->backends[b]) !=
		       cfg_backend_port(ns, &ns->backends[b]);
}

/* The classifier's attach lock, if no classifier holds it: an fd to
 * close (which lets it go), or -1.  A classifier that starts meanwhile
 * waits for it (classifier/main.c lock_attach). */
static int
cls_lock_try(void)
{
	char path[PATH_MAX];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	snprintf(path, sizeof(path), "%s/%s", rte_eal_get_runtime_dir(),
		 FWD_CLS_LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * No classifier: the forwarder rebuilds the Maglev tables of the live
 * services, so that its fallback sends nothing new to a removed backend:
 * from the health the last classifier applied where it is about the
 * same backend, else from the configured weight (as at start).  A grace
 * period since the last flip is over (the caller waited one), so no
 * worker reads the buffer that is not current.  A classifier that
 * attaches later rebuilds them all.
 */
static void
maglev_rebuild(struct fwd_ctx *c, const struct halb_cfg *cfg)
{
	const struct halb_shm *shm = c->shm;
	uint32_t w[CFG_MAX_BACKENDS], s, b;

	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct halb_mh_shm *mh = &c->shm->mh[s];
		uint32_t next;

		if (cs->slot != CFG_SLOT_LIVE || mh->table[0] == NULL)
			continue;
		for (b = 0; b < cs->n_backends; b++) {
			const struct cfg_backend *cb = &cs->backends[b];
			const struct halb_be_health *h = &shm->health[s][b];

			w[b] = cb->weight;
			if (shm->health_valid &&
			    shm->health_id[s][b] ==
				    halb_slot_id(cs->name, cb->ip.b,
						 cfg_backend_port(cs, cb)))
				w[b] = h->state == HALB_HEALTH_UP ? h->weight : 0;
		}
		next = __atomic_load_n(&mh->cur, __ATOMIC_ACQUIRE) ^ 1;
		if (svc_maglev_build(cs, w, mh->table[next], mh->size) == 0)
			__atomic_store_n(&mh->cur, next, __ATOMIC_RELEASE);
	}
}

/* The tables of slots that are new to the view, built before the view
 * that holds them is published: nothing reads them yet. */
static int
maglev_new_slots(struct fwd_ctx *c, const struct halb_cfg *run,
		 const struct halb_cfg *cfg, struct cfg_reload_log *log)
{
	uint32_t w[CFG_MAX_BACKENDS], s, b;
	int rc;

	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];
		struct halb_mh_shm *mh = &c->shm->mh[s];

		if (cs->slot != CFG_SLOT_LIVE ||
		    (s < run->n_services && run->services[s].slot == CFG_SLOT_LIVE &&
		     strcmp(run->services[s].name, cs->name) == 0))
			continue;
		rc = halb_shm_mh_alloc(c->shm, s);
		if (rc != 0) {
			cfg_reload_note(log, "reload refused: no memory for service %s's Maglev table",
					cs->name);
			return rc;
		}
		for (b = 0; b < cs->n_backends; b++)
			w[b] = cs->backends[b].weight;
		rc = svc_maglev_build(cs, w, mh->table[0], mh->size);
		if (rc != 0)
			return rc;
		__atomic_store_n(&mh->cur, 0, __ATOMIC_RELEASE);
	}
	return 0;
}

/* The loader's messages, one log line each. */
static void
note_lines(struct cfg_reload_log *log, const char *text)
{
	while (text != NULL && *text != '\0') {
		size_t n = strcspn(text, "\n");

		cfg_reload_note(log, "%.*s", (int)n, text);
		text += n;
		if (*text == '\n')
			text++;
	}
}

static struct halb_cfg *
load(const char *path, struct cfg_reload_log *log)
{
	struct halb_cfg *in;
	char *msg = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&msg, &len);

	in = cfg_load(path, err != NULL ? err : stderr);
	if (err != NULL) {
		fclose(err);
		if (in == NULL) {
			cfg_reload_note(log, "reload refused: %s is not valid:", path);
			note_lines(log, msg);
		}
		free(msg);
	}
	return in;
}

/* Records retirements made by this reload, and counters of slots that
 * are another backend now. */
static void
slots_account(struct fwd_ctx *c, const struct halb_cfg *run,
	      const struct halb_cfg *cfg, uint64_t gen, uint64_t now)
{
	uint32_t s, b, w;

	for (s = 0; s < cfg->n_services; s++) {
		const struct cfg_service *cs = &cfg->services[s];

		for (b = 0; b < cs->n_backends; b++) {
			const struct cfg_backend *cb = &cs->backends[b];
			bool was_live = s < run->n_services &&
					run->services[s].slot == CFG_SLOT_LIVE &&
					b < run->services[s].n_backends &&
					run->services[s].backends[b].slot == CFG_SLOT_LIVE;

			if ((cb->slot == CFG_SLOT_RETIRED || cs->slot == CFG_SLOT_RETIRED) &&
			    was_live) {
				retired_gen[s][b] = gen;
				retired_ms[s][b] = now;
			} else if (cb->slot == CFG_SLOT_LIVE && cs->slot == CFG_SLOT_LIVE) {
				retired_gen[s][b] = 0;
			}
			if (cb->slot == CFG_SLOT_LIVE && slot_changed(run, cfg, s, b)) {
				c->shm->installs[s][b] = 0;
				for (w = 0; w < c->shm->n_workers; w++)
					memset(&c->shm->be[w].b[s][b], 0,
					       sizeof(c->shm->be[w].b[s][b]));
			}
		}
	}
}

static int
apply(struct fwd_ctx *c, struct halb_cfg *in, struct cfg_reload_log *log)
{
	struct halb_cfg *run = c->cfg, *out = NULL;
	struct fwd_view *v = NULL, *old;
	uint64_t gen = c->shm->view_gen + 1, now = mono_ms();
	char why[200];
	uint32_t i;
	int rc, lock;

	rc = cfg_reload_refused(run, in, why, sizeof(why));
	if (rc != 0) {
		cfg_reload_note(log, "reload refused: %s", why);
		return rc;
	}
	out = malloc(sizeof(*out));
	if (out == NULL)
		return -ENOMEM;
	rc = cfg_slots_assign(run, in, slot_flows, c, out, log);
	if (rc != 0) {
		cfg_reload_note(log, "reload refused: out of slots");
		rc = -EPERM;
		goto out;
	}
	/* Static neighbours added (cfg_reload_refused let only those
	 * through): pinned before the backends that may use them. */
	for (i = run->n_neigh; i < out->n_neigh; i++) {
		rc = fwd_static_neigh(c, out, i, why, sizeof(why));
		if (rc < 0) {
			cfg_reload_note(log, "reload refused: %s", why);
			goto out;
		}
		cfg_reload_note(log, "static neighbour %u added", i);
	}
	rc = maglev_new_slots(c, run, out, log);
	if (rc != 0)
		goto out;
	rc = fwd_view_build(c, out, gen, &v, why, sizeof(why));
	if (rc != 0) {
		cfg_reload_note(log, "reload refused: %s", why);
		goto out;
	}
	slots_account(c, run, out, gen, now);
	/* Publish: the workers', the classifier's, telemetry's. */
	old = c->view;
	__atomic_store_n(&c->view, v, __ATOMIC_RELEASE);
	c->shm->cfg_digest = cfg_digest_static(in);
	halb_shm_view_publish(c->shm, out, gen);
	pthread_rwlock_wrlock(&cfg_lock);
	run->n_services = out->n_services;
	memcpy(run->services, out->services, sizeof(run->services));
	run->n_neigh = out->n_neigh;
	memcpy(run->neigh, out->neigh, sizeof(run->neigh));
	run->health = out->health;
	pthread_rwlock_unlock(&cfg_lock);
	/* No worker holds the old view past this. */
	rte_rcu_qsbr_synchronize(c->shm->qsbr, RTE_QSBR_THRID_INVALID);
	fwd_view_free(old);
	lock = cls_lock_try();
	if (lock >= 0) {
		maglev_rebuild(c, run);
		close(lock);
		cfg_reload_note(log, "no classifier attached: Maglev tables rebuilt from the configured weights");
	}
	cfg_reload_note(log, "generation %" PRIu64 ": %u service(s), %u slot(s)", gen,
			cfg_live_services(run), run->n_services);
	rc = 0;
out:
	if (rc > 0)
		rc = -rc;
	if (rc < 0 && rc != -EPERM && rc != -ENOMEM)
		rc = -EPERM;
	free(out);
	return rc;
}

int
fwd_reload(struct fwd_ctx *c, const char *path, struct cfg_reload_log *log)
{
	struct halb_cfg *in;
	uint32_t i;
	int rc;

	if (pthread_mutex_trylock(&reload_mu) != 0) {
		cfg_reload_note(log, "reload refused: another reload is running");
		return -EBUSY;
	}
	in = load(path, log);
	if (in == NULL) {
		rc = errno == EINVAL ? -EINVAL : -errno;
		if (rc == 0)
			rc = -EINVAL;
	} else {
		rc = apply(c, in, log);
		cfg_free(in);
	}
	if (rc == 0) {
		c->shm->reloads++;
		FWD_LOG(NOTICE, "%s: reloaded, generation %" PRIu64, path,
			c->shm->view_gen);
	} else {
		c->shm->reload_refused++;
		FWD_LOG(ERR, "%s: reload refused", path);
	}
	for (i = 0; i < log->n; i++)
		rte_log(rc == 0 ? RTE_LOG_NOTICE : RTE_LOG_ERR, fwd_logtype,
			"fwd_reload: %s\n", log->line[i]);
	pthread_mutex_unlock(&reload_mu);
	return rc;
}
