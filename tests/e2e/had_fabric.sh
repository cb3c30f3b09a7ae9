#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/e2e/had_fabric.sh: halb-had running each appliance of the routing
# fabric (docs/RELIABILITY.md, "Routes" and "Drain"); run by `make test`
# after fabric.sh; needs root, the build in build/ or $HALB_BUILD,
# hugepages and bird2.  Under the shared lock when tried by hand:
#   flock /tmp/halb-rig.lock tests/e2e/had_fabric.sh
#
# The rig of `tests/e2e/topo.sh fabric-up` with two appliances; on each,
# one halb-had starts everything: forwarder, classifier, halb-healthd,
# halb-sessiond (peering with the other over sync0) and BIRD (on the file
# had writes).  The router runs BIRD with multipath and BFD; each backend
# an HTTP server and a halb-agent reporting to both appliances.  Checks:
#   1. had starts the five parts; the router gets a route through an
#      appliance only once its had says it is ready (forwarder,
#      classifier, sessiond with its replica loaded), and then a
#      multipath route per VIP; prints the time from ready to the route;
#   2. under keep-alive connections (a request every 100 ms each, through
#      both appliances): kill -9 lb1's forwarder: had withdraws lb1's
#      VIPs (BFD has the router drop the path meanwhile), restarts
#      forwarder, classifier and sessiond, announces again once they are
#      ready; the route comes back over both; no connection broken;
#   3. per VIP: every backend of web-tunnel disabled on lb1 (halbctl
#      disable): had withdraws that VIP alone; enabled again: announced;
#      SIGSTOP on lb2's BIRD: the router drops lb2 (BFD), had finds BIRD
#      hung (its control socket silent for 3 s), restarts it, announces
#      again; kill -9 lb2's had: a new one adopts all five parts (BIRD by
#      its pid file), and the router's routes do not move;
#   4. `halbctl drain-appliance` on lb1 under tests/e2e/load.py's load
#      (100 keep-alive connections, a request every 100 ms each, and 20
#      new connections a second): routes withdrawn, traffic moved,
#      sessions in lb2's replica, then lb1's parts stopped: zero broken
#      and zero failed connections; lb2's had shows peer lb1 dead;
#      `resume-appliance`: lb1 announced again;
#   5. SIGTERM to both hads: each drains and stops its parts, exit 0.
# Prints PASS/FAIL per check, the times measured, and "had_fabric: N
# passed, M failed"; exits non-zero on any failure.  Every exit path
# stops what it started.  About 60 s.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOLDS=${HADF_HOLDS:-12}     # keep-alive connections through the forwarder kill
CONNS=${HADF_CONNS:-100}    # load.py's, through the drain
NEW_RATE=${HADF_NEW_RATE:-20}
LOCAL_AS=65001
ROUTER_AS=65000
VIP4=198.18.2.100
VIPT=198.18.2.102
VIP6=fd00:68:2::100
HAD=${HAD_BIN:-$HALB_BUILD/ha/halb-had}

halb_require_root
halb_check_binaries healthload/halb-healthd healthload/halb-agent ha/halb-had session/halb-sessiond
halb_check_hugepages
command -v bird >/dev/null || halb_die "bird is missing (package bird2: scripts/deps.sh)"

P=hh$$
WORK=$(mktemp -d /tmp/halb-hadf.XXXXXX)
TOPO=0
N=2
ALL="1 2"
declare -A FP CONF KEY HAD_PID
declare -a PARTS_SEEN=()

cleanup() {
	local rc=$? i pid
	trap - EXIT INT TERM
	for i in $ALL; do
		remember "$i" 2>/dev/null
		[ -n "${HAD_PID[$i]:-}" ] && kill -s TERM "${HAD_PID[$i]}" 2>/dev/null
	done
	for i in $ALL; do
		[ -n "${HAD_PID[$i]:-}" ] && halb_stop "${HAD_PID[$i]}" TERM 20 2>/dev/null
	done
	halb_stop_all
	for pid in "${PARTS_SEEN[@]}"; do
		if [ -e "/proc/$pid" ] && grep -qsE 'halb-|bird' "/proc/$pid/cmdline"; then
			kill -s KILL "$pid" 2>/dev/null
		fi
	done
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	for i in "${!FP[@]}"; do
		halb_remove_dpdk_files "${FP[$i]}"
		rm -rf "/run/halb/${FP[$i]}"
		rm -f "/run/halb/${FP[$i]}.health" "/run/halb/${FP[$i]}.healthd.sock"
	done
	if [ "${HADF_KEEP_LOGS:-0}" = 1 ] && [ "$FAILED" -gt 0 ]; then
		echo "had_fabric: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "had_fabric: interrupted" >&2; exit 130' INT
trap 'echo "had_fabric: terminated" >&2; exit 143' TERM

halb_checks had_fabric had-lb1 had-lb2
TIMES=()
halb_checks_notes() {
	local t
	for t in "${TIMES[@]}"; do echo "had_fabric: $t"; done
}

ms_now() { date +%s%3N; }
ctl() { local i=$1; shift; ip netns exec "$P-lb$i" "$HALB_BUILD/tools/halbctl" -c "${CONF[$i]}" "$@"; }
# had's status straight from its socket (halbctl status also asks the
# forwarder, which may be down).
hstatus() {
	"$HALB_PYTHON" -S -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"status\n")
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
' "$WORK/lb$1.had.sock" 2>/dev/null
}
part_field() { hstatus "$1" | awk -v p="$2" -v n="$3" '$1 == p { print $n; exit }'; }
remember() {
	local part pid
	for part in forwarder classifier healthd sessiond bird; do
		pid=$(part_field "$1" "$part" 3)
		[[ $pid =~ ^[0-9]+$ ]] && PARTS_SEEN+=("$pid")
	done
	return 0
}
all_up() {
	local part st
	for part in forwarder classifier healthd sessiond bird; do
		st=$(part_field "$1" "$part" 2)
		[ "$st" = up ] || return 1
	done
	remember "$1"
}
ready() { hstatus "$1" | grep -q '^routes: .*appliance ready'; }
vip_state() { hstatus "$1" | awk -v v="$2" '$1 == "vip" && $2 == v { print $3; exit }'; }

route_nexthops() {
	local fam=-4
	[[ $1 == *:* ]] && fam=-6
	ip -n "$P-rtr" "$fam" route show "$1" 2>/dev/null |
		grep -o 'via [0-9a-f:.]*' | awk '{ print $2 }' | sort | tr '\n' ' '
}
route_is() { [ "$(route_nexthops "$1")" = "$2" ]; }
both4="198.18.0.2 198.18.0.4 "
only2="198.18.0.4 "
both6="fd00:68::2 fd00:68::4 "
# wait_ms TIMEOUT_MS CMD...: polls CMD every 20 ms; prints the ms it took.
wait_ms() {
	local timeout=$1 t0
	shift
	t0=$(ms_now)
	while :; do
		if "$@"; then
			echo $(($(ms_now) - t0))
			return 0
		fi
		[ $(($(ms_now) - t0)) -ge "$timeout" ] && return 1
		sleep 0.02
	done
}

appliance_conf() {
	local i=$1 x=$((2 * $1)) j=$((3 - $1)) B=$HALB_BUILD C=${CONF[$1]}
	cat <<EOF
# Appliance lb$i of the had fabric rig (tests/e2e/had_fabric.sh).
eal = { file_prefix = "${FP[$i]}"; lcores = "0,1"; classifier_lcore = 16; };
ports = (
  { name = "inside"; vdev = "net_af_packet0,iface=halb0,qdisc_bypass=1";
    ipv4 = "198.18.0.$x/24"; ipv6 = "fd00:68::$x/64";
    gateway4 = "198.18.0.254"; gateway6 = "fd00:68::fe";
    kernel = "halb0k"; } );
flows = { entries = 16384; tcp_syn_timeout = 5.0; tcp_timeout = 300.0;
          tcp_fin_timeout = 10.0; udp_timeout = 30.0; };
idle_sleep_us = 100;
classifier_timeout_ms = 300;
health = { listen = "198.18.0.$x:7300"; name = "lb$i"; key = "${KEY[lb$i]}";
  state_file = "$WORK/lb$i.operator";
  agents = ( { host = "b1"; key = "${KEY[b1]}"; }, { host = "b2"; key = "${KEY[b2]}"; },
             { host = "b3"; key = "${KEY[b3]}"; } ); };
sessions = { name = "lb$i"; listen = "198.18.3.$i:7303"; socket = "$WORK/lb$i.sessiond.sock";
  ring_size = 4096; replica_entries = 16384; resend_ms = 100; dead_ms = 1000;
  peers = ( { name = "lb$j"; address = "198.18.3.$j:7303"; key = "${KEY[sync]}"; } ); };
services = (
  { name = "web-dsr"; vip = "$VIP4"; port = 80; protocol = "tcp"; mode = "dsr";
    backends = ( { ip = "198.18.0.11"; port = 80; weight = 1; agent = "b1"; },
                 { ip = "198.18.0.12"; port = 80; weight = 1; agent = "b2"; },
                 { ip = "198.18.0.13"; port = 80; weight = 2; agent = "b3"; } ); },
  { name = "web-tunnel"; vip = "$VIPT"; port = 80; protocol = "tcp";
    mode = "tunnel"; vni = 42; tunnel_port = 4789;
    backends = ( { ip = "198.18.0.11"; weight = 1; tunnel_mac = "02:68:00:00:00:0b"; agent = "b1"; },
                 { ip = "198.18.0.12"; weight = 1; tunnel_mac = "02:68:00:00:00:0c"; agent = "b2"; },
                 { ip = "198.18.0.13"; weight = 2; tunnel_mac = "02:68:00:00:00:0d"; agent = "b3"; } ); },
  { name = "web6-dsr"; vip = "$VIP6"; port = 80; protocol = "tcp"; mode = "dsr";
    backends = ( { ip = "fd00:68::11"; port = 80; weight = 1; agent = "b1"; },
                 { ip = "fd00:68::12"; port = 80; weight = 1; agent = "b2"; },
                 { ip = "fd00:68::13"; port = 80; weight = 2; agent = "b3"; } ); } );
bgp = {
  as = $LOCAL_AS;
  neighbours = ( { address = "198.18.0.254"; as = $ROUTER_AS; },
                 { address = "fd00:68::fe"; as = $ROUTER_AS; } );
  socket = "$WORK/bird-lb$i.ctl";
};
ha = {
  status_socket = "$WORK/lb$i.had.sock";
  drain_timeout_ms = 8000;
  drain_quiet_ms = 500;
  forwarder = { command = [ "$B/forwarder/halb-forwarder", "-c", "$C" ]; };
  classifier = { command = [ "$B/classifier/halb-classifier", "-c", "$C" ]; };
  healthd = { command = [ "$B/healthload/halb-healthd", "-c", "$C" ]; };
  sessiond = { command = [ "$B/session/halb-sessiond", "-c", "$C" ]; };
};
EOF
}

agent_conf() {
	local b=$1 n=${1#b}
	cat <<EOF
agent = {
  host = "$b"; key = "${KEY[$b]}";
  handlers = ( { address = "198.18.0.2:7300"; name = "lb1"; key = "${KEY[lb1]}"; },
               { address = "198.18.0.4:7300"; name = "lb2"; key = "${KEY[lb2]}"; } );
  listen = "0.0.0.0:7301";
  interval_ms = 500;
  capacity = 100;
  control = "$WORK/agent-$b.sock";
  services = (
    { service = "web-dsr"; address = "198.18.0.1$n"; port = 80;
      check = { type = "http"; url = "http://127.0.0.1:80/"; expect = 200; timeout_ms = 400; fall = 2; }; },
    { service = "web-tunnel"; address = "198.18.0.1$n"; port = 80;
      check = { type = "http"; url = "http://127.0.0.1:80/"; expect = 200; timeout_ms = 400; fall = 2; }; },
    { service = "web6-dsr"; address = "fd00:68::1$n"; port = 80;
      check = { type = "http"; url = "http://[::1]:80/"; expect = 200; timeout_ms = 400; fall = 2; }; } );
};
EOF
}

router_conf() {
	cat <<EOF
log stderr all;
router id 198.18.0.254;
protocol device { }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
protocol bfd { interface "eth1" { interval 100 ms; multiplier 3; }; }
template bgp lb4 { local 198.18.0.254 as $ROUTER_AS; direct; bfd on;
  error wait time 1, 5; connect delay time 1; ipv4 { import all; export none; }; }
template bgp lb6 { local fd00:68::fe as $ROUTER_AS; direct; bfd on;
  error wait time 1, 5; connect delay time 1; ipv6 { import all; export none; }; }
protocol bgp lb1v4 from lb4 { neighbor 198.18.0.2 as $LOCAL_AS; }
protocol bgp lb1v6 from lb6 { neighbor fd00:68::2 as $LOCAL_AS; }
protocol bgp lb2v4 from lb4 { neighbor 198.18.0.4 as $LOCAL_AS; }
protocol bgp lb2v6 from lb6 { neighbor fd00:68::4 as $LOCAL_AS; }
EOF
}

# holds TAG N: N keep-alive connections spread over the three VIPs, a
# request every 100 ms, until WORK/stop-TAG exists.
holds() {
	local tag=$1 n=$2 h url
	rm -f "$WORK/stop-$tag"
	for ((h = 1; h <= n; h++)); do
		case $((h % 3)) in
		0) url=http://$VIP4/ ;;
		1) url=http://$VIPT/ ;;
		2) url=http://[$VIP6]/ ;;
		esac
		halb_spawn "$WORK/hold-$tag-$h.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
			--url "$url" --keepalive-hold 120 --timeout 3 --stop-file "$WORK/stop-$tag"
		echo "$HALB_LAST_PID" >>"$WORK/holds-$tag"
	done
}
holds_connected() { [ "$(cat "$WORK"/hold-"$1"-*.out 2>/dev/null | grep -c '^connected')" -ge "$2" ]; }
# holds_end TAG: stops them; prints "OK FAILED" summed over their summaries.
holds_end() {
	local pid
	touch "$WORK/stop-$1"
	while read -r pid; do halb_wait_exit "$pid" 10 >/dev/null 2>&1; done <"$WORK/holds-$1"
	cat "$WORK"/hold-"$1"-*.out | grep '^{' | "$HALB_PYTHON" -c '
import json, sys
ok = failed = n = 0
for l in sys.stdin:
    r = json.loads(l); ok += r["ok"]; failed += r["failed"]; n += 1
print(ok, failed, n)'
}

echo "had_fabric: rig $P, binaries from $HALB_BUILD, work dir $WORK"

# --- configuration ---------------------------------------------------------
for k in lb1 lb2 sync $HALB_BACKENDS; do
	KEY[$k]=$("$HALB_PYTHON" -c 'import secrets; print(secrets.token_hex(32))')
done
for b in $HALB_BACKENDS; do
	agent_conf "$b" >"$WORK/agent-$b.conf"
	chmod 600 "$WORK/agent-$b.conf"
done
for i in $ALL; do
	FP[$i]=halb_${P}_$i
	CONF[$i]=$WORK/lb$i.conf
	appliance_conf "$i" >"${CONF[$i]}"
	chmod 600 "${CONF[$i]}"
	out=$("$HAD" --check-config "${CONF[$i]}" 2>&1) || fatal "halb-had --check-config lb$i: $out"
done
pass "halb-had --check-config: five parts on each appliance ($(echo "$out" | grep -c '^  [a-z]* .*hung after') run, bird among them)"
router_conf >"$WORK/bird-rtr.conf"

# --- 1. had brings each appliance up; routes only once ready ---------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" fabric-up "$P" "$N" || fatal "topo.sh fabric-up $P $N"
halb_start_backends "$P" "$WORK" || fatal "the backends' HTTP servers did not start"
halb_start_agents "$P" "$WORK" || fatal "the agents did not start"
halb_spawn "$WORK/bird-rtr.log" ip netns exec "$P-rtr" bird -f -c "$WORK/bird-rtr.conf" -s "$WORK/bird-rtr.ctl"
for i in $ALL; do
	halb_spawn "$WORK/had-lb$i.log" ip netns exec "$P-lb$i" "$HAD" -c "${CONF[$i]}"
	HAD_PID[$i]=$HALB_LAST_PID
done
# Until both are ready: a route through lbI must never come before lbI's
# had says ready.
early=""
declare -A T_READY T_ROUTE
t0=$(ms_now)
while [ $(($(ms_now) - t0)) -lt 60000 ]; do
	nh=$(route_nexthops "$VIP4")
	for i in $ALL; do
		x=198.18.0.$((2 * i))
		if [ -z "${T_READY[$i]:-}" ] && ready "$i"; then T_READY[$i]=$(ms_now); fi
		if [ -z "${T_ROUTE[$i]:-}" ] && [[ " $nh" == *" $x "* ]]; then
			T_ROUTE[$i]=$(ms_now)
			[ -z "${T_READY[$i]:-}" ] && ! ready "$i" && early="$early lb$i"
		fi
	done
	[ -n "${T_ROUTE[1]:-}" ] && [ -n "${T_ROUTE[2]:-}" ] && break
	sleep 0.05
done
for i in $ALL; do
	halb_wait_until 10 all_up "$i" || fatal "lb$i: had has not every part up: $(hstatus "$i" | tr '\n' '|')"
done
pass "had brought up forwarder, classifier, healthd, sessiond and BIRD on both appliances in $(($(ms_now) - t0)) ms"
# healthd listens on the kernel interface's address: it waits for the
# forwarder (ha-list's default for such a file) instead of failing.
if [ "$(part_field 1 healthd 5)" = 0 ] && [ "$(part_field 2 healthd 5)" = 0 ]; then
	pass "halb-healthd (listening on the kernel interface's address) started after the forwarder, no failed start"
else
	fail "halb-healthd restarted at start: $(hstatus 1 | grep '^healthd')"
fi
if [ -z "$early" ] && [ -n "${T_ROUTE[1]:-}" ] && [ -n "${T_ROUTE[2]:-}" ]; then
	pass "no route before the appliance was ready; from ready to the router's route: lb1 $((T_ROUTE[1] - T_READY[1])) ms, lb2 $((T_ROUTE[2] - T_READY[2])) ms (polled every 50 ms)"
	TIMES+=("announce: had ready -> router's route: lb1 $((T_ROUTE[1] - T_READY[1])) ms, lb2 $((T_ROUTE[2] - T_READY[2])) ms")
else
	fatal "routes: early through '$early', lb1 route at ${T_ROUTE[1]:-never}, lb2 at ${T_ROUTE[2]:-never}: $(hstatus 1 | grep -E '^(routes| *vip)' | tr '\n' '|')"
fi
if halb_wait_until 10 route_is "$VIP4" "$both4" && halb_wait_until 10 route_is "$VIPT" "$both4" &&
	halb_wait_until 10 route_is "$VIP6" "$both6"; then
	pass "the router has a multipath route to each VIP over both appliances"
else
	fatal "multipath routes: $VIP4 via $(route_nexthops "$VIP4"), $VIPT via $(route_nexthops "$VIPT"), $VIP6 via $(route_nexthops "$VIP6")"
fi
out=$(ctl 1 status 2>&1)
if echo "$out" | grep -Eq '^bird +up' && echo "$out" | grep -Eq '^sessiond +up' &&
	echo "$out" | grep -q '^classifier active: local' && echo "$out" | grep -Eq "^  vip $VIP4 +announced" &&
	echo "$out" | grep -q '^peer lb2: alive synced'; then
	pass "halbctl status shows every part, the active classifier, each VIP announced and peer lb2 alive"
else
	fail "halbctl status: $(echo "$out" | head -n 20 | tr '\n' '|')"
fi
echo "$out" | sed -n '1,/^peer/p' | sed 's/^/    /'

# --- 2. kill -9 lb1's forwarder under keep-alive connections ---------------
holds a "$HOLDS"
halb_wait_until 15 holds_connected a "$HOLDS" || fail "the keep-alive connections did not all connect within 15 s"
sleep 1  # their sessions replicated
fwd=$(part_field 1 forwarder 3)
t_kill=$(ms_now)
kill -s KILL "$fwd"
t_gone=$(wait_ms 5000 route_is "$VIP4" "$only2") || t_gone=
withdrew=$(wait_ms 3000 eval 'grep -q "routes: withdrew $VIP4" "$WORK/had-lb1.log"') || withdrew=
if t_back=$(wait_ms 40000 route_is "$VIP4" "$both4"); then
	t_back=$((t_back + ${t_gone:-0}))
	restart_line=$(grep -n 'forwarder: started, pid' "$WORK/had-lb1.log" | tail -n 1 | cut -d: -f1)
	wd_line=$(grep -n "routes: withdrew $VIP4" "$WORK/had-lb1.log" | tail -n 1 | cut -d: -f1)
	an_line=$(grep -n "routes: announced $VIP4" "$WORK/had-lb1.log" | tail -n 1 | cut -d: -f1)
	ses_line=$(grep -n 'sessiond: ready' "$WORK/had-lb1.log" | tail -n 1 | cut -d: -f1)
	if [ -n "$withdrew" ] && [ -n "$wd_line" ] && [ "$wd_line" -lt "$restart_line" ] &&
		[ "$an_line" -gt "$restart_line" ] && [ "$an_line" -gt "${ses_line:-0}" ]; then
		pass "kill -9 lb1's forwarder: the router dropped lb1 ${t_gone:-?} ms later (BFD), had withdrew before the restart and announced again after sessiond was ready; lb1 back in the route $t_back ms after the kill"
	else
		fail "kill -9 lb1's forwarder: log order withdraw ${wd_line:-none}, restart ${restart_line:-none}, sessiond ready ${ses_line:-none}, announce ${an_line:-none}"
	fi
	TIMES+=("kill -9 forwarder: router drops lb1 ${t_gone:-?} ms, lb1 announced and back in the route ${t_back} ms after the kill")
	remember 1
else
	fatal "kill -9 lb1's forwarder: lb1 not back in the route within 40 s: $(hstatus 1 | tr '\n' '|')"
fi
halb_wait_until 10 all_up 1 || fail "lb1: not every part up again: $(hstatus 1 | tr '\n' '|')"
sleep 1
read -r ok failed n < <(holds_end a)
if [ "${failed:-1}" = 0 ] && [ "${n:-0}" = "$HOLDS" ]; then
	pass "the $HOLDS keep-alive connections went on through the kill and lb1's return: $ok requests, 0 failed"
else
	fail "keep-alive connections through the kill: $ok answered, ${failed:-?} failed ($n summaries)"
fi

# --- 3. per VIP: every backend of web-tunnel down on lb1 -------------------
for b in 198.18.0.11:80 198.18.0.12:80 198.18.0.13:80; do
	ctl 1 disable web-tunnel "$b" >/dev/null 2>"$WORK/why" || fail "halbctl disable web-tunnel $b: $(cat "$WORK/why")"
done
if t=$(wait_ms 5000 route_is "$VIPT" "$only2") && route_is "$VIP4" "$both4" && route_is "$VIP6" "$both6" &&
	[ "$(vip_state 1 "$VIPT")" = withdrawn ]; then
	pass "web-tunnel's backends all disabled on lb1: had withdrew $VIPT alone ($t ms to the router's route), $VIP4 and $VIP6 stay over both"
	TIMES+=("per-VIP withdraw: last backend disabled -> router's route without lb1: $t ms")
else
	fail "per-VIP withdraw: $VIPT via $(route_nexthops "$VIPT"), $VIP4 via $(route_nexthops "$VIP4"); had: $(hstatus 1 | grep ' vip ' | tr '\n' '|')"
fi
for b in 198.18.0.11:80 198.18.0.12:80 198.18.0.13:80; do
	ctl 1 enable web-tunnel "$b" >/dev/null 2>&1
done
if t=$(wait_ms 10000 route_is "$VIPT" "$both4"); then
	pass "enabled again: $VIPT announced by lb1 again ($t ms)"
else
	fail "after enable: $VIPT via $(route_nexthops "$VIPT")"
fi

# --- 3b. a hung BIRD: its control socket stops answering ---------------------
bird=$(part_field 2 bird 3)
t0=$(ms_now)
kill -s STOP "$bird"
t_drop=$(wait_ms 5000 route_is "$VIP4" "198.18.0.2 ") || t_drop=
bird_anew() { local l; l=$(hstatus 2 | awk '$1 == "bird"'); [ "$(echo "$l" | awk '{ print $2 }')" = up ] && [ "$(echo "$l" | awk '{ print $3 }')" != "$bird" ]; }
if wait_ms 15000 bird_anew >/dev/null && t_back=$(wait_ms 20000 route_is "$VIP4" "$both4"); then
	t_back=$(($(ms_now) - t0))
	hung=$(grep -o 'bird: failed: hung: no heartbeat for [0-9]* ms' "$WORK/had-lb2.log" | tail -n 1)
	if [ -n "$hung" ]; then
		pass "SIGSTOP lb2's BIRD: the router dropped lb2 ${t_drop:-?} ms later (BFD), had found BIRD hung (${hung#bird: failed: }), restarted it and announced again: lb2 back in the route $t_back ms after the stop"
		TIMES+=("hung BIRD: router drops lb2 ${t_drop:-?} ms, had's restart and announce: back ${t_back} ms after the stop")
	else
		fail "SIGSTOP lb2's BIRD: restarted, but had's log says no hang"
	fi
	remember 2
else
	kill -s CONT "$bird" 2>/dev/null
	fail "SIGSTOP lb2's BIRD: not restarted or lb2 not back in the route: $(hstatus 2 | grep -E '^bird|vip' | tr '\n' '|')"
fi

# --- 3c. kill -9 lb2's had: a new one adopts all five, no route moves -------
# Every route settled first (the restarted BIRD's sessions bring them back
# one by one).
halb_wait_until 10 route_is "$VIPT" "$both4"
halb_wait_until 10 route_is "$VIP6" "$both6"
sleep 1
before=""
for part in forwarder classifier healthd sessiond bird; do before="$before $(part_field 2 "$part" 3)"; done
{ halb_stop "${HAD_PID[2]}" KILL 5; } 2>/dev/null
mv "$WORK/had-lb2.log" "$WORK/had-lb2.0.log"
ip -n "$P-rtr" -ts monitor route >"$WORK/monitor.log" 2>&1 &
MON=$!
halb_spawn "$WORK/had-lb2.log" ip netns exec "$P-lb2" "$HAD" -c "${CONF[2]}"
HAD_PID[2]=$HALB_LAST_PID
if halb_wait_until 10 all_up 2; then
	sleep 1
	after=""
	for part in forwarder classifier healthd sessiond bird; do after="$after $(part_field 2 "$part" 3)"; done
	adopted=$(grep -c 'adopted the running pid' "$WORK/had-lb2.log")
	kill "$MON" 2>/dev/null; wait "$MON" 2>/dev/null
	moves=$(grep -cE "$VIP4|$VIPT|$VIP6" "$WORK/monitor.log")
	if [ "$after" = "$before" ] && [ "$adopted" = 5 ] && [ "$moves" = 0 ] && route_is "$VIP4" "$both4"; then
		pass "kill -9 lb2's had: a new had adopted all five parts, BIRD by its pid file ($after ), started none; the router's routes did not move"
	else
		fail "new had on lb2: pids '$before' -> '$after', $adopted adopted, $moves route changes: $(head -c 300 "$WORK/monitor.log")"
	fi
else
	kill "$MON" 2>/dev/null; wait "$MON" 2>/dev/null
	fail "the new had on lb2 does not show every part up: $(hstatus 2 | tr '\n' '|')"
fi

# --- 4. drain-appliance on lb1 under load ------------------------------------
# tests/e2e/load.py: CONNS keep-alive connections over the three VIPs (a
# request every 100 ms each, broken if one fails or another backend
# answers) and NEW_RATE new connections a second.
LOAD=$HALB_E2E_DIR/load.py
halb_spawn "$WORK/load.log" ip netns exec "$P-cli" "$HALB_PYTHON" "$LOAD" run \
	--url "http://$VIP4/" --url "http://$VIPT/" --url "http://[$VIP6]/" \
	--conns "$CONNS" --interval 0.1 --new-rate "$NEW_RATE" --timeout 3 --new-timeout 2 \
	--events "$WORK/events" --control "$WORK/load.ctl" --ready "$WORK/load.ready" --out "$WORK/load.json"
LOAD_PID=$HALB_LAST_PID
load_ctl() { timeout 5 sh -c "echo '$1' > '$WORK/load.ctl'"; }
halb_wait_until 20 test -e "$WORK/load.ready" || fail "load.py: not all $CONNS keep-alive connections established within 20 s"
sleep 1.5  # their sessions replicated; new connections through both
load_ctl "mark drain"
t0=$(ms_now)
ctl 1 drain-appliance >"$WORK/drain.out" 2>&1
drc=$?
t_drain=$(($(ms_now) - t0))
if [ "$drc" = 0 ] && route_is "$VIP4" "$only2" && route_is "$VIP6" "fd00:68::4 "; then
	pass "halbctl drain-appliance on lb1: $t_drain ms; $(grep -o 'drained in.*replicas' "$WORK/drain.out" || cat "$WORK/drain.out")"
	TIMES+=("drain-appliance: $t_drain ms in all ($(grep -o 'drained in [0-9]* ms: routes withdrawn after [0-9]* ms, traffic quiet from [0-9]* ms' "$WORK/drain.out"))")
else
	fail "drain-appliance: exit $drc after $t_drain ms: $(cat "$WORK/drain.out"); $VIP4 via $(route_nexthops "$VIP4")"
fi
stopped=1
for part in forwarder classifier healthd sessiond bird; do
	[ "$(part_field 1 "$part" 2)" = stopped ] || stopped=0
done
[ "$stopped" = 1 ] && pass "lb1's parts all stopped after the drain, had still answers" ||
	fail "after the drain: $(hstatus 1 | tr '\n' '|')"
sleep 2  # what lb1 carried goes on through lb2
load_ctl "mark after"
load_ctl stop
halb_wait_exit "$LOAD_PID" 15
rep=$("$HALB_PYTHON" "$LOAD" report "$WORK/events" --from drain 2>&1)
verdict=$(echo "$rep" | "$HALB_PYTHON" -c '
import json, sys
r = json.loads(sys.stdin.read())
print(r["established_at_from"], r["established_broken"], r["new_attempted"], r["new_failed"])' 2>/dev/null)
read -r est broken natt nfail <<<"${verdict:-x x x x}"
if [ "$est" = "$CONNS" ] && [ "$broken" = 0 ] && [ "$nfail" = 0 ] && [ "${natt:-0}" -gt 0 ]; then
	pass "drain under load.py's load: $est established keep-alive connections, 0 broken; $natt new connections, 0 failed"
else
	fail "drain under load: established $est, broken $broken, new $natt, failed $nfail: $(echo "$rep" | tr '\n' ' ' | cut -c1-400)"
fi
if halb_wait_until 5 eval "hstatus 2 | grep -q '^peer lb1: DEAD'" && grep -q 'peer lb1 is dead' "$WORK/had-lb2.log"; then
	pass "lb2's had shows peer lb1 dead and logged it: $(hstatus 2 | grep '^peer lb1')"
else
	fail "lb2's had on peer lb1: $(hstatus 2 | grep '^peer')"
fi
t0=$(ms_now)
ctl 1 resume-appliance >/dev/null 2>&1
if halb_wait_until 40 route_is "$VIP4" "$both4"; then
	pass "resume-appliance: lb1 started again and announced $(($(ms_now) - t0)) ms later"
	remember 1
else
	fail "resume-appliance: $VIP4 via $(route_nexthops "$VIP4") after 40 s: $(hstatus 1 | tr '\n' '|')"
fi

# --- 5. SIGTERM: each had drains and stops ----------------------------------
halb_wait_until 10 eval "hstatus 2 | grep -q '^peer lb1: alive synced'"
for i in $ALL; do remember "$i"; kill -s TERM "${HAD_PID[$i]}"; done
for i in $ALL; do
	halb_wait_exit "${HAD_PID[$i]}" 30
	rc=$?
	HAD_PID[$i]=
	order=$(grep -oE "(forwarder|classifier|healthd|sessiond|bird): stopped" "$WORK/had-lb$i.log" | tail -n 5 | cut -d: -f1 | paste -sd" ")
	if [ "$rc" = 0 ] && grep -q 'drained in' "$WORK/had-lb$i.log"; then
		pass "SIGTERM lb$i's had: drained ($(grep -o 'drained in [0-9]* ms' "$WORK/had-lb$i.log" | tail -n 1)), stopped $order, exit 0"
	else
		fail "SIGTERM lb$i's had: exit $rc; $(grep -E 'drain' "$WORK/had-lb$i.log" | tail -n 2 | tr '\n' '|')"
	fi
done
if grep -qE 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:' "$WORK"/had-*.log; then
	fail "a sanitizer report in had's log"
fi
finish
