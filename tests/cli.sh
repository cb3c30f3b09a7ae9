#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Every program's shared command line (src/core/cli.c): `--version` prints
# "NAME VERSION" on stdout, `--help` the usage on stdout, both exit 0 and
# write nothing on stderr; an unknown option prints the usage on stderr
# and exits 2.  Run by meson with the programs as arguments.
set -u
TMPDIR_CLI=$(mktemp -d)
trap 'rm -rf "$TMPDIR_CLI"' EXIT
fail=0
for prog in "$@"; do
	name=${prog##*/}
	out=$("$prog" --version 2>"$TMPDIR_CLI/err"); rc=$?
	if [ "$rc" -ne 0 ] || ! [[ "$out" =~ ^"$name "[0-9]+\.[0-9]+ ]] || [ -s "$TMPDIR_CLI/err" ]; then
		echo "FAIL: $name --version: status $rc, stdout '$out', stderr '$(cat "$TMPDIR_CLI/err")'"
		fail=1
	fi
	out=$("$prog" --help 2>"$TMPDIR_CLI/err"); rc=$?
	if [ "$rc" -ne 0 ] || ! [[ "$out" == usage:* ]] || [ -s "$TMPDIR_CLI/err" ]; then
		echo "FAIL: $name --help: status $rc, stdout '${out%%$'\n'*}', stderr '$(cat "$TMPDIR_CLI/err")'"
		fail=1
	fi
	out=$("$prog" --no-such-option 2>"$TMPDIR_CLI/err"); rc=$?
	if [ "$rc" -ne 2 ] || [ -n "$out" ] || ! grep -q '^usage:' "$TMPDIR_CLI/err"; then
		echo "FAIL: $name --no-such-option: status $rc (want 2), stdout '$out'"
		fail=1
	fi
	# halb-healthd on a file without health { } (a sample of the fabric's):
	# says so, not "missing key" on line 1 of a section that is not there.
	if [ "$name" = halb-healthd ]; then
		conf=$(dirname "$0")/../conf/samples/minimal.conf
		"$prog" --check-config "$conf" >/dev/null 2>"$TMPDIR_CLI/err"; rc=$?
		if [ "$rc" -eq 0 ] || ! grep -q 'no health { } section' "$TMPDIR_CLI/err"; then
			echo "FAIL: $name --check-config without health: status $rc, stderr '$(cat "$TMPDIR_CLI/err")'"
			fail=1
		fi
	fi
	[ "$fail" -eq 0 ] && echo "ok: $name"
done
exit "$fail"
