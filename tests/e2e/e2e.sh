#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# End-to-end test of halb in network namespaces (run by `make test`; needs
# root, the build in build/ or $HALB_BUILD, and hugepages).
#
# Brings up the rig of tests/e2e/topo.sh under a prefix of its own, runs the
# forwarder and the classifier on a copy of conf/halb.conf with a file_prefix
# of its own, and checks:
#   - every program accepts the configuration (--check-config);
#   - each of the six services (DSR, NAT, tunnel over IPv4 and IPv6) answers
#     every one of 3000 new connections, each backend taking its weight's
#     share of them within 15 % (relative);
#   - a 16 KB request in full-size segments is answered on every service
#     over the rig's MTU of 1500 (tunnel mode: thanks to the appliance's
#     fragmentation-needed / packet-too-big errors);
#   - halb-exporter's /metrics, scraped once the spread is done, parses as
#     Prometheus text (prometheus_client) and shows every service's and
#     backend's traffic, the ports', workers' and heartbeats
#     (tests/e2e/metrics_check.py); `halbctl flows all` lists more flows
#     than one telemetry reply holds, and its filters keep only theirs;
#   - killing the classifier (SIGKILL) breaks none of the established
#     keep-alive connections, the forwarder lives on and reports it, and new
#     connections are all served by the forwarder's fallback;
#   - the forwarder exits cleanly on SIGTERM.
# Prints PASS/FAIL per check and "e2e: N passed, M failed"; exits non-zero
# on any failure.  Every exit path stops the processes it started (by PID),
# removes the rig and its temporary files.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# New connections per service for the spread check.  A backend's share of n
# connections has a standard deviation of sqrt(p(1-p)/n): for the 25 % share
# and n = 1000 the 15 % tolerance is 2.7 sigma, a false failure in about one
# run of 14 over six services; n = 3000 makes it 4.7 sigma (one in 10^5).
REQUESTS=${E2E_REQUESTS:-3000}
TOLERANCE=${E2E_TOLERANCE:-0.15}      # relative, per backend share
HOLD_SECONDS=${E2E_HOLD_SECONDS:-6}
FALLBACK_REQUESTS=${E2E_FALLBACK_REQUESTS:-200}
CONF_SRC=${HALB_CONF:-$HALB_TOP/conf/halb.conf}

halb_require_root
halb_check_binaries
halb_check_hugepages
[ -r "$CONF_SRC" ] || halb_die "$CONF_SRC is missing"

P=he$$
FP=halb_he$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/halb-e2e.XXXXXX")
CONF=$WORK/halb.conf
TOPO=0
FWD_PID=
CLS_PID=
EXP_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	halb_stop_all
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	halb_remove_dpdk_files "$FP"
	# The classifier killed with SIGKILL leaves its health socket.
	[ -r "$CONF" ] && rm -f -- "$(halb_health_socket "$CONF")"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "e2e: interrupted" >&2; exit 130' INT
trap 'echo "e2e: terminated" >&2; exit 143' TERM

HALB_LOG_TAIL=25
halb_checks e2e forwarder classifier

# check_spread SERVICE JSON_FILE: all requests answered and the shares
# within TOLERANCE of the weights; prints the verdict's details.
check_spread() {
	"$HALB_PYTHON" - "$1" "$2" "$REQUESTS" "$TOLERANCE" "${HALB_WEIGHT[b1]}" "${HALB_WEIGHT[b2]}" "${HALB_WEIGHT[b3]}" <<'EOF'
import json, sys
svc, path, n, tol = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
weights = dict(zip(("b1", "b2", "b3"), map(int, sys.argv[5:8])))
try:
    r = json.load(open(path))
except Exception as e:
    print("%s: no summary from the client (%s)" % (svc, e)); sys.exit(1)
bad = []
if r["ok"] != n or r["failed"]:
    bad.append("%d of %d answered, %d failed %s" % (r["ok"], n, r["failed"], r.get("errors", {})))
total = sum(weights.values())
shares = []
for b, w in weights.items():
    want = w / total
    got = r["by_backend"].get(b, 0) / max(r["ok"], 1)
    shares.append("%s %.1f%% (want %.1f%%)" % (b, 100 * got, 100 * want))
    if abs(got - want) > tol * want:
        bad.append("%s's share %.1f%% is not within %.0f%% of %.1f%%" % (b, 100 * got, 100 * tol, 100 * want))
others = set(r["by_backend"]) - set(weights)
if others:
    bad.append("answers from unknown backends %s" % sorted(others))
print("%s: %d/%d ok; %s%s" % (svc, r["ok"], n, ", ".join(shares), ("; " + "; ".join(bad)) if bad else ""))
sys.exit(1 if bad else 0)
EOF
}

echo "e2e: rig $P, DPDK file prefix $FP, binaries from $HALB_BUILD, work dir $WORK"

# --- configuration --------------------------------------------------------
sed -E 's/^([[:space:]]*file_prefix[[:space:]]*=[[:space:]]*)"[^"]*"/\1"'"$FP"'"/' "$CONF_SRC" >"$CONF"
[ "$(halb_conf_file_prefix "$CONF")" = "$FP" ] ||
	fatal "could not set file_prefix in a copy of $CONF_SRC (no 'file_prefix = \"...\";' line?)"
for prog in forwarder/halb-forwarder classifier/halb-classifier tools/halbctl; do
	if out=$("$HALB_BUILD/$prog" --check-config "$CONF" 2>&1); then
		pass "${prog#*/} --check-config accepts the configuration"
	else
		fail "${prog#*/} --check-config rejects the configuration: $out"
	fi
done

# --- rig ------------------------------------------------------------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || fatal "topo.sh up $P"
halb_start_backends "$P" "$WORK" || fatal "the backends' HTTP servers did not start"

halb_spawn "$WORK/forwarder.log" ip netns exec "$P-lb" "$HALB_BUILD/forwarder/halb-forwarder" -c "$CONF"
FWD_PID=$HALB_LAST_PID
forwarder_answers_or_died() { ! halb_alive "$FWD_PID" || halb_ctl "$P" "$CONF" status >/dev/null 2>&1; }
halb_wait_until 30 forwarder_answers_or_died
if ! halb_alive "$FWD_PID"; then
	halb_reap "$FWD_PID"
	fatal "the forwarder exited (status $?) before answering 'halbctl status'"
fi
halb_ctl "$P" "$CONF" status >/dev/null 2>&1 || fatal "the forwarder does not answer 'halbctl status' within 30 s"
pass "forwarder up (halbctl status answers)"

halb_spawn "$WORK/classifier.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" -c "$CONF"
CLS_PID=$HALB_LAST_PID
classifier_up_or_died() { ! halb_alive "$CLS_PID" || halb_classifier_up "$P" "$CONF"; }
halb_wait_until 30 classifier_up_or_died
if ! halb_alive "$CLS_PID"; then
	halb_reap "$CLS_PID"
	fatal "the classifier exited (status $?) before the forwarder reported it up"
fi
halb_classifier_up "$P" "$CONF" || fatal "'halbctl status' does not report 'classifier: up' within 30 s"
pass "classifier up (halbctl status: classifier: up)"

first_url=$(echo "$HALB_SERVICES4" | awk 'NR == 1 { print $2 }')
halb_wait_until 20 halb_client "$P" --url "$first_url" --count 1 --timeout 1 >/dev/null 2>&1 ||
	fatal "no answer through $first_url within 20 s"
pass "first answer through $first_url"

# --- spread over the backends, every service -------------------------------
while read -r svc url; do
	halb_client "$P" --url "$url" --count "$REQUESTS" --parallel 8 --timeout 3 --max-failures 16 \
		>"$WORK/spread-$svc.json" 2>&1
	if msg=$(check_spread "$svc" "$WORK/spread-$svc.json"); then
		pass "$msg"
	else
		fail "$msg"
	fi
done <<<"$HALB_SERVICES4
$HALB_SERVICES6"

# --- metrics and flows (issue 13, item 3) ----------------------------------
# halb-exporter in the appliance's namespace, on metrics.listen's default
# (127.0.0.1:9650 of that namespace: no other rig's).
halb_spawn "$WORK/exporter.log" ip netns exec "$P-lb" "$HALB_BUILD/exporter/halb-exporter" -c "$CONF"
EXP_PID=$HALB_LAST_PID
METRICS_URL=http://127.0.0.1:9650/metrics
exporter_answers() { ip netns exec "$P-lb" curl -sf -o /dev/null "$METRICS_URL"; }
if halb_wait_until 10 exporter_answers; then
	svcs=$(printf '%s\n%s\n' "$HALB_SERVICES4" "$HALB_SERVICES6" | awk '{ print $1 }')
	# shellcheck disable=SC2086
	if out=$(ip netns exec "$P-lb" "$HALB_PYTHON" "$HALB_E2E_DIR/metrics_check.py" "$METRICS_URL" $svcs 2>&1); then
		pass "halb-exporter: $(echo "$out" | tail -n 1)"
	else
		fail "halb-exporter: $out"
	fi
else
	fail "halb-exporter does not answer on $METRICS_URL within 10 s: $(tail -n 5 "$WORK/exporter.log" | tr '\n' ' ')"
fi
halb_stop "$EXP_PID" TERM 5 || fail "halb-exporter did not exit on SIGTERM"

# A fresh batch of web-nat's flows, still in the tables (FIN timeout,
# 10 s) while halbctl reads them: a full dump goes past one telemetry
# reply (100 flows), and each filter keeps only the flows it names.
halb_client "$P" --url http://198.18.2.101/ --count 400 --parallel 8 --timeout 3 --max-failures 16 >/dev/null 2>&1
all=$(halb_ctl "$P" "$CONF" flows all 2>&1 | grep -c '^w') || all=0
some=$(halb_ctl "$P" "$CONF" flows 2>&1 | grep -c '^w') || some=0
svc_lines=$(halb_ctl "$P" "$CONF" flows all service web-nat 2>&1)
be_lines=$(halb_ctl "$P" "$CONF" flows all service web-nat backend 198.18.0.13:8080 2>&1)
client=$(echo "$be_lines" | awk 'NR == 1 { sub(/:[0-9]+$/, "", $3); print $3 }')
cli_lines=$(halb_ctl "$P" "$CONF" flows all client "${client:-none}" 2>&1)
if [ "$all" -gt 300 ] && [ "$some" -eq 32 ] &&
	[ "$(echo "$svc_lines" | grep -c ' svc=web-nat backend=198\.18\.0\.1[123]:8080 ')" -eq "$(echo "$svc_lines" | wc -l)" ] &&
	[ "$(echo "$svc_lines" | wc -l)" -lt "$all" ] &&
	[ -n "$be_lines" ] && ! echo "$be_lines" | grep -qv ' backend=198\.18\.0\.13:8080 ' &&
	[ -n "$client" ] && ! echo "$cli_lines" | grep -qv "^w[0-9]* [a-z]* $client:" ; then
	pass "halbctl flows: all $all flows, 32 by default, $(echo "$svc_lines" | wc -l) of web-nat, $(echo "$be_lines" | wc -l) of its backend 198.18.0.13:8080, $(echo "$cli_lines" | wc -l) of client $client"
else
	fail "halbctl flows: all $all, default $some, web-nat: $(echo "$svc_lines" | head -n 2 | tr '\n' ' '), backend: $(echo "$be_lines" | head -n 2 | tr '\n' ' '), client $client: $(echo "$cli_lines" | head -n 2 | tr '\n' ' ')"
fi

# One worker's counters, and the forwarder's log level changed at runtime.
w0_rx=$(halb_ctl "$P" "$CONF" stats 0 2>&1 | awk '$1 == "rx:" { print $2 }')
lvl_set=$(halb_ctl "$P" "$CONF" log-level debug 2>&1)
lvl_back=$(halb_ctl "$P" "$CONF" log-level info 2>&1)
if [ -n "$w0_rx" ] && [ "$w0_rx" -gt 0 ] && [ "$lvl_set" = "level: debug" ] &&
	[ "$lvl_back" = "level: info" ] && grep -q 'log level now debug' "$WORK/forwarder.log"; then
	pass "halbctl stats 0: worker 0 received $w0_rx packets; halbctl log-level debug, then info"
else
	fail "halbctl stats 0: rx '${w0_rx}'; log-level: '$lvl_set', '$lvl_back'"
fi

# --- full-size segments over MTU 1500 (issue 9, item 5) --------------------
# A request of 16 KB goes out in full-size segments; to a tunnel VIP each
# is 50 (or 70) bytes too big for the server network once in VXLAN, and
# only the appliance's "fragmentation needed" / "packet too big" lets the
# client's TCP shrink them (without it the connection stalls).
big_request() {
	ip netns exec "$P-cli" "$HALB_PYTHON" - "$1" <<'EOF'
import socket, sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
fam = socket.AF_INET6 if ":" in u.hostname else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(8)
s.connect((u.hostname, u.port or 80))
s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\nX-Pad: " + b"p" * 16000 + b"\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print(data.split(b"\r\n", 1)[0].decode(errors="replace"))
sys.exit(0 if data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200") else 1)
EOF
}
while read -r svc url; do
	if out=$(big_request "$url" 2>&1); then
		pass "$svc: a 16 KB request in full-size segments is answered over MTU 1500 ($out)"
	else
		fail "$svc: a 16 KB request in full-size segments is not answered over MTU 1500: $(echo "$out" | tail -n 1)"
	fi
done <<<"$HALB_SERVICES4
$HALB_SERVICES6"
too_big=$(halb_stat "$P" "$CONF" icmp_too_big) || too_big=
if [ -n "$too_big" ] && [ "$too_big" -gt 0 ]; then
	pass "halbctl stats: the appliance sent $too_big fragmentation-needed/packet-too-big errors"
else
	fail "halbctl stats: icmp_too_big is ${too_big:-missing}: no error told a client to shrink its segments"
fi

# --- the classifier dies under established connections ---------------------
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
if halb_wait_until 10 holds_connected; then
	pass "keep-alive connections established on every IPv4 service"
else
	fail "keep-alive connections did not all get a first answer within 10 s"
fi
sleep $((HOLD_SECONDS / 3))  # let them run a while before and after the kill
fallbacks_before=$(halb_stat "$P" "$CONF" fallbacks) || fallbacks_before=0
halb_stop "$CLS_PID" KILL 5
echo "e2e: killed the classifier (PID $CLS_PID) with SIGKILL"

for svc in "${!HOLD_PID[@]}"; do
	halb_wait_exit "${HOLD_PID[$svc]}" $((HOLD_SECONDS + 10))
	rc=$?
	summary=$(grep '^{' "$WORK/hold-$svc.out" || echo "(no summary)")
	if [ "$rc" -eq 0 ]; then
		pass "$svc: the established connection survived the classifier's death: $summary"
	else
		fail "$svc: the established connection broke (client status $rc): $summary"
	fi
done

if halb_alive "$FWD_PID"; then
	pass "the forwarder outlives the classifier"
else
	fatal "the forwarder died with the classifier"
fi
if halb_wait_until 10 halb_classifier_down "$P" "$CONF"; then
	pass "halbctl status reports 'classifier: down'"
else
	fail "halbctl status does not report 'classifier: down' within 10 s: $(halb_ctl "$P" "$CONF" status 2>&1 | tr '\n' ' ')"
fi
# The heartbeat files (halb/hb.h): the killed classifier is dead, the
# forwarder still beats.
part_is() { halb_ctl "$P" "$CONF" status 2>/dev/null | grep -Eq "^$1 +$2 "; }
if halb_wait_until 5 part_is classifier dead && part_is forwarder up; then
	pass "halbctl status: heartbeat of the classifier dead, of the forwarder up"
else
	fail "halbctl status parts: $(halb_ctl "$P" "$CONF" status 2>&1 | head -4 | tr '\n' ' ')"
fi

new_conns=0
while read -r svc url; do
	new_conns=$((new_conns + FALLBACK_REQUESTS))
	if out=$(halb_client "$P" --url "$url" --count "$FALLBACK_REQUESTS" --parallel 8 --timeout 3 --max-failures 16 2>&1); then
		pass "$svc: $FALLBACK_REQUESTS new connections served without the classifier: $out"
	else
		fail "$svc: new connections without the classifier: $out"
	fi
done <<<"$HALB_SERVICES4"

# Every new flow the workers decide without the classifier counts as a
# fallback (docs/ARCHITECTURE.md), so the outage adds at least one per new
# connection; what came before (e.g. a classifier slow to beat) is left out.
fallbacks=$(halb_stat "$P" "$CONF" fallbacks) || fallbacks=
if [ -n "$fallbacks" ] && [ "$fallbacks" -gt 0 ] && [ $((fallbacks - fallbacks_before)) -ge "$new_conns" ]; then
	pass "halbctl stats counts $((fallbacks - fallbacks_before)) fallback decisions during the outage (fallbacks: $fallbacks) for $new_conns new connections"
else
	fail "halbctl stats: fallbacks went from $fallbacks_before to ${fallbacks:-missing} during the outage, for $new_conns new connections: $(halb_ctl "$P" "$CONF" stats 2>&1 | tr '\n' ' ')"
fi

# --- clean stop -------------------------------------------------------------
halb_stop "$FWD_PID" TERM 10
rc=$?
if [ "$rc" -eq 0 ]; then
	pass "the forwarder exits cleanly on SIGTERM"
else
	fail "the forwarder's exit status after SIGTERM is $rc (137: it had to be killed)"
fi

finish
