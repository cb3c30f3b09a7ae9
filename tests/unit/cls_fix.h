/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A classifier without DPDK processes, for the unit tests of its parts
 * (test_cls_*.c): a configuration file loaded as the rig loads it, a
 * struct halb_shm in ordinary memory with Maglev buffers, a QSBR
 * variable that no reader has joined (grace periods end at once, and are
 * counted by its token), worker 0's flow table and fallback marks.
 * Static functions: each test program includes it once.
 */
#ifndef HALB_TEST_CLS_FIX_H
#define HALB_TEST_CLS_FIX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_rcu_qsbr.h>

#include "halb/cfg.h"
#include "halb/flow.h"
#include "halb/mh.h"
#include "cls.h"


struct fix {
	struct cls c;
	struct flow_table t;
	void *mem;
};

/* Loads path with @PREFIX@ filled in (tests/pkt/pkt.conf is a template). */
static struct halb_cfg *
conf_load(const char *src)
{
	char path[] = "/tmp/halb-test-cls-XXXXXX", line[512];
	struct halb_cfg *cfg;
	FILE *in, *out;
	int fd;

	in = fopen(src, "r");
	assert_non_null(in);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	out = fdopen(fd, "w");
	assert_non_null(out);
	while (fgets(line, sizeof(line), in) != NULL) {
		char *at = strstr(line, "@PREFIX@");

		if (at != NULL) {
			*at = '\0';
			fprintf(out, "%shalb-test%s", line, at + 8);
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	fclose(out);
	cfg = cfg_load(path, stderr);
	unlink(path);
	assert_non_null(cfg);
	return cfg;
}

/* The classifier's state over cfg (taken), before cls_health_init(). */
static struct fix *
fix_new(struct halb_cfg *cfg, uint32_t entries)
{
	struct fix *x = calloc(1, sizeof(*x));
	struct halb_shm *shm;
	size_t qsz;
	uint32_t s;

	assert_non_null(x);
	x->c.cfg = cfg;
	x->c.hfd = -1;
	shm = x->c.shm = calloc(1, sizeof(*x->c.shm));
	assert_non_null(shm);
	shm->tsc_hz = 1000000000ull;
	shm->n_workers = 1;
	shm->n_services = cfg->n_services;
	qsz = rte_rcu_qsbr_get_memsize(1);
	shm->qsbr = aligned_alloc(64, (qsz + 63) & ~(size_t)63);
	assert_non_null(shm->qsbr);
	assert_int_equal(rte_rcu_qsbr_init(shm->qsbr, 1), 0);
	for (s = 0; s < cfg->n_services; s++) {
		shm->mh[s].size = mh_table_size(cfg->services[s].n_backends);
		shm->mh[s].table[0] = calloc(shm->mh[s].size, sizeof(uint16_t));
		shm->mh[s].table[1] = calloc(shm->mh[s].size, sizeof(uint16_t));
		assert_non_null(shm->mh[s].table[0]);
		assert_non_null(shm->mh[s].table[1]);
	}
	shm->workers[0].fb_marks = calloc(HALB_FB_MARKS, sizeof(uint32_t));
	assert_non_null(shm->workers[0].fb_marks);
	x->mem = aligned_alloc(64, (flow_table_mem_size(entries) + 63) & ~(size_t)63);
	assert_non_null(x->mem);
	flow_table_init(&x->t, x->mem, entries, 0);
	shm->workers[0].flows = x->t;
	assert_int_equal(flow_writer_init(&x->c.fw[0], &shm->workers[0].flows, NULL), 0);
	assert_int_equal(svc_map_build(&x->c.svcs, cfg), 0);
	x->c.now_ms = 1000;
	return x;
}

static void
fix_free(struct fix *x)
{
	uint32_t s;

	cls_health_fini(&x->c);
	flow_writer_fini(&x->c.fw[0]);
	svc_map_free(&x->c.svcs);
	for (s = 0; s < x->c.cfg->n_services; s++) {
		free(x->c.shm->mh[s].table[0]);
		free(x->c.shm->mh[s].table[1]);
	}
	free(x->c.shm->workers[0].fb_marks);
	free(x->c.shm->qsbr);
	free(x->c.shm);
	cfg_free(x->c.cfg);
	free(x->mem);
	free(x);
}

/* Grace periods waited so far: the QSBR token counts them. */
static __attribute__((unused)) uint64_t
grace_periods(const struct fix *x)
{
	return x->c.shm->qsbr->token;
}

#endif
