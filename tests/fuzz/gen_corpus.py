#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpus of the packet fuzzer (tests/fuzz/corpus/pkt).

One file per frame: every header kind pkt_parse() accepts, with valid
checksums so that the fuzzer's checksum invariants have something to
keep, and a few frames that each break one rule.  Standard library only;
run it from anywhere, it writes beside itself.  The output is kept in git,
so run it again only to change the seeds.  The fuzz_* files beside them
are inputs libFuzzer found that reach branches these seeds do not; this
script leaves them alone.
"""
import ipaddress
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "pkt")

MAC_US = bytes.fromhex("020000000001")
MAC_PEER = bytes.fromhex("020000000002")
CLIENT4, VIP4, BACKEND4, ROUTER4 = ("198.51.100.7", "203.0.113.10",
                                    "10.0.0.21", "192.0.2.1")
CLIENT6, VIP6, BACKEND6, ROUTER6 = ("2001:db8:1::7", "2001:db8:ffff::10",
                                    "fd00::21", "2001:db8:2::1")
TCP, UDP, ICMP, ICMP6, GRE = 6, 17, 1, 58, 47


def a(s):
    return ipaddress.ip_address(s).packed


def csum(data, s=0):
    if len(data) % 2:
        data += b"\0"
    for i in range(0, len(data), 2):
        s += data[i] << 8 | data[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inv(s):
    return ~s & 0xFFFF


def eth(etype, vlan=None, dst=MAC_US, src=MAC_PEER):
    if vlan is not None:
        return dst + src + struct.pack("!HHH", 0x8100, vlan, etype)
    return dst + src + struct.pack("!H", etype)


def tcp(sport, dport, flags=0x02, payload=b"", opts=b""):
    doff = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, doff << 4, flags,
                       65535, 0, 0) + opts + payload


def udp(sport, dport, payload=b"", length=None):
    return struct.pack("!HHHH", sport, dport,
                       length if length is not None else 8 + len(payload),
                       0) + payload


def l4_csum(seg, proto, src, dst, nocsum=False):
    """Fills the TCP/UDP/ICMPv6 checksum of seg (pseudo-header of src, dst)."""
    off = {TCP: 16, UDP: 6, ICMP6: 2}.get(proto)
    if off is None:
        if proto == ICMP:
            seg = seg[:2] + b"\0\0" + seg[4:]
            return seg[:2] + struct.pack("!H", inv(csum(seg))) + seg[4:]
        return seg
    if nocsum:
        return seg
    seg = seg[:off] + b"\0\0" + seg[off + 2:]
    ps = csum(src + dst) + proto + len(seg)
    c = inv(csum(seg, ps))
    if proto == UDP and c == 0:
        c = 0xFFFF
    return seg[:off] + struct.pack("!H", c) + seg[off + 2:]


def ip4(src, dst, proto, seg, opts=b"", frag=0, ident=0x1234, fix=True,
        nocsum=False):
    s, d = a(src), a(dst)
    if fix and not frag & 0x1FFF:
        seg = l4_csum(seg, proto, s, d, nocsum)
    ihl = (20 + len(opts)) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(seg),
                    ident, frag, 64, proto, 0, s, d) + opts
    h = h[:10] + struct.pack("!H", inv(csum(h))) + h[12:]
    return h + seg


def ext(nh, kind, length=8):
    """A hop-by-hop/dstopts (PadN) or routing header of `length` bytes."""
    if kind == 43:
        body = bytes([253, 0]) + bytes(length - 4)
    else:
        body = bytes([1, length - 4]) + bytes(length - 4)
    return bytes([nh, length // 8 - 1]) + body


def ip6(src, dst, proto, seg, exts=(), frag=None, fix=True):
    """exts: extension header types in order; frag: (offset, more) or None."""
    s, d = a(src), a(dst)
    if fix and (frag is None or frag[0] == 0):
        seg = l4_csum(seg, proto, s, d)
    chain = list(exts) + ([44] if frag is not None else [])
    hdrs = b""
    for i, t in enumerate(chain):
        nh = chain[i + 1] if i + 1 < len(chain) else proto
        if t == 44:
            hdrs += struct.pack("!BBHI", nh, 0, frag[0] << 3 | frag[1],
                                0x12345678)
        else:
            hdrs += ext(nh, t, 16 if t == 60 else 8)
    first = chain[0] if chain else proto
    h = struct.pack("!IHBB16s16s", 0x60000000, len(hdrs) + len(seg), first,
                    64, s, d)
    return h + hdrs + seg


def icmp4(typ, body, code=0):
    m = struct.pack("!BBHI", typ, code, 0, 0) + body
    return m[:2] + struct.pack("!H", inv(csum(m))) + m[4:]


def icmp6(typ, body, code=0, word=0):
    return struct.pack("!BBHI", typ, code, 0, word) + body


def arp(op, sha, spa, tha, tpa, htype=1):
    return struct.pack("!HHBBH6s4s6s4s", htype, 0x0800, 6, 4, op, sha, a(spa),
                       tha, a(tpa))


def nd(typ, target, opt_type=None, flags=0, opt_len=1):
    body = a(target)
    if opt_type is not None:
        body += bytes([opt_type, opt_len]) + MAC_PEER
    return icmp6(typ, body, word=flags << 24)


def frames():
    pay = bytes(range(40))
    f = {}
    E4, E6, EA = eth(0x0800), eth(0x86DD), eth(0x0806)
    back_tcp4 = ip4(VIP4, CLIENT4, TCP, tcp(80, 40000, 0x10, pay))
    back_udp4 = ip4(VIP4, CLIENT4, UDP, udp(53, 5353, pay[:20]),
                    opts=b"\x01" * 8)
    back_tcp6 = ip6(VIP6, CLIENT6, TCP, tcp(443, 40001, 0x10, pay))
    back_udp6 = ip6(VIP6, CLIENT6, UDP, udp(4500, 5000, pay[:10]), exts=[60])
    fwd_udp4 = ip4(CLIENT4, BACKEND4, UDP, udp(5353, 8053, pay[:12]))

    f["tcp4_syn"] = E4 + ip4(CLIENT4, VIP4, TCP, tcp(40000, 80))
    f["udp4"] = E4 + ip4(CLIENT4, VIP4, UDP, udp(5353, 53, pay[:23]))
    f["tcp6"] = E6 + ip6(CLIENT6, VIP6, TCP,
                         tcp(40001, 443, 0x18, pay, b"\x01" * 12))
    f["udp6"] = E6 + ip6(CLIENT6, VIP6, UDP, udp(5000, 4500, pay[:33]))
    f["tcp4_vlan_ihl15"] = (eth(0x0800, 0x6064) +
                            ip4(CLIENT4, VIP4, TCP,
                                tcp(1234, 80, 0x12, pay[:7], b"\x01" * 40),
                                opts=b"\x01" * 40))
    f["udp4_eth_padding"] = E4 + ip4(CLIENT4, VIP4, UDP, udp(9, 10)) + bytes(18)
    f["udp4_no_csum"] = E4 + ip4(CLIENT4, VIP4, UDP, udp(9, 10, pay[:5]),
                                 nocsum=True)
    f["udp6_hbh_rt_dst"] = E6 + ip6(CLIENT6, VIP6, UDP, udp(1, 53, pay[:9]),
                                    exts=[0, 43, 60])
    f["udp6_8ext"] = E6 + ip6(CLIENT6, VIP6, UDP, udp(1, 53),
                              exts=[0, 60, 60, 60, 43, 43, 60, 60])
    f["bad_udp6_9ext"] = E6 + ip6(CLIENT6, VIP6, UDP, udp(1, 53),
                                  exts=[0, 60, 60, 60, 43, 43, 60, 60, 60])
    f["udp4_frag_first"] = E4 + ip4(CLIENT4, VIP4, UDP,
                                    udp(3, 53, pay, length=1048), frag=0x2000)
    f["udp4_frag_later"] = E4 + ip4(CLIENT4, VIP4, UDP, pay, frag=185)
    f["tcp6_frag_first"] = E6 + ip6(CLIENT6, VIP6, TCP, tcp(3, 80, 0x10, pay),
                                    frag=(0, 1))
    f["udp6_frag_later"] = E6 + ip6(CLIENT6, VIP6, UDP, pay, exts=[60],
                                    frag=(185, 0))
    f["icmp4_fragneeded_tcp"] = E4 + ip4(ROUTER4, VIP4, ICMP,
                                         icmp4(3, back_tcp4[:28], code=4))
    f["icmp4_ttl_udp_vlan"] = (eth(0x0800, 100) +
                               ip4(ROUTER4, VIP4, ICMP, icmp4(11, back_udp4)))
    f["icmp4_from_backend"] = E4 + ip4(BACKEND4, CLIENT4, ICMP,
                                       icmp4(3, fwd_udp4, code=3))
    f["icmp6_toobig_tcp"] = E6 + ip6(ROUTER6, VIP6, ICMP6,
                                     icmp6(2, back_tcp6, word=1280))
    f["icmp6_unreach_udp_ext"] = E6 + ip6(ROUTER6, VIP6, ICMP6,
                                          icmp6(1, back_udp6))
    f["bad_icmp4_quote_short"] = E4 + ip4(ROUTER4, VIP4, ICMP,
                                          icmp4(3, back_tcp4[:27]))
    f["icmp4_echo"] = E4 + ip4(CLIENT4, VIP4, ICMP, icmp4(8, pay[:16]))
    f["icmp6_echo"] = E6 + ip6(CLIENT6, VIP6, ICMP6, icmp6(128, pay[:8]))
    f["gre4"] = E4 + ip4(CLIENT4, VIP4, GRE, pay[:24])
    f["arp_request"] = EA + arp(1, MAC_PEER, CLIENT4, bytes(6), VIP4)
    f["arp_reply_vlan"] = (eth(0x0806, 7) +
                           arp(2, MAC_PEER, BACKEND4, MAC_US, VIP4))
    f["arp_probe"] = EA + arp(1, MAC_PEER, "0.0.0.0", bytes(6), BACKEND4)
    f["ns"] = (eth(0x86DD, dst=bytes.fromhex("3333ff000010")) +
               ip6(CLIENT6, "ff02::1:ff00:10", ICMP6, nd(135, VIP6, 1)))
    f["ns_dad"] = E6 + ip6("::", "ff02::1:ff00:10", ICMP6, nd(135, VIP6))
    f["na"] = E6 + ip6(BACKEND6, VIP6, ICMP6, nd(136, BACKEND6, 2, 0x60))
    f["na_opt_len0"] = E6 + ip6(BACKEND6, VIP6, ICMP6,
                                nd(136, BACKEND6, 2, 0x60, opt_len=0))
    # Each breaks one rule.
    ok4 = ip4(CLIENT4, VIP4, TCP, tcp(40000, 80, 0x10, pay))
    ok6 = ip6(CLIENT6, VIP6, UDP, udp(5000, 4500, pay))
    f["bad_ip4_totlen"] = E4 + ok4[:2] + struct.pack("!H", len(ok4) + 1) + ok4[4:]
    f["bad_ip4_ihl"] = E4 + b"\x4f" + ok4[1:2] + struct.pack("!H", 40) + ok4[4:]
    f["bad_ip6_plen"] = E6 + ok6[:4] + struct.pack("!H", len(ok6) - 39) + ok6[6:]
    short4 = ip4(CLIENT4, VIP4, TCP, tcp(40000, 80, 0x10, pay[:8]))
    f["bad_tcp_doff"] = E4 + short4[:32] + b"\xf0" + short4[33:]
    f["bad_udp_len"] = E6 + ok6[:44] + struct.pack("!H", 7) + ok6[46:]
    f["bad_qinq"] = (MAC_US + MAC_PEER +
                     struct.pack("!HHHH", 0x88A8, 5, 0x8100, 6) +
                     struct.pack("!H", 0x0800) + ok4)
    f["bad_arp_htype"] = EA + arp(1, MAC_PEER, CLIENT4, bytes(6), VIP4, 6)
    f["bad_eth_short"] = E4[:13]
    return f


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(frames().items()):
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
    print("%d seeds in %s" % (len(frames()), OUT))


if __name__ == "__main__":
    main()
