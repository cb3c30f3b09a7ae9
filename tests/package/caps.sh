#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The units' capabilities are enough, and readiness comes (docs/PACKAGING.md):
# runs halb-forwarder and then halb-classifier as their systemd units would,
# root bounded to the unit's CapabilityBoundingSet (read from
# dist/systemd/*.service.in), no new privileges, LimitMEMLOCK=infinity and
# a notify socket, on a net_af_packet port over a veth in a namespace of
# its own; checks that each sends READY=1, runs with exactly those
# capabilities, and stops on SIGTERM with status 0; then halb-had the
# same way, bounded to its unit's set, starting both itself: READY=1 once
# both are up, and a clean stop of all three on SIGTERM.
#
# A rig test (DPDK, hugepages, a namespace): run it under the shared lock,
#   flock /tmp/halb-rig.lock tests/package/caps.sh
# HALB_BUILD names the meson build (default build/).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
halb_require_root

NS=hcaps
DIR=$(mktemp -d /tmp/halb-caps.XXXXXX)
failed=0
ok() { printf 'ok: %s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*" >&2; failed=1; }

cleanup() {
	halb_stop_all
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$DIR" /run/halb/halb-caps   # the heartbeat files of our instance
}
trap cleanup EXIT

for p in forwarder/halb-forwarder classifier/halb-classifier; do
	[ -x "$HALB_BUILD/$p" ] || halb_die "no $HALB_BUILD/$p: make build"
done

# The unit's capabilities, as setpriv wants them: "+ipc_lock,+net_raw".
unit_caps() {
	sed -n 's/^CapabilityBoundingSet=//p' "$HALB_TOP/dist/systemd/$1.service.in" |
		tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd, -
}

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add hcaps0 type veth peer name hcaps1
ip -n "$NS" link set hcaps0 up
ip -n "$NS" link set hcaps1 up

cat >"$DIR/caps.conf" <<EOF
eal = { file_prefix = "halb-caps"; lcores = "0,1"; classifier_lcore = 16; };
ports = ( { name = "inside";
            vdev = "net_af_packet0,iface=hcaps0,qdisc_bypass=1";
            ipv4 = "10.99.0.2/24"; } );
idle_sleep_us = 1000;
services = ( { name = "web"; vip = "10.99.1.80"; port = 80; protocol = "tcp";
               backends = ( { ip = "10.99.0.11"; } ); } );
EOF

# run_unit PART UNIT: PART as UNIT runs it; READY=1 within 60 s (DPDK's
# start on a busy machine), then its capabilities are checked.
run_unit() {
	local part=$1 unit=$2 caps sock=$DIR/notify-$1 pid lpid eff want
	caps=$(unit_caps "$unit")
	[ -n "$caps" ] || halb_die "$unit.service.in has no CapabilityBoundingSet"
	halb_spawn "$DIR/notify-$part.log" "$HALB_PYTHON" \
		"$HALB_TOP/tests/package/notify_listen.py" "$sock" "$DIR/notify-$part.txt" 60
	lpid=$HALB_LAST_PID
	halb_wait_until 5 test -S "$sock" || { bad "$part: no notify listener"; return 1; }
	halb_spawn "$DIR/$part.log" ip netns exec "$NS" \
		env NOTIFY_SOCKET="$sock" \
		"${MEMLOCK[@]}" \
		setpriv --bounding-set "-all,$caps" --inh-caps -all --no-new-privs -- \
		"$HALB_BUILD/$part/halb-$part" -c "$DIR/caps.conf"
	pid=$HALB_LAST_PID
	if halb_wait_exit "$lpid" 65 && grep -qx 'READY=1' "$DIR/notify-$part.txt"; then
		ok "halb-$part bounded to $caps: READY=1"
	else
		bad "halb-$part bounded to $caps sent no READY=1; its log:"
		tail -n 20 "$DIR/$part.log" >&2
		return 1
	fi
	eff=$(sed -n 's/^CapEff:\t//p' "/proc/$pid/status")
	eff=$(capsh --decode="$eff" | sed 's/.*=//')
	want=$(tr -d + <<<"$caps" | tr , '\n' | sed 's/^/cap_/' | sort | paste -sd, -)
	eff=$(tr , '\n' <<<"$eff" | sort | paste -sd, -)
	[ "$eff" = "$want" ] && ok "halb-$part runs with exactly $eff" ||
		bad "halb-$part runs with $eff, not $want"
	eval "${part}_pid=$pid"
}

# LimitMEMLOCK=infinity, where this machine lets root raise it (a
# container without CAP_SYS_RESOURCE does not); CAP_IPC_LOCK alone lets
# mlock and VFIO's pinning pass the limit anyway.
MEMLOCK=(prlimit --memlock=unlimited:unlimited)
if ! prlimit --memlock=unlimited:unlimited true 2>/dev/null; then
	echo "caps: cannot raise RLIMIT_MEMLOCK here (no CAP_SYS_RESOURCE): running with $(ulimit -l) kB, as CAP_IPC_LOCK allows"
	MEMLOCK=()
fi

forwarder_pid='' classifier_pid=''
if run_unit forwarder halb-forwarder; then
	run_unit classifier halb-classifier || true
fi
for part in classifier forwarder; do
	pid=$(eval echo "\$${part}_pid")
	[ -n "$pid" ] || continue
	rc=0
	halb_stop "$pid" TERM 20 || rc=$?
	[ "$rc" -eq 0 ] && ok "halb-$part stops on SIGTERM with status 0" ||
		{ bad "halb-$part exited with status $rc on SIGTERM"; tail -n 5 "$DIR/$part.log" >&2; }
done

# halb-had as its unit runs it: bounded to its set, it starts the
# forwarder and the classifier (which inherit the bound), says READY=1
# once both are up, and on SIGTERM stops them and exits 0.
run_had() {
	local caps sock=$DIR/notify-had lpid
	caps=$(unit_caps halb-had)
	cp "$DIR/caps.conf" "$DIR/caps-had.conf"
	printf 'ha = {\n  status_socket = "%s";\n' "$DIR/had.sock" >>"$DIR/caps-had.conf"
	for part in forwarder classifier; do
		printf '  %s = { command = [ "%s", "-c", "%s" ]; };\n' "$part" \
			"$HALB_BUILD/$part/halb-$part" "$DIR/caps-had.conf" >>"$DIR/caps-had.conf"
	done
	echo '};' >>"$DIR/caps-had.conf"
	halb_spawn "$DIR/notify-had.log" "$HALB_PYTHON" \
		"$HALB_TOP/tests/package/notify_listen.py" "$sock" "$DIR/notify-had.txt" 60
	lpid=$HALB_LAST_PID
	halb_wait_until 5 test -S "$sock" || { bad "halb-had: no notify listener"; return 1; }
	halb_spawn "$DIR/had.log" ip netns exec "$NS" \
		env NOTIFY_SOCKET="$sock" \
		"${MEMLOCK[@]}" \
		setpriv --bounding-set "-all,$caps" --inh-caps -all --no-new-privs -- \
		"$HALB_BUILD/ha/halb-had" -c "$DIR/caps-had.conf"
	had_pid=$HALB_LAST_PID
	if halb_wait_exit "$lpid" 65 && grep -qx 'READY=1' "$DIR/notify-had.txt"; then
		ok "halb-had bounded to $caps: forwarder and classifier up, READY=1"
	else
		bad "halb-had bounded to $caps sent no READY=1; its log:"
		tail -n 20 "$DIR/had.log" >&2
	fi
	rc=0
	halb_stop "$had_pid" TERM 40 || rc=$?
	if [ "$rc" -eq 0 ] && grep -q 'forwarder: stopped' "$DIR/had.log"; then
		ok "halb-had stops its parts and exits 0 on SIGTERM"
	else
		bad "halb-had exited with status $rc on SIGTERM"
		tail -n 5 "$DIR/had.log" >&2
	fi
}
if [ -x "$HALB_BUILD/ha/halb-had" ]; then
	run_had
fi

[ "$failed" -eq 0 ] || { echo "caps: FAILED" >&2; exit 1; }
echo "caps: the units' capabilities suffice and readiness comes"
