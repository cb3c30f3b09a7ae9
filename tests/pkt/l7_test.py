#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Packet-level tests of the request router (issue 14, docs/REQUESTS.md),
run by tests/pkt/l7.sh inside tests/pkt/run.sh's namespace, with the
service "l7w4" (198.18.2.110:80, NAT, requests { }: host
api.example.com and path /v1 to pool "api" = 198.18.0.11:8081, anything
else to "web" = 198.18.0.12:8081; l7w6 the same over IPv6) and
halb-router running.

This program plays the client (behind the gateway) and both backends on
tap0, and compares what the appliance sends with what it must:

  cookie    a SYN gets a SYN-ACK from the VIP with the client's ISN + 1,
            MSS, window scale 7 (the configuration's), SACK-permitted,
            valid checksums, nothing else; an ACK whose ack number is no
            cookie of ours (forged) gets nothing and is counted; a valid
            one starts a binding (counted).  A stale cookie (over 131 s
            old) cannot be made here without waiting: the unit test
            tests/unit/test_splice.c covers it.
  bind      the request (split over two segments) is read, the rule's
            pool chosen, and the handshake replayed to its backend: SYN
            with the client's ISN and options (MSS rounded down to the
            cookie's table, window scale, SACK-permitted); the backend's
            SYN-ACK is answered with an ACK and the buffered request.
  seq       then the worker translates, whole frames compared byte for
            byte: client -> backend, ack and SACK blocks + delta;
            backend -> client, seq - delta, SACK blocks unchanged; with
            the backend's ISN near 2^32 so that both wrap around.
  reorder   segments out of order and overlapping: the request whole.
  default   another Host, and the right host with another path, go to
            the default pool.
  refused   a backend that answers the replayed SYN with RST: the client
            gets a RST, counted (be_refused).
  rst       a client that resets mid-binding (RST with ACK): its binding
            freed, counted; a RST without ACK dropped by the worker
            (rst_no_ack), one with a forged ack refused, a blind one
            (sequence outside the window) stray.
  slowloris a client that sends half a request: RST after the bind
            timeout (800 ms), counted.
  too_big   a request over max_request (2048): RST, counted.
  cap       max_binding (8) connections binding at once: the 9th gets a
            RST at once (binding_full).
  wscale    a backend answering with another window scale: RST to both.
  down      a backend that never answers: the SYN sent again when the
            client retransmits, then RST to both after the bind timeout.
  no_match  l7n4 (198.18.2.111): no rule matches, no default pool,
            no_match "http-503": a minimal 503 and FIN.
  late      after the 503: the client's ACK dropped, its FIN answered
            with <SEQ=SEG.ACK><CTL=RST>, counted late (not forged).
  rst_flood 2000 spoofed RSTs, with and without ACK: none reaches the
            router.
  wlc       l7c4 (198.18.2.112, wlc, weights 2:1): connections bound
            whole go where the bound-flow counts say.
  punt_bound with halb-router stopped (SIGSTOP), one connection's and
            one address's replayed cookie ACKs are bounded: the ring
            keeps room, another client's connection binds.
  ipv6      bind and seq over IPv6 (l7w6, [fd00:68:2::110]:80).
  flood     3000 SYNs from as many spoofed sources as fast as the test
            sends them: a cookie SYN-ACK each, and neither bindings nor
            flows (the router's gauges, the forwarder's flow count) nor
            anything else grows; a legitimate connection right after
            is bound.
  flood_live 6000 SYNs in bursts of 500, and a legitimate connection
            started after the second burst: its cookie SYN-ACK, the
            replayed SYN to its backend, the backend's SYN-ACK answered
            and its request delivered, all before the flood's last
            burst; the flood's half-open connections leave no binding
            and no flow (the one legitimate connection at most).
  adopt     connections a peer appliance bound (its halb-sessiond played
            by sync_peer.py: spliced sessions with their sequence delta
            in the replica): a backend's segment of one is translated
            from the record (seq - delta) without a flow; a client's
            segment of another, whose ack is no cookie of ours, is
            adopted (the router installs the flow with the record's
            backend and delta) and reaches the backend translated (ack
            + delta), its next segments and the backend's answers
            through the flow; halb-sessiond sends the adopted flow back
            to the peer as its own, spliced, with the delta; a plain
            record for the VIP is not adopted (cookie_forged); a
            backend's segment from another backend than the record's is
            not translated but relayed to the peer, whole (no binding
            and no flow here); then the peer's relays: the backend's
            SYN-ACK of a binding of ours completes it (ACK and request
            to the backend), a bound flow's data reaches the client
            translated, a segment of neither is dropped and not relayed
            back.
"""

import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkt_test as P  # noqa: E402
from scapy.all import (ICMP, IP, IPerror, IPerror6, IPv6, TCP, TCPerror,  # noqa: E402
                       Ether, ICMPv6PacketTooBig, Raw)

VIP, VPORT = "198.18.2.110", 80
CLIENT = "198.18.1.70"
BE = [("198.18.0.11", 8081, P.BE_MAC[0]), ("198.18.0.12", 8081, P.BE_MAC[1])]
ISN = 0x7FFFFFF0
M32 = 0xFFFFFFFF


def router():
    rc, out, err = P.halbctl("json", "/halb/router")
    if rc != 0:
        raise RuntimeError(f"halbctl json /halb/router: rc {rc}: {err.strip()}")
    return P.json.loads(out)["/halb/router"]


def router_follows(label):
    """Waits (bounded) until the router has applied the forwarder's
    current view generation: a binding begun before would have the old
    configuration's limits."""
    ok = P.wait_cond(lambda: router()["generation"] == P.status()["generation"], 5.0)
    if not ok:
        P.R.check(f"{label}: the router follows the reload", False,
                  f"router generation {router()['generation']}, "
                  f"forwarder {P.status()['generation']}")
    return ok


def counted(before, after, **want):
    """Whether each router counter moved by exactly the delta given
    (counted(b, a, adopt=1, rst_no_ack=0)), and the deltas as text."""
    got = {k: after[k] - before[k] for k in want}
    return got == want, ", ".join(f"{k} +{v}" for k, v in got.items())


def wait_router(before, key, n, timeout=3.0):
    last = [router()]

    def moved():
        last[0] = router()
        return last[0][key] - before[key] >= n
    P.wait_cond(moved, timeout)
    return last[0][key] - before[key]


def l3(src, dst, ident):
    if ":" in src:
        return IPv6(src=src, dst=dst, hlim=64)
    return IP(src=src, dst=dst, ttl=64, id=ident, flags="DF")


def ipl(p):
    """The IP layer of a parsed frame, either family."""
    return p[IPv6] if IPv6 in p else p[IP]


def use(family):
    """Points the tests at l7w4 (4) or l7w6 (6)."""
    global VIP, CLIENT, BE
    if family == 6:
        VIP, CLIENT = "fd00:68:2::110", "fd00:68:1::70"
        BE = [("fd00:68::11", 8081, P.BE_MAC[0]), ("fd00:68::12", 8081, P.BE_MAC[1])]
    else:
        VIP, CLIENT = "198.18.2.110", "198.18.1.70"
        BE = [("198.18.0.11", 8081, P.BE_MAC[0]), ("198.18.0.12", 8081, P.BE_MAC[1])]


def cframe(sport, flags, seq, ack=0, payload=b"", opts=None):
    p = (Ether(src=P.GW_MAC, dst=P.APP) / l3(CLIENT, VIP, 4242) /
         TCP(sport=sport, dport=VPORT, flags=flags, seq=seq & M32, ack=ack & M32,
             window=502, options=opts or []))
    return p / Raw(payload) if payload else p


def bframe(b, sport, flags, seq, ack=0, payload=b"", opts=None):
    ip, port, mac = BE[b]
    p = (Ether(src=mac, dst=P.APP) / l3(ip, CLIENT, 4343) /
         TCP(sport=port, dport=sport, flags=flags, seq=seq & M32, ack=ack & M32,
             window=509, options=opts or []))
    return p / Raw(payload) if payload else p


def packed(a):
    return socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a)


def csum_ok(f):
    p = Ether(f)
    v4 = IP in p
    ip_c, tcp_c = p[IP].chksum if v4 else None, p[TCP].chksum
    if v4:
        del p[IP].chksum
    del p[TCP].chksum
    q = Ether(bytes(p))
    return (not v4 or q[IP].chksum == ip_c) and q[TCP].chksum == tcp_c


def opts(f):
    return dict((k, v) for k, v in Ether(f)[TCP].options)


def handshake(tap, sport, isn=ISN, label="cookie"):
    """SYN -> the cookie SYN-ACK; returns the cookie (or None)."""
    syn = cframe(sport, "S", isn, opts=[("MSS", 1400), ("SAckOK", b""),
                                         ("WScale", 8)])
    got = tap.exchange([syn], 1)
    f = P.one(got)
    if f is None:
        P.R.check(f"{label}: one SYN-ACK for a SYN", False, P.nframes(got))
        return None
    p = Ether(f)
    o = opts(f)
    ok = (p.dst == P.GW_MAC and ipl(p).src == VIP and ipl(p).dst == CLIENT and
          p[TCP].sport == VPORT and p[TCP].dport == sport and
          p[TCP].flags == "SA" and p[TCP].ack == (isn + 1) & M32 and
          o.get("MSS") == 1400 and o.get("WScale") == 7 and "SAckOK" in o and
          "Timestamp" not in o and csum_ok(f))
    if label:
        P.R.check(f"{label}: SYN-ACK from the VIP, ack = ISN + 1, MSS 1400, "
                  "window scale 7, SACK-permitted, no timestamps, checksums "
                  "valid", ok, p.summary() + f" opts {o}")
    return p[TCP].seq if ok else None


def bind(tap, sport, req, b, label, isn=ISN, split=True):
    """Handshake, the request (in two segments when split), and the
    replayed SYN to backend b.  Returns (cookie, syn frame) or None."""
    cookie = handshake(tap, sport, isn, label="")
    if cookie is None:
        P.R.check(f"{label}: cookie SYN-ACK", False)
        return None
    ack = cframe(sport, "A", isn + 1, cookie + 1)
    parts = [req[:10], req[10:]] if split else [req]
    frames = [ack]
    off = 0
    for part in parts:
        frames.append(cframe(sport, "PA", isn + 1 + off, cookie + 1, part))
        off += len(part)
    got = tap.exchange(frames, 1, timeout=3.0)
    f = P.one(got)
    ip, port, mac = BE[b]
    if f is None:
        P.R.check(f"{label}: one SYN to backend {ip}", False, P.nframes(got))
        return None
    p = Ether(f)
    o = opts(f)
    ok = (p.dst == mac and ipl(p).src == CLIENT and ipl(p).dst == ip and
          p[TCP].sport == sport and p[TCP].dport == port and
          p[TCP].flags == "S" and p[TCP].seq == isn & M32 and
          o.get("MSS") == 1220 and o.get("WScale") == 8 and "SAckOK" in o and
          csum_ok(f))
    P.R.check(f"{label}: the handshake replayed to {ip}:{port} (SYN with the "
              "client's ISN, MSS 1400 as the cookie keeps it: 1220, window "
              "scale 8, SACK-permitted)", ok, p.summary() + f" seq {p[TCP].seq:#x} opts {o}")
    return (cookie, f) if ok else None


def test_cookie(tap):
    sport = 51000
    before = router()
    cookie = handshake(tap, sport)
    if cookie is None:
        return
    forged = cframe(sport, "A", ISN + 1, cookie + 1 + 0x10000)
    got = tap.exchange([forged], 0, timeout=0.5)
    n = wait_router(before, "cookie_forged", 1)
    P.R.check("cookie: a forged ACK (ack not cookie + 1) gets nothing, counted "
              "(cookie_forged)", not got and n == 1, f"{P.nframes(got)}, +{n}")
    before = router()
    got = tap.exchange([cframe(sport, "A", ISN + 1, cookie + 1)], 0, timeout=0.5)
    nb = wait_router(before, "bindings", 1)
    nok = router()["cookie_ok"] - before["cookie_ok"]
    P.R.check("cookie: the valid ACK starts a binding and sends nothing",
              not got and nb == 1 and nok == 1, f"{P.nframes(got)}, bindings "
              f"+{nb}, cookie_ok +{nok}")
    # Done with it: the client resets (with ACK: a RST without one is
    # dropped by the worker, test_client_rst).
    tap.exchange([cframe(sport, "RA", ISN + 1, cookie + 1)], 0, timeout=0.3)


def test_bind_seq(tap, sport=51100, fam=""):
    req = b"GET /v1/users HTTP/1.1\r\nHost: api.example.com\r\nAccept: */*\r\n\r\n"
    before = router()
    r = bind(tap, sport, req, 0, fam + "bind")
    if r is None:
        return
    cookie, _ = r
    bisn = 0xFFFFFF80
    synack = bframe(0, sport, "SA", bisn, ISN + 1,
                    opts=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])
    got = tap.exchange([synack], 1, timeout=3.0)
    ip, port, mac = BE[0]
    data_ok = False
    if len(got) == 1:
        d = Ether(got[0])
        data_ok = (d.dst == mac and ipl(d).dst == ip and d[TCP].flags == "PA" and
                   d[TCP].seq == ISN + 1 and d[TCP].ack == (bisn + 1) & M32 and
                   bytes(d[TCP].payload) == req and csum_ok(got[0]))
    P.R.check(fam + "bind: the backend's SYN-ACK answered with the buffered "
              "request, whose ACK completes the handshake (seq ISN + 1, ack its "
              "ISN + 1), and nothing else", data_ok, P.nframes(got))
    nb = wait_router(before, "bound", 1)
    P.R.check(fam + "bind: counted as bound", nb == 1, f"bound +{nb}")
    delta = (bisn - cookie) & M32
    # Client -> backend: ack and SACK blocks + delta (both wrap).
    a1, s1, s2 = cookie + 1 + 100, cookie + 1 + 200, cookie + 1 + 300
    c = cframe(sport, "A", ISN + 1 + len(req), a1,
               opts=[("NOP", None), ("NOP", None), ("SAck", (s1 & M32, s2 & M32))])
    want_in = cframe(sport, "A", ISN + 1 + len(req), a1 + delta,
                     opts=[("NOP", None), ("NOP", None),
                           ("SAck", ((s1 + delta) & M32, (s2 + delta) & M32))])
    want = P.nat_fwd_expect(want_in, ip, port, mac)
    got = tap.exchange([c], 1)
    P.frame_check(fam + "seq: client -> backend: ack and SACK block + delta, "
                  "wrapping past 2^32", P.one(got), want)
    wrapped = ((s1 + delta) & M32) < ((a1 + delta) & M32)
    P.R.check(fam + "seq: the case wraps (the SACK block's left edge is past 2^32)",
              wrapped, f"ack {(a1 + delta) & M32:#x} sack {(s1 + delta) & M32:#x}")
    # Backend -> client: seq - delta; SACK blocks are in the client's
    # sequence space, unchanged.
    body = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    sk = ((ISN + 5) & M32, (ISN + 9) & M32)
    b = bframe(0, sport, "PA", bisn + 1, ISN + 1 + len(req), body,
               opts=[("NOP", None), ("NOP", None), ("SAck", sk)])
    want_in = bframe(0, sport, "PA", cookie + 1, ISN + 1 + len(req), body,
                     opts=[("NOP", None), ("NOP", None), ("SAck", sk)])
    want = P.nat_rev_expect(want_in, VIP, VPORT)
    got = tap.exchange([b], 1)
    P.frame_check(fam + "seq: backend -> client: seq - delta (from its ISN near "
                  "2^32), SACK blocks unchanged", P.one(got), want)
    # An ICMP error from the client's side (a router on the way to it)
    # quoting a segment the client got: to the backend, the quote's seq
    # translated back into the backend's space.
    v6 = ":" in CLIENT
    if v6:
        err = (Ether(src=P.GW_MAC, dst=P.APP) /
               IPv6(src="fd00:68:1::fe", dst=VIP) / ICMPv6PacketTooBig(mtu=1280) /
               IPerror6(src=VIP, dst=CLIENT) /
               TCPerror(sport=VPORT, dport=sport, seq=(cookie + 1) & M32,
                        ack=(ISN + 1 + len(req)) & M32, flags="A"))
    else:
        err = (Ether(src=P.GW_MAC, dst=P.APP) /
               IP(src="198.18.1.254", dst=VIP) / ICMP(type=3, code=4, nexthopmtu=1400) /
               IPerror(src=VIP, dst=CLIENT, flags="DF") /
               TCPerror(sport=VPORT, dport=sport, seq=(cookie + 1) & M32,
                        ack=(ISN + 1 + len(req)) & M32, flags="A"))
    got = tap.exchange([err], 1)
    f = P.one(got)
    ok = False
    if f is not None:
        q = Ether(f)
        ic = q[ICMPv6PacketTooBig] if v6 else q[ICMP]
        c = ic.cksum if v6 else ic.chksum
        if v6:
            del q[ICMPv6PacketTooBig].cksum
        else:
            del q[ICMP].chksum
        r2 = Ether(bytes(q))
        c2 = r2[ICMPv6PacketTooBig].cksum if v6 else r2[ICMP].chksum
        inner = r2[IPerror6] if v6 else r2[IPerror]
        ok = (q.dst == mac and ipl(q).dst == ip and inner.src == ip and
              r2[TCPerror].sport == port and
              r2[TCPerror].seq == (bisn + 1) & M32 and c == c2)
    P.R.check(fam + "seq: an ICMP error from the client's side goes to the "
              "backend with the quoted seq translated back (its ISN + 1) and "
              "a valid checksum", ok, P.nframes(got))
    st = router()
    P.R.check(fam + "seq: counted (bound_hits, bound_replies)",
              st["bound_hits"] >= 1 and st["bound_replies"] >= 1, str(st))


def test_default(tap):
    for sport, req, label in (
            (51200, b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
             "default: another host"),
            (51201, b"GET /v2/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
             "default: the rule's host, another path")):
        if bind(tap, sport, req, 1, label, split=False) is not None:
            # The client's reset, forwarded to the backend: waited for,
            # so that it does not show in the next case.
            tap.exchange([cframe(sport, "R", ISN + 1 + len(req))], 1)


def test_refused(tap):
    sport = 51300
    req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
    r = bind(tap, sport, req, 1, "refused", split=False)
    if r is None:
        return
    cookie, _ = r
    before = router()
    got = tap.exchange([bframe(1, sport, "RA", 0, ISN + 1)], 1)
    f = P.one(got)
    ok = f is not None and ipl(Ether(f)).src == VIP and "R" in Ether(f)[TCP].flags \
        and Ether(f)[TCP].seq == (cookie + 1) & M32 and csum_ok(f)
    n = wait_router(before, "be_refused", 1)
    P.R.check("refused: the backend's RST resets the client (from the VIP, "
              "seq = cookie + 1), counted (be_refused)", ok and n == 1,
              f"{P.nframes(got)}, be_refused +{n}")


def test_client_rst(tap):
    sport = 51400
    cookie = handshake(tap, sport, label="")
    if cookie is None:
        P.R.check("rst: cookie SYN-ACK", False)
        return
    before = router()
    tap.exchange([cframe(sport, "A", ISN + 1, cookie + 1)], 0, timeout=0.3)
    # A RST without ACK carries no cookie, and there is no connection at
    # the worker for it to reset: dropped there, counted, never punted.
    got = tap.exchange([cframe(sport, "R", ISN + 1)], 0, timeout=0.3)
    n = wait_router(before, "rst_no_ack", 1)
    P.R.check("rst: a RST without ACK is dropped by the worker (rst_no_ack), "
              "the binding kept", not got and n == 1 and
              router()["client_rst"] == before["client_rst"],
              f"{P.nframes(got)}, rst_no_ack +{n}")
    # A RST whose ack is no cookie: forged.
    b2 = router()
    tap.exchange([cframe(sport, "RA", ISN + 1, cookie + 1 + 0x20000)], 0, timeout=0.3)
    n = wait_router(b2, "cookie_forged", 1)
    P.R.check("rst: a RST with ACK whose ack is no cookie is forged, not punted",
              n == 1 and router()["in"] - b2["in"] == 0, f"cookie_forged +{n}")
    # A blind reset: the tuple and the cookie right, the sequence far
    # outside what the binding may receive: not taken (RFC 5961),
    # counted as stray.
    tap.exchange([cframe(sport, "RA", (ISN + 1 + 0x40000000) & M32, cookie + 1)], 0,
                 timeout=0.3)
    n = wait_router(before, "stray", 1)
    P.R.check("rst: a reset outside the binding's window is stray, the "
              "binding kept", n == 1 and router()["client_rst"] == before["client_rst"],
              f"stray +{n}")
    # The reset that is taken, on a binding of its own: the checks above
    # may outlast this one's bind_timeout_ms on a loaded machine (ASan).
    # The first binding is reset (or has timed out) before the next cases,
    # which count bindings and timeouts on the same port.
    old_sport, old_cookie = sport, cookie
    sport = 51401
    cookie = handshake(tap, sport, label="")
    if cookie is not None:
        before = router()
        tap.exchange([cframe(sport, "A", ISN + 1, cookie + 1)], 0, timeout=0.1)
        got = tap.exchange([cframe(sport, "RA", ISN + 1, cookie + 1)], 0, timeout=0.5)
        n = wait_router(before, "client_rst", 1)
        P.R.check("rst: a client's RST mid-binding frees it, counted (client_rst), "
                  "nothing sent", not got and n == 1, f"{P.nframes(got)}, +{n}")
    else:
        P.R.check("rst: cookie SYN-ACK", False)
    tap.send([cframe(old_sport, "RA", ISN + 1, old_cookie + 1)])
    P.wait_cond(lambda: router()["binding"] == 0, 3.0)


def test_tfo(tap):
    """A SYN with data and a TCP Fast Open cookie (RFC 7413): halb does
    not take SYN data (nothing is kept per SYN, and the router never
    acknowledges a client's data): the cookie SYN-ACK acknowledges the
    SYN only and carries no Fast Open option, so the client sends the
    data again after the handshake (RFC 7413, section 4.2); nothing reaches
    the router."""
    sport = 51450
    before = router()
    req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
    syn = cframe(sport, "S", ISN, payload=req,
                 opts=[("MSS", 1400), ("SAckOK", b""), ("WScale", 8),
                       (34, b"\x11\x22\x33\x44\x55\x66\x77\x88")])
    got = tap.exchange([syn], 1)
    f = P.one(got)
    ok = False
    if f is not None:
        p = Ether(f)
        kinds = [k for k, _ in p[TCP].options]
        ok = (p[TCP].flags == "SA" and p[TCP].ack == (ISN + 1) & M32 and
              34 not in kinds and "TFO" not in kinds and len(p[TCP].payload) == 0 and
              csum_ok(f))
    after = router()
    P.R.check("tfo: a SYN with data and a Fast Open cookie gets a cookie SYN-ACK "
              "acknowledging the SYN only, no Fast Open option; nothing to the router",
              ok and after["in"] == before["in"] and after["binding"] == 0,
              (Ether(f).summary() + f" opts {Ether(f)[TCP].options}") if f is not None
              else P.nframes(got))


def test_rst_flood(tap, n=2000):
    """Spoofed RSTs for arbitrary tuples (issue 14's review): none may
    reach the router's ring, where they took the room of legitimate
    punts; a legitimate connection binds right after."""
    before = router()
    frames = []
    for i in range(n):
        t = TCP(sport=10000 + i, dport=VPORT, seq=(i * 2654435761) & M32,
                flags="R" if i % 2 == 0 else "RA",
                ack=0 if i % 2 == 0 else (i * 40503) & M32)
        frames.append(bytes(Ether(src=P.GW_MAC, dst=P.APP) /
                            IP(src="198.18.1.%d" % (100 + i % 100), dst=VIP, ttl=64) / t))
    for i in range(0, n, 250):
        tap.send(frames[i:i + 250])
        time.sleep(0.005)
    last = [router()]

    def counted():
        last[0] = router()
        return (last[0]["rst_no_ack"] - before["rst_no_ack"] +
                last[0]["cookie_forged"] - before["cookie_forged"]) >= n * 0.98
    P.wait_cond(counted, 3.0)
    a = last[0]
    na, nf = a["rst_no_ack"] - before["rst_no_ack"], a["cookie_forged"] - before["cookie_forged"]
    P.R.check("rst_flood: %d spoofed RSTs: those without ACK dropped (rst_no_ack), "
              "those with ACK refused by the cookie (cookie_forged), none to the "
              "router" % n,
              na >= n // 2 * 0.98 and nf >= n // 2 * 0.98 and a["in"] == before["in"] and
              a["ring_full"] == before["ring_full"],
              f"rst_no_ack +{na}, cookie_forged +{nf}, router in +{a['in'] - before['in']}")
    req = b"GET /v1/a HTTP/1.1\r\nHost: api.example.com\r\n\r\n"
    r = bind(tap, 51990, req, 0, "rst_flood: a legitimate connection after it")
    if r is not None:
        tap.exchange([cframe(51990, "RA", ISN + 1, r[0] + 1)], 0, timeout=0.3)


def test_slowloris(tap):
    sport = 51500
    cookie = handshake(tap, sport, label="")
    if cookie is None:
        P.R.check("slowloris: cookie SYN-ACK", False)
        return
    before = router()
    part = b"GET / HTTP/1.1\r\nHo"
    m = tap.mark()
    t0 = time.monotonic()
    tap.send([cframe(sport, "A", ISN + 1, cookie + 1),
              cframe(sport, "PA", ISN + 1, cookie + 1, part)])
    fr, ok = tap.wait(m, lambda fs: len(fs) >= 1, 4.0)
    dt = time.monotonic() - t0
    f = fr[0] if fr else None
    rst = f is not None and "R" in Ether(f)[TCP].flags and ipl(Ether(f)).src == VIP
    n = wait_router(before, "timeouts", 1)
    P.R.check("slowloris: half a request, then silence: a RST after the bind "
              "timeout (800 ms), counted (timeouts)",
              rst and n == 1 and 0.7 <= dt <= 2.5,
              f"{P.nframes(fr)} after {dt:.2f} s, timeouts +{n}")


def test_too_big(tap):
    sport = 51600
    cookie = handshake(tap, sport, label="")
    if cookie is None:
        P.R.check("too_big: cookie SYN-ACK", False)
        return
    before = router()
    head = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n"
    segs, off = [cframe(sport, "A", ISN + 1, cookie + 1)], 0
    data = head + b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"a" * 100) for i in range(25))
    while off < len(data):
        chunk = data[off:off + 900]
        segs.append(cframe(sport, "PA", ISN + 1 + off, cookie + 1, chunk))
        off += len(chunk)
    got = tap.exchange(segs, 1, timeout=2.0)
    # The segments after the one that went over find no binding: each
    # may start one (its ack is a valid cookie), which its bytes then
    # end (not a request): RSTs too, never anything else.
    rst = bool(got) and all("R" in Ether(f)[TCP].flags and
                            ipl(Ether(f)).src == VIP for f in got)
    n = wait_router(before, "too_big", 1)
    P.R.check("too_big: a header section over max_request (2048): RST, counted",
              rst and n == 1, f"{P.nframes(got)}, too_big +{n}")


def test_at_limit(tap):
    """A header section of exactly max_request (2048) bytes, in three
    segments: read whole and bound (the SYN replayed to the pool's
    backend), not too_big."""
    sport = 51610
    cookie = handshake(tap, sport, label="")
    if cookie is None:
        P.R.check("at_limit: cookie SYN-ACK", False)
        return
    before = router()
    head = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n"
    need = 2048 - len(head) - 2
    pads = []
    while need > 0:
        n = min(need, 200) if need - 200 >= 12 or need <= 200 else need - 12
        pads.append(b"X-Pad: " + b"a" * (n - 9) + b"\r\n")
        need -= n
    data = head + b"".join(pads) + b"\r\n"
    segs, off = [cframe(sport, "A", ISN + 1, cookie + 1)], 0
    while off < len(data):
        chunk = data[off:off + 900]
        segs.append(cframe(sport, "PA", ISN + 1 + off, cookie + 1, chunk))
        off += len(chunk)
    got = tap.exchange(segs, 1, timeout=2.0)
    f = P.one(got)
    syn_ok = (f is not None and Ether(f)[TCP].flags == "S" and
              ipl(Ether(f)).dst == BE[1][0] and Ether(f)[TCP].seq == ISN)
    after = router()
    P.R.check("at_limit: a header section of exactly max_request (%d bytes) is "
              "read whole: the SYN replayed to the backend, not too_big" % len(data),
              len(data) == 2048 and syn_ok and after["too_big"] == before["too_big"],
              P.nframes(got))
    # Done with it: the client resets, the binding is freed.
    tap.send([cframe(sport, "RA", ISN + 1 + len(data), cookie + 1)])
    P.wait_cond(lambda: router()["binding"] == 0, 3.0)


def test_late_bound(tap):
    """A client segment punted before its connection's flow is installed
    and taken by the router after (here: the client's retransmitted
    request behind the backend's SYN-ACK, with the router stopped while
    both wait in the ring): forwarded by the bound flow, translated, not
    taken for a new binding (whose RST ended the connection: review of
    issue 14)."""
    sport = 51890
    req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
    r = bind(tap, sport, req, 1, "late_bound", split=False)
    if r is None:
        return
    cookie, _ = r
    bisn = 0x2000
    before = router()
    pid = router_pid()
    m = tap.mark()
    if not P.sigstop(pid):
        os.kill(pid, signal.SIGCONT)
        P.R.check("late_bound: the router stops (SIGSTOP)", False)
        return
    try:
        tap.send([bframe(1, sport, "SA", bisn, ISN + 1,
                         opts=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]),
                  cframe(sport, "PA", ISN + 1, cookie + 1, req)])
        punted = P.wait_cond(lambda: router()["cookie_ok"] - before["cookie_ok"] >= 1 and
                             router()["backend_in"] - before["backend_in"] >= 1, 1.5)
    finally:
        os.kill(pid, signal.SIGCONT)
    tap.wait(m, lambda fs: len(fs) >= 2, 3.0)
    # A RST to the client (the old defect) would come right after.
    got, _ = tap.wait(m, lambda fs: any(ipl(Ether(f)).dst == CLIENT for f in fs), 0.3)
    ip = BE[1][0]
    to_b = [Ether(f) for f in got if ipl(Ether(f)).dst == ip]
    to_c = [Ether(f) for f in got if ipl(Ether(f)).dst == CLIENT]
    after = router()
    ok = (punted and len(to_b) == 2 and not to_c and
          all(bytes(p[TCP].payload) == req and p[TCP].seq == ISN + 1 and
              p[TCP].ack == bisn + 1 and "R" not in p[TCP].flags for p in to_b) and
          after["late_bound"] - before["late_bound"] == 1 and
          after["bindings"] == before["bindings"])
    P.R.check("late_bound: the client's request again, punted before the flow "
              "and taken after it: forwarded by the flow (ack translated), no new "
              "binding, nothing to the client",
              ok, f"both punted while it was stopped: {bool(punted)}; {P.nframes(got)}, "
              f"late_bound +{after['late_bound'] - before['late_bound']}, "
              f"bindings +{after['bindings'] - before['bindings']}")
    tap.exchange([cframe(sport, "R", ISN + 1 + len(req))], 1)


def test_cap(tap):
    before = router()
    cookies = []
    for i in range(9):
        cookies.append(handshake(tap, 51700 + i, label=""))
    if None in cookies:
        P.R.check("cap: cookie SYN-ACKs", False)
        return
    for i in range(8):
        tap.send([cframe(51700 + i, "A", ISN + 1, cookies[i] + 1)])
    wait_router(before, "bindings", 8)
    got = tap.exchange([cframe(51708, "A", ISN + 1, cookies[8] + 1)], 1)
    f = P.one(got)
    rst = f is not None and "R" in Ether(f)[TCP].flags and Ether(f)[TCP].dport == 51708
    n = wait_router(before, "binding_full", 1)
    P.R.check("cap: the 9th connection binding at once (max_binding 8) is "
              "reset at once, counted (binding_full)", rst and n == 1,
              f"{P.nframes(got)}, binding_full +{n}")
    # The eight time out (RSTs to each) and the cap frees up.
    n = wait_router(before, "timeouts", 8, timeout=4.0)
    P.R.check("cap: the eight held bindings time out", n == 8, f"timeouts +{n}")


def test_flood(tap, n=3000):
    before = router()
    flows0 = P.status()["flows"]
    frames = [bytes(Ether(src=P.GW_MAC, dst=P.APP) /
                    IP(src="198.18.1.%d" % (100 + i % 100), dst=VIP, ttl=64) /
                    TCP(sport=20000 + i, dport=VPORT, flags="S", seq=i * 7919,
                        options=[("MSS", 1460)]))
              for i in range(n)]
    # In bursts of 500 (a burst of thousands overflows the veth and
    # packet socket rings of the rig, not the appliance).
    m = tap.mark()
    t0 = time.monotonic()
    for i in range(0, n, 500):
        tap.send(frames[i:i + 500])
        tap.wait(m, lambda fs: len(fs) >= (i + 500) * 0.98, 3.0)
    fr, _ = tap.wait(m, lambda fs: len(fs) >= n, 2.0)
    dt = time.monotonic() - t0
    sa = sum(1 for f in fr if len(f) > 47 and f[47] == 0x12)
    after = router()
    P.R.check("flood: %d SYNs answered with cookies (%d SYN-ACKs seen in "
              "%.2f s), no binding, no flow" % (n, sa, dt),
              sa >= n * 0.95 and after["cookies"] - before["cookies"] >= sa and
              after["binding"] == before["binding"] == 0 and
              after["flows"] == before["flows"] and after["bindings"] == before["bindings"] and
              P.status()["flows"] == flows0,
              "cookies +%d, binding %d -> %d, flows %d -> %d, bindings +%d, "
              "forwarder flows %d -> %d" % (
                  after["cookies"] - before["cookies"], before["binding"],
                  after["binding"], before["flows"], after["flows"],
                  after["bindings"] - before["bindings"], flows0,
                  P.status()["flows"]))
    req = b"GET /v1/a HTTP/1.1\r\nHost: api.example.com\r\n\r\n"
    r = bind(tap, 51900, req, 0, "flood: a legitimate connection after it")
    if r is not None:
        tap.exchange([cframe(51900, "R", ISN + 1 + len(req))], 1)


def test_wscale(tap):
    sport = 51800
    req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
    r = bind(tap, sport, req, 1, "wscale", split=False)
    if r is None:
        return
    cookie, _ = r
    before = router()
    synack = bframe(1, sport, "SA", 12345, ISN + 1,
                    opts=[("MSS", 1460), ("SAckOK", b""), ("WScale", 9)])
    got = tap.exchange([synack], 2)
    to_c = [f for f in got if ipl(Ether(f)).dst == CLIENT]
    to_b = [f for f in got if ipl(Ether(f)).dst == BE[1][0]]
    ok = (len(to_c) == 1 and "R" in Ether(to_c[0])[TCP].flags and
          len(to_b) == 1 and "R" in Ether(to_b[0])[TCP].flags)
    n = wait_router(before, "wscale_mismatch", 1)
    P.R.check("wscale: a backend SYN-ACK with window scale 9 (7 promised): "
              "RST to both, counted (wscale_mismatch), no flow",
              ok and n == 1 and router()["flows"] == before["flows"],
              f"{P.nframes(got)}, wscale_mismatch +{n}")


def test_mss0(tap):
    """A backend SYN-ACK with MSS 0: the router must still send the
    request in bounded segments (it looped forever on mss 0, spending
    the mbuf pool) and keep binding afterwards."""
    sport = 51870
    req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
    r = bind(tap, sport, req, 1, "mss0", split=False)
    if r is None:
        return
    before = router()
    synack = bframe(1, sport, "SA", 777000, ISN + 1,
                    opts=[("MSS", 0), ("SAckOK", b""), ("WScale", 7)])
    got = tap.exchange([synack], 1, timeout=1.0)
    to_b = [f for f in got if ipl(Ether(f)).dst == BE[1][0]]
    data = b"".join(bytes(Ether(f)[TCP].payload) for f in to_b)
    n = wait_router(before, "bound", 1)
    P.R.check("mss0: a backend SYN-ACK with MSS 0: the request in one "
              "segment (MSS 536), bound", len(to_b) == 1 and data == req and n == 1,
              f"{P.nframes(got)} bound +{n}")
    # The RST follows the bound flow to the backend.
    tap.exchange([cframe(sport, "R", ISN + 1 + len(req))], 1)
    r = bind(tap, sport + 1, req, 1, "mss0: a binding after it")
    if r is not None:
        tap.exchange([cframe(sport + 1, "R", ISN + 1 + len(req))], 1)


def test_reload_grow(tap):
    """A binding begun under max_request 2048 keeps 2048 bytes of buffer
    when a reload raises max_request: its request grows past 2048 is too
    big (it wrote past the buffer)."""
    base = open(P.ARGS.conf).read()
    old = "max_request = 2048; bind_timeout_ms = 800;"
    assert old in base
    slow = base.replace(old, "max_request = 2048; bind_timeout_ms = 20000;", 1)
    big = base.replace(old, "max_request = 8192; bind_timeout_ms = 20000;", 1)
    rc, out, err = P.reload_with(slow, "l7-slow.conf")
    P.R.check("reload_grow: reload with bind_timeout_ms 20000", rc == 0, out + err)
    router_follows("reload_grow")
    sport = 51880
    cookie = handshake(tap, sport, label="")
    if cookie is None:
        P.R.check("reload_grow: cookie", False)
        return
    first = b"POST /x HTTP/1.1\r\nHost: www.example.com\r\nX-Pad: " + b"a" * 900
    tap.exchange([cframe(sport, "A", ISN + 1, cookie + 1),
                  cframe(sport, "PA", ISN + 1, cookie + 1, first)], 0, timeout=0.3)
    rc, out, err = P.reload_with(big, "l7-big.conf")
    P.R.check("reload_grow: reload with max_request 8192", rc == 0, out + err)
    router_follows("reload_grow")
    before = router()
    frames = []
    off = len(first)
    for _ in range(4):
        chunk = b"b" * 1000
        frames.append(cframe(sport, "PA", ISN + 1 + off, cookie + 1, chunk))
        off += len(chunk)
    got = tap.exchange(frames, 2, timeout=1.0)
    rst = [f for f in got if ipl(Ether(f)).dst == CLIENT and "R" in Ether(f)[TCP].flags]
    n = wait_router(before, "too_big", 1, timeout=1.0)
    P.R.check("reload_grow: past the 2048 bytes the binding was given: RST, "
              "too_big", len(rst) >= 1 and n == 1, f"{P.nframes(got)} too_big +{n}")
    rc, out, err = P.reload_with(base, "l7-base.conf")
    P.R.check("reload_grow: the original back", rc == 0 and
              router_follows("reload_grow: the original back"), out + err)


def test_backend_down(tap):
    sport = 51850
    req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
    r = bind(tap, sport, req, 1, "down", split=False)
    if r is None:
        return
    cookie, _ = r
    before = router()
    # The client sends its request again after 0.5 s: the SYN goes again.
    time.sleep(0.55)
    got = tap.exchange([cframe(sport, "PA", ISN + 1, cookie + 1, req)], 1)
    again = [f for f in got if "S" in Ether(f)[TCP].flags and
             ipl(Ether(f)).dst == BE[1][0]]
    P.R.check("down: the client's retransmission while the backend is silent "
              "sends the SYN again", len(again) == 1, P.nframes(got))
    got = [f for f in got if f not in again]
    # The RSTs, 800 ms after the first SYN (they may come with the
    # exchange above on a slow run).
    m = tap.mark()
    rst = [f for f in got if "R" in Ether(f)[TCP].flags]
    fr, _ = tap.wait(m, lambda fs: len(fs) + len(rst) >= 2, 2.0)
    fr = rst + fr
    to_c = [f for f in fr if ipl(Ether(f)).dst == CLIENT and "R" in Ether(f)[TCP].flags]
    to_b = [f for f in fr if ipl(Ether(f)).dst == BE[1][0] and "R" in Ether(f)[TCP].flags]
    n = wait_router(before, "be_timeout", 1)
    P.R.check("down: a backend that never answers: RST to the client and to "
              "it after the bind timeout, counted (be_timeout)",
              len(to_c) == 1 and len(to_b) == 1 and n == 1,
              f"{P.nframes(fr)}, be_timeout +{n}")


def test_adopt(tap):
    from sync_peer import SyncPeer, session
    ip, port, mac = BE[1]
    d_a, d_r = 0x9ABCDEF0, 0x00000123      # the peer's deltas
    sp_a, sp_r, sp_p, sp_x = 53300, 53301, 53302, 53303
    recs = [session(CLIENT, sp_a, VIP, VPORT, 6, ip, port, spliced=True, delta=d_a),
            session(CLIENT, sp_r, VIP, VPORT, 6, ip, port, spliced=True, delta=d_r),
            session(CLIENT, sp_p, VIP, VPORT, 6, ip, port),
            session(CLIENT, sp_x, VIP, VPORT, 6, ip, port, spliced=True, delta=d_r)]
    peer = SyncPeer("peer1", P.SYNC_KEY, ("127.0.0.1", 7399), ("127.0.0.1", 7398))
    try:
        given = peer.give(recs, timeout=8.0)
        P.R.check("adopt: the peer's spliced sessions were acknowledged by halb-sessiond",
                  given, f"boot {peer.peer_boot}, acked {peer.acked}; {P.sessions_status()}")
        if not given:
            return
        # Backend -> client of a connection the peer bound: seq - delta
        # from the record, and no flow for it.
        cack, bseq = 0x11110000, 0x70000000
        body = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        before = router()
        b = bframe(1, sp_r, "PA", bseq, cack, body)
        want = P.nat_rev_expect(bframe(1, sp_r, "PA", bseq - d_r, cack, body), VIP, VPORT)
        got = tap.exchange([b], 1)
        P.frame_check("adopt: a backend's segment of a peer's bound connection, no flow "
                      "here, is translated from the record (seq - delta)", P.one(got), want)
        P.R.check("adopt: counted (replica_replies), no flow adopted for it",
                  *counted(before, router(), replica_replies=1, adopted=0))
        # ... but not from a backend the record does not name: no binding
        # and no flow here, so with a peer it is relayed to it whole (the
        # peer may be binding it: "Relay between appliances").
        before = router()
        other = bframe(0, sp_r, "PA", bseq, cack, body)
        got = tap.exchange([other], 0, timeout=0.5)
        n = wait_router(before, "relay_out", 1)

        def relayed():
            peer.poll(0.1)
            return peer.relays[-1] if peer.relays else None
        rl = P.wait_cond(relayed, 3.0)
        P.R.check("adopt: the same from another backend than the record's is not "
                  "translated: relayed to the peer (relay_out), the segment whole "
                  "from its IP header, with the VIP and its port",
                  not got and n == 1 and rl is not None and
                  rl.get(5) == bytes(Ether(bytes(other)).payload) and
                  rl.get(3) == packed(VIP) and rl.get(4) == VPORT,
                  f"{P.nframes(got)}, relay_out +{n}, relay {rl}")
        # Client -> backend of another: adopted, ack + delta.
        own0 = P.sessions_status()
        cseq, cack = 0x01020304, 0xFFFFFF00      # ack + delta wraps
        req = b"GET /again HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
        before = router()
        c = cframe(sp_a, "PA", cseq, cack, req)
        want = P.nat_fwd_expect(cframe(sp_a, "PA", cseq, cack + d_a, req), ip, port, mac)
        got = tap.exchange([c], 1, timeout=3.0)
        P.frame_check("adopt: a client's segment of a peer's bound connection (its ack no "
                      "cookie of ours) is adopted and reaches the record's backend with "
                      "ack + delta", P.one(got), want)
        n = wait_router(before, "adopted", 1)
        after = router()
        P.R.check("adopt: counted (adopt, adopted); the flow is in the table",
                  n == 1 and after["adopt"] - before["adopt"] == 1,
                  f"adopted +{n}, adopt +{after['adopt'] - before['adopt']}")
        # Its next segments and the backend's answers: the flow's.
        before = router()
        c = cframe(sp_a, "A", cseq + len(req), cack + 40)
        want = P.nat_fwd_expect(cframe(sp_a, "A", cseq + len(req), cack + 40 + d_a),
                                ip, port, mac)
        got = tap.exchange([c], 1)
        P.frame_check("adopt: the client's next segment goes by the adopted flow",
                      P.one(got), want)
        b = bframe(1, sp_a, "PA", cack + d_a, cseq + len(req), body)
        want = P.nat_rev_expect(bframe(1, sp_a, "PA", cack, cseq + len(req), body), VIP, VPORT)
        got = tap.exchange([b], 1)
        P.frame_check("adopt: the backend's answer goes by the adopted flow (seq - delta)",
                      P.one(got), want)
        after = router()
        P.R.check("adopt: counted as a bound flow's (bound_hits, bound_replies), not "
                  "adopted again", after["bound_hits"] - before["bound_hits"] == 1 and
                  after["bound_replies"] - before["bound_replies"] == 1 and
                  after["adopt"] == before["adopt"],
                  f"bound_hits +{after['bound_hits'] - before['bound_hits']}, "
                  f"bound_replies +{after['bound_replies'] - before['bound_replies']}, "
                  f"adopt +{after['adopt'] - before['adopt']}")
        # The adopted flow is this appliance's session now: told to the peer.
        def told():
            peer.poll(0.1)
            return next((s for s in peer.received
                         if s.get(3) == (sp_a << 16 | VPORT)), None)
        s = P.wait_cond(told, 3.0)
        P.R.check("adopt: halb-sessiond sends the adopted flow to the peer as its own, "
                  "spliced, with the delta", s is not None and s.get(17) == 1 and
                  s.get(18) == d_a and s.get(7) == 1,
                  f"{s}; before: {own0}; now: {P.sessions_status()}")
        # A plain record for the VIP is no bound connection: not adopted.
        before = router()
        got = tap.exchange([cframe(sp_p, "A", cseq, cack)], 0, timeout=0.5)
        n = wait_router(before, "cookie_forged", 1)
        after = router()
        P.R.check("adopt: a plain (not spliced) record of the VIP is not adopted: "
                  "dropped as a forged cookie", not got and n == 1 and
                  after["adopt"] == before["adopt"],
                  f"{P.nframes(got)}, cookie_forged +{n}, adopt +{after['adopt'] - before['adopt']}")
        # A client's RST without ACK of a peer's bound connection: the
        # backend's to take (else it keeps the connection until it times
        # out), not dropped as one of no connection here.
        before = router()
        c = cframe(sp_x, "R", cseq)
        want = P.nat_fwd_expect(cframe(sp_x, "R", cseq), ip, port, mac)
        got = tap.exchange([c], 1, timeout=3.0)
        P.frame_check("adopt: a client's RST without ACK of a peer's bound connection "
                      "reaches the record's backend", P.one(got), want)
        P.R.check("adopt: counted (adopt), not rst_no_ack",
                  *counted(before, router(), adopt=1, rst_no_ack=0))
        test_relay_in(tap, peer)
    finally:
        peer.close()
    # The peer restarts without its sessions (docs/SESSIONS.md, "A peer
    # that restarts"): its bound connection sp_r, never adopted here,
    # is kept as no one's and given back to it, spliced, with its delta.
    again = SyncPeer("peer1", P.SYNC_KEY, ("127.0.0.1", 7399), ("127.0.0.1", 7398))
    try:
        given = again.give([], timeout=8.0)

        def back():
            again.poll(0.1)
            return next((r for r in again.received
                         if r.get(3) == (sp_r << 16 | VPORT) and r.get(19) == 1), None)
        rec = P.wait_cond(back, 3.0)
        P.R.check("adopt: the peer restarted without its bound connection: given back "
                  "unowned (field 19), spliced (17) with its delta (18)",
                  given and rec is not None and rec.get(17) == 1 and rec.get(18) == d_r,
                  f"given {given}, back {rec}; {P.sessions_status()}")
    finally:
        again.close()


def test_relay_in(tap, peer):
    """Segments the peer relays (docs/REQUESTS.md, "Relay between
    appliances"): the SYN-ACK of a binding of ours completes it, a bound
    flow's data goes to the client translated, anything else is dropped
    and never relayed again."""
    sport = 53310
    req = b"GET /v1/users HTTP/1.1\r\nHost: api.example.com\r\nAccept: */*\r\n\r\n"
    r = bind(tap, sport, req, 0, "relay")
    if r is None:
        return
    cookie, _ = r
    before = router()
    bisn = 0x40000000
    synack = bframe(0, sport, "SA", bisn, ISN + 1,
                    opts=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])
    m = tap.mark()
    peer.relay(packed(VIP), VPORT, bytes(Ether(bytes(synack)).payload))
    got, _ = tap.wait(m, lambda fs: len(fs) >= 1, 3.0)
    ip, port, mac = BE[0]
    data_ok = False
    if len(got) == 1:
        d = Ether(got[0])
        data_ok = (d.dst == mac and ipl(d).dst == ip and d[TCP].seq == ISN + 1 and
                   d[TCP].ack == bisn + 1 and bytes(d[TCP].payload) == req and
                   csum_ok(got[0]))
    nb = wait_router(before, "relay_bound", 1)
    after = router()
    P.R.check("relay: the backend's SYN-ACK relayed by the peer completes our "
              "binding: the request (its ACK completing the handshake) to the backend, counted "
              "(relay_in, relay_bound, bound)",
              data_ok and nb == 1 and
              after["relay_in"] - before["relay_in"] == 1 and
              after["bound"] - before["bound"] == 1,
              f"{P.nframes(got)}, relay_bound +{nb}, relay_in "
              f"+{after['relay_in'] - before['relay_in']}, bound +{after['bound'] - before['bound']}")
    # The backend's first data, relayed (its record not yet at the peer):
    # translated (seq - delta) to the client, as the flow's own reply.
    body = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    before = router()
    b = bframe(0, sport, "PA", bisn + 1, ISN + 1 + len(req), body)
    want = P.nat_rev_expect(bframe(0, sport, "PA", cookie + 1, ISN + 1 + len(req), body),
                            VIP, VPORT)
    m = tap.mark()
    peer.relay(packed(VIP), VPORT, bytes(Ether(bytes(b)).payload))
    got, _ = tap.wait(m, lambda fs: len(fs) >= 1, 3.0)
    P.frame_check("relay: a bound flow's data relayed by the peer goes to the client "
                  "translated (seq - delta)", P.one(got), want)
    n = wait_router(before, "relay_replies", 1)
    P.R.check("relay: counted (relay_replies)", n == 1, f"relay_replies +{n}")
    # Of no binding and no flow here: dropped, never relayed again.
    before = router()
    stray = bframe(0, sport + 1, "SA", bisn, ISN + 1,
                   opts=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])
    n0 = len(peer.relays)
    m = tap.mark()
    peer.relay(packed(VIP), VPORT, bytes(Ether(bytes(stray)).payload))
    got, _ = tap.wait(m, lambda fs: len(fs) >= 1, 0.5)
    n = wait_router(before, "relay_stray", 1)
    peer.poll(0.3)
    after = router()
    P.R.check("relay: a relayed segment of no binding and no flow here is dropped "
              "(relay_stray), not relayed back",
              not got and n == 1 and after["relay_out"] == before["relay_out"] and
              len(peer.relays) == n0,
              f"{P.nframes(got)}, relay_stray +{n}, relay_out "
              f"+{after['relay_out'] - before['relay_out']}, relays back {len(peer.relays) - n0}")


def test_no_match(tap):
    global VIP
    vip0, VIP = VIP, "198.18.2.111"
    try:
        sport = 51870
        cookie = handshake(tap, sport, label="")
        if cookie is None:
            P.R.check("no_match: cookie SYN-ACK", False)
            return
        before = router()
        req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
        got = tap.exchange([cframe(sport, "A", ISN + 1, cookie + 1),
                            cframe(sport, "PA", ISN + 1, cookie + 1, req)], 1)
        f = P.one(got)
        ok = False
        if f is not None:
            q = Ether(f)
            ok = (ipl(q).src == VIP and q[TCP].flags == "FPA" and
                  q[TCP].seq == (cookie + 1) & M32 and
                  q[TCP].ack == (ISN + 1 + len(req)) & M32 and
                  bytes(q[TCP].payload) == (b"HTTP/1.1 503 Service Unavailable\r\n"
                                            b"Content-Length: 0\r\n"
                                            b"Connection: close\r\n\r\n") and
                  csum_ok(f))
        n = wait_router(before, "no_match", 1)
        P.R.check("no_match: no rule and no default pool (no_match = "
                  "\"http-503\"): a minimal 503 with FIN, counted", ok and n == 1,
                  f"{P.nframes(got)}, no_match +{n}")
    finally:
        VIP = vip0


def test_late(tap):
    """After the router answered a request it did not bind (l7n4,
    no_match "http-503": the 503 and FIN at the cookie + 1), the client's
    ACK of it and its own FIN ack past the cookie: late, not forged; the
    FIN (and data) get <SEQ=SEG.ACK><CTL=RST> so that the client closes
    instead of retransmitting its FIN; the bare ACK gets nothing."""
    global VIP
    vip0, VIP = VIP, "198.18.2.111"
    try:
        sport = 51880
        cookie = handshake(tap, sport, label="")
        if cookie is None:
            P.R.check("late: cookie SYN-ACK", False)
            return
        req = b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
        got = tap.exchange([cframe(sport, "A", ISN + 1, cookie + 1),
                            cframe(sport, "PA", ISN + 1, cookie + 1, req)], 1)
        f = P.one(got)
        if f is None or Ether(f)[TCP].flags != "FPA":
            P.R.check("late: the 503 and FIN", False, P.nframes(got))
            return
        answer = len(Ether(f)[TCP].payload)
        seq = ISN + 1 + len(req)
        ack = cookie + 1 + answer + 1  # the answer and its FIN
        before = router()
        got = tap.exchange([cframe(sport, "A", seq, ack)], 0, timeout=0.3)
        n = wait_router(before, "late", 1)
        P.R.check("late: the client's ACK of the 503 and FIN: nothing sent, "
                  "counted late (not cookie_forged)",
                  not got and n == 1 and
                  router()["cookie_forged"] == before["cookie_forged"],
                  f"{P.nframes(got)}, late +{n}")
        before = router()
        got = tap.exchange([cframe(sport, "FA", seq, ack)], 1)
        f = P.one(got)
        ok = False
        if f is not None:
            q = Ether(f)
            ok = (ipl(q).src == VIP and ipl(q).dst == CLIENT and
                  q[TCP].sport == VPORT and q[TCP].dport == sport and
                  q[TCP].flags == "R" and q[TCP].seq == ack & M32 and
                  len(q[TCP].payload) == 0 and csum_ok(f))
        n = wait_router(before, "late_rst", 1)
        P.R.check("late: the client's FIN after it: RST from the VIP, seq = its "
                  "ack, no ACK (RFC 9293 3.10.7.1), counted (late, late_rst)",
                  ok and n == 1 and router()["late"] - before["late"] == 1 and
                  router()["cookie_forged"] == before["cookie_forged"],
                  f"{P.nframes(got)}, late_rst +{n}")
        # A RST past the answer is never answered.
        before = router()
        got = tap.exchange([cframe(sport, "RA", seq + 1, ack)], 0, timeout=0.3)
        n = wait_router(before, "late", 1)
        P.R.check("late: a RST after it: nothing sent, counted late",
                  not got and n == 1, f"{P.nframes(got)}, late +{n}")
    finally:
        VIP = vip0


# l7c4: least connections over 198.18.0.11:8082 (weight 2) and
# 198.18.0.12:8082 (weight 1), one pool.
C_VIP = "198.18.2.112"
C_BE = [("198.18.0.11", 8082, P.BE_MAC[0]), ("198.18.0.12", 8082, P.BE_MAC[1])]


def xframe(src, sport, flags, seq, ack=0, payload=b"", opts=None, vip=C_VIP):
    p = (Ether(src=P.GW_MAC, dst=P.APP) / IP(src=src, dst=vip, ttl=64) /
         TCP(sport=sport, dport=VPORT, flags=flags, seq=seq & M32, ack=ack & M32,
             window=502, options=opts or []))
    return p / Raw(payload) if payload else p


def xcookies(tap, src, ports):
    """SYNs from src:port for each port to l7c4: {port: cookie}."""
    syns = [xframe(src, sp, "S", ISN, opts=[("MSS", 1460), ("SAckOK", b""),
                                           ("WScale", 7)]) for sp in ports]
    got = tap.exchange(syns, len(ports), timeout=3.0)
    out = {}
    for f in got:
        q = Ether(f)
        if TCP in q and q[TCP].flags == "SA" and q[TCP].dport in ports:
            out[q[TCP].dport] = q[TCP].seq
    return out


def l7c4_flows():
    """Bound flows per l7c4 backend as /halb/services shows them (the
    router's counts, shm->l7_active)."""
    rc, out, err = P.halbctl("json", "/halb/services")
    if rc != 0:
        raise RuntimeError(f"halbctl json /halb/services: rc {rc}: {err.strip()}")
    lines = P.json.loads(out)["/halb/services"]["l7c4"]
    flows = []
    for ip, port, _ in C_BE:
        ln = next(x for x in lines if x.startswith(f"{ip} port={port} "))
        flows.append(int(ln.split("flows=")[1].split()[0]))
    return flows


def test_wlc(tap, n=6):
    """Least connections sees the router's bound flows: each new
    connection goes to the backend with the fewest per weight (2:1), so
    6 connections go 0, 1, 0, 0, 1, 0 (with no counts wlc always took
    backend 0).  Each is bound whole (the backend's SYN-ACK answered) and
    left open; the counts show in /halb/services."""
    src = "198.18.1.80"
    start = l7c4_flows()
    counts = list(start)
    want, got_be = [], []
    req = b"GET /w HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
    for i in range(n):
        # wlc's choice: the fewest per weight, ties to the lower index.
        b = 0 if counts[0] * 1 <= counts[1] * 2 else 1
        want.append(b)
        sport = 52000 + i
        ck = xcookies(tap, src, [sport])
        if sport not in ck:
            P.R.check("wlc: cookie SYN-ACK", False)
            return
        got = tap.exchange([xframe(src, sport, "A", ISN + 1, ck[sport] + 1),
                            xframe(src, sport, "PA", ISN + 1, ck[sport] + 1, req)], 1)
        f = P.one(got)
        be = None
        if f is not None and Ether(f)[TCP].flags == "S":
            be = next((j for j, (ip, port, _) in enumerate(C_BE)
                       if ipl(Ether(f)).dst == ip and Ether(f)[TCP].dport == port), None)
        got_be.append(be)
        if be is None:
            break
        ip, port, mac = C_BE[be]
        synack = (Ether(src=mac, dst=P.APP) / IP(src=ip, dst=src, ttl=64) /
                  TCP(sport=port, dport=sport, flags="SA", seq=0x5000 + i,
                      ack=ISN + 1, options=[("MSS", 1460), ("SAckOK", b""),
                                            ("WScale", 7)]))
        tap.exchange([synack], 1)
        counts[be] += 1
        P.wait_cond(lambda: l7c4_flows() == counts, 2.0)
    after = l7c4_flows()
    P.R.check("wlc: %d connections spread by bound flows per weight (2:1): "
              "backends %s, counts %s -> %s" % (n, want, start, after),
              got_be == want and after == [start[0] + want.count(0),
                                          start[1] + want.count(1)],
              f"got {got_be}, flows {after}")


def router_pid():
    return router()["router_pid"]


def test_punt_bound(tap):
    """The punt bound (docs/REQUESTS.md, "Bounds"): with the router
    stopped (SIGSTOP; the workers wait 3 s before taking it for gone in
    this rig), one connection replaying its valid cookie ACK 1100 times,
    then 40 connections of one address replaying theirs 30 times each,
    would each fill the worker's l7_in ring (1023) and drop the next
    client's punts (ring_full); bounded, they leave room, and another
    client's connection binds once the router runs again."""
    pid = router_pid()
    if not pid:
        P.R.check("punt_bound: the router runs", False)
        return
    req = b"GET /p HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
    cases = [("one connection", "198.18.1.90", [52100], 1100, "198.18.1.91", 52150),
             ("one address", "198.18.1.92", list(range(52200, 52240)), 30,
              "198.18.1.93", 52250)]
    for label, src, ports, reps, lsrc, lport in cases:
        ck = xcookies(tap, src, ports)
        lck = xcookies(tap, lsrc, [lport])
        if len(ck) != len(ports) or lport not in lck:
            P.R.check(f"punt_bound: {label}: cookie SYN-ACKs", False,
                      f"{len(ck)} of {len(ports)}")
            return
        flood = []
        for _ in range(reps):
            for sp in ports:
                flood.append(bytes(xframe(src, sp, "A", ISN + 1, ck[sp] + 1)))
        legit = [xframe(lsrc, lport, "A", ISN + 1, lck[lport] + 1),
                 xframe(lsrc, lport, "PA", ISN + 1, lck[lport] + 1, req)]
        before = router()
        m = tap.mark()
        P.sigstop(pid)
        try:
            t0 = time.monotonic()
            for i in range(0, len(flood), 300):
                tap.send(flood[i:i + 300])
                time.sleep(0.002)
            tap.send(legit)
            dt = time.monotonic() - t0
            last = [router()]

            def counted():
                last[0] = router()
                return (last[0]["cookie_ok"] - before["cookie_ok"] >=
                        len(flood) * 0.98 + 2)
            P.wait_cond(counted, 1.5)
        finally:
            os.kill(pid, signal.SIGCONT)
        a = last[0]
        lim = a["punt_limited"] - before["punt_limited"]
        full = a["ring_full"] - before["ring_full"]
        fr, _ = tap.wait(m, lambda fs: any(
            Ether(f)[TCP].dport in (8082,) and Ether(f)[TCP].sport == lport and
            Ether(f)[TCP].flags == "S" for f in fs if TCP in Ether(f)), 3.0)
        syn = any(TCP in Ether(f) and Ether(f)[TCP].sport == lport and
                  Ether(f)[TCP].flags == "S" for f in fr)
        P.R.check(f"punt_bound: {label} replaying its cookie ACKs ({len(flood)} "
                  "with the router stopped) is bounded (punt_limited), the ring "
                  "never full; another client's connection binds after",
                  syn and full == 0 and lim >= len(flood) - 1023 and
                  router()["router_down"] == before["router_down"],
                  f"punt_limited +{lim}, ring_full +{full}, cookie_ok "
                  f"+{a['cookie_ok'] - before['cookie_ok']}, SYN to a backend: {syn}, "
                  f"sent in {dt:.3f} s")
        print(f"# punt_bound: {label}: {len(flood)} sent in {dt:.3f} s, "
              f"punt_limited +{lim}, ring_full +{full}", flush=True)
        # The bindings these made time out (RSTs to the clients) and the
        # legitimate one's backend never answers: be_timeout.
        P.wait_cond(lambda: router()["binding"] == 0, 3.0)


def test_reorder(tap):
    """A request whose segments come out of order and overlapping: the
    router keeps only what follows in order and sends the request whole."""
    sport = 51950
    req = b"GET /v1/reorder HTTP/1.1\r\nHost: api.example.com\r\nX-A: b\r\n\r\n"
    cookie = handshake(tap, sport, label="")
    if cookie is None:
        P.R.check("reorder: cookie SYN-ACK", False)
        return
    s1, s2 = req[:16], req[10:]
    # The handshake's ACK (which gives the router the client's ISN), then
    # the request's second segment before its first.
    got = tap.exchange([cframe(sport, "A", ISN + 1, cookie + 1),
                        cframe(sport, "PA", ISN + 1 + 10, cookie + 1, s2),
                        cframe(sport, "PA", ISN + 1, cookie + 1, s1)], 0, timeout=0.3)
    early = got  # nothing yet: no SYN, no RST
    got = tap.exchange([cframe(sport, "PA", ISN + 1 + 10, cookie + 1, s2)], 1)
    f = P.one(got)
    syn_ok = f is not None and Ether(f)[TCP].flags == "S" and ipl(Ether(f)).dst == BE[0][0]
    P.R.check("reorder: a segment after a hole waits for the hole, an overlap "
              "is taken once: the SYN goes when the request is whole",
              not early and syn_ok, P.nframes(got))
    if not syn_ok:
        return
    bisn = 0x1000
    got = tap.exchange([bframe(0, sport, "SA", bisn, ISN + 1,
                               opts=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])], 1)
    data = b"".join(bytes(Ether(g)[TCP].payload) for g in got)
    P.R.check("reorder: the backend gets the request whole and once",
              data == req, f"{len(data)} bytes: {data[:60]!r}")
    # The client's reset follows the bound flow to the backend: waited
    # for, so that it does not show in the next case.
    got = tap.exchange([cframe(sport, "R", ISN + 1 + len(req))], 1)
    P.R.check("reorder: the client's RST goes on to the backend",
              any("R" in Ether(g)[TCP].flags and ipl(Ether(g)).dst == BE[0][0]
                  for g in got), P.nframes(got))


def test_flood_live(tap, n=6000, burst=500, sport=51950):
    """A legitimate binding while a SYN flood runs (issue 14's flood
    test): frames are matched on raw bytes (IPv4, no IP options from the
    appliance: TCP ports at 34, flags at 47) so that thousands of
    SYN-ACKs cost little to scan."""
    # The test before may leave a binding that its RST frees a moment
    # later: start from none.
    P.wait_cond(lambda: router()["binding"] == 0, 3.0)
    before = router()
    flows0 = P.status()["flows"]
    req = b"GET /v1/live HTTP/1.1\r\nHost: api.example.com\r\n\r\n"
    ip, port, mac = BE[0]
    mac_b = bytes.fromhex(mac.replace(":", ""))
    sp = struct.pack("!H", sport)
    flood = [bytes(Ether(src=P.GW_MAC, dst=P.APP) /
                   IP(src="198.18.1.%d" % (100 + i % 100), dst=VIP, ttl=64) /
                   TCP(sport=30000 + i % 30000, dport=VPORT, flags="S",
                       seq=(i * 104729) & M32, options=[("MSS", 1460)]))
             for i in range(n)]
    cookie_sa = lambda f: len(f) > 47 and f[36:38] == sp and f[47] == 0x12  # noqa: E731
    be_syn = lambda f: (len(f) > 47 and f[0:6] == mac_b and f[34:36] == sp and  # noqa: E731
                        f[47] == 0x02)
    be_req = lambda f: f[0:6] == mac_b and f[34:36] == sp and req in f  # noqa: E731
    stages = [cookie_sa, be_syn, be_req]
    stage, done_at = 0, None
    m = tap.mark()
    t0 = time.monotonic()

    def advance(fs):
        """Moves the legitimate connection on by what came back."""
        nonlocal stage
        while stage < 3:
            f = next((f for f in fs if stages[stage](f)), None)
            if f is None:
                return
            if stage == 0:
                cookie = struct.unpack("!I", f[38:42])[0]
                tap.send([cframe(sport, "A", ISN + 1, cookie + 1),
                          cframe(sport, "PA", ISN + 1, cookie + 1, req)])
            elif stage == 1:
                tap.send([bframe(0, sport, "SA", 0x10000000, ISN + 1,
                                 opts=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])])
            stage += 1

    nb = n // burst
    for k in range(nb):
        tap.send(flood[k * burst:(k + 1) * burst])
        if k == 1:
            tap.send([cframe(sport, "S", ISN, opts=[("MSS", 1400), ("SAckOK", b""),
                                                       ("WScale", 8)])])
        # Bursts wait for most of their answers: thousands at once would
        # overflow the rig's veth and packet socket rings, not the appliance.
        fs, _ = tap.wait(m, lambda fs: len(fs) >= (k + 1) * burst * 0.98, 3.0)
        advance(fs)
        if stage == 3 and done_at is None:
            done_at = k
    dt = time.monotonic() - t0
    fs, _ = tap.wait(m, lambda fs: len(fs) >= n, 2.0)
    sa = sum(1 for f in fs if len(f) > 47 and f[47] == 0x12)
    P.R.check("flood_live: %d SYNs in %.2f s, %d cookie SYN-ACKs" % (n, dt, sa),
              sa >= n * 0.95, f"{sa} SYN-ACKs")
    P.R.check("flood_live: a legitimate connection bound and its request "
              "delivered while the flood ran (SYN after burst 2 of %d)" % nb,
              done_at is not None and done_at < nb - 1,
              "stage %d of 3 (cookie SYN-ACK, SYN to the backend, request), "
              "done after burst %s" % (stage, done_at))
    tap.exchange([cframe(sport, "R", ISN + 1 + len(req))], 1)
    after = [router()]

    def settled():
        after[0] = router()
        return after[0]["binding"] <= before["binding"]
    P.wait_cond(settled, 3.0)
    a = after[0]
    flows1 = P.status()["flows"]
    P.R.check("flood_live: no binding left, flows grow by the legitimate "
              "connection at most (router and forwarder)",
              a["binding"] <= before["binding"] and
              a["flows"] - before["flows"] <= 1 and flows1 - flows0 <= 1 and
              a["bindings"] - before["bindings"] <= 1,
              "binding %d -> %d, router flows %d -> %d, bindings +%d, "
              "forwarder flows %d -> %d" % (
                  before["binding"], a["binding"], before["flows"], a["flows"],
                  a["bindings"] - before["bindings"], flows0, flows1))


def main():
    ap = P.argparse.ArgumentParser()
    for a in ("--conf", "--iface", "--app-mac", "--halbctl", "--classifier",
              "--cls-log", "--cls-pids", "--sessiond-log", "--run"):
        ap.add_argument(a, default="")
    ap.add_argument("--only", default="")
    P.ARGS = ap.parse_args()
    P.APP = P.ARGS.app_mac
    P.APP_B = bytes.fromhex(P.APP.replace(":", ""))
    tap = P.Tap(P.ARGS.iface or "tap0")
    t0 = time.monotonic()
    # The router beats before the workers send it anything.
    P.wait_cond(lambda: router()["router_pid"] != 0, 5.0)
    tests = [
        ("cookie", lambda: test_cookie(tap)),
        ("bind", lambda: test_bind_seq(tap)),
        ("default", lambda: test_default(tap)),
        ("reorder", lambda: test_reorder(tap)),
        ("refused", lambda: test_refused(tap)),
        ("rst", lambda: test_client_rst(tap)),
        ("tfo", lambda: test_tfo(tap)),
        ("slowloris", lambda: test_slowloris(tap)),
        ("too_big", lambda: test_too_big(tap)),
        ("at_limit", lambda: test_at_limit(tap)),
        ("late_bound", lambda: test_late_bound(tap)),
        ("cap", lambda: test_cap(tap)),
        ("wscale", lambda: test_wscale(tap)),
        ("mss0", lambda: test_mss0(tap)),
        ("reload_grow", lambda: test_reload_grow(tap)),
        ("down", lambda: test_backend_down(tap)),
        ("no_match", lambda: test_no_match(tap)),
        ("late", lambda: test_late(tap)),
        ("rst_flood", lambda: test_rst_flood(tap)),
        ("wlc", lambda: test_wlc(tap)),
        ("punt_bound", lambda: test_punt_bound(tap)),
        ("flood", lambda: test_flood(tap)),
        ("flood_live", lambda: test_flood_live(tap)),
        ("adopt", lambda: test_adopt(tap)),
        ("ipv6", lambda: (use(6), test_bind_seq(tap, 52100, "ipv6 "), use(4))),
    ]
    return P.run_tests(tap, tests, t0, "l7_test")


if __name__ == "__main__":
    sys.exit(main())
