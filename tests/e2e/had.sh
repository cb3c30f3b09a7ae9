#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# End-to-end test of halb-had, the HA daemon (docs/RELIABILITY.md), in the
# namespace rig of tests/e2e/topo.sh; run by `make test` after e2e.sh and
# health.sh; needs root, the build in build/ (or $HALB_BUILD) and
# hugepages.  Under the shared lock when tried by hand:
#   flock /tmp/halb-rig.lock tests/e2e/had.sh
#
# halb-had runs alone in the appliance's namespace on a copy of
# conf/halb.conf (file_prefix, sockets and state file of its own, and an
# ha { } section whose commands are this build's programs); an agent and
# an HTTP server run on each backend.  Checks:
#   1. had starts the forwarder, then the classifier once the forwarder
#      is ready, and halb-healthd; `halbctl status` shows all three up;
#      traffic flows through every IPv4 service;
#   2. under a keep-alive connection per IPv4 service: kill -9 the
#      classifier: had sees the exit, restarts it, new connections are
#      served; SIGSTOP the classifier: had finds it hung within its
#      heartbeat timeout (250 ms) and a poll, kills and restarts it; no
#      established connection breaks;
#   3. kill -9 the forwarder: had kills the classifier (it lived in the
#      forwarder's memory), restarts the forwarder and then the
#      classifier; traffic flows again; the same for a SIGSTOPped
#      forwarder, found hung within its timeout;
#   4. kill -9 had: the parts keep running and traffic flows; a new had
#      adopts all three (same pids, none started);
#   5. SIGTERM had: it stops healthd, the classifier and the forwarder,
#      in that order, and exits 0.
# Prints each detection and recovery time, PASS/FAIL per check and
# "had: N passed, M failed"; exits non-zero on any failure.  Every exit
# path stops what it started: had (TERM, which stops the parts), then any
# part pid had reported that still runs, then the rig.  About 45 s.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOLD_SECONDS=${HAD_HOLD_SECONDS:-10}
# HAD_BIN: another halb-had (e.g. the sanitizer build's), the parts from
# HALB_BUILD.
HAD=${HAD_BIN:-$HALB_BUILD/ha/halb-had}
NEW_N=${HAD_NEW_N:-60}
CONF_SRC=${HALB_CONF:-$HALB_TOP/conf/halb.conf}

halb_require_root
halb_check_binaries healthload/halb-healthd healthload/halb-agent ha/halb-had
halb_check_hugepages
[ -r "$CONF_SRC" ] || halb_die "$CONF_SRC is missing"

P=hx$$
FP=halb_hx$$
WORK=$(mktemp -d /tmp/halb-had.XXXXXX)
CONF=$WORK/halb.conf
TOPO=0
HAD_PID=
declare -A PART_PIDS   # every pid had reported for a part: "pid" -> part

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	# Every part pid had may have started since we last looked: from its
	# status and from the heartbeat files.
	remember 2>/dev/null
	for pid in $(hb_pids); do PART_PIDS[$pid]=part; done
	# had first: SIGTERM stops its parts, one at a time.
	[ -n "$HAD_PID" ] && halb_stop "$HAD_PID" TERM 30 2>/dev/null
	halb_stop_all
	for pid in "${!PART_PIDS[@]}"; do
		if running "$pid" && grep -qs halb- "/proc/$pid/cmdline"; then
			kill -s KILL "$pid" 2>/dev/null
		fi
	done
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	halb_remove_dpdk_files "$FP"
	if [ "${HAD_KEEP_LOGS:-0}" = 1 ] && [ "$FAILED" -gt 0 ]; then
		echo "had: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "had: interrupted" >&2; exit 130' INT
trap 'echo "had: terminated" >&2; exit 143' TERM

HALB_LOG_TAIL=25
halb_checks had had had2
TIMES=()
# timing WHAT DETECTED RECOVERED: one line of the summary.
timing() { TIMES+=("$(printf '%-20s %14s %24s' "$1" "$2" "$3")"); }
halb_checks_notes() {
	local t
	if [ "${#TIMES[@]}" -gt 0 ]; then
		printf 'had: %-20s %14s %24s\n' failure "detected (ms)" "fault to ready (ms)"
		for t in "${TIMES[@]}"; do echo "had: $t"; done
	fi
}

ms_now() { date +%s%3N; }
# The pids in this rig's heartbeat files (struct halb_hb: pid at byte 32).
hb_pids() {
	"$HALB_PYTHON" -S -c '
import struct, sys
for p in ("forwarder", "classifier", "healthd"):
    try:
        print(struct.unpack_from("<i", open("/run/halb/%s/%s.hb" % (sys.argv[1], p), "rb").read(), 32)[0])
    except Exception:
        pass
' "$FP"
}
# PID runs (a zombie does not: this rig's pid 1 may not reap the orphans
# of a killed had).
running() { [ -e "/proc/$1" ] && ! grep -qs '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }
# had's table straight from its socket: `halbctl status` also asks the
# forwarder, which does not answer while it is stopped.
status() {
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
' "$WORK/had.sock" 2>/dev/null
}
# part_field PART N: field N of PART's line in had's table (2 state,
# 3 pid, 4 beat_ms, 5 restarts, 6 fails, 7 recovery_ms).
part_field() { status | awk -v p="$1" -v n="$2" '$1 == p { print $n; exit }'; }
part_line() { status | awk -v p="$1" '$1 == p { print; exit }'; }
remember() {
	local part pid
	for part in forwarder classifier healthd; do
		pid=$(part_field "$part" 3)
		[[ $pid =~ ^[0-9]+$ ]] && PART_PIDS[$pid]=$part
	done
	return 0
}
all_up() {
	local part
	for part in forwarder classifier healthd; do
		[ "$(part_field "$part" 2)" = up ] || return 1
	done
	remember
}
# wait_ms TIMEOUT_MS CMD...: polls CMD every 20 ms; prints the ms it took;
# returns 1 on timeout.
wait_ms() {
	local timeout=$1 t0 now
	shift
	t0=$(ms_now)
	while :; do
		if "$@"; then
			echo $(($(ms_now) - t0))
			return 0
		fi
		now=$(ms_now)
		[ $((now - t0)) -ge "$timeout" ] && return 1
		sleep 0.02
	done
}
# The part runs, ready, under another pid than $2.
up_anew() {
	local l
	l=$(part_line "$1")
	[ "$(echo "$l" | awk '{ print $2 }')" = up ] && [ "$(echo "$l" | awk '{ print $3 }')" != "$2" ]
}
# had no longer takes the part for up with pid $2.
not_up_as() {
	local l
	l=$(part_line "$1")
	[ "$(echo "$l" | awk '{ print $2 }')" != up ] || [ "$(echo "$l" | awk '{ print $3 }')" != "$2" ]
}
new_conns() {
	local url out
	for url in http://198.18.2.100/ http://198.18.2.101/ http://198.18.2.102/; do
		out=$(halb_client "$P" --url "$url" --count "$NEW_N" --parallel 4 --timeout 3 --max-failures 8 2>&1) ||
			{ echo "$url: $out"; return 1; }
	done
}

echo "had: rig $P, DPDK file prefix $FP, binaries from $HALB_BUILD, work dir $WORK"

# --- configuration --------------------------------------------------------
B=$HALB_BUILD
sed -E -e 's/^([[:space:]]*file_prefix[[:space:]]*=[[:space:]]*)"[^"]*"/\1"'"$FP"'"/' \
	-e 's/^([[:space:]]*handler_timeout_ms[[:space:]]*=[[:space:]]*[0-9]+;)/\1 socket = "'"${WORK//\//\\/}"'\/cls.health"; status_socket = "'"${WORK//\//\\/}"'\/healthd.sock"; state_file = "'"${WORK//\//\\/}"'\/operator";/' \
	"$CONF_SRC" >"$CONF"
cat >>"$CONF" <<EOF

# halb-had (tests/e2e/had.sh): this build's programs.
ha = {
  status_socket = "$WORK/had.sock";
  forwarder = { command = [ "$B/forwarder/halb-forwarder", "-c", "$CONF" ]; };
  classifier = { command = [ "$B/classifier/halb-classifier", "-c", "$CONF" ]; };
  healthd = { command = [ "$B/healthload/halb-healthd", "-c", "$CONF" ]; };
};
EOF
chmod 600 "$CONF"  # it holds keys
[ "$(halb_conf_file_prefix "$CONF")" = "$FP" ] && grep -q "status_socket = \"$WORK/healthd.sock\"" "$CONF" ||
	fatal "could not set file_prefix and the health sockets in a copy of $CONF_SRC"
if out=$("$HAD" --check-config "$CONF" 2>&1); then
	pass "halb-had --check-config accepts the configuration"
else
	fatal "halb-had --check-config rejects the configuration: $out"
fi
halb_write_agent_confs "$CONF" "$WORK" 500 2 2>"$WORK/why.txt" || fatal "the agents' files: $(cat "$WORK/why.txt")"

# --- 1. had brings the appliance up -----------------------------------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || fatal "topo.sh up $P"
halb_start_backends "$P" "$WORK" || fatal "the backends' HTTP servers did not start"
halb_start_agents "$P" "$WORK" 2>"$WORK/why.txt" || fatal "$(cat "$WORK/why.txt")"

t0=$(ms_now)
halb_spawn "$WORK/had.log" ip netns exec "$P-lb" "$HAD" -c "$CONF"
HAD_PID=$HALB_LAST_PID
halb_wait_until 40 all_up || fatal "had did not bring every part up within 40 s: $(status | tr '\n' '|')"
pass "had brought forwarder, classifier and healthd up in $(($(ms_now) - t0)) ms"
fwd_start=$(grep -n 'forwarder: ready' "$WORK/had.log" | head -n 1 | cut -d: -f1)
cls_start=$(grep -n 'classifier: started' "$WORK/had.log" | head -n 1 | cut -d: -f1)
if [ -n "$fwd_start" ] && [ -n "$cls_start" ] && [ "$fwd_start" -lt "$cls_start" ]; then
	pass "the classifier was started after the forwarder's heartbeat said ready"
else
	fail "start order: forwarder ready at log line ${fwd_start:-none}, classifier started at ${cls_start:-none}"
fi
halb_wait_until 20 halb_client "$P" --url http://198.18.2.100/ --count 1 --timeout 1 >/dev/null 2>&1 ||
	fatal "no answer through http://198.18.2.100/ within 20 s"
if out=$(new_conns); then
	pass "traffic: $NEW_N new connections answered on each IPv4 service"
else
	fail "traffic: $out"
fi

# --- 2. the classifier dies, then hangs, under established connections ------
declare -A HOLD_PID
for url in http://198.18.2.100/ http://198.18.2.101/ http://198.18.2.102/; do
	halb_spawn "$WORK/hold-${url:18:1}.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
		--url "$url" --keepalive-hold "$HOLD_SECONDS" --timeout 3
	HOLD_PID[$url]=$HALB_LAST_PID
done
holds_connected() { [ "$(cat "$WORK"/hold-*.out 2>/dev/null | grep -c '^connected')" -eq 3 ]; }
halb_wait_until 10 holds_connected || fail "keep-alive connections did not all get a first answer within 10 s"

cls=$(part_field classifier 3)
t_kill=$(ms_now)
kill -s KILL "$cls"
if det=$(wait_ms 3000 not_up_as classifier "$cls") && rec=$(wait_ms 30000 up_anew classifier "$cls"); then
	remember
	timing "kill -9 classifier" "$det" "$(($(ms_now) - t_kill))"
	pass "kill -9 classifier: detected within ${det} ms, up again (pid $(part_field classifier 3)) $(($(ms_now) - t_kill)) ms after the kill (had: $(part_field classifier 7) ms from detection to ready)"
else
	fail "kill -9 classifier: not detected and restarted: $(part_line classifier)"
fi
if out=$(new_conns); then
	pass "traffic after the classifier's restart: $NEW_N new connections on each IPv4 service"
else
	fail "traffic after the classifier's restart: $out"
fi

cls=$(part_field classifier 3)
t_kill=$(ms_now)
kill -s STOP "$cls"
if det=$(wait_ms 3000 not_up_as classifier "$cls") && rec=$(wait_ms 30000 up_anew classifier "$cls"); then
	remember
	hung=$(grep -o 'hung: no heartbeat for [0-9]* ms' "$WORK/had.log" | tail -n 1)
	timing "SIGSTOP classifier" "$det" "$(($(ms_now) - t_kill))"
	if [ -n "$hung" ] && ! running "$cls"; then
		pass "SIGSTOP classifier: detected as hung within ${det} ms of the stop ($hung), killed, up again $(($(ms_now) - t_kill)) ms after the stop (had: $(part_field classifier 7) ms from detection to ready)"
	else
		fail "SIGSTOP classifier: restarted, but had's log says no hang ('$hung') or pid $cls lives"
	fi
	if [ "$det" -le 400 ]; then
		pass "hung classifier detected in ${det} ms (heartbeat timeout 250 ms, polled every 20 ms; 400 ms allowed for this test's own polling)"
	else
		fail "hung classifier detected in ${det} ms: more than 400"
	fi
else
	kill -s CONT "$cls" 2>/dev/null
	fail "SIGSTOP classifier: not detected and restarted: $(part_line classifier)"
fi
for url in "${!HOLD_PID[@]}"; do
	halb_wait_exit "${HOLD_PID[$url]}" $((HOLD_SECONDS + 10))
	rc=$?
	summary=$(grep '^{' "$WORK/hold-${url:18:1}.out" || echo "(no summary)")
	if [ "$rc" -eq 0 ]; then
		pass "$url: the established connection survived both classifier failures: $summary"
	else
		fail "$url: the established connection broke (client status $rc): $summary"
	fi
done

# --- 3. the forwarder dies ---------------------------------------------------
fwd=$(part_field forwarder 3)
cls=$(part_field classifier 3)
t_kill=$(ms_now)
kill -s KILL "$fwd"
if det=$(wait_ms 3000 not_up_as forwarder "$fwd") &&
	wait_ms 40000 up_anew forwarder "$fwd" >/dev/null && wait_ms 40000 up_anew classifier "$cls" >/dev/null; then
	t_up=$(($(ms_now) - t_kill))
	timing "kill -9 forwarder" "$det" "$t_up"
	remember
	if ! running "$cls"; then
		pass "kill -9 forwarder: detected within ${det} ms; classifier killed and both up again $t_up ms after the kill (had: forwarder $(part_field forwarder 7) ms, classifier $(part_field classifier 7) ms from detection to ready)"
	else
		fail "kill -9 forwarder: the old classifier (pid $cls) still runs"
	fi
else
	fatal "kill -9 forwarder: not restarted: $(status | tr '\n' '|')"
fi
t0=$(ms_now)
if halb_wait_until 20 halb_client "$P" --url http://198.18.2.100/ --count 1 --timeout 1 >/dev/null 2>&1 &&
	out=$(new_conns); then
	pass "traffic again after the forwarder's restart (first answer $(($(ms_now) - t0)) ms after both were up, then $NEW_N new connections per IPv4 service)"
else
	fail "traffic after the forwarder's restart: ${out:-no first answer within 20 s}"
fi

# A stopped forwarder: hung, killed, restarted with the classifier.
fwd=$(part_field forwarder 3)
cls=$(part_field classifier 3)
t_kill=$(ms_now)
kill -s STOP "$fwd"
if det=$(wait_ms 3000 not_up_as forwarder "$fwd") &&
	wait_ms 40000 up_anew forwarder "$fwd" >/dev/null && wait_ms 40000 up_anew classifier "$cls" >/dev/null; then
	t_up=$(($(ms_now) - t_kill))
	timing "SIGSTOP forwarder" "$det" "$t_up"
	remember
	hung=$(grep -o 'forwarder: failed: hung: no heartbeat for [0-9]* ms' "$WORK/had.log" | tail -n 1)
	if [ -n "$hung" ] && ! running "$fwd" && ! running "$cls" && [ "$det" -le 400 ]; then
		pass "SIGSTOP forwarder: detected as hung within ${det} ms (${hung#forwarder: failed: }), killed with the classifier, both up again $t_up ms after the stop"
	else
		fail "SIGSTOP forwarder: detected in ${det} ms ('$hung'); old forwarder running: $(running "$fwd" && echo yes || echo no), old classifier: $(running "$cls" && echo yes || echo no)"
	fi
else
	kill -s CONT "$fwd" 2>/dev/null
	fatal "SIGSTOP forwarder: not restarted: $(status | tr '\n' '|')"
fi
if halb_wait_until 20 halb_client "$P" --url http://198.18.2.100/ --count 1 --timeout 1 >/dev/null 2>&1 &&
	out=$(new_conns); then
	pass "traffic again after the hung forwarder's restart"
else
	fail "traffic after the hung forwarder's restart: ${out:-no first answer within 20 s}"
fi

# --- 4. had dies: the parts go on, a new had adopts them ---------------------
before=""
for part in forwarder classifier healthd; do before="$before $(part_field "$part" 3)"; done
{ halb_stop "$HAD_PID" KILL 5; } 2>/dev/null  # no "Killed" from bash
sleep 0.5
alive=1
for pid in $before; do halb_alive "$pid" || alive=0; done
if [ "$alive" = 1 ] && out=$(new_conns); then
	pass "kill -9 had: forwarder, classifier and healthd ($before ) keep running; $NEW_N new connections per IPv4 service answered"
else
	fail "kill -9 had: parts alive: $alive; traffic: ${out:-}"
fi
halb_spawn "$WORK/had2.log" ip netns exec "$P-lb" "$HAD" -c "$CONF"
HAD_PID=$HALB_LAST_PID
if halb_wait_until 10 all_up; then
	after=""
	for part in forwarder classifier healthd; do after="$after $(part_field "$part" 3)"; done
	adopted=$(grep -c 'adopted the running pid' "$WORK/had2.log")
	if [ "$after" = "$before" ] && [ "$adopted" -eq 3 ] && ! grep -q 'started, pid' "$WORK/had2.log"; then
		pass "a new had adopted the three running parts ($after ), started none"
	else
		fail "the new had: pids before '$before', after '$after', $adopted adopted: $(grep -E 'adopted|started' "$WORK/had2.log" | tr '\n' '|')"
	fi
else
	fail "the new had does not show every part up within 10 s: $(status | tr '\n' '|')"
fi
out=$(halb_ctl "$P" "$CONF" status 2>&1)
if echo "$out" | grep -q '^halb-had: pid' && echo "$out" | grep -Eq '^classifier +up .*\(adopted\)' &&
	echo "$out" | grep -q '^[[:space:]]*classifier: up'; then
	pass "halbctl status shows had's table, then the forwarder's status"
else
	fail "halbctl status: $out"
fi
echo "$out" | sed 's/^/    /'

# --- 5. SIGTERM: stopped in reverse order ------------------------------------
halb_stop "$HAD_PID" TERM 30
rc=$?
order=$(grep -oE '(forwarder|classifier|healthd): stopped' "$WORK/had2.log" | cut -d: -f1 | paste -sd' ')
gone=1
for pid in $after; do running "$pid" && gone=0; done
if [ "$rc" -eq 0 ] && [ "$order" = "healthd classifier forwarder" ] && [ "$gone" = 1 ]; then
	pass "SIGTERM: had stopped $order, in that order, and exited 0"
else
	fail "SIGTERM: exit status $rc, stop order '$order', all parts gone: $gone"
fi
if grep -qE 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:' "$WORK"/had*.log; then
	fail "a sanitizer report in had's log"
fi

finish
