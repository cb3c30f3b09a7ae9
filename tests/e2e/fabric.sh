#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/e2e/fabric.sh [--demo]: the routing fabric of issue 10, end to end
# (run by `make test`, and by `make run APPLIANCES=N` with --demo; needs
# root, the build in build/ or $HALB_BUILD, hugepages and bird2).
#
# The rig of `tests/e2e/topo.sh fabric-up` with FABRIC_APPLIANCES (2)
# appliances: a client, a router running BIRD 2 (one multipath kernel
# route per VIP, `merge paths on`, fib_multipath_hash_policy=1, BFD at
# 100 ms x 3), and appliances lb1..lbN, each with its own forwarder
# (DPDK file prefix of its own, port 198.18.0.2I, kernel interface halb0k
# for the exception path), classifier, halb-healthd (listening on the
# kernel's address: the agents' reports come through the exception path)
# and BIRD that peers with the router over halb0k (its file: `halbctl
# bird-config`), behind them the three backends of tests/e2e/topo.sh, each
# with a halb-agent that reports to every appliance.  Each appliance
# runs a halb-sessiond too, peering with the others over the sync
# network (sync0, 198.18.3.I; a key per pair).  The services are DSR, NAT
# and tunnel over IPv4 and IPv6 (FABRIC_BACKENDS: the backends they
# have, "b1 b2 b3").  DSR and tunnel replies go from the backend to the
# client straight; NAT replies go to the router, which spreads them over
# the appliances whose BFD is up (its BIRD's tables nat4 and nat6,
# kernel table 200, topo.sh's rule), and whichever appliance gets one
# translates it from its flow or its replica (docs/SESSIONS.md, "NAT
# behind several appliances").
#
# Checks:
#   - every appliance's halb-sessiond ready, with every peer synced;
#   - every appliance's halb-healthd has every backend up from its agent;
#   - BGP up over the exception path (to_kernel/from_kernel move), nothing
#     announced before `halbctl bgp announce`; then the router's kernel has
#     a multipath route to each VIP over every appliance;
#   - new connections spread over the appliances (each at least a quarter
#     of its share) and all are answered;
#   - `halbctl bgp withdraw` on lb1 moves new connections to the others
#     without a failure, `announce` brings lb1 back;
#   - SIGSTOP on lb2's forwarder (hung: its kernel interface stays): the
#     router drops its path; after SIGCONT it comes back;
#   - kill -9 lb1's forwarder: the router drops its path within BFD's
#     detection time (measured with `ip -ts monitor route`, printed; goal
#     0.3 s, checked against FABRIC_MAX_DETECT_S, 0.5), and new connections
#     all succeed through the others.  The established keep-alive
#     connections are counted and printed here; tests/e2e/scenarios.sh
#     checks them (under load, with the session trackers' replicas);
#   - the survivors' forwarders stop cleanly on SIGTERM, and no sanitizer
#     report is in the forwarders' and classifiers' logs (HALB_BUILD may
#     be the sanitizers' build).
# Prints PASS/FAIL per check and "fabric: N passed, M failed"; exits
# non-zero on any failure.  Every exit path stops what it started (by
# PID) and removes the rig.
#
# --demo (scripts/demo.sh when APPLIANCES > 1): the same rig, then every
# second a batch of new connections to each VIP, showing the router's
# routes, the spread over appliances and backends, and each appliance's
# sessions (own, replicated, per peer); until Ctrl-C, or DEMO_SECONDS (20
# when stdin is no terminal).
#
# FABRIC_SCENARIOS=1 (tests/e2e/scenarios.sh, which sources this file):
# the rig up to the announce, then scenarios_run, then the summary.
#
# FABRIC_L7=1 (scenarios.sh) adds a request-routed service (docs/REQUESTS.md):
# web-l7, 198.18.2.103:80, NAT, every request to the pool "web" of the
# backends' port 8081 (another HTTP server of theirs; a NAT backend
# belongs to one service), whose replies go to the router and over the
# appliances as port 8080's do; and a halb-router on each appliance.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO=0
[ "${1:-}" = --demo ] && DEMO=1
N=${FABRIC_APPLIANCES:-${APPLIANCES:-2}}
[[ $N =~ ^[23]$ ]] || halb_die "FABRIC_APPLIANCES (APPLIANCES) is 2 or 3, not '$N'"
REQUESTS=${FABRIC_REQUESTS:-400}
L7=${FABRIC_L7:-0}
VIP_L7=198.18.2.103
L7_PORT=8081
MAX_DETECT_S=${FABRIC_MAX_DETECT_S:-0.5}
HOLDS=${FABRIC_HOLDS:-6}
BE_SET=${FABRIC_BACKENDS:-b1 b2 b3}
SESS_RESEND_MS=${FABRIC_RESEND_MS:-100}
FIN_TIMEOUT=${FABRIC_FIN_TIMEOUT:-10.0}
LOCAL_AS=65001
ROUTER_AS=65000
VIP4=198.18.2.100
VIP6=fd00:68:2::100
# name URL, as the appliances' files below name them.
SERVICES="web-dsr http://198.18.2.100/
web-nat http://198.18.2.101/
web-tunnel http://198.18.2.102/
web6-dsr http://[fd00:68:2::100]/
web6-nat http://[fd00:68:2::101]/
web6-tunnel http://[fd00:68:2::102]/"
N_SVC=$(echo "$SERVICES" | wc -l)

halb_require_root
halb_check_binaries healthload/halb-healthd healthload/halb-agent session/halb-sessiond
[ "$L7" = 1 ] && halb_check_binaries router/halb-router
halb_check_hugepages
command -v bird >/dev/null || halb_die "bird is missing (package bird2: scripts/deps.sh)"

P=hf$$
WORK=$(mktemp -d /tmp/halb-fabric.XXXXXX)   # short: unix socket paths
TOPO=0
declare -A FWD_PID CLS_PID SESS_PID BIRD_PID RTR_PID FP CONF KEY

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	halb_stop_all
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	for i in "${!FP[@]}"; do
		halb_remove_dpdk_files "${FP[$i]}"
		rm -f "/run/halb/${FP[$i]}.health" "/run/halb/${FP[$i]}.healthd.sock"
		rm -rf "/run/halb/${FP[$i]}"
	done
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "fabric: interrupted" >&2; exit 130' INT
trap 'echo "fabric: terminated" >&2; exit 143' TERM

halb_checks "${FABRIC_NAME:-fabric}" forwarder-lb1 bird-rtr bird-lb1

# start_sessiond I: lbI's halb-sessiond (SESS_PID[I]).
start_sessiond() {
	halb_spawn "$WORK/sessiond-lb$1.log" ip netns exec "$P-lb$1" "$HALB_BUILD/session/halb-sessiond" -c "${CONF[$1]}"
	# shellcheck disable=SC2034 # scenarios.sh stops it by PID
	SESS_PID[$1]=$HALB_LAST_PID
}
# start_bird I: lbI's BIRD (BIRD_PID[I]).
start_bird() {
	halb_spawn "$WORK/bird-lb$1.log" ip netns exec "$P-lb$1" bird -f -c "$WORK/bird-lb$1.conf" -s "$WORK/bird-lb$1.ctl"
	# shellcheck disable=SC2034 # scenarios.sh stops it by PID
	BIRD_PID[$1]=$HALB_LAST_PID
}
# start_router I: lbI's halb-router (RTR_PID[I], FABRIC_L7=1), waiting
# until it is attached.
start_router() {
	local i=$1
	halb_spawn "$WORK/router-lb$i.log" ip netns exec "$P-lb$i" "$HALB_BUILD/router/halb-router" -c "${CONF[$i]}"
	RTR_PID[$i]=$HALB_LAST_PID
	router_up() { [ "$(ctl "$i" router 2>/dev/null | awk '$1 == "router_pid:" { print $2 }')" = "${RTR_PID[$i]}" ]; }
	halb_wait_until 30 router_up
}
# rstat I NAME: counter NAME of lbI's request router (halbctl router).
rstat() { ctl "$1" router 2>/dev/null | awk -v k="$2:" '$1 == k { print $2 }'; }
# sess_ready I: lbI's halb-sessiond says its replica is loaded.
sess_ready() { ctl "$1" sessions 2>/dev/null | grep -q 'replica loaded'; }

# ctl I ARGS...: halbctl on appliance lbI's file, in its namespace.
ctl() { local i=$1; shift; ip netns exec "$P-lb$i" "$HALB_BUILD/tools/halbctl" -c "${CONF[$i]}" "$@"; }
# stat I NAME: counter NAME of lbI's forwarder (halbctl stats).
stat() { ctl "$1" stats 2>/dev/null | awk -v k="$2" '$1 == k":" { s += $2; n++ } END { if (n) print s; else print 0 }'; }

# services_conf: the services, each on the backends of BE_SET (b1 b2 b3:
# weights 1, 1, 2), DSR, NAT (backends on port 8080) and tunnel (VNI 42)
# over IPv4 and IPv6.
services_conf() {
	local first=1 name vip mode b
	echo "services = ("
	while read -r name vip mode; do
		[ "$first" = 1 ] || echo ","
		first=0
		printf '  { name = "%s"; vip = "%s"; port = 80; protocol = "tcp"; mode = "%s";' "$name" "$vip" "$mode"
		[ "$mode" = tunnel ] && printf ' vni = 42; tunnel_port = 4789;'
		printf '\n    backends = ('
		local bfirst=1
		for b in $BE_SET; do
			[ "$bfirst" = 1 ] || printf ','
			bfirst=0
			local ip="198.18.0.1${b#b}" w=1
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
	web-dsr $VIP4 dsr
	web-nat 198.18.2.101 nat
	web-tunnel 198.18.2.102 tunnel
	web6-dsr $VIP6 dsr
	web6-nat fd00:68:2::101 nat
	web6-tunnel fd00:68:2::102 tunnel
	EOF
	[ "$L7" = 1 ] && l7_service_conf
	echo " );"
}

# l7_service_conf: web-l7 (FABRIC_L7=1), request-routed, on the backends
# of BE_SET at port L7_PORT, all in the pool "web" (the default; a rule
# names it too).  The backends answer with window scale 7 (their
# tcp_rmem, l7_backends), as the service's wscale says.
l7_service_conf() {
	local b bfirst=1 w
	printf ',\n  { name = "web-l7"; vip = "%s"; port = 80; protocol = "tcp"; mode = "nat";' "$VIP_L7"
	printf '\n    requests = { rules = ( { host = "api.example.com"; pool = "web"; } );'
	printf '\n      default_pool = "web"; bind_timeout_ms = 3000; wscale = 7; };'
	printf '\n    backends = ('
	for b in $BE_SET; do
		[ "$bfirst" = 1 ] || printf ','
		bfirst=0
		w=1
		[ "$b" = b3 ] && w=2
		printf '\n      { ip = "198.18.0.1%s"; port = %d; weight = %d; agent = "%s"; pool = "web"; }' \
			"${b#b}" "$L7_PORT" "$w" "$b"
	done
	printf ' ); }'
}

# l7_backends: FABRIC_L7=1's backend side: an HTTP server on L7_PORT on
# each backend host, its replies (from L7_PORT) routed to the router and
# spread over the appliances as port 8080's are (topo.sh), and the
# window scale the service promises (7: a 6 MB tcp_rmem).
l7_backends() {
	local b
	ip -n "$P-rtr" rule add iif eth1 ipproto tcp sport "$L7_PORT" lookup 200 || return 1
	for b in $HALB_BACKENDS; do
		ip netns exec "$P-$b" sysctl -qw net.ipv4.tcp_rmem="4096 131072 6291456" || return 1
		ip -n "$P-$b" rule add ipproto tcp sport "$L7_PORT" lookup 100 || return 1
		halb_spawn "$WORK/backend-l7-$b.log" ip netns exec "$P-$b" "$HALB_PYTHON" \
			"$HALB_E2E_DIR/backend_http.py" "$b" --ports "$L7_PORT" --pid-file "$WORK/backend-l7-$b.pid"
	done
	for b in $HALB_BACKENDS; do
		halb_wait_until 10 test -s "$WORK/backend-l7-$b.pid" || return 1
	done
}

# sess_peers I: lbI's sessions.peers: every other appliance, over sync0,
# with the pair's key.
sess_peers() {
	local i=$1 j first=1
	for j in $ALL; do
		[ "$j" = "$i" ] && continue
		[ "$first" = 1 ] || printf ', '
		first=0
		printf '{ name = "lb%d"; address = "198.18.3.%d:7303"; key = "%s"; }' \
			"$j" "$j" "${KEY[s$((i < j ? i : j))$((i < j ? j : i))]}"
	done
}

# appliance_conf I: lbI's file.  Its port address is 198.18.0.2I.
appliance_conf() {
	local i=$1 x=$((2 * $1))
	cat <<EOF
# Appliance lb$i of the fabric rig (tests/e2e/fabric.sh).
eal = { file_prefix = "${FP[$i]}"; lcores = "0,1"; classifier_lcore = 16; };
ports = (
  { name = "inside"; vdev = "net_af_packet0,iface=halb0,qdisc_bypass=1";
    ipv4 = "198.18.0.$x/24"; ipv6 = "fd00:68::$x/64";
    gateway4 = "198.18.0.254"; gateway6 = "fd00:68::fe";
    kernel = "halb0k"; } );
flows = { entries = 16384; tcp_syn_timeout = 5.0; tcp_timeout = 300.0;
          tcp_fin_timeout = $FIN_TIMEOUT; udp_timeout = 30.0; };
idle_sleep_us = 100;
classifier_timeout_ms = 300;
# halb-healthd on the kernel's address: the agents' reports come in
# through the exception path.
health = { listen = "198.18.0.$x:7300"; name = "lb$i"; key = "${KEY[lb$i]}";
  state_file = "$WORK/lb$i.operator";
  agents = ( $(for b in $BE_SET; do printf '{ host = "%s"; key = "%s"; } ' "$b" "${KEY[$b]}"; done | sed 's/} {/}, {/g') ); };
$(services_conf)
# The session tracker: a peer per other appliance over the sync network
# (sync0), a key per pair.
sessions = {
  name = "lb$i";
  listen = "198.18.3.$i:7303";
  socket = "$WORK/lb$i.sessiond.sock";
  ring_size = 8192;
  replica_entries = 16384;
  resend_ms = $SESS_RESEND_MS;
  dead_ms = 1000;
  peers = ( $(sess_peers "$i") );
};
bgp = {
  as = $LOCAL_AS;
  neighbours = ( { address = "198.18.0.254"; as = $ROUTER_AS; },
                 { address = "fd00:68::fe"; as = $ROUTER_AS; } );
  socket = "$WORK/bird-lb$i.ctl";
};
EOF
}

# agent_conf bN: halb-agent's file on backend host bN: it reports to the
# halb-healthd of every appliance, each web service with an HTTP check
# of the local server (backend_http.py).
agent_conf() {
	local b=$1 n=${1#b} i first=1
	echo "agent = {"
	echo "  host = \"$b\"; key = \"${KEY[$b]}\";"
	printf '  handlers = ('
	for i in $ALL; do
		[ "$first" = 1 ] || printf ','
		first=0
		printf '\n    { address = "198.18.0.%d:7300"; name = "lb%d"; key = "%s"; }' \
			$((2 * i)) "$i" "${KEY[lb$i]}"
	done
	cat <<EOF
 );
  listen = "0.0.0.0:7301";
  interval_ms = 1000;
  capacity = 100;
  control = "$WORK/agent-$b.sock";
  services = (
    { service = "web-dsr"; address = "198.18.0.1$n"; port = 80;
      check = { type = "http"; url = "http://127.0.0.1:80/"; expect = 200; timeout_ms = 1000; fall = 2; }; },
    { service = "web-nat"; address = "198.18.0.1$n"; port = 8080;
      check = { type = "http"; url = "http://127.0.0.1:8080/"; expect = 200; timeout_ms = 1000; fall = 2; }; },
    { service = "web-tunnel"; address = "198.18.0.1$n"; port = 80;
      check = { type = "http"; url = "http://127.0.0.1:80/"; expect = 200; timeout_ms = 1000; fall = 2; }; },
    { service = "web6-dsr"; address = "fd00:68::1$n"; port = 80;
      check = { type = "http"; url = "http://[::1]:80/"; expect = 200; timeout_ms = 1000; fall = 2; }; },
    { service = "web6-nat"; address = "fd00:68::1$n"; port = 8080;
      check = { type = "http"; url = "http://[::1]:8080/"; expect = 200; timeout_ms = 1000; fall = 2; }; },
    { service = "web6-tunnel"; address = "fd00:68::1$n"; port = 80;
      check = { type = "http"; url = "http://[::1]:80/"; expect = 200; timeout_ms = 1000; fall = 2; }; }$(
	[ "$L7" = 1 ] && printf ',\n    { service = "web-l7"; address = "198.18.0.1%s"; port = %d;\n      check = { type = "http"; url = "http://127.0.0.1:%d/"; expect = 200; timeout_ms = 1000; fall = 2; }; }' "$n" "$L7_PORT" "$L7_PORT") );
};
EOF
}

# router_conf: the router's BIRD: every appliance a neighbour over IPv4
# and IPv6, routes merged into one multipath kernel route per prefix.
# NAT replies: the tables nat4 and nat6 hold a default route over every
# appliance whose BFD is up (a next hop each, `bfd`), exported to the
# kernel's table 200, where topo.sh's rule sends the backends' port 8080.
router_conf() {
	local i x nh4="" nh6=""
	for ((i = 1; i <= N; i++)); do
		nh4="$nh4 via 198.18.0.$((2 * i)) bfd"
		nh6="$nh6 via fd00:68::$((2 * i)) bfd"
	done
	cat <<EOF
log stderr all;
router id 198.18.0.254;
ipv4 table nat4;
ipv6 table nat6;
protocol device { }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
protocol bfd { interface "eth1" { interval 100 ms; multiplier 3; }; }
protocol static nat4s { ipv4 { table nat4; }; route 0.0.0.0/0$nh4; }
protocol static nat6s { ipv6 { table nat6; }; route ::/0$nh6; }
protocol kernel nat4k { ipv4 { table nat4; import none; export all; }; kernel table 200; }
protocol kernel nat6k { ipv6 { table nat6; import none; export all; }; kernel table 200; }
template bgp lb4 { local 198.18.0.254 as $ROUTER_AS; direct; bfd on;
  error wait time 1, 5; connect delay time 1; ipv4 { import all; export none; }; }
template bgp lb6 { local fd00:68::fe as $ROUTER_AS; direct; bfd on;
  error wait time 1, 5; connect delay time 1; ipv6 { import all; export none; }; }
EOF
	for ((i = 1; i <= N; i++)); do
		x=$((2 * i))
		echo "protocol bgp lb${i}v4 from lb4 { neighbor 198.18.0.$x as $LOCAL_AS; }"
		echo "protocol bgp lb${i}v6 from lb6 { neighbor fd00:68::$x as $LOCAL_AS; }"
	done
}

# route_nexthops VIP: the router's next hops to VIP, sorted, one line.
route_nexthops() {
	local fam=-4
	[[ $1 == *:* ]] && fam=-6
	ip -n "$P-rtr" "$fam" route show "$1" 2>/dev/null |
		grep -o 'via [0-9a-f:.]*' | awk '{ print $2 }' | sort | tr '\n' ' '
}
# route_is VIP "NH NH ...": the router's next hops to VIP are those.
route_is() { [ "$(route_nexthops "$1")" = "$2" ]; }
nexthops() { # nexthops FAMILY I...: the appliances' addresses, as route_nexthops prints them
	local fam=$1 i; shift
	for i in "$@"; do
		if [ "$fam" = 4 ]; then echo "198.18.0.$((2 * i))"; else echo "fd00:68::$((2 * i))"; fi
	done | sort | tr '\n' ' '
}
ALL=$(seq 1 "$N" | tr '\n' ' ')

# since T: seconds from T (date +%s.%N) to now, 2 decimals; le A B: A <= B.
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

installs() { local i s=""; for i in $ALL; do s="$s $(stat "$i" installs)"; done; echo "$s"; }

# spread URL COUNT: COUNT new connections; prints the client's JSON and
# "installs per appliance" before and after on two more lines.
spread() {
	local before after out
	before=$(installs)
	out=$(halb_client "$P" --url "$1" --count "$2" --parallel 8 --timeout 3 --max-failures 16 2>&1)
	after=$(installs)
	echo "$out"
	echo "$before"
	echo "$after"
}

# check_spread NAME OUTPUT MIN_SHARE...: all answered; appliance I took at
# least its MIN_SHARE (a fraction of all) of the new flows.
check_spread() {
	"$HALB_PYTHON" - "$@" <<'EOF'
import json, sys
name, out = sys.argv[1], sys.argv[2].splitlines()
mins = [float(x) for x in sys.argv[3:]]
try:
    r = json.loads(next(l for l in out if l.startswith("{")))
    before = [int(x) for x in out[-2].split()]
    after = [int(x) for x in out[-1].split()]
except Exception as e:
    print("%s: no summary (%s): %s" % (name, e, " | ".join(out[-3:]))); sys.exit(1)
d = [a - b for a, b in zip(after, before)]
tot = max(sum(d), 1)
bad = []
if r["failed"] or r["ok"] == 0:
    bad.append("%d answered, %d failed %s" % (r["ok"], r["failed"], r.get("errors", {})))
for i, (n, m) in enumerate(zip(d, mins), 1):
    if n < m * tot or (m == 0 and n != 0):
        bad.append("lb%d took %d of %d (want %s)" % (i, n, tot, ">= %d%%" % (100 * m) if m else "none"))
print("%s: %d/%d answered; per appliance %s; per backend %s%s" % (
    name, r["ok"], r["ok"] + r["failed"], ", ".join("lb%d %d" % (i, n) for i, n in enumerate(d, 1)),
    ", ".join("%s %d" % kv for kv in sorted(r["by_backend"].items())),
    ("; " + "; ".join(bad)) if bad else ""))
sys.exit(1 if bad else 0)
EOF
}

echo "fabric: rig $P, $N appliances, binaries from $HALB_BUILD, work dir $WORK"

# --- configuration ---------------------------------------------------------
# Keys of this run: each appliance's halb-healthd, each backend host.
for k in $(for i in $ALL; do echo "lb$i"; done) $HALB_BACKENDS s12 s13 s23; do
	KEY[$k]=$("$HALB_PYTHON" -c 'import secrets; print(secrets.token_hex(32))')
done
for b in $HALB_BACKENDS; do
	agent_conf "$b" >"$WORK/agent-$b.conf"
	chmod 600 "$WORK/agent-$b.conf"  # it holds keys
done
for i in $ALL; do
	FP[$i]=halb_${P}_$i
	CONF[$i]=$WORK/lb$i.conf
	appliance_conf "$i" >"${CONF[$i]}"
	chmod 600 "${CONF[$i]}"  # it holds keys
	out=$("$HALB_BUILD/tools/halbctl" -c "${CONF[$i]}" bird-config 2>&1) ||
		fatal "halbctl bird-config on lb$i's file: $out"
	{ echo "log stderr all;"; echo "$out"; } >"$WORK/bird-lb$i.conf"
	bird -p -c "$WORK/bird-lb$i.conf" 2>"$WORK/bird-parse.log" ||
		fatal "BIRD refuses the file halbctl bird-config made: $(cat "$WORK/bird-parse.log")"
done
pass "halbctl bird-config: a file BIRD accepts for each appliance (bird -p)"
router_conf >"$WORK/bird-rtr.conf"

# --- rig ---------------------------------------------------------------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" fabric-up "$P" "$N" || fatal "topo.sh fabric-up $P $N"
halb_start_backends "$P" "$WORK" || fatal "the backends' HTTP servers did not start"
if [ "$L7" = 1 ]; then
	l7_backends || fatal "the backends' request-routed side (port $L7_PORT) did not start"
fi
halb_spawn "$WORK/bird-rtr.log" ip netns exec "$P-rtr" bird -f -c "$WORK/bird-rtr.conf" -s "$WORK/bird-rtr.ctl"

for i in $ALL; do
	halb_spawn "$WORK/forwarder-lb$i.log" ip netns exec "$P-lb$i" "$HALB_BUILD/forwarder/halb-forwarder" -c "${CONF[$i]}"
	FWD_PID[$i]=$HALB_LAST_PID
done
for i in $ALL; do
	up_or_died() { ! halb_alive "${FWD_PID[$i]}" || ctl "$i" status >/dev/null 2>&1; }
	halb_wait_until 30 up_or_died
	halb_alive "${FWD_PID[$i]}" || fatal "lb$i's forwarder exited: $(tail -n 3 "$WORK/forwarder-lb$i.log" | tr '\n' ' ')"
	ctl "$i" status >/dev/null 2>&1 || fatal "lb$i's forwarder does not answer within 30 s"
	addrs=$(ip -n "$P-lb$i" addr show dev halb0k 2>&1)
	[[ $addrs == *"inet 198.18.0.$((2 * i))/24"* ]] ||
		fatal "lb$i: the kernel interface halb0k has not the port's address: $(echo "$addrs" | tr '\n' ' ')"
	halb_spawn "$WORK/classifier-lb$i.log" ip netns exec "$P-lb$i" "$HALB_BUILD/classifier/halb-classifier" -c "${CONF[$i]}"
	# shellcheck disable=SC2034 # scenarios.sh stops it by PID
	CLS_PID[$i]=$HALB_LAST_PID
	start_sessiond "$i"
	if [ "$L7" = 1 ]; then
		start_router "$i" || fatal "lb$i's halb-router not attached within 30 s: $(tail -n 3 "$WORK/router-lb$i.log" | tr '\n' ' ')"
	fi
	start_bird "$i"
	halb_spawn "$WORK/healthd-lb$i.log" ip netns exec "$P-lb$i" "$HALB_BUILD/healthload/halb-healthd" -c "${CONF[$i]}"
done
halb_start_agents "$P" "$WORK" || fatal "the agents did not start"
for i in $ALL; do
	cls_up() { ctl "$i" status 2>/dev/null | grep '^[[:space:]]*classifier: up' >/dev/null; }
	halb_wait_until 30 cls_up || fatal "lb$i's classifier is not up within 30 s"
done
pass "$N appliances up: forwarder (kernel interface halb0k with the port's address), classifier and halb-healthd each"
# The session trackers: each ready (its replica loaded) with every peer
# alive and synced.
all_synced() {
	local j
	sess_ready "$1" || return 1
	for j in $ALL; do
		[ "$j" = "$1" ] && continue
		ctl "$1" sessions 2>/dev/null | grep -q "^peer lb$j .*: alive synced" || return 1
	done
}
for i in $ALL; do
	if halb_wait_until 30 all_synced "$i"; then
		pass "lb$i: halb-sessiond ready, every peer alive and synced over sync0: $(ctl "$i" sessions | sed -n 2p)"
	else
		fatal "lb$i: halb-sessiond not ready and synced with its peers within 30 s: $(ctl "$i" sessions 2>&1 | tr '\n' ' ')"
	fi
done

# --- BGP and BFD over the exception path -------------------------------------
established() { [ "$(ctl "$1" bgp 2>/dev/null | grep -c ' BGP .* Established')" -eq 2 ]; }
bfd_up() { [ "$(ctl "$1" bgp 2>/dev/null | grep -c ' halb0k *Up ')" -eq 2 ]; }
for i in $ALL; do
	if halb_wait_until 20 established "$i" && halb_wait_until 10 bfd_up "$i"; then
		pass "lb$i: BGP sessions (IPv4, IPv6) established and BFD up over halb0k: $(ctl "$i" bgp | grep -c Established) sessions; to_kernel $(stat "$i" to_kernel), from_kernel $(stat "$i" from_kernel)"
	else
		fatal "lb$i: BGP or BFD not up within 30 s: $(ctl "$i" bgp 2>&1 | tr '\n' ' ')"
	fi
done
# Health and load through the exception path: the agents' reports reach
# each halb-healthd on the kernel's address.
all_up() {
	ctl "$1" health json 2>/dev/null |
		"$HALB_PYTHON" "$HALB_E2E_DIR/health/hstate.py" health --state up --source agent \
			--count $(((N_SVC + L7) * $(echo $BE_SET | wc -w))) >/dev/null
}
for i in $ALL; do
	if halb_wait_until 15 all_up "$i"; then
		pass "lb$i: halb-healthd has all $(((N_SVC + L7) * $(echo $BE_SET | wc -w))) backends up from their agents (their reports come through halb0k)"
	else
		fail "lb$i: halb-healthd does not have every backend up from its agent: $(ctl "$i" health 2>&1 | head -n 12 | tr -s ' \n' ' ')"
	fi
done
if [ -z "$(route_nexthops "$VIP4")" ] && ctl 1 bgp | grep '^vips: withdrawn' >/dev/null; then
	pass "nothing announced before 'halbctl bgp announce' (the VIP protocols start disabled)"
else
	fail "a route to $VIP4 before any announce: $(route_nexthops "$VIP4")"
fi
t0=$(date +%s.%N)
for i in $ALL; do ctl "$i" bgp announce >"$WORK/announce-$i.out" 2>&1 || fail "lb$i: halbctl bgp announce: $(cat "$WORK/announce-$i.out")"; done
if halb_wait_until 15 route_is "$VIP4" "$(nexthops 4 $ALL)" &&
	halb_wait_until 5 route_is "$VIP6" "$(nexthops 6 $ALL)"; then
	pass "the router has a multipath route to each VIP over all $N appliances, $(since "$t0") s after announce: $(ip -n "$P-rtr" route show "$VIP4" | tr -s ' \n' ' ')"
else
	fatal "no multipath route over every appliance: $VIP4 via $(route_nexthops "$VIP4"), $VIP6 via $(route_nexthops "$VIP6")"
fi

# --- the failure scenarios of issue 10 (tests/e2e/scenarios.sh) -------------
if [ "${FABRIC_SCENARIOS:-0}" = 1 ]; then
	scenarios_run
	finish
fi

# --- demo: traffic and what the router and appliances do -------------------
if [ "$DEMO" = 1 ]; then
	if [ -n "${DEMO_SECONDS:-}" ] || [ ! -t 0 ]; then DURATION=${DEMO_SECONDS:-20}; else DURATION=0; fi
	if [ "$DURATION" = 0 ]; then
		echo "demo: new connections to every VIP each second; Ctrl-C to stop"
	else
		echo "demo: new connections to every VIP each second, for $DURATION s"
	fi
	end=$((SECONDS + DURATION))
	while [ "$DURATION" = 0 ] || [ "$SECONDS" -lt "$end" ]; do
		echo "---- $(date +%H:%M:%S)  router's routes:"
		ip -n "$P-rtr" route show proto bird | sed 's/^/  /'
		ip -n "$P-rtr" -6 route show proto bird | sed 's/^/  /'
		while read -r svc url; do
			out=$(spread "$url" 40)
			# shellcheck disable=SC2046
			check_spread "$svc" "$out" $(for i in $ALL; do echo 0.01; done) | sed 's/^/  /'
		done <<<"$SERVICES"
		for i in $ALL; do echo "  lb$i: $(ctl "$i" bgp | grep -E '^vips|halb_peer' | tr -s ' \n' ' ')"; done
		for i in $ALL; do
			echo "  lb$i sessions: $(ctl "$i" sessions | sed -n 's/^sessiond lb[0-9]*: //p')"
			ctl "$i" sessions | grep '^peer ' | sed 's/^/    /'
		done
		sleep 1
	done
	finish
fi

# --- spread over the appliances ----------------------------------------------
share=$(awk -v n="$N" 'BEGIN { printf "%.3f", 0.25 / n }')
while read -r svc url; do
	out=$(spread "$url" "$REQUESTS")
	# shellcheck disable=SC2046
	if msg=$(check_spread "$svc" "$out" $(for i in $ALL; do echo "$share"; done)); then pass "$msg"; else fail "$msg"; fi
done <<<"$SERVICES"

# --- withdraw and announce ---------------------------------------------------
t0=$(date +%s.%N)
ctl 1 bgp withdraw >"$WORK/withdraw.out" 2>&1 || fail "halbctl bgp withdraw: $(cat "$WORK/withdraw.out")"
others=$(seq 2 "$N" | tr '\n' ' ')
# shellcheck disable=SC2086
if halb_wait_until 10 route_is "$VIP4" "$(nexthops 4 $others)"; then
	pass "halbctl bgp withdraw on lb1: the router's route to $VIP4 leaves it within $(since "$t0") s ('vips: $(ctl 1 bgp | sed -n 's/^vips: //p')')"
else
	fail "after withdraw, the route to $VIP4 is via $(route_nexthops "$VIP4")"
fi
out=$(spread "http://$VIP4/" 200)
# shellcheck disable=SC2046
if msg=$(check_spread "web-dsr after withdraw" "$out" 0 $(for i in $others; do echo 0.1; done)); then pass "$msg"; else fail "$msg"; fi
ctl 1 bgp announce >/dev/null 2>&1
# shellcheck disable=SC2086
if halb_wait_until 10 route_is "$VIP4" "$(nexthops 4 $ALL)"; then
	pass "halbctl bgp announce on lb1: the multipath route is back"
else
	fail "after announce, the route to $VIP4 is via $(route_nexthops "$VIP4")"
fi

# --- a hung forwarder: BFD too -------------------------------------------------
# SIGSTOP on lb2's forwarder: its tap stays, but nothing moves through it.
if [ "$N" -ge 2 ]; then
	rest=$(for i in $ALL; do [ "$i" != 2 ] && echo "$i"; done | tr '\n' ' ')
	t0=$(date +%s.%N)
	kill -STOP "${FWD_PID[2]}"
	# shellcheck disable=SC2086
	if halb_wait_until 5 route_is "$VIP4" "$(nexthops 4 $rest)"; then
		pass "SIGSTOP on lb2's forwarder (hung, its kernel interface still there): the router drops its path within $(since "$t0") s"
	else
		fail "SIGSTOP on lb2's forwarder: the route to $VIP4 is still via $(route_nexthops "$VIP4")"
	fi
	t0=$(date +%s.%N)
	kill -CONT "${FWD_PID[2]}"
	if halb_wait_until 20 route_is "$VIP4" "$(nexthops 4 $ALL)"; then
		pass "SIGCONT: lb2 is back in the multipath route $(since "$t0") s later (BFD up, BGP session again)"
	else
		fail "SIGCONT: the route to $VIP4 is via $(route_nexthops "$VIP4") 20 s later"
	fi
fi

# --- kill -9 a forwarder: BFD --------------------------------------------------
declare -A HOLD
for ((h = 1; h <= HOLDS; h++)); do
	halb_spawn "$WORK/hold-$h.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
		--url "http://$VIP4/" --keepalive-hold 6 --timeout 3
	HOLD[$h]=$HALB_LAST_PID
done
holds_connected() { local h; for h in "${!HOLD[@]}"; do grep -qs '^connected' "$WORK/hold-$h.out" || return 1; done; }
halb_wait_until 10 holds_connected || fail "the keep-alive connections did not all connect within 10 s"
halb_spawn "$WORK/monitor.log" ip -n "$P-rtr" -ts -4 monitor route
MON_PID=$HALB_LAST_PID
sleep 1
before=$(installs)
t_kill=$(date +%s.%N)
halb_stop "${FWD_PID[1]}" KILL 5
echo "fabric: killed lb1's forwarder (PID ${FWD_PID[1]}) with SIGKILL at $(date -d "@$t_kill" +%T.%N | cut -c1-12)"
# shellcheck disable=SC2086
halb_wait_until 10 route_is "$VIP4" "$(nexthops 4 $others)"
sleep 0.3
halb_stop "$MON_PID" TERM 2
detect=$("$HALB_PYTHON" - "$t_kill" "$WORK/monitor.log" "$VIP4" <<'EOF'
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
)
if [ -n "$detect" ] && le "$detect" "$MAX_DETECT_S"; then
	pass "kill -9 lb1's forwarder: the router dropped its path ${detect} s later (BFD 100 ms x 3; goal 0.3 s: $(le "$detect" 0.3 && echo met || echo missed)): $(ip -n "$P-rtr" route show "$VIP4" | tr -s ' \n' ' ')"
else
	fail "kill -9 lb1's forwarder: the router's route change came ${detect:-never} s later (at most $MAX_DETECT_S): $(ip -n "$P-rtr" route show "$VIP4" | tr -s ' \n' ' '); monitor: $(tr '\n' ' ' <"$WORK/monitor.log" | cut -c1-300)"
fi
echo "fabric: BFD detection time ${detect:-unknown} s (kill -9 of the forwarder to the router's route change)"
out=$(spread "http://$VIP4/" 200)
# shellcheck disable=SC2046
if msg=$(check_spread "web-dsr after the kill" "$out" 0 $(for i in $others; do echo 0.1; done)); then
	pass "new connections after the kill: $msg"
else
	fail "new connections after the kill: $msg"
fi
survived=0
for h in "${!HOLD[@]}"; do
	halb_wait_exit "${HOLD[$h]}" 15 && survived=$((survived + 1))
done
echo "fabric: established keep-alive connections: $survived of $HOLDS went on without an error (checked under load by tests/e2e/scenarios.sh)"

# The survivors stop cleanly (a sanitizer build reports leaks at exit).
for i in $others; do
	halb_stop "${FWD_PID[$i]}" TERM 10 || fail "lb$i's forwarder did not exit cleanly on SIGTERM"
done
if grep -l -E 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' \
	"$WORK"/forwarder-*.log "$WORK"/classifier-*.log >"$WORK/sanitizer" 2>/dev/null; then
	fail "sanitizer reports in: $(tr '\n' ' ' <"$WORK/sanitizer")"
else
	pass "no sanitizer report in the forwarders' and classifiers' logs"
fi

finish
