#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/e2e/scenarios.sh: issue 10's failure scenarios on the routing
# fabric, under load (`make test` runs the quick version, SCEN_QUICK=1;
# `make scenarios` the full one; needs root, the build in build/ or
# $HALB_BUILD, hugepages and bird2).  docs/SESSIONS.md ("What was seen on
# the fabric") has the figures.
#
# The rig is tests/e2e/fabric.sh's (sourced with FABRIC_SCENARIOS=1: it
# builds the rig, starts every appliance with its halb-sessiond, announces,
# and calls scenarios_run below): FABRIC_APPLIANCES (2) appliances, six
# services (dsr, nat and tunnel, IPv4 and IPv6) on the backends b1 and b2
# at first (b3 joins in scenario 2), NAT replies spread over the appliances
# by the router.  The load is tests/e2e/load.py in the client's namespace:
# SCEN_CONNS (120) keep-alive connections over the six VIPs, a request every
# 100 ms on each ("ka"), and from scenario 1 on a stream of SCEN_NEW_RATE
# (20) new connections a second ("new").  Its event files say, for any
# span, how many established connections broke (an error, or an answer
# from another backend than the first) and which new connections failed.
#
# In order (each prints its figures, PASS or FAIL):
#   6. Forged, replayed, truncated and oversized sync datagrams sent to
#      lb2's live halb-sessiond: each refused and counted by its reason
#      (halbctl sessions), lb2 still synced with lb1.
#   4. 5% random loss on every appliance's sync0 (nftables, netdev
#      ingress: `numgen random mod 100 < 5 drop`) while the keep-alive
#      connections open; once they are all open (the load stops making
#      sessions) and one resend interval (sessions.resend_ms) has passed,
#      every appliance's replica holds every other appliance's own
#      sessions (the counts of `halbctl sessions`, compared).
#   1. kill -9 lb1's forwarder: the router drops it within 0.3 s (BFD,
#      `ip -ts monitor route`); >= 99.9% of the established connections
#      go on with their backend; new connections fail only until the
#      router's change.  (lb1's BIRD is stopped with it, as the HA daemon
#      would stop what is left of a dead appliance.)
#   3. lb1 rejoins: forwarder, classifier, halb-sessiond restarted; once
#      its sessiond is ready (replica loaded from lb2), BIRD and
#      `halbctl bgp announce`: ECMP rehashes, no established connection
#      breaks.
#   5. kill -9 lb1's halb-sessiond (the new-connection stream stopped and
#      its flows expired, so that the counts hold still): no connection
#      breaks; the restarted one has every session back (own ones from the
#      flow tables, lb2's from its dump) within SCEN_SESS_BACK_S (5 s).
#   2. kill -9 lb2's forwarder while b3 is added to every service
#      (`halbctl reload` on lb1 in the same second): Maglev now sends part
#      of lb2's connections elsewhere, but they come from lb1's replica:
#      >= 99.9% keep their backend.
#   7. Request-routed connections (docs/REQUESTS.md, "Several
#      appliances"; FABRIC_L7=1: the service web-l7 and a halb-router on
#      each appliance): SCEN_L7_CONNS (16) keep-alive HTTP connections
#      through web-l7, a request every 200 ms on each, opened after
#      scenario 1, so all bound on lb2 (the only appliance then: a binding
#      needs the backend's handshake answer back through the appliance
#      that binds); in scenario 3 ECMP moves some to the rejoining lb1,
#      which adopts them from its replica; in 5 lb1's restarted
#      halb-sessiond has them back (own sessions, from the router's table);
#      in 2, kill -9 of lb2's forwarder: every one goes on on lb1, on the
#      same backend, without an error (counted, with the slowest answer
#      across the kill: the time to resume).  After 3, with both
#      appliances up, SCEN_L7_NEW (200) new connections through web-l7
#      (client.py, 8 at a time), every one answered: a backend's answer
#      that ECMP sends to the appliance that is not binding it is relayed
#      to the one that is (docs/REQUESTS.md, "Relay between appliances");
#      the routers' relay counters printed.
# Prints "scenarios: N passed, M failed"; exits non-zero on any failure.
# Every exit path stops what it started and removes the rig (fabric.sh's
# cleanup).
#
# SCEN_QUICK=1 holds the load SCEN_HOLD_S (3) seconds after each fault
# instead of 8.
set -uo pipefail

SCEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export FABRIC_SCENARIOS=1 FABRIC_NAME=scenarios
export FABRIC_L7=${FABRIC_L7:-1}
export FABRIC_BACKENDS=${FABRIC_BACKENDS:-b1 b2}
# FIN flows go soon, so that scenario 5's counts settle quickly.
export FABRIC_FIN_TIMEOUT=${FABRIC_FIN_TIMEOUT:-2.0}
if [ "${SCEN_QUICK:-0}" = 1 ]; then HOLD=${SCEN_HOLD_S:-3}; else HOLD=${SCEN_HOLD_S:-8}; fi
CONNS=${SCEN_CONNS:-120}
NEW_RATE=${SCEN_NEW_RATE:-20}
DETECT_GOAL_S=${SCEN_DETECT_GOAL_S:-0.3}
MIN_KEPT=${SCEN_MIN_KEPT:-0.999}
SESS_BACK_S=${SCEN_SESS_BACK_S:-5}
L7_CONNS=${SCEN_L7_CONNS:-16}
L7_NEW=${SCEN_L7_NEW:-200}
# An answer on an established connection slower than this is a stall
# (load.py --slow): the slowest across a kill is the time to resume.
L7_SLOW_S=0.25
declare -A LOAD_PID

# now: seconds since the epoch, as load.py's events write them.
now() { date +%s.%N; }
# jget JSON KEY: a field of a JSON object ("null" when absent).
jget() { "$HALB_PYTHON" -c 'import json, sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print(json.dumps(v) if isinstance(v, (dict, list)) or v is None else v)' "$1" "$2"; }

# load_start NAME ARGS...: load.py run in the client's namespace on every
# VIP, its events in $WORK/NAME.ev.
load_start() {
	local name=$1 url urls=()
	shift
	while read -r _ url; do urls+=(--url "$url"); done <<<"$SERVICES"
	rm -f "$WORK/$name.ready"
	halb_spawn "$WORK/load-$name.log" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/load.py" run \
		"${urls[@]}" --events "$WORK/$name.ev" --ready "$WORK/$name.ready" \
		--status "$WORK/$name.status" --timeout 2 --new-timeout 2 "$@"
	LOAD_PID[$name]=$HALB_LAST_PID
}
load_stop() { [ -z "${LOAD_PID[$1]:-}" ] || halb_stop "${LOAD_PID[$1]}" TERM 10; }
# l7_load_start: load.py's keep-alive connections through web-l7 only
# (FABRIC_L7=1), none new, stalls over L7_SLOW_S logged.
l7_load_start() {
	rm -f "$WORK/l7.ready"
	halb_spawn "$WORK/load-l7.log" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/load.py" run \
		--url "http://$VIP_L7/" --conns "$L7_CONNS" --interval 0.2 --new-rate 0 \
		--slow "$L7_SLOW_S" --events "$WORK/l7.ev" --ready "$WORK/l7.ready" \
		--status "$WORK/l7.status" --timeout 2 --new-timeout 2
	LOAD_PID[l7]=$HALB_LAST_PID
}
# l7_report FROM TO: load.py's report of the web-l7 connections.
l7_report() {
	local pid=${LOAD_PID[l7]:-}
	if [ -n "$pid" ] && halb_alive "$pid"; then
		rm -f "$WORK/l7.status"
		kill -USR1 "$pid"
		halb_wait_until 5 test -s "$WORK/l7.status"
	fi
	"$HALB_PYTHON" "$HALB_E2E_DIR/load.py" report "$WORK/l7.ev" --from "$1" --to "$2" --slow "$L7_SLOW_S"
}
# l7_counts I: lbI's request router: adoptions and replies from the replica.
l7_counts() {
	echo "lb$1 adopted $(rstat "$1" adopted), adopt refused $(rstat "$1" adopt_refused), backend segments translated from the replica $(rstat "$1" replica_replies), bound flows $(rstat "$1" flows)"
}
# check_l7 WHAT REPORT: none of the web-l7 connections established at the
# report's start broke (all L7_CONNS of them).  Prints the figures.
check_l7() {
	local what=$1 r=$2 est broken
	est=$(jget "$r" established_at_from)
	broken=$(jget "$r" established_broken)
	if [ "$est" = "$L7_CONNS" ] && [ "$broken" = 0 ]; then
		pass "$what: $est of $L7_CONNS request-routed connections went on (same backend, no error); answers slower than $L7_SLOW_S s: $(jget "$r" ka_stalls), the slowest $(jget "$r" ka_max_stall) s"
	else
		fail "$what: of $est request-routed connections established (of $L7_CONNS) $broken broke: $(jget "$r" broken_by_reason) by backend $(jget "$r" broken_by_backend)"
	fi
}
# report NAME FROM TO: load.py's report of NAME's events over [FROM, TO].
# A running load is asked for its summary first (SIGUSR1), which flushes
# its events file.
report() {
	local pid=${LOAD_PID[$1]:-}
	if [ -n "$pid" ] && halb_alive "$pid"; then
		rm -f "$WORK/$1.status"
		kill -USR1 "$pid"
		halb_wait_until 5 test -s "$WORK/$1.status"
	fi
	"$HALB_PYTHON" "$HALB_E2E_DIR/load.py" report "$WORK/$1.ev" --from "$2" --to "$3"
}

# counts I: "OWN REPLICATED" of lbI's halb-sessiond.
counts() {
	ctl "$1" sessions 2>/dev/null |
		sed -n 's/^sessiond lb[0-9]*: [a-z]*, \([0-9]*\) own sessions, \([0-9]*\) replicated.*/\1 \2/p'
}
# all_hold: every live appliance's replica holds exactly the others' own
# sessions (LIVE: the appliances to compare).  Prints the counts.
all_hold() {
	local i j c sum ok=0 line=""
	declare -A O R
	for i in $LIVE; do
		c=$(counts "$i")
		O[$i]=${c% *} R[$i]=${c#* }
		[ -n "$c" ] || ok=1
	done
	for i in $LIVE; do
		sum=0
		for j in $LIVE; do [ "$j" != "$i" ] && sum=$((sum + ${O[$j]:-0})); done
		line="$line lb$i own ${O[$i]:-?} replicated ${R[$i]:-?} (others' own $sum);"
		[ "${R[$i]:-x}" = "$sum" ] || ok=1
	done
	echo "$line"
	return $ok
}

# nat_is FAMILY "NH NH ...": the router's NAT reply route (table 200) is
# over those next hops (as route_nexthops prints them).
nat_is() {
	[ "$(ip -n "$P-rtr" "-$1" route show table 200 default 2>/dev/null |
		grep -o 'via [0-9a-f:.]*' | awk '{ print $2 }' | sort | tr '\n' ' ')" = "$2" ]
}
nat_route() { ip -n "$P-rtr" "-$1" route show table 200 2>/dev/null | tr -s ' \n\t' ' '; }

# detect_since T_KILL VIP LOG: seconds from T_KILL to the first route
# change for VIP in an `ip -ts monitor route` log.
detect_since() {
	"$HALB_PYTHON" - "$1" "$3" "$2" <<'EOF'
import datetime, re, sys
t_kill, path, vip = float(sys.argv[1]), sys.argv[2], sys.argv[3]
for line in open(path):
    m = re.match(r"\[(\S+)\]\s*(.*)", line)
    if not m or vip not in m.group(2):
        continue
    t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
    if t >= t_kill:
        print("%.3f" % (t - t_kill)); break
EOF
}

# kill_forwarder I SURVIVORS: kill -9 lbI's forwarder (its classifier and
# halb-sessiond exit with it) and stop its BIRD; waits for the router to
# route both VIP families over SURVIVORS only.  Sets T_KILL and DETECT
# (the router's IPv4 change, seconds after the kill).
kill_forwarder() {
	local i=$1 surv=$2 mon
	halb_spawn "$WORK/monitor-$i.log" ip -n "$P-rtr" -ts -4 monitor route
	mon=$HALB_LAST_PID
	sleep 0.5
	T_KILL=$(now)
	kill -KILL "${FWD_PID[$i]}"
	[ -n "${AFTER_KILL:-}" ] && "$AFTER_KILL"
	# shellcheck disable=SC2086
	halb_wait_until 10 route_is "$VIP4" "$(nexthops 4 $surv)"
	# shellcheck disable=SC2086
	halb_wait_until 5 route_is "$VIP6" "$(nexthops 6 $surv)"
	sleep 0.2
	halb_stop "$mon" TERM 2
	DETECT=$(detect_since "$T_KILL" "$VIP4" "$WORK/monitor-$i.log")
	halb_reap "${FWD_PID[$i]}"
	halb_wait_exit "${CLS_PID[$i]}" 10
	halb_wait_exit "${SESS_PID[$i]}" 10
	[ -z "${RTR_PID[$i]:-}" ] || halb_wait_exit "${RTR_PID[$i]}" 10
	halb_stop "${BIRD_PID[$i]}" TERM 5
}

# start_appliance I: lbI's forwarder, classifier and halb-sessiond again
# (its BIRD is start_bird's, once the replica is loaded).
start_appliance() {
	local i=$1
	halb_remove_dpdk_files "${FP[$i]}"
	halb_spawn "$WORK/forwarder-lb$i.log" ip netns exec "$P-lb$i" "$HALB_BUILD/forwarder/halb-forwarder" -c "${CONF[$i]}"
	FWD_PID[$i]=$HALB_LAST_PID
	halb_wait_until 30 eval "! halb_alive ${FWD_PID[$i]} || ctl $i status >/dev/null 2>&1"
	ctl "$i" status >/dev/null 2>&1 || return 1
	halb_spawn "$WORK/classifier-lb$i.log" ip netns exec "$P-lb$i" "$HALB_BUILD/classifier/halb-classifier" -c "${CONF[$i]}"
	CLS_PID[$i]=$HALB_LAST_PID
	start_sessiond "$i"
	if [ "$L7" = 1 ]; then
		start_router "$i" || return 1
	fi
}

# check_kept NAME WHAT REPORT: the established connections of REPORT kept
# their backend (>= MIN_KEPT of them).  Prints the figures.
check_kept() {
	local what=$1 r=$2 est broken kept
	est=$(jget "$r" established_at_from)
	broken=$(jget "$r" established_broken)
	kept=$(jget "$r" kept_fraction)
	if [ "$est" -ge 100 ] && le "$MIN_KEPT" "$kept"; then
		pass "$what: $((est - broken)) of $est established connections went on with their backend (kept $kept, goal >= $MIN_KEPT)"
	else
		fail "$what: of $est established connections $broken broke (kept $kept, goal >= $MIN_KEPT, at least 100 connections): $(jget "$r" broken_by_reason) by target $(jget "$r" broken_by_target)"
	fi
}

# check_new WHAT REPORT T_END: new connections failed only if begun
# before T_END (the router's change).
check_new() {
	local what=$1 r=$2 t_end=$3 att failed last
	att=$(jget "$r" new_attempted)
	failed=$(jget "$r" new_failed)
	last=$(jget "$r" new_last_failure)
	if [ "$failed" = 0 ]; then
		pass "$what: $att new connections, none failed"
	elif le "$last" "$t_end"; then
		pass "$what: $att new connections, $failed failed, all begun during the detection time (the last $(awk -v a="$last" -v k="$T_KILL" 'BEGIN { printf "%.3f", a - k }') s after the kill): $(jget "$r" new_failed_by_reason)"
	else
		fail "$what: $att new connections, $failed failed, the last begun $(awk -v a="$last" -v k="$T_KILL" 'BEGIN { printf "%.3f", a - k }') s after the kill, after the detection time: $(jget "$r" new_failed_by_reason) by target $(jget "$r" new_failed_by_target)"
	fi
}

# rejects_grew BEFORE AFTER: of two "datagrams ..." lines of halbctl
# sessions, replay, bad-mac and oversize each +1, and 4 more refused or
# malformed (the truncated one counts as whichever it is).  Prints the
# differences.
rejects_grew() {
	"$HALB_PYTHON" - "$1" "$2" <<'EOF'
import re, sys
def parse(l):
    return {k: int(v) for k, v in re.findall(r"([a-z-]+) (\d+)", l)}
b, a = parse(sys.argv[1]), parse(sys.argv[2])
dd = {k: a.get(k, 0) - b.get(k, 0) for k in set(a) | set(b)}
ok = all(dd.get(k, 0) >= 1 for k in ("replay", "bad-mac", "oversize")) and \
    dd.get("refused", 0) + dd.get("malformed", 0) >= 4
print(" ".join("%s +%d" % (k, v) for k, v in sorted(dd.items()) if v and k != "datagrams"))
sys.exit(0 if ok else 1)
EOF
}

# ---- scenario 6: forged, replayed, truncated, oversized sync messages ------
scen_sync_attacks() {
	local out before after d
	before=$(ctl 2 sessions 2>/dev/null | grep '^datagrams')
	echo "scenarios: 6. bad sync datagrams to lb2's halb-sessiond (198.18.3.2:7303)"
	out=$(ip netns exec "$P-lb2" "$HALB_PYTHON" - "$SCEN_DIR/../pkt" "${KEY[s12]}" <<'EOF' 2>&1
import os, secrets, socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
from sync_peer import SyncPeer
key = bytes.fromhex(sys.argv[2])
# A real datagram of lb1's, off lb2's sync0 (ETH_P_IP = 0x0800).
cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
cap.bind(("sync0", 0x0800))
cap.settimeout(0.5)
real, end = None, time.monotonic() + 5
while real is None and time.monotonic() < end:
    try:
        pkt = cap.recv(65536)
    except socket.timeout:
        continue
    ihl = (pkt[0] & 15) * 4
    if pkt[9] != 17 or pkt[12:16] != socket.inet_aton("198.18.3.1"):
        continue
    sport, dport = struct.unpack(">HH", pkt[ihl:ihl + 4])
    if sport == 7303 and dport == 7303:
        real = pkt[ihl + 8:]
if real is None:
    print("no datagram of lb1's seen in 5 s"); sys.exit(1)
time.sleep(1.2)  # lb1 has sent newer ones (a hello a second at least)
to = ("198.18.3.2", 7303)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(real, to)                          # replayed
s.sendto(real[: len(real) // 2], to)        # truncated
s.sendto(real + bytes(4200), to)            # oversized (> 4096)
forger = SyncPeer("lb1", secrets.token_bytes(32), ("198.18.3.2", 0), to)
forger.hello()                              # forged: lb1's name, another key
forger.close()
print("sent: replayed, truncated, oversized, forged (%d-byte real datagram)" % len(real))
EOF
)
	echo "scenarios: $out"
	refused() { ctl 2 sessions 2>/dev/null | grep '^datagrams'; }
	got_all() { rejects_grew "$before" "$(refused)" >/dev/null; }
	halb_wait_until 3 got_all
	after=$(refused)
	if d=$(rejects_grew "$before" "$after"); then
		pass "6. bad sync datagrams refused and counted by lb2 ($d): $after"
	else
		fail "6. bad sync datagrams not all refused and counted (want replay, bad-mac, oversize +1, 4 refused or malformed; got $d): $after"
	fi
	if all_synced 2; then
		pass "6. lb2 still synced with lb1 after them: $(ctl 2 sessions | grep '^peer lb1')"
	else
		fail "6. lb2 lost its peer: $(ctl 2 sessions 2>&1 | tr '\n' ' ')"
	fi
}

# ---- scenario 4: loss on the sync link --------------------------------------
scen_sync_loss() {
	local i t0 t_ready held t_eq drops=0 resent=""
	echo "scenarios: 4. 5% random loss on every appliance's sync0 while $CONNS keep-alive connections open"
	for i in $ALL; do
		ip netns exec "$P-lb$i" nft -f - <<-EOF || fail "4. nft loss rule on lb$i"
			table netdev halb_loss {
				chain in {
					type filter hook ingress device "sync0" priority 0;
					meta l4proto udp numgen random mod 100 < 5 counter drop
				}
			}
		EOF
	done
	t0=$(now)
	load_start ka --conns "$CONNS" --interval 0.1 --new-rate 0
	if ! halb_wait_until 30 test -s "$WORK/ka.ready"; then
		fatal "4. the $CONNS keep-alive connections did not all answer within 30 s: $(tail -n 3 "$WORK/load-ka.log" | tr '\n' ' ')"
	fi
	t_ready=$(now)
	# The load has stopped making sessions: one resend interval, then
	# every replica must be complete.
	sleep "$(awk -v r="$SESS_RESEND_MS" 'BEGIN { printf "%.3f", r / 1000 }')"
	held=$(all_hold)
	local ok=$?
	t_eq=""
	if [ "$ok" != 0 ]; then
		local lim=$((SECONDS + 10))
		while [ "$SECONDS" -lt "$lim" ]; do
			all_hold >/dev/null && { t_eq=$(awk -v a="$(now)" -v b="$t_ready" 'BEGIN { printf "%.2f", a - b }'); break; }
			sleep 0.05
		done
	fi
	for i in $ALL; do
		drops=$((drops + $(ip netns exec "$P-lb$i" nft list table netdev halb_loss 2>/dev/null | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | head -n 1)))
		resent="$resent lb$i: $(ctl "$i" sessions | grep '^peer ' | sed -n 's/.*sent \([0-9]*\) (resent \([0-9]*\)).*/sent \1 resent \2/p' | tr '\n' ' ')"
	done
	echo "scenarios: 4. loss rule dropped $drops sync datagrams; batches$resent; all $CONNS connections answered $(awk -v a="$t_ready" -v b="$t0" 'BEGIN { printf "%.2f", a - b }') s after the load started"
	if [ "$ok" = 0 ]; then
		pass "4. one resend interval ($SESS_RESEND_MS ms) after the load stopped making sessions, under 5% loss, every appliance holds every session:$held"
	else
		fail "4. one resend interval ($SESS_RESEND_MS ms) after the load stopped, under 5% loss, the replicas differ:$held (equal ${t_eq:-not within 10} s after)"
	fi
	for i in $ALL; do ip netns exec "$P-lb$i" nft delete table netdev halb_loss 2>/dev/null; done
}

# ---- scenario 1: kill -9 a forwarder -----------------------------------------
scen_kill_forwarder() {
	local r1 r2 t_after t_route rep_before rep_after
	echo "scenarios: 1. kill -9 lb1's forwarder under load"
	sleep 1
	local i surv
	surv=$(seq 2 "$N" | tr '\n' ' ')
	rep_before=0
	for i in $surv; do rep_before=$((rep_before + $(stat "$i" cls_replica))); done
	kill_forwarder 1 "$surv"
	echo "scenarios: 1. killed lb1's forwarder at $(date -d "@$T_KILL" +%T.%N | cut -c1-12); the router changed its route ${DETECT:-never} s later"
	if [ -n "$DETECT" ] && le "$DETECT" "$DETECT_GOAL_S"; then
		pass "1. the router dropped lb1 ${DETECT} s after kill -9 of its forwarder (BFD 100 ms x 3; goal $DETECT_GOAL_S s)"
	else
		fail "1. the router dropped lb1 ${DETECT:-never} s after kill -9 of its forwarder (goal $DETECT_GOAL_S s)"
	fi
	sleep "$HOLD"
	t_after=$(now)
	t_route=$(awk -v k="$T_KILL" -v d="${DETECT:-0}" 'BEGIN { printf "%.3f", k + d + 0.05 }')
	r1=$(report ka "$T_KILL" "$t_after")
	r2=$(report new "$T_KILL" "$t_after")
	rep_after=0
	for i in $surv; do rep_after=$((rep_after + $(stat "$i" cls_replica))); done
	# shellcheck disable=SC2086
	if nat_is 4 "$(nexthops 4 $surv)" && nat_is 6 "$(nexthops 6 $surv)"; then
		pass "1. the router's NAT reply route left lb1 too: $(nat_route 4)"
	else
		fail "1. the router's NAT reply route still has lb1: $(nat_route 4) | $(nat_route 6)"
	fi
	echo "scenarios: 1. the survivors gave $((rep_after - rep_before)) mid-connection misses the replica's backend (cls_replica)"
	check_kept "1. kill -9 lb1's forwarder" "$r1"
	check_new "1. kill -9 lb1's forwarder" "$r2" "$t_route"
}

# ---- scenario 7: request-routed connections, opened on lb2 alone ------------
scen_l7_open() {
	local t0 bound0
	echo "scenarios: 7. $L7_CONNS keep-alive connections through the request-routed VIP $VIP_L7, bound on lb2 (lb1 is down)"
	bound0=$(rstat 2 bound)
	t0=$(now)
	l7_load_start
	if ! halb_wait_until 20 test -s "$WORK/l7.ready"; then
		fail "7. the $L7_CONNS request-routed connections did not all answer within 20 s: $(tail -n 3 "$WORK/load-l7.log" | tr '\n' ' '); $(l7_counts 2)"
		return
	fi
	local took
	took=$(since "$t0")
	l7_report "$t0" "$(now)" >/dev/null
	pass "7. $L7_CONNS request-routed connections answered $took s after they began (answers by backend $(jget "$(cat "$WORK/l7.status" 2>/dev/null || echo '{}')" by_backend)); lb2 bound $(( $(rstat 2 bound) - bound0 ))"
	# Their sessions reach halb-sessiond (spliced, with their delta) and
	# the peer that rejoins later asks for them: here, lb2 owns them.
	local c
	c=$(counts 2)
	echo "scenarios: 7. lb2's sessiond: own, replicated: $c; $(ctl 2 sessions | grep '^request router')"
}

# ---- scenario 3: an appliance rejoins -----------------------------------------
scen_rejoin() {
	local t0 t_ready t_ann t_route t_after r
	echo "scenarios: 3. lb1 rejoins (restarted), announcing once its replica is loaded"
	t0=$(now)
	start_appliance 1 || fatal "3. lb1's forwarder does not start again"
	halb_wait_until 30 all_synced 1 || fatal "3. lb1's halb-sessiond not ready within 30 s: $(ctl 1 sessions 2>&1 | tr '\n' ' ')"
	t_ready=$(now)
	echo "scenarios: 3. lb1's sessiond ready $(awk -v a="$t_ready" -v b="$t0" 'BEGIN { printf "%.2f", a - b }') s after the restart began: $(ctl 1 sessions | sed -n 2p)"
	start_bird 1
	if ! { halb_wait_until 20 established 1 && halb_wait_until 10 bfd_up 1; }; then
		fail "3. lb1's BGP or BFD not up again within 30 s: $(ctl 1 bgp 2>&1 | tr '\n' ' ')"
	fi
	t_ann=$(now)
	ctl 1 bgp announce >/dev/null 2>&1 || fail "3. halbctl bgp announce on lb1"
	# shellcheck disable=SC2086
	if halb_wait_until 15 route_is "$VIP4" "$(nexthops 4 $ALL)" && halb_wait_until 5 route_is "$VIP6" "$(nexthops 6 $ALL)"; then
		t_route=$(now)
		echo "scenarios: 3. lb1 back in the router's multipath routes $(awk -v a="$t_route" -v b="$t_ann" 'BEGIN { printf "%.2f", a - b }') s after announce"
	else
		fail "3. lb1 not back in the router's routes: $VIP4 via $(route_nexthops "$VIP4")"
	fi
	# shellcheck disable=SC2086
	if halb_wait_until 10 nat_is 4 "$(nexthops 4 $ALL)" && halb_wait_until 5 nat_is 6 "$(nexthops 6 $ALL)"; then
		pass "3. the router's NAT reply route is over every appliance again: $(nat_route 4)"
	else
		fail "3. the router's NAT reply route is not over every appliance again: $(nat_route 4) | $(nat_route 6)"
	fi
	sleep "$HOLD"
	t_after=$(now)
	r=$(report ka "$t0" "$t_after")
	if [ "$(jget "$r" established_broken)" = 0 ] && [ "$(jget "$r" established_at_from)" -ge 100 ]; then
		pass "3. lb1 rejoined (ECMP rehashed): none of $(jget "$r" established_at_from) established connections broke; new connections: $(jget "$(report new "$t0" "$t_after")" new_failed) of $(jget "$(report new "$t0" "$t_after")" new_attempted) failed"
	else
		fail "3. lb1 rejoined: $(jget "$r" established_broken) of $(jget "$r" established_at_from) established connections broke: $(jget "$r" broken_by_reason) by target $(jget "$r" broken_by_target)"
	fi
	local rn
	rn=$(report new "$t0" "$t_after")
	[ "$(jget "$rn" new_failed)" = 0 ] || fail "3. new connections failed while lb1 rejoined: $(jget "$rn" new_failed_by_reason)"
	if [ "$L7" = 1 ]; then
		check_l7 "7. lb1 rejoined (ECMP moved part of them to it)" "$(l7_report "$t0" "$t_after")"
		echo "scenarios: 7. $(l7_counts 1)"
	fi
}

# ---- scenario 7: new request-routed connections over both appliances -------
# With both appliances up, the backend's SYN-ACK to the SYN that one
# appliance's router replayed comes back through either appliance (the
# router's ECMP hashes its own 5-tuple), and so may the first data of a
# connection just bound: the other appliance relays them through
# halb-sessiond (docs/REQUESTS.md, "Relay between appliances").  Every
# one of SCEN_L7_NEW (200) new connections, each with its request, must
# be answered (before the relay, about 1 in 5 failed: their binding timed
# out).
scen_l7_new() {
	local i k r ok failed t0 took figs=""
	declare -A r0
	for i in $ALL; do
		for k in bound relay_out relay_in relay_bound relay_replies relay_stray; do
			r0[$i.$k]=$(rstat "$i" "$k")
		done
	done
	echo "scenarios: 7. $L7_NEW new request-routed connections through $VIP_L7 with both appliances up"
	t0=$(now)
	r=$(ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" --url "http://$VIP_L7/" \
		--host api.example.com --count "$L7_NEW" --parallel 8 --timeout 5 2>&1 | grep '^{' | tail -n 1)
	took=$(since "$t0")
	[ -n "$r" ] || r='{}'
	ok=$(jget "$r" ok)
	failed=$(jget "$r" failed)
	# Counters this appliance's router may not have (an older build: the
	# control run) read as 0.
	l7_delta() { local v; v=$(rstat "$1" "$2"); echo $(( ${v:-0} - ${r0[$1.$2]:-0} )); }
	for i in $ALL; do
		figs+="lb$i bound $(l7_delta "$i" bound), relayed out $(l7_delta "$i" relay_out), relayed in $(l7_delta "$i" relay_in) (bound $(l7_delta "$i" relay_bound), replies $(l7_delta "$i" relay_replies), stray $(l7_delta "$i" relay_stray)); "
	done
	echo "scenarios: 7. $figs$(ctl 1 sessions 2>/dev/null | grep '^relay' | head -n 1)"
	if [ "$ok" = "$L7_NEW" ] && [ "$failed" = 0 ]; then
		pass "7. $L7_NEW of $L7_NEW new request-routed connections answered with both appliances up, in $took s (by backend $(jget "$r" by_backend))"
	else
		fail "7. new request-routed connections with both appliances up: ${ok:-?} answered, ${failed:-?} failed of $L7_NEW in $took s ($(jget "$r" errors))"
	fi
}

# ---- scenario 5: kill -9 halb-sessiond ------------------------------------
scen_kill_sessiond() {
	local before after t0 t_back="" t_after r lim
	echo "scenarios: 5. kill -9 lb1's halb-sessiond"
	load_stop new
	# The stream's flows close and expire (tcp_fin_timeout); then the
	# counts hold still.  (Not compared across appliances here: after
	# the rejoin two appliances may both own a connection, the one it
	# moved from keeping its flow until it expires, and a replica keeps
	# one record per connection.)
	all_counts() { local i; for i in $LIVE; do echo "lb$i $(counts "$i")"; done | tr '\n' ' '; }
	stable() { local a b; a=$(all_counts); sleep 0.5; b=$(all_counts); [ "$a" = "$b" ]; }
	halb_wait_until 20 stable || fail "5. the session counts do not settle: $(all_counts)"
	before=$(counts 1)
	t0=$(now)
	kill -KILL "${SESS_PID[1]}"
	halb_reap "${SESS_PID[1]}"
	start_sessiond 1
	lim=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$lim" ]; do
		if sess_ready 1 && [ "$(counts 1)" = "$before" ]; then
			t_back=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
			break
		fi
		sleep 0.05
	done
	after=$(counts 1)
	if [ -n "$t_back" ] && le "$t_back" "$SESS_BACK_S"; then
		pass "5. lb1's halb-sessiond killed and restarted: every session back ${t_back} s after the kill (own, replicated: $before before, $after after; goal $SESS_BACK_S s)"
	else
		fail "5. lb1's restarted halb-sessiond: sessions (own, replicated) $after, $before before the kill, back ${t_back:-not within 30} s after (goal $SESS_BACK_S s)"
	fi
	sleep 1
	t_after=$(now)
	r=$(report ka "$t0" "$t_after")
	if [ "$(jget "$r" established_broken)" = 0 ]; then
		pass "5. no connection lost while lb1's sessiond was down: $(jget "$r" established_at_from) established, none broke"
	else
		fail "5. $(jget "$r" established_broken) of $(jget "$r" established_at_from) connections broke while lb1's sessiond was down: $(jget "$r" broken_by_reason)"
	fi
	if [ "$L7" = 1 ]; then
		check_l7 "7. lb1's halb-sessiond killed and restarted" "$(l7_report "$t0" "$t_after")"
		echo "scenarios: 7. lb1's restarted sessiond: $(ctl 1 sessions | grep '^request router')"
	fi
	load_start new --conns 0 --new-rate "$NEW_RATE"
}

# ---- scenario 2: kill -9 a forwarder while a backend is added ---------------
scen_kill_and_add() {
	local i r1 r2 t_after t_route rep_before=0 rep_after=0 surv
	surv=$(for i in $ALL; do [ "$i" != 2 ] && echo "$i"; done | tr '\n' ' ')
	echo "scenarios: 2. kill -9 lb2's forwarder while b3 joins every service (halbctl reload on lb${surv% })"
	BE_SET="b1 b2 b3"
	for i in $ALL; do appliance_conf "$i" >"${CONF[$i]}"; done
	sleep 2
	for i in $surv; do rep_before=$((rep_before + $(stat "$i" cls_replica))); done
	# The reloads go in the same second as the kill, beside the wait for
	# the router.
	declare -A RELOAD
	reload_survivors() {
		local j
		sleep 0.2
		T_RELOAD=$(now)
		for j in $surv; do
			ctl "$j" reload >"$WORK/reload-$j.out" 2>&1 &
			RELOAD[$j]=$!
		done
	}
	AFTER_KILL=reload_survivors
	# shellcheck disable=SC2086
	kill_forwarder 2 "$surv"
	AFTER_KILL=
	for i in $surv; do
		wait "${RELOAD[$i]}" || fail "2. halbctl reload on lb$i: $(cat "$WORK/reload-$i.out")"
	done
	echo "scenarios: 2. lb2 killed at $(date -d "@$T_KILL" +%T.%N | cut -c1-12), lb${surv% } reloaded (b3 added) $(awk -v a="$T_RELOAD" -v b="$T_KILL" 'BEGIN { printf "%.2f", a - b }') s later: $(grep -c 'added' "$WORK/reload-1.out") backends added on lb1; the router changed its route ${DETECT:-never} s after the kill"
	sleep "$HOLD"
	t_after=$(now)
	t_route=$(awk -v k="$T_KILL" -v d="${DETECT:-0}" 'BEGIN { printf "%.3f", k + d + 0.05 }')
	r1=$(report ka "$T_KILL" "$t_after")
	r2=$(report new "$T_KILL" "$t_after")
	for i in $surv; do rep_after=$((rep_after + $(stat "$i" cls_replica))); done
	echo "scenarios: 2. the survivors gave $((rep_after - rep_before)) mid-connection misses the replica's backend (cls_replica); new connections since by backend: $(jget "$(cat "$WORK/new.status")" by_backend)"
	check_kept "2. kill -9 lb2's forwarder, b3 added" "$r1"
	check_new "2. kill -9 lb2's forwarder, b3 added" "$r2" "$t_route"
	if [ "$L7" = 1 ]; then
		check_l7 "7. kill -9 lb2's forwarder (the appliance that bound them)" "$(l7_report "$T_KILL" "$t_after")"
		echo "scenarios: 7. $(l7_counts 1)"
	fi
}

scenarios_run() {
	LIVE=$ALL
	echo "scenarios: $N appliances, $CONNS keep-alive connections, $NEW_RATE new a second, hold ${HOLD} s after each fault"
	# shellcheck disable=SC2086
	if halb_wait_until 10 nat_is 4 "$(nexthops 4 $ALL)" && halb_wait_until 5 nat_is 6 "$(nexthops 6 $ALL)"; then
		pass "the router's NAT reply route (table 200) is over every appliance: $(nat_route 4)"
	else
		fail "the router's NAT reply route (table 200) is not over every appliance: $(nat_route 4) | $(nat_route 6)"
	fi
	scen_sync_attacks
	scen_sync_loss
	load_start new --conns 0 --new-rate "$NEW_RATE"
	sleep 1
	scen_kill_forwarder
	[ "$L7" = 1 ] && scen_l7_open
	scen_rejoin
	[ "$L7" = 1 ] && scen_l7_new
	scen_kill_sessiond
	scen_kill_and_add
	load_stop new
	load_stop ka
	load_stop l7
	echo "scenarios: the load's summaries: keep-alive $(grep '^{' "$WORK/load-ka.log" | tail -n 1 | cut -c1-400)"
	# HALB_BUILD may be the sanitizers' build.
	if grep -l -E 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' \
		"$WORK"/forwarder-*.log "$WORK"/classifier-*.log "$WORK"/sessiond-*.log \
		"$WORK"/router-*.log >"$WORK/sanitizer" 2>/dev/null; then
		fail "sanitizer reports in: $(tr '\n' ' ' <"$WORK/sanitizer")"
	else
		pass "no sanitizer report in the forwarders', classifiers', sessionds' and routers' logs"
	fi
}

# shellcheck source=tests/e2e/fabric.sh
. "$SCEN_DIR/fabric.sh"
