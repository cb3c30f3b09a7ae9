#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""halb-exporter alone, with none of its sources running (meson test).

  exporter_test.py BUILD/exporter/halb-exporter SRCDIR

Starts the exporter on a free port of the loopback with a copy of
conf/halb.conf whose file_prefix no process uses, and checks that:
  - /metrics answers 200 with Prometheus's text type, and the body parses
    with prometheus_client's parser, every family typed;
  - with no forwarder and no halb-healthd, halb_forwarder_up and
    halb_healthd_up are 0 and every part's halb_part_up is 0; no
    service or backend sample is made up;
  - another path answers 404, POST 405;
  - SIGUSR1 and SIGUSR2 change the log level and leave it serving;
  - SIGTERM stops it with status 0.
A bad metrics.listen (an address the machine does not have) makes it
exit 1, saying so.  The scrapes are a loop of bounded waits, no sleeps.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

exe, src = sys.argv[1], sys.argv[2]
failures = []


def check(ok, what):
    print("%s: %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        failures.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def conf_with(tmp, listen):
    text = open(os.path.join(src, "conf/halb.conf")).read()
    text = re.sub(r'file_prefix\s*=\s*"[^"]*"', 'file_prefix = "halb_exptest%d"' % os.getpid(), text)
    text += '\nmetrics = { listen = "%s"; };\n' % listen
    path = os.path.join(tmp, "halb.conf")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def get(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def wait_until(pred, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


with tempfile.TemporaryDirectory() as tmp:
    port = free_port()
    conf = conf_with(tmp, "127.0.0.1:%d" % port)
    log = open(os.path.join(tmp, "exporter.log"), "w+")
    p = subprocess.Popen([exe, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return p.poll() is not None
        check(wait_until(up, 10) and p.poll() is None, "halb-exporter listens on 127.0.0.1:%d" % port)
        status, ctype, body = get(url + "/metrics")
        check(status == 200 and ctype.startswith("text/plain") and "version=0.0.4" in ctype,
              "/metrics: %d %s" % (status, ctype))
        fams = list(text_string_to_metric_families(body))
        names = {f.name for f in fams}
        check(len(names) == len(fams) and all(f.type in ("gauge", "counter") for f in fams),
              "every family once, typed: %s" % sorted(names))
        values = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams for s in f.samples}
        check(values.get(("halb_forwarder_up", ())) == 0, "halb_forwarder_up 0 without a forwarder")
        check(values.get(("halb_healthd_up", ())) == 0, "halb_healthd_up 0 without halb-healthd")
        for part in ("forwarder", "classifier", "healthd", "sessiond"):
            check(values.get(("halb_part_up", (("part", part),))) == 0, "halb_part_up{part=%s} 0" % part)
        check(not any(n.startswith(("halb_backend", "halb_service", "halb_worker")) for n, _ in values),
              "no service, backend or worker sample without a forwarder")
        status, _, _ = get(url + "/")
        check(status == 404, "/ answers 404 (%d)" % status)
        status, _, _ = get(url + "/metrics", "POST")
        check(status == 405, "POST answers 405 (%d)" % status)
        p.send_signal(signal.SIGUSR1)
        p.send_signal(signal.SIGUSR2)
        check(wait_until(lambda: open(log.name).read().count("log level now") == 2, 5),
              "SIGUSR1 and SIGUSR2 change the log level: %r" % re.findall(r"log level now \w+", open(log.name).read()))
        status, _, _ = get(url + "/metrics")
        check(status == 200 and p.poll() is None, "still serving after the signals")
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "SIGTERM: exit status %s" % rc)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # An address this machine does not have.
    conf = conf_with(tmp, "192.0.2.1:%d" % port)
    r = subprocess.run([exe, "-c", conf], capture_output=True, text=True, timeout=10)
    check(r.returncode == 1 and "cannot listen on metrics.listen 192.0.2.1" in r.stderr,
          "a listen address not ours: status %d, %r" % (r.returncode, r.stderr.strip()[-160:]))
    log.seek(0)
    if failures:
        print("--- exporter log:\n" + log.read())

print("exporter_test: %d failed" % len(failures))
sys.exit(1 if failures else 0)
