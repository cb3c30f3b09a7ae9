#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/e2e/chaos.sh: the chaos suite of issue 12 (`make chaos`; `make
# test` runs CHAOS_SHORT=1).  Needs root, the build in build/ (or
# $HALB_BUILD) and hugepages.  Under the shared lock when run by hand:
#   flock /tmp/halb-rig.lock tests/e2e/chaos.sh
#
# The rig, CHAOS_APPLIANCES=1 (the default): tests/e2e/topo.sh's
# namespaces with one appliance run by halb-had (forwarder, classifier,
# halb-healthd; as tests/e2e/had.sh).  CHAOS_APPLIANCES=2 (`make chaos`):
# the fabric of `topo.sh fabric-up` (as tests/e2e/fabric.sh and
# had_fabric.sh): a router with BIRD (multipath, BFD 100 ms x 3; NAT
# replies spread over the live appliances by its table 200) and two
# appliances, each run by its halb-had (forwarder, classifier, healthd,
# halb-sessiond peering over sync0, BIRD announcing the VIPs only when
# had says ready); the faults hit lb1.  Both rigs have the
# three backends with an HTTP server (backend_http.py) and a halb-agent
# each (a check every CHAOS_AGENT_INTERVAL_MS, 100 ms, with as long to
# answer, down after CHAOS_AGENT_FALL, 2, failures, a failing check
# repeated at once: the Python servers are slow now and then on 2 busy
# cores and such checks flap, but a flap only turns new connections
# away for a moment: established ones are reset, down_flows = "reset",
# only once the backend has been down for down_hold, 3 s).  The load
# (tests/e2e/load.py, in the client namespace): CHAOS_CONNS (102)
# keep-alive connections spread over the six services (DSR, NAT and
# VXLAN tunnel, IPv4 and IPv6), a request every 100 ms on each, plus
# CHAOS_NEW_RATE (30) new connections a second round robin over the same
# six.  A keep-alive connection is broken when a request fails (no answer
# within CHAOS_KA_TIMEOUT_S, 10 s: longer than TCP's retransmissions take
# to get through an outage of a second or two; a reset; EOF) or is
# answered by another backend; the longest answer (stall) is shown.  A
# new connection failed when it has no answer within 1 s (a lost SYN is
# retransmitted after 1 s: such a connection counts as failed).
#
# Each case, in turn, once the rig is steady (every part up, every
# keep-alive connection established): the fault (SIGKILL, or SIGSTOP: a
# hang), then the wait for recovery, CHAOS_SETTLE_S (2) more seconds and
# until no request of the load is older than 1 s and no keep-alive
# connection broke for CHAOS_QUIET_S (5) s (at most 40 s: stalled
# requests end one way or the other, and breaks that come late, e.g.
# when the router moves connections back, count), and the verdict of
# tests/e2e/chaos.py from halb-had's status socket (polled every 20 ms by
# `chaos.py watch`), halb-healthd's, and the load's events:
#   forwarder, classifier, healthd   (had detects and restarts)
#   had        KILL: restarted 1 s later as systemd would (RestartSec=1s),
#              it adopts the parts; STOP: resumed after CHAOS_HANG_S (3)
#   backend    the HTTP server of the backend with the most keep-alive
#              connections; healthd takes it out; resumed (STOP) or
#              restarted (KILL) after the case
#   sessiond, bird   (fabric; had detects and restarts)
#   none       no fault (the first case): what the rig loses by itself in
#              as long as a case lasts, to read the others against
#   appliance  had and every part at once; KILL: had restarted 1 s later;
#              STOP: detected by the router's BFD in the fabric, by
#              nothing in one appliance; after CHAOS_HANG_S the whole is
#              killed and had restarted
# Detection: had's table (the part no longer up under its pid), healthd's
# (backend), the router's route losing lb1 (appliance, polled every
# 60 ms).  Recovery: the part up again (had), every route whole again and
# new connections answered again, whichever is last.
# Prints one table (part, signal, time to detect, time to recover,
# established connections broken, new connections failed, the goals beside,
# "ok" or FAIL); exits 1 if any goal is not met.
#
# CHAOS_SHORT=1: three cases only (CHAOS_CASES lists them), for `make test`.
# CHAOS_CASES="part:signal ...": the cases to run (default: all).
# CHAOS_KEEP_LOGS=1 keeps the work directory.
# Every exit path stops what it started (by PID; stopped processes are
# continued first) and removes the rig.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONNS=${CHAOS_CONNS:-102}
NEW_RATE=${CHAOS_NEW_RATE:-30}
SETTLE_S=${CHAOS_SETTLE_S:-2}
KA_TIMEOUT_S=${CHAOS_KA_TIMEOUT_S:-10}
AGENT_INTERVAL_MS=${CHAOS_AGENT_INTERVAL_MS:-100}
AGENT_FALL=${CHAOS_AGENT_FALL:-2}
HANG_S=${CHAOS_HANG_S:-3}
QUIET_S=${CHAOS_QUIET_S:-5}
N=${CHAOS_APPLIANCES:-1}
[[ $N =~ ^[12]$ ]] || halb_die "CHAOS_APPLIANCES is 1 or 2, not '$N'"
if [ "$N" = 2 ]; then
	ALL_CASES="none:- classifier:KILL classifier:STOP sessiond:KILL sessiond:STOP healthd:KILL healthd:STOP \
bird:KILL bird:STOP had:KILL had:STOP forwarder:KILL forwarder:STOP backend:STOP backend:KILL \
appliance:KILL appliance:STOP"
	PARTS="forwarder classifier healthd sessiond bird"
else
	ALL_CASES="none:- classifier:KILL classifier:STOP healthd:KILL healthd:STOP had:KILL had:STOP \
forwarder:KILL forwarder:STOP backend:STOP backend:KILL appliance:KILL appliance:STOP"
	PARTS="forwarder classifier healthd"
fi
SHORT_CASES="classifier:STOP healthd:KILL had:KILL"
if [ "${CHAOS_SHORT:-0}" = 1 ]; then
	CASES=${CHAOS_CASES:-$SHORT_CASES}
else
	CASES=${CHAOS_CASES:-$ALL_CASES}
fi
HAD=${HAD_BIN:-$HALB_BUILD/ha/halb-had}
CONF_SRC=${HALB_CONF:-$HALB_TOP/conf/halb.conf}
URLS="http://198.18.2.100/ http://198.18.2.101/ http://198.18.2.102/ http://[fd00:68:2::100]/ http://[fd00:68:2::101]/ http://[fd00:68:2::102]/"
LOCAL_AS=65001
ROUTER_AS=65000
# The backend of a backend case: the one with the most keep-alive
# connections when it begins (a restarted one has none: the connections
# reopened while it was out went to the others).
VICTIM=b1
VICTIM_ADDRS="198.18.0.11,fd00:68::11"
pick_victim() {
	VICTIM=$("$HALB_PYTHON" -S -c '
import json, sys
d = json.load(open(sys.argv[1]))["ka"]["established_by_backend"]
print(max(sorted(d), key=lambda b: d[b]))' "$WORK/dump.json") || VICTIM=b1
	VICTIM_ADDRS="198.18.0.1${VICTIM#b},fd00:68::1${VICTIM#b}"
}

halb_require_root
if [ "$N" = 2 ]; then
	halb_check_binaries healthload/halb-healthd healthload/halb-agent ha/halb-had session/halb-sessiond
	command -v bird >/dev/null || halb_die "bird is missing (package bird2: scripts/deps.sh)"
else
	halb_check_binaries healthload/halb-healthd healthload/halb-agent ha/halb-had
fi
halb_check_hugepages
[ -r "$CONF_SRC" ] || halb_die "$CONF_SRC is missing"

P=hc$$
WORK=$(mktemp -d /tmp/halb-chaos.XXXXXX)
RESULTS=$WORK/results.jsonl
EVENTS=$WORK/load.events
WATCH=$WORK/watch.jsonl
CTL=$WORK/load.ctl
TOPO=0
LOAD_PID=
WATCH_PID=
STATUS=1
# Per appliance A (lb in the one-appliance rig; lb1, lb2 in the fabric):
# its namespace, DPDK file prefix, file, had's socket and pid.
declare -A PART_PIDS BACK_PID FP CONF HSOCK HAD_PID KEY
if [ "$N" = 2 ]; then APPS="lb1 lb2"; else APPS=lb; fi
VICTIM_APP=${APPS%% *}

# Continue, then kill, every pid we may have stopped or that had started.
cleanup() {
	local rc=$? pid a
	trap - EXIT INT TERM
	for a in $APPS; do
		remember "$a" 2>/dev/null
		for pid in $(hb_pids "${FP[$a]:-}"); do PART_PIDS[$pid]=part; done
	done
	for pid in "${!PART_PIDS[@]}" "${HAD_PID[@]}" "${BACK_PID[@]}"; do
		running "$pid" && kill -s CONT "$pid" 2>/dev/null
	done
	[ -n "$LOAD_PID" ] && halb_stop "$LOAD_PID" TERM 5 2>/dev/null
	[ -n "$WATCH_PID" ] && halb_stop "$WATCH_PID" TERM 5 2>/dev/null
	for a in $APPS; do
		pid=${HAD_PID[$a]:-}
		[ -n "$pid" ] && running "$pid" && kill -s TERM "$pid" 2>/dev/null
	done
	for a in $APPS; do
		pid=${HAD_PID[$a]:-}
		[ -n "$pid" ] && running "$pid" && halb_stop "$pid" TERM 30 2>/dev/null
	done
	halb_stop_all
	for pid in "${!PART_PIDS[@]}"; do
		if running "$pid" && grep -qsE 'halb-|bird' "/proc/$pid/cmdline"; then
			kill -s KILL "$pid" 2>/dev/null
		fi
	done
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	for a in $APPS; do
		[ -n "${FP[$a]:-}" ] || continue
		halb_remove_dpdk_files "${FP[$a]}"
		rm -f "/run/halb/${FP[$a]}.health" "/run/halb/${FP[$a]}.healthd.sock"
	done
	if [ "${CHAOS_KEEP_LOGS:-0}" = 1 ]; then
		echo "chaos: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "chaos: interrupted" >&2; exit 130' INT
trap 'echo "chaos: terminated" >&2; exit 143' TERM

HAD_RUNS=0
die() {
	echo "chaos: error: $*" >&2
	local f
	for f in "$WORK"/had-*.log "$WORK"/load.log "$WORK"/watch.log; do
		[ -s "$f" ] && { echo "    --- last 10 lines of ${f##*/}:"; tail -n 10 "$f" | sed 's/^/    | /'; }
	done
	exit 1
}
now() { date +%s.%N; }
running() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -qs '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }
# hb_pids FILE_PREFIX: the pids in its heartbeat files.
hb_pids() {
	[ -n "$1" ] || return 0
	"$HALB_PYTHON" -S -c '
import struct, sys
for p in ("forwarder", "classifier", "healthd", "sessiond"):
    try:
        print(struct.unpack_from("<i", open("/run/halb/%s/%s.hb" % (sys.argv[1], p), "rb").read(), 32)[0])
    except Exception:
        pass
' "$1"
}
# status A: had's table straight from its socket.
status() {
	"$HALB_PYTHON" -S -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
s.connect(sys.argv[1])
s.sendall(b"status\n")
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
' "${HSOCK[$1]}" 2>/dev/null
}
part_field() { status "$1" | awk -v p="$2" -v n="$3" '$1 == p { print $n; exit }'; }
remember() {
	local part pid
	for part in $PARTS; do
		pid=$(part_field "$1" "$part" 3)
		[[ $pid =~ ^[0-9]+$ ]] && PART_PIDS[$pid]=$part
	done
	return 0
}
all_up() {
	local s n
	s=$(status "$1") || return 1
	n=$(echo "$s" | awk -v parts=" $PARTS " 'index(parts, " " $1 " ") && $2 == "up"' | wc -l)
	[ "$n" -eq "$(echo $PARTS | wc -w)" ] || return 1
	remember "$1"
}
up_anew() {
	local l
	l=$(status "$1" | awk -v p="$2" '$1 == p { print $2, $3; exit }')
	[ "${l%% *}" = up ] && [ "${l#* }" != "$3" ]
}
start_had() {
	HAD_RUNS=$((HAD_RUNS + 1))
	halb_spawn "$WORK/had-$1.$HAD_RUNS.log" ip netns exec "$P-$1" "$HAD" -c "${CONF[$1]}"
	HAD_PID[$1]=$HALB_LAST_PID
}
start_backend() {
	rm -f "$WORK/backend-$1.pid"
	halb_spawn "$WORK/backend-$1.log" ip netns exec "$P-$1" \
		"$HALB_PYTHON" "$HALB_E2E_DIR/backend_http.py" "$1" --pid-file "$WORK/backend-$1.pid"
	BACK_PID[$1]=$HALB_LAST_PID
	halb_wait_until 10 test -s "$WORK/backend-$1.pid"
}
# health_up A: every service of every backend is up in A's healthd.
health_up() {
	local b out
	out=$(ip netns exec "$P-$1" "$HALB_BUILD/tools/halbctl" -c "${CONF[$1]}" health json 2>/dev/null) || return 1
	for b in $HALB_BACKENDS; do
		[ "$(echo "$out" | grep -E "\"backend\": ?\"\\[?(198.18.0.1${b#b}|fd00:68::1${b#b})\\]?:" |
			grep -cE '"state": ?"up"')" -eq 6 ] || return 1
	done
}
# route_nexthops VIP: the router's next hops to VIP (fabric), sorted.
route_nexthops() {
	local fam=-4
	[[ $1 == *:* ]] && fam=-6
	ip -n "$P-rtr" "$fam" route show "$1" 2>/dev/null |
		grep -o 'via [0-9a-f:.]*' | awk '{ print $2 }' | sort | tr '\n' ' '
}
routes_whole() {
	[ "$N" = 2 ] || return 0
	local v
	for v in 198.18.2.100 198.18.2.101 198.18.2.102; do
		[ "$(route_nexthops "$v")" = "198.18.0.2 198.18.0.4 " ] || return 1
	done
	for v in fd00:68:2::100 fd00:68:2::101 fd00:68:2::102; do
		[ "$(route_nexthops "$v")" = "fd00:68::2 fd00:68::4 " ] || return 1
	done
}
load_cmd() { echo "$*" >"$CTL"; }
load_dump() {
	rm -f "$WORK/dump.json"
	load_cmd "dump $WORK/dump.json"
	halb_wait_until 2 test -s "$WORK/dump.json"
}
# The load is steady: every keep-alive connection established.
load_steady() {
	load_dump || return 1
	"$HALB_PYTHON" -S -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["ka"]["established"] == d["ka"]["conns"] else 1)' "$WORK/dump.json"
}
# No request of the load waits for more than 1 s, and no keep-alive
# connection broke in the last QUIET_S seconds.
load_quiet() {
	load_dump || return 1
	"$HALB_PYTHON" -S -c '
import json, sys, time
ka = json.load(open(sys.argv[1]))["ka"]
sys.exit(0 if ka["oldest_pending_s"] < 1 and (ka["last_break"] is None or
         time.time() - ka["last_break"] >= float(sys.argv[2])) else 1)' "$WORK/dump.json" "$QUIET_S"
}
# New connections of the last 2 s all answered.
new_ok_lately() {
	local t
	t=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n - 2 }')
	"$HALB_PYTHON" "$HALB_E2E_DIR/load.py" report "$EVENTS" --from "$t" |
		"$HALB_PYTHON" -S -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if d["new_attempted"] > 0 and d["new_failed"] == 0 else 1)'
}
steady() {
	local a
	for a in $APPS; do all_up "$a" && health_up "$a" || return 1; done
	routes_whole && load_steady && new_ok_lately
}

echo "chaos: rig $P ($N appliance(s) under halb-had), binaries from $HALB_BUILD, work dir $WORK"
echo "chaos: cases: $CASES"

# --- configuration -------------------------------------------------------------
B=$HALB_BUILD
if [ "$N" = 1 ]; then
	# As tests/e2e/had.sh: conf/halb.conf with a prefix and sockets of its own.
	FP[lb]=halb_hc$$
	CONF[lb]=$WORK/lb.conf
	HSOCK[lb]=$WORK/had.sock
	sed -E -e 's/^([[:space:]]*file_prefix[[:space:]]*=[[:space:]]*)"[^"]*"/\1"'"${FP[lb]}"'"/' \
		-e 's/^([[:space:]]*handler_timeout_ms[[:space:]]*=[[:space:]]*[0-9]+;)/\1 socket = "'"${WORK//\//\\/}"'\/cls.health"; status_socket = "'"${WORK//\//\\/}"'\/healthd.sock"; state_file = "'"${WORK//\//\\/}"'\/operator";/' \
		"$CONF_SRC" >"${CONF[lb]}"
	cat >>"${CONF[lb]}" <<EOF

# halb-had (tests/e2e/chaos.sh): this build's programs.
ha = {
  status_socket = "${HSOCK[lb]}";
  forwarder = { command = [ "$B/forwarder/halb-forwarder", "-c", "${CONF[lb]}" ]; };
  classifier = { command = [ "$B/classifier/halb-classifier", "-c", "${CONF[lb]}" ]; };
  healthd = { command = [ "$B/healthload/halb-healthd", "-c", "${CONF[lb]}" ]; };
};
EOF
	chmod 600 "${CONF[lb]}"
	[ "$(halb_conf_file_prefix "${CONF[lb]}")" = "${FP[lb]}" ] && grep -q "status_socket = \"$WORK/healthd.sock\"" "${CONF[lb]}" ||
		die "could not set file_prefix and the health sockets in a copy of $CONF_SRC"
	halb_write_agent_confs "${CONF[lb]}" "$WORK" "$AGENT_INTERVAL_MS" "$AGENT_FALL" 2>"$WORK/why.txt" ||
		die "the agents' files: $(cat "$WORK/why.txt")"
	HEALTHD_SOCKS="--healthd lb=$WORK/healthd.sock"
else
	# As tests/e2e/fabric.sh and had_fabric.sh: two appliances, each run
	# by its had (forwarder, classifier, healthd, sessiond, BIRD), the six
	# services, NAT replies spread by the router over the live appliances.
	for k in lb1 lb2 s12 $HALB_BACKENDS; do
		KEY[$k]=$("$HALB_PYTHON" -c 'import secrets; print(secrets.token_hex(32))')
	done
	services_conf() {
		local first=1 name vip mode b ip w
		echo "services = ("
		while read -r name vip mode; do
			[ "$first" = 1 ] || echo ","
			first=0
			printf '  { name = "%s"; vip = "%s"; port = 80; protocol = "tcp"; mode = "%s";' "$name" "$vip" "$mode"
			[ "$mode" = tunnel ] && printf ' vni = 42; tunnel_port = 4789;'
			printf '\n    backends = ('
			local bfirst=1
			for b in $HALB_BACKENDS; do
				[ "$bfirst" = 1 ] || printf ','
				bfirst=0
				ip="198.18.0.1${b#b}" w=1
				[[ $vip == *:* ]] && ip="fd00:68::1${b#b}"
				[ "$b" = b3 ] && w=2
				case $mode in
				dsr) printf '\n      { ip = "%s"; port = 80; weight = %d; agent = "%s"; }' "$ip" "$w" "$b" ;;
				nat) printf '\n      { ip = "%s"; port = 8080; weight = %d; agent = "%s"; }' "$ip" "$w" "$b" ;;
				tunnel) printf '\n      { ip = "%s"; weight = %d; tunnel_mac = "02:68:00:00:00:0%s"; agent = "%s"; }' \
					"$ip" "$w" "$(printf '%x' $((10 + ${b#b})))" "$b" ;;
				esac
			done
			printf ' ); }'
		done <<-EOF
		web-dsr 198.18.2.100 dsr
		web-nat 198.18.2.101 nat
		web-tunnel 198.18.2.102 tunnel
		web6-dsr fd00:68:2::100 dsr
		web6-nat fd00:68:2::101 nat
		web6-tunnel fd00:68:2::102 tunnel
		EOF
		echo " );"
	}
	HEALTHD_SOCKS=""
	for a in $APPS; do
		i=${a#lb} j=$((3 - ${a#lb})) x=$((2 * ${a#lb}))
		FP[$a]=halb_${P}_$i
		CONF[$a]=$WORK/$a.conf
		HSOCK[$a]=$WORK/$a.had.sock
		HEALTHD_SOCKS="$HEALTHD_SOCKS --healthd $a=$WORK/$a.healthd.sock"
		cat >"${CONF[$a]}" <<EOF
# Appliance $a of the chaos fabric rig (tests/e2e/chaos.sh).
eal = { file_prefix = "${FP[$a]}"; lcores = "0,1"; classifier_lcore = 16; };
ports = (
  { name = "inside"; vdev = "net_af_packet0,iface=halb0,qdisc_bypass=1";
    ipv4 = "198.18.0.$x/24"; ipv6 = "fd00:68::$x/64";
    gateway4 = "198.18.0.254"; gateway6 = "fd00:68::fe";
    kernel = "halb0k"; } );
flows = { entries = 16384; tcp_syn_timeout = 5.0; tcp_timeout = 300.0;
          tcp_fin_timeout = 10.0; udp_timeout = 30.0; };
idle_sleep_us = 100;
classifier_timeout_ms = 300;
health = { listen = "198.18.0.$x:7300"; name = "$a"; key = "${KEY[$a]}";
  state_file = "$WORK/$a.operator"; status_socket = "$WORK/$a.healthd.sock";
  agents = ( { host = "b1"; key = "${KEY[b1]}"; }, { host = "b2"; key = "${KEY[b2]}"; },
             { host = "b3"; key = "${KEY[b3]}"; } ); };
$(services_conf)
sessions = { name = "$a"; listen = "198.18.3.$i:7303"; socket = "$WORK/$a.sessiond.sock";
  ring_size = 8192; replica_entries = 16384; resend_ms = 100; dead_ms = 1000;
  peers = ( { name = "lb$j"; address = "198.18.3.$j:7303"; key = "${KEY[s12]}"; } ); };
bgp = {
  as = $LOCAL_AS;
  neighbours = ( { address = "198.18.0.254"; as = $ROUTER_AS; },
                 { address = "fd00:68::fe"; as = $ROUTER_AS; } );
  socket = "$WORK/bird-$a.ctl";
};
ha = {
  status_socket = "${HSOCK[$a]}";
  forwarder = { command = [ "$B/forwarder/halb-forwarder", "-c", "${CONF[$a]}" ]; };
  classifier = { command = [ "$B/classifier/halb-classifier", "-c", "${CONF[$a]}" ]; };
  healthd = { command = [ "$B/healthload/halb-healthd", "-c", "${CONF[$a]}" ]; };
  sessiond = { command = [ "$B/session/halb-sessiond", "-c", "${CONF[$a]}" ]; };
};
EOF
		chmod 600 "${CONF[$a]}"
	done
	for b in $HALB_BACKENDS; do
		n=${b#b}
		{
			cat <<EOF
agent = {
  host = "$b"; key = "${KEY[$b]}";
  handlers = ( { address = "198.18.0.2:7300"; name = "lb1"; key = "${KEY[lb1]}"; },
               { address = "198.18.0.4:7300"; name = "lb2"; key = "${KEY[lb2]}"; } );
  listen = "0.0.0.0:7301";
  interval_ms = $AGENT_INTERVAL_MS;
  capacity = 100;
  control = "$WORK/agent-$b.sock";
  services = (
EOF
			first=1
			for svc in web-dsr:198.18.0.1$n:80:127.0.0.1 web-nat:198.18.0.1$n:8080:127.0.0.1 \
				web-tunnel:198.18.0.1$n:80:127.0.0.1 web6-dsr:fd00-68--1$n:80:[::1] \
				web6-nat:fd00-68--1$n:8080:[::1] web6-tunnel:fd00-68--1$n:80:[::1]; do
				IFS=: read -r name addr port host <<<"$svc"
				addr=${addr//-/:}
				[ "$first" = 1 ] || echo ","
				first=0
				printf '    { service = "%s"; address = "%s"; port = %s;\n      check = { type = "http"; url = "http://%s:%s/"; expect = 200; timeout_ms = %s; fall = %s; }; }' \
					"$name" "$addr" "$port" "$host" "$port" "$AGENT_INTERVAL_MS" "$AGENT_FALL"
			done
			printf ' );\n};\n'
		} >"$WORK/agent-$b.conf"
		chmod 600 "$WORK/agent-$b.conf"
	done
	cat >"$WORK/bird-rtr.conf" <<EOF
log stderr all;
router id 198.18.0.254;
ipv4 table nat4;
ipv6 table nat6;
protocol device { }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
protocol bfd { interface "eth1" { interval 100 ms; multiplier 3; }; }
protocol static nat4s { ipv4 { table nat4; }; route 0.0.0.0/0 via 198.18.0.2 bfd via 198.18.0.4 bfd; }
protocol static nat6s { ipv6 { table nat6; }; route ::/0 via fd00:68::2 bfd via fd00:68::4 bfd; }
protocol kernel nat4k { ipv4 { table nat4; import none; export all; }; kernel table 200; }
protocol kernel nat6k { ipv6 { table nat6; import none; export all; }; kernel table 200; }
template bgp lb4 { local 198.18.0.254 as $ROUTER_AS; direct; bfd on;
  error wait time 1, 5; connect delay time 1; ipv4 { import all; export none; }; }
template bgp lb6 { local fd00:68::fe as $ROUTER_AS; direct; bfd on;
  error wait time 1, 5; connect delay time 1; ipv6 { import all; export none; }; }
protocol bgp lb1v4 from lb4 { neighbor 198.18.0.2 as $LOCAL_AS; }
protocol bgp lb1v6 from lb6 { neighbor fd00:68::2 as $LOCAL_AS; }
protocol bgp lb2v4 from lb4 { neighbor 198.18.0.4 as $LOCAL_AS; }
protocol bgp lb2v6 from lb6 { neighbor fd00:68::4 as $LOCAL_AS; }
EOF
fi
for a in $APPS; do
	out=$("$HAD" --check-config "${CONF[$a]}" 2>&1) || die "halb-had --check-config $a: $out"
done

# --- the rig --------------------------------------------------------------------
TOPO=1
if [ "$N" = 2 ]; then
	"$HALB_E2E_DIR/topo.sh" fabric-up "$P" 2 || die "topo.sh fabric-up $P 2"
else
	"$HALB_E2E_DIR/topo.sh" up "$P" || die "topo.sh up $P"
fi
for b in $HALB_BACKENDS; do start_backend "$b" || die "backend $b did not start"; done
halb_start_agents "$P" "$WORK" 2>"$WORK/why.txt" || die "$(cat "$WORK/why.txt")"
if [ "$N" = 2 ]; then
	halb_spawn "$WORK/bird-rtr.log" ip netns exec "$P-rtr" bird -f -c "$WORK/bird-rtr.conf" -s "$WORK/bird-rtr.ctl"
fi
for a in $APPS; do start_had "$a"; done
for a in $APPS; do
	halb_wait_until 60 all_up "$a" || die "$a: had did not bring every part up within 60 s: $(status "$a" | tr '\n' '|')"
done
halb_wait_until 30 routes_whole || die "the router has no route over both appliances to every VIP within 30 s"
halb_wait_until 20 halb_client "$P" --url http://198.18.2.100/ --count 1 --timeout 1 >/dev/null 2>&1 ||
	die "no answer through http://198.18.2.100/ within 20 s"

watch_args=()
for a in $APPS; do watch_args+=(--had "$a=${HSOCK[$a]}"); done
# shellcheck disable=SC2206
watch_args+=($HEALTHD_SOCKS)
[ "$N" = 2 ] && watch_args+=(--route "$P-rtr=198.18.2.100" --route "$P-rtr=fd00:68:2::100")
halb_spawn "$WORK/watch.log" "$HALB_PYTHON" "$HALB_E2E_DIR/chaos.py" watch "${watch_args[@]}" --out "$WATCH"
WATCH_PID=$HALB_LAST_PID
urlargs=()
for u in $URLS; do urlargs+=(--url "$u"); done
mkfifo "$CTL"
halb_spawn "$WORK/load.log" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/load.py" run "${urlargs[@]}" \
	--conns "$CONNS" --new-rate "$NEW_RATE" --timeout "$KA_TIMEOUT_S" --new-timeout 1 --events "$EVENTS" \
	--control "$CTL" --ready "$WORK/ready.json" --out "$WORK/load-final.json"
LOAD_PID=$HALB_LAST_PID
halb_wait_until 20 test -s "$WORK/ready.json" || die "the load's $CONNS keep-alive connections did not all get an answer within 20 s"
echo "chaos: load: $CONNS keep-alive connections over $(echo $URLS | wc -w) services, $NEW_RATE new connections/s"

# --- the cases --------------------------------------------------------------------
# run_case PART SIGNAL: one fault on VICTIM_APP (or a backend), judged.
run_case() {
	local part=$1 sig=$2 kind=part pid="" t_fault t_end note="" pids="" p A=$VICTIM_APP
	case $part in
	had) kind=had ;;
	appliance) kind=appliance ;;
	backend) kind=backend ;;
	none) kind=none ;;
	esac
	if ! halb_wait_until 30 steady; then
		echo "chaos: $part $sig: the rig is not steady within 30 s; not run"
		"$HALB_PYTHON" -S -c '
import json, sys
print(json.dumps({"part": sys.argv[1], "signal": sys.argv[2], "kind": sys.argv[3], "detect_ms": None,
    "recover_ms": None, "est": 0, "est_broken": 0, "broken_by_backend": {}, "broken_by_reason": {},
    "new": 0, "new_failed": 0, "new_window_ms": None, "new_failed_by_reason": {}, "stall_ms": 0,
    "note": "the rig was not steady within 30 s: not run", "est_goal": "-", "est_ok": False,
    "new_goal": "-", "new_ok": False, "detect_goal": "-", "detect_ok": False}))' "$part" "$sig" "$kind" >>"$RESULTS"
		return
	fi
	sleep 1
	case $kind in
	part) pid=$(part_field "$A" "$part" 3) ;;
	had) pid=${HAD_PID[$A]} ;;
	backend) pick_victim; pid=${BACK_PID[$VICTIM]} ;;
	appliance)
		remember "$A"
		pids=${HAD_PID[$A]}
		for p in $PARTS; do pids="$pids $(part_field "$A" "$p" 3)"; done ;;
	esac
	t_fault=$(now)
	load_cmd "mark $part-$sig"
	case $kind in
	part)
		kill -s "$sig" "$pid"
		if ! halb_wait_until 40 up_anew "$A" "$part" "$pid"; then
			note="not restarted within 40 s"
			[ "$sig" = STOP ] && kill -s CONT "$pid" 2>/dev/null
		fi
		;;
	had)
		kill -s "$sig" "$pid"
		if [ "$sig" = KILL ]; then
			{ halb_reap "$pid"; } 2>/dev/null
			sleep 1   # systemd's RestartSec
			start_had "$A"
			note="restarted 1 s after the kill (systemd RestartSec)"
		else
			sleep "$HANG_S"
			kill -s CONT "$pid"
			note="the rig runs had without systemd (its unit's WatchdogSec=5s would restart it): continued after ${HANG_S} s"
		fi
		halb_wait_until 30 all_up "$A" || note="$note; not all up again within 30 s"
		;;
	appliance)
		# shellcheck disable=SC2086
		kill -s "$sig" $pids
		if [ "$sig" = STOP ]; then
			sleep "$HANG_S"
			# shellcheck disable=SC2086
			kill -s KILL $pids
			note="nothing on the appliance sees its own hang; killed after ${HANG_S} s, had restarted 1 s later"
		else
			note="had restarted 1 s after the kill (systemd RestartSec)"
		fi
		{ halb_reap "${HAD_PID[$A]}"; } 2>/dev/null
		sleep 1
		start_had "$A"
		halb_wait_until 60 all_up "$A" || note="$note; not all up again within 60 s"
		;;
	backend)
		kill -s "$sig" "$pid"
		;;
	none)
		note="no fault: the rig's own losses over a case's length"
		sleep 5
		;;
	esac
	halb_wait_until 30 routes_whole || note="${note:+$note; }routes not whole again within 30 s"
	sleep "$SETTLE_S"
	halb_wait_until 40 load_quiet || note="${note:+$note; }requests pending or connections breaking 40 s after"
	t_end=$(now)
	load_cmd "mark $part-$sig-end"
	"$HALB_PYTHON" "$HALB_E2E_DIR/chaos.py" case --watch "$WATCH" --events "$EVENTS" --kind "$kind" \
		--part "$part" --signal "$sig" --fault "$t_fault" --end "$t_end" ${pid:+--old-pid "$pid"} \
		--app "$A" --app-addr "$APP_ADDR" --backend "$VICTIM" --backend-addr "$VICTIM_ADDRS" --note "$note" \
		--label "$part$([ "$kind" = backend ] && echo " $VICTIM")" >>"$RESULTS" ||
		echo "chaos: $part $sig: could not judge the case"
	tail -n 1 "$RESULTS" | "$HALB_PYTHON" -S -c '
import json, sys
r = json.loads(sys.stdin.read())
print("chaos: %-10s %-4s detect %s ms, recover %s ms, established broken %d/%d, new failed %d/%d" % (
    r["part"], r["signal"], r["detect_ms"], r["recover_ms"], r["est_broken"], r["est"], r["new_failed"], r["new"]))'
	# Put the victim back.
	if [ "$kind" = backend ]; then
		if [ "$sig" = STOP ]; then
			kill -s CONT "$pid"
		else
			{ halb_reap "$pid"; } 2>/dev/null
			start_backend "$VICTIM" || echo "chaos: backend $VICTIM did not start again"
		fi
	fi
}

# The victim appliance's address on the server network (the router's next
# hop through it).
APP_ADDR=198.18.0.2,fd00:68::2
for c in $CASES; do
	run_case "${c%%:*}" "${c#*:}"
done

halb_stop "$LOAD_PID" TERM 10
LOAD_PID=
halb_stop "$WATCH_PID" TERM 5
WATCH_PID=
echo
if [ "$N" = 2 ]; then
	echo "chaos: $(date -u +%FT%TZ), two appliances behind a BGP/ECMP router, each under halb-had; faults on lb1"
else
	echo "chaos: $(date -u +%FT%TZ), one appliance under halb-had; sessiond and BIRD: not in this rig (CHAOS_APPLIANCES=2 has them)"
fi
"$HALB_PYTHON" "$HALB_E2E_DIR/chaos.py" table "$RESULTS"
STATUS=$?
[ -n "${CHAOS_MARKDOWN:-}" ] && "$HALB_PYTHON" "$HALB_E2E_DIR/chaos.py" table --markdown "$RESULTS" >"$CHAOS_MARKDOWN"
if grep -qE 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:' "$WORK"/had-*.log 2>/dev/null; then
	echo "chaos: a sanitizer report in had's log"
	STATUS=1
fi
exit "$STATUS"
