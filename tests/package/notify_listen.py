#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Stands in for systemd's notify socket (sd_notify(3)) in
tests/package/package.sh: binds a unix datagram socket at PATH, writes
each message received to OUT (one line each, flushed), and exits after
READY=1 or after TIMEOUT seconds, whichever comes first.

usage: notify_listen.py PATH OUT TIMEOUT
"""
import os
import socket
import sys
import time


def main():
    path, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    deadline = time.monotonic() + timeout
    with open(out, "w") as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return 1
            s.settimeout(left)
            try:
                msg = s.recv(4096).decode("utf-8", "replace")
            except socket.timeout:
                return 1
            for line in msg.splitlines():
                f.write(line + "\n")
            f.flush()
            if "READY=1" in msg.splitlines():
                return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        try:
            os.unlink(sys.argv[1])
        except OSError:
            pass
