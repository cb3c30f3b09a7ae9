# SPDX-License-Identifier: BSD-3-Clause
#
# A peer appliance's halb-sessiond played from Python, for the packet
# tests: it speaks the session sync protocol (proto/halb_sync.proto in the
# sealed envelope of halb_seal.proto, docs/SYNC-PROTOCOL.md) with a
# hand-written codec, so that a test can put a session into the
# appliance's replica the way a real peer does: Hello to learn and give
# boot ids, then a Batch answering the appliance's DumpRequest, until the
# appliance acknowledges it; and read the sessions the appliance sends
# it (SyncPeer.received, each a dict of field number -> value).  Also the
# relay of backend segments (docs/REQUESTS.md, "Relay between
# appliances"): the Relays the appliance sends (SyncPeer.relays, each a
# dict of field number -> value) and one sent to it (SyncPeer.relay).
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "health"))
from hl import seal, open_env, parse, g, varint  # noqa: E402

MSG_BATCH, MSG_ACK, MSG_DUMP_REQUEST, MSG_HELLO, MSG_RELAY = 16, 17, 18, 19, 20
OP_UP, OP_DOWN = 1, 2
DUMP_START, DUMP_END = 1, 2


def _uint(num, v):
    return b"" if v == 0 else varint(num << 3) + varint(v)


def _bytes(num, v):
    return b"" if not v else varint(num << 3 | 2) + varint(len(v)) + v


def _fixed32(num, v):
    return b"" if v == 0 else varint(num << 3 | 5) + struct.pack("<I", v)


def _fixed64(num, v):
    return b"" if v == 0 else varint(num << 3 | 1) + struct.pack("<Q", v)


def _addr(num4, num6, a):
    """An address as proto/halb_sync.proto writes it: IPv4 one fixed32,
    IPv6 two fixed64 (each half read big-endian).  Returns (bytes, is6)."""
    if ":" in a:
        b = socket.inet_pton(socket.AF_INET6, a)
        hi, lo = struct.unpack(">QQ", b)
        return _fixed64(num6, hi) + _fixed64(num6 + 1, lo), True
    return _fixed32(num4, struct.unpack(">I", socket.inet_aton(a))[0]), False


def session(src, sport, dst, dport, proto, backend, bport, op=OP_UP, state=1, idle_ms=0,
            spliced=False, delta=0):
    """One Session; spliced and delta: a request-routed connection
    (fields 17 and 18, docs/SYNC-PROTOCOL.md)."""
    s4, six = _addr(1, 11, src)
    d4, _ = _addr(2, 13, dst)
    b4, bsix = _addr(5, 15, backend)
    ports = sport << 16 | dport
    fam = (1 if six else 0) | (2 if bsix else 0)
    out = b""
    # Fields in number order, as a canonical encoder writes them.
    out += s4 if not six else b""
    out += d4 if not six else b""
    out += _fixed32(3, ports) + _uint(4, proto)
    out += b4 if not bsix else b""
    out += _uint(6, bport) + _uint(7, op) + _uint(8, state) + _uint(9, idle_ms)
    out += _uint(10, fam)
    out += s4 if six else b""
    out += d4 if six else b""
    out += b4 if bsix else b""
    out += _uint(17, 1 if spliced else 0) + _fixed32(18, delta)
    return out


def parse_fields(buf):
    """A message's fields, every wire type a Session uses: field number
    -> the last value (int, or bytes for length-delimited)."""
    i, out = 0, {}
    while i < len(buf):
        k, i = _rd(buf, i)
        num, wt = k >> 3, k & 7
        if wt == 0:
            v, i = _rd(buf, i)
        elif wt == 1:
            v, i = struct.unpack_from("<Q", buf, i)[0], i + 8
        elif wt == 5:
            v, i = struct.unpack_from("<I", buf, i)[0], i + 4
        elif wt == 2:
            n, i = _rd(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        out[num] = v
    return out


def _rd(buf, i):
    n = s = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << s
        s += 7
        if not b & 0x80:
            return n, i


class SyncPeer:
    """One peer: `name` with `key` (bytes), listening on `listen`
    (host, port), talking to the appliance's sessiond at `to`."""

    def __init__(self, name, key, listen, to):
        self.name, self.key, self.to = name, key, to
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(listen)
        self.sock.settimeout(0.05)
        self.boot = int(time.time() * 1e6) | 1
        self.peer_boot = 0
        self.last_hello = 0.0
        self.seq = 0          # envelope sequence
        self.batch_seq = 0
        self.dump_ids = []
        self.acked = 0
        self.received = []    # sessions the appliance sent (parse_fields)
        self.relays = []      # Relays the appliance sent (parse_fields)

    def close(self):
        self.sock.close()

    def _send(self, typ, payload):
        self.seq = max(self.seq + 1, int(time.time() * 1e6))
        now = int(time.time() * 1000)
        self.sock.sendto(seal(self.key, 1, self.name, self.seq, now, typ, payload), self.to)

    def hello(self):
        self._send(MSG_HELLO, _uint(1, self.boot) + _uint(2, self.peer_boot))
        self.last_hello = time.monotonic()

    def batch(self, sessions, flags=0):
        self.batch_seq += 1
        self._send(MSG_BATCH, _uint(1, self.boot) + _uint(2, self.peer_boot) +
                   _uint(3, self.batch_seq) + _uint(4, flags) +
                   b"".join(_bytes(5, s) for s in sessions))
        return self.batch_seq

    def ack(self, cum):
        self._send(MSG_ACK, _uint(1, self.boot) + _uint(2, self.peer_boot) +
                   _uint(3, cum) + _uint(4, cum))

    def relay(self, vip, vip_port, segment):
        """A backend's segment (bytes from its IP header on) of the
        service at vip (its packed address), vip_port."""
        self._send(MSG_RELAY, _uint(1, self.boot) + _uint(2, self.peer_boot) +
                   _bytes(3, vip) + _uint(4, vip_port) + _bytes(5, segment))

    def poll(self, timeout):
        """Reads what the appliance sends for up to timeout s; learns its
        boot id, its dump requests and its acks; acknowledges its batches
        (so that its resends stop); says Hello every 250 ms, as a live
        peer does (the rig's dead_ms is 1 s: a test that reads after a
        longer silence finds it alive again, and resynced)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if time.monotonic() - self.last_hello > 0.25:
                self.hello()
            try:
                buf, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            ok, sender, _, typ, payload = open_env(buf, self.key)
            if not ok:
                continue
            m = parse(payload)
            boot = g(m, 1)
            if boot and boot != self.peer_boot:
                self.peer_boot = boot
                self.batch_seq = 0
            if typ == MSG_DUMP_REQUEST:
                self.dump_ids.append(g(m, 3))
            elif typ == MSG_ACK and g(m, 2) == self.boot:
                self.acked = max(self.acked, g(m, 3))
            elif typ == MSG_BATCH and g(m, 2) == self.boot:
                self.ack(g(m, 3))
                self.received.extend(parse_fields(s) for s in m.get(5, []))
            elif typ == MSG_RELAY and g(m, 2) == self.boot:
                self.relays.append(parse_fields(payload))

    def give(self, sessions, timeout=5.0):
        """Meets the appliance and hands it sessions as the answer to its
        dump request; True once it acknowledged them."""
        end = time.monotonic() + timeout
        while self.peer_boot == 0 and time.monotonic() < end:
            self.hello()
            self.poll(0.2)
        if self.peer_boot == 0:
            return False
        self.hello()
        self.poll(0.3)
        seq = self.batch(sessions, DUMP_START | DUMP_END)
        while time.monotonic() < end:
            self.poll(0.1)
            if self.acked >= seq:
                return True
            if self.acked < seq and int(time.monotonic() * 10) % 5 == 0:
                # resend (same batch seq) as a peer does
                self.batch_seq -= 1
                self.batch(sessions, DUMP_START | DUMP_END)
        return False
