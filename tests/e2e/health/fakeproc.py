#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fake /proc trees for halb-agent --proc-root: fakeproc.py DIR [DIR...]

Makes each DIR look like the part of /proc that halb-agent reads
(docs/AGENT.md "What it sends"):
  DIR/stat          rewritten every --period seconds (atomically: a
                    new file renamed over the old), its "cpu" line
                    advancing by 100 jiffies a tick, of which the share
                    DIR/cpu_permille (an integer 0..1000, read each tick;
                    0 when the file is missing) is busy ("user") and the
                    rest idle.  So the agent's CPU figure, computed
                    between two of its readings, is what the test wrote
                    in cpu_permille.
  DIR/meminfo       a symlink to /proc/meminfo;
  DIR/net           a symlink to /proc/self/net: the agent opening
                    DIR/net/tcp reads its own network namespace's table.
Runs until SIGTERM or SIGINT.  Once every DIR has its first stat, writes
--ready FILE (if given).  With --stall-log FILE, a tick that comes more
than 250 ms late (this process got no CPU: the host is overloaded) adds a
line "TIME late N ms" there, for a test to tell why its timing failed.
Python standard library only.
"""

import argparse
import os
import signal
import sys
import time

TICK_JIFFIES = 100


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--period", type=float, default=0.1)
    ap.add_argument("--ready", metavar="FILE")
    ap.add_argument("--stall-log", metavar="FILE")
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    state = {}
    for d in args.dirs:
        os.makedirs(d, exist_ok=True)
        for name, target in (("meminfo", "/proc/meminfo"), ("net", "/proc/self/net")):
            p = os.path.join(d, name)
            if not os.path.islink(p):
                os.symlink(target, p)
        # busy and idle jiffies; a first reading of "since boot" says 0 %.
        state[d] = [0.0, 1000.0]

    def permille(d):
        try:
            with open(os.path.join(d, "cpu_permille")) as f:
                return min(max(int(f.read().strip() or 0), 0), 1000)
        except (OSError, ValueError):
            return 0

    def write(d):
        busy, idle = state[d]
        p = os.path.join(d, "stat")
        with open(p + ".tmp", "w") as f:
            f.write("cpu  %d 0 0 %d 0 0 0 0 0 0\n" % (busy, idle))
        os.replace(p + ".tmp", p)

    for d in args.dirs:
        write(d)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    next_at = time.monotonic()
    while not stop:
        next_at += args.period
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        late = time.monotonic() - next_at
        if late > 0.25:
            if args.stall_log:
                with open(args.stall_log, "a") as f:
                    f.write("%s late %d ms\n" % (time.strftime("%H:%M:%S"), late * 1000))
            next_at = time.monotonic()  # no burst of catch-up ticks
        for d in args.dirs:
            b = TICK_JIFFIES * permille(d) / 1000.0
            state[d][0] += b
            state[d][1] += TICK_JIFFIES - b
            write(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
