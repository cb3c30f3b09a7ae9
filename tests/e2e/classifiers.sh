#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Remote classifiers and failover (issue 11; docs/CLASSIFIERS.md), run by
# `make test` (root, the build in build/ or $HALB_BUILD, hugepages).
#
# The rig of tests/e2e/topo.sh plus a classifier host (topo.sh cls-host:
# namespace PREFIX-ch, no DPDK, 198.18.9.2 over a veth from the appliance).
# The appliance's file lists the local classifier, then the remote one
# (halb-classifier --remote in PREFIX-ch, same services, its own health
# socket).  Checks:
#   - with no local classifier, new connections are classified remotely
#     (halbctl classifiers: active cls1; the remote's decisions) and follow
#     the configured weights;
#   - a local classifier started takes over (active local);
#   - kill -9 of it with a standby waiting (--takeover): the standby
#     attaches, the remote is not needed;
#   - kill -9 of the local classifier under keep-alive connections: none
#     breaks, new connections started across the kill are all answered, and
#     the remote takes over (the detection time is printed);
#   - the remote's link dropped: the Maglev fallback takes new connections
#     (counted), and the remote takes over again when the link returns;
#   - forged and replayed punts (to the remote) and decisions (to the
#     forwarder) are refused and counted;
#   - halb-healthd's snapshots reach the remote classifier over UDP: a
#     backend drained by the operator gets no new connection from it.
# Prints PASS/FAIL per check and "classifiers: N passed, M failed".
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQUESTS=${CLS_REQUESTS:-1200}
TOLERANCE=${CLS_TOLERANCE:-0.2}
HOLD_SECONDS=${CLS_HOLD_SECONDS:-5}
PAIR_KEY=5a1e0c7d3b9f4e2a8c6d0b1f3e5a7c9d2b4f6a8c0e1d3b5f7a9c2e4d6b8f0a13
CONF_SRC=${HALB_CONF:-$HALB_TOP/conf/halb.conf}

halb_require_root
halb_check_binaries
halb_check_hugepages

P=hc$$
FP=halb_hc$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/halb-cls.XXXXXX")
CONF=$WORK/halb.conf
RCONF=$WORK/remote.conf
TOPO=0

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	halb_stop_all
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	halb_remove_dpdk_files "$FP"
	[ -r "$CONF" ] && rm -f -- "$(halb_health_socket "$CONF")"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "classifiers: interrupted" >&2; exit 130' INT
trap 'echo "classifiers: terminated" >&2; exit 143' TERM

halb_checks classifiers forwarder classifier remote

# cls KEY...: a value of /halb/classifiers ("0.state", "active", ...).
cls() {
	halb_ctl "$P" "$CONF" json /halb/classifiers 2>/dev/null |
		"$HALB_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["/halb/classifiers"]
for k in sys.argv[1:]:
    v = d
    for p in k.split("."):
        v = v[p]
    print(v)' "$@"
}
active_is() { [ "$(cls active 2>/dev/null)" = "$1" ]; }

# spread SVC URL N OUT: N new connections; all answered, shares within
# TOLERANCE of the weights 1:1:2.
spread() {
	halb_client "$P" --url "$2" --count "$3" --parallel 8 --timeout 3 --max-failures 16 >"$4" 2>&1
	"$HALB_PYTHON" - "$1" "$4" "$3" "$TOLERANCE" <<'EOF'
import json, sys
svc, path, n, tol = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
r = json.load(open(path))
w = {"b1": 1, "b2": 1, "b3": 2}
bad = []
if r["ok"] != n or r["failed"]:
    bad.append("%d of %d answered, %d failed" % (r["ok"], n, r["failed"]))
sh = []
for b, x in w.items():
    want = x / 4
    got = r["by_backend"].get(b, 0) / max(r["ok"], 1)
    sh.append("%s %.0f%%" % (b, 100 * got))
    if abs(got - want) > tol * want:
        bad.append("%s %.1f%% not within %.0f%% of %.0f%%" % (b, 100 * got, 100 * tol, 100 * want))
print("%s: %d/%d ok in %.2f s (%s)%s" % (svc, r["ok"], n, r.get("seconds", 0), ", ".join(sh), ("; " + "; ".join(bad)) if bad else ""))
sys.exit(1 if bad else 0)
EOF
}

# connect_lat IP PORT N: N TCP connects one after the other from the
# client (each a new flow: its SYN is the first packet the classifier
# decides; closed at once); prints "MEDIAN_US P90_US OK", exits non-zero
# unless all N connected.
connect_lat() {
	ip netns exec "$P-cli" "$HALB_PYTHON" - "$@" <<'EOF'
import socket, statistics, sys, time
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lat = []
for i in range(n):
    s = socket.socket()
    s.settimeout(2)
    t = time.perf_counter()
    try:
        s.connect((ip, port))
        lat.append((time.perf_counter() - t) * 1e6)
    except OSError:
        pass
    s.close()
lat.sort()
if not lat:
    print("0 0 0")
    sys.exit(1)
print("%.0f %.0f %d" % (statistics.median(lat), lat[int(len(lat) * 0.9)], len(lat)))
sys.exit(0 if len(lat) == n else 1)
EOF
}
LAT_N=${CLS_LAT_N:-300}

# all_ok URL N: N new connections all answered.
all_ok() {
	halb_client "$P" --url "$1" --count "$2" --parallel 8 --timeout 3 --max-failures 16 2>&1
}

# --- configuration: the appliance's, the classifier host's ------------------
sed -E 's/^([[:space:]]*file_prefix[[:space:]]*=[[:space:]]*)"[^"]*"/\1"'"$FP"'"/' "$CONF_SRC" >"$CONF"
cat >>"$CONF" <<EOF

classifiers = {
  name = "lb";
  timeout_ms = 200;
  ping_ms = 25;
  list = ( { kind = "local"; },
           { kind = "remote"; name = "cls1"; address = "198.18.9.2:7310"; key = "$PAIR_KEY";
             health = "198.18.9.2:7311"; } );
  serve = { name = "cls1"; listen = "0.0.0.0:7310"; health = "0.0.0.0:7311";
            forwarders = ( { name = "lb"; key = "$PAIR_KEY"; } ); };
};
EOF
# The classifier host has its own health socket (the rig shares one file
# system: the appliance's local classifier binds the default one).
"$HALB_PYTHON" - "$CONF" "$RCONF" "$WORK/remote.health" <<'EOF'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r"(\nhealth\s*=\s*\{)", r'\1\n  socket = "%s";' % sys.argv[3], s, count=1)
open(sys.argv[2], "w").write(s)
EOF
chmod 600 "$CONF" "$RCONF"
for c in "$CONF" "$RCONF"; do
	out=$("$HALB_BUILD/classifier/halb-classifier" --check-config "$c" 2>&1) ||
		fatal "halb-classifier --check-config rejects $c: $out"
done
pass "the classifiers { } section is accepted (forwarder's list, remote's serve)"

# --- rig ---------------------------------------------------------------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || fatal "topo.sh up $P"
"$HALB_E2E_DIR/topo.sh" cls-host "$P" || fatal "topo.sh cls-host $P"
halb_start_backends "$P" "$WORK" || fatal "the backends did not start"

halb_spawn "$WORK/remote.log" ip netns exec "$P-ch" "$HALB_BUILD/classifier/halb-classifier" --remote -c "$RCONF"
RCLS_PID=$HALB_LAST_PID
halb_spawn "$WORK/forwarder.log" ip netns exec "$P-lb" "$HALB_BUILD/forwarder/halb-forwarder" -c "$CONF"
FWD_PID=$HALB_LAST_PID
halb_wait_until 30 halb_ctl "$P" "$CONF" status >/dev/null 2>&1 || fatal "the forwarder does not answer within 30 s"
halb_alive "$RCLS_PID" || fatal "the remote classifier exited: $(tail -n 3 "$WORK/remote.log")"

# --- 1: classified remotely, no local classifier ------------------------------
if halb_wait_until 10 active_is cls1; then
	pass "no local classifier: the remote one is active ($(halbctl_line=$(cls 1.state 1.heartbeat_age_ms | tr '\n' ' '); echo "state, pong age ms: $halbctl_line"))"
else
	fatal "the remote classifier is not active within 10 s: $(halb_ctl "$P" "$CONF" json /halb/classifiers 2>&1 | tr -s ' \n' ' ')"
fi
halb_wait_until 20 halb_client "$P" --url http://198.18.2.100/ --count 1 --timeout 1 >/dev/null 2>&1 ||
	fatal "no answer through the remote classifier within 20 s"
if msg=$(spread web-dsr http://198.18.2.100/ "$REQUESTS" "$WORK/spread-dsr.json"); then
	pass "remote: $msg"
else
	fail "remote: $msg"
fi
if msg=$(spread web-nat http://198.18.2.101/ "$REQUESTS" "$WORK/spread-nat.json"); then
	pass "remote: $msg"
else
	fail "remote: $msg"
fi
lat_remote=$(connect_lat 198.18.2.100 80 "$LAT_N") || lat_remote=
dec=$(cls 1.decisions) || dec=0
inst=$(cls installs) || inst=0
fb=$(cls fallbacks) || fb=0
if [ "$dec" -ge $((2 * REQUESTS)) ] && [ "$inst" -ge $((2 * REQUESTS)) ]; then
	pass "the remote decided $dec new flows, the forwarder installed $inst (worker fallbacks: $fb)"
else
	fail "remote decisions $dec, installs $inst for $((2 * REQUESTS)) connections"
fi

# --- 2: the local classifier returns, then dies under connections -------------
halb_spawn "$WORK/classifier.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" -c "$CONF"
CLS_PID=$HALB_LAST_PID
if halb_wait_until 30 active_is local; then
	pass "a local classifier started: it is active again"
else
	fatal "the local classifier is not active within 30 s (active: $(cls active))"
fi
# The same new connections through the local classifier: the time the
# remote's round trip adds shows against this.
if msg=$(spread web-dsr http://198.18.2.100/ "$REQUESTS" "$WORK/spread-local.json"); then
	pass "local: $msg"
else
	fail "local: $msg"
fi
# The first packet's added latency: connect times (SYN to SYN/ACK, the
# SYN decided by the classifier) through the remote one (above) and the
# local one.
if lat_local=$(connect_lat 198.18.2.100 80 "$LAT_N") && [ -n "$lat_remote" ]; then
	read -r rm rp _ <<<"$lat_remote"
	read -r lm lp _ <<<"$lat_local"
	pass "connect time, $LAT_N connects one after the other: remote classifier median $rm us (p90 $rp), local $lm us (p90 $lp): $((rm - lm)) us added at the median"
else
	fail "connect times: not all $LAT_N connects succeeded (remote: ${lat_remote:-failed}, local: ${lat_local:-failed})"
fi
# A standby (--takeover) waits on the attach lock; kill -9 of the local
# classifier: the standby attaches before the heartbeat goes stale, the
# remote is never needed.
sw0=$(cls switches)
halb_spawn "$WORK/standby.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" --takeover=60000 -c "$CONF"
STANDBY_PID=$HALB_LAST_PID
halb_wait_until 30 grep -qs "taking over from the classifier" "$WORK/standby.log" ||
	fail "the standby does not wait for the lock: $(tail -n 3 "$WORK/standby.log")"
halb_stop "$CLS_PID" KILL 5
standby_attached() { grep -qs "halb-classifier: ready" "$WORK/standby.log"; }
if halb_wait_until 10 standby_attached && halb_wait_until 5 active_is local &&
	out=$(all_ok http://198.18.2.100/ 200) && [ "$(cls switches)" = "$sw0" ]; then
	pass "kill -9 of the local classifier with a standby waiting: the standby attached, the remote was never used ($out)"
else
	fail "standby: attached $(standby_attached && echo yes || echo no), active $(cls active), switches $sw0 -> $(cls switches), ${out:-}"
fi
CLS_PID=$STANDBY_PID
declare -A HOLD_PID
while read -r svc url; do
	halb_spawn "$WORK/hold-$svc.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
		--url "$url" --keepalive-hold "$HOLD_SECONDS" --timeout 3
	HOLD_PID[$svc]=$HALB_LAST_PID
done <<<"$HALB_SERVICES4"
holds_connected() {
	local svc
	for svc in "${!HOLD_PID[@]}"; do grep -qs '^connected' "$WORK/hold-$svc.out" || return 1; done
}
halb_wait_until 10 holds_connected || fail "keep-alive connections did not all connect within 10 s"
# New connections across the kill, in the background, under way (the
# local classifier deciding them) when it is killed.
inst0=$(cls local_installs) || inst0=0
halb_spawn "$WORK/across.json" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
	--url http://198.18.2.100/ --count 600 --parallel 4 --timeout 3
ACROSS_PID=$HALB_LAST_PID
under_way() { [ $(( $(cls local_installs) - inst0 )) -ge 50 ]; }
halb_wait_until 10 under_way || fail "the connections across the kill did not start within 10 s"
t0=$(date +%s%N)
halb_stop "$CLS_PID" KILL 5
halb_wait_until 10 active_is cls1
t1=$(date +%s%N)
if active_is cls1; then
	pass "kill -9 of the local classifier: the remote took over in $(((t1 - t0) / 1000000)) ms (classifier_timeout_ms 300, polled every 200 ms)"
else
	fail "the remote did not take over within 10 s of the kill (active: $(cls active))"
fi
for svc in "${!HOLD_PID[@]}"; do
	halb_wait_exit "${HOLD_PID[$svc]}" $((HOLD_SECONDS + 10))
	rc=$?
	summary=$(grep '^{' "$WORK/hold-$svc.out" || echo "(no summary)")
	if [ "$rc" -eq 0 ]; then
		pass "$svc: the established connection survived: $summary"
	else
		fail "$svc: the established connection broke (status $rc): $summary"
	fi
done
halb_wait_exit "$ACROSS_PID" 60
if "$HALB_PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("%d answered, %d failed" % (r["ok"], r["failed"]))
sys.exit(0 if r["ok"] == 600 and not r["failed"] else 1)' "$WORK/across.json" >"$WORK/across.txt" 2>&1; then
	pass "600 new connections across the kill: $(cat "$WORK/across.txt")"
else
	fail "new connections across the kill: $(cat "$WORK/across.txt") $(tail -c 300 "$WORK/across.json")"
fi

# --- 3: the remote's link dropped, then back ----------------------------------
fb0=$(cls fallbacks)
nr0=$(cls no_remote)
ip -n "$P-lb" link set cls0 down
if halb_wait_until 5 active_is none; then
	pass "link to the remote dropped: no classifier active (remote state $(cls 1.state), $(cls 1.deaths) death(s))"
else
	fail "still active after the link dropped: $(cls active)"
fi
if out=$(all_ok http://198.18.2.100/ 200); then
	pass "200 new connections without any classifier: $out"
else
	fail "new connections without any classifier: $out"
fi
fb1=$(cls fallbacks)
if [ $((fb1 - fb0)) -ge 200 ]; then
	pass "fallbacks counted: $((fb1 - fb0)) Maglev decisions by the workers, $(( $(cls no_remote) - nr0 )) held frames by Maglev"
else
	fail "fallbacks went from $fb0 to $fb1 for 200 connections"
fi
dec0=$(cls 1.decisions)
ip -n "$P-lb" link set cls0 up
if halb_wait_until 10 active_is cls1; then
	pass "link back: the remote is active again"
else
	fail "the remote is not active again within 10 s of its link's return"
fi
if out=$(all_ok http://198.18.2.101/ 200) && [ $(( $(cls 1.decisions) - dec0 )) -ge 200 ]; then
	pass "200 new connections classified remotely again: $out"
else
	fail "after the link's return: $out, remote decisions $dec0 -> $(cls 1.decisions)"
fi

# --- 4: forged and replayed messages --------------------------------------------
FWD_PORT=$(ip netns exec "$P-lb" ss -uanpH 2>/dev/null | awk '/halb-forwarder/ { n = split($4, a, ":"); print a[n]; exit }')
cat >"$WORK/inject.py" <<'EOF'
import os, socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
import gen_sync_corpus as g
host, port, what, key = sys.argv[2], int(sys.argv[3]), sys.argv[4], bytes.fromhex(sys.argv[5])
now = int(time.time() * 1000)
seq = int(time.time() * 1e6) + 2000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if what == "punt":
    eth = bytes(12) + b"\x08\x00"
    tcp = struct.pack(">HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0,
                     bytes([198, 18, 1, 77]), bytes([198, 18, 2, 100]))
    fr = g.f_varint(1, 1) + g.f_varint(2, 0) + g.f_bytes(4, eth + ip + tcp)
    payload = g.f_varint(1, 99) + g.f_bytes(3, fr)
    typ, sender = 32, "lb"
else:
    d = g.f_varint(1, 1) + g.f_varint(2, 0) + g.f_varint(3, 0)
    payload = g.f_varint(1, 99) + g.f_varint(2, 12345) + g.f_bytes(3, d)
    typ, sender = 33, "cls1"
forged = g.seal(payload, typ, sender=sender, key=bytes(32), seq=seq, ts=now)
honest = g.seal(payload, typ, sender=sender, key=key, seq=seq + 1, ts=now)
s.sendto(forged, (host, port))
s.sendto(honest, (host, port))
s.sendto(honest, (host, port))   # the same again: a replay
EOF
rr0=$(cls 1.remote_refused)
ip netns exec "$P-lb" "$HALB_PYTHON" "$WORK/inject.py" "$HALB_TOP/tests/fuzz" 198.18.9.2 7310 punt "$PAIR_KEY"
remote_counted() { [ $(( $(cls 1.remote_refused) - rr0 )) -ge 2 ]; }
if halb_wait_until 5 remote_counted; then
	pass "forged and replayed punts refused by the remote classifier ($(( $(cls 1.remote_refused) - rr0 )) counted; its log: $(grep -c 'datagram refused' "$WORK/remote.log") line(s))"
else
	fail "the remote classifier's refusals went from $rr0 to $(cls 1.remote_refused)"
fi
if [ -n "$FWD_PORT" ]; then
	mac0=$(cls rx_refused_bad_mac) rep0=$(cls rx_refused_replay)
	ip netns exec "$P-ch" "$HALB_PYTHON" "$WORK/inject.py" "$HALB_TOP/tests/fuzz" 198.18.9.1 "$FWD_PORT" decision "$PAIR_KEY"
	fwd_counted() { [ "$(cls rx_refused_bad_mac)" -gt "$mac0" ] && [ "$(cls rx_refused_replay)" -gt "$rep0" ]; }
	if halb_wait_until 5 fwd_counted; then
		pass "forged and replayed decisions refused by the forwarder (bad-mac $(cls rx_refused_bad_mac), replay $(cls rx_refused_replay), stale boot $(cls stale_boot))"
	else
		fail "the forwarder's refusals: bad-mac $mac0 -> $(cls rx_refused_bad_mac), replay $rep0 -> $(cls rx_refused_replay)"
	fi
else
	fail "cannot find the forwarder's punt socket (ss -uanp)"
fi
# --- 5: halb-healthd's snapshots reach the remote classifier -------------------
# The agents report, healthd merges; the operator drains web-dsr's b3
# (weight 2): new connections through the remote classifier avoid it.
if halb_write_agent_confs "$CONF" "$WORK" 200 && halb_start_agents "$P" "$WORK"; then
	halb_start_healthd "$P" "$CONF" "$WORK/healthd.log"
	halb_wait_until 15 halb_healthd_up "$P" "$CONF" || fail "halb-healthd does not answer within 15 s"
	halb_ctl "$P" "$CONF" drain web-dsr 198.18.0.13:80 >/dev/null 2>&1 ||
		fail "halbctl drain web-dsr 198.18.0.13:80 refused"
	no_b3() {
		halb_client "$P" --url http://198.18.2.100/ --count 40 --parallel 4 --timeout 3 >"$WORK/drain.json" 2>&1 &&
			"$HALB_PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["ok"] == 40 and "b3" not in r["by_backend"] else 1)' "$WORK/drain.json"
	}
	before=$(cls fallbacks hold_timeout hold_full no_remote 1.deaths | tr '\n' ' ')
	if halb_wait_until 15 no_b3 && out=$(all_ok http://198.18.2.100/ 200) && ! echo "$out" | grep -q '"b3"'; then
		pass "healthd's snapshots reach the remote classifier over UDP: b3 drained, 200 new connections avoid it: $out"
	else
		fail "the remote classifier does not follow healthd: $(tail -c 300 "$WORK/drain.json") ${out:-}; fallbacks hold_timeout hold_full no_remote deaths: $before-> $(cls fallbacks hold_timeout hold_full no_remote 1.deaths | tr '\n' ' '); healthd: $(tail -n 3 "$WORK/healthd.log" | tr '\n' ' ')"
	fi
else
	fail "the agents did not start"
fi
halb_alive "$FWD_PID" && halb_alive "$RCLS_PID" || fail "a process died"
halb_ctl "$P" "$CONF" classifiers >"$WORK/halbctl.txt" 2>&1 && pass "halbctl classifiers answers ($(wc -l <"$WORK/halbctl.txt") lines)" ||
	fail "halbctl classifiers: $(cat "$WORK/halbctl.txt")"

halb_stop "$FWD_PID" TERM 10 || fail "the forwarder did not exit cleanly on SIGTERM"
halb_stop "$RCLS_PID" TERM 5 || fail "the remote classifier did not exit cleanly on SIGTERM"
finish
