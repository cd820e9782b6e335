#!/bin/bash
# gateway_isolation.sh — stream isolation by SOCKS5 credentials on the
# direct path (IsolateSOCKSAuth).
#
#   ns1: node A publishes `web` (python3 http.server on 127.0.0.1:8080)
#   ns2: node B, SOCKS on 127.0.0.1:1080, no socks_auth, metrics on :9107,
#        limits.max_sessions_per_peer: 3
# curl without credentials uses the shared session; each distinct
# username+password gets an isolated session of its own, reused by the same
# credentials; a fourth distinct pair hits the limit: SOCKS5 reply 0x01,
# a log line naming the limit and vx6_limit_hits_total.  Run once with the
# default transport (QUIC first) and once with `transport: tcp`.
. "$(dirname "$0")/lib.sh"
vx_require_root
command -v curl >/dev/null || vx_skip "curl not installed"
command -v python3 >/dev/null || vx_skip "python3 not installed"
[ -x "$(vx_node_bin)" ] || { echo "FAIL: $(vx_node_bin) not built"; exit 1; }

vx_netns_up 2
A=$(vx_node_addr 1)
mkdir -p "$VX_TMP/www"
echo "hello from node A" >"$VX_TMP/www/index.html"
vx_bg 1 python3 -m http.server --bind 127.0.0.1 --directory "$VX_TMP/www" 8080 \
    >"$VX_TMP/httpd.out" 2>&1
vx_wait_tcp 1 127.0.0.1 8080 || exit 1

vx_node 1 a <<'YAML' || exit 1
listen: ["[::]:4242"]
socks: off
log_level: info
services:
  - name: web
    ports:
      80: 127.0.0.1:8080
YAML

URL=http://web.$A.ipv6.vx6/
has() { grep -q -- "$2" <<<"$1"; }
# get [CURL ARGS...]: the page through B's SOCKS5 (remote name resolution)
get() { nsx 2 curl -s -m 10 --socks5-hostname 127.0.0.1:1080 "$@" "$URL"; }
metric() { # NAME: its value on B (0 if absent)
    nsx 2 curl -s -m 5 http://127.0.0.1:9107/metrics |
        awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}
sessions() { vx_ctl "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["sessions"])'; }

for tr in auto tcp; do
    name=b$tr
    vx_node 2 $name <<YAML || exit 1
listen: ["[::]:4242"]
transport: $tr
socks: 127.0.0.1:1080
metrics: 127.0.0.1:9107
log_level: info
limits:
  max_sessions_per_peer: 3
YAML
    out=$(get)
    check "$tr: no credentials: page" has "$out" "hello from node A"
    base=$(sessions $name)
    check "$tr: no credentials: no isolated session" test "$(metric vx6_sessions_isolated)" = 0
    out=$(get)
    check "$tr: no credentials again: shared session (sessions $base -> $(sessions $name))" \
        test "$(sessions $name)" = "$base"

    out=$(get --proxy-user alice:one)
    check "$tr: alice:one: page" has "$out" "hello from node A"
    check "$tr: alice:one: one isolated session" test "$(metric vx6_sessions_isolated)" = 1
    check "$tr: alice:one: sessions $base + 1" test "$(sessions $name)" = $((base + 1))
    out=$(get --proxy-user alice:one)
    check "$tr: alice:one again: page" has "$out" "hello from node A"
    check "$tr: alice:one again: its session is reused" \
        test "$(metric vx6_sessions_isolated)" = 1
    out=$(get --proxy-user bob:one)
    check "$tr: bob:one: page" has "$out" "hello from node A"
    check "$tr: bob:one: a second isolated session" test "$(metric vx6_sessions_isolated)" = 2
    out=$(get --proxy-user alice:two)
    check "$tr: alice:two (other password): a third" test "$(metric vx6_sessions_isolated)" = 3
    check "$tr: sessions $base + 3" test "$(sessions $name)" = $((base + 3))
    out=$(get)
    check "$tr: no credentials after them: still the shared session" \
        test "$(sessions $name)" = $((base + 3))
    # Same credentials at the same time: one session carries both.
    nsx 2 curl -s -m 10 --socks5-hostname 127.0.0.1:1080 --proxy-user bob:one \
        "$URL" "$URL" "$URL" -o /dev/null -o /dev/null -o /dev/null --parallel
    check "$tr: bob:one in parallel: still 3 isolated" \
        test "$(metric vx6_sessions_isolated)" = 3

    t0=$SECONDS
    nsx 2 curl -s -m 10 --socks5-hostname 127.0.0.1:1080 --proxy-user carol:one "$URL" \
        >/dev/null 2>&1
    rc=$?
    check "$tr: carol:one over the limit: curl fails (rc $rc) in bounded time" \
        test $rc -ne 0 -a $((SECONDS - t0)) -le 3
    check "$tr: the limit is logged by name" grep -q "max_sessions_per_peer" "$VX_TMP/$name.log"
    check "$tr: the limit hit is counted" \
        test "$(metric 'vx6_limit_hits_total{limit="max_sessions_per_peer"}')" = 1
    check "$tr: isolated sessions stay 3" test "$(metric vx6_sessions_isolated)" = 3
    out=$(get --proxy-user alice:one)
    check "$tr: alice:one still works at the limit" has "$out" "hello from node A"
    out=$(get)
    check "$tr: no credentials still work at the limit" has "$out" "hello from node A"
    kill "$(eval echo \$NODE_PID_$name)"
    wait "$(eval echo \$NODE_PID_$name)" 2>/dev/null
done
vx_finish
