#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# End-to-end test of the session tracker with two appliances (run by
# `make test`; needs root, the build in build/ or $HALB_BUILD, and
# hugepages).  docs/SESSIONS.md describes what it shows.
#
# The rig of tests/e2e/topo.sh (client, router, switch, three backends,
# appliance A in PREFIX-lb) plus appliance B in PREFIX-lb2 on the same
# server network (halb0, 198.18.0.4), and a sync link between A and B
# (sync0: 10.40.0.1 and 10.40.0.2).  Each appliance runs its forwarder,
# classifier and halb-sessiond with a DPDK file prefix of its own, on a
# configuration of its own: one DSR service, 198.18.2.100:80, on backends
# b1 and b2 (198.18.0.11, .12), with other weights on B (1:1 on A, 1:6 on
# B), so that B's Maglev table would send part of A's connections
# elsewhere; scheduled by weighted round robin, so that a connection
# decided again without its record (by the Maglev table) may get another
# backend than the one it has.
#
# Checks:
#   - both sessionds say ready, each with its peer synced;
#   - HOLDS keep-alive connections through A (the router's route to the
#     VIPs via A), all answered;
#   - B's replica holds at least HOLDS sessions (halbctl sessions);
#   - both appliances reload (`halbctl reload`, docs/RELOAD.md) a file
#     where b2 is removed and b3 added in front of b1 (b3 6 to b1's 1 on
#     B): the file's positions are no longer the slots; both sessionds
#     follow the new view (halbctl sessions: view generation 2); A's
#     halb-sessiond is then restarted from the edited file and synced
#     again (its sessions mapped by the view's slots, not by the file);
#   - A's forwarder is killed with SIGKILL and the route moved to B by
#     hand (`ip route replace`, as the router's BGP would): every
#     connection on b1 (unchanged by the reload) goes on without an error
#     on b1 (a backend that changed would reset it), and B counts their
#     misses as cls_replica; those on b2 were reset by A's reload
#     (down_flows "reset"), as designed, and are only counted;
#   - B's halb-sessiond killed with SIGKILL and restarted: ready again with
#     B's own sessions (the moved connections) rebuilt from its flow
#     tables, no event it could not map;
#   - A restarted whole (forwarder, classifier, halb-sessiond) and the
#     route moved back to it: IDLE connections opened through A before
#     its forwarder died, idle since (never taken over by B), are kept by
#     B as no one's once A's dump leaves them out, given back to A
#     (unowned), and their next request is answered on the same
#     connection by the same backend (docs/SESSIONS.md, "A peer that
#     restarts").
# Prints PASS/FAIL per check and "sessions: N passed, M failed"; exits
# non-zero on any failure.  Every exit path stops the processes it started
# (by PID), removes the rig and its files.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOLDS=${E2E_SESS_HOLDS:-12}
IDLE=${E2E_SESS_IDLE:-6}
HOLD_SECONDS=${E2E_SESS_HOLD_SECONDS:-60}  # upper bound: holds end on a stop file
VIP=198.18.2.100
KEY=5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55

halb_require_root
halb_check_binaries session/halb-sessiond
halb_check_hugepages

P=hs$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/halb-sess.XXXXXX")
TOPO=0
declare -A FP CONF NS
FP[a]=halb_hsa$$
FP[b]=halb_hsb$$
CONF[a]=$WORK/a.conf
CONF[b]=$WORK/b.conf
NS[a]=$P-lb
NS[b]=$P-lb2

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	halb_stop_all
	if [ "$TOPO" = 1 ]; then
		ip netns del "$P-lb2" 2>/dev/null
		"$HALB_E2E_DIR/topo.sh" down "$P" || true
	fi
	halb_remove_dpdk_files "${FP[a]}"
	halb_remove_dpdk_files "${FP[b]}"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

halb_checks sessions

# conf NAME ADDRESS SYNC PEER_SYNC BACKENDS: one appliance's file;
# BACKENDS is a list of IP:WEIGHT.
conf() {
	local be sep="" list=""
	for be in $5; do
		list+="${sep}      { ip = \"${be%:*}\"; port = 80; weight = ${be#*:}; }"
		sep=$',\n'
	done
	cat <<-EOF
	eal = { file_prefix = "${FP[$1]}"; lcores = "0,1"; classifier_lcore = 16; };
	ports = (
	  { name = "inside"; vdev = "net_af_packet0,iface=halb0,qdisc_bypass=1";
	    ipv4 = "$2/24"; gateway4 = "198.18.0.254"; } );
	flows = { entries = 4096; };
	idle_sleep_us = 100;
	sessions = {
	  name = "lb$1";
	  listen = "$3:7303";
	  socket = "$WORK/$1.sessiond.sock";
	  ring_size = 4096;
	  replica_entries = 4096;
	  resend_ms = 100;
	  dead_ms = 1000;
	  peers = ( { name = "lb$([ "$1" = a ] && echo b || echo a)"; address = "$4:7303"; key = "$KEY"; } );
	};
	services = (
	  { name = "web-dsr"; vip = "$VIP"; port = 80; protocol = "tcp"; mode = "dsr"; scheduler = "wrr";
	    backends = (
	$list ); } );
	EOF
}

ctl() { local x=$1; shift; ip netns exec "${NS[$x]}" "$HALB_BUILD/tools/halbctl" -c "${CONF[$x]}" "$@"; }
stat_of() { ctl "$1" stats 2>/dev/null | awk -v k="$2" '$1 == k":" { s += $2; n++ } END { if (n) print s; else exit 1 }'; }

echo "sessions: rig $P, DPDK file prefixes ${FP[a]} ${FP[b]}, work dir $WORK"
# Before the reload b1 and b2; after it b3 (new) in front of b1, b2 gone.
conf a 198.18.0.2 10.40.0.1 10.40.0.2 "198.18.0.11:1 198.18.0.12:1" >"${CONF[a]}"
conf b 198.18.0.4 10.40.0.2 10.40.0.1 "198.18.0.11:1 198.18.0.12:6" >"${CONF[b]}"
for x in a b; do
	out=$("$HALB_BUILD/session/halb-sessiond" --check-config "${CONF[$x]}" 2>&1) ||
		fatal "appliance $x: --check-config: $out"
done

# --- rig: topo.sh's, appliance B, the sync link ----------------------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || fatal "topo.sh up $P"
{
	ip netns add "$P-lb2" &&
	ip -n "$P-lb2" link set lo up &&
	ip netns exec "$P-lb2" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 &&
	ip -n "$P-lb2" link add halb0 type veth peer name lb2 netns "$P-sw" &&
	ip -n "$P-lb2" link set halb0 address 02:68:00:00:00:04 &&
	ip netns exec "$P-lb2" ethtool -K halb0 tx off rx off tso off gso off gro off >/dev/null &&
	ip netns exec "$P-sw" ethtool -K lb2 tx off rx off tso off gso off gro off >/dev/null &&
	ip -n "$P-lb2" link set halb0 up &&
	ip -n "$P-sw" link set lb2 master br0 &&
	ip -n "$P-sw" link set lb2 up &&
	ip -n "$P-lb" link add sync0 type veth peer name sync0 netns "$P-lb2" &&
	ip -n "$P-lb" addr add 10.40.0.1/24 dev sync0 &&
	ip -n "$P-lb2" addr add 10.40.0.2/24 dev sync0 &&
	ip -n "$P-lb" link set sync0 up &&
	ip -n "$P-lb2" link set sync0 up
} || fatal "cannot add appliance B and the sync link"
halb_start_backends "$P" "$WORK" || fatal "the backends' HTTP servers did not start"

# --- both appliances -------------------------------------------------------
declare -A FWD CLS SESS
# appliance X [LOG-SUFFIX]: its forwarder, classifier and halb-sessiond.
appliance() {
	local x=$1 n=${2:-}
	halb_spawn "$WORK/$x-forwarder$n.log" ip netns exec "${NS[$x]}" \
		"$HALB_BUILD/forwarder/halb-forwarder" -c "${CONF[$x]}"
	FWD[$x]=$HALB_LAST_PID
	halb_wait_until 30 eval "! halb_alive ${FWD[$x]} || ctl $x status >/dev/null 2>&1"
	ctl "$x" status >/dev/null 2>&1 || fatal "appliance $x: the forwarder does not answer within 30 s"
	halb_spawn "$WORK/$x-classifier$n.log" ip netns exec "${NS[$x]}" \
		"$HALB_BUILD/classifier/halb-classifier" -c "${CONF[$x]}"
	CLS[$x]=$HALB_LAST_PID
	halb_spawn "$WORK/$x-sessiond$n.log" ip netns exec "${NS[$x]}" \
		"$HALB_BUILD/session/halb-sessiond" -c "${CONF[$x]}"
	SESS[$x]=$HALB_LAST_PID
}
for x in a b; do appliance "$x"; done
ready() { ctl "$1" sessions 2>/dev/null | grep -q 'replica loaded'; }
synced() { ctl "$1" sessions 2>/dev/null | grep -q "^peer lb$2 .*: alive synced"; }
cls_up() { ctl "$1" status 2>/dev/null | grep -q '^[[:space:]]*classifier: up'; }
for x in a b; do
	halb_wait_until 30 cls_up "$x" || fatal "appliance $x: the classifier is not up within 30 s"
done
if halb_wait_until 20 ready a && halb_wait_until 20 ready b &&
	halb_wait_until 10 synced a b && halb_wait_until 10 synced b a; then
	pass "both sessionds ready, each with its peer alive and synced"
else
	fatal "the sessionds are not ready and synced within 30 s: A: $(ctl a sessions 2>&1 | tr '\n' ' ') B: $(ctl b sessions 2>&1 | tr '\n' ' ')"
fi
halb_wait_until 20 halb_client "$P" --url "http://$VIP/" --count 1 --timeout 1 >/dev/null 2>&1 ||
	fatal "no answer through A within 20 s"

# --- keep-alive connections through A ---------------------------------------
declare -A HOLD
for i in $(seq "$HOLDS"); do
	halb_spawn "$WORK/hold-$i.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
		--url "http://$VIP/" --keepalive-hold "$HOLD_SECONDS" --interval 0.2 --timeout 5 \
		--stop-file "$WORK/stop"
	HOLD[$i]=$HALB_LAST_PID
done
holds_connected() {
	local i
	for i in "${!HOLD[@]}"; do grep -qs '^connected' "$WORK/hold-$i.out" || return 1; done
}
if halb_wait_until 15 holds_connected; then
	pass "$HOLDS keep-alive connections established through A"
else
	fatal "the keep-alive connections did not all get a first answer within 15 s"
fi
replicated() { ctl b sessions 2>/dev/null | awk -v n="$HOLDS" '/replicated/ { for (i = 1; i <= NF; i++) if ($i == "replicated") found = ($(i - 1) + 0 >= n) } END { exit !found }'; }
if halb_wait_until 10 replicated; then
	pass "B's replica holds A's sessions: $(ctl b sessions | sed -n 2p)"
else
	fail "B's replica does not hold $HOLDS sessions within 10 s: $(ctl b sessions 2>&1 | tr '\n' ' ')"
fi

declare -A BACKEND
ON_B1=0
for i in "${!HOLD[@]}"; do
	BACKEND[$i]=$(sed -n 's/^connected .* -> //p' "$WORK/hold-$i.out")
	[ "${BACKEND[$i]}" = b1 ] && ON_B1=$((ON_B1 + 1))
done
echo "sessions: backends before the reload: $(printf '%s\n' "${BACKEND[@]}" | sort | uniq -c | tr -s ' \n' ' ')"

# --- a reload on both: b2 removed, b3 added in front of b1 -------------------
# The files' positions are no longer the slots: b3 is first in the file,
# slot 2 in the view (b1 keeps slot 0, b2's slot 1 is retired).
conf a 198.18.0.2 10.40.0.1 10.40.0.2 "198.18.0.13:1 198.18.0.11:1" >"${CONF[a]}"
conf b 198.18.0.4 10.40.0.2 10.40.0.1 "198.18.0.13:6 198.18.0.11:1" >"${CONF[b]}"
reloaded=0
for x in a b; do
	out=$(ctl "$x" reload 2>&1)
	rc=$?
	echo "$out" | sed "s/^/sessions: $x: /"
	if [ "$rc" -eq 0 ] && echo "$out" | grep -q '198.18.0.13:80 added' &&
		echo "$out" | grep -q '198.18.0.12:80 removed'; then
		reloaded=$((reloaded + 1))
	fi
done
[ "$reloaded" -eq 2 ] || fatal "the reload was not applied on both appliances"
view2() { ctl "$1" sessions 2>/dev/null | grep -q '^view generation 2 '; }
if halb_wait_until 5 view2 a && halb_wait_until 5 view2 b; then
	pass "reloaded on A and B (b2 removed, b3 added), both sessionds follow view generation 2"
else
	fail "the sessionds do not follow the view after the reload: A: $(ctl a sessions 2>&1 | sed -n 2p), B: $(ctl b sessions 2>&1 | sed -n 2p)"
fi

# A's sessiond restarted from the edited file: its sessions go to B by the
# view's slots (b1's as b1), which B maps to its own slots.
halb_stop "${SESS[a]}" TERM 10
halb_spawn "$WORK/a-sessiond2.log" ip netns exec "${NS[a]}" \
	"$HALB_BUILD/session/halb-sessiond" -c "${CONF[a]}"
SESS[a]=$HALB_LAST_PID
# B saw A's new life when A's hello says so; synced again once A's dump
# is in (and what it did not name is gone from B's replica).
if halb_wait_until 20 ready a && halb_wait_until 10 view2 a &&
	halb_wait_until 10 synced a b && halb_wait_until 10 synced b a; then
	pass "A's sessiond restarted after the reload: ready, view generation 2, synced with B both ways"
else
	fatal "A's restarted sessiond is not ready and synced within 30 s: $(ctl a sessions 2>&1 | tr '\n' ' ')"
fi
bad_a=$(ctl a sessions 2>/dev/null | sed -n 's/^events [0-9]* (bad \([0-9]*\)).*/\1/p')

# --- connections through A that go idle: one answer, then nothing ----------
declare -A IDL IDLE_BE
for i in $(seq "$IDLE"); do
	halb_spawn "$WORK/idle-$i.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
		--url "http://$VIP/" --keepalive-hold 180 --idle-until "$WORK/wake" --timeout 5
	IDL[$i]=$HALB_LAST_PID
done
idle_connected() {
	local i
	for i in "${!IDL[@]}"; do grep -qs '^connected' "$WORK/idle-$i.out" || return 1; done
}
halb_wait_until 15 idle_connected || fatal "the idle connections did not get a first answer within 15 s"
for i in "${!IDL[@]}"; do
	IDLE_BE[$i]=$(sed -n 's/^connected .* -> //p' "$WORK/idle-$i.out")
done
echo "sessions: $IDLE connections through A, idle from now: $(printf '%s\n' "${IDLE_BE[@]}" | sort | uniq -c | tr -s ' \n' ' ')"

# --- A's forwarder dies; the route moves to B --------------------------------
sleep 1
replica_before=$(stat_of b cls_replica) || replica_before=0
t0=$(date +%s%N)
kill -KILL "${FWD[a]}"
ip -n "$P-rtr" route replace 198.18.2.0/24 via 198.18.0.4
echo "sessions: killed A's forwarder (PID ${FWD[a]}) with SIGKILL, route moved to B in $((($(date +%s%N) - t0) / 1000000)) ms"

# Traffic on B for a while: until B answered every b1 connection's miss
# from its replica (bounded), then two seconds more.
moved() { local n; n=$(stat_of b cls_replica) || return 1; [ $((n - replica_before)) -ge "$ON_B1" ]; }
halb_wait_until 10 moved
sleep 2
touch "$WORK/stop"
broken=0
reset=0
for i in "${!HOLD[@]}"; do
	halb_wait_exit "${HOLD[$i]}" 15
	rc=$?
	if [ "$rc" -ne 0 ] && [ "${BACKEND[$i]}" = b2 ]; then
		reset=$((reset + 1))
	elif [ "$rc" -ne 0 ]; then
		broken=$((broken + 1))
		echo "sessions: connection $i (backend ${BACKEND[$i]}) broke: $(grep '^{' "$WORK/hold-$i.out" || echo '(no summary)')"
	fi
done
if [ "$ON_B1" -eq 0 ]; then
	fail "no connection was on b1 (unchanged by the reload): nothing to check"
elif [ "$broken" -eq 0 ]; then
	pass "all $ON_B1 connections on b1 (unchanged by the reload) went on through B on b1; $reset of $((HOLDS - ON_B1)) on b2 (removed) were reset by the reload, as designed"
else
	fail "$broken connections on b1 broke after the reload and the move to B"
fi
replica_after=$(stat_of b cls_replica) || replica_after=0
if [ $((replica_after - replica_before)) -ge "$ON_B1" ]; then
	pass "B gave $((replica_after - replica_before)) mid-connection misses the replica's backend (cls_replica; $ON_B1 connections on b1; stale records not used: $(stat_of b cls_replica_stale))"
else
	fail "B counted $((replica_after - replica_before)) misses from the replica (cls_replica), not $ON_B1"
fi
if [ "${bad_a:-x}" = 0 ]; then
	pass "A's restarted sessiond mapped every event of the classifier (bad 0)"
else
	fail "A's restarted sessiond could not map ${bad_a:-?} events: $(ctl a sessions 2>&1 | tr '\n' ' ')"
fi

# --- B's sessiond killed and restarted: its sessions back from the tables ----
own() { ctl "$1" sessions 2>/dev/null | sed -n 's/.*, \([0-9]*\) own sessions.*/\1/p'; }
own_before=$(own b)
kill -KILL "${SESS[b]}"
halb_reap "${SESS[b]}" 2>/dev/null
t0=$(date +%s%N)
halb_spawn "$WORK/b-sessiond2.log" ip netns exec "${NS[b]}" \
	"$HALB_BUILD/session/halb-sessiond" -c "${CONF[b]}"
SESS[b]=$HALB_LAST_PID
if halb_wait_until 20 ready b; then
	own_after=$(own b)
	bad_b=$(ctl b sessions 2>/dev/null | sed -n 's/^events [0-9]* (bad \([0-9]*\)).*/\1/p')
	if [ "${own_after:-0}" -ge "$ON_B1" ] && [ "${bad_b:-x}" = 0 ]; then
		pass "B's sessiond killed (SIGKILL) and restarted: ready in $((($(date +%s%N) - t0) / 1000000)) ms with $own_after own sessions from the flow tables (before: $own_before), every event mapped (bad 0)"
	else
		fail "B's restarted sessiond has ${own_after:-?} own sessions, not at least $ON_B1 (before: $own_before), bad ${bad_b:-?}"
	fi
else
	fail "B's restarted sessiond is not ready within 20 s: $(ctl b sessions 2>&1 | tr '\n' ' ')"
fi

# --- A back, whole; the route moves back to it --------------------------------
# Its new forwarder has no flow, its new sessiond no session: the idle
# connections are known only to B's replica, as A's records of before.
for pid in "${SESS[a]}" "${CLS[a]}"; do halb_stop "$pid" TERM 10; done
halb_reap "${FWD[a]}" 2>/dev/null
appliance a 3
halb_wait_until 30 cls_up a || fatal "restarted A: the classifier is not up within 30 s"
if halb_wait_until 20 ready a && halb_wait_until 10 synced a b && halb_wait_until 10 synced b a; then
	pass "A restarted whole (forwarder, classifier, sessiond): ready and synced with B both ways"
else
	fatal "restarted A is not ready and synced within 40 s: $(ctl a sessions 2>&1 | tr '\n' ' ')"
fi
unowned_a=$(ctl a sessions 2>/dev/null | sed -n 's/^received up [0-9]* (unowned \([0-9]*\)).*/\1/p')
kept_b=$(ctl b sessions 2>/dev/null | sed -n "s/^restarted peers' sessions: kept as no one's \([0-9]*\),.*/\1/p")
ip -n "$P-rtr" route replace 198.18.2.0/24 via 198.18.0.2
touch "$WORK/wake"
broken=0
for i in "${!IDL[@]}"; do
	if ! halb_wait_exit "${IDL[$i]}" 15; then
		broken=$((broken + 1))
		echo "sessions: idle connection $i (backend ${IDLE_BE[$i]}) broke: $(grep '^{' "$WORK/idle-$i.out" || echo '(no summary)')"
	fi
done
if [ "$broken" -eq 0 ] && [ "${unowned_a:-0}" -ge "$IDLE" ] && [ "${kept_b:-0}" -ge "$IDLE" ]; then
	pass "all $IDLE connections idle through A's restart answered again through A, on their backend: B kept $kept_b of A's sessions as no one's and gave $unowned_a back to A (unowned)"
else
	fail "A's restart: $broken of $IDLE idle connections broke; B kept ${kept_b:-?} of A's sessions as no one's, A got ${unowned_a:-?} back (unowned)"
fi
finish
