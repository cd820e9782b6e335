#!/bin/bash
# vx6d_relay.sh — relay circuits and route auto in real vx6d nodes.
#
#   ns1: node A publishes `web` (python3 http.server on 127.0.0.1:8080)
#   ns2..ns5: relays R2..R5
#   ns6: node C with the SOCKS front-end on 127.0.0.1:1080
# Every node is in its own /48 (relay diversity rules on) and bootstraps its
# DHT from A; the relay pools fill from the registry's NODE records.
# Checks: curl --socks5-hostname with SOCKS username "route=relay;hops=3"
# gets the page through a 3-hop circuit (and the relays count the extends);
# with C's route to A blocked (ip route unreachable) route direct fails fast,
# route relay still works, route auto falls back to a circuit, the next auto
# request goes through relays at once (memory), and once the route is back
# and the memory expired auto goes direct again; a circuit to a node whose
# key nobody knows fails in bounded time.
# Route policy (A is user alice): `relayweb` has route: relay, so its SERVICE
# record says RELAY, C reaches alice.relayweb.vx6 through a circuit even when
# asked for direct, and A refuses direct streams to it (SOCKS 0x02, route
# auto by IPv6 name falls back to a circuit); `directweb` has route: direct,
# so C refuses route=relay for it at once and A refuses its circuits.
. "$(dirname "$0")/lib.sh"
vx_require_root
command -v curl >/dev/null || vx_skip "curl not installed"
command -v python3 >/dev/null || vx_skip "python3 not installed"
[ -x "$VX_BLD/vx6d" ] || { echo "FAIL: vx6d not built"; exit 1; }

N=6
vx_netns_up48 $N
A=$(vx_ip48 1)
AH=fd00-1--1
mkdir -p "$VX_TMP/www"
echo "hello through relays" >"$VX_TMP/www/index.html"
vx_bg 1 python3 -m http.server --bind 127.0.0.1 --directory "$VX_TMP/www" 8080 \
    >"$VX_TMP/httpd.out" 2>&1
vx_wait_tcp 1 127.0.0.1 8080 || exit 1

conf() { # K
    echo "listen: [\"[::]:4242\"]"
    echo "transport: auto # QUIC (the DHT shares UDP 4242), TCP fallback"
    echo "log_level: info,path=debug"
    [ "$1" = $N ] && echo "socks: 127.0.0.1:1080" || echo "socks: off"
    [ "$1" != 1 ] && printf 'bootstrap:\n  - "[%s]:4242"\n' "$A"
    if [ "$1" = 1 ]; then
        echo "user: alice"
        printf 'services:\n  - name: web\n    ports:\n      80: 127.0.0.1:8080\n'
        printf '  - name: relayweb\n    target: 127.0.0.1:8080\n    route: relay\n'
        printf '  - name: directweb\n    target: 127.0.0.1:8080\n    route: direct\n'
    fi
}
export VX6_ROUTE_MEMORY_MS=4000
for k in $(seq 1 $N); do
    vx_node $k n$k <<<"$(conf $k)" || exit 1
done

URL=http://web.$AH.ipv6.vx6/
get() { # ROUTE [HOPS]
    local u="route=$1"
    [ -n "${2:-}" ] && u="$u;hops=$2"
    nsx $N curl -s -m 12 --socks5-hostname 127.0.0.1:1080 --proxy-user "$u:x" "$URL"
}
has_page() { [ "$(get "$@")" = "hello through relays" ]; }

check "route=relay;hops=3 gets the page (pool filled from the registry)" retry 30 has_page relay 3
extends() { grep -c "relay circuit open (3 hops)" "$VX_TMP/n$N.log"; }
check "C's path layer built a 3-hop circuit" test "$(extends)" -ge 1
check "route=relay;hops=2 gets the page" has_page relay 2
check "route=direct gets the page" has_page direct

# block C -> A; relays can still reach A
nsx $N ip -6 route add unreachable "$A/128"
t0=$SECONDS
out=$(get direct)
check "blocked: route=direct fails" test -z "$out"
# the session to A is still up: the stream open runs into the 10 s request timeout
check "blocked: route=direct fails within 12 s" test $((SECONDS - t0)) -le 12
check "blocked: route=relay still gets the page" has_page relay 3
t0=$SECONDS
check "blocked: route=auto falls back to a circuit" has_page auto
check "blocked: the fallback within 8 s" test $((SECONDS - t0)) -le 8
check "blocked: C logged the fallback" grep -q "direct path failed.*trying a relay circuit" \
    "$VX_TMP/n$N.log"
check "blocked: next auto request goes through relays at once (memory)" has_page auto
check "blocked: ...logged as remembered" grep -q "direct failed recently, relay circuit" \
    "$VX_TMP/n$N.log"

# unblock; after the memory expires auto probes direct and stays there
nsx $N ip -6 route del unreachable "$A/128"
sleep 4.5
check "unblocked: auto gets the page" has_page auto
check "unblocked: auto went direct again" grep -q "the direct path works again" "$VX_TMP/n$N.log"

# ---- route policy per service ----
gett() { # ROUTE URL: curl through C's SOCKS port, verbose (for the SOCKS reply)
    nsx $N curl -sv -m 15 --socks5-hostname 127.0.0.1:1080 --proxy-user "route=$1:x" "$2" 2>&1
}
circuits() { grep -c "relay circuit open" "$VX_TMP/n$N.log"; }
resolves_relay() { vx_ctl n$N resolve alice.relayweb.vx6 2>/dev/null | grep -q "route: *relay"; }
check "C resolves alice.relayweb.vx6: its record says route relay" retry 30 resolves_relay
check "C resolves alice.directweb.vx6: route direct" \
    bash -c "'$VX_BLD/vx6' -s '$VX_TMP/n$N.sock' resolve alice.directweb.vx6 --json | grep -q '\"route\": *\"direct\"'"
c0=$(circuits)
out=$(gett direct http://alice.relayweb.vx6/)
check "relay-only service, route=direct asked: the page all the same" \
    grep -q "hello through relays" <<<"$out"
check "...C built a circuit for it (the owner's policy wins)" test "$(circuits)" -gt "$c0"
check "...C logged why" grep -q "takes relay circuits only; not going direct" "$VX_TMP/n$N.log"
out=$(gett direct "http://relayweb.$AH.ipv6.vx6/")
check "relay-only service by IPv6 name, route=direct: SOCKS 0x02 (not allowed)" \
    grep -q "SOCKS5.*(2)" <<<"$out"
check "...A logged the refusal" grep -q "relayweb.*takes relay circuits only" "$VX_TMP/n1.log"
c0=$(circuits)
out=$(gett auto "http://relayweb.$AH.ipv6.vx6/")
check "relay-only service by IPv6 name, route=auto: falls back to a circuit" \
    grep -q "hello through relays" <<<"$out"
check "...through a circuit" test "$(circuits)" -gt "$c0"
t0=$SECONDS
out=$(gett relay http://alice.directweb.vx6/)
check "direct-only service, route=relay asked: SOCKS 0x02" grep -q "SOCKS5.*(2)" <<<"$out"
check "...at once (within 5 s)" test $((SECONDS - t0)) -le 5
check "...C logged why" grep -q "takes direct connections only; refusing" "$VX_TMP/n$N.log"
c0=$(circuits)
check "direct-only service, route=auto: the page" \
    grep -q "hello through relays" <<<"$(gett auto http://alice.directweb.vx6/)"
check "...directly (no circuit)" test "$(circuits)" -eq "$c0"
out=$(gett relay "http://directweb.$AH.ipv6.vx6/")
check "direct-only service by IPv6 name, route=relay: A refuses the circuit (SOCKS 0x02)" \
    grep -q "SOCKS5.*(2)" <<<"$out"
check "...A logged the BEGIN refusal" \
    grep -q "directweb:80: the service takes direct connections only" "$VX_TMP/n1.log"

# a node nobody has a record of: no key, no circuit, bounded time
t0=$SECONDS
out=$(nsx $N python3 "$VX_SRC/tests/net/socks5.py" 1080 web.fd00-99--1.ipv6.vx6 80 2>&1)
check "unknown node over relays: SOCKS error (got $out)" test "$out" != "rep=0x00" -a -n "$out"
check "unknown node over relays: within 12 s" test $((SECONDS - t0)) -le 12
vx_finish
