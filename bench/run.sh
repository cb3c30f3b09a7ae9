#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/run.sh [--quick]: halb's benchmark suite (issue 3), what `make
# bench` runs.  Every figure is measured in this run and every headline is
# a ratio of two figures measured minutes apart on the same machine: this
# machine is shared and noisy, so absolute numbers drift.
#
#   1. fast path: halb-bench-gen sends 60-byte TCP ACKs (64 on the wire) of
#      N installed flows over net_memif to one forwarder worker and counts
#      what comes back, for dsr, nat and tunnel at N = 1k, 100k, 1M, beside
#      the bare loop (halb-bench-gen bare: receive, swap MACs, send) on the
#      same device and core.  BENCH_REPS rounds (default 3), each round
#      bare, dsr, nat, tunnel back to back (in an order that turns);
#      medians over the rounds, and the bare loop's over all its runs.
#   2. instructions per packet of fwd_worker_burst() for a hit, under
#      valgrind's callgrind (halb-bench-fastpath, no devices).
#   3. new connections: (a) the classifier's decide-and-install path on
#      one core (halb-bench-decide); (b) end to end: SYNs of distinct
#      5-tuples through forwarder and classifier.
#   4. flow-table scale: memory per flow, and the fast path with 10M
#      installed flows against 1k (back to back); Maglev build time,
#      memory and disruption for 10, 100, 1000 backends (halb-bench-tables).
#   5. peers: bench/peers.sh (maintained separately), when it is there.
#   6. session sync: records replicated per second on one core through
#      two sync engines back to back, and sync bytes per session
#      (halb-bench-sync: IPv4, IPv6, IPv4 with 5% of batches lost).
#   7. session replica (issue 10; no DPDK: one process, CPU 1): the
#      replica's bytes per session at 1M and 10M sessions (filled by
#      halb-sessiond's write path), and the cycles a replica lookup adds
#      to the classifier's mid-connection miss, replica hit and no record
#      against no replica (halb-bench-replica; a few seconds).
#   8. request parser (issue 14; no DPDK: one process, CPU 1): requests
#      parsed per second by l7_parse, HTTP and TLS, in one segment and
#      split, and l7_match over 32 rules (halb-bench-l7req; a second).
#   9. remote classifier (issue 11; no DPDK: one process, CPU 1): new
#      connections per second through the remote classification
#      protocol and decision, both ends on one core (halb-bench-remote:
#      320k SYNs in sealed batches of 16, one batch per round trip and 8
#      in flight; 5 runs of each, alternated).
#  10. request routing end to end (issue 14): bench/peers.sh --requests,
#      halb-router against HAProxy `mode http` and nginx `http` with the
#      same Host/path rules, requests/s on keep-alive and on new
#      connections (wrk; like item 5, not in --quick, BENCH_PEERS=0 skips).
#  11. SYN flood against a request-routed VIP (issue 14): halb-bench-gen
#      syn (distinct 5-tuples, never an ACK) at its full rate into the
#      memif rig with halb-router attached; cookie SYN-ACKs per second,
#      and the forwarder's flow count and the router's gauges (binding,
#      flows, bindings) before and after, which must not grow.
#  12. bindings per second (issue 14): the rig of item 11 (the
#      classifier stopped: it has nothing to do), halb-bench-gen bind
#      playing client and backend (SYN, request on the cookie's ACK,
#      SYN-ACK for the router's SYN); bindings whose request reached the
#      backend, per second, and the worker's and the router's busy
#      cycles per binding there; then each part's own cost apart on one
#      core (halb-bench-bind, CPU 1): cycles per binding and bindings
#      per CPU-second of the worker and of the router.
#   ovs: Open vSwitch-DPDK in the worker's place in item 1's rounds
#      (bench/ovs_gen.sh: ovs-stateless like dsr, ovs-ctnat like nat).
#
# Placement (2 CPUs): forwarder main lcore and the generator on CPU 0,
# the worker (or the bare loop) on CPU 1.  The classifier runs on CPU 0
# while flows are installed and is stopped (cleanly) before a fast-path
# measurement, which needs nothing from it; in the end-to-end SYN test it
# runs on CPU 0 with the generator, which sleeps while its window is full.
#
# --quick (or QUICK=1): one figure, dsr at 1k flows against the bare loop.
# Environment: HALB_BUILD (default build/), BENCH_REPS, BENCH_ONLY (a
# comma list of fast, callgrind, decide, syn, tables, scale, peers, ovs, sync,
# replica, l7req, remote, l7peers, l7flood, l7bind: only those; ovs runs by default when ovs-vswitchd-dpdk is installed, and
# is installed when named), BENCH_PEERS=0 to skip item 5, BENCH_10M=0 to
# skip the 10M-flow run (and the 10M replica), BENCH_KEEP=1 to keep the run directory,
# BENCH_RTR_CPU (0) the CPU of halb-router in items 10, 11 and 12,
# BENCH_L7BIND_CLS=1 to keep the classifier running in item 12,
# BENCH_BIND_RUNS (5) the runs of halb-bench-bind in item 12.
#
# Writes bench/results/latest.md and latest.json (bench/report.py; with
# --quick, quick.md and quick.json) and prints the table.  Every process
# it starts is stopped by its PID; DPDK files of its file prefixes, memif
# sockets and, if it raised them, the hugepage reservation are restored
# on every exit path.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
BUILD=${HALB_BUILD:-$TOP/build}
QUICK=${QUICK:-0}
REPS=${BENCH_REPS:-3}
PEERS=${BENCH_PEERS:-1}
TEN_M=${BENCH_10M:-1}
ONLY=${BENCH_ONLY:-fast,callgrind,decide,syn,tables,scale,peers,ovs,sync,replica,l7req,remote,l7peers,l7flood,l7bind}
[ "${1:-}" = --quick ] && QUICK=1
[ "$QUICK" = 1 ] && REPS=1

FWD_BIN=$BUILD/forwarder/halb-forwarder
CLS_BIN=$BUILD/classifier/halb-classifier
GEN_BIN=$BUILD/bench/halb-bench-gen
FP_BIN=$BUILD/bench/halb-bench-fastpath
DEC_BIN=$BUILD/bench/halb-bench-decide
TAB_BIN=$BUILD/bench/halb-bench-tables
MF_BIN=$BUILD/bench/halb-bench-memfloor
SYNC_BIN=$BUILD/bench/halb-bench-sync
REP_BIN=$BUILD/bench/halb-bench-replica
L7_BIN=$BUILD/bench/halb-bench-l7req
RCLS_BIN=$BUILD/bench/halb-bench-remote
RTR_BIN=$BUILD/router/halb-router
BIND_BIN=$BUILD/bench/halb-bench-bind
CTL_BIN=$BUILD/tools/halbctl
RESULTS=$HERE/results

# Addresses of bench/bench.conf.
DUT_MAC=02:68:b0:00:00:02
GEN_MAC=02:68:b0:00:00:01
declare -A VIP=([dsr]=198.18.2.100 [nat]=198.18.2.101 [tunnel]=198.18.2.102)

HP_SYS=/sys/kernel/mm/hugepages/hugepages-2048kB
HP_RAISED_FROM=""
RUN=""
PIDS=()         # everything started, as "PID:NAME"
PREFIXES=()     # DPDK file prefixes used
SEQ=0

want() { [[ ",$ONLY," == *",$1,"* ]]; }
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# stop_pid PID NAME: TERM, up to 10 s, then KILL; only while /proc says it
# still runs NAME (never a recycled PID).  Reaps it.
stop_pid() {
	local pid=$1 name=$2 i cmd
	[ -n "$pid" ] || return 0
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")
	if alive "$pid" && [[ $cmd == *"$name"* ]]; then
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 100); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			log "$name ($pid) ignored SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	forget "$pid"
	return 0
}

forget() {
	local i
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[i]%%:*}" = "$1" ] && unset 'PIDS[i]'
	done
	PIDS=("${PIDS[@]}")
}

# spawn NAME LOG CMD...: background CMD, output to LOG; sets LAST_PID.
spawn() {
	local name=$1 logf=$2
	shift 2
	"$@" >"$logf" 2>&1 </dev/null &
	LAST_PID=$!
	PIDS+=("$LAST_PID:$name")
}

dpdk_files_rm() {
	local p=$1
	rm -f /dev/hugepages/"$p"map_* 2>/dev/null
	rm -rf "/var/run/dpdk/$p" "/run/halb/$p"
}

cleanup() {
	local rc=$? i p
	trap - EXIT INT TERM HUP
	declare -F ovs_gen_cleanup >/dev/null && ovs_gen_cleanup
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		p=${PIDS[i]}
		stop_pid "${p%%:*}" "${p#*:}"
	done
	for p in "${PREFIXES[@]}"; do
		dpdk_files_rm "$p"
	done
	if [ -n "$HP_RAISED_FROM" ]; then
		echo "$HP_RAISED_FROM" >"$HP_SYS/nr_hugepages" 2>/dev/null &&
			log "hugepages: back to $HP_RAISED_FROM"
	fi
	if [ -n "$RUN" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then
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

[ "$(id -u)" -eq 0 ] || die "must run as root (hugepages, DPDK): sudo $0"
for b in "$FWD_BIN" "$CLS_BIN" "$GEN_BIN" "$FP_BIN" "$DEC_BIN" "$TAB_BIN" "$MF_BIN" "$SYNC_BIN" "$REP_BIN" "$BIND_BIN"; do
	[ -x "$b" ] || die "missing $b (build first: make build, or HALB_BUILD=...)"
done
command -v python3 >/dev/null || die "python3 is needed for the report"
[ "$(nproc)" -ge 2 ] || die "the generator and the worker need 2 CPUs"

RUN=$(mktemp -d /tmp/halb-bench.XXXXXX)
RES=$RUN/results.jsonl
: >"$RES"
mkdir -p "$RESULTS"

# hugepages_for PAGES: makes sure PAGES 2 MB pages are free, raising the
# reservation if needed (restored at exit).
hugepages_for() {
	local need=$1 free nr
	free=$(cat "$HP_SYS/free_hugepages")
	[ "$free" -ge "$need" ] && return 0
	nr=$(cat "$HP_SYS/nr_hugepages")
	[ -n "$HP_RAISED_FROM" ] || HP_RAISED_FROM=$nr
	log "hugepages: $free free, $need needed: reserving $((nr + need - free))"
	echo $((nr + need - free)) >"$HP_SYS/nr_hugepages" 2>/dev/null
	free=$(cat "$HP_SYS/free_hugepages")
	[ "$free" -ge "$need" ] || {
		log "hugepages: only $free free"
		return 1
	}
}

# wait_for TIMEOUT_S CMD...: poll CMD every 0.1 s.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

grep_alive() { grep -q "$1" "$2" 2>/dev/null || ! alive "$3"; }

new_prefix() {
	SEQ=$((SEQ + 1))
	PREFIX=hbench$$-$SEQ-$1
	PREFIXES+=("$PREFIX")
}

# render ENTRIES IDLE: a configuration of bench/bench.conf for a new
# forwarder; sets CONF, SOCK, PREFIX.
render() {
	new_prefix fwd
	SOCK=$RUN/$PREFIX.sock
	CONF=$RUN/$PREFIX.conf
	sed -e "s#@PREFIX@#$PREFIX#" -e "s#@SOCK@#$SOCK#" -e "s#@ENTRIES@#$1#" \
		-e "s#@IDLE@#$2#" "$HERE/bench.conf" >"$CONF"
}

entries_for() {
	local n=$(($1 + $1 / 64))
	[ "$n" -lt 1024 ] && n=1024
	echo "$n"
}

start_fwd() {
	local logf=$RUN/$PREFIX.fwd.log
	rm -f "$SOCK"
	spawn halb-forwarder "$logf" "$FWD_BIN" -c "$CONF"
	FWD_PID=$LAST_PID
	if ! wait_for 120 grep_alive 'halb-forwarder: ready' "$logf" "$FWD_PID" ||
		! grep -q 'halb-forwarder: ready' "$logf"; then
		tail -5 "$logf" >&2
		return 1
	fi
}

start_cls() {
	local logf=$RUN/$PREFIX.cls.log
	spawn halb-classifier "$logf" taskset -c 0 "$CLS_BIN" -c "$CONF"
	CLS_PID=$LAST_PID
	if ! wait_for 60 grep_alive 'halb-classifier: ready' "$logf" "$CLS_PID" ||
		! grep -q 'halb-classifier: ready' "$logf"; then
		tail -5 "$logf" >&2
		return 1
	fi
}

# gen_eal PREFIX SOCK: EAL arguments of a memif client on CPU 0.
gen_eal() {
	echo "-l 0 --file-prefix $1 --no-pci --huge-unlink --log-level=lib.eal:notice" \
		"--vdev=net_memif0,role=client,id=0,socket=$2,socket-abstract=no,mac=$GEN_MAC"
}

# record TEST TARGET FLOWS REP FILE: appends FILE's RESULT line, labelled.
record() {
	local r
	r=$(grep -m1 '^RESULT ' "$5" | cut -c8-)
	if [ -z "$r" ]; then
		log "$1 $2 $3: no result"
		grep -v '^EAL\|^TELEMETRY' "$5" | tail -5 >&2
		printf '{"test": "%s", "target": "%s", "flows": %s, "rep": %s, "error": true}\n' \
			"$1" "$2" "$3" "$4" >>"$RES"
		return 1
	fi
	printf '{"test": "%s", "target": "%s", "flows": %s, "rep": %s, "r": %s}\n' \
		"$1" "$2" "$3" "$4" "$r" >>"$RES"
}

# fast_lb MODE FLOWS REP [TEST]: forwarder + classifier, install FLOWS,
# stop the classifier, measure.
fast_lb() {
	local mode=$1 n=$2 rep=$3 test=${4:-fast} out gp go warm_s rc=0
	render "$(entries_for "$n")" 0
	start_fwd || { log "forwarder did not start"; return 1; }
	start_cls || { log "classifier did not start"; stop_pid "$FWD_PID" halb-forwarder; return 1; }
	out=$RUN/$PREFIX.gen.out
	go=$RUN/$PREFIX.go
	local gp_prefix=${PREFIX/fwd/gen}
	PREFIXES+=("$gp_prefix")
	# shellcheck disable=SC2046 # word splitting of the EAL arguments
	spawn halb-bench-gen "$out" "$GEN_BIN" $(gen_eal "$gp_prefix" "$SOCK") -- fast \
		--flows "$n" --vip "${VIP[$mode]}" --dst-mac "$DUT_MAC" --warm --expect-flows \
		--window 900 --backoff-us 100 --dut-prefix "$PREFIX" --go-file "$go" --linger \
		--dut-pid "$FWD_PID" --dut-thread rte-worker-1 \
		--windows "$WINDOWS" --max-windows "${MAXW:-$MAX_WINDOWS}" --window-ms "$WINDOW_MS"
	gp=$LAST_PID
	warm_s=$((60 + n / 25000))
	if wait_for "$warm_s" grep_alive '^gen: warm$' "$out" "$gp" && grep -q '^gen: warm$' "$out"; then
		grep '^gen: warm-up' "$out" | sed 's/^gen: /  /' >&2
		stop_pid "$CLS_PID" halb-classifier
		touch "$go"
		wait_for 60 grep_alive '^RESULT ' "$out" "$gp"
	else
		log "$mode $n: warm-up did not finish in $warm_s s"
		rc=1
	fi
	stop_pid "$CLS_PID" halb-classifier
	# The forwarder first: a memif peer that leaves while the other side
	# polls can crash it; the generator lingers without polling.
	stop_pid "$FWD_PID" halb-forwarder
	stop_pid "$gp" halb-bench-gen
	dpdk_files_rm "$PREFIX"
	dpdk_files_rm "$gp_prefix"
	record "$test" "$mode" "$n" "$rep" "$out" || rc=1
	return $rc
}

# fast_bare FLOWS REP: the bare loop on CPU 1 in the worker's place.
fast_bare() {
	local n=$1 rep=$2 out bp gp bare_prefix gen_prefix rc=0
	new_prefix bare
	bare_prefix=$PREFIX
	new_prefix gen
	gen_prefix=$PREFIX
	SOCK=$RUN/$bare_prefix.sock
	rm -f "$SOCK"
	spawn halb-bench-gen "$RUN/$bare_prefix.log" "$GEN_BIN" -l 1 --file-prefix "$bare_prefix" \
		--no-pci --huge-unlink --log-level=lib.eal:notice \
		"--vdev=net_memif0,role=server,id=0,socket=$SOCK,socket-abstract=no,mac=$DUT_MAC" -- bare
	bp=$LAST_PID
	bare_ready() { [ -S "$SOCK" ] && grep -q 'gen: bare ready' "$RUN/$bare_prefix.log"; }
	if ! wait_for 60 bare_ready; then
		log "bare loop did not start"
		tail -5 "$RUN/$bare_prefix.log" >&2
		stop_pid "$bp" halb-bench-gen
		return 1
	fi
	out=$RUN/$gen_prefix.out
	# shellcheck disable=SC2046
	spawn halb-bench-gen "$out" "$GEN_BIN" $(gen_eal "$gen_prefix" "$SOCK") -- fast \
		--flows "$n" --dst-mac "$DUT_MAC" --dut-prefix "$bare_prefix" \
		--dut-cmd /bench/bare --dut-pid "$bp" --linger \
		--windows "$WINDOWS" --max-windows "$MAX_WINDOWS" --window-ms "$WINDOW_MS"
	gp=$LAST_PID
	wait_for 90 grep_alive '^RESULT ' "$out" "$gp" || rc=1
	stop_pid "$bp" halb-bench-gen
	stop_pid "$gp" halb-bench-gen
	dpdk_files_rm "$bare_prefix"
	dpdk_files_rm "$gen_prefix"
	record fast bare "$n" "$rep" "$out" || rc=1
	return $rc
}

# fast_ovs CONFIG FLOWS REP: Open vSwitch-DPDK in the worker's place.
# shellcheck source=bench/ovs_gen.sh
. "$HERE/ovs_gen.sh"

# syn_e2e FLOWS: new connections end to end.
syn_e2e() {
	local n=$1 out gp gen_prefix
	render "$(entries_for "$n")" 0
	start_fwd || { log "forwarder did not start"; return 1; }
	start_cls || { log "classifier did not start"; stop_pid "$FWD_PID" halb-forwarder; return 1; }
	gen_prefix=${PREFIX/fwd/gen}
	PREFIXES+=("$gen_prefix")
	out=$RUN/$gen_prefix.out
	# shellcheck disable=SC2046
	spawn halb-bench-gen "$out" "$GEN_BIN" $(gen_eal "$gen_prefix" "$SOCK") -- syn \
		--flows "$n" --vip "${VIP[dsr]}" --dst-mac "$DUT_MAC" --window 900 \
		--backoff-us 100 --dut-prefix "$PREFIX" --linger --dut-pid "$CLS_PID" \
		--windows "$WINDOWS" --max-windows "$MAX_WINDOWS" --window-ms "$WINDOW_MS"
	gp=$LAST_PID
	wait_for 120 grep_alive '^RESULT ' "$out" "$gp"
	stop_pid "$CLS_PID" halb-classifier
	stop_pid "$FWD_PID" halb-forwarder
	stop_pid "$gp" halb-bench-gen
	dpdk_files_rm "$PREFIX"
	dpdk_files_rm "$gen_prefix"
	record syn_e2e dsr "$n" 1 "$out"
}

# l7_conf FILE: adds item 11's request-routed service (198.18.2.103:80,
# default pool web) to a rendered bench.conf, with the generator as the
# port's gateway.
l7_conf() {
	python3 - "$1" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
i = t.rindex("\n);")
svc = """,
  { name = "l7"; vip = "198.18.2.103"; port = 80; protocol = "tcp";
    mode = "nat"; scheduler = "maglev";
    requests = { rules = ( { host = "api.example.com"; pool = "api"; } );
                 default_pool = "web"; };
    backends = ( { ip = "198.18.0.11"; port = 8081; pool = "api"; },
                 { ip = "198.18.0.12"; port = 8081; pool = "web"; } ); }"""
t = t[:i] + svc + t[i:]
# The cookie SYN-ACKs go to the client's next hop: the generator, as
# the gateway of the port (bench.conf has no route to the clients).
a1 = 'ipv4 = "198.18.0.2/24";'
a2 = '{ ip = "198.18.0.14"; mac = "02:68:b0:00:01:0e"; } );'
assert a1 in t and a2 in t, "bench.conf changed: l7_flood cannot add its gateway"
t = t.replace(a1, a1 + ' gateway4 = "198.18.0.254";', 1)
t = t.replace(a2, a2[:-3] + ',\n  { ip = "198.18.0.254"; mac = "02:68:b0:00:00:01"; } );', 1)
open(p, "w").write(t)
PY
}

# l7_flood FLOWS: a SYN flood at the generator's full rate against a
# request-routed VIP (198.18.2.103, added to this run's copy of bench.conf
# only: a request-routed service adds a lookup to every miss of the
# other items; with the generator as the port's gateway, a static
# neighbour, so that the SYN-ACKs come back), with halb-router attached.  The worker answers each SYN
# with a cookie SYN-ACK, which the generator counts as a frame back; the
# forwarder's /halb/status and the router's /halb/router are read before
# and after, into one result line.
#
# l7_flood FLOWS bind: the same rig, halb-bench-gen bind: the generator
# plays client and backend (docs/PERFORMANCE.md); bindings per second,
# as "l7bind".
l7_flood() {
	local n=$1 gmode=${2:-syn} test=l7flood out gp='' gen_prefix rlog rc=0 dpid dthr
	[ "$gmode" = bind ] && test=l7bind
	# Bound flows stay (the generator never closes): a table for all.
	if [ "$gmode" = bind ]; then render "$(entries_for "$n")" 0; else render 1024 0; fi
	l7_conf "$CONF" || { log "l7flood: cannot add the service"; return 1; }
	start_fwd || { log "forwarder did not start"; return 1; }
	start_cls || { log "classifier did not start"; stop_pid "$FWD_PID" halb-forwarder; return 1; }
	rlog=$RUN/$PREFIX.rtr.log
	spawn halb-router "$rlog" taskset -c "${BENCH_RTR_CPU:-0}" "$RTR_BIN" -c "$CONF"
	RTR_PID=$LAST_PID
	if ! wait_for 60 grep_alive 'halb-router: ready' "$rlog" "$RTR_PID" ||
		! grep -q 'halb-router: ready' "$rlog"; then
		log "l7flood: halb-router did not attach"
		tail -5 "$rlog" >&2
		rc=1
	fi
	gen_prefix=${PREFIX/fwd/gen}
	PREFIXES+=("$gen_prefix")
	out=$RUN/$gen_prefix.out
	: >"$out"
	# Binding: the classifier has nothing to do (a request-routed
	# service's packets never reach it), and its busy poll would take
	# CPU 0 from the generator and the router: stopped, cleanly, as
	# item 1 does (BENCH_L7BIND_CLS=1 keeps it, as runs before did).
	if [ "$rc" = 0 ] && [ "$gmode" = bind ] && [ "${BENCH_L7BIND_CLS:-0}" != 1 ]; then
		stop_pid "$CLS_PID" halb-classifier
	fi
	if [ "$rc" = 0 ]; then
		"$CTL_BIN" -c "$CONF" json /halb/status >"$RUN/$test.status0" 2>&1
		"$CTL_BIN" -c "$CONF" json /halb/router >"$RUN/$test.router0" 2>&1
		# The DUT whose counters and CPU share are read: the worker (the
		# router's loop is an unnamed thread of its own, not told apart).
		dpid=$FWD_PID dthr=rte-worker-1
		# shellcheck disable=SC2046
		spawn halb-bench-gen "$out" "$GEN_BIN" $(gen_eal "$gen_prefix" "$SOCK") -- "$gmode" \
			--flows "$n" --vip 198.18.2.103 --dst-mac "$DUT_MAC" --window 900 \
			--backoff-us 100 --dut-prefix "$PREFIX" --linger --dut-pid "$dpid" \
			--dut-thread "$dthr" \
			--windows "$WINDOWS" --max-windows "$MAX_WINDOWS" --window-ms "$WINDOW_MS"
		gp=$LAST_PID
		wait_for 120 grep_alive '^RESULT ' "$out" "$gp" || rc=1
		"$CTL_BIN" -c "$CONF" json /halb/status >"$RUN/$test.status1" 2>&1
		"$CTL_BIN" -c "$CONF" json /halb/router >"$RUN/$test.router1" 2>&1
	fi
	stop_pid "$RTR_PID" halb-router
	stop_pid "$CLS_PID" halb-classifier
	stop_pid "$FWD_PID" halb-forwarder
	[ -n "$gp" ] && stop_pid "$gp" halb-bench-gen
	dpdk_files_rm "$PREFIX"
	dpdk_files_rm "$gen_prefix"
	python3 - "$RUN" "$out" "$n" "$test" >>"$RES" <<'PY' || { log "$test: no result"; rc=1; }
import json, sys
run, out, n, test = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def js(name, key):
    try:
        return json.load(open("%s/%s.%s" % (run, test, name)))[key]
    except (OSError, ValueError, KeyError):
        return None
r = None
for line in open(out, errors="replace"):
    if line.startswith("RESULT "):
        r = json.loads(line[7:])
        break
e = {"test": test, "flows": n, "r": r,
     "status": [js("status0", "/halb/status"), js("status1", "/halb/status")],
     "router": [js("router0", "/halb/router"), js("router1", "/halb/router")]}
if r is None:
    e["error"] = True
print(json.dumps(e))
PY
	return $rc
}

# l7_parts: what a binding costs the worker and halb-router apart
# (halb-bench-bind: both parts' own code on one core, CPU 1, no devices,
# the players of item 12 in the same thread), BENCH_BIND_RUNS runs (5)
# of 300k bindings, 512 outstanding; as "l7bindparts".
l7_parts() {
	local i out rc=0
	render "$(entries_for 300000)" 0
	l7_conf "$CONF" || { log "l7bindparts: cannot add the service"; return 1; }
	for i in $(seq "${BENCH_BIND_RUNS:-5}"); do
		out=$RUN/$PREFIX.parts$i.out
		taskset -c 1 "$BIND_BIN" -l 0 --no-huge -m 512 --no-pci \
			--file-prefix "$PREFIX" --vdev=net_ring0 --no-telemetry \
			--log-level=lib.eal:error -- --config "$CONF" --vip 198.18.2.103 \
			--flows 512 --bindings 300000 >"$out" 2>&1 || rc=1
		dpdk_files_rm "$PREFIX"
		grep '^RESULT ' "$out" | cut -c8- |
			sed "s/^/{\"test\": \"l7bindparts\", \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"r\": /; s/\$/}/" >>"$RES"
	done
	return $rc
}

# callgrind MODE: instructions per packet of fwd_worker_burst (hits).
callgrind() {
	local mode=$1 out cg ir pk
	render 1024 0
	out=$RUN/$PREFIX.cg.log
	cg=$RUN/$PREFIX.callgrind
	valgrind --tool=callgrind --callgrind-out-file="$cg" --collect-atstart=no \
		--toggle-collect=fwd_worker_burst "$FP_BIN" -l 0 --no-huge -m 128 --no-pci \
		--file-prefix "$PREFIX" --vdev=net_null0 --no-telemetry --log-level=lib.eal:error \
		-- --config "$CONF" --vip "${VIP[$mode]}" --flows 1000 --bursts 1000 >"$out" 2>&1
	dpdk_files_rm "$PREFIX"
	ir=$(awk '/^totals:/ {print $2}' "$cg" 2>/dev/null)
	pk=$(grep -m1 '^RESULT ' "$out" | sed 's/.*"packets": \([0-9]*\).*/\1/')
	if [ -z "$ir" ] || [ -z "$pk" ]; then
		log "callgrind $mode: no result"
		tail -5 "$out" >&2
		return 1
	fi
	printf '{"test": "callgrind", "target": "%s", "flows": 1000, "rep": 1, "r": {"instructions": %s, "packets": %s}}\n' \
		"$mode" "$ir" "$pk" >>"$RES"
	# The same harness natively: cycles per packet without I/O.
	"$FP_BIN" -l 1 --no-huge -m 128 --no-pci --file-prefix "$PREFIX" --vdev=net_null0 \
		--no-telemetry --log-level=lib.eal:error -- --config "$CONF" \
		--vip "${VIP[$mode]}" --flows 1000 --bursts 200000 >"$out" 2>&1
	dpdk_files_rm "$PREFIX"
	record harness "$mode" 1000 1 "$out"
}

# harness_scale FLOWS: halb-bench-fastpath natively on CPU 1 (hugepages),
# a table sized for FLOWS, 9.6M packets.
harness_scale() {
	local n=$1 out
	render "$(entries_for "$n")" 0
	out=$RUN/$PREFIX.harness.out
	taskset -c 1 "$FP_BIN" -l 1 --no-pci --file-prefix "$PREFIX" --huge-unlink \
		--vdev=net_null0 --no-telemetry --log-level=lib.eal:error -- --config "$CONF" \
		--vip "${VIP[dsr]}" --flows "$n" --bursts 300000 >"$out" 2>&1
	dpdk_files_rm "$PREFIX"
	record harness_scale dsr "$n" 1 "$out"
}

machine() {
	printf '{"test": "machine", "cpu": "%s", "cpus": %s, "kernel": "%s", "dpdk": "%s", "date": "%s", "load": "%s", "quick": %s, "reps": %s}\n' \
		"$(lscpu | sed -n 's/^Model name: *//p' | head -1)" "$(nproc)" "$(uname -r)" \
		"$(pkg-config --modversion libdpdk 2>/dev/null || echo '?')" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
		"$QUICK" "$REPS" >>"$RES"
}

t_start=$SECONDS
machine
hugepages_for 128 || die "not enough hugepages (scripts/hugepages.sh)"

# Each run measures until WINDOWS windows were clean (both threads kept
# their CPU), at most MAX_WINDOWS.
MAX_WINDOWS=12
if [ "$QUICK" = 1 ]; then
	WINDOWS=4
	WINDOW_MS=300
	log "quick: dsr at 1k flows against the bare loop"
	fast_bare 1000 1
	fast_lb dsr 1000 1
else
	WINDOWS=4
	WINDOW_MS=300
	# ---- 1. fast path ----
	# The order turns from round to round, so that whatever drifts over
	# a minute (the host, the neighbours) does not always favour the same
	# target.  OVS's two configurations join the rounds (bench/ovs_gen.sh).
	order=(bare dsr nat tunnel)
	want fast || order=(bare)
	want ovs && ovs_gen_ready && order+=(ovs-stateless ovs-ctnat)
	[ ${#order[@]} -gt 1 ] || REPS=0
	for rep in $(seq "$REPS"); do
		for n in 1000 100000 1000000; do
			hugepages_for $((64 + n / 20000)) || die "not enough hugepages"
			log "fast path, round $rep/$REPS, $n flows: ${order[*]}"
			for t in "${order[@]}"; do
				if [ "$t" = bare ]; then
					fast_bare "$n" "$rep"
				elif [[ $t == ovs-* ]]; then
					fast_ovs "${t#ovs-}" "$n" "$rep"
				else
					fast_lb "$t" "$n" "$rep"
				fi
			done
			order=("${order[@]:1}" "${order[0]}")
		done
	done
	# ---- 2. instructions per packet ----
	if ! want callgrind; then
		:
	elif command -v valgrind >/dev/null; then
		for mode in dsr nat tunnel; do
			log "callgrind: $mode"
			callgrind "$mode"
		done
	else
		log "valgrind not installed: no instruction counts (apt-get install valgrind)"
	fi
	# ---- 3. new connections ----
	if want decide; then
		log "new connections: decide-and-install on CPU 1 (1M distinct SYNs)"
		render 1024 0
		hugepages_for 96 || die "not enough hugepages"
		"$DEC_BIN" -l 1 --file-prefix "$PREFIX" --no-pci --huge-unlink --no-telemetry \
			--log-level=lib.eal:error -- --config "$CONF" --flows 1000000 --rounds 7 \
			>"$RUN/decide.out" 2>&1
		dpdk_files_rm "$PREFIX"
		record decide dsr 1000000 1 "$RUN/decide.out"
	fi
	if want syn; then
		log "new connections: end to end"
		hugepages_for 200 || die "not enough hugepages"
		syn_e2e 2000000
	fi
	# ---- 4. flow-table scale ----
	if want tables; then
		"$TAB_BIN" >"$RUN/tables.out" 2>&1
		grep '^RESULT ' "$RUN/tables.out" | cut -c8- |
			sed 's/^/{"test": "tables", "r": /; s/$/}/' >>"$RES"
	fi
	if [ "$TEN_M" = 1 ] && want scale; then
		# 10M flows: ~920 MB of flow table, plus mbufs and the generator.
		if hugepages_for 560; then
			# One 10M run (its warm-up is long), between two 1k runs;
			# each measures longer to find clean windows.
			log "scale: dsr with 1k flows, 10M, 1k again"
			MAXW=30 fast_lb dsr 1000 1 scale
			MAXW=30 fast_lb dsr 10000000 1 scale
			MAXW=30 fast_lb dsr 1000 2 scale
			# The burst function alone (no I/O, one thread: little
			# noise), 1k flows in a 1k table and 10M in a 10M table.
			for n in 1000 10000000; do
				harness_scale "$n"
			done
			# The memory floor of a hit, without halb (bench/memfloor.c).
			log "scale: the memory floor of a hit"
			taskset -c 1 "$MF_BIN" >"$RUN/memfloor.out" 2>&1 ||
				log "memfloor failed: $(tail -n 1 "$RUN/memfloor.out")"
			grep '^RESULT ' "$RUN/memfloor.out" | cut -c8- |
				sed 's/^/{"test": "memfloor", "r": /; s/$/}/' >>"$RES"
		else
			log "scale: skipped, hugepages"
		fi
	fi
	# ---- 6. session sync (no DPDK: one process, CPU 1) ----
	if want sync; then
		log "session sync: two engines back to back"
		taskset -c 1 "$SYNC_BIN" >"$RUN/sync.out" 2>&1 ||
			log "sync failed: $(tail -n 1 "$RUN/sync.out")"
		grep '^RESULT ' "$RUN/sync.out" | cut -c8- |
			sed 's/^/{"test": "sync", "r": /; s/$/}/' >>"$RES"
	fi
	# ---- 7. session replica (no DPDK: one process, CPU 1) ----
	if want replica; then
		sizes=1000000,10000000
		[ "$TEN_M" = 1 ] || sizes=1000000
		log "session replica: bytes per session ($sizes), the classifier's miss with and without it"
		render 1024 1000
		taskset -c 1 "$REP_BIN" -c "$CONF" --sizes "$sizes" >"$RUN/replica.out" 2>&1 ||
			log "replica failed: $(tail -n 1 "$RUN/replica.out")"
		grep '^RESULT ' "$RUN/replica.out" | cut -c8- |
			sed 's/^/{"test": "replica", "r": /; s/$/}/' >>"$RES"
	fi
	# ---- 11. SYN flood against a request-routed VIP ----
	if want l7flood; then
		log "SYN flood against a request-routed VIP (2M SYNs)"
		l7_flood 2000000 || log "l7flood failed"
	fi
	# ---- 12. bindings per second (the generator as client and backend) ----
	if want l7bind; then
		log "request routing: bindings per second (1.5M connections)"
		hugepages_for 250 || die "not enough hugepages"
		l7_flood 1500000 bind || log "l7bind failed"
		log "request routing: cycles per binding of the worker and the router apart (halb-bench-bind)"
		l7_parts || log "l7bindparts failed"
	fi
	# ---- 8. request parser (no DPDK: one process, CPU 1) ----
	if want l7req; then
		log "request parser: l7_parse and l7_match"
		taskset -c 1 "$L7_BIN" >"$RUN/l7req.out" 2>&1 ||
			log "l7req failed: $(tail -n 1 "$RUN/l7req.out")"
		grep '^RESULT ' "$RUN/l7req.out" | cut -c8- |
			sed 's/^/{"test": "l7req", "r": /; s/$/}/' >>"$RES"
	fi
	# ---- 9. remote classifier (no DPDK: one process, CPU 1) ----
	if want remote; then
		log "remote classifier: protocol and decision on one core, 1 and 8 batches in flight"
		for i in 1 2 3 4 5; do
			for depth in 1 8; do
				taskset -c 1 "$RCLS_BIN" "$TOP/conf/halb.conf" 320000 "$depth" \
					>>"$RUN/remote.out" 2>&1 ||
					log "remote failed: $(tail -n 1 "$RUN/remote.out")"
			done
		done
		grep '^RESULT ' "$RUN/remote.out" | cut -c8- |
			sed 's/^/{"test": "remote", "r": /; s/$/}/' >>"$RES"
	fi
fi

# ---- 5. peers (bench/peers.sh, maintained separately) ----
# Contract: bench/peers.sh [--quick] prints a markdown table on stdout and
# writes bench/results/peers.json; the report appends both as they are.
PEERS_MD=$RUN/peers.md
PEERS_JSON=$RUN/none.json
: >"$PEERS_MD"
if [ "$QUICK" != 1 ] && [ "$PEERS" = 1 ] && want peers && [ -x "$HERE/peers.sh" ]; then
	log "peers: bench/peers.sh"
	"$HERE/peers.sh" >"$PEERS_MD" || log "peers: bench/peers.sh exited with $?"
	PEERS_JSON=$RESULTS/peers.json
elif [ "$QUICK" != 1 ]; then
	log "peers: skipped (bench/peers.sh missing or BENCH_PEERS=0)"
fi
# ---- 10. request routing against HAProxy and nginx (bench/peers.sh --requests) ----
L7P_MD=$RUN/peers-requests.md
L7P_JSON=$RUN/none.json
: >"$L7P_MD"
if [ "$QUICK" != 1 ] && [ "$PEERS" = 1 ] && want l7peers && [ -x "$HERE/peers.sh" ]; then
	log "request routing: bench/peers.sh --requests"
	"$HERE/peers.sh" --requests >"$L7P_MD" || log "request routing: bench/peers.sh --requests exited with $?"
	L7P_JSON=$RESULTS/peers-requests.json
fi

machine
log "done in $((SECONDS - t_start)) s"
# The quick figure does not replace the full table.
OUT=latest
[ "$QUICK" = 1 ] && OUT=quick
python3 "$HERE/report.py" --results "$RES" --peers-md "$PEERS_MD" \
	--peers-json "$PEERS_JSON" --l7peers-md "$L7P_MD" --l7peers-json "$L7P_JSON" --out-md "$RESULTS/$OUT.md" \
	--out-json "$RESULTS/$OUT.json"
