#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# halb-had and systemd's watchdog (docs/RELIABILITY.md, "Watchdog"),
# without systemd: a unix datagram socket stands in for $NOTIFY_SOCKET,
# and halb-had is started as a unit with WatchdogSec=1s would start it
# ($WATCHDOG_USEC 1000000, $WATCHDOG_PID its own pid).  Its parts are
# all disabled: what is tested is its own loop.  Checks:
#   1. it sends WATCHDOG=1 at half the period (every 0.5 s; no gap over
#      0.75 s);
#   2. hung (SIGSTOP), it sends none: systemd would kill it after 1 s;
#   3. continued, it sends them again.
# Needs root (halb-had's lock under /run/halb) but no namespace, no DPDK,
# no hugepages; about 6 s.  Every exit path stops what it started (by
# PID; a stopped had is continued first) and removes its files.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

halb_require_root
HAD=${HAD_BIN:-$HALB_BUILD/ha/halb-had}
[ -x "$HAD" ] || halb_die "no $HAD: build first (make build)"

WORK=$(mktemp -d /tmp/halb-hwd.XXXXXX)
SOCK=$WORK/notify.sock
GOT=$WORK/notify.txt
HAD_PID=""

cleanup() {
	[ -n "$HAD_PID" ] && kill -s CONT "$HAD_PID" 2>/dev/null
	halb_stop_all
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

halb_checks had_watchdog

{
	cat "$HALB_TOP/conf/samples/minimal.conf"
	cat <<EOF
eal = { file_prefix = "hwd$$"; };
ha = { status_socket = "$WORK/had.sock";
  forwarder = { enabled = false; };
  classifier = { enabled = false; }; };
EOF
} >"$WORK/had.conf"
"$HAD" --check-config "$WORK/had.conf" >/dev/null || halb_die "the test's configuration does not load"

# The notify socket: each message, one line each, with its arrival time.
halb_spawn "$WORK/listen.log" "$HALB_PYTHON" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w", buffering=1) as f:
    while True:
        for line in s.recv(4096).decode("utf-8", "replace").splitlines():
            f.write("%.3f %s\n" % (time.time(), line))
' "$SOCK" "$GOT"
halb_wait_until 5 test -S "$SOCK" || halb_die "the notify listener did not start"

# `exec` keeps the pid: $WATCHDOG_PID is had's own, as systemd sets it.
halb_spawn "$WORK/had.log" env NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=1000000 \
	sh -c 'WATCHDOG_PID=$$ exec "$0" -c "$1"' "$HAD" "$WORK/had.conf"
HAD_PID=$HALB_LAST_PID

pings() {
	local n
	n=$(grep -c ' WATCHDOG=1$' "$GOT" 2>/dev/null)
	echo "${n:-0}"
}
# The longest gap between pings after line $1 (s).
max_gap() {
	awk -v from="$1" '/ WATCHDOG=1$/ { n++; if (n > from) { if (last) { g = $1 - last; if (g > m) m = g } last = $1 } }
		END { printf "%.3f\n", m + 0 }' "$GOT"
}

if halb_wait_until 5 eval '[ "$(pings)" -ge 5 ]'; then
	gap=$(max_gap 0)
	if awk -v g="$gap" 'BEGIN { exit !(g <= 0.75) }'; then
		pass "WATCHDOG=1 every half period: $(pings) in the first seconds, longest gap ${gap} s"
	else
		fail "WATCHDOG=1 too far apart: longest gap ${gap} s (over 0.75 s against WATCHDOG_USEC 1 s)"
	fi
else
	fail "fewer than 5 WATCHDOG=1 within 5 s: $(pings) (had log: $(tail -n 3 "$WORK/had.log"))"
fi

kill -s STOP "$HAD_PID"
before=$(pings)
# What is checked is an absence: over the watchdog's whole period and
# then some (systemd would have killed it by now).
sleep 1.5
after=$(pings)
if [ "$after" -le "$((before + 1))" ]; then
	pass "hung (SIGSTOP): no WATCHDOG=1 for 1.5 s ($before before, $after after; one may have been on its way)"
else
	fail "hung (SIGSTOP), it still sent $((after - before)) WATCHDOG=1 in 1.5 s"
fi
kill -s CONT "$HAD_PID"
if halb_wait_until 3 eval '[ "$(pings)" -ge $((after + 2)) ]'; then
	pass "continued: WATCHDOG=1 again"
else
	fail "continued, no WATCHDOG=1 within 3 s"
fi

if halb_stop "$HAD_PID" TERM 10; then
	pass "halb-had stops on SIGTERM with status 0"
else
	fail "halb-had did not stop cleanly on SIGTERM (log: $(tail -n 3 "$WORK/had.log"))"
fi
HAD_PID=""

finish
