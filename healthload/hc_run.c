/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Running checks of any kind (hc.h): the table of kinds, and the life of
 * one run: start, a deadline timer, the kind's events, one result.
 *
 * Adding a kind of check: one file with its struct hc_ops (see hc_tcp.c;
 * listed in healthload/meson.build), one line in CFG_CHECK_KINDS
 * (cfg-t.h), which makes its enum value, its name, its declaration
 * (hc.h) and its place in kinds[] below, and its own keys, if it has any, in the
 * loader of the file that offers it (src/cfg_agent.c load_check(),
 * src/cfg_health.c load_backend_check()).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "halb/cfg-t.h"
#include "hc.h"

/* "none": up without a check; nothing to run. */
const struct hc_ops hc_none_ops = { .name = "none" };

/* CFG_CHECK_KINDS (cfg-t.h) names each kind's operations. */
static const struct hc_ops *const kinds[CFG_CHECK__COUNT] = {
#define KIND_OPS(e, name, ops) [CFG_CHECK_##e] = &ops,
	CFG_CHECK_KINDS(KIND_OPS)
#undef KIND_OPS
};

const struct hc_ops *
hc_ops_of(unsigned int type)
{
	return type < CFG_CHECK__COUNT && kinds[type]->start != NULL ?
	       kinds[type] : NULL;
}

void
hc_check_init(struct hc_check *c)
{
	memset(c, 0, sizeof(*c));
	hc_probe_init(&c->probe);
}

bool
hc_check_running(const struct hc_check *c)
{
	return c->ops != NULL;
}

void
hc_check_finish(struct hc_check *c, enum hc_result r)
{
	if (c->ops == NULL)
		return;
	ev_timer_stop(c->ev, &c->deadline);
	c->ops = NULL;
	c->done(c->arg, r, c->why);
}

static void
on_deadline(struct ev_loop *ev, void *arg)
{
	struct hc_check *c = arg;
	enum hc_result r;

	(void)ev;
	r = c->ops->abort(c);
	if (r != HC_PENDING)
		hc_check_finish(c, r);
}

int
hc_check_start(struct hc_check *c, struct ev_loop *ev,
	       const struct hc_target *t, hc_done_fn done, void *arg)
{
	const struct hc_ops *ops = hc_ops_of(t->type);
	enum hc_result r;

	if (ops == NULL)
		return -ENOTSUP;
	if (c->ops != NULL)
		return -EBUSY;
	c->ops = ops;
	c->ev = ev;
	c->done = done;
	c->arg = arg;
	c->timed_out = false;
	c->why[0] = '\0';
	ev_timer_init(&c->deadline, on_deadline, c);
	ev_timer_start(ev, &c->deadline, t->timeout_ms, 0);
	r = ops->start(c, t);
	if (r != HC_PENDING)
		hc_check_finish(c, r);
	return 0;
}

bool
hc_check_reap(struct hc_check *c)
{
	int st;

	if (c->pid <= 0 || waitpid(c->pid, &st, WNOHANG) != c->pid)
		return false;
	c->pid = 0;
	if (c->ops != NULL && c->ops->exited != NULL)
		hc_check_finish(c, c->ops->exited(c, st));
	return true;
}

void
hc_check_cancel(struct hc_check *c)
{
	if (c->probe.fd >= 0) {
		if (c->ev != NULL)
			ev_fd_del(c->ev, c->probe.fd);
		hc_probe_abort(&c->probe);
	}
	if (c->pid > 0) {
		kill(-c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
	if (c->ops != NULL)
		ev_timer_stop(c->ev, &c->deadline);
	c->ops = NULL;
}
