#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# End-to-end test of a configuration reload (docs/RELOAD.md), run by
# `make test` after tests/e2e/health.sh; needs root, the build in build/
# (or $HALB_BUILD) and hugepages.
#
# The rig of tests/e2e/topo.sh under a prefix of its own; the forwarder,
# the classifier and halb-healthd on a copy of conf/halb.conf whose
# web-dsr (down_flows "reset") and web-nat (made down_flows "keep") have
# backends b1 and b2 only; a halb-agent and an HTTP server on each backend
# host.  Under a stream of keep-alive connections (one held to b1 and one
# to b2 in each of the two services) and of new connections to web-nat,
# `halbctl reload` applies a file where both services lose b2 and gain
# b3.  Checks:
#   - the reload is applied: halbctl prints each change (b2 removed, its
#     flows reset in web-dsr and kept in web-nat; b3 added), then
#     halb-healthd's; the generation moved in `halbctl status`;
#   - 0 errors on every connection whose backend stays: the keep-alive
#     connections to b1, web-nat's to b2 (kept), and every new
#     connection to web-nat during the reload;
#   - web-dsr's keep-alive connection to b2 is reset (its errors counted
#     and printed);
#   - after the reload, new connections to both services go to b1 and b3
#     only, and b3 is up from its agent in `halbctl health`;
#   - a reload that changes a port is refused with the reason, and
#     changes nothing (generation, reload_refused +1);
#   - no process died, no sanitizer report in any log.
# Prints PASS/FAIL per check and "reload: N passed, M failed"; exits
# non-zero on any failure.  Every exit path stops the processes it
# started (by PID), removes the rig, the DPDK files of its prefix and its
# temporary directory.
set -uo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INTERVAL_MS=${RELOAD_INTERVAL_MS:-500}   # the agents' report interval
HOLD_SECONDS=${RELOAD_HOLD_SECONDS:-60}  # upper bound: holds end on a stop file
NEW_N=${RELOAD_NEW_N:-300}               # new connections after the reload
CONF_SRC=${HALB_CONF:-$HALB_TOP/conf/halb.conf}
DSR_URL=http://198.18.2.100/
NAT_URL=http://198.18.2.101/

halb_require_root
halb_check_binaries healthload/halb-healthd healthload/halb-agent
halb_check_hugepages
[ -r "$CONF_SRC" ] || halb_die "$CONF_SRC is missing"

P=hr$$
FP=halb_hr$$
# Unix socket paths must stay short (108 bytes): a short temporary dir.
WORK=$(mktemp -d /tmp/halb-reload.XXXXXX)
CONF=$WORK/halb.conf
CONF2=$WORK/halb-reloaded.conf
TOPO=0
FWD_PID=
CLS_PID=
HD_PID=
declare -A HOLD_PID

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	halb_stop_all
	[ "$TOPO" = 1 ] && "$HALB_E2E_DIR/topo.sh" down "$P"
	halb_remove_dpdk_files "$FP"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "reload: interrupted" >&2; exit 130' INT
trap 'echo "reload: terminated" >&2; exit 143' TERM

halb_checks reload forwarder classifier healthd

ctl() { halb_ctl "$P" "$CONF" "$@"; }
summary() { grep '^{' "$1" 2>/dev/null | tail -n 1 || echo "(no summary)"; }
# jget JSON KEY: an integer of a client summary line ("failed", "ok").
jget() { "$HALB_PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1] or "{}").get(sys.argv[2], -1))' "$1" "$2" 2>/dev/null || echo -1; }
# backends_of JSON: the backends that answered, comma-separated, sorted.
backends_of() { "$HALB_PYTHON" -c 'import json,sys; print(",".join(sorted(json.loads(sys.argv[1] or "{}").get("by_backend", {}))))' "$1" 2>/dev/null; }
status_get() { ctl status 2>/dev/null | awk -v k="$1:" '$1 == k { print $2; exit }'; }

# edit_conf IN OUT DROP ADD: IN with, in web-dsr and web-nat, backend
# host DROP's entry removed (IPv4) and ADD's (none: "") kept, web-nat
# down_flows "keep"; sockets and the state file in WORK.
edit_conf() {
	"$HALB_PYTHON" - "$@" "$WORK" <<'EOF'
import re, sys
src, dst, drop, work = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
text = open(src).read()
for svc in ("web-dsr", "web-nat"):
    start = text.index('{ name = "%s";' % svc)
    end = text.index("} );", start) + 4
    block = text[start:end]
    items = re.findall(r"\{ ip = [^{}]*\{[^{}]*\}; \},?|\{ ip = [^{}]*\},?", block)
    keep = [i.rstrip(",") for i in items if '"198.18.0.1%s"' % drop[1:] not in i]
    head = block[:block.index(items[0])]
    if svc == "web-nat" and "down_flows" not in head:
        head = head.replace('scheduler = "maglev";', 'scheduler = "maglev";\n    down_flows = "keep";')
    block = head + ",\n      ".join(keep) + " );"
    text = text[:start] + block + text[end:]
open(dst, "w").write(text)
EOF
}

echo "reload: rig $P, DPDK file prefix $FP, binaries from $HALB_BUILD, work dir $WORK"

# --- configuration --------------------------------------------------------
sed -E -e 's/^([[:space:]]*file_prefix[[:space:]]*=[[:space:]]*)"[^"]*"/\1"'"$FP"'"/' \
	-e 's/^([[:space:]]*handler_timeout_ms[[:space:]]*=[[:space:]]*)([0-9]+);/\1\2; socket = "'"${WORK//\//\\/}"'\/cls.health"; status_socket = "'"${WORK//\//\\/}"'\/healthd.sock"; state_file = "'"${WORK//\//\\/}"'\/operator";/' \
	"$CONF_SRC" >"$WORK/full.conf"
edit_conf "$WORK/full.conf" "$CONF" b3 || fatal "cannot write the first configuration"
edit_conf "$WORK/full.conf" "$CONF2" b2 || fatal "cannot write the reloaded configuration"
chmod 600 "$CONF" "$CONF2" "$WORK/full.conf"  # they hold keys
grep -q "status_socket = \"$WORK/healthd.sock\"" "$CONF" ||
	fatal "could not set the sockets in a copy of $CONF_SRC (no handler_timeout_ms line?)"
for f in "$CONF" "$CONF2"; do
	out=$("$HALB_BUILD/forwarder/halb-forwarder" --check-config "$f" 2>&1) ||
		fatal "halb-forwarder --check-config rejects $f: $out"
done
n1=$(grep -c '"198.18.0.13"' "$CONF") n2=$(grep -c '"198.18.0.12"' "$CONF2")
[ "$n1" -eq 1 ] && [ "$n2" -eq 1 ] && grep -q 'down_flows = "keep"' "$CONF2" ||
	fatal "the two configurations are not as meant (b3 in $n1 services before, b2 in $n2 after: 1 each, web-tunnel)"
pass "configurations: web-dsr and web-nat on b1 and b2, then on b1 and b3"
halb_conf_health "$CONF" 2>"$WORK/why.txt" || fatal "$(cat "$WORK/why.txt")"
halb_write_agent_confs "$CONF" "$WORK" "$INTERVAL_MS" 2 2>"$WORK/why.txt" ||
	fatal "the agents' files: $(cat "$WORK/why.txt")"

# --- rig ------------------------------------------------------------------
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" || fatal "topo.sh up $P"
for i in 1 2 3 4 5 6; do
	ip -n "$P-cli" addr add "198.18.1.$((100 + i))/24" dev eth0 || fatal "cannot add a client address"
done
halb_start_backends "$P" "$WORK" || fatal "the backends' HTTP servers did not start"

halb_spawn "$WORK/forwarder.log" ip netns exec "$P-lb" "$HALB_BUILD/forwarder/halb-forwarder" -c "$CONF"
FWD_PID=$HALB_LAST_PID
forwarder_answers_or_died() { ! halb_alive "$FWD_PID" || ctl status >/dev/null 2>&1; }
halb_wait_until 30 forwarder_answers_or_died
halb_alive "$FWD_PID" && ctl status >/dev/null 2>&1 ||
	fatal "the forwarder did not come up: $(tail -n 5 "$WORK/forwarder.log")"
halb_spawn "$WORK/classifier.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" -c "$CONF"
CLS_PID=$HALB_LAST_PID
classifier_up_or_died() { ! halb_alive "$CLS_PID" || halb_classifier_up "$P" "$CONF"; }
halb_wait_until 30 classifier_up_or_died
halb_alive "$CLS_PID" && halb_classifier_up "$P" "$CONF" || fatal "the classifier did not come up"
halb_wait_until 5 test -S "$WORK/cls.health" || fatal "the classifier did not bind $WORK/cls.health"
halb_start_healthd "$P" "$CONF" "$WORK/healthd.log"
HD_PID=$HALB_LAST_PID
halb_wait_until 10 halb_healthd_up "$P" "$CONF" || fatal "halb-healthd does not answer: $(tail -n 5 "$WORK/healthd.log")"
halb_start_agents "$P" "$WORK" 2>"$WORK/why.txt" || fatal "$(cat "$WORK/why.txt")"
# health_has [SERVICE BACKEND] STATE N: at least N backends (of SERVICE,
# whose endpoint starts with BACKEND) in STATE in halbctl health json.
health_has() {
	ctl health json 2>/dev/null | "$HALB_PYTHON" -c '
import json, sys
a = sys.argv[1:]
svc, be = (a[0], a[1]) if len(a) == 4 else (None, None)
state, n = a[-2], int(a[-1])
rows = [json.loads(l) for l in sys.stdin if l.strip()]
hit = [r for r in rows if "backend" in r and r.get("state") == state
       and (svc is None or (r["service"] == svc and r["backend"].startswith(be)))]
sys.exit(0 if len(hit) >= n else 1)' "$@"
}
all_up() { health_has up 16; }
halb_wait_until 20 all_up ||
	fatal "not every backend is up in halbctl health within 20 s: $(ctl health 2>&1 | head -n 20 | tr '\n' ';')"
halb_wait_until 20 halb_client "$P" --url "$DSR_URL" --count 1 --timeout 1 >/dev/null 2>&1 ||
	fatal "no answer through $DSR_URL within 20 s"
pass "rig up: forwarder, classifier, halb-healthd, an agent and an HTTP server on each backend; all 16 backends up"

# --- the stream: keep-alive connections held, new connections ---------------
# hold NAME URL WANT SOURCE: one keep-alive connection answered by WANT.
hold() {
	rm -f "$WORK/stop-$1"
	halb_spawn "$WORK/hold-$1.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
		--source "$4" --url "$2" --keepalive-hold "$HOLD_SECONDS" --want "$3" \
		--stop-file "$WORK/stop-$1" --timeout 3
	HOLD_PID[$1]=$HALB_LAST_PID
}
hold dsr-b1 "$DSR_URL" b1 198.18.1.101
hold dsr-b2 "$DSR_URL" b2 198.18.1.102
hold nat-b1 "$NAT_URL" b1 198.18.1.103
hold nat-b2 "$NAT_URL" b2 198.18.1.104
holds_connected() {
	local n
	for n in "${!HOLD_PID[@]}"; do grep -qs '^connected' "$WORK/hold-$n.out" || return 1; done
}
halb_wait_until 20 holds_connected ||
	fatal "the keep-alive connections did not all connect within 20 s: $(grep -h . "$WORK"/hold-*.out | tr '\n' ' ')"
pass "keep-alive connections held: web-dsr to b1 and b2, web-nat to b1 and b2"
# New connections to web-nat throughout the reload, until told to stop.
rm -f "$WORK/stop-stream"
halb_spawn "$WORK/stream.out" ip netns exec "$P-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" \
	--source 198.18.1.105 --url "$NAT_URL" --count 100000 --parallel 4 --timeout 3 \
	--stop-file "$WORK/stop-stream"
STREAM_PID=$HALB_LAST_PID
sleep 1  # the stream under way, the holds a few requests in

# --- the reload ---------------------------------------------------------------
# As an operator does: the file every program runs from is edited, then
# `halbctl -c FILE reload` (the forwarder loads FILE, halb-healthd its own).
gen0=$(status_get generation)
cp "$CONF2" "$CONF"
out=$(ctl reload 2>&1)
rc=$?
gen1=$(status_get generation)
echo "$out" | sed 's/^/    | /'
if [ "$rc" -eq 0 ] && [ -n "$gen0" ] && [ "$gen1" = $((gen0 + 1)) ] &&
	echo "$out" | grep -Eq 'service web-dsr: backend 198\.18\.0\.12:80 removed, [0-9]+ flows? reset' &&
	echo "$out" | grep -Eq 'service web-nat: backend 198\.18\.0\.12:8080 removed, [0-9]+ flows? kept' &&
	echo "$out" | grep -q 'service web-dsr: backend 198.18.0.13:80 added' &&
	echo "$out" | grep -q '^healthd: reloaded'; then
	pass "halbctl reload: applied (generation $gen0 -> $gen1), each change said, halb-healthd reloaded"
else
	fail "halbctl reload: status $rc, generation $gen0 -> $gen1: $(echo "$out" | tr '\n' ';')"
fi
halb_wait_until 5 test "$(status_get classifier_generation)" = "$gen1" ||
	fail "the classifier did not apply generation $gen1: $(status_get classifier_generation)"
sleep 3  # the stream and the holds go on past one expiry sweep
touch "$WORK/stop-stream"
for n in "${!HOLD_PID[@]}"; do touch "$WORK/stop-$n"; done
halb_wait_exit "$STREAM_PID" 20
for n in "${!HOLD_PID[@]}"; do halb_wait_exit "${HOLD_PID[$n]}" 20; done

# --- what the connections saw -------------------------------------------------
for n in dsr-b1 nat-b1 nat-b2; do
	s=$(summary "$WORK/hold-$n.out")
	if [ "$(jget "$s" failed)" = 0 ] && [ "$(jget "$s" ok)" -gt 10 ] && [ "$(jget "$s" connections)" = 1 ]; then
		pass "$n: the keep-alive connection went through the reload without an error: $s"
	else
		fail "$n: the keep-alive connection (its backend stays) saw errors: $s"
	fi
done
s=$(summary "$WORK/hold-dsr-b2.out")
if [ "$(jget "$s" failed)" -gt 0 ]; then
	pass "dsr-b2: the keep-alive connection to the removed backend was reset (down_flows reset): $(jget "$s" failed) errors counted: $s"
else
	fail "dsr-b2: the connection to the removed backend of a down_flows reset service saw no error: $s"
fi
s=$(summary "$WORK/stream.out")
if [ "$(jget "$s" failed)" = 0 ] && [ "$(jget "$s" ok)" -gt 0 ]; then
	pass "web-nat: $(jget "$s" ok) new connections during the reload, 0 errors: $s"
else
	fail "web-nat: new connections during the reload saw errors: $s"
fi

# --- after the reload -----------------------------------------------------------
b3_up() { health_has web-dsr 198.18.0.13: up 1; }
if halb_wait_until 10 b3_up; then
	pass "halbctl health: web-dsr's new backend 198.18.0.13 is up (halb-healthd reloaded, its agent heard)"
else
	fail "halbctl health: web-dsr's 198.18.0.13 not up within 10 s: $(ctl health 2>&1 | grep web-dsr | tr '\n' ';')"
fi
for svc_url in "web-dsr $DSR_URL 198.18.1.106" "web-nat $NAT_URL 198.18.1.106"; do
	read -r svc url src <<<"$svc_url"
	s=$(halb_client "$P" --source "$src" --url "$url" --count "$NEW_N" --parallel 4 --timeout 3 2>&1 | tail -n 1)
	if [ "$(jget "$s" failed)" = 0 ] && [ "$(backends_of "$s")" = "b1,b3" ]; then
		pass "$svc: $NEW_N new connections after the reload, all answered by b1 and b3: $s"
	else
		fail "$svc: new connections after the reload: $s (want b1 and b3 only, no error)"
	fi
done

# --- a refused reload changes nothing --------------------------------------------
sed -E 's/mtu = 1500;/mtu = 1400;/' "$CONF2" >"$WORK/bad.conf"
chmod 600 "$WORK/bad.conf"
ref0=$(status_get reload_refused)
out=$(halb_ctl "$P" "$WORK/bad.conf" reload 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && echo "$out" | grep -q 'ports\[0\]\.mtu changed: needs a restart' &&
	[ "$(status_get generation)" = "$gen1" ] && [ "$(status_get reload_refused)" = $((ref0 + 1)) ]; then
	pass "a reload that changes a port is refused, with the reason, and changes nothing: $(echo "$out" | tail -n 1)"
else
	fail "a reload that changes a port: status $rc, generation $(status_get generation) (was $gen1): $(echo "$out" | tr '\n' ';')"
fi

# --- nothing died ------------------------------------------------------------------
if halb_alive "$FWD_PID" && halb_alive "$CLS_PID" && halb_alive "$HD_PID"; then
	pass "the forwarder, the classifier and halb-healthd are all alive"
else
	fail "a process died: forwarder $(halb_alive "$FWD_PID" && echo up || echo gone), classifier $(halb_alive "$CLS_PID" && echo up || echo gone), healthd $(halb_alive "$HD_PID" && echo up || echo gone)"
fi
if grep -lE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$WORK"/*.log >/dev/null 2>&1; then
	fail "sanitizer reports in $(grep -lE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$WORK"/*.log | tr '\n' ' ')"
else
	pass "no sanitizer report in any log"
fi
finish
