#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# scripts/hugepages.sh [N]: makes sure at least N (default 1024, or
# $HUGEPAGES) 2 MB hugepages are reserved and hugetlbfs is mounted at
# /dev/hugepages, as DPDK needs.  Never lowers a larger reservation.  Run as
# root.
set -euo pipefail

want=${1:-${HUGEPAGES:-1024}}
sysfs=/sys/kernel/mm/hugepages/hugepages-2048kB
mnt=/dev/hugepages

fail() { echo "hugepages: $*" >&2; exit 1; }

[[ $want =~ ^[0-9]+$ ]] || fail "N must be a number of 2 MB pages, not '$want'"
[ -d "$sysfs" ] || fail "this kernel offers no 2 MB hugepages ($sysfs is missing)"

have=$(cat "$sysfs/nr_hugepages")
if [ "$have" -lt "$want" ]; then
	[ "$(id -u)" -eq 0 ] || fail "$have of $want 2 MB hugepages reserved; reserving more needs root: sudo $0 $want"
	echo "$want" >"$sysfs/nr_hugepages" 2>/dev/null ||
		fail "could not write $want to $sysfs/nr_hugepages (in a container without the privilege?)"
	have=$(cat "$sysfs/nr_hugepages")
	if [ "$have" -lt "$want" ]; then
		fail "asked for $want 2 MB hugepages, the kernel reserved only $have (memory too fragmented or too small: $(awk '/MemFree/ {print $2 " kB free"}' /proc/meminfo)); retry, or pass a smaller N"
	fi
fi

if ! grep -qs " $mnt hugetlbfs " /proc/mounts; then
	[ "$(id -u)" -eq 0 ] || fail "hugetlbfs is not mounted at $mnt; mounting it needs root"
	mkdir -p "$mnt"
	mount -t hugetlbfs -o pagesize=2M nodev "$mnt" || fail "could not mount hugetlbfs at $mnt"
fi

echo "hugepages: $have 2 MB pages reserved ($(cat "$sysfs/free_hugepages") free), hugetlbfs at $mnt"
