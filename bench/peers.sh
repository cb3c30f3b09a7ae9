#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/peers.sh [--quick] [--requests] [--runs N] [--seconds S] [--conns C] [--only LIST]
#
# Item 5 of the benchmark suite (issue 3): halb end to end against the load
# balancers people run today, through the rig of tests/e2e/topo.sh
# (client - router - bridge with the appliance and three backends, in
# network namespaces of a prefix of its own).  Needs root, the build in
# build/ (or $HALB_BUILD) and 2 MB hugepages; installs the peers from
# Debian's packages when they are missing.
#
# Contenders, one at a time in the appliance namespace, each against the
# same three backends (weights 1, 1, 2 wherever the peer has weights):
#   halb dsr / nat / tunnel  forwarder + classifier on a copy of
#                            conf/halb.conf (own file_prefix), the default
#                            idle back-off (idle_sleep_us = 100)
#   halb nat busy-poll       the same with idle_sleep_us = 0: what busy
#                            polling costs when the 2 vCPUs are shared with
#                            wrk, the backends and every veth
#   haproxy                  HAProxy `mode tcp`, roundrobin, 2 threads
#   nginx-stream             nginx `stream` proxy_pass, 2 workers
#   nftables                 kernel DNAT, `numgen inc mod 4` map, ip_forward
#   ovs-dpdk                 Open vSwitch 3.1 userspace datapath (DPDK
#                            net_af_packet on halb0, 1 PMD), select group
#                            with ct(commit,nat(dst=...)), its own ARP replies
# and, with --requests (issue 14), request routing by the same rules
# (Host api.example.com with path /v1, or Host *.example.org: pool api =
# b1; anything else: pool web = b2 (1), b3 (2)):
#   halb-requests            forwarder + classifier + halb-router, a NAT
#                            service with `requests { rules }` (as
#                            tests/e2e/requests.sh configures it)
#   haproxy-http             HAProxy `mode http`, ACLs on Host and path,
#                            use_backend, 2 threads, keep-alive to servers
#   nginx-http               nginx `http` server_name and location blocks,
#                            proxy_pass to upstreams with keepalive, 2 workers
# wrk sends "Host: www.example.com" to these (every rule is tried, the
# default pool answers).  halb binds a connection to one backend at its
# first request and splices the rest (docs/REQUESTS.md); the proxies
# parse every request and keep their own connections to the backends.
# halb and OVS drive halb0 through DPDK's net_af_packet; for the kernel
# peers the appliance namespace gets 198.18.0.2/24 and fd00:68::2/64 on
# halb0.  Backends: nginx serving a 3-byte body (the Python server of the
# end-to-end tests stalls on delayed ACKs at ~700 req/s per backend and
# would make every contender equal).
#
# Load: wrk from the client namespace, 2 threads, 32 connections, with
# keep-alive and with "Connection: close"; RUNS rounds (default 3) of
# SECONDS (default 8, so that the whole run stays under 10 minutes) per
# run, the contenders taking turns in each round so that drift on this
# shared machine spreads over all of them.  Reported: median requests/s and
# median p99 latency, and the ratio halb/peer.
#
# --quick: halb nat against nftables DNAT (both NAT through the appliance),
# one run of 5 s each (with --requests: halb-requests against haproxy-http).
# --requests: the three request-routing contenders only, and the report in
# peers-requests.md and .json.  --only a,b: just those contenders (names as above:
# halb-dsr halb-nat halb-tunnel halb-nat-busy haproxy nginx-stream nftables
# ovs-dpdk halb-requests haproxy-http nginx-http).
#
# Prints a markdown table on stdout (logs go to stderr) and writes
# bench/results/peers.md and peers.json ($PEERS_RESULTS_DIR to write them
# elsewhere; PEERS_KEEP_WORK=1 keeps the temporary directory with every
# log).  A contender that does not start is stopped and tried once more
# (DPDK's may lack hugepages while other jobs hold them), then left out of
# that round.  Exit status 0 when every contender was measured, 3 when one
# never was (its row says why), 1 when the rig itself failed.
# docs/PERFORMANCE.md ("Peers") gives the method and the latest figures.  Every exit path stops what it started, by
# PID, and removes the rig, nft tables, OVS's private run directory and
# DPDK's files of its file prefixes.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$BENCH_DIR/../tests/e2e/lib.sh"

# Debian packages the peers need (ethtool, iproute2, curl: the rig).
PEERS_PACKAGES=(wrk haproxy nginx libnginx-mod-stream nftables openvswitch-switch-dpdk curl ethtool iproute2)
OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
NGX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so

ALL_CONTENDERS="halb-dsr halb-nat halb-tunnel halb-nat-busy haproxy nginx-stream nftables ovs-dpdk"
REQ_CONTENDERS="halb-requests haproxy-http nginx-http"
REQUESTS=0
REQ_HOST=www.example.com
RUNS=3
SECONDS_PER_RUN=8
CONNS=32
THREADS=2
QUICK=0
ONLY=
RESULTS_DIR=${PEERS_RESULTS_DIR:-$BENCH_DIR/results}

usage() {
	sed -n '3,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--requests) REQUESTS=1 ;;
	--runs) RUNS=${2:-}; shift ;;
	--seconds) SECONDS_PER_RUN=${2:-}; shift ;;
	--conns) CONNS=${2:-}; shift ;;
	--only) ONLY=${2:-}; shift ;;
	-h | --help) usage ;;
	*) echo "peers: unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
REPORT_NAME=peers
if [ "$REQUESTS" = 1 ]; then
	REPORT_NAME=peers-requests
	[ -n "$ONLY" ] || ONLY=${REQ_CONTENDERS// /,}
fi
if [ "$QUICK" = 1 ]; then
	RUNS=1 SECONDS_PER_RUN=5
	[ -n "$ONLY" ] || ONLY=halb-nat,nftables
	[ "$REQUESTS" = 1 ] && [ "$ONLY" = "${REQ_CONTENDERS// /,}" ] && ONLY=halb-requests,haproxy-http
fi
[[ $RUNS =~ ^[1-9][0-9]?$ && $SECONDS_PER_RUN =~ ^[1-9][0-9]{0,2}$ && $CONNS =~ ^[1-9][0-9]{0,3}$ ]] ||
	halb_die "--runs, --seconds and --conns take small positive numbers"
CONTENDERS=
for c in ${ONLY//,/ }; do
	[[ " $ALL_CONTENDERS $REQ_CONTENDERS " == *" $c "* ]] ||
		halb_die "unknown contender '$c' (one of: $ALL_CONTENDERS $REQ_CONTENDERS)"
	CONTENDERS+=" $c"
done
[ -n "$ONLY" ] || CONTENDERS=$ALL_CONTENDERS

log() { halb_log "peers: $*"; }

halb_require_root
T0=$SECONDS

# --- what must be there ------------------------------------------------------
P=hb$$                 # the rig's namespaces: hbPID-cli, -rtr, -sw, -lb, -b1..3
FP=halb_hb$$           # halb's DPDK file prefix
OVS_FP=hbovs$$         # OVS's DPDK file prefix
NFT_TABLE=halb_peers$$ # the nft table of the nftables contender (in $P-lb)
WORK=
TOPO=0
POLICY_RC_MADE=0
OVS_UP=0

# ns_pids: the processes still running in this run's namespaces (all
# ours: the prefix is this script's own), e.g. one that a signal caught
# between its start and the recording of its PID.
ns_pids() {
	local n
	for n in cli rtr sw lb b1 b2 b3; do
		[ -e "/run/netns/$P-$n" ] && ip netns pids "$P-$n" 2>/dev/null
	done
}

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	halb_stop_all
	if [ "$TOPO" = 1 ]; then
		for pid in $(ns_pids); do kill -TERM "$pid" 2>/dev/null; done
		halb_wait_until 10 eval '[ -z "$(ns_pids)" ]' ||
			for pid in $(ns_pids); do kill -KILL "$pid" 2>/dev/null; done
		ip netns exec "$P-lb" nft delete table ip "$NFT_TABLE" 2>/dev/null
		"$HALB_E2E_DIR/topo.sh" down "$P"
	fi
	halb_remove_dpdk_files "$FP"
	halb_remove_dpdk_files "$OVS_FP"
	[ "$POLICY_RC_MADE" = 1 ] && rm -f /usr/sbin/policy-rc.d
	if [ -n "$WORK" ]; then
		if [ -n "${PEERS_KEEP_WORK:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

# install_missing: the peers' packages, with services kept from starting (a
# package's maintainer script would start haproxy, nginx and OVS on the
# host; here they run in the rig only, started and stopped by PID).
install_missing() {
	local p status missing=()
	for p in "${PEERS_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$status" = installed ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# bench/peers.sh: no service starts while it installs\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		POLICY_RC_MADE=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 && apt-get install -q -y --no-install-recommends "${missing[@]}" >&2 ||
		halb_die "could not install ${missing[*]}"
	if [ "$POLICY_RC_MADE" = 1 ]; then
		rm -f /usr/sbin/policy-rc.d
		POLICY_RC_MADE=0
	fi
}
# --requests needs neither OVS, nftables nor nginx's stream module.
[ "$REQUESTS" = 1 ] && PEERS_PACKAGES=(wrk haproxy nginx curl ethtool iproute2)
install_missing
if [ "$REQUESTS" = 0 ]; then
	for f in "$OVS_VSWITCHD" "$OVS_SCHEMA" "$NGX_STREAM_MODULE"; do
		[ -e "$f" ] || halb_die "$f is missing although its package is installed"
	done
fi
halb_check_binaries
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "$free" -lt 400 ] || ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
	"$HALB_TOP/scripts/hugepages.sh" >&2 || halb_die "no hugepages for halb and OVS-DPDK"
fi
CONF_SRC=${HALB_CONF:-$HALB_TOP/conf/halb.conf}
[ -r "$CONF_SRC" ] || halb_die "$CONF_SRC is missing"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/halb-peers.XXXXXX")
mkdir -p "$WORK/runs"

# halb's configuration: a copy of conf/halb.conf with its own file prefix,
# a flow table big enough for 10 s of connection churn (every closed flow
# stays tcp_fin_timeout = 10 s), and the idle back-off as given.
halb_conf() {
	local out=$1 idle=$2
	sed -E -e 's/^([[:space:]]*file_prefix[[:space:]]*=[[:space:]]*)"[^"]*"/\1"'"$FP"'"/' \
		-e 's/^([[:space:]]*idle_sleep_us[[:space:]]*=[[:space:]]*)[0-9]+/\1'"$idle"'/' \
		-e 's/^([[:space:]]*entries[[:space:]]*=[[:space:]]*)[0-9]+/\1262144/' "$CONF_SRC" >"$out"
	[ "$(halb_conf_file_prefix "$out")" = "$FP" ] && grep -Eq "^[[:space:]]*idle_sleep_us[[:space:]]*=[[:space:]]*$idle;" "$out" ||
		halb_die "could not set file_prefix and idle_sleep_us in a copy of $CONF_SRC"
	"$HALB_BUILD/forwarder/halb-forwarder" --check-config "$out" >/dev/null 2>&1 ||
		halb_die "halb-forwarder --check-config rejects $out: $("$HALB_BUILD/forwarder/halb-forwarder" --check-config "$out" 2>&1)"
}
halb_conf "$WORK/halb-backoff.conf" 100
halb_conf "$WORK/halb-busy.conf" 0

# halb-requests: conf/halb.conf's appliance (its eal and ports sections)
# with one request-routed NAT service, the rules of tests/e2e/requests.sh;
# the backends' port 8080 replies through the appliance as for halb-nat.
req_conf() {
	local out=$1
	cat >"$out" <<CONF
# bench/peers.sh --requests: request routing on the rig of topo.sh.
eal = { file_prefix = "$FP"; lcores = "0,1"; classifier_lcore = 16; };
ports = ( { name = "inside"; vdev = "net_af_packet0,iface=halb0,qdisc_bypass=1";
            ipv4 = "198.18.0.2/24"; ipv6 = "fd00:68::2/64";
            gateway4 = "198.18.0.254"; gateway6 = "fd00:68::fe"; mtu = 1500; } );
flows = { entries = 262144; tcp_syn_timeout = 5.0; tcp_timeout = 300.0;
          tcp_fin_timeout = 10.0; udp_timeout = 30.0; };
idle_sleep_us = 100;
classifier_timeout_ms = 300;
services = (
  { name = "l7bench"; vip = "198.18.2.120"; port = 80; protocol = "tcp";
    mode = "nat"; scheduler = "maglev";
    requests = {
      rules = ( { host = "api.example.com"; path = "/v1"; pool = "api"; },
                { host = "*.example.org"; pool = "api"; } );
      default_pool = "web"; };
    backends = (
      { ip = "198.18.0.11"; port = 8080; weight = 1; pool = "api"; },
      { ip = "198.18.0.12"; port = 8080; weight = 1; pool = "web"; },
      { ip = "198.18.0.13"; port = 8080; weight = 2; pool = "web"; } ); }
);
CONF
	local prog out2
	for prog in forwarder/halb-forwarder router/halb-router; do
		out2=$("$HALB_BUILD/$prog" --check-config "$out" 2>&1) ||
			halb_die "${prog#*/} --check-config rejects $out: $out2"
	done
}
if [[ " $CONTENDERS " == *" halb-requests "* ]]; then
	[ -x "$HALB_BUILD/router/halb-router" ] || halb_die "missing $HALB_BUILD/router/halb-router"
	req_conf "$WORK/halb-requests.conf"
fi

# --- the rig --------------------------------------------------------------------
log "rig $P, work dir $WORK; contenders:$CONTENDERS; $RUNS run(s) of ${SECONDS_PER_RUN}s, wrk -t$THREADS -c$CONNS"
TOPO=1
"$HALB_E2E_DIR/topo.sh" up "$P" >&2 || { TOPO=0; halb_die "topo.sh up $P failed"; }
nsx() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
# Connection churn: ports enough on the client and on the proxies, and
# TCP timestamps without the per-connection random offset there.  With
# "Connection: close" the client cycles through its ports every few seconds
# while the backends (and a proxy, towards the client) keep each closed
# connection 60 s in TIME-WAIT; a SYN that reuses such a 4-tuple is taken
# only if its timestamp is newer (RFC 6191), which random offsets make a
# coin toss: the backend answers the other half with an ACK, the client
# resets and retries a second later (forever through a conntrack that
# drops that reset as invalid, as OVS's does).  Monotonic timestamps
# (tcp_timestamps = 2) make every reuse clean, for every contender alike.
for n in cli lb; do
	nsx "$n" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_timestamps=2
done

# Backends: one single-process nginx each (ports 80 and 8080, v4 and v6),
# the body "bN\n", keep-alive without a request limit.  With --requests
# their receive buffers top out at 6 MB, so that they answer with the
# window scale halb's SYN cookies promise (7; docs/REQUESTS.md), as
# tests/e2e/requests.sh sets it; every contender of that run sees the same.
if [ "$REQUESTS" = 1 ]; then
	for b in $HALB_BACKENDS; do
		nsx "$b" sysctl -qw net.ipv4.tcp_rmem="4096 131072 6291456" || halb_die "cannot set tcp_rmem in $P-$b"
	done
fi
start_backend() {
	local b=$1
	local d=$WORK/backend-$b
	mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
	keepalive_requests 10000000;
	server {
		listen 80; listen 8080; listen [::]:80; listen [::]:8080;
		location / { default_type text/plain; add_header X-Backend $b; return 200 "$b\n"; }
	}
}
EOF
	halb_spawn "$d/out.log" ip netns exec "$P-$b" nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log"
}
backend_answers() { nsx cli curl -s -m 1 "http://$1/" 2>/dev/null | grep -qx "$2"; }
for b in $HALB_BACKENDS; do start_backend "$b"; done
for b in $HALB_BACKENDS; do
	ip=198.18.0.1${b#b}
	halb_wait_until 10 backend_answers "$ip" "$b" ||
		halb_die "backend $b (nginx) does not answer on $ip:80 within 10 s: $(cat "$WORK/backend-$b/out.log" "$WORK/backend-$b/error.log" 2>/dev/null)"
done
log "backends up (nginx on b1 b2 b3)"

# --- contenders ---------------------------------------------------------------------
# Each has up_NAME (start it; 0 once its VIP answers) and down_NAME (stop
# it and undo what up did, also after a partial up).  VIP[NAME] is where
# wrk goes; MODE[NAME] what the table says about it.
declare -A VIP=([halb-dsr]=198.18.2.100 [halb-nat]=198.18.2.101 [halb-tunnel]=198.18.2.102
	[halb-nat-busy]=198.18.2.101 [haproxy]=198.18.2.110 [nginx-stream]=198.18.2.111
	[nftables]=198.18.2.112 [ovs-dpdk]=198.18.2.113
	[halb-requests]=198.18.2.120 [haproxy-http]=198.18.2.121 [nginx-http]=198.18.2.122)
declare -A MODE=([halb-dsr]="dsr" [halb-nat]="nat" [halb-tunnel]="tunnel (VXLAN)"
	[halb-nat-busy]="nat, busy poll" [haproxy]="mode tcp, roundrobin"
	[nginx-stream]="stream, weighted rr" [nftables]="DNAT numgen inc mod 4"
	[ovs-dpdk]="select group + ct nat"
	[halb-requests]="nat + halb-router, Host/path rules" [haproxy-http]="mode http, Host/path ACLs"
	[nginx-http]="http, server_name/location")
declare -A STARTED_PIDS=()
WHY=   # why an up_ failed

vip_answers() { nsx cli curl -s -m 1 -o /dev/null -w '%{http_code}' "http://$1/" 2>/dev/null | grep -qx 200; }

# stop_pids NAME: stop the processes up_NAME started, newest first.
stop_pids() {
	local pid
	for pid in ${STARTED_PIDS[$1]:-}; do halb_stop "$pid" TERM 10 || true; done
	STARTED_PIDS[$1]=
}
spawn() { # spawn NAME LOG CMD...
	local name=$1; shift
	halb_spawn "$@"
	STARTED_PIDS[$name]="$HALB_LAST_PID ${STARTED_PIDS[$name]:-}"
}

# halb: as tests/e2e/e2e.sh starts it.
up_halb() {
	local name=$1 conf=$2 fwd cls
	spawn "$name" "$WORK/$name-forwarder.log" ip netns exec "$P-lb" "$HALB_BUILD/forwarder/halb-forwarder" -c "$conf"
	fwd=$HALB_LAST_PID
	halb_wait_until 30 eval "! halb_alive $fwd || halb_ctl $P $conf status >/dev/null 2>&1"
	halb_alive "$fwd" && halb_ctl "$P" "$conf" status >/dev/null 2>&1 ||
		{ WHY="the forwarder did not come up: $(tail -n 3 "$WORK/$name-forwarder.log" | tr '\n' ' ')"; return 1; }
	spawn "$name" "$WORK/$name-classifier.log" ip netns exec "$P-lb" "$HALB_BUILD/classifier/halb-classifier" -c "$conf"
	cls=$HALB_LAST_PID
	halb_wait_until 30 eval "! halb_alive $cls || halb_classifier_up $P $conf"
	halb_alive "$cls" && halb_classifier_up "$P" "$conf" ||
		{ WHY="the classifier did not come up: $(tail -n 3 "$WORK/$name-classifier.log" | tr '\n' ' ')"; return 1; }
	HALB_CONF_NOW=$conf
}
down_halb() {
	local name=$1
	[ -n "${HALB_CONF_NOW:-}" ] && halb_ctl "$P" "$HALB_CONF_NOW" stats >"$WORK/$name-stats.$ROUND.txt" 2>&1
	HALB_CONF_NOW=
	stop_pids "$name"
	halb_remove_dpdk_files "$FP"
}
up_halb-dsr() { up_halb halb-dsr "$WORK/halb-backoff.conf"; }
up_halb-nat() { up_halb halb-nat "$WORK/halb-backoff.conf"; }
up_halb-tunnel() { up_halb halb-tunnel "$WORK/halb-backoff.conf"; }
up_halb-nat-busy() { up_halb halb-nat-busy "$WORK/halb-busy.conf"; }
down_halb-dsr() { down_halb halb-dsr; }
down_halb-nat() { down_halb halb-nat; }
down_halb-tunnel() { down_halb halb-tunnel; }
down_halb-nat-busy() { down_halb halb-nat-busy; }
# halb-requests: halb-router attaches to the forwarder as tests/e2e/requests.sh
# starts it; up once halbctl router names its PID.
up_halb-requests() {
	local conf=$WORK/halb-requests.conf rtr
	up_halb halb-requests "$conf" || return 1
	spawn halb-requests "$WORK/halb-requests-router.log" ip netns exec "$P-lb" "$HALB_BUILD/router/halb-router" -c "$conf"
	rtr=$HALB_LAST_PID
	router_is() { [ "$(halb_ctl "$P" "$conf" router 2>/dev/null | awk '$1 == "router_pid:" { print $2 }')" = "$rtr" ]; }
	router_attached() { ! halb_alive "$rtr" || router_is; }
	halb_wait_until 30 router_attached
	halb_alive "$rtr" && router_is ||
		{ WHY="halb-router did not attach: $(tail -n 3 "$WORK/halb-requests-router.log" | tr '\n' ' ')"; return 1; }
}
down_halb-requests() {
	[ -n "${HALB_CONF_NOW:-}" ] && halb_ctl "$P" "$HALB_CONF_NOW" router >"$WORK/halb-requests-router.$ROUND.txt" 2>&1
	down_halb halb-requests
}

# The kernel owns the appliance's leg for haproxy, nginx and nftables.
# The appliance's management leg (mgmt0, 198.18.0.3 on the same bridge, if
# the rig has one) goes down meanwhile: the kernel would otherwise answer
# ARP for 198.18.0.2 from it too and route to the backends through it; with
# it down the kernel peers have the one leg that halb and OVS have.
kernel_lb_on() {
	if ip -n "$P-lb" link show mgmt0 >/dev/null 2>&1; then
		ip -n "$P-lb" -6 addr show dev mgmt0 scope global | awk '$1 == "inet6" { print $2 }' >"$WORK/mgmt0.v6"
		ip -n "$P-lb" link set mgmt0 down
	fi
	"$HALB_E2E_DIR/topo.sh" kernel-leg "$P"
	nsx lb sysctl -qw net.ipv6.conf.halb0.disable_ipv6=0
	ip -n "$P-lb" addr add 198.18.0.2/24 dev halb0
	ip -n "$P-lb" addr add fd00:68::2/64 dev halb0 nodad
	ip -n "$P-lb" route replace default via 198.18.0.254
	ip -n "$P-lb" -6 route replace default via fd00:68::fe
	[ -z "${1:-}" ] || ip -n "$P-lb" addr add "$1/32" dev lo
}
kernel_lb_off() {
	[ -z "${1:-}" ] || ip -n "$P-lb" addr del "$1/32" dev lo 2>/dev/null
	ip -n "$P-lb" route del default 2>/dev/null
	ip -n "$P-lb" -6 route del default 2>/dev/null
	ip -n "$P-lb" addr flush dev halb0
	nsx lb sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.halb0.disable_ipv6=1
	"$HALB_E2E_DIR/topo.sh" dpdk-leg "$P"
	if ip -n "$P-lb" link show mgmt0 >/dev/null 2>&1; then
		ip -n "$P-lb" link set mgmt0 up
		# IPv6 drops a link's addresses when it goes down: put them back.
		local a
		for a in $(cat "$WORK/mgmt0.v6" 2>/dev/null); do ip -n "$P-lb" addr replace "$a" dev mgmt0 nodad; done
	fi
}

up_haproxy() {
	local d=$WORK/haproxy
	mkdir -p "$d"
	cat >"$d/haproxy.cfg" <<EOF
global
	maxconn 8000
	nbthread 2
	pidfile $d/haproxy.pid
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
listen vip
	bind ${VIP[haproxy]}:80
	balance roundrobin
	server b1 198.18.0.11:80 weight 1
	server b2 198.18.0.12:80 weight 1
	server b3 198.18.0.13:80 weight 2
EOF
	kernel_lb_on "${VIP[haproxy]}"
	nsx lb haproxy -c -q -f "$d/haproxy.cfg" >"$d/check.log" 2>&1 || { WHY="haproxy -c: $(cat "$d/check.log")"; return 1; }
	spawn haproxy "$d/haproxy.log" ip netns exec "$P-lb" haproxy -db -f "$d/haproxy.cfg"
}
down_haproxy() { stop_pids haproxy; kernel_lb_off "${VIP[haproxy]}"; }

# haproxy-http: the request rules as ACLs (hdr(host) without its port).
up_haproxy-http() {
	local d=$WORK/haproxy-http
	mkdir -p "$d"
	cat >"$d/haproxy.cfg" <<EOF
global
	maxconn 8000
	nbthread 2
	pidfile $d/haproxy.pid
defaults
	mode http
	option http-keep-alive
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	timeout http-keep-alive 60s
frontend vip
	bind ${VIP[haproxy-http]}:80
	acl host_api req.hdr(host),field(1,:) -i api.example.com
	acl path_v1 path_beg /v1
	acl host_org req.hdr(host),field(1,:) -m end -i .example.org
	use_backend api if host_api path_v1
	use_backend api if host_org
	default_backend web
backend api
	server b1 198.18.0.11:80
backend web
	balance roundrobin
	server b2 198.18.0.12:80 weight 1
	server b3 198.18.0.13:80 weight 2
EOF
	kernel_lb_on "${VIP[haproxy-http]}"
	nsx lb haproxy -c -q -f "$d/haproxy.cfg" >"$d/check.log" 2>&1 || { WHY="haproxy -c: $(cat "$d/check.log")"; return 1; }
	spawn haproxy-http "$d/haproxy.log" ip netns exec "$P-lb" haproxy -db -f "$d/haproxy.cfg"
}
down_haproxy-http() { stop_pids haproxy-http; kernel_lb_off "${VIP[haproxy-http]}"; }

# nginx-http: the rules as server blocks (server_name) and locations,
# HTTP/1.1 keep-alive to the upstreams.
up_nginx-http() {
	local d=$WORK/nginx-http v=${VIP[nginx-http]}
	mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
	keepalive_requests 10000000;
	proxy_http_version 1.1;
	proxy_set_header Connection "";
	upstream api { server 198.18.0.11:80; keepalive 64; }
	upstream web { server 198.18.0.12:80 weight=1; server 198.18.0.13:80 weight=2; keepalive 64; }
	server { listen $v:80 default_server; location / { proxy_pass http://web; } }
	server { listen $v:80; server_name api.example.com;
		location /v1 { proxy_pass http://api; } location / { proxy_pass http://web; } }
	server { listen $v:80; server_name *.example.org; location / { proxy_pass http://api; } }
}
EOF
	kernel_lb_on "$v"
	nsx lb nginx -t -q -c "$d/nginx.conf" -p "$d" -e "$d/error.log" >"$d/check.log" 2>&1 ||
		{ WHY="nginx -t: $(cat "$d/check.log")"; return 1; }
	spawn nginx-http "$d/out.log" ip netns exec "$P-lb" nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log"
}
down_nginx-http() { stop_pids nginx-http; kernel_lb_off "${VIP[nginx-http]}"; }

up_nginx-stream() {
	local d=$WORK/nginx-stream
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
load_module $NGX_STREAM_MODULE;
daemon off;
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
stream {
	upstream backends {
		server 198.18.0.11:80 weight=1;
		server 198.18.0.12:80 weight=1;
		server 198.18.0.13:80 weight=2;
	}
	server { listen ${VIP[nginx-stream]}:80; proxy_pass backends; }
}
EOF
	kernel_lb_on "${VIP[nginx-stream]}"
	nsx lb nginx -t -q -c "$d/nginx.conf" -p "$d" -e "$d/error.log" >"$d/check.log" 2>&1 ||
		{ WHY="nginx -t: $(cat "$d/check.log")"; return 1; }
	# The master (our PID) stops its two workers on TERM.
	spawn nginx-stream "$d/out.log" ip netns exec "$P-lb" nginx -c "$d/nginx.conf" -p "$d" -e "$d/error.log"
}
down_nginx-stream() { stop_pids nginx-stream; kernel_lb_off "${VIP[nginx-stream]}"; }

# nftables: DNAT in prerouting to the backends' port 8080 (their replies
# from 8080 come back through the appliance, as for halb's NAT mode);
# weights 1, 1, 2 as a 4-slot round-robin map.
up_nftables() {
	kernel_lb_on
	nsx lb sysctl -qw net.ipv4.ip_forward=1
	nsx lb nft -f - >"$WORK/nft.log" 2>&1 <<EOF || { WHY="nft: $(cat "$WORK/nft.log")"; return 1; }
table ip $NFT_TABLE {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr ${VIP[nftables]} tcp dport 80 dnat to numgen inc mod 4 map { 0 : 198.18.0.11, 1 : 198.18.0.12, 2 : 198.18.0.13, 3 : 198.18.0.13 } : 8080
	}
}
EOF
}
down_nftables() {
	nsx lb nft delete table ip "$NFT_TABLE" 2>/dev/null
	kernel_lb_off
}

# Open vSwitch with DPDK: a private ovsdb-server and ovs-vswitchd in the
# appliance namespace (run, db and log files in WORK/ovs), userspace
# datapath, halb0 through DPDK net_af_packet as for halb, one PMD thread on
# CPU 1 with the same 100 us idle back-off as halb (pmd-maxsleep).  Flows:
# ARP replies for 198.18.0.2; VIP:80 through conntrack (zone 1): new
# connections to a select group whose buckets (weights 1, 1, 2) commit
# with nat(dst=backend:8080); established ones and the backends' replies
# (un-NATed by ct) to table 2, which sets the MACs of the next hop and
# sends the frame back out of halb0.
# (env, ip netns exec and the daemon exec each other: the PID is the daemon's.)
ovs_env() { env OVS_RUNDIR="$WORK/ovs" OVS_DBDIR="$WORK/ovs" OVS_LOGDIR="$WORK/ovs" OVS_SYSCONFDIR="$WORK/ovs" "$@"; }
ovs_spawn() { # ovs_spawn LOG CMD...: spawn CMD in the appliance namespace with OVS's directories
	local logfile=$1; shift
	spawn ovs-dpdk "$logfile" env OVS_RUNDIR="$WORK/ovs" OVS_DBDIR="$WORK/ovs" OVS_LOGDIR="$WORK/ovs" \
		OVS_SYSCONFDIR="$WORK/ovs" ip netns exec "$P-lb" "$@"
}
ovs_vsctl() { ovs_env ovs-vsctl --db="unix:$WORK/ovs/db.sock" --timeout=10 "$@"; }
ovs_ofctl() { ovs_env ovs-ofctl -O OpenFlow15 "$@"; }
ovs_port_up() { ovs_vsctl get Interface p0 link_state 2>/dev/null | grep -qx up; }
up_ovs-dpdk() {
	local o=$WORK/ovs vip=${VIP[ovs-dpdk]} ok=0
	rm -rf "$o"
	mkdir -p "$o"
	ovsdb-tool create "$o/conf.db" "$OVS_SCHEMA" >"$o/tool.log" 2>&1 || { WHY="ovsdb-tool create: $(cat "$o/tool.log")"; return 1; }
	ovs_spawn "$o/ovsdb-server.out" ovsdb-server "$o/conf.db" \
		--remote="punix:$o/db.sock" --pidfile="$o/ovsdb-server.pid" --unixctl="$o/ovsdb-server.ctl" \
		--log-file="$o/ovsdb-server.log"
	halb_wait_until 10 test -S "$o/db.sock" || { WHY="ovsdb-server did not open its socket in 10 s"; return 1; }
	ovs_vsctl --no-wait init &&
		ovs_vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
			"other_config:dpdk-extra=--no-pci --file-prefix $OVS_FP --huge-unlink" \
			other_config:dpdk-socket-limit=256 \
			other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2 other_config:pmd-maxsleep=100 ||
		{ WHY="ovs-vsctl could not configure the database"; return 1; }
	ovs_spawn "$o/ovs-vswitchd.out" "$OVS_VSWITCHD" "unix:$o/db.sock" \
		--pidfile="$o/ovs-vswitchd.pid" --unixctl="$o/ovs-vswitchd.ctl" --log-file="$o/ovs-vswitchd.log"
	local vswitchd=$HALB_LAST_PID
	OVS_UP=1
	ovs_died() { # (a zombie is dead too: kill -0 would say alive)
		local st
		st=$(ps -o stat= -p "$vswitchd" 2>/dev/null) && [[ $st != Z* ]] && return 1
		WHY="ovs-vswitchd exited: $(grep -hE 'ERR|EMER|EAL' "$o/ovs-vswitchd.log" "$o/ovs-vswitchd.out" 2>/dev/null | tail -n 3 | tr '\n' ' ')"
		return 0
	}
	ovs_vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=secure >"$o/vsctl.log" 2>&1 &&
		ovs_vsctl add-port br0 p0 -- set Interface p0 type=dpdk ofport_request=1 \
			"options:dpdk-devargs=net_af_packet0,iface=halb0,qdisc_bypass=1" >>"$o/vsctl.log" 2>&1 ||
		{ ovs_died || WHY="ovs-vsctl add-br/add-port failed: $(tail -n 1 "$o/vsctl.log") $(grep -E 'WARN|ERR|EMER' "$o/ovs-vswitchd.log" 2>/dev/null | tail -n 3 | tr '\n' ' ')"; return 1; }
	halb_wait_until 15 ovs_port_up || { ovs_died || WHY="the DPDK port p0 is not up after 15 s: $(grep -E 'WARN|ERR' "$o/ovs-vswitchd.log" 2>/dev/null | tail -n 3 | tr '\n' ' ')"; return 1; }
	cat >"$o/flows.txt" <<EOF
table=0,priority=200,arp,arp_op=1,arp_tpa=198.18.0.2,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:02:68:00:00:00:02,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0x026800000002->NXM_NX_ARP_SHA[],load:0xc6120002->NXM_OF_ARP_SPA[],in_port
table=0,priority=100,tcp,nw_dst=$vip,tp_dst=80,actions=ct(table=1,zone=1,nat)
table=0,priority=100,tcp,nw_src=198.18.0.0/24,tp_src=8080,actions=ct(table=1,zone=1,nat)
table=0,priority=0,actions=drop
table=1,priority=100,ct_state=+new+trk,tcp,nw_dst=$vip,tp_dst=80,actions=group:1
table=1,priority=90,ct_state=+est+trk,actions=resubmit(,2)
table=1,priority=0,actions=drop
table=2,priority=100,ip,nw_dst=198.18.0.11,actions=mod_dl_src:02:68:00:00:00:02,mod_dl_dst:02:68:00:00:00:11,in_port
table=2,priority=100,ip,nw_dst=198.18.0.12,actions=mod_dl_src:02:68:00:00:00:02,mod_dl_dst:02:68:00:00:00:12,in_port
table=2,priority=100,ip,nw_dst=198.18.0.13,actions=mod_dl_src:02:68:00:00:00:02,mod_dl_dst:02:68:00:00:00:13,in_port
table=2,priority=90,ip,nw_dst=198.18.1.0/24,actions=mod_dl_src:02:68:00:00:00:02,mod_dl_dst:02:68:00:00:00:fe,in_port
table=2,priority=0,actions=drop
EOF
	local b=unix:$o/br0.mgmt
	ovs_ofctl del-flows "$b" &&
		ovs_ofctl add-group "$b" "group_id=1,type=select,$(
			printf 'bucket=bucket_id:1,weight:1,actions=ct(commit,zone=1,nat(dst=198.18.0.11:8080),table=2),'
			printf 'bucket=bucket_id:2,weight:1,actions=ct(commit,zone=1,nat(dst=198.18.0.12:8080),table=2),'
			printf 'bucket=bucket_id:3,weight:2,actions=ct(commit,zone=1,nat(dst=198.18.0.13:8080),table=2)')" &&
		ovs_ofctl add-flows "$b" "$o/flows.txt" && ok=1
	[ "$ok" = 1 ] || { WHY="ovs-ofctl could not install the group and flows"; return 1; }
}
down_ovs-dpdk() {
	local o=$WORK/ovs
	if [ "$OVS_UP" = 1 ]; then
		ovs_ofctl dump-flows "unix:$o/br0.mgmt" >"$o/flows.$ROUND.txt" 2>&1
		ovs_ofctl dump-group-stats "unix:$o/br0.mgmt" >>"$o/flows.$ROUND.txt" 2>&1
		ovs_env ovs-appctl -t "$o/ovs-vswitchd.ctl" dpctl/dump-conntrack 2>/dev/null | wc -l >"$o/conntrack-entries.$ROUND.txt"
		ovs_vsctl --if-exists del-br br0 >/dev/null 2>&1
	fi
	OVS_UP=0
	stop_pids ovs-dpdk
	halb_remove_dpdk_files "$OVS_FP"
}

# --- measuring --------------------------------------------------------------------
# wrk_run NAME KIND ROUND: one wrk run against NAME's VIP; its output in
# WORK/runs/NAME.KIND.ROUND.txt.  KIND is ka (keep-alive) or close.
wrk_run() {
	local name=$1 kind=$2 round=$3 hdr=()
	[ "$kind" = close ] && hdr=(-H "Connection: close")
	[[ " $REQ_CONTENDERS " == *" $name "* ]] && hdr+=(-H "Host: $REQ_HOST")
	halb_spawn "$WORK/runs/$name.$kind.$round.txt" ip netns exec "$P-cli" \
		wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency "${hdr[@]}" "http://${VIP[$name]}/"
	halb_wait_exit "$HALB_LAST_PID" $((SECONDS_PER_RUN + 20)) ||
		log "$name $kind run $round: wrk ended with status $?"
}

# shares NAME: 40 new connections (one curl, "Connection: close"), the
# answering backend of each, into WORK/NAME.shares ("b1 N" lines).
shares() {
	local i urls=()
	for ((i = 0; i < 40; i++)); do urls+=("http://${VIP[$1]}/"); done
	nsx cli curl -s -m 10 -H "Connection: close" -H "Host: $REQ_HOST" "${urls[@]}" 2>/dev/null |
		sort | uniq -c | awk '{ print $2, $1 }' >"$WORK/$1.shares"
}

declare -A FAILED=()   # NAME -> why it could not be started, last time
declare -A MEASURED=() # NAME -> rounds in which it was measured
hugepages_free() { [ "$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)" -ge "$1" ]; }

# start_contender NAME: up_NAME, then a first answer from its VIP; WHY
# says why not.
start_contender() {
	WHY=
	if ! "up_$1"; then
		WHY=${WHY:-did not start}
		return 1
	fi
	halb_wait_until 15 vip_answers "${VIP[$1]}" && return 0
	WHY="no answer from http://${VIP[$1]}/ within 15 s after start"
	return 1
}

ROUND=0
for ((ROUND = 1; ROUND <= RUNS; ROUND++)); do
	for name in $CONTENDERS; do
		t_up=$SECONDS
		log "round $ROUND/$RUNS: $name (${MODE[$name]}) on ${VIP[$name]}"
		if ! start_contender "$name"; then
			log "$name: ${WHY//$'\n'/ }; stopping it and trying once more"
			"down_$name"
			# DPDK contenders fail to start while other jobs on the machine
			# hold the hugepages: give those up to 30 s to come back.
			halb_wait_until 30 hugepages_free 256
			t_up=$SECONDS
			if ! start_contender "$name"; then
				FAILED[$name]=${WHY//$'\n'/ }
				log "$name: ${FAILED[$name]}; no run in round $ROUND"
				"down_$name"
				continue
			fi
		fi
		log "$name: up and answering after $((SECONDS - t_up)) s"
		[ -z "${MEASURED[$name]:-}" ] && shares "$name"
		MEASURED[$name]=$((${MEASURED[$name]:-0} + 1))
		wrk_run "$name" ka "$ROUND"
		wrk_run "$name" close "$ROUND"
		"down_$name"
	done
done

# --- the report ---------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
# Contenders never measured (NAME=reason), and notes on those measured in
# only some of the rounds.
failed_list=
partial=
unmeasured=0
for name in $CONTENDERS; do
	if [ -z "${MEASURED[$name]:-}" ]; then
		failed_list+="$name=${FAILED[$name]:-not run}"$'\n'
		unmeasured=1
	elif [ "${MEASURED[$name]}" -lt "$RUNS" ]; then
		partial+="$name: measured in ${MEASURED[$name]} of $RUNS rounds (the others: ${FAILED[$name]})"$'\n'
	fi
done
"$HALB_PYTHON" - "$WORK" "$RESULTS_DIR" "$CONTENDERS" "$RUNS" "$SECONDS_PER_RUN" "$THREADS" "$CONNS" \
	"$QUICK" "$((SECONDS - T0))" "$failed_list" "$partial" \
	"$(for n in $CONTENDERS; do printf '%s\t%s\t%s\n' "$n" "${MODE[$n]}" "${VIP[$n]}"; done)" "$REPORT_NAME" <<'EOF'
import json, os, platform, re, statistics, subprocess, sys, time

work, outdir, names, runs, secs, threads, conns, quick, elapsed, failed_s, partial_s, meta_s, report = sys.argv[1:14]
names, runs, secs, quick = names.split(), int(runs), int(secs), quick == "1"
failed = dict(l.split("=", 1) for l in failed_s.splitlines() if "=" in l)
meta = {l.split("\t")[0]: l.split("\t")[1:] for l in meta_s.splitlines() if l}
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}

def parse(path):
    try:
        t = open(path).read()
    except OSError:
        return None
    m = re.search(r"Requests/sec:\s+([\d.]+)", t)
    if not m:
        return {"error": t.strip().splitlines()[-1] if t.strip() else "no output"}
    r = {"rps": float(m.group(1))}
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)
    r["p99_ms"] = float(m.group(1)) * UNIT[m.group(2)] if m else None
    m = re.search(r"(\d+) requests in", t)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    r["non_2xx"] = int(m.group(1)) if m else 0
    return r

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

res = []
for n in names:
    mode, vip = meta.get(n, ["", ""])
    e = {"contender": n, "mode": mode, "vip": vip}
    if n in failed:
        e["failed"] = failed[n]
    for kind in ("ka", "close"):
        rs = [parse(os.path.join(work, "runs", "%s.%s.%d.txt" % (n, kind, i))) for i in range(1, runs + 1)]
        rs = [r for r in rs if r is not None]
        ok = [r for r in rs if "rps" in r]
        e[kind] = {"runs": rs, "median_rps": med([r["rps"] for r in ok]),
                   "median_p99_ms": med([r["p99_ms"] for r in ok]),
                   "errors": sum(sum(r["socket_errors"].values()) + r["non_2xx"] for r in ok),
                   "requests": sum(r["requests"] for r in ok)}
    try:
        e["shares"] = {l.split()[0]: int(l.split()[1]) for l in open(os.path.join(work, n + ".shares")) if l.strip()}
    except OSError:
        pass
    stats = sorted(f for f in os.listdir(work) if f.startswith(n + "-stats."))
    if stats:
        e["halbctl_stats_last"] = open(os.path.join(work, stats[-1])).read()
    res.append(e)

by = {e["contender"]: e for e in res}
halbs = [n for n in ("halb-dsr", "halb-nat", "halb-tunnel", "halb-requests") if n in by and by[n]["ka"]["median_rps"]]
peers = [e["contender"] for e in res if not e["contender"].startswith("halb") and e["ka"]["median_rps"]]
ratios = {}
for h in halbs:
    for p in peers:
        r = {}
        for kind in ("ka", "close"):
            a, b = by[h][kind]["median_rps"], by[p][kind]["median_rps"]
            r[kind] = round(a / b, 3) if a and b else None
        ratios["%s/%s" % (h, p)] = r

def fr(x):
    return "—" if x is None else "%.0f" % x
def fl(x):
    return "—" if x is None else ("%.2f ms" % x)
def fx(x):
    return "—" if x is None else "%.2f" % x

hdr = ["contender", "mode", "keep-alive req/s", "keep-alive p99", "close req/s", "close p99"]
hdr += ["%s ÷ peer (ka / close)" % h.replace("-", " ") for h in halbs]
lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
for e in res:
    n = e["contender"]
    if "failed" in e:
        row = [n, e["mode"], "not measured: " + e["failed"].replace("|", "/"), "", "", ""] + [""] * len(halbs)
    else:
        row = [n, e["mode"], fr(e["ka"]["median_rps"]), fl(e["ka"]["median_p99_ms"]),
               fr(e["close"]["median_rps"]), fl(e["close"]["median_p99_ms"])]
        for h in halbs:
            r = ratios.get("%s/%s" % (h, n))
            row.append("%s / %s" % (fx(r["ka"]), fx(r["close"])) if r else "")
    lines.append("| " + " | ".join(row) + " |")
table = "\n".join(lines)

def ver(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return r.stdout + r.stderr
    except Exception:
        return ""
cpu = ""
try:
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
except Exception:
    pass
versions = {
    "haproxy": (re.search(r"version (\S+)", ver(["haproxy", "-v"])) or [None, None])[1],
    "nginx": (re.search(r"nginx/(\S+)", ver(["nginx", "-v"])) or [None, None])[1],
    "nft": (re.search(r"v(\S+)", ver(["nft", "--version"])) or [None, None])[1],
    "ovs": (re.search(r"\) (\S+)", ver(["ovs-vsctl", "--version"])) or [None, None])[1],
    "wrk": (re.search(r"wrk (\S+)", ver(["wrk", "-v"])) or [None, None])[1],
}
machine = {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release()}
notes = [l for l in partial_s.splitlines() if l]
for e in res:
    for kind in ("ka", "close"):
        k = e[kind]
        if k["requests"] and k["errors"] > 0.01 * k["requests"]:
            notes.append("%s %s: %d errors in %d requests" % (e["contender"], kind, k["errors"], k["requests"]))
out = {"benchmark": report, "quick": quick, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
       "machine": machine, "versions": versions,
       "load": {"tool": "wrk", "threads": int(threads), "connections": int(conns), "seconds": secs, "runs": runs},
       "backends": "nginx, 3-byte body, one process per backend; weights 1,1,2",
       "results": res, "ratios_halb_over_peer": ratios, "notes": notes, "runtime_s": int(elapsed)}
os.makedirs(outdir, exist_ok=True)
json.dump(out, open(os.path.join(outdir, report + ".json"), "w"), indent=1)
title = ("# Peers, request routing: halb-router against HAProxy mode http and nginx http end to end"
         if report == "peers-requests" else
         "# Peers: halb against HAProxy, nginx, nftables and OVS-DPDK end to end")
md = [title, "",
      "%s%s; %s (%d CPUs), kernel %s; wrk -t%s -c%s, %d run(s) of %d s per cell, medians; "
      "ratios are halb's requests/s over the peer's (keep-alive / close). Runtime %d s." % (
          out["date"], " (quick)" if quick else "", cpu, os.cpu_count(), platform.release(),
          threads, conns, runs, secs, int(elapsed)), "", table, ""]
md += ["", "Every run (requests/s, keep-alive then close; the spread shows this shared machine's noise):", ""]
for e in res:
    if "failed" in e:
        continue
    md.append("- %s: keep-alive %s; close %s" % (e["contender"],
        ", ".join("%.0f" % r["rps"] for r in e["ka"]["runs"] if "rps" in r),
        ", ".join("%.0f" % r["rps"] for r in e["close"]["runs"] if "rps" in r)))
md.append("")
md += ["- " + n for n in notes]
md.append("- versions: " + ", ".join("%s %s" % kv for kv in versions.items()))
open(os.path.join(outdir, report + ".md"), "w").write("\n".join(md) + "\n")
print(table)
EOF
rc=$?
[ "$rc" = 0 ] || halb_die "could not write the report"
log "done in $((SECONDS - T0)) s; results in $RESULTS_DIR/$REPORT_NAME.md and $REPORT_NAME.json"
[ "$unmeasured" = 0 ] || exit 3
exit 0
