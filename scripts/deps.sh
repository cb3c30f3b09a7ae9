#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Installs the Debian 12 packages halb needs to build, test and run its demo,
# and only those missing: apt-get runs (update included) only when something
# is not installed yet.  Run as root.
set -euo pipefail

PACKAGES=(
	build-essential meson ninja-build pkg-config
	libdpdk-dev dpdk libconfig-dev libprotobuf-c-dev protobuf-c-compiler
	libcmocka-dev libssl-dev libjansson-dev libmicrohttpd-dev clang
	python3-prometheus-client # tests: the metrics endpoint's format
	iproute2 ethtool nftables python3 python3-scapy curl procps
	valgrind # make bench: instructions per packet (callgrind)
	bird2 # the routing fabric: BGP and BFD (tests/e2e/fabric.sh, make run APPLIANCES=2)
	# Packaging (docs/PACKAGING.md): readiness through sd_notify, man
	# pages, make deb, and the package test's unit and page checks.
	libsystemd-dev scdoc debhelper dpkg-dev systemd man-db libcap2-bin
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages are installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: installing them needs root: sudo $0" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -q -y --no-install-recommends "${missing[@]}"
