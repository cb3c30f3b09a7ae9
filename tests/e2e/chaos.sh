#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/e2e/chaos.sh: the chaos suite of issue 12 (`make chaos`; `make
# test` runs CHAOS_SHORT=1).  Needs root, the build in build/ (or
# $HALB_BUILD) and hugepages.  Under the shared lock when run by hand:
#   flock /tmp/halb-rig.lock tests/e2e/chaos.sh
#
# The rig: tests/e2e/topo.sh's namespaces with one appliance run by
# halb-had (forwarder, classifier, halb-healthd; as tests/e2e/had.sh), the
# three backends with an HTTP server (backend_http.py) and a halb-agent
# each (a check every CHAOS_AGENT_INTERVAL_MS, 100 ms, down after
# CHAOS_AGENT_FALL, 3, failures: with 2 the Python servers, slow now and
# then on 2 busy cores, flapped, and a backend found down loses its
# established connections by design, down_flows = "reset").  The load
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
# until no request of the load is older than 1 s (at most
# CHAOS_KA_TIMEOUT_S + 2: stalled requests end one way or the other),
# and the verdict of
# tests/e2e/chaos.py from halb-had's status socket (polled every 20 ms by
# `chaos.py watch`), halb-healthd's, and the load's events:
#   forwarder, classifier, healthd   (had detects and restarts)
#   had        KILL: restarted 1 s later as systemd would (RestartSec=1s),
#              it adopts the parts; STOP: resumed after CHAOS_HANG_S (3)
#   backend    the HTTP server of the backend with the most keep-alive
#              connections; healthd takes it out; resumed (STOP) or
#              restarted (KILL) after the case
#   appliance  had and every part at once; KILL: had restarted 1 s later;
#              STOP: nothing in a one-appliance rig sees it; after
#              CHAOS_HANG_S the whole is killed and had restarted
# sessiond and BIRD have no case yet: this rig has neither under had.
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
AGENT_FALL=${CHAOS_AGENT_FALL:-3}
HANG_S=${CHAOS_HANG_S:-3}
ALL_CASES="classifier:KILL classifier:STOP healthd:KILL healthd:STOP had:KILL had:STOP \
forwarder:KILL forwarder:STOP backend:STOP backend:KILL appliance:KILL appliance:STOP"
SHORT_CASES="classifier:STOP healthd:KILL had:KILL"
if [ "${CHAOS_SHORT:-0}" = 1 ]; then
	CASES=${CHAOS_CASES:-$SHORT_CASES}
else
	CASES=${CHAOS_CASES:-$ALL_CASES}
fi
HAD=${HAD_BIN:-$HALB_BUILD/ha/halb-had}
CONF_SRC=${HALB_CONF:-$HALB_TOP/conf/halb.conf}
URLS="http://198.18.2.100/ http://198.18.2.101/ http://198.18.2.102/ http://[fd00:68:2::100]/ http://[fd00:68:2::101]/ http://[fd00:68:2::102]/"
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
halb_check_binaries healthload/halb-healthd healthload/halb-agent ha/halb-had
halb_check_hugepages
[ -r "$CONF_SRC" ] || halb_die "$CONF_SRC is missing"

P=hc$$
FP=halb_hc$$
WORK=$(mktemp -d /tmp/halb-chaos.XXXXXX)
CONF=$WORK/halb.conf
RESULTS=$WORK/results.jsonl
EVENTS=$WORK/load.events
WATCH=$WORK/watch.jsonl
CTL=$WORK/load.ctl
TOPO=0
HAD_PID=
LOAD_PID=
WATCH_PID=
STATUS=1
declare -A PART_PIDS BACK_PID

# Continue, then kill, every pid we may have stopped or that had started.
cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	remember 2>/dev/null
	for pid in $(hb_pids); do PART_PIDS[$pid]=part; done
	for pid in "${!PART_PIDS[@]}" $HAD_PID "${BACK_PID[@]}"; do
		running "$pid" && kill -s CONT "$pid" 2>/dev/null
	done
	[ -n "$LOAD_PID" ] && halb_stop "$LOAD_PID" TERM 5 2>/dev/null
	[ -n "$WATCH_PID" ] && halb_stop "$WATCH_PID" TERM 5 2>/dev/null
	if [ -n "$HAD_PID" ] && running "$HAD_PID"; then halb_stop "$HAD_PID" TERM 30 2>/dev/null; fi
	halb_stop_all
	for pid in "${!PART_PIDS[@]}"; do
		if running "$pid" && grep -qs halb- "/proc/$pid/cmdline"; then
			kill -s KILL "$pid" 2>/dev/null
		fi
	done
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	halb_remove_dpdk_files "$FP"
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

die() {
	echo "chaos: error: $*" >&2
	local f
	for f in had1 had$HAD_RUNS load watch; do
		[ -s "$WORK/$f.log" ] && { echo "    --- last 10 lines of $f.log:"; tail -n 10 "$WORK/$f.log" | sed 's/^/    | /'; }
	done
	exit 1
}
now() { date +%s.%N; }
running() { [ -e "/proc/$1" ] && ! grep -qs '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }
hb_pids() {
	"$HALB_PYTHON" -S -c '
import struct, sys
for p in ("forwarder", "classifier", "healthd", "sessiond"):
    try:
        print(struct.unpack_from("<i", open("/run/halb/%s/%s.hb" % (sys.argv[1], p), "rb").read(), 32)[0])
    except Exception:
        pass
' "$FP"
}
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
' "$WORK/had.sock" 2>/dev/null
}
part_field() { status | awk -v p="$1" -v n="$2" '$1 == p { print $n; exit }'; }
remember() {
	local part pid
	for part in forwarder classifier healthd; do
		pid=$(part_field "$part" 3)
		[[ $pid =~ ^[0-9]+$ ]] && PART_PIDS[$pid]=$part
	done
	return 0
}
all_up() {
	local s
	s=$(status) || return 1
	[ "$(echo "$s" | awk '$1 ~ /^(forwarder|classifier|healthd)$/ && $2 == "up"' | wc -l)" -eq 3 ] || return 1
	remember
}
up_anew() {
	local l
	l=$(status | awk -v p="$1" '$1 == p { print $2, $3; exit }')
	[ "${l%% *}" = up ] && [ "${l#* }" != "$2" ]
}
HAD_RUNS=0
start_had() {
	HAD_RUNS=$((HAD_RUNS + 1))
	halb_spawn "$WORK/had$HAD_RUNS.log" ip netns exec "$P-lb" "$HAD" -c "$CONF"
	HAD_PID=$HALB_LAST_PID
}
start_backend() {
	rm -f "$WORK/backend-$1.pid"
	halb_spawn "$WORK/backend-$1.log" ip netns exec "$P-$1" \
		"$HALB_PYTHON" "$HALB_E2E_DIR/backend_http.py" "$1" --pid-file "$WORK/backend-$1.pid"
	BACK_PID[$1]=$HALB_LAST_PID
	halb_wait_until 10 test -s "$WORK/backend-$1.pid"
}
# Every service of every backend is up in healthd's view.
backend_up() {
	local out
	local b out
	out=$(halb_ctl "$P" "$CONF" health json 2>/dev/null) || return 1
	for b in $HALB_BACKENDS; do
		[ "$(echo "$out" | grep -E "\"backend\": ?\"\\[?(198.18.0.1${b#b}|fd00:68::1${b#b})\\]?:" |
			grep -cE '"state": ?"up"')" -eq 6 ] || return 1
	done
}
load_cmd() { echo "$*" >"$CTL"; }
# The load is steady: every keep-alive connection established.
load_steady() {
	rm -f "$WORK/dump.json"
	load_cmd "dump $WORK/dump.json"
	halb_wait_until 2 test -s "$WORK/dump.json" || return 1
	"$HALB_PYTHON" -S -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["ka"]["established"] == d["ka"]["conns"] else 1)' "$WORK/dump.json"
}
# No request of the load waits for more than 1 s.
load_quiet() {
	rm -f "$WORK/dump.json"
	load_cmd "dump $WORK/dump.json"
	halb_wait_until 2 test -s "$WORK/dump.json" || return 1
	"$HALB_PYTHON" -S -c '
import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["ka"]["oldest_pending_s"] < 1 else 1)' "$WORK/dump.json"
}
# New connections of the last 2 s all answered.
new_ok_lately() {
	local t
	t=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n - 2 }')
	"$HALB_PYTHON" "$HALB_E2E_DIR/load.py" report "$EVENTS" --from "$t" |
		"$HALB_PYTHON" -S -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if d["new_attempted"] > 0 and d["new_failed"] == 0 else 1)'
}
steady() { all_up && backend_up && load_steady && new_ok_lately; }

echo "chaos: rig $P, DPDK file prefix $FP, binaries from $HALB_BUILD, work dir $WORK"
echo "chaos: cases: $CASES"

# --- configuration (as tests/e2e/had.sh) -------------------------------------
B=$HALB_BUILD
sed -E -e 's/^([[:space:]]*file_prefix[[:space:]]*=[[:space:]]*)"[^"]*"/\1"'"$FP"'"/' \
	-e 's/^([[:space:]]*handler_timeout_ms[[:space:]]*=[[:space:]]*[0-9]+;)/\1 socket = "'"${WORK//\//\\/}"'\/cls.health"; status_socket = "'"${WORK//\//\\/}"'\/healthd.sock"; state_file = "'"${WORK//\//\\/}"'\/operator";/' \
	"$CONF_SRC" >"$CONF"
cat >>"$CONF" <<EOF

# halb-had (tests/e2e/chaos.sh): this build's programs.
ha = {
  status_socket = "$WORK/had.sock";
  forwarder = { command = [ "$B/forwarder/halb-forwarder", "-c", "$CONF" ]; };
  classifier = { command = [ "$B/classifier/halb-classifier", "-c", "$CONF" ]; };
  healthd = { command = [ "$B/healthload/halb-healthd", "-c", "$CONF" ]; };
};
EOF
chmod 600 "$CONF"
[ "$(halb_conf_file_prefix "$CONF")" = "$FP" ] && grep -q "status_socket = \"$WORK/healthd.sock\"" "$CONF" ||
	die "could not set file_prefix and the health sockets in a copy of $CONF_SRC"
out=$("$HAD" --check-config "$CONF" 2>&1) || die "halb-had --check-config: $out"
halb_write_agent_confs "$CONF" "$WORK" "$AGENT_INTERVAL_MS" "$AGENT_FALL" 2>"$WORK/why.txt" || die "the agents' files: $(cat "$WORK/why.txt")"

# --- the rig --------------------------------------------------------------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || die "topo.sh up $P"
for b in $HALB_BACKENDS; do start_backend "$b" || die "backend $b did not start"; done
halb_start_agents "$P" "$WORK" 2>"$WORK/why.txt" || die "$(cat "$WORK/why.txt")"
start_had
halb_wait_until 40 all_up || die "had did not bring every part up within 40 s: $(status | tr '\n' '|')"
halb_wait_until 20 halb_client "$P" --url http://198.18.2.100/ --count 1 --timeout 1 >/dev/null 2>&1 ||
	die "no answer through http://198.18.2.100/ within 20 s"

halb_spawn "$WORK/watch.log" "$HALB_PYTHON" "$HALB_E2E_DIR/chaos.py" watch --had "lb=$WORK/had.sock" \
	--healthd "lb=$WORK/healthd.sock" --out "$WATCH"
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
# run_case PART SIGNAL: one fault, judged.
run_case() {
	local part=$1 sig=$2 kind=part pid= t_fault t_end note="" pids p
	case $part in
	had) kind=had ;;
	appliance) kind=appliance ;;
	backend) kind=backend ;;
	esac
	halb_wait_until 30 steady || { echo "chaos: $part $sig: the rig is not steady within 30 s; skipped"; \
		echo "{\"part\": \"$part\", \"signal\": \"$sig\", \"kind\": \"$kind\", \"detect_ms\": null, \"recover_ms\": null, \"est\": 0, \"est_broken\": 0, \"broken_by_backend\": {}, \"broken_by_reason\": {}, \"new\": 0, \"new_failed\": 0, \"new_window_ms\": null, \"new_failed_by_reason\": {}, \"stall_ms\": 0, \"note\": \"rig not steady: not run\", \"est_goal\": \"-\", \"est_ok\": false, \"new_goal\": \"-\", \"new_ok\": false, \"detect_goal\": \"-\", \"detect_ok\": false}" >>"$RESULTS"; return; }
	sleep 1
	case $kind in
	part) pid=$(part_field "$part" 3) ;;
	had) pid=$HAD_PID ;;
	backend) pick_victim; pid=${BACK_PID[$VICTIM]} ;;
	appliance)
		remember
		pids="$HAD_PID $(part_field forwarder 3) $(part_field classifier 3) $(part_field healthd 3)" ;;
	esac
	t_fault=$(now)
	load_cmd "mark $part-$sig"
	case $kind in
	part)
		kill -s "$sig" "$pid"
		if ! halb_wait_until 40 up_anew "$part" "$pid"; then
			note="not restarted within 40 s"
			[ "$sig" = STOP ] && kill -s CONT "$pid" 2>/dev/null
		fi
		;;
	had)
		kill -s "$sig" "$pid"
		if [ "$sig" = KILL ]; then
			{ halb_reap "$pid"; } 2>/dev/null
			sleep 1   # systemd's RestartSec
			start_had
			note="restarted 1 s after the kill (systemd RestartSec)"
		else
			sleep "$HANG_S"
			kill -s CONT "$pid"
			note="nothing in the rig watches had (no systemd watchdog): continued after ${HANG_S} s"
		fi
		halb_wait_until 30 all_up || note="$note; not all up again within 30 s"
		;;
	appliance)
		# shellcheck disable=SC2086
		kill -s "$sig" $pids
		if [ "$sig" = STOP ]; then
			sleep "$HANG_S"
			# shellcheck disable=SC2086
			kill -s KILL $pids
			note="one appliance: nothing sees the hang; killed after ${HANG_S} s, had restarted 1 s later"
		else
			note="had restarted 1 s after the kill (systemd RestartSec)"
		fi
		{ halb_reap "$HAD_PID"; } 2>/dev/null
		sleep 1
		start_had
		halb_wait_until 40 all_up || note="$note; not all up again within 40 s"
		;;
	backend)
		kill -s "$sig" "$pid"
		;;
	esac
	sleep "$SETTLE_S"
	halb_wait_until "$KA_TIMEOUT_S" load_quiet || note="${note:+$note; }requests still pending at the end"
	t_end=$(now)
	load_cmd "mark $part-$sig-end"
	"$HALB_PYTHON" "$HALB_E2E_DIR/chaos.py" case --watch "$WATCH" --events "$EVENTS" --kind "$kind" \
		--part "$part" --signal "$sig" --fault "$t_fault" --end "$t_end" ${pid:+--old-pid "$pid"} \
		--backend "$VICTIM" --backend-addr "$VICTIM_ADDRS" --note "$note" \
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

for c in $CASES; do
	run_case "${c%%:*}" "${c#*:}"
done

halb_stop "$LOAD_PID" TERM 10
LOAD_PID=
halb_stop "$WATCH_PID" TERM 5
WATCH_PID=
echo
echo "chaos: $(date -u +%FT%TZ), one appliance under halb-had; sessiond and BIRD: not in this rig (no case)"
"$HALB_PYTHON" "$HALB_E2E_DIR/chaos.py" table "$RESULTS"
STATUS=$?
[ -n "${CHAOS_MARKDOWN:-}" ] && "$HALB_PYTHON" "$HALB_E2E_DIR/chaos.py" table --markdown "$RESULTS" >"$CHAOS_MARKDOWN"
if grep -qE 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:' "$WORK"/had*.log 2>/dev/null; then
	echo "chaos: a sanitizer report in had's log"
	STATUS=1
fi
exit "$STATUS"
