#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench/report.py: turns bench/run.sh's results (one JSON object per
line) into the table `make bench` prints, bench/results/latest.md, and
latest.json.  Figures of repeated rounds are medians; every ratio is
taken within a round (figures measured back to back) and then the
median of those ratios is shown."""

import argparse
import json
import statistics
import sys

GOAL_FAST = 0.5        # fast path / bare loop (issue 3); stretch 0.7
GOAL_FAST_STRETCH = 0.7
GOAL_CONNS = 1e6       # new connections per second on one classifier core
GOAL_BYTES = 128       # per flow at 10M flows
GOAL_SCALE = 0.7       # 10M-flow rate / 1k-flow rate
MODES = ("dsr", "nat", "tunnel")
# Open vSwitch-DPDK in the worker's place (bench/ovs_gen.sh): no
# /halb/stats, its cycles per packet are OVS's own (pmd-stats-show).
OVS_TARGETS = ("ovs-stateless", "ovs-ctnat")
OVS_LIKE = {"ovs-stateless": "dsr", "ovs-ctnat": "nat"}


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def flows_name(n):
    if n >= 1000000 and n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


def cyc_of(r):
    """Cycles per frame of a run: the DUT's busy_tsc / rx from telemetry,
    or for OVS its PMD's processing cycles per packet."""
    if r.get("cyc_per_pkt") is not None:
        return r["cyc_per_pkt"]
    return (r.get("ovs") or {}).get("cyc_per_pkt")


def ovs_med(rs, key):
    return med((r["r"].get("ovs") or {}).get(key) for r in rs)


def clean_runs(rs):
    """The runs that had at least two clean windows, or all (and False)."""
    good = [r for r in rs if not r["r"].get("noisy")]
    return (good, True) if good else (rs, False)


def fast_table(rows):
    """Per (flows, target): medians over the rounds, of the clean runs
    when there are any.  Ratios: against the bare loop's median over all
    its clean runs (it does not look at flows, so every N measures the
    same thing; on this machine one run of anything can be off by half,
    so the pooled median is the steadier floor)."""
    fast = [r for r in rows if r["test"] == "fast" and "r" in r]
    by = {}
    for r in fast:
        by.setdefault((r["flows"], r["target"]), []).append(r)
    out = []
    for n in sorted({k[0] for k in by}):
        for target in ("bare",) + MODES + OVS_TARGETS:
            rs = by.get((n, target))
            if not rs:
                continue
            use, trusted = clean_runs(rs)
            row = {
                "flows": n,
                "target": target,
                "rounds": len(rs),
                "clean_rounds": sum(1 for r in rs if not r["r"].get("noisy")),
                "trusted": trusted,
                "mpps": med(r["r"]["mpps"] for r in use),
                "run_mpps": sorted(r["r"]["mpps"] for r in use),
                "mpps_min": min(r["r"]["mpps_min"] for r in use),
                "mpps_max": max(r["r"]["mpps_max"] for r in use),
                "cyc_per_pkt": med(cyc_of(r["r"]) for r in use),
                "dut_busy": med(r["r"]["dut_busy"] for r in use),
                "lost": sum(r["r"]["sent"] - r["r"]["recv"] for r in rs),
                "sent": sum(r["r"]["sent"] for r in rs),
                "windows": sum(r["r"].get("windows", 0) for r in rs),
                "clean": sum(r["r"].get("clean_windows", 0) for r in rs),
                "hit_ratio": med(r["r"]["hit_ratio"] for r in rs) if target in MODES else None,
            }
            if target in OVS_TARGETS:
                row["ovs"] = {k: ovs_med(use, k) for k in (
                    "cyc_per_pkt", "passes_per_pkt", "processing_share", "other_threads_cpu",
                    "megaflows", "ct_conns_warm", "ct_conns_end")}
                def tot(k):
                    return sum((r["r"].get("ovs") or {}).get(k) or 0 for r in use)
                pk = tot("packets")
                lookups = sum(tot(k) for k in ("simple_match_hits", "emc_hits", "smc_hits",
                                               "megaflow_hits", "upcalls", "failed_upcalls"))
                for k in ("emc_hits", "megaflow_hits", "upcalls"):
                    row["ovs"][k + "_share"] = tot(k) / lookups if lookups else None
                for k in ("ct_est_pkts", "ct_other_dropped"):
                    row["ovs"][k + "_per_pkt"] = tot(k) / pk if pk else None
                ck = sum(r["r"].get("rx_checked") or 0 for r in use)
                row["ovs"]["rx_checked"] = ck
                row["ovs"]["rx_mac_rewritten"] = (
                    sum(r["r"].get("rx_mac_rewritten") or 0 for r in use) / ck if ck else None)
                row["ovs"]["rx_dst_rewritten"] = (
                    sum(r["r"].get("rx_dst_rewritten") or 0 for r in use) / ck if ck else None)
            out.append(row)
    bare = [r["r"] for r in fast if r["target"] == "bare"]
    good = [b for b in bare if not b.get("noisy")]
    floor = None
    if good:
        floor = {"mpps": med(b["mpps"] for b in good),
                 "cyc_per_pkt": med(b["cyc_per_pkt"] for b in good),
                 "runs": len(good), "trusted": True}
    elif bare:
        floor = {"mpps": med(b["mpps"] for b in bare),
                 "cyc_per_pkt": med(b["cyc_per_pkt"] for b in bare),
                 "runs": len(bare), "trusted": False}
    for row in out:
        if row["target"] == "bare" or floor is None:
            continue
        rate = row["mpps"] / floor["mpps"] if floor["mpps"] and row["mpps"] else None
        cyc = floor["cyc_per_pkt"] / row["cyc_per_pkt"] if row["cyc_per_pkt"] else None
        if row["trusted"] and floor["trusted"]:
            row["ratio_rate"], row["ratio_cycles"] = rate, cyc
        else:
            row["noisy_rate"], row["noisy_cycles"] = rate, cyc
    return out, floor


def one(rows, test, target=None):
    for r in rows:
        if r["test"] == test and "r" in r and (target is None or r["target"] == target):
            return r
    return None


def peers_section(md, js, key, title, md_path, json_path, why_not):
    """A section that bench/peers.sh wrote: its Markdown into md, its
    JSON into js[key] (None when it did not run: why_not says when)."""
    text = ""
    if md_path:
        try:
            text = open(md_path).read().strip()
        except OSError:
            pass
    md += [title, "", text if text else "Not run (%s)." % why_not, ""]
    js[key] = None
    if json_path:
        try:
            js[key] = json.load(open(json_path))
        except (OSError, ValueError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--peers-md")
    ap.add_argument("--peers-json")
    ap.add_argument("--l7peers-md")
    ap.add_argument("--l7peers-json")
    ap.add_argument("--out-md", required=True)
    ap.add_argument("--out-json", required=True)
    a = ap.parse_args()
    rows = load(a.results)
    machines = [r for r in rows if r["test"] == "machine"]
    m0 = machines[0] if machines else {}
    m1 = machines[-1] if machines else {}
    md = []
    js = {"machine": m0, "load_end": m1.get("load")}
    goals = []

    md.append("# halb benchmark results")
    md.append("")
    md.append("%s: %s, %s CPUs, Linux %s, DPDK %s. Load average (1/5/15 min) "
              "%s at the start, %s at the end%s." % (
                  m0.get("date", "?"), m0.get("cpu", "?"), m0.get("cpus", "?"),
                  m0.get("kernel", "?"), m0.get("dpdk", "?"), m0.get("load", "?"),
                  m1.get("load", "?"),
                  "; quick mode" if m0.get("quick") else
                  "; %s round(s) of the fast path, medians" % m0.get("reps", "?")))
    md.append("")

    # ---- 1. fast path ----
    ft, floor = fast_table(rows)
    js["fast_path"] = ft
    js["bare_floor"] = floor
    if ft:
        md.append("## 1. Fast path: one worker, memif, 64-byte TCP ACKs of N installed flows")
        md.append("")
        md.append("Mpps: frames back at the generator per second. Cycles/frame: the "
                  "worker's TSC cycles in loops that handled frames, per frame it "
                  "received (not bound to who was the bottleneck). Each run measures "
                  "until 4 windows of 300 ms were clean (the generator and the worker "
                  "each on its CPU for 80%% of the window, from schedstat); its figures "
                  "are medians of those, and a row is the median of its rounds (runs "
                  "with fewer than two clean windows left out; * when all were, and "
                  "then the figure says little). LB/bare: the row against the bare "
                  "loop's median over all its clean runs in this run (%s runs: %s Mpps, "
                  "%s cycles/frame): the bare loop does not look at flows, and on this "
                  "machine any single run can be off by half." % (
                      floor["runs"] if floor else 0,
                      fmt(floor["mpps"] if floor else None, ".2f"),
                      fmt(floor["cyc_per_pkt"] if floor else None, ".0f")))
        md.append("")
        if any(r["target"] in OVS_TARGETS for r in ft):
            md.append("ovs-stateless and ovs-ctnat: Open vSwitch 3.1 with DPDK in the "
                      "worker's place (bench/ovs_gen.sh; like dsr and like nat); † their "
                      "cycles/frame and busy share are OVS's own counters: the PMD thread's "
                      "processing cycles (TSC cycles of its iterations that received "
                      "packets) per packet received, from `dpif-netdev/pmd-stats-show` read "
                      "at every window edge.")
            md.append("")
        md.append("| flows | forwarder | Mpps | runs (Mpps) | cycles/frame | worker busy "
                  "| LB/bare (rate) | bare/LB (cycles) | lost | clean windows |")
        md.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in ft:
            lost = r["lost"] / r["sent"] if r["sent"] else 0
            md.append("| %s | %s%s | %s | %s | %s | %s | %s | %s | %.2f%% | %d/%d |" % (
                flows_name(r["flows"]), r["target"], "" if r["trusted"] else " *",
                fmt(r["mpps"], ".2f"),
                " ".join("%.1f" % v for v in r["run_mpps"]),
                fmt(r["cyc_per_pkt"], ".0f") + (" †" if r["target"] in OVS_TARGETS and
                                                 r["cyc_per_pkt"] is not None else ""),
                fmt(r["dut_busy"], ".0%"),
                fmt(r.get("ratio_rate"), ".2f") if r["target"] != "bare" else "",
                fmt(r.get("ratio_cycles"), ".2f") if r["target"] != "bare" else "",
                100 * lost, r["clean"], r["windows"]))
        md.append("")
        lb = [r for r in ft if r["target"] in MODES and r.get("ratio_rate") is not None]
        n_lb = sum(1 for r in ft if r["target"] in MODES)
        if not lb:
            noisy = [r for r in ft if r["target"] in MODES and r.get("noisy_rate") is not None]
            if noisy:
                md.append("LB/bare (rate/cycles) from runs that were not clean, for "
                          "information only: %s." % ", ".join(
                              "%s %s flows %s/%s" % (r["target"], flows_name(r["flows"]),
                                                     fmt(r["noisy_rate"], ".2f"),
                                                     fmt(r["noisy_cycles"], ".2f"))
                              for r in noisy))
                md.append("")
        if not lb and n_lb:
            goals.append({
                "goal": "fast path >= %.1f of the bare loop (stretch %.1f)" % (
                    GOAL_FAST, GOAL_FAST_STRETCH),
                "measured": "undetermined: no round ran clean (the machine was busy)",
                "met": None})
        if lb:
            worst = min(lb, key=lambda r: min(r["ratio_rate"], r["ratio_cycles"] or 9))
            w = min(worst["ratio_rate"], worst["ratio_cycles"] or 9)
            head = ", ".join("%s %s/%s" % (r["target"], fmt(r["ratio_rate"], ".2f"),
                                              fmt(r["ratio_cycles"], ".2f"))
                             for r in lb if r["flows"] == min(x["flows"] for x in lb))
            md.append("**Headline, LB/bare at %s flows (rate/cycles): %s.**" % (
                flows_name(min(x["flows"] for x in lb)), head))
            md.append("")
            goals.append({
                "goal": "fast path >= %.1f of the bare loop (stretch %.1f)" % (
                    GOAL_FAST, GOAL_FAST_STRETCH),
                "measured": "worst %.2f (%s, %s flows, lower of the rate and cycle "
                            "ratios)%s" % (
                                w, worst["target"], flows_name(worst["flows"]),
                                "" if len(lb) == n_lb else
                                "; %d of %d rows measured clean" % (len(lb), n_lb)),
                "met": w >= GOAL_FAST,
                "stretch": w >= GOAL_FAST_STRETCH})

    ovs = [r for r in ft if r["target"] in OVS_TARGETS]
    if ovs:
        md.append("Open vSwitch-DPDK on the same rig (OVS's PMD counters; passes: datapath "
                  "passes per packet, 2 when every packet recirculates once; EMC and megaflow: "
                  "share of the lookups; other threads: CPU that ovs-vswitchd's threads other "
                  "than the PMD took, mostly on CPU 0 with the generator; rewritten: share of "
                  "the sampled frames back with a backend's MAC, and for ct nat its address and "
                  "port):")
        md.append("")
        md.append("| flows | OVS | like halb | LB/bare (rate) | OVS cycles/packet, clean "
                  "windows / whole run | halb's cycles/frame | halb ÷ OVS (rate / cycles) "
                  "| passes | EMC / megaflow | other threads | conntrack entries | rewritten |")
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        halb = {(r["flows"], r["target"]): r for r in ft if r["target"] in MODES}
        for r in ovs:
            o = r["ovs"]
            h = halb.get((r["flows"], OVS_LIKE[r["target"]]))
            rate = r.get("ratio_rate", r.get("noisy_rate"))
            md.append("| %s | %s%s | %s | %s%s | %s / %s | %s | %s | %s | %s / %s | %s | %s | %s |" % (
                flows_name(r["flows"]), r["target"], "" if r["trusted"] else " *",
                OVS_LIKE[r["target"]], fmt(rate, ".2f"),
                "" if r.get("ratio_rate") is not None or rate is None else " *",
                fmt(r["cyc_per_pkt"], ".0f"), fmt(o.get("cyc_per_pkt"), ".0f"),
                fmt(h["cyc_per_pkt"] if h else None, ".0f"),
                "%s / %s" % (
                    fmt(h["mpps"] / r["mpps"] if h and h["mpps"] and r["mpps"] else None, ".1f"),
                    fmt(r["cyc_per_pkt"] / h["cyc_per_pkt"]
                        if h and h["cyc_per_pkt"] and r["cyc_per_pkt"] else None, ".1f"))
                + ("" if h is None or (h["trusted"] and r["trusted"]) else " *"),
                fmt(o.get("passes_per_pkt"), ".2f"),
                fmt(o.get("emc_hits_share"), ".0%"), fmt(o.get("megaflow_hits_share"), ".0%"),
                fmt(o.get("other_threads_cpu"), ".0%"),
                "%s → %s" % (fmt(o.get("ct_conns_warm"), ".0f"), fmt(o.get("ct_conns_end"), ".0f"))
                if r["target"] == "ovs-ctnat" else "",
                fmt(o.get("rx_dst_rewritten") if r["target"] == "ovs-ctnat"
                    else o.get("rx_mac_rewritten"), ".0%")))
        md.append("")
        js["ovs_fast_path"] = ovs

    # ---- 2. callgrind ----
    cg = [r for r in rows if r["test"] == "callgrind" and "r" in r]
    hn = {r["target"]: r["r"] for r in rows if r["test"] == "harness" and "r" in r}
    if cg:
        md.append("## 2. Instructions per packet: fwd_worker_burst() on a hit (callgrind)")
        md.append("")
        md.append("halb-bench-fastpath: 1000 bursts of 32 frames of 1000 installed flows, "
                  "no devices (the port is net_null); deterministic. Cycles: the same "
                  "harness natively, TSC cycles of the function per packet (no I/O).")
        md.append("")
        md.append("| mode | instructions/packet | cycles/packet (no I/O) |")
        md.append("|---|---|---|")
        js["instructions"] = []
        for r in cg:
            ipp = r["r"]["instructions"] / r["r"]["packets"]
            c = hn.get(r["target"], {}).get("cyc_per_pkt")
            js["instructions"].append({"mode": r["target"], "per_packet": ipp,
                                       "cycles_no_io": c})
            md.append("| %s | %.0f | %s |" % (r["target"], ipp, fmt(c, ".0f")))
        md.append("")

    # ---- 3. new connections ----
    dec = one(rows, "decide")
    syn = one(rows, "syn_e2e")
    if dec or syn:
        md.append("## 3. New connections")
        md.append("")
        md.append("| path | new connections/s | cycles each | note |")
        md.append("|---|---|---|---|")
        js["new_connections"] = {}
        if dec:
            d = dec["r"]
            js["new_connections"]["decide"] = d
            md.append("| decide-and-install, one core (parse, service, hash, lookup, "
                      "Maglev pick, insert) | %.0f | %.0f | %s distinct SYNs into a "
                      "table of %s entries; median of %s |" % (
                          d["decide_per_s"], d["decide_cycles"],
                          flows_name(d["flows"]), d["entries"],
                          "%d clean rounds of %d" % (d["clean_rounds"], d["rounds"])
                          if d.get("clean_rounds") else
                          "%d rounds, none clean: noisy" % d["rounds"]))
            md.append("| the same plus the classifier loop's housekeeping per 32 "
                      "(expiry paced to a full sweep a second, reclaim, count) "
                      "| %.0f | %.0f | |" % (
                          d["loop_per_s"], d["loop_cycles"]))
            goals.append({
                "goal": ">= 1M new connections/s on one classifier core",
                "measured": "%.2fM/s decide-and-install; %.2fM/s with the loop's "
                            "housekeeping" % (d["decide_per_s"] / 1e6, d["loop_per_s"] / 1e6),
                "met": d["decide_per_s"] >= GOAL_CONNS})
        if syn:
            s = syn["r"]
            js["new_connections"]["end_to_end"] = s
            md.append("| end to end: generator → worker → punt → classifier → return "
                      "→ transmit → generator | %.0f | | SYNs back per second; installs/s "
                      "%.0f; classifier and generator share CPU 0 (the generator sleeps "
                      "when 900 are outstanding), worker on CPU 1 |" % (
                          s["mpps"] * 1e6, s["installs_per_s"]))
        md.append("")

    # ---- 4. scale ----
    tabs = [r["r"] for r in rows if r["test"] == "tables"]
    fl = [t for t in tabs if t["what"] == "flows"]
    mh = [t for t in tabs if t["what"] == "maglev"]
    sc = [r for r in rows if r["test"] == "scale" and "r" in r]
    if tabs or sc:
        md.append("## 4. Flow-table scale and Maglev")
        md.append("")
        js["flow_memory"] = fl
        js["maglev"] = mh
    if fl:
        md.append("| table entries | buckets | shared bytes/flow (hugepages) "
                  "| + classifier's private bytes/flow | total |")
        md.append("|---|---|---|---|---|")
        for t in fl:
            md.append("| %s | %s | %.1f | %d | %.1f |" % (
                flows_name(t["entries"]), t["buckets"], t["shared_per_flow"],
                t["classifier_per_flow"], t["shared_per_flow"] + t["classifier_per_flow"]))
        md.append("")
        ten = [t for t in fl if t["entries"] == 10000000]
        if ten:
            t = ten[0]
            tot = t["shared_per_flow"] + t["classifier_per_flow"]
            goals.append({
                "goal": "<= %d bytes per flow at 10M flows" % GOAL_BYTES,
                "measured": "%.1f B (%.1f shared + %d classifier)" % (
                    tot, t["shared_per_flow"], t["classifier_per_flow"]),
                "met": tot <= GOAL_BYTES})
    if sc:
        md.append("Fast path (dsr) with 1k, 10M and again 1k installed flows, back to back "
                  "(* not clean):")
        md.append("")
        md.append("| installed flows | Mpps | cycles/frame | worker busy "
                  "| installing them (SYNs through the classifier) |")
        md.append("|---|---|---|---|---|")
        for r in sc:
            w = r["r"].get("warm_syn_s")
            md.append("| %s%s | %.2f | %.0f | %.0f%% | %s |" % (
                flows_name(r["flows"]), " *" if r["r"].get("noisy") else "",
                r["r"]["mpps"], r["r"]["cyc_per_pkt"], 100 * r["r"]["dut_busy"],
                "%.1f s (%.0f/s)" % (w, r["flows"] / w) if w and r["flows"] >= 100000
                else "%.1f s" % w if w else "–"))
        small = [r["r"] for r in sc if r["flows"] == 1000 and not r["r"].get("noisy")]
        big = [r["r"] for r in sc if r["flows"] >= 10000000]
        note = ""
        if not small:
            # The 1k runs of item 1 (dsr), same bench run.
            small = [r["r"] for r in rows if r["test"] == "fast" and "r" in r and
                     r["target"] == "dsr" and r["flows"] == 1000 and
                     not r["r"].get("noisy")]
            note = " (1k: item 1's dsr runs, the scale runs at 1k were not clean)"
        if not big or big[0].get("noisy") or not small:
            goals.append({
                "goal": ">= %.0f%% of the 1k-flow rate at 10M flows" % (100 * GOAL_SCALE),
                "measured": "undetermined: no clean %s run (the machine was busy)" % (
                    "10M" if small else "1k"),
                "met": None})
        else:
            b = big[0]
            rr = b["mpps"] / med(x["mpps"] for x in small)
            rc = med(x["cyc_per_pkt"] for x in small) / b["cyc_per_pkt"]
            js["scale"] = {"rate_ratio": rr, "cycle_ratio": rc,
                           "runs": [r["r"] for r in sc]}
            md.append("")
            md.append("10M/1k: %.2f by rate, %.2f by cycles per frame%s." % (rr, rc, note))
            goals.append({
                "goal": ">= %.0f%% of the 1k-flow rate at 10M flows" % (100 * GOAL_SCALE),
                "measured": "%.0f%% by rate, %.0f%% by cycles" % (100 * rr, 100 * rc),
                "met": min(rr, rc) >= GOAL_SCALE})
        md.append("")
    hs = {r["flows"]: r["r"] for r in rows if r["test"] == "harness_scale" and "r" in r}
    if hs:
        md.append("The burst function alone (halb-bench-fastpath natively, no I/O, one "
                  "thread on CPU 1, hugepages, a table sized for the flows, each packet "
                  "a hit): %s." % ", ".join(
                      "%s flows %.0f cycles/packet" % (flows_name(n), hs[n]["cyc_per_pkt"])
                      for n in sorted(hs)))
        js["scale_no_io"] = hs
        md.append("")
    mf = [r["r"] for r in rows if r["test"] == "memfloor"]
    if mf:
        md.append("The memory floor of a hit (halb-bench-memfloor, no halb: hash the "
                  "key, read the bucket line, read the entry line, write last_seen; "
                  "regions sized as the flow table, 2 MB pages, random flows in bursts "
                  "of 32), ns per packet:")
        md.append("")
        md.append("| flows | table bytes | 1 line, own loop | 2 lines, own loop "
                  "| 1 line, interleaved | 2 lines, interleaved |")
        md.append("|---|---|---|---|---|---|")
        for n in sorted({r["flows"] for r in mf}):
            cell = {(r["prefetch"], r["lines"]): r["ns_per_packet"]
                    for r in mf if r["flows"] == n}
            md.append("| %s | %s | %s |" % (
                flows_name(n), next(r["bytes"] for r in mf if r["flows"] == n),
                " | ".join(fmt(cell.get(k), ".1f") for k in (
                    ("own loop", 1), ("own loop", 2),
                    ("interleaved", 1), ("interleaved", 2)))))
        js["memfloor"] = mf
        md.append("")
    if mh:
        md.append("Maglev (weights 1; size = smallest prime >= max(100 × backends, 65537)):")
        md.append("")
        md.append("| backends | table size | bytes (one table / per service, 2 tables) "
                  "| build | moved when one leaves | the leaver's own share |")
        md.append("|---|---|---|---|---|---|")
        for t in mh:
            md.append("| %d | %d | %d / %d | %.2f ms | %.2f%% | %.2f%% |" % (
                t["backends"], t["size"], t["table_bytes"], t["service_bytes"],
                t["build_ms"], 100 * t["moved_share"], 100 * t["leaver_share"]))
        md.append("")

    # ---- 6. session sync ----
    sy = [r["r"] for r in rows if r["test"] == "sync"]
    if sy:
        md.append("## 6. Session sync (halb-bench-sync)")
        md.append("")
        md.append("Two sync engines back to back on one core: queue, batch, seal "
                  "(HMAC-SHA256), open, decode, deliver, ack; no socket.")
        md.append("")
        md.append("| sessions | batches lost | records per CPU second (median; min-max) "
                  "| per wall second | sync bytes/session "
                  "(batches / all, acks too) | sessions per batch | batches resent |")
        md.append("|---|---|---|---|---|---|---|")
        for t in sy:
            md.append("| %s | %d%% | %.2fM (%.2f-%.2fM, %d runs) | %.2fM | %.1f / %.1f | %.1f | %d |" % (
                t["family"], t["loss_pct"], t["records_per_s"] / 1e6,
                t["min_per_s"] / 1e6, t["max_per_s"] / 1e6, t["reps"],
                t["wall_per_s"] / 1e6,
                t["bytes_per_session"], t["bytes_per_session_all"],
                t["records_per_batch"], t["resent"]))
        worst_rate = min(t["records_per_s"] for t in sy)
        worst_bytes = max(t["bytes_per_session_all"] for t in sy)
        md.append("")
        md.append("Goals of issue 10: at least 1M sessions/s replicated on one "
                  "core: %s (slowest median %.2fM/s); at most 128 bytes per replicated "
                  "session: %s (largest %.1f)." % (
                      "met" if worst_rate >= 1e6 else "**not met**",
                      worst_rate / 1e6,
                      "met" if worst_bytes <= 128 else "**not met**",
                      worst_bytes))
        md.append("")
        js["sync"] = sy

    # ---- 7. session replica ----
    rp = [r["r"] for r in rows if r["test"] == "replica"]
    rb = [t for t in rp if t.get("what") == "replica_bytes"]
    rm = [t for t in rp if t.get("what") == "replica_miss"]
    if rp:
        md.append("## 7. Session replica (halb-bench-replica)")
        md.append("")
    if rb:
        md.append("The replica as the forwarder lays it out, filled by halb-sessiond's "
                  "write path until full.")
        md.append("")
        md.append("| replica_entries | stored | bytes | bytes/session | writes per CPU second |")
        md.append("|---|---|---|---|---|")
        for t in rb:
            md.append("| %d | %d | %d | %.1f | %.2fM |" % (
                t["entries"], t["stored"], t["bytes"], t["bytes_per_session"],
                t["puts_per_cpu_s"] / 1e6))
        worst = max(t["bytes_per_session"] for t in rb)
        md.append("")
        md.append("Goal of issue 10: at most 128 bytes of replica per session: %s "
                  "(largest %.1f)." % ("met" if worst <= 128 else "**not met**", worst))
        md.append("")
    if rm:
        md.append("The classifier's cls_decide() on mid-connection misses (TCP ACKs), "
                  "TSC cycles per decision (medians), with a replica holding other sessions.")
        md.append("")
        md.append("| misses | sessions in the replica | no replica | replica, no record "
                  "(added) | replica hit (added) |")
        md.append("|---|---|---|---|---|")
        for t in rm:
            md.append("| %d | %d | %.0f | %.0f (+%.0f) | %.0f (+%.0f) |" % (
                t["flows"], t["replica"], t["none_cycles"], t["miss_cycles"],
                t["miss_added"], t["hit_cycles"], t["hit_added"]))
        md.append("")
    if rp:
        js["replica"] = rp

    # ---- 8. request parser ----
    lq = [r["r"] for r in rows if r["test"] == "l7req"]
    if lq:
        md.append("## 8. Request parser (halb-bench-l7req)")
        md.append("")
        md.append("The request router's l7_parse (src/core/l7req.c) on one core, "
                  "medians; http-split is the router's two calls for a request in "
                  "two segments (MORE, then DONE); match is l7_match over 32 rules "
                  "of which the last matches.")
        md.append("")
        md.append("| what | bytes | ns per request | requests per second |")
        md.append("|---|---|---|---|")
        for t in lq:
            md.append("| %s | %s | %.0f | %.2fM |" % (
                t["what"], t["bytes"] or "-", t["ns"], t["per_s"] / 1e6))
        md.append("")
        js["l7req"] = lq
    # ---- 9. remote classifier ----
    rc = [r["r"] for r in rows if r["test"] == "remote"]
    if rc:
        md.append("## 9. Remote classifier (halb-bench-remote)")
        md.append("")
        md.append("New connections per second through the remote classification "
                  "protocol and the decision, both ends on one core (CPU 1): "
                  "SYNs in sealed batches of 16, the remote classifier's own code.")
        md.append("")
        md.append("| batches in flight | median | min | max | runs |")
        md.append("|---|---|---|---|---|")
        for d in sorted({t.get("depth", 1) for t in rc}):
            v = [t["per_second"] for t in rc if t.get("depth", 1) == d]
            md.append("| %d | %.0fk/s | %.0fk/s | %.0fk/s | %d |" % (
                d, med(v) / 1e3, min(v) / 1e3, max(v) / 1e3, len(v)))
        best = max(med([t["per_second"] for t in rc if t.get("depth", 1) == d])
                   for d in {t.get("depth", 1) for t in rc})
        md.append("")
        md.append("Goal of issue 11: at least 1M new connections/s through a remote "
                  "classifier with batching: %s on this one core for both ends "
                  "(best median %.2fM/s)." % ("met" if best >= 1e6 else "**not met**",
                                               best / 1e6))
        md.append("")
        js["remote"] = rc

    # ---- 11. SYN flood against a request-routed VIP ----
    fl = [r for r in rows if r["test"] == "l7flood"]
    if fl:
        f = fl[0]
        md.append("## 11. SYN flood against a request-routed VIP (halb-bench-gen syn)")
        md.append("")
        r = f.get("r") or {}
        st = f.get("status") or [None, None]
        rt = f.get("router") or [None, None]

        def g(d, k):
            return None if not d else d.get(k)
        md.append("%d SYNs of distinct 5-tuples at the generator's rate into a "
                  "request-routed NAT VIP, halb-router attached; every SYN is "
                  "answered by the worker with a cookie SYN-ACK and must leave "
                  "no state." % f["flows"])
        md.append("")
        md.append("| what | before | after |")
        md.append("|---|---|---|")
        md.append("| cookie SYN-ACKs per second (median of clean windows) | | %s |" % (
            "%.3fM" % r["mpps"] if r.get("mpps") is not None else "no result"))
        md.append("| forwarder flows | %s | %s |" % (g(st[0], "flows"), g(st[1], "flows")))
        for k in ("cookies", "binding", "flows", "bindings"):
            md.append("| router %s | %s | %s |" % (k, g(rt[0], k), g(rt[1], k)))
        grew = None
        if st[0] and st[1] and rt[0] and rt[1]:
            grew = (st[1].get("flows") != st[0].get("flows") or
                    any(rt[1].get(k) != rt[0].get(k) for k in ("binding", "flows", "bindings")))
        md.append("")
        md.append("State from half-open connections: %s." % (
            "not read" if grew is None else "**grew**" if grew else "none (no growth)"))
        md.append("")
        js["l7flood"] = f

    # ---- 12. bindings per second ----
    bd = [r for r in rows if r["test"] == "l7bind"]
    parts = [r["r"] for r in rows if r["test"] == "l7bindparts" and r.get("r")]
    if bd or parts:
        md.append("## 12. Bindings per second (halb-bench-gen bind, halb-bench-bind)")
        md.append("")
        md.append("Goal of issue 14: 0.8M bindings/s on one core (10x HAProxy's "
                  "~83k new connections/s per core).")
        md.append("")
    if bd:
        f = bd[0]
        r = f.get("r") or {}
        rt = f.get("router") or [None, None]
        md.append("End to end on the memif rig: %d new connections to a "
                  "request-routed VIP, the generator playing client and backend: "
                  "SYN, cookie SYN-ACK, ACK with the request, the router's SYN to "
                  "the backend, its SYN-ACK, the request delivered (counted then). "
                  "The generator and halb-router share CPU 0, the worker busy-polls "
                  "CPU 1; the classifier is stopped. Busy cycles per binding: the "
                  "worker's from its busy share in the clean windows, the router's "
                  "from its busy_tsc over the run (both on a shared machine, with "
                  "the other core's cache lines)." % f["flows"])
        md.append("")
        md.append("| bindings per second (median) | min - max | windows (clean) | "
                  "worker busy share | worker busy cycles/binding | router busy "
                  "cycles/binding | router bound (delta) | out_full |")
        md.append("|---|---|---|---|---|---|---|---|")
        bound = busy = out_full = None
        if rt[0] and rt[1]:
            bound = (rt[1].get("bound") or 0) - (rt[0].get("bound") or 0)
            out_full = (rt[1].get("out_full") or 0) - (rt[0].get("out_full") or 0)
            if rt[1].get("busy_tsc") is not None and rt[0].get("busy_tsc") is not None:
                busy = rt[1]["busy_tsc"] - rt[0]["busy_tsc"]
        rcyc = "%.0f" % (busy / bound) if busy is not None and bound else "?"
        f["router_busy_cyc"] = busy / bound if busy is not None and bound else None
        if r.get("mpps") is not None:
            wcyc = "?"
            if r.get("tsc_hz") and r.get("dut_busy") is not None and r["mpps"] > 0:
                f["worker_busy_cyc"] = r["dut_busy"] * r["tsc_hz"] / (r["mpps"] * 1e6)
                wcyc = "%.0f" % f["worker_busy_cyc"]
            md.append("| %.0f | %.0f - %.0f | %s (%s) | %s | %s | %s | %s | %s |" % (
                r["mpps"] * 1e6, r["mpps_min"] * 1e6, r["mpps_max"] * 1e6,
                r.get("windows"), r.get("clean_windows"), r.get("dut_busy"), wcyc,
                rcyc, bound, out_full))
        else:
            md.append("| no result | | | | | %s | %s | %s |" % (rcyc, bound, out_full))
        md.append("")
        js["l7bind"] = f
    if parts:
        def med(k):
            return statistics.median([p[k] for p in parts])
        hz = parts[0]["tsc_hz"]
        wc, rc_ = med("worker_cyc"), med("router_cyc")
        md.append("Each part apart (halb-bench-bind: the worker's and the router's "
                  "own code on one core, CPU 1, no devices, %d bindings a run, 512 "
                  "outstanding, full bursts; %d runs, TSC %.2f GHz). Bindings per "
                  "CPU-second is the TSC rate over the cycles per binding: what one "
                  "core given to that part alone would do. Not in it: the cache lines "
                  "the rings and mbufs move between two cores." % (
                      parts[0]["bindings"], len(parts), hz / 1e9))
        md.append("")
        md.append("| part | cycles per binding, median (min - max) | bindings per CPU-second (median) | goal 0.8M/s |")
        md.append("|---|---|---|---|")
        for name, k, v in (("worker", "worker_cyc", wc), ("router", "router_cyc", rc_)):
            vals = [p[k] for p in parts]
            md.append("| %s | %.0f (%.0f - %.0f) | %.0f | %s |" % (
                name, v, min(vals), max(vals), hz / v,
                "met" if hz / v >= 8e5 else "**not met**"))
        md.append("| both on one core | %.0f | %.0f | %s |" % (
            wc + rc_, hz / (wc + rc_), "met" if hz / (wc + rc_) >= 8e5 else "**not met**"))
        lost = [p for p in parts if p.get("stalled") or p.get("out_full") or p.get("ring_full")]
        md.append("")
        if lost:
            md.append("%d run(s) lost frames (out_full, ring_full) or stalled." % len(lost))
            md.append("")
        js["l7bindparts"] = {"runs": parts, "worker_cyc": wc, "router_cyc": rc_,
                             "tsc_hz": hz, "worker_per_cpu_s": hz / wc,
                             "router_per_cpu_s": hz / rc_,
                             "both_per_cpu_s": hz / (wc + rc_)}

    # ---- goals ----
    if goals:
        md.append("## Goals of issue 3")
        md.append("")
        md.append("| goal | measured | met |")
        md.append("|---|---|---|")
        for g in goals:
            met = "?" if g["met"] is None else "yes" if g["met"] else "**no**"
            if g.get("stretch"):
                met += " (stretch too)"
            md.append("| %s | %s | %s |" % (g["goal"], g["measured"], met))
        md.append("| end to end at or above every peer's requests/s | see item 5 | |")
        md.append("")
        js["goals"] = goals

    # ---- 5. peers; 10. request routing against HAProxy and nginx ----
    peers_section(md, js, "peers", "## 5. Peers (bench/peers.sh)",
                  a.peers_md, a.peers_json,
                  "bench/peers.sh missing, quick mode, or BENCH_PEERS=0")
    peers_section(md, js, "peers_requests",
                  "## 10. Request routing against HAProxy and nginx (bench/peers.sh --requests)",
                  a.l7peers_md, a.l7peers_json,
                  "quick mode, BENCH_PEERS=0, or not in BENCH_ONLY")

    text = "\n".join(md)
    with open(a.out_md, "w") as f:
        f.write(text)
    with open(a.out_json, "w") as f:
        json.dump(js, f, indent=2)
        f.write("\n")
    sys.stdout.write(text)
    errors = [r for r in rows if r.get("error")]
    if errors:
        sys.stderr.write("report: %d measurement(s) gave no result\n" % len(errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
