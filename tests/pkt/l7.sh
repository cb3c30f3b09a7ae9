#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/pkt/l7.sh: packet-level tests of the request router (issue 14,
# docs/REQUESTS.md): tests/pkt/run.sh's rig with one more service,
# "l7w4" (198.18.2.110:80, NAT, requests { }; and l7n4, l7w6, l7c4 for
# the no_match, IPv6 and wlc tests), and halb-router started
# after the classifier (its backends on port 8081: a NAT backend
# belongs to one service); tests/pkt/l7_test.py plays the clients and the
# backends.  Arguments go to l7_test.py (e.g. --only cookie).
# Run it under flock /tmp/halb-rig.lock (the rigs share the machine).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMPL=$(mktemp /tmp/halb-l7-conf.XXXXXX)
trap 'rm -f "$TMPL"' EXIT
/usr/bin/python3 - "$HERE/pkt.conf" "$TMPL" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
text = open(src).read()
svc = '''
  # 13: request routing (tests/pkt/l7.sh): "api" for api.example.com/v1,
  # "web" for everything else.  A short bind timeout for the slowloris
  # test; few bindings, for the cap's.
  , { name = "l7w4"; vip = "198.18.2.110"; port = 80; protocol = "tcp";
    mode = "nat"; scheduler = "maglev";
    requests = {
      rules = ( { host = "api.example.com"; path = "/v1"; pool = "api"; } );
      default_pool = "web";
      max_request = 2048; bind_timeout_ms = 800; max_binding = 8;
      wscale = 7; mss = 1460; };
    backends = (
      { ip = "198.18.0.11"; port = 8081; weight = 1; pool = "api"; },
      { ip = "198.18.0.12"; port = 8081; weight = 1; pool = "web"; } ); }
  # 14: no default pool, a 503 when nothing matches.
  , { name = "l7n4"; vip = "198.18.2.111"; port = 80; protocol = "tcp";
    mode = "nat"; scheduler = "maglev";
    requests = {
      rules = ( { host = "api.example.com"; pool = "api"; } );
      no_match = "http-503"; bind_timeout_ms = 800; };
    backends = (
      { ip = "198.18.0.13"; port = 8081; weight = 1; pool = "api"; } ); }
  # 15: l7w4 over IPv6.
  , { name = "l7w6"; vip = "fd00:68:2::110"; port = 80; protocol = "tcp";
    mode = "nat"; scheduler = "maglev";
    requests = {
      rules = ( { host = "api.example.com"; path = "/v1"; pool = "api"; } );
      default_pool = "web";
      max_request = 2048; bind_timeout_ms = 800; max_binding = 8;
      wscale = 7; mss = 1440; };
    backends = (
      { ip = "fd00:68::11"; port = 8081; weight = 1; pool = "api"; },
      { ip = "fd00:68::12"; port = 8081; weight = 1; pool = "web"; } ); }
  # 16: least connections in one pool, weights 2:1 (the wlc test), and
  # room for many bindings (the punt bound's tests, whose replays each
  # start one).
  , { name = "l7c4"; vip = "198.18.2.112"; port = 80; protocol = "tcp";
    mode = "nat"; scheduler = "wlc";
    requests = { default_pool = "all"; max_request = 2048;
      bind_timeout_ms = 800; max_binding = 4096; };
    backends = (
      { ip = "198.18.0.11"; port = 8082; weight = 2; pool = "all"; },
      { ip = "198.18.0.12"; port = 8082; weight = 1; pool = "all"; } ); }
'''
key = "\n);\n\n# The session tracker"
assert key in text, "pkt.conf changed: l7.sh cannot place its service"
text = text.replace(key, svc + key, 1)
# The punt bound's tests stop halb-router (SIGSTOP) for up to a second:
# the workers must not take it for gone meanwhile (no test here needs
# the classifier's short timeout).
key = "classifier_timeout_ms = 300;"
assert key in text, "pkt.conf changed: l7.sh cannot set classifier_timeout_ms"
open(dst, "w").write(text.replace(key, "classifier_timeout_ms = 3000;", 1))
PY
[ $? -eq 0 ] || { echo "not ok - setup: cannot make the configuration"; exit 1; }
export PKT_CONF=$TMPL PKT_ROUTER=1 PKT_TEST=$HERE/l7_test.py
"$HERE/run.sh" "$@"
