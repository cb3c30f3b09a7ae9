#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpus of the sync fuzzer (tests/fuzz/corpus/sync_msg).

Datagrams of the session sync protocol (docs/SYNC-PROTOCOL.md) as the
fuzz target's keyring expects them (tests/fuzz/fuzz_sync_msg.c): sent by
lb-b to lb-a (boot id 0x1111) with lb-b's key, sealed at FUZZ_NOW; one
of each message, batches of IPv4 and IPv6 sessions with the dump flags,
spliced sessions (request-routed connections, with their sequence
delta), relayed backend segments, and datagrams that each break one rule (a forged MAC, a stale clock, an
unknown sender, a key of another role, a health message, a truncated
one, a payload out of range).  Also bare payloads, which the target
tries as each inner type.  The encoder here is written from the
document, independently of src/core/sync_msg.c and seal.c, so the seeds
also check that the two agree (the corpus run checks that the valid ones
open).  Standard library only; run it from anywhere, it writes beside
itself.  The output is kept in git, so run it again only to change the
seeds.
"""
import hashlib
import hmac
import ipaddress
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                   "sync_msg")

FUZZ_NOW = 1700000000000
BOOT_A = 0x1111          # the receiver, lb-a
BOOT_B = 0x2222          # the sender, lb-b
KEY_B = bytes((0x21 + i) & 0xFF for i in range(32))
KEY_C = bytes([KEY_B[0] ^ 0xFF]) + KEY_B[1:]   # lb-c: healthd's peer role
BATCH, ACK, DUMP_REQUEST, HELLO, RELAY = 16, 17, 18, 19, 20
HL_HEARTBEAT = 5


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def f_varint(num, v):
    return b"" if v == 0 else varint(num << 3) + varint(v)


def f_fixed32(num, v):
    return b"" if v == 0 else varint(num << 3 | 5) + struct.pack("<I", v)


def f_fixed64(num, v):
    return b"" if v == 0 else varint(num << 3 | 1) + struct.pack("<Q", v)


def f_bytes(num, v):
    return b"" if not v else varint(num << 3 | 2) + varint(len(v)) + v


def seal(payload, typ, sender="lb-b", key=KEY_B, key_id=1, seq=None,
         ts=FUZZ_NOW):
    seq = seq if seq is not None else FUZZ_NOW * 1000 + 1
    m = (b"halb-hl1" + struct.pack(">II", 1, key_id) +
         bytes([len(sender)]) + sender.encode() +
         struct.pack(">QQI", seq, ts, typ) + struct.pack(">I", len(payload)) +
         payload)
    mac = hmac.new(key, m, hashlib.sha256).digest()
    return (f_varint(1, 1) + f_bytes(2, sender.encode()) +
            f_varint(3, key_id) + f_varint(4, seq) + f_varint(5, ts) +
            f_varint(6, typ) + f_bytes(7, payload) + f_bytes(8, mac))


def session(src, dst, sport, dport, proto, be, be_port, op=1, state=1,
            idle=0, spliced=False, delta=0):
    s, d, b = (ipaddress.ip_address(x) for x in (src, dst, be))
    v6 = s.version == 6
    be6 = b.version == 6
    out = b""
    if not v6:
        out += f_fixed32(1, int(s)) + f_fixed32(2, int(d))
    out += f_fixed32(3, sport << 16 | dport) + f_varint(4, proto)
    if not be6:
        out += f_fixed32(5, int(b))
    out += (f_varint(6, be_port) + f_varint(7, op) + f_varint(8, state) +
            f_varint(9, idle) + f_varint(10, (1 if v6 else 0) |
                                         (2 if be6 else 0)))
    if v6:
        out += (f_fixed64(11, int(s) >> 64) + f_fixed64(12, int(s) & (2**64 - 1)) +
                f_fixed64(13, int(d) >> 64) + f_fixed64(14, int(d) & (2**64 - 1)))
    if be6:
        out += (f_fixed64(15, int(b) >> 64) + f_fixed64(16, int(b) & (2**64 - 1)))
    # spliced (bool) and seq_delta (fixed32): two-byte tags
    out += f_varint(17, 1 if spliced else 0) + f_fixed32(18, delta)
    return out


def batch(seq, sessions, flags=0, boot=BOOT_B, peer_boot=BOOT_A):
    out = (f_varint(1, boot) + f_varint(2, peer_boot) + f_varint(3, seq) +
           f_varint(4, flags))
    for s in sessions:
        out += f_bytes(5, s)
    return out


def ack(cum, highest, holes=(), boot=BOOT_B, peer_boot=BOOT_A):
    out = (f_varint(1, boot) + f_varint(2, peer_boot) + f_varint(3, cum) +
           f_varint(4, highest))
    if holes:
        packed = b"".join(varint(h) for h in holes)
        out += f_bytes(5, packed)
    return out


def dump_request(rid, boot=BOOT_B, peer_boot=BOOT_A):
    return f_varint(1, boot) + f_varint(2, peer_boot) + f_varint(3, rid)


def hello(boot=BOOT_B, peer_boot=BOOT_A):
    return f_varint(1, boot) + f_varint(2, peer_boot)


def tcp_seg(src, dst, sport, dport, flags=0x12, data=b""):
    """A TCP segment from its IP header on (checksums left 0: the relay
    does not read them)."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    tcp = struct.pack(">HHIIBBHHH", sport, dport, 0x12345678, 0x9abcdef0,
                      5 << 4, flags, 65535, 0, 0) + data
    if s.version == 4:
        return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0,
                           0x4000, 64, 6, 0, s.packed, d.packed) + tcp
    return struct.pack(">IHBB16s16s", 6 << 28, len(tcp), 6, 64, s.packed,
                       d.packed) + tcp


def relay(vip, vip_port, segment, boot=BOOT_B, peer_boot=BOOT_A):
    return (f_varint(1, boot) + f_varint(2, peer_boot) +
            f_bytes(3, ipaddress.ip_address(vip).packed) +
            f_varint(4, vip_port) + f_bytes(5, segment))


def seeds():
    v4 = [session("198.51.100.%d" % (i + 1), "203.0.113.10", 40000 + i, 443,
                  6, "10.0.0.%d" % (i % 5 + 1), 8443, idle=i * 37)
          for i in range(30)]
    v6 = [session("2001:db8:1::%x" % (i + 1), "2001:db8:ffff::10",
                  50000 + i, 80, 6, "fd00::%x" % (i % 3 + 1), 80, state=i % 4,
                  op=1 + i % 2)
          for i in range(12)]
    mixed = [session("198.51.100.7", "203.0.113.10", 0, 53, 17, "fd00::5", 0,
                     state=3),
             session("2001:db8::7", "2001:db8::10", 1, 2, 132, "10.1.1.1",
                     65535, op=2, state=2, idle=2**32 - 1)]
    spliced = [session("198.51.100.9", "203.0.113.11", 41000, 80, 6,
                       "10.0.0.2", 8080, spliced=True, delta=0x89abcdef),
               session("2001:db8:1::9", "2001:db8:ffff::11", 41001, 443, 6,
                       "fd00::2", 8443, state=2, idle=1500, spliced=True,
                       delta=0xfffffff0),
               session("198.51.100.10", "203.0.113.11", 41002, 80, 6,
                       "fd00::3", 8080, op=2, spliced=True),
               session("198.51.100.11", "203.0.113.11", 41003, 80, 6,
                       "10.0.0.3", 8080, spliced=True, delta=1)]
    p_v4 = batch(1, v4)
    yield "batch-v4", seal(p_v4, BATCH)
    yield "batch-v6", seal(batch(2, v6), BATCH)
    yield "batch-mixed", seal(batch(1, mixed, flags=1), BATCH)
    yield "batch-spliced", seal(batch(1, spliced + v4[:2]), BATCH)
    yield "batch-dump-empty", seal(batch(1, [], flags=3), BATCH)
    yield "batch-dump-end", seal(batch(1, v4[:3], flags=2), BATCH)
    yield "batch-ahead", seal(batch(5, v4[:2]), BATCH)
    yield "batch-old-boot", seal(batch(1, v4[:2], peer_boot=0x999), BATCH)
    yield "ack-cum", seal(ack(0, 0), ACK)
    yield "ack-holes", seal(ack(0, 5, [1, 2, 4]), ACK)
    yield "dump-request", seal(dump_request(1), DUMP_REQUEST)
    yield "hello", seal(hello(), HELLO)
    yield "hello-unknown-peer-boot", seal(hello(peer_boot=0), HELLO)
    # each refused for one reason
    good = seal(hello(), HELLO)
    yield "bad-mac", good[:-1] + bytes([good[-1] ^ 1])
    yield "truncated", good[:-3]
    yield "stale", seal(hello(), HELLO, ts=FUZZ_NOW - 60000)
    yield "unknown-sender", seal(hello(), HELLO, sender="lb-x")
    yield "role", seal(hello(), HELLO, sender="lb-c", key=KEY_C)
    yield "health-type", seal(f_varint(1, 2), HL_HEARTBEAT)
    yield "hello-no-boot", seal(b"", HELLO)
    yield "batch-bad-session", seal(
        batch(1, [f_fixed32(1, 1) + f_varint(10, 1)]), BATCH)
    yield "ack-bad-holes", seal(ack(0, 5, [2, 1]), ACK)
    # a spliced session that is not TCP; a delta without spliced
    yield "batch-bad-spliced-udp", seal(batch(1, [session(
        "198.51.100.7", "203.0.113.10", 1, 53, 17, "10.0.0.1", 53, state=3,
        spliced=True, delta=5)]), BATCH)
    yield "batch-bad-delta", seal(batch(1, [session(
        "198.51.100.7", "203.0.113.10", 1, 80, 6, "10.0.0.1", 80,
        delta=5)]), BATCH)
    # a backend's segments relayed (docs/REQUESTS.md, "Relay between
    # appliances"): a SYN-ACK, data over IPv6; one not TCP
    syn_ack = tcp_seg("10.0.0.21", "198.51.100.7", 8081, 41000)
    yield "relay-synack-v4", seal(relay("198.18.2.103", 80, syn_ack), RELAY)
    yield "relay-data-v6", seal(relay(
        "2001:db8:ffff::11", 443,
        tcp_seg("fd00::2", "2001:db8:1::9", 8443, 41001, flags=0x18,
                data=b"HTTP/1.1 200 OK\r\n\r\n")), RELAY)
    bad = bytearray(syn_ack)
    bad[9] = 17
    yield "relay-bad-udp", seal(relay("198.18.2.103", 80, bytes(bad)), RELAY)
    # bare payloads, for the inner decoders
    yield "payload-batch-v4", p_v4
    yield "payload-batch-v6", batch(1, v6)
    yield "payload-ack", ack(3, 9, [1, 2, 5])
    yield "payload-session-v6", v6[0]
    yield "payload-session-spliced", spliced[1]
    yield "payload-relay", relay("198.18.2.103", 80, syn_ack)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
