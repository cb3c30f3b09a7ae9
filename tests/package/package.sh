#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# What an installation of halb holds, checked in a scratch root
# (docs/PACKAGING.md):
#
#   tests/package/package.sh BUILD        `meson install --destdir` of the
#                                         meson build BUILD (make test)
#   tests/package/package.sh --deb DIR    `dpkg-deb -x` of DIR's halb and
#                                         halb-agent .deb files (make deb)
#
# It checks that the programs, units, first-start script, sample files,
# keys directory and man pages are where the units and the man pages say;
# that the units pass `systemd-analyze verify` (their Exec paths moved into
# the scratch root, man pages looked up there) and say what docs/PACKAGING.md
# promises (Type=notify, the first-start checks, the capabilities); that
# each man page renders with `man -l` without warnings; that the installed
# programs refuse the sample while its key file is missing and accept it
# (and the agent's) once halb-prestart made the keys, as the package's
# postinst does; the hugepages check's verdicts; and that the installed
# halb-healthd and halb-agent tell a notify socket READY=1.
#
# Needs no root, no DPDK process, no hugepages and no namespace: the
# readiness check runs healthd and the agent on 127.0.0.1 only, with
# their probes off, and stops them by PID.  Exits 1 if anything failed.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${HALB_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
PROGS="halb-forwarder halb-classifier halb-healthd halb-agent halbctl halb-exporter halb-sessiond halb-had halb-router"
PAGES="halb.conf.5 halbctl.8 halb-forwarder.8 halb-classifier.8 halb-healthd.8 halb-agent.8 halb-exporter.8 halb-sessiond.8 halb-had.8"
UNITS="halb-forwarder halb-classifier halb-healthd halb-agent halb-exporter halb-sessiond halb-had halb-router"

failed=0
ok() { printf 'ok: %s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*" >&2; failed=1; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

ROOT=$(mktemp -d /tmp/halb-package.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$ROOT" /run/halb/halb-package-test  # healthd's heartbeat (below)
}
trap cleanup EXIT

# ---- install into $ROOT/inst ----

INST=$ROOT/inst
mkdir -p "$INST"
if [ "${1:-}" = --deb ]; then
	DIR=${2:?usage: $0 --deb DIR}
	what="the .deb files in $DIR"
	for pkg in halb halb-agent; do
		deb=$(ls "$DIR"/"${pkg}"_*.deb 2>/dev/null | head -n1)
		[ -n "$deb" ] || die "no ${pkg}_*.deb in $DIR: make deb"
		dpkg-deb -x "$deb" "$INST"
		mkdir -p "$ROOT/ctl/$pkg"
		dpkg-deb -e "$deb" "$ROOT/ctl/$pkg"
		dpkg-deb -f "$deb" Depends > "$ROOT/ctl/$pkg/depends"
	done
	prefix=/usr sbindir=/usr/sbin sysconfdir=/etc libexecdir=/usr/libexec
	mandir=/usr/share/man unitdir=/lib/systemd/system gz=.gz
else
	BUILD=${1:-$TOP/build}
	[ -f "$BUILD/build.ninja" ] || die "$BUILD is no meson build directory: make build"
	what="meson install of $BUILD"
	meson install -C "$BUILD" --destdir "$INST" --quiet >"$ROOT/install.log" 2>&1 ||
		{ cat "$ROOT/install.log" >&2; die "meson install --destdir failed"; }
	# Where this build puts things: meson's options, made absolute.
	eval "$(meson introspect --buildoptions "$BUILD" | "$PY" -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
for k in ("sbindir", "sysconfdir", "libexecdir", "mandir"):
    v = o[k]
    print("%s=%s" % (k, v if v.startswith("/") else p.rstrip("/") + "/" + v))
print("prefix=%s" % p)
')"
	unitdir=$(cd "$INST" && find . -name halb-forwarder.service -printf '/%h\n' | sed 's#^/\./#/#' | head -n1)
	[ -n "$unitdir" ] || die "meson install put no halb-forwarder.service anywhere"
	gz=
fi
echo "package: checking $what in $INST"

# ---- the files ----

for p in $PROGS; do
	if [ -x "$INST$sbindir/$p" ]; then
		v=$("$INST$sbindir/$p" --version 2>&1) || true
		case $v in
		# the DPDK programs name themselves by argv[0]
		"$p "[0-9]* | */"$p "[0-9]*) ok "$sbindir/$p (${v##*/})" ;;
		*) bad "$sbindir/$p --version printed \"$v\"" ;;
		esac
	else
		bad "$sbindir/$p is not installed"
	fi
done
for u in $UNITS; do
	[ -f "$INST$unitdir/$u.service" ] && ok "$unitdir/$u.service" ||
		bad "$unitdir/$u.service is not installed"
done
[ -x "$INST$libexecdir/halb/halb-prestart" ] && ok "$libexecdir/halb/halb-prestart" ||
	bad "$libexecdir/halb/halb-prestart is not installed"
for f in halb.conf agent.conf; do
	[ -f "$INST$sysconfdir/halb/$f" ] && ok "$sysconfdir/halb/$f" ||
		bad "$sysconfdir/halb/$f is not installed"
done
keys=$INST$sysconfdir/halb/keys
if [ -d "$keys" ]; then
	m=$(stat -c %a "$keys")
	[ "$m" = 700 ] && ok "$sysconfdir/halb/keys (0700)" ||
		bad "$sysconfdir/halb/keys has mode $m, not 700"
else
	bad "$sysconfdir/halb/keys is not installed"
fi

# ---- man pages: each renders, without warnings ----

export MANWIDTH=80
for page in $PAGES; do
	sec=${page##*.}
	f=$INST$mandir/man$sec/$page$gz
	if [ ! -f "$f" ]; then
		bad "man page $mandir/man$sec/$page$gz is not installed (scdoc missing? scripts/deps.sh)"
		continue
	fi
	out=$(man --warnings -l "$f" 2>"$ROOT/man.err" | col -b) || true
	name=${page%.*}
	if ! grep -q '^NAME' <<<"$out" || ! grep -q "^ *$name - " <<<"$out"; then
		bad "man -l $page: no NAME section naming $name"
	elif [ -s "$ROOT/man.err" ]; then
		bad "man -l $page warns: $(head -n3 "$ROOT/man.err")"
	else
		ok "man -l $page ($(wc -l <<<"$out") lines)"
	fi
done

# ---- units ----

# The Exec programs must be the installed ones, or the system's own
# (ExecReload's /bin/kill, from procps, a dependency of systemd).
for u in $UNITS; do
	f=$INST$unitdir/$u.service
	[ -f "$f" ] || continue
	for exe in $(sed -n -E 's/^Exec[A-Za-z]*=[-@:+!]*([^ ]+).*/\1/p' "$f"); do
		case $exe in
		/bin/* | /usr/bin/*) [ -x "$exe" ] ||
			bad "$u.service runs $exe, which this system lacks" ;;
		*) [ -x "$INST$exe" ] ||
			bad "$u.service runs $exe, which is not installed" ;;
		esac
	done
done
# systemd-analyze verify on copies whose Exec paths point into $INST,
# with the man pages of Documentation= looked up there.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$ROOT/units"
	for u in $UNITS; do
		sed -E -e "s#^(Exec[A-Za-z]*=[-@:+!]*)/#\1$INST/#" \
			-e "s#^(Exec[A-Za-z]*=[-@:+!]*)$INST/(bin|usr/bin)/#\1/\2/#" \
			"$INST$unitdir/$u.service" \
			>"$ROOT/units/$u.service"
	done
	if MANPATH=$INST$mandir SYSTEMD_LOG_LEVEL=notice \
		systemd-analyze verify "$ROOT"/units/*.service >"$ROOT/verify.log" 2>&1 &&
		[ ! -s "$ROOT/verify.log" ]; then
		ok "systemd-analyze verify: $UNITS"
	else
		bad "systemd-analyze verify: $(cat "$ROOT/verify.log")"
	fi
else
	echo "package: no systemd-analyze here: units not verified"
fi

# unit_has UNIT LINE: the unit holds exactly this line.
unit_has() {
	if grep -qxF -- "$2" "$INST$unitdir/$1.service"; then
		ok "$1.service: $2"
	else
		bad "$1.service lacks \"$2\""
	fi
}
for u in $UNITS; do
	unit_has "$u" "Type=notify"
done
conf=$sysconfdir/halb/halb.conf
unit_has halb-forwarder "ExecStartPre=$sbindir/halb-forwarder --check-config $conf"
unit_has halb-forwarder "ExecStartPre=$libexecdir/halb/halb-prestart hugepages"
unit_has halb-forwarder "ExecStart=$sbindir/halb-forwarder -c $conf"
unit_has halb-forwarder "Restart=on-failure"
unit_has halb-forwarder "CapabilityBoundingSet=CAP_IPC_LOCK CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_RAWIO"
unit_has halb-forwarder "LimitMEMLOCK=infinity"
unit_has halb-classifier "BindsTo=halb-forwarder.service"
unit_has halb-classifier "After=halb-forwarder.service"
unit_has halb-classifier "WantedBy=halb-forwarder.service"
unit_has halb-classifier "ExecStartPre=$sbindir/halb-classifier --check-config $conf"
unit_has halb-classifier "CapabilityBoundingSet=CAP_IPC_LOCK"
unit_has halb-sessiond "BindsTo=halb-forwarder.service"
unit_has halb-sessiond "WantedBy=halb-forwarder.service"
unit_has halb-sessiond "ExecStartPre=$sbindir/halb-sessiond --check-config $conf"
unit_has halb-sessiond "CapabilityBoundingSet=CAP_IPC_LOCK CAP_NET_BIND_SERVICE"
unit_has halb-healthd "ExecStartPre=$sbindir/halb-healthd --check-config $conf"
unit_has halb-healthd "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"
unit_has halb-exporter "ExecStart=$sbindir/halb-exporter -c $conf"
unit_has halb-exporter "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"
unit_has halb-agent "ExecStartPre=$sbindir/halb-agent --check-config $sysconfdir/halb/agent.conf"
unit_has halb-agent "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"
unit_has halb-agent "Restart=always"
unit_has halb-had "ExecStartPre=$sbindir/halb-had --check-config $conf"
unit_has halb-had "ExecStart=$sbindir/halb-had -c $conf"
unit_has halb-had "KillMode=process"
unit_has halb-had "Restart=always"
unit_has halb-had "WatchdogSec=5s"
unit_has halb-had "CapabilityBoundingSet=CAP_IPC_LOCK CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_RAWIO CAP_NET_BIND_SERVICE"
unit_has halb-had "Conflicts=halb-forwarder.service halb-classifier.service halb-healthd.service halb-sessiond.service halb-router.service"

# ---- the sample configuration and its keys ----

bin=$INST$sbindir
etc=$INST$sysconfdir/halb
prestart=$INST$libexecdir/halb/halb-prestart
# Before the package made the key: refused, naming the key file.
if "$bin/halb-forwarder" --check-config "$etc/halb.conf" >/dev/null 2>"$ROOT/err"; then
	bad "halb-forwarder --check-config accepts the sample without keys/health.key"
elif grep -q 'health.key_file: cannot open .*keys/health.key' "$ROOT/err"; then
	ok "without its key the sample is refused: $(head -n1 "$ROOT/err")"
else
	bad "without its key, the sample's refusal does not name keys/health.key: $(cat "$ROOT/err")"
fi
# What postinst does (halb: health.key; halb-agent: agent.key, the same
# way); handler.key is what the operator copies from the appliance.
"$prestart" key "$etc/keys/health.key" "$etc/keys/agent.key" >/dev/null
sum=$(md5sum <"$etc/keys/health.key")
"$prestart" key "$etc/keys/health.key" >"$ROOT/out"
if [ "$(md5sum <"$etc/keys/health.key")" = "$sum" ] && grep -q 'exists: kept' "$ROOT/out"; then
	ok "halb-prestart key keeps an existing key"
else
	bad "halb-prestart key changed an existing key"
fi
for k in health agent; do
	m=$(stat -c %a "$etc/keys/$k.key")
	[ "$m" = 600 ] && grep -qxE '[0-9a-f]{64}' "$etc/keys/$k.key" &&
		ok "keys/$k.key: 64 hex digits, mode 0600" ||
		bad "keys/$k.key: mode $m or content is not 64 hex digits"
done
cp -p "$etc/keys/health.key" "$etc/keys/handler.key"
for p in halb-forwarder halb-classifier halb-healthd halbctl halb-exporter halb-had; do
	if out=$("$bin/$p" --check-config "$etc/halb.conf" 2>&1); then
		ok "$p --check-config halb.conf: $out"
	else
		bad "$p --check-config halb.conf: $out"
	fi
done
if out=$("$bin/halb-agent" --check-config "$etc/agent.conf" 2>&1); then
	ok "halb-agent --check-config agent.conf: $out"
else
	bad "halb-agent --check-config agent.conf: $out"
fi

# ---- the hugepages check ----

if HALB_HUGEPAGES_MIN_MB=1000000000 "$prestart" hugepages >/dev/null 2>"$ROOT/err"; then
	bad "halb-prestart hugepages passes with a need of 1000000000 MB"
elif grep -q 'nr_hugepages' "$ROOT/err" || grep -q 'no hugetlbfs is mounted' "$ROOT/err"; then
	ok "halb-prestart hugepages refuses too few, saying how to reserve: $(head -n1 "$ROOT/err")"
else
	bad "halb-prestart hugepages refuses too few without saying how to fix it: $(cat "$ROOT/err")"
fi
if grep -q ' hugetlbfs ' /proc/mounts; then
	HALB_HUGEPAGES_MIN_MB=0 "$prestart" hugepages >/dev/null 2>&1 &&
		ok "halb-prestart hugepages passes with a need of 0 MB" ||
		bad "halb-prestart hugepages fails with a need of 0 MB"
fi
HALB_HUGEPAGES_MIN_MB=lots "$prestart" hugepages >/dev/null 2>&1 &&
	bad "halb-prestart hugepages takes HALB_HUGEPAGES_MIN_MB=lots" ||
	ok "halb-prestart hugepages refuses HALB_HUGEPAGES_MIN_MB=lots"

# ---- readiness: READY=1 from the installed healthd and agent ----

# Copies of the samples beside them (their keys/ resolve the same) that
# listen on 127.0.0.1 only, keep their sockets and state in $ROOT, probe
# nothing, and name an instance of their own (healthd's heartbeat goes to
# /run/halb/halb-package-test/).
port=$((20000 + RANDOM % 20000))
mkdir -p "$ROOT/run"
sed -e "s#listen = \"0.0.0.0:7300\";#listen = \"127.0.0.1:$port\"; socket = \"$ROOT/run/h.health\"; status_socket = \"$ROOT/run/h.sock\"; state_file = \"$ROOT/run/h.operator\";#" \
	-e 's#file_prefix = "halb";#file_prefix = "halb-package-test";#' \
	-e 's#check = { type = "http"; path = "/"; expect = 200; };#check = { type = "none"; };#' \
	"$etc/halb.conf" >"$etc/ready.conf"
sed -e "s#listen = \"0.0.0.0:7301\";#listen = \"127.0.0.1:$((port + 1))\"; control = \"$ROOT/run/a.sock\";#" \
	-e "s#handlers = \[ \"10.0.0.3:7300\" \];#handlers = [ \"127.0.0.1:$port\" ];#" \
	-e 's#check = { type = "http"; url = "http://127.0.0.1:80/"; expect = 200; };#check = { type = "none"; };#' \
	"$etc/agent.conf" >"$etc/ready-agent.conf"
grep -q "127.0.0.1:$port" "$etc/ready.conf" && grep -q 'type = "none"' "$etc/ready.conf" &&
	grep -q 'halb-package-test' "$etc/ready.conf" &&
	grep -q "127.0.0.1:$((port + 1))" "$etc/ready-agent.conf" &&
	grep -q "handlers = \[ \"127.0.0.1:$port\" \]" "$etc/ready-agent.conf" ||
	die "the samples changed: update the readiness copies in $0"

# ready PROG CONF: runs PROG -c CONF under a notify socket; ok when READY=1
# arrives within 10 s and PROG then stops on SIGTERM with status 0.
ready() {
	local prog=$1 conf=$2 sock=$ROOT/run/notify-$1 got=$ROOT/notify-$1.txt lpid ppid rc
	"$PY" "$TOP/tests/package/notify_listen.py" "$sock" "$got" 10 &
	lpid=$!
	PIDS+=("$lpid")
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || { bad "$prog: the notify listener did not start"; return; }
	NOTIFY_SOCKET=$sock "$bin/$prog" -c "$conf" >"$ROOT/$prog.log" 2>&1 &
	ppid=$!
	PIDS+=("$ppid")
	rc=0
	wait "$lpid" || rc=$?
	if [ "$rc" -eq 0 ] && grep -qx 'READY=1' "$got"; then
		ok "$prog -c $(basename "$conf"): READY=1 on \$NOTIFY_SOCKET"
	else
		bad "$prog sent no READY=1 in 10 s (got: $(tr '\n' ' ' <"$got" 2>/dev/null); log: $(tail -n3 "$ROOT/$prog.log"))"
	fi
	kill -TERM "$ppid" 2>/dev/null || true
	rc=0
	wait "$ppid" || rc=$?
	[ "$rc" -eq 0 ] && ok "$prog stops on SIGTERM with status 0" ||
		bad "$prog exited with status $rc on SIGTERM (log: $(tail -n3 "$ROOT/$prog.log"))"
}
ready halb-healthd "$etc/ready.conf"
ready halb-agent "$etc/ready-agent.conf"

# ---- the .deb files' control data ----

if [ "${1:-}" = --deb ]; then
	grep -qx /etc/halb/halb.conf "$ROOT/ctl/halb/conffiles" &&
		ok "halb: /etc/halb/halb.conf is a conffile" ||
		bad "halb: /etc/halb/halb.conf is not a conffile"
	grep -qx /etc/halb/agent.conf "$ROOT/ctl/halb-agent/conffiles" &&
		ok "halb-agent: /etc/halb/agent.conf is a conffile" ||
		bad "halb-agent: /etc/halb/agent.conf is not a conffile"
	if grep -q librte "$ROOT/ctl/halb-agent/depends"; then
		bad "halb-agent depends on DPDK: $(cat "$ROOT/ctl/halb-agent/depends")"
	else
		ok "halb-agent needs no DPDK: $(cat "$ROOT/ctl/halb-agent/depends")"
	fi
	grep -q 'librte-net-af-packet23' "$ROOT/ctl/halb/depends" &&
		ok "halb depends on the sample's PMD (librte-net-af-packet23)" ||
		bad "halb does not depend on librte-net-af-packet23"
	grep -q 'halb-prestart key /etc/halb/keys/health.key' "$ROOT/ctl/halb/postinst" &&
		ok "halb's postinst makes keys/health.key" ||
		bad "halb's postinst does not make keys/health.key"
	# dh_installsystemd --no-enable --no-start: a unit is enabled again
	# only if it was installed and enabled before (debian-installed,
	# was-enabled), and nothing is started or restarted.
	for pkg in halb halb-agent; do
		pi=$ROOT/ctl/$pkg/postinst
		if grep -q 'deb-systemd-invoke' "$pi"; then
			bad "$pkg's postinst starts or restarts a unit"
		elif [ "$(grep -c "deb-systemd-helper enable" "$pi")" -ne \
		       "$(grep -c "deb-systemd-helper debian-installed" "$pi")" ]; then
			bad "$pkg's postinst enables a unit on first installation"
		else
			ok "$pkg's postinst neither enables nor starts its units"
		fi
	done
fi

if [ "$failed" -ne 0 ]; then
	echo "package: FAILED ($what)" >&2
	exit 1
fi
echo "package: all checks passed ($what)"
