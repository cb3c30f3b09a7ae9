#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The chaos suite's eyes and its judge (tests/e2e/chaos.sh); stdlib only.

chaos.py watch --had APP=SOCK [--healthd APP=SOCK] [--route NETNS=VIP]
               --out FILE [--poll S]
  Asks each halb-had's status socket every --poll s (0.02), each
  halb-healthd's every 2 polls and the router's routes to each VIP (`ip
  route show` in NETNS) every 3, each in a thread of its own (a stopped
  socket's timeout delays nothing else), and appends to FILE one JSON line per
  change, time-stamped with the wall clock (as load.py's events):
    {"t":..,"src":"had","app":"lb","part":"classifier","state":"up","pid":123}
    {"t":..,"src":"had","app":"lb","reach":false}   had does not answer
                                                     (dead or stopped)
    {"t":..,"src":"health","app":"lb","service":"web-dsr",
     "backend":"198.18.0.11:80","state":"down"}
    {"t":..,"src":"route","vip":"198.18.2.100","via":["198.18.0.2",..]}
  Until SIGTERM.

chaos.py case --watch FILE --events FILE --kind KIND --part PART
               --signal SIG --fault T --end T [--app APP] [--old-pid PID]
               [--app-addr IPV4,IPV6] [--backend NAME --backend-addr A,B]
               [--label TEXT] [--note TEXT] >> RESULTS
  Judges one case from the watcher's file and load.py's events between
  the fault (T, epoch s) and the end of the case; prints one JSON row.
  KIND is part (a part had supervises), had, appliance, backend or none
  (no fault: the rig's own losses, judged as a part whose loss must cost
  nothing).
    detect_ms   part: had no longer has PART up as OLD-PID; backend:
                healthd has a service of the backend not up (--backend-addr:
                its addresses); had: nothing
                in the rig watches had (null); appliance: the router's
                route to a VIP loses the appliance (--app-addr; BFD),
                null in the one-appliance rig
    recover_ms  fault to the part up again under a new pid (part), to every
                part up in a had that answers again (had, appliance), and
                never before new connections succeed again (all kinds:
                the first good new connection after the last failed one)
                nor before the router's route has the appliance again
                when it lost it
    est, est_broken, new, new_failed, new_window_ms (start of the last
                failed new connection minus the fault), stall_ms (the
                slowest answer on an established connection)
  and the goals beside, each "ok" or "FAIL":
    established: 0 broken (classifier, sessiond, healthd, had, bird);
                 >= 99.9 % kept (forwarder, appliance); 0 broken on the
                 backends that did not fail (backend)
    new:         failing only during detection: every failed new
                 connection began within 300 ms of the fault
    detect:      <= 300 ms for the data-plane parts (forwarder, classifier,
                 appliance)

chaos.py table [--markdown] RESULTS
  The table of every row in RESULTS, then a note per case (how its
  connections broke, on which backend); exit status 1 if any goal is
  FAIL or RESULTS is empty.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

PARTS = ("forwarder", "classifier", "sessiond", "healthd", "bird")
ZERO_BROKEN = ("classifier", "sessiond", "healthd", "had", "bird", "none")
KEPT_999 = ("forwarder", "appliance")
DETECT_GOAL = ("forwarder", "classifier", "appliance")
NEW_WINDOW_MS = 300
DETECT_MS = 300


def ask(path, req, timeout):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(req)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
        return out.decode(errors="replace")
    finally:
        s.close()


def pairs(specs):
    out = []
    for spec in specs or []:
        app, _, path = spec.partition("=")
        if not path:
            sys.exit("chaos.py: %r: APP=SOCKET" % spec)
        out.append((app, path))
    return out


def watch(args):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    last = {}
    lock = threading.Lock()
    out = open(args.out, "a", buffering=1)

    def note(key, val, **ev):
        with lock:
            if last.get(key) != val:
                last[key] = val
                ev["t"] = round(time.time(), 4)
                out.write(json.dumps(ev, separators=(",", ":")) + "\n")

    # One thread per thing watched, each at its own pace: a stopped
    # appliance's had and healthd sockets take their whole 0.3 s timeout
    # to say so, and when one loop asked everything in turn, that held
    # the router's routes to a look every 1-1.5 s, which was then
    # reported as BFD's detection time (1514 ms for a 300 ms BFD).
    def every(period, fn, *a):
        while not stop.is_set():
            t0 = time.time()
            fn(*a)
            stop.wait(max(0.0, period - (time.time() - t0)))

    def look_had(app, path):
        try:
            text = ask(path, b"status\n", 0.3)
        except OSError:
            note((app, "reach"), False, src="had", app=app, reach=False)
            return
        note((app, "reach"), True, src="had", app=app, reach=True)
        for ln in text.splitlines():
            f = ln.split()
            # The table's lines only ("classifier active: local" is not one).
            if len(f) >= 3 and f[0] in PARTS and not f[1].endswith(":"):
                pid = int(f[2]) if f[2].isdigit() else None
                note((app, f[0]), (f[1], pid), src="had", app=app, part=f[0], state=f[1], pid=pid)

    def look_route(ns, vip):
        try:
            text = subprocess.run(["ip", "-n", ns, "-6" if ":" in vip else "-4", "route", "show", vip],
                                  capture_output=True, text=True, timeout=1).stdout
        except (OSError, subprocess.SubprocessError):
            return
        f = text.split()
        via = sorted(f[i + 1] for i, w in enumerate(f[:-1]) if w == "via")
        note(("route", vip), via, src="route", vip=vip, via=via)

    def look_health(app, path):
        try:
            text = ask(path, b"status\n", 0.3)
        except OSError:
            return
        for ln in text.splitlines():
            try:
                o = json.loads(ln)
            except ValueError:
                continue
            if "service" in o and "backend" in o:
                note((app, o["service"], o["backend"]), o.get("state"), src="health", app=app,
                     service=o["service"], backend=o["backend"], state=o.get("state"))

    jobs = [(args.poll, look_had, a) for a in pairs(args.had)]
    jobs += [(args.poll * 3, look_route, r) for r in pairs(args.route)]
    jobs += [(args.poll * 2, look_health, h) for h in pairs(args.healthd)]
    threads = [threading.Thread(target=every, args=(p, fn) + a, daemon=True) for p, fn, a in jobs]
    for t in threads:
        t.start()
    while not stop.is_set():
        stop.wait(0.5)
    for t in threads:
        t.join(2)
    out.close()
    return 0


def read_lines(path):
    evs = []
    with open(path) as f:
        for ln in f:
            try:
                evs.append(json.loads(ln))
            except ValueError:
                pass
    evs.sort(key=lambda e: e["t"])
    return evs


def ms(a, b):
    return None if a is None or b is None else int(round((a - b) * 1000))


def case(args):
    allw = read_lines(args.watch)
    w = [e for e in allw if e.get("app") == args.app]
    fault, end = args.fault, args.end
    detect = recover_part = None
    # The router: the first moment after the fault when a route lost the
    # appliance, and the first after that when every route has it again.
    hops = [a for a in args.app_addr.split(",") if a]
    route_drop = route_back = None
    have = {}
    for e in allw:
        if e["src"] != "route":
            continue
        have[e["vip"]] = any(h in e["via"] for h in hops)
        if e["t"] < fault:
            continue
        if route_drop is None and not all(have.values()):
            route_drop = e["t"]
        elif route_drop is not None and all(have.values()):
            route_back = e["t"]
            break
    if args.kind == "part":
        for e in w:
            if e["t"] < fault or e["src"] != "had" or e.get("part") != args.part:
                continue
            if detect is None and (e["state"] != "up" or e["pid"] != args.old_pid):
                detect = e["t"]
            if detect is not None and e["state"] == "up" and e["pid"] != args.old_pid:
                recover_part = e["t"]
                break
    elif args.kind in ("had", "appliance"):
        # Replay had's table; recovered: had answers again, every part up.
        state = {}
        reach = True
        gone = False
        for e in w:
            if e["src"] != "had":
                continue
            if "reach" in e:
                reach = e["reach"]
            elif e["state"] != "disabled":  # a part this appliance does not run
                state[e["part"]] = e["state"]
            if e["t"] < fault:
                continue
            if not reach or any(s != "up" for s in state.values()):
                gone = True
            elif gone and reach and state and all(s == "up" for s in state.values()):
                recover_part = e["t"]
                break
    if args.kind == "appliance":
        detect = route_drop
    elif args.kind == "backend":
        for e in w:
            if e["t"] < fault or e["src"] != "health" or e.get("app") != args.app:
                continue
            if any(a and a in e["backend"] for a in args.backend_addr.split(",")) and e["state"] != "up":
                detect = e["t"]
                break
    rep = json.loads(subprocess.run(
        [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "load.py"), "report",
         args.events, "--from", str(fault - 0.5), "--to", str(end)],
        check=True, capture_output=True, text=True).stdout)
    # Established at the fault (report counts from 0.5 s before it).
    est = rep["established_at_from"]
    broken = rep["established_broken"]
    new_window = ms(rep["new_last_failure"], fault) if rep["new_failed"] else None
    recover = recover_part
    if rep["new_recovered_at"] is not None:
        recover = max(recover or 0, rep["new_recovered_at"])
    elif rep["new_failed"]:
        recover = None  # never recovered within the case
    if args.kind == "backend":
        # Whole again: the backend out of the service and new connections
        # answered.
        recover = None if detect is None else max(detect, rep["new_recovered_at"] or 0)
    if args.kind in ("part", "had", "appliance") and recover_part is None:
        recover = None
    if route_drop is not None:
        recover = None if route_back is None or recover is None else max(recover, route_back)
    row = {
        "part": args.label or args.part, "signal": args.signal, "kind": args.kind,
        "detect_ms": ms(detect, fault), "recover_ms": ms(recover, fault),
        "est": est, "est_broken": broken, "broken_by_backend": rep["broken_by_backend"],
        "broken_by_reason": rep["broken_by_reason"],
        "new": rep["new_attempted"], "new_failed": rep["new_failed"], "new_window_ms": new_window,
        "new_failed_by_reason": rep["new_failed_by_reason"],
        "stall_ms": int(rep["ka_max_stall"] * 1000), "note": args.note or "",
        "route_drop_ms": ms(route_drop, fault), "route_back_ms": ms(route_back, fault),
    }
    # Goals.
    part = args.part if args.kind == "part" else args.kind
    if part in ZERO_BROKEN:
        row["est_goal"] = "0 broken"
        row["est_ok"] = broken == 0
    elif part in KEPT_999:
        row["est_goal"] = ">= 99.9% kept"
        row["est_ok"] = est > 0 and (est - broken) / est >= 0.999
    else:  # backend
        others = sum(n for b, n in rep["broken_by_backend"].items() if b != args.backend)
        row["est_goal"] = "0 broken on other backends"
        row["est_ok"] = others == 0
    row["new_goal"] = "fail only <= %d ms" % NEW_WINDOW_MS
    row["new_ok"] = rep["new_failed"] == 0 or (new_window is not None and new_window <= NEW_WINDOW_MS)
    if part in DETECT_GOAL:
        row["detect_goal"] = "<= %d ms" % DETECT_MS
        row["detect_ok"] = row["detect_ms"] is not None and row["detect_ms"] <= DETECT_MS
    else:
        row["detect_goal"] = "-"
        row["detect_ok"] = True
    if est == 0:
        row["est_ok"] = False
        row["note"] = (row["note"] + "; " if row["note"] else "") + "no established connection at the fault"
    print(json.dumps(row, sort_keys=True))
    return 0


def fmt(v, unit=""):
    return "-" if v is None else "%s%s" % (v, unit)


def table(args):
    rows = read_lines_plain(args.results)
    hdr = ("part", "signal", "detect ms", "goal", "recover ms", "est. broken", "goal",
           "new failed", "fail window ms", "goal", "stall ms")
    lines = []
    ok_all = True
    for r in rows:
        ok = r["detect_ok"] and r["est_ok"] and r["new_ok"]
        ok_all = ok_all and ok
        lines.append((
            r["part"], r["signal"], fmt(r["detect_ms"]),
            "-" if r["detect_goal"] == "-" else "%s %s" % (r["detect_goal"], "ok" if r["detect_ok"] else "FAIL"),
            fmt(r["recover_ms"]),
            "%d/%d" % (r["est_broken"], r["est"]),
            "%s %s" % (r["est_goal"], "ok" if r["est_ok"] else "FAIL"),
            "%d/%d" % (r["new_failed"], r["new"]), fmt(r["new_window_ms"]),
            "%s %s" % (r["new_goal"], "ok" if r["new_ok"] else "FAIL"),
            str(r["stall_ms"])))
    if args.markdown:
        print("| " + " | ".join(hdr) + " |")
        print("|" + "---|" * len(hdr))
        for ln in lines:
            print("| " + " | ".join(ln) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(hdr, *lines)] if lines else [len(h) for h in hdr]
        for ln in [hdr] + lines:
            print("  ".join(x.ljust(w) for x, w in zip(ln, widths)).rstrip())
    notes = [(r["part"], r["signal"], r) for r in rows]
    for p, s, r in notes:
        extra = []
        if r["est_broken"]:
            extra.append("broken: %s by backend %s" % (r["broken_by_reason"], r["broken_by_backend"]))
        if r["new_failed"]:
            extra.append("new failed: %s" % r["new_failed_by_reason"])
        if r["note"]:
            extra.append(r["note"])
        if extra:
            print("%s%s %s: %s" % ("- " if args.markdown else "  ", p, s, "; ".join(extra)))
    print("%schaos: %d cases, %s" % ("\n" if args.markdown else "", len(rows),
                                   "every goal met" if ok_all else "some goals NOT met (FAIL above)"))
    return 0 if ok_all and rows else 1


def read_lines_plain(path):
    out = []
    with open(path) as f:
        for ln in f:
            ln = ln.strip()
            if ln:
                out.append(json.loads(ln))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--had", action="append", metavar="APP=SOCK")
    w.add_argument("--healthd", action="append", metavar="APP=SOCK")
    w.add_argument("--route", action="append", metavar="NETNS=VIP")
    w.add_argument("--out", required=True)
    w.add_argument("--poll", type=float, default=0.02)
    c = sub.add_parser("case")
    c.add_argument("--watch", required=True)
    c.add_argument("--events", required=True)
    c.add_argument("--kind", choices=("part", "had", "appliance", "backend", "none"), required=True)
    c.add_argument("--part", default="")
    c.add_argument("--label")
    c.add_argument("--signal", required=True)
    c.add_argument("--fault", type=float, required=True)
    c.add_argument("--end", type=float, required=True)
    c.add_argument("--app", default="lb")
    c.add_argument("--old-pid", type=int)
    c.add_argument("--app-addr", default="", help="the appliance's next hops, IPv4,IPv6")
    c.add_argument("--backend", default="")
    c.add_argument("--backend-addr", default="")
    c.add_argument("--note")
    t = sub.add_parser("table")
    t.add_argument("results")
    t.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    return {"watch": watch, "case": case, "table": table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
