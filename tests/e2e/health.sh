#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# End-to-end test of health and load (issue 4, docs/HEALTH.md) in network
# namespaces, run by `make test` after tests/e2e/e2e.sh; needs root, the
# build in build/ (or $HALB_BUILD) and hugepages.
#
# The rig of tests/e2e/topo.sh under a prefix of its own; the forwarder,
# the classifier and halb-healthd (on the appliance's management leg
# 198.18.0.3) on a copy of conf/halb.conf with a file_prefix and sockets of
# its own, weight_policy "least-load", the configured weights times 100 (so
# that a load can lower them) and a shorter handler_timeout_ms; on each
# backend host the HTTP server of tests/e2e/backend_http.py and a
# halb-agent reporting every INTERVAL_MS (500 ms), with an HTTP check of
# the local server per service (timeout one interval, fall 2: a Python
# server on 2 busy cores may miss one answer), and its load read from a
# fake /proc tree (halb-agent --proc-root, tests/e2e/health/fakeproc.py)
# whose CPU figure the test sets.  Each client run binds a source address
# of its own, so that no new connection reuses the 5-tuple of an earlier
# one (whose flow the forwarder may still hold).  Checks:
#   1. every backend is up, source agent, in `halbctl health` and in
#      `halbctl services`;
#   2. b1's HTTP server stops: within 3 report intervals b1 is down in
#      every service, 300 new connections get none on b1 while a keep-alive
#      connection to b2 or b3 made before keeps working; the server comes
#      back: so does b1, and it gets new connections again;
#   3. b1 reports 90 % CPU: its weight falls to what least-load computes
#      and its share of 1000 new connections follows (under half of its
#      normal share, within bounds of the weights);
#   4. `halb-agent --drain` on b2: a keep-alive connection to b2 works to
#      its end, new connections avoid b2; `--undrain` brings them back;
#   5. kill -9 halb-healthd under a loop of new connections: no failure;
#      the classifier counts and logs the silence only after
#      handler_timeout_ms; a restarted healthd lists every backend from
#      its agent within one report interval (and a small margin);
#   6. a forged report, replayed ones (a captured report of b1 down, sent
#      again later; a fresh one sent twice), a stale one and garbage, sent
#      from the client network to 198.18.0.3:7300: refused and counted by
#      reason, nothing changes;
#   7. the operator's decisions (halbctl, docs/HEALTH.md "Operator
#      decisions"): `halbctl drain web-dsr b3` under a keep-alive
#      connection to b3: it works to its end, new connections avoid b3,
#      b3 is draining from source operator in halbctl health and services
#      and in web-dsr only; kill -9 and restart halb-healthd, then the
#      classifier: b3 stays draining from the operator throughout (never
#      up in between, in healthd's log); `enable` gives b3 back to its
#      agent and it gets new connections; `disable` makes it down from
#      the operator, new connections avoid it; `weight` sets web-dsr's b3
#      weight and `weight ... config` undoes it; a backend that does not
#      exist is refused with exit status 1;
#   and at the end: the classifier never died, no sanitizer report in any
#   log.
# Prints PASS/FAIL per check and "health: N passed, M failed"; exits
# non-zero on any failure.  Every exit path stops the processes it started
# (by PID), removes the rig, the DPDK files of its prefix and its
# temporary directory (sockets, logs, fake /proc trees included);
# HEALTH_KEEP_LOGS=1 keeps the logs of a failed run.  Takes about 55 s.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INTERVAL_MS=${HEALTH_INTERVAL_MS:-500}        # the agents' report interval
HANDLER_TIMEOUT_MS=${HEALTH_HANDLER_TIMEOUT_MS:-1500}
# How much later than one interval a restarted healthd may have its cache:
# process start, the round trip of its report requests, one halbctl call.
RESTART_MARGIN_MS=${HEALTH_RESTART_MARGIN_MS:-400}
HIGH_CPU=${HEALTH_HIGH_CPU:-900}                # permille, check 3
SPREAD_N=${HEALTH_SPREAD_N:-1000}               # new connections, check 3
NEW_N=${HEALTH_NEW_N:-300}                      # new connections, checks 2, 4
# Client threads.  The rig shares 2 cores with everything else: more makes
# the backends' Python servers slow enough to fail their agents' checks.
PARALLEL=${HEALTH_PARALLEL:-4}
CONF_SRC=${HALB_CONF:-$HALB_TOP/conf/halb.conf}
HDIR=$HALB_E2E_DIR/health
HL_SEND=$HALB_TOP/tests/health/hl_send.py
DSR_URL=http://198.18.2.100/
# The tools import tests/health/hl.py: no __pycache__ in the tree.
export PYTHONDONTWRITEBYTECODE=1

halb_require_root
halb_check_binaries healthload/halb-healthd healthload/halb-agent
halb_check_hugepages
[ -r "$CONF_SRC" ] || halb_die "$CONF_SRC is missing"

P=hh$$
FP=halb_hh$$
# Unix socket paths must stay short (108 bytes): a short temporary dir.
WORK=$(mktemp -d /tmp/halb-health.XXXXXX)
CONF=$WORK/halb.conf
TOPO=0
FWD_PID=
CLS_PID=
HD_PID=
declare -A BACKEND_PID

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	halb_stop_all
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	halb_remove_dpdk_files "$FP"
	# HEALTH_KEEP_LOGS=1 keeps the logs of a failed run (sockets go anyway).
	if [ "${HEALTH_KEEP_LOGS:-0}" = 1 ] && [ "$FAILED" -gt 0 ]; then
		find "$WORK" -mindepth 1 ! -name '*.log' ! -name '*.out' ! -name '*.json' \
			! -name '*.conf' ! -name '*.txt' -exec rm -rf {} + 2>/dev/null
		echo "health: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "health: interrupted" >&2; exit 130' INT
trap 'echo "health: terminated" >&2; exit 143' TERM

HALB_LOG_TAIL=12
halb_checks health classifier classifier2 healthd healthd2 healthd3 agent-b1 agent-b2
halb_checks_notes() {
	# Timing checks cannot pass on a host that stops its processes for
	# seconds (other work on the same cores): say so.
	if [ "$FAILED" -gt 0 ] && [ -s "$WORK/stalls.txt" ]; then
		echo "health: note: this host gave the test's processes no CPU for up to $(awk '{ if ($3 > m) m = $3 } END { print m }' "$WORK/stalls.txt") ms, $(wc -l <"$WORK/stalls.txt") times (tests/e2e/health/fakeproc.py's ticks, $(head -n 1 "$WORK/stalls.txt" | cut -d' ' -f1) on); other load on these cores?"
	fi
}

# Milliseconds on a monotonic-enough clock (bash 5's EPOCHREALTIME).
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

# poll_ms TIMEOUT_MS CMD...: run CMD every 50 ms until it succeeds or
# TIMEOUT_MS have passed; POLL_MS is then the time from the call to the
# end of CMD's successful run (an upper bound of when it became true).
POLL_MS=0
poll_ms() {
	local timeout=$1 t0 now; shift
	t0=$(now_ms)
	while :; do
		if "$@"; then POLL_MS=$(($(now_ms) - t0)); return 0; fi
		now=$(now_ms)
		if [ $((now - t0)) -ge "$timeout" ]; then POLL_MS=$((now - t0)); return 1; fi
		sleep 0.05
	done
}

# watch_start NAME TIMEOUT_MS health|services FILTER/EXPECT...: hstate.py
# --watch-ms in the appliance's namespace, in the background, looking every
# 20 ms from before the caller acts; returns once it looks.  watch_end NAME
# SINCE_MS: waits for it; POLL_MS is then the time from SINCE_MS (now_ms)
# to when the state was seen; the mismatch, on a timeout, in
# $WORK/last-mismatch.
declare -A WATCH_PID
watch_start() {
	local name=$1 timeout=$2 what=$3
	shift 3
	local cmd=("$HALB_BUILD/tools/halbctl" -c "$CONF" services)
	[ "$what" = health ] && cmd=("$HALB_BUILD/tools/halbctl" -c "$CONF" health json)
	rm -f "$WORK/watch-$name.ready"
	halb_spawn "$WORK/watch-$name.out" ip netns exec "$P-lb" "$HALB_PYTHON" "$HDIR/hstate.py" "$what" "$@" \
		--watch-ms "$timeout" --since 0 --ready "$WORK/watch-$name.ready" -- "${cmd[@]}"
	WATCH_PID[$name]=$HALB_LAST_PID
	halb_wait_until 10 test -e "$WORK/watch-$name.ready"
}
watch_end() {
	local name=$1 since=$2 out rc
	halb_wait_exit "${WATCH_PID[$name]}" 30
	rc=$?
	out=$(tail -n 1 "$WORK/watch-$name.out")
	if [[ ${out%% *} =~ ^[0-9]+$ ]]; then POLL_MS=$(( ${out%% *} - since )); else POLL_MS=-1; fi
	[ "$rc" -eq 0 ] || echo "${out#* }" >"$WORK/last-mismatch"
	return "$rc"
}

ctl() { halb_ctl "$P" "$CONF" "$@"; }
hstate() { "$HALB_PYTHON" "$HDIR/hstate.py" "$@"; }
# health_is ARGS / services_is ARGS: hstate.py on a fresh answer; the
# mismatch, if any, in $WORK/last-mismatch.
health_is() { ctl health json 2>/dev/null | hstate health "$@" >"$WORK/last-mismatch"; }
services_is() { ctl services 2>/dev/null | hstate services "$@" >"$WORK/last-mismatch"; }
mismatch() { cat "$WORK/last-mismatch" 2>/dev/null; }

# Every client run binds a source address of its own (198.18.1.101-150 on
# the client's eth0, in turn): a batch of new connections never reuses the
# 5-tuple of an earlier batch's connection, whose flow entry the forwarder
# may still hold (and follow, to the old backend).
SRC_N=50
fresh_src() { SRC_I=$(( ${SRC_I:-0} % SRC_N + 1 )); SRC=198.18.1.$((100 + SRC_I)); }
# client ARGS...: client.py in the client namespace (foreground).
client() { fresh_src; halb_client "$P" --source "$SRC" "$@"; }
# by_backend JSON_FILE NAME: NAME's answers in a client summary.
by_backend() {
	"$HALB_PYTHON" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(r["by_backend"].get(sys.argv[2], 0))' "$1" "$2" 2>/dev/null || echo -1
}
# summary_ok JSON_FILE: every request answered, none failed.
summary_ok() {
	"$HALB_PYTHON" -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(0 if r["ok"] > 0 and r["failed"] == 0 else 1)' "$1" 2>/dev/null
}
# who_when LOG NAME SINCE_MS EARLIER_LOG...: when NAME's answers in a
# client --log were started (ms after SINCE_MS), and how many of them
# reused the local address and port of an earlier connection (the same
# 5-tuple).
who_when() {
	"$HALB_PYTHON" - "$@" <<'EOF'
import sys
log, name, since, earlier = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
rows = [l.split() for l in open(log)]
used = {tuple(l.split()[1:3]) for f in earlier for l in open(f)}
hit = [r for r in rows if r[3] == name]
ms = [int(r[0]) - since for r in hit]
print("%s answered %d, started %s ms after the state was seen (the batch: %d..%d ms); %d of them from a local address and port used before"
      % (name, len(hit), "%d..%d" % (min(ms), max(ms)) if ms else "-",
         int(rows[0][0]) - since, int(rows[-1][0]) - since, sum(1 for r in hit if tuple(r[1:3]) in used)))
EOF
}
summary() { grep '^{' "$1" 2>/dev/null | tail -n 1 || echo "(no summary)"; }

# hold_start NAME WANT: a keep-alive connection to web-dsr answered by one
# of WANT (b2,b3), held until $WORK/stop-NAME exists; HOLD_PID.
hold_start() {
	local name=$1 want=$2
	rm -f "$WORK/stop-$name"
	fresh_src
	halb_spawn "$WORK/hold-$name.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" --source "$SRC" \
		--url "$DSR_URL" --keepalive-hold 120 --want "$want" --stop-file "$WORK/stop-$name" --timeout 3
	HOLD_PID=$HALB_LAST_PID
	halb_wait_until 15 grep -q '^connected' "$WORK/hold-$name.out"
}
# hold_end NAME PID: ends the hold; its exit status.
hold_end() {
	touch "$WORK/stop-$1"
	halb_wait_exit "$2" 10
}

start_backend() {
	local b=$1
	rm -f "$WORK/backend-$b.pid"
	halb_spawn "$WORK/backend-$b.log" ip netns exec "$P-$b" \
		"$HALB_PYTHON" "$HALB_E2E_DIR/backend_http.py" "$b" --pid-file "$WORK/backend-$b.pid"
	BACKEND_PID[$b]=$HALB_LAST_PID
	halb_wait_until 10 test -s "$WORK/backend-$b.pid"
}

start_healthd() {
	halb_start_healthd "$P" "$CONF" "$WORK/$1.log"
	HD_PID=$HALB_LAST_PID
}

set_cpu() { echo "$2" >"$WORK/proc-$1/cpu_permille.tmp" && mv "$WORK/proc-$1/cpu_permille.tmp" "$WORK/proc-$1/cpu_permille"; }

echo "health: rig $P, DPDK file prefix $FP, binaries from $HALB_BUILD, work dir $WORK, report interval ${INTERVAL_MS} ms"

# --- configuration --------------------------------------------------------
# file_prefix, the policy, the handler timeout, sockets in WORK, and every
# backend weight times 100 (1 -> 100, 2 -> 200).
sed -E -e 's/^([[:space:]]*file_prefix[[:space:]]*=[[:space:]]*)"[^"]*"/\1"'"$FP"'"/' \
	-e 's/^([[:space:]]*weight_policy[[:space:]]*=[[:space:]]*)"[^"]*"/\1"least-load"/' \
	-e 's/^([[:space:]]*handler_timeout_ms[[:space:]]*=[[:space:]]*)[0-9]+;/\1'"$HANDLER_TIMEOUT_MS"'; socket = "'"${WORK//\//\\/}"'\/cls.health"; status_socket = "'"${WORK//\//\\/}"'\/healthd.sock"; state_file = "'"${WORK//\//\\/}"'\/lib\/operator";/' \
	-e 's/([[:space:]])weight = ([0-9]+);/\1weight = \200;/g' \
	"$CONF_SRC" >"$CONF"
chmod 600 "$CONF"  # it holds keys (docs/CONFIG.md, "Keys")
[ "$(halb_conf_file_prefix "$CONF")" = "$FP" ] || fatal "could not set file_prefix in a copy of $CONF_SRC"
if ! grep -q 'weight_policy = "least-load"' "$CONF" || ! grep -q "status_socket = \"$WORK/healthd.sock\"" "$CONF" ||
	! grep -q "state_file = \"$WORK/lib/operator\"" "$CONF" ||
	! grep -q 'weight = 200;' "$CONF"; then
	fatal "could not set weight_policy, the sockets, the state file and the weights in a copy of $CONF_SRC"
fi
# The handler's address, name and key and the hosts' keys (HALB_HEALTH_*,
# HALB_HOST_KEY), and an agent's file per backend host.
halb_conf_health "$CONF" 2>"$WORK/why.txt" || fatal "$(cat "$WORK/why.txt")"
LB_LISTEN=$HALB_HEALTH_LISTEN LB_NAME=$HALB_HEALTH_NAME
halb_write_agent_confs "$CONF" "$WORK" "$INTERVAL_MS" 2 2>"$WORK/why.txt" ||
	fatal "the agents' files: $(cat "$WORK/why.txt")"

for prog in forwarder/halb-forwarder classifier/halb-classifier tools/halbctl healthload/halb-healthd; do
	if out=$("$HALB_BUILD/$prog" --check-config "$CONF" 2>&1); then
		pass "${prog#*/} --check-config accepts the configuration"
	else
		fatal "${prog#*/} --check-config rejects the configuration: $out"
	fi
done
for b in $HALB_BACKENDS; do
	out=$("$HALB_BUILD/healthload/halb-agent" --check-config "$WORK/agent-$b.conf" 2>&1) ||
		fatal "halb-agent --check-config rejects $b's file: $out"
done
pass "halb-agent --check-config accepts the three agents' files"

# --- rig ------------------------------------------------------------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || fatal "topo.sh up $P"
for i in $(seq 1 "$SRC_N"); do
	ip -n "$P-cli" addr add "198.18.1.$((100 + i))/24" dev eth0 || fatal "cannot add client address 198.18.1.$((100 + i))"
done

halb_spawn "$WORK/fakeproc.log" "$HALB_PYTHON" "$HDIR/fakeproc.py" --ready "$WORK/fakeproc.ready" \
	--stall-log "$WORK/stalls.txt" \
	"$WORK/proc-b1" "$WORK/proc-b2" "$WORK/proc-b3"
halb_wait_until 10 test -s "$WORK/fakeproc.ready" || fatal "fakeproc.py did not start: $(cat "$WORK/fakeproc.log")"

for b in $HALB_BACKENDS; do
	start_backend "$b" || fatal "backend $b's HTTP server did not start: $(cat "$WORK/backend-$b.log")"
done

halb_spawn "$WORK/forwarder.log" ip netns exec "$P-lb" "$HALB_BUILD/forwarder/halb-forwarder" -c "$CONF"
FWD_PID=$HALB_LAST_PID
forwarder_answers_or_died() { ! halb_alive "$FWD_PID" || ctl status >/dev/null 2>&1; }
halb_wait_until 30 forwarder_answers_or_died
if ! halb_alive "$FWD_PID" || ! ctl status >/dev/null 2>&1; then
	fatal "the forwarder did not come up: $(tail -n 5 "$WORK/forwarder.log")"
fi

halb_spawn "$WORK/classifier.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" -c "$CONF"
CLS_PID=$HALB_LAST_PID
classifier_up_or_died() { ! halb_alive "$CLS_PID" || halb_classifier_up "$P" "$CONF"; }
halb_wait_until 30 classifier_up_or_died
if ! halb_alive "$CLS_PID" || ! halb_classifier_up "$P" "$CONF"; then
	fatal "the classifier did not come up"
fi
halb_wait_until 5 test -S "$WORK/cls.health" || fatal "the classifier did not bind health.socket $WORK/cls.health"

start_healthd healthd
halb_wait_until 10 halb_healthd_up "$P" "$CONF" || fatal "halb-healthd does not answer on its status socket: $(tail -n 5 "$WORK/healthd.log")"

halb_start_agents "$P" "$WORK" --proc-root "$WORK/proc-%h" 2>"$WORK/why.txt" || fatal "$(cat "$WORK/why.txt")"
pass "rig up: forwarder, classifier, halb-healthd on 198.18.0.3, an agent and an HTTP server on each backend"

halb_wait_until 20 client --url "$DSR_URL" --count 1 --timeout 1 >/dev/null 2>&1 ||
	fatal "no answer through $DSR_URL within 20 s"

# --- 1. every backend up, from its agent ------------------------------------
NB=$(ctl services 2>/dev/null | grep -c ' port=')
if poll_ms 10000 health_is --state up --source agent --count "$NB"; then
	pass "halbctl health: all $NB backends up, source agent (after ${POLL_MS} ms)"
else
	fatal "halbctl health: not every backend is up from its agent within 10 s: $(mismatch)"
fi
if poll_ms 5000 services_is --state up --source agent --count "$NB"; then
	pass "halbctl services: all $NB backends state=up source=agent"
else
	fatal "halbctl services: not every backend is state=up source=agent: $(mismatch)"
fi
# Every part's heartbeat file (halb/hb.h), healthd's included.
parts_up() { ctl status 2>/dev/null | awk '$1 ~ /^(forwarder|classifier|healthd)$/ && $2 == "up" { n++ } END { exit n != 3 }'; }
if halb_wait_until 5 parts_up; then
	pass "halbctl status: forwarder, classifier and healthd up by their heartbeats"
else
	fail "halbctl status parts: $(ctl status 2>&1 | head -4 | tr '\n' ' ')"
fi
ctl health >"$WORK/health-1.txt" 2>&1
# halb-exporter shows the same: halb-healthd's counters, every agent
# heard, every backend up (tests/e2e/metrics_check.py --healthd).
halb_spawn "$WORK/exporter.log" ip netns exec "$P-lb" "$HALB_BUILD/exporter/halb-exporter" -c "$CONF"
EXP_PID=$HALB_LAST_PID
exporter_answers() { ip netns exec "$P-lb" curl -sf -o /dev/null http://127.0.0.1:9650/metrics; }
if halb_wait_until 10 exporter_answers &&
	out=$(ip netns exec "$P-lb" "$HALB_PYTHON" "$HALB_E2E_DIR/metrics_check.py" --healthd http://127.0.0.1:9650/metrics 2>&1); then
	pass "halb-exporter with halb-healthd: $(echo "$out" | tail -n 1)"
else
	fail "halb-exporter with halb-healthd: ${out:-no answer on 127.0.0.1:9650 within 10 s}"
fi
halb_stop "$EXP_PID" TERM 5

# --- 2. b1's server stops, and comes back -----------------------------------
hold_start c2 b2,b3 || fatal "check 2: no keep-alive connection to b2 or b3: $(cat "$WORK/hold-c2.out")"
H2=$HOLD_PID
echo "health: check 2: held $(grep '^connected' "$WORK/hold-c2.out")"
watch_start c2down 8000 services --host b1 --state down --count 6
halb_stop "${BACKEND_PID[b1]}" TERM 10
t_stop=$(now_ms)
echo "health: stopped b1's HTTP server (PID ${BACKEND_PID[b1]})"
limit=$((3 * INTERVAL_MS))
if watch_end c2down "$t_stop"; then
	if [ "$POLL_MS" -le "$limit" ]; then
		pass "b1 down in every service in halbctl services ${POLL_MS} ms after its server stopped (3 intervals: $limit ms)"
	else
		fail "b1 down in every service only after ${POLL_MS} ms, more than 3 report intervals ($limit ms)"
	fi
else
	fatal "b1 not down in every service within 5 s of its server stopping: $(mismatch)"
fi
if health_is --host b1 --state down --source agent --count 6; then
	pass "halbctl health: b1 down, source agent ($(ctl health 2>/dev/null | awk '$1 == "web-dsr" && $2 ~ /\.11:/' | sed 's/  */ /g'))"
else
	fail "halbctl health does not show b1 down from its agent: $(mismatch)"
fi
# A report of b1 down, for check 6 to replay later.
ip netns exec "$P-lb" "$HALB_PYTHON" "$HDIR/replay.py" capture mgmt0 198.18.0.11 7300 "$WORK/b1-down.report" \
	--timeout 3 >"$WORK/capture-down.out" 2>&1 || echo "health: could not capture a report of b1 down: $(cat "$WORK/capture-down.out")"

client --url "$DSR_URL" --count "$NEW_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 --log "$WORK/c2-new.log" >"$WORK/c2-new.json" 2>&1
n1=$(by_backend "$WORK/c2-new.json" b1)
if summary_ok "$WORK/c2-new.json" && [ "$n1" = 0 ]; then
	pass "$NEW_N new connections with b1 down: none on b1, none failed: $(summary "$WORK/c2-new.json")"
else
	fail "$NEW_N new connections with b1 down: $(summary "$WORK/c2-new.json")"
fi
if halb_alive "$H2" && hold_end c2 "$H2"; then
	pass "the keep-alive connection to b2/b3 made before kept working throughout: $(summary "$WORK/hold-c2.out")"
else
	hold_end c2 "$H2"
	fail "the keep-alive connection to b2/b3 broke: $(summary "$WORK/hold-c2.out")"
fi
watch_start c2up 8000 services --host b1 --state up --source agent --count 6
start_backend b1 || fatal "b1's HTTP server did not restart"
t_start=$(now_ms)
if watch_end c2up "$t_start"; then
	pass "b1 up again in every service ${POLL_MS} ms after its server restarted"
else
	fatal "b1 not up again within 5 s of its server restarting: $(mismatch)"
fi
client --url "$DSR_URL" --count "$NEW_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 --log "$WORK/c2-back.log" >"$WORK/c2-back.json" 2>&1
n1=$(by_backend "$WORK/c2-back.json" b1)
# b1's share is 100/400: expect NEW_N/4, accept from half of that.
if summary_ok "$WORK/c2-back.json" && [ "$n1" -ge $((NEW_N / 8)) ]; then
	pass "b1 gets new connections again: $n1 of $NEW_N (weight 100 of 400): $(summary "$WORK/c2-back.json")"
else
	fail "b1 back: $n1 of $NEW_N new connections (want at least $((NEW_N / 8))): $(summary "$WORK/c2-back.json")"
fi

# --- 3. high load: least-load lowers b1's weight ----------------------------
set_cpu b1 "$HIGH_CPU"
want_w1=$(( (100 * (1000 - HIGH_CPU) + 500) / 1000 ))
[ "$want_w1" -ge 1 ] || want_w1=1
# A load-derived weight moves only by more than 1/16 of itself: allow one.
if poll_ms 6000 services_is --host b1 --weight-max $((want_w1 + 1)) --count 6 &&
	services_is --host b2 --weight 100 --count 6 && services_is --host b3 --weight 200 --count 6; then
	pass "b1 at ${HIGH_CPU}‰ CPU: its weight fell to $(ctl services 2>/dev/null | hstate weights --service web-dsr) in ${POLL_MS} ms (least-load: 100 × $((1000 - HIGH_CPU))/1000 = $want_w1)"
else
	fatal "b1 at ${HIGH_CPU}‰ CPU: weights not lowered to about $want_w1 within 6 s: $(mismatch); $(ctl services 2>/dev/null | hstate weights --service web-dsr)"
fi
if health_is --host b1 --state up --source agent --count 6; then
	pass "halbctl health: b1 still up, load shown ($(ctl health 2>/dev/null | awk '$1 == "web-dsr" && $2 ~ /\.11:/' | sed 's/  */ /g'))"
else
	fail "halbctl health: b1 at high load is not up from its agent: $(mismatch)"
fi
weights=$(ctl services 2>/dev/null | hstate weights --service web-dsr)
client --url "$DSR_URL" --count "$SPREAD_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 --log "$WORK/c3.log" >"$WORK/c3.json" 2>&1
if msg=$("$HALB_PYTHON" - "$WORK/c3.json" "$SPREAD_N" "$weights" <<'EOF'
import json, math, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
n = int(sys.argv[2])
w = dict(kv.split("=") for kv in sys.argv[3].split())
w = {k: int(v) for k, v in w.items()}
bad = []
if r["ok"] != n or r["failed"]:
    bad.append("%d of %d answered, %d failed %s" % (r["ok"], n, r["failed"], r.get("errors", {})))
got = r["by_backend"].get("b1", 0)
p = w["b1"] / sum(w.values())
normal = 100 / 400
sd = math.sqrt(n * p * (1 - p))
lo, hi = max(0.0, n * p - 4 * sd - 0.01 * n), n * p + 4 * sd + 0.01 * n
if got >= n * normal / 2:
    bad.append("b1's share %.1f%% is not under half its normal %.1f%%" % (100 * got / n, 100 * normal))
if not lo <= got <= hi:
    bad.append("b1 got %d, not within [%.0f, %.0f] of weight %d/%d" % (got, lo, hi, w["b1"], sum(w.values())))
print("b1 got %d of %d new connections (%.1f%%; weights %s: %.1f%%, bounds [%.0f, %.0f]; normal share %.0f%%): %s%s"
      % (got, n, 100 * got / n, sys.argv[3], 100 * p, lo, hi, 100 * normal, json.dumps(r["by_backend"]),
         ("; " + "; ".join(bad)) if bad else ""))
sys.exit(1 if bad else 0)
EOF
); then
	pass "$msg"
else
	fail "${msg:-no summary from the client}"
fi
set_cpu b1 0
if poll_ms 6000 services_is --host b1 --weight 100 --count 6; then
	pass "b1 back to 0‰ CPU: weight 100 again (${POLL_MS} ms)"
else
	fail "b1's weight did not come back to 100 within 6 s: $(mismatch)"
fi

# --- 4. draining b2 -----------------------------------------------------------
hold_start c4 b2 || fatal "check 4: no keep-alive connection to b2: $(cat "$WORK/hold-c4.out")"
H4=$HOLD_PID
echo "health: check 4: held $(grep '^connected' "$WORK/hold-c4.out")"
if out=$(ip netns exec "$P-b2" "$HALB_BUILD/healthload/halb-agent" -c "$WORK/agent-b2.conf" --drain 2>&1); then
	pass "halb-agent --drain on b2: $out"
else
	fail "halb-agent --drain on b2 failed: $out"
fi
if poll_ms 5000 services_is --host b2 --state draining --source agent --count 6; then
	pass "b2 draining in every service in halbctl services after ${POLL_MS} ms"
else
	fail "b2 not draining in every service within 5 s: $(mismatch)"
fi
if health_is --host b2 --state draining --source agent --count 6; then
	pass "halbctl health: b2 draining, source agent"
else
	fail "halbctl health does not show b2 draining from its agent: $(mismatch)"
fi
t_seen=$(now_ms)
client --url "$DSR_URL" --count "$NEW_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 --log "$WORK/c4-new.log" >"$WORK/c4-new.json" 2>&1
n2=$(by_backend "$WORK/c4-new.json" b2)
if summary_ok "$WORK/c4-new.json" && [ "$n2" = 0 ]; then
	pass "$NEW_N new connections with b2 draining: none on b2, none failed: $(summary "$WORK/c4-new.json")"
else
	fail "$NEW_N new connections with b2 draining: $(summary "$WORK/c4-new.json"); $(who_when "$WORK/c4-new.log" b2 "$t_seen" "$WORK"/c[23]*.log)"
fi
if halb_alive "$H4" && hold_end c4 "$H4" && ! grep -q '"b[13]"' <(summary "$WORK/hold-c4.out"); then
	pass "the keep-alive connection to b2 kept working to its end while b2 drained: $(summary "$WORK/hold-c4.out")"
else
	hold_end c4 "$H4"
	fail "the keep-alive connection to b2 broke while it drained: $(summary "$WORK/hold-c4.out")"
fi
if out=$(ip netns exec "$P-b2" "$HALB_BUILD/healthload/halb-agent" -c "$WORK/agent-b2.conf" --undrain 2>&1) &&
	poll_ms 5000 services_is --host b2 --state up --source agent --count 6; then
	pass "halb-agent --undrain on b2: up in every service after ${POLL_MS} ms ($out)"
else
	fail "halb-agent --undrain on b2: not up within 5 s: $out $(mismatch)"
fi
client --url "$DSR_URL" --count "$NEW_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 >"$WORK/c4-back.json" 2>&1
n2=$(by_backend "$WORK/c4-back.json" b2)
if summary_ok "$WORK/c4-back.json" && [ "$n2" -ge $((NEW_N / 8)) ]; then
	pass "b2 gets new connections again: $n2 of $NEW_N: $(summary "$WORK/c4-back.json")"
else
	fail "b2 undrained: $n2 of $NEW_N new connections (want at least $((NEW_N / 8))): $(summary "$WORK/c4-back.json")"
fi

# --- 5. kill -9 halb-healthd under traffic ----------------------------------
rm -f "$WORK/stop-loop"
fresh_src
halb_spawn "$WORK/loop.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" --source "$SRC" \
	--url "$DSR_URL" --count 1000000 --parallel 2 --timeout 3 --stop-file "$WORK/stop-loop" --log "$WORK/loop.log"
LOOP_PID=$HALB_LAST_PID
installs0=$(halb_stat "$P" "$CONF" installs) || installs0=0
installs_grew() { local n; n=$(halb_stat "$P" "$CONF" installs) && [ "$n" -ge $((installs0 + 50)) ]; }
halb_wait_until 10 installs_grew || fail "the client loop does not seem to run (installs stay at $installs0)"
silent0=$(halb_stat "$P" "$CONF" health_silent) || silent0=0
silent_grew() { local n; n=$(halb_stat "$P" "$CONF" health_silent) && [ "$n" -gt "$silent0" ]; }
halb_stop "$HD_PID" KILL 5
t_kill=$(now_ms)
echo "health: killed halb-healthd (PID $HD_PID) with SIGKILL"
# Heartbeats come every 500 ms, so the last one may be up to 500 ms old
# when healthd dies: the silence may be noticed from timeout - 500 ms on.
early=$((HANDLER_TIMEOUT_MS - 700))
t_silent=
while :; do
	now=$(now_ms)
	if silent_grew; then t_silent=$(($(now_ms) - t_kill)); break; fi
	[ $((now - t_kill)) -ge $((HANDLER_TIMEOUT_MS + 2000)) ] && break
	sleep 0.05
done
logged=$(grep -o 'health handler silent for [0-9]* ms' "$WORK/classifier.log" | tail -n 1)
logged_ms=$(echo "$logged" | grep -o '[0-9][0-9]*' | head -n 1)
if [ -n "$t_silent" ] && [ "$t_silent" -ge "$early" ] && [ "${logged_ms:-0}" -gt "$HANDLER_TIMEOUT_MS" ]; then
	pass "the classifier counted the silence (health_silent $silent0 -> $((silent0 + 1))) ${t_silent} ms after the kill, not before handler_timeout_ms ($HANDLER_TIMEOUT_MS ms, heartbeats every 500 ms); its log: \"$logged\""
else
	fail "the classifier's silence: counted after ${t_silent:-never} ms (want from $early ms, handler_timeout_ms $HANDLER_TIMEOUT_MS), logged \"${logged:-nothing}\""
fi
if services_is --state up --source agent --count "$NB"; then
	pass "without halb-healthd the classifier keeps its last state (all up, source agent)"
else
	fail "without halb-healthd the classifier's state changed: $(mismatch)"
fi
watch_start c5 8000 health --state up --source agent --count "$NB"
t_start=$(now_ms)
start_healthd healthd2
if watch_end c5 "$t_start"; then
	limit=$((INTERVAL_MS + RESTART_MARGIN_MS))
	if [ "$POLL_MS" -le "$limit" ]; then
		pass "restarted halb-healthd lists all $NB backends up from their agents ${POLL_MS} ms after its start (one interval + margin: $limit ms)"
	else
		fail "restarted halb-healthd had its full cache only ${POLL_MS} ms after its start (more than $limit ms)"
	fi
else
	fail "restarted halb-healthd does not list every backend up from its agent within 5 s: $(mismatch)"
fi
if halb_wait_until 5 grep -q "health handler $LB_NAME is back" "$WORK/classifier.log"; then
	pass "the classifier hears the restarted halb-healthd: $(grep -o "health handler $LB_NAME is back" "$WORK/classifier.log" | tail -n 1)"
else
	fail "the classifier does not log the handler back within 5 s"
fi
touch "$WORK/stop-loop"
halb_wait_exit "$LOOP_PID" 15
rc=$?
during=$(awk -v a="$t_kill" -v b="$t_start" '$1 >= a && $1 < b && $4 != "-"' "$WORK/loop.log" 2>/dev/null | wc -l)
if [ "$rc" -eq 0 ] && summary_ok "$WORK/loop.out" && [ "$during" -gt 0 ]; then
	pass "the loop of new connections across kill -9 and restart saw no failure ($during answered while halb-healthd was dead): $(summary "$WORK/loop.out")"
else
	fail "the loop of new connections across kill -9 and restart (status $rc, $during answered while halb-healthd was dead): $(summary "$WORK/loop.out")"
fi

# --- 6. forged, replayed, stale, garbage reports ------------------------------
refused() { ctl health json 2>/dev/null | hstate refused | awk -F= -v k="$1" '$1 == k { print $2 }'; }
ctl health json 2>/dev/null | hstate digest >"$WORK/digest-before"
declare -A R0
for r in bad-mac replay stale garbled oversize; do R0[$r]=$(refused "$r"); R0[$r]=${R0[$r]:-0}; done
# A fresh report of b1, captured as healthd receives it.
ip netns exec "$P-lb" "$HALB_PYTHON" "$HDIR/replay.py" capture mgmt0 198.18.0.11 7300 "$WORK/b1-fresh.report" \
	--timeout 3 >"$WORK/capture-fresh.out" 2>&1 || fail "could not capture a report of b1: $(cat "$WORK/capture-fresh.out")"
cli_py() { ip netns exec "$P-cli" "$HALB_PYTHON" "$@"; }
mark=$(wc -l <"$WORK/healthd2.log")
cli_py "$HL_SEND" "$LB_LISTEN" b1 "${HALB_HOST_KEY[b1]}" web-dsr 198.18.0.11 80 forged
want_replay=0
if [ -s "$WORK/b1-fresh.report" ]; then
	cli_py "$HDIR/replay.py" send "$WORK/b1-fresh.report" "$LB_LISTEN" --count 2
	want_replay=$((want_replay + 2))
fi
if [ -s "$WORK/b1-down.report" ]; then
	cli_py "$HDIR/replay.py" send "$WORK/b1-down.report" "$LB_LISTEN" --count 2
	want_replay=$((want_replay + 2))
fi
cli_py "$HL_SEND" "$LB_LISTEN" b1 "${HALB_HOST_KEY[b1]}" web-dsr 198.18.0.11 80 stale
cli_py "$HL_SEND" "$LB_LISTEN" b1 "${HALB_HOST_KEY[b1]}" web-dsr 198.18.0.11 80 garbage
counted() {
	local r
	declare -A want=([bad-mac]=1 [replay]=$want_replay [stale]=1 [garbled]=1 [oversize]=1)
	for r in "${!want[@]}"; do
		[ "$(refused "$r")" -ge $((R0[$r] + want[$r])) ] 2>/dev/null || return 1
	done
}
# Exactly as many as were sent: every hostile datagram was refused (and a
# refused datagram changes nothing), none of the agents' was.
exactly() {
	local r
	declare -A want=([bad-mac]=1 [replay]=$want_replay [stale]=1 [garbled]=1 [oversize]=1)
	for r in "${!want[@]}"; do
		[ "$(refused "$r")" -eq $((R0[$r] + want[$r])) ] 2>/dev/null || return 1
	done
}
if halb_wait_until 5 counted && exactly; then
	got=""
	for r in bad-mac replay stale garbled oversize; do got="$got $r ${R0[$r]}->$(refused "$r")"; done
	pass "refused and counted by reason (forged: bad-mac; $want_replay replays: $(cat "$WORK/capture-down.out" "$WORK/capture-fresh.out" 2>/dev/null | sed 's/captured [0-9]* bytes: //' | tr '\n' ';') stale; garbage):$got"
else
	fail "refusals not counted as sent within 5 s (want exactly bad-mac +1, replay +$want_replay, stale +1, garbled +1, oversize +1): $(ctl health 2>/dev/null | grep '^refused')"
fi
if grep -q 'claiming to be "b1": bad-mac' "$WORK/healthd2.log" && grep -q 'claiming to be "b1": replay' "$WORK/healthd2.log"; then
	pass "halb-healthd logs the refusals: $(grep -m1 'claiming to be "b1": replay' "$WORK/healthd2.log")"
else
	fail "halb-healthd does not log the forged and replayed reports"
fi
# One more report interval: whatever they could have changed would show.
sleep "$(awk -v ms="$INTERVAL_MS" 'BEGIN { printf "%.3f", 2 * ms / 1000 }')"
ctl health json 2>/dev/null | hstate digest >"$WORK/digest-after"
# What halb-healthd changed meanwhile, and why: the forged and stale
# reports say "sent by hl_send.py", the replayed one "Connection refused"
# (b1's server was down then; it is up now, so b1's own agent cannot say
# it).  A backend whose own agent reported a failed check (the host too
# busy to answer in time) is no doing of theirs.
tail -n +$((mark + 1)) "$WORK/healthd2.log" | grep 'hd_refresh:' >"$WORK/c6-changes.txt"
if [ -s "$WORK/digest-before" ] && cmp -s "$WORK/digest-before" "$WORK/digest-after" &&
	[ ! -s "$WORK/c6-changes.txt" ] && services_is --state up --source agent --count "$NB"; then
	pass "nothing changed: every backend's state, source and weight as before, in halbctl health and services"
elif [ -s "$WORK/c6-changes.txt" ] && ! grep -q -E 'sent by hl_send\.py|Connection refused' "$WORK/c6-changes.txt"; then
	pass "nothing changed by them: the only changes meanwhile came from the agents' own checks: $(sed 's/.*hd_refresh: //' "$WORK/c6-changes.txt" | sort -u | head -n 3 | tr '\n' ';')"
else
	fail "the hostile reports changed something: $(diff "$WORK/digest-before" "$WORK/digest-after" | tr '\n' ' ') $(sed 's/.*hd_refresh: //' "$WORK/c6-changes.txt" | head -n 6 | tr '\n' ';') $(mismatch)"
fi

# --- 7. the operator's decisions ----------------------------------------------
B3=198.18.0.13:80
NSVC=$(ctl services 2>/dev/null | grep -c ' port=' )
hold_start c7 b3 || fatal "check 7: no keep-alive connection to b3: $(cat "$WORK/hold-c7.out")"
H7=$HOLD_PID
echo "health: check 7: held $(grep '^connected' "$WORK/hold-c7.out")"
if out=$(ctl drain web-dsr "$B3" 2>&1); then
	pass "halbctl drain web-dsr $B3: $out"
else
	fail "halbctl drain web-dsr $B3 failed: $out"
fi
# up_from_agent SKIP_SERVICE SKIP_HOST: how many backends halbctl health
# lists up from their agents, but for SKIP_HOST's in SKIP_SERVICE.
up_from_agent() {
	ctl health json 2>/dev/null | hstate digest |
		awk -v s="$1" -v h="$2" '!($1 == s && $2 ~ h) && $3 == "up" && $4 == "agent"' | wc -l
}
if poll_ms 3000 services_is --service web-dsr --host b3 --state draining --source operator --count 1 &&
	[ "$(up_from_agent web-dsr '[.:]13]?:')" = $((NB - 1)) ]; then
	pass "b3 draining from the operator in web-dsr in halbctl services after ${POLL_MS} ms; every other backend (b3 in the 5 other services too) up from its agent"
else
	fail "b3 not draining from the operator in web-dsr alone within 3 s: $(mismatch)"
fi
if health_is --service web-dsr --host b3 --state draining --source operator --count 1 &&
	ctl health 2>/dev/null | grep -q "^web-dsr .*13:80 .*operator: drain"; then
	pass "halbctl health: $(ctl health 2>/dev/null | awk '$1 == "web-dsr" && $2 ~ /\.13:/' | sed 's/  */ /g')"
else
	fail "halbctl health does not show b3 drained by the operator: $(mismatch)"
fi
client --url "$DSR_URL" --count "$NEW_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 --log "$WORK/c7-new.log" >"$WORK/c7-new.json" 2>&1
n3=$(by_backend "$WORK/c7-new.json" b3)
if summary_ok "$WORK/c7-new.json" && [ "$n3" = 0 ]; then
	pass "$NEW_N new connections with b3 drained by the operator: none on b3, none failed: $(summary "$WORK/c7-new.json")"
else
	fail "$NEW_N new connections with b3 drained by the operator: $(summary "$WORK/c7-new.json")"
fi
if [ -s "$WORK/lib/operator" ] && grep -q "^web-dsr $B3 drain -$" "$WORK/lib/operator"; then
	pass "the decision is kept in health.state_file: $(grep -v '^#' "$WORK/lib/operator" | tr '\n' ';')"
else
	fail "the decision is not in $WORK/lib/operator: $(cat "$WORK/lib/operator" 2>&1 | tr '\n' ';')"
fi
# Restarts: halb-healthd (kill -9), then the classifier (kill -9).
halb_stop "$HD_PID" KILL 5
start_healthd healthd3
if halb_wait_until 10 halb_healthd_up "$P" "$CONF" &&
	poll_ms 3000 health_is --service web-dsr --host b3 --state draining --source operator --count 1; then
	pass "restarted halb-healthd: b3 still draining from the operator in halbctl health (${POLL_MS} ms after it answered)"
else
	fail "restarted halb-healthd does not keep b3 drained: $(mismatch)"
fi
agents_back() { [ "$(up_from_agent web-dsr '[.:]13]?:')" = $((NB - 1)) ]; }
halb_wait_until 5 agents_back ||
	fail "restarted halb-healthd: the other backends not up from their agents within 5 s: $(mismatch)"
if grep -q 'service web-dsr backend 198.18.0.13:80: drain kept from before' "$WORK/healthd3.log" &&
	! grep -q -E 'service web-dsr backend 198\.18\.0\.13:80: .* -> up' "$WORK/healthd3.log"; then
	pass "halb-healthd started from the kept decision, never up in between: $(grep -m1 'kept from before' "$WORK/healthd3.log" | sed 's/.*operator: //')"
else
	fail "halb-healthd's log: $(grep '198.18.0.13:80' "$WORK/healthd3.log" | head -n 4 | tr '\n' ';')"
fi
if services_is --service web-dsr --host b3 --state draining --source operator --count 1; then
	pass "the classifier kept b3 drained across the healthd restart"
else
	fail "the classifier's b3 across the healthd restart: $(mismatch)"
fi
halb_stop "$CLS_PID" KILL 5
halb_spawn "$WORK/classifier2.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" -c "$CONF"
CLS_PID=$HALB_LAST_PID
if halb_wait_until 30 grep -q 'health: listening on' "$WORK/classifier2.log" && halb_alive "$CLS_PID" &&
	services_is --service web-dsr --host b3 --state draining --source operator --count 1; then
	pass "restarted classifier: b3 still draining from the operator"
else
	fail "restarted classifier: $(mismatch) $(tail -n 3 "$WORK/classifier2.log" | tr '\n' ';')"
fi
client --url "$DSR_URL" --count "$NEW_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 >"$WORK/c7-after.json" 2>&1
n3=$(by_backend "$WORK/c7-after.json" b3)
if summary_ok "$WORK/c7-after.json" && [ "$n3" = 0 ]; then
	pass "after both restarts, $NEW_N new connections: none on b3, none failed: $(summary "$WORK/c7-after.json")"
else
	fail "after both restarts, $NEW_N new connections: $(summary "$WORK/c7-after.json")"
fi
if halb_alive "$H7" && hold_end c7 "$H7" && ! grep -q '"b[12]"' <(summary "$WORK/hold-c7.out"); then
	pass "the keep-alive connection to b3 kept working to its end through the drain and both restarts: $(summary "$WORK/hold-c7.out")"
else
	hold_end c7 "$H7"
	fail "the keep-alive connection to b3 broke: $(summary "$WORK/hold-c7.out")"
fi
if out=$(ctl enable web-dsr "$B3" 2>&1) &&
	poll_ms 3000 services_is --service web-dsr --host b3 --state up --source agent --count 1; then
	pass "halbctl enable: b3 up from its agent again after ${POLL_MS} ms ($out)"
else
	fail "halbctl enable: b3 not up from its agent within 3 s: $out $(mismatch)"
fi
client --url "$DSR_URL" --count "$NEW_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 >"$WORK/c7-back.json" 2>&1
n3=$(by_backend "$WORK/c7-back.json" b3)
if summary_ok "$WORK/c7-back.json" && [ "$n3" -ge $((NEW_N / 4)) ]; then
	pass "b3 gets new connections again: $n3 of $NEW_N (weight 200 of 400): $(summary "$WORK/c7-back.json")"
else
	fail "b3 enabled: $n3 of $NEW_N new connections (want at least $((NEW_N / 4))): $(summary "$WORK/c7-back.json")"
fi
if out=$(ctl disable web-dsr "$B3" 2>&1) &&
	poll_ms 3000 services_is --service web-dsr --host b3 --state down --source operator --count 1; then
	pass "halbctl disable: b3 down from the operator after ${POLL_MS} ms ($out)"
else
	fail "halbctl disable: b3 not down from the operator within 3 s: $out $(mismatch)"
fi
client --url "$DSR_URL" --count "$NEW_N" --parallel "$PARALLEL" --timeout 3 --max-failures 8 >"$WORK/c7-dis.json" 2>&1
n3=$(by_backend "$WORK/c7-dis.json" b3)
if summary_ok "$WORK/c7-dis.json" && [ "$n3" = 0 ]; then
	pass "$NEW_N new connections with b3 disabled: none on b3, none failed"
else
	fail "$NEW_N new connections with b3 disabled: $(summary "$WORK/c7-dis.json")"
fi
ctl enable web-dsr "$B3" >/dev/null 2>&1
if out=$(ctl weight web-dsr "$B3" 50 2>&1) &&
	poll_ms 3000 services_is --service web-dsr --host b3 --state up --source agent --weight 50 --count 1 &&
	ctl health 2>/dev/null | grep -q "^web-dsr .*13:80 .*operator: weight 50"; then
	pass "halbctl weight web-dsr $B3 50: weight 50 in halbctl services after ${POLL_MS} ms ($out)"
else
	fail "halbctl weight web-dsr $B3 50: $out $(mismatch)"
fi
if out=$(ctl weight web-dsr "$B3" config 2>&1) &&
	poll_ms 3000 services_is --service web-dsr --host b3 --weight 200 --count 1; then
	pass "halbctl weight ... config: the configured weight (200) again ($out)"
else
	fail "halbctl weight ... config: $out $(mismatch)"
fi
out=$(ctl drain web-dsr 198.18.0.99:80 2>&1)
rc=$?
if [ "$rc" = 1 ] && [[ $out == *"service web-dsr has no backend 198.18.0.99:80"* ]] &&
	[ "$(grep -vc '^#' "$WORK/lib/operator")" = 0 ] &&
	services_is --state up --source agent --count "$NSVC"; then
	pass "a backend that does not exist is refused (status $rc: $out); no decision left, every backend up from its agent"
else
	fail "refusal: status $rc, \"$out\"; state file: $(grep -v '^#' "$WORK/lib/operator" | tr '\n' ';') $(mismatch)"
fi

# --- the end ----------------------------------------------------------------
alive=""
for b in $HALB_BACKENDS; do halb_alive "${HALB_AGENT_PID[$b]}" || alive="$alive agent-$b"; done
halb_alive "$HD_PID" || alive="$alive healthd"
halb_alive "$FWD_PID" || alive="$alive forwarder"
if halb_alive "$CLS_PID" && [ -z "$alive" ]; then
	pass "the classifier (PID $CLS_PID) never died; forwarder, halb-healthd and the agents alive"
else
	fail "dead: ${alive}$(halb_alive "$CLS_PID" || echo " classifier")"
fi
if grep -l -E 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$WORK"/*.log >"$WORK/sanitizer" 2>/dev/null; then
	fail "sanitizer reports in: $(tr '\n' ' ' <"$WORK/sanitizer")"
else
	pass "no sanitizer report in any log"
fi

finish
