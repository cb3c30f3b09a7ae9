#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# Sends hostile or odd HostReports to a halb-healthd, for tests that check
# they are refused and counted (halbctl health: "refused: ..."):
#
#   hl_send.py ADDR:PORT HOST KEYHEX SERVICE BACKEND_ADDR BACKEND_PORT WHAT
#
# WHAT: forged  (HOST's name, a key of zeros: bad-mac)
#       replay  (a genuine report sent twice: the second is a replay)
#       stale   (genuine, timestamped a minute ago: stale)
#       foreign (genuine, about BACKEND_ADDR:BACKEND_PORT, which should be
#                another host's backend: counted foreign/identity)
#       garbage (a truncated protobuf and an oversized datagram)
# KEYHEX is HOST's real key (agent.key) for replay, stale and foreign.
# Genuine reports use sequence numbers just above the real agent's, below
# its next one, so the real agent is not locked out.
import socket, sys, time
from hl import seal, host_report

addr, host, keyhex, svc, baddr, bport, what = sys.argv[1:8]
ip, port = addr.rsplit(':', 1)
dst = (ip.strip('[]'), int(port))
key = bytes.fromhex(keyhex)
fam = socket.AF_INET6 if ':' in dst[0] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
now = int(time.time() * 1000)
seq = int(time.time() * 1e6)
item = [(svc, baddr, int(bport), 2, 'sent by hl_send.py')]
if what == 'forged':
    s.sendto(seal(bytes(32), 1, host, seq, now, 1, host_report(host, seq, now, 1000, item)), dst)
elif what == 'replay':
    d = seal(key, 1, host, seq, now, 1, host_report(host, seq, now, 1000, []))
    s.sendto(d, dst)
    time.sleep(0.2)
    s.sendto(d, dst)
elif what == 'stale':
    old = now - 60000
    s.sendto(seal(key, 1, host, seq, old, 1, host_report(host, seq, old, 1000, item)), dst)
elif what == 'foreign':
    s.sendto(seal(key, 1, host, seq, now, 1, host_report(host, seq, now, 1000, item)), dst)
elif what == 'garbage':
    s.sendto(b'\x0a\xff\xff', dst)
    s.sendto(b'x' * 5000, dst)
else:
    sys.exit('hl_send.py: unknown WHAT %s' % what)
