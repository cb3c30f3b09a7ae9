#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Scrapes halb-exporter once and checks what it serves (tests/e2e/e2e.sh).

  metrics_check.py [--healthd] URL SERVICE...

Fetches URL (http://127.0.0.1:9650/metrics), checks the Content-Type of
Prometheus's text format 0.0.4, parses the body with prometheus_client's
parser (which refuses what the format does not allow: a family's samples
apart, a bad name, a bad escape, a second TYPE line), and checks:
  - the forwarder's telemetry and the classifier are up, the forwarder's
    and classifier's heartbeats are fresh;
  - every service named has packets, and every one of its backends has
    packets, bytes and new flows, and its backends' packets add up to the
    service's (the traffic is over when it runs: the counters stand still);
  - each port received packets, each worker's counters are there (with
    no service named: only that they are there), and the flow table's
    fill and capacity.
With --healthd (tests/e2e/health.sh, every backend up from its agent):
halb-healthd is up by its socket and its heartbeat, has heard every
agent host and counted datagrams, and every backend's state is up.
Prints one line per failed check and a summary; exits 1 on any failure.
"""
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main():
    args = sys.argv[1:]
    healthd = args[:1] == ["--healthd"]
    if healthd:
        args = args[1:]
    url, services = args[0], args[1:]
    with urllib.request.urlopen(url, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode()
    bad = []
    if not ctype.startswith("text/plain") or "version=0.0.4" not in ctype:
        bad.append("Content-Type %r is not Prometheus text 0.0.4" % ctype)
    try:
        parsed = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's refusal is the finding
        print("metrics: the parser refuses the text: %s" % e)
        sys.exit(1)
    fams = {f.name: f for f in parsed}
    # The parser takes a family's samples apart from each other as two
    # families of one name; the format wants them together.
    if len(fams) != len(parsed):
        bad.append("families split in parts: %s" % sorted(
            n for n in fams if sum(f.name == n for f in parsed) > 1))
    untyped = [f.name for f in parsed if f.type not in ("counter", "gauge")]
    if untyped:
        bad.append("families without HELP/TYPE: %s" % untyped)
    # The parser strips _total from a counter's family name.
    def samples(name, **labels):
        fam = fams.get(name[:-6] if name.endswith("_total") else name)
        if fam is None:
            return []
        return [s for s in fam.samples if s.name == name and
                all(s.labels.get(k) == v for k, v in labels.items())]

    def value(name, **labels):
        s = samples(name, **labels)
        return s[0].value if len(s) == 1 else None

    for name, want in (("halb_forwarder_up", 1), ("halb_classifier_up", 1)):
        if value(name) != want:
            bad.append("%s is %s, not %s" % (name, value(name), want))
    for part in ("forwarder", "classifier"):
        if value("halb_part_up", part=part) != 1:
            bad.append("halb_part_up{part=%s} is %s" % (part, value("halb_part_up", part=part)))
    if value("halb_healthd_up") is None:
        bad.append("no halb_healthd_up")
    for svc in services:
        total = value("halb_service_packets_total", service=svc)
        if not total:
            bad.append("service %s: halb_service_packets_total is %s" % (svc, total))
        pk = samples("halb_backend_packets_total", service=svc)
        if len(pk) < 2:
            bad.append("service %s: %d backends in halb_backend_packets_total" % (svc, len(pk)))
        for s in pk:
            be = s.labels["backend"]
            for n in ("halb_backend_packets_total", "halb_backend_bytes_total",
                      "halb_backend_new_flows_total"):
                v = value(n, service=svc, backend=be)
                if not v:
                    bad.append("%s{service=%s,backend=%s} is %s" % (n, svc, be, v))
            st = samples("halb_backend_state", service=svc, backend=be)
            if sorted(x.labels["state"] for x in st) != ["down", "draining", "up"] or \
                    sum(x.value for x in st) != 1:
                bad.append("halb_backend_state of %s %s: %s" % (svc, be, [(x.labels["state"], x.value) for x in st]))
            if value("halb_backend_weight", service=svc, backend=be) is None:
                bad.append("no halb_backend_weight for %s %s" % (svc, be))
        if total and sum(s.value for s in pk) != total:
            bad.append("service %s: backends' packets add up to %d, the service's are %d" %
                       (svc, sum(s.value for s in pk), total))
    if healthd:
        for name, labels in (("halb_healthd_up", {}), ("halb_part_up", {"part": "healthd"})):
            if value(name, **labels) != 1:
                bad.append("%s%s is %s" % (name, labels, value(name, **labels)))
        agents, heard = value("halb_healthd_agents"), value("halb_healthd_agents_heard")
        if not agents or heard != agents:
            bad.append("halb-healthd heard %s of %s agent hosts" % (heard, agents))
        if not value("halb_healthd_rx_total"):
            bad.append("halb_healthd_rx_total is %s" % value("halb_healthd_rx_total"))
        ops = samples("halb_backend_operator")
        if not ops or any(s.value != 0 or s.labels.get("decision") != "none" for s in ops):
            bad.append("halb_backend_operator without a decision: %s" % [(s.labels, s.value) for s in ops if s.value])
        ups = samples("halb_backend_state", state="up")
        if not ups or any(s.value != 1 for s in ups):
            bad.append("backends not up: %s" % [s.labels for s in ups if s.value != 1])
    # Traffic went through (the services had theirs): the ports and the
    # workers saw it; without services named, only that they are there.
    ports = samples("halb_port_rx_packets_total")
    if not ports or (services and any(s.value <= 0 for s in ports)):
        bad.append("halb_port_rx_packets_total: %s" % [(s.labels, s.value) for s in ports])
    workers = samples("halb_worker_rx_packets_total")
    if not workers or (services and sum(s.value for s in workers) <= 0):
        bad.append("halb_worker_rx_packets_total: %s" % [(s.labels, s.value) for s in workers])
    for n in ("halb_flows", "halb_flow_capacity", "halb_classifier_installs_total"):
        if value(n) is None:
            bad.append("no %s" % n)
    for b in bad:
        print("metrics: " + b)
    print("metrics: %d families, %d samples, %d services checked%s" %
          (len(fams), sum(len(f.samples) for f in fams.values()), len(services),
           ", %d problems" % len(bad) if bad else ", all as expected"))
    sys.exit(1 if bad else 0)


main()
