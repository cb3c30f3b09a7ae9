/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kinds of part halb-had supervises, one line each, in the order they
 * start when nothing says otherwise:
 *   HA_PART(ENUM, name, program, timeout_ms, after, bound, wanted, probe)
 *  - ENUM makes HA_PART_<ENUM> (cfg-t.h); name is the part's heartbeat
 *    file (HALB_RUN_DIR/<file_prefix>/<name>.hb, halb/hb.h) and the key of
 *    its group in ha { } (docs/CONFIG.md, "ha");
 *  - program: what runs it, started as SBINDIR/program -c FILE unless
 *    ha.<name>.command says otherwise;
 *  - timeout_ms: how old its heartbeat may get before it counts as hung
 *    (ha.<name>.timeout_ms's default; the data-plane parts beat every
 *    10 ms, a DPDK-free daemon every HALB_DAEMON_BEAT_MS);
 *  - after: the parts that must be ready before it starts (HA_BIT()s;
 *    ha.<name>.after's default);
 *  - bound: the parts whose restart restarts it, because it lives in
 *    their memory (the classifier is a DPDK secondary of the forwarder's
 *    shared memory): a fact of the program, not a setting; it must be in
 *    after too;
 *  - wanted: whether the part runs when ha.<name>.enabled is not given,
 *    an expression of cfg (the loaded struct halb_cfg);
 *  - probe: how halb-had reads its liveness, ha_probe_<probe>() in ha/
 *    (hb: its heartbeat file, ha/proc.c), filling a struct ha_obs.
 * A new part is one line here.  halb-sessiond writes a heartbeat file of
 * its own that says `ready` only once its replica is loaded (probe hb,
 * after and bound the forwarder, whose memory holds its event ring and
 * its replica).  BIRD writes none: the probe bird asks its control
 * socket (src/core/bird.c, bgp.socket) and reads its pid from the pid
 * file halb-had has it write; it waits for the forwarder only, whose
 * kernel interface (ports[].kernel) carries its sessions, so that they
 * come up while the classifier and sessiond get ready: what it
 * announces is halb-had's to say (docs/RELIABILITY.md, "Routes").
 * halb-router, the request router (docs/REQUESTS.md), runs when a
 * service has requests { }: a DPDK secondary of the forwarder's memory
 * (its rings and its bound-flow table), so after and bound the
 * forwarder; the workers stop answering SYNs of those services while
 * it is down, and the flows it bound live on in the forwarder.
 */
HA_PART(FORWARDER, forwarder, "halb-forwarder", 250, 0, 0, true, hb)
HA_PART(CLASSIFIER, classifier, "halb-classifier", 250, HA_BIT(FORWARDER),
	HA_BIT(FORWARDER), true, hb)
HA_PART(HEALTHD, healthd, "halb-healthd", 1000, 0, 0, cfg->has_health, hb)
HA_PART(SESSIOND, sessiond, "halb-sessiond", 1000, HA_BIT(FORWARDER),
	HA_BIT(FORWARDER), cfg->sessions.has, hb)
HA_PART(BIRD, bird, "bird", 3000, HA_BIT(FORWARDER), 0, cfg->bgp.has, bird)
HA_PART(ROUTER, router, "halb-router", 250, HA_BIT(FORWARDER),
	HA_BIT(FORWARDER), cfg_has_requests(cfg), hb)
