# SPDX-License-Identifier: BSD-3-Clause
#
# A hand-written codec of the halb health envelope (docs/HEALTH-PROTOCOL.md)
# for tests that play an agent, a forger or a classifier from Python: seal
# and open envelopes and build HostReports without the protobuf module.
# It computes the MAC from the field values as the document defines it,
# independently of src/core/hl_msg.c.
import hmac, hashlib, struct, time

def varint(n):
    out = b''
    while True:
        b = n & 0x7f; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])

def field(num, wt, val):
    key = varint((num << 3) | wt)
    if wt == 0: return key + varint(val)
    return key + varint(len(val)) + val

def msg(fields):  # list of (num, value); int -> varint, bytes/str -> len, skip defaults
    out = b''
    for num, v in fields:
        if v is None or v == 0 or v == b'' or v == '': continue
        if isinstance(v, bool): v = int(v)
        if isinstance(v, int): out += field(num, 0, v)
        else: out += field(num, 2, v.encode() if isinstance(v, str) else v)
    return out

def seal(key, key_id, sender, seq, ts, typ, payload):
    m = b'halb-hl1' + struct.pack('>II', 1, key_id) + bytes([len(sender)]) + sender.encode() \
        + struct.pack('>QQI', seq, ts, typ) + struct.pack('>I', len(payload)) + payload
    mac = hmac.new(key, m, hashlib.sha256).digest()
    return msg([(1, 1), (2, sender), (3, key_id), (4, seq), (5, ts), (6, typ), (7, payload), (8, mac)])

def host_report(host, seq, ts, interval, services, load=None):
    sv = [msg([(1, s), (2, a), (3, p), (4, st), (5, r)]) for (s, a, p, st, r) in services]
    f = [(1, host), (2, seq), (3, ts), (4, interval)] + [(5, x) for x in sv]
    if load: f.append((6, msg([(1, load[0]), (2, load[1]), (3, load[2]), (4, load[3])])))
    return msg(f)

def parse(buf):  # -> dict num -> list of values (int or bytes)
    i, out = 0, {}
    while i < len(buf):
        k, i = rd(buf, i); num, wt = k >> 3, k & 7
        if wt == 0: v, i = rd(buf, i)
        elif wt == 2:
            n, i = rd(buf, i); v = buf[i:i+n]; i += n
        else: raise ValueError('wire type %d' % wt)
        out.setdefault(num, []).append(v)
    return out

def rd(buf, i):
    n = s = 0
    while True:
        b = buf[i]; i += 1; n |= (b & 0x7f) << s; s += 7
        if not b & 0x80: return n, i

def g(d, n, dflt=0): return d.get(n, [dflt])[0]

def open_env(buf, key):
    e = parse(buf)
    sender = g(e, 2, b'').decode(); payload = g(e, 7, b'')
    m = b'halb-hl1' + struct.pack('>II', g(e, 1), g(e, 3)) + bytes([len(sender)]) + sender.encode() \
        + struct.pack('>QQI', g(e, 4), g(e, 5), g(e, 6)) + struct.pack('>I', len(payload)) + payload
    ok = hmac.compare_digest(hmac.new(key, m, hashlib.sha256).digest(), g(e, 8, b''))
    return ok, sender, g(e, 4), g(e, 6), payload

STATES = {0: '?', 1: 'up', 2: 'down', 3: 'draining'}
SOURCES = {0: '?', 1: 'agent', 2: 'probe', 3: 'last-known'}

def snapshot(payload):
    s = parse(payload)
    bes = []
    for b in s.get(3, []):
        d = parse(b)
        bes.append('%s %s:%d %s w=%d %s age=%d' % (g(d, 1, b'').decode(), g(d, 2, b'').decode(), g(d, 3),
                   STATES[g(d, 4)], g(d, 5), SOURCES[g(d, 7)], g(d, 8)))
    return bool(g(s, 1)), g(s, 2), g(s, 4), g(s, 5), bes
