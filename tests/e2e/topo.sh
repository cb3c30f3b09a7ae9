#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/e2e/topo.sh up|down|kernel-leg|dpdk-leg PREFIX
# tests/e2e/topo.sh fabric-up PREFIX N
#
# The end-to-end rig in network namespaces, as conf/halb.conf expects it:
#
#   PREFIX-cli  eth0 198.18.1.1/24 fd00:68:1::1/64
#       |
#   PREFIX-rtr  cli0 198.18.1.254/24 fd00:68:1::fe/64 (forwarding on)
#               eth1 198.18.0.254/24 fd00:68::fe/64
#               routes 198.18.2.0/24 via 198.18.0.2, fd00:68:2::/64 via fd00:68::2
#       |
#   PREFIX-sw   br0 with ports rtr, lb, b1, b2, b3     (the server network)
#       |
#   PREFIX-lb   halb0: no addresses, driven by DPDK net_af_packet; the
#               forwarder answers ARP/ND for 198.18.0.2 and fd00:68::2;
#               the kernel drops what arrives there (nft netdev ingress)
#               mgmt0: 198.18.0.3/24 fd00:68::3/64, the kernel's management
#               leg (halb-healthd listens and probes there)
#   PREFIX-bN   eth0 198.18.0.1N/24 fd00:68::1N/64, VIPs 198.18.2.100-102 and
#               fd00:68:2::100-102 on lo, VXLAN vx4/vx6 (VNI 42, port 4789),
#               TCP from port 8080 (NAT mode) routed back via the appliance
#
# Both networks have an MTU of 1500, as real ones do: a full-size client
# segment to a tunnel VIP does not fit in VXLAN (50 more bytes) and gets an
# ICMP "fragmentation needed" from the appliance (ports[].mtu, 1500 by
# default), after which the client sends segments that fit.  MAC addresses
# are fixed (02:68:00:00:00:xx) so that captures and neighbour tables read
# the same on every run.
#
# fabric-up (tests/e2e/fabric.sh, the routing fabric of issue 10) builds the
# same client, switch and backends with N appliances (2 or 3) instead of
# one, and a router that learns the VIPs from them over BGP instead of a
# static route:
#
#   PREFIX-rtr  as above, without the VIP routes (BIRD puts them in, one
#               multipath route per VIP); fib_multipath_hash_policy=1
#               (addresses and ports) for IPv4 and IPv6
#   PREFIX-lbI  (I = 1..N) halb0: MAC 02:68:00:00:00:0X, X = 2I, the DPDK
#               leg, dropped by the kernel (as above); no management leg:
#               the kernel's addresses 198.18.0.X/24 and fd00:68::X/64 sit
#               on the forwarder's kernel interface halb0k, which the
#               forwarder makes itself (ports[].kernel)
#               sync0: 198.18.3.I/24, fd00:68:3::I/64, on a bridge of its
#               own (br1 in PREFIX-sw): the appliances' sync network, for
#               the session tracker (halb-sessiond) to replicate over
#
# cls-host adds a classifier host to a rig that is `up` (cls_host below).
#
# `up` and `fabric-up` fail if any PREFIX- namespace exists already, and
# remove what they made when a step fails.  `down` removes every PREFIX- namespace of the rig
# (their veths go with them) and tolerates a partial rig.
set -euo pipefail

usage() { echo "usage: $0 up|down|kernel-leg|dpdk-leg|cls-host PREFIX | fabric-up PREFIX N" >&2; exit 2; }
[ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$1" = fabric-up ]; } || usage
cmd=$1 P=$2 N_LB=${3:-0}
[[ $P =~ ^[A-Za-z0-9][A-Za-z0-9_]{0,15}$ ]] || { echo "$0: bad prefix '$P'" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || { echo "$0: must run as root" >&2; exit 1; }

NSES="cli rtr sw lb b1 b2 b3"
# Every namespace a rig of either kind may have (down removes them all).
ALL_NSES="cli rtr sw lb lb1 lb2 lb3 b1 b2 b3 ch"
BACKENDS="b1 b2 b3"
SERVER_MTU=1500
declare -A BNUM=([b1]=1 [b2]=2 [b3]=3)
declare -A VXMAC=([b1]=0b [b2]=0c [b3]=0d)

down() {
	local n
	for n in $ALL_NSES; do
		if [ -e "/run/netns/$P-$n" ]; then
			ip netns del "$P-$n" 2>/dev/null || echo "$0: could not delete namespace $P-$n" >&2
		fi
	done
}

# nsx NS CMD...: run CMD in namespace PREFIX-NS.
nsx() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

sysctl_set() { local n=$1; shift; nsx "$n" sysctl -qw "$@"; }

# dpdk_leg: the kernel of the appliance drops every frame that arrives on
# halb0.  DPDK's packet socket (net_af_packet) has taken its copy by the
# time the ingress hook runs; without the drop the kernel would go on to
# route each frame for IP only to discard it (ip_error), which cost 3% of
# the machine's CPU under load.  kernel_leg undoes it, for a peer that
# gives halb0 to the kernel (bench/peers.sh).
dpdk_leg() {
	local n=${1:-lb}
	if ! command -v nft >/dev/null; then
		echo "$0: nft is missing (package nftables): the kernel of $P-$n will route and discard what arrives on halb0" >&2
		return 0
	fi
	nsx "$n" nft -f - <<-EOF
		table netdev halb_dpdk_leg {
			chain ingress {
				type filter hook ingress device "halb0" priority 0; policy drop;
			}
		}
	EOF
}
kernel_leg() { nsx lb nft delete table netdev halb_dpdk_leg 2>/dev/null || true; }

# veth NS1 IF1 NS2 IF2 [MTU]: a veth pair between two rig namespaces, both
# ends up, checksum and segmentation offloads off on both ends.
veth() {
	local n1=$1 i1=$2 n2=$3 i2=$4 mtu=${5:-1500}
	ip -n "$P-$n1" link add "$i1" mtu "$mtu" type veth peer name "$i2" netns "$P-$n2" mtu "$mtu"
	nsx "$n1" ethtool -K "$i1" tx off rx off tso off gso off gro off >/dev/null
	nsx "$n2" ethtool -K "$i2" tx off rx off tso off gso off gro off >/dev/null
	ip -n "$P-$n1" link set "$i1" up
	ip -n "$P-$n2" link set "$i2" up
}

# switch_port NS IF: a veth from NS's IF to a new port of br0 (named NS).
switch_port() {
	veth "$1" "$2" sw "$1" "$SERVER_MTU"
	ip -n "$P-sw" link set "$1" master br0
}

# namespaces NS...: creates them (failing if one exists already), with no
# duplicate address detection anywhere (addresses usable at once,
# link-local ones included) and no IPv6 on the switch, and removes the
# rig if a later step fails.
namespaces() {
	local n
	for n in "$@"; do
		if [ -e "/run/netns/$P-$n" ]; then
			echo "$0: namespace $P-$n exists already (a rig named $P is up?); remove it with: $0 down $P" >&2
			exit 1
		fi
	done
	trap 'echo "$0: setting up the rig failed; removing it" >&2; down' EXIT
	for n in "$@"; do
		ip netns add "$P-$n"
		ip -n "$P-$n" link set lo up
		sysctl_set "$n" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	sysctl_set sw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# client_switch_router: the client network, the server network's bridge
# and the router between them, without routes to the VIPs.
client_switch_router() {
	# Client network.
	veth cli eth0 rtr cli0
	ip -n "$P-cli" link set eth0 address 02:68:00:00:01:01
	ip -n "$P-rtr" link set cli0 address 02:68:00:00:01:fe
	ip -n "$P-cli" addr add 198.18.1.1/24 dev eth0
	ip -n "$P-cli" addr add fd00:68:1::1/64 dev eth0 nodad
	ip -n "$P-cli" route add default via 198.18.1.254
	ip -n "$P-cli" -6 route add default via fd00:68:1::fe

	# Server network: a bridge, MAC learning on, no STP, no multicast
	# snooping (ND must reach every port without an MLD querier).
	ip -n "$P-sw" link add br0 mtu "$SERVER_MTU" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$P-sw" link set br0 up

	# Router.
	switch_port rtr eth1
	ip -n "$P-rtr" link set eth1 address 02:68:00:00:00:fe
	ip -n "$P-rtr" addr add 198.18.0.254/24 dev eth1
	ip -n "$P-rtr" addr add 198.18.1.254/24 dev cli0
	ip -n "$P-rtr" addr add fd00:68::fe/64 dev eth1 nodad
	ip -n "$P-rtr" addr add fd00:68:1::fe/64 dev cli0 nodad
	sysctl_set rtr net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.eth1.rp_filter=0 net.ipv4.conf.cli0.rp_filter=0
}

# backends X [X6]: the three backend hosts; NAT mode's replies go back
# through 198.18.0.X (fd00:68::X6, X6 defaulting to X): the appliance, or
# in the fabric the router (254, fe), which spreads them over the
# appliances.  No ICMP redirect moves them off it.
backends() {
	local b i v d x6=${2:-$1}
	for b in $BACKENDS; do
		i=${BNUM[$b]}
		switch_port "$b" eth0
		ip -n "$P-$b" link set eth0 address "02:68:00:00:00:1$i"
		sysctl_set "$b" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.default.arp_ignore=1 net.ipv4.conf.default.arp_announce=2 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
			net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.default.accept_redirects=0 \
			net.ipv6.conf.all.accept_redirects=0 net.ipv6.conf.default.accept_redirects=0
		ip -n "$P-$b" addr add "198.18.0.1$i/24" dev eth0
		ip -n "$P-$b" addr add "fd00:68::1$i/64" dev eth0 nodad
		ip -n "$P-$b" route add default via 198.18.0.254
		ip -n "$P-$b" -6 route add default via fd00:68::fe
		for v in 100 101 102; do
			ip -n "$P-$b" addr add "198.18.2.$v/32" dev lo
			ip -n "$P-$b" addr add "fd00:68:2::$v/128" dev lo nodad
		done
		# Tunnel mode: the appliance sends VXLAN (VNI 42) to eth0's address;
		# the inner frame is addressed to the device's fixed MAC.  vx6 keeps
		# the kernel's default noudp6zerocsumrx: over IPv6 the outer UDP
		# checksum must be filled in, as a real backend would require.
		ip -n "$P-$b" link add vx4 address "02:68:00:00:00:${VXMAC[$b]}" type vxlan \
			id 42 dstport 4789 local "198.18.0.1$i" dev eth0 nolearning
		ip -n "$P-$b" link add vx6 address "02:68:00:00:00:${VXMAC[$b]}" type vxlan \
			id 42 dstport 4789 local "fd00:68::1$i" dev eth0 nolearning
		ip -n "$P-$b" link set vx4 up
		ip -n "$P-$b" link set vx6 up
		for d in lo eth0 vx4 vx6; do
			sysctl_set "$b" "net.ipv4.conf.$d.arp_ignore=1" "net.ipv4.conf.$d.arp_announce=2" \
				"net.ipv4.conf.$d.rp_filter=0"
		done
		# NAT mode: the backend sees the client's address; its replies
		# (from port 8080) must go back through the appliance to be
		# rewritten.
		# Hosts on the server network itself (the appliance's management
		# leg probing port 8080) are answered directly.
		ip -n "$P-$b" rule add ipproto tcp sport 8080 lookup 100
		ip -n "$P-$b" route add default via "198.18.0.$1" table 100
		ip -n "$P-$b" route add 198.18.0.0/24 dev eth0 table 100
		ip -n "$P-$b" -6 rule add ipproto tcp sport 8080 lookup 100
		ip -n "$P-$b" -6 route add default via "fd00:68::$x6" table 100
		ip -n "$P-$b" -6 route add fd00:68::/64 dev eth0 table 100
	done
}

up() {
	# No IPv6 on the appliance's port either.
	namespaces $NSES
	sysctl_set lb net.ipv6.conf.default.disable_ipv6=1
	client_switch_router
	ip -n "$P-rtr" route add 198.18.2.0/24 via 198.18.0.2
	ip -n "$P-rtr" -6 route add fd00:68:2::/64 via fd00:68::2

	# Appliance: halb0 belongs to DPDK; the kernel must neither answer nor
	# forward what it sees there too.
	switch_port lb halb0
	ip -n "$P-lb" link set halb0 address 02:68:00:00:00:02
	sysctl_set lb net.ipv4.ip_forward=0 net.ipv6.conf.halb0.disable_ipv6=1
	ip -n "$P-lb" addr flush dev halb0
	dpdk_leg
	# Its management leg, the kernel's: halb-healthd listens there and
	# probes from there (the DPDK port's addresses are not the kernel's).
	veth lb mgmt0 sw lbm "$SERVER_MTU"
	ip -n "$P-sw" link set lbm master br0
	ip -n "$P-lb" link set mgmt0 address 02:68:00:00:00:03
	ip -n "$P-lb" addr add 198.18.0.3/24 dev mgmt0
	sysctl_set lb net.ipv6.conf.mgmt0.disable_ipv6=0
	ip -n "$P-lb" addr add fd00:68::3/64 dev mgmt0 nodad

	backends 2
	trap - EXIT
}

# fabric_up: N appliances lb1..lbN behind a router that takes the VIPs
# from BGP (the header says how).  NAT replies go to the router, which
# sends them over the live appliances by ECMP (its table 200, filled by
# its BIRD: fabric.sh): a backend cannot tell which appliance a
# connection came through, and any appliance translates the reply of a
# connection its peers decided from the session tracker's replica
# (docs/SESSIONS.md, "NAT behind several appliances").
fabric_up() {
	local n i lbs=""
	[[ $N_LB =~ ^[23]$ ]] || { echo "$0: fabric-up: 2 or 3 appliances, not '$N_LB'" >&2; exit 2; }
	for ((i = 1; i <= N_LB; i++)); do lbs="$lbs lb$i"; done
	# shellcheck disable=SC2086
	namespaces cli rtr sw $lbs $BACKENDS
	client_switch_router
	sysctl_set rtr net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1 \
		net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth1.send_redirects=0
	# NAT replies (from the backends' port 8080) over the appliances: the
	# router's table 200 (a multipath default route that its BIRD keeps
	# to the appliances whose BFD is up).
	ip -n "$P-rtr" rule add iif eth1 ipproto tcp sport 8080 lookup 200
	ip -n "$P-rtr" -6 rule add iif eth1 ipproto tcp sport 8080 lookup 200
	# The sync network: a bridge of its own.
	ip -n "$P-sw" link add br1 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$P-sw" link set br1 up
	for ((i = 1; i <= N_LB; i++)); do
		n=lb$i
		switch_port "$n" halb0
		ip -n "$P-$n" link set halb0 address "$(printf '02:68:00:00:00:%02x' $((2 * i)))"
		sysctl_set "$n" net.ipv4.ip_forward=0 net.ipv6.conf.halb0.disable_ipv6=1
		ip -n "$P-$n" addr flush dev halb0
		dpdk_leg "$n"
		veth "$n" sync0 sw "${n}s"
		ip -n "$P-sw" link set "${n}s" master br1
		ip -n "$P-$n" link set sync0 address "$(printf '02:68:00:00:03:%02x' "$i")"
		ip -n "$P-$n" addr add "198.18.3.$i/24" dev sync0
		ip -n "$P-$n" addr add "fd00:68:3::$i/64" dev sync0 nodad
	done
	backends 254 fe
	trap - EXIT
}

# cls_host: after `up`, a classifier host (tests/e2e/classifiers.sh): a
# namespace without DPDK, PREFIX-ch, eth0 198.18.9.2/30, reached from the
# appliance's cls0 198.18.9.1/30 over a veth of its own (the link the
# test drops to take the remote classifier away).
cls_host() {
	namespaces ch
	veth lb cls0 ch eth0
	ip -n "$P-lb" addr add 198.18.9.1/30 dev cls0
	ip -n "$P-ch" addr add 198.18.9.2/30 dev eth0
	# Back through the appliance: halb-healthd sends from its management
	# address (198.18.0.3), which a strict reverse-path filter checks.
	ip -n "$P-ch" route add default via 198.18.9.1
	trap - EXIT
}

case $cmd in
up) up ;;
cls-host) cls_host ;;
fabric-up) fabric_up ;;
down) down ;;
kernel-leg) kernel_leg ;;
dpdk-leg) dpdk_leg ;;
*) usage ;;
esac
