#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpus of the remote classification fuzzer
(tests/fuzz/corpus/punt_msg).

Datagrams of proto/halb_punt.proto as the fuzz target's keyring expects
them (tests/fuzz/fuzz_punt_msg.c): punts and pings from fwd-a, decisions
and pongs from cls-b, the pair's key, sealed at FUZZ_NOW; and datagrams
that each break one rule (a forged MAC, a stale clock, an unknown
sender, a decision sent with the forwarder's role, a health key, a
truncated one, a payload out of range).  Also bare payloads, which the
target tries as each inner type.  The envelope comes from
gen_sync_corpus.py (written from the documents, not from the C).
Standard library only; the output is kept in git.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_sync_corpus as g  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                   "punt_msg")
KEY = bytes((0x41 + i) & 0xFF for i in range(32))
KEY_C = bytes([KEY[0] ^ 0xFF]) + KEY[1:]
PUNT, DECISION, PING, PONG, VIEW_T = 32, 33, 34, 35, 36
BOOT_F, BOOT_C = 0x5151, 0x6262


def syn_frame(i):
    eth = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00"
    tcp = struct.pack(">HHIIBBHHH", 40000 + i, 80, 1000 + i, 0, 0x50, 0x02,
                      65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i, 0, 64, 6, 0,
                     bytes([198, 51, 100, 1 + i]), bytes([198, 18, 2, 100]))
    return eth + ip + tcp


def frame(fid, worker, data, flags=0):
    return (g.f_varint(1, fid) + g.f_varint(2, worker) + g.f_varint(3, flags) +
            g.f_bytes(4, data))


def punt(frames, boot=BOOT_F, peer_boot=BOOT_C):
    out = g.f_varint(1, boot) + g.f_varint(2, peer_boot)
    for f in frames:
        out += g.f_bytes(3, f)
    return out


def decision(fid, svc, be, flags=0):
    return (g.f_varint(1, fid) + g.f_varint(2, svc) + g.f_varint(3, be) +
            g.f_varint(4, flags))


def decisions(ds, boot=BOOT_C, peer_boot=BOOT_F):
    out = g.f_varint(1, boot) + g.f_varint(2, peer_boot)
    for d in ds:
        out += g.f_bytes(3, d)
    return out


def fnv(h, data):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def v4(a, b, c, d):
    return bytes(10) + b"\xff\xff" + bytes([a, b, c, d])


# The view of the services as punt_services_digest sees it: (name,
# [(ip, port)]) per live service slot, every backend slot live.
VIEW = [("web-dsr", [(v4(198, 18, 0, 11), 80), (v4(198, 18, 0, 12), 80)]),
        ("web-nat", [(v4(198, 18, 0, 13), 0)])]


def view_digest(view):
    h = 0xcbf29ce484222325
    for s, (name, bes) in enumerate(view):
        h = fnv(h, struct.pack("<I", s))
        h = fnv(h, name.encode() + b"\0")
        for b, (ip, port) in enumerate(bes):
            h = fnv(h, struct.pack("<I", b))
            h = fnv(h, ip)
            h = fnv(h, struct.pack("<H", port))
    return h


def view_service(index, name, bes, first=0, n_slots=None):
    out = (g.f_varint(1, index) + g.f_bytes(3, name.encode()) +
           g.f_bytes(4, v4(198, 18, 2, 100 + index)) + g.f_varint(5, 80) +
           g.f_varint(6, 6) +
           g.f_varint(9, len(bes) if n_slots is None else n_slots) +
           g.f_varint(10, first))
    for ip, port in bes:
        out += g.f_bytes(11, g.f_bytes(2, ip) + g.f_varint(3, port) +
                         g.f_varint(4, 1))
    return out


def view_part(services, part=0, n_parts=1, gen=1, digest=None, n_svc=None):
    out = (g.f_varint(1, BOOT_F) + g.f_varint(2, BOOT_C) + g.f_varint(3, gen) +
           g.f_varint(4, view_digest(VIEW) if digest is None else digest) +
           g.f_varint(5, part) + g.f_varint(6, n_parts) +
           g.f_varint(7, len(VIEW) if n_svc is None else n_svc))
    for sv in services:
        out += g.f_bytes(8, sv)
    return out


def seal(payload, typ, sender, key=KEY, **kw):
    return g.seal(payload, typ, sender=sender, key=key, **kw)


def seeds():
    p = punt([frame(i + 1, i % 2, syn_frame(i), flags=i % 2) for i in range(8)])
    d = decisions([decision(i + 1, 0, i % 3, flags=i % 2) for i in range(8)])
    yield "punt", seal(p, PUNT, "fwd-a")
    yield "decision", seal(d, DECISION, "cls-b")
    yield "decision-refused", seal(decisions([decision(9, 2, 0, flags=2)]),
                                   DECISION, "cls-b")
    yield "ping", seal(g.f_varint(1, BOOT_F) + g.f_varint(3, 0x1234), PING,
                       "fwd-a")
    yield "pong", seal(g.f_varint(1, BOOT_C) + g.f_varint(2, BOOT_F) +
                       g.f_varint(4, 77), PONG, "cls-b")
    good = seal(p, PUNT, "fwd-a")
    yield "bad-mac", good[:-1] + bytes([good[-1] ^ 1])
    yield "truncated", good[:-3]
    yield "stale", seal(p, PUNT, "fwd-a", ts=g.FUZZ_NOW - 60000)
    yield "unknown-sender", seal(p, PUNT, "fwd-x")
    yield "reflected", seal(p, PUNT, "cls-b")
    yield "role", seal(p, PUNT, "cls-c", key=KEY_C)
    yield "punt-empty", seal(punt([]), PUNT, "fwd-a")
    yield "punt-bad-worker", seal(punt([frame(1, 999, syn_frame(0))]), PUNT,
                                  "fwd-a")
    yield "punt-short-frame", seal(punt([frame(1, 0, b"\x00" * 4)]), PUNT,
                                   "fwd-a")
    yield "decision-bad-svc", seal(decisions([decision(1, 9999, 0)]),
                                   DECISION, "cls-b")
    yield "decision-no-peer-boot", seal(decisions([decision(1, 0, 0)],
                                                  peer_boot=0),
                                        DECISION, "cls-b")
    yield "payload-punt", p
    yield "payload-decision", d
    # The view: whole in one part; in two (the second service's
    # backends apart); parts that break the rules.
    whole = view_part([view_service(i, n, b) for i, (n, b) in enumerate(VIEW)])
    yield "view", seal(whole, VIEW_T, "fwd-a")
    yield "view-part0", seal(view_part([view_service(0, *VIEW[0])], 0, 2, gen=2),
                             VIEW_T, "fwd-a")
    yield "view-part1", seal(view_part([view_service(1, *VIEW[1])], 1, 2, gen=2),
                             VIEW_T, "fwd-a")
    yield "view-split-backends", view_part(
        [view_service(0, VIEW[0][0], VIEW[0][1][1:], first=1, n_slots=2)],
        0, 1, gen=3)
    yield "view-from-classifier", seal(whole, VIEW_T, "cls-b")
    yield "view-bad-index", seal(view_part([view_service(5, "x", [])]),
                                 VIEW_T, "fwd-a")
    yield "view-bad-first", seal(view_part([view_service(0, "x", VIEW[0][1],
                                                         first=1, n_slots=2)]),
                                 VIEW_T, "fwd-a")
    yield "view-bad-digest", seal(view_part([view_service(0, *VIEW[0])],
                                            digest=1), VIEW_T, "fwd-a")
    yield "payload-view", whole


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
