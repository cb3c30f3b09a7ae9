#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""HTTP client of the end-to-end rig.  Python standard library only.

Spread mode (default):
  client.py --url http://198.18.2.100/ --count 1000 --parallel 8 --timeout 3
sends COUNT requests, each on a NEW TCP connection (Connection: close), from
PARALLEL threads, and counts the answers per backend (the body names it).
With --max-failures K it gives up once K requests have failed, so that a
dead service costs seconds, not COUNT timeouts.

Hold mode:
  client.py --url http://198.18.2.100/ --keepalive-hold 6
opens ONE keep-alive connection and sends a request on it every --interval
seconds (0.1) for SECONDS.  A request that fails, or a connection that has to
be reopened, is a failure: the point is to show that an established
connection survives.  Once the first answer is in, "connected <local address>
-> <backend>" goes to stderr, so that a test knows the connection is up.
With --want b2,b3 it first opens new connections (at most 200) until one is
answered by one of those backends, and holds that one; the others are
closed and not counted.

--host NAME sends that Host header (request-routed services).

--source ADDR binds every connection to that local address (any port), so
that a test can keep the 5-tuples of one batch apart from those of another.

--log FILE (spread mode) writes one line per request, "START_MS LOCAL_ADDRESS
LOCAL_PORT BACKEND" (START_MS: when its connect began, ms since the epoch;
BACKEND "-" for a failure), for a test that must know when and from where
a request was made.

--stop-file PATH ends either mode early, normally, once PATH exists: hold
mode stops holding, spread mode sends no new request (COUNT and SECONDS
are then upper bounds), so that a test can keep a client busy exactly
while it does something else.

Both print one JSON line on stdout,
  {"ok": N, "failed": N, "by_backend": {"b1": N, ...}, "errors": {...}, ...}
and exit 1 if any request failed (2 on bad usage).  IPv6 URLs work:
http://[fd00:68:2::100]/.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

MAX_ERROR_KINDS = 20


class Tally:
    """Answers per backend and failures per kind, shared by the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = 0
        self.by_backend = Counter()
        self.errors = Counter()

    def answer(self, backend):
        with self.lock:
            self.ok += 1
            self.by_backend[backend] += 1

    def failure(self, what):
        with self.lock:
            self.failed += 1
            if what in self.errors or len(self.errors) < MAX_ERROR_KINDS:
                self.errors[what] += 1

    def summary(self, **extra):
        d = {"ok": self.ok, "failed": self.failed,
             "by_backend": dict(sorted(self.by_backend.items())),
             "errors": dict(self.errors)}
        d.update(extra)
        return d


def describe(exc):
    return "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__


class Target:
    source = None  # (address, 0) to bind to, or None
    host_header = None  # --host: the Host header instead of the URL's

    def __init__(self, url):
        u = urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError("only http://HOST[:PORT]/PATH URLs: %r" % url)
        self.host = u.hostname  # without the brackets of an IPv6 literal
        self.port = u.port or 80
        self.path = (u.path or "/") + ("?" + u.query if u.query else "")

    def connection(self, timeout):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout,
                                          source_address=self.source)


def get(conn, target, keepalive):
    """One GET on conn; returns the backend's name or raises."""
    headers = {"Connection": "keep-alive" if keepalive else "close"}
    if target.host_header:
        headers["Host"] = target.host_header
    conn.request("GET", target.path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError("HTTP %d" % resp.status)
    if keepalive and resp.will_close:
        raise RuntimeError("server closed the keep-alive connection")
    name = body.decode(errors="replace").strip()
    if not name:
        raise RuntimeError("empty body")
    return name


def stopped(stop_file):
    return stop_file is not None and os.path.exists(stop_file)


def spread(target, count, parallel, timeout, max_failures, stop_file=None, log=None):
    tally = Tally()
    log_lines = []
    next_lock = threading.Lock()
    remaining = [count]

    def worker():
        while True:
            with next_lock:
                if remaining[0] == 0 or (max_failures and tally.failed >= max_failures) \
                        or stopped(stop_file):
                    return
                remaining[0] -= 1
            conn = target.connection(timeout)
            t0 = time.time()
            name, local = "-", ("-", 0)
            try:
                conn.connect()
                local = conn.sock.getsockname()
                name = get(conn, target, keepalive=False)
                tally.answer(name)
            except Exception as e:  # every failure counts; say which kind
                tally.failure(describe(e))
            finally:
                conn.close()
            if log is not None:
                with next_lock:
                    log_lines.append("%d %s %d %s\n" % (round(t0 * 1000), local[0], local[1], name))

    start = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, min(parallel, count)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if log is not None:
        with open(log, "w") as f:
            f.writelines(sorted(log_lines))
    extra = {"not_sent": remaining[0]} if remaining[0] and not stopped(stop_file) else {}
    return tally.summary(seconds=round(time.monotonic() - start, 3), **extra)


MAX_PICKS = 200


def pick(target, timeout, want):
    """A keep-alive connection whose first answer came from one of want:
    (conn, name, tries), or (None, reason, tries)."""
    for tries in range(1, MAX_PICKS + 1):
        conn = target.connection(timeout)
        conn.auto_open = 0
        try:
            conn.connect()
            name = get(conn, target, keepalive=True)
        except Exception as e:
            conn.close()
            return None, describe(e), tries
        if name in want:
            return conn, name, tries
        conn.close()
    return None, "no answer from %s in %d connections" % (",".join(sorted(want)), MAX_PICKS), MAX_PICKS


def hold(target, seconds, interval, timeout, want=None, stop_file=None, idle_until=None):
    tally = Tally()
    conn = None
    sock = None
    connections = 0
    start = time.monotonic()
    deadline = start + seconds
    next_at = start
    if want:
        conn, name, tries = pick(target, timeout, want)
        if conn is None:
            tally.failure("--want: " + name)
            return tally.summary(seconds=round(time.monotonic() - start, 3), connections=0, picks=tries)
        sock = conn.sock
        connections = 1
        tally.answer(name)
        local = sock.getsockname()
        sys.stderr.write("connected %s:%d -> %s\n" % (local[0], local[1], name))
        sys.stderr.flush()
        next_at = time.monotonic() + interval
    last = False
    while True:
        now = time.monotonic()
        if now >= deadline or stopped(stop_file) or last:
            break
        if idle_until and tally.ok >= 1:
            # Idle (nothing sent) until the file exists, then one more
            # request on the same connection, and the end.
            while not os.path.exists(idle_until) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not os.path.exists(idle_until):
                tally.failure("--idle-until: the file did not come within the hold")
                break
            last = True
        elif now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        if conn is None:
            conn = target.connection(timeout)
            conn.auto_open = 0  # never reconnect behind our back
            try:
                conn.connect()
            except Exception as e:
                tally.failure("connect: " + describe(e))
                conn.close()
                conn = None
                continue
            sock = conn.sock
            connections += 1
            if connections > 1:
                tally.failure("connection was lost and reopened")
        try:
            name = get(conn, target, keepalive=True)
            if conn.sock is not sock:
                raise RuntimeError("request went over another connection")
            tally.answer(name)
            if tally.ok == 1:
                local = sock.getsockname()
                sys.stderr.write("connected %s:%d -> %s\n" % (local[0], local[1], name))
                sys.stderr.flush()
        except Exception as e:
            tally.failure(describe(e))
            conn.close()
            conn = None
    if conn is not None:
        conn.close()
    backends = len(tally.by_backend)
    if connections == 1 and backends > 1:
        tally.failure("answers from %d backends on one connection" % backends)
    return tally.summary(seconds=round(time.monotonic() - start, 3), connections=connections)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--count", type=int, default=100, help="spread mode: requests (default 100)")
    ap.add_argument("--parallel", type=int, default=8, help="spread mode: threads (default 8)")
    ap.add_argument("--max-failures", type=int, default=0, metavar="K",
                    help="spread mode: stop after K failures (default 0: never)")
    ap.add_argument("--timeout", type=float, default=3.0, help="per connect and per answer, s (default 3)")
    ap.add_argument("--keepalive-hold", type=float, metavar="SECONDS",
                    help="hold mode: one keep-alive connection for SECONDS")
    ap.add_argument("--interval", type=float, default=0.1, help="hold mode: between requests, s (default 0.1)")
    ap.add_argument("--want", metavar="NAMES",
                    help="hold mode: hold a connection answered by one of these backends (b2,b3)")
    ap.add_argument("--stop-file", metavar="PATH", help="either mode: end early once PATH exists")
    ap.add_argument("--idle-until", metavar="PATH",
                    help="hold mode: after the first answer, idle until PATH exists, then one more request, and end")
    ap.add_argument("--source", metavar="ADDR", help="bind connections to this local address")
    ap.add_argument("--host", metavar="NAME", help="the Host header to send (request routing: docs/REQUESTS.md)")
    ap.add_argument("--log", metavar="FILE", help="spread mode: one line per request, START_MS LOCAL_ADDRESS LOCAL_PORT BACKEND")
    args = ap.parse_args()
    if args.count < 0 or args.parallel < 1 or args.max_failures < 0 or args.timeout <= 0 or args.interval <= 0:
        ap.error("--count and --max-failures must be >= 0, --parallel >= 1, --timeout and --interval > 0")
    try:
        target = Target(args.url)
    except ValueError as e:
        ap.error(str(e))
    target.host_header = args.host
    if args.source:
        target.source = (args.source, 0)

    if args.keepalive_hold is not None:
        want = set(args.want.split(",")) if args.want else None
        result = hold(target, args.keepalive_hold, args.interval, args.timeout, want, args.stop_file,
                      args.idle_until)
        if result["ok"] == 0 and result["failed"] == 0:
            result["failed"] = 1
            result["errors"]["no request was sent"] = 1
    else:
        result = spread(target, args.count, args.parallel, args.timeout, args.max_failures, args.stop_file,
                        args.log)
    print(json.dumps(result, sort_keys=True), flush=True)
    sys.exit(1 if result["failed"] else 0)


if __name__ == "__main__":
    main()
