#!/usr/bin/env bash
# metrics.sh — vx6d's Prometheus endpoint, scraped with curl.
#
#   ns A: vx6d publishing `web` (python3 http.server on 127.0.0.1:8080),
#         metrics on 127.0.0.1:9106
#   ns B: vx6d with SOCKS on 127.0.0.1:1080, metrics on 127.0.0.1:9106
#
# Checks: the endpoint answers GET/HEAD /metrics with the exposition
# content type, 404 elsewhere; the core families are there; after curl
# fetches a page through B's SOCKS front-end and a session to A, the session,
# stream and byte counters moved on both nodes and A counted the service
# stream; a bad handshake moves vx6_errors_total{reason="handshake"};
# `metrics: off` + reload closes the endpoint, and turning it back on reopens it.
. "$(dirname "$0")/lib.sh"
D=$VX_BLD/vx6d V=$VX_BLD/vx6
vx_require_root
command -v python3 >/dev/null || vx_skip "python3 not installed"
command -v curl >/dev/null || vx_skip "curl not installed"
for b in "$D" "$V"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done

A=$VXP-a B=$VXP-b
tmp=$VX_TMP

pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
scrape() { nsx "$1" curl -s --max-time 5 "http://127.0.0.1:9106/metrics"; }
# metric NS 'name{labels}' -> its value (0 if absent)
metric() {
    scrape "$1" | awk -v k="$2" '$1 == k { v = $2 } END { print v == "" ? 0 : v }'
}

ip netns add $A
ip netns add $B
VX_NS+=("$A" "$B")
ip -n $A link add e0 type veth peer name e0 netns $B
for n in $A $B; do ip -n $n link set lo up; ip -n $n link set e0 up; done
ip -n $A addr add fd00:8::1/64 dev e0 nodad
ip -n $B addr add fd00:8::2/64 dev e0 nodad

mkdir -p "$tmp/www"
head -c 200000 /dev/urandom | base64 >"$tmp/www/big.txt"
ip netns exec $A python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" 8080 >/dev/null 2>&1 &
VX_PIDS+=($!)
for _ in $(seq 100); do
    nsx $A bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080' 2>/dev/null && break
    sleep 0.05
done


vx_node $A a <<'YAML' || exit 1
listen: ["[::]:4242"]
socks: off
metrics: 127.0.0.1:9106
services:
  - name: web
    ports:
      80: 127.0.0.1:8080
YAML
vx_node $B b <<'YAML' || exit 1
listen: ["[::]:4242"]
socks: 127.0.0.1:1080
metrics: 127.0.0.1:9106
YAML

# --- the endpoint ----------------------------------------------------------
hdr=$(nsx $A curl -s -D - -o "$tmp/a0.txt" --max-time 5 http://127.0.0.1:9106/metrics)
check "GET /metrics: 200" grep -q "^HTTP/1.[01] 200" <<<"$hdr"
check "GET /metrics: exposition content type" \
    grep -qi "^content-type: text/plain; version=0.0.4" <<<"$hdr"
check "HEAD /metrics: 200" sh -c "ip netns exec $A curl -s -I --max-time 5 http://127.0.0.1:9106/metrics | grep -q '^HTTP/1.[01] 200'"
code=$(nsx $A curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:9106/nope)
check "GET /nope: 404 ($code)" [ "$code" = 404 ]
for fam in vx6_build_info vx6_start_time_seconds vx6_sessions vx6_streams vx6_peers \
    vx6_services vx6_errors_total vx6_limit_hits_total vx6_xdp_attached; do
    check "family $fam present" grep -q "^# TYPE $fam " "$tmp/a0.txt"
done
check "vx6_xdp_attached 0 (no xdp configured)" grep -q "^vx6_xdp_attached 0$" "$tmp/a0.txt"
check "vx6_errors_total{reason=\"handshake\"} starts at 0" \
    grep -q '^vx6_errors_total{reason="handshake"} 0$' "$tmp/a0.txt"

# --- counters move with traffic (needs the transport in vx6d) --------------
if nsx $B bash -c 'exec 3<>/dev/tcp/127.0.0.1/1080' 2>/dev/null; then
    check "before: vx6_sessions 0 on B" [ "$(metric $B vx6_sessions)" = 0 ]
    bin0=$(metric $B 'vx6_bytes_total{dir="in",path="session"}')
    sin0=$(metric $A 'vx6_streams_opened_total')
    url="http://web.fd00-8--1.ipv6.vx6/big.txt"
    for i in 1 2 3; do
        nsx $B curl -s --max-time 10 --socks5-hostname 127.0.0.1:1080 -o "$tmp/got$i.txt" "$url"
    done
    check "curl through SOCKS got the file 3 times" \
        sh -c "cmp -s '$tmp/got1.txt' '$tmp/www/big.txt' && cmp -s '$tmp/got3.txt' '$tmp/www/big.txt'"
    bin1=$(metric $B 'vx6_bytes_total{dir="in",path="session"}')
    check "B: vx6_bytes_total{path=session,dir=in} grew by >= 3 files ($bin0 -> $bin1)" \
        [ $((bin1 - bin0)) -ge $((3 * $(stat -c %s "$tmp/www/big.txt"))) ]
    aout=$(metric $A 'vx6_bytes_total{dir="out",path="session"}')
    check "A: vx6_bytes_total{dir=out} >= 3 files ($aout)" \
        [ "$aout" -ge $((3 * $(stat -c %s "$tmp/www/big.txt"))) ]
    check "A and B: one session each" \
        [ "$(metric $A vx6_sessions) $(metric $B vx6_sessions)" = "1 1" ]
    check "A: 3 streams accepted ($(metric $A vx6_streams_opened_total))" \
        [ $(($(metric $A vx6_streams_opened_total) - sin0)) -ge 3 ]
    check "A: vx6_service_streams_total{result=accepted} >= 3" \
        [ "$(metric $A 'vx6_service_streams_total{result="accepted"}')" -ge 3 ]
    check "B: vx6_sessions_established_total 1" \
        [ "$(metric $B vx6_sessions_established_total)" = 1 ]
    # one bad handshake on A's node port
    nsx $B python3 -c '
import socket
s = socket.create_connection(("fd00:8::1", 4242), timeout=5)
s.sendall(b"\x00\xffgarbage, not noise" * 4)
s.settimeout(5)
try:
    s.recv(10)
except OSError:
    pass
'
    sleep 0.2
    check "A: vx6_errors_total{reason=handshake} 1 after one bad handshake" \
        [ "$(metric $A 'vx6_errors_total{reason="handshake"}')" = 1 ]
    check "A: vx6_handshake_failures_total >= 1" \
        [ "$(metric $A vx6_handshake_failures_total)" -ge 1 ]
else
    echo "skip - traffic counters: this vx6d has no transport/front-end module yet"
fi

# --- reload: off, then on again ----------------------------------------------
sed -i 's|^metrics: .*|metrics: off|' "$tmp/a.yaml"
"$V" -s "$tmp/a.sock" reload >/dev/null
check "metrics: off + reload closes the endpoint" \
    sh -c "! ip netns exec $A curl -s --max-time 2 http://127.0.0.1:9106/metrics >/dev/null"
sed -i 's|^metrics: .*|metrics: 127.0.0.1:9107|' "$tmp/a.yaml"
"$V" -s "$tmp/a.sock" reload >/dev/null
check "metrics on another port after reload" \
    sh -c "ip netns exec $A curl -s --max-time 2 http://127.0.0.1:9107/metrics | grep -q '^vx6_build_info'"

# --- a port in use is an error at start --------------------------------------
{ echo "data_dir: $tmp/c.d"; echo "control_socket: $tmp/c.sock"; echo "listen: [\"[::1]:4243\"]";
  echo "socks: off"; echo "metrics: 127.0.0.1:9106"; } >"$tmp/c.yaml"
nsx $B "$D" -c "$tmp/c.yaml" 2>"$tmp/c.log"
rc=$?
check "metrics port taken: vx6d exits 1 ($rc)" [ $rc -eq 1 ]
check "metrics port taken: the log says why" grep -q "cannot serve metrics on 127.0.0.1:9106" "$tmp/c.log"

echo "# $pass passed, $fail failed"
if [ $fail -ne 0 ]; then
    for f in "$tmp"/*.log; do echo "--- $f"; tail -30 "$f"; done
    exit 1
fi
exit 0
