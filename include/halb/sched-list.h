/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The schedulers, one line each: HALB_SCHED(ENUM, name).  ENUM makes
 * CFG_SCHED_ENUM (cfg-t.h), name is what the configuration's `scheduler`
 * key says (cfg.c) and names the ops, sched_<name>_ops, defined in
 * src/dp/sched_<name>.c.  A new scheduler is that file and one line here.
 * The first is the default.
 */
HALB_SCHED(MAGLEV, maglev)
HALB_SCHED(WRR, wrr)
HALB_SCHED(WLC, wlc)
