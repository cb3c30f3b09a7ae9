#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Multi-queue tests of halb (issue 13, "Real ports"), run by tests/pkt/mq.sh.

The rig is tests/pkt/run.sh's with two workers and every port a
net_af_packet device of two queue pairs (qpairs=2).  The kernel spreads
the frames of a packet socket fanout over the two queues by a symmetric
hash of each frame's addresses and ports (PACKET_FANOUT_HASH), as RSS
with halb's symmetric key does on a NIC: a flow's frames always land on
one queue, and a NAT reply (backend -> client, another tuple) or an ICMP
error (router -> VIP) lands on whichever queue its own tuple hashes to.

Checks, with each worker's own counters (/halb/stats,W):
  spread   new flows are spread over both workers, each installed once,
           and every later frame of a flow is a hit in its worker's table
           (none punted again: flows stay with their worker);
  nat      every backend reply of a NAT flow is translated back, also
           when it lands on the worker that does not hold the flow (the
           reply path looks the flow up in every worker's table), and
           some do;
  icmp     ICMP errors about NAT flows, from the client side and from the
           backend side, follow their flow whichever worker gets them;
  tables   each flow is in exactly one worker's table.

A client's frame that changes queue while its flow lives (rollover of a
full socket ring, a rewritten redirection table) cannot be provoked
here; the classifier's handling of it (the other worker's entry, same
backend) is tested in tests/unit/test_cls_decide.c test_other_worker.

Uses the frame builders and the model of tests/pkt/pkt_test.py.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkt_test as P  # noqa: E402

R = P.R
NW = 2


def wstats(w):
    rc, out, err = P.halbctl("json", f"/halb/stats,{w}")
    if rc != 0:
        raise RuntimeError(f"halbctl json /halb/stats,{w}: rc {rc}: {err.strip()}")
    return next(iter(json.loads(out).values()))


def all_w():
    return [wstats(w) for w in range(NW)]


def wdelta(before, after, path):
    return [P.delta(b, a, path) for b, a in zip(before, after)]


def who(before, after, path):
    """The worker whose counter moved by one, or None."""
    d = wdelta(before, after, path)
    return d.index(1) if sorted(d) == [0] * (NW - 1) + [1] else None


def test_spread(tap, n=64):
    svc, client, base = "dsr4", "198.18.1.60", 42000
    vip, vport = P.SVC[svc][0], P.SVC[svc][1]
    s0, w0 = P.stats(), all_w()
    syns = [P.tcp_frame(client, base + i, vip, vport, "S") for i in range(n)]
    m = tap.mark()
    tap.send(syns)
    got, ok = tap.wait(m, lambda fs: len(fs) >= n, 5.0)
    first = {}
    for f in got:
        e = P.Ether(f)
        if P.TCP in e:
            first[e[P.TCP].sport] = P.backend_of(f, svc)
    R.check(f"spread: {n} SYNs forwarded", ok and len(first) == n, P.nframes(got))
    s1 = P.wait_stat(s0, "installs", n)
    w1 = all_w()
    punts = wdelta(w0, w1, "punts")
    R.check(f"spread: new flows punted by both workers ({punts})",
            sum(punts) == n and min(punts) > 0, f"punts per worker {punts}")
    R.check("spread: each flow installed once", P.delta(s0, s1, "installs") == n and
            P.delta(s0, s1, "cls_existing") == 0,
            f"installs +{P.delta(s0, s1, 'installs')}, existing "
            f"+{P.delta(s0, s1, 'cls_existing')}")

    acks = [P.tcp_frame(client, base + i, vip, vport, "A") for i in range(n)] * 2
    m = tap.mark()
    tap.send(acks)
    got, ok = tap.wait(m, lambda fs: len(fs) >= 2 * n, 5.0)
    moved = 0
    for f in got:
        e = P.Ether(f)
        if P.TCP in e and first.get(e[P.TCP].sport) != P.backend_of(f, svc):
            moved += 1
    R.check(f"spread: {2 * n} later frames forwarded to their flow's backend",
            ok and moved == 0, f"{len(got)} out, {moved} to another backend")
    w2 = all_w()
    hits = wdelta(w1, w2, "hits")
    R.check("spread: later frames are hits in their worker's table, none punted again",
            sum(hits) == 2 * n and sum(wdelta(w1, w2, "punts")) == 0,
            f"hits per worker {hits}, punts {wdelta(w1, w2, 'punts')}")
    R.check("spread: each worker's hits are its own flows' (twice its punts)",
            hits == [2 * p for p in punts], f"hits {hits}, punts {punts}")


def test_nat(tap, svcs=(("nat4", "198.18.1.70"), ("nat6", "fd00:68:1::70")), n=12):
    """One flow at a time, so that each worker's counters say who held
    the flow (punts) and who translated the reply (nat_replies)."""
    flows = []
    crossed = ok_all = 0
    for svc, client in svcs:
        vip, vport = P.SVC[svc][0], P.SVC[svc][1]
        for i in range(n):
            cport = 43000 + i
            w0 = all_w()
            got = tap.exchange([P.tcp_frame(client, cport, vip, vport, "S")], 1)
            b = P.backend_of(P.one(got), svc)
            w1 = all_w()
            owner = who(w0, w1, "punts")
            if b is None or owner is None:
                R.check(f"nat: {svc} flow {cport} opened", False,
                        f"{P.nframes(got)}; punts {wdelta(w0, w1, 'punts')}")
                continue
            be_ip = P.SVC[svc][4][b][0]
            rep = P.tcp_frame(be_ip, 8080, client, cport, "SA", smac=P.BE_MAC[b])
            got = tap.exchange([rep], 1)
            w2 = all_w()
            by = who(w1, w2, "nat_replies")
            good = P.one(got) == P.nat_rev_expect(rep, vip, vport)
            ok_all += good
            crossed += good and by is not None and by != owner
            if not good:
                R.check(f"nat: {svc} reply of flow {cport} (held by worker {owner}, "
                        f"received by {by}) translated", False,
                        P.hexdiff(P.one(got), P.nat_rev_expect(rep, vip, vport)))
            flows.append((svc, client, cport, b, owner))
    total = n * len(svcs)
    R.check(f"nat: {ok_all}/{total} backend replies translated back to the VIP",
            ok_all == total)
    R.check(f"nat: replies landing on the worker that does not hold their flow are "
            f"translated ({crossed} of {total})", crossed > 0,
            "no reply landed on the other worker: the rig spread nothing")
    owners = set(o for *_, o in flows)
    R.check("nat: flows held by both workers", owners == set(range(NW)),
            f"owners {sorted(owners)}")
    return flows


def test_icmp(tap, flows):
    """Errors about NAT flows from both sides: an error from the client
    side quotes VIP -> client and comes from a router (its tuple is not
    the flow's); one from the backend side quotes client -> backend."""
    sent = fwd = crossed = 0
    for svc, client, cport, b, owner in flows:
        vip, vport, _, _, bes = P.SVC[svc]
        for side in ("client", "backend"):
            if side == "client":
                err = P.icmp_err_frame(svc, client, cport)
                want = P.icmp_nat_expect(err, bes[b][0], P.BE_MAC[b])
            else:
                err = P.backend_icmp_frame(svc, b, client, cport)
                want = P.icmp_nat_rev_expect(err, vip, vport)
            w0 = all_w()
            got = tap.exchange([err], 1)
            w1 = all_w()
            by = who(w0, w1, "icmp_errors")
            sent += 1
            if P.one(got) == want:
                fwd += 1
                crossed += by is not None and by != owner
            else:
                R.check(f"icmp: {svc} {side}-side error about flow {cport} (held by "
                        f"worker {owner}, received by {by})", False,
                        P.hexdiff(P.one(got), want))
    R.check(f"icmp: {fwd}/{sent} ICMP errors about NAT flows follow their flow "
            f"(translated)", fwd == sent)
    R.check(f"icmp: errors landing on the worker that does not hold the flow "
            f"follow it too ({crossed} of {sent})", crossed > 0)


def test_tables(expect):
    st = P.status()
    R.check(f"tables: {expect} flows in all, each in one worker's table",
            st["flows"] == expect, f"flows {st['flows']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conf", required=True)
    ap.add_argument("--iface", default="tap0")
    ap.add_argument("--app-mac", required=True)
    ap.add_argument("--halbctl", required=True)
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--cls-log", required=True)
    ap.add_argument("--cls-pids", required=True)
    ap.add_argument("--sessiond-log", default="")
    ap.add_argument("--only", default="")
    P.ARGS = ap.parse_args()
    P.APP = P.ARGS.app_mac
    P.APP_B = bytes.fromhex(P.APP.replace(":", ""))
    tap = P.Tap(P.ARGS.iface)
    t0 = time.monotonic()
    st = P.status()
    R.check("rig: two workers", st["workers"] == NW, f"workers {st['workers']}")
    flows = []
    return P.run_tests(tap, (("spread", lambda: test_spread(tap)),
                             ("nat", lambda: flows.extend(test_nat(tap))),
                             ("icmp", lambda: test_icmp(tap, flows)),
                             ("tables", lambda: test_tables(64 + len(flows)))),
                       t0, "mq_test")


if __name__ == "__main__":
    sys.exit(main())
