#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpus of the request parser's fuzzer
(tests/fuzz/corpus/l7req): byte streams a client may open a connection
with.

HTTP/1.0 and 1.1 requests in every target form, with Host variants
(ports, IPv6 literals, a trailing dot, case), bare LF line ends, a body,
and requests that break one rule each (folding, white space before the
colon, two Hosts, no Host in 1.1, a bare CR, HTTP/2's preface, CONNECT);
TLS ClientHellos built here from RFC 8446 4.1.2 (written from the RFCs,
not from the C) with SNI and ALPN, in one record and split over records
of 1, 7 and 300 bytes, with padding, without extensions, and with one
length or byte wrong each.  Standard library only; the output is kept in
git.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                   "l7req")


def ext(etype, body):
    return struct.pack(">HH", etype, len(body)) + body


def sni_ext(name):
    n = name.encode()
    entry = b"\x00" + struct.pack(">H", len(n)) + n
    return ext(0, struct.pack(">H", len(entry)) + entry)


def alpn_ext(protos):
    lst = b"".join(bytes([len(p)]) + p.encode() for p in protos)
    return ext(16, struct.pack(">H", len(lst)) + lst)


def client_hello(sni=None, alpn=(), pad=0, no_ext=False, sid=32):
    exts = ext(10, b"\x00\x02\x00\x1d")  # supported_groups: x25519
    exts += ext(43, b"\x02\x03\x04")     # supported_versions: TLS 1.3
    if sni is not None:
        exts += sni_ext(sni)
    if alpn:
        exts += alpn_ext(alpn)
    if pad:
        exts += ext(21, bytes(pad))
    body = b"\x03\x03" + bytes(range(32))
    body += bytes([sid]) + bytes(range(0xA0, 0xA0 + sid))
    body += b"\x00\x06\x13\x01\x13\x02\xc0\x2f"  # cipher suites
    body += b"\x01\x00"                         # null compression
    if not no_ext:
        body += struct.pack(">H", len(exts)) + exts
    return b"\x01" + struct.pack(">I", len(body))[1:] + body


def records(hs, size=16384, ver=0x0301):
    out = b""
    for off in range(0, len(hs), size):
        frag = hs[off:off + size]
        out += b"\x16" + struct.pack(">HH", ver, len(frag)) + frag
    return out


def http_cases():
    c = {}
    c["http-origin"] = (b"GET /v1/users?id=1 HTTP/1.1\r\nHost: api.example.com"
                        b"\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
    c["http-port-case"] = b"GET / HTTP/1.1\r\nhOsT: WWW.Example.COM:8080\r\n\r\n"
    c["http-absolute"] = (b"GET http://a.example.com:81/p/q?x HTTP/1.1\r\n"
                          b"Host: other\r\n\r\n")
    c["http-https-noslash"] = b"GET https://b.example HTTP/1.1\r\nHost: b\r\n\r\n"
    c["http-asterisk"] = b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"
    c["http10-nohost"] = b"GET /static/a.css HTTP/1.0\r\n\r\n"
    c["http-ipv6"] = b"GET / HTTP/1.1\r\nHost: [fd00::1]:8443\r\n\r\n"
    c["http-ipv4"] = b"GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n"
    c["http-dot"] = b"GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n"
    c["http-lf"] = b"GET /lf HTTP/1.1\nHost: lf.example\n\n"
    c["http-body"] = (b"POST /v1/x HTTP/1.1\r\nHost: api.example.com\r\n"
                      b"Content-Length: 5\r\n\r\nhello")
    c["http-empty-host"] = b"GET / HTTP/1.1\r\nHost:\r\n\r\n"
    c["http-partial"] = b"GET /v1/users HTTP/1.1\r\nHost: api.exa"
    c["http-partial-cr"] = b"GET / HTTP/1.1\r"
    c["http-long-header"] = (b"GET / HTTP/1.1\r\nHost: big.example\r\nX-Big: "
                             + b"x" * 6000 + b"\r\n\r\n")
    c["http-long-path"] = (b"GET /" + b"p" * 900 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    c["bad-fold"] = b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n"
    c["bad-space-colon"] = b"GET / HTTP/1.1\r\nHost : h\r\n\r\n"
    c["bad-two-hosts"] = b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"
    c["bad-no-host"] = b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"
    c["bad-bare-cr"] = b"GET / HTTP/1.1\rHost: h\r\n\r\n"
    c["bad-h2-preface"] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    c["bad-connect"] = b"CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n"
    c["bad-version"] = b"GET / HTTP/1.2\r\nHost: h\r\n\r\n"
    c["bad-userinfo"] = b"GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n"
    c["bad-host-char"] = b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"
    return c


def tls_cases():
    c = {}
    hello = client_hello("www.example.org", ("h2", "http/1.1"))
    c["tls-sni-alpn"] = records(hello)
    c["tls-rec1"] = records(hello, 1)
    c["tls-rec7"] = records(hello, 7)
    c["tls-rec300-pad"] = records(client_hello("pad.example.net", pad=1500), 300)
    c["tls-nosni"] = records(client_hello(None, ("h2",)))
    c["tls-noext"] = records(client_hello(no_ext=True, sid=0))
    c["tls-many-alpn"] = records(client_hello(
        "x.example", ["z" * 40] + [chr(ord("a") + i) for i in range(10)]))
    c["tls-partial"] = records(hello)[:60]
    c["tls-then-appdata"] = records(hello) + b"\x17\x03\x03\x00\x02ab"
    r = bytearray(records(hello))
    r[5] = 2                              # a ServerHello
    c["bad-tls-not-hello"] = bytes(r)
    r = bytearray(records(hello))
    r[0] = 0x17                           # application data first
    c["bad-tls-ctype"] = bytes(r)
    c["bad-tls-empty-rec"] = b"\x16\x03\x01\x00\x00"
    c["bad-sslv2"] = b"\x80\x2e\x01\x03\x01\x00\x15"
    bad_sni = client_hello("bad name.example")
    c["bad-tls-sni-char"] = records(bad_sni)
    dup = client_hello("a.example")
    # Two SNI extensions: append one and fix the lengths.
    extra = sni_ext("b.example")
    body = dup[4:]
    ext_off = 2 + 32 + 1 + 32 + 8 + 2
    ext_len = struct.unpack(">H", body[ext_off:ext_off + 2])[0]
    body = (body[:ext_off] + struct.pack(">H", ext_len + len(extra))
            + body[ext_off + 2:] + extra)
    c["bad-tls-dup-sni"] = records(b"\x01" + struct.pack(">I", len(body))[1:] + body)
    r = bytearray(records(hello))
    r[8] += 1                             # the handshake length, one too many
    c["bad-tls-hs-len"] = bytes(r)
    return c


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in {**http_cases(), **tls_cases()}.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
