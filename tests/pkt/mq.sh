#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/pkt/mq.sh: multi-queue packet tests (issue 13, "Real ports";
# tests/pkt/mq_test.py says what they check).
#
# tests/pkt/run.sh's rig and configuration with two workers instead of
# one, and each port a net_af_packet device of two queue pairs
# (qpairs=2).  The machines this runs on may have two CPUs: the three
# forwarder lcores float on every CPU there is (eal.forwarder_cpus) and
# back off when idle (idle_sleep_us), so they share.  Same output and
# exit status as run.sh.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ncpu=$(nproc)
cpus="0-$((ncpu - 1))"
[ "$ncpu" -gt 1 ] || cpus=0
export PKT_TEST=$HERE/mq_test.py
export PKT_SED="s/^  lcores = \"0,1\";.*/  lcores = \"0-2\"; forwarder_cpus = \"$cpus\";/; s/qdisc_bypass=1\"/qdisc_bypass=1,qpairs=2\"/"
exec "$HERE/run.sh" "$@"
