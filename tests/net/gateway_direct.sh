#!/bin/bash
# gateway_direct.sh — the proxy gateway end to end on the direct path.
#
#   ns1: node A, publishes `web` (python3 http.server on 127.0.0.1:8080) and
#        `dead` (nothing listens at its target)
#   ns2: node B with the SOCKS/HTTP front-end on 127.0.0.1:1080 and a forward
#        127.0.0.1:8081 -> web.<A>.ipv6.vx6:80
#   ns3: no node at all
# From ns2: curl through SOCKS5, HTTP CONNECT and absolute-form GET, a
# one-byte-at-a-time SOCKS client, the PAC file, the forward, and every
# error path with its SOCKS reply / HTTP status in bounded time.
. "$(dirname "$0")/lib.sh"
vx_require_root
command -v curl >/dev/null || vx_skip "curl not installed"
command -v python3 >/dev/null || vx_skip "python3 not installed"
[ -x "$(vx_node_bin)" ] || { echo "FAIL: $(vx_node_bin) not built"; exit 1; }
S5="python3 $VX_SRC/tests/net/socks5.py 1080"

vx_netns_up 3
A=$(vx_node_addr 1)
NOBODY=$(vx_node_addr 3)
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
  - name: dead
    target: 127.0.0.1:9
YAML
vx_node 2 b <<YAML || exit 1
listen: ["[::]:4242"]
socks: 127.0.0.1:1080
log_level: info
forwards:
  - listen: 127.0.0.1:8081
    to: web.$A.ipv6.vx6:80
YAML

URL=http://web.$A.ipv6.vx6/
has() { grep -q -- "$2" <<<"$1"; }

out=$(nsx 2 curl -s -m 10 --socks5-hostname 127.0.0.1:1080 "$URL")
check "curl --socks5-hostname gets the page" has "$out" "hello from node A"
out=$(nsx 2 curl -s -m 10 -p -x http://127.0.0.1:1080 "$URL")
check "curl via HTTP CONNECT gets the page" has "$out" "hello from node A"
out=$(nsx 2 curl -s -m 10 -x http://127.0.0.1:1080 "$URL")
check "curl absolute-form GET gets the page" has "$out" "hello from node A"
out=$(nsx 2 $S5 web.$A.ipv6.vx6 80 --one-byte --get /)
check "one-byte-at-a-time SOCKS5 client gets the page" has "$out" "hello from node A"
out=$(nsx 2 curl -s -m 10 http://127.0.0.1:8081/)
check "the configured forward gets the page" has "$out" "hello from node A"
out=$(nsx 2 curl -s -m 5 http://127.0.0.1:1080/proxy.pac)
check "PAC file served with the address reached" has "$out" "SOCKS5 127.0.0.1:1080"

# socks_err DESC HOST WANT [MAX_SECONDS]
socks_err() {
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$(nsx 2 $S5 "$2" 80)
    t1=$(date +%s.%N)
    check "$1: SOCKS5 $3 (got ${out:-nothing})" test "$out" = "rep=$3"
    check "$1: within ${4:-2} s" awk "BEGIN { exit !($t1 - $t0 < ${4:-2}) }"
}
# http_err DESC HOST WANT_STATUS [TEXT]
http_err() {
    local out code
    out=$(nsx 2 curl -s -m 12 -p -x http://127.0.0.1:1080 -w '\n%{http_connect}' "http://$2/" 2>&1)
    code=$(tail -n1 <<<"$out")
    check "$1: HTTP CONNECT $3 (got $code)" test "$code" = "$3"
}
socks_err "unknown service" nope.$A.ipv6.vx6 0xf0
http_err "unknown service" nope.$A.ipv6.vx6 404
socks_err "dead target" dead.$A.ipv6.vx6 0x05
http_err "dead target" dead.$A.ipv6.vx6 502
out=$(nsx 2 curl -s -m 5 -x http://127.0.0.1:1080 "http://dead.$A.ipv6.vx6/")
check "dead target: the reason says connection refused" has "$out" "connection refused"
socks_err "malformed address" web.zz--1.ipv6.vx6 0xf6
http_err "malformed address" web.zz--1.ipv6.vx6 400
socks_err "clearnet refused" example.com 0x02
http_err "clearnet refused" example.com 403
socks_err "no node at that address" web.$NOBODY.ipv6.vx6 0x04 5
socks_err "hidden address with a bad checksum" abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.vx6 0xf6

# The control socket: published services, forwards made at run time.
if [ "$(basename "$(vx_node_bin)")" = vx6d ]; then
    out=$(vx_ctl a services)
    check "vx6 services lists web and its target" has "$out" "127.0.0.1:8080"
    out=$(vx_ctl a services --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["name"])')
    check "vx6 services --json is JSON" test "$out" = web
    out=$(vx_ctl b connect "web.$A.ipv6.vx6:80" --listen 127.0.0.1:8082)
    check "vx6 connect adds a forward" has "$out" "127.0.0.1:8082"
    out=$(nsx 2 curl -s -m 10 http://127.0.0.1:8082/)
    check "the runtime forward gets the page" has "$out" "hello from node A"
    out=$(vx_ctl b forwards)
    check "vx6 forwards shows it" has "$out" "(vx6 connect)"
    vx_ctl b connect "web.$A.ipv6.vx6:80" --listen 127.0.0.1:8082 >/dev/null 2>&1
    check "a second forward on the same address is refused" test $? -ne 0
    vx_ctl b disconnect 127.0.0.1:8082 >/dev/null
    out=$(vx_ctl b connect web:80 --addr fd00:5::1 --listen 127.0.0.1:8083)
    check "vx6 connect --addr makes a direct-mode forward" has "$out" "web.fd00-5--1.ipv6.vx6:80"
    out=$(nsx 2 curl -s -m 10 http://127.0.0.1:8083/)
    check "the --addr forward gets the page" has "$out" "hello from node A"
    vx_ctl b disconnect 127.0.0.1:8083 >/dev/null
    out=$(nsx 2 curl -s -m 3 http://127.0.0.1:8082/ 2>&1)
    check "after disconnect nothing listens there" test -z "$out"
    out=$(vx_ctl b status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["sessions"])')
    check "vx6 status counts the session" test "${out:-0}" -ge 1
fi

# The connections are all gone from node B afterwards: a fresh request works.
out=$(nsx 2 curl -s -m 10 --socks5-hostname 127.0.0.1:1080 "$URL")
check "still serving after the errors" has "$out" "hello from node A"
vx_finish
