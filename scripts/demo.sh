#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# scripts/demo.sh: what `make run` does.  Needs root, the build (build/ or
# $HALB_BUILD) and hugepages (`make hugepages`).
#
# Brings up the rig of tests/e2e/topo.sh under the prefix "hd" (client,
# router, switch, appliance, three backends in network namespaces), starts
# halb-forwarder and halb-classifier on conf/halb.conf (or $HALB_CONF), sends
# real HTTP traffic to the six VIPs from the client namespace (DEMO_RATE new
# connections per service per second, default 10), and shows every second
# which backend answered how many requests per service, with the forwarder's
# counters (halbctl stats, halbctl services).
#
# Runs until Ctrl-C on a terminal; when stdin is not a terminal, or
# DEMO_SECONDS is set, for DEMO_SECONDS seconds (default 20), then exits 0
# if requests were answered and the forwarder is still up.  Every exit path
# stops what it started (by PID) and removes the rig.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"

P=hd
CONF=${HALB_CONF:-$HALB_TOP/conf/halb.conf}
RATE=${DEMO_RATE:-10}
if [ -n "${DEMO_SECONDS:-}" ] || [ ! -t 0 ]; then
	DURATION=${DEMO_SECONDS:-20}
else
	DURATION=0  # until Ctrl-C
fi
[ -t 1 ] && TTY=1 || TTY=0

halb_require_root
halb_check_binaries
halb_check_hugepages
[ -r "$CONF" ] || halb_die "$CONF is missing"
[[ $RATE =~ ^[1-9][0-9]*$ && $DURATION =~ ^[0-9]+$ ]] ||
	halb_die "DEMO_RATE must be a positive number, DEMO_SECONDS a number of seconds"
FP=$(halb_conf_file_prefix "$CONF")
[ -n "$FP" ] || halb_die "$CONF sets no eal.file_prefix"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/halb-demo.XXXXXX")
TOPO=0
FWD_PID=
FWD_UP=0   # our forwarder ran as the primary of file prefix $FP
CLS_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ "$TTY" = 1 ] && printf '\n'
	echo "demo: stopping"
	halb_stop_all
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	# What DPDK leaves under the file prefix is ours once our forwarder
	# ran as its primary.
	[ "$FWD_UP" = 1 ] && halb_remove_dpdk_files "$FP"
	rm -rf "$WORK"
	echo "demo: rig $P removed"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT   # Ctrl-C is how a demo on a terminal ends
trap 'exit 143' TERM

show_logs() {
	local f
	for f in forwarder classifier; do
		[ -s "$WORK/$f.log" ] || continue
		echo "--- last 25 lines of the $f log:"
		tail -n 25 "$WORK/$f.log"
	done
}
give_up() { echo "demo: $*" >&2; show_logs >&2; exit 1; }

now_us() { echo "${EPOCHREALTIME/./}"; }

# sleep_until T_US: sleep until the time T_US (microseconds, now_us's clock).
sleep_until() {
	local left=$(($1 - $(now_us)))
	[ "$left" -gt 0 ] && sleep "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))"
	return 0
}

# traffic_loop NAME URL: one client run of RATE new connections starting
# every second (or as soon as the previous one ends, if later), each run's
# JSON summary appended to WORK/traffic-NAME.jsonl.  Runs in a subshell; on
# TERM it stops its client and exits.
traffic_loop() {
	local name=$1 url=$2 child='' next
	trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM
	next=$(now_us)
	while :; do
		ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" --url "$url" --count "$RATE" \
			--parallel 2 --timeout 3 --max-failures 4 >>"$WORK/traffic-$name.jsonl" 2>/dev/null </dev/null &
		child=$!
		wait "$child"
		next=$((next + 1000000))
		[ "$next" -lt "$(now_us)" ] && next=$(now_us)
		sleep_until "$next" &
		child=$!
		wait "$child"
		child=
	done
}

# The table of answers per service and backend, from the clients' summaries.
traffic_table() {
	"$HALB_PYTHON" - "$WORK" "$HALB_SERVICES4
$HALB_SERVICES6" <<'EOF'
import json, os, sys
work, services = sys.argv[1], [l.split() for l in sys.argv[2].splitlines() if l.strip()]
print("%-12s %-27s %7s %6s   %s" % ("service", "URL", "ok", "failed", "answers per backend (share)"))
tot_ok = tot_failed = 0
for name, url in services:
    ok = failed = 0
    by = {}
    try:
        for line in open(os.path.join(work, "traffic-%s.jsonl" % name)):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            ok += r["ok"]; failed += r["failed"]
            for b, n in r["by_backend"].items():
                by[b] = by.get(b, 0) + n
    except FileNotFoundError:
        pass
    tot_ok += ok; tot_failed += failed
    shares = "  ".join("%s %5d (%4.1f%%)" % (b, n, 100.0 * n / ok) for b, n in sorted(by.items()))
    print("%-12s %-27s %7d %6d   %s" % (name, url, ok, failed, shares))
print("total: %d answered, %d failed" % (tot_ok, tot_failed))
EOF
}

# "ANSWERED FAILED" over every service so far.
totals() { traffic_table | awk '/^total:/ { print $2, $4; found = 1 } END { if (!found) print 0, 0 }'; }

# `halbctl stats` in a few lines: the counters that are not 0, four a line,
# those of a section (e.g. "drops:") named section.counter.
compact_stats() {
	awk '/^[^ ].*:$/ { sec = substr($1, 1, length($1) - 1) "."; next }
	     /^[^ ]/ { sec = "" }
	     NF == 2 && $2 != "0" {
		item = sec substr($1, 1, length($1) - 1) " " $2
		line = line sprintf("%-26s", item)
		if (++n % 4 == 0) { print line; line = "" }
	     }
	     NF != 2 { print }
	     END { if (line != "") print line }'
}

view() {
	local elapsed=$1
	[ "$TTY" = 1 ] && printf '\033[H\033[2J'
	if [ "$DURATION" -gt 0 ]; then
		echo "halb demo: rig $P, ${elapsed}s of ${DURATION}s, $RATE new connections per service per second"
	else
		echo "halb demo: rig $P, ${elapsed}s, $RATE new connections per service per second; Ctrl-C to stop"
	fi
	echo "client 198.18.1.1 -> router -> appliance (forwarder + classifier) -> backends b1 b2 b3 (weights 1 1 2)"
	echo
	traffic_table
	echo
	echo "== halbctl status"
	halb_ctl "$P" "$CONF" status 2>&1
	echo
	echo "== halbctl stats (counters not at 0)"
	halb_ctl "$P" "$CONF" stats 2>&1 | compact_stats
	echo
	echo "== halbctl services"
	halb_ctl "$P" "$CONF" services 2>&1
}

# --- bring everything up ----------------------------------------------------
echo "demo: bringing up the rig $P (namespaces $P-cli, $P-rtr, $P-sw, $P-lb, $P-b1..b3)"
if ! "$HALB_E2E_DIR/topo.sh" up "$P"; then
	# A rig of the same name from a run that was killed is not ours to remove.
	exit 1
fi
TOPO=1
halb_start_backends "$P" "$WORK" || give_up "the backends' HTTP servers did not start"

echo "demo: starting halb-forwarder on $CONF"
halb_spawn "$WORK/forwarder.log" ip netns exec "$P-lb" "$HALB_BUILD/forwarder/halb-forwarder" -c "$CONF"
FWD_PID=$HALB_LAST_PID
forwarder_answers_or_died() { ! halb_alive "$FWD_PID" || halb_ctl "$P" "$CONF" status >/dev/null 2>&1; }
halb_wait_until 30 forwarder_answers_or_died
halb_alive "$FWD_PID" || give_up "the forwarder exited before it answered 'halbctl status'"
halb_ctl "$P" "$CONF" status >/dev/null 2>&1 || give_up "the forwarder does not answer 'halbctl status' within 30 s"
FWD_UP=1

echo "demo: starting halb-classifier"
halb_spawn "$WORK/classifier.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" -c "$CONF"
CLS_PID=$HALB_LAST_PID
classifier_up_or_died() { ! halb_alive "$CLS_PID" || halb_classifier_up "$P" "$CONF"; }
halb_wait_until 30 classifier_up_or_died
halb_alive "$CLS_PID" || give_up "the classifier exited before the forwarder reported it up"
halb_classifier_up "$P" "$CONF" || give_up "'halbctl status' does not report 'classifier: up' within 30 s"

first_url=$(echo "$HALB_SERVICES4" | awk 'NR == 1 { print $2 }')
halb_wait_until 20 halb_client "$P" --url "$first_url" --count 1 --timeout 1 >/dev/null 2>&1 ||
	give_up "no answer through $first_url within 20 s"

echo "demo: sending traffic to every VIP"
while read -r svc url; do
	( traffic_loop "$svc" "$url" ) &
	HALB_PIDS+=("$!")
done <<<"$HALB_SERVICES4
$HALB_SERVICES6"

# --- the live view ------------------------------------------------------------
# One refresh per second on the second, however long a refresh takes.
start_us=$(now_us)
elapsed=0
while :; do
	if [ "$TTY" = 1 ]; then
		view "$elapsed"
	else
		read -r ok failed <<<"$(totals)"
		echo "demo: ${elapsed}s: $ok requests answered, $failed failed"
	fi
	halb_alive "$FWD_PID" || give_up "the forwarder exited"
	[ "$DURATION" -gt 0 ] && [ "$elapsed" -ge "$DURATION" ] && break
	elapsed=$((elapsed + 1))
	sleep_until $((start_us + elapsed * 1000000))
done

[ "$TTY" = 1 ] || view "$elapsed"
read -r ok failed <<<"$(totals)"
echo
echo "demo: $ok requests answered, $failed failed in ${elapsed}s"
[ "$ok" -gt 0 ] || give_up "no request was answered"
exit 0
