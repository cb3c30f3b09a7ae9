#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Capture a real agent's report off the wire, and send it again.

  replay.py capture IFACE SRC_IP DPORT OUT [--timeout S]
      (in the appliance's namespace) waits for the next UDP datagram from
      SRC_IP to port DPORT on IFACE (an AF_PACKET socket, so it sees what
      halb-healthd receives, as it receives it), writes its payload to OUT
      and prints the envelope's sender, sequence number and type.  Exit 1
      if none came within S seconds (default 5).
  replay.py send FILE ADDR:PORT [--count N]
      sends FILE's bytes as one datagram, N times (default 1), 100 ms apart.

A report captured this way was accepted already, so sending it again is a
replay (its sequence number is not above the last one accepted from its
host): halb-healthd must refuse it and count it (refused: replay), and
nothing may change.  Python standard library only.
"""

import argparse
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "health"))
from hl import parse, g  # noqa: E402  (tests/health/hl.py)

ETH_P_IP = 0x0800


def capture(iface, src, dport, out, timeout):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind((iface, ETH_P_IP))
    want_src = socket.inet_aton(src)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.stderr.write("replay.py: no datagram from %s to port %d on %s within %.1f s\n"
                             % (src, dport, iface, timeout))
            return 1
        s.settimeout(left)
        try:
            pkt = s.recv(65535)  # SOCK_DGRAM: from the IP header on
        except socket.timeout:
            continue
        if len(pkt) < 28 or pkt[0] >> 4 != 4 or pkt[9] != 17 or pkt[12:16] != want_src:
            continue
        ihl = (pkt[0] & 15) * 4
        if struct.unpack(">H", pkt[6:8])[0] & 0x3fff:  # a fragment
            continue
        _sport, dp, ulen = struct.unpack(">HHH", pkt[ihl:ihl + 6])
        if dp != dport:
            continue
        payload = pkt[ihl + 8:ihl + ulen]
        with open(out, "wb") as f:
            f.write(payload)
        env = parse(payload)
        print("captured %d bytes: sender %s seq %d type %d"
              % (len(payload), g(env, 2, b"").decode(errors="replace"), g(env, 4), g(env, 6)))
        return 0


def send(path, addr, count):
    ip, port = addr.rsplit(":", 1)
    ip = ip.strip("[]")
    data = open(path, "rb").read()
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        if i:
            time.sleep(0.1)
        s.sendto(data, (ip, int(port)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("iface")
    c.add_argument("src")
    c.add_argument("dport", type=int)
    c.add_argument("out")
    c.add_argument("--timeout", type=float, default=5.0)
    s = sub.add_parser("send")
    s.add_argument("file")
    s.add_argument("addr")
    s.add_argument("--count", type=int, default=1)
    args = ap.parse_args()
    if args.cmd == "capture":
        return capture(args.iface, args.src, args.dport, args.out, args.timeout)
    return send(args.file, args.addr, args.count)


if __name__ == "__main__":
    sys.exit(main())
