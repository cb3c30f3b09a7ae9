# shellcheck shell=bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/ovs_gen.sh: Open vSwitch with DPDK through item 1's generator rig,
# where the comparison is fair (issue 3).  Sourced by bench/run.sh, which
# runs fast_ovs in its fast-path rounds when BENCH_ONLY has `ovs` (the
# default when ovs-vswitchd-dpdk is installed; named explicitly, the
# package is installed from Debian's mirror when it is missing).
#
# The device under test is ovs-vswitchd (package openvswitch-switch-dpdk,
# OVS 3.1 on the system's DPDK 22.11) in halb's worker's place: a private
# ovsdb-server and ovs-vswitchd (database, run and log files in the run
# directory, in a network namespace of their own so that the bridge's tap
# device is private too), userspace datapath, DPDK with `--no-pci
# --file-prefix <own> --huge-unlink` (OVS adds --in-memory), the main
# thread on CPU 0 (dpdk-lcore-mask=0x1), one PMD thread on CPU 1
# (pmd-cpu-mask=0x2) with the idle back-off off (pmd-maxsleep=0, its
# default), and one port: the memif server halb's worker and the bare loop
# have (`type=dpdk options:dpdk-devargs=net_memif0,role=server,...` with
# the worker's MAC).  halb-bench-gen connects to it from CPU 0 as it does
# to the forwarder, with one difference: OVS gives the port a transmit
# queue per thread (the main thread's 0, the PMD's 1), and a memif server
# sending on a queue the client did not set up writes into another ring,
# so the generator opens that many receive queues (--rx-queues; it still
# sends on queue 0, and polls one more, always empty, queue than for halb).
# The EMC and everything else keep OVS's defaults.

# Two configurations, matching halb's modes (backends and MACs of
# bench/bench.conf: 198.18.0.11-14, 02:68:b0:00:01:0b-0e):
#   ovs-stateless  like halb dsr: frames to 198.18.2.100:80 get the port's
#                  MAC as source and go to a select group (dp_hash, the
#                  default selection method) of 4 buckets, each setting
#                  eth_dst to a backend's MAC and sending the frame out of
#                  the port it came in on.  No state, no warm-up.
#   ovs-ctnat      like halb nat: frames to 198.18.2.101:80 go through
#                  ct(zone=1,nat); new connections to a select group whose
#                  buckets do ct(commit,zone=1,nat(dst=backend:8080),
#                  table=2); established ones to table 2 directly, which
#                  sets the backend's MAC and sends the frame back out.
#                  Warm-up: one SYN per flow (conntrack entries, as halb's
#                  warm-up installs flows), then the ACKs.  The SYNs are
#                  never answered: conntrack keeps the connections in
#                  SYN_SENT and takes the ACKs as +est (valid packets of a
#                  known connection; TCP sequence checking stays on), so
#                  they go through ct's NAT.  Zone 1 gets a timeout policy
#                  of 3600 s (halb's bench.conf keeps its flows 3600 s).
#
# Figures: the generator's rate and clean windows (--dut-cmd none: OVS has
# no /halb/stats; the CPU-share check reads the PMD thread's schedstat).
# Cycles per frame from OVS's own counters, two ways: (a) the generator
# reads `dpif-netdev/pmd-stats-show -pmd 1` over ovs-vswitchd's unixctl
# socket at every window edge (--dut-ovs): Δ"processing cycles" (the PMD's
# TSC cycles in iterations that received packets, what halb's busy_tsc
# counts) / Δ"packets received", medians over the clean windows like
# halb's rows; (b) `pmd-stats-clear` when the measurement starts and
# `pmd-stats-show` when it ends: "avg processing cycles per packet" over
# the whole measurement (ramp and every window, clean or not), under
# "ovs" in the result.  Also recorded there: datapath passes per packet,
# EMC/megaflow hits and upcalls, megaflows, conntrack entries (after the
# warm-up and at the end), what table 1 saw by ct_state, the port's
# drops, each ovs-vswitchd thread's share of a CPU over the measurement
# (the others than the PMD run on CPU 0 with the generator), and from
# the generator a sample of the frames back (--check-rx: the first of
# each burst), which must all carry a backend's MAC (and for ct nat the
# backend's address and port 8080).
#
# Everything started here is in run.sh's PIDS (stopped by PID); the
# namespace, the private directory and OVS's DPDK files go on every exit
# path (ovs_gen_cleanup, which run.sh's cleanup calls first: ovs-vswitchd
# must go before the generator, a memif peer leaving under a polling side
# can crash it).

OVS_GEN_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
OVS_GEN_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
OVS_GEN_PACKAGE=openvswitch-switch-dpdk
OVS_GEN_NS=hbovs$$
OVS_GEN_NS_MADE=0
OVS_GEN_POLICY_RC_MADE=0
OVS_GEN_DIR=""      # the private directory of the OVS that runs now
OVS_GEN_VS_PID=""   # its ovs-vswitchd
OVS_GEN_DB_PID=""   # its ovsdb-server
declare -A OVS_GEN_VIP=([stateless]=198.18.2.100 [ctnat]=198.18.2.101)
OVS_GEN_BACKENDS="198.18.0.11=02:68:b0:00:01:0b 198.18.0.12=02:68:b0:00:01:0c 198.18.0.13=02:68:b0:00:01:0d 198.18.0.14=02:68:b0:00:01:0e"

ovs_gen_have() {
	[ -x "$OVS_GEN_VSWITCHD" ] && [ -r "$OVS_GEN_SCHEMA" ] &&
		command -v ovsdb-server >/dev/null && command -v ovsdb-tool >/dev/null &&
		command -v ovs-vsctl >/dev/null && command -v ovs-ofctl >/dev/null &&
		command -v ovs-appctl >/dev/null
}

# ovs_gen_ready: 0 when OVS-DPDK can run.  Installs the package when
# BENCH_ONLY names `ovs` explicitly (as bench/peers.sh does, with a
# policy-rc.d so that no service starts on the host); with the default
# BENCH_ONLY only what is installed runs.
ovs_gen_ready() {
	ovs_gen_have && return 0
	if [[ ",${BENCH_ONLY:-}," != *",ovs,"* ]]; then
		log "ovs: $OVS_GEN_PACKAGE is not installed: skipped (BENCH_ONLY=...,ovs installs it)"
		return 1
	fi
	log "ovs: installing $OVS_GEN_PACKAGE"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# bench/ovs_gen.sh: no service starts while it installs\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		OVS_GEN_POLICY_RC_MADE=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
		DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends \
			"$OVS_GEN_PACKAGE" >&2
	if [ "$OVS_GEN_POLICY_RC_MADE" = 1 ]; then
		rm -f /usr/sbin/policy-rc.d
		OVS_GEN_POLICY_RC_MADE=0
	fi
	ovs_gen_have || { log "ovs: $OVS_GEN_PACKAGE could not be installed: skipped"; return 1; }
}

ovs_gen_env() {
	env OVS_RUNDIR="$OVS_GEN_DIR" OVS_DBDIR="$OVS_GEN_DIR" OVS_LOGDIR="$OVS_GEN_DIR" \
		OVS_SYSCONFDIR="$OVS_GEN_DIR" "$@"
}
ovs_gen_vsctl() { ovs_gen_env ovs-vsctl --db="unix:$OVS_GEN_DIR/db.sock" --timeout=30 "$@"; }
ovs_gen_ofctl() { ovs_gen_env ovs-ofctl -O OpenFlow15 "$1" "unix:$OVS_GEN_DIR/br0.mgmt" "${@:2}"; }
ovs_gen_appctl() { ovs_gen_env ovs-appctl -t "$OVS_GEN_DIR/ovs-vswitchd.ctl" "$@"; }

# ovs_gen_down: stops this OVS (ovs-vswitchd first, by PID) and removes
# its directory (kept, less its sockets and database, with BENCH_KEEP=1).
ovs_gen_down() {
	[ -n "$OVS_GEN_VS_PID" ] && stop_pid "$OVS_GEN_VS_PID" ovs-vswitchd
	[ -n "$OVS_GEN_DB_PID" ] && stop_pid "$OVS_GEN_DB_PID" ovsdb-server
	OVS_GEN_VS_PID=""
	OVS_GEN_DB_PID=""
	if [ -n "$OVS_GEN_DIR" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then
			rm -f "$OVS_GEN_DIR"/*.sock "$OVS_GEN_DIR"/*.ctl "$OVS_GEN_DIR"/br0.* "$OVS_GEN_DIR/conf.db"
		else
			rm -rf "$OVS_GEN_DIR"
		fi
	fi
	OVS_GEN_DIR=""
}

# ovs_gen_cleanup: every exit path of run.sh (its cleanup calls it first).
ovs_gen_cleanup() {
	ovs_gen_down
	if [ "$OVS_GEN_NS_MADE" = 1 ]; then
		ip netns del "$OVS_GEN_NS" 2>/dev/null
		OVS_GEN_NS_MADE=0
	fi
	[ "$OVS_GEN_POLICY_RC_MADE" = 1 ] && rm -f /usr/sbin/policy-rc.d
	OVS_GEN_POLICY_RC_MADE=0
	return 0
}

# ovs_gen_up DIR FILE_PREFIX SOCK CONFIG: a private ovsdb-server and
# ovs-vswitchd with the memif server port p0 on SOCK; sets OVS_GEN_VS_PID,
# OVS_GEN_PMD (the PMD thread's name) and OVS_GEN_TXQ (its port's
# transmit queues).
ovs_gen_up() {
	local o=$1 fp=$2 sock=$3 cfg=$4
	OVS_GEN_DIR=$o
	mkdir -p "$o"
	if [ "$OVS_GEN_NS_MADE" = 0 ]; then
		ip netns add "$OVS_GEN_NS" || { log "ovs: ip netns add $OVS_GEN_NS failed"; return 1; }
		OVS_GEN_NS_MADE=1
	fi
	ovsdb-tool create "$o/conf.db" "$OVS_GEN_SCHEMA" >"$o/tool.log" 2>&1 ||
		{ log "ovs: ovsdb-tool create: $(cat "$o/tool.log")"; return 1; }
	spawn ovsdb-server "$o/ovsdb-server.out" env OVS_RUNDIR="$o" OVS_DBDIR="$o" OVS_LOGDIR="$o" \
		OVS_SYSCONFDIR="$o" ip netns exec "$OVS_GEN_NS" ovsdb-server "$o/conf.db" \
		--remote="punix:$o/db.sock" --pidfile="$o/ovsdb-server.pid" \
		--unixctl="$o/ovsdb-server.ctl" --log-file="$o/ovsdb-server.log"
	OVS_GEN_DB_PID=$LAST_PID
	wait_for 10 test -S "$o/db.sock" || { log "ovs: ovsdb-server did not open its socket"; return 1; }
	if ! ovs_gen_vsctl --no-wait init ||
		! ovs_gen_vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
			"other_config:dpdk-extra=--no-pci --file-prefix $fp --huge-unlink" \
			other_config:dpdk-socket-limit=256 other_config:dpdk-lcore-mask=0x1 \
			other_config:pmd-cpu-mask=0x2 other_config:pmd-maxsleep=0; then
		log "ovs: ovs-vsctl could not configure the database"
		return 1
	fi
	if [ "$cfg" = ctnat ] && { ! ovs_gen_vsctl --no-wait -- --id=@dp create Datapath \
		datapath_version=0 -- set Open_vSwitch . datapaths:netdev=@dp >/dev/null ||
		! ovs_gen_vsctl --no-wait add-zone-tp netdev zone=1 tcp_syn_sent=3600 \
			tcp_syn_recv=3600 tcp_established=3600; }; then
		log "ovs: no timeout policy for zone 1"
		return 1
	fi
	rm -f "$sock"
	spawn ovs-vswitchd "$o/ovs-vswitchd.out" env OVS_RUNDIR="$o" OVS_DBDIR="$o" OVS_LOGDIR="$o" \
		OVS_SYSCONFDIR="$o" ip netns exec "$OVS_GEN_NS" "$OVS_GEN_VSWITCHD" "unix:$o/db.sock" \
		--pidfile="$o/ovs-vswitchd.pid" --unixctl="$o/ovs-vswitchd.ctl" \
		--log-file="$o/ovs-vswitchd.log"
	OVS_GEN_VS_PID=$LAST_PID
	if ! ovs_gen_vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=secure \
		>"$o/vsctl.log" 2>&1 ||
		! ovs_gen_vsctl add-port br0 p0 -- set Interface p0 type=dpdk ofport_request=1 \
			"options:dpdk-devargs=net_memif0,role=server,id=0,socket=$sock,socket-abstract=no,mac=$DUT_MAC" \
			>>"$o/vsctl.log" 2>&1; then
		log "ovs: add-br/add-port failed: $(tail -n 1 "$o/vsctl.log") $(grep -hE 'ERR|EMER' "$o/ovs-vswitchd.log" 2>/dev/null | tail -n 2 | tr '\n' ' ')"
		return 1
	fi
	if [ "$(ovs_gen_vsctl get Interface p0 ofport 2>/dev/null)" != 1 ]; then
		log "ovs: port p0 not added: $(ovs_gen_vsctl get Interface p0 error 2>&1) $(grep -hE 'WARN|ERR' "$o/ovs-vswitchd.log" | tail -n 2 | tr '\n' ' ')"
		return 1
	fi
	OVS_GEN_PMD=""
	for _ in $(seq 100); do
		OVS_GEN_PMD=$(cat /proc/"$OVS_GEN_VS_PID"/task/*/comm 2>/dev/null | grep -m1 '^pmd-c01/')
		[ -n "$OVS_GEN_PMD" ] && break
		sleep 0.1
	done
	[ -n "$OVS_GEN_PMD" ] || { log "ovs: no PMD thread on CPU 1"; return 1; }
	# The PMD thread sends on its own queue (the main thread has queue 0):
	# the generator must open that many receive queues, or the memif
	# server writes into a ring the client never set up.
	OVS_GEN_TXQ=$(ovs_gen_vsctl get Interface p0 statistics 2>/dev/null | grep -o 'tx_q[0-9]*_packets' | wc -l)
	[ "$OVS_GEN_TXQ" -ge 1 ] 2>/dev/null || OVS_GEN_TXQ=2
}

# ovs_gen_flows CONFIG: the group and flows of ovs-stateless or ovs-ctnat.
ovs_gen_flows() {
	local cfg=$1 vip=${OVS_GEN_VIP[$1]} o=$OVS_GEN_DIR be ip mac id=0 buckets=""
	for be in $OVS_GEN_BACKENDS; do
		ip=${be%%=*}
		mac=${be#*=}
		id=$((id + 1))
		if [ "$cfg" = stateless ]; then
			buckets+="bucket=bucket_id:$id,actions=mod_dl_dst:$mac,in_port,"
		else
			buckets+="bucket=bucket_id:$id,actions=ct(commit,zone=1,nat(dst=$ip:8080),table=2),"
		fi
	done
	if [ "$cfg" = stateless ]; then
		cat >"$o/flows.txt" <<-EOF
			table=0,priority=100,tcp,nw_dst=$vip,tp_dst=80,actions=mod_dl_src:$DUT_MAC,group:1
			table=0,priority=0,actions=drop
		EOF
	else
		{
			echo "table=0,priority=100,tcp,nw_dst=$vip,tp_dst=80,actions=ct(table=1,zone=1,nat)"
			echo "table=0,priority=0,actions=drop"
			echo "table=1,priority=100,ct_state=+new+trk,tcp,nw_dst=$vip,tp_dst=80,actions=group:1"
			echo "table=1,priority=90,ct_state=+est+trk,actions=resubmit(,2)"
			echo "table=1,priority=0,actions=drop"
			for be in $OVS_GEN_BACKENDS; do
				echo "table=2,priority=100,ip,nw_dst=${be%%=*},actions=mod_dl_src:$DUT_MAC,mod_dl_dst:${be#*=},in_port"
			done
			echo "table=2,priority=0,actions=drop"
		} >"$o/flows.txt"
	fi
	ovs_gen_ofctl del-flows &&
		ovs_gen_ofctl add-group "group_id=1,type=select,${buckets%,}" &&
		ovs_gen_ofctl add-flows "$o/flows.txt"
}

# ovs_gen_cpu_ticks PID [TID]: utime + stime of the process (or thread).
ovs_gen_cpu_ticks() {
	local f=/proc/$1/stat
	[ -n "${2:-}" ] && f=/proc/$1/task/$2/stat
	# Fields after the ")" that ends comm: utime and stime are 12 and 13.
	sed 's/^.*) //' "$f" 2>/dev/null | awk '{ print $12 + $13 }'
}

# ovs_gen_thread_ticks: "TID COMM TICKS" of every thread of ovs-vswitchd.
ovs_gen_thread_ticks() {
	local t
	for t in /proc/"$OVS_GEN_VS_PID"/task/*; do
		printf '%s %s %s\n' "${t##*/}" "$(tr ' ' _ 2>/dev/null <"$t/comm")" \
			"$(ovs_gen_cpu_ticks "$OVS_GEN_VS_PID" "${t##*/}")"
	done
}

# ovs_gen_json CONFIG PMD_STATS_FILE: OVS's figures of a run as JSON
# (after the measurement); uses OVS_GEN_T0/OVS_GEN_THR0 of the start.
ovs_gen_json() {
	local cfg=$1 st=$2 o=$OVS_GEN_DIR t1 shares others stats nconns flows groups threads
	t1=$(date +%s.%N)
	# Each thread's share of a CPU over the measurement ("COMM SHARE",
	# the threads that ran), and those of all but the PMD thread summed.
	shares=$(ovs_gen_thread_ticks | awk -v t0="$OVS_GEN_T0" -v t1="$t1" \
		-v hz="$(getconf CLK_TCK)" -v before="$OVS_GEN_THR0" '
		BEGIN { n = split(before, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], f, " "); b[f[1]] = f[3] } }
		($1 in b) && $3 - b[$1] > 0 && t1 > t0 { printf "%s %.3f\n", $2, ($3 - b[$1]) / hz / (t1 - t0) }')
	threads=$(awk '{ printf "%s\"%s\": %s", sep, $1, $2; sep = ", " }' <<<"$shares")
	others=$(awk -v pmd="$OVS_GEN_PMD" '$1 != pmd { s += $2 } END { printf "%.3f", s }' <<<"$shares")
	stats=$(ovs_gen_vsctl get Interface p0 statistics 2>/dev/null)
	nconns=$(ovs_gen_appctl dpctl/ct-get-nconns 2>/dev/null | grep -o '^[0-9]*$')
	flows=$(ovs_gen_appctl dpctl/dump-flows 2>/dev/null | grep -c 'actions:')
	ovs_gen_ofctl dump-flows >"$o/flows.after.txt" 2>&1
	ovs_gen_ofctl dump-group-stats >"$o/groups.after.txt" 2>&1
	groups=$(grep -o 'bucket[0-9]*:packet_count=[0-9]*' "$o/groups.after.txt" | sed 's/.*=//' | paste -sd, -)
	awk -v cfg="$cfg" -v others="$others" -v threads="$threads" -v nconns="${nconns:-null}" \
		-v warm_conns="${OVS_GEN_WARM_CONNS:-null}" -v megaflows="${flows:-0}" \
		-v buckets="$groups" -v stats="$stats" -v after="$o/flows.after.txt" \
		-v before="$o/flows.before.txt" '
		/^pmd thread numa_id [0-9]+ core_id 1:/ { on = 1; next }
		/^(pmd thread|main thread)/ { on = 0 }
		on && /packets received:/ { rx = $3 }
		on && /packet recirculations:/ { rc = $3 }
		on && /avg\. datapath passes per packet:/ { pp = $NF }
		on && /simple match hits:/ { sm = $4 }
		on && / emc hits:/ { emc = $3 }
		on && / smc hits:/ { smc = $3 }
		on && / megaflow hits:/ { mf = $3 }
		on && /miss with success upcall:/ { up = $NF }
		on && /miss with failed upcall:/ { fup = $NF }
		on && /^ *processing cycles:/ { pc = $3; ps = $4; gsub(/[()%]/, "", ps) }
		on && /avg processing cycles per packet:/ { cpp = $6 }
		function stat(k,   m) {
			if (match(stats, "[{ ,]" k "=[0-9]+")) { m = substr(stats, RSTART + 1, RLENGTH - 1); sub(/.*=/, "", m); return m }
			return "null"
		}
		function nz(v) { return v == "" ? "null" : v }
		# table1(FILE, SIGN): adds SIGN x the packet counts of table 1 by
		# ct_state (+new, +est, the rest dropped).
		function table1(f, sign,   l, n) {
			while ((getline l < f) > 0) {
				if (l !~ /table=1,/) continue
				n = l; sub(/.*n_packets=/, "", n); sub(/,.*/, "", n)
				if (l ~ /ct_state=\+new\+trk/) ctnew += sign * n
				else if (l ~ /ct_state=\+est\+trk/) ctest += sign * n
				else if (l ~ /priority=0/) ctdrop += sign * n
			}
		}
		END {
			# ct nat: what table 1 saw during the measurement.
			if (cfg == "ctnat") { table1(after, 1); table1(before, -1) }
			printf "{\"config\": \"%s\", \"cyc_per_pkt\": %s, \"processing_share\": %s, " \
				"\"packets\": %s, \"recirculations\": %s, \"passes_per_pkt\": %s, " \
				"\"simple_match_hits\": %s, \"emc_hits\": %s, \"smc_hits\": %s, " \
				"\"megaflow_hits\": %s, \"upcalls\": %s, \"failed_upcalls\": %s, " \
				"\"megaflows\": %s, \"other_threads_cpu\": %s, \"thread_cpu\": {%s}, \"rx_dropped\": %s, " \
				"\"tx_dropped\": %s, \"tx_failure_drops\": %s, \"bucket_packets\": [%s]",
				cfg, nz(cpp), ps == "" ? "null" : ps / 100, nz(rx), nz(rc), nz(pp), nz(sm),
				nz(emc), nz(smc), nz(mf), nz(up), nz(fup), megaflows, others, threads,
				stat("rx_dropped"), stat("tx_dropped"), stat("ovs_tx_failure_drops"), buckets
			if (cfg == "ctnat")
				printf ", \"ct_conns_warm\": %s, \"ct_conns_end\": %s, \"ct_new_pkts\": %s, " \
					"\"ct_est_pkts\": %s, \"ct_other_dropped\": %s",
					warm_conns, nconns, nz(ctnew), nz(ctest), nz(ctdrop)
			printf "}"
		}' "$st"
}

# fast_ovs CONFIG FLOWS REP: OVS-DPDK (CONFIG stateless or ctnat) on CPU 1
# in the worker's place, the generator on CPU 0; one JSON line of
# run.sh's record() with target ovs-CONFIG and OVS's figures under "ovs".
fast_ovs() {
	local cfg=$1 n=$2 rep=$3 target=ovs-$1 ovs_prefix gen_prefix out go gp warm=() warm_s rc=0 ok=0
	local vip=${OVS_GEN_VIP[$1]} sock st ovs_json r t_start=$SECONDS
	hugepages_for $((200 + n / 20000)) || { log "$target $n: not enough hugepages"; return 1; }
	new_prefix ovs
	ovs_prefix=$PREFIX
	new_prefix gen
	gen_prefix=$PREFIX
	sock=$RUN/$ovs_prefix.sock
	out=$RUN/$gen_prefix.out
	go=$RUN/$gen_prefix.go
	st=$RUN/$ovs_prefix.pmd-stats.txt
	OVS_GEN_WARM_CONNS=""
	if ovs_gen_up "$RUN/$ovs_prefix.ovs" "$ovs_prefix" "$sock" "$cfg" && ovs_gen_flows "$cfg"; then
		ok=1
	else
		log "$target $n: OVS did not start (logs: $RUN/$ovs_prefix.ovs)"
		tail -n 3 "$RUN/$ovs_prefix.ovs/ovs-vswitchd.log" >&2 2>/dev/null
	fi
	if [ "$ok" = 1 ]; then
		[ "$cfg" = ctnat ] && warm=(--warm --window 900 --backoff-us 100)
		# shellcheck disable=SC2046 # word splitting of the EAL arguments
		spawn halb-bench-gen "$out" "$GEN_BIN" $(gen_eal "$gen_prefix" "$sock") -- fast \
			--flows "$n" --vip "$vip" --dst-mac "$DUT_MAC" "${warm[@]}" --go-file "$go" \
			--linger --dut-cmd none --dut-ovs "$OVS_GEN_DIR/ovs-vswitchd.ctl" \
			--dut-pid "$OVS_GEN_VS_PID" --dut-thread "$OVS_GEN_PMD" \
			--rx-queues "$OVS_GEN_TXQ" --check-rx \
			--windows "$WINDOWS" --max-windows "${MAXW:-$MAX_WINDOWS}" --window-ms "$WINDOW_MS"
		gp=$LAST_PID
		warm_s=$((60 + n / 25000))
		if wait_for "$warm_s" grep_alive '^gen: warm$' "$out" "$gp" && grep -q '^gen: warm$' "$out"; then
			grep '^gen: warm-up' "$out" | sed 's/^gen: /  /' >&2
			if [ "$cfg" = ctnat ]; then
				OVS_GEN_WARM_CONNS=$(ovs_gen_appctl dpctl/ct-get-nconns 2>/dev/null | grep -o '^[0-9]*$')
				log "  conntrack: ${OVS_GEN_WARM_CONNS:-?} connections after the warm-up ($(ovs_gen_appctl dpctl/ct-stats-show -m 2>/dev/null | grep -o '\[[A-Z_]*\]=[0-9]*' | paste -sd' ' -))"
			fi
			ovs_gen_appctl dpif-netdev/pmd-stats-clear >/dev/null
			ovs_gen_ofctl dump-flows >"$OVS_GEN_DIR/flows.before.txt" 2>&1
			OVS_GEN_T0=$(date +%s.%N)
			OVS_GEN_THR0=$(ovs_gen_thread_ticks)
			touch "$go"
			wait_for 60 grep_alive '^RESULT ' "$out" "$gp" || rc=1
			ovs_gen_appctl dpif-netdev/pmd-stats-show >"$st" 2>&1
			ovs_json=$(ovs_gen_json "$cfg" "$st")
		else
			log "$target $n: warm-up did not finish in $warm_s s"
			rc=1
		fi
	fi
	# ovs-vswitchd first: a memif peer that leaves while the other side
	# polls can crash it; the generator lingers without polling.
	ovs_gen_down
	[ -n "${gp:-}" ] && stop_pid "$gp" halb-bench-gen
	dpdk_files_rm "$ovs_prefix"
	dpdk_files_rm "$gen_prefix"
	rm -f "$sock"
	# The generator's RESULT with OVS's figures added under "ovs".
	r=$(grep -m1 '^RESULT ' "$out" 2>/dev/null)
	if [ -n "$r" ] && [ -n "${ovs_json:-}" ]; then
		printf '%s, "ovs": %s}\n' "${r%\}}" "$ovs_json" >"$out.ovs"
		log "  $target $n: $(sed -n 's/.*"mpps": \([0-9.]*\).*/\1/p' <<<"$r") Mpps, $(sed -n 's/.*"cyc_per_pkt": \([0-9.]*\).*"dut_source.*/\1/p' <<<"$r") cycles/packet (OVS's counters), $(sed -n 's/.*"clean_windows": \([0-9]*\).*/\1/p' <<<"$r")/$(sed -n 's/.*"windows": \([0-9]*\).*/\1/p' <<<"$r") clean windows; $((SECONDS - t_start)) s"
	else
		: >"$out.ovs"
		cat "$out" >>"$out.ovs" 2>/dev/null
	fi
	record fast "$target" "$n" "$rep" "$out.ovs" || rc=1
	return $rc
}
