#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# scripts/demo.sh: what `make run` does.  Needs root, the build (build/ or
# $HALB_BUILD) and hugepages (`make hugepages`).  With APPLIANCES=2 or 3
# it runs the routing fabric's demo instead (tests/e2e/fabric.sh --demo).
#
# Brings up the rig of tests/e2e/topo.sh under the prefix "hd" (client,
# router, switch, appliance, three backends in network namespaces), starts
# halb-forwarder and halb-classifier on conf/halb.conf (or $HALB_CONF),
# halb-healthd beside them on the appliance's management leg mgmt0
# (health.listen, 198.18.0.3:7300), and on each backend, besides its HTTP
# server, a halb-agent (files made by halb_agent_conf, tests/e2e/lib.sh)
# that checks that server over HTTP for each service and reports the
# host's real load every second.  Once every backend is up from its agent,
# in halb-healthd and in the forwarder, it sends real HTTP traffic to the
# six VIPs from the client namespace (DEMO_RATE new connections per service
# per second, default 10), and shows every second which backend answered
# how many requests per service, the forwarder's state and counters
# (halbctl status, halbctl stats) and a table of each backend's state,
# source, weight and flows per service (halbctl services) with each host's
# load as its agent reports it (halbctl health).
#
# Runs until Ctrl-C on a terminal; when stdin is not a terminal, or
# DEMO_SECONDS is set, for DEMO_SECONDS seconds (default 20), then exits 0
# if requests were answered, the forwarder is still up and every backend
# is up from its agent in `halbctl health` and `halbctl services`.  Every
# exit path stops what it started (by PID) and removes the rig.
set -uo pipefail

# APPLIANCES=2 or 3 (make run APPLIANCES=N): the routing fabric instead, N
# appliances behind a BGP/ECMP router (tests/e2e/fabric.sh --demo shows
# the router's routes and the spread over appliances and backends).
if [ "${APPLIANCES:-1}" != 1 ]; then
	exec "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/fabric.sh" --demo
fi

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"

P=hd
CONF=${HALB_CONF:-$HALB_TOP/conf/halb.conf}
RATE=${DEMO_RATE:-10}
INTERVAL_MS=1000   # the agents' report interval (docs/AGENT.md's default)
HSTATE=$HALB_E2E_DIR/health/hstate.py
if [ -n "${DEMO_SECONDS:-}" ] || [ ! -t 0 ]; then
	DURATION=${DEMO_SECONDS:-20}
else
	DURATION=0  # until Ctrl-C
fi
[ -t 1 ] && TTY=1 || TTY=0

halb_require_root
halb_check_binaries healthload/halb-healthd healthload/halb-agent
halb_check_hugepages
[ -r "$CONF" ] || halb_die "$CONF is missing"
# The handler's address, name and key, the backend hosts' keys.
halb_conf_health "$CONF" || halb_die "$CONF does not fit the rig's health and load (see above)"
[[ $RATE =~ ^[1-9][0-9]*$ && $DURATION =~ ^[0-9]+$ ]] ||
	halb_die "DEMO_RATE must be a positive number, DEMO_SECONDS a number of seconds"
FP=$(halb_conf_file_prefix "$CONF")
[ -n "$FP" ] || halb_die "$CONF sets no eal.file_prefix"

# The agents' files, logs and control sockets.  Unix socket paths must
# stay short (108 bytes): a short temporary dir.
WORK=$(mktemp -d /tmp/halb-demo.XXXXXX)
TOPO=0
FWD_PID=
FWD_UP=0   # what is under file prefix $FP is our forwarder's
CLS_PID=
HD_PID=
NB=0       # backends over all services

# The script's own stdout and stderr, for cleanup: an interrupt may come
# while a command's output goes to a file.
exec 8>&1 9>&2

cleanup() {
	local rc=$? s
	trap - EXIT INT TERM
	exec 1>&8 2>&9
	[ "$TTY" = 1 ] && printf '\n'
	echo "demo: stopping"
	halb_stop_all
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	# What DPDK leaves under the file prefix is ours once our forwarder
	# ran as its primary, and so are the prefix's health sockets (the
	# classifier and halb-healthd remove theirs unless killed).
	if [ "$FWD_UP" = 1 ]; then
		halb_remove_dpdk_files "$FP"
		for s in "$(halb_health_socket "$CONF")" "$(halb_health_status_socket "$CONF")"; do
			[ -S "$s" ] && rm -f -- "$s"
		done
	fi
	rm -rf "$WORK"
	echo "demo: rig $P removed"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT   # Ctrl-C is how a demo on a terminal ends
trap 'exit 143' TERM

show_logs() {
	local f n
	for f in forwarder classifier healthd agent-b1 agent-b2 agent-b3; do
		[ -s "$WORK/$f.log" ] || continue
		n=25
		[ "$f" = "${f#agent}" ] || n=8
		echo "--- last $n lines of the $f log:"
		tail -n "$n" "$WORK/$f.log"
	done
}
give_up() { echo "demo: $*" >&2; show_logs >&2; exit 1; }

now_us() { echo "${EPOCHREALTIME/./}"; }

# sleep_until T_US: sleep until the time T_US (microseconds, now_us's clock).
sleep_until() {
	local left=$(($1 - $(now_us)))
	[ "$left" -gt 0 ] && sleep "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))"
	return 0
}

# traffic_loop NAME URL: one client run of RATE new connections starting
# every second (or as soon as the previous one ends, if later), each run's
# JSON summary appended to WORK/traffic-NAME.jsonl.  Runs in a subshell; on
# TERM it stops its client and exits.
traffic_loop() {
	local name=$1 url=$2 child='' next
	trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM
	next=$(now_us)
	while :; do
		ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" --url "$url" --count "$RATE" \
			--parallel 2 --timeout 3 --max-failures 4 >>"$WORK/traffic-$name.jsonl" 2>/dev/null </dev/null &
		child=$!
		wait "$child"
		next=$((next + 1000000))
		[ "$next" -lt "$(now_us)" ] && next=$(now_us)
		sleep_until "$next" &
		child=$!
		wait "$child"
		child=
	done
}

# The table of answers per service and backend, from the clients' summaries.
traffic_table() {
	"$HALB_PYTHON" - "$WORK" "$HALB_SERVICES4
$HALB_SERVICES6" <<'EOF'
import json, os, sys
work, services = sys.argv[1], [l.split() for l in sys.argv[2].splitlines() if l.strip()]
print("%-12s %-27s %7s %6s   %s" % ("service", "URL", "ok", "failed", "answers per backend (share)"))
tot_ok = tot_failed = 0
for name, url in services:
    ok = failed = 0
    by = {}
    try:
        for line in open(os.path.join(work, "traffic-%s.jsonl" % name)):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            ok += r["ok"]; failed += r["failed"]
            for b, n in r["by_backend"].items():
                by[b] = by.get(b, 0) + n
    except FileNotFoundError:
        pass
    tot_ok += ok; tot_failed += failed
    shares = "  ".join("%s %5d (%4.1f%%)" % (b, n, 100.0 * n / ok) for b, n in sorted(by.items()))
    print("%-12s %-27s %7d %6d   %s" % (name, url, ok, failed, shares))
print("total: %d answered, %d failed" % (tot_ok, tot_failed))
EOF
}

# "ANSWERED FAILED" over every service so far.
totals() { traffic_table | awk '/^total:/ { print $2, $4; found = 1 } END { if (!found) print 0, 0 }'; }

# "UP/N": how many of halb-healthd's N backends are up from their agent.
agents_up() {
	halb_ctl "$P" "$CONF" health json 2>/dev/null |
		awk '/"backend":/ { n++; if (/"state":"up"/ && /"source":"agent"/) up++ } END { printf "%d/%d\n", up, n }'
}

# backends_up_from_agents: every backend (NB of them) is up, source agent,
# in halb-healthd's cache (halbctl health) and in what the forwarder uses
# (halbctl services); else 1, the first mismatches in WORK/mismatch.
backends_up_from_agents() {
	local what out
	for what in health services; do
		if [ "$what" = health ]; then
			out=$(halb_ctl "$P" "$CONF" health json 2>&1)
		else
			out=$(halb_ctl "$P" "$CONF" services 2>&1)
		fi || { echo "halbctl $what: $(echo "$out" | head -n 1)" >"$WORK/mismatch"; return 1; }
		out=$(printf '%s\n' "$out" | "$HALB_PYTHON" "$HSTATE" "$what" --state up --source agent --count "$NB") ||
			{ echo "halbctl $what: $out" >"$WORK/mismatch"; return 1; }
	done
}

# The backends per service as the forwarder uses them (state, source,
# weight, flows: halbctl services), each host's load as its agent reported
# it (halbctl health), and why a backend is not up, from the files WORK/
# services.txt and WORK/health.json.
backends_table() {
	"$HALB_PYTHON" - "$WORK/services.txt" "$WORK/health.json" "$HALB_BACKENDS" <<'EOF'
import json, re, sys
svc_text, health_text = open(sys.argv[1]).read(), open(sys.argv[2]).read()
hosts = sys.argv[3].split()
# The rig's backend addresses: bN is 198.18.0.1N and fd00:68::1N.
host_of = {}
for h in hosts:
    host_of["198.18.0.1" + h[1:]] = host_of["fd00:68::1" + h[1:]] = h
services = []  # (name, pkts, fallbacks, {host: {state, weight, source, flows...}})
for line in svc_text.splitlines():
    m = re.match(r"^(\S+):\s*$", line)
    if m:
        services.append([m.group(1).replace("_", "-"), "-", "-", {}])
        continue
    m = re.match(r"^\s*-\s+vip=\S+ .*pkts=(\d+) .*fallbacks=(\d+)", line)
    if m and services:
        services[-1][1:3] = m.groups()
        continue
    m = re.match(r"^\s*-\s+(\S+) (port=.*)$", line)
    if m and services:
        services[-1][3][host_of.get(m.group(1), m.group(1))] = dict(
            kv.split("=", 1) for kv in m.group(2).split() if "=" in kv)
health, tail = {}, None
for line in health_text.splitlines():
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if "counters" in o:
        tail = o
    elif "backend" in o:
        addr = o["backend"].rsplit(":", 1)[0].strip("[]")
        health[(o["service"], host_of.get(addr, addr))] = o
W = 22
print("%-12s " % "service" + "".join("%-*s" % (W, h) for h in hosts) + "%9s %s" % ("pkts", "fallbacks"))
notes = {}  # one line per host and what is said of it, listing the services
for name, pkts, fallbacks, by in services:
    cells = []
    for h in hosts:
        f = by.get(h)
        if f is None:
            cells.append("-")
            continue
        cell = "%s %s w%s %sf" % (f.get("state"), f.get("source"), f.get("weight"), f.get("flows"))
        o = health.get((name, h))
        if o is not None:
            why = o.get("agent_reason") or o.get("probe_why") or ""
            if o["state"] != "up":
                notes.setdefault("%s: %s from its %s%s" % (h, o["state"], o["source"], " (%s)" % why if why else ""),
                                 []).append(name)
            if (o["state"], str(o["weight"])) != (f.get("state"), f.get("weight")):
                cell += " *"
                notes.setdefault("* %s: halb-healthd says %s w%d, the forwarder still has %s w%s"
                                 % (h, o["state"], o["weight"], f.get("state"), f.get("weight")), []).append(name)
        cells.append(cell)
    print("%-12s " % name + "".join("%-*s" % (W, c) for c in cells) + "%9s %s" % (pkts, fallbacks))
if not services:
    print("(no answer from the forwarder)")
cpu, conns = [], []
for h in hosts:
    o = next((o for (s, hh), o in sorted(health.items()) if hh == h and o.get("load")), None)
    if o is None:
        cpu.append("-")
        conns.append("")
        continue
    l = o["load"]
    cpu.append("cpu %.1f%% mem %.0f%%" % (l["cpu_permille"] / 10.0, l["mem_used_permille"] / 10.0))
    age = o.get("agent_age_ms")
    conns.append("%d conns%s" % (l["active_connections"], " (%.1fs old)" % (age / 1000.0) if age is not None else ""))
print(("%-12s " % "host load" + "".join("%-*s" % (W, c) for c in cpu)).rstrip())
print(("%-12s " % "" + "".join("%-*s" % (W, c) for c in conns)).rstrip())
if tail is not None:
    hd, c = tail["healthd"], tail["counters"]
    refused = " ".join("%s %d" % kv for kv in sorted(c.get("rejected", {}).items()) if kv[1])
    up = sum(1 for o in health.values() if o["state"] == "up" and o["source"] == "agent")
    print("halb-healthd %s: %d/%d backends up from their agents (%d/%d agents heard), policy %s, "
          "generation %d, refused: %s" % (hd["name"], up, len(health), hd["agents_heard"], hd["agents"],
                                          hd["policy"], hd["generation"], refused or "none"))
else:
    print("halb-healthd: " + (health_text.strip().splitlines() or ["no answer"])[0])
lines = ["%s in %s" % (n, "all %d services" % len(svcs) if len(svcs) == len(services) > 1 else " ".join(svcs))
         for n, svcs in notes.items()]
for n in lines[:6]:
    print(n)
if len(lines) > 6:
    print("... and %d more" % (len(lines) - 6))
EOF
}

# `halbctl stats` in a few lines: the counters that are not 0, four a line,
# those of a section (e.g. "drops:") named section.counter.
compact_stats() {
	awk '/^[^ ].*:$/ { sec = substr($1, 1, length($1) - 1) "."; next }
	     /^[^ ]/ { sec = "" }
	     NF == 2 && $2 != "0" {
		item = sec substr($1, 1, length($1) - 1) " " $2
		line = line sprintf("%-26s", item)
		if (++n % 4 == 0) { print line; line = "" }
	     }
	     NF != 2 { print }
	     END { if (line != "") print line }'
}

view() {
	local elapsed=$1
	[ "$TTY" = 1 ] && printf '\033[H\033[2J'
	if [ "$DURATION" -gt 0 ]; then
		echo "halb demo: rig $P, ${elapsed}s of ${DURATION}s, $RATE new connections per service per second"
	else
		echo "halb demo: rig $P, ${elapsed}s, $RATE new connections per service per second; Ctrl-C to stop"
	fi
	echo "client 198.18.1.1 -> router -> appliance (forwarder + classifier; halb-healthd on mgmt0 $HALB_HEALTH_LISTEN)"
	echo "  -> backends b1 b2 b3 (weights 1 1 2), each an HTTP server and a halb-agent reporting every ${INTERVAL_MS} ms"
	echo
	traffic_table
	echo
	echo "== halbctl status"
	halb_ctl "$P" "$CONF" status 2>&1
	echo
	echo "== halbctl stats (counters not at 0)"
	halb_ctl "$P" "$CONF" stats 2>&1 | compact_stats
	echo
	echo "== backends: state source weight, flows (halbctl services); load (halbctl health)"
	halb_ctl "$P" "$CONF" services >"$WORK/services.txt" 2>&1
	halb_ctl "$P" "$CONF" health json >"$WORK/health.json" 2>&1
	backends_table
}

# --- bring everything up ----------------------------------------------------
echo "demo: bringing up the rig $P (namespaces $P-cli, $P-rtr, $P-sw, $P-lb, $P-b1..b3)"
# A rig of the same name (from a run that was killed) is not ours to
# remove; any other is, from the start of `topo.sh up` on (an interrupt may
# come while it runs; `down` takes a partial rig).
for n in cli rtr sw lb b1 b2 b3; do
	if [ -e "/run/netns/$P-$n" ]; then
		echo "demo: namespace $P-$n exists already (a rig named $P is up?); remove it with: $HALB_E2E_DIR/topo.sh down $P" >&2
		exit 1
	fi
done
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || exit 1
halb_start_backends "$P" "$WORK" || give_up "the backends' HTTP servers did not start"

echo "demo: starting halb-forwarder on $CONF"
# Nothing under the file prefix yet: whatever appears there is our
# forwarder's, even if an interrupt comes before it answers.
[ -e "/var/run/dpdk/$FP" ] || FWD_UP=1
halb_spawn "$WORK/forwarder.log" ip netns exec "$P-lb" "$HALB_BUILD/forwarder/halb-forwarder" -c "$CONF"
FWD_PID=$HALB_LAST_PID
forwarder_answers_or_died() { ! halb_alive "$FWD_PID" || halb_ctl "$P" "$CONF" status >/dev/null 2>&1; }
halb_wait_until 30 forwarder_answers_or_died
halb_alive "$FWD_PID" || give_up "the forwarder exited before it answered 'halbctl status'"
halb_ctl "$P" "$CONF" status >/dev/null 2>&1 || give_up "the forwarder does not answer 'halbctl status' within 30 s"
FWD_UP=1

echo "demo: starting halb-classifier"
halb_spawn "$WORK/classifier.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" -c "$CONF"
CLS_PID=$HALB_LAST_PID
classifier_up_or_died() { ! halb_alive "$CLS_PID" || halb_classifier_up "$P" "$CONF"; }
halb_wait_until 30 classifier_up_or_died
halb_alive "$CLS_PID" || give_up "the classifier exited before the forwarder reported it up"
halb_classifier_up "$P" "$CONF" || give_up "'halbctl status' does not report 'classifier: up' within 30 s"
NB=$(halb_ctl "$P" "$CONF" services 2>/dev/null | grep -c ' port=')
[ "$NB" -gt 0 ] || give_up "'halbctl services' lists no backend"

echo "demo: starting halb-healthd on mgmt0 ($HALB_HEALTH_LISTEN) and halb-agent on each backend"
halb_start_healthd "$P" "$CONF" "$WORK/healthd.log"
HD_PID=$HALB_LAST_PID
healthd_up_or_died() { ! halb_alive "$HD_PID" || halb_healthd_up "$P" "$CONF"; }
halb_wait_until 10 healthd_up_or_died
halb_alive "$HD_PID" || give_up "halb-healthd exited before it answered 'halbctl health'"
halb_healthd_up "$P" "$CONF" || give_up "halb-healthd does not answer 'halbctl health' within 10 s"
halb_write_agent_confs "$CONF" "$WORK" "$INTERVAL_MS" 2>"$WORK/why.txt" ||
	give_up "the agents' files: $(cat "$WORK/why.txt")"
halb_start_agents "$P" "$WORK" 2>"$WORK/why.txt" || give_up "$(cat "$WORK/why.txt")"
halb_wait_until 15 backends_up_from_agents ||
	give_up "not every backend is up from its agent within 15 s: $(cat "$WORK/mismatch")"
echo "demo: all $NB backends up from their agents, in halb-healthd and in the forwarder"

first_url=$(echo "$HALB_SERVICES4" | awk 'NR == 1 { print $2 }')
halb_wait_until 20 halb_client "$P" --url "$first_url" --count 1 --timeout 1 >/dev/null 2>&1 ||
	give_up "no answer through $first_url within 20 s"

echo "demo: sending traffic to every VIP"
TRAFFIC_PIDS=()
while read -r svc url; do
	( traffic_loop "$svc" "$url" ) &
	HALB_PIDS+=("$!")
	TRAFFIC_PIDS+=("$!")
done <<<"$HALB_SERVICES4
$HALB_SERVICES6"

# --- the live view ------------------------------------------------------------
# One refresh per second on the second, however long a refresh takes.
start_us=$(now_us)
elapsed=0
while :; do
	if [ "$TTY" = 1 ]; then
		view "$elapsed"
	else
		read -r ok failed <<<"$(totals)"
		echo "demo: ${elapsed}s: $ok requests answered, $failed failed; $(agents_up) backends up from their agents"
	fi
	halb_alive "$FWD_PID" || give_up "the forwarder exited"
	[ "$DURATION" -gt 0 ] && [ "$elapsed" -ge "$DURATION" ] && break
	elapsed=$((elapsed + 1))
	sleep_until $((start_us + elapsed * 1000000))
done

# The traffic stops first, so that the last table and the total below
# count the same requests (a refresh takes a while).
for pid in "${TRAFFIC_PIDS[@]}"; do
	kill -TERM "$pid" 2>/dev/null
done
for pid in "${TRAFFIC_PIDS[@]}"; do
	halb_reap "$pid" || true
done
[ "$TTY" = 1 ] || view "$elapsed"
read -r ok failed <<<"$(totals)"
echo
echo "demo: $ok requests answered, $failed failed in ${elapsed}s"
[ "$ok" -gt 0 ] || give_up "no request was answered"
# A backend's check may miss once on busy cores: a few report intervals.
halb_wait_until 5 backends_up_from_agents ||
	give_up "not every backend is up from its agent: $(cat "$WORK/mismatch")"
echo "demo: all $NB backends up from their agents (halbctl health, halbctl services)"
exit 0
