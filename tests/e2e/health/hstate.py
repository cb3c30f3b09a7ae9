#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Questions about `halbctl health json` and `halbctl services` output (stdin)
for tests/e2e/health.sh.  Python standard library only.

  hstate.py health   [FILTER] [EXPECT]   every backend matching FILTER in
                                         `halbctl health json` meets EXPECT
  hstate.py services [FILTER] [EXPECT]   the same for `halbctl services`
      FILTER: --host bN (the rig's backend host: address .1N or ::1N)
              --service NAME
      EXPECT: --state S  --source S  --weight W  --weight-max W
              --count N (that many backends match FILTER)
      Exit 0 when they all do (and at least one matches), else 1 with the
      first mismatches on stdout.
      With --watch-ms T [--since EPOCH_MS] -- CMD...: instead of reading
      stdin, run CMD (halbctl ... health json, or services) every 20 ms
      until its output meets EXPECT, at most T ms; then print the ms from
      EPOCH_MS (default: the start) to the end of that run of CMD, an
      upper bound of when the state became visible (--since 0: the time
      itself, in ms since the epoch).  Run in the appliance's namespace,
      this measures with no process start between two looks.  --ready
      FILE: written just before the first look.
  hstate.py weights --service NAME       (services) "b1=W b2=W b3=W"
  hstate.py refused                      (health json) "reason=N" lines
  hstate.py digest                       (health json) one line per
                                         backend: service backend state
                                         source weight
"""

import argparse
import io
import json
import re
import subprocess
import sys
import time

HOSTS = {"198.18.0.11": "b1", "198.18.0.12": "b2", "198.18.0.13": "b3",
         "fd00:68::11": "b1", "fd00:68::12": "b2", "fd00:68::13": "b3"}


def health_rows(text):
    rows, tail = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        o = json.loads(line)
        if "counters" in o:
            tail = o
        elif "backend" in o:
            host = HOSTS.get(o["backend"].rsplit(":", 1)[0].strip("[]"), "?")
            rows.append({"service": o["service"], "backend": o["backend"], "host": host,
                         "state": o["state"], "source": o["source"], "weight": o["weight"],
                         "agent": o.get("agent"), "why": o.get("agent_reason", "")})
    return rows, tail


# "  - 198.18.0.11 port=80 state=up weight=100 source=agent cpu=0.0% conns=0 flows=3"
LINE = re.compile(r"^\s*-\s+(\S+) port=(\d+) state=(\S+) weight=(\d+) source=(\S+)")


def services_rows(text):
    rows, svc = [], None
    for line in text.splitlines():
        m = re.match(r"^(\S+):\s*$", line)
        if m:
            svc = m.group(1).replace("_", "-")
            continue
        m = LINE.match(line)
        if m and svc:
            rows.append({"service": svc, "backend": "%s:%s" % (m.group(1), m.group(2)),
                         "host": HOSTS.get(m.group(1), "?"), "state": m.group(3),
                         "weight": int(m.group(4)), "source": m.group(5)})
    return rows


def check(rows, a, out=sys.stdout):
    sel = [r for r in rows if (not a.host or r["host"] == a.host)
           and (not a.service or r["service"] == a.service)]
    bad = []
    if a.count is not None and len(sel) != a.count:
        bad.append("%d backends match, not %d" % (len(sel), a.count))
    if not sel:
        bad.append("no backend matches")
    for r in sel:
        why = []
        if a.state and r["state"] != a.state:
            why.append("state %s" % r["state"])
        if a.source and r["source"] != a.source:
            why.append("source %s" % r["source"])
        if a.weight is not None and r["weight"] != a.weight:
            why.append("weight %d" % r["weight"])
        if a.weight_max is not None and r["weight"] > a.weight_max:
            why.append("weight %d" % r["weight"])
        if why:
            bad.append("%s %s (%s): %s%s" % (r["service"], r["backend"], r["host"], ", ".join(why),
                                             (" [%s]" % r["why"]) if r.get("why") else ""))
    if bad:
        print("; ".join(bad[:6]) + (" ..." if len(bad) > 6 else ""), file=out)
        return 1
    return 0


def watch(a):
    since = a.since if a.since is not None else time.time() * 1000
    deadline = time.monotonic() + a.watch_ms / 1000.0
    cmd = a.cmd
    last = "never ran"
    if a.ready:
        open(a.ready, "w").close()
    while True:
        try:
            text = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  timeout=5).stdout.decode(errors="replace")
            msg = io.StringIO()
            rows = services_rows(text) if a.what == "services" else health_rows(text)[0]
            if check(rows, a, msg) == 0:
                print("%d" % round(time.time() * 1000 - since))
                return 0
            last = msg.getvalue().strip()
        except (subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
            last = str(e)
        if time.monotonic() >= deadline:
            print("%d %s" % (round(time.time() * 1000 - since), last))
            return 1
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("health", "services", "weights", "refused", "digest"))
    ap.add_argument("--host")
    ap.add_argument("--service")
    ap.add_argument("--state")
    ap.add_argument("--source")
    ap.add_argument("--weight", type=int)
    ap.add_argument("--weight-max", type=int)
    ap.add_argument("--count", type=int)
    ap.add_argument("--watch-ms", type=int)
    ap.add_argument("--since", type=float)
    ap.add_argument("--ready")
    argv = sys.argv[1:]
    cmd = argv[argv.index("--") + 1:] if "--" in argv else []
    a = ap.parse_args(argv[:len(argv) - len(cmd) - 1] if cmd else argv)
    a.cmd = cmd
    if a.watch_ms is not None:
        if a.what not in ("health", "services") or not a.cmd:
            ap.error("--watch-ms: health or services, and -- CMD")
        return watch(a)
    text = sys.stdin.read()
    try:
        if a.what == "services":
            return check(services_rows(text), a)
        if a.what == "weights":
            w = {r["host"]: r["weight"] for r in services_rows(text) if r["service"] == a.service}
            if not w:
                return 1
            print(" ".join("%s=%d" % (h, w[h]) for h in sorted(w)))
            return 0
        rows, tail = health_rows(text)
        if a.what == "health":
            return check(rows, a)
        if a.what == "refused":
            if tail is None:
                return 1
            for k, v in sorted(tail["counters"]["rejected"].items()):
                print("%s=%d" % (k, v))
            return 0
        for r in rows:
            print(r["service"], r["backend"], r["state"], r["source"], r["weight"])
        return 0
    except (ValueError, KeyError) as e:
        print("cannot read the input: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
