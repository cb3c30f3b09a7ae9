#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Load generator of halb's failure tests (issue 12): load.py run|report.

One process, one epoll loop (selectors), Python standard library only.  It
runs in the client namespace of the rig and talks HTTP/1.1 to the VIPs,
whose backends (backend_http.py) name themselves in every answer (the body
"NAME\\n" and the X-Backend header).

run: keep-alive connections plus a stream of new connections
  load.py run --url http://198.18.2.100/ --url 'http://[fd00:68:2::100]/' \\
      [--conns 100] [--interval 0.1] [--new-rate 20] [--timeout 2] \\
      [--new-timeout 2] [--duration S] [--events FILE] [--control FIFO] \\
      [--status FILE] [--ready FILE] [--out FILE] [--source ADDR]

  * --conns N keep-alive connections, connection i to URL i mod len(URLs)
    (so they spread over the targets, IPv4 and IPv6), opened over the first
    interval; each sends "GET /" every --interval seconds once its previous
    answer is in, and reads the answer.  The first answer fixes the
    connection's backend.  The connection is BROKEN when a request fails
    (timeout: no whole answer within --timeout; reset; refused; EOF; a bad
    or non-200 answer; the server closing the keep-alive connection) or when
    an answer comes from another backend than the first one (even without
    an error: the session went elsewhere).  A broken connection is closed
    and reopened at once (a reopen that fails is retried every interval),
    so that the load stays at N; the reopened one is a new connection with
    a new id.
  * --new-rate R new connections a second (0: none), round robin over the
    URLs: connect, one request with "Connection: close", read the answer,
    close.  Failed: no answer within --new-timeout, or any error.
  * --events FILE: one JSON object a line, time-stamped with the wall clock
    (t, seconds since the epoch, so that a shell's `date +%s.%N` compares):
      {"k":"up","t":..,"c":ID,"tgt":I,"b":"b2"}     keep-alive connection
          ID answered for the first time (it is ESTABLISHED from t)
      {"k":"broken","t":..,"c":ID,"tgt":I,"b":"b2","since":T_UP,
          "t_req":T,"err":"timeout"|"reset"|"refused"|"eof"|"backend b3"|..}
          ID broke at t (the failing request was sent at t_req)
      {"k":"stall","t":..,"c":ID,"tgt":I,"lat":S}  an answer on an
          established connection came, but after more than --slow s
      {"k":"open_fail","t":..,"tgt":I,"err":..}  a (re)open of a keep-alive
          connection failed before its first answer
      {"k":"new","t":T_START,"tgt":I,"ok":true|false,"lat":S,"b":..,"err":..}
          one new connection of the stream, t = when its connect began
      {"k":"mark","t":..,"name":NAME}             a mark (see --control)
      {"k":"start"|"stop","t":..,"urls":[..],...}
    Requests answered on established connections are counted, not logged.
  * --control FIFO: made if missing; lines written to it are commands:
      mark NAME     an event "mark" now (e.g. "kill-forwarder")
      dump [PATH]   the summary (below) to PATH, else to --status
      stop          end the run (as SIGTERM does)
    e.g.  echo "mark kill" > FIFO
  * SIGUSR1 writes the summary to --status (default: stderr); SIGTERM,
    SIGINT or --duration end the run; the final summary goes to --out
    (default stdout) and the events file is closed.  Files are replaced
    atomically (a reader never sees half of one).
  * --ready FILE is written once all N keep-alive connections have answered
    at least once.
  Summary (JSON): {"t_start","t_now","urls", "ka": {"conns","established",
    "requests_ok","requests_failed","broken","broken_by_reason",
    "open_failed","max_latency_ms","oldest_pending_s",
    "established_by_backend","last_break"}, "new": {"attempted","ok","failed",
    "failed_by_reason","slow"}, "by_target": [{"url","ka_ok","ka_broken",
    "new_ok","new_failed"}...], "by_backend": {...}, "marks": {...}}.
  Exit status 0, 2 on bad usage.

report: what happened between two moments
  load.py report EVENTS [--from T|MARK] [--to T|MARK] [--slow S]
  T is seconds since the epoch, MARK the name of a mark in EVENTS (its last
  occurrence).  Prints one JSON object:
    established_at_from   keep-alive connections established at FROM
    established_broken    of those, how many broke in [FROM, TO]
    kept_fraction         1 - broken/established
    broken_by_reason, broken_by_target, broken_by_backend (the backend each
                          broken connection was on), first_break, last_break
    ka_stalls, ka_max_stall  answers on established connections slower than
                          --slow s in [FROM, TO], and the slowest (s)
    new_attempted, new_failed, new_failed_by_reason, new_failed_by_target,
    new_slow              new connections begun in [FROM, TO]; slow: answered
                          but after more than --slow s (default 0.5)
    new_first_failure, new_last_failure   start times of failed ones
    new_failure_span      last_failure - first_failure (0 for one failure)
    new_recovered_at      start of the first good new connection after the
                          last failed one (null if none failed)
  A test marks the fault ("mark kill"), waits for recovery, marks again and
  asks: "report EVENTS --from kill --to after".

Load: 100 connections at 100 ms and 20 new connections a second cost this
process about a tenth of one core (1.2 s of CPU in 10 s here).
"""

import argparse
import errno
import heapq
import json
import os
import selectors
import signal
import socket
import stat
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

MAX_HEADER = 16384
MAX_BODY = 65536


def now():
    return time.time()


class Target:
    def __init__(self, idx, url):
        u = urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError("only http://HOST[:PORT]/PATH URLs: %r" % url)
        self.idx = idx
        self.url = url
        self.host = u.hostname
        self.port = u.port or 80
        self.family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        hosthdr = "[%s]" % self.host if self.family == socket.AF_INET6 else self.host
        base = "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: halb-load\r\n" % (path, hosthdr)
        self.req_ka = (base + "Connection: keep-alive\r\n\r\n").encode()
        self.req_close = (base + "Connection: close\r\n\r\n").encode()
        self.ka_ok = 0
        self.ka_broken = 0
        self.new_ok = 0
        self.new_failed = 0


class BadAnswer(Exception):
    pass


def parse_answer(buf, eof):
    """(backend, will_close, rest) when buf holds a whole answer, None when
    more is needed; raises BadAnswer."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEADER:
            raise BadAnswer("http: header too long")
        if eof:
            raise BadAnswer("eof" if not buf else "http: truncated header")
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise BadAnswer("http: bad status line")
    status = parts[1]
    hdr = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdr[k.strip().lower()] = v.strip()
    try:
        clen = int(hdr.get("content-length", "-1"))
    except ValueError:
        raise BadAnswer("http: bad content-length")
    if clen < 0 or clen > MAX_BODY:
        raise BadAnswer("http: no usable content-length")
    if len(buf) < end + 4 + clen:
        if eof:
            raise BadAnswer("http: truncated body")
        return None
    body = buf[end + 4:end + 4 + clen]
    if status != "200":
        raise BadAnswer("http %s" % status)
    backend = hdr.get("x-backend") or body.decode(errors="replace").strip()
    if not backend:
        raise BadAnswer("http: no backend named")
    will_close = hdr.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0"
    return backend, will_close, buf[end + 4 + clen:]


def errname(e):
    if isinstance(e, OSError) and e.errno is not None:
        return {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset",
                errno.ETIMEDOUT: "timeout", errno.EHOSTUNREACH: "unreachable",
                errno.ENETUNREACH: "unreachable", errno.EPIPE: "reset"}.get(
                    e.errno, errno.errorcode.get(e.errno, str(e.errno)))
    return str(e)


def reason_key(why):
    """The kind of a failure, for counting: "backend b3" -> "backend"."""
    return why.split(" ")[0].rstrip(":")


class Conn:
    """One TCP connection, keep-alive (ka) or one-shot (new)."""
    __slots__ = ("cid", "ka", "tgt", "sock", "state", "buf", "t_open", "t_req",
                 "deadline", "backend", "t_up", "gen", "rd", "slot")

    def __init__(self, cid, ka, tgt, slot=None):
        self.cid = cid
        self.slot = slot  # keep-alive: its index in Load.ka_slots
        self.ka = ka
        self.tgt = tgt
        self.sock = None
        self.state = "idle"
        self.buf = b""
        self.t_open = 0.0
        self.t_req = 0.0
        self.deadline = 0.0
        self.backend = None
        self.t_up = None
        self.gen = 0
        self.rd = False


class Load:
    def __init__(self, args, targets):
        self.a = args
        self.targets = targets
        self.sel = selectors.DefaultSelector()
        self.timers = []  # (when, seq, conn, gen, what)
        self.seq = 0
        self.next_id = 0
        self.stop = False
        self.t_start = now()
        self.events = open(args.events, "a", buffering=1 << 16) if args.events else None
        self.marks = {}
        self.ka_slots = []  # the N keep-alive slots, each a Conn or None
        self.ready_written = False
        # counters
        self.ka_ok = 0
        self.ka_failed = 0
        self.ka_broken = 0
        self.ka_broken_by = Counter()
        self.open_failed = 0
        self.max_lat = 0.0
        self.new_attempted = 0
        self.new_ok = 0
        self.new_failed = 0
        self.new_failed_by = Counter()
        self.new_slow = 0
        self.by_backend = Counter()
        self.new_inflight = 0
        self.last_break = None

    # --- events and summary ----------------------------------------------
    def event(self, **ev):
        if self.events:
            self.events.write(json.dumps(ev, separators=(",", ":")) + "\n")

    def summary(self):
        established = sum(1 for c in self.ka_slots if c is not None and c.t_up is not None)
        est_by = Counter(c.backend for c in self.ka_slots if c is not None and c.t_up is not None)
        t = now()
        pending = max((t - c.t_req for c in self.ka_slots if c is not None and c.state == "waiting"),
                      default=0.0)
        return {
            "t_start": round(self.t_start, 3), "t_now": round(now(), 3),
            "urls": [t.url for t in self.targets],
            "ka": {"conns": self.a.conns, "established": established,
                   "requests_ok": self.ka_ok, "requests_failed": self.ka_failed,
                   "broken": self.ka_broken, "broken_by_reason": dict(self.ka_broken_by),
                   "open_failed": self.open_failed, "max_latency_ms": round(self.max_lat * 1000, 1),
                   "oldest_pending_s": round(pending, 3),
                   "established_by_backend": dict(sorted(est_by.items())),
                   "last_break": round(self.last_break, 4) if self.last_break else None},
            "new": {"attempted": self.new_attempted, "ok": self.new_ok, "failed": self.new_failed,
                    "failed_by_reason": dict(self.new_failed_by), "slow": self.new_slow},
            "by_target": [{"url": t.url, "ka_ok": t.ka_ok, "ka_broken": t.ka_broken,
                           "new_ok": t.new_ok, "new_failed": t.new_failed} for t in self.targets],
            "by_backend": dict(sorted(self.by_backend.items())),
            "marks": self.marks,
        }

    def write_json(self, path, obj):
        data = json.dumps(obj, sort_keys=True) + "\n"
        if path is None or path == "-":
            sys.stdout.write(data)
            sys.stdout.flush()
            return
        if path == "/dev/stderr":
            sys.stderr.write(data)
            sys.stderr.flush()
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(data)
        os.replace(tmp, path)

    def dump(self, path=None):
        if self.events:
            self.events.flush()
        self.write_json(path or self.a.status or "/dev/stderr", self.summary())

    # --- timers -------------------------------------------------------------
    def at(self, when, conn, what):
        self.seq += 1
        heapq.heappush(self.timers, (when, self.seq, conn, conn.gen if conn else 0, what))

    # --- connections --------------------------------------------------------
    def open(self, ka, tgt, slot=None):
        self.next_id += 1
        c = Conn(self.next_id, ka, tgt, slot)
        c.t_open = now()
        if ka:
            self.ka_slots[slot] = c
        try:
            s = socket.socket(tgt.family, socket.SOCK_STREAM)
        except OSError as e:
            self.fail(c, errname(e))
            return c
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock = s
        try:
            if self.a.source:
                s.bind((self.a.source, 0))
            rc = s.connect_ex((tgt.host, tgt.port))
        except OSError as e:
            self.fail(c, errname(e))
            return c
        if rc not in (0, errno.EINPROGRESS):
            self.fail(c, errname(OSError(rc, os.strerror(rc))))
            return c
        c.state = "connecting"
        self.sel.register(s, selectors.EVENT_WRITE, c)
        c.deadline = c.t_open + (self.a.timeout if ka else self.a.new_timeout)
        self.at(c.deadline, c, "timeout")
        return c

    def send(self, c):
        c.t_req = now()
        c.buf = b""
        try:
            c.sock.send(c.tgt.req_ka if c.ka else c.tgt.req_close)
        except OSError as e:
            self.fail(c, errname(e))
            return
        c.state = "waiting"
        c.gen += 1
        c.deadline = c.t_req + (self.a.timeout if c.ka else self.a.new_timeout)
        self.at(c.deadline, c, "timeout")
        if not c.rd:
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            c.rd = True

    def close(self, c):
        if c.sock is not None:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None
        c.state = "closed"
        c.gen += 1

    def fail(self, c, why):
        t = now()
        self.close(c)
        if not c.ka:
            self.new_inflight -= 1
            self.new_failed += 1
            self.new_failed_by[why] += 1
            c.tgt.new_failed += 1
            self.event(k="new", t=round(c.t_open, 4), tgt=c.tgt.idx, ok=False,
                       lat=round(t - c.t_open, 4), err=why)
            return
        if c.t_up is None:
            self.open_failed += 1
            self.event(k="open_fail", t=round(t, 4), tgt=c.tgt.idx, err=why)
        else:
            self.ka_failed += 1
            self.ka_broken += 1
            self.ka_broken_by[reason_key(why)] += 1
            c.tgt.ka_broken += 1
            self.last_break = t
            self.event(k="broken", t=round(t, 4), c=c.cid, tgt=c.tgt.idx, b=c.backend,
                       since=round(c.t_up, 4), t_req=round(c.t_req, 4), err=why)
        self.reopen_later(c, t)

    def reopen_later(self, c, t):
        slot = c.slot
        self.ka_slots[slot] = None
        # A reopen that fails right away (refused) waits an interval.
        delay = 0 if c.t_up is not None else self.a.interval
        placeholder = Conn(0, True, c.tgt)
        self.at(t + delay, placeholder, ("reopen", slot))

    def answered(self, c, backend, will_close, rest):
        t = now()
        lat = t - c.t_req
        self.by_backend[backend] += 1
        if not c.ka:
            self.close(c)
            self.new_inflight -= 1
            self.new_ok += 1
            c.tgt.new_ok += 1
            if lat > self.a.slow:
                self.new_slow += 1
            self.event(k="new", t=round(c.t_open, 4), tgt=c.tgt.idx, ok=True,
                       lat=round(t - c.t_open, 4), b=backend)
            return
        if rest:
            self.fail(c, "http: bytes after the answer")
            return
        if c.t_up is None:
            c.t_up = t
            c.backend = backend
            self.event(k="up", t=round(t, 4), c=c.cid, tgt=c.tgt.idx, b=backend)
            self.check_ready()
        elif backend != c.backend:
            self.fail(c, "backend %s" % backend)
            return
        self.ka_ok += 1
        c.tgt.ka_ok += 1
        self.max_lat = max(self.max_lat, lat)
        if lat > self.a.slow:
            self.event(k="stall", t=round(t, 4), c=c.cid, tgt=c.tgt.idx, lat=round(lat, 4))
        if will_close:
            self.fail(c, "closed by server")
            return
        c.state = "idle"
        c.gen += 1
        self.at(max(c.t_req + self.a.interval, t), c, "send")

    def check_ready(self):
        if self.ready_written or not self.a.ready:
            return
        if all(s is not None and s.t_up is not None for s in self.ka_slots):
            self.ready_written = True
            self.write_json(self.a.ready, {"t": round(now(), 4), "conns": len(self.ka_slots)})

    def on_io(self, c, mask):
        if c.state == "connecting":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.fail(c, errname(OSError(err, os.strerror(err))))
                return
            c.gen += 1
            self.send(c)
            return
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            self.fail(c, errname(e))
            return
        if c.state != "waiting":
            # Bytes or EOF on an idle keep-alive connection.
            self.fail(c, "eof" if not data else "http: unsolicited bytes")
            return
        c.buf += data
        try:
            r = parse_answer(c.buf, not data)
        except BadAnswer as e:
            self.fail(c, str(e))
            return
        if r is not None:
            self.answered(c, *r)
        elif not data:
            self.fail(c, "eof")

    def on_timer(self, c, what):
        if isinstance(what, tuple):  # ("reopen", slot)
            slot = what[1]
            if self.ka_slots[slot] is None and not self.stop:
                self.open(True, c.tgt, slot)
            return
        if what == "timeout":
            self.fail(c, "timeout")
        elif what == "send":
            self.send(c)

    def start_new(self):
        tgt = self.targets[self.new_attempted % len(self.targets)]
        self.new_attempted += 1
        self.new_inflight += 1
        self.open(False, tgt)

    # --- control --------------------------------------------------------------
    def command(self, line):
        words = line.split(None, 1)
        if not words:
            return
        if words[0] == "mark" and len(words) == 2:
            t = now()
            self.marks[words[1]] = round(t, 4)
            self.event(k="mark", t=round(t, 4), name=words[1])
            if self.events:
                self.events.flush()
        elif words[0] == "dump":
            self.dump(words[1] if len(words) == 2 else None)
        elif words[0] == "stop":
            self.stop = True
        else:
            sys.stderr.write("load.py: unknown command %r (mark NAME, dump [PATH], stop)\n" % line)

    def run(self):
        a = self.a
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        pending = []
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(sig, lambda s, f: pending.append(s))
        self.sel.register(wake_r, selectors.EVENT_READ, "wake")
        ctl_fd = None
        ctl_buf = b""
        if a.control:
            if not os.path.exists(a.control):
                os.mkfifo(a.control, 0o600)
            elif not stat.S_ISFIFO(os.stat(a.control).st_mode):
                sys.exit("load.py: --control %s exists and is no FIFO" % a.control)
            ctl_fd = os.open(a.control, os.O_RDONLY | os.O_NONBLOCK)
            ctl_keep = os.open(a.control, os.O_WRONLY | os.O_NONBLOCK)  # never EOF
            self.sel.register(ctl_fd, selectors.EVENT_READ, "ctl")
        self.event(k="start", t=round(self.t_start, 4), urls=[t.url for t in self.targets],
                   conns=a.conns, interval=a.interval, new_rate=a.new_rate)
        # The keep-alive connections, opened over the first interval.
        self.ka_slots = [None] * a.conns
        for i in range(a.conns):
            ph = Conn(0, True, self.targets[i % len(self.targets)])
            self.at(self.t_start + a.interval * i / max(a.conns, 1), ph, ("reopen", i))
        new_gap = 1.0 / a.new_rate if a.new_rate > 0 else None
        next_new = self.t_start + (new_gap or 0)
        end = self.t_start + a.duration if a.duration else None
        max_inflight = max(16, int(a.new_rate * a.new_timeout * 2) + 8)
        while not self.stop:
            t = now()
            if end and t >= end:
                break
            wait = 0.5
            if self.timers:
                wait = min(wait, self.timers[0][0] - t)
            if new_gap:
                wait = min(wait, next_new - t)
            if end:
                wait = min(wait, end - t)
            for key, mask in self.sel.select(max(wait, 0)):
                d = key.data
                if d == "wake":
                    try:
                        while wake_r.recv(64):
                            pass
                    except BlockingIOError:
                        pass
                elif d == "ctl":
                    try:
                        ctl_buf += os.read(ctl_fd, 4096)
                    except BlockingIOError:
                        pass
                    while b"\n" in ctl_buf:
                        line, ctl_buf = ctl_buf.split(b"\n", 1)
                        self.command(line.decode(errors="replace").strip())
                elif d.sock is not None:
                    self.on_io(d, mask)
            while pending:
                s = pending.pop(0)
                if s == signal.SIGUSR1:
                    self.dump()
                else:
                    self.stop = True
            t = now()
            while self.timers and self.timers[0][0] <= t:
                _, _, c, gen, what = heapq.heappop(self.timers)
                if c.cid and (gen != c.gen or c.state == "closed"):
                    continue  # stale
                self.on_timer(c, what)
            if new_gap and not self.stop:
                if t - next_new > 1.0:  # we were stopped: do not burst
                    next_new = t
                while next_new <= t:
                    if self.new_inflight < max_inflight:
                        self.start_new()
                    next_new += new_gap
        self.event(k="stop", t=round(now(), 4))
        result = self.summary()
        for c in list(self.ka_slots):
            if c is not None:
                self.close(c)
        if self.events:
            self.events.close()
        if ctl_fd is not None:
            os.close(ctl_fd)
            os.close(ctl_keep)
        self.write_json(a.out, result)
        return 0


# --- report ------------------------------------------------------------------
def resolve(spec, marks, what):
    if spec is None:
        return None
    try:
        return float(spec)
    except ValueError:
        pass
    if spec not in marks:
        sys.exit("load.py report: --%s %s: no such mark (marks: %s)" % (what, spec, ", ".join(sorted(marks)) or "none"))
    return marks[spec]


def report(args):
    evs = []
    marks = {}
    urls = []
    with open(args.events) as f:
        for ln in f:
            ln = ln.strip()
            if not ln:
                continue
            try:
                e = json.loads(ln)
            except ValueError:
                continue  # a line cut short by a kill
            if e.get("k") == "mark":
                marks[e["name"]] = e["t"]
            elif e.get("k") == "start":
                urls = e.get("urls", [])
            evs.append(e)
    t0 = resolve(args.from_, marks, "from")
    t1 = resolve(args.to, marks, "to")
    lo = t0 if t0 is not None else float("-inf")
    hi = t1 if t1 is not None else float("inf")
    name = (lambda i: urls[i] if 0 <= i < len(urls) else str(i))
    up = {}
    broken_at = {}
    for e in evs:
        if e["k"] == "up":
            up[e["c"]] = e["t"]
        elif e["k"] == "broken":
            broken_at[e["c"]] = e
    established = [c for c, t in up.items() if t <= lo and
                   (c not in broken_at or broken_at[c]["t"] >= lo)]
    est = set(established)
    broken = [broken_at[c] for c in est if c in broken_at and broken_at[c]["t"] <= hi]
    news = sorted((e for e in evs if e["k"] == "new" and lo <= e["t"] <= hi), key=lambda e: e["t"])
    failed = [e for e in news if not e["ok"]]
    stalls = [e for e in evs if e["k"] == "stall" and lo <= e["t"] <= hi]
    out = {
        "from": t0, "to": t1,
        "established_at_from": len(established),
        "established_broken": len(broken),
        "kept_fraction": round(1 - len(broken) / len(established), 6) if established else None,
        "broken_by_reason": dict(Counter(reason_key(b["err"]) for b in broken)),
        "broken_by_target": dict(Counter(name(b["tgt"]) for b in broken)),
        "broken_by_backend": dict(Counter(b.get("b") or "-" for b in broken)),
        "ka_stalls": len(stalls),
        "ka_max_stall": max((e["lat"] for e in stalls), default=0),
        "first_break": min((b["t"] for b in broken), default=None),
        "last_break": max((b["t"] for b in broken), default=None),
        "new_attempted": len(news),
        "new_failed": len(failed),
        "new_failed_by_reason": dict(Counter(e["err"] for e in failed)),
        "new_failed_by_target": dict(Counter(name(e["tgt"]) for e in failed)),
        "new_slow": sum(1 for e in news if e["ok"] and e["lat"] > args.slow),
        "new_first_failure": failed[0]["t"] if failed else None,
        "new_last_failure": failed[-1]["t"] if failed else None,
        "new_failure_span": round(failed[-1]["t"] - failed[0]["t"], 4) if failed else 0,
        "new_recovered_at": None,
        "open_failed": sum(1 for e in evs if e["k"] == "open_fail" and lo <= e["t"] <= hi),
    }
    if failed:
        last = failed[-1]["t"]
        out["new_recovered_at"] = next((e["t"] for e in news if e["ok"] and e["t"] > last), None)
    print(json.dumps(out, sort_keys=True))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module's docstring (head -80 %s) for the details." % sys.argv[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="generate load")
    r.add_argument("--url", action="append", required=True, help="http://VIP[:PORT]/ (repeat; IPv6 in [])")
    r.add_argument("--conns", type=int, default=100, help="keep-alive connections (100)")
    r.add_argument("--interval", type=float, default=0.1, help="s between requests on one (0.1)")
    r.add_argument("--new-rate", type=float, default=20, help="new connections a second (20; 0: none)")
    r.add_argument("--timeout", type=float, default=2.0, help="keep-alive: s for an answer (2)")
    r.add_argument("--new-timeout", type=float, default=2.0, help="new: s from connect to answer (2)")
    r.add_argument("--slow", type=float, default=0.5,
                   help="an answer slower than this, s, is slow (0.5): counted for new connections, an event for established ones")
    r.add_argument("--duration", type=float, default=0, help="s, then stop (0: until SIGTERM)")
    r.add_argument("--events", metavar="FILE", help="JSON lines of events (appended)")
    r.add_argument("--control", metavar="FIFO", help="commands: mark NAME, dump [PATH], stop")
    r.add_argument("--status", metavar="FILE", help="where SIGUSR1 and dump write the summary (stderr)")
    r.add_argument("--ready", metavar="FILE", help="written once every keep-alive connection answered")
    r.add_argument("--out", metavar="FILE", help="the final summary (stdout)")
    r.add_argument("--source", metavar="ADDR", help="bind every connection to this address")
    p = sub.add_parser("report", help="what happened between two moments")
    p.add_argument("events")
    p.add_argument("--from", dest="from_", metavar="T|MARK")
    p.add_argument("--to", metavar="T|MARK")
    p.add_argument("--slow", type=float, default=0.5)
    args = ap.parse_args()
    if args.cmd == "report":
        return report(args)
    if args.conns < 0 or args.interval <= 0 or args.new_rate < 0 or args.timeout <= 0 \
            or args.new_timeout <= 0 or args.duration < 0:
        ap.error("--conns and --new-rate must be >= 0; --interval and the timeouts > 0")
    try:
        targets = [Target(i, u) for i, u in enumerate(args.url)]
    except ValueError as e:
        ap.error(str(e))
    if args.source:
        fam = socket.AF_INET6 if ":" in args.source else socket.AF_INET
        if any(t.family != fam for t in targets):
            ap.error("--source %s: every URL must be of its address family" % args.source)
    return Load(args, targets).run()


if __name__ == "__main__":
    sys.exit(main())
