#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Sessions of flows that a remote classifier decided (issue 11;
# docs/CLASSIFIERS.md, "Sessions"), run by `make test` (root, the build in
# build/ or $HALB_BUILD, hugepages).
#
# The rig of tests/e2e/sessions.sh (appliance A in PREFIX-lb, appliance B
# in PREFIX-lb2 on the same server network, a sync link between them)
# plus a classifier host (topo.sh cls-host: PREFIX-ch, 198.18.9.2, reached
# from A).  A runs its forwarder and halb-sessiond and no local
# classifier: its classifiers.list names the remote one, which decides
# every new flow of A.  B runs a forwarder, a local classifier and
# halb-sessiond.  One DSR service on b1 and b2 with other weights on each
# side (1:1 on A and its remote, 1:6 on B), so that a connection decided
# on one side and given the other side's Maglev table would often move.
#
# Checks:
#   - the remote classifier is active on A, both sessionds ready and synced;
#   - HOLDS keep-alive connections through A, decided remotely: B's
#     replica holds them (the punt thread's session events reached A's
#     halb-sessiond, which replicated them);
#   - the route moved to B: none of them breaks, and B counts their misses
#     as cls_replica;
#   - HOLDS more through B (B's classifier, weights 1:6), then the route
#     back to A: none breaks, and A's punt thread gave their misses the
#     replica's backend without the remote (/halb/classifiers replica);
#   - A reloads (halbctl reload) a file that adds backend b3, with the
#     remote classifier active and HOLDS keep-alive connections on b1 and
#     b2; the remote's own file is left as it was: the forwarder sends
#     its view, the remote follows it (the remote used again, its view
#     counted), new connections reach b3 (decided remotely), and the
#     connections established before keep their backends.
# Prints PASS/FAIL per check and "remote_sessions: N passed, M failed";
# exits non-zero on any failure.  Every exit path stops the processes it
# started (by PID), removes the rig and its files.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOLDS=${E2E_RS_HOLDS:-12}
HOLD_SECONDS=${E2E_RS_HOLD_SECONDS:-90}  # upper bound: holds end on a stop file
VIP=198.18.2.100
KEY=5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55
PAIR_KEY=5a1e0c7d3b9f4e2a8c6d0b1f3e5a7c9d2b4f6a8c0e1d3b5f7a9c2e4d6b8f0a13

halb_require_root
halb_check_binaries session/halb-sessiond
halb_check_hugepages

P=hq$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/halb-rsess.XXXXXX")
TOPO=0
declare -A FP CONF NS
FP[a]=halb_hqa$$
FP[b]=halb_hqb$$
FP[r]=halb_hqr$$
CONF[a]=$WORK/a.conf
CONF[b]=$WORK/b.conf
CONF[r]=$WORK/r.conf
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

halb_checks remote_sessions

# conf X ADDRESS SYNC PEER_SYNC BACKENDS: one appliance's file (X: a, b,
# or r, the remote classifier's: A's services and a serve group);
# BACKENDS is a list of IP:WEIGHT.
conf() {
	local be sep="" list="" peer
	for be in $5; do
		list+="${sep}      { ip = \"${be%:*}\"; port = 80; weight = ${be#*:}; }"
		sep=$',\n'
	done
	if [ "$1" = b ]; then peer=a; else peer=b; fi
	cat <<-EOF
	eal = { file_prefix = "${FP[$1]}"; lcores = "0,1"; classifier_lcore = 16; };
	ports = (
	  { name = "inside"; vdev = "net_af_packet0,iface=halb0,qdisc_bypass=1";
	    ipv4 = "$2/24"; gateway4 = "198.18.0.254"; } );
	flows = { entries = 4096; };
	idle_sleep_us = 100;
	classifier_timeout_ms = 300;
	sessions = {
	  name = "lb$1";
	  listen = "$3:7303";
	  socket = "$WORK/$1.sessiond.sock";
	  ring_size = 4096;
	  replica_entries = 4096;
	  resend_ms = 100;
	  dead_ms = 1000;
	  peers = ( { name = "lb$peer"; address = "$4:7303"; key = "$KEY"; } );
	};
	services = (
	  { name = "web-dsr"; vip = "$VIP"; port = 80; protocol = "tcp"; mode = "dsr";
	    backends = (
	$list ); } );
	EOF
	case $1 in
	a) cat <<-EOF
	classifiers = {
	  name = "lba"; timeout_ms = 200; ping_ms = 25;
	  list = ( { kind = "local"; },
	           { kind = "remote"; name = "cls1"; address = "198.18.9.2:7310"; key = "$PAIR_KEY"; } );
	};
	# halb-had runs A without a local classifier: new flows go to cls1.
	ha = {
	  status_socket = "$WORK/a.had.sock";
	  forwarder = { command = [ "$HALB_BUILD/forwarder/halb-forwarder", "-c", "${CONF[a]}" ]; };
	  classifier = { enabled = false; };
	  sessiond = { command = [ "$HALB_BUILD/session/halb-sessiond", "-c", "${CONF[a]}" ]; };
	};
	EOF
	;;
	r) cat <<-EOF
	classifiers = {
	  serve = { name = "cls1"; listen = "0.0.0.0:7310";
	            forwarders = ( { name = "lba"; key = "$PAIR_KEY"; } ); };
	};
	EOF
	;;
	esac
}

ctl() { local x=$1; shift; ip netns exec "${NS[$x]}" "$HALB_BUILD/tools/halbctl" -c "${CONF[$x]}" "$@"; }
stat_of() { ctl "$1" stats 2>/dev/null | awk -v k="$2" '$1 == k":" { s += $2; n++ } END { if (n) print s; else exit 1 }'; }
# cls KEY: a value of A's /halb/classifiers ("active", "replica", "1.decisions").
cls() {
	ctl a json /halb/classifiers 2>/dev/null |
		"$HALB_PYTHON" -c '
import json, sys
v = json.load(sys.stdin)["/halb/classifiers"]
for p in sys.argv[1].split("."):
    v = v[p]
print(v)' "$1"
}

echo "remote_sessions: rig $P, DPDK file prefixes ${FP[a]} ${FP[b]}, work dir $WORK"
conf a 198.18.0.2 10.40.0.1 10.40.0.2 "198.18.0.11:1 198.18.0.12:1" >"${CONF[a]}"
conf r 198.18.0.2 10.40.0.1 10.40.0.2 "198.18.0.11:1 198.18.0.12:1" >"${CONF[r]}"
conf b 198.18.0.4 10.40.0.2 10.40.0.1 "198.18.0.11:1 198.18.0.12:6" >"${CONF[b]}"
chmod 600 "${CONF[@]}"
for x in a b; do
	out=$("$HALB_BUILD/session/halb-sessiond" --check-config "${CONF[$x]}" 2>&1) ||
		fatal "appliance $x: --check-config: $out"
done
out=$("$HALB_BUILD/classifier/halb-classifier" --check-config "${CONF[r]}" 2>&1) ||
	fatal "the remote classifier's file: --check-config: $out"

# --- rig: topo.sh's, the classifier host, appliance B, the sync link --------
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || fatal "topo.sh up $P"
"$HALB_E2E_DIR/topo.sh" cls-host "$P" || fatal "topo.sh cls-host $P"
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

# --- the remote classifier, both appliances ---------------------------------
halb_spawn "$WORK/remote.log" ip netns exec "$P-ch" "$HALB_BUILD/classifier/halb-classifier" --remote -c "${CONF[r]}"
RCLS=$HALB_LAST_PID
# A under halb-had (its forwarder and halb-sessiond, no local classifier);
# B's parts by hand.
halb_spawn "$WORK/a-had.log" ip netns exec "${NS[a]}" "$HALB_BUILD/ha/halb-had" -c "${CONF[a]}"
HAD=$HALB_LAST_PID
halb_spawn "$WORK/b-forwarder.log" ip netns exec "${NS[b]}" \
	"$HALB_BUILD/forwarder/halb-forwarder" -c "${CONF[b]}"
FWDB=$HALB_LAST_PID
halb_wait_until 30 eval "! halb_alive $FWDB || ctl b status >/dev/null 2>&1"
ctl b status >/dev/null 2>&1 || fatal "appliance B: the forwarder does not answer within 30 s"
halb_spawn "$WORK/b-classifier.log" ip netns exec "${NS[b]}" \
	"$HALB_BUILD/classifier/halb-classifier" -c "${CONF[b]}"
halb_spawn "$WORK/b-sessiond.log" ip netns exec "${NS[b]}" \
	"$HALB_BUILD/session/halb-sessiond" -c "${CONF[b]}"
fwd_a_up() { ctl a json /halb/classifiers >/dev/null 2>&1; }
halb_wait_until 40 eval "! halb_alive $HAD || fwd_a_up" && fwd_a_up ||
	fatal "appliance A: halb-had's forwarder does not answer within 40 s: $(tail -n 5 "$WORK/a-had.log")"
halb_alive "$RCLS" || fatal "the remote classifier exited: $(tail -n 3 "$WORK/remote.log")"
ready() { ctl "$1" sessions 2>/dev/null | grep -q 'replica loaded'; }
synced() { ctl "$1" sessions 2>/dev/null | grep -q "^peer lb$2 .*: alive synced"; }
cls_up() { ctl "$1" status 2>/dev/null | grep -q '^[[:space:]]*classifier: up'; }
remote_active() { [ "$(cls active)" = cls1 ]; }
halb_wait_until 30 cls_up b || fatal "appliance B: the classifier is not up within 30 s"
halb_wait_until 15 remote_active ||
	fatal "A: the remote classifier is not active within 15 s: $(ctl a json /halb/classifiers 2>&1 | tr -s ' \n' ' ')"
if halb_wait_until 20 ready a && halb_wait_until 20 ready b &&
	halb_wait_until 10 synced a b && halb_wait_until 10 synced b a; then
	pass "A decides new flows with the remote classifier cls1; both sessionds ready and synced"
else
	fatal "the sessionds are not ready and synced within 30 s: A: $(ctl a sessions 2>&1 | tr '\n' ' ') B: $(ctl b sessions 2>&1 | tr '\n' ' ')"
fi
halb_wait_until 20 halb_client "$P" --url "http://$VIP/" --count 1 --timeout 1 >/dev/null 2>&1 ||
	fatal "no answer through A within 20 s"
# halbctl status (halb-had's) names the classifier the forwarder uses.
had_says() { ctl a status 2>/dev/null | grep -q "^classifier active: $1"; }
if halb_wait_until 5 had_says "remote cls1"; then
	pass "halbctl status (halb-had): $(ctl a status | grep '^classifier active')"
else
	fail "halbctl status does not name the remote classifier: $(ctl a status 2>&1 | grep -i classifier | tr '\n' ' ')"
fi

# holds TAG: HOLDS keep-alive connections, PIDs in HOLD_TAG, backends in BE_TAG.
declare -A HOLD BE
holds() {
	local i
	for i in $(seq "$HOLDS"); do
		halb_spawn "$WORK/hold-$1-$i.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
			--url "http://$VIP/" --keepalive-hold "$HOLD_SECONDS" --interval 0.2 --timeout 5 \
			--stop-file "$WORK/stop-$1"
		HOLD[$1-$i]=$HALB_LAST_PID
	done
}
connected() {
	local i
	for i in $(seq "$HOLDS"); do grep -qs '^connected' "$WORK/hold-$1-$i.out" || return 1; done
}
# backends_of TAG: sets BE_TAG-i, prints the spread.
backends_of() {
	local i
	for i in $(seq "$HOLDS"); do
		BE[$1-$i]=$(sed -n 's/^connected .* -> //p' "$WORK/hold-$1-$i.out")
	done
	for i in $(seq "$HOLDS"); do echo "${BE[$1-$i]}"; done | sort | uniq -c | tr -s ' \n' ' '
}
# ended TAG: stops TAG's connections; BROKEN: how many of them broke (a
# client whose connection was reset or lost, even once, exits non-zero).
# Not in a subshell: it reaps this shell's children.
ended() {
	local i
	BROKEN=0
	touch "$WORK/stop-$1"
	for i in $(seq "$HOLDS"); do
		if ! halb_wait_exit "${HOLD[$1-$i]}" 15; then
			BROKEN=$((BROKEN + 1))
			echo "remote_sessions: connection $1-$i (backend ${BE[$1-$i]:-?}): $(grep '^{' "$WORK/hold-$1-$i.out" || echo '(no summary)')"
		fi
	done
}

# --- 1: connections decided remotely are replicated to B --------------------
dec0=$(cls 1.decisions) || dec0=0
holds one
halb_wait_until 15 connected one || fatal "the keep-alive connections through A did not all get a first answer within 15 s"
dec1=$(cls 1.decisions) || dec1=0
backends_of one >/dev/null
if [ $((dec1 - dec0)) -ge "$HOLDS" ]; then
	pass "$HOLDS keep-alive connections through A, decided by the remote classifier ($((dec1 - dec0)) decisions; backends: $(backends_of one))"
else
	fail "the remote decided $((dec1 - dec0)) flows for $HOLDS connections through A"
fi
replicated() { ctl b sessions 2>/dev/null | awk -v n="$HOLDS" '/replicated/ { for (i = 1; i <= NF; i++) if ($i == "replicated") found = ($(i - 1) + 0 >= n) } END { exit !found }'; }
if halb_wait_until 10 replicated; then
	pass "B's replica holds the sessions decided remotely on A: $(ctl b sessions | sed -n 2p) (A: $(stat_of a cls_sess_events) session events)"
else
	fail "B's replica does not hold $HOLDS sessions within 10 s: $(ctl b sessions 2>&1 | tr '\n' ' '); A: $(ctl a sessions 2>&1 | tr '\n' ' ')"
fi

# --- 2: the route moves to B: B's classifier gives them the replica's ------
rep0=$(stat_of b cls_replica) || rep0=0
ip -n "$P-rtr" route replace 198.18.2.0/24 via 198.18.0.4
moved_b() { local n; n=$(stat_of b cls_replica) || return 1; [ $((n - rep0)) -ge "$HOLDS" ]; }
halb_wait_until 11 moved_b
rep1=$(stat_of b cls_replica) || rep1=0
if [ $((rep1 - rep0)) -ge "$HOLDS" ]; then
	pass "route moved to B: B gave $((rep1 - rep0)) misses of the connections decided remotely the replica's backend"
else
	fail "route moved to B: B's cls_replica grew by $((rep1 - rep0)), not $HOLDS"
fi

# --- 3: connections of B move to A: the punt thread gives the replica's ----
holds two
halb_wait_until 15 connected two || fatal "the keep-alive connections through B did not all get a first answer within 15 s"
backends_of two >/dev/null
echo "remote_sessions: connections through B on $(backends_of two)"
halb_wait_until 10 eval "ctl a sessions 2>/dev/null | awk -v n=$((2 * HOLDS)) '/replicated/ { for (i = 1; i <= NF; i++) if (\$i == \"replicated\") f = (\$(i - 1) + 0 >= n) } END { exit !f }'" ||
	echo "remote_sessions: A's replica: $(ctl a sessions 2>&1 | sed -n 2p)"
prep0=$(cls replica) || prep0=0
dec2=$(cls 1.decisions) || dec2=0
ip -n "$P-rtr" route replace 198.18.2.0/24 via 198.18.0.2
moved_a() { local n; n=$(cls replica) || return 1; [ $((n - prep0)) -ge "$HOLDS" ]; }
halb_wait_until 12 moved_a
prep1=$(cls replica) || prep1=0
dec3=$(cls 1.decisions) || dec3=0
if [ $((prep1 - prep0)) -ge "$HOLDS" ]; then
	pass "route back to A: A's punt thread gave $((prep1 - prep0)) misses of B's connections the replica's backend, without the remote (it decided $((dec3 - dec2)) flows meanwhile)"
else
	fail "route back to A: A's punt thread gave $((prep1 - prep0)) misses the replica's backend, not $HOLDS; the remote decided $((dec3 - dec2))"
fi
# --- 4: a reload of A reaches the remote classifier ---------------------------
holds three
halb_wait_until 15 connected three || fatal "the keep-alive connections before the reload did not all get a first answer within 15 s"
backends_of three >/dev/null
echo "remote_sessions: before the reload, connections on $(backends_of three)"
views0=$(cls 1.views) || views0=0
conf a 198.18.0.2 10.40.0.1 10.40.0.2 "198.18.0.11:1 198.18.0.12:1 198.18.0.13:2" >"${CONF[a]}"
out=$(ctl a reload 2>&1)
rc=$?
echo "$out" | sed 's/^/remote_sessions: reload: /'
[ "$rc" -eq 0 ] && echo "$out" | grep -q '198.18.0.13:80 added' ||
	fatal "A did not apply the reload that adds b3"
followed() { grep -q "following forwarder lba's view generation 2" "$WORK/remote.log" && [ "$(cls 1.state)" = up ] && [ "$(cls active)" = cls1 ]; }
if halb_wait_until 5 followed; then
	pass "the remote classifier follows A's reload (its own file unchanged): $(grep -m1 "following forwarder lba's view generation 2" "$WORK/remote.log" | sed 's/.*\(following\)/\1/'); A sent its view $(( $(cls 1.views) - views0 )) time(s); active again: $(cls active)"
else
	fail "the remote classifier does not follow A's reload within 5 s: state $(cls 1.state), active $(cls active), digest mismatches $(cls 1.digest_mismatch); its log: $(tail -n 3 "$WORK/remote.log" | tr '\n' ' ')"
fi
dec4=$(cls 1.decisions) || dec4=0
bad4=$(cls bad_decision) || bad4=0
ex4=$(cls existing) || ex4=0
NEW=${E2E_RS_NEW:-400}
if out=$(halb_client "$P" --url "http://$VIP/" --count "$NEW" --parallel 8 --timeout 3 2>&1) &&
	"$HALB_PYTHON" -c '
import json, sys
r = json.loads(sys.argv[1]); n = int(sys.argv[2])
b3 = r["by_backend"].get("b3", 0)
sys.exit(0 if r["ok"] == n and not r["failed"] and b3 >= n // 4 else 1)' "$(echo "$out" | tail -n 1)" "$NEW" &&
	[ $(( $(cls 1.decisions) - dec4 )) -ge "$NEW" ]; then
	pass "after the reload: $NEW new connections, all answered, b3 (new, weight 2 of 4) got its share: $(echo "$out" | tail -n 1); decided remotely: $(( $(cls 1.decisions) - dec4 ))"
else
	fail "after the reload: $(echo "$out" | tail -n 1); decided remotely: $(( $(cls 1.decisions) - dec4 )) of $NEW (refused as naming no live slot: $(( $(cls bad_decision) - bad4 )); already in a table: $(( $(cls existing) - ex4 )))"
fi

for t in one two three; do
	ended "$t"
	if [ "$BROKEN" -eq 0 ]; then
		case $t in
		one) what="decided remotely on A, through B, back on A" ;;
		two) what="decided on B, then through A with the remote active" ;;
		*) what="decided remotely before A's reload, on $(backends_of three)" ;;
		esac
		pass "connections $t: all $HOLDS went on, no reset, no reconnection ($what)"
	else
		fail "connections $t: $BROKEN of $HOLDS broke or reconnected"
	fi
done
finish
