# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Helpers shared by tests/e2e/topo.sh, tests/e2e/e2e.sh, tests/e2e/health.sh
# and scripts/demo.sh: bounded waits, processes started and stopped by their
# own PID, the services of conf/halb.conf as the rig sees them, and health
# and load (halb-healthd on the appliance, halb-agent on each backend).
# Source it; it defines functions and variables only and starts nothing.
#
# Processes: every background process is started through halb_spawn, which
# records its PID in HALB_PIDS; halb_stop_all stops exactly those PIDs (TERM,
# bounded wait, then KILL), newest first.  Nothing is ever stopped by name.

HALB_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HALB_TOP=$(cd "$HALB_E2E_DIR/../.." && pwd)
HALB_BUILD=${HALB_BUILD:-$HALB_TOP/build}
# Debian's python3 (what scripts/deps.sh installs) before whatever PATH
# finds first: version-manager shims cost 0.3 s a start, and the rig starts
# a client every second per service.
HALB_PYTHON=${HALB_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

# The services of conf/halb.conf, one per line: its name there, the URL the
# client uses.  VIP .100 is direct server return, .101 NAT (the service
# listens on port 80, the backends on 8080), .102 VXLAN tunnel.  Keep in
# step with conf/halb.conf.
HALB_SERVICES4="web-dsr http://198.18.2.100/
web-nat http://198.18.2.101/
web-tunnel http://198.18.2.102/"
HALB_SERVICES6="web6-dsr http://[fd00:68:2::100]/
web6-nat http://[fd00:68:2::101]/
web6-tunnel http://[fd00:68:2::102]/"
# Backends and their configured weights (every service uses all three).
HALB_BACKENDS="b1 b2 b3"
declare -A HALB_WEIGHT=([b1]=1 [b2]=1 [b3]=2)

HALB_PIDS=()

halb_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
halb_die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# ---- a test script's checks ------------------------------------------------
# halb_checks NAME [LOG...]: the checks of test script NAME.  pass MSG and
# fail MSG print a PASS/FAIL line and count it; fail then shows the last
# HALB_LOG_TAIL (15) lines of each LOG that is not empty ($WORK/LOG.log, or
# a path; without LOG, every $WORK/*.log).  fatal MSG fails and finishes.
# finish prints what the script's own halb_checks_notes says (when it
# defines one), then "NAME: P passed, F failed (S s)", and exits 0 only
# when nothing failed and something passed.
halb_checks() {
	HALB_CHECKS_NAME=$1
	shift
	HALB_CHECKS_LOGS=("$@")
	PASSED=0
	FAILED=0
}
show_logs() {
	local f n=${HALB_LOG_TAIL:-15} logs=("${HALB_CHECKS_LOGS[@]}")

	[ "${#logs[@]}" -gt 0 ] || logs=("$WORK"/*.log)
	for f in "${logs[@]}"; do
		[[ $f == */* ]] || f=$WORK/$f.log
		[ -s "$f" ] || continue
		echo "    --- last $n lines of ${f##*/}:"
		tail -n "$n" "$f" | sed 's/^/    | /'
	done
}
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; show_logs; }
finish() {
	if declare -F halb_checks_notes >/dev/null; then
		halb_checks_notes
	fi
	echo "$HALB_CHECKS_NAME: $PASSED passed, $FAILED failed (${SECONDS} s)"
	[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
	exit
}
fatal() { fail "$*"; echo "$HALB_CHECKS_NAME: stopping here: later checks need this step"; finish; }

halb_require_root() {
	[ "$(id -u)" -eq 0 ] || halb_die "must run as root (network namespaces, hugepages, DPDK): try sudo $0"
}

# halb_wait_until TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds
# or TIMEOUT_S seconds have passed; returns CMD's last status.
halb_wait_until() {
	local timeout=$1; shift
	local deadline=$((SECONDS + timeout))
	while :; do
		"$@" && return 0
		[ "$SECONDS" -ge "$deadline" ] && { "$@"; return; }
		sleep 0.2
	done
}

# halb_spawn LOGFILE CMD...: start CMD in the background with stdout and
# stderr to LOGFILE; sets HALB_LAST_PID and records it for halb_stop_all.
# `ip netns exec` execs its command, so the PID is the program's own.
halb_spawn() {
	local logfile=$1; shift
	"$@" >"$logfile" 2>&1 </dev/null 8>&- 9>&- &
	HALB_LAST_PID=$!
	HALB_PIDS+=("$HALB_LAST_PID")
}

halb_alive() { kill -0 "$1" 2>/dev/null; }

# halb_reap PID: wait for our child PID and forget it, so that a later
# halb_stop_all cannot signal a stranger that reuses the number.  Returns
# its exit status.
halb_reap() {
	local pid=$1 rc i
	wait "$pid" 2>/dev/null
	rc=$?
	for i in "${!HALB_PIDS[@]}"; do
		[ "${HALB_PIDS[i]}" = "$pid" ] && unset 'HALB_PIDS[i]'
	done
	HALB_PIDS=("${HALB_PIDS[@]}")
	return "$rc"
}

# halb_wait_exit PID TIMEOUT_S: wait up to TIMEOUT_S for PID to end by
# itself; returns its exit status, or 124 after killing it.
halb_wait_exit() {
	local pid=$1
	if halb_wait_until "$2" eval "! kill -0 $pid 2>/dev/null"; then
		halb_reap "$pid"
	else
		kill -s KILL "$pid" 2>/dev/null
		halb_reap "$pid"
		return 124
	fi
}

# halb_stop PID [SIGNAL] [TIMEOUT_S]: signal PID (default TERM), wait up to
# TIMEOUT_S (default 10) for it to exit, then KILL it.  Returns its exit
# status (128 + signal number when a signal ended it).
halb_stop() {
	local pid=$1 sig=${2:-TERM} timeout=${3:-10}
	if halb_alive "$pid"; then
		kill -s "$sig" "$pid" 2>/dev/null
		if ! halb_wait_until "$timeout" eval "! kill -0 $pid 2>/dev/null"; then
			halb_log "PID $pid did not exit within ${timeout}s of SIG$sig; killing it"
			kill -s KILL "$pid" 2>/dev/null
		fi
	fi
	halb_reap "$pid"
}

# Stop every process halb_spawn started and that is not reaped yet, newest
# first.
halb_stop_all() {
	local i
	for ((i = ${#HALB_PIDS[@]} - 1; i >= 0; i--)); do
		halb_stop "${HALB_PIDS[i]}" TERM 5 || true
	done
	HALB_PIDS=()
}

# halb_start_backends PREFIX DIR: one backend_http.py per backend namespace,
# logs and pid files in DIR; waits until each has bound its ports.  Returns
# 1, having shown the log, when one does not start within 10 s.
halb_start_backends() {
	local prefix=$1 dir=$2 b
	for b in $HALB_BACKENDS; do
		halb_spawn "$dir/backend-$b.log" ip netns exec "$prefix-$b" \
			"$HALB_PYTHON" "$HALB_E2E_DIR/backend_http.py" "$b" --pid-file "$dir/backend-$b.pid"
	done
	for b in $HALB_BACKENDS; do
		halb_wait_until 10 test -s "$dir/backend-$b.pid" && continue
		echo "backend $b did not start within 10 s; its log:" >&2
		cat "$dir/backend-$b.log" >&2
		return 1
	done
}

# halb_client PREFIX ARGS...: run client.py in the client namespace (in the
# foreground; for the background, halb_spawn the same command).
halb_client() {
	local prefix=$1; shift
	ip netns exec "$prefix-cli" "$HALB_PYTHON" "$HALB_E2E_DIR/client.py" "$@" </dev/null
}

# halb_ctl PREFIX CONF ARGS...: run halbctl from the appliance namespace.
halb_ctl() {
	local prefix=$1 conf=$2; shift 2
	ip netns exec "$prefix-lb" "$HALB_BUILD/tools/halbctl" -c "$conf" "$@"
}

halb_classifier_up() { halb_ctl "$1" "$2" status 2>/dev/null | grep -q '^[[:space:]]*classifier: up'; }
halb_classifier_down() { halb_ctl "$1" "$2" status 2>/dev/null | grep -q '^[[:space:]]*classifier: down'; }

# halb_stat PREFIX CONF NAME: the value of counter NAME from `halbctl stats`
# (summed when several lines carry it, e.g. one per worker).
halb_stat() {
	halb_ctl "$1" "$2" stats 2>/dev/null |
		awk -v k="$3" '$1 == k":" { s += $2; n++ } END { if (n) print s; else exit 1 }'
}

# halb_conf_file_prefix CONF: the EAL file_prefix set in CONF.
halb_conf_file_prefix() {
	sed -n 's/^[[:space:]]*file_prefix[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1
}

# halb_remove_dpdk_files FILE_PREFIX: what DPDK leaves behind for a file
# prefix when a process is killed: its runtime dir and hugepage files.
# Call only for prefixes this script made, after their processes are gone.
halb_remove_dpdk_files() {
	local fp=$1
	[ -n "$fp" ] || return 0
	rm -rf "/var/run/dpdk/$fp" "/run/halb/$fp"
	rm -f /dev/hugepages/"$fp"map_* /dev/hugepages/"$fp"seg* 2>/dev/null || true
}

# halb_check_binaries [PROGRAM...]: the programs the rig runs must be
# built: the forwarder, the classifier, halbctl, and each PROGRAM given
# (a path under the build, e.g. healthload/halb-agent).
halb_check_binaries() {
	local b
	for b in forwarder/halb-forwarder classifier/halb-classifier tools/halbctl "$@"; do
		[ -x "$HALB_BUILD/$b" ] || halb_die "$HALB_BUILD/$b is missing: run 'make build' first"
	done
}

# halb_check_hugepages: DPDK needs free 2 MB hugepages and the mount.
halb_check_hugepages() {
	local free
	free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
	[ "$free" -gt 0 ] || halb_die "no free 2 MB hugepages: run 'make hugepages' (scripts/hugepages.sh) first"
	grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts ||
		halb_die "hugetlbfs is not mounted at /dev/hugepages: run 'make hugepages' first"
}

# --- health and load (docs/HEALTH.md, docs/AGENT.md) -------------------------
# halb-healthd runs in the appliance's namespace and listens on its
# management leg mgmt0 (tests/e2e/topo.sh); one halb-agent per backend
# namespace reports that backend's services and load to it.

# Where the rig's halb-healthd takes the agents' reports: health.listen of
# conf/halb.conf must say this.
HALB_HEALTH_LISTEN=198.18.0.3:7300
declare -A HALB_AGENT_PID HALB_HOST_KEY

# halb_conf_health_get CONF KEY: the string value of KEY in CONF's
# `health = { ... };` group (the first one; comment lines skipped, several
# settings on one line allowed), or nothing.
halb_conf_health_get() {
	sed -n -E -e '/^[[:space:]]*health[[:space:]]*=/,/^};/ {' -e '/^[[:space:]]*#/d' \
		-e 's/^(.*[[:space:];{])?'"$2"'[[:space:]]*=[[:space:]]*"([^"]*)".*/\2/p' -e '}' "$1" | head -n 1
}

# halb_health_socket CONF, halb_health_status_socket CONF: the classifier's
# health.socket and halb-healthd's health.status_socket as CONF sets them,
# else their defaults (docs/CONFIG.md).
halb_health_socket() {
	local s
	s=$(halb_conf_health_get "$1" socket)
	echo "${s:-/run/halb/$(halb_conf_file_prefix "$1").health}"
}
halb_health_status_socket() {
	local s
	s=$(halb_conf_health_get "$1" status_socket)
	echo "${s:-/run/halb/$(halb_conf_file_prefix "$1").healthd.sock}"
}

# halb_conf_health CONF: what an agent of the rig needs from CONF: the
# handler's name and key (HALB_HEALTH_NAME, HALB_HEALTH_KEY) and each
# backend host's key (HALB_HOST_KEY[bN], from its backends' agent { host;
# key; }).  Returns 1, saying why on stderr, when one is missing or when
# health.listen is not the rig's HALB_HEALTH_LISTEN.
halb_conf_health() {
	local conf=$1 listen b
	listen=$(halb_conf_health_get "$conf" listen)
	HALB_HEALTH_NAME=$(halb_conf_health_get "$conf" name)
	HALB_HEALTH_KEY=$(halb_conf_health_get "$conf" key)
	if [ "$listen" != "$HALB_HEALTH_LISTEN" ] || [ -z "$HALB_HEALTH_NAME" ] ||
		[[ ! $HALB_HEALTH_KEY =~ ^[0-9a-fA-F]+$ ]]; then
		echo "health { listen; name; key; } of $conf: got '$listen' '$HALB_HEALTH_NAME' '${HALB_HEALTH_KEY:0:8}...' (the rig's management leg is $HALB_HEALTH_LISTEN)" >&2
		return 1
	fi
	for b in $HALB_BACKENDS; do
		HALB_HOST_KEY[$b]=$(sed -n 's/.*host = "'"$b"'"; key = "\([0-9a-fA-F]*\)".*/\1/p' "$conf" | head -n 1)
		if [ -z "${HALB_HOST_KEY[$b]}" ]; then
			echo "no agent key for host $b in $conf (a backend's agent = { host = \"$b\"; key = \"...\"; })" >&2
			return 1
		fi
	done
}

# halb_agent_conf HOST WORKDIR INTERVAL_MS [FALL]: prints halb-agent's
# file for the rig's backend host HOST (b1..b3), from what halb_conf_health
# read of the handler and of HOST's key: it reports every INTERVAL_MS to
# HALB_HEALTH_LISTEN the six services as conf/halb.conf names them, each
# with an HTTP check of the local server (backend_http.py) that times out
# after one interval and takes FALL failures in a row (default 2: a Python
# server on 2 busy cores may miss one answer) to go down; its control
# socket is WORKDIR/agent-HOST.sock.
halb_agent_conf() {
	local b=$1 dir=$2 interval=$3 fall=${4:-2} i=${1#b}
	local svc af addr port url name first=1
	cat <<EOF
agent = {
  host = "$b";
  key = "${HALB_HOST_KEY[$b]}";
  handlers = ( { address = "$HALB_HEALTH_LISTEN"; name = "$HALB_HEALTH_NAME"; key = "$HALB_HEALTH_KEY"; } );
  listen = "0.0.0.0:7301";
  interval_ms = $interval;
  capacity = 100;
  control = "$dir/agent-$b.sock";
  services = (
EOF
	for af in 4 6; do
		for svc in dsr:80 nat:8080 tunnel:80; do
			port=${svc#*:}
			if [ "$af" = 4 ]; then
				addr=198.18.0.1$i url="http://127.0.0.1:$port/" name=web-${svc%:*}
			else
				addr=fd00:68::1$i url="http://[::1]:$port/" name=web6-${svc%:*}
			fi
			[ "$first" = 1 ] || echo ","
			first=0
			printf '    { service = "%s"; address = "%s"; port = %s;\n      check = { type = "http"; url = "%s"; expect = 200; timeout_ms = %s; fall = %s; }; }' \
				"$name" "$addr" "$port" "$url" "$interval" "$fall"
		done
	done
	printf ' );\n};\n'
}

# halb_write_agent_confs CONF WORKDIR INTERVAL_MS [FALL]: halb_agent_conf
# for every backend host, into WORKDIR/agent-bN.conf.  Returns 1 when CONF
# lacks something (halb_conf_health says what on stderr).
halb_write_agent_confs() {
	local conf=$1 dir=$2 b
	shift 2
	halb_conf_health "$conf" || return 1
	for b in $HALB_BACKENDS; do
		halb_agent_conf "$b" "$dir" "$@" >"$dir/agent-$b.conf"
		chmod 600 "$dir/agent-$b.conf"  # it holds keys
	done
}

# halb_start_healthd PREFIX CONF LOGFILE: halb-healthd on CONF in the
# appliance's namespace (HALB_LAST_PID); does not wait for it.
halb_start_healthd() {
	halb_spawn "$3" ip netns exec "$1-lb" "$HALB_BUILD/healthload/halb-healthd" -c "$2"
}

# halb_healthd_up PREFIX CONF: halb-healthd answers `halbctl health`.
halb_healthd_up() { halb_ctl "$1" "$2" health json >/dev/null 2>&1; }

# halb_start_agents PREFIX WORKDIR [ARG...]: one halb-agent per backend
# namespace on WORKDIR/agent-bN.conf (halb_write_agent_confs), logging to
# WORKDIR/agent-bN.log, with the ARGs (in which %h stands for the host,
# e.g. --proc-root DIR/proc-%h); their PIDs in HALB_AGENT_PID[bN].  Waits
# until each has opened its control socket; returns 1, having shown the
# log, when one does not within 10 s.
halb_start_agents() {
	local prefix=$1 dir=$2 b
	shift 2
	for b in $HALB_BACKENDS; do
		halb_spawn "$dir/agent-$b.log" ip netns exec "$prefix-$b" "$HALB_BUILD/healthload/halb-agent" \
			-c "$dir/agent-$b.conf" "${@//"%h"/$b}"
		HALB_AGENT_PID[$b]=$HALB_LAST_PID
	done
	for b in $HALB_BACKENDS; do
		halb_wait_until 10 test -S "$dir/agent-$b.sock" && continue
		echo "halb-agent on $b did not start within 10 s; its log:" >&2
		tail -n 5 "$dir/agent-$b.log" >&2
		return 1
	done
}
