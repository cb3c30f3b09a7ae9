#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/pkt/run.sh: packet-level tests of halb.
#
# Builds one network namespace hp<PID>-lb holding a veth pair:
#   halb0  driven by halb-forwarder (net_af_packet, qdisc_bypass=1): no
#          addresses, IPv6 off, offloads off, MAC 02:68:00:00:00:02
#   tap0   the test's side: tests/pkt/pkt_test.py sends crafted frames on
#          it and captures what the appliance sends back
# and a second pair, halb1 (MAC 02:68:00:00:00:03) <-> tap1, for the
# port "tagged" (VLAN 42) of pkt.conf, whose exception path the forwarder
# makes: the kernel interface halbk1 (198.18.20.2/24, that port's MAC).
# then starts halb-forwarder and halb-classifier in it from
# tests/pkt/pkt.conf (with a per-run DPDK file prefix), then
# halb-sessiond (its peer is played by the tests: sync_peer.py), and runs
# pkt_test.py.  Everything it made (processes by PID, namespace, hugepage
# files, DPDK runtime directory) is removed on every exit path.
#
# Output: one "ok - NAME" / "not ok - NAME: REASON" line per check and a
# final "pkt: N passed, M failed".  Exit status 0 only if all passed.
#
# Arguments are passed to pkt_test.py (e.g. --only arp,dsr4).
# Environment: HALB_BUILD (default: build), PKT_PYTHON (default:
# /usr/bin/python3, which has python3-scapy), PKT_KEEP=1 keeps the run
# directory (logs, config).  Variants of the rig (tests/pkt/mq.sh) set
# PKT_TEST (the test program instead of pkt_test.py, same arguments)
# and PKT_SED (a sed script applied to pkt.conf); PKT_CONF a template
# instead of pkt.conf, and PKT_ROUTER=1 to start halb-router too
# (tests/pkt/l7.sh: the request router).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${HALB_BUILD:-$TOP/build}
PY=${PKT_PYTHON:-/usr/bin/python3}
FWD_BIN=$BUILD/forwarder/halb-forwarder
CLS_BIN=$BUILD/classifier/halb-classifier
SESS_BIN=$BUILD/session/halb-sessiond
CTL_BIN=$BUILD/tools/halbctl
RTR_BIN=$BUILD/router/halb-router

NS=hp$$-lb
PREFIX=halb-pkt-$$
APP_MAC=02:68:00:00:00:02
RUN=""
FWD_PID=""
SESS_PID=""
RTR_PID=""
NS_MADE=0

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'not ok - setup: %s\npkt: 0 passed, 1 failed\n' "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
for b in "$FWD_BIN" "$CLS_BIN" "$CTL_BIN" "$SESS_BIN"; do
	[ -x "$b" ] || die "missing $b (run: ninja -C build)"
done
"$PY" -c 'import scapy.all' 2>/dev/null ||
	die "$PY cannot import scapy (apt-get install -y python3-scapy)"

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# stop_pid PID NAME: TERM, wait up to 5 s, then KILL.  Only PIDs we started, and only while /proc says it still
# runs NAME (never a recycled PID).
stop_pid() {
	local pid=$1 name=$2 i
	[ -n "$pid" ] || return 0
	local cmd
	cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline")
	if alive "$pid" && [[ $cmd == *"$name"* ]]; then
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 50); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			log "$name ($pid) ignored SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null
			for i in $(seq 20); do
				alive "$pid" || break
				sleep 0.1
			done
		fi
	fi
	return 0
}

# sessiond and the classifier first (the test may have restarted it:
# every PID it started is in cls.pids), then the forwarder.
stop_all() {
	local pid
	stop_pid "$RTR_PID" halb-router
	stop_pid "$SESS_PID" halb-sessiond
	if [ -n "$RUN" ] && [ -f "$RUN/cls.pids" ]; then
		while read -r pid; do
			stop_pid "$pid" halb-classifier
		done < "$RUN/cls.pids"
	fi
	stop_pid "$FWD_PID" halb-forwarder
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	stop_all
	[ "$NS_MADE" = 1 ] && ip netns del "$NS" 2>/dev/null
	rm -f /dev/hugepages/"$PREFIX"map_* 2>/dev/null
	rm -rf "/var/run/dpdk/$PREFIX" "/run/halb/$PREFIX"
	if [ -n "$RUN" ]; then
		if [ "${PKT_KEEP:-0}" = 1 ]; then
			log "run directory kept: $RUN"
		else
			rm -rf "$RUN"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

RUN=$(mktemp -d /tmp/halb-pkt.XXXXXX)
CONF=$RUN/pkt.conf
sed -e "s/@PREFIX@/$PREFIX/" ${PKT_SED:+-e "$PKT_SED"} "${PKT_CONF:-$HERE/pkt.conf}" > "$CONF"
: > "$RUN/cls.pids"

# wait_for TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
	local t=$1 end
	shift
	end=$(($(date +%s%N) + t * 1000000000))
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

tails() {
	echo "# ---- forwarder log (tail) ----"
	tail -n 40 "$RUN/forwarder.log" 2>/dev/null | sed 's/^/# /'
	echo "# ---- classifier log (tail) ----"
	tail -n 40 "$RUN/classifier.log" 2>/dev/null | sed 's/^/# /'
	echo "# ---- router log (tail) ----"
	tail -n 40 "$RUN/router.log" 2>/dev/null | sed 's/^/# /'
	echo "# ---- sessiond log (tail) ----"
	tail -n 20 "$RUN/sessiond.log" 2>/dev/null | sed 's/^/# /'
}

# ---- the namespace ----
ip netns add "$NS" || die "cannot create namespace $NS"
NS_MADE=1
nsx() { ip netns exec "$NS" "$@"; }
{
	nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
	nsx sysctl -qw net.ipv6.conf.default.disable_ipv6=1 &&
	nsx sysctl -qw net.ipv4.ip_forward=0 &&
	ip -n "$NS" link set lo up &&
	ip -n "$NS" link add halb0 type veth peer name tap0 &&
	ip -n "$NS" link set halb0 address "$APP_MAC" &&
	ip -n "$NS" link set tap0 address 02:68:00:00:00:99 &&
	nsx sysctl -qw net.ipv6.conf.halb0.disable_ipv6=1 &&
	nsx sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1 &&
	nsx ethtool -K halb0 tx off rx off tso off gso off gro off >/dev/null 2>&1 &&
	nsx ethtool -K tap0 tx off rx off tso off gso off gro off >/dev/null 2>&1 &&
	ip -n "$NS" addr flush dev halb0 &&
	ip -n "$NS" addr flush dev tap0 &&
	ip -n "$NS" link set halb0 up &&
	ip -n "$NS" link set tap0 up &&
	ip -n "$NS" link add halb1 type veth peer name tap1 &&
	ip -n "$NS" link set halb1 address 02:68:00:00:00:03 &&
	ip -n "$NS" link set tap1 address 02:68:00:00:00:98 &&
	nsx sysctl -qw net.ipv6.conf.halb1.disable_ipv6=1 &&
	nsx sysctl -qw net.ipv6.conf.tap1.disable_ipv6=1 &&
	nsx ethtool -K halb1 tx off rx off tso off gso off gro off >/dev/null 2>&1 &&
	nsx ethtool -K tap1 tx off rx off tso off gso off gro off >/dev/null 2>&1 &&
	ip -n "$NS" addr flush dev halb1 &&
	ip -n "$NS" addr flush dev tap1 &&
	ip -n "$NS" link set halb1 up &&
	ip -n "$NS" link set tap1 up &&
	# The forwarder's kernel interface halbk1 (port "tagged") comes up
	# without IPv6: its router solicitations and MLD reports would show
	# on tap1 among the frames the tests expect.
	nsx sysctl -qw net.ipv6.conf.default.disable_ipv6=1 &&
	# The kernel must not take what arrives on the DPDK legs too (it
	# holds 198.18.20.2 on halbk1 and would answer ARP for it on halb1):
	# it drops every frame there once the packet sockets have their copy
	# (as tests/e2e/topo.sh's dpdk_leg).
	nsx nft -f - <<-EOF
		table netdev halb_dpdk_legs {
			chain in0 {
				type filter hook ingress device "halb0" priority 0; policy drop;
			}
			chain in1 {
				type filter hook ingress device "halb1" priority 0; policy drop;
			}
		}
	EOF
} || die "cannot set up the veth pairs in $NS"

# ---- the appliance ----
free_pages=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$free_pages" -lt 128 ]; then
	die "only $free_pages free 2 MB hugepages (need 128): scripts/hugepages.sh"
fi

# `ip netns exec` execs the program (no fork), so $! is its own PID.
ip netns exec "$NS" "$FWD_BIN" -c "$CONF" > "$RUN/forwarder.log" 2>&1 &
FWD_PID=$!
disown "$FWD_PID" # no job notices; still reaped by this shell
fwd_ready() {
	grep -q 'halb-forwarder: ready' "$RUN/forwarder.log" && return 0
	alive "$FWD_PID" || return 0 # exited: stop waiting
	return 1
}
if ! wait_for 30 fwd_ready || ! grep -q 'halb-forwarder: ready' "$RUN/forwarder.log"; then
	tails
	die "halb-forwarder not ready within 30 s"
fi
ip netns exec "$NS" "$CLS_BIN" -c "$CONF" >> "$RUN/classifier.log" 2>&1 &
CLS_PID=$!
disown "$CLS_PID"
echo "$CLS_PID" >> "$RUN/cls.pids"
cls_ready() {
	grep -q 'halb-classifier: ready' "$RUN/classifier.log" && return 0
	alive "$CLS_PID" || return 0
	return 1
}
if ! wait_for 30 cls_ready || ! grep -q 'halb-classifier: ready' "$RUN/classifier.log"; then
	tails
	die "halb-classifier not ready within 30 s"
fi

ip netns exec "$NS" "$SESS_BIN" -c "$CONF" >> "$RUN/sessiond.log" 2>&1 &
SESS_PID=$!
disown "$SESS_PID"
sess_up() {
	grep -q 'attached' "$RUN/sessiond.log" && return 0
	alive "$SESS_PID" || return 0
	return 1
}
if ! wait_for 30 sess_up || ! grep -q 'attached' "$RUN/sessiond.log"; then
	tail -n 40 "$RUN/sessiond.log" | sed 's/^/# /'
	die "halb-sessiond not attached within 30 s"
fi

if [ "${PKT_ROUTER:-0}" = 1 ]; then
	[ -x "$RTR_BIN" ] || die "missing $RTR_BIN (run: ninja -C build)"
	ip netns exec "$NS" "$RTR_BIN" -c "$CONF" >> "$RUN/router.log" 2>&1 &
	RTR_PID=$!
	disown "$RTR_PID"
	echo "$RTR_PID" > "$RUN/router.pid"
	rtr_ready() {
		grep -q 'halb-router: ready' "$RUN/router.log" && return 0
		alive "$RTR_PID" || return 0
		return 1
	}
	if ! wait_for 30 rtr_ready || ! grep -q 'halb-router: ready' "$RUN/router.log"; then
		tail -n 40 "$RUN/router.log" | sed 's/^/# /'
		die "halb-router not ready within 30 s"
	fi
fi

# ---- the tests ----
# pkt_test.py prints the "ok - " / "not ok - " lines; the summary is
# counted here so that it stays the last line, after any log tails.
timeout -k 5 240 ip netns exec "$NS" env PYTHONDONTWRITEBYTECODE=1 \
	"$PY" -u "${PKT_TEST:-$HERE/pkt_test.py}" \
	--conf "$CONF" --iface tap0 --app-mac "$APP_MAC" \
	--halbctl "$CTL_BIN" --classifier "$CLS_BIN" \
	--cls-log "$RUN/classifier.log" --cls-pids "$RUN/cls.pids" \
	--sessiond-log "$RUN/sessiond.log" ${PKT_ROUTER:+--run "$RUN"} "$@" |
	tee "$RUN/results"
rc=${PIPESTATUS[0]}
passed=$(grep -c '^ok - ' "$RUN/results")
failed=$(grep -c '^not ok - ' "$RUN/results")
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "not ok - pkt_test.py: exited with status $rc"
	failed=1
fi
# Stop both processes now, so that a sanitizer's report at exit (an ASan
# build: HALB_BUILD=build-asan) is in the logs before the verdict.
SESS_SOCK=$(sed -n 's/^ *socket = "\(.*sessiond[^"]*\)";.*/\1/p' "$CONF")
SESS_SOCK=${SESS_SOCK:-/run/halb/$PREFIX.sessiond.sock}
stop_all
# halb-sessiond on SIGTERM: an orderly exit that removes its control
# socket (a SIGTERM that reached a DPDK thread killed it outright).
if [ -e "$SESS_SOCK" ]; then
	echo "not ok - sessiond: its control socket $SESS_SOCK is left after SIGTERM"
	rm -f "$SESS_SOCK"
	failed=$((failed + 1))
else
	echo "ok - sessiond: its control socket removed on SIGTERM"
	passed=$((passed + 1))
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
	"$RUN/forwarder.log" "$RUN/classifier.log" "$RUN/sessiond.log" \
	$( [ -f "$RUN/router.log" ] && echo "$RUN/router.log"); then
	echo "not ok - sanitizers: reports in the forwarder, classifier or sessiond log"
	grep -hE -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		"$RUN/forwarder.log" "$RUN/classifier.log" "$RUN/sessiond.log" \
		$( [ -f "$RUN/router.log" ] && echo "$RUN/router.log") | head -60
	failed=$((failed + 1))
else
	echo "ok - sanitizers: no reports in the forwarder, classifier or sessiond log"
	passed=$((passed + 1))
fi
if [ "$failed" -ne 0 ]; then
	tails
fi
echo "pkt: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
