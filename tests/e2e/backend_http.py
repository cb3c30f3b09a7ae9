#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Backend HTTP server of the end-to-end rig: backend_http.py NAME.

Listens dual-stack on [::] ports 80 and 8080 (DSR and tunnel modes reach
port 80 on a VIP, NAT mode port 8080 on the backend's own address), HTTP/1.1
with keep-alive, one daemon thread per connection.

  GET /            -> 200, body "NAME\\n"
  GET /v1...       -> the same (request routing's path rules, tests/e2e/requests.sh)
  GET /slow?ms=N   -> the same after sleeping N ms (at most 60000)
  anything else    -> 404

With --tls CERT,KEY every port serves HTTPS instead (request routing by
SNI, tests/e2e/requests.sh), the TLS handshake done in the connection's
own thread.

The pid file is written once every port is bound, so that its existence
means "ready", and removed on exit (SIGTERM, SIGINT).  Python standard
library only.
"""

import argparse
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_SLOW_MS = 60000


class DualStackServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def server_bind(self):
        # One socket for IPv4 and IPv6: IPv4 peers appear as ::ffff:a.b.c.d.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def make_handler(name):
    body = (name + "\n").encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive unless the client closes
        server_version = "halb-e2e-backend"
        timeout = 120  # an idle keep-alive connection is dropped after this

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/slow":
                try:
                    ms = int(parse_qs(url.query).get("ms", ["0"])[0])
                except ValueError:
                    self.send_error(400, "ms must be an integer")
                    return
                time.sleep(min(max(ms, 0), MAX_SLOW_MS) / 1000.0)
            elif url.path != "/" and not url.path.startswith("/v1"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            # Thousands of requests per test: log only what went wrong.
            pass

        def log_error(self, fmt, *args):
            sys.stderr.write("%s: %s %s\n" % (name, self.address_string(), fmt % args))

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help="answered as the body, e.g. b1")
    ap.add_argument("--ports", default="80,8080", help="comma-separated (default 80,8080)")
    ap.add_argument("--pid-file", help="default: $TMPDIR/halb-backend-NAME.pid")
    ap.add_argument("--tls", metavar="CERT,KEY", help="serve HTTPS with this certificate and key")
    args = ap.parse_args()

    pid_file = args.pid_file or os.path.join(tempfile.gettempdir(), "halb-backend-%s.pid" % args.name)
    handler = make_handler(args.name)
    try:
        servers = [DualStackServer(("::", int(p)), handler) for p in args.ports.split(",")]
    except OSError as e:
        sys.exit("backend %s: cannot listen: %s" % (args.name, e))
    if args.tls:
        cert, key = args.tls.split(",", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        for s in servers:
            # The handshake happens on the handler's first read, in its
            # own thread, not in the accepting loop.
            s.socket = ctx.wrap_socket(s.socket, server_side=True,
                                       do_handshake_on_connect=False)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    tmp = pid_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.replace(tmp, pid_file)  # appears whole, once the ports are bound
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
        try:
            os.unlink(pid_file)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    main()
